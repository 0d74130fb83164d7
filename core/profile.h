/* profile.h - profiles: avatar_url, bio, timezone, preferences. Reads come
 * from the cached user object (users_get); every write drops the cache. */
#ifndef UMS_PROFILE_H
#define UMS_PROFILE_H

#include <stddef.h>

struct ums_ctx;

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

/* Validates and stores a change. UMS_EINVALID with *field, UMS_ENOTFOUND. */
int profile_patch(struct ums_ctx *c, const char *actor, const char *id,
                  const struct profile_patch *p, const char *ip, const char **field);

/* 1 when tz names a zone of the system's zone database (/usr/share/zoneinfo). */
int profile_timezone_valid(const char *tz);

#endif
