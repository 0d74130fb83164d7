/* deliver.h - the notifier's batch as its three files share it (private to
 * notifier/): what an event becomes (plan.c), the channels that send it
 * (channels.c) and the batch's flow and records (deliver.c);
 * docs/ARCHITECTURE.md "Notifications", step 3. */
#ifndef UMS_NOTIFIER_DELIVER_H
#define UMS_NOTIFIER_DELIVER_H

#include <stddef.h>

#include "../util/buf.h"
#include "../core/delivery.h"
#include "mail.h"
#include "notifier.h"

/* What an event becomes. security: the email ignores preferences. */
struct plan {
    const char *type;
    int tpl;          /* enum tmpl_id, or -1: no email */
    const char *kind; /* preference kind and in-app kind, or NULL */
    int security;
    const char *title; /* in-app and push title (NULL: neither); "" = the event's title */
};

/* The state of one delivery row, as the batch read it. */
enum { S_NEW, S_DUE, S_WAIT, S_SENT, S_FAILED };

struct job {
    struct entry *entry;
    long long id;
    struct json_object *ev;
    const struct plan *plan;
    const char *uid; /* NULL: not a user event */
    char email[256];
    char name[512];                   /* 100 characters of UTF-8 */
    char otp[16];                     /* the mail's one-time code and link token, from */
    char link[80];                    /* outbox_secrets (never in the event); wiped after */
    int email_on, in_app_on, push_on; /* preferences (default on) */
    int has_device, user_gone;
    int open;         /* channels waiting for a retry: not done */
    int recorded;     /* has outcomes in the batch's records */
    struct mail mail; /* the rendered email while it is sent */
    struct buf subject, text, html;
};

struct batch {
    struct notifier *n;
    struct job *jobs;
    size_t njobs;
    struct delivery_states states;
    struct delivery_records *records; /* written together at the end */
    int records_lost;                 /* an outcome could not be kept: write none */
};

/* plan.c: what the events of a batch become. */

/* Turns the count entries e[] into b's jobs; entries with nothing to do are
 * done at once. An outbox id seen twice in one batch (republished) is left
 * for later. Each job owns its parsed event (j->ev). */
void plan_jobs_make(struct batch *b, struct entry *e, size_t count);

/* Reads the recipients of the batch's user events and their preferences
 * (one query). UMS_OK or a delivery_targets_read code. */
int plan_targets_load(struct batch *b);

/* The code and link of each job's mail, from b->states. */
void plan_secrets_take(struct batch *b);

/* Drops the jobs whose event is no longer in the outbox (done at once). */
void plan_drop_pruned(struct batch *b);

/* The string member key of the job's event, or dflt (which may be NULL). */
const char *plan_event_str(const struct job *j, const char *key, const char *dflt);

/* The title of a job's push and in-app notification: the plan's, or the
 * event's (cleaned into buf, n bytes). */
const char *plan_title(const struct job *j, char *buf, size_t n);

/* The text of a job's push and in-app notification into body (n bytes),
 * always valid UTF-8. */
void plan_text(const struct job *j, char *body, size_t n);

/* deliver.c: states and outcomes of the batch's deliveries. */

/* The state of (job, channel) (S_*) and its attempts so far. */
int deliver_state_of(const struct batch *b, const struct job *j, const char *channel,
                     int *attempts);

/* Whether (job, channel) should be attempted now; counts a retry that is
 * not due yet as open. */
int deliver_due(const struct batch *b, struct job *j, const char *channel, int *attempts);

/* Adds one outcome to the batch's records. retry_ms < 0: none. */
void deliver_record(struct batch *b, struct job *j, const char *channel, enum delivery_state state,
                    const char *error, long retry_ms);

/* Records what a send of (job, channel) came to (out: TX_*), after
 * `attempts` earlier attempts: sent, failed for good, or a retry later. */
void deliver_outcome(struct batch *b, struct job *j, const char *channel, int attempts, int out,
                     const struct tx_result *tr);

/* channels.c: the sends of a batch, one channel at a time. */
void channels_email(struct batch *b);
void channels_in_app(struct batch *b);
void channels_push(struct batch *b);

#endif
