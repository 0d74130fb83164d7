/* test_guards.c - tables of valid and invalid inputs for the guards that
 * stand between a request and something that trusts it: the open-redirect
 * guard (core/redirect.c), search cursors and timestamps (core/search.c),
 * Go durations (util/duration.c). */
#define CTEST_MAIN
#include "../ctest.h"

#include <stdlib.h>

#include "../../core/config.h"
#include "../../core/ctx.h"
#include "../../core/redirect.h"
#include "../../core/search.h"
#include "../../util/buf.h"
#include "../../util/duration.h"
#include "../../util/ums.h"

#define SECRET "0123456789abcdef0123456789abcdef-guards"

/* A configuration from text, with the environment's overrides cleared. */
static struct ums_config *conf(const char *text)
{
    static const char *const env[] = {"UMS_AUTH_SITE_URL", "UMS_AUTH_URI_ALLOW_LIST",
                                      "UMS_AUTH_REFRESH_TOKEN_SECRET",
                                      "UMS_AUTH_REFRESH_TOKEN_SECRET_FILE"};
    struct ums_config *cfg = NULL;
    char err[512];

    for (size_t i = 0; i < UMS_ARRAY_LEN(env); i++)
        unsetenv(env[i]);
    if (config_parse(&cfg, text, strlen(text), "guards.conf", err, sizeof(err)) != UMS_OK) {
        fprintf(stderr, "config: %s\n", err);
        return NULL;
    }
    return cfg;
}

CTEST(redirect_allowed, site_url_and_allow_list)
{
    /* clang-format off */
    static const struct { const char *url; int want; } cases[] = {
        {"https://app.example", 1},
        {"https://app.example/", 1},
        {"https://app.example/welcome?next=%2F#top", 1},
        {"HTTPS://APP.EXAMPLE/path", 1},                  /* scheme and host case */
        {"https://app.example:443/x", 1},                 /* the default port, written */
        {"https://partner.example/cb", 1},                /* an exact entry */
        {"https://wild.example/app/", 1},                 /* a prefix entry */
        {"https://wild.example/app/deep/er?x=1", 1},
        {"", 0},
        {"https://app.example:8443/", 0},                 /* another port */
        {"http://app.example/", 0},                       /* another scheme */
        {"https://app.example.evil.test/", 0},            /* a longer host */
        {"https://evil.test/?u=https://app.example/", 0},
        {"https://app.example@evil.test/", 0},            /* userinfo */
        {"https://evil.test\\@app.example/", 0},          /* backslash and userinfo */
        {"https://app.example\\.evil.test/", 0},          /* backslash */
        {"//app.example/x", 0},                           /* scheme-relative */
        {"/relative/path", 0},
        {"javascript:alert(1)", 0},
        {"data:text/html,hi", 0},
        {"ftp://app.example/", 0},
        {"https://app.example/\r\nSet-Cookie: a=b", 0},   /* header splitting */
        {"https://app.example/a b", 0},                   /* whitespace */
        {"https://app.example\t/", 0},
        {"https://app.example/\\evil.test", 0},           /* a backslash in the path */
        {"https://app.example/\x01x", 0},                 /* control bytes */
        {"https://app.example/\x7f", 0},
        {"https://app.example/\x1b[2J", 0},
        {"https://partner.example/cb/more", 0},           /* exact means exact */
        {"https://partner.example/cbx", 0},
        {"https://wild.example/other", 0},                /* outside the prefix */
        {"https://wild.example/ap", 0},
        {"https://app.example:0/", 0},                    /* ports out of range */
        {"https://app.example:65536/", 0},
        {"https://app.example:80x/", 0},
        {"https://app.example:/", 0},
        {"https://:443/", 0},                             /* no host */
        {"https://[::1/", 0},                             /* an unclosed bracket */
        {"http://localhost:3000/", 0},                    /* not the site's host */
    };
    /* clang-format on */
    struct ums_config *cfg = conf("[auth]\nsite_url = https://app.example\n"
                                  "uri_allow_list = https://partner.example/cb , "
                                  "https://wild.example/app/*\n");
    char big[2100];

    ASSERT_NOT_NULL(cfg);
    for (size_t i = 0; i < UMS_ARRAY_LEN(cases); i++)
        if (redirect_allowed(cfg, cases[i].url) != cases[i].want)
            CTEST_FAIL_("redirect_allowed(\"%s\") != %d", cases[i].url, cases[i].want);
    ASSERT_EQ(redirect_allowed(cfg, NULL), 0);
    /* Over 2,048 bytes, even under the site's origin. */
    memcpy(big, "https://app.example/", 20);
    memset(big + 20, 'a', 2040 - 20);
    big[2040] = '\0';
    ASSERT_EQ(redirect_allowed(cfg, big), 1);
    memset(big + 2040, 'a', 9);
    big[2049] = '\0';
    ASSERT_EQ(redirect_allowed(cfg, big), 0);
    config_free(cfg);
}

CTEST(redirect_allowed, any_port_on_a_loopback_site)
{
    /* clang-format off */
    static const struct { const char *url; int want; } cases[] = {
        {"http://localhost:3000/cb", 1},
        {"http://localhost:5173/cb", 1},                  /* a dev server's port */
        {"http://localhost/", 1},
        {"https://localhost:3000/", 0},                   /* the scheme still counts */
        {"http://127.0.0.1:3000/", 0},                    /* another host, even loopback */
        {"http://localhost.evil.test:3000/", 0},
        {"http://localhost:3000@evil.test/", 0},
    };
    /* clang-format on */
    struct ums_config *cfg = conf("[auth]\nsite_url = http://localhost:3000\n");

    ASSERT_NOT_NULL(cfg);
    for (size_t i = 0; i < UMS_ARRAY_LEN(cases); i++)
        if (redirect_allowed(cfg, cases[i].url) != cases[i].want)
            CTEST_FAIL_("redirect_allowed(\"%s\") != %d", cases[i].url, cases[i].want);
    config_free(cfg);
}

CTEST(duration_seconds, go_durations)
{
    /* clang-format off */
    static const struct { const char *s; long long want; } cases[] = {
        {"90s", 90},
        {"15m", 900},
        {"24h", 86400},
        {"1h30m", 5400},
        {"1h1m1s", 3661},
        {"0s", 0},
        {"100000000s", 100000000},
        {"876000h", 876000LL * 3600},                     /* 100 years: the cap */
        {"876001h", -1},
        {"100000001s", -1},                               /* a part over the cap */
        {"", -1},
        {"h", -1},
        {"10", -1},                                       /* no unit */
        {"-5s", -1},
        {"+5s", -1},
        {"1.5h", -1},
        {"5ms", -1},
        {"5us", -1},
        {"3d", -1},
        {"5 s", -1},
        {" 5s", -1},
        {"5s ", -1},
        {"none", -1},
        {"1h-1m", -1},
        {"99999999999999999999h", -1},                    /* overflows strtoll */
    };
    /* clang-format on */
    for (size_t i = 0; i < UMS_ARRAY_LEN(cases); i++)
        if (duration_seconds(cases[i].s) != cases[i].want)
            CTEST_FAIL_("duration_seconds(\"%s\") = %lld, want %lld", cases[i].s,
                        duration_seconds(cases[i].s), cases[i].want);
    ASSERT_EQ(duration_seconds(NULL), -1);
}

CTEST(search_timestamp_valid, what_postgresql_takes_as_meant)
{
    /* clang-format off */
    static const struct { const char *s; int want; } cases[] = {
        {"2026-01-02", 1},
        {"2026-01-02T03:04:05Z", 1},
        {"2026-01-02t03:04:05z", 1},
        {"2026-01-02 03:04:05", 1},
        {"2026-01-02T03:04:05.123456789Z", 1},
        {"2026-01-02T03:04:05+05:30", 1},
        {"2026-01-02T03:04:05-15:59", 1},
        {"2026-12-31T23:59:60Z", 1},                      /* a leap second */
        {"2024-02-29", 1},                                /* a leap year */
        {"2000-02-29", 1},
        {"1970-01-01", 1},
        {"9999-12-31T23:59:59Z", 1},
        {"", 0},
        {"2026", 0},
        {"2026-1-02", 0},
        {"2026-01-2", 0},
        {"2026-+1-02", 0},                                /* a sign sscanf would take */
        {"2026- 1-02", 0},                                /* a space sscanf would skip */
        {" 2026-01-02", 0},
        {"+2026-01-02", 0},
        {"1969-12-31", 0},
        {"2026-00-10", 0},
        {"2026-13-10", 0},
        {"2026-01-00", 0},
        {"2026-01-32", 0},
        {"2026-02-29", 0},                                /* not a leap year */
        {"1900-02-29", 0},
        {"2026-04-31", 0},
        {"2026-01-02T24:00:00Z", 0},
        {"2026-01-02T03:60:00Z", 0},
        {"2026-01-02T03:04:61Z", 0},
        {"2026-01-02T3:04:05Z", 0},
        {"2026-01-02T03:04Z", 0},
        {"2026-01-02X03:04:05Z", 0},
        {"2026-01-02T03:04:05.Z", 0},                     /* an empty fraction */
        {"2026-01-02T03:04:05.1234567890Z", 0},           /* ten digits */
        {"2026-01-02T03:04:05+16:00", 0},                 /* beyond PostgreSQL's range */
        {"2026-01-02T03:04:05+05:60", 0},
        {"2026-01-02T03:04:05+0530", 0},
        {"2026-01-02T03:04:05+05:30:00", 0},
        {"2026-01-02T03:04:05ZZ", 0},
        {"2026-01-02T03:04:05 UTC", 0},
        {"2026-01-02'; DROP TABLE users; --", 0},
    };
    /* clang-format on */
    for (size_t i = 0; i < UMS_ARRAY_LEN(cases); i++)
        if (search_timestamp_valid(cases[i].s) != cases[i].want)
            CTEST_FAIL_("search_timestamp_valid(\"%s\") != %d", cases[i].s, cases[i].want);
    ASSERT_EQ(search_timestamp_valid(NULL), 0);
    ASSERT_EQ(search_timestamp_valid("2026-01-02T03:04:05.123456789+05:30-and-more-to-pass-40"), 0);
}

/* A cursor made by search_cursor_make, without its quotes, into out. */
static int make(const struct ums_ctx *c, char *out, size_t n, char kind, int sort, const char *id,
                const char *key)
{
    struct buf b;
    int rc;

    buf_init(&b, 4096);
    rc = search_cursor_make(c, &b, kind, sort, id, key);
    if (rc == UMS_OK && b.len >= 2 && b.len - 2 < n)
        snprintf(out, n, "%.*s", (int)b.len - 2, b.p + 1);
    else
        rc = UMS_ERR;
    buf_free(&b);
    return rc;
}

CTEST(search_cursor_open, round_trip_and_every_refusal)
{
    static const char id[] = "4f9c2b8e-1a2b-4c3d-8e9f-0a1b2c3d4e5f";
    struct ums_config *cfg = conf("[auth]\nrefresh_token_secret = " SECRET "\n");
    struct ums_ctx c = {0};
    char cur[1200], other[1200], got_id[40], got_key[SEARCH_CURSOR_KEY_MAX + 1], big[1100];
    char *dot;

    ASSERT_NOT_NULL(cfg);
    c.cfg = cfg;

    /* The round trip, with a key holding the separator. */
    ASSERT_EQ(make(&c, cur, sizeof(cur), 'u', 2, id, "ann@example.com|x"), UMS_OK);
    ASSERT_EQ(search_cursor_open(&c, cur, 'u', 2, got_id, got_key), UMS_OK);
    ASSERT_STR_EQ(got_id, id);
    ASSERT_STR_EQ(got_key, "ann@example.com|x");
    /* An empty key. */
    ASSERT_EQ(make(&c, other, sizeof(other), 'a', 0, id, ""), UMS_OK);
    ASSERT_EQ(search_cursor_open(&c, other, 'a', 0, got_id, got_key), UMS_OK);
    ASSERT_STR_EQ(got_key, "");

    /* Another kind, another sort. */
    ASSERT_EQ(search_cursor_open(&c, cur, 'a', 2, got_id, got_key), UMS_EINVALID);
    ASSERT_EQ(search_cursor_open(&c, cur, 'u', 3, got_id, got_key), UMS_EINVALID);
    /* No dot, empty parts, not base64url. */
    ASSERT_EQ(search_cursor_open(&c, "", 'u', 2, got_id, got_key), UMS_EINVALID);
    ASSERT_EQ(search_cursor_open(&c, "abc", 'u', 2, got_id, got_key), UMS_EINVALID);
    ASSERT_EQ(search_cursor_open(&c, ".", 'u', 2, got_id, got_key), UMS_EINVALID);
    ASSERT_EQ(search_cursor_open(&c, "!!!.???", 'u', 2, got_id, got_key), UMS_EINVALID);
    dot = strchr(cur, '.');
    ASSERT_NOT_NULL(dot);
    snprintf(other, sizeof(other), "%s", dot); /* the MAC alone */
    ASSERT_EQ(search_cursor_open(&c, other, 'u', 2, got_id, got_key), UMS_EINVALID);
    snprintf(other, sizeof(other), "%.*s.", (int)(dot - cur), cur); /* the payload alone */
    ASSERT_EQ(search_cursor_open(&c, other, 'u', 2, got_id, got_key), UMS_EINVALID);
    /* One flipped character in the payload, then in the MAC. */
    snprintf(other, sizeof(other), "%s", cur);
    other[0] = other[0] == 'A' ? 'B' : 'A';
    ASSERT_EQ(search_cursor_open(&c, other, 'u', 2, got_id, got_key), UMS_EINVALID);
    snprintf(other, sizeof(other), "%s", cur);
    other[strlen(other) - 2] = other[strlen(other) - 2] == 'A' ? 'B' : 'A';
    ASSERT_EQ(search_cursor_open(&c, other, 'u', 2, got_id, got_key), UMS_EINVALID);
    /* A MAC cut short, or with a byte more. */
    snprintf(other, sizeof(other), "%.*s", (int)strlen(cur) - 3, cur);
    ASSERT_EQ(search_cursor_open(&c, other, 'u', 2, got_id, got_key), UMS_EINVALID);
    snprintf(other, sizeof(other), "%sAAAA", cur);
    ASSERT_EQ(search_cursor_open(&c, other, 'u', 2, got_id, got_key), UMS_EINVALID);
    /* Another secret: the same cursor is a forgery. */
    {
        struct ums_config *cfg2 =
            conf("[auth]\nrefresh_token_secret = another-secret-of-at-least-32-bytes!!\n");
        struct ums_ctx c2 = {0};
        ASSERT_NOT_NULL(cfg2);
        c2.cfg = cfg2;
        ASSERT_EQ(search_cursor_open(&c2, cur, 'u', 2, got_id, got_key), UMS_EINVALID);
        config_free(cfg2);
    }
    /* Signed, but not a UUID where the id goes. */
    ASSERT_EQ(make(&c, other, sizeof(other), 'u', 2, "not-a-uuid-but-36-characters-long-xx", "k"),
              UMS_OK);
    ASSERT_EQ(search_cursor_open(&c, other, 'u', 2, got_id, got_key), UMS_EINVALID);
    /* Signed, with a key longer than a cursor may carry. */
    memset(big, 'k', SEARCH_CURSOR_KEY_MAX + 1);
    big[SEARCH_CURSOR_KEY_MAX + 1] = '\0';
    ASSERT_EQ(make(&c, other, sizeof(other), 'u', 2, id, big), UMS_OK);
    ASSERT_EQ(search_cursor_open(&c, other, 'u', 2, got_id, got_key), UMS_EINVALID);
    /* Longer than a cursor may be. */
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    big[600] = '.';
    ASSERT_EQ(search_cursor_open(&c, big, 'u', 2, got_id, got_key), UMS_EINVALID);
    config_free(cfg);
}
