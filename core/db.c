/* db.c - libpq connection, lazily prepared statements, reconnection. */
#include "db.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db_stmt.h"
#include "../util/log.h"
#include "../util/metrics.h"
#include "../util/ums.h"

struct db {
    PGconn *conn;
    char *conninfo;
    char *password;
    int connect_timeout;
    int statement_timeout_ms;
    int unprepared; /* every statement as PQexecParams: PgBouncer's transaction pooling */
    unsigned char prepared[STMT__MAX];
    struct timespec last_try;
    int down_logged;
    int in_tx;
    int connected; /* once: a later connection is a reconnect */
};

static double since(const struct timespec *t)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void drop(struct db *db)
{
    if (db->conn != NULL)
        PQfinish(db->conn);
    db->conn = NULL;
    db->in_tx = 0;
    memset(db->prepared, 0, sizeof(db->prepared));
}

static int connect_now(struct db *db)
{
    char timeout[16], stmt_timeout[64];
    const char *kw[6], *val[6];
    int n = 0;

    snprintf(timeout, sizeof(timeout), "%d", db->connect_timeout);
    snprintf(stmt_timeout, sizeof(stmt_timeout), "-c statement_timeout=%d",
             db->statement_timeout_ms);
    kw[n] = "dbname";
    val[n++] = db->conninfo; /* expanded: a URI or key/value string */
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
    clock_gettime(CLOCK_MONOTONIC, &db->last_try);
    db->conn = PQconnectdbParams(kw, val, 1);
    if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
        if (!db->down_logged) {
            /* libpq's message names host and port, never the password. */
            const char *m = db->conn != NULL ? PQerrorMessage(db->conn) : "out of memory";
            log_warn("postgresql unavailable: %.*s", (int)strcspn(m, "\n"), m);
            db->down_logged = 1;
        }
        drop(db);
        metrics_inc(M_PG_ERRORS);
        metrics_set(M_DEGRADED_PG, 1);
        return UMS_EUNAVAILABLE;
    }
    if (db->down_logged)
        log_info("postgresql connection restored");
    if (db->connected)
        metrics_inc(M_PG_RECONNECTS);
    metrics_set(M_DEGRADED_PG, 0);
    db->connected = 1;
    db->down_logged = 0;
    return UMS_OK;
}

int db_open(struct db **out, const char *conninfo, const char *password, int connect_timeout,
            int statement_timeout_ms)
{
    struct db *db = calloc(1, sizeof(*db));

    *out = NULL;
    if (db == NULL)
        return UMS_ERR;
    db->conninfo = strdup(conninfo);
    db->password = password != NULL && *password != '\0' ? strdup(password) : NULL;
    if (db->conninfo == NULL || (password != NULL && *password != '\0' && db->password == NULL)) {
        db_close(db);
        return UMS_ERR;
    }
    db->connect_timeout = connect_timeout;
    db->statement_timeout_ms = statement_timeout_ms;
    connect_now(db);
    *out = db;
    return UMS_OK;
}

void db_set_prepared(struct db *db, int prepared)
{
    db->unprepared = !prepared;
}

int db_ensure(struct db *db)
{
    if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
        return UMS_OK;
    drop(db);
    /* Refused connections fail fast, but an unreachable host waits connect_timeout:
     * retry at most once a second so requests are not all held up. */
    if (db->last_try.tv_sec != 0 && since(&db->last_try) < 1.0)
        return UMS_EUNAVAILABLE;
    return connect_now(db);
}

/* Maps a failed result to a return code; logs what clients never see. */
static int result_rc(struct db *db, PGresult *res, const char *what)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    /* A constraint or a bad value is the request's fault, not the store's. */
    if (state == NULL || (strncmp(state, "23", 2) != 0 && strncmp(state, "22", 2) != 0))
        metrics_inc(M_PG_ERRORS);
    if (PQstatus(db->conn) != CONNECTION_OK) {
        metrics_set(M_DEGRADED_PG, 1);
        log_warn("postgresql connection lost during %s", what);
        drop(db);
        return UMS_EUNAVAILABLE;
    }
    if (state != NULL && strcmp(state, "23505") == 0)
        return UMS_ECONFLICT;
    if (state != NULL && (strncmp(state, "23", 2) == 0 || strncmp(state, "22", 2) == 0))
        return UMS_EINVALID;
    /* 57014: statement_timeout; the server is overloaded or the query too
     * costly now: "unavailable, retry later" rather than a failure. */
    if (state != NULL && strcmp(state, "57014") == 0) {
        log_warn("postgresql statement timeout in %s", what);
        metrics_inc(M_PG_TIMEOUTS);
        return UMS_EUNAVAILABLE;
    }
    /* 57P01 admin shutdown, 08xxx connection exceptions. */
    if (state != NULL && (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0)) {
        drop(db);
        return UMS_EUNAVAILABLE;
    }
    log_error("postgresql error in %s: sqlstate %s: %s", what, state ? state : "?",
              res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(db->conn));
    return UMS_ERR;
}

/* Hands a result to the caller (*out, or cleared), or maps its failure;
 * *lost is set when the connection died. */
static int take_result(struct db *db, PGresult *res, PGresult **out, const char *what, int *lost)
{
    ExecStatusType s = PQresultStatus(res);
    int rc;

    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        *lost = PQstatus(db->conn) != CONNECTION_OK;
        rc = result_rc(db, res, what);
        PQclear(res);
        return rc == UMS_OK ? UMS_ERR : rc;
    }
    if (out != NULL)
        *out = res;
    else
        PQclear(res);
    return UMS_OK;
}

/* One attempt: prepared statement st, or (st < 0) the unprepared sql. */
static int exec_once(struct db *db, PGresult **out, int st, const char *sql, int nparams,
                     const char *const *params, int *lost)
{
    PGresult *res;

    if (st < 0)
        return take_result(db, PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0),
                           out, "query", lost);
    /* The unnamed statement lives for one Parse/Bind/Execute: nothing is
     * left on a server connection a pooler hands to someone else. */
    if (db->unprepared)
        return take_result(
            db, PQexecParams(db->conn, db_stmt_table[st].sql, nparams, NULL, params, NULL, NULL, 0),
            out, db_stmt_table[st].name, lost);
    if (!db->prepared[st]) {
        int rc = take_result(
            db, PQprepare(db->conn, db_stmt_table[st].name, db_stmt_table[st].sql, 0, NULL), NULL,
            db_stmt_table[st].name, lost);
        if (rc != UMS_OK)
            return rc;
        db->prepared[st] = 1;
    }
    res = PQexecPrepared(db->conn, db_stmt_table[st].name, nparams, params, NULL, NULL, 0);
    return take_result(db, res, out, db_stmt_table[st].name, lost);
}

static int run(struct db *db, PGresult **out, int st, const char *sql, int nparams,
               const char *const *params)
{
    int rc, lost = 0, in_tx = db->in_tx;

    if (out != NULL)
        *out = NULL;
    rc = db_ensure(db);
    if (rc != UMS_OK)
        return rc;
    rc = exec_once(db, out, st, sql, nparams, params, &lost);
    /* A connection that died while idle (server restart) is retried once at
     * once; inside a transaction the work is lost and the caller must fail. */
    if (rc == UMS_EUNAVAILABLE && lost && !in_tx) {
        lost = 0;
        if (connect_now(db) == UMS_OK)
            rc = exec_once(db, out, st, sql, nparams, params, &lost);
    }
    return rc;
}

int db_exec(struct db *db, PGresult **out, enum db_stmt st, int nparams, const char *const *params)
{
    if (out != NULL)
        *out = NULL;
    if (st < 0 || st >= STMT__MAX || nparams != db_stmt_table[st].nparams)
        return UMS_ERR;
    return run(db, out, (int)st, NULL, nparams, params);
}

int db_exec_sql(struct db *db, PGresult **out, const char *sql, int nparams,
                const char *const *params)
{
    return run(db, out, -1, sql, nparams, params);
}

static int simple(struct db *db, const char *sql, char *err, size_t errlen)
{
    PGresult *res;
    int rc = db_ensure(db);

    if (rc != UMS_OK)
        return rc;
    res = PQexec(db->conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
        if (err != NULL && errlen > 0) {
            const char *m = res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(db->conn);
            snprintf(err, errlen, "%.*s", (int)strcspn(m, "\n"), m);
        }
        rc = result_rc(db, res, "script");
        PQclear(res);
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
    db->in_tx = 0;
    return simple(db, "COMMIT", NULL, 0);
}

int db_rollback(struct db *db)
{
    db->in_tx = 0;
    if (db->conn == NULL)
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
    if (db == NULL)
        return;
    drop(db);
    free(db->conninfo);
    if (db->password != NULL) {
        explicit_bzero(db->password, strlen(db->password));
        free(db->password);
    }
    free(db);
}
