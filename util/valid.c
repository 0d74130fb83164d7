/* valid.c - small validators. */
#include "valid.h"

#include <ctype.h>
#include <string.h>

#include "ums.h"
#include "utf8.h"

int valid_uuid(const char *s)
{
    static const int dash[] = {8, 13, 18, 23};

    if (s == NULL || strlen(s) != 36)
        return 0;
    for (int i = 0, d = 0; i < 36; i++) {
        if (d < 4 && i == dash[d]) {
            if (s[i] != '-')
                return 0;
            d++;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

int valid_email_normalize(char *out, const char *in, size_t len)
{
    const char *at = NULL;
    size_t n = 0;

    while (len > 0 && (*in == ' ' || *in == '\t')) {
        in++;
        len--;
    }
    while (len > 0 && (in[len - 1] == ' ' || in[len - 1] == '\t'))
        len--;
    if (len < 3 || len > EMAIL_MAX || !utf8_valid(in, len))
        return UMS_EINVALID;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c <= 0x20 || c == 0x7f || c == '"' || c == '<' || c == '>' || c == '(' || c == ')' ||
            c == ',' || c == ';' || c == ':' || c == '\\' || c == '[' || c == ']')
            return UMS_EINVALID;
        if (c == '@') {
            if (at != NULL)
                return UMS_EINVALID;
            at = in + i;
        }
        out[n++] = (char)tolower(c);
    }
    out[n] = '\0';
    if (at == NULL || at == in || at == in + len - 1)
        return UMS_EINVALID;
    /* The domain has a dot that is neither first nor last. */
    {
        const char *dom = strchr(out, '@') + 1;
        const char *dot = strchr(dom, '.');
        size_t dl = strlen(dom);
        if (dot == NULL || dom[0] == '.' || dom[dl - 1] == '.' || strstr(dom, "..") != NULL)
            return UMS_EINVALID;
    }
    return UMS_OK;
}
