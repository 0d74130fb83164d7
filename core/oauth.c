/* oauth.c - the OAuth flow: authorize, callback, the PKCE exchange (oauth.h). */
#include "oauth.h"
#include "oauth_provider.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "audit.h"
#include "config.h"
#include "ctx.h"
#include "db.h"
#include "oauth_http.h"
#include "sessions.h"
#include "../util/metrics.h"
#include "../util/b64.h"
#include "../util/crypto.h"
#include "../util/log.h"
#include "../util/ums.h"

#define SECRET_BYTES 32 /* state, verifier, nonce and auth code: 256 bits each */
#define SECRET_CHARS 43 /* ... in base64url */

static const char *const names[OAUTH__MAX] = {"google", "github"};

int oauth_provider_of(const char *name)
{
    for (int i = 0; name != NULL && i < OAUTH__MAX; i++)
        if (strcasecmp(name, names[i]) == 0)
            return i;
    return -1;
}

const char *oauth_provider_name(int provider)
{
    return provider >= 0 && provider < OAUTH__MAX ? names[provider] : "?";
}

static const struct oauth_provider_config *config_of(const struct ums_config *cfg, int provider)
{
    return provider == OAUTH_GOOGLE ? &cfg->google : &cfg->github;
}

int oauth_enabled(const struct ums_config *cfg, int provider)
{
    return provider >= 0 && provider < OAUTH__MAX && config_of(cfg, provider)->enabled;
}

void oauth_profile_free(struct oauth_profile *p)
{
    free(p->identity_data);
    crypto_free_secret(p->access_token);
    crypto_free_secret(p->refresh_token);
    memset(p, 0, sizeof(*p));
}

struct json_object *oauth_profile_data(const struct oauth_profile *p, const char *iss)
{
    struct json_object *d = json_object_new_object();

    json_object_object_add(d, "iss", json_object_new_string(iss));
    json_object_object_add(d, "sub", json_object_new_string(p->sub));
    json_object_object_add(d, "provider_id", json_object_new_string(p->sub));
    if (p->email[0] != '\0')
        json_object_object_add(d, "email", json_object_new_string(p->email));
    json_object_object_add(d, "email_verified", json_object_new_boolean(p->email_verified));
    json_object_object_add(d, "phone_verified", json_object_new_boolean(0));
    if (p->name[0] != '\0') {
        json_object_object_add(d, "name", json_object_new_string(p->name));
        json_object_object_add(d, "full_name", json_object_new_string(p->name));
    }
    return d;
}

int oauth_profile_set_data(struct oauth_profile *p, struct json_object *d)
{
    const char *s = json_object_to_json_string_ext(d, JSON_C_TO_STRING_PLAIN);

    free(p->identity_data);
    p->identity_data = s != NULL ? strdup(s) : NULL;
    json_object_put(d);
    return p->identity_data != NULL ? UMS_OK : UMS_ERR;
}

/* A fresh random secret, base64url. */
static int new_secret(char out[SECRET_CHARS + 1])
{
    unsigned char r[SECRET_BYTES];

    if (crypto_random_bytes(r, sizeof(r)) != UMS_OK)
        return UMS_ERR;
    b64_url_encode(out, r, sizeof(r));
    explicit_bzero(r, sizeof(r));
    return UMS_OK;
}

/* BASE64URL(SHA-256(verifier)), RFC 7636's S256. */
static void s256(char out[SECRET_CHARS + 1], const char *verifier)
{
    unsigned char d[32];
    unsigned int n = 0;

    EVP_Digest(verifier, strlen(verifier), d, &n, EVP_sha256(), NULL);
    b64_url_encode(out, d, sizeof(d));
}

/* RFC 7636 4.1/4.2: 43 to 128 of [A-Za-z0-9._~-]. */
static int pkce_string_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;

    if (n < 43 || n > 128)
        return 0;
    for (; *s != '\0'; s++)
        if (!isalnum((unsigned char)*s) && strchr("-._~", *s) == NULL)
            return 0;
    return 1;
}

/* Scopes: printable ASCII words, at most 1 KiB. */
static int scopes_ok(const char *s)
{
    if (s == NULL)
        return 1;
    if (strlen(s) > 1024)
        return 0;
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

int oauth_authorize(struct ums_ctx *c, const struct oauth_start *s, struct buf *url,
                    struct ums_err *err)
{
    const struct oauth_provider_config *pc = config_of(c->cfg, s->provider);
    char state[SECRET_CHARS + 1], verifier[SECRET_CHARS + 1], nonce[SECRET_CHARS + 1];
    char challenge[SECRET_CHARS + 1], state_hash[65], ttl[16], method[8] = "";
    struct buf scope, redirect_uri;
    int rc;

    /* GoTrue: both or neither; S256 (any case) or plain. */
    if ((s->code_challenge == NULL) != (s->code_challenge_method == NULL))
        return err_set(err, FAIL_VALIDATION,
                       "PKCE flow requires code_challenge_method and code_challenge");
    if (s->code_challenge != NULL) {
        if (!pkce_string_ok(s->code_challenge))
            return err_set(err, FAIL_VALIDATION,
                           "code challenge has to be between 43 and 128 characters of "
                           "[A-Za-z0-9._~-]");
        if (strcasecmp(s->code_challenge_method, "s256") == 0)
            snprintf(method, sizeof(method), "s256");
        else if (strcasecmp(s->code_challenge_method, "plain") == 0)
            snprintf(method, sizeof(method), "plain");
        else
            return err_set(err, FAIL_VALIDATION, "code_challenge_method must be s256 or plain");
    }
    if (!scopes_ok(s->scopes))
        return err_set(err, FAIL_VALIDATION, "scopes must be printable ASCII, at most 1024 bytes");
    if (new_secret(state) != UMS_OK || new_secret(verifier) != UMS_OK ||
        new_secret(nonce) != UMS_OK)
        return UMS_ERR;
    s256(challenge, verifier);
    crypto_sha256_hex(state_hash, state, strlen(state));
    snprintf(ttl, sizeof(ttl), "%d", c->cfg->oauth.flow_ttl);
    {
        const char *p[10] = {state_hash,
                             names[s->provider],
                             verifier,
                             s->provider == OAUTH_GOOGLE ? nonce : NULL,
                             s->code_challenge,
                             s->code_challenge != NULL ? method : NULL,
                             s->redirect_to,
                             s->link_user_id,
                             ttl,
                             s->link_user_id != NULL ? s->link_session_id : NULL};
        rc = db_exec(c->db, NULL, STMT_OAUTH_FLOW_INSERT, 10, p);
    }
    explicit_bzero(verifier, sizeof(verifier));
    if (rc != UMS_OK)
        return rc;
    buf_init(&scope, 4096);
    buf_init(&redirect_uri, 4096);
    buf_adds(&scope, pc->scopes);
    if (s->scopes != NULL && s->scopes[0] != '\0') {
        if (scope.len > 0)
            buf_addc(&scope, ' ');
        buf_adds(&scope, s->scopes);
    }
    buf_printf(&redirect_uri, "%s/callback", c->cfg->auth.external_url);
    {
        const char *kv[] = {"client_id",
                            pc->client_id,
                            "redirect_uri",
                            redirect_uri.p,
                            "response_type",
                            "code",
                            "scope",
                            scope.p != NULL ? scope.p : "",
                            "state",
                            state,
                            "code_challenge",
                            challenge,
                            "code_challenge_method",
                            "S256",
                            "nonce",
                            nonce};
        buf_reset(url, 16384);
        buf_printf(url, "%s?", pc->authorize_url);
        rc = oauth_http_form(url, kv, s->provider == OAUTH_GOOGLE ? 8 : 7);
    }
    if (rc == 0 && s->extra_query != NULL && s->extra_query[0] != '\0')
        rc = buf_printf(url, "&%s", s->extra_query);
    buf_free(&scope);
    buf_free(&redirect_uri);
    return rc == 0 && url->p != NULL ? UMS_OK : UMS_ERR;
}

void oauth_done_init(struct oauth_done *d)
{
    memset(d, 0, sizeof(*d));
    d->provider = -1;
    auth_out_init(&d->session);
}

void oauth_done_free(struct oauth_done *d)
{
    free(d->redirect_to);
    auth_out_free(&d->session);
    explicit_bzero(d->code, sizeof(d->code));
    d->redirect_to = NULL;
}

/* Sets d's error and returns UMS_OK: the error is the answer. */
static int fail(struct oauth_done *d, const char *error, const char *code, const char *desc)
{
    d->error = error;
    d->error_code = code;
    d->error_description = desc;
    return UMS_OK;
}

/* The provider's own error at the callback, as one of OAuth's names. */
static const char *provider_error(const char *e)
{
    static const char *const known[] = {"access_denied",
                                        "invalid_request",
                                        "invalid_scope",
                                        "unauthorized_client",
                                        "server_error",
                                        "temporarily_unavailable",
                                        "unsupported_response_type"};

    for (size_t i = 0; i < UMS_ARRAY_LEN(known); i++)
        if (strcmp(e, known[i]) == 0)
            return known[i];
    return "server_error";
}

/* A sign-in's audit row, with the provider. */
static void audit_login(struct ums_ctx *c, const char *uid, const char *provider,
                        const struct client_info *ci)
{
    char details[64];

    snprintf(details, sizeof(details), "{\"provider\":\"%s\"}", provider);
    audit_write(c->db, uid, "user.login", uid, ci->ip, details);
}

/* Copies the provider's tokens into a session answer. */
static int keep_provider_tokens(struct auth_out *o, const char *at, const char *rt)
{
    o->provider_token = at != NULL && at[0] != '\0' ? strdup(at) : NULL;
    o->provider_refresh_token = rt != NULL && rt[0] != '\0' ? strdup(rt) : NULL;
    return (at != NULL && at[0] != '\0' && o->provider_token == NULL) ||
                   (rt != NULL && rt[0] != '\0' && o->provider_refresh_token == NULL)
               ? UMS_ERR
               : UMS_OK;
}

/* The flow's second half, once its state is taken: the provider's answer,
 * the account, then an auth code (PKCE) or a session. */
static int finish(struct ums_ctx *c, const struct oauth_callback *cb, const struct client_info *ci,
                  PGresult *flow, struct oauth_done *d)
{
    int provider = oauth_provider_of(PQgetvalue(flow, 0, 1)), takeover = 0, rc;
    const struct oauth_provider_config *pc;
    struct oauth_profile prof;
    struct oauth_exchange x;
    struct buf redirect_uri;
    char uid[UUID_LEN + 1];
    const char *why = NULL, *code = NULL, *desc = NULL, *flow_id = PQgetvalue(flow, 0, 0);
    const char *link = PQgetisnull(flow, 0, 6) ? NULL : PQgetvalue(flow, 0, 6);

    if (provider < 0 || !oauth_enabled(c->cfg, provider))
        return fail(d, "invalid_request", "bad_oauth_state", "This provider is not enabled.");
    pc = config_of(c->cfg, provider);
    /* RFC 9207: a provider that names itself must be the flow's one. */
    if (cb->iss != NULL && (provider != OAUTH_GOOGLE || strcmp(cb->iss, pc->issuer) != 0))
        return fail(d, "invalid_request", "bad_oauth_callback",
                    "The callback came from another provider than the one this flow went to.");
    if (cb->error != NULL)
        return fail(d, provider_error(cb->error), "access_denied",
                    "The provider did not grant access.");
    if (cb->code == NULL || cb->code[0] == '\0' || strlen(cb->code) > 2048)
        return fail(d, "invalid_request", "bad_oauth_callback",
                    "OAuth callback with missing authorization code");
    memset(&prof, 0, sizeof(prof));
    buf_init(&redirect_uri, 4096);
    buf_printf(&redirect_uri, "%s/callback", c->cfg->auth.external_url);
    x.cfg = c->cfg;
    x.pc = pc;
    x.code = cb->code;
    x.verifier = PQgetvalue(flow, 0, 2);
    x.nonce = PQgetisnull(flow, 0, 3) ? "" : PQgetvalue(flow, 0, 3);
    x.redirect_uri = redirect_uri.p != NULL ? redirect_uri.p : "";
    rc = provider == OAUTH_GOOGLE ? oauth_google_fetch(&x, &prof, &why)
                                  : oauth_github_fetch(&x, &prof, &why);
    buf_free(&redirect_uri);
    if (rc != UMS_OK) {
        log_warn("oauth %s: %s", names[provider], why != NULL ? why : "failed");
        oauth_profile_free(&prof);
        if (rc == UMS_EDENIED)
            return fail(d, "access_denied", "provider_refused",
                        "The provider's answer could not be verified.");
        return fail(d, "temporarily_unavailable", "provider_unavailable",
                    "The provider did not answer in time; try again.");
    }
    rc = oauth_link(c, provider, &prof, link, ci, uid, &takeover, &code, &desc);
    if (rc == UMS_EDENIED) {
        oauth_profile_free(&prof);
        return fail(d, "access_denied", code, desc);
    }
    if (rc == UMS_OK && takeover) {
        int n = 0;
        rc = sessions_revoke(c, uid, NULL, SCOPE_GLOBAL, M_REVOKED_TAKEOVER, &n);
    }
    if (rc == UMS_OK && d->pkce) {
        char code_hash[65], ttl[16];
        if (new_secret(d->code) != UMS_OK) {
            rc = UMS_ERR;
        } else {
            const char *p[6] = {flow_id, uid, code_hash, prof.access_token, prof.refresh_token,
                                ttl};
            crypto_sha256_hex(code_hash, d->code, strlen(d->code));
            snprintf(ttl, sizeof(ttl), "%d", c->cfg->oauth.code_ttl);
            rc = db_exec(c->db, NULL, STMT_OAUTH_FLOW_CODE, 6, p);
        }
    } else if (rc == UMS_OK) {
        const char *p[1] = {flow_id};
        rc = auth_session_for(c, uid, "oauth", ci, &d->session);
        if (rc == UMS_OK)
            rc = keep_provider_tokens(&d->session, prof.access_token, prof.refresh_token);
        if (rc == UMS_OK) {
            audit_login(c, uid, names[provider], ci);
            db_exec(c->db, NULL, STMT_OAUTH_FLOW_DELETE, 1, p);
        }
    }
    oauth_profile_free(&prof);
    if (rc != UMS_OK) {
        log_error("oauth %s: the sign-in could not be completed (%d)", names[provider], rc);
        return fail(d, rc == UMS_EUNAVAILABLE ? "temporarily_unavailable" : "server_error",
                    rc == UMS_EUNAVAILABLE ? "service_unavailable" : "unexpected_failure",
                    "The sign-in could not be completed; try again.");
    }
    return UMS_OK;
}

/* ums_oauth_signins_total{provider,outcome} and ums_signins_total{method="oauth"}. */
static void count_callback(const struct oauth_done *d)
{
    static const struct {
        const char *code;
        int k;
    } outcomes[] = {
        {"access_denied", 1},
        {"bad_oauth_callback", 2},
        {"bad_oauth_state", 3},
        {"flow_state_already_used", 4},
        {"provider_unavailable", 5},
        {"provider_refused", 6},
        {"provider_email_needs_verification", 7},
        {"email_exists", 8},
        {"identity_already_exists", 9},
        {"user_banned", 10},
    };
    enum metric first = d->provider == OAUTH_GOOGLE   ? M_OAUTH_google_SUCCESS
                        : d->provider == OAUTH_GITHUB ? M_OAUTH_github_SUCCESS
                                                      : M_OAUTH_unknown_SUCCESS;
    int k = 11; /* other */

    if (d->error_code == NULL)
        k = 0;
    for (size_t i = 0; k == 11 && i < UMS_ARRAY_LEN(outcomes); i++)
        if (strcmp(d->error_code, outcomes[i].code) == 0)
            k = outcomes[i].k;
    metrics_inc((enum metric)(first + k));
    metrics_inc(k == 0              ? M_SIGNIN_oauth_SUCCESS
                : k == 10           ? M_SIGNIN_oauth_BANNED
                : k == 5 || k == 11 ? M_SIGNIN_oauth_ERROR
                                    : M_SIGNIN_oauth_INVALID);
}

static int callback(struct ums_ctx *c, const struct oauth_callback *cb,
                    const struct client_info *ci, struct oauth_done *d);

int oauth_callback(struct ums_ctx *c, const struct oauth_callback *cb, const struct client_info *ci,
                   struct oauth_done *d)
{
    int rc = callback(c, cb, ci, d);

    if (rc == UMS_OK)
        count_callback(d);
    return rc;
}

static int callback(struct ums_ctx *c, const struct oauth_callback *cb,
                    const struct client_info *ci, struct oauth_done *d)
{
    char state_hash[65];
    PGresult *flow = NULL;
    int rc;

    d->redirect_to = strdup(c->cfg->auth.site_url);
    if (d->redirect_to == NULL)
        return UMS_ERR;
    if (cb->state == NULL || cb->state[0] == '\0')
        return fail(d, "invalid_request", "bad_oauth_callback", "OAuth state parameter missing");
    if (strlen(cb->state) != SECRET_CHARS)
        return fail(d, "invalid_request", "bad_oauth_state", "OAuth state not found or expired");
    crypto_sha256_hex(state_hash, cb->state, strlen(cb->state));
    {
        const char *p[1] = {state_hash};
        rc = db_exec(c->db, &flow, STMT_OAUTH_FLOW_TAKE, 1, p);
    }
    if (rc != UMS_OK)
        return rc;
    if (PQntuples(flow) != 1) {
        PQclear(flow);
        return fail(d, "invalid_request", "bad_oauth_state", "OAuth state not found or expired");
    }
    free(d->redirect_to);
    d->redirect_to = strdup(PQgetvalue(flow, 0, 5));
    d->known = 1;
    d->provider = oauth_provider_of(PQgetvalue(flow, 0, 1));
    d->pkce = PQgetvalue(flow, 0, 4)[0] == 't';
    if (d->redirect_to == NULL)
        rc = UMS_ERR;
    else if (PQgetvalue(flow, 0, 7)[0] == 't' && PQgetvalue(flow, 0, 9)[0] != 't')
        rc = fail(d, "access_denied", "session_not_found",
                  "The session that began linking this identity has ended.");
    else if (PQgetvalue(flow, 0, 7)[0] != 't')
        rc = PQgetvalue(flow, 0, 8)[0] == 't'
                 ? fail(d, "invalid_request", "flow_state_already_used",
                        "State has already been used")
                 : fail(d, "invalid_request", "bad_oauth_state", "OAuth state has expired");
    else
        rc = finish(c, cb, ci, flow, d);
    PQclear(flow);
    return rc;
}

int oauth_exchange(struct ums_ctx *c, const char *auth_code, const char *verifier,
                   const struct client_info *ci, struct auth_out *out, struct ums_err *err)
{
    char code_hash[65], want[SECRET_CHARS + 1], uid[UUID_LEN + 1], provider[16];
    PGresult *res = NULL;
    const char *challenge;
    int rc, ok;

    if (auth_code == NULL || auth_code[0] == '\0' || verifier == NULL || verifier[0] == '\0')
        return err_set(err, FAIL_VALIDATION,
                       "invalid request: both auth code and code verifier should be non-empty");
    if (strlen(auth_code) > 256)
        return err_set(err, FAIL_FLOW_STATE_NOT_FOUND, NULL);
    crypto_sha256_hex(code_hash, auth_code, strlen(auth_code));
    {
        const char *p[1] = {code_hash};
        rc = db_exec(c->db, &res, STMT_OAUTH_CODE_LOOK, 1, p);
    }
    if (rc != UMS_OK)
        return rc;
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 1) || PQgetisnull(res, 0, 2)) {
        PQclear(res);
        return err_set(err, FAIL_FLOW_STATE_NOT_FOUND, NULL);
    }
    if (PQgetvalue(res, 0, 4)[0] == 't') {
        const char *p[1] = {PQgetvalue(res, 0, 0)};
        db_exec(c->db, NULL, STMT_OAUTH_FLOW_DELETE, 1, p);
        PQclear(res);
        return err_set(err, FAIL_FLOW_STATE_EXPIRED, NULL);
    }
    /* The challenge went through the browser: not a secret, but compared
     * in constant time all the same. */
    challenge = PQgetvalue(res, 0, 2);
    if (strcmp(PQgetvalue(res, 0, 3), "s256") == 0) {
        s256(want, verifier);
        ok = pkce_string_ok(verifier) && strlen(challenge) == strlen(want) &&
             CRYPTO_memcmp(challenge, want, strlen(want)) == 0;
    } else {
        ok = pkce_string_ok(verifier) && strlen(challenge) == strlen(verifier) &&
             CRYPTO_memcmp(challenge, verifier, strlen(verifier)) == 0;
    }
    if (!ok) {
        PQclear(res);
        return err_set(err, FAIL_BAD_CODE_VERIFIER, NULL);
    }
    snprintf(uid, sizeof(uid), "%s", PQgetvalue(res, 0, 1));
    snprintf(provider, sizeof(provider), "%s", PQgetvalue(res, 0, 5));
    {
        const char *p[2] = {PQgetvalue(res, 0, 0), code_hash};
        PGresult *taken = NULL;
        rc = db_exec(c->db, &taken, STMT_OAUTH_CODE_TAKE, 2, p);
        PQclear(res);
        res = taken;
    }
    if (rc == UMS_OK && PQntuples(res) != 1)
        rc = err_set(err, FAIL_FLOW_STATE_NOT_FOUND, NULL); /* another request took it */
    if (rc == UMS_OK) {
        const char *p[1] = {uid};
        PGresult *st = NULL;
        rc = db_exec(c->db, &st, STMT_USER_STATE_LOCK, 1, p);
        if (rc == UMS_OK && (PQntuples(st) != 1 || PQgetvalue(st, 0, 0)[0] != 't'))
            rc = err_set(err, FAIL_USER_BANNED, NULL);
        PQclear(st);
    }
    if (rc == UMS_OK)
        rc = auth_session_for(c, uid, "oauth", ci, out);
    if (rc == UMS_OK)
        rc = keep_provider_tokens(out, PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0),
                                  PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1));
    if (rc == UMS_OK)
        audit_login(c, uid, provider, ci);
    PQclear(res);
    return rc;
}
