/* tokens.h - JWT access tokens: RS256 (default) or HS256, signed and verified
 * with a key parsed once per process; the JWKS document. */
#ifndef UMS_TOKENS_H
#define UMS_TOKENS_H

#include <stddef.h>

#include <json-c/json.h>

#include "../util/buf.h"

struct ums_config;
struct tokens;

#define JWT_MAX    8192
#define JWT_LEEWAY 60

/*
 * Loads the signing key named by [auth] (jwt_private_key_file for RS256,
 * jwt_secret for HS256). Returns 0, or UMS_EINVALID with err set.
 */
int tokens_open(struct tokens **out, const struct ums_config *cfg, char *err, size_t errlen);
void tokens_close(struct tokens *t);

/* The JWKS document ({"keys":[...]}, public keys only); borrowed. */
const char *tokens_jwks(const struct tokens *t);

/* What goes into an access token. JSON fields are rendered JSON text. */
struct token_claims {
    const char *sub;
    const char *email;
    const char *phone;
    const char *session_id;
    const char *app_role;           /* the ums role: user, admin, ... */
    const char *app_metadata_json;  /* object */
    const char *user_metadata_json; /* object */
    const char *amr_json;           /* array */
    const char *aal;
    int is_anonymous;
};

/* Signs an access token for claims at time now into out; *exp gets its expiry. */
int tokens_sign(struct tokens *t, struct buf *out, const struct token_claims *c, long now,
                long *exp);

/*
 * Verifies a compact JWT: the algorithm and key are pinned (never taken from
 * the token), the signature, exp/nbf/iat with JWT_LEEWAY seconds, iss, aud
 * "authenticated", and that sub and session_id are UUIDs. On success *claims
 * is the payload (caller releases it with json_object_put) and 0 is returned;
 * otherwise UMS_EDENIED and *why says what failed (for logs, not clients).
 */
int tokens_verify(struct tokens *t, const char *jwt, size_t len, long now,
                  struct json_object **claims, const char **why);

/*
 * Verifies a compact JWT signed by someone else with RS256, the only
 * algorithm taken (never the token's choice): typ JWT or none, no crit,
 * key(kid, arg) gives the public key (an EVP_PKEY *) of the header's kid or
 * NULL, the signature, exp (required) and nbf/iat when present with
 * JWT_LEEWAY seconds. iss, aud and the rest are the caller's to check. On
 * success *claims is the payload (json_object_put it); else UMS_EDENIED
 * with *why.
 */
int tokens_verify_rs256(const char *jwt, size_t len, long now,
                        void *(*key)(const char *kid, void *arg), void *arg,
                        struct json_object **claims, const char **why);

/* Who a verified access token names. */
struct token_id {
    char sub[37];
    char sid[37];
    long exp;
};

/* tokens_verify, remembered: a per-process cache keyed by the SHA-256 of the
 * whole token skips the signature check for a token seen before (the
 * expiry is still checked). 0 or UMS_EDENIED with *why. */
int tokens_check(struct tokens *t, const char *jwt, size_t len, long now, struct token_id *out,
                 const char **why);

#endif
