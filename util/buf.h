/* buf.h - growable byte buffer with a ceiling (curl's dynbuf). */
#ifndef UMS_BUF_H
#define UMS_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *p; /* always NUL-terminated once anything was added */
    size_t len;
    size_t cap;
    size_t max; /* the buffer never holds more than max bytes */
};

/* Starts an empty buffer that may grow to `max` bytes. Allocates nothing yet. */
void buf_init(struct buf *b, size_t max);

/* Each adder returns 0, or UMS_ETOOBIG past the ceiling / UMS_ERR out of memory;
 * on failure the buffer keeps what it had. */
int buf_add(struct buf *b, const void *p, size_t n);
int buf_adds(struct buf *b, const char *s);
int buf_addc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Adds s[0..n) as a quoted JSON string: escapes quotes, backslashes and control
 * characters, and replaces invalid UTF-8 with U+FFFD. */
int buf_add_json_strn(struct buf *b, const char *s, size_t n);
int buf_add_json_str(struct buf *b, const char *s);

/* Adds s percent-encoded: RFC 3986 unreserved characters stay, the rest
 * becomes %XX (for query values and fragments). */
int buf_add_urlencoded(struct buf *b, const char *s);

/* Empties the buffer; keeps its memory unless it grew past `keep` bytes. */
void buf_reset(struct buf *b, size_t keep);
void buf_free(struct buf *b);

/* buf_free after zeroing what it held (a secret). */
void buf_free_secret(struct buf *b);

#endif
