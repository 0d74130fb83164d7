/* test_db.c - the PostgreSQL handle (core/db.c) against the stack's server:
 * what one request leaves on its connection does not reach the next. Run by
 * scripts/check after scripts/up, with .stack/env in the environment. */
#define CTEST_MAIN
#include "../ctest.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/db.h"
#include "../../util/metrics.h"
#include "../../util/ums.h"
#include "stack.h"

static struct db *open_db(void)
{
    struct db *db = NULL;

    if (db_open(&db, env_need("DATABASE_URL"), NULL, 5, 5000) != 0)
        return NULL;
    return db;
}

/* The first column of the first row of a one-row query, as a number; -1. */
static long one(struct db *db, const char *sql)
{
    PGresult *res = NULL;
    long v = -1;

    if (db_exec_sql(db, &res, sql, 0, NULL) == UMS_OK && PQntuples(res) == 1)
        v = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return v;
}

CTEST(request, a_transaction_left_open_is_rolled_back_before_the_next)
{
    struct db *db = open_db();
    uint64_t before = metrics_slots[M_PG_TX_LEAKED];

    ASSERT_NOT_NULL(db);
    db_request_begin(db);
    ASSERT_EQ(db_begin(db), UMS_OK);
    ASSERT_EQ(db_exec_sql(db, NULL, "CREATE TEMP TABLE leaked_probe (x int)", 0, NULL), UMS_OK);
    ASSERT_EQ(one(db, "SELECT count(*) FROM pg_class WHERE relname = 'leaked_probe'"), 1);
    /* The request ends without COMMIT or ROLLBACK; the next one begins. */
    db_request_begin(db);
    ASSERT_EQ(metrics_slots[M_PG_TX_LEAKED], before + 1);
    /* The table went with its transaction, and the next statement is a
     * transaction of its own (the table's creation gave the leaked one an
     * id; a new one has none). */
    ASSERT_EQ(one(db, "SELECT count(*) FROM pg_class WHERE relname = 'leaked_probe'"), 0);
    ASSERT_EQ(one(db, "SELECT (pg_current_xact_id_if_assigned() IS NULL)::int"), 1);
    db_close(db);
}

CTEST(request, an_aborted_transaction_does_not_fail_the_next)
{
    struct db *db = open_db();
    uint64_t before = metrics_slots[M_PG_TX_LEAKED];

    ASSERT_NOT_NULL(db);
    db_request_begin(db);
    ASSERT_EQ(db_begin(db), UMS_OK);
    ASSERT_TRUE(db_exec_sql(db, NULL, "SELECT 1 / 0", 0, NULL) != UMS_OK);
    /* Aborted: everything but a rollback fails now... */
    ASSERT_EQ(one(db, "SELECT 1"), -1);
    /* ...until the next request begins. */
    db_request_begin(db);
    ASSERT_EQ(metrics_slots[M_PG_TX_LEAKED], before + 1);
    ASSERT_EQ(one(db, "SELECT 41 + 1"), 42);
    db_close(db);
}

CTEST(request, a_request_that_ended_its_transaction_is_not_counted)
{
    struct db *db = open_db();
    uint64_t before = metrics_slots[M_PG_TX_LEAKED];

    ASSERT_NOT_NULL(db);
    db_request_begin(db);
    ASSERT_EQ(db_begin(db), UMS_OK);
    ASSERT_EQ(one(db, "SELECT 1"), 1);
    ASSERT_EQ(db_commit(db), UMS_OK);
    db_request_begin(db);
    ASSERT_EQ(one(db, "SELECT 2"), 2);
    db_request_begin(db);
    ASSERT_EQ(metrics_slots[M_PG_TX_LEAKED], before);
    db_close(db);
}

CTEST(commit, of_an_aborted_transaction_is_a_failure)
{
    struct db *db = open_db();

    ASSERT_NOT_NULL(db);
    db_request_begin(db);
    ASSERT_EQ(db_begin(db), UMS_OK);
    ASSERT_EQ(db_exec_sql(db, NULL, "CREATE TEMP TABLE kept_probe (x int)", 0, NULL), UMS_OK);
    ASSERT_TRUE(db_exec_sql(db, NULL, "SELECT 1 / 0", 0, NULL) != UMS_OK);
    /* PostgreSQL answers this COMMIT with ROLLBACK: nothing was kept. */
    ASSERT_TRUE(db_commit(db) != UMS_OK);
    ASSERT_EQ(one(db, "SELECT count(*) FROM pg_class WHERE relname = 'kept_probe'"), 0);
    /* A good one still commits. */
    ASSERT_EQ(db_begin(db), UMS_OK);
    ASSERT_EQ(db_exec_sql(db, NULL, "CREATE TEMP TABLE kept_probe (x int)", 0, NULL), UMS_OK);
    ASSERT_EQ(db_commit(db), UMS_OK);
    ASSERT_EQ(one(db, "SELECT count(*) FROM pg_class WHERE relname = 'kept_probe'"), 1);
    db_close(db);
}
