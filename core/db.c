/* db.c - libpq connections, lazily prepared statements, reconnection, and
 * which server a statement goes to (the replicas' health: db_replica.c). */
#include "db.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db_conn.h"
#include "db_stmt.h"
#include "../util/log.h"
#include "../util/metrics.h"
#include "../util/ums.h"

double db_since(const struct timespec *t)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

void db_conn_drop(struct db_conn *c)
{
    if (c->conn != NULL)
        PQfinish(c->conn);
    c->conn = NULL;
    memset(c->prepared, 0, sizeof(c->prepared));
}

static void drop(struct db *db)
{
    db_conn_drop(&db->primary);
    db->in_tx = 0;
}

/* Waits for PQconnectPoll's next step until the deadline: a replica that
 * does not answer costs a request at most deadline_ms. */
static int poll_connect(PGconn *pc, int deadline_ms)
{
    struct timespec t0;
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd pfd;
        int left = deadline_ms - (int)(db_since(&t0) * 1000.0), n;
        if (st == PGRES_POLLING_OK)
            return 0;
        if (st == PGRES_POLLING_FAILED || left <= 0)
            return -1;
        pfd.fd = PQsocket(pc);
        pfd.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
        pfd.revents = 0;
        if (pfd.fd < 0)
            return -1;
        n = poll(&pfd, 1, left);
        if (n < 0 && errno != EINTR)
            return -1;
        if (n > 0)
            st = PQconnectPoll(pc);
    }
}

int db_conn_connect(struct db *db, struct db_conn *c, int deadline_ms, char *why, size_t whylen)
{
    char timeout[16], stmt_timeout[64];
    const char *kw[6], *val[6];
    int n = 0, ok;

    snprintf(timeout, sizeof(timeout), "%d", db->connect_timeout);
    snprintf(stmt_timeout, sizeof(stmt_timeout), "-c statement_timeout=%d",
             db->statement_timeout_ms);
    kw[n] = "dbname";
    val[n++] = c->conninfo; /* expanded: a URI or key/value string */
    kw[n] = "connect_timeout";
    val[n++] = timeout;
    /* 0: no start-up option at all. PgBouncer 1.18 refuses `options` (unless
     * ignore_startup_parameters lists it, and then drops it): behind it the
     * timeout is the role's (ALTER ROLE ... SET statement_timeout). */
    if (db->statement_timeout_ms > 0) {
        kw[n] = "options";
        val[n++] = stmt_timeout;
    }
    kw[n] = "application_name";
    val[n++] = "ums";
    if (db->password != NULL) {
        kw[n] = "password";
        val[n++] = db->password;
    }
    kw[n] = NULL;
    val[n] = NULL;
    db_conn_drop(c);
    clock_gettime(CLOCK_MONOTONIC, &c->last_try);
    if (deadline_ms > 0) {
        c->conn = PQconnectStartParams(kw, val, 1);
        ok = c->conn != NULL && PQstatus(c->conn) != CONNECTION_BAD &&
             poll_connect(c->conn, deadline_ms) == 0;
    } else {
        c->conn = PQconnectdbParams(kw, val, 1);
        ok = c->conn != NULL;
    }
    if (!ok || PQstatus(c->conn) != CONNECTION_OK) {
        /* libpq's message names host and port, never the password. */
        const char *m = c->conn == NULL ? "out of memory"
                        : PQstatus(c->conn) == CONNECTION_OK || *PQerrorMessage(c->conn) == '\0'
                            ? "timed out"
                            : PQerrorMessage(c->conn);
        if (why != NULL)
            snprintf(why, whylen, "%.*s", (int)strcspn(m, "\n"), m);
        db_conn_drop(c);
        return UMS_EUNAVAILABLE;
    }
    return UMS_OK;
}

static int connect_now(struct db *db)
{
    struct db_conn *c = &db->primary;
    char why[512];

    db->in_tx = 0;
    if (db_conn_connect(db, c, 0, why, sizeof(why)) != UMS_OK) {
        if (!c->down_logged) {
            log_warn("postgresql unavailable: %s", why);
            c->down_logged = 1;
        }
        metrics_inc(M_PG_ERRORS);
        metrics_set(M_DEGRADED_PG, 1);
        return UMS_EUNAVAILABLE;
    }
    if (c->down_logged)
        log_info("postgresql connection restored");
    if (c->connected)
        metrics_inc(M_PG_RECONNECTS);
    metrics_set(M_DEGRADED_PG, 0);
    c->connected = 1;
    c->down_logged = 0;
    return UMS_OK;
}

/* "host:port/dbname" of a connection string, for logs. */
static void conn_label(const char *conninfo, char *out, size_t n)
{
    PQconninfoOption *o = PQconninfoParse(conninfo, NULL), *i;
    const char *host = NULL, *port = NULL, *dbname = NULL;

    for (i = o; i != NULL && i->keyword != NULL; i++) {
        if (i->val == NULL)
            continue;
        if (strcmp(i->keyword, "host") == 0)
            host = i->val;
        else if (strcmp(i->keyword, "port") == 0)
            port = i->val;
        else if (strcmp(i->keyword, "dbname") == 0)
            dbname = i->val;
    }
    snprintf(out, n, "%s:%s/%s", host != NULL ? host : "local", port != NULL ? port : "5432",
             dbname != NULL ? dbname : "-");
    PQconninfoFree(o);
}

int db_conninfo_check(const char *conninfo, char *err, size_t errlen)
{
    char *why = NULL;
    PQconninfoOption *o = PQconninfoParse(conninfo, &why);

    if (o == NULL) {
        /* libpq quotes the string, password and all: the quotes' contents
         * stay out of the message. */
        size_t j = 0;
        int quoted = 0;
        for (const char *m = why != NULL ? why : "out of memory"; *m != '\0' && *m != '\n'; m++) {
            if (*m == '"')
                quoted = !quoted;
            if ((!quoted || *m == '"') && j + 1 < errlen)
                err[j++] = *m;
        }
        if (errlen > 0)
            err[j] = '\0';
        PQfreemem(why);
        return UMS_EINVALID;
    }
    PQconninfoFree(o);
    return UMS_OK;
}

int db_open(struct db **out, const char *conninfo, const char *password, int connect_timeout,
            int statement_timeout_ms)
{
    struct db *db = calloc(1, sizeof(*db));

    *out = NULL;
    if (db == NULL)
        return UMS_ERR;
    db->primary.conninfo = strdup(conninfo);
    db->password = password != NULL && *password != '\0' ? strdup(password) : NULL;
    if (db->primary.conninfo == NULL ||
        (password != NULL && *password != '\0' && db->password == NULL)) {
        db_close(db);
        return UMS_ERR;
    }
    conn_label(conninfo, db->primary.label, sizeof(db->primary.label));
    db->connect_timeout = connect_timeout;
    db->statement_timeout_ms = statement_timeout_ms;
    db->max_lag = 2.0;
    connect_now(db);
    *out = db;
    return UMS_OK;
}

int db_add_replica(struct db *db, const char *conninfo)
{
    struct db_conn *c;

    if (db->nreplicas == DB_REPLICAS_MAX)
        return UMS_EINVALID;
    c = &db->replicas[db->nreplicas];
    memset(c, 0, sizeof(*c));
    c->conninfo = strdup(conninfo);
    if (c->conninfo == NULL)
        return UMS_ERR;
    conn_label(conninfo, c->label, sizeof(c->label));
    c->replica = 1;
    db->nreplicas++;
    return UMS_OK;
}

void db_set_max_lag(struct db *db, double seconds)
{
    db->max_lag = seconds;
}

int db_replicas(const struct db *db)
{
    return db->nreplicas;
}

void db_set_prepared(struct db *db, int prepared)
{
    db->unprepared = !prepared;
}

void db_set_freshness(struct db *db, int (*fresh)(void *arg), void *arg)
{
    db->fresh = fresh;
    db->fresh_arg = arg;
}

void db_request_begin(struct db *db)
{
    /* A transaction an earlier request left open (an error path that
     * missed its rollback) would swallow every later statement of this
     * worker, or fail them all once aborted: ended here, and said. */
    if (db->primary.conn != NULL && PQtransactionStatus(db->primary.conn) != PQTRANS_IDLE) {
        log_error("db: a request left a transaction open; rolled back");
        metrics_inc(M_PG_TX_LEAKED);
        if (db_rollback(db) != UMS_OK)
            drop(db);
    }
    db->wrote = 0;
    db->pinned = 0;
    db->asked = 0;
    db->last_on_replica = 0;
}

int db_request_wrote(const struct db *db)
{
    return db->wrote;
}

int db_last_on_replica(const struct db *db)
{
    return db->last_on_replica;
}

int db_ensure(struct db *db)
{
    struct db_conn *c = &db->primary;

    if (c->conn != NULL && PQstatus(c->conn) == CONNECTION_OK)
        return UMS_OK;
    drop(db);
    /* Refused connections fail fast, but an unreachable host waits connect_timeout:
     * retry at most once a second so requests are not all held up. */
    if (c->last_try.tv_sec != 0 && db_since(&c->last_try) < 1.0)
        return UMS_EUNAVAILABLE;
    return connect_now(db);
}

/* Maps a failed result to a return code; logs what clients never see. A
 * replica's failures are db_replica.c's to report: the primary answers. */
static int result_rc(struct db_conn *c, PGresult *res, const char *what)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    /* A constraint or a bad value is the request's fault, not the store's. */
    if (!c->replica &&
        (state == NULL || (strncmp(state, "23", 2) != 0 && strncmp(state, "22", 2) != 0)))
        metrics_inc(M_PG_ERRORS);
    if (PQstatus(c->conn) != CONNECTION_OK) {
        if (!c->replica) {
            metrics_set(M_DEGRADED_PG, 1);
            log_warn("postgresql connection lost during %s", what);
        }
        db_conn_drop(c);
        return UMS_EUNAVAILABLE;
    }
    if (state != NULL && strcmp(state, "23505") == 0)
        return UMS_ECONFLICT;
    if (state != NULL && (strncmp(state, "23", 2) == 0 || strncmp(state, "22", 2) == 0))
        return UMS_EINVALID;
    if (c->replica)
        return UMS_EUNAVAILABLE; /* a recovery conflict, a timeout: the primary answers */
    /* 57014: statement_timeout; the server is overloaded or the query too
     * costly now: "unavailable, retry later" rather than a failure. */
    if (state != NULL && strcmp(state, "57014") == 0) {
        log_warn("postgresql statement timeout in %s", what);
        metrics_inc(M_PG_TIMEOUTS);
        return UMS_EUNAVAILABLE;
    }
    /* 57P01 admin shutdown, 08xxx connection exceptions. */
    if (state != NULL && (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0)) {
        db_conn_drop(c);
        return UMS_EUNAVAILABLE;
    }
    log_error("postgresql error in %s: sqlstate %s: %s", what, state ? state : "?",
              res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(c->conn));
    return UMS_ERR;
}

/* Hands a result to the caller (*out, or cleared), or maps its failure;
 * *lost is set when the connection died. */
static int take_result(struct db_conn *c, PGresult *res, PGresult **out, const char *what,
                       int *lost)
{
    ExecStatusType s = PQresultStatus(res);
    int rc;

    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        *lost = PQstatus(c->conn) != CONNECTION_OK;
        rc = result_rc(c, res, what);
        PQclear(res);
        return rc == UMS_OK ? UMS_ERR : rc;
    }
    if (out != NULL)
        *out = res;
    else
        PQclear(res);
    return UMS_OK;
}

int db_conn_exec(struct db *db, struct db_conn *c, PGresult **out, int st, const char *sql,
                 int nparams, const char *const *params, int *lost)
{
    PGresult *res;

    if (st < 0)
        return take_result(c, PQexecParams(c->conn, sql, nparams, NULL, params, NULL, NULL, 0), out,
                           "query", lost);
    /* The unnamed statement lives for one Parse/Bind/Execute: nothing is
     * left on a server connection a pooler hands to someone else. */
    if (db->unprepared)
        return take_result(
            c, PQexecParams(c->conn, db_stmt_table[st].sql, nparams, NULL, params, NULL, NULL, 0),
            out, db_stmt_table[st].name, lost);
    if (!c->prepared[st]) {
        int rc = take_result(
            c, PQprepare(c->conn, db_stmt_table[st].name, db_stmt_table[st].sql, 0, NULL), NULL,
            db_stmt_table[st].name, lost);
        if (rc != UMS_OK)
            return rc;
        c->prepared[st] = 1;
    }
    res = PQexecPrepared(c->conn, db_stmt_table[st].name, nparams, params, NULL, NULL, 0);
    return take_result(c, res, out, db_stmt_table[st].name, lost);
}

/* On the primary; a connection that died while idle is tried once more. */
static int run_primary(struct db *db, PGresult **out, int st, const char *sql, int nparams,
                       const char *const *params)
{
    int rc, lost = 0, in_tx = db->in_tx;

    rc = db_ensure(db);
    if (rc != UMS_OK)
        return rc;
    rc = db_conn_exec(db, &db->primary, out, st, sql, nparams, params, &lost);
    if (lost)
        db->in_tx = 0;
    /* A connection that died while idle (server restart) is retried once at
     * once; inside a transaction the work is lost and the caller must fail. */
    if (rc == UMS_EUNAVAILABLE && lost && !in_tx) {
        lost = 0;
        if (connect_now(db) == UMS_OK)
            rc = db_conn_exec(db, &db->primary, out, st, sql, nparams, params, &lost);
    }
    return rc;
}

/* A read that tolerates lag goes to a replica when one is usable and this
 * request has not written nor needs what it wrote before (read-your-writes);
 * anything else, and any read a replica could not serve, to the primary. */
static int run(struct db *db, PGresult **out, int st, const char *sql, int nparams,
               const char *const *params, int mode)
{
    int rc;

    if (out != NULL)
        *out = NULL;
    db->last_on_replica = 0;
    if (mode == DB_LAGGED && db->nreplicas > 0) {
        if (!db->in_tx && !db->wrote && !db->pinned && !db->asked && db->fresh != NULL) {
            db->asked = 1;
            db->pinned = db->fresh(db->fresh_arg);
        }
        if (!db->in_tx && !db->wrote && !db->pinned) {
            rc = db_replica_read(db, out, st, sql, nparams, params);
            if (rc != UMS_EUNAVAILABLE) {
                db->last_on_replica = rc == UMS_OK;
                return rc;
            }
        }
        metrics_inc(M_PG_READS_PRIMARY);
    }
    if (mode == DB_WRITE)
        db->wrote = 1;
    return run_primary(db, out, st, sql, nparams, params);
}

int db_exec(struct db *db, PGresult **out, enum db_stmt st, int nparams, const char *const *params)
{
    if (out != NULL)
        *out = NULL;
    if (st < 0 || st >= STMT__MAX || nparams != db_stmt_table[st].nparams)
        return UMS_ERR;
    return run(db, out, (int)st, NULL, nparams, params, db_stmt_table[st].mode);
}

int db_exec_sql(struct db *db, PGresult **out, const char *sql, int nparams,
                const char *const *params)
{
    return run(db, out, -1, sql, nparams, params, DB_WRITE);
}

int db_read_sql(struct db *db, PGresult **out, const char *sql, int nparams,
                const char *const *params)
{
    return run(db, out, -1, sql, nparams, params, DB_LAGGED);
}

static int simple(struct db *db, const char *sql, char *err, size_t errlen)
{
    PGresult *res;
    int rc = db_ensure(db);

    if (rc != UMS_OK)
        return rc;
    db->wrote = 1;
    res = PQexec(db->primary.conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
        if (err != NULL && errlen > 0) {
            const char *m =
                res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(db->primary.conn);
            snprintf(err, errlen, "%.*s", (int)strcspn(m, "\n"), m);
        }
        rc = result_rc(&db->primary, res, "script");
        PQclear(res);
        if (db->primary.conn == NULL)
            db->in_tx = 0;
        return rc == UMS_OK ? UMS_ERR : rc;
    }
    PQclear(res);
    return UMS_OK;
}

int db_exec_script(struct db *db, const char *sql, char *err, size_t errlen)
{
    return simple(db, sql, err, errlen);
}

int db_begin(struct db *db)
{
    int rc = simple(db, "BEGIN", NULL, 0);

    db->in_tx = rc == UMS_OK;
    return rc;
}

int db_commit(struct db *db)
{
    PGresult *res;
    int rc = db_ensure(db);

    db->in_tx = 0;
    if (rc != UMS_OK)
        return rc;
    db->wrote = 1;
    res = PQexec(db->primary.conn, "COMMIT");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = result_rc(&db->primary, res, "commit");
        PQclear(res);
        return rc == UMS_OK ? UMS_ERR : rc;
    }
    /* COMMIT of an aborted transaction "succeeds" as ROLLBACK: nothing was
     * kept, and the caller must not answer as if it had been. */
    rc = strcmp(PQcmdStatus(res), "ROLLBACK") == 0 ? UMS_ERR : UMS_OK;
    if (rc != UMS_OK)
        log_error("db: COMMIT of a failed transaction rolled it back");
    PQclear(res);
    return rc;
}

int db_rollback(struct db *db)
{
    db->in_tx = 0;
    if (db->primary.conn == NULL)
        return UMS_OK;
    return simple(db, "ROLLBACK", NULL, 0);
}

int db_end(struct db *db, int rc)
{
    if (rc == UMS_OK)
        return db_commit(db);
    db_rollback(db);
    return rc;
}

long long db_ll(const PGresult *res, int row, int col)
{
    char *end;
    long long v;

    if (PQgetisnull(res, row, col))
        return 0;
    errno = 0;
    v = strtoll(PQgetvalue(res, row, col), &end, 10);
    return errno != 0 || *end != '\0' ? 0 : v;
}

int db_int(const PGresult *res, int row, int col)
{
    long long v = db_ll(res, row, col);

    return v < INT_MIN || v > INT_MAX ? 0 : (int)v;
}

int db_ping(struct db *db)
{
    int rc = db_exec(db, NULL, STMT_PING, 0, NULL);

    return rc == UMS_OK ? UMS_OK : UMS_EUNAVAILABLE;
}

void db_close(struct db *db)
{
    int i;

    if (db == NULL)
        return;
    drop(db);
    free(db->primary.conninfo);
    for (i = 0; i < db->nreplicas; i++) {
        db_conn_drop(&db->replicas[i]);
        free(db->replicas[i].conninfo);
    }
    if (db->password != NULL) {
        explicit_bzero(db->password, strlen(db->password));
        free(db->password);
    }
    free(db);
}
