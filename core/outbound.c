/* outbound.c - per-process libcurl handles (outbound.h). */
#include "outbound.h"

#include <unistd.h>

CURL *outbound_handle(struct outbound *o)
{
    pid_t pid = getpid();

    if (o->pid != pid) {
        o->share = NULL;
        o->handle = NULL;
        o->pid = pid;
    }
    if (o->handle != NULL) {
        curl_easy_cleanup(o->handle);
        o->handle = NULL;
    }
    if (o->share == NULL) {
        o->share = curl_share_init();
        if (o->share == NULL)
            return NULL;
        if (curl_share_setopt(o->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
            curl_share_setopt(o->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
            curl_share_setopt(o->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) !=
                CURLSHE_OK) {
            curl_share_cleanup(o->share);
            o->share = NULL;
            return NULL;
        }
    }
    o->handle = curl_easy_init();
    if (o->handle != NULL && curl_easy_setopt(o->handle, CURLOPT_SHARE, o->share) != CURLE_OK) {
        curl_easy_cleanup(o->handle);
        o->handle = NULL;
    }
    return o->handle;
}

void outbound_free(struct outbound *o)
{
    if (o->handle != NULL)
        curl_easy_cleanup(o->handle);
    if (o->share != NULL)
        curl_share_cleanup(o->share);
    o->handle = NULL;
    o->share = NULL;
}
