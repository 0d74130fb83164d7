/* sessions.h - sessions and rotating refresh tokens (docs/ARCHITECTURE.md
 * "Tokens and sessions"). Only SHA-256 hashes of refresh tokens are stored. */
#ifndef UMS_SESSIONS_H
#define UMS_SESSIONS_H

#include "../util/metrics.h"

struct ums_ctx;
struct db;

#define REFRESH_TOKEN_LEN 43 /* 256 bits, base64url */
#define UUID_LEN          36

enum sess_fail {
    SF_NONE,
    SF_TOKEN_NOT_FOUND,   /* refresh_token_not_found */
    SF_ALREADY_USED,      /* refresh_token_already_used: the session was revoked */
    SF_SESSION_NOT_FOUND, /* session_not_found */
    SF_SESSION_EXPIRED,   /* session_expired */
};

enum sess_scope { SCOPE_GLOBAL, SCOPE_LOCAL, SCOPE_OTHERS };

/* A fresh random refresh token (256 bits, base64url). 0 or UMS_ERR. */
int sessions_new_refresh(char out[REFRESH_TOKEN_LEN + 1]);

/* A "new sign-in from a new device" outbox event that a new session added:
 * publish it after commit (auth_event_publish frees text). id 0: none. */
struct sess_alert {
    long long id;
    char *text;
};

/* Creates a session and its first refresh token, in the caller's transaction
 * if one is open. method is the amr method ("password", ...). The device
 * (user agent) is noted; with alert non-NULL, a device new to a user who has
 * others adds an alert event, returned in *alert. */
int sessions_create(struct ums_ctx *c, const char *user_id, const char *user_agent, const char *ip,
                    const char *method, char sid[UUID_LEN + 1], char refresh[REFRESH_TOKEN_LEN + 1],
                    struct sess_alert *alert);

/*
 * Rotates a refresh token in its own transaction. The child token is
 * HMAC(refresh_token_secret, parent), so a retry of the parent within
 * refresh_reuse_interval gets the same live child (lost responses, and
 * concurrent refreshes of one token rotate once); any other reuse revokes
 * the session. On success sid, uid and next are filled. Returns 0, or
 * UMS_EDENIED with *why set, or UMS_EUNAVAILABLE / UMS_ERR.
 */
int sessions_refresh(struct ums_ctx *c, const char *refresh, char sid[UUID_LEN + 1],
                     char uid[UUID_LEN + 1], char next[REFRESH_TOKEN_LEN + 1], enum sess_fail *why);

/* Whether session sid of user uid may be used: SESS_LIVE (role filled, from
 * the Redis cache or PostgreSQL), SESS_DEAD (revoked, expired, unknown, or
 * the user is gone), SESS_BANNED (the user is suspended or banned), or
 * UMS_EUNAVAILABLE when neither store can tell. With user_json not NULL the
 * cached object extra_prefix{uid} (NULL: "ums:user:", the /auth/v1 user)
 * comes in the same Redis round trip (*user_json, malloc'd, set on a hit). */
enum { SESS_DEAD = 0, SESS_LIVE = 1, SESS_BANNED = 2 };
int sessions_check_user(struct ums_ctx *c, const char *sid, const char *uid, char role[32],
                        const char *extra_prefix, char **user_json);

/* Revokes the user's sessions by scope (sid is the caller's session) and
 * marks them revoked in the cache. Call it outside a transaction: the cache
 * must not learn of a revocation that could still roll back. *count gets how
 * many were revoked, and ums_sessions_revoked_total{cause} (cause: an
 * M_REVOKED_*) as many. */
int sessions_revoke(struct ums_ctx *c, const char *uid, const char *sid, enum sess_scope scope,
                    enum metric cause, int *count);

/* After a committed role change: the cache entries of the user's live
 * sessions are overwritten with the new role (a check that read the old
 * one cannot put it back), or noted as faults when Redis refuses. */
int sessions_cache_role_changed(struct ums_ctx *c, const char *uid);

/* Deletes fault rows older than an hour (session_cache_faults). */
void sessions_cache_faults_prune(struct db *db);

#endif
