/* oauth_google.c - Google: the code exchange (with PKCE), the id_token
 * checked against Google's JWKS (RS256 only, iss, aud, exp, nonce), and
 * userinfo when the id_token has no address (oauth_provider.h). */
#include "oauth_provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "config.h"
#include "oauth_http.h"
#include "outbound.h"
#include "tokens.h"
#include "../util/b64.h"
#include "../util/log.h"
#include "../util/ums.h"

#define JWKS_KEYS      8    /* keys kept from Google's set */
#define JWKS_MAX_AGE   3600 /* seconds before the set is fetched again */
#define JWKS_MIN_AGAIN 60   /* an unknown kid fetches the set at most this often */

static struct outbound google_curl;

/* The JWKS, parsed, per process. */
static struct {
    char kid[JWKS_KEYS][128];
    EVP_PKEY *key[JWKS_KEYS];
    int n;
    time_t fetched;
} jwks;

static void jwks_clear(void)
{
    for (int i = 0; i < jwks.n; i++)
        EVP_PKEY_free(jwks.key[i]);
    jwks.n = 0;
}

/* An RSA public key from a JWK's base64url n and e; NULL if unusable. */
static EVP_PKEY *rsa_from_jwk(const char *n64, const char *e64)
{
    unsigned char n[1024], e[16];
    long nl = b64_url_decode(n, sizeof(n), n64, strlen(n64));
    long el = b64_url_decode(e, sizeof(e), e64, strlen(e64));
    BIGNUM *bn = NULL, *be = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *key = NULL;

    /* 2048 to 8192 bits. */
    if (nl < 256 || el <= 0)
        return NULL;
    bn = BN_bin2bn(n, (int)nl, NULL);
    be = BN_bin2bn(e, (int)el, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (bn == NULL || be == NULL || bld == NULL ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
        EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
        key = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    return key;
}

/* Fetches and parses the JWKS. UMS_OK when at least one RS256 key came. */
static int jwks_fetch(const struct ums_config *cfg, const char **why)
{
    struct oauth_reply r;
    struct json_object *o = NULL, *keys;
    int rc;

    oauth_http_reply_init(&r);
    rc = oauth_http(&google_curl, cfg, cfg->google.jwks_url, NULL, NULL, &r, why);
    if (rc == UMS_OK && r.status != 200) {
        *why = "the JWKS answer is not 200";
        rc = UMS_EUNAVAILABLE;
    }
    if (rc == UMS_OK &&
        ((o = oauth_http_json(&r)) == NULL || !json_object_object_get_ex(o, "keys", &keys) ||
         !json_object_is_type(keys, json_type_array))) {
        *why = "the JWKS is not a JSON key set";
        rc = UMS_EUNAVAILABLE;
    }
    if (rc == UMS_OK) {
        jwks_clear();
        for (size_t i = 0; i < json_object_array_length(keys) && jwks.n < JWKS_KEYS; i++) {
            struct json_object *k = json_object_array_get_idx(keys, i);
            const char *kty = oauth_http_str(k, "kty"), *alg = oauth_http_str(k, "alg");
            const char *use = oauth_http_str(k, "use"), *kid = oauth_http_str(k, "kid");
            const char *n = oauth_http_str(k, "n"), *e = oauth_http_str(k, "e");
            EVP_PKEY *key;
            if (kty == NULL || strcmp(kty, "RSA") != 0 || (alg != NULL && strcmp(alg, "RS256")) ||
                (use != NULL && strcmp(use, "sig") != 0) || kid == NULL ||
                strlen(kid) >= sizeof(jwks.kid[0]) || n == NULL || e == NULL)
                continue;
            key = rsa_from_jwk(n, e);
            if (key == NULL)
                continue;
            snprintf(jwks.kid[jwks.n], sizeof(jwks.kid[0]), "%s", kid);
            jwks.key[jwks.n++] = key;
        }
        jwks.fetched = time(NULL);
        if (jwks.n == 0) {
            *why = "the JWKS has no RS256 key";
            rc = UMS_EUNAVAILABLE;
        }
    }
    json_object_put(o);
    oauth_http_reply_free(&r);
    return rc;
}

static EVP_PKEY *jwks_find(const char *kid)
{
    for (int i = 0; i < jwks.n; i++)
        if (strcmp(jwks.kid[i], kid) == 0)
            return jwks.key[i];
    return NULL;
}

/* The key for kid: from the kept set, else from a fresh one (the set is
 * fetched when it is old, or when a kid is unknown and the last fetch was
 * not within JWKS_MIN_AGAIN seconds: Google rotates its keys). */
static void *key_for(const char *kid, void *arg)
{
    const struct ums_config *cfg = arg;
    time_t now = time(NULL);
    EVP_PKEY *k = now - jwks.fetched < JWKS_MAX_AGE ? jwks_find(kid) : NULL;
    const char *why = NULL;

    if (k == NULL && (jwks.n == 0 || now - jwks.fetched >= JWKS_MIN_AGAIN)) {
        if (jwks_fetch(cfg, &why) != UMS_OK)
            log_warn("oauth google: JWKS: %s", why);
        k = jwks_find(kid);
    }
    return k;
}

/* aud is the client id, or an array holding it with azp the client id. */
static int audience_ok(struct json_object *claims, const char *client_id)
{
    struct json_object *aud;
    const char *azp = oauth_http_str(claims, "azp");

    if (!json_object_object_get_ex(claims, "aud", &aud))
        return 0;
    if (json_object_is_type(aud, json_type_string))
        return strcmp(json_object_get_string(aud), client_id) == 0 &&
               (azp == NULL || strcmp(azp, client_id) == 0);
    if (!json_object_is_type(aud, json_type_array) || azp == NULL || strcmp(azp, client_id) != 0)
        return 0;
    for (size_t i = 0; i < json_object_array_length(aud); i++) {
        struct json_object *a = json_object_array_get_idx(aud, i);
        if (json_object_is_type(a, json_type_string) &&
            strcmp(json_object_get_string(a), client_id) == 0)
            return 1;
    }
    return 0;
}

/* The id_token's claims after every check, or NULL with *why. */
static struct json_object *id_token_claims(const struct oauth_exchange *x, const char *idt,
                                           const char **why)
{
    struct json_object *claims = NULL;
    const char *iss, *nonce;
    const char *want = x->pc->issuer;

    if (tokens_verify_rs256(idt, strlen(idt), (long)time(NULL), key_for, (void *)x->cfg, &claims,
                            why) != UMS_OK)
        return NULL;
    iss = oauth_http_str(claims, "iss");
    nonce = oauth_http_str(claims, "nonce");
    /* Google writes either form of its issuer. */
    if (iss == NULL || !(strcmp(iss, want) == 0 ||
                         (strncmp(want, "https://", 8) == 0 && strcmp(iss, want + 8) == 0))) {
        *why = "id_token: wrong issuer";
    } else if (!audience_ok(claims, x->pc->client_id)) {
        *why = "id_token: wrong audience";
    } else if (nonce == NULL || strlen(nonce) != strlen(x->nonce) ||
               CRYPTO_memcmp(nonce, x->nonce, strlen(nonce)) != 0) {
        *why = "id_token: wrong nonce";
    } else if (oauth_http_str(claims, "sub") == NULL) {
        *why = "id_token: no sub";
    } else {
        return claims;
    }
    json_object_put(claims);
    return NULL;
}

/* email_verified is a boolean, or the string "true" in some tokens. */
static int verified_of(struct json_object *o)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, "email_verified", &v))
        return 0;
    if (json_object_is_type(v, json_type_boolean))
        return json_object_get_boolean(v);
    return json_object_is_type(v, json_type_string) &&
           strcmp(json_object_get_string(v), "true") == 0;
}

/* OpenID Connect Core 2: sub is at most 255 ASCII characters; ums keeps
 * fewer (size), and only printable ones, since it is stored and logged. */
static int sub_valid(const char *sub, size_t size)
{
    size_t n = 0;

    if (sub == NULL)
        return 0;
    for (; sub[n] != '\0'; n++)
        if ((unsigned char)sub[n] < 0x20 || (unsigned char)sub[n] > 0x7e)
            return 0;
    return n > 0 && n < size;
}

/* Fills p from an id_token's claims or a userinfo answer. */
static int profile_from(struct oauth_profile *p, struct json_object *o, const char *iss)
{
    const char *sub = oauth_http_str(o, "sub"), *email = oauth_http_str(o, "email");
    const char *name = oauth_http_str(o, "name"), *pic = oauth_http_str(o, "picture");
    struct json_object *d;

    if (!sub_valid(sub, sizeof(p->sub)))
        return UMS_EDENIED;
    snprintf(p->sub, sizeof(p->sub), "%s", sub);
    p->email[0] = '\0';
    if (email != NULL && valid_email_normalize(p->email, email, strlen(email)) != UMS_OK)
        p->email[0] = '\0';
    p->email_verified = p->email[0] != '\0' && verified_of(o);
    snprintf(p->name, sizeof(p->name), "%s", name != NULL ? name : "");
    d = oauth_profile_data(p, iss);
    if (pic != NULL && strlen(pic) < 2048) {
        json_object_object_add(d, "picture", json_object_new_string(pic));
        json_object_object_add(d, "avatar_url", json_object_new_string(pic));
    }
    return oauth_profile_set_data(p, d);
}

/* GET userinfo with the access token; its sub must be want_sub if given. */
static int userinfo(const struct oauth_exchange *x, struct oauth_profile *p, const char *want_sub,
                    const char **why)
{
    struct oauth_reply r;
    struct json_object *o = NULL;
    struct buf auth;
    int rc;

    buf_init(&auth, 16384);
    oauth_http_reply_init(&r);
    rc = buf_printf(&auth, "Bearer %s", p->access_token) == 0
             ? oauth_http(&google_curl, x->cfg, x->pc->userinfo_url, NULL, auth.p, &r, why)
             : UMS_ERR;
    if (rc == UMS_OK && r.status >= 500) {
        *why = "userinfo answered 5xx";
        rc = UMS_EUNAVAILABLE;
    } else if (rc == UMS_OK && r.status != 200) {
        *why = "userinfo refused the access token";
        rc = UMS_EDENIED;
    } else if (rc == UMS_OK && (o = oauth_http_json(&r)) == NULL) {
        *why = "userinfo: not a JSON object";
        rc = UMS_EUNAVAILABLE;
    } else if (rc == UMS_OK && want_sub != NULL &&
               (oauth_http_str(o, "sub") == NULL || strcmp(oauth_http_str(o, "sub"), want_sub))) {
        *why = "userinfo names another subject";
        rc = UMS_EDENIED;
    } else if (rc == UMS_OK && (rc = profile_from(p, o, x->pc->issuer)) == UMS_EDENIED) {
        *why = "userinfo: no sub";
    }
    json_object_put(o);
    oauth_http_reply_free(&r);
    buf_free_secret(&auth);
    return rc;
}

int oauth_google_fetch(const struct oauth_exchange *x, struct oauth_profile *p, const char **why)
{
    const char *form_kv[] = {
        "grant_type",    "authorization_code", "code",          x->code,
        "redirect_uri",  x->redirect_uri,      "client_id",     x->pc->client_id,
        "client_secret", x->pc->client_secret, "code_verifier", x->verifier};
    struct json_object *o = NULL, *claims = NULL;
    const char *at, *rt, *idt;
    int rc = oauth_http_token(&google_curl, x->cfg, x->pc->token_url, form_kv, 6, &o, &at, why);

    if (rc == UMS_OK) {
        rt = oauth_http_str(o, "refresh_token");
        idt = oauth_http_str(o, "id_token");
        p->access_token = strdup(at);
        p->refresh_token = rt != NULL ? strdup(rt) : NULL;
        if (p->access_token == NULL || (rt != NULL && p->refresh_token == NULL))
            rc = UMS_ERR;
        else if (idt == NULL) /* only ever over this TLS channel: userinfo tells */
            rc = userinfo(x, p, NULL, why);
        else if ((claims = id_token_claims(x, idt, why)) == NULL)
            rc = UMS_EDENIED;
        else if ((rc = profile_from(p, claims, x->pc->issuer)) == UMS_OK && p->email[0] == '\0')
            rc = userinfo(x, p, p->sub, why);
    }
    json_object_put(claims);
    json_object_put(o);
    return rc;
}
