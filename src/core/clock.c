/*
** core/clock.c: time helpers (no locale, no timezone database).
*/
#include "core/clock.h"
#include "core/vg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t clock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Howard Hinnant's days_from_civil. */
int64_t clock_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void clock_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
    int64_t mm = mp < 10 ? mp + 3 : mp - 9;

    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)mm;
    *y = yoe + era * 400 + (mm <= 2);
}

static int digits(const char *s, size_t n, size_t *i, int count, int *out)
{
    int v = 0;
    for (int k = 0; k < count; k++) {
        if (*i >= n || s[*i] < '0' || s[*i] > '9')
            return -1;
        v = v * 10 + (s[*i] - '0');
        (*i)++;
    }
    *out = v;
    return 0;
}

int clock_parse_time(const char *s, size_t n, int64_t *ms)
{
    size_t i = 0;
    if (n == 0)
        return VG_EINVAL;
    /* Plain integer: epoch milliseconds. */
    int all_digits = 1;
    for (size_t k = (s[0] == '-'); k < n; k++)
        if (s[k] < '0' || s[k] > '9')
            all_digits = 0;
    if (all_digits && n > (size_t)(s[0] == '-')) {
        uint64_t v = 0;
        for (size_t k = (s[0] == '-'); k < n; k++) {
            if (v > (uint64_t)INT64_MAX / 10)
                return VG_EINVAL;
            v = v * 10 + (uint64_t)(s[k] - '0');
        }
        if (v > (uint64_t)INT64_MAX)
            return VG_EINVAL;
        *ms = s[0] == '-' ? -(int64_t)v : (int64_t)v;
        return VG_OK;
    }
    int Y, M, D, h = 0, m = 0, sec = 0;
    if (digits(s, n, &i, 4, &Y) || i >= n || s[i++] != '-' || digits(s, n, &i, 2, &M) ||
        i >= n || s[i++] != '-' || digits(s, n, &i, 2, &D))
        return VG_EINVAL;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || (M == 2 && D == 29 && !leap))
        return VG_EINVAL;
    int64_t frac_ms = 0;
    int64_t off_min = 0;
    if (i < n && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
        i++;
        if (digits(s, n, &i, 2, &h) || i >= n || s[i++] != ':' || digits(s, n, &i, 2, &m))
            return VG_EINVAL;
        if (i < n && s[i] == ':') {
            i++;
            if (digits(s, n, &i, 2, &sec))
                return VG_EINVAL;
        }
        if (i < n && (s[i] == '.' || s[i] == ',')) {
            i++;
            int nd = 0;
            while (i < n && s[i] >= '0' && s[i] <= '9') {
                if (nd < 3)
                    frac_ms = frac_ms * 10 + (s[i] - '0');
                nd++;
                i++;
            }
            if (nd == 0)
                return VG_EINVAL;
            for (; nd < 3; nd++)
                frac_ms *= 10;
        }
        if (h > 24 || m > 59 || sec > 60 || (h == 24 && (m || sec || frac_ms)))
            return VG_EINVAL;
        if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
            i++;
        } else if (i < n && (s[i] == '+' || s[i] == '-')) {
            int sign = s[i] == '-' ? -1 : 1, oh, om = 0;
            i++;
            if (digits(s, n, &i, 2, &oh))
                return VG_EINVAL;
            if (i < n && s[i] == ':') {
                i++;
                if (digits(s, n, &i, 2, &om)) /* "+01:" is not an offset */
                    return VG_EINVAL;
            } else if (i < n && digits(s, n, &i, 2, &om)) {
                return VG_EINVAL;
            }
            if (oh > 23 || om > 59)
                return VG_EINVAL;
            off_min = sign * (oh * 60 + om);
        }
    }
    if (i != n)
        return VG_EINVAL;
    int64_t days = clock_days_from_civil(Y, (unsigned)M, (unsigned)D);
    int64_t t = ((days * 24 + h) * 60 + m) * 60 + sec;
    t -= off_min * 60;
    *ms = t * 1000 + frac_ms;
    return VG_OK;
}

int clock_format_rfc3339(int64_t ms, char *out, size_t cap)
{
    int64_t s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int msr = (int)(ms - s * 1000);
    time_t t = (time_t)s;
    struct tm tm;
    gmtime_r(&t, &tm);
    return snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, msr);
}

int clock_parse_duration(const char *s, int64_t *ms)
{
    static const struct {
        const char *suffix;
        double ms;
    } units[] = {
        {"", 1e3}, {"ms", 1}, {"s", 1e3}, {"m", 60e3}, {"min", 60e3},
        {"h", 3600e3}, {"d", 86400e3}, {"w", 7 * 86400e3},
    };
    char *end;
    if (!s || !*s)
        return VG_EINVAL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !(v >= 0))
        return VG_EINVAL;
    for (size_t i = 0; i < VG_ARRAY_LEN(units); i++) {
        if (strcmp(end, units[i].suffix) != 0)
            continue;
        double r = v * units[i].ms;
        if (!isfinite(r) || r > 1e15)
            return VG_EINVAL;
        *ms = (int64_t)r;
        return VG_OK;
    }
    return VG_EINVAL;
}

int64_t clock_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && (a < 0) != (b < 0))
        q--;
    return q;
}

int64_t clock_local_offset_ms(int64_t utc_ms)
{
    if (utc_ms < -(1LL << 50) || utc_ms > (1LL << 50)) /* +-35,000 years */
        return 0;
    time_t t = (time_t)clock_floor_div(utc_ms, 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm))
        return 0;
    return (int64_t)tm.tm_gmtoff * 1000;
}
