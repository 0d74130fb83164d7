/* main.c - ums-notifier: drains the ums:events stream (consumer group
 * "notifier") batch by batch; as a daemon, or with --once for cron.
 *
 * Each batch is delivered (deliver.c), its outcomes recorded, and only then
 * are its finished entries acknowledged. A crash before the record means
 * the entries are still pending and are sent again on restart (at least
 * once); after the record they are never sent twice. Unpublished outbox
 * rows (Redis was down at commit) are republished after [notifier]
 * republish_after seconds.
 *
 * One process at a time runs as a consumer: it holds the consumer's lock
 * (stream_lock_take), renews it before every batch it reads and releases it
 * at exit. A --once run that finds it held does nothing; a daemon waits for
 * it. Whoever loses it (it lapsed, [notifier] lock_ttl_ms, and another took
 * it) reads nothing more: the other now sends this consumer's pending
 * entries. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "../util/metrics.h"
#include "../core/config.h"
#include "../core/ctx.h"
#include "../util/log.h"
#include "../core/outbox.h"
#include "../util/pidfile.h"
#include "../core/preflight.h"
#include "../util/privs.h"
#include "../core/sessions.h"
#include "../core/stream.h"
#include "../util/ums.h"
#include "notifier.h"

#ifndef UMS_CONFIG_FILE
#define UMS_CONFIG_FILE "/etc/ums/ums.conf" /* configure sets $(sysconfdir)/ums/ums.conf */
#endif

volatile sig_atomic_t notifier_stopping;
static volatile sig_atomic_t got_hup;

static void on_stop(int sig)
{
    (void)sig;
    notifier_stopping = 1;
}

/* SIGHUP reopens [log] file (logrotate's postrotate); the rest of the
 * configuration takes a restart. */
static void on_hup(int sig)
{
    (void)sig;
    got_hup = 1;
}

/* Delivers the entries of a batch read or claimed from the stream, then
 * acknowledges and deletes the finished ones and those that are not ours
 * (stream_finish: the entries carried references to codes). Returns how
 * many entries it saw. */
static int process(struct notifier *n, const struct stream_batch *sb)
{
    struct entry *batch;
    const char **sid;
    size_t nb = 0, done = 0;

    /* SIGTERM: what was in flight is finished; a batch not started stays
     * pending for this consumer and is taken up after a restart. */
    if (sb->n == 0 || notifier_stopping)
        return 0;
    batch = calloc(sb->n, sizeof(*batch));
    sid = calloc(sb->n, sizeof(*sid));
    if (batch == NULL || sid == NULL) {
        free(batch);
        free(sid);
        return 0;
    }
    snprintf(n->last_id, sizeof(n->last_id), "%s", sb->entries[sb->n - 1].id);
    for (size_t i = 0; i < sb->n; i++) {
        const struct stream_entry *e = &sb->entries[i];
        if (e->outbox_id == NULL) {
            sid[done++] = e->id; /* not ours */
            continue;
        }
        batch[nb].oid = e->outbox_id;
        batch[nb++].event = e->event;
    }
    deliver_batch(n, batch, nb);
    for (size_t i = 0, k = 0; i < sb->n; i++) {
        if (sb->entries[i].outbox_id == NULL)
            continue;
        if (batch[k++].done)
            sid[done++] = sb->entries[i].id;
    }
    stream_finish(n->ctx.kv, sid, done);
    free(batch);
    free(sid);
    return (int)sb->n;
}

/*
 * Renews the consumer's lock before a batch is read or claimed: 1 when this
 * process still holds it. 0 when it was lost (it lapsed and another process
 * took it: that one now reads this consumer's pending entries, so this one
 * must not; a --once run stops, a daemon waits in lock_wait) or when Redis
 * did not answer (then nothing can be read either).
 */
static int lock_renew(struct notifier *n)
{
    int rc;

    if (!n->locked)
        return 0;
    rc = stream_lock_renew(n->ctx.kv, n->consumer, n->lock_token, n->cfg->notifier.lock_ttl_ms);
    if (rc == UMS_ECONFLICT) {
        n->locked = 0;
        log_warn("another notifier took the lock of consumer %s; this one stops reading",
                 n->consumer);
    }
    return rc == UMS_OK;
}

/* Takes the consumer's lock: as stream_lock_take, but a lock whose holder
 * was a notifier of this host that is gone (killed: its lock would block
 * for lock_ttl_ms) is taken over at once. */
static int lock_take(struct notifier *n)
{
    char holder[STREAM_LOCK_TOKEN_MAX];
    int rc = stream_lock_take(n->ctx.kv, n->consumer, n->lock_token, n->cfg->notifier.lock_ttl_ms);

    if (rc != UMS_ECONFLICT ||
        stream_lock_holder(n->ctx.kv, n->consumer, holder, sizeof(holder)) != UMS_OK ||
        !stream_lock_holder_gone(holder))
        return rc;
    rc = stream_lock_steal(n->ctx.kv, n->consumer, holder, n->lock_token,
                           n->cfg->notifier.lock_ttl_ms);
    if (rc == UMS_OK) {
        /* host:pid, not the random part. */
        char *last = strrchr(holder, ':');
        if (last != NULL)
            *last = '\0';
        log_warn("the lock of consumer %s was held by %s, a notifier that is gone; taken over",
                 n->consumer, holder);
    }
    return rc;
}

/* A daemon takes the consumer's lock, trying once a second while another
 * process holds it (said once) or Redis is down. 0 when taken, -1 when
 * stopping. */
static int lock_wait(struct notifier *n)
{
    int said = 0;

    while (!notifier_stopping) {
        int rc = lock_take(n);
        if (rc == UMS_OK) {
            n->locked = 1;
            if (said)
                log_info("took the lock of consumer %s", n->consumer);
            return 0;
        }
        if (rc == UMS_ECONFLICT && !said) {
            log_info("another notifier runs as consumer %s; waiting for it", n->consumer);
            said = 1;
        }
        sleep(1);
    }
    return -1;
}

/* One XREADGROUP. id "0" re-reads this consumer's pending entries. */
static int read_batch(struct notifier *n, const char *id, int block_ms)
{
    struct stream_batch sb;
    int seen;

    if (!lock_renew(n))
        return -1;
    if (stream_read(n->ctx.kv, n->consumer, id, n->cfg->notifier.batch, block_ms, &sb) != UMS_OK)
        return -1;
    if (strcmp(id, ">") == 0)
        metrics_add(M_NOTIFIER_READ, sb.n);
    seen = process(n, &sb);
    stream_batch_free(&sb);
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
    struct stream_batch sb;

    if (!lock_renew(n))
        return;
    if (stream_claim(n->ctx.kv, n->consumer, n->cfg->notifier.claim_idle_ms, n->cfg->notifier.batch,
                     &sb) == UMS_OK) {
        metrics_add(M_NOTIFIER_READ, sb.n);
        process(n, &sb);
    }
    stream_batch_free(&sb);
}

/* Publishes outbox rows that missed the stream (Redis was down at commit),
 * and again those published long ago but never finished (outbox_republish). */
static void republish(struct notifier *n)
{
    outbox_republish(n->ctx.db, n->ctx.kv, n->cfg->notifier.republish_after,
                     n->cfg->notifier.redeliver_after, 500);
}

/* Deletes outbox rows done more than [notifier] keep_days ago (with their
 * deliveries), 5,000 a statement, at most 100,000 a round; session cache
 * faults older than an hour; and the codes and links of mails that were
 * never sent, once they are older than [auth] otp_ttl. */
static void prune(struct notifier *n)
{
    int days = n->cfg->notifier.keep_days;
    long total = 0, got = 5000;

    sessions_cache_faults_prune(n->ctx.db);
    outbox_secrets_prune(n->ctx.db, n->cfg->auth.otp_ttl);
    if (days <= 0)
        return;
    for (int i = 0; i < 20 && got == 5000 && !notifier_stopping; i++) {
        if (outbox_prune(n->ctx.db, days, 5000, &got) != UMS_OK)
            return;
        total += got;
    }
    if (total > 0)
        log_info("pruned %ld outbox rows older than %d days", total, days);
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

    log_set_service("ums-notifier");

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
        config_path = UMS_CONFIG_FILE;
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
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    if (n.cfg->metrics.enabled &&
        metrics_open(n.cfg->metrics.dir, MK_NOTIFIER, err, sizeof(err)) != 0)
        log_warn("metrics off in the notifier: %s", err);
    /* Redis replies may take 10 s: XREADGROUP waits up to a second on purpose. */
    if (ctx_open_blocking(&n.ctx, n.cfg, 10000, err, sizeof(err)) != UMS_OK) {
        log_error("%s", err);
        goto out;
    }
    log_info("ums-notifier started (%s, consumer %s)", once ? "once" : "daemon", n.consumer);
    if (stream_lock_token(n.lock_token, sizeof(n.lock_token)) != UMS_OK) {
        log_error("no random bytes for the lock of consumer %s", n.consumer);
        goto out;
    }
    if (once) {
        /* One process at a time runs as a consumer: a daemon, or another
         * --once run that cron started before this one ended. */
        int got = lock_take(&n);
        if (got == UMS_ECONFLICT) {
            log_info("another notifier runs as consumer %s; nothing to do", n.consumer);
            rc = 0;
            goto out;
        }
        if (got != UMS_OK) {
            log_error("cannot take the lock of consumer %s (%s)", n.consumer, ums_rc_name(got));
            goto out;
        }
        n.locked = 1;
        stream_group_ensure(n.ctx.kv);
        republish(&n);
        claim(&n);
        drain_pending(&n);
        while (!notifier_stopping && read_batch(&n, ">", -1) > 0)
            ;
        if (n.locked)
            prune(&n);
        metrics_inc(M_NOTIFIER_ROUNDS_ONCE);
        rc = 0;
        goto out;
    }
    while (!notifier_stopping) {
        time_t now;
        if (got_hup) {
            got_hup = 0;
            if (log_open(n.cfg->log.file, n.cfg->log.level) != 0)
                log_error("cannot reopen the log file; keeping the old one");
            else
                log_info("log file reopened");
        }
        if (!n.locked) {
            if (lock_wait(&n) != 0)
                break;
            stream_group_ensure(n.ctx.kv);
        }
        now = time(NULL);
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
            stream_group_ensure(n.ctx.kv);
        }
        /* A round (about a second) ends when the retries due were sent and
         * the stream was read: what was waiting when it began is handled. */
        if (drained && n.locked) {
            outbox_heartbeat(n.ctx.kv, n.consumer, ++rounds);
            metrics_inc(M_NOTIFIER_ROUNDS_DAEMON);
        }
    }
    rc = 0;
out:
    if (n.locked && stream_lock_release(n.ctx.kv, n.consumer, n.lock_token) != UMS_OK)
        log_warn("the lock of consumer %s is left to lapse", n.consumer);
    log_info("ums-notifier stopped");
    if (!once && n.cfg != NULL)
        pidfile_release(n.cfg->notifier.pid_file);
    ctx_close(&n.ctx);
    metrics_close();
    template_free(&n.tpl);
    config_free(n.cfg);
    log_close();
    return rc;
}
