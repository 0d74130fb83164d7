/* test_notifier.c - ums-notifier with the sendgrid transport against a local
 * SendGrid stand-in (tests/mocks/sendgrid.mjs): retries with back-off,
 * Retry-After, permanent failures, a provider that hangs, in-app
 * notifications and preferences, and the consumer's lock (overlapping --once
 * runs, a --once run beside the daemon, a killed holder's lock). The stack's
 * own notifier (file transport) is stopped for the duration and started
 * again at the end. */
#define CTEST_MAIN
#include "../ctest.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <unistd.h>

#include <json-c/json.h>

#include "client.h"
#include "stack.h"

/* The SendGrid stand-in listens on the stack's HTTP port + 1001 ($SG_PORT). */
#define MOCK "http://127.0.0.1:$SG_PORT"

/* The FCM stand-in listens on the stack's HTTP port + 1003 ($FCM_PORT). */
static void sg_port(void)
{
    if (getenv("SG_PORT") == NULL)
        export_port("SG_PORT", 1001);
    if (getenv("FCM_PORT") == NULL)
        export_port("FCM_PORT", 1003);
}

/* The requests the mock received for `to`, parsed (caller puts). */
static struct json_object *mock_requests(const char *to)
{
    char cmd[512], out[65536];
    snprintf(cmd, sizeof(cmd), "curl -fsS \"" MOCK "/_requests?to=%s\"", to);
    return sh_out(cmd, out, sizeof(out)) == 0 ? json_tokener_parse(out) : NULL;
}

/* Waits until the mock saw at least `want` requests for `to`; their count. */
static int wait_requests(const char *to, int want, int secs)
{
    int n = 0;
    for (int i = 0; i == 0 || i < secs * 10; i++) {
        struct json_object *o = mock_requests(to);
        n = o != NULL ? (int)json_object_array_length(o) : 0;
        json_object_put(o);
        if (n >= want)
            return n;
        sleep_ms(100);
    }
    return n;
}

/* The rounds daemon `consumer` has finished (its heartbeat), or -1. */
static long rounds_of(const char *consumer)
{
    char args[256], out[32];
    snprintf(args, sizeof(args), "GET ums:notifier:%s:rounds", consumer);
    if (redis_cmd(args, out, sizeof(out)) != 0 || out[0] < '0' || out[0] > '9')
        return -1;
    return strtol(out, NULL, 10);
}

/*
 * Waits until daemon `consumer` has finished two more rounds than it had: a
 * whole round (retries due, then the stream) began after the call, so what
 * it would do about the stream and the retries as they are now, it has done.
 * The wait is for that, not for a time; at most 15 s. 0 when it happened.
 */
static int settled(const char *consumer)
{
    long start = rounds_of(consumer);
    for (int i = 0; i < 150; i++) {
        long now = rounds_of(consumer);
        if (start < 0)
            start = now; /* the first heartbeat of a daemon just started */
        if (start >= 0 && now >= start + 2)
            return 0;
        sleep_ms(100);
    }
    fprintf(stderr, "    %s finished no two rounds in 15 s\n", consumer);
    return -1;
}

#define SETTLED() ASSERT_EQ(settled("test-notifier"), 0)

static int script(const char *to, const char *responses)
{
    sg_port();
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "curl -fsS -X POST -d '{\"to\":\"%s\",\"responses\":%s}' \"" MOCK "/_script\" "
             ">/dev/null",
             to, responses);
    return sh(cmd);
}

/* The test notifier's settings: sendgrid transport, fast retries, and a
 * consumer's lock that a killed notifier leaves for 3 s, not 60. */
#define NOTIFIER_ENV                                                                               \
    "UMS_EMAIL_TRANSPORT=sendgrid UMS_EMAIL_SENDGRID_URL=" MOCK                                    \
    " UMS_EMAIL_SENDGRID_API_KEY=test-sendgrid-key UMS_EMAIL_TIMEOUT_MS=1000"                      \
    " UMS_NOTIFIER_BACKOFF_BASE_MS=100 UMS_NOTIFIER_BACKOFF_MAX_MS=400"                            \
    " UMS_NOTIFIER_LOCK_TTL_MS=3000"                                                               \
    " UMS_NOTIFIER_MAX_ATTEMPTS=8 UMS_NOTIFIER_REPUBLISH_AFTER=1 UMS_PUSH_TRANSPORT=fcm"           \
    " UMS_PUSH_FCM_URL=http://127.0.0.1:$FCM_PORT"                                                 \
    " UMS_PUSH_FCM_SERVICE_ACCOUNT_FILE=\"$UMS_STACK/fcm/sa.json\""                                \
    " UMS_LOG_FILE=\"$UMS_STACK/log/notifier-test.log\""

/* One --once run of the notifier with the test settings and `env` added. */
#define NOTIFIER_ONCE(env)                                                                         \
    sh(NOTIFIER_ENV " " env " \"$UMS_BUILD_DIR/notifier/ums-notifier\" --config \"$UMS_CONFIG\""   \
                    " --once")

/* Waits until the process named by pid file `name` (in run/) is gone; at
 * most 10 s. 0 when it is. */
static int wait_gone(const char *name)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "kill -0 $(cat \"$UMS_STACK/run/%s\" 2>/dev/null) 2>/dev/null",
             name);
    for (int i = 0; i < 100; i++) {
        if (sh(cmd) != 0)
            return 0;
        sleep_ms(100);
    }
    return -1;
}

/* Starts the test notifier as a daemon with `env` added to the test
 * settings, its heartbeat from an earlier one cleared first. */
static int start_notifier_with(const char *env)
{
    char cmd[2048];
    sg_port();
    if (redis_cmd("DEL ums:notifier:test-notifier:rounds", NULL, 0) != 0)
        return -1;
    snprintf(cmd, sizeof(cmd),
             NOTIFIER_ENV " UMS_NOTIFIER_CONSUMER=test-notifier"
                          " UMS_NOTIFIER_PID_FILE=\"$UMS_STACK/run/notifier-test.pid\" %s"
                          " \"$UMS_BUILD_DIR/notifier/ums-notifier\" --config \"$UMS_CONFIG\""
                          " --daemon",
             env);
    return sh(cmd);
}

static int start_notifier(void)
{
    return start_notifier_with("");
}

CTEST(setup, mock_and_notifier)
{
    ASSERT_EQ(sh("./scripts/down notifier >/dev/null"), 0);
    sg_port();
    ASSERT_EQ(sh("cd tests/mocks && (node sendgrid.mjs \"$SG_PORT\" test-sendgrid-key "
                 ">\"$UMS_STACK/log/sendgrid-mock.log\" 2>&1 & echo $! "
                 ">\"$UMS_STACK/run/sendgrid-mock.pid\")"),
              0);
    int ready = 0;
    for (int i = 0; i < 100 && !ready; i++) {
        ready = sh("grep -q ready \"$UMS_STACK/log/sendgrid-mock.log\"") == 0;
        sleep_ms(100);
    }
    ASSERT_TRUE(ready);
    /* A service account of our own for the FCM stand-in. */
    ASSERT_EQ(
        sh("d=\"$UMS_STACK/fcm\"; rm -rf \"$d\" && mkdir -p \"$d\" && "
           "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out \"$d/key.pem\" "
           "2>/dev/null && openssl pkey -in \"$d/key.pem\" -pubout -out \"$d/pub.pem\" && "
           "D=\"$d\" node -e 'const fs=require(\"fs\");const d=process.env.D;"
           "fs.writeFileSync(d+\"/sa.json\",JSON.stringify({type:\"service_account\","
           "project_id:\"ums-test\",client_email:\"notifier@ums-test.iam.gserviceaccount.com\","
           "private_key:fs.readFileSync(d+\"/key.pem\",\"utf8\"),"
           "token_uri:\"http://127.0.0.1:\"+process.env.FCM_PORT+\"/token\"}))' && "
           "chmod 0644 \"$d/sa.json\" && cd tests/mocks && (node fcm.mjs \"$FCM_PORT\" "
           "\"$d/pub.pem\" >\"$UMS_STACK/log/fcm-mock.log\" 2>&1 & echo $! "
           ">\"$UMS_STACK/run/fcm-mock.pid\")"),
        0);
    ready = 0;
    for (int i = 0; i < 100 && !ready; i++) {
        ready = sh("grep -q ready \"$UMS_STACK/log/fcm-mock.log\"") == 0;
        sleep_ms(100);
    }
    ASSERT_TRUE(ready);
    ASSERT_EQ(start_notifier(), 0);
    SETTLED();
}

CTEST(email, delivered_through_the_sendgrid_api)
{
    char e[128], st[16];
    long attempts;
    struct json_object *o;
    new_email(e, sizeof(e), "sg-ok");
    ASSERT_EQ(signup(e, "correct horse battery", NULL), 0);
    ASSERT_EQ(wait_requests(e, 1, 10), 1);
    o = mock_requests(e);
    ASSERT_NOT_NULL(o);
    ASSERT_EQ(
        json_object_get_int(json_object_object_get(json_object_array_get_idx(o, 0), "status")),
        202);
    json_object_put(o);
    wait_email_delivery(e, "sent", 0, 5, st, &attempts);
    ASSERT_STR_EQ(st, "sent");
    /* The welcome also lands in the in-app inbox. */
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM notifications n JOIN users u ON u.id = n.user_id WHERE u.email "
             "= '%s' AND n.kind = 'welcome'",
             e);
    ASSERT_EQ(sql_long(sql), 1);
}

CTEST(email, five_500s_then_202_is_delivered_once)
{
    char e[128], st[16];
    long attempts = 0;
    new_email(e, sizeof(e), "sg-500");
    ASSERT_EQ(script(e, "[{\"status\":500},{\"status\":500},{\"status\":500},{\"status\":500},"
                        "{\"status\":500}]"),
              0);
    ASSERT_EQ(signup(e, "correct horse battery", NULL), 0);
    ASSERT_EQ(wait_requests(e, 6, 20), 6);
    wait_email_delivery(e, "sent", 0, 5, st, &attempts);
    ASSERT_STR_EQ(st, "sent");
    SETTLED();
    ASSERT_EQ(wait_requests(e, 7, 1), 6); /* never a seventh */
}

CTEST(email, retry_after_is_honoured)
{
    char e[128];
    struct json_object *o;
    new_email(e, sizeof(e), "sg-429");
    ASSERT_EQ(script(e, "[{\"status\":429,\"headers\":{\"Retry-After\":\"2\"}}]"), 0);
    ASSERT_EQ(signup(e, "correct horse battery", NULL), 0);
    ASSERT_EQ(wait_requests(e, 2, 15), 2);
    o = mock_requests(e);
    ASSERT_NOT_NULL(o);
    long t0 = json_object_get_int64(json_object_object_get(json_object_array_get_idx(o, 0), "at"));
    long t1 = json_object_get_int64(json_object_object_get(json_object_array_get_idx(o, 1), "at"));
    json_object_put(o);
    ASSERT_TRUE(t1 - t0 >= 1900);
}

CTEST(email, permanent_400_is_recorded_and_the_queue_moves_on)
{
    char bad[128], good[128], st[16];
    long attempts = 0;
    new_email(bad, sizeof(bad), "sg-400");
    new_email(good, sizeof(good), "sg-after400");
    ASSERT_EQ(script(bad, "[{\"status\":400}]"), 0);
    ASSERT_EQ(signup(bad, "correct horse battery", NULL), 0);
    ASSERT_EQ(signup(good, "correct horse battery", NULL), 0);
    ASSERT_EQ(wait_requests(good, 1, 10), 1);
    wait_email_delivery(bad, "failed", 0, 5, st, &attempts);
    ASSERT_STR_EQ(st, "failed");
    ASSERT_EQ(attempts, 1);
    SETTLED();
    ASSERT_EQ(wait_requests(bad, 2, 1), 1); /* no retry of a permanent failure */
}

CTEST(email, a_hanging_provider_times_out_and_is_retried)
{
    char e[128], other[128];
    new_email(e, sizeof(e), "sg-hang");
    new_email(other, sizeof(other), "sg-nohang");
    ASSERT_EQ(script(e, "[{\"hang\":true}]"), 0);
    ASSERT_EQ(signup(e, "correct horse battery", NULL), 0);
    ASSERT_EQ(signup(other, "correct horse battery", NULL), 0);
    ASSERT_EQ(wait_requests(other, 1, 10), 1); /* the queue keeps moving */
    ASSERT_EQ(wait_requests(e, 2, 15), 2);
    struct json_object *o = mock_requests(e);
    ASSERT_NOT_NULL(o);
    ASSERT_EQ(
        json_object_get_int(json_object_object_get(json_object_array_get_idx(o, 1), "status")),
        202);
    json_object_put(o);
}

CTEST(preferences, role_change_email_off_in_app_on)
{
    char e[128], e2[128], path[256], sql[512];
    struct session u, other;
    const char *key = env_need("UMS_SERVICE_KEY");
    new_email(e, sizeof(e), "sg-pref");
    new_email(e2, sizeof(e2), "sg-pref-admin");
    /* Another admin, so that u is never the last one (whose demotion is a
     * 409 last_admin) whatever the database held before. */
    ASSERT_EQ(signup(e2, "correct horse battery", &other), 0);
    snprintf(path, sizeof(path), "/api/v1/users/%s/role", other.user_id);
    ASSERT_EQ(admin_req("PUT", path, "{\"role\":\"admin\"}", key, NULL), 200);
    ASSERT_EQ(signup(e, "correct horse battery", &u), 0);
    ASSERT_EQ(wait_requests(e, 1, 10), 1); /* the welcome */
    ASSERT_EQ(admin_req("PUT", "/api/v1/users/me/notification-preferences",
                        "{\"role_changed\":{\"email\":false}}", u.access, NULL),
              200);
    snprintf(path, sizeof(path), "/api/v1/users/%s/role", u.user_id);
    ASSERT_EQ(admin_req("PUT", path, "{\"role\":\"admin\"}", key, NULL), 200);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM notifications WHERE user_id = '%s' AND kind = 'role_changed'",
             u.user_id);
    long n = 0;
    for (int i = 0; i < 50 && n == 0; i++) {
        n = sql_long(sql);
        sleep_ms(100);
    }
    ASSERT_EQ(n, 1);
    SETTLED();
    ASSERT_EQ(wait_requests(e, 2, 1), 1); /* no role-change email */
    /* With email on (the default), the next change is mailed. */
    ASSERT_EQ(admin_req("PUT", "/api/v1/users/me/notification-preferences",
                        "{\"role_changed\":{\"email\":true}}", u.access, NULL),
              200);
    ASSERT_EQ(admin_req("PUT", path, "{\"role\":\"user\"}", key, NULL), 200);
    ASSERT_EQ(wait_requests(e, 2, 10), 2);
    struct json_object *o = mock_requests(e);
    ASSERT_NOT_NULL(o);
    ASSERT_STR_CONTAINS(
        json_object_get_string(json_object_object_get(json_object_array_get_idx(o, 1), "subject")),
        "user");
    json_object_put(o);
}

CTEST(dead_letter, exhausted_then_retried_by_umsctl)
{
    char e[128], st[16], cmd[1024];
    long attempts = 0;
    new_email(e, sizeof(e), "sg-dead");
    /* Eight 500s: max_attempts (8) are used up. */
    ASSERT_EQ(script(e, "[{\"status\":500},{\"status\":500},{\"status\":500},{\"status\":500},"
                        "{\"status\":500},{\"status\":500},{\"status\":500},{\"status\":503}]"),
              0);
    ASSERT_EQ(signup(e, "correct horse battery", NULL), 0);
    ASSERT_EQ(wait_requests(e, 8, 30), 8);
    wait_email_delivery(e, "failed", 0, 5, st, &attempts);
    ASSERT_STR_EQ(st, "failed");
    ASSERT_EQ(attempts, 8);
    SETTLED();
    ASSERT_EQ(wait_requests(e, 9, 1), 8);
    /* Buried without its secrets: the dead letter carries no code or link. */
    snprintf(cmd, sizeof(cmd),
             "port=${REDIS_URL##*:}; port=${port%%%%/*}; REDISCLI_AUTH=\"$(cat "
             "\"$UMS_STACK/secrets/redis_password\")\" redis-cli -p \"$port\" XRANGE "
             "ums:events:dead - + | grep -F '%s' | grep -c -e otp -e token_hash || true",
             e);
    {
        char out[32];
        ASSERT_EQ(sh_out(cmd, out, sizeof(out)), 0);
        ASSERT_EQ((int)strtol(out, NULL, 10), 0);
    }
    /* Back from the dead-letter stream: delivered once more, and sent. */
    snprintf(cmd, sizeof(cmd),
             "\"$UMS_BUILD_DIR/cli/umsctl\" events retry-dead | grep -q '^[1-9]'");
    ASSERT_EQ(sh(cmd), 0);
    ASSERT_EQ(wait_requests(e, 9, 10), 9);
    wait_email_delivery(e, "sent", 0, 5, st, &attempts);
    ASSERT_STR_EQ(st, "sent");
}

/* The FCM stand-in's role-change messages for device token `tok` (count),
 * waiting up to secs for `want` of them (a welcome push may come first). */
static int fcm_messages(const char *tok, int want, int secs)
{
    char cmd[512], out[8192];
    int n = 0;
    snprintf(cmd, sizeof(cmd), "curl -fsS \"http://127.0.0.1:$FCM_PORT/_messages?token=%s\"", tok);
    for (int i = 0; i == 0 || i < secs * 10; i++) {
        struct json_object *o = sh_out(cmd, out, sizeof(out)) == 0 ? json_tokener_parse(out) : NULL;
        n = 0;
        for (size_t k = 0; o != NULL && k < json_object_array_length(o); k++) {
            const char *t = jstr(json_object_array_get_idx(o, k), "title");
            n += t != NULL && strcmp(t, "Your role changed") == 0;
        }
        json_object_put(o);
        if (n >= want)
            return n;
        sleep_ms(100);
    }
    return n;
}

static long fcm_tokens_issued(void)
{
    char out[256];
    if (sh_out("curl -fsS \"http://127.0.0.1:$FCM_PORT/_count\"", out, sizeof(out)) != 0)
        return -1;
    return strtol(strstr(out, "\"tokens\":") ? strstr(out, "\"tokens\":") + 9 : "-1", NULL, 10);
}

/* Tells the FCM stand-in how to answer device `dev` (a JSON array). */
static int fcm_script(const char *dev, const char *responses)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "curl -fsS -X POST -d '{\"token\":\"%s\",\"responses\":%s}' "
             "\"http://127.0.0.1:$FCM_PORT/_script\" >/dev/null",
             dev, responses);
    return sh(cmd);
}

/* Registers a push device for the signed-in user; the HTTP status. */
static long add_device(const struct session *u, const char *token, const char *platform)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"token\":\"%s\",\"platform\":\"%s\"}", token, platform);
    return admin_req("POST", "/api/v1/users/me/devices", body, u->access, NULL);
}

CTEST(push, fcm_with_a_cached_access_token_and_gone_devices_removed)
{
    char e[128], path[256], dev[64], gone[64], sql[512];
    struct session u;
    const char *key = env_need("UMS_SERVICE_KEY");
    unsigned r = (unsigned)getpid() ^ (unsigned)time(NULL);

    new_email(e, sizeof(e), "push");
    ASSERT_EQ(signup(e, "correct horse battery", &u), 0);
    snprintf(dev, sizeof(dev), "dev-%08x", r);
    snprintf(gone, sizeof(gone), "gone-%08x", r);
    ASSERT_EQ(add_device(&u, dev, "android"), 201);
    ASSERT_EQ(add_device(&u, gone, "ios"), 201);
    snprintf(path, sizeof(path), "/api/v1/users/%s/role", u.user_id);
    ASSERT_EQ(admin_req("PUT", path, "{\"role\":\"admin\"}", key, NULL), 200);
    ASSERT_EQ(fcm_messages(dev, 1, 10), 1);
    /* The unregistered token is gone from the user's devices. */
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM devices WHERE token = '%s'", gone);
    long left = 1;
    for (int i = 0; i < 50 && left != 0; i++) {
        left = sql_long(sql);
        sleep_ms(100);
    }
    ASSERT_EQ(left, 0);
    /* A second push reuses the access token. */
    long issued = fcm_tokens_issued();
    ASSERT_TRUE(issued >= 1);
    ASSERT_EQ(admin_req("PUT", path, "{\"role\":\"user\"}", key, NULL), 200);
    ASSERT_EQ(fcm_messages(dev, 2, 10), 2);
    ASSERT_EQ(fcm_tokens_issued(), issued);
    /* Push off for role changes: no third message. */
    ASSERT_EQ(admin_req("PUT", "/api/v1/users/me/notification-preferences",
                        "{\"role_changed\":{\"push\":false}}", u.access, NULL),
              200);
    ASSERT_EQ(admin_req("PUT", path, "{\"role\":\"admin\"}", key, NULL), 200);
    SETTLED();
    ASSERT_EQ(fcm_messages(dev, 3, 1), 2);
}

CTEST(push, fcm_500_429_and_a_hang_are_retried_then_delivered_once)
{
    char e[128], path[256], dev[64], cmd[512], out[256];
    struct session u;
    const char *key = env_need("UMS_SERVICE_KEY");
    unsigned r = (unsigned)getpid() * 7919u ^ (unsigned)time(NULL);

    new_email(e, sizeof(e), "push-retry");
    ASSERT_EQ(signup(e, "correct horse battery", &u), 0);
    snprintf(dev, sizeof(dev), "retry-%08x", r);
    ASSERT_EQ(fcm_script(dev, "[{\"status\":500},{\"status\":429,\"headers\":"
                              "{\"Retry-After\":\"1\"}},{\"hang\":true}]"),
              0);
    ASSERT_EQ(add_device(&u, dev, "web"), 201);
    snprintf(path, sizeof(path), "/api/v1/users/%s/role", u.user_id);
    ASSERT_EQ(admin_req("PUT", path, "{\"role\":\"admin\"}", key, NULL), 200);
    ASSERT_EQ(fcm_messages(dev, 1, 20), 1);
    snprintf(cmd, sizeof(cmd), "curl -fsS \"http://127.0.0.1:$FCM_PORT/_attempts?token=%s\"", dev);
    ASSERT_EQ(sh_out(cmd, out, sizeof(out)), 0);
    /* 500, 429, the hang (timed out), then the accepted one; a welcome push
     * may have taken one of the scripted answers first. */
    ASSERT_TRUE(strstr(out, "\"attempts\":4") != NULL || strstr(out, "\"attempts\":5") != NULL);
    SETTLED();
    ASSERT_EQ(fcm_messages(dev, 2, 1), 1);
}

CTEST(push, a_retry_goes_only_to_the_devices_that_missed_it)
{
    char e[128], path[256], good[64], bad[64], cmd[768], out[256];
    struct session u;
    const char *key = env_need("UMS_SERVICE_KEY");
    unsigned r = (unsigned)getpid() * 104729u ^ (unsigned)time(NULL);

    new_email(e, sizeof(e), "push-two");
    ASSERT_EQ(signup(e, "correct horse battery", &u), 0);
    snprintf(good, sizeof(good), "good-%08x", r);
    snprintf(bad, sizeof(bad), "flaky-%08x", r);
    /* The second device fails twice (the welcome push may take the first
     * answer), then accepts. */
    ASSERT_EQ(fcm_script(bad, "[{\"status\":500},{\"status\":500}]"), 0);
    ASSERT_EQ(add_device(&u, good, "android"), 201);
    ASSERT_EQ(add_device(&u, bad, "ios"), 201);
    snprintf(path, sizeof(path), "/api/v1/users/%s/role", u.user_id);
    ASSERT_EQ(admin_req("PUT", path, "{\"role\":\"admin\"}", key, NULL), 200);
    ASSERT_EQ(fcm_messages(bad, 1, 20), 1);
    /* The device that took the first attempt was not sent to again. */
    ASSERT_EQ(fcm_messages(good, 1, 1), 1);
    SETTLED();
    ASSERT_EQ(fcm_messages(good, 2, 1), 1);
    ASSERT_EQ(fcm_messages(bad, 2, 1), 1);
    /* One record per device, and the push itself, all sent. */
    snprintf(
        cmd, sizeof(cmd),
        "psql -X -A -t -q \"$DATABASE_URL\" -c \"SELECT count(*) FILTER (WHERE d.channel LIKE"
        " 'push:%%' AND d.state = 'sent') || ' ' || bool_and(d.state = 'sent') FROM deliveries d"
        " JOIN outbox o ON o.id = d.event_id WHERE o.event->>'user_id' = '%s' AND"
        " o.event->>'type' = 'user.role_changed' AND d.channel LIKE 'push%%'\"",
        u.user_id);
    ASSERT_EQ(sh_out(cmd, out, sizeof(out)), 0);
    ASSERT_STR_EQ(out, "2 true\n");
}

CTEST(faults, sigterm_finishes_the_message_in_hand)
{
    char e[128], st[16];
    long attempts = 0;
    /* The provider takes its time (a hang ended by the 1 s timeout would be
     * a failure), so SIGTERM arrives while the daemon waits on it. */
    new_email(e, sizeof(e), "sg-term");
    ASSERT_EQ(script(e, "[{\"status\":202,\"delay\":700}]"), 0);
    ASSERT_EQ(signup(e, "correct horse battery", NULL), 0);
    ASSERT_EQ(wait_requests(e, 1, 10), 1);
    ASSERT_EQ(sh("kill -TERM $(cat \"$UMS_STACK/run/notifier-test.pid\")"), 0);
    /* The daemon exits after recording the send. */
    int gone = 0;
    for (int i = 0; i < 50 && !gone; i++) {
        gone =
            sh("kill -0 $(cat \"$UMS_STACK/run/notifier-test.pid\" 2>/dev/null) 2>/dev/null") != 0;
        sleep_ms(100);
    }
    ASSERT_TRUE(gone);
    wait_email_delivery(e, "sent", 0, 2, st, &attempts);
    ASSERT_STR_EQ(st, "sent");
    ASSERT_EQ(attempts, 1);
    ASSERT_EQ(start_notifier(), 0);
    SETTLED();
    ASSERT_EQ(wait_requests(e, 2, 1), 1);
}

CTEST(faults, sigkill_mid_send_then_delivered_after_restart)
{
    char e[128], st[16];
    long attempts = 0;
    new_email(e, sizeof(e), "sg-kill");
    ASSERT_EQ(script(e, "[{\"hang\":true}]"), 0);
    ASSERT_EQ(signup(e, "correct horse battery", NULL), 0);
    ASSERT_EQ(wait_requests(e, 1, 10), 1); /* in the middle of the send */
    ASSERT_EQ(sh("kill -KILL $(cat \"$UMS_STACK/run/notifier-test.pid\")"), 0);
    ASSERT_EQ(wait_gone("notifier-test.pid"), 0);
    ASSERT_EQ(start_notifier(), 0);
    ASSERT_EQ(wait_requests(e, 2, 10), 2);
    wait_email_delivery(e, "sent", 0, 5, st, &attempts);
    ASSERT_STR_EQ(st, "sent");
    SETTLED();
    ASSERT_EQ(wait_requests(e, 3, 1), 2);
}

CTEST(outbox, delivered_rows_are_pruned_after_keep_days)
{
    char tag[64], sql[1536], cmd[2048], out[256];

    snprintf(tag, sizeof(tag), "prune-%ld-%ld", (long)getpid(), (long)time(NULL));
    snprintf(sql, sizeof(sql),
             "WITH o AS (INSERT INTO outbox (event, created_at, published_at, done_at) SELECT "
             "jsonb_build_object('type', 'test.prune', 'tag', '%s', 'case', c), "
             "now() - make_interval(days => d), now() - make_interval(days => d), "
             "CASE WHEN c <> 'old-pending' THEN now() - make_interval(days => d) END FROM (VALUES "
             "('old-sent', 40), ('old-pending', 40), ('young-sent', 10)) v(c, d) "
             "RETURNING id, event->>'case' AS c) INSERT INTO deliveries (event_id, channel, state) "
             "SELECT id, 'email', CASE c WHEN 'old-pending' THEN 'pending' ELSE 'sent' END FROM o",
             tag);
    ASSERT_EQ(sql_run(sql), 0);
    /* keep_days is 30 by default; a --once run prunes. */
    ASSERT_EQ(NOTIFIER_ONCE("UMS_NOTIFIER_CONSUMER=test-prune"), 0);
    snprintf(cmd, sizeof(cmd),
             "psql -X -A -t -q \"$DATABASE_URL\" -c \"SELECT string_agg(o.event->>'case' || ':' || "
             "(SELECT count(*) FROM deliveries d WHERE d.event_id = o.id), ',' ORDER BY o.id) "
             "FROM outbox o WHERE o.event->>'tag' = '%s'\"",
             tag);
    ASSERT_EQ(sh_out(cmd, out, sizeof(out)), 0);
    ASSERT_STR_EQ(out, "old-pending:1,young-sent:1\n");
    ASSERT_EQ(sql_long("SELECT count(*) FROM deliveries d WHERE NOT EXISTS "
                       "(SELECT 1 FROM outbox o WHERE o.id = d.event_id)"),
              0);
    snprintf(sql, sizeof(sql), "DELETE FROM outbox WHERE event->>'tag' = '%s'", tag);
    ASSERT_EQ(sql_run(sql), 0);
}

CTEST(outbox, a_published_event_lost_from_the_stream_is_sent_again)
{
    char e[128], sql[1024];

    new_email(e, sizeof(e), "sg-lost");
    /* Published 20 minutes ago, never done: its stream entry was lost (say,
     * with Redis's last second of writes). */
    snprintf(sql, sizeof(sql),
             "WITH o AS (INSERT INTO outbox (event, created_at, published_at) VALUES "
             "(jsonb_build_object('type', 'user.recovery_requested', 'email', '%s'), "
             "now() - interval '20 minutes', now() - interval '20 minutes') RETURNING id) "
             "INSERT INTO outbox_secrets (event_id, otp) SELECT id, '222222' FROM o",
             e);
    ASSERT_EQ(sql_run(sql), 0);
    ASSERT_EQ(NOTIFIER_ONCE("UMS_NOTIFIER_CONSUMER=test-lost UMS_NOTIFIER_REDELIVER_AFTER=600"), 0);
    ASSERT_EQ(wait_requests(e, 1, 10), 1);
    SETTLED();
    ASSERT_EQ(wait_requests(e, 2, 1), 1);
    /* Done now, and its code is gone. */
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM outbox o WHERE event->>'email' = '%s' AND done_at IS NOT NULL"
             " AND NOT EXISTS (SELECT 1 FROM outbox_secrets s WHERE s.event_id = o.id)",
             e);
    ASSERT_EQ(sql_long(sql), 1);
}

CTEST(outbox, an_entry_whose_event_is_gone_is_dropped_unsent)
{
    char e[128], after[128], cmd[1400], id[64];

    new_email(e, sizeof(e), "sg-pruned");
    snprintf(cmd, sizeof(cmd),
             "port=${REDIS_URL##*:}; port=${port%%%%/*}; "
             "redis-cli -p \"$port\" -a \"$(cat \"$UMS_STACK/secrets/redis_password\")\" "
             "--no-auth-warning XADD ums:events '*' outbox_id 999999999999 event "
             "'{\"type\":\"user.recovery_requested\",\"email\":\"%s\",\"otp\":\"123456\"}' "
             "| tr -d '\\n'",
             e);
    ASSERT_EQ(sh_out(cmd, id, sizeof(id)), 0);
    ASSERT_TRUE(strchr(id, '-') != NULL);
    new_email(after, sizeof(after), "sg-pruned-next");
    ASSERT_EQ(signup(after, "correct horse battery", NULL), 0);
    ASSERT_EQ(wait_requests(after, 1, 10), 1);
    ASSERT_EQ(wait_requests(e, 1, 1), 0);
    /* Acknowledged and deleted from the stream. */
    snprintf(cmd, sizeof(cmd),
             "port=${REDIS_URL##*:}; port=${port%%%%/*}; "
             "redis-cli -p \"$port\" -a \"$(cat \"$UMS_STACK/secrets/redis_password\")\" "
             "--no-auth-warning XRANGE ums:events %s %s | grep -c . || true",
             id, id);
    char out[64];
    ASSERT_EQ(sh_out(cmd, out, sizeof(out)), 0);
    ASSERT_STR_EQ(out, "0\n");
}

CTEST(faults, a_recorded_success_is_never_sent_again)
{
    char e[128], sql[1024], cmd[1400];
    new_email(e, sizeof(e), "sg-recorded");
    /* An event whose email delivery is already recorded as sent (a crash
     * between the record and the XACK), put on the stream again. */
    snprintf(sql, sizeof(sql),
             "WITH o AS (INSERT INTO outbox (event, published_at) VALUES (jsonb_build_object("
             "'type', 'user.recovery_requested', 'email', '%s', 'otp', '111111'), now()) "
             "RETURNING id, event), d AS (INSERT INTO deliveries (event_id, channel, state) "
             "SELECT id, 'email', 'sent' FROM o) SELECT id || ' ' || event::text FROM o",
             e);
    snprintf(cmd, sizeof(cmd),
             "row=$(psql -X -A -t -q \"$DATABASE_URL\" -c \"%s\") && "
             "port=${REDIS_URL##*:}; port=${port%%%%/*}; "
             "redis-cli -p \"$port\" -a \"$(cat \"$UMS_STACK/secrets/redis_password\")\" "
             "--no-auth-warning XADD ums:events '*' outbox_id \"${row%%%% *}\" event "
             "\"${row#* }\" | grep -Eq '^[0-9]+-[0-9]+$'",
             sql);
    ASSERT_EQ(sh(cmd), 0);
    /* A fresh event after it shows the queue went past it. */
    char after[128];
    new_email(after, sizeof(after), "sg-recorded-next");
    ASSERT_EQ(signup(after, "correct horse battery", NULL), 0);
    ASSERT_EQ(wait_requests(after, 1, 10), 1);
    ASSERT_EQ(wait_requests(e, 1, 1), 0);
}

CTEST(faults, redis_stopped_while_users_register)
{
    char e[3][128];
    pid_t redis = stack_pid("redis");
    ASSERT_TRUE(redis > 0);
    ASSERT_EQ(kill(redis, SIGTERM), 0);
    ASSERT_EQ(wait_status("/readyz", 503, 10), 0);
    int ok = 1;
    for (int i = 0; i < 3; i++) {
        new_email(e[i], sizeof(e[i]), "sg-noredis");
        ok &= signup(e[i], "correct horse battery", NULL) == 0;
    }
    int back = sh("UMS_UP_NO_NOTIFIER=1 ./scripts/up >/dev/null") == 0 &&
               wait_status("/readyz", 200, 10) == 0;
    ASSERT_TRUE(back);
    ASSERT_TRUE(ok);
    /* Republished from the outbox (republish_after is 1 s here), each once. */
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(wait_requests(e[i], 1, 30), 1);
    SETTLED();
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(wait_requests(e[i], 2, 1), 1);
}

CTEST(faults, two_instances_never_send_twice)
{
    char e[20][128];
    /* A second daemon in the same group, under another consumer name. */
    ASSERT_EQ(redis_cmd("DEL ums:notifier:test-second:rounds", NULL, 0), 0);
    ASSERT_EQ(sh("UMS_EMAIL_TRANSPORT=sendgrid UMS_EMAIL_SENDGRID_URL=" MOCK
                 " UMS_EMAIL_SENDGRID_API_KEY=test-sendgrid-key UMS_NOTIFIER_CONSUMER=test-second"
                 " UMS_NOTIFIER_PID_FILE=\"$UMS_STACK/run/notifier-test2.pid\""
                 " UMS_LOG_FILE=\"$UMS_STACK/log/notifier-test.log\""
                 " \"$UMS_BUILD_DIR/notifier/ums-notifier\" --config \"$UMS_CONFIG\" --daemon"),
              0);
    int ok = 1;
    for (int i = 0; i < 20; i++) {
        new_email(e[i], sizeof(e[i]), "sg-two");
        ok &= signup(e[i], "correct horse battery", NULL) == 0;
    }
    int got = 1;
    for (int i = 0; i < 20; i++)
        got &= wait_requests(e[i], 1, 10) == 1;
    int calm = settled("test-notifier") == 0 && settled("test-second") == 0;
    int dup = 0;
    for (int i = 0; i < 20; i++)
        dup |= wait_requests(e[i], 2, 0) > 1;
    sh("kill $(cat \"$UMS_STACK/run/notifier-test2.pid\") 2>/dev/null; true");
    ASSERT_TRUE(ok);
    ASSERT_TRUE(got);
    ASSERT_TRUE(calm);
    ASSERT_FALSE(dup);
}

/* The value of consumer's lock in Redis into out ("" when there is none). */
static int lock_of(const char *consumer, char *out, size_t n)
{
    char args[256];
    snprintf(args, sizeof(args), "GET ums:notifier:%s:lock", consumer);
    return redis_cmd(args, out, n);
}

/* Waits until consumer's lock is there (want 1) or gone (want 0); at most
 * secs. 0 when it is. */
static int wait_lock(const char *consumer, int want, int secs)
{
    char v[128];
    for (int i = 0; i < secs * 10; i++) {
        if (lock_of(consumer, v, sizeof(v)) == 0 && (v[0] != '\0') == want)
            return 0;
        sleep_ms(100);
    }
    return -1;
}

/* How many lines of log file `name` (in log/) contain `what`; -1 when the
 * file cannot be read. */
static int log_lines(const char *name, const char *what)
{
    char cmd[512], out[32];
    snprintf(cmd, sizeof(cmd), "grep -c -F '%s' \"$UMS_STACK/log/%s\" || true", what, name);
    return sh_out(cmd, out, sizeof(out)) == 0 ? (int)strtol(out, NULL, 10) : -1;
}

/* Stops the test daemon (SIGTERM) and waits until it is gone. 0 then. */
static int stop_notifier(void)
{
    if (sh("kill -TERM $(cat \"$UMS_STACK/run/notifier-test.pid\")") != 0)
        return -1;
    return wait_gone("notifier-test.pid");
}

#define HELD_MSG "another notifier runs as consumer"

/* 1 when token is "host:pid:32 hex digits" with the pid in pidfile (the
 * stack's run folder) and this host's name. */
static int token_names_pid(const char *token, const char *pidfile)
{
    char host[256], want[320], cmd[512], pid[32];
    const char *last = strrchr(token, ':');

    if (gethostname(host, sizeof(host)) != 0 || last == NULL || strlen(last + 1) != 32)
        return 0;
    snprintf(cmd, sizeof(cmd), "cat \"$UMS_STACK/run/%s\"", pidfile);
    if (sh_out(cmd, pid, sizeof(pid)) != 0)
        return 0;
    pid[strcspn(pid, "\n")] = '\0';
    snprintf(want, sizeof(want), "%s:%s:", host, pid);
    return strncmp(token, want, strlen(want)) == 0 && (size_t)(last - token) + 1 == strlen(want);
}

CTEST(lock, a_stopped_daemon_releases_its_lock)
{
    char v[128];
    ASSERT_EQ(lock_of("test-notifier", v, sizeof(v)), 0);
    /* The daemon's token: host:pid:random. */
    ASSERT_TRUE(token_names_pid(v, "notifier-test.pid"));
    ASSERT_EQ(stop_notifier(), 0);
    ASSERT_EQ(lock_of("test-notifier", v, sizeof(v)), 0);
    ASSERT_STR_EQ(v, "");
    ASSERT_EQ(start_notifier(), 0);
    SETTLED();
    ASSERT_EQ(wait_lock("test-notifier", 1, 1), 0);
}

CTEST(lock, a_once_run_while_the_daemon_holds_the_lock_sends_nothing)
{
    char e[128], st[16], before[128], after[128];
    long attempts = 0;
    /* The daemon waits on the provider for 1.5 s (a 5 s timeout, a lock
     * that outlasts it): its entry is pending and unrecorded meanwhile, which
     * a --once run as the same consumer would read ("0") and send again. */
    ASSERT_EQ(stop_notifier(), 0);
    ASSERT_EQ(start_notifier_with("UMS_EMAIL_TIMEOUT_MS=5000 UMS_NOTIFIER_LOCK_TTL_MS=20000"), 0);
    SETTLED();
    new_email(e, sizeof(e), "sg-held");
    ASSERT_EQ(script(e, "[{\"status\":202,\"delay\":1500}]"), 0);
    ASSERT_EQ(signup(e, "correct horse battery", NULL), 0);
    ASSERT_EQ(wait_requests(e, 1, 10), 1); /* in the middle of the send */
    ASSERT_EQ(lock_of("test-notifier", before, sizeof(before)), 0);
    ASSERT_EQ(sh("rm -f \"$UMS_STACK/log/notifier-held.log\""), 0);
    ASSERT_EQ(NOTIFIER_ONCE("UMS_NOTIFIER_CONSUMER=test-notifier"
                            " UMS_LOG_FILE=\"$UMS_STACK/log/notifier-held.log\""),
              0);
    ASSERT_EQ(log_lines("notifier-held.log", HELD_MSG " test-notifier; nothing to do"), 1);
    /* The daemon's lock is untouched, and the daemon sends it, once. */
    ASSERT_EQ(lock_of("test-notifier", after, sizeof(after)), 0);
    ASSERT_STR_EQ(after, before);
    wait_email_delivery(e, "sent", 0, 10, st, &attempts);
    ASSERT_STR_EQ(st, "sent");
    ASSERT_EQ(attempts, 1);
    SETTLED();
    ASSERT_EQ(wait_requests(e, 2, 1), 1);
    ASSERT_EQ(stop_notifier(), 0);
    ASSERT_EQ(start_notifier(), 0);
    SETTLED();
}

CTEST(lock, two_overlapping_once_runs_send_each_event_once)
{
#define PAIR 12
    char e[PAIR][128], out[64];
    int ok = 1, once = 1, twice = 0; /* once: each sent; twice: one sent again */
    /* No daemon reads the stream: the events wait for the --once runs. */
    ASSERT_EQ(stop_notifier(), 0);
    ASSERT_EQ(sh("rm -f \"$UMS_STACK/log/notifier-pair-a.log\" "
                 "\"$UMS_STACK/log/notifier-pair-b.log\" \"$UMS_STACK/run/pair-a.rc\""),
              0);
    for (int i = 0; i < PAIR; i++) {
        new_email(e[i], sizeof(e[i]), "sg-pair");
        ok &= script(e[i], "[{\"status\":202,\"delay\":1500}]") == 0;
        ok &= signup(e[i], "correct horse battery", NULL) == 0;
    }
    /* The first run sends its batch (8 at a time, 1.5 s each: about 3 s). */
    ok &= sh("(" NOTIFIER_ENV " UMS_EMAIL_TIMEOUT_MS=5000 UMS_NOTIFIER_CONSUMER=test-pair"
             " UMS_LOG_FILE=\"$UMS_STACK/log/notifier-pair-a.log\""
             " \"$UMS_BUILD_DIR/notifier/ums-notifier\" --config \"$UMS_CONFIG\" --once"
             " >/dev/null 2>&1; echo $? >\"$UMS_STACK/run/pair-a.rc\") &") == 0;
    /* The second starts while the first is in the middle of it. */
    int sending = wait_requests(e[0], 1, 10) == 1;
    int running = sh("test ! -e \"$UMS_STACK/run/pair-a.rc\"") == 0;
    int held = wait_lock("test-pair", 1, 1) == 0;
    int second = NOTIFIER_ONCE("UMS_EMAIL_TIMEOUT_MS=5000 UMS_NOTIFIER_CONSUMER=test-pair"
                               " UMS_LOG_FILE=\"$UMS_STACK/log/notifier-pair-b.log\"");
    int before_first = sh("test ! -e \"$UMS_STACK/run/pair-a.rc\"") == 0;
    int first = -1;
    for (int i = 0; i < 200 && first < 0; i++) {
        if (sh_out("cat \"$UMS_STACK/run/pair-a.rc\" 2>/dev/null", out, sizeof(out)) == 0 &&
            out[0] != '\0')
            first = (int)strtol(out, NULL, 10);
        else
            sleep_ms(100);
    }
    for (int i = 0; i < PAIR; i++) {
        once &= wait_requests(e[i], 1, 5) >= 1; /* each sent */
        twice |= wait_requests(e[i], 2, 0) > 1;
    }
    ASSERT_EQ(start_notifier(), 0);
    ASSERT_TRUE(ok);
    ASSERT_TRUE(sending);
    ASSERT_TRUE(running);
    ASSERT_EQ(second, 0);
    ASSERT_EQ(first, 0);
    ASSERT_TRUE(once);
    ASSERT_FALSE(twice);
    /* The first held the lock; the second found it so and was done at once. */
    ASSERT_TRUE(held);
    ASSERT_TRUE(before_first);
    ASSERT_EQ(log_lines("notifier-pair-b.log", HELD_MSG " test-pair; nothing to do"), 1);
    ASSERT_EQ(log_lines("notifier-pair-a.log", HELD_MSG), 0);
    ASSERT_EQ(wait_lock("test-pair", 0, 1), 0); /* released at exit */
    SETTLED();
    for (int i = 0; i < PAIR; i++)
        ASSERT_EQ(wait_requests(e[i], 2, 0), 1);
#undef PAIR
}

CTEST(lock, a_killed_holders_lock_is_taken_over_at_once_on_its_host)
{
    char stale[400], now[400];
#define STALE_DAEMON(log)                                                                          \
    sh(NOTIFIER_ENV " UMS_NOTIFIER_CONSUMER=test-stale"                                            \
                    " UMS_NOTIFIER_PID_FILE=\"$UMS_STACK/run/notifier-stale.pid\""                 \
                    " UMS_LOG_FILE=\"$UMS_STACK/log/" log "\""                                     \
                    " \"$UMS_BUILD_DIR/notifier/ums-notifier\" --config \"$UMS_CONFIG\" --daemon")
    ASSERT_EQ(sh("rm -f \"$UMS_STACK/log/notifier-stale-1.log\" "
                 "\"$UMS_STACK/log/notifier-stale-2.log\""),
              0);
    ASSERT_EQ(redis_cmd("DEL ums:notifier:test-stale:lock ums:notifier:test-stale:rounds", NULL, 0),
              0);
    ASSERT_EQ(STALE_DAEMON("notifier-stale-1.log"), 0);
    ASSERT_EQ(settled("test-stale"), 0);
    ASSERT_EQ(lock_of("test-stale", stale, sizeof(stale)), 0);
    ASSERT_TRUE(token_names_pid(stale, "notifier-stale.pid"));
    ASSERT_EQ(sh("kill -KILL $(cat \"$UMS_STACK/run/notifier-stale.pid\")"), 0);
    ASSERT_EQ(wait_gone("notifier-stale.pid"), 0);
    /* Its lock outlives it, but it names a process of this host that is
     * gone: a --once run started at once takes it over, runs, and leaves
     * no lock behind. (Restarting a crashed daemon waits for nothing.) */
    ASSERT_EQ(lock_of("test-stale", now, sizeof(now)), 0);
    ASSERT_STR_EQ(now, stale);
    ASSERT_EQ(NOTIFIER_ONCE("UMS_NOTIFIER_CONSUMER=test-stale"
                            " UMS_LOG_FILE=\"$UMS_STACK/log/notifier-stale-2.log\""),
              0);
    ASSERT_EQ(log_lines("notifier-stale-2.log", "a notifier that is gone; taken over"), 1);
    ASSERT_EQ(log_lines("notifier-stale-2.log", HELD_MSG), 0);
    ASSERT_EQ(wait_lock("test-stale", 0, 1), 0);
#undef STALE_DAEMON
}

CTEST(lock, another_hosts_lock_is_waited_for_until_its_ttl)
{
    char now[400];
    struct timespec t0, t1;
    ASSERT_EQ(
        sh("rm -f \"$UMS_STACK/log/notifier-far-1.log\" \"$UMS_STACK/log/notifier-far-2.log\""), 0);
    ASSERT_EQ(redis_cmd("DEL ums:notifier:test-far:rounds", NULL, 0), 0);
    /* A holder on another host cannot be looked at: its lock holds until
     * it lapses (lock_ttl_ms is 3 s here). */
    ASSERT_EQ(redis_cmd("SET ums:notifier:test-far:lock elsewhere.example:4242:"
                        "0123456789abcdef0123456789abcdef PX 3000",
                        NULL, 0),
              0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ASSERT_EQ(NOTIFIER_ONCE("UMS_NOTIFIER_CONSUMER=test-far"
                            " UMS_LOG_FILE=\"$UMS_STACK/log/notifier-far-1.log\""),
              0);
    ASSERT_EQ(log_lines("notifier-far-1.log", HELD_MSG " test-far; nothing to do"), 1);
    ASSERT_EQ(sh(NOTIFIER_ENV " UMS_NOTIFIER_CONSUMER=test-far"
                              " UMS_NOTIFIER_PID_FILE=\"$UMS_STACK/run/notifier-far.pid\""
                              " UMS_LOG_FILE=\"$UMS_STACK/log/notifier-far-2.log\""
                              " \"$UMS_BUILD_DIR/notifier/ums-notifier\" --config \"$UMS_CONFIG\""
                              " --daemon"),
              0);
    ASSERT_EQ(settled("test-far"), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ASSERT_EQ(log_lines("notifier-far-2.log", HELD_MSG " test-far; waiting for it"), 1);
    ASSERT_EQ(log_lines("notifier-far-2.log", "took the lock of consumer test-far"), 1);
    ASSERT_EQ(lock_of("test-far", now, sizeof(now)), 0);
    ASSERT_TRUE(token_names_pid(now, "notifier-far.pid"));
    long waited = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    ASSERT_TRUE(waited >= 2000 && waited < 15000);
    ASSERT_EQ(sh("kill -TERM $(cat \"$UMS_STACK/run/notifier-far.pid\")"), 0);
    ASSERT_EQ(wait_gone("notifier-far.pid"), 0);
    ASSERT_EQ(wait_lock("test-far", 0, 1), 0);
}

CTEST(faults, a_template_with_an_unknown_placeholder_stops_start_up)
{
    char out[4096];
    ASSERT_EQ(sh("rm -rf \"$UMS_STACK/tpl-bad\" && cp -r templates \"$UMS_STACK/tpl-bad\" && "
                 "printf 'Subject: Hi {{nickname}}\\n\\nHello\\n' >"
                 " \"$UMS_STACK/tpl-bad/welcome.txt\""),
              0);
    int rc = sh_out("UMS_EMAIL_TEMPLATES_DIR=\"$UMS_STACK/tpl-bad\" \"$UMS_BUILD_DIR/notifier/"
                    "ums-notifier\" --config \"$UMS_CONFIG\" --once 2>&1",
                    out, sizeof(out));
    sh("rm -rf \"$UMS_STACK/tpl-bad\"");
    ASSERT_TRUE(rc != 0);
    ASSERT_STR_CONTAINS(out, "nickname");
    ASSERT_STR_CONTAINS(out, "welcome");
}

CTEST(cli, umsctl_events_status_matches_redis_and_postgres)
{
    char out[512], want[256], cmd[1024], n[64];
    long stream = -1, dead = -1, waiting = -1;

    ASSERT_EQ(sh_out("\"$UMS_BUILD_DIR/cli/umsctl\" --config \"$UMS_CONFIG\" events status", out,
                     sizeof(out)),
              0);
    ASSERT_EQ(sscanf(out,
                     "stream %ld\npending %*d\nconsumers %*d\ndead %ld\nunpublished %*d\n"
                     "waiting %ld\n",
                     &stream, &dead, &waiting),
              3);
    /* The same numbers straight from Redis and PostgreSQL (the suite is idle here). */
    static const char *const key[2] = {"ums:events", "ums:events:dead"};
    long want_n[2] = {stream, dead};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof(cmd),
                 "port=${REDIS_URL##*:}; port=${port%%%%/*}; "
                 "redis-cli -p \"$port\" -a \"$(cat \"$UMS_STACK/secrets/redis_password\")\" "
                 "--no-auth-warning XLEN %s",
                 key[i]);
        ASSERT_EQ(sh_out(cmd, n, sizeof(n)), 0);
        snprintf(want, sizeof(want), "%ld\n", want_n[i]);
        ASSERT_STR_EQ(n, want);
    }
    ASSERT_EQ(sql_long("SELECT count(*) FROM deliveries WHERE state = 'pending'"), waiting);
    /* Usage errors are exit 2. */
    ASSERT_EQ(sh("\"$UMS_BUILD_DIR/cli/umsctl\" --config \"$UMS_CONFIG\" events bogus 2>/dev/null"),
              2);
}

CTEST(teardown, stack_notifier_back)
{
    sh("kill $(cat \"$UMS_STACK/run/notifier-test.pid\") 2>/dev/null; "
       "kill $(cat \"$UMS_STACK/run/sendgrid-mock.pid\") 2>/dev/null; "
       "kill $(cat \"$UMS_STACK/run/fcm-mock.pid\") 2>/dev/null; true");
    ASSERT_EQ(wait_gone("notifier-test.pid"), 0);
    ASSERT_EQ(wait_gone("sendgrid-mock.pid"), 0);
    ASSERT_EQ(wait_gone("fcm-mock.pid"), 0);
    ASSERT_EQ(sh("./scripts/up >/dev/null"), 0);
}
