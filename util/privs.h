/* privs.h - switching from root to the configured service user. */
#ifndef UMS_PRIVS_H
#define UMS_PRIVS_H

#include <sys/types.h>

/* Looks up name; *uid is (uid_t)-1 when name is empty or we are not root.
 * 0, or -1 (logged) for an unknown user. */
int privs_lookup(const char *name, uid_t *uid, gid_t *gid);

/* The group `name` into *gid, when name is set and we are root (else *gid
 * is left alone). 0, or -1 (logged) for an unknown group. */
int privs_group(const char *name, gid_t *gid);

/* Switches to uid/gid (with name's supplementary groups); a no-op for -1. */
int privs_drop(const char *name, uid_t uid, gid_t gid);

#endif
