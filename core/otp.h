/* otp.h - one-time tokens: a 6-digit code and a link token, as GoTrue mails
 * them. The link token (token_hash on the wire) is 28 random bytes in hex,
 * independent of the code; only its SHA-256 is stored. The code is stored
 * as SHA-256(user id ":" code). A newer token voids the older ones of its
 * kind; OTP_MAX_FAILURES wrong codes for an address void its live codes. */
#ifndef UMS_OTP_H
#define UMS_OTP_H

struct ums_ctx;

#define OTP_LEN          6
#define TOKEN_HASH_LEN   56
#define OTP_MAX_FAILURES 5

/* kind: confirmation, recovery, email_change, magiclink, invite. target is
 * the address the code is sent to. In the caller's transaction. */
int otp_create(struct ums_ctx *c, const char *user_id, const char *kind, const char *target,
               char otp[OTP_LEN + 1], char link[TOKEN_HASH_LEN + 1]);

/* What a consumed token was for. */
struct otp_use {
    char user_id[37];
    char kind[16];
    char target[256];
};

/*
 * Consumes the live token of one of kinds (a text[] literal such as
 * "{recovery}") that the code opens for the address email. In the caller's
 * transaction. UMS_OK with *out filled; UMS_ENOTFOUND for a wrong, expired
 * or voided code: the wrong guess was counted, so the caller commits before
 * it answers; or an error.
 */
int otp_consume_code(struct ums_ctx *c, const char *email, const char *kinds, const char *code,
                     struct otp_use *out);

/* Consumes the live token of one of kinds whose link token is link (56
 * lower-case hex). In the caller's transaction. UMS_OK, UMS_ENOTFOUND or an
 * error. */
int otp_consume_link(struct ums_ctx *c, const char *link, const char *kinds, struct otp_use *out);

#endif
