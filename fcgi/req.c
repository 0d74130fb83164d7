/* req.c - one request: its FastCGI parameters (req_load), its capped body,
 * its path parameters, who sends it (req_authenticate, req_client) and its
 * rate buckets. The helpers that can fail answer for themselves (0 ok, -1
 * replied). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "../core/bucket.h"
#include "../core/config.h"
#include "../core/redirect.h"
#include "../util/arena.h"
#include "../util/log.h"
#include "../util/ums.h"
#include "../util/utf8.h"
#include "app.h"
#include "http.h"

/* A header we keep; NULL when absent. Oversized values are reported. */
static const char *header(struct req *r, const char *name, int *too_big)
{
    const char *v = r->io->param(r->io->h, name);

    if (v != NULL && strlen(v) > HEADER_MAX)
        *too_big = 1;
    return v;
}
/* X-Request-Id from the web server when it is sane (nginx's 32 hex digits,
 * Apache's mod_unique_id), else a fresh random one; in the arena either
 * way, since the FastCGI parameters are gone once the answer is out and the
 * work deferred after it (r->after) still logs under this id. */
static const char *request_id(struct req *r, const char *given)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char rnd[16];
    char *id;
    size_t n = given != NULL ? strlen(given) : 0;
    int ok = n > 0 && n <= 128;

    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)given[i]) || given[i] == '-' || given[i] == '_' ||
             given[i] == '.' || given[i] == '@'; /* '@': Apache's mod_unique_id */
    if (ok)
        return arena_strndup(r->arena, given, n);
    id = arena_alloc(r->arena, 33);
    if (id == NULL)
        return NULL;
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        memset(rnd, 0, sizeof(rnd));
    for (size_t i = 0; i < sizeof(rnd); i++) {
        id[2 * i] = hex[rnd[i] >> 4];
        id[2 * i + 1] = hex[rnd[i] & 15];
    }
    id[32] = '\0';
    return id;
}
/* A W3C traceparent ("00-<32 hex trace id>-<16 hex parent id>-<2 hex
 * flags>", lower case; the ids not all zeros) from the client or the web
 * server: its ids go into the log lines of the request. Anything else is
 * ignored. */
static void trace_context(struct req *r, const char *tp)
{
    size_t n = tp != NULL ? strlen(tp) : 0;
    int ok = n >= 55 && tp[2] == '-' && tp[35] == '-' && tp[52] == '-' &&
             (n == 55 || (tp[55] == '-' && !(tp[0] == '0' && tp[1] == '0'))) &&
             !(tp[0] == 'f' && tp[1] == 'f');
    int nz_trace = 0, nz_span = 0;

    for (size_t i = 0; ok && i < 55; i++) {
        if (i == 2 || i == 35 || i == 52)
            continue;
        ok = (tp[i] >= '0' && tp[i] <= '9') || (tp[i] >= 'a' && tp[i] <= 'f');
        if (i > 2 && i < 35)
            nz_trace |= tp[i] != '0';
        else if (i > 35 && i < 52)
            nz_span |= tp[i] != '0';
    }
    if (!ok || !nz_trace || !nz_span)
        return;
    memcpy(r->trace_id, tp + 3, 32);
    r->trace_id[32] = '\0';
    memcpy(r->span_id, tp + 36, 16);
    r->span_id[16] = '\0';
}

/* The FastCGI role. An AUTHORIZER request (mod_authnz_fcgi, mod_fcgid's
 * FcgidAuthorizer) asks whether the client may have the resource it names:
 * it is answered as GET /auth/v1/check, whatever that resource is, and it
 * has no body (mod_authnz_fcgi sends none at all: reading would wait).
 * The authorizer port serves nothing else. */
static enum http_err load_role(struct req *r)
{
    const char *role = r->io->param(r->io->h, "FCGI_ROLE");

    if (role != NULL && strcmp(role, "AUTHORIZER") == 0) {
        r->authorizer = 1;
        r->path = "/auth/v1/check";
        r->query = "";
        r->method = M_GET;
        r->method_name = "GET";
        r->content_length = 0;
    } else if (role != NULL && strcmp(role, "RESPONDER") != 0) {
        return HE_BAD_REQUEST;
    }
    if (r->authz_only && !r->authorizer)
        return HE_FORBIDDEN;
    return HE_NONE;
}

enum http_err req_load(struct req *r)
{
    const char *uri, *q, *given;
    int too_big = 0;
    size_t plen;

    r->query = "";
    r->method_name = r->io->param(r->io->h, "REQUEST_METHOD");
    r->method = http_method_parse(r->method_name);
    if (r->method_name == NULL)
        r->method_name = "";
    /* An authorizer request is sent before Apache sets X-Request-Id; the
     * id it is made from is in its environment. */
    given = r->io->param(r->io->h, "HTTP_X_REQUEST_ID");
    r->request_id = request_id(r, given != NULL ? given : r->io->param(r->io->h, "UNIQUE_ID"));
    r->remote_addr = r->io->param(r->io->h, "REMOTE_ADDR");
    trace_context(r, r->io->param(r->io->h, "HTTP_TRACEPARENT"));
    r->content_type = header(r, "CONTENT_TYPE", &too_big);
    r->authorization = header(r, "HTTP_AUTHORIZATION", &too_big);
    /* Only compared (reply_cached), never kept: no size cap, no 431. */
    r->if_none_match = r->io->param(r->io->h, "HTTP_IF_NONE_MATCH");
    r->versioned = http_api_versioned(r->io->param(r->io->h, "HTTP_X_SUPABASE_API_VERSION"));
    if (too_big)
        return HE_HEADER_TOO_LARGE;
    if (r->content_type != NULL && *r->content_type == '\0')
        r->content_type = NULL;

    /* REQUEST_URI is what the client sent; the path stops at '?'. */
    uri = r->io->param(r->io->h, "REQUEST_URI");
    if (uri == NULL)
        uri = r->io->param(r->io->h, "DOCUMENT_URI");
    if (uri == NULL || uri[0] != '/')
        return HE_BAD_REQUEST;
    q = strchr(uri, '?');
    plen = q != NULL ? (size_t)(q - uri) : strlen(uri);
    if (plen > PATH_MAX_BYTES)
        return HE_URI_TOO_LONG;
    r->path = arena_strndup(r->arena, uri, plen);
    if (r->path == NULL)
        return HE_UNEXPECTED;
    if (q != NULL) {
        if (strlen(q + 1) > QUERY_MAX)
            return HE_URI_TOO_LONG;
        r->query = q + 1;
    }
    if (http_content_length(r->io->param(r->io->h, "CONTENT_LENGTH"), &r->content_length) != UMS_OK)
        return HE_BAD_REQUEST;
    return load_role(r);
}
/* A body without CONTENT_LENGTH (a chunked request a web server passed on
 * as it came): read to the end of the stream, never more than the route's
 * cap. A route that takes no body reads nothing. */
static enum http_err read_to_end(struct req *r)
{
    size_t cap = r->route != NULL ? r->route->body_max : 0, got = 0;
    char *b;
    int n;

    if (cap == 0)
        return HE_NONE;
    b = arena_alloc(r->arena, cap + 2);
    if (b == NULL)
        return HE_TOO_LARGE;
    while (got <= cap) {
        size_t want = cap + 1 - got;
        n = r->io->read(r->io->h, b + got, want > 65536 ? 65536 : (int)want);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got > cap)
        return HE_TOO_LARGE;
    b[got] = '\0';
    r->body = b;
    r->body_len = got;
    return HE_NONE;
}

enum http_err req_read_body(struct req *r)
{
    char *b;
    size_t got = 0;
    int n;

    r->body = "";
    r->body_len = 0;
    if (r->content_length < 0)
        return read_to_end(r);
    if (r->content_length == 0)
        return HE_NONE;
    b = arena_alloc(r->arena, (size_t)r->content_length + 1);
    if (b == NULL)
        return HE_TOO_LARGE;
    while (got < (size_t)r->content_length) {
        size_t want = (size_t)r->content_length - got;
        n = r->io->read(r->io->h, b + got, want > 65536 ? 65536 : (int)want);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    b[got] = '\0';
    if (got != (size_t)r->content_length)
        return HE_BAD_REQUEST;
    r->body = b;
    r->body_len = got;
    return HE_NONE;
}

const char *req_param(const struct req *r, const char *name)
{
    size_t n = strlen(name);

    for (int i = 0; i < r->nparams; i++)
        if (r->params[i].name_len == n && memcmp(r->params[i].name, name, n) == 0)
            return r->params[i].value;
    return NULL;
}

int req_rate_key(struct req *r, const char *scope, const char *key, int per_5min)
{
    struct ums_err err = {0};
    /* Buckets in front of a credential check do not open on a Redis error. */
    enum bucket_on_error on_error =
        strcmp(scope, "token") == 0 || strcmp(scope, "verify") == 0 ? BUCKET_CLOSED : BUCKET_OPEN;
    int rc = bucket_take(&r->app->ctx, scope, key, per_5min, on_error, &err);

    if (rc == UMS_OK)
        return 0;
    reply_fail(r, rc, &err);
    return -1;
}
int req_rate(struct req *r, const char *scope, int per_5min)
{
    char key[BUCKET_IP_KEY_MAX];

    bucket_ip_key(key, r->remote_addr);
    return req_rate_key(r, scope, key, per_5min);
}
int req_authenticate(struct req *r, int level)
{
    struct ums_err err = {0};
    const char *h = r->authorization, *tok;
    int rc;

    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
        reply_error(r, HE_NO_AUTH, "This endpoint requires a Bearer token");
        return -1;
    }
    tok = h + 7;
    while (*tok == ' ')
        tok++;
    if (r->route != NULL && (r->route->flags & R_USER_JSON))
        rc = auth_bearer_user(&r->app->ctx, tok, strlen(tok), &r->who, &err);
    else if (r->route != NULL && (r->route->flags & R_PROFILE_JSON))
        rc = auth_bearer_profile(&r->app->ctx, tok, strlen(tok), &r->who, &err);
    else
        rc = auth_bearer(&r->app->ctx, tok, strlen(tok), &r->who, &err);
    if (rc != UMS_OK) {
        reply_fail(r, rc, &err);
        return -1;
    }
    if (level == AUTH_ADMIN && strcmp(r->who.role, "admin") != 0) {
        reply_error(r, r->family == FAM_API ? HE_FORBIDDEN : HE_NOT_ADMIN, NULL);
        return -1;
    }
    if (level == AUTH_USER && r->who.service) {
        /* The service key is not a user: routes about "the current user" need
         * one. GoTrue's answer on /auth/v1; on /api/v1 a good credential
         * without the right is 403 forbidden. */
        reply_error(r, r->family == FAM_API ? HE_FORBIDDEN : HE_SESSION_NOT_FOUND_BEARER,
                    "This endpoint needs a user's access token");
        return -1;
    }
    r->authed = 1;
    if (!r->who.service)
        r->user_id = r->who.user_id;
    return 0;
}
const char *req_redirect_to(struct req *r)
{
    const char *v = NULL;

    if (http_query_get(r->arena, r->query, "redirect_to", &v) == UMS_OK &&
        redirect_allowed(r->app->ctx.cfg, v))
        return v;
    return r->app->ctx.cfg->auth.site_url;
}

#define USER_AGENT_MAX 512
void req_client(struct req *r, struct client_info *ci)
{
    const char *ua = r->io->param(r->io->h, "HTTP_USER_AGENT");
    char *clean;

    ci->ip = r->remote_addr;
    ci->user_agent = "";
    if (ua == NULL)
        return;
    /* Stored with the session and shown in alerts: valid UTF-8 without
     * control characters, at most 512 bytes, whatever the client sent. */
    if (strlen(ua) <= USER_AGENT_MAX && utf8_text_valid(ua, strlen(ua), USER_AGENT_MAX, 0)) {
        ci->user_agent = ua;
        return;
    }
    clean = arena_alloc(r->arena, USER_AGENT_MAX + 1);
    if (clean != NULL) {
        utf8_clean(clean, USER_AGENT_MAX + 1, ua);
        ci->user_agent = clean;
    }
}
