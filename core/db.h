/* db.h - one libpq connection per process, a table of prepared statements,
 * transactions and reconnection. Nothing outside core/ sees SQL text. */
#ifndef UMS_DB_H
#define UMS_DB_H

#include <libpq-fe.h>

/* Every statement ums runs, prepared lazily once per connection (db_stmt.c). */
enum db_stmt {
    STMT_PING,
    STMT_MIGRATION_LIST,
    STMT_MIGRATION_RECORD,
    STMT__MAX
};

struct db;

/*
 * Creates a handle for `conninfo` (a libpq key/value string or URI) and tries
 * to connect. A failed first connection is not an error: the handle reconnects
 * on use. `password` may be NULL or "". Returns 0, or UMS_ERR out of memory.
 */
int db_open(struct db **out, const char *conninfo, const char *password, int connect_timeout,
            int statement_timeout_ms);

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
int db_exec(struct db *db, PGresult **out, enum db_stmt st, int nparams,
            const char *const *params);

/* Runs trusted SQL text with no parameters (migration files only). */
int db_exec_script(struct db *db, const char *sql, char *err, size_t errlen);

int db_begin(struct db *db);
int db_commit(struct db *db);
int db_rollback(struct db *db);

/* SELECT 1: 0 or UMS_EUNAVAILABLE. */
int db_ping(struct db *db);

void db_close(struct db *db);

#endif
