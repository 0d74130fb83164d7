/* fuzz_cursor.c - the keyset cursors of the list routes (core/search.c),
 * which clients send back as they got them: any text is refused unless it
 * carries the server's MAC, and a cursor the server makes for a UUID and a
 * sort key opens to exactly that UUID and key. Input: kind and sort bytes,
 * then cursor NUL id NUL key. */
#include <stdio.h>

#include "../../core/config.h"
#include "../../core/ctx.h"
#include "../../core/search.h"
#include "../../util/buf.h"
#include "../../util/ums.h"
#include "../../util/valid.h"
#include "fuzz.h"

static struct ums_ctx ctx;

static void init(void)
{
    static const char conf[] = "[auth]\nrefresh_token_secret = fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz\n";
    struct ums_config *cfg;
    char err[256];

    fuzz_quiet();
    if (config_parse(&cfg, conf, sizeof(conf) - 1, "fuzz", err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_cursor: %s\n", err);
        abort();
    }
    ctx.cfg = cfg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char kinds[] = "uan";
    char id[40], key[SEARCH_CURSOR_KEY_MAX + 1];
    struct fuzz_in in;
    struct buf made;
    char kind;
    int sort, rc;

    if (ctx.cfg == NULL)
        init();
    if (size < 2)
        return 0;
    kind = kinds[data[0] % 3];
    sort = data[1] % 8;
    if (fuzz_split(&in, data + 2, size - 2, 3) != 0)
        return 0;
    /* What a client sends: refused, or a cursor the server made. */
    rc = search_cursor_open(&ctx, in.f[0], kind, sort, id, key);
    FUZZ_ASSERT(rc == UMS_OK || rc == UMS_EINVALID);
    if (rc == UMS_OK)
        FUZZ_ASSERT(valid_uuid(id));
    /* What the server makes opens to what it was made from. */
    buf_init(&made, 2048);
    if (search_cursor_make(&ctx, &made, kind, sort, in.f[1], in.f[2]) == UMS_OK) {
        size_t n = strlen(made.p);
        FUZZ_ASSERT(n >= 2 && made.p[0] == '"' && made.p[n - 1] == '"');
        made.p[n - 1] = '\0';
        rc = search_cursor_open(&ctx, made.p + 1, kind, sort, id, key);
        if (valid_uuid(in.f[1]) && in.len[2] <= SEARCH_CURSOR_KEY_MAX &&
            strlen(in.f[2]) == in.len[2]) {
            FUZZ_ASSERT(rc == UMS_OK && strcmp(id, in.f[1]) == 0 && strcmp(key, in.f[2]) == 0);
        }
        /* Another kind or sort never opens it. */
        FUZZ_ASSERT(search_cursor_open(&ctx, made.p + 1, kind == 'u' ? 'a' : 'u', sort, id, key) !=
                    UMS_OK);
        FUZZ_ASSERT(search_cursor_open(&ctx, made.p + 1, kind, sort + 1, id, key) != UMS_OK);
    }
    buf_free(&made);
    fuzz_free(&in);
    return 0;
}
