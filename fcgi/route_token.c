/* route_token.c - POST /auth/v1/signup and POST /auth/v1/token
 * (grant_type password, refresh_token and pkce). */
#include <string.h>

#include "../core/config.h"
#include "../core/oauth.h"
#include "../util/ums.h"
#include "app.h"
#include "http.h"
#include "routes.h"

/* Replies for a finished flow: the session, or the error. */
static void finish(struct req *r, int rc, struct auth_out *out, const struct ums_err *err)
{
    if (rc == UMS_OK)
        reply_auth_out(r, out);
    else
        reply_fail(r, rc, err);
    auth_out_free(out);
}

void route_token_signup(struct req *r)
{
    const struct ums_config *cfg = r->app->ctx.cfg;
    const char *email, *password, *data;
    size_t elen, plen;
    struct auth_out out;
    struct ums_err err = {0};
    struct client_info ci;
    int rc;

    if (body_require_object(r) || body_str(r, "email", &email, &elen) ||
        body_str(r, "password", &password, &plen) || body_object(r, "data", &data))
        return;
    if (email == NULL) {
        reply_error(r, HE_VALIDATION, "To signup, please provide your email");
        return;
    }
    if (req_rate(r, "signup", cfg->limits.signup_per_5min))
        return;
    req_client(r, &ci);
    auth_out_init(&out);
    rc = auth_signup(&r->app->ctx, email, elen, password, plen, data, req_redirect_to(r), &ci, &out,
                     &err);
    finish(r, rc, &out, &err);
}

void route_token_grant(struct req *r)
{
    const struct ums_config *cfg = r->app->ctx.cfg;
    const char *grant = NULL, *email, *password, *refresh;
    size_t elen, plen, rlen;
    struct auth_out out;
    struct ums_err err = {0};
    struct client_info ci;
    int rc;

    if (http_query_get(r->arena, r->query, "grant_type", &grant) != UMS_OK) {
        reply_error(r, HE_VALIDATION, "grant_type is required");
        return;
    }
    if (body_require_object(r))
        return;
    req_client(r, &ci);
    auth_out_init(&out);
    if (strcmp(grant, "password") == 0) {
        if (body_str(r, "email", &email, &elen) || body_str(r, "password", &password, &plen) ||
            req_rate(r, "token", cfg->limits.token_per_5min))
            return;
        rc = auth_login(&r->app->ctx, email, elen, password, plen, &ci, &out, &err);
    } else if (strcmp(grant, "refresh_token") == 0) {
        if (body_str(r, "refresh_token", &refresh, &rlen))
            return;
        if (refresh == NULL || rlen == 0) {
            reply_error(r, HE_VALIDATION, "refresh_token required");
            return;
        }
        if (req_rate(r, "refresh", cfg->limits.refresh_per_5min))
            return;
        rc = auth_refresh(&r->app->ctx, refresh, &out, &err);
    } else if (strcmp(grant, "pkce") == 0) {
        const char *code, *verifier;
        size_t n;
        if (body_str(r, "auth_code", &code, &n) || body_str(r, "code_verifier", &verifier, &n) ||
            req_rate(r, "token", cfg->limits.token_per_5min))
            return;
        rc = oauth_exchange(&r->app->ctx, code, verifier, &ci, &out, &err);
    } else {
        reply_error(r, HE_VALIDATION, "unsupported grant_type");
        return;
    }
    finish(r, rc, &out, &err);
}
