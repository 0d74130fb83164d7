/* arena.h - per-request bump allocator with a ceiling. */
#ifndef UMS_ARENA_H
#define UMS_ARENA_H

#include <stddef.h>

struct arena;

/*
 * Creates an arena whose blocks are `block` bytes and whose total size never
 * exceeds `max` bytes. Returns NULL when out of memory. Free with arena_free().
 */
struct arena *arena_new(size_t block, size_t max);

/* Returns `n` bytes aligned for any type, or NULL past the ceiling. */
void *arena_alloc(struct arena *a, size_t n);

/* Copies `n` bytes of `s` and a terminating NUL; NULL past the ceiling. */
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);

/* Releases everything but the first block, which is kept for the next request. */
void arena_reset(struct arena *a);

/* Bytes handed out since the last reset. */
size_t arena_used(const struct arena *a);

void arena_free(struct arena *a);

#endif
