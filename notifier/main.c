/* main.c - ums-notifier: drains the ums:events stream (consumer group
 * "notifier") and sends email; as a daemon, or with --once for cron.
 *
 * Each entry: look up the delivery row; if already sent, just acknowledge;
 * otherwise send, record "sent", then XACK. A crash before the record means
 * the entry is still pending and is sent again on restart (at least once);
 * after the record it is never sent twice. Unpublished outbox rows (Redis was
 * down at commit) are republished after [notifier] republish_after seconds. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "../core/config.h"
#include "../core/crypto.h"
#include "../core/db.h"
#include "../core/kv.h"
#include "../core/log.h"
#include "../core/outbox.h"
#include "../core/privs.h"
#include "../core/ums.h"
#include "mail.h"
#include "template.h"

#define GROUP "notifier"
#define DEAD_STREAM OUTBOX_DEAD_STREAM

static volatile sig_atomic_t stopping;

struct notifier {
    struct ums_config *cfg;
    struct db *db;
    struct kv *kv;
    struct templates tpl;
    char consumer[128];
    char last_id[64]; /* the last stream entry process() saw */
};

static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
}

static const char *jget(struct json_object *o, const char *k)
{
    struct json_object *v;

    return json_object_object_get_ex(o, k, &v) && v != NULL ? json_object_get_string(v) : NULL;
}

/* What an event becomes. security: the email ignores preferences. */
struct plan {
    const char *type;
    int tpl;           /* enum tmpl_id, or -1: no email */
    const char *kind;  /* preference kind and in-app kind, or NULL */
    int security;
    const char *title; /* in-app title, or NULL: no in-app notification */
};

static const struct plan plans[] = {
    {"user.registered", T_WELCOME, "welcome", 0, "Welcome"},
    {"user.recovery_requested", T_RECOVERY, NULL, 1, NULL},
    {"user.email_change_requested", T_EMAIL_CHANGE, NULL, 1, NULL},
    {"account.locked", T_ACCOUNT_LOCKED, NULL, 1, NULL},
    {"user.role_changed", T_ROLE_CHANGED, "role_changed", 0, "Your role changed"},
};

/* One event being handled: the parsed event and its recipient. */
struct job {
    long long id;
    const char *oid;
    struct json_object *ev;
    const struct plan *plan;
    char email[256];
    char name[128];
    int email_on, in_app_on; /* preferences (default on) */
    int push_on;             /* default on; only users with devices get any */
};

/* Renders and sends the email of a job through the configured transport. */
static int send_email(struct notifier *n, const struct job *j, struct tx_result *res)
{
    const struct ums_config *cfg = n->cfg;
    struct buf link, subject, text, html;
    const char *th = jget(j->ev, "token_hash"), *redirect = jget(j->ev, "redirect_to");
    char minutes[16];
    struct mail m;
    int rc = TX_RETRY;

    memset(res, 0, sizeof(*res));
    buf_init(&link, 8192);
    buf_init(&subject, 4096);
    buf_init(&text, 256 * 1024);
    buf_init(&html, 256 * 1024);
    if (th != NULL) {
        buf_printf(&link, "%s/verify?token=%s&type=%s&redirect_to=", cfg->auth.external_url, th,
                   jget(j->ev, "verify_type") ? jget(j->ev, "verify_type") : "signup");
        buf_add_urlencoded(&link, redirect != NULL ? redirect : cfg->auth.site_url);
    }
    snprintf(minutes, sizeof(minutes), "%s",
             jget(j->ev, "minutes") ? jget(j->ev, "minutes") : "15");
    {
        const struct tvar vars[] = {
            {"email", j->email},
            {"name", j->name[0] != '\0' ? j->name : "there"},
            {"link", link.p != NULL ? link.p : ""},
            {"otp", jget(j->ev, "otp")},
            {"site_url", cfg->auth.site_url},
            {"minutes", minutes},
            {"role", jget(j->ev, "role") ? jget(j->ev, "role") : ""},
        };
        size_t nv = sizeof(vars) / sizeof(vars[0]);
        if (template_render(&subject, n->tpl.t[j->plan->tpl].subject, vars, nv, 0) != 0 ||
            template_render(&text, n->tpl.t[j->plan->tpl].text, vars, nv, 0) != 0 ||
            template_render(&html, n->tpl.t[j->plan->tpl].html, vars, nv, 1) != 0) {
            snprintf(res->error, sizeof(res->error), "template rendering failed");
            goto out;
        }
    }
    m.from = cfg->email.from;
    m.to = j->email;
    m.subject = subject.p;
    m.text = text.p;
    m.html = html.p;
    m.event_type = j->plan->type;
    m.event_id = j->id;
    if (strcmp(cfg->email.transport, "sendgrid") == 0) {
        rc = tx_sendgrid_send(cfg, &m, res);
    } else if (strcmp(cfg->email.transport, "smtp") == 0) {
        rc = tx_smtp_send(cfg, &m, res);
    } else {
        rc = tx_file_send(cfg->email.maildir, &m) == UMS_OK ? TX_OK : TX_RETRY;
        if (rc != TX_OK)
            snprintf(res->error, sizeof(res->error), "maildir write failed");
    }
out:
    buf_free(&link);
    buf_free(&subject);
    buf_free(&text);
    buf_free(&html);
    return rc;
}

/* The text of a job's push and in-app notification. */
static void job_text(const struct job *j, char *body, size_t n)
{
    const char *role = jget(j->ev, "role");

    if (role != NULL)
        snprintf(body, n, "Your role is now %.64s.", role);
    else
        snprintf(body, n, "Your account %s is ready.", j->email);
}

/* The in-app notification of a job and its delivery record, in one transaction. */
static int send_in_app(struct notifier *n, const struct job *j, struct tx_result *res)
{
    const char *uid = jget(j->ev, "user_id");
    char body[384], data[64];
    const char *p5[5] = {uid, j->plan->kind, j->plan->title, body, data};
    const char *rec[4] = {j->oid, "in_app", "sent", NULL};
    int rc;

    memset(res, 0, sizeof(*res));
    job_text(j, body, sizeof(body));
    snprintf(data, sizeof(data), "{\"event_id\":%lld}", j->id);
    rc = db_begin(n->db);
    if (rc == UMS_OK)
        rc = db_exec(n->db, NULL, STMT_INAPP_INSERT, 5, p5);
    if (rc == UMS_OK)
        rc = db_exec(n->db, NULL, STMT_DELIVERY_RECORD, 4, rec);
    if (rc == UMS_OK)
        rc = db_commit(n->db);
    else
        db_rollback(n->db);
    if (rc == UMS_OK)
        return TX_OK;
    snprintf(res->error, sizeof(res->error), "in-app insert failed");
    return rc == UMS_EINVALID ? TX_PERMANENT : TX_RETRY; /* the user is gone: nothing to do */
}

/* Writes one push message as a JSON file into [push] dir (the file transport). */
static int push_file(const struct notifier *n, const struct job *j, const char *device,
                     const char *body, struct tx_result *res)
{
    char path[1024], tmp[1040];
    struct json_object *o = json_object_new_object();
    FILE *f;
    int ok;

    snprintf(path, sizeof(path), "%s/%lld-%.40s.json", n->cfg->push.dir, j->id, device);
    for (char *c = path + strlen(n->cfg->push.dir) + 1; *c != '\0'; c++)
        if (*c == '/')
            *c = '_';
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    json_object_object_add(o, "token", json_object_new_string(device));
    json_object_object_add(o, "title", json_object_new_string(j->plan->title));
    json_object_object_add(o, "body", json_object_new_string(body));
    f = fopen(tmp, "w");
    ok = f != NULL && fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), f) >= 0;
    ok = (f != NULL && fclose(f) == 0) && ok && rename(tmp, path) == 0;
    json_object_put(o);
    if (!ok)
        snprintf(res->error, sizeof(res->error), "push file write failed");
    return ok ? TX_OK : TX_RETRY;
}

/* Push to every device of the job's user; devices FCM reports gone are
 * removed. TX_RETRY when any device should be tried again. */
static int send_push(struct notifier *n, const struct job *j, struct tx_result *res)
{
    const char *p[1] = {jget(j->ev, "user_id")};
    PGresult *devs = NULL;
    char body[384];
    int rc = TX_OK;

    memset(res, 0, sizeof(*res));
    if (db_exec(n->db, &devs, STMT_DEVICES_OF, 1, p) != UMS_OK) {
        snprintf(res->error, sizeof(res->error), "cannot read devices");
        return TX_RETRY;
    }
    job_text(j, body, sizeof(body));
    for (int i = 0; i < PQntuples(devs); i++) {
        const char *token = PQgetvalue(devs, i, 1);
        int out = strcmp(n->cfg->push.transport, "fcm") == 0
                      ? tx_fcm_send(n->cfg, token, j->plan->title, body, j->id, res)
                      : push_file(n, j, token, body, res);
        if (out == TX_GONE) {
            const char *g[1] = {PQgetvalue(devs, i, 0)};
            db_exec(n->db, NULL, STMT_DEVICE_GONE, 1, g);
            log_info("event %s: device %s is unregistered; removed", j->oid, g[0]);
        } else if (out == TX_RETRY) {
            rc = TX_RETRY;
        } else if (out == TX_PERMANENT && rc == TX_OK) {
            rc = TX_PERMANENT;
        }
    }
    PQclear(devs);
    return rc;
}

/* Moves an event that exhausted its attempts to the dead-letter stream. */
static void bury(struct notifier *n, const struct job *j, const char *channel, const char *why)
{
    const char *argv[11] = {"XADD", DEAD_STREAM, "*", "outbox_id", j->oid, "event",
                            json_object_to_json_string_ext(j->ev, JSON_C_TO_STRING_PLAIN),
                            "channel", channel, "error", why};
    redisReply *r = NULL;

    if (kv_cmd(n->kv, &r, 11, argv, NULL) == UMS_OK)
        freeReplyObject(r);
    log_error("event %s (%s): %s gave up after %d attempts: %s", j->oid, j->plan->type, channel,
              n->cfg->notifier.max_attempts, why);
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

/* One channel of a job: 1 when its delivery is final (sent or failed), 0
 * while it waits for a retry. */
static int deliver(struct notifier *n, const struct job *j, const char *channel)
{
    const char *ps[2] = {j->oid, channel};
    PGresult *res = NULL;
    struct tx_result tr;
    int attempts = 0, out;

    if (db_exec(n->db, &res, STMT_DELIVERY_STATE, 2, ps) != UMS_OK)
        return 0;
    if (PQntuples(res) > 0) {
        const char *state = PQgetvalue(res, 0, 0);
        int waiting = PQgetvalue(res, 0, 2)[0] == 't';
        attempts = (int)strtol(PQgetvalue(res, 0, 1), NULL, 10);
        if (strcmp(state, "sent") == 0 || strcmp(state, "failed") == 0 || waiting) {
            int final = strcmp(state, "pending") != 0;
            PQclear(res);
            return final; /* done before (a lost XACK), or not due yet */
        }
    }
    PQclear(res);
    out = strcmp(channel, "email") == 0  ? send_email(n, j, &tr)
          : strcmp(channel, "push") == 0 ? send_push(n, j, &tr)
                                         : send_in_app(n, j, &tr);
    if (out == TX_OK && strcmp(channel, "in_app") != 0) {
        const char *rec[4] = {j->oid, channel, "sent", NULL};
        log_info("event %s (%s): %s sent", j->oid, j->plan->type, channel);
        return db_exec(n->db, NULL, STMT_DELIVERY_RECORD, 4, rec) == UMS_OK;
    }
    if (out == TX_OK)
        return 1;
    if (out == TX_PERMANENT || attempts + 1 >= n->cfg->notifier.max_attempts) {
        const char *rec[4] = {j->oid, channel, "failed", tr.error};
        if (out != TX_PERMANENT)
            bury(n, j, channel, tr.error);
        else
            log_warn("event %s (%s): %s failed for good: %s", j->oid, j->plan->type, channel,
                     tr.error);
        return db_exec(n->db, NULL, STMT_DELIVERY_RECORD, 4, rec) == UMS_OK;
    }
    {
        char ms[32];
        const char *rec[4] = {j->oid, channel, tr.error, ms};
        snprintf(ms, sizeof(ms), "%ld", backoff_ms(n, attempts + 1, tr.retry_after));
        db_exec(n->db, NULL, STMT_DELIVERY_RETRY, 4, rec);
        log_warn("event %s (%s): %s attempt %d failed (%s); retrying in %s ms", j->oid,
                 j->plan->type, channel, attempts + 1, tr.error, ms);
    }
    return 0;
}

/* Handles one stream entry; returns 1 when it may be acknowledged. */
static int handle(struct notifier *n, const char *outbox_id, const char *event)
{
    struct job j;
    const char *type, *uid;
    int done = 1;

    memset(&j, 0, sizeof(j));
    j.oid = outbox_id;
    j.id = strtoll(outbox_id, NULL, 10);
    j.ev = json_tokener_parse(event);
    type = j.ev != NULL ? jget(j.ev, "type") : NULL;
    if (type == NULL || j.id <= 0) {
        log_error("event %s is malformed; dropping it", outbox_id);
        json_object_put(j.ev);
        return 1;
    }
    for (size_t i = 0; i < sizeof(plans) / sizeof(plans[0]); i++)
        if (strcmp(plans[i].type, type) == 0)
            j.plan = &plans[i];
    if (j.plan == NULL) {
        json_object_put(j.ev);
        return 1; /* nothing to send for this event */
    }
    j.email_on = j.in_app_on = 1;
    snprintf(j.email, sizeof(j.email), "%s", jget(j.ev, "email") ? jget(j.ev, "email") : "");
    snprintf(j.name, sizeof(j.name), "%s", jget(j.ev, "name") ? jget(j.ev, "name") : "");
    uid = jget(j.ev, "user_id");
    if (uid != NULL) {
        const char *p[2] = {uid, j.plan->kind ? j.plan->kind : ""};
        PGresult *res = NULL;
        if (db_exec(n->db, &res, STMT_NOTIFY_TARGET, 2, p) != UMS_OK) {
            json_object_put(j.ev);
            return 0; /* PostgreSQL is away: later */
        }
        if (PQntuples(res) > 0) {
            if (j.email[0] == '\0')
                snprintf(j.email, sizeof(j.email), "%s", PQgetvalue(res, 0, 0));
            if (j.name[0] == '\0')
                snprintf(j.name, sizeof(j.name), "%s", PQgetvalue(res, 0, 1));
            j.email_on = PQgetisnull(res, 0, 2) || PQgetvalue(res, 0, 2)[0] == 't';
            j.in_app_on = PQgetisnull(res, 0, 3) || PQgetvalue(res, 0, 3)[0] == 't';
            j.push_on = PQgetisnull(res, 0, 4) || PQgetvalue(res, 0, 4)[0] == 't';
        } else {
            j.in_app_on = 0; /* the user is gone */
        }
        PQclear(res);
    }
    /* A welcome mail that carries the confirmation link is needed to confirm. */
    if (j.plan->tpl >= 0 && j.email[0] != '\0' &&
        (j.plan->security || j.email_on || jget(j.ev, "token_hash") != NULL))
        done &= deliver(n, &j, "email");
    if (j.plan->title != NULL && uid != NULL && j.in_app_on)
        done &= deliver(n, &j, "in_app");
    if (j.plan->title != NULL && uid != NULL && j.push_on &&
        strcmp(n->cfg->push.transport, "none") != 0)
        done &= deliver(n, &j, "push");
    /* The one-time code and link were for the message only (a final email
     * record removes them; this covers events whose email was not sent). */
    if (done && (jget(j.ev, "otp") != NULL || jget(j.ev, "token_hash") != NULL)) {
        const char *p1[1] = {outbox_id};
        db_exec(n->db, NULL, STMT_OUTBOX_SCRUB, 1, p1);
    }
    json_object_put(j.ev);
    return done;
}

/* Processes the entries of an XREADGROUP/XAUTOCLAIM entry array, then
 * acknowledges and deletes the finished ones in one XACK and one XDEL (the
 * entries carried codes in clear). Returns how many entries it saw. */
#define ACK_MAX 1000
static int process(struct notifier *n, redisReply *entries)
{
    const char *ack[3 + ACK_MAX] = {"XACK", OUTBOX_STREAM, GROUP};
    const char *del[2 + ACK_MAX] = {"XDEL", OUTBOX_STREAM};
    int seen = 0, done = 0;

    for (size_t i = 0; entries != NULL && i < entries->elements; i++) {
        redisReply *e = entries->element[i], *f;
        const char *oid = NULL, *event = NULL;
        /* SIGTERM: the message in hand was finished; the rest of the batch
         * stays pending for this consumer and is taken up after a restart. */
        if (stopping)
            break;
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
            continue;
        seen++;
        snprintf(n->last_id, sizeof(n->last_id), "%s", e->element[0]->str);
        f = e->element[1];
        for (size_t k = 0; f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2) {
            if (strcmp(f->element[k]->str, "outbox_id") == 0)
                oid = f->element[k + 1]->str;
            else if (strcmp(f->element[k]->str, "event") == 0)
                event = f->element[k + 1]->str;
        }
        if ((oid == NULL || event == NULL || handle(n, oid, event)) && done < ACK_MAX) {
            ack[3 + done] = e->element[0]->str;
            del[2 + done] = e->element[0]->str;
            done++;
        }
    }
    if (done > 0) {
        redisReply *r = NULL;
        if (kv_cmd(n->kv, &r, 3 + done, ack, NULL) == UMS_OK)
            freeReplyObject(r);
        if (kv_cmd(n->kv, &r, 2 + done, del, NULL) == UMS_OK)
            freeReplyObject(r);
    }
    return seen;
}

static void ensure_group(struct notifier *n)
{
    const char *info[3] = {"XINFO", "GROUPS", OUTBOX_STREAM};
    const char *argv[6] = {"XGROUP", "CREATE", OUTBOX_STREAM, GROUP, "0", "MKSTREAM"};
    redisReply *r = NULL;
    int exists = 0;

    /* XINFO on a missing stream is an error reply; then the group is missing too. */
    if (kv_cmd(n->kv, &r, 3, info, NULL) == UMS_OK) {
        for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
            redisReply *g = r->element[i];
            for (size_t k = 0; g->type == REDIS_REPLY_ARRAY && k + 1 < g->elements; k += 2)
                exists |= strcmp(g->element[k]->str, "name") == 0 &&
                          strcmp(g->element[k + 1]->str, GROUP) == 0;
        }
        freeReplyObject(r);
    }
    if (!exists && kv_cmd(n->kv, &r, 6, argv, NULL) == UMS_OK)
        freeReplyObject(r);
}

/* One XREADGROUP. id "0" re-reads this consumer's pending entries. */
static int read_batch(struct notifier *n, const char *id, int block_ms)
{
    char count[16], block[16];
    const char *argv[10] = {"XREADGROUP", "GROUP", GROUP, n->consumer, "COUNT", count,
                            "BLOCK", block, "STREAMS", OUTBOX_STREAM};
    const char *full[11];
    redisReply *r = NULL;
    int seen = 0, rc;

    snprintf(count, sizeof(count), "%d", n->cfg->notifier.batch);
    snprintf(block, sizeof(block), "%d", block_ms);
    memcpy(full, argv, sizeof(argv));
    full[10] = id;
    if (block_ms < 0) {
        /* no BLOCK */
        const char *nb[8] = {"XREADGROUP", "GROUP", GROUP, n->consumer, "COUNT", count,
                             "STREAMS", OUTBOX_STREAM};
        const char *f2[9];
        memcpy(f2, nb, sizeof(nb));
        f2[8] = id;
        rc = kv_cmd(n->kv, &r, 9, f2, NULL);
    } else {
        rc = kv_cmd(n->kv, &r, 11, full, NULL);
    }
    if (rc != UMS_OK)
        return -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 && r->element[0]->elements == 2)
        seen = process(n, r->element[0]->element[1]);
    freeReplyObject(r);
    return seen;
}

/* Goes once through this consumer's pending entries (retries that are due;
 * the others stay pending), batch by batch from the oldest. */
static void drain_pending(struct notifier *n)
{
    char from[64] = "0";

    while (!stopping) {
        n->last_id[0] = '\0';
        if (read_batch(n, from, -1) <= 0 || n->last_id[0] == '\0')
            break;
        snprintf(from, sizeof(from), "%s", n->last_id);
    }
}

/* Claims entries other consumers left pending too long (a crashed notifier). */
static void claim(struct notifier *n)
{
    char idle[16], count[16];
    const char *argv[8] = {"XAUTOCLAIM", OUTBOX_STREAM, GROUP, n->consumer, idle, "0-0",
                           "COUNT", count};
    redisReply *r = NULL;

    snprintf(idle, sizeof(idle), "%d", n->cfg->notifier.claim_idle_ms);
    snprintf(count, sizeof(count), "%d", n->cfg->notifier.batch);
    if (kv_cmd(n->kv, &r, 8, argv, NULL) != UMS_OK)
        return;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2)
        process(n, r->element[1]);
    freeReplyObject(r);
}

/* Publishes outbox rows that missed the stream (Redis was down at commit). */
static void republish(struct notifier *n)
{
    char after[16], limit[16];
    const char *p[2] = {after, limit};
    PGresult *res = NULL;

    snprintf(after, sizeof(after), "%d", n->cfg->notifier.republish_after);
    snprintf(limit, sizeof(limit), "%d", 500);
    if (db_exec(n->db, &res, STMT_OUTBOX_UNPUBLISHED, 2, p) != UMS_OK)
        return;
    for (int i = 0; i < PQntuples(res); i++) {
        log_info("republishing outbox %s", PQgetvalue(res, i, 0));
        outbox_publish(n->db, n->kv, strtoll(PQgetvalue(res, i, 0), NULL, 10),
                       PQgetvalue(res, i, 1));
    }
    PQclear(res);
}

static int write_pid(const char *path)
{
    FILE *f;

    if (path == NULL || *path == '\0')
        return 0;
    f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "%ld\n", (long)getpid());
    return fclose(f);
}

int main(int argc, char **argv)
{
    struct notifier n;
    const char *config_path = getenv("UMS_CONFIG");
    char err[512];
    int once = 0, rc = 1, daemon_mode = 0;
    struct sigaction sa;
    time_t last_republish = 0, last_pending = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config_path = argv[++i];
        else if (strcmp(argv[i], "--once") == 0)
            once = 1;
        else if (strcmp(argv[i], "--daemon") == 0)
            daemon_mode = 1;
        else {
            fprintf(stderr, "usage: ums-notifier [--config FILE] [--once] [--daemon]\n");
            return 2;
        }
    }
    if (config_path == NULL || *config_path == '\0')
        config_path = "/etc/ums/ums.conf";
    memset(&n, 0, sizeof(n));
    if (config_load(&n.cfg, config_path, err, sizeof(err)) != UMS_OK) {
        fprintf(stderr, "ums-notifier: %s\n", err);
        return 2;
    }
    if (templates_load(&n.tpl, n.cfg->email.templates_dir, err, sizeof(err)) != UMS_OK) {
        fprintf(stderr, "ums-notifier: %s\n", err);
        config_free(n.cfg);
        return 2;
    }
    if (log_open(n.cfg->log.file, n.cfg->log.level) != 0)
        goto out;
    if (n.cfg->notifier.consumer[0] != '\0')
        snprintf(n.consumer, sizeof(n.consumer), "%s", n.cfg->notifier.consumer);
    else if (gethostname(n.consumer, sizeof(n.consumer) - 1) != 0)
        snprintf(n.consumer, sizeof(n.consumer), "notifier");
    if (daemon_mode && daemon(0, 0) != 0)
        goto out;
    if (!once && write_pid(n.cfg->notifier.pid_file) != 0)
        log_warn("cannot write %s", n.cfg->notifier.pid_file);
    /* Started as root: everything that needed root is done; run as the
     * service user ([server] user), like the workers. */
    {
        uid_t uid;
        gid_t gid;
        if (privs_lookup(n.cfg->server.user, &uid, &gid) != 0)
            goto out;
        if (uid != (uid_t)-1 && !once && n.cfg->notifier.pid_file[0] != '\0' &&
            chown(n.cfg->notifier.pid_file, uid, gid) != 0)
            log_warn("cannot hand the pid file to [server] user");
        if (uid != (uid_t)-1 && n.cfg->log.file[0] != '\0' && chown(n.cfg->log.file, uid, gid) != 0)
            log_warn("cannot hand the log file to [server] user");
        if (privs_drop(n.cfg->server.user, uid, gid) != 0)
            goto out;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    if (db_open(&n.db, n.cfg->database.url, n.cfg->database.password,
                n.cfg->database.connect_timeout, n.cfg->database.statement_timeout_ms) != UMS_OK ||
        kv_open(&n.kv, n.cfg->redis.host, n.cfg->redis.port, n.cfg->redis.password,
                n.cfg->redis.db, 10000) != UMS_OK)
        goto out;
    log_info("ums-notifier started (%s, consumer %s)", once ? "once" : "daemon", n.consumer);
    ensure_group(&n);
    if (once) {
        republish(&n);
        claim(&n);
        drain_pending(&n);
        while (!stopping && read_batch(&n, ">", -1) > 0)
            ;
        rc = 0;
        goto out;
    }
    while (!stopping) {
        time_t now = time(NULL);
        if (now - last_republish >= 5) {
            republish(&n);
            claim(&n);
            last_republish = now;
        }
        /* Own pending entries (retries) are looked at every second; each
         * one waits for its own next_attempt_at. */
        if (now - last_pending >= 1) {
            drain_pending(&n);
            last_pending = now;
        }
        if (read_batch(&n, ">", 1000) < 0) {
            sleep(1); /* Redis down: retry */
            ensure_group(&n);
        }
    }
    rc = 0;
out:
    log_info("ums-notifier stopped");
    if (!once && n.cfg != NULL && n.cfg->notifier.pid_file[0] != '\0')
        unlink(n.cfg->notifier.pid_file);
    db_close(n.db);
    kv_close(n.kv);
    templates_free(&n.tpl);
    config_free(n.cfg);
    log_close();
    return rc;
}
