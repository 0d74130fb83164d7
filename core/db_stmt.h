/* db_stmt.h - the statement table's row type (private to core/). */
#ifndef UMS_DB_STMT_H
#define UMS_DB_STMT_H

#include "db.h"

struct db_stmt_def {
    const char *name;
    const char *sql;
    int nparams;
    enum db_mode mode; /* DB_WRITE unless the entry says otherwise */
};

extern const struct db_stmt_def db_stmt_table[STMT__MAX];

#endif
