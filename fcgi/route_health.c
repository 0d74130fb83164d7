/* route_health.c - GET /healthz (the process answers) and GET /readyz
 * (PostgreSQL and Redis answer). */
#include "../util/buf.h"
#include "../util/ums.h"
#include "app.h"
#include "http.h"
#include "routes.h"

void route_health_live(struct req *r)
{
    static const char body[] = "{\"status\":\"ok\"}";

    reply_json(r, 200, body, sizeof(body) - 1);
}

void route_health_ready(struct req *r)
{
    int pg, redis;
    struct buf b;

    ctx_ping(&r->app->ctx, &pg, &redis);
    buf_init(&b, 1024);
    if (pg && redis) {
        buf_adds(&b, "{\"status\":\"ok\",\"checks\":{\"postgres\":\"ok\",\"redis\":\"ok\"}}");
        reply_json(r, 200, b.p, b.len);
    } else {
        const char *msg = !pg && !redis ? "postgres and redis are unavailable"
                          : !pg         ? "postgres is unavailable"
                                        : "redis is unavailable";
        buf_printf(
            &b,
            "{\"code\":\"service_unavailable\",\"message\":\"%s\",\"status\":\"unavailable\","
            "\"checks\":{\"postgres\":\"%s\",\"redis\":\"%s\"}}",
            msg, pg ? "ok" : "unavailable", redis ? "ok" : "unavailable");
        reply_header(r, "Retry-After", "5");
        reply_json(r, 503, b.p, b.len);
    }
    buf_free(&b);
}
