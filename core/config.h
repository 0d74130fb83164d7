/* config.h - ums.conf: INI file, UMS_SECTION_KEY environment overrides, *_file secrets. */
#ifndef UMS_CONFIG_H
#define UMS_CONFIG_H

#include <stddef.h>

struct ums_config {
    struct {
        char *listen;       /* unix socket path, or host:port on loopback */
        int socket_mode;    /* permissions of a unix socket, octal in the file */
        int workers;
        char *pid_file;
        char *user;         /* drop to this user after binding (when started as root) */
        int max_requests;   /* a worker exits and is replaced after this many; 0 = never */
        int body_max;       /* default request body cap in bytes */
        int graceful_timeout; /* seconds a stopping worker may take to finish */
    } server;
    struct {
        char *url;          /* libpq connection string or URI */
        char *password;     /* secret */
        int connect_timeout;
        int statement_timeout_ms;
    } database;
    struct {
        char *host;
        int port;
        char *password;     /* secret */
        int db;
        int timeout_ms;
    } redis;
    struct {
        char *file;         /* empty: stderr */
        int level;          /* enum log_level */
    } log;
};

/*
 * Builds a configuration from INI text (`name` is used in messages), then
 * applies UMS_SECTION_KEY environment overrides and reads *_file secrets.
 * On failure returns UMS_EINVALID and writes one line naming the bad key or
 * line into err. The caller frees *out with config_free().
 */
int config_parse(struct ums_config **out, const char *text, size_t len, const char *name,
                 char *err, size_t errlen);

/* Same, reading the file at `path` (at most 1 MiB). */
int config_load(struct ums_config **out, const char *path, char *err, size_t errlen);

void config_free(struct ums_config *cfg);

/* Prints every key with its effective value (secrets masked) to stdout. */
void config_dump(const struct ums_config *cfg);

#endif
