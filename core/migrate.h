/* migrate.h - numbered SQL migrations with checksums. */
#ifndef UMS_MIGRATE_H
#define UMS_MIGRATE_H

#include <stddef.h>

#include "db.h"

/*
 * Applies, in order, every file NNN_name.sql in `dir` not yet recorded in
 * schema_migrations, each in its own transaction with its SHA-256 recorded.
 * Holds an advisory lock so two migrators never interleave. Returns 0 (also
 * when nothing was pending), UMS_ECONFLICT when an applied file changed or
 * disappeared, UMS_EINVALID for a bad file, UMS_EUNAVAILABLE without a
 * database; err says which file and why. *applied counts the files applied.
 */
int migrate_run(struct db *db, const char *dir, int *applied, char *err, size_t errlen);

/* How many migrations of dir are applied and how many are not (umsctl
 * status). UMS_OK, UMS_EINVALID (dir unreadable, err set) or
 * UMS_EUNAVAILABLE. */
int migrate_status(struct db *db, const char *dir, int *applied, int *pending, char *err,
                   size_t errlen);

#endif
