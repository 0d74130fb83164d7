/* bucket.c - token buckets in Redis (bucket.h). */
#include "bucket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctx.h"
#include "kv.h"
#include "../util/metrics.h"
#include "../util/ums.h"

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

void bucket_ip_key(char out[BUCKET_IP_KEY_MAX], const char *ip)
{
    struct in_addr a4;
    struct in6_addr a6;

    snprintf(out, BUCKET_IP_KEY_MAX, "-");
    if (ip == NULL || *ip == '\0')
        return;
    if (inet_pton(AF_INET, ip, &a4) == 1) {
        inet_ntop(AF_INET, &a4, out, BUCKET_IP_KEY_MAX);
        return;
    }
    if (inet_pton(AF_INET6, ip, &a6) != 1)
        return;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
        memcpy(&a4, a6.s6_addr + 12, 4);
        inet_ntop(AF_INET, &a4, out, BUCKET_IP_KEY_MAX);
        return;
    }
    memset(a6.s6_addr + 8, 0, 8);
    {
        char text[INET6_ADDRSTRLEN];
        if (inet_ntop(AF_INET6, &a6, text, sizeof(text)) != NULL)
            snprintf(out, BUCKET_IP_KEY_MAX, "%s/64", text);
    }
}

/* ums_rate_limited_total{scope}: the scopes ums uses, any other "other". */
static enum metric scope_metric(const char *scope)
{
    static const struct {
        const char *scope;
        enum metric m;
    } known[] = {
        {"signup", M_RATE_SIGNUP},   {"token", M_RATE_TOKEN},
        {"refresh", M_RATE_REFRESH}, {"recover", M_RATE_RECOVER},
        {"resend", M_RATE_RESEND},   {"verify", M_RATE_VERIFY},
        {"oauth", M_RATE_OAUTH},     {"user_update", M_RATE_USER_UPDATE},
        {"mail_to", M_RATE_MAIL_TO}, {"user_update_user", M_RATE_USER_UPDATE_USER},
    };

    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(known[i].scope, scope) == 0)
            return known[i].m;
    return M_RATE_OTHER;
}

int bucket_take(struct ums_ctx *c, const char *scope, const char *key, int per_5min,
                enum bucket_on_error on_error, struct ums_err *err)
{
    char k[256], cap[16], rate[32], now[32];
    const char *argv[6] = {"EVAL", bucket_lua, "1", k, cap, rate};
    const char *full[7];
    struct timespec ts;
    redisReply *r = NULL;
    int rc;

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
        return on_error == BUCKET_CLOSED ? UMS_EUNAVAILABLE : UMS_OK;
    }
    rc = UMS_OK;
    if (r->element[0]->integer == 0) {
        metrics_inc(scope_metric(scope));
        rc = err_set(err, FAIL_RATE, NULL);
        err->retry_after = r->element[1]->integer < 1 ? 1 : (int)r->element[1]->integer;
    }
    freeReplyObject(r);
    return rc;
}
