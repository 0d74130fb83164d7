/* db_conn.h - what db.c and db_replica.c share (private to them): one
 * server's connection, and the handle that holds the primary's and the
 * replicas'. */
#ifndef UMS_DB_CONN_H
#define UMS_DB_CONN_H

#include <time.h>

#include "db.h"

/* A replica's health, as the last check found it. */
enum replica_state {
    REPLICA_UNKNOWN, /* not checked yet: checked on first use */
    REPLICA_OK,
    REPLICA_LAGGING, /* replay lag over [database] max_replica_lag */
    REPLICA_DOWN,    /* cannot connect, or the connection failed */
    REPLICA_PRIMARY  /* not in recovery: a promoted or mistaken server */
};

struct db_conn {
    PGconn *conn;
    char *conninfo;
    char label[160]; /* host:port/dbname for logs: never the password */
    unsigned char prepared[STMT__MAX];
    struct timespec last_try;
    int down_logged;
    int connected; /* once: a later connection is a reconnect */
    int replica;
    /* replicas only */
    enum replica_state state;
    struct timespec checked; /* when the lag was last measured */
    double lag;              /* seconds, at that check */
};

struct db {
    struct db_conn primary;
    struct db_conn replicas[DB_REPLICAS_MAX];
    int nreplicas;
    char *password;
    int connect_timeout;
    int statement_timeout_ms;
    int unprepared; /* every statement as PQexecParams: PgBouncer's transaction pooling */
    int in_tx;
    double max_lag; /* seconds */
    unsigned next;  /* the replica tried first: round robin */
    /* The request in progress (db_request_begin). */
    int wrote;           /* a statement that may write ran on the primary */
    int pinned;          /* every read of this request goes to the primary */
    int asked;           /* fresh() was asked */
    int last_on_replica; /* the last db_exec/db_read_sql was served by a replica */
    int (*fresh)(void *arg);
    void *fresh_arg;
};

/* Seconds since t (CLOCK_MONOTONIC). */
double db_since(const struct timespec *t);

/* Connects c; with deadline_ms > 0 without blocking longer than that (a
 * replica must not hold a request up). UMS_OK or UMS_EUNAVAILABLE; why
 * (may be NULL) gets libpq's first line. */
int db_conn_connect(struct db *db, struct db_conn *c, int deadline_ms, char *why, size_t whylen);
void db_conn_drop(struct db_conn *c);

/* One attempt of statement st (or, st < 0, the unprepared sql) on c.
 * Returns as db_exec; *lost is set when the connection died. */
int db_conn_exec(struct db *db, struct db_conn *c, PGresult **out, int st, const char *sql,
                 int nparams, const char *const *params, int *lost);

/* db_replica.c: a lag-tolerant read on a usable replica. UMS_OK (*out
 * set), UMS_EINVALID or UMS_ECONFLICT (the request's own fault, as the
 * primary would answer), or UMS_EUNAVAILABLE: no replica could serve it,
 * ask the primary. */
int db_replica_read(struct db *db, PGresult **out, int st, const char *sql, int nparams,
                    const char *const *params);

#endif
