/* route_notify.c - /api/v1/users/{id}/notifications, notification-preferences
 * and devices: the owner's own inbox, switches and push tokens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "../util/buf.h"
#include "../core/notify.h"
#include "../core/search.h"
#include "../util/ums.h"
#include "api.h"
#include "app.h"
#include "http.h"
#include "routes.h"

/* GET .../notifications?unread=true&limit=N&cursor=C */
void route_notify_list(struct req *r)
{
    struct notify_query q = {0};
    struct ums_err err = {0};
    struct buf out;
    long limit;
    int rc;

    if (api_target(r, TARGET_SELF, &q.uid) || api_query_bool(r, "unread", &q.unread) ||
        api_query_int(r, "limit", SEARCH_LIMIT_DEFAULT, 1, SEARCH_LIMIT_MAX, &limit) ||
        api_query_str(r, "cursor", 1024, &q.cursor))
        return;
    q.limit = (int)limit;
    buf_init(&out, 4 << 20);
    rc = search_notifications(&r->app->ctx, &q, &out, &err);
    if (rc == UMS_OK)
        reply_json(r, 200, out.p, out.len);
    else
        reply_fail(r, rc, &err);
    buf_free(&out);
}

/* POST .../notifications {"title": "...", "message": "..."}: an admin's
 * message to the user, delivered as the user's preferences say. */
void route_notify_send(struct req *r)
{
    const char *id, *title = NULL, *message = NULL;
    struct ums_err err = {0};
    size_t tlen = 0, mlen = 0;
    struct client_info ci;
    long long event_id = 0;
    char out[64];
    int rc;

    if (api_target(r, TARGET_ADMIN, &id) || body_require_object(r) ||
        body_str(r, "title", &title, &tlen) || body_str(r, "message", &message, &mlen))
        return;
    req_client(r, &ci);
    rc = notify_admin_message(&r->app->ctx, r->who.service ? NULL : r->who.user_id, id, ci.ip,
                              title, tlen, message, mlen, &event_id, &err);
    if (rc != UMS_OK) {
        reply_fail(r, rc, &err);
        return;
    }
    snprintf(out, sizeof(out), "{\"event_id\":%lld}", event_id);
    reply_json(r, 202, out, strlen(out));
}

static void mark(struct req *r, const char *nid)
{
    const char *id;
    long count = 0;
    int rc;

    if (api_target(r, TARGET_SELF, &id))
        return;
    rc = notify_mark_read(&r->app->ctx, id, nid, &count);
    if (rc != UMS_OK) {
        reply_fail(r, rc, NULL);
        return;
    }
    reply_json(r, 204, "", 0);
}

void route_notify_read(struct req *r)
{
    mark(r, req_param(r, "nid"));
}

void route_notify_read_all(struct req *r)
{
    mark(r, NULL);
}

void route_notify_prefs_get(struct req *r)
{
    const char *id;
    char *json = NULL;
    int rc;

    if (api_target(r, TARGET_SELF, &id))
        return;
    rc = notify_prefs_get(&r->app->ctx, id, &json);
    if (rc == UMS_OK)
        reply_json(r, 200, json, strlen(json));
    else
        reply_fail(r, rc, NULL);
    free(json);
}

/* PUT takes what GET returns ({"preferences":{...}}) or the inner object. */
void route_notify_prefs_put(struct req *r)
{
    struct json_object *prefs = r->json, *inner;
    const char *id;
    struct ums_err err = {0};
    int rc;

    if (api_target(r, TARGET_SELF, &id) || body_require_object(r))
        return;
    if (json_object_object_length(prefs) == 1 &&
        json_object_object_get_ex(prefs, "preferences", &inner))
        prefs = inner;
    rc = notify_prefs_put(&r->app->ctx, id, prefs, &err);
    if (rc != UMS_OK) {
        reply_fail(r, rc, &err);
        return;
    }
    route_notify_prefs_get(r);
}

/* POST .../devices {"token": "...", "platform": "android|ios|web"} */
void route_notify_device_add(struct req *r)
{
    const char *id, *token = NULL, *platform = NULL;
    struct ums_err err = {0};
    size_t tlen = 0, plen = 0;
    char *json = NULL;
    int rc;

    if (api_target(r, TARGET_SELF, &id) || body_require_object(r) ||
        body_str(r, "token", &token, &tlen) || body_str(r, "platform", &platform, &plen))
        return;
    rc = notify_device_add(&r->app->ctx, id, token, tlen, platform, &json, &err);
    if (rc == UMS_OK)
        reply_json(r, 201, json, strlen(json));
    else
        reply_fail(r, rc, &err);
    free(json);
}

void route_notify_device_remove(struct req *r)
{
    const char *id;
    int rc;

    if (api_target(r, TARGET_SELF, &id))
        return;
    rc = notify_device_remove(&r->app->ctx, id, req_param(r, "did"));
    if (rc != UMS_OK) {
        reply_fail(r, rc, NULL);
        return;
    }
    reply_json(r, 204, "", 0);
}
