/* fake_io.h - an in-memory FastCGI request for driving dispatch() in tests. */
#ifndef UMS_FAKE_IO_H
#define UMS_FAKE_IO_H

#include <stdlib.h>
#include <string.h>

#include "../../util/arena.h"
#include "../../util/buf.h"
#include "../../fcgi/http.h"

struct fake {
    const char *params[32]; /* name, value, name, value, ..., NULL */
    const char *body;
    size_t body_len;
    size_t pos;
    struct buf out;
};

static const char *fake_param(void *h, const char *name)
{
    struct fake *f = h;
    for (int i = 0; f->params[i] != NULL; i += 2)
        if (strcmp(f->params[i], name) == 0)
            return f->params[i + 1];
    return NULL;
}

static int fake_read(void *h, char *b, int n)
{
    struct fake *f = h;
    size_t left = f->body_len - f->pos;
    size_t k = left < (size_t)n ? left : (size_t)n;
    if (k == 0)
        return 0; /* the end (and no body at all: f->body may be NULL) */
    memcpy(b, f->body + f->pos, k);
    f->pos += k;
    return (int)k;
}

static int fake_write(void *h, const char *b, int n)
{
    struct fake *f = h;
    buf_add(&f->out, b, (size_t)n);
    return n;
}

/* Parsed response. */
struct fake_resp {
    int status;
    char headers[4096];
    const char *body;
};

/* Runs one request through dispatch() against table; the response stays in f->out. */
static struct fake_resp fake_run(struct fake *f, const struct route *table, size_t n)
{
    const struct req_io io = {fake_param, fake_read, fake_write, f};
    struct arena *a = arena_new(4096, 1 << 20);
    struct req r;
    struct fake_resp resp;
    const char *sep;

    memset(&r, 0, sizeof(r));
    memset(&resp, 0, sizeof(resp));
    r.arena = a;
    r.io = &io;
    buf_init(&r.headers, 16384);
    buf_init(&r.body_out, 1 << 20);
    buf_init(&f->out, 1 << 20);
    dispatch(&r, table, n);
    if (r.json != NULL)
        json_object_put(r.json);
    auth_principal_clear(&r.who);
    buf_free(&r.headers);
    buf_free(&r.body_out);
    arena_free(a);
    if (f->out.p == NULL)
        return resp;
    resp.status = (int)strtol(f->out.p + strlen("Status: "), NULL, 10);
    sep = strstr(f->out.p, "\r\n\r\n");
    if (sep != NULL) {
        size_t hl = (size_t)(sep - f->out.p);
        if (hl >= sizeof(resp.headers))
            hl = sizeof(resp.headers) - 1;
        memcpy(resp.headers, f->out.p, hl);
        resp.body = sep + 4;
    }
    return resp;
}

#endif
