/* test_buf.c - growable buffers and JSON string escaping. */
#define CTEST_MAIN
#include "../ctest.h"

#include "../../util/buf.h"
#include "../../util/ums.h"
#include "../../util/utf8.h"

CTEST(buf, ceiling_is_kept)
{
    struct buf b;
    buf_init(&b, 8);
    ASSERT_EQ(buf_adds(&b, "12345678"), UMS_OK);
    ASSERT_EQ(buf_addc(&b, '9'), UMS_ETOOBIG);
    ASSERT_EQ(b.len, 8);
    ASSERT_STR_EQ(b.p, "12345678");
    ASSERT_EQ(buf_printf(&b, "%d", 1), UMS_ETOOBIG);
    buf_free(&b);
}

CTEST(buf, printf_appends)
{
    struct buf b;
    buf_init(&b, 1024);
    buf_printf(&b, "%s=%d", "a", 1);
    buf_printf(&b, ",%s", "b");
    ASSERT_STR_EQ(b.p, "a=1,b");
    buf_reset(&b, 4096);
    ASSERT_EQ(b.len, 0);
    ASSERT_STR_EQ(b.p, "");
    buf_free(&b);
}

CTEST(buf, json_escapes)
{
    struct buf b;
    buf_init(&b, 1024);
    ASSERT_EQ(buf_add_json_str(&b, "a\"b\\c\nd\x01\x7f"), UMS_OK);
    ASSERT_STR_EQ(b.p, "\"a\\\"b\\\\c\\u000ad\\u0001\\u007f\"");
    buf_free(&b);
}

CTEST(buf, json_keeps_utf8_and_replaces_invalid)
{
    struct buf b;
    buf_init(&b, 1024);
    ASSERT_EQ(buf_add_json_str(&b, "caf\xc3\xa9 \xff \xed\xa0\x80"), UMS_OK);
    ASSERT_STR_EQ(b.p, "\"caf\xc3\xa9 \\ufffd \\ufffd\\ufffd\\ufffd\"");
    buf_free(&b);
}

CTEST(buf, json_too_long_leaves_buffer_unchanged)
{
    struct buf b;
    buf_init(&b, 10);
    buf_adds(&b, "ab");
    ASSERT_EQ(buf_add_json_str(&b, "0123456789"), UMS_ETOOBIG);
    ASSERT_STR_EQ(b.p, "ab");
    buf_free(&b);
}

CTEST(utf8, table)
{
    static const struct {
        const char *s;
        size_t n;
        int ok;
    } cases[] = {
        {"plain", 5, 1},
        {"\xc3\xa9", 2, 1},
        {"\xe2\x82\xac", 3, 1},
        {"\xf0\x9f\x98\x80", 4, 1},
        {"\xf4\x8f\xbf\xbf", 4, 1}, /* U+10FFFF */
        {"\xc0\xaf", 2, 0},         /* overlong '/' */
        {"\xe0\x80\xaf", 3, 0},     /* overlong */
        {"\xed\xa0\x80", 3, 0},     /* surrogate */
        {"\xf4\x90\x80\x80", 4, 0}, /* > U+10FFFF */
        {"\xc3", 1, 0},             /* cut */
        {"\x80", 1, 0},             /* lone continuation */
        {"a\0b", 3, 0},             /* NUL */
        {"\xff", 1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (utf8_valid(cases[i].s, cases[i].n) != cases[i].ok)
            CTEST_FAIL_("case %zu: expected %d", i, cases[i].ok);
    }
}
