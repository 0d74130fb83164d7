/* outbox.h - domain events: a row in the caller's transaction, then a Redis
 * Stream entry after commit (docs/ARCHITECTURE.md "Notifications", steps 1-2). */
#ifndef UMS_OUTBOX_H
#define UMS_OUTBOX_H

#include "../util/buf.h"

struct db;
struct kv;

#define OUTBOX_STREAM      "ums:events"
#define OUTBOX_DEAD_STREAM "ums:events:dead"
#define OUTBOX_GROUP       "notifier"

/* Writes event_json (an object with at least "type") in the current
 * transaction; *id receives the row id. 0 or a UMS_E* code. */
int outbox_add(struct db *db, const char *event_json, long long *id);

/* outbox_add for an event whose mail carries a one-time code and link: they
 * are kept beside the event (outbox_secrets), never in it, so the stream,
 * Redis's files and the dead letters hold a reference, not the secret; the
 * notifier deletes them once the mail is final. */
int outbox_add_secret(struct db *db, const char *event_json, const char *otp, const char *link,
                      long long *id);

/* After commit: XADDs the event to the stream and marks the row published.
 * With Redis down the row waits for the notifier to republish it; that is
 * not an error. */
void outbox_publish(struct db *db, struct kv *kv, long long id, const char *event_json);

/* The notifier's republication: outbox rows never published and older than
 * after_s seconds, and rows published more than again_s seconds ago and
 * still not done (their entry may have been lost with Redis's last writes;
 * delivery records make a second entry harmless), at most limit of them,
 * each put on the stream with outbox_publish. 0 or the query's UMS_E* code. */
int outbox_republish(struct db *db, struct kv *kv, int after_s, int again_s, int limit);

/* Deletes the codes and links (outbox_secrets) of events older than
 * max_age_s seconds ([auth] otp_ttl): they open nothing any more. 0 or a
 * UMS_E* code. */
int outbox_secrets_prune(struct db *db, int max_age_s);

/* Deletes up to limit outbox rows done more than keep_days days ago, with
 * their deliveries; *deleted counts them. 0 or a UMS_E* code. */
int outbox_prune(struct db *db, int keep_days, int limit, long *deleted);

/* umsctl events retry-dead: puts every event of the dead-letter stream back
 * on the stream, with the failed delivery of its channel forgotten so that
 * it gets max_attempts again. *moved counts them. 0 or a UMS_E* code. */
int outbox_retry_dead(struct db *db, struct kv *kv, long *moved);

/*
 * The notifier's heartbeat: ums:notifier:{consumer}:rounds holds how many
 * rounds (retries looked at, the stream read) the daemon has finished, for
 * 60 s. Operators see which notifiers are alive; tests wait for a round to
 * pass instead of sleeping. Best effort: a failure is not reported.
 */
void outbox_heartbeat(struct kv *kv, const char *consumer, long long rounds);

/* umsctl events status: the queue at a glance. */
struct outbox_status {
    long long stream;      /* entries in ums:events */
    long long pending;     /* read by a notifier, not acknowledged yet */
    long long consumers;   /* notifiers with entries pending */
    long long dead;        /* entries in ums:events:dead */
    long long unpublished; /* outbox rows not on the stream yet */
    long long waiting;     /* deliveries waiting for a retry */
    double oldest_age;     /* seconds since the oldest event not done was made; 0: none */
    double last_done;      /* when the last event was done (Unix time); 0: never */
};
int outbox_status(struct db *db, struct kv *kv, struct outbox_status *st);

#endif
