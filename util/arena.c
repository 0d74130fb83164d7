/* arena.c - per-request bump allocator (nginx's request pool, simplified). */
#include "arena.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

struct block {
    struct block *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    alignas(max_align_t) unsigned char data[];
};

struct arena {
    struct block *head; /* the block being filled; the first block is last in the chain */
    struct block *first;
    size_t block;
    size_t max;
    size_t total; /* bytes of all blocks, headers excluded */
    size_t used;
};

#define ALIGN (alignof(max_align_t))

static struct block *block_new(size_t size)
{
    struct block *b = malloc(sizeof(*b) + size);

    if (b == NULL)
        return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

struct arena *arena_new(size_t block, size_t max)
{
    struct arena *a;

    if (block < 256)
        block = 256;
    if (max < block)
        max = block;
    a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->first = block_new(block);
    if (a->first == NULL) {
        free(a);
        return NULL;
    }
    a->head = a->first;
    a->block = block;
    a->max = max;
    a->total = block;
    return a;
}

void *arena_alloc(struct arena *a, size_t n)
{
    struct block *b = a->head;
    size_t off, want;

    if (n == 0)
        n = 1;
    if (n > a->max)
        return NULL;
    off = (b->used + ALIGN - 1) & ~(ALIGN - 1);
    if (off <= b->size && b->size - off >= n) {
        b->used = off + n;
        a->used += n;
        return b->data + off;
    }
    /* Large requests get a block of their own; small ones a fresh standard block. */
    want = n > a->block / 4 ? n : a->block;
    if (a->total > a->max || want > a->max - a->total)
        return NULL;
    b = block_new(want);
    if (b == NULL)
        return NULL;
    a->total += want;
    b->used = n;
    b->next = a->head;
    a->head = b;
    a->used += n;
    return b->data;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);

    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

void arena_reset(struct arena *a)
{
    struct block *b = a->head, *next;

    while (b != a->first) {
        next = b->next;
        free(b);
        b = next;
    }
    a->head = a->first;
    a->first->used = 0;
    a->total = a->block;
    a->used = 0;
}

size_t arena_used(const struct arena *a)
{
    return a->used;
}

void arena_free(struct arena *a)
{
    if (a == NULL)
        return;
    arena_reset(a);
    free(a->first);
    free(a);
}
