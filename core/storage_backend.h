/* storage_backend.h - what storage.c shares with its two backends, private
 * to core/. The key, the content type and the data are checked by
 * storage_put and storage_delete before a backend sees them. */
#ifndef UMS_STORAGE_BACKEND_H
#define UMS_STORAGE_BACKEND_H

#include <stddef.h>

struct ums_config;

#define CTYPE_MAX 100

/* storage.c: 1 when s is 1..max bytes of printable ASCII (nothing that
 * could end a header); the length of s without its trailing slashes;
 * *out = base (trailing '/' dropped) "/" [mid "/"] key, malloc'd, 0 or
 * UMS_ERR. */
int storage_printable(const char *s, size_t max);
size_t storage_trim_len(const char *s);
int storage_url_join(char **out, const char *base, const char *mid, const char *key);

/* storage_local.c: writes the object and sets *url (malloc'd) to its public
 * URL; removes it (UMS_OK when it was never there). */
int storage_local_put(const struct ums_config *cfg, const char *key, const void *data, size_t len,
                      char **url);
int storage_local_delete(const struct ums_config *cfg, const char *key);

/* storage_s3.c: one signed request for key: a PUT of data[0..len) with
 * Content-Type ctype when ctype is not NULL, else a DELETE. UMS_OK for a
 * 2xx (and for a 404 other than NoSuchBucket when gone_ok),
 * UMS_EUNAVAILABLE for a 5xx or a transport failure, UMS_EINVALID for bad
 * settings, UMS_ERR otherwise; failures are logged without secrets. */
int storage_s3_send(const struct ums_config *cfg, const char *key, const void *data, size_t len,
                    const char *ctype, int gone_ok);

#endif
