/* test_tokens.c - JWT signing and verification: pinned algorithm and key,
 * tampering, times, issuer and audience. */
#define CTEST_MAIN
#include "../ctest.h"

#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "../../util/b64.h"
#include "../../core/config.h"
#include "../../core/keygen.h"
#include "../../core/tokens.h"
#include "../../util/ums.h"

static char dir[64];
static char priv_path[128];
static char pub_pem[4096];
static EVP_PKEY *pkey;

static struct tokens *open_rs(const char *extra)
{
    static char err[512];
    char text[1024];
    struct ums_config *cfg;
    struct tokens *t = NULL;

    if (dir[0] == '\0') {
        char kid[23];
        FILE *f;
        size_t n;
        snprintf(dir, sizeof(dir), "/tmp/ums-tok-XXXXXX");
        if (mkdtemp(dir) == NULL)
            return NULL;
        snprintf(priv_path, sizeof(priv_path), "%s/jwt-private.pem", dir);
        char pub[128];
        snprintf(pub, sizeof(pub), "%s/jwt-public.pem", dir);
        if (keygen_rsa(priv_path, pub, 2048, kid, err, sizeof(err)) != 0)
            return NULL;
        f = fopen(pub, "r");
        n = fread(pub_pem, 1, sizeof(pub_pem) - 1, f);
        pub_pem[n] = '\0';
        fclose(f);
        f = fopen(priv_path, "r");
        pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
    }
    snprintf(text, sizeof(text),
             "[auth]\njwt_private_key_file = %s\nexternal_url = https://id.example/auth/v1\n%s",
             priv_path, extra ? extra : "");
    if (config_parse(&cfg, text, strlen(text), "t", err, sizeof(err)) != 0)
        return NULL;
    tokens_open(&t, cfg, err, sizeof(err));
    config_free(cfg);
    return t;
}

static const struct token_claims claims = {"7d1c0a8e-6b1f-4a53-9f1e-2c3d4e5f6a7b",
                                           "a@example.com",
                                           "",
                                           "0b7e5c1d-1111-4a53-9f1e-2c3d4e5f6a7b",
                                           "user",
                                           "{\"provider\":\"email\"}",
                                           "{\"name\":\"A\"}",
                                           "[{\"method\":\"password\",\"timestamp\":1}]",
                                           "aal1",
                                           0};

/* Signs arbitrary header and payload JSON with the test key (RS256) or an
 * HMAC secret; the way an attacker with a key would. */
static void craft(struct buf *out, const char *header, const char *payload, const char *alg,
                  const void *hmac_key, size_t hmac_len)
{
    char h[2048], p[4096];
    unsigned char sig[1024];
    size_t siglen = sizeof(sig);
    b64_url_encode(h, (const unsigned char *)header, strlen(header));
    b64_url_encode(p, (const unsigned char *)payload, strlen(payload));
    buf_reset(out, 0);
    buf_printf(out, "%s.%s", h, p);
    if (strcmp(alg, "RS256") == 0) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey);
        EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)out->p, out->len);
        EVP_MD_CTX_free(ctx);
    } else if (strcmp(alg, "RS512") == 0) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        EVP_DigestSignInit(ctx, NULL, EVP_sha512(), NULL, pkey);
        EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)out->p, out->len);
        EVP_MD_CTX_free(ctx);
    } else if (strcmp(alg, "HS256") == 0) {
        unsigned int n = 0;
        HMAC(EVP_sha256(), hmac_key, (int)hmac_len, (unsigned char *)out->p, out->len, sig, &n);
        siglen = n;
    } else {
        siglen = 0;
    }
    char s[2048];
    b64_url_encode(s, sig, siglen);
    buf_printf(out, ".%s", s);
}

static char kid_of(struct tokens *t, char *kid, size_t n)
{
    /* The kid is in the JWKS. */
    const char *j = strstr(tokens_jwks(t), "\"kid\":\"");
    snprintf(kid, n, "%.22s", j + 7);
    return 0;
}

static int verify(struct tokens *t, const char *jwt, long now)
{
    struct json_object *c = NULL;
    const char *why;
    int rc = tokens_verify(t, jwt, strlen(jwt), now, &c, &why);
    json_object_put(c);
    return rc;
}

#define PAYLOAD(iss, aud, exp, iat)                                                                \
    "{\"iss\":\"" iss "\",\"sub\":\"7d1c0a8e-6b1f-4a53-9f1e-2c3d4e5f6a7b\",\"aud\":" aud           \
    ",\"exp\":" exp ",\"iat\":" iat ",\"session_id\":\"0b7e5c1d-1111-4a53-9f1e-2c3d4e5f6a7b\"}"

CTEST(tokens, sign_and_verify)
{
    struct tokens *t = open_rs(NULL);
    struct buf b;
    struct json_object *c = NULL, *v;
    const char *why;
    long exp;
    ASSERT_NOT_NULL(t);
    buf_init(&b, 65536);
    ASSERT_EQ(tokens_sign(t, &b, &claims, 1000000, &exp), 0);
    ASSERT_EQ(exp, 1000900);
    ASSERT_EQ(tokens_verify(t, b.p, b.len, 1000100, &c, &why), 0);
    ASSERT_TRUE(json_object_object_get_ex(c, "sub", &v));
    ASSERT_STR_EQ(json_object_get_string(v), claims.sub);
    ASSERT_TRUE(json_object_object_get_ex(c, "role", &v));
    ASSERT_STR_EQ(json_object_get_string(v), "authenticated");
    ASSERT_TRUE(json_object_object_get_ex(c, "app_role", &v));
    ASSERT_STR_EQ(json_object_get_string(v), "user");
    ASSERT_TRUE(json_object_object_get_ex(c, "user_metadata", &v));
    ASSERT_TRUE(json_object_is_type(v, json_type_object));
    json_object_put(c);
    buf_free(&b);
    tokens_close(t);
}

CTEST(tokens, jwks_has_public_key_only)
{
    struct tokens *t = open_rs(NULL);
    const char *j = tokens_jwks(t);
    ASSERT_STR_CONTAINS(j, "\"kty\":\"RSA\"");
    ASSERT_STR_CONTAINS(j, "\"alg\":\"RS256\"");
    ASSERT_STR_CONTAINS(j, "\"e\":\"AQAB\"");
    ASSERT_TRUE(strstr(j, "\"d\"") == NULL);
    ASSERT_TRUE(strstr(j, "\"p\"") == NULL);
    tokens_close(t);
}

CTEST(tokens, times)
{
    struct tokens *t = open_rs(NULL);
    struct buf b;
    long exp;
    buf_init(&b, 65536);
    tokens_sign(t, &b, &claims, 1000000, &exp);
    ASSERT_EQ(verify(t, b.p, exp + JWT_LEEWAY - 1), 0);
    ASSERT_EQ(verify(t, b.p, exp + JWT_LEEWAY), UMS_EDENIED);         /* expired */
    ASSERT_EQ(verify(t, b.p, 1000000 - JWT_LEEWAY), 0);               /* clock skew ok */
    ASSERT_EQ(verify(t, b.p, 1000000 - JWT_LEEWAY - 1), UMS_EDENIED); /* issued in the future */
    buf_free(&b);
    tokens_close(t);
}

CTEST(tokens, tampering)
{
    struct tokens *t = open_rs(NULL);
    struct buf b;
    long exp;
    buf_init(&b, 65536);
    tokens_sign(t, &b, &claims, 1000000, &exp);
    char *dot1 = strchr(b.p, '.'), *dot2 = strrchr(b.p, '.');
    size_t where[] = {1, (size_t)(dot1 - b.p) + 5, (size_t)(dot2 - b.p) + 5, b.len - 2};
    for (size_t i = 0; i < 4; i++) {
        char *copy = strdup(b.p);
        copy[where[i]] ^= 0x01; /* flip one bit (stays in the base64url alphabet or not) */
        if (verify(t, copy, 1000001) != UMS_EDENIED)
            CTEST_FAIL_("flipped bit at %zu accepted", where[i]);
        free(copy);
    }
    /* Truncations and garbage. */
    ASSERT_EQ(verify(t, "", 1000001), UMS_EDENIED);
    ASSERT_EQ(verify(t, "a.b", 1000001), UMS_EDENIED);
    ASSERT_EQ(verify(t, "a.b.c.d", 1000001), UMS_EDENIED);
    b.p[dot2 - b.p] = '\0';
    ASSERT_EQ(verify(t, b.p, 1000001), UMS_EDENIED);
    buf_free(&b);
    tokens_close(t);
}

CTEST(tokens, algorithm_confusion)
{
    struct tokens *t = open_rs(NULL);
    struct buf b;
    char kid[32], hdr[256];
    buf_init(&b, 65536);
    kid_of(t, kid, sizeof(kid));
    const char *pl =
        PAYLOAD("https://id.example/auth/v1", "\"authenticated\"", "9999999999", "1000000");
    /* A correct control token, then the attacks. */
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", kid);
    craft(&b, hdr, pl, "RS256", NULL, 0);
    ASSERT_EQ(verify(t, b.p, 1000001), 0);
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"none\",\"kid\":\"%s\"}", kid);
    craft(&b, hdr, pl, "none", NULL, 0);
    ASSERT_EQ(verify(t, b.p, 1000001), UMS_EDENIED);
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"None\",\"kid\":\"%s\"}", kid);
    craft(&b, hdr, pl, "none", NULL, 0);
    ASSERT_EQ(verify(t, b.p, 1000001), UMS_EDENIED);
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"HS256\",\"kid\":\"%s\"}", kid);
    craft(&b, hdr, pl, "HS256", pub_pem, strlen(pub_pem));
    ASSERT_EQ(verify(t, b.p, 1000001), UMS_EDENIED);
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS512\",\"kid\":\"%s\"}", kid);
    craft(&b, hdr, pl, "RS512", NULL, 0);
    ASSERT_EQ(verify(t, b.p, 1000001), UMS_EDENIED);
    /* Right algorithm, other kid. */
    craft(&b, "{\"alg\":\"RS256\",\"kid\":\"other\"}", pl, "RS256", NULL, 0);
    ASSERT_EQ(verify(t, b.p, 1000001), UMS_EDENIED);
    buf_free(&b);
    tokens_close(t);
}

CTEST(tokens, claims_checked)
{
    struct tokens *t = open_rs(NULL);
    struct buf b;
    char kid[32], hdr[256];
    buf_init(&b, 65536);
    kid_of(t, kid, sizeof(kid));
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"kid\":\"%s\"}", kid);
    static const char *const bad[] = {
        PAYLOAD("https://evil.example/auth/v1", "\"authenticated\"", "9999999999", "1000000"),
        PAYLOAD("https://id.example/auth/v1", "\"anon\"", "9999999999", "1000000"),
        PAYLOAD("https://id.example/auth/v1", "[\"other\"]", "9999999999", "1000000"),
        PAYLOAD("https://id.example/auth/v1", "\"authenticated\"", "\"9999999999\"", "1000000"),
        PAYLOAD("https://id.example/auth/v1", "\"authenticated\"", "999", "1000000"),
        "{\"iss\":\"https://id.example/auth/v1\",\"aud\":\"authenticated\",\"exp\":9999999999,"
        "\"iat\":1000000,\"sub\":\"not-a-uuid\",\"session_id\":"
        "\"0b7e5c1d-1111-4a53-9f1e-2c3d4e5f6a7b\"}",
        "{\"iss\":\"https://id.example/auth/v1\",\"aud\":\"authenticated\",\"exp\":9999999999,"
        "\"iat\":1000000,\"sub\":\"7d1c0a8e-6b1f-4a53-9f1e-2c3d4e5f6a7b\"}",
        "{\"iss\":\"https://id.example/auth/v1\",\"aud\":\"authenticated\",\"exp\":9999999999,"
        "\"nbf\":2000000,\"iat\":1000000,\"sub\":\"7d1c0a8e-6b1f-4a53-9f1e-2c3d4e5f6a7b\","
        "\"session_id\":\"0b7e5c1d-1111-4a53-9f1e-2c3d4e5f6a7b\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        craft(&b, hdr, bad[i], "RS256", NULL, 0);
        if (verify(t, b.p, 1000001) != UMS_EDENIED)
            CTEST_FAIL_("claims case %zu accepted", i);
    }
    /* aud as an array containing "authenticated" is fine. */
    craft(
        &b, hdr,
        PAYLOAD("https://id.example/auth/v1", "[\"x\",\"authenticated\"]", "9999999999", "1000000"),
        "RS256", NULL, 0);
    ASSERT_EQ(verify(t, b.p, 1000001), 0);
    buf_free(&b);
    tokens_close(t);
}

CTEST(tokens, refresh_token_is_not_a_bearer)
{
    struct tokens *t = open_rs(NULL);
    ASSERT_EQ(verify(t, "q4bzfo2kd7veq4bzfo2kd7veq4bzfo2kd7veq4bzfo2", 1000001), UMS_EDENIED);
    tokens_close(t);
}

CTEST(tokens, hs256_mode)
{
    char err[256];
    struct ums_config *cfg;
    struct tokens *hs = NULL, *rs = open_rs(NULL);
    const char *text =
        "[auth]\njwt_algorithm = HS256\njwt_secret = "
        "0123456789abcdef0123456789abcdef\nexternal_url = https://id.example/auth/v1\n";
    struct buf b;
    long exp;
    ASSERT_EQ(config_parse(&cfg, text, strlen(text), "t", err, sizeof(err)), 0);
    ASSERT_EQ(tokens_open(&hs, cfg, err, sizeof(err)), 0);
    config_free(cfg);
    buf_init(&b, 65536);
    ASSERT_EQ(tokens_sign(hs, &b, &claims, 1000000, &exp), 0);
    ASSERT_EQ(verify(hs, b.p, 1000001), 0);
    ASSERT_EQ(verify(rs, b.p, 1000001), UMS_EDENIED);
    ASSERT_EQ(tokens_sign(rs, &b, &claims, 1000000, &exp), 0);
    ASSERT_EQ(verify(hs, b.p, 1000001), UMS_EDENIED);
    ASSERT_STR_EQ(tokens_jwks(hs), "{\"keys\":[]}");
    buf_free(&b);
    tokens_close(hs);
    tokens_close(rs);
}

CTEST(tokens, bad_key_file_is_named)
{
    char err[512] = "";
    struct ums_config *cfg;
    struct tokens *t = NULL;
    const char *text = "[auth]\njwt_private_key_file = /nonexistent/key.pem\n";
    ASSERT_EQ(config_parse(&cfg, text, strlen(text), "t", err, sizeof(err)), 0);
    ASSERT_EQ(tokens_open(&t, cfg, err, sizeof(err)), UMS_EINVALID);
    ASSERT_STR_CONTAINS(err, "/nonexistent/key.pem");
    config_free(cfg);
}

CTEST(tokens, check_remembers_but_still_expires)
{
    struct tokens *t = open_rs(NULL);
    struct buf b;
    struct token_id id;
    const char *why;
    long exp;
    buf_init(&b, 65536);
    tokens_sign(t, &b, &claims, 1000000, &exp);
    ASSERT_EQ(tokens_check(t, b.p, b.len, 1000001, &id, &why), 0);
    ASSERT_STR_EQ(id.sub, claims.sub);
    ASSERT_STR_EQ(id.sid, claims.session_id);
    ASSERT_EQ(id.exp, exp);
    ASSERT_EQ(tokens_check(t, b.p, b.len, 1000002, &id, &why), 0); /* from the cache */
    ASSERT_EQ(tokens_check(t, b.p, b.len, exp + JWT_LEEWAY, &id, &why), UMS_EDENIED);
    /* A tampered token never matches the cached one. */
    b.p[b.len - 2] = b.p[b.len - 2] == 'A' ? 'B' : 'A';
    ASSERT_EQ(tokens_check(t, b.p, b.len, 1000002, &id, &why), UMS_EDENIED);
    buf_free(&b);
    tokens_close(t);
}

/* tokens_verify_rs256, for tokens signed by someone else (Google's
 * id_token): the key comes from the caller by kid, RS256 only. */
static void *key_by_kid(const char *kid, void *arg)
{
    (void)arg;
    return strcmp(kid, "k1") == 0 ? pkey : NULL;
}

static int verify_foreign(const char *jwt, long now, const char **why)
{
    struct json_object *c = NULL;
    int rc = tokens_verify_rs256(jwt, strlen(jwt), now, key_by_kid, NULL, &c, why);
    if (rc == UMS_OK)
        rc = json_object_is_type(c, json_type_object) ? UMS_OK : UMS_ERR;
    json_object_put(c);
    return rc;
}

CTEST(tokens, foreign_rs256_pins_algorithm_and_key)
{
    struct tokens *t = open_rs(NULL); /* makes the test key */
    const char *pl = "{\"iss\":\"https://accounts.google.com\",\"sub\":\"1\",\"exp\":2000,"
                     "\"iat\":1000,\"nonce\":\"n\"}";
    const char *why = NULL;
    struct buf b;

    buf_init(&b, 65536);
    craft(&b, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"JWT\"}", pl, "RS256", NULL, 0);
    ASSERT_EQ(verify_foreign(b.p, 1500, &why), UMS_OK);
    /* Expired (past the leeway), and not yet valid. */
    ASSERT_EQ(verify_foreign(b.p, 2000 + JWT_LEEWAY, &why), UMS_EDENIED);
    ASSERT_STR_EQ(why, "token is expired");
    ASSERT_EQ(verify_foreign(b.p, 1000 - JWT_LEEWAY - 1, &why), UMS_EDENIED);
    /* A changed payload. */
    {
        char *dot = strchr(b.p, '.');
        dot[3] = dot[3] == 'A' ? 'B' : 'A';
        ASSERT_EQ(verify_foreign(b.p, 1500, &why), UMS_EDENIED);
    }
    /* Another algorithm, or a kid the caller does not know. */
    craft(&b, "{\"alg\":\"none\",\"kid\":\"k1\"}", pl, "none", NULL, 0);
    ASSERT_EQ(verify_foreign(b.p, 1500, &why), UMS_EDENIED);
    ASSERT_STR_EQ(why, "unexpected algorithm");
    craft(&b, "{\"alg\":\"HS256\",\"kid\":\"k1\"}", pl, "HS256", pub_pem, strlen(pub_pem));
    ASSERT_EQ(verify_foreign(b.p, 1500, &why), UMS_EDENIED);
    craft(&b, "{\"alg\":\"RS512\",\"kid\":\"k1\"}", pl, "RS512", NULL, 0);
    ASSERT_EQ(verify_foreign(b.p, 1500, &why), UMS_EDENIED);
    craft(&b, "{\"alg\":\"RS256\",\"kid\":\"k2\"}", pl, "RS256", NULL, 0);
    ASSERT_EQ(verify_foreign(b.p, 1500, &why), UMS_EDENIED);
    ASSERT_STR_EQ(why, "unknown key id");
    craft(&b, "{\"alg\":\"RS256\"}", pl, "RS256", NULL, 0);
    ASSERT_EQ(verify_foreign(b.p, 1500, &why), UMS_EDENIED);
    /* No exp at all. */
    craft(&b, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", "{\"sub\":\"1\",\"iat\":1000}", "RS256", NULL,
          0);
    ASSERT_EQ(verify_foreign(b.p, 1500, &why), UMS_EDENIED);
    /* crit is refused, as in our own tokens. */
    craft(&b, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"crit\":[\"x\"]}", pl, "RS256", NULL, 0);
    ASSERT_EQ(verify_foreign(b.p, 1500, &why), UMS_EDENIED);
    buf_free(&b);
    tokens_close(t);
}

CTEST(tokens, cleanup)
{
    char cmd[256];
    EVP_PKEY_free(pkey);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ASSERT_EQ(system(cmd), 0);
}
