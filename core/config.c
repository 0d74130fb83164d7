/* config.c - the configuration schema, INI parsing, environment overrides. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/file.h"
#include "../util/log.h"
#include "../util/ums.h"

#define CONFIG_MAX_BYTES (1024 * 1024)

#ifndef UMS_TEMPLATES_DIR
#define UMS_TEMPLATES_DIR "/usr/share/ums/templates"
#endif
#define SECRET_MAX_BYTES 65536

enum ctype { CT_STR, CT_INT, CT_MODE, CT_LEVEL, CT_BOOL };

struct key {
    const char *section;
    const char *name;
    enum ctype type;
    size_t off;
    const char *def;
    long min, max;
    int secret; /* may be given as name_file; masked in dumps */
};

#define F(field) offsetof(struct ums_config, field)

/* Every key ums knows. Anything else in the file is an error. */
static const struct key keys[] = {
    {"server", "listen", CT_STR, F(server.listen), "/run/ums/ums-fcgi.sock", 0, 0, 0},
    {"server", "socket_mode", CT_MODE, F(server.socket_mode), "0660", 0, 0777, 0},
    {"server", "workers", CT_INT, F(server.workers), "4", 1, 256, 0},
    {"server", "pid_file", CT_STR, F(server.pid_file), "", 0, 0, 0},
    {"server", "user", CT_STR, F(server.user), "", 0, 0, 0},
    {"server", "socket_group", CT_STR, F(server.socket_group), "", 0, 0, 0},
    {"server", "max_requests", CT_INT, F(server.max_requests), "0", 0, INT_MAX, 0},
    {"server", "body_max", CT_INT, F(server.body_max), "16384", 1024, 64 * 1024 * 1024, 0},
    {"server", "graceful_timeout", CT_INT, F(server.graceful_timeout), "30", 1, 3600, 0},
    {"database", "url", CT_STR, F(database.url), "postgresql:///ums", 0, 0, 0},
    {"database", "password", CT_STR, F(database.password), "", 0, 0, 1},
    {"database", "connect_timeout", CT_INT, F(database.connect_timeout), "5", 1, 60, 0},
    {"database", "statement_timeout_ms", CT_INT, F(database.statement_timeout_ms), "5000", 0,
     600000, 0},
    {"redis", "host", CT_STR, F(redis.host), "127.0.0.1", 0, 0, 0},
    {"redis", "port", CT_INT, F(redis.port), "6379", 1, 65535, 0},
    {"redis", "password", CT_STR, F(redis.password), "", 0, 0, 1},
    {"redis", "db", CT_INT, F(redis.db), "0", 0, 15, 0},
    {"redis", "timeout_ms", CT_INT, F(redis.timeout_ms), "1000", 10, 60000, 0},
    {"auth", "site_url", CT_STR, F(auth.site_url), "http://localhost:3000", 0, 0, 0},
    {"auth", "external_url", CT_STR, F(auth.external_url), "http://localhost:8080/auth/v1", 0, 0,
     0},
    {"auth", "jwt_issuer", CT_STR, F(auth.jwt_issuer), "", 0, 0, 0},
    {"auth", "jwt_algorithm", CT_STR, F(auth.jwt_algorithm), "RS256", 0, 0, 0},
    {"auth", "jwt_private_key_file", CT_STR, F(auth.jwt_private_key_file), "", 0, 0, 0},
    {"auth", "jwt_secret", CT_STR, F(auth.jwt_secret), "", 0, 0, 1},
    {"auth", "jwt_kid", CT_STR, F(auth.jwt_kid), "", 0, 0, 0},
    {"auth", "access_token_ttl", CT_INT, F(auth.access_token_ttl), "900", 60, 86400, 0},
    {"auth", "refresh_token_ttl", CT_INT, F(auth.refresh_token_ttl), "604800", 300, 31536000, 0},
    {"auth", "session_lifetime", CT_INT, F(auth.session_lifetime), "2592000", 300, 31536000, 0},
    {"auth", "refresh_reuse_interval", CT_INT, F(auth.refresh_reuse_interval), "10", 0, 300, 0},
    {"auth", "refresh_token_secret", CT_STR, F(auth.refresh_token_secret), "", 0, 0, 1},
    {"auth", "service_key", CT_STR, F(auth.service_key), "", 0, 0, 1},
    {"auth", "require_email_confirmation", CT_BOOL, F(auth.require_email_confirmation), "false", 0,
     1, 0},
    {"auth", "uri_allow_list", CT_STR, F(auth.uri_allow_list), "", 0, 0, 0},
    {"auth", "argon2_memory_kib", CT_INT, F(auth.argon2_memory_kib), "19456", 1024, 1048576, 0},
    {"auth", "argon2_iterations", CT_INT, F(auth.argon2_iterations), "2", 1, 100, 0},
    {"auth", "argon2_parallelism", CT_INT, F(auth.argon2_parallelism), "1", 1, 16, 0},
    {"auth", "lockout_threshold", CT_INT, F(auth.lockout_threshold), "5", 1, 1000, 0},
    {"auth", "lockout_window", CT_INT, F(auth.lockout_window), "900", 1, 86400, 0},
    {"auth", "lockout_duration", CT_INT, F(auth.lockout_duration), "900", 1, 86400, 0},
    {"auth", "roles", CT_STR, F(auth.roles), "user,admin", 0, 0, 0},
    {"auth", "otp_ttl", CT_INT, F(auth.otp_ttl), "3600", 60, 86400, 0},
    {"auth", "reauthentication_window", CT_INT, F(auth.reauthentication_window), "600", 0, 2592000,
     0},
    {"limits", "signup_per_5min", CT_INT, F(limits.signup_per_5min), "30", 0, 1000000, 0},
    {"limits", "recover_per_5min", CT_INT, F(limits.recover_per_5min), "30", 0, 1000000, 0},
    {"limits", "resend_per_5min", CT_INT, F(limits.resend_per_5min), "30", 0, 1000000, 0},
    {"limits", "verify_per_5min", CT_INT, F(limits.verify_per_5min), "30", 0, 1000000, 0},
    {"limits", "token_per_5min", CT_INT, F(limits.token_per_5min), "30", 0, 1000000, 0},
    {"limits", "refresh_per_5min", CT_INT, F(limits.refresh_per_5min), "150", 0, 1000000, 0},
    {"limits", "user_update_per_5min", CT_INT, F(limits.user_update_per_5min), "30", 0, 1000000, 0},
    {"limits", "user_update_per_user_per_5min", CT_INT, F(limits.user_update_per_user_per_5min),
     "20", 0, 1000000, 0},
    {"limits", "email_per_recipient_per_5min", CT_INT, F(limits.email_per_recipient_per_5min), "3",
     0, 1000000, 0},
    {"email", "transport", CT_STR, F(email.transport), "file", 0, 0, 0},
    {"email", "from", CT_STR, F(email.from), "ums <no-reply@localhost>", 0, 0, 0},
    {"email", "maildir", CT_STR, F(email.maildir), "/var/lib/ums/maildir", 0, 0, 0},
    {"email", "sendgrid_url", CT_STR, F(email.sendgrid_url), "https://api.sendgrid.com", 0, 0, 0},
    {"email", "sendgrid_api_key", CT_STR, F(email.sendgrid_api_key), "", 0, 0, 1},
    {"email", "smtp_url", CT_STR, F(email.smtp_url), "smtp://127.0.0.1:25", 0, 0, 0},
    {"email", "smtp_tls", CT_STR, F(email.smtp_tls), "starttls", 0, 0, 0},
    {"email", "smtp_username", CT_STR, F(email.smtp_username), "", 0, 0, 0},
    {"email", "smtp_password", CT_STR, F(email.smtp_password), "", 0, 0, 1},
    {"email", "smtp_ca_file", CT_STR, F(email.smtp_ca_file), "", 0, 0, 0},
    {"email", "timeout_ms", CT_INT, F(email.timeout_ms), "10000", 100, 300000, 0},
    {"email", "connections", CT_INT, F(email.connections), "8", 1, 64, 0},
    {"email", "templates_dir", CT_STR, F(email.templates_dir), UMS_TEMPLATES_DIR, 0, 0, 0},
    {"notifier", "consumer", CT_STR, F(notifier.consumer), "", 0, 0, 0},
    {"notifier", "pid_file", CT_STR, F(notifier.pid_file), "", 0, 0, 0},
    {"notifier", "batch", CT_INT, F(notifier.batch), "32", 1, 1000, 0},
    {"notifier", "republish_after", CT_INT, F(notifier.republish_after), "30", 1, 86400, 0},
    {"notifier", "keep_days", CT_INT, F(notifier.keep_days), "30", 0, 3650, 0},
    {"notifier", "redeliver_after", CT_INT, F(notifier.redeliver_after), "900", 1, 86400, 0},
    {"notifier", "max_attempts", CT_INT, F(notifier.max_attempts), "8", 1, 100, 0},
    {"notifier", "backoff_base_ms", CT_INT, F(notifier.backoff_base_ms), "1000", 10, 3600000, 0},
    {"notifier", "backoff_max_ms", CT_INT, F(notifier.backoff_max_ms), "300000", 10, 86400000, 0},
    {"notifier", "claim_idle_ms", CT_INT, F(notifier.claim_idle_ms), "60000", 1000, 86400000, 0},
    {"push", "transport", CT_STR, F(push.transport), "none", 0, 0, 0},
    {"push", "dir", CT_STR, F(push.dir), "/var/lib/ums/push", 0, 0, 0},
    {"push", "fcm_url", CT_STR, F(push.fcm_url), "https://fcm.googleapis.com", 0, 0, 0},
    {"push", "fcm_service_account_file", CT_STR, F(push.fcm_service_account_file), "", 0, 0, 0},
    {"push", "fcm_project_id", CT_STR, F(push.fcm_project_id), "", 0, 0, 0},
    {"push", "timeout_ms", CT_INT, F(push.timeout_ms), "10000", 100, 300000, 0},
    {"storage", "backend", CT_STR, F(storage.backend), "local", 0, 0, 0},
    {"storage", "local_dir", CT_STR, F(storage.local_dir), "/var/lib/ums/avatars", 0, 0, 0},
    {"storage", "public_url", CT_STR, F(storage.public_url), "http://localhost:8080/avatars", 0, 0,
     0},
    {"storage", "s3_endpoint", CT_STR, F(storage.s3_endpoint), "", 0, 0, 0},
    {"storage", "s3_bucket", CT_STR, F(storage.s3_bucket), "", 0, 0, 0},
    {"storage", "s3_region", CT_STR, F(storage.s3_region), "us-east-1", 0, 0, 0},
    {"storage", "s3_access_key", CT_STR, F(storage.s3_access_key), "", 0, 0, 0},
    {"storage", "s3_secret_key", CT_STR, F(storage.s3_secret_key), "", 0, 0, 1},
    {"storage", "timeout_ms", CT_INT, F(storage.timeout_ms), "10000", 100, 300000, 0},
    {"log", "file", CT_STR, F(log.file), "", 0, 0, 0},
    {"log", "level", CT_LEVEL, F(log.level), "info", 0, 0, 0},
};

/* Where each key's value came from, for messages. */
struct origin {
    char what[160];
};

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static char **str_slot(struct ums_config *c, const struct key *k)
{
    return (char **)(void *)((char *)c + k->off);
}

static int *int_slot(struct ums_config *c, const struct key *k)
{
    return (int *)(void *)((char *)c + k->off);
}

static const struct key *key_find(const char *section, const char *name)
{
    for (size_t i = 0; i < UMS_ARRAY_LEN(keys); i++)
        if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
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
static int set_value(struct ums_config *c, const struct key *k, const char *val, const char *where,
                     char *err, size_t errlen)
{
    int iv, lv;

    switch (k->type) {
    case CT_STR: {
        char *dup = strdup(val);
        if (dup == NULL)
            return UMS_ERR;
        free(*str_slot(c, k));
        *str_slot(c, k) = dup;
        return UMS_OK;
    }
    case CT_INT:
        if (parse_int(val, 10, k->min, k->max, &iv) != UMS_OK) {
            errf(err, errlen, "%s: [%s] %s must be an integer from %ld to %ld", where, k->section,
                 k->name, k->min, k->max);
            return UMS_EINVALID;
        }
        *int_slot(c, k) = iv;
        return UMS_OK;
    case CT_MODE:
        if (parse_int(val, 8, k->min, k->max, &iv) != UMS_OK) {
            errf(err, errlen, "%s: [%s] %s must be an octal mode such as 0660", where, k->section,
                 k->name);
            return UMS_EINVALID;
        }
        *int_slot(c, k) = iv;
        return UMS_OK;
    case CT_BOOL:
        if (strcmp(val, "true") == 0 || strcmp(val, "yes") == 0 || strcmp(val, "on") == 0 ||
            strcmp(val, "1") == 0) {
            *int_slot(c, k) = 1;
        } else if (strcmp(val, "false") == 0 || strcmp(val, "no") == 0 || strcmp(val, "off") == 0 ||
                   strcmp(val, "0") == 0) {
            *int_slot(c, k) = 0;
        } else {
            errf(err, errlen, "%s: [%s] %s must be true or false", where, k->section, k->name);
            return UMS_EINVALID;
        }
        return UMS_OK;
    case CT_LEVEL:
        lv = log_level_parse(val);
        if (lv < 0) {
            errf(err, errlen, "%s: [%s] %s must be one of debug, info, warn, error", where,
                 k->section, k->name);
            return UMS_EINVALID;
        }
        *int_slot(c, k) = lv;
        return UMS_OK;
    }
    return UMS_ERR;
}

/* Reads a secret file: at most 64 KiB, one trailing newline removed. */
static int read_secret(const char *path, char **out, const char *where, const struct key *k,
                       char *err, size_t errlen)
{
    char *data = NULL;
    size_t len = 0;
    int rc = file_read(path, SECRET_MAX_BYTES, &data, &len);

    if (rc != UMS_OK) {
        if (rc == UMS_EINVALID)
            errf(err, errlen, "%s: [%s] %s_file: cannot read %s: %s", where, k->section, k->name,
                 path, errno == EFBIG ? "larger than 64 KiB" : file_why(errno));
        return rc;
    }
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    data[len] = '\0';
    if (strlen(data) != len) {
        errf(err, errlen, "%s: [%s] %s_file: %s contains a NUL byte", where, k->section, k->name,
             path);
        free(data);
        return UMS_EINVALID;
    }
    *out = data;
    return UMS_OK;
}

static char *trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

/* Sets a key from the file, resolving name_file for secrets. */
static int apply(struct ums_config *c, const char *section, const char *name, const char *val,
                 const char *where, unsigned char *seen, char *err, size_t errlen)
{
    const struct key *k = key_find(section, name);
    size_t nlen = strlen(name);
    char base[64];
    char *secret = NULL;
    int rc;

    if (k != NULL) {
        if (seen[k - keys] & 1) {
            errf(err, errlen, "%s: [%s] %s is set twice", where, section, name);
            return UMS_EINVALID;
        }
        seen[k - keys] |= 1;
        return set_value(c, k, val, where, err, errlen);
    }
    if (nlen > 5 && nlen - 5 < sizeof(base) && strcmp(name + nlen - 5, "_file") == 0) {
        memcpy(base, name, nlen - 5);
        base[nlen - 5] = '\0';
        k = key_find(section, base);
        if (k != NULL && k->secret) {
            if (seen[k - keys] & 1) {
                errf(err, errlen, "%s: [%s] %s and %s are both set", where, section, base, name);
                return UMS_EINVALID;
            }
            seen[k - keys] |= 1;
            rc = read_secret(val, &secret, where, k, err, errlen);
            if (rc != UMS_OK)
                return rc;
            rc = set_value(c, k, secret, where, err, errlen);
            explicit_bzero(secret, strlen(secret));
            free(secret);
            return rc;
        }
    }
    errf(err, errlen, "%s: unknown key '%s' in [%s]", where, name, section);
    return UMS_EINVALID;
}

static int parse_text(struct ums_config *c, const char *text, size_t len, const char *name,
                      unsigned char *seen, char *err, size_t errlen)
{
    char section[64] = "";
    char line[4096];
    char where[512];
    size_t pos = 0, lineno = 0;

    if (memchr(text, '\0', len) != NULL) {
        errf(err, errlen, "%s: contains a NUL byte", name);
        return UMS_EINVALID;
    }
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
        char *s, *eq;
        int rc;

        lineno++;
        snprintf(where, sizeof(where), "%s:%zu", name, lineno);
        if (n >= sizeof(line)) {
            errf(err, errlen, "%s: line longer than %zu bytes", where, sizeof(line) - 1);
            return UMS_EINVALID;
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos += n + (nl != NULL ? 1 : 0);
        s = trim(line);
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (close == NULL || *trim(close + 1) != '\0' || close - s - 1 <= 0 ||
                (size_t)(close - s - 1) >= sizeof(section)) {
                errf(err, errlen, "%s: malformed section header", where);
                return UMS_EINVALID;
            }
            *close = '\0';
            snprintf(section, sizeof(section), "%s", trim(s + 1));
            continue;
        }
        eq = strchr(s, '=');
        if (eq == NULL) {
            errf(err, errlen, "%s: expected key = value", where);
            return UMS_EINVALID;
        }
        *eq = '\0';
        if (section[0] == '\0') {
            errf(err, errlen, "%s: key '%s' outside any [section]", where, trim(s));
            return UMS_EINVALID;
        }
        {
            char *val = trim(eq + 1);
            size_t vl = strlen(val);
            /* Optional double quotes keep leading or trailing spaces. */
            if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
                val[vl - 1] = '\0';
                val++;
            }
            rc = apply(c, section, trim(s), val, where, seen, err, errlen);
        }
        if (rc != UMS_OK)
            return rc;
    }
    return UMS_OK;
}

/* UMS_SECTION_KEY: upper case, dots and dashes become underscores. */
static void env_name(char *out, size_t outlen, const char *section, const char *name,
                     const char *suffix)
{
    size_t i = 0;
    const char *parts[4] = {"UMS_", section, "_", name};

    for (int p = 0; p < 4; p++)
        for (const char *s = parts[p]; *s != '\0' && i + 1 < outlen; s++)
            out[i++] = (*s == '.' || *s == '-') ? '_' : (char)toupper((unsigned char)*s);
    for (const char *s = suffix; *s != '\0' && i + 1 < outlen; s++)
        out[i++] = *s;
    out[i] = '\0';
}

static int apply_env(struct ums_config *c, char *err, size_t errlen)
{
    char ename[128], fname[128], where[160];
    char *secret = NULL;
    int rc;

    for (size_t i = 0; i < UMS_ARRAY_LEN(keys); i++) {
        const struct key *k = &keys[i];
        const char *v, *vf = NULL;

        env_name(ename, sizeof(ename), k->section, k->name, "");
        v = getenv(ename);
        if (k->secret) {
            env_name(fname, sizeof(fname), k->section, k->name, "_FILE");
            vf = getenv(fname);
        }
        if (v != NULL && vf != NULL) {
            errf(err, errlen, "environment: %s and %s are both set", ename, fname);
            return UMS_EINVALID;
        }
        if (v != NULL) {
            snprintf(where, sizeof(where), "environment %s", ename);
            rc = set_value(c, k, v, where, err, errlen);
            if (rc != UMS_OK)
                return rc;
        } else if (vf != NULL) {
            snprintf(where, sizeof(where), "environment %s", fname);
            rc = read_secret(vf, &secret, where, k, err, errlen);
            if (rc != UMS_OK)
                return rc;
            rc = set_value(c, k, secret, where, err, errlen);
            explicit_bzero(secret, strlen(secret));
            free(secret);
            if (rc != UMS_OK)
                return rc;
        }
    }
    return UMS_OK;
}

/* Checks that need more than one key or more than a range. */
static int validate(struct ums_config *c, char *err, size_t errlen)
{
    const char *l = c->server.listen;

    if (l[0] == '\0') {
        errf(err, errlen, "[server] listen must not be empty");
        return UMS_EINVALID;
    }
    if (l[0] == '/') {
        if (strlen(l) >= 108) {
            errf(err, errlen, "[server] listen: unix socket path longer than 107 bytes");
            return UMS_EINVALID;
        }
    } else {
        const char *colon = strrchr(l, ':');
        int port;
        if (colon == NULL || parse_int(colon + 1, 10, 1, 65535, &port) != UMS_OK) {
            errf(err, errlen, "[server] listen must be an absolute socket path or host:port");
            return UMS_EINVALID;
        }
    }
    if (c->redis.host[0] == '\0') {
        errf(err, errlen, "[redis] host must not be empty");
        return UMS_EINVALID;
    }
    if (strcmp(c->auth.jwt_algorithm, "RS256") != 0 &&
        strcmp(c->auth.jwt_algorithm, "HS256") != 0) {
        errf(err, errlen, "[auth] jwt_algorithm must be RS256 or HS256");
        return UMS_EINVALID;
    }
    if (strcmp(c->auth.jwt_algorithm, "HS256") == 0 && strlen(c->auth.jwt_secret) < 32) {
        errf(err, errlen, "[auth] jwt_secret must have at least 32 characters for HS256");
        return UMS_EINVALID;
    }
    if (strncmp(c->auth.site_url, "http://", 7) != 0 &&
        strncmp(c->auth.site_url, "https://", 8) != 0) {
        errf(err, errlen, "[auth] site_url must be an http:// or https:// URL");
        return UMS_EINVALID;
    }
    if (strncmp(c->auth.external_url, "http://", 7) != 0 &&
        strncmp(c->auth.external_url, "https://", 8) != 0) {
        errf(err, errlen, "[auth] external_url must be an http:// or https:// URL");
        return UMS_EINVALID;
    }
    if (strcmp(c->email.transport, "file") != 0 && strcmp(c->email.transport, "sendgrid") != 0 &&
        strcmp(c->email.transport, "smtp") != 0) {
        errf(err, errlen, "[email] transport must be file, sendgrid or smtp");
        return UMS_EINVALID;
    }
    if (strcmp(c->push.transport, "none") != 0 && strcmp(c->push.transport, "file") != 0 &&
        strcmp(c->push.transport, "fcm") != 0) {
        errf(err, errlen, "[push] transport must be none, file or fcm");
        return UMS_EINVALID;
    }
    if (strcmp(c->push.transport, "fcm") == 0 && c->push.fcm_service_account_file[0] == '\0') {
        errf(err, errlen, "[push] fcm needs fcm_service_account_file");
        return UMS_EINVALID;
    }
    if (strncmp(c->email.smtp_url, "smtp://", 7) != 0 &&
        strncmp(c->email.smtp_url, "smtps://", 8) != 0) {
        errf(err, errlen, "[email] smtp_url must be smtp://host:port or smtps://host:port");
        return UMS_EINVALID;
    }
    if (strcmp(c->email.smtp_tls, "starttls") != 0 && strcmp(c->email.smtp_tls, "none") != 0) {
        errf(err, errlen, "[email] smtp_tls must be starttls or none");
        return UMS_EINVALID;
    }
    if (strncmp(c->email.sendgrid_url, "https://", 8) != 0 &&
        strncmp(c->email.sendgrid_url, "http://", 7) != 0) {
        errf(err, errlen, "[email] sendgrid_url must be an http(s) URL");
        return UMS_EINVALID;
    }
    if (strpbrk(c->email.from, "\r\n") != NULL) {
        errf(err, errlen, "[email] from must be one line");
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
    unsigned char seen[UMS_ARRAY_LEN(keys)] = {0};
    int rc = UMS_ERR;

    *out = NULL;
    if (c == NULL)
        return UMS_ERR;
    for (size_t i = 0; i < UMS_ARRAY_LEN(keys); i++) {
        rc = set_value(c, &keys[i], keys[i].def, "default", err, errlen);
        if (rc != UMS_OK)
            goto out;
    }
    rc = parse_text(c, text, len, name, seen, err, errlen);
    if (rc != UMS_OK)
        goto out;
    rc = apply_env(c, err, errlen);
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
            errf(err, errlen, "%s: %s", path,
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
    for (size_t i = 0; i < UMS_ARRAY_LEN(keys); i++) {
        if (keys[i].type != CT_STR)
            continue;
        char **slot = str_slot(c, &keys[i]);
        if (*slot != NULL && keys[i].secret)
            explicit_bzero(*slot, strlen(*slot));
        free(*slot);
    }
    free(c);
}

/* name = value, with the password of a URL's user info (scheme://user:pw@)
 * and of a libpq key/value string (password=...) masked. */
static void print_redacted(const char *name, const char *v)
{
    const char *scheme = strstr(v, "://"), *at, *colon, *pw = strstr(v, "password=");

    if (scheme != NULL && (at = strchr(scheme + 3, '@')) != NULL &&
        (colon = memchr(scheme + 3, ':', (size_t)(at - scheme - 3))) != NULL) {
        printf("%s = %.*s:(set)%s\n", name, (int)(colon - v), v, at);
        return;
    }
    if (scheme == NULL && pw != NULL) {
        size_t tail = strcspn(pw + 9, " ");
        printf("%s = %.*spassword=(set)%s\n", name, (int)(pw - v), v, pw + 9 + tail);
        return;
    }
    printf("%s = %s\n", name, v);
}

void config_dump(const struct ums_config *cfg)
{
    struct ums_config *c = (struct ums_config *)cfg;
    const char *section = "";

    for (size_t i = 0; i < UMS_ARRAY_LEN(keys); i++) {
        const struct key *k = &keys[i];
        if (strcmp(section, k->section) != 0) {
            printf("%s[%s]\n", i ? "\n" : "", k->section);
            section = k->section;
        }
        switch (k->type) {
        case CT_STR:
            if (k->secret)
                printf("%s = %s\n", k->name, **str_slot(c, k) ? "(set)" : "");
            else
                print_redacted(k->name, *str_slot(c, k));
            break;
        case CT_INT:
            printf("%s = %d\n", k->name, *int_slot(c, k));
            break;
        case CT_MODE:
            printf("%s = %04o\n", k->name, (unsigned)*int_slot(c, k));
            break;
        case CT_BOOL:
            printf("%s = %s\n", k->name, *int_slot(c, k) ? "true" : "false");
            break;
        case CT_LEVEL: {
            static const char *const names[] = {"debug", "info", "warn", "error"};
            printf("%s = %s\n", k->name, names[*int_slot(c, k)]);
            break;
        }
        }
    }
}
