/* migrate.c - apply sql/NNN_*.sql in order, each once, each in a transaction. */
#include "migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/crypto.h"
#include "../util/file.h"
#include "../util/log.h"
#include "../util/ums.h"

#define MIGRATION_MAX_BYTES (4 * 1024 * 1024)
#define MIGRATIONS_MAX      1000
/* Any constant shared by all ums migrators; taken with pg_advisory_lock. */
#define LOCK_SQL   "SELECT pg_advisory_lock(7207551001)"
#define UNLOCK_SQL "SELECT pg_advisory_unlock(7207551001)"

static const char bootstrap_sql[] = "SET client_min_messages = warning; "
                                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                    " version text PRIMARY KEY,"
                                    " checksum text NOT NULL,"
                                    " applied_at timestamptz NOT NULL DEFAULT now())";

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* A migration file name: three or more digits, '_', name, ".sql". */
static int is_migration(const char *name)
{
    size_t n = strlen(name), d = 0;

    while (isdigit((unsigned char)name[d]))
        d++;
    return d >= 3 && name[d] == '_' && n > d + 5 && strcmp(name + n - 4, ".sql") == 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_file(const char *path, char **out, size_t *outlen)
{
    int rc = file_read(path, MIGRATION_MAX_BYTES, out, outlen);

    if (rc == UMS_OK && strlen(*out) != *outlen) {
        free(*out);
        *out = NULL;
        return UMS_EINVALID;
    }
    return rc;
}

/* The version of a file is its name without ".sql". */
static void version_of(char *out, size_t outlen, const char *name)
{
    snprintf(out, outlen, "%.*s", (int)(strlen(name) - 4), name);
}

/* With dry set, only checks that an applied file is unchanged. */
static int apply_one(struct db *db, const char *dir, const char *name, PGresult *done, int dry,
                     int *applied, char *err, size_t errlen)
{
    char path[4096], version[256], sum[65];
    char *sql = NULL;
    size_t len = 0;
    int rc;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    version_of(version, sizeof(version), name);
    rc = read_file(path, &sql, &len);
    if (rc != UMS_OK) {
        errf(err, errlen, "%s: unreadable, larger than 4 MiB, or contains a NUL byte", path);
        return rc;
    }
    crypto_sha256_hex(sum, sql, len);
    for (int i = 0; i < PQntuples(done); i++) {
        if (strcmp(PQgetvalue(done, i, 0), version) != 0)
            continue;
        if (strcmp(PQgetvalue(done, i, 1), sum) != 0) {
            errf(err, errlen,
                 "%s was changed after it was applied (recorded sha256 %.12s..., file %.12s...);"
                 " add a new migration instead",
                 name, PQgetvalue(done, i, 1), sum);
            rc = UMS_ECONFLICT;
        }
        free(sql);
        return rc;
    }
    if (dry) {
        free(sql);
        return UMS_OK;
    }
    rc = db_begin(db);
    if (rc == UMS_OK)
        rc = db_exec_script(db, sql, err, errlen);
    if (rc == UMS_OK) {
        const char *params[2] = {version, sum};
        rc = db_exec(db, NULL, STMT_MIGRATION_RECORD, 2, params);
    }
    if (rc == UMS_OK)
        rc = db_commit(db);
    else {
        char why[512];
        snprintf(why, sizeof(why), "%s", err);
        db_rollback(db);
        errf(err, errlen, "%s: %s", name, why[0] ? why : ums_rc_name(rc));
        rc = rc == UMS_EUNAVAILABLE ? rc : UMS_EINVALID;
    }
    free(sql);
    if (rc == UMS_OK) {
        log_info("migration %s applied", version);
        (*applied)++;
    }
    return rc;
}

int migrate_run(struct db *db, const char *dir, int *applied, char *err, size_t errlen)
{
    DIR *d = NULL;
    struct dirent *e;
    char *names[MIGRATIONS_MAX];
    size_t n = 0;
    PGresult *done = NULL;
    int rc, locked = 0;

    *applied = 0;
    err[0] = '\0';
    d = opendir(dir);
    if (d == NULL) {
        errf(err, errlen, "%s: %s", dir, strerror(errno));
        return UMS_EINVALID;
    }
    while ((e = readdir(d)) != NULL) {
        if (!is_migration(e->d_name))
            continue;
        if (n == MIGRATIONS_MAX || (names[n] = strdup(e->d_name)) == NULL) {
            rc = UMS_ERR;
            errf(err, errlen, "too many migrations or out of memory");
            goto out;
        }
        n++;
    }
    qsort(names, n, sizeof(names[0]), cmp_names);
    for (size_t i = 1; i < n; i++) {
        if (strtoul(names[i], NULL, 10) == strtoul(names[i - 1], NULL, 10)) {
            errf(err, errlen, "%s and %s share a number", names[i - 1], names[i]);
            rc = UMS_EINVALID;
            goto out;
        }
    }
    rc = db_exec_script(db, LOCK_SQL, err, errlen);
    if (rc != UMS_OK)
        goto out;
    locked = 1;
    rc = db_exec_script(db, bootstrap_sql, err, errlen);
    if (rc == UMS_OK)
        rc = db_exec(db, &done, STMT_MIGRATION_LIST, 0, NULL);
    if (rc != UMS_OK)
        goto out;
    /* Every recorded version must still have its file. */
    for (int r = 0; r < PQntuples(done); r++) {
        char version[256];
        size_t i;
        for (i = 0; i < n; i++) {
            version_of(version, sizeof(version), names[i]);
            if (strcmp(version, PQgetvalue(done, r, 0)) == 0)
                break;
        }
        if (i == n) {
            errf(err, errlen, "applied migration %s has no file in %s", PQgetvalue(done, r, 0),
                 dir);
            rc = UMS_ECONFLICT;
            goto out;
        }
    }
    for (size_t i = 0; i < n && rc == UMS_OK; i++)
        rc = apply_one(db, dir, names[i], done, 1, applied, err, errlen);
    for (size_t i = 0; i < n && rc == UMS_OK; i++)
        rc = apply_one(db, dir, names[i], done, 0, applied, err, errlen);
out:
    if (locked)
        db_exec_script(db, UNLOCK_SQL, NULL, 0);
    if (done != NULL)
        PQclear(done);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    if (d != NULL)
        closedir(d);
    return rc;
}

int migrate_status(struct db *db, const char *dir, int *applied, int *pending, char *err,
                   size_t errlen)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    PGresult *done = NULL;
    int rc;

    *applied = *pending = 0;
    err[0] = '\0';
    if (d == NULL) {
        errf(err, errlen, "%s: %s", dir, strerror(errno));
        return UMS_EINVALID;
    }
    rc = db_exec(db, &done, STMT_MIGRATION_LIST, 0, NULL);
    if (rc == UMS_EUNAVAILABLE) {
        closedir(d);
        return rc;
    }
    /* No schema_migrations yet: nothing is applied. */
    while ((e = readdir(d)) != NULL) {
        char version[256];
        int found = 0;
        if (!is_migration(e->d_name))
            continue;
        version_of(version, sizeof(version), e->d_name);
        for (int r = 0; rc == UMS_OK && r < PQntuples(done); r++)
            found |= strcmp(version, PQgetvalue(done, r, 0)) == 0;
        if (found)
            (*applied)++;
        else
            (*pending)++;
    }
    closedir(d);
    PQclear(done);
    return UMS_OK;
}
