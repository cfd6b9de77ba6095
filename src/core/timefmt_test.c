/*
** core/timefmt_test.c: unit tests of the date-time parser (core/timefmt.c).
** Civil calendar round trips for every day 1900-2100 (and spot checks 1..9999), the EU summer
** time changes of 2024 in Paris and London to the millisecond, every hour of 2024 through
** local time and back, the strftime-like patterns, iso8601, excel and epoch forms, and tables
** of texts that must be refused.
** Owns: nothing.
*/
#include "core/timefmt.h"

#include "core/clock.h"
#include "core/test.h"
#include "core/vg.h"

#include <stdint.h>
#include <string.h>

#define HOUR_MS 3600000LL
#define MIN_MS 60000LL
#define DAY_MS 86400000LL

static struct tf_zone paris, london, utc;

/* UTC ms of a civil date-time, computed independently of tf_parse. */
static int64_t at(int64_t y, unsigned mo, unsigned d, int h, int mi, int s, int ms)
{
    return clock_days_from_civil(y, mo, d) * DAY_MS + h * HOUR_MS + mi * MIN_MS + s * 1000LL + ms;
}

static int parse(const char *s, const char *pat, const struct tf_zone *z, int later, int64_t *ms)
{
    return tf_parse(s, strlen(s), pat, z, later, ms);
}

/* CHECK_PARSE: success and the instant. CHECK_FAIL: the code, and *ms left untouched. */
#define CHECK_PARSE(s, pat, z, later, want)                                                        \
    do {                                                                                           \
        int64_t got_ = -42;                                                                        \
        CHECK_EQ_INT(parse((s), (pat), (z), (later), &got_), VG_OK);                               \
        CHECK_EQ_INT(got_, (want));                                                                \
    } while (0)

#define CHECK_FAIL(s, pat, z, rc)                                                                  \
    do {                                                                                           \
        int64_t got_ = -42;                                                                        \
        CHECK_EQ_INT(parse((s), (pat), (z), 0, &got_), (rc));                                      \
        CHECK_EQ_INT(got_, -42); /* untouched on failure */                                        \
    } while (0)

static void test_civil_roundtrip(void)
{
    int64_t first = clock_days_from_civil(1900, 1, 1), last = clock_days_from_civil(2100, 12, 31);
    int64_t day, py = 1899, y;
    unsigned pm = 12, pd = 31, m, d;

    CHECK_EQ_INT(first, -25567);
    CHECK_EQ_INT(last, 47846);
    CHECK_EQ_INT(clock_days_from_civil(1970, 1, 1), 0);
    CHECK_EQ_INT(clock_days_from_civil(2000, 3, 1), 11017);
    CHECK_EQ_INT(clock_days_from_civil(1, 1, 1), -719162);
    CHECK_EQ_INT(clock_days_from_civil(9999, 12, 31), 2932896);
    CHECK_EQ_INT(clock_days_from_civil(2024, 3, 31), 19813);
    for (day = first; day <= last; day++) {
        clock_civil_from_days(day, &y, &m, &d);
        CHECK_EQ_INT(clock_days_from_civil(y, m, d), day);
        CHECK_EQ_INT(clock_days_from_civil(y, m, d), day);
        /* the day after (py, pm, pd) */
        if (d == pd + 1 && m == pm && y == py) {
            /* same month */
        } else {
            CHECK_EQ_INT(d, 1);
            CHECK(pd >= 28);
            if (m == 1) {
                CHECK_EQ_INT(pm, 12);
                CHECK_EQ_INT(y, py + 1);
            } else {
                CHECK_EQ_INT(m, pm + 1);
                CHECK_EQ_INT(y, py);
            }
        }
        if (m == 2 && d == 29)
            CHECK((y % 4 == 0 && y % 100 != 0) || y % 400 == 0);
        py = y;
        pm = m;
        pd = d;
    }
    CHECK_EQ_INT(py, 2100);
    CHECK_EQ_INT(pm, 12);
    CHECK_EQ_INT(pd, 31);
    /* every 13th day of years 1..9999 */
    for (day = clock_days_from_civil(1, 1, 1); day <= 2932896; day += 13) {
        clock_civil_from_days(day, &y, &m, &d);
        CHECK(y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= 31);
        CHECK_EQ_INT(clock_days_from_civil(y, m, d), day);
    }
    clock_civil_from_days(-1, &y, &m, &d);
    CHECK(y == 1969 && m == 12 && d == 31);
}

static void test_zone_find(void)
{
    static const char *const cet[] = {"Europe/Paris",    "Europe/Madrid",    "Europe/Berlin",
                                      "Europe/Brussels", "Europe/Amsterdam", "Europe/Rome",
                                      "Europe/Luxembourg"};
    static const char *const wet[] = {"Europe/Lisbon", "Europe/London", "Europe/Dublin"};
    struct tf_zone z;
    size_t i;

    for (i = 0; i < sizeof(cet) / sizeof(cet[0]); i++) {
        memset(&z, 0, sizeof(z));
        CHECK_EQ_INT(tf_zone_find(cet[i], &z), VG_OK);
        CHECK(z.std_offset_min == 60 && z.eu_dst);
    }
    for (i = 0; i < sizeof(wet) / sizeof(wet[0]); i++) {
        z.std_offset_min = 99;
        CHECK_EQ_INT(tf_zone_find(wet[i], &z), VG_OK);
        CHECK(z.std_offset_min == 0 && z.eu_dst);
    }
    CHECK_EQ_INT(tf_zone_find("UTC", &z), VG_OK);
    CHECK(z.std_offset_min == 0 && !z.eu_dst);
}

static void test_unknown_zone(void)
{
    struct tf_zone z = {123, 7};

    CHECK_EQ_INT(tf_zone_find("Mars/Olympus", &z), VG_EINVAL);
    CHECK_EQ_INT(tf_zone_find("europe/paris", &z), VG_EINVAL); /* case-sensitive */
    CHECK_EQ_INT(tf_zone_find("Europe/Paris ", &z), VG_EINVAL);
    CHECK_EQ_INT(tf_zone_find("CET", &z), VG_EINVAL);
    CHECK_EQ_INT(tf_zone_find("", &z), VG_EINVAL);
    CHECK_EQ_INT(tf_zone_find(NULL, &z), VG_EINVAL);
    CHECK_EQ_INT(tf_zone_find("UTC", NULL), VG_EINVAL);
    CHECK(z.std_offset_min == 123 && z.eu_dst == 7); /* untouched */
}

static void test_offset_at(void)
{
    int64_t spring = at(2024, 3, 31, 1, 0, 0, 0), autumn = at(2024, 10, 27, 1, 0, 0, 0);

    CHECK_EQ_INT(tf_offset_at(&paris, spring - 1), HOUR_MS);
    CHECK_EQ_INT(tf_offset_at(&paris, spring), 2 * HOUR_MS);
    CHECK_EQ_INT(tf_offset_at(&paris, autumn - 1), 2 * HOUR_MS);
    CHECK_EQ_INT(tf_offset_at(&paris, autumn), HOUR_MS);
    CHECK_EQ_INT(tf_offset_at(&london, spring - 1), 0);
    CHECK_EQ_INT(tf_offset_at(&london, spring), HOUR_MS);
    CHECK_EQ_INT(tf_offset_at(&london, autumn - 1), HOUR_MS);
    CHECK_EQ_INT(tf_offset_at(&london, autumn), 0);
    CHECK_EQ_INT(tf_offset_at(&utc, spring), 0);
    CHECK_EQ_INT(tf_offset_at(&utc, spring - 1), 0);
    CHECK_EQ_INT(tf_offset_at(&paris, at(2024, 1, 1, 0, 0, 0, 0)), HOUR_MS);
    CHECK_EQ_INT(tf_offset_at(&paris, at(2024, 7, 1, 0, 0, 0, 0)), 2 * HOUR_MS);
    CHECK_EQ_INT(tf_offset_at(&paris, at(2024, 12, 31, 23, 59, 59, 999)), HOUR_MS);
    /* other years: 2021-03-28 and 2021-10-31; 2023-03-26 and 2023-10-29 */
    CHECK_EQ_INT(tf_offset_at(&paris, at(2021, 3, 28, 0, 59, 59, 999)), HOUR_MS);
    CHECK_EQ_INT(tf_offset_at(&paris, at(2021, 3, 28, 1, 0, 0, 0)), 2 * HOUR_MS);
    CHECK_EQ_INT(tf_offset_at(&paris, at(2021, 10, 31, 0, 59, 59, 999)), 2 * HOUR_MS);
    CHECK_EQ_INT(tf_offset_at(&paris, at(2021, 10, 31, 1, 0, 0, 0)), HOUR_MS);
    CHECK_EQ_INT(tf_offset_at(&paris, at(2023, 3, 26, 1, 0, 0, 0)), 2 * HOUR_MS);
    CHECK_EQ_INT(tf_offset_at(&paris, at(2023, 10, 29, 1, 0, 0, 0)), HOUR_MS);
    /* extremes do not overflow */
    CHECK_EQ_INT(tf_offset_at(&paris, INT64_MAX), HOUR_MS);
    CHECK_EQ_INT(tf_offset_at(&paris, INT64_MIN), HOUR_MS);
}

static void test_paris_dst_2024(void)
{
    int64_t day = clock_days_from_civil(2024, 3, 31) * DAY_MS, out = -42;
    int h;

    CHECK_EQ_INT(tf_local_to_utc(&paris, day + HOUR_MS + 59 * MIN_MS, 0, &out), VG_OK);
    CHECK_EQ_INT(out, at(2024, 3, 31, 0, 59, 0, 0));
    for (h = 0; h < 60; h++) {
        out = -42;
        CHECK_EQ_INT(tf_local_to_utc(&paris, day + 2 * HOUR_MS + h * MIN_MS, 0, &out), VG_ERANGE);
        CHECK_EQ_INT(tf_local_to_utc(&paris, day + 2 * HOUR_MS + h * MIN_MS, 1, &out), VG_ERANGE);
        CHECK_EQ_INT(out, -42);
    }
    CHECK_EQ_INT(tf_local_to_utc(&paris, day + 3 * HOUR_MS - 1, 0, &out), VG_ERANGE);
    CHECK_EQ_INT(tf_local_to_utc(&paris, day + 3 * HOUR_MS, 0, &out), VG_OK);
    CHECK_EQ_INT(out, at(2024, 3, 31, 1, 0, 0, 0));
    /* the same through tf_parse */
    CHECK_PARSE("2024-03-31T01:59", "iso8601", &paris, 0, at(2024, 3, 31, 0, 59, 0, 0));
    CHECK_FAIL("2024-03-31T02:00", "iso8601", &paris, VG_ERANGE);
    CHECK_FAIL("2024-03-31T02:59:59.999", "iso8601", &paris, VG_ERANGE);
    CHECK_PARSE("2024-03-31T03:00", "iso8601", &paris, 0, at(2024, 3, 31, 1, 0, 0, 0));

    day = clock_days_from_civil(2024, 10, 27) * DAY_MS;
    CHECK_EQ_INT(tf_local_to_utc(&paris, day + 2 * HOUR_MS + 30 * MIN_MS, 0, &out), VG_OK);
    CHECK_EQ_INT(out, at(2024, 10, 27, 0, 30, 0, 0));
    CHECK_EQ_INT(tf_local_to_utc(&paris, day + 2 * HOUR_MS + 30 * MIN_MS, 1, &out), VG_OK);
    CHECK_EQ_INT(out, at(2024, 10, 27, 1, 30, 0, 0));
    CHECK_EQ_INT(tf_local_to_utc(&paris, day + 3 * HOUR_MS, 0, &out), VG_OK);
    CHECK_EQ_INT(out, at(2024, 10, 27, 2, 0, 0, 0));
    CHECK_EQ_INT(tf_local_to_utc(&paris, day + 3 * HOUR_MS, 1, &out), VG_OK);
    CHECK_EQ_INT(out, at(2024, 10, 27, 2, 0, 0, 0));
    CHECK_EQ_INT(tf_local_to_utc(&paris, day + 2 * HOUR_MS - 1, 1, &out), VG_OK); /* 01:59:59.999 */
    CHECK_EQ_INT(out, at(2024, 10, 26, 23, 59, 59, 999));
    CHECK_PARSE("27/10/2024 02:30", "%d/%m/%Y %H:%M", &paris, 0, at(2024, 10, 27, 0, 30, 0, 0));
    CHECK_PARSE("27/10/2024 02:30", "%d/%m/%Y %H:%M", &paris, 1, at(2024, 10, 27, 1, 30, 0, 0));
    CHECK_PARSE("2024-10-27 03:00", "iso8601", &paris, 0, at(2024, 10, 27, 2, 0, 0, 0));
}

static void test_london_2024(void)
{
    CHECK_FAIL("2024-03-31T01:30", "iso8601", &london, VG_ERANGE);
    CHECK_FAIL("2024-03-31T01:00", "iso8601", &london, VG_ERANGE);
    CHECK_PARSE("2024-03-31T00:59:59.999", "iso8601", &london, 0, at(2024, 3, 31, 0, 59, 59, 999));
    CHECK_PARSE("2024-03-31T02:00", "iso8601", &london, 0, at(2024, 3, 31, 1, 0, 0, 0));
    CHECK_PARSE("2024-10-27T01:30", "iso8601", &london, 0, at(2024, 10, 27, 0, 30, 0, 0));
    CHECK_PARSE("2024-10-27T01:30", "iso8601", &london, 1, at(2024, 10, 27, 1, 30, 0, 0));
    CHECK_PARSE("2024-07-01T12:00", "iso8601", &london, 0, at(2024, 7, 1, 11, 0, 0, 0));
    CHECK_PARSE("2024-01-01T12:00", "iso8601", &london, 0, at(2024, 1, 1, 12, 0, 0, 0));
}

/* Property: every hour (and odd minute offsets) of 2023-2025, UTC -> local -> UTC, with `later`
** chosen from the offset; the other choice differs only inside the overlap. */
static void test_local_roundtrip(void)
{
    const struct tf_zone *zs[3] = {&paris, &london, &utc};
    int64_t t, end = at(2026, 1, 1, 0, 0, 0, 0), back;
    int i;

    for (i = 0; i < 3; i++) {
        const struct tf_zone *z = zs[i];
        int64_t std = z->std_offset_min * MIN_MS;
        for (t = at(2023, 1, 1, 0, 0, 0, 0); t < end; t += HOUR_MS + 7 * MIN_MS + 13) {
            int64_t off = tf_offset_at(z, t), other;
            int later = off == std;
            CHECK_EQ_INT(tf_local_to_utc(z, t + off, later, &back), VG_OK);
            CHECK_EQ_INT(back, t);
            CHECK_EQ_INT(tf_local_to_utc(z, t + off, !later, &other), VG_OK);
            CHECK(other == t || (z->eu_dst && (other - t == (later ? -HOUR_MS : HOUR_MS))));
        }
    }
}

static void test_patterns(void)
{
    CHECK_PARSE("31/03/2024 03:15", "%d/%m/%Y %H:%M", &paris, 0, at(2024, 3, 31, 1, 15, 0, 0));
    CHECK_FAIL("31/03/2024 02:15", "%d/%m/%Y %H:%M", &paris, VG_ERANGE);
    CHECK_PARSE("31/03/2024 02:15", "%d/%m/%Y %H:%M", &utc, 0, at(2024, 3, 31, 2, 15, 0, 0));
    /* an hour column appended to a date column: 24 is the next day's midnight */
    CHECK_PARSE("01/01/2018 24", "%d/%m/%Y %H", &paris, 0, at(2018, 1, 1, 23, 0, 0, 0));
    CHECK_PARSE("01/01/2018 24", "%d/%m/%Y %H", &utc, 0, at(2018, 1, 2, 0, 0, 0, 0));
    CHECK_PARSE("31/12/2018 24", "%d/%m/%Y %H", &utc, 0, at(2019, 1, 1, 0, 0, 0, 0));
    CHECK_PARSE("01/01/2018 1", "%d/%m/%Y %H", &utc, 0, at(2018, 1, 1, 1, 0, 0, 0));
    CHECK_FAIL("01/01/2018 25", "%d/%m/%Y %H", &utc, VG_EINVAL);
    CHECK_FAIL("01/01/2018 24:01", "%d/%m/%Y %H:%M", &utc, VG_EINVAL);
    CHECK_PARSE("01/01/2018", "%d/%m/%Y", &paris, 0, at(2017, 12, 31, 23, 0, 0, 0));
    /* single digits and runs of spaces */
    CHECK_PARSE("2021 1 1", "%Y %m %d", &utc, 0, at(2021, 1, 1, 0, 0, 0, 0));
    CHECK_PARSE("2021  12    31", "%Y %m %d", &utc, 0, at(2021, 12, 31, 0, 0, 0, 0));
    CHECK_PARSE("  2021 1 1\r\n", "%Y %m %d", &utc, 0, at(2021, 1, 1, 0, 0, 0, 0));
    CHECK_FAIL("20211 1", "%Y %m %d", &utc, VG_EINVAL);
    CHECK_FAIL("2021 1", "%Y %m %d", &utc, VG_EINVAL);
    CHECK_FAIL("2021 1 1 1", "%Y %m %d", &utc, VG_EINVAL);
    CHECK_FAIL("21 1 1", "%Y %m %d", &utc, VG_EINVAL);
    /* compact forms: greedy two-digit fields */
    CHECK_PARSE("20240306153007", "%Y%m%d%H%M%S", &utc, 0, at(2024, 3, 6, 15, 30, 7, 0));
    CHECK_PARSE("240306", "%y%m%d", &utc, 0, at(2024, 3, 6, 0, 0, 0, 0));
    CHECK_PARSE("700101", "%y%m%d", &utc, 0, 0);
    CHECK_PARSE("691231", "%y%m%d", &utc, 0, at(2069, 12, 31, 0, 0, 0, 0));
    /* fraction, literal percent, other literals */
    CHECK_PARSE("2024-01-01 00:00:01.2", "%Y-%m-%d %H:%M:%S.%f", &utc, 0,
                at(2024, 1, 1, 0, 0, 1, 200));
    CHECK_PARSE("2024-01-01 00:00:01.123987", "%Y-%m-%d %H:%M:%S.%f", &utc, 0,
                at(2024, 1, 1, 0, 0, 1, 123));
    CHECK_FAIL("2024-01-01 00:00:01.", "%Y-%m-%d %H:%M:%S.%f", &utc, VG_EINVAL);
    CHECK_PARSE("2024% 3", "%Y%% %m", &utc, 0, at(2024, 3, 1, 0, 0, 0, 0));
    CHECK_PARSE("D2024T", "D%YT", &utc, 0, at(2024, 1, 1, 0, 0, 0, 0));
    CHECK_FAIL("d2024T", "D%YT", &utc, VG_EINVAL);
    CHECK_PARSE("2024-12-31 23:59:60", "%Y-%m-%d %H:%M:%S", &utc, 0, at(2025, 1, 1, 0, 0, 0, 0));
    CHECK_FAIL("2024-12-31 23:59:61", "%Y-%m-%d %H:%M:%S", &utc, VG_EINVAL);
    CHECK_FAIL("2024-12-31 23:60", "%Y-%m-%d %H:%M", &utc, VG_EINVAL);
    /* unsupported or malformed patterns, no year */
    CHECK_FAIL("2024 060", "%Y %j", &utc, VG_EINVAL);
    CHECK_FAIL("2024%", "%Y%", &utc, VG_EINVAL);
    CHECK_FAIL("31/03", "%d/%m", &utc, VG_EINVAL);
    CHECK_FAIL("2024", "", &utc, VG_EINVAL);
}

static void test_iso8601(void)
{
    CHECK_PARSE("2021-09-01T03:00:00+02:00", "iso8601", &paris, 0, at(2021, 9, 1, 1, 0, 0, 0));
    CHECK_PARSE("2021-09-01T03:00:00+02:00", "iso8601", &utc, 0, at(2021, 9, 1, 1, 0, 0, 0));
    CHECK_PARSE("2024-01-04T22:00:00+01:00", "iso8601", &paris, 0, at(2024, 1, 4, 21, 0, 0, 0));
    CHECK_PARSE("2020-03-16T19:00:00.000Z", "iso8601", &paris, 0, at(2020, 3, 16, 19, 0, 0, 0));
    CHECK_PARSE("2024-03-06", "iso8601", &paris, 0, at(2024, 3, 5, 23, 0, 0, 0));
    CHECK_PARSE("2024-03-06", "iso8601", &london, 0, at(2024, 3, 6, 0, 0, 0, 0));
    CHECK_PARSE("2024-07-06", "iso8601", &paris, 0, at(2024, 7, 5, 22, 0, 0, 0));
    CHECK_PARSE("2024-01-04T22:00:00", "iso8601", &paris, 0, at(2024, 1, 4, 21, 0, 0, 0));
    CHECK_PARSE("2024-01-04t22:00z", "iso8601", &paris, 0, at(2024, 1, 4, 22, 0, 0, 0));
    CHECK_PARSE("2024-01-04 22:00:00Z", "iso8601", &paris, 0, at(2024, 1, 4, 22, 0, 0, 0));
    CHECK_PARSE("2024-01-04  22:00:00Z", "iso8601", &paris, 0, at(2024, 1, 4, 22, 0, 0, 0));
    CHECK_PARSE(" 2024-01-04T22:00:00Z ", "iso8601", &paris, 0, at(2024, 1, 4, 22, 0, 0, 0));
    CHECK_PARSE("2024-01-04T22:00:00.123456789Z", "iso8601", &utc, 0,
                at(2024, 1, 4, 22, 0, 0, 123));
    CHECK_PARSE("2024-01-04T22:00:00.9999Z", "iso8601", &utc, 0, at(2024, 1, 4, 22, 0, 0, 999));
    CHECK_PARSE("2024-01-04T22:00:00,5Z", "iso8601", &utc, 0, at(2024, 1, 4, 22, 0, 0, 500));
    CHECK_PARSE("2024-01-04T22:00:00.5", "iso8601", &paris, 0, at(2024, 1, 4, 21, 0, 0, 500));
    CHECK_PARSE("2024-01-04T22:00+0530", "iso8601", &utc, 0, at(2024, 1, 4, 16, 30, 0, 0));
    CHECK_PARSE("2024-01-04T22:00-03:00", "iso8601", &utc, 0, at(2024, 1, 5, 1, 0, 0, 0));
    CHECK_PARSE("2024-01-04T22:00-03", "iso8601", &utc, 0, at(2024, 1, 5, 1, 0, 0, 0));
    CHECK_PARSE("2024-01-04T22:00+18:00", "iso8601", &utc, 0, at(2024, 1, 4, 4, 0, 0, 0));
    CHECK_PARSE("2024-01-04T22:00-18:00", "iso8601", &utc, 0, at(2024, 1, 5, 16, 0, 0, 0));
    /* an explicit offset wins over the zone, even inside the zone's gap */
    CHECK_PARSE("2024-03-31T02:30:00+01:00", "iso8601", &paris, 0, at(2024, 3, 31, 1, 30, 0, 0));
    /* 24:00 and leap seconds */
    CHECK_PARSE("2024-02-29T24:00:00Z", "iso8601", &utc, 0, at(2024, 3, 1, 0, 0, 0, 0));
    CHECK_PARSE("2016-12-31T23:59:60Z", "iso8601", &utc, 0, at(2017, 1, 1, 0, 0, 0, 0));
    CHECK_PARSE("0001-01-01T00:00:00Z", "iso8601", &utc, 0, -62135596800000LL);
    CHECK_PARSE("9999-12-31T23:59:59.999Z", "iso8601", &utc, 0, 253402300799999LL);
    CHECK_FAIL("2024-01-04T24:00:01Z", "iso8601", &utc, VG_EINVAL);
    CHECK_FAIL("2024-01-04T24:00:00.001Z", "iso8601", &utc, VG_EINVAL);
    CHECK_FAIL("2024-01-04T25:00Z", "iso8601", &utc, VG_EINVAL);
    CHECK_FAIL("2024-01-04T22:60Z", "iso8601", &utc, VG_EINVAL);
    CHECK_FAIL("2024-01-04T22:00:61Z", "iso8601", &utc, VG_EINVAL);
    CHECK_FAIL("2024-01-04T22:00+18:01", "iso8601", &utc, VG_EINVAL);
    CHECK_FAIL("2024-01-04T22:00+19", "iso8601", &utc, VG_EINVAL);
    CHECK_FAIL("2024-01-04T22:00+01:60", "iso8601", &utc, VG_EINVAL);
    CHECK_FAIL("2024-01-04T22:00+1", "iso8601", &utc, VG_EINVAL);
    CHECK_FAIL("2024-01-04T22:00+01:", "iso8601", &utc, VG_EINVAL);
    CHECK_FAIL("2024-01-04T22:00:00.Z", "iso8601", &utc, VG_EINVAL);
    CHECK_FAIL("2024-01-04T22Z", "iso8601", &utc, VG_EINVAL);
    CHECK_FAIL("2024-01-04T", "iso8601", &utc, VG_EINVAL);
    CHECK_FAIL("2024-01-04Z", "iso8601", &utc, VG_EINVAL);
    CHECK_FAIL("2024-1-04", "iso8601", &utc, VG_EINVAL);
    CHECK_FAIL("24-01-04", "iso8601", &utc, VG_EINVAL);
    CHECK_FAIL("2024-01-04T22:00:00 Z", "iso8601", &utc, VG_EINVAL);
    CHECK_FAIL("2024-01-04X22:00", "iso8601", &utc, VG_EINVAL);
}

static void test_invalid(void)
{
    int64_t out = -42;

    CHECK_FAIL("30/02/2024", "%d/%m/%Y", &utc, VG_EINVAL);
    CHECK_FAIL("29/02/2023", "%d/%m/%Y", &utc, VG_EINVAL);
    CHECK_PARSE("29/02/2024", "%d/%m/%Y", &utc, 0, at(2024, 2, 29, 0, 0, 0, 0));
    CHECK_PARSE("2000-02-29", "iso8601", &utc, 0, at(2000, 2, 29, 0, 0, 0, 0));
    CHECK_FAIL("1900-02-29", "iso8601", &utc, VG_EINVAL);
    CHECK_FAIL("2024-04-31", "iso8601", &utc, VG_EINVAL);
    CHECK_FAIL("2024-13-01", "iso8601", &utc, VG_EINVAL);
    CHECK_FAIL("01/13/2024", "%d/%m/%Y", &utc, VG_EINVAL);
    CHECK_FAIL("00/12/2024", "%d/%m/%Y", &utc, VG_EINVAL);
    CHECK_FAIL("01/00/2024", "%d/%m/%Y", &utc, VG_EINVAL);
    CHECK_FAIL("2024-03-06x", "iso8601", &utc, VG_EINVAL);
    CHECK_FAIL("2024-03-06T10:00:00Zx", "iso8601", &utc, VG_EINVAL);
    CHECK_FAIL("01/01/2024 10:00 extra", "%d/%m/%Y %H:%M", &utc, VG_EINVAL);
    CHECK_FAIL("", "iso8601", &utc, VG_EINVAL);
    CHECK_FAIL("   ", "iso8601", &utc, VG_EINVAL);
    CHECK_FAIL("", "%Y", &utc, VG_EINVAL);
    CHECK_FAIL("", "epoch_s", &utc, VG_EINVAL);
    CHECK_FAIL(" ", "excel", &utc, VG_EINVAL);
    /* a NUL inside the text is just a non-matching byte; n bounds the read */
    CHECK_EQ_INT(tf_parse("2024-03-06\0", 11, "iso8601", &utc, 0, &out), VG_EINVAL);
    CHECK_EQ_INT(tf_parse("2024-03-06T10:00Zjunk", 17, "iso8601", &utc, 0, &out), VG_OK);
    CHECK_EQ_INT(out, at(2024, 3, 6, 10, 0, 0, 0));
    out = -42;
    CHECK_EQ_INT(tf_parse(NULL, 0, "iso8601", &utc, 0, &out), VG_EINVAL);
    CHECK_EQ_INT(tf_parse("2024", 4, NULL, &utc, 0, &out), VG_EINVAL);
    CHECK_EQ_INT(tf_parse("2024", 4, "%Y", NULL, 0, &out), VG_EINVAL);
    CHECK_EQ_INT(tf_parse("2024", 4, "%Y", &utc, 0, NULL), VG_EINVAL);
    CHECK_EQ_INT(out, -42);
}

static void test_excel(void)
{
    int64_t s0331 = clock_days_from_civil(2024, 3, 31) + 25569;
    char buf[64];

    CHECK_PARSE("40609", "excel", &utc, 0, at(2011, 3, 7, 0, 0, 0, 0));
    CHECK_PARSE("40609", "excel", &paris, 0, at(2011, 3, 6, 23, 0, 0, 0));
    CHECK_PARSE("45292.5", "excel", &paris, 0, at(2024, 1, 1, 11, 0, 0, 0));
    CHECK_PARSE("45292.5", "excel", &utc, 0, at(2024, 1, 1, 12, 0, 0, 0));
    CHECK_PARSE("45292.0416666666666667", "excel", &utc, 0, at(2024, 1, 1, 1, 0, 0, 0));
    CHECK_PARSE("45292.041666666", "excel", &utc, 0, at(2024, 1, 1, 1, 0, 0, 0));
    CHECK_PARSE("45292.99999999999", "excel", &utc, 0, at(2024, 1, 2, 0, 0, 0, 0));
    CHECK_PARSE("45292.00000000579", "excel", &utc, 0, at(2024, 1, 1, 0, 0, 0, 1)); /* 0.5003 ms */
    CHECK_PARSE("25569", "excel", &utc, 0, 0);
    CHECK_PARSE("0", "excel", &utc, 0, at(1899, 12, 30, 0, 0, 0, 0));
    CHECK_PARSE("2958465.5", "excel", &utc, 0, at(9999, 12, 31, 12, 0, 0, 0));
    snprintf(buf, sizeof(buf), "%lld.0833333333", (long long)s0331);
    CHECK_FAIL(buf, "excel", &paris, VG_ERANGE); /* 02:00 local: the gap */
    snprintf(buf, sizeof(buf), "%lld.125", (long long)s0331);
    CHECK_PARSE(buf, "excel", &paris, 0, at(2024, 3, 31, 1, 0, 0, 0));
    CHECK_FAIL("2958466", "excel", &utc, VG_EINVAL);
    CHECK_FAIL("99999999999999999999", "excel", &utc, VG_EINVAL);
    CHECK_FAIL("-1", "excel", &utc, VG_EINVAL);
    CHECK_FAIL("1e5", "excel", &utc, VG_EINVAL);
    CHECK_FAIL("45292.", "excel", &utc, VG_EINVAL);
    CHECK_FAIL(".5", "excel", &utc, VG_EINVAL);
    CHECK_FAIL("45292,5", "excel", &utc, VG_EINVAL);
}

static void test_epoch(void)
{
    CHECK_PARSE("1700000000", "epoch_s", &paris, 0, 1700000000000LL);
    CHECK_PARSE("1700000000.5", "epoch_s", &paris, 0, 1700000000500LL);
    CHECK_PARSE("1700000000.123999", "epoch_s", &utc, 0, 1700000000123LL);
    CHECK_PARSE(" +1700000000 ", "epoch_s", &utc, 0, 1700000000000LL);
    CHECK_PARSE("-1.5", "epoch_s", &utc, 0, -1500);
    CHECK_PARSE("0", "epoch_s", &utc, 0, 0);
    CHECK_PARSE("1700000000123", "epoch_ms", &paris, 0, 1700000000123LL);
    CHECK_PARSE("1700000000123.9", "epoch_ms", &utc, 0, 1700000000123LL);
    CHECK_PARSE("-5", "epoch_ms", &utc, 0, -5);
    CHECK_PARSE("9223372036854775807", "epoch_ms", &utc, 0, INT64_MAX);
    CHECK_PARSE("9223372036854775.807", "epoch_s", &utc, 0, INT64_MAX);
    CHECK_FAIL("9223372036854775808", "epoch_ms", &utc, VG_EINVAL);
    CHECK_FAIL("9223372036854776", "epoch_s", &utc, VG_EINVAL);
    CHECK_FAIL("9223372036854775.808", "epoch_s", &utc, VG_EINVAL);
    CHECK_FAIL("99999999999999999999999", "epoch_s", &utc, VG_EINVAL);
    CHECK_FAIL("17x", "epoch_s", &utc, VG_EINVAL);
    CHECK_FAIL("1.", "epoch_s", &utc, VG_EINVAL);
    CHECK_FAIL(".5", "epoch_s", &utc, VG_EINVAL);
    CHECK_FAIL("-", "epoch_s", &utc, VG_EINVAL);
    CHECK_FAIL("1 2", "epoch_ms", &utc, VG_EINVAL);
    CHECK_FAIL("1e3", "epoch_ms", &utc, VG_EINVAL);
    CHECK_FAIL("--1", "epoch_ms", &utc, VG_EINVAL);
}

int main(void)
{
    TEST_BEGIN("timefmt_test");
    if (tf_zone_find("Europe/Paris", &paris) || tf_zone_find("Europe/London", &london) ||
        tf_zone_find("UTC", &utc)) {
        printf("FAIL timefmt_test zones\n");
        return 1;
    }
    TEST_RUN(test_civil_roundtrip);
    TEST_RUN(test_zone_find);
    TEST_RUN(test_unknown_zone);
    TEST_RUN(test_offset_at);
    TEST_RUN(test_paris_dst_2024);
    TEST_RUN(test_london_2024);
    TEST_RUN(test_local_roundtrip);
    TEST_RUN(test_patterns);
    TEST_RUN(test_iso8601);
    TEST_RUN(test_invalid);
    TEST_RUN(test_excel);
    TEST_RUN(test_epoch);
    return TEST_END();
}
