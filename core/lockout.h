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

/*
 * Takes one token from bucket scope:key that holds `per_5min` tokens and
 * refills at per_5min / 300 s. Returns 0 when allowed, UMS_EDENIED when
 * empty (*retry_after seconds until a token is back). With Redis down, or
 * per_5min == 0, every request is allowed (the web server's limit_req is the
 * remaining per-IP guard).
 */
int rl_take(struct ums_ctx *c, const char *scope, const char *key, int per_5min,
            int *retry_after);

#endif
