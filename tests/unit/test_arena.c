/* test_arena.c - the per-request arena. */
#define CTEST_MAIN
#include "../ctest.h"

#include <stdint.h>

#include "../../util/arena.h"

CTEST(arena, aligned_and_distinct)
{
    struct arena *a = arena_new(1024, 1 << 20);
    ASSERT_NOT_NULL(a);
    char *p = arena_alloc(a, 3);
    void *q = arena_alloc(a, 8);
    ASSERT_NOT_NULL(p);
    ASSERT_NOT_NULL(q);
    ASSERT_EQ((uintptr_t)q % _Alignof(max_align_t), 0);
    ASSERT_TRUE((char *)q >= p + 3);
    arena_free(a);
}

CTEST(arena, grows_past_first_block_and_resets)
{
    struct arena *a = arena_new(1024, 1 << 20);
    for (int i = 0; i < 100; i++)
        ASSERT_NOT_NULL(arena_alloc(a, 100));
    ASSERT_EQ(arena_used(a), 10000);
    void *big = arena_alloc(a, 100000);
    ASSERT_NOT_NULL(big);
    arena_reset(a);
    ASSERT_EQ(arena_used(a), 0);
    ASSERT_NOT_NULL(arena_alloc(a, 10));
    arena_free(a);
}

CTEST(arena, refuses_past_ceiling)
{
    struct arena *a = arena_new(1024, 64 * 1024);
    ASSERT_NULL(arena_alloc(a, 100 * 1024));
    ASSERT_NOT_NULL(arena_alloc(a, 30 * 1024));
    ASSERT_NOT_NULL(arena_alloc(a, 30 * 1024));
    ASSERT_NULL(arena_alloc(a, 30 * 1024));
    arena_reset(a);
    ASSERT_NOT_NULL(arena_alloc(a, 30 * 1024));
    arena_free(a);
}

CTEST(arena, strndup_terminates)
{
    struct arena *a = arena_new(256, 4096);
    char *s = arena_strndup(a, "hello world", 5);
    ASSERT_STR_EQ(s, "hello");
    ASSERT_STR_EQ(arena_strdup(a, "x"), "x");
    arena_free(a);
}
