/* buf.c - growable byte buffer with a ceiling. */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ums.h"
#include "utf8.h"

void buf_init(struct buf *b, size_t max)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

/* Makes room for n more bytes plus a NUL. */
static int grow(struct buf *b, size_t n)
{
    size_t want, cap;
    char *p;

    if (n > b->max || b->len > b->max - n)
        return UMS_ETOOBIG;
    want = b->len + n + 1;
    if (want <= b->cap)
        return UMS_OK;
    cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap *= 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    p = realloc(b->p, cap);
    if (p == NULL)
        return UMS_ERR;
    b->p = p;
    b->cap = cap;
    return UMS_OK;
}

int buf_add(struct buf *b, const void *p, size_t n)
{
    int rc = grow(b, n);

    if (rc != UMS_OK)
        return rc;
    if (n > 0)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
    return UMS_OK;
}

int buf_adds(struct buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

int buf_addc(struct buf *b, char c)
{
    return buf_add(b, &c, 1);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    int n, rc;

    va_copy(cp, ap);
    n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return UMS_ERR;
    rc = grow(b, (size_t)n);
    if (rc != UMS_OK)
        return rc;
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return UMS_OK;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int buf_add_json_strn(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t start = b->len, i = 0, k;
    char esc[6] = {'\\', 'u', '0', '0', 0, 0};
    int rc = buf_addc(b, '"');

    while (rc == UMS_OK && i < n) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            char two[2] = {'\\', (char)c};
            rc = buf_add(b, two, 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            rc = buf_add(b, esc, 6);
            i++;
        } else if ((k = utf8_seq_len(p + i, n - i)) == 0) {
            rc = buf_adds(b, "\\ufffd");
            i++;
        } else {
            rc = buf_add(b, p + i, k);
            i += k;
        }
    }
    if (rc == UMS_OK)
        rc = buf_addc(b, '"');
    if (rc != UMS_OK && b->p != NULL) {
        b->len = start;
        b->p[start] = '\0';
    }
    return rc;
}

int buf_add_json_str(struct buf *b, const char *s)
{
    return buf_add_json_strn(b, s, strlen(s));
}

int buf_add_urlencoded(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p && rc == 0; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            rc = buf_addc(b, (char)*p);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rc = buf_add(b, e, 3);
        }
    }
    return rc;
}

void buf_reset(struct buf *b, size_t keep)
{
    if (b->cap > keep) {
        free(b->p);
        b->p = NULL;
        b->cap = 0;
    }
    b->len = 0;
    if (b->p != NULL)
        b->p[0] = '\0';
}

void buf_free(struct buf *b)
{
    free(b->p);
    buf_init(b, b->max);
}

void buf_free_secret(struct buf *b)
{
    if (b->p != NULL)
        explicit_bzero(b->p, b->cap);
    buf_free(b);
}
