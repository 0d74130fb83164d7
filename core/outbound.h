/* outbound.h - the libcurl handles a process keeps per destination (S3,
 * each OAuth provider), so connections are reused across requests. */
#ifndef UMS_OUTBOUND_H
#define UMS_OUTBOUND_H

#include <sys/types.h>

#include <curl/curl.h>

struct outbound {
    CURLSH *share; /* the connections, DNS answers and TLS sessions kept */
    CURL *handle;  /* the last request's easy handle */
    pid_t pid;     /* the process that made them */
};

/*
 * A new easy handle for one request, on the destination's share (so a kept
 * connection is reused); the previous request's handle is freed here.
 * Never a handle reused with curl_easy_reset: Debian 12's libcurl 7.88
 * keeps a pointer to the previous answer's last header across the reset,
 * and an answer whose first header line is folded then reads freed memory
 * (found by tests/fuzz/fuzz_provider). Handles inherited through fork() are
 * abandoned, not cleaned up: their connections are the parent's. NULL when
 * out of memory.
 */
CURL *outbound_handle(struct outbound *o);

/* Frees the handle and the share (tests; a process keeps them for life). */
void outbound_free(struct outbound *o);

#endif
