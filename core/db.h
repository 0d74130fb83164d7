/* db.h - one libpq connection per process to the primary (and one to each
 * read replica, made on first use), a table of prepared statements,
 * transactions and reconnection. Nothing outside core/ sees SQL text. */
#ifndef UMS_DB_H
#define UMS_DB_H

#include <libpq-fe.h>

/* Every statement ums runs, prepared lazily once per connection (db_stmt.c). */
enum db_stmt {
    STMT_PING,
    STMT_WAL_LSN,
    STMT_REPLICA_LAG,
    STMT_MIGRATION_LIST,
    STMT_MIGRATION_RECORD,
    /* users.c */
    STMT_USER_INSERT,
    STMT_PROFILE_INSERT,
    STMT_IDENTITY_INSERT_EMAIL,
    STMT_LOGIN_LOOKUP,
    STMT_SIGN_IN,
    STMT_USER_FOR_TOKEN,
    STMT_USER_MAY_SIGN_IN,
    STMT_USER_LOOKALIKE_JSON,
    STMT_USER_SIGNED_IN,
    STMT_USER_SET_PASSWORD,
    STMT_USER_MERGE_METADATA,
    STMT_USER_LIST_PAGE,
    STMT_USER_COUNT,
    STMT_USER_ADMIN_INSERT,
    STMT_USER_DELETE,
    STMT_USER_SET_EMAIL,
    STMT_USER_SET_CONFIRMED,
    STMT_USER_MERGE_APP_METADATA,
    STMT_USER_EXISTS,
    STMT_USER_SET_ROLE,
    /* sessions.c */
    STMT_SESS_INSERT,
    STMT_RT_INSERT,
    STMT_RT_FIND,
    STMT_SESS_LOCK,
    STMT_RT_LOCK,
    STMT_RT_LIVE_CHILD,
    STMT_RT_REVOKE,
    STMT_SESS_TOUCH,
    STMT_SESS_LIVE,
    STMT_SESS_REVOKE_ONE,
    STMT_SESS_REVOKE_ALL,
    STMT_SESS_REVOKE_OTHERS,
    STMT_SESS_LIST_LIVE,
    STMT_SESS_FAULT_ADD,
    STMT_SESS_PROOF_AGE,
    STMT_SESS_REAUTHENTICATED,
    STMT_SESS_FAULTS_XMIN,
    STMT_SESS_FAULTS_SINCE,
    STMT_SESS_FAULTS_PRUNE,
    /* lockout.c */
    STMT_LOCK_FAIL,
    STMT_LOCK_CLEAR,
    /* verify.c */
    STMT_USER_FOR_RECOVERY,
    STMT_USER_RECOVERY_SENT,
    STMT_USER_CONFIRMATION_SENT,
    STMT_OTP_CONSUME,
    STMT_USER_CONFIRM_EMAIL,
    STMT_USER_APPLY_EMAIL_CHANGE,
    STMT_USER_REQUEST_EMAIL_CHANGE,
    /* otp.c */
    STMT_OTP_VOID,
    STMT_OTP_INSERT,
    STMT_OTP_LIVE_CODES,
    STMT_OTP_USE,
    STMT_OTP_MISS,
    /* outbox.c, audit.c */
    STMT_OUTBOX_INSERT,
    STMT_OUTBOX_INSERT_SECRET,
    STMT_OUTBOX_SECRETS_PRUNE,
    STMT_OUTBOX_PUBLISHED,
    STMT_AUDIT_INSERT,
    STMT_OUTBOX_UNPUBLISHED,
    STMT_DELIVERY_STATES,
    STMT_DELIVERY_RECORDS,
    STMT_OUTBOX_PRUNE,
    STMT_OUTBOX_STATUS,
    STMT_DELIVERY_RESET,
    STMT_NOTIFY_TARGETS,
    STMT_INAPP_MANY,
    STMT_DEVICES_OF,
    STMT_DEVICE_GONE,
    /* users.c, profile.c: the user service */
    STMT_API_USER_GET,
    STMT_API_SET_NAME,
    STMT_API_SET_ROLE,
    STMT_API_SET_STATUS,
    STMT_API_SET_BAN,
    STMT_API_DELETE,
    STMT_API_UNLOCK,
    STMT_API_SESSIONS,
    STMT_API_SESSION_REVOKE,
    STMT_PROFILE_UPSERT,
    /* notify.c */
    STMT_NOTIFY_PREFS,
    STMT_NOTIFY_PREF_SET,
    STMT_NOTIFY_PREF_CLEAR,
    STMT_NOTIFY_READ_ONE,
    STMT_NOTIFY_READ_ALL,
    STMT_DEVICE_UPSERT,
    STMT_DEVICE_DELETE,
    STMT_ADMIN_MESSAGE,
    /* oauth.c, oauth_link.c */
    STMT_OAUTH_FLOW_INSERT,
    STMT_OAUTH_FLOW_TAKE,
    STMT_OAUTH_FLOW_CODE,
    STMT_OAUTH_FLOW_DELETE,
    STMT_OAUTH_CODE_LOOK,
    STMT_OAUTH_CODE_TAKE,
    STMT_IDENTITY_FIND,
    STMT_IDENTITY_TOUCH,
    STMT_IDENTITY_INSERT,
    STMT_IDENTITIES_OF_USER,
    STMT_IDENTITY_DELETE,
    STMT_USER_BY_EMAIL_LOCK,
    STMT_USER_STATE_LOCK,
    STMT_USER_INSERT_OAUTH,
    STMT_USER_TAKEOVER,
    STMT_USER_FILL_METADATA,
    STMT_USER_DROP_PASSWORD,
    STMT__MAX
};

/* How a statement may be routed (db_stmt_table's mode). */
enum db_mode {
    DB_WRITE = 0, /* the default: may write; the primary, and the request has written */
    DB_READ,      /* reads what must be current (sessions, sign-in): the primary */
    DB_LAGGED     /* a read that tolerates replica lag: a replica when one is usable */
};

#define DB_REPLICAS_MAX 8

struct db;

/*
 * Creates a handle for `conninfo` (a libpq key/value string or URI) and tries
 * to connect. A failed first connection is not an error: the handle reconnects
 * on use. `password` may be NULL or "". Returns 0, or UMS_ERR out of memory.
 */
int db_open(struct db **out, const char *conninfo, const char *password, int connect_timeout,
            int statement_timeout_ms);

/* Named prepared statements (the default), or every statement of the
 * table sent as an unnamed one (PQexecParams): behind PgBouncer in
 * transaction pooling, whose server connections change between
 * transactions ([database] prepared = false). */
void db_set_prepared(struct db *db, int prepared);

/* Checks a connection string's syntax: UMS_OK, or UMS_EINVALID with err
 * set to libpq's reason. */
int db_conninfo_check(const char *conninfo, char *err, size_t errlen);

/*
 * Adds a read replica (a libpq URI or key/value string; the password is the
 * primary's), connected on the first read that may use it. A replica is
 * used while it answers and its replay lag, measured at most once a second,
 * is at most db_set_max_lag's bound (default 2 s); otherwise it is skipped,
 * with a log line and a metric, and tried again a second later. UMS_OK,
 * UMS_EINVALID past DB_REPLICAS_MAX, UMS_ERR out of memory.
 */
int db_add_replica(struct db *db, const char *conninfo);
/* Every entry of a comma-separated list ([database] replica_urls), each
 * checked first; with db NULL only checked. UMS_OK, or UMS_EINVALID with
 * err naming the entry by its number (a URL may hold a password). */
int db_replica_add_list(struct db *db, const char *list, char *err, size_t errlen);
void db_set_max_lag(struct db *db, double seconds);
int db_replicas(const struct db *db);

/*
 * Read-your-writes across requests. db_request_begin starts a request:
 * from then on, a DB_WRITE statement or a transaction marks it as having
 * written (db_request_wrote), and every later read of it goes to the
 * primary. Before its first lag-tolerant read, fresh(arg) is asked
 * whether the caller wrote recently (in an earlier request); non-zero
 * sends its reads to the primary too.
 */
void db_set_freshness(struct db *db, int (*fresh)(void *arg), void *arg);
void db_request_begin(struct db *db);
int db_request_wrote(const struct db *db);
/* Whether the last statement was served by a replica (what it read may be
 * up to max_replica_lag old: cache it briefly, if at all). */
int db_last_on_replica(const struct db *db);

/* Makes sure the connection is usable, reconnecting at most once a second.
 * Returns 0 or UMS_EUNAVAILABLE. */
int db_ensure(struct db *db);

/*
 * Runs prepared statement `st` with text parameters (NULL is SQL NULL). On
 * success *out (may be NULL when the caller wants no rows) holds the result,
 * freed by the caller with PQclear. Returns 0, UMS_ECONFLICT for a unique
 * violation, UMS_EINVALID for other constraint or data errors,
 * UMS_EUNAVAILABLE when the server is gone, UMS_ERR otherwise (logged).
 */
int db_exec(struct db *db, PGresult **out, enum db_stmt st, int nparams, const char *const *params);

/*
 * Runs a statement that is not in the table, planned for its values each
 * time: only for queries composed in core/ from constant fragments (the user
 * search, whose filters are optional). Every value is a $n parameter.
 * Returns as db_exec.
 */
int db_exec_sql(struct db *db, PGresult **out, const char *sql, int nparams,
                const char *const *params);

/* db_exec_sql for a read that tolerates replica lag (DB_LAGGED). */
int db_read_sql(struct db *db, PGresult **out, const char *sql, int nparams,
                const char *const *params);

/* Runs trusted SQL text with no parameters (migration files only). */
int db_exec_script(struct db *db, const char *sql, char *err, size_t errlen);

int db_begin(struct db *db);
int db_commit(struct db *db);
int db_rollback(struct db *db);

/*
 * The tail of every transaction: commits when rc is UMS_OK, rolls back
 * otherwise. Returns rc, or the commit's failure.
 */
int db_end(struct db *db, int rc);

/*
 * Column `col` of row `row` as a number. The statement's SQL type says the
 * column is an integer; NULL, or text that is not one, reads as 0.
 */
long long db_ll(const PGresult *res, int row, int col);
int db_int(const PGresult *res, int row, int col);

/* SELECT 1: 0 or UMS_EUNAVAILABLE. */
int db_ping(struct db *db);

void db_close(struct db *db);

#endif
