/* test_users.c - black-box tests of the user service (/api/v1) through
 * nginx: who may do what, search and keyset pagination, profiles and their
 * cache, roles, status, deletion, sessions, audit, and hostile input. */
#define CTEST_MAIN
#include "../ctest.h"

#include <ctype.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "../../util/crypto.h"
#include <openssl/pem.h>

#include "../../util/b64.h"
#include "client.h"
#include "stack.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <time.h>

#include "../../util/b64.h"

/* The field named by a 400's errors[0], or "". */
static const char *err_field(const struct http_resp *r, char *out, size_t n)
{
    struct json_object *o = jparse(r), *errs, *e;
    out[0] = '\0';
    if (o != NULL && json_object_object_get_ex(o, "errors", &errs) &&
        json_object_array_length(errs) > 0 && (e = json_object_array_get_idx(errs, 0)) != NULL &&
        jstr(e, "field") != NULL)
        snprintf(out, n, "%s", jstr(e, "field"));
    json_object_put(o);
    return out;
}

static const char *service(void)
{
    return env_need("UMS_SERVICE_KEY");
}

/* A signed-up user with a session. */
static int user_new(struct session *s, char *email, size_t n, const char *tag)
{
    new_email(email, n, tag);
    return signup(email, "correct horse battery", s);
}

/* An admin made from the shell, signed in. */
static int admin_new(struct session *s, char *email, size_t n)
{
    return admin_signed_in(s, email, n, "uadmin");
}

/* GET path with a Bearer; the parsed body (caller puts) when status matches. */

/* The token `valid` with its exp and iat moved an hour into the past,
 * signed again with the stack's key: well-formed, correctly signed, expired. */
static int forge_expired(const char *valid, char *out, size_t n)
{
    const char *dot1 = strchr(valid, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    unsigned char raw[4096], sig[512];
    char seg[8192], sig64[1024], path[512];
    long len;
    size_t siglen = sizeof(sig);
    struct json_object *o;
    EVP_PKEY *key = NULL;
    EVP_MD_CTX *ctx = NULL;
    FILE *f;
    int ok = 0;

    if (dot2 == NULL)
        return -1;
    len = b64_url_decode(raw, sizeof(raw) - 1, dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (len <= 0)
        return -1;
    raw[len] = '\0';
    o = json_tokener_parse((const char *)raw);
    if (o == NULL)
        return -1;
    json_object_object_add(o, "exp", json_object_new_int64((int64_t)time(NULL) - 3600));
    json_object_object_add(o, "iat", json_object_new_int64((int64_t)time(NULL) - 4500));
    snprintf(seg, sizeof(seg), "%.*s.", (int)(dot1 - valid), valid);
    b64_url_encode(seg + strlen(seg), (const unsigned char *)json_object_to_json_string(o),
                   strlen(json_object_to_json_string(o)));
    json_object_put(o);
    snprintf(path, sizeof(path), "%s/keys/jwt-private.pem", env_need("UMS_STACK"));
    if ((f = fopen(path, "r")) != NULL) {
        key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
    }
    ctx = EVP_MD_CTX_new();
    ok = key != NULL && ctx != NULL &&
         EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
         EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)seg, strlen(seg)) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    if (!ok)
        return -1;
    b64_url_encode(sig64, sig, siglen);
    return snprintf(out, n, "%s.%s", seg, sig64) < (int)n ? 0 : -1;
}

/* An /api/v1 401 with its RFC 6750 challenge. */
#define ASSERT_API_401(resp, code_, challenge_)                                                    \
    do {                                                                                           \
        char wa_[128] = "";                                                                        \
        ASSERT_ERROR(resp, ERR_API, 401, code_);                                                   \
        ASSERT_EQ(resp_header(&(resp), "WWW-Authenticate", wa_, sizeof(wa_)), 0);                  \
        ASSERT_STR_EQ(wa_, challenge_);                                                            \
    } while (0)

#define INVALID_TOKEN "Bearer error=\"invalid_token\""

CTEST(access, dead_credentials_are_401_with_a_challenge)
{
    struct session u, v, w, adm;
    char e[128], tok[4096], path[256];
    const char *basic[] = {"Authorization: Basic dXNlcjpwdw==", NULL};
    struct http_resp r;

    ASSERT_EQ(user_new(&u, e, sizeof(e), "dead-u"), 0);
    ASSERT_EQ(user_new(&v, e, sizeof(e), "dead-v"), 0);
    ASSERT_EQ(user_new(&w, e, sizeof(e), "dead-w"), 0);
    ASSERT_EQ(admin_new(&adm, e, sizeof(e)), 0);
    /* No credentials, or not a Bearer: a bare challenge. */
    ASSERT_EQ(http_get("/api/v1/users/me", &r), 0);
    ASSERT_API_401(r, "no_authorization", "Bearer");
    http_resp_free(&r);
    ASSERT_EQ(http_req("GET", "/api/v1/users/me", basic, NULL, 0, NULL, &r), 0);
    ASSERT_API_401(r, "no_authorization", "Bearer");
    http_resp_free(&r);
    /* Malformed, badly signed, expired. */
    ASSERT_EQ(admin_req("GET", "/api/v1/users/me", NULL, "not.a.token", &r), 401);
    ASSERT_API_401(r, "bad_jwt", INVALID_TOKEN);
    http_resp_free(&r);
    snprintf(tok, sizeof(tok), "%s", u.access);
    tok[strlen(tok) - 3] = tok[strlen(tok) - 3] == 'A' ? 'B' : 'A';
    ASSERT_EQ(admin_req("GET", "/api/v1/users/me", NULL, tok, &r), 401);
    ASSERT_API_401(r, "bad_jwt", INVALID_TOKEN);
    http_resp_free(&r);
    ASSERT_EQ(forge_expired(u.access, tok, sizeof(tok)), 0);
    ASSERT_EQ(admin_req("GET", "/api/v1/users/me", NULL, tok, &r), 401);
    ASSERT_API_401(r, "bad_jwt", INVALID_TOKEN);
    http_resp_free(&r);
    /* The forged token differs from the real one only in its times. */
    ASSERT_EQ(admin_req("GET", "/api/v1/users/me", NULL, u.access, NULL), 200);
    /* A live caller without the right: 403, on other users and admin routes. */
    snprintf(path, sizeof(path), "/api/v1/users/%s", v.user_id);
    ASSERT_EQ(admin_req("GET", path, NULL, u.access, &r), 403);
    ASSERT_ERROR(r, ERR_API, 403, "forbidden");
    http_resp_free(&r);
    ASSERT_EQ(admin_req("GET", "/api/v1/audit", NULL, u.access, &r), 403);
    ASSERT_ERROR(r, ERR_API, 403, "forbidden");
    http_resp_free(&r);
    /* The service key is good but is not a user: 403 on a user's inbox. */
    snprintf(path, sizeof(path), "/api/v1/users/%s/notifications", v.user_id);
    ASSERT_EQ(admin_req("GET", path, NULL, service(), &r), 403);
    ASSERT_ERROR(r, ERR_API, 403, "forbidden");
    http_resp_free(&r);
    /* Revoked: signed out. */
    ASSERT_EQ(admin_req("POST", "/auth/v1/logout", NULL, u.access, NULL), 204);
    ASSERT_EQ(admin_req("GET", "/api/v1/users/me", NULL, u.access, &r), 401);
    ASSERT_API_401(r, "session_not_found", INVALID_TOKEN);
    http_resp_free(&r);
    /* Suspended (its sessions end with it). */
    snprintf(path, sizeof(path), "/api/v1/users/%s", v.user_id);
    ASSERT_EQ(admin_req("PATCH", path, "{\"status\":\"suspended\"}", adm.access, NULL), 200);
    ASSERT_EQ(admin_req("GET", "/api/v1/users/me", NULL, v.access, &r), 401);
    ASSERT_API_401(r, "session_not_found", INVALID_TOKEN);
    http_resp_free(&r);
    /* Deleted. */
    ASSERT_EQ(admin_req("DELETE", "/api/v1/users/me", NULL, w.access, NULL), 204);
    snprintf(path, sizeof(path), "/api/v1/users/%s/profile", w.user_id);
    ASSERT_EQ(admin_req("GET", path, NULL, w.access, &r), 401);
    ASSERT_API_401(r, "session_not_found", INVALID_TOKEN);
    http_resp_free(&r);
}

CTEST(access, who_may_call_what)
{
    struct session a, b, adm;
    char ea[128], eb[128], ead[128], path[256];
    struct http_resp r;

    ASSERT_EQ(user_new(&a, ea, sizeof(ea), "acc-a"), 0);
    ASSERT_EQ(user_new(&b, eb, sizeof(eb), "acc-b"), 0);
    ASSERT_EQ(admin_new(&adm, ead, sizeof(ead)), 0);

    ASSERT_EQ(http_get("/api/v1/users/me", &r), 0);
    ASSERT_ERROR(r, ERR_API, 401, "no_authorization");
    http_resp_free(&r);
    ASSERT_EQ(admin_req("GET", "/api/v1/users/me", NULL, "not.a.token", &r), 401);
    ASSERT_ERROR(r, ERR_API, 401, "bad_jwt");
    http_resp_free(&r);
    /* me, and one's own id */
    ASSERT_EQ(admin_req("GET", "/api/v1/users/me", NULL, a.access, NULL), 200);
    snprintf(path, sizeof(path), "/api/v1/users/%s", a.user_id);
    ASSERT_EQ(admin_req("GET", path, NULL, a.access, NULL), 200);
    /* Another user's record: 403, and the same for an id that does not exist. */
    snprintf(path, sizeof(path), "/api/v1/users/%s", b.user_id);
    ASSERT_EQ(admin_req("GET", path, NULL, a.access, &r), 403);
    ASSERT_ERROR(r, ERR_API, 403, "forbidden");
    http_resp_free(&r);
    ASSERT_EQ(admin_req("GET", "/api/v1/users/00000000-0000-4000-8000-000000000000", NULL, a.access,
                        NULL),
              403);
    ASSERT_EQ(admin_req("PATCH", path, "{\"name\":\"x\"}", a.access, NULL), 403);
    ASSERT_EQ(admin_req("DELETE", path, NULL, a.access, NULL), 403);
    snprintf(path, sizeof(path), "/api/v1/users/%s/sessions", b.user_id);
    ASSERT_EQ(admin_req("GET", path, NULL, a.access, NULL), 403);
    /* Admin-only routes */
    ASSERT_EQ(admin_req("GET", "/api/v1/users", NULL, a.access, &r), 403);
    ASSERT_ERROR(r, ERR_API, 403, "forbidden");
    http_resp_free(&r);
    ASSERT_EQ(admin_req("GET", "/api/v1/audit", NULL, a.access, NULL), 403);
    snprintf(path, sizeof(path), "/api/v1/users/%s/role", b.user_id);
    ASSERT_EQ(admin_req("PUT", path, "{\"role\":\"admin\"}", a.access, NULL), 403);
    /* Admins and the service key may. */
    snprintf(path, sizeof(path), "/api/v1/users/%s", b.user_id);
    ASSERT_EQ(admin_req("GET", path, NULL, adm.access, NULL), 200);
    ASSERT_EQ(admin_req("GET", path, NULL, service(), NULL), 200);
    ASSERT_EQ(admin_req("GET", "/api/v1/users?limit=1", NULL, service(), NULL), 200);
    /* The service key has no "me". */
    ASSERT_EQ(admin_req("GET", "/api/v1/users/me", NULL, service(), NULL), 400);
    /* An admin asking for a user that does not exist gets 404. */
    ASSERT_EQ(admin_req("GET", "/api/v1/users/00000000-0000-4000-8000-000000000000", NULL,
                        adm.access, &r),
              404);
    ASSERT_ERROR(r, ERR_API, 404, "not_found");
    http_resp_free(&r);
}

CTEST(access, non_uuid_ids_are_400)
{
    static const char *const bad[] = {
        "abc", "1", "00000000-0000-0000-0000-00000000000g", "%27%20OR%201=1--", "ME", "%2e%2e"};
    char path[256], f[64];
    struct http_resp r;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(path, sizeof(path), "/api/v1/users/%s", bad[i]);
        ASSERT_EQ(admin_req("GET", path, NULL, service(), &r), 400);
        ASSERT_ERROR(r, ERR_API, 400, "validation_failed");
        ASSERT_STR_EQ(err_field(&r, f, sizeof(f)), "id");
        http_resp_free(&r);
    }
}

/* Makes n users whose names start with tag (through the admin API). */
static int make_named(const char *tag, int n, char ids[][40])
{
    for (int i = 0; i < n; i++) {
        char body[512], email[128];
        struct http_resp r;
        struct json_object *o;
        new_email(email, sizeof(email), tag);
        snprintf(
            body, sizeof(body),
            "{\"email\":\"%s\",\"name\":\"%s Person %02d\",\"password\":\"a fine passphrase\"}",
            email, tag, i);
        if (admin_req("POST", "/api/v1/users", body, service(), &r) != 201) {
            fprintf(stderr, "create: %ld %s\n", r.status, r.body);
            http_resp_free(&r);
            return -1;
        }
        o = jparse(&r);
        snprintf(ids[i], 40, "%s", jstr(o, "id") ? jstr(o, "id") : "");
        json_object_put(o);
        http_resp_free(&r);
    }
    return 0;
}

/* Pages through path (which has a query) with limit 3; counts how often
 * each of ids appears and whether anything appears twice. */
static int page_all(const char *path, char ids[][40], int n, int seen[], int *pages)
{
    char url[2048], cursor[1024] = "";
    int dup = 0, total = 0;
    *pages = 0;
    for (int guard = 0; guard < 100; guard++) {
        struct json_object *o, *data, *nc;
        snprintf(url, sizeof(url), "%s&limit=3%s%s", path, cursor[0] ? "&cursor=" : "", cursor);
        o = get_json(url, service(), 200);
        if (o == NULL || !json_object_object_get_ex(o, "data", &data))
            return -1;
        (*pages)++;
        for (size_t i = 0; i < json_object_array_length(data); i++) {
            const char *id = jstr(json_object_array_get_idx(data, i), "id");
            total++;
            for (int k = 0; id != NULL && k < n; k++)
                if (strcmp(id, ids[k]) == 0)
                    dup |= seen[k]++ > 0;
        }
        if (!json_object_object_get_ex(o, "next_cursor", &nc) || nc == NULL) {
            json_object_put(o);
            return dup ? -2 : total;
        }
        snprintf(cursor, sizeof(cursor), "%s", json_object_get_string(nc));
        json_object_put(o);
    }
    return -1;
}

/* A body with several bad members: one 400 through nginx that lists each,
 * in the order the route declares them, and nothing is created. */
CTEST(validation, one_400_lists_every_bad_member)
{
    static const struct {
        const char *field, *code;
    } want[] = {{"email", "required"},
                {"password", "invalid_type"},
                {"name", "invalid"},
                {"role", "invalid"},
                {"status", "invalid"}};
    struct http_resp r;
    struct json_object *o, *errs;

    ASSERT_EQ(admin_req("POST", "/api/v1/users",
                        "{\"password\":7,\"name\":\"\",\"role\":\"emperor\",\"status\":\"gone\"}",
                        service(), &r),
              400);
    ASSERT_ERROR(r, ERR_API, 400, "validation_failed");
    o = jparse(&r);
    ASSERT_NOT_NULL(o);
    ASSERT_TRUE(json_object_object_get_ex(o, "errors", &errs));
    ASSERT_EQ(json_object_array_length(errs), sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        struct json_object *e = json_object_array_get_idx(errs, i);
        ASSERT_STR_EQ(jstr(e, "field"), want[i].field);
        ASSERT_STR_EQ(jstr(e, "code"), want[i].code);
    }
    json_object_put(o);
    http_resp_free(&r);
    /* An address over 255 bytes is too long, before any other rule. */
    {
        char body[600];
        snprintf(body, sizeof(body), "{\"email\":\"%0300d@example.com\",\"name\":\"Long\"}", 0);
        ASSERT_EQ(admin_req("POST", "/api/v1/users", body, service(), &r), 400);
        o = jparse(&r);
        ASSERT_TRUE(o != NULL && json_object_object_get_ex(o, "errors", &errs));
        ASSERT_EQ(json_object_array_length(errs), 1);
        ASSERT_STR_EQ(jstr(json_object_array_get_idx(errs, 0), "field"), "email");
        ASSERT_STR_EQ(jstr(json_object_array_get_idx(errs, 0), "code"), "too_long");
        json_object_put(o);
        http_resp_free(&r);
    }
    /* A device with both members wrong: both listed. */
    {
        struct session a;
        char email[128];
        ASSERT_EQ(user_new(&a, email, sizeof(email), "fields"), 0);
        ASSERT_EQ(admin_req("POST", "/api/v1/users/me/devices",
                            "{\"token\":\"\",\"platform\":\"symbian\"}", a.access, &r),
                  400);
        o = jparse(&r);
        ASSERT_TRUE(o != NULL && json_object_object_get_ex(o, "errors", &errs));
        ASSERT_EQ(json_object_array_length(errs), 2);
        ASSERT_STR_EQ(jstr(json_object_array_get_idx(errs, 0), "field"), "token");
        ASSERT_STR_EQ(jstr(json_object_array_get_idx(errs, 1), "field"), "platform");
        json_object_put(o);
        http_resp_free(&r);
    }
}

CTEST(search, prefix_substring_filters_and_keyset_pages)
{
    char tag[32], ids[7][40], path[512], more[2][40];
    int seen[7] = {0}, pages, total;
    unsigned r = (unsigned)getpid() * 2654435761u;
    struct json_object *o, *data, *v;

    snprintf(tag, sizeof(tag), "Zq%06x", r & 0xffffff);
    ASSERT_EQ(make_named(tag, 7, ids), 0);
    /* Prefix of the name, case-insensitive; 7 across 3 pages, each once. */
    snprintf(path, sizeof(path), "/api/v1/users?q=%s&sort=name", tag);
    for (char *p = path + strlen("/api/v1/users?q="); *p != '&'; p++)
        *p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p); /* lower-cased query */
    total = page_all(path, ids, 7, seen, &pages);
    ASSERT_EQ(total, 7);
    ASSERT_EQ(pages, 3);
    for (int i = 0; i < 7; i++)
        ASSERT_EQ(seen[i], 1);
    /* Sorted by name: the first page is Person 00..02. */
    snprintf(path, sizeof(path), "/api/v1/users?q=%s&sort=name&limit=3&include_total=true", tag);
    o = get_json(path, service(), 200);
    ASSERT_NOT_NULL(o);
    ASSERT_TRUE(json_object_object_get_ex(o, "data", &data));
    ASSERT_STR_EQ(jstr(json_object_array_get_idx(data, 0), "id"), ids[0]);
    ASSERT_STR_EQ(jstr(json_object_array_get_idx(data, 2), "id"), ids[2]);
    ASSERT_TRUE(json_object_object_get_ex(o, "total", &v));
    ASSERT_EQ(json_object_get_int(v), 7);
    json_object_put(o);
    /* Substring: the middle of the tag. */
    snprintf(path, sizeof(path), "/api/v1/users?q=*%.5s*&limit=100", tag + 2);
    o = get_json(path, service(), 200);
    ASSERT_NOT_NULL(o);
    ASSERT_TRUE(json_object_object_get_ex(o, "data", &data));
    ASSERT_TRUE(json_object_array_length(data) >= 7);
    json_object_put(o);
    /* Newest first is stable while users are added between pages: the new
     * ones are not on later pages and nothing repeats. */
    memset(seen, 0, sizeof(seen));
    {
        char url[2200], cursor[1024];
        int count = 0, dup = 0;
        snprintf(url, sizeof(url), "/api/v1/users?q=%s&limit=4", tag);
        o = get_json(url, service(), 200);
        ASSERT_NOT_NULL(o);
        ASSERT_TRUE(json_object_object_get_ex(o, "next_cursor", &v) && v != NULL);
        snprintf(cursor, sizeof(cursor), "%s", json_object_get_string(v));
        json_object_object_get_ex(o, "data", &data);
        for (size_t i = 0; i < json_object_array_length(data); i++)
            for (int k = 0; k < 7; k++)
                if (strcmp(jstr(json_object_array_get_idx(data, i), "id"), ids[k]) == 0)
                    dup |= seen[k]++ > 0, count++;
        json_object_put(o);
        ASSERT_EQ(make_named(tag, 2, more), 0);
        snprintf(url, sizeof(url), "/api/v1/users?q=%s&limit=4&cursor=%s", tag, cursor);
        o = get_json(url, service(), 200);
        ASSERT_NOT_NULL(o);
        json_object_object_get_ex(o, "data", &data);
        for (size_t i = 0; i < json_object_array_length(data); i++) {
            const char *id = jstr(json_object_array_get_idx(data, i), "id");
            ASSERT_TRUE(strcmp(id, more[0]) != 0 && strcmp(id, more[1]) != 0);
            for (int k = 0; k < 7; k++)
                if (strcmp(id, ids[k]) == 0)
                    dup |= seen[k]++ > 0, count++;
        }
        json_object_put(o);
        ASSERT_EQ(dup, 0);
        ASSERT_EQ(count, 7);
    }
    /* Filters: role and status and a time window that excludes them. */
    snprintf(path, sizeof(path), "/api/v1/users?q=%s&role=admin", tag);
    o = get_json(path, service(), 200);
    ASSERT_NOT_NULL(o);
    json_object_object_get_ex(o, "data", &data);
    ASSERT_EQ((int)json_object_array_length(data), 0);
    json_object_put(o);
    snprintf(path, sizeof(path),
             "/api/v1/users?q=%s&status=active&created_after=2000-01-01T00:00:00Z"
             "&created_before=2000-01-02",
             tag);
    o = get_json(path, service(), 200);
    ASSERT_NOT_NULL(o);
    json_object_object_get_ex(o, "data", &data);
    ASSERT_EQ((int)json_object_array_length(data), 0);
    json_object_put(o);
    /* Confirmed or not: one of the tag's users is, the others are not. */
    snprintf(path, sizeof(path),
             "UPDATE users SET email_confirmed_at = CASE WHEN id = '%s' THEN now() END"
             " WHERE name LIKE '%s %%'",
             ids[3], tag);
    ASSERT_EQ(sql_run(path), 0);
    snprintf(path, sizeof(path), "SELECT count(*) FROM users WHERE name LIKE '%s %%'", tag);
    long all = sql_long(path);
    ASSERT_TRUE(all >= 7 && all <= 20);
    for (int want = 0; want < 2; want++) {
        snprintf(path, sizeof(path), "/api/v1/users?q=%s&confirmed=%s", tag,
                 want ? "true" : "false");
        o = get_json(path, service(), 200);
        ASSERT_NOT_NULL(o);
        json_object_object_get_ex(o, "data", &data);
        int n = (int)json_object_array_length(data), has3 = 0;
        for (int i = 0; i < n; i++)
            has3 |= strcmp(jstr(json_object_array_get_idx(data, i), "id"), ids[3]) == 0;
        json_object_put(o);
        int expect = want ? 1 : (int)all - 1;
        ASSERT_EQ(n, expect);
        ASSERT_EQ(has3, want);
    }
    snprintf(path, sizeof(path), "/api/v1/users?q=%s&confirmed=maybe", tag);
    ASSERT_EQ(admin_req("GET", path, NULL, service(), NULL), 400);
}

CTEST(search, hostile_parameters)
{
    static const struct {
        const char *query;
        const char *field;
    } bad[] = {
        {"limit=0", "limit"},
        {"limit=-1", "limit"},
        {"limit=1e9", "limit"},
        {"limit=abc", "limit"},
        {"limit=101", "limit"},
        {"limit=99999999999999999999", "limit"},
        {"sort=password_hash", "sort"},
        {"sort=created_at%3B%20DROP%20TABLE%20users", "sort"},
        {"sort=email%20DESC", "sort"},
        {"created_after=yesterday", "created_after"},
        {"created_after=2026-13-01", "created_after"},
        {"created_after=2026-02-31", "created_after"}, /* PostgreSQL would refuse it */
        {"created_after=2026-+1-02", "created_after"},
        {"created_before=2026-01-02T03:04:05%2B16:00", "created_before"},
        {"created_before=1%27%20OR%20%271%27=%271", "created_before"},
        {"role=superuser", "role"},
        {"role=admin%27--", "role"},
        {"status=deleted", "status"},
        {"cursor=abc", "cursor"},
        {"cursor=eyJpZCI6MX0.AAAAAAAAAAAAAAAAAAAAAA", "cursor"},
        {"include_total=yes", "include_total"},
        {"q=%FF%FE", "q"},
        {"q=*%25*", "q"},
        {"q=*_*", "q"},
        {"q=*ab*", "q"},
        {"q=*%25%25%25%25*", "q"},
    };
    char path[512], f[64];
    struct http_resp r;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(path, sizeof(path), "/api/v1/users?%s", bad[i].query);
        ASSERT_EQ(admin_req("GET", path, NULL, service(), &r), 400);
        ASSERT_ERROR(r, ERR_API, 400, "validation_failed");
        if (strcmp(err_field(&r, f, sizeof(f)), bad[i].field) != 0)
            CTEST_FAIL_("%s: field %s, want %s", bad[i].query, f, bad[i].field);
        http_resp_free(&r);
    }
    /* LIKE metacharacters and quotes are literal text, not wildcards. */
    static const char *const lit[] = {
        "%25",       "_",       "%5C",         "%27",     "%22",
        "%25%25%25", "a_b%25c", "*%25zzq%25*", "*zzq_x*", "%27%3B%20DELETE%20FROM%20users%3B--"};
    for (size_t i = 0; i < sizeof(lit) / sizeof(lit[0]); i++) {
        struct json_object *o, *data;
        snprintf(path, sizeof(path), "/api/v1/users?q=%s", lit[i]);
        o = get_json(path, service(), 200);
        ASSERT_NOT_NULL(o);
        ASSERT_TRUE(json_object_object_get_ex(o, "data", &data));
        ASSERT_EQ((int)json_object_array_length(data), 0);
        json_object_put(o);
    }
    /* 10 KiB of q: refused, never a 500. */
    {
        char *big = malloc(10 * 1024 + 64);
        ASSERT_NOT_NULL(big);
        memcpy(big, "/api/v1/users?q=", sizeof("/api/v1/users?q="));
        memset(big + strlen(big), 'a', 10 * 1024);
        big[16 + 10 * 1024] = '\0';
        long st = admin_req("GET", big, NULL, service(), &r);
        ASSERT_TRUE(st == 400 || st == 414);
        http_resp_free(&r);
        free(big);
    }
    /* A tampered cursor: one character of a real one changed. */
    {
        struct json_object *o = get_json("/api/v1/users?limit=1", service(), 200), *nc;
        char cur[1024], url[1200];
        ASSERT_NOT_NULL(o);
        ASSERT_TRUE(json_object_object_get_ex(o, "next_cursor", &nc) && nc != NULL);
        snprintf(cur, sizeof(cur), "%s", json_object_get_string(nc));
        json_object_put(o);
        cur[3] = cur[3] == 'A' ? 'B' : 'A';
        snprintf(url, sizeof(url), "/api/v1/users?limit=1&cursor=%s", cur);
        ASSERT_EQ(admin_req("GET", url, NULL, service(), &r), 400);
        ASSERT_STR_EQ(err_field(&r, f, sizeof(f)), "cursor");
        http_resp_free(&r);
        /* The cursor of one sort is not accepted for another. */
        snprintf(cur, sizeof(cur), "%s", "");
        o = get_json("/api/v1/users?limit=1&sort=email", service(), 200);
        ASSERT_NOT_NULL(o);
        ASSERT_TRUE(json_object_object_get_ex(o, "next_cursor", &nc) && nc != NULL);
        snprintf(url, sizeof(url), "/api/v1/users?limit=1&sort=name&cursor=%s",
                 json_object_get_string(nc));
        json_object_put(o);
        ASSERT_EQ(admin_req("GET", url, NULL, service(), &r), 400);
        http_resp_free(&r);
    }
}

CTEST(profile, public_fields_validation_and_cache)
{
    struct session a, b;
    char ea[128], eb[128], path[256], f[64];
    struct http_resp r;
    struct json_object *o, *v;

    ASSERT_EQ(user_new(&a, ea, sizeof(ea), "prof-a"), 0);
    ASSERT_EQ(user_new(&b, eb, sizeof(eb), "prof-b"), 0);
    ASSERT_EQ(admin_req("PATCH", "/api/v1/users/me/profile",
                        "{\"bio\":\"Hello \\u00e9t\\u00e9\",\"timezone\":\"Europe/Paris\","
                        "\"preferences\":{\"theme\":\"dark\"},"
                        "\"avatar_url\":\"https://cdn.example.com/a.png\"}",
                        a.access, &r),
              200);
    http_resp_free(&r);
    /* Warm the cache, change, read again: the change shows at once. */
    o = get_json("/api/v1/users/me", a.access, 200);
    json_object_put(o);
    ASSERT_EQ(admin_req("PATCH", "/api/v1/users/me/profile", "{\"timezone\":\"America/New_York\"}",
                        a.access, NULL),
              200);
    o = get_json("/api/v1/users/me", a.access, 200);
    ASSERT_NOT_NULL(o);
    ASSERT_TRUE(json_object_object_get_ex(o, "profile", &v));
    ASSERT_STR_EQ(jstr(v, "timezone"), "America/New_York");
    ASSERT_STR_EQ(jstr(v, "bio"), "Hello \xc3\xa9t\xc3\xa9");
    json_object_put(o);
    /* Another user sees the public fields only. */
    snprintf(path, sizeof(path), "/api/v1/users/%s/profile", a.user_id);
    o = get_json(path, b.access, 200);
    ASSERT_NOT_NULL(o);
    ASSERT_STR_EQ(jstr(o, "timezone"), "America/New_York");
    ASSERT_FALSE(json_object_object_get_ex(o, "preferences", &v));
    json_object_put(o);
    o = get_json(path, a.access, 200);
    ASSERT_NOT_NULL(o);
    ASSERT_TRUE(json_object_object_get_ex(o, "preferences", &v));
    json_object_put(o);
    ASSERT_EQ(admin_req("PATCH", path, "{\"bio\":\"mine now\"}", b.access, NULL), 403);
    /* Bad values */
    static const struct {
        const char *body;
        const char *field;
    } bad[] = {
        {"{\"timezone\":\"Mars/Olympus\"}", "timezone"},
        {"{\"timezone\":\"../../etc/passwd\"}", "timezone"},
        {"{\"timezone\":\"Europe\"}", "timezone"},
        {"{\"timezone\":42}", "timezone"},
        {"{\"preferences\":[1,2]}", "preferences"},
        {"{\"preferences\":\"dark\"}", "preferences"},
        {"{\"avatar_url\":\"javascript:alert(1)\"}", "avatar_url"},
        {"{\"role\":\"admin\"}", "role"},
        {"{\"bio\":\"a\\u0000b\"}", ""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ASSERT_EQ(admin_req("PATCH", "/api/v1/users/me/profile", bad[i].body, a.access, &r), 400);
        if (bad[i].field[0] != '\0' && strcmp(err_field(&r, f, sizeof(f)), bad[i].field) != 0)
            CTEST_FAIL_("%s: field %s", bad[i].body, f);
        http_resp_free(&r);
    }
    /* bio: 500 characters (of 2 bytes each) pass, 501 do not. */
    {
        char body[2200];
        size_t n = 0;
        n += (size_t)snprintf(body, sizeof(body), "{\"bio\":\"");
        for (int i = 0; i < 500; i++)
            body[n++] = '\xc3', body[n++] = '\xa9';
        snprintf(body + n, sizeof(body) - n, "\"}");
        ASSERT_EQ(admin_req("PATCH", "/api/v1/users/me/profile", body, a.access, NULL), 200);
        snprintf(body + n, sizeof(body) - n, "x\"}");
        ASSERT_EQ(admin_req("PATCH", "/api/v1/users/me/profile", body, a.access, &r), 400);
        ASSERT_STR_EQ(err_field(&r, f, sizeof(f)), "bio");
        http_resp_free(&r);
    }
    /* preferences over 16 KiB: 400; a 1 MiB body: 413 from the web server. */
    {
        size_t big = 20 * 1024, huge = 1024 * 1024 + 100;
        char *body = malloc(huge + 64);
        ASSERT_NOT_NULL(body);
        int n = snprintf(body, 64, "{\"preferences\":{\"k\":\"");
        memset(body + n, 'x', big);
        memcpy(body + n + big, "\"}}", sizeof("\"}}"));
        ASSERT_EQ(admin_req("PATCH", "/api/v1/users/me/profile", body, a.access, &r), 400);
        ASSERT_STR_EQ(err_field(&r, f, sizeof(f)), "preferences");
        http_resp_free(&r);
        memset(body + n, 'x', huge);
        memcpy(body + n + huge, "\"}}", sizeof("\"}}"));
        ASSERT_EQ(admin_req("PATCH", "/api/v1/users/me/profile", body, a.access, &r), 413);
        ASSERT_ERROR(r, ERR_API, 413, "request_too_large");
        http_resp_free(&r);
        free(body);
    }
    /* Wrong types, malformed JSON and invalid UTF-8 in a name. */
    ASSERT_EQ(admin_req("PATCH", "/api/v1/users/me", "{\"name\":[]}", a.access, NULL), 400);
    ASSERT_EQ(admin_req("PATCH", "/api/v1/users/me", "{\"name\":", a.access, &r), 400);
    ASSERT_ERROR(r, ERR_API, 400, "bad_json");
    http_resp_free(&r);
    ASSERT_EQ(admin_req("PATCH", "/api/v1/users/me", "{\"name\":\"\xff\xfe\"}", a.access, NULL),
              400);
    ASSERT_EQ(admin_req("PATCH", "/api/v1/users/me", "{\"name\":\"Robert'); DROP TABLE users;--\"}",
                        a.access, NULL),
              200);
    o = get_json("/api/v1/users/me", a.access, 200);
    ASSERT_NOT_NULL(o);
    ASSERT_STR_EQ(jstr(o, "name"), "Robert'); DROP TABLE users;--");
    json_object_put(o);
}

CTEST(profile, reads_work_with_redis_stopped)
{
    struct session a;
    char ea[128];
    pid_t redis = stack_pid("redis");
    ASSERT_EQ(user_new(&a, ea, sizeof(ea), "prof-redis"), 0);
    ASSERT_TRUE(redis > 0);
    ASSERT_EQ(kill(redis, SIGTERM), 0);
    ASSERT_EQ(wait_status("/readyz", 503, 10), 0);
    long st1 = admin_req("GET", "/api/v1/users/me", NULL, a.access, NULL);
    long st2 =
        admin_req("PATCH", "/api/v1/users/me/profile", "{\"bio\":\"no cache\"}", a.access, NULL);
    struct json_object *o = get_json("/api/v1/users/me/profile", a.access, 200);
    int restarted = sh("./scripts/up >/dev/null") == 0 && wait_status("/readyz", 200, 10) == 0;
    ASSERT_TRUE(restarted);
    ASSERT_EQ(st1, 200);
    ASSERT_EQ(st2, 200);
    ASSERT_NOT_NULL(o);
    ASSERT_STR_EQ(jstr(o, "bio"), "no cache");
    json_object_put(o);
}

CTEST(profile, an_upper_case_id_is_the_same_user_and_cache_entry)
{
    struct session a;
    char ea[128], upper[64], path[128];
    struct json_object *o;
    ASSERT_EQ(user_new(&a, ea, sizeof(ea), "upper-id"), 0);
    snprintf(upper, sizeof(upper), "%s", a.user_id);
    for (char *c = upper; *c != '\0'; c++)
        *c = (char)toupper((unsigned char)*c);
    snprintf(path, sizeof(path), "/api/v1/users/%s", upper);
    o = get_json(path, service(), 200); /* cached under the upper-case id before */
    ASSERT_NOT_NULL(o);
    ASSERT_STR_EQ(jstr(o, "id"), a.user_id);
    json_object_put(o);
    ASSERT_EQ(admin_req("PATCH", "/api/v1/users/me", "{\"name\":\"Renamed\"}", a.access, NULL),
              200);
    o = get_json(path, service(), 200);
    ASSERT_NOT_NULL(o);
    ASSERT_STR_EQ(jstr(o, "name"), "Renamed"); /* not a stale copy */
    json_object_put(o);
    /* And the owner is the owner, however the id is written. */
    ASSERT_EQ(admin_req("GET", path, NULL, a.access, NULL), 200);
}

CTEST(search, pages_sorted_by_the_longest_names)
{
    /* 100 four-byte characters: a 400-byte name as the last of a page. */
    char name[512], body[1024], tag[32], q[64], path[1400], cursor[1200];
    unsigned r;
    struct json_object *o;
    getrandom(&r, sizeof(r), 0);
    snprintf(tag, sizeof(tag), "zlong%08x", r);
    for (int k = 0; k < 2; k++) {
        int n = snprintf(name, sizeof(name), "%s%d", tag, k);
        for (int i = n; i < 100; i++)
            n += snprintf(name + n, sizeof(name) - (size_t)n, "\xf0\x9d\x94\xb8"); /* U+1D538 */
        snprintf(body, sizeof(body),
                 "{\"email\":\"%s-%d@example.com\",\"name\":\"%s\",\"password\":\"long names "
                 "here\"}",
                 tag, k, name);
        ASSERT_EQ(admin_req("POST", "/api/v1/users", body, service(), NULL), 201);
    }
    snprintf(q, sizeof(q), "%s", tag);
    snprintf(path, sizeof(path), "/api/v1/users?q=%s&sort=name&limit=1", q);
    o = get_json(path, service(), 200);
    ASSERT_NOT_NULL(o);
    ASSERT_NOT_NULL(jstr(o, "next_cursor"));
    snprintf(cursor, sizeof(cursor), "%s", jstr(o, "next_cursor"));
    json_object_put(o);
    snprintf(path, sizeof(path), "/api/v1/users?q=%s&sort=name&limit=1&cursor=%s", q, cursor);
    o = get_json(path, service(), 200);
    ASSERT_NOT_NULL(o);
    json_object_put(o);
}

CTEST(roles, assignment_rules_and_effect)
{
    struct session u, adm, again;
    char eu[128], ead[128], path[256];
    struct http_resp r;
    struct json_object *o, *meta;

    ASSERT_EQ(user_new(&u, eu, sizeof(eu), "role-u"), 0);
    ASSERT_EQ(admin_new(&adm, ead, sizeof(ead)), 0);
    /* Nobody sets their own role, not through PATCH and not through PUT. */
    ASSERT_EQ(admin_req("PATCH", "/api/v1/users/me", "{\"role\":\"admin\"}", u.access, &r), 400);
    http_resp_free(&r);
    ASSERT_EQ(admin_req("PATCH", "/api/v1/users/me", "{\"status\":\"active\"}", u.access, &r), 403);
    http_resp_free(&r);
    ASSERT_EQ(admin_req("PUT", "/api/v1/users/me/role", "{\"role\":\"admin\"}", u.access, NULL),
              403);
    ASSERT_EQ(admin_req("PUT", "/api/v1/users/me/role", "{\"role\":\"user\"}", adm.access, &r),
              403);
    http_resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/users/%s/role", u.user_id);
    ASSERT_EQ(admin_req("PUT", path, "{\"role\":\"superuser\"}", adm.access, &r), 400);
    http_resp_free(&r);
    ASSERT_EQ(admin_req("PUT", path, "{\"role\":7}", adm.access, NULL), 400);
    ASSERT_EQ(admin_req("PUT", path, "{}", adm.access, NULL), 400);
    /* Promotion: the next refresh carries it, and admin routes open. */
    ASSERT_EQ(admin_req("PUT", path, "{\"role\":\"admin\"}", adm.access, NULL), 200);
    ASSERT_EQ(admin_req("GET", "/api/v1/users?limit=1", NULL, u.access, NULL), 200);
    ASSERT_EQ(refresh(u.refresh, &again, &r), 200);
    o = jparse(&r);
    ASSERT_TRUE(o != NULL && json_object_object_get_ex(o, "user", &meta) &&
                json_object_object_get_ex(meta, "app_metadata", &meta));
    ASSERT_STR_EQ(jstr(meta, "role"), "admin");
    json_object_put(o);
    http_resp_free(&r);
    /* The outbox has the event. */
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM outbox WHERE event->>'type' = 'user.role_changed' AND "
             "event->>'user_id' = '%s'",
             u.user_id);
    ASSERT_EQ(sql_long(sql), 1);
    /* Demotion back. */
    ASSERT_EQ(admin_req("PUT", path, "{\"role\":\"user\"}", adm.access, NULL), 200);
    ASSERT_EQ(admin_req("GET", "/api/v1/users?limit=1", NULL, again.access, NULL), 403);
}

CTEST(roles, the_last_active_admin_stays)
{
    char sql[1024], ead[128];
    struct session adm;
    ASSERT_EQ(admin_new(&adm, ead, sizeof(ead)), 0);
    /* In one transaction that is rolled back: every other admin suspended,
     * then each guarded change of the last one is refused. */
    snprintf(sql, sizeof(sql),
             "BEGIN; UPDATE users SET status = 'suspended' WHERE role = 'admin' AND id <> '%s';"
             " SELECT (ums_set_role('%s', 'user') = 'last_admin')::int"
             " + (ums_set_status('%s', 'suspended') = 'last_admin')::int"
             " + (ums_delete_user('%s') = 'last_admin')::int; ROLLBACK;",
             adm.user_id, adm.user_id, adm.user_id, adm.user_id);
    {
        char cmd[1400];
        FILE *p;
        int v = -1;
        snprintf(cmd, sizeof(cmd), "psql -X -A -t -q \"$DATABASE_URL\" -c \"%s\"", sql);
        p = popen(cmd, "r");
        ASSERT_NOT_NULL(p);
        ASSERT_EQ(fscanf(p, "%d", &v), 1);
        pclose(p);
        ASSERT_EQ(v, 3);
    }
    /* With other admins around, the same changes are allowed (and admin
     * suspension by another admin works through the API). */
    struct session other;
    char eo[128], path[256];
    ASSERT_EQ(admin_new(&other, eo, sizeof(eo)), 0);
    snprintf(path, sizeof(path), "/api/v1/users/%s", other.user_id);
    ASSERT_EQ(admin_req("PATCH", path, "{\"status\":\"suspended\"}", adm.access, NULL), 200);
    ASSERT_EQ(
        admin_req("PATCH", "/api/v1/users/me", "{\"status\":\"suspended\"}", adm.access, NULL),
        403);
}

CTEST(roles, a_ban_counts_like_a_suspension_for_the_last_admin)
{
    char sql[1400], ead[128], path[256], cmd[1600];
    struct session adm;
    struct http_resp r;
    FILE *p;
    int v = -1;
    ASSERT_EQ(admin_new(&adm, ead, sizeof(ead)), 0);
    /* Rolled back: every other admin banned (not suspended); the one left
     * is the last active admin for every guarded change, a ban included. */
    snprintf(sql, sizeof(sql),
             "BEGIN; UPDATE users SET banned_until = now() + interval '1 day'"
             " WHERE role = 'admin' AND id <> '%s';"
             " SELECT (ums_set_role('%s', 'user') = 'last_admin')::int"
             " + (ums_set_status('%s', 'suspended') = 'last_admin')::int"
             " + (ums_delete_user('%s') = 'last_admin')::int"
             " + (ums_set_ban('%s', 86400) = 'last_admin')::int"
             " + (ums_set_ban('%s', NULL) = 'ok')::int; ROLLBACK;",
             adm.user_id, adm.user_id, adm.user_id, adm.user_id, adm.user_id, adm.user_id);
    snprintf(cmd, sizeof(cmd), "psql -X -A -t -q \"$DATABASE_URL\" -c \"%s\"", sql);
    p = popen(cmd, "r");
    ASSERT_NOT_NULL(p);
    ASSERT_EQ(fscanf(p, "%d", &v), 1);
    pclose(p);
    ASSERT_EQ(v, 5);
    /* An admin cannot ban themself through the GoTrue admin route. */
    snprintf(path, sizeof(path), "/auth/v1/admin/users/%s", adm.user_id);
    ASSERT_EQ(admin_req("PUT", path, "{\"ban_duration\":\"24h\"}", adm.access, &r), 403);
    ASSERT_STR_CONTAINS(r.body, "forbidden");
    http_resp_free(&r);
    ASSERT_EQ(admin_req("GET", "/api/v1/users?limit=1", NULL, adm.access, NULL), 200);
    /* Lifting a ban ("none") on oneself is no lock-out and is allowed. */
    ASSERT_EQ(admin_req("PUT", path, "{\"ban_duration\":\"none\"}", adm.access, NULL), 200);
}

CTEST(status, suspension_ends_sessions_and_sign_in)
{
    struct session u;
    char eu[128], path[256], body[256];
    struct http_resp r;
    struct json_object *o;
    ASSERT_EQ(user_new(&u, eu, sizeof(eu), "susp"), 0);
    ASSERT_EQ(get_user(u.access), 200);
    snprintf(path, sizeof(path), "/api/v1/users/%s", u.user_id);
    ASSERT_EQ(admin_req("PATCH", path, "{\"status\":\"frozen\"}", service(), NULL), 400);
    ASSERT_EQ(admin_req("PATCH", path, "{\"status\":\"suspended\"}", service(), &r), 200);
    o = jparse(&r);
    ASSERT_STR_EQ(jstr(o, "status"), "suspended");
    json_object_put(o);
    http_resp_free(&r);
    /* At once: the access token and the refresh token are dead. */
    ASSERT_EQ(get_user(u.access), 403);
    ASSERT_EQ(admin_req("GET", "/api/v1/users/me", NULL, u.access, NULL), 401);
    ASSERT_TRUE(refresh(u.refresh, NULL, NULL) >= 400);
    ASSERT_EQ(login(eu, "correct horse battery", src_for(31), NULL, &r), 400);
    ASSERT_ERROR(r, ERR_AUTH, 400, "user_banned");
    http_resp_free(&r);
    /* Back to active: sign-in works again (u holds the new, live session). */
    ASSERT_EQ(admin_req("PATCH", path, "{\"status\":\"active\"}", service(), NULL), 200);
    ASSERT_EQ(login(eu, "correct horse battery", src_for(31), &u, NULL), 200);
    /* Unlock clears a lockout. */
    for (int i = 0; i < 5; i++)
        login(eu, "wrong password!", src_for(32), NULL, NULL);
    ASSERT_EQ(login(eu, "correct horse battery", src_for(32), NULL, NULL), 429);
    snprintf(path, sizeof(path), "/api/v1/users/%s/unlock", u.user_id);
    ASSERT_EQ(admin_req("POST", path, NULL, u.access, NULL), 403);
    ASSERT_EQ(admin_req("POST", path, NULL, service(), NULL), 204);
    ASSERT_EQ(login(eu, "correct horse battery", src_for(32), NULL, NULL), 200);
    (void)body;
}

CTEST(sessions, list_and_revoke)
{
    struct session s1, s2, s3;
    char e[128], path[256], sid2[64] = "";
    struct json_object *o, *data;
    ASSERT_EQ(user_new(&s1, e, sizeof(e), "sess"), 0);
    ASSERT_EQ(login(e, "correct horse battery", src_for(33), &s2, NULL), 200);
    ASSERT_EQ(login(e, "correct horse battery", src_for(33), &s3, NULL), 200);
    o = get_json("/api/v1/users/me/sessions", s2.access, 200);
    ASSERT_NOT_NULL(o);
    ASSERT_TRUE(json_object_object_get_ex(o, "data", &data));
    ASSERT_EQ((int)json_object_array_length(data), 3);
    int current = 0;
    for (size_t i = 0; i < 3; i++) {
        struct json_object *s = json_object_array_get_idx(data, i), *c;
        ASSERT_TRUE(jstr(s, "created_at") != NULL && jstr(s, "user_agent") != NULL);
        if (json_object_object_get_ex(s, "current", &c) && json_object_get_boolean(c)) {
            current++;
            snprintf(sid2, sizeof(sid2), "%s", jstr(s, "id"));
        }
    }
    ASSERT_EQ(current, 1);
    json_object_put(o);
    /* Revoke the second session from the first: only it dies. */
    snprintf(path, sizeof(path), "/api/v1/users/me/sessions/%s", sid2);
    ASSERT_EQ(admin_req("DELETE", path, NULL, s1.access, NULL), 204);
    ASSERT_EQ(get_user(s2.access), 403);
    ASSERT_EQ(get_user(s1.access), 200);
    ASSERT_EQ(admin_req("DELETE", path, NULL, s1.access, NULL), 404);
    ASSERT_EQ(admin_req("DELETE", "/api/v1/users/me/sessions/not-a-uuid", NULL, s1.access, NULL),
              400);
    /* Revoke all. */
    ASSERT_EQ(admin_req("DELETE", "/api/v1/users/me/sessions", NULL, s3.access, NULL), 204);
    ASSERT_EQ(get_user(s1.access), 403);
    ASSERT_EQ(get_user(s3.access), 403);
}

CTEST(sessions, an_account_keeps_at_most_100_sessions_50_sign_in_devices_20_devices)
{
    struct session u;
    char e[128], sql[1024], body[128];
    ASSERT_EQ(user_new(&u, e, sizeof(e), "caps"), 0);
    ASSERT_EQ(admin_req("GET", "/api/v1/users/me", NULL, u.access, NULL), 200);
    /* 120 more sessions: the oldest (the sign-up's) are revoked at once. */
    snprintf(sql, sizeof(sql),
             "INSERT INTO sessions (user_id, expires_at) SELECT '%s', now() + interval '1 day'"
             " FROM generate_series(1, 120)",
             u.user_id);
    ASSERT_EQ(sql_run(sql), 0);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM sessions WHERE user_id = '%s' AND revoked_at IS NULL",
             u.user_id);
    ASSERT_EQ(sql_long(sql), 100);
    for (int i = 0; i < 30 && admin_req("GET", "/api/v1/users/me", NULL, u.access, NULL) != 401;
         i++)
        sleep_ms(100);
    /* Every worker of every host refuses it a second later (each reads the
     * faults at most a second apart): a few more tries. */
    sleep_ms(1200);
    long st = 401;
    for (int i = 0; i < 16 && st == 401; i++)
        st = admin_req("GET", "/api/v1/users/me", NULL, u.access, NULL);
    if (st != 401) {
        /* What the failure below needs to be understood. */
        snprintf(sql, sizeof(sql),
                 "psql -X \"$DATABASE_URL\" -c \"SELECT s.id, s.created_at, s.revoked_at, f.id,"
                 " f.xid, f.at FROM sessions s LEFT JOIN session_cache_faults f ON f.session_id ="
                 " s.id WHERE s.user_id = '%s' ORDER BY s.created_at LIMIT 3\" -c \"SELECT"
                 " pg_current_snapshot(), now(), count(*) FROM session_cache_faults\";"
                 " tail -n 3 \"$UMS_ACCESS_LOG\"; grep -h 'faults\\|correction\\|error'"
                 " \"$UMS_STACK\"/log/ums*.log | tail -n 5",
                 u.user_id);
        sh(sql);
    }
    ASSERT_EQ(st, 401);
    /* Sign-in devices. */
    snprintf(sql, sizeof(sql),
             "INSERT INTO sign_in_devices (user_id, device_hash) SELECT '%s',"
             " sha256(i::text::bytea) FROM generate_series(1, 60) i",
             u.user_id);
    ASSERT_EQ(sql_run(sql), 0);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM sign_in_devices WHERE user_id = '%s'",
             u.user_id);
    ASSERT_EQ(sql_long(sql), 50);
    /* Push devices, through the API: the 21st pushes the first out. */
    ASSERT_EQ(login(e, "correct horse battery", src_for(56), &u, NULL), 200);
    for (int i = 0; i < 25; i++) {
        snprintf(body, sizeof(body), "{\"token\":\"cap-%s-%d\",\"platform\":\"web\"}", u.user_id,
                 i);
        ASSERT_EQ(admin_req("POST", "/api/v1/users/me/devices", body, u.access, NULL), 201);
    }
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM devices WHERE user_id = '%s'", u.user_id);
    ASSERT_EQ(sql_long(sql), 20);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM devices WHERE token = 'cap-%s-24'", u.user_id);
    ASSERT_EQ(sql_long(sql), 1);
}

/* Deleting a user cascades to every table that names it, and each cascade
 * finds its rows by an index: a foreign key whose column leads no full
 * (non-partial) index makes every deletion read that whole table. */
CTEST(delete, every_foreign_key_has_an_index_its_cascade_can_use)
{
    char out[4096] = "";

    ASSERT_EQ(
        sh_out("psql -X -A -t \"$DATABASE_URL\" -c \"SELECT string_agg(c.conrelid::regclass || '.' "
               "|| a.attname, ' ') FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = "
               "c.conrelid AND a.attnum = c.conkey[1] WHERE c.contype = 'f' AND NOT EXISTS "
               "(SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = "
               "c.conkey[1] AND i.indpred IS NULL)\"",
               out, sizeof(out)),
        0);
    ASSERT_STR_EQ(out, "\n");
}

CTEST(delete, removes_the_account_and_personal_data)
{
    struct session u;
    char e[128], sql[1024], path[256];
    ASSERT_EQ(user_new(&u, e, sizeof(e), "del"), 0);
    snprintf(sql, sizeof(sql),
             "INSERT INTO devices (user_id, token, platform) VALUES ('%s', 'tok-%s', 'web');"
             " INSERT INTO notifications (user_id, kind, title) VALUES ('%s', 'x', 'hi');"
             " SELECT 1",
             u.user_id, u.user_id, u.user_id);
    ASSERT_EQ(sql_long(sql), 1);
    ASSERT_EQ(admin_req("PATCH", "/api/v1/users/me/profile", "{\"bio\":\"bye\"}", u.access, NULL),
              200);
    ASSERT_EQ(admin_req("DELETE", "/api/v1/users/me", NULL, u.access, NULL), 204);
    ASSERT_EQ(get_user(u.access), 403);
    snprintf(path, sizeof(path), "/api/v1/users/%s", u.user_id);
    ASSERT_EQ(admin_req("GET", path, NULL, service(), NULL), 404);
    snprintf(sql, sizeof(sql),
             "SELECT (SELECT count(*) FROM users WHERE id = '%s') + (SELECT count(*) FROM "
             "user_profiles WHERE user_id = '%s') + (SELECT count(*) FROM sessions WHERE user_id "
             "= '%s') + (SELECT count(*) FROM identities WHERE user_id = '%s') + (SELECT count(*) "
             "FROM devices WHERE user_id = '%s') + (SELECT count(*) FROM notifications WHERE "
             "user_id = '%s')",
             u.user_id, u.user_id, u.user_id, u.user_id, u.user_id, u.user_id);
    ASSERT_EQ(sql_long(sql), 0);
    /* The audit log keeps the id, with no details or address. */
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM audit_log WHERE target_id = '%s' AND (ip IS NOT NULL OR "
             "details <> '{}')",
             u.user_id);
    ASSERT_EQ(sql_long(sql), 0);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit_log WHERE target_id = '%s'", u.user_id);
    ASSERT_TRUE(sql_long(sql) >= 2);
    ASSERT_EQ(admin_req("DELETE", path, NULL, service(), NULL), 404);
}

CTEST(audit, admin_listing_with_filters)
{
    struct session u;
    char e[128], path[512], f[64];
    struct json_object *o, *data, *nc;
    struct http_resp r;
    ASSERT_EQ(user_new(&u, e, sizeof(e), "audit"), 0);
    ASSERT_EQ(admin_req("PATCH", "/api/v1/users/me", "{\"name\":\"Audited\"}", u.access, NULL),
              200);
    snprintf(path, sizeof(path), "/api/v1/audit?target=%s&limit=1", u.user_id);
    o = get_json(path, service(), 200);
    ASSERT_NOT_NULL(o);
    ASSERT_TRUE(json_object_object_get_ex(o, "data", &data));
    ASSERT_EQ((int)json_object_array_length(data), 1);
    ASSERT_STR_EQ(jstr(json_object_array_get_idx(data, 0), "action"), "user.update");
    ASSERT_TRUE(json_object_object_get_ex(o, "next_cursor", &nc) && nc != NULL);
    snprintf(path, sizeof(path), "/api/v1/audit?target=%s&limit=100&cursor=%s", u.user_id,
             json_object_get_string(nc));
    json_object_put(o);
    o = get_json(path, service(), 200);
    ASSERT_NOT_NULL(o);
    ASSERT_TRUE(json_object_object_get_ex(o, "data", &data));
    ASSERT_TRUE(json_object_array_length(data) >= 1);
    ASSERT_STR_EQ(jstr(json_object_array_get_idx(data, 0), "action"), "user.signup");
    json_object_put(o);
    ASSERT_EQ(admin_req("GET", "/api/v1/audit?actor=nope", NULL, service(), &r), 400);
    ASSERT_STR_EQ(err_field(&r, f, sizeof(f)), "actor");
    http_resp_free(&r);
    ASSERT_EQ(admin_req("GET", "/api/v1/audit?after=soon", NULL, service(), NULL), 400);
    ASSERT_EQ(admin_req("GET", "/api/v1/audit?before=2026-04-31", NULL, service(), &r), 400);
    ASSERT_STR_EQ(err_field(&r, f, sizeof(f)), "before");
    http_resp_free(&r);
    ASSERT_EQ(admin_req("GET", "/api/v1/audit?cursor=x.y", NULL, service(), NULL), 400);
}

/* PUTs an image body to path with a Bearer. */
static long put_image(const char *path, const void *data, size_t len, const char *bearer,
                      struct http_resp *keep)
{
    char auth[4200];
    const char *h[3] = {"Content-Type: image/png", auth, NULL};
    struct http_resp r;
    long st;
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
    if (http_req("PUT", path, h, data, len, NULL, &r) != 0)
        return -1;
    st = r.status;
    if (keep != NULL)
        *keep = r;
    else
        http_resp_free(&r);
    return st;
}

/* The avatar_url of the caller's profile into out. */
static int avatar_url(const char *bearer, char *out, size_t n)
{
    struct json_object *o = get_json("/api/v1/users/me/profile", bearer, 200);
    const char *u = jstr(o, "avatar_url");
    int rc = u != NULL ? 0 : -1;
    snprintf(out, n, "%s", u != NULL ? u : "");
    json_object_put(o);
    return rc;
}

/* GETs an absolute URL of the stack (the avatar) as a path: its origin is
 * the stack's web server, by address (UMS_URL) or by name (UMS_SITE_URL,
 * which the account pages use, so that avatars are same-origin there). */
static long get_url(const char *url, struct http_resp *r)
{
    const char *bases[2] = {env_need("UMS_URL"), env_need("UMS_SITE_URL")};

    for (int i = 0; i < 2; i++) {
        const char *slash = strchr(strstr(bases[i], "://") + 3, '/');
        size_t n = slash != NULL ? (size_t)(slash - bases[i]) : strlen(bases[i]);
        if (strncmp(url, bases[i], n) == 0 && url[n] == '/')
            return http_get(url + n, r) == 0 ? r->status : -1;
    }
    return -1;
}

CTEST(avatar, upload_serve_replace_and_refuse)
{
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0,
                                        0,    13,  'I', 'H', 'D',  'R',  1,    2,    3, 4};
    static const unsigned char jpg[] = {0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0};
    struct session a, b;
    char ea[128], eb[128], url1[1024], url2[1024], path[256], ct[128], hex[65], tail[128];
    struct http_resp r;

    ASSERT_EQ(user_new(&a, ea, sizeof(ea), "av-a"), 0);
    ASSERT_EQ(user_new(&b, eb, sizeof(eb), "av-b"), 0);
    ASSERT_EQ(put_image("/api/v1/users/me/avatar", png, sizeof(png), a.access, NULL), 200);
    ASSERT_EQ(avatar_url(a.access, url1, sizeof(url1)), 0);
    /* Content-addressed: the name is the image's SHA-256, served immutable. */
    crypto_sha256_hex(hex, png, sizeof(png));
    snprintf(tail, sizeof(tail), "/%s/%.24s.png", a.user_id, hex);
    ASSERT_TRUE(strlen(url1) > strlen(tail) &&
                strcmp(url1 + strlen(url1) - strlen(tail), tail) == 0);
    ASSERT_EQ(get_url(url1, &r), 200);
    ASSERT_EQ((long)r.len, (long)sizeof(png));
    ASSERT_TRUE(memcmp(r.body, png, sizeof(png)) == 0);
    ASSERT_EQ(resp_header(&r, "Content-Type", ct, sizeof(ct)), 0);
    ASSERT_STR_EQ(ct, "image/png");
    ASSERT_EQ(resp_header(&r, "Cache-Control", ct, sizeof(ct)), 0);
    ASSERT_STR_EQ(ct, "public, max-age=31536000, immutable");
    http_resp_free(&r);
    /* The same image again: the same URL, still served (not removed as
     * "the previous avatar"). */
    ASSERT_EQ(put_image("/api/v1/users/me/avatar", png, sizeof(png), a.access, NULL), 200);
    ASSERT_EQ(avatar_url(a.access, url2, sizeof(url2)), 0);
    ASSERT_STR_EQ(url1, url2);
    ASSERT_EQ(get_url(url1, &r), 200);
    http_resp_free(&r);
    /* A new image replaces the old one, which is removed. */
    ASSERT_EQ(put_image("/api/v1/users/me/avatar", jpg, sizeof(jpg), a.access, NULL), 200);
    ASSERT_EQ(avatar_url(a.access, url2, sizeof(url2)), 0);
    ASSERT_TRUE(strcmp(url1, url2) != 0);
    ASSERT_EQ(get_url(url2, &r), 200);
    http_resp_free(&r);
    ASSERT_EQ(get_url(url1, &r), 404);
    http_resp_free(&r);
    /* HTML named .png, an empty body, text: 415 by the magic bytes. */
    const char *html = "<html><script>alert(1)</script></html>";
    ASSERT_EQ(put_image("/api/v1/users/me/avatar", html, strlen(html), a.access, &r), 415);
    ASSERT_ERROR(r, ERR_API, 415, "unsupported_image");
    http_resp_free(&r);
    ASSERT_EQ(put_image("/api/v1/users/me/avatar", "", 0, a.access, NULL), 415);
    /* 3 MiB: 413 before ums reads it. */
    {
        size_t n = 3 * 1024 * 1024;
        unsigned char *big = calloc(1, n);
        ASSERT_NOT_NULL(big);
        memcpy(big, png, sizeof(png));
        ASSERT_EQ(put_image("/api/v1/users/me/avatar", big, n, a.access, &r), 413);
        ASSERT_ERROR(r, ERR_API, 413, "request_too_large");
        http_resp_free(&r);
        free(big);
    }
    /* Only the owner uploads. */
    snprintf(path, sizeof(path), "/api/v1/users/%s/avatar", a.user_id);
    ASSERT_EQ(put_image(path, png, sizeof(png), b.access, NULL), 403);
    ASSERT_EQ(avatar_url(a.access, url1, sizeof(url1)), 0);
    ASSERT_STR_EQ(url1, url2);
}

/* DELETE .../avatar as who: the status, the profile's avatar_url (or "null")
 * in url when 200. */
static long remove_avatar(const char *target, const char *who, char *url, size_t n)
{
    char path[256];
    struct http_resp r;
    struct json_object *o, *v;
    long st;

    snprintf(path, sizeof(path), "/api/v1/users/%s/avatar", target);
    if (req_bearer("DELETE", path, NULL, who, &r) != 0)
        return -1;
    st = r.status;
    if (st == 200 && url != NULL) {
        o = json_tokener_parse(r.body);
        snprintf(url, n, "%s",
                 o != NULL && json_object_object_get_ex(o, "avatar_url", &v)
                     ? (v == NULL ? "null" : json_object_get_string(v))
                     : "(missing)");
        json_object_put(o);
    }
    http_resp_free(&r);
    return st;
}

CTEST(avatar, removed_by_its_owner_or_an_admin_and_the_file_goes)
{
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0,
                                        0,    13,  'I', 'H', 'D',  'R',  9,    8,    7, 6};
    struct session a, b, adm;
    char ea[128], eb[128], em[128], url1[1024], now[1024];
    struct http_resp r;

    ASSERT_EQ(user_new(&a, ea, sizeof(ea), "avdel-a"), 0);
    ASSERT_EQ(user_new(&b, eb, sizeof(eb), "avdel-b"), 0);
    ASSERT_EQ(admin_new(&adm, em, sizeof(em)), 0);
    ASSERT_EQ(put_image("/api/v1/users/me/avatar", png, sizeof(png), a.access, NULL), 200);
    ASSERT_EQ(avatar_url(a.access, url1, sizeof(url1)), 0);
    ASSERT_EQ(get_url(url1, &r), 200);
    http_resp_free(&r);
    /* Another user may not; the picture stays. */
    ASSERT_EQ(remove_avatar(a.user_id, b.access, NULL, 0), 403);
    ASSERT_EQ(get_url(url1, &r), 200);
    http_resp_free(&r);
    /* The owner: the profile names none, the file is gone. */
    ASSERT_EQ(remove_avatar("me", a.access, now, sizeof(now)), 200);
    ASSERT_STR_EQ(now, "null");
    ASSERT_EQ(get_url(url1, &r), 404);
    http_resp_free(&r);
    /* Nothing left to remove: the same answer. */
    ASSERT_EQ(remove_avatar("me", a.access, now, sizeof(now)), 200);
    ASSERT_STR_EQ(now, "null");
    /* An admin takes a picture down, and the trail names the admin. */
    ASSERT_EQ(put_image("/api/v1/users/me/avatar", png, sizeof(png), a.access, NULL), 200);
    ASSERT_EQ(avatar_url(a.access, url1, sizeof(url1)), 0);
    ASSERT_EQ(remove_avatar(a.user_id, adm.access, now, sizeof(now)), 200);
    ASSERT_STR_EQ(now, "null");
    ASSERT_EQ(get_url(url1, &r), 404);
    http_resp_free(&r);
    {
        char sql[512];
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM audit_log WHERE action = 'profile.update' AND "
                 "actor_id = '%s' AND target_id = '%s'",
                 adm.user_id, a.user_id);
        ASSERT_EQ(sql_long(sql), 1);
    }
    /* A picture somewhere else is forgotten, not fetched or removed. */
    ASSERT_EQ(admin_req("PATCH", "/api/v1/users/me/profile",
                        "{\"avatar_url\":\"https://cdn.example.test/a/b.png\"}", a.access, NULL),
              200);
    ASSERT_EQ(remove_avatar("me", a.access, now, sizeof(now)), 200);
    ASSERT_STR_EQ(now, "null");
    /* An unknown user, an id that is none. */
    ASSERT_EQ(remove_avatar("3f0c1a52-6b7e-4c1d-9a8f-0e2d4b6c8a10", adm.access, NULL, 0), 404);
    ASSERT_EQ(remove_avatar("not-a-uuid", adm.access, NULL, 0), 400);
}
