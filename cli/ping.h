/* ping.h - one FastCGI GET to ums-fcgi (umsctl ping). */
#ifndef UMS_PING_H
#define UMS_PING_H

#include <stddef.h>

/* GET path from addr (a unix socket path or a numeric host:port) within
 * timeout_ms: *status is the answer's status. 0, or -1 with err set. */
int fcgi_ping(const char *addr, const char *path, int timeout_ms, int *status, char *err,
              size_t errlen);

#endif
