/* tokens.c - JWT access tokens with OpenSSL and a key parsed once.
 *
 * libjwt 1.10 re-parses the PEM key on every call (about 3,000 RS256
 * verifications per second per core) and takes the algorithm from the token;
 * this file signs and verifies with an EVP_PKEY parsed at start-up and pins
 * the algorithm and kid. See docs/ARCHITECTURE.md "Libraries". */
#include "tokens.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "../util/b64.h"
#include "config.h"
#include "../util/json.h"
#include "keyring.h"
#include "../util/ums.h"
#include "../util/valid.h"

enum alg { ALG_RS256, ALG_HS256 };

#define VERIFIED_SLOTS 512

struct verified {
    unsigned char key[32]; /* SHA-256 of the token */
    struct token_id id;
    int used;
};

struct tokens {
    struct verified seen[VERIFIED_SLOTS];
    enum alg alg;
    struct keyring ring; /* RS256 */
    char *secret;
    size_t secret_len;
    char *issuer;
    int ttl;
    char *jwks;
    char header[256]; /* base64url of the fixed header */
};

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);

    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

/* base64url of a BIGNUM parameter of the key ("n" or "e"). */
static int bn_param_b64(struct buf *b, EVP_PKEY *key, const char *name)
{
    BIGNUM *bn = NULL;
    unsigned char raw[1024];
    char enc[B64URL_LEN(1024) + 1];
    int n, rc = UMS_ERR;

    if (!EVP_PKEY_get_bn_param(key, name, &bn))
        return UMS_ERR;
    n = BN_num_bytes(bn);
    if (n > 0 && n <= (int)sizeof(raw)) {
        BN_bn2bin(bn, raw);
        b64_url_encode(enc, raw, (size_t)n);
        rc = buf_adds(b, enc);
    }
    BN_free(bn);
    return rc;
}

/* {"keys":[...]}: every key of the ring, the active one first. */
static int make_jwks(struct tokens *t)
{
    struct buf b;
    int first = 1;

    buf_init(&b, 16384);
    buf_adds(&b, "{\"keys\":[");
    for (int j = 0; t->alg == ALG_RS256 && j < t->ring.n; j++) {
        int i = j == 0 ? t->ring.active : (j <= t->ring.active ? j - 1 : j);
        const struct keyring_key *k = &t->ring.keys[i];
        buf_printf(&b,
                   "%s{\"kty\":\"RSA\",\"kid\":\"%s\",\"alg\":\"RS256\",\"use\":\"sig\","
                   "\"key_ops\":[\"verify\"],\"n\":\"",
                   first ? "" : ",", k->kid);
        first = 0;
        if (bn_param_b64(&b, k->key, OSSL_PKEY_PARAM_RSA_N) != 0 || buf_adds(&b, "\",\"e\":\"") ||
            bn_param_b64(&b, k->key, OSSL_PKEY_PARAM_RSA_E) != 0 || buf_adds(&b, "\"}")) {
            buf_free(&b);
            return UMS_ERR;
        }
    }
    if (buf_adds(&b, "]}") != 0) {
        buf_free(&b);
        return UMS_ERR;
    }
    t->jwks = b.p;
    return t->jwks != NULL ? UMS_OK : UMS_ERR;
}

/* [auth] jwt_keys_dir, or jwt_private_key_file and jwt_kid, into t->ring. */
static int open_ring(struct tokens *t, const struct ums_config *cfg, char *err, size_t errlen)
{
    char inner[512];
    int rc;

    if (cfg->auth.jwt_keys_dir[0] != '\0') {
        if (cfg->auth.jwt_private_key_file[0] != '\0' || cfg->auth.jwt_kid[0] != '\0') {
            snprintf(err, errlen,
                     "[auth] jwt_keys_dir names its keys by their files: "
                     "leave jwt_private_key_file and jwt_kid unset");
            return UMS_EINVALID;
        }
        rc = keyring_load_dir(&t->ring, cfg->auth.jwt_keys_dir, inner, sizeof(inner));
        if (rc == UMS_EINVALID)
            snprintf(err, errlen, "[auth] jwt_keys_dir: %s", inner);
        return rc;
    }
    if (cfg->auth.jwt_private_key_file[0] == '\0') {
        snprintf(err, errlen, "[auth] jwt_keys_dir or jwt_private_key_file is required for RS256");
        return UMS_EINVALID;
    }
    rc = keyring_load_file(&t->ring, cfg->auth.jwt_private_key_file, cfg->auth.jwt_kid, inner,
                           sizeof(inner));
    if (rc == UMS_EINVALID)
        snprintf(err, errlen, "%s%s",
                 strncmp(inner, "[auth]", 6) == 0 ? "" : "[auth] jwt_private_key_file: ", inner);
    return rc;
}

int tokens_open(struct tokens **out, const struct ums_config *cfg, char *err, size_t errlen)
{
    struct tokens *t = calloc(1, sizeof(*t));
    char hdr[160];
    int rc = UMS_EINVALID;

    *out = NULL;
    if (t == NULL)
        return UMS_ERR;
    t->ttl = cfg->auth.access_token_ttl;
    t->issuer = dup_str(cfg->auth.jwt_issuer);
    if (t->issuer == NULL)
        goto fail;
    if (strcmp(cfg->auth.jwt_algorithm, "HS256") == 0) {
        t->alg = ALG_HS256;
        t->secret = dup_str(cfg->auth.jwt_secret);
        t->secret_len = strlen(cfg->auth.jwt_secret);
        if (t->secret == NULL || t->secret_len < 32) {
            snprintf(err, errlen, "[auth] jwt_secret must have at least 32 characters");
            goto fail;
        }
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
    } else {
        t->alg = ALG_RS256;
        rc = open_ring(t, cfg, err, errlen);
        if (rc != UMS_OK)
            goto fail;
        rc = UMS_EINVALID;
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"kid\":\"%s\",\"typ\":\"JWT\"}",
                 t->ring.keys[t->ring.active].kid);
    }
    b64_url_encode(t->header, (const unsigned char *)hdr, strlen(hdr));
    if (make_jwks(t) != UMS_OK) {
        rc = UMS_ERR;
        goto fail;
    }
    *out = t;
    return UMS_OK;
fail:
    tokens_close(t);
    return rc;
}

void tokens_close(struct tokens *t)
{
    if (t == NULL)
        return;
    keyring_free(&t->ring);
    if (t->secret != NULL) {
        OPENSSL_cleanse(t->secret, t->secret_len);
        free(t->secret);
    }
    free(t->issuer);
    free(t->jwks);
    free(t);
}

const char *tokens_jwks(const struct tokens *t)
{
    return t->jwks;
}

/* Signature of data into sig; *siglen in/out. */
static int sign_raw(struct tokens *t, const char *data, size_t len, unsigned char *sig,
                    size_t *siglen)
{
    EVP_MD_CTX *ctx;
    int ok;

    if (t->alg == ALG_HS256) {
        unsigned int n = 0;
        ok = HMAC(EVP_sha256(), t->secret, (int)t->secret_len, (const unsigned char *)data, len,
                  sig, &n) != NULL;
        *siglen = n;
        return ok ? UMS_OK : UMS_ERR;
    }
    ctx = EVP_MD_CTX_new();
    ok = ctx != NULL &&
         EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, t->ring.keys[t->ring.active].key) == 1 &&
         EVP_DigestSign(ctx, sig, siglen, (const unsigned char *)data, len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? UMS_OK : UMS_ERR;
}

/* 1 when sig is key's RS256 signature of data[0..len). */
static int rs256_ok(EVP_PKEY *key, const char *data, size_t len, const unsigned char *sig,
                    size_t siglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)data, len) == 1;

    EVP_MD_CTX_free(ctx);
    return ok;
}

static int verify_raw(struct tokens *t, EVP_PKEY *key, const char *data, size_t len,
                      const unsigned char *sig, size_t siglen)
{
    if (t->alg == ALG_HS256) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        if (HMAC(EVP_sha256(), t->secret, (int)t->secret_len, (const unsigned char *)data, len, mac,
                 &n) == NULL)
            return 0;
        return siglen == n && CRYPTO_memcmp(mac, sig, n) == 0;
    }
    return rs256_ok(key, data, len, sig, siglen);
}

int tokens_sign(struct tokens *t, struct buf *out, const struct token_claims *c, long now,
                long *exp)
{
    struct buf p;
    unsigned char sig[1024];
    char *enc = NULL;
    size_t siglen = sizeof(sig);
    int rc = UMS_ERR;

    *exp = now + t->ttl;
    buf_init(&p, 64 * 1024);
    buf_adds(&p, "{\"iss\":");
    buf_add_json_str(&p, t->issuer);
    buf_adds(&p, ",\"sub\":");
    buf_add_json_str(&p, c->sub);
    buf_printf(&p, ",\"aud\":\"authenticated\",\"exp\":%ld,\"iat\":%ld,\"email\":", *exp, now);
    buf_add_json_str(&p, c->email != NULL ? c->email : "");
    buf_adds(&p, ",\"phone\":");
    buf_add_json_str(&p, c->phone != NULL ? c->phone : "");
    buf_adds(&p, ",\"role\":\"authenticated\",\"app_role\":");
    buf_add_json_str(&p, c->app_role != NULL ? c->app_role : "user");
    buf_printf(&p, ",\"app_metadata\":%s,\"user_metadata\":%s,\"aal\":",
               c->app_metadata_json != NULL ? c->app_metadata_json : "{}",
               c->user_metadata_json != NULL ? c->user_metadata_json : "{}");
    buf_add_json_str(&p, c->aal != NULL ? c->aal : "aal1");
    buf_printf(&p, ",\"amr\":%s,\"session_id\":", c->amr_json != NULL ? c->amr_json : "[]");
    buf_add_json_str(&p, c->session_id);
    if (buf_printf(&p, ",\"is_anonymous\":%s}", c->is_anonymous ? "true" : "false") != 0)
        goto out;
    enc = malloc(B64URL_LEN(p.len) + 1);
    if (enc == NULL)
        goto out;
    b64_url_encode(enc, (const unsigned char *)p.p, p.len);
    buf_reset(out, 64 * 1024);
    if (buf_adds(out, t->header) || buf_addc(out, '.') || buf_adds(out, enc))
        goto out;
    if (sign_raw(t, out->p, out->len, sig, &siglen) != UMS_OK)
        goto out;
    free(enc);
    enc = malloc(B64URL_LEN(siglen) + 1);
    if (enc == NULL)
        goto out;
    b64_url_encode(enc, sig, siglen);
    if (buf_addc(out, '.') || buf_adds(out, enc))
        goto out;
    rc = UMS_OK;
out:
    free(enc);
    buf_free(&p);
    return rc;
}

/* Decodes one base64url part into a fresh strictly-parsed JSON object. */
static struct json_object *part_json(const char *s, size_t len)
{
    unsigned char raw[JWT_MAX];
    struct json_object *o = NULL;
    long n = b64_url_decode(raw, sizeof(raw), s, len);

    if (n <= 0 || json_parse_strict(&o, (const char *)raw, (size_t)n, 8, NULL) != UMS_OK)
        return NULL;
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static const char *get_str(struct json_object *o, const char *k)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* A NumericDate: an integer (or integral double). *present 0 when absent. */
static int get_time(struct json_object *o, const char *k, long *out, int *present)
{
    struct json_object *v;

    *present = json_object_object_get_ex(o, k, &v);
    if (!*present)
        return UMS_OK;
    if (json_object_is_type(v, json_type_int)) {
        *out = (long)json_object_get_int64(v);
        return UMS_OK;
    }
    return UMS_EINVALID;
}

/* Splits a compact JWT (at most JWT_MAX bytes, no NUL) at its two dots. */
static int jwt_split(const char *jwt, size_t len, const char **dot1, const char **dot2)
{
    if (len == 0 || len > JWT_MAX || memchr(jwt, '\0', len) != NULL)
        return UMS_EDENIED;
    *dot1 = memchr(jwt, '.', len);
    *dot2 = *dot1 != NULL ? memchr(*dot1 + 1, '.', len - (size_t)(*dot1 + 1 - jwt)) : NULL;
    if (*dot1 == NULL || *dot2 == NULL ||
        memchr(*dot2 + 1, '.', len - (size_t)(*dot2 + 1 - jwt)) != NULL)
        return UMS_EDENIED;
    return UMS_OK;
}

/* exp (required), nbf and iat (required when need_iat) against now, with
 * JWT_LEEWAY seconds either way. The leeway goes on now's side, which is
 * the clock and cannot overflow; a claim near INT64_MAX could. */
static int jwt_times(struct json_object *pl, long now, int need_iat, const char **why)
{
    long exp = 0, nbf = 0, iat = 0;
    int has_exp, has_nbf, has_iat;

    if (get_time(pl, "exp", &exp, &has_exp) || get_time(pl, "nbf", &nbf, &has_nbf) ||
        get_time(pl, "iat", &iat, &has_iat) || !has_exp || (need_iat && !has_iat)) {
        *why = need_iat ? "missing or malformed exp/iat" : "missing or malformed exp";
        return UMS_EDENIED;
    }
    if (now - JWT_LEEWAY >= exp) {
        *why = "token is expired";
        return UMS_EDENIED;
    }
    if ((has_nbf && now + JWT_LEEWAY < nbf) || (has_iat && now + JWT_LEEWAY < iat)) {
        *why = "token is not valid yet";
        return UMS_EDENIED;
    }
    return UMS_OK;
}

/* The payload between the dots, if it is a JSON object whose times hold. */
static struct json_object *jwt_payload(const char *dot1, const char *dot2, long now, int need_iat,
                                       const char **why)
{
    struct json_object *pl = part_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));

    if (pl == NULL) {
        *why = "malformed claims";
        return NULL;
    }
    if (jwt_times(pl, now, need_iat, why) != UMS_OK) {
        json_object_put(pl);
        return NULL;
    }
    return pl;
}

int tokens_verify(struct tokens *t, const char *jwt, size_t len, long now,
                  struct json_object **claims, const char **why)
{
    const char *dot1, *dot2;
    struct json_object *hdr = NULL, *pl = NULL, *aud;
    unsigned char sig[1024];
    long siglen;
    const char *alg, *kid, *typ, *iss;
    EVP_PKEY *key = NULL;

    *claims = NULL;
    *why = "malformed token";
    if (jwt_split(jwt, len, &dot1, &dot2) != UMS_OK)
        return UMS_EDENIED;
    hdr = part_json(jwt, (size_t)(dot1 - jwt));
    if (hdr == NULL)
        goto bad;
    /* The algorithm and key are ours, never the token's. */
    alg = get_str(hdr, "alg");
    kid = get_str(hdr, "kid");
    typ = get_str(hdr, "typ");
    if (alg == NULL || strcmp(alg, t->alg == ALG_RS256 ? "RS256" : "HS256") != 0) {
        *why = "unexpected algorithm";
        goto bad;
    }
    if (t->alg == ALG_RS256 && (kid == NULL || (key = keyring_find(&t->ring, kid)) == NULL)) {
        *why = "unknown key id";
        goto bad;
    }
    if ((typ != NULL && strcmp(typ, "JWT") != 0) || json_object_object_get_ex(hdr, "crit", NULL)) {
        *why = "unsupported header";
        goto bad;
    }
    siglen = b64_url_decode(sig, sizeof(sig), dot2 + 1, len - (size_t)(dot2 + 1 - jwt));
    if (siglen <= 0 || !verify_raw(t, key, jwt, (size_t)(dot2 - jwt), sig, (size_t)siglen)) {
        *why = "bad signature";
        goto bad;
    }
    pl = jwt_payload(dot1, dot2, now, 1, why);
    if (pl == NULL)
        goto bad;
    iss = get_str(pl, "iss");
    if (iss == NULL || strcmp(iss, t->issuer) != 0) {
        *why = "wrong issuer";
        goto bad;
    }
    if (!json_object_object_get_ex(pl, "aud", &aud) ||
        !(json_object_is_type(aud, json_type_string) &&
          strcmp(json_object_get_string(aud), "authenticated") == 0)) {
        int ok = 0;
        if (aud != NULL && json_object_is_type(aud, json_type_array))
            for (size_t i = 0; i < json_object_array_length(aud); i++) {
                struct json_object *a = json_object_array_get_idx(aud, i);
                ok |= json_object_is_type(a, json_type_string) &&
                      strcmp(json_object_get_string(a), "authenticated") == 0;
            }
        if (!ok) {
            *why = "wrong audience";
            goto bad;
        }
    }
    if (!valid_uuid(get_str(pl, "sub")) || !valid_uuid(get_str(pl, "session_id"))) {
        *why = "missing sub or session_id";
        goto bad;
    }
    json_object_put(hdr);
    *claims = pl;
    *why = NULL;
    return UMS_OK;
bad:
    json_object_put(hdr);
    json_object_put(pl);
    return UMS_EDENIED;
}

int tokens_verify_rs256(const char *jwt, size_t len, long now,
                        void *(*key)(const char *kid, void *arg), void *arg,
                        struct json_object **claims, const char **why)
{
    const char *dot1, *dot2, *alg, *typ;
    struct json_object *hdr = NULL, *pl = NULL;
    unsigned char sig[1024];
    long siglen;
    EVP_PKEY *k;

    *claims = NULL;
    *why = "malformed token";
    if (jwt_split(jwt, len, &dot1, &dot2) != UMS_OK)
        return UMS_EDENIED;
    hdr = part_json(jwt, (size_t)(dot1 - jwt));
    if (hdr == NULL)
        goto bad;
    alg = get_str(hdr, "alg");
    typ = get_str(hdr, "typ");
    if (alg == NULL || strcmp(alg, "RS256") != 0) {
        *why = "unexpected algorithm";
        goto bad;
    }
    if ((typ != NULL && strcmp(typ, "JWT") != 0) || json_object_object_get_ex(hdr, "crit", NULL)) {
        *why = "unsupported header";
        goto bad;
    }
    k = get_str(hdr, "kid") != NULL ? key(get_str(hdr, "kid"), arg) : NULL;
    if (k == NULL) {
        *why = "unknown key id";
        goto bad;
    }
    siglen = b64_url_decode(sig, sizeof(sig), dot2 + 1, len - (size_t)(dot2 + 1 - jwt));
    if (siglen <= 0 || !rs256_ok(k, jwt, (size_t)(dot2 - jwt), sig, (size_t)siglen)) {
        *why = "bad signature";
        goto bad;
    }
    pl = jwt_payload(dot1, dot2, now, 0, why);
    if (pl == NULL)
        goto bad;
    json_object_put(hdr);
    *claims = pl;
    *why = NULL;
    return UMS_OK;
bad:
    json_object_put(hdr);
    json_object_put(pl);
    return UMS_EDENIED;
}

int tokens_check(struct tokens *t, const char *jwt, size_t len, long now, struct token_id *out,
                 const char **why)
{
    unsigned char key[32];
    unsigned int klen = 0;
    struct verified *v;
    struct json_object *claims = NULL, *x;
    int rc;

    if (len == 0 || len > JWT_MAX) {
        *why = "malformed token";
        return UMS_EDENIED;
    }
    EVP_Digest(jwt, len, key, &klen, EVP_sha256(), NULL);
    v = &t->seen[(key[0] | key[1] << 8) % VERIFIED_SLOTS];
    if (v->used && CRYPTO_memcmp(v->key, key, sizeof(key)) == 0) {
        if (now >= v->id.exp + JWT_LEEWAY) {
            *why = "token is expired";
            return UMS_EDENIED;
        }
        *out = v->id;
        *why = NULL;
        return UMS_OK;
    }
    rc = tokens_verify(t, jwt, len, now, &claims, why);
    if (rc != UMS_OK)
        return rc;
    json_object_object_get_ex(claims, "sub", &x);
    snprintf(out->sub, sizeof(out->sub), "%s", json_object_get_string(x));
    json_object_object_get_ex(claims, "session_id", &x);
    snprintf(out->sid, sizeof(out->sid), "%s", json_object_get_string(x));
    json_object_object_get_ex(claims, "exp", &x);
    out->exp = (long)json_object_get_int64(x);
    json_object_put(claims);
    memcpy(v->key, key, sizeof(key));
    v->id = *out;
    v->used = 1;
    return UMS_OK;
}
