/* otp.c - one-time tokens: creation and consumption (otp.h). */
#include "otp.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "../util/crypto.h"
#include "ctx.h"
#include "db.h"
#include "../util/ums.h"

/* SHA-256(user id ":" code) in hex: how a code is stored. */
static void code_hash(char out[65], const char *user_id, const char *code)
{
    char salted[64];

    snprintf(salted, sizeof(salted), "%s:%s", user_id, code);
    crypto_sha256_hex(out, salted, strlen(salted));
    explicit_bzero(salted, sizeof(salted));
}

int otp_create(struct ums_ctx *c, const char *user_id, const char *kind, const char *target,
               char otp[OTP_LEN + 1], char link[TOKEN_HASH_LEN + 1])
{
    unsigned char rnd[8], lr[TOKEN_HASH_LEN / 2];
    unsigned long long v = 0;
    char stored[65], ch[65], ttl[16];
    const char *pv[2] = {user_id, kind};
    const char *pi[6] = {user_id, kind, stored, ch, target, ttl};
    int rc;

    if (crypto_random_bytes(rnd, sizeof(rnd)) != UMS_OK ||
        crypto_random_bytes(lr, sizeof(lr)) != UMS_OK)
        return UMS_ERR;
    for (int i = 0; i < 8; i++)
        v = v << 8 | rnd[i];
    snprintf(otp, OTP_LEN + 1, "%06llu", v % 1000000ULL); /* bias below 2^-40 */
    /* The link's own 224 random bits, in GoTrue's token_hash format. */
    crypto_hex_encode(link, lr, sizeof(lr));
    crypto_sha256_hex(stored, link, TOKEN_HASH_LEN);
    code_hash(ch, user_id, otp);
    snprintf(ttl, sizeof(ttl), "%d", c->cfg->auth.otp_ttl);
    rc = db_exec(c->db, NULL, STMT_OTP_VOID, 2, pv);
    if (rc == UMS_OK)
        rc = db_exec(c->db, NULL, STMT_OTP_INSERT, 6, pi);
    explicit_bzero(rnd, sizeof(rnd));
    explicit_bzero(lr, sizeof(lr));
    return rc;
}

static void use_from(struct otp_use *out, PGresult *res, int row, int uid_col)
{
    snprintf(out->user_id, sizeof(out->user_id), "%s", PQgetvalue(res, row, uid_col));
    snprintf(out->kind, sizeof(out->kind), "%s", PQgetvalue(res, row, uid_col + 1));
    snprintf(out->target, sizeof(out->target), "%s", PQgetvalue(res, row, uid_col + 2));
}

int otp_consume_code(struct ums_ctx *c, const char *email, const char *kinds, const char *code,
                     struct otp_use *out)
{
    const char *p[2] = {email, kinds};
    PGresult *res = NULL;
    int rc, hit = -1;

    memset(out, 0, sizeof(*out));
    rc = db_exec(c->db, &res, STMT_OTP_LIVE_CODES, 2, p);
    if (rc != UMS_OK)
        return rc;
    /* Every live row is compared, in constant time, whatever matched. */
    for (int i = 0; i < PQntuples(res); i++) {
        char want[65];
        const char *have = PQgetvalue(res, i, 2);
        code_hash(want, PQgetvalue(res, i, 1), code);
        if (strlen(have) == 64 && crypto_secret_equal(want, have, 64) && hit < 0)
            hit = i;
    }
    if (hit >= 0) {
        const char *pu[1] = {PQgetvalue(res, hit, 0)};
        /* columns: id, user_id, otp_hash, kind, target */
        snprintf(out->user_id, sizeof(out->user_id), "%s", PQgetvalue(res, hit, 1));
        snprintf(out->kind, sizeof(out->kind), "%s", PQgetvalue(res, hit, 3));
        snprintf(out->target, sizeof(out->target), "%s", PQgetvalue(res, hit, 4));
        rc = db_exec(c->db, NULL, STMT_OTP_USE, 1, pu);
    } else if (PQntuples(res) > 0) {
        char max[16];
        const char *pm[3] = {email, kinds, max};
        snprintf(max, sizeof(max), "%d", OTP_MAX_FAILURES);
        rc = db_exec(c->db, NULL, STMT_OTP_MISS, 3, pm);
        if (rc == UMS_OK)
            rc = UMS_ENOTFOUND;
    } else {
        rc = UMS_ENOTFOUND;
    }
    PQclear(res);
    return rc;
}

int otp_consume_link(struct ums_ctx *c, const char *link, const char *kinds, struct otp_use *out)
{
    char stored[65];
    const char *p[2] = {stored, kinds};
    PGresult *res = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    crypto_sha256_hex(stored, link, strlen(link));
    rc = db_exec(c->db, &res, STMT_OTP_CONSUME, 2, p);
    if (rc != UMS_OK)
        return rc;
    if (PQntuples(res) == 0)
        rc = UMS_ENOTFOUND;
    else
        use_from(out, res, 0, 0);
    PQclear(res);
    return rc;
}
