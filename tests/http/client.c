/* client.c - HTTP helpers shared by the black-box suites (client.h). */
#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
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

int error_matches(const struct http_resp *r, enum err_format f, long status, const char *code,
                  char *why, size_t n)
{
    struct json_object *o = jparse(r), *num;
    const char *got, *msg;
    int ok = 0;

    if (r->status != status) {
        snprintf(why, n, "status %ld", r->status);
        goto out;
    }
    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        snprintf(why, n, "the body is not a JSON object");
        goto out;
    }
    got = jstr(o, f == ERR_AUTH ? "error_code" : "code");
    msg = jstr(o, f == ERR_AUTH ? "msg" : "message");
    if (got == NULL || strcmp(got, code) != 0) {
        snprintf(why, n, "code %s", got != NULL ? got : "(none)");
        goto out;
    }
    if (msg == NULL || *msg == '\0') {
        snprintf(why, n, "no message");
        goto out;
    }
    if (f == ERR_AUTH_2024 &&
        (r->headers == NULL ||
         strcasestr(r->headers, "x-supabase-api-version: 2024-01-01\r\n") == NULL)) {
        snprintf(why, n, "no X-Supabase-Api-Version: 2024-01-01 header");
        goto out;
    }
    if (f == ERR_AUTH) {
        char want[160];
        if (!json_object_object_get_ex(o, "code", &num) ||
            !json_object_is_type(num, json_type_int) || json_object_get_int64(num) != status) {
            snprintf(why, n, "\"code\" is not the status");
            goto out;
        }
        snprintf(want, sizeof(want), "x-sb-error-code: %s\r\n", code);
        if (r->headers == NULL || strcasestr(r->headers, want) == NULL) {
            snprintf(why, n, "no x-sb-error-code: %s header", code);
            goto out;
        }
    }
    ok = 1;
out:
    json_object_put(o);
    return ok;
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

/* 1 when the message at path has a To: header ending in <to> and the header
 * X-Ums-Event: event (headers end at the first empty line). */
static int mail_is(const char *path, const char *to, const char *event)
{
    char line[2048], want_to[512], want_ev[512];
    int match_to = 0, match_ev = 0;
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return 0;
    snprintf(want_to, sizeof(want_to), "<%s>\r\n", to);
    snprintf(want_ev, sizeof(want_ev), "X-Ums-Event: %s\r\n", event);
    while (fgets(line, sizeof(line), f) != NULL && strcmp(line, "\r\n") != 0) {
        size_t ll = strlen(line), wl = strlen(want_to);
        match_to |=
            strncmp(line, "To: ", 4) == 0 && ll >= wl && strcasecmp(line + ll - wl, want_to) == 0;
        match_ev |= strcmp(line, want_ev) == 0;
    }
    fclose(f);
    return match_to && match_ev;
}

int maildir_find(const char *to, const char *event, char *newest, size_t n)
{
    char dir[4096], path[8400];
    time_t best = 0;
    int count = 0;
    DIR *d;
    struct dirent *e;

    if (newest != NULL && n > 0)
        newest[0] = '\0';
    snprintf(dir, sizeof(dir), "%s/new", env_need("UMS_MAILDIR"));
    d = opendir(dir);
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (!mail_is(path, to, event) || stat(path, &st) != 0)
            continue;
        count++;
        if (newest != NULL && st.st_mtime >= best) {
            best = st.st_mtime;
            snprintf(newest, n, "%s", path);
        }
    }
    closedir(d);
    return count;
}

int maildir_count(const char *to, const char *event)
{
    return maildir_find(to, event, NULL, 0);
}

char *maildir_newest(const char *to, const char *event)
{
    char path[8400];
    char *text = NULL;
    long len;
    FILE *f;

    if (maildir_find(to, event, path, sizeof(path)) <= 0 || (f = fopen(path, "r")) == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && len < 4 * 1024 * 1024 &&
        fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)len + 1)) != NULL) {
        if (fread(text, 1, (size_t)len, f) != (size_t)len) {
            free(text);
            text = NULL;
        } else {
            text[len] = '\0';
        }
    }
    fclose(f);
    return text;
}

/* redis-cli against the stack's Redis with args: its exit status, and its
 * answer (one line) in out when out is not NULL. */
int redis_cmd(const char *args, char *out, size_t n)
{
    char cmd[1024], sink[64];
    snprintf(cmd, sizeof(cmd),
             "port=${REDIS_URL##*:}; port=${port%%%%/*}; a=$(REDISCLI_AUTH=\"$(cat "
             "\"$UMS_STACK/secrets/redis_password\")\" redis-cli -p \"$port\" %s) && "
             "printf '%%s' \"$a\" | tr -d '\\n'",
             args);
    return out != NULL ? sh_out(cmd, out, n) : sh_out(cmd, sink, sizeof(sink));
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
