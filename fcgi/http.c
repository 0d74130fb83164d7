/* http.c - HTTP itself: methods, Content-Length and Content-Type, the
 * Supabase API version header, If-None-Match against an entity-tag, query
 * strings, and each error's status, error_code, default message and body
 * in both formats (docs/ARCHITECTURE.md "The error model"). No request
 * state: the functions take values. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/arena.h"
#include "../util/buf.h"
#include "../util/crypto.h"
#include "../util/ums.h"
#include "../util/utf8.h"
#include "http.h"

static const struct {
    const char *name;
    unsigned bit;
} methods[] = {
    {"GET", M_GET},     {"HEAD", M_HEAD},     {"POST", M_POST},       {"PUT", M_PUT},
    {"PATCH", M_PATCH}, {"DELETE", M_DELETE}, {"OPTIONS", M_OPTIONS},
};
unsigned http_method_parse(const char *name)
{
    if (name == NULL)
        return 0;
    for (size_t i = 0; i < UMS_ARRAY_LEN(methods); i++)
        if (strcmp(name, methods[i].name) == 0)
            return methods[i].bit;
    return 0;
}
void http_methods_str(struct buf *b, unsigned mask)
{
    int first = 1;

    for (size_t i = 0; i < UMS_ARRAY_LEN(methods); i++) {
        if (!(mask & methods[i].bit))
            continue;
        buf_printf(b, "%s%s", first ? "" : ", ", methods[i].name);
        first = 0;
    }
}
int http_content_length(const char *s, long *out)
{
    long v = 0;

    *out = -1;
    if (s == NULL || *s == '\0')
        return UMS_OK;
    *out = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (!isdigit((unsigned char)*p) || p - s >= 18)
            return UMS_EINVALID;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return UMS_OK;
}
int http_is_form(const char *ct)
{
    static const char form[] = "application/x-www-form-urlencoded";
    size_t n = sizeof(form) - 1;

    return ct != NULL && strncasecmp(ct, form, n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}
int http_is_json(const char *ct)
{
    const char *p;

    if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0)
        return 0;
    p = ct + 16;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0')
        return 1;
    if (*p != ';')
        return 0;
    /* Parameters: only charset=utf-8 (any case, optionally quoted) is accepted. */
    p++;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, "charset=", 8) != 0)
        return 0;
    p += 8;
    if (strncasecmp(p, "utf-8", 5) == 0)
        p += 5;
    else if (strncasecmp(p, "\"utf-8\"", 7) == 0)
        p += 7;
    else
        return 0;
    while (*p == ' ' || *p == '\t')
        p++;
    return *p == '\0';
}
int http_api_versioned(const char *v)
{
    if (v == NULL || strlen(v) != 10)
        return 0;
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7) {
            if (v[i] != '-')
                return 0;
        } else if (!isdigit((unsigned char)v[i])) {
            return 0;
        }
    }
    return strcmp(v, "2024-01-01") >= 0;
}
/* RFC 9110 5.6.1: optional whitespace. */
static const char *ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}
/* RFC 9110 8.8.3: etagc = %x21 / %x23-7E / obs-text. */
static int etagc(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c != 0x7f);
}
int http_etag_match(const char *inm, const char *etag)
{
    const char *p, *tag;
    size_t elen;
    int hit = 0;

    if (inm == NULL || etag == NULL)
        return 0;
    /* etag's opaque tag without its quotes: the weak comparison ignores W/. */
    if (strncmp(etag, "W/", 2) == 0)
        etag += 2;
    elen = strlen(etag);
    if (elen < 2 || etag[0] != '"' || etag[elen - 1] != '"')
        return 0;
    etag++;
    elen -= 2;
    p = ows(inm);
    if (*p == '*')
        return *ows(p + 1) == '\0';
    /* #entity-tag: empty members are allowed (RFC 9110 5.6.1.2). */
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '\0')
            return hit;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (*p != '"')
            return 0;
        tag = ++p;
        while (*p != '"') {
            if (!etagc((unsigned char)*p))
                return 0; /* includes the NUL of an unclosed tag */
            p++;
        }
        if ((size_t)(p - tag) == elen && memcmp(tag, etag, elen) == 0)
            hit = 1;
        p = ows(p + 1);
        if (*p != ',' && *p != '\0')
            return 0;
    }
}
/* Percent-decodes s[0..n) into the arena ('+' is a space). */
static int decode(struct arena *a, const char *s, size_t n, const char **out)
{
    char *d = arena_alloc(a, n + 1);
    size_t o = 0;

    if (d == NULL)
        return UMS_ERR;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi, lo;
            if (n - i < 3)
                return UMS_EINVALID;
            hi = crypto_hex_value((unsigned char)s[i + 1]);
            lo = crypto_hex_value((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return UMS_EINVALID;
            d[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            d[o++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    d[o] = '\0';
    if (!utf8_valid(d, o))
        return UMS_EINVALID;
    *out = d;
    return UMS_OK;
}
int http_query_get(struct arena *a, const char *query, const char *name, const char **out)
{
    size_t nlen = strlen(name);
    const char *p = query;

    *out = NULL;
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, '&');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t klen = eq != NULL ? (size_t)(eq - p) : len;

        if (klen == nlen && memcmp(p, name, nlen) == 0) {
            if (eq == NULL)
                return decode(a, "", 0, out);
            return decode(a, eq + 1, len - klen - 1, out);
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return UMS_ENOTFOUND;
}

/* status is /auth/v1's (GoTrue's); api_status, when set, is the status on
 * /api/v1 and the operational routes. They differ where GoTrue answers 403
 * for a dead credential: RFC 6750 says 401, and clients of /api/v1 read 401
 * as "refresh or sign in again", 403 as "signed in, but not allowed". */
static const struct {
    int status;
    int api_status;
    const char *code;
    const char *msg;
} errs[HE__MAX] = {
    [HE_BAD_REQUEST] = {400, 0, "bad_request", "The request is malformed."},
    [HE_BAD_JSON] = {400, 0, "bad_json", "The request body is not valid JSON."},
    [HE_VALIDATION] = {400, 0, "validation_failed", "The request is invalid."},
    [HE_NO_AUTH] = {401, 0, "no_authorization", "This endpoint requires a Bearer token."},
    [HE_BAD_JWT] = {403, 401, "bad_jwt", "The access token is invalid."},
    [HE_FORBIDDEN] = {403, 0, "forbidden", "You may not do this."},
    [HE_NOT_FOUND] = {404, 0, "not_found", "No such resource."},
    [HE_METHOD] = {405, 0, "method_not_allowed", "This method is not allowed here."},
    [HE_CONFLICT] = {409, 0, "conflict", "The resource already exists or was changed."},
    [HE_TOO_LARGE] = {413, 0, "request_too_large", "The request body is too large."},
    [HE_URI_TOO_LONG] = {414, 0, "uri_too_long", "The request URI is too long."},
    [HE_MEDIA] = {415, 0, "unsupported_media_type", "The body must be application/json."},
    [HE_RATE] = {429, 0, "over_request_rate_limit", "Request rate limit reached"},
    [HE_HEADER_TOO_LARGE] = {431, 0, "request_header_too_large", "A request header is too large."},
    [HE_UNEXPECTED] = {500, 0, "unexpected_failure", "Something went wrong."},
    [HE_UNAVAILABLE] = {503, 0, "service_unavailable", "The service is unavailable; retry later."},
    [HE_INVALID_CREDENTIALS] = {400, 0, "invalid_credentials", "Invalid login credentials"},
    [HE_EMAIL_NOT_CONFIRMED] = {400, 0, "email_not_confirmed", "Email not confirmed"},
    [HE_USER_BANNED] = {400, 0, "user_banned", "User is banned"},
    [HE_USER_BANNED_BEARER] = {403, 401, "user_banned", "User is banned"},
    [HE_WEAK_PASSWORD] = {422, 0, "weak_password", "Password is too weak."},
    [HE_USER_EXISTS] = {422, 0, "user_already_exists", "User already registered"},
    [HE_EMAIL_EXISTS] = {422, 0, "email_exists", "A user with this email address already exists"},
    [HE_SAME_PASSWORD] = {422, 0, "same_password",
                          "New password should be different from the old password."},
    [HE_REFRESH_NOT_FOUND] = {400, 0, "refresh_token_not_found",
                              "Invalid Refresh Token: Refresh Token Not Found"},
    [HE_REFRESH_USED] = {400, 0, "refresh_token_already_used",
                         "Invalid Refresh Token: Already Used"},
    [HE_SESSION_NOT_FOUND] = {400, 0, "session_not_found", "Session not found"},
    [HE_SESSION_NOT_FOUND_BEARER] = {403, 401, "session_not_found",
                                     "Session from session_id claim in JWT does not exist"},
    [HE_SESSION_EXPIRED] = {400, 0, "session_expired", "Session expired"},
    [HE_NOT_ADMIN] = {403, 0, "not_admin", "User not allowed"},
    [HE_USER_NOT_FOUND] = {404, 0, "user_not_found", "User not found"},
    [HE_USER_NOT_FOUND_BEARER] = {403, 401, "user_not_found",
                                  "User from sub claim in JWT does not exist"},
    [HE_OTP_EXPIRED] = {403, 0, "otp_expired", "Token has expired or is invalid"},
    [HE_REAUTH_NEEDED] = {400, 0, "reauthentication_needed",
                          "This change needs the current password or a reauthentication code."},
    [HE_REAUTH_INVALID] = {400, 0, "reauthentication_not_valid",
                           "Verification code or password is invalid"},
    [HE_EMAIL_RATE] = {429, 0, "over_email_send_rate_limit", "Email rate limit exceeded"},
    [HE_UNPROCESSABLE] = {422, 0, "validation_failed", "The request is too large or too deep."},
    [HE_EMAIL_TAKEN] = {409, 0, "email_exists", "A user with this email address already exists."},
    [HE_LAST_ADMIN] = {409, 0, "last_admin",
                       "This would leave no active admin; promote another admin first."},
    [HE_IMAGE] = {415, 0, "unsupported_image", "The body must be a PNG, JPEG or WebP image."},
    [HE_FLOW_STATE_NOT_FOUND] = {404, 0, "flow_state_not_found",
                                 "invalid flow state, no valid flow state found"},
    [HE_FLOW_STATE_EXPIRED] = {422, 0, "flow_state_expired",
                               "invalid flow state, flow state has expired"},
    [HE_BAD_CODE_VERIFIER] = {400, 0, "bad_code_verifier",
                              "code challenge does not match previously saved code verifier"},
    [HE_SINGLE_IDENTITY] = {422, 0, "single_identity_not_deletable",
                            "User must have at least 1 identity after unlinking"},
    [HE_IDENTITY_NOT_FOUND] = {404, 0, "identity_not_found", "Identity doesn't exist"},
    [HE_USER_LOCKED] = {429, 0, "user_locked",
                        "Too many failed sign-in attempts; try again later."},
};
int http_err_status(enum http_err e, int family)
{
    if (e <= HE_NONE || e >= HE__MAX)
        return 500;
    return family != FAM_AUTH && errs[e].api_status != 0 ? errs[e].api_status : errs[e].status;
}
const char *http_err_code(enum http_err e)
{
    return e > HE_NONE && e < HE__MAX ? errs[e].code : "unexpected_failure";
}
int http_error_body(struct buf *out, int family, int versioned, enum http_err e, const char *msg,
                    const char *extra)
{
    int rc;

    if (e <= HE_NONE || e >= HE__MAX)
        e = HE_UNEXPECTED;
    if (msg == NULL)
        msg = errs[e].msg;
    if (family == FAM_AUTH && !versioned) {
        rc = buf_printf(out,
                        "{\"code\":%d,\"error_code\":\"%s\",\"msg\":", http_err_status(e, family),
                        errs[e].code);
        if (rc == 0)
            rc = buf_add_json_str(out, msg);
    } else {
        rc = buf_printf(out, "{\"code\":\"%s\",\"message\":", errs[e].code);
        if (rc == 0)
            rc = buf_add_json_str(out, msg);
    }
    if (rc == 0 && extra != NULL)
        rc = buf_printf(out, ",%s", extra);
    if (rc == 0)
        rc = buf_addc(out, '}');
    return rc;
}
