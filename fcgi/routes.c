/* routes.c - the route table: method, pattern, handler, error family, body
 * cap, flags and who may call, grouped by the file that holds the handlers
 * (route_<file>_<verb> lives in fcgi/route_<file>.c). */
#include "../core/notify.h"
#include "../core/profile.h"
#include "../core/users.h"
#include "../util/ums.h"
#include "../util/valid.h"
#include "http.h"
#include "routes.h"

/* Body cap of the JSON auth routes. */
#define AUTH_BODY (16 * 1024)
/* Body cap of the JSON /api/v1 routes (a profile's preferences may be 16 KiB). */
#define API_BODY (64 * 1024)
#define RW       (R_JSON | R_NEEDS_DB)

/* One route of each family; AUTH_NONE is 0, so an entry without .auth is public. */
#define OPS(m, p, f)  .methods = (m), .pattern = (p), .fn = (f), .family = FAM_OPS
#define AUTH(m, p, f) .methods = (m), .pattern = (p), .fn = (f), .family = FAM_AUTH
#define API(m, p, f)  .methods = (m), .pattern = (p), .fn = (f), .family = FAM_API

/*
 * The body members each route takes (struct field, fcgi/http.h), checked
 * before its handler runs. /auth/v1 routes declare types only: GoTrue's
 * answers to a missing or malformed value come from core. /api/v1 routes
 * also declare what is required and the rules of core a value must meet,
 * so that one 400 lists every bad member.
 */
/* clang-format off */
#define S(n)             {.name = (n), .type = FT_STRING}
#define O(n)             {.name = (n), .type = FT_OBJECT}
#define B(n)             {.name = (n), .type = FT_BOOL}
#define RULE(n, f, v, m) {.name = (n), .type = FT_STRING, .flags = (f), .valid = (v), .msg = (m)}
#define EMAIL(f)         {.name = "email", .type = FT_STRING, .flags = (f), \
                          .max_bytes = EMAIL_MAX, .msg = "email must be at most 255 bytes"}
#define END              {.name = NULL}
/* clang-format on */

static const struct field signup_fields[] = {S("email"), S("password"), O("data"), END};
static const struct field token_fields[] = {S("email"),     S("password"),      S("refresh_token"),
                                            S("auth_code"), S("code_verifier"), END};
static const struct field user_put_fields[] = {S("password"),         S("email"), O("data"),
                                               S("current_password"), S("nonce"), END};
static const struct field recover_fields[] = {S("email"), END};
static const struct field otp_fields[] = {S("email"), S("phone"), B("create_user"), O("data"), END};
static const struct field resend_fields[] = {S("type"), S("email"), END};
static const struct field verify_fields[] = {S("type"), S("email"), S("token"), S("token_hash"),
                                             END};
static const struct field generate_link_fields[] = {S("type"),      S("email"), S("password"),
                                                    S("new_email"), O("data"),  END};
static const struct field admin_user_fields[] = {
    S("email"),        S("password"),      S("id"), S("ban_duration"), O("user_metadata"),
    O("app_metadata"), B("email_confirm"), END};

static const struct field users_create_fields[] = {
    EMAIL(FIELD_REQUIRED),
    S("password"),
    RULE("name", FIELD_REQUIRED, fields_user_name, USERS_NAME_RULE),
    RULE("role", 0, fields_role, "role is not one of the configured roles"),
    RULE("status", 0, fields_user_status, USERS_STATUS_RULE),
    END};
static const struct field users_patch_fields[] = {
    RULE("name", 0, fields_user_name, USERS_NAME_RULE), EMAIL(0),
    RULE("status", 0, fields_user_status, USERS_STATUS_RULE), END};
static const struct field users_delete_fields[] = {S("current_password"), S("nonce"), END};
static const struct field users_role_fields[] = {
    RULE("role", FIELD_REQUIRED, fields_role, "role must be one of the configured roles"), END};
static const struct field profile_patch_fields[] = {S("avatar_url"), S("bio"), S("timezone"),
                                                    O("preferences"), END};
static const struct field notify_send_fields[] = {
    RULE("title", FIELD_REQUIRED, fields_message_title, NOTIFY_TITLE_RULE),
    RULE("message", FIELD_REQUIRED, fields_message_text, NOTIFY_MESSAGE_RULE), END};
static const struct field device_add_fields[] = {
    RULE("token", FIELD_REQUIRED, fields_device_token, NOTIFY_TOKEN_RULE),
    RULE("platform", FIELD_REQUIRED, fields_device_platform, NOTIFY_PLATFORM_RULE), END};

const struct route ums_routes[] = {
    /* route_health.c */
    {OPS(M_GET, "/healthz", route_health_live)},
    {OPS(M_GET, "/readyz", route_health_ready)},

    /* route_metrics.c: the web servers let loopback only through */
    {OPS(M_GET, "/metrics", route_metrics_get)},

    /* route_discovery.c */
    {OPS(M_GET, "/.well-known/jwks.json", route_discovery_jwks)},
    {AUTH(M_GET, "/auth/v1/.well-known/jwks.json", route_discovery_jwks)},
    {AUTH(M_GET, "/auth/v1/settings", route_discovery_settings)},
    {AUTH(M_GET, "/auth/v1/health", route_discovery_health)},

    /* route_token.c: the Supabase Auth (GoTrue) wire protocol from here on */
    {AUTH(M_POST, "/auth/v1/signup", route_token_signup), .body_max = AUTH_BODY, .flags = RW,
     .fields = signup_fields},
    {AUTH(M_POST, "/auth/v1/token", route_token_grant), .body_max = AUTH_BODY, .flags = RW,
     .fields = token_fields},

    /* route_user.c */
    {AUTH(M_GET, "/auth/v1/user", route_user_get), .flags = R_NEEDS_DB | R_USER_JSON,
     .auth = AUTH_USER},
    {AUTH(M_PUT, "/auth/v1/user", route_user_put), .body_max = AUTH_BODY, .flags = RW,
     .auth = AUTH_USER, .fields = user_put_fields},
    {AUTH(M_POST, "/auth/v1/logout", route_user_logout), .body_max = AUTH_BODY, .flags = RW,
     .auth = AUTH_USER},
    /* auth-js's reauthenticate() sends GET; POST is taken too. */
    {AUTH(M_GET | M_POST, "/auth/v1/reauthenticate", route_user_reauthenticate),
     .body_max = AUTH_BODY, .flags = RW, .auth = AUTH_USER},
    /* Forward auth: it answers 401 itself, so the pipeline does not authenticate. */
    {AUTH(M_GET, "/auth/v1/check", route_user_check), .flags = R_NEEDS_DB},

    /* route_oauth.c */
    {AUTH(M_GET, "/auth/v1/authorize", route_oauth_authorize), .flags = R_NEEDS_DB},
    {AUTH(M_GET | M_POST, "/auth/v1/callback", route_oauth_callback), .body_max = AUTH_BODY,
     .flags = R_JSON | R_FORM | R_NEEDS_DB},
    {AUTH(M_GET, "/auth/v1/user/identities/authorize", route_oauth_link), .flags = R_NEEDS_DB,
     .auth = AUTH_USER},
    {AUTH(M_DELETE, "/auth/v1/user/identities/{id}", route_oauth_unlink), .body_max = AUTH_BODY,
     .flags = RW, .auth = AUTH_USER},

    /* route_verify.c */
    {AUTH(M_POST, "/auth/v1/recover", route_verify_recover), .body_max = AUTH_BODY, .flags = RW,
     .fields = recover_fields},
    {AUTH(M_POST, "/auth/v1/otp", route_verify_otp), .body_max = AUTH_BODY, .flags = RW,
     .fields = otp_fields},
    {AUTH(M_POST, "/auth/v1/resend", route_verify_resend), .body_max = AUTH_BODY, .flags = RW,
     .fields = resend_fields},
    {AUTH(M_POST, "/auth/v1/verify", route_verify_post), .body_max = AUTH_BODY,
     .flags = R_JSON | R_FORM | R_NEEDS_DB, .fields = verify_fields},
    {AUTH(M_GET, "/auth/v1/verify", route_verify_get), .flags = R_NEEDS_DB},
    {AUTH(M_POST, "/auth/v1/admin/generate_link", route_verify_generate_link),
     .body_max = AUTH_BODY, .flags = RW, .auth = AUTH_ADMIN, .fields = generate_link_fields},

    /* route_admin.c */
    {AUTH(M_GET, "/auth/v1/admin/users", route_admin_list), .flags = R_NEEDS_DB,
     .auth = AUTH_ADMIN},
    {AUTH(M_POST, "/auth/v1/admin/users", route_admin_create), .body_max = AUTH_BODY, .flags = RW,
     .auth = AUTH_ADMIN, .fields = admin_user_fields},
    {AUTH(M_GET, "/auth/v1/admin/users/{id}", route_admin_get), .flags = R_NEEDS_DB,
     .auth = AUTH_ADMIN},
    {AUTH(M_PUT, "/auth/v1/admin/users/{id}", route_admin_update), .body_max = AUTH_BODY,
     .flags = RW, .auth = AUTH_ADMIN, .fields = admin_user_fields},
    {AUTH(M_DELETE, "/auth/v1/admin/users/{id}", route_admin_delete), .body_max = AUTH_BODY,
     .flags = RW, .auth = AUTH_ADMIN},

    /* route_users.c: the user service (/api/v1) from here on */
    {API(M_GET, "/api/v1/users", route_users_list), .flags = R_NEEDS_DB, .auth = AUTH_ADMIN},
    {API(M_POST, "/api/v1/users", route_users_create), .body_max = API_BODY, .flags = RW,
     .auth = AUTH_ADMIN, .fields = users_create_fields},
    {API(M_GET, "/api/v1/users/{id}", route_users_get), .flags = R_NEEDS_DB | R_PROFILE_JSON,
     .auth = AUTH_USER_OR_SERVICE},
    {API(M_PATCH, "/api/v1/users/{id}", route_users_patch), .body_max = API_BODY, .flags = RW,
     .auth = AUTH_USER_OR_SERVICE, .fields = users_patch_fields},
    {API(M_DELETE, "/api/v1/users/{id}", route_users_delete), .body_max = API_BODY, .flags = RW,
     .auth = AUTH_USER_OR_SERVICE, .fields = users_delete_fields},
    {API(M_PUT, "/api/v1/users/{id}/role", route_users_role), .body_max = API_BODY, .flags = RW,
     .auth = AUTH_ADMIN, .fields = users_role_fields},
    {API(M_POST, "/api/v1/users/{id}/unlock", route_users_unlock), .flags = R_NEEDS_DB,
     .auth = AUTH_ADMIN},

    /* route_sessions.c */
    {API(M_GET, "/api/v1/users/{id}/sessions", route_sessions_list), .flags = R_NEEDS_DB,
     .auth = AUTH_USER_OR_SERVICE},
    {API(M_DELETE, "/api/v1/users/{id}/sessions", route_sessions_revoke_all), .flags = R_NEEDS_DB,
     .auth = AUTH_USER_OR_SERVICE},
    {API(M_DELETE, "/api/v1/users/{id}/sessions/{sid}", route_sessions_revoke), .flags = R_NEEDS_DB,
     .auth = AUTH_USER_OR_SERVICE},

    /* route_profile.c */
    {API(M_GET, "/api/v1/users/{id}/profile", route_profile_get), .flags = R_NEEDS_DB,
     .auth = AUTH_USER_OR_SERVICE},
    {API(M_PATCH, "/api/v1/users/{id}/profile", route_profile_patch), .body_max = API_BODY,
     .flags = RW | R_CLOSED, .auth = AUTH_USER_OR_SERVICE, .fields = profile_patch_fields},
    {API(M_PUT, "/api/v1/users/{id}/avatar", route_profile_avatar_put),
     .body_max = AVATAR_MAX_BYTES, .flags = R_NEEDS_DB, .auth = AUTH_USER},
    {API(M_DELETE, "/api/v1/users/{id}/avatar", route_profile_avatar_delete), .flags = R_NEEDS_DB,
     .auth = AUTH_USER_OR_SERVICE},

    /* route_notify.c */
    {API(M_GET, "/api/v1/users/{id}/notifications", route_notify_list), .flags = R_NEEDS_DB,
     .auth = AUTH_USER},
    {API(M_POST, "/api/v1/users/{id}/notifications", route_notify_send), .body_max = API_BODY,
     .flags = RW, .auth = AUTH_USER_OR_SERVICE, .fields = notify_send_fields},
    {API(M_POST, "/api/v1/users/{id}/notifications/read-all", route_notify_read_all),
     .flags = R_NEEDS_DB, .auth = AUTH_USER},
    {API(M_POST, "/api/v1/users/{id}/notifications/{nid}/read", route_notify_read),
     .flags = R_NEEDS_DB, .auth = AUTH_USER},
    {API(M_GET, "/api/v1/users/{id}/notification-preferences", route_notify_prefs_get),
     .flags = R_NEEDS_DB, .auth = AUTH_USER},
    {API(M_PUT, "/api/v1/users/{id}/notification-preferences", route_notify_prefs_put),
     .body_max = API_BODY, .flags = RW, .auth = AUTH_USER},
    {API(M_POST, "/api/v1/users/{id}/devices", route_notify_device_add), .body_max = API_BODY,
     .flags = RW, .auth = AUTH_USER, .fields = device_add_fields},
    {API(M_DELETE, "/api/v1/users/{id}/devices/{did}", route_notify_device_remove),
     .flags = R_NEEDS_DB, .auth = AUTH_USER},

    /* route_audit.c */
    {API(M_GET, "/api/v1/audit", route_audit_list), .flags = R_NEEDS_DB, .auth = AUTH_ADMIN},
};

const size_t ums_routes_len = UMS_ARRAY_LEN(ums_routes);
