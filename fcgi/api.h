/* api.h - helpers shared by the /api/v1 handlers (api.c). Each one that
 * can fail sends the error itself and returns -1; the handler just returns. */
#ifndef UMS_API_H
#define UMS_API_H

#include <stddef.h>

struct req;

/* Who may act on the user named by the {id} parameter. */
#define TARGET_SELF     (1u << 0) /* the caller themself ("me" or their own id) */
#define TARGET_ADMIN    (1u << 1) /* an admin or the service key */
#define TARGET_ANY_USER (1u << 2) /* any signed-in user (public data) */

/* 1 for an admin user or the service key. */
int api_is_admin(const struct req *r);

/* Resolves {id} ("me" or a UUID) into *id and checks `allow` before any data
 * is read: 400 for a malformed id, 403 for a caller who may not. */
int api_target(struct req *r, unsigned allow, const char **id);

/* Optional query values; absent or "" leave the default (NULL, def, 0). */
int api_query_str(struct req *r, const char *name, size_t max, const char **out);
int api_query_int(struct req *r, const char *name, long def, long min, long max, long *out);
int api_query_bool(struct req *r, const char *name, int *out);

#endif
