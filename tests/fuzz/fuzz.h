/* fuzz.h - what the libFuzzer targets share: splitting one input into
 * NUL-separated fields (the last one keeps every remaining byte, NULs and
 * all), and a quiet process (the log goes to /dev/null). */
#ifndef UMS_FUZZ_H
#define UMS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../util/log.h"

#define FUZZ_FIELDS_MAX 32

struct fuzz_in {
    char *copy; /* the input, NUL-terminated, the separators turned to NULs */
    const char *f[FUZZ_FIELDS_MAX];
    size_t len[FUZZ_FIELDS_MAX];
    int n;
};

/* Splits data at NUL bytes into at most max fields (max <= FUZZ_FIELDS_MAX);
 * missing fields are "". Returns -1 when out of memory (the input is skipped). */
static inline int fuzz_split(struct fuzz_in *in, const uint8_t *data, size_t size, int max)
{
    size_t start = 0;

    memset(in, 0, sizeof(*in));
    in->copy = malloc(size + 1);
    if (in->copy == NULL)
        return -1;
    memcpy(in->copy, data, size);
    in->copy[size] = '\0';
    for (size_t i = 0; i <= size && in->n < max - 1; i++) {
        if (i == size || in->copy[i] == '\0') {
            in->f[in->n] = in->copy + start;
            in->len[in->n] = i - start;
            in->n++;
            start = i + 1;
        }
    }
    if (in->n < max && start <= size) {
        in->f[in->n] = in->copy + start;
        in->len[in->n] = size - start;
        in->n++;
    }
    for (int i = in->n; i < max; i++) {
        in->f[i] = in->copy + size; /* "" */
        in->len[i] = 0;
    }
    return 0;
}

static inline void fuzz_free(struct fuzz_in *in)
{
    free(in->copy);
    in->copy = NULL;
}

/* Once per process: no log output (the targets' errors are expected ones). */
static inline void fuzz_quiet(void)
{
    static int done;

    if (!done) {
        log_open("/dev/null", LL_ERROR);
        done = 1;
    }
}

/* A finding the sanitizers cannot see (a broken promise of the code under
 * test): abort, which libFuzzer reports as a crash with the input saved. */
#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

#endif
