/* reply.c - the response: status line, headers, JSON and HTML bodies, and
 * the one mapping from a core result to an error on the wire (reply_fail,
 * docs/ARCHITECTURE.md "The error model"). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/buf.h"
#include "../util/crypto.h"
#include "../util/log.h"
#include "../util/ums.h"
#include "app.h"
#include "http.h"

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}
/* The error for a return code that carries no record. */
static enum http_err from_rc(int rc)
{
    switch (rc) {
    case UMS_ENOTFOUND:
        return HE_NOT_FOUND;
    case UMS_ECONFLICT:
        return HE_CONFLICT;
    case UMS_EINVALID:
        return HE_VALIDATION;
    case UMS_EDENIED:
        return HE_FORBIDDEN;
    case UMS_EUNAVAILABLE:
        return HE_UNAVAILABLE;
    case UMS_ETOOBIG:
        return HE_TOO_LARGE;
    default:
        return HE_UNEXPECTED;
    }
}
/* Whether the handler already set the header ("Name:"). */
static int has_header(const struct req *r, const char *name_colon)
{
    return r->headers.p != NULL && strstr(r->headers.p, name_colon) != NULL;
}
int reply_header(struct req *r, const char *name, const char *value)
{
    if (strpbrk(value, "\r\n") != NULL || strpbrk(name, "\r\n: ") != NULL)
        return UMS_EINVALID;
    return buf_printf(&r->headers, "%s: %s\r\n", name, value);
}
static void reply_body(struct req *r, int status, const char *type, const char *json, size_t len)
{
    struct buf *o = &r->body_out;
    char clen[32];

    if (r->replied)
        return;
    r->replied = 1;
    r->status = status;
    buf_reset(o, 1 << 20);
    if (buf_printf(o, "Status: %d %s\r\n", status, reason(status)) != 0)
        goto fail;
    /* 204 and 304 have no content (RFC 9110 15.3.5, 15.4.5): no type, and
     * no length a client could read as the 200's. */
    if (status != 304 && (len > 0 || status != 204)) {
        snprintf(clen, sizeof(clen), "%zu", len);
        if (buf_printf(o, "Content-Type: %s\r\n", type) != 0 ||
            buf_printf(o, "Content-Length: %s\r\n", clen) != 0)
            goto fail;
    }
    /* Responses are private unless the handler chose a cache policy. */
    if ((r->headers.p == NULL || strstr(r->headers.p, "Cache-Control:") == NULL) &&
        buf_adds(o, "Cache-Control: no-store\r\n") != 0)
        goto fail;
    if (buf_adds(o, "X-Content-Type-Options: nosniff\r\n") != 0)
        goto fail;
    if (r->request_id != NULL && buf_printf(o, "X-Request-Id: %s\r\n", r->request_id) != 0)
        goto fail;
    if (r->family == FAM_AUTH && r->versioned &&
        buf_adds(o, "X-Supabase-Api-Version: 2024-01-01\r\n") != 0)
        goto fail;
    if (r->headers.len > 0 && buf_add(o, r->headers.p, r->headers.len) != 0)
        goto fail;
    if (buf_adds(o, "\r\n") != 0)
        goto fail;
    if (!(r->method & M_HEAD) && status != 304 && len > 0 && buf_add(o, json, len) != 0)
        goto fail;
    r->io->write(r->io->h, o->p, (int)o->len);
    return;
fail:
    log_error("response of %zu bytes does not fit the output buffer", len);
    r->status = 500;
    {
        static const char minimal[] =
            "Status: 500 Internal Server Error\r\n"
            "Content-Type: application/json; charset=utf-8\r\n\r\n"
            "{\"code\":\"unexpected_failure\",\"message\":\"Something went wrong.\"}";
        r->io->write(r->io->h, minimal, (int)sizeof(minimal) - 1);
    }
}
void reply_json(struct req *r, int status, const char *json, size_t len)
{
    reply_body(r, status, "application/json; charset=utf-8", json, len);
}
void reply_cached(struct req *r, const char *json, size_t len, int max_age)
{
    char hex[65], etag[REPLY_ETAG_HEX + 3], cc[48];

    crypto_sha256_hex(hex, json, len);
    snprintf(etag, sizeof(etag), "\"%.*s\"", REPLY_ETAG_HEX, hex);
    snprintf(cc, sizeof(cc), "public, max-age=%d", max_age);
    reply_header(r, "Cache-Control", cc);
    reply_header(r, "ETag", etag);
    /* RFC 9110 13.1.2: a false If-None-Match is 304 on GET and HEAD (these
     * routes take no other method). */
    if ((r->method & (M_GET | M_HEAD)) && http_etag_match(r->if_none_match, etag)) {
        reply_body(r, 304, NULL, NULL, 0);
        return;
    }
    reply_json(r, 200, json, len);
}
#define HTML_CSP_HEAD "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"
#define HTML_CSP_TAIL "; frame-ancestors 'none'; base-uri 'none'"

static void html_headers(struct req *r, const char *csp)
{
    reply_header(r, "Content-Security-Policy", csp);
    reply_header(r, "X-Frame-Options", "DENY");
    /* Not no-referrer: a browser then sends "Origin: null" with the page's
     * own form post, which verify_form must refuse. The page's URL holds a
     * token: same-origin keeps it from every other site. */
    reply_header(r, "Referrer-Policy", "same-origin");
}

void reply_html(struct req *r, int status, const char *html, size_t len)
{
    html_headers(r, HTML_CSP_HEAD HTML_CSP_TAIL);
    reply_body(r, status, "text/html; charset=utf-8", html, len);
}

/* The scheme://host[:port] of url into out when it is plainly one (letters,
 * digits and . - : [ ] only: nothing that could end a CSP source); 0. */
static int csp_origin(const char *url, char *out, size_t n)
{
    const char *p = strstr(url, "://");
    size_t len;

    if (p == NULL || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return -1;
    len = (size_t)(p + 3 - url) + strcspn(p + 3, "/?#");
    if (len >= n || len == (size_t)(p + 3 - url))
        return -1;
    for (size_t i = (size_t)(p + 3 - url); i < len; i++)
        if (!isalnum((unsigned char)url[i]) && strchr(".-:[]", url[i]) == NULL)
            return -1;
    memcpy(out, url, len);
    out[len] = '\0';
    return 0;
}

void reply_html_form(struct req *r, int status, const char *html, size_t len, const char *target)
{
    char origin[300], csp[512];

    if (target != NULL && csp_origin(target, origin, sizeof(origin)) == 0)
        snprintf(csp, sizeof(csp), "%s %s%s", HTML_CSP_HEAD, origin, HTML_CSP_TAIL);
    else
        snprintf(csp, sizeof(csp), "%s", HTML_CSP_HEAD HTML_CSP_TAIL);
    html_headers(r, csp);
    reply_body(r, status, "text/html; charset=utf-8", html, len);
}
void reply_text(struct req *r, int status, const char *type, const char *text, size_t len)
{
    reply_body(r, status, type, text, len);
}
void reply_error(struct req *r, enum http_err e, const char *msg)
{
    reply_error_ex(r, e, msg, NULL);
}
void reply_error_ex(struct req *r, enum http_err e, const char *msg, const char *extra)
{
    struct buf body;
    int status;

    if (e <= HE_NONE || e >= HE__MAX)
        e = HE_UNEXPECTED;
    status = http_err_status(e, r->family);
    buf_init(&body, 8192);
    if (r->family == FAM_AUTH && !r->versioned)
        reply_header(r, "x-sb-error-code", http_err_code(e));
    if ((e == HE_UNAVAILABLE || e == HE_RATE || e == HE_EMAIL_RATE) &&
        !has_header(r, "Retry-After:"))
        reply_header(r, "Retry-After", "5");
    /* RFC 6750 section 3: no credentials, a bare challenge; a credential
     * that is not (or no longer) good, invalid_token. */
    if (status == 401 && !has_header(r, "WWW-Authenticate:"))
        reply_header(r, "WWW-Authenticate",
                     e == HE_NO_AUTH ? "Bearer" : "Bearer error=\"invalid_token\"");
    if (http_error_body(&body, r->family, r->versioned, e, msg, extra) != 0) {
        buf_reset(&body, 0);
        http_error_body(&body, r->family, r->versioned, e, NULL, NULL);
    }
    reply_json(r, status, body.p, body.len);
    buf_free(&body);
}
void reply_field_error(struct req *r, const char *field, const char *code, const char *msg)
{
    struct buf extra;
    char dflt[128];

    if (msg == NULL) {
        snprintf(dflt, sizeof(dflt), "%s is not valid", field);
        msg = dflt;
    }
    buf_init(&extra, 1024);
    buf_adds(&extra, "\"errors\":[{\"field\":");
    buf_add_json_str(&extra, field);
    buf_adds(&extra, ",\"code\":");
    buf_add_json_str(&extra, code);
    buf_adds(&extra, ",\"message\":");
    buf_add_json_str(&extra, msg);
    buf_adds(&extra, "}]");
    reply_error_ex(r, HE_VALIDATION, msg, extra.p);
    buf_free(&extra);
}
/*
 * What each failure of the record is on the wire: the error on /auth/v1
 * (GoTrue's) and on /api/v1 and the operational routes. http_err carries
 * each family's status (errs[] in http.c); field_code, when set, makes the
 * /api/v1 answer a field error (errors:[{field, code, message}]) naming the
 * record's field, or `field` when the record names none.
 */
/* clang-format off */
static const struct {
    enum http_err auth, api;
    const char *field_code, *field;
} fails[FAIL__MAX] = {
    [FAIL_NONE]                = {HE_UNEXPECTED,               HE_UNEXPECTED, NULL, NULL},
    [FAIL_VALIDATION]          = {HE_VALIDATION,               HE_VALIDATION, "invalid", NULL},
    [FAIL_WEAK_PASSWORD]       = {HE_WEAK_PASSWORD,            HE_VALIDATION, "weak_password",
                                  "password"},
    [FAIL_USER_EXISTS]         = {HE_USER_EXISTS,              HE_EMAIL_TAKEN, NULL, NULL},
    [FAIL_EMAIL_EXISTS]        = {HE_EMAIL_EXISTS,             HE_EMAIL_TAKEN, NULL, NULL},
    [FAIL_INVALID_CREDENTIALS] = {HE_INVALID_CREDENTIALS,      HE_INVALID_CREDENTIALS, NULL, NULL},
    [FAIL_EMAIL_NOT_CONFIRMED] = {HE_EMAIL_NOT_CONFIRMED,      HE_EMAIL_NOT_CONFIRMED, NULL, NULL},
    [FAIL_USER_BANNED]         = {HE_USER_BANNED,              HE_USER_BANNED, NULL, NULL},
    [FAIL_TOKEN_USER_BANNED]   = {HE_USER_BANNED_BEARER,       HE_USER_BANNED_BEARER, NULL, NULL},
    [FAIL_USER_LOCKED]         = {HE_USER_LOCKED,              HE_USER_LOCKED, NULL, NULL},
    [FAIL_REFRESH_NOT_FOUND]   = {HE_REFRESH_NOT_FOUND,        HE_REFRESH_NOT_FOUND, NULL, NULL},
    [FAIL_REFRESH_USED]        = {HE_REFRESH_USED,             HE_REFRESH_USED, NULL, NULL},
    [FAIL_SESSION_NOT_FOUND]   = {HE_SESSION_NOT_FOUND,        HE_SESSION_NOT_FOUND, NULL, NULL},
    [FAIL_TOKEN_SESSION_GONE]  = {HE_SESSION_NOT_FOUND_BEARER, HE_SESSION_NOT_FOUND_BEARER, NULL,
                                  NULL},
    [FAIL_SESSION_EXPIRED]     = {HE_SESSION_EXPIRED,          HE_SESSION_EXPIRED, NULL, NULL},
    [FAIL_BAD_JWT]             = {HE_BAD_JWT,                  HE_BAD_JWT, NULL, NULL},
    [FAIL_USER_NOT_FOUND]      = {HE_USER_NOT_FOUND,           HE_NOT_FOUND, NULL, NULL},
    [FAIL_TOKEN_USER_GONE]     = {HE_USER_NOT_FOUND_BEARER,    HE_USER_NOT_FOUND_BEARER, NULL,
                                  NULL},
    [FAIL_SAME_PASSWORD]       = {HE_SAME_PASSWORD,            HE_SAME_PASSWORD, NULL, NULL},
    [FAIL_OTP_EXPIRED]         = {HE_OTP_EXPIRED,              HE_OTP_EXPIRED, NULL, NULL},
    [FAIL_FORBIDDEN]           = {HE_FORBIDDEN,                HE_FORBIDDEN, NULL, NULL},
    [FAIL_LAST_ADMIN]          = {HE_LAST_ADMIN,               HE_LAST_ADMIN, NULL, NULL},
    [FAIL_METADATA_TOO_LARGE]  = {HE_UNPROCESSABLE,            HE_UNPROCESSABLE, NULL, NULL},
    [FAIL_EMAIL_RATE]          = {HE_EMAIL_RATE,               HE_EMAIL_RATE, NULL, NULL},
    [FAIL_RATE]                = {HE_RATE,                     HE_RATE, NULL, NULL},
    [FAIL_REAUTH_NEEDED]       = {HE_REAUTH_NEEDED,            HE_REAUTH_NEEDED, NULL, NULL},
    [FAIL_REAUTH_INVALID]      = {HE_REAUTH_INVALID,           HE_REAUTH_INVALID, NULL, NULL},
    [FAIL_IMAGE]               = {HE_IMAGE,                    HE_IMAGE, NULL, NULL},
    [FAIL_FLOW_STATE_NOT_FOUND] = {HE_FLOW_STATE_NOT_FOUND,    HE_FLOW_STATE_NOT_FOUND, NULL, NULL},
    [FAIL_FLOW_STATE_EXPIRED]  = {HE_FLOW_STATE_EXPIRED,       HE_FLOW_STATE_EXPIRED, NULL, NULL},
    [FAIL_BAD_CODE_VERIFIER]   = {HE_BAD_CODE_VERIFIER,        HE_BAD_CODE_VERIFIER, NULL, NULL},
    [FAIL_SINGLE_IDENTITY]     = {HE_SINGLE_IDENTITY,          HE_SINGLE_IDENTITY, NULL, NULL},
    [FAIL_IDENTITY_NOT_FOUND]  = {HE_IDENTITY_NOT_FOUND,       HE_IDENTITY_NOT_FOUND, NULL, NULL},
};
/* clang-format on */
void reply_fail(struct req *r, int rc, const struct ums_err *e)
{
    enum http_err he;
    const char *field;
    char ra[16];

    if (rc != UMS_EDENIED) {
        reply_error(r, from_rc(rc), NULL);
        return;
    }
    if (e == NULL || e->fail <= FAIL_NONE || e->fail >= FAIL__MAX) {
        /* Every UMS_EDENIED comes with its record: this is a bug. */
        log_error("%s %s: refused without a reason", r->method_name ? r->method_name : "?",
                  r->path ? r->path : "?");
        reply_error(r, HE_UNEXPECTED, NULL);
        return;
    }
    if (e->retry_after > 0) {
        snprintf(ra, sizeof(ra), "%d", e->retry_after);
        reply_header(r, "Retry-After", ra);
    }
    if (r->family != FAM_AUTH) {
        he = fails[e->fail].api;
        field = e->field != NULL ? e->field : fails[e->fail].field;
        if (fails[e->fail].field_code != NULL && field != NULL)
            reply_field_error(r, field,
                              e->fail == FAIL_VALIDATION && e->reason != NULL
                                  ? e->reason
                                  : fails[e->fail].field_code,
                              e->msg);
        else
            reply_error(r, he, e->msg);
        return;
    }
    he = fails[e->fail].auth;
    if (he == HE_WEAK_PASSWORD) {
        char extra[128];
        snprintf(extra, sizeof(extra), "\"weak_password\":{\"reasons\":[\"%s\"]}",
                 e->reason != NULL ? e->reason : "length");
        reply_error_ex(r, he, e->msg, extra);
        return;
    }
    reply_error(r, he, e->msg);
}

void reply_auth_out(struct req *r, const struct auth_out *o)
{
    struct buf b;
    int rc;

    buf_init(&b, 1 << 20);
    if (!o->has_session) {
        reply_json(r, 200, o->user_json, strlen(o->user_json));
        return;
    }
    buf_adds(&b, "{\"access_token\":");
    buf_add_json_strn(&b, o->access_token.p, o->access_token.len);
    buf_printf(&b,
               ",\"token_type\":\"bearer\",\"expires_in\":%d,\"expires_at\":%ld,"
               "\"refresh_token\":\"%s\",\"user\":",
               o->expires_in, o->expires_at, o->refresh_token);
    rc = buf_adds(&b, o->user_json);
    /* After an OAuth sign-in: the provider's tokens, for the app's own calls. */
    if (o->provider_token != NULL)
        rc |= buf_adds(&b, ",\"provider_token\":") | buf_add_json_str(&b, o->provider_token);
    if (o->provider_refresh_token != NULL)
        rc |= buf_adds(&b, ",\"provider_refresh_token\":") |
              buf_add_json_str(&b, o->provider_refresh_token);
    if ((rc | buf_addc(&b, '}')) != 0) {
        buf_free(&b);
        reply_error(r, HE_UNEXPECTED, NULL);
        return;
    }
    reply_json(r, 200, b.p, b.len);
    buf_free(&b);
}
