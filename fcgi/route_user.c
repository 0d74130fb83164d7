/* route_user.c - GET and PUT /auth/v1/user, POST /auth/v1/logout. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/config.h"
#include "../core/reauth.h"
#include "../util/ums.h"
#include "../core/verify.h"

#include <json-c/json.h>
#include "app.h"
#include "http.h"
#include "routes.h"

static void reply_user(struct req *r)
{
    struct ums_err err = {0};
    char *json = NULL;
    int rc = auth_user_json(&r->app->ctx, r->who.user_id, &json);

    if (rc == UMS_ENOTFOUND) /* the token's user, deleted since the check */
        rc = err_set(&err, FAIL_TOKEN_USER_GONE, NULL);
    if (rc != UMS_OK)
        reply_fail(r, rc, &err);
    else
        reply_json(r, 200, json, strlen(json));
    free(json);
}

void route_user_get(struct req *r)
{
    if (r->who.user_json != NULL)
        reply_json(r, 200, r->who.user_json, strlen(r->who.user_json));
    else
        reply_user(r);
}

void route_user_put(struct req *r)
{
    const char *password, *email, *data, *current, *nonce;
    size_t plen, elen, clen, nlen;
    struct ums_err err = {0};
    struct client_info ci;
    int rc;

    if (body_require_object(r) || body_str(r, "password", &password, &plen) ||
        body_str(r, "email", &email, &elen) || body_object(r, "data", &data) ||
        body_str(r, "current_password", &current, &clen) || body_str(r, "nonce", &nonce, &nlen))
        return;
    /* A password change costs two argon2id hashes and an email change a
     * mail: per client and per account. */
    if (req_rate(r, "user_update", r->app->ctx.cfg->limits.user_update_per_5min) ||
        req_rate_key(r, "user_update_user", r->who.user_id,
                     r->app->ctx.cfg->limits.user_update_per_user_per_5min))
        return;
    req_client(r, &ci);
    /* A new password or address from a session that signed in long ago:
     * the current password or a mailed code first. */
    rc = password != NULL || email != NULL
             ? reauth_check(&r->app->ctx, &r->who, current, clen, nonce, &ci, &err)
             : UMS_OK;
    if (rc == UMS_OK)
        rc = auth_user_update(&r->app->ctx, &r->who, password, plen, data, &ci, &err);
    /* A new address takes effect once its owner confirms it (POST /verify,
     * type email_change); until then the user shows new_email. */
    if (rc == UMS_OK && email != NULL) {
        rc = verify_request_email_change(&r->app->ctx, &r->who, email, elen, req_redirect_to(r),
                                         &ci, &err);
    }
    if (rc != UMS_OK) {
        reply_fail(r, rc, &err);
        return;
    }
    reply_user(r);
}

/* GET|POST /reauthenticate: a code for reauth_check, by email; 200 {}. */
void route_user_reauthenticate(struct req *r)
{
    struct ums_err err = {0};
    struct client_info ci;
    int rc;

    req_client(r, &ci);
    rc = reauth_send(&r->app->ctx, &r->who, &ci, &err);
    if (rc != UMS_OK)
        reply_fail(r, rc, &err);
    else
        reply_json(r, 200, "{}", 2);
}

void route_user_logout(struct req *r)
{
    const char *scope = NULL;
    enum sess_scope s = SCOPE_GLOBAL;
    struct client_info ci;
    int rc = http_query_get(r->arena, r->query, "scope", &scope);

    if (rc == UMS_EINVALID || (rc == UMS_OK && strcmp(scope, "global") != 0 &&
                               strcmp(scope, "local") != 0 && strcmp(scope, "others") != 0)) {
        reply_error(r, HE_VALIDATION, "scope must be global, local or others");
        return;
    }
    if (rc == UMS_OK)
        s = strcmp(scope, "local") == 0    ? SCOPE_LOCAL
            : strcmp(scope, "others") == 0 ? SCOPE_OTHERS
                                           : SCOPE_GLOBAL;
    req_client(r, &ci);
    rc = auth_logout(&r->app->ctx, &r->who, s, &ci);
    if (rc != UMS_OK) {
        reply_fail(r, rc, NULL);
        return;
    }
    reply_json(r, 204, "", 0);
}

/* GET /auth/v1/check: forward auth for the web server's auth_request. 204
 * with the user in headers, 401 without a valid session, 403 when ?role=
 * names a role the user does not have. */
void route_user_check(struct req *r)
{
    const char *role = NULL, *h = r->authorization, *tok;
    struct ums_err err = {0};
    int rc = http_query_get(r->arena, r->query, "role", &role);

    if (rc == UMS_EINVALID) {
        reply_error(r, HE_VALIDATION, "role is malformed");
        return;
    }
    /* Every authentication failure is 401 here: the web server turns it into
     * a login prompt; 403 is kept for "signed in, but not allowed". */
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
        reply_error(r, HE_NO_AUTH, "No valid session");
        return;
    }
    for (tok = h + 7; *tok == ' '; tok++)
        ;
    rc = auth_bearer(&r->app->ctx, tok, strlen(tok), &r->who, &err);
    if (rc == UMS_EDENIED || (rc == UMS_OK && r->who.service)) {
        reply_header(r, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
        reply_error(r, HE_NO_AUTH, "No valid session");
        return;
    }
    if (rc != UMS_OK) {
        reply_fail(r, rc, NULL);
        return;
    }
    r->user_id = r->who.user_id;
    if (role != NULL && strcmp(role, r->who.role) != 0) {
        reply_error(r, HE_FORBIDDEN, "This needs another role");
        return;
    }
    /* An AUTHORIZER answers 200, and its Variable-* headers become the
     * protected request's environment (X-User-Id, ...); nginx's
     * auth_request takes these headers from a 204. */
    reply_header(r, r->authorizer ? "Variable-X-User-Id" : "X-User-Id", r->who.user_id);
    reply_header(r, r->authorizer ? "Variable-X-User-Role" : "X-User-Role", r->who.role);
    reply_header(r, r->authorizer ? "Variable-X-Session-Id" : "X-Session-Id", r->who.session_id);
    {
        char *json = NULL;
        if (auth_user_json(&r->app->ctx, r->who.user_id, &json) == UMS_OK) {
            struct json_object *o = json_tokener_parse(json), *v;
            if (o != NULL && json_object_object_get_ex(o, "email", &v))
                reply_header(r, r->authorizer ? "Variable-X-User-Email" : "X-User-Email",
                             json_object_get_string(v));
            json_object_put(o);
        }
        free(json);
    }
    reply_json(r, r->authorizer ? 200 : 204, "", 0);
}
