/* plan.c - what the events of one batch become: a plan per event type
 * (which email, which preference kind, which in-app and push title), the
 * recipient and their preferences, the mail's code and link
 * (docs/ARCHITECTURE.md "Notifications", step 3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "../core/delivery.h"
#include "../util/log.h"
#include "../util/ums.h"
#include "../util/utf8.h"
#include "../util/valid.h"
#include "deliver.h"

static const struct plan plans[] = {
    {"user.registered", T_WELCOME, "welcome", 0, "Welcome"},
    {"user.confirmation_requested", T_CONFIRM, NULL, 1, NULL},
    {"user.recovery_requested", T_RECOVERY, NULL, 1, NULL},
    {"user.email_change_requested", T_EMAIL_CHANGE, NULL, 1, NULL},
    {"account.locked", T_ACCOUNT_LOCKED, NULL, 1, NULL},
    {"user.role_changed", T_ROLE_CHANGED, "role_changed", 0, "Your role changed"},
    {"user.new_sign_in", T_NEW_SIGN_IN, "new_sign_in", 0, "New sign-in to your account"},
    {"admin.message", T_ADMIN_MESSAGE, "admin_message", 0, ""},
    {"user.reauthentication_requested", T_REAUTHENTICATE, NULL, 1, NULL},
    {"user.email_change_notice", T_EMAIL_CHANGE_NOTICE, NULL, 1, NULL},
    {"user.magiclink_requested", T_MAGICLINK, NULL, 1, NULL},
};

static const char *jget(struct json_object *o, const char *k)
{
    struct json_object *v;

    return json_object_object_get_ex(o, k, &v) && v != NULL ? json_object_get_string(v) : NULL;
}

static const char *jor(struct json_object *o, const char *k, const char *dflt)
{
    const char *v = jget(o, k);

    return v != NULL ? v : dflt;
}

const char *plan_event_str(const struct job *j, const char *key, const char *dflt)
{
    return jor(j->ev, key, dflt);
}

/* The title and text of a job's push and in-app notification. */
const char *plan_title(const struct job *j, char *buf, size_t n)
{
    if (j->plan->title[0] != '\0')
        return j->plan->title;
    utf8_clean(buf, n, jor(j->ev, "title", "Message"));
    return buf;
}

/* The text of a job's push and in-app notification into body (n bytes):
 * always valid UTF-8, each piece cut between characters (a crafted
 * User-Agent must not make a row PostgreSQL refuses). */
void plan_text(const struct job *j, char *body, size_t n)
{
    char a[256], b[80], text[4096];

    switch (j->plan->tpl) {
    case T_ROLE_CHANGED:
        utf8_clean(a, 65, jor(j->ev, "role", ""));
        snprintf(text, sizeof(text), "Your role is now %s.", a);
        break;
    case T_NEW_SIGN_IN:
        utf8_clean(a, 201, jor(j->ev, "device", "a new device"));
        utf8_clean(b, 65, jor(j->ev, "ip", "unknown address"));
        snprintf(text, sizeof(text), "Signed in from %s (%s).", a, b);
        break;
    case T_ADMIN_MESSAGE:
        snprintf(text, sizeof(text), "%s", jor(j->ev, "message", ""));
        break;
    default:
        snprintf(text, sizeof(text), "Your account %s is ready.", j->email);
    }
    utf8_clean(body, n, text);
}

/* Reads the recipients of the batch's user events and their preferences. */
int plan_targets_load(struct batch *b)
{
    struct delivery_recipient *req = calloc(b->njobs, sizeof(*req));
    struct delivery_targets t;
    size_t k = 0;
    int rc;

    memset(&t, 0, sizeof(t));
    if (req == NULL)
        return UMS_ERR;
    for (size_t i = 0; i < b->njobs; i++) {
        if (b->jobs[i].uid == NULL)
            continue;
        req[k].event_id = b->jobs[i].id;
        req[k].user_id = b->jobs[i].uid;
        req[k++].kind = b->jobs[i].plan->kind;
        b->jobs[i].user_gone = 1; /* until a row says otherwise */
    }
    rc = delivery_targets_read(b->n->ctx.db, req, k, &t);
    for (size_t r = 0; rc == UMS_OK && r < t.n; r++) {
        for (size_t i = 0; i < b->njobs; i++) {
            struct job *j = &b->jobs[i];
            if (j->id != t.v[r].event_id || j->uid == NULL)
                continue;
            j->user_gone = 0;
            if (j->email[0] == '\0')
                utf8_clean(j->email, sizeof(j->email), t.v[r].email);
            if (j->name[0] == '\0')
                utf8_clean(j->name, sizeof(j->name), t.v[r].name);
            j->email_on = t.v[r].email_on;
            j->in_app_on = t.v[r].in_app_on;
            j->push_on = t.v[r].push_on;
            j->has_device = t.v[r].has_device;
        }
    }
    delivery_targets_free(&t);
    free(req);
    return rc;
}

/* The code and link of each job's mail, from the states query
 * (outbox_secrets). Entries put on the stream before the secrets moved out
 * of events may still carry them in the event. */
void plan_secrets_take(struct batch *b)
{
    for (size_t i = 0; i < b->njobs; i++) {
        struct job *j = &b->jobs[i];
        const char *otp = jget(j->ev, "otp"), *link = jget(j->ev, "token_hash");
        for (size_t r = 0; r < b->states.n; r++) {
            const struct delivery_state_row *s = &b->states.v[r];
            if (s->event_id != j->id)
                continue;
            if (s->otp != NULL)
                otp = s->otp;
            if (s->link != NULL)
                link = s->link;
            break;
        }
        snprintf(j->otp, sizeof(j->otp), "%s", otp != NULL ? otp : "");
        snprintf(j->link, sizeof(j->link), "%s", link != NULL ? link : "");
    }
}

/* Events no longer in the outbox (pruned after [notifier] keep_days, or
 * removed by hand) were dealt with long ago: they are dropped, not sent. */
void plan_drop_pruned(struct batch *b)
{
    size_t k = 0;

    for (size_t i = 0; i < b->njobs; i++) {
        int found = 0;
        for (size_t r = 0; r < b->states.n && !found; r++)
            found = b->states.v[r].event_id == b->jobs[i].id;
        if (found) {
            b->jobs[k++] = b->jobs[i];
            continue;
        }
        log_warn("event %s is no longer in the outbox; dropping it", b->jobs[i].entry->oid);
        b->jobs[i].entry->done = 1;
        json_object_put(b->jobs[i].ev);
    }
    b->njobs = k;
}

/* Turns the entries into jobs; entries with nothing to do are done at once.
 * An outbox id seen twice in one batch (republished) is left for later. */
void plan_jobs_make(struct batch *b, struct entry *e, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        struct job *j = &b->jobs[b->njobs];
        const char *type;
        char *end = NULL;
        int twice = 0;
        e[i].done = 0;
        for (size_t k = 0; k < i; k++)
            twice |= strcmp(e[k].oid, e[i].oid) == 0;
        if (twice)
            continue;
        memset(j, 0, sizeof(*j));
        j->entry = &e[i];
        j->id = strtoll(e[i].oid, &end, 10);
        j->ev = json_tokener_parse(e[i].event);
        type = j->ev != NULL ? jget(j->ev, "type") : NULL;
        if (type == NULL || j->id <= 0 || end == e[i].oid || *end != '\0') {
            log_error("event %s is malformed; dropping it", e[i].oid);
            json_object_put(j->ev);
            e[i].done = 1;
            continue;
        }
        for (size_t p = 0; p < sizeof(plans) / sizeof(plans[0]); p++)
            if (strcmp(plans[p].type, type) == 0)
                j->plan = &plans[p];
        if (j->plan == NULL) {
            json_object_put(j->ev);
            e[i].done = 1; /* nothing to send for this event */
            continue;
        }
        j->email_on = j->in_app_on = j->push_on = 1;
        utf8_clean(j->email, sizeof(j->email), jor(j->ev, "email", ""));
        utf8_clean(j->name, sizeof(j->name), jor(j->ev, "name", ""));
        j->uid = jget(j->ev, "user_id");
        if (j->uid != NULL && !valid_uuid(j->uid)) {
            log_warn("event %s: user_id is not a UUID; ignoring it", e[i].oid);
            j->uid = NULL;
        }
        b->njobs++;
    }
}
