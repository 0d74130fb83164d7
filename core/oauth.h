/* oauth.h - sign-in with Google and GitHub, GoTrue's way (docs/ARCHITECTURE.md
 * "OAuth"): /authorize makes a flow and sends the browser to the provider,
 * /callback takes it back, exchanges the provider's code and signs the user
 * in (oauth_link.c says to which account), and the client finishes with
 * POST /token?grant_type=pkce. HTTP lives in fcgi/route_oauth.c. */
#ifndef UMS_OAUTH_H
#define UMS_OAUTH_H

#include "../util/buf.h"
#include "auth.h"
#include "err.h"

struct ums_ctx;
struct ums_config;

enum oauth_provider { OAUTH_GOOGLE, OAUTH_GITHUB, OAUTH__MAX };

/* The provider named name ("google", "github"; any case), or -1. */
int oauth_provider_of(const char *name);
const char *oauth_provider_name(int provider);
/* 1 when [<provider>] enabled is on. */
int oauth_enabled(const struct ums_config *cfg, int provider);

/* What GET /authorize (or /user/identities/authorize) asks for. */
struct oauth_start {
    int provider;
    const char *redirect_to;    /* already checked against the allow-list */
    const char *scopes;         /* space-separated, added to the provider's; NULL: none */
    const char *code_challenge; /* NULL: the implicit flow */
    const char *code_challenge_method;
    const char *link_user_id;    /* linking an identity to this user; NULL: sign-in */
    const char *link_session_id; /* ... from this session, which must live until the callback */
    const char *extra_query;     /* already-encoded k=v&... passed on to the provider, or NULL */
};

/* Checks s, records the flow and writes the provider's authorize URL to
 * url. UMS_OK, UMS_EDENIED (err: a bad challenge) or a store error. */
int oauth_authorize(struct ums_ctx *c, const struct oauth_start *s, struct buf *url,
                    struct ums_err *err);

/* Where /callback sends the browser. */
struct oauth_done {
    char *redirect_to; /* malloc'd: the flow's redirect_to, or site_url */
    int known;         /* the state named a flow (else the error goes in query and fragment) */
    int pkce;          /* the flow used PKCE: code (or the error) goes in the query */
    char code[64];     /* PKCE: the ums auth code */
    struct auth_out session; /* implicit: the session (has_session) */
    /* On failure: the OAuth error, GoTrue's error_code and a sentence. */
    const char *error, *error_code, *error_description;
    int provider; /* the flow's provider (enum in oauth_provider.h), or -1 */
};

void oauth_done_init(struct oauth_done *d);
void oauth_done_free(struct oauth_done *d);

/* What the provider sent to /callback. */
struct oauth_callback {
    const char *state, *code;
    const char *error, *error_description; /* the provider's refusal */
    const char *iss;                       /* RFC 9207, when the provider sends it */
};

/*
 * Takes the flow of cb->state (once), exchanges the code with that flow's
 * provider, signs in or links (oauth_link.c), and fills d: for PKCE an auth
 * code valid [oauth] code_ttl seconds, else the session. Failures are in d
 * (error set); UMS_OK means d is ready to be sent either way.
 */
int oauth_callback(struct ums_ctx *c, const struct oauth_callback *cb, const struct client_info *ci,
                   struct oauth_done *d);

/* POST /token?grant_type=pkce: the session for an auth code and the
 * verifier of its challenge, with the provider's tokens. */
int oauth_exchange(struct ums_ctx *c, const char *auth_code, const char *verifier,
                   const struct client_info *ci, struct auth_out *out, struct ums_err *err);

/* oauth_link.c: the account a provider's user signs in to (found by the
 * identity, else linked by a verified address, else made), or the identity
 * linked to link_user_id. *uid filled; *takeover set when a pre-registered
 * password was removed (revoke the sessions after). UMS_EDENIED with *code
 * and *desc (GoTrue's error_code, a sentence) when refused. */
struct oauth_profile;
int oauth_link(struct ums_ctx *c, int provider, const struct oauth_profile *p,
               const char *link_user_id, const struct client_info *ci, char uid[UUID_LEN + 1],
               int *takeover, const char **code, const char **desc);

/* DELETE /user/identities/{id}: refuses the last one. */
int oauth_link_remove(struct ums_ctx *c, const char *uid, const char *identity_id,
                      const struct client_info *ci, struct ums_err *err);

#endif
