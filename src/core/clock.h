/*
** core/clock.h: wall-clock and monotonic time, and RFC 3339 parse/format.
** Owns: nothing. All timestamps in Vigie are int64 milliseconds since the Unix epoch (UTC).
*/
#ifndef VG_CLOCK_H
#define VG_CLOCK_H

#include <stddef.h>
#include <stdint.h>

int64_t clock_now_ms(void);   /* wall clock, ms since epoch */
int64_t clock_mono_ns(void);  /* monotonic, ns */
/* Parse RFC 3339 ("2024-01-04T22:00:00+01:00", fraction optional, 'Z' or offset) or a plain
** integer of epoch milliseconds. Returns 0 and sets *ms, or VG_EINVAL. */
int clock_parse_time(const char *s, size_t n, int64_t *ms);
/* Parse a duration into ms: a non-negative number followed by "ms", "s", "m" or "min", "h",
** "d" or "w"; a bare number is seconds ("90", "30s", "15m", "2h", "1d", "500ms", "1.5h").
** Returns 0 and sets *ms (truncated to whole ms, at most 1e15), or VG_EINVAL (*ms unchanged). */
int clock_parse_duration(const char *s, int64_t *ms);
/* Format ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (>= 25 bytes). Returns length. */
int clock_format_rfc3339(int64_t ms, char *out, size_t cap);
/* Floor division (rounds toward minus infinity; b > 0). */
int64_t clock_floor_div(int64_t a, int64_t b);
/* UTC offset (ms) of the process's local time zone (TZ, set once at start before any thread)
** at the instant utc_ms; 0 when utc_ms is beyond localtime_r's range. Night windows and hours of
** the week of the alert engine follow it across summer-time changes. */
int64_t clock_local_offset_ms(int64_t utc_ms);
/* Days from civil date (proleptic Gregorian), for converting without timegm/locale. */
int64_t clock_days_from_civil(int64_t y, unsigned m, unsigned d);
/* Inverse of clock_days_from_civil (proleptic Gregorian, m 1..12, d 1..31). */
void clock_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

#endif
