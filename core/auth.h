/* auth.h - the flows of the Auth Service: sign-up, sign-in, refresh,
 * Bearer checks, the current user, logout. HTTP lives in fcgi/; these
 * files own the rules and name each expected failure (core/err.h). The
 * functions live in core/auth.c but for auth_signup (auth_signup.c),
 * auth_bearer* (auth_bearer.c) and auth_user_* (auth_user.c). */
#ifndef UMS_AUTH_H
#define UMS_AUTH_H

#include "../util/metrics.h"
#include <stddef.h>

#include <json-c/json.h>

#include "../util/buf.h"
#include "err.h"
#include "sessions.h"

struct ums_ctx;
struct ums_config;

/* A session response: the user and, when a session was made, its tokens. */
struct auth_out {
    char user_id[UUID_LEN + 1];
    char session_id[UUID_LEN + 1];
    char *user_json; /* malloc'd: the user object */
    struct buf access_token;
    char refresh_token[REFRESH_TOKEN_LEN + 1];
    long expires_at;
    int expires_in;
    int has_session;
    const char *method;           /* the amr method of the sign-in; NULL: "password" */
    char *provider_token;         /* malloc'd; an OAuth sign-in's provider tokens, or NULL */
    char *provider_refresh_token; /* malloc'd or NULL */
};

void auth_out_init(struct auth_out *o);
void auth_out_free(struct auth_out *o);

/* Who a Bearer token belongs to, after every check. */
struct principal {
    char user_id[UUID_LEN + 1];
    char session_id[UUID_LEN + 1];
    char role[32];   /* the ums role, from the database */
    int service;     /* the configured service key: an admin without a user */
    char *user_json; /* the cached user object (or profile, R_PROFILE_JSON) when it came
                      * with the check; owned */
};

/* Releases what a principal owns. */
void auth_principal_clear(struct principal *p);

struct client_info {
    const char *ip;
    const char *user_agent;
};

/* POST /signup (auth_signup.c). data_json is the user_metadata object or
 * NULL; redirect_to (allowed already, or NULL for site_url) is where the
 * confirmation link sends the browser. */
int auth_signup(struct ums_ctx *c, const char *email, size_t email_len, const char *password,
                size_t password_len, const char *data_json, const char *redirect_to,
                const struct client_info *ci, struct auth_out *out, struct ums_err *err);

/* POST /otp for an address without an account (create_user): the account,
 * with no password, and the welcome mail whose link confirms it and signs
 * in. email is normalised already; an address taken meanwhile is left
 * alone. Run after the answer has gone out (verify_magiclink). */
int auth_signup_passwordless(struct ums_ctx *c, const char *email, const char *data_json,
                             const char *redirect_to, const struct client_info *ci);

/* POST /token?grant_type=password. */
/* Counts one sign-in attempt of a method (first: its M_SIGNIN_*_SUCCESS)
 * by its result: success, invalid_credentials, locked, not_confirmed,
 * banned or error; a refusal that is no attempt (a rate limit) is not. */
void auth_count_signin(enum metric first, int rc, const struct ums_err *err);

int auth_login(struct ums_ctx *c, const char *email, size_t email_len, const char *password,
               size_t password_len, const struct client_info *ci, struct auth_out *out,
               struct ums_err *err);

/* POST /token?grant_type=refresh_token. */
int auth_refresh(struct ums_ctx *c, const char *refresh, struct auth_out *out, struct ums_err *err);

/* auth_bearer.c: checks a Bearer token: signature and claims, live session, existing and
 * active user; or the service key. Returns 0 or UMS_EDENIED with err set, or
 * UMS_EUNAVAILABLE. */
int auth_bearer(struct ums_ctx *c, const char *token, size_t len, struct principal *p,
                struct ums_err *err);

/* auth_bearer that also brings the cached user object (p->user_json) in the
 * same round trip to Redis, when it is cached. */
int auth_bearer_user(struct ums_ctx *c, const char *token, size_t len, struct principal *p,
                     struct ums_err *err);

/* auth_bearer that also brings the cached /api/v1 user with its profile
 * (ums:profile:{sub}) in the same round trip, into p->user_json. */
int auth_bearer_profile(struct ums_ctx *c, const char *token, size_t len, struct principal *p,
                        struct ums_err *err);

/* auth_user.c: the user object of user_id into *json (malloc'd), through the Redis cache
 * ums:user:{id} (5 minutes). UMS_ENOTFOUND if gone. */
int auth_user_json(struct ums_ctx *c, const char *user_id, char **json);

/* Forgets the cached user object; call after every committed change. */
void auth_user_cache_drop(struct ums_ctx *c, const char *user_id);

/* PUT /user: data (merged, null deletes), password (logs out the other
 * sessions). Either may be NULL. */
int auth_user_update(struct ums_ctx *c, const struct principal *p, const char *password,
                     size_t password_len, const char *data_json, const struct client_info *ci,
                     struct ums_err *err);

/* Session response for user_id after a successful one-time-token check. */
int auth_session_for(struct ums_ctx *c, const char *user_id, const char *method,
                     const struct client_info *ci, struct auth_out *out);

/* Renders an event, adds it to the outbox in the open transaction; after the
 * commit, auth_event_publish() sends it to the stream. */
int auth_event_add(struct ums_ctx *c, struct json_object *ev, long long *id, char **text);

/* auth_event_add for an event whose mail carries a one-time code and link,
 * kept beside the event, not in it (outbox_add_secret). Frees ev. */
int auth_event_add_secret(struct ums_ctx *c, struct json_object *ev, const char *otp,
                          const char *link, long long *id, char **text);

/* Publishes the event and frees text (it takes ownership of it). */
void auth_event_publish(struct ums_ctx *c, long long id, char *text);

/* POST /logout. */
int auth_logout(struct ums_ctx *c, const struct principal *p, enum sess_scope scope,
                const struct client_info *ci);

/* Checks [auth] keys that only matter to a process issuing tokens. */
int auth_config_check(const struct ums_config *cfg, char *err, size_t errlen);

#endif
