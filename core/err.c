/* err.c - the error record (err.h). */
#include "err.h"

#include "../util/ums.h"

int err_set(struct ums_err *e, enum err_fail f, const char *msg)
{
    e->fail = f;
    e->msg = msg;
    e->field = NULL;
    return UMS_EDENIED;
}

int err_field(struct ums_err *e, const char *field, const char *msg)
{
    err_set(e, FAIL_VALIDATION, msg);
    e->field = field;
    e->reason = NULL;
    return UMS_EDENIED;
}

int err_required(struct ums_err *e, const char *field, const char *msg)
{
    err_field(e, field, msg);
    e->reason = "required";
    return UMS_EDENIED;
}
