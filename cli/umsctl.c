/* umsctl.c - administration: migrate, keygen, config check. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/config.h"
#include "../core/admin.h"
#include "../core/auth.h"
#include "../core/ctx.h"
#include "../core/kv.h"
#include "../core/password.h"
#include "../core/db.h"
#include "../util/file.h"
#include "../core/tokens.h"
#include "../core/keygen.h"
#include "ping.h"
#include "../util/log.h"
#include "../util/metrics.h"
#include "../util/pidfile.h"
#include "../core/migrate.h"
#include "keys.h"
#include "../core/outbox.h"
#include "../core/preflight.h"
#include "../util/ums.h"

#ifndef UMS_SQLDIR
#define UMS_SQLDIR "/usr/share/ums/sql"
#endif

#ifndef UMS_CONFIG_FILE
#define UMS_CONFIG_FILE "/etc/ums/ums.conf" /* configure sets $(sysconfdir)/ums/ums.conf */
#endif

static const char *config_path;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: umsctl [--config FILE] COMMAND\n"
            "  config check            validate the configuration; names the bad key\n"
            "  config show             print the effective configuration (secrets masked)\n"
            "  migrate [--dir DIR] [--check] [--wait SECONDS]\n"
            "                          apply pending migrations (default $UMS_SQL_DIR or %s);\n"
            "                          --check only says whether any is pending (exit 1 if so),\n"
            "                          --wait retries while the database is not there yet\n"
            "  user add --email E --password-file F [--role R] [--confirmed]\n"
            "                          create an account (no email is sent); the password is\n"
            "                          the first line of F, - for standard input (never an\n"
            "                          argument: other users see those in ps)\n"
            "  status [--json] [--dir DIR]\n"
            "                          the pool and its workers, the notifier, PostgreSQL and\n"
            "                          Redis, migrations (DIR as for migrate), the event queue,\n"
            "                          the last delivery; exit 1 when something is down\n"
            "  events status           the queue: stream, pending, dead, unpublished, waiting\n"
            "  events retry-dead       put the events of ums:events:dead back on ums:events\n"
            "                          (their failed deliveries get their attempts again)\n"
            "  ping [--listen ADDR] [--path PATH]\n"
            "                          GET PATH (default /healthz) from ums-fcgi over FastCGI\n"
            "                          at ADDR (default [server] listen); exit 0 on a 200\n"
            "  keygen --out DIR [--bits N]\n"
            "                          write an RS256 key pair DIR/jwt-private.pem and\n"
            "                          DIR/jwt-public.pem (never overwrites) and print the "
            "kid\n" KEYS_USAGE
            "The configuration is --config, else $UMS_CONFIG, else " UMS_CONFIG_FILE ".\n",
            UMS_SQLDIR);
}

static int load(struct ums_config **cfg)
{
    char err[512];

    if (config_load(cfg, config_path, err, sizeof(err)) != UMS_OK) {
        fprintf(stderr, "umsctl: %s\n", err);
        return -1;
    }
    return 0;
}

static int cmd_config(int argc, char **argv)
{
    struct ums_config *cfg = NULL;

    if (argc != 1 || (strcmp(argv[0], "check") != 0 && strcmp(argv[0], "show") != 0)) {
        usage(stderr);
        return 2;
    }
    if (load(&cfg) != 0)
        return 1;
    if (strcmp(argv[0], "show") == 0) {
        config_dump(cfg);
    } else {
        /* Every file the configuration names, loaded as the workers and
         * the notifier will, as the service user. */
        char err[1024];
        if (preflight_as_service_user(cfg, config_path, PREFLIGHT_ALL, err, sizeof(err)) !=
            UMS_OK) {
            fprintf(stderr, "umsctl: %s: %s\n", config_path, err);
            config_free(cfg);
            return 1;
        }
        printf("%s: ok\n", config_path);
    }
    config_free(cfg);
    return 0;
}

/* The migrations' folder: --dir, else $UMS_SQL_DIR, else the installed one. */
static const char *sql_dir(const char *given)
{
    const char *env = getenv("UMS_SQL_DIR");

    if (given != NULL && *given != '\0')
        return given;
    return env != NULL && *env != '\0' ? env : UMS_SQLDIR;
}

/* umsctl's connection: as the daemons make theirs ([database] prepared;
 * no statement_timeout: an administrator's command may take long). */
static int open_db(const struct ums_config *cfg, struct db **db)
{
    int rc =
        db_open(db, cfg->database.url, cfg->database.password, cfg->database.connect_timeout, 0);

    if (rc == UMS_OK)
        db_set_prepared(*db, cfg->database.prepared);
    return rc;
}

/* One attempt: connect, then apply the pending migrations (or, with
 * check_only, count them). 0 done, 1 failed for good, -1 worth a retry
 * (the database is not reachable yet, or --check found some pending). */
static int migrate_once(const struct ums_config *cfg, const char *dir, int check_only, int quiet)
{
    struct db *db = NULL;
    char err[1024];
    int applied = 0, pending = 0, rc;

    rc = open_db(cfg, &db);
    if (rc == UMS_OK)
        rc = db_ensure(db);
    if (rc != UMS_OK) {
        if (!quiet)
            fprintf(stderr, "umsctl: cannot connect to the database\n");
        db_close(db);
        return -1;
    }
    rc = check_only ? migrate_status(db, dir, &applied, &pending, err, sizeof(err))
                    : migrate_run(db, dir, &applied, err, sizeof(err));
    db_close(db);
    if (rc != UMS_OK) {
        fprintf(stderr, "umsctl: migrate: %s\n", err);
        return 1;
    }
    if (check_only) {
        if (pending > 0 && !quiet)
            printf("migrations: %d pending\n", pending);
        if (pending > 0)
            return -1;
        printf("migrations: up to date (%d applied)\n", applied);
    } else if (applied == 0) {
        printf("migrations: up to date\n");
    } else {
        printf("migrations: applied %d\n", applied);
    }
    return 0;
}

/* migrate [--dir DIR] [--check] [--wait SECONDS]: apply the pending
 * migrations (--check: only tell whether any is pending, exit 1 if so).
 * --wait retries once a second while the database is unreachable (and,
 * with --check, while migrations are pending): a container's start-up,
 * before or beside the migration job. */
static int cmd_migrate(int argc, char **argv)
{
    struct ums_config *cfg = NULL;
    const char *dir = NULL;
    int check_only = 0, rc;
    long wait_s = 0;
    time_t deadline;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "--check") == 0) {
            check_only = 1;
        } else if (strcmp(argv[i], "--wait") == 0 && i + 1 < argc) {
            char *end;
            wait_s = strtol(argv[++i], &end, 10);
            if (*end != '\0' || wait_s < 0 || wait_s > 86400) {
                fprintf(stderr, "umsctl: --wait must be 0 to 86400 seconds\n");
                return 2;
            }
        } else {
            usage(stderr);
            return 2;
        }
    }
    dir = sql_dir(dir);
    if (load(&cfg) != 0)
        return 1;
    log_open(NULL, LL_WARN);
    deadline = time(NULL) + wait_s;
    while ((rc = migrate_once(cfg, dir, check_only, time(NULL) < deadline)) < 0 &&
           time(NULL) < deadline)
        sleep(1);
    if (rc < 0 && wait_s > 0)
        fprintf(stderr, "umsctl: migrate: not done within %ld s\n", wait_s);
    config_free(cfg);
    return rc == 0 ? 0 : 1;
}

/* The first line of path ("-": standard input) into *out (malloc'd). */
static int read_password(const char *path, char **out)
{
    char *text = NULL;
    size_t len = 0;

    *out = NULL;
    if (strcmp(path, "-") == 0) {
        text = malloc(4096);
        if (text == NULL || fgets(text, 4096, stdin) == NULL) {
            free(text);
            fprintf(stderr, "umsctl: user add: no password on standard input\n");
            return -1;
        }
    } else if (file_read(path, 4096, &text, &len) != UMS_OK) {
        fprintf(stderr, "umsctl: user add: %s: %s\n", path, file_why(errno));
        return -1;
    }
    text[strcspn(text, "\r\n")] = '\0';
    *out = text;
    return 0;
}

static int cmd_user_add(int argc, char **argv)
{
    struct ums_config *cfg = NULL;
    struct ums_ctx ctx;
    struct admin_attrs a;
    struct ums_err err = {0};
    char id[UUID_LEN + 1], *pw = NULL;
    const char *pwfile = NULL;
    int rc;

    memset(&a, 0, sizeof(a));
    a.email_confirm = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--email") == 0 && i + 1 < argc) {
            a.email = argv[++i];
            a.email_len = strlen(a.email);
        } else if (strcmp(argv[i], "--password-file") == 0 && i + 1 < argc) {
            pwfile = argv[++i];
        } else if (strcmp(argv[i], "--password") == 0) {
            fprintf(stderr, "umsctl: user add: --password would show the password to every "
                            "local user (ps); use --password-file FILE, or - for stdin\n");
            return 2;
        } else if (strcmp(argv[i], "--role") == 0 && i + 1 < argc) {
            a.role = argv[++i];
        } else if (strcmp(argv[i], "--confirmed") == 0) {
            a.email_confirm = 1;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (a.email == NULL || pwfile == NULL) {
        usage(stderr);
        return 2;
    }
    if (read_password(pwfile, &pw) != 0)
        return 1;
    a.password = pw;
    a.password_len = strlen(pw);
    if (load(&cfg) != 0)
        return 1;
    log_open(NULL, LL_WARN);
    memset(&ctx, 0, sizeof(ctx));
    ctx.cfg = cfg;
    password_params_from_config(&ctx.pw, cfg);
    rc = open_db(cfg, &ctx.db);
    if (rc == UMS_OK)
        rc = kv_open_config(&ctx.kv, cfg, cfg->redis.timeout_ms);
    if (rc == UMS_OK)
        rc = db_ensure(ctx.db);
    if (rc == UMS_OK)
        rc = admin_create(&ctx, NULL, &a, NULL, id, &err);
    if (rc == UMS_OK)
        printf("user %s created\n", id);
    else if (rc == UMS_EDENIED)
        fprintf(stderr, "umsctl: user add: %s\n", err.msg);
    else
        fprintf(stderr, "umsctl: user add: the database is unavailable or refused the change\n");
    db_close(ctx.db);
    kv_close(ctx.kv);
    config_free(cfg);
    explicit_bzero(pw, strlen(pw));
    free(pw);
    return rc == UMS_OK ? 0 : 1;
}

/* PostgreSQL and Redis for the events commands. */
static int open_stores(const struct ums_config *cfg, struct db **db, struct kv **kv)
{
    int rc = open_db(cfg, db);

    if (rc == UMS_OK)
        rc = kv_open_config(kv, cfg, cfg->redis.timeout_ms);
    return rc;
}

/* events status | retry-dead: both need PostgreSQL and Redis. status
 * prints one "name value" line each, for people and monitoring scripts. */
static int cmd_events(const char *what)
{
    struct ums_config *cfg = NULL;
    struct db *db = NULL;
    struct kv *kv = NULL;
    struct outbox_status st;
    long moved = 0;
    int rc, status = strcmp(what, "status") == 0;

    if (load(&cfg) != 0)
        return 1;
    log_open(NULL, LL_WARN);
    rc = open_stores(cfg, &db, &kv);
    if (rc == UMS_OK)
        rc = status ? outbox_status(db, kv, &st) : outbox_retry_dead(db, kv, &moved);
    if (rc == UMS_OK && status)
        printf("stream %lld\npending %lld\nconsumers %lld\ndead %lld\nunpublished %lld\n"
               "waiting %lld\n",
               st.stream, st.pending, st.consumers, st.dead, st.unpublished, st.waiting);
    else if (rc == UMS_OK)
        printf("%ld events put back on the stream\n", moved);
    else
        fprintf(stderr, "umsctl: events %s: PostgreSQL or Redis is unavailable (%ld moved)\n", what,
                moved);
    db_close(db);
    kv_close(kv);
    config_free(cfg);
    return rc == UMS_OK ? 0 : 1;
}

/* What umsctl status finds. */
struct status {
    long master, notifier; /* live pids, or 0 */
    long procs[MK__MAX];   /* live processes with a metrics file, by kind */
    int metrics_ok;        /* the metrics folder could be read */
    int pg, redis;         /* reachable */
    int mig_applied, mig_pending, mig_ok;
    int queue_ok;
    struct outbox_status q;
};

static void status_gather(const struct ums_config *cfg, const char *sqldir, struct status *st)
{
    struct db *db = NULL;
    struct kv *kv = NULL;
    char err[512];

    memset(st, 0, sizeof(*st));
    st->master = pidfile_owner_named(cfg->server.pid_file, "ums-fcgi");
    st->notifier = pidfile_owner_named(cfg->notifier.pid_file, "ums-notifier");
    st->metrics_ok = cfg->metrics.enabled && metrics_live(cfg->metrics.dir, st->procs) == 0;
    if (open_db(cfg, &db) == UMS_OK)
        st->pg = db_ensure(db) == UMS_OK;
    if (kv_open_config(&kv, cfg, cfg->redis.timeout_ms) == UMS_OK)
        st->redis = kv_ping(kv) == UMS_OK;
    if (st->pg)
        st->mig_ok = migrate_status(db, sqldir, &st->mig_applied, &st->mig_pending, err,
                                    sizeof(err)) == UMS_OK;
    if (st->pg && st->redis)
        st->queue_ok = outbox_status(db, kv, &st->q) == UMS_OK;
    db_close(db);
    kv_close(kv);
}

static void when(char *out, size_t n, double unix_s)
{
    time_t t = (time_t)unix_s;
    struct tm tm;

    if (unix_s <= 0) {
        snprintf(out, n, "never");
        return;
    }
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static void status_print(const struct status *st)
{
    char last[64];
    double now = (double)time(NULL);

    printf("pool        ");
    if (st->master)
        printf("running (master %ld), %ld workers", st->master, st->procs[MK_WORKER]);
    else
        printf("no master running");
    if (st->procs[MK_SPAWNED] > 0)
        printf("; %ld spawned processes (mod_fcgid, spawn-fcgi)", st->procs[MK_SPAWNED]);
    printf("%s\n", st->metrics_ok ? "" : " (metrics folder unreadable: worker count unknown)");
    printf("notifier    %s", st->notifier ? "running" : "no daemon (cron with --once?)");
    if (st->notifier)
        printf(" (pid %ld)", st->notifier);
    printf("\npostgresql  %s\nredis       %s\n", st->pg ? "ok" : "UNAVAILABLE",
           st->redis ? "ok" : "UNAVAILABLE");
    if (st->mig_ok)
        printf("migrations  %d applied, %d pending%s\n", st->mig_applied, st->mig_pending,
               st->mig_pending ? " (run umsctl migrate)" : "");
    else
        printf("migrations  unknown\n");
    if (!st->queue_ok) {
        printf("events      unknown (needs PostgreSQL and Redis)\n");
        return;
    }
    printf("events      %lld on the stream, %lld pending, %lld unpublished, %lld waiting for a "
           "retry\n",
           st->q.stream, st->q.pending, st->q.unpublished, st->q.waiting);
    printf("dead        %lld dead letters%s\n", st->q.dead,
           st->q.dead ? " (umsctl events retry-dead puts them back)" : "");
    if (st->q.oldest_age > 0)
        printf("backlog     oldest undelivered event %.0f s old\n", st->q.oldest_age);
    else
        printf("backlog     none\n");
    when(last, sizeof(last), st->q.last_done);
    if (st->q.last_done > 0)
        printf("delivered   last at %s (%.0f s ago)\n", last, now - st->q.last_done);
    else
        printf("delivered   never\n");
}

static void status_json(const struct status *st)
{
    printf("{\"pool\":{\"master_pid\":%ld,\"workers\":%ld,\"spawned\":%ld,"
           "\"metrics_readable\":%s},"
           "\"notifier\":{\"pid\":%ld},\"postgres\":%s,\"redis\":%s,",
           st->master, st->procs[MK_WORKER], st->procs[MK_SPAWNED],
           st->metrics_ok ? "true" : "false", st->notifier, st->pg ? "true" : "false",
           st->redis ? "true" : "false");
    if (st->mig_ok)
        printf("\"migrations\":{\"applied\":%d,\"pending\":%d},", st->mig_applied, st->mig_pending);
    else
        printf("\"migrations\":null,");
    if (st->queue_ok)
        printf("\"events\":{\"stream\":%lld,\"pending\":%lld,\"dead\":%lld,\"unpublished\":%lld,"
               "\"waiting\":%lld,\"oldest_undelivered_age_s\":%.3f,\"last_done\":%.3f}}\n",
               st->q.stream, st->q.pending, st->q.dead, st->q.unpublished, st->q.waiting,
               st->q.oldest_age, st->q.last_done);
    else
        printf("\"events\":null}\n");
}

/* status [--json] [--dir DIR]: one screen for an operator; exit 1 when the
 * pool, PostgreSQL or Redis is down or migrations are pending. */
static int cmd_status(int argc, char **argv)
{
    struct ums_config *cfg = NULL;
    const char *dir = NULL;
    struct status st;
    int json = 0, healthy;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    dir = sql_dir(dir);
    if (load(&cfg) != 0)
        return 1;
    log_open(NULL, LL_ERROR);
    status_gather(cfg, dir, &st);
    if (json)
        status_json(&st);
    else
        status_print(&st);
    healthy = (st.master || st.procs[MK_SPAWNED] > 0) && st.pg && st.redis && st.mig_ok &&
              st.mig_pending == 0;
    config_free(cfg);
    return healthy ? 0 : 1;
}

static int cmd_keygen(int argc, char **argv)
{
    const char *out = NULL;
    char priv[4096], pub[4096], kid[23], err[512];
    int bits = 2048;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--bits") == 0 && i + 1 < argc) {
            if (keys_parse_bits(argv[++i], &bits) != 0)
                return 2;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (out == NULL) {
        usage(stderr);
        return 2;
    }
    snprintf(priv, sizeof(priv), "%s/jwt-private.pem", out);
    snprintf(pub, sizeof(pub), "%s/jwt-public.pem", out);
    if (keygen_rsa(priv, pub, bits, kid, err, sizeof(err)) != UMS_OK) {
        fprintf(stderr, "umsctl: keygen: %s\n", err);
        return 1;
    }
    printf("kid %s\nprivate key %s\npublic key %s\n", kid, priv, pub);
    return 0;
}

/* ping [--listen ADDR] [--path PATH]: GET PATH (default /healthz) from
 * ums-fcgi over FastCGI, as the web server would; exit 0 on a 200. The
 * health check of a container, where no web server is in between. */
static int cmd_ping(int argc, char **argv)
{
    struct ums_config *cfg = NULL;
    const char *listen = NULL, *path = "/healthz";
    char err[512], addr[4096];
    int status = 0, rc;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen = argv[++i];
        } else if (strcmp(argv[i], "--path") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (listen == NULL) {
        if (load(&cfg) != 0)
            return 1;
        snprintf(addr, sizeof(addr), "%s", cfg->server.listen);
        config_free(cfg);
        listen = addr;
    }
    rc = fcgi_ping(listen, path, 3000, &status, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "umsctl: ping: %s\n", err);
        return 1;
    }
    printf("%s %s: %d\n", listen, path, status);
    return status == 200 ? 0 : 1;
}

int main(int argc, char **argv)
{
    int i = 1;

    log_set_service("umsctl");

    config_path = getenv("UMS_CONFIG");
    if (i + 1 < argc && strcmp(argv[i], "--config") == 0) {
        config_path = argv[i + 1];
        i += 2;
    }
    if (config_path == NULL || *config_path == '\0')
        config_path = UMS_CONFIG_FILE;
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[i], "config") == 0)
        return cmd_config(argc - i - 1, argv + i + 1);
    if (strcmp(argv[i], "migrate") == 0)
        return cmd_migrate(argc - i - 1, argv + i + 1);
    if (strcmp(argv[i], "user") == 0 && i + 1 < argc && strcmp(argv[i + 1], "add") == 0)
        return cmd_user_add(argc - i - 2, argv + i + 2);
    if (strcmp(argv[i], "events") == 0 && i + 2 == argc &&
        (strcmp(argv[i + 1], "retry-dead") == 0 || strcmp(argv[i + 1], "status") == 0))
        return cmd_events(argv[i + 1]);
    if (strcmp(argv[i], "status") == 0)
        return cmd_status(argc - i - 1, argv + i + 1);
    if (strcmp(argv[i], "keygen") == 0)
        return cmd_keygen(argc - i - 1, argv + i + 1);
    if (strcmp(argv[i], "keys") == 0)
        return cmd_keys(argc - i - 1, argv + i + 1, config_path);
    if (strcmp(argv[i], "ping") == 0)
        return cmd_ping(argc - i - 1, argv + i + 1);
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "help") == 0) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
