/* json.c - strict JSON parsing. json-c 0.16, even with JSON_TOKENER_STRICT,
 * accepts single-quoted strings, NaN, Infinity, "1." and raw control
 * characters, and stops at the end of the first value; so a small RFC 8259
 * scanner checks the text first and json-c builds the objects after it. */
#include "json.h"

#include <string.h>

#include "ums.h"
#include "utf8.h"

struct scan {
    const char *p;
    const char *end;
    int max_depth;
    const char *why;
};

static void ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int fail(struct scan *s, const char *why)
{
    if (s->why == NULL)
        s->why = why;
    return -1;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int string(struct scan *s)
{
    s->p++; /* opening quote */
    while (s->p < s->end) {
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            s->p++;
            return 0;
        }
        if (c < 0x20)
            return fail(s, "control character inside a JSON string");
        if (c != '\\') {
            s->p++;
            continue;
        }
        if (s->end - s->p < 2)
            break;
        switch (s->p[1]) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            s->p += 2;
            break;
        case 'u':
            if (s->end - s->p < 6 || !is_hex(s->p[2]) || !is_hex(s->p[3]) || !is_hex(s->p[4]) ||
                !is_hex(s->p[5]))
                return fail(s, "bad \\u escape in a JSON string");
            if (memcmp(s->p + 2, "0000", 4) == 0)
                return fail(s, "NUL character inside a JSON string");
            s->p += 6;
            break;
        default:
            return fail(s, "bad escape in a JSON string");
        }
    }
    return fail(s, "JSON text is incomplete");
}

static int number(struct scan *s)
{
    if (*s->p == '-')
        s->p++;
    if (s->p >= s->end || !is_digit(*s->p))
        return fail(s, "request body is not valid JSON");
    if (*s->p == '0')
        s->p++;
    else
        while (s->p < s->end && is_digit(*s->p))
            s->p++;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (s->p >= s->end || !is_digit(*s->p))
            return fail(s, "request body is not valid JSON");
        while (s->p < s->end && is_digit(*s->p))
            s->p++;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (s->p >= s->end || !is_digit(*s->p))
            return fail(s, "request body is not valid JSON");
        while (s->p < s->end && is_digit(*s->p))
            s->p++;
    }
    return 0;
}

static int literal(struct scan *s, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return fail(s, "request body is not valid JSON");
    s->p += n;
    return 0;
}

/* Recursion is bounded by max_depth (JSON_DEPTH_MAX), never by the input. */
static int value(struct scan *s, int depth)
{
    ws(s);
    if (s->p >= s->end)
        return fail(s, "JSON text is incomplete");
    switch (*s->p) {
    case '{':
    case '[': {
        char close = *s->p == '{' ? '}' : ']';
        int obj = close == '}';
        if (depth >= s->max_depth)
            return fail(s, "JSON nesting is too deep");
        s->p++;
        ws(s);
        if (s->p < s->end && *s->p == close) {
            s->p++;
            return 0;
        }
        for (;;) {
            if (obj) {
                ws(s);
                if (s->p >= s->end)
                    return fail(s, "JSON text is incomplete");
                if (*s->p != '"' || string(s) != 0)
                    return fail(s, "request body is not valid JSON");
                ws(s);
                if (s->p >= s->end)
                    return fail(s, "JSON text is incomplete");
                if (*s->p != ':')
                    return fail(s, "request body is not valid JSON");
                s->p++;
            }
            if (value(s, depth + 1) != 0)
                return -1;
            ws(s);
            if (s->p >= s->end)
                return fail(s, "JSON text is incomplete");
            if (*s->p == close) {
                s->p++;
                return 0;
            }
            if (*s->p != ',')
                return fail(s, "request body is not valid JSON");
            s->p++;
        }
    }
    case '"':
        return string(s);
    case 't':
        return literal(s, "true");
    case 'f':
        return literal(s, "false");
    case 'n':
        return literal(s, "null");
    default:
        return number(s);
    }
}

int json_parse_strict(struct json_object **out, const char *buf, size_t len, int max_depth,
                      const char **why)
{
    struct scan s = {buf, buf + len, max_depth, NULL};
    struct json_tokener *tok = NULL;
    struct json_object *obj = NULL;
    int rc = UMS_EINVALID;

    *out = NULL;
    if (len == 0) {
        s.why = "request body is empty";
        goto out;
    }
    if (len > (size_t)INT32_MAX - 1) {
        s.why = "request body is too large";
        goto out;
    }
    if (!utf8_valid(buf, len)) {
        s.why = "request body is not valid UTF-8";
        goto out;
    }
    if (value(&s, 0) != 0)
        goto out;
    ws(&s);
    if (s.p != s.end) {
        s.why = "unexpected data after the JSON value";
        goto out;
    }
    tok = json_tokener_new_ex(max_depth + 1);
    if (tok == NULL) {
        rc = UMS_ERR;
        goto out;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    obj = json_tokener_parse_ex(tok, buf, (int)len);
    /* A bare number or literal at the very end waits for more input. */
    if (obj == NULL && json_tokener_get_error(tok) == json_tokener_continue)
        obj = json_tokener_parse_ex(tok, " ", 1);
    if (obj == NULL) {
        s.why = "request body is not valid JSON";
        goto out;
    }
    *out = obj;
    obj = NULL;
    rc = UMS_OK;
out:
    if (obj != NULL)
        json_object_put(obj);
    if (tok != NULL)
        json_tokener_free(tok);
    if (why != NULL)
        *why = rc == UMS_OK ? NULL : s.why;
    return rc;
}
