/* lockout.h - durable per-email lockout (PostgreSQL) and per-IP token
 * buckets (Redis). */
#ifndef UMS_LOCKOUT_H
#define UMS_LOCKOUT_H

struct ums_ctx;

/* (Whether an address is locked is read with the account, in one round trip:
 * STMT_LOGIN_LOOKUP in auth.c.) */

/* Records one failed sign-in. *locked_now is 1 when this failure started a
 * lock. 0 or a UMS_E* code. */
int lock_fail(struct ums_ctx *c, const char *email, int *locked_now);

/* Forgets failures and any lock (successful sign-in, reset, admin unlock). */
int lock_clear(struct ums_ctx *c, const char *email);

/* How rl_take answers when Redis returns an error reply (out of memory
 * under noeviction, a script error) rather than being unreachable. */
enum rl_on_error {
    RL_OPEN,   /* allow, as when Redis is down */
    RL_CLOSED, /* refuse: UMS_EUNAVAILABLE (credential checks: token, verify) */
};

/*
 * Takes one token from bucket scope:key that holds `per_5min` tokens and
 * refills at per_5min / 300 s. Returns 0 when allowed, UMS_EDENIED when
 * empty (*retry_after seconds until a token is back). With Redis
 * unreachable, or per_5min == 0, every request is allowed (the web server's
 * limit_req is the remaining per-IP guard, and PostgreSQL counts sign-in and
 * code failures per address). An error reply from Redis follows on_error.
 */
int rl_take(struct ums_ctx *c, const char *scope, const char *key, int per_5min,
            enum rl_on_error on_error, int *retry_after);

#define RL_IP_KEY_MAX 52 /* INET6_ADDRSTRLEN and "/64" */

/* The bucket key of a client address: an IPv4 address as it is (an
 * IPv4-mapped IPv6 address as IPv4), an IPv6 address by its /64 (one
 * subscriber's whole prefix is one client), anything else as "-". */
void rl_ip_key(char out[RL_IP_KEY_MAX], const char *ip);

#endif
