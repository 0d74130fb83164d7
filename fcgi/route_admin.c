/* route_admin.c - /auth/v1/admin/users: list, create, get, update, delete.
 * Callers are admins (a user whose ums role is admin) or the service key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/admin.h"
#include "../util/ums.h"
#include "../util/valid.h"
#include "app.h"
#include "http.h"
#include "routes.h"

#define PER_PAGE_DEFAULT 50
#define PER_PAGE_MAX     1000

/* A positive integer query parameter; "" (what auth-js sends) means the default. */
static int query_num(struct req *r, const char *name, long def, long max, long *out)
{
    const char *v = NULL;
    char *end;
    char msg[128];
    int rc = http_query_get(r->arena, r->query, name, &v);

    *out = def;
    if (rc == UMS_ENOTFOUND || (rc == UMS_OK && v[0] == '\0'))
        return 0;
    if (rc == UMS_OK) {
        long n = strtol(v, &end, 10);
        if (*end == '\0' && n >= 1 && n <= max && v[0] != '-' && v[0] != '+' && v[0] != ' ') {
            *out = n;
            return 0;
        }
    }
    snprintf(msg, sizeof(msg), "%s must be an integer from 1 to %ld", name, max);
    reply_error(r, HE_VALIDATION, msg);
    return -1;
}

void route_admin_list(struct req *r)
{
    long page, per_page;
    long long total = 0, last;
    char *json = NULL, hdr[64];
    struct buf b, link;
    int rc;

    if (query_num(r, "page", 1, 1000000000L, &page) ||
        query_num(r, "per_page", PER_PAGE_DEFAULT, PER_PAGE_MAX, &per_page))
        return;
    rc = admin_list(&r->app->ctx, page, (int)per_page, &json, &total);
    if (rc != UMS_OK) {
        reply_fail(r, rc, NULL);
        return;
    }
    /* auth-js reads page numbers from Link: page must be the first parameter. */
    last = total > 0 ? (total + per_page - 1) / per_page : 1;
    buf_init(&link, 1024);
    if (page < last)
        buf_printf(&link, "</admin/users?page=%ld&per_page=%ld>; rel=\"next\", ", page + 1,
                   per_page);
    buf_printf(&link, "</admin/users?page=%lld&per_page=%ld>; rel=\"last\"", last, per_page);
    reply_header(r, "Link", link.p);
    snprintf(hdr, sizeof(hdr), "%lld", total);
    reply_header(r, "X-Total-Count", hdr);
    buf_init(&b, 64 << 20);
    buf_printf(&b, "{\"users\":%s,\"aud\":\"authenticated\"}", json);
    reply_json(r, 200, b.p, b.len);
    buf_free(&b);
    buf_free(&link);
    free(json);
}

/* Reads the attributes of POST/PUT /admin/users from the body. */
static int read_attrs(struct req *r, struct admin_attrs *a)
{
    struct json_object *v;
    size_t n;

    memset(a, 0, sizeof(*a));
    a->email_confirm = -1;
    if (body_require_object(r) || body_str(r, "email", &a->email, &a->email_len) ||
        body_str(r, "password", &a->password, &a->password_len) || body_str(r, "id", &a->id, &n) ||
        body_str(r, "ban_duration", &a->ban_duration, &n) ||
        body_object(r, "user_metadata", &a->user_metadata_json) ||
        body_object(r, "app_metadata", &a->app_metadata_json))
        return -1;
    if (json_object_object_get_ex(r->json, "email_confirm", &v) && v != NULL) {
        if (!json_object_is_type(v, json_type_boolean)) {
            reply_error(r, HE_VALIDATION, "email_confirm must be a boolean");
            return -1;
        }
        a->email_confirm = json_object_get_boolean(v);
    }
    return 0;
}

static void reply_user_by_id(struct req *r, const char *id, int status)
{
    struct ums_err err = {0};
    char *json = NULL;
    int rc = auth_user_json(&r->app->ctx, id, &json);

    if (rc == UMS_ENOTFOUND) /* the user named by the path */
        rc = err_set(&err, FAIL_USER_NOT_FOUND, NULL);
    if (rc != UMS_OK)
        reply_fail(r, rc, &err);
    else
        reply_json(r, status, json, strlen(json));
    free(json);
}

static const char *actor(struct req *r)
{
    return r->who.service ? NULL : r->who.user_id;
}

void route_admin_create(struct req *r)
{
    struct admin_attrs a;
    struct ums_err err = {0};
    char id[UUID_LEN + 1];
    int rc;

    if (read_attrs(r, &a))
        return;
    rc = admin_create(&r->app->ctx, actor(r), &a, r->remote_addr, id, &err);
    if (rc != UMS_OK)
        reply_fail(r, rc, &err);
    else
        reply_user_by_id(r, id, 200);
}

/* The {id} path parameter, a UUID. */
static const char *user_param(struct req *r)
{
    const char *id = req_param(r, "id");

    if (!valid_uuid(id)) {
        reply_error(r, HE_VALIDATION, "user id must be a UUID");
        return NULL;
    }
    return id;
}

void route_admin_get(struct req *r)
{
    const char *id = user_param(r);

    if (id != NULL)
        reply_user_by_id(r, id, 200);
}

void route_admin_update(struct req *r)
{
    const char *id = user_param(r);
    struct admin_attrs a;
    struct ums_err err = {0};
    int rc;

    if (id == NULL || read_attrs(r, &a))
        return;
    if (a.id != NULL) {
        reply_error(r, HE_VALIDATION, "id cannot be changed");
        return;
    }
    rc = admin_update(&r->app->ctx, actor(r), id, &a, r->remote_addr, &err);
    if (rc != UMS_OK)
        reply_fail(r, rc, &err);
    else
        reply_user_by_id(r, id, 200);
}

void route_admin_delete(struct req *r)
{
    const char *id = user_param(r);
    struct ums_err err = {0};
    int rc;

    if (id == NULL)
        return;
    rc = admin_delete(&r->app->ctx, actor(r), id, r->remote_addr, &err);
    if (rc != UMS_OK)
        reply_fail(r, rc, &err);
    else
        reply_json(r, 200, "{}", 2);
}
