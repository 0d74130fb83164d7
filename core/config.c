/* config.c - the configuration: every key with its type and default, the
 * checks that span keys, loading and freeing (config_source.c reads the
 * file text and the environment, config_dump.c prints it). */
#include "config.h"
#include "config_schema.h"
#include "db.h"
#include "kv.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/file.h"
#include "../util/log.h"
#include "../util/ums.h"

#define CONFIG_MAX_BYTES (1024 * 1024)

#ifndef UMS_TEMPLATES_DIR
#define UMS_TEMPLATES_DIR "/usr/share/ums/templates"
#endif

/*
 * Every key ums knows; anything else in a file is an error. A key's type
 * says what a value must be, checked where it is read (file:line or the
 * environment variable in the message): TEXT any string (TEXT1 not empty),
 * SECRET a string that may come from name_file and is masked in dumps, INT
 * a decimal in [min, max], MODE an octal file mode, BOOL true/false/yes/no/
 * on/off/1/0, LEVEL a log level, ENUM one of the '|'-separated choices,
 * URL scheme://host... with one of the '|'-separated schemes.
 */
#define F(field) offsetof(struct ums_config, field)
/* clang-format off */
#define TEXT(s, n, f, d)       {s, n, CT_STR, F(f), d, 0, 0, 0, NULL}
#define TEXT1(s, n, f, d)      {s, n, CT_STR, F(f), d, 1, 0, 0, NULL}
#define SECRET(s, n, f)        {s, n, CT_STR, F(f), "", 0, 0, 1, NULL}
#define INT(s, n, f, d, lo, hi) {s, n, CT_INT, F(f), d, lo, hi, 0, NULL}
#define MODE(s, n, f, d)       {s, n, CT_MODE, F(f), d, 0, 0777, 0, NULL}
#define BOOL(s, n, f, d)       {s, n, CT_BOOL, F(f), d, 0, 1, 0, NULL}
#define LEVEL(s, n, f, d)      {s, n, CT_LEVEL, F(f), d, 0, 0, 0, NULL}
#define ENUM(s, n, f, d, c)    {s, n, CT_ENUM, F(f), d, 0, 0, 0, c}
#define URL(s, n, f, d, c)     {s, n, CT_URL, F(f), d, 0, 0, 0, c}

const struct config_key config_keys[] = {
    TEXT1("server", "listen", server.listen, "/run/ums/ums-fcgi.sock"),
    TEXT("server", "authorizer_listen", server.authorizer_listen, ""),
    MODE("server", "socket_mode", server.socket_mode, "0660"),
    INT("server", "workers", server.workers, "4", 1, 256),
    TEXT("server", "pid_file", server.pid_file, ""),
    TEXT("server", "user", server.user, ""),
    TEXT("server", "socket_group", server.socket_group, ""),
    INT("server", "max_requests", server.max_requests, "0", 0, INT_MAX),
    INT("server", "body_max", server.body_max, "16384", 1024, 64 * 1024 * 1024),
    INT("server", "graceful_timeout", server.graceful_timeout, "30", 1, 3600),

    TEXT("database", "url", database.url, "postgresql:///ums"),
    SECRET("database", "password", database.password),
    INT("database", "connect_timeout", database.connect_timeout, "5", 1, 60),
    INT("database", "statement_timeout_ms", database.statement_timeout_ms, "5000", 0, 600000),
    BOOL("database", "prepared", database.prepared, "true"),
    TEXT("database", "replica_urls", database.replica_urls, ""),
    INT("database", "max_replica_lag", database.max_replica_lag, "2", 0, 3600),

    TEXT1("redis", "host", redis.host, "127.0.0.1"),
    INT("redis", "port", redis.port, "6379", 1, 65535),
    SECRET("redis", "password", redis.password),
    INT("redis", "db", redis.db, "0", 0, 15),
    INT("redis", "timeout_ms", redis.timeout_ms, "1000", 10, 60000),
    TEXT("redis", "sentinels", redis.sentinels, ""),
    TEXT("redis", "master_name", redis.master_name, "ums"),
    SECRET("redis", "sentinel_password", redis.sentinel_password),

    URL("auth", "site_url", auth.site_url, "http://localhost:3000", "http|https"),
    URL("auth", "external_url", auth.external_url, "http://localhost:8080/auth/v1", "http|https"),
    TEXT("auth", "jwt_issuer", auth.jwt_issuer, ""),
    ENUM("auth", "jwt_algorithm", auth.jwt_algorithm, "RS256", "RS256|HS256"),
    TEXT("auth", "jwt_private_key_file", auth.jwt_private_key_file, ""),
    TEXT("auth", "jwt_keys_dir", auth.jwt_keys_dir, ""),
    SECRET("auth", "jwt_secret", auth.jwt_secret),
    TEXT("auth", "jwt_kid", auth.jwt_kid, ""),
    INT("auth", "access_token_ttl", auth.access_token_ttl, "900", 60, 86400),
    INT("auth", "refresh_token_ttl", auth.refresh_token_ttl, "604800", 300, 31536000),
    INT("auth", "session_lifetime", auth.session_lifetime, "2592000", 300, 31536000),
    INT("auth", "refresh_reuse_interval", auth.refresh_reuse_interval, "10", 0, 300),
    SECRET("auth", "refresh_token_secret", auth.refresh_token_secret),
    SECRET("auth", "service_key", auth.service_key),
    BOOL("auth", "require_email_confirmation", auth.require_email_confirmation, "false"),
    TEXT("auth", "uri_allow_list", auth.uri_allow_list, ""),
    INT("auth", "argon2_memory_kib", auth.argon2_memory_kib, "19456", 1024, 1048576),
    INT("auth", "argon2_iterations", auth.argon2_iterations, "2", 1, 100),
    INT("auth", "argon2_parallelism", auth.argon2_parallelism, "1", 1, 16),
    INT("auth", "lockout_threshold", auth.lockout_threshold, "5", 1, 1000),
    INT("auth", "lockout_window", auth.lockout_window, "900", 1, 86400),
    INT("auth", "lockout_duration", auth.lockout_duration, "900", 1, 86400),
    TEXT("auth", "roles", auth.roles, "user,admin"),
    INT("auth", "otp_ttl", auth.otp_ttl, "3600", 60, 86400),
    INT("auth", "reauthentication_window", auth.reauthentication_window, "600", 0, 2592000),

    INT("limits", "signup_per_5min", limits.signup_per_5min, "30", 0, 1000000),
    INT("limits", "recover_per_5min", limits.recover_per_5min, "30", 0, 1000000),
    INT("limits", "otp_per_5min", limits.otp_per_5min, "30", 0, 1000000),
    INT("limits", "resend_per_5min", limits.resend_per_5min, "30", 0, 1000000),
    INT("limits", "verify_per_5min", limits.verify_per_5min, "30", 0, 1000000),
    INT("limits", "token_per_5min", limits.token_per_5min, "30", 0, 1000000),
    INT("limits", "oauth_per_5min", limits.oauth_per_5min, "60", 0, 1000000),
    INT("limits", "refresh_per_5min", limits.refresh_per_5min, "150", 0, 1000000),
    INT("limits", "user_update_per_5min", limits.user_update_per_5min, "30", 0, 1000000),
    INT("limits", "user_update_per_user_per_5min", limits.user_update_per_user_per_5min, "20", 0,
        1000000),
    INT("limits", "email_per_recipient_per_5min", limits.email_per_recipient_per_5min, "3", 0,
        1000000),

    ENUM("email", "transport", email.transport, "file", "file|sendgrid|smtp"),
    TEXT("email", "from", email.from, "ums <no-reply@localhost>"),
    TEXT("email", "maildir", email.maildir, "/var/lib/ums/maildir"),
    URL("email", "sendgrid_url", email.sendgrid_url, "https://api.sendgrid.com", "https|http"),
    SECRET("email", "sendgrid_api_key", email.sendgrid_api_key),
    URL("email", "smtp_url", email.smtp_url, "smtp://127.0.0.1:25", "smtp|smtps"),
    ENUM("email", "smtp_tls", email.smtp_tls, "starttls", "starttls|none"),
    TEXT("email", "smtp_username", email.smtp_username, ""),
    SECRET("email", "smtp_password", email.smtp_password),
    TEXT("email", "smtp_ca_file", email.smtp_ca_file, ""),
    INT("email", "timeout_ms", email.timeout_ms, "10000", 100, 300000),
    INT("email", "connections", email.connections, "8", 1, 64),
    TEXT("email", "templates_dir", email.templates_dir, UMS_TEMPLATES_DIR),

    TEXT("notifier", "consumer", notifier.consumer, ""),
    TEXT("notifier", "pid_file", notifier.pid_file, ""),
    INT("notifier", "batch", notifier.batch, "32", 1, 1000),
    INT("notifier", "republish_after", notifier.republish_after, "30", 1, 86400),
    INT("notifier", "keep_days", notifier.keep_days, "30", 0, 3650),
    INT("notifier", "redeliver_after", notifier.redeliver_after, "900", 1, 86400),
    INT("notifier", "max_attempts", notifier.max_attempts, "8", 1, 100),
    INT("notifier", "backoff_base_ms", notifier.backoff_base_ms, "1000", 10, 3600000),
    INT("notifier", "backoff_max_ms", notifier.backoff_max_ms, "300000", 10, 86400000),
    INT("notifier", "claim_idle_ms", notifier.claim_idle_ms, "60000", 1000, 86400000),
    INT("notifier", "lock_ttl_ms", notifier.lock_ttl_ms, "60000", 2000, 3600000),

    ENUM("push", "transport", push.transport, "none", "none|file|fcm"),
    TEXT("push", "dir", push.dir, "/var/lib/ums/push"),
    URL("push", "fcm_url", push.fcm_url, "https://fcm.googleapis.com", "https|http"),
    TEXT("push", "fcm_service_account_file", push.fcm_service_account_file, ""),
    TEXT("push", "fcm_project_id", push.fcm_project_id, ""),
    INT("push", "timeout_ms", push.timeout_ms, "10000", 100, 300000),

    ENUM("storage", "backend", storage.backend, "local", "local|s3"),
    TEXT("storage", "local_dir", storage.local_dir, "/var/lib/ums/avatars"),
    TEXT("storage", "public_url", storage.public_url, "http://localhost:8080/avatars"),
    TEXT("storage", "s3_endpoint", storage.s3_endpoint, ""),
    TEXT("storage", "s3_bucket", storage.s3_bucket, ""),
    TEXT("storage", "s3_region", storage.s3_region, "us-east-1"),
    TEXT("storage", "s3_access_key", storage.s3_access_key, ""),
    SECRET("storage", "s3_secret_key", storage.s3_secret_key),
    INT("storage", "timeout_ms", storage.timeout_ms, "10000", 100, 300000),

    BOOL("google", "enabled", google.enabled, "false"),
    TEXT("google", "client_id", google.client_id, ""),
    SECRET("google", "client_secret", google.client_secret),
    URL("google", "authorize_url", google.authorize_url,
        "https://accounts.google.com/o/oauth2/v2/auth", "https|http"),
    URL("google", "token_url", google.token_url, "https://oauth2.googleapis.com/token",
        "https|http"),
    URL("google", "userinfo_url", google.userinfo_url,
        "https://openidconnect.googleapis.com/v1/userinfo", "https|http"),
    URL("google", "jwks_url", google.jwks_url, "https://www.googleapis.com/oauth2/v3/certs",
        "https|http"),
    TEXT1("google", "issuer", google.issuer, "https://accounts.google.com"),
    TEXT("google", "scopes", google.scopes, "openid email profile"),

    BOOL("github", "enabled", github.enabled, "false"),
    TEXT("github", "client_id", github.client_id, ""),
    SECRET("github", "client_secret", github.client_secret),
    URL("github", "authorize_url", github.authorize_url,
        "https://github.com/login/oauth/authorize", "https|http"),
    URL("github", "token_url", github.token_url, "https://github.com/login/oauth/access_token",
        "https|http"),
    URL("github", "api_url", github.api_url, "https://api.github.com", "https|http"),
    TEXT("github", "scopes", github.scopes, "read:user user:email"),

    TEXT("oauth", "ca_file", oauth.ca_file, ""),
    INT("oauth", "timeout_ms", oauth.timeout_ms, "5000", 100, 60000),
    INT("oauth", "flow_ttl", oauth.flow_ttl, "600", 60, 3600),
    INT("oauth", "code_ttl", oauth.code_ttl, "300", 30, 600),

    TEXT("log", "file", log.file, ""),
    LEVEL("log", "level", log.level, "info"),

    BOOL("metrics", "enabled", metrics.enabled, "true"),
    TEXT1("metrics", "dir", metrics.dir, "/run/ums/metrics"),
};
/* clang-format on */
const size_t config_keys_len = UMS_ARRAY_LEN(config_keys);

void config_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

char **config_key_str(struct ums_config *c, const struct config_key *k)
{
    return (char **)(void *)((char *)c + k->off);
}

int *config_key_int(struct ums_config *c, const struct config_key *k)
{
    return (int *)(void *)((char *)c + k->off);
}

const struct config_key *config_key_find(const char *section, const char *name)
{
    for (size_t i = 0; i < config_keys_len; i++)
        if (strcmp(config_keys[i].section, section) == 0 && strcmp(config_keys[i].name, name) == 0)
            return &config_keys[i];
    return NULL;
}

int config_key_is_text(const struct config_key *k)
{
    return k->type == CT_STR || k->type == CT_ENUM || k->type == CT_URL;
}

static int set_text(struct ums_config *c, const struct config_key *k, const char *val)
{
    char *dup = strdup(val);

    if (dup == NULL)
        return UMS_ERR;
    free(*config_key_str(c, k));
    *config_key_str(c, k) = dup;
    return UMS_OK;
}

/* 1 when s (n bytes) is one of the '|'-separated choices. */
static int choice_in(const char *s, size_t n, const char *choices)
{
    for (const char *p = choices; *p != '\0';) {
        size_t len = strcspn(p, "|");
        if (len == n && memcmp(p, s, n) == 0)
            return 1;
        p += len + (p[len] == '|');
    }
    return 0;
}

static int choice_of(const char *val, const char *choices)
{
    return choice_in(val, strlen(val), choices);
}

/* scheme://host[...]: a scheme among choices, a host, and no space or
 * control character anywhere. */
static int url_of(const char *val, const char *schemes)
{
    const char *sep = strstr(val, "://");

    if (sep == NULL || !choice_in(val, (size_t)(sep - val), schemes))
        return 0;
    if (sep[3] == '\0' || sep[3] == '/' || sep[3] == ':' || sep[3] == '?' || sep[3] == '#')
        return 0;
    for (const char *p = val; *p != '\0'; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return 0;
    return 1;
}

/* "a, b or c" (each followed by suffix) from "a|b|c", into out. */
static const char *choices_text(const char *choices, const char *suffix, char *out, size_t size)
{
    size_t n = 0, count = 1, i = 0;

    for (const char *p = choices; *p != '\0'; p++)
        count += *p == '|';
    out[0] = '\0';
    for (const char *p = choices; *p != '\0' && n < size; i++) {
        size_t len = strcspn(p, "|");
        int w = snprintf(out + n, size - n, "%s%.*s%s",
                         i == 0           ? ""
                         : i + 1 == count ? " or "
                                          : ", ",
                         (int)len, p, suffix);
        if (w < 0)
            break;
        n += (size_t)w;
        p += len + (p[len] == '|');
    }
    return out;
}

/* Parses a decimal (or octal for modes) integer with range checks. */
static int parse_int(const char *s, int base, long min, long max, int *out)
{
    char *end;
    long v;

    if (*s == '\0' || isspace((unsigned char)*s))
        return UMS_EINVALID;
    errno = 0;
    v = strtol(s, &end, base);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return UMS_EINVALID;
    *out = (int)v;
    return UMS_OK;
}

/* Stores `val` into the key's field; err names `where`. */
int config_key_set(struct ums_config *c, const struct config_key *k, const char *val,
                   const char *where, char *err, size_t errlen)
{
    char cbuf[128];
    int iv, lv;

    switch (k->type) {
    case CT_STR:
        if (k->min > 0 && val[0] == '\0') {
            config_errf(err, errlen, "%s: [%s] %s must not be empty", where, k->section, k->name);
            return UMS_EINVALID;
        }
        return set_text(c, k, val);
    case CT_INT:
        if (parse_int(val, 10, k->min, k->max, &iv) != UMS_OK) {
            config_errf(err, errlen, "%s: [%s] %s must be an integer from %ld to %ld", where,
                        k->section, k->name, k->min, k->max);
            return UMS_EINVALID;
        }
        *config_key_int(c, k) = iv;
        return UMS_OK;
    case CT_MODE:
        if (parse_int(val, 8, k->min, k->max, &iv) != UMS_OK) {
            config_errf(err, errlen, "%s: [%s] %s must be an octal mode such as 0660", where,
                        k->section, k->name);
            return UMS_EINVALID;
        }
        *config_key_int(c, k) = iv;
        return UMS_OK;
    case CT_BOOL:
        if (strcmp(val, "true") == 0 || strcmp(val, "yes") == 0 || strcmp(val, "on") == 0 ||
            strcmp(val, "1") == 0) {
            *config_key_int(c, k) = 1;
        } else if (strcmp(val, "false") == 0 || strcmp(val, "no") == 0 || strcmp(val, "off") == 0 ||
                   strcmp(val, "0") == 0) {
            *config_key_int(c, k) = 0;
        } else {
            config_errf(err, errlen, "%s: [%s] %s must be true or false", where, k->section,
                        k->name);
            return UMS_EINVALID;
        }
        return UMS_OK;
    case CT_LEVEL:
        lv = log_level_parse(val);
        if (lv < 0) {
            config_errf(err, errlen, "%s: [%s] %s must be one of debug, info, warn, error", where,
                        k->section, k->name);
            return UMS_EINVALID;
        }
        *config_key_int(c, k) = lv;
        return UMS_OK;
    case CT_ENUM:
        if (!choice_of(val, k->choices)) {
            config_errf(err, errlen, "%s: [%s] %s must be %s", where, k->section, k->name,
                        choices_text(k->choices, "", cbuf, sizeof(cbuf)));
            return UMS_EINVALID;
        }
        return set_text(c, k, val);
    case CT_URL:
        if (!url_of(val, k->choices)) {
            config_errf(err, errlen, "%s: [%s] %s must be an %s URL with a host", where, k->section,
                        k->name, choices_text(k->choices, "://", cbuf, sizeof(cbuf)));
            return UMS_EINVALID;
        }
        return set_text(c, k, val);
    }
    return UMS_ERR;
}

/* 1 when url is https://, or http:// to a loopback host (a local stand-in). */
static int outbound_url_ok(const char *url)
{
    static const char *const loop[] = {"http://127.0.0.1", "http://localhost", "http://[::1]"};

    if (url == NULL || strncmp(url, "https://", 8) == 0)
        return 1;
    for (size_t i = 0; i < UMS_ARRAY_LEN(loop); i++) {
        size_t n = strlen(loop[i]);
        if (strncmp(url, loop[i], n) == 0 && (url[n] == ':' || url[n] == '/' || url[n] == '\0'))
            return 1;
    }
    return 0;
}

/* An enabled provider needs its client and sends secrets over TLS only. */
static int provider_valid(const struct oauth_provider_config *p, const char *name, char *err,
                          size_t errlen)
{
    const char *urls[] = {p->authorize_url, p->token_url, p->userinfo_url, p->jwks_url, p->api_url};

    if (!p->enabled)
        return UMS_OK;
    if (p->client_id[0] == '\0' || p->client_secret[0] == '\0') {
        config_errf(err, errlen, "[%s] enabled needs client_id and client_secret", name);
        return UMS_EINVALID;
    }
    for (size_t i = 0; i < UMS_ARRAY_LEN(urls); i++)
        if (!outbound_url_ok(urls[i]) || (urls[i] != NULL && strpbrk(urls[i], "?#@ ") != NULL)) {
            config_errf(err, errlen,
                        "[%s] %s: an https:// URL (http:// only to a loopback stand-in), "
                        "with no user, query or fragment",
                        name, urls[i]);
            return UMS_EINVALID;
        }
    return UMS_OK;
}

/* Checks that need more than one key or more than a type. */
static int validate(struct ums_config *c, char *err, size_t errlen)
{
    const char *l = c->server.listen;

    if (l[0] == '/') {
        if (strlen(l) >= 108) {
            config_errf(err, errlen, "[server] listen: unix socket path longer than 107 bytes");
            return UMS_EINVALID;
        }
    } else {
        const char *colon = strrchr(l, ':');
        int port;
        if (colon == NULL || parse_int(colon + 1, 10, 1, 65535, &port) != UMS_OK) {
            config_errf(err, errlen,
                        "[server] listen must be an absolute socket path or host:port");
            return UMS_EINVALID;
        }
    }
    /* Loopback only: it tells anyone who asks whether a token is good. */
    if (c->server.authorizer_listen[0] != '\0') {
        const char *a = c->server.authorizer_listen, *colon = strrchr(a, ':');
        size_t hl = colon != NULL ? (size_t)(colon - a) : 0;
        int port, loopback = (hl > 4 && strncmp(a, "127.", 4) == 0) ||
                             (hl == 5 && strncmp(a, "[::1]", 5) == 0);
        if (colon == NULL || !loopback || parse_int(colon + 1, 10, 1, 65535, &port) != UMS_OK) {
            config_errf(err, errlen,
                        "[server] authorizer_listen must be a loopback address and port "
                        "(127.0.0.1:9009, [::1]:9009)");
            return UMS_EINVALID;
        }
    }
    if (db_replica_add_list(NULL, c->database.replica_urls, err, errlen) != UMS_OK)
        return UMS_EINVALID;
    if (kv_sentinels_parse(c->redis.sentinels, NULL, NULL, err, errlen) != UMS_OK)
        return UMS_EINVALID;
    if (c->redis.sentinels[0] != '\0' && c->redis.master_name[0] == '\0') {
        config_errf(err, errlen, "[redis] sentinels needs master_name");
        return UMS_EINVALID;
    }
    if (strcmp(c->auth.jwt_algorithm, "HS256") == 0 && strlen(c->auth.jwt_secret) < 32) {
        config_errf(err, errlen, "[auth] jwt_secret must have at least 32 characters for HS256");
        return UMS_EINVALID;
    }
    if (strcmp(c->push.transport, "fcm") == 0 && c->push.fcm_service_account_file[0] == '\0') {
        config_errf(err, errlen, "[push] fcm needs fcm_service_account_file");
        return UMS_EINVALID;
    }
    if (provider_valid(&c->google, "google", err, errlen) != UMS_OK ||
        provider_valid(&c->github, "github", err, errlen) != UMS_OK)
        return UMS_EINVALID;
    if (strpbrk(c->email.from, "\r\n") != NULL) {
        config_errf(err, errlen, "[email] from must be one line");
        return UMS_EINVALID;
    }
    if (c->auth.jwt_issuer[0] == '\0') {
        char *dup = strdup(c->auth.external_url);
        if (dup == NULL)
            return UMS_ERR;
        free(c->auth.jwt_issuer);
        c->auth.jwt_issuer = dup;
    }
    return UMS_OK;
}

int config_parse(struct ums_config **out, const char *text, size_t len, const char *name, char *err,
                 size_t errlen)
{
    struct ums_config *c = calloc(1, sizeof(*c));
    unsigned char seen[UMS_ARRAY_LEN(config_keys)] = {0};
    int rc = UMS_ERR;

    *out = NULL;
    if (c == NULL)
        return UMS_ERR;
    for (size_t i = 0; i < config_keys_len; i++) {
        rc = config_key_set(c, &config_keys[i], config_keys[i].def, "default", err, errlen);
        if (rc != UMS_OK)
            goto out;
    }
    rc = config_source_text(c, text, len, name, seen, err, errlen);
    if (rc != UMS_OK)
        goto out;
    rc = config_source_env(c, err, errlen);
    if (rc != UMS_OK)
        goto out;
    rc = validate(c, err, errlen);
out:
    if (rc != UMS_OK) {
        config_free(c);
        return rc == UMS_ERR ? UMS_ERR : UMS_EINVALID;
    }
    *out = c;
    return UMS_OK;
}

int config_load(struct ums_config **out, const char *path, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    rc = file_read(path, CONFIG_MAX_BYTES, &text, &len);
    if (rc != UMS_OK) {
        if (rc == UMS_EINVALID)
            config_errf(err, errlen, "%s: %s", path,
                        errno == EFBIG || errno == EISDIR ? "not a regular file of at most 1 MiB"
                                                          : strerror(errno));
        return rc;
    }
    rc = config_parse(out, text, len, path, err, errlen);
    free(text);
    return rc;
}

void config_free(struct ums_config *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < config_keys_len; i++) {
        if (!config_key_is_text(&config_keys[i]))
            continue;
        char **slot = config_key_str(c, &config_keys[i]);
        if (*slot != NULL && config_keys[i].secret)
            explicit_bzero(*slot, strlen(*slot));
        free(*slot);
    }
    free(c);
}
