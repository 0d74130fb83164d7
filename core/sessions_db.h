/* sessions_db.h - what sessions.c offers the rest of core in terms of query
 * results (private to core/: nothing outside core sees libpq). */
#ifndef UMS_SESSIONS_DB_H
#define UMS_SESSIONS_DB_H

#include "db.h"

struct ums_ctx;

/* Marks the sessions whose ids are in column 0 of `revoked` as revoked in
 * the Redis cache (after the commit that revoked or deleted them); when
 * Redis refuses, they are noted as faults in PostgreSQL, so every worker
 * checks them there (see sessions.c). */
void sessions_cache_revoked(struct ums_ctx *c, PGresult *revoked);

#endif
