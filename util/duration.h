/* duration.h - durations written as Go writes them ("90s", "15m", "1h30m"),
 * as GoTrue's admin API takes a ban_duration. */
#ifndef UMS_DURATION_H
#define UMS_DURATION_H

/*
 * Seconds of a duration made of one or more <digits><unit> parts, unit h, m
 * or s ("90s", "15m", "24h", "1h30m"; parts add up). -1 for anything else:
 * NULL or "", a sign, a fraction, another unit (ms, us, d), a missing unit,
 * a part over 100,000,000, or a total over 100 years.
 */
long long duration_seconds(const char *s);

#endif
