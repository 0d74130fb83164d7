/* search.h - GET /api/v1/users and GET /api/v1/audit: filters, keyset
 * pagination with signed opaque cursors, optional exact totals. */
#ifndef UMS_SEARCH_H
#define UMS_SEARCH_H

#include <stddef.h>

struct ums_ctx;
struct buf;
struct ums_err;

#define SEARCH_Q_MAX          100 /* bytes of q */
#define SEARCH_LIMIT_MAX      100
#define SEARCH_LIMIT_DEFAULT  20
#define SEARCH_CURSOR_KEY_MAX 512 /* bytes of a cursor's sort key */

enum user_sort {
    SORT_CREATED_DESC, /* the default: newest first */
    SORT_CREATED,
    SORT_EMAIL,
    SORT_EMAIL_DESC,
    SORT_NAME,
    SORT_NAME_DESC,
    SORT__MAX
};

/* The sort for its query value ("created_at", "-created_at", "email",
 * "-email", "name", "-name"), or -1. */
int search_sort_parse(const char *s);

/* A user search; NULL members are "not given". Values are already checked
 * for shape by the caller only where noted. */
struct user_query {
    const char *q;             /* prefix, or *text* for a substring */
    const char *role;          /* must be a configured role */
    const char *status;        /* active | suspended */
    const char *confirmed;     /* true | false: the address confirmed or not */
    const char *created_after; /* timestamps, checked here */
    const char *created_before;
    int sort;           /* enum user_sort */
    int limit;          /* 1..SEARCH_LIMIT_MAX */
    const char *cursor; /* from a previous page */
    int include_total;
};

/* Runs the search and renders {"data":[...],"next_cursor":...[,"total":N]}
 * into out. UMS_EDENIED with the record naming the bad value or cursor. */
int search_users(struct ums_ctx *c, const struct user_query *q, struct buf *out,
                 struct ums_err *err);

/* An audit log query: newest first. */
struct audit_query {
    const char *actor;  /* uuid */
    const char *target; /* uuid */
    const char *action;
    const char *after; /* timestamps */
    const char *before;
    int limit;
    const char *cursor;
};

/* Renders {"data":[...],"next_cursor":...} into out; UMS_EDENIED with the record naming the bad
 * value. */
int search_audit(struct ums_ctx *c, const struct audit_query *q, struct buf *out,
                 struct ums_err *err);

/* A user's in-app inbox, newest first. */
struct notify_query {
    const char *uid;
    int unread; /* only unread ones */
    int limit;
    const char *cursor;
};

/* Renders {"data":[...],"next_cursor":...,"unread_count":N}; a cursor is
 * bound to its user. UMS_EDENIED with the record naming the bad value. */
int search_notifications(struct ums_ctx *c, const struct notify_query *q, struct buf *out,
                         struct ums_err *err);

/*
 * A cursor is "<payload>.<mac>", both base64url: the payload is
 * "<kind>|<sort>|<uuid>|<key>" (kind 'u' users, 'a' audit, 'n' notifications),
 * the MAC its HMAC-SHA-256 (16 bytes) under a key derived from [auth]
 * refresh_token_secret. search_cursor_make renders one, in double quotes,
 * into out (UMS_OK or UMS_ERR). search_cursor_open checks one: UMS_OK with
 * id (37 bytes) and key (SEARCH_CURSOR_KEY_MAX + 1) filled, or UMS_EINVALID
 * when it is not base64url, too long, forged, of another kind or sort, or
 * carries no UUID.
 */
int search_cursor_make(const struct ums_ctx *c, struct buf *out, char kind, int sort,
                       const char *id, const char *key);
int search_cursor_open(const struct ums_ctx *c, const char *cursor, char kind, int sort, char *id,
                       char *key);

/*
 * 1 when s is a timestamp PostgreSQL takes as it is meant: a date
 * "YYYY-MM-DD" (1970 or later, a day that month has), optionally followed by
 * T, t or a space, "hh:mm:ss" (seconds up to 60), a fraction of 1 to 9
 * digits, and Z, z, nothing, or an offset "+hh:mm"/"-hh:mm" up to 15:59.
 */
int search_timestamp_valid(const char *s);

#endif
