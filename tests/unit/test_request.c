/* test_request.c - CONTENT_LENGTH, content types, API version, If-None-Match,
 * query strings. */
#define CTEST_MAIN
#include "../ctest.h"

#include "../../util/arena.h"
#include "../../util/ums.h"
#include "../../fcgi/http.h"

CTEST(request, content_length)
{
    static const struct {
        const char *in;
        int rc;
        long v;
    } cases[] = {
        {NULL, UMS_OK, -1}, /* not given */
        {"", UMS_OK, -1},         {"0", UMS_OK, 0},
        {"42", UMS_OK, 42},       {"-1", UMS_EINVALID, 0},
        {"abc", UMS_EINVALID, 0}, {"12a", UMS_EINVALID, 0},
        {" 12", UMS_EINVALID, 0}, {"+5", UMS_EINVALID, 0},
        {"1e3", UMS_EINVALID, 0}, {"999999999999999999999", UMS_EINVALID, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long v = -7;
        int rc = http_content_length(cases[i].in, &v);
        if (rc != cases[i].rc || (rc == UMS_OK && v != cases[i].v))
            CTEST_FAIL_("case %zu (%s): rc %d v %ld", i, cases[i].in ? cases[i].in : "NULL", rc, v);
    }
}

CTEST(request, json_content_type)
{
    ASSERT_TRUE(http_is_json("application/json"));
    ASSERT_TRUE(http_is_json("Application/JSON"));
    ASSERT_TRUE(http_is_json("application/json;charset=UTF-8"));
    ASSERT_TRUE(http_is_json("application/json; charset=utf-8"));
    ASSERT_TRUE(http_is_json("application/json; charset=\"utf-8\""));
    ASSERT_FALSE(http_is_json(NULL));
    ASSERT_FALSE(http_is_json(""));
    ASSERT_FALSE(http_is_json("text/plain"));
    ASSERT_FALSE(http_is_json("application/jsonp"));
    ASSERT_FALSE(http_is_json("application/json; charset=latin1"));
    ASSERT_FALSE(http_is_json("application/x-www-form-urlencoded"));
}

CTEST(request, api_version)
{
    ASSERT_TRUE(http_api_versioned("2024-01-01"));
    ASSERT_TRUE(http_api_versioned("2025-06-30"));
    ASSERT_FALSE(http_api_versioned("2023-12-31"));
    ASSERT_FALSE(http_api_versioned("2024-1-1"));
    ASSERT_FALSE(http_api_versioned("yes"));
    ASSERT_FALSE(http_api_versioned(NULL));
}

CTEST(request, methods)
{
    ASSERT_EQ(http_method_parse("GET"), M_GET);
    ASSERT_EQ(http_method_parse("DELETE"), M_DELETE);
    ASSERT_EQ(http_method_parse("get"), 0);
    ASSERT_EQ(http_method_parse("BREW"), 0);
    ASSERT_EQ(http_method_parse(NULL), 0);
}

CTEST(request, if_none_match)
{
    static const char tag[] = "\"0123abcd\"";
    static const struct {
        const char *inm;
        int hit;
    } cases[] = {
        {"\"0123abcd\"", 1},
        {"W/\"0123abcd\"", 1}, /* weak comparison: W/ does not count */
        {"\"x\", \"0123abcd\"", 1},
        {"\"x\",W/\"0123abcd\" , \"y\"", 1},
        {" ,, \"0123abcd\",", 1}, /* empty list members */
        {"*", 1},
        {" * ", 1},
        {"\"0123abcd,x\"", 0},          /* a comma inside a tag is part of it */
        {"\"x\", \"0123abcd\"junk", 0}, /* malformed: ignored as a whole */
        {"\"0123abcd", 0},
        {"0123abcd", 0},
        {"w/\"0123abcd\"", 0}, /* W/ is case-sensitive */
        {"\"0123ABCD\"", 0},
        {"\"0123abc\"", 0},
        {"\"0123abcde\"", 0},
        {"\"\"", 0},
        {"*, \"0123abcd\"", 0}, /* "*" stands alone */
        {"", 0},
        {NULL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (http_etag_match(cases[i].inm, tag) != cases[i].hit)
            CTEST_FAIL_("If-None-Match %s: expected %d", cases[i].inm ? cases[i].inm : "(null)",
                        cases[i].hit);
    /* The representation's own tag may be weak too; a malformed one matches nothing. */
    ASSERT_TRUE(http_etag_match("\"0123abcd\"", "W/\"0123abcd\""));
    ASSERT_FALSE(http_etag_match("*", "0123abcd"));
    ASSERT_FALSE(http_etag_match("\"a\"", NULL));
}

CTEST(query, get_and_decode)
{
    struct arena *a = arena_new(1024, 1 << 16);
    const char *v;
    ASSERT_EQ(http_query_get(a, "a=1&grant_type=password&b", "grant_type", &v), UMS_OK);
    ASSERT_STR_EQ(v, "password");
    ASSERT_EQ(http_query_get(a, "q=caf%C3%A9+au+lait", "q", &v), UMS_OK);
    ASSERT_STR_EQ(v, "café au lait");
    ASSERT_EQ(http_query_get(a, "flag&x=1", "flag", &v), UMS_OK);
    ASSERT_STR_EQ(v, "");
    ASSERT_EQ(http_query_get(a, "ab=1", "a", &v), UMS_ENOTFOUND);
    ASSERT_EQ(http_query_get(a, "", "a", &v), UMS_ENOTFOUND);
    ASSERT_EQ(http_query_get(a, "a=%", "a", &v), UMS_EINVALID);
    ASSERT_EQ(http_query_get(a, "a=%4", "a", &v), UMS_EINVALID);
    ASSERT_EQ(http_query_get(a, "a=%zz", "a", &v), UMS_EINVALID);
    ASSERT_EQ(http_query_get(a, "a=%00", "a", &v), UMS_EINVALID);
    ASSERT_EQ(http_query_get(a, "a=%ff", "a", &v), UMS_EINVALID);
    ASSERT_EQ(http_query_get(a, "a=%27%3B--", "a", &v), UMS_OK);
    ASSERT_STR_EQ(v, "';--");
    arena_free(a);
}
