/* redirect.h - where a redirect_to may send the browser. */
#ifndef UMS_REDIRECT_H
#define UMS_REDIRECT_H

struct ums_config;

/*
 * 1 when url may be used as redirect_to: an http(s) URL of at most 2,048
 * bytes with no whitespace, no userinfo and no backslash before its path,
 * whose scheme, host and port are those of [auth] site_url (any port on
 * loopback hosts), or which matches an entry of [auth] uri_allow_list
 * exactly (a trailing '*' matches any rest). 0 otherwise.
 */
int redirect_allowed(const struct ums_config *cfg, const char *url);

#endif
