/*
 * dates.c: RealWorld's dates read back (beacons' "at", the events' "at", "updatedAt",
 * "createdAt" and CloudEvents time) and the UTC day they fall on (the analytics' unit).
 *
 * Only the form the blog writes is read: "YYYY-MM-DDTHH:MM:SS[.fraction]Z" in UTC; any other
 * (an offset, a missing 'Z', a 31st of February) is refused rather than guessed at.
 */
#include <string.h>
#include <time.h>

#include "activity.h"

/* n decimal digits at s: 0 and *out, or -1. */
static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int activity_time_parse(const char *s, int64_t *ms)
{
    /* OFFSET SIZE FIELD: 0 4 year, 4 '-', 5 2 month, 7 '-', 8 2 day, 10 'T', 11 2 hour,
     * 13 ':', 14 2 minute, 16 ':', 17 2 second, 19 ['.' 1..9 digits] 'Z' */
    if (s == NULL || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':') {
        return -1;
    }
    int y, mo, d, h, mi, sec;
    if (digits(s, 4, &y) != 0 || digits(s + 5, 2, &mo) != 0 || digits(s + 8, 2, &d) != 0 ||
        digits(s + 11, 2, &h) != 0 || digits(s + 14, 2, &mi) != 0 || digits(s + 17, 2, &sec) != 0) {
        return -1;
    }
    const char *p = s + 19;
    int frac = 0, scale = 100, nfrac = 0;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, nfrac++) {
            frac += (*p - '0') * scale;
            scale /= 10;
        }
        if (nfrac == 0 || nfrac > 9) {
            return -1;
        }
    }
    if (p[0] != 'Z' || p[1] != '\0' || y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 ||
        mi > 59 || sec > 59) {
        return -1;
    }
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != mo - 1) { /* timegm normalised a
                                                                         31 February */
        return -1;
    }
    *ms = (int64_t)t * 1000 + frac;
    return 0;
}

void activity_day(int64_t unix_ms, char out[ACTIVITY_DAY_SIZE])
{
    char full[BLOG_TIME_SIZE];
    blog_time_format(unix_ms, full);
    memcpy(out, full, ACTIVITY_DAY_SIZE - 1);
    out[ACTIVITY_DAY_SIZE - 1] = '\0';
}
