/* audit.c - audit_log rows. */
#include "audit.h"

#include "db.h"

int audit_write(struct db *db, const char *actor, const char *action, const char *target,
                const char *ip, const char *details_json)
{
    const char *p[5] = {actor, action, target, ip, details_json};

    return db_exec(db, NULL, STMT_AUDIT_INSERT, 5, p);
}
