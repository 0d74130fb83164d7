/* tx_multi.h - many libcurl transfers at once over kept connections
 * (tx_multi.c), for the transports that send a batch together. */
#ifndef UMS_TX_MULTI_H
#define UMS_TX_MULTI_H

#include <stddef.h>

#include <curl/curl.h>

#include "../util/metrics.h"

#define TX_PARALLEL_MAX 64

/* A multi handle and its easy handles, kept between runs so connections
 * are reused. Zero it before use. */
struct tx_pool {
    CURLM *multi;
    CURL *easy[TX_PARALLEL_MAX];
};

/* Prepares transfer i on a new easy handle; 0 to run it, -1 to skip it
 * (done is not called for a skipped one). */
typedef int (*tx_setup_fn)(CURL *easy, size_t i, void *ud);
/* Transfer i ended with cc (CURLE_OK, or why not). */
typedef void (*tx_done_fn)(CURL *easy, size_t i, CURLcode cc, void *ud);

/* Runs n transfers, at most `parallel` (1-64) at once. Returns when each
 * one has ended; a transfer that could not be started ends with
 * CURLE_FAILED_INIT. Each transfer that ran is timed into histogram hist. */
void tx_multi_run(struct tx_pool *pool, size_t n, int parallel, tx_setup_fn setup, tx_done_fn done,
                  void *ud, enum metric hist);

void tx_multi_pool_free(struct tx_pool *pool);

#endif
