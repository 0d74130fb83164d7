/* reauth.h - proving it is still the user before the changes a stolen
 * session must not make: a new password, a new address, deleting the
 * account. A session whose last real sign-in is older than [auth]
 * reauthentication_window needs the current password or a code that
 * GET /auth/v1/reauthenticate mails to the user. */
#ifndef UMS_REAUTH_H
#define UMS_REAUTH_H

#include <stddef.h>

struct ums_ctx;
struct principal;
struct client_info;
struct ums_err;

/*
 * Whether principal p may make such a change now: UMS_OK when its session
 * signed in within the window (or the window is 0, or p is the service key)
 * or when current_password or nonce (either may be NULL) proves it, which
 * renews the session's proof; UMS_EDENIED with err (reauthentication_needed,
 * reauthentication_not_valid, user_locked); or an error. Wrong passwords
 * count towards the sign-in lockout, wrong codes towards the code's five.
 */
int reauth_check(struct ums_ctx *c, const struct principal *p, const char *current_password,
                 size_t current_password_len, const char *nonce, const struct client_info *ci,
                 struct ums_err *err);

/* GET|POST /reauthenticate: mails the user a code (no link) for
 * reauth_check; the per-recipient mail quota applies. */
int reauth_send(struct ums_ctx *c, const struct principal *p, const struct client_info *ci,
                struct ums_err *err);

#endif
