/* verify.c - recovery, confirmation, email change, magic links, generated
 * links, and redirect_to validation. */
#include "verify.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "admin.h"
#include "auth_db.h"
#include "audit.h"
#include "config.h"
#include "../util/metrics.h"
#include "../util/crypto.h"
#include "ctx.h"
#include "db.h"
#include "bucket.h"
#include "lockout.h"
#include "../util/log.h"
#include "../util/ums.h"
#include "../util/valid.h"

/* Adds the common event members and sends it through the outbox. */
static int event(struct ums_ctx *c, const char *type, const char *uid, const char *to,
                 const char *otp, const char *th, const char *verify_type, const char *redirect_to,
                 long long *id, char **text)
{
    struct json_object *ev = json_object_new_object();

    json_object_object_add(ev, "type", json_object_new_string(type));
    json_object_object_add(ev, "user_id", json_object_new_string(uid));
    json_object_object_add(ev, "email", json_object_new_string(to));
    json_object_object_add(ev, "verify_type", json_object_new_string(verify_type));
    if (redirect_to != NULL)
        json_object_object_add(ev, "redirect_to", json_object_new_string(redirect_to));
    return auth_event_add_secret(c, ev, otp, th, id, text);
}

/* Ends the open transaction: commits it when rc is UMS_OK (else rolls it
 * back), then publishes the event and drops the user's cached copies
 * (uid may be NULL). Returns the outcome. */
static int finish(struct ums_ctx *c, int rc, const char *uid, long long id, char *text)
{
    rc = db_end(c->db, rc);
    if (rc != UMS_OK) {
        free(text);
        return rc;
    }
    if (uid != NULL)
        auth_user_cache_drop(c, uid);
    auth_event_publish(c, id, text);
    return rc;
}

/* One more mail to the address email (normalised): a bucket per recipient
 * ([limits] email_per_recipient_per_5min), whether or not an account has
 * it, so that no address can be flooded from many accounts or clients.
 * UMS_OK, or UMS_EDENIED with err set (retry_after). */
static int mail_quota(struct ums_ctx *c, const char *email, struct ums_err *err);

int verify_mail_quota(struct ums_ctx *c, const char *email_in, size_t email_len,
                      struct ums_err *err)
{
    char email[EMAIL_MAX + 1];

    if (email_in == NULL || valid_email_normalize(email, email_in, email_len) != UMS_OK)
        return UMS_OK; /* no mail will go: nothing to count */
    return mail_quota(c, email, err);
}

static int mail_quota(struct ums_ctx *c, const char *email, struct ums_err *err)
{
    char key[65];

    crypto_sha256_hex(key, email, strlen(email));
    if (bucket_take(c, "mail_to", key, c->cfg->limits.email_per_recipient_per_5min, BUCKET_OPEN,
                    err) != UMS_EDENIED)
        return UMS_OK;
    err->fail = FAIL_EMAIL_RATE; /* the same bucket, told as GoTrue tells it */
    return UMS_EDENIED;
}

/* The account of the address email for a mailed code: *state is 0 when
 * there is none, 1 when it may get none now (a code in the last minute,
 * recovery_sent_at, as GoTrue; suspended or banned), 2 when it may (uid
 * filled). */
static int code_account(struct ums_ctx *c, const char *email, char uid[UUID_LEN + 1], int *state)
{
    const char *p[1] = {email};
    PGresult *res = NULL;
    int rc = db_exec(c->db, &res, STMT_USER_FOR_RECOVERY, 1, p);

    *state = 0;
    if (rc != UMS_OK)
        return rc;
    if (PQntuples(res) > 0) {
        *state = PQgetvalue(res, 0, 1)[0] == 't' ? 1 : 2;
        snprintf(uid, UUID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return UMS_OK;
}

/* Mails user uid a code and link of kind (recovery, magiclink; also the
 * link's verification type): the token, recovery_sent_at, the event what
 * (also the audit action), in one transaction. */
static int mail_code(struct ums_ctx *c, const char *uid, const char *email, const char *kind,
                     const char *what, const char *redirect_to, const struct client_info *ci)
{
    char otp[OTP_LEN + 1], th[TOKEN_HASH_LEN + 1];
    const char *pu[1] = {uid};
    long long id = 0;
    char *text = NULL;
    int rc = db_begin(c->db);

    if (rc != UMS_OK)
        return rc;
    rc = otp_create(c, uid, kind, email, otp, th);
    if (rc == UMS_OK)
        rc = db_exec(c->db, NULL, STMT_USER_RECOVERY_SENT, 1, pu);
    if (rc == UMS_OK)
        rc = event(c, what, uid, email, otp, th, kind, redirect_to, &id, &text);
    if (rc == UMS_OK)
        rc = audit_write(c->db, NULL, what, uid, ci->ip, NULL);
    return finish(c, rc, NULL, id, text);
}

int verify_recover(struct ums_ctx *c, const char *email_in, size_t email_len,
                   const char *redirect_to, const struct client_info *ci)
{
    char email[EMAIL_MAX + 1], uid[UUID_LEN + 1];
    int rc, state;

    if (email_in == NULL || valid_email_normalize(email, email_in, email_len) != UMS_OK)
        return UMS_OK; /* nothing to send, and nothing to tell */
    rc = code_account(c, email, uid, &state);
    if (rc != UMS_OK || state != 2)
        return rc;
    return mail_code(c, uid, email, "recovery", "user.recovery_requested", redirect_to, ci);
}

int verify_magiclink_check(const char *email_in, size_t email_len, const char *data_json,
                           struct ums_err *err)
{
    char email[EMAIL_MAX + 1];

    if (email_in == NULL || valid_email_normalize(email, email_in, email_len) != UMS_OK)
        return err_set(err, FAIL_VALIDATION, "Unable to validate email address: invalid format");
    return auth_user_check_metadata(data_json, err);
}

int verify_magiclink(struct ums_ctx *c, const char *email_in, size_t email_len, int create_user,
                     const char *data_json, const char *redirect_to, const struct client_info *ci)
{
    char email[EMAIL_MAX + 1], uid[UUID_LEN + 1];
    int rc, state;

    if (email_in == NULL || valid_email_normalize(email, email_in, email_len) != UMS_OK)
        return UMS_OK; /* refused before the answer (route_verify_otp) */
    rc = code_account(c, email, uid, &state);
    if (rc != UMS_OK || state == 1)
        return rc;
    if (state == 0)
        return create_user ? auth_signup_passwordless(c, email, data_json, redirect_to, ci)
                           : UMS_OK;
    return mail_code(c, uid, email, "magiclink", "user.magiclink_requested", redirect_to, ci);
}

int verify_resend(struct ums_ctx *c, const char *email_in, size_t email_len,
                  const char *redirect_to, const struct client_info *ci)
{
    char email[EMAIL_MAX + 1], uid[UUID_LEN + 1], otp[OTP_LEN + 1], th[TOKEN_HASH_LEN + 1];
    const char *p[1] = {email};
    PGresult *res = NULL;
    long long id = 0;
    char *text = NULL;
    int rc;

    if (email_in == NULL || valid_email_normalize(email, email_in, email_len) != UMS_OK)
        return UMS_OK; /* nothing to send, and nothing to tell */
    rc = db_begin(c->db);
    if (rc != UMS_OK)
        return rc;
    rc = db_exec(c->db, &res, STMT_USER_CONFIRMATION_SENT, 1, p);
    if (rc == UMS_OK && PQntuples(res) == 0) {
        /* No such account, already confirmed, or sent within the minute. */
        PQclear(res);
        db_rollback(c->db);
        return UMS_OK;
    }
    if (rc == UMS_OK)
        snprintf(uid, sizeof(uid), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (rc == UMS_OK)
        rc = otp_create(c, uid, "confirmation", email, otp, th);
    if (rc == UMS_OK)
        rc = event(c, "user.confirmation_requested", uid, email, otp, th, "signup", redirect_to,
                   &id, &text);
    if (rc == UMS_OK)
        rc = audit_write(c->db, NULL, "user.confirmation_resent", uid, ci->ip, NULL);
    return finish(c, rc, uid, id, text); /* confirmation_sent_at changed */
}

/* The token kinds a verification type may consume, as a text[] literal. */
static const char *kinds_for(const char *type)
{
    static const struct {
        const char *type, *kinds;
    } map[] = {
        {"signup", "{confirmation}"},       {"invite", "{invite}"},
        {"magiclink", "{magiclink}"},       {"recovery", "{recovery}"},
        {"email_change", "{email_change}"}, {"email", "{confirmation,magiclink,invite}"},
    };

    for (size_t i = 0; i < UMS_ARRAY_LEN(map); i++)
        if (type != NULL && strcmp(type, map[i].type) == 0)
            return map[i].kinds;
    return NULL;
}

static int is_token_hash(const char *s)
{
    if (s == NULL || strlen(s) != TOKEN_HASH_LEN)
        return 0;
    for (const char *p = s; *p; p++)
        if (!isxdigit((unsigned char)*p))
            return 0;
    return 1;
}

static int verify_one(struct ums_ctx *c, const char *type, const char *email_in, size_t email_len,
                      const char *token, const char *token_hash, const struct client_info *ci,
                      struct auth_out *out, struct ums_err *err);

int verify_token(struct ums_ctx *c, const char *type, const char *email_in, size_t email_len,
                 const char *token, const char *token_hash, const struct client_info *ci,
                 struct auth_out *out, struct ums_err *err)
{
    int rc = verify_one(c, type, email_in, email_len, token, token_hash, ci, out, err);
    enum fail_kind { NOT_COUNTED, OK, INVALID, OTHER } k = OTHER;

    if (rc == UMS_OK)
        k = OK;
    else if (rc == UMS_EDENIED && err->fail == FAIL_OTP_EXPIRED)
        k = INVALID;
    else if (rc == UMS_EDENIED && (err->fail == FAIL_VALIDATION || err->fail == FAIL_RATE))
        k = NOT_COUNTED;
    if (k == NOT_COUNTED)
        return rc;
    metrics_inc(k == OK ? M_OTP_SUCCESS : k == INVALID ? M_OTP_INVALID : M_OTP_ERROR);
    auth_count_signin(M_SIGNIN_otp_SUCCESS, rc, err);
    return rc;
}

static int verify_one(struct ums_ctx *c, const char *type, const char *email_in, size_t email_len,
                      const char *token, const char *token_hash, const struct client_info *ci,
                      struct auth_out *out, struct ums_err *err)
{
    const char *kinds = kinds_for(type);
    char email[EMAIL_MAX + 1], th[TOKEN_HASH_LEN + 1];
    struct otp_use use;
    const char *uid = use.user_id, *kind = use.kind, *target = use.target;
    PGresult *res = NULL;
    int rc, first = 0;

    if (kinds == NULL)
        return err_set(err, FAIL_VALIDATION,
                       "type must be signup, invite, magiclink, recovery, "
                       "email_change or email");
    if (token_hash != NULL) {
        if (!is_token_hash(token_hash))
            return err_set(err, FAIL_OTP_EXPIRED, "Email link is invalid or has expired");
        for (int i = 0; i < TOKEN_HASH_LEN; i++)
            th[i] = (char)tolower((unsigned char)token_hash[i]);
        th[TOKEN_HASH_LEN] = '\0';
    } else {
        if (email_in == NULL || token == NULL)
            return err_set(err, FAIL_VALIDATION,
                           "Verify requires either a token_hash, or an email "
                           "and a token");
        if (valid_email_normalize(email, email_in, email_len) != UMS_OK || strlen(token) != OTP_LEN)
            return err_set(err, FAIL_OTP_EXPIRED, NULL);
    }
    rc = db_begin(c->db);
    if (rc != UMS_OK)
        return rc;
    rc = token_hash != NULL ? otp_consume_link(c, th, kinds, &use)
                            : otp_consume_code(c, email, kinds, token, &use);
    if (rc == UMS_ENOTFOUND) {
        /* A wrong code was counted against the address: keep the count. */
        rc = db_commit(c->db);
        return rc != UMS_OK ? rc : err_set(err, FAIL_OTP_EXPIRED, NULL);
    }
    if (rc != UMS_OK)
        goto abort;
    {
        /* A suspended or banned user gets no session from a code either
         * (the code stays unused: the rollback keeps it). */
        const char *pu[1] = {uid};
        rc = db_exec(c->db, &res, STMT_USER_MAY_SIGN_IN, 1, pu);
        if (rc == UMS_OK && PQntuples(res) == 0)
            rc = err_set(err, FAIL_USER_BANNED, NULL);
        PQclear(res);
        res = NULL;
        if (rc != UMS_OK)
            goto abort;
    }
    if (strcmp(kind, "email_change") == 0) {
        const char *p[2] = {uid, target};
        rc = db_exec(c->db, &res, STMT_USER_APPLY_EMAIL_CHANGE, 2, p);
        if (rc == UMS_ECONFLICT) {
            db_rollback(c->db);
            return err_set(err, FAIL_EMAIL_EXISTS,
                           "A user with this email address has already been "
                           "registered");
        }
        if (rc == UMS_OK && PQntuples(res) == 0)
            rc = err_set(err, FAIL_OTP_EXPIRED, NULL);
        PQclear(res);
    } else {
        /* Every other kind proves the address: it is confirmed. */
        const char *p[1] = {uid};
        rc = db_exec(c->db, &res, STMT_USER_CONFIRM_EMAIL, 1, p);
        first = rc == UMS_OK && PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
        PQclear(res);
        res = NULL;
    }
    if (rc == UMS_OK)
        rc = audit_write(c->db, uid, "user.verified", uid, ci->ip, NULL);
    if (rc != UMS_OK)
        goto abort;
    rc = db_commit(c->db);
    if (rc != UMS_OK)
        return rc;
    auth_user_cache_drop(c, uid);
    /* A reset through email also lifts a lockout on that address. */
    if (strcmp(kind, "recovery") == 0)
        lockout_clear(c, target);
    /* Account pre-hijacking: someone may have signed up with this address
     * and a password of their own before its owner confirmed it. A
     * recovery, and the first confirmation, end every session made before;
     * the owner gets the new one. */
    if (strcmp(kind, "recovery") == 0 || first) {
        int n = 0;
        rc = sessions_revoke(c, uid, NULL, SCOPE_GLOBAL, M_REVOKED_VERIFY, &n);
        if (rc != UMS_OK)
            return rc;
        if (n > 0)
            audit_write(c->db, uid,
                        first ? "session.revoke_all_on_confirm" : "session.revoke_all_on_recovery",
                        uid, ci->ip, NULL);
    }
    return auth_session_for(c, uid, strcmp(kind, "recovery") == 0 ? "recovery" : "otp", ci, out);
abort:
    db_rollback(c->db);
    return rc;
}

int verify_request_email_change(struct ums_ctx *c, const struct principal *p, const char *email_in,
                                size_t email_len, const char *redirect_to,
                                const struct client_info *ci, struct ums_err *err)
{
    char email[EMAIL_MAX + 1], old[EMAIL_MAX + 1], otp[OTP_LEN + 1], th[TOKEN_HASH_LEN + 1];
    PGresult *res = NULL;
    long long id = 0, notice_id = 0;
    char *text = NULL, *notice_text = NULL;
    int rc;

    if (valid_email_normalize(email, email_in, email_len) != UMS_OK)
        return err_set(err, FAIL_VALIDATION, "Unable to validate email address: invalid format");
    if (mail_quota(c, email, err) != UMS_OK)
        return UMS_EDENIED;
    rc = db_begin(c->db);
    if (rc != UMS_OK)
        return rc;
    {
        /* One email change mail a minute per account. */
        const char *pe[3] = {p->user_id, email, "60"};
        rc = db_exec(c->db, &res, STMT_USER_REQUEST_EMAIL_CHANGE, 3, pe);
    }
    if (rc == UMS_OK && PQntuples(res) == 0) {
        PQclear(res);
        db_rollback(c->db);
        err->retry_after = 60;
        return err_set(err, FAIL_EMAIL_RATE,
                       "For security purposes, you can only request this "
                       "once every 60 seconds");
    }
    if (rc == UMS_OK && strcmp(PQgetvalue(res, 0, 0), email) == 0) {
        /* Already this address: nothing to confirm. */
        PQclear(res);
        db_rollback(c->db);
        return UMS_OK;
    }
    if (rc == UMS_OK)
        snprintf(old, sizeof(old), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (rc == UMS_OK)
        rc = otp_create(c, p->user_id, "email_change", email, otp, th);
    if (rc == UMS_OK)
        rc = event(c, "user.email_change_requested", p->user_id, email, otp, th, "email_change",
                   redirect_to, &id, &text);
    if (rc == UMS_OK) {
        /* The address in use hears of it too: a stolen session cannot move
         * the account away unnoticed. */
        struct json_object *ev = json_object_new_object();
        json_object_object_add(ev, "type", json_object_new_string("user.email_change_notice"));
        json_object_object_add(ev, "user_id", json_object_new_string(p->user_id));
        json_object_object_add(ev, "email", json_object_new_string(old));
        json_object_object_add(ev, "new_email", json_object_new_string(email));
        rc = auth_event_add(c, ev, &notice_id, &notice_text);
    }
    if (rc == UMS_OK)
        rc =
            audit_write(c->db, p->user_id, "user.email_change_requested", p->user_id, ci->ip, NULL);
    rc = finish(c, rc, p->user_id, id, text);
    if (rc == UMS_OK)
        auth_event_publish(c, notice_id, notice_text);
    else
        free(notice_text);
    return rc;
}

int verify_generate_link(struct ums_ctx *c, const char *actor, const char *type,
                         const char *email_in, size_t email_len, const char *password,
                         size_t password_len, const char *data_json, const char *new_email,
                         size_t new_email_len, struct link_out *out, struct ums_err *err)
{
    char email[EMAIL_MAX + 1], target[EMAIL_MAX + 1];
    const char *kind, *pe[1] = {email};
    PGresult *res = NULL;
    int rc, create;

    if (type == NULL)
        return err_set(err, FAIL_VALIDATION, "type is required");
    if (email_in == NULL || valid_email_normalize(email, email_in, email_len) != UMS_OK)
        return err_set(err, FAIL_VALIDATION, "Unable to validate email address: invalid format");
    create = strcmp(type, "signup") == 0 || strcmp(type, "invite") == 0;
    if (strcmp(type, "signup") == 0) {
        kind = "confirmation";
        out->verification_type = "signup";
    } else if (strcmp(type, "invite") == 0) {
        kind = "invite";
        out->verification_type = "invite";
    } else if (strcmp(type, "magiclink") == 0) {
        kind = "magiclink";
        out->verification_type = "magiclink";
    } else if (strcmp(type, "recovery") == 0) {
        kind = "recovery";
        out->verification_type = "recovery";
    } else if (strcmp(type, "email_change_current") == 0 || strcmp(type, "email_change_new") == 0) {
        kind = "email_change";
        out->verification_type = "email_change";
    } else {
        return err_set(err, FAIL_VALIDATION,
                       "type must be signup, invite, magiclink, recovery, "
                       "email_change_current or email_change_new");
    }
    snprintf(target, sizeof(target), "%s", email);
    if (strcmp(kind, "email_change") == 0 &&
        (new_email == NULL || valid_email_normalize(target, new_email, new_email_len) != UMS_OK))
        return err_set(err, FAIL_VALIDATION, "new_email is required for email change links");
    if (create) {
        struct admin_attrs a;
        memset(&a, 0, sizeof(a));
        a.email = email;
        a.email_len = strlen(email);
        a.password = password;
        a.password_len = password_len;
        a.email_confirm = 0;
        a.user_metadata_json = data_json;
        rc = admin_create(c, actor, &a, NULL, out->user_id, err);
        if (rc == UMS_EDENIED && err->fail == FAIL_EMAIL_EXISTS)
            rc = UMS_OK; /* an existing account gets a link too */
        else if (rc != UMS_OK)
            return rc;
        err->fail = FAIL_NONE;
    }
    rc = db_exec(c->db, &res, STMT_USER_FOR_RECOVERY, 1, pe);
    if (rc != UMS_OK)
        return rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return err_set(err, FAIL_USER_NOT_FOUND, "User with this email not found");
    }
    snprintf(out->user_id, sizeof(out->user_id), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    rc = db_begin(c->db);
    if (rc != UMS_OK)
        return rc;
    if (strcmp(kind, "email_change") == 0) {
        const char *p[3] = {out->user_id, target, "0"}; /* an admin's link: no wait */
        rc = db_exec(c->db, &res, STMT_USER_REQUEST_EMAIL_CHANGE, 3, p);
        PQclear(res);
    }
    if (rc == UMS_OK)
        rc = otp_create(c, out->user_id, kind, target, out->otp, out->token_hash);
    if (rc == UMS_OK)
        rc = audit_write(c->db, actor, "admin.link_generated", out->user_id, NULL, NULL);
    rc = db_end(c->db, rc);
    if (rc == UMS_OK)
        auth_user_cache_drop(c, out->user_id);
    return rc;
}
