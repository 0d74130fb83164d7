/* test_dispatch.c - the request pipeline end to end with an in-memory request:
 * the rejection order (404, 405, 413), bodies, content types and JSON limits. */
#define CTEST_MAIN
#include "../ctest.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <json-c/json.h>

#include "fake_io.h"

static int echo_calls;

/* Answers with the number of keys of the JSON body (0 without a body). */
static void echo(struct req *r)
{
    char b[64];
    int n = r->json != NULL && json_object_is_type(r->json, json_type_object)
                ? json_object_object_length(r->json)
                : 0;
    echo_calls++;
    snprintf(b, sizeof(b), "{\"keys\":%d,\"id\":\"%s\"}", n,
             req_param(r, "id") ? req_param(r, "id") : "");
    reply_json(r, 200, b, strlen(b));
}

static void silent(struct req *r)
{
    (void)r;
}

static const struct route table[] = {
    {M_GET, "/healthz", echo, FAM_OPS, 0, 0},
    {M_POST, "/api/v1/things", echo, FAM_API, 1024, R_JSON},
    {M_GET, "/api/v1/things/{id}", echo, FAM_API, 0, 0},
    {M_POST, "/auth/v1/token", echo, FAM_AUTH, 1024, R_JSON},
    {M_GET, "/api/v1/silent", silent, FAM_API, 0, 0},
};
#define N (sizeof(table) / sizeof(table[0]))

static struct json_object *parse_body(const struct fake_resp *r)
{
    return r->body != NULL ? json_tokener_parse(r->body) : NULL;
}

static const char *field(struct json_object *o, const char *k)
{
    struct json_object *v;
    return o != NULL && json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

/* Runs a request and checks status and error_code ("code", or "error_code" for legacy auth). */
#define EXPECT(f, status_, code_arg)                                                               \
    do {                                                                                           \
        const char *code_ = (code_arg);                                                            \
        struct fake_resp resp_ = fake_run(&(f), table, N);                                         \
        struct json_object *o_ = parse_body(&resp_);                                               \
        if (resp_.status != (status_)) {                                                           \
            json_object_put(o_);                                                                   \
            buf_free(&(f).out);                                                                    \
            CTEST_FAIL_("status %d, expected %d", resp_.status, (status_));                        \
        }                                                                                          \
        if (code_ != NULL) {                                                                       \
            const char *c_ =                                                                       \
                field(o_, "error_code") ? field(o_, "error_code") : field(o_, "code");             \
            if (o_ == NULL || c_ == NULL || strcmp(c_, code_) != 0) {                              \
                json_object_put(o_);                                                               \
                buf_free(&(f).out);                                                                \
                CTEST_FAIL_("error code %s, expected %s", c_ ? c_ : "(none)", code_);              \
            }                                                                                      \
        }                                                                                          \
        json_object_put(o_);                                                                       \
        buf_free(&(f).out);                                                                        \
    } while (0)

CTEST(dispatch, get_ok_with_request_id)
{
    struct fake f = {{"REQUEST_METHOD", "GET", "REQUEST_URI", "/healthz?x=1", "HTTP_X_REQUEST_ID",
                      "abc-123", NULL}};
    struct fake_resp r = fake_run(&f, table, N);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_CONTAINS(r.headers, "X-Request-Id: abc-123");
    ASSERT_STR_CONTAINS(r.headers, "Content-Type: application/json");
    buf_free(&f.out);
}

CTEST(dispatch, hostile_request_id_replaced)
{
    struct fake f = {{"REQUEST_METHOD", "GET", "REQUEST_URI", "/healthz", "HTTP_X_REQUEST_ID",
                      "a\r\nSet-Cookie: x=1", NULL}};
    struct fake_resp r = fake_run(&f, table, N);
    ASSERT_EQ(r.status, 200);
    ASSERT_TRUE(strstr(r.headers, "Set-Cookie") == NULL);
    ASSERT_STR_CONTAINS(r.headers, "X-Request-Id: ");
    buf_free(&f.out);
}

CTEST(dispatch, params_reach_handler)
{
    struct fake f = {{"REQUEST_METHOD", "GET", "REQUEST_URI", "/api/v1/things/t-9", NULL}};
    struct fake_resp r = fake_run(&f, table, N);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_CONTAINS(r.body, "\"id\":\"t-9\"");
    buf_free(&f.out);
}

CTEST(dispatch, not_found_and_method)
{
    struct fake f1 = {{"REQUEST_METHOD", "GET", "REQUEST_URI", "/nope", NULL}};
    EXPECT(f1, 404, "not_found");
    struct fake f2 = {{"REQUEST_METHOD", "DELETE", "REQUEST_URI", "/healthz", NULL}};
    struct fake_resp r = fake_run(&f2, table, N);
    ASSERT_EQ(r.status, 405);
    ASSERT_STR_CONTAINS(r.headers, "Allow: GET, HEAD");
    buf_free(&f2.out);
    struct fake f3 = {{"REQUEST_METHOD", "BREW", "REQUEST_URI", "/healthz", NULL}};
    EXPECT(f3, 405, "method_not_allowed");
    struct fake f4 = {{"REQUEST_METHOD", "GET", NULL}};
    EXPECT(f4, 400, "bad_request");
}

CTEST(dispatch, auth_family_formats)
{
    struct fake f1 = {{"REQUEST_METHOD", "GET", "REQUEST_URI", "/auth/v1/nope", NULL}};
    struct fake_resp r = fake_run(&f1, table, N);
    struct json_object *o = parse_body(&r), *code;
    ASSERT_EQ(r.status, 404);
    ASSERT_STR_CONTAINS(r.headers, "x-sb-error-code: not_found");
    ASSERT_TRUE(json_object_object_get_ex(o, "code", &code));
    ASSERT_EQ(json_object_get_int(code), 404);
    json_object_put(o);
    buf_free(&f1.out);

    struct fake f2 = {{"REQUEST_METHOD", "GET", "REQUEST_URI", "/auth/v1/nope",
                       "HTTP_X_SUPABASE_API_VERSION", "2024-01-01", NULL}};
    r = fake_run(&f2, table, N);
    o = parse_body(&r);
    ASSERT_STR_CONTAINS(r.headers, "X-Supabase-Api-Version: 2024-01-01");
    ASSERT_STR_EQ(field(o, "code"), "not_found");
    json_object_put(o);
    buf_free(&f2.out);
}

CTEST(dispatch, content_length_checks_before_reading)
{
    echo_calls = 0;
    struct fake f1 = {{"REQUEST_METHOD", "POST", "REQUEST_URI", "/api/v1/things", "CONTENT_TYPE",
                       "application/json", "CONTENT_LENGTH", "-5", NULL}};
    EXPECT(f1, 400, "bad_request");
    struct fake f2 = {{"REQUEST_METHOD", "POST", "REQUEST_URI", "/api/v1/things", "CONTENT_TYPE",
                       "application/json", "CONTENT_LENGTH", "abc", NULL}};
    EXPECT(f2, 400, "bad_request");
    struct fake f3 = {{"REQUEST_METHOD", "POST", "REQUEST_URI", "/api/v1/things", "CONTENT_TYPE",
                       "application/json", "CONTENT_LENGTH", "1025", NULL},
                      "{}",
                      2};
    EXPECT(f3, 413, "request_too_large");
    ASSERT_EQ(f3.pos, 0); /* not one byte read */
    struct fake f4 = {{"REQUEST_METHOD", "POST", "REQUEST_URI", "/api/v1/things", "CONTENT_TYPE",
                       "application/json", "CONTENT_LENGTH", "99999999999999999999", NULL}};
    EXPECT(f4, 400, "bad_request");
    struct fake f5 = {
        {"REQUEST_METHOD", "GET", "REQUEST_URI", "/healthz", "CONTENT_LENGTH", "3", NULL},
        "abc",
        3};
    EXPECT(f5, 413, "request_too_large");
    ASSERT_EQ(echo_calls, 0);
}

/* A body without CONTENT_LENGTH (a chunked request a web server streams
 * on): read to the end of the stream, never past the route's cap. */
CTEST(dispatch, body_without_content_length_is_read_to_the_end)
{
    static char big[1025];
    struct fake f1 = {{"REQUEST_METHOD", "POST", "REQUEST_URI", "/api/v1/things", "CONTENT_TYPE",
                       "application/json", NULL},
                      "{\"a\":1,\"b\":2}",
                      13};
    struct fake_resp r = fake_run(&f1, table, N);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_CONTAINS(r.body, "\"keys\":2");
    ASSERT_EQ(f1.pos, 13);
    buf_free(&f1.out);
    /* An empty CONTENT_LENGTH (nginx's $content_length) is the same. */
    struct fake f2 = {{"REQUEST_METHOD", "POST", "REQUEST_URI", "/api/v1/things", "CONTENT_TYPE",
                       "application/json", "CONTENT_LENGTH", "", NULL},
                      "{\"a\":1}",
                      7};
    r = fake_run(&f2, table, N);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_CONTAINS(r.body, "\"keys\":1");
    buf_free(&f2.out);
    /* One byte past the cap (1024 here) is 413, and no more than that is read. */
    memset(big, ' ', sizeof(big));
    struct fake f3 = {{"REQUEST_METHOD", "POST", "REQUEST_URI", "/api/v1/things", "CONTENT_TYPE",
                       "application/json", NULL},
                      big,
                      sizeof(big)};
    EXPECT(f3, 413, "request_too_large");
    ASSERT_EQ(f3.pos, sizeof(big));
    /* A route that takes no body reads none. */
    struct fake f4 = {{"REQUEST_METHOD", "GET", "REQUEST_URI", "/healthz", NULL}, "abc", 3};
    fake_run(&f4, table, N);
    ASSERT_EQ(f4.pos, 0);
    buf_free(&f4.out);
}

CTEST(dispatch, short_body)
{
    struct fake f = {{"REQUEST_METHOD", "POST", "REQUEST_URI", "/api/v1/things", "CONTENT_TYPE",
                      "application/json", "CONTENT_LENGTH", "100", NULL},
                     "{\"a\":1}",
                     7};
    EXPECT(f, 400, "bad_request");
}

CTEST(dispatch, content_type)
{
    struct fake f1 = {
        {"REQUEST_METHOD", "POST", "REQUEST_URI", "/api/v1/things", "CONTENT_LENGTH", "7", NULL},
        "{\"a\":1}",
        7};
    EXPECT(f1, 415, "unsupported_media_type");
    struct fake f2 = {{"REQUEST_METHOD", "POST", "REQUEST_URI", "/api/v1/things", "CONTENT_TYPE",
                       "text/plain", "CONTENT_LENGTH", "7", NULL},
                      "{\"a\":1}",
                      7};
    EXPECT(f2, 415, "unsupported_media_type");
    struct fake f3 = {{"REQUEST_METHOD", "POST", "REQUEST_URI", "/api/v1/things", "CONTENT_TYPE",
                       "application/json;charset=UTF-8", "CONTENT_LENGTH", "7", NULL},
                      "{\"a\":1}",
                      7};
    struct fake_resp r = fake_run(&f3, table, N);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_CONTAINS(r.body, "\"keys\":1");
    buf_free(&f3.out);
    /* No body needs no content type. */
    struct fake f4 = {{"REQUEST_METHOD", "POST", "REQUEST_URI", "/api/v1/things", NULL}};
    EXPECT(f4, 200, NULL);
}

static void post_json(int *ctest_failed, const char *body, size_t len, int status, const char *code)
{
    char clen[32];
    snprintf(clen, sizeof(clen), "%zu", len);
    struct fake f = {{"REQUEST_METHOD", "POST", "REQUEST_URI", "/api/v1/things", "CONTENT_TYPE",
                      "application/json", "CONTENT_LENGTH", clen, NULL},
                     body,
                     len};
    EXPECT(f, status, code);
}

CTEST(dispatch, bad_json)
{
    post_json(ctest_failed, "{\"a\":1} trailing", 16, 400, "bad_json");
    if (*ctest_failed)
        return;
    post_json(ctest_failed, "{\"a\":\"\xff\"}", 9, 400, "bad_json");
    if (*ctest_failed)
        return;
    post_json(ctest_failed, "{\"a\":\"x\0\"}", 10, 400, "bad_json");
    if (*ctest_failed)
        return;
    post_json(ctest_failed, "{\"a\":", 5, 400, "bad_json");
}

CTEST(dispatch, deep_nesting_is_bad_json)
{
    char b[1000];
    memset(b, '[', 500);
    memset(b + 500, ']', 500);
    post_json(ctest_failed, b, 1000, 400, "bad_json");
}

CTEST(dispatch, huge_authorization_header)
{
    static char big[16 * 1024 + 1];
    memset(big, 'A', sizeof(big) - 1);
    struct fake f = {
        {"REQUEST_METHOD", "GET", "REQUEST_URI", "/healthz", "HTTP_AUTHORIZATION", big, NULL}};
    EXPECT(f, 431, "request_header_too_large");
}

CTEST(dispatch, long_uri)
{
    static char uri[PATH_MAX_BYTES + 10];
    memset(uri, 'a', sizeof(uri) - 1);
    uri[0] = '/';
    struct fake f = {{"REQUEST_METHOD", "GET", "REQUEST_URI", uri, NULL}};
    EXPECT(f, 414, "uri_too_long");
}

CTEST(dispatch, handler_without_reply_becomes_500)
{
    struct fake f = {{"REQUEST_METHOD", "GET", "REQUEST_URI", "/api/v1/silent", NULL}};
    EXPECT(f, 500, "unexpected_failure");
}

CTEST(dispatch, head_has_no_body)
{
    struct fake f = {{"REQUEST_METHOD", "HEAD", "REQUEST_URI", "/healthz", NULL}};
    struct fake_resp r = fake_run(&f, table, N);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "");
    buf_free(&f.out);
}
