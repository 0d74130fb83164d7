/* test_bucket.c - the client key of the per-IP buckets (bucket_ip_key). */
#define CTEST_MAIN
#include "../ctest.h"

#include "../../core/bucket.h"

CTEST(bucket_ip_key, valid_and_invalid_addresses)
{
    /* clang-format off */
    static const struct { const char *in, *want; } cases[] = {
        {"127.0.0.1", "127.0.0.1"},
        {"203.0.113.9", "203.0.113.9"},
        /* one /64 is one client, however its low bits are written */
        {"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
        {"2001:db8:1:2::1", "2001:db8:1:2::/64"},
        {"2001:DB8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
        {"2001:0db8:0001:0002:0000:0000:0000:0001", "2001:db8:1:2::/64"},
        {"2001:db8:1:3::1", "2001:db8:1:3::/64"},
        {"::1", "::/64"},
        {"fe80::1", "fe80::/64"},
        /* IPv4-mapped IPv6 is the IPv4 client */
        {"::ffff:192.0.2.7", "192.0.2.7"},
        /* not an address: one shared key, never the raw text */
        {"", "-"},
        {"localhost", "-"},
        {"127.0.0.1:80", "-"},
        {"2001:db8::1%eth0", "-"},
        {"1.2.3.4.5", "-"},
        {"2001:db8:::1", "-"},
        {"::ffff:999.0.0.1", "-"},
    };
    /* clang-format on */
    char out[BUCKET_IP_KEY_MAX];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bucket_ip_key(out, cases[i].in);
        if (strcmp(out, cases[i].want) != 0)
            CTEST_FAIL_("bucket_ip_key(\"%s\") = \"%s\", want \"%s\"", cases[i].in, out,
                        cases[i].want);
    }
    bucket_ip_key(out, NULL);
    ASSERT_STR_EQ(out, "-");
}
