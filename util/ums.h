/* ums.h - return codes and small shared types used by every layer. */
#ifndef UMS_H
#define UMS_H

#include <stddef.h>
#include <stdint.h>

/*
 * One return-code rule: 0 is success, negative is failure. A few failures are
 * expected outcomes with names; -1 is "something else went wrong" and has
 * already been logged where it happened.
 */
enum ums_rc {
    UMS_OK = 0,
    UMS_ERR = -1,
    UMS_ENOTFOUND = -2,
    UMS_ECONFLICT = -3,
    UMS_EINVALID = -4,
    UMS_EDENIED = -5,
    UMS_EUNAVAILABLE = -6,
    UMS_ETOOBIG = -7,
};

/* A short fixed name for a return code ("ok", "not_found", ...); never NULL. */
const char *ums_rc_name(int rc);

#define UMS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
