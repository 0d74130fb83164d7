/* metrics_list.h - every fixed series ums exports, in the order /metrics
 * shows them (the HTTP series, whose labels are the route table's, are
 * added by fcgi/; see metrics.h).
 *
 * C(id, family, labels): a counter; G(id, family, labels): a gauge that each
 * live process sets for itself (summed over the live processes, never
 * kept after a process exits); H(id, family, labels): a histogram of
 * seconds with METRICS_BUCKETS buckets. Label values are fixed strings:
 * never a path, an address, an email or an id. A family's slots are
 * consecutive; its HELP and TYPE are in metrics_families (metrics.c). */
#ifndef UMS_METRICS_LIST_H
#define UMS_METRICS_LIST_H

/* clang-format off */
#define METRICS_SIGNIN1(C, m, id, o) \
    C(SIGNIN_##m##_##id, "ums_signins_total", "method=\"" #m "\",outcome=\"" o "\"")
#define METRICS_SIGNIN(C, m) \
    METRICS_SIGNIN1(C, m, SUCCESS, "success") \
    METRICS_SIGNIN1(C, m, INVALID, "invalid_credentials") \
    METRICS_SIGNIN1(C, m, LOCKED, "locked") \
    METRICS_SIGNIN1(C, m, NOT_CONFIRMED, "not_confirmed") \
    METRICS_SIGNIN1(C, m, BANNED, "banned") \
    METRICS_SIGNIN1(C, m, ERROR, "error")

#define METRICS_REVOKED(C, id, cause) \
    C(REVOKED_##id, "ums_sessions_revoked_total", "cause=\"" cause "\"")

#define METRICS_RATE(C, id, scope) \
    C(RATE_##id, "ums_rate_limited_total", "scope=\"" scope "\"")

#define METRICS_OAUTH1(C, p, id, o) \
    C(OAUTH_##p##_##id, "ums_oauth_signins_total", "provider=\"" #p "\",outcome=\"" o "\"")
#define METRICS_OAUTH(C, p) \
    METRICS_OAUTH1(C, p, SUCCESS, "success") \
    METRICS_OAUTH1(C, p, ACCESS_DENIED, "access_denied") \
    METRICS_OAUTH1(C, p, BAD_CALLBACK, "bad_oauth_callback") \
    METRICS_OAUTH1(C, p, BAD_STATE, "bad_oauth_state") \
    METRICS_OAUTH1(C, p, STATE_USED, "flow_state_already_used") \
    METRICS_OAUTH1(C, p, UNAVAILABLE, "provider_unavailable") \
    METRICS_OAUTH1(C, p, REFUSED, "provider_refused") \
    METRICS_OAUTH1(C, p, UNVERIFIED, "provider_email_needs_verification") \
    METRICS_OAUTH1(C, p, EMAIL_EXISTS, "email_exists") \
    METRICS_OAUTH1(C, p, IDENTITY_EXISTS, "identity_already_exists") \
    METRICS_OAUTH1(C, p, BANNED, "user_banned") \
    METRICS_OAUTH1(C, p, OTHER, "other")

#define METRICS_DELIVERY1(C, id, ch, o, O) \
    C(DELIVERY_##id##_##O, "ums_notifier_deliveries_total", "channel=\"" ch "\",outcome=\"" o "\"")
#define METRICS_DELIVERY(C, id, ch) \
    METRICS_DELIVERY1(C, id, ch, "sent", SENT) \
    METRICS_DELIVERY1(C, id, ch, "retried", RETRIED) \
    METRICS_DELIVERY1(C, id, ch, "failed", FAILED) \
    METRICS_DELIVERY1(C, id, ch, "dead", DEAD)

#define METRICS_LIST(C, G, H) \
    METRICS_SIGNIN(C, password) \
    METRICS_SIGNIN(C, otp) \
    METRICS_SIGNIN(C, oauth) \
    C(SIGNUP_PASSWORD, "ums_signups_total", "method=\"password\"") \
    C(SIGNUP_OAUTH, "ums_signups_total", "method=\"oauth\"") \
    C(SIGNUP_OTP, "ums_signups_total", "method=\"otp\"") \
    C(LOCKOUTS, "ums_lockouts_total", "") \
    C(REFRESH_SUCCESS, "ums_token_refreshes_total", "outcome=\"success\"") \
    C(REFRESH_RETRY, "ums_token_refreshes_total", "outcome=\"retry\"") \
    C(REFRESH_INVALID, "ums_token_refreshes_total", "outcome=\"invalid\"") \
    C(REFRESH_REUSE, "ums_refresh_token_reuse_total", "") \
    METRICS_REVOKED(C, LOGOUT, "logout") \
    METRICS_REVOKED(C, PASSWORD, "password_change") \
    METRICS_REVOKED(C, REFRESH_REUSE, "refresh_reuse") \
    METRICS_REVOKED(C, SUSPENDED, "suspended") \
    METRICS_REVOKED(C, BANNED, "banned") \
    METRICS_REVOKED(C, ADMIN, "api_revoke") \
    METRICS_REVOKED(C, VERIFY, "recovery_or_confirmation") \
    METRICS_REVOKED(C, TAKEOVER, "oauth_takeover") \
    METRICS_RATE(C, SIGNUP, "signup") \
    METRICS_RATE(C, TOKEN, "token") \
    METRICS_RATE(C, REFRESH, "refresh") \
    METRICS_RATE(C, RECOVER, "recover") \
    METRICS_RATE(C, RESEND, "resend") \
    METRICS_RATE(C, VERIFY, "verify") \
    METRICS_RATE(C, OAUTH, "oauth") \
    METRICS_RATE(C, USER_UPDATE, "user_update") \
    METRICS_RATE(C, USER_UPDATE_USER, "user_update_user") \
    METRICS_RATE(C, MAIL_TO, "mail_to") \
    METRICS_RATE(C, OTHER, "other") \
    C(OTP_SUCCESS, "ums_otp_verifications_total", "outcome=\"success\"") \
    C(OTP_INVALID, "ums_otp_verifications_total", "outcome=\"invalid_or_expired\"") \
    C(OTP_ERROR, "ums_otp_verifications_total", "outcome=\"error\"") \
    METRICS_OAUTH(C, google) \
    METRICS_OAUTH(C, github) \
    METRICS_OAUTH(C, unknown) \
    C(PG_ERRORS, "ums_postgres_errors_total", "") \
    C(PG_RECONNECTS, "ums_postgres_reconnects_total", "") \
    C(PG_TIMEOUTS, "ums_postgres_statement_timeouts_total", "") \
    C(PG_TX_LEAKED, "ums_postgres_leaked_transactions_total", "") \
    C(PG_READS_REPLICA, "ums_postgres_lagged_reads_total", "server=\"replica\"") \
    C(PG_READS_PRIMARY, "ums_postgres_lagged_reads_total", "server=\"primary\"") \
    C(PG_REPLICA_SKIP_DOWN, "ums_postgres_replica_skips_total", "reason=\"down\"") \
    C(PG_REPLICA_SKIP_LAG, "ums_postgres_replica_skips_total", "reason=\"lag\"") \
    C(PG_REPLICA_SKIP_PRIMARY, "ums_postgres_replica_skips_total", "reason=\"not_standby\"") \
    C(REDIS_ERRORS, "ums_redis_errors_total", "") \
    C(REDIS_RECONNECTS, "ums_redis_reconnects_total", "") \
    C(REDIS_MASTER_CHANGES, "ums_redis_master_changes_total", "") \
    C(CACHE_SESSION_HIT, "ums_cache_requests_total", "cache=\"session\",result=\"hit\"") \
    C(CACHE_SESSION_MISS, "ums_cache_requests_total", "cache=\"session\",result=\"miss\"") \
    C(CACHE_USER_HIT, "ums_cache_requests_total", "cache=\"user\",result=\"hit\"") \
    C(CACHE_USER_MISS, "ums_cache_requests_total", "cache=\"user\",result=\"miss\"") \
    C(CACHE_PROFILE_HIT, "ums_cache_requests_total", "cache=\"profile\",result=\"hit\"") \
    C(CACHE_PROFILE_MISS, "ums_cache_requests_total", "cache=\"profile\",result=\"miss\"") \
    C(UNAVAILABLE_503, "ums_unavailable_responses_total", "") \
    G(DEGRADED_PG, "ums_degraded_processes", "store=\"postgres\"") \
    G(DEGRADED_REDIS, "ums_degraded_processes", "store=\"redis\"") \
    G(DEGRADED_REPLICA, "ums_degraded_processes", "store=\"postgres_replica\"") \
    C(STARTS_MASTER, "ums_process_starts_total", "kind=\"master\"") \
    C(STARTS_WORKER, "ums_process_starts_total", "kind=\"worker\"") \
    C(STARTS_SPAWNED, "ums_process_starts_total", "kind=\"spawned\"") \
    C(STARTS_NOTIFIER, "ums_process_starts_total", "kind=\"notifier\"") \
    C(WORKER_EXIT_CRASH, "ums_worker_exits_total", "reason=\"crash\"") \
    C(WORKER_EXIT_RECYCLED, "ums_worker_exits_total", "reason=\"recycled\"") \
    C(WORKER_EXIT_STOPPED, "ums_worker_exits_total", "reason=\"stopped\"") \
    C(NOTIFIER_ROUNDS_DAEMON, "ums_notifier_rounds_total", "mode=\"daemon\"") \
    C(NOTIFIER_ROUNDS_ONCE, "ums_notifier_rounds_total", "mode=\"once\"") \
    C(NOTIFIER_READ, "ums_notifier_events_read_total", "") \
    METRICS_DELIVERY(C, EMAIL, "email") \
    METRICS_DELIVERY(C, PUSH, "push") \
    METRICS_DELIVERY(C, IN_APP, "in_app") \
    H(PROVIDER_EMAIL, "ums_notifier_provider_duration_seconds", "channel=\"email\"") \
    H(PROVIDER_PUSH, "ums_notifier_provider_duration_seconds", "channel=\"push\"")
/* clang-format on */

#endif
