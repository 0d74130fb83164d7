/* fcgi_client.h - a minimal FastCGI client, to send ums-fcgi what nginx never
 * would (negative CONTENT_LENGTH, short bodies, odd methods). */
#ifndef UMS_TEST_FCGI_CLIENT_H
#define UMS_TEST_FCGI_CLIENT_H

#include <stddef.h>

/* Sends one request over the unix socket at path. params is NULL-terminated
 * name, value pairs. The body is sent as given (its length need not match
 * CONTENT_LENGTH). On success *out (malloc'd, NUL-terminated) is the whole
 * FastCGI stdout, headers included, and 0 is returned. */
int fcgi_request(const char *path, const char *const *params, const char *body, size_t len,
                 char **out);

/* Like fcgi_request, but calls pause(ud) after sending everything except the
 * record that ends the parameters, so the request is in flight meanwhile. */
int fcgi_request_paused(const char *path, const char *const *params, const char *body, size_t len,
                        void (*pause)(void *), void *ud, char **out);

/* Any role (1 responder, 2 authorizer, 3 filter) to addr, a unix socket
 * path or 127.0.0.1:PORT; with_stdin 0 sends no FCGI_STDIN record at all, as
 * mod_authnz_fcgi does for an authorizer. Otherwise as fcgi_request. */
int fcgi_request_role(const char *addr, int role, int with_stdin, const char *const *params,
                      const char *body, size_t len, char **out);

/* The status of a FastCGI response ("Status: 404 ..."), or 200 without one. */
int fcgi_status(const char *resp);

#endif
