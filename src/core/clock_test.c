/*
** core/clock_test.c: clock_parse_duration (every unit, bare seconds, fractions, bounds, junk).
** RFC 3339 parsing and formatting are tested in buf_test.c.
*/
#include "core/clock.h"
#include "core/test.h"
#include "core/vg.h"

#include <stdlib.h>
#include <time.h>

static int64_t dur(const char *s)
{
    int64_t ms = -42;
    return clock_parse_duration(s, &ms) == VG_OK ? ms : -1;
}

static void duration_units(void)
{
    CHECK_EQ_INT(dur("500ms"), 500);
    CHECK_EQ_INT(dur("30s"), 30000);
    CHECK_EQ_INT(dur("90"), 90000); /* bare number: seconds */
    CHECK_EQ_INT(dur("15m"), 900000);
    CHECK_EQ_INT(dur("15min"), 900000);
    CHECK_EQ_INT(dur("2h"), 7200000);
    CHECK_EQ_INT(dur("1d"), 86400000);
    CHECK_EQ_INT(dur("1w"), 604800000);
    CHECK_EQ_INT(dur("1.5h"), 5400000);
    CHECK_EQ_INT(dur("0.5ms"), 0); /* truncated to whole ms */
    CHECK_EQ_INT(dur("0"), 0);
    CHECK_EQ_INT(dur("1e3s"), 1000000);
}

static void duration_rejects(void)
{
    const char *bad[] = {"", "s", "h1", "1x", "1hh", "1 h", "1H", "-1s", "-0.5h", "nan", "inf",
                         "1e400s", "2e10w", "1e16ms", "5mins", "1h30m"};
    for (size_t i = 0; i < VG_ARRAY_LEN(bad); i++) {
        int64_t ms = -42;
        CHECK(clock_parse_duration(bad[i], &ms) == VG_EINVAL);
        CHECK_EQ_INT(ms, -42); /* unchanged on failure */
    }
    int64_t ms = -42;
    CHECK(clock_parse_duration(NULL, &ms) == VG_EINVAL && ms == -42);
    CHECK_EQ_INT(dur("1e15ms"), 1000000000000000ll); /* the upper bound is included */
}

static void floor_div_and_local_offset(void)
{
    CHECK(clock_floor_div(7, 2) == 3);
    CHECK(clock_floor_div(-7, 2) == -4);
    CHECK(clock_floor_div(-8, 2) == -4);
    CHECK(clock_floor_div(0, 5) == 0);
    setenv("TZ", "Europe/Paris", 1);
    tzset();
    /* CET in January, CEST in July; the spring change at 01:00 UTC on 29 March 2026 */
    CHECK(clock_local_offset_ms(1768478400000LL) == 3600000);  /* 2026-01-15T12:00Z */
    CHECK(clock_local_offset_ms(1784116800000LL) == 7200000);  /* 2026-07-15T12:00Z */
    CHECK(clock_local_offset_ms(1774745999000LL) == 3600000);  /* 2026-03-29T00:59:59Z */
    CHECK(clock_local_offset_ms(1774746000000LL) == 7200000);  /* 2026-03-29T01:00:00Z */
    CHECK(clock_local_offset_ms(1LL << 60) == 0);              /* out of range */
    setenv("TZ", "UTC", 1);
    tzset();
    CHECK(clock_local_offset_ms(1784116800000LL) == 0);
}

int main(void)
{
    TEST_BEGIN("clock");
    TEST_RUN(duration_units);
    TEST_RUN(duration_rejects);
    TEST_RUN(floor_div_and_local_offset);
    return TEST_END();
}
