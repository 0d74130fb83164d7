/* sessions.c - session rows, refresh rotation with reuse detection, the
 * "session is live" cache. */
#include "sessions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "config.h"
#include "crypto.h"
#include "ctx.h"
#include "db.h"
#include "kv.h"
#include "log.h"
#include "ums.h"

#define SESS_CACHE_TTL "900"

int sess_new_refresh(char out[REFRESH_TOKEN_LEN + 1])
{
    unsigned char raw[32];

    if (random_bytes(raw, sizeof(raw)) != UMS_OK)
        return UMS_ERR;
    b64url_encode(out, raw, sizeof(raw));
    return UMS_OK;
}

/* The child of a refresh token: HMAC(secret, "ums-rt1:" parent). */
static int child_token(struct ums_ctx *c, const char *parent, char out[REFRESH_TOKEN_LEN + 1])
{
    unsigned char mac[32];
    char msg[8 + REFRESH_TOKEN_LEN + 1];
    const char *key = c->cfg->auth.refresh_token_secret;

    snprintf(msg, sizeof(msg), "ums-rt1:%s", parent);
    if (hmac_sha256(mac, key, strlen(key), msg, strlen(msg)) != UMS_OK)
        return UMS_ERR;
    b64url_encode(out, mac, sizeof(mac));
    return UMS_OK;
}

static int insert_token(struct ums_ctx *c, const char *sid, const char *token, const char *parent)
{
    char h[65], ttl[16];
    const char *p[4] = {sid, h, parent, ttl};

    sha256_hex(h, token, strlen(token));
    snprintf(ttl, sizeof(ttl), "%d", c->cfg->auth.refresh_token_ttl);
    return db_exec(c->db, NULL, STMT_RT_INSERT, 4, p);
}

int sess_create(struct ums_ctx *c, const char *user_id, const char *user_agent, const char *ip,
                const char *method, char sid[UUID_LEN + 1], char refresh[REFRESH_TOKEN_LEN + 1],
                struct sess_alert *alert)
{
    char life[16];
    const char *p[6] = {user_id, life, user_agent, ip != NULL ? ip : "", method,
                        alert != NULL ? "true" : "false"};
    PGresult *res = NULL;
    int rc;

    if (alert != NULL)
        memset(alert, 0, sizeof(*alert));
    snprintf(life, sizeof(life), "%d", c->cfg->auth.session_lifetime);
    rc = db_exec(c->db, &res, STMT_SESS_INSERT, 6, p);
    if (rc != UMS_OK)
        return rc;
    snprintf(sid, UUID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
    if (alert != NULL && !PQgetisnull(res, 0, 1)) {
        alert->id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        alert->text = strdup(PQgetvalue(res, 0, 2));
    }
    PQclear(res);
    if (sess_new_refresh(refresh) != UMS_OK)
        return UMS_ERR;
    return insert_token(c, sid, refresh, NULL);
}

/* Marks revoked sessions in the cache with a tombstone rather than deleting
 * them, so a concurrent check that read "live" from PostgreSQL just before
 * the revocation cannot put the session back (it only sets missing keys). */
void sess_cache_revoked(struct ums_ctx *c, PGresult *revoked)
{
    for (int i = 0; revoked != NULL && i < PQntuples(revoked); i++) {
        char key[64];
        const char *argv[5] = {"SET", key, "revoked", "EX", SESS_CACHE_TTL};
        redisReply *r = NULL;
        snprintf(key, sizeof(key), "ums:sess:%s", PQgetvalue(revoked, i, 0));
        if (kv_cmd(c->kv, &r, 5, argv, NULL) == UMS_OK)
            freeReplyObject(r);
    }
}

/* Revokes one session inside the open transaction; returns the revoked rows. */
static int revoke_one(struct ums_ctx *c, const char *sid, PGresult **res)
{
    const char *p[1] = {sid};

    return db_exec(c->db, res, STMT_SESS_REVOKE_ONE, 1, p);
}

int sess_refresh(struct ums_ctx *c, const char *refresh, char sid[UUID_LEN + 1],
                 char uid[UUID_LEN + 1], char next[REFRESH_TOKEN_LEN + 1], enum sess_fail *why)
{
    char h[65], child[REFRESH_TOKEN_LEN + 1], child_h[65], idbuf[32];
    const char *p[1] = {h};
    PGresult *res = NULL, *revoked = NULL;
    int rc, tx = 0;

    *why = SF_NONE;
    if (strlen(refresh) != REFRESH_TOKEN_LEN) {
        *why = SF_TOKEN_NOT_FOUND;
        return UMS_EDENIED;
    }
    sha256_hex(h, refresh, REFRESH_TOKEN_LEN);
    rc = db_exec(c->db, &res, STMT_RT_FIND, 1, p);
    if (rc != UMS_OK)
        return rc;
    if (PQntuples(res) == 0) {
        PQclear(res);
        *why = SF_TOKEN_NOT_FOUND;
        return UMS_EDENIED;
    }
    snprintf(sid, UUID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    res = NULL;

    rc = db_begin(c->db);
    if (rc != UMS_OK)
        return rc;
    tx = 1;
    {
        const char *ps[1] = {sid};
        rc = db_exec(c->db, &res, STMT_SESS_LOCK, 1, ps);
    }
    if (rc != UMS_OK)
        goto out;
    if (PQntuples(res) == 0 || PQgetvalue(res, 0, 1)[0] == 't') {
        *why = SF_SESSION_NOT_FOUND;
        rc = UMS_EDENIED;
        goto out;
    }
    snprintf(uid, UUID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
    if (PQgetvalue(res, 0, 2)[0] == 't') {
        *why = SF_SESSION_EXPIRED;
        rc = UMS_EDENIED;
        goto out;
    }
    PQclear(res);
    res = NULL;
    rc = db_exec(c->db, &res, STMT_RT_LOCK, 1, p);
    if (rc != UMS_OK)
        goto out;
    if (PQntuples(res) == 0) {
        *why = SF_TOKEN_NOT_FOUND;
        rc = UMS_EDENIED;
        goto out;
    }
    snprintf(idbuf, sizeof(idbuf), "%s", PQgetvalue(res, 0, 0));
    if (child_token(c, refresh, child) != UMS_OK) {
        rc = UMS_ERR;
        goto out;
    }
    if (PQgetvalue(res, 0, 1)[0] != 't') {
        /* The live token: rotate it. */
        const char *pid[1] = {idbuf};
        if (PQgetvalue(res, 0, 3)[0] == 't') {
            *why = SF_SESSION_EXPIRED;
            rc = UMS_EDENIED;
            goto out;
        }
        rc = insert_token(c, sid, child, idbuf);
        if (rc == UMS_OK)
            rc = db_exec(c->db, NULL, STMT_RT_REVOKE, 1, pid);
        if (rc == UMS_OK) {
            const char *ps[1] = {sid};
            rc = db_exec(c->db, NULL, STMT_SESS_TOUCH, 1, ps);
        }
        if (rc == UMS_OK)
            rc = db_commit(c->db);
        tx = 0;
        if (rc == UMS_OK)
            memcpy(next, child, REFRESH_TOKEN_LEN + 1);
        goto out;
    }
    /* Already rotated. Within the reuse interval, the immediate parent of the
     * live token gets that same token back; anything else is reuse. */
    {
        double age = strtod(PQgetvalue(res, 0, 2), NULL);
        const char *pid[1] = {idbuf};
        PQclear(res);
        res = NULL;
        rc = db_exec(c->db, &res, STMT_RT_LIVE_CHILD, 1, pid);
        if (rc != UMS_OK)
            goto out;
        sha256_hex(child_h, child, REFRESH_TOKEN_LEN);
        if (PQntuples(res) == 1 && age <= c->cfg->auth.refresh_reuse_interval &&
            secret_equal(PQgetvalue(res, 0, 0), child_h, 64)) {
            rc = db_commit(c->db);
            tx = 0;
            if (rc == UMS_OK)
                memcpy(next, child, REFRESH_TOKEN_LEN + 1);
            goto out;
        }
    }
    log_warn("refresh token reuse detected; revoking session %s", sid);
    rc = revoke_one(c, sid, &revoked);
    if (rc == UMS_OK)
        rc = db_commit(c->db);
    tx = 0;
    if (rc == UMS_OK) {
        sess_cache_revoked(c, revoked);
        *why = SF_ALREADY_USED;
        rc = UMS_EDENIED;
    }
out:
    if (tx)
        db_rollback(c->db);
    PQclear(res);
    PQclear(revoked);
    return rc;
}

int sess_check_user(struct ums_ctx *c, const char *sid, const char *uid, char role[32],
                    const char *extra_prefix, char **user_json)
{
    char key[64], ukey[64], val[128];
    const char *mget[3] = {"MGET", key, ukey};
    const char *p[2] = {sid, uid};
    size_t ul = strlen(uid);
    redisReply *r = NULL;
    PGresult *res = NULL;
    int rc, state;

    /* The cache holds "uid role" for live sessions of active users. */
    snprintf(key, sizeof(key), "ums:sess:%s", sid);
    snprintf(ukey, sizeof(ukey), "%s%s", extra_prefix != NULL ? extra_prefix : "ums:user:", uid);
    if (kv_cmd(c->kv, &r, user_json != NULL ? 3 : 2, mget, NULL) == UMS_OK) {
        redisReply *s = r->type == REDIS_REPLY_ARRAY && r->elements >= 1 ? r->element[0] : NULL;
        int hit = s != NULL && s->type == REDIS_REPLY_STRING && s->len > ul + 1 &&
                  s->len < ul + 33 && strncmp(s->str, uid, ul) == 0 && s->str[ul] == ' ';
        if (hit)
            snprintf(role, 32, "%s", s->str + ul + 1);
        if (hit && user_json != NULL && r->elements == 2 &&
            r->element[1]->type == REDIS_REPLY_STRING)
            *user_json = strdup(r->element[1]->str);
        freeReplyObject(r);
        if (hit)
            return SESS_LIVE;
    }
    rc = db_exec(c->db, &res, STMT_SESS_LIVE, 2, p);
    if (rc != UMS_OK)
        return UMS_EUNAVAILABLE;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return SESS_DEAD;
    }
    state = PQgetvalue(res, 0, 1)[0] == 't' ? SESS_LIVE : SESS_BANNED;
    snprintf(role, 32, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (state == SESS_LIVE) {
        const char *set[6] = {"SET", key, val, "EX", SESS_CACHE_TTL, "NX"};
        snprintf(val, sizeof(val), "%s %s", uid, role);
        if (kv_cmd(c->kv, &r, 6, set, NULL) == UMS_OK)
            freeReplyObject(r);
    }
    return state;
}

int sess_revoke(struct ums_ctx *c, const char *uid, const char *sid, enum sess_scope scope,
                int *count)
{
    PGresult *res = NULL;
    int rc;

    *count = 0;
    if (scope == SCOPE_LOCAL) {
        rc = revoke_one(c, sid, &res);
    } else if (scope == SCOPE_OTHERS) {
        const char *p[2] = {uid, sid};
        rc = db_exec(c->db, &res, STMT_SESS_REVOKE_OTHERS, 2, p);
    } else {
        const char *p[1] = {uid};
        rc = db_exec(c->db, &res, STMT_SESS_REVOKE_ALL, 1, p);
    }
    if (rc == UMS_OK) {
        *count = PQntuples(res);
        sess_cache_revoked(c, res);
    }
    PQclear(res);
    return rc;
}

int sess_cache_forget(struct ums_ctx *c, const char *uid)
{
    const char *p[1] = {uid};
    PGresult *res = NULL;
    int rc = db_exec(c->db, &res, STMT_SESS_LIST_LIVE, 1, p);

    for (int i = 0; rc == UMS_OK && i < PQntuples(res); i++) {
        char key[64];
        const char *argv[2] = {"DEL", key};
        redisReply *r = NULL;
        snprintf(key, sizeof(key), "ums:sess:%s", PQgetvalue(res, i, 0));
        if (kv_cmd(c->kv, &r, 2, argv, NULL) == UMS_OK)
            freeReplyObject(r);
    }
    PQclear(res);
    return rc;
}
