/* app.h - what a worker owns for its whole life, created once after fork(). */
#ifndef UMS_APP_H
#define UMS_APP_H

#include "../core/ctx.h"

struct app {
    struct ums_ctx ctx; /* configuration (borrowed), connections, keys */
};

#endif
