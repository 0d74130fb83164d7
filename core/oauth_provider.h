/* oauth_provider.h - what core/oauth.c asks of a provider (Google in
 * oauth_google.c, GitHub in oauth_github.c); private to core/. */
#ifndef UMS_OAUTH_PROVIDER_H
#define UMS_OAUTH_PROVIDER_H

#include <json-c/json.h>

#include "../util/valid.h"

struct ums_config;
struct oauth_provider_config;

/* The provider's user after a code exchange. */
struct oauth_profile {
    char sub[128];             /* the provider's stable subject */
    char email[EMAIL_MAX + 1]; /* normalised; "" when the provider gave none usable */
    int email_verified;        /* the provider vouches for email */
    char name[512];            /* display name, "" if none */
    char *identity_data;       /* malloc'd JSON object (GoTrue's identity_data) */
    char *access_token;        /* malloc'd: the provider's tokens, for the client */
    char *refresh_token;       /* malloc'd or NULL */
};

void oauth_profile_free(struct oauth_profile *p);

/* oauth.c: GoTrue's identity_data members every provider has (iss, sub,
 * provider_id, email, email_verified, phone_verified, name, full_name),
 * from p; a new object for the provider to add its own to. */
struct json_object *oauth_profile_data(const struct oauth_profile *p, const char *iss);

/* Renders d into p->identity_data and releases d. UMS_OK or UMS_ERR. */
int oauth_profile_set_data(struct oauth_profile *p, struct json_object *d);

/* What one code exchange needs. */
struct oauth_exchange {
    const struct ums_config *cfg;
    const struct oauth_provider_config *pc;
    const char *code;         /* from the callback */
    const char *verifier;     /* ums's PKCE verifier towards the provider */
    const char *nonce;        /* sent at authorize (Google), checked in the id_token */
    const char *redirect_uri; /* [auth] external_url + /callback */
};

/*
 * Exchanges the code for tokens and reads the user into *p. UMS_OK;
 * UMS_EDENIED when the provider refused or answered something that must not
 * be trusted (a bad id_token, no subject); UMS_EUNAVAILABLE when it did not
 * answer in time, answered 5xx, invalid JSON or too much. *why says which,
 * for the log (no secret in it).
 */
int oauth_google_fetch(const struct oauth_exchange *x, struct oauth_profile *p, const char **why);
int oauth_github_fetch(const struct oauth_exchange *x, struct oauth_profile *p, const char **why);

#endif
