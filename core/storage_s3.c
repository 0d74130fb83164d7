/* storage_s3.c - the S3 backend: path-style PUT and DELETE requests signed
 * by libcurl's AWS SigV4, one easy handle per process. */
#include "storage_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "config.h"
#include "outbound.h"
#include "../util/crypto.h"
#include "../util/log.h"
#include "../util/ums.h"

#define ERRBODY_MAX 1024 /* bytes of an error response kept to find its <Code> */

/* One easy handle per process, so curl keeps connections open between requests. */
static struct outbound s3_curl;

/* 1 when every byte of s is in [a-z0-9] or in extra. */
static int lower_alnum(const char *s, const char *extra)
{
    for (; *s != '\0'; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr(extra, *s) != NULL))
            return 0;
    return 1;
}

struct reply {
    char body[ERRBODY_MAX + 1];
    size_t len;
};

/* Keeps the first ERRBODY_MAX bytes of the response and drops the rest. */
static size_t on_write(char *src, size_t size, size_t nmemb, void *arg)
{
    struct reply *r = arg;
    size_t n = size * nmemb, room = ERRBODY_MAX - r->len;

    if (n < room)
        room = n;
    memcpy(r->body + r->len, src, room);
    r->len += room;
    r->body[r->len] = '\0';
    return n;
}

/* The <Code> of an S3 error body, copied into out as [A-Za-z0-9]; "" if none. */
static void error_code(char *out, size_t size, const char *body)
{
    const char *p = strstr(body, "<Code>");
    size_t n = 0;

    if (p != NULL)
        for (p += 6; n + 1 < size && ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                                      (*p >= '0' && *p <= '9'));
             p++)
            out[n++] = *p;
    out[n] = '\0';
}

/* 0 when the [storage] s3_* settings can be used; UMS_EINVALID (logged) if not. */
static int s3_config_valid(const struct ums_config *cfg)
{
    const char *ep = cfg->storage.s3_endpoint, *bucket = cfg->storage.s3_bucket;
    const char *region = cfg->storage.s3_region;

    /* No user info, query or fragment: the object path is appended to it. */
    if (!storage_printable(ep, 2048) || strpbrk(ep, " @?#") != NULL ||
        (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0)) {
        log_error("storage: s3_endpoint must be an http:// or https:// URL");
        return UMS_EINVALID;
    }
    if (bucket == NULL || strlen(bucket) < 3 || strlen(bucket) > 63 || !lower_alnum(bucket, ".-")) {
        log_error("storage: s3_bucket must be 3 to 63 characters of [a-z0-9.-]");
        return UMS_EINVALID;
    }
    if (region == NULL || region[0] == '\0' || strlen(region) > 32 || !lower_alnum(region, "-")) {
        log_error("storage: s3_region must be 1 to 32 characters of [a-z0-9-]");
        return UMS_EINVALID;
    }
    if (!storage_printable(cfg->storage.s3_access_key, 128) ||
        !storage_printable(cfg->storage.s3_secret_key, 256)) {
        log_error("storage: s3_access_key and s3_secret_key must be set");
        return UMS_EINVALID;
    }
    if (cfg->storage.timeout_ms <= 0) {
        log_error("storage: timeout_ms must be positive");
        return UMS_EINVALID;
    }
    return UMS_OK;
}

/* Appends one header line to *list (copied). 0 or UMS_ERR; *list is kept either way. */
static int header_add(struct curl_slist **list, const char *line)
{
    struct curl_slist *l = curl_slist_append(*list, line);

    if (l == NULL)
        return UMS_ERR;
    *list = l;
    return UMS_OK;
}

/* What a failed transfer means to the caller. */
static int transfer_rc(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
        return UMS_EUNAVAILABLE;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return UMS_EINVALID;
    default:
        return UMS_ERR;
    }
}

/* See storage_backend.h. */
int storage_s3_send(const struct ums_config *cfg, const char *key, const void *data, size_t len,
                    const char *ctype, int gone_ok)
{
    const char *method = ctype != NULL ? "PUT" : "DELETE";
    char sigv4[64], ctype_hdr[sizeof("Content-Type: ") + CTYPE_MAX], sha_hdr[96], hash[65];
    char errbuf[CURL_ERROR_SIZE], code[64];
    struct curl_slist *hdrs = NULL;
    struct reply *reply = NULL;
    char *url = NULL;
    CURL *curl;
    CURLcode c;
    long status = 0;
    int rc;

    rc = s3_config_valid(cfg);
    if (rc != UMS_OK)
        goto out;
    rc = UMS_ERR;
    reply = calloc(1, sizeof(*reply));
    if (reply == NULL ||
        storage_url_join(&url, cfg->storage.s3_endpoint, cfg->storage.s3_bucket, key) != UMS_OK)
        goto out;
    snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", cfg->storage.s3_region);
    /* curl 7.88 signs the x-amz-content-sha256 it is given but never adds one
     * (S3 requires it), so the body's hash is sent and signed explicitly. */
    if (data == NULL)
        data = "";
    crypto_sha256_hex(hash, data, len);
    snprintf(sha_hdr, sizeof(sha_hdr), "x-amz-content-sha256: %s", hash);
    if (header_add(&hdrs, sha_hdr) != UMS_OK)
        goto out;
    if (ctype != NULL) {
        snprintf(ctype_hdr, sizeof(ctype_hdr), "Content-Type: %s", ctype);
        /* Stored with the object and sent with it: a key names one image
         * for ever (profile.c), so browsers and CDNs may keep it. */
        if (header_add(&hdrs, ctype_hdr) != UMS_OK ||
            header_add(&hdrs, "Cache-Control: public, max-age=31536000, immutable") != UMS_OK)
            goto out;
    }
    curl = outbound_handle(&s3_curl);
    if (curl == NULL)
        goto out;
    errbuf[0] = '\0';
    if (curl_easy_setopt(curl, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)cfg->storage.timeout_ms) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->storage.timeout_ms) !=
            CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_USERNAME, cfg->storage.s3_access_key) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_PASSWORD, cfg->storage.s3_secret_key) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, reply) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK) {
        log_error("storage: libcurl lacks an option the s3 backend needs");
        goto out;
    }
    /* The body goes as POSTFIELDS under the PUT method, not as an upload: curl
     * then resends it by itself on a dead reused connection, and sends no
     * "Expect: 100-continue" below 1 MiB. (Removing Expect with an empty
     * "Expect:" header is no way out: curl 7.88 signs that header anyway.) */
    if (curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK ||
        (ctype != NULL &&
         (curl_easy_setopt(curl, CURLOPT_POSTFIELDS, data) != CURLE_OK ||
          curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) != CURLE_OK)))
        goto out;
    c = curl_easy_perform(curl);
    if (c == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    /* The handle outlives this call: it keeps its connections, but neither
     * pointers into this frame nor (freed here) its copy of the secret. */
    curl_easy_reset(curl);
    if (c != CURLE_OK) {
        rc = transfer_rc(c);
        log_warn("storage: s3 %s %s: %s", method, url, errbuf[0] ? errbuf : curl_easy_strerror(c));
        goto out;
    }
    error_code(code, sizeof(code), reply->body);
    /* A missing object is gone; a missing bucket is a configuration error. */
    if ((status >= 200 && status < 300) ||
        (gone_ok && status == 404 && strcmp(code, "NoSuchBucket") != 0)) {
        rc = UMS_OK;
        goto out;
    }
    rc = status >= 500 ? UMS_EUNAVAILABLE : UMS_ERR;
    log_warn("storage: s3 %s %s: HTTP %ld %s", method, url, status, code);
out:
    curl_slist_free_all(hdrs);
    free(reply);
    free(url);
    return rc;
}
