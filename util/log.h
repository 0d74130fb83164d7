/* log.h - one JSON object per line, to a file or stderr, with the Elastic
 * Common Schema's field names. */
#ifndef UMS_LOG_H
#define UMS_LOG_H

enum log_level { LL_DEBUG, LL_INFO, LL_WARN, LL_ERROR, LL__MAX };

#include <sys/types.h>

/* Opens `path` for appending (NULL or "" means stderr); a symbolic link or
 * anything but a plain file is refused. Returns 0 or -1. */
int log_open(const char *path, int level);

/* Hands the open log file to uid:gid, through its descriptor (a daemon
 * about to leave root; nothing when logging to stderr). 0 or -1. */
int log_chown(uid_t uid, gid_t gid);

/* Level from its name ("debug", "info", "warn", "error"), or -1. */
int log_level_parse(const char *name);

/* The request id added to every line until it is set to NULL; borrowed. */
void log_set_request_id(const char *request_id);

/* The W3C trace context of the request (trace.id, span.id) added to every
 * line until set to NULL; borrowed. */
void log_set_trace(const char *trace_id, const char *span_id);

/* service.name of every line ("ums-fcgi", "ums-notifier", "umsctl");
 * borrowed, a static string. */
void log_set_service(const char *name);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LL_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LL_ERROR, __VA_ARGS__)

/* The line written for each finished request. */
struct log_access {
    const char *method;
    const char *path;  /* the path without the query */
    const char *route; /* the route pattern */
    int status;
    double duration_ms;
    const char *user_id;
    const char *ip;
};

void log_request(const struct log_access *a);

void log_close(void);

#endif
