/* router.c - match a method and path against the route table. */
#include <string.h>

#include "../util/arena.h"
#include "../util/ums.h"
#include "http.h"

#define SEGMENT_MAX 256
/* Matches one pattern; captures go to params. Returns 1 on a match. */
static int match(const char *pat, const char *path, struct arena *a, struct route_param *params,
                 int *nparams)
{
    int np = 0;

    while (*pat != '\0' && *path != '\0') {
        if (*pat != '/' || *path != '/')
            return 0;
        pat++;
        path++;
        const char *pe = strchr(pat, '/'), *se = strchr(path, '/');
        size_t pl = pe ? (size_t)(pe - pat) : strlen(pat);
        size_t sl = se ? (size_t)(se - path) : strlen(path);

        if (pl >= 2 && pat[0] == '{' && pat[pl - 1] == '}') {
            if (sl == 0 || sl > SEGMENT_MAX || np == ROUTE_PARAMS_MAX)
                return 0;
            if (params != NULL) {
                params[np].name = pat + 1;
                params[np].name_len = pl - 2;
                params[np].value = arena_strndup(a, path, sl);
                if (params[np].value == NULL)
                    return 0;
            }
            np++;
        } else if (pl != sl || memcmp(pat, path, pl) != 0) {
            return 0;
        }
        pat += pl;
        path += sl;
    }
    if (*pat != '\0' || *path != '\0')
        return 0;
    if (nparams != NULL)
        *nparams = np;
    return 1;
}
int router_match(const struct route *table, size_t n, struct arena *a, unsigned method,
                 const char *path, const struct route **out, struct route_param *params,
                 int *nparams, unsigned *allowed)
{
    unsigned mask = 0;

    *out = NULL;
    *allowed = 0;
    *nparams = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned m = table[i].methods;
        if (m & M_GET)
            m |= M_HEAD;
        if (!match(table[i].pattern, path, a, NULL, NULL))
            continue;
        if (method & m) {
            if (!match(table[i].pattern, path, a, params, nparams))
                return ROUTER_NOT_FOUND;
            *out = &table[i];
            return ROUTER_OK;
        }
        mask |= m;
    }
    if (mask == 0)
        return ROUTER_NOT_FOUND;
    *allowed = mask;
    return ROUTER_METHOD;
}
