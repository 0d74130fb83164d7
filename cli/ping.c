/* ping.c - one FastCGI request to ums-fcgi, as a web server would send it:
 * the health check of a container or a process manager, with no web
 * server in between (umsctl ping). */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ping.h"

enum { FCGI_BEGIN = 1, FCGI_END = 3, FCGI_PARAMS = 4, FCGI_STDIN = 5, FCGI_STDOUT = 6 };

static long long now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int fail(char *err, size_t errlen, const char *what, const char *why)
{
    snprintf(err, errlen, "%s: %s", what, why);
    return -1;
}

/* A unix socket path, or a numeric host:port ([server] listen's forms). */
static int connect_to(const char *addr, char *err, size_t errlen)
{
    int fd = -1;

    if (addr[0] == '/') {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(addr) >= sizeof(sa.sun_path))
            return fail(err, errlen, addr, "path too long");
        memcpy(sa.sun_path, addr, strlen(addr) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            return fd;
    } else {
        char host[256];
        const char *colon = strrchr(addr, ':');
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST}, *ai;
        size_t n = colon != NULL ? (size_t)(colon - addr) : 0;

        if (colon == NULL || n == 0 || n >= sizeof(host))
            return fail(err, errlen, addr, "not a socket path or host:port");
        memcpy(host, addr, n);
        host[n] = '\0';
        if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
            memmove(host, host + 1, n - 2);
            host[n - 2] = '\0';
        }
        if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
            return fail(err, errlen, addr, "not a numeric host:port");
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            freeaddrinfo(ai);
            return fd;
        }
        freeaddrinfo(ai);
    }
    fail(err, errlen, addr, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

static void record(unsigned char *out, size_t *at, int type, const void *body, size_t len)
{
    unsigned char h[8] = {
        1, (unsigned char)type, 0, 1, (unsigned char)(len >> 8), (unsigned char)len, 0, 0};

    memcpy(out + *at, h, sizeof(h));
    memcpy(out + *at + sizeof(h), body, len);
    *at += sizeof(h) + len;
}

static size_t pair(unsigned char *out, const char *name, const char *value)
{
    size_t n = strlen(name), v = strlen(value);

    out[0] = (unsigned char)n;
    out[1] = (unsigned char)v;
    memcpy(out + 2, name, n);
    memcpy(out + 2 + n, value, v);
    return 2 + n + v;
}

/* Reads exactly len bytes before the deadline. */
static int read_full(int fd, unsigned char *buf, size_t len, long long deadline)
{
    size_t got = 0;

    while (got < len) {
        struct pollfd p = {fd, POLLIN, 0};
        long long left = deadline - now_ms();
        ssize_t n;

        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return -1;
        n = read(fd, buf + got, len - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

int fcgi_ping(const char *addr, const char *path, int timeout_ms, int *status, char *err,
              size_t errlen)
{
    unsigned char req[1024], params[512], hdr[8], body[65536 + 256];
    char head[1024];
    size_t at = 0, np = 0, headlen = 0;
    const unsigned char begin[8] = {0, 1, 0, 0, 0, 0, 0, 0}; /* responder, close */
    long long deadline = now_ms() + timeout_ms;
    int fd, ended = 0;

    if (path[0] != '/' || strlen(path) > 200)
        return fail(err, errlen, path, "not a path");
    np += pair(params + np, "REQUEST_METHOD", "GET");
    np += pair(params + np, "REQUEST_URI", path);
    np += pair(params + np, "DOCUMENT_URI", path);
    np += pair(params + np, "SCRIPT_NAME", path);
    np += pair(params + np, "QUERY_STRING", "");
    np += pair(params + np, "REMOTE_ADDR", "127.0.0.1");
    np += pair(params + np, "SERVER_PROTOCOL", "HTTP/1.1");
    record(req, &at, FCGI_BEGIN, begin, sizeof(begin));
    record(req, &at, FCGI_PARAMS, params, np);
    record(req, &at, FCGI_PARAMS, "", 0);
    record(req, &at, FCGI_STDIN, "", 0);

    if ((fd = connect_to(addr, err, errlen)) < 0)
        return -1;
    if (write(fd, req, at) != (ssize_t)at) {
        close(fd);
        return fail(err, errlen, addr, "cannot send the request");
    }
    while (!ended) {
        size_t len, pad;

        if (read_full(fd, hdr, sizeof(hdr), deadline) != 0) {
            close(fd);
            return fail(err, errlen, addr, "no complete answer in time");
        }
        len = (size_t)hdr[4] << 8 | hdr[5];
        pad = hdr[6];
        if (hdr[0] != 1 || read_full(fd, body, len + pad, deadline) != 0) {
            close(fd);
            return fail(err, errlen, addr, "not a FastCGI answer");
        }
        if (hdr[1] == FCGI_STDOUT && headlen < sizeof(head) - 1) {
            size_t n = len < sizeof(head) - 1 - headlen ? len : sizeof(head) - 1 - headlen;
            memcpy(head + headlen, body, n);
            headlen += n;
        } else if (hdr[1] == FCGI_END) {
            ended = 1;
        }
    }
    close(fd);
    head[headlen] = '\0';
    /* CGI: a Status header, or 200 without one. */
    *status = 200;
    for (char *line = head; *line != '\0' && *line != '\r' && *line != '\n';) {
        char *eol = strpbrk(line, "\r\n");
        if (strncasecmp(line, "Status:", 7) == 0) {
            long v = strtol(line + 7, NULL, 10);
            *status = v >= 100 && v <= 599 ? (int)v : 0;
        }
        if (eol == NULL)
            break;
        line = eol + (eol[0] == '\r' && eol[1] == '\n' ? 2 : 1);
    }
    if (headlen == 0)
        return fail(err, errlen, addr, "an empty answer");
    return 0;
}
