/* oauth_github.c - GitHub: the code exchange (with PKCE; GitHub answers
 * its errors with 200), /user, and /user/emails for the primary verified
 * address (oauth_provider.h). */
#include "oauth_provider.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "oauth_http.h"
#include "outbound.h"
#include "../util/ums.h"

static struct outbound github_curl;

/* GET api_url + path with the token; the answer's JSON into *out. */
static int api_get(const struct oauth_exchange *x, const char *token, const char *path,
                   struct json_object **out, long *status, const char **why)
{
    struct oauth_reply r;
    struct buf url, auth;
    int rc;

    *out = NULL;
    buf_init(&url, 4096);
    buf_init(&auth, 16384);
    oauth_http_reply_init(&r);
    rc = buf_printf(&url, "%s%s", x->pc->api_url, path) == 0 &&
                 buf_printf(&auth, "Bearer %s", token) == 0
             ? oauth_http(&github_curl, x->cfg, url.p, NULL, auth.p, &r, why)
             : UMS_ERR;
    *status = r.status;
    if (rc == UMS_OK && r.status >= 500) {
        *why = "the GitHub API answered 5xx";
        rc = UMS_EUNAVAILABLE;
    } else if (rc == UMS_OK && r.status != 200) {
        *why = "the GitHub API refused the token";
        rc = UMS_EDENIED;
    } else if (rc == UMS_OK && (*out = oauth_http_json(&r)) == NULL) {
        *why = "the GitHub API's answer is not JSON";
        rc = UMS_EUNAVAILABLE;
    }
    oauth_http_reply_free(&r);
    buf_free(&url);
    buf_free_secret(&auth);
    return rc;
}

/* The address to use from /user/emails: the primary one if verified, else
 * a verified one, else the primary one unverified. */
static void pick_email(struct oauth_profile *p, struct json_object *emails)
{
    int best = -1; /* 2: primary verified, 1: verified, 0: primary */

    for (size_t i = 0; i < json_object_array_length(emails); i++) {
        struct json_object *e = json_object_array_get_idx(emails, i), *v;
        const char *addr = oauth_http_str(e, "email");
        int primary = json_object_object_get_ex(e, "primary", &v) && json_object_get_boolean(v);
        int verified = json_object_object_get_ex(e, "verified", &v) &&
                       json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
        int rank = primary && verified ? 2 : verified ? 1 : primary ? 0 : -1;
        char norm[EMAIL_MAX + 1];
        if (addr == NULL || rank <= best ||
            valid_email_normalize(norm, addr, strlen(addr)) != UMS_OK)
            continue;
        best = rank;
        memcpy(p->email, norm, sizeof(norm));
        p->email_verified = verified;
    }
}

/* identity_data, as GoTrue writes it for GitHub. */
static int identity_data(const struct oauth_exchange *x, struct oauth_profile *p,
                         struct json_object *user)
{
    const char *login = oauth_http_str(user, "login"), *avatar = oauth_http_str(user, "avatar_url");
    struct json_object *d = oauth_profile_data(p, x->pc->api_url);

    if (login != NULL && strlen(login) <= 100) {
        json_object_object_add(d, "user_name", json_object_new_string(login));
        json_object_object_add(d, "preferred_username", json_object_new_string(login));
    }
    if (avatar != NULL && strlen(avatar) < 2048)
        json_object_object_add(d, "avatar_url", json_object_new_string(avatar));
    return oauth_profile_set_data(p, d);
}

/* POST the code (GitHub answers its refusals with 200 and "error"). */
static int exchange(const struct oauth_exchange *x, struct oauth_profile *p, const char **why)
{
    const char *kv[] = {"client_id",     x->pc->client_id, "client_secret", x->pc->client_secret,
                        "code",          x->code,          "redirect_uri",  x->redirect_uri,
                        "code_verifier", x->verifier};
    struct json_object *o = NULL;
    const char *at;
    int rc = oauth_http_token(&github_curl, x->cfg, x->pc->token_url, kv, 5, &o, &at, why);

    if (rc == UMS_OK) {
        p->access_token = strdup(at);
        rc = p->access_token != NULL ? UMS_OK : UMS_ERR;
    }
    json_object_put(o);
    return rc;
}

int oauth_github_fetch(const struct oauth_exchange *x, struct oauth_profile *p, const char **why)
{
    struct json_object *user = NULL, *emails = NULL, *id;
    const char *name, *email;
    long status = 0;
    int rc = exchange(x, p, why);

    if (rc == UMS_OK)
        rc = api_get(x, p->access_token, "/user", &user, &status, why);
    if (rc == UMS_OK &&
        (!json_object_object_get_ex(user, "id", &id) || !json_object_is_type(id, json_type_int) ||
         json_object_get_int64(id) <= 0)) {
        *why = "/user has no numeric id";
        rc = UMS_EDENIED;
    }
    if (rc != UMS_OK)
        goto out;
    snprintf(p->sub, sizeof(p->sub), "%" PRId64, json_object_get_int64(id));
    name = oauth_http_str(user, "name");
    snprintf(p->name, sizeof(p->name), "%s", name != NULL ? name : "");
    rc = api_get(x, p->access_token, "/user/emails", &emails, &status, why);
    if (rc == UMS_OK && json_object_is_type(emails, json_type_array)) {
        pick_email(p, emails);
    } else if (rc == UMS_EDENIED && status >= 400 && status < 500) {
        /* No user:email scope: the public address, which GitHub does not
         * say is verified. */
        email = oauth_http_str(user, "email");
        if (email == NULL || valid_email_normalize(p->email, email, strlen(email)) != UMS_OK)
            p->email[0] = '\0';
        p->email_verified = 0;
        rc = UMS_OK;
    } else if (rc == UMS_OK) {
        *why = "/user/emails is not an array";
        rc = UMS_EUNAVAILABLE;
    }
    if (rc == UMS_OK)
        rc = identity_data(x, p, user);
out:
    json_object_put(user);
    json_object_put(emails);
    return rc;
}
