/* ryw.c - read-your-writes marks in Redis (ryw.h). */
#include "ryw.h"

#include <stdio.h>

#include "config.h"
#include "kv.h"
#include "../util/ums.h"

/* ums:ryw:{session id}, or ums:ryw:service; 0 for a caller with neither. */
static int mark_key(const struct principal *who, char *key, size_t n)
{
    if (who->service)
        snprintf(key, n, "ums:ryw:service");
    else if (who->session_id[0] != '\0')
        snprintf(key, n, "ums:ryw:%s", who->session_id);
    else
        return 0;
    return 1;
}

void ryw_note_write(struct ums_ctx *c, const struct principal *who)
{
    char key[64], ms[24];
    const char *argv[5] = {"SET", key, "1", "PX", ms};
    redisReply *r = NULL;

    if (!mark_key(who, key, sizeof(key)))
        return;
    /* A replica in use had replayed everything older than max_replica_lag
     * when it was last measured, at most a second ago. */
    snprintf(ms, sizeof(ms), "%d", (c->cfg->database.max_replica_lag + 1) * 1000 + 250);
    if (kv_cmd(c->kv, &r, 5, argv, NULL) == UMS_OK)
        freeReplyObject(r);
}

int ryw_wrote_recently(struct ums_ctx *c, const struct principal *who)
{
    char key[64];
    const char *argv[2] = {"EXISTS", key};
    redisReply *r = NULL;
    int recent;

    if (!mark_key(who, key, sizeof(key)))
        return 0;
    if (kv_cmd(c->kv, &r, 2, argv, NULL) != UMS_OK)
        return 1;
    recent = r->type != REDIS_REPLY_INTEGER || r->integer != 0;
    freeReplyObject(r);
    return recent;
}
