/* users.h - the user service behind /api/v1: the user with its profile
 * (cache-aside in Redis), updates, roles, status, deletion, unlock, sessions.
 * Callers have checked who may do what; these functions check the values. */
#ifndef UMS_USERS_H
#define UMS_USERS_H

#include <stddef.h>

#include "err.h"
#include "sessions.h"

struct ums_ctx;
struct buf;

#define PROFILE_CACHE_TTL     "300" /* seconds: the seed's 5 minutes */
#define BIO_MAX_CHARS         500
#define PREFERENCES_MAX_BYTES (16 * 1024)
#define NAME_MAX_CHARS        100

/* The user with its profile as JSON text in *json (malloc'd), through
 * ums:profile:{id}. Redis being down only means a read from PostgreSQL.
 * UMS_ENOTFOUND when there is no such user. */
int users_get(struct ums_ctx *c, const char *id, char **json);

/* Forgets every cached copy of the user (profile and /auth/v1 user object);
 * call after each committed change. */
void users_cache_drop(struct ums_ctx *c, const char *id);

/* 1 when role is in [auth] roles. */
int users_role_known(const struct ums_ctx *c, const char *role);

/* 1 when name is a display name: 1-100 characters of valid UTF-8 without
 * control characters, not only spaces; USERS_NAME_RULE says so to a client. */
#define USERS_NAME_RULE                                                                            \
    "name must be 1 to 100 characters of text, without control characters or links"
int users_name_valid(const char *name, size_t len);

/* 1 when s is a status a client may set: active or suspended. */
#define USERS_STATUS_RULE "status must be active or suspended"
int users_status_valid(const char *s, size_t len);

/* What PATCH /users/{id} may change; NULL means "not given". */
struct user_patch {
    const char *name;
    size_t name_len;
    const char *email;
    size_t email_len;
    const char *status; /* active | suspended */
};

/* Applies a patch in one transaction. UMS_EDENIED with the record: a bad
 * value (FAIL_VALIDATION naming the field), FAIL_EMAIL_EXISTS,
 * FAIL_LAST_ADMIN (it would suspend the last active admin),
 * FAIL_USER_NOT_FOUND. Suspension revokes every session. */
int users_patch(struct ums_ctx *c, const char *actor, const char *id, const struct user_patch *p,
                const char *ip, struct ums_err *err);

/* Sets the role. UMS_EDENIED with FAIL_VALIDATION (not configured),
 * FAIL_LAST_ADMIN or FAIL_USER_NOT_FOUND. Writes a role_changed event to
 * the outbox. */
int users_set_role(struct ums_ctx *c, const char *actor, const char *id, const char *role,
                   const char *ip, struct ums_err *err);

/* Bans the user for secs seconds (as text), or lifts the ban (NULL), in
 * the open transaction, through the last-admin guard: UMS_OK, or
 * UMS_EDENIED with FAIL_USER_NOT_FOUND or FAIL_LAST_ADMIN. */
int users_set_ban(struct ums_ctx *c, const char *id, const char *secs, struct ums_err *err);

/* Deletes the user and their personal data. UMS_EDENIED with
 * FAIL_LAST_ADMIN or FAIL_USER_NOT_FOUND. */
int users_delete(struct ums_ctx *c, const char *actor, const char *id, const char *ip,
                 struct ums_err *err);

/* Clears the lockout of the user's address. UMS_ENOTFOUND. */
int users_unlock(struct ums_ctx *c, const char *actor, const char *id, const char *ip);

/* The user's live sessions as a JSON array (*json malloc'd); current_sid
 * (may be NULL) is flagged "current": true. */
int users_sessions(struct ums_ctx *c, const char *id, const char *current_sid, char **json);

/* Revokes one session of the user (UMS_ENOTFOUND if it is not theirs or
 * already ended), or all of them when sid is NULL (*count revoked). */
int users_revoke_sessions(struct ums_ctx *c, const char *actor, const char *id, const char *sid,
                          const char *ip, int *count);

#endif
