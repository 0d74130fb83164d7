/* metadata.c - the rules for user_metadata and app_metadata (metadata.h). */
#include "metadata.h"

#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "db.h"
#include "../util/json.h"
#include "../util/ums.h"
#include "../util/utf8.h"

#define NAME_CHARS_MAX 100

/* The depth of v: scalars 0, an object or array 1 + its deepest member. */
static int depth_of(struct json_object *v, int limit)
{
    int d = 0;

    if (limit < 0)
        return 1; /* deeper than anyone asked */
    if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, key, m)
        {
            int md = depth_of(m, limit - 1);
            (void)key;
            if (md > d)
                d = md;
        }
        return d + 1;
    }
    if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            int md = depth_of(json_object_array_get_idx(v, i), limit - 1);
            if (md > d)
                d = md;
        }
        return d + 1;
    }
    return 0;
}

/* Code points a name must not hold: C1 controls, zero-width and
 * bidirectional controls, which disguise what a mail says. */
static int forbidden_cp(unsigned cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x200b && cp <= 0x200f) ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff;
}

static unsigned decode(const unsigned char *s, size_t k)
{
    if (k == 1)
        return s[0];
    if (k == 2)
        return (unsigned)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
    if (k == 3)
        return (unsigned)(s[0] & 0x0f) << 12 | (unsigned)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
    return (unsigned)(s[0] & 0x07) << 18 | (unsigned)(s[1] & 0x3f) << 12 |
           (unsigned)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
}

int metadata_name_valid(const char *name, size_t len)
{
    int visible = 0;

    if (name == NULL || !utf8_text_valid(name, len, NAME_CHARS_MAX, 0))
        return 0;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_seq_len((const unsigned char *)name + i, len - i);
        if (k == 0 || forbidden_cp(decode((const unsigned char *)name + i, k)))
            return 0;
        visible |= name[i] != ' ';
        i += k;
    }
    for (size_t i = 0; i + 3 <= len; i++)
        if (memcmp(name + i, "://", 3) == 0 ||
            (i + 4 <= len && strncasecmp(name + i, "www.", 4) == 0))
            return 0;
    return visible;
}

int metadata_check(const char *json, const char **why)
{
    struct json_object *o = NULL, *name;
    int rc = UMS_OK;

    *why = NULL;
    if (json == NULL)
        return UMS_OK;
    if (strlen(json) > METADATA_MAX_BYTES) {
        *why = "metadata must be at most 16 KiB of JSON";
        return UMS_ETOOBIG;
    }
    if (json_parse_strict(&o, json, strlen(json), JSON_DEPTH_MAX, NULL) != UMS_OK ||
        !json_object_is_type(o, json_type_object)) {
        *why = "metadata must be a JSON object";
        rc = UMS_EINVALID;
    } else if (depth_of(o, METADATA_MAX_DEPTH) > METADATA_MAX_DEPTH) {
        *why = "metadata must nest at most 6 levels deep";
        rc = UMS_ETOOBIG;
    } else if (json_object_object_get_ex(o, "name", &name) && name != NULL &&
               (!json_object_is_type(name, json_type_string) ||
                !metadata_name_valid(json_object_get_string(name),
                                     (size_t)json_object_get_string_len(name)))) {
        *why = "name must be 1 to 100 characters of text, without control characters or links";
        rc = UMS_EINVALID;
    }
    json_object_put(o);
    return rc;
}

int metadata_merge(struct db *db, const char *user_id, const char *json, int app)
{
    const char *p[2] = {user_id, json};
    PGresult *res = NULL;
    int rc = db_exec(db, &res, app ? STMT_USER_MERGE_APP_METADATA : STMT_USER_MERGE_METADATA, 2, p);

    if (rc == UMS_OK && PQntuples(res) == 0) {
        const char *pe[1] = {user_id};
        PQclear(res);
        res = NULL;
        rc = db_exec(db, &res, STMT_USER_EXISTS, 1, pe);
        if (rc == UMS_OK)
            rc = PQntuples(res) == 0 ? UMS_ENOTFOUND : UMS_ETOOBIG;
    }
    PQclear(res);
    return rc;
}
