/* storage.h - where uploaded objects (avatars) go: a local folder the web
 * server serves, or S3-compatible object storage (AWS SigV4 through libcurl). */
#ifndef UMS_STORAGE_H
#define UMS_STORAGE_H
#include <stddef.h>
struct ums_config;
/* Stores len bytes under key ("avatars/<uuid>/<hex>.png": only [a-z0-9._/-],
 * no "..", no leading '/', at most 200 bytes) with Content-Type ctype.
 * On success *url (malloc'd, caller frees) is the object's public URL.
 * Returns UMS_OK, UMS_EINVALID (bad key or configuration),
 * UMS_EUNAVAILABLE (backend unreachable, timeout, 5xx), UMS_ERR (other). */
int storage_put(const struct ums_config *cfg, const char *key, const void *data, size_t len,
                const char *ctype, char **url);
/* Removes the object under key; UMS_OK when it is gone or was never there. */
int storage_delete(const struct ums_config *cfg, const char *key);
#endif
