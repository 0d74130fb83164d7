/* outbound.c - per-process libcurl handles (outbound.h). */
#include "outbound.h"

#include <unistd.h>

CURL *outbound_handle(struct outbound *o)
{
    pid_t pid = getpid();

    if (o->handle != NULL && o->pid != pid)
        o->handle = NULL;
    if (o->handle != NULL) {
        curl_easy_reset(o->handle);
        return o->handle;
    }
    o->handle = curl_easy_init();
    o->pid = pid;
    return o->handle;
}
