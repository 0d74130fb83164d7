/* stream.h - the notifier's side of the event stream ums:events: its consumer
 * group, reads, claims, acknowledgements and dead letters
 * (docs/ARCHITECTURE.md "Notifications", step 3). Every Redis reply is
 * checked by type before use; nothing here exposes hiredis, so a caller
 * compiles without its headers. */
#ifndef UMS_STREAM_H
#define UMS_STREAM_H

#include <stddef.h>

struct kv;

/* At most this many entries are taken from one reply, and acknowledged and
 * deleted by one XACK and one XDEL. */
#define STREAM_ACK_MAX 1000

/* One entry of the stream. outbox_id and event are NULL together: the entry
 * is "not ours" (not written by outbox_publish, or of a shape ums never
 * writes, or deleted from the stream while pending) and is to be
 * acknowledged and deleted without delivery. */
struct stream_entry {
    const char *id;        /* the entry's stream id ("1700000000000-0") */
    const char *outbox_id; /* the outbox row's id, as text, or NULL */
    const char *event;     /* the event's JSON, or NULL */
};

/*
 * The entries of one reply, in stream order. An entry that cannot even be
 * named (not a pair, or an id that is not a string) is left out: it cannot
 * be acknowledged. The strings point into `reply` when it is set (then the
 * batch owns the reply) or into the caller's reply (stream_entries_parse).
 * Free with stream_batch_free.
 */
struct stream_batch {
    struct stream_entry *entries; /* malloc'd, n of them; NULL when n is 0 */
    size_t n;
    void *reply; /* owned: the redisReply the strings point into, or NULL */
};

/* Releases what b holds (its entries and its reply) and empties it. Safe on
 * an empty batch and on one a failed call left. */
void stream_batch_free(struct stream_batch *b);

/* Makes sure consumer group OUTBOX_GROUP exists on OUTBOX_STREAM (XINFO
 * GROUPS, then XGROUP CREATE ... 0 MKSTREAM when it is missing). UMS_OK, or
 * the code of the XGROUP CREATE that failed (logged by kv_cmd). */
int stream_group_ensure(struct kv *kv);

/*
 * One XREADGROUP GROUP OUTBOX_GROUP consumer COUNT count [BLOCK block_ms]
 * STREAMS OUTBOX_STREAM from_id: from_id ">" reads new entries, "0" (or an
 * id) this consumer's pending entries after it. block_ms < 0: no BLOCK.
 * *out is filled (empty when nothing came) and owns the reply. UMS_OK, a
 * kv_cmd code, UMS_EINVALID for a reply of the wrong shape (logged), or
 * UMS_ERR out of memory; on failure *out is empty.
 */
int stream_read(struct kv *kv, const char *consumer, const char *from_id, int count, int block_ms,
                struct stream_batch *out);

/* One XAUTOCLAIM OUTBOX_STREAM OUTBOX_GROUP consumer idle_ms 0-0 COUNT
 * count: the entries other consumers left pending longer than idle_ms, now
 * this consumer's. Returns and fills *out as stream_read. */
int stream_claim(struct kv *kv, const char *consumer, int idle_ms, int count,
                 struct stream_batch *out);

/* Acknowledges and deletes the n entries ids[] (XACK, then XDEL, even when
 * the XACK failed: the entries carried references to codes), in commands of
 * at most STREAM_ACK_MAX ids. n 0 sends nothing. UMS_OK or the first
 * kv_cmd code. */
int stream_finish(struct kv *kv, const char *const *ids, size_t n);

/* Moves an event that exhausted its attempts on channel to
 * OUTBOX_DEAD_STREAM (XADD with outbox_id, event, channel, error). UMS_OK
 * or a kv_cmd code. */
int stream_bury(struct kv *kv, const char *outbox_id, const char *event, const char *channel,
                const char *error);

/*
 * The consumer's lock, ums:notifier:{consumer}:lock: whichever process runs
 * as a consumer (a daemon or a --once run) holds it, so that no two read the
 * same pending entries (XREADGROUP ... 0) and send them twice. Its value is
 * the holder's token, "host:pid:random" (stream_lock_token); it lapses
 * ttl_ms after it was taken or last renewed, so that a killed holder blocks
 * nobody for longer than that, and a holder on this host that is gone can
 * be told at once (stream_lock_holder_gone). The holder renews it before
 * every batch it reads.
 */
#define STREAM_LOCK_TOKEN_MAX 384 /* host (255), pid, 32 hex digits */

/* A fresh token for this process into out (STREAM_LOCK_TOKEN_MAX bytes).
 * UMS_OK or UMS_ERR (no randomness). */
int stream_lock_token(char *out, size_t outlen);

/* 1 when holder (a token) names a process of this host, not this one, that
 * is no longer a running ums-notifier (pidfile_running): killed, say, and
 * its lock left to lapse. 0 otherwise, a holder on another host included. */
int stream_lock_holder_gone(const char *holder);

/* The token that holds the lock into out: UMS_OK, UMS_ENOTFOUND when none,
 * a kv_cmd code, or UMS_EINVALID (logged). */
int stream_lock_holder(struct kv *kv, const char *consumer, char *out, size_t outlen);

/* Takes the lock from the token old (compare, then SET, in one script):
 * UMS_OK when it was still old's, UMS_ECONFLICT when not, or as
 * stream_lock_take. For a holder stream_lock_holder_gone says is gone. */
int stream_lock_steal(struct kv *kv, const char *consumer, const char *old, const char *token,
                      int ttl_ms);

/* SET key token NX PX ttl_ms. UMS_OK when taken, UMS_ECONFLICT when another
 * token holds it, a kv_cmd code, or UMS_EINVALID for an unexpected reply
 * (logged). */
int stream_lock_take(struct kv *kv, const char *consumer, const char *token, int ttl_ms);

/* Extends the lock to ttl_ms from now when token holds it (compare, then
 * PEXPIRE, in one script). A lock that lapsed and nobody took since is taken
 * again (logged: a batch outlasted the TTL, or Redis lost the key). Returns
 * as stream_lock_take: UMS_ECONFLICT means it was lost to another process. */
int stream_lock_renew(struct kv *kv, const char *consumer, const char *token, int ttl_ms);

/* Deletes the lock when token holds it (compare, then DEL, in one script);
 * another holder's lock is left alone. UMS_OK or a kv_cmd code. */
int stream_lock_release(struct kv *kv, const char *consumer, const char *token);

#endif
