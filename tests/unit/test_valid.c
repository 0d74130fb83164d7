/* test_valid.c - validators and base64url, table-driven. */
#define CTEST_MAIN
#include "../ctest.h"

#include "../../util/b64.h"
#include "../../util/ums.h"
#include "../../util/valid.h"

CTEST(valid, uuid)
{
    ASSERT_TRUE(valid_uuid("7d1c0a8e-6b1f-4a53-9f1e-2c3d4e5f6a7b"));
    ASSERT_TRUE(valid_uuid("7D1C0A8E-6B1F-4A53-9F1E-2C3D4E5F6A7B"));
    ASSERT_FALSE(valid_uuid(NULL));
    ASSERT_FALSE(valid_uuid(""));
    ASSERT_FALSE(valid_uuid("me"));
    ASSERT_FALSE(valid_uuid("7d1c0a8e6b1f4a539f1e2c3d4e5f6a7b"));
    ASSERT_FALSE(valid_uuid("7d1c0a8e-6b1f-4a53-9f1e-2c3d4e5f6a7g"));
    ASSERT_FALSE(valid_uuid("7d1c0a8e-6b1f-4a53-9f1e-2c3d4e5f6a7b0"));
    ASSERT_FALSE(valid_uuid("'; DROP TABLE users; --------------"));
}

CTEST(valid, email)
{
    static const struct {
        const char *in, *out;
    } good[] = {
        {"a@example.com", "a@example.com"},
        {"  Mixed.Case+tag@Example.COM ", "mixed.case+tag@example.com"},
        {"o'brien@example.ie", "o'brien@example.ie"},
        {"jürgen@example.de", "jürgen@example.de"},
    };
    static const char *const bad[] = {
        "",
        "a",
        "no-at.example.com",
        "@example.com",
        "a@",
        "a@b",
        "a@@example.com",
        "a b@example.com",
        "a@example..com",
        "a@.example.com",
        "a@example.com.",
        "<a@example.com>",
        "a\r\n@example.com",
        "a\"@example.com",
        "a@exa\xffmple.com",
        "a;DROP@example.com",
    };
    char out[EMAIL_MAX + 1];
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (valid_email_normalize(out, good[i].in, strlen(good[i].in)) != 0 ||
            strcmp(out, good[i].out) != 0)
            CTEST_FAIL_("rejected or changed: %s", good[i].in);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (valid_email_normalize(out, bad[i], strlen(bad[i])) != UMS_EINVALID)
            CTEST_FAIL_("accepted: %s", bad[i]);
    char big[300];
    memset(big, 'a', sizeof(big));
    memcpy(big + 250, "@example.com", 12);
    ASSERT_EQ(valid_email_normalize(out, big, 262), UMS_EINVALID);
}

CTEST(b64, round_trip_and_strictness)
{
    unsigned char raw[64], back[64];
    char enc[100];
    for (size_t n = 0; n < 20; n++) {
        for (size_t i = 0; i < n; i++)
            raw[i] = (unsigned char)(i * 37 + n);
        b64_url_encode(enc, raw, n);
        ASSERT_EQ(strlen(enc), B64URL_LEN(n));
        ASSERT_EQ(b64_url_decode(back, sizeof(back), enc, strlen(enc)), (long)n);
        ASSERT_TRUE(memcmp(raw, back, n) == 0);
    }
    ASSERT_EQ(b64_url_decode(back, sizeof(back), "AQAB", 4), 3);
    ASSERT_EQ(b64_url_decode(back, sizeof(back), "AQ==", 4), -1); /* padding */
    ASSERT_EQ(b64_url_decode(back, sizeof(back), "A+/B", 4), -1); /* other alphabet */
    ASSERT_EQ(b64_url_decode(back, sizeof(back), "A", 1), -1);
    ASSERT_EQ(b64_url_decode(back, sizeof(back), "AR", 2), -1); /* non-canonical bits */
    ASSERT_EQ(b64_url_decode(back, 1, "AQAB", 4), -1);          /* too small */
}
