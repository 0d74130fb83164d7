/* auth_bench.c - load generator for the auth benchmark (tests/bench/bench_auth.sh).
 *
 *   auth_bench argon2 SECONDS PROCS          raw argon2id hashes per second
 *   auth_bench login SECONDS THREADS         POST /auth/v1/token?grant_type=password
 *   auth_bench refresh SECONDS THREADS       POST /auth/v1/token?grant_type=refresh_token
 *   auth_bench mixed SECONDS THREADS [RATE]  the mixed load (tests/soak.sh): of every
 *       20 requests a thread sends, 1 sign-up (then its account), 2 sign-ins,
 *       3 refreshes and 14 GET /auth/v1/user; at most RATE requests a second
 *       in all (0 or none: as fast as answers come)
 *
 * HTTP modes talk to $UMS_URL through nginx; each thread signs up its own
 * account first and reuses one keep-alive connection. Prints one line:
 * "<mode> <count> in <seconds> s = <rate>/s (<errors> errors)"; mixed first
 * prints a line a minute (requests, 5xx, other unexpected answers, starts
 * more than 1 s behind the schedule, p50 and p99 latency). */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <argon2.h>
#include <curl/curl.h>

#include "../../util/buf.h"
#include "../../core/password.h"

static double secs;
static const char *base;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    return buf_add(ud, p, s * n) == 0 ? s * n : 0;
}

/* POSTs body to path, or GETs it when body is NULL, with a bearer token
 * when one is given; returns the status (0: no answer), the response in out. */
static long req(CURL *c, const char *path, const char *body, const char *bearer, struct buf *out)
{
    char url[1024], auth[4200];
    long st = 0;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");

    if (bearer != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
        h = curl_slist_append(h, auth);
    }
    snprintf(url, sizeof(url), "%s%s", base, path);
    buf_reset(out, 1 << 20);
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (body != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    else
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    curl_slist_free_all(h);
    return st;
}

static long post(CURL *c, const char *path, const char *body, struct buf *out)
{
    return req(c, path, body, NULL, out);
}

static int field(const char *json, const char *name, char *out, size_t n)
{
    char key[64];
    const char *p;
    snprintf(key, sizeof(key), "\"%s\":\"", name);
    p = json != NULL ? strstr(json, key) : NULL;
    if (p == NULL)
        return -1;
    p += strlen(key);
    snprintf(out, n, "%.*s", (int)strcspn(p, "\""), p);
    return 0;
}

struct job {
    int id;
    int refresh;
    long done, errors;
};

static void *worker(void *arg)
{
    struct job *j = arg;
    CURL *c = curl_easy_init();
    struct buf out;
    char email[128], body[512], token[128];
    double end;

    buf_init(&out, 1 << 20);
    snprintf(email, sizeof(email), "bench-%ld-%d-%d@example.com", (long)time(NULL), getpid(),
             j->id);
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"bench passphrase 1\"}", email);
    if (post(c, "/auth/v1/signup", body, &out) != 200 ||
        field(out.p, "refresh_token", token, sizeof(token)) != 0) {
        fprintf(stderr, "signup failed: %s\n", out.p ? out.p : "(no answer)");
        j->errors++;
        goto done;
    }
    end = now() + secs;
    while (now() < end) {
        long st;
        if (j->refresh) {
            snprintf(body, sizeof(body), "{\"refresh_token\":\"%s\"}", token);
            st = post(c, "/auth/v1/token?grant_type=refresh_token", body, &out);
            if (st == 200 && field(out.p, "refresh_token", token, sizeof(token)) == 0)
                j->done++;
            else
                j->errors++;
        } else {
            snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"bench passphrase 1\"}",
                     email);
            st = post(c, "/auth/v1/token?grant_type=password", body, &out);
            if (st == 200)
                j->done++;
            else
                j->errors++;
        }
    }
done:
    buf_free(&out);
    curl_easy_cleanup(c);
    return NULL;
}

static int http_mode(const char *mode, int threads)
{
    pthread_t th[64];
    struct job jobs[64];
    long done = 0, errors = 0;
    double t0;

    base = getenv("UMS_URL");
    if (base == NULL || threads < 1 || threads > 64)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    t0 = now();
    for (int i = 0; i < threads; i++) {
        jobs[i] = (struct job){i, strcmp(mode, "refresh") == 0, 0, 0};
        pthread_create(&th[i], NULL, worker, &jobs[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        done += jobs[i].done;
        errors += jobs[i].errors;
    }
    t0 = now() - t0;
    printf("%s %ld in %.1f s = %.0f/s (%ld errors)\n", mode, done, secs, done / secs, errors);
    curl_global_cleanup();
    return errors > 0 ? 1 : 0;
}

/* ---- mixed: the soak's load ---- */

#define MINUTES_MAX 120

struct minute {
    double *ms; /* latencies, grown as they come */
    size_t n, cap;
    long e5xx, unexpected, late;
};

struct mixed_job {
    int id;
    double interval; /* seconds between this thread's starts; 0: none */
    struct minute m[MINUTES_MAX];
};

static double t_start;

static void sample(struct mixed_job *j, double at, double ms, long st, long want)
{
    int k = (int)((at - t_start) / 60);
    struct minute *m;

    if (k < 0 || k >= MINUTES_MAX)
        return;
    m = &j->m[k];
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 4096;
        double *p = realloc(m->ms, cap * sizeof(*p));
        if (p == NULL)
            return;
        m->ms = p;
        m->cap = cap;
    }
    m->ms[m->n++] = ms;
    if (st >= 500 || st == 0)
        m->e5xx++;
    else if (st != want)
        m->unexpected++;
}

/* One account's sign-up: its email, access and refresh tokens. */
static long mixed_signup(CURL *c, int id, long seq, char *email, size_t el, char *access,
                         char *refresh, struct buf *out)
{
    char body[512];
    long st;

    snprintf(email, el, "soak-%ld-%d-%d-%ld@example.com", (long)time(NULL), getpid(), id, seq);
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"soak passphrase 1\"}", email);
    st = post(c, "/auth/v1/signup", body, out);
    if (st == 200 && (field(out->p, "access_token", access, 4096) != 0 ||
                      field(out->p, "refresh_token", refresh, 128) != 0))
        st = -1;
    return st;
}

static void *mixed_worker(void *arg)
{
    struct mixed_job *j = arg;
    CURL *c = curl_easy_init();
    struct buf out;
    char email[128], body[512], *access = malloc(4096), refresh[128];
    double end = t_start + secs, next = t_start + j->interval * j->id / 64.0;
    long seq = 0;

    buf_init(&out, 1 << 20);
    if (c == NULL || access == NULL ||
        mixed_signup(c, j->id, seq++, email, sizeof(email), access, refresh, &out) != 200) {
        fprintf(stderr, "mixed: the first sign-up failed: %s\n", out.p ? out.p : "(no answer)");
        sample(j, now(), 0, 0, 200);
        goto done;
    }
    for (long i = 0;; i++) {
        double t0, t1;
        long st;
        int slot = (int)(i % 20);

        if (j->interval > 0) {
            double w = next - now();
            if (w > 0)
                usleep((useconds_t)(w * 1e6));
            else if (w < -1.0)
                j->m[(int)((now() - t_start) / 60) % MINUTES_MAX].late++;
            next += j->interval;
        }
        t0 = now();
        if (t0 >= end)
            break;
        if (slot == 0) {
            st = mixed_signup(c, j->id, seq++, email, sizeof(email), access, refresh, &out);
        } else if (slot <= 2) {
            snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"soak passphrase 1\"}",
                     email);
            st = post(c, "/auth/v1/token?grant_type=password", body, &out);
            if (st == 200 && field(out.p, "access_token", access, 4096) != 0)
                st = -1;
        } else if (slot <= 5) {
            snprintf(body, sizeof(body), "{\"refresh_token\":\"%s\"}", refresh);
            st = post(c, "/auth/v1/token?grant_type=refresh_token", body, &out);
            if (st == 200 && (field(out.p, "refresh_token", refresh, sizeof(refresh)) != 0 ||
                              field(out.p, "access_token", access, 4096) != 0))
                st = -1;
        } else {
            st = req(c, "/auth/v1/user", NULL, access, &out);
        }
        t1 = now();
        sample(j, t0, (t1 - t0) * 1e3, st, 200);
    }
done:
    buf_free(&out);
    free(access);
    curl_easy_cleanup(c);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int mixed_mode(int threads, double rate)
{
    pthread_t th[64];
    struct mixed_job *jobs = calloc(64, sizeof(*jobs));
    long total = 0, e5xx = 0, unexpected = 0;
    int minutes = (int)((secs + 59) / 60);

    base = getenv("UMS_URL");
    if (base == NULL || jobs == NULL || threads < 1 || threads > 64 || minutes > MINUTES_MAX)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    t_start = now();
    for (int i = 0; i < threads; i++) {
        jobs[i].id = i;
        jobs[i].interval = rate > 0 ? threads / rate : 0;
        pthread_create(&th[i], NULL, mixed_worker, &jobs[i]);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    for (int k = 0; k < minutes; k++) {
        struct minute all = {0};
        for (int i = 0; i < threads; i++) {
            struct minute *m = &jobs[i].m[k];
            double *p = realloc(all.ms, (all.n + m->n + 1) * sizeof(*p));
            if (p == NULL)
                return 1;
            all.ms = p;
            if (m->n > 0)
                memcpy(all.ms + all.n, m->ms, m->n * sizeof(*p));
            all.n += m->n;
            all.e5xx += m->e5xx;
            all.unexpected += m->unexpected;
            all.late += m->late;
            free(m->ms);
        }
        qsort(all.ms, all.n, sizeof(*all.ms), cmp_double);
        if (secs >= 60)
            printf("minute %d: %zu requests, %ld 5xx, %ld unexpected, %ld late, p50 %.1f ms, "
                   "p99 %.1f ms\n",
                   k + 1, all.n, all.e5xx, all.unexpected, all.late,
                   all.n ? all.ms[all.n / 2] : 0.0, all.n ? all.ms[(all.n * 99) / 100] : 0.0);
        total += (long)all.n;
        e5xx += all.e5xx;
        unexpected += all.unexpected;
        free(all.ms);
    }
    printf("mixed %ld in %.1f s = %.0f/s (%ld errors, %ld 5xx)\n", total, secs, total / secs,
           e5xx + unexpected, e5xx);
    free(jobs);
    curl_global_cleanup();
    return e5xx + unexpected > 0 ? 1 : 0;
}

/* Each process hashes for SECONDS with the production parameters. */
static int argon2_mode(int procs)
{
    int fds[64][2];
    long total = 0;

    for (int p = 0; p < procs; p++) {
        if (pipe(fds[p]) != 0)
            return 1;
        if (fork() == 0) {
            char out[256];
            /* The workers' setting: every argon2 area is mmapped and returned. */
            if (getenv("BENCH_MMAP") != NULL)
                mallopt(M_MMAP_THRESHOLD, 256 * 1024);
            long n = 0;
            double end = now() + secs;
            unsigned char salt[16] = "0123456789abcdef";
            while (now() < end) {
                if (getenv("BENCH_UMS") != NULL) {
                    /* ums's own path: the worker's allocator and PHC encoding. */
                    static const struct pw_params pp = {19456, 2, 1};
                    password_hash(out, &pp, "bench passphrase 1", 18);
                } else {
                    argon2_hash(2, 19456, 1, "bench passphrase 1", 18, salt, 16, NULL, 32, out,
                                sizeof(out), Argon2_id, ARGON2_VERSION_13);
                }
                n++;
            }
            if (write(fds[p][1], &n, sizeof(n)) != sizeof(n))
                _exit(1);
            _exit(0);
        }
    }
    for (int p = 0; p < procs; p++) {
        long n = 0;
        if (read(fds[p][0], &n, sizeof(n)) == sizeof(n))
            total += n;
        wait(NULL);
    }
    printf("argon2 %ld in %.1f s = %.1f/s (%d processes, m=19456 t=2 p=1)\n", total, secs,
           total / secs, procs);
    return 0;
}

int main(int argc, char **argv)
{
    int n;

    if (argc != 4 && !(argc == 5 && strcmp(argv[1], "mixed") == 0)) {
        fprintf(stderr, "usage: auth_bench argon2|login|refresh SECONDS N\n"
                        "       auth_bench mixed SECONDS THREADS [RATE]\n");
        return 2;
    }
    secs = strtod(argv[2], NULL);
    if (secs <= 0 || secs > (strcmp(argv[1], "mixed") == 0 ? 60.0 * MINUTES_MAX : 600))
        return 2;
    n = (int)strtol(argv[3], NULL, 10);
    if (strcmp(argv[1], "mixed") == 0)
        return mixed_mode(n, argc == 5 ? strtod(argv[4], NULL) : 0);
    if (strcmp(argv[1], "argon2") == 0)
        return argon2_mode(n > 0 && n <= 64 ? n : 1);
    return http_mode(argv[1], n);
}
