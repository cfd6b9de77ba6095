/*
** fuzz/fuzz_timefmt.c: libFuzzer target for the date-time parser (core/timefmt.c).
** Input: the first byte picks one of the fixed patterns below; if it is past the table, the rest
** up to the first NUL is the pattern (at most 63 bytes) and what follows is the text.
** Each text is parsed in UTC and in Europe/Paris, first and later occurrence, and the results
** must agree: UTC never fails with VG_ERANGE, Paris succeeds only where UTC does and differs
** from it by 0, 1 or 2 hours, `later` moves a result by 0 or +1 hour. Every success is
** formatted back (a local formatter, checked against clock_format_rfc3339) and must parse to
** the same instant as "...Z", as "+hh:mm" and as Paris local time with the matching `later`.
** Owns: a copy of the text in an exact-size heap buffer (so ASan sees any overread).
*/
#include "core/clock.h"
#include "core/timefmt.h"
#include "core/vg.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL

static const char *const fixed[] = {
    "iso8601",         "epoch_s",          "epoch_ms",          "excel",
    "%d/%m/%Y %H:%M",  "%Y %m %d",         "%d/%m/%Y %H",       "%Y-%m-%dT%H:%M:%S.%f",
    "%y%m%d%H%M%S",    "%d.%m.%Y %H:%M:%S", "%Y%%%m %d T%H",    "%m/%d/%y %H:%M",
};
#define NFIXED (sizeof(fixed) / sizeof(fixed[0]))

/* "YYYY-MM-DDTHH:MM:SS.mmm" + suffix of the wall time ms (years 0..9999 only). */
static int fmt(int64_t ms, const char *suffix, char *out, size_t cap)
{
    int64_t days = ms / DAY_MS, rem, y;
    unsigned m, d;
    int n;

    if (ms < -62167219200000LL || ms > 253402300799999LL) /* 0000-01-01 .. 9999-12-31 */
        return -1;
    if (ms % DAY_MS < 0)
        days--;
    rem = ms - days * DAY_MS;
    clock_civil_from_days(days, &y, &m, &d);
    n = snprintf(out, cap, "%04lld-%02u-%02uT%02d:%02d:%02d.%03d%s", (long long)y, m, d,
                 (int)(rem / HOUR_MS), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
                 (int)(rem % 1000), suffix);
    return n > 0 && (size_t)n < cap ? n : -1;
}

static int parse_str(const char *s, const char *pat, const struct tf_zone *z, int later,
                     int64_t *ms)
{
    return tf_parse(s, strlen(s), pat, z, later, ms);
}

static void check_roundtrip(int64_t ms, const struct tf_zone *paris, const struct tf_zone *utc)
{
    char a[64], b[64];
    int64_t back = 0, off;
    int n;

    if (fmt(ms, "Z", a, sizeof(a)) < 0)
        return;
    if (parse_str(a, "iso8601", utc, 0, &back) || back != ms)
        abort();
    if (parse_str(a, "iso8601", paris, 1, &back) || back != ms)
        abort();
    if (ms >= 0) { /* clock.c formats through gmtime_r: compare where it is certainly defined */
        n = clock_format_rfc3339(ms, b, sizeof(b));
        if (n != 24 || strcmp(a, b) != 0)
            abort();
    }
    /* Paris wall time, with and without its offset */
    off = tf_offset_at(paris, ms);
    if (off != HOUR_MS && off != 2 * HOUR_MS)
        abort();
    if (fmt(ms + off, off == HOUR_MS ? "+01:00" : "+0200", a, sizeof(a)) < 0)
        return;
    if (parse_str(a, "iso8601", utc, 0, &back) || back != ms)
        abort();
    if (fmt(ms + off, "", a, sizeof(a)) < 0)
        return;
    if (parse_str(a, "iso8601", paris, off == HOUR_MS, &back) || back != ms)
        abort();
    if (parse_str(a, "iso8601", utc, 0, &back) || back != ms + off)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tf_zone paris, utc;
    char pat[64];
    const char *pattern;
    const uint8_t *text;
    char *buf;
    size_t tlen;
    int64_t r_utc = 0, r_p0 = 0, r_p1 = 0, d;
    int rc_utc, rc_p0, rc_p1, zone_dependent;

    if (size == 0 || tf_zone_find("Europe/Paris", &paris) || tf_zone_find("UTC", &utc))
        return 0;
    if (data[0] < NFIXED) {
        pattern = fixed[data[0]];
        text = data + 1;
        tlen = size - 1;
    } else {
        const uint8_t *nul = memchr(data + 1, 0, size - 1);
        size_t plen;
        if (!nul)
            return 0;
        plen = (size_t)(nul - (data + 1));
        if (plen >= sizeof(pat))
            return 0;
        memcpy(pat, data + 1, plen);
        pat[plen] = '\0';
        pattern = pat;
        text = nul + 1;
        tlen = size - (size_t)(text - data);
    }
    buf = malloc(tlen ? tlen : 1);
    if (!buf)
        return 0;
    if (tlen)
        memcpy(buf, text, tlen);

    rc_utc = tf_parse(buf, tlen, pattern, &utc, 0, &r_utc);
    rc_p0 = tf_parse(buf, tlen, pattern, &paris, 0, &r_p0);
    rc_p1 = tf_parse(buf, tlen, pattern, &paris, 1, &r_p1);
    if (rc_utc != VG_OK && rc_utc != VG_EINVAL)
        abort();
    if (rc_p0 != rc_p1)
        abort();
    if (rc_p0 != VG_OK && rc_p0 != VG_EINVAL && rc_p0 != VG_ERANGE)
        abort();
    if (rc_utc == VG_EINVAL && rc_p0 != VG_EINVAL) /* a text matches or not, whatever the zone */
        abort();
    if (rc_utc == VG_OK && rc_p0 == VG_EINVAL)
        abort();
    if (rc_p0 == VG_OK) {
        d = r_p1 - r_p0;
        if (d != 0 && d != HOUR_MS)
            abort();
        d = r_utc - r_p0;
        if (d != 0 && d != HOUR_MS && d != 2 * HOUR_MS)
            abort();
        zone_dependent = d != 0 || r_p1 != r_p0;
        if (zone_dependent && (!strcmp(pattern, "epoch_s") || !strcmp(pattern, "epoch_ms")))
            abort();
        /* Paris local time of the result is the UTC reading of the same text */
        if (d != 0 && r_p0 + tf_offset_at(&paris, r_p0) != r_utc)
            abort();
        if (r_p1 != r_p0 && r_p1 + tf_offset_at(&paris, r_p1) != r_utc)
            abort();
        check_roundtrip(r_p0, &paris, &utc);
        check_roundtrip(r_p1, &paris, &utc);
    }
    if (rc_utc == VG_OK)
        check_roundtrip(r_utc, &paris, &utc);
    free(buf);
    return 0;
}
