/* tx_fcm.c - push through Firebase Cloud Messaging's HTTP v1 API.
 *
 * The service account's key signs a JWT (RS256) that is exchanged at its
 * token_uri for an OAuth2 access token (grant type jwt-bearer), cached until
 * a minute before it expires. Each message is
 * POST {fcm_url}/v1/projects/{project_id}/messages:send. A token FCM reports
 * as unregistered (404, or UNREGISTERED) is TX_GONE: the caller removes the
 * device. 429 and 5xx are retried; other 4xx are permanent. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <jwt.h>

#include "../util/metrics.h"
#include "../util/buf.h"
#include "../core/config.h"
#include "../util/log.h"
#include "../core/service_account.h"
#include "../util/ums.h"
#include "mail.h"
#include "tx_http.h"

#define SCOPE "https://www.googleapis.com/auth/firebase.messaging"

static struct outbound fcm_curl;       /* the token exchange and the sends */
static struct service_account account; /* read once, on the first push */
static char access_token[4096];
static time_t token_expires;

static int load_account(const struct ums_config *cfg, char *err, size_t errlen)
{
    if (account.key != NULL)
        return UMS_OK;
    return service_account_load(&account, cfg->push.fcm_service_account_file,
                                cfg->push.fcm_project_id, err, errlen);
}

/*
 * The signed assertion for the token exchange, through libjwt: once an hour,
 * so its parsing of the PEM key on every call costs nothing that matters.
 * The header (alg RS256, typ JWT) and the claims' JSON escaping are libjwt's.
 */
static int make_assertion(struct buf *out)
{
    time_t now = time(NULL);
    jwt_t *jwt = NULL;
    char *text = NULL;
    int rc = UMS_ERR;

    if (account.key_pem_len > INT_MAX || jwt_new(&jwt) != 0)
        goto out;
    if (jwt_add_grant(jwt, "iss", account.client_email) != 0 ||
        jwt_add_grant(jwt, "scope", SCOPE) != 0 ||
        jwt_add_grant(jwt, "aud", account.token_uri) != 0 ||
        jwt_add_grant_int(jwt, "iat", (long)now) != 0 ||
        jwt_add_grant_int(jwt, "exp", (long)now + 3600) != 0 ||
        jwt_set_alg(jwt, JWT_ALG_RS256, (const unsigned char *)account.key_pem,
                    (int)account.key_pem_len) != 0)
        goto out;
    text = jwt_encode_str(jwt);
    if (text != NULL && buf_adds(out, text) == 0)
        rc = UMS_OK;
out:
    free(text);
    jwt_free(jwt); /* zeroes its copy of the key */
    return rc;
}

/* An access token, from the cache or a new exchange. */
static int ensure_token(const struct ums_config *cfg, struct tx_result *res)
{
    struct buf assertion, form;
    struct http_answer a;
    CURLcode cc;
    struct curl_slist *hdr = NULL;
    struct json_object *o = NULL, *v;
    long status;
    int rc = TX_RETRY;

    if (access_token[0] != '\0' && time(NULL) < token_expires)
        return TX_OK;
    buf_init(&assertion, 8192);
    buf_init(&form, 16384);
    tx_http_answer_init(&a);
    if (make_assertion(&assertion) != UMS_OK) {
        snprintf(res->error, sizeof(res->error), "fcm: cannot sign the assertion");
        goto out;
    }
    buf_printf(&form,
               "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Ajwt-bearer"
               "&assertion=%s",
               assertion.p);
    hdr = curl_slist_append(hdr, "Content-Type: application/x-www-form-urlencoded");
    status = tx_http_post(&fcm_curl, account.token_uri, hdr, form.p != NULL ? form.p : "",
                          cfg->push.timeout_ms, &a, &cc);
    if (status == 200 && (o = json_tokener_parse(a.body.p != NULL ? a.body.p : "")) != NULL &&
        json_object_object_get_ex(o, "access_token", &v) &&
        json_object_get_string_len(v) < (int)sizeof(access_token)) {
        long ttl = 3600;
        snprintf(access_token, sizeof(access_token), "%s", json_object_get_string(v));
        if (json_object_object_get_ex(o, "expires_in", &v))
            ttl = json_object_get_int64(v);
        /* Google's tokens last an hour; a huge or negative expires_in
         * must neither overflow the sum below nor keep a token for ever. */
        if (ttl < 0 || ttl > 86400)
            ttl = ttl < 0 ? 0 : 86400;
        token_expires = time(NULL) + (ttl > 120 ? ttl - 60 : ttl / 2);
        rc = TX_OK;
    } else {
        snprintf(res->error, sizeof(res->error), "fcm: token exchange answered %ld", status);
        rc = status == 0 || status == 429 || status >= 500 ? TX_RETRY : TX_PERMANENT;
    }
out:
    json_object_put(o);
    curl_slist_free_all(hdr);
    buf_free(&assertion);
    buf_free(&form);
    tx_http_answer_free(&a);
    return rc;
}

int tx_fcm_send(const struct ums_config *cfg, const char *device, const char *title,
                const char *body, long long event_id, struct tx_result *res)
{
    struct json_object *o = NULL, *msg, *note, *data;
    struct curl_slist *hdr = NULL;
    struct http_answer a;
    CURLcode cc;
    char url[1024], auth[4200], id[32];
    long status;
    int rc;

    memset(res, 0, sizeof(*res));
    if (load_account(cfg, res->error, sizeof(res->error)) != UMS_OK)
        return TX_PERMANENT;
    rc = ensure_token(cfg, res);
    if (rc != TX_OK)
        return rc;
    o = json_object_new_object();
    msg = json_object_new_object();
    note = json_object_new_object();
    data = json_object_new_object();
    snprintf(id, sizeof(id), "%lld", event_id);
    json_object_object_add(note, "title", json_object_new_string(title));
    json_object_object_add(note, "body", json_object_new_string(body));
    json_object_object_add(data, "ums_event_id", json_object_new_string(id));
    json_object_object_add(msg, "token", json_object_new_string(device));
    json_object_object_add(msg, "notification", note);
    json_object_object_add(msg, "data", data);
    json_object_object_add(o, "message", msg);
    snprintf(url, sizeof(url), "%s/v1/projects/%s/messages:send", cfg->push.fcm_url,
             account.project_id);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", access_token);
    hdr = curl_slist_append(hdr, auth);
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    tx_http_answer_init(&a);
    status =
        tx_http_post(&fcm_curl, url, hdr, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                     cfg->push.timeout_ms, &a, &cc);
    {
        double secs = 0;
        if (fcm_curl.handle != NULL &&
            curl_easy_getinfo(fcm_curl.handle, CURLINFO_TOTAL_TIME, &secs) == CURLE_OK)
            metrics_observe(M_PROVIDER_PUSH, secs);
    }
    if (status >= 200 && status < 300) {
        rc = TX_OK;
    } else if (status == 404 || (a.body.p != NULL && strstr(a.body.p, "UNREGISTERED") != NULL)) {
        rc = TX_GONE;
        snprintf(res->error, sizeof(res->error), "fcm: the device token is unregistered");
    } else {
        if (status == 401)
            access_token[0] = '\0'; /* a revoked token: exchange again next time */
        snprintf(res->error, sizeof(res->error), "fcm: HTTP %ld", status);
        res->retry_after = (int)a.retry_after;
        rc = status == 0 || status == 401 || status == 429 || status >= 500 ? TX_RETRY
                                                                            : TX_PERMANENT;
    }
    json_object_put(o);
    curl_slist_free_all(hdr);
    tx_http_answer_free(&a);
    return rc;
}
