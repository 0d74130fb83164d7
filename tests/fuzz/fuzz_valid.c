/* fuzz_valid.c - the validators the routes apply to client strings, and
 * what they promise: emails (normalised once, a normalised address
 * normalises to itself), UUIDs, UTF-8 (utf8_clean always yields valid
 * UTF-8; utf8_prefix cuts between characters), display names, statuses,
 * push tokens and platforms, message titles and texts, metadata names,
 * timestamps, time zones (never a path out of the zone database),
 * redirect_to URLs, and the avatar image sniffing. Input: one field for
 * the string validators, the whole input for the image. */
#include <stdio.h>
#include <strings.h>

#include "../../core/config.h"
#include "../../core/metadata.h"
#include "../../core/notify.h"
#include "../../core/profile.h"
#include "../../core/redirect.h"
#include "../../core/search.h"
#include "../../core/users.h"
#include "../../util/ums.h"
#include "../../util/utf8.h"
#include "../../util/valid.h"
#include "fuzz.h"

static struct ums_config *cfg;

static void init(void)
{
    static const char conf[] = "[auth]\nsite_url = https://app.example\n"
                               "uri_allow_list = https://app.example/*,myapp://callback\n";
    char err[256];

    fuzz_quiet();
    if (config_parse(&cfg, conf, sizeof(conf) - 1, "fuzz", err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_valid: %s\n", err);
        abort();
    }
}

static void email(const char *s, size_t n)
{
    char out[EMAIL_MAX + 1], again[EMAIL_MAX + 1];

    if (valid_email_normalize(out, s, n) != UMS_OK)
        return;
    FUZZ_ASSERT(strlen(out) <= EMAIL_MAX && utf8_valid(out, strlen(out)));
    FUZZ_ASSERT(strchr(out, '@') != NULL && strpbrk(out, " \t\r\n<>\"") == NULL);
    FUZZ_ASSERT(valid_email_normalize(again, out, strlen(out)) == UMS_OK);
    FUZZ_ASSERT(strcmp(out, again) == 0);
}

static void text(const char *s, size_t n)
{
    char clean[64];
    size_t k, p;

    k = utf8_clean(clean, sizeof(clean), s);
    FUZZ_ASSERT(k < sizeof(clean) && strlen(clean) == k && utf8_valid(clean, k));
    if (utf8_valid(s, n)) {
        p = utf8_prefix(s, 7);
        FUZZ_ASSERT(p <= n && (p == n || ((unsigned char)s[p] & 0xc0) != 0x80));
    }
    (void)utf8_text_valid(s, n, 100, 0);
    (void)utf8_text_valid(s, n, 100, 1);
}

static void tz_check(const char *s)
{
    if (profile_timezone_valid(s))
        FUZZ_ASSERT(strstr(s, "..") == NULL && s[0] != '/' && strchr(s, '.') == NULL);
}

/* No space, control byte or backslash: what a redirect may not carry. */
static int no_controls(const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++)
        if (*c <= ' ' || *c == 0x7f || *c == '\\')
            return 0;
    return 1;
}

static void redirect(const char *s)
{
    if (!redirect_allowed(cfg, s))
        return;
    FUZZ_ASSERT(strlen(s) <= 2048 && no_controls(s));
    /* scheme and host compare without case (RFC 3986 6.2.2.1) */
    FUZZ_ASSERT(strncasecmp(s, "https://app.example", 19) == 0 ||
                strcmp(s, "myapp://callback") == 0);
    if (strncasecmp(s, "https://app.example", 19) == 0) /* not app.example.evil or @ tricks */
        FUZZ_ASSERT(s[19] == '\0' || s[19] == '/' || s[19] == '?' || s[19] == '#' || s[19] == ':');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in;
    const char *ext = NULL, *type;
    const char *s;
    size_t n;

    if (cfg == NULL)
        init();
    type = profile_image_type(data, size, &ext);
    FUZZ_ASSERT((type == NULL) == (ext == NULL));
    if (fuzz_split(&in, data, size, 1) != 0)
        return 0;
    s = in.f[0];
    n = in.len[0]; /* may hold NULs: the validators taking a length see them */
    email(s, n);
    (void)valid_uuid(s);
    text(s, n);
    (void)users_name_valid(s, n);
    (void)users_status_valid(s, n);
    (void)notify_token_valid(s, n);
    (void)notify_platform_valid(s, n);
    (void)notify_title_valid(s, n);
    (void)notify_message_valid(s, n);
    (void)metadata_name_valid(s, n);
    (void)search_timestamp_valid(s);
    (void)search_sort_parse(s);
    tz_check(s);
    redirect(s);
    fuzz_free(&in);
    return 0;
}
