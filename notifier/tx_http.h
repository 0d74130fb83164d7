/* tx_http.h - one HTTP POST for the provider transports (tx_http.c). */
#ifndef UMS_TX_HTTP_H
#define UMS_TX_HTTP_H

#include <curl/curl.h>

#include "../core/buf.h"

struct http_answer {
    struct buf body;  /* the answer, at most 64 KiB */
    long retry_after; /* seconds, from Retry-After or X-RateLimit-Reset; 0 if none */
};

void http_answer_init(struct http_answer *a);
void http_answer_free(struct http_answer *a);

/* POSTs body to url with the headers hdr on *handle (created on first use
 * and kept, so the connection is reused). Returns the HTTP status, or 0
 * when no answer came (*cc says why). */
long tx_http_post(CURL **handle, const char *url, struct curl_slist *hdr, const char *body,
                  int timeout_ms, struct http_answer *a, CURLcode *cc);

#endif
