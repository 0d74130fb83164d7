/* oauth_http.c - provider calls with libcurl (oauth_http.h). */
#include "oauth_http.h"

#include <string.h>

#include <curl/curl.h>

#include "config.h"
#include "outbound.h"
#include "../util/json.h"
#include "../util/ums.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

void oauth_http_reply_init(struct oauth_reply *r)
{
    r->status = 0;
    buf_init(&r->body, OAUTH_HTTP_MAX);
}

void oauth_http_reply_free(struct oauth_reply *r)
{
    buf_free(&r->body);
}

/* Keeps the answer; one byte past the cap ends the transfer (CURLE_WRITE_ERROR). */
static size_t on_write(char *src, size_t size, size_t nmemb, void *arg)
{
    struct oauth_reply *r = arg;
    size_t n = size * nmemb;

    return buf_add(&r->body, src, n) == 0 ? n : 0;
}

int oauth_http(struct outbound *o, const struct ums_config *cfg, const char *url, const char *form,
               const char *auth, struct oauth_reply *r, const char **why)
{
    struct curl_slist *hdrs = NULL, *h;
    struct buf line;
    CURL *curl = outbound_handle(o);
    CURLcode cc;
    int rc = UMS_EUNAVAILABLE;
    long timeout = (long)cfg->oauth.timeout_ms;

    *why = "out of memory";
    buf_reset(&r->body, OAUTH_HTTP_MAX);
    r->status = 0;
    if (curl == NULL)
        return UMS_ERR;
    buf_init(&line, 16384);
    h = curl_slist_append(NULL, "Accept: application/json");
    if (h != NULL && auth != NULL) {
        hdrs = h;
        if (buf_printf(&line, "Authorization: %s", auth) != 0 ||
            (h = curl_slist_append(hdrs, line.p)) == NULL)
            goto out;
    }
    hdrs = h;
    if (hdrs == NULL)
        goto out;
    if (curl_easy_setopt(curl, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http") != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
        (cfg->oauth.ca_file[0] != '\0' &&
         curl_easy_setopt(curl, CURLOPT_CAINFO, cfg->oauth.ca_file) != CURLE_OK) ||
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)OAUTH_HTTP_MAX) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_USERAGENT, "ums/" PACKAGE_VERSION) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, r) != CURLE_OK ||
        (form != NULL && curl_easy_setopt(curl, CURLOPT_POSTFIELDS, form) != CURLE_OK)) {
        *why = "cannot set up the request";
        goto out;
    }
    cc = curl_easy_perform(curl);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
        *why = NULL;
        rc = UMS_OK;
    } else if (cc == CURLE_WRITE_ERROR || cc == CURLE_FILESIZE_EXCEEDED) {
        *why = "the answer is larger than 256 KiB";
    } else {
        *why = curl_easy_strerror(cc);
    }
out:
    /* The handle must not keep pointers into what is freed here. */
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    buf_free_secret(&line);
    return rc;
}

struct json_object *oauth_http_json(const struct oauth_reply *r)
{
    struct json_object *o = NULL;

    if (r->body.p == NULL || json_parse_strict(&o, r->body.p, r->body.len, 16, NULL) != UMS_OK)
        return NULL;
    if (!json_object_is_type(o, json_type_object) && !json_object_is_type(o, json_type_array)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

const char *oauth_http_str(struct json_object *o, const char *key)
{
    struct json_object *v;

    if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

int oauth_http_form(struct buf *b, const char *const *kv, int n)
{
    int rc = 0;

    for (int i = 0; i < n && rc == 0; i++) {
        rc = buf_printf(b, "%s%s=", i > 0 ? "&" : "", kv[2 * i]);
        if (rc == 0)
            rc = buf_add_urlencoded(b, kv[2 * i + 1]);
    }
    return rc;
}

int oauth_http_token(struct outbound *o, const struct ums_config *cfg, const char *url,
                     const char *const *kv, int n, struct json_object **out,
                     const char **access_token, const char **why)
{
    struct oauth_reply r;
    struct buf form;
    int rc;

    *out = NULL;
    *access_token = NULL;
    buf_init(&form, 64 * 1024);
    oauth_http_reply_init(&r);
    rc = oauth_http_form(&form, kv, n) == 0 ? oauth_http(o, cfg, url, form.p, NULL, &r, why)
                                            : UMS_ERR;
    if (rc == UMS_OK && r.status >= 500) {
        *why = "the token endpoint answered 5xx";
        rc = UMS_EUNAVAILABLE;
    } else if (rc == UMS_OK && ((*out = oauth_http_json(&r)) == NULL ||
                                !json_object_is_type(*out, json_type_object))) {
        *why = "the token endpoint's answer is not a JSON object";
        rc = UMS_EUNAVAILABLE;
    } else if (rc == UMS_OK && (r.status != 200 ||
                                (*access_token = oauth_http_str(*out, "access_token")) == NULL)) {
        *why = "the token endpoint refused the code";
        rc = UMS_EDENIED;
    }
    if (rc != UMS_OK) {
        json_object_put(*out);
        *out = NULL;
        *access_token = NULL;
    }
    oauth_http_reply_free(&r);
    buf_free_secret(&form);
    return rc;
}
