/* request.c - FastCGI parameters, query strings and the capped body. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "../util/arena.h"
#include "../util/ums.h"
#include "../util/utf8.h"
#include "http.h"

static const struct {
    const char *name;
    unsigned bit;
} methods[] = {
    {"GET", M_GET},     {"HEAD", M_HEAD},     {"POST", M_POST},       {"PUT", M_PUT},
    {"PATCH", M_PATCH}, {"DELETE", M_DELETE}, {"OPTIONS", M_OPTIONS},
};

unsigned http_method_parse(const char *name)
{
    if (name == NULL)
        return 0;
    for (size_t i = 0; i < UMS_ARRAY_LEN(methods); i++)
        if (strcmp(name, methods[i].name) == 0)
            return methods[i].bit;
    return 0;
}

void http_methods_str(struct buf *b, unsigned mask)
{
    int first = 1;

    for (size_t i = 0; i < UMS_ARRAY_LEN(methods); i++) {
        if (!(mask & methods[i].bit))
            continue;
        buf_printf(b, "%s%s", first ? "" : ", ", methods[i].name);
        first = 0;
    }
}

int http_content_length(const char *s, long *out)
{
    long v = 0;

    *out = 0;
    if (s == NULL || *s == '\0')
        return UMS_OK;
    for (const char *p = s; *p != '\0'; p++) {
        if (!isdigit((unsigned char)*p) || p - s >= 18)
            return UMS_EINVALID;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return UMS_OK;
}

int http_is_form(const char *ct)
{
    static const char form[] = "application/x-www-form-urlencoded";
    size_t n = sizeof(form) - 1;

    return ct != NULL && strncasecmp(ct, form, n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

int http_is_json(const char *ct)
{
    const char *p;

    if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0)
        return 0;
    p = ct + 16;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0')
        return 1;
    if (*p != ';')
        return 0;
    /* Parameters: only charset=utf-8 (any case, optionally quoted) is accepted. */
    p++;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, "charset=", 8) != 0)
        return 0;
    p += 8;
    if (strncasecmp(p, "utf-8", 5) == 0)
        p += 5;
    else if (strncasecmp(p, "\"utf-8\"", 7) == 0)
        p += 7;
    else
        return 0;
    while (*p == ' ' || *p == '\t')
        p++;
    return *p == '\0';
}

int http_api_versioned(const char *v)
{
    if (v == NULL || strlen(v) != 10)
        return 0;
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7) {
            if (v[i] != '-')
                return 0;
        } else if (!isdigit((unsigned char)v[i])) {
            return 0;
        }
    }
    return strcmp(v, "2024-01-01") >= 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into the arena ('+' is a space). */
static int decode(struct arena *a, const char *s, size_t n, const char **out)
{
    char *d = arena_alloc(a, n + 1);
    size_t o = 0;

    if (d == NULL)
        return UMS_ERR;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi, lo;
            if (n - i < 3)
                return UMS_EINVALID;
            hi = hexval((unsigned char)s[i + 1]);
            lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return UMS_EINVALID;
            d[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            d[o++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    d[o] = '\0';
    if (!utf8_valid(d, o))
        return UMS_EINVALID;
    *out = d;
    return UMS_OK;
}

int http_query_get(struct arena *a, const char *query, const char *name, const char **out)
{
    size_t nlen = strlen(name);
    const char *p = query;

    *out = NULL;
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, '&');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t klen = eq != NULL ? (size_t)(eq - p) : len;

        if (klen == nlen && memcmp(p, name, nlen) == 0) {
            if (eq == NULL)
                return decode(a, "", 0, out);
            return decode(a, eq + 1, len - klen - 1, out);
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return UMS_ENOTFOUND;
}

/* A header we keep; NULL when absent. Oversized values are reported. */
static const char *header(struct req *r, const char *name, int *too_big)
{
    const char *v = r->io->param(r->io->h, name);

    if (v != NULL && strlen(v) > HEADER_MAX)
        *too_big = 1;
    return v;
}

/* X-Request-Id from the web server when it is sane, else a fresh random one. */
static const char *request_id(struct req *r, const char *given)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char rnd[16];
    char *id;
    size_t n = given != NULL ? strlen(given) : 0;
    int ok = n > 0 && n <= 128;

    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)given[i]) || given[i] == '-' || given[i] == '_' ||
             given[i] == '.';
    if (ok)
        return given;
    id = arena_alloc(r->arena, 33);
    if (id == NULL)
        return NULL;
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        memset(rnd, 0, sizeof(rnd));
    for (size_t i = 0; i < sizeof(rnd); i++) {
        id[2 * i] = hex[rnd[i] >> 4];
        id[2 * i + 1] = hex[rnd[i] & 15];
    }
    id[32] = '\0';
    return id;
}

enum http_err req_load(struct req *r)
{
    const char *uri, *q;
    int too_big = 0;
    size_t plen;

    r->query = "";
    r->method_name = r->io->param(r->io->h, "REQUEST_METHOD");
    r->method = http_method_parse(r->method_name);
    if (r->method_name == NULL)
        r->method_name = "";
    r->request_id = request_id(r, r->io->param(r->io->h, "HTTP_X_REQUEST_ID"));
    r->remote_addr = r->io->param(r->io->h, "REMOTE_ADDR");
    r->content_type = header(r, "CONTENT_TYPE", &too_big);
    r->authorization = header(r, "HTTP_AUTHORIZATION", &too_big);
    r->versioned = http_api_versioned(r->io->param(r->io->h, "HTTP_X_SUPABASE_API_VERSION"));
    if (too_big)
        return HE_HEADER_TOO_LARGE;
    if (r->content_type != NULL && *r->content_type == '\0')
        r->content_type = NULL;

    /* REQUEST_URI is what the client sent; the path stops at '?'. */
    uri = r->io->param(r->io->h, "REQUEST_URI");
    if (uri == NULL)
        uri = r->io->param(r->io->h, "DOCUMENT_URI");
    if (uri == NULL || uri[0] != '/')
        return HE_BAD_REQUEST;
    q = strchr(uri, '?');
    plen = q != NULL ? (size_t)(q - uri) : strlen(uri);
    if (plen > PATH_MAX_BYTES)
        return HE_URI_TOO_LONG;
    r->path = arena_strndup(r->arena, uri, plen);
    if (r->path == NULL)
        return HE_UNEXPECTED;
    if (q != NULL) {
        if (strlen(q + 1) > QUERY_MAX)
            return HE_URI_TOO_LONG;
        r->query = q + 1;
    }
    if (http_content_length(r->io->param(r->io->h, "CONTENT_LENGTH"), &r->content_length) != UMS_OK)
        return HE_BAD_REQUEST;
    return HE_NONE;
}

enum http_err req_read_body(struct req *r)
{
    char *b;
    size_t got = 0;
    int n;

    r->body = "";
    r->body_len = 0;
    if (r->content_length == 0)
        return HE_NONE;
    b = arena_alloc(r->arena, (size_t)r->content_length + 1);
    if (b == NULL)
        return HE_TOO_LARGE;
    while (got < (size_t)r->content_length) {
        size_t want = (size_t)r->content_length - got;
        n = r->io->read(r->io->h, b + got, want > 65536 ? 65536 : (int)want);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    b[got] = '\0';
    if (got != (size_t)r->content_length)
        return HE_BAD_REQUEST;
    r->body = b;
    r->body_len = got;
    return HE_NONE;
}
