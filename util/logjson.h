/* logjson.h - turns a line of Apache's access log, written by a JSON
 * LogFormat, into valid JSON.
 *
 * mod_log_config escapes every byte of a logged value that is not printable
 * ASCII as \xhh (and vertical tab as \v), which JSON does not have, and a
 * value such as a User-Agent may hold bytes that are not UTF-8 at all.
 * logjson_line rewrites only those: the bytes a run of \xhh escapes (and any
 * raw byte above 0x7f) spell are kept as they are where they are valid UTF-8,
 * a control byte becomes \u00XX, and every other byte U+FFFD. The JSON
 * escapes Apache writes (\" \\ \b \n \r \t) and everything else are copied
 * unchanged, so the structure the LogFormat wrote is kept. */
#ifndef UMS_LOGJSON_H
#define UMS_LOGJSON_H

#include <stddef.h>

#include "buf.h"

/* Appends the rewritten in[0..n) (one line, without its newline) to out.
 * 0, or what buf_add returned. */
int logjson_line(struct buf *out, const char *in, size_t n);

#endif
