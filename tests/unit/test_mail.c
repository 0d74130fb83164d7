/* test_mail.c - RFC 5322 rendering of the notifier's emails (subject
 * encoding, long lines) and the shipped templates. */
#define CTEST_MAIN
#include "../ctest.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "../../util/buf.h"
#include "../../util/ums.h"
#include "../../util/utf8.h"
#include "../../notifier/mail.h"
#include "../../core/template.h"

static int render_as(struct buf *out, const char *from, const char *to_name, const char *subject,
                     const char *text)
{
    struct mail m = {.from = from,
                     .to = "a@example.com",
                     .to_name = to_name,
                     .subject = subject,
                     .text = text,
                     .html = "<p>h</p>",
                     .event_type = "admin.message",
                     .event_id = 42};
    buf_init(out, 1 << 20);
    return tx_file_render(out, &m);
}

static int render(struct buf *out, const char *subject, const char *text)
{
    return render_as(out, "ums <no-reply@example.com>", NULL, subject, text);
}

/* The header block's lines: none longer than 78 characters. */
static size_t longest_header_line(const char *msg)
{
    size_t longest = 0, line = 0;
    const char *end = strstr(msg, "\r\n\r\n");
    for (const char *p = msg; p < end; p++) {
        line = *p == '\r' || *p == '\n' ? 0 : line + 1;
        longest = line > longest ? line : longest;
    }
    return longest;
}

/* The subject decoded back from its encoded words; -1 when a word is
 * longer than 75 characters or cuts a character. */
static int decode_subject(const char *msg, char *out, size_t n)
{
    const char *p = strstr(msg, "Subject:"), *end = strstr(p, "\r\nDate:");
    size_t len = 0;
    while ((p = strstr(p, "=?UTF-8?B?")) != NULL && p < end) {
        const char *q = strstr(p + 10, "?=");
        unsigned char dec[128];
        int got = EVP_DecodeBlock(dec, (const unsigned char *)p + 10, (int)(q - p - 10));
        if (got <= 0 || q - p + 2 > 75)
            return -1;
        /* EVP_DecodeBlock counts the padding's zero bytes. */
        while (got > 0 && (q[-1] == '=' ? (q--, 1) : 0))
            got--;
        if (!utf8_valid((const char *)dec, (size_t)got) || len + (size_t)got >= n)
            return -1;
        memcpy(out + len, dec, (size_t)got);
        len += (size_t)got;
        p = strstr(p + 10, "?=") + 2;
    }
    out[len] = '\0';
    return 0;
}

CTEST(subject, short_ascii_is_kept)
{
    struct buf b;
    ASSERT_EQ(render(&b, "Welcome", "t"), UMS_OK);
    ASSERT_TRUE(strstr(b.p, "\r\nSubject: Welcome\r\n") != NULL);
    buf_free(&b);
}

CTEST(subject, long_utf8_is_split_into_encoded_words_between_characters)
{
    struct buf b;
    char subject[400] = "", back[512];
    size_t len = 0;
    for (int i = 0; i < 100; i++) /* é and € */
        len += (size_t)snprintf(subject + len, sizeof(subject) - len, "%s",
                                i % 3 ? "\xc3\xa9" : "\xe2\x82\xac");
    ASSERT_EQ(render(&b, subject, "t"), UMS_OK);
    ASSERT_TRUE(longest_header_line(b.p) <= 78);
    ASSERT_EQ(decode_subject(b.p, back, sizeof(back)), 0);
    ASSERT_STR_EQ(back, subject);
    buf_free(&b);
}

CTEST(subject, line_breaks_never_make_a_header)
{
    struct buf b;
    char back[256];
    ASSERT_EQ(render(&b, "Hi\r\nBcc: victim@example.com", "t"), UMS_OK);
    ASSERT_TRUE(strstr(b.p, "\r\nBcc:") == NULL);
    ASSERT_EQ(decode_subject(b.p, back, sizeof(back)), 0);
    ASSERT_STR_EQ(back, "Hi\r\nBcc: victim@example.com");
    buf_free(&b);
}

CTEST(addresses, names_quoted_or_encoded)
{
    struct buf b;
    ASSERT_EQ(render_as(&b, "no-reply@example.com", "", "s", "t"), UMS_OK);
    ASSERT_TRUE(strstr(b.p, "From: <no-reply@example.com>\r\nTo: <a@example.com>\r\n") != NULL);
    buf_free(&b);
    ASSERT_EQ(render_as(&b, "Acme \"Team\" <no-reply@example.com>", "Ann \\ <Bob>", "s", "t"),
              UMS_OK);
    ASSERT_TRUE(strstr(b.p, "From: \"Acme \\\"Team\\\"\" <no-reply@example.com>\r\n") != NULL);
    ASSERT_TRUE(strstr(b.p, "To: \"Ann \\\\ <Bob>\" <a@example.com>\r\n") != NULL);
    buf_free(&b);
    /* "Équipe" and "Zoë": encoded words (base64 of the UTF-8). */
    ASSERT_EQ(render_as(&b, "\xc3\x89quipe <no-reply@example.com>", "Zo\xc3\xab", "s", "t"),
              UMS_OK);
    ASSERT_TRUE(strstr(b.p, "From: =?UTF-8?B?w4lxdWlwZQ==?= <no-reply@example.com>\r\n") != NULL);
    ASSERT_TRUE(strstr(b.p, "To: =?UTF-8?B?Wm/Dqw==?= <a@example.com>\r\n") != NULL);
    buf_free(&b);
    /* A line break in an address is refused, not rendered. */
    buf_init(&b, 4096);
    struct mail m = {.from = "x <a@b>",
                     .to = "a@example.com\r\nBcc: v@example.com",
                     .subject = "s",
                     .text = "t",
                     .html = "h",
                     .event_type = "e"};
    ASSERT_EQ(tx_file_render(&b, &m), UMS_EINVALID);
    buf_free(&b);
}

CTEST(body, a_line_over_998_bytes_is_quoted_printable)
{
    struct buf b;
    char *text = malloc(5000), *part, *end;
    size_t line = 0, longest = 0;
    struct buf dec;

    ASSERT_NOT_NULL(text);
    memset(text, 'y', 4000);
    memcpy(text + 4000, " =\nnext line \xc3\xa9\n", sizeof(" =\nnext line \xc3\xa9\n"));
    ASSERT_EQ(render(&b, "s", text), UMS_OK);
    part = strstr(b.p, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
                       "quoted-printable\r\n\r\n");
    ASSERT_NOT_NULL(part);
    for (const char *p = b.p; *p; p++) {
        line = *p == '\r' || *p == '\n' ? 0 : line + 1;
        longest = line > longest ? line : longest;
    }
    ASSERT_TRUE(longest <= 76);
    /* Decoded, it is the text again (with CRLF line ends). */
    part = strstr(part, "\r\n\r\n") + 4;
    end = strstr(part, "\r\n--=_ums_");
    buf_init(&dec, 1 << 16);
    for (char *p = part; p < end; p++) {
        if (p[0] == '=' && p[1] == '\r' && p[2] == '\n') {
            p += 2;
        } else if (p[0] == '=') {
            char hex[3] = {p[1], p[2], 0};
            buf_addc(&dec, (char)strtol(hex, NULL, 16));
            p += 2;
        } else if (p[0] != '\r') {
            buf_addc(&dec, *p);
        }
    }
    ASSERT_STR_EQ(dec.p, text);
    /* The short HTML part stays 8bit. */
    ASSERT_TRUE(strstr(b.p, "text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit") != NULL);
    buf_free(&dec);
    buf_free(&b);
    free(text);
}

CTEST(templates, the_shipped_ones_load_and_escape_html)
{
    struct templates t;
    char err[512] = "", dir[1024];
    struct buf out;
    const struct tvar vars[] = {{"name", "<Ann & Bob>"},
                                {"message", "a \"quote\""},
                                {"title", "T"},
                                {"email", "e@x"},
                                {"site_url", "http://s"}};
    const char *srcdir = getenv("srcdir");

    snprintf(dir, sizeof(dir), "%s/templates", srcdir != NULL ? srcdir : "..");
    ASSERT_EQ(template_load(&t, dir, err, sizeof(err)), UMS_OK);
    buf_init(&out, 1 << 16);
    ASSERT_EQ(template_render(&out, t.t[T_ADMIN_MESSAGE].html, vars, 5, 1), UMS_OK);
    ASSERT_TRUE(strstr(out.p, "&lt;Ann &amp; Bob&gt;") != NULL);
    ASSERT_TRUE(strstr(out.p, "a &quot;quote&quot;") != NULL);
    ASSERT_TRUE(strstr(out.p, "<Ann") == NULL);
    buf_free(&out);
    template_free(&t);
}
