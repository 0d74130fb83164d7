/* oauth_http.h - calls to an OAuth provider: TLS verified, time-limited,
 * size-capped, redirects never followed (oauth_http.c). */
#ifndef UMS_OAUTH_HTTP_H
#define UMS_OAUTH_HTTP_H

#include <json-c/json.h>

#include "../util/buf.h"

struct ums_config;
struct outbound;

#define OAUTH_HTTP_MAX (256 * 1024) /* bytes of an answer; a longer one is a failure */

struct oauth_reply {
    long status;     /* the HTTP status */
    struct buf body; /* at most OAUTH_HTTP_MAX bytes */
};

void oauth_http_reply_init(struct oauth_reply *r);
void oauth_http_reply_free(struct oauth_reply *r);

/*
 * GET url (form NULL) or POST form (application/x-www-form-urlencoded) to
 * it, on *o's kept connection, with Accept: application/json and, unless
 * NULL, the Authorization header value auth. Only https (and http, which
 * the configuration allows to loopback hosts only) is spoken, the
 * certificate is verified ([oauth] ca_file, else the system's store), the
 * whole call lasts at most [oauth] timeout_ms. UMS_OK when an answer came
 * (any status); UMS_EUNAVAILABLE when none did or it was too large, with
 * *why saying what happened (for the log; no secret in it).
 */
int oauth_http(struct outbound *o, const struct ums_config *cfg, const char *url, const char *form,
               const char *auth, struct oauth_reply *r, const char **why);

/* The reply's body as a JSON object (strictly parsed, depth 16), or NULL. */
struct json_object *oauth_http_json(const struct oauth_reply *r);

/* A string member of o, or NULL (also when it is not a string). */
const char *oauth_http_str(struct json_object *o, const char *key);

/*
 * POSTs the form of the n pairs kv to a token endpoint and checks the
 * answer: UMS_OK with *out the JSON object (json_object_put it), whose
 * access_token is *access_token (borrowed from *out); UMS_EUNAVAILABLE when
 * no answer came, or a 5xx, or not a JSON object; UMS_EDENIED when it is
 * not 200 or has no access_token (GitHub answers its refusals with 200).
 */
int oauth_http_token(struct outbound *o, const struct ums_config *cfg, const char *url,
                     const char *const *kv, int n, struct json_object **out,
                     const char **access_token, const char **why);

/* A form body "k=v&k=v" of the n pairs kv[2i], kv[2i+1] (values
 * percent-encoded) into b. 0 or an error of buf. */
int oauth_http_form(struct buf *b, const char *const *kv, int n);

#endif
