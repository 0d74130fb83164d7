/* test_logjson.c - Apache's log escapes made valid JSON (util/logjson.c). */
#define CTEST_MAIN
#include "../ctest.h"

#include <json-c/json.h>

#include "../../util/buf.h"
#include "../../util/logjson.h"
#include "../../util/utf8.h"

CTEST(logjson, apache_escapes_become_json)
{
    /* clang-format off */
    static const struct { const char *in; const char *want; } cases[] = {
        {"{\"ua\":\"curl/8\"}", "{\"ua\":\"curl/8\"}"},              /* untouched */
        {"{\"ua\":\"a\\\"b\\\\c\"}", "{\"ua\":\"a\\\"b\\\\c\"}"},    /* \" \\ kept */
        {"{\"ua\":\"\\xff\"}", "{\"ua\":\"\\ufffd\"}"},              /* not UTF-8 */
        {"{\"ua\":\"\\xc3\\xa9\"}", "{\"ua\":\"\xc3\xa9\"}"},        /* é as UTF-8 */
        {"{\"ua\":\"\\xe2\\x82\\xac!\"}", "{\"ua\":\"\xe2\x82\xac!\"}"},
        {"{\"ua\":\"\\xc3\"}", "{\"ua\":\"\\ufffd\"}"},              /* cut sequence */
        {"{\"ua\":\"\\xc0\\xaf\"}", "{\"ua\":\"\\ufffd\\ufffd\"}"},  /* overlong */
        {"{\"ua\":\"\\xed\\xa0\\x80\"}",                             /* surrogate */
         "{\"ua\":\"\\ufffd\\ufffd\\ufffd\"}"},
        {"{\"ua\":\"\\x01\\x7f\\x1b\"}", "{\"ua\":\"\\u0001\\u007f\\u001b\"}"},
        {"{\"ua\":\"\\v\\t\\n\"}", "{\"ua\":\"\\u000b\\t\\n\"}"},    /* \v is not JSON */
        {"{\"ua\":\"\\x22\\x5c\"}", "{\"ua\":\"\\\"\\\\\"}"},        /* " \ as hex */
        {"{\"ua\":\"raw\xff\xc3\xa9\"}", "{\"ua\":\"raw\\ufffd\xc3\xa9\"}"}, /* raw bytes */
        {"{\"ua\":\"\\xq1\"}", "{\"ua\":\"\\\\xq1\"}"},              /* not an escape */
        {"{\"ua\":\"end\\", "{\"ua\":\"end\\\\"},                    /* cut at a \ */
        {"{\"ua\":\"\\xc3\\x\"}", "{\"ua\":\"\\ufffd\\\\x\"}"},
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf out;
        buf_init(&out, 1 << 20);
        ASSERT_EQ(logjson_line(&out, cases[i].in, strlen(cases[i].in)), 0);
        if (out.p == NULL || strcmp(out.p, cases[i].want) != 0) {
            fprintf(stderr, "    case %zu: got [%s] want [%s]\n", i, out.p ? out.p : "",
                    cases[i].want);
            buf_free(&out);
            ASSERT_TRUE(0);
        }
        buf_free(&out);
    }
}

/* Every byte value, escaped as Apache does and raw, in one value of 16 KiB:
 * the line parses as JSON and the value is valid UTF-8. */
CTEST(logjson, every_byte_parses)
{
    struct buf in, out;
    struct json_object *o, *v;
    const char *s;

    buf_init(&in, 1 << 20);
    buf_init(&out, 1 << 20);
    buf_adds(&in, "{\"ua\":\"");
    for (int rep = 0; in.len < 16 * 1024; rep++) {
        for (int c = 0; c < 256; c++) {
            if (rep % 2 == 0 && (c < 0x20 || c >= 0x7f || c == '"' || c == '\\'))
                buf_printf(&in, "\\x%02x", c);
            else if (c >= 0x80)
                buf_addc(&in, (char)c);
            else if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
                buf_addc(&in, (char)c);
        }
    }
    buf_adds(&in, "\",\"status\":200}");
    ASSERT_EQ(logjson_line(&out, in.p, in.len), 0);
    o = json_tokener_parse(out.p);
    ASSERT_TRUE(o != NULL);
    ASSERT_TRUE(json_object_object_get_ex(o, "ua", &v));
    s = json_object_get_string(v);
    ASSERT_TRUE(utf8_valid(s, strlen(s)));
    ASSERT_TRUE(json_object_object_get_ex(o, "status", &v));
    ASSERT_EQ(json_object_get_int(v), 200);
    json_object_put(o);
    buf_free(&in);
    buf_free(&out);
}
