/* search.h - GET /api/v1/users and GET /api/v1/audit: filters, keyset
 * pagination with signed opaque cursors, optional exact totals. */
#ifndef UMS_SEARCH_H
#define UMS_SEARCH_H

#include <stddef.h>

struct ums_ctx;
struct buf;

#define SEARCH_Q_MAX         100 /* bytes of q */
#define SEARCH_LIMIT_MAX     100
#define SEARCH_LIMIT_DEFAULT 20

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
    const char *created_after; /* timestamps, checked here */
    const char *created_before;
    int sort;           /* enum user_sort */
    int limit;          /* 1..SEARCH_LIMIT_MAX */
    const char *cursor; /* from a previous page */
    int include_total;
};

/* Runs the search and renders {"data":[...],"next_cursor":...[,"total":N]}
 * into out. UMS_EINVALID with *field set for a bad value or cursor. */
int search_users(struct ums_ctx *c, const struct user_query *q, struct buf *out,
                 const char **field);

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

/* Renders {"data":[...],"next_cursor":...} into out; UMS_EINVALID + *field. */
int search_audit(struct ums_ctx *c, const struct audit_query *q, struct buf *out,
                 const char **field);

/* A user's in-app inbox, newest first. */
struct notify_query {
    const char *uid;
    int unread; /* only unread ones */
    int limit;
    const char *cursor;
};

/* Renders {"data":[...],"next_cursor":...,"unread_count":N}; a cursor is
 * bound to its user. UMS_EINVALID + *field. */
int search_notifications(struct ums_ctx *c, const struct notify_query *q, struct buf *out,
                         const char **field);

/* 1 when s is an RFC 3339 timestamp ("2026-01-02T03:04:05Z", fraction and
 * offset optional, or a plain date "2026-01-02"). */
int search_timestamp_valid(const char *s);

#endif
