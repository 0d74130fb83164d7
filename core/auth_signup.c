/* auth_signup.c - POST /auth/v1/signup: the account rows, the confirmation
 * mail, and an answer that does not reveal whether the address was taken. */
#include "auth.h"
#include "auth_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "audit.h"
#include "config.h"
#include "ctx.h"
#include "db.h"
#include "otp.h"
#include "password.h"
#include "../util/metrics.h"
#include "../util/crypto.h"
#include "../util/ums.h"
#include "../util/utf8.h"
#include "../util/valid.h"

#define NAME_MAX_CHARS 100

/* Inserts the account rows of a sign-up in the open transaction: the user
 * (row_email in its email column), its profile and its email identity for
 * email. *uid is filled; UMS_ECONFLICT when row_email is taken. */
static int insert_account(struct ums_ctx *c, const char *row_email, const char *email,
                          const char *hash, const char *name, const char *data_json,
                          char uid[UUID_LEN + 1])
{
    const char *p[5] = {row_email, hash, name, data_json != NULL ? data_json : "{}", "false"};
    PGresult *res = NULL;
    int rc = db_exec(c->db, &res, STMT_USER_INSERT, 5, p);

    if (rc == UMS_OK && PQntuples(res) == 0)
        rc = UMS_ECONFLICT; /* the unique constraint decided, not a lookup */
    if (rc == UMS_OK)
        snprintf(uid, UUID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (rc == UMS_OK) {
        const char *p1[1] = {uid};
        const char *p3[3] = {uid, email, "false"};
        rc = db_exec(c->db, NULL, STMT_PROFILE_INSERT, 1, p1);
        if (rc == UMS_OK)
            rc = db_exec(c->db, NULL, STMT_IDENTITY_INSERT_EMAIL, 3, p3);
    }
    return rc;
}

/* The user object for an address that is already taken, returned instead of
 * an error when confirmation is required, so sign-up never reveals
 * accounts. It is made as a real one is, by the same rows and the same SQL
 * (an account under a placeholder address, in a transaction that is rolled
 * back), so the two answers cannot be told apart by their shape. */
static int lookalike_user(struct ums_ctx *c, const char *email, const char *hash, const char *name,
                          const char *data_json, char **json)
{
    unsigned char r[16];
    char placeholder[64], hex[33], uid[UUID_LEN + 1];
    PGresult *res = NULL;
    int rc;

    *json = NULL;
    if (crypto_random_bytes(r, sizeof(r)) != UMS_OK)
        return UMS_ERR;
    crypto_hex_encode(hex, r, sizeof(r));
    snprintf(placeholder, sizeof(placeholder), "%s@lookalike.invalid", hex);
    rc = db_begin(c->db);
    if (rc != UMS_OK)
        return rc;
    rc = insert_account(c, placeholder, email, hash, name, data_json, uid);
    if (rc == UMS_OK) {
        const char *p[2] = {uid, email};
        rc = db_exec(c->db, &res, STMT_USER_LOOKALIKE_JSON, 2, p);
    }
    if (rc == UMS_OK && PQntuples(res) == 1) {
        *json = strdup(PQgetvalue(res, 0, 0));
        rc = *json != NULL ? UMS_OK : UMS_ERR;
    } else if (rc == UMS_OK) {
        rc = UMS_ERR;
    }
    PQclear(res);
    db_rollback(c->db);
    return rc;
}

/* The user.registered event of a new account (the welcome mail, with its
 * confirmation code and link) into the outbox of the open transaction. */
static int registered_event(struct ums_ctx *c, const char *uid, const char *email, const char *name,
                            const char *redirect_to, const char *otp, const char *th, long long *id,
                            char **text)
{
    struct json_object *ev = json_object_new_object();

    json_object_object_add(ev, "type", json_object_new_string("user.registered"));
    json_object_object_add(ev, "user_id", json_object_new_string(uid));
    json_object_object_add(ev, "email", json_object_new_string(email));
    json_object_object_add(ev, "name", json_object_new_string(name));
    json_object_object_add(ev, "verify_type", json_object_new_string("signup"));
    if (redirect_to != NULL)
        json_object_object_add(ev, "redirect_to", json_object_new_string(redirect_to));
    return auth_event_add_secret(c, ev, otp, th, id, text);
}

/* data.name when it is a string of at most 100 characters, else "". */
static void name_from(char *out, size_t outlen, const char *data_json)
{
    struct json_object *o = data_json != NULL ? json_tokener_parse(data_json) : NULL, *v;

    out[0] = '\0';
    if (o != NULL && json_object_object_get_ex(o, "name", &v) &&
        json_object_is_type(v, json_type_string) && json_object_get_string_len(v) <= 400) {
        const char *s = json_object_get_string(v);
        snprintf(out, outlen, "%.*s", (int)utf8_prefix(s, NAME_MAX_CHARS), s);
    }
    json_object_put(o);
}

int auth_signup(struct ums_ctx *c, const char *email_in, size_t email_len, const char *password,
                size_t password_len, const char *data_json, const char *redirect_to,
                const struct client_info *ci, struct auth_out *out, struct ums_err *err)
{
    char email[EMAIL_MAX + 1], name[512], hash[PW_HASH_MAX], uid[UUID_LEN + 1];
    char otp[OTP_LEN + 1], th[TOKEN_HASH_LEN + 1];
    char sid[UUID_LEN + 1], refresh[REFRESH_TOKEN_LEN + 1];
    int confirm = c->cfg->auth.require_email_confirmation, rc, tx = 0;
    PGresult *res = NULL;
    long long ev_id = 0;
    char *ev_text = NULL;

    if (email_in == NULL || valid_email_normalize(email, email_in, email_len) != UMS_OK)
        return err_set(err, FAIL_VALIDATION, "Unable to validate email address: invalid format");
    /* Policy first: a 1 MB password is refused before any hashing. */
    if (auth_user_check_password(password, password_len, err) != UMS_OK)
        return UMS_EDENIED;
    if (auth_user_check_metadata(data_json, err) != UMS_OK)
        return UMS_EDENIED;
    name_from(name, sizeof(name), data_json);
    if (password_hash(hash, &c->pw, password, password_len) != UMS_OK)
        return UMS_ERR;

    rc = db_begin(c->db);
    if (rc != UMS_OK)
        return rc;
    tx = 1;
    rc = insert_account(c, email, email, hash, name, data_json, uid);
    if (rc == UMS_ECONFLICT) {
        /* The address is taken. */
        db_rollback(c->db);
        tx = 0;
        if (confirm)
            rc = lookalike_user(c, email, hash, name, data_json, &out->user_json);
        else
            rc = err_set(err, FAIL_USER_EXISTS, NULL);
        goto out;
    }
    if (rc == UMS_OK)
        rc = otp_create(c, uid, "confirmation", email, otp, th);
    if (rc == UMS_OK && !confirm)
        rc = sessions_create(c, uid, ci->user_agent, ci->ip, "password", sid, refresh, NULL);
    if (rc == UMS_OK)
        rc = registered_event(c, uid, email, name, redirect_to, otp, th, &ev_id, &ev_text);
    if (rc == UMS_OK)
        rc = audit_write(c->db, uid, "user.signup", uid, ci->ip, NULL);
    if (rc == UMS_OK) {
        rc = db_commit(c->db);
        tx = 0;
    }
    if (rc != UMS_OK)
        goto out; /* rolled back there when a step failed */
    auth_event_publish(c, ev_id, ev_text);
    ev_text = NULL;
    metrics_inc(M_SIGNUP_PASSWORD);
    if (confirm) {
        rc = auth_user_json(c, uid, &out->user_json);
        snprintf(out->user_id, sizeof(out->user_id), "%s", uid);
    } else {
        memcpy(out->refresh_token, refresh, sizeof(refresh));
        rc = auth_issue(c, uid, sid, out);
    }
out:
    if (tx)
        db_rollback(c->db);
    PQclear(res);
    free(ev_text);
    explicit_bzero(hash, sizeof(hash));
    return rc;
}

int auth_signup_passwordless(struct ums_ctx *c, const char *email, const char *data_json,
                             const char *redirect_to, const struct client_info *ci)
{
    char name[512], uid[UUID_LEN + 1], otp[OTP_LEN + 1], th[TOKEN_HASH_LEN + 1];
    long long ev_id = 0;
    char *ev_text = NULL;
    int rc;

    name_from(name, sizeof(name), data_json);
    rc = db_begin(c->db);
    if (rc != UMS_OK)
        return rc;
    /* No password: the empty hash no password matches (as admin_create). */
    rc = insert_account(c, email, email, "", name, data_json, uid);
    if (rc == UMS_ECONFLICT) {
        db_rollback(c->db); /* made meanwhile by someone else: nothing to do */
        return UMS_OK;
    }
    if (rc == UMS_OK)
        rc = otp_create(c, uid, "confirmation", email, otp, th);
    if (rc == UMS_OK)
        rc = registered_event(c, uid, email, name, redirect_to, otp, th, &ev_id, &ev_text);
    if (rc == UMS_OK)
        rc = audit_write(c->db, uid, "user.signup", uid, ci->ip, "{\"method\":\"otp\"}");
    rc = db_end(c->db, rc);
    if (rc != UMS_OK) {
        free(ev_text);
        return rc;
    }
    auth_event_publish(c, ev_id, ev_text);
    metrics_inc(M_SIGNUP_OTP);
    return UMS_OK;
}
