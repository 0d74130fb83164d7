/* ryw.h - read-your-writes with read replicas, across requests: a caller
 * (a session, or the service key) whose request wrote is sent to the
 * primary for as long as a replica in use may not have that write yet
 * ([database] max_replica_lag plus the second between lag checks). The
 * mark is a Redis key, so it holds on every worker and every host. */
#ifndef UMS_RYW_H
#define UMS_RYW_H

#include "auth.h"
#include "ctx.h"

/* Marks that who wrote now. Best effort: when Redis cannot be told, the
 * caller may read from a replica up to max_replica_lag behind. */
void ryw_note_write(struct ums_ctx *c, const struct principal *who);

/* 1 when who wrote within that time, or when Redis cannot say (then the
 * primary answers: never a stale read on doubt); 0 otherwise. */
int ryw_wrote_recently(struct ums_ctx *c, const struct principal *who);

#endif
