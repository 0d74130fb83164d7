/* routes.c - the route table: method, pattern, handler, error family, body cap, flags. */
#include "../core/profile.h"
#include "../util/ums.h"
#include "http.h"
#include "routes.h"

/* Body cap of the JSON auth routes. */
#define AUTH_BODY (16 * 1024)
/* Body cap of the JSON /api/v1 routes (a profile's preferences may be 16 KiB). */
#define API_BODY (64 * 1024)
#define API      (FAM_API)
#define RW       (R_JSON | R_NEEDS_DB)

const struct route ums_routes[] = {
    {M_GET, "/healthz", route_healthz, FAM_OPS, 0, 0, AUTH_NONE},
    {M_GET, "/readyz", route_readyz, FAM_OPS, 0, 0, AUTH_NONE},
    {M_GET, "/.well-known/jwks.json", route_jwks, FAM_OPS, 0, 0, AUTH_NONE},

    /* /auth/v1: the Supabase Auth (GoTrue) wire protocol */
    {M_POST, "/auth/v1/signup", route_signup, FAM_AUTH, AUTH_BODY, R_JSON | R_NEEDS_DB, AUTH_NONE},
    {M_POST, "/auth/v1/token", route_token, FAM_AUTH, AUTH_BODY, R_JSON | R_NEEDS_DB, AUTH_NONE},
    {M_GET, "/auth/v1/user", route_user_get, FAM_AUTH, 0, R_NEEDS_DB | R_USER_JSON, AUTH_USER},
    {M_PUT, "/auth/v1/user", route_user_put, FAM_AUTH, AUTH_BODY, R_JSON | R_NEEDS_DB, AUTH_USER},
    {M_POST, "/auth/v1/logout", route_logout, FAM_AUTH, AUTH_BODY, R_JSON | R_NEEDS_DB, AUTH_USER},
    /* auth-js's reauthenticate() sends GET; POST is taken too. */
    {M_GET | M_POST, "/auth/v1/reauthenticate", route_user_reauthenticate, FAM_AUTH, AUTH_BODY,
     R_JSON | R_NEEDS_DB, AUTH_USER},
    {M_POST, "/auth/v1/recover", route_recover, FAM_AUTH, AUTH_BODY, R_JSON | R_NEEDS_DB,
     AUTH_NONE},
    {M_POST, "/auth/v1/resend", route_resend, FAM_AUTH, AUTH_BODY, R_JSON | R_NEEDS_DB, AUTH_NONE},
    {M_POST, "/auth/v1/verify", route_verify_post, FAM_AUTH, AUTH_BODY,
     R_JSON | R_FORM | R_NEEDS_DB, AUTH_NONE},
    {M_GET, "/auth/v1/verify", route_verify_get, FAM_AUTH, 0, R_NEEDS_DB, AUTH_NONE},
    {M_POST, "/auth/v1/admin/generate_link", route_admin_generate_link, FAM_AUTH, AUTH_BODY,
     R_JSON | R_NEEDS_DB, AUTH_ADMIN},
    {M_GET, "/auth/v1/check", route_check, FAM_AUTH, 0, R_NEEDS_DB, AUTH_NONE},
    {M_GET, "/auth/v1/settings", route_settings, FAM_AUTH, 0, 0, AUTH_NONE},
    {M_GET, "/auth/v1/health", route_auth_health, FAM_AUTH, 0, 0, AUTH_NONE},
    {M_GET, "/auth/v1/.well-known/jwks.json", route_jwks, FAM_AUTH, 0, 0, AUTH_NONE},
    {M_GET, "/auth/v1/admin/users", route_admin_list, FAM_AUTH, 0, R_NEEDS_DB, AUTH_ADMIN},
    {M_POST, "/auth/v1/admin/users", route_admin_create, FAM_AUTH, AUTH_BODY, R_JSON | R_NEEDS_DB,
     AUTH_ADMIN},
    {M_GET, "/auth/v1/admin/users/{id}", route_admin_get, FAM_AUTH, 0, R_NEEDS_DB, AUTH_ADMIN},
    {M_PUT, "/auth/v1/admin/users/{id}", route_admin_update, FAM_AUTH, AUTH_BODY,
     R_JSON | R_NEEDS_DB, AUTH_ADMIN},
    {M_DELETE, "/auth/v1/admin/users/{id}", route_admin_delete, FAM_AUTH, AUTH_BODY,
     R_JSON | R_NEEDS_DB, AUTH_ADMIN},

    /* /api/v1: the user service */
    {M_GET, "/api/v1/users", route_users_list, API, 0, R_NEEDS_DB, AUTH_ADMIN},
    {M_POST, "/api/v1/users", route_users_create, API, API_BODY, RW, AUTH_ADMIN},
    {M_GET, "/api/v1/users/{id}", route_users_get, API, 0, R_NEEDS_DB | R_PROFILE_JSON,
     AUTH_USER_OR_SERVICE},
    {M_PATCH, "/api/v1/users/{id}", route_users_patch, API, API_BODY, RW, AUTH_USER_OR_SERVICE},
    {M_DELETE, "/api/v1/users/{id}", route_users_delete, API, API_BODY, RW, AUTH_USER_OR_SERVICE},
    {M_PUT, "/api/v1/users/{id}/role", route_users_role, API, API_BODY, RW, AUTH_ADMIN},
    {M_POST, "/api/v1/users/{id}/unlock", route_users_unlock, API, 0, R_NEEDS_DB, AUTH_ADMIN},
    {M_GET, "/api/v1/users/{id}/sessions", route_sessions_list, API, 0, R_NEEDS_DB,
     AUTH_USER_OR_SERVICE},
    {M_DELETE, "/api/v1/users/{id}/sessions", route_sessions_revoke_all, API, 0, R_NEEDS_DB,
     AUTH_USER_OR_SERVICE},
    {M_DELETE, "/api/v1/users/{id}/sessions/{sid}", route_sessions_revoke, API, 0, R_NEEDS_DB,
     AUTH_USER_OR_SERVICE},
    {M_GET, "/api/v1/users/{id}/profile", route_profile_get, API, 0, R_NEEDS_DB,
     AUTH_USER_OR_SERVICE},
    {M_PATCH, "/api/v1/users/{id}/profile", route_profile_patch, API, API_BODY, RW,
     AUTH_USER_OR_SERVICE},
    {M_PUT, "/api/v1/users/{id}/avatar", route_avatar_put, API, AVATAR_MAX_BYTES, R_NEEDS_DB,
     AUTH_USER},
    {M_GET, "/api/v1/users/{id}/notifications", route_notifications_list, API, 0, R_NEEDS_DB,
     AUTH_USER},
    {M_POST, "/api/v1/users/{id}/notifications", route_notifications_send, API, API_BODY, RW,
     AUTH_USER_OR_SERVICE},
    {M_POST, "/api/v1/users/{id}/notifications/read-all", route_notifications_read_all, API, 0,
     R_NEEDS_DB, AUTH_USER},
    {M_POST, "/api/v1/users/{id}/notifications/{nid}/read", route_notification_read, API, 0,
     R_NEEDS_DB, AUTH_USER},
    {M_GET, "/api/v1/users/{id}/notification-preferences", route_prefs_get, API, 0, R_NEEDS_DB,
     AUTH_USER},
    {M_PUT, "/api/v1/users/{id}/notification-preferences", route_prefs_put, API, API_BODY, RW,
     AUTH_USER},
    {M_POST, "/api/v1/users/{id}/devices", route_devices_add, API, API_BODY, RW, AUTH_USER},
    {M_DELETE, "/api/v1/users/{id}/devices/{did}", route_devices_remove, API, 0, R_NEEDS_DB,
     AUTH_USER},
    {M_GET, "/api/v1/audit", route_audit_list, API, 0, R_NEEDS_DB, AUTH_ADMIN},
};

const size_t ums_routes_len = UMS_ARRAY_LEN(ums_routes);
