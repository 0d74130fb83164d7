/* response.c - status, headers, JSON bodies, and the one mapping from errors
 * to HTTP statuses and error bodies (both formats of DESIGN.md). */
#include <stdio.h>
#include <string.h>

#include "../core/log.h"
#include "../core/ums.h"
#include "http.h"

static const struct {
    int status;
    const char *code;
    const char *msg;
} errs[HE__MAX] = {
    [HE_BAD_REQUEST] = {400, "bad_request", "The request is malformed."},
    [HE_BAD_JSON] = {400, "bad_json", "The request body is not valid JSON."},
    [HE_VALIDATION] = {400, "validation_failed", "The request is invalid."},
    [HE_NO_AUTH] = {401, "no_authorization", "This endpoint requires a Bearer token."},
    [HE_BAD_JWT] = {403, "bad_jwt", "The access token is invalid."},
    [HE_FORBIDDEN] = {403, "forbidden", "You may not do this."},
    [HE_NOT_FOUND] = {404, "not_found", "No such resource."},
    [HE_METHOD] = {405, "method_not_allowed", "This method is not allowed here."},
    [HE_CONFLICT] = {409, "conflict", "The resource already exists or was changed."},
    [HE_TOO_LARGE] = {413, "request_too_large", "The request body is too large."},
    [HE_URI_TOO_LONG] = {414, "uri_too_long", "The request URI is too long."},
    [HE_MEDIA] = {415, "unsupported_media_type", "The body must be application/json."},
    [HE_RATE] = {429, "over_request_rate_limit", "Too many requests; retry later."},
    [HE_HEADER_TOO_LARGE] = {431, "request_header_too_large", "A request header is too large."},
    [HE_UNEXPECTED] = {500, "unexpected_failure", "Something went wrong."},
    [HE_UNAVAILABLE] = {503, "service_unavailable", "The service is unavailable; retry later."},
};

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 303: return "See Other";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

int http_err_status(enum http_err e)
{
    return e < HE__MAX ? errs[e].status : 500;
}

const char *http_err_code(enum http_err e)
{
    return e < HE__MAX ? errs[e].code : "unexpected_failure";
}

enum http_err http_err_from_rc(int rc)
{
    switch (rc) {
    case UMS_ENOTFOUND: return HE_NOT_FOUND;
    case UMS_ECONFLICT: return HE_CONFLICT;
    case UMS_EINVALID: return HE_VALIDATION;
    case UMS_EDENIED: return HE_FORBIDDEN;
    case UMS_EUNAVAILABLE: return HE_UNAVAILABLE;
    case UMS_ETOOBIG: return HE_TOO_LARGE;
    default: return HE_UNEXPECTED;
    }
}

int http_error_body(struct buf *out, int family, int versioned, enum http_err e, const char *msg,
                    const char *errors_json)
{
    int rc;

    if (e >= HE__MAX)
        e = HE_UNEXPECTED;
    if (msg == NULL)
        msg = errs[e].msg;
    if (family == FAM_AUTH && !versioned) {
        rc = buf_printf(out, "{\"code\":%d,\"error_code\":\"%s\",\"msg\":", errs[e].status,
                        errs[e].code);
        if (rc == 0)
            rc = buf_add_json_str(out, msg);
    } else {
        rc = buf_printf(out, "{\"code\":\"%s\",\"message\":", errs[e].code);
        if (rc == 0)
            rc = buf_add_json_str(out, msg);
        if (rc == 0 && errors_json != NULL && family != FAM_AUTH)
            rc = buf_printf(out, ",\"errors\":%s", errors_json);
    }
    if (rc == 0)
        rc = buf_addc(out, '}');
    return rc;
}

int reply_header(struct req *r, const char *name, const char *value)
{
    if (strpbrk(value, "\r\n") != NULL || strpbrk(name, "\r\n: ") != NULL)
        return UMS_EINVALID;
    return buf_printf(&r->headers, "%s: %s\r\n", name, value);
}

void reply_json(struct req *r, int status, const char *json, size_t len)
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
    if (len > 0 || status != 204) {
        snprintf(clen, sizeof(clen), "%zu", len);
        if (buf_adds(o, "Content-Type: application/json; charset=utf-8\r\n") != 0 ||
            buf_printf(o, "Content-Length: %s\r\n", clen) != 0)
            goto fail;
    }
    if (buf_adds(o, "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n") != 0)
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
    if (!(r->method & M_HEAD) && len > 0 && buf_add(o, json, len) != 0)
        goto fail;
    r->io->write(r->io->h, o->p, (int)o->len);
    return;
fail:
    log_error("response of %zu bytes does not fit the output buffer", len);
    r->status = 500;
    {
        static const char minimal[] = "Status: 500 Internal Server Error\r\n"
                                      "Content-Type: application/json; charset=utf-8\r\n\r\n"
                                      "{\"code\":\"unexpected_failure\",\"message\":\"Something went wrong.\"}";
        r->io->write(r->io->h, minimal, (int)sizeof(minimal) - 1);
    }
}

void reply_error(struct req *r, enum http_err e, const char *msg)
{
    struct buf body;

    if (e >= HE__MAX)
        e = HE_UNEXPECTED;
    buf_init(&body, 8192);
    if (r->family == FAM_AUTH && !r->versioned)
        reply_header(r, "x-sb-error-code", errs[e].code);
    if (e == HE_UNAVAILABLE || e == HE_RATE)
        reply_header(r, "Retry-After", "5");
    if (http_error_body(&body, r->family, r->versioned, e, msg, NULL) != 0) {
        buf_reset(&body, 0);
        http_error_body(&body, r->family, r->versioned, e, NULL, NULL);
    }
    reply_json(r, errs[e].status, body.p, body.len);
    buf_free(&body);
}

void reply_rc(struct req *r, int rc)
{
    reply_error(r, http_err_from_rc(rc), NULL);
}
