/* utf8.h - UTF-8 validation (RFC 3629: no overlongs, no surrogates, max U+10FFFF). */
#ifndef UMS_UTF8_H
#define UMS_UTF8_H

#include <stddef.h>

/* Length of the valid sequence starting at s (1..4), or 0 if it is invalid or cut. */
size_t utf8_seq_len(const unsigned char *s, size_t n);

/* 1 when all n bytes are valid UTF-8 and contain no NUL, else 0. */
int utf8_valid(const char *s, size_t n);

/* 1 when s[0..n) is 1 to max_chars characters of valid UTF-8 without
 * control characters (with lines, newlines and tabs are allowed). */
int utf8_text_valid(const char *s, size_t n, size_t max_chars, int lines);

/*
 * Copies the NUL-terminated src into dst (size bytes, size > 0) as valid
 * UTF-8: every invalid byte becomes U+FFFD, every control character but
 * newline and tab a space, and when it does not fit, src is cut between two
 * characters, never inside one. dst is always NUL-terminated. Returns the
 * bytes written (not counting the NUL).
 */
size_t utf8_clean(char *dst, size_t size, const char *src);

/* Bytes of the first max_chars characters of the (valid UTF-8) string s. */
size_t utf8_prefix(const char *s, size_t max_chars);

#endif
