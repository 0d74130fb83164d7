/* fcgi_client.c - FastCGI 1.0 records over a unix socket or loopback TCP
 * (the responder role, or another). */
#include "fcgi_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../util/buf.h"

enum { BEGIN = 1, END = 3, PARAMS = 4, STDIN = 5, STDOUT = 6 };

static int record(struct buf *b, int type, const void *data, size_t len)
{
    unsigned char h[8] = {
        1, (unsigned char)type, 0, 1, (unsigned char)(len >> 8), (unsigned char)len, 0, 0};

    return buf_add(b, h, 8) || buf_add(b, data, len);
}

static void nv_len(struct buf *b, size_t n)
{
    if (n < 128) {
        buf_addc(b, (char)n);
    } else {
        unsigned char l[4] = {(unsigned char)(0x80 | (n >> 24)), (unsigned char)(n >> 16),
                              (unsigned char)(n >> 8), (unsigned char)n};
        buf_add(b, l, 4);
    }
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n)
{
    char *c = p;

    while (n > 0) {
        ssize_t r = read(fd, c, n);
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

/* A connected socket to a unix socket path or 127.0.0.1:PORT, or -1. */
static int connect_to(const char *addr)
{
    struct timeval tv = {10, 0};
    int fd;

    if (addr[0] == '/') {
        struct sockaddr_un sa;
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0)
            return -1;
        memset(&sa, 0, sizeof(sa));
        sa.sun_family = AF_UNIX;
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", addr);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            close(fd);
            return -1;
        }
    } else {
        struct sockaddr_in sa;
        const char *colon = strrchr(addr, ':');
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || colon == NULL)
            goto fail;
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_port = htons((unsigned short)strtol(colon + 1, NULL, 10));
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
            goto fail;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
fail:
    if (fd >= 0)
        close(fd);
    return -1;
}

static int exchange(const char *addr, int role, int with_stdin, const char *const *params,
                    const char *body, size_t len, void (*pause)(void *), void *ud, char **out);

int fcgi_request(const char *path, const char *const *params, const char *body, size_t len,
                 char **out)
{
    return exchange(path, 1, 1, params, body, len, NULL, NULL, out);
}

int fcgi_request_paused(const char *path, const char *const *params, const char *body, size_t len,
                        void (*pause)(void *), void *ud, char **out)
{
    return exchange(path, 1, 1, params, body, len, pause, ud, out);
}

int fcgi_request_role(const char *addr, int role, int with_stdin, const char *const *params,
                      const char *body, size_t len, char **out)
{
    return exchange(addr, role, with_stdin, params, body, len, NULL, NULL, out);
}

static int exchange(const char *addr, int role, int with_stdin, const char *const *params,
                    const char *body, size_t len, void (*pause)(void *), void *ud, char **out)
{
    const unsigned char begin[8] = {0, (unsigned char)role, 0, 0, 0, 0, 0, 0};
    struct buf req, nv, resp;
    int fd, rc = -1;

    *out = NULL;
    buf_init(&req, 16 << 20);
    buf_init(&nv, 1 << 20);
    buf_init(&resp, 16 << 20);
    fd = connect_to(addr);
    if (fd < 0)
        goto done;
    record(&req, BEGIN, begin, 8);
    for (int i = 0; params[i] != NULL; i += 2) {
        nv_len(&nv, strlen(params[i]));
        nv_len(&nv, strlen(params[i + 1]));
        buf_adds(&nv, params[i]);
        buf_adds(&nv, params[i + 1]);
    }
    for (size_t off = 0; off < nv.len; off += 65535)
        record(&req, PARAMS, nv.p + off, nv.len - off > 65535 ? 65535 : nv.len - off);
    if (pause != NULL) {
        if (write_all(fd, req.p, req.len) != 0)
            goto done;
        req.len = 0;
        pause(ud);
    }
    record(&req, PARAMS, "", 0);
    if (with_stdin) {
        for (size_t off = 0; off < len; off += 65535)
            record(&req, STDIN, body + off, len - off > 65535 ? 65535 : len - off);
        record(&req, STDIN, "", 0);
    }
    if (write_all(fd, req.p, req.len) != 0)
        goto done;
    for (;;) {
        unsigned char h[8];
        char content[65536 + 256];
        size_t clen, plen;
        if (read_all(fd, h, 8) != 0)
            goto done;
        clen = (size_t)h[4] << 8 | h[5];
        plen = h[6];
        if (read_all(fd, content, clen + plen) != 0)
            goto done;
        if (h[1] == STDOUT)
            buf_add(&resp, content, clen);
        if (h[1] == END)
            break;
    }
    buf_addc(&resp, '\0');
    *out = resp.p;
    resp.p = NULL;
    rc = 0;
done:
    if (fd >= 0)
        close(fd);
    buf_free(&req);
    buf_free(&nv);
    buf_free(&resp);
    return rc;
}

int fcgi_status(const char *resp)
{
    if (resp != NULL && strncmp(resp, "Status: ", 8) == 0)
        return (int)strtol(resp + 8, NULL, 10);
    return 200;
}
