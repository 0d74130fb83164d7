/* route_audit.c - GET /api/v1/audit: the audit log, for admins. */
#include "../util/buf.h"
#include "../core/search.h"
#include "../util/ums.h"
#include "api.h"
#include "app.h"
#include "http.h"
#include "routes.h"

/* GET /audit: admins; filters actor, target, action, after, before. */
void route_audit_list(struct req *r)
{
    struct audit_query q = {0};
    struct ums_err err = {0};
    struct buf out;
    long limit;
    int rc;

    if (api_query_str(r, "actor", 64, &q.actor) || api_query_str(r, "target", 64, &q.target) ||
        api_query_str(r, "action", 64, &q.action) || api_query_str(r, "after", 64, &q.after) ||
        api_query_str(r, "before", 64, &q.before) || api_query_str(r, "cursor", 1024, &q.cursor) ||
        api_query_int(r, "limit", SEARCH_LIMIT_DEFAULT, 1, SEARCH_LIMIT_MAX, &limit))
        return;
    q.limit = (int)limit;
    buf_init(&out, 4 << 20);
    rc = search_audit(&r->app->ctx, &q, &out, &err);
    if (rc == UMS_OK)
        reply_json(r, 200, out.p, out.len);
    else
        reply_fail(r, rc, &err);
    buf_free(&out);
}
