/* file.h - reading a small file whole, with a ceiling. */
#ifndef UMS_FILE_H
#define UMS_FILE_H

#include <stddef.h>

/*
 * Reads the regular file at path, at most max bytes, into *out (malloc'd,
 * NUL-terminated, freed by the caller) and *len. Returns UMS_OK, or
 * UMS_EINVALID with errno telling why: the open's own errno (ENOENT,
 * EACCES, ...), EISDIR for anything but a regular file, EFBIG past max.
 * UMS_ERR when memory runs out. The contents may hold NUL bytes: compare
 * strlen(*out) with *len where that matters.
 */
int file_read(const char *path, size_t max, char **out, size_t *len);

/* A short reason for an errno of file_read, for messages. */
const char *file_why(int err);

#endif
