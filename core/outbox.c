/* outbox.c - transactional outbox and publication to the event stream. */
#include "outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "kv.h"
#include "../util/log.h"
#include "../util/ums.h"

int outbox_add(struct db *db, const char *event_json, long long *id)
{
    return outbox_add_secret(db, event_json, NULL, NULL, id);
}

int outbox_add_secret(struct db *db, const char *event_json, const char *otp, const char *link,
                      long long *id)
{
    const char *p[3] = {event_json, otp, link};
    PGresult *res = NULL;
    int rc = otp != NULL || link != NULL ? db_exec(db, &res, STMT_OUTBOX_INSERT_SECRET, 3, p)
                                         : db_exec(db, &res, STMT_OUTBOX_INSERT, 1, p);

    if (rc == UMS_OK)
        *id = db_ll(res, 0, 0);
    PQclear(res);
    return rc;
}

void outbox_publish(struct db *db, struct kv *kv, long long id, const char *event_json)
{
    char ids[32];
    redisReply *r = NULL;
    const char *p[1] = {ids};
    const char *argv[10] = {"XADD", OUTBOX_STREAM, "MAXLEN", "~",     "100000",
                            "*",    "outbox_id",   ids,      "event", event_json};

    snprintf(ids, sizeof(ids), "%lld", id);
    if (kv_cmd(kv, &r, 10, argv, NULL) != UMS_OK)
        return; /* the notifier republishes unpublished rows */
    freeReplyObject(r);
    if (db_exec(db, NULL, STMT_OUTBOX_PUBLISHED, 1, p) != UMS_OK)
        log_warn("outbox %lld published but not marked; it may be delivered twice", id);
}

void outbox_heartbeat(struct kv *kv, const char *consumer, long long rounds)
{
    char key[320], val[32];
    redisReply *r = NULL;
    const char *argv[5] = {"SET", key, val, "EX", "60"};

    snprintf(key, sizeof(key), "ums:notifier:%s:rounds", consumer);
    snprintf(val, sizeof(val), "%lld", rounds);
    if (kv_cmd(kv, &r, 5, argv, NULL) == UMS_OK)
        freeReplyObject(r);
}

int outbox_republish(struct db *db, struct kv *kv, int after_s, int again_s, int limit)
{
    char after[16], lim[16], again[16];
    const char *p[3] = {after, lim, again};
    PGresult *res = NULL;
    int rc;

    snprintf(after, sizeof(after), "%d", after_s);
    snprintf(lim, sizeof(lim), "%d", limit);
    snprintf(again, sizeof(again), "%d", again_s);
    rc = db_exec(db, &res, STMT_OUTBOX_UNPUBLISHED, 3, p);
    if (rc != UMS_OK)
        return rc;
    for (int i = 0; i < PQntuples(res); i++) {
        log_info("republishing outbox %s", PQgetvalue(res, i, 0));
        outbox_publish(db, kv, db_ll(res, i, 0), PQgetvalue(res, i, 1));
    }
    PQclear(res);
    return UMS_OK;
}

int outbox_secrets_prune(struct db *db, int max_age_s)
{
    char age[16];
    const char *p[1] = {age};

    snprintf(age, sizeof(age), "%d", max_age_s);
    return db_exec(db, NULL, STMT_OUTBOX_SECRETS_PRUNE, 1, p);
}

int outbox_prune(struct db *db, int keep_days, int limit, long *deleted)
{
    char days[16], lim[16];
    const char *p[2] = {days, lim};
    PGresult *res = NULL;
    const char *count;
    char *end = NULL;
    long v;
    int rc;

    *deleted = 0;
    snprintf(days, sizeof(days), "%d", keep_days);
    snprintf(lim, sizeof(lim), "%d", limit);
    rc = db_exec(db, &res, STMT_OUTBOX_PRUNE, 2, p);
    if (rc != UMS_OK)
        return rc;
    count = PQcmdTuples(res); /* "DELETE n": n as text */
    v = strtol(count, &end, 10);
    *deleted = end != count && *end == '\0' ? v : 0;
    PQclear(res);
    return UMS_OK;
}

/* The value of field `name` in a stream entry's field array, or NULL. */
static const char *entry_field(const redisReply *f, const char *name)
{
    for (size_t k = 0; f != NULL && f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2)
        if (f->element[k]->type == REDIS_REPLY_STRING && strcmp(f->element[k]->str, name) == 0 &&
            f->element[k + 1]->type == REDIS_REPLY_STRING)
            return f->element[k + 1]->str;
    return NULL;
}

int outbox_retry_dead(struct db *db, struct kv *kv, long *moved)
{
    const char *range[6] = {"XRANGE", OUTBOX_DEAD_STREAM, "-", "+", "COUNT", "1000"};
    redisReply *r = NULL;
    int rc;

    *moved = 0;
    rc = kv_cmd(kv, &r, 6, range, NULL);
    if (rc != UMS_OK)
        return rc;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        redisReply *e = r->element[i], *x = NULL;
        const char *oid, *event, *channel;
        /* [id, [field, value, ...]]; an entry without a string id cannot be deleted. */
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING)
            continue;
        oid = entry_field(e->element[1], "outbox_id");
        event = entry_field(e->element[1], "event");
        channel = entry_field(e->element[1], "channel");
        if (oid != NULL && event != NULL && channel != NULL) {
            const char *p[2] = {oid, channel};
            const char *add[7] = {"XADD", OUTBOX_STREAM, "*", "outbox_id", oid, "event", event};
            rc = db_exec(db, NULL, STMT_DELIVERY_RESET, 2, p);
            if (rc == UMS_OK)
                rc = kv_cmd(kv, &x, 7, add, NULL);
            if (x != NULL)
                freeReplyObject(x);
            x = NULL;
            if (rc != UMS_OK)
                break;
            (*moved)++;
        }
        {
            const char *del[3] = {"XDEL", OUTBOX_DEAD_STREAM, e->element[0]->str};
            if (kv_cmd(kv, &x, 3, del, NULL) == UMS_OK)
                freeReplyObject(x);
        }
    }
    freeReplyObject(r);
    return rc;
}

/* An integer reply; 0 for another type, -1 when the command failed. */
static long long kv_int(struct kv *kv, int argc, const char **argv)
{
    redisReply *r = NULL;
    long long v = 0;

    if (kv_cmd(kv, &r, argc, argv, NULL) != UMS_OK)
        return -1;
    if (r->type == REDIS_REPLY_INTEGER)
        v = r->integer;
    freeReplyObject(r);
    return v;
}

int outbox_status(struct db *db, struct kv *kv, struct outbox_status *st)
{
    const char *xlen[2] = {"XLEN", OUTBOX_STREAM}, *dlen[2] = {"XLEN", OUTBOX_DEAD_STREAM};
    const char *xpending[3] = {"XPENDING", OUTBOX_STREAM, OUTBOX_GROUP};
    redisReply *r = NULL;
    PGresult *res = NULL;
    int rc;

    memset(st, 0, sizeof(*st));
    st->stream = kv_int(kv, 2, xlen);
    st->dead = kv_int(kv, 2, dlen);
    if (st->stream < 0 || st->dead < 0)
        return UMS_EUNAVAILABLE;
    /* [count, first id, last id, [[consumer, count], ...]]; an error reply
     * when no notifier has made the group yet. */
    if (kv_cmd(kv, &r, 3, xpending, NULL) == UMS_OK) {
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 4) {
            if (r->element[0]->type == REDIS_REPLY_INTEGER)
                st->pending = r->element[0]->integer;
            if (r->element[3]->type == REDIS_REPLY_ARRAY)
                st->consumers = (long long)r->element[3]->elements;
        }
        freeReplyObject(r);
    }
    rc = db_exec(db, &res, STMT_OUTBOX_STATUS, 0, NULL);
    if (rc == UMS_OK && PQntuples(res) == 1) {
        st->unpublished = db_ll(res, 0, 0);
        st->waiting = db_ll(res, 0, 1);
        st->oldest_age = strtod(PQgetvalue(res, 0, 2), NULL);
        st->last_done = strtod(PQgetvalue(res, 0, 3), NULL);
    }
    PQclear(res);
    return rc;
}
