/* tx_http.c - the HTTP POST that the sendgrid and fcm transports share:
 * one libcurl handle per transport, kept so that connections are reused, a
 * time limit, http(s) only, no redirects, the answer's body (capped) and
 * the server's wish about when to retry. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "tx_http.h"

static size_t on_body(char *p, size_t s, size_t n, void *ud)
{
    struct http_answer *a = ud;
    /* Past the cap the rest is dropped, not the transfer. */
    (void)buf_add(&a->body, p, s * n);
    return s * n;
}

/* Retry-After: seconds (an HTTP date counts as 1 s); X-RateLimit-Reset: a
 * Unix time (SendGrid). At most an hour. */
static size_t on_header(char *p, size_t s, size_t n, void *ud)
{
    struct http_answer *a = ud;
    size_t len = s * n;
    char line[256];
    long v;

    if (len >= sizeof(line))
        return len;
    memcpy(line, p, len);
    line[len] = '\0';
    if (strncasecmp(line, "Retry-After:", 12) == 0) {
        v = strtol(line + 12, NULL, 10);
        a->retry_after = v > 0 ? (v > 3600 ? 3600 : v) : 1;
    } else if (strncasecmp(line, "X-RateLimit-Reset:", 18) == 0 && a->retry_after == 0) {
        v = strtol(line + 18, NULL, 10) - (long)time(NULL);
        a->retry_after = v > 0 ? (v > 3600 ? 3600 : v) : 1;
    }
    return len;
}

void http_answer_init(struct http_answer *a)
{
    buf_init(&a->body, 64 * 1024);
    a->retry_after = 0;
}

void http_answer_free(struct http_answer *a)
{
    buf_free(&a->body);
}

long tx_http_post(CURL **handle, const char *url, struct curl_slist *hdr, const char *body,
                  int timeout_ms, struct http_answer *a, CURLcode *cc)
{
    long status = 0;

    *cc = CURLE_FAILED_INIT;
    if (*handle == NULL && (*handle = curl_easy_init()) == NULL)
        return 0;
    curl_easy_reset(*handle); /* keeps the connection cache */
    curl_easy_setopt(*handle, CURLOPT_URL, url);
    curl_easy_setopt(*handle, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(*handle, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(*handle, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(*handle, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(*handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(*handle, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(*handle, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(*handle, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(*handle, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(*handle, CURLOPT_HEADERDATA, a);
    *cc = curl_easy_perform(*handle);
    if (*cc == CURLE_OK)
        curl_easy_getinfo(*handle, CURLINFO_RESPONSE_CODE, &status);
    return status;
}
