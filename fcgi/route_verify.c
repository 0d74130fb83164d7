/* route_verify.c - POST /auth/v1/recover, /resend and /otp, POST and GET
 * /auth/v1/verify, POST /auth/v1/admin/generate_link. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "../util/arena.h"
#include "../core/config.h"
#include "../util/log.h"
#include "../util/ums.h"
#include "../core/verify.h"
#include "../core/redirect.h"
#include "app.h"
#include "http.h"
#include "routes.h"

/* What recover, resend and otp do after their answer has gone out. */
enum mail_kind { MAIL_RECOVER, MAIL_RESEND, MAIL_OTP };

struct mail_job {
    struct ums_ctx *ctx;
    enum mail_kind kind;
    char *email;
    size_t email_len;
    const char *redirect_to;
    struct client_info ci;
    int create_user;       /* MAIL_OTP */
    const char *data_json; /* MAIL_OTP: user_metadata of a new account, or NULL */
};

static void mail_job_run(void *data)
{
    static const char *const names[] = {"recover", "resend", "otp"};
    struct mail_job *j = data;
    int rc;

    if (j->kind == MAIL_RESEND)
        rc = verify_resend(j->ctx, j->email, j->email_len, j->redirect_to, &j->ci);
    else if (j->kind == MAIL_OTP)
        rc = verify_magiclink(j->ctx, j->email, j->email_len, j->create_user, j->data_json,
                              j->redirect_to, &j->ci);
    else
        rc = verify_recover(j->ctx, j->email, j->email_len, j->redirect_to, &j->ci);
    if (rc != UMS_OK)
        log_error("%s after the answer failed (%d)", names[j->kind], rc);
}

/* Answers {} at once, then sends the mail, if any, in the same worker: an
 * address with an account costs a few round trips to PostgreSQL more than
 * one without, and that difference must not be in the answer's time. The
 * per-recipient mail quota is asked first: it counts every address alike. */
static struct mail_job *answer_then_mail(struct req *r, enum mail_kind kind, const char *email,
                                         size_t elen)
{
    struct ums_err err = {0};
    struct mail_job *j;
    const char *ip, *ua;

    if (verify_mail_quota(&r->app->ctx, email, elen, &err) != UMS_OK) {
        reply_fail(r, UMS_EDENIED, &err);
        return NULL;
    }
    j = arena_alloc(r->arena, sizeof(*j));
    if (j == NULL) {
        reply_error(r, HE_UNEXPECTED, NULL);
        return NULL;
    }
    memset(j, 0, sizeof(*j));
    j->ctx = &r->app->ctx;
    j->kind = kind;
    req_client(r, &j->ci);
    /* Copies: the FastCGI parameters are gone once the answer is out. */
    j->email = email != NULL ? arena_strndup(r->arena, email, elen) : NULL;
    j->email_len = elen;
    j->redirect_to = arena_strdup(r->arena, req_redirect_to(r));
    ip = j->ci.ip != NULL ? arena_strdup(r->arena, j->ci.ip) : NULL;
    ua = arena_strdup(r->arena, j->ci.user_agent);
    j->ci.ip = ip;
    j->ci.user_agent = ua != NULL ? ua : "";
    if ((email != NULL && j->email == NULL) || j->redirect_to == NULL) {
        reply_error(r, HE_UNEXPECTED, NULL);
        return NULL;
    }
    reply_json(r, 200, "{}", 2);
    r->after = mail_job_run;
    r->after_data = j;
    return j;
}

void route_verify_recover(struct req *r)
{
    const char *email;
    size_t elen;

    if (body_require_object(r) || body_str(r, "email", &email, &elen))
        return;
    if (req_rate(r, "recover", r->app->ctx.cfg->limits.recover_per_5min))
        return;
    answer_then_mail(r, MAIL_RECOVER, email, elen);
}

/* POST /otp {"email", "create_user", "data"} (auth-js signInWithOtp): a
 * sign-in link and code by mail, always {} once the request is well formed
 * (GoTrue answers 422 otp_disabled for an unknown address without
 * create_user; ums tells no account apart, as recover does). Only email:
 * no SMS provider exists. */
void route_verify_otp(struct req *r)
{
    const char *email, *phone, *data;
    size_t elen, plen;
    struct json_object *v;
    struct ums_err err = {0};
    struct mail_job *j;
    int create = 1;

    if (body_require_object(r) || body_str(r, "email", &email, &elen) ||
        body_str(r, "phone", &phone, &plen) || body_object(r, "data", &data))
        return;
    if (phone != NULL && plen > 0) {
        reply_error(r, HE_VALIDATION, "Phone one-time passwords are not enabled: use email");
        return;
    }
    if (json_object_object_get_ex(r->json, "create_user", &v) && v != NULL)
        create = json_object_get_boolean(v); /* a boolean: routes.c's otp_fields */
    if (verify_magiclink_check(email, elen, data, &err) != UMS_OK) {
        reply_fail(r, UMS_EDENIED, &err);
        return;
    }
    if (req_rate(r, "otp", r->app->ctx.cfg->limits.otp_per_5min))
        return;
    j = answer_then_mail(r, MAIL_OTP, email, elen);
    if (j == NULL)
        return;
    j->create_user = create;
    /* The copy the job needs; a failure leaves the metadata out. */
    j->data_json = data != NULL ? arena_strdup(r->arena, data) : NULL;
}

/* POST /resend {"type":"signup","email":"..."}: always {} (no account is
 * revealed); other types are not offered (no phone, and an email change is
 * requested again through PUT /user). */
void route_verify_resend(struct req *r)
{
    const char *type, *email;
    size_t tlen, elen;

    if (body_require_object(r) || body_str(r, "type", &type, &tlen) ||
        body_str(r, "email", &email, &elen))
        return;
    if (type == NULL || strcmp(type, "signup") != 0) {
        reply_error(r, HE_VALIDATION, "type must be signup");
        return;
    }
    if (req_rate(r, "resend", r->app->ctx.cfg->limits.resend_per_5min))
        return;
    answer_then_mail(r, MAIL_RESEND, email, elen);
}

static void verify_form(struct req *r);

void route_verify_post(struct req *r)
{
    const char *type, *email, *token, *th;
    size_t n, elen;
    struct auth_out out;
    struct ums_err err = {0};
    struct client_info ci;
    int rc;

    if (r->json == NULL && http_is_form(r->content_type)) {
        verify_form(r);
        return;
    }
    if (body_require_object(r) || body_str(r, "type", &type, &n) ||
        body_str(r, "email", &email, &elen) || body_str(r, "token", &token, &n) ||
        body_str(r, "token_hash", &th, &n))
        return;
    if (type == NULL) {
        reply_error(r, HE_VALIDATION, "type is required");
        return;
    }
    if (req_rate(r, "verify", r->app->ctx.cfg->limits.verify_per_5min))
        return;
    req_client(r, &ci);
    auth_out_init(&out);
    rc = verify_token(&r->app->ctx, type, email, elen, token, th, &ci, &out, &err);
    if (rc == UMS_OK)
        reply_auth_out(r, &out);
    else
        reply_fail(r, rc, &err);
    auth_out_free(&out);
}

/* Appends k=v to b, form-encoded. */
static void form_add(struct buf *b, const char *k, const char *v, int first)
{
    buf_printf(b, "%s%s=", first ? "" : "&", k);
    buf_add_urlencoded(b, v);
}

/* Appends s HTML-escaped (for an attribute value). */
static void html_add(struct buf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&':
            buf_adds(b, "&amp;");
            break;
        case '<':
            buf_adds(b, "&lt;");
            break;
        case '>':
            buf_adds(b, "&gt;");
            break;
        case '"':
            buf_adds(b, "&quot;");
            break;
        case '\'':
            buf_adds(b, "&#39;");
            break;
        default:
            buf_addc(b, *s);
        }
    }
}

/* Consumes the link's token and answers 303 to target with the session in
 * the fragment, or with the error in the query. */
static void verify_and_redirect(struct req *r, const char *type, const char *token,
                                const char *target)
{
    struct auth_out out;
    struct ums_err err = {0};
    struct client_info ci;
    struct buf loc;
    char num[32];
    int rc;

    if (req_rate(r, "verify", r->app->ctx.cfg->limits.verify_per_5min))
        return;
    req_client(r, &ci);
    auth_out_init(&out);
    rc = type != NULL && token != NULL
             ? verify_token(&r->app->ctx, type, NULL, 0, NULL, token, &ci, &out, &err)
             : err_set(&err, FAIL_OTP_EXPIRED, NULL);
    if (rc != UMS_OK && rc != UMS_EDENIED) {
        auth_out_free(&out);
        reply_fail(r, rc, NULL);
        return;
    }
    buf_init(&loc, 16384);
    buf_adds(&loc, target);
    if (rc == UMS_OK) {
        buf_addc(&loc, strchr(target, '#') ? '&' : '#');
        form_add(&loc, "access_token", out.access_token.p, 1);
        snprintf(num, sizeof(num), "%ld", out.expires_at);
        form_add(&loc, "expires_at", num, 0);
        snprintf(num, sizeof(num), "%d", out.expires_in);
        form_add(&loc, "expires_in", num, 0);
        form_add(&loc, "refresh_token", out.refresh_token, 0);
        form_add(&loc, "token_type", "bearer", 0);
        form_add(&loc, "type", type, 0);
    } else {
        buf_addc(&loc, strchr(target, '?') ? '&' : '?');
        form_add(&loc, "error", "access_denied", 1);
        form_add(&loc, "error_code", "otp_expired", 0);
        form_add(&loc, "error_description", "Email link is invalid or has expired", 0);
    }
    reply_header(r, "Location", loc.p);
    reply_json(r, 303, "{}", 2);
    buf_free(&loc);
    auth_out_free(&out);
}

/* GET /verify, the link of an email: a page whose button posts the token
 * back. Opening the link uses nothing up, so a mail scanner that fetches
 * every link cannot burn it, and a page elsewhere cannot sign a visitor in
 * to someone else's account with a link of its own (login CSRF): the post
 * must come from this page (see verify_form). */
void route_verify_get(struct req *r)
{
    const char *type = NULL, *token = NULL, *target = req_redirect_to(r);
    struct buf page;

    http_query_get(r->arena, r->query, "type", &type);
    http_query_get(r->arena, r->query, "token", &token);
    buf_init(&page, 64 * 1024);
    buf_adds(&page, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    "<meta name=\"viewport\" content=\"width=device-width\">"
                    "<title>Continue</title></head>\n<body style=\"font-family:sans-serif;"
                    "max-width:30em;margin:4em auto;text-align:center\">\n"
                    "<form method=\"post\" action=\"");
    html_add(&page, r->path);
    buf_adds(&page, "\">\n<input type=\"hidden\" name=\"token\" value=\"");
    html_add(&page, token != NULL ? token : "");
    buf_adds(&page, "\">\n<input type=\"hidden\" name=\"type\" value=\"");
    html_add(&page, type != NULL ? type : "");
    buf_adds(&page, "\">\n<input type=\"hidden\" name=\"redirect_to\" value=\"");
    html_add(&page, target);
    buf_adds(&page, "\">\n<p>You opened a link from an email.</p>\n"
                    "<button type=\"submit\" style=\"font-size:1.2em;padding:.5em 2em\">"
                    "Continue</button>\n</form>\n</body></html>\n");
    if (page.p == NULL) {
        reply_error(r, HE_UNEXPECTED, NULL);
        return;
    }
    reply_html_form(r, 200, page.p, page.len, target);
    buf_free(&page);
}

/* The post of that page's form: the token is used here. A browser says
 * where a post comes from (Origin, Sec-Fetch-Site); one from another site
 * is refused, and the token stays unused. */
static void verify_form(struct req *r)
{
    const char *type = NULL, *token = NULL, *target = NULL;
    const char *origin = r->io->param(r->io->h, "HTTP_ORIGIN");
    const char *site = r->io->param(r->io->h, "HTTP_SEC_FETCH_SITE");
    const char *ext = r->app->ctx.cfg->auth.external_url;
    const char *p = strstr(ext, "://");
    size_t olen = p != NULL ? (size_t)(p + 3 - ext) + strcspn(p + 3, "/") : strlen(ext);

    if ((site != NULL && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0) ||
        (origin != NULL && (strlen(origin) != olen || strncasecmp(origin, ext, olen) != 0))) {
        reply_error(r, HE_FORBIDDEN, "This form can only be sent from its own page.");
        return;
    }
    http_query_get(r->arena, r->body != NULL ? r->body : "", "type", &type);
    http_query_get(r->arena, r->body != NULL ? r->body : "", "token", &token);
    http_query_get(r->arena, r->body != NULL ? r->body : "", "redirect_to", &target);
    if (target == NULL || !redirect_allowed(r->app->ctx.cfg, target))
        target = r->app->ctx.cfg->auth.site_url;
    verify_and_redirect(r, type, token, target);
}

void route_verify_generate_link(struct req *r)
{
    const char *type, *email, *password, *new_email, *data;
    size_t n, elen, plen, nlen;
    struct link_out out;
    struct ums_err err = {0};
    char *user = NULL;
    struct json_object *o;
    struct buf link;
    const char *target = req_redirect_to(r);
    int rc;

    if (body_require_object(r) || body_str(r, "type", &type, &n) ||
        body_str(r, "email", &email, &elen) || body_str(r, "password", &password, &plen) ||
        body_str(r, "new_email", &new_email, &nlen) || body_object(r, "data", &data))
        return;
    memset(&out, 0, sizeof(out));
    rc = verify_generate_link(&r->app->ctx, r->who.service ? NULL : r->who.user_id, type, email,
                              elen, password, plen, data, new_email, nlen, &out, &err);
    if (rc == UMS_OK)
        rc = auth_user_json(&r->app->ctx, out.user_id, &user);
    if (rc != UMS_OK) {
        reply_fail(r, rc, &err);
        return;
    }
    /* The user object, flattened, plus the link and the code. */
    o = json_tokener_parse(user);
    free(user);
    buf_init(&link, 8192);
    buf_printf(&link, "%s/verify?token=%s&type=%s&redirect_to=", r->app->ctx.cfg->auth.external_url,
               out.token_hash, out.verification_type);
    buf_add_urlencoded(&link, target);
    json_object_object_add(o, "action_link", json_object_new_string(link.p));
    json_object_object_add(o, "email_otp", json_object_new_string(out.otp));
    json_object_object_add(o, "hashed_token", json_object_new_string(out.token_hash));
    json_object_object_add(o, "verification_type", json_object_new_string(out.verification_type));
    json_object_object_add(o, "redirect_to", json_object_new_string(target));
    {
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        reply_json(r, 200, s, strlen(s));
    }
    json_object_put(o);
    buf_free(&link);
}
