/* auth_db.h - what the auth_*.c files share with each other, private to
 * core/ (it speaks PGresult; fcgi/ may not include it). */
#ifndef UMS_AUTH_DB_H
#define UMS_AUTH_DB_H

#include <libpq-fe.h>

#include "auth.h"

/* auth.c: fills out with the user object and an access token for session
 * sid; the user row is loaded (auth_issue) or given, shaped like
 * STMT_USER_FOR_TOKEN (auth_issue_row, columns 0-7). */
int auth_issue(struct ums_ctx *c, const char *uid, const char *sid, struct auth_out *out);
int auth_issue_row(struct ums_ctx *c, PGresult *res, const char *uid, const char *sid,
                   struct auth_out *out);

/* auth_user.c: the user row for tokens and responses (0..8 as in
 * STMT_USER_FOR_TOKEN); UMS_ENOTFOUND when there is none. The caller
 * PQclears *res. */
int auth_user_load(struct ums_ctx *c, const char *uid, PGresult **res);

/* auth_user.c: user_metadata from a client (data), an object within its
 * limits with a valid name; a new password, within the password rules.
 * UMS_OK, or UMS_EDENIED with err filled. */
int auth_user_check_metadata(const char *data_json, struct ums_err *err);
int auth_user_check_password(const char *pw, size_t len, struct ums_err *err);

#endif
