/* deliver.c - one batch of events, from its entries to its records.
 *
 * An event expands into up to three channels (email, in_app, push) by its
 * plan and the user's preferences (plan.c); the channels send (channels.c).
 * The whole batch shares its database round trips: one query for the
 * recipients, one for the state of every delivery, one statement for the
 * in-app rows, one for every outcome (core/delivery.c).
 * A delivery recorded as sent or failed is never attempted again; one not
 * due yet waits in the stream (its entry is not acknowledged);
 * docs/ARCHITECTURE.md "Notifications", step 3. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "../util/metrics.h"
#include "../core/config.h"
#include "../util/crypto.h"
#include "../core/delivery.h"
#include "../util/log.h"
#include "../core/stream.h"
#include "../util/ums.h"
#include "deliver.h"

/* A stream entry's outbox id, or 0 when it is not one. */
static long long entry_id(const char *oid)
{
    char *end = NULL;
    long long id = strtoll(oid, &end, 10);

    return id > 0 && end != oid && *end == '\0' ? id : 0;
}

/* The state of (job, channel) and its attempts so far. */
int deliver_state_of(const struct batch *b, const struct job *j, const char *channel, int *attempts)
{
    *attempts = 0;
    for (size_t i = 0; i < b->states.n; i++) {
        const struct delivery_state_row *s = &b->states.v[i];
        if (s->event_id != j->id || s->channel == NULL || strcmp(s->channel, channel) != 0)
            continue;
        *attempts = s->attempts;
        if (s->state == DELIVERY_SENT)
            return S_SENT;
        if (s->state == DELIVERY_FAILED)
            return S_FAILED;
        return s->waiting ? S_WAIT : S_DUE;
    }
    return S_NEW;
}

/* Adds one outcome to the batch's records (delivery_records_add). retry_ms
 * < 0: none. An outcome that cannot be kept (out of memory) makes the whole
 * batch unrecorded, so that its events are sent again (at least once). */
void deliver_record(struct batch *b, struct job *j, const char *channel, enum delivery_state state,
                    const char *error, long retry_ms)
{
    if (delivery_records_add(b->records, j->id, channel, state, error, retry_ms) != UMS_OK)
        b->records_lost = 1;
    j->recorded = 1;
}

/* Moves an event that exhausted its attempts to the dead-letter stream. */
static void bury(struct notifier *n, const struct job *j, const char *channel, const char *why)
{
    stream_bury(n->ctx.kv, j->entry->oid, j->entry->event, channel, why);
    log_error("event %s (%s): %s gave up after %d attempts: %s", j->entry->oid, j->plan->type,
              channel, n->cfg->notifier.max_attempts, why);
}

/* The back-off before attempt `attempts` + 1: the provider's Retry-After, or
 * base * 2^(attempts - 1) capped at max, with jitter (50-100 %). */
static long backoff_ms(const struct notifier *n, int attempts, int retry_after)
{
    double d;
    unsigned r = 0;

    if (retry_after > 0)
        return (long)retry_after * 1000;
    d = (double)n->cfg->notifier.backoff_base_ms;
    for (int i = 1; i < attempts && d < n->cfg->notifier.backoff_max_ms; i++)
        d *= 2;
    if (d > n->cfg->notifier.backoff_max_ms)
        d = n->cfg->notifier.backoff_max_ms;
    crypto_random_bytes(&r, sizeof(r));
    return (long)(d * (0.5 + 0.5 * (double)(r % 1000) / 1000.0));
}

/* Records what a send of (job, channel) came to, after `attempts` earlier
 * attempts: sent, failed for good (a permanent error, or the last attempt:
 * then the event also goes to the dead-letter stream), or a retry later. */
void deliver_outcome(struct batch *b, struct job *j, const char *channel, int attempts, int out,
                     const struct tx_result *tr)
{
    struct notifier *n = b->n;

    enum metric m = strcmp(channel, "email") == 0  ? M_DELIVERY_EMAIL_SENT
                    : strcmp(channel, "push") == 0 ? M_DELIVERY_PUSH_SENT
                                                   : M_DELIVERY_IN_APP_SENT;

    /* sent, retried, failed, dead: the order of METRICS_DELIVERY. */
    if (out == TX_OK) {
        metrics_inc(m);
        log_info("event %s (%s): %s sent", j->entry->oid, j->plan->type, channel);
        deliver_record(b, j, channel, DELIVERY_SENT, NULL, -1);
    } else if (out == TX_PERMANENT || attempts + 1 >= n->cfg->notifier.max_attempts) {
        metrics_inc((enum metric)(m + (out != TX_PERMANENT ? 3 : 2)));
        if (out != TX_PERMANENT)
            bury(n, j, channel, tr->error);
        else
            log_warn("event %s (%s): %s failed for good: %s", j->entry->oid, j->plan->type, channel,
                     tr->error);
        deliver_record(b, j, channel, DELIVERY_FAILED, tr->error, -1);
    } else {
        long ms = backoff_ms(n, attempts + 1, tr->retry_after);
        metrics_inc((enum metric)(m + 1));
        log_warn("event %s (%s): %s attempt %d failed (%s); retrying in %ld ms", j->entry->oid,
                 j->plan->type, channel, attempts + 1, tr->error, ms);
        deliver_record(b, j, channel, DELIVERY_PENDING, tr->error, ms);
        j->open++;
    }
}

/* Whether (job, channel) should be attempted now; counts a retry that is
 * not due yet as open. */
int deliver_due(const struct batch *b, struct job *j, const char *channel, int *attempts)
{
    int st = deliver_state_of(b, j, channel, attempts);

    if (st == S_WAIT)
        j->open++;
    return st == S_NEW || st == S_DUE;
}

void deliver_batch(struct notifier *n, struct entry *e, size_t count)
{
    struct batch b;
    long long *ids = NULL, *done = NULL;
    size_t ndone = 0;
    int recorded = 1;

    memset(&b, 0, sizeof(b));
    b.n = n;
    b.jobs = calloc(count > 0 ? count : 1, sizeof(*b.jobs));
    ids = calloc(count > 0 ? count : 1, sizeof(*ids));
    done = calloc(count > 0 ? count : 1, sizeof(*done));
    if (b.jobs == NULL || ids == NULL || done == NULL || delivery_records_new(&b.records) != UMS_OK)
        goto out;
    plan_jobs_make(&b, e, count);
    if (b.njobs > 0) {
        int rc;
        for (size_t i = 0; i < b.njobs; i++)
            ids[i] = b.jobs[i].id;
        rc = plan_targets_load(&b);
        if (rc == UMS_OK)
            rc = delivery_states_read(n->ctx.db, ids, b.njobs, &b.states);
        if (rc != UMS_OK)
            goto out; /* PostgreSQL is away: the whole batch later */
        plan_drop_pruned(&b);
        plan_secrets_take(&b);
        channels_email(&b);
        channels_in_app(&b);
        channels_push(&b);
    }
    /* Done: entries with nothing (more) to do, and jobs with no channel
     * waiting for a retry, if their outcomes are recorded. */
    for (size_t i = 0; i < count; i++)
        if (e[i].done && entry_id(e[i].oid) > 0)
            done[ndone++] = entry_id(e[i].oid);
    for (size_t i = 0; i < b.njobs && ndone < count; i++)
        if (b.jobs[i].open == 0)
            done[ndone++] = b.jobs[i].id;
    recorded =
        !b.records_lost && delivery_records_write(n->ctx.db, b.records, done, ndone) == UMS_OK;
    if (!recorded)
        log_error("could not record %zu delivery outcomes; those events will be sent again",
                  delivery_records_count(b.records));
    for (size_t i = 0; i < b.njobs; i++) {
        struct job *j = &b.jobs[i];
        j->entry->done = j->open == 0 && (recorded || !j->recorded);
    }
out:
    for (size_t i = 0; i < b.njobs; i++) {
        json_object_put(b.jobs[i].ev);
        explicit_bzero(b.jobs[i].otp, sizeof(b.jobs[i].otp));
        explicit_bzero(b.jobs[i].link, sizeof(b.jobs[i].link));
    }
    delivery_states_free(&b.states);
    delivery_records_free(b.records);
    free(ids);
    free(done);
    free(b.jobs);
}
