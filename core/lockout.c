/* lockout.c - the durable per-address lockout (login_attempts). */
#include "lockout.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "../util/crypto.h"
#include "ctx.h"
#include "db.h"
#include "../util/ums.h"

int lockout_fail(struct ums_ctx *c, const char *email, int *locked_now)
{
    char h[65], window[16], threshold[16], duration[16];
    const char *p[4] = {h, window, threshold, duration};
    PGresult *res = NULL;
    int rc;

    *locked_now = 0;
    crypto_sha256_hex(h, email, strlen(email));
    snprintf(window, sizeof(window), "%d", c->cfg->auth.lockout_window);
    snprintf(threshold, sizeof(threshold), "%d", c->cfg->auth.lockout_threshold);
    snprintf(duration, sizeof(duration), "%d", c->cfg->auth.lockout_duration);
    rc = db_exec(c->db, &res, STMT_LOCK_FAIL, 4, p);
    if (rc != UMS_OK)
        return rc;
    /* The lock starts on exactly the threshold-th failure. */
    *locked_now =
        PQgetvalue(res, 0, 1)[0] == 't' && db_int(res, 0, 0) == c->cfg->auth.lockout_threshold;
    PQclear(res);
    return UMS_OK;
}

int lockout_clear(struct ums_ctx *c, const char *email)
{
    char h[65];
    const char *p[1] = {h};

    crypto_sha256_hex(h, email, strlen(email));
    return db_exec(c->db, NULL, STMT_LOCK_CLEAR, 1, p);
}
