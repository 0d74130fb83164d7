/* dispatch.c - the fixed request pipeline: parse, route (404, 405), limits
 * (413, 431), body (400, 415, bad_json), declared members (400),
 * dependencies (503), handler. */
#include <string.h>

#include "../util/json.h"
#include "../util/log.h"
#include "../util/ums.h"
#include "app.h"
#include "http.h"

/* /auth/v1 speaks GoTrue's error format even for paths that match no route. */
static int family_of_path(const char *path)
{
    if (path == NULL)
        return FAM_OPS;
    if (strncmp(path, "/auth/v1/", 9) == 0 || strcmp(path, "/auth/v1") == 0)
        return FAM_AUTH;
    if (strncmp(path, "/api/v1/", 8) == 0 || strcmp(path, "/api/v1") == 0)
        return FAM_API;
    return FAM_OPS;
}

static int parse_body(struct req *r)
{
    const char *why = NULL;
    int rc;

    if (r->body_len == 0)
        return 0;
    if (!(r->route->flags & R_JSON))
        return 0;
    if ((r->route->flags & R_FORM) && http_is_form(r->content_type))
        return 0; /* the handler reads the form from r->body */
    if (!http_is_json(r->content_type)) {
        reply_error(r, HE_MEDIA,
                    r->content_type == NULL ? "The body needs Content-Type: application/json."
                                            : "The body must be application/json (UTF-8).");
        return -1;
    }
    rc = json_parse_strict(&r->json, r->body, r->body_len, JSON_DEPTH_MAX, &why);
    if (rc == UMS_EINVALID) {
        reply_error(r, HE_BAD_JSON, why);
        return -1;
    }
    if (rc != UMS_OK) {
        reply_error(r, HE_UNEXPECTED, NULL);
        return -1;
    }
    return 0;
}

void dispatch(struct req *r, const struct route *table, size_t n)
{
    const struct route *rt = NULL;
    unsigned allowed = 0;
    enum http_err e;
    int res;

    e = req_load(r);
    r->family = family_of_path(r->path);
    if (e != HE_NONE) {
        reply_error(r, e, NULL);
        return;
    }
    res =
        router_match(table, n, r->arena, r->method, r->path, &rt, r->params, &r->nparams, &allowed);
    if (res == ROUTER_NOT_FOUND) {
        reply_error(r, HE_NOT_FOUND, NULL);
        return;
    }
    if (res == ROUTER_METHOD) {
        struct buf b;
        buf_init(&b, 128);
        http_methods_str(&b, allowed);
        reply_header(r, "Allow", b.p != NULL ? b.p : "");
        buf_free(&b);
        reply_error(r, HE_METHOD, NULL);
        return;
    }
    r->route = rt;
    r->family = rt->family;
    /* 413 is decided from CONTENT_LENGTH, before one byte of the body is read. */
    if (r->content_length > 0 && (size_t)r->content_length > rt->body_max) {
        reply_error(r, HE_TOO_LARGE, NULL);
        return;
    }
    /* 401 and 403 before the body is read or parsed. */
    if (rt->auth != AUTH_NONE) {
        if ((rt->flags & R_NEEDS_DB) && ctx_db_ready(&r->app->ctx) != UMS_OK) {
            reply_error(r, HE_UNAVAILABLE, "The database is unavailable; retry later.");
            return;
        }
        if (req_authenticate(r, rt->auth) != 0)
            return;
    }
    e = req_read_body(r);
    if (e != HE_NONE) {
        reply_error(r, e, e == HE_BAD_REQUEST ? "The body is shorter than Content-Length." : NULL);
        return;
    }
    if (parse_body(r) != 0 || fields_check(r) != 0)
        return;
    if ((rt->flags & R_NEEDS_DB) && ctx_db_ready(&r->app->ctx) != UMS_OK) {
        reply_error(r, HE_UNAVAILABLE, "The database is unavailable; retry later.");
        return;
    }
    rt->fn(r);
    if (!r->replied) {
        log_error("handler for %s sent no response", rt->pattern);
        reply_error(r, HE_UNEXPECTED, NULL);
    }
}
