/* outbound.h - the libcurl easy handle a process keeps per destination
 * (S3, each OAuth provider), so connections are reused across requests. */
#ifndef UMS_OUTBOUND_H
#define UMS_OUTBOUND_H

#include <sys/types.h>

#include <curl/curl.h>

struct outbound {
    CURL *handle;
    pid_t pid; /* the process that made it */
};

/*
 * The handle, created on first use and reset before each request
 * (curl_easy_reset keeps its open connections). A handle inherited through
 * fork() is abandoned, not cleaned up: its connections are the parent's.
 * NULL when out of memory.
 */
CURL *outbound_handle(struct outbound *o);

#endif
