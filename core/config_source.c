/* config_source.c - where values come from: the INI text of the file
 * (sections, comments, optional quotes), the UMS_SECTION_KEY environment,
 * and name_file / UMS_SECTION_KEY_FILE secret files. */
#include "config_schema.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/file.h"
#include "../util/ums.h"

#define SECRET_MAX_BYTES 65536

/* Reads a secret file: at most 64 KiB, one trailing newline removed. */
static int read_secret(const char *path, char **out, const char *where, const struct config_key *k,
                       char *err, size_t errlen)
{
    char *data = NULL;
    size_t len = 0;
    int rc = file_read(path, SECRET_MAX_BYTES, &data, &len);

    if (rc != UMS_OK) {
        if (rc == UMS_EINVALID)
            config_errf(err, errlen, "%s: [%s] %s_file: cannot read %s: %s", where, k->section,
                        k->name, path, errno == EFBIG ? "larger than 64 KiB" : file_why(errno));
        return rc;
    }
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    data[len] = '\0';
    if (strlen(data) != len) {
        config_errf(err, errlen, "%s: [%s] %s_file: %s contains a NUL byte", where, k->section,
                    k->name, path);
        free(data);
        return UMS_EINVALID;
    }
    *out = data;
    return UMS_OK;
}

/* Sets key k from the secret file at path; the copy is wiped. */
static int set_from_file(struct ums_config *c, const struct config_key *k, const char *path,
                         const char *where, char *err, size_t errlen)
{
    char *secret = NULL;
    int rc = read_secret(path, &secret, where, k, err, errlen);

    if (rc != UMS_OK)
        return rc;
    rc = config_key_set(c, k, secret, where, err, errlen);
    explicit_bzero(secret, strlen(secret));
    free(secret);
    return rc;
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
    const struct config_key *k = config_key_find(section, name);
    size_t nlen = strlen(name);
    char base[64];

    if (k != NULL) {
        if (seen[k - config_keys] & 1) {
            config_errf(err, errlen, "%s: [%s] %s is set twice", where, section, name);
            return UMS_EINVALID;
        }
        seen[k - config_keys] |= 1;
        return config_key_set(c, k, val, where, err, errlen);
    }
    if (nlen > 5 && nlen - 5 < sizeof(base) && strcmp(name + nlen - 5, "_file") == 0) {
        memcpy(base, name, nlen - 5);
        base[nlen - 5] = '\0';
        k = config_key_find(section, base);
        if (k != NULL && k->secret) {
            if (seen[k - config_keys] & 1) {
                config_errf(err, errlen, "%s: [%s] %s and %s are both set", where, section, base,
                            name);
                return UMS_EINVALID;
            }
            seen[k - config_keys] |= 1;
            return set_from_file(c, k, val, where, err, errlen);
        }
    }
    config_errf(err, errlen, "%s: unknown key '%s' in [%s]", where, name, section);
    return UMS_EINVALID;
}

int config_source_text(struct ums_config *c, const char *text, size_t len, const char *name,
                       unsigned char *seen, char *err, size_t errlen)
{
    char section[64] = "";
    char line[4096];
    char where[512];
    size_t pos = 0, lineno = 0;

    if (memchr(text, '\0', len) != NULL) {
        config_errf(err, errlen, "%s: contains a NUL byte", name);
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
            config_errf(err, errlen, "%s: line longer than %zu bytes", where, sizeof(line) - 1);
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
                config_errf(err, errlen, "%s: malformed section header", where);
                return UMS_EINVALID;
            }
            *close = '\0';
            snprintf(section, sizeof(section), "%s", trim(s + 1));
            continue;
        }
        eq = strchr(s, '=');
        if (eq == NULL) {
            config_errf(err, errlen, "%s: expected key = value", where);
            return UMS_EINVALID;
        }
        *eq = '\0';
        if (section[0] == '\0') {
            config_errf(err, errlen, "%s: key '%s' outside any [section]", where, trim(s));
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

int config_source_env(struct ums_config *c, char *err, size_t errlen)
{
    char ename[128], fname[128], where[160];
    int rc;

    for (size_t i = 0; i < config_keys_len; i++) {
        const struct config_key *k = &config_keys[i];
        const char *v, *vf = NULL;

        env_name(ename, sizeof(ename), k->section, k->name, "");
        v = getenv(ename);
        if (k->secret) {
            env_name(fname, sizeof(fname), k->section, k->name, "_FILE");
            vf = getenv(fname);
        }
        if (v != NULL && vf != NULL) {
            config_errf(err, errlen, "environment: %s and %s are both set", ename, fname);
            return UMS_EINVALID;
        }
        if (v != NULL) {
            snprintf(where, sizeof(where), "environment %s", ename);
            rc = config_key_set(c, k, v, where, err, errlen);
            if (rc != UMS_OK)
                return rc;
        } else if (vf != NULL) {
            snprintf(where, sizeof(where), "environment %s", fname);
            rc = set_from_file(c, k, vf, where, err, errlen);
            if (rc != UMS_OK)
                return rc;
        }
    }
    return UMS_OK;
}
