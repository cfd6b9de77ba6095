/*
** fuzz/fuzz_csv.c: libFuzzer target for the CSV reader and the UTF-8 conversion (ingest/csv.c).
** The first byte picks the delimiter (, ; \t |); the rest is read to the end and every record
** checked: fields inside the input or the scratch and within CSV_MAX_FIELD, raw inside the
** input and not ending on a line end, lineno non-decreasing and after the previous record's
** lines, the reader always making progress and ending exactly at the end. Then the whole input
** is converted from WINDOWS-1252 and from UTF-8 (result NUL-terminated, valid UTF-8 on success,
** bad_offset inside the input on failure).
** Owns: a copy of the input in an exact-size heap buffer (so ASan sees any overread).
*/
#include "ingest/csv.h"

#include "core/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct csv c;

static int inside(const char *p, size_t n, const char *lo, size_t len)
{
    if (n == 0)
        return 1; /* an empty span may point anywhere valid */
    return (uintptr_t)p >= (uintptr_t)lo && (uintptr_t)p + n <= (uintptr_t)lo + len;
}

static void check_conv(const char *buf, size_t size, const char *enc)
{
    char *out = NULL;
    size_t olen = 0, bad = 0;
    int rc = csv_to_utf8(buf, size, enc, &out, &olen, &bad);
    if (rc == 0) {
        if (!out || out[olen] != '\0' || !utf8_valid((const unsigned char *)out, olen))
            abort();
        if (!strcmp(enc, "UTF-8") && (olen != size || memcmp(out, buf, size)))
            abort();
        free(out);
    } else if (rc != -4 /* VG_EINVAL */ || out || bad >= size + 1) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char seps[] = {',', ';', '\t', '|'};
    char sep = size ? seps[data[0] % 4] : ',';
    size_t len = size ? size - 1 : 0;
    char *buf = malloc(len ? len : 1);
    uint64_t last_line = 0, next_min = 1;
    const char *prev = NULL;
    int rc;

    if (!buf)
        return 0;
    if (len)
        memcpy(buf, data + 1, len);
    csv_init(&c, buf, len, sep);
    while ((rc = csv_next(&c)) != 0) {
        if (rc != 1 && rc != -1)
            abort();
        if (c.p == prev || c.p > c.end || c.p < buf) /* progress */
            abort();
        prev = c.p;
        if (c.lineno < last_line || c.lineno < next_min)
            abort();
        last_line = c.lineno;
        next_min = c.next_line;
        if (c.next_line <= c.lineno && c.p != c.end)
            abort();
        if (c.raw_len == 0 || !inside(c.raw, c.raw_len, buf, len))
            abort();
        if (c.raw[c.raw_len - 1] == '\n' || c.raw[c.raw_len - 1] == '\r' || c.raw[0] == '\n' ||
            c.raw[0] == '\r')
            abort();
        if (c.raw + c.raw_len > c.p)
            abort();
        if (c.nf > CSV_MAX_FIELDS || (rc == 1 && c.nf == 0))
            abort();
        if (c.used > c.cap)
            abort();
        for (uint32_t i = 0; i < c.nf; i++) {
            if (c.fl[i] > CSV_MAX_FIELD)
                abort();
            if (!inside(c.f[i], c.fl[i], buf, len) && !inside(c.f[i], c.fl[i], c.scratch, c.used))
                abort();
            /* An unquoted field (pointing into the input) never holds the delimiter outside
            ** the raw record's quotes: at least, it lies within the record. */
            if (rc == 1 && inside(c.f[i], c.fl[i], buf, len) &&
                !inside(c.f[i], c.fl[i], c.raw, c.raw_len))
                abort();
        }
    }
    if (c.p != c.end || csv_next(&c) != 0)
        abort();
    csv_release(&c);

    check_conv(buf, len, "WINDOWS-1252");
    check_conv(buf, len, "UTF-8");
    free(buf);
    return 0;
}
