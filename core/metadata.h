/* metadata.h - the rules for user_metadata and app_metadata: a JSON object
 * of at most METADATA_MAX_BYTES (after a merge) and METADATA_MAX_DEPTH
 * levels, whose "name", when present, is a valid display name. */
#ifndef UMS_METADATA_H
#define UMS_METADATA_H

#include <stddef.h>

#define METADATA_MAX_BYTES (16 * 1024)
#define METADATA_MAX_DEPTH 6 /* the object itself is level 1 */

/*
 * Checks the metadata object in json (as the client sent it). Returns
 * UMS_OK; UMS_EINVALID when it is not an object or its "name" is not a
 * valid name (metadata_name_valid); UMS_ETOOBIG when it is larger or
 * deeper than the limits. *why (static) says which, for the client.
 */
int metadata_check(const char *json, const char **why);

/* A display name: 1-100 characters of UTF-8 text, not only spaces, with no
 * control, bidirectional-override or zero-width characters and no link
 * ("://", "www."): names are shown in mail sent to any address. */
int metadata_name_valid(const char *name, size_t len);

struct db;

/* Merges json (checked) into the user's user_metadata (app = 0) or
 * app_metadata (app = 1), keys set to null removed, in the caller's
 * transaction. UMS_ETOOBIG when the result would pass METADATA_MAX_BYTES
 * (nothing is written), UMS_ENOTFOUND without such a user. */
int metadata_merge(struct db *db, const char *user_id, const char *json, int app);

#endif
