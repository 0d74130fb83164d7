/* worker.h - one worker process: accept loop and request lifecycle. */
#ifndef UMS_WORKER_H
#define UMS_WORKER_H

struct ums_config;

/* Serves FastCGI requests on listen_fd, and FastCGI AUTHORIZER requests
 * only on authz_fd (-1: none), until SIGTERM/SIGINT or max_requests.
 * Returns the process exit status. */
int worker_run(int listen_fd, int authz_fd, const struct ums_config *cfg);

#endif
