/* logjson.c - Apache's log escapes to valid JSON (see logjson.h). */
#include <stdio.h>

#include "crypto.h"
#include "logjson.h"
#include "utf8.h"

/* A byte of a value (decoded from \xhh, or raw above 0x7f) as JSON. */
static int add_byte_escaped(struct buf *out, unsigned char c)
{
    char u[8];

    if (c == '"' || c == '\\') {
        char e[2] = {'\\', (char)c};
        return buf_add(out, e, 2);
    }
    if (c < 0x20 || c == 0x7f) {
        snprintf(u, sizeof(u), "\\u%04x", c);
        return buf_add(out, u, 6);
    }
    if (c < 0x80)
        return buf_addc(out, (char)c);
    return buf_add(out, "\\ufffd", 6);
}

/* Writes a run of bytes: valid UTF-8 sequences as they are, the rest one
 * escaped byte at a time. */
static int flush_run(struct buf *out, const unsigned char *run, size_t n)
{
    size_t i = 0, len;
    int rc;

    while (i < n) {
        len = run[i] >= 0x80 ? utf8_seq_len(run + i, n - i) : 0;
        if (len > 1) {
            rc = buf_add(out, run + i, len);
            i += len;
        } else {
            rc = add_byte_escaped(out, run[i]);
            i++;
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

int logjson_line(struct buf *out, const char *in, size_t n)
{
    const unsigned char *s = (const unsigned char *)in;
    struct buf run; /* the bytes of the value being read, decoded */
    size_t i = 0;
    int rc = 0;

    buf_init(&run, n + 1);
    while (i < n && rc == 0) {
        unsigned char c = s[i], e;
        int hi, lo;

        if (c == '\\' && i + 3 < n && s[i + 1] == 'x' && (hi = crypto_hex_value(s[i + 2])) >= 0 &&
            (lo = crypto_hex_value(s[i + 3])) >= 0) {
            rc = buf_addc(&run, (char)(hi << 4 | lo));
            i += 4;
            continue;
        }
        if (c >= 0x80) {
            rc = buf_addc(&run, (char)c);
            i++;
            continue;
        }
        /* Printable ASCII and the escapes JSON has end a run of bytes. */
        if (run.len > 0) {
            rc = flush_run(out, (const unsigned char *)run.p, run.len);
            buf_reset(&run, n + 1);
            if (rc != 0)
                break;
        }
        e = i + 1 < n ? s[i + 1] : 0;
        if (c == '\\' && (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                          e == 'r' || e == 't')) {
            rc = buf_add(out, s + i, 2);
            i += 2;
        } else if (c == '\\' && e == 'v') {
            rc = buf_add(out, "\\u000b", 6);
            i += 2;
        } else if (c == '\\') {
            rc = buf_add(out, "\\\\", 2); /* not an escape: a backslash */
            i++;
        } else {
            /* Structure the LogFormat wrote, copied; a raw control byte
             * (Apache escapes them all) would still be invalid. */
            rc = c < 0x20 || c == 0x7f ? add_byte_escaped(out, c) : buf_addc(out, (char)c);
            i++;
        }
    }
    if (rc == 0 && run.len > 0)
        rc = flush_run(out, (const unsigned char *)run.p, run.len);
    buf_free(&run);
    return rc;
}
