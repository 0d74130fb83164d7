/* tx_multi.c - runs a set of libcurl transfers concurrently: a window of
 * at most `parallel` easy handles on one multi handle, refilled as
 * transfers end, each on a new easy handle. The multi handle's connection
 * cache keeps one connection per slot between runs. */
#include "tx_multi.h"

#include <string.h>

void tx_multi_run(struct tx_pool *pool, size_t n, int parallel, tx_setup_fn setup, tx_done_fn done,
                  void *ud, enum metric hist)
{
    long slot_of[TX_PARALLEL_MAX];
    int busy[TX_PARALLEL_MAX] = {0};
    size_t next = 0, running = 0;

    if (parallel < 1)
        parallel = 1;
    if (parallel > TX_PARALLEL_MAX)
        parallel = TX_PARALLEL_MAX;
    if (pool->multi == NULL && (pool->multi = curl_multi_init()) != NULL)
        curl_multi_setopt(pool->multi, CURLMOPT_MAXCONNECTS, (long)parallel);
    while (next < n || running > 0) {
        struct CURLMsg *msg;
        int still = 0, left = 0;

        /* Fill the free slots. */
        for (int s = 0; s < parallel && next < n; s++) {
            size_t i;
            if (busy[s])
                continue;
            i = next++;
            /* A new easy handle each time (core/outbound.h says why); the
             * multi handle's cache keeps the connections. */
            if (pool->easy[s] != NULL)
                curl_easy_cleanup(pool->easy[s]);
            pool->easy[s] = NULL;
            if (pool->multi == NULL || (pool->easy[s] = curl_easy_init()) == NULL) {
                done(NULL, i, CURLE_FAILED_INIT, ud);
                continue;
            }
            if (setup(pool->easy[s], i, ud) != 0)
                continue;
            curl_easy_setopt(pool->easy[s], CURLOPT_PRIVATE, (void *)(long)s);
            if (curl_multi_add_handle(pool->multi, pool->easy[s]) != CURLM_OK) {
                done(pool->easy[s], i, CURLE_FAILED_INIT, ud);
                continue;
            }
            busy[s] = 1;
            slot_of[s] = (long)i;
            running++;
        }
        if (running == 0)
            continue;
        if (curl_multi_perform(pool->multi, &still) != CURLM_OK)
            break;
        while ((msg = curl_multi_info_read(pool->multi, &left)) != NULL) {
            void *priv = NULL;
            long s;
            if (msg->msg != CURLMSG_DONE)
                continue;
            double secs = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            if (curl_easy_getinfo(msg->easy_handle, CURLINFO_TOTAL_TIME, &secs) == CURLE_OK)
                metrics_observe(hist, secs);
            s = (long)priv;
            done(msg->easy_handle, (size_t)slot_of[s], msg->data.result, ud);
            curl_multi_remove_handle(pool->multi, msg->easy_handle);
            busy[s] = 0;
            running--;
        }
        if (running > 0 && still > 0)
            curl_multi_poll(pool->multi, NULL, 0, 100, NULL);
    }
    /* Only after a failing curl_multi_perform: what runs and what is left
     * end without an outcome. */
    for (int s = 0; s < parallel; s++)
        if (busy[s]) {
            curl_multi_remove_handle(pool->multi, pool->easy[s]);
            done(pool->easy[s], (size_t)slot_of[s], CURLE_FAILED_INIT, ud);
        }
    while (next < n)
        done(NULL, next++, CURLE_FAILED_INIT, ud);
}

void tx_multi_pool_free(struct tx_pool *pool)
{
    for (size_t s = 0; s < TX_PARALLEL_MAX; s++)
        if (pool->easy[s] != NULL)
            curl_easy_cleanup(pool->easy[s]);
    if (pool->multi != NULL)
        curl_multi_cleanup(pool->multi);
    memset(pool, 0, sizeof(*pool));
}
