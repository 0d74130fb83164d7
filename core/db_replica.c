/* db_replica.c - the read replicas: whether one may serve a read that
 * tolerates lag, and serving it there. A replica that is down, lagging or
 * not a standby is skipped (one log line and one metric when that
 * changes) and looked at again a second later; no read fails because a
 * replica did: db.c sends it to the primary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_conn.h"
#include "../util/log.h"
#include "../util/metrics.h"
#include "../util/ums.h"

/* A replica that does not answer holds a request up at most this long. */
#define REPLICA_CONNECT_MS 1000
/* Health is measured at most once a second per process and replica. */
#define REPLICA_CHECK_S 1.0

static void update_degraded(const struct db *db)
{
    int i, bad = 0;

    for (i = 0; i < db->nreplicas; i++)
        bad |= db->replicas[i].state != REPLICA_OK && db->replicas[i].state != REPLICA_UNKNOWN;
    metrics_set(M_DEGRADED_REPLICA, bad);
}

static void set_state(struct db *db, struct db_conn *c, enum replica_state st, const char *why)
{
    if (st == REPLICA_OK && c->state != REPLICA_OK)
        log_info("postgresql replica %s in use (replay lag %.3f s)", c->label, c->lag);
    if (st != REPLICA_OK && st != c->state) {
        log_warn("postgresql replica %s skipped: %s; its reads go to the primary", c->label, why);
        metrics_inc(st == REPLICA_LAGGING   ? M_PG_REPLICA_SKIP_LAG
                    : st == REPLICA_PRIMARY ? M_PG_REPLICA_SKIP_PRIMARY
                                            : M_PG_REPLICA_SKIP_DOWN);
    }
    c->state = st;
    clock_gettime(CLOCK_MONOTONIC, &c->checked);
    update_degraded(db);
}

/* Measures c's replay lag against the primary's WAL position now. */
static void check(struct db *db, struct db_conn *c)
{
    char lsn[64], why[192];
    const char *p[1] = {lsn};
    PGresult *res = NULL;
    int lost = 0, in_recovery;

    clock_gettime(CLOCK_MONOTONIC, &c->checked);
    if (db_exec(db, &res, STMT_WAL_LSN, 0, NULL) != UMS_OK) {
        /* The primary is in trouble: the read goes there and fails there. */
        c->state = REPLICA_UNKNOWN;
        return;
    }
    snprintf(lsn, sizeof(lsn), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    res = NULL;
    if (db_conn_exec(db, c, &res, STMT_REPLICA_LAG, NULL, 1, p, &lost) != UMS_OK) {
        set_state(db, c, REPLICA_DOWN,
                  lost ? "the connection was lost" : "it could not say its replay lag");
        db_conn_drop(c);
        return;
    }
    in_recovery = PQgetvalue(res, 0, 0)[0] == 't';
    c->lag = strtod(PQgetvalue(res, 0, 1), NULL);
    PQclear(res);
    if (!in_recovery) {
        set_state(db, c, REPLICA_PRIMARY, "it is not a standby (pg_is_in_recovery() is false)");
    } else if (c->lag > db->max_lag) {
        snprintf(why, sizeof(why), "replay lag %.1f s is over max_replica_lag %.0f s", c->lag,
                 db->max_lag);
        set_state(db, c, REPLICA_LAGGING, why);
    } else {
        set_state(db, c, REPLICA_OK, NULL);
    }
}

/* Whether c may serve a read now: connected (within REPLICA_CONNECT_MS,
 * at most one attempt a second) and, as last measured, caught up. */
static int usable(struct db *db, struct db_conn *c)
{
    char why[512];

    if (c->conn == NULL || PQstatus(c->conn) != CONNECTION_OK) {
        if (c->last_try.tv_sec != 0 && db_since(&c->last_try) < REPLICA_CHECK_S)
            return 0;
        if (db_conn_connect(db, c, REPLICA_CONNECT_MS, why, sizeof(why)) != UMS_OK) {
            set_state(db, c, REPLICA_DOWN, why);
            return 0;
        }
        c->checked.tv_sec = 0; /* a new connection: measure before use */
    }
    if (c->state == REPLICA_UNKNOWN || c->checked.tv_sec == 0 ||
        db_since(&c->checked) >= REPLICA_CHECK_S)
        check(db, c);
    return c->state == REPLICA_OK;
}

int db_replica_read(struct db *db, PGresult **out, int st, const char *sql, int nparams,
                    const char *const *params)
{
    int i, n = db->nreplicas;

    for (i = 0; i < n; i++) {
        int k = (int)((db->next + (unsigned)i) % (unsigned)n), lost = 0, rc;
        struct db_conn *c = &db->replicas[k];
        if (!usable(db, c))
            continue;
        rc = db_conn_exec(db, c, out, st, sql, nparams, params, &lost);
        if (rc == UMS_OK) {
            db->next = (unsigned)(k + 1);
            metrics_inc(M_PG_READS_REPLICA);
            return UMS_OK;
        }
        /* A bad value is the request's: the primary would say the same. */
        if (rc == UMS_EINVALID || rc == UMS_ECONFLICT)
            return rc;
        /* Gone, or a recovery conflict or timeout: out of use until the
         * next check, a second from now. */
        set_state(db, c, REPLICA_DOWN, lost ? "the connection was lost" : "a read failed there");
    }
    return UMS_EUNAVAILABLE;
}

int db_replica_add_list(struct db *db, const char *list, char *err, size_t errlen)
{
    char url[2048], why[256];
    const char *p = list;
    int n = 0;

    if (*p == '\0')
        return UMS_OK;
    for (;;) {
        size_t len = strcspn(p, ","), b = 0, e = len;
        while (b < e && (p[b] == ' ' || p[b] == '\t'))
            b++;
        while (e > b && (p[e - 1] == ' ' || p[e - 1] == '\t'))
            e--;
        if (e == b || e - b >= sizeof(url)) {
            snprintf(err, errlen, "[database] replica_urls: entry %d is %s", n + 1,
                     e == b ? "empty" : "longer than 2047 bytes");
            return UMS_EINVALID;
        }
        memcpy(url, p + b, e - b);
        url[e - b] = '\0';
        if (++n > DB_REPLICAS_MAX) {
            snprintf(err, errlen, "[database] replica_urls: more than %d replicas",
                     DB_REPLICAS_MAX);
            return UMS_EINVALID;
        }
        if (db_conninfo_check(url, why, sizeof(why)) != UMS_OK) {
            /* libpq's reason, never the URL: it may carry a password. */
            snprintf(err, errlen, "[database] replica_urls: entry %d: %s", n, why);
            return UMS_EINVALID;
        }
        if (db != NULL && db_add_replica(db, url) != UMS_OK) {
            snprintf(err, errlen, "out of memory");
            explicit_bzero(url, sizeof(url));
            return UMS_ERR;
        }
        explicit_bzero(url, sizeof(url));
        p += len;
        if (*p != ',')
            return UMS_OK;
        p++; /* a comma: another entry follows, if only an empty one */
    }
}
