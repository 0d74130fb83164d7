/* routes.h - handlers, one file per resource. */
#ifndef UMS_ROUTES_H
#define UMS_ROUTES_H

struct req;

void route_healthz(struct req *r);
void route_readyz(struct req *r);
void route_signup(struct req *r);
void route_token(struct req *r);
void route_user_get(struct req *r);
void route_user_put(struct req *r);
void route_logout(struct req *r);
void route_check(struct req *r);
void route_settings(struct req *r);
void route_auth_health(struct req *r);
void route_jwks(struct req *r);
void route_admin_list(struct req *r);
void route_admin_create(struct req *r);
void route_admin_get(struct req *r);
void route_admin_update(struct req *r);
void route_admin_delete(struct req *r);
void route_recover(struct req *r);
void route_user_reauthenticate(struct req *r);
void route_resend(struct req *r);
void route_verify_post(struct req *r);
void route_verify_get(struct req *r);
void route_admin_generate_link(struct req *r);
void route_users_list(struct req *r);
void route_users_create(struct req *r);
void route_users_get(struct req *r);
void route_users_patch(struct req *r);
void route_users_delete(struct req *r);
void route_users_role(struct req *r);
void route_users_unlock(struct req *r);
void route_sessions_list(struct req *r);
void route_sessions_revoke(struct req *r);
void route_sessions_revoke_all(struct req *r);
void route_profile_get(struct req *r);
void route_profile_patch(struct req *r);
void route_audit_list(struct req *r);
void route_avatar_put(struct req *r);
void route_notifications_list(struct req *r);
void route_notification_read(struct req *r);
void route_notifications_send(struct req *r);
void route_notifications_read_all(struct req *r);
void route_prefs_get(struct req *r);
void route_prefs_put(struct req *r);
void route_devices_add(struct req *r);
void route_devices_remove(struct req *r);

#endif
