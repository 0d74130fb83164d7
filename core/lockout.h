/* lockout.h - the durable per-address lockout (PostgreSQL). */
#ifndef UMS_LOCKOUT_H
#define UMS_LOCKOUT_H

struct ums_ctx;

/* (Whether an address is locked is read with the account, in one round trip:
 * STMT_LOGIN_LOOKUP in auth.c.) */

/* Records one failed sign-in. *locked_now is 1 when this failure started a
 * lock. 0 or a UMS_E* code. */
int lockout_fail(struct ums_ctx *c, const char *email, int *locked_now);

/* Forgets failures and any lock (successful sign-in, reset, admin unlock). */
int lockout_clear(struct ums_ctx *c, const char *email);

#endif
