/* test_json.c - strict JSON parsing with limits. */
#define CTEST_MAIN
#include "../ctest.h"

#include "../../util/json.h"
#include "../../util/ums.h"

static int parse(const char *s, size_t n, const char **why)
{
    struct json_object *o = NULL;
    int rc = json_parse_strict(&o, s, n, JSON_DEPTH_MAX, why);
    if (o != NULL)
        json_object_put(o);
    return rc;
}

#define P(s) parse(s, sizeof(s) - 1, &why)

CTEST(json, accepts_valid)
{
    const char *why;
    ASSERT_EQ(P("{\"a\":1,\"b\":[true,null,\"x\"]}"), UMS_OK);
    ASSERT_EQ(P("  {\"a\":\"caf\xc3\xa9\"}\n"), UMS_OK);
    ASSERT_EQ(P("[]"), UMS_OK);
    ASSERT_EQ(P("{\"n\":-1.5e3}"), UMS_OK);
}

CTEST(json, scalars_at_top_level)
{
    const char *why;
    ASSERT_EQ(P("\"s\""), UMS_OK);
    ASSERT_EQ(P("true"), UMS_OK);
    ASSERT_EQ(P("123"), UMS_OK);
}

CTEST(json, rejects_trailing_garbage)
{
    const char *why = NULL;
    ASSERT_EQ(P("{\"a\":1} x"), UMS_EINVALID);
    ASSERT_STR_CONTAINS(why, "after the JSON value");
    ASSERT_EQ(P("{\"a\":1}{}"), UMS_EINVALID);
    ASSERT_EQ(P("1 2"), UMS_EINVALID);
}

CTEST(json, rejects_invalid_utf8)
{
    const char *why = NULL;
    ASSERT_EQ(P("{\"a\":\"\xff\"}"), UMS_EINVALID);
    ASSERT_STR_CONTAINS(why, "UTF-8");
    ASSERT_EQ(P("{\"a\":\"\xed\xa0\x80\"}"), UMS_EINVALID);
}

CTEST(json, rejects_nul_byte)
{
    const char *why = NULL;
    ASSERT_EQ(parse("{\"a\":\"x\0y\"}", 11, &why), UMS_EINVALID);
    ASSERT_EQ(P("{\"a\":\"x\\u0000y\"}"), UMS_EINVALID);
    ASSERT_STR_CONTAINS(why, "NUL");
}

CTEST(json, values_survive)
{
    struct json_object *o = NULL, *v;
    static const char s[] = "{\"a\":\"\\u00e9\\n\",\"n\":[1,-2.5e1,true,false,null]}";
    ASSERT_EQ(json_parse_strict(&o, s, sizeof(s) - 1, JSON_DEPTH_MAX, NULL), UMS_OK);
    ASSERT_TRUE(json_object_object_get_ex(o, "a", &v));
    ASSERT_STR_EQ(json_object_get_string(v), "\xc3\xa9\n");
    ASSERT_TRUE(json_object_object_get_ex(o, "n", &v));
    ASSERT_EQ(json_object_array_length(v), 5);
    json_object_put(o);
}

CTEST(json, depth_limit_is_exact)
{
    char s[2 * JSON_DEPTH_MAX + 3];
    const char *why;
    for (int i = 0; i < JSON_DEPTH_MAX; i++) {
        s[i] = '[';
        s[JSON_DEPTH_MAX + i] = ']';
    }
    ASSERT_EQ(parse(s, 2 * JSON_DEPTH_MAX, &why), UMS_OK);
    for (int i = 0; i <= JSON_DEPTH_MAX; i++) {
        s[i] = '[';
        s[JSON_DEPTH_MAX + 1 + i] = ']';
    }
    ASSERT_EQ(parse(s, 2 * JSON_DEPTH_MAX + 2, &why), UMS_EINVALID);
}

CTEST(json, rejects_deep_nesting)
{
    char s[20001];
    const char *why = NULL;
    for (int i = 0; i < 10000; i++) {
        s[i] = '[';
        s[10000 + i] = ']';
    }
    s[20000] = '\0';
    ASSERT_EQ(parse(s, 20000, &why), UMS_EINVALID);
    ASSERT_STR_CONTAINS(why, "deep");
}

CTEST(json, rejects_non_strict_syntax)
{
    const char *why;
    ASSERT_EQ(P("{'a':1}"), UMS_EINVALID);
    ASSERT_EQ(P("{\"a\":1,}"), UMS_EINVALID);
    ASSERT_EQ(P("{a:1}"), UMS_EINVALID);
    ASSERT_EQ(P("{\"a\":01}"), UMS_EINVALID);
    ASSERT_EQ(P("{\"a\":NaN}"), UMS_EINVALID);
    ASSERT_EQ(P("/* c */ {}"), UMS_EINVALID);
    ASSERT_EQ(P("[Infinity]"), UMS_EINVALID);
    ASSERT_EQ(P("[1.]"), UMS_EINVALID);
    ASSERT_EQ(P("[.5]"), UMS_EINVALID);
    ASSERT_EQ(P("[0x10]"), UMS_EINVALID);
    ASSERT_EQ(P("[\"\t\"]"), UMS_EINVALID);
    ASSERT_EQ(P("[\"\\x\"]"), UMS_EINVALID);
    ASSERT_EQ(P("[\"\\u12\"]"), UMS_EINVALID);
    ASSERT_EQ(P("{\"a\" 1}"), UMS_EINVALID);
    ASSERT_EQ(P("[1 2]"), UMS_EINVALID);
    ASSERT_EQ(P("tru"), UMS_EINVALID);
}

CTEST(json, rejects_empty_and_truncated)
{
    const char *why = NULL;
    ASSERT_EQ(parse("", 0, &why), UMS_EINVALID);
    ASSERT_EQ(P("{\"a\":"), UMS_EINVALID);
    ASSERT_STR_CONTAINS(why, "incomplete");
}
