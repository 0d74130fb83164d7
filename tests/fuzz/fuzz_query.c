/* fuzz_query.c - the HTTP helpers that read client text: a query string
 * and its percent-decoding (http_query_get, for a name from the input and
 * for the names routes read), CONTENT_LENGTH, If-None-Match against an
 * entity-tag, the content types, the API version header and the method.
 * Input: query NUL name NUL header-value. A decoded value is valid UTF-8
 * without NUL, and a Content-Length read is a non-negative number. */
#include "../../fcgi/http.h"
#include "../../util/arena.h"
#include "../../util/ums.h"
#include "../../util/utf8.h"
#include "fuzz.h"

static void query(struct arena *a, const char *q, const char *name)
{
    const char *v = NULL;
    int rc = http_query_get(a, q, name, &v);

    FUZZ_ASSERT(rc == UMS_OK || rc == UMS_ENOTFOUND || rc == UMS_EINVALID || rc == UMS_ERR);
    if (rc == UMS_OK)
        FUZZ_ASSERT(v != NULL && utf8_valid(v, strlen(v)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const known[] = {"redirect_to", "type", "token", "limit", "cursor", "q"};
    struct fuzz_in in;
    struct arena *a;
    long n = 0;
    unsigned m;

    fuzz_quiet();
    if (fuzz_split(&in, data, size, 3) != 0)
        return 0;
    a = arena_new(1024, 1 << 20);
    FUZZ_ASSERT(a != NULL);
    query(a, in.f[0], in.f[1]);
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        query(a, in.f[0], known[i]);
    if (http_content_length(in.f[2], &n) == UMS_OK)
        FUZZ_ASSERT(n >= -1);
    (void)http_etag_match(in.f[2], "\"0123456789abcdef0123456789abcdef\"");
    (void)http_is_json(in.f[2]);
    (void)http_is_form(in.f[2]);
    (void)http_api_versioned(in.f[2]);
    m = http_method_parse(in.f[2]);
    FUZZ_ASSERT((m & (m - 1)) == 0); /* one method or none */
    arena_free(a);
    fuzz_free(&in);
    return 0;
}
