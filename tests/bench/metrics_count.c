/* metrics_count.c - what counting one request costs in the worker: the
 * HTTP series (a status counter and a histogram bucket and sum) plus two
 * fixed counters, as a request that hits the session cache does, timed over
 * many calls into a metrics file (shared mapping) and into the private
 * array (metrics off). Usage: metrics_count DIR [CALLS] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../../util/metrics.h"

static double now_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static double per_call(long n)
{
    double t0 = now_ns();

    for (long i = 0; i < n; i++) {
        metrics_http((size_t)(i & 31), i & 7 ? 200 : 401, 0.00025 + (double)(i & 15) * 1e-5);
        metrics_inc(M_CACHE_SESSION_HIT);
        metrics_inc(M_CACHE_USER_HIT);
    }
    return (now_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
    static const char *route[64], *method[64];
    const struct metrics_routes r = {route, method, 64};
    long n = argc > 2 ? strtol(argv[2], NULL, 10) : 20000000;
    char err[256];
    double on, off;

    if (argc < 2) {
        fprintf(stderr, "usage: metrics_count DIR [CALLS]\n");
        return 2;
    }
    for (int i = 0; i < 64; i++) {
        route[i] = "/auth/v1/user";
        method[i] = "GET";
    }
    metrics_set_routes(&r);
    off = per_call(n);
    if (metrics_open(argv[1], MK_WORKER, err, sizeof(err)) != 0) {
        fprintf(stderr, "metrics_count: %s\n", err);
        return 1;
    }
    on = per_call(n);
    metrics_close();
    off = (off + per_call(n)) / 2;
    printf("counting one request: %.1f ns into the metrics file, %.1f ns into private memory "
           "(%ld calls each)\n",
           on, off, n);
    return 0;
}
