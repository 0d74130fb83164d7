/* client.h - HTTP helpers shared by the black-box suites: JSON access,
 * fresh addresses, Bearer requests, loopback source addresses, sessions. */
#ifndef UMS_TEST_CLIENT_H
#define UMS_TEST_CLIENT_H

#include <stddef.h>

#include <json-c/json.h>

#include "stack.h"

struct session {
    char access[4096];
    char refresh[64];
    char user_id[40];
};

/* The response body parsed (caller puts), or NULL. */
struct json_object *jparse(const struct http_resp *r);
/* A string member of o, or NULL. */
const char *jstr(struct json_object *o, const char *k);
/*
 * The error formats: /auth/v1's legacy one (GoTrue's {"code":N,"error_code",
 * "msg"} and the x-sb-error-code header), /auth/v1's for clients that send
 * X-Supabase-Api-Version 2024-01-01 ({"code","message"} and that header
 * back), and /api/v1's ({"code","message"}).
 */
enum err_format { ERR_AUTH, ERR_AUTH_2024, ERR_API };

/*
 * 1 when r is an error of format f with that status and code and a non-empty
 * message; otherwise 0 with the reason in why (n bytes).
 */
int error_matches(const struct http_resp *r, enum err_format f, long status, const char *code,
                  char *why, size_t n);

/* The one error assertion of the suites (ctest.h's CTEST_FAIL_). */
#define ASSERT_ERROR(resp, format_, status_, code_)                                                \
    do {                                                                                           \
        char why_[256];                                                                            \
        if (!error_matches(&(resp), (format_), (status_), (code_), why_, sizeof(why_)))            \
            CTEST_FAIL_("expected %d %s: %s; got %ld %s", (int)(status_), (code_), why_,           \
                        (resp).status, (resp).body != NULL ? (resp).body : "(no body)");           \
    } while (0)

/* A fresh address for each test so that accounts never collide. */
void new_email(char *out, size_t n, const char *tag);
int post(const char *path, const char *body, const char *bearer, const char *src,
         struct http_resp *r);
int req_bearer(const char *method, const char *path, const char *body, const char *bearer,
               struct http_resp *r);
/* A random 127.x.y.z source address; n picks the second octet's range. */
const char *src_for(int n);
int take_session(const struct http_resp *r, struct session *s);
long post_for_session(const char *path, const char *body, const char *src, struct session *s,
                      struct http_resp *keep);
int signup(const char *email, const char *pw, struct session *s);
long login(const char *email, const char *pw, const char *src, struct session *s,
           struct http_resp *keep);
long refresh(const char *token, struct session *s, struct http_resp *keep);
long get_user(const char *bearer);
/* An account whose ums role is admin, made from the shell (umsctl user add),
 * signed in: its address in email (n bytes, tagged tag), its session in s. */
int admin_signed_in(struct session *s, char *email, size_t n, const char *tag);
/* A Bearer request; the status, the response in *keep when asked. */
long admin_req(const char *method, const char *path, const char *body, const char *bearer,
               struct http_resp *keep);
/* GET path with a Bearer; the parsed body (caller puts) when the status is
 * `want`, else NULL (the answer is printed). */
struct json_object *get_json(const char *path, const char *bearer, long want);
/* A port for a test's helper server, derived from the stack's HTTP port
 * (so that two stacks on one machine never share one); export_port puts it
 * in the environment as `name` for the shell commands of the test. */
int stack_port(int offset);
/* How many messages of event `event` (X-Ums-Event) the stack's Maildir
 * holds for the address `to` (the To: header); -1 when it cannot tell.
 * maildir_find also copies the newest one's path into newest (n bytes, ""
 * when none) when newest is not NULL. */
int maildir_count(const char *to, const char *event);
int maildir_find(const char *to, const char *event, char *newest, size_t n);
/* The text of the newest such message (caller frees), or NULL. */
char *maildir_newest(const char *to, const char *event);
/* redis-cli against the stack's Redis with args: its exit status, and its
 * answer (one line) in out when out is not NULL. */
int redis_cmd(const char *args, char *out, size_t n);
/* Runs SQL through psql (output dropped); 0 when it succeeded. */
int sql_run(const char *sql);
/* The first value the SQL returns, as a number; -1 when psql failed. */
long sql_long(const char *sql);
/* The email delivery of the newest user.registered event to `to`: its
 * state ("sent", "failed", "pending", or "" when none) and attempts. */
void email_delivery(const char *to, char st[16], long *attempts);
/* Polls email_delivery until the state is `want` (or, want NULL, until
 * attempts >= min_attempts), for at most secs (at least one look). */
void wait_email_delivery(const char *to, const char *want, long min_attempts, int secs, char st[16],
                         long *attempts);
void export_port(const char *name, int offset);

#endif
