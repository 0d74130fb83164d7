/* test_metrics.c - the metrics folder: counts of every process add up; a
 * process that exits (or is killed) keeps its counts through the fold into
 * the archive, so a counter never goes backwards; a fold cut short does not
 * count twice; gauges count live processes only; files of another layout
 * and strangers are left out; the text is Prometheus's format. */
#define CTEST_MAIN
#include "../ctest.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../util/metrics.h"

static const char *const route_names[] = {"/auth/v1/user", "/auth/v1/token", "unmatched"};
static const char *const method_names[] = {"GET", "POST", "GET"};

static void fresh_dir(char *dir, size_t n)
{
    char cmd[300];

    snprintf(dir, n, "/tmp/ums-test-metrics-%ld", (long)getpid());
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not empty %s\n", dir);
}

static void setup(char *dir, size_t n)
{
    const struct metrics_routes r = {route_names, method_names, 3};

    metrics_close();
    metrics_set_routes(&r);
    fresh_dir(dir, n);
}

/* The value of one series line ("name{labels} value"), or -1. */
static double value_of(const char *text, const char *series)
{
    size_t n = strlen(series);

    for (const char *p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p)
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

static double scrape(const char *dir, const char *series)
{
    struct buf out;
    char err[256];
    double v;

    buf_init(&out, 4 * 1024 * 1024);
    if (metrics_collect(dir, &out, err, sizeof(err)) != 0) {
        buf_free(&out);
        return -2;
    }
    buf_addc(&out, '\0');
    v = value_of(out.p, series);
    buf_free(&out);
    return v;
}

static size_t files_in(const char *dir)
{
    size_t n = 0;
    struct dirent *de;
    DIR *d = opendir(dir);

    while (d != NULL && (de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    if (d != NULL)
        closedir(d);
    return n;
}

/* A child that opens its own file, counts `n` sign-ins and one request,
 * then either exits or waits to be killed (its pipe tells when it counted). */
static pid_t child_counting(const char *dir, int n, int stay)
{
    int p[2];
    pid_t pid;
    char c = 0;

    if (pipe(p) != 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        char err[256];
        metrics_after_fork();
        close(p[0]);
        if (metrics_open(dir, MK_WORKER, err, sizeof(err)) != 0)
            _exit(3);
        metrics_add(M_SIGNIN_password_SUCCESS, (uint64_t)n);
        metrics_http(0, 200, 0.003);
        metrics_set(M_DEGRADED_REDIS, 1);
        if (write(p[1], "x", 1) != 1)
            _exit(4);
        if (stay)
            pause();
        _exit(0);
    }
    close(p[1]);
    if (read(p[0], &c, 1) != 1)
        pid = -1;
    close(p[0]);
    return pid;
}

CTEST(metrics, private_counts_before_open_are_kept)
{
    char dir[128], err[256];

    setup(dir, sizeof(dir));
    metrics_inc(M_LOCKOUTS);
    metrics_inc(M_LOCKOUTS);
    ASSERT_EQ(metrics_open(dir, MK_MASTER, err, sizeof(err)), 0);
    metrics_inc(M_LOCKOUTS);
    ASSERT_EQ(scrape(dir, "ums_lockouts_total"), 3);
    ASSERT_EQ(scrape(dir, "ums_process_starts_total{kind=\"master\"}"), 1);
    ASSERT_EQ(scrape(dir, "ums_processes{kind=\"master\"}"), 1);
    /* Nothing else may open it: 0700, this user's. */
    {
        struct stat st;
        ASSERT_EQ(stat(dir, &st), 0);
        ASSERT_EQ(st.st_mode & 0777, 0700);
    }
    metrics_close();
    return;
}

CTEST(metrics, dead_processes_fold_into_the_archive_and_never_go_backwards)
{
    char dir[128], err[256];
    pid_t a, b, k;
    int st;

    setup(dir, sizeof(dir));
    ASSERT_EQ(metrics_open(dir, MK_MASTER, err, sizeof(err)), 0);
    a = child_counting(dir, 5, 0);
    b = child_counting(dir, 7, 0);
    k = child_counting(dir, 11, 1);
    ASSERT_TRUE(a > 0 && b > 0 && k > 0);
    ASSERT_EQ(waitpid(a, &st, 0), a);
    ASSERT_EQ(WEXITSTATUS(st), 0);
    ASSERT_EQ(waitpid(b, &st, 0), b);
    /* Two gone, one alive; the live one's gauge counts, the others' not. */
    ASSERT_EQ(scrape(dir, "ums_signins_total{method=\"password\",outcome=\"success\"}"), 23);
    ASSERT_EQ(scrape(dir, "ums_degraded_processes{store=\"redis\"}"), 1);
    ASSERT_EQ(scrape(dir, "ums_processes{kind=\"worker\"}"), 1);
    ASSERT_EQ(scrape(dir, "ums_process_starts_total{kind=\"worker\"}"), 3);
    /* Folded: the master's, the live child's and the archive. */
    ASSERT_EQ(files_in(dir), 3);
    kill(k, SIGKILL);
    ASSERT_EQ(waitpid(k, &st, 0), k);
    ASSERT_EQ(scrape(dir, "ums_signins_total{method=\"password\",outcome=\"success\"}"), 23);
    ASSERT_EQ(scrape(dir, "ums_degraded_processes{store=\"redis\"}"), 0);
    ASSERT_EQ(scrape(dir, "ums_http_requests_total{route=\"/auth/v1/user\",method=\"GET\","
                          "status=\"200\"}"),
              3);
    ASSERT_EQ(scrape(dir, "ums_http_request_duration_seconds_bucket{route=\"/auth/v1/user\","
                          "method=\"GET\",le=\"0.0025\"}"),
              0);
    ASSERT_EQ(scrape(dir, "ums_http_request_duration_seconds_bucket{route=\"/auth/v1/user\","
                          "method=\"GET\",le=\"0.005\"}"),
              3);
    ASSERT_EQ(scrape(dir, "ums_http_request_duration_seconds_count{route=\"/auth/v1/user\","
                          "method=\"GET\"}"),
              3);
    ASSERT_EQ(files_in(dir), 2);
    /* A route that served nothing has no series. */
    ASSERT_EQ(scrape(dir, "ums_http_request_duration_seconds_count{route=\"/auth/v1/token\","
                          "method=\"POST\"}"),
              -1);
    metrics_close();
    return;
}

CTEST(metrics, a_fold_cut_short_before_its_unlinks_counts_once)
{
    char dir[128], err[256], cmd[600];
    pid_t a;
    int st;

    setup(dir, sizeof(dir));
    ASSERT_EQ(metrics_open(dir, MK_MASTER, err, sizeof(err)), 0);
    a = child_counting(dir, 4, 0);
    ASSERT_EQ(waitpid(a, &st, 0), a);
    /* Keep a copy of the dead child's file, fold, put the copy back: the
     * archive lists it, as after a crash between rename and unlink. */
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s.keep' && cp -p '%s'/worker.* '%s.keep/'", dir, dir,
             dir);
    ASSERT_EQ(system(cmd), 0);
    ASSERT_EQ(scrape(dir, "ums_signins_total{method=\"password\",outcome=\"success\"}"), 4);
    snprintf(cmd, sizeof(cmd), "cp -p '%s.keep'/worker.* '%s/' && rm -rf '%s.keep'", dir, dir, dir);
    ASSERT_EQ(system(cmd), 0);
    ASSERT_EQ(scrape(dir, "ums_signins_total{method=\"password\",outcome=\"success\"}"), 4);
    ASSERT_EQ(scrape(dir, "ums_signins_total{method=\"password\",outcome=\"success\"}"), 4);
    ASSERT_EQ(files_in(dir), 2);
    metrics_close();
    return;
}

CTEST(metrics, other_layouts_and_strangers_are_left_out)
{
    char dir[128], err[256], path[300];
    FILE *f;

    setup(dir, sizeof(dir));
    ASSERT_EQ(metrics_open(dir, MK_MASTER, err, sizeof(err)), 0);
    metrics_inc(M_LOCKOUTS);
    /* Garbage with a process file's name, and a file of another layout. */
    snprintf(path, sizeof(path), "%s/worker.1.0123456789abcdef", dir);
    f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    for (int i = 0; i < 5000; i++)
        fputc(0x41, f);
    fclose(f);
    ASSERT_EQ(scrape(dir, "ums_lockouts_total"), 1);
    /* A dead stranger is removed. */
    ASSERT_EQ(access(path, F_OK), -1);
    metrics_close();
    return;
}

CTEST(metrics, reset_removes_the_dead_and_keeps_the_living)
{
    char dir[128], err[256];
    pid_t a, k;
    int st;

    setup(dir, sizeof(dir));
    (void)err;
    a = child_counting(dir, 2, 0);
    k = child_counting(dir, 3, 1);
    ASSERT_EQ(waitpid(a, &st, 0), a);
    ASSERT_EQ(scrape(dir, "ums_signins_total{method=\"password\",outcome=\"success\"}"), 5);
    ASSERT_EQ(metrics_reset(dir), 0);
    ASSERT_EQ(scrape(dir, "ums_signins_total{method=\"password\",outcome=\"success\"}"), 3);
    kill(k, SIGKILL);
    waitpid(k, &st, 0);
    return;
}

CTEST(metrics, a_folder_others_can_write_is_refused)
{
    char dir[128], err[256];
    struct buf out;

    setup(dir, sizeof(dir));
    ASSERT_EQ(mkdir(dir, 0777), 0);
    ASSERT_EQ(chmod(dir, 0777), 0);
    ASSERT_EQ(metrics_open(dir, MK_MASTER, err, sizeof(err)), -1);
    ASSERT_STR_CONTAINS(err, "writable by no one else");
    buf_init(&out, 1 << 20);
    ASSERT_EQ(metrics_collect(dir, &out, err, sizeof(err)), -1);
    buf_free(&out);
    /* Counting goes on, privately. */
    metrics_inc(M_LOCKOUTS);
    ASSERT_EQ(rmdir(dir), 0);
    return;
}

CTEST(metrics, text_is_prometheus_exposition)
{
    char dir[128], err[256];
    struct buf out;

    setup(dir, sizeof(dir));
    ASSERT_EQ(metrics_open(dir, MK_SPAWNED, err, sizeof(err)), 0);
    metrics_observe(M_PROVIDER_EMAIL, 0.2);
    metrics_observe(M_PROVIDER_EMAIL, 20);
    buf_init(&out, 4 * 1024 * 1024);
    ASSERT_EQ(metrics_collect(dir, &out, err, sizeof(err)), 0);
    buf_addc(&out, '\0');
    ASSERT_STR_CONTAINS(out.p, "# TYPE ums_signins_total counter\n");
    ASSERT_STR_CONTAINS(out.p, "# TYPE ums_notifier_provider_duration_seconds histogram\n");
    ASSERT_STR_CONTAINS(out.p, "ums_notifier_provider_duration_seconds_bucket{channel=\"email\","
                               "le=\"0.25\"} 1\n");
    ASSERT_STR_CONTAINS(out.p, "ums_notifier_provider_duration_seconds_bucket{channel=\"email\","
                               "le=\"+Inf\"} 2\n");
    ASSERT_STR_CONTAINS(out.p,
                        "ums_notifier_provider_duration_seconds_count{channel=\"email\"} 2\n");
    ASSERT_STR_CONTAINS(out.p, "ums_notifier_provider_duration_seconds_sum{channel=\"email\"} "
                               "20.200000000\n");
    /* Every family's HELP comes before its TYPE, once. */
    {
        const char *p = strstr(out.p, "# HELP ums_signins_total ");
        ASSERT_NOT_NULL(p);
        ASSERT_NULL(strstr(p + 1, "# HELP ums_signins_total "));
    }
    buf_free(&out);
    metrics_close();
    return;
}
