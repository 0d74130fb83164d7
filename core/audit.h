/* audit.h - the audit log. Details never hold secrets. */
#ifndef UMS_AUDIT_H
#define UMS_AUDIT_H

struct db;

/* Appends one row (in the caller's transaction, if any). actor, target and ip
 * may be NULL; details_json is a JSON object or NULL. 0 or a UMS_E* code. */
int audit_write(struct db *db, const char *actor, const char *action, const char *target,
                const char *ip, const char *details_json);

#endif
