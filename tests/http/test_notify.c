/* test_notify.c - black-box tests of the notification routes of /api/v1
 * through nginx: the in-app inbox, preferences and push devices. */
#define CTEST_MAIN
#include "../ctest.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "../../util/utf8.h"
#include "client.h"
#include "stack.h"

static int user_new(struct session *s, char *email, size_t n, const char *tag)
{
    new_email(email, n, tag);
    return signup(email, "correct horse battery", s);
}

static int jint(struct json_object *o, const char *k)
{
    struct json_object *v;
    return o != NULL && json_object_object_get_ex(o, k, &v) ? json_object_get_int(v) : -1;
}

CTEST(inbox, list_unread_keyset_and_marks)
{
    struct session u, other;
    char e[128], eo[128], sql[1024], path[512], first_id[32];
    struct json_object *o, *data, *nc;

    ASSERT_EQ(user_new(&u, e, sizeof(e), "inbox"), 0);
    ASSERT_EQ(user_new(&other, eo, sizeof(eo), "inbox-o"), 0);
    /* The notifier puts a welcome in the inbox; wait for it, then mark it
     * read, so the counts below are the test's own. */
    snprintf(sql, sizeof(sql),
             "DO \\$\\$ BEGIN FOR i IN 1..100 LOOP EXIT WHEN EXISTS (SELECT 1 FROM notifications "
             "WHERE user_id = '%s' AND kind = 'welcome'); PERFORM pg_sleep(0.05); END LOOP; END "
             "\\$\\$",
             u.user_id);
    ASSERT_EQ(sql_run(sql), 0);
    ASSERT_EQ(admin_req("POST", "/api/v1/users/me/notifications/read-all", NULL, u.access, NULL),
              204);
    snprintf(sql, sizeof(sql),
             "INSERT INTO notifications (user_id, kind, title, body) SELECT '%s', "
             "'admin_message', 'Note ' || g, 'body ' || g FROM generate_series(1, 5) g",
             u.user_id);
    ASSERT_EQ(sql_run(sql), 0);
    /* Newest first, 2 per page, unread count on every page. */
    o = get_json("/api/v1/users/me/notifications?limit=2&unread=true", u.access, 200);
    ASSERT_NOT_NULL(o);
    ASSERT_EQ(jint(o, "unread_count"), 5);
    ASSERT_TRUE(json_object_object_get_ex(o, "data", &data));
    ASSERT_EQ((int)json_object_array_length(data), 2);
    ASSERT_STR_EQ(jstr(json_object_array_get_idx(data, 0), "title"), "Note 5");
    snprintf(first_id, sizeof(first_id), "%d", jint(json_object_array_get_idx(data, 0), "id"));
    ASSERT_TRUE(json_object_object_get_ex(o, "next_cursor", &nc) && nc != NULL);
    snprintf(path, sizeof(path), "/api/v1/users/me/notifications?limit=2&unread=true&cursor=%s",
             json_object_get_string(nc));
    json_object_put(o);
    o = get_json(path, u.access, 200);
    ASSERT_NOT_NULL(o);
    json_object_object_get_ex(o, "data", &data);
    ASSERT_STR_EQ(jstr(json_object_array_get_idx(data, 0), "title"), "Note 3");
    json_object_put(o);
    /* Another user's cursor and inbox are not theirs to read. */
    snprintf(path, sizeof(path), "/api/v1/users/%s/notifications", u.user_id);
    ASSERT_EQ(admin_req("GET", path, NULL, other.access, NULL), 403);
    /* Mark one, then all. */
    snprintf(path, sizeof(path), "/api/v1/users/me/notifications/%s/read", first_id);
    ASSERT_EQ(admin_req("POST", path, NULL, other.access, NULL), 404);
    ASSERT_EQ(admin_req("POST", path, NULL, u.access, NULL), 204);
    ASSERT_EQ(admin_req("POST", path, NULL, u.access, NULL), 204); /* again: still read */
    o = get_json("/api/v1/users/me/notifications?unread=true&limit=100", u.access, 200);
    ASSERT_NOT_NULL(o);
    ASSERT_EQ(jint(o, "unread_count"), 4);
    json_object_object_get_ex(o, "data", &data);
    ASSERT_EQ((int)json_object_array_length(data), 4);
    json_object_put(o);
    ASSERT_EQ(admin_req("POST", "/api/v1/users/me/notifications/read-all", NULL, u.access, NULL),
              204);
    o = get_json("/api/v1/users/me/notifications?unread=true", u.access, 200);
    ASSERT_NOT_NULL(o);
    ASSERT_EQ(jint(o, "unread_count"), 0);
    json_object_put(o);
    /* Hostile values */
    ASSERT_EQ(admin_req("POST", "/api/v1/users/me/notifications/abc/read", NULL, u.access, NULL),
              404);
    ASSERT_EQ(admin_req("POST", "/api/v1/users/me/notifications/99999999999999999999/read", NULL,
                        u.access, NULL),
              404);
    ASSERT_EQ(admin_req("GET", "/api/v1/users/me/notifications?limit=0", NULL, u.access, NULL),
              400);
    ASSERT_EQ(admin_req("GET", "/api/v1/users/me/notifications?unread=maybe", NULL, u.access, NULL),
              400);
    ASSERT_EQ(admin_req("GET", "/api/v1/users/me/notifications?cursor=forged.cursor", NULL,
                        u.access, NULL),
              400);
}

CTEST(preferences, defaults_round_trip_and_validation)
{
    struct session u;
    char e[128];
    struct http_resp r;
    struct json_object *o, *p, *k, *v;

    ASSERT_EQ(user_new(&u, e, sizeof(e), "prefs"), 0);
    o = get_json("/api/v1/users/me/notification-preferences", u.access, 200);
    ASSERT_NOT_NULL(o);
    ASSERT_TRUE(json_object_object_get_ex(o, "preferences", &p));
    ASSERT_TRUE(json_object_object_get_ex(p, "role_changed", &k));
    ASSERT_TRUE(json_object_object_get_ex(k, "email", &v) && json_object_get_boolean(v));
    ASSERT_TRUE(json_object_object_get_ex(k, "in_app", &v) && json_object_get_boolean(v));
    /* No device yet: push is off by default. */
    ASSERT_TRUE(json_object_object_get_ex(k, "push", &v) && !json_object_get_boolean(v));
    /* What GET returns can be PUT back unchanged. */
    const char *same = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    ASSERT_EQ(admin_req("PUT", "/api/v1/users/me/notification-preferences", same, u.access, &r),
              200);
    ASSERT_STR_EQ(r.body, same);
    http_resp_free(&r);
    json_object_put(o);
    /* A change sticks; a device turns push on by default. */
    ASSERT_EQ(admin_req("PUT", "/api/v1/users/me/notification-preferences",
                        "{\"new_sign_in\":{\"email\":false}}", u.access, NULL),
              200);
    ASSERT_EQ(admin_req("POST", "/api/v1/users/me/devices",
                        "{\"token\":\"fcm-token-abc\",\"platform\":\"android\"}", u.access, NULL),
              201);
    o = get_json("/api/v1/users/me/notification-preferences", u.access, 200);
    ASSERT_NOT_NULL(o);
    json_object_object_get_ex(o, "preferences", &p);
    json_object_object_get_ex(p, "new_sign_in", &k);
    ASSERT_TRUE(json_object_object_get_ex(k, "email", &v) && !json_object_get_boolean(v));
    ASSERT_TRUE(json_object_object_get_ex(k, "push", &v) && json_object_get_boolean(v));
    json_object_put(o);
    /* Unknown kinds or channels, non-booleans: 400 and nothing written. */
    static const char *const bad[] = {"{\"spam\":{\"email\":true}}",
                                      "{\"welcome\":{\"pigeon\":true}}",
                                      "{\"welcome\":{\"email\":\"yes\"}}",
                                      "{\"welcome\":true}",
                                      "[]",
                                      "{\"welcome\":{\"email\":false},\"nope\":{}}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ASSERT_EQ(
            admin_req("PUT", "/api/v1/users/me/notification-preferences", bad[i], u.access, &r),
            400);
        http_resp_free(&r);
    }
    o = get_json("/api/v1/users/me/notification-preferences", u.access, 200);
    ASSERT_NOT_NULL(o);
    json_object_object_get_ex(o, "preferences", &p);
    json_object_object_get_ex(p, "welcome", &k);
    ASSERT_TRUE(json_object_object_get_ex(k, "email", &v) && json_object_get_boolean(v));
    json_object_put(o);
}

CTEST(devices, add_move_remove)
{
    struct session a, b;
    char ea[128], eb[128], token[64], body[256], path[256], did[64];
    struct http_resp r;
    struct json_object *o;
    unsigned x = (unsigned)getpid();

    ASSERT_EQ(user_new(&a, ea, sizeof(ea), "dev-a"), 0);
    ASSERT_EQ(user_new(&b, eb, sizeof(eb), "dev-b"), 0);
    snprintf(token, sizeof(token), "tok-%u-%ld", x, (long)time(NULL));
    snprintf(body, sizeof(body), "{\"token\":\"%s\",\"platform\":\"ios\"}", token);
    ASSERT_EQ(admin_req("POST", "/api/v1/users/me/devices", body, a.access, &r), 201);
    o = jparse(&r);
    ASSERT_NOT_NULL(jstr(o, "id"));
    snprintf(did, sizeof(did), "%s", jstr(o, "id"));
    ASSERT_STR_EQ(jstr(o, "platform"), "ios");
    json_object_put(o);
    http_resp_free(&r);
    /* The same token from another account moves to it. */
    ASSERT_EQ(admin_req("POST", "/api/v1/users/me/devices", body, b.access, NULL), 201);
    snprintf(path, sizeof(path), "/api/v1/users/me/devices/%s", did);
    ASSERT_EQ(admin_req("DELETE", path, NULL, a.access, NULL), 404);
    ASSERT_EQ(admin_req("DELETE", path, NULL, b.access, NULL), 204);
    ASSERT_EQ(admin_req("DELETE", path, NULL, b.access, NULL), 404);
    ASSERT_EQ(admin_req("DELETE", "/api/v1/users/me/devices/not-a-uuid", NULL, b.access, NULL),
              404);
    /* Bad values */
    static const char *const bad[] = {
        "{\"token\":\"x\",\"platform\":\"symbian\"}", "{\"token\":\"\",\"platform\":\"web\"}",
        "{\"platform\":\"web\"}", "{\"token\":7,\"platform\":\"web\"}",
        "{\"token\":\"a\\u0000b\",\"platform\":\"web\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ASSERT_EQ(admin_req("POST", "/api/v1/users/me/devices", bad[i], a.access, &r), 400);
        http_resp_free(&r);
    }
    {
        char *big = malloc(5000 + 64);
        ASSERT_NOT_NULL(big);
        int n = snprintf(big, 64, "{\"platform\":\"web\",\"token\":\"");
        memset(big + n, 'x', 5000);
        memcpy(big + n + 5000, "\"}", sizeof("\"}"));
        ASSERT_EQ(admin_req("POST", "/api/v1/users/me/devices", big, a.access, NULL), 400);
        free(big);
    }
    /* Only the owner manages devices. */
    snprintf(path, sizeof(path), "/api/v1/users/%s/devices", a.user_id);
    ASSERT_EQ(admin_req("POST", path, body, b.access, NULL), 403);
}

/* How many in-app notifications of `kind` the user has, after waiting up
 * to secs for at least `want`. */
static int inbox_count(const struct session *s, const char *kind, int want, int secs,
                       char *last_body, size_t n)
{
    int count = 0;
    for (int i = 0; i == 0 || (count < want && i < secs * 10); i++) {
        struct json_object *o =
                               get_json("/api/v1/users/me/notifications?limit=100", s->access, 200),
                           *data;
        if (i > 0)
            sleep_ms(100);
        count = 0;
        for (size_t k = 0; o != NULL && json_object_object_get_ex(o, "data", &data) &&
                           k < json_object_array_length(data);
             k++) {
            struct json_object *it = json_object_array_get_idx(data, k);
            if (jstr(it, "kind") != NULL && strcmp(jstr(it, "kind"), kind) == 0) {
                if (count++ == 0 && last_body != NULL)
                    snprintf(last_body, n, "%s: %s", jstr(it, "title"), jstr(it, "body"));
            }
        }
        json_object_put(o);
    }
    return count;
}

static long login_ua(const char *email, const char *ua, int src)
{
    char body[512], uah[512];
    const char *hdr[3] = {"Content-Type: application/json", uah, NULL};
    struct http_resp r;
    long st;
    snprintf(uah, sizeof(uah), "User-Agent: %s", ua);
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"correct horse battery\"}",
             email);
    if (http_req("POST", "/auth/v1/token?grant_type=password", hdr, body, strlen(body),
                 src_for(src), &r) != 0)
        return -1;
    st = r.status;
    http_resp_free(&r);
    return st;
}

CTEST(alerts, a_sign_in_from_a_new_device_is_announced_once)
{
    struct session u;
    char e[128], body[512];
    static const char ff120[] =
        "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
    static const char ff121[] =
        "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";

    ASSERT_EQ(user_new(&u, e, sizeof(e), "newdev"), 0);
    /* The device of the sign-up is known: signing in from it again is quiet. */
    ASSERT_EQ(login(e, "correct horse battery", src_for(31), NULL, NULL), 200);
    ASSERT_EQ(login_ua(e, ff120, 31), 200);
    ASSERT_EQ(inbox_count(&u, "new_sign_in", 1, 15, body, sizeof(body)), 1);
    ASSERT_TRUE(strstr(body, "Firefox/120.0") != NULL);
    ASSERT_TRUE(strstr(body, "127.") != NULL); /* the address it came from */
    /* The same browser after an update, and the sign-up's device: no alert. */
    ASSERT_EQ(login_ua(e, ff121, 31), 200);
    ASSERT_EQ(login(e, "correct horse battery", src_for(31), NULL, NULL), 200);
    sleep_ms(1500);
    ASSERT_EQ(inbox_count(&u, "new_sign_in", 2, 0, NULL, 0), 1);
    ASSERT_EQ(maildir_count(e, "user.new_sign_in"), 1);
    /* Switched off for email: the next new device is announced in-app only. */
    ASSERT_EQ(admin_req("PUT", "/api/v1/users/me/notification-preferences",
                        "{\"new_sign_in\":{\"email\":false}}", u.access, NULL),
              200);
    ASSERT_EQ(login_ua(e, "ExampleApp/3.1 (iPhone; iOS 17.1)", 31), 200);
    ASSERT_EQ(inbox_count(&u, "new_sign_in", 2, 15, body, sizeof(body)), 2);
    ASSERT_TRUE(strstr(body, "ExampleApp") != NULL);
    sleep_ms(500);
    ASSERT_EQ(maildir_count(e, "user.new_sign_in"), 1);
}

CTEST(alerts, a_crafted_user_agent_cannot_poison_the_inbox)
{
    /* The alert cuts the device text at 200 bytes: here byte 200 falls
     * inside a two-byte character. The in-app row must still be written
     * (cut between characters), and a User-Agent that is not UTF-8 at all
     * is replaced, not refused. */
    struct session u;
    char e[128], body[1024], ua[400];
    int n = snprintf(ua, sizeof(ua), "X");
    for (int i = 0; i < 150; i++)
        n += snprintf(ua + n, sizeof(ua) - (size_t)n, "\xc3\xa9"); /* é */
    ASSERT_EQ(user_new(&u, e, sizeof(e), "uacut"), 0);
    ASSERT_EQ(login_ua(e, ua, 33), 200);
    ASSERT_EQ(inbox_count(&u, "new_sign_in", 1, 15, body, sizeof(body)), 1);
    ASSERT_TRUE(utf8_valid(body, strlen(body)));
    ASSERT_STR_CONTAINS(body, "Signed in from X\xc3\xa9\xc3\xa9");
    ASSERT_EQ(login_ua(e,
                       "Bad\xff\xfe"
                       "Agent/1.0",
                       33),
              200);
    ASSERT_EQ(inbox_count(&u, "new_sign_in", 2, 15, body, sizeof(body)), 2);
    ASSERT_TRUE(utf8_valid(body, strlen(body)));
    ASSERT_STR_CONTAINS(body, "Bad\xef\xbf\xbd\xef\xbf\xbd"
                              "Agent");
}

CTEST(devices, push_files_are_the_service_users_alone)
{
    /* The file transport writes each push message as a file: it names what
     * the user did, so no other local account may read it. */
    struct session u;
    char e[128], path[256], body[256], cmd[512], out[64];
    unsigned r;
    getrandom(&r, sizeof(r), 0);
    ASSERT_EQ(user_new(&u, e, sizeof(e), "pushmode"), 0);
    snprintf(body, sizeof(body), "{\"token\":\"pushmode-%08x\",\"platform\":\"web\"}", r);
    ASSERT_EQ(admin_req("POST", "/api/v1/users/me/devices", body, u.access, NULL), 201);
    snprintf(path, sizeof(path), "/api/v1/users/%s/notifications", u.user_id);
    ASSERT_EQ(admin_req("POST", path, "{\"title\":\"Hello\",\"message\":\"push\"}",
                        env_need("UMS_SERVICE_KEY"), NULL),
              202);
    snprintf(cmd, sizeof(cmd),
             "for i in $(seq 100); do f=$(ls \"$UMS_STACK\"/push/*-pushmode-%08x.json 2>/dev/null |"
             " head -1); [ -n \"$f\" ] && stat -c %%a \"$f\" && exit 0; sleep 0.1; done; exit 1",
             r);
    ASSERT_EQ(sh_out(cmd, out, sizeof(out)), 0);
    ASSERT_STR_EQ(out, "600\n");
}

CTEST(admin_message, sent_by_an_admin_to_the_inbox_and_by_email)
{
    struct session u, other;
    char e[128], eo[128], path[256], body[512];
    struct http_resp r;
    const char *key = env_need("UMS_SERVICE_KEY");
    struct json_object *o;

    ASSERT_EQ(user_new(&u, e, sizeof(e), "adminmsg"), 0);
    ASSERT_EQ(user_new(&other, eo, sizeof(eo), "adminmsg-o"), 0);
    snprintf(path, sizeof(path), "/api/v1/users/%s/notifications", u.user_id);
    ASSERT_EQ(admin_req("POST", path,
                        "{\"title\":\"Maintenance tonight\","
                        "\"message\":\"We restart at 22:00.\\nSee <b>status</b> & more.\"}",
                        key, &r),
              202);
    o = jparse(&r);
    http_resp_free(&r);
    ASSERT_NOT_NULL(o);
    struct json_object *id;
    ASSERT_TRUE(json_object_object_get_ex(o, "event_id", &id) && json_object_get_int64(id) > 0);
    json_object_put(o);
    ASSERT_EQ(inbox_count(&u, "admin_message", 1, 15, body, sizeof(body)), 1);
    ASSERT_STR_EQ(body, "Maintenance tonight: We restart at 22:00.\nSee <b>status</b> & more.");
    for (int i = 0; i < 50 && maildir_count(e, "admin.message") < 1; i++)
        sleep_ms(100);
    ASSERT_EQ(maildir_count(e, "admin.message"), 1);
    /* The HTML part escapes what the admin wrote. */
    {
        char *text = maildir_newest(e, "admin.message");
        int escaped;
        ASSERT_NOT_NULL(text);
        escaped = strstr(text, "See &lt;b&gt;status&lt;/b&gt; &amp; more.") != NULL;
        free(text);
        ASSERT_TRUE(escaped);
    }
    /* Audited. */
    {
        char cmd[512], out[64];
        snprintf(cmd, sizeof(cmd),
                 "psql -X -A -t -q \"$DATABASE_URL\" -c \"SELECT count(*) FROM audit_log WHERE"
                 " action = 'admin.message' AND target_id = '%s'\"",
                 u.user_id);
        ASSERT_EQ(sh_out(cmd, out, sizeof(out)), 0);
        ASSERT_STR_EQ(out, "1\n");
    }
    /* Only admins; an unknown user is 404. */
    ASSERT_EQ(admin_req("POST", path, "{\"title\":\"t\",\"message\":\"m\"}", other.access, NULL),
              403);
    ASSERT_EQ(admin_req("POST", "/api/v1/users/me/notifications",
                        "{\"title\":\"t\",\"message\":\"m\"}", other.access, NULL),
              403);
    ASSERT_EQ(admin_req("POST", "/api/v1/users/00000000-0000-4000-8000-000000000000/notifications",
                        "{\"title\":\"t\",\"message\":\"m\"}", key, NULL),
              404);
    /* Bad bodies: each a 400 naming the field, nothing sent. */
    static const struct {
        const char *body, *field;
    } bad[] = {
        {"{\"message\":\"m\"}", "title"},
        {"{\"title\":\"t\"}", "message"},
        {"{\"title\":\"\",\"message\":\"m\"}", "title"},
        {"{\"title\":\"two\\nlines\",\"message\":\"m\"}", "title"},
        {"{\"title\":\"t\\r\\nBcc: x@example.com\",\"message\":\"m\"}", "title"},
        {"{\"title\":\"t\",\"message\":\"\"}", "message"},
        {"{\"title\":\"t\",\"message\":\"a\\u0000b\"}", "message"},
        {"{\"title\":7,\"message\":\"m\"}", "title"},
        {"{\"title\":\"t\",\"message\":[\"m\"]}", "message"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ASSERT_EQ(admin_req("POST", path, bad[i].body, key, &r), 400);
        o = jparse(&r);
        http_resp_free(&r);
        ASSERT_NOT_NULL(o);
        ASSERT_TRUE(strstr(json_object_to_json_string(o), bad[i].field) != NULL);
        json_object_put(o);
    }
    ASSERT_EQ(admin_req("POST", path, "[1,2]", key, NULL), 400);
    ASSERT_EQ(admin_req("POST", path, "{\"title\":", key, NULL), 400);
    {
        /* 121 characters of title (multi-byte), 4001 of message. */
        char *big = malloc(20000);
        ASSERT_NOT_NULL(big);
        int n = snprintf(big, 64, "{\"message\":\"m\",\"title\":\"");
        for (int i = 0; i < 121; i++)
            n += snprintf(big + n, 8, "\xc3\xa9");
        memcpy(big + n, "\"}", sizeof("\"}"));
        ASSERT_EQ(admin_req("POST", path, big, key, NULL), 400);
        n = snprintf(big, 64, "{\"title\":\"t\",\"message\":\"");
        memset(big + n, 'x', 4001);
        memcpy(big + n + 4001, "\"}", sizeof("\"}"));
        ASSERT_EQ(admin_req("POST", path, big, key, NULL), 400);
        /* 120 and 4000 are fine. */
        n = snprintf(big, 64, "{\"title\":\"");
        for (int i = 0; i < 120; i++)
            n += snprintf(big + n, 8, "\xc3\xa9");
        n += snprintf(big + n, 64, "\",\"message\":\"");
        memset(big + n, 'y', 4000);
        memcpy(big + n + 4000, "\"}", sizeof("\"}"));
        ASSERT_EQ(admin_req("POST", path, big, key, NULL), 202);
        free(big);
    }
    sleep_ms(1000);
    ASSERT_EQ(inbox_count(&u, "admin_message", 3, 10, NULL, 0), 2);
}
