/* admin.c - list, create, update and delete users as an administrator. */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "audit.h"
#include "config.h"
#include "ctx.h"
#include "db.h"
#include "metadata.h"
#include "password.h"
#include "sessions.h"
#include "../util/duration.h"
#include "../util/ums.h"
#include "users.h"
#include "../util/utf8.h"
#include "../util/valid.h"

int admin_list(struct ums_ctx *c, long page, int per_page, char **json, long long *total)
{
    char lim[16], off[32];
    const char *p[2] = {lim, off};
    PGresult *res = NULL;
    int rc;

    *json = NULL;
    snprintf(lim, sizeof(lim), "%d", per_page);
    snprintf(off, sizeof(off), "%lld", (long long)(page - 1) * per_page);
    rc = db_exec(c->db, &res, STMT_USER_COUNT, 0, NULL);
    if (rc != UMS_OK)
        return rc;
    *total = db_ll(res, 0, 0);
    PQclear(res);
    rc = db_exec(c->db, &res, STMT_USER_LIST_PAGE, 2, p);
    if (rc != UMS_OK)
        return rc;
    *json = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return *json != NULL ? UMS_OK : UMS_ERR;
}

/* Validates what both create and update accept. */
static int check_attrs(const struct ums_ctx *c, const struct admin_attrs *a, char *email,
                       struct ums_err *err)
{
    const char *reason;

    if (a->email != NULL && valid_email_normalize(email, a->email, a->email_len) != UMS_OK)
        return err_field(err, "email", "Unable to validate email address: invalid format");
    if (a->password != NULL && password_check(a->password, a->password_len, &reason) != UMS_OK) {
        err->reason = reason;
        return err_set(err, FAIL_WEAK_PASSWORD, "Password should be between 8 and 128 characters.");
    }
    if (a->id != NULL && !valid_uuid(a->id))
        return err_field(err, "id", "id must be a UUID");
    if (a->ban_duration != NULL && strcmp(a->ban_duration, "none") != 0 &&
        duration_seconds(a->ban_duration) < 0)
        return err_field(err, "ban_duration",
                         "ban_duration must be \"none\" or a duration like 24h");
    if (a->role != NULL && !users_role_known(c, a->role))
        return err_field(err, "role", "role must be one of the configured roles");
    for (int i = 0; i < 2; i++) {
        const char *why = NULL;
        int rc = metadata_check(i == 0 ? a->user_metadata_json : a->app_metadata_json, &why);
        if (rc == UMS_ETOOBIG)
            return err_set(err, FAIL_METADATA_TOO_LARGE, why);
        if (rc != UMS_OK)
            return err_field(err, i == 0 ? "user_metadata" : "app_metadata", why);
    }
    return UMS_OK;
}

/* A ban (or "none") through the last-admin guard, in the open transaction:
 * UMS_EDENIED (FAIL_LAST_ADMIN) when it would leave no active admin. */
static int apply_ban(struct ums_ctx *c, const char *uid, const char *ban, struct ums_err *err)
{
    char secs[32];
    const char *p[2] = {uid, NULL};

    if (strcmp(ban, "none") != 0) {
        snprintf(secs, sizeof(secs), "%lld", duration_seconds(ban));
        p[1] = secs;
    }
    return users_set_ban(c, uid, p[1], err);
}

static const char *name_of(const char *meta_json, char *out, size_t outlen)
{
    struct json_object *o = meta_json != NULL ? json_tokener_parse(meta_json) : NULL, *v;

    out[0] = '\0';
    /* Checked to be at most 100 characters (metadata_check): copied whole,
     * never cut inside a character. */
    if (o != NULL && json_object_object_get_ex(o, "name", &v) &&
        json_object_is_type(v, json_type_string))
        utf8_clean(out, outlen, json_object_get_string(v));
    json_object_put(o);
    return out;
}

int admin_create(struct ums_ctx *c, const char *actor, const struct admin_attrs *a, const char *ip,
                 char user_id[UUID_LEN + 1], struct ums_err *err)
{
    char email[EMAIL_MAX + 1], hash[PW_HASH_MAX] = "", name[512];
    PGresult *res = NULL;
    int rc;

    if (a->email == NULL)
        return err_required(err, "email", "email is required");
    if (check_attrs(c, a, email, err) != UMS_OK)
        return UMS_EDENIED;
    if (a->password != NULL && password_hash(hash, &c->pw, a->password, a->password_len) != UMS_OK)
        return UMS_ERR;
    name_of(a->user_metadata_json, name, sizeof(name));
    rc = db_begin(c->db);
    if (rc != UMS_OK)
        return rc;
    {
        const char *p[7] = {a->id,
                            email,
                            hash,
                            name,
                            a->user_metadata_json ? a->user_metadata_json : "{}",
                            a->app_metadata_json ? a->app_metadata_json : "{}",
                            a->email_confirm == 1 ? "true" : "false"};
        rc = db_exec(c->db, &res, STMT_USER_ADMIN_INSERT, 7, p);
    }
    if (rc == UMS_OK && PQntuples(res) == 0) {
        PQclear(res);
        db_rollback(c->db);
        return err_set(err, FAIL_EMAIL_EXISTS,
                       "A user with this email address has already been registered");
    }
    if (rc == UMS_OK) {
        snprintf(user_id, UUID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
        const char *p1[1] = {user_id};
        const char *p3[3] = {user_id, email, a->email_confirm == 1 ? "true" : "false"};
        rc = db_exec(c->db, NULL, STMT_PROFILE_INSERT, 1, p1);
        if (rc == UMS_OK)
            rc = db_exec(c->db, NULL, STMT_IDENTITY_INSERT_EMAIL, 3, p3);
    }
    PQclear(res);
    if (rc == UMS_OK && a->role != NULL) {
        const char *p[2] = {user_id, a->role};
        rc = db_exec(c->db, NULL, STMT_USER_SET_ROLE, 2, p);
    }
    if (rc == UMS_OK && a->ban_duration != NULL)
        rc = apply_ban(c, user_id, a->ban_duration, err);
    if (rc == UMS_OK)
        rc = audit_write(c->db, actor, "admin.user_created", user_id, ip, NULL);
    rc = db_end(c->db, rc);
    explicit_bzero(hash, sizeof(hash));
    return rc;
}

int admin_update(struct ums_ctx *c, const char *actor, const char *user_id,
                 const struct admin_attrs *a, const char *ip, struct ums_err *err)
{
    char email[EMAIL_MAX + 1], hash[PW_HASH_MAX] = "";
    const char *pid[1] = {user_id};
    PGresult *res = NULL;
    int rc, n, end_sessions = 0;

    if (check_attrs(c, a, email, err) != UMS_OK)
        return UMS_EDENIED;
    /* An admin cannot lock themself out (nor, so, the last admin out). */
    if (a->ban_duration != NULL && strcmp(a->ban_duration, "none") != 0 && actor != NULL &&
        strcmp(actor, user_id) == 0)
        return err_set(err, FAIL_FORBIDDEN, "You cannot ban yourself");
    if (a->password != NULL && password_hash(hash, &c->pw, a->password, a->password_len) != UMS_OK)
        return UMS_ERR;
    rc = db_begin(c->db);
    if (rc != UMS_OK)
        goto out;
    rc = db_exec(c->db, &res, STMT_USER_EXISTS, 1, pid);
    if (rc == UMS_OK && PQntuples(res) == 0)
        rc = err_set(err, FAIL_USER_NOT_FOUND, NULL);
    PQclear(res);
    if (rc == UMS_OK && a->email != NULL) {
        const char *p[2] = {user_id, email};
        rc = db_exec(c->db, NULL, STMT_USER_SET_EMAIL, 2, p);
        if (rc == UMS_ECONFLICT)
            rc = err_set(err, FAIL_EMAIL_EXISTS,
                         "A user with this email address has already been registered");
    }
    if (rc == UMS_OK && a->password != NULL) {
        const char *p[2] = {user_id, hash};
        rc = db_exec(c->db, NULL, STMT_USER_SET_PASSWORD, 2, p);
        end_sessions = 1;
    }
    if (rc == UMS_OK && a->email_confirm >= 0) {
        const char *p[2] = {user_id, a->email_confirm ? "true" : "false"};
        rc = db_exec(c->db, NULL, STMT_USER_SET_CONFIRMED, 2, p);
    }
    if (rc == UMS_OK && a->user_metadata_json != NULL)
        rc = metadata_merge(c->db, user_id, a->user_metadata_json, 0);
    if (rc == UMS_OK && a->app_metadata_json != NULL)
        rc = metadata_merge(c->db, user_id, a->app_metadata_json, 1);
    if (rc == UMS_ETOOBIG)
        rc = err_set(err, FAIL_METADATA_TOO_LARGE, "metadata would be larger than 16 KiB");
    if (rc == UMS_OK && a->role != NULL) {
        const char *p[2] = {user_id, a->role};
        rc = db_exec(c->db, NULL, STMT_USER_SET_ROLE, 2, p);
    }
    if (rc == UMS_OK && a->ban_duration != NULL) {
        rc = apply_ban(c, user_id, a->ban_duration, err);
        end_sessions |= strcmp(a->ban_duration, "none") != 0;
    }
    if (rc == UMS_OK)
        rc = audit_write(c->db, actor, "admin.user_updated", user_id, ip, NULL);
    rc = db_end(c->db, rc);
out:
    explicit_bzero(hash, sizeof(hash));
    if (rc != UMS_OK)
        return rc;
    auth_user_cache_drop(c, user_id);
    if (a->role != NULL)
        sessions_cache_role_changed(c, user_id);
    if (end_sessions)
        rc = sessions_revoke(c, user_id, NULL, SCOPE_GLOBAL, M_REVOKED_BANNED, &n);
    return rc;
}

int admin_delete(struct ums_ctx *c, const char *actor, const char *user_id, const char *ip,
                 struct ums_err *err)
{
    /* The same deletion as DELETE /api/v1/users/{id}: one transaction, the
     * last active admin kept, the audit log scrubbed, sessions ended. */
    return users_delete(c, actor, user_id, ip, err);
}
