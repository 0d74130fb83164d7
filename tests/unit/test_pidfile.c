/* test_pidfile.c - pid files and the log file, which root opens: the rule: a live process of this
 * program owns the file; a zombie, a pid reused by another program, a dead pid and a malformed file
 * do not. */
#define CTEST_MAIN
#include "../ctest.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../util/log.h"
#include "../../util/pidfile.h"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

static void write_pid(const char *path, pid_t pid)
{
    char s[32];
    snprintf(s, sizeof(s), "%ld\n", (long)pid);
    write_file(path, s);
}

static void tmp_path(char *out, size_t n)
{
    snprintf(out, n, "/tmp/ums-test-pidfile-%ld.pid", (long)getpid());
}

/* A child of this program (same command name) that sleeps until killed. */
static pid_t sleeper(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        alarm(30); /* never outlives a failed test for long */
        pause();
        _exit(0);
    }
    return pid;
}

/* Waits until /proc says pid is a zombie (at most 2 s). */
static int wait_zombie(pid_t pid)
{
    char path[64], line[256];
    struct timespec t = {0, 10 * 1000 * 1000};

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(path, "r");
        char *p;
        int z = 0;
        if (f != NULL) {
            if (fgets(line, sizeof(line), f) != NULL && (p = strrchr(line, ')')) != NULL)
                z = p[2] == 'Z';
            fclose(f);
        }
        if (z)
            return 1;
        nanosleep(&t, NULL);
    }
    return 0;
}

CTEST(pidfile, live_process_of_this_program_owns_the_file)
{
    char path[128];
    pid_t child = sleeper();

    tmp_path(path, sizeof(path));
    ASSERT_TRUE(child > 0);
    write_pid(path, child);
    ASSERT_EQ(pidfile_owner(path), child);
    ASSERT_EQ(pidfile_claim(path, (uid_t)-1, (gid_t)-1), -1);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    unlink(path);
}

CTEST(pidfile, zombie_does_not_own_the_file)
{
    char path[128];
    pid_t child = sleeper();

    tmp_path(path, sizeof(path));
    write_pid(path, child);
    kill(child, SIGKILL);
    ASSERT_TRUE(wait_zombie(child)); /* killed, not reaped yet */
    ASSERT_EQ(pidfile_owner(path), 0);
    ASSERT_EQ(pidfile_claim(path, (uid_t)-1, (gid_t)-1), 0);
    ASSERT_EQ(pidfile_owner(path), 0); /* it names us now */
    waitpid(child, NULL, 0);
    unlink(path);
}

CTEST(pidfile, pid_of_another_program_does_not_own_the_file)
{
    char path[128];
    pid_t child = fork();

    if (child == 0) {
        execlp("sleep", "sleep", "30", (char *)NULL);
        _exit(127);
    }
    tmp_path(path, sizeof(path));
    write_pid(path, child);
    /* Until exec is done the child is still this program: wait for it. */
    for (int i = 0; i < 200 && pidfile_owner(path) != 0; i++)
        usleep(10000);
    ASSERT_EQ(pidfile_owner(path), 0);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    unlink(path);
}

CTEST(pidfile, dead_or_malformed_does_not_own_the_file)
{
    char path[128];
    pid_t child = sleeper();

    tmp_path(path, sizeof(path));
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    write_pid(path, child);
    ASSERT_EQ(pidfile_owner(path), 0);
    write_file(path, "1\n");
    ASSERT_EQ(pidfile_owner(path), 0);
    write_file(path, "12abc\n");
    ASSERT_EQ(pidfile_owner(path), 0);
    write_file(path, "");
    ASSERT_EQ(pidfile_owner(path), 0);
    unlink(path);
    ASSERT_EQ(pidfile_owner(path), 0);
    ASSERT_EQ(pidfile_owner(""), 0);
}

CTEST(pidfile, release_keeps_another_daemons_file)
{
    char path[128];
    pid_t child = sleeper();

    tmp_path(path, sizeof(path));
    write_pid(path, child);
    pidfile_release(path);
    ASSERT_EQ(access(path, F_OK), 0);
    write_pid(path, getpid());
    pidfile_release(path);
    ASSERT_NE(access(path, F_OK), 0);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
}

CTEST(pidfile, a_symlink_is_replaced_never_followed)
{
    char path[128], victim[160], buf[64] = "";
    FILE *f;

    tmp_path(path, sizeof(path));
    snprintf(victim, sizeof(victim), "%s.victim", path);
    write_file(victim, "precious\n");
    unlink(path);
    ASSERT_EQ(symlink(victim, path), 0);
    ASSERT_EQ(pidfile_owner(path), 0); /* not read through the link */
    ASSERT_EQ(pidfile_claim(path, (uid_t)-1, (gid_t)-1), 0);
    f = fopen(victim, "r");
    ASSERT_NOT_NULL(f);
    ASSERT_NOT_NULL(fgets(buf, sizeof(buf), f));
    fclose(f);
    ASSERT_STR_EQ(buf, "precious\n");
    {
        struct stat st;
        ASSERT_EQ(lstat(path, &st), 0);
        ASSERT_TRUE(S_ISREG(st.st_mode)); /* a file of its own now */
    }
    pidfile_release(path);
    ASSERT_NE(access(path, F_OK), 0);
    unlink(victim);
}

CTEST(log, a_symlinked_log_file_is_refused)
{
    char path[128], victim[160];

    tmp_path(path, sizeof(path));
    snprintf(victim, sizeof(victim), "%s.victim", path);
    write_file(victim, "precious\n");
    unlink(path);
    ASSERT_EQ(symlink(victim, path), 0);
    ASSERT_EQ(log_open(path, LL_INFO), -1);
    unlink(path);
    ASSERT_EQ(log_open(path, LL_INFO), 0); /* a plain file is fine */
    log_close();
    unlink(path);
    unlink(victim);
}
