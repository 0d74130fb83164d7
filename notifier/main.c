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
#include "../core/db.h"
#include "../core/kv.h"
#include "../core/log.h"
#include "../core/outbox.h"
#include "../core/privs.h"
#include "../core/ums.h"
#include "mail.h"
#include "template.h"

#define GROUP "notifier"

static volatile sig_atomic_t stopping;

struct notifier {
    struct ums_config *cfg;
    struct db *db;
    struct kv *kv;
    struct templates tpl;
    char consumer[128];
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

/* Sends the email of one event. 0, or UMS_ERR to retry later. */
static int send_email(struct notifier *n, long long id, struct json_object *ev, int t)
{
    const struct ums_config *cfg = n->cfg;
    struct buf link, subject, text, html;
    const char *th = jget(ev, "token_hash"), *to = jget(ev, "email");
    const char *redirect = jget(ev, "redirect_to");
    char minutes[16];
    struct mail m;
    int rc = UMS_ERR;

    if (to == NULL)
        return UMS_EINVALID;
    buf_init(&link, 8192);
    buf_init(&subject, 4096);
    buf_init(&text, 256 * 1024);
    buf_init(&html, 256 * 1024);
    if (th != NULL) {
        buf_printf(&link, "%s/verify?token=%s&type=%s&redirect_to=", cfg->auth.external_url, th,
                   jget(ev, "verify_type") ? jget(ev, "verify_type") : "signup");
        buf_add_urlencoded(&link, redirect != NULL ? redirect : cfg->auth.site_url);
    }
    snprintf(minutes, sizeof(minutes), "%s", jget(ev, "minutes") ? jget(ev, "minutes") : "15");
    {
        const struct tvar vars[] = {
            {"email", to},
            {"name", jget(ev, "name") && *jget(ev, "name") ? jget(ev, "name") : "there"},
            {"link", link.p != NULL ? link.p : ""},
            {"otp", jget(ev, "otp")},
            {"site_url", cfg->auth.site_url},
            {"minutes", minutes},
        };
        size_t nv = sizeof(vars) / sizeof(vars[0]);
        if (template_render(&subject, n->tpl.t[t].subject, vars, nv, 0) != 0 ||
            template_render(&text, n->tpl.t[t].text, vars, nv, 0) != 0 ||
            template_render(&html, n->tpl.t[t].html, vars, nv, 1) != 0)
            goto out;
    }
    m.from = cfg->email.from;
    m.to = to;
    m.subject = subject.p;
    m.text = text.p;
    m.html = html.p;
    m.event_type = jget(ev, "type");
    m.event_id = id;
    rc = tx_file_send(cfg->email.maildir, &m);
out:
    buf_free(&link);
    buf_free(&subject);
    buf_free(&text);
    buf_free(&html);
    return rc;
}

/* Handles one stream entry; returns 1 when it may be acknowledged. */
static int handle(struct notifier *n, const char *outbox_id, const char *event)
{
    struct json_object *ev = json_tokener_parse(event);
    const char *type = ev != NULL ? jget(ev, "type") : NULL;
    const char *p2[2] = {outbox_id, "email"};
    PGresult *res = NULL;
    int t, rc, ack = 0;
    long long id = strtoll(outbox_id, NULL, 10);

    if (type == NULL || id <= 0) {
        log_error("event %s is malformed; dropping it", outbox_id);
        json_object_put(ev);
        return 1;
    }
    t = template_for_event(type);
    if (t < 0) {
        json_object_put(ev);
        return 1; /* no email for this event (later: push, in-app) */
    }
    if (db_exec(n->db, &res, STMT_DELIVERY_STATE, 2, p2) != UMS_OK) {
        json_object_put(ev);
        return 0;
    }
    if (PQntuples(res) > 0 && strcmp(PQgetvalue(res, 0, 0), "sent") == 0) {
        PQclear(res);
        json_object_put(ev);
        return 1; /* delivered before a crash that lost the XACK */
    }
    PQclear(res);
    rc = send_email(n, id, ev, t);
    if (rc == UMS_OK) {
        const char *p4[4] = {outbox_id, "email", "sent", NULL};
        const char *p1[1] = {outbox_id};
        ack = db_exec(n->db, NULL, STMT_DELIVERY_RECORD, 4, p4) == UMS_OK;
        /* The one-time code and link were for this message only. */
        if (ack)
            db_exec(n->db, NULL, STMT_OUTBOX_SCRUB, 1, p1);
        log_info("event %s (%s): email sent", outbox_id, type);
    } else if (rc == UMS_EINVALID) {
        const char *p4[4] = {outbox_id, "email", "failed", "event has no recipient"};
        ack = db_exec(n->db, NULL, STMT_DELIVERY_RECORD, 4, p4) == UMS_OK;
    } else {
        const char *p4[4] = {outbox_id, "email", "pending", "transport error"};
        db_exec(n->db, NULL, STMT_DELIVERY_RECORD, 4, p4);
        log_warn("event %s (%s): email failed; will retry", outbox_id, type);
    }
    json_object_put(ev);
    return ack;
}

/* Processes the entries of an XREADGROUP/XAUTOCLAIM entry array. Returns how
 * many entries it saw. */
static int process(struct notifier *n, redisReply *entries)
{
    int seen = 0;

    for (size_t i = 0; entries != NULL && i < entries->elements; i++) {
        redisReply *e = entries->element[i], *f;
        const char *oid = NULL, *event = NULL;
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
            continue;
        seen++;
        f = e->element[1];
        for (size_t k = 0; f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2) {
            if (strcmp(f->element[k]->str, "outbox_id") == 0)
                oid = f->element[k + 1]->str;
            else if (strcmp(f->element[k]->str, "event") == 0)
                event = f->element[k + 1]->str;
        }
        if (oid == NULL || event == NULL || handle(n, oid, event)) {
            /* Acknowledged and removed: the entry carried the code in clear. */
            const char *ack[4] = {"XACK", OUTBOX_STREAM, GROUP, e->element[0]->str};
            const char *del[3] = {"XDEL", OUTBOX_STREAM, e->element[0]->str};
            redisReply *r = NULL;
            if (kv_cmd(n->kv, &r, 4, ack, NULL) == UMS_OK)
                freeReplyObject(r);
            if (kv_cmd(n->kv, &r, 3, del, NULL) == UMS_OK)
                freeReplyObject(r);
        }
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
        while (!stopping && read_batch(&n, "0", -1) > 0)
            ;
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
        /* Own pending entries (failed sends) are retried every 30 s. */
        if (now - last_pending >= 30) {
            while (!stopping && read_batch(&n, "0", -1) > 0)
                ;
            last_pending = now;
        }
        if (read_batch(&n, ">", 2000) < 0) {
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
