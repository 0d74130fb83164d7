/* tx_http.h - HTTP POSTs for the provider transports (tx_http.c). */
#ifndef UMS_TX_HTTP_H
#define UMS_TX_HTTP_H

#include <curl/curl.h>

#include "../core/outbound.h"
#include "../util/buf.h"
#include "tx_multi.h"

struct http_answer {
    struct buf body;  /* the answer, at most 64 KiB */
    long retry_after; /* seconds, from Retry-After or X-RateLimit-Reset; 0 if none */
};

void tx_http_answer_init(struct http_answer *a);
void tx_http_answer_free(struct http_answer *a);

/* POSTs body to url with the headers hdr on a new handle of o (whose
 * share keeps the connection for the next POST; o->handle stays readable
 * until then). Returns the HTTP status, or 0 when no answer came (*cc says
 * why). */
long tx_http_post(struct outbound *o, const char *url, struct curl_slist *hdr, const char *body,
                  int timeout_ms, struct http_answer *a, CURLcode *cc);

/* One POST of a tx_http_post_all() run (an email provider's: timed as
 * such): the caller fills url, hdr and body
 * and initialises ans; status (0 when no answer came) and cc are set. */
struct http_call {
    const char *url;
    struct curl_slist *hdr;
    const char *body;
    struct http_answer ans;
    long status;
    CURLcode cc;
    int timeout_ms; /* set by tx_http_post_all */
};

/* Runs the calls with at most `parallel` (1-64) in flight at once, over the
 * pool's kept connections; each call has its own time limit. Returns when
 * every call has an outcome. */
void tx_http_post_all(struct tx_pool *pool, struct http_call *calls, size_t n, int parallel,
                      int timeout_ms);

#endif
