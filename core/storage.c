/* storage.c - avatar objects: the key rules and the choice of backend, a
 * local folder (storage_local.c) or S3-compatible storage (storage_s3.c). */
#include "storage.h"
#include "storage_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "../util/log.h"
#include "../util/ums.h"

#define KEY_MAX 200

/*
 * 1 when key is at most KEY_MAX bytes of [a-z0-9._/-] without "..", made of
 * non-empty segments (no leading, trailing or doubled '/') none of which
 * starts with '.': no "." segments, and no name that could clash with the
 * local backend's temporary files or be a hidden file to the web server.
 */
static int key_valid(const char *key)
{
    size_t n;

    if (key == NULL)
        return 0;
    n = strnlen(key, KEY_MAX + 1);
    if (n == 0 || n > KEY_MAX || strstr(key, "..") != NULL || key[n - 1] == '/')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = key[i];
        if ((i == 0 || key[i - 1] == '/') && (c == '/' || c == '.'))
            return 0;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-' || c == '/'))
            return 0;
    }
    return 1;
}

/* 1 when s is 1..max bytes of printable ASCII (nothing that could end a header). */
int storage_printable(const char *s, size_t max)
{
    size_t n;

    if (s == NULL)
        return 0;
    n = strnlen(s, max + 1);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

/* Length of s without its trailing slashes. */
size_t storage_trim_len(const char *s)
{
    size_t n = strlen(s);

    while (n > 0 && s[n - 1] == '/')
        n--;
    return n;
}

/* *out = base (trailing '/' dropped) "/" [mid "/"] key, malloc'd. 0 or UMS_ERR. */
int storage_url_join(char **out, const char *base, const char *mid, const char *key)
{
    size_t blen = storage_trim_len(base);
    size_t size = blen + 1 + (mid != NULL ? strlen(mid) + 1 : 0) + strlen(key) + 1;
    char *p = malloc(size);
    int n;

    *out = NULL;
    if (p == NULL)
        return UMS_ERR;
    n = snprintf(p, size, "%.*s/%s%s%s", (int)blen, base, mid != NULL ? mid : "",
                 mid != NULL ? "/" : "", key);
    if (n < 0 || (size_t)n != size - 1) {
        free(p);
        return UMS_ERR;
    }
    *out = p;
    return UMS_OK;
}

/* The configured backend: 0 local, 1 s3, -1 (logged) anything else. */
static int backend(const struct ums_config *cfg)
{
    const char *b = cfg->storage.backend;

    if (b != NULL && strcmp(b, "local") == 0)
        return 0;
    if (b != NULL && strcmp(b, "s3") == 0)
        return 1;
    log_error("storage: unknown backend \"%s\"", b != NULL && storage_printable(b, 32) ? b : "?");
    return -1;
}

int storage_put(const struct ums_config *cfg, const char *key, const void *data, size_t len,
                const char *ctype, char **url)
{
    const char *pub = cfg->storage.public_url;
    int be, rc = UMS_EINVALID;

    *url = NULL;
    if (!key_valid(key) || !storage_printable(ctype, CTYPE_MAX) || (data == NULL && len > 0)) {
        log_warn("storage: put refused: bad key, content type or data");
        goto out;
    }
    be = backend(cfg);
    if (be < 0)
        goto out;
    if (be == 0) {
        rc = storage_local_put(cfg, key, data, len, url);
        goto out;
    }
    rc = storage_s3_send(cfg, key, data, len, ctype, 0);
    if (rc != UMS_OK)
        goto out;
    if (pub != NULL && pub[0] != '\0')
        rc = storage_url_join(url, pub, NULL, key);
    else
        rc = storage_url_join(url, cfg->storage.s3_endpoint, cfg->storage.s3_bucket, key);
out:
    return rc;
}

int storage_delete(const struct ums_config *cfg, const char *key)
{
    int be;

    if (!key_valid(key)) {
        log_warn("storage: delete refused: bad key");
        return UMS_EINVALID;
    }
    be = backend(cfg);
    if (be < 0)
        return UMS_EINVALID;
    return be == 0 ? storage_local_delete(cfg, key) : storage_s3_send(cfg, key, NULL, 0, NULL, 1);
}
