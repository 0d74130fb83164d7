/* test_log.c - every log line is one valid JSON object, whatever it holds. */
#define CTEST_MAIN
#include "../ctest.h"

#include <unistd.h>

#include <json-c/json.h>

#include "../../util/log.h"

/* Logs msg to a fresh file and parses what came out; the object or NULL. */
static struct json_object *logged(const char *msg)
{
    char path[64], line[65536];
    struct json_object *o = NULL;
    FILE *f;

    snprintf(path, sizeof(path), "/tmp/ums-test-log-%ld.log", (long)getpid());
    unlink(path);
    if (log_open(path, LL_DEBUG) != 0)
        return NULL;
    log_info("%s", msg);
    log_close();
    f = fopen(path, "r");
    if (f != NULL && fgets(line, sizeof(line), f) != NULL && line[strlen(line) - 1] == '\n') {
        struct json_tokener *t = json_tokener_new();
        json_tokener_set_flags(t, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(t, line, (int)strlen(line) - 1);
        if (json_tokener_get_error(t) != json_tokener_success) {
            json_object_put(o);
            o = NULL;
        }
        json_tokener_free(t);
    }
    if (f != NULL)
        fclose(f);
    unlink(path);
    return o;
}

CTEST(log, lines_stay_valid_json_when_long)
{
    static char msg[8000];
    struct json_object *o, *v;

    /* 3,000 control bytes: 18,000 characters escaped, past the line's cap. */
    memset(msg, '\x01', 3000);
    msg[3000] = '\0';
    o = logged(msg);
    ASSERT_NOT_NULL(o);
    ASSERT_TRUE(json_object_object_get_ex(o, "message", &v));
    ASSERT_TRUE(json_object_get_string_len(v) > 0);
    json_object_put(o);
    /* Quotes, backslashes and two-byte characters, cut somewhere inside. */
    for (int i = 0; i + 2 < (int)sizeof(msg); i += 3)
        memcpy(msg + i, i % 2 ? "\"\\\\" : "\xc3\xa9\"", 3);
    msg[sizeof(msg) - 1] = '\0';
    o = logged(msg);
    ASSERT_NOT_NULL(o);
    json_object_put(o);
    /* Invalid UTF-8 is replaced, never copied. */
    o = logged("bad \xff\xfe bytes");
    ASSERT_NOT_NULL(o);
    ASSERT_TRUE(json_object_object_get_ex(o, "message", &v));
    ASSERT_TRUE(strstr(json_object_get_string(v), "bad ") != NULL);
    json_object_put(o);
}
