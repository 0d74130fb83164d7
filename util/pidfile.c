/* pidfile.c - claiming and releasing a daemon's pid file (pidfile.h). */
#include "pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define DYING_WAIT_MS 5000

/* The command name of pid ("self" for this process) into out; 0 if found. */
static int comm_of(const char *pid, char *out, size_t n)
{
    char path[64];
    FILE *f;
    int rc = -1;

    snprintf(path, sizeof(path), "/proc/%s/comm", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    if (fgets(out, (int)n, f) != NULL) {
        out[strcspn(out, "\n")] = '\0';
        rc = 0;
    }
    fclose(f);
    return rc;
}

/* What /proc says of pid: -1 gone or a zombie, 1 dying (SIGKILL pending or
 * exiting), 0 running. */
static int proc_state(long pid)
{
    char path[64], line[512], *p;
    unsigned long flags = 0;
    FILE *f;
    int state = -1;

    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    if (fgets(line, sizeof(line), f) != NULL && (p = strrchr(line, ')')) != NULL && p[1] == ' ') {
        /* state ppid pgrp session tty_nr tpgid flags */
        state = p[2] == 'Z' || p[2] == 'X' || p[2] == 'x' ? -1 : 0;
        if (state == 0 && sscanf(p + 3, " %*d %*d %*d %*d %*d %lu", &flags) == 1 &&
            (flags & 0x4) != 0) /* PF_EXITING */
            state = 1;
    }
    fclose(f);
    if (state != 0)
        return state;
    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long long mask;
        if ((strncmp(line, "SigPnd:", 7) == 0 || strncmp(line, "ShdPnd:", 7) == 0) &&
            sscanf(line + 7, "%llx", &mask) == 1 && (mask & (1ull << (SIGKILL - 1))) != 0)
            state = 1;
    }
    fclose(f);
    return state;
}

/* Whether pid is this program running: not a zombie (killed, not yet reaped
 * by its parent), not a pid reused by another program. A process that is
 * dying is waited for, at most DYING_WAIT_MS. scripts/lib.sh's pid_alive
 * applies the same rule. */
static int running_as(long pid, const char *name)
{
    char self[32], other[32], num[24];
    struct timespec tick = {0, 100 * 1000 * 1000};

    if (kill((pid_t)pid, 0) != 0 && errno != EPERM)
        return 0;
    snprintf(num, sizeof(num), "%ld", pid);
    if (name != NULL)
        snprintf(self, sizeof(self), "%.15s", name); /* comm holds 15 bytes */
    else if (comm_of("self", self, sizeof(self)) != 0)
        return 1; /* no /proc: trust kill() */
    for (int waited = 0;; waited += 100) {
        int st;
        if (comm_of(num, other, sizeof(other)) != 0 || strcmp(self, other) != 0)
            return 0;
        st = proc_state(pid);
        if (st <= 0 || waited >= DYING_WAIT_MS)
            return st >= 0;
        nanosleep(&tick, NULL);
    }
}

/* Reads the pid in path without following a symbolic link; 0 if none. */
static long read_pid(const char *path)
{
    char buf[32], *end;
    long pid = 0;
    ssize_t n;
    int fd;

    if (path == NULL || *path == '\0')
        return 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    pid = strtol(buf, &end, 10);
    return pid > 1 && (*end == '\n' || *end == '\0') ? pid : 0;
}

int pidfile_running(long pid)
{
    return running_as(pid, NULL);
}

long pidfile_owner(const char *path)
{
    long pid = read_pid(path);

    if (pid <= 0 || pid == (long)getpid() || !pidfile_running(pid))
        return 0;
    return pid;
}

long pidfile_owner_named(const char *path, const char *program)
{
    long pid = read_pid(path);

    if (pid <= 0 || !running_as(pid, program))
        return 0;
    return pid;
}

int pidfile_claim(const char *path, uid_t uid, gid_t gid)
{
    char text[32];
    long pid;
    int fd, ok;

    if (path == NULL || *path == '\0')
        return 0;
    pid = pidfile_owner(path);
    if (pid > 0) {
        log_error("already running with pid %ld (%s)", pid, path);
        return -1;
    }
    /* The folder may be the service user's: whatever is at path now (a
     * stale file, or a symbolic link someone put there) is removed, and a
     * new file is made with O_EXCL, which never follows a link. */
    if (unlink(path) != 0 && errno != ENOENT) {
        log_error("cannot replace pid file %s: %s", path, strerror(errno));
        return -1;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_error("cannot write pid file %s: %s", path, strerror(errno));
        return -1;
    }
    snprintf(text, sizeof(text), "%ld\n", (long)getpid());
    ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
    if (ok && uid != (uid_t)-1 && fchown(fd, uid, gid) != 0)
        log_warn("cannot hand the pid file %s to the service user", path);
    return close(fd) == 0 && ok ? 0 : -1;
}

void pidfile_release(const char *path)
{
    if (read_pid(path) == (long)getpid())
        unlink(path);
}
