/* fuzz_json.c - the strict JSON body reader (util/json.c) every JSON route
 * parses its body with: whatever the bytes, a parsed value or
 * UMS_EINVALID with a reason, and what it accepts serialises back into
 * text it accepts again. */
#include "../../util/json.h"
#include "../../util/ums.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_object *o = NULL, *again = NULL;
    const char *why = NULL, *text;
    int rc;

    fuzz_quiet();
    rc = json_parse_strict(&o, (const char *)data, size, JSON_DEPTH_MAX, &why);
    if (rc != UMS_OK) {
        FUZZ_ASSERT(rc == UMS_EINVALID && why != NULL && o == NULL);
        return 0;
    }
    text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    FUZZ_ASSERT(text != NULL);
    rc = json_parse_strict(&again, text, strlen(text), JSON_DEPTH_MAX + 1, &why);
    FUZZ_ASSERT(rc == UMS_OK);
    json_object_put(again);
    json_object_put(o);
    return 0;
}
