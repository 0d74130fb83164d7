/* verify.h - flows built on one-time tokens: password recovery, email
 * confirmation, email change, magic links, and admin-generated links. */
#ifndef UMS_VERIFY_H
#define UMS_VERIFY_H

#include <stddef.h>

#include "auth.h"
#include "otp.h"

struct ums_ctx;

/* POST /resend, type signup: a new confirmation code and link for an
 * address that is not confirmed yet, at most once a minute per account.
 * Like recover, it never tells whether the account exists. */
int verify_resend(struct ums_ctx *c, const char *email, size_t email_len, const char *redirect_to,
                  const struct client_info *ci);

/* One more mail to the address: UMS_OK, or UMS_EDENIED (err: FAIL_EMAIL_RATE,
 * retry_after) when it had its share ([limits] email_per_recipient_per_5min),
 * counted whether or not an account has it. Asked before recover and
 * resend, whose answers must not depend on the account. */
int verify_mail_quota(struct ums_ctx *c, const char *email, size_t email_len, struct ums_err *err);

/* POST /recover: sends a recovery code when the account exists, is active
 * and had none in the last minute. 0 whether or not it exists (an error
 * only when the database is unavailable). Run it after the answer has gone
 * out, so its time tells nothing either. */
int verify_recover(struct ums_ctx *c, const char *email, size_t email_len, const char *redirect_to,
                   const struct client_info *ci);

/* POST /otp with an email: a sign-in code and link (kind magiclink) for an
 * active account that had none in the last minute; for an address without
 * an account, when create_user, the account (no password) and its welcome
 * mail, whose link confirms and signs in. Tells nothing either way: run it
 * after the answer, like recover. */
/* What POST /otp refuses before its answer: an address that is none
 * (validation_failed, as GoTrue words it), user_metadata over its limits.
 * UMS_OK, or UMS_EDENIED with err filled. */
int verify_magiclink_check(const char *email, size_t email_len, const char *data_json,
                           struct ums_err *err);
int verify_magiclink(struct ums_ctx *c, const char *email, size_t email_len, int create_user,
                     const char *data_json, const char *redirect_to, const struct client_info *ci);

/* POST|GET /verify: type is signup, invite, magiclink, recovery, email_change
 * or email; either token_hash, or email and the 6-digit token. On success a
 * session is made (out). FAIL_OTP_EXPIRED covers unknown, used and expired. */
int verify_token(struct ums_ctx *c, const char *type, const char *email, size_t email_len,
                 const char *token, const char *token_hash, const struct client_info *ci,
                 struct auth_out *out, struct ums_err *err);

/* PUT /user with an email: asks the new address to confirm the change. */
int verify_request_email_change(struct ums_ctx *c, const struct principal *p, const char *email,
                                size_t email_len, const char *redirect_to,
                                const struct client_info *ci, struct ums_err *err);

/* POST /admin/generate_link. type: signup, invite, magiclink, recovery,
 * email_change_current, email_change_new. Fills user_id, the code and the
 * token hash; no email is sent. */
struct link_out {
    char user_id[UUID_LEN + 1];
    char otp[OTP_LEN + 1];
    char token_hash[TOKEN_HASH_LEN + 1];
    const char *verification_type;
};

int verify_generate_link(struct ums_ctx *c, const char *actor, const char *type, const char *email,
                         size_t email_len, const char *password, size_t password_len,
                         const char *data_json, const char *new_email, size_t new_email_len,
                         struct link_out *out, struct ums_err *err);

#endif
