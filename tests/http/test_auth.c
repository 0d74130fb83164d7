/* test_auth.c - black-box tests of /auth/v1 through nginx: sign-up, sign-in,
 * Bearer checks, refresh rotation and reuse, logout scopes, user updates,
 * lockout, rate limits, hostile input. Needs the running stack. */
#define CTEST_MAIN
#include "../ctest.h"

#include <ctype.h>
#include <dirent.h>
#include <pthread.h>
#include <regex.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <signal.h>
#include <sys/random.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "../../util/b64.h"
#include "../../util/buf.h"
#include "client.h"
#include "fcgi_client.h"
#include "stack.h"

CTEST(signup, returns_a_session_and_user)
{
    char email[128], body[512];
    struct http_resp r;
    struct json_object *o, *u, *am, *um, *ids;
    new_email(email, sizeof(email), "Signup");
    snprintf(body, sizeof(body),
             "{\"email\":\"%s\",\"password\":\"correct horse battery\",\"data\":{\"name\":\"Ann\"},"
             "\"gotrue_meta_security\":{},\"code_challenge\":null,\"code_challenge_method\":null}",
             email);
    ASSERT_EQ(post("/auth/v1/signup", body, NULL, src_for(3), &r), 0);
    ASSERT_EQ(r.status, 200);
    o = jparse(&r);
    ASSERT_STR_EQ(jstr(o, "token_type"), "bearer");
    ASSERT_NOT_NULL(jstr(o, "access_token"));
    ASSERT_EQ(strlen(jstr(o, "refresh_token")), 43);
    struct json_object *v;
    ASSERT_TRUE(json_object_object_get_ex(o, "expires_in", &v));
    ASSERT_EQ(json_object_get_int(v), 900);
    ASSERT_TRUE(json_object_object_get_ex(o, "expires_at", &v));
    ASSERT_TRUE(json_object_get_int64(v) > 1700000000);
    ASSERT_TRUE(json_object_object_get_ex(o, "user", &u));
    ASSERT_STR_EQ(jstr(u, "aud"), "authenticated");
    ASSERT_STR_EQ(jstr(u, "role"), "authenticated");
    for (char *p = email; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    ASSERT_STR_EQ(jstr(u, "email"), email); /* stored lower-cased */
    ASSERT_STR_EQ(jstr(u, "phone"), "");
    ASSERT_NOT_NULL(jstr(u, "created_at"));
    ASSERT_TRUE(json_object_object_get_ex(u, "app_metadata", &am));
    ASSERT_STR_EQ(jstr(am, "provider"), "email");
    ASSERT_STR_EQ(jstr(am, "role"), "user");
    ASSERT_TRUE(json_object_object_get_ex(u, "user_metadata", &um));
    ASSERT_STR_EQ(jstr(um, "name"), "Ann");
    ASSERT_TRUE(json_object_object_get_ex(u, "identities", &ids));
    ASSERT_EQ(json_object_array_length(ids), 1);
    json_object_put(o);
    http_resp_free(&r);
}

CTEST(signup, duplicate_email)
{
    char email[128], body[256];
    struct http_resp r;
    new_email(email, sizeof(email), "dup");
    ASSERT_EQ(signup(email, "correct horse battery", NULL), 0);
    /* Same address in other case and with spaces. */
    for (char *p = email; *p && *p != '@'; p++)
        *p = (char)toupper((unsigned char)*p);
    snprintf(body, sizeof(body), "{\"email\":\" %s \",\"password\":\"another password\"}", email);
    ASSERT_EQ(post("/auth/v1/signup", body, NULL, src_for(4), &r), 0);
    ASSERT_ERROR(r, ERR_AUTH, 422, "user_already_exists");
    http_resp_free(&r);
}

CTEST(signup, weak_and_oversized_passwords)
{
    char email[128], body[2048], big[600];
    struct http_resp r;
    struct json_object *o, *wp, *reasons;
    new_email(email, sizeof(email), "weak");
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"1234567\"}", email);
    ASSERT_EQ(post("/auth/v1/signup", body, NULL, src_for(5), &r), 0);
    ASSERT_ERROR(r, ERR_AUTH, 422, "weak_password");
    o = jparse(&r);
    ASSERT_TRUE(json_object_object_get_ex(o, "weak_password", &wp));
    ASSERT_TRUE(json_object_object_get_ex(wp, "reasons", &reasons));
    ASSERT_STR_EQ(json_object_get_string(json_object_array_get_idx(reasons, 0)), "length");
    json_object_put(o);
    http_resp_free(&r);
    memset(big, 'p', 129);
    big[129] = '\0';
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\"}", email, big);
    ASSERT_EQ(post("/auth/v1/signup", body, NULL, src_for(5), &r), 0);
    ASSERT_ERROR(r, ERR_AUTH, 422, "weak_password");
    http_resp_free(&r);
    /* Versioned clients get the 2024 format with the same reasons. */
    const char *h[] = {"Content-Type: application/json;charset=UTF-8",
                       "X-Supabase-Api-Version: 2024-01-01", NULL};
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"short\"}", email);
    ASSERT_EQ(http_req("POST", "/auth/v1/signup", h, body, strlen(body), src_for(5), &r), 0);
    ASSERT_ERROR(r, ERR_AUTH_2024, 422, "weak_password");
    o = jparse(&r);
    ASSERT_TRUE(json_object_object_get_ex(o, "weak_password", &wp));
    json_object_put(o);
    http_resp_free(&r);
}

CTEST(signup, bad_input)
{
    static char long_email[400];
    char body[1024];
    memset(long_email, 'a', 260);
    memcpy(long_email + 260, "@example.com", 13);
    static const struct {
        const char *body;
        int status;
        const char *code;
    } cases[] = {
        {"{\"email\":\"no-at-sign\",\"password\":\"correct horse\"}", 400, "validation_failed"},
        {"{\"email\":123,\"password\":\"correct horse\"}", 400, "validation_failed"},
        {"{\"email\":\"x@example.com\",\"password\":12345678}", 400, "validation_failed"},
        {"{\"password\":\"correct horse\"}", 400, "validation_failed"},
        {"{\"email\":\"x@example.com\"}", 400, "validation_failed"},
        {"{\"email\":\"x@example.com\",\"password\":\"correct horse\",\"data\":[1]}", 400,
         "validation_failed"},
        {"[\"not an object\"]", 400, "validation_failed"},
        {"{\"email\":\"x@example.com\",", 400, "bad_json"},
        {"{\"email\":\"x@example.com\"} trailing", 400, "bad_json"},
        {"{\"email\":\"x\\u0000@example.com\",\"password\":\"correct horse\"}", 400, "bad_json"},
        {"{\"email\":\"x\xff@example.com\",\"password\":\"correct horse\"}", 400, "bad_json"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct http_resp r;
        ASSERT_EQ(post("/auth/v1/signup", cases[i].body, NULL, src_for(6), &r), 0);
        char why[256];
        if (!error_matches(&r, ERR_AUTH, cases[i].status, cases[i].code, why, sizeof(why)))
            CTEST_FAIL_("case %zu: %s; got %ld %s", i, why, r.status, r.body);
        http_resp_free(&r);
    }
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"correct horse\"}", long_email);
    struct http_resp r;
    ASSERT_EQ(post("/auth/v1/signup", body, NULL, src_for(6), &r), 0);
    ASSERT_ERROR(r, ERR_AUTH, 400, "validation_failed");
    http_resp_free(&r);
    /* No content type: 415. */
    const char *noct[] = {NULL};
    ASSERT_EQ(http_req("POST", "/auth/v1/signup", noct, "{}", 2, src_for(6), &r), 0);
    ASSERT_ERROR(r, ERR_AUTH, 415, "unsupported_media_type");
    http_resp_free(&r);
}

CTEST(signup, smuggled_fields_are_ignored)
{
    char email[128], body[1024];
    struct http_resp r;
    struct json_object *o, *u, *am;
    new_email(email, sizeof(email), "smuggle");
    snprintf(
        body, sizeof(body),
        "{\"email\":\"%s\",\"password\":\"correct horse battery\",\"role\":\"admin\","
        "\"app_metadata\":{\"role\":\"admin\"},\"id\":\"00000000-0000-4000-8000-000000000000\","
        "\"email_confirmed_at\":\"2020-01-01T00:00:00Z\"}",
        email);
    ASSERT_EQ(post("/auth/v1/signup", body, NULL, src_for(7), &r), 0);
    ASSERT_EQ(r.status, 200);
    o = jparse(&r);
    ASSERT_TRUE(json_object_object_get_ex(o, "user", &u));
    ASSERT_TRUE(strcmp(jstr(u, "id"), "00000000-0000-4000-8000-000000000000") != 0);
    ASSERT_NULL(jstr(u, "email_confirmed_at"));
    ASSERT_TRUE(json_object_object_get_ex(u, "app_metadata", &am));
    ASSERT_STR_EQ(jstr(am, "role"), "user");
    json_object_put(o);
    http_resp_free(&r);
}

CTEST(signup, sql_metacharacters_are_data)
{
    char body[1024];
    struct http_resp r;
    struct session s;
    unsigned n;
    getrandom(&n, sizeof(n), 0);
    snprintf(body, sizeof(body),
             "{\"email\":\"o'brien+%u@example.com\",\"password\":\"x'); DROP TABLE users; --\","
             "\"data\":{\"name\":\"Robert'); DROP TABLE users;--\",\"q\":\"\\\"\\\\%%_\"}}",
             n);
    ASSERT_EQ(post("/auth/v1/signup", body, NULL, src_for(8), &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_CONTAINS(r.body, "Robert'); DROP TABLE users;--");
    http_resp_free(&r);
    char email[128];
    snprintf(email, sizeof(email), "o'brien+%u@example.com", n);
    ASSERT_EQ(login(email, "x'); DROP TABLE users; --", src_for(8), &s, NULL), 200);
    ASSERT_EQ(get_user(s.access), 200);
}

CTEST(login, success_and_failures_look_the_same)
{
    char email[128];
    struct session s;
    struct http_resp wrong, unknown;
    new_email(email, sizeof(email), "login");
    ASSERT_EQ(signup(email, "correct horse battery", NULL), 0);
    ASSERT_EQ(login(email, "correct horse battery", src_for(9), &s, NULL), 200);
    ASSERT_EQ(get_user(s.access), 200);
    ASSERT_EQ(login(email, "wrong password", src_for(9), NULL, &wrong), 400);
    char nobody[128];
    new_email(nobody, sizeof(nobody), "nobody");
    ASSERT_EQ(login(nobody, "wrong password", src_for(9), NULL, &unknown), 400);
    ASSERT_ERROR(wrong, ERR_AUTH, 400, "invalid_credentials");
    ASSERT_STR_EQ(wrong.body, unknown.body);
    http_resp_free(&wrong);
    http_resp_free(&unknown);
    /* Case and spaces do not matter for the address. */
    for (char *p = email; *p && *p != '@'; p++)
        *p = (char)toupper((unsigned char)*p);
    ASSERT_EQ(login(email, "correct horse battery", src_for(9), NULL, NULL), 200);
}

CTEST(login, lockout_after_five_failures)
{
    char email[128];
    struct http_resp r;
    char ra[32];
    new_email(email, sizeof(email), "lock");
    ASSERT_EQ(signup(email, "correct horse battery", NULL), 0);
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(login(email, "wrong password", src_for(10), NULL, NULL), 400);
    /* Locked: even the right password is refused, from any address. */
    ASSERT_EQ(login(email, "correct horse battery", src_for(11), NULL, &r), 429);
    ASSERT_ERROR(r, ERR_AUTH, 429, "user_locked");
    ASSERT_EQ(resp_header(&r, "Retry-After", ra, sizeof(ra)), 0);
    ASSERT_TRUE((int)strtol(ra, NULL, 10) > 800 && (int)strtol(ra, NULL, 10) <= 900);
    http_resp_free(&r);
    /* Unknown addresses lock the same way, so locks reveal nothing. */
    new_email(email, sizeof(email), "ghost");
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(login(email, "wrong password", src_for(12), NULL, NULL), 400);
    ASSERT_EQ(login(email, "wrong password", src_for(12), NULL, NULL), 429);
}

CTEST(bearer, rejections)
{
    struct http_resp r;
    char email[128];
    struct session s;
    new_email(email, sizeof(email), "bearer");
    ASSERT_EQ(signup(email, "correct horse battery", &s), 0);
    char wa[128];
    ASSERT_EQ(http_get("/auth/v1/user", &r), 0);
    ASSERT_ERROR(r, ERR_AUTH, 401, "no_authorization");
    /* RFC 6750: a 401 without credentials carries a bare challenge. */
    ASSERT_EQ(resp_header(&r, "WWW-Authenticate", wa, sizeof(wa)), 0);
    ASSERT_STR_EQ(wa, "Bearer");
    http_resp_free(&r);
    const char *basic[] = {"Authorization: Basic dXNlcjpwYXNz", NULL};
    ASSERT_EQ(http_req("GET", "/auth/v1/user", basic, NULL, 0, NULL, &r), 0);
    ASSERT_ERROR(r, ERR_AUTH, 401, "no_authorization");
    ASSERT_EQ(resp_header(&r, "WWW-Authenticate", wa, sizeof(wa)), 0);
    ASSERT_STR_EQ(wa, "Bearer");
    http_resp_free(&r);
    /* GoTrue's statuses stay: a bad token is 403 bad_jwt here (the
     * Supabase clients depend on them), without a challenge. */
    ASSERT_EQ(req_bearer("GET", "/auth/v1/user", NULL, "garbage", &r), 0);
    ASSERT_ERROR(r, ERR_AUTH, 403, "bad_jwt");
    ASSERT_NE(resp_header(&r, "WWW-Authenticate", wa, sizeof(wa)), 0);
    http_resp_free(&r);
    /* A refresh token is not an access token. */
    ASSERT_EQ(req_bearer("GET", "/auth/v1/user", NULL, s.refresh, &r), 0);
    ASSERT_ERROR(r, ERR_AUTH, 403, "bad_jwt");
    http_resp_free(&r);
    /* alg none with the same claims. */
    char *dot = strchr(s.access, '.');
    char forged[4200];
    const char *none = "{\"alg\":\"none\",\"typ\":\"JWT\"}";
    char hb[64];
    b64_url_encode(hb, (const unsigned char *)none, strlen(none));
    snprintf(forged, sizeof(forged), "%s%.*s.", hb, (int)(strrchr(s.access, '.') - dot), dot);
    ASSERT_EQ(req_bearer("GET", "/auth/v1/user", NULL, forged, &r), 0);
    ASSERT_ERROR(r, ERR_AUTH, 403, "bad_jwt");
    http_resp_free(&r);
    /* One flipped character in the signature. */
    snprintf(forged, sizeof(forged), "%s", s.access);
    size_t n = strlen(forged);
    forged[n - 3] = forged[n - 3] == 'A' ? 'B' : 'A';
    ASSERT_EQ(req_bearer("GET", "/auth/v1/user", NULL, forged, &r), 0);
    ASSERT_ERROR(r, ERR_AUTH, 403, "bad_jwt");
    http_resp_free(&r);
    ASSERT_EQ(get_user(s.access), 200);
}

CTEST(bearer, versioned_errors)
{
    const char *h[] = {"X-Supabase-Api-Version: 2024-01-01", "Authorization: Bearer x.y.z", NULL};
    struct http_resp r;
    char v[64];
    ASSERT_EQ(http_req("GET", "/auth/v1/user", h, NULL, 0, NULL, &r), 0);
    ASSERT_ERROR(r, ERR_AUTH_2024, 403, "bad_jwt");
    ASSERT_EQ(resp_header(&r, "X-Supabase-Api-Version", v, sizeof(v)), 0);
    http_resp_free(&r);
}

CTEST(refresh, rotates_and_detects_reuse)
{
    char email[128];
    struct session s, s2, s3;
    struct http_resp r;
    new_email(email, sizeof(email), "rotate");
    ASSERT_EQ(signup(email, "correct horse battery", &s), 0);
    ASSERT_EQ(refresh(s.refresh, &s2, NULL), 200);
    ASSERT_TRUE(strcmp(s.refresh, s2.refresh) != 0);
    ASSERT_EQ(get_user(s2.access), 200);
    /* A retry of the parent inside the window gets the same live token. */
    ASSERT_EQ(refresh(s.refresh, &s3, NULL), 200);
    ASSERT_STR_EQ(s3.refresh, s2.refresh);
    ASSERT_EQ(refresh(s2.refresh, &s3, NULL), 200);
    /* s.refresh is now a grandparent: reuse. The whole session dies. */
    ASSERT_EQ(refresh(s.refresh, NULL, &r), 400);
    ASSERT_ERROR(r, ERR_AUTH, 400, "refresh_token_already_used");
    http_resp_free(&r);
    ASSERT_EQ(get_user(s3.access), 403);
    ASSERT_EQ(refresh(s3.refresh, NULL, &r), 400);
    ASSERT_ERROR(r, ERR_AUTH, 400, "session_not_found");
    http_resp_free(&r);
}

/* How many times the pools' workers found a transaction an earlier request
 * had left open (core/db.c, db_request_begin), from their logs. */
static long leaked_transactions(void)
{
    char out[32];
    if (sh_out("cat \"$UMS_STACK\"/log/ums*.log | grep -c 'left a transaction open' || true", out,
               sizeof(out)) < 0)
        return -1;
    return strtol(out, NULL, 10);
}

/* A rotation whose insert fails (a trigger refuses this user's new refresh
 * tokens) answers an error, and the worker does not keep the transaction,
 * nor the session's and token's row locks, open after it. */
CTEST(refresh, a_failed_rotation_leaves_no_lock_behind)
{
    char email[128], sql[1024];
    struct session s, s2;
    struct http_resp r;
    long leaks = leaked_transactions();
    new_email(email, sizeof(email), "rotfail");
    ASSERT_EQ(signup(email, "correct horse battery", &s), 0);
    snprintf(sql, sizeof(sql),
             "CREATE FUNCTION ums_test_refuse_rt() RETURNS trigger LANGUAGE plpgsql AS"
             " 'BEGIN IF NEW.session_id IN (SELECT id FROM sessions WHERE user_id = ''%s'')"
             " THEN RAISE EXCEPTION ''refused by test_auth''; END IF; RETURN NEW; END';"
             " CREATE TRIGGER ums_test_refuse_rt BEFORE INSERT ON refresh_tokens"
             " FOR EACH ROW EXECUTE FUNCTION ums_test_refuse_rt()",
             s.user_id);
    ASSERT_EQ(sql_run(sql), 0);
    {
        /* Named by its user agent: the PgBouncer check's "no 500" skips it. */
        const char *h[] = {"Content-Type: application/json",
                           "User-Agent: ums-test-injected-failure", NULL};
        char body[256];
        snprintf(body, sizeof(body), "{\"refresh_token\":\"%s\"}", s.refresh);
        ASSERT_EQ(http_req("POST", "/auth/v1/token?grant_type=refresh_token", h, body, strlen(body),
                           NULL, &r),
                  0);
    }
    ASSERT_ERROR(r, ERR_AUTH, 500, "unexpected_failure");
    http_resp_free(&r);
    /* No request has reached that worker since: its locks must be gone. */
    snprintf(sql, sizeof(sql),
             "WITH l AS (SELECT id FROM sessions WHERE user_id = '%s' FOR UPDATE NOWAIT)"
             " SELECT count(*) FROM l",
             s.user_id);
    long locked = sql_long(sql);
    ASSERT_EQ(sql_run("DROP TRIGGER ums_test_refuse_rt ON refresh_tokens;"
                      " DROP FUNCTION ums_test_refuse_rt()"),
              0);
    ASSERT_EQ(locked, 1);
    /* Nor did a request that reached that worker since find it open (the
     * worker rolls such a transaction back, and says so in its log). */
    ASSERT_EQ(leaked_transactions(), leaks);
    /* The token was not rotated: it still works, once. */
    ASSERT_EQ(refresh(s.refresh, &s2, NULL), 200);
    ASSERT_EQ(get_user(s2.access), 200);
}

CTEST(refresh, reuse_after_the_window)
{
    char email[128];
    struct session s, s2;
    struct http_resp r;
    new_email(email, sizeof(email), "window");
    ASSERT_EQ(signup(email, "correct horse battery", &s), 0);
    ASSERT_EQ(refresh(s.refresh, &s2, NULL), 200);
    sleep(11); /* refresh_reuse_interval is 10 s */
    ASSERT_EQ(refresh(s.refresh, NULL, &r), 400);
    ASSERT_ERROR(r, ERR_AUTH, 400, "refresh_token_already_used");
    http_resp_free(&r);
    ASSERT_EQ(get_user(s2.access), 403);
}

CTEST(refresh, unknown_and_malformed)
{
    struct http_resp r;
    ASSERT_EQ(refresh("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL, &r), 400);
    ASSERT_ERROR(r, ERR_AUTH, 400, "refresh_token_not_found");
    http_resp_free(&r);
    ASSERT_EQ(refresh("x'; DROP TABLE refresh_tokens; --", NULL, &r), 400);
    ASSERT_ERROR(r, ERR_AUTH, 400, "refresh_token_not_found");
    http_resp_free(&r);
    ASSERT_EQ(post("/auth/v1/token?grant_type=refresh_token", "{\"refresh_token\":\"\"}", NULL,
                   src_for(13), &r),
              0);
    ASSERT_ERROR(r, ERR_AUTH, 400, "validation_failed");
    http_resp_free(&r);
    ASSERT_EQ(post("/auth/v1/token?grant_type=magic", "{}", NULL, src_for(13), &r), 0);
    ASSERT_ERROR(r, ERR_AUTH, 400, "validation_failed");
    http_resp_free(&r);
    ASSERT_EQ(post("/auth/v1/token", "{}", NULL, src_for(13), &r), 0);
    ASSERT_ERROR(r, ERR_AUTH, 400, "validation_failed");
    http_resp_free(&r);
}

struct par {
    const char *token;
    long status;
    char got[64];
};

static void *par_refresh(void *arg)
{
    struct par *p = arg;
    struct session s;
    memset(&s, 0, sizeof(s));
    p->status = refresh(p->token, &s, NULL);
    snprintf(p->got, sizeof(p->got), "%s", s.refresh);
    return NULL;
}

CTEST(refresh, twenty_parallel_rotate_once)
{
    char email[128];
    struct session s;
    pthread_t th[20];
    struct par ps[20];
    new_email(email, sizeof(email), "parallel");
    ASSERT_EQ(signup(email, "correct horse battery", &s), 0);
    for (int i = 0; i < 20; i++) {
        ps[i].token = s.refresh;
        ps[i].status = 0;
        ps[i].got[0] = '\0';
        pthread_create(&th[i], NULL, par_refresh, &ps[i]);
    }
    for (int i = 0; i < 20; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 20; i++) {
        if (ps[i].status != 200)
            CTEST_FAIL_("refresh %d: status %ld", i, ps[i].status);
        if (strcmp(ps[i].got, ps[0].got) != 0)
            CTEST_FAIL_("refresh %d got another token", i);
    }
    /* The one child is live and the session is intact. */
    struct session s2;
    ASSERT_EQ(refresh(ps[0].got, &s2, NULL), 200);
    ASSERT_EQ(get_user(s2.access), 200);
}

CTEST(logout, scopes)
{
    char email[128];
    struct session a, b, c;
    struct http_resp r;
    new_email(email, sizeof(email), "logout");
    ASSERT_EQ(signup(email, "correct horse battery", &a), 0);
    ASSERT_EQ(login(email, "correct horse battery", src_for(14), &b, NULL), 200);
    ASSERT_EQ(login(email, "correct horse battery", src_for(14), &c, NULL), 200);
    /* local: only this session. */
    ASSERT_EQ(req_bearer("POST", "/auth/v1/logout?scope=local", NULL, a.access, &r), 0);
    ASSERT_EQ(r.status, 204);
    ASSERT_EQ(r.len, 0);
    http_resp_free(&r);
    ASSERT_EQ(get_user(a.access), 403);
    ASSERT_EQ(get_user(b.access), 200);
    /* others: every session but this one. */
    ASSERT_EQ(req_bearer("POST", "/auth/v1/logout?scope=others", NULL, b.access, &r), 0);
    ASSERT_EQ(r.status, 204);
    http_resp_free(&r);
    ASSERT_EQ(get_user(b.access), 200);
    ASSERT_EQ(get_user(c.access), 403);
    ASSERT_EQ(refresh(c.refresh, NULL, NULL), 400);
    /* bad scope, then global (the default). */
    ASSERT_EQ(req_bearer("POST", "/auth/v1/logout?scope=everything", NULL, b.access, &r), 0);
    ASSERT_ERROR(r, ERR_AUTH, 400, "validation_failed");
    http_resp_free(&r);
    ASSERT_EQ(login(email, "correct horse battery", src_for(14), &c, NULL), 200);
    ASSERT_EQ(req_bearer("POST", "/auth/v1/logout", NULL, b.access, &r), 0);
    ASSERT_EQ(r.status, 204);
    http_resp_free(&r);
    ASSERT_EQ(get_user(b.access), 403);
    ASSERT_EQ(get_user(c.access), 403);
}

CTEST(user, update_data_and_password)
{
    char email[128];
    struct session a, b;
    struct http_resp r;
    struct json_object *o, *um;
    new_email(email, sizeof(email), "update");
    ASSERT_EQ(signup(email, "correct horse battery", &a), 0);
    ASSERT_EQ(login(email, "correct horse battery", src_for(15), &b, NULL), 200);
    ASSERT_EQ(req_bearer("PUT", "/auth/v1/user", "{\"data\":{\"theme\":\"dark\",\"lang\":\"fr\"}}",
                         a.access, &r),
              0);
    ASSERT_EQ(r.status, 200);
    http_resp_free(&r);
    ASSERT_EQ(req_bearer("PUT", "/auth/v1/user", "{\"data\":{\"theme\":null,\"name\":\"Zoë\"}}",
                         a.access, &r),
              0);
    ASSERT_EQ(r.status, 200);
    o = jparse(&r);
    ASSERT_TRUE(json_object_object_get_ex(o, "user_metadata", &um));
    ASSERT_NULL(jstr(um, "theme"));
    ASSERT_STR_EQ(jstr(um, "lang"), "fr");
    ASSERT_STR_EQ(jstr(um, "name"), "Zoë");
    json_object_put(o);
    http_resp_free(&r);
    /* Smuggled fields change nothing. */
    ASSERT_EQ(req_bearer("PUT", "/auth/v1/user",
                         "{\"role\":\"admin\",\"app_metadata\":{\"role\":\"admin\"},\"id\":\"x\"}",
                         a.access, &r),
              0);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_CONTAINS(r.body, "\"role\": \"user\"");
    http_resp_free(&r);
    /* Same password, weak password, then a real change. */
    ASSERT_EQ(req_bearer("PUT", "/auth/v1/user", "{\"password\":\"correct horse battery\"}",
                         a.access, &r),
              0);
    ASSERT_ERROR(r, ERR_AUTH, 422, "same_password");
    http_resp_free(&r);
    ASSERT_EQ(req_bearer("PUT", "/auth/v1/user", "{\"password\":\"short\"}", a.access, &r), 0);
    ASSERT_ERROR(r, ERR_AUTH, 422, "weak_password");
    http_resp_free(&r);
    ASSERT_EQ(req_bearer("PUT", "/auth/v1/user", "{\"password\":\"a brand new passphrase\"}",
                         a.access, &r),
              0);
    ASSERT_EQ(r.status, 200);
    http_resp_free(&r);
    /* The other session is gone at once; this one stays. */
    ASSERT_EQ(get_user(b.access), 403);
    ASSERT_EQ(get_user(a.access), 200);
    ASSERT_EQ(login(email, "correct horse battery", src_for(15), NULL, NULL), 400);
    ASSERT_EQ(login(email, "a brand new passphrase", src_for(15), NULL, NULL), 200);
}

CTEST(limits, per_ip_bucket_in_ums)
{
    /* Straight to the FastCGI socket (nginx's own limit would answer first):
     * 30 password sign-ins per 5 minutes per address. */
    char ip[32], body[256], clen[16], *out = NULL;
    unsigned r;
    int limited = 0, i;
    getrandom(&r, sizeof(r), 0);
    snprintf(ip, sizeof(ip), "127.200.%u.%u", (r >> 8) % 250 + 1, r % 250 + 1);
    for (i = 0; i < 40 && !limited; i++) {
        snprintf(body, sizeof(body), "{\"email\":\"rl-%u-%d@example.com\",\"password\":\"x\"}", r,
                 i);
        snprintf(clen, sizeof(clen), "%zu", strlen(body));
        const char *p[] = {"REQUEST_METHOD",
                           "POST",
                           "REQUEST_URI",
                           "/auth/v1/token?grant_type=password",
                           "REMOTE_ADDR",
                           ip,
                           "CONTENT_TYPE",
                           "application/json",
                           "CONTENT_LENGTH",
                           clen,
                           NULL};
        ASSERT_EQ(fcgi_request(env_need("UMS_FCGI_SOCKET"), p, body, strlen(body), &out), 0);
        int st = fcgi_status(out);
        if (st == 429) {
            limited = 1;
            ASSERT_STR_CONTAINS(out, "over_request_rate_limit");
            ASSERT_STR_CONTAINS(out, "Retry-After: ");
        } else if (st != 400) {
            CTEST_FAIL_("request %d: status %d", i, st);
        }
        free(out);
    }
    ASSERT_TRUE(limited);
    ASSERT_EQ(i, 31);
}

CTEST(discovery, jwks_settings_health)
{
    struct http_resp r;
    char v[128];
    ASSERT_EQ(http_get("/auth/v1/.well-known/jwks.json", &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_CONTAINS(r.body, "\"kty\":\"RSA\"");
    ASSERT_EQ(resp_header(&r, "Cache-Control", v, sizeof(v)), 0);
    ASSERT_STR_EQ(v, "public, max-age=300");
    http_resp_free(&r);
    ASSERT_EQ(http_get("/.well-known/jwks.json", &r), 0);
    ASSERT_EQ(r.status, 200);
    http_resp_free(&r);
    ASSERT_EQ(http_get("/auth/v1/settings", &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_CONTAINS(r.body, "\"external\"");
    http_resp_free(&r);
    ASSERT_EQ(http_get("/auth/v1/health", &r), 0);
    ASSERT_EQ(r.status, 200);
    http_resp_free(&r);
}

CTEST(degraded, redis_down_keeps_signup_login_and_lockout)
{
    char email[128], ghost[128];
    struct session s;
    pid_t redis = stack_pid("redis");
    ASSERT_TRUE(redis > 0);
    ASSERT_EQ(kill(redis, SIGTERM), 0);
    ASSERT_EQ(wait_status("/readyz", 503, 10), 0);
    new_email(email, sizeof(email), "noredis");
    int ok = signup(email, "correct horse battery", &s) == 0 &&
             login(email, "correct horse battery", src_for(16), &s, NULL) == 200 &&
             get_user(s.access) == 200;
    new_email(ghost, sizeof(ghost), "noredis-ghost");
    int fails = 0;
    for (int i = 0; i < 5; i++)
        fails += login(ghost, "wrong", src_for(16), NULL, NULL) == 400;
    long locked = login(ghost, "wrong", src_for(16), NULL, NULL);
    int restarted = sh("./scripts/up >/dev/null") == 0 && wait_status("/readyz", 200, 10) == 0;
    ASSERT_TRUE(restarted);
    ASSERT_TRUE(ok);
    ASSERT_EQ(fails, 5);
    ASSERT_EQ(locked, 429);
}

CTEST(admin, who_may_call)
{
    char email[128];
    struct session user, admin;
    struct http_resp r;
    new_email(email, sizeof(email), "plain");
    ASSERT_EQ(signup(email, "correct horse battery", &user), 0);
    ASSERT_EQ(http_get("/auth/v1/admin/users", &r), 0);
    ASSERT_ERROR(r, ERR_AUTH, 401, "no_authorization");
    http_resp_free(&r);
    ASSERT_EQ(admin_req("GET", "/auth/v1/admin/users", NULL, user.access, &r), 403);
    ASSERT_ERROR(r, ERR_AUTH, 403, "not_admin");
    http_resp_free(&r);
    ASSERT_EQ(admin_req("GET", "/auth/v1/admin/users", NULL, "not-the-service-key", &r), 403);
    http_resp_free(&r);
    ASSERT_EQ(admin_req("GET", "/auth/v1/admin/users", NULL, env_need("UMS_SERVICE_KEY"), NULL),
              200);
    /* An account whose ums role is admin (made from the shell). */
    ASSERT_EQ(admin_signed_in(&admin, email, sizeof(email), "admin"), 0);
    ASSERT_EQ(admin_req("GET", "/auth/v1/admin/users", NULL, admin.access, NULL), 200);
    /* The service key is not a user. */
    ASSERT_EQ(admin_req("GET", "/auth/v1/user", NULL, env_need("UMS_SERVICE_KEY"), NULL), 403);
}

CTEST(admin, list_pagination)
{
    const char *key = env_need("UMS_SERVICE_KEY");
    struct http_resp r;
    char v[512];
    struct json_object *o, *users;
    char filler[128];
    new_email(filler, sizeof(filler), "filler");
    ASSERT_EQ(signup(filler, "correct horse battery", NULL), 0);
    ASSERT_EQ(admin_req("GET", "/auth/v1/admin/users?page=1&per_page=2", NULL, key, &r), 200);
    o = jparse(&r);
    ASSERT_TRUE(json_object_object_get_ex(o, "users", &users));
    ASSERT_EQ(json_object_array_length(users), 2);
    ASSERT_STR_EQ(jstr(o, "aud"), "authenticated");
    json_object_put(o);
    ASSERT_EQ(resp_header(&r, "X-Total-Count", v, sizeof(v)), 0);
    long total = strtol(v, NULL, 10);
    ASSERT_TRUE(total >= 2);
    ASSERT_EQ(resp_header(&r, "Link", v, sizeof(v)), 0);
    ASSERT_STR_CONTAINS(v, "</admin/users?page=2&per_page=2>; rel=\"next\"");
    ASSERT_STR_CONTAINS(v, "rel=\"last\"");
    http_resp_free(&r);
    /* Empty parameters (what auth-js sends) mean the defaults. */
    ASSERT_EQ(admin_req("GET", "/auth/v1/admin/users?page=&per_page=", NULL, key, NULL), 200);
    static const char *const bad[] = {"page=0",
                                      "page=-1",
                                      "page=abc",
                                      "per_page=0",
                                      "per_page=1001",
                                      "per_page=1e9",
                                      "page=1%27%20OR%201=1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char path[128];
        snprintf(path, sizeof(path), "/auth/v1/admin/users?%s", bad[i]);
        if (admin_req("GET", path, NULL, key, NULL) != 400)
            CTEST_FAIL_("%s accepted", bad[i]);
    }
}

CTEST(admin, create_get_update_delete)
{
    const char *key = env_need("UMS_SERVICE_KEY");
    char email[128], body[512], path[128], id[64];
    struct http_resp r;
    struct session s;
    struct json_object *o, *um;
    new_email(email, sizeof(email), "managed");
    snprintf(body, sizeof(body),
             "{\"email\":\"%s\",\"password\":\"correct horse battery\",\"email_confirm\":true,"
             "\"user_metadata\":{\"name\":\"Managed\"},\"app_metadata\":{\"plan\":\"pro\","
             "\"role\":\"admin\"}}",
             email);
    ASSERT_EQ(admin_req("POST", "/auth/v1/admin/users", body, key, &r), 200);
    o = jparse(&r);
    snprintf(id, sizeof(id), "%s", jstr(o, "id"));
    ASSERT_NOT_NULL(jstr(o, "email_confirmed_at"));
    ASSERT_STR_CONTAINS(r.body, "\"plan\": \"pro\"");
    ASSERT_STR_CONTAINS(r.body, "\"role\": \"user\""); /* app_metadata.role is not the ums role */
    json_object_put(o);
    http_resp_free(&r);
    ASSERT_EQ(admin_req("POST", "/auth/v1/admin/users", body, key, &r), 422);
    ASSERT_ERROR(r, ERR_AUTH, 422, "email_exists");
    http_resp_free(&r);
    ASSERT_EQ(admin_req("POST", "/auth/v1/admin/users",
                        "{\"email\":\"weak-admin@example.com\",\"password\":\"short\"}", key, &r),
              422);
    ASSERT_ERROR(r, ERR_AUTH, 422, "weak_password");
    http_resp_free(&r);

    snprintf(path, sizeof(path), "/auth/v1/admin/users/%s", id);
    ASSERT_EQ(admin_req("GET", path, NULL, key, NULL), 200);
    ASSERT_EQ(admin_req("GET", "/auth/v1/admin/users/not-a-uuid", NULL, key, &r), 400);
    ASSERT_ERROR(r, ERR_AUTH, 400, "validation_failed");
    http_resp_free(&r);
    ASSERT_EQ(admin_req("GET", "/auth/v1/admin/users/00000000-0000-4000-8000-000000000000", NULL,
                        key, &r),
              404);
    ASSERT_ERROR(r, ERR_AUTH, 404, "user_not_found");
    http_resp_free(&r);

    ASSERT_EQ(login(email, "correct horse battery", src_for(21), &s, NULL), 200);
    ASSERT_EQ(admin_req("PUT", path, "{\"user_metadata\":{\"name\":\"Renamed\"}}", key, &r), 200);
    o = jparse(&r);
    ASSERT_TRUE(json_object_object_get_ex(o, "user_metadata", &um));
    ASSERT_STR_EQ(jstr(um, "name"), "Renamed");
    json_object_put(o);
    http_resp_free(&r);
    /* A ban ends the sessions at once and refuses sign-in; "none" lifts it. */
    ASSERT_EQ(admin_req("PUT", path, "{\"ban_duration\":\"24h\"}", key, NULL), 200);
    ASSERT_EQ(get_user(s.access), 403);
    ASSERT_EQ(login(email, "correct horse battery", src_for(21), NULL, &r), 400);
    ASSERT_ERROR(r, ERR_AUTH, 400, "user_banned");
    http_resp_free(&r);
    ASSERT_EQ(admin_req("PUT", path, "{\"ban_duration\":\"forever\"}", key, NULL), 400);
    ASSERT_EQ(admin_req("PUT", path, "{\"ban_duration\":\"none\"}", key, NULL), 200);
    ASSERT_EQ(login(email, "correct horse battery", src_for(21), &s, NULL), 200);

    ASSERT_EQ(admin_req("DELETE", path, "{\"should_soft_delete\":false}", key, &r), 200);
    ASSERT_STR_EQ(r.body, "{}");
    http_resp_free(&r);
    ASSERT_EQ(get_user(s.access), 403);
    ASSERT_EQ(login(email, "correct horse battery", src_for(21), NULL, NULL), 400);
    ASSERT_EQ(admin_req("DELETE", path, NULL, key, NULL), 404);
}

/* The newest message in the Maildir to `to` whose event is `event`; waits up
 * to 15 s for the notifier. Copies the 6-digit code and the verify link
 * token into otp/th when asked. */
static int wait_mail(const char *to, const char *event, char *otp, char *th, char *subject,
                     size_t subjlen)
{
    char line[2048], bestp[8400];
    for (int tries = 0; tries < 150; tries++) {
        if (maildir_find(to, event, bestp, sizeof(bestp)) > 0) {
            FILE *f = fopen(bestp, "r");
            while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
                char *p;
                if (otp != NULL && (p = strstr(line, "nter this code: ")) != NULL &&
                    strstr(line, "<") == NULL)
                    snprintf(otp, 7, "%s", p + 16);
                if (th != NULL && (p = strstr(line, "/verify?token=")) != NULL &&
                    strstr(line, "href") == NULL)
                    snprintf(th, 57, "%s", p + 14);
                if (subject != NULL && strncmp(line, "Subject: ", 9) == 0)
                    snprintf(subject, subjlen, "%.*s", (int)strcspn(line + 9, "\r\n"), line + 9);
            }
            if (f != NULL)
                fclose(f);
            return 0;
        }
        sleep_ms(100);
    }
    return -1;
}

static long verify_otp(const char *type, const char *email, const char *otp, struct session *s,
                       struct http_resp *keep)
{
    char body[512];
    snprintf(body, sizeof(body), "{\"type\":\"%s\",\"email\":\"%s\",\"token\":\"%s\"}", type, email,
             otp);
    return post_for_session("/auth/v1/verify", body, src_for(30), s, keep);
}

/* The value of the hidden input `name` of a page, HTML entities undone. */
static int form_value(const char *page, const char *name, char *out, size_t n)
{
    char want[64];
    const char *v, *e;
    size_t k = 0;
    snprintf(want, sizeof(want), "name=\"%s\" value=\"", name);
    v = strstr(page, want);
    if (v == NULL)
        return -1;
    v += strlen(want);
    e = strchr(v, '"');
    if (e == NULL)
        return -1;
    while (v < e && k + 1 < n) {
        static const struct {
            const char *ent;
            char c;
        } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&#39;", '\''}};
        int hit = 0;
        for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]) && !hit; i++)
            if (strncmp(v, ents[i].ent, strlen(ents[i].ent)) == 0) {
                out[k++] = ents[i].c;
                v += strlen(ents[i].ent);
                hit = 1;
            }
        if (!hit)
            out[k++] = *v++;
    }
    out[k] = '\0';
    return 0;
}

/* Posts the form of a verification page as a browser would from that page
 * (Origin: the stack's own), with extra headers; the status, Location in loc. */
static long post_verify_form(const char *page, const char *const *extra, char *loc, size_t n)
{
    char token[128], type[32], target[1024], body[2048], origin[256];
    const char *h[8];
    int k = 0;
    struct http_resp r;
    long st;
    struct buf b;
    if (form_value(page, "token", token, sizeof(token)) ||
        form_value(page, "type", type, sizeof(type)) ||
        form_value(page, "redirect_to", target, sizeof(target)))
        return -1;
    buf_init(&b, sizeof(body));
    buf_adds(&b, "token=");
    buf_add_urlencoded(&b, token);
    buf_adds(&b, "&type=");
    buf_add_urlencoded(&b, type);
    buf_adds(&b, "&redirect_to=");
    buf_add_urlencoded(&b, target);
    snprintf(body, sizeof(body), "%s", b.p != NULL ? b.p : "");
    buf_free(&b);
    snprintf(origin, sizeof(origin), "Origin: %s", env_need("UMS_URL"));
    h[k++] = "Content-Type: application/x-www-form-urlencoded";
    h[k++] = origin;
    for (int i = 0; extra != NULL && extra[i] != NULL && k < 7; i++)
        h[k++] = extra[i];
    h[k] = NULL;
    if (http_req("POST", "/auth/v1/verify", h, body, strlen(body), src_for(58), &r) != 0)
        return -1;
    st = r.status;
    loc[0] = '\0';
    resp_header(&r, "Location", loc, n);
    http_resp_free(&r);
    return st;
}

/* Opens the link (GET: the page) and presses its button; the status of the
 * post and its Location. */
static long follow_link(const char *path, char *loc, size_t n)
{
    struct http_resp r;
    long st;
    if (http_get(path, &r) != 0 || r.status != 200 || r.body == NULL) {
        http_resp_free(&r);
        return -1;
    }
    st = post_verify_form(r.body, NULL, loc, n);
    http_resp_free(&r);
    return st;
}

CTEST(email, welcome_mail_and_confirmation_link)
{
    char email[128], th[64] = "", otp[8] = "", path[512], loc[8192], ct[128];
    struct session s;
    struct http_resp r;
    new_email(email, sizeof(email), "welcome");
    ASSERT_EQ(signup(email, "correct horse battery", &s), 0);
    ASSERT_EQ(wait_mail(email, "user.registered", otp, th, NULL, 0), 0);
    ASSERT_EQ(strlen(otp), 6);
    ASSERT_EQ(strlen(th), 56);
    snprintf(path, sizeof(path),
             "/auth/v1/verify?token=%s&type=signup&redirect_to="
             "https%%3A%%2F%%2Fevil.example%%2Fsteal",
             th);
    /* Opening the link (a mail scanner, a preview) is a page and uses nothing up. */
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(http_get(path, &r), 0);
        ASSERT_EQ(r.status, 200);
        ASSERT_EQ(resp_header(&r, "Content-Type", ct, sizeof(ct)), 0);
        ASSERT_STR_CONTAINS(ct, "text/html");
        ASSERT_STR_CONTAINS(r.body, "method=\"post\"");
        ASSERT_STR_CONTAINS(r.body, th);
        ASSERT_EQ(resp_header(&r, "X-Frame-Options", ct, sizeof(ct)), 0);
        /* no-referrer would make a browser post the form with Origin: null,
         * which the post must refuse (tests/browser follows the link). */
        ASSERT_EQ(resp_header(&r, "Referrer-Policy", ct, sizeof(ct)), 0);
        ASSERT_STR_EQ(ct, "same-origin");
        http_resp_free(&r);
    }
    ASSERT_EQ(http_req("HEAD", path, NULL, NULL, 0, NULL, &r), 0);
    ASSERT_EQ(r.status, 200);
    http_resp_free(&r);
    /* Pressing the button: 303 with the session in the fragment; redirect_to
     * to another host fell back to site_url. */
    ASSERT_EQ(follow_link(path, loc, sizeof(loc)), 303);
    ASSERT_TRUE(strncmp(loc, env_need("UMS_SITE_URL"), strlen(env_need("UMS_SITE_URL"))) == 0);
    ASSERT_TRUE(strncmp(loc + strlen(env_need("UMS_SITE_URL")), "#access_token=", 14) == 0);
    ASSERT_STR_CONTAINS(loc, "&refresh_token=");
    ASSERT_STR_CONTAINS(loc, "&type=signup");
    /* The first confirmation ends the sessions made before it (the sign-up's
     * included); the link's own session sees the address confirmed. */
    ASSERT_EQ(get_user(s.access), 403);
    {
        char tok[4096];
        const char *a = strstr(loc, "access_token=") + 13;
        snprintf(tok, sizeof(tok), "%.*s", (int)strcspn(a, "&"), a);
        ASSERT_EQ(req_bearer("GET", "/auth/v1/user", NULL, tok, &r), 0);
    }
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_CONTAINS(r.body, "\"email_confirmed_at\"");
    http_resp_free(&r);
    /* The same link again: used. Errors go in the query. */
    ASSERT_EQ(follow_link(path, loc, sizeof(loc)), 303);
    ASSERT_TRUE(strncmp(loc, env_need("UMS_SITE_URL"), strlen(env_need("UMS_SITE_URL"))) == 0);
    ASSERT_STR_CONTAINS(loc, "?error=access_denied&error_code=otp_expired");
    /* An allowed redirect (same host as site_url, another path). */
    snprintf(path, sizeof(path),
             "/auth/v1/verify?token=%s&type=signup&redirect_to="
             "http%%3A%%2F%%2Flocalhost%%3A3000%%2Fwelcome",
             th);
    ASSERT_EQ(follow_link(path, loc, sizeof(loc)), 303);
    ASSERT_TRUE(strncmp(loc, "http://localhost:3000/welcome?error=", 36) == 0);
}

CTEST(email, a_link_cannot_be_used_from_another_site)
{
    /* Login CSRF: another site's page posts its owner's link for a visitor.
     * The browser says where the post comes from; it is refused, and the
     * token stays good for its own page. */
    char email[128], th[64] = "", path[512], loc[8192];
    const char *foreign[] = {"Origin: https://evil.example", NULL};
    const char *cross[] = {"Sec-Fetch-Site: cross-site", NULL};
    struct http_resp r;
    new_email(email, sizeof(email), "csrf");
    ASSERT_EQ(signup(email, "correct horse battery", NULL), 0);
    ASSERT_EQ(wait_mail(email, "user.registered", NULL, th, NULL, 0), 0);
    snprintf(path, sizeof(path), "/auth/v1/verify?token=%s&type=signup", th);
    ASSERT_EQ(http_get(path, &r), 0);
    ASSERT_EQ(r.status, 200);
    /* Origin from the page itself replaced by a foreign one: extra headers
     * come after it, so send the foreign one alone. */
    {
        char token[128], body[512];
        const char *h[] = {"Content-Type: application/x-www-form-urlencoded", foreign[0], NULL};
        const char *h2[] = {"Content-Type: application/x-www-form-urlencoded", cross[0], NULL};
        struct http_resp p;
        ASSERT_EQ(form_value(r.body, "token", token, sizeof(token)), 0);
        snprintf(body, sizeof(body), "token=%s&type=signup", token);
        ASSERT_EQ(http_req("POST", "/auth/v1/verify", h, body, strlen(body), src_for(59), &p), 0);
        ASSERT_EQ(p.status, 403);
        http_resp_free(&p);
        ASSERT_EQ(http_req("POST", "/auth/v1/verify", h2, body, strlen(body), src_for(59), &p), 0);
        ASSERT_EQ(p.status, 403);
        http_resp_free(&p);
    }
    /* From its own page it still works. */
    ASSERT_EQ(post_verify_form(r.body, NULL, loc, sizeof(loc)), 303);
    ASSERT_STR_CONTAINS(loc, "#access_token=");
    http_resp_free(&r);
}

CTEST(email, recovery_by_otp)
{
    char email[128], otp[8] = "", th[64] = "";
    struct session s;
    struct http_resp r, r2;
    new_email(email, sizeof(email), "recover");
    ASSERT_EQ(signup(email, "correct horse battery", NULL), 0);
    ASSERT_EQ(post("/auth/v1/recover", "{\"email\":\"nobody-at-all@example.com\"}", NULL,
                   src_for(31), &r2),
              0);
    char body[256];
    snprintf(body, sizeof(body), "{\"email\":\"%s\"}", email);
    ASSERT_EQ(post("/auth/v1/recover", body, NULL, src_for(31), &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "{}");
    ASSERT_STR_EQ(r.body, r2.body); /* unknown addresses look the same */
    ASSERT_EQ(r2.status, 200);
    http_resp_free(&r);
    http_resp_free(&r2);
    ASSERT_EQ(wait_mail(email, "user.recovery_requested", otp, th, NULL, 0), 0);
    ASSERT_EQ(strlen(th), 56);
    /* The code never was in the event (outbox, stream, Redis's files, dead
     * letters): only beside it, and once mailed, not even there. */
    char cmd[1024], out[64];
    snprintf(cmd, sizeof(cmd),
             "SELECT count(*) FROM outbox WHERE event->>'email' = '%s' AND (event ? 'otp' OR "
             "event ? 'token_hash' OR event::text LIKE '%%%s%%')",
             email, otp);
    ASSERT_EQ(sql_long(cmd), 0);
    /* Redis wrote every stream entry to its append-only file: the link's
     * token is nowhere in it. */
    snprintf(cmd, sizeof(cmd), "cat \"$UMS_STACK\"/redis/appendonlydir/* | grep -c -a '%s' || true",
             th);
    ASSERT_EQ(sh_out(cmd, out, sizeof(out)), 0);
    ASSERT_EQ((int)strtol(out, NULL, 10), 0);
    snprintf(
        cmd, sizeof(cmd),
        "for i in $(seq 50); do n=$(psql -X -A -t \"$DATABASE_URL\" -c \"SELECT count(*) FROM "
        "outbox_secrets s JOIN outbox o ON o.id = s.event_id WHERE o.event->>'email' = '%s'\");"
        " [ \"$n\" = 0 ] && exit 0; sleep 0.1; done; exit 1",
        email);
    ASSERT_EQ(sh(cmd), 0);
    ASSERT_EQ(verify_otp("recovery", "000000@example.com", otp, NULL, NULL), 403);
    ASSERT_EQ(verify_otp("signup", email, otp, NULL, NULL), 403); /* wrong type */
    ASSERT_EQ(verify_otp("recovery", email, otp, &s, NULL), 200);
    ASSERT_EQ(
        req_bearer("PUT", "/auth/v1/user", "{\"password\":\"my new passphrase\"}", s.access, &r),
        0);
    ASSERT_EQ(r.status, 200);
    http_resp_free(&r);
    ASSERT_EQ(login(email, "my new passphrase", src_for(31), NULL, NULL), 200);
    /* The code is single-use. */
    ASSERT_EQ(verify_otp("recovery", email, otp, NULL, &r), 403);
    ASSERT_ERROR(r, ERR_AUTH, 403, "otp_expired");
    http_resp_free(&r);
}

/* Requests a recovery for email from a fresh source; 0 when the mail came,
 * with its code and link. */
static int recovery_mail(const char *email, char otp[8], char th[64])
{
    char body[256];
    struct http_resp r;
    snprintf(body, sizeof(body), "{\"email\":\"%s\"}", email);
    if (post("/auth/v1/recover", body, NULL, src_for(41), &r) != 0)
        return -1;
    http_resp_free(&r);
    return wait_mail(email, "user.recovery_requested", otp, th, NULL, 0);
}

/* A code that is not `otp` (the i-th such). */
static void wrong_code(char out[8], const char *otp, int i)
{
    snprintf(out, 8, "%06ld", (strtol(otp, NULL, 10) + 1 + i) % 1000000);
}

CTEST(otp_guard, five_wrong_codes_void_the_live_code_and_its_link)
{
    char email[128], otp[8] = "", th[64] = "", wrong[8], body[256];
    struct http_resp r;
    new_email(email, sizeof(email), "guess5");
    ASSERT_EQ(signup(email, "correct horse battery", NULL), 0);
    ASSERT_EQ(recovery_mail(email, otp, th), 0);
    /* Each guess from another address: only the count per address and kind
     * stands in the way, not the per-IP bucket. */
    for (int i = 0; i < 5; i++) {
        wrong_code(wrong, otp, i);
        ASSERT_EQ(verify_otp("recovery", email, wrong, NULL, &r), 403);
        ASSERT_ERROR(r, ERR_AUTH, 403, "otp_expired");
        http_resp_free(&r);
    }
    ASSERT_EQ(verify_otp("recovery", email, otp, NULL, &r), 403);
    ASSERT_ERROR(r, ERR_AUTH, 403, "otp_expired");
    http_resp_free(&r);
    snprintf(body, sizeof(body), "{\"type\":\"recovery\",\"token_hash\":\"%s\"}", th);
    ASSERT_EQ(post("/auth/v1/verify", body, NULL, src_for(42), &r), 0);
    ASSERT_ERROR(r, ERR_AUTH, 403, "otp_expired");
    http_resp_free(&r);
    /* The account itself is untouched: its password still signs in. */
    ASSERT_EQ(login(email, "correct horse battery", src_for(43), NULL, NULL), 200);
}

CTEST(otp_guard, four_wrong_codes_leave_the_right_one_working)
{
    char email[128], otp[8] = "", th[64] = "", wrong[8];
    struct session s;
    new_email(email, sizeof(email), "guess4");
    ASSERT_EQ(signup(email, "correct horse battery", NULL), 0);
    ASSERT_EQ(recovery_mail(email, otp, th), 0);
    for (int i = 0; i < 4; i++) {
        wrong_code(wrong, otp, i);
        ASSERT_EQ(verify_otp("recovery", email, wrong, NULL, NULL), 403);
    }
    ASSERT_EQ(verify_otp("recovery", email, otp, &s, NULL), 200);
    ASSERT_EQ(get_user(s.access), 200);
    /* A newer code of a kind takes the place of the older rows, used or
     * not: the table holds no dead codes (and links never collide). */
    {
        char sql[256], body[256];
        snprintf(body, sizeof(body), "UPDATE users SET recovery_sent_at = NULL WHERE id = '%s'",
                 s.user_id);
        ASSERT_EQ(sql_run(body), 0);
        ASSERT_EQ(recovery_mail(email, otp, th), 0);
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM one_time_tokens WHERE user_id = '%s' AND kind = 'recovery'",
                 s.user_id);
        ASSERT_EQ(sql_long(sql), 1);
    }
}

CTEST(otp_guard, the_link_is_not_a_hash_of_the_address_and_code)
{
    char email[128], otp[8] = "", th[64] = "", guess[57], body[256];
    unsigned char md[28];
    unsigned int n = 0;
    struct http_resp r;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    new_email(email, sizeof(email), "linkhash");
    ASSERT_EQ(signup(email, "correct horse battery", NULL), 0);
    ASSERT_EQ(wait_mail(email, "user.registered", otp, th, NULL, 0), 0);
    /* GoTrue's SHA-224(email || code): what someone who knows the address
     * could compute for each of the 10^6 codes. */
    EVP_DigestInit_ex(ctx, EVP_sha224(), NULL);
    EVP_DigestUpdate(ctx, email, strlen(email));
    EVP_DigestUpdate(ctx, otp, strlen(otp));
    EVP_DigestFinal_ex(ctx, md, &n);
    EVP_MD_CTX_free(ctx);
    for (int i = 0; i < 28; i++)
        snprintf(guess + 2 * i, 3, "%02x", md[i]);
    ASSERT_EQ(strlen(th), 56);
    ASSERT_TRUE(strcmp(th, guess) != 0);
    snprintf(body, sizeof(body), "{\"type\":\"signup\",\"token_hash\":\"%s\"}", guess);
    ASSERT_EQ(post("/auth/v1/verify", body, NULL, src_for(44), &r), 0);
    ASSERT_ERROR(r, ERR_AUTH, 403, "otp_expired");
    http_resp_free(&r);
    snprintf(body, sizeof(body), "{\"type\":\"signup\",\"token_hash\":\"%s\"}", th);
    ASSERT_EQ(post("/auth/v1/verify", body, NULL, src_for(44), &r), 0);
    ASSERT_EQ(r.status, 200);
    http_resp_free(&r);
}

CTEST(prehijack, the_owners_first_confirmation_ends_the_squatters_sessions)
{
    /* Confirmation is off (the seed's flow): a squatter signs up with the
     * victim's address and a password of their own, and holds a session.
     * The victim's click on the confirmation link ends it. */
    char email[128], otp[8] = "", th[64] = "", body[256], subject[256];
    struct session squat, owner, later, again;
    struct http_resp r;
    new_email(email, sizeof(email), "squat");
    ASSERT_EQ(signup(email, "the squatter's pw", &squat), 0);
    ASSERT_EQ(get_user(squat.access), 200);
    ASSERT_EQ(wait_mail(email, "user.registered", otp, th, subject, sizeof(subject)), 0);
    snprintf(body, sizeof(body), "{\"type\":\"signup\",\"token_hash\":\"%s\"}", th);
    ASSERT_EQ(post_for_session("/auth/v1/verify", body, src_for(48), &owner, NULL), 200);
    ASSERT_EQ(get_user(squat.access), 403);
    ASSERT_TRUE(refresh(squat.refresh, NULL, NULL) >= 400);
    ASSERT_EQ(get_user(owner.access), 200);
    /* Only the first confirmation does it: a later magic link for the
     * confirmed address leaves the other sessions alone. */
    ASSERT_EQ(login(email, "the squatter's pw", src_for(48), &later, NULL), 200);
    snprintf(body, sizeof(body), "{\"type\":\"magiclink\",\"email\":\"%s\"}", email);
    ASSERT_EQ(
        admin_req("POST", "/auth/v1/admin/generate_link", body, env_need("UMS_SERVICE_KEY"), &r),
        200);
    {
        struct json_object *o = jparse(&r);
        const char *code = jstr(o, "email_otp");
        ASSERT_NOT_NULL(code);
        ASSERT_EQ(verify_otp("magiclink", email, code, &again, NULL), 200);
        json_object_put(o);
    }
    http_resp_free(&r);
    ASSERT_EQ(get_user(later.access), 200);
    ASSERT_EQ(get_user(owner.access), 200);
}

CTEST(prehijack, the_welcome_mail_tells_the_owner_how_to_take_over)
{
    char email[128], *text;
    int parts = 0;
    new_email(email, sizeof(email), "squatmail");
    ASSERT_EQ(signup(email, "correct horse battery", NULL), 0);
    ASSERT_EQ(wait_mail(email, "user.registered", NULL, NULL, NULL, 0), 0);
    text = maildir_newest(email, "user.registered");
    ASSERT_NOT_NULL(text);
    for (const char *p = text; (p = strstr(p, "Forgot password")) != NULL; p++)
        parts++;
    free(text);
    ASSERT_TRUE(parts >= 2); /* text and HTML parts */
}

CTEST(prehijack, a_recovery_ends_every_other_session_and_refresh_token)
{
    char email[128], otp[8] = "", th[64] = "";
    struct session s1, s2, s3;
    new_email(email, sizeof(email), "recover-all");
    ASSERT_EQ(signup(email, "correct horse battery", &s1), 0);
    ASSERT_EQ(login(email, "correct horse battery", src_for(49), &s2, NULL), 200);
    ASSERT_EQ(recovery_mail(email, otp, th), 0);
    ASSERT_EQ(verify_otp("recovery", email, otp, &s3, NULL), 200);
    ASSERT_EQ(get_user(s1.access), 403);
    ASSERT_EQ(get_user(s2.access), 403);
    ASSERT_TRUE(refresh(s1.refresh, NULL, NULL) >= 400);
    ASSERT_TRUE(refresh(s2.refresh, NULL, NULL) >= 400);
    ASSERT_EQ(get_user(s3.access), 200);
    ASSERT_EQ(refresh(s3.refresh, NULL, NULL), 200);
}

/* The mailed confirmation link of a sign-up, or NULL (caller frees). */
static char *signup_link_mail(const char *query, char *email, size_t n, const char *tag)
{
    char path[256], body[256];
    struct http_resp r;
    new_email(email, n, tag);
    snprintf(path, sizeof(path), "/auth/v1/signup%s", query);
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"correct horse battery\"}",
             email);
    if (post(path, body, NULL, src_for(59), &r) != 0)
        return NULL;
    long st = r.status;
    http_resp_free(&r);
    if (st != 200)
        return NULL;
    for (int i = 0; i < 100 && maildir_count(email, "user.registered") < 1; i++)
        sleep_ms(100);
    return maildir_newest(email, "user.registered");
}

/* auth-js's signUp({options: {emailRedirectTo}}) sends ?redirect_to=: the
 * confirmation link carries it when [auth] allows it, site_url otherwise. */
CTEST(signup, the_confirmation_link_honours_an_allowed_redirect_to)
{
    char email[128];
    char *m = signup_link_mail("?redirect_to=http%3A%2F%2Flocalhost%3A3000%2Fwelcome%3Fx%3D1",
                               email, sizeof(email), "rdr-ok");
    ASSERT_NOT_NULL(m);
    int ok = strstr(m, "type=signup&redirect_to=http%3A%2F%2Flocalhost%3A3000%2Fwelcome%3Fx%3D1") !=
             NULL;
    free(m);
    ASSERT_TRUE(ok);
    /* Another origin is not followed: the link goes to site_url. */
    m = signup_link_mail("?redirect_to=https%3A%2F%2Fevil.example%2Fsteal", email, sizeof(email),
                         "rdr-bad");
    ASSERT_NOT_NULL(m);
    int evil = strstr(m, "evil.example") != NULL;
    char site_link[512];
    struct buf enc;
    buf_init(&enc, 512);
    buf_add_urlencoded(&enc, env_need("UMS_SITE_URL"));
    snprintf(site_link, sizeof(site_link), "type=signup&redirect_to=%s\n", enc.p ? enc.p : "?");
    buf_free(&enc);
    int site = strstr(m, site_link) != NULL;
    if (!site) { /* the text part may end its lines with CRLF */
        site_link[strlen(site_link) - 1] = '\r';
        site = strstr(m, site_link) != NULL;
    }
    free(m);
    ASSERT_FALSE(evil);
    ASSERT_TRUE(site);
    /* A malformed one is no different. */
    m = signup_link_mail("?redirect_to=%0d%0aBcc%3A%20x%40evil.example", email, sizeof(email),
                         "rdr-crlf");
    ASSERT_NOT_NULL(m);
    evil = strstr(m, "evil.example") != NULL;
    free(m);
    ASSERT_FALSE(evil);
}

CTEST(email, recover_answers_before_the_work_that_would_tell_an_account)
{
    /* An address with an account costs more work than one without; the
     * answer must not wait for it. Hold the account's row locked: the
     * recovery's update of it blocks, yet {} must come back at once. */
    char email[128], cmd[1024], body[256], out[32];
    struct session s;
    struct http_resp r;
    long holder;
    new_email(email, sizeof(email), "defer");
    ASSERT_EQ(signup(email, "correct horse battery", &s), 0);
    snprintf(cmd, sizeof(cmd),
             "psql -X -q \"$DATABASE_URL\" -c \"BEGIN; SELECT 1 FROM users WHERE id = '%s' FOR "
             "UPDATE; SELECT pg_sleep(8); COMMIT;\" >/dev/null 2>&1 & echo $!",
             s.user_id);
    ASSERT_EQ(sh_out(cmd, out, sizeof(out)), 0);
    holder = strtol(out, NULL, 10);
    ASSERT_TRUE(holder > 0);
    snprintf(cmd, sizeof(cmd),
             "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE "
             "'%%pg_sleep(8)%%' AND query NOT LIKE '%%pg_stat_activity%%'");
    for (int i = 0; i < 50 && sql_long(cmd) < 1; i++)
        sleep_ms(100);
    ASSERT_EQ(sql_long(cmd), 1);
    snprintf(body, sizeof(body), "{\"email\":\"%s\"}", email);
    ASSERT_EQ(post("/auth/v1/recover", body, NULL, src_for(57), &r), 0);
    int answered_while_locked = kill((pid_t)holder, 0) == 0;
    int st = (int)r.status;
    http_resp_free(&r);
    sql_long("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE "
             "'%pg_sleep(8)%' AND query NOT LIKE '%pg_stat_activity%'");
    ASSERT_EQ(st, 200);
    ASSERT_TRUE(answered_while_locked);
    /* The work was done after the answer: the mail comes once the row is free. */
    ASSERT_EQ(wait_mail(email, "user.recovery_requested", NULL, NULL, NULL, 0), 0);
}

/* POST /auth/v1/otp with body as the client at src: the status (the body
 * must be {} when 200). */
static long otp_request(const char *query, const char *body, const char *src,
                        struct http_resp *keep)
{
    char path[512];
    struct http_resp r;
    long st;

    snprintf(path, sizeof(path), "/auth/v1/otp%s", query != NULL ? query : "");
    if (post(path, body, NULL, src, &r) != 0)
        return -1;
    st = r.status;
    if (st == 200 && strcmp(r.body, "{}") != 0)
        st = -2;
    if (keep != NULL)
        *keep = r;
    else
        http_resp_free(&r);
    return st;
}

/* auth-js signInWithOtp({email, options: {shouldCreateUser: false,
 * emailRedirectTo}}): a mail with a code and a link to the allowed
 * redirect; verifyOtp({email, token, type: 'email'}) signs in; at most one
 * such mail a minute. */
CTEST(otp, an_account_gets_a_code_and_a_link_that_sign_in)
{
    char email[128], body[256], otp[8] = "", th[64] = "", subject[128] = "";
    struct session s;
    char *m;

    new_email(email, sizeof(email), "otp-code");
    ASSERT_EQ(signup(email, "correct horse battery", NULL), 0);
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"create_user\":false}", email);
    ASSERT_EQ(otp_request("?redirect_to=http%3A%2F%2Flocalhost%3A3000%2Fwelcome", body, src_for(61),
                          NULL),
              200);
    ASSERT_EQ(wait_mail(email, "user.magiclink_requested", otp, th, subject, sizeof(subject)), 0);
    ASSERT_STR_EQ(subject, "Your sign-in link");
    ASSERT_EQ(strlen(otp), 6);
    ASSERT_EQ(strlen(th), 56);
    m = maildir_newest(email, "user.magiclink_requested");
    ASSERT_NOT_NULL(m);
    int redirect =
        strstr(m, "type=magiclink&redirect_to=http%3A%2F%2Flocalhost%3A3000%2Fwelcome") != NULL;
    free(m);
    ASSERT_TRUE(redirect);
    ASSERT_EQ(verify_otp("recovery", email, otp, NULL, NULL), 403); /* another kind */
    ASSERT_EQ(verify_otp("email", email, otp, &s, NULL), 200);
    ASSERT_EQ(get_user(s.access), 200);
    ASSERT_EQ(verify_otp("email", email, otp, NULL, NULL), 403); /* used */
    /* Asked again at once: the same answer, no second mail. */
    ASSERT_EQ(otp_request(NULL, body, src_for(61), NULL), 200);
    sleep_ms(1500);
    ASSERT_EQ(maildir_count(email, "user.magiclink_requested"), 1);
    {
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM audit_log a JOIN users u ON u.id = a.target_id WHERE "
                 "u.email = '%s' AND a.action = 'user.magiclink_requested'",
                 email);
        ASSERT_EQ(sql_long(sql), 1);
    }
}

CTEST(otp, the_link_signs_in_through_the_verify_page)
{
    char email[128], body[256], th[64] = "", path[256], loc[8192];

    new_email(email, sizeof(email), "otp-link");
    ASSERT_EQ(signup(email, "correct horse battery", NULL), 0);
    snprintf(body, sizeof(body), "{\"email\":\"%s\"}", email);
    ASSERT_EQ(otp_request(NULL, body, src_for(62), NULL), 200);
    ASSERT_EQ(wait_mail(email, "user.magiclink_requested", NULL, th, NULL, 0), 0);
    snprintf(path, sizeof(path), "/auth/v1/verify?token=%s&type=magiclink", th);
    ASSERT_EQ(follow_link(path, loc, sizeof(loc)), 303);
    ASSERT_TRUE(strncmp(loc, env_need("UMS_SITE_URL"), strlen(env_need("UMS_SITE_URL"))) == 0);
    ASSERT_STR_CONTAINS(loc, "#access_token=");
    ASSERT_STR_CONTAINS(loc, "&type=magiclink");
    /* Once. */
    ASSERT_EQ(follow_link(path, loc, sizeof(loc)), 303);
    ASSERT_STR_CONTAINS(loc, "?error=access_denied&error_code=otp_expired");
}

/* An address without an account: nothing without create_user; with it, an
 * account with no password and the welcome mail, whose code signs in. The
 * answers are the same {} throughout. */
CTEST(otp, a_new_address_gets_an_account_only_with_create_user)
{
    char none[128], fresh[128], body[256], sql[512], otp[8] = "";
    struct session s;
    struct http_resp r;

    new_email(none, sizeof(none), "otp-none");
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"create_user\":false}", none);
    ASSERT_EQ(otp_request(NULL, body, src_for(63), NULL), 200);
    new_email(fresh, sizeof(fresh), "otp-new");
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"data\":{\"name\":\"Otto <b>\"}}", fresh);
    ASSERT_EQ(otp_request(NULL, body, src_for(63), NULL), 200);
    ASSERT_EQ(wait_mail(fresh, "user.registered", otp, NULL, NULL, 0), 0);
    ASSERT_EQ(maildir_count(none, "user.registered"), 0);
    ASSERT_EQ(maildir_count(none, "user.magiclink_requested"), 0);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM users WHERE email = '%s'", none);
    ASSERT_EQ(sql_long(sql), 0);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM users WHERE email = '%s' AND password_hash = '' AND name = "
             "'Otto <b>' AND email_confirmed_at IS NULL",
             fresh);
    ASSERT_EQ(sql_long(sql), 1);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM audit_log a JOIN users u ON u.id = a.target_id WHERE u.email = "
             "'%s' AND a.action = 'user.signup' AND a.details->>'method' = 'otp'",
             fresh);
    ASSERT_EQ(sql_long(sql), 1);
    /* No password signs in to it; the mailed code does, and confirms it. */
    ASSERT_EQ(login(fresh, "", src_for(63), NULL, NULL), 400);
    ASSERT_EQ(verify_otp("email", fresh, otp, &s, NULL), 200);
    ASSERT_EQ(req_bearer("GET", "/auth/v1/user", NULL, s.access, &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_CONTAINS(r.body, "\"email_confirmed_at\"");
    http_resp_free(&r);
    /* Asked again, the account exists: a sign-in mail, no second account. */
    ASSERT_EQ(otp_request(NULL, body, src_for(63), NULL), 200);
    ASSERT_EQ(wait_mail(fresh, "user.magiclink_requested", NULL, NULL, NULL, 0), 0);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM users WHERE email = '%s'", fresh);
    ASSERT_EQ(sql_long(sql), 1);
}

/* Work done after the answer (here a sign-up that the database refuses)
 * logs under the request's own id: the FastCGI parameters that held it are
 * gone by then (fcgi/req.c keeps a copy). Its error line must name the id
 * of the access line its worker wrote for the request just before (under
 * ASan, reading the freed parameters is itself the failure). */
CTEST(otp, a_failure_after_the_answer_is_logged_under_the_request_id)
{
    char email[128], body[256], sql[1024], cmd[2048], out[256];

    new_email(email, sizeof(email), "otp-fail");
    snprintf(sql, sizeof(sql),
             "CREATE FUNCTION ums_test_refuse_otp() RETURNS trigger LANGUAGE plpgsql AS"
             " 'BEGIN IF NEW.email = ''%s'' THEN RAISE EXCEPTION ''refused by test_auth'';"
             " END IF; RETURN NEW; END';"
             " CREATE TRIGGER ums_test_refuse_otp BEFORE INSERT ON users"
             " FOR EACH ROW EXECUTE FUNCTION ums_test_refuse_otp()",
             email);
    ASSERT_EQ(sql_run(sql), 0);
    snprintf(body, sizeof(body), "{\"email\":\"%s\"}", email);
    long st = otp_request(NULL, body, src_for(65), NULL);
    snprintf(
        cmd, sizeof(cmd),
        "for i in $(seq 50); do python3 -c '\n"
        "import glob, json, sys\n"
        "for f in glob.glob(sys.argv[1] + \"/log/ums*.log\"):\n"
        "    last = {}\n"
        "    for ln in open(f, errors=\"replace\"):\n"
        "        try: o = json.loads(ln)\n"
        "        except ValueError: continue\n"
        "        pid = o.get(\"process.pid\")\n"
        "        if str(o.get(\"message\")).startswith(\"otp after the answer failed\") and "
        "o[\"@timestamp\"] >= sys.argv[2]:\n"
        "            a = last.get(pid, {})\n"
        "            print(a.get(\"url.path\"), a.get(\"http.request.id\") == "
        "o.get(\"http.request.id\"))\n"
        "            sys.exit(0)\n"
        "        if o.get(\"message\") == \"request\": last[pid] = o\n"
        "sys.exit(1)' \"$UMS_STACK\" \"$(date -u -d @%ld +%%Y-%%m-%%dT%%H:%%M:%%S)\" && exit 0;"
        " sleep 0.1; done; exit 1",
        (long)time(NULL) - 2);
    int found = sh_out(cmd, out, sizeof(out));
    ASSERT_EQ(sql_run("DROP TRIGGER ums_test_refuse_otp ON users; DROP FUNCTION "
                      "ums_test_refuse_otp()"),
              0);
    ASSERT_EQ(st, 200);
    ASSERT_EQ(found, 0);
    ASSERT_STR_EQ(out, "/auth/v1/otp True\n");
}

CTEST(otp, bad_requests_are_refused_and_suspended_accounts_get_nothing)
{
    static const struct {
        const char *body, *why;
    } bad[] = {
        {"{\"email\":\"not-an-address\"}", "an address that is none"},
        {"{}", "no address"},
        {"{\"phone\":\"+15555550100\"}", "a phone"},
        {"{\"email\":\"a@example.com\",\"create_user\":\"yes\"}", "create_user not a boolean"},
        {"{\"email\":\"a@example.com\",\"data\":[1]}", "data not an object"},
        {"[1]", "not an object"},
        {"{\"email\":7}", "email not a string"},
    };
    char email[128], body[256], path[256];
    struct session s;
    struct http_resp r;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char why[256];
        ASSERT_EQ(otp_request(NULL, bad[i].body, src_for(64), &r), 400);
        if (!error_matches(&r, ERR_AUTH, 400, "validation_failed", why, sizeof(why)))
            CTEST_FAIL_("%s: %s; got %ld %s", bad[i].why, why, r.status, r.body);
        http_resp_free(&r);
    }
    new_email(email, sizeof(email), "otp-banned");
    ASSERT_EQ(signup(email, "correct horse battery", &s), 0);
    snprintf(path, sizeof(path), "/auth/v1/admin/users/%s", s.user_id);
    ASSERT_EQ(
        admin_req("PUT", path, "{\"ban_duration\":\"24h\"}", env_need("UMS_SERVICE_KEY"), NULL),
        200);
    snprintf(body, sizeof(body), "{\"email\":\"%s\"}", email);
    ASSERT_EQ(otp_request(NULL, body, src_for(64), NULL), 200);
    sleep_ms(1500);
    ASSERT_EQ(maildir_count(email, "user.magiclink_requested"), 0);
}

CTEST(email, a_suspended_account_gets_no_mail_and_no_session_from_a_code)
{
    char email[128], otp[8] = "", th[64] = "", path[128], body[256];
    struct session s;
    struct http_resp r;
    new_email(email, sizeof(email), "susp-recover");
    ASSERT_EQ(signup(email, "correct horse battery", &s), 0);
    ASSERT_EQ(recovery_mail(email, otp, th), 0); /* a code from before */
    snprintf(path, sizeof(path), "/api/v1/users/%s", s.user_id);
    ASSERT_EQ(
        admin_req("PATCH", path, "{\"status\":\"suspended\"}", env_need("UMS_SERVICE_KEY"), NULL),
        200);
    /* The code of before opens no session... */
    ASSERT_EQ(verify_otp("recovery", email, otp, NULL, &r), 400);
    ASSERT_ERROR(r, ERR_AUTH, 400, "user_banned");
    http_resp_free(&r);
    /* ...and a new recovery mails nothing (the answer is the same {}). */
    snprintf(body, sizeof(body), "UPDATE users SET recovery_sent_at = NULL WHERE id = '%s'",
             s.user_id);
    ASSERT_EQ(sql_run(body), 0); /* past the one-a-minute rule */
    snprintf(body, sizeof(body), "{\"email\":\"%s\"}", email);
    ASSERT_EQ(post("/auth/v1/recover", body, NULL, src_for(55), &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "{}");
    http_resp_free(&r);
    sleep_ms(1500);
    ASSERT_EQ(maildir_count(email, "user.recovery_requested"), 1);
    /* Active again: the old code works (it was not used up). */
    ASSERT_EQ(
        admin_req("PATCH", path, "{\"status\":\"active\"}", env_need("UMS_SERVICE_KEY"), NULL),
        200);
    ASSERT_EQ(verify_otp("recovery", email, otp, NULL, NULL), 200);
}

/* A JSON POST straight to a FastCGI socket from REMOTE_ADDR ip (what nginx
 * would never send: any address); the status, and the body in *resp_body
 * (malloc'd) when resp_body is not NULL. */
static int socket_post(const char *sock, const char *ip, const char *uri, const char *body,
                       char **resp_body)
{
    char clen[24], *out = NULL;
    const char *p[] = {
        "REQUEST_METHOD",   "POST",           "REQUEST_URI", uri, "REMOTE_ADDR", ip, "CONTENT_TYPE",
        "application/json", "CONTENT_LENGTH", clen,          NULL};
    int st;
    snprintf(clen, sizeof(clen), "%zu", strlen(body));
    if (fcgi_request(sock, p, body, strlen(body), &out) != 0)
        return -1;
    st = fcgi_status(out);
    if (resp_body != NULL) {
        const char *b = strstr(out, "\r\n\r\n");
        *resp_body = strdup(b != NULL ? b + 4 : "");
    }
    free(out);
    return st;
}

static int raw_post(const char *sock, const char *uri, const char *body, char **resp_body)
{
    return socket_post(sock, "127.0.9.9", uri, body, resp_body);
}

/* A verify request straight to the socket from REMOTE_ADDR ip; its status. */
static int verify_from(const char *ip)
{
    return socket_post(env_need("UMS_FCGI_SOCKET"), ip, "/auth/v1/verify",
                       "{\"type\":\"recovery\",\"email\":\"nobody-v6@example.com\","
                       "\"token\":\"000000\"}",
                       NULL);
}

CTEST(limits, one_email_change_mail_a_minute)
{
    char email[128], to1[128], to2[128], body[256], ra[16];
    struct session s;
    struct http_resp r;
    new_email(email, sizeof(email), "chg-once");
    new_email(to1, sizeof(to1), "chg-to1");
    new_email(to2, sizeof(to2), "chg-to2");
    ASSERT_EQ(signup(email, "correct horse battery", &s), 0);
    snprintf(body, sizeof(body), "{\"email\":\"%s\"}", to1);
    ASSERT_EQ(admin_req("PUT", "/auth/v1/user", body, s.access, NULL), 200);
    snprintf(body, sizeof(body), "{\"email\":\"%s\"}", to2);
    ASSERT_EQ(admin_req("PUT", "/auth/v1/user", body, s.access, &r), 429);
    ASSERT_ERROR(r, ERR_AUTH, 429, "over_email_send_rate_limit");
    ASSERT_EQ(resp_header(&r, "Retry-After", ra, sizeof(ra)), 0);
    http_resp_free(&r);
    /* Only the first address got a mail. */
    ASSERT_EQ(wait_mail(to1, "user.email_change_requested", NULL, NULL, NULL, 0), 0);
    ASSERT_EQ(maildir_count(to2, "user.email_change_requested"), 0);
}

CTEST(limits, mail_to_one_address_is_capped_whoever_asks)
{
    /* From many clients, for an address with or without an account: three
     * mails in 5 minutes, then 429 over_email_send_rate_limit alike. */
    const char *kinds[2] = {"known", "unknown"};
    for (int k = 0; k < 2; k++) {
        char email[128], body[256];
        struct http_resp r;
        int st[4];
        new_email(email, sizeof(email), kinds[k]);
        if (k == 0)
            ASSERT_EQ(signup(email, "correct horse battery", NULL), 0);
        snprintf(body, sizeof(body), "{\"email\":\"%s\"}", email);
        for (int i = 0; i < 4; i++) {
            ASSERT_EQ(post("/auth/v1/recover", body, NULL, src_for(50 + i), &r), 0);
            st[i] = (int)r.status;
            if (i == 3)
                ASSERT_ERROR(r, ERR_AUTH, 429, "over_email_send_rate_limit");
            http_resp_free(&r);
        }
        ASSERT_EQ(st[0], 200);
        ASSERT_EQ(st[2], 200);
        ASSERT_EQ(st[3], 429);
    }
}

CTEST(limits, account_changes_per_account)
{
    /* PUT /user: 20 changes per 5 minutes per account, from any client. */
    char email[128], body[64];
    struct session s;
    struct http_resp r;
    int i, st = 0;
    new_email(email, sizeof(email), "chg-many");
    ASSERT_EQ(signup(email, "correct horse battery", &s), 0);
    for (i = 0; i < 25; i++) {
        snprintf(body, sizeof(body), "{\"data\":{\"n\":%d}}", i);
        st = (int)admin_req("PUT", "/auth/v1/user", body, s.access, &r);
        if (st != 200)
            break;
        http_resp_free(&r);
    }
    ASSERT_EQ(i, 20);
    ASSERT_EQ(st, 429);
    ASSERT_ERROR(r, ERR_AUTH, 429, "over_request_rate_limit");
    http_resp_free(&r);
    /* Reading is not an account change. */
    ASSERT_EQ(get_user(s.access), 200);
}

CTEST(limits, ipv6_clients_share_a_bucket_per_64)
{
    /* 30 verifications per 5 minutes per client, a client being an IPv6
     * /64: 30 different addresses of one /64, then a 31st is refused, while
     * a neighbouring /64 is not. */
    char ip[64];
    unsigned r;
    int st;
    getrandom(&r, sizeof(r), 0);
    for (int i = 1; i <= 30; i++) {
        snprintf(ip, sizeof(ip), "2001:db8:%x:%x:%x::%x", r >> 16, r & 0xffff, i * 7, i);
        st = verify_from(ip);
        if (st != 403)
            CTEST_FAIL_("address %d (%s): status %d", i, ip, st);
    }
    snprintf(ip, sizeof(ip), "2001:db8:%x:%x:ffff:ffff:ffff:ffff", r >> 16, r & 0xffff);
    ASSERT_EQ(verify_from(ip), 429);
    snprintf(ip, sizeof(ip), "2001:db8:%x:%x::1", r >> 16, (r + 1) & 0xffff);
    ASSERT_EQ(verify_from(ip), 403);
    /* An IPv4-mapped address is its IPv4 address. */
    snprintf(ip, sizeof(ip), "::ffff:127.201.%u.%u", (r >> 8) % 250 + 1, r % 250 + 1);
    ASSERT_EQ(verify_from(ip), 403);
}

static int redis_cli(const char *args)
{
    return redis_cmd(args, NULL, 0);
}

/* A request straight to the socket from a fresh loopback address. */
static int post_from(const char *uri, const char *body)
{
    char ip[32];
    unsigned r;
    getrandom(&r, sizeof(r), 0);
    snprintf(ip, sizeof(ip), "127.202.%u.%u", (r >> 8) % 250 + 1, r % 250 + 1);
    return socket_post(env_need("UMS_FCGI_SOCKET"), ip, uri, body, NULL);
}

CTEST(limits, credential_buckets_stay_shut_on_a_redis_error_reply)
{
    /* Redis out of memory under noeviction answers every write with an
     * error: the buckets in front of sign-in and code checks refuse (503)
     * instead of allowing everything; the others pass as with Redis down. */
    int token, verify, recover;
    char email[128], login_body[256];
    new_email(email, sizeof(email), "oom");
    snprintf(login_body, sizeof(login_body), "{\"email\":\"%s\",\"password\":\"whatever1\"}",
             email);
    ASSERT_EQ(redis_cli("CONFIG SET maxmemory 1"), 0);
    token = post_from("/auth/v1/token?grant_type=password", login_body);
    verify =
        post_from("/auth/v1/verify",
                  "{\"type\":\"recovery\",\"email\":\"oom@example.com\",\"token\":\"123456\"}");
    recover = post_from("/auth/v1/recover", "{\"email\":\"oom@example.com\"}");
    ASSERT_EQ(redis_cli("CONFIG SET maxmemory 256mb"), 0); /* before any assert */
    ASSERT_EQ(token, 503);
    ASSERT_EQ(verify, 503);
    ASSERT_EQ(recover, 200);
    /* And back: the sign-in answers as usual. */
    ASSERT_EQ(post_from("/auth/v1/token?grant_type=password", login_body), 400);
}

/* The session_id claim of an access token into out (37 bytes); 0 if found. */
static int sid_of(const char *access, char out[37])
{
    const char *d1 = strchr(access, '.'), *d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
    unsigned char raw[4096];
    long n;
    struct json_object *o, *v;
    int rc = -1;
    if (d2 == NULL)
        return -1;
    n = b64_url_decode(raw, sizeof(raw) - 1, d1 + 1, (size_t)(d2 - d1 - 1));
    if (n <= 0)
        return -1;
    raw[n] = '\0';
    o = json_tokener_parse((const char *)raw);
    if (o != NULL && json_object_object_get_ex(o, "session_id", &v)) {
        snprintf(out, 37, "%s", json_object_get_string(v));
        rc = 0;
    }
    json_object_put(o);
    return rc;
}

static int redis_out(const char *args, char *out, size_t n)
{
    return redis_cmd(args, out, n);
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

CTEST(revocation, holds_while_redis_refuses_writes)
{
    /* Redis takes no write for 5 s (CLIENT PAUSE WRITE) but answers reads,
     * with the session cached as live: a sign-out must still kill the
     * token everywhere, at once, not after the cache entry's 15 minutes. */
    char email[128];
    struct session s;
    double t0, t_dead = 0;
    long st = 0, logout;
    new_email(email, sizeof(email), "rev-pause");
    ASSERT_EQ(signup(email, "correct horse battery", &s), 0);
    ASSERT_EQ(get_user(s.access), 200); /* cached as live */
    t0 = now_ms();
    ASSERT_EQ(redis_cli("CLIENT PAUSE 5000 WRITE"), 0);
    logout = admin_req("POST", "/auth/v1/logout", NULL, s.access, NULL);
    while (now_ms() - t0 < 4500) {
        st = get_user(s.access);
        if (st == 403) {
            t_dead = now_ms();
            break;
        }
        sleep_ms(100);
    }
    redis_cli("CLIENT UNPAUSE");
    ASSERT_EQ(logout, 204);
    ASSERT_EQ(st, 403);
    ASSERT_TRUE(t_dead > 0 && t_dead - t0 < 4500); /* while writes were still refused */
    /* The fault was noted in PostgreSQL, and the token stays dead after. */
    ASSERT_TRUE(sql_long("SELECT count(*) FROM session_cache_faults WHERE at > now() - "
                         "interval '1 minute'") >= 1);
    ASSERT_EQ(get_user(s.access), 403);
}

CTEST(revocation, a_demotion_is_not_undone_by_a_racing_check)
{
    /* The race: a check read "admin" from PostgreSQL just before the
     * demotion committed, and writes it to the cache just after (SET NX).
     * The demotion overwrote the entry with the new role, so that write
     * finds the key taken. */
    char email[128], sid[37], path[128], val[128], out[64];
    struct session a;
    ASSERT_EQ(admin_signed_in(&a, email, sizeof(email), "rev-demote"), 0);
    ASSERT_EQ(admin_req("GET", "/api/v1/users?limit=1", NULL, a.access, NULL), 200);
    ASSERT_EQ(sid_of(a.access, sid), 0);
    snprintf(path, sizeof(path), "/api/v1/users/%s/role", a.user_id);
    ASSERT_EQ(admin_req("PUT", path, "{\"role\":\"user\"}", env_need("UMS_SERVICE_KEY"), NULL),
              200);
    snprintf(val, sizeof(val), "SET ums:sess:%s '%s admin' EX 900 NX", sid, a.user_id);
    ASSERT_EQ(redis_out(val, out, sizeof(out)), 0);
    ASSERT_TRUE(strcmp(out, "OK") != 0); /* the racing write lost */
    ASSERT_EQ(admin_req("GET", "/api/v1/users?limit=1", NULL, a.access, NULL), 403);
}

CTEST(revocation, the_cache_never_outlives_the_session)
{
    char email[128], sid[37], sql[256], args[128], ttl[32];
    struct session s;
    new_email(email, sizeof(email), "rev-expiry");
    ASSERT_EQ(signup(email, "correct horse battery", &s), 0);
    ASSERT_EQ(sid_of(s.access, sid), 0);
    snprintf(sql, sizeof(sql),
             "UPDATE sessions SET expires_at = now() + interval '3 seconds' WHERE id = '%s'", sid);
    ASSERT_EQ(sql_run(sql), 0);
    snprintf(args, sizeof(args), "DEL ums:sess:%s", sid);
    ASSERT_EQ(redis_out(args, ttl, sizeof(ttl)), 0);
    ASSERT_EQ(get_user(s.access), 200); /* read from PostgreSQL, cached */
    snprintf(args, sizeof(args), "TTL ums:sess:%s", sid);
    ASSERT_EQ(redis_out(args, ttl, sizeof(ttl)), 0);
    ASSERT_TRUE((int)strtol(ttl, NULL, 10) >= 1 && (int)strtol(ttl, NULL, 10) <= 3);
}

/* Makes the session of s look as if it signed in 11 minutes ago. */
static int age_session(const struct session *s)
{
    char sid[37], sql[256];
    if (sid_of(s->access, sid) != 0)
        return -1;
    snprintf(sql, sizeof(sql),
             "UPDATE sessions SET created_at = now() - interval '11 minutes', "
             "reauthenticated_at = NULL WHERE id = '%s'",
             sid);
    return sql_run(sql);
}

CTEST(reauth, an_old_session_needs_the_password_or_a_code_to_change_credentials)
{
    char email[128], to[128], body[512], otp[8] = "";
    struct session s;
    struct http_resp r;
    new_email(email, sizeof(email), "reauth");
    new_email(to, sizeof(to), "reauth-to");
    ASSERT_EQ(signup(email, "correct horse battery", &s), 0);
    /* Fresh from its sign-in: no questions (what auth-js's flows expect);
     * but a current password given anyway must be the right one. */
    ASSERT_EQ(admin_req("PUT", "/auth/v1/user",
                        "{\"password\":\"a second passphrase\",\"current_password\":\"not it\"}",
                        s.access, &r),
              400);
    ASSERT_ERROR(r, ERR_AUTH, 400, "reauthentication_not_valid");
    http_resp_free(&r);
    ASSERT_EQ(
        admin_req("PUT", "/auth/v1/user", "{\"password\":\"a second passphrase\"}", s.access, NULL),
        200);
    /* Signed in 11 minutes ago (a refresh does not count): asked. */
    ASSERT_EQ(age_session(&s), 0);
    ASSERT_EQ(refresh(s.refresh, &s, NULL), 200);
    ASSERT_EQ(
        admin_req("PUT", "/auth/v1/user", "{\"password\":\"a third passphrase\"}", s.access, &r),
        400);
    ASSERT_ERROR(r, ERR_AUTH, 400, "reauthentication_needed");
    http_resp_free(&r);
    ASSERT_EQ(admin_req("PUT", "/auth/v1/user",
                        "{\"password\":\"a third passphrase\",\"current_password\":\"wrong one\"}",
                        s.access, &r),
              400);
    ASSERT_ERROR(r, ERR_AUTH, 400, "reauthentication_not_valid");
    http_resp_free(&r);
    ASSERT_EQ(admin_req("PUT", "/auth/v1/user",
                        "{\"password\":\"a third passphrase\","
                        "\"current_password\":\"a second passphrase\"}",
                        s.access, NULL),
              200);
    /* data alone is no credential change. */
    ASSERT_EQ(age_session(&s), 0);
    ASSERT_EQ(admin_req("PUT", "/auth/v1/user", "{\"data\":{\"theme\":\"dark\"}}", s.access, NULL),
              200);
    /* An address change with a code from /reauthenticate (auth-js: GET). */
    snprintf(body, sizeof(body), "{\"email\":\"%s\"}", to);
    ASSERT_EQ(admin_req("PUT", "/auth/v1/user", body, s.access, &r), 400);
    ASSERT_ERROR(r, ERR_AUTH, 400, "reauthentication_needed");
    http_resp_free(&r);
    ASSERT_EQ(admin_req("GET", "/auth/v1/reauthenticate", NULL, s.access, NULL), 200);
    ASSERT_EQ(wait_mail(email, "user.reauthentication_requested", otp, NULL, NULL, 0), 0);
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"nonce\":\"%06ld\"}", to,
             (strtol(otp, NULL, 10) + 1) % 1000000);
    ASSERT_EQ(admin_req("PUT", "/auth/v1/user", body, s.access, &r), 400);
    ASSERT_ERROR(r, ERR_AUTH, 400, "reauthentication_not_valid");
    http_resp_free(&r);
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"nonce\":\"%s\"}", to, otp);
    if (admin_req("PUT", "/auth/v1/user", body, s.access, &r) != 200)
        CTEST_FAIL_("the right code: %ld %s", r.status, r.body);
    http_resp_free(&r);
    /* The address in use is told, with the new one named. */
    ASSERT_EQ(wait_mail(email, "user.email_change_notice", NULL, NULL, NULL, 0), 0);
    ASSERT_EQ(wait_mail(to, "user.email_change_requested", NULL, NULL, NULL, 0), 0);
    /* Deleting one's own account: the same rule, on /api/v1. */
    ASSERT_EQ(age_session(&s), 0);
    ASSERT_EQ(admin_req("DELETE", "/api/v1/users/me", NULL, s.access, &r), 400);
    ASSERT_STR_CONTAINS(r.body, "reauthentication_needed");
    http_resp_free(&r);
    ASSERT_EQ(admin_req("DELETE", "/api/v1/users/me",
                        "{\"current_password\":\"a third passphrase\"}", s.access, NULL),
              204);
}

/* POST /signup with data; the status (the response in *keep when asked). */
static long signup_with(const char *email, const char *data, struct http_resp *keep)
{
    char body[2048];
    snprintf(body, sizeof(body),
             "{\"email\":\"%s\",\"password\":\"correct horse battery\",\"data\":%s}", email, data);
    return post_for_session("/auth/v1/signup", body, src_for(46), NULL, keep);
}

CTEST(metadata, names_that_would_reach_mail_are_validated_everywhere)
{
    static const char *const bad[] = {
        "{\"name\":\"Ann\\nYour account is locked, call +1 555 0100\"}",
        "{\"name\":\"Ann\\r\\nBcc: everyone@example.com\"}",
        "{\"name\":\"Claim your prize at https://evil.example\"}",
        "{\"name\":\"visit www.evil.example\"}",
        "{\"name\":\"\\u202eevil\"}",
        "{\"name\":\"   \"}",
        "{\"name\":42}",
        NULL,
    };
    char email[128], body[512];
    struct session s;
    struct http_resp r;
    for (int i = 0; bad[i] != NULL; i++) {
        new_email(email, sizeof(email), "badname");
        ASSERT_EQ(signup_with(email, bad[i], &r), 400);
        ASSERT_ERROR(r, ERR_AUTH, 400, "validation_failed");
        http_resp_free(&r);
        /* and no account, no mail: the address stays free */
        ASSERT_EQ(login(email, "correct horse battery", src_for(47), NULL, NULL), 400);
    }
    new_email(email, sizeof(email), "goodname");
    ASSERT_EQ(signup_with(email, "{\"name\":\"Zoë O'Brien\"}", NULL), 200);
    ASSERT_EQ(login(email, "correct horse battery", src_for(47), &s, NULL), 200);
    for (int i = 0; bad[i] != NULL; i++) {
        snprintf(body, sizeof(body), "{\"data\":%s}", bad[i]);
        ASSERT_EQ(admin_req("PUT", "/auth/v1/user", body, s.access, &r), 400);
        ASSERT_ERROR(r, ERR_AUTH, 400, "validation_failed");
        http_resp_free(&r);
    }
    ASSERT_EQ(admin_req("PUT", "/auth/v1/user", "{\"data\":{\"name\":\"Zoë\"}}", s.access, NULL),
              200);
    /* The admin routes too. */
    snprintf(body, sizeof(body), "{\"user_metadata\":%s}", bad[0]);
    snprintf(email, sizeof(email), "/auth/v1/admin/users/%s", s.user_id);
    ASSERT_EQ(admin_req("PUT", email, body, env_need("UMS_SERVICE_KEY"), NULL), 400);
}

CTEST(metadata, user_metadata_is_capped_after_the_merge)
{
    char email[128], *body, path[128];
    struct session s;
    struct http_resp r;
    size_t n = 12 * 1024;
    new_email(email, sizeof(email), "bigmeta");
    ASSERT_EQ(signup(email, "correct horse battery", &s), 0);
    body = malloc(n + 64);
    ASSERT_NOT_NULL(body);
    /* 12 KiB under one key: fine; 12 KiB more under another: over 16 KiB. */
    for (int k = 0; k < 2; k++) {
        int off = snprintf(body, 64, "{\"data\":{\"k%d\":\"", k);
        memset(body + off, 'x', n);
        memcpy(body + off + n, "\"}}", 4);
        ASSERT_EQ(admin_req("PUT", "/auth/v1/user", body, s.access, &r), k == 0 ? 200 : 422);
        if (k == 1)
            ASSERT_ERROR(r, ERR_AUTH, 422, "validation_failed");
        http_resp_free(&r);
    }
    free(body);
    /* Replacing the first key (a merge that stays small) still works. */
    ASSERT_EQ(admin_req("PUT", "/auth/v1/user", "{\"data\":{\"k0\":null,\"k1\":\"small\"}}",
                        s.access, NULL),
              200);
    /* Seven levels are refused, six taken. */
    ASSERT_EQ(admin_req("PUT", "/auth/v1/user",
                        "{\"data\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{}}}}}}}}", s.access,
                        NULL),
              422);
    ASSERT_EQ(admin_req("PUT", "/auth/v1/user",
                        "{\"data\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":1}}}}}}}", s.access,
                        NULL),
              200);
    /* Sign-up data has the same limits. */
    new_email(email, sizeof(email), "deepmeta");
    ASSERT_EQ(signup_with(email, "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{}}}}}}}", NULL), 422);
    /* The admin's first page and this user's token stay small and fine. */
    ASSERT_EQ(admin_req("GET", "/auth/v1/admin/users?per_page=50", NULL,
                        env_need("UMS_SERVICE_KEY"), NULL),
              200);
    snprintf(path, sizeof(path), "/auth/v1/admin/users/%s", s.user_id);
    ASSERT_EQ(admin_req("GET", path, NULL, env_need("UMS_SERVICE_KEY"), NULL), 200);
}

CTEST(email, confirmation_sent_again_on_resend)
{
    char email[128], first[8] = "", again[8] = "", body[256], sql[512];
    struct http_resp r, r2;
    struct session s;

    new_email(email, sizeof(email), "resend");
    ASSERT_EQ(signup(email, "correct horse battery", NULL), 0);
    ASSERT_EQ(wait_mail(email, "user.registered", first, NULL, NULL, 0), 0);
    /* Within a minute of the welcome mail nothing more is sent. */
    snprintf(body, sizeof(body), "{\"type\":\"signup\",\"email\":\"%s\"}", email);
    ASSERT_EQ(post("/auth/v1/resend", body, NULL, src_for(33), &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body, "{}");
    http_resp_free(&r);
    /* A minute later (moved back in the database), a new code. */
    snprintf(sql, sizeof(sql),
             "psql -X -q \"$DATABASE_URL\" -c \"UPDATE users SET confirmation_sent_at = now() -"
             " interval '2 minutes' WHERE email = '%s'\"",
             email);
    ASSERT_EQ(sh(sql), 0);
    ASSERT_EQ(post("/auth/v1/resend", body, NULL, src_for(33), &r), 0);
    ASSERT_EQ(post("/auth/v1/resend", "{\"type\":\"signup\",\"email\":\"nobody-x@example.com\"}",
                   NULL, src_for(33), &r2),
              0);
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(r2.status, 200);
    ASSERT_STR_EQ(r.body, r2.body); /* unknown addresses look the same */
    http_resp_free(&r);
    http_resp_free(&r2);
    ASSERT_EQ(wait_mail(email, "user.confirmation_requested", again, NULL, NULL, 0), 0);
    ASSERT_EQ(strlen(again), 6);
    /* The new code confirms; the first one died with it (unless equal by chance). */
    if (strcmp(first, again) != 0)
        ASSERT_EQ(verify_otp("signup", email, first, NULL, NULL), 403);
    ASSERT_EQ(verify_otp("signup", email, again, &s, NULL), 200);
    ASSERT_EQ(req_bearer("GET", "/auth/v1/user", NULL, s.access, &r), 0);
    {
        struct json_object *u = jparse(&r);
        ASSERT_NOT_NULL(u);
        ASSERT_NOT_NULL(jstr(u, "email_confirmed_at"));
        json_object_put(u);
    }
    http_resp_free(&r);
    /* Confirmed: a resend sends nothing, even after a minute. */
    ASSERT_EQ(sh(sql), 0);
    ASSERT_EQ(post("/auth/v1/resend", body, NULL, src_for(33), &r), 0);
    ASSERT_EQ(r.status, 200);
    http_resp_free(&r);
    sleep_ms(1500);
    ASSERT_EQ(maildir_count(email, "user.confirmation_requested"), 1);
    /* Bad requests. */
    static const char *const bad[] = {"{\"email\":\"a@example.com\"}",
                                      "{\"type\":\"sms\",\"email\":\"a@example.com\"}",
                                      "{\"type\":\"email_change\",\"email\":\"a@example.com\"}",
                                      "{\"type\":7,\"email\":\"a@example.com\"}",
                                      "{\"type\":\"signup\",\"email\":[1]}",
                                      "[\"signup\"]",
                                      "{\"type\":\"signup\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ASSERT_EQ(post("/auth/v1/resend", bad[i], NULL, src_for(33), &r), 0);
        ASSERT_EQ(r.status, 400);
        ASSERT_STR_CONTAINS(r.body, "\"error_code\":\"");
        http_resp_free(&r);
    }
}

CTEST(email, newer_code_voids_older_and_expiry)
{
    char email[128], otp[8] = "", body[512], cmd[1024];
    struct http_resp r;
    struct json_object *o;
    const char *key = env_need("UMS_SERVICE_KEY");
    new_email(email, sizeof(email), "void");
    ASSERT_EQ(signup(email, "correct horse battery", NULL), 0);
    snprintf(body, sizeof(body), "{\"email\":\"%s\"}", email);
    ASSERT_EQ(post("/auth/v1/recover", body, NULL, src_for(32), &r), 0);
    http_resp_free(&r);
    ASSERT_EQ(wait_mail(email, "user.recovery_requested", otp, NULL, NULL, 0), 0);
    /* An administrator generates a newer recovery code: the mailed one dies. */
    snprintf(body, sizeof(body), "{\"type\":\"recovery\",\"email\":\"%s\"}", email);
    ASSERT_EQ(admin_req("POST", "/auth/v1/admin/generate_link", body, key, &r), 200);
    o = jparse(&r);
    char newer[8], th[64];
    snprintf(newer, sizeof(newer), "%s", jstr(o, "email_otp"));
    snprintf(th, sizeof(th), "%s", jstr(o, "hashed_token"));
    ASSERT_STR_CONTAINS(jstr(o, "action_link"), "/auth/v1/verify?token=");
    ASSERT_STR_EQ(jstr(o, "verification_type"), "recovery");
    ASSERT_STR_EQ(jstr(o, "email"), email);
    json_object_put(o);
    http_resp_free(&r);
    ASSERT_EQ(verify_otp("recovery", email, otp, NULL, NULL), 403);
    /* Expire the newer one in the database: refused too. */
    snprintf(cmd, sizeof(cmd),
             "psql -X -q \"$DATABASE_URL\" -c \"UPDATE one_time_tokens SET expires_at = now() - "
             "interval '1 second' WHERE user_id = (SELECT id FROM users WHERE email = '%s') AND "
             "used_at IS NULL\" >/dev/null",
             email);
    ASSERT_EQ(sh(cmd), 0);
    ASSERT_EQ(verify_otp("recovery", email, newer, NULL, &r), 403);
    ASSERT_ERROR(r, ERR_AUTH, 403, "otp_expired");
    http_resp_free(&r);
    /* token_hash form: garbage and a wrong hash. */
    ASSERT_EQ(post("/auth/v1/verify", "{\"type\":\"recovery\",\"token_hash\":\"zz'--\"}", NULL,
                   src_for(32), &r),
              0);
    ASSERT_ERROR(r, ERR_AUTH, 403, "otp_expired");
    http_resp_free(&r);
    snprintf(body, sizeof(body), "{\"type\":\"magic\",\"token_hash\":\"%s\"}", th);
    ASSERT_EQ(post("/auth/v1/verify", body, NULL, src_for(32), &r), 0);
    ASSERT_ERROR(r, ERR_AUTH, 400, "validation_failed");
    http_resp_free(&r);
}

CTEST(email, change_with_confirmation)
{
    char email[128], next[128], otp[8] = "", body[512];
    struct session s, s2;
    struct http_resp r;
    struct json_object *o;
    new_email(email, sizeof(email), "change-old");
    new_email(next, sizeof(next), "change-new");
    ASSERT_EQ(signup(email, "correct horse battery", &s), 0);
    snprintf(body, sizeof(body), "{\"email\":\"%s\"}", next);
    ASSERT_EQ(req_bearer("PUT", "/auth/v1/user", body, s.access, &r), 0);
    ASSERT_EQ(r.status, 200);
    o = jparse(&r);
    ASSERT_STR_EQ(jstr(o, "email"), email);
    ASSERT_STR_EQ(jstr(o, "new_email"), next);
    ASSERT_NOT_NULL(jstr(o, "email_change_sent_at"));
    json_object_put(o);
    http_resp_free(&r);
    ASSERT_EQ(wait_mail(next, "user.email_change_requested", otp, NULL, NULL, 0), 0);
    ASSERT_EQ(verify_otp("email_change", next, otp, &s2, NULL), 200);
    ASSERT_EQ(req_bearer("GET", "/auth/v1/user", NULL, s2.access, &r), 0);
    o = jparse(&r);
    ASSERT_STR_EQ(jstr(o, "email"), next);
    ASSERT_NULL(jstr(o, "new_email"));
    json_object_put(o);
    http_resp_free(&r);
    ASSERT_EQ(login(next, "correct horse battery", src_for(33), NULL, NULL), 200);
    ASSERT_EQ(login(email, "correct horse battery", src_for(33), NULL, NULL), 400);
}

CTEST(email, lock_notifies_the_owner)
{
    char email[128], subject[256] = "";
    new_email(email, sizeof(email), "locknote");
    ASSERT_EQ(signup(email, "correct horse battery", NULL), 0);
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(login(email, "wrong password", src_for(34), NULL, NULL), 400);
    ASSERT_EQ(wait_mail(email, "account.locked", NULL, NULL, subject, sizeof(subject)), 0);
    ASSERT_STR_CONTAINS(subject, "locked");
}

CTEST(forward_auth, check_and_nginx_auth_request)
{
    char email[128], v[256];
    struct session s;
    struct http_resp r;
    new_email(email, sizeof(email), "fwd");
    ASSERT_EQ(signup(email, "correct horse battery", &s), 0);
    ASSERT_EQ(req_bearer("GET", "/auth/v1/check", NULL, s.access, &r), 0);
    ASSERT_EQ(r.status, 204);
    ASSERT_EQ(resp_header(&r, "X-User-Id", v, sizeof(v)), 0);
    ASSERT_STR_EQ(v, s.user_id);
    ASSERT_EQ(resp_header(&r, "X-User-Role", v, sizeof(v)), 0);
    ASSERT_STR_EQ(v, "user");
    http_resp_free(&r);
    ASSERT_EQ(req_bearer("GET", "/auth/v1/check?role=admin", NULL, s.access, &r), 0);
    ASSERT_EQ(r.status, 403);
    http_resp_free(&r);
    ASSERT_EQ(http_get("/auth/v1/check", &r), 0);
    ASSERT_EQ(r.status, 401);
    ASSERT_EQ(resp_header(&r, "WWW-Authenticate", v, sizeof(v)), 0);
    ASSERT_STR_EQ(v, "Bearer");
    http_resp_free(&r);
    ASSERT_EQ(req_bearer("GET", "/auth/v1/check", NULL, "not.a.token", &r), 0);
    ASSERT_EQ(r.status, 401);
    ASSERT_EQ(resp_header(&r, "WWW-Authenticate", v, sizeof(v)), 0);
    ASSERT_STR_EQ(v, "Bearer error=\"invalid_token\"");
    http_resp_free(&r);
    /* nginx's auth_request in front of a static area; nginx passes the
     * challenge of a 401 on. */
    ASSERT_EQ(http_get("/protected/index.json", &r), 0);
    ASSERT_EQ(r.status, 401);
    ASSERT_STR_CONTAINS(r.body, "no_authorization");
    ASSERT_EQ(resp_header(&r, "WWW-Authenticate", v, sizeof(v)), 0);
    ASSERT_STR_EQ(v, "Bearer");
    http_resp_free(&r);
    ASSERT_EQ(req_bearer("GET", "/protected/index.json", NULL, s.access, &r), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_CONTAINS(r.body, "only for signed-in users");
    http_resp_free(&r);
    ASSERT_EQ(admin_req("POST", "/auth/v1/logout", NULL, s.access, NULL), 204);
    ASSERT_EQ(req_bearer("GET", "/protected/index.json", NULL, s.access, &r), 0);
    ASSERT_EQ(r.status, 401);
    http_resp_free(&r);
}

/* The echo FastCGI app (tests/http/echo_fcgi) on the socket nginx's
 * /protected-fcgi/ location uses; its pid, or -1. */
static pid_t start_echo(void)
{
    char out[64];
    long pid = -1;
    if (sh_out("cd \"$UMS_ROOT\" && s=\"$UMS_STACK/run/echo-fcgi.sock\"; rm -f \"$s\"; "
               "u=$(sed -n 's/^user = //p' \"$UMS_CONFIG\"); "
               "g=$(sed -n 's/^socket_group = //p' \"$UMS_CONFIG\"); "
               "if [ -n \"$u\" ]; then o=\"-u $u -g $u -U $u -G ${g:-$u}\"; fi; "
               "spawn-fcgi -s \"$s\" -M 0660 $o -P \"$UMS_STACK/run/echo-fcgi.pid\" -- "
               "\"$UMS_BUILD_DIR/tests/http/echo_fcgi\" >/dev/null && "
               "cat \"$UMS_STACK/run/echo-fcgi.pid\"",
               out, sizeof(out)) == 0)
        pid = strtol(out, NULL, 10);
    return pid > 0 ? (pid_t)pid : -1;
}

CTEST(forward_auth, a_fastcgi_app_gets_only_the_identity_ums_vouched_for)
{
    /* The client sends its own X-User-* headers; with fastcgi_pass, nginx
     * passes client headers as HTTP_* parameters, so the snippet for
     * FastCGI must set those parameters itself. */
    char email[128], auth[4200];
    const char *spoof[] = {auth,
                           "X-User-Id: 00000000-0000-0000-0000-000000000000",
                           "X-User-Role: admin",
                           "X-User-Email: boss@example.com",
                           "X-Session-Id: forged",
                           NULL};
    struct session s;
    struct http_resp r;
    struct json_object *o;
    pid_t echo = start_echo();
    ASSERT_TRUE(echo > 0);
    new_email(email, sizeof(email), "fwd-fcgi");
    ASSERT_EQ(signup(email, "correct horse battery", &s), 0);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", s.access);
    int got = http_req("GET", "/protected-fcgi/page", spoof, NULL, 0, NULL, &r);
    int st = (int)r.status;
    o = got == 0 ? jparse(&r) : NULL;
    char uid[64] = "", role[32] = "", mail[160] = "", sid[64] = "";
    if (o != NULL) {
        snprintf(uid, sizeof(uid), "%s", jstr(o, "user_id") ? jstr(o, "user_id") : "");
        snprintf(role, sizeof(role), "%s", jstr(o, "user_role") ? jstr(o, "user_role") : "");
        snprintf(mail, sizeof(mail), "%s", jstr(o, "user_email") ? jstr(o, "user_email") : "");
        snprintf(sid, sizeof(sid), "%s", jstr(o, "session_id") ? jstr(o, "session_id") : "");
    }
    json_object_put(o);
    if (got == 0)
        http_resp_free(&r);
    /* Without a session, the spoofed headers get nothing at all. */
    int st_anon = -1;
    if (http_req("GET", "/protected-fcgi/page", spoof + 1, NULL, 0, NULL, &r) == 0) {
        st_anon = (int)r.status;
        http_resp_free(&r);
    }
    kill(echo, SIGTERM);
    ASSERT_EQ(st, 200);
    ASSERT_STR_EQ(uid, s.user_id);
    ASSERT_STR_EQ(role, "user");
    ASSERT_STR_EQ(mail, email);
    ASSERT_TRUE(strcmp(sid, "forged") != 0 && strlen(sid) == 36);
    ASSERT_EQ(st_anon, 401);
}

CTEST(confirm, confirm_first_mode)
{
    /* A second ums-fcgi (spawned mode) with require_email_confirmation on. */
    char sock[1024], email[128], body[512], otp[8] = "", *resp = NULL;
    pid_t pid =
        spawn_ums("confirm-test", "UMS_AUTH_REQUIRE_EMAIL_CONFIRMATION=true", sock, sizeof(sock));
    ASSERT_TRUE(pid > 0);
    new_email(email, sizeof(email), "confirm");
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"correct horse battery\"}",
             email);
    int st1 = raw_post(sock, "/auth/v1/signup", body, &resp);
    int bare =
        resp != NULL && strstr(resp, "\"access_token\"") == NULL && strstr(resp, "\"id\"") != NULL;
    char first_id[64] = "";
    if (resp != NULL && strstr(resp, "\"id\": \"") != NULL)
        snprintf(first_id, sizeof(first_id), "%.36s", strstr(resp, "\"id\": \"") + 7);
    free(resp);
    int st2 = raw_post(sock, "/auth/v1/token?grant_type=password", body, &resp);
    int not_confirmed = resp != NULL && strstr(resp, "email_not_confirmed") != NULL;
    free(resp);
    /* The same address again: a look-alike user, no error, no account leak. */
    int st3 = raw_post(sock, "/auth/v1/signup", body, &resp);
    int fake = resp != NULL && first_id[0] != '\0' && strstr(resp, first_id) == NULL &&
               strstr(resp, "\"access_token\"") == NULL;
    free(resp);
    int mailed = wait_mail(email, "user.registered", otp, NULL, NULL, 0) == 0;
    snprintf(body, sizeof(body), "{\"type\":\"signup\",\"email\":\"%s\",\"token\":\"%s\"}", email,
             otp);
    int st4 = raw_post(sock, "/auth/v1/verify", body, &resp);
    free(resp);
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"correct horse battery\"}",
             email);
    int st5 = raw_post(sock, "/auth/v1/token?grant_type=password", body, &resp);
    free(resp);
    stop_spawned(pid, sock);
    ASSERT_EQ(st1, 200);
    ASSERT_TRUE(bare);
    ASSERT_EQ(st2, 400);
    ASSERT_TRUE(not_confirmed);
    ASSERT_EQ(st3, 200);
    ASSERT_TRUE(fake);
    ASSERT_TRUE(mailed);
    ASSERT_EQ(st4, 200);
    ASSERT_EQ(st5, 200);
}

/* The body with every UUID and every RFC 3339 timestamp replaced by a
 * marker: what is left is the shape, byte for byte. Caller frees. */
static char *shape_of(const char *body)
{
    static const char *const pats[] = {
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?Z",
    };
    static const char *const marks[] = {"<uuid>", "<time>"};
    char *cur = strdup(body != NULL ? body : "");
    for (int k = 0; k < 2 && cur != NULL; k++) {
        regex_t re;
        regmatch_t m;
        struct buf out;
        const char *p = cur;
        if (regcomp(&re, pats[k], REG_EXTENDED) != 0)
            break;
        buf_init(&out, 1 << 20);
        while (regexec(&re, p, 1, &m, 0) == 0) {
            buf_add(&out, p, (size_t)m.rm_so);
            buf_adds(&out, marks[k]);
            p += m.rm_eo;
        }
        buf_adds(&out, p);
        regfree(&re);
        free(cur);
        cur = out.p != NULL ? out.p : strdup("");
    }
    return cur;
}

CTEST(confirm, a_taken_address_gets_a_user_of_the_same_shape)
{
    /* Confirmation required: sign-up answers a bare user, and for a taken
     * address a look-alike. Made by the same code, the two must differ only
     * in their ids and times. */
    char sock[1024], email[128], body[512], *a = NULL, *b = NULL, *sa, *sb;
    pid_t pid =
        spawn_ums("lookalike-test", "UMS_AUTH_REQUIRE_EMAIL_CONFIRMATION=true", sock, sizeof(sock));
    ASSERT_TRUE(pid > 0);
    new_email(email, sizeof(email), "lookalike");
    snprintf(body, sizeof(body),
             "{\"email\":\"%s\",\"password\":\"correct horse battery\","
             "\"data\":{\"name\":\"Ann\",\"plan\":\"pro\"}}",
             email);
    int st1 = raw_post(sock, "/auth/v1/signup", body, &a);
    int st2 = raw_post(sock, "/auth/v1/signup", body, &b);
    stop_spawned(pid, sock);
    ASSERT_EQ(st1, 200);
    ASSERT_EQ(st2, 200);
    sa = shape_of(a);
    sb = shape_of(b);
    if (strcmp(sa, sb) != 0)
        fprintf(stderr, "    real:      %s\n    look-alike: %s\n", sa, sb);
    int same = strcmp(sa, sb) == 0;
    int different_ids = strcmp(a, b) != 0;
    free(sa);
    free(sb);
    free(a);
    free(b);
    ASSERT_TRUE(same);
    ASSERT_TRUE(different_ids);
    /* No trace of the look-alike is left behind. */
    ASSERT_EQ(sql_long("SELECT count(*) FROM users WHERE email LIKE '%@lookalike.invalid'"), 0);
}

CTEST(audit, sign_ins_failures_and_locks_are_recorded_without_secrets)
{
    char email[128], cmd[1024], out[256];
    struct session s;
    new_email(email, sizeof(email), "audit");
    ASSERT_EQ(signup(email, "correct horse battery", &s), 0);
    ASSERT_EQ(login(email, "correct horse battery", src_for(40), NULL, NULL), 200);
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(login(email, "wrong password", src_for(40), NULL, NULL), 400);
    snprintf(cmd, sizeof(cmd),
             "psql -X -A -t \"$DATABASE_URL\" -c \"SELECT string_agg(DISTINCT action, ',' ORDER BY "
             "action) FROM audit_log WHERE target_id = '%s'\"",
             s.user_id);
    FILE *p = popen(cmd, "r");
    ASSERT_NOT_NULL(p);
    ASSERT_NOT_NULL(fgets(out, sizeof(out), p));
    pclose(p);
    ASSERT_STR_CONTAINS(out, "user.login,");
    ASSERT_STR_CONTAINS(out, "user.login_failed");
    ASSERT_STR_CONTAINS(out, "user.locked");
    ASSERT_STR_CONTAINS(out, "user.signup");
    ASSERT_EQ(sh("test \"$(psql -X -A -t \"$DATABASE_URL\" -c \"SELECT count(*) FROM audit_log "
                 "WHERE details::text ILIKE '%horse%' OR details::text ILIKE '%password\\\"%'\")\" "
                 "= 0"),
              0);
}
