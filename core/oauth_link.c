/* oauth_link.c - which account a provider's user signs in to, linking and
 * unlinking identities (oauth.h; the rules are README's "Linking rules"). */
#include "oauth.h"
#include "oauth_provider.h"

#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "auth_db.h"
#include "config.h"
#include "ctx.h"
#include "db.h"
#include "../util/metrics.h"
#include "../util/ums.h"
#include "../util/utf8.h"

#define NAME_MAX_CHARS 100 /* users.name */

/* Refuses with GoTrue's error_code and a sentence. */
static int refuse(const char **code, const char **desc, const char *c, const char *d)
{
    *code = c;
    *desc = d;
    return UMS_EDENIED;
}

/* UMS_OK when user uid may sign in (locked for the transaction). */
static int user_may_sign_in(struct ums_ctx *c, const char *uid, int *confirmed, const char **code,
                            const char **desc)
{
    const char *p[1] = {uid};
    PGresult *res = NULL;
    int rc = db_exec(c->db, &res, STMT_USER_STATE_LOCK, 1, p);

    if (rc == UMS_OK && PQntuples(res) != 1)
        rc = refuse(code, desc, "user_not_found", "User not found");
    else if (rc == UMS_OK && PQgetvalue(res, 0, 0)[0] != 't')
        rc = refuse(code, desc, "user_banned", "User is banned");
    else if (rc == UMS_OK && confirmed != NULL)
        *confirmed = PQgetvalue(res, 0, 1)[0] == 't';
    PQclear(res);
    return rc;
}

/* Adds the identity to uid; refused when another request added it first. */
static int identity_add(struct ums_ctx *c, int provider, const struct oauth_profile *p,
                        const char *uid, const struct client_info *ci, const char **code,
                        const char **desc)
{
    const char *prm[5] = {uid, oauth_provider_name(provider), p->sub, p->email, p->identity_data};
    PGresult *res = NULL;
    char details[64];
    int rc = db_exec(c->db, &res, STMT_IDENTITY_INSERT, 5, prm);

    if (rc == UMS_OK && PQntuples(res) != 1)
        rc = refuse(code, desc, "identity_already_exists", "Identity is already linked");
    PQclear(res);
    if (rc == UMS_OK) {
        snprintf(details, sizeof(details), "{\"provider\":\"%s\"}", oauth_provider_name(provider));
        rc = audit_write(c->db, uid, "identity.linked", uid, ci->ip, details);
    }
    return rc;
}

/* The provider's claims fill what the user's metadata lacks. */
static int fill_metadata(struct ums_ctx *c, const char *uid, const struct oauth_profile *p)
{
    const char *prm[2] = {uid, p->identity_data};

    return db_exec(c->db, NULL, STMT_USER_FILL_METADATA, 2, prm);
}

/* No identity yet, no account to link to: a new account, confirmed by the
 * provider, without a password. */
static int account_new(struct ums_ctx *c, int provider, const struct oauth_profile *p,
                       const struct client_info *ci, char uid[UUID_LEN + 1], const char **code,
                       const char **desc)
{
    char name[512], details[64];
    const char *prm[3] = {p->email, name, p->identity_data};
    PGresult *res = NULL;
    int rc;

    snprintf(name, sizeof(name), "%.*s", (int)utf8_prefix(p->name, NAME_MAX_CHARS), p->name);
    rc = db_exec(c->db, &res, STMT_USER_INSERT_OAUTH, 3, prm);
    if (rc == UMS_OK && PQntuples(res) != 1) /* made by a request just before */
        rc = refuse(code, desc, "email_exists", "A user with this email address already exists");
    if (rc == UMS_OK)
        snprintf(uid, UUID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (rc == UMS_OK) {
        const char *p1[1] = {uid};
        rc = db_exec(c->db, NULL, STMT_PROFILE_INSERT, 1, p1);
    }
    if (rc == UMS_OK) {
        const char *p5[5] = {uid, oauth_provider_name(provider), p->sub, p->email,
                             p->identity_data};
        rc = db_exec(c->db, NULL, STMT_IDENTITY_INSERT, 5, p5);
    }
    if (rc == UMS_OK) {
        snprintf(details, sizeof(details), "{\"provider\":\"%s\"}", oauth_provider_name(provider));
        rc = audit_write(c->db, uid, "user.signup", uid, ci->ip, details);
    }
    return rc;
}

/* The decision, in the open transaction. */
static int decide(struct ums_ctx *c, int provider, const struct oauth_profile *p,
                  const char *link_user_id, const struct client_info *ci, char uid[UUID_LEN + 1],
                  int *takeover, int *created, const char **code, const char **desc)
{
    const char *find[2] = {oauth_provider_name(provider), p->sub};
    PGresult *res = NULL;
    int rc = db_exec(c->db, &res, STMT_IDENTITY_FIND, 2, find), found, confirmed = 0;

    if (rc != UMS_OK)
        return rc;
    found = PQntuples(res) == 1;
    if (found)
        snprintf(uid, UUID_LEN + 1, "%s", PQgetvalue(res, 0, 1));
    if (link_user_id != NULL) {
        /* Linking to the signed-in caller. */
        if (found) {
            PQclear(res);
            return refuse(code, desc, "identity_already_exists",
                          strcmp(uid, link_user_id) == 0
                              ? "Identity is already linked"
                              : "Identity is already linked to another user");
        }
        PQclear(res);
        snprintf(uid, UUID_LEN + 1, "%s", link_user_id);
        rc = user_may_sign_in(c, uid, NULL, code, desc);
        return rc == UMS_OK ? identity_add(c, provider, p, uid, ci, code, desc) : rc;
    }
    if (found) {
        /* A returning user: the provider's latest claims. */
        const char *touch[3] = {PQgetvalue(res, 0, 0), p->identity_data, p->email};
        rc = user_may_sign_in(c, uid, NULL, code, desc);
        if (rc == UMS_OK)
            rc = db_exec(c->db, NULL, STMT_IDENTITY_TOUCH, 3, touch);
        PQclear(res);
        return rc == UMS_OK ? fill_metadata(c, uid, p) : rc;
    }
    PQclear(res);
    res = NULL;
    if (p->email[0] == '\0')
        return refuse(code, desc, "provider_email_needs_verification",
                      "The provider gave no email address; add one there and try again.");
    {
        const char *byemail[1] = {p->email};
        rc = db_exec(c->db, &res, STMT_USER_BY_EMAIL_LOCK, 1, byemail);
    }
    if (rc != UMS_OK)
        return rc;
    found = PQntuples(res) == 1;
    if (found)
        snprintf(uid, UUID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    /* An address the provider does not vouch for never links, nor makes
     * an account (it could be anyone's). */
    if (!p->email_verified)
        return found ? refuse(code, desc, "email_exists",
                              "An account with this email address already exists; sign in to it "
                              "and link the provider from there.")
                     : refuse(code, desc, "provider_email_needs_verification",
                              "Verify your email address with the provider, then try again.");
    if (!found) {
        rc = account_new(c, provider, p, ci, uid, code, desc);
        *created = rc == UMS_OK;
        return rc;
    }
    rc = user_may_sign_in(c, uid, &confirmed, code, desc);
    if (rc == UMS_OK && !confirmed) {
        /* Whoever registered this address without proving it loses all
         * they set up: the provider has just proved it is someone else's. */
        char name[512];
        const char *t[3] = {uid, name, p->identity_data};
        snprintf(name, sizeof(name), "%.*s", (int)utf8_prefix(p->name, NAME_MAX_CHARS), p->name);
        rc = db_exec(c->db, NULL, STMT_USER_TAKEOVER, 3, t);
        if (rc == UMS_OK)
            rc = audit_write(c->db, uid, "user.preregistration_removed", uid, ci->ip, NULL);
        *takeover = rc == UMS_OK;
    }
    if (rc == UMS_OK)
        rc = identity_add(c, provider, p, uid, ci, code, desc);
    return rc == UMS_OK ? fill_metadata(c, uid, p) : rc;
}

/* Commits when rc is UMS_OK (then the cached user object is stale), else
 * rolls back; returns the outcome. */
static int end_tx(struct ums_ctx *c, int rc, const char *uid)
{
    if (rc == UMS_OK)
        rc = db_commit(c->db);
    else
        db_rollback(c->db);
    if (rc == UMS_OK)
        auth_user_cache_drop(c, uid);
    return rc;
}

int oauth_link(struct ums_ctx *c, int provider, const struct oauth_profile *p,
               const char *link_user_id, const struct client_info *ci, char uid[UUID_LEN + 1],
               int *takeover, const char **code, const char **desc)
{
    int rc = db_begin(c->db), created = 0;

    *takeover = 0;
    if (rc != UMS_OK)
        return rc;
    rc = decide(c, provider, p, link_user_id, ci, uid, takeover, &created, code, desc);
    rc = end_tx(c, rc, uid);
    if (rc == UMS_OK && created)
        metrics_inc(M_SIGNUP_OAUTH);
    return rc;
}

int oauth_link_remove(struct ums_ctx *c, const char *uid, const char *identity_id,
                      const struct client_info *ci, struct ums_err *err)
{
    const char *p1[1] = {uid};
    PGresult *res = NULL;
    char details[64];
    int rc, row = -1;

    if (identity_id == NULL || !valid_uuid(identity_id))
        return err_set(err, FAIL_IDENTITY_NOT_FOUND, NULL);
    rc = db_begin(c->db);
    if (rc != UMS_OK)
        return rc;
    rc = db_exec(c->db, &res, STMT_IDENTITIES_OF_USER, 1, p1);
    for (int i = 0; rc == UMS_OK && i < PQntuples(res); i++)
        if (strcmp(PQgetvalue(res, i, 0), identity_id) == 0)
            row = i;
    /* Someone else's identity is as unknown as a made-up one. */
    if (rc == UMS_OK && row < 0)
        rc = err_set(err, FAIL_IDENTITY_NOT_FOUND, NULL);
    else if (rc == UMS_OK && PQntuples(res) <= 1)
        rc = err_set(err, FAIL_SINGLE_IDENTITY, NULL);
    if (rc == UMS_OK) {
        const char *p2[2] = {identity_id, uid};
        rc = db_exec(c->db, NULL, STMT_IDENTITY_DELETE, 2, p2);
    }
    /* Without its email identity the account has no password sign-in. */
    if (rc == UMS_OK && strcmp(PQgetvalue(res, row, 1), "email") == 0)
        rc = db_exec(c->db, NULL, STMT_USER_DROP_PASSWORD, 1, p1);
    if (rc == UMS_OK) {
        snprintf(details, sizeof(details), "{\"provider\":\"%.16s\"}", PQgetvalue(res, row, 1));
        rc = audit_write(c->db, uid, "identity.unlinked", uid, ci->ip, details);
    }
    PQclear(res);
    return end_tx(c, rc, uid);
}
