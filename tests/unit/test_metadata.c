/* test_metadata.c - the rules for user_metadata: names, size, depth. */
#define CTEST_MAIN
#include "../ctest.h"

#include "../../core/metadata.h"
#include "../../util/ums.h"

CTEST(metadata, names)
{
    static const char *const valid[] = {
        "Ann",
        "Ann Lee",
        "J. R. R. Tolkien",
        "Zoë",
        "李小龙",
        "O'Brien-Smith",
        "a",
        "Ünïcödé name of 100 characters is fine "
        ".............................................................",
        NULL,
    };
    static const char *const invalid[] = {
        "",
        "   ",
        "Ann\nVisit us",
        "Ann\r\nBcc: x@example.com",
        "tab\there",
        "del\x7f",
        "c1 \xc2\x85 next line",
        "go to http://evil.example",
        "HTTPS://EVIL",
        "www.evil.example",
        "see WWW.Evil.example",
        "right-to-left \xe2\x80\xae override",
        "zero\xe2\x80\x8bwidth",
        "bom \xef\xbb\xbf",
        "bad \xff utf-8",
        "101 characters "
        "......................................................................................",
        NULL,
    };
    for (int i = 0; valid[i] != NULL; i++)
        if (!metadata_name_valid(valid[i], strlen(valid[i])))
            CTEST_FAIL_("valid name refused: \"%s\"", valid[i]);
    for (int i = 0; invalid[i] != NULL; i++)
        if (metadata_name_valid(invalid[i], strlen(invalid[i])))
            CTEST_FAIL_("invalid name accepted: \"%s\"", invalid[i]);
    ASSERT_FALSE(metadata_name_valid(NULL, 0));
}

CTEST(metadata, objects_sizes_and_depths)
{
    /* clang-format off */
    static const struct { const char *json; int want; } cases[] = {
        {"{}", UMS_OK},
        {"{\"name\":\"Ann\",\"theme\":\"dark\"}", UMS_OK},
        {"{\"name\":null}", UMS_OK},
        {"{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":1}}}}}", UMS_OK},              /* 5 levels */
        {"{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":1}}}}}}", UMS_OK},      /* 6 */
        {"{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{}}}}}}}", UMS_ETOOBIG}, /* 7 */
        {"{\"a\":[[[[[[1]]]]]]}", UMS_ETOOBIG},
        {"{\"a\":[[[[1]]]]}", UMS_OK},
        {"[]", UMS_EINVALID},
        {"\"text\"", UMS_EINVALID},
        {"{\"name\":7}", UMS_EINVALID},
        {"{\"name\":\"Ann\\nClick http://x\"}", UMS_EINVALID},
        {"{\"name\":\"\"}", UMS_EINVALID},
        {"not json", UMS_EINVALID},
    };
    /* clang-format on */
    const char *why = NULL;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = metadata_check(cases[i].json, &why);
        if (rc != cases[i].want)
            CTEST_FAIL_("metadata_check(%s) = %d, want %d", cases[i].json, rc, cases[i].want);
        if (rc != UMS_OK && why == NULL)
            CTEST_FAIL_("no reason for %s", cases[i].json);
    }
    ASSERT_EQ(metadata_check(NULL, &why), UMS_OK);
    {
        static char big[METADATA_MAX_BYTES + 64];
        size_t n = (size_t)snprintf(big, sizeof(big), "{\"x\":\"");
        memset(big + n, 'a', METADATA_MAX_BYTES - n - 2);
        memcpy(big + METADATA_MAX_BYTES - 2, "\"}", 3); /* exactly the limit */
        ASSERT_EQ(strlen(big), METADATA_MAX_BYTES);
        ASSERT_EQ(metadata_check(big, &why), UMS_OK);
        memcpy(big + METADATA_MAX_BYTES - 2, "a\"}", 4); /* one byte over */
        ASSERT_EQ(metadata_check(big, &why), UMS_ETOOBIG);
    }
}
