/* profile.c - profile reads (from the cached user object) and writes. */
#include "profile.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "audit.h"
#include "ctx.h"
#include "db.h"
#include "ums.h"
#include "users.h"
#include "utf8.h"

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
    *json = strdup(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
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
                  const struct profile_patch *p, const char *ip, const char **field)
{
    const char *q[9];
    int rc;

    *field = NULL;
    if (p->set_avatar_url && p->avatar_url != NULL && !avatar_url_valid(p->avatar_url))
        *field = "avatar_url";
    else if (p->set_bio && p->bio != NULL && !bio_valid(p->bio))
        *field = "bio";
    else if (p->set_timezone && p->timezone != NULL && !profile_timezone_valid(p->timezone))
        *field = "timezone";
    else if (p->set_preferences && p->preferences_json != NULL &&
             strlen(p->preferences_json) > PREFERENCES_MAX_BYTES)
        *field = "preferences";
    if (*field != NULL)
        return UMS_EINVALID;
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
