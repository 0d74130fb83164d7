/* tx_http.c - the HTTP POSTs that the sendgrid and fcm transports share:
 * one at a time on a kept handle, or many at once on a pool of kept
 * connections (curl multi); each with a
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

/* The options every POST gets; a reset keeps the handle's connection. */
static void setup(CURL *h, const char *url, struct curl_slist *hdr, const char *body,
                  int timeout_ms, struct http_answer *a)
{
    curl_easy_reset(h);
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

long tx_http_post(CURL **handle, const char *url, struct curl_slist *hdr, const char *body,
                  int timeout_ms, struct http_answer *a, CURLcode *cc)
{
    long status = 0;

    *cc = CURLE_FAILED_INIT;
    if (*handle == NULL && (*handle = curl_easy_init()) == NULL)
        return 0;
    setup(*handle, url, hdr, body, timeout_ms, a);
    *cc = curl_easy_perform(*handle);
    if (*cc == CURLE_OK)
        curl_easy_getinfo(*handle, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

void tx_http_post_all(struct http_pool *pool, struct http_call *calls, size_t n, int parallel,
                      int timeout_ms)
{
    struct http_call *slot[64] = {NULL};
    size_t next = 0, running = 0;

    if (parallel < 1)
        parallel = 1;
    if (parallel > 64)
        parallel = 64;
    for (size_t i = 0; i < n; i++) {
        calls[i].status = 0;
        calls[i].cc = CURLE_FAILED_INIT;
    }
    if (pool->multi == NULL) {
        if ((pool->multi = curl_multi_init()) == NULL)
            return;
        /* Keep one connection per slot between runs. */
        curl_multi_setopt(pool->multi, CURLMOPT_MAXCONNECTS, (long)parallel);
    }
    while (next < n || running > 0) {
        struct CURLMsg *msg;
        int still = 0, left = 0;

        for (int s = 0; s < parallel && next < n; s++) {
            if (slot[s] != NULL)
                continue;
            if (pool->easy[s] == NULL && (pool->easy[s] = curl_easy_init()) == NULL)
                break;
            setup(pool->easy[s], calls[next].url, calls[next].hdr, calls[next].body, timeout_ms,
                  &calls[next].ans);
            curl_easy_setopt(pool->easy[s], CURLOPT_PRIVATE, (void *)(long)s);
            if (curl_multi_add_handle(pool->multi, pool->easy[s]) != CURLM_OK) {
                next++; /* no outcome: status 0, retried later */
                continue;
            }
            slot[s] = &calls[next++];
            running++;
        }
        if (running == 0) {
            if (next < n)
                next++; /* no handle could be made for this one */
            continue;
        }
        if (curl_multi_perform(pool->multi, &still) != CURLM_OK)
            break;
        while ((msg = curl_multi_info_read(pool->multi, &left)) != NULL) {
            void *priv = NULL;
            long s;
            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            s = (long)priv;
            slot[s]->cc = msg->data.result;
            if (msg->data.result == CURLE_OK)
                curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &slot[s]->status);
            curl_multi_remove_handle(pool->multi, msg->easy_handle);
            slot[s] = NULL;
            running--;
        }
        if (running > 0 && still > 0)
            curl_multi_poll(pool->multi, NULL, 0, 100, NULL);
    }
    /* Only after a failing curl_multi_perform: the rest has no outcome. */
    for (int s = 0; s < parallel; s++)
        if (slot[s] != NULL)
            curl_multi_remove_handle(pool->multi, pool->easy[s]);
}

void tx_http_pool_free(struct http_pool *pool)
{
    for (size_t s = 0; s < sizeof(pool->easy) / sizeof(pool->easy[0]); s++)
        if (pool->easy[s] != NULL)
            curl_easy_cleanup(pool->easy[s]);
    if (pool->multi != NULL)
        curl_multi_cleanup(pool->multi);
    memset(pool, 0, sizeof(*pool));
}
