/* test_response.c - error mapping, both error body formats, and the public
 * cached answer (ETag, 304). */
#define CTEST_MAIN
#include "../ctest.h"

#include <json-c/json.h>

#include "../../util/ums.h"
#include "../../core/err.h"
#include "../../util/crypto.h"
#include "fake_io.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static struct json_object *body(int family, int versioned, enum http_err e, const char *msg,
                                const char *errors)
{
    struct buf b;
    struct json_object *o;
    buf_init(&b, 4096);
    if (http_error_body(&b, family, versioned, e, msg, errors) != 0)
        return NULL;
    o = json_tokener_parse(b.p);
    buf_free(&b);
    return o;
}

static const char *str(struct json_object *o, const char *k)
{
    struct json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

/* reply_fail driven through dispatch(): one handler answers with whatever
 * return code and record the test put in these two. */
static int fail_rc;
static struct ums_err fail_rec;

static void failing(struct req *r)
{
    reply_fail(r, fail_rc, &fail_rec);
}

static const struct route fail_routes[] = {
    {.methods = M_GET, .pattern = "/auth/v1/fail", .fn = failing, .family = FAM_AUTH},
    {.methods = M_GET, .pattern = "/api/v1/fail", .fn = failing, .family = FAM_API},
};

/* Runs GET path with (rc, record); returns the status and copies the error
 * code ("error_code" on legacy /auth/v1, "code" otherwise) into code. */
static int run_fail(const char *path, int rc, const struct ums_err *e, char *code, size_t n,
                    char *headers, size_t hn)
{
    struct fake f = {{"REQUEST_METHOD", "GET", "REQUEST_URI", path, NULL}};
    struct fake_resp resp;
    struct json_object *o;
    const char *c;

    fail_rc = rc;
    fail_rec = *e;
    resp = fake_run(&f, fail_routes, sizeof(fail_routes) / sizeof(fail_routes[0]));
    o = resp.body != NULL ? json_tokener_parse(resp.body) : NULL;
    c = o != NULL ? str(o, "error_code") : NULL;
    if (c == NULL && o != NULL)
        c = str(o, "code");
    snprintf(code, n, "%s", c != NULL ? c : "");
    if (headers != NULL)
        snprintf(headers, hn, "%s", resp.headers);
    json_object_put(o);
    buf_free(&f.out);
    return resp.status;
}

CTEST(errors, every_failure_has_one_answer_per_family)
{
    /* clang-format off */
    static const struct {
        enum err_fail fail;
        int auth_status;
        const char *auth_code;
        int api_status;
        const char *api_code;
    } want[] = {
        {FAIL_VALIDATION,          400, "validation_failed",          400, "validation_failed"},
        {FAIL_WEAK_PASSWORD,       422, "weak_password",              400, "validation_failed"},
        {FAIL_USER_EXISTS,         422, "user_already_exists",        409, "email_exists"},
        {FAIL_EMAIL_EXISTS,        422, "email_exists",               409, "email_exists"},
        {FAIL_INVALID_CREDENTIALS, 400, "invalid_credentials",        400, "invalid_credentials"},
        {FAIL_EMAIL_NOT_CONFIRMED, 400, "email_not_confirmed",        400, "email_not_confirmed"},
        {FAIL_USER_BANNED,         400, "user_banned",                400, "user_banned"},
        {FAIL_TOKEN_USER_BANNED,   403, "user_banned",                401, "user_banned"},
        {FAIL_USER_LOCKED,         429, "user_locked",                429, "user_locked"},
        {FAIL_REFRESH_NOT_FOUND,   400, "refresh_token_not_found",    400,
         "refresh_token_not_found"},
        {FAIL_REFRESH_USED,        400, "refresh_token_already_used", 400,
         "refresh_token_already_used"},
        {FAIL_SESSION_NOT_FOUND,   400, "session_not_found",          400, "session_not_found"},
        {FAIL_TOKEN_SESSION_GONE,  403, "session_not_found",          401, "session_not_found"},
        {FAIL_SESSION_EXPIRED,     400, "session_expired",            400, "session_expired"},
        {FAIL_BAD_JWT,             403, "bad_jwt",                    401, "bad_jwt"},
        {FAIL_USER_NOT_FOUND,      404, "user_not_found",             404, "not_found"},
        {FAIL_TOKEN_USER_GONE,     403, "user_not_found",             401, "user_not_found"},
        {FAIL_SAME_PASSWORD,       422, "same_password",              422, "same_password"},
        {FAIL_OTP_EXPIRED,         403, "otp_expired",                403, "otp_expired"},
        {FAIL_FORBIDDEN,           403, "forbidden",                  403, "forbidden"},
        {FAIL_LAST_ADMIN,          409, "last_admin",                 409, "last_admin"},
        {FAIL_METADATA_TOO_LARGE,  422, "validation_failed",          422, "validation_failed"},
        {FAIL_EMAIL_RATE,          429, "over_email_send_rate_limit", 429,
         "over_email_send_rate_limit"},
        {FAIL_RATE,                429, "over_request_rate_limit",    429,
         "over_request_rate_limit"},
        {FAIL_REAUTH_NEEDED,       400, "reauthentication_needed",    400,
         "reauthentication_needed"},
        {FAIL_REAUTH_INVALID,      400, "reauthentication_not_valid", 400,
         "reauthentication_not_valid"},
        {FAIL_IMAGE,               415, "unsupported_image",          415, "unsupported_image"},
        {FAIL_FLOW_STATE_NOT_FOUND, 404, "flow_state_not_found",      404,
         "flow_state_not_found"},
        {FAIL_FLOW_STATE_EXPIRED,  422, "flow_state_expired",         422, "flow_state_expired"},
        {FAIL_BAD_CODE_VERIFIER,   400, "bad_code_verifier",          400, "bad_code_verifier"},
        {FAIL_SINGLE_IDENTITY,     422, "single_identity_not_deletable", 422,
         "single_identity_not_deletable"},
        {FAIL_IDENTITY_NOT_FOUND,  404, "identity_not_found",         404, "identity_not_found"},
    };
    /* clang-format on */
    char code[64];
    int seen[FAIL__MAX] = {0};

    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        struct ums_err e = {.fail = want[i].fail};
        ASSERT_EQ(run_fail("/auth/v1/fail", UMS_EDENIED, &e, code, sizeof(code), NULL, 0),
                  want[i].auth_status);
        ASSERT_STR_EQ(code, want[i].auth_code);
        ASSERT_EQ(run_fail("/api/v1/fail", UMS_EDENIED, &e, code, sizeof(code), NULL, 0),
                  want[i].api_status);
        ASSERT_STR_EQ(code, want[i].api_code);
        seen[want[i].fail] = 1;
    }
    /* The table above covers every failure there is. */
    for (int f = FAIL_NONE + 1; f < FAIL__MAX; f++)
        ASSERT_TRUE(seen[f]);
}

CTEST(errors, refusal_without_a_record_is_a_500)
{
    struct ums_err none = {0}, out_of_range = {.fail = FAIL__MAX};
    char code[64];

    ASSERT_EQ(run_fail("/auth/v1/fail", UMS_EDENIED, &none, code, sizeof(code), NULL, 0), 500);
    ASSERT_STR_EQ(code, "unexpected_failure");
    ASSERT_EQ(run_fail("/api/v1/fail", UMS_EDENIED, &out_of_range, code, sizeof(code), NULL, 0),
              500);
    ASSERT_STR_EQ(code, "unexpected_failure");
}

CTEST(errors, return_codes_without_a_record)
{
    static const struct {
        int rc, status;
        const char *code;
    } want[] = {
        {UMS_ENOTFOUND, 404, "not_found"},        {UMS_ECONFLICT, 409, "conflict"},
        {UMS_EINVALID, 400, "validation_failed"}, {UMS_EUNAVAILABLE, 503, "service_unavailable"},
        {UMS_ETOOBIG, 413, "request_too_large"},  {UMS_ERR, 500, "unexpected_failure"},
        {-99, 500, "unexpected_failure"},
    };
    /* A stale record is ignored when the code says there is none. */
    struct ums_err stale = {.fail = FAIL_LAST_ADMIN};
    char code[64];

    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        ASSERT_EQ(run_fail("/api/v1/fail", want[i].rc, &stale, code, sizeof(code), NULL, 0),
                  want[i].status);
        ASSERT_STR_EQ(code, want[i].code);
    }
}

CTEST(errors, record_details_reach_the_wire)
{
    struct ums_err e = {.fail = FAIL_RATE, .retry_after = 42};
    char code[64], headers[4096];
    struct fake f = {{"REQUEST_METHOD", "GET", "REQUEST_URI", "/api/v1/fail", NULL}};
    struct fake_resp resp;
    struct json_object *o, *errs, *first;

    /* retry_after becomes Retry-After, once. */
    ASSERT_EQ(
        run_fail("/auth/v1/fail", UMS_EDENIED, &e, code, sizeof(code), headers, sizeof(headers)),
        429);
    ASSERT_NOT_NULL(strstr(headers, "Retry-After: 42\r\n"));
    ASSERT_NULL(strstr(strstr(headers, "Retry-After:") + 1, "Retry-After:"));

    /* A field on /api/v1 is a field error with the record's reason as its code. */
    fail_rc = UMS_EDENIED;
    memset(&fail_rec, 0, sizeof(fail_rec));
    err_required(&fail_rec, "email", "email is required");
    resp = fake_run(&f, fail_routes, 2);
    ASSERT_EQ(resp.status, 400);
    o = json_tokener_parse(resp.body);
    ASSERT_NOT_NULL(o);
    ASSERT_STR_EQ(str(o, "message"), "email is required");
    ASSERT_TRUE(json_object_object_get_ex(o, "errors", &errs));
    first = json_object_array_get_idx(errs, 0);
    ASSERT_STR_EQ(str(first, "field"), "email");
    ASSERT_STR_EQ(str(first, "code"), "required");
    json_object_put(o);
    buf_free(&f.out);

    /* A weak password on /auth/v1 carries GoTrue's reasons. */
    memset(&e, 0, sizeof(e));
    e.fail = FAIL_WEAK_PASSWORD;
    e.reason = "characters";
    fail_rc = UMS_EDENIED;
    fail_rec = e;
    {
        struct fake g = {{"REQUEST_METHOD", "GET", "REQUEST_URI", "/auth/v1/fail", NULL}};
        resp = fake_run(&g, fail_routes, 2);
        ASSERT_EQ(resp.status, 422);
        ASSERT_NOT_NULL(strstr(resp.body, "\"weak_password\":{\"reasons\":[\"characters\"]}"));
        buf_free(&g.out);
    }
}

CTEST(errors, statuses_and_codes)
{
    ASSERT_EQ(http_err_status(HE_NOT_FOUND, FAM_AUTH), 404);
    ASSERT_EQ(http_err_status(HE_METHOD, FAM_AUTH), 405);
    ASSERT_EQ(http_err_status(HE_TOO_LARGE, FAM_AUTH), 413);
    ASSERT_EQ(http_err_status(HE_MEDIA, FAM_AUTH), 415);
    ASSERT_EQ(http_err_status(HE_UNAVAILABLE, FAM_AUTH), 503);
    ASSERT_EQ(http_err_status(HE_HEADER_TOO_LARGE, FAM_AUTH), 431);
    ASSERT_STR_EQ(http_err_code(HE_BAD_JSON), "bad_json");
    ASSERT_STR_EQ(http_err_code(HE_TOO_LARGE), "request_too_large");
    ASSERT_STR_EQ(http_err_code(HE_MEDIA), "unsupported_media_type");
    ASSERT_STR_EQ(http_err_code(HE_UNAVAILABLE), "service_unavailable");
    /* Every error has a status, a code and a message. */
    for (int e = HE_NONE + 1; e < HE__MAX; e++) {
        struct json_object *o = body(FAM_API, 0, (enum http_err)e, NULL, NULL);
        ASSERT_NOT_NULL(o);
        ASSERT_TRUE(http_err_status((enum http_err)e, FAM_AUTH) >= 400);
        ASSERT_NOT_NULL(str(o, "message"));
        ASSERT_TRUE(strlen(str(o, "message")) > 0);
        json_object_put(o);
    }
}

CTEST(errors, dead_credentials_are_401_on_api_and_gotrue_statuses_on_auth)
{
    /* /api/v1 (RFC 6750): a bad, revoked or orphaned token is 401. */
    static const enum http_err dead[] = {HE_NO_AUTH, HE_BAD_JWT, HE_SESSION_NOT_FOUND_BEARER,
                                         HE_USER_BANNED_BEARER, HE_USER_NOT_FOUND_BEARER};
    for (size_t i = 0; i < sizeof(dead) / sizeof(dead[0]); i++) {
        ASSERT_EQ(http_err_status(dead[i], FAM_API), 401);
        ASSERT_EQ(http_err_status(dead[i], FAM_OPS), 401);
    }
    /* /auth/v1 keeps GoTrue's: only a missing token is 401. */
    ASSERT_EQ(http_err_status(HE_NO_AUTH, FAM_AUTH), 401);
    for (size_t i = 1; i < sizeof(dead) / sizeof(dead[0]); i++)
        ASSERT_EQ(http_err_status(dead[i], FAM_AUTH), 403);
    /* A live caller without the right stays 403 everywhere. */
    ASSERT_EQ(http_err_status(HE_FORBIDDEN, FAM_API), 403);
    ASSERT_EQ(http_err_status(HE_NOT_ADMIN, FAM_AUTH), 403);
    /* Outside the bearer codes both columns agree. */
    for (int e = HE_NONE + 1; e < HE__MAX; e++) {
        int a = http_err_status((enum http_err)e, FAM_AUTH);
        int b = http_err_status((enum http_err)e, FAM_API);
        ASSERT_TRUE(a == b || (a == 403 && b == 401));
    }
}

CTEST(errors, api_format)
{
    struct json_object *o =
        body(FAM_API, 0, HE_VALIDATION, "bad \"field\"\n",
             "\"errors\":[{\"field\":\"email\",\"code\":\"invalid\",\"message\":\"x\"}]");
    ASSERT_NOT_NULL(o);
    ASSERT_STR_EQ(str(o, "code"), "validation_failed");
    ASSERT_STR_EQ(str(o, "message"), "bad \"field\"\n");
    struct json_object *errs;
    ASSERT_TRUE(json_object_object_get_ex(o, "errors", &errs));
    ASSERT_EQ(json_object_array_length(errs), 1);
    json_object_put(o);
}

CTEST(errors, gotrue_legacy_format)
{
    struct json_object *o = body(FAM_AUTH, 0, HE_NOT_FOUND, NULL, NULL), *code;
    ASSERT_NOT_NULL(o);
    ASSERT_TRUE(json_object_object_get_ex(o, "code", &code));
    ASSERT_TRUE(json_object_is_type(code, json_type_int));
    ASSERT_EQ(json_object_get_int(code), 404);
    ASSERT_STR_EQ(str(o, "error_code"), "not_found");
    ASSERT_NOT_NULL(str(o, "msg"));
    json_object_put(o);
}

CTEST(errors, gotrue_versioned_format)
{
    struct json_object *o = body(FAM_AUTH, 1, HE_BAD_JSON, NULL, NULL), *code;
    ASSERT_NOT_NULL(o);
    ASSERT_TRUE(json_object_object_get_ex(o, "code", &code));
    /* Never a number together with the version header. */
    ASSERT_TRUE(json_object_is_type(code, json_type_string));
    ASSERT_STR_EQ(str(o, "code"), "bad_json");
    ASSERT_NOT_NULL(str(o, "message"));
    json_object_put(o);
}

CTEST(errors, invalid_utf8_message_stays_valid_json)
{
    struct json_object *o = body(FAM_OPS, 0, HE_BAD_REQUEST, "x\xff\xfe", NULL);
    ASSERT_NOT_NULL(o);
    ASSERT_STR_EQ(str(o, "message"), "x\xef\xbf\xbd\xef\xbf\xbd");
    json_object_put(o);
}

/* reply_cached through dispatch(): one public document. */
static const char doc[] = "{\"keys\":[]}";

static void cached(struct req *r)
{
    reply_cached(r, doc, sizeof(doc) - 1, 300);
}

static const struct route cached_routes[] = {
    {.methods = M_GET, .pattern = "/doc", .fn = cached, .family = FAM_OPS},
};

/* The value of header name ("Name: ") in a fake response, copied into out. */
static const char *hdr(const struct fake_resp *resp, const char *name, char *out, size_t n)
{
    const char *p = strstr(resp->headers, name), *e;

    if (p == NULL)
        return NULL;
    p += strlen(name);
    e = strstr(p, "\r\n");
    snprintf(out, n, "%.*s", e != NULL ? (int)(e - p) : (int)strlen(p), p);
    return out;
}

static struct fake_resp run_doc(const char *method, const char *inm, struct fake *f)
{
    struct fake init = {
        {"REQUEST_METHOD", method, "REQUEST_URI", "/doc", "HTTP_IF_NONE_MATCH", inm, NULL}};
    *f = init;
    if (inm == NULL)
        f->params[4] = NULL;
    return fake_run(f, cached_routes, sizeof(cached_routes) / sizeof(cached_routes[0]));
}

CTEST(cached, etag_is_the_bodys_sha256_and_304_has_no_content)
{
    struct fake f;
    struct fake_resp resp;
    char hex[65], want[40], v[128];

    crypto_sha256_hex(hex, doc, sizeof(doc) - 1);
    snprintf(want, sizeof(want), "\"%.32s\"", hex);

    resp = run_doc("GET", NULL, &f);
    ASSERT_EQ(resp.status, 200);
    ASSERT_STR_EQ(hdr(&resp, "ETag: ", v, sizeof(v)), want);
    ASSERT_STR_EQ(hdr(&resp, "Cache-Control: ", v, sizeof(v)), "public, max-age=300");
    ASSERT_EQ(strstr(resp.headers, "no-store"), NULL);
    ASSERT_STR_EQ(resp.body, doc);
    buf_free(&f.out);

    resp = run_doc("GET", want, &f);
    ASSERT_EQ(resp.status, 304);
    ASSERT_STR_CONTAINS(resp.headers, "Status: 304 Not Modified");
    ASSERT_STR_EQ(hdr(&resp, "ETag: ", v, sizeof(v)), want);
    ASSERT_STR_EQ(hdr(&resp, "Cache-Control: ", v, sizeof(v)), "public, max-age=300");
    ASSERT_EQ(strstr(resp.headers, "\r\nContent-Length:"), NULL);
    ASSERT_EQ(strstr(resp.headers, "\r\nContent-Type:"), NULL);
    ASSERT_STR_EQ(resp.body, "");
    buf_free(&f.out);

    resp = run_doc("HEAD", want, &f);
    ASSERT_EQ(resp.status, 304);
    buf_free(&f.out);

    resp = run_doc("HEAD", "\"other\"", &f);
    ASSERT_EQ(resp.status, 200);
    ASSERT_STR_CONTAINS(resp.headers, "Content-Length: 11");
    ASSERT_STR_EQ(resp.body, "");
    buf_free(&f.out);

    resp = run_doc("GET", "\"other\"", &f);
    ASSERT_EQ(resp.status, 200);
    ASSERT_STR_EQ(resp.body, doc);
    buf_free(&f.out);
}
