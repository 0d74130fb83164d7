/* otp.h - one-time tokens: a 6-digit code and its link form
 * token_hash = hex(SHA-224(email || code)), as GoTrue builds them. Only
 * SHA-256 of the token_hash is stored; a newer token voids the older ones. */
#ifndef UMS_OTP_H
#define UMS_OTP_H

struct ums_ctx;

#define OTP_LEN 6
#define TOKEN_HASH_LEN 56

/* kind: confirmation, recovery, email_change, magiclink, invite. target is
 * the address the code is sent to. In the caller's transaction. */
int otp_create(struct ums_ctx *c, const char *user_id, const char *kind, const char *target,
               char otp[OTP_LEN + 1], char token_hash[TOKEN_HASH_LEN + 1]);

/* token_hash for an email and code (lowercase hex). */
void otp_token_hash(char out[TOKEN_HASH_LEN + 1], const char *email, const char *otp);

#endif
