/* config.h - ums.conf: INI file, UMS_SECTION_KEY environment overrides, *_file secrets. */
#ifndef UMS_CONFIG_H
#define UMS_CONFIG_H

#include <stddef.h>

struct ums_config {
    struct {
        char *listen; /* unix socket path, or host:port on loopback */
        /* host:port where only FastCGI AUTHORIZER requests are answered
         * (mod_authnz_fcgi connects over TCP only); "" = none */
        char *authorizer_listen;
        int socket_mode; /* permissions of a unix socket, octal in the file */
        int workers;
        char *pid_file;
        char *user;           /* drop to this user after binding (when started as root) */
        char *socket_group;   /* the unix socket's group (the web server's); "" = user's */
        int max_requests;     /* a worker exits and is replaced after this many; 0 = never */
        int body_max;         /* default request body cap in bytes */
        int graceful_timeout; /* seconds a stopping worker may take to finish */
    } server;
    struct {
        char *url;      /* libpq connection string or URI */
        char *password; /* secret */
        int connect_timeout;
        int statement_timeout_ms;
        int prepared;        /* named prepared statements (false behind PgBouncer) */
        char *replica_urls;  /* comma-separated libpq URIs of read replicas, or "" */
        int max_replica_lag; /* seconds of replay lag a replica may have and serve */
    } database;
    struct {
        char *host;
        int port;
        char *password; /* secret */
        int db;
        int timeout_ms;
        char *sentinels;         /* host:port,... of Redis Sentinels, or "": host and port */
        char *master_name;       /* the master's name at the sentinels */
        char *sentinel_password; /* secret: the sentinels' requirepass */
    } redis;
    struct {
        char *site_url;      /* the app's URL: default redirect target */
        char *external_url;  /* public URL of /auth/v1, for links in emails */
        char *jwt_issuer;    /* "" = external_url */
        char *jwt_algorithm; /* RS256 or HS256 */
        char *jwt_private_key_file;
        char *jwt_keys_dir; /* KID.pem files and "active"; instead of the file */
        char *jwt_secret;   /* secret, HS256 only */
        char *jwt_kid;      /* "" = derived from the public key */
        int access_token_ttl;
        int refresh_token_ttl;
        int session_lifetime;
        int refresh_reuse_interval;
        char *refresh_token_secret; /* secret */
        char *service_key;          /* secret; a Bearer equal to it is an admin */
        int require_email_confirmation;
        char *roles;          /* comma-separated role names; user and admin are required */
        char *uri_allow_list; /* comma-separated redirect_to prefixes */
        int argon2_memory_kib;
        int argon2_iterations;
        int argon2_parallelism;
        int lockout_threshold;
        int lockout_window;
        int lockout_duration;
        int otp_ttl;
        int reauthentication_window; /* seconds a sign-in counts as fresh; 0: never asked */
    } auth;
    struct {
        int signup_per_5min;
        int recover_per_5min;
        int otp_per_5min; /* POST /otp (magic links), per client address */
        int resend_per_5min;
        int verify_per_5min;
        int token_per_5min;
        int oauth_per_5min; /* /authorize and /callback, per client address */
        int refresh_per_5min;
        int user_update_per_5min;          /* PUT /user per client */
        int user_update_per_user_per_5min; /* PUT /user per account */
        int email_per_recipient_per_5min;  /* mails to one address from recover, resend,
                                            * email change */
    } limits;
    struct {
        char *transport;        /* file, sendgrid or smtp */
        char *from;             /* From: header */
        char *maildir;          /* file transport: a Maildir */
        char *sendgrid_url;     /* sendgrid transport: API base URL (a mock in tests) */
        char *sendgrid_api_key; /* secret */
        char *smtp_url;         /* smtp transport: smtp://host:port or smtps://host:port */
        char *smtp_tls;         /* starttls (required) or none */
        char *smtp_username;
        char *smtp_password; /* secret */
        char *smtp_ca_file;  /* extra CA bundle for the server's certificate */
        int timeout_ms;      /* per request to the email provider */
        int connections;     /* sendgrid: requests in flight at once */
        char *templates_dir;
    } email;
    struct {
        char *consumer; /* consumer name in the group; "" = host name */
        char *pid_file;
        int batch;
        int republish_after; /* seconds before an unpublished outbox row is republished */
        int claim_idle_ms;   /* pending entries idle this long are claimed from others */
        int max_attempts;    /* then the event goes to ums:events:dead */
        int backoff_base_ms; /* first retry delay, doubled each time, with jitter */
        int backoff_max_ms;
        int keep_days;       /* done outbox rows are deleted after this; 0: kept */
        int redeliver_after; /* seconds before a published, unfinished event is re-sent */
        int lock_ttl_ms;     /* the consumer's lock (stream_lock_take) lapses after this */
    } notifier;
    struct {
        char *transport; /* none | file (JSON files in dir) | fcm */
        char *dir;
        char *fcm_url;                  /* https://fcm.googleapis.com, or a stand-in */
        char *fcm_service_account_file; /* the Google service account JSON (a secret file) */
        char *fcm_project_id;           /* "" = the service account's project_id */
        int timeout_ms;
    } push;
    struct {
        char *backend;     /* local | s3: where avatars go */
        char *local_dir;   /* local: the folder the web server serves */
        char *public_url;  /* URL prefix of stored objects (local folder or bucket) */
        char *s3_endpoint; /* s3: https://s3.<region>.amazonaws.com or a compatible server */
        char *s3_bucket;
        char *s3_region;
        char *s3_access_key;
        char *s3_secret_key; /* secret */
        int timeout_ms;
    } storage;
    struct {
        char *file; /* empty: stderr */
        int level;  /* enum log_level */
    } log;
    struct {
        int enabled; /* counting into files under dir, /metrics answered */
        char *dir;   /* one folder per pool (util/metrics.h) */
    } metrics;
    /* Sign-in with a provider (core/oauth*.c): [google] and [github]. The
     * endpoints are keys so that tests point them at stand-ins. */
    struct oauth_provider_config {
        int enabled;
        char *client_id;
        char *client_secret; /* secret */
        char *authorize_url;
        char *token_url;
        char *userinfo_url; /* google only (NULL for github) */
        char *jwks_url;     /* google only */
        char *issuer;       /* google only: the id_token's iss */
        char *api_url;      /* github only: /user and /user/emails */
        char *scopes;       /* always asked for; the client's scopes are added */
    } google, github;
    struct {
        char *ca_file;  /* "" = the system's CA store */
        int timeout_ms; /* per call to a provider */
        int flow_ttl;   /* seconds an /authorize state lives */
        int code_ttl;   /* seconds a ums auth code lives */
    } oauth;
};

/*
 * Builds a configuration from INI text (`name` is used in messages), then
 * applies UMS_SECTION_KEY environment overrides and reads *_file secrets.
 * On failure returns UMS_EINVALID and writes one line naming the bad key or
 * line into err. The caller frees *out with config_free().
 */
int config_parse(struct ums_config **out, const char *text, size_t len, const char *name, char *err,
                 size_t errlen);

/* Same, reading the file at `path` (at most 1 MiB). */
int config_load(struct ums_config **out, const char *path, char *err, size_t errlen);

void config_free(struct ums_config *cfg);

/* Prints every key with its effective value (secrets masked) to stdout. */
void config_dump(const struct ums_config *cfg);

#endif
