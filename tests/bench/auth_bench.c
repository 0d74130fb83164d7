/* auth_bench.c - load generator for the auth benchmark (tests/bench/bench_auth.sh).
 *
 *   auth_bench argon2 SECONDS PROCS          raw argon2id hashes per second
 *   auth_bench login SECONDS THREADS         POST /auth/v1/token?grant_type=password
 *   auth_bench refresh SECONDS THREADS       POST /auth/v1/token?grant_type=refresh_token
 *
 * HTTP modes talk to $UMS_URL through nginx; each thread signs up its own
 * account first and reuses one keep-alive connection. Prints one line:
 * "<mode> <count> in <seconds> s = <rate>/s (<errors> errors)". */
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

/* POSTs body to path; returns the status, the response in out. */
static long post(CURL *c, const char *path, const char *body, struct buf *out)
{
    char url[1024];
    long st = 0;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");

    snprintf(url, sizeof(url), "%s%s", base, path);
    buf_reset(out, 1 << 20);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    curl_slist_free_all(h);
    return st;
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

    if (argc != 4) {
        fprintf(stderr, "usage: auth_bench argon2|login|refresh SECONDS N\n");
        return 2;
    }
    secs = strtod(argv[2], NULL);
    if (secs <= 0 || secs > 600)
        return 2;
    n = (int)strtol(argv[3], NULL, 10);
    if (strcmp(argv[1], "argon2") == 0)
        return argon2_mode(n > 0 && n <= 64 ? n : 1);
    return http_mode(argv[1], n);
}
