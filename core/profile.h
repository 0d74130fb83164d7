/* profile.h - profiles: avatar_url, bio, timezone, preferences. Reads come
 * from the cached user object (users_get); every write drops the cache. */
#ifndef UMS_PROFILE_H
#define UMS_PROFILE_H

#include <stddef.h>

struct ums_ctx;
struct ums_err;

/* The profile of user id as JSON (*json malloc'd): {user_id, name,
 * avatar_url, bio, timezone[, preferences]}; preferences only when full is
 * set (the owner or an admin). UMS_ENOTFOUND. */
int profile_get(struct ums_ctx *c, const char *id, int full, char **json);

/* A change; a member is applied when its set_ flag is 1 (value NULL clears). */
struct profile_patch {
    int set_avatar_url, set_bio, set_timezone, set_preferences;
    const char *avatar_url;
    const char *bio;
    const char *timezone;
    const char *preferences_json; /* a JSON object, already parsed once */
};

/* Validates and stores a change. UMS_EDENIED with the record naming the field, UMS_ENOTFOUND. */
int profile_patch(struct ums_ctx *c, const char *actor, const char *id,
                  const struct profile_patch *p, const char *ip, struct ums_err *err);

#define AVATAR_MAX_BYTES (2 * 1024 * 1024)

/* The MIME type of a PNG, JPEG or WebP image judged by its first bytes (and
 * its file extension in *ext), or NULL for anything else. */
const char *profile_image_type(const unsigned char *p, size_t n, const char **ext);

/* Stores an avatar image (checked by its magic bytes, at most 2 MiB) through
 * the configured storage and points the profile at it (*url, malloc'd); the
 * previous avatar this service stored is removed. UMS_EDENIED with
 * FAIL_IMAGE (not an image), UMS_ETOOBIG, UMS_ENOTFOUND, UMS_EUNAVAILABLE
 * (storage down). */
int profile_set_avatar(struct ums_ctx *c, const char *actor, const char *id, const void *data,
                       size_t len, const char *ip, char **url, struct ums_err *err);

/* Clears the profile's avatar_url and removes the object this service
 * stored for it, if any. UMS_ENOTFOUND, or profile_patch's failures. */
int profile_remove_avatar(struct ums_ctx *c, const char *actor, const char *id, const char *ip,
                          struct ums_err *err);

/* 1 when tz names a zone of the system's zone database (/usr/share/zoneinfo). */
int profile_timezone_valid(const char *tz);

#endif
