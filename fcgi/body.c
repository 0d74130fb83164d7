/* body.c - members of a JSON request body, for handlers. The members a
 * route declares were checked by fields_check (fields.c) already; these
 * still refuse a wrong type (0 ok, -1 replied) for the ones it does not. */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "../util/arena.h"
#include "../util/ums.h"
#include "http.h"

int body_require_object(struct req *r)
{
    if (r->json == NULL || !json_object_is_type(r->json, json_type_object)) {
        reply_error(r, HE_VALIDATION, "The request body must be a JSON object.");
        return -1;
    }
    return 0;
}
int body_str(struct req *r, const char *name, const char **out, size_t *len)
{
    struct json_object *v;
    char msg[160];

    *out = NULL;
    *len = 0;
    if (r->json == NULL || !json_object_object_get_ex(r->json, name, &v) || v == NULL)
        return 0; /* absent or null */
    if (!json_object_is_type(v, json_type_string)) {
        snprintf(msg, sizeof(msg), "%s must be a string", name);
        reply_error(r, HE_VALIDATION, msg);
        return -1;
    }
    *out = json_object_get_string(v);
    *len = (size_t)json_object_get_string_len(v);
    return 0;
}
int body_object(struct req *r, const char *name, const char **json)
{
    struct json_object *v;
    char msg[160];

    *json = NULL;
    if (r->json == NULL || !json_object_object_get_ex(r->json, name, &v) || v == NULL)
        return 0;
    if (!json_object_is_type(v, json_type_object)) {
        snprintf(msg, sizeof(msg), "%s must be an object", name);
        reply_error(r, HE_VALIDATION, msg);
        return -1;
    }
    *json = arena_strdup(r->arena, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
    if (*json == NULL) {
        reply_error(r, HE_TOO_LARGE, NULL);
        return -1;
    }
    return 0;
}
