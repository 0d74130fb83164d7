/* ctx.h - what core functions need from the process that calls them: the
 * configuration, the connections and the parsed keys. Owned by the caller
 * (a worker, umsctl or the notifier); core functions only borrow it. */
#ifndef UMS_CTX_H
#define UMS_CTX_H

#include <stddef.h>

#include "password.h"

struct ums_config;
struct db;
struct kv;
struct tokens;
struct principal;

struct ums_ctx {
    const struct ums_config *cfg;
    struct db *db;
    struct kv *kv;
    struct tokens *tokens; /* NULL in processes that issue no tokens */
    struct pw_params pw;
};

/* Fills c for cfg (borrowed): the connections to PostgreSQL and Redis (made
 * on first use; one that is down reconnects later) and, with with_tokens,
 * the signing key. UMS_OK, or an error with err set; ctx_close frees what
 * was opened either way. */
int ctx_open(struct ums_ctx *c, const struct ums_config *cfg, int with_tokens, char *err,
             size_t errlen);
/* ctx_open for a process that waits on Redis on purpose (the notifier's
 * XREADGROUP ... BLOCK): no signing key, and a Redis reply may take
 * redis_timeout_ms instead of [redis] timeout_ms. Returns as ctx_open. */
int ctx_open_blocking(struct ums_ctx *c, const struct ums_config *cfg, int redis_timeout_ms,
                      char *err, size_t errlen);
void ctx_close(struct ums_ctx *c);

/* A request begins: from here its writes and reads are tracked for the read
 * replicas (db.h); fresh(arg) says whether its caller wrote recently. */
void ctx_request_begin(struct ums_ctx *c, int (*fresh)(void *arg), void *arg);
/* The request's work is done, before its answer goes out: when it wrote and
 * replicas serve reads, who (NULL: unauthenticated) is marked (ryw.h). */
void ctx_request_end(struct ums_ctx *c, const struct principal *who);

/* UMS_OK when PostgreSQL answers (reconnecting if needed), else
 * UMS_EUNAVAILABLE: the request pipeline's 503. */
int ctx_db_ready(struct ums_ctx *c);

/* Whether PostgreSQL and Redis answer now (readiness). */
void ctx_ping(struct ums_ctx *c, int *postgres_ok, int *redis_ok);

#endif
