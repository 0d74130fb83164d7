/* lockout.c - login_attempts and the Redis token bucket. */
#include "lockout.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "../util/crypto.h"
#include "ctx.h"
#include "db.h"
#include "kv.h"
#include "../util/ums.h"

int lock_fail(struct ums_ctx *c, const char *email, int *locked_now)
{
    char h[65], window[16], threshold[16], duration[16];
    const char *p[4] = {h, window, threshold, duration};
    PGresult *res = NULL;
    int rc;

    *locked_now = 0;
    sha256_hex(h, email, strlen(email));
    snprintf(window, sizeof(window), "%d", c->cfg->auth.lockout_window);
    snprintf(threshold, sizeof(threshold), "%d", c->cfg->auth.lockout_threshold);
    snprintf(duration, sizeof(duration), "%d", c->cfg->auth.lockout_duration);
    rc = db_exec(c->db, &res, STMT_LOCK_FAIL, 4, p);
    if (rc != UMS_OK)
        return rc;
    /* The lock starts on exactly the threshold-th failure. */
    *locked_now =
        PQgetvalue(res, 0, 1)[0] == 't' && db_int(res, 0, 0) == c->cfg->auth.lockout_threshold;
    PQclear(res);
    return UMS_OK;
}

int lock_clear(struct ums_ctx *c, const char *email)
{
    char h[65];
    const char *p[1] = {h};

    sha256_hex(h, email, strlen(email));
    return db_exec(c->db, NULL, STMT_LOCK_CLEAR, 1, p);
}

/* Token bucket: KEYS[1]; ARGV capacity, refill per ms, now ms. Returns
 * {allowed, retry_after_seconds}. */
static const char bucket_lua[] =
    "local cap = tonumber(ARGV[1]) local rate = tonumber(ARGV[2]) local now = tonumber(ARGV[3])\n"
    "local b = redis.call('HMGET', KEYS[1], 't', 'ts')\n"
    "local t = tonumber(b[1]) or cap local ts = tonumber(b[2]) or now\n"
    "if now > ts then t = math.min(cap, t + (now - ts) * rate) end\n"
    "local ok, retry = 0, 0\n"
    "if t >= 1 then t = t - 1 ok = 1 else retry = math.ceil((1 - t) / rate / 1000) end\n"
    "redis.call('HSET', KEYS[1], 't', tostring(t), 'ts', tostring(math.max(now, ts)))\n"
    "redis.call('PEXPIRE', KEYS[1], math.ceil(cap / rate) + 1000)\n"
    "return {ok, retry}\n";

void rl_ip_key(char out[RL_IP_KEY_MAX], const char *ip)
{
    struct in_addr a4;
    struct in6_addr a6;

    snprintf(out, RL_IP_KEY_MAX, "-");
    if (ip == NULL || *ip == '\0')
        return;
    if (inet_pton(AF_INET, ip, &a4) == 1) {
        inet_ntop(AF_INET, &a4, out, RL_IP_KEY_MAX);
        return;
    }
    if (inet_pton(AF_INET6, ip, &a6) != 1)
        return;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
        memcpy(&a4, a6.s6_addr + 12, 4);
        inet_ntop(AF_INET, &a4, out, RL_IP_KEY_MAX);
        return;
    }
    memset(a6.s6_addr + 8, 0, 8);
    {
        char text[INET6_ADDRSTRLEN];
        if (inet_ntop(AF_INET6, &a6, text, sizeof(text)) != NULL)
            snprintf(out, RL_IP_KEY_MAX, "%s/64", text);
    }
}

int rl_take(struct ums_ctx *c, const char *scope, const char *key, int per_5min,
            enum rl_on_error on_error, int *retry_after)
{
    char k[256], cap[16], rate[32], now[32];
    const char *argv[6] = {"EVAL", bucket_lua, "1", k, cap, rate};
    const char *full[7];
    struct timespec ts;
    redisReply *r = NULL;
    int rc;

    *retry_after = 0;
    if (per_5min <= 0)
        return UMS_OK;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(k, sizeof(k), "ums:tb:%s:%s", scope, key != NULL ? key : "-");
    snprintf(cap, sizeof(cap), "%d", per_5min);
    snprintf(rate, sizeof(rate), "%.9f", per_5min / 300000.0);
    snprintf(now, sizeof(now), "%lld", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    memcpy(full, argv, sizeof(argv));
    full[6] = now;
    rc = kv_cmd(c->kv, &r, 7, full, NULL);
    if (rc == UMS_EUNAVAILABLE)
        return UMS_OK; /* degraded: Redis down */
    if (rc != UMS_OK || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_INTEGER) {
        /* An error reply (OOM under noeviction...): no answer is no licence. */
        if (r != NULL)
            freeReplyObject(r);
        return on_error == RL_CLOSED ? UMS_EUNAVAILABLE : UMS_OK;
    }
    rc = UMS_OK;
    if (r->element[0]->integer == 0) {
        *retry_after = (int)r->element[1]->integer;
        if (*retry_after < 1)
            *retry_after = 1;
        rc = UMS_EDENIED;
    }
    freeReplyObject(r);
    return rc;
}
