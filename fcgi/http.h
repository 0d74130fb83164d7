/* http.h - the request, the route table and the reply helpers of the FastCGI front. */
#ifndef UMS_HTTP_H
#define UMS_HTTP_H

#include <stddef.h>

#include <json-c/json.h>

#include "../core/auth.h"
#include "../util/buf.h"

struct arena;
struct app;

enum http_method {
    M_GET = 1 << 0,
    M_HEAD = 1 << 1,
    M_POST = 1 << 2,
    M_PUT = 1 << 3,
    M_PATCH = 1 << 4,
    M_DELETE = 1 << 5,
    M_OPTIONS = 1 << 6,
};

/* Which error format a route speaks (docs/ARCHITECTURE.md "The error model"). */
enum http_family { FAM_OPS, FAM_AUTH, FAM_API };

/* Errors clients see: a status, a stable error_code and a default message. */
enum http_err {
    HE_NONE, /* no error: req_load and req_read_body's success */
    HE_BAD_REQUEST,
    HE_BAD_JSON,
    HE_VALIDATION,
    HE_NO_AUTH,
    HE_BAD_JWT,
    HE_FORBIDDEN,
    HE_NOT_FOUND,
    HE_METHOD,
    HE_CONFLICT,
    HE_TOO_LARGE,
    HE_URI_TOO_LONG,
    HE_MEDIA,
    HE_RATE,
    HE_HEADER_TOO_LARGE,
    HE_UNEXPECTED,
    HE_UNAVAILABLE,
    /* /auth/v1 outcomes (GoTrue codes) */
    HE_INVALID_CREDENTIALS,
    HE_EMAIL_NOT_CONFIRMED,
    HE_USER_BANNED,        /* 400 on /token */
    HE_USER_BANNED_BEARER, /* 403 on Bearer routes */
    HE_WEAK_PASSWORD,
    HE_USER_EXISTS,
    HE_EMAIL_EXISTS,
    HE_SAME_PASSWORD,
    HE_REFRESH_NOT_FOUND,
    HE_REFRESH_USED,
    HE_SESSION_NOT_FOUND,        /* 400 on refresh */
    HE_SESSION_NOT_FOUND_BEARER, /* 403 on Bearer routes */
    HE_SESSION_EXPIRED,
    HE_NOT_ADMIN,
    HE_USER_NOT_FOUND,        /* 404 */
    HE_USER_NOT_FOUND_BEARER, /* 403: the sub claim names no user */
    HE_USER_LOCKED,
    HE_OTP_EXPIRED,
    HE_UNPROCESSABLE,  /* 422 validation_failed: too large or too deep */
    HE_EMAIL_RATE,     /* 429 over_email_send_rate_limit */
    HE_REAUTH_NEEDED,  /* 400 reauthentication_needed */
    HE_REAUTH_INVALID, /* 400 reauthentication_not_valid */
    /* /api/v1 outcomes */
    HE_EMAIL_TAKEN,          /* 409 email_exists */
    HE_LAST_ADMIN,           /* 409 last_admin */
    HE_IMAGE,                /* 415 unsupported_image */
    HE_FLOW_STATE_NOT_FOUND, /* 404 */
    HE_FLOW_STATE_EXPIRED,   /* 422 */
    HE_BAD_CODE_VERIFIER,    /* 400 */
    HE_SINGLE_IDENTITY,      /* 422 single_identity_not_deletable */
    HE_IDENTITY_NOT_FOUND,   /* 404 */
    HE__MAX
};

#define ROUTE_PARAMS_MAX 4
#define HEADER_MAX       8192 /* longest Authorization (or other) header value we read */
#define QUERY_MAX        8192 /* longest query string */
#define PATH_MAX_BYTES   2048

struct req;
typedef void (*route_fn)(struct req *r);

/* Route flags. */
#define R_JSON         (1u << 0) /* the body, when present, is JSON (415 / 400 bad_json) */
#define R_NEEDS_DB     (1u << 1) /* 503 before the handler when PostgreSQL is unreachable */
#define R_USER_JSON    (1u << 2) /* the authentication also fetches the cached user object */
#define R_PROFILE_JSON (1u << 3) /* ... or the cached /api/v1 user with profile */
#define R_FORM         (1u << 4) /* a JSON route that also takes an HTML form (the body left raw) */
#define R_CLOSED       (1u << 5) /* a body member the route does not declare is an error */

/* A body member a route declares (fields.c). dispatch() checks every one
 * before the handler runs and answers one 400 listing each bad member
 * (field, code, message on /api/v1; the first message on /auth/v1). A null
 * member counts as absent; the handler reads the values, which then have
 * the declared type. */
enum field_type { FT_STRING = 1, FT_OBJECT, FT_BOOL, FT_INT };
#define FIELD_REQUIRED (1u << 0) /* absent or null: code "required" */

struct req;
struct field {
    const char *name; /* NULL ends the list */
    enum field_type type;
    unsigned flags;
    size_t max_bytes; /* FT_STRING: more is "too_long"; 0: only the body cap */
    /* FT_STRING: 1 when the value is good; NULL: any */
    int (*valid)(struct req *r, const char *s, size_t len);
    const char *msg; /* for too_long and invalid; NULL: a generic one */
};

/* Who may call a route; checked by dispatch() after 413 and before the body. */
enum route_auth {
    AUTH_NONE,
    AUTH_USER,            /* a user's access token */
    AUTH_ADMIN,           /* an admin's access token or the service key */
    AUTH_USER_OR_SERVICE, /* a user's access token or the service key */
};

struct route {
    unsigned methods;    /* enum http_method mask; GET implies HEAD */
    const char *pattern; /* "/api/v1/users/{id}": literal segments and {name} captures */
    route_fn fn;
    int family;      /* enum http_family */
    size_t body_max; /* 0: the route takes no body */
    unsigned flags;
    int auth;                   /* enum route_auth */
    const struct field *fields; /* the body members it takes, or NULL: not declared */
};

struct route_param {
    const char *name; /* borrowed from the pattern (not NUL-terminated at '}') */
    size_t name_len;
    const char *value; /* in the request arena */
};

/* Where the request comes from and where the answer goes (FastCGI in production,
 * memory in unit tests). */
struct req_io {
    const char *(*param)(void *h, const char *name);
    int (*read)(void *h, char *buf, int n); /* bytes read, 0 at end */
    int (*write)(void *h, const char *buf, int n);
    void *h;
};

struct req {
    struct app *app;
    struct arena *arena;
    const struct req_io *io;

    unsigned method; /* 0 when the method is not one we know */
    const char *method_name;
    const char *path;  /* without the query */
    const char *query; /* raw, "" when absent */
    const char *content_type;
    const char *authorization;
    const char *request_id;
    char trace_id[33], span_id[17]; /* from a valid traceparent, else "" */
    const char *remote_addr;
    const char *if_none_match; /* NULL when absent */
    int versioned;             /* X-Supabase-Api-Version >= 2024-01-01 */
    long content_length;       /* -1: not given (read to the end, under the cap) */
    int authorizer;            /* the FastCGI AUTHORIZER role: a forward-auth check */
    int authz_only;            /* on [server] authorizer_listen: nothing else is served */

    const struct route *route;
    int family;
    struct route_param params[ROUTE_PARAMS_MAX];
    int nparams;

    const char *body; /* NUL-terminated copy in the arena */
    size_t body_len;
    struct json_object *json; /* parsed body of R_JSON routes; released after the request */

    struct principal who; /* set when the route's auth level passed */
    int authed;

    /* response */
    int status;
    struct buf headers;
    struct buf body_out;
    int replied;
    const char *user_id;

    /* Work to do after the response has gone out, what must not show in
     * the answer's timing: after(after_data), with after_data in the arena
     * (the FastCGI parameters, and so r->io, are gone by then). */
    void (*after)(void *after_data);
    void *after_data;
};

/* ---- http.c: HTTP itself, no request state ---- */

/* Method bit from its name, or 0. */
unsigned http_method_parse(const char *name);

/* Writes "GET, HEAD, POST" for a mask. */
void http_methods_str(struct buf *b, unsigned mask);

/* CONTENT_LENGTH: NULL or "" is -1 (not given: a web server may pass a
 * chunked body without one); otherwise decimal digits only. 0 or UMS_EINVALID. */
int http_content_length(const char *s, long *out);

/* 1 when the Content-Type is application/json (optionally with charset=utf-8). */
int http_is_json(const char *content_type);
/* Content-Type application/x-www-form-urlencoded (any parameters). */
int http_is_form(const char *content_type);

/* 1 when X-Supabase-Api-Version is a date >= 2024-01-01. */
int http_api_versioned(const char *value);

/*
 * 1 when If-None-Match `inm` matches the current representation, whose
 * entity-tag is `etag` ("\"...\""): its condition is then false and a GET
 * or HEAD is answered 304. A match is "*", or a member of the list of
 * entity-tags equal to etag by RFC 9110's weak comparison (13.1.2,
 * 8.8.3.2: the opaque tags alone, W/ on either side ignored). NULL,
 * empty, or malformed anywhere: 0 (the header is ignored, and a full
 * answer is never wrong).
 */
int http_etag_match(const char *inm, const char *etag);

/* Finds `name` in a query string and percent-decodes its value into the arena.
 * Returns 0, UMS_ENOTFOUND, or UMS_EINVALID (bad escape, NUL, invalid UTF-8). */
int http_query_get(struct arena *a, const char *query, const char *name, const char **out);

/* The status of e on a family's routes, and its stable error_code. */
int http_err_status(enum http_err e, int family);
const char *http_err_code(enum http_err e);

/*
 * Renders an error body in the format of `family`: {"code":"...","message":...}
 * (/api/v1, operations, and /auth/v1 with the API version header), or GoTrue's
 * legacy {"code":404,"error_code":"...","msg":"..."}. extra, when not NULL, is
 * rendered JSON members appended to the object ("errors":[...] or
 * "weak_password":{...}). msg NULL uses the default.
 */
int http_error_body(struct buf *out, int family, int versioned, enum http_err e, const char *msg,
                    const char *extra);

/* ---- req.c: one request (helpers that can fail answer: 0 ok, -1 replied) ---- */

/* Fills method, path, query and headers from the io's parameters. Returns
 * HE_NONE, or the error that makes the request unusable. */
enum http_err req_load(struct req *r);

/* Reads exactly content_length bytes into the arena. HE_NONE, HE_TOO_LARGE
 * (no memory for it) or HE_BAD_REQUEST (the body is short). */
enum http_err req_read_body(struct req *r);

/* The value of path parameter `name`, or NULL. */
const char *req_param(const struct req *r, const char *name);

/* Takes a token from the per-IP bucket `scope`; 429 with Retry-After when empty. */
int req_rate(struct req *r, const char *scope, int per_5min);
/* req_rate for the bucket scope:key (an account, not a client address). */
int req_rate_key(struct req *r, const char *scope, const char *key, int per_5min);

/* The Bearer token of the Authorization header, checked; fills r->who. */
int req_authenticate(struct req *r, int level);

/* Client address and user agent for sessions and audit rows. */
void req_client(struct req *r, struct client_info *ci);

/* Where an emailed link sends the browser: the query's redirect_to when
 * [auth] allows it (core/redirect.c), else site_url. Never NULL. */
const char *req_redirect_to(struct req *r);

/* ---- body.c: members of the JSON body (0 ok, -1 replied) ---- */

/* Optional string member of the JSON body: absent or null gives NULL. */
int body_str(struct req *r, const char *name, const char **out, size_t *len);

/* Optional object member rendered as JSON text in the arena (NULL if absent). */
int body_object(struct req *r, const char *name, const char **json);

/* The body must be a JSON object. */
int body_require_object(struct req *r);

/* ---- fields.c ---- */

/* Checks r->json against r->route->fields; 0, or -1 after answering 400. */
int fields_check(struct req *r);

/* Validators for struct field, each one of core's rules: a display name
 * (users_name_valid), a user status, a configured role, a push token and
 * platform, an admin message's title and text (core/notify.h). */
int fields_user_name(struct req *r, const char *s, size_t len);
int fields_user_status(struct req *r, const char *s, size_t len);
int fields_role(struct req *r, const char *s, size_t len);
int fields_device_token(struct req *r, const char *s, size_t len);
int fields_device_platform(struct req *r, const char *s, size_t len);
int fields_message_title(struct req *r, const char *s, size_t len);
int fields_message_text(struct req *r, const char *s, size_t len);

/* ---- router.c ---- */

enum { ROUTER_OK, ROUTER_NOT_FOUND, ROUTER_METHOD };

/* Finds the route for method and path. On ROUTER_OK fills *out and the params
 * (values copied into the arena); on ROUTER_METHOD *allowed is the mask of
 * methods the path accepts. */
int router_match(const struct route *table, size_t n, struct arena *a, unsigned method,
                 const char *path, const struct route **out, struct route_param *params,
                 int *nparams, unsigned *allowed);

/* ---- reply.c: the response ---- */

/* Adds a response header; values with CR, LF or NUL are refused. */
int reply_header(struct req *r, const char *name, const char *value);

/* Sends status, headers and a JSON body (len bytes). */
void reply_json(struct req *r, int status, const char *json, size_t len);
/*
 * A public answer every client gets alike (the JWKS, /auth/v1/settings):
 * 200 with the JSON body, Cache-Control "public, max-age=<max_age>" and a
 * strong ETag derived from the body's bytes (the first 128 bits of their
 * SHA-256 in hex, quoted); 304 Not Modified without a body, with the same
 * ETag and Cache-Control, when the request's If-None-Match matches it
 * (http_etag_match) on a GET or a HEAD.
 */
void reply_cached(struct req *r, const char *json, size_t len, int max_age);
#define REPLY_ETAG_HEX 32 /* hex digits of the SHA-256 kept in the ETag */
/* A page of ums's own (the verification link's): HTML, never framed, a
 * referrer to itself only, nothing loaded from anywhere. */
void reply_html(struct req *r, int status, const char *html, size_t len);
/* reply_html for a page whose form post is answered with a redirect to
 * `target` (an allowed redirect_to): the CSP's form-action, which browsers
 * apply to the redirect too, names that URL's origin as well. */
void reply_html_form(struct req *r, int status, const char *html, size_t len, const char *target);

/* Sends the error e (message msg, or the default). */
/* A body of another type than JSON (the metrics' text). */
void reply_text(struct req *r, int status, const char *type, const char *text, size_t len);
void reply_error(struct req *r, enum http_err e, const char *msg);

/*
 * The one answer for a failed core call. rc UMS_EDENIED: the record e says
 * what (a table maps each failure to its error in the route's family, with
 * Retry-After, GoTrue's weak_password reasons, /api/v1 field errors); an
 * UMS_EDENIED without a record is a bug, answered 500 and logged. Any other
 * rc: not_found, conflict, validation_failed, request_too_large,
 * service_unavailable, unexpected_failure.
 */
void reply_fail(struct req *r, int rc, const struct ums_err *e);

/* 400 validation_failed with errors:[{field, code, message}]; msg NULL is
 * "<field> is not valid". */
void reply_field_error(struct req *r, const char *field, const char *code, const char *msg);

/* Sends the error e with extra JSON members (see http_error_body). */
void reply_error_ex(struct req *r, enum http_err e, const char *msg, const char *extra);

/* A session response {access_token, token_type, expires_in, expires_at,
 * refresh_token, user}, or the bare user when no session was made. */
void reply_auth_out(struct req *r, const struct auth_out *o);

/* ---- dispatch.c ---- */

/* Runs one request through the fixed pipeline (parse, route, limits, body,
 * handler) and always sends exactly one response. */
void dispatch(struct req *r, const struct route *table, size_t n);

/* ---- routes.c ---- */
extern const struct route ums_routes[];
extern const size_t ums_routes_len;

#endif
