/* profile.c - profile reads (from the cached user object) and writes. */
#include "profile.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "audit.h"
#include "config.h"
#include "../util/crypto.h"
#include "storage.h"
#include "ctx.h"
#include "db.h"
#include "err.h"
#include "../util/ums.h"
#include "users.h"
#include "../util/utf8.h"

#ifndef UMS_ZONEINFO_DIR
#define UMS_ZONEINFO_DIR "/usr/share/zoneinfo"
#endif
#define AVATAR_URL_MAX 2048

int profile_timezone_valid(const char *tz)
{
    char path[256], magic[4];
    size_t n = strlen(tz);
    int fd, ok = 0;

    /* Area/Location names: letters, digits, '/', '_', '-', '+'; no dots, so
     * no "..", no hidden files and none of the database's own files. */
    if (n == 0 || n > 50 || tz[0] == '/' || tz[n - 1] == '/' || strstr(tz, "//") != NULL ||
        strspn(tz, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_-+") != n)
        return 0;
    if (strncmp(tz, "posix/", 6) == 0 || strncmp(tz, "right/", 6) == 0)
        return 0;
    snprintf(path, sizeof(path), "%s/%s", UMS_ZONEINFO_DIR, tz);
    /* Links are followed: Debian makes "UTC" and others links within the database. */
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ok = read(fd, magic, 4) == 4 && memcmp(magic, "TZif", 4) == 0;
    close(fd);
    return ok;
}

int profile_get(struct ums_ctx *c, const char *id, int full, char **json)
{
    struct json_object *u = NULL, *p, *out = NULL, *v;
    char *user = NULL;
    int rc = users_get(c, id, &user);
    static const char *const public_fields[] = {"avatar_url", "bio", "timezone"};

    *json = NULL;
    if (rc != UMS_OK)
        return rc;
    u = json_tokener_parse(user);
    if (u == NULL || !json_object_object_get_ex(u, "profile", &p)) {
        rc = UMS_ERR;
        goto out;
    }
    out = json_object_new_object();
    json_object_object_add(out, "user_id", json_object_new_string(id));
    if (json_object_object_get_ex(u, "name", &v))
        json_object_object_add(out, "name", json_object_get(v));
    for (size_t i = 0; i < UMS_ARRAY_LEN(public_fields); i++)
        if (json_object_object_get_ex(p, public_fields[i], &v))
            json_object_object_add(out, public_fields[i], json_object_get(v));
    if (full && json_object_object_get_ex(p, "preferences", &v))
        json_object_object_add(out, "preferences", json_object_get(v));
    *json = strdup(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN |
                                                           JSON_C_TO_STRING_NOSLASHESCAPE));
    rc = *json != NULL ? UMS_OK : UMS_ERR;
out:
    json_object_put(out);
    json_object_put(u);
    free(user);
    return rc;
}

static int avatar_url_valid(const char *s)
{
    size_t n = strlen(s);

    if (n > AVATAR_URL_MAX || !utf8_valid(s, n))
        return 0;
    if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f || s[i] == '"' || s[i] == '<' ||
            s[i] == '>' || s[i] == '\\')
            return 0;
    return 1;
}

static int bio_valid(const char *s)
{
    size_t n = strlen(s), chars = 0;

    if (!utf8_valid(s, n))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            chars++;
    return chars <= BIO_MAX_CHARS;
}

int profile_patch(struct ums_ctx *c, const char *actor, const char *id,
                  const struct profile_patch *p, const char *ip, struct ums_err *err)
{
    const char *q[9];
    int rc;

    if (p->set_avatar_url && p->avatar_url != NULL && !avatar_url_valid(p->avatar_url))
        return err_field(err, "avatar_url",
                         "avatar_url must be an http(s) URL of at most 2048 bytes");
    if (p->set_bio && p->bio != NULL && !bio_valid(p->bio))
        return err_field(err, "bio", "bio must be at most 500 characters");
    if (p->set_timezone && p->timezone != NULL && !profile_timezone_valid(p->timezone))
        return err_field(err, "timezone",
                         "timezone must be an IANA zone name such as Europe/Paris");
    if (p->set_preferences && p->preferences_json != NULL &&
        strlen(p->preferences_json) > PREFERENCES_MAX_BYTES)
        return err_field(err, "preferences", "preferences must be a JSON object of at most 16 KiB");
    q[0] = id;
    q[1] = p->avatar_url;
    q[2] = p->set_avatar_url ? "t" : "f";
    q[3] = p->bio;
    q[4] = p->set_bio ? "t" : "f";
    q[5] = p->timezone;
    q[6] = p->set_timezone ? "t" : "f";
    q[7] = p->preferences_json;
    q[8] = p->set_preferences ? "t" : "f";
    rc = db_exec(c->db, NULL, STMT_PROFILE_UPSERT, 9, q);
    if (rc == UMS_EINVALID)
        rc = UMS_ENOTFOUND; /* the foreign key: the user is gone */
    if (rc != UMS_OK)
        return rc;
    users_cache_drop(c, id);
    audit_write(c->db, actor, "profile.update", id, ip, NULL);
    return UMS_OK;
}

const char *profile_image_type(const unsigned char *p, size_t n, const char **ext)
{
    if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) {
        *ext = "png";
        return "image/png";
    }
    if (n >= 4 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff) {
        *ext = "jpg";
        return "image/jpeg";
    }
    if (n >= 16 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBPVP8", 7) == 0) {
        *ext = "webp";
        return "image/webp";
    }
    *ext = NULL;
    return NULL;
}

/* The storage key of the avatar this service stored for user id, in key
 * ("" when the profile names none, or a URL of somewhere else: only
 * objects this service stored for this user are ever removed).
 * UMS_ENOTFOUND when the user is unknown. */
static int stored_avatar(struct ums_ctx *c, const char *id, char *key, size_t n)
{
    char *user = NULL, prefix[600];
    const char *old = NULL;
    struct json_object *o = NULL, *pr, *v;

    key[0] = '\0';
    if (users_get(c, id, &user) == UMS_ENOTFOUND)
        return UMS_ENOTFOUND;
    if (user != NULL)
        o = json_tokener_parse(user);
    free(user);
    if (o != NULL && json_object_object_get_ex(o, "profile", &pr) &&
        json_object_object_get_ex(pr, "avatar_url", &v) && v != NULL)
        old = json_object_get_string(v);
    snprintf(prefix, sizeof(prefix), "%s/%s/", c->cfg->storage.public_url, id);
    if (old != NULL && strncmp(old, prefix, strlen(prefix)) == 0 &&
        strchr(old + strlen(prefix), '/') == NULL)
        snprintf(key, n, "%s/%s", id, old + strlen(prefix));
    json_object_put(o);
    return UMS_OK;
}

int profile_set_avatar(struct ums_ctx *c, const char *actor, const char *id, const void *data,
                       size_t len, const char *ip, char **url, struct ums_err *err)
{
    struct profile_patch p = {0};
    char key[128], hex[65], oldkey[128];
    const char *ctype, *ext;
    int rc;

    *url = NULL;
    ctype = profile_image_type(data, len, &ext);
    if (ctype == NULL)
        return err_set(err, FAIL_IMAGE, NULL);
    if (len > AVATAR_MAX_BYTES)
        return UMS_ETOOBIG;
    /* Content-addressed: the name is the image's SHA-256 (96 bits of it), so
     * a URL names one image for ever and is served as immutable; a new
     * image is a new URL, which caches and CDNs have never seen. */
    crypto_sha256_hex(hex, data, len);
    snprintf(key, sizeof(key), "%s/%.24s.%s", id, hex, ext);
    /* The current avatar, to remove once the new one is in place. */
    if (stored_avatar(c, id, oldkey, sizeof(oldkey)) == UMS_ENOTFOUND)
        return UMS_ENOTFOUND;
    rc = storage_put(c->cfg, key, data, len, ctype, url);
    if (rc != UMS_OK)
        return rc;
    p.set_avatar_url = 1;
    p.avatar_url = *url;
    rc = profile_patch(c, actor, id, &p, ip, err);
    if (rc != UMS_OK) {
        /* The same image again is the object the profile names: kept. */
        if (strcmp(key, oldkey) != 0)
            storage_delete(c->cfg, key);
        free(*url);
        *url = NULL;
        return rc;
    }
    if (oldkey[0] != '\0' && strcmp(key, oldkey) != 0)
        storage_delete(c->cfg, oldkey);
    return UMS_OK;
}

int profile_remove_avatar(struct ums_ctx *c, const char *actor, const char *id, const char *ip,
                          struct ums_err *err)
{
    struct profile_patch p = {0};
    char oldkey[128];
    int rc;

    if (stored_avatar(c, id, oldkey, sizeof(oldkey)) == UMS_ENOTFOUND)
        return UMS_ENOTFOUND;
    p.set_avatar_url = 1;
    p.avatar_url = NULL;
    rc = profile_patch(c, actor, id, &p, ip, err);
    /* The profile no longer names it: an object a failed removal leaves
     * behind (logged by the backend) is unreachable, not wrong, so the
     * answer stays a success, as after a replacement. */
    if (rc == UMS_OK && oldkey[0] != '\0')
        storage_delete(c->cfg, oldkey);
    return rc;
}
