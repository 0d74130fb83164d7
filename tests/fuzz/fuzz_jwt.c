/* fuzz_jwt.c - access-token verification (core/tokens.c) with HS256, on
 * two kinds of input. Odd first byte: the rest is a compact JWT as a
 * client sends it (mostly refused at the signature). Even: the rest is a
 * header NUL payload, which the target signs with the configured secret,
 * so that the claims' checks (alg, typ, exp, nbf, iat, iss, aud, sub,
 * session_id) see arbitrary JSON behind a good signature. Whatever comes
 * in: 0 with claims and a UUID sub and session_id, or UMS_EDENIED with a
 * reason; tokens_check (the cached path) agrees with tokens_verify. */
#include <stdio.h>
#include <time.h>

#include "../../core/config.h"
#include "../../core/tokens.h"
#include "../../util/b64.h"
#include "../../util/crypto.h"
#include "../../util/ums.h"
#include "../../util/valid.h"
#include "fuzz.h"

#define SECRET "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz"
#define NOW    1800000000L

static struct tokens *tok;

static void init(void)
{
    static const char conf[] = "[auth]\njwt_algorithm = HS256\njwt_secret = " SECRET "\n"
                               "external_url = https://id.example/auth/v1\n";
    struct ums_config *cfg;
    char err[256];

    fuzz_quiet();
    if (config_parse(&cfg, conf, sizeof(conf) - 1, "fuzz", err, sizeof(err)) != 0 ||
        tokens_open(&tok, cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_jwt: %s\n", err);
        abort();
    }
    config_free(cfg);
}

/* header.payload.HMAC in a new string. */
static char *sign(const char *h, size_t hl, const char *p, size_t pl)
{
    size_t n = B64URL_LEN(hl) + 1 + B64URL_LEN(pl) + 1 + B64URL_LEN(32) + 1;
    char *jwt = malloc(n);
    unsigned char mac[32];
    size_t at;

    if (jwt == NULL)
        return NULL;
    b64_url_encode(jwt, (const unsigned char *)h, hl);
    at = strlen(jwt);
    jwt[at++] = '.';
    b64_url_encode(jwt + at, (const unsigned char *)p, pl);
    at += strlen(jwt + at);
    if (crypto_hmac_sha256(mac, SECRET, strlen(SECRET), jwt, at) != 0) {
        free(jwt);
        return NULL;
    }
    jwt[at++] = '.';
    b64_url_encode(jwt + at, mac, sizeof(mac));
    return jwt;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_object *claims = NULL;
    struct token_id id;
    struct fuzz_in in;
    const char *why = NULL;
    char *jwt;
    int rc, rc2;

    if (tok == NULL)
        init();
    if (size == 0)
        return 0;
    if (fuzz_split(&in, data + 1, size - 1, 2) != 0)
        return 0;
    if (data[0] & 1) {
        jwt = malloc(size);
        if (jwt == NULL) {
            fuzz_free(&in);
            return 0;
        }
        memcpy(jwt, data + 1, size - 1);
        jwt[size - 1] = '\0';
    } else {
        jwt = sign(in.f[0], in.len[0], in.f[1], in.len[1]);
    }
    fuzz_free(&in);
    if (jwt == NULL)
        return 0;
    rc = tokens_verify(tok, jwt, strlen(jwt), NOW, &claims, &why);
    if (rc == 0) {
        FUZZ_ASSERT(claims != NULL);
        json_object_put(claims);
    } else {
        FUZZ_ASSERT(rc == UMS_EDENIED && why != NULL);
    }
    why = NULL;
    rc2 = tokens_check(tok, jwt, strlen(jwt), NOW, &id, &why);
    FUZZ_ASSERT((rc == 0) == (rc2 == 0));
    if (rc2 == 0)
        FUZZ_ASSERT(valid_uuid(id.sub) && valid_uuid(id.sid) && id.exp >= NOW - JWT_LEEWAY);
    else
        FUZZ_ASSERT(why != NULL);
    free(jwt);
    return 0;
}
