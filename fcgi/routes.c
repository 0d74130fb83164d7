/* routes.c - the route table: method, pattern, handler, error family, body cap, flags. */
#include "../core/ums.h"
#include "http.h"
#include "routes.h"

const struct route ums_routes[] = {
    {M_GET, "/healthz", route_healthz, FAM_OPS, 0, 0},
    {M_GET, "/readyz", route_readyz, FAM_OPS, 0, 0},
};

const size_t ums_routes_len = UMS_ARRAY_LEN(ums_routes);
