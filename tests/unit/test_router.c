/* test_router.c - route matching, path parameters, 404 and 405. */
#define CTEST_MAIN
#include "../ctest.h"

#include "../../util/arena.h"
#include "../../util/ums.h"
#include "../../fcgi/http.h"

static void h(struct req *r)
{
    (void)r;
}

static const struct route table[] = {
    {M_GET, "/healthz", h, FAM_OPS, 0, 0, AUTH_NONE, NULL},
    {M_GET | M_POST, "/api/v1/users", h, FAM_API, 16384, R_JSON, AUTH_NONE, NULL},
    {M_GET, "/api/v1/users/{id}", h, FAM_API, 0, 0, AUTH_NONE, NULL},
    {M_PATCH, "/api/v1/users/{id}", h, FAM_API, 16384, R_JSON, AUTH_NONE, NULL},
    {M_DELETE, "/api/v1/users/{id}/sessions/{sid}", h, FAM_API, 0, 0, AUTH_NONE, NULL},
};

struct m {
    int rc;
    const struct route *rt;
    struct route_param p[ROUTE_PARAMS_MAX];
    int np;
    unsigned allowed;
};

static struct m run(struct arena *a, unsigned method, const char *path)
{
    struct m m;
    memset(&m, 0, sizeof(m));
    m.rc = router_match(table, sizeof(table) / sizeof(table[0]), a, method, path, &m.rt, m.p, &m.np,
                        &m.allowed);
    return m;
}

CTEST(router, literal)
{
    struct arena *a = arena_new(1024, 65536);
    struct m m = run(a, M_GET, "/healthz");
    ASSERT_EQ(m.rc, ROUTER_OK);
    ASSERT_TRUE(m.rt == &table[0]);
    ASSERT_EQ(m.np, 0);
    m = run(a, M_HEAD, "/healthz");
    ASSERT_EQ(m.rc, ROUTER_OK);
    arena_free(a);
}

CTEST(router, params)
{
    struct arena *a = arena_new(1024, 65536);
    struct m m = run(a, M_DELETE, "/api/v1/users/me/sessions/abc-1");
    ASSERT_EQ(m.rc, ROUTER_OK);
    ASSERT_TRUE(m.rt == &table[4]);
    ASSERT_EQ(m.np, 2);
    ASSERT_EQ(m.p[0].name_len, 2);
    ASSERT_TRUE(memcmp(m.p[0].name, "id", 2) == 0);
    ASSERT_STR_EQ(m.p[0].value, "me");
    ASSERT_STR_EQ(m.p[1].value, "abc-1");
    m = run(a, M_PATCH, "/api/v1/users/42");
    ASSERT_TRUE(m.rt == &table[3]);
    arena_free(a);
}

CTEST(router, not_found)
{
    struct arena *a = arena_new(1024, 65536);
    static const char *const paths[] = {
        "/",
        "/healthz/",
        "/healthzz",
        "/health",
        "//healthz",
        "/api/v1/users/",
        "/api/v1/users//sessions/x",
        "/api/v1/users/1/sessions",
        "/api/v1/users/1/sessions/2/3",
        "/HEALTHZ",
        "",
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct m m = run(a, M_GET | M_DELETE, paths[i]);
        if (m.rc != ROUTER_NOT_FOUND)
            CTEST_FAIL_("%s matched", paths[i]);
    }
    arena_free(a);
}

CTEST(router, method_not_allowed_lists_allowed)
{
    struct arena *a = arena_new(1024, 65536);
    struct m m = run(a, M_DELETE, "/api/v1/users/7");
    struct buf b;
    ASSERT_EQ(m.rc, ROUTER_METHOD);
    ASSERT_EQ(m.allowed, M_GET | M_HEAD | M_PATCH);
    buf_init(&b, 256);
    http_methods_str(&b, m.allowed);
    ASSERT_STR_EQ(b.p, "GET, HEAD, PATCH");
    buf_free(&b);
    m = run(a, 0, "/healthz");
    ASSERT_EQ(m.rc, ROUTER_METHOD);
    arena_free(a);
}

CTEST(router, oversized_segment_is_not_found)
{
    struct arena *a = arena_new(1024, 65536);
    char path[600] = "/api/v1/users/";
    memset(path + 14, 'a', 400);
    path[414] = '\0';
    struct m m = run(a, M_GET, path);
    ASSERT_EQ(m.rc, ROUTER_NOT_FOUND);
    arena_free(a);
}

CTEST(router, real_table_has_health_routes)
{
    struct arena *a = arena_new(1024, 65536);
    const struct route *rt;
    struct route_param p[ROUTE_PARAMS_MAX];
    int np;
    unsigned allowed;
    ASSERT_EQ(router_match(ums_routes, ums_routes_len, a, M_GET, "/healthz", &rt, p, &np, &allowed),
              ROUTER_OK);
    ASSERT_EQ(router_match(ums_routes, ums_routes_len, a, M_GET, "/readyz", &rt, p, &np, &allowed),
              ROUTER_OK);
    ASSERT_EQ(router_match(ums_routes, ums_routes_len, a, M_POST, "/readyz", &rt, p, &np, &allowed),
              ROUTER_METHOD);
    arena_free(a);
}
