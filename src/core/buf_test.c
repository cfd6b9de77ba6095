/*
** core/buf_test.c: bounded buffer, JSON string escaping and double formatting (round trip),
** RFC 3339 parsing.
*/
#include "core/buf.h"
#include "core/clock.h"
#include "core/test.h"

#include <math.h>
#include <stdint.h>

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void cap_is_hard(void)
{
    struct buf b;
    buf_init(&b, 10);
    CHECK(buf_append(&b, "0123456789", 10) == VG_OK);
    CHECK(buf_putc(&b, 'x') == VG_ETOOBIG);
    CHECK(b.len == 10 && memcmp(b.p, "0123456789", 10) == 0);
    CHECK(buf_printf(&b, "%d", 1) == VG_ETOOBIG);
    buf_release(&b);
}

static void json_str_escapes(void)
{
    struct buf b;
    buf_init(&b, 0);
    buf_json_str(&b, "a\xff\xfe" "b\xe2\x82", 6); /* invalid UTF-8 becomes U+FFFD */
    CHECK(strcmp(b.p, "\"a\\ufffd\\ufffdb\\ufffd\\ufffd\"") == 0);
    buf_reset(&b);
    buf_json_str(&b, "a\"b\\c\nd\x01" "e\xc3\xa9", 11);
    CHECK(strcmp(b.p, "\"a\\\"b\\\\c\\nd\\u0001e\xc3\xa9\"") == 0);
    buf_reset(&b);
    buf_json_str(&b, "", 0);
    CHECK(strcmp(b.p, "\"\"") == 0);
    buf_release(&b);
}

static void check_roundtrip(double v)
{
    struct buf b;
    buf_init(&b, 0);
    buf_json_double(&b, v);
    double back = strtod(b.p, NULL);
    if (memcmp(&back, &v, sizeof(v)) != 0) {
        printf("  %.17g printed as %s\n", v, b.p);
        CHECK(0);
    }
    buf_release(&b);
}

static void json_double_round_trips(void)
{
    struct buf b;
    buf_init(&b, 0);
    buf_json_double(&b, 63.4);
    CHECK(strcmp(b.p, "63.4") == 0);
    buf_reset(&b);
    buf_json_double(&b, -0.05);
    CHECK(strcmp(b.p, "-0.05") == 0);
    buf_reset(&b);
    buf_json_double(&b, 1200);
    CHECK(strcmp(b.p, "1200") == 0);
    buf_reset(&b);
    buf_json_double(&b, NAN);
    CHECK(strcmp(b.p, "null") == 0);
    buf_release(&b);
    double specials[] = {0.0, -0.0, 1e-300, 5e-324, 1.7976931348623157e308, 0.1, 0.3, 1e15,
                         9e14, 123456.789, 2.5e-7, -3.14159265358979};
    for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++)
        check_roundtrip(specials[i]);
    for (int i = 0; i < 200000; i++) {
        uint64_t r = next();
        double v;
        if (i % 4 == 1) { /* log-uniform in the exact-digits range, and averages */
            v = pow(10, -5 + (double)(r % 20000000) / 1e6) * ((r >> 40) & 1 ? -1 : 1);
        } else if (i % 4 == 3) {
            double sum = 0;
            int k = 2 + (int)(r % 59);
            for (int j = 0; j < k; j++)
                sum += (double)(next() % 1000) / 10;
            v = sum / k;
        } else if (i % 2) {
            memcpy(&v, &r, 8);
            if (!isfinite(v))
                continue;
        } else {
            int d = (int)(r % 7);
            v = (double)((int64_t)(next() % 2000000) - 1000000) / pow(10, d);
        }
        check_roundtrip(v);
    }
}

static void rfc3339(void)
{
    int64_t ms;
    CHECK(clock_parse_time("2024-01-04T22:00:00+01:00", 25, &ms) == 0 && ms == 1704402000000);
    CHECK(clock_parse_time("2024-01-04T21:00:00.5Z", 22, &ms) == 0 && ms == 1704402000500);
    CHECK(clock_parse_time("1700000000000", 13, &ms) == 0 && ms == 1700000000000);
    CHECK(clock_parse_time("2024-13-01", 10, &ms) == VG_EINVAL);
    CHECK(clock_parse_time("yesterday", 9, &ms) == VG_EINVAL);
    CHECK(clock_parse_time("9999999999999999999", 19, &ms) == VG_EINVAL);
    CHECK(clock_parse_time("-9223372036854775807", 20, &ms) == 0 && ms == -9223372036854775807);
    CHECK(clock_parse_time("2024-02-31", 10, &ms) == VG_EINVAL);
    CHECK(clock_parse_time("2024-02-29", 10, &ms) == 0);
    CHECK(clock_parse_time("2023-02-29", 10, &ms) == VG_EINVAL);
    CHECK(clock_parse_time("2024-01-01T24:59:00Z", 20, &ms) == VG_EINVAL);
    CHECK(clock_parse_time("2024-01-01T10:00:00+99:99", 25, &ms) == VG_EINVAL);
    CHECK(clock_parse_time("2024-01-01T10:00:00+01:", 23, &ms) == VG_EINVAL);
    char out[40];
    clock_format_rfc3339(1704402000500, out, sizeof(out));
    CHECK(strcmp(out, "2024-01-04T21:00:00.500Z") == 0);
}

int main(void)
{
    TEST_BEGIN("buf");
    TEST_RUN(cap_is_hard);
    TEST_RUN(json_str_escapes);
    TEST_RUN(json_double_round_trips);
    TEST_RUN(rfc3339);
    return TEST_END();
}
