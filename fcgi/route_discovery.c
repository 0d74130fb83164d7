/* route_discovery.c - GET /auth/v1/settings, /auth/v1/health, the JWKS. */
#include <string.h>

#include "../util/buf.h"
#include "../core/config.h"
#include "../core/tokens.h"
#include "app.h"
#include "http.h"
#include "routes.h"

void route_discovery_settings(struct req *r)
{
    struct buf b;

    buf_init(&b, 4096);
    buf_printf(&b,
               "{\"external\":{\"email\":true,\"phone\":false,\"google\":false,\"github\":false},"
               "\"disable_signup\":false,\"mailer_autoconfirm\":%s,\"phone_autoconfirm\":false,"
               "\"sms_provider\":\"\",\"saml_enabled\":false,"
               "\"saml_private_key_next_configured\":false,\"passkeys_enabled\":false}",
               r->app->ctx.cfg->auth.require_email_confirmation ? "false" : "true");
    reply_json(r, 200, b.p, b.len);
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

    reply_header(r, "Cache-Control", "public, max-age=600");
    reply_json(r, 200, j, strlen(j));
}
