/*
** core/timefmt.c: date-time texts of data files -> UTC milliseconds (contract: timefmt.h).
** Civil dates use Howard Hinnant's public-domain days_from_civil / civil_from_days (proleptic
** Gregorian, exact for any year whose day count fits int64). The EU summer-time rule is computed,
** not looked up: no tz database, no locale, no strptime/mktime/timegm/TZ, so every result is the
** same on every machine and every function is reentrant.
** The EU rule is applied to every year (proleptic). Before 1996 the real history differs (summer
** time ended in September 1981-1995, none at all in most zones before the late 1970s), so local
** times of older data may be one hour off; data files of Vigie are recent.
** Owns: nothing (a const table of zones). Thread: reentrant.
*/
#include "core/timefmt.h"

#include "core/clock.h"

#include "core/vg.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define SEC_MS 1000LL
#define MIN_MS 60000LL
#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL
/* Beyond +-2^60 ms (36 million years) the EU rule is not evaluated: the standard offset applies.
** It keeps every intermediate product of tf_offset_at inside int64. */
#define RULE_LIMIT_MS (INT64_C(1) << 60)
/* tf_local_to_utc refuses local times beyond +-2^61 ms (VG_ERANGE): no overflow below that. */
#define LOCAL_LIMIT_MS (INT64_C(1) << 61)
/* Excel serial of 1970-01-01 (day 0 is 1899-12-30) and of 9999-12-31, the last accepted day. */
#define EXCEL_EPOCH 25569
#define EXCEL_MAX 2958465
/* Offsets written in a text: at most +-18:00 (ISO 8601 / java.time bound). */
#define MAX_OFFSET_MIN (18 * 60)

static const struct {
    const char *name;
    int32_t std_offset_min;
    int eu_dst;
} zones[] = {
    {"UTC", 0, 0},
    {"Europe/Paris", 60, 1},
    {"Europe/Madrid", 60, 1},
    {"Europe/Berlin", 60, 1},
    {"Europe/Brussels", 60, 1},
    {"Europe/Amsterdam", 60, 1},
    {"Europe/Rome", 60, 1},
    {"Europe/Luxembourg", 60, 1},
    {"Europe/Lisbon", 0, 1},
    {"Europe/London", 0, 1},
    {"Europe/Dublin", 0, 1},
};

int tf_zone_find(const char *name, struct tf_zone *z)
{
    size_t i;

    if (!name || !z)
        return VG_EINVAL;
    for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
        if (strcmp(name, zones[i].name) == 0) {
            z->std_offset_min = zones[i].std_offset_min;
            z->eu_dst = zones[i].eu_dst;
            return VG_OK;
        }
    }
    /* A fixed offset: "UTC+01:00", "UTC-05:30" (no summer time). */
    unsigned hh, mm;
    char sign, tail;
    if (sscanf(name, "UTC%c%2u:%2u%c", &sign, &hh, &mm, &tail) == 3 &&
        (sign == '+' || sign == '-') && strlen(name) == 9 && hh <= 18 && mm <= 59) {
        z->std_offset_min = (int32_t)(hh * 60 + mm) * (sign == '-' ? -1 : 1);
        z->eu_dst = 0;
        return VG_OK;
    }
    return VG_EINVAL;
}

/* ---- civil calendar -------------------------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b) != 0 && ((a < 0) != (b < 0)))
        q--;
    return q;
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && is_leap(y))
        return 29;
    return dim[m - 1];
}

/* Days since 1970-01-01 of the last Sunday of month m of year y (31-day months only). */
static int64_t last_sunday(int64_t y, unsigned m)
{
    int64_t d = clock_days_from_civil(y, m, 31);
    int64_t wd = d + 4 - floor_div(d + 4, 7) * 7; /* 0 = Sunday; 1970-01-01 was a Thursday */
    return d - wd;
}

/* ---- zones ----------------------------------------------------------------------------------- */

int64_t tf_offset_at(const struct tf_zone *z, int64_t utc_ms)
{
    int64_t off = (int64_t)z->std_offset_min * MIN_MS;
    int64_t y, start, end;
    unsigned m, d;

    if (!z->eu_dst || utc_ms >= RULE_LIMIT_MS || utc_ms <= -RULE_LIMIT_MS)
        return off;
    clock_civil_from_days(floor_div(utc_ms, DAY_MS), &y, &m, &d);
    start = last_sunday(y, 3) * DAY_MS + HOUR_MS;
    end = last_sunday(y, 10) * DAY_MS + HOUR_MS;
    return (utc_ms >= start && utc_ms < end) ? off + HOUR_MS : off;
}

int tf_local_to_utc(const struct tf_zone *z, int64_t local_ms, int later, int64_t *utc_ms)
{
    int64_t std, summer, winter;
    int summer_ok, winter_ok;

    if (!z || !utc_ms)
        return VG_EINVAL;
    if (local_ms >= LOCAL_LIMIT_MS || local_ms <= -LOCAL_LIMIT_MS)
        return VG_ERANGE;
    std = (int64_t)z->std_offset_min * MIN_MS;
    if (!z->eu_dst) {
        *utc_ms = local_ms - std;
        return VG_OK;
    }
    /* Two candidates, one per offset; a candidate is real if the zone has that offset at that
    ** instant. Both real: the autumn overlap. Neither: the spring gap. */
    summer = local_ms - std - HOUR_MS;
    winter = local_ms - std;
    summer_ok = tf_offset_at(z, summer) == std + HOUR_MS;
    winter_ok = tf_offset_at(z, winter) == std;
    if (summer_ok && winter_ok)
        *utc_ms = later ? winter : summer;
    else if (summer_ok)
        *utc_ms = summer;
    else if (winter_ok)
        *utc_ms = winter;
    else
        return VG_ERANGE;
    return VG_OK;
}

/* ---- parsing --------------------------------------------------------------------------------- */

struct cur {
    const char *p, *e;
};

/* The fields of a local date-time as read; validated by fields_to_local(). */
struct fields {
    int64_t y, mo, d, h, mi, s, ms;
    int have_year;
};

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Between min and max decimal digits (max <= 9) into *v. */
static int read_digits(struct cur *c, int min, int max, int64_t *v)
{
    int64_t x = 0;
    int n = 0;

    while (n < max && c->p < c->e && is_digit(*c->p)) {
        x = x * 10 + (*c->p - '0');
        c->p++;
        n++;
    }
    if (n < min)
        return VG_EINVAL;
    *v = x;
    return VG_OK;
}

/* One or more fraction digits; the first three give milliseconds, the rest are truncated. */
static int read_frac_ms(struct cur *c, int64_t *ms)
{
    int64_t x = 0;
    int n = 0;

    while (c->p < c->e && is_digit(*c->p)) {
        if (n < 3)
            x = x * 10 + (*c->p - '0');
        c->p++;
        n++;
    }
    if (n == 0)
        return VG_EINVAL;
    for (; n < 3; n++)
        x *= 10;
    *ms = x;
    return VG_OK;
}

static int accept(struct cur *c, char ch)
{
    if (c->p < c->e && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* Range checks, then milliseconds since 1970-01-01T00:00 local. Hour 24 is allowed only as
** 24:00:00.000 (the next day's midnight); second 60 (a leap second) simply adds one second. */
static int fields_to_local(const struct fields *f, int64_t *local_ms)
{
    int64_t days;

    if (f->y < 0 || f->y > 9999 || f->mo < 1 || f->mo > 12 || f->d < 1)
        return VG_EINVAL;
    if (f->d > (int64_t)days_in_month(f->y, (unsigned)f->mo))
        return VG_EINVAL;
    if (f->h < 0 || f->h > 24 || f->mi < 0 || f->mi > 59 || f->s < 0 || f->s > 60)
        return VG_EINVAL;
    if (f->ms < 0 || f->ms > 999)
        return VG_EINVAL;
    if (f->h == 24 && (f->mi || f->s || f->ms))
        return VG_EINVAL;
    days = clock_days_from_civil(f->y, (unsigned)f->mo, (unsigned)f->d);
    *local_ms = days * DAY_MS + f->h * HOUR_MS + f->mi * MIN_MS + f->s * SEC_MS + f->ms;
    return VG_OK;
}

/* "Z", "+hh", "+hh:mm", "+hhmm" (or '-') into minutes east of UTC. */
static int read_offset(struct cur *c, int64_t *off_min)
{
    int64_t hh, mm = 0;
    int neg;

    if (accept(c, 'Z') || accept(c, 'z')) {
        *off_min = 0;
        return VG_OK;
    }
    if (accept(c, '+'))
        neg = 0;
    else if (accept(c, '-'))
        neg = 1;
    else
        return VG_EINVAL;
    if (read_digits(c, 2, 2, &hh))
        return VG_EINVAL;
    if (c->p < c->e) {
        accept(c, ':');
        if (read_digits(c, 2, 2, &mm))
            return VG_EINVAL;
    }
    if (mm > 59 || hh * 60 + mm > MAX_OFFSET_MIN)
        return VG_EINVAL;
    *off_min = neg ? -(hh * 60 + mm) : hh * 60 + mm;
    return VG_OK;
}

static int parse_iso8601(struct cur *c, const struct tf_zone *z, int later, int64_t *utc_ms)
{
    struct fields f = {0};
    int64_t local, off_min;
    int rc, have_off = 0;

    if (read_digits(c, 4, 4, &f.y) || !accept(c, '-') || read_digits(c, 2, 2, &f.mo) ||
        !accept(c, '-') || read_digits(c, 2, 2, &f.d))
        return VG_EINVAL;
    if (c->p < c->e) {
        if (accept(c, 'T') || accept(c, 't')) {
            /* one separator */
        } else if (accept(c, ' ')) {
            while (accept(c, ' '))
                ;
        } else {
            return VG_EINVAL;
        }
        if (read_digits(c, 2, 2, &f.h) || !accept(c, ':') || read_digits(c, 2, 2, &f.mi))
            return VG_EINVAL;
        if (accept(c, ':')) {
            if (read_digits(c, 2, 2, &f.s))
                return VG_EINVAL;
            if ((accept(c, '.') || accept(c, ',')) && read_frac_ms(c, &f.ms))
                return VG_EINVAL;
        }
        if (c->p < c->e) {
            if (read_offset(c, &off_min))
                return VG_EINVAL;
            have_off = 1;
        }
    }
    if (c->p != c->e)
        return VG_EINVAL;
    rc = fields_to_local(&f, &local);
    if (rc)
        return rc;
    if (have_off) {
        *utc_ms = local - off_min * MIN_MS;
        return VG_OK;
    }
    return tf_local_to_utc(z, local, later, utc_ms);
}

/* [+-]digits[.digits]; scale 1000 for seconds, 1 for milliseconds. Fraction below 1 ms is
** truncated (towards zero). */
static int parse_epoch(struct cur *c, int64_t scale, int64_t *utc_ms)
{
    int64_t ip, frac = 0, total;
    int neg = 0, n = 0;

    if (accept(c, '-'))
        neg = 1;
    else
        accept(c, '+');
    ip = 0;
    while (c->p < c->e && is_digit(*c->p)) {
        int dg = *c->p - '0';
        if (ip > (INT64_MAX - dg) / 10)
            return VG_EINVAL;
        ip = ip * 10 + dg;
        c->p++;
        n++;
    }
    if (n == 0)
        return VG_EINVAL;
    if (accept(c, '.')) {
        int64_t fms;
        if (read_frac_ms(c, &fms))
            return VG_EINVAL;
        frac = scale == 1 ? 0 : fms;
    }
    if (c->p != c->e)
        return VG_EINVAL;
    if (ip > (INT64_MAX - frac) / scale)
        return VG_EINVAL;
    total = ip * scale + frac;
    *utc_ms = neg ? -total : total;
    return VG_OK;
}

/* Serial days since 1899-12-30 with a decimal day fraction, rounded to the nearest millisecond
** (spreadsheets store binary doubles: 1:00 is written 0.0416666666666667). Serials below 61 are
** taken as they are: Excel's fictitious 1900-02-29 is not reproduced. */
static int parse_excel(struct cur *c, const struct tf_zone *z, int later, int64_t *utc_ms)
{
    static const uint64_t p10[12] = {1ull,         10ull,         100ull,         1000ull,
                                     10000ull,     100000ull,     1000000ull,     10000000ull,
                                     100000000ull, 1000000000ull, 10000000000ull, 100000000000ull};
    int64_t serial = 0, ms = 0, local;
    uint64_t fr = 0;
    int n = 0, k = 0;

    while (c->p < c->e && is_digit(*c->p)) {
        serial = serial * 10 + (*c->p - '0');
        if (serial > EXCEL_MAX)
            return VG_EINVAL;
        c->p++;
        n++;
    }
    if (n == 0)
        return VG_EINVAL;
    if (accept(c, '.')) {
        n = 0;
        while (c->p < c->e && is_digit(*c->p)) {
            if (k < 11) { /* 11 digits: 1e-11 day < 0.001 ms; fr * DAY_MS < 2^63 */
                fr = fr * 10 + (uint64_t)(*c->p - '0');
                k++;
            }
            c->p++;
            n++;
        }
        if (n == 0)
            return VG_EINVAL;
        ms = (int64_t)((fr * (uint64_t)DAY_MS + p10[k] / 2) / p10[k]);
    }
    if (c->p != c->e)
        return VG_EINVAL;
    local = (serial - EXCEL_EPOCH) * DAY_MS + ms;
    return tf_local_to_utc(z, local, later, utc_ms);
}

static int parse_pattern(struct cur *c, const char *pat, const struct tf_zone *z, int later,
                         int64_t *utc_ms)
{
    struct fields f = {0};
    int64_t local, yy = 0;
    int rc;

    f.mo = 1;
    f.d = 1;
    for (; *pat; pat++) {
        if (*pat == ' ') {
            if (!accept(c, ' '))
                return VG_EINVAL;
            while (accept(c, ' '))
                ;
            continue;
        }
        if (*pat != '%') {
            if (!accept(c, *pat))
                return VG_EINVAL;
            continue;
        }
        pat++;
        switch (*pat) {
        case 'Y':
            rc = read_digits(c, 4, 4, &f.y);
            f.have_year = 1;
            break;
        case 'y':
            rc = read_digits(c, 2, 2, &yy);
            f.y = yy < 70 ? 2000 + yy : 1900 + yy;
            f.have_year = 1;
            break;
        case 'm': rc = read_digits(c, 1, 2, &f.mo); break;
        case 'd': rc = read_digits(c, 1, 2, &f.d); break;
        case 'H': rc = read_digits(c, 1, 2, &f.h); break;
        case 'M': rc = read_digits(c, 1, 2, &f.mi); break;
        case 'S': rc = read_digits(c, 1, 2, &f.s); break;
        case 'f': rc = read_frac_ms(c, &f.ms); break;
        case '%': rc = accept(c, '%') ? VG_OK : VG_EINVAL; break;
        default: return VG_EINVAL; /* unsupported directive, or a lone '%' at the end */
        }
        if (rc)
            return VG_EINVAL;
    }
    if (c->p != c->e || !f.have_year)
        return VG_EINVAL;
    rc = fields_to_local(&f, &local);
    if (rc)
        return rc;
    return tf_local_to_utc(z, local, later, utc_ms);
}

int tf_parse(const char *s, size_t n, const char *pattern, const struct tf_zone *z, int later,
             int64_t *utc_ms)
{
    struct cur c;
    int64_t out = 0;
    int rc;

    if ((!s && n) || !pattern || !z || !utc_ms)
        return VG_EINVAL;
    if (!s)
        return VG_EINVAL; /* n == 0: empty text */
    c.p = s;
    c.e = s + n;
    while (c.p < c.e && is_blank(*c.p))
        c.p++;
    while (c.e > c.p && is_blank(c.e[-1]))
        c.e--;
    if (c.p == c.e)
        return VG_EINVAL;
    if (strcmp(pattern, "iso8601") == 0)
        rc = parse_iso8601(&c, z, later, &out);
    else if (strcmp(pattern, "epoch_s") == 0)
        rc = parse_epoch(&c, 1000, &out);
    else if (strcmp(pattern, "epoch_ms") == 0)
        rc = parse_epoch(&c, 1, &out);
    else if (strcmp(pattern, "excel") == 0)
        rc = parse_excel(&c, z, later, &out);
    else
        rc = parse_pattern(&c, pattern, z, later, &out);
    if (rc)
        return rc;
    *utc_ms = out;
    return VG_OK;
}
