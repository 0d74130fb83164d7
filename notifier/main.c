/* main.c - ums-notifier: drains the ums:events stream (consumer group
 * "notifier") batch by batch; as a daemon, or with --once for cron.
 *
 * Each batch is delivered (deliver.c), its outcomes recorded, and only then
 * are its finished entries acknowledged. A crash before the record means
 * the entries are still pending and are sent again on restart (at least
 * once); after the record they are never sent twice. Unpublished outbox
 * rows (Redis was down at commit) are republished after [notifier]
 * republish_after seconds. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "../core/config.h"
#include "../util/crypto.h"
#include "../core/db.h"
#include "../core/kv.h"
#include "../util/log.h"
#include "../core/outbox.h"
#include "../util/pidfile.h"
#include "../core/preflight.h"
#include "../util/privs.h"
#include "../core/sessions.h"
#include "../util/ums.h"
#include "notifier.h"

#define GROUP OUTBOX_GROUP

volatile sig_atomic_t notifier_stopping;

static void on_stop(int sig)
{
    (void)sig;
    notifier_stopping = 1;
}

/* Delivers the entries of an XREADGROUP/XAUTOCLAIM entry array, then
 * acknowledges and deletes the finished ones in one XACK and one XDEL (the
 * entries carried codes in clear). Returns how many entries it saw. */
#define ACK_MAX 1000
static int process(struct notifier *n, redisReply *entries)
{
    const char *ack[3 + ACK_MAX] = {"XACK", OUTBOX_STREAM, GROUP};
    const char *del[2 + ACK_MAX] = {"XDEL", OUTBOX_STREAM};
    struct entry *batch;
    const char **sid;
    size_t seen = 0, nb = 0, done = 0;

    /* SIGTERM: what was in flight is finished; a batch not started stays
     * pending for this consumer and is taken up after a restart. */
    if (entries == NULL || entries->elements == 0 || notifier_stopping)
        return 0;
    batch = calloc(entries->elements, sizeof(*batch));
    sid = calloc(entries->elements, sizeof(*sid));
    if (batch == NULL || sid == NULL) {
        free(batch);
        free(sid);
        return 0;
    }
    for (size_t i = 0; i < entries->elements && seen < ACK_MAX; i++) {
        redisReply *e = entries->element[i], *f;
        const char *oid = NULL, *event = NULL;
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
        if (oid == NULL || event == NULL) {
            ack[3 + done] = del[2 + done] = e->element[0]->str; /* not ours */
            done++;
            continue;
        }
        batch[nb].oid = oid;
        batch[nb].event = event;
        sid[nb++] = e->element[0]->str;
    }
    deliver_batch(n, batch, nb);
    for (size_t i = 0; i < nb; i++)
        if (batch[i].done) {
            ack[3 + done] = del[2 + done] = sid[i];
            done++;
        }
    if (done > 0) {
        redisReply *r = NULL;
        if (kv_cmd(n->kv, &r, 3 + (int)done, ack, NULL) == UMS_OK)
            freeReplyObject(r);
        if (kv_cmd(n->kv, &r, 2 + (int)done, del, NULL) == UMS_OK)
            freeReplyObject(r);
    }
    free(batch);
    free(sid);
    return (int)seen;
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
    const char *argv[10] = {"XREADGROUP", "GROUP", GROUP, n->consumer, "COUNT",
                            count,        "BLOCK", block, "STREAMS",   OUTBOX_STREAM};
    const char *full[11];
    redisReply *r = NULL;
    int seen = 0, rc;

    snprintf(count, sizeof(count), "%d", n->cfg->notifier.batch);
    snprintf(block, sizeof(block), "%d", block_ms);
    memcpy(full, argv, sizeof(argv));
    full[10] = id;
    if (block_ms < 0) {
        /* no BLOCK */
        const char *nb[8] = {"XREADGROUP", "GROUP", GROUP,     n->consumer,
                             "COUNT",      count,   "STREAMS", OUTBOX_STREAM};
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

    while (!notifier_stopping) {
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
    const char *argv[8] = {"XAUTOCLAIM", OUTBOX_STREAM, GROUP,   n->consumer,
                           idle,         "0-0",         "COUNT", count};
    redisReply *r = NULL;

    snprintf(idle, sizeof(idle), "%d", n->cfg->notifier.claim_idle_ms);
    snprintf(count, sizeof(count), "%d", n->cfg->notifier.batch);
    if (kv_cmd(n->kv, &r, 8, argv, NULL) != UMS_OK)
        return;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2)
        process(n, r->element[1]);
    freeReplyObject(r);
}

/* Publishes outbox rows that missed the stream (Redis was down at commit),
 * and again those published long ago but never finished (their entry may
 * have been lost with Redis's last writes; delivery records make a second
 * entry harmless). */
static void republish(struct notifier *n)
{
    char after[16], limit[16], again[16];
    const char *p[3] = {after, limit, again};
    PGresult *res = NULL;

    snprintf(after, sizeof(after), "%d", n->cfg->notifier.republish_after);
    snprintf(limit, sizeof(limit), "%d", 500);
    snprintf(again, sizeof(again), "%d", n->cfg->notifier.redeliver_after);
    if (db_exec(n->db, &res, STMT_OUTBOX_UNPUBLISHED, 3, p) != UMS_OK)
        return;
    for (int i = 0; i < PQntuples(res); i++) {
        log_info("republishing outbox %s", PQgetvalue(res, i, 0));
        outbox_publish(n->db, n->kv, db_ll(res, i, 0), PQgetvalue(res, i, 1));
    }
    PQclear(res);
}

/* Deletes outbox rows done more than [notifier] keep_days ago (with their
 * deliveries), 5,000 a statement, at most 100,000 a round; session cache
 * faults older than an hour; and the codes and links of mails that were
 * never sent, once they are older than [auth] otp_ttl. */
static void prune(struct notifier *n)
{
    char days[16];
    const char *p[2] = {days, "5000"};
    long total = 0, got = 5000;

    sessions_cache_faults_prune(n->db);
    {
        char ttl[16];
        const char *pt[1] = {ttl};
        snprintf(ttl, sizeof(ttl), "%d", n->cfg->auth.otp_ttl);
        db_exec(n->db, NULL, STMT_OUTBOX_SECRETS_PRUNE, 1, pt);
    }
    if (n->cfg->notifier.keep_days <= 0)
        return;
    snprintf(days, sizeof(days), "%d", n->cfg->notifier.keep_days);
    for (int i = 0; i < 20 && got == 5000 && !notifier_stopping; i++) {
        PGresult *res = NULL;
        if (db_exec(n->db, &res, STMT_OUTBOX_PRUNE, 2, p) != UMS_OK)
            return;
        got = res != NULL ? strtol(PQcmdTuples(res), NULL, 10) : 0;
        total += got;
        PQclear(res);
    }
    if (total > 0)
        log_info("pruned %ld outbox rows older than %s days", total, days);
}

int main(int argc, char **argv)
{
    struct notifier n;
    const char *config_path = getenv("UMS_CONFIG");
    char err[1024];
    int once = 0, rc = 1, daemon_mode = 0;
    struct sigaction sa;
    time_t last_republish = 0, last_pending = 0, last_prune = 0;
    long long rounds = 0;

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
    /* Templates, CA file, service account and folders as the service user
     * will use them: a typo stops start-up here, not at the first send. */
    if (preflight_as_service_user(n.cfg, config_path, PREFLIGHT_NOTIFIER, err, sizeof(err)) !=
        UMS_OK) {
        fprintf(stderr, "ums-notifier: %s: %s\n", config_path, err);
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
    /* Started as root: everything that needed root is done; run as the
     * service user ([server] user), like the workers. Files are handed over
     * through their descriptors, never by path. */
    {
        uid_t uid;
        gid_t gid;
        if (privs_lookup(n.cfg->server.user, &uid, &gid) != 0)
            goto out;
        if (!once && pidfile_claim(n.cfg->notifier.pid_file, uid, gid) != 0)
            goto out;
        if (log_chown(uid, gid) != 0)
            log_warn("cannot hand the log file to [server] user");
        if (privs_drop(n.cfg->server.user, uid, gid) != 0)
            goto out;
    }
    if (template_load(&n.tpl, n.cfg->email.templates_dir, err, sizeof(err)) != UMS_OK) {
        log_error("%s", err);
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
        kv_open(&n.kv, n.cfg->redis.host, n.cfg->redis.port, n.cfg->redis.password, n.cfg->redis.db,
                10000) != UMS_OK)
        goto out;
    log_info("ums-notifier started (%s, consumer %s)", once ? "once" : "daemon", n.consumer);
    ensure_group(&n);
    if (once) {
        republish(&n);
        claim(&n);
        drain_pending(&n);
        while (!notifier_stopping && read_batch(&n, ">", -1) > 0)
            ;
        prune(&n);
        rc = 0;
        goto out;
    }
    while (!notifier_stopping) {
        time_t now = time(NULL);
        if (now - last_republish >= 5) {
            republish(&n);
            claim(&n);
            last_republish = now;
        }
        if (now - last_prune >= 60) {
            prune(&n);
            last_prune = now;
        }
        /* Own pending entries (retries) are looked at every second; each
         * one waits for its own next_attempt_at. */
        int drained = 0;
        if (now - last_pending >= 1) {
            drain_pending(&n);
            last_pending = now;
            drained = 1;
        }
        if (read_batch(&n, ">", 1000) < 0) {
            sleep(1); /* Redis down: retry */
            ensure_group(&n);
        }
        /* A round (about a second) ends when the retries due were sent and
         * the stream was read: what was waiting when it began is handled. */
        if (drained)
            outbox_heartbeat(n.kv, n.consumer, ++rounds);
    }
    rc = 0;
out:
    log_info("ums-notifier stopped");
    if (!once && n.cfg != NULL)
        pidfile_release(n.cfg->notifier.pid_file);
    db_close(n.db);
    kv_close(n.kv);
    template_free(&n.tpl);
    config_free(n.cfg);
    log_close();
    return rc;
}
