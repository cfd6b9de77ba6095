/*
** core/timefmt.h: parsing the date-time texts of data files into UTC milliseconds, in a named
** pattern and a time zone, and the civil-time arithmetic it needs (proleptic Gregorian).
** Zones: "UTC" and the European zones under the EU summer-time rule (last Sunday of March
** 01:00 UTC to last Sunday of October 01:00 UTC, since 1996): Europe/Paris, Europe/Madrid,
** Europe/Berlin, Europe/Brussels, Europe/Amsterdam, Europe/Rome, Europe/Luxembourg (CET/CEST,
** +1/+2), Europe/Lisbon, Europe/London, Europe/Dublin (WET/WEST, 0/+1). No tz database is read:
** the result is the same on every machine.
** Fixed offsets: "UTC+hh:mm" / "UTC-hh:mm" (no summer time).
** Owns: nothing. Thread: reentrant.
*/
#ifndef VG_CORE_TIMEFMT_H
#define VG_CORE_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* A zone: its standard offset and whether the EU rule applies. */
struct tf_zone {
    int32_t std_offset_min;
    int eu_dst;
};
/* 0 and *z for a known zone name (case-sensitive, as above), VG_EINVAL otherwise. */
int tf_zone_find(const char *name, struct tf_zone *z);

/* UTC offset (ms) of zone z at the instant utc_ms. */
int64_t tf_offset_at(const struct tf_zone *z, int64_t utc_ms);

/* Local wall time (ms since 1970-01-01T00:00 local) -> UTC ms. In the spring gap (a local time
** that does not exist) VG_ERANGE; in the autumn overlap (a local time that exists twice) the
** first occurrence (summer time) unless later != 0. */
int tf_local_to_utc(const struct tf_zone *z, int64_t local_ms, int later, int64_t *utc_ms);

/* Civil dates: clock_days_from_civil / clock_civil_from_days (core/clock.h). */

/* Parse s[0..n) with pattern into UTC ms.
** pattern:
**   "iso8601"    RFC 3339 / ISO 8601: YYYY-MM-DD, optionally [T or space]hh:mm[:ss[.frac]] and
**                Z or +hh:mm / -hh:mm / +hhmm; without an offset the zone applies
**   "epoch_s", "epoch_ms"  integer (or decimal) seconds / milliseconds since 1970 (UTC)
**   "excel"      days since 1899-12-30 (spreadsheet serial), decimal part = time of day, in zone
**   otherwise a strftime-like pattern: %Y (4 digits), %y (2 digits, 1970-2069), %m, %d (1 or 2
**                digits), %H (0-24; 24:00 = next day 00:00), %M, %S, %f (fraction digits), %j
**                not supported, %% a percent; a space matches one or more spaces; any other
**                character matches itself. The whole text must be consumed (after trimming
**                spaces). Interpreted in zone.
** Returns 0 and *utc_ms, VG_EINVAL if the text does not match (or a field is out of range, e.g.
** month 13, 30 February), VG_ERANGE for a local time in the spring gap. later: see
** tf_local_to_utc. */
int tf_parse(const char *s, size_t n, const char *pattern, const struct tf_zone *z, int later,
             int64_t *utc_ms);

#endif
