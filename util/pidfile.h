/* pidfile.h - the pid files of the daemons (ums-fcgi, ums-notifier). */
#ifndef UMS_PIDFILE_H
#define UMS_PIDFILE_H

#include <sys/types.h>

/* The pid the file names when that process is this same program and
 * running (not a zombie; one that is dying is waited for, up to 5 s);
 * else 0. An empty path or a missing file: 0. */
long pidfile_owner(const char *path);

/* pidfile_owner for another program's pid file (umsctl status looking at
 * ums-fcgi's): the pid when it is a running `program`, else 0. */
long pidfile_owner_named(const char *path, const char *program);

/* 1 when pid is a process of this same program, running (not a zombie,
 * not a pid another program took since; one that is dying is waited for,
 * up to 5 s); else 0. */
int pidfile_running(long pid);

/* Refuses (-1, logged) when the file names another live process; else
 * writes this process's pid into a new file (never through a symbolic
 * link), handed to uid:gid unless uid is -1. An empty path: nothing to do. */
int pidfile_claim(const char *path, uid_t uid, gid_t gid);

/* Removes the file only while it still names this process, so a daemon
 * started in the meantime with the same file keeps it. */
void pidfile_release(const char *path);

#endif
