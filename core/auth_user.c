/* auth_user.c - the user of /auth/v1/user: its row, its cached JSON object,
 * and PUT /user (password and user_metadata). */
#include "auth.h"
#include "auth_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "config.h"
#include "ctx.h"
#include "db.h"
#include "kv.h"
#include "metadata.h"
#include "password.h"
#include "../util/ums.h"

/* The user row for tokens and responses: 0..8 as in STMT_USER_FOR_TOKEN. */
int auth_user_load(struct ums_ctx *c, const char *uid, PGresult **res)
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

/* user_metadata from a client (data): an object within its limits, with a
 * valid name. UMS_OK or UMS_EDENIED with err set. */
int auth_user_check_metadata(const char *data_json, struct ums_err *err)
{
    const char *why = NULL;
    int rc = metadata_check(data_json, &why);

    if (rc == UMS_ETOOBIG)
        return err_set(err, FAIL_METADATA_TOO_LARGE, why);
    if (rc != UMS_OK)
        return err_set(err, FAIL_VALIDATION, why);
    return UMS_OK;
}

int auth_user_check_password(const char *pw, size_t len, struct ums_err *err)
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
    }
    metrics_inc(*json != NULL ? M_CACHE_USER_HIT : M_CACHE_USER_MISS);
    if (*json != NULL)
        return UMS_OK;
    rc = auth_user_load(c, user_id, &res);
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

int auth_user_update(struct ums_ctx *c, const struct principal *p, const char *password,
                     size_t password_len, const char *data_json, const struct client_info *ci,
                     struct ums_err *err)
{
    char hash[PW_HASH_MAX];
    PGresult *res = NULL;
    int rc, n;

    if (auth_user_check_metadata(data_json, err) != UMS_OK)
        return UMS_EDENIED;
    if (password != NULL) {
        if (auth_user_check_password(password, password_len, err) != UMS_OK)
            return UMS_EDENIED;
        rc = auth_user_load(c, p->user_id, &res);
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
        rc = sessions_revoke(c, p->user_id, p->session_id, SCOPE_OTHERS, M_REVOKED_PASSWORD, &n);
    return rc;
}
