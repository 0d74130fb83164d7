/* fuzz_mail.c - an email from outside text: the template renderer
 * (core/template.c) fills a subject, a text and an HTML template with
 * values a user controls (their name, their address, a link), and the
 * message renderer (notifier/tx_file.c) makes RFC 5322 of it: RFC 2047
 * encoded words for the subject and the display names, quoted-printable
 * for long lines. Input: subject NUL text NUL html NUL name NUL email NUL
 * from NUL event id NUL templates' extra text.
 *
 * What must hold: HTML values are escaped (an HTML template without '<'
 * renders without '<'); the header is CRLF lines of the eight headers we
 * write, each continued line folded with a space, so no value can add a
 * header (Bcc:) or end the header early; no line passes 998 bytes. */
#include "../../core/template.h"
#include "../../notifier/mail.h"
#include "../../util/buf.h"
#include "../../util/ums.h"
#include "fuzz.h"

static int known_header(const char *line, size_t n)
{
    static const char *const names[] = {
        "From:",       "To:",           "Subject:",     "Date:",
        "Message-ID:", "MIME-Version:", "X-Ums-Event:", "Content-Type:"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (n >= strlen(names[i]) && strncmp(line, names[i], strlen(names[i])) == 0)
            return 1;
    return 0;
}

static void check_message(const char *msg)
{
    const char *end = strstr(msg, "\r\n\r\n"), *line = msg;
    size_t len = 0;

    FUZZ_ASSERT(end != NULL);
    for (const char *p = msg; *p; p++) { /* every line ends in CRLF, none too long */
        if (*p == '\n')
            FUZZ_ASSERT(p > msg && p[-1] == '\r');
        len = *p == '\n' ? 0 : len + 1;
        FUZZ_ASSERT(len <= 1000);
    }
    while (line < end + 2) {
        const char *eol = strstr(line, "\r\n");
        FUZZ_ASSERT(eol != NULL);
        FUZZ_ASSERT(known_header(line, (size_t)(eol - line)) || line[0] == ' ');
        line = eol + 2;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in;
    struct buf subj, text, html, msg;
    struct tvar vars[3];
    struct mail m;
    int ok;

    fuzz_quiet();
    if (fuzz_split(&in, data, size, 8) != 0)
        return 0;
    if (in.len[4] > 255 || in.len[5] > 512) { /* what callers guarantee: EMAIL_MAX, the config */
        fuzz_free(&in);
        return 0;
    }
    vars[0] = (struct tvar){"name", in.f[3]};
    vars[1] = (struct tvar){"email", in.f[4]};
    vars[2] = (struct tvar){"link", in.f[7]};
    buf_init(&subj, 4096);
    buf_init(&text, 1 << 20);
    buf_init(&html, 1 << 20);
    buf_init(&msg, 4 << 20);
    ok = template_render(&subj, in.f[0], vars, 3, 0) == UMS_OK &&
         template_render(&text, in.f[1], vars, 3, 0) == UMS_OK &&
         template_render(&html, in.f[2], vars, 3, 1) == UMS_OK;
    if (ok && strchr(in.f[2], '<') == NULL && html.p != NULL)
        FUZZ_ASSERT(strchr(html.p, '<') == NULL);
    if (ok) {
        memset(&m, 0, sizeof(m));
        m.from = in.f[5];
        m.to = in.f[4];
        m.to_name = in.f[3][0] != '\0' ? in.f[3] : NULL;
        m.subject = subj.p != NULL ? subj.p : "";
        m.text = text.p != NULL ? text.p : "";
        m.html = html.p != NULL ? html.p : "";
        m.event_type = "fuzz";
        m.event_id = (long long)strtoll(in.f[6], NULL, 10);
        if (tx_file_render(&msg, &m) == UMS_OK) {
            FUZZ_ASSERT(msg.p != NULL);
            check_message(msg.p);
        }
    }
    buf_free(&subj);
    buf_free(&text);
    buf_free(&html);
    buf_free(&msg);
    fuzz_free(&in);
    return 0;
}
