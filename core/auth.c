/* auth.c - sign-in, refresh, sessions after a one-time code, logout, and
 * what the other auth_*.c files share: tokens for a session (auth_issue)
 * and the outbox events of the flows. */
#include "auth.h"
#include "auth_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "audit.h"
#include "config.h"
#include "../util/crypto.h"
#include "ctx.h"
#include "db.h"
#include "lockout.h"
#include "outbox.h"
#include "password.h"
#include "tokens.h"
#include "../util/metrics.h"
#include "../util/ums.h"
#include "../util/valid.h"

void auth_out_init(struct auth_out *o)
{
    memset(o, 0, sizeof(*o));
    buf_init(&o->access_token, 64 * 1024);
}

void auth_out_free(struct auth_out *o)
{
    free(o->user_json);
    buf_free(&o->access_token);
    o->user_json = NULL;
    crypto_free_secret(o->provider_token);
    crypto_free_secret(o->provider_refresh_token);
    o->provider_token = o->provider_refresh_token = NULL;
}

/* [auth] roles: comma-separated names like the users.role constraint
 * (^[a-z][a-z0-9_]{0,19}$), user and admin among them. */
static int roles_check(const char *roles, char *err, size_t errlen)
{
    int has_user = 0, has_admin = 0;
    const char *s = roles;

    while (*s != '\0') {
        size_t n;
        while (*s == ' ' || *s == ',')
            s++;
        n = strcspn(s, ", ");
        if (n == 0)
            break;
        if (n > 20 || s[0] < 'a' || s[0] > 'z' ||
            strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") < n) {
            snprintf(err, errlen,
                     "[auth] roles: \"%.*s\" is not a role name ([a-z][a-z0-9_]*, "
                     "at most 20)",
                     (int)(n > 40 ? 40 : n), s);
            return UMS_EINVALID;
        }
        has_user |= n == 4 && strncmp(s, "user", 4) == 0;
        has_admin |= n == 5 && strncmp(s, "admin", 5) == 0;
        s += n;
    }
    if (!has_user || !has_admin) {
        snprintf(err, errlen, "[auth] roles must include user and admin");
        return UMS_EINVALID;
    }
    return UMS_OK;
}

int auth_config_check(const struct ums_config *cfg, char *err, size_t errlen)
{
    if (strlen(cfg->auth.refresh_token_secret) < 32) {
        snprintf(err, errlen, "[auth] refresh_token_secret must have at least 32 characters");
        return UMS_EINVALID;
    }
    /* The service key is an admin's password for every admin route. */
    if (cfg->auth.service_key[0] != '\0' && strlen(cfg->auth.service_key) < 32) {
        snprintf(err, errlen, "[auth] service_key must have at least 32 characters (or none)");
        return UMS_EINVALID;
    }
    return roles_check(cfg->auth.roles, err, errlen);
}

int auth_issue_row(struct ums_ctx *c, PGresult *res, const char *uid, const char *sid,
                   struct auth_out *out)
{
    struct token_claims tc;
    char amr[96];
    long now = (long)time(NULL);
    int rc;

    snprintf(amr, sizeof(amr), "[{\"method\":\"%s\",\"timestamp\":%ld}]",
             out->method != NULL ? out->method : "password", now);
    memset(&tc, 0, sizeof(tc));
    tc.sub = uid;
    tc.email = PQgetvalue(res, 0, 1);
    tc.phone = "";
    tc.session_id = sid;
    tc.app_role = PQgetvalue(res, 0, 2);
    tc.app_metadata_json = PQgetvalue(res, 0, 6);
    tc.user_metadata_json = PQgetvalue(res, 0, 7);
    tc.amr_json = amr;
    tc.aal = "aal1";
    rc = tokens_sign(c->tokens, &out->access_token, &tc, now, &out->expires_at);
    if (rc == UMS_OK) {
        out->user_json = strdup(PQgetvalue(res, 0, 5));
        rc = out->user_json != NULL ? UMS_OK : UMS_ERR;
    }
    if (rc != UMS_OK)
        return rc;
    snprintf(out->user_id, sizeof(out->user_id), "%s", uid);
    snprintf(out->session_id, sizeof(out->session_id), "%s", sid);
    out->expires_in = c->cfg->auth.access_token_ttl;
    out->has_session = 1;
    return UMS_OK;
}

int auth_issue(struct ums_ctx *c, const char *uid, const char *sid, struct auth_out *out)
{
    PGresult *res = NULL;
    int rc = auth_user_load(c, uid, &res);

    if (rc != UMS_OK)
        return rc == UMS_ENOTFOUND ? UMS_ERR : rc;
    rc = auth_issue_row(c, res, uid, sid, out);
    PQclear(res);
    return rc;
}

/* Renders an event object and adds it to the outbox; frees ev. */
int auth_event_add(struct ums_ctx *c, struct json_object *ev, long long *id, char **text)
{
    return auth_event_add_secret(c, ev, NULL, NULL, id, text);
}

int auth_event_add_secret(struct ums_ctx *c, struct json_object *ev, const char *otp,
                          const char *link, long long *id, char **text)
{
    const char *s = json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN);
    int rc = UMS_ERR;

    *text = s != NULL ? strdup(s) : NULL;
    if (*text != NULL)
        rc = outbox_add_secret(c->db, *text, otp, link, id);
    json_object_put(ev);
    return rc;
}

void auth_event_publish(struct ums_ctx *c, long long id, char *text)
{
    if (text != NULL && id > 0)
        outbox_publish(c->db, c->kv, id, text);
    free(text);
}

/* After a failed password: count it, and tell the owner when a lock starts. */
static void login_failed(struct ums_ctx *c, const char *email, const char *uid,
                         const struct client_info *ci)
{
    int locked_now = 0;

    if (lockout_fail(c, email, &locked_now) != UMS_OK)
        return;
    if (locked_now)
        metrics_inc(M_LOCKOUTS);
    audit_write(c->db, NULL, "user.login_failed", uid, ci->ip, NULL);
    if (locked_now && uid != NULL) {
        struct json_object *ev = json_object_new_object();
        long long id = 0;
        char *text = NULL;
        json_object_object_add(ev, "type", json_object_new_string("account.locked"));
        json_object_object_add(ev, "user_id", json_object_new_string(uid));
        json_object_object_add(ev, "email", json_object_new_string(email));
        json_object_object_add(ev, "minutes",
                               json_object_new_int(c->cfg->auth.lockout_duration / 60));
        if (auth_event_add(c, ev, &id, &text) == UMS_OK) {
            audit_write(c->db, NULL, "user.locked", uid, ci->ip, NULL);
            auth_event_publish(c, id, text);
        } else {
            free(text);
        }
    } else if (locked_now) {
        audit_write(c->db, NULL, "user.locked", NULL, ci->ip, NULL);
    }
}

void auth_count_signin(enum metric first, int rc, const struct ums_err *err)
{
    int k = 5; /* error */

    if (rc == UMS_OK)
        k = 0;
    else if (rc == UMS_EDENIED && err != NULL)
        switch (err->fail) {
        case FAIL_INVALID_CREDENTIALS:
        case FAIL_OTP_EXPIRED:
        case FAIL_FLOW_STATE_NOT_FOUND:
        case FAIL_FLOW_STATE_EXPIRED:
        case FAIL_BAD_CODE_VERIFIER:
            k = 1;
            break;
        case FAIL_USER_LOCKED:
            k = 2;
            break;
        case FAIL_EMAIL_NOT_CONFIRMED:
            k = 3;
            break;
        case FAIL_USER_BANNED:
            k = 4;
            break;
        default:
            return; /* a rate limit, a bad request: not a sign-in attempt */
        }
    metrics_inc((enum metric)(first + k));
}

static int login(struct ums_ctx *c, const char *email_in, size_t email_len, const char *password,
                 size_t password_len, const struct client_info *ci, struct auth_out *out,
                 struct ums_err *err);

int auth_login(struct ums_ctx *c, const char *email_in, size_t email_len, const char *password,
               size_t password_len, const struct client_info *ci, struct auth_out *out,
               struct ums_err *err)
{
    int rc = login(c, email_in, email_len, password, password_len, ci, out, err);

    auth_count_signin(M_SIGNIN_password_SUCCESS, rc, err);
    return rc;
}

static int login(struct ums_ctx *c, const char *email_in, size_t email_len, const char *password,
                 size_t password_len, const struct client_info *ci, struct auth_out *out,
                 struct ums_err *err)
{
    char email[EMAIL_MAX + 1], uid[UUID_LEN + 1], newhash[PW_HASH_MAX] = "", eh[65];
    char life[16], rt_ttl[16], rth[65];
    PGresult *res = NULL;
    int rc;
    const char *rehash = NULL;

    if (email_in == NULL || password == NULL)
        return err_set(err, FAIL_INVALID_CREDENTIALS, NULL);
    if (valid_email_normalize(email, email_in, email_len) != UMS_OK ||
        password_len > PW_MAX_CHARS * 4)
        return err_set(err, FAIL_INVALID_CREDENTIALS, NULL);
    /* Round trip one: the lock and the account. */
    crypto_sha256_hex(eh, email, strlen(email));
    {
        const char *p[2] = {email, eh};
        rc = db_exec(c->db, &res, STMT_LOGIN_LOOKUP, 2, p);
    }
    if (rc != UMS_OK)
        goto out;
    if (db_int(res, 0, 0) > 0) {
        err->retry_after = db_int(res, 0, 0);
        rc = err_set(err, FAIL_USER_LOCKED,
                     "Too many failed sign-in attempts; the account is locked for a while.");
        goto out;
    }
    if (PQgetisnull(res, 0, 1)) {
        /* The same argon2 work as for a real account. */
        password_verify_dummy(&c->pw, password, password_len);
        login_failed(c, email, NULL, ci);
        rc = err_set(err, FAIL_INVALID_CREDENTIALS, NULL);
        goto out;
    }
    snprintf(uid, sizeof(uid), "%s", PQgetvalue(res, 0, 1));
    /* An account made by a provider has no password (''): it is refused
     * after the same argon2 work, so the answer's time tells nothing. */
    if (PQgetvalue(res, 0, 2)[0] == '\0')
        password_verify_dummy(&c->pw, password, password_len);
    if (!password_verify(PQgetvalue(res, 0, 2), password, password_len)) {
        login_failed(c, email, uid, ci);
        rc = err_set(err, FAIL_INVALID_CREDENTIALS, NULL);
        goto out;
    }
    if (strcmp(PQgetvalue(res, 0, 3), "active") != 0 || PQgetvalue(res, 0, 5)[0] == 't') {
        rc = err_set(err, FAIL_USER_BANNED, NULL);
        goto out;
    }
    if (c->cfg->auth.require_email_confirmation && PQgetvalue(res, 0, 4)[0] != 't') {
        rc = err_set(err, FAIL_EMAIL_NOT_CONFIRMED, NULL);
        goto out;
    }
    if (password_needs_rehash(PQgetvalue(res, 0, 2), &c->pw) &&
        password_hash(newhash, &c->pw, password, password_len) == UMS_OK)
        rehash = newhash;
    PQclear(res);
    res = NULL;

    /* Round trip two: counter, session, refresh token, sign-in time and audit
     * row in one statement (sql/004_sign_in.sql), returning the user. */
    if (sessions_new_refresh(out->refresh_token) != UMS_OK) {
        rc = UMS_ERR;
        goto out;
    }
    crypto_sha256_hex(rth, out->refresh_token, REFRESH_TOKEN_LEN);
    snprintf(life, sizeof(life), "%d", c->cfg->auth.session_lifetime);
    snprintf(rt_ttl, sizeof(rt_ttl), "%d", c->cfg->auth.refresh_token_ttl);
    {
        const char *p[9] = {uid,        eh,  life,   ci->user_agent, ci->ip != NULL ? ci->ip : "",
                            "password", rth, rt_ttl, rehash};
        rc = db_exec(c->db, &res, STMT_SIGN_IN, 9, p);
    }
    if (rc == UMS_OK && PQntuples(res) != 1)
        rc = UMS_ERR;
    if (rc == UMS_OK) {
        char sid[UUID_LEN + 1];
        snprintf(sid, sizeof(sid), "%s", PQgetvalue(res, 0, 8));
        if (!PQgetisnull(res, 0, 9)) /* a new device: the alert event */
            auth_event_publish(c, db_ll(res, 0, 9), strdup(PQgetvalue(res, 0, 10)));
        auth_user_cache_drop(c, uid); /* last_sign_in_at changed */
        rc = auth_issue_row(c, res, uid, sid, out);
    }
out:
    explicit_bzero(newhash, sizeof(newhash));
    PQclear(res);
    return rc;
}

int auth_refresh(struct ums_ctx *c, const char *refresh, struct auth_out *out, struct ums_err *err)
{
    char sid[UUID_LEN + 1], uid[UUID_LEN + 1], next[REFRESH_TOKEN_LEN + 1];
    enum sess_fail why;
    int rc = sessions_refresh(c, refresh, sid, uid, next, &why);

    if (rc == UMS_EDENIED)
        metrics_inc(M_REFRESH_INVALID);
    if (rc == UMS_EDENIED) {
        switch (why) {
        case SF_ALREADY_USED:
            return err_set(err, FAIL_REFRESH_USED, NULL);
        case SF_SESSION_NOT_FOUND:
            return err_set(err, FAIL_SESSION_NOT_FOUND, NULL);
        case SF_SESSION_EXPIRED:
            return err_set(err, FAIL_SESSION_EXPIRED, NULL);
        default:
            return err_set(err, FAIL_REFRESH_NOT_FOUND, NULL);
        }
    }
    if (rc != UMS_OK)
        return rc;
    memcpy(out->refresh_token, next, sizeof(next));
    return auth_issue(c, uid, sid, out);
}

void auth_principal_clear(struct principal *p)
{
    free(p->user_json);
    memset(p, 0, sizeof(*p));
}

int auth_session_for(struct ums_ctx *c, const char *user_id, const char *method,
                     const struct client_info *ci, struct auth_out *out)
{
    char sid[UUID_LEN + 1];
    struct sess_alert alert;
    int rc = sessions_create(c, user_id, ci->user_agent, ci->ip, method, sid, out->refresh_token,
                             &alert);

    if (rc == UMS_OK)
        auth_event_publish(c, alert.id, alert.text);
    else
        free(alert.text);
    if (rc == UMS_OK) {
        const char *p[2] = {user_id, NULL};
        db_exec(c->db, NULL, STMT_USER_SIGNED_IN, 2, p);
        auth_user_cache_drop(c, user_id);
        out->method = method;
        rc = auth_issue(c, user_id, sid, out);
    }
    return rc;
}

int auth_logout(struct ums_ctx *c, const struct principal *p, enum sess_scope scope,
                const struct client_info *ci)
{
    static const char *const names[] = {"global", "local", "others"};
    char details[64];
    int n = 0, rc = sessions_revoke(c, p->user_id, p->session_id, scope, M_REVOKED_LOGOUT, &n);

    if (rc == UMS_OK) {
        snprintf(details, sizeof(details), "{\"scope\":\"%s\",\"sessions\":%d}", names[scope], n);
        audit_write(c->db, p->user_id, "user.logout", p->user_id, ci->ip, details);
    }
    return rc;
}
