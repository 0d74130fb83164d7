/* tx_file.c - message rendering and the Maildir transport. */
#include "mail.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include <openssl/evp.h>

#include "../util/crypto.h"
#include "../util/log.h"
#include "../util/ums.h"

static int is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80 || *s == '\r' || *s == '\n')
            return 0;
    return 1;
}

/* RFC 2047 encoded words of at most 39 bytes of UTF-8 each (64 characters
 * encoded, so a line stays within 78), cut between characters, on folded
 * lines. At most 700 bytes. */
static int add_encoded(struct buf *out, const char *s)
{
    unsigned char enc[64];
    size_t n = strlen(s), off = 0;
    int rc = 0;

    if (n > 700)
        n = 700;
    while (rc == 0 && off < n) {
        size_t take = n - off > 39 ? 39 : n - off;
        /* Back off to a character's first byte. */
        while (take > 0 && off + take < n && ((unsigned char)s[off + take] & 0xc0) == 0x80)
            take--;
        if (take == 0)
            break;
        EVP_EncodeBlock(enc, (const unsigned char *)s + off, (int)take);
        rc = buf_printf(out, "%s=?UTF-8?B?%s?=", off == 0 ? " " : "\r\n ", enc);
        off += take;
    }
    return rc;
}

/* Subject: as is when short ASCII, else encoded words. CR/LF never pass. */
static int add_subject(struct buf *out, const char *s)
{
    int rc;

    if (is_ascii(s) && strlen(s) <= 70)
        return buf_printf(out, "Subject: %s\r\n", s);
    rc = buf_adds(out, "Subject:");
    if (rc == 0)
        rc = add_encoded(out, s);
    return rc == 0 ? buf_adds(out, "\r\n") : rc;
}

/* From: or To: with a display name: a quoted string when it is short
 * ASCII, encoded words otherwise; no name gives the bare <address>. */
static int add_address(struct buf *out, const char *field, const char *name, size_t nlen,
                       const char *addr, size_t alen)
{
    char nm[512];
    int rc;

    if (nlen >= sizeof(nm))
        nlen = sizeof(nm) - 1;
    memcpy(nm, name, nlen);
    nm[nlen] = '\0';
    rc = buf_printf(out, "%s:", field);
    if (rc == 0 && nlen > 0 && is_ascii(nm) && nlen <= 60) {
        rc = buf_adds(out, " \"");
        for (size_t i = 0; rc == 0 && i < nlen; i++)
            rc = nm[i] == '"' || nm[i] == '\\' ? buf_printf(out, "\\%c", nm[i])
                                               : buf_addc(out, nm[i]);
        if (rc == 0)
            rc = buf_adds(out, "\"");
    } else if (rc == 0 && nlen > 0) {
        rc = add_encoded(out, nm);
    }
    return rc == 0 ? buf_printf(out, " <%.*s>\r\n", (int)alen, addr) : rc;
}

/* Bodies with CRLF line ends, as RFC 5322 wants. */
static int add_body(struct buf *out, const char *s)
{
    int rc = 0;

    for (; *s && rc == 0; s++)
        rc = *s == '\n' ? buf_adds(out, "\r\n") : *s == '\r' ? 0 : buf_addc(out, *s);
    return rc;
}

/* Quoted-printable (RFC 2045) with CRLF line ends and soft breaks before
 * column 76. */
static int add_qp(struct buf *out, const char *s)
{
    int rc = 0, col = 0;

    for (; *s && rc == 0; s++) {
        unsigned char c = (unsigned char)*s;
        char tok[4];
        if (c == '\r')
            continue;
        if (c == '\n') {
            rc = buf_adds(out, "\r\n");
            col = 0;
            continue;
        }
        /* Spaces at a line's end, '=' and everything but printable ASCII are encoded. */
        if ((c >= 33 && c <= 126 && c != '=') ||
            ((c == ' ' || c == '\t') && s[1] != '\n' && s[1] != '\r' && s[1] != '\0'))
            snprintf(tok, sizeof(tok), "%c", c);
        else
            snprintf(tok, sizeof(tok), "=%02X", c);
        if (col + (int)strlen(tok) > 75) {
            rc = buf_adds(out, "=\r\n");
            col = 0;
        }
        if (rc == 0)
            rc = buf_adds(out, tok);
        col += (int)strlen(tok);
    }
    return rc;
}

/* One part of the message: 8bit, or quoted-printable when a line is longer
 * than RFC 5322's 998 bytes. */
static int add_part(struct buf *out, const char *boundary, const char *type, const char *body)
{
    size_t line = 0, longest = 0;

    for (const char *p = body; *p; p++) {
        line = *p == '\n' ? 0 : line + 1;
        if (line > longest)
            longest = line;
    }
    buf_printf(out,
               "--%s\r\nContent-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: %s"
               "\r\n\r\n",
               boundary, type, longest > 998 ? "quoted-printable" : "8bit");
    if (longest > 998)
        add_qp(out, body);
    else
        add_body(out, body);
    return buf_adds(out, "\r\n");
}

int tx_file_render(struct buf *out, const struct mail *m)
{
    unsigned char rnd[12];
    char boundary[40], mid[40], date[64], host[128];
    time_t now = time(NULL);
    struct tm tm;

    const char *lt = strchr(m->from, '<'), *gt = lt != NULL ? strchr(lt, '>') : NULL;
    size_t fnlen = 0;

    if (strpbrk(m->to, "\r\n<>,\"") != NULL || strpbrk(m->from, "\r\n") != NULL)
        return UMS_EINVALID;
    if (lt != NULL && gt != NULL) { /* "Name <address>" */
        fnlen = (size_t)(lt - m->from);
        while (fnlen > 0 && m->from[fnlen - 1] == ' ')
            fnlen--;
    }
    crypto_random_bytes(rnd, sizeof(rnd));
    crypto_hex_encode(mid, rnd, sizeof(rnd));
    snprintf(boundary, sizeof(boundary), "=_ums_%.16s", mid);
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    if (lt != NULL && gt != NULL)
        add_address(out, "From", m->from, fnlen, lt + 1, (size_t)(gt - lt - 1));
    else
        add_address(out, "From", "", 0, m->from, strlen(m->from));
    add_address(out, "To", m->to_name != NULL ? m->to_name : "",
                m->to_name != NULL ? strlen(m->to_name) : 0, m->to, strlen(m->to));
    add_subject(out, m->subject);
    buf_printf(out, "Date: %s\r\nMessage-ID: <%lld.%s@%s>\r\nMIME-Version: 1.0\r\n", date,
               m->event_id, mid, host);
    buf_printf(out, "X-Ums-Event: %s\r\n", m->event_type);
    buf_printf(out, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n", boundary);
    add_part(out, boundary, "text/plain", m->text);
    add_part(out, boundary, "text/html", m->html);
    return buf_printf(out, "--%s--\r\n", boundary);
}

int tx_file_send(const char *maildir, const struct mail *m)
{
    struct buf msg;
    char name[256], tmp[4096], dst[4096], host[64];
    struct timespec ts;
    int fd = -1, rc = UMS_ERR;
    size_t off = 0;

    buf_init(&msg, 1 << 20);
    if (tx_file_render(&msg, m) != UMS_OK)
        goto out;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    for (char *p = host; *p; p++)
        if (*p == '/' || *p == ':')
            *p = '_';
    snprintf(name, sizeof(name), "%lld.M%ldP%ldE%lld.%s", (long long)ts.tv_sec, ts.tv_nsec / 1000,
             (long)getpid(), m->event_id, host);
    snprintf(tmp, sizeof(tmp), "%s/tmp", maildir);
    mkdir(maildir, 0750);
    mkdir(tmp, 0750);
    snprintf(dst, sizeof(dst), "%s/new", maildir);
    mkdir(dst, 0750);
    snprintf(dst, sizeof(dst), "%s/cur", maildir);
    mkdir(dst, 0750);
    snprintf(tmp, sizeof(tmp), "%s/tmp/%s", maildir, name);
    snprintf(dst, sizeof(dst), "%s/new/%s", maildir, name);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) {
        log_error("maildir %s: %s", tmp, strerror(errno));
        goto out;
    }
    while (off < msg.len) {
        ssize_t w = write(fd, msg.p + off, msg.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            goto out;
        off += (size_t)w;
    }
    /* Durable before it becomes visible. */
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        goto out;
    }
    fd = -1;
    if (rename(tmp, dst) != 0) {
        log_error("maildir rename %s: %s", dst, strerror(errno));
        goto out;
    }
    rc = UMS_OK;
out:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    buf_free(&msg);
    return rc;
}

void tx_file_split_from(const char *from, struct json_object *o)
{
    const char *lt = strchr(from, '<'), *gt = lt != NULL ? strchr(lt, '>') : NULL;

    if (lt == NULL || gt == NULL) {
        json_object_object_add(o, "email", json_object_new_string(from));
        return;
    }
    json_object_object_add(o, "email", json_object_new_string_len(lt + 1, (int)(gt - lt - 1)));
    while (lt > from && lt[-1] == ' ')
        lt--;
    if (lt > from)
        json_object_object_add(o, "name", json_object_new_string_len(from, (int)(lt - from)));
}
