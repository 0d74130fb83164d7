/* lat.c - request latency through nginx, for tests/bench/bench_users.sh.
 *
 *   lat URLFILE ROUNDS
 *
 * Sends GET $UMS_URL<path> for every path in URLFILE (one per line), ROUNDS
 * times over, one request at a time on one keep-alive connection, with
 * "Authorization: Bearer $BENCH_TOKEN". A line "POST <path> <json>" sends
 * that JSON body instead. BENCH_SOURCES=A.B (two octets) sends each request
 * from its own loopback address A.B.x.y (per-address limits stay out of the
 * way); BENCH_RAW=1 prints every latency (ms) on a line first;
 * BENCH_GAP_MS waits that long between requests. Prints
 * "n=<count> p50=<ms> p95=<ms> p99=<ms> max=<ms> errors=<non-2xx>". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#define PATHS_MAX 100000

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return s * n;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    const char *base = getenv("UMS_URL"), *token = getenv("BENCH_TOKEN");
    static char *paths[PATHS_MAX];
    char line[4096], url[4352], auth[8192];
    struct curl_slist *h = NULL;
    double *ms;
    long n = 0, rounds, total, errors = 0, k = 0;
    FILE *f;
    CURL *c;

    if (argc != 3 || base == NULL || token == NULL) {
        fprintf(stderr, "usage: UMS_URL=... BENCH_TOKEN=... lat URLFILE ROUNDS\n");
        return 2;
    }
    rounds = strtol(argv[2], NULL, 10);
    f = fopen(argv[1], "r");
    if (f == NULL || rounds < 1 || rounds > 1000)
        return 2;
    while (n < PATHS_MAX && fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] != '\0')
            paths[n++] = strdup(line);
    }
    fclose(f);
    if (n == 0)
        return 2;
    total = n * rounds;
    ms = calloc((size_t)total, sizeof(*ms));
    c = curl_easy_init();
    if (ms == NULL || c == NULL)
        return 1;
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    h = curl_slist_append(h, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    const char *sources = getenv("BENCH_SOURCES");
    int raw = getenv("BENCH_RAW") != NULL;
    long gap_ms = getenv("BENCH_GAP_MS") != NULL ? strtol(getenv("BENCH_GAP_MS"), NULL, 10) : 0;
    for (long r = 0; r < rounds; r++)
        for (long i = 0; i < n; i++) {
            long st = 0;
            double t0;
            const char *path = paths[i], *body = NULL;
            char one[4096];
            if (strncmp(path, "POST ", 5) == 0) {
                const char *sp = strchr(path + 5, ' ');
                snprintf(one, sizeof(one), "%.*s", sp != NULL ? (int)(sp - path - 5) : 0, path + 5);
                body = sp != NULL ? sp + 1 : "";
                path = one;
            }
            if (sources != NULL) {
                char src[64];
                snprintf(src, sizeof(src), "%s.%ld.%ld", sources, 1 + (k / 250) % 250, 1 + k % 250);
                curl_easy_setopt(c, CURLOPT_INTERFACE, src);
            }
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(c, CURLOPT_HTTPGET, body == NULL ? 1L : 0L);
            t0 = now_ms();
            snprintf(url, sizeof(url), "%s%s", base, path);
            curl_easy_setopt(c, CURLOPT_URL, url);
            if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
            ms[k] = now_ms() - t0;
            if (raw)
                printf("%.3f\n", ms[k]);
            k++;
            errors += st < 200 || st > 299;
            if (gap_ms > 0) {
                struct timespec gap = {gap_ms / 1000, (gap_ms % 1000) * 1000000L};
                nanosleep(&gap, NULL);
            }
        }
    qsort(ms, (size_t)total, sizeof(*ms), cmp);
    printf("n=%ld p50=%.2f p95=%.2f p99=%.2f max=%.2f errors=%ld\n", total, ms[total / 2],
           ms[(total * 95) / 100], ms[(total * 99) / 100], ms[total - 1], errors);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    for (long i = 0; i < n; i++)
        free(paths[i]);
    free(ms);
    return errors == 0 ? 0 : 1;
}
