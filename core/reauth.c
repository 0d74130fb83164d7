/* reauth.c - proving it is still the user before sensitive changes (reauth.h). */
#include "reauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "audit.h"
#include "auth.h"
#include "config.h"
#include "../util/crypto.h"
#include "ctx.h"
#include "db.h"
#include "lockout.h"
#include "otp.h"
#include "password.h"
#include "../util/ums.h"
#include "verify.h"

/* The session's proof is renewed: the window starts again. */
static int renew(struct ums_ctx *c, const struct principal *p)
{
    const char *q[1] = {p->session_id};

    return db_exec(c->db, NULL, STMT_SESS_REAUTHENTICATED, 1, q);
}

int reauth_check(struct ums_ctx *c, const struct principal *p, const char *current_password,
                 size_t current_password_len, const char *nonce, const struct client_info *ci,
                 struct ums_err *err)
{
    const char *q[2] = {p->session_id, p->user_id};
    char email[256], hash[512], eh[65];
    PGresult *res = NULL;
    long age;
    int rc;

    if (c->cfg->auth.reauthentication_window == 0 || p->service)
        return UMS_OK;
    rc = db_exec(c->db, &res, STMT_SESS_PROOF_AGE, 2, q);
    if (rc != UMS_OK)
        return rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return err_set(err, FAIL_TOKEN_SESSION_GONE, NULL);
    }
    age = db_ll(res, 0, 0);
    snprintf(email, sizeof(email), "%s", PQgetvalue(res, 0, 1));
    snprintf(hash, sizeof(hash), "%s", PQgetvalue(res, 0, 2));
    PQclear(res);
    res = NULL;
    /* A fresh sign-in needs no proof; a proof given anyway must be right
     * (a wrong current password is never taken as a yes). */
    if (age <= c->cfg->auth.reauthentication_window && current_password == NULL && nonce == NULL)
        return UMS_OK;
    if (current_password != NULL) {
        const char *pl[2] = {email, eh};
        int ok;
        /* The sign-in lockout holds here too: no guessing around it. */
        crypto_sha256_hex(eh, email, strlen(email));
        rc = db_exec(c->db, &res, STMT_LOGIN_LOOKUP, 2, pl);
        if (rc != UMS_OK)
            return rc;
        if (db_int(res, 0, 0) > 0) {
            err->retry_after = db_int(res, 0, 0);
            PQclear(res);
            return err_set(err, FAIL_USER_LOCKED, "Too many failed attempts; try again later.");
        }
        PQclear(res);
        ok = password_verify(hash, current_password, current_password_len);
        explicit_bzero(hash, sizeof(hash));
        if (!ok) {
            int locked = 0;
            lockout_fail(c, email, &locked);
            audit_write(c->db, p->user_id, "user.reauthentication_failed", p->user_id, ci->ip,
                        NULL);
            return err_set(err, FAIL_REAUTH_INVALID, "The current password is not right");
        }
        return renew(c, p);
    }
    explicit_bzero(hash, sizeof(hash));
    if (nonce != NULL) {
        struct otp_use use;
        rc = db_begin(c->db);
        if (rc != UMS_OK)
            return rc;
        rc = otp_consume_code(c, email, "{reauthentication}", nonce, &use);
        if (rc == UMS_OK && strcmp(use.user_id, p->user_id) != 0)
            rc = UMS_ENOTFOUND;
        if (rc == UMS_OK)
            rc = renew(c, p);
        if (rc == UMS_OK || rc == UMS_ENOTFOUND) {
            /* A wrong code is counted (otp.c): keep that too. */
            int crc = db_commit(c->db);
            if (crc != UMS_OK)
                return crc;
        } else {
            db_rollback(c->db);
            return rc;
        }
        return rc == UMS_OK ? UMS_OK
                            : err_set(err, FAIL_REAUTH_INVALID, "Verification code is invalid");
    }
    return err_set(err, FAIL_REAUTH_NEEDED,
                   "This change needs your current password (current_password) or a code "
                   "from /reauthenticate (nonce)");
}

int reauth_send(struct ums_ctx *c, const struct principal *p, const struct client_info *ci,
                struct ums_err *err)
{
    const char *q[1] = {p->user_id};
    char email[256], name[512], otp[OTP_LEN + 1], link[TOKEN_HASH_LEN + 1];
    struct json_object *ev;
    PGresult *res = NULL;
    long long id = 0;
    char *text = NULL;
    int rc;

    rc = db_exec(c->db, &res, STMT_USER_FOR_TOKEN, 1, q);
    if (rc != UMS_OK)
        return rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return err_set(err, FAIL_TOKEN_USER_GONE, NULL);
    }
    snprintf(email, sizeof(email), "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    if (verify_mail_quota(c, email, strlen(email), err) != UMS_OK)
        return UMS_EDENIED;
    name[0] = '\0';
    rc = db_begin(c->db);
    if (rc != UMS_OK)
        return rc;
    rc = otp_create(c, p->user_id, "reauthentication", email, otp, link);
    if (rc == UMS_OK) {
        ev = json_object_new_object();
        json_object_object_add(ev, "type",
                               json_object_new_string("user.reauthentication_requested"));
        json_object_object_add(ev, "user_id", json_object_new_string(p->user_id));
        json_object_object_add(ev, "email", json_object_new_string(email));
        rc = auth_event_add_secret(c, ev, otp, NULL, &id, &text);
    }
    if (rc == UMS_OK)
        rc = audit_write(c->db, p->user_id, "user.reauthentication_requested", p->user_id, ci->ip,
                         NULL);
    rc = db_end(c->db, rc);
    explicit_bzero(otp, sizeof(otp));
    explicit_bzero(link, sizeof(link));
    if (rc != UMS_OK) {
        free(text);
        return rc;
    }
    auth_event_publish(c, id, text);
    (void)name;
    return UMS_OK;
}
