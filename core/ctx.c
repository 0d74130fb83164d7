/* ctx.c - opening and closing what a process's core calls need (ctx.h). */
#include "ctx.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "db.h"
#include "kv.h"
#include "ryw.h"
#include "tokens.h"
#include "../util/ums.h"

static int open_ctx(struct ums_ctx *c, const struct ums_config *cfg, int with_tokens,
                    int redis_timeout_ms, char *err, size_t errlen)
{
    int rc;

    memset(c, 0, sizeof(*c));
    c->cfg = cfg;
    password_params_from_config(&c->pw, cfg);
    if (with_tokens) {
        rc = tokens_open(&c->tokens, cfg, err, errlen);
        if (rc == UMS_OK)
            rc = auth_config_check(cfg, err, errlen);
        if (rc != UMS_OK)
            return rc;
    }
    /* A database or Redis that is down now is not fatal: both reconnect
     * on the next call (db_ensure, kv_ensure). */
    rc = db_open(&c->db, cfg->database.url, cfg->database.password, cfg->database.connect_timeout,
                 cfg->database.statement_timeout_ms);
    if (rc == UMS_OK) {
        db_set_prepared(c->db, cfg->database.prepared);
        db_set_max_lag(c->db, cfg->database.max_replica_lag);
        /* Checked by config_load: nothing but memory can fail here. */
        rc = db_replica_add_list(c->db, cfg->database.replica_urls, err, errlen);
        if (rc != UMS_OK)
            return rc;
    }
    if (rc == UMS_OK)
        rc = kv_open_config(&c->kv, cfg, redis_timeout_ms);
    if (rc != UMS_OK)
        snprintf(err, errlen, "out of memory opening the connections");
    return rc;
}

int ctx_open(struct ums_ctx *c, const struct ums_config *cfg, int with_tokens, char *err,
             size_t errlen)
{
    return open_ctx(c, cfg, with_tokens, cfg->redis.timeout_ms, err, errlen);
}

int ctx_open_blocking(struct ums_ctx *c, const struct ums_config *cfg, int redis_timeout_ms,
                      char *err, size_t errlen)
{
    return open_ctx(c, cfg, 0, redis_timeout_ms, err, errlen);
}

void ctx_close(struct ums_ctx *c)
{
    db_close(c->db);
    kv_close(c->kv);
    tokens_close(c->tokens);
    c->db = NULL;
    c->kv = NULL;
    c->tokens = NULL;
}

void ctx_request_begin(struct ums_ctx *c, int (*fresh)(void *arg), void *arg)
{
    db_request_begin(c->db);
    db_set_freshness(c->db, fresh, arg);
}

void ctx_request_end(struct ums_ctx *c, const struct principal *who)
{
    if (who != NULL && db_replicas(c->db) > 0 && db_request_wrote(c->db))
        ryw_note_write(c, who);
    db_set_freshness(c->db, NULL, NULL);
}

int ctx_db_ready(struct ums_ctx *c)
{
    return db_ensure(c->db);
}

void ctx_ping(struct ums_ctx *c, int *postgres_ok, int *redis_ok)
{
    *postgres_ok = db_ping(c->db) == UMS_OK;
    *redis_ok = kv_ping(c->kv) == UMS_OK;
}
