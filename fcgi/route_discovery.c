/* route_discovery.c - GET /auth/v1/settings, /auth/v1/health, the JWKS. */
#include <string.h>

#include "../util/buf.h"
#include "../core/config.h"
#include "../core/tokens.h"
#include "app.h"
#include "http.h"
#include "routes.h"

/*
 * How long browsers and shared caches (a CDN in front of nginx) may keep
 * the two public documents without asking again; each answer has an ETag
 * made from its bytes (reply_cached), so asking again after that costs a
 * 304, and workers of two generations during a reload never share one
 * ETag for different bodies.
 *
 * The JWKS holds the one signing key (core/tokens.c): a new key replaces
 * the old one when a reload (SIGHUP) replaces the workers, with no overlap
 * in which both are published. Until a cached copy expires, a verifier
 * that holds it rejects tokens signed with the new key, and one that
 * refetches on an unknown kid still gets the stale copy from a CDN. 300 s
 * bounds that window to five minutes, while a verifier still asks at most
 * twelve times an hour, and mostly gets a 304.
 *
 * The settings follow the configuration ([auth] require_email_confirmation
 * becomes mailer_autoconfirm), which a reload changes too; clients read them
 * when a form loads, so a minute of staleness is harmless and a change
 * shows within one.
 */
#define JWKS_MAX_AGE     300
#define SETTINGS_MAX_AGE 60

void route_discovery_settings(struct req *r)
{
    struct buf b;
    int rc;

    buf_init(&b, 4096);
    rc =
        buf_printf(&b,
                   "{\"external\":{\"email\":true,\"phone\":false,\"google\":%s,\"github\":%s},"
                   "\"disable_signup\":false,\"mailer_autoconfirm\":%s,\"phone_autoconfirm\":false,"
                   "\"sms_provider\":\"\",\"saml_enabled\":false,"
                   "\"saml_private_key_next_configured\":false,\"passkeys_enabled\":false}",
                   r->app->ctx.cfg->google.enabled ? "true" : "false",
                   r->app->ctx.cfg->github.enabled ? "true" : "false",
                   r->app->ctx.cfg->auth.require_email_confirmation ? "false" : "true");
    if (rc != 0) {
        buf_free(&b);
        reply_error(r, HE_UNEXPECTED, NULL);
        return;
    }
    reply_cached(r, b.p, b.len, SETTINGS_MAX_AGE);
    buf_free(&b);
}

void route_discovery_health(struct req *r)
{
    static const char body[] = "{\"version\":\"" PACKAGE_VERSION "\",\"name\":\"ums\","
                               "\"description\":\"ums speaks the GoTrue (Supabase Auth) API\"}";

    reply_json(r, 200, body, sizeof(body) - 1);
}

void route_discovery_jwks(struct req *r)
{
    const char *j = tokens_jwks(r->app->ctx.tokens);

    reply_cached(r, j, strlen(j), JWKS_MAX_AGE);
}
