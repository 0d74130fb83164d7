/* route_metrics.c - the HTTP series' route slots, the count of every
 * finished request, and GET /metrics: the sum over the metrics folder
 * (util/metrics.h) plus what is measured at scrape time (PostgreSQL and
 * Redis reachability, the event stream and the outbox). */
#include <stdio.h>
#include <string.h>

#include "../core/config.h"
#include "../core/outbox.h"
#include "../util/buf.h"
#include "../util/log.h"
#include "../util/metrics.h"
#include "../util/ums.h"
#include "app.h"
#include "http.h"
#include "routes.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

#define METHODS       7 /* the bits of enum http_method */
#define SLOTS_MAX     256
#define METRICS_TYPE  "text/plain; version=0.0.4; charset=utf-8"
#define UNMATCHED     "unmatched"
#define METRICS_BYTES (4 * 1024 * 1024)

static const char *const method_names[METHODS] = {"GET",   "HEAD",   "POST",   "PUT",
                                                  "PATCH", "DELETE", "OPTIONS"};
static const char *slot_route[SLOTS_MAX], *slot_method[SLOTS_MAX];
static size_t nslot;
/* The first slot of route i's methods; the unmatched slots come last. */
static size_t route_base[SLOTS_MAX];
static size_t unmatched_base;
static const struct route *table;
static size_t table_len;

static int method_bit(unsigned m)
{
    for (int b = 0; b < METHODS; b++)
        if (m == (1u << b))
            return b;
    return -1;
}

void route_metrics_init(const struct route *routes, size_t n)
{
    struct metrics_routes mr;

    nslot = 0;
    table = routes;
    table_len = n < SLOTS_MAX ? n : SLOTS_MAX;
    for (size_t i = 0; i < table_len; i++) {
        route_base[i] = nslot;
        for (int b = 0; b < METHODS && nslot < SLOTS_MAX - METHODS - 1; b++)
            if (routes[i].methods & (1u << b)) {
                slot_route[nslot] = routes[i].pattern;
                slot_method[nslot++] = method_names[b];
            }
    }
    /* Requests no route took (404, 405): by method, "other" last. */
    unmatched_base = nslot;
    for (int b = 0; b <= METHODS; b++) {
        slot_route[nslot] = UNMATCHED;
        slot_method[nslot++] = b < METHODS ? method_names[b] : "other";
    }
    mr.route = slot_route;
    mr.method = slot_method;
    mr.nslots = nslot;
    metrics_set_routes(&mr);
}

void route_metrics_count(const struct req *r, double seconds)
{
    int b = method_bit(r->method);
    size_t slot = unmatched_base + (b >= 0 ? (size_t)b : METHODS);

    if (r->route != NULL && table != NULL && b >= 0 && (r->route->methods & r->method) &&
        r->route >= table && r->route < table + table_len) {
        size_t i = (size_t)(r->route - table), s = route_base[i];
        for (int k = 0; k < b; k++)
            s += (r->route->methods >> k) & 1u;
        slot = s;
    }
    metrics_http(slot, r->status, seconds);
}

/* What only a query can tell, measured by the worker that answers. */
static void scrape_time(struct req *r, struct buf *out)
{
    struct ums_ctx *c = &r->app->ctx;
    struct outbox_status st;
    int pg = 0, redis = 0;

    ctx_ping(c, &pg, &redis);
    metrics_gauge(out, "ums_postgres_up", "Whether PostgreSQL answered the scrape's ping.", NULL,
                  pg);
    metrics_gauge(out, "ums_redis_up", "Whether Redis answered the scrape's ping.", NULL, redis);
    if (!pg || !redis || outbox_status(c->db, c->kv, &st) != UMS_OK)
        return; /* the notifier's gauges are absent, not zero, while unknown */
    metrics_gauge(out, "ums_notifier_stream_entries", "Entries in the event stream ums:events.",
                  NULL, (double)st.stream);
    metrics_gauge(out, "ums_notifier_pending_entries",
                  "Stream entries read by a notifier and not acknowledged yet.", NULL,
                  (double)st.pending);
    metrics_gauge(out, "ums_notifier_dead_letters", "Entries in ums:events:dead.", NULL,
                  (double)st.dead);
    metrics_gauge(out, "ums_notifier_unpublished_events", "Outbox rows not on the stream yet.",
                  NULL, (double)st.unpublished);
    metrics_gauge(out, "ums_notifier_waiting_deliveries", "Deliveries waiting for a retry.", NULL,
                  (double)st.waiting);
    metrics_gauge(out, "ums_notifier_oldest_undelivered_age_seconds",
                  "Age of the oldest event not delivered on every channel yet (0: none).", NULL,
                  st.oldest_age);
    metrics_gauge(out, "ums_notifier_last_done_timestamp_seconds",
                  "When the last event was delivered on every channel (Unix time; 0: never).", NULL,
                  st.last_done);
}

void route_metrics_get(struct req *r)
{
    const struct ums_config *cfg = r->app->ctx.cfg;
    char err[512];
    struct buf out;

    if (!cfg->metrics.enabled) {
        reply_error(r, HE_NOT_FOUND, "metrics are off ([metrics] enabled = false)");
        return;
    }
    buf_init(&out, METRICS_BYTES);
    if (metrics_collect(cfg->metrics.dir, &out, err, sizeof(err)) != 0) {
        log_error("/metrics: %s", err);
        buf_free(&out);
        reply_error(r, HE_UNAVAILABLE, "the metrics folder cannot be read");
        return;
    }
    scrape_time(r, &out);
    metrics_gauge(&out, "ums_build_info", "The running ums version.",
                  "version=\"" PACKAGE_VERSION "\"", 1);
    if (out.p == NULL)
        reply_error(r, HE_UNEXPECTED, NULL);
    else
        reply_text(r, 200, METRICS_TYPE, out.p, out.len);
    buf_free(&out);
}
