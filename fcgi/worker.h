/* worker.h - one worker process: accept loop and request lifecycle. */
#ifndef UMS_WORKER_H
#define UMS_WORKER_H

#include "../util/metrics.h"

struct ums_config;

/* Serves FastCGI requests on listen_fd, and FastCGI AUTHORIZER requests
 * only on authz_fd (-1: none), until SIGTERM/SIGINT or max_requests,
 * counting into a metrics file of kind (MK_WORKER, MK_SPAWNED). Returns the
 * process exit status. */
int worker_run(int listen_fd, int authz_fd, const struct ums_config *cfg, enum metrics_kind kind);

#endif
