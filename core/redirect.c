/* redirect.c - the open-redirect guard (redirect.h). */
#include "redirect.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

/* Splits http(s)://host[:port] off a URL: scheme length, host and port. */
static int origin_of(const char *url, char *scheme, size_t sl, char *host, size_t hl, int *port)
{
    const char *p, *h, *end;
    size_t n;

    if (strncasecmp(url, "https://", 8) == 0) {
        snprintf(scheme, sl, "https");
        h = url + 8;
        *port = 443;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        snprintf(scheme, sl, "http");
        h = url + 7;
        *port = 80;
    } else {
        return -1;
    }
    end = h + strcspn(h, "/?#");
    /* userinfo ("https://good@evil") and backslashes are never allowed. */
    for (p = h; p < end; p++)
        if (*p == '@' || *p == '\\')
            return -1;
    if (*h == '[') {
        const char *rb = memchr(h, ']', (size_t)(end - h));
        if (rb == NULL)
            return -1;
        n = (size_t)(rb - h + 1);
        p = rb + 1;
    } else {
        p = memchr(h, ':', (size_t)(end - h));
        n = p != NULL ? (size_t)(p - h) : (size_t)(end - h);
        if (p == NULL)
            p = end;
    }
    if (n == 0 || n >= hl)
        return -1;
    for (size_t i = 0; i < n; i++)
        host[i] = (char)tolower((unsigned char)h[i]);
    host[n] = '\0';
    if (p < end && *p == ':') {
        char *e;
        long v = strtol(p + 1, &e, 10);
        if (e != end || v < 1 || v > 65535)
            return -1;
        *port = (int)v;
    } else if (p != end) {
        return -1;
    }
    return 0;
}

static int loopback(const char *host)
{
    return strcmp(host, "localhost") == 0 || strcmp(host, "127.0.0.1") == 0 ||
           strcmp(host, "[::1]") == 0;
}

int redirect_allowed(const struct ums_config *cfg, const char *url)
{
    char s1[8], h1[256], s2[8], h2[256];
    int p1, p2;
    const char *list = cfg->auth.uri_allow_list;

    if (url == NULL || *url == '\0' || strlen(url) > 2048)
        return 0;
    /* No space, control byte or backslash anywhere: a valid URL has them
     * percent-encoded, and browsers read "\\" as "/" (RFC 3986 2.1). */
    for (const unsigned char *c = (const unsigned char *)url; *c != '\0'; c++)
        if (*c <= ' ' || *c == 0x7f || *c == '\\')
            return 0;
    if (origin_of(url, s1, sizeof(s1), h1, sizeof(h1), &p1) != 0)
        return 0;
    if (origin_of(cfg->auth.site_url, s2, sizeof(s2), h2, sizeof(h2), &p2) == 0 &&
        strcmp(s1, s2) == 0 && strcmp(h1, h2) == 0 && (p1 == p2 || loopback(h1)))
        return 1;
    while (list != NULL && *list != '\0') {
        size_t n = strcspn(list, ",");
        const char *e = list;
        while (n > 0 && (*e == ' '))
            e++, n--;
        size_t m = n;
        while (m > 0 && e[m - 1] == ' ')
            m--;
        if (m > 0 && e[m - 1] == '*') {
            if (m - 1 > 0 && strncmp(url, e, m - 1) == 0)
                return 1;
        } else if (m > 0 && strlen(url) == m && strncmp(url, e, m) == 0) {
            return 1;
        }
        list = e + n + (e[n] == ',' ? 1 : 0);
        if (e[n] == '\0')
            break;
    }
    return 0;
}
