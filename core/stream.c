/* stream.c - the event stream as the notifier reads it (stream.h), every
 * reply checked by type before use (docs/ARCHITECTURE.md "Libraries: which
 * does what", hiredis). */
#include "stream.h"
#include "stream_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kv.h"
#include "outbox.h"
#include "../util/crypto.h"
#include "../util/log.h"
#include "../util/pidfile.h"
#include "../util/ums.h"

void stream_batch_free(struct stream_batch *b)
{
    if (b == NULL)
        return;
    free(b->entries);
    if (b->reply != NULL)
        freeReplyObject(b->reply);
    memset(b, 0, sizeof(*b));
}

/* The text of a bulk string reply, or NULL for any other reply. */
static const char *str_of(const redisReply *r)
{
    return r != NULL && r->type == REDIS_REPLY_STRING && r->str != NULL ? r->str : NULL;
}

/* Sets e's outbox_id and event from an entry's field list, when it is an
 * array of string pairs that holds both; otherwise leaves them NULL. */
static void entry_fields(const redisReply *f, struct stream_entry *e)
{
    const char *oid = NULL, *event = NULL;

    if (f == NULL || f->type != REDIS_REPLY_ARRAY || f->elements % 2 != 0 ||
        (f->elements > 0 && f->element == NULL))
        return;
    for (size_t k = 0; k < f->elements; k += 2) {
        const char *name = str_of(f->element[k]), *value = str_of(f->element[k + 1]);
        if (name == NULL || value == NULL)
            return; /* not a shape outbox_publish writes */
        if (strcmp(name, "outbox_id") == 0)
            oid = value;
        else if (strcmp(name, "event") == 0)
            event = value;
    }
    if (oid != NULL && event != NULL) {
        e->outbox_id = oid;
        e->event = event;
    }
}

int stream_entries_parse(const redisReply *r, struct stream_batch *out)
{
    size_t cap;

    memset(out, 0, sizeof(*out));
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || (r->elements > 0 && r->element == NULL))
        return UMS_EINVALID;
    if (r->elements == 0)
        return UMS_OK;
    cap = r->elements < STREAM_ACK_MAX ? r->elements : STREAM_ACK_MAX;
    out->entries = calloc(cap, sizeof(*out->entries));
    if (out->entries == NULL)
        return UMS_ERR;
    for (size_t i = 0; i < r->elements && out->n < cap; i++) {
        const redisReply *e = r->element[i];
        const char *id;
        if (e == NULL || e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element == NULL)
            continue; /* cannot be named, so cannot be acknowledged */
        id = str_of(e->element[0]);
        if (id == NULL)
            continue;
        out->entries[out->n].id = id;
        entry_fields(e->element[1], &out->entries[out->n]);
        out->n++;
    }
    if (out->n == 0) {
        free(out->entries);
        out->entries = NULL;
    }
    return UMS_OK;
}

int stream_read_parse(const redisReply *r, struct stream_batch *out)
{
    const redisReply *s;

    memset(out, 0, sizeof(*out));
    if (r != NULL && r->type == REDIS_REPLY_NIL)
        return UMS_OK; /* BLOCK ran out, or nothing new */
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || (r->elements > 0 && r->element == NULL))
        return UMS_EINVALID;
    if (r->elements == 0)
        return UMS_OK;
    s = r->element[0];
    if (s == NULL || s->type != REDIS_REPLY_ARRAY || s->elements != 2 || s->element == NULL ||
        str_of(s->element[0]) == NULL)
        return UMS_EINVALID;
    return stream_entries_parse(s->element[1], out);
}

int stream_claim_parse(const redisReply *r, struct stream_batch *out)
{
    memset(out, 0, sizeof(*out));
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 2 || r->element == NULL ||
        str_of(r->element[0]) == NULL)
        return UMS_EINVALID;
    if (r->elements > 2 && (r->element[2] == NULL || r->element[2]->type != REDIS_REPLY_ARRAY))
        return UMS_EINVALID;
    return stream_entries_parse(r->element[1], out);
}

int stream_groups_have(const redisReply *r, const char *group)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->element == NULL)
        return 0;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *g = r->element[i];
        if (g == NULL || g->type != REDIS_REPLY_ARRAY || g->element == NULL)
            continue;
        for (size_t k = 0; k + 1 < g->elements; k += 2) {
            const char *name = str_of(g->element[k]), *value = str_of(g->element[k + 1]);
            if (name != NULL && value != NULL && strcmp(name, "name") == 0 &&
                strcmp(value, group) == 0)
                return 1;
        }
    }
    return 0;
}

/* Runs a command whose reply is not needed. */
static int run(struct kv *kv, int argc, const char **argv)
{
    redisReply *r = NULL;
    int rc = kv_cmd(kv, &r, argc, argv, NULL);

    if (r != NULL)
        freeReplyObject(r);
    return rc;
}

int stream_group_ensure(struct kv *kv)
{
    const char *info[3] = {"XINFO", "GROUPS", OUTBOX_STREAM};
    const char *create[6] = {"XGROUP", "CREATE", OUTBOX_STREAM, OUTBOX_GROUP, "0", "MKSTREAM"};
    redisReply *r = NULL;
    int exists = 0;

    /* XINFO on a missing stream is an error reply; then the group is missing too. */
    if (kv_cmd(kv, &r, 3, info, NULL) == UMS_OK) {
        exists = stream_groups_have(r, OUTBOX_GROUP);
        freeReplyObject(r);
    }
    return exists ? UMS_OK : run(kv, 6, create);
}

/* Hands reply r to *out once parse (rc) succeeded; frees it otherwise. */
static int adopt(struct stream_batch *out, redisReply *r, int rc, const char *what)
{
    if (rc != UMS_OK) {
        if (rc == UMS_EINVALID)
            log_error("redis %s: the reply has an unexpected shape; ignored", what);
        stream_batch_free(out);
        freeReplyObject(r);
        return rc;
    }
    out->reply = r;
    return UMS_OK;
}

int stream_read(struct kv *kv, const char *consumer, const char *from_id, int count, int block_ms,
                struct stream_batch *out)
{
    char cnt[16], block[16];
    const char *argv[11];
    redisReply *r = NULL;
    int argc = 0, rc;

    memset(out, 0, sizeof(*out));
    snprintf(cnt, sizeof(cnt), "%d", count);
    snprintf(block, sizeof(block), "%d", block_ms);
    argv[argc++] = "XREADGROUP";
    argv[argc++] = "GROUP";
    argv[argc++] = OUTBOX_GROUP;
    argv[argc++] = consumer;
    argv[argc++] = "COUNT";
    argv[argc++] = cnt;
    if (block_ms >= 0) {
        argv[argc++] = "BLOCK";
        argv[argc++] = block;
    }
    argv[argc++] = "STREAMS";
    argv[argc++] = OUTBOX_STREAM;
    argv[argc++] = from_id;
    rc = kv_cmd(kv, &r, argc, argv, NULL);
    if (rc != UMS_OK)
        return rc;
    return adopt(out, r, stream_read_parse(r, out), "XREADGROUP");
}

int stream_claim(struct kv *kv, const char *consumer, int idle_ms, int count,
                 struct stream_batch *out)
{
    char idle[16], cnt[16];
    const char *argv[8] = {"XAUTOCLAIM", OUTBOX_STREAM, OUTBOX_GROUP, consumer,
                           idle,         "0-0",         "COUNT",      cnt};
    redisReply *r = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    snprintf(idle, sizeof(idle), "%d", idle_ms);
    snprintf(cnt, sizeof(cnt), "%d", count);
    rc = kv_cmd(kv, &r, 8, argv, NULL);
    if (rc != UMS_OK)
        return rc;
    return adopt(out, r, stream_claim_parse(r, out), "XAUTOCLAIM");
}

int stream_finish(struct kv *kv, const char *const *ids, size_t n)
{
    const char *ack[3 + STREAM_ACK_MAX] = {"XACK", OUTBOX_STREAM, OUTBOX_GROUP};
    const char *del[2 + STREAM_ACK_MAX] = {"XDEL", OUTBOX_STREAM};
    int rc = UMS_OK;

    for (size_t off = 0; off < n; off += STREAM_ACK_MAX) {
        size_t k = n - off < STREAM_ACK_MAX ? n - off : STREAM_ACK_MAX;
        int acked, deleted;
        memcpy(ack + 3, ids + off, k * sizeof(*ids));
        memcpy(del + 2, ids + off, k * sizeof(*ids));
        acked = run(kv, 3 + (int)k, ack);
        deleted = run(kv, 2 + (int)k, del);
        if (rc == UMS_OK)
            rc = acked != UMS_OK ? acked : deleted;
    }
    return rc;
}

int stream_bury(struct kv *kv, const char *outbox_id, const char *event, const char *channel,
                const char *error)
{
    const char *argv[11] = {"XADD", OUTBOX_DEAD_STREAM, "*",     "outbox_id", outbox_id, "event",
                            event,  "channel",          channel, "error",     error};

    return run(kv, 11, argv);
}

/* The lock's key, named like the heartbeat (outbox_heartbeat). */
static void lock_key(char *key, size_t keylen, const char *consumer)
{
    snprintf(key, keylen, "ums:notifier:%s:lock", consumer);
}

/* This host's name as a token holds it (up to any ':'). */
static void host_name(char *out, size_t outlen)
{
    if (gethostname(out, outlen) != 0)
        snprintf(out, outlen, "localhost");
    out[outlen - 1] = '\0';
    out[strcspn(out, ":")] = '\0';
}

int stream_lock_token(char *out, size_t outlen)
{
    unsigned char raw[16];
    char host[256], hex[33];
    int n;

    host_name(host, sizeof(host));
    if (crypto_random_bytes(raw, sizeof(raw)) != 0)
        return UMS_ERR;
    crypto_hex_encode(hex, raw, sizeof(raw));
    n = snprintf(out, outlen, "%s:%ld:%s", host, (long)getpid(), hex);
    return n > 0 && (size_t)n < outlen ? UMS_OK : UMS_ERR;
}

int stream_lock_holder_gone(const char *holder)
{
    char host[256];
    const char *colon = strchr(holder, ':');
    char *end;
    long pid;

    if (colon == NULL)
        return 0;
    host_name(host, sizeof(host));
    if (strlen(host) != (size_t)(colon - holder) || strncmp(holder, host, strlen(host)) != 0)
        return 0;
    pid = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end != ':' || pid <= 0 || pid == (long)getpid())
        return 0;
    return !pidfile_running(pid);
}

int stream_lock_holder(struct kv *kv, const char *consumer, char *out, size_t outlen)
{
    char key[320];
    const char *argv[2] = {"GET", key};
    redisReply *r = NULL;
    int rc;

    lock_key(key, sizeof(key), consumer);
    rc = kv_cmd(kv, &r, 2, argv, NULL);
    if (rc != UMS_OK)
        return rc;
    if (r->type == REDIS_REPLY_NIL)
        rc = UMS_ENOTFOUND;
    else if (r->type == REDIS_REPLY_STRING && r->len < outlen)
        snprintf(out, outlen, "%s", r->str);
    else {
        log_error("redis GET %s: the reply has an unexpected shape", key);
        rc = UMS_EINVALID;
    }
    freeReplyObject(r);
    return rc;
}

int stream_lock_take(struct kv *kv, const char *consumer, const char *token, int ttl_ms)
{
    char key[320], ttl[16];
    const char *argv[6] = {"SET", key, token, "NX", "PX", ttl};
    redisReply *r = NULL;
    int rc;

    lock_key(key, sizeof(key), consumer);
    snprintf(ttl, sizeof(ttl), "%d", ttl_ms);
    rc = kv_cmd(kv, &r, 6, argv, NULL);
    if (rc != UMS_OK)
        return rc;
    if (r->type == REDIS_REPLY_STATUS && r->str != NULL && strcmp(r->str, "OK") == 0)
        rc = UMS_OK;
    else if (r->type == REDIS_REPLY_NIL)
        rc = UMS_ECONFLICT; /* NX: the key is there */
    else {
        log_error("redis SET %s NX: the reply has an unexpected shape", key);
        rc = UMS_EINVALID;
    }
    freeReplyObject(r);
    return rc;
}

/* Runs script on the lock's key with ARGV token, then other (when not NULL),
 * then ttl_ms (when > 0), and returns its integer reply in *out. UMS_OK, a
 * kv_cmd code or UMS_EINVALID (logged). */
static int lock_script(struct kv *kv, const char *script, const char *consumer, const char *token,
                       const char *other, int ttl_ms, long long *out)
{
    char key[320], ttl[16];
    const char *argv[7] = {"EVAL", script, "1", key, token};
    redisReply *r = NULL;
    int rc, argc = 5;

    lock_key(key, sizeof(key), consumer);
    snprintf(ttl, sizeof(ttl), "%d", ttl_ms);
    if (other != NULL)
        argv[argc++] = other;
    if (ttl_ms > 0)
        argv[argc++] = ttl;
    rc = kv_cmd(kv, &r, argc, argv, NULL);
    if (rc != UMS_OK)
        return rc;
    if (r->type == REDIS_REPLY_INTEGER)
        *out = r->integer;
    else {
        log_error("redis EVAL on %s: the reply has an unexpected shape", key);
        rc = UMS_EINVALID;
    }
    freeReplyObject(r);
    return rc;
}

/* 1: still ours, extended; 2: lapsed and nobody's, taken again; 0: another's. */
static const char lock_renew_lua[] =
    "local v = redis.call('GET', KEYS[1]) "
    "if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end "
    "if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end "
    "return 0";

/* 1: it was ARGV[1]'s, now ARGV[2]'s; 0: not ARGV[1]'s. */
static const char lock_steal_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end "
    "return 0";

/* 1: deleted; 0: not ours (or gone). */
static const char lock_release_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
    "return 0";

int stream_lock_renew(struct kv *kv, const char *consumer, const char *token, int ttl_ms)
{
    long long got = 0;
    int rc = lock_script(kv, lock_renew_lua, consumer, token, NULL, ttl_ms, &got);

    if (rc != UMS_OK)
        return rc;
    if (got == 2)
        log_warn("the lock of consumer %s had lapsed (a batch took longer than [notifier] "
                 "lock_ttl_ms, or Redis lost it); taken again",
                 consumer);
    return got == 0 ? UMS_ECONFLICT : UMS_OK;
}

int stream_lock_release(struct kv *kv, const char *consumer, const char *token)
{
    long long got = 0;

    return lock_script(kv, lock_release_lua, consumer, token, NULL, 0, &got);
}

int stream_lock_steal(struct kv *kv, const char *consumer, const char *old, const char *token,
                      int ttl_ms)
{
    long long got = 0;
    int rc = lock_script(kv, lock_steal_lua, consumer, old, token, ttl_ms, &got);

    return rc != UMS_OK ? rc : got == 1 ? UMS_OK : UMS_ECONFLICT;
}
