/* admin.h - user administration behind /auth/v1/admin and umsctl. */
#ifndef UMS_ADMIN_H
#define UMS_ADMIN_H

#include <stddef.h>

#include "auth.h"

struct ums_ctx;

/* Page `page` (from 1) of `per_page` users, newest first, as a JSON array in
 * *json (malloc'd); *total gets the number of users. */
int admin_list(struct ums_ctx *c, long page, int per_page, char **json, long long *total);

/* Attributes of POST and PUT /admin/users; NULL means "not given". */
struct admin_attrs {
    const char *id;
    const char *email;
    size_t email_len;
    const char *password;
    size_t password_len;
    int email_confirm; /* -1 not given, 0, 1 */
    const char *user_metadata_json;
    const char *app_metadata_json;
    const char *ban_duration; /* "none" or a Go duration such as "24h" */
    const char *role;         /* umsctl only: the ums role */
};

/* Creates a user (no email is sent); *user_id gets its id. FAIL_EMAIL_EXISTS
 * when the address (or the id) is taken. actor NULL is the service key. */
int admin_create(struct ums_ctx *c, const char *actor, const struct admin_attrs *a, const char *ip,
                 char user_id[UUID_LEN + 1], struct ums_err *err);

/* Updates a user; a new password or a ban ends all their sessions. */
int admin_update(struct ums_ctx *c, const char *actor, const char *user_id,
                 const struct admin_attrs *a, const char *ip, struct ums_err *err);

/* Deletes a user and everything that cascades from it (users_delete):
 * UMS_EDENIED with FAIL_USER_NOT_FOUND or FAIL_LAST_ADMIN. */
int admin_delete(struct ums_ctx *c, const char *actor, const char *user_id, const char *ip,
                 struct ums_err *err);

#endif
