/* ums-logjson.c - Apache's piped access log for ums's JSON LogFormat:
 * reads lines on stdin, writes them as valid JSON (util/logjson.h) to FILE
 * (appended; reopened on SIGHUP) or to stdout.
 *
 *     CustomLog "|/usr/bin/ums-logjson /var/log/apache2/ums-access.log" ums_json
 *
 * Apache starts it as the user the parent runs as and restarts it when it
 * exits. Each line goes out in one write(), so lines never interleave. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/buf.h"
#include "../util/logjson.h"

#define LINE_MAX_BYTES (1024 * 1024) /* a longer line is cut here */

static volatile sig_atomic_t got_hup;

static void on_hup(int sig)
{
    (void)sig;
    got_hup = 1;
}

static int open_out(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);

    if (fd < 0)
        fprintf(stderr, "ums-logjson: %s: %s\n", path, strerror(errno));
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    struct sigaction sa;
    struct buf out;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int fd = STDOUT_FILENO;

    if (argc > 2 || (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))) {
        fprintf(argc > 2 ? stderr : stdout,
                "usage: ums-logjson [FILE]\n"
                "  Apache access log lines on stdin, valid JSON out\n"
                "  (appended to FILE, reopened on SIGHUP; else stdout).\n");
        return argc > 2 ? 2 : 0;
    }
    if (argc == 2 && strcmp(argv[1], "-") != 0) {
        path = argv[1];
        if ((fd = open_out(path)) < 0)
            return 1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_hup;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    buf_init(&out, 8 * (size_t)LINE_MAX_BYTES);
    while ((n = getline(&line, &cap, stdin)) >= 0 || (errno == EINTR && !feof(stdin))) {
        if (n < 0) {
            clearerr(stdin);
            continue;
        }
        if (n > 0 && line[n - 1] == '\n')
            n--;
        if (n > LINE_MAX_BYTES)
            n = LINE_MAX_BYTES;
        if (got_hup && path != NULL) {
            int nfd = open_out(path);
            got_hup = 0;
            if (nfd >= 0) {
                close(fd);
                fd = nfd;
            }
        }
        buf_reset(&out, 64 * 1024);
        if (logjson_line(&out, line, (size_t)n) != 0 || buf_addc(&out, '\n') != 0)
            continue;
        if (write_all(fd, out.p, out.len) != 0)
            fprintf(stderr, "ums-logjson: write: %s\n", strerror(errno));
    }
    free(line);
    buf_free(&out);
    return 0;
}
