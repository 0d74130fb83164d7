/* err.h - the one error record of ums. A core function that fails in a way
 * the client must hear about fills it where the failure is known and returns
 * UMS_EDENIED; fcgi/ turns it into a status, an error_code and a message in
 * one table (reply_fail, fcgi/reply.c). Every other UMS_E* code is a
 * failure without a record (not found, unavailable, a bug). */
#ifndef UMS_ERR_H
#define UMS_ERR_H

/* What went wrong, for the client. The comments give /auth/v1's code. */
enum err_fail {
    FAIL_NONE,
    FAIL_VALIDATION,           /* validation_failed; field, when set, names the member */
    FAIL_WEAK_PASSWORD,        /* weak_password, reason set ("length", "characters") */
    FAIL_USER_EXISTS,          /* user_already_exists */
    FAIL_EMAIL_EXISTS,         /* email_exists */
    FAIL_INVALID_CREDENTIALS,  /* invalid_credentials */
    FAIL_EMAIL_NOT_CONFIRMED,  /* email_not_confirmed */
    FAIL_USER_BANNED,          /* user_banned, signing in */
    FAIL_TOKEN_USER_BANNED,    /* user_banned, a Bearer token's user */
    FAIL_USER_LOCKED,          /* user_locked, retry_after set */
    FAIL_REFRESH_NOT_FOUND,    /* refresh_token_not_found */
    FAIL_REFRESH_USED,         /* refresh_token_already_used */
    FAIL_SESSION_NOT_FOUND,    /* session_not_found, refreshing */
    FAIL_TOKEN_SESSION_GONE,   /* session_not_found, a Bearer token's session */
    FAIL_SESSION_EXPIRED,      /* session_expired */
    FAIL_BAD_JWT,              /* bad_jwt */
    FAIL_USER_NOT_FOUND,       /* user_not_found: the user named by the request */
    FAIL_TOKEN_USER_GONE,      /* user_not_found: the user of a Bearer token */
    FAIL_SAME_PASSWORD,        /* same_password */
    FAIL_OTP_EXPIRED,          /* otp_expired */
    FAIL_FORBIDDEN,            /* forbidden */
    FAIL_LAST_ADMIN,           /* last_admin: it would leave no active admin */
    FAIL_METADATA_TOO_LARGE,   /* validation_failed, 422: metadata over its size or depth */
    FAIL_EMAIL_RATE,           /* over_email_send_rate_limit, retry_after set */
    FAIL_RATE,                 /* over_request_rate_limit, retry_after set */
    FAIL_REAUTH_NEEDED,        /* reauthentication_needed */
    FAIL_REAUTH_INVALID,       /* reauthentication_not_valid */
    FAIL_IMAGE,                /* unsupported_image: not a PNG, JPEG or WebP */
    FAIL_FLOW_STATE_NOT_FOUND, /* flow_state_not_found: no such auth code */
    FAIL_FLOW_STATE_EXPIRED,   /* flow_state_expired */
    FAIL_BAD_CODE_VERIFIER,    /* bad_code_verifier */
    FAIL_SINGLE_IDENTITY,      /* single_identity_not_deletable */
    FAIL_IDENTITY_NOT_FOUND,   /* identity_not_found */
    FAIL__MAX
};

struct ums_err {
    enum err_fail fail;
    const char *msg;    /* static, for the client; NULL: the default of the code */
    const char *field;  /* FAIL_VALIDATION: the member or parameter at fault, or NULL */
    const char *reason; /* FAIL_WEAK_PASSWORD: "length" or "characters"; FAIL_VALIDATION
                         * with a field: the field error's code when not "invalid" */
    int retry_after;    /* seconds, for the Retry-After header; 0: none */
};

/* Sets e->fail and e->msg, clears e->field, and returns UMS_EDENIED; reason
 * and retry_after are the caller's to set. */
int err_set(struct ums_err *e, enum err_fail f, const char *msg);

/* FAIL_VALIDATION naming field (a static string); returns UMS_EDENIED.
 * err_required: the same for a member that is missing (code "required"). */
int err_field(struct ums_err *e, const char *field, const char *msg);
int err_required(struct ums_err *e, const char *field, const char *msg);

#endif
