/* test_utf8.c - UTF-8 text checks and the cleaning copy (core/utf8.c). */
#define CTEST_MAIN
#include "../ctest.h"

#include "../../util/utf8.h"

CTEST(utf8_clean, cuts_between_characters_and_replaces_what_is_not_text)
{
    /* clang-format off */
    static const struct { const char *in; size_t size; const char *want; } cases[] = {
        {"plain", 16, "plain"},
        {"", 4, ""},
        {"abcdef", 4, "abc"},                                   /* cut, NUL kept */
        {"\xc3\xa9\xc3\xa9", 4, "\xc3\xa9"},                    /* é|é: not half of one */
        {"a\xc3\xa9", 3, "a"},                                  /* no room for the 2nd byte */
        {"\xe2\x82\xac\xe2\x82\xac", 6, "\xe2\x82\xac"},        /* € cut between */
        {"\xf0\x9f\x98\x80!", 5, "\xf0\x9f\x98\x80"},           /* 4-byte character */
        {"bad\xff" "end", 16, "bad\xef\xbf\xbd" "end"},          /* invalid byte: U+FFFD */
        {"\xc3", 8, "\xef\xbf\xbd"},                            /* a cut sequence */
        {"\xed\xa0\x80", 16, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* a surrogate */
        {"\xc0\xaf", 16, "\xef\xbf\xbd\xef\xbf\xbd"},           /* an overlong */
        {"line\nnext\ttab", 32, "line\nnext\ttab"},             /* kept */
        {"cr\rbell\a del\x7f", 32, "cr bell  del "},            /* controls: spaces */
        {"x\xff", 3, "x"},                                      /* no room for U+FFFD */
    };
    /* clang-format on */
    char out[64];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t w = utf8_clean(out, cases[i].size, cases[i].in);
        if (strcmp(out, cases[i].want) != 0 || w != strlen(out) || w >= cases[i].size ||
            !(w == 0 || utf8_valid(out, w)))
            CTEST_FAIL_("case %zu: \"%s\" into %zu bytes gave \"%s\"", i, cases[i].in,
                        cases[i].size, out);
    }
    ASSERT_EQ(utf8_clean(out, 8, NULL), 0);
    ASSERT_STR_EQ(out, "");
}

CTEST(utf8_text_valid, valid_and_invalid_text)
{
    /* clang-format off */
    static const struct { const char *s; size_t max; int lines, want; } cases[] = {
        {"Ann", 100, 0, 1},
        {"Zo\xc3\xab", 3, 0, 1},           /* 3 characters, 4 bytes */
        {"Zo\xc3\xab", 2, 0, 0},
        {"two\nlines", 100, 1, 1},
        {"two\nlines", 100, 0, 0},
        {"tab\there", 100, 1, 1},
        {"cr\rhere", 100, 1, 0},
        {"del\x7f", 100, 1, 0},
        {"", 100, 0, 0},
        {"bad\xff", 100, 0, 0},
        {"\xed\xa0\x80", 100, 0, 0},
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (utf8_text_valid(cases[i].s, strlen(cases[i].s), cases[i].max, cases[i].lines) !=
            cases[i].want)
            CTEST_FAIL_("utf8_text_valid(\"%s\", %zu, %d) != %d", cases[i].s, cases[i].max,
                        cases[i].lines, cases[i].want);
}

/* A name cut to 100 characters is cut between characters, never inside one. */
CTEST(utf8, prefix_counts_characters)
{
    ASSERT_EQ(utf8_prefix("abc", 2), 2);
    ASSERT_EQ(utf8_prefix("abc", 10), 3);
    ASSERT_EQ(utf8_prefix("", 5), 0);
    ASSERT_EQ(utf8_prefix("\xc3\xa9t\xc3\xa9", 1), 2);         /* é */
    ASSERT_EQ(utf8_prefix("\xc3\xa9t\xc3\xa9", 3), 5);         /* été */
    ASSERT_EQ(utf8_prefix("\xf0\x9f\x98\x80x", 1), 4);         /* one emoji */
    ASSERT_EQ(utf8_prefix("a\xe6\x97\xa5\xe6\x9c\xac", 2), 4); /* a日 */
    ASSERT_EQ(utf8_prefix("abc", 0), 0);
}
