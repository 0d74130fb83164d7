/* auth.c - sign-up, sign-in, refresh, Bearer checks, user updates, logout. */
#include "auth.h"

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
#include "kv.h"
#include "lockout.h"
#include "../util/log.h"
#include "metadata.h"
#include "otp.h"
#include "outbox.h"
#include "password.h"
#include "tokens.h"
#include "../util/ums.h"
#include "../util/valid.h"

#define NAME_MAX_CHARS 100

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

/* The user row for tokens and responses: 0..8 as in STMT_USER_FOR_TOKEN. */
static int load_user(struct ums_ctx *c, const char *uid, PGresult **res)
{
    const char *p[1] = {uid};
    int rc = db_exec(c->db, res, STMT_USER_FOR_TOKEN, 1, p);

    if (rc == UMS_OK && PQntuples(*res) == 0) {
        PQclear(*res);
        *res = NULL;
        return UMS_ENOTFOUND;
    }
    return rc;
}

/* Fills out with the user object and an access token for session sid. */
/* Fills out from a row shaped like STMT_USER_FOR_TOKEN (columns 0-7). */
static int issue_row(struct ums_ctx *c, PGresult *res, const char *uid, const char *sid,
                     struct auth_out *out)
{
    struct token_claims tc;
    char amr[96];
    long now = (long)time(NULL);
    int rc;

    snprintf(amr, sizeof(amr), "[{\"method\":\"password\",\"timestamp\":%ld}]", now);
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

/* Fills out with the user object and an access token for session sid. */
static int issue(struct ums_ctx *c, const char *uid, const char *sid, struct auth_out *out)
{
    PGresult *res = NULL;
    int rc = load_user(c, uid, &res);

    if (rc != UMS_OK)
        return rc == UMS_ENOTFOUND ? UMS_ERR : rc;
    rc = issue_row(c, res, uid, sid, out);
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

/* data.name when it is a string of at most 100 characters, else "". */
static void name_from(char *out, size_t outlen, const char *data_json)
{
    struct json_object *o = data_json != NULL ? json_tokener_parse(data_json) : NULL, *v;

    out[0] = '\0';
    if (o != NULL && json_object_object_get_ex(o, "name", &v) &&
        json_object_is_type(v, json_type_string) && json_object_get_string_len(v) <= 400) {
        const char *s = json_object_get_string(v);
        size_t chars = 0, i = 0;
        for (; s[i] != '\0' && chars < NAME_MAX_CHARS; i++)
            chars += ((unsigned char)s[i] & 0xC0) != 0x80;
        while (s[i] != '\0' && ((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
        snprintf(out, outlen, "%.*s", (int)i, s);
    }
    json_object_put(o);
}

/* user_metadata from a client (data): an object within its limits, with a
 * valid name. UMS_OK or UMS_EDENIED with err set. */
static int check_metadata(const char *data_json, struct ums_err *err)
{
    const char *why = NULL;
    int rc = metadata_check(data_json, &why);

    if (rc == UMS_ETOOBIG)
        return err_set(err, FAIL_METADATA_TOO_LARGE, why);
    if (rc != UMS_OK)
        return err_set(err, FAIL_VALIDATION, why);
    return UMS_OK;
}

static int check_password(const char *pw, size_t len, struct ums_err *err)
{
    const char *reason;

    if (pw == NULL)
        return err_set(err, FAIL_VALIDATION, "Signup requires a valid password");
    if (password_check(pw, len, &reason) != UMS_OK) {
        err->reason = reason;
        return err_set(err, FAIL_WEAK_PASSWORD,
                       strcmp(reason, "length") == 0
                           ? "Password should be between 8 and 128 characters."
                           : "Password must be valid UTF-8 text.");
    }
    return UMS_OK;
}

int auth_signup(struct ums_ctx *c, const char *email_in, size_t email_len, const char *password,
                size_t password_len, const char *data_json, const struct client_info *ci,
                struct auth_out *out, struct ums_err *err)
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
    if (check_password(password, password_len, err) != UMS_OK)
        return UMS_EDENIED;
    if (check_metadata(data_json, err) != UMS_OK)
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
    if (rc == UMS_OK) {
        struct json_object *ev = json_object_new_object();
        json_object_object_add(ev, "type", json_object_new_string("user.registered"));
        json_object_object_add(ev, "user_id", json_object_new_string(uid));
        json_object_object_add(ev, "email", json_object_new_string(email));
        json_object_object_add(ev, "name", json_object_new_string(name));
        json_object_object_add(ev, "verify_type", json_object_new_string("signup"));
        rc = auth_event_add_secret(c, ev, otp, th, &ev_id, &ev_text);
    }
    if (rc == UMS_OK)
        rc = audit_write(c->db, uid, "user.signup", uid, ci->ip, NULL);
    if (rc == UMS_OK)
        rc = db_commit(c->db);
    tx = 0;
    if (rc != UMS_OK)
        goto out;
    auth_event_publish(c, ev_id, ev_text);
    ev_text = NULL;
    if (confirm) {
        rc = auth_user_json(c, uid, &out->user_json);
        snprintf(out->user_id, sizeof(out->user_id), "%s", uid);
    } else {
        memcpy(out->refresh_token, refresh, sizeof(refresh));
        rc = issue(c, uid, sid, out);
    }
out:
    if (tx)
        db_rollback(c->db);
    PQclear(res);
    free(ev_text);
    explicit_bzero(hash, sizeof(hash));
    return rc;
}

/* After a failed password: count it, and tell the owner when a lock starts. */
static void login_failed(struct ums_ctx *c, const char *email, const char *uid,
                         const struct client_info *ci)
{
    int locked_now = 0;

    if (lockout_fail(c, email, &locked_now) != UMS_OK)
        return;
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

int auth_login(struct ums_ctx *c, const char *email_in, size_t email_len, const char *password,
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
        rc = issue_row(c, res, uid, sid, out);
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
    return issue(c, uid, sid, out);
}

void auth_principal_clear(struct principal *p)
{
    free(p->user_json);
    memset(p, 0, sizeof(*p));
}

static int bearer(struct ums_ctx *c, const char *token, size_t len, struct principal *p,
                  struct ums_err *err, const char *want);

int auth_bearer(struct ums_ctx *c, const char *token, size_t len, struct principal *p,
                struct ums_err *err)
{
    return bearer(c, token, len, p, err, NULL);
}

int auth_bearer_user(struct ums_ctx *c, const char *token, size_t len, struct principal *p,
                     struct ums_err *err)
{
    return bearer(c, token, len, p, err, "ums:user:");
}

int auth_bearer_profile(struct ums_ctx *c, const char *token, size_t len, struct principal *p,
                        struct ums_err *err)
{
    return bearer(c, token, len, p, err, "ums:profile:");
}

static int bearer(struct ums_ctx *c, const char *token, size_t len, struct principal *p,
                  struct ums_err *err, const char *want)
{
    struct token_id id;
    const char *why = NULL, *key = c->cfg->auth.service_key;
    int state;

    memset(p, 0, sizeof(*p));
    /* The service key: compared in constant time, lengths first. */
    if (key[0] != '\0' && strlen(key) == len && crypto_secret_equal(key, token, len)) {
        p->service = 1;
        snprintf(p->role, sizeof(p->role), "admin");
        return UMS_OK;
    }
    if (tokens_check(c->tokens, token, len, (long)time(NULL), &id, &why) != UMS_OK) {
        log_info("bearer rejected: %s", why);
        return err_set(err, FAIL_BAD_JWT, "invalid JWT: unable to parse or verify signature");
    }
    state =
        sessions_check_user(c, id.sid, id.sub, p->role, want, want != NULL ? &p->user_json : NULL);
    if (state < 0)
        return state;
    if (state == SESS_DEAD)
        return err_set(err, FAIL_TOKEN_SESSION_GONE, NULL);
    if (state == SESS_BANNED)
        return err_set(err, FAIL_TOKEN_USER_BANNED, NULL);
    if (state != SESS_LIVE) {
        free(p->user_json);
        p->user_json = NULL;
    }
    memcpy(p->user_id, id.sub, sizeof(p->user_id));
    memcpy(p->session_id, id.sid, sizeof(p->session_id));
    return UMS_OK;
}

/* The cached user object (Redis, 5 minutes), dropped after every change. */
#define USER_CACHE_TTL "300"

void auth_user_cache_drop(struct ums_ctx *c, const char *user_id)
{
    char key[64];
    const char *argv[2] = {"DEL", key};
    redisReply *r = NULL;

    snprintf(key, sizeof(key), "ums:user:%s", user_id);
    if (kv_cmd(c->kv, &r, 2, argv, NULL) == UMS_OK)
        freeReplyObject(r);
}

int auth_user_json(struct ums_ctx *c, const char *user_id, char **json)
{
    char key[64];
    const char *get[2] = {"GET", key};
    redisReply *r = NULL;
    PGresult *res = NULL;
    int rc;

    *json = NULL;
    snprintf(key, sizeof(key), "ums:user:%s", user_id);
    if (kv_cmd(c->kv, &r, 2, get, NULL) == UMS_OK) {
        if (r->type == REDIS_REPLY_STRING)
            *json = strdup(r->str);
        freeReplyObject(r);
        if (*json != NULL)
            return UMS_OK;
    }
    rc = load_user(c, user_id, &res);
    if (rc != UMS_OK)
        return rc;
    *json = strdup(PQgetvalue(res, 0, 5));
    PQclear(res);
    if (*json == NULL)
        return UMS_ERR;
    {
        const char *set[5] = {"SET", key, *json, "EX", USER_CACHE_TTL};
        if (kv_cmd(c->kv, &r, 5, set, NULL) == UMS_OK)
            freeReplyObject(r);
    }
    return UMS_OK;
}

int auth_update_user(struct ums_ctx *c, const struct principal *p, const char *password,
                     size_t password_len, const char *data_json, const struct client_info *ci,
                     struct ums_err *err)
{
    char hash[PW_HASH_MAX];
    PGresult *res = NULL;
    int rc, n;

    if (check_metadata(data_json, err) != UMS_OK)
        return UMS_EDENIED;
    if (password != NULL) {
        if (check_password(password, password_len, err) != UMS_OK)
            return UMS_EDENIED;
        rc = load_user(c, p->user_id, &res);
        if (rc != UMS_OK)
            return rc == UMS_ENOTFOUND ? err_set(err, FAIL_TOKEN_USER_GONE, NULL) : rc;
        if (password_verify(PQgetvalue(res, 0, 8), password, password_len)) {
            PQclear(res);
            return err_set(err, FAIL_SAME_PASSWORD, NULL);
        }
        PQclear(res);
        if (password_hash(hash, &c->pw, password, password_len) != UMS_OK)
            return UMS_ERR;
    }
    rc = db_begin(c->db);
    if (rc != UMS_OK)
        return rc;
    if (data_json != NULL) {
        rc = metadata_merge(c->db, p->user_id, data_json, 0);
        if (rc == UMS_ETOOBIG) {
            db_rollback(c->db);
            explicit_bzero(hash, sizeof(hash));
            return err_set(err, FAIL_METADATA_TOO_LARGE,
                           "user_metadata would be larger than 16 KiB");
        }
    }
    if (rc == UMS_OK && password != NULL) {
        const char *pp[2] = {p->user_id, hash};
        rc = db_exec(c->db, NULL, STMT_USER_SET_PASSWORD, 2, pp);
        if (rc == UMS_OK)
            rc = audit_write(c->db, p->user_id, "user.password_changed", p->user_id, ci->ip, NULL);
    }
    if (rc == UMS_OK && data_json != NULL)
        rc = audit_write(c->db, p->user_id, "user.updated", p->user_id, ci->ip, NULL);
    rc = db_end(c->db, rc);
    explicit_bzero(hash, sizeof(hash));
    if (rc == UMS_OK)
        auth_user_cache_drop(c, p->user_id);
    /* A new password ends every other session, after the change is durable. */
    if (rc == UMS_OK && password != NULL)
        rc = sessions_revoke(c, p->user_id, p->session_id, SCOPE_OTHERS, &n);
    return rc;
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
        rc = issue(c, user_id, sid, out);
    }
    return rc;
}

int auth_logout(struct ums_ctx *c, const struct principal *p, enum sess_scope scope,
                const struct client_info *ci)
{
    static const char *const names[] = {"global", "local", "others"};
    char details[64];
    int n = 0, rc = sessions_revoke(c, p->user_id, p->session_id, scope, &n);

    if (rc == UMS_OK) {
        snprintf(details, sizeof(details), "{\"scope\":\"%s\",\"sessions\":%d}", names[scope], n);
        audit_write(c->db, p->user_id, "user.logout", p->user_id, ci->ip, details);
    }
    return rc;
}
