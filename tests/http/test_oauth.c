/* test_oauth.c - black-box tests of sign-in with Google and GitHub through
 * nginx, against the stack's stand-ins (tests/mocks/google.mjs and
 * github.mjs): /authorize, the provider's consent, the callback, the PKCE
 * exchange and the implicit flow; state and redirect_to attacks, provider
 * failures, the address rules, the pre-registration takeover, linking and
 * unlinking, suspended users, and what a sign-in leaves behind. Needs the
 * running stack. */
#define CTEST_MAIN
#include "../ctest.h"

#include <ctype.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <openssl/evp.h>

#include "../../core/config.h"
#include "../../core/oauth_http.h"
#include "../../core/outbound.h"
#include "../../util/b64.h"
#include "../../util/buf.h"
#include "../../util/ums.h"
#include "client.h"
#include "stack.h"

#define SITE_URL      env_need("UMS_SITE_URL") /* the stack's [auth] site_url */
#define GOOD_REDIRECT "http://localhost:3000/cb"
#define PW            "correct horse battery"
#define GOOGLE_ISS    "https://accounts.google.com"

/* ---- small helpers ---- */

static void rand_hex(char *out, size_t bytes)
{
    unsigned char r[32];

    if (bytes > sizeof(r))
        bytes = sizeof(r);
    if (getrandom(r, bytes, 0) != (ssize_t)bytes)
        for (size_t i = 0; i < bytes; i++)
            r[i] = (unsigned char)rand();
    for (size_t i = 0; i < bytes; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
}

/* A fresh GitHub login for a test, e.g. "gh-pkce-0123456789abcdef". */
static void new_login(char *out, size_t n, const char *tag)
{
    char h[17];

    rand_hex(h, 8);
    snprintf(out, n, "%s-%s", tag, h);
}

/* A fresh PKCE verifier: 43 base64url characters. */
static void new_verifier(char out[64])
{
    unsigned char r[32];

    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        for (size_t i = 0; i < sizeof(r); i++)
            r[i] = (unsigned char)rand();
    b64_url_encode(out, r, sizeof(r));
}

/* BASE64URL(SHA-256(verifier)). */
static void s256_of(const char *verifier, char out[64])
{
    unsigned char d[32];
    unsigned int n = 0;

    EVP_Digest(verifier, strlen(verifier), d, &n, EVP_sha256(), NULL);
    b64_url_encode(out, d, sizeof(d));
}

static int is_b64url(const char *s, size_t len)
{
    if (s == NULL || strlen(s) != len)
        return 0;
    for (; *s != '\0'; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
            return 0;
    return 1;
}

/* s percent-encoded (RFC 3986 unreserved characters kept). */
static void enc(const char *s, char *out, size_t n)
{
    size_t o = 0;

    for (; *s != '\0' && o + 4 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out[o++] = (char)c;
        } else {
            snprintf(out + o, 4, "%%%02X", c);
            o += 3;
        }
    }
    out[o] = '\0';
}

static void dec(const char *p, size_t len, char *out, size_t n)
{
    size_t o = 0;

    for (size_t i = 0; i < len && o + 1 < n; i++) {
        if (p[i] == '%' && i + 2 < len && isxdigit((unsigned char)p[i + 1]) &&
            isxdigit((unsigned char)p[i + 2])) {
            char h[3] = {p[i + 1], p[i + 2], '\0'};
            out[o++] = (char)strtol(h, NULL, 16);
            i += 2;
        } else {
            out[o++] = p[i] == '+' ? ' ' : p[i];
        }
    }
    out[o] = '\0';
}

/* The query ('?') or the fragment ('#') of url; -1 when it has none. */
static int url_part(const char *url, char part, const char **start, const char **end)
{
    const char *hash = strchr(url, '#'), *q = strchr(url, '?');

    if (part == '#') {
        if (hash == NULL)
            return -1;
        *start = hash + 1;
        *end = hash + 1 + strlen(hash + 1);
        return 0;
    }
    if (q == NULL || (hash != NULL && q > hash))
        return -1;
    *start = q + 1;
    *end = hash != NULL ? hash : q + 1 + strlen(q + 1);
    return 0;
}

/* How many times parameter name is in url's query ('?') or fragment ('#');
 * the last one's value, decoded, in out (n bytes) when out is not NULL. */
static int url_param(const char *url, char part, const char *name, char *out, size_t n)
{
    const char *p, *end;
    size_t nl = strlen(name);
    int count = 0;

    if (out != NULL && n > 0)
        out[0] = '\0';
    if (url == NULL || url_part(url, part, &p, &end) != 0)
        return 0;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *e = amp != NULL ? amp : end;
        if ((size_t)(e - p) >= nl && strncmp(p, name, nl) == 0 && (p + nl == e || p[nl] == '=')) {
            count++;
            if (out != NULL && p + nl < e)
                dec(p + nl + 1, (size_t)(e - p - (long)nl - 1), out, n);
            else if (out != NULL)
                out[0] = '\0';
        }
        p = amp != NULL ? amp + 1 : end;
    }
    return count;
}

static int starts_with(const char *s, const char *prefix)
{
    return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Whether s is site_url followed by rest. */
static int starts_with_site(const char *s, const char *rest)
{
    size_t n = strlen(SITE_URL);
    return starts_with(s, SITE_URL) && starts_with(s + n, rest);
}

/* 1 when s is longer than suffix and ends with it. */
static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n > m && strcmp(s + n - m, suffix) == 0;
}

static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The claims of a JWT (caller puts), or NULL. */
static struct json_object *jwt_claims(const char *jwt)
{
    const char *d1 = strchr(jwt, '.'), *d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
    unsigned char raw[8192];
    long n;

    if (d2 == NULL)
        return NULL;
    n = b64_url_decode(raw, sizeof(raw) - 1, d1 + 1, (size_t)(d2 - d1 - 1));
    if (n <= 0)
        return NULL;
    raw[n] = '\0';
    return json_tokener_parse((const char *)raw);
}

/* The first amr method of an access token into out; 0 when there is one. */
static int amr_method(const char *jwt, char *out, size_t n)
{
    struct json_object *c = jwt_claims(jwt), *amr;
    const char *m = NULL;

    if (c != NULL && json_object_object_get_ex(c, "amr", &amr) &&
        json_object_is_type(amr, json_type_array) && json_object_array_length(amr) > 0)
        m = jstr(json_object_array_get_idx(amr, 0), "method");
    snprintf(out, n, "%s", m != NULL ? m : "");
    json_object_put(c);
    return m != NULL ? 0 : -1;
}

static const char *jpath_str(struct json_object *o, const char *k1, const char *k2)
{
    struct json_object *v;

    return json_object_object_get_ex(o, k1, &v) ? jstr(v, k2) : NULL;
}

/* 1 when member k of o is the boolean true. */
static int jtrue(struct json_object *o, const char *k)
{
    struct json_object *v;

    return o != NULL && json_object_object_get_ex(o, k, &v) &&
           json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

static int identities_count(struct json_object *user)
{
    struct json_object *ids;

    if (!json_object_object_get_ex(user, "identities", &ids) ||
        !json_object_is_type(ids, json_type_array))
        return -1;
    return (int)json_object_array_length(ids);
}

/* The user's identity of provider, or NULL. */
static struct json_object *identity_of(struct json_object *user, const char *provider)
{
    int n = identities_count(user);
    struct json_object *ids;

    if (n <= 0 || !json_object_object_get_ex(user, "identities", &ids))
        return NULL;
    for (int i = 0; i < n; i++) {
        struct json_object *it = json_object_array_get_idx(ids, (size_t)i);
        const char *p = jstr(it, "provider");
        if (p != NULL && strcmp(p, provider) == 0)
            return it;
    }
    return NULL;
}

/* GET /auth/v1/user with the access token (caller puts), or NULL. */
static struct json_object *me(const char *access)
{
    return get_json("/auth/v1/user", access, 200);
}

/* ---- the database, through libpq ---- */

static PGconn *pg(void)
{
    static PGconn *c;

    if (c != NULL && PQstatus(c) == CONNECTION_OK)
        return c;
    PQfinish(c);
    c = PQconnectdb(env_need("DATABASE_URL"));
    if (PQstatus(c) != CONNECTION_OK)
        fprintf(stderr, "    database: %s", PQerrorMessage(c));
    return c;
}

/* sql with up to three text parameters (NULL ends them); the result
 * (caller clears), or NULL when it failed. */
static PGresult *q(const char *sql, const char *p1, const char *p2, const char *p3)
{
    const char *p[3] = {p1, p2, p3};
    int n = p1 == NULL ? 0 : p2 == NULL ? 1 : p3 == NULL ? 2 : 3;
    PGresult *res = PQexecParams(pg(), sql, n, NULL, p, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);

    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        fprintf(stderr, "    SQL %s: %s", sql, PQerrorMessage(pg()));
        PQclear(res);
        return NULL;
    }
    return res;
}

/* The first value as a number; -1 when there is none or the SQL failed. */
static long q_long(const char *sql, const char *p1, const char *p2, const char *p3)
{
    PGresult *res = q(sql, p1, p2, p3);
    long v = res != NULL && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)
                 ? strtol(PQgetvalue(res, 0, 0), NULL, 10)
                 : -1;

    PQclear(res);
    return v;
}

/* The first value into out; 0 when a non-NULL one came. */
static int q_str(const char *sql, const char *p1, const char *p2, char *out, size_t n)
{
    PGresult *res = q(sql, p1, p2, NULL);
    int ok = res != NULL && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0);

    snprintf(out, n, "%s", ok ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return ok ? 0 : -1;
}

/* The rows an UPDATE or DELETE changed; -1 when it failed. */
static long q_exec(const char *sql, const char *p1, const char *p2)
{
    PGresult *res = q(sql, p1, p2, NULL);
    long n = res != NULL ? strtol(PQcmdTuples(res), NULL, 10) : -1;

    PQclear(res);
    return n;
}

static long users_with_email(const char *email)
{
    return q_long("SELECT count(*) FROM users WHERE email = lower($1)", email, NULL, NULL);
}

static long identities_with_subject(const char *provider, const char *sub)
{
    return q_long("SELECT count(*) FROM identities WHERE provider = $1 AND provider_subject = $2",
                  provider, sub, NULL);
}

/* ---- the stand-ins ---- */

struct ext_resp {
    long status;
    char *body; /* malloc'd */
    char location[16384];
};

static size_t ext_body(char *p, size_t size, size_t n, void *ud)
{
    return buf_add(ud, p, size * n) == 0 ? size * n : 0;
}

static size_t ext_header(char *p, size_t size, size_t n, void *ud)
{
    struct ext_resp *r = ud;
    size_t len = size * n;

    if (len > 9 && strncasecmp(p, "Location:", 9) == 0) {
        const char *v = p + 9;
        size_t vl = len - 9;
        while (vl > 0 && *v == ' ')
            v++, vl--;
        while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
            vl--;
        snprintf(r->location, sizeof(r->location), "%.*s", (int)vl, v);
    }
    return len;
}

/* One request to an absolute URL (a stand-in): no redirect followed, TLS
 * checked against the stack's CA. 0 when an answer came. */
static int ext_req(const char *method, const char *url, const char *json, struct ext_resp *out)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    struct buf b;
    CURLcode rc;

    memset(out, 0, sizeof(*out));
    if (c == NULL)
        return -1;
    buf_init(&b, 16 << 20);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_CAINFO, env_need("UMS_CA_FILE"));
    if (json != NULL) {
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ext_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, ext_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    else
        fprintf(stderr, "    %s %s: %s\n", method, url, curl_easy_strerror(rc));
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    out->body = b.p != NULL ? b.p : calloc(1, 1);
    return rc == CURLE_OK ? 0 : -1;
}

static const char *mock_url(const char *provider)
{
    return env_need(strcmp(provider, "google") == 0 ? "UMS_MOCK_GOOGLE_URL"
                                                    : "UMS_MOCK_GITHUB_URL");
}

/* The URL of path at the provider's stand-in (in a buffer the next call
 * reuses). */
static const char *mock_at(const char *provider, const char *path)
{
    static char url[512];

    snprintf(url, sizeof(url), "%s%s", mock_url(provider), path);
    return url;
}

/* ums's callback, the redirect_uri it gives both providers. */
static const char *ums_callback(void)
{
    static char url[512];

    snprintf(url, sizeof(url), "%s/auth/v1/callback", env_need("UMS_URL"));
    return url;
}

/* POSTs json to a stand-in's control path: its answer (caller puts) on 200. */
static struct json_object *mock_post(const char *provider, const char *path, const char *json)
{
    const char *url = mock_at(provider, path);
    struct ext_resp r;
    struct json_object *o = NULL;

    if (ext_req("POST", url, json, &r) == 0 && r.status == 200)
        o = json_tokener_parse(r.body);
    else
        fprintf(stderr, "    POST %s: %ld %s\n", url, r.status, r.body != NULL ? r.body : "");
    free(r.body);
    return o;
}

/* The next call to the stand-in's endpoint for the user with that address
 * (only) fails with mode. */
static int mock_fail(const char *provider, const char *endpoint, const char *mode,
                     const char *email)
{
    char body[512];
    struct json_object *o;
    int ok;

    snprintf(body, sizeof(body),
             "{\"endpoint\":\"%s\",\"mode\":\"%s\",\"count\":1,\"email\":\"%s\"}", endpoint, mode,
             email);
    o = mock_post(provider, "/_fail", body);
    ok = o != NULL;
    json_object_put(o);
    return ok ? 0 : -1;
}

/* A Google user at the stand-in; its sub into sub (n bytes) when asked. */
static int google_user(const char *email, int verified, char *sub, size_t n)
{
    char body[512];
    struct json_object *o, *users;
    const char *s = NULL;

    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"email_verified\":%s,\"name\":\"Goo Gle\"}",
             email, verified ? "true" : "false");
    o = mock_post("google", "/_users", body);
    if (o != NULL && json_object_object_get_ex(o, "users", &users))
        s = jstr(json_object_array_get_idx(users, 0), "sub");
    if (s != NULL && sub != NULL)
        snprintf(sub, n, "%s", s);
    json_object_put(o);
    return s != NULL ? 0 : -1;
}

/* A GitHub user at the stand-in whose only address is email, verified or
 * not, and not public; its numeric id into id (n bytes) when asked. */
static int github_user(const char *gh, const char *email, int verified, char *id, size_t n)
{
    char body[1024];
    struct json_object *o, *users, *v;
    int ok = 0;

    snprintf(body, sizeof(body),
             "{\"login\":\"%s\",\"name\":\"Git Hub\",\"email\":null,\"emails\":[{\"email\":\"%s\","
             "\"primary\":true,\"verified\":%s,\"visibility\":\"private\"}]}",
             gh, email, verified ? "true" : "false");
    o = mock_post("github", "/_users", body);
    if (o != NULL && json_object_object_get_ex(o, "users", &users) &&
        json_object_object_get_ex(json_object_array_get_idx(users, 0), "id", &v) &&
        json_object_is_type(v, json_type_int)) {
        ok = 1;
        if (id != NULL)
            snprintf(id, n, "%s", json_object_get_string(v));
    }
    json_object_put(o);
    return ok ? 0 : -1;
}

/* A fresh GitHub user of a test. */
struct gh_user {
    char login[64];  /* tag-<16 hex digits> */
    char email[160]; /* its only address: <login>@example.com */
    char id[32];     /* GitHub's numeric id */
};

/* Makes u at the stand-in, its address verified or not; 0 when it did. */
static int new_github_user(struct gh_user *u, const char *tag, int verified)
{
    new_login(u->login, sizeof(u->login), tag);
    snprintf(u->email, sizeof(u->email), "%s@example.com", u->login);
    return github_user(u->login, u->email, verified, u->id, sizeof(u->id));
}

/* The stand-in's logged request to endpoint whose parameter k is v (caller
 * puts), or NULL. */
static struct json_object *logged(const char *provider, const char *endpoint, const char *k,
                                  const char *v)
{
    char url[512];
    struct ext_resp r;
    struct json_object *all, *found = NULL;

    snprintf(url, sizeof(url), "%s/_log?endpoint=%s", mock_url(provider), endpoint);
    if (ext_req("GET", url, NULL, &r) != 0 || r.status != 200) {
        free(r.body);
        return NULL;
    }
    all = json_tokener_parse(r.body);
    free(r.body);
    for (size_t i = 0; all != NULL && json_object_is_type(all, json_type_array) &&
                       i < json_object_array_length(all);
         i++) {
        struct json_object *e = json_object_array_get_idx(all, i), *p;
        const char *got = json_object_object_get_ex(e, "params", &p) ? jstr(p, k) : NULL;
        if (got != NULL && strcmp(got, v) == 0)
            found = json_object_get(e);
    }
    json_object_put(all);
    return found;
}

/* ---- the flow, as a browser would go through it ---- */

struct flow {
    const char *provider;
    char hint[192];        /* GitHub's login or Google's login_hint; "": none */
    char redirect_to[512]; /* "": none sent */
    char method[8];        /* code_challenge_method; "": the implicit flow */
    char verifier[160];
    char challenge[160];
    char extra[1024];   /* more of /authorize's query, encoded: "&k=v..." */
    const char *bearer; /* set: /user/identities/authorize (linking) */
    char src[32];       /* the browser's address at ums */
    char provider_url[8192];
    char state[64];
    char callback[8192]; /* the path at ums the provider sent the browser to */
    char final[16384];   /* where ums sent the browser in the end */
};

static void flow_init(struct flow *f, const char *provider, const char *hint)
{
    memset(f, 0, sizeof(*f));
    f->provider = provider;
    snprintf(f->hint, sizeof(f->hint), "%s", hint != NULL ? hint : "");
    snprintf(f->redirect_to, sizeof(f->redirect_to), "%s", GOOD_REDIRECT);
    snprintf(f->method, sizeof(f->method), "s256");
    new_verifier(f->verifier);
    s256_of(f->verifier, f->challenge);
    snprintf(f->src, sizeof(f->src), "%s", src_for(120));
}

/* Step 1: GET /authorize (or /user/identities/authorize with the Bearer and
 * skip_http_redirect). The status; the provider's URL and its state kept. */
static long flow_authorize(struct flow *f)
{
    char e1[1600], e2[600], auth[4200];
    const char *h[2] = {NULL, NULL};
    struct http_resp r;
    struct buf p;
    long st;

    buf_init(&p, 16384);
    buf_printf(&p, "/auth/v1/%sauthorize?provider=%s", f->bearer != NULL ? "user/identities/" : "",
               f->provider);
    if (f->redirect_to[0] != '\0') {
        enc(f->redirect_to, e1, sizeof(e1));
        buf_printf(&p, "&redirect_to=%s", e1);
    }
    if (f->method[0] != '\0')
        buf_printf(&p, "&code_challenge=%s&code_challenge_method=%s", f->challenge, f->method);
    if (f->hint[0] != '\0') {
        enc(f->hint, e2, sizeof(e2));
        buf_printf(&p, "&%s=%s", strcmp(f->provider, "google") == 0 ? "login_hint" : "login", e2);
    }
    if (f->bearer != NULL) {
        buf_adds(&p, "&skip_http_redirect=true");
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", f->bearer);
        h[0] = auth;
    }
    buf_adds(&p, f->extra);
    f->provider_url[0] = f->state[0] = '\0';
    if (http_req("GET", p.p, h, NULL, 0, f->src, &r) != 0) {
        buf_free(&p);
        return -1;
    }
    st = r.status;
    if (st == 302 && f->bearer == NULL) {
        resp_header(&r, "Location", f->provider_url, sizeof(f->provider_url));
    } else if (st == 200 && f->bearer != NULL) {
        struct json_object *o = jparse(&r);
        snprintf(f->provider_url, sizeof(f->provider_url), "%s",
                 jstr(o, "url") != NULL ? jstr(o, "url") : "");
        json_object_put(o);
    } else {
        fprintf(stderr, "    GET %s: %ld %s\n", p.p, st, r.body);
    }
    url_param(f->provider_url, '?', "state", f->state, sizeof(f->state));
    http_resp_free(&r);
    buf_free(&p);
    return st;
}

/* Step 2: the provider's authorize page (auto-consent): the path at ums it
 * sends the browser back to, in f->callback. 0 when it did. */
static int flow_provider(struct flow *f)
{
    const char *base = env_need("UMS_URL");
    size_t bl = strlen(base);
    struct ext_resp r;
    int ok;

    if (ext_req("GET", f->provider_url, NULL, &r) != 0) {
        free(r.body);
        return -1;
    }
    ok = r.status == 302 && strncmp(r.location, base, bl) == 0 &&
         starts_with(r.location + bl, "/auth/v1/callback?");
    if (ok)
        snprintf(f->callback, sizeof(f->callback), "%s", r.location + bl);
    else
        fprintf(stderr, "    provider: %ld %s %s\n", r.status, r.location, r.body);
    free(r.body);
    return ok ? 0 : -1;
}

/* GET path (a callback) at ums from src: the status, the Location in final. */
static long callback_at(const char *src, const char *path, char *final, size_t n)
{
    struct http_resp r;
    long st;

    final[0] = '\0';
    if (http_req("GET", path, NULL, NULL, 0, src, &r) != 0)
        return -1;
    st = r.status;
    if (resp_header(&r, "Location", final, n) != 0)
        final[0] = '\0';
    http_resp_free(&r);
    return st;
}

/* The three steps: 0 when each answered as it should (the final redirect
 * may carry an error all the same). */
static int flow_run(struct flow *f)
{
    long st = flow_authorize(f);

    if (st != (f->bearer != NULL ? 200 : 302) || flow_provider(f) != 0)
        return -1;
    st = callback_at(f->src, f->callback, f->final, sizeof(f->final));
    if (st != 302) {
        fprintf(stderr, "    callback: %ld\n", st);
        return -1;
    }
    return 0;
}

static long pkce_exchange(const char *code, const char *verifier, const char *src,
                          struct session *s, struct http_resp *keep)
{
    char body[1024];

    snprintf(body, sizeof(body), "{\"auth_code\":\"%s\",\"code_verifier\":\"%s\"}", code, verifier);
    return post_for_session("/auth/v1/token?grant_type=pkce", body, src, s, keep);
}

/* The ums auth code of a PKCE flow's final redirect into code; 0 if one. */
static int final_code(const struct flow *f, char *code, size_t n)
{
    if (url_param(f->final, '?', "code", code, n) == 1 && code[0] != '\0')
        return 0;
    fprintf(stderr, "    no code in %s\n", f->final);
    return -1;
}

/* A PKCE flow to its end: the exchange's status (negative when a step
 * before failed); the session in s and the answer in keep when asked. */
static long flow_session(struct flow *f, struct session *s, struct http_resp *keep)
{
    char code[128];

    if (keep != NULL)
        memset(keep, 0, sizeof(*keep));
    if (flow_run(f) != 0)
        return -1;
    if (final_code(f, code, sizeof(code)) != 0)
        return -2;
    return pkce_exchange(code, f->verifier, f->src, s, keep);
}

/* A GitHub sign-in of login gh (made up by the stand-in if new): the exchange's status. */
static long github_sign_in(const char *gh, struct session *s)
{
    struct flow f;

    flow_init(&f, "github", gh);
    return flow_session(&f, s, NULL);
}

/* flow_init for a fresh user of provider: into hint (n bytes) a new login
 * (GitHub) or address (Google) of tag. */
static void flow_init_new_user(struct flow *f, const char *provider, char *hint, size_t n,
                               const char *tag)
{
    if (strcmp(provider, "google") == 0)
        new_email(hint, n, tag);
    else
        new_login(hint, n, tag);
    flow_init(f, provider, hint);
}

/* A GitHub sign-in of a fresh login of tag (into gh, n bytes): the
 * exchange's status. */
static long new_github_sign_in(char *gh, size_t n, const char *tag, struct session *s)
{
    new_login(gh, n, tag);
    return github_sign_in(gh, s);
}

/* flow_init for the implicit flow: no code_challenge is sent. */
static void implicit_init(struct flow *f, const char *provider, const char *hint)
{
    flow_init(f, provider, hint);
    f->method[0] = '\0';
}

/* flow_init for linking the GitHub user of login gh to the account of
 * session s (/user/identities/authorize with its Bearer). */
static void link_init(struct flow *f, const char *gh, const struct session *s)
{
    flow_init(f, "github", gh);
    f->bearer = s->access;
}

/* GET /auth/v1/callback?state=<f's state><rest> (rest: more of the query,
 * encoded, or NULL): the status, where ums sent the browser in f->final. */
static long callback_with_state(struct flow *f, const char *rest)
{
    char path[4096];

    snprintf(path, sizeof(path), "/auth/v1/callback?state=%s%s", f->state,
             rest != NULL ? rest : "");
    return callback_at(f->src, path, f->final, sizeof(f->final));
}

/* The final redirect carries error and error_code in its part ('?' or
 * '#'), with a description, and no code or token. */
#define ASSERT_FINAL_ERROR(url, part, error_, code_)                                               \
    do {                                                                                           \
        char e_[128], c_[128], d_[512];                                                            \
        if (url_param((url), (part), "error", e_, sizeof(e_)) != 1 || strcmp(e_, (error_)) ||      \
            url_param((url), (part), "error_code", c_, sizeof(c_)) != 1 || strcmp(c_, (code_)) ||  \
            url_param((url), (part), "error_description", d_, sizeof(d_)) != 1 || !d_[0])          \
            CTEST_FAIL_("expected error %s, error_code %s in the %s of %s", (error_), (code_),     \
                        (part) == '?' ? "query" : "fragment", (url));                              \
        if (url_param((url), '?', "code", NULL, 0) != 0 ||                                         \
            url_param((url), '#', "access_token", NULL, 0) != 0)                                   \
            CTEST_FAIL_("an error with a code or a token: %s", (url));                             \
    } while (0)

/* The flow ended at the app as temporarily_unavailable (provider_unavailable)
 * and no account has the address email. */
#define ASSERT_UNAVAILABLE(f, email)                                                               \
    do {                                                                                           \
        ASSERT_FINAL_ERROR((f).final, '?', "temporarily_unavailable", "provider_unavailable");     \
        ASSERT_EQ(users_with_email(email), 0);                                                     \
    } while (0)

/* Parameter name is in url's part ('?' or '#') once, with the value want. */
#define ASSERT_PARAM(url, part, name, want)                                                        \
    do {                                                                                           \
        char p_[1024];                                                                             \
        ASSERT_EQ(url_param((url), (part), (name), p_, sizeof(p_)), 1);                            \
        ASSERT_STR_EQ(p_, (want));                                                                 \
    } while (0)

/* The provider's URL asks for ums's own client: its client_id, ums's
 * callback as redirect_uri, response_type=code and the scope. */
#define ASSERT_UMS_CLIENT(url, client_, scope_)                                                    \
    do {                                                                                           \
        ASSERT_PARAM((url), '?', "client_id", (client_));                                          \
        ASSERT_PARAM((url), '?', "redirect_uri", ums_callback());                                  \
        ASSERT_PARAM((url), '?', "response_type", "code");                                         \
        ASSERT_PARAM((url), '?', "scope", (scope_));                                               \
    } while (0)

/* The provider's URL carries a state and a PKCE challenge (S256) of ums's
 * own: 43 base64url characters each, the challenge not the client's. */
#define ASSERT_UMS_STATE_AND_CHALLENGE(url, client_challenge)                                      \
    do {                                                                                           \
        char v_[1024];                                                                             \
        ASSERT_EQ(url_param((url), '?', "state", v_, sizeof(v_)), 1);                              \
        ASSERT_TRUE(is_b64url(v_, 43));                                                            \
        ASSERT_EQ(url_param((url), '?', "code_challenge", v_, sizeof(v_)), 1);                     \
        ASSERT_TRUE(is_b64url(v_, 43));                                                            \
        ASSERT_TRUE(strcmp(v_, (client_challenge)) != 0);                                          \
        ASSERT_PARAM((url), '?', "code_challenge_method", "S256");                                 \
    } while (0)

/* Flow f ran its three steps and its final redirect carries error and
 * error_code in its part ('?' or '#'), with a description, and no code or
 * token. */
#define ASSERT_FLOW_FAILS(f, part, error_, code_)                                                  \
    do {                                                                                           \
        ASSERT_EQ(flow_run(&(f)), 0);                                                              \
        ASSERT_FINAL_ERROR((f).final, (part), (error_), (code_));                                  \
    } while (0)

/* Flow f (PKCE) ran its three steps and its final redirect carries ums's
 * auth code, into the array code. */
#define ASSERT_FLOW_CODE(f, code)                                                                  \
    do {                                                                                           \
        ASSERT_EQ(flow_run(&(f)), 0);                                                              \
        ASSERT_EQ(final_code(&(f), (code), sizeof(code)), 0);                                      \
    } while (0)

/* The PKCE exchange of code with verifier (from src) is refused with status
 * and error_code. */
#define ASSERT_EXCHANGE_REFUSED(code_, verifier_, src_, status_, error_)                           \
    do {                                                                                           \
        struct http_resp r_;                                                                       \
        ASSERT_EQ(pkce_exchange((code_), (verifier_), (src_), NULL, &r_), (status_));              \
        ASSERT_ERROR(r_, ERR_AUTH, (status_), (error_));                                           \
        http_resp_free(&r_);                                                                       \
    } while (0)

/* User u has an identity of provider whose id, and identity_data's sub, are
 * sub; its identity_data in d. */
#define ASSERT_IDENTITY(u, provider, sub, d)                                                       \
    do {                                                                                           \
        struct json_object *i_ = identity_of((u), (provider));                                     \
        ASSERT_NOT_NULL(i_);                                                                       \
        ASSERT_STR_EQ(jstr(i_, "id"), (sub));                                                      \
        ASSERT_TRUE(json_object_object_get_ex(i_, "identity_data", &(d)));                         \
        ASSERT_STR_EQ(jstr((d), "sub"), (sub));                                                    \
    } while (0)

/* ---- settings ---- */

CTEST(settings, google_and_github_are_enabled)
{
    struct http_resp r;
    struct json_object *o, *ext;

    ASSERT_EQ(http_get("/auth/v1/settings", &r), 0);
    ASSERT_EQ(r.status, 200);
    o = jparse(&r);
    http_resp_free(&r);
    ASSERT_TRUE(json_object_object_get_ex(o, "external", &ext));
    ASSERT_TRUE(jtrue(ext, "google"));
    ASSERT_TRUE(jtrue(ext, "github"));
    ASSERT_TRUE(jtrue(ext, "email"));
    json_object_put(o);
}

/* ---- /authorize ---- */

CTEST(authorize, github_location_carries_ums_own_parameters)
{
    struct flow f;
    char gh[64];

    flow_init_new_user(&f, "github", gh, sizeof(gh), "gh-loc");
    ASSERT_EQ(flow_authorize(&f), 302);
    ASSERT_TRUE(starts_with(f.provider_url, mock_at("github", "/login/oauth/authorize?")));
    ASSERT_UMS_CLIENT(f.provider_url, "ums-stack-github", "read:user user:email");
    ASSERT_UMS_STATE_AND_CHALLENGE(f.provider_url, f.challenge);
    ASSERT_EQ(url_param(f.provider_url, '?', "nonce", NULL, 0), 0); /* OpenID only */
    ASSERT_PARAM(f.provider_url, '?', "login", gh);
    /* The flow is kept under the state's hash with the client's challenge. */
    ASSERT_EQ(q_long("SELECT count(*) FROM oauth_flows WHERE state_hash = digest($1::text, "
                     "'sha256') AND provider = 'github' AND code_challenge = $2 AND "
                     "code_challenge_method = 's256' AND redirect_to = $3 AND used_at IS NULL "
                     "AND expires_at > now() + interval '9 minutes'",
                     f.state, f.challenge, GOOD_REDIRECT),
              1);
    /* Each /authorize makes a state of its own. */
    {
        char first[64];
        snprintf(first, sizeof(first), "%s", f.state);
        ASSERT_EQ(flow_authorize(&f), 302);
        ASSERT_TRUE(strcmp(first, f.state) != 0);
    }
}

CTEST(authorize, google_location_carries_ums_own_parameters_and_a_nonce)
{
    struct flow f;
    char email[128], nonce[64];

    flow_init_new_user(&f, "google", email, sizeof(email), "g-loc");
    ASSERT_EQ(flow_authorize(&f), 302);
    ASSERT_TRUE(starts_with(f.provider_url, mock_at("google", "/o/oauth2/v2/auth?")));
    ASSERT_UMS_CLIENT(f.provider_url, "ums-stack-google", "openid email profile");
    ASSERT_UMS_STATE_AND_CHALLENGE(f.provider_url, f.challenge);
    ASSERT_EQ(url_param(f.provider_url, '?', "nonce", nonce, sizeof(nonce)), 1);
    ASSERT_TRUE(is_b64url(nonce, 43));
    ASSERT_PARAM(f.provider_url, '?', "login_hint", email);
    ASSERT_EQ(q_long("SELECT count(*) FROM oauth_flows WHERE state_hash = digest($1::text, "
                     "'sha256') AND provider = 'google' AND nonce = $2",
                     f.state, nonce, NULL),
              1);
}

CTEST(authorize, skip_http_redirect_answers_the_url)
{
    struct flow f;
    struct http_resp r;
    struct json_object *o;
    char path[512], want[512], state[64];
    const char *url;

    flow_init(&f, "github", NULL);
    snprintf(path, sizeof(path),
             "/auth/v1/authorize?provider=github&skip_http_redirect=true&code_challenge=%s&"
             "code_challenge_method=s256",
             f.challenge);
    ASSERT_EQ(http_req("GET", path, NULL, NULL, 0, f.src, &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_TRUE(resp_header(&r, "Location", want, sizeof(want)) != 0);
    o = jparse(&r);
    http_resp_free(&r);
    url = jstr(o, "url");
    ASSERT_TRUE(starts_with(url, mock_at("github", "/login/oauth/authorize?")));
    ASSERT_EQ(url_param(url, '?', "state", state, sizeof(state)), 1);
    ASSERT_TRUE(is_b64url(state, 43));
    ASSERT_EQ(url_param(url, '?', "client_id", NULL, 0), 1);
    /* Without the redirect_to, the flow goes back to site_url. */
    ASSERT_EQ(q_long("SELECT count(*) FROM oauth_flows WHERE state_hash = digest($1::text, "
                     "'sha256') AND redirect_to = $2",
                     state, SITE_URL, NULL),
              1);
    json_object_put(o);
}

CTEST(authorize, the_provider_must_be_known_and_enabled)
{
    static const char *const paths[] = {
        "/auth/v1/authorize",
        "/auth/v1/authorize?provider=",
        "/auth/v1/authorize?provider=facebook",
        "/auth/v1/authorize?provider=facebook&redirect_to=http%3A%2F%2Flocalhost%3A3000%2F",
        "/auth/v1/authorize?redirect_to=http%3A%2F%2Flocalhost%3A3000%2F",
        "/auth/v1/authorize?provider=google%00",
    };
    const char *src = src_for(121);

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct http_resp r;
        char why[256];
        ASSERT_EQ(http_req("GET", paths[i], NULL, NULL, 0, src, &r), 0);
        if (!error_matches(&r, ERR_AUTH, 400, "validation_failed", why, sizeof(why)))
            CTEST_FAIL_("%s: %s; got %ld %s", paths[i], why, r.status, r.body);
        http_resp_free(&r);
    }
}

CTEST(authorize, pkce_parameters_are_checked)
{
    char verifier[64], ch[64], long_ch[200], plus[200], path[1024];
    const char *src = src_for(122);
    struct {
        const char *challenge, *method;
        long status;
    } cases[] = {
        {ch, NULL, 400},         /* a challenge without its method */
        {NULL, "s256", 400},     /* a method without a challenge */
        {ch + 1, "s256", 400},   /* 42 characters */
        {long_ch, "plain", 400}, /* 129 */
        {plus, "plain", 400},    /* 43 of a character RFC 7636 does not allow */
        {ch, "md5", 400},        {ch, "S256", 302}, {ch, "s256", 302}, {ch, "plain", 302},
    };

    new_verifier(verifier);
    s256_of(verifier, ch);
    memset(long_ch, 'a', 129);
    long_ch[129] = '\0';
    for (int i = 0; i < 43; i++)
        memcpy(plus + 3 * i, "%2B", 4); /* "+", encoded */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct http_resp r;
        char why[256];
        snprintf(path, sizeof(path), "/auth/v1/authorize?provider=github%s%s%s%s",
                 cases[i].challenge != NULL ? "&code_challenge=" : "",
                 cases[i].challenge != NULL ? cases[i].challenge : "",
                 cases[i].method != NULL ? "&code_challenge_method=" : "",
                 cases[i].method != NULL ? cases[i].method : "");
        ASSERT_EQ(http_req("GET", path, NULL, NULL, 0, src, &r), 0);
        if (cases[i].status == 302 && r.status != 302)
            CTEST_FAIL_("case %zu (%s): %ld %s", i, path, r.status, r.body);
        if (cases[i].status == 400 &&
            !error_matches(&r, ERR_AUTH, 400, "validation_failed", why, sizeof(why)))
            CTEST_FAIL_("case %zu (%s): %s; got %ld %s", i, path, why, r.status, r.body);
        http_resp_free(&r);
    }
}

CTEST(authorize, reserved_parameters_are_not_passed_on_and_others_are)
{
    struct flow f;
    struct session s;
    struct json_object *u;
    char email[128], v[1024];
    static const char *const once[] = {
        "client_id", "redirect_uri",   "response_type",         "scope",      "state",
        "nonce",     "code_challenge", "code_challenge_method", "login_hint", "prompt"};

    flow_init_new_user(&f, "google", email, sizeof(email), "g-reserved");
    snprintf(f.extra, sizeof(f.extra),
             "&state=evil-state&redirect_uri=http%%3A%%2F%%2Fevil.example%%2Fcb&client_id=evil-"
             "client&nonce=evil-nonce&response_type=token&scope=evil&client_secret=x&"
             "code_verifier=y&prompt=consent&access_type=offline");
    ASSERT_EQ(flow_authorize(&f), 302);
    for (size_t i = 0; i < sizeof(once) / sizeof(once[0]); i++)
        if (url_param(f.provider_url, '?', once[i], NULL, 0) != 1)
            CTEST_FAIL_("%s is not there exactly once: %s", once[i], f.provider_url);
    ASSERT_EQ(url_param(f.provider_url, '?', "client_secret", NULL, 0), 0);
    ASSERT_EQ(url_param(f.provider_url, '?', "code_verifier", NULL, 0), 0);
    ASSERT_TRUE(strstr(f.provider_url, "evil") == NULL);
    ASSERT_UMS_CLIENT(f.provider_url, "ums-stack-google", "openid email profile");
    ASSERT_TRUE(is_b64url(f.state, 43));
    ASSERT_EQ(url_param(f.provider_url, '?', "nonce", v, sizeof(v)), 1);
    ASSERT_TRUE(is_b64url(v, 43));
    /* The provider's own parameters go through. */
    ASSERT_PARAM(f.provider_url, '?', "login_hint", email);
    ASSERT_PARAM(f.provider_url, '?', "prompt", "consent");
    ASSERT_PARAM(f.provider_url, '?', "access_type", "offline");
    /* And the flow completes as the hinted user. */
    ASSERT_EQ(flow_provider(&f), 0);
    ASSERT_PARAM(f.callback, '?', "state", f.state);
    ASSERT_EQ(callback_at(f.src, f.callback, f.final, sizeof(f.final)), 302);
    ASSERT_EQ(url_param(f.final, '?', "code", v, sizeof(v)), 1);
    ASSERT_EQ(pkce_exchange(v, f.verifier, f.src, &s, NULL), 200);
    u = me(s.access);
    ASSERT_STR_EQ(jstr(u, "email"), email);
    json_object_put(u);
}

/* A hint as auth-js's URLSearchParams sends it (encoded) and as a hand-made
 * link might ("login_hint=a@b", raw): both reach the provider. */
CTEST(authorize, a_raw_at_sign_in_a_passed_on_value_goes_through)
{
    struct flow f;
    char email[128];

    new_email(email, sizeof(email), "g-raw-at");
    flow_init(&f, "google", NULL);
    snprintf(f.extra, sizeof(f.extra), "&login_hint=%s&hd=example.com", email);
    ASSERT_EQ(flow_authorize(&f), 302);
    ASSERT_PARAM(f.provider_url, '?', "login_hint", email);
    ASSERT_PARAM(f.provider_url, '?', "hd", "example.com");
}

CTEST(authorize, scopes_are_added_to_the_providers)
{
    struct flow f;

    flow_init(&f, "github", NULL);
    snprintf(f.extra, sizeof(f.extra), "&scopes=repo%%20gist");
    ASSERT_EQ(flow_authorize(&f), 302);
    ASSERT_PARAM(f.provider_url, '?', "scope", "read:user user:email repo gist");
    ASSERT_EQ(url_param(f.provider_url, '?', "scopes", NULL, 0), 0);
}

/* ---- full PKCE flows ---- */

CTEST(pkce, github_signs_in)
{
    struct gh_user g;
    char m[32];
    struct flow f;
    struct session s;
    struct http_resp r;
    struct json_object *o, *u, *d, *v, *u2;

    ASSERT_EQ(new_github_user(&g, "gh-pkce", 1), 0);
    flow_init(&f, "github", g.login);
    ASSERT_EQ(flow_session(&f, &s, &r), 200);
    o = jparse(&r);
    http_resp_free(&r);
    ASSERT_STR_EQ(jstr(o, "token_type"), "bearer");
    ASSERT_TRUE(json_object_object_get_ex(o, "expires_in", &v) && json_object_get_int(v) > 0);
    ASSERT_TRUE(json_object_object_get_ex(o, "expires_at", &v) &&
                json_object_get_int64(v) > (int64_t)time(NULL));
    ASSERT_TRUE(starts_with(jstr(o, "provider_token"), "gho_"));
    ASSERT_FALSE(json_object_object_get_ex(o, "provider_refresh_token", &v));
    ASSERT_TRUE(json_object_object_get_ex(o, "user", &u));
    ASSERT_STR_EQ(jstr(u, "email"), g.email);
    ASSERT_STR_EQ(jpath_str(u, "app_metadata", "provider"), "github");
    ASSERT_NOT_NULL(jstr(u, "email_confirmed_at"));
    ASSERT_EQ(identities_count(u), 1);
    ASSERT_IDENTITY(u, "github", g.id, d);
    ASSERT_STR_EQ(jstr(d, "email"), g.email);
    ASSERT_TRUE(jtrue(d, "email_verified"));
    ASSERT_STR_EQ(jstr(d, "user_name"), g.login);
    /* The session is an ordinary one, its amr says how it was made. */
    u2 = me(s.access);
    ASSERT_NOT_NULL(u2);
    ASSERT_STR_EQ(jstr(u2, "id"), s.user_id);
    ASSERT_NOT_NULL(identity_of(u2, "github"));
    ASSERT_EQ(amr_method(s.access, m, sizeof(m)), 0);
    ASSERT_STR_EQ(m, "oauth");
    ASSERT_EQ(refresh(s.refresh, NULL, NULL), 200);
    json_object_put(u2);
    json_object_put(o);
}

CTEST(pkce, google_signs_in)
{
    char email[128], sub[64], m[32];
    struct flow f;
    struct session s;
    struct http_resp r;
    struct json_object *o, *u, *d;

    new_email(email, sizeof(email), "g-pkce");
    ASSERT_EQ(google_user(email, 1, sub, sizeof(sub)), 0);
    flow_init(&f, "google", email);
    ASSERT_EQ(flow_session(&f, &s, &r), 200);
    o = jparse(&r);
    http_resp_free(&r);
    ASSERT_TRUE(starts_with(jstr(o, "provider_token"), "ya29."));
    ASSERT_TRUE(starts_with(jstr(o, "provider_refresh_token"), "1//"));
    u = me(s.access);
    ASSERT_NOT_NULL(u);
    ASSERT_STR_EQ(jstr(u, "email"), email);
    ASSERT_STR_EQ(jpath_str(u, "app_metadata", "provider"), "google");
    ASSERT_NOT_NULL(jstr(u, "email_confirmed_at"));
    ASSERT_IDENTITY(u, "google", sub, d);
    ASSERT_STR_EQ(jstr(d, "email"), email);
    ASSERT_STR_EQ(jstr(d, "iss"), GOOGLE_ISS);
    ASSERT_TRUE(jtrue(d, "email_verified"));
    ASSERT_EQ(amr_method(s.access, m, sizeof(m)), 0);
    ASSERT_STR_EQ(m, "oauth");
    json_object_put(u);
    json_object_put(o);
}

CTEST(pkce, a_second_sign_in_is_the_same_user)
{
    struct gh_user g;
    struct session s1, s2;
    struct json_object *u;

    ASSERT_EQ(new_github_user(&g, "gh-again", 1), 0);
    ASSERT_EQ(github_sign_in(g.login, &s1), 200);
    ASSERT_EQ(github_sign_in(g.login, &s2), 200);
    ASSERT_STR_EQ(s2.user_id, s1.user_id);
    ASSERT_TRUE(strcmp(s1.access, s2.access) != 0);
    ASSERT_EQ(users_with_email(g.email), 1);
    ASSERT_EQ(identities_with_subject("github", g.id), 1);
    u = me(s2.access);
    ASSERT_EQ(identities_count(u), 1);
    json_object_put(u);
    /* Google too, found by its identity. */
    {
        char gmail[128];
        struct flow f;
        struct session g1, g2;
        new_email(gmail, sizeof(gmail), "g-again");
        flow_init(&f, "google", gmail);
        ASSERT_EQ(flow_session(&f, &g1, NULL), 200);
        flow_init(&f, "google", gmail);
        ASSERT_EQ(flow_session(&f, &g2, NULL), 200);
        ASSERT_STR_EQ(g2.user_id, g1.user_id);
        ASSERT_EQ(users_with_email(gmail), 1);
    }
}

CTEST(pkce, plain_method_needs_the_challenge_itself)
{
    struct flow f;
    char code[128], other[64];

    flow_init(&f, "github", NULL);
    snprintf(f.method, sizeof(f.method), "plain");
    snprintf(f.challenge, sizeof(f.challenge), "%s", f.verifier);
    ASSERT_FLOW_CODE(f, code);
    s256_of(f.verifier, other); /* well-formed, but not the challenge */
    ASSERT_EXCHANGE_REFUSED(code, other, f.src, 400, "bad_code_verifier");
    ASSERT_EQ(pkce_exchange(code, f.verifier, f.src, NULL, NULL), 200);
}

CTEST(pkce, upper_case_S256_works)
{
    struct flow f;
    struct session s;

    flow_init(&f, "github", NULL);
    snprintf(f.method, sizeof(f.method), "S256");
    ASSERT_EQ(flow_session(&f, &s, NULL), 200);
    ASSERT_EQ(get_user(s.access), 200);
}

/* ---- the implicit flow ---- */

CTEST(implicit, google_tokens_come_in_the_fragment)
{
    struct flow f;
    char email[128], at[4096], rt[128], v[512];
    struct json_object *u;
    long uid_logins;

    new_email(email, sizeof(email), "g-implicit");
    implicit_init(&f, "google", email);
    ASSERT_EQ(flow_run(&f), 0);
    ASSERT_TRUE(starts_with(f.final, GOOD_REDIRECT "#"));
    ASSERT_EQ(url_param(f.final, '?', "code", NULL, 0), 0);
    ASSERT_EQ(url_param(f.final, '#', "access_token", at, sizeof(at)), 1);
    ASSERT_EQ(url_param(f.final, '#', "refresh_token", rt, sizeof(rt)), 1);
    ASSERT_EQ(strlen(rt), 43);
    ASSERT_PARAM(f.final, '#', "token_type", "bearer");
    ASSERT_EQ(url_param(f.final, '#', "expires_in", v, sizeof(v)), 1);
    ASSERT_TRUE(strtol(v, NULL, 10) > 0);
    ASSERT_EQ(url_param(f.final, '#', "expires_at", v, sizeof(v)), 1);
    ASSERT_TRUE(strtol(v, NULL, 10) > (long)time(NULL));
    ASSERT_EQ(url_param(f.final, '#', "provider_token", v, sizeof(v)), 1);
    ASSERT_TRUE(starts_with(v, "ya29."));
    ASSERT_EQ(url_param(f.final, '#', "provider_refresh_token", v, sizeof(v)), 1);
    ASSERT_TRUE(starts_with(v, "1//"));
    ASSERT_TRUE(ends_with(f.final, "&sb="));
    /* The tokens work. */
    u = me(at);
    ASSERT_NOT_NULL(u);
    ASSERT_STR_EQ(jstr(u, "email"), email);
    ASSERT_STR_EQ(jpath_str(u, "app_metadata", "provider"), "google");
    uid_logins = q_long("SELECT count(*) FROM audit_log WHERE actor_id = $1::uuid AND action = "
                        "'user.login' AND details->>'provider' = 'google'",
                        jstr(u, "id"), NULL, NULL);
    ASSERT_EQ(uid_logins, 1);
    json_object_put(u);
    ASSERT_EQ(amr_method(at, v, sizeof(v)), 0);
    ASSERT_STR_EQ(v, "oauth");
    ASSERT_EQ(refresh(rt, NULL, NULL), 200);
    /* The flow is gone with its one use. */
    ASSERT_EQ(q_long("SELECT count(*) FROM oauth_flows WHERE state_hash = digest($1::text, "
                     "'sha256')",
                     f.state, NULL, NULL),
              0);
}

/* ---- state attacks ---- */

/* The callback path with one character of its state changed. */
static void tamper_state(const char *callback, char *out, size_t n)
{
    const char *s = strstr(callback, "state=");

    snprintf(out, n, "%s", callback);
    if (s != NULL) {
        char *c = out + (s - callback) + 6 + 10;
        *c = *c == 'A' ? 'B' : 'A';
    }
}

CTEST(state, a_tampered_state_goes_to_site_url_and_spoils_nothing)
{
    struct flow f;
    char bad[8192], final[16384], code[128];

    flow_init(&f, "github", NULL);
    snprintf(f.redirect_to, sizeof(f.redirect_to), "http://localhost:3000/app");
    ASSERT_EQ(flow_authorize(&f), 302);
    ASSERT_EQ(flow_provider(&f), 0);
    tamper_state(f.callback, bad, sizeof(bad));
    ASSERT_TRUE(strcmp(bad, f.callback) != 0);
    ASSERT_EQ(callback_at(f.src, bad, final, sizeof(final)), 302);
    /* No flow is known: site_url, the error in both query and fragment. */
    ASSERT_TRUE(starts_with_site(final, "?"));
    ASSERT_FINAL_ERROR(final, '?', "invalid_request", "bad_oauth_state");
    ASSERT_FINAL_ERROR(final, '#', "invalid_request", "bad_oauth_state");
    ASSERT_TRUE(ends_with(final, "&sb="));
    /* The real callback still completes. */
    ASSERT_EQ(callback_at(f.src, f.callback, f.final, sizeof(f.final)), 302);
    ASSERT_TRUE(starts_with(f.final, "http://localhost:3000/app?code="));
    ASSERT_EQ(final_code(&f, code, sizeof(code)), 0);
    ASSERT_EQ(pkce_exchange(code, f.verifier, f.src, NULL, NULL), 200);
}

CTEST(state, a_state_of_another_length_is_unknown)
{
    char final[16384];
    const char *src = src_for(123);
    static const char *const paths[] = {
        "/auth/v1/callback?state=abc&code=x",
        "/auth/v1/"
        "callback?state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&code=x",
        "/auth/v1/callback?state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&code=x",
    };

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        ASSERT_EQ(callback_at(src, paths[i], final, sizeof(final)), 302);
        ASSERT_TRUE(starts_with(final, SITE_URL));
        ASSERT_FINAL_ERROR(final, '?', "invalid_request", "bad_oauth_state");
        ASSERT_FINAL_ERROR(final, '#', "invalid_request", "bad_oauth_state");
    }
}

CTEST(state, a_replayed_callback_is_refused)
{
    struct flow f;
    char again[16384], code[128];

    flow_init(&f, "github", NULL);
    ASSERT_FLOW_CODE(f, code);
    /* The same URL again: the flow's state is spent. */
    ASSERT_EQ(callback_at(f.src, f.callback, again, sizeof(again)), 302);
    ASSERT_TRUE(starts_with(again, GOOD_REDIRECT "?"));
    ASSERT_FINAL_ERROR(again, '?', "invalid_request", "flow_state_already_used");
    ASSERT_EQ(url_param(again, '#', "error", NULL, 0), 0);
    /* The first answer's code still works, once. */
    ASSERT_EQ(pkce_exchange(code, f.verifier, f.src, NULL, NULL), 200);
    /* And after the exchange the replay still gets nothing. */
    ASSERT_EQ(callback_at(f.src, f.callback, again, sizeof(again)), 302);
    ASSERT_TRUE(url_param(again, '?', "error_code", NULL, 0) == 1);
    ASSERT_EQ(url_param(again, '?', "code", NULL, 0), 0);
}

CTEST(state, an_implicit_replay_gets_no_session)
{
    struct flow f;
    char again[16384];

    implicit_init(&f, "google", NULL);
    ASSERT_EQ(flow_run(&f), 0);
    ASSERT_EQ(url_param(f.final, '#', "access_token", NULL, 0), 1);
    ASSERT_EQ(callback_at(f.src, f.callback, again, sizeof(again)), 302);
    ASSERT_EQ(url_param(again, '#', "error_code", NULL, 0), 1);
    ASSERT_EQ(url_param(again, '#', "access_token", NULL, 0), 0);
    ASSERT_EQ(url_param(again, '#', "refresh_token", NULL, 0), 0);
}

CTEST(state, an_expired_state_is_refused)
{
    struct flow f;

    flow_init(&f, "github", NULL);
    ASSERT_EQ(flow_authorize(&f), 302);
    ASSERT_EQ(flow_provider(&f), 0);
    ASSERT_EQ(q_exec("UPDATE oauth_flows SET expires_at = now() - interval '1 minute' WHERE "
                     "state_hash = digest($1::text, 'sha256')",
                     f.state, NULL),
              1);
    ASSERT_EQ(callback_at(f.src, f.callback, f.final, sizeof(f.final)), 302);
    ASSERT_TRUE(starts_with(f.final, GOOD_REDIRECT "?"));
    ASSERT_FINAL_ERROR(f.final, '?', "invalid_request", "bad_oauth_state");
    /* GitHub's code was never exchanged. */
    {
        char code[512];
        struct json_object *e;
        ASSERT_EQ(url_param(f.callback, '?', "code", code, sizeof(code)), 1);
        e = logged("github", "token", "code", code);
        ASSERT_NULL(e);
    }
}

CTEST(state, a_missing_state_is_a_bad_callback)
{
    char final[16384];
    const char *src = src_for(124);
    static const char *const paths[] = {"/auth/v1/callback?code=abc",
                                        "/auth/v1/callback?state=&code=abc", "/auth/v1/callback"};

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        ASSERT_EQ(callback_at(src, paths[i], final, sizeof(final)), 302);
        ASSERT_TRUE(starts_with_site(final, "?"));
        ASSERT_FINAL_ERROR(final, '?', "invalid_request", "bad_oauth_callback");
        ASSERT_FINAL_ERROR(final, '#', "invalid_request", "bad_oauth_callback");
    }
}

CTEST(state, a_github_flow_answered_with_googles_issuer_is_refused)
{
    struct flow f;
    struct gh_user g;
    char path[8400];

    ASSERT_EQ(new_github_user(&g, "gh-iss", 1), 0);
    flow_init(&f, "github", g.login);
    ASSERT_EQ(flow_authorize(&f), 302);
    ASSERT_EQ(flow_provider(&f), 0);
    snprintf(path, sizeof(path), "%s&iss=https%%3A%%2F%%2Faccounts.google.com", f.callback);
    ASSERT_EQ(callback_at(f.src, path, f.final, sizeof(f.final)), 302);
    ASSERT_TRUE(starts_with(f.final, GOOD_REDIRECT "?"));
    ASSERT_FINAL_ERROR(f.final, '?', "invalid_request", "bad_oauth_callback");
    ASSERT_EQ(users_with_email(g.email), 0);
    {
        char code[512];
        struct json_object *e;
        ASSERT_EQ(url_param(f.callback, '?', "code", code, sizeof(code)), 1);
        e = logged("github", "token", "code", code);
        ASSERT_NULL(e); /* never exchanged */
    }
}

CTEST(state, a_google_flow_answered_with_another_issuer_is_refused)
{
    struct flow f;
    char email[128], code[512], ecode[1600], rest[2048];

    flow_init_new_user(&f, "google", email, sizeof(email), "g-iss");
    ASSERT_EQ(flow_authorize(&f), 302);
    ASSERT_EQ(flow_provider(&f), 0);
    ASSERT_EQ(url_param(f.callback, '?', "code", code, sizeof(code)), 1);
    enc(code, ecode, sizeof(ecode));
    snprintf(rest, sizeof(rest), "&code=%s&iss=https%%3A%%2F%%2Faccounts.google.example", ecode);
    ASSERT_EQ(callback_with_state(&f, rest), 302);
    ASSERT_FINAL_ERROR(f.final, '?', "invalid_request", "bad_oauth_callback");
    ASSERT_EQ(users_with_email(email), 0);
}

CTEST(state, a_known_state_without_a_code_is_a_bad_callback)
{
    struct flow f;

    flow_init(&f, "github", NULL);
    ASSERT_EQ(flow_authorize(&f), 302);
    ASSERT_EQ(callback_with_state(&f, NULL), 302);
    ASSERT_TRUE(starts_with(f.final, GOOD_REDIRECT "?"));
    ASSERT_FINAL_ERROR(f.final, '?', "invalid_request", "bad_oauth_callback");
}

CTEST(state, a_github_flow_with_a_google_code_is_refused_by_github)
{
    struct flow f;
    struct ext_resp r;
    char email[128], ecb[512], eh[256], url[2048], gcode[512], egcode[1600], path[4096];

    new_email(email, sizeof(email), "g-cross");
    flow_init(&f, "github", NULL);
    ASSERT_EQ(flow_authorize(&f), 302);
    /* A real code from Google's stand-in, for ums's redirect_uri. */
    enc(ums_callback(), ecb, sizeof(ecb));
    enc(email, eh, sizeof(eh));
    snprintf(url, sizeof(url),
             "%s/o/oauth2/v2/auth?client_id=ums-stack-google&redirect_uri=%s&response_type=code&"
             "scope=openid%%20email&state=mine&login_hint=%s",
             mock_url("google"), ecb, eh);
    ASSERT_EQ(ext_req("GET", url, NULL, &r), 0);
    ASSERT_EQ(r.status, 302);
    ASSERT_EQ(url_param(r.location, '?', "code", gcode, sizeof(gcode)), 1);
    free(r.body);
    enc(gcode, egcode, sizeof(egcode));
    snprintf(path, sizeof(path), "/auth/v1/callback?code=%s&state=%s", egcode, f.state);
    ASSERT_EQ(callback_at(f.src, path, f.final, sizeof(f.final)), 302);
    ASSERT_TRUE(starts_with(f.final, GOOD_REDIRECT "?"));
    ASSERT_FINAL_ERROR(f.final, '?', "access_denied", "provider_refused");
    ASSERT_EQ(users_with_email(email), 0);
    /* It was GitHub that was asked (and refused). */
    {
        struct json_object *e = logged("github", "token", "code", gcode);
        ASSERT_NOT_NULL(e);
        json_object_put(e);
    }
}

/* ---- consent ---- */

CTEST(consent, refused_at_github_pkce)
{
    struct flow f;
    char gh[64], email[160];

    flow_init_new_user(&f, "github", gh, sizeof(gh), "deny");
    ASSERT_EQ(flow_run(&f), 0);
    ASSERT_TRUE(starts_with(f.final, GOOD_REDIRECT "?"));
    ASSERT_FINAL_ERROR(f.final, '?', "access_denied", "access_denied");
    ASSERT_TRUE(strchr(f.final, '#') == NULL);
    snprintf(email, sizeof(email), "%s@users.noreply.example", gh);
    ASSERT_EQ(users_with_email(email), 0);
}

CTEST(consent, refused_at_google_implicit)
{
    struct flow f;
    char email[128];

    new_email(email, sizeof(email), "deny");
    implicit_init(&f, "google", email);
    ASSERT_EQ(flow_run(&f), 0);
    ASSERT_TRUE(starts_with(f.final, GOOD_REDIRECT "#"));
    ASSERT_FINAL_ERROR(f.final, '#', "access_denied", "access_denied");
    ASSERT_EQ(url_param(f.final, '?', "error", NULL, 0), 0);
    ASSERT_TRUE(ends_with(f.final, "&sb="));
    ASSERT_EQ(users_with_email(email), 0);
}

CTEST(consent, an_unknown_provider_error_is_a_server_error)
{
    struct flow f;

    flow_init(&f, "github", NULL);
    ASSERT_EQ(flow_authorize(&f), 302);
    ASSERT_EQ(callback_with_state(&f, "&error=%3Cscript%3E"), 302);
    ASSERT_FINAL_ERROR(f.final, '?', "server_error", "access_denied");
    /* The provider's word is not echoed to the app. */
    ASSERT_TRUE(strstr(f.final, "script>") == NULL && strcasestr(f.final, "%3Cscript") == NULL);
}

/* ---- POST /token?grant_type=pkce ---- */

CTEST(exchange, an_auth_code_is_single_use)
{
    struct flow f;
    char code[128];

    flow_init(&f, "github", NULL);
    ASSERT_FLOW_CODE(f, code);
    ASSERT_TRUE(is_b64url(code, 43));
    ASSERT_EQ(pkce_exchange(code, f.verifier, f.src, NULL, NULL), 200);
    ASSERT_EXCHANGE_REFUSED(code, f.verifier, f.src, 404, "flow_state_not_found");
}

CTEST(exchange, a_wrong_verifier_is_refused_and_the_right_one_still_works)
{
    struct flow f;
    struct session s;
    char code[128], other[64];

    flow_init(&f, "github", NULL);
    ASSERT_FLOW_CODE(f, code);
    new_verifier(other);
    ASSERT_EXCHANGE_REFUSED(code, other, f.src, 400, "bad_code_verifier");
    /* The challenge itself. */
    ASSERT_EXCHANGE_REFUSED(code, f.challenge, f.src, 400, "bad_code_verifier");
    ASSERT_EXCHANGE_REFUSED(code, "short", f.src, 400, "bad_code_verifier");
    ASSERT_EQ(pkce_exchange(code, f.verifier, f.src, &s, NULL), 200);
    ASSERT_EQ(get_user(s.access), 200);
}

CTEST(exchange, both_members_are_required)
{
    struct flow f;
    char code[128];
    const char *src;

    flow_init(&f, "github", NULL);
    src = f.src;
    ASSERT_FLOW_CODE(f, code);
    {
        char b1[256], b2[256], b3[256], b4[256];
        const char *bodies[] = {b1, b2, b3, b4, "{}"};
        snprintf(b1, sizeof(b1), "{\"auth_code\":\"%s\"}", code);
        snprintf(b2, sizeof(b2), "{\"code_verifier\":\"%s\"}", f.verifier);
        snprintf(b3, sizeof(b3), "{\"auth_code\":\"\",\"code_verifier\":\"%s\"}", f.verifier);
        snprintf(b4, sizeof(b4), "{\"auth_code\":\"%s\",\"code_verifier\":\"\"}", code);
        for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
            struct http_resp r;
            char why[256];
            ASSERT_EQ(post("/auth/v1/token?grant_type=pkce", bodies[i], NULL, src, &r), 0);
            if (!error_matches(&r, ERR_AUTH, 400, "validation_failed", why, sizeof(why)))
                CTEST_FAIL_("%s: %s; got %ld %s", bodies[i], why, r.status, r.body);
            http_resp_free(&r);
        }
    }
    /* None of that spent the code. */
    ASSERT_EQ(pkce_exchange(code, f.verifier, src, NULL, NULL), 200);
}

CTEST(exchange, an_expired_code_is_refused)
{
    struct flow f;
    char code[128];

    flow_init(&f, "github", NULL);
    ASSERT_FLOW_CODE(f, code);
    ASSERT_EQ(q_exec("UPDATE oauth_flows SET auth_code_expires_at = now() - interval '1 second' "
                     "WHERE auth_code_hash = digest($1::text, 'sha256')",
                     code, NULL),
              1);
    ASSERT_EXCHANGE_REFUSED(code, f.verifier, f.src, 422, "flow_state_expired");
    ASSERT_EXCHANGE_REFUSED(code, f.verifier, f.src, 404, "flow_state_not_found");
}

CTEST(exchange, unknown_codes_and_states_are_not_codes)
{
    struct flow f;
    char made_up[64];

    flow_init(&f, "github", NULL);
    ASSERT_EQ(flow_run(&f), 0);
    new_verifier(made_up);
    ASSERT_EXCHANGE_REFUSED(made_up, f.verifier, f.src, 404, "flow_state_not_found");
    /* The state is no auth code. */
    ASSERT_EXCHANGE_REFUSED(f.state, f.verifier, f.src, 404, "flow_state_not_found");
}

/* ---- redirect_to ---- */

CTEST(redirect, hostile_targets_end_at_site_url)
{
    static const char *const targets[] = {
        "http://evil.example/cb",
        "javascript:alert(1)",
        "//evil.example/cb",
        "http://localhost:3000@evil.example/",
        "https://localhost:3000.evil.example/",
        "http://localhost:3000\\@evil.example/",
        "http://localhost.evil.example:3000/",
        "https://localhost:3000/cb",
    };
    char gh[64];

    new_login(gh, sizeof(gh), "gh-redir");
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        struct flow f;
        flow_init(&f, "github", gh);
        snprintf(f.redirect_to, sizeof(f.redirect_to), "%s", targets[i]);
        ASSERT_EQ(flow_run(&f), 0);
        if (!starts_with_site(f.final, "?code=") || strstr(f.final, "evil") != NULL ||
            url_param(f.final, '?', "code", NULL, 0) != 1)
            CTEST_FAIL_("%s: sent to %s", targets[i], f.final);
    }
}

CTEST(redirect, an_allowed_target_keeps_its_query)
{
    struct flow f;
    char code[128];

    flow_init(&f, "github", NULL);
    snprintf(f.redirect_to, sizeof(f.redirect_to), "http://localhost:3000/app?x=1");
    ASSERT_EQ(flow_run(&f), 0);
    ASSERT_TRUE(starts_with(f.final, "http://localhost:3000/app?x=1&code="));
    ASSERT_PARAM(f.final, '?', "x", "1");
    ASSERT_EQ(final_code(&f, code, sizeof(code)), 0);
    ASSERT_EQ(pkce_exchange(code, f.verifier, f.src, NULL, NULL), 200);
    /* site_url's host on another port (a loopback host): kept too. */
    flow_init(&f, "github", NULL);
    snprintf(f.redirect_to, sizeof(f.redirect_to), "http://localhost:5173/auth/callback");
    ASSERT_EQ(flow_run(&f), 0);
    ASSERT_TRUE(starts_with(f.final, "http://localhost:5173/auth/callback?code="));
    /* None at all: site_url. */
    flow_init(&f, "github", NULL);
    f.redirect_to[0] = '\0';
    ASSERT_EQ(flow_run(&f), 0);
    ASSERT_TRUE(starts_with_site(f.final, "?code="));
}

/* A PKCE app's own fragment route (a single-page app's #/...) is kept
 * after the code; the implicit flow's tokens replace it. */
CTEST(redirect, a_pkce_target_keeps_its_fragment)
{
    struct flow f;
    char code[128];

    flow_init(&f, "github", NULL);
    snprintf(f.redirect_to, sizeof(f.redirect_to), "http://localhost:3000/app#/signed-in");
    ASSERT_FLOW_CODE(f, code);
    ASSERT_TRUE(starts_with(f.final, "http://localhost:3000/app?code="));
    ASSERT_NOT_NULL(strstr(f.final, "#/signed-in"));
    ASSERT_NULL(strchr(code, '#'));
    ASSERT_EQ(pkce_exchange(code, f.verifier, f.src, NULL, NULL), 200);
    implicit_init(&f, "github", NULL);
    snprintf(f.redirect_to, sizeof(f.redirect_to), "http://localhost:3000/app#/signed-in");
    ASSERT_EQ(flow_run(&f), 0);
    ASSERT_TRUE(starts_with(f.final, "http://localhost:3000/app#access_token="));
    ASSERT_NULL(strstr(f.final, "/signed-in"));
}

/* ---- provider failures ---- */

/* A Google sign-in of a fresh verified user whose endpoint call fails with
 * mode (and a second script when endpoint2 is set); the user's address in
 * email. The flow's steps ran when 0. */
static int google_failing(struct flow *f, const char *endpoint, const char *mode,
                          const char *endpoint2, const char *mode2, char *email, size_t n)
{
    new_email(email, n, "g-fail");
    if (google_user(email, 1, NULL, 0) != 0 || mock_fail("google", endpoint, mode, email) != 0 ||
        (endpoint2 != NULL && mock_fail("google", endpoint2, mode2, email) != 0))
        return -1;
    flow_init(f, "google", email);
    return flow_run(f);
}

/* A Google sign-in whose endpoint call fails with mode (and, when endpoint2
 * is set, whose endpoint2 call fails with mode2) ends at the app as
 * temporarily_unavailable (provider_unavailable) and makes no account. */
#define ASSERT_GOOGLE_UNAVAILABLE(endpoint, mode, endpoint2, mode2)                                \
    do {                                                                                           \
        struct flow f_;                                                                            \
        char email_[128];                                                                          \
        ASSERT_EQ(                                                                                 \
            google_failing(&f_, (endpoint), (mode), (endpoint2), (mode2), email_, sizeof(email_)), \
            0);                                                                                    \
        ASSERT_UNAVAILABLE(f_, email_);                                                            \
    } while (0)

CTEST(google_failure, token_500_is_unavailable)
{
    struct flow f;
    char email[128];

    ASSERT_EQ(google_failing(&f, "token", "500", NULL, NULL, email, sizeof(email)), 0);
    ASSERT_TRUE(starts_with(f.final, GOOD_REDIRECT "?"));
    ASSERT_UNAVAILABLE(f, email);
}

CTEST(google_failure, a_token_call_that_hangs_times_out)
{
    struct flow f;
    char email[128];
    double t0, took;

    new_email(email, sizeof(email), "g-hang");
    ASSERT_EQ(google_user(email, 1, NULL, 0), 0);
    ASSERT_EQ(mock_fail("google", "token", "hang", email), 0);
    flow_init(&f, "google", email);
    ASSERT_EQ(flow_authorize(&f), 302);
    ASSERT_EQ(flow_provider(&f), 0);
    t0 = now_s();
    ASSERT_EQ(callback_at(f.src, f.callback, f.final, sizeof(f.final)), 302);
    took = now_s() - t0;
    ASSERT_FINAL_ERROR(f.final, '?', "temporarily_unavailable", "provider_unavailable");
    if (took < 4.5 || took > 6.5)
        CTEST_FAIL_("the callback took %.2f s ([oauth] timeout_ms is 5000)", took);
    ASSERT_EQ(users_with_email(email), 0);
}

CTEST(google_failure, bad_json_is_unavailable)
{
    ASSERT_GOOGLE_UNAVAILABLE("token", "badjson", NULL, NULL);
}

CTEST(google_failure, a_huge_answer_is_unavailable)
{
    double t0 = now_s();

    ASSERT_GOOGLE_UNAVAILABLE("token", "huge", NULL, NULL);
    ASSERT_TRUE(now_s() - t0 < 5);
}

CTEST(google_failure, a_bad_id_token_is_refused)
{
    static const char *const modes[] = {"badsig", "wrongaud", "expired", "wrongnonce", "wrongiss"};

    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        struct flow f;
        char email[128];
        ASSERT_EQ(google_failing(&f, "token", modes[i], NULL, NULL, email, sizeof(email)), 0);
        if (url_param(f.final, '?', "error_code", NULL, 0) != 1)
            CTEST_FAIL_("%s: signed in: %s", modes[i], f.final);
        ASSERT_FINAL_ERROR(f.final, '?', "access_denied", "provider_refused");
        ASSERT_EQ(users_with_email(email), 0);
    }
}

CTEST(google_failure, no_id_token_signs_in_through_userinfo)
{
    struct flow f;
    struct session s;
    char email[128], sub[64], code[128];
    struct json_object *u, *idn, *d;

    new_email(email, sizeof(email), "g-noidt");
    ASSERT_EQ(google_user(email, 1, sub, sizeof(sub)), 0);
    ASSERT_EQ(mock_fail("google", "token", "noidtoken", email), 0);
    flow_init(&f, "google", email);
    ASSERT_FLOW_CODE(f, code);
    ASSERT_EQ(pkce_exchange(code, f.verifier, f.src, &s, NULL), 200);
    u = me(s.access);
    ASSERT_STR_EQ(jstr(u, "email"), email);
    idn = identity_of(u, "google");
    ASSERT_NOT_NULL(idn);
    ASSERT_STR_EQ(jstr(idn, "id"), sub);
    ASSERT_TRUE(json_object_object_get_ex(idn, "identity_data", &d));
    ASSERT_TRUE(jtrue(d, "email_verified"));
    json_object_put(u);
}

CTEST(google_failure, no_id_token_and_userinfo_500_is_unavailable)
{
    ASSERT_GOOGLE_UNAVAILABLE("token", "noidtoken", "userinfo", "500");
}

/* A GitHub sign-in of a fresh user (into u) whose endpoint fails with mode:
 * the flow's steps ran when 0. */
static int github_failing(struct flow *f, const char *endpoint, const char *mode, struct gh_user *u)
{
    if (new_github_user(u, "gh-fail", 1) != 0 || mock_fail("github", endpoint, mode, u->email) != 0)
        return -1;
    flow_init(f, "github", u->login);
    return flow_run(f);
}

/* Such a sign-in ends at the app as temporarily_unavailable
 * (provider_unavailable) and makes no account for the user's address. */
#define ASSERT_GITHUB_UNAVAILABLE(endpoint, mode, u)                                               \
    do {                                                                                           \
        struct flow f_;                                                                            \
        ASSERT_EQ(github_failing(&f_, (endpoint), (mode), &(u)), 0);                               \
        ASSERT_UNAVAILABLE(f_, (u).email);                                                         \
    } while (0)

CTEST(github_failure, user_500_is_unavailable)
{
    struct gh_user u;

    ASSERT_GITHUB_UNAVAILABLE("user", "500", u);
    ASSERT_EQ(identities_with_subject("github", u.id), 0);
}

CTEST(github_failure, emails_bad_json_is_unavailable)
{
    struct gh_user u;

    ASSERT_GITHUB_UNAVAILABLE("emails", "badjson", u);
    ASSERT_EQ(identities_with_subject("github", u.id), 0);
}

CTEST(github_failure, token_500_is_unavailable)
{
    struct gh_user u;

    ASSERT_GITHUB_UNAVAILABLE("token", "500", u);
}

/* ---- what ums sends the providers ---- */

CTEST(provider_calls, the_code_exchange_carries_the_client_and_ums_own_verifier)
{
    struct flow f;
    struct json_object *e, *p, *h;
    char email[128], code[512];
    static const char *const providers[] = {"google", "github"};

    for (size_t i = 0; i < 2; i++) {
        new_email(email, sizeof(email), "calls");
        flow_init(&f, providers[i], i == 0 ? email : NULL);
        ASSERT_EQ(flow_run(&f), 0);
        ASSERT_EQ(url_param(f.callback, '?', "code", code, sizeof(code)), 1);
        e = logged(providers[i], "token", "code", code);
        ASSERT_NOT_NULL(e);
        ASSERT_TRUE(json_object_object_get_ex(e, "params", &p));
        ASSERT_TRUE(json_object_object_get_ex(e, "headers", &h));
        ASSERT_STR_EQ(jstr(e, "method"), "POST");
        ASSERT_STR_EQ(jstr(p, "client_id"), i == 0 ? "ums-stack-google" : "ums-stack-github");
        ASSERT_STR_EQ(jstr(p, "client_secret"), "<set>");
        ASSERT_STR_EQ(jstr(p, "code_verifier"), "<set>");
        ASSERT_STR_EQ(jstr(p, "redirect_uri"), ums_callback());
        if (i == 0)
            ASSERT_STR_EQ(jstr(p, "grant_type"), "authorization_code");
        ASSERT_STR_CONTAINS(jstr(h, "accept"), "application/json");
        ASSERT_TRUE(starts_with(jstr(h, "user_agent"), "ums/"));
        json_object_put(e);
    }
}

/* ---- the address rules ---- */

CTEST(email, a_github_user_with_only_an_unverified_address_gets_no_account)
{
    struct flow f;
    struct gh_user g;

    ASSERT_EQ(new_github_user(&g, "gh-unver", 0), 0);
    flow_init(&f, "github", g.login);
    ASSERT_FLOW_FAILS(f, '?', "access_denied", "provider_email_needs_verification");
    ASSERT_EQ(users_with_email(g.email), 0);
    ASSERT_EQ(identities_with_subject("github", g.id), 0);
}

CTEST(email, an_unverified_google_address_of_a_password_account_does_not_link)
{
    struct flow f;
    struct session s;
    char email[128], sub[64];

    new_email(email, sizeof(email), "g-unver-owner");
    ASSERT_EQ(signup(email, PW, &s), 0);
    ASSERT_EQ(google_user(email, 0, sub, sizeof(sub)), 0);
    flow_init(&f, "google", email);
    ASSERT_FLOW_FAILS(f, '?', "access_denied", "email_exists");
    ASSERT_EQ(
        q_long("SELECT count(*) FROM identities WHERE user_id = $1::uuid", s.user_id, NULL, NULL),
        1);
    ASSERT_EQ(identities_with_subject("google", sub), 0);
    ASSERT_EQ(login(email, PW, src_for(125), NULL, NULL), 200);
    ASSERT_EQ(get_user(s.access), 200);
}

CTEST(email, an_unverified_google_address_makes_no_account)
{
    struct flow f;
    char email[128], sub[64];

    new_email(email, sizeof(email), "g-unver-new");
    ASSERT_EQ(google_user(email, 0, sub, sizeof(sub)), 0);
    flow_init(&f, "google", email);
    ASSERT_FLOW_FAILS(f, '?', "access_denied", "provider_email_needs_verification");
    ASSERT_EQ(users_with_email(email), 0);
    ASSERT_EQ(identities_with_subject("google", sub), 0);
}

/* ---- the pre-registration takeover ---- */

/* A Google sign-in (PKCE) of email, verified at Google, to its session. */
static long google_sign_in(const char *email, struct session *s)
{
    struct flow f;

    if (google_user(email, 1, NULL, 0) != 0)
        return -1;
    flow_init(&f, "google", email);
    return flow_session(&f, s, NULL);
}

/* An account registered with a password by someone who never proved the
 * address (the stack confirms nothing by itself: made so by hand). */
static int pre_registered(char *email, size_t n, const char *tag, struct session *s)
{
    new_email(email, n, tag);
    if (signup(email, PW, s) != 0)
        return -1;
    return q_exec("UPDATE users SET email_confirmed_at = NULL WHERE email = $1", email, NULL) == 1
               ? 0
               : -1;
}

CTEST(takeover, an_unconfirmed_password_account_goes_to_the_address_owner)
{
    char email[128];
    struct session att, vic;
    struct http_resp r;
    struct json_object *u;

    ASSERT_EQ(pre_registered(email, sizeof(email), "victim", &att), 0);
    ASSERT_EQ(google_sign_in(email, &vic), 200);
    ASSERT_STR_EQ(vic.user_id, att.user_id); /* the same account */
    /* The registrant's password and sessions are gone. */
    ASSERT_EQ(login(email, PW, src_for(126), NULL, &r), 400);
    ASSERT_ERROR(r, ERR_AUTH, 400, "invalid_credentials");
    http_resp_free(&r);
    ASSERT_EQ(refresh(att.refresh, NULL, NULL), 400);
    ASSERT_EQ(get_user(att.access), 403);
    u = me(vic.access);
    ASSERT_NOT_NULL(u);
    ASSERT_EQ(identities_count(u), 1);
    ASSERT_NOT_NULL(identity_of(u, "google"));
    ASSERT_NOT_NULL(jstr(u, "email_confirmed_at"));
    json_object_put(u);
    ASSERT_EQ(get_user(vic.access), 200);
}

CTEST(takeover, a_confirmed_account_is_linked_and_keeps_its_password)
{
    char email[128];
    struct session own, g;
    struct json_object *u;

    new_email(email, sizeof(email), "confirmed");
    ASSERT_EQ(signup(email, PW, &own), 0);
    ASSERT_EQ(q_exec("UPDATE users SET email_confirmed_at = now() WHERE email = $1", email, NULL),
              1);
    ASSERT_EQ(google_sign_in(email, &g), 200);
    ASSERT_STR_EQ(g.user_id, own.user_id);
    ASSERT_EQ(login(email, PW, src_for(127), NULL, NULL), 200);
    ASSERT_EQ(get_user(own.access), 200);
    ASSERT_EQ(refresh(own.refresh, NULL, NULL), 200);
    u = me(g.access);
    ASSERT_EQ(identities_count(u), 2);
    ASSERT_NOT_NULL(identity_of(u, "email"));
    ASSERT_NOT_NULL(identity_of(u, "google"));
    json_object_put(u);
}

/* Links the GitHub user of login gh to the account of session s (PKCE); the final
 * redirect in f. */
static long link_github(struct flow *f, const char *gh, struct session *s, struct session *out)
{
    link_init(f, gh, s);
    return flow_session(f, out, NULL);
}

CTEST(takeover, an_identity_the_registrant_linked_goes_with_the_password)
{
    char email[128];
    struct gh_user g;
    struct session att, linked, vic, again;
    struct flow f;
    struct json_object *u;
    long st;

    ASSERT_EQ(pre_registered(email, sizeof(email), "victim-linked", &att), 0);
    /* The registrant links a GitHub account of its own first. */
    ASSERT_EQ(new_github_user(&g, "gh-attacker", 1), 0);
    ASSERT_EQ(link_github(&f, g.login, &att, &linked), 200);
    ASSERT_STR_EQ(linked.user_id, att.user_id);
    /* The address's owner signs in with Google. */
    ASSERT_EQ(google_sign_in(email, &vic), 200);
    ASSERT_STR_EQ(vic.user_id, att.user_id);
    u = me(vic.access);
    ASSERT_NOT_NULL(u);
    if (identities_count(u) != 1 || identity_of(u, "google") == NULL)
        CTEST_FAIL_("the taken-over account has %d identities, the registrant's GitHub one "
                    "among them: %s",
                    identities_count(u), identity_of(u, "github") != NULL ? "yes" : "no");
    json_object_put(u);
    /* The registrant's GitHub no longer opens the account. */
    st = github_sign_in(g.login, &again);
    ASSERT_TRUE(st != 200 || strcmp(again.user_id, vic.user_id) != 0);
}

CTEST(takeover, a_link_the_registrant_started_cannot_finish_after)
{
    char email[128];
    struct gh_user g;
    struct session att, vic;
    struct flow f;
    struct json_object *u;

    ASSERT_EQ(pre_registered(email, sizeof(email), "victim-pending", &att), 0);
    ASSERT_EQ(new_github_user(&g, "gh-attacker", 1), 0);
    /* The registrant starts a link and gets GitHub's answer, but keeps it. */
    link_init(&f, g.login, &att);
    ASSERT_EQ(flow_authorize(&f), 200);
    ASSERT_EQ(flow_provider(&f), 0);
    /* The address's owner takes the account. */
    ASSERT_EQ(google_sign_in(email, &vic), 200);
    ASSERT_STR_EQ(vic.user_id, att.user_id);
    /* The registrant's link must not land on it now. */
    ASSERT_EQ(callback_at(f.src, f.callback, f.final, sizeof(f.final)), 302);
    if (url_param(f.final, '?', "code", NULL, 0) != 0 ||
        url_param(f.final, '?', "error_code", NULL, 0) != 1)
        CTEST_FAIL_("the registrant's pending link completed: %s", f.final);
    ASSERT_EQ(identities_with_subject("github", g.id), 0);
    u = me(vic.access);
    ASSERT_EQ(identities_count(u), 1);
    json_object_put(u);
}

CTEST(takeover, an_auth_code_the_registrant_holds_dies_with_the_takeover)
{
    char email[128], code[128];
    struct gh_user g;
    struct session att, vic;
    struct flow f;

    ASSERT_EQ(pre_registered(email, sizeof(email), "victim-code", &att), 0);
    ASSERT_EQ(new_github_user(&g, "gh-attacker", 1), 0);
    /* The registrant runs a link to its auth code and keeps the code. */
    link_init(&f, g.login, &att);
    ASSERT_FLOW_CODE(f, code);
    ASSERT_EQ(google_sign_in(email, &vic), 200);
    ASSERT_STR_EQ(vic.user_id, att.user_id);
    /* The code was issued to the account's old holder: no session from it. */
    {
        struct session got;
        long st = pkce_exchange(code, f.verifier, f.src, &got, NULL);
        if (st == 200)
            CTEST_FAIL_("the registrant's auth code opened a session of %s after the takeover "
                        "(the account is %s)",
                        got.user_id, vic.user_id);
    }
}

CTEST(takeover, the_registrants_push_devices_go_too)
{
    char email[128], body[256], token[64];
    struct session att, vic;

    ASSERT_EQ(pre_registered(email, sizeof(email), "victim-device", &att), 0);
    rand_hex(token, 16);
    snprintf(body, sizeof(body), "{\"token\":\"oauth-takeover-%s\",\"platform\":\"ios\"}", token);
    ASSERT_EQ(admin_req("POST", "/api/v1/users/me/devices", body, att.access, NULL), 201);
    ASSERT_EQ(google_sign_in(email, &vic), 200);
    ASSERT_STR_EQ(vic.user_id, att.user_id);
    /* The owner's notifications must not reach the registrant's phone. */
    ASSERT_EQ(
        q_long("SELECT count(*) FROM devices WHERE user_id = $1::uuid", vic.user_id, NULL, NULL),
        0);
}

/* ---- linking and unlinking ---- */

CTEST(link, github_to_a_password_user)
{
    char email[128], gh[64];
    struct session s, s2;
    struct flow f;
    struct json_object *u, *prov;

    new_email(email, sizeof(email), "linker");
    ASSERT_EQ(signup(email, PW, &s), 0);
    new_login(gh, sizeof(gh), "gh-link");
    ASSERT_EQ(link_github(&f, gh, &s, &s2), 200);
    ASSERT_TRUE(starts_with(f.provider_url, mock_url("github")));
    ASSERT_STR_EQ(s2.user_id, s.user_id);
    u = me(s2.access);
    ASSERT_NOT_NULL(u);
    ASSERT_STR_EQ(jstr(u, "email"), email);
    ASSERT_EQ(identities_count(u), 2);
    ASSERT_NOT_NULL(identity_of(u, "email"));
    ASSERT_NOT_NULL(identity_of(u, "github"));
    ASSERT_STR_EQ(jpath_str(u, "app_metadata", "provider"), "email");
    {
        struct json_object *am;
        ASSERT_TRUE(json_object_object_get_ex(u, "app_metadata", &am) &&
                    json_object_object_get_ex(am, "providers", &prov) &&
                    json_object_array_length(prov) == 2);
    }
    json_object_put(u);
    ASSERT_EQ(q_long("SELECT count(*) FROM audit_log WHERE actor_id = $1::uuid AND action = "
                     "'identity.linked' AND details->>'provider' = 'github'",
                     s.user_id, NULL, NULL),
              1);
    /* The password still signs in, and so does GitHub, to the same account. */
    ASSERT_EQ(login(email, PW, src_for(128), NULL, NULL), 200);
    ASSERT_EQ(github_sign_in(gh, &s2), 200);
    ASSERT_STR_EQ(s2.user_id, s.user_id);
}

CTEST(link, an_identity_of_another_user_is_refused)
{
    char email[128], owner[64];
    struct gh_user g;
    struct session a, b;
    struct flow f;
    struct json_object *u;

    ASSERT_EQ(new_github_user(&g, "gh-taken", 1), 0);
    ASSERT_EQ(github_sign_in(g.login, &a), 200);
    new_email(email, sizeof(email), "other-linker");
    ASSERT_EQ(signup(email, PW, &b), 0);
    link_init(&f, g.login, &b);
    ASSERT_FLOW_FAILS(f, '?', "access_denied", "identity_already_exists");
    ASSERT_EQ(q_str("SELECT user_id FROM identities WHERE provider = 'github' AND "
                    "provider_subject = $1",
                    g.id, NULL, owner, sizeof(owner)),
              0);
    ASSERT_STR_EQ(owner, a.user_id);
    u = me(b.access);
    ASSERT_EQ(identities_count(u), 1);
    json_object_put(u);
    /* Linking it again to its own user is refused the same way. */
    link_init(&f, g.login, &a);
    ASSERT_FLOW_FAILS(f, '?', "access_denied", "identity_already_exists");
}

/* A link finishes only while the session that began it lives: a flow
 * begun before sign-out links nothing after it. */
CTEST(link, a_link_begun_before_sign_out_cannot_finish_after)
{
    char email[128], gh[64];
    struct session s;
    struct flow f;

    new_email(email, sizeof(email), "link-logout");
    ASSERT_EQ(signup(email, PW, &s), 0);
    new_login(gh, sizeof(gh), "gh-late");
    link_init(&f, gh, &s);
    ASSERT_EQ(flow_authorize(&f), 200);
    ASSERT_EQ(flow_provider(&f), 0);
    ASSERT_EQ(admin_req("POST", "/auth/v1/logout", NULL, s.access, NULL), 204);
    ASSERT_EQ(callback_at(f.src, f.callback, f.final, sizeof(f.final)), 302);
    ASSERT_FINAL_ERROR(f.final, '?', "access_denied", "session_not_found");
    ASSERT_EQ(
        q_long("SELECT count(*) FROM identities WHERE user_id = $1::uuid", s.user_id, NULL, NULL),
        1);
}

CTEST(link, needs_a_bearer)
{
    struct http_resp r;

    ASSERT_EQ(http_req("GET",
                       "/auth/v1/user/identities/authorize?provider=github&skip_http_redirect=true",
                       NULL, NULL, 0, src_for(129), &r),
              0);
    ASSERT_ERROR(r, ERR_AUTH, 401, "no_authorization");
    http_resp_free(&r);
}

CTEST(link, unlink_rules)
{
    char email[128], other[128], gh[64], path[256], gh_id[64] = "", em_id[64] = "", b_id[64] = "";
    struct session a, b, tmp;
    struct flow f;
    struct http_resp r;
    struct json_object *u;

    new_email(email, sizeof(email), "unlinker");
    ASSERT_EQ(signup(email, PW, &a), 0);
    new_email(other, sizeof(other), "unlink-other");
    ASSERT_EQ(signup(other, PW, &b), 0);
    new_login(gh, sizeof(gh), "gh-unlink");
    ASSERT_EQ(link_github(&f, gh, &a, &tmp), 200);
    u = me(a.access);
    ASSERT_EQ(identities_count(u), 2);
    snprintf(gh_id, sizeof(gh_id), "%s", jstr(identity_of(u, "github"), "identity_id"));
    snprintf(em_id, sizeof(em_id), "%s", jstr(identity_of(u, "email"), "identity_id"));
    json_object_put(u);
    u = me(b.access);
    snprintf(b_id, sizeof(b_id), "%s", jstr(identity_of(u, "email"), "identity_id"));
    json_object_put(u);
    ASSERT_EQ(strlen(gh_id), 36);
    ASSERT_EQ(strlen(b_id), 36);
    /* Someone else's, a made-up one, not an id at all: unknown alike. */
    {
        const char *ids[] = {b_id, "3f0c1a52-6b7e-4c1d-9a8f-0e2d4b6c8a10", "not-a-uuid"};
        for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
            char why[256];
            snprintf(path, sizeof(path), "/auth/v1/user/identities/%s", ids[i]);
            ASSERT_EQ(req_bearer("DELETE", path, NULL, a.access, &r), 0);
            if (!error_matches(&r, ERR_AUTH, 404, "identity_not_found", why, sizeof(why)))
                CTEST_FAIL_("%s: %s; got %ld %s", ids[i], why, r.status, r.body);
            http_resp_free(&r);
        }
    }
    u = me(b.access);
    ASSERT_EQ(identities_count(u), 1);
    json_object_put(u);
    /* Its own GitHub one: gone. */
    snprintf(path, sizeof(path), "/auth/v1/user/identities/%s", gh_id);
    ASSERT_EQ(req_bearer("DELETE", path, NULL, a.access, &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "{}");
    http_resp_free(&r);
    u = me(a.access);
    ASSERT_EQ(identities_count(u), 1);
    ASSERT_NULL(identity_of(u, "github"));
    json_object_put(u);
    ASSERT_EQ(q_long("SELECT count(*) FROM identities WHERE id = $1::uuid", gh_id, NULL, NULL), 0);
    /* The last one stays. */
    snprintf(path, sizeof(path), "/auth/v1/user/identities/%s", em_id);
    ASSERT_EQ(req_bearer("DELETE", path, NULL, a.access, &r), 0);
    ASSERT_ERROR(r, ERR_AUTH, 422, "single_identity_not_deletable");
    http_resp_free(&r);
    ASSERT_EQ(login(email, PW, src_for(130), NULL, NULL), 200);
}

/* ---- suspended users ---- */

static long set_status(const char *uid, const char *status)
{
    char path[128], body[64];

    snprintf(path, sizeof(path), "/api/v1/users/%s", uid);
    snprintf(body, sizeof(body), "{\"status\":\"%s\"}", status);
    return admin_req("PATCH", path, body, env_need("UMS_SERVICE_KEY"), NULL);
}

CTEST(suspended, a_provider_sign_in_is_refused)
{
    char gh[64];
    struct session s;
    struct flow f;

    ASSERT_EQ(new_github_sign_in(gh, sizeof(gh), "gh-susp", &s), 200);
    ASSERT_EQ(set_status(s.user_id, "suspended"), 200);
    flow_init(&f, "github", gh);
    ASSERT_FLOW_FAILS(f, '?', "access_denied", "user_banned");
    /* Implicit too. */
    implicit_init(&f, "github", gh);
    ASSERT_FLOW_FAILS(f, '#', "access_denied", "user_banned");
}

CTEST(suspended, a_pending_auth_code_is_refused)
{
    char gh[64], code[128];
    struct session s;
    struct flow f;

    ASSERT_EQ(new_github_sign_in(gh, sizeof(gh), "gh-susp-code", &s), 200);
    flow_init(&f, "github", gh);
    ASSERT_FLOW_CODE(f, code);
    ASSERT_EQ(set_status(s.user_id, "suspended"), 200);
    ASSERT_EXCHANGE_REFUSED(code, f.verifier, f.src, 400, "user_banned");
}

/* ---- after a sign-in ---- */

CTEST(after, the_sign_in_is_recorded_and_the_session_is_an_ordinary_one)
{
    char gh[64];
    struct session s;
    struct json_object *o, *data, *cur;

    ASSERT_EQ(new_github_sign_in(gh, sizeof(gh), "gh-after", &s), 200);
    ASSERT_EQ(q_long("SELECT count(*) FROM users WHERE id = $1::uuid AND last_sign_in_at > "
                     "now() - interval '1 minute'",
                     s.user_id, NULL, NULL),
              1);
    ASSERT_EQ(q_long("SELECT count(*) FROM audit_log WHERE actor_id = $1::uuid AND action = "
                     "'user.login' AND details->>'provider' = 'github'",
                     s.user_id, NULL, NULL),
              1);
    ASSERT_EQ(q_long("SELECT count(*) FROM audit_log WHERE actor_id = $1::uuid AND action = "
                     "'user.signup' AND details->>'provider' = 'github'",
                     s.user_id, NULL, NULL),
              1);
    o = get_json("/api/v1/users/me/sessions", s.access, 200);
    ASSERT_NOT_NULL(o);
    ASSERT_TRUE(json_object_object_get_ex(o, "data", &data));
    ASSERT_EQ(json_object_array_length(data), 1);
    ASSERT_TRUE(json_object_object_get_ex(json_object_array_get_idx(data, 0), "current", &cur) &&
                json_object_get_boolean(cur));
    json_object_put(o);
    ASSERT_EQ(admin_req("POST", "/auth/v1/logout", NULL, s.access, NULL), 204);
    ASSERT_EQ(get_user(s.access), 403);
    ASSERT_EQ(refresh(s.refresh, NULL, NULL), 400);
}

CTEST(admin, the_admin_view_shows_the_identities)
{
    struct gh_user g;
    char path[128];
    struct session s;
    struct http_resp r;
    struct json_object *u, *idn, *d;

    ASSERT_EQ(new_github_user(&g, "gh-admin", 1), 0);
    ASSERT_EQ(github_sign_in(g.login, &s), 200);
    snprintf(path, sizeof(path), "/auth/v1/admin/users/%s", s.user_id);
    ASSERT_EQ(admin_req("GET", path, NULL, env_need("UMS_SERVICE_KEY"), &r), 200);
    u = jparse(&r);
    http_resp_free(&r);
    ASSERT_STR_EQ(jstr(u, "id"), s.user_id);
    ASSERT_STR_EQ(jstr(u, "email"), g.email);
    ASSERT_STR_EQ(jpath_str(u, "app_metadata", "provider"), "github");
    ASSERT_EQ(identities_count(u), 1);
    idn = identity_of(u, "github");
    ASSERT_NOT_NULL(idn);
    ASSERT_STR_EQ(jstr(idn, "id"), g.id);
    ASSERT_STR_EQ(jstr(idn, "user_id"), s.user_id);
    ASSERT_TRUE(json_object_object_get_ex(idn, "identity_data", &d));
    ASSERT_STR_EQ(jstr(d, "sub"), g.id);
    json_object_put(u);
}

/* ---- POST /callback (response_mode=form_post) ---- */

CTEST(callback, a_form_post_completes_a_flow)
{
    struct flow f;
    struct http_resp r;
    char email[128], code[128];
    const char *form, *json[] = {"Content-Type: application/json", NULL};
    const char *ct[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    struct session s;
    struct json_object *u;

    flow_init_new_user(&f, "google", email, sizeof(email), "g-form");
    ASSERT_EQ(flow_authorize(&f), 302);
    ASSERT_EQ(flow_provider(&f), 0);
    form = strchr(f.callback, '?') + 1; /* state, iss, code, scope, ... */
    /* Not a form: refused, and the flow is not spent. */
    ASSERT_EQ(http_req("POST", "/auth/v1/callback", json, "{}", 2, f.src, &r), 0);
    ASSERT_EQ(r.status, 415);
    http_resp_free(&r);
    ASSERT_EQ(http_req("POST", "/auth/v1/callback", ct, form, strlen(form), f.src, &r), 0);
    ASSERT_EQ(r.status, 302);
    ASSERT_EQ(resp_header(&r, "Location", f.final, sizeof(f.final)), 0);
    http_resp_free(&r);
    ASSERT_TRUE(starts_with(f.final, GOOD_REDIRECT "?code="));
    ASSERT_EQ(final_code(&f, code, sizeof(code)), 0);
    ASSERT_EQ(pkce_exchange(code, f.verifier, f.src, &s, NULL), 200);
    u = me(s.access);
    ASSERT_STR_EQ(jstr(u, "email"), email);
    json_object_put(u);
}

/* ---- the provider client itself (core/oauth_http.c) ---- */

/* A configuration whose [oauth] ca_file is ca ("" for the system's store). */
static struct ums_config *oauth_cfg(const char *ca)
{
    char text[1024], err[256];
    struct ums_config *c = NULL;

    snprintf(text, sizeof(text), "[oauth]\nca_file = %s\ntimeout_ms = 3000\n", ca);
    return config_parse(&c, text, strlen(text), "t", err, sizeof(err)) == UMS_OK ? c : NULL;
}

/* TLS is verified: the Google stand-in's certificate (the stack's CA) is
 * refused with the system's store and taken with the stack's CA. */
CTEST(provider_calls, tls_is_verified_against_the_configured_ca)
{
    struct ums_config *own = oauth_cfg(env_need("UMS_CA_FILE")), *sys = oauth_cfg("");
    struct outbound o = {0};
    struct oauth_reply r;
    char url[512];
    const char *why = NULL;

    ASSERT_NOT_NULL(own);
    ASSERT_NOT_NULL(sys);
    snprintf(url, sizeof(url), "%s/oauth2/v3/certs", mock_url("google"));
    oauth_http_reply_init(&r);
    ASSERT_EQ(oauth_http(&o, sys, url, NULL, NULL, &r, &why), UMS_EUNAVAILABLE);
    ASSERT_NOT_NULL(why);
    ASSERT_EQ(oauth_http(&o, own, url, NULL, NULL, &r, &why), UMS_OK);
    ASSERT_EQ(r.status, 200);
    ASSERT_NOT_NULL(strstr(r.body.p, "\"keys\""));
    oauth_http_reply_free(&r);
    outbound_free(&o);
    config_free(own);
    config_free(sys);
}

/* Each call has a new easy handle (core/outbound.h), and the second still
 * reuses the first one's connection through the share. */
CTEST(provider_calls, a_new_handle_per_call_reuses_the_connection)
{
    struct ums_config *cfg = oauth_cfg(env_need("UMS_CA_FILE"));
    struct outbound o = {0};
    struct oauth_reply r;
    char url[512];
    const char *why = NULL;
    long connects = -1;

    ASSERT_NOT_NULL(cfg);
    snprintf(url, sizeof(url), "%s/oauth2/v3/certs", mock_url("google"));
    oauth_http_reply_init(&r);
    ASSERT_EQ(oauth_http(&o, cfg, url, NULL, NULL, &r, &why), UMS_OK);
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(curl_easy_getinfo(o.handle, CURLINFO_NUM_CONNECTS, &connects), CURLE_OK);
    ASSERT_EQ(connects, 1);
    ASSERT_EQ(oauth_http(&o, cfg, url, NULL, NULL, &r, &why), UMS_OK);
    ASSERT_EQ(r.status, 200);
    ASSERT_TRUE(o.handle != NULL && o.share != NULL);
    ASSERT_EQ(curl_easy_getinfo(o.handle, CURLINFO_NUM_CONNECTS, &connects), CURLE_OK);
    ASSERT_EQ(connects, 0);
    oauth_http_reply_free(&r);
    outbound_free(&o);
    config_free(cfg);
}

/* A redirect is an answer, never followed; an answer over 256 KiB is none. */
CTEST(provider_calls, redirects_are_not_followed_and_answers_are_capped)
{
    struct ums_config *cfg = oauth_cfg(env_need("UMS_CA_FILE"));
    struct outbound o = {0};
    struct oauth_reply r;
    char url[1024], email[128];
    const char *why = NULL;

    ASSERT_NOT_NULL(cfg);
    oauth_http_reply_init(&r);
    new_email(email, sizeof(email), "capped");
    snprintf(url, sizeof(url),
             "%s/o/oauth2/v2/auth?client_id=ums-stack-google&redirect_uri=http%%3A%%2F%%2F127.0.0.1"
             "%%2Fcb&response_type=code&scope=openid&state=s",
             mock_url("google"));
    ASSERT_EQ(oauth_http(&o, cfg, url, NULL, NULL, &r, &why), UMS_OK);
    ASSERT_EQ(r.status, 302);
    ASSERT_EQ(mock_fail("google", "certs", "huge", email), 0);
    snprintf(url, sizeof(url), "%s/oauth2/v3/certs", mock_url("google"));
    ASSERT_EQ(oauth_http(&o, cfg, url, NULL, NULL, &r, &why), UMS_EUNAVAILABLE);
    ASSERT_STR_CONTAINS(why, "256 KiB");
    ASSERT_TRUE(r.body.len <= OAUTH_HTTP_MAX);
    oauth_http_reply_free(&r);
    outbound_free(&o);
    config_free(cfg);
}
