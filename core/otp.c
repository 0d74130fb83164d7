/* otp.c - one-time token creation. */
#include "otp.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "config.h"
#include "crypto.h"
#include "ctx.h"
#include "db.h"
#include "ums.h"

void otp_token_hash(char out[TOKEN_HASH_LEN + 1], const char *email, const char *otp)
{
    unsigned char md[28];
    unsigned int n = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    EVP_DigestInit_ex(ctx, EVP_sha224(), NULL);
    EVP_DigestUpdate(ctx, email, strlen(email));
    EVP_DigestUpdate(ctx, otp, strlen(otp));
    EVP_DigestFinal_ex(ctx, md, &n);
    EVP_MD_CTX_free(ctx);
    hex_encode(out, md, sizeof(md));
}

int otp_create(struct ums_ctx *c, const char *user_id, const char *kind, const char *target,
               char otp[OTP_LEN + 1], char token_hash[TOKEN_HASH_LEN + 1])
{
    unsigned char rnd[8];
    unsigned long long v = 0;
    char stored[65], code_hash[65], ttl[16], salted[64];
    const char *pv[2] = {user_id, kind};
    const char *pi[6] = {user_id, kind, stored, code_hash, target, ttl};
    int rc;

    if (random_bytes(rnd, sizeof(rnd)) != UMS_OK)
        return UMS_ERR;
    for (int i = 0; i < 8; i++)
        v = v << 8 | rnd[i];
    snprintf(otp, OTP_LEN + 1, "%06llu", v % 1000000ULL); /* bias below 2^-40 */
    otp_token_hash(token_hash, target, otp);
    sha256_hex(stored, token_hash, TOKEN_HASH_LEN);
    snprintf(salted, sizeof(salted), "%s:%s", user_id, otp);
    sha256_hex(code_hash, salted, strlen(salted));
    snprintf(ttl, sizeof(ttl), "%d", c->cfg->auth.otp_ttl);
    rc = db_exec(c->db, NULL, STMT_OTP_VOID, 2, pv);
    if (rc == UMS_OK)
        rc = db_exec(c->db, NULL, STMT_OTP_INSERT, 6, pi);
    return rc;
}
