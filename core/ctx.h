/* ctx.h - what core functions need from the process that calls them: the
 * configuration, the connections and the parsed keys. Owned by the caller
 * (a worker, umsctl or the notifier); core functions only borrow it. */
#ifndef UMS_CTX_H
#define UMS_CTX_H

#include "password.h"

struct ums_config;
struct db;
struct kv;
struct tokens;

struct ums_ctx {
    const struct ums_config *cfg;
    struct db *db;
    struct kv *kv;
    struct tokens *tokens; /* NULL in processes that issue no tokens */
    struct pw_params pw;
};

#endif
