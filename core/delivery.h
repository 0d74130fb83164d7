/* delivery.h - what the notifier reads and writes in PostgreSQL for one
 * batch of events: the recipients and their switches, the state of every
 * delivery, the in-app rows and the outcomes (docs/ARCHITECTURE.md
 * "Notifications", step 3). Rows come back as plain structs; nothing here
 * exposes libpq. */
#ifndef UMS_DELIVERY_H
#define UMS_DELIVERY_H

#include <stddef.h>

struct db;

/* One user event of a batch whose recipient is looked up. */
struct delivery_recipient {
    long long event_id;
    const char *user_id; /* a UUID */
    const char *kind;    /* the preference kind, or NULL: none (every switch reads as on) */
};

/* The recipient of one event, as the account holds it now. */
struct delivery_target {
    long long event_id;
    char *email; /* the account's address */
    char *name;  /* "" when the account has none */
    /* The user's switches for the event's kind: 1 unless turned off (a
     * switch never set is on). */
    int email_on, in_app_on, push_on;
    int has_device; /* the user has a push device */
};

struct delivery_targets {
    struct delivery_target *v; /* malloc'd, n of them (NULL when n is 0) */
    size_t n;
};

/* The recipients of the n events req[] in one query: a row for each event
 * whose user exists (an event of a user who is gone has none). n 0 runs no
 * query. *out is the caller's, freed with delivery_targets_free (also after
 * a failure). UMS_OK, a db_exec code, or UMS_ERR out of memory. */
int delivery_targets_read(struct db *db, const struct delivery_recipient *req, size_t n,
                          struct delivery_targets *out);
void delivery_targets_free(struct delivery_targets *t);

/* The state of one delivery row. Any state other than sent or failed reads
 * as pending. */
enum delivery_state { DELIVERY_PENDING, DELIVERY_SENT, DELIVERY_FAILED, DELIVERY__MAX };

/* One row of the states of a batch: an event still in the outbox and one
 * of its deliveries, or the event alone (channel NULL) when it has none. */
struct delivery_state_row {
    long long event_id;
    char *channel;             /* "email", "in_app", "push", "push:<device id>", or NULL */
    enum delivery_state state; /* DELIVERY_PENDING when channel is NULL */
    int attempts;              /* attempts recorded so far */
    int waiting;               /* a retry is scheduled and not due yet */
    char *otp;                 /* the code of the event's mail (outbox_secrets), or NULL */
    char *link;                /* the token of its link, or NULL; both wiped when freed */
};

struct delivery_states {
    struct delivery_state_row *v; /* malloc'd, n of them (NULL when n is 0) */
    size_t n;
};

/* Every delivery row of the n events ids[], with the code and link their
 * mail carries, in one query. An event no longer in the outbox (pruned) has
 * no row. *out is the caller's, freed with delivery_states_free (also after
 * a failure). UMS_OK, a db_exec code, or UMS_ERR out of memory. */
int delivery_states_read(struct db *db, const long long *ids, size_t n,
                         struct delivery_states *out);
void delivery_states_free(struct delivery_states *s);

/* One in-app notification of a batch (borrowed strings). */
struct delivery_in_app {
    long long event_id;
    const char *user_id;
    const char *kind;
    const char *title;
    const char *body;
};

/* Writes the n in-app notifications rows[] and their delivery records in
 * one statement (a user who is gone gets a failed record), so none is
 * written twice. UMS_OK, a db_exec code, or UMS_ERR out of memory. */
int delivery_in_app_write(struct db *db, const struct delivery_in_app *rows, size_t n);

/* The outcomes of a batch, gathered before they are written together. */
struct delivery_records;

/* A new, empty list in *out (the caller's, freed with
 * delivery_records_free). UMS_OK or UMS_ERR out of memory. */
int delivery_records_new(struct delivery_records **out);

/* Adds the outcome of (event_id, channel): state, the error (kept to
 * printable ASCII and 255 bytes; NULL: none) and, with retry_ms >= 0, when
 * the next attempt is due. UMS_OK or UMS_ERR out of memory. */
int delivery_records_add(struct delivery_records *r, long long event_id, const char *channel,
                         enum delivery_state state, const char *error, long retry_ms);

/* How many outcomes r holds. */
size_t delivery_records_count(const struct delivery_records *r);

/* Writes the outcomes in r and marks the ndone events done[] done, in one
 * statement (both or neither). UMS_OK, a db_exec code, or UMS_ERR. */
int delivery_records_write(struct db *db, const struct delivery_records *r, const long long *done,
                           size_t ndone);

void delivery_records_free(struct delivery_records *r);

#endif
