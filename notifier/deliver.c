/* deliver.c - what the events of one batch become, and their delivery.
 *
 * An event expands into up to three channels (email, in_app, push) by its
 * plan and the user's preferences. The whole batch shares its database
 * round trips: one query for the recipients, one for the state of every
 * delivery, one statement for the in-app rows, one for every outcome. The
 * emails of a batch go out in parallel over kept connections (sendgrid,
 * smtp).
 * A delivery recorded as sent or failed is never attempted again; one not
 * due yet waits in the stream (its entry is not acknowledged). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "../util/buf.h"
#include "../core/config.h"
#include "../util/crypto.h"
#include "../core/delivery.h"
#include "../util/log.h"
#include "../core/notify.h"
#include "../core/stream.h"
#include "../util/ums.h"
#include "../util/utf8.h"
#include "../util/valid.h"
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

/* A stream entry's outbox id, or 0 when it is not one. */
static long long entry_id(const char *oid)
{
    char *end = NULL;
    long long id = strtoll(oid, &end, 10);

    return id > 0 && end != oid && *end == '\0' ? id : 0;
}

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

/* The state of (job, channel) and its attempts so far. */
static int state_of(const struct batch *b, const struct job *j, const char *channel, int *attempts)
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
static void record(struct batch *b, struct job *j, const char *channel, enum delivery_state state,
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
    random_bytes(&r, sizeof(r));
    return (long)(d * (0.5 + 0.5 * (double)(r % 1000) / 1000.0));
}

/* Records what a send of (job, channel) came to, after `attempts` earlier
 * attempts: sent, failed for good (a permanent error, or the last attempt:
 * then the event also goes to the dead-letter stream), or a retry later. */
static void outcome(struct batch *b, struct job *j, const char *channel, int attempts, int out,
                    const struct tx_result *tr)
{
    struct notifier *n = b->n;

    if (out == TX_OK) {
        log_info("event %s (%s): %s sent", j->entry->oid, j->plan->type, channel);
        record(b, j, channel, DELIVERY_SENT, NULL, -1);
    } else if (out == TX_PERMANENT || attempts + 1 >= n->cfg->notifier.max_attempts) {
        if (out != TX_PERMANENT)
            bury(n, j, channel, tr->error);
        else
            log_warn("event %s (%s): %s failed for good: %s", j->entry->oid, j->plan->type, channel,
                     tr->error);
        record(b, j, channel, DELIVERY_FAILED, tr->error, -1);
    } else {
        long ms = backoff_ms(n, attempts + 1, tr->retry_after);
        log_warn("event %s (%s): %s attempt %d failed (%s); retrying in %ld ms", j->entry->oid,
                 j->plan->type, channel, attempts + 1, tr->error, ms);
        record(b, j, channel, DELIVERY_PENDING, tr->error, ms);
        j->open++;
    }
}

/* Whether (job, channel) should be attempted now; counts a retry that is
 * not due yet as open. */
static int due(const struct batch *b, struct job *j, const char *channel, int *attempts)
{
    int st = state_of(b, j, channel, attempts);

    if (st == S_WAIT)
        j->open++;
    return st == S_NEW || st == S_DUE;
}

/* The title and text of a job's push and in-app notification. */
static const char *job_title(const struct job *j, char *buf, size_t n)
{
    if (j->plan->title[0] != '\0')
        return j->plan->title;
    utf8_clean(buf, n, jor(j->ev, "title", "Message"));
    return buf;
}

/* The text of a job's push and in-app notification into body (n bytes):
 * always valid UTF-8, each piece cut between characters (a crafted
 * User-Agent must not make a row PostgreSQL refuses). */
static void job_text(const struct job *j, char *body, size_t n)
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

/* Renders the email of a job into j->mail. */
static int render_email(struct notifier *n, struct job *j)
{
    const struct ums_config *cfg = n->cfg;
    const char *th = j->link[0] != '\0' ? j->link : NULL, *redirect = jget(j->ev, "redirect_to");
    struct buf link;
    int rc;

    buf_init(&link, 8192);
    buf_init(&j->subject, 4096);
    buf_init(&j->text, 256 * 1024);
    buf_init(&j->html, 256 * 1024);
    if (th != NULL) {
        buf_printf(&link, "%s/verify?token=%s&type=%s&redirect_to=", cfg->auth.external_url, th,
                   jor(j->ev, "verify_type", "signup"));
        buf_add_urlencoded(&link, redirect != NULL ? redirect : cfg->auth.site_url);
    }
    {
        const struct tvar vars[] = {
            {"email", j->email},
            {"name", j->name[0] != '\0' ? j->name : "there"},
            {"link", link.p != NULL ? link.p : ""},
            {"otp", j->otp[0] != '\0' ? j->otp : NULL},
            {"site_url", cfg->auth.site_url},
            {"minutes", jor(j->ev, "minutes", "15")},
            {"role", jor(j->ev, "role", "")},
            {"device", jor(j->ev, "device", "unknown")},
            {"ip", jor(j->ev, "ip", "unknown")},
            {"time", jor(j->ev, "at", "")},
            {"title", jor(j->ev, "title", "")},
            {"message", jor(j->ev, "message", "")},
            {"new_email", jor(j->ev, "new_email", "")},
        };
        size_t nv = sizeof(vars) / sizeof(vars[0]);
        const struct tmpl *t = &n->tpl.t[j->plan->tpl];
        rc = template_render(&j->subject, t->subject, vars, nv, 0) != 0 ||
                     template_render(&j->text, t->text, vars, nv, 0) != 0 ||
                     template_render(&j->html, t->html, vars, nv, 1) != 0
                 ? UMS_ERR
                 : UMS_OK;
    }
    buf_free(&link);
    if (rc != UMS_OK || j->subject.p == NULL)
        return UMS_ERR;
    /* A subject is one header line, whatever the values held. */
    for (char *c = j->subject.p; *c != '\0'; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
    j->mail.from = cfg->email.from;
    j->mail.to = j->email;
    j->mail.to_name = j->name;
    j->mail.subject = j->subject.p;
    j->mail.text = j->text.p != NULL ? j->text.p : "";
    j->mail.html = j->html.p != NULL ? j->html.p : "";
    j->mail.event_type = j->plan->type;
    j->mail.event_id = j->id;
    return UMS_OK;
}

static void free_email(struct job *j)
{
    buf_free(&j->subject);
    buf_free(&j->text);
    buf_free(&j->html);
}

/* The email channel of the batch. */
static void send_emails(struct batch *b)
{
    struct notifier *n = b->n;
    struct job **list = calloc(b->njobs, sizeof(*list));
    const struct mail **mails = calloc(b->njobs, sizeof(*mails));
    struct tx_result *res = calloc(b->njobs, sizeof(*res));
    int *out = calloc(b->njobs, sizeof(*out)), *attempts = calloc(b->njobs, sizeof(*attempts));
    size_t k = 0;

    if (list == NULL || mails == NULL || res == NULL || out == NULL || attempts == NULL) {
        for (size_t i = 0; i < b->njobs; i++)
            b->jobs[i].open++; /* nothing was sent: all later */
        goto out;
    }
    for (size_t i = 0; i < b->njobs; i++) {
        struct job *j = &b->jobs[i];
        /* A welcome mail that carries the confirmation link is needed to confirm. */
        if (j->plan->tpl < 0 || j->email[0] == '\0' ||
            !(j->plan->security || j->email_on || j->link[0] != '\0'))
            continue;
        if (!due(b, j, "email", &attempts[k]))
            continue;
        if (render_email(n, j) != UMS_OK) {
            struct tx_result tr = {0, "template rendering failed"};
            free_email(j);
            outcome(b, j, "email", attempts[k], TX_RETRY, &tr);
            continue;
        }
        list[k] = j;
        mails[k++] = &j->mail;
    }
    if (k > 0 && strcmp(n->cfg->email.transport, "sendgrid") == 0) {
        tx_sendgrid_send_all(n->cfg, mails, k, res, out);
    } else if (k > 0 && strcmp(n->cfg->email.transport, "smtp") == 0) {
        tx_smtp_send_all(n->cfg, mails, k, res, out);
    } else {
        for (size_t i = 0; i < k; i++) {
            memset(&res[i], 0, sizeof(res[i]));
            if (notifier_stopping) {
                out[i] = -1; /* not sent: stays pending for a restart */
            } else {
                out[i] = tx_file_send(n->cfg->email.maildir, mails[i]) == UMS_OK ? TX_OK : TX_RETRY;
                if (out[i] != TX_OK)
                    snprintf(res[i].error, sizeof(res[i].error), "maildir write failed");
            }
        }
    }
    for (size_t i = 0; i < k; i++) {
        if (out[i] < 0)
            list[i]->open++;
        else
            outcome(b, list[i], "email", attempts[i], out[i], &res[i]);
        free_email(list[i]);
    }
out:
    free(list);
    free(mails);
    free(res);
    free(out);
    free(attempts);
}

/* The in-app channel of the batch: one statement writes the rows and their
 * delivery records, so an in-app notification is never written twice. */
static void send_in_app(struct batch *b)
{
    struct text {
        char title[512], body[512];
    } *text = calloc(b->njobs, sizeof(*text));
    struct delivery_in_app *rows = calloc(b->njobs, sizeof(*rows));
    struct job **list = calloc(b->njobs, sizeof(*list));
    int *attempts = calloc(b->njobs, sizeof(*attempts));
    size_t k = 0;

    if (text == NULL || rows == NULL || list == NULL || attempts == NULL) {
        for (size_t i = 0; i < b->njobs; i++)
            b->jobs[i].open++;
        goto out;
    }
    for (size_t i = 0; i < b->njobs; i++) {
        struct job *j = &b->jobs[i];
        if (j->plan->title == NULL || j->uid == NULL || j->user_gone || !j->in_app_on ||
            !due(b, j, "in_app", &attempts[k]))
            continue;
        job_text(j, text[k].body, sizeof(text[k].body));
        rows[k].event_id = j->id;
        rows[k].user_id = j->uid;
        rows[k].kind = j->plan->kind;
        rows[k].title = job_title(j, text[k].title, sizeof(text[k].title));
        rows[k].body = text[k].body;
        list[k++] = j;
    }
    if (k > 0) {
        if (delivery_in_app_write(b->n->ctx.db, rows, k) == UMS_OK) {
            for (size_t i = 0; i < k; i++)
                log_info("event %s (%s): in_app sent", list[i]->entry->oid, list[i]->plan->type);
        } else {
            /* One row at a time: a row that cannot be written fails alone. */
            for (size_t i = 0; i < k; i++) {
                if (delivery_in_app_write(b->n->ctx.db, &rows[i], 1) == UMS_OK) {
                    log_info("event %s (%s): in_app sent", list[i]->entry->oid,
                             list[i]->plan->type);
                } else {
                    struct tx_result tr = {0, "in-app insert failed"};
                    outcome(b, list[i], "in_app", attempts[i], TX_RETRY, &tr);
                }
            }
        }
    }
out:
    free(text);
    free(rows);
    free(list);
    free(attempts);
}

/* Writes one push message as a JSON file into [push] dir (the file transport). */
static int push_file(const struct notifier *n, const struct job *j, const char *device,
                     const char *body, struct tx_result *res)
{
    char path[1024], tmp[1040], title[512];
    struct json_object *o = json_object_new_object();
    FILE *f;
    int ok, fd;

    snprintf(path, sizeof(path), "%s/%lld-%.40s.json", n->cfg->push.dir, j->id, device);
    for (char *c = path + strlen(n->cfg->push.dir) + 1; *c != '\0'; c++)
        if (*c == '/')
            *c = '_';
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    json_object_object_add(o, "token", json_object_new_string(device));
    json_object_object_add(o, "title", json_object_new_string(job_title(j, title, sizeof(title))));
    json_object_object_add(o, "body", json_object_new_string(body));
    /* The message may name the user's activity: the owner's alone. */
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL && fd >= 0)
        close(fd);
    ok = f != NULL && fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), f) >= 0;
    ok = (f != NULL && fclose(f) == 0) && ok && rename(tmp, path) == 0;
    json_object_put(o);
    if (!ok)
        snprintf(res->error, sizeof(res->error), "push file write failed");
    return ok ? TX_OK : TX_RETRY;
}

/* Push to the devices of one job's user that did not get it yet; each
 * device's success is recorded as 'push:<device id>', devices FCM reports
 * gone are removed. The 'push' record carries the attempts: a retry while
 * any device should be tried again. */
static void push_job(struct batch *b, struct job *j, int attempts)
{
    struct notifier *n = b->n;
    struct notify_devices devs;
    struct tx_result tr;
    char body[512], title[512];
    int rc = TX_OK;

    memset(&tr, 0, sizeof(tr));
    if (notify_devices_list(&n->ctx, j->uid, &devs) != UMS_OK) {
        notify_devices_free(&devs);
        snprintf(tr.error, sizeof(tr.error), "cannot read devices");
        outcome(b, j, "push", attempts, TX_RETRY, &tr);
        return;
    }
    job_text(j, body, sizeof(body));
    for (size_t i = 0; i < devs.n && !notifier_stopping; i++) {
        const char *dev = devs.v[i].id, *token = devs.v[i].token;
        char channel[48];
        struct tx_result dr;
        int dummy, out;
        snprintf(channel, sizeof(channel), "push:%s", dev);
        if (state_of(b, j, channel, &dummy) == S_SENT)
            continue; /* this device got it on an earlier attempt */
        memset(&dr, 0, sizeof(dr));
        out = strcmp(n->cfg->push.transport, "fcm") == 0
                  ? tx_fcm_send(n->cfg, token, job_title(j, title, sizeof(title)), body, j->id, &dr)
                  : push_file(n, j, token, body, &dr);
        if (out == TX_OK) {
            record(b, j, channel, DELIVERY_SENT, NULL, -1);
        } else if (out == TX_GONE) {
            notify_device_gone(&n->ctx, dev);
            log_info("event %s: device %s is unregistered; removed", j->entry->oid, dev);
        } else {
            if (rc != TX_RETRY)
                tr = dr;
            rc = out == TX_RETRY || rc == TX_RETRY ? TX_RETRY : TX_PERMANENT;
        }
    }
    if (notifier_stopping && rc == TX_OK && devs.n > 0) {
        /* Stopped between devices: the rest later, without using up an attempt. */
        notify_devices_free(&devs);
        j->open++;
        return;
    }
    notify_devices_free(&devs);
    outcome(b, j, "push", attempts, rc, &tr);
}

static void send_push(struct batch *b)
{
    if (strcmp(b->n->cfg->push.transport, "none") == 0)
        return;
    for (size_t i = 0; i < b->njobs; i++) {
        struct job *j = &b->jobs[i];
        int attempts;
        if (j->plan->title == NULL || j->uid == NULL || j->user_gone || !j->push_on ||
            !j->has_device || !due(b, j, "push", &attempts))
            continue;
        push_job(b, j, attempts);
    }
}

/* Reads the recipients of the batch's user events and their preferences. */
static int load_targets(struct batch *b)
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
static void take_secrets(struct batch *b)
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
static void drop_pruned(struct batch *b)
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
static void make_jobs(struct batch *b, struct entry *e, size_t count)
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
        if (j->uid != NULL && !uuid_valid(j->uid)) {
            log_warn("event %s: user_id is not a UUID; ignoring it", e[i].oid);
            j->uid = NULL;
        }
        b->njobs++;
    }
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
    make_jobs(&b, e, count);
    if (b.njobs > 0) {
        int rc;
        for (size_t i = 0; i < b.njobs; i++)
            ids[i] = b.jobs[i].id;
        rc = load_targets(&b);
        if (rc == UMS_OK)
            rc = delivery_states_read(n->ctx.db, ids, b.njobs, &b.states);
        if (rc != UMS_OK)
            goto out; /* PostgreSQL is away: the whole batch later */
        drop_pruned(&b);
        take_secrets(&b);
        send_emails(&b);
        send_in_app(&b);
        send_push(&b);
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
