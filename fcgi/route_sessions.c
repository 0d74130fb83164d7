/* route_sessions.c - /api/v1/users/{id}/sessions: list, revoke one, revoke all. */
#include <stdlib.h>
#include <string.h>

#include "../util/ums.h"
#include "../core/users.h"
#include "../util/valid.h"
#include "api.h"
#include "app.h"
#include "http.h"
#include "routes.h"

void route_sessions_list(struct req *r)
{
    const char *id;
    char *json = NULL;
    struct buf out;
    int rc;

    if (api_target(r, TARGET_SELF | TARGET_ADMIN, &id))
        return;
    rc = users_sessions(&r->app->ctx, id, r->who.service ? NULL : r->who.session_id, &json);
    if (rc != UMS_OK) {
        reply_fail(r, rc, NULL);
        return;
    }
    buf_init(&out, 4 << 20);
    buf_printf(&out, "{\"data\":%s}", json);
    reply_json(r, 200, out.p, out.len);
    buf_free(&out);
    free(json);
}

static void revoke(struct req *r, const char *sid)
{
    const char *id;
    struct client_info ci;
    int rc, count = 0;

    if (api_target(r, TARGET_SELF | TARGET_ADMIN, &id))
        return;
    if (sid != NULL && !valid_uuid(sid)) {
        reply_field_error(r, "sid", "invalid", "sid must be a session id (UUID)");
        return;
    }
    req_client(r, &ci);
    rc = users_revoke_sessions(&r->app->ctx, r->who.service ? NULL : r->who.user_id, id, sid, ci.ip,
                               &count);
    if (rc != UMS_OK) {
        reply_fail(r, rc, NULL);
        return;
    }
    reply_json(r, 204, "", 0);
}

void route_sessions_revoke(struct req *r)
{
    revoke(r, req_param(r, "sid"));
}

void route_sessions_revoke_all(struct req *r)
{
    revoke(r, NULL);
}
