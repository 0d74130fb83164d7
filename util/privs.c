/* privs.c - dropping root after the start-up work that needs it. */
#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int privs_lookup(const char *name, uid_t *uid, gid_t *gid)
{
    struct passwd *pw;

    *uid = (uid_t)-1;
    *gid = (gid_t)-1;
    if (name == NULL || *name == '\0' || geteuid() != 0)
        return 0;
    pw = getpwnam(name);
    if (pw == NULL) {
        log_error("[server] user: no such user '%s'", name);
        return -1;
    }
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 0;
}

int privs_group(const char *name, gid_t *gid)
{
    struct group *gr;

    if (name == NULL || *name == '\0' || geteuid() != 0)
        return 0;
    gr = getgrnam(name);
    if (gr == NULL) {
        log_error("[server] socket_group: no such group '%s'", name);
        return -1;
    }
    *gid = gr->gr_gid;
    return 0;
}

int privs_drop(const char *name, uid_t uid, gid_t gid)
{
    if (uid == (uid_t)-1)
        return 0;
    if (initgroups(name, gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
        log_error("cannot switch to user %s: %s", name, strerror(errno));
        return -1;
    }
    return 0;
}
