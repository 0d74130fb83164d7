/* users.c - the user service: read through the profile cache, update,
 * roles, status, deletion, unlock and sessions (README.md "/api/v1"). */
#include "users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "audit.h"
#include "auth.h"
#include "config.h"
#include "ctx.h"
#include "db.h"
#include "kv.h"
#include "lockout.h"
#include "../util/log.h"
#include "metadata.h"
#include "sessions_db.h"
#include "../util/metrics.h"
#include "../util/ums.h"
#include "../util/utf8.h"
#include "../util/valid.h"

static void profile_key(char *out, size_t n, const char *id)
{
    snprintf(out, n, "ums:profile:%s", id);
}

int users_get(struct ums_ctx *c, const char *id, char **json)
{
    char key[64];
    const char *get[2] = {"GET", key};
    const char *p[1] = {id};
    redisReply *r = NULL;
    PGresult *res = NULL;
    int rc;

    *json = NULL;
    profile_key(key, sizeof(key), id);
    if (kv_cmd(c->kv, &r, 2, get, NULL) == UMS_OK) {
        if (r->type == REDIS_REPLY_STRING && r->len > 0)
            *json = strdup(r->str);
        freeReplyObject(r);
    }
    metrics_inc(*json != NULL ? M_CACHE_PROFILE_HIT : M_CACHE_PROFILE_MISS);
    if (*json != NULL)
        return UMS_OK;
    rc = db_exec(c->db, &res, STMT_API_USER_GET, 1, p);
    if (rc != UMS_OK)
        return rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return UMS_ENOTFOUND;
    }
    *json = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (*json == NULL)
        return UMS_ERR;
    {
        /* A replica's copy may be max_replica_lag old: kept as briefly. */
        char lagged[16];
        const char *set[5] = {"SET", key, *json, "EX",
                              db_last_on_replica(c->db) ? lagged : PROFILE_CACHE_TTL};
        snprintf(lagged, sizeof(lagged), "%d", c->cfg->database.max_replica_lag + 1);
        if (kv_cmd(c->kv, &r, 5, set, NULL) == UMS_OK)
            freeReplyObject(r);
    }
    return UMS_OK;
}

void users_cache_drop(struct ums_ctx *c, const char *id)
{
    char key[64], ukey[64];
    const char *del[3] = {"DEL", key, ukey};
    redisReply *r = NULL;

    /* Both cached shapes of the user in one round trip: the /api/v1 user
     * with profile and the /auth/v1 user object (auth_user_cache_drop). */
    profile_key(key, sizeof(key), id);
    snprintf(ukey, sizeof(ukey), "ums:user:%s", id);
    if (kv_cmd(c->kv, &r, 3, del, NULL) == UMS_OK)
        freeReplyObject(r);
}

int users_role_known(const struct ums_ctx *c, const char *role)
{
    const char *s = c->cfg->auth.roles;
    size_t n = strlen(role);

    if (n == 0)
        return 0;
    while (*s != '\0') {
        size_t len;
        while (*s == ' ' || *s == ',')
            s++;
        len = strcspn(s, ", ");
        if (len == n && strncmp(s, role, n) == 0)
            return 1;
        s += len;
    }
    return 0;
}

int users_name_valid(const char *name, size_t len)
{
    return metadata_name_valid(name, len);
}

/* Runs one of the last-admin guarded functions of the SQL (ums_set_role,
 * ums_set_status, ums_set_ban, ums_delete_user: 'ok', 'not_found',
 * 'last_admin') in the open transaction. */
static int guarded(struct ums_ctx *c, enum db_stmt st, int n, const char *const *p,
                   struct ums_err *err)
{
    PGresult *res = NULL;
    const char *v;
    int rc = db_exec(c->db, &res, st, n, p);

    if (rc != UMS_OK)
        return rc;
    v = PQgetvalue(res, 0, 0);
    rc = strcmp(v, "ok") == 0           ? UMS_OK
         : strcmp(v, "not_found") == 0  ? err_set(err, FAIL_USER_NOT_FOUND, NULL)
         : strcmp(v, "last_admin") == 0 ? err_set(err, FAIL_LAST_ADMIN, NULL)
                                        : UMS_ERR;
    PQclear(res);
    return rc;
}

int users_set_ban(struct ums_ctx *c, const char *id, const char *secs, struct ums_err *err)
{
    const char *p[2] = {id, secs};

    return guarded(c, STMT_API_SET_BAN, 2, p, err);
}

/* Renders {"fields":[...]} of a change for the audit row (names, not values). */
static void changed_fields(char *out, size_t n, const struct user_patch *p)
{
    snprintf(out, n, "{\"fields\":[%s%s%s]}", p->name ? "\"name\"," : "",
             p->email ? "\"email\"," : "", p->status ? "\"status\"," : "");
    /* drop the trailing comma inside the array */
    {
        char *comma = strstr(out, ",]");
        if (comma != NULL)
            memmove(comma, comma + 1, strlen(comma));
    }
}

int users_status_valid(const char *s, size_t len)
{
    return strlen(s) == len && (strcmp(s, "active") == 0 || strcmp(s, "suspended") == 0);
}

int users_patch(struct ums_ctx *c, const char *actor, const char *id, const struct user_patch *p,
                const char *ip, struct ums_err *err)
{
    char email[256], name[512], details[96];
    int rc, count = 0;

    if (p->name != NULL) {
        if (!users_name_valid(p->name, p->name_len))
            return err_field(err, "name", USERS_NAME_RULE);
        snprintf(name, sizeof(name), "%.*s", (int)p->name_len, p->name);
    }
    if (p->email != NULL && valid_email_normalize(email, p->email, p->email_len) != UMS_OK)
        return err_field(err, "email", NULL);
    if (p->status != NULL && !users_status_valid(p->status, strlen(p->status)))
        return err_field(err, "status", USERS_STATUS_RULE);
    rc = db_begin(c->db);
    if (rc != UMS_OK)
        return rc;
    if (p->name != NULL) {
        const char *q[2] = {id, name};
        PGresult *res = NULL;
        rc = db_exec(c->db, &res, STMT_API_SET_NAME, 2, q);
        if (rc == UMS_OK && PQntuples(res) == 0)
            rc = err_set(err, FAIL_USER_NOT_FOUND, NULL);
        PQclear(res);
    }
    if (rc == UMS_OK && p->email != NULL) {
        const char *q[2] = {id, email};
        rc = db_exec(c->db, NULL, STMT_USER_SET_EMAIL, 2, q);
        if (rc == UMS_ECONFLICT)
            rc = err_set(err, FAIL_EMAIL_EXISTS, NULL);
    }
    if (rc == UMS_OK && p->status != NULL) {
        const char *q[2] = {id, p->status};
        rc = guarded(c, STMT_API_SET_STATUS, 2, q, err);
    }
    if (rc == UMS_OK) {
        changed_fields(details, sizeof(details), p);
        rc = audit_write(c->db, actor, "user.update", id, ip, details);
    }
    rc = db_end(c->db, rc);
    if (rc != UMS_OK)
        return rc;
    /* After the commit: a revocation the cache learns of must not roll back. */
    if (p->status != NULL && strcmp(p->status, "suspended") == 0)
        rc = sessions_revoke(c, id, NULL, SCOPE_GLOBAL, M_REVOKED_SUSPENDED, &count);
    users_cache_drop(c, id);
    return rc;
}

int users_set_role(struct ums_ctx *c, const char *actor, const char *id, const char *role,
                   const char *ip, struct ums_err *err)
{
    const char *q[2] = {id, role};
    struct json_object *ev = NULL, *det = NULL;
    char *ev_text = NULL;
    long long ev_id = 0;
    int rc;

    if (!users_role_known(c, role))
        return err_field(err, "role", "role is not one of the configured roles");
    rc = db_begin(c->db);
    if (rc != UMS_OK)
        return rc;
    rc = guarded(c, STMT_API_SET_ROLE, 2, q, err);
    if (rc == UMS_OK) {
        ev = json_object_new_object();
        json_object_object_add(ev, "type", json_object_new_string("user.role_changed"));
        json_object_object_add(ev, "user_id", json_object_new_string(id));
        json_object_object_add(ev, "role", json_object_new_string(role));
        rc = auth_event_add(c, ev, &ev_id, &ev_text);
    }
    if (rc == UMS_OK) {
        det = json_object_new_object();
        json_object_object_add(det, "role", json_object_new_string(role));
        rc = audit_write(c->db, actor, "user.role", id, ip,
                         json_object_to_json_string_ext(det, JSON_C_TO_STRING_PLAIN));
        json_object_put(det);
    }
    rc = db_end(c->db, rc);
    if (rc != UMS_OK) {
        free(ev_text);
        return rc;
    }
    auth_event_publish(c, ev_id, ev_text);
    /* Session checks see the new role at once; tokens carry it from the
     * next refresh. */
    sessions_cache_role_changed(c, id);
    users_cache_drop(c, id);
    return UMS_OK;
}

int users_delete(struct ums_ctx *c, const char *actor, const char *id, const char *ip,
                 struct ums_err *err)
{
    const char *q[1] = {id};
    PGresult *live = NULL;
    int rc = db_begin(c->db);

    if (rc != UMS_OK)
        return rc;
    rc = db_exec(c->db, &live, STMT_SESS_LIST_LIVE, 1, q);
    if (rc == UMS_OK)
        rc = guarded(c, STMT_API_DELETE, 1, q, err);
    if (rc == UMS_OK)
        rc = audit_write(c->db, actor, "user.delete", id, NULL, NULL);
    (void)ip; /* the audit row of a deletion keeps no address */
    rc = db_end(c->db, rc);
    if (rc == UMS_OK) {
        sessions_cache_revoked(c, live);
        users_cache_drop(c, id);
    }
    PQclear(live);
    return rc;
}

int users_unlock(struct ums_ctx *c, const char *actor, const char *id, const char *ip)
{
    const char *q[1] = {id};
    PGresult *res = NULL;
    int rc = db_exec(c->db, &res, STMT_API_UNLOCK, 1, q);

    if (rc != UMS_OK)
        return rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return UMS_ENOTFOUND;
    }
    rc = lockout_clear(c, PQgetvalue(res, 0, 0));
    PQclear(res);
    if (rc == UMS_OK)
        rc = audit_write(c->db, actor, "user.unlock", id, ip, NULL);
    return rc;
}

int users_sessions(struct ums_ctx *c, const char *id, const char *current_sid, char **json)
{
    const char *q[2] = {id, current_sid};
    PGresult *res = NULL;
    int rc = db_exec(c->db, &res, STMT_API_SESSIONS, 2, q);

    *json = NULL;
    if (rc != UMS_OK)
        return rc;
    *json = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return *json != NULL ? UMS_OK : UMS_ERR;
}

int users_revoke_sessions(struct ums_ctx *c, const char *actor, const char *id, const char *sid,
                          const char *ip, int *count)
{
    int rc;

    *count = 0;
    if (sid == NULL) {
        rc = sessions_revoke(c, id, NULL, SCOPE_GLOBAL, M_REVOKED_ADMIN, count);
    } else {
        const char *q[2] = {id, sid};
        PGresult *res = NULL;
        rc = db_exec(c->db, &res, STMT_API_SESSION_REVOKE, 2, q);
        if (rc == UMS_OK) {
            *count = PQntuples(res);
            sessions_cache_revoked(c, res);
            metrics_add(M_REVOKED_ADMIN, (uint64_t)*count);
            if (*count == 0)
                rc = UMS_ENOTFOUND;
        }
        PQclear(res);
    }
    if (rc == UMS_OK)
        audit_write(c->db, actor, sid == NULL ? "session.revoke_all" : "session.revoke", id, ip,
                    NULL);
    return rc;
}
