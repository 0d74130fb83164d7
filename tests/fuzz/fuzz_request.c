/* fuzz_request.c - one FastCGI request through dispatch(): its parameters
 * (method, URI with path and query, Content-Type, Authorization, request
 * id, traceparent, If-None-Match, API version, CONTENT_LENGTH, role) and
 * its body, against the real route table with the handlers replaced by one
 * that reads the query like the list routes do. What runs is everything
 * before a handler: req_load, the router, the limits, the body reader, the
 * strict JSON parser and every route's declared members with their
 * validators (fcgi/fields.c). Authentication and the database are left out
 * (fuzz_jwt covers the tokens). The answer must be one well-formed
 * response: a Status line, headers, a blank line, and a JSON body. */
#include <stdio.h>

#include "../../core/config.h"
#include "../../core/search.h"
#include "../../fcgi/api.h"
#include "../../fcgi/app.h"
#include "../../fcgi/http.h"
#include "../../util/arena.h"
#include "../../util/buf.h"
#include "fuzz.h"

enum {
    F_METHOD,
    F_URI,
    F_CTYPE,
    F_AUTHZ,
    F_REQID,
    F_TRACE,
    F_INM,
    F_VERSION,
    F_CLEN,
    F_ROLE,
    F_BODY,
    F__N
};
static const char *const names[F__N - 1] = {
    "REQUEST_METHOD",    "REQUEST_URI",      "CONTENT_TYPE",       "HTTP_AUTHORIZATION",
    "HTTP_X_REQUEST_ID", "HTTP_TRACEPARENT", "HTTP_IF_NONE_MATCH", "HTTP_X_SUPABASE_API_VERSION",
    "CONTENT_LENGTH",    "FCGI_ROLE",
};

struct fake {
    struct fuzz_in in;
    size_t pos;
    struct buf out;
};

static const char *param(void *h, const char *name)
{
    struct fake *f = h;

    for (int i = 0; i < F__N - 1; i++)
        if (strcmp(names[i], name) == 0)
            return f->in.len[i] > 0 ? f->in.f[i] : NULL; /* "" is absent */
    return NULL;
}

static int body_read(void *h, char *b, int n)
{
    struct fake *f = h;
    size_t left = f->in.len[F_BODY] - f->pos, k = left < (size_t)n ? left : (size_t)n;

    memcpy(b, f->in.f[F_BODY] + f->pos, k);
    f->pos += k;
    return (int)k;
}

static int out_write(void *h, const char *b, int n)
{
    struct fake *f = h;

    buf_add(&f->out, b, (size_t)n);
    return n;
}

/* The handler of every route: the query as the list routes read it. */
static void handler(struct req *r)
{
    const char *q, *sort, *after;
    long limit;
    int total;

    if (api_query_int(r, "limit", 50, 1, 100, &limit) != 0 || api_query_str(r, "q", 256, &q) != 0 ||
        api_query_bool(r, "include_total", &total) != 0 ||
        api_query_str(r, "sort", 64, &sort) != 0 ||
        api_query_str(r, "created_after", 64, &after) != 0)
        return;
    if (sort != NULL)
        (void)search_sort_parse(sort);
    if (after != NULL)
        (void)search_timestamp_valid(after);
    (void)req_redirect_to(r);
    reply_json(r, 200, "{}", 2);
}

static struct route *table;
static struct app app;

static void init(void)
{
    static const char conf[] = "[auth]\njwt_algorithm = HS256\n"
                               "jwt_secret = fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz\n"
                               "site_url = https://app.example\n"
                               "uri_allow_list = https://app.example/*,http://localhost:3000/**\n";
    struct ums_config *cfg;
    char err[256];

    fuzz_quiet();
    if (config_parse(&cfg, conf, sizeof(conf) - 1, "fuzz", err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_request: %s\n", err);
        abort();
    }
    app.ctx.cfg = cfg;
    table = calloc(ums_routes_len, sizeof(*table));
    FUZZ_ASSERT(table != NULL);
    for (size_t i = 0; i < ums_routes_len; i++) {
        table[i] = ums_routes[i];
        table[i].fn = handler;
        table[i].auth = AUTH_NONE;
        table[i].flags &= ~R_NEEDS_DB;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fake f;
    struct req r;
    struct req_io io = {param, body_read, out_write, &f};
    const char *end;
    int status;

    if (table == NULL)
        init();
    memset(&f, 0, sizeof(f));
    if (fuzz_split(&f.in, data, size, F__N) != 0)
        return 0;
    memset(&r, 0, sizeof(r));
    r.app = &app;
    r.io = &io;
    r.arena = arena_new(4096, 1 << 20);
    buf_init(&r.headers, 16384);
    buf_init(&r.body_out, 1 << 20);
    buf_init(&f.out, 1 << 20);
    FUZZ_ASSERT(r.arena != NULL);
    dispatch(&r, table, ums_routes_len);
    /* Exactly one answer, well formed. */
    FUZZ_ASSERT(r.replied);
    FUZZ_ASSERT(f.out.p != NULL && strncmp(f.out.p, "Status: ", 8) == 0);
    status = (int)strtol(f.out.p + 8, NULL, 10);
    FUZZ_ASSERT(status >= 200 && status <= 599 && status != 500);
    end = strstr(f.out.p, "\r\n\r\n");
    FUZZ_ASSERT(end != NULL);
    for (const char *p = f.out.p; p < end; p++) /* no header injection */
        FUZZ_ASSERT(*p != '\0' && (*p != '\n' || p[-1] == '\r'));
    if (r.json != NULL)
        json_object_put(r.json);
    auth_principal_clear(&r.who);
    buf_free(&r.headers);
    buf_free(&r.body_out);
    buf_free(&f.out);
    arena_free(r.arena);
    fuzz_free(&f.in);
    return 0;
}
