/* tx_http.c - the HTTP POSTs that the sendgrid and fcm transports share:
 * one at a time on a kept handle, or many at once (tx_multi.c); each with a
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

void tx_http_answer_init(struct http_answer *a)
{
    buf_init(&a->body, 64 * 1024);
    a->retry_after = 0;
}

void tx_http_answer_free(struct http_answer *a)
{
    buf_free(&a->body);
}

/* The options every POST gets, on a new handle (core/outbound.h says why
 * a handle is never reused). */
static void setup(CURL *h, const char *url, struct curl_slist *hdr, const char *body,
                  int timeout_ms, struct http_answer *a)
{
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, a);
}

long tx_http_post(struct outbound *o, const char *url, struct curl_slist *hdr, const char *body,
                  int timeout_ms, struct http_answer *a, CURLcode *cc)
{
    CURL *h = outbound_handle(o);
    long status = 0;

    *cc = CURLE_FAILED_INIT;
    if (h == NULL)
        return 0;
    setup(h, url, hdr, body, timeout_ms, a);
    *cc = curl_easy_perform(h);
    if (*cc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static int post_setup(CURL *easy, size_t i, void *ud)
{
    struct http_call *c = (struct http_call *)ud + i;

    setup(easy, c->url, c->hdr, c->body, c->timeout_ms, &c->ans);
    return 0;
}

static void post_done(CURL *easy, size_t i, CURLcode cc, void *ud)
{
    struct http_call *c = (struct http_call *)ud + i;

    c->cc = cc;
    c->status = 0;
    if (cc == CURLE_OK)
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &c->status);
}

void tx_http_post_all(struct tx_pool *pool, struct http_call *calls, size_t n, int parallel,
                      int timeout_ms)
{
    for (size_t i = 0; i < n; i++)
        calls[i].timeout_ms = timeout_ms;
    tx_multi_run(pool, n, parallel, post_setup, post_done, calls, M_PROVIDER_EMAIL);
}
