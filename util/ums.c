/* ums.c - names of return codes. */
#include "ums.h"

const char *ums_rc_name(int rc)
{
    switch (rc) {
    case UMS_OK:
        return "ok";
    case UMS_ENOTFOUND:
        return "not_found";
    case UMS_ECONFLICT:
        return "conflict";
    case UMS_EINVALID:
        return "invalid";
    case UMS_EDENIED:
        return "denied";
    case UMS_EUNAVAILABLE:
        return "unavailable";
    case UMS_ETOOBIG:
        return "too_big";
    default:
        return "error";
    }
}
