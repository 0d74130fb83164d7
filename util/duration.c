/* duration.c - Go-style durations (duration.h). */
#include "duration.h"

#include <ctype.h>
#include <stdlib.h>

long long duration_seconds(const char *s)
{
    long long total = 0;

    if (s == NULL || *s == '\0')
        return -1;
    while (*s != '\0') {
        char *end;
        long long v;
        if (!isdigit((unsigned char)*s))
            return -1;
        v = strtoll(s, &end, 10);
        if (v < 0 || v > 100000000LL)
            return -1;
        if (*end == 'h')
            total += v * 3600;
        else if (*end == 'm' && end[1] != 's')
            total += v * 60;
        else if (*end == 's')
            total += v;
        else
            return -1;
        s = end + 1;
        if (total > 100LL * 365 * 86400)
            return -1;
    }
    return total;
}
