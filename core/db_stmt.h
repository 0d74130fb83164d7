/* db_stmt.h - the statement table's row type (private to core/). */
#ifndef UMS_DB_STMT_H
#define UMS_DB_STMT_H

#include "db.h"

struct db_stmt_def {
    const char *name;
    const char *sql;
    int nparams;
};

extern const struct db_stmt_def db_stmt_table[STMT__MAX];

#endif
