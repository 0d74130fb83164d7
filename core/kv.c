/* kv.c - hiredis connection with timeouts, AUTH, SELECT and reconnection. */
#include "kv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

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
static int setup_cmd(struct kv *kv, int argc, const char **argv)
{
    redisReply *r = redisCommandArgv(kv->c, argc, argv, NULL);
    int ok = r != NULL && r->type != REDIS_REPLY_ERROR;

    if (r != NULL && r->type == REDIS_REPLY_ERROR)
        log_error("redis %s failed: %s", argv[0], r->str);
    if (r != NULL)
        freeReplyObject(r);
    return ok ? UMS_OK : UMS_EUNAVAILABLE;
}

static int connect_now(struct kv *kv)
{
    struct timeval tv = {kv->timeout_ms / 1000, (kv->timeout_ms % 1000) * 1000};
    char dbs[8];

    clock_gettime(CLOCK_MONOTONIC, &kv->last_try);
    kv->c = redisConnectWithTimeout(kv->host, kv->port, tv);
    if (kv->c == NULL || kv->c->err) {
        mark_down(kv, kv->c != NULL ? kv->c->errstr : "out of memory");
        return UMS_EUNAVAILABLE;
    }
    if (redisSetTimeout(kv->c, tv) != REDIS_OK) {
        mark_down(kv, "cannot set timeout");
        return UMS_EUNAVAILABLE;
    }
    if (kv->password != NULL) {
        const char *argv[2] = {"AUTH", kv->password};
        if (setup_cmd(kv, 2, argv) != UMS_OK) {
            mark_down(kv, "AUTH failed");
            return UMS_EUNAVAILABLE;
        }
    }
    if (kv->db != 0) {
        const char *argv[2] = {"SELECT", dbs};
        snprintf(dbs, sizeof(dbs), "%d", kv->db);
        if (setup_cmd(kv, 2, argv) != UMS_OK) {
            mark_down(kv, "SELECT failed");
            return UMS_EUNAVAILABLE;
        }
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
    if (kv->password != NULL) {
        explicit_bzero(kv->password, strlen(kv->password));
        free(kv->password);
    }
    free(kv);
}
