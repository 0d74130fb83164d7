/* client.c - HTTP helpers shared by the black-box suites (client.h). */
#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

struct json_object *jparse(const struct http_resp *r)
{
    return r->body != NULL ? json_tokener_parse(r->body) : NULL;
}

const char *jstr(struct json_object *o, const char *k)
{
    struct json_object *v;
    return o != NULL && json_object_object_get_ex(o, k, &v) && v != NULL &&
                   json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* A fresh address for each test so that accounts never collide. */
void new_email(char *out, size_t n, const char *tag)
{
    unsigned r;
    if (getrandom(&r, sizeof(r), 0) != sizeof(r))
        r = (unsigned)getpid();
    snprintf(out, n, "%s-%08x@example.com", tag, r);
}

int post(const char *path, const char *body, const char *bearer, const char *src,
         struct http_resp *r)
{
    char auth[9000];
    const char *h[4] = {"Content-Type: application/json", NULL, NULL, NULL};
    if (bearer != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
        h[1] = auth;
    }
    return http_req("POST", path, h, body, body != NULL ? strlen(body) : 0, src, r);
}

int req_bearer(const char *method, const char *path, const char *body, const char *bearer,
               struct http_resp *r)
{
    char auth[9000];
    const char *h[3] = {"Content-Type: application/json", auth, NULL};
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
    /* From a loopback address of its own: no per-client bucket ([limits]
     * user_update_per_5min, nginx's limit_req) is shared across tests. */
    return http_req(method, path, h, body, body != NULL ? strlen(body) : 0, src_for(199), r);
}

/* Source addresses: each test that counts requests uses its own. */
const char *src_for(int n)
{
    static char buf[16][32];
    static int next;
    char *b = buf[next++ % 16];
    unsigned r;
    if (getrandom(&r, sizeof(r), 0) != sizeof(r))
        r = 7;
    snprintf(b, 32, "127.%u.%u.%u", 10 + n % 200, (r >> 8) % 250 + 1, r % 250 + 1);
    return b;
}

int take_session(const struct http_resp *r, struct session *s)
{
    struct json_object *o = jparse(r), *u;
    int ok = o != NULL && jstr(o, "access_token") && jstr(o, "refresh_token") &&
             json_object_object_get_ex(o, "user", &u) && jstr(u, "id");
    if (ok) {
        snprintf(s->access, sizeof(s->access), "%s", jstr(o, "access_token"));
        snprintf(s->refresh, sizeof(s->refresh), "%s", jstr(o, "refresh_token"));
        snprintf(s->user_id, sizeof(s->user_id), "%s", jstr(u, "id"));
    }
    json_object_put(o);
    return ok ? 0 : -1;
}

/* POSTs body to path from src; on 200 takes the session into s (if asked);
 * keeps the response in *keep (if asked, caller frees). Returns the status. */
long post_for_session(const char *path, const char *body, const char *src, struct session *s,
                      struct http_resp *keep)
{
    struct http_resp r;
    long st;
    if (post(path, body, NULL, src, &r) != 0)
        return -1;
    st = r.status;
    if (st == 200 && s != NULL)
        take_session(&r, s);
    if (keep != NULL)
        *keep = r;
    else
        http_resp_free(&r);
    return st;
}

int signup(const char *email, const char *pw, struct session *s)
{
    char body[1024];
    struct http_resp r;
    int rc;
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\"}", email, pw);
    if (post("/auth/v1/signup", body, NULL, src_for(1), &r) != 0 || r.status != 200) {
        fprintf(stderr, "signup failed: %ld %s\n", r.status, r.body);
        http_resp_free(&r);
        return -1;
    }
    rc = s != NULL ? take_session(&r, s) : 0;
    http_resp_free(&r);
    return rc;
}

long login(const char *email, const char *pw, const char *src, struct session *s,
           struct http_resp *keep)
{
    char body[1024];
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\"}", email, pw);
    return post_for_session("/auth/v1/token?grant_type=password", body, src, s, keep);
}

long refresh(const char *token, struct session *s, struct http_resp *keep)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"refresh_token\":\"%s\"}", token);
    return post_for_session("/auth/v1/token?grant_type=refresh_token", body, src_for(2), s, keep);
}

int admin_signed_in(struct session *s, char *email, size_t n, const char *tag)
{
    char cmd[512];
    new_email(email, n, tag);
    snprintf(cmd, sizeof(cmd),
             "printf 'an admin password\\n' | \"$UMS_BUILD_DIR/cli/umsctl\" user add --email %s "
             "--password-file - --role admin >/dev/null",
             email);
    if (sh(cmd) != 0)
        return -1;
    return login(email, "an admin password", src_for(30), s, NULL) == 200 ? 0 : -1;
}

long get_user(const char *bearer)
{
    struct http_resp r;
    long st;
    if (req_bearer("GET", "/auth/v1/user", NULL, bearer, &r) != 0)
        return -1;
    st = r.status;
    http_resp_free(&r);
    return st;
}

long admin_req(const char *method, const char *path, const char *body, const char *bearer,
               struct http_resp *keep)
{
    struct http_resp r;
    long st;
    if (req_bearer(method, path, body, bearer, &r) != 0)
        return -1;
    st = r.status;
    if (keep != NULL)
        *keep = r;
    else
        http_resp_free(&r);
    return st;
}

struct json_object *get_json(const char *path, const char *bearer, long want)
{
    struct http_resp r;
    struct json_object *o = NULL;
    if (req_bearer("GET", path, NULL, bearer, &r) != 0)
        return NULL;
    if (r.status == want)
        o = jparse(&r);
    else
        fprintf(stderr, "GET %s: %ld %s\n", path, r.status, r.body);
    http_resp_free(&r);
    return o;
}

int stack_port(int offset)
{
    const char *url = env_need("UMS_URL"), *colon = strrchr(url, ':');
    long port = colon != NULL ? strtol(colon + 1, NULL, 10) : 0;
    return port > 0 && port + offset < 65536 ? (int)(port + offset) : -1;
}

void export_port(const char *name, int offset)
{
    char v[16];
    snprintf(v, sizeof(v), "%d", stack_port(offset));
    setenv(name, v, 1);
}

int maildir_count(const char *to, const char *event)
{
    char cmd[1024], out[32];
    snprintf(cmd, sizeof(cmd),
             "grep -l -F '<%s>' \"$UMS_MAILDIR\"/new/* 2>/dev/null | tr '\\n' '\\0' |"
             " xargs -0 -r grep -l -F 'X-Ums-Event: %s' | wc -l",
             to, event);
    return sh_out(cmd, out, sizeof(out)) == 0 ? (int)strtol(out, NULL, 10) : -1;
}

int sql_run(const char *sql)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "psql -X -q -v ON_ERROR_STOP=1 \"$DATABASE_URL\" -c \"%s\" >/dev/null", sql);
    return sh(cmd);
}

long sql_long(const char *sql)
{
    char cmd[2048], out[256];
    snprintf(cmd, sizeof(cmd), "psql -X -A -t -q \"$DATABASE_URL\" -c \"%s\"", sql);
    if (sh_out(cmd, out, sizeof(out)) != 0)
        return -1;
    return strtol(out, NULL, 10);
}

void email_delivery(const char *to, char st[16], long *attempts)
{
    char cmd[1024], out[256];
    snprintf(cmd, sizeof(cmd),
             "psql -X -A -t -q -F ' ' \"$DATABASE_URL\" -c \"SELECT d.state, d.attempts FROM "
             "deliveries d JOIN outbox o ON o.id = d.event_id WHERE o.event->>'email' = '%s' AND "
             "o.event->>'type' = 'user.registered' AND d.channel = 'email'\"",
             to);
    st[0] = '\0';
    *attempts = 0;
    if (sh_out(cmd, out, sizeof(out)) == 0 && sscanf(out, "%15s %ld", st, attempts) != 2)
        st[0] = '\0';
}

void wait_email_delivery(const char *to, const char *want, long min_attempts, int secs, char st[16],
                         long *attempts)
{
    for (int i = 0; i == 0 || i < secs * 10; i++) {
        email_delivery(to, st, attempts);
        if ((want != NULL && strcmp(st, want) == 0) || (want == NULL && *attempts >= min_attempts))
            return;
        sleep_ms(100);
    }
}
