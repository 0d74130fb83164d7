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

#include "../core/crypto.h"
#include "../core/log.h"
#include "../core/ums.h"

static int is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80 || *s == '\r' || *s == '\n')
            return 0;
    return 1;
}

/* Subject: as is when ASCII, else =?UTF-8?B?...?= (CR/LF never pass). */
static int add_subject(struct buf *out, const char *s)
{
    unsigned char enc[1024];
    size_t n = strlen(s);

    if (is_ascii(s))
        return buf_printf(out, "Subject: %s\r\n", s);
    if (n > 700)
        n = 700;
    EVP_EncodeBlock(enc, (const unsigned char *)s, (int)n);
    return buf_printf(out, "Subject: =?UTF-8?B?%s?=\r\n", enc);
}

/* Bodies with CRLF line ends, as RFC 5322 wants. */
static int add_body(struct buf *out, const char *s)
{
    int rc = 0;

    for (; *s && rc == 0; s++)
        rc = *s == '\n' ? buf_adds(out, "\r\n") : *s == '\r' ? 0 : buf_addc(out, *s);
    return rc;
}

int mail_render(struct buf *out, const struct mail *m)
{
    unsigned char rnd[12];
    char boundary[40], mid[40], date[64], host[128];
    time_t now = time(NULL);
    struct tm tm;

    if (strpbrk(m->to, "\r\n<>,") != NULL || strpbrk(m->from, "\r\n") != NULL)
        return UMS_EINVALID;
    random_bytes(rnd, sizeof(rnd));
    hex_encode(mid, rnd, sizeof(rnd));
    snprintf(boundary, sizeof(boundary), "=_ums_%.16s", mid);
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    buf_printf(out, "From: %s\r\nTo: <%s>\r\n", m->from, m->to);
    add_subject(out, m->subject);
    buf_printf(out, "Date: %s\r\nMessage-ID: <%lld.%s@%s>\r\nMIME-Version: 1.0\r\n", date,
               m->event_id, mid, host);
    buf_printf(out, "X-Ums-Event: %s\r\n", m->event_type);
    buf_printf(out, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n", boundary);
    buf_printf(out, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: 8bit\r\n\r\n", boundary);
    add_body(out, m->text);
    buf_printf(out, "\r\n--%s\r\nContent-Type: text/html; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: 8bit\r\n\r\n", boundary);
    add_body(out, m->html);
    return buf_printf(out, "\r\n--%s--\r\n", boundary);
}

int tx_file_send(const char *maildir, const struct mail *m)
{
    struct buf msg;
    char name[256], tmp[4096], dst[4096], host[64];
    struct timespec ts;
    int fd = -1, rc = UMS_ERR;
    size_t off = 0;

    buf_init(&msg, 1 << 20);
    if (mail_render(&msg, m) != UMS_OK)
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

void mail_split_from(const char *from, struct json_object *o)
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
