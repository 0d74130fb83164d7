/* test_config.c - INI parsing, environment overrides, *_file secrets. */
#define CTEST_MAIN
#include "../ctest.h"

#include <stdlib.h>
#include <unistd.h>

#include "../../core/config.h"
#include "../../util/log.h"
#include "../../util/ums.h"

static char err[512];
extern char **environ;

/* The tests own the UMS_* environment: scripts/up's UMS_REDIS_PORT, for one,
 * is also the override of [redis] port. */
static void clear_ums_env(void)
{
    for (int again = 1; again;) {
        again = 0;
        for (char **e = environ; *e != NULL; e++) {
            if (strncmp(*e, "UMS_", 4) == 0) {
                char name[256];
                size_t n = strcspn(*e, "=");
                snprintf(name, sizeof(name), "%.*s", (int)n, *e);
                unsetenv(name);
                again = 1;
                break;
            }
        }
    }
}

static int parse(struct ums_config **c, const char *text)
{
    static int cleared;
    if (!cleared) {
        clear_ums_env();
        cleared = 1;
    }
    err[0] = '\0';
    return config_parse(c, text, strlen(text), "t.conf", err, sizeof(err));
}

CTEST(config, defaults)
{
    struct ums_config *c;
    ASSERT_EQ(parse(&c, ""), UMS_OK);
    ASSERT_EQ(c->server.workers, 4);
    ASSERT_EQ(c->server.socket_mode, 0660);
    ASSERT_EQ(c->server.body_max, 16384);
    ASSERT_EQ(c->redis.port, 6379);
    ASSERT_EQ(c->log.level, LL_INFO);
    ASSERT_STR_EQ(c->server.listen, "/run/ums/ums-fcgi.sock");
    config_free(c);
}

/* The notifier's lock must outlast a read (BLOCK 1000) and a batch. */
CTEST(config, notifier_lock_ttl_bounds)
{
    struct ums_config *c;
    ASSERT_EQ(parse(&c, ""), UMS_OK);
    ASSERT_EQ(c->notifier.lock_ttl_ms, 60000);
    config_free(c);
    ASSERT_EQ(parse(&c, "[notifier]\nlock_ttl_ms = 2000\n"), UMS_OK);
    ASSERT_EQ(c->notifier.lock_ttl_ms, 2000);
    config_free(c);
    ASSERT_EQ(parse(&c, "[notifier]\nlock_ttl_ms = 1999\n"), UMS_EINVALID);
    ASSERT_STR_CONTAINS(err, "lock_ttl_ms");
    ASSERT_EQ(parse(&c, "[notifier]\nlock_ttl_ms = 3600001\n"), UMS_EINVALID);
}

CTEST(config, values_comments_quotes)
{
    struct ums_config *c;
    ASSERT_EQ(parse(&c, "# comment\n; other\n[server]\n  workers = 8 \nlisten=127.0.0.1:9000\r\n"
                        "socket_mode = 0600\n[log]\nlevel = debug\nfile = \" /tmp/x \"\n"),
              UMS_OK);
    ASSERT_EQ(c->server.workers, 8);
    ASSERT_STR_EQ(c->server.listen, "127.0.0.1:9000");
    ASSERT_EQ(c->server.socket_mode, 0600);
    ASSERT_EQ(c->log.level, LL_DEBUG);
    ASSERT_STR_EQ(c->log.file, " /tmp/x ");
    config_free(c);
}

CTEST(config, names_unknown_key)
{
    struct ums_config *c;
    ASSERT_EQ(parse(&c, "[server]\nworkers = 2\nwrokers = 3\n"), UMS_EINVALID);
    ASSERT_NULL(c);
    ASSERT_STR_CONTAINS(err, "t.conf:3");
    ASSERT_STR_CONTAINS(err, "wrokers");
}

CTEST(config, unknown_section)
{
    struct ums_config *c;
    ASSERT_EQ(parse(&c, "[sever]\nworkers = 2\n"), UMS_EINVALID);
    ASSERT_STR_CONTAINS(err, "[sever]");
}

CTEST(config, bad_values)
{
    static const char *const bad[] = {
        "[server]\nworkers = 0\n",
        "[server]\nworkers = 257\n",
        "[server]\nworkers = 4x\n",
        "[server]\nworkers = \n",
        "[server]\nworkers = -1\n",
        "[server]\nsocket_mode = 0999\n",
        "[log]\nlevel = loud\n",
        "[redis]\nport = 70000\n",
        "[server]\nlisten = relative.sock\n",
        "[server]\nlisten = 127.0.0.1:http\n",
        "workers = 2\n",
        "[server\nworkers = 2\n",
        "[server]\nworkers\n",
        "[server]\nworkers = 2\nworkers = 3\n",
        "[server]\nworkers = 99999999999999999999\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ums_config *c = NULL;
        if (parse(&c, bad[i]) != UMS_EINVALID || c != NULL || err[0] == '\0')
            CTEST_FAIL_("accepted: %s", bad[i]);
    }
}

/* Enum and URL keys: the table's choices decide, and the refusal names the
 * line, the key and what it must be. */
CTEST(config, typed_keys)
{
    static const struct {
        const char *text, *says; /* says: NULL when accepted */
    } cases[] = {
        {"[auth]\njwt_algorithm = HS256\njwt_secret = 0123456789abcdef0123456789abcdef\n", NULL},
        {"[auth]\njwt_algorithm = ES256\n",
         "t.conf:2: [auth] jwt_algorithm must be RS256 or HS256"},
        {"[auth]\njwt_algorithm = rs256\n", "jwt_algorithm must be"},
        {"[auth]\njwt_algorithm = RS25\n", "jwt_algorithm must be"},
        {"[auth]\njwt_algorithm = RS256|HS256\n", "jwt_algorithm must be"},
        {"[auth]\njwt_algorithm = \n", "jwt_algorithm must be"},
        {"[email]\ntransport = smtp\n", NULL},
        {"[email]\ntransport = mail\n", "transport must be file, sendgrid or smtp"},
        {"[email]\nsmtp_tls = none\n", NULL},
        {"[email]\nsmtp_tls = tls\n", "smtp_tls must be starttls or none"},
        {"[push]\ntransport = apns\n", "transport must be none, file or fcm"},
        {"[storage]\nbackend = s3\n", NULL},
        {"[storage]\nbackend = ftp\n", "backend must be local or s3"},
        {"[auth]\nsite_url = https://app.example.com/welcome\n", NULL},
        {"[auth]\nsite_url = http://127.0.0.1:3000\n", NULL},
        {"[auth]\nsite_url = ftp://app.example.com\n",
         "t.conf:2: [auth] site_url must be an http:// or https:// URL with a host"},
        {"[auth]\nsite_url = https://\n", "site_url must be"},
        {"[auth]\nsite_url = https:///path\n", "site_url must be"},
        {"[auth]\nsite_url = \"https://a b\"\n", "site_url must be"},
        {"[auth]\nsite_url = app.example.com\n", "site_url must be"},
        {"[auth]\nexternal_url = HTTPS://x\n", "external_url must be"},
        {"[email]\nsmtp_url = smtps://mail.example.com:465\n", NULL},
        {"[email]\nsmtp_url = http://mail.example.com\n",
         "smtp_url must be an smtp:// or smtps:// URL"},
        {"[push]\nfcm_url = https://fcm.googleapis.com\n", NULL},
        {"[push]\nfcm_url = fcm.googleapis.com\n", "fcm_url must be an https:// or http:// URL"},
        {"[redis]\nhost = \n", "t.conf:2: [redis] host must not be empty"},
        {"[server]\nlisten = \"\"\n", "[server] listen must not be empty"},
        {"[server]\nauthorizer_listen = 127.0.0.1:9009\n", NULL},
        {"[server]\nauthorizer_listen = [::1]:9009\n", NULL},
        {"[server]\nauthorizer_listen = 0.0.0.0:9009\n", "authorizer_listen must be a loopback"},
        {"[server]\nauthorizer_listen = 10.0.0.1:9009\n", "authorizer_listen must be"},
        {"[server]\nauthorizer_listen = 127.0.0.1\n", "authorizer_listen must be"},
        {"[server]\nauthorizer_listen = 127.0.0.1:0\n", "authorizer_listen must be"},
        {"[server]\nauthorizer_listen = /run/ums/authz.sock\n", "authorizer_listen must be"},
        {"[database]\nreplica_urls = postgresql://ums@10.0.0.2/ums\n", NULL},
        {"[database]\nreplica_urls = postgresql://a/ums , host=b dbname=ums port=5433\n", NULL},
        {"[database]\nreplica_urls = postgresql://a/ums,,postgresql://b/ums\n",
         "replica_urls: entry 2 is empty"},
        {"[database]\nreplica_urls = postgresql://a/ums,\n", "replica_urls: entry 2 is empty"},
        {"[database]\nreplica_urls = host=a nosuchkey=1\n", "replica_urls: entry 1: invalid"},
        {"[database]\nreplica_urls = host=a,host=b,host=c,host=d,host=e,host=f,host=g,host=h,"
         "host=i\n",
         "more than 8 replicas"},
        {"[database]\nmax_replica_lag = -1\n", "max_replica_lag"},
        {"[redis]\nsentinels = 10.0.0.1:26379, sentinel-2:26379,10.0.0.3:26379\n", NULL},
        {"[redis]\nsentinels = 10.0.0.1\n", "[redis] sentinels: entry 1 is not host:port"},
        {"[redis]\nsentinels = a:1,b:0\n", "[redis] sentinels: entry 2 is not host:port"},
        {"[redis]\nsentinels = a:1,:2\n", "entry 2 is not host:port"},
        {"[redis]\nsentinels = a:1,\n", "entry 2 is not host:port"},
        {"[redis]\nsentinels = a:+1\n", "entry 1 is not host:port"},
        {"[redis]\nsentinels = a:1\nmaster_name = \n", "sentinels needs master_name"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ums_config *c = NULL;
        int rc = parse(&c, cases[i].text);
        if (cases[i].says == NULL && rc != UMS_OK)
            CTEST_FAIL_("refused: %s (%s)", cases[i].text, err);
        if (cases[i].says != NULL && (rc != UMS_EINVALID || c != NULL))
            CTEST_FAIL_("accepted: %s", cases[i].text);
        if (cases[i].says != NULL && strstr(err, cases[i].says) == NULL)
            CTEST_FAIL_("for %s: \"%s\" does not say \"%s\"", cases[i].text, err, cases[i].says);
        config_free(c);
    }
}

/* The environment is checked by the same types. */
CTEST(config, typed_keys_from_the_environment)
{
    struct ums_config *c = NULL;
    setenv("UMS_EMAIL_TRANSPORT", "pigeon", 1);
    ASSERT_EQ(parse(&c, ""), UMS_EINVALID);
    unsetenv("UMS_EMAIL_TRANSPORT");
    ASSERT_STR_CONTAINS(err, "environment UMS_EMAIL_TRANSPORT: [email] transport must be");
}

CTEST(config, nul_byte_rejected)
{
    struct ums_config *c;
    static const char text[] = "[server]\nworkers = 2\0\n";
    ASSERT_EQ(config_parse(&c, text, sizeof(text) - 1, "t", err, sizeof(err)), UMS_EINVALID);
}

CTEST(config, environment_overrides_file)
{
    struct ums_config *c;
    setenv("UMS_SERVER_WORKERS", "12", 1);
    setenv("UMS_DATABASE_URL", "postgresql://x@127.0.0.1/y", 1);
    ASSERT_EQ(parse(&c, "[server]\nworkers = 2\n"), UMS_OK);
    unsetenv("UMS_SERVER_WORKERS");
    unsetenv("UMS_DATABASE_URL");
    ASSERT_EQ(c->server.workers, 12);
    ASSERT_STR_EQ(c->database.url, "postgresql://x@127.0.0.1/y");
    config_free(c);
}

CTEST(config, environment_is_validated)
{
    struct ums_config *c;
    setenv("UMS_REDIS_PORT", "abc", 1);
    ASSERT_EQ(parse(&c, ""), UMS_EINVALID);
    unsetenv("UMS_REDIS_PORT");
    ASSERT_STR_CONTAINS(err, "UMS_REDIS_PORT");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

CTEST(config, secret_files)
{
    struct ums_config *c;
    char path[] = "/tmp/ums-test-secret-XXXXXX", text[256];
    int fd = mkstemp(path);
    ASSERT_TRUE(fd >= 0);
    close(fd);
    write_file(path, "s3cret\n");
    snprintf(text, sizeof(text), "[redis]\npassword_file = %s\n", path);
    ASSERT_EQ(parse(&c, text), UMS_OK);
    ASSERT_STR_EQ(c->redis.password, "s3cret");
    config_free(c);

    setenv("UMS_DATABASE_PASSWORD_FILE", path, 1);
    ASSERT_EQ(parse(&c, ""), UMS_OK);
    unsetenv("UMS_DATABASE_PASSWORD_FILE");
    ASSERT_STR_EQ(c->database.password, "s3cret");
    config_free(c);

    snprintf(text, sizeof(text), "[redis]\npassword = x\npassword_file = %s\n", path);
    ASSERT_EQ(parse(&c, text), UMS_EINVALID);
    ASSERT_STR_CONTAINS(err, "both");
    unlink(path);
}

CTEST(config, missing_secret_file_is_named)
{
    struct ums_config *c;
    ASSERT_EQ(parse(&c, "[database]\npassword_file = /nonexistent/pw\n"), UMS_EINVALID);
    ASSERT_STR_CONTAINS(err, "password_file");
    ASSERT_STR_CONTAINS(err, "/nonexistent/pw");
}

CTEST(config, file_only_for_secrets)
{
    struct ums_config *c;
    ASSERT_EQ(parse(&c, "[server]\nworkers_file = /tmp/x\n"), UMS_EINVALID);
    ASSERT_STR_CONTAINS(err, "workers_file");
}

CTEST(config, load_missing_file)
{
    struct ums_config *c;
    clear_ums_env();
    ASSERT_EQ(config_load(&c, "/nonexistent/ums.conf", err, sizeof(err)), UMS_EINVALID);
    ASSERT_STR_CONTAINS(err, "/nonexistent/ums.conf");
}

CTEST(config, oauth_providers_off_by_default_with_real_endpoints)
{
    struct ums_config *c;
    ASSERT_EQ(parse(&c, ""), UMS_OK);
    ASSERT_EQ(c->google.enabled, 0);
    ASSERT_EQ(c->github.enabled, 0);
    ASSERT_STR_EQ(c->google.token_url, "https://oauth2.googleapis.com/token");
    ASSERT_STR_EQ(c->google.issuer, "https://accounts.google.com");
    ASSERT_STR_EQ(c->github.api_url, "https://api.github.com");
    ASSERT_EQ(c->oauth.flow_ttl, 600);
    ASSERT_EQ(c->oauth.code_ttl, 300);
    config_free(c);
}

CTEST(config, oauth_enabled_provider_needs_its_client)
{
    struct ums_config *c;
    ASSERT_EQ(parse(&c, "[github]\nenabled = true\nclient_id = x\n"), UMS_EINVALID);
    ASSERT_STR_CONTAINS(err, "[github] enabled needs client_id and client_secret");
    ASSERT_EQ(parse(&c, "[google]\nenabled = true\nclient_secret = s\n"), UMS_EINVALID);
    ASSERT_STR_CONTAINS(err, "[google]");
    ASSERT_EQ(parse(&c, "[github]\nenabled = true\nclient_id = x\nclient_secret = s\n"), UMS_OK);
    config_free(c);
}

/* Client secrets and codes go over TLS; plain HTTP only to a stand-in on
 * loopback, and no URL may carry a user, a query or a fragment. */
CTEST(config, oauth_endpoints_tls_or_loopback)
{
    static const char *const bad[] = {
        "token_url = http://oauth.example.com/token",
        "token_url = http://127.0.0.1.evil.example/token",
        "token_url = http://localhost.evil.example/token",
        "api_url = https://user@api.github.com",
        "api_url = https://api.github.com?x=1",
    };
    static const char *const good[] = {
        "token_url = http://127.0.0.1:9092/login/oauth/access_token",
        "token_url = http://localhost/token",
        "api_url = https://github.example.com/api/v3",
    };
    char text[512];
    struct ums_config *c;

    for (size_t i = 0; i < UMS_ARRAY_LEN(bad); i++) {
        snprintf(text, sizeof(text),
                 "[github]\nenabled = true\nclient_id = x\nclient_secret = s\n%s\n", bad[i]);
        ASSERT_EQ(parse(&c, text), UMS_EINVALID);
        ASSERT_STR_CONTAINS(err, "[github]");
    }
    for (size_t i = 0; i < UMS_ARRAY_LEN(good); i++) {
        snprintf(text, sizeof(text),
                 "[github]\nenabled = true\nclient_id = x\nclient_secret = s\n%s\n", good[i]);
        ASSERT_EQ(parse(&c, text), UMS_OK);
        config_free(c);
    }
    /* A disabled provider's endpoints are not its concern yet. */
    ASSERT_EQ(parse(&c, "[github]\ntoken_url = http://oauth.example.com/token\n"), UMS_OK);
    config_free(c);
}

CTEST(config, the_shipped_example_loads)
{
    char path[1024], why[512] = "";
    struct ums_config *c = NULL;
    const char *srcdir = getenv("srcdir");

    /* deploy/ums.conf.example is what make install puts in /etc/ums. */
    snprintf(path, sizeof(path), "%s/deploy/ums.conf.example", srcdir != NULL ? srcdir : "..");
    ASSERT_EQ(config_load(&c, path, why, sizeof(why)), UMS_OK);
    ASSERT_STR_EQ(c->server.user, "ums");
    ASSERT_STR_EQ(c->metrics.dir, "/run/ums/metrics");
    config_free(c);
}

/* A replica URL may hold a password: a refusal names the entry, and what
 * libpq quotes of it stays out of the message. */
CTEST(config, replica_url_errors_never_show_the_url)
{
    struct ums_config *c = NULL;

    ASSERT_EQ(parse(&c, "[database]\nreplica_urls = postgresql://ums:s3cret@[::1/ums\n"),
              UMS_EINVALID);
    ASSERT_STR_CONTAINS(err, "[database] replica_urls: entry 1:");
    ASSERT_TRUE(strstr(err, "s3cret") == NULL);
    ASSERT_EQ(parse(&c, "[database]\nreplica_urls = user=ums password=s3cret hots=a\n"),
              UMS_EINVALID);
    ASSERT_TRUE(strstr(err, "s3cret") == NULL);
}
