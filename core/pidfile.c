/* pidfile.c - claiming and releasing a daemon's pid file (pidfile.h). */
#include "pidfile.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Whether pid is a running process: a zombie (killed, not yet reaped by
 * its parent) is not. */
static int running(long pid)
{
    char path[64], stat[256];
    FILE *f;
    char *close_paren;
    int zombie = 0;

    if (kill((pid_t)pid, 0) != 0)
        return 0;
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 1; /* no /proc: trust kill() */
    if (fgets(stat, sizeof(stat), f) != NULL && (close_paren = strrchr(stat, ')')) != NULL)
        zombie = close_paren[1] == ' ' && close_paren[2] == 'Z';
    fclose(f);
    return !zombie;
}

int pidfile_claim(const char *path)
{
    char buf[32];
    FILE *f;
    long pid;

    if (path == NULL || *path == '\0')
        return 0;
    f = fopen(path, "r");
    if (f != NULL) {
        if (fgets(buf, sizeof(buf), f) != NULL) {
            char *end;
            pid = strtol(buf, &end, 10);
            if (pid > 1 && (*end == '\n' || *end == '\0') && running(pid) &&
                pid != (long)getpid()) {
                fclose(f);
                log_error("already running with pid %ld (%s)", pid, path);
                return -1;
            }
        }
        fclose(f);
    }
    f = fopen(path, "w");
    if (f == NULL) {
        log_error("cannot write pid file %s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f, "%ld\n", (long)getpid());
    return fclose(f) == 0 ? 0 : -1;
}

void pidfile_release(const char *path)
{
    FILE *f;
    long pid = 0;

    if (path == NULL || *path == '\0' || (f = fopen(path, "r")) == NULL)
        return;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = 0;
    fclose(f);
    if (pid == (long)getpid())
        unlink(path);
}
