/* ctest.h - ums's small test harness: CTEST(suite, name) cases registered
 * at load time, ASSERT_* macros that fail the case and move on, and a closing
 * line "N passed, N failed". Run a subset with: ./test_x suite[/name]. */
#ifndef UMS_CTEST_H
#define UMS_CTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctest {
    const char *suite;
    const char *name;
    void (*fn)(int *ctest_failed);
    struct ctest *next;
};

extern struct ctest *ctest_head;
extern struct ctest *ctest_tail;

#define CTEST(suite, name)                                                                         \
    static void ctest_##suite##_##name(int *ctest_failed);                                         \
    static struct ctest ctest_rec_##suite##_##name = {#suite, #name, ctest_##suite##_##name,       \
                                                      NULL};                                       \
    __attribute__((constructor)) static void ctest_reg_##suite##_##name(void)                      \
    {                                                                                              \
        if (ctest_tail != NULL)                                                                    \
            ctest_tail->next = &ctest_rec_##suite##_##name;                                        \
        else                                                                                       \
            ctest_head = &ctest_rec_##suite##_##name;                                              \
        ctest_tail = &ctest_rec_##suite##_##name;                                                  \
    }                                                                                              \
    static void ctest_##suite##_##name(int *ctest_failed)

#define CTEST_FAIL_(...)                                                                           \
    do {                                                                                           \
        fprintf(stderr, "    %s:%d: ", __FILE__, __LINE__);                                        \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        *ctest_failed = 1;                                                                         \
        return;                                                                                    \
    } while (0)

#define ASSERT_TRUE(c)                                                                             \
    do {                                                                                           \
        if (!(c))                                                                                  \
            CTEST_FAIL_("expected true: %s", #c);                                                  \
    } while (0)

#define ASSERT_FALSE(c) ASSERT_TRUE(!(c))

#define ASSERT_EQ(a, b)                                                                            \
    do {                                                                                           \
        long long ctest_a_ = (long long)(a), ctest_b_ = (long long)(b);                            \
        if (ctest_a_ != ctest_b_)                                                                  \
            CTEST_FAIL_("%s == %s: %lld != %lld", #a, #b, ctest_a_, ctest_b_);                     \
    } while (0)

#define ASSERT_NE(a, b)                                                                            \
    do {                                                                                           \
        long long ctest_a_ = (long long)(a), ctest_b_ = (long long)(b);                            \
        if (ctest_a_ == ctest_b_)                                                                  \
            CTEST_FAIL_("%s != %s: both %lld", #a, #b, ctest_a_);                                  \
    } while (0)

#define ASSERT_STR_EQ(a, b)                                                                        \
    do {                                                                                           \
        const char *ctest_a_ = (a), *ctest_b_ = (b);                                               \
        if (ctest_a_ == NULL || ctest_b_ == NULL || strcmp(ctest_a_, ctest_b_) != 0)               \
            CTEST_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, ctest_a_ ? ctest_a_ : "(null)",      \
                        ctest_b_ ? ctest_b_ : "(null)");                                           \
    } while (0)

#define ASSERT_STR_CONTAINS(hay, needle)                                                           \
    do {                                                                                           \
        const char *ctest_h_ = (hay), *ctest_n_ = (needle);                                        \
        if (ctest_h_ == NULL || strstr(ctest_h_, ctest_n_) == NULL)                                \
            CTEST_FAIL_("%s contains \"%s\": got \"%s\"", #hay, ctest_n_,                          \
                        ctest_h_ ? ctest_h_ : "(null)");                                           \
    } while (0)

#define ASSERT_NULL(p)     ASSERT_TRUE((p) == NULL)
#define ASSERT_NOT_NULL(p) ASSERT_TRUE((p) != NULL)

/* Defines ctest_head/tail and main(); include in exactly one file per program
 * after defining CTEST_MAIN. */
#ifdef CTEST_MAIN
struct ctest *ctest_head;
struct ctest *ctest_tail;

static int ctest_selected(const struct ctest *t, const char *filter)
{
    size_t sl;

    if (filter == NULL)
        return 1;
    sl = strlen(t->suite);
    if (strncmp(filter, t->suite, sl) != 0)
        return 0;
    return filter[sl] == '\0' || (filter[sl] == '/' && strcmp(filter + sl + 1, t->name) == 0);
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    const char *filter = argc > 1 ? argv[1] : NULL;

    setvbuf(stdout, NULL, _IOLBF, 0);
    for (struct ctest *t = ctest_head; t != NULL; t = t->next) {
        int f = 0;
        if (!ctest_selected(t, filter))
            continue;
        t->fn(&f);
        printf("%s %s/%s\n", f ? "FAIL" : "ok  ", t->suite, t->name);
        if (f)
            failed++;
        else
            passed++;
    }
    if (passed + failed == 0) {
        printf("no test matched\n");
        return 1;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
#endif

#endif
