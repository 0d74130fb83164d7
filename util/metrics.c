/* metrics.c - per-process counter files, folded and summed on a scrape
 * (metrics.h says how and why). */
#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"

#define MAGIC       0x317274656d736d75ULL /* "umsmetr1" */
#define HEAD_BYTES  1024
#define MERGED_MAX  100 /* files one fold takes into the archive */
#define ARCHIVE     "archive"
#define ARCHIVE_TMP ".archive.tmp"
#define LOCK_NAME   ".lock"

struct head {
    uint64_t magic; /* written last: a file without it is not ready */
    uint64_t fixed_hash, http_hash;
    uint64_t nfixed, nhttp;
    uint64_t id; /* random, in the file's name */
    int64_t pid;
    uint32_t kind, nmerged;
    uint64_t merged[MERGED_MAX]; /* archive: the files it holds, last fold */
};
_Static_assert(sizeof(struct head) <= HEAD_BYTES, "metrics header too big");

struct slotdef {
    const char *fam, *lab;
    char type; /* 'c', 'g', 'h' */
};

/* clang-format off */
#define DEF_C(id, f, l) [M_##id] = {f, l, 'c'},
#define DEF_G(id, f, l) [M_##id] = {f, l, 'g'},
#define DEF_H(id, f, l) [M_##id] = {f, l, 'h'},
static const struct slotdef defs[M__MAX] = {METRICS_LIST(DEF_C, DEF_G, DEF_H)};
/* clang-format on */

static const struct {
    const char *name, *type, *help;
} families[] = {
    {"ums_signins_total", "counter", "Sign-in attempts by method and outcome."},
    {"ums_signups_total", "counter", "Accounts created by a sign-up, by method."},
    {"ums_lockouts_total", "counter", "Sign-in lockouts started (too many failures for an email)."},
    {"ums_token_refreshes_total", "counter",
     "Refresh-token grants: rotated, retried within the reuse interval, refused."},
    {"ums_refresh_token_reuse_total", "counter",
     "Refresh tokens used again after rotation: the session was revoked (a stolen token?)."},
    {"ums_sessions_revoked_total", "counter", "Sessions revoked, by cause."},
    {"ums_rate_limited_total", "counter", "Requests refused by a rate limit bucket, by scope."},
    {"ums_otp_verifications_total", "counter", "One-time code and link verifications by outcome."},
    {"ums_oauth_signins_total", "counter", "OAuth callbacks by provider and outcome."},
    {"ums_postgres_errors_total", "counter", "PostgreSQL statements that failed."},
    {"ums_postgres_reconnects_total", "counter", "PostgreSQL connections made again after a loss."},
    {"ums_postgres_statement_timeouts_total", "counter",
     "PostgreSQL statements cancelled by statement_timeout (answered 503)."},
    {"ums_postgres_leaked_transactions_total", "counter",
     "Transactions a request left open, rolled back before the next request (a bug)."},
    {"ums_postgres_lagged_reads_total", "counter",
     "Reads that tolerate replica lag, by the server that answered them."},
    {"ums_postgres_replica_skips_total", "counter",
     "Times a read replica was taken out of use: down, lagging, or not a standby."},
    {"ums_redis_errors_total", "counter", "Redis commands that failed or timed out."},
    {"ums_redis_reconnects_total", "counter", "Redis connections made again after a loss."},
    {"ums_redis_master_changes_total", "counter",
     "Times the sentinels named another Redis master (a failover)."},
    {"ums_cache_requests_total", "counter", "Redis cache lookups by cache and result."},
    {"ums_unavailable_responses_total", "counter",
     "Responses 503 because PostgreSQL or Redis could not serve."},
    {"ums_degraded_processes", "gauge",
     "Live ums processes whose last use of the store failed (degraded mode)."},
    {"ums_process_starts_total", "counter", "ums processes started, by kind."},
    {"ums_worker_exits_total", "counter",
     "Pool workers that exited, by reason (the master's view)."},
    {"ums_notifier_rounds_total", "counter", "Notifier rounds (read, deliver, record), by mode."},
    {"ums_notifier_events_read_total", "counter", "Events the notifier read from the stream."},
    {"ums_notifier_deliveries_total", "counter", "Deliveries by channel and outcome."},
    {"ums_notifier_provider_duration_seconds", "histogram",
     "Time of one call to the email or push provider."},
    {"ums_http_requests_total", "counter", "Requests answered, by route pattern, method, status."},
    {"ums_http_request_duration_seconds", "histogram",
     "Time from the request's start to its answer, by route pattern."},
};

static const double bounds[METRICS_BUCKETS - 1] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                   0.25,  0.5,    1,     2.5,  5,     10};
static const int statuses[METRICS_STATUSES - 1] = {200, 201, 204, 301, 302, 303, 304, 307, 308, 400,
                                                   401, 403, 404, 405, 406, 409, 410, 413, 414, 415,
                                                   422, 429, 431, 500, 501, 502, 503, 504};
static const char *const kind_names[MK__MAX] = {"master", "worker", "spawned", "notifier"};
static const enum metric kind_starts[MK__MAX] = {M_STARTS_MASTER, M_STARTS_WORKER, M_STARTS_SPAWNED,
                                                 M_STARTS_NOTIFIER};

static uint64_t priv_fixed[M__MAX];
uint64_t *metrics_slots = priv_fixed;

static struct metrics_routes routes;
static unsigned char status_idx[600];
static uint64_t *priv_all; /* private slots once the routes are known */
static size_t nhttp;       /* HTTP slots */
static uint64_t http_hash;
static int own_fd = -1;
static void *own_map;
static size_t own_len;

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    h ^= 0xff; /* a separator: "ab","c" differs from "a","bc" */
    return h * 1099511628211ULL;
}

static uint64_t fixed_hash(void)
{
    static uint64_t h;

    if (h == 0) {
        h = 14695981039346656037ULL;
        for (size_t i = 0; i < M__MAX; i++) {
            h = fnv(h, defs[i].fam != NULL ? defs[i].fam : "-");
            h = fnv(h, defs[i].lab != NULL ? defs[i].lab : "-");
        }
        h ^= METRICS_BUCKETS;
    }
    return h;
}

static size_t nall(void)
{
    return M__MAX + nhttp;
}

void metrics_set_routes(const struct metrics_routes *r)
{
    uint64_t h = 14695981039346656037ULL;
    uint64_t *p;

    if (own_map != NULL)
        return; /* the file's layout is fixed */
    for (size_t i = 0; i < r->nslots; i++) {
        h = fnv(h, r->route[i]);
        h = fnv(h, r->method[i]);
    }
    for (int s = 0; s < 600; s++) {
        status_idx[s] = METRICS_STATUSES - 1;
        for (int i = 0; i < METRICS_STATUSES - 1; i++)
            if (statuses[i] == s)
                status_idx[s] = (unsigned char)i;
    }
    p = calloc(M__MAX + r->nslots * (METRICS_STATUSES + METRICS_HIST), sizeof(*p));
    if (p == NULL)
        return; /* no HTTP series: the fixed ones still count */
    memcpy(p, metrics_slots, M__MAX * sizeof(*p));
    free(priv_all);
    priv_all = p;
    routes = *r;
    nhttp = r->nslots * (METRICS_STATUSES + METRICS_HIST);
    http_hash = h ^ r->nslots;
    metrics_slots = priv_all;
}

static void bump(uint64_t *p, uint64_t n)
{
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static void observe(uint64_t *h, double seconds)
{
    size_t b = 0;

    if (seconds < 0)
        seconds = 0;
    while (b < METRICS_BUCKETS - 1 && seconds > bounds[b])
        b++;
    bump(&h[b], 1);
    bump(&h[METRICS_BUCKETS], (uint64_t)(seconds * 1e9));
}

void metrics_observe(enum metric hist, double seconds)
{
    observe(&metrics_slots[hist], seconds);
}

void metrics_http(size_t slot, int status, double seconds)
{
    uint64_t *base = metrics_slots + M__MAX;

    if (slot >= routes.nslots)
        return;
    bump(&base[slot * METRICS_STATUSES + status_idx[status >= 0 && status < 600 ? status : 0]], 1);
    observe(&base[routes.nslots * METRICS_STATUSES + slot * METRICS_HIST], seconds);
}

static uint64_t *private_slots(void)
{
    return priv_all != NULL ? priv_all : priv_fixed;
}

static void own_unmap(void)
{
    if (own_map != NULL)
        munmap(own_map, own_len);
    own_map = NULL;
    if (own_fd >= 0)
        close(own_fd);
    own_fd = -1;
}

void metrics_after_fork(void)
{
    uint64_t *p = private_slots();

    own_unmap();
    memset(p, 0, nall() * sizeof(*p));
    metrics_slots = p;
}

void metrics_close(void)
{
    uint64_t *p = private_slots();

    /* The counts stay in the file, for the next fold; counting goes on
     * privately from zero, so a later metrics_open adds nothing twice. */
    if (own_map != NULL)
        memset(p, 0, nall() * sizeof(*p));
    own_unmap();
    metrics_slots = p;
}

enum dir_use { DIR_LOOK, DIR_WRITE, DIR_MAKE };

/* The folder as a descriptor (DIR_MAKE: made if missing); it must be this
 * user's (root may look at anyone's) and not writable by others. */
static int open_dir(const char *dir, enum dir_use use, char *err, size_t errlen)
{
    int make = use == DIR_MAKE;

    struct stat st;
    int dfd;

    if (make && mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot make metrics folder %s: %s", dir, strerror(errno));
        return -1;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        snprintf(err, errlen, "cannot open metrics folder %s: %s", dir, strerror(errno));
        return -1;
    }
    /* Root may look at the service user's folder (umsctl status); nobody
     * writes into a folder another user owns or others may write. */
    if (fstat(dfd, &st) != 0 || (st.st_uid != geteuid() && (use != DIR_LOOK || geteuid() != 0)) ||
        (st.st_mode & 0022) != 0) {
        snprintf(err, errlen,
                 "metrics folder %s must be owned by this user and writable by no one else", dir);
        close(dfd);
        return -1;
    }
    return dfd;
}

int metrics_open(const char *dir, enum metrics_kind kind, char *err, size_t errlen)
{
    char name[64], path[64];
    struct head *h;
    uint64_t id;
    int dfd, fd = -1;
    size_t len = HEAD_BYTES + nall() * sizeof(uint64_t);
    void *map = MAP_FAILED;

    metrics_close();
    dfd = open_dir(dir, DIR_MAKE, err, errlen);
    if (dfd < 0)
        return -1;
    fd = openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)len) != 0 || flock(fd, LOCK_EX | LOCK_NB) != 0 ||
        crypto_random_bytes(&id, sizeof(id)) != 0) {
        snprintf(err, errlen, "cannot make a metrics file in %s: %s", dir, strerror(errno));
        goto fail;
    }
    map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        snprintf(err, errlen, "cannot map a metrics file: %s", strerror(errno));
        goto fail;
    }
    h = map;
    h->fixed_hash = fixed_hash();
    h->http_hash = nhttp > 0 ? http_hash : 0;
    h->nfixed = M__MAX;
    h->nhttp = nhttp;
    h->id = id;
    h->pid = getpid();
    h->kind = (uint32_t)kind;
    /* What was counted before the file existed is not lost. */
    memcpy((char *)map + HEAD_BYTES, private_slots(), nall() * sizeof(uint64_t));
    __atomic_store_n(&h->magic, MAGIC, __ATOMIC_RELEASE);
    snprintf(name, sizeof(name), "%s.%ld.%016llx", kind_names[kind], (long)getpid(),
             (unsigned long long)id);
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    if (linkat(AT_FDCWD, path, dfd, name, AT_SYMLINK_FOLLOW) != 0) {
        snprintf(err, errlen, "cannot link metrics file %s/%s: %s", dir, name, strerror(errno));
        goto fail;
    }
    close(dfd);
    own_fd = fd;
    own_map = map;
    own_len = len;
    metrics_slots = (uint64_t *)((char *)map + HEAD_BYTES);
    metrics_inc(kind_starts[kind]);
    return 0;
fail:
    if (map != MAP_FAILED)
        munmap(map, len);
    if (fd >= 0)
        close(fd);
    close(dfd);
    return -1;
}

/* A process's file name: kind.pid.id (16 hex digits). */
static int is_process_file(const char *name)
{
    const char *dot = strchr(name, '.');

    return name[0] != '.' && dot != NULL && strlen(name) > 18 && name[strlen(name) - 17] == '.';
}

static int lock_dir(int dfd)
{
    int lfd = openat(dfd, LOCK_NAME, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

    if (lfd < 0)
        return -1;
    while (flock(lfd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            close(lfd);
            return -1;
        }
    }
    return lfd;
}

int metrics_reset(const char *dir)
{
    char err[256];
    struct dirent *de;
    DIR *d;
    int dfd = open_dir(dir, DIR_MAKE, err, sizeof(err)), lfd;

    if (dfd < 0)
        return -1;
    lfd = lock_dir(dfd);
    d = lfd >= 0 ? fdopendir(dup(dfd)) : NULL;
    while (d != NULL && (de = readdir(d)) != NULL) {
        int fd;
        if (strcmp(de->d_name, ARCHIVE) == 0 || strcmp(de->d_name, ARCHIVE_TMP) == 0) {
            unlinkat(dfd, de->d_name, 0);
            continue;
        }
        if (!is_process_file(de->d_name))
            continue;
        fd = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
            unlinkat(dfd, de->d_name, 0);
        if (fd >= 0)
            close(fd);
    }
    if (d != NULL)
        closedir(d);
    if (lfd >= 0)
        close(lfd);
    close(dfd);
    return lfd >= 0 ? 0 : -1;
}

/* One scrape's sums. */
struct sums {
    uint64_t *v;     /* nall() slots */
    struct head *ah; /* the archive: its header, then its slots */
    uint64_t *av;
    long procs[MK__MAX];
    uint64_t rss[MK__MAX], rss_max[MK__MAX];
    char (*dead)[64]; /* names to unlink once the archive is in place */
    size_t ndead, cap;
    uint32_t nnew; /* files this fold adds to the archive */
};

static int layout_fixed_ok(const struct head *h)
{
    return h->fixed_hash == fixed_hash() && h->nfixed == M__MAX;
}

static int layout_http_ok(const struct head *h)
{
    return nhttp > 0 && h->http_hash == http_hash && h->nhttp == nhttp;
}

/* Adds src (a file's slots, laid out as described by h) into dst; gauges
 * only when `gauges`. Aligned loads: a writer's store is seen whole. */
static void add_slots(uint64_t *dst, const struct head *h, const uint64_t *src, int gauges)
{
    if (layout_fixed_ok(h))
        for (size_t i = 0; i < M__MAX; i++)
            if (gauges || defs[i].type != 'g')
                dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
    if (layout_http_ok(h))
        for (size_t i = 0; i < nhttp; i++)
            dst[M__MAX + i] += __atomic_load_n(&src[h->nfixed + i], __ATOMIC_RELAXED);
}

static uint64_t rss_of(int64_t pid)
{
    char path[64];
    unsigned long size, res;
    FILE *f;
    int n;

    snprintf(path, sizeof(path), "/proc/%lld/statm", (long long)pid);
    f = fopen(path, "re");
    if (f == NULL)
        return 0;
    n = fscanf(f, "%lu %lu", &size, &res);
    fclose(f);
    return n == 2 ? (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

static int note_dead(struct sums *s, const char *name)
{
    if (s->ndead == s->cap) {
        size_t cap = s->cap != 0 ? s->cap * 2 : 16;
        void *p = realloc(s->dead, cap * sizeof(*s->dead));
        if (p == NULL)
            return -1;
        s->dead = p;
        s->cap = cap;
    }
    snprintf(s->dead[s->ndead++], sizeof(*s->dead), "%s", name);
    return 0;
}

/* The archive as this build lays it out: its counts when it was written by
 * the same layout, zeros otherwise (after an upgrade: a counter reset). */
static int read_archive(int dfd, struct sums *s, uint32_t *old_n, uint64_t *old)
{
    size_t len = HEAD_BYTES + nall() * sizeof(uint64_t);
    struct head h;
    struct stat st;
    int fd = openat(dfd, ARCHIVE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    char *p = calloc(1, len);

    *old_n = 0;
    if (p == NULL) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    s->ah = (struct head *)p;
    s->av = (uint64_t *)(p + HEAD_BYTES);
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= HEAD_BYTES &&
        pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) && h.magic == MAGIC &&
        (size_t)st.st_size == HEAD_BYTES + (h.nfixed + h.nhttp) * sizeof(uint64_t)) {
        uint64_t *v = malloc((size_t)st.st_size - HEAD_BYTES);
        if (v != NULL &&
            pread(fd, v, (size_t)st.st_size - HEAD_BYTES, HEAD_BYTES) == st.st_size - HEAD_BYTES) {
            add_slots(s->av, &h, v, 0);
            *old_n = h.nmerged < MERGED_MAX ? h.nmerged : MERGED_MAX;
            memcpy(old, h.merged, *old_n * sizeof(*old));
        }
        free(v);
    }
    if (fd >= 0)
        close(fd);
    s->ah->fixed_hash = fixed_hash();
    s->ah->http_hash = nhttp > 0 ? http_hash : 0;
    s->ah->nfixed = M__MAX;
    s->ah->nhttp = nhttp;
    s->ah->magic = MAGIC;
    return 0;
}

static int write_archive(int dfd, const struct sums *s)
{
    size_t len = HEAD_BYTES + nall() * sizeof(uint64_t), off = 0;
    const char *p = (const char *)s->ah;
    int fd = openat(dfd, ARCHIVE_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);

    if (fd < 0)
        return -1;
    while (off < len) {
        ssize_t n = write(fd, p + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            unlinkat(dfd, ARCHIVE_TMP, 0);
            return -1;
        }
        off += (size_t)n;
    }
    if (close(fd) != 0 || renameat(dfd, ARCHIVE_TMP, dfd, ARCHIVE) != 0) {
        unlinkat(dfd, ARCHIVE_TMP, 0);
        return -1;
    }
    return 0;
}

/* One file of the folder: a live process's counts and gauges go into the
 * sums; a gone one's counts into the archive (up to MERGED_MAX a fold; past
 * that, into the sums only, for the next fold). */
static void scan_one(int dfd, const char *name, struct sums *s, const uint32_t old_n,
                     const uint64_t *old)
{
    struct stat st;
    const struct head *h;
    void *map;
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), live;

    if (fd < 0)
        return;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        st.st_size < HEAD_BYTES) {
        close(fd);
        return;
    }
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    live = flock(fd, LOCK_EX | LOCK_NB) != 0;
    close(fd); /* our lock, if we got it, goes with it: the file is dead */
    if (map == MAP_FAILED)
        return;
    h = map;
    if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != MAGIC ||
        (size_t)st.st_size != HEAD_BYTES + (h->nfixed + h->nhttp) * sizeof(uint64_t)) {
        if (!live)
            note_dead(s, name);
    } else if (live) {
        const uint64_t *v = (const uint64_t *)((const char *)map + HEAD_BYTES);
        add_slots(s->v, h, v, 1);
        if (h->kind < MK__MAX) {
            uint64_t r = rss_of(h->pid);
            s->procs[h->kind]++;
            s->rss[h->kind] += r;
            if (r > s->rss_max[h->kind])
                s->rss_max[h->kind] = r;
        }
    } else {
        const uint64_t *v = (const uint64_t *)((const char *)map + HEAD_BYTES);
        int known = 0;
        for (uint32_t i = 0; i < old_n; i++)
            known |= old[i] == h->id;
        if (known) {
            /* Folded by a fold that could not finish its unlinks: listed
             * again (room is kept for every one), not added again. */
            if (note_dead(s, name) == 0)
                s->ah->merged[s->ah->nmerged++] = h->id;
        } else if (s->nnew + old_n < MERGED_MAX && note_dead(s, name) == 0) {
            add_slots(s->av, h, v, 0);
            s->ah->merged[s->ah->nmerged++] = h->id;
            s->nnew++;
        } else {
            add_slots(s->v, h, v, 0);
        }
    }
    munmap(map, (size_t)st.st_size);
}

static void label_escaped(struct buf *out, const char *v)
{
    for (; *v != '\0'; v++) {
        if (*v == '\\' || *v == '"')
            buf_addc(out, '\\');
        if (*v == '\n')
            buf_adds(out, "\\n");
        else
            buf_addc(out, *v);
    }
}

static void family_head(struct buf *out, const char *fam)
{
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
        if (strcmp(families[i].name, fam) == 0) {
            buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", fam, families[i].help, fam,
                       families[i].type);
            return;
        }
}

/* A histogram's lines; labels "" or `a="b",...`. */
static void histogram(struct buf *out, const char *fam, const char *labels, const uint64_t *h)
{
    uint64_t cum = 0;
    const char *sep = labels[0] != '\0' ? "," : "";

    for (size_t b = 0; b < METRICS_BUCKETS; b++) {
        cum += h[b];
        if (b < METRICS_BUCKETS - 1)
            buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", fam, labels, sep, bounds[b],
                       (unsigned long long)cum);
        else
            buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", fam, labels, sep,
                       (unsigned long long)cum);
    }
    buf_printf(out, "%s_sum{%s} %.9f\n%s_count{%s} %llu\n", fam, labels,
               (double)h[METRICS_BUCKETS] / 1e9, fam, labels, (unsigned long long)cum);
}

static void render_fixed(struct buf *out, const uint64_t *v)
{
    const char *prev = "";

    for (size_t i = 0; i < M__MAX; i++) {
        const struct slotdef *d = &defs[i];
        if (d->fam == NULL)
            continue;
        if (strcmp(d->fam, prev) != 0)
            family_head(out, d->fam);
        prev = d->fam;
        if (d->type == 'h')
            histogram(out, d->fam, d->lab, &v[i]);
        else if (d->lab[0] != '\0')
            buf_printf(out, "%s{%s} %llu\n", d->fam, d->lab, (unsigned long long)v[i]);
        else
            buf_printf(out, "%s %llu\n", d->fam, (unsigned long long)v[i]);
    }
}

static void render_processes(struct buf *out, const struct sums *s)
{
    buf_adds(out, "# HELP ums_processes Live ums processes, by kind.\n"
                  "# TYPE ums_processes gauge\n");
    for (int k = 0; k < MK__MAX; k++)
        buf_printf(out, "ums_processes{kind=\"%s\"} %ld\n", kind_names[k], s->procs[k]);
    buf_adds(out, "# HELP ums_process_resident_memory_bytes Resident memory of the live ums "
                  "processes, summed by kind.\n"
                  "# TYPE ums_process_resident_memory_bytes gauge\n");
    for (int k = 0; k < MK__MAX; k++)
        buf_printf(out, "ums_process_resident_memory_bytes{kind=\"%s\"} %llu\n", kind_names[k],
                   (unsigned long long)s->rss[k]);
    buf_adds(out, "# HELP ums_process_resident_memory_max_bytes Resident memory of the largest "
                  "live ums process of each kind.\n"
                  "# TYPE ums_process_resident_memory_max_bytes gauge\n");
    for (int k = 0; k < MK__MAX; k++)
        buf_printf(out, "ums_process_resident_memory_max_bytes{kind=\"%s\"} %llu\n", kind_names[k],
                   (unsigned long long)s->rss_max[k]);
}

/* Series of routes that served nothing yet are left out. */
static void render_http(struct buf *out, const uint64_t *v)
{
    const uint64_t *req = v + M__MAX, *hist = req + routes.nslots * METRICS_STATUSES;

    family_head(out, "ums_http_requests_total");
    for (size_t r = 0; r < routes.nslots; r++)
        for (size_t s = 0; s < METRICS_STATUSES; s++) {
            char st[8];
            if (req[r * METRICS_STATUSES + s] == 0)
                continue;
            if (s < METRICS_STATUSES - 1)
                snprintf(st, sizeof(st), "%d", statuses[s]);
            else
                snprintf(st, sizeof(st), "other");
            buf_adds(out, "ums_http_requests_total{route=\"");
            label_escaped(out, routes.route[r]);
            buf_printf(out, "\",method=\"%s\",status=\"%s\"} %llu\n", routes.method[r], st,
                       (unsigned long long)req[r * METRICS_STATUSES + s]);
        }
    family_head(out, "ums_http_request_duration_seconds");
    for (size_t r = 0; r < routes.nslots; r++) {
        const uint64_t *h = &hist[r * METRICS_HIST];
        struct buf lab;
        uint64_t n = 0;
        for (size_t b = 0; b < METRICS_BUCKETS; b++)
            n += h[b];
        if (n == 0)
            continue;
        buf_init(&lab, 1024);
        buf_adds(&lab, "route=\"");
        label_escaped(&lab, routes.route[r]);
        buf_printf(&lab, "\",method=\"%s\"", routes.method[r]);
        histogram(out, "ums_http_request_duration_seconds", lab.p != NULL ? lab.p : "", h);
        buf_free(&lab);
    }
}

int metrics_collect(const char *dir, struct buf *out, char *err, size_t errlen)
{
    struct sums s;
    struct dirent *de;
    uint64_t old[MERGED_MAX];
    uint32_t old_n = 0;
    DIR *d = NULL;
    int dfd, lfd = -1, rc = -1;

    memset(&s, 0, sizeof(s));
    dfd = open_dir(dir, DIR_WRITE, err, errlen);
    if (dfd < 0)
        return -1;
    s.v = calloc(nall(), sizeof(*s.v));
    lfd = s.v != NULL ? lock_dir(dfd) : -1;
    if (lfd < 0 || read_archive(dfd, &s, &old_n, old) != 0) {
        snprintf(err, errlen, "cannot lock or read metrics folder %s: %s", dir, strerror(errno));
        goto out;
    }
    d = fdopendir(dup(dfd));
    if (d == NULL) {
        snprintf(err, errlen, "cannot list metrics folder %s: %s", dir, strerror(errno));
        goto out;
    }
    while ((de = readdir(d)) != NULL)
        if (is_process_file(de->d_name))
            scan_one(dfd, de->d_name, &s, old_n, old);
    /* The archive first, then the unlinks: a fold cut short in between
     * finds the files listed in the archive and does not add them again. */
    if (s.ndead > 0 && write_archive(dfd, &s) == 0)
        for (size_t i = 0; i < s.ndead; i++)
            unlinkat(dfd, s.dead[i], 0);
    for (size_t i = 0; i < nall(); i++)
        s.v[i] += s.av[i];
    render_fixed(out, s.v);
    render_processes(out, &s);
    if (nhttp > 0)
        render_http(out, s.v);
    rc = 0;
out:
    if (d != NULL)
        closedir(d);
    if (lfd >= 0)
        close(lfd);
    close(dfd);
    free(s.v);
    free(s.ah);
    free(s.dead);
    return rc;
}

void metrics_gauge(struct buf *out, const char *name, const char *help, const char *labels,
                   double value)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
    if (labels != NULL && labels[0] != '\0')
        buf_printf(out, "%s{%s} %.17g\n", name, labels, value);
    else
        buf_printf(out, "%s %.17g\n", name, value);
}

int metrics_live(const char *dir, long procs[MK__MAX])
{
    char err[256];
    struct dirent *de;
    DIR *d;
    int dfd = open_dir(dir, DIR_LOOK, err, sizeof(err));

    memset(procs, 0, MK__MAX * sizeof(procs[0]));
    if (dfd < 0)
        return -1;
    d = fdopendir(dup(dfd));
    while (d != NULL && (de = readdir(d)) != NULL) {
        struct head h;
        int fd;
        if (!is_process_file(de->d_name))
            continue;
        fd = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            continue;
        if (flock(fd, LOCK_SH | LOCK_NB) != 0 &&
            pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) && h.magic == MAGIC &&
            h.kind < MK__MAX)
            procs[h.kind]++;
        close(fd);
    }
    if (d != NULL)
        closedir(d);
    close(dfd);
    return d != NULL ? 0 : -1;
}
