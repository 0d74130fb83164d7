/* db_stmt.c - the statement table (kcaldav's enum sqlstmt + parallel array). */
#include "db.h"
#include "db_stmt.h"

const struct db_stmt_def db_stmts[STMT__MAX] = {
    [STMT_PING] = {"ping", "SELECT 1", 0},
    [STMT_MIGRATION_LIST] = {"migration_list",
                             "SELECT version, checksum FROM schema_migrations ORDER BY version", 0},
    [STMT_MIGRATION_RECORD] = {"migration_record",
                               "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)",
                               2},
};
