/* outbox.c - transactional outbox and publication to the event stream. */
#include "outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "kv.h"
#include "log.h"
#include "ums.h"

int outbox_add(struct db *db, const char *event_json, long long *id)
{
    const char *p[1] = {event_json};
    PGresult *res = NULL;
    int rc = db_exec(db, &res, STMT_OUTBOX_INSERT, 1, p);

    if (rc == UMS_OK)
        *id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return rc;
}

void outbox_publish(struct db *db, struct kv *kv, long long id, const char *event_json)
{
    char ids[32];
    redisReply *r = NULL;
    const char *p[1] = {ids};
    const char *argv[10] = {"XADD", OUTBOX_STREAM, "MAXLEN", "~", "100000", "*",
                            "outbox_id", ids, "event", event_json};

    snprintf(ids, sizeof(ids), "%lld", id);
    if (kv_cmd(kv, &r, 10, argv, NULL) != UMS_OK)
        return; /* the notifier republishes unpublished rows */
    freeReplyObject(r);
    if (db_exec(db, NULL, STMT_OUTBOX_PUBLISHED, 1, p) != UMS_OK)
        log_warn("outbox %lld published but not marked; it may be delivered twice", id);
}
