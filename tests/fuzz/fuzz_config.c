/* fuzz_config.c - the INI configuration reader (core/config_source.c and
 * core/config.c's checks) on arbitrary text: a configuration, or
 * UMS_EINVALID with a one-line message. Inputs naming a *_file key are
 * skipped: those read files (a FIFO would hang the run), which is not the
 * parser's business. */
#include "../../core/config.h"
#include "../../util/ums.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ums_config *cfg = NULL;
    char err[512];
    int rc;

    fuzz_quiet();
    if (memmem(data, size, "_file", 5) != NULL)
        return 0;
    err[0] = '\0';
    rc = config_parse(&cfg, (const char *)data, size, "fuzz", err, sizeof(err));
    if (rc != UMS_OK) {
        FUZZ_ASSERT(rc == UMS_EINVALID && err[0] != '\0' && strchr(err, '\n') == NULL);
        return 0;
    }
    FUZZ_ASSERT(cfg != NULL);
    config_free(cfg);
    return 0;
}
