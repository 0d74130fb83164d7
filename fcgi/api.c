/* api.c - helpers of the /api/v1 handlers that answer for themselves
 * (0 ok, -1 replied): who is the target, typed query values, field errors. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/arena.h"
#include "../util/buf.h"
#include "../util/ums.h"
#include "../util/valid.h"
#include "api.h"
#include "app.h"
#include "http.h"

int api_is_admin(const struct req *r)
{
    return r->who.service || strcmp(r->who.role, "admin") == 0;
}

int api_target(struct req *r, unsigned allow, const char **id)
{
    const char *v = req_param(r, "id");

    *id = NULL;
    if (v != NULL && strcmp(v, "me") == 0) {
        if (r->who.service) {
            reply_field_error(r, "id", "invalid", "\"me\" needs a user's access token");
            return -1;
        }
        v = r->who.user_id;
    }
    if (v == NULL || !valid_uuid(v)) {
        reply_field_error(r, "id", "invalid", "id must be a user id (UUID) or \"me\"");
        return -1;
    }
    /* One spelling: cache keys (ums:profile:{id}) and comparisons with the
     * caller's id are lower case, as PostgreSQL writes UUIDs. */
    if (strpbrk(v, "ABCDEF") != NULL) {
        char *low = arena_strdup(r->arena, v);
        if (low == NULL) {
            reply_error(r, HE_UNEXPECTED, NULL);
            return -1;
        }
        for (char *c = low; *c != '\0'; c++)
            *c = (char)tolower((unsigned char)*c);
        v = low;
    }
    /* Who may act is decided before any data is read, so a refusal says
     * nothing about whether the user exists. */
    if (((allow & TARGET_SELF) && !r->who.service && strcmp(v, r->who.user_id) == 0) ||
        ((allow & TARGET_ADMIN) && api_is_admin(r)) || (allow & TARGET_ANY_USER)) {
        *id = v;
        return 0;
    }
    reply_error(r, HE_FORBIDDEN, NULL);
    return -1;
}

int api_query_str(struct req *r, const char *name, size_t max, const char **out)
{
    char msg[128];
    int rc = http_query_get(r->arena, r->query, name, out);

    if (rc == UMS_ENOTFOUND || (rc == UMS_OK && (*out)[0] == '\0')) {
        *out = NULL;
        return 0;
    }
    if (rc == UMS_OK && strlen(*out) <= max)
        return 0;
    snprintf(msg, sizeof(msg), "%s must be valid UTF-8 text of at most %zu bytes", name, max);
    reply_field_error(r, name, "invalid", msg);
    return -1;
}

int api_query_int(struct req *r, const char *name, long def, long min, long max, long *out)
{
    const char *v = NULL;
    char msg[128], *end;
    long n;

    *out = def;
    if (api_query_str(r, name, 32, &v) != 0)
        return -1;
    if (v == NULL)
        return 0;
    n = strtol(v, &end, 10);
    if (*end == '\0' && v[0] >= '0' && v[0] <= '9' && n >= min && n <= max) {
        *out = n;
        return 0;
    }
    snprintf(msg, sizeof(msg), "%s must be an integer from %ld to %ld", name, min, max);
    reply_field_error(r, name, "out_of_range", msg);
    return -1;
}

int api_query_bool(struct req *r, const char *name, int *out)
{
    const char *v = NULL;
    char msg[96];

    *out = 0;
    if (api_query_str(r, name, 8, &v) != 0)
        return -1;
    if (v == NULL || strcmp(v, "false") == 0)
        return 0;
    if (strcmp(v, "true") == 0) {
        *out = 1;
        return 0;
    }
    snprintf(msg, sizeof(msg), "%s must be true or false", name);
    reply_field_error(r, name, "invalid", msg);
    return -1;
}
