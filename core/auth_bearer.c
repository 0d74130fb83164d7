/* auth_bearer.c - the Bearer checks: the service key, or an access token
 * whose session and user are still good (docs/ARCHITECTURE.md "Tokens and
 * sessions"). */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "ctx.h"
#include "tokens.h"
#include "../util/crypto.h"
#include "../util/log.h"
#include "../util/ums.h"

static int bearer(struct ums_ctx *c, const char *token, size_t len, struct principal *p,
                  struct ums_err *err, const char *want);

int auth_bearer(struct ums_ctx *c, const char *token, size_t len, struct principal *p,
                struct ums_err *err)
{
    return bearer(c, token, len, p, err, NULL);
}

int auth_bearer_user(struct ums_ctx *c, const char *token, size_t len, struct principal *p,
                     struct ums_err *err)
{
    return bearer(c, token, len, p, err, "ums:user:");
}

int auth_bearer_profile(struct ums_ctx *c, const char *token, size_t len, struct principal *p,
                        struct ums_err *err)
{
    return bearer(c, token, len, p, err, "ums:profile:");
}

static int bearer(struct ums_ctx *c, const char *token, size_t len, struct principal *p,
                  struct ums_err *err, const char *want)
{
    struct token_id id;
    const char *why = NULL, *key = c->cfg->auth.service_key;
    int state;

    memset(p, 0, sizeof(*p));
    /* The service key: compared in constant time, lengths first. */
    if (key[0] != '\0' && strlen(key) == len && crypto_secret_equal(key, token, len)) {
        p->service = 1;
        snprintf(p->role, sizeof(p->role), "admin");
        return UMS_OK;
    }
    if (tokens_check(c->tokens, token, len, (long)time(NULL), &id, &why) != UMS_OK) {
        log_info("bearer rejected: %s", why);
        return err_set(err, FAIL_BAD_JWT, "invalid JWT: unable to parse or verify signature");
    }
    state =
        sessions_check_user(c, id.sid, id.sub, p->role, want, want != NULL ? &p->user_json : NULL);
    if (state < 0)
        return state;
    if (state == SESS_DEAD)
        return err_set(err, FAIL_TOKEN_SESSION_GONE, NULL);
    if (state == SESS_BANNED)
        return err_set(err, FAIL_TOKEN_USER_BANNED, NULL);
    if (state != SESS_LIVE) {
        free(p->user_json);
        p->user_json = NULL;
    }
    memcpy(p->user_id, id.sub, sizeof(p->user_id));
    memcpy(p->session_id, id.sid, sizeof(p->session_id));
    return UMS_OK;
}
