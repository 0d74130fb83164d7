/* metrics.h - Prometheus counters shared by every process of a host without
 * a lock: a folder of per-process memory-mapped files.
 *
 * Each process that counts (a pool's master and workers, a spawned
 * ums-fcgi, ums-notifier) owns one file in [metrics] dir, made with
 * O_TMPFILE and linked in only once it is sized, locked (flock, held for
 * the process's life) and has its header: nobody else writes it, so a count
 * is a plain load and store of an aligned 64-bit word in a shared mapping.
 * Whoever serves /metrics (metrics_collect) takes the folder's lock,
 * reads every file with aligned loads, and folds the files whose owner is
 * gone (their lock is free) into `archive`, which it replaces by rename;
 * the archive lists the files it holds, so a fold cut short by a crash is
 * never counted twice. Counters therefore never go backwards while the
 * folder lives; gauges count only live processes. A pool's master empties
 * the folder of dead files at start-up (metrics_reset).
 *
 * Before metrics_open (umsctl, unit tests) or with metrics off, the counts
 * go to a private array: counting costs the same and needs no check.
 */
#ifndef UMS_METRICS_H
#define UMS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "metrics_list.h"

/* Histogram buckets (seconds), the same for every histogram; the last slot
 * of a histogram's buckets is +Inf, then the sum in nanoseconds. */
#define METRICS_BUCKETS 14
#define METRICS_HIST    (METRICS_BUCKETS + 1)

/* clang-format off */
#define METRICS_ENUM_C(id, fam, lab) M_##id,
#define METRICS_ENUM_H(id, fam, lab) M_##id, M_##id##_END = M_##id + METRICS_HIST - 1,
enum metric { METRICS_LIST(METRICS_ENUM_C, METRICS_ENUM_C, METRICS_ENUM_H) M__MAX };
/* clang-format on */

/* What a process is, in its file's header and in ums_processes{kind}. */
enum metrics_kind { MK_MASTER, MK_WORKER, MK_SPAWNED, MK_NOTIFIER, MK__MAX };

/* The statuses ums_http_requests_total tells apart; any other is "other". */
#define METRICS_STATUSES 29

/*
 * The HTTP series: one "route slot" per route and method (label values,
 * borrowed for the life of the process), set once before metrics_open.
 * The labels are part of the layout: a file written with other routes (an
 * older build) is not added to this one's HTTP series.
 */
struct metrics_routes {
    const char *const *route; /* nslots route patterns */
    const char *const *method;
    size_t nslots;
};
void metrics_set_routes(const struct metrics_routes *r);

/* Opens this process's file in dir (made 0700 if missing) for kind.
 * 0, or -1 with err filled: the process goes on counting privately. */
int metrics_open(const char *dir, enum metrics_kind kind, char *err, size_t errlen);

/* In a child just forked from a process that has a file: forgets the
 * parent's mapping and descriptor (the parent keeps its lock) and counts
 * privately until its own metrics_open. */
void metrics_after_fork(void);

/* Unmaps and closes this process's file; it stays for the next fold, and
 * counting goes on privately from zero. */
void metrics_close(void);

/* A pool's master at start-up: removes the folder's archive and the files
 * of processes that are gone. 0 or -1. */
int metrics_reset(const char *dir);

extern uint64_t *metrics_slots; /* this process's slots: fixed, then HTTP */

static inline void metrics_add(enum metric m, uint64_t n)
{
    __atomic_store_n(&metrics_slots[m], __atomic_load_n(&metrics_slots[m], __ATOMIC_RELAXED) + n,
                     __ATOMIC_RELAXED);
}
static inline void metrics_inc(enum metric m)
{
    metrics_add(m, 1);
}
static inline void metrics_set(enum metric m, uint64_t v)
{
    __atomic_store_n(&metrics_slots[m], v, __ATOMIC_RELAXED);
}

/* One observation of a histogram (the first slot of its H entry). */
void metrics_observe(enum metric hist, double seconds);

/* One finished request of route slot `slot` (metrics_routes), its status
 * and its duration. */
void metrics_http(size_t slot, int status, double seconds);

/* Appends the exposition text (format 0.0.4) of the sum over every file of
 * dir to out: the fixed series, ums_processes, resident memory, the HTTP
 * series. 0, or -1 with err filled (the folder cannot be read). */
int metrics_collect(const char *dir, struct buf *out, char *err, size_t errlen);

/* The live processes of dir by kind (umsctl status); reads, never folds.
 * 0 or -1. */
int metrics_live(const char *dir, long procs[MK__MAX]);

/* A gauge line with its HELP and TYPE, for values measured at scrape time. */
void metrics_gauge(struct buf *out, const char *name, const char *help, const char *labels,
                   double value);

#endif
