/* utf8.c - strict UTF-8 validation. */
#include "utf8.h"

#include <string.h>

size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];

    if (n == 0)
        return 0;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned char lo = c == 0xE0 ? 0xA0 : 0x80; /* no overlongs */
        unsigned char hi = c == 0xED ? 0x9F : 0xBF; /* no surrogates */
        if (n < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80)
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
        unsigned char hi = c == 0xF4 ? 0x8F : 0xBF; /* max U+10FFFF */
        if (n < 4 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

int utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, k;

    while (i < n) {
        if (p[i] == 0)
            return 0;
        k = utf8_seq_len(p + i, n - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

int utf8_text_valid(const char *s, size_t n, size_t max_chars, int lines)
{
    size_t chars = 0;

    if (s == NULL || n == 0 || !utf8_valid(s, n))
        return 0;
    for (size_t i = 0; i < n; i += utf8_seq_len((const unsigned char *)s + i, n - i)) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch < 0x20 && !(lines && (ch == '\n' || ch == '\t'))) || ch == 0x7f)
            return 0;
        if (++chars > max_chars)
            return 0;
    }
    return 1;
}

size_t utf8_clean(char *dst, size_t size, const char *src)
{
    static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
    const unsigned char *p = (const unsigned char *)src;
    size_t w = 0, n = src != NULL ? strlen(src) : 0;

    if (size == 0)
        return 0;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq_len(p + i, n - i);
        const char *piece = (const char *)p + i;
        size_t len = k;
        char space = ' ';
        if (k == 0) {
            piece = replacement;
            len = 3;
            k = 1;
        } else if (k == 1 && ((p[i] < 0x20 && p[i] != '\n' && p[i] != '\t') || p[i] == 0x7f)) {
            piece = &space;
        }
        if (w + len + 1 > size)
            break;
        memcpy(dst + w, piece, len);
        w += len;
        i += k;
    }
    dst[w] = '\0';
    return w;
}

size_t utf8_prefix(const char *s, size_t max_chars)
{
    size_t chars = 0, i = 0;

    for (; s[i] != '\0' && chars < max_chars; i++)
        chars += ((unsigned char)s[i] & 0xC0) != 0x80;
    while (s[i] != '\0' && ((unsigned char)s[i] & 0xC0) == 0x80)
        i++;
    return i;
}
