/* auth_http.c - HTTP helpers of the auth routes that answer for themselves:
 * Bearer authentication, rate limits, body members, session responses. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../util/arena.h"
#include "../core/config.h"
#include "../core/bucket.h"
#include "../util/log.h"
#include "../util/ums.h"
#include "../util/utf8.h"
#include "app.h"
#include "http.h"

void reply_auth_out(struct req *r, const struct auth_out *o)
{
    struct buf b;

    buf_init(&b, 1 << 20);
    if (!o->has_session) {
        reply_json(r, 200, o->user_json, strlen(o->user_json));
        return;
    }
    buf_adds(&b, "{\"access_token\":");
    buf_add_json_strn(&b, o->access_token.p, o->access_token.len);
    buf_printf(&b,
               ",\"token_type\":\"bearer\",\"expires_in\":%d,\"expires_at\":%ld,"
               "\"refresh_token\":\"%s\",\"user\":",
               o->expires_in, o->expires_at, o->refresh_token);
    if (buf_adds(&b, o->user_json) != 0 || buf_addc(&b, '}') != 0) {
        buf_free(&b);
        reply_error(r, HE_UNEXPECTED, NULL);
        return;
    }
    reply_json(r, 200, b.p, b.len);
    buf_free(&b);
}

int body_require_object(struct req *r)
{
    if (r->json == NULL || !json_object_is_type(r->json, json_type_object)) {
        reply_error(r, HE_VALIDATION, "The request body must be a JSON object.");
        return -1;
    }
    return 0;
}

int body_str(struct req *r, const char *name, const char **out, size_t *len)
{
    struct json_object *v;
    char msg[160];

    *out = NULL;
    *len = 0;
    if (r->json == NULL || !json_object_object_get_ex(r->json, name, &v) || v == NULL)
        return 0; /* absent or null */
    if (!json_object_is_type(v, json_type_string)) {
        snprintf(msg, sizeof(msg), "%s must be a string", name);
        reply_error(r, HE_VALIDATION, msg);
        return -1;
    }
    *out = json_object_get_string(v);
    *len = (size_t)json_object_get_string_len(v);
    return 0;
}

int body_object(struct req *r, const char *name, const char **json)
{
    struct json_object *v;
    char msg[160];

    *json = NULL;
    if (r->json == NULL || !json_object_object_get_ex(r->json, name, &v) || v == NULL)
        return 0;
    if (!json_object_is_type(v, json_type_object)) {
        snprintf(msg, sizeof(msg), "%s must be an object", name);
        reply_error(r, HE_VALIDATION, msg);
        return -1;
    }
    *json = arena_strdup(r->arena, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
    if (*json == NULL) {
        reply_error(r, HE_TOO_LARGE, NULL);
        return -1;
    }
    return 0;
}

int req_rate_key(struct req *r, const char *scope, const char *key, int per_5min)
{
    struct ums_err err = {0};
    /* Buckets in front of a credential check do not open on a Redis error. */
    enum bucket_on_error on_error =
        strcmp(scope, "token") == 0 || strcmp(scope, "verify") == 0 ? BUCKET_CLOSED : BUCKET_OPEN;
    int rc = bucket_take(&r->app->ctx, scope, key, per_5min, on_error, &err);

    if (rc == UMS_OK)
        return 0;
    reply_fail(r, rc, &err);
    return -1;
}

int req_rate(struct req *r, const char *scope, int per_5min)
{
    char key[BUCKET_IP_KEY_MAX];

    bucket_ip_key(key, r->remote_addr);
    return req_rate_key(r, scope, key, per_5min);
}

int req_authenticate(struct req *r, int level)
{
    struct ums_err err = {0};
    const char *h = r->authorization, *tok;
    int rc;

    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
        reply_error(r, HE_NO_AUTH, "This endpoint requires a Bearer token");
        return -1;
    }
    tok = h + 7;
    while (*tok == ' ')
        tok++;
    if (r->route != NULL && (r->route->flags & R_USER_JSON))
        rc = auth_bearer_user(&r->app->ctx, tok, strlen(tok), &r->who, &err);
    else if (r->route != NULL && (r->route->flags & R_PROFILE_JSON))
        rc = auth_bearer_profile(&r->app->ctx, tok, strlen(tok), &r->who, &err);
    else
        rc = auth_bearer(&r->app->ctx, tok, strlen(tok), &r->who, &err);
    if (rc != UMS_OK) {
        reply_fail(r, rc, &err);
        return -1;
    }
    if (level == AUTH_ADMIN && strcmp(r->who.role, "admin") != 0) {
        reply_error(r, r->family == FAM_API ? HE_FORBIDDEN : HE_NOT_ADMIN, NULL);
        return -1;
    }
    if (level == AUTH_USER && r->who.service) {
        /* The service key is not a user: routes about "the current user" need
         * one. GoTrue's answer on /auth/v1; on /api/v1 a good credential
         * without the right is 403 forbidden. */
        reply_error(r, r->family == FAM_API ? HE_FORBIDDEN : HE_SESSION_NOT_FOUND_BEARER,
                    "This endpoint needs a user's access token");
        return -1;
    }
    r->authed = 1;
    if (!r->who.service)
        r->user_id = r->who.user_id;
    return 0;
}

#define USER_AGENT_MAX 512

void req_client(struct req *r, struct client_info *ci)
{
    const char *ua = r->io->param(r->io->h, "HTTP_USER_AGENT");
    char *clean;

    ci->ip = r->remote_addr;
    ci->user_agent = "";
    if (ua == NULL)
        return;
    /* Stored with the session and shown in alerts: valid UTF-8 without
     * control characters, at most 512 bytes, whatever the client sent. */
    if (strlen(ua) <= USER_AGENT_MAX && utf8_text_valid(ua, strlen(ua), USER_AGENT_MAX, 0)) {
        ci->user_agent = ua;
        return;
    }
    clean = arena_alloc(r->arena, USER_AGENT_MAX + 1);
    if (clean != NULL) {
        utf8_clean(clean, USER_AGENT_MAX + 1, ua);
        ci->user_agent = clean;
    }
}
