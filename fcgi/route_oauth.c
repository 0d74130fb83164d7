/* route_oauth.c - GET /auth/v1/authorize, GET and POST /auth/v1/callback,
 * GET /auth/v1/user/identities/authorize, DELETE /auth/v1/user/identities/{id}
 * (core/oauth.h). grant_type=pkce is in route_token.c. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/config.h"
#include "../core/oauth.h"
#include "../core/redirect.h"
#include "../util/arena.h"
#include "../util/ums.h"
#include "app.h"
#include "http.h"
#include "routes.h"

#define EXTRA_QUERY_MAX 2048 /* bytes of parameters passed on to the provider */

/* Parameters /authorize reads itself, and those only ums may send to the
 * provider (GoTrue's reserved list): neither is passed on. */
static const char *const own_params[] = {"provider",
                                         "redirect_to",
                                         "scopes",
                                         "code_challenge",
                                         "code_challenge_method",
                                         "skip_http_redirect",
                                         "client_id",
                                         "client_secret",
                                         "redirect_uri",
                                         "response_type",
                                         "state",
                                         "code_verifier",
                                         "nonce",
                                         "scope",
                                         "invite_token"};

static int own_param(const char *k, size_t n)
{
    for (size_t i = 0; i < UMS_ARRAY_LEN(own_params); i++)
        if (strlen(own_params[i]) == n && strncasecmp(own_params[i], k, n) == 0)
            return 1;
    return 0;
}

/* The client's other query parameters (login_hint, prompt, ...), still
 * encoded, for the provider: names of [A-Za-z0-9_-], values of the bytes
 * RFC 3986 allows in a query but '&' and '#' (so "login_hint=a@b" goes on
 * as it came), at most EXTRA_QUERY_MAX bytes in all; anything else is
 * dropped. */
static const char *extra_query(struct req *r)
{
    struct buf b;
    const char *p = r->query, *out;

    buf_init(&b, EXTRA_QUERY_MAX);
    while (p != NULL && *p != '\0') {
        size_t len = strcspn(p, "&"), klen = strcspn(p, "=&"), i;
        int ok = klen > 0 && klen < len && !own_param(p, klen);
        for (i = 0; ok && i < klen; i++)
            ok = isalnum((unsigned char)p[i]) || p[i] == '_' || p[i] == '-';
        for (i = klen + 1; ok && i < len; i++)
            ok = isalnum((unsigned char)p[i]) || strchr("%-._~+@:/?!$'()*,;=", p[i]) != NULL;
        if (ok && b.len + len + 1 <= EXTRA_QUERY_MAX) {
            if (b.len > 0)
                buf_addc(&b, '&');
            buf_add(&b, p, len);
        }
        p = p[len] == '&' ? p + len + 1 : NULL;
    }
    out = b.p != NULL ? arena_strdup(r->arena, b.p) : NULL;
    buf_free(&b);
    return out;
}

/* A query parameter, NULL when absent or empty (GoTrue treats both alike). */
static const char *param(struct req *r, const char *src, const char *name)
{
    const char *v = NULL;

    if (http_query_get(r->arena, src != NULL ? src : "", name, &v) != UMS_OK || v[0] == '\0')
        return NULL;
    return v;
}

/* /authorize for a sign-in (link_user_id NULL) or a link from a session. */
static void authorize(struct req *r, const char *link_user_id, const char *link_session_id)
{
    const struct ums_config *cfg = r->app->ctx.cfg;
    const char *name = param(r, r->query, "provider"), *rt = param(r, r->query, "redirect_to");
    const char *skip = param(r, r->query, "skip_http_redirect");
    struct oauth_start s;
    struct ums_err err = {0};
    struct buf url;
    int rc;

    memset(&s, 0, sizeof(s));
    s.provider = oauth_provider_of(name);
    if (name == NULL || s.provider < 0 || !oauth_enabled(cfg, s.provider)) {
        reply_error(r, HE_VALIDATION, "Unsupported provider: provider is not enabled");
        return;
    }
    if (req_rate(r, "oauth", cfg->limits.oauth_per_5min))
        return;
    s.redirect_to = rt != NULL && redirect_allowed(cfg, rt) ? rt : cfg->auth.site_url;
    s.scopes = param(r, r->query, "scopes");
    s.code_challenge = param(r, r->query, "code_challenge");
    s.code_challenge_method = param(r, r->query, "code_challenge_method");
    s.link_user_id = link_user_id;
    s.link_session_id = link_session_id;
    s.extra_query = extra_query(r);
    buf_init(&url, 16384);
    rc = oauth_authorize(&r->app->ctx, &s, &url, &err);
    if (rc != UMS_OK) {
        reply_fail(r, rc, &err);
    } else if (skip != NULL && strcmp(skip, "true") == 0) {
        struct buf b;
        buf_init(&b, 32768);
        buf_adds(&b, "{\"url\":");
        buf_add_json_str(&b, url.p);
        if (buf_addc(&b, '}') == 0)
            reply_json(r, 200, b.p, b.len);
        else
            reply_error(r, HE_UNEXPECTED, NULL);
        buf_free(&b);
    } else {
        reply_header(r, "Location", url.p);
        reply_json(r, 302, "{}", 2);
    }
    buf_free(&url);
}

void route_oauth_authorize(struct req *r)
{
    authorize(r, NULL, NULL);
}

void route_oauth_link(struct req *r)
{
    authorize(r, r->who.user_id, r->who.session_id);
}

/* Appends k=v, form-encoded, after sep. */
static void pair(struct buf *b, char sep, const char *k, const char *v)
{
    buf_printf(b, "%c%s=", sep, k);
    buf_add_urlencoded(b, v);
}

/* Appends the error's three members, the first after sep. */
static void error_pairs(struct buf *b, char sep, const struct oauth_done *d)
{
    pair(b, sep, "error", d->error);
    pair(b, '&', "error_code", d->error_code);
    pair(b, '&', "error_description", d->error_description);
}

/* The browser's way back: redirect_to with the code or the error in the
 * query (PKCE; its own fragment kept), the session or the error in the
 * fragment (implicit; it replaces redirect_to's); an error of an unknown
 * flow in both, as GoTrue does. */
static void send_back(struct req *r, const struct oauth_done *d)
{
    const char *to = d->redirect_to, *hash = strchr(to, '#');
    size_t base = hash != NULL ? (size_t)(hash - to) : strlen(to);
    char num[32], sep = memchr(to, '?', base) != NULL ? '&' : '?';
    int in_query = d->pkce || !d->known, in_fragment = !d->pkce || !d->known;
    struct buf loc;

    buf_init(&loc, 65536);
    buf_add(&loc, to, base);
    if (in_query && d->error != NULL)
        error_pairs(&loc, sep, d);
    else if (in_query)
        pair(&loc, sep, "code", d->code);
    if (in_fragment && d->error != NULL) {
        error_pairs(&loc, '#', d);
        buf_adds(&loc, "&sb=");
    } else if (in_fragment) {
        const struct auth_out *o = &d->session;
        pair(&loc, '#', "access_token", o->access_token.p);
        snprintf(num, sizeof(num), "%ld", o->expires_at);
        pair(&loc, '&', "expires_at", num);
        snprintf(num, sizeof(num), "%d", o->expires_in);
        pair(&loc, '&', "expires_in", num);
        if (o->provider_refresh_token != NULL)
            pair(&loc, '&', "provider_refresh_token", o->provider_refresh_token);
        if (o->provider_token != NULL)
            pair(&loc, '&', "provider_token", o->provider_token);
        pair(&loc, '&', "refresh_token", o->refresh_token);
        pair(&loc, '&', "token_type", "bearer");
        buf_adds(&loc, "&sb=");
    } else if (hash != NULL) {
        buf_adds(&loc, hash); /* a PKCE app's own route, e.g. #/signed-in */
    }
    if (loc.p == NULL || reply_header(r, "Location", loc.p) != 0)
        reply_error(r, HE_UNEXPECTED, NULL);
    else
        reply_json(r, 302, "{}", 2);
    buf_free_secret(&loc);
}

/* GET /callback (query) and POST /callback (a form: response_mode=form_post). */
void route_oauth_callback(struct req *r)
{
    const char *src = r->method == M_POST ? r->body : r->query;
    struct oauth_callback cb;
    struct oauth_done d;
    struct client_info ci;
    int rc;

    if (r->method == M_POST && r->body != NULL && !http_is_form(r->content_type)) {
        reply_error(r, HE_MEDIA, "The callback takes a form (application/x-www-form-urlencoded).");
        return;
    }
    if (req_rate(r, "oauth", r->app->ctx.cfg->limits.oauth_per_5min))
        return;
    cb.state = param(r, src, "state");
    cb.code = param(r, src, "code");
    cb.error = param(r, src, "error");
    cb.error_description = param(r, src, "error_description");
    cb.iss = param(r, src, "iss");
    req_client(r, &ci);
    oauth_done_init(&d);
    rc = oauth_callback(&r->app->ctx, &cb, &ci, &d);
    if (rc != UMS_OK)
        reply_fail(r, rc, NULL);
    else
        send_back(r, &d);
    oauth_done_free(&d);
}

void route_oauth_unlink(struct req *r)
{
    struct ums_err err = {0};
    struct client_info ci;
    int rc;

    req_client(r, &ci);
    rc = oauth_link_remove(&r->app->ctx, r->who.user_id, r->params[0].value, &ci, &err);
    if (rc == UMS_OK)
        reply_json(r, 200, "{}", 2);
    else
        reply_fail(r, rc, &err);
}
