/* sessions.c - session rows, refresh rotation with reuse detection, the
 * "session is live" cache. */
#include "sessions.h"
#include "sessions_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../util/b64.h"
#include "../util/buf.h"
#include "config.h"
#include "../util/crypto.h"
#include "ctx.h"
#include "db.h"
#include "kv.h"
#include "../util/log.h"
#include "../util/metrics.h"
#include "../util/ums.h"

#define SESS_CACHE_TTL   "900"
#define SESS_CACHE_TTL_S 900L

int sessions_new_refresh(char out[REFRESH_TOKEN_LEN + 1])
{
    unsigned char raw[32];

    if (crypto_random_bytes(raw, sizeof(raw)) != UMS_OK)
        return UMS_ERR;
    b64_url_encode(out, raw, sizeof(raw));
    return UMS_OK;
}

/* The child of a refresh token: HMAC(secret, "ums-rt1:" parent). */
static int child_token(struct ums_ctx *c, const char *parent, char out[REFRESH_TOKEN_LEN + 1])
{
    unsigned char mac[32];
    char msg[8 + REFRESH_TOKEN_LEN + 1];
    const char *key = c->cfg->auth.refresh_token_secret;

    snprintf(msg, sizeof(msg), "ums-rt1:%s", parent);
    if (crypto_hmac_sha256(mac, key, strlen(key), msg, strlen(msg)) != UMS_OK)
        return UMS_ERR;
    b64_url_encode(out, mac, sizeof(mac));
    return UMS_OK;
}

static int insert_token(struct ums_ctx *c, const char *sid, const char *token, const char *parent)
{
    char h[65], ttl[16];
    const char *p[4] = {sid, h, parent, ttl};

    crypto_sha256_hex(h, token, strlen(token));
    snprintf(ttl, sizeof(ttl), "%d", c->cfg->auth.refresh_token_ttl);
    return db_exec(c->db, NULL, STMT_RT_INSERT, 4, p);
}

int sessions_create(struct ums_ctx *c, const char *user_id, const char *user_agent, const char *ip,
                    const char *method, char sid[UUID_LEN + 1], char refresh[REFRESH_TOKEN_LEN + 1],
                    struct sess_alert *alert)
{
    char life[16];
    const char *p[6] = {
        user_id, life, user_agent, ip != NULL ? ip : "", method, alert != NULL ? "true" : "false"};
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
        alert->id = db_ll(res, 0, 1);
        alert->text = strdup(PQgetvalue(res, 0, 2));
    }
    PQclear(res);
    if (sessions_new_refresh(refresh) != UMS_OK)
        return UMS_ERR;
    return insert_token(c, sid, refresh, NULL);
}

/* ---- the cache of session checks and its faults ----
 *
 * ums:sess:{sid} holds "uid role" for a live session of an active user,
 * set NX by the check that read it from PostgreSQL. A revocation overwrites
 * it with a tombstone and a role change with the new role, so a check that
 * read the old state just before cannot put it back (its SET NX finds the
 * key taken). When that write fails (Redis failing or unreachable), the
 * entry is deleted instead; when that fails too, the session is noted in
 * session_cache_faults, and every worker reads those rows at most a second
 * apart and checks such sessions in PostgreSQL until their cache entries
 * have expired. Revocation holds whatever Redis does. */

#define FAULTS_MAX      128
#define FAULT_POLL_S    1.0
#define FAULT_PAGE      256 /* STMT_SESS_FAULTS_SINCE's LIMIT */
#define FAULT_PAGES_MAX 16
#define FAULT_KEEP_S    900.0 /* its window: a fault row counts for 900 s */

/* Per process: the sessions not to trust from the cache, and until when. */
static struct {
    char sid[UUID_LEN + 1];
    double until; /* monotonic seconds */
} faults[FAULTS_MAX];
static int nfaults;
static double faults_overflow_until; /* more faults than fit: trust no hit */
static char fault_xmin[24] = "0";    /* the previous poll's snapshot xmin */
static double fault_next_poll;
static int fault_poll_failing;

static double mono_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Notes one fault row; a row read again (its transaction was still running
 * at the previous poll) only extends the entry it made. */
static void fault_note(const char *sid, double until)
{
    for (int i = 0; i < nfaults; i++)
        if (strcmp(faults[i].sid, sid) == 0) {
            if (until > faults[i].until)
                faults[i].until = until;
            return;
        }
    if (nfaults < FAULTS_MAX) {
        snprintf(faults[nfaults].sid, sizeof(faults[nfaults].sid), "%s", sid);
        faults[nfaults++].until = until;
    } else if (until > faults_overflow_until) {
        faults_overflow_until = until;
    }
}

/* Logs the first failed poll of a run of them, and the recovery. */
static void fault_poll_result(int ok)
{
    if (!ok && !fault_poll_failing)
        log_warn("sessions: cannot read the cache faults from PostgreSQL; cached checks "
                 "keep the faults read so far until it answers");
    else if (ok && fault_poll_failing)
        log_info("sessions: the cache faults are read again");
    fault_poll_failing = !ok;
}

/* Reads new fault rows, at most once a second; forgets expired ones.
 * "New" is by transaction, not by row id: ids are drawn at insert but seen
 * at commit, in another order, so each poll reads every row whose
 * transaction had not committed by the previous poll's snapshot (sql/018). */
static void faults_poll(struct ums_ctx *c)
{
    double now = mono_s();
    char xmin[24], cursor[24] = "0";
    const char *p[2] = {fault_xmin, cursor};
    PGresult *res = NULL;
    int w = 0;

    if (now < fault_next_poll)
        return;
    fault_next_poll = now + FAULT_POLL_S;
    for (int i = 0; i < nfaults; i++)
        if (faults[i].until > now)
            faults[w++] = faults[i];
    nfaults = w;
    /* Taken before the reads: a transaction they miss was running then. */
    if (db_exec(c->db, &res, STMT_SESS_FAULTS_XMIN, 0, NULL) != UMS_OK || PQntuples(res) != 1) {
        PQclear(res);
        fault_poll_result(0);
        return;
    }
    snprintf(xmin, sizeof(xmin), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    res = NULL;
    /* Every page before the xmin moves on: a process that has just started
     * (a new host, a reload) must not trust a hit on the last page while it
     * reads the first. */
    for (int page = 0, rows = FAULT_PAGE; rows == FAULT_PAGE; page++) {
        if (page == FAULT_PAGES_MAX) {
            /* Still more: trust no hit until they have all expired. */
            faults_overflow_until = now + FAULT_KEEP_S;
            break;
        }
        if (db_exec(c->db, &res, STMT_SESS_FAULTS_SINCE, 2, p) != UMS_OK) {
            fault_poll_result(0);
            return; /* the same rows again next time */
        }
        rows = PQntuples(res);
        for (int i = 0; i < rows; i++)
            fault_note(PQgetvalue(res, i, 1), now + strtod(PQgetvalue(res, i, 2), NULL));
        if (rows > 0)
            snprintf(cursor, sizeof(cursor), "%s", PQgetvalue(res, rows - 1, 0));
        PQclear(res);
        res = NULL;
    }
    memcpy(fault_xmin, xmin, sizeof(fault_xmin));
    fault_poll_result(1);
}

/* Whether the cached state of sid may be trusted. */
static int cache_trusted(struct ums_ctx *c, const char *sid)
{
    faults_poll(c);
    if (faults_overflow_until > mono_s())
        return 0;
    for (int i = 0; i < nfaults; i++)
        if (strcmp(faults[i].sid, sid) == 0)
            return 0;
    return 1;
}

/* Writes value to the cache entry of sid (overwriting), else deletes it;
 * 0 when one of the two took. */
static int cache_correct(struct ums_ctx *c, const char *sid, const char *value)
{
    char key[64];
    const char *set[5] = {"SET", key, value, "EX", SESS_CACHE_TTL};
    const char *del[2] = {"DEL", key};
    redisReply *r = NULL;

    snprintf(key, sizeof(key), "ums:sess:%s", sid);
    if (kv_cmd(c->kv, &r, 5, set, NULL) == UMS_OK || kv_cmd(c->kv, &r, 2, del, NULL) == UMS_OK) {
        freeReplyObject(r);
        return 0;
    }
    return -1;
}

/* Notes the sessions of `failed` (a uuid[] literal being built) in
 * PostgreSQL; logged when even that fails. */
static void faults_add(struct ums_ctx *c, struct buf *failed)
{
    const char *p[1];

    if (failed->len == 0)
        return;
    buf_addc(failed, '}');
    p[0] = failed->p;
    if (failed->p == NULL || db_exec(c->db, NULL, STMT_SESS_FAULT_ADD, 1, p) != UMS_OK)
        log_error("sessions: neither Redis nor PostgreSQL took a cache correction");
    else
        log_warn("sessions: Redis refused a cache correction; the sessions are checked in "
                 "PostgreSQL until their cache entries expire");
}

static void failed_add(struct buf *failed, const char *sid)
{
    buf_addc(failed, failed->len == 0 ? '{' : ',');
    buf_adds(failed, sid);
}

void sessions_cache_revoked(struct ums_ctx *c, PGresult *revoked)
{
    struct buf failed;

    buf_init(&failed, 64 * 1024);
    for (int i = 0; revoked != NULL && i < PQntuples(revoked); i++)
        if (cache_correct(c, PQgetvalue(revoked, i, 0), "revoked") != 0)
            failed_add(&failed, PQgetvalue(revoked, i, 0));
    faults_add(c, &failed);
    buf_free(&failed);
}

/* Revokes one session inside the open transaction; returns the revoked rows. */
static int revoke_one(struct ums_ctx *c, const char *sid, PGresult **res)
{
    const char *p[1] = {sid};

    return db_exec(c->db, res, STMT_SESS_REVOKE_ONE, 1, p);
}

int sessions_refresh(struct ums_ctx *c, const char *refresh, char sid[UUID_LEN + 1],
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
    crypto_sha256_hex(h, refresh, REFRESH_TOKEN_LEN);
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
        if (rc == UMS_OK) {
            rc = db_commit(c->db);
            tx = 0;
        }
        if (rc == UMS_OK) {
            memcpy(next, child, REFRESH_TOKEN_LEN + 1);
            metrics_inc(M_REFRESH_SUCCESS);
        }
        goto out; /* a failed step is rolled back there, with its locks */
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
        crypto_sha256_hex(child_h, child, REFRESH_TOKEN_LEN);
        if (PQntuples(res) == 1 && age <= c->cfg->auth.refresh_reuse_interval &&
            crypto_secret_equal(PQgetvalue(res, 0, 0), child_h, 64)) {
            rc = db_commit(c->db);
            tx = 0;
            if (rc == UMS_OK) {
                memcpy(next, child, REFRESH_TOKEN_LEN + 1);
                metrics_inc(M_REFRESH_RETRY);
            }
            goto out;
        }
    }
    log_warn("refresh token reuse detected; revoking session %s", sid);
    metrics_inc(M_REFRESH_REUSE);
    rc = revoke_one(c, sid, &revoked);
    if (rc == UMS_OK) {
        rc = db_commit(c->db);
        tx = 0;
    }
    if (rc == UMS_OK) {
        sessions_cache_revoked(c, revoked);
        metrics_add(M_REVOKED_REFRESH_REUSE, (uint64_t)PQntuples(revoked));
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

int sessions_check_user(struct ums_ctx *c, const char *sid, const char *uid, char role[32],
                        const char *extra_prefix, char **user_json)
{
    char key[64], ukey[64], val[128];
    const char *mget[3] = {"MGET", key, ukey};
    const char *p[2] = {sid, uid};
    size_t ul = strlen(uid);
    redisReply *r = NULL;
    PGresult *res = NULL;
    long left;
    int rc, state;

    /* The cache holds "uid role" for live sessions of active users. */
    snprintf(key, sizeof(key), "ums:sess:%s", sid);
    snprintf(ukey, sizeof(ukey), "%s%s", extra_prefix != NULL ? extra_prefix : "ums:user:", uid);
    if (kv_cmd(c->kv, &r, user_json != NULL ? 3 : 2, mget, NULL) == UMS_OK) {
        redisReply *s = r->type == REDIS_REPLY_ARRAY && r->elements >= 1 ? r->element[0] : NULL;
        int hit = s != NULL && s->type == REDIS_REPLY_STRING && s->len > ul + 1 &&
                  s->len < ul + 33 && strncmp(s->str, uid, ul) == 0 && s->str[ul] == ' ';
        if (hit && !cache_trusted(c, sid))
            hit = 0;
        if (hit)
            snprintf(role, 32, "%s", s->str + ul + 1);
        if (hit && user_json != NULL && r->elements == 2 &&
            r->element[1]->type == REDIS_REPLY_STRING)
            *user_json = strdup(r->element[1]->str);
        freeReplyObject(r);
        /* A user object missed here is looked up (and counted) again by
         * the caller. */
        if (hit && user_json != NULL && *user_json != NULL)
            metrics_inc(extra_prefix != NULL && strcmp(extra_prefix, "ums:profile:") == 0
                            ? M_CACHE_PROFILE_HIT
                            : M_CACHE_USER_HIT);
        metrics_inc(hit ? M_CACHE_SESSION_HIT : M_CACHE_SESSION_MISS);
        if (hit)
            return SESS_LIVE;
    } else {
        metrics_inc(M_CACHE_SESSION_MISS);
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
    /* Never cached past the session's own end, nor while it is a fault. */
    left = db_ll(res, 0, 2);
    PQclear(res);
    if (state == SESS_LIVE && left > 0 && cache_trusted(c, sid)) {
        char ttl[16];
        const char *set[6] = {"SET", key, val, "EX", ttl, "NX"};
        snprintf(ttl, sizeof(ttl), "%ld", left < SESS_CACHE_TTL_S ? left : SESS_CACHE_TTL_S);
        snprintf(val, sizeof(val), "%s %s", uid, role);
        if (kv_cmd(c->kv, &r, 6, set, NULL) == UMS_OK)
            freeReplyObject(r);
    }
    return state;
}

int sessions_revoke(struct ums_ctx *c, const char *uid, const char *sid, enum sess_scope scope,
                    enum metric cause, int *count)
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
        sessions_cache_revoked(c, res);
        metrics_add(cause, (uint64_t)*count);
    }
    PQclear(res);
    return rc;
}

int sessions_cache_role_changed(struct ums_ctx *c, const char *uid)
{
    const char *p[1] = {uid};
    PGresult *res = NULL;
    struct buf failed;
    int rc = db_exec(c->db, &res, STMT_SESS_LIST_LIVE, 1, p);

    buf_init(&failed, 64 * 1024);
    for (int i = 0; rc == UMS_OK && i < PQntuples(res); i++)
        if (cache_correct(c, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1)) != 0)
            failed_add(&failed, PQgetvalue(res, i, 0));
    faults_add(c, &failed);
    buf_free(&failed);
    PQclear(res);
    return rc;
}

void sessions_cache_faults_prune(struct db *db)
{
    db_exec(db, NULL, STMT_SESS_FAULTS_PRUNE, 0, NULL);
}
