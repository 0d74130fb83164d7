/* route_profile.c - GET and PATCH /api/v1/users/{id}/profile, PUT and DELETE
 * .../avatar. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "../util/buf.h"
#include "../core/profile.h"
#include "../util/ums.h"
#include "../core/users.h"
#include "api.h"
#include "app.h"
#include "http.h"
#include "routes.h"

/* Any signed-in user may read the public fields; the owner and admins also
 * get the preferences. */
void route_profile_get(struct req *r)
{
    const char *id;
    char *json = NULL;
    int rc, full;

    if (api_target(r, TARGET_ANY_USER, &id))
        return;
    full = api_is_admin(r) || (!r->who.service && strcmp(id, r->who.user_id) == 0);
    rc = profile_get(&r->app->ctx, id, full, &json);
    if (rc == UMS_OK)
        reply_json(r, 200, json, strlen(json));
    else
        reply_fail(r, rc, NULL);
    free(json);
}

/* A nullable string member: *set is 1 when present (value or null). Its
 * type was checked before the handler (profile_patch_fields), and strict
 * JSON has no NUL in a string. */
static void nullable_str(struct req *r, const char *name, int *set, const char **out)
{
    struct json_object *v;

    *set = json_object_object_get_ex(r->json, name, &v);
    *out = *set && v != NULL ? json_object_get_string(v) : NULL;
}

void route_profile_patch(struct req *r)
{
    struct profile_patch p = {0};
    struct json_object *v;
    const char *id;
    struct ums_err err = {0};
    struct client_info ci;
    int rc;

    if (api_target(r, TARGET_SELF | TARGET_ADMIN, &id) || body_require_object(r))
        return;
    /* Only the declared members, each of its type (profile_patch_fields). */
    nullable_str(r, "avatar_url", &p.set_avatar_url, &p.avatar_url);
    nullable_str(r, "bio", &p.set_bio, &p.bio);
    nullable_str(r, "timezone", &p.set_timezone, &p.timezone);
    if (json_object_object_get_ex(r->json, "preferences", &v)) {
        p.set_preferences = 1;
        if (v != NULL)
            p.preferences_json = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
    }
    req_client(r, &ci);
    rc = profile_patch(&r->app->ctx, r->who.service ? NULL : r->who.user_id, id, &p, ci.ip, &err);
    if (rc != UMS_OK) {
        reply_fail(r, rc, &err);
        return;
    }
    route_profile_get(r);
}

/* PUT /users/{id}/avatar: the image itself is the body. */
void route_profile_avatar_put(struct req *r)
{
    const char *id, *ext;
    struct ums_err err = {0};
    struct client_info ci;
    char *url = NULL;
    int rc;

    if (api_target(r, TARGET_SELF, &id))
        return;
    if (r->body_len == 0 ||
        profile_image_type((const unsigned char *)r->body, r->body_len, &ext) == NULL) {
        reply_error(r, HE_IMAGE, NULL);
        return;
    }
    req_client(r, &ci);
    rc = profile_set_avatar(&r->app->ctx, r->who.user_id, id, r->body, r->body_len, ci.ip, &url,
                            &err);
    free(url);
    if (rc != UMS_OK) {
        reply_fail(r, rc, &err);
        return;
    }
    route_profile_get(r);
}

/* DELETE /users/{id}/avatar: the owner, or an admin taking down a picture. */
void route_profile_avatar_delete(struct req *r)
{
    const char *id;
    struct ums_err err = {0};
    struct client_info ci;
    int rc;

    if (api_target(r, TARGET_SELF | TARGET_ADMIN, &id))
        return;
    req_client(r, &ci);
    rc = profile_remove_avatar(&r->app->ctx, r->who.user_id, id, ci.ip, &err);
    if (rc != UMS_OK) {
        reply_fail(r, rc, &err);
        return;
    }
    route_profile_get(r);
}
