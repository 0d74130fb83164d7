/* notifier.h - the notifier's state, shared by the stream loop (main.c) and
 * the delivery of a batch of events (deliver.c). */
#ifndef UMS_NOTIFIER_H
#define UMS_NOTIFIER_H

#include <signal.h>
#include <stddef.h>

#include "../core/ctx.h"
#include "../core/stream.h"
#include "../core/template.h"

struct ums_config;

struct notifier {
    struct ums_config *cfg;
    struct ums_ctx ctx; /* the connections (ctx.db, ctx.kv), opened with ctx_open_blocking */
    struct templates tpl;
    char consumer[128];
    char last_id[64]; /* the last stream entry the loop saw */
    /* The consumer's lock (stream_lock_take): this process's token, and
     * whether it holds the lock now (main.c). */
    char lock_token[STREAM_LOCK_TOKEN_MAX];
    int locked;
};

/* Set by SIGTERM/SIGINT: finish what is in flight, start nothing new. */
extern volatile sig_atomic_t notifier_stopping;

/* One stream entry of a batch. */
struct entry {
    const char *oid;   /* outbox id */
    const char *event; /* the event's JSON */
    int done;          /* set by deliver_batch: it may be acknowledged */
};

/* Delivers a batch of events: every channel's state is read in one query,
 * emails go out in parallel (sendgrid, smtp) or one by one (file), in-app
 * rows are written in one statement, and every outcome is recorded in one
 * statement before any entry is marked done. An entry stays not done while
 * one of its channels waits for a retry, or when its outcome could not be
 * recorded (then it is sent again: at least once). */
void deliver_batch(struct notifier *n, struct entry *e, size_t count);

#endif
