/* test_http.c - black-box tests of the running stack through nginx (and, for
 * what nginx would never send, straight to the FastCGI socket). Run by
 * scripts/check after scripts/up, with .stack/env in the environment. */
#define CTEST_MAIN
#include "../ctest.h"

#include <signal.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "../../util/crypto.h"
#include "client.h"
#include "fcgi_client.h"
#include "stack.h"

#define WORKERS_MAX 64

static int workers(pid_t *out)
{
    pid_t master = stack_pid("ums-fcgi");
    return master > 0 ? children(master, "ums-fcgi", out, WORKERS_MAX) : 0;
}

static int configured_workers(void)
{
    const char *w = getenv("UMS_WORKERS");
    return w != NULL ? (int)strtol(w, NULL, 10) : 4;
}

CTEST(health, healthz)
{
    struct http_resp r;
    char v[256];
    ASSERT_EQ(http_get("/healthz", &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "{\"status\":\"ok\"}");
    ASSERT_EQ(resp_header(&r, "Content-Type", v, sizeof(v)), 0);
    ASSERT_STR_CONTAINS(v, "application/json");
    ASSERT_EQ(resp_header(&r, "X-Request-Id", v, sizeof(v)), 0);
    /* nginx's $request_id, or Apache's mod_unique_id */
    ASSERT_EQ(strlen(v), behind_apache() ? 27 : 32);
    http_resp_free(&r);
}

CTEST(health, head)
{
    struct http_resp r;
    ASSERT_EQ(http_req("HEAD", "/healthz", NULL, NULL, 0, NULL, &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(r.len, 0);
    http_resp_free(&r);
}

CTEST(health, readyz)
{
    struct http_resp r;
    struct json_object *o, *checks;
    ASSERT_EQ(http_get("/readyz", &r), 0);
    ASSERT_EQ(r.status, 200);
    o = jparse(&r);
    ASSERT_TRUE(json_object_object_get_ex(o, "checks", &checks));
    ASSERT_STR_EQ(jstr(checks, "postgres"), "ok");
    ASSERT_STR_EQ(jstr(checks, "redis"), "ok");
    json_object_put(o);
    http_resp_free(&r);
}

CTEST(health, client_request_id_is_not_trusted)
{
    const char *h[] = {"X-Request-Id: attacker-chosen", NULL};
    struct http_resp r;
    char v[256];
    ASSERT_EQ(http_req("GET", "/healthz", h, NULL, 0, NULL, &r), 0);
    ASSERT_EQ(resp_header(&r, "X-Request-Id", v, sizeof(v)), 0);
    ASSERT_TRUE(strcmp(v, "attacker-chosen") != 0);
    http_resp_free(&r);
}

CTEST(errors, unknown_paths)
{
    static const char *const paths[] = {"/api/v1/nope",
                                        "/api/v1/",
                                        "/healthz/",
                                        "/readyz/x",
                                        "/api/v1/%ff%fe",
                                        "/x",
                                        "/api/v1/users/1'%20OR%201=1/x/y"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct http_resp r;
        ASSERT_EQ(http_get(paths[i], &r), 0);
        ASSERT_ERROR(r, ERR_API, 404, "not_found");
        http_resp_free(&r);
    }
}

CTEST(errors, nul_in_uri)
{
    struct http_resp r;
    ASSERT_EQ(http_get("/api/v1/users/%00", &r), 0);
    /* Apache refuses a %00 in a path itself, as a missing file (its JSON
     * page); behind nginx, ums sees it and answers 400. */
    if (behind_apache())
        ASSERT_ERROR(r, ERR_API, 404, "not_found");
    else
        ASSERT_ERROR(r, ERR_API, 400, "bad_request");
    http_resp_free(&r);
}

CTEST(errors, auth_family_formats)
{
    struct http_resp r;
    char v[256];
    ASSERT_EQ(http_get("/auth/v1/nope", &r), 0);
    ASSERT_ERROR(r, ERR_AUTH, 404, "not_found");
    http_resp_free(&r);

    const char *h[] = {"X-Supabase-Api-Version: 2024-01-01", NULL};
    ASSERT_EQ(http_req("GET", "/auth/v1/nope", h, NULL, 0, NULL, &r), 0);
    ASSERT_ERROR(r, ERR_AUTH_2024, 404, "not_found");
    ASSERT_EQ(resp_header(&r, "X-Supabase-Api-Version", v, sizeof(v)), 0);
    ASSERT_STR_EQ(v, "2024-01-01");
    http_resp_free(&r);
}

CTEST(errors, method_not_allowed)
{
    static const char *const methods[] = {"POST", "PUT", "DELETE", "PATCH"};
    for (size_t i = 0; i < 4; i++) {
        struct http_resp r;
        char v[256];
        ASSERT_EQ(http_req(methods[i], "/healthz", NULL, "", 0, NULL, &r), 0);
        ASSERT_ERROR(r, ERR_API, 405, "method_not_allowed");
        ASSERT_EQ(resp_header(&r, "Allow", v, sizeof(v)), 0);
        ASSERT_STR_EQ(v, "GET, HEAD");
        http_resp_free(&r);
    }
}

CTEST(errors, body_on_bodiless_route)
{
    const char *h[] = {"Content-Type: application/json", NULL};
    struct http_resp r;
    ASSERT_EQ(http_req("GET", "/readyz", h, "{\"a\":1}", 7, NULL, &r), 0);
    ASSERT_ERROR(r, ERR_API, 413, "request_too_large");
    http_resp_free(&r);
}

CTEST(errors, body_past_web_server_cap)
{
    size_t n = 2 << 20;
    char *big = malloc(n);
    struct http_resp r;
    memset(big, 'x', n);
    const char *h[] = {"Content-Type: application/json", NULL};
    /* A route that takes a body: behind Apache, which streams the body to
     * ums, ums refuses it from its Content-Length (an unknown path would be
     * its 404 before a byte is read); nginx refuses it first. */
    ASSERT_EQ(http_req("PATCH", "/api/v1/users/me", h, big, n, NULL, &r), 0);
    free(big);
    ASSERT_ERROR(r, ERR_API, 413, "request_too_large");
    http_resp_free(&r);
}

CTEST(errors, authorization_16k)
{
    static char h[16 * 1024 + 64];
    const char *hs[] = {h, NULL};
    struct http_resp r;
    int n = snprintf(h, sizeof(h), "Authorization: Bearer ");
    memset(h + n, 'A', 16 * 1024);
    h[n + 16 * 1024] = '\0';
    ASSERT_EQ(http_req("GET", "/healthz", hs, NULL, 0, NULL, &r), 0);
    ASSERT_ERROR(r, ERR_API, 431, "request_header_too_large");
    http_resp_free(&r);
}

/* ---- HTTP caching of the public documents (fcgi/route_discovery.c) ---- */

/* The ETag ums must give body: the first 128 bits of its SHA-256, quoted. */
static void etag_of(char out[40], const char *body, size_t len)
{
    char hex[65];
    crypto_sha256_hex(hex, body, len);
    snprintf(out, 40, "\"%.32s\"", hex);
}

/* GET (or HEAD) path with If-None-Match inm (NULL: none). */
static int get_inm(const char *method, const char *path, const char *inm, struct http_resp *r)
{
    char h[512];
    const char *hs[] = {h, NULL};
    snprintf(h, sizeof(h), "If-None-Match: %s", inm != NULL ? inm : "");
    return http_req(method, path, inm != NULL ? hs : NULL, NULL, 0, NULL, r);
}

/* What went wrong, for check_cached. */
static char cache_why[1024];
static const char *cache_fail(struct http_resp *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const char *cache_fail(struct http_resp *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cache_why, sizeof(cache_why), fmt, ap);
    va_end(ap);
    http_resp_free(r);
    return cache_why;
}

/*
 * Checks one public document at path: a 200 with Cache-Control cc and the
 * ETag of its bytes; 304 without a body but with the same ETag and
 * Cache-Control for each If-None-Match that matches (exact, in a list,
 * weak, "*"; on GET and HEAD); 200 with the same body for each that does
 * not. Copies the ETag into etag. Returns NULL, or what went wrong.
 */
static const char *check_cached(const char *path, const char *cc, char etag[40])
{
    struct http_resp r;
    char v[256], want[40], list[128], weak[64], off[64], lower[128];
    const char *hits[4], *misses[3];

    if (get_inm("GET", path, NULL, &r) != 0 || r.status != 200 || r.len == 0)
        return cache_fail(&r, "GET %s: %ld", path, r.status);
    etag_of(want, r.body, r.len);
    snprintf(etag, 40, "%s", want);
    if (resp_header(&r, "ETag", v, sizeof(v)) != 0 || strcmp(v, want) != 0)
        return cache_fail(&r, "%s: ETag %s, the body's %s", path, v, want);
    if (resp_header(&r, "Cache-Control", v, sizeof(v)) != 0 || strcmp(v, cc) != 0)
        return cache_fail(&r, "%s: Cache-Control %s", path, v);
    http_resp_free(&r);

    snprintf(list, sizeof(list), "\"nope\", %s, \"other\"", want);
    snprintf(weak, sizeof(weak), "W/%s", want);
    hits[0] = want, hits[1] = list, hits[2] = weak, hits[3] = "*";
    for (int i = 0; i < 8; i++) {
        const char *method = i < 4 ? "GET" : "HEAD", *inm = hits[i % 4];
        if (get_inm(method, path, inm, &r) != 0)
            return cache_fail(&r, "%s %s: no answer", method, path);
        if (r.status != 304 || r.len != 0)
            return cache_fail(&r, "%s %s, If-None-Match %s: %ld with %zu bytes", method, path, inm,
                              r.status, r.len);
        if (resp_header(&r, "ETag", v, sizeof(v)) != 0 || strcmp(v, want) != 0)
            return cache_fail(&r, "304 for %s: ETag %s", inm, v);
        if (resp_header(&r, "Cache-Control", v, sizeof(v)) != 0 || strcmp(v, cc) != 0)
            return cache_fail(&r, "304 for %s: Cache-Control %s", inm, v);
        http_resp_free(&r);
    }

    /* A tag one character off, W/ in lower case (not the weak prefix), "". */
    snprintf(off, sizeof(off), "\"%.31s\"", want + 1);
    snprintf(lower, sizeof(lower), "\"a\", w/%s", want);
    misses[0] = off, misses[1] = lower, misses[2] = "\"\"";
    for (int i = 0; i < 3; i++) {
        if (get_inm("GET", path, misses[i], &r) != 0 || r.status != 200 || r.len == 0)
            return cache_fail(&r, "%s, If-None-Match %s: %ld", path, misses[i], r.status);
        etag_of(v, r.body, r.len);
        if (strcmp(v, want) != 0)
            return cache_fail(&r, "%s: another body", path);
        http_resp_free(&r);
    }
    return NULL;
}

CTEST(cache, jwks_public_with_etag_and_304)
{
    char a[40], b[40];
    const char *why = check_cached("/.well-known/jwks.json", "public, max-age=300", a);
    if (why != NULL)
        CTEST_FAIL_("%s", why);
    why = check_cached("/auth/v1/.well-known/jwks.json", "public, max-age=300", b);
    if (why != NULL)
        CTEST_FAIL_("%s", why);
    ASSERT_STR_EQ(a, b); /* one document at two paths */
}

CTEST(cache, settings_public_with_etag_and_304)
{
    char a[40], b[40];
    const char *why = check_cached("/auth/v1/settings", "public, max-age=60", a);
    if (why != NULL)
        CTEST_FAIL_("%s", why);
    check_cached("/.well-known/jwks.json", "public, max-age=300", b);
    ASSERT_TRUE(strcmp(a, b) != 0);
}

/* The value of header name in a raw FastCGI answer, copied into out. */
static const char *fcgi_header(const char *resp, const char *name, char *out, size_t n)
{
    const char *end = strstr(resp, "\r\n\r\n"), *p = resp;
    size_t nl = strlen(name);

    if (end == NULL)
        return NULL;
    while (p != NULL && p < end) {
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1, *e = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            snprintf(out, n, "%.*s", (int)(e - v), v);
            return out;
        }
        p = strstr(p, "\r\n");
        if (p != NULL)
            p += 2;
    }
    return NULL;
}

CTEST(cache, settings_etag_follows_the_body)
{
    /* A second ums-fcgi with require_email_confirmation on: another
     * mailer_autoconfirm, another body, another ETag, and the stack's
     * ETag is no validator for it. */
    char sock[1024], stack_tag[40], want[40], v[128], inm[64];
    char *out = NULL, *out2 = NULL;
    const char *p[] = {
        "REQUEST_METHOD", "GET", "REQUEST_URI", "/auth/v1/settings", NULL, NULL, NULL};
    struct http_resp r;

    ASSERT_EQ(http_get("/auth/v1/settings", &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_CONTAINS(r.body, "\"mailer_autoconfirm\":true");
    etag_of(stack_tag, r.body, r.len);
    http_resp_free(&r);

    pid_t pid =
        spawn_ums("settings-etag", "UMS_AUTH_REQUIRE_EMAIL_CONFIRMATION=true", sock, sizeof(sock));
    ASSERT_TRUE(pid > 0);
    int rc = fcgi_request(sock, p, "", 0, &out);
    snprintf(inm, sizeof(inm), "%s", stack_tag);
    p[4] = "HTTP_IF_NONE_MATCH", p[5] = inm;
    int rc2 = fcgi_request(sock, p, "", 0, &out2);
    int stopped = stop_spawned(pid, sock);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(rc2, 0);
    ASSERT_EQ(stopped, 0);

    ASSERT_EQ(fcgi_status(out), 200);
    const char *body = strstr(out, "\r\n\r\n");
    ASSERT_NOT_NULL(body);
    body += 4;
    ASSERT_STR_CONTAINS(body, "\"mailer_autoconfirm\":false");
    etag_of(want, body, strlen(body));
    ASSERT_STR_EQ(fcgi_header(out, "ETag", v, sizeof(v)), want);
    ASSERT_TRUE(strcmp(want, stack_tag) != 0);
    ASSERT_EQ(fcgi_status(out2), 200); /* the stack's ETag does not match */
    ASSERT_STR_CONTAINS(out2, "\"mailer_autoconfirm\":false");
    free(out);
    free(out2);
}

CTEST(cache, personal_answers_are_no_store)
{
    char email[128], v[256];
    struct session s;
    struct http_resp r;

    new_email(email, sizeof(email), "nostore");
    ASSERT_EQ(signup(email, "correct horse battery", &s), 0);
    ASSERT_EQ(req_bearer("GET", "/auth/v1/user", NULL, s.access, &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_CONTAINS(r.body, s.user_id);
    ASSERT_EQ(resp_header(&r, "Cache-Control", v, sizeof(v)), 0);
    ASSERT_STR_EQ(v, "no-store");
    ASSERT_NE(resp_header(&r, "ETag", v, sizeof(v)), 0);
    http_resp_free(&r);
    /* An If-None-Match is no reason for a 304 on a personal answer. */
    char auth[4200];
    const char *h[] = {auth, "If-None-Match: *", NULL};
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", s.access);
    ASSERT_EQ(http_req("GET", "/auth/v1/user", h, NULL, 0, src_for(199), &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(resp_header(&r, "Cache-Control", v, sizeof(v)), 0);
    ASSERT_STR_EQ(v, "no-store");
    http_resp_free(&r);
    /* Nor are errors cached, on a public route's family or a Bearer one. */
    ASSERT_EQ(http_get("/auth/v1/user", &r), 0);
    ASSERT_EQ(r.status, 401);
    ASSERT_EQ(resp_header(&r, "Cache-Control", v, sizeof(v)), 0);
    ASSERT_STR_EQ(v, "no-store");
    http_resp_free(&r);
    ASSERT_EQ(http_req("POST", "/auth/v1/settings", NULL, "", 0, NULL, &r), 0);
    ASSERT_EQ(r.status, 405);
    ASSERT_EQ(resp_header(&r, "Cache-Control", v, sizeof(v)), 0);
    ASSERT_STR_EQ(v, "no-store");
    http_resp_free(&r);
}

CTEST(nginx, cors_preflight)
{
    const char *ok[] = {"Origin: http://localhost:3000", "Access-Control-Request-Method: POST",
                        NULL};
    const char *evil[] = {"Origin: https://evil.example", "Access-Control-Request-Method: POST",
                          NULL};
    struct http_resp r;
    char v[512];
    ASSERT_EQ(http_req("OPTIONS", "/auth/v1/token", ok, NULL, 0, NULL, &r), 0);
    ASSERT_EQ(r.status, 204);
    ASSERT_EQ(resp_header(&r, "Access-Control-Allow-Origin", v, sizeof(v)), 0);
    ASSERT_STR_EQ(v, "http://localhost:3000");
    ASSERT_EQ(resp_header(&r, "Access-Control-Allow-Headers", v, sizeof(v)), 0);
    ASSERT_STR_CONTAINS(v, "X-Supabase-Api-Version");
    http_resp_free(&r);
    ASSERT_EQ(http_req("OPTIONS", "/api/v1/users", evil, NULL, 0, NULL, &r), 0);
    ASSERT_EQ(r.status, 204);
    ASSERT_NE(resp_header(&r, "Access-Control-Allow-Origin", v, sizeof(v)), 0);
    http_resp_free(&r);
}

CTEST(nginx, cors_on_responses)
{
    const char *ok[] = {"Origin: http://localhost:3000", NULL};
    struct http_resp r;
    char v[512];
    ASSERT_EQ(http_req("GET", "/api/v1/nope", ok, NULL, 0, NULL, &r), 0);
    ASSERT_EQ(r.status, 404);
    ASSERT_EQ(resp_header(&r, "Access-Control-Allow-Origin", v, sizeof(v)), 0);
    ASSERT_STR_EQ(v, "http://localhost:3000");
    http_resp_free(&r);
}

CTEST(nginx, metrics_only_from_loopback)
{
    struct http_resp r;
    ASSERT_EQ(http_req("GET", "/metrics", NULL, NULL, 0, "127.0.0.2", &r), 0);
    ASSERT_ERROR(r, ERR_API, 403, "forbidden");
    http_resp_free(&r);
    ASSERT_EQ(http_get("/metrics", &r), 0);
    ASSERT_NE(r.status, 403); /* reaches ums */
    http_resp_free(&r);
}

/* The value of one series line ("name{labels} value") of an exposition, or -1. */
static double series_value(const char *text, const char *series)
{
    size_t n = strlen(series);

    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return -1;
}

CTEST(metrics, other_methods_and_metrics_off_answer_json)
{
    char sock[1024], *out = NULL;
    const char *mp[] = {"REQUEST_METHOD", "GET", "REQUEST_URI", "/metrics", NULL};
    struct http_resp r;

    /* Only GET: a POST is a 405 in JSON with Allow, and a query changes nothing. */
    ASSERT_EQ(http_req("POST", "/metrics", NULL, "{}", 2, NULL, &r), 0);
    ASSERT_EQ(r.status, 405);
    ASSERT_STR_CONTAINS(r.body, "method_not_allowed");
    http_resp_free(&r);
    ASSERT_EQ(http_get("/metrics?name[]=%00&x=%ff", &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_CONTAINS(r.body, "# TYPE ums_signins_total counter");
    http_resp_free(&r);
    /* [metrics] enabled = false: a JSON 404, nothing counted into files. */
    pid_t pid = spawn_ums("metrics-off", "UMS_METRICS_ENABLED=false", sock, sizeof(sock));
    ASSERT_TRUE(pid > 0);
    int rc = -1;
    for (int i = 0; i < 50 && rc != 0; i++) {
        rc = fcgi_request(sock, mp, "", 0, &out);
        if (rc != 0)
            sleep_ms(100);
    }
    int stopped = stop_spawned(pid, sock);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(stopped, 0);
    ASSERT_EQ(fcgi_status(out), 404);
    ASSERT_STR_CONTAINS(out, "metrics are off");
    ASSERT_STR_CONTAINS(out, "application/json");
    free(out);
}

CTEST(metrics, two_pools_on_one_host_count_apart)
{
    /* A second pool (master and 2 workers) on its own socket, pid file and
     * metrics folder: its /metrics counts its requests only, and the
     * stack's pool none of them. */
    static const char healthz[] =
        "ums_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"}";
    char sock[1024], pidf[1024], dir[1024], cmd[16384], *out = NULL;
    const char *hp[] = {"REQUEST_METHOD", "GET", "REQUEST_URI", "/healthz", NULL};
    const char *mp[] = {"REQUEST_METHOD", "GET", "REQUEST_URI", "/metrics", NULL};
    struct http_resp r;
    double main_before, main_after, b_count, b_workers, b_master;
    long master = 0;
    int up = 0;
    FILE *f;

    snprintf(sock, sizeof(sock), "%s/run/poolb.sock", env_need("UMS_STACK"));
    snprintf(pidf, sizeof(pidf), "%s/run/poolb.pid", env_need("UMS_STACK"));
    snprintf(dir, sizeof(dir), "%s/run/poolb-metrics", env_need("UMS_STACK"));
    ASSERT_EQ(http_get("/metrics", &r), 0);
    main_before = series_value(r.body, healthz);
    http_resp_free(&r);
    snprintf(cmd, sizeof(cmd),
             "rm -rf '%s' && UMS_SERVER_LISTEN='%s' UMS_SERVER_PID_FILE='%s' UMS_METRICS_DIR='%s' "
             "UMS_SERVER_WORKERS=2 UMS_SERVER_AUTHORIZER_LISTEN= '%s/fcgi/ums-fcgi' --config '%s' "
             "--daemon",
             dir, sock, pidf, dir, env_need("UMS_BUILD_DIR"), env_need("UMS_CONFIG"));
    ASSERT_EQ(sh(cmd), 0);
    for (int i = 0; i < 50 && !up; i++) {
        sleep_ms(100);
        if (fcgi_request(sock, hp, "", 0, &out) == 0)
            up = fcgi_status(out) == 200;
        free(out);
        out = NULL;
    }
    for (int i = 0; up && i < 6; i++) {
        if (fcgi_request(sock, hp, "", 0, &out) != 0)
            up = 0;
        free(out);
        out = NULL;
    }
    if (up && fcgi_request(sock, mp, "", 0, &out) != 0)
        up = 0;
    f = fopen(pidf, "r");
    if (f != NULL) {
        if (fscanf(f, "%ld", &master) != 1)
            master = 0;
        fclose(f);
    }
    if (master > 1) {
        kill((pid_t)master, SIGTERM);
        for (int i = 0; i < 100 && kill((pid_t)master, 0) == 0; i++)
            sleep_ms(100);
    }
    ASSERT_TRUE(up);
    ASSERT_TRUE(master > 1);
    ASSERT_EQ(kill((pid_t)master, 0), -1);
    ASSERT_EQ(fcgi_status(out), 200);
    b_count = series_value(out, healthz);
    b_workers = series_value(out, "ums_processes{kind=\"worker\"}");
    b_master = series_value(out, "ums_processes{kind=\"master\"}");
    free(out);
    /* 1 to see it up, 6 more; /metrics itself is counted after it answers. */
    ASSERT_EQ(b_count, 7);
    ASSERT_EQ(b_workers, 2);
    ASSERT_EQ(b_master, 1);
    ASSERT_EQ(http_get("/metrics", &r), 0);
    main_after = series_value(r.body, healthz);
    http_resp_free(&r);
    ASSERT_EQ(main_after, main_before);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    sh(cmd);
}

CTEST(nginx, a_rate_limited_link_leaves_no_token_in_the_error_log)
{
    /* nginx logs a refusal with the whole request line, query included: a
     * verification link's token must not land in the error log (nor in
     * Apache's, where mod_qos logs its refusals). */
    char token[64], path[160], cmd[512], out[32], src[32];
    unsigned r;
    int limited = 0;
    getrandom(&r, sizeof(r), 0);
    snprintf(token, sizeof(token), "leaktest%08x%08x", r, r ^ 0x5a5a5a5au);
    snprintf(src, sizeof(src), "127.0.4.%u", r % 200 + 20);
    snprintf(path, sizeof(path), "/auth/v1/verify?token=%s&type=signup", token);
    for (int i = 0; i < 40 && !limited; i++) {
        struct http_resp resp;
        ASSERT_EQ(http_req("GET", path, NULL, NULL, 0, src, &resp), 0);
        limited = resp.status == 429;
        http_resp_free(&resp);
    }
    ASSERT_TRUE(limited);
    snprintf(cmd, sizeof(cmd), "grep -c '%s' \"$UMS_WEB_ERROR_LOG\" || true", token);
    ASSERT_EQ(sh_out(cmd, out, sizeof(out)), 0);
    ASSERT_EQ((int)strtol(out, NULL, 10), 0);
}

CTEST(nginx, credential_routes_rate_limited_per_ip)
{
    /* nginx's coarse limit: 5 r/s with a burst of 20 on /auth/v1/token, per
     * address. A fresh loopback source keeps other tests unaffected. */
    int limited = 0;
    for (int i = 0; i < 40 && !limited; i++) {
        struct http_resp r;
        ASSERT_EQ(http_req("POST", "/auth/v1/token", NULL, "", 0, "127.0.3.7", &r), 0);
        if (r.status == 429) {
            char v[64];
            struct json_object *o = jparse(&r);
            limited = 1;
            ASSERT_STR_EQ(jstr(o, "code"), "over_request_rate_limit");
            json_object_put(o);
            ASSERT_EQ(resp_header(&r, "Retry-After", v, sizeof(v)), 0);
        }
        http_resp_free(&r);
    }
    ASSERT_TRUE(limited);
    /* Another address is not affected. */
    struct http_resp r;
    ASSERT_EQ(http_req("POST", "/auth/v1/token", NULL, "", 0, "127.0.3.8", &r), 0);
    ASSERT_NE(r.status, 429);
    http_resp_free(&r);
}

CTEST(logs, json_lines_with_request_id)
{
    char path[4096], line[8192], last_web[8192] = "", last_ums[8192] = "";
    static const char tp[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    char tph[128];
    const char *hdr[] = {tph, NULL};
    struct http_resp r;
    char rid[128];
    FILE *f;
    snprintf(tph, sizeof(tph), "traceparent: %s", tp);
    ASSERT_EQ(http_req("GET", "/healthz?token=secret-in-query", hdr, NULL, 0, NULL, &r), 0);
    ASSERT_EQ(resp_header(&r, "X-Request-Id", rid, sizeof(rid)), 0);
    http_resp_free(&r);
    sleep_ms(behind_apache() ? 1000 : 200); /* Apache's piped logger writes a moment later */
    snprintf(path, sizeof(path), "%s", env_need("UMS_ACCESS_LOG"));
    f = fopen(path, "r");
    ASSERT_NOT_NULL(f);
    while (fgets(line, sizeof(line), f) != NULL)
        if (strstr(line, rid) != NULL)
            snprintf(last_web, sizeof(last_web), "%s", line);
    fclose(f);
    snprintf(path, sizeof(path), "%s/log/ums.log", env_need("UMS_STACK"));
    f = fopen(path, "r");
    ASSERT_NOT_NULL(f);
    while (fgets(line, sizeof(line), f) != NULL)
        if (strstr(line, rid) != NULL)
            snprintf(last_ums, sizeof(last_ums), "%s", line);
    fclose(f);
    struct json_object *n = json_tokener_parse(last_web), *u = json_tokener_parse(last_ums);
    ASSERT_NOT_NULL(n);
    ASSERT_NOT_NULL(u);
    /* The same facts under the same Elastic Common Schema names. */
    ASSERT_STR_EQ(jstr(n, "http.request.id"), rid);
    ASSERT_STR_EQ(jstr(u, "http.request.id"), rid);
    ASSERT_STR_EQ(jstr(u, "url.path"), "/healthz");
    ASSERT_STR_EQ(jstr(n, "url.path"), "/healthz");
    ASSERT_STR_EQ(jstr(u, "ums.route"), "/healthz");
    ASSERT_STR_EQ(jstr(u, "service.name"), "ums-fcgi");
    ASSERT_STR_EQ(jstr(u, "log.level"), "info");
    ASSERT_STR_EQ(jstr(u, "http.request.method"), "GET");
    ASSERT_STR_EQ(jstr(n, "http.request.method"), "GET");
    ASSERT_STR_EQ(jstr(u, "trace.id"), "4bf92f3577b34da6a3ce929d0e0e4736");
    ASSERT_STR_EQ(jstr(u, "span.id"), "00f067aa0ba902b7");
    ASSERT_STR_EQ(jstr(n, "trace.id"), "4bf92f3577b34da6a3ce929d0e0e4736");
    ASSERT_NOT_NULL(jstr(u, "@timestamp"));
    ASSERT_NOT_NULL(jstr(n, "@timestamp"));
    struct json_object *st = NULL, *dur = NULL, *pid = NULL;
    ASSERT_TRUE(json_object_object_get_ex(u, "http.response.status_code", &st));
    ASSERT_TRUE(json_object_is_type(st, json_type_int));
    ASSERT_EQ(json_object_get_int(st), 200);
    ASSERT_TRUE(json_object_object_get_ex(n, "http.response.status_code", &st));
    ASSERT_EQ(json_object_get_int(st), 200);
    ASSERT_TRUE(json_object_object_get_ex(u, "process.pid", &pid));
    ASSERT_TRUE(json_object_is_type(pid, json_type_int));
    ASSERT_STR_EQ(jstr(u, "client.ip"), "127.0.0.1");
    ASSERT_STR_EQ(jstr(n, "client.ip"), "127.0.0.1");
    /* event.duration: nanoseconds, an integer, in both. */
    ASSERT_TRUE(json_object_object_get_ex(u, "event.duration", &dur));
    ASSERT_TRUE(json_object_is_type(dur, json_type_int));
    ASSERT_TRUE(json_object_get_int64(dur) > 1000);
    ASSERT_TRUE(json_object_object_get_ex(n, "event.duration", &dur));
    ASSERT_TRUE(json_object_is_type(dur, json_type_int));
    ASSERT_TRUE(strstr(last_web, "secret-in-query") == NULL);
    ASSERT_TRUE(strstr(last_ums, "secret-in-query") == NULL);
    json_object_put(n);
    json_object_put(u);
}

CTEST(logs, a_malformed_traceparent_is_ignored)
{
    static const char *const bad[] = {
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",   /* zero trace id */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   /* zero parent id */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   /* upper case */
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   /* version ff */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", /* 00 is 55 long */
        "00-\"};{-00f067aa0ba902b7-01",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char tph[128];
        const char *hdr[] = {tph, NULL};
        struct http_resp r;
        char rid[128], line[8192], last[8192] = "", path[4096];
        FILE *f;
        snprintf(tph, sizeof(tph), "traceparent: %s", bad[i]);
        ASSERT_EQ(http_req("GET", "/healthz", hdr, NULL, 0, NULL, &r), 0);
        ASSERT_EQ(r.status, 200);
        ASSERT_EQ(resp_header(&r, "X-Request-Id", rid, sizeof(rid)), 0);
        http_resp_free(&r);
        sleep_ms(100);
        snprintf(path, sizeof(path), "%s/log/ums.log", env_need("UMS_STACK"));
        f = fopen(path, "r");
        ASSERT_NOT_NULL(f);
        while (fgets(line, sizeof(line), f) != NULL)
            if (strstr(line, rid) != NULL)
                snprintf(last, sizeof(last), "%s", line);
        fclose(f);
        struct json_object *u = json_tokener_parse(last);
        ASSERT_NOT_NULL(u);
        /* The web server's own trace context replaces it, or there is none. */
        ASSERT_TRUE(jstr(u, "trace.id") == NULL ||
                    strcmp(jstr(u, "trace.id"), "4bf92f3577b34da6a3ce929d0e0e4736") != 0);
        json_object_put(u);
    }
}

/* Sends raw FastCGI and returns the status; *body_code gets the JSON "code". */
static int raw(const char *const *params, const char *body, size_t len, char *code, size_t clen)
{
    char *out = NULL;
    int st;
    if (fcgi_request(env_need("UMS_FCGI_SOCKET"), params, body, len, &out) != 0)
        return -1;
    st = fcgi_status(out);
    code[0] = '\0';
    const char *b = strstr(out, "\r\n\r\n");
    struct json_object *o = b != NULL ? json_tokener_parse(b + 4) : NULL;
    if (jstr(o, "code") != NULL)
        snprintf(code, clen, "%s", jstr(o, "code"));
    json_object_put(o);
    free(out);
    return st;
}

CTEST(fastcgi, hostile_framing_without_worker_restart)
{
    pid_t before[WORKERS_MAX], after[WORKERS_MAX];
    int nb = workers(before), na;
    char code[64];
    static const struct {
        const char *method, *uri, *clen, *ctype, *body;
        int status;
        const char *code;
    } cases[] = {
        {"GET", "/healthz", "-1", NULL, "", 400, "bad_request"},
        {"GET", "/healthz", "abc", NULL, "", 400, "bad_request"},
        {"GET", "/healthz", "99999999999999999999", NULL, "", 400, "bad_request"},
        {"GET", "/healthz", "100", NULL, "short", 413, "request_too_large"},
        {"POST", "/healthz", "5", "application/json", "{}", 405, "method_not_allowed"},
        {"BREW", "/healthz", "", NULL, "", 405, "method_not_allowed"},
        {"GET", "relative", "", NULL, "", 400, "bad_request"},
        {"GET", "/nope", "1000000000", NULL, "", 404, "not_found"},
    };
    ASSERT_TRUE(nb > 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *p[16];
        int k = 0;
        p[k++] = "REQUEST_METHOD";
        p[k++] = cases[i].method;
        p[k++] = "REQUEST_URI";
        p[k++] = cases[i].uri;
        p[k++] = "REMOTE_ADDR";
        p[k++] = "127.0.0.1";
        p[k++] = "CONTENT_LENGTH";
        p[k++] = cases[i].clen;
        if (cases[i].ctype != NULL) {
            p[k++] = "CONTENT_TYPE";
            p[k++] = cases[i].ctype;
        }
        p[k] = NULL;
        int st = raw(p, cases[i].body, strlen(cases[i].body), code, sizeof(code));
        if (st != cases[i].status || strcmp(code, cases[i].code) != 0)
            CTEST_FAIL_("case %zu: got %d %s", i, st, code);
    }
    /* No request-uri at all, and no parameters at all. */
    const char *none[] = {NULL};
    ASSERT_EQ(raw(none, "", 0, code, sizeof(code)), 400);
    na = workers(after);
    ASSERT_EQ(na, nb);
    for (int i = 0; i < nb; i++) {
        int found = 0;
        for (int j = 0; j < na; j++)
            found |= before[i] == after[j];
        if (!found)
            CTEST_FAIL_("worker %ld was replaced", (long)before[i]);
    }
}

/* The FastCGI AUTHORIZER role, as mod_authnz_fcgi sends it: over loopback
 * TCP to [server] authorizer_listen, no FCGI_STDIN record at all, the
 * protected request's method, path and headers. That port serves nothing
 * else; the unix socket answers the role too (mod_fcgid's access checker). */
CTEST(fastcgi, the_authorizer_role_and_its_port)
{
    char addr[64], email[128], auth[4200], want[128], *out = NULL;
    struct session s;
    snprintf(addr, sizeof(addr), "127.0.0.1:%s", env_need("UMS_AUTHZ_PORT"));
    new_email(email, sizeof(email), "authz");
    ASSERT_EQ(signup(email, "correct horse battery", &s), 0);
    snprintf(auth, sizeof(auth), "Bearer %s", s.access);
    const char *good[] = {"FCGI_ROLE",
                          "AUTHORIZER",
                          "REQUEST_METHOD",
                          "POST",
                          "REQUEST_URI",
                          "/protected/upload?x=1",
                          "CONTENT_LENGTH",
                          "100",
                          "REMOTE_ADDR",
                          "127.0.0.1",
                          "HTTP_AUTHORIZATION",
                          auth,
                          NULL};
    /* A POST with a body it never sends: answered at once, not waited on. */
    ASSERT_EQ(fcgi_request_role(addr, 2, 0, good, NULL, 0, &out), 0);
    ASSERT_EQ(fcgi_status(out), 200);
    snprintf(want, sizeof(want), "Variable-X-User-Id: %s\r\n", s.user_id);
    ASSERT_STR_CONTAINS(out, want);
    ASSERT_STR_CONTAINS(out, "Variable-X-User-Role: user\r\n");
    ASSERT_STR_CONTAINS(out, "Variable-X-Session-Id: ");
    ASSERT_TRUE(strstr(out, "\nX-User-Id:") == NULL);
    free(out);
    /* The same on the pool's unix socket (mod_fcgid's access checker). */
    ASSERT_EQ(fcgi_request_role(env_need("UMS_FCGI_SOCKET"), 2, 1, good, NULL, 0, &out), 0);
    ASSERT_EQ(fcgi_status(out), 200);
    ASSERT_STR_CONTAINS(out, want);
    free(out);
    /* No token, a bad one: 401 in JSON, which Apache passes to the client. */
    const char *none[] = {"FCGI_ROLE",   "AUTHORIZER", "REQUEST_METHOD", "GET", "REQUEST_URI",
                          "/protected/", NULL};
    ASSERT_EQ(fcgi_request_role(addr, 2, 0, none, NULL, 0, &out), 0);
    ASSERT_EQ(fcgi_status(out), 401);
    ASSERT_STR_CONTAINS(out, "no_authorization");
    ASSERT_TRUE(strstr(out, "Variable-") == NULL);
    free(out);
    const char *bad[] = {"FCGI_ROLE",   "AUTHORIZER",  "REQUEST_METHOD",     "GET",
                         "REQUEST_URI", "/protected/", "HTTP_AUTHORIZATION", "Bearer x.y.z",
                         NULL};
    ASSERT_EQ(fcgi_request_role(addr, 2, 0, bad, NULL, 0, &out), 0);
    ASSERT_EQ(fcgi_status(out), 401);
    free(out);
    /* A responder on the authorizer port: 403, whatever it asks. */
    const char *resp[] = {"REQUEST_METHOD", "GET", "REQUEST_URI", "/healthz", NULL};
    ASSERT_EQ(fcgi_request_role(addr, 1, 1, resp, NULL, 0, &out), 0);
    ASSERT_EQ(fcgi_status(out), 403);
    free(out);
    const char *resp2[] = {"REQUEST_METHOD",     "GET", "REQUEST_URI", "/auth/v1/user",
                           "HTTP_AUTHORIZATION", auth,  NULL};
    ASSERT_EQ(fcgi_request_role(addr, 1, 1, resp2, NULL, 0, &out), 0);
    ASSERT_EQ(fcgi_status(out), 403);
    ASSERT_TRUE(strstr(out, s.user_id) == NULL);
    free(out);
    /* The FILTER role is not one ums plays. */
    ASSERT_EQ(fcgi_request_role(env_need("UMS_FCGI_SOCKET"), 3, 1, resp, NULL, 0, &out), 0);
    ASSERT_EQ(fcgi_status(out), 400);
    free(out);
}

CTEST(fastcgi, short_body_on_json_route_shape)
{
    /* A body shorter than CONTENT_LENGTH on a route that takes none is 413 by
     * the rejection order; the pipeline for JSON routes is covered by
     * tests/unit/test_dispatch. Here: a huge Content-Length is refused before
     * the worker reads anything, and the worker keeps serving. */
    const char *p[] = {"REQUEST_METHOD", "GET",        "REQUEST_URI", "/readyz",
                       "CONTENT_LENGTH", "1073741824", NULL};
    char code[64];
    ASSERT_EQ(raw(p, "", 0, code, sizeof(code)), 413);
    ASSERT_STR_EQ(code, "request_too_large");
    ASSERT_EQ(wait_status("/healthz", 200, 5), 0);
}

CTEST(workers, sigkill_is_replaced)
{
    pid_t w[WORKERS_MAX], now[WORKERS_MAX];
    int n = workers(w), ok = 0;
    ASSERT_TRUE(n > 0);
    ASSERT_EQ(kill(w[0], SIGKILL), 0);
    for (int i = 0; i < 50; i++) {
        struct http_resp r;
        if (http_get("/healthz", &r) == 0 && r.status == 200)
            ok++;
        http_resp_free(&r);
    }
    ASSERT_EQ(ok, 50);
    for (int t = 0; t < 50; t++) {
        int m = workers(now), gone = 1;
        for (int i = 0; i < m; i++)
            gone &= now[i] != w[0];
        if (m == n && gone)
            return;
        sleep_ms(100);
    }
    CTEST_FAIL_("worker %ld was not replaced", (long)w[0]);
}

CTEST(workers, sighup_replaces_all_without_failures)
{
    pid_t old[WORKERS_MAX], now[WORKERS_MAX];
    int n = workers(old), ok = 0, total = 0;
    ASSERT_EQ(n, configured_workers());
    ASSERT_EQ(kill(stack_pid("ums-fcgi"), SIGHUP), 0);
    for (int i = 0; i < 100; i++, total++) {
        struct http_resp r;
        if (http_get("/readyz", &r) == 0 && r.status == 200)
            ok++;
        http_resp_free(&r);
    }
    ASSERT_EQ(ok, total);
    for (int t = 0; t < 100; t++) {
        int m = workers(now), overlap = 0;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                overlap |= now[i] == old[j];
        if (m == n && !overlap)
            return;
        sleep_ms(100);
    }
    CTEST_FAIL_("old workers still running after SIGHUP");
}

CTEST(deps, readyz_follows_redis)
{
    struct http_resp r;
    struct json_object *o, *checks;
    char v[64];
    pid_t redis = stack_pid("redis");
    ASSERT_TRUE(redis > 0);
    ASSERT_EQ(kill(redis, SIGTERM), 0);
    ASSERT_EQ(wait_status("/readyz", 503, 10), 0);
    ASSERT_EQ(http_get("/readyz", &r), 0);
    ASSERT_ERROR(r, ERR_API, 503, "service_unavailable");
    ASSERT_STR_CONTAINS(r.body, "redis");
    o = jparse(&r);
    ASSERT_TRUE(json_object_object_get_ex(o, "checks", &checks));
    ASSERT_STR_EQ(jstr(checks, "redis"), "unavailable");
    ASSERT_STR_EQ(jstr(checks, "postgres"), "ok");
    json_object_put(o);
    ASSERT_EQ(resp_header(&r, "Retry-After", v, sizeof(v)), 0);
    http_resp_free(&r);
    /* The process itself is fine. */
    ASSERT_EQ(http_get("/healthz", &r), 0);
    ASSERT_EQ(r.status, 200);
    http_resp_free(&r);
    ASSERT_EQ(sh("./scripts/up >/dev/null"), 0);
    ASSERT_EQ(wait_status("/readyz", 200, 10), 0);
}

CTEST(deps, readyz_follows_postgres)
{
    struct http_resp r;
    struct json_object *o, *checks;
    ASSERT_EQ(sh("./scripts/down postgres >/dev/null"), 0);
    ASSERT_EQ(wait_status("/readyz", 503, 10), 0);
    ASSERT_EQ(http_get("/readyz", &r), 0);
    o = jparse(&r);
    ASSERT_TRUE(json_object_object_get_ex(o, "checks", &checks));
    ASSERT_STR_EQ(jstr(checks, "postgres"), "unavailable");
    ASSERT_STR_EQ(jstr(checks, "redis"), "ok");
    json_object_put(o);
    http_resp_free(&r);
    ASSERT_EQ(sh("./scripts/up >/dev/null"), 0);
    /* Same workers, no restart: the next request reconnects. */
    ASSERT_EQ(wait_status("/readyz", 200, 10), 0);
}

static void pause_and_stop(void *ud)
{
    pid_t master = *(pid_t *)ud;
    sleep_ms(300); /* a worker has accepted the connection and waits for the rest */
    kill(master, SIGTERM);
    sleep_ms(500);
}

CTEST(workers, sigterm_finishes_in_flight_request)
{
    pid_t master = stack_pid("ums-fcgi");
    const char *p[] = {"REQUEST_METHOD", "GET",       "REQUEST_URI", "/healthz",
                       "REMOTE_ADDR",    "127.0.0.1", NULL};
    char *out = NULL;
    ASSERT_TRUE(master > 0);
    ASSERT_EQ(
        fcgi_request_paused(env_need("UMS_FCGI_SOCKET"), p, "", 0, pause_and_stop, &master, &out),
        0);
    ASSERT_EQ(fcgi_status(out), 200);
    ASSERT_STR_CONTAINS(out, "{\"status\":\"ok\"}");
    free(out);
    for (int i = 0; i < 50 && kill(master, 0) == 0; i++)
        sleep_ms(100);
    ASSERT_NE(kill(master, 0), 0); /* the master exited once the request was done */
    ASSERT_EQ(sh("./scripts/up >/dev/null"), 0);
    ASSERT_EQ(wait_status("/readyz", 200, 10), 0);
}

CTEST(spawned, serves_inherited_socket)
{
    char sock[1024], *out = NULL;
    const char *p[] = {"REQUEST_METHOD", "GET", "REQUEST_URI", "/readyz", NULL};
    pid_t pid = spawn_ums("spawned-test", "", sock, sizeof(sock));
    ASSERT_TRUE(pid > 0);
    int rc = fcgi_request(sock, p, "", 0, &out);
    int st = out != NULL ? fcgi_status(out) : -1;
    free(out);
    int stopped = stop_spawned(pid, sock);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(st, 200);
    ASSERT_EQ(stopped, 0);
}

/* Runs umsctl with args; its output goes to out (at most outlen bytes). */
static int umsctl(const char *args, char *out, size_t outlen)
{
    char cmd[8192];
    FILE *p;
    size_t n;
    snprintf(cmd, sizeof(cmd), "'%s/cli/umsctl' %s 2>&1", env_need("UMS_BUILD_DIR"), args);
    p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

CTEST(cli, config_check_names_bad_key)
{
    char path[] = "/tmp/ums-cfg-XXXXXX", args[256], out[4096];
    int fd = mkstemp(path);
    ASSERT_TRUE(fd >= 0);
    ASSERT_TRUE(write(fd, "[server]\nworkers = 2\n[redis]\nprot = 1\n", 38) == 38);
    close(fd);
    snprintf(args, sizeof(args), "--config %s config check", path);
    int rc = umsctl(args, out, sizeof(out));
    unlink(path);
    ASSERT_NE(rc, 0);
    ASSERT_STR_CONTAINS(out, "prot");
    ASSERT_STR_CONTAINS(out, ":4");
    ASSERT_EQ(umsctl("config check", out, sizeof(out)), 0); /* the stack's own */
    ASSERT_STR_CONTAINS(out, "ok");
}

CTEST(cli, passwords_stay_out_of_ps_and_config_show)
{
    char out[4096];
    /* A password is never an argument (ps shows those to every user). */
    ASSERT_NE(
        umsctl("user add --email ps-leak@example.com --password 'visible in ps'", out, sizeof(out)),
        0);
    ASSERT_STR_CONTAINS(out, "--password-file");
    ASSERT_EQ(sh("printf 'correct horse battery\\n' | \"$UMS_BUILD_DIR/cli/umsctl\" --config "
                 "\"$UMS_CONFIG\" user add --email \"pwfile-$$-$(date +%s%N)@example.com\" "
                 "--password-file - >/dev/null"),
              0);
    /* config show masks a password written into the database URL. */
    ASSERT_EQ(sh_out("UMS_DATABASE_URL='postgresql://ums:hunter2-in-url@127.0.0.1:1/ums' "
                     "\"$UMS_BUILD_DIR/cli/umsctl\" --config \"$UMS_CONFIG\" config show",
                     out, sizeof(out)),
              0);
    ASSERT_TRUE(strstr(out, "hunter2") == NULL);
    ASSERT_STR_CONTAINS(out, "postgresql://ums:(set)@127.0.0.1:1/ums");
    ASSERT_EQ(sh_out("UMS_DATABASE_URL='host=127.0.0.1 password=hunter2kv dbname=ums' "
                     "\"$UMS_BUILD_DIR/cli/umsctl\" --config \"$UMS_CONFIG\" config show",
                     out, sizeof(out)),
              0);
    ASSERT_TRUE(strstr(out, "hunter2") == NULL);
}

CTEST(cli, status_on_one_screen_and_as_json)
{
    char cmd[4096], out[8192];
    struct json_object *o, *pool, *v;
    snprintf(cmd, sizeof(cmd), "status --dir '%s/sql'", env_need("UMS_ROOT"));
    ASSERT_EQ(umsctl(cmd, out, sizeof(out)), 0);
    ASSERT_STR_CONTAINS(out, "postgresql  ok");
    ASSERT_STR_CONTAINS(out, "redis       ok");
    ASSERT_STR_CONTAINS(out, " 0 pending");
    ASSERT_STR_CONTAINS(out, "pool        running (master ");
    ASSERT_STR_CONTAINS(out, "dead letters");
    snprintf(cmd, sizeof(cmd), "status --json --dir '%s/sql'", env_need("UMS_ROOT"));
    ASSERT_EQ(umsctl(cmd, out, sizeof(out)), 0);
    o = json_tokener_parse(out);
    ASSERT_NOT_NULL(o);
    ASSERT_TRUE(json_object_object_get_ex(o, "pool", &pool));
    ASSERT_TRUE(json_object_object_get_ex(pool, "workers", &v));
    /* The stack's pool: [server] workers, each with its metrics file. */
    ASSERT_TRUE(json_object_get_int(v) >= 1);
    ASSERT_TRUE(json_object_object_get_ex(pool, "master_pid", &v));
    ASSERT_TRUE(json_object_get_int(v) > 1);
    ASSERT_TRUE(json_object_object_get_ex(o, "postgres", &v));
    ASSERT_TRUE(json_object_get_boolean(v));
    ASSERT_TRUE(json_object_object_get_ex(o, "events", &v));
    ASSERT_TRUE(json_object_is_type(v, json_type_object));
    json_object_put(o);
    /* Pending migrations make it fail: a folder with one more. */
    {
        char dir[] = "/tmp/ums-sql-st-XXXXXX";
        ASSERT_NOT_NULL(mkdtemp(dir));
        snprintf(cmd, sizeof(cmd),
                 "cp '%s'/sql/*.sql '%s/' && echo 'SELECT 1;' > '%s/999_later.sql'",
                 env_need("UMS_ROOT"), dir, dir);
        ASSERT_EQ(sh(cmd), 0);
        snprintf(cmd, sizeof(cmd), "status --dir '%s'", dir);
        ASSERT_EQ(umsctl(cmd, out, sizeof(out)), 1);
        ASSERT_STR_CONTAINS(out, " 1 pending");
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        sh(cmd);
    }
}

CTEST(cli, migrate_is_idempotent_and_refuses_changed_files)
{
    char dir[] = "/tmp/ums-sql-XXXXXX", cmd[8192], out[4096];
    ASSERT_NOT_NULL(mkdtemp(dir));
    snprintf(cmd, sizeof(cmd), "migrate --dir '%s/sql'", env_need("UMS_ROOT"));
    ASSERT_EQ(umsctl(cmd, out, sizeof(out)), 0);
    ASSERT_STR_CONTAINS(out, "up to date");
    /* A changed applied file stops the run and names the file. */
    snprintf(cmd, sizeof(cmd), "cp '%s'/sql/*.sql '%s'/ && echo '-- edited' >> '%s/001_core.sql'",
             env_need("UMS_ROOT"), dir, dir);
    ASSERT_EQ(sh(cmd), 0);
    snprintf(cmd, sizeof(cmd), "migrate --dir '%s'", dir);
    int rc = umsctl(cmd, out, sizeof(out));
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    sh(cmd);
    ASSERT_NE(rc, 0);
    ASSERT_STR_CONTAINS(out, "001_core.sql");
    ASSERT_STR_CONTAINS(out, "changed");
}

CTEST(cli, migrate_applies_new_file_in_a_transaction)
{
    char dir[] = "/tmp/ums-sql-XXXXXX", cmd[8192], out[4096];
    ASSERT_NOT_NULL(mkdtemp(dir));
    /* A failing migration leaves nothing behind: its table is rolled back. */
    snprintf(cmd, sizeof(cmd),
             "cp '%s'/sql/*.sql '%s'/ && printf 'CREATE TABLE ums_test_t (x int);\nSELECT 1/0;\n' "
             "> '%s/999_broken.sql'",
             env_need("UMS_ROOT"), dir, dir);
    ASSERT_EQ(sh(cmd), 0);
    snprintf(cmd, sizeof(cmd), "migrate --dir '%s'", dir);
    ASSERT_NE(umsctl(cmd, out, sizeof(out)), 0);
    ASSERT_STR_CONTAINS(out, "999_broken.sql");
    snprintf(cmd, sizeof(cmd),
             "printf 'CREATE TABLE ums_test_t (x int);\nDROP TABLE ums_test_t;\n' "
             "> '%s/999_broken.sql'",
             dir);
    ASSERT_EQ(sh(cmd), 0);
    snprintf(cmd, sizeof(cmd), "migrate --dir '%s'", dir);
    ASSERT_EQ(umsctl(cmd, out, sizeof(out)), 0);
    ASSERT_STR_CONTAINS(out, "applied 1");
    ASSERT_EQ(umsctl(cmd, out, sizeof(out)), 0);
    ASSERT_STR_CONTAINS(out, "up to date");
    /* The real directory no longer has 999: the run refuses to go on. */
    snprintf(cmd, sizeof(cmd), "migrate --dir '%s/sql'", env_need("UMS_ROOT"));
    ASSERT_NE(umsctl(cmd, out, sizeof(out)), 0);
    ASSERT_STR_CONTAINS(out, "999_broken");
    /* Put the database back as the stack expects it. */
    ASSERT_EQ(sh("psql -X -q \"$DATABASE_URL\" -c \"DELETE FROM schema_migrations WHERE "
                 "version = '999_broken'\" >/dev/null"),
              0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    sh(cmd);
}

CTEST(cli, keygen_writes_a_private_pair_once)
{
    char dir[] = "/tmp/ums-keys-XXXXXX", args[256], out[4096], path[512];
    struct stat st;
    ASSERT_NOT_NULL(mkdtemp(dir));
    snprintf(args, sizeof(args), "keygen --out %s", dir);
    ASSERT_EQ(umsctl(args, out, sizeof(out)), 0);
    ASSERT_STR_CONTAINS(out, "kid ");
    snprintf(path, sizeof(path), "%s/jwt-private.pem", dir);
    ASSERT_EQ(stat(path, &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0600);
    ASSERT_NE(umsctl(args, out, sizeof(out)), 0); /* never overwrites */
    char cmd[600];
    snprintf(cmd, sizeof(cmd),
             "openssl pkey -in %s/jwt-private.pem -noout -check >/dev/null 2>&1 "
             "|| grep -q 'BEGIN PRIVATE KEY' %s/jwt-private.pem",
             dir, dir);
    ASSERT_EQ(sh(cmd), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    sh(cmd);
}

static int stack_processes(int *nginx, int *fcgi, int *redis, int *pg, int *notifier)
{
    char needle[4200];
    *notifier = count_procs("ums-notifier", env_need("UMS_CONFIG"), 0);
    /* The web server's master: nginx's, or Apache's parent process. */
    if (behind_apache()) {
        snprintf(needle, sizeof(needle), "%s/apache", env_need("UMS_STACK"));
        *nginx = count_procs("apache2", needle, 1);
    } else {
        snprintf(needle, sizeof(needle), "%s/nginx", env_need("UMS_STACK"));
        *nginx = count_procs("nginx", needle, 1);
    }
    *fcgi = count_procs("ums-fcgi", env_need("UMS_CONFIG"), 1);
    snprintf(needle, sizeof(needle), ":%s",
             getenv("UMS_REDIS_PORT") ? getenv("UMS_REDIS_PORT") : "63799");
    *redis = count_procs("redis-server", needle, 0);
    snprintf(needle, sizeof(needle), "%s/pg", env_need("UMS_STACK"));
    *pg = count_procs("postgres", needle, 1);
    return *nginx + *fcgi + *redis + *pg + *notifier;
}

CTEST(stack, second_up_leaves_one_of_each)
{
    int nginx, fcgi, redis, pg, notifier;
    ASSERT_EQ(sh("./scripts/up >/dev/null"), 0);
    stack_processes(&nginx, &fcgi, &redis, &pg, &notifier);
    ASSERT_EQ(notifier, 1);
    ASSERT_EQ(nginx, 1);
    ASSERT_EQ(fcgi, 1);
    ASSERT_EQ(redis, 1);
    ASSERT_EQ(pg, 1);
    ASSERT_EQ(wait_status("/readyz", 200, 5), 0);
}

CTEST(stack, down_stops_everything_and_up_restores)
{
    int nginx, fcgi, redis, pg, notifier;
    pid_t w[WORKERS_MAX];
    ASSERT_EQ(sh("./scripts/down >/dev/null"), 0);
    ASSERT_EQ(stack_processes(&nginx, &fcgi, &redis, &pg, &notifier), 0);
    ASSERT_EQ(count_procs("ums-fcgi", env_need("UMS_CONFIG"), 0), 0);
    ASSERT_EQ(sh("./scripts/up >/dev/null"), 0);
    ASSERT_EQ(wait_status("/readyz", 200, 10), 0);
    ASSERT_EQ(workers(w), configured_workers());
}
