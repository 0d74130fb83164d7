/* route_users.c - /api/v1/users: search, create, read, update, delete,
 * role and unlock. Access is decided by api_target() before any data. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "../core/admin.h"
#include "../util/buf.h"
#include "../core/config.h"
#include "../core/search.h"
#include "../core/reauth.h"
#include "../util/ums.h"
#include "../core/users.h"
#include "../core/verify.h"
#include "api.h"
#include "app.h"
#include "http.h"
#include "routes.h"

/* GET /users: admin search (README.md "Search syntax"). */
void route_users_list(struct req *r)
{
    struct user_query q = {0};
    const char *sort = NULL;
    struct ums_err err = {0};
    long limit;
    struct buf out;
    int rc;

    if (api_query_str(r, "q", SEARCH_Q_MAX, &q.q) || api_query_str(r, "role", 32, &q.role) ||
        api_query_str(r, "status", 32, &q.status) ||
        api_query_str(r, "confirmed", 8, &q.confirmed) ||
        api_query_str(r, "created_after", 64, &q.created_after) ||
        api_query_str(r, "created_before", 64, &q.created_before) ||
        api_query_str(r, "sort", 32, &sort) || api_query_str(r, "cursor", 1024, &q.cursor) ||
        api_query_int(r, "limit", SEARCH_LIMIT_DEFAULT, 1, SEARCH_LIMIT_MAX, &limit) ||
        api_query_bool(r, "include_total", &q.include_total))
        return;
    q.limit = (int)limit;
    q.sort = sort != NULL ? search_sort_parse(sort) : SORT_CREATED_DESC;
    if (q.sort < 0) {
        reply_field_error(
            r, "sort", "invalid",
            "sort must be one of created_at, -created_at, email, -email, name, -name");
        return;
    }
    if (q.role != NULL && !users_role_known(&r->app->ctx, q.role)) {
        reply_field_error(r, "role", "invalid", "role is not one of the configured roles");
        return;
    }
    buf_init(&out, 4 << 20);
    rc = search_users(&r->app->ctx, &q, &out, &err);
    if (rc == UMS_OK)
        reply_json(r, 200, out.p, out.len);
    else
        reply_fail(r, rc, &err);
    buf_free(&out);
}

static void reply_user(struct req *r, const char *id, int status)
{
    char *json = NULL;
    int rc = users_get(&r->app->ctx, id, &json);

    if (rc == UMS_OK)
        reply_json(r, status, json, strlen(json));
    else
        reply_fail(r, rc, NULL);
    free(json);
}

/* POST /users: an admin creates an account; without a password the user
 * gets a recovery email to choose one (the invite). */
void route_users_create(struct req *r)
{
    struct admin_attrs a;
    struct ums_err err = {0};
    struct json_object *meta = NULL;
    const char *name = NULL, *status = NULL, *role = NULL;
    size_t nlen = 0, slen = 0, rlen = 0;
    char uid[UUID_LEN + 1];
    struct client_info ci;
    int rc;

    memset(&a, 0, sizeof(a));
    a.email_confirm = 1;
    if (body_require_object(r) || body_str(r, "email", &a.email, &a.email_len) ||
        body_str(r, "password", &a.password, &a.password_len) ||
        body_str(r, "name", &name, &nlen) || body_str(r, "role", &role, &rlen) ||
        body_str(r, "status", &status, &slen))
        return;
    /* email and name are there, role and status valid (users_create_fields). */
    meta = json_object_new_object();
    json_object_object_add(meta, "name", json_object_new_string_len(name, (int)nlen));
    a.user_metadata_json = json_object_to_json_string_ext(meta, JSON_C_TO_STRING_PLAIN);
    a.role = role;
    req_client(r, &ci);
    rc = admin_create(&r->app->ctx, r->who.service ? NULL : r->who.user_id, &a, ci.ip, uid, &err);
    json_object_put(meta);
    if (rc == UMS_OK && status != NULL && strcmp(status, "suspended") == 0) {
        struct user_patch p = {0};
        p.status = status;
        rc =
            users_patch(&r->app->ctx, r->who.service ? NULL : r->who.user_id, uid, &p, ci.ip, &err);
    }
    if (rc != UMS_OK) {
        reply_fail(r, rc, &err);
        return;
    }
    /* The link to choose a password; the account exists either way. */
    if (a.password == NULL)
        verify_recover(&r->app->ctx, a.email, a.email_len, r->app->ctx.cfg->auth.site_url, &ci);
    reply_user(r, uid, 201);
}

void route_users_get(struct req *r)
{
    const char *id;

    if (api_target(r, TARGET_SELF | TARGET_ADMIN, &id))
        return;
    /* One's own record usually came with the session check. */
    if (r->who.user_json != NULL && !r->who.service && strcmp(id, r->who.user_id) == 0)
        reply_json(r, 200, r->who.user_json, strlen(r->who.user_json));
    else
        reply_user(r, id, 200);
}

/* PATCH /users/{id}: the user may change their name; an admin also the
 * email and the status. The role has its own route. */
void route_users_patch(struct req *r)
{
    struct user_patch p = {0};
    struct json_object *v;
    const char *id;
    struct ums_err err = {0};
    struct client_info ci;
    size_t slen = 0;
    int rc, admin;

    if (api_target(r, TARGET_SELF | TARGET_ADMIN, &id) || body_require_object(r))
        return;
    admin = api_is_admin(r);
    if (json_object_object_get_ex(r->json, "role", &v)) {
        reply_field_error(r, "role", "not_allowed",
                          "the role is changed with PUT /users/{id}/role");
        return;
    }
    if (body_str(r, "name", &p.name, &p.name_len) || body_str(r, "email", &p.email, &p.email_len) ||
        body_str(r, "status", &p.status, &slen))
        return;
    if (!admin && (p.email != NULL || p.status != NULL)) {
        reply_error(r, HE_FORBIDDEN,
                    p.status != NULL ? "Only an admin changes the status"
                                     : "Change your email with PUT /auth/v1/user");
        return;
    }
    if (admin && p.status != NULL && !r->who.service && strcmp(id, r->who.user_id) == 0) {
        reply_error(r, HE_FORBIDDEN, "Nobody changes their own status");
        return;
    }
    req_client(r, &ci);
    rc = users_patch(&r->app->ctx, r->who.service ? NULL : r->who.user_id, id, &p, ci.ip, &err);
    if (rc != UMS_OK) {
        reply_fail(r, rc, &err);
        return;
    }
    reply_user(r, id, 200);
}

void route_users_delete(struct req *r)
{
    const char *id;
    struct ums_err err = {0};
    struct client_info ci;
    int rc;

    if (api_target(r, TARGET_SELF | TARGET_ADMIN, &id))
        return;
    req_client(r, &ci);
    /* Deleting one's own account from a session that signed in long ago:
     * {"current_password"} or {"nonce"} in the body first. */
    if (!r->who.service && strcmp(id, r->who.user_id) == 0) {
        const char *cur = NULL, *nonce = NULL;
        size_t clen = 0, nlen = 0;
        if ((r->json != NULL &&
             (body_str(r, "current_password", &cur, &clen) || body_str(r, "nonce", &nonce, &nlen))))
            return;
        rc = reauth_check(&r->app->ctx, &r->who, cur, clen, nonce, &ci, &err);
        if (rc != UMS_OK) {
            reply_fail(r, rc, &err);
            return;
        }
    }
    rc = users_delete(&r->app->ctx, r->who.service ? NULL : r->who.user_id, id, ci.ip, &err);
    if (rc != UMS_OK) {
        reply_fail(r, rc, &err);
        return;
    }
    reply_json(r, 204, "", 0);
}

/* PUT /users/{id}/role {"role": "..."}: admins only, never their own. */
void route_users_role(struct req *r)
{
    const char *id, *role = NULL;
    struct ums_err err = {0};
    struct client_info ci;
    size_t len = 0;
    int rc;

    if (api_target(r, TARGET_ADMIN, &id) || body_require_object(r) ||
        body_str(r, "role", &role, &len))
        return;
    if (!r->who.service && strcmp(id, r->who.user_id) == 0) {
        reply_error(r, HE_FORBIDDEN, "Nobody changes their own role");
        return;
    }
    req_client(r, &ci);
    rc =
        users_set_role(&r->app->ctx, r->who.service ? NULL : r->who.user_id, id, role, ci.ip, &err);
    if (rc != UMS_OK) {
        reply_fail(r, rc, &err);
        return;
    }
    reply_user(r, id, 200);
}

void route_users_unlock(struct req *r)
{
    const char *id;
    struct client_info ci;
    int rc;

    if (api_target(r, TARGET_ADMIN, &id))
        return;
    req_client(r, &ci);
    rc = users_unlock(&r->app->ctx, r->who.service ? NULL : r->who.user_id, id, ci.ip);
    if (rc != UMS_OK) {
        reply_fail(r, rc, NULL);
        return;
    }
    reply_json(r, 204, "", 0);
}
