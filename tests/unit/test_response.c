/* test_response.c - error mapping and both error body formats. */
#define CTEST_MAIN
#include "../ctest.h"

#include <json-c/json.h>

#include "../../util/ums.h"
#include "../../fcgi/http.h"

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

CTEST(errors, rc_mapping)
{
    ASSERT_EQ(http_err_from_rc(UMS_ENOTFOUND), HE_NOT_FOUND);
    ASSERT_EQ(http_err_from_rc(UMS_ECONFLICT), HE_CONFLICT);
    ASSERT_EQ(http_err_from_rc(UMS_EINVALID), HE_VALIDATION);
    ASSERT_EQ(http_err_from_rc(UMS_EDENIED), HE_FORBIDDEN);
    ASSERT_EQ(http_err_from_rc(UMS_EUNAVAILABLE), HE_UNAVAILABLE);
    ASSERT_EQ(http_err_from_rc(UMS_ETOOBIG), HE_TOO_LARGE);
    ASSERT_EQ(http_err_from_rc(UMS_ERR), HE_UNEXPECTED);
    ASSERT_EQ(http_err_from_rc(-99), HE_UNEXPECTED);
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
    for (int e = 0; e < HE__MAX; e++) {
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
    for (int e = 0; e < HE__MAX; e++) {
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
