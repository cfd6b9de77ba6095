/*
** fuzz/fuzz_chunk.c: libFuzzer target for the chunk codec (store/chunk.c).
** The first input byte picks a mode:
**   0: the rest is a chunk as read from disk: chunk_info + chunk_decode must not crash and must
**      return VG_OK / VG_ECORRUPT / VG_ETOOBIG only.
**   1: the same, after forcing a plausible header (magic, version, type, n <= MAXN, body length
**      = input size) and a correct CRC, so the fuzzer reaches the column decoders.
**   2: the rest describes a series (type, timestamp deltas, value bytes): encode, decode and
**      check the round trip bit for bit.
** Format constants (magic 0xC5, version 1, 28-byte header) come from docs/format/chunk.md.
*/
#include "core/buf.h"
#include "core/crc32c.h"
#include "store/chunk.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAXN 2048

static int64_t g_ts[MAXN];
static union vg_val g_v[MAXN];
static int64_t g_ts2[MAXN];
static union vg_val g_v2[MAXN];

static void check_decode(const uint8_t *p, size_t len)
{
    struct chunk_info ci;
    uint32_t n = 0;
    int rc = chunk_info(p, len, &ci);
    if (rc != VG_OK && rc != VG_ECORRUPT)
        abort();
    if (rc == VG_OK && (ci.len > len || ci.n == 0))
        abort();
    rc = chunk_decode(p, len, g_ts, g_v, MAXN, &n);
    if (rc != VG_OK && rc != VG_ECORRUPT && rc != VG_ETOOBIG)
        abort();
    if (rc == VG_OK) {
        if (n != ci.n || g_ts[0] != ci.min_ts || g_ts[n - 1] != ci.max_ts)
            abort();
        for (uint32_t i = 1; i < n; i++)
            if (g_ts[i] <= g_ts[i - 1])
                abort();
        for (uint32_t i = 0; i < n && ci.vt == VT_STR; i++) {
            const uint8_t *s = (const uint8_t *)g_v[i].s.p;
            if (g_v[i].s.len && (s < p || s + g_v[i].s.len > p + ci.len))
                abort();
        }
    }
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void mode_fixed_crc(const uint8_t *data, size_t size)
{
    if (size < 32)
        return;
    uint8_t *p = malloc(size);
    memcpy(p, data, size);
    uint32_t n = (uint32_t)p[4] | (uint32_t)p[5] << 8;
    p[0] = 0xC5;
    p[1] = 1;
    p[2] = (uint8_t)(1 + p[2] % 5);
    p[3] = 0;
    put32(p + 4, 1 + n % MAXN);
    put32(p + 24, (uint32_t)(size - 32));
    put32(p + size - 4, crc32c(0, p, size - 4));
    check_decode(p, size);
    free(p);
}

static uint64_t take(const uint8_t **d, size_t *left, unsigned nbytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < nbytes && *left; i++, (*d)++, (*left)--)
        v |= (uint64_t)**d << (8 * i);
    return v;
}

static void mode_roundtrip(const uint8_t *d, size_t left)
{
    static const char *const words[] = {"", "a", "open", "closed", "state-42", "x\0y"};
    if (left < 2)
        return;
    enum vg_vtype vt = (enum vg_vtype)(1 + take(&d, &left, 1) % 5);
    unsigned wide = (unsigned)take(&d, &left, 1);
    uint32_t n = 0;
    int64_t t = (int64_t)take(&d, &left, 8);
    while (left && n < MAXN) {
        uint64_t delta = 1 + take(&d, &left, (wide & 1) ? 4 : 1);
        if (t > INT64_MAX - (int64_t)delta)
            break;
        g_ts[n] = t;
        t += (int64_t)delta;
        switch (vt) {
        case VT_F64: {
            uint64_t u = take(&d, &left, 8);
            if (wide & 2) /* few-decimal values */
                g_v[n].f = (double)(int64_t)(int16_t)u / 10.0;
            else
                memcpy(&g_v[n].f, &u, 8);
            break;
        }
        case VT_I64: g_v[n].i = (int64_t)take(&d, &left, (wide & 2) ? 1 : 8); break;
        case VT_BOOL: g_v[n].i = (int64_t)(take(&d, &left, 1) & 1); break;
        case VT_STR: {
            unsigned w = (unsigned)(take(&d, &left, 1) % 6);
            g_v[n].s.p = words[w];
            g_v[n].s.len = (uint32_t)(w == 5 ? 3 : strlen(words[w]));
            break;
        }
        default: {
            uint64_t a = take(&d, &left, 4), b = take(&d, &left, 4);
            g_v[n].geo.lat = (double)(int32_t)a / 1e6;
            g_v[n].geo.lon = (wide & 2) ? (double)(int32_t)b / 1e7 : (double)b * 1e-3 / 7;
            break;
        }
        }
        n++;
    }
    if (n == 0)
        return;
    struct buf b;
    uint32_t m = 0;
    buf_init(&b, 0);
    if (chunk_encode(vt, g_ts, g_v, n, &b) != VG_OK)
        abort();
    if (chunk_decode(b.p, b.len, g_ts2, g_v2, MAXN, &m) != VG_OK || m != n)
        abort();
    for (uint32_t i = 0; i < n; i++) {
        if (g_ts[i] != g_ts2[i])
            abort();
        int same;
        switch (vt) {
        case VT_F64: same = !memcmp(&g_v[i].f, &g_v2[i].f, 8); break;
        case VT_STR:
            same = g_v[i].s.len == g_v2[i].s.len &&
                   !memcmp(g_v[i].s.p, g_v2[i].s.p, g_v[i].s.len);
            break;
        case VT_GEO: same = !memcmp(&g_v[i].geo, &g_v2[i].geo, 16); break;
        default: same = g_v[i].i == g_v2[i].i; break;
        }
        if (!same)
            abort();
    }
    buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0: check_decode(data + 1, size - 1); break;
    case 1: mode_fixed_crc(data + 1, size - 1); break;
    default: mode_roundtrip(data + 1, size - 1); break;
    }
    return 0;
}
