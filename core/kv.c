/* kv.c - hiredis connection with timeouts, AUTH, SELECT and reconnection;
 * with [redis] sentinels, to the master the sentinels name (ROLE-checked),
 * asked again after a failover. */
#include "kv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "config.h"
#include "../util/log.h"
#include "../util/metrics.h"
#include "../util/ums.h"

struct kv {
    redisContext *c;
    char *host;
    char *password;
    int port;
    int db;
    int timeout_ms;
    struct timespec last_try;
    int down_logged;
    int connected; /* once: a later connection is a reconnect */
    /* Sentinel mode: nsentinels > 0 */
    struct kv_addr sentinels[KV_SENTINELS_MAX];
    int nsentinels;
    int first; /* the sentinel that answered last: asked first */
    char *master_name;
    char *sentinel_password;
    struct kv_addr master; /* the master in use */
};

static void drop(struct kv *kv)
{
    if (kv->c != NULL)
        redisFree(kv->c);
    kv->c = NULL;
}

static void mark_down(struct kv *kv, const char *why)
{
    if (!kv->down_logged)
        log_warn("redis unavailable (%s); running degraded", why);
    kv->down_logged = 1;
    metrics_inc(M_REDIS_ERRORS);
    metrics_set(M_DEGRADED_REDIS, 1);
    drop(kv);
}

/* Runs a setup command on a fresh connection; 0 when the reply is not an error. */
static int setup_cmd(redisContext *c, int argc, const char **argv)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    int ok = r != NULL && r->type != REDIS_REPLY_ERROR;

    if (r != NULL && r->type == REDIS_REPLY_ERROR)
        log_error("redis %s failed: %s", argv[0], r->str);
    if (r != NULL)
        freeReplyObject(r);
    return ok ? UMS_OK : UMS_EUNAVAILABLE;
}

/* A connection to host:port with the timeouts and, when given, AUTH; NULL
 * with why set when it cannot be made. */
static redisContext *open_ctx(struct kv *kv, const char *host, int port, const char *password,
                              char *why, size_t whylen)
{
    struct timeval tv = {kv->timeout_ms / 1000, (kv->timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(host, port, tv);

    if (c == NULL || c->err) {
        snprintf(why, whylen, "%s:%d: %s", host, port, c != NULL ? c->errstr : "out of memory");
    } else if (redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(why, whylen, "%s:%d: cannot set timeout", host, port);
    } else if (password != NULL) {
        const char *argv[2] = {"AUTH", password};
        if (setup_cmd(c, 2, argv) == UMS_OK)
            return c;
        snprintf(why, whylen, "%s:%d: AUTH failed", host, port);
    } else {
        return c;
    }
    if (c != NULL)
        redisFree(c);
    return NULL;
}

/* host:port as the data connection, with its database selected. */
static int open_data(struct kv *kv, const char *host, int port, char *why, size_t whylen)
{
    char dbs[8];

    kv->c = open_ctx(kv, host, port, kv->password, why, whylen);
    if (kv->c == NULL)
        return UMS_EUNAVAILABLE;
    if (kv->db != 0) {
        const char *argv[2] = {"SELECT", dbs};
        snprintf(dbs, sizeof(dbs), "%d", kv->db);
        if (setup_cmd(kv->c, 2, argv) != UMS_OK) {
            snprintf(why, whylen, "%s:%d: SELECT failed", host, port);
            drop(kv);
            return UMS_EUNAVAILABLE;
        }
    }
    return UMS_OK;
}

/* Whether the data connection is to a master (ROLE): a sentinel may be
 * out of date, or lie. */
static int is_master(struct kv *kv)
{
    const char *argv[1] = {"ROLE"};
    redisReply *r = redisCommandArgv(kv->c, 1, argv, NULL);
    int yes = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
              r->element[0]->type == REDIS_REPLY_STRING &&
              strcmp(r->element[0]->str, "master") == 0;

    if (r != NULL)
        freeReplyObject(r);
    return yes;
}

/* SENTINEL get-master-addr-by-name at sentinel i. */
static int ask_sentinel(struct kv *kv, int i, struct kv_addr *m, char *why, size_t whylen)
{
    const struct kv_addr *s = &kv->sentinels[i];
    const char *argv[3] = {"SENTINEL", "get-master-addr-by-name", kv->master_name};
    redisContext *c = open_ctx(kv, s->host, s->port, kv->sentinel_password, why, whylen);
    redisReply *r;
    int rc = UMS_EUNAVAILABLE;
    char *end;
    long port;

    if (c == NULL)
        return UMS_EUNAVAILABLE;
    r = redisCommandArgv(c, 3, argv, NULL);
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING &&
        r->element[0]->len > 0 && r->element[0]->len < sizeof(m->host)) {
        errno = 0;
        port = strtol(r->element[1]->str, &end, 10);
        if (errno == 0 && *end == '\0' && port > 0 && port <= 65535) {
            memcpy(m->host, r->element[0]->str, r->element[0]->len + 1);
            m->port = (int)port;
            rc = UMS_OK;
        }
    }
    if (rc != UMS_OK)
        snprintf(why, whylen, "sentinel %s:%d: %s", s->host, s->port,
                 r == NULL                      ? c->errstr
                 : r->type == REDIS_REPLY_ERROR ? r->str
                 : r->type == REDIS_REPLY_NIL   ? "does not know master_name"
                                                : "an answer that is not an address");
    if (r != NULL)
        freeReplyObject(r);
    redisFree(c);
    return rc;
}

/* The master, as the first sentinel that answers says, if ROLE agrees. */
static int open_master(struct kv *kv, char *why, size_t whylen)
{
    int i;

    for (i = 0; i < kv->nsentinels; i++) {
        int k = (kv->first + i) % kv->nsentinels;
        struct kv_addr m;
        if (ask_sentinel(kv, k, &m, why, whylen) != UMS_OK)
            continue;
        if (open_data(kv, m.host, m.port, why, whylen) != UMS_OK)
            continue;
        if (!is_master(kv)) {
            snprintf(why, whylen, "sentinel %s:%d names %s:%d, which is not a master",
                     kv->sentinels[k].host, kv->sentinels[k].port, m.host, m.port);
            log_warn("redis: %s; asking the next sentinel", why);
            drop(kv);
            continue;
        }
        kv->first = k;
        if (strcmp(m.host, kv->master.host) != 0 || m.port != kv->master.port) {
            if (kv->master.port != 0) {
                log_warn("redis master changed: %s:%d (was %s:%d; sentinel %s:%d)", m.host, m.port,
                         kv->master.host, kv->master.port, kv->sentinels[k].host,
                         kv->sentinels[k].port);
                metrics_inc(M_REDIS_MASTER_CHANGES);
            }
            kv->master = m;
        }
        return UMS_OK;
    }
    return UMS_EUNAVAILABLE;
}

static int connect_now(struct kv *kv)
{
    char why[512];
    int rc;

    clock_gettime(CLOCK_MONOTONIC, &kv->last_try);
    drop(kv);
    rc = kv->nsentinels > 0 ? open_master(kv, why, sizeof(why))
                            : open_data(kv, kv->host, kv->port, why, sizeof(why));
    if (rc != UMS_OK) {
        mark_down(kv, why);
        return UMS_EUNAVAILABLE;
    }
    if (kv->down_logged)
        log_info("redis connection restored");
    if (kv->connected)
        metrics_inc(M_REDIS_RECONNECTS);
    metrics_set(M_DEGRADED_REDIS, 0);
    kv->connected = 1;
    kv->down_logged = 0;
    return UMS_OK;
}

int kv_sentinels_parse(const char *list, struct kv_addr *addrs, int *n, char *err, size_t errlen)
{
    const char *p = list;
    int count = 0;

    if (n != NULL)
        *n = 0;
    if (*p == '\0')
        return UMS_OK;
    for (;;) {
        size_t len = strcspn(p, ","), b = 0, e = len, colon;
        char port[8];
        long v;
        char *end;
        while (b < e && (p[b] == ' ' || p[b] == '\t'))
            b++;
        while (e > b && (p[e - 1] == ' ' || p[e - 1] == '\t'))
            e--;
        for (colon = e; colon > b && p[colon - 1] != ':'; colon--)
            ;
        if (++count > KV_SENTINELS_MAX) {
            snprintf(err, errlen, "[redis] sentinels: more than %d", KV_SENTINELS_MAX);
            return UMS_EINVALID;
        }
        v = 0;
        if (colon > b + 1 && colon - 1 - b < 256 && e - colon > 0 && e - colon < sizeof(port)) {
            memcpy(port, p + colon, e - colon);
            port[e - colon] = '\0';
            errno = 0;
            v = strtol(port, &end, 10);
            if (errno != 0 || *end != '\0' || port[0] < '0' || port[0] > '9')
                v = 0;
        }
        if (v < 1 || v > 65535) {
            snprintf(err, errlen, "[redis] sentinels: entry %d is not host:port", count);
            return UMS_EINVALID;
        }
        if (addrs != NULL) {
            memcpy(addrs[count - 1].host, p + b, colon - 1 - b);
            addrs[count - 1].host[colon - 1 - b] = '\0';
            addrs[count - 1].port = (int)v;
        }
        p += len;
        if (*p != ',')
            break;
        p++;
    }
    if (n != NULL)
        *n = count;
    return UMS_OK;
}

int kv_open(struct kv **out, const char *host, int port, const char *password, int db,
            int timeout_ms)
{
    struct kv *kv = calloc(1, sizeof(*kv));

    *out = NULL;
    if (kv == NULL)
        return UMS_ERR;
    kv->host = strdup(host);
    kv->password = password != NULL && *password != '\0' ? strdup(password) : NULL;
    if (kv->host == NULL || (password != NULL && *password != '\0' && kv->password == NULL)) {
        kv_close(kv);
        return UMS_ERR;
    }
    kv->port = port;
    kv->db = db;
    kv->timeout_ms = timeout_ms;
    connect_now(kv);
    *out = kv;
    return UMS_OK;
}

int kv_open_config(struct kv **out, const struct ums_config *cfg, int timeout_ms)
{
    struct kv_addr addrs[KV_SENTINELS_MAX];
    char err[256];
    int n = 0;
    struct kv *kv;

    if (kv_sentinels_parse(cfg->redis.sentinels, addrs, &n, err, sizeof(err)) != UMS_OK)
        return UMS_EINVALID; /* config_load refused it already */
    if (n == 0)
        return kv_open(out, cfg->redis.host, cfg->redis.port, cfg->redis.password, cfg->redis.db,
                       timeout_ms);
    *out = NULL;
    kv = calloc(1, sizeof(*kv));
    if (kv == NULL)
        return UMS_ERR;
    kv->host = strdup("");
    kv->master_name = strdup(cfg->redis.master_name);
    kv->password = cfg->redis.password[0] != '\0' ? strdup(cfg->redis.password) : NULL;
    kv->sentinel_password =
        cfg->redis.sentinel_password[0] != '\0' ? strdup(cfg->redis.sentinel_password) : NULL;
    if (kv->host == NULL || kv->master_name == NULL ||
        (cfg->redis.password[0] != '\0' && kv->password == NULL) ||
        (cfg->redis.sentinel_password[0] != '\0' && kv->sentinel_password == NULL)) {
        kv_close(kv);
        return UMS_ERR;
    }
    memcpy(kv->sentinels, addrs, sizeof(addrs));
    kv->nsentinels = n;
    kv->db = cfg->redis.db;
    kv->timeout_ms = timeout_ms;
    connect_now(kv); /* a master that cannot be found now is looked for on use */
    *out = kv;
    return UMS_OK;
}

int kv_ensure(struct kv *kv)
{
    struct timespec now;
    double dt;

    if (kv->c != NULL && kv->c->err == 0)
        return UMS_OK;
    drop(kv);
    clock_gettime(CLOCK_MONOTONIC, &now);
    dt = (double)(now.tv_sec - kv->last_try.tv_sec) +
         (double)(now.tv_nsec - kv->last_try.tv_nsec) / 1e9;
    if (kv->last_try.tv_sec != 0 && dt < 1.0)
        return UMS_EUNAVAILABLE;
    return connect_now(kv);
}

/* The peer had gone before the command: EOF, or a reset or broken pipe on write. */
static int closed_by_peer(const redisContext *c)
{
    if (c == NULL)
        return 0;
    if (c->err == REDIS_ERR_EOF)
        return 1;
    return c->err == REDIS_ERR_IO && (errno == ECONNRESET || errno == EPIPE);
}

/* READONLY (a write sent to a replica) or MASTERDOWN (a replica that lost
 * its master): this is not the master. */
static int not_master(const redisReply *r)
{
    return strncmp(r->str, "READONLY", 8) == 0 || strncmp(r->str, "MASTERDOWN", 10) == 0;
}

int kv_cmd(struct kv *kv, redisReply **out, int argc, const char **argv, const size_t *lens)
{
    redisReply *r;
    int rc;

    *out = NULL;
    rc = kv_ensure(kv);
    if (rc != UMS_OK)
        return rc;
    r = redisCommandArgv(kv->c, argc, argv, lens);
    if (r == NULL && closed_by_peer(kv->c)) {
        /* The server closed the connection while it sat idle (a restart, a
         * timeout): reconnect at once and send the command once more, so a
         * healthy Redis never shows up as an outage. */
        drop(kv);
        if (connect_now(kv) != UMS_OK)
            return UMS_EUNAVAILABLE;
        r = redisCommandArgv(kv->c, argc, argv, lens);
    }
    if (r == NULL) {
        /* I/O error or timeout: the context is unusable from here on. */
        mark_down(kv, kv->c != NULL && kv->c->errstr[0] ? kv->c->errstr : "I/O error");
        return UMS_EUNAVAILABLE;
    }
    if (r->type == REDIS_REPLY_ERROR && not_master(r)) {
        /* A replica: a master demoted by a failover, or one that came back
         * as a replica. Ask (the sentinels) again and send it once more. */
        log_warn("redis %s: %.40s; looking for the master", argv[0], r->str);
        freeReplyObject(r);
        if (connect_now(kv) != UMS_OK)
            return UMS_EUNAVAILABLE;
        r = redisCommandArgv(kv->c, argc, argv, lens);
        if (r == NULL || (r->type == REDIS_REPLY_ERROR && not_master(r))) {
            if (r != NULL)
                freeReplyObject(r);
            mark_down(kv, "the server named as master is not one");
            return UMS_EUNAVAILABLE;
        }
    }
    if (r->type == REDIS_REPLY_ERROR) {
        log_error("redis %s: %s", argv[0], r->str);
        metrics_inc(M_REDIS_ERRORS);
        freeReplyObject(r);
        return UMS_ERR;
    }
    *out = r;
    return UMS_OK;
}

int kv_ping(struct kv *kv)
{
    const char *argv[1] = {"PING"};
    redisReply *r = NULL;
    int rc = kv_cmd(kv, &r, 1, argv, NULL);

    if (r != NULL)
        freeReplyObject(r);
    return rc == UMS_OK ? UMS_OK : UMS_EUNAVAILABLE;
}

void kv_close(struct kv *kv)
{
    if (kv == NULL)
        return;
    drop(kv);
    free(kv->host);
    free(kv->master_name);
    if (kv->sentinel_password != NULL) {
        explicit_bzero(kv->sentinel_password, strlen(kv->sentinel_password));
        free(kv->sentinel_password);
    }
    if (kv->password != NULL) {
        explicit_bzero(kv->password, strlen(kv->password));
        free(kv->password);
    }
    free(kv);
}
