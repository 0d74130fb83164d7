/* routes.h - the handlers, route_<file>_<verb> in fcgi/route_<file>.c, in the
 * order of the route table (routes.c). */
#ifndef UMS_ROUTES_H
#define UMS_ROUTES_H

#include <stddef.h>

struct req;
struct route;

/* route_health.c */
void route_health_live(struct req *r);
void route_health_ready(struct req *r);

/* route_metrics.c: the HTTP series' slots of the route table (before the
 * metrics file is opened), the count of a finished request, /metrics. */
void route_metrics_init(const struct route *routes, size_t n);
void route_metrics_count(const struct req *r, double seconds);
void route_metrics_get(struct req *r);

/* route_discovery.c */
void route_discovery_jwks(struct req *r);
void route_discovery_settings(struct req *r);
void route_discovery_health(struct req *r);

/* route_token.c */
void route_token_signup(struct req *r);
void route_token_grant(struct req *r);

/* route_user.c */
void route_user_get(struct req *r);
void route_user_put(struct req *r);
void route_user_logout(struct req *r);
void route_user_reauthenticate(struct req *r);
void route_user_check(struct req *r);

/* route_oauth.c */
void route_oauth_authorize(struct req *r);
void route_oauth_callback(struct req *r);
void route_oauth_link(struct req *r);
void route_oauth_unlink(struct req *r);

/* route_verify.c */
void route_verify_recover(struct req *r);
void route_verify_otp(struct req *r);
void route_verify_resend(struct req *r);
void route_verify_post(struct req *r);
void route_verify_get(struct req *r);
void route_verify_generate_link(struct req *r);

/* route_admin.c */
void route_admin_list(struct req *r);
void route_admin_create(struct req *r);
void route_admin_get(struct req *r);
void route_admin_update(struct req *r);
void route_admin_delete(struct req *r);

/* route_users.c */
void route_users_list(struct req *r);
void route_users_create(struct req *r);
void route_users_get(struct req *r);
void route_users_patch(struct req *r);
void route_users_delete(struct req *r);
void route_users_role(struct req *r);
void route_users_unlock(struct req *r);

/* route_sessions.c */
void route_sessions_list(struct req *r);
void route_sessions_revoke_all(struct req *r);
void route_sessions_revoke(struct req *r);

/* route_profile.c */
void route_profile_get(struct req *r);
void route_profile_patch(struct req *r);
void route_profile_avatar_put(struct req *r);
void route_profile_avatar_delete(struct req *r);

/* route_notify.c */
void route_notify_list(struct req *r);
void route_notify_send(struct req *r);
void route_notify_read_all(struct req *r);
void route_notify_read(struct req *r);
void route_notify_prefs_get(struct req *r);
void route_notify_prefs_put(struct req *r);
void route_notify_device_add(struct req *r);
void route_notify_device_remove(struct req *r);

/* route_audit.c */
void route_audit_list(struct req *r);

#endif
