/* bucket.h - per-client and per-address token buckets in Redis. */
#ifndef UMS_BUCKET_H
#define UMS_BUCKET_H

#include "err.h"

struct ums_ctx;

/* How bucket_take answers when Redis returns an error reply (out of memory
 * under noeviction, a script error) rather than being unreachable. */
enum bucket_on_error {
    BUCKET_OPEN,   /* allow, as when Redis is down */
    BUCKET_CLOSED, /* refuse: UMS_EUNAVAILABLE (credential checks: token, verify) */
};

/*
 * Takes one token from bucket scope:key that holds `per_5min` tokens and
 * refills at per_5min / 300 s. Returns 0 when allowed, UMS_EDENIED when
 * empty (*retry_after seconds until a token is back). With Redis
 * unreachable, or per_5min == 0, every request is allowed (the web server's
 * limit_req is the remaining per-IP guard, and PostgreSQL counts sign-in and
 * code failures per address). An error reply from Redis follows on_error.
 */
/*
 * Takes one token from bucket scope:key (ums:tb:{scope}:{key}) that holds
 * per_5min tokens and refills at per_5min / 300 s. UMS_OK when allowed;
 * UMS_EDENIED with err FAIL_RATE and retry_after (seconds until a token is
 * back) when empty. With Redis unreachable, or per_5min == 0, every request
 * is allowed (the web server's limit_req is the remaining per-IP guard, and
 * PostgreSQL counts sign-in and code failures per address). An error reply
 * from Redis follows on_error.
 */
int bucket_take(struct ums_ctx *c, const char *scope, const char *key, int per_5min,
                enum bucket_on_error on_error, struct ums_err *err);

#define BUCKET_IP_KEY_MAX 52 /* INET6_ADDRSTRLEN and "/64" */

/* The bucket key of a client address: an IPv4 address as it is (an
 * IPv4-mapped IPv6 address as IPv4), an IPv6 address by its /64 (one
 * subscriber's whole prefix is one client), anything else as "-". */
void bucket_ip_key(char out[BUCKET_IP_KEY_MAX], const char *ip);

#endif
