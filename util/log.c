/* log.c - JSON log lines. Each line goes out in one write(2), so lines from
 * several worker processes sharing one O_APPEND file never interleave. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "utf8.h"

#define LINE_MAX_BYTES 8192
#define MSG_CUT_BYTES  1024 /* escaped at most 6 times over: fits a line */
#define LOG_PATH_MAX   1024 /* bytes of url.path kept */

static int log_fd = 2;
static int log_min = LL_INFO;
static char *log_path;
static const char *cur_request_id, *cur_trace_id, *cur_span_id;
static const char *service_name = "ums";
/* One line buffer per process, kept between lines: no allocation per line. */
static struct buf line_buf = {NULL, 0, 0, LINE_MAX_BYTES};

static const char *const level_names[LL__MAX] = {"debug", "info", "warn", "error"};

int log_level_parse(const char *name)
{
    for (int i = 0; i < LL__MAX; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

int log_open(const char *path, int level)
{
    int fd = 2;

    if (path != NULL && *path != '\0') {
        struct stat st;
        /* Opened as root at start-up, perhaps in a folder another user can
         * write: never through a symlink, never anything but a plain file. */
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0640);
        if (fd < 0) {
            fprintf(stderr, "ums: cannot open log file %s: %s\n", path,
                    errno == ELOOP ? "it is a symbolic link" : strerror(errno));
            return -1;
        }
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
            fprintf(stderr, "ums: log file %s is not a plain file\n", path);
            close(fd);
            return -1;
        }
    }
    if (log_fd > 2)
        close(log_fd);
    log_fd = fd;
    free(log_path);
    log_path = path != NULL && *path != '\0' ? strdup(path) : NULL;
    if (level >= 0 && level < LL__MAX)
        log_min = level;
    return 0;
}

int log_chown(uid_t uid, gid_t gid)
{
    if (log_fd <= 2 || uid == (uid_t)-1)
        return 0;
    return fchown(log_fd, uid, gid);
}

void log_close(void)
{
    buf_free(&line_buf);
    if (log_fd > 2)
        close(log_fd);
    log_fd = 2;
    free(log_path);
    log_path = NULL;
}

void log_set_request_id(const char *request_id)
{
    cur_request_id = request_id;
}

void log_set_trace(const char *trace_id, const char *span_id)
{
    cur_trace_id = trace_id;
    cur_span_id = span_id;
}

void log_set_service(const char *name)
{
    service_name = name;
}

static void field(struct buf *b, const char *name, const char *value)
{
    if (value == NULL)
        return;
    buf_printf(b, ",\"%s\":", name);
    buf_add_json_str(b, value);
}

static void line_start(struct buf *b, int level)
{
    struct timespec ts;
    struct tm tm;
    char when[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    /* Elastic Common Schema names (README, "Logs"). */
    buf_printf(b,
               "{\"@timestamp\":\"%s.%03ldZ\",\"log.level\":\"%s\",\"ecs.version\":\"8.11.0\","
               "\"service.name\":\"%s\",\"process.pid\":%ld",
               when, ts.tv_nsec / 1000000, level_names[level], service_name, (long)getpid());
    field(b, "http.request.id", cur_request_id);
    field(b, "trace.id", cur_trace_id);
    field(b, "span.id", cur_span_id);
}

static struct buf *line_get(void)
{
    buf_reset(&line_buf, LINE_MAX_BYTES + 1);
    return &line_buf;
}

static void line_end(struct buf *b)
{
    ssize_t n;
    size_t off = 0;

    if (buf_adds(b, "}\n") != 0) {
        /* Cannot happen with the cuts above; if it does, a short line that
         * is still JSON rather than a cut one. */
        b->len = 0;
        line_start(b, LL_ERROR);
        buf_adds(b, ",\"message\":\"(log line too long)\"}\n");
    }
    while (off < b->len) {
        n = write(log_fd, b->p + off, b->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    buf_reset(b, LINE_MAX_BYTES + 1);
}

void log_msg(int level, const char *fmt, ...)
{
    struct buf *line, msg;
    va_list ap;

    if (level < log_min || level >= LL__MAX)
        return;
    line = line_get();
    buf_init(&msg, LINE_MAX_BYTES / 2);
    va_start(ap, fmt);
    if (buf_vprintf(&msg, fmt, ap) != 0)
        buf_adds(&msg, "(log message too long)");
    va_end(ap);
    line_start(line, level);
    buf_adds(line, ",\"message\":");
    if (buf_add_json_strn(line, msg.p != NULL ? msg.p : "", msg.len) != 0) {
        /* Escaped, it does not fit the line (control bytes become six
         * characters each): the start of it, cut between characters. */
        char head[MSG_CUT_BYTES + 1];
        utf8_clean(head, sizeof(head), msg.p != NULL ? msg.p : "");
        if (buf_add_json_str(line, head) != 0)
            buf_adds(line, "\"(log message too long)\"");
    }
    buf_free(&msg);
    line_end(line);
}

void log_request(const struct log_access *a)
{
    struct buf *line;
    char path[LOG_PATH_MAX + 1];
    const char *method = a->method != NULL ? a->method : "";
    const char *route = a->route != NULL ? a->route : "";

    if (LL_INFO < log_min)
        return;
    line = line_get();
    line_start(line, LL_INFO);
    buf_printf(line, ",\"message\":\"request\",\"event.dataset\":\"%s.access\"", service_name);
    field(line, "http.request.method", method);
    /* The path as sent, never the query (codes travel there); cut, and
     * cleaned of what is not UTF-8. */
    utf8_clean(path, sizeof(path), a->path != NULL ? a->path : "");
    field(line, "url.path", path);
    field(line, "ums.route", route);
    buf_printf(line, ",\"http.response.status_code\":%d,\"event.duration\":%lld", a->status,
               (long long)(a->duration_ms * 1e6));
    field(line, "user.id", a->user_id);
    field(line, "client.ip", a->ip);
    line_end(line);
}
