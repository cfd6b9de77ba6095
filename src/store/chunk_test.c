/*
** store/chunk_test.c: property tests of the column codec (seeded PRNG, every value type),
** corruption detection (every bit flip, every truncation) and argument checks.
*/
#include "core/buf.h"
#include "core/crc32c.h"
#include "core/test.h"
#include "store/chunk.h"

#include <math.h>
#include <stdint.h>

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

static double rnd_unit(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

static double bitsd(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* Sizes: mostly small, sometimes up to 5000. */
static uint32_t rnd_size(void)
{
    switch (rnd_below(4)) {
    case 0: return 1 + (uint32_t)rnd_below(8);
    case 1: return 1 + (uint32_t)rnd_below(300);
    case 2: return 1 + (uint32_t)rnd_below(1500);
    default: return 1 + (uint32_t)rnd_below(5000);
    }
}

/* Strictly increasing timestamps of several shapes. */
static void gen_ts(int64_t *ts, uint32_t n)
{
    int kind = (int)rnd_below(6);
    int64_t t = (int64_t)rnd_below(4000000000000ull) - 1000000000000ll;
    int64_t step = 1 + (int64_t)rnd_below(120000);
    if (kind == 5) { /* pinned near the extremes of int64 */
        t = rnd_below(2) ? INT64_MIN + (int64_t)rnd_below(10) : INT64_MAX - 20000000 * (int64_t)n;
    }
    for (uint32_t i = 0; i < n; i++) {
        ts[i] = t;
        int64_t d;
        switch (kind) {
        case 0: d = step; break;                                                /* regular */
        case 1: d = step + (int64_t)rnd_below(7) - 3; break;                    /* jitter */
        case 2: d = 1 + (int64_t)rnd_below(1000000); break;                     /* random */
        case 3: d = rnd_below(50) ? 60000 : 1 + (int64_t)rnd_below(1ull << 40); break; /* years */
        case 4: d = 1; break;
        default: d = 1 + (int64_t)rnd_below(20000000); break;
        }
        if (d < 1)
            d = 1;
        t += d;
    }
    if (kind == 5 && n > 1 && rnd_below(2) && ts[0] == INT64_MIN) {
        /* One huge jump across the whole int64 range. */
        ts[n - 1] = INT64_MAX;
        if (n > 2 && ts[n - 2] >= INT64_MAX)
            ts[n - 2] = INT64_MAX - 1;
    }
}

static double special(void)
{
    static const uint64_t bits[] = {
        0x7FF8000000000000ull, /* qNaN */
        0xFFF8000000000000ull, /* -qNaN */
        0x7FF0000000000001ull, /* sNaN payload 1 */
        0x7FF4DEADBEEF0001ull, /* NaN payload */
        0x7FF0000000000000ull, /* +Inf */
        0xFFF0000000000000ull, /* -Inf */
        0x8000000000000000ull, /* -0.0 */
        0x0000000000000001ull, /* smallest denormal */
        0x800FFFFFFFFFFFFFull, /* largest negative denormal */
        0x7FEFFFFFFFFFFFFFull, /* DBL_MAX */
    };
    return bitsd(bits[rnd_below(VG_ARRAY_LEN(bits))]);
}

static void gen_f64(union vg_val *v, uint32_t n, double (*get)(void), int kind)
{
    int d = (int)rnd_below(8);
    double scale = pow(10.0, d);
    double x = round((rnd_unit() * 200 - 100) * scale);
    for (uint32_t i = 0; i < n; i++) {
        double y;
        switch (kind) {
        case 0: /* decimal random walk */
            x += (double)((int64_t)rnd_below(21) - 10);
            y = x / scale;
            break;
        case 1: y = 42.0; break;
        case 2: y = bitsd(rnd()); break; /* arbitrary bits (NaNs included) */
        case 3: y = rnd_below(4) ? (double)(int64_t)rnd_below(300) : special(); break;
        case 4: /* decimals, then one value forcing the fallback */
            x += (double)((int64_t)rnd_below(5) - 2);
            y = (i == n / 2) ? special() : x / scale;
            break;
        case 5: y = rnd_unit() * 1e6; break;
        case 6: y = (double)(int64_t)(rnd() >> 8) * (rnd_below(2) ? 1 : -1); break; /* > 2^53 */
        default: y = get(); break;
        }
        v[i].f = y;
    }
}

struct series {
    int64_t *ts;
    union vg_val *v;
    char *strpool;
    uint32_t n;
};

static void series_alloc(struct series *s, uint32_t n)
{
    s->ts = calloc(n, sizeof(*s->ts));
    s->v = calloc(n, sizeof(*s->v));
    s->strpool = calloc((size_t)n * 24 + 64, 1);
    s->n = n;
}

static void series_free(struct series *s)
{
    free(s->ts);
    free(s->v);
    free(s->strpool);
}

static void gen_values(struct series *s, enum vg_vtype vt)
{
    uint32_t n = s->n;
    int kind = (int)rnd_below(8);
    switch (vt) {
    case VT_F64:
        gen_f64(s->v, n, special, kind);
        break;
    case VT_I64:
        for (uint32_t i = 0; i < n; i++) {
            int64_t x;
            switch (kind % 4) {
            case 0: x = (int64_t)rnd(); break;
            case 1: x = rnd_below(2) ? INT64_MIN : INT64_MAX; break;
            case 2: x = (i ? s->v[i - 1].i : 0) + (int64_t)rnd_below(7) - 3; break;
            default: x = (int64_t)i * 1000 + (rnd_below(100) ? 0 : INT64_MIN); break;
            }
            s->v[i].i = x;
        }
        break;
    case VT_BOOL:
        for (uint32_t i = 0; i < n; i++)
            s->v[i].i = kind % 2 ? (int64_t)rnd_below(2)
                                 : (i ? (s->v[i - 1].i ^ (rnd_below(40) == 0)) : 1);
        break;
    case VT_STR: {
        uint32_t ndist = 1 + (uint32_t)rnd_below(kind % 2 ? n : 6);
        char *pool = s->strpool;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t k = (uint32_t)rnd_below(ndist);
            int len = snprintf(pool, 24, "%s%u", k % 3 ? "state-" : "", k);
            if (k == 0)
                len = 0; /* the empty string */
            s->v[i].s.p = pool;
            s->v[i].s.len = (uint32_t)len;
            pool += 24;
        }
        break;
    }
    case VT_GEO: {
        double lat = 48.8566 + rnd_unit(), lon = 2.3522 + rnd_unit();
        lat = round(lat * 1e6) / 1e6;
        lon = round(lon * 1e6) / 1e6;
        for (uint32_t i = 0; i < n; i++) {
            if (kind % 3 == 0) {
                s->v[i].geo.lat = rnd_unit() * 180 - 90;
                s->v[i].geo.lon = rnd_below(10) ? rnd_unit() * 360 - 180 : special();
            } else {
                double f = kind % 3 == 1 ? 1e6 : 1e7;
                s->v[i].geo.lat = round((lat + (double)i * 1e-5) * f) / f;
                s->v[i].geo.lon = round((lon - (double)i * 3e-6) * f) / f;
            }
        }
        break;
    }
    default:
        break;
    }
}

static int same_val(enum vg_vtype vt, const union vg_val *a, const union vg_val *b)
{
    switch (vt) {
    case VT_F64: return dbits(a->f) == dbits(b->f);
    case VT_I64:
    case VT_BOOL: return a->i == b->i;
    case VT_STR:
        return a->s.len == b->s.len && (a->s.len == 0 || !memcmp(a->s.p, b->s.p, a->s.len));
    case VT_GEO:
        return dbits(a->geo.lat) == dbits(b->geo.lat) && dbits(a->geo.lon) == dbits(b->geo.lon);
    default: return 0;
    }
}

/* Encode, check the info fields, decode, compare bit for bit. Returns the chunk length. */
static size_t roundtrip(enum vg_vtype vt, const struct series *s)
{
    struct buf b;
    struct chunk_info ci;
    buf_init(&b, 0);
    int rc = chunk_encode(vt, s->ts, s->v, s->n, &b);
    CHECK_EQ_INT(rc, VG_OK);
    if (rc)
        return 0;
    rc = chunk_info(b.p, b.len, &ci);
    CHECK_EQ_INT(rc, VG_OK);
    CHECK_EQ_INT(ci.vt, vt);
    CHECK_EQ_INT(ci.n, s->n);
    CHECK(ci.min_ts == s->ts[0]);
    CHECK(ci.max_ts == s->ts[s->n - 1]);
    CHECK_EQ_INT(ci.len, b.len);
    int64_t *ts = calloc(s->n, sizeof(*ts));
    union vg_val *v = calloc(s->n, sizeof(*v));
    uint32_t n = 0;
    rc = chunk_decode(b.p, b.len, ts, v, s->n, &n);
    CHECK_EQ_INT(rc, VG_OK);
    CHECK_EQ_INT(n, s->n);
    uint32_t bad = 0;
    for (uint32_t i = 0; i < s->n && !rc; i++) {
        if (ts[i] != s->ts[i] || !same_val(vt, &v[i], &s->v[i]))
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    size_t len = b.len;
    free(ts);
    free(v);
    buf_release(&b);
    return len;
}

static void prop_type(enum vg_vtype vt, int iters)
{
    for (int it = 0; it < iters; it++) {
        struct series s;
        series_alloc(&s, rnd_size());
        gen_ts(s.ts, s.n);
        gen_values(&s, vt);
        roundtrip(vt, &s);
        series_free(&s);
    }
}

static void test_prop_f64(void) { prop_type(VT_F64, 1500); }
static void test_prop_i64(void) { prop_type(VT_I64, 800); }
static void test_prop_bool(void) { prop_type(VT_BOOL, 800); }
static void test_prop_str(void) { prop_type(VT_STR, 800); }
static void test_prop_geo(void) { prop_type(VT_GEO, 800); }

/* Every value class on its own and at the boundaries of the block size. */
static void test_edges(void)
{
    static const uint32_t sizes[] = {1, 2, 3, 127, 128, 129, 130, 256, 257, 1000};
    for (size_t k = 0; k < VG_ARRAY_LEN(sizes); k++) {
        struct series s;
        series_alloc(&s, sizes[k]);
        for (uint32_t i = 0; i < s.n; i++) {
            s.ts[i] = -5000000 + (int64_t)i * 10000;
            s.v[i].f = special();
        }
        roundtrip(VT_F64, &s);
        for (uint32_t i = 0; i < s.n; i++)
            s.v[i].f = -0.0;
        roundtrip(VT_F64, &s);
        for (uint32_t i = 0; i < s.n; i++)
            s.v[i].i = i % 2 ? INT64_MIN : INT64_MAX;
        roundtrip(VT_I64, &s);
        for (uint32_t i = 0; i < s.n; i++)
            s.ts[i] = INT64_MIN + (int64_t)i;
        s.ts[s.n - 1] = INT64_MAX;
        roundtrip(VT_I64, &s);
        series_free(&s);
    }
}

static void fill_noise(struct series *s, int64_t t0)
{
    double x = 600;
    for (uint32_t i = 0; i < s->n; i++) {
        s->ts[i] = t0 + (int64_t)i * 60000;
        x += (double)((int64_t)rnd_below(11) - 5);
        if (x < 550)
            x = 550;
        if (x > 650)
            x = 650;
        s->v[i].f = x / 10;
    }
}

/* The common cases must be compact: regular timestamps ~free, 1-decimal noise < 1 byte. */
static void test_compact(void)
{
    struct series s;
    series_alloc(&s, 1440);
    fill_noise(&s, 1700000000000);
    size_t len = roundtrip(VT_F64, &s);
    CHECK(len > 0 && len < 1440 * 6 / 10);
    for (uint32_t i = 0; i < s.n; i++)
        s.v[i].f = 21.5;
    len = roundtrip(VT_F64, &s);
    CHECK(len > 0 && len < 64);
    for (uint32_t i = 0; i < s.n; i++)
        s.v[i].i = i % 2;
    len = roundtrip(VT_BOOL, &s);
    CHECK(len > 0 && len < 32 + 2 + 1440 / 8 + 4);
    for (uint32_t i = 0; i < s.n; i++)
        s.v[i].i = i < 700;
    len = roundtrip(VT_BOOL, &s);
    CHECK(len > 0 && len < 48);
    for (uint32_t i = 0; i < s.n; i++) {
        s.v[i].s.p = i % 3 ? "open" : "closed";
        s.v[i].s.len = i % 3 ? 4 : 6;
    }
    len = roundtrip(VT_STR, &s);
    CHECK(len > 0 && len < 32 + 20 + 1440 / 8 + 4);
    series_free(&s);
}

/* White-box: the value-column tag picked for known inputs (body byte 1 after a regular ts tag;
** the tags are documented in docs/format/chunk.md). */
static int f64_tag(const union vg_val *v, uint32_t n)
{
    int64_t *ts = calloc(n, sizeof(*ts));
    struct buf b;
    int tag = -1;
    buf_init(&b, 0);
    for (uint32_t i = 0; i < n; i++)
        ts[i] = (int64_t)i * 1000;
    if (chunk_encode(VT_F64, ts, v, n, &b) == VG_OK && b.len > 30 && b.p[28] == 0)
        tag = (uint8_t)b.p[29];
    buf_release(&b);
    free(ts);
    return tag;
}

static void test_paths(void)
{
    union vg_val v[300];
    for (int d = 0; d <= 6; d++) {
        /* k / 10^d with k % 10 != 0 somewhere: no smaller scale fits. */
        for (uint32_t i = 0; i < 300; i++)
            v[i].f = (double)(int64_t)(rnd_below(2000) * 10 + (i == 7)) / pow(10, d);
        CHECK_EQ_INT(f64_tag(v, 300), d);
    }
    for (uint32_t i = 0; i < 300; i++)
        v[i].f = 1e-7 * (double)i; /* 7 decimals: beyond the F64 scales */
    CHECK_EQ_INT(f64_tag(v, 300), 0x10);
    for (uint32_t i = 0; i < 300; i++)
        v[i].f = (double)(float)(20.0 + 0.013 * (double)i);
    CHECK_EQ_INT(f64_tag(v, 300), 0x10);
    for (uint32_t i = 0; i < 300; i++)
        v[i].f = i % 3 ? 1.5 : -0.0; /* -0.0 forces XOR even though the rest is decimal */
    CHECK_EQ_INT(f64_tag(v, 300), 0x10);
    for (uint32_t i = 0; i < 300; i++)
        v[i].f = bitsd(rnd());
    CHECK_EQ_INT(f64_tag(v, 300), 0x11);
    for (uint32_t i = 0; i < 300; i++)
        v[i].f = 1e300 * (double)(i % 2); /* too large for the decimal path */
    CHECK_EQ_INT(f64_tag(v, 300), 0x10);
}

static void test_errors(void)
{
    int64_t ts[4] = {10, 20, 30, 40};
    union vg_val v[4] = {{.f = 1}, {.f = 2}, {.f = 3}, {.f = 4}};
    struct buf b;
    buf_init(&b, 0);
    CHECK_EQ_INT(chunk_encode(VT_F64, ts, v, 0, &b), VG_EINVAL);
    CHECK_EQ_INT(chunk_encode(VT_NONE, ts, v, 4, &b), VG_EINVAL);
    CHECK_EQ_INT(chunk_encode((enum vg_vtype)9, ts, v, 4, &b), VG_EINVAL);
    CHECK_EQ_INT(chunk_encode(VT_F64, ts, v, CHUNK_MAX_POINTS + 1, &b), VG_EINVAL);
    ts[2] = 20; /* duplicate */
    CHECK_EQ_INT(chunk_encode(VT_F64, ts, v, 4, &b), VG_EINVAL);
    ts[2] = 15; /* unsorted */
    CHECK_EQ_INT(chunk_encode(VT_I64, ts, v, 4, &b), VG_EINVAL);
    ts[2] = 30;
    v[0].i = 2; /* a bool must be 0 or 1 */
    CHECK_EQ_INT(chunk_encode(VT_BOOL, ts, v, 4, &b), VG_EINVAL);
    CHECK_EQ_INT(b.len, 0);
    v[0].f = 1;

    /* cap too small: ETOOBIG and out unchanged, at every cap below the needed size. */
    struct buf full;
    buf_init(&full, 0);
    REQUIRE(chunk_encode(VT_F64, ts, v, 4, &full) == VG_OK);
    for (size_t cap = 3; cap < 3 + full.len; cap++) {
        struct buf small;
        buf_init(&small, cap);
        REQUIRE(buf_append(&small, "abc", 3) == VG_OK);
        CHECK_EQ_INT(chunk_encode(VT_F64, ts, v, 4, &small), VG_ETOOBIG);
        CHECK(small.len == 3 && memcmp(small.p, "abc", 3) == 0);
        buf_release(&small);
    }
    struct buf exact;
    buf_init(&exact, full.len);
    CHECK_EQ_INT(chunk_encode(VT_F64, ts, v, 4, &exact), VG_OK);
    CHECK(exact.len == full.len && !memcmp(exact.p, full.p, full.len));
    buf_release(&exact);

    /* decode with a short array */
    int64_t ots[4];
    union vg_val ov[4];
    uint32_t n = 99;
    CHECK_EQ_INT(chunk_decode(full.p, full.len, ots, ov, 3, &n), VG_ETOOBIG);
    CHECK_EQ_INT(n, 99);
    CHECK_EQ_INT(chunk_decode(full.p, full.len, ots, ov, 4, &n), VG_OK);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(chunk_info(NULL, 0, &(struct chunk_info){0}), VG_ECORRUPT);
    buf_release(&full);
    buf_release(&b);
}

/* Two chunks back to back: info reports each length, decode ignores what follows. */
static void test_concat(void)
{
    struct series s;
    series_alloc(&s, 200);
    fill_noise(&s, -86400000);
    struct buf b;
    buf_init(&b, 0);
    REQUIRE(chunk_encode(VT_F64, s.ts, s.v, 100, &b) == VG_OK);
    size_t first = b.len;
    REQUIRE(chunk_encode(VT_F64, s.ts + 100, s.v + 100, 100, &b) == VG_OK);
    struct chunk_info ci;
    REQUIRE(chunk_info(b.p, b.len, &ci) == VG_OK);
    CHECK_EQ_INT(ci.len, first);
    REQUIRE(chunk_info(b.p + first, b.len - first, &ci) == VG_OK);
    CHECK_EQ_INT(ci.len, b.len - first);
    CHECK(ci.min_ts == s.ts[100]);
    int64_t ts[100];
    union vg_val v[100];
    uint32_t n;
    REQUIRE(chunk_decode(b.p, b.len, ts, v, 100, &n) == VG_OK);
    CHECK(n == 100 && ts[99] == s.ts[99] && dbits(v[99].f) == dbits(s.v[99].f));
    buf_release(&b);
    series_free(&s);
}

/* One chunk of each type and encoding path, used by the corruption tests. */
static void corruption_samples(struct buf *out, size_t *offs, size_t *nout)
{
    static const enum vg_vtype types[] = {VT_F64, VT_F64, VT_F64, VT_I64, VT_BOOL, VT_BOOL,
                                          VT_STR, VT_GEO, VT_GEO};
    size_t k = 0;
    for (size_t t = 0; t < VG_ARRAY_LEN(types); t++) {
        struct series s;
        series_alloc(&s, 150 + (uint32_t)t);
        gen_ts(s.ts, s.n);
        if (t % 2)
            for (uint32_t i = 1; i < s.n; i++)
                s.ts[i] = s.ts[0] + (int64_t)i * 1000 + (int64_t)(i * i % 7);
        gen_values(&s, types[t]);
        if (t == 0)
            fill_noise(&s, 0);
        if (t == 1)
            for (uint32_t i = 0; i < s.n; i++)
                s.v[i].f = bitsd(rnd());
        if (t == 4)
            for (uint32_t i = 0; i < s.n; i++)
                s.v[i].i = (i / 10) % 2;
        offs[k++] = out->len;
        VG_ASSERT(chunk_encode(types[t], s.ts, s.v, s.n, out) == VG_OK);
        series_free(&s);
    }
    offs[k] = out->len;
    *nout = k;
}

static void test_bitflips(void)
{
    struct buf b;
    size_t offs[16], nc;
    buf_init(&b, 0);
    corruption_samples(&b, offs, &nc);
    int64_t *ts = calloc(200, sizeof(*ts));
    union vg_val *v = calloc(200, sizeof(*v));
    size_t missed = 0, tried = 0;
    for (size_t c = 0; c < nc; c++) {
        size_t len = offs[c + 1] - offs[c];
        uint8_t *p = malloc(len);
        memcpy(p, b.p + offs[c], len);
        for (size_t bit = 0; bit < len * 8; bit++) {
            struct chunk_info ci;
            uint32_t n;
            p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            /* A flip in the length field may make the chunk claim fewer bytes: still caught. */
            if (chunk_info(p, len, &ci) != VG_ECORRUPT)
                missed++;
            if (chunk_decode(p, len, ts, v, 200, &n) != VG_ECORRUPT)
                missed++;
            p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            tried++;
        }
        uint32_t n;
        CHECK_EQ_INT(chunk_decode(p, len, ts, v, 200, &n), VG_OK);
        /* every truncation */
        for (size_t l = 0; l < len; l++) {
            struct chunk_info ci;
            uint8_t *q = malloc(l ? l : 1);
            memcpy(q, p, l);
            if (chunk_info(q, l, &ci) != VG_ECORRUPT)
                missed++;
            if (chunk_decode(q, l, ts, v, 200, &n) != VG_ECORRUPT)
                missed++;
            free(q);
        }
        free(p);
    }
    CHECK(tried > 10000);
    CHECK_EQ_INT(missed, 0);
    free(ts);
    free(v);
    buf_release(&b);
}

/* Mutations with a recomputed CRC reach the column decoders: they must fail cleanly or decode
** n points, never crash (ASan/UBSan builds check the "never crash" part). */
static void test_mutations_valid_crc(void)
{
    struct buf b;
    size_t offs[16], nc;
    buf_init(&b, 0);
    corruption_samples(&b, offs, &nc);
    int64_t *ts = calloc(200, sizeof(*ts));
    union vg_val *v = calloc(200, sizeof(*v));
    size_t corrupt = 0, ok = 0;
    for (size_t c = 0; c < nc; c++) {
        size_t len = offs[c + 1] - offs[c];
        uint8_t *p = malloc(len);
        for (int it = 0; it < 3000; it++) {
            memcpy(p, b.p + offs[c], len);
            int nmut = 1 + (int)rnd_below(4);
            for (int m = 0; m < nmut; m++) {
                size_t at = 28 + rnd_below(len - 32); /* body bytes only */
                p[at] = rnd_below(2) ? (uint8_t)rnd() : (uint8_t)(p[at] ^ (1u << rnd_below(8)));
            }
            uint32_t crc = crc32c(0, p, len - 4);
            memcpy(p + len - 4, &crc, 4); /* little-endian host assumed in this test */
            uint32_t n = 0;
            int rc = chunk_decode(p, len, ts, v, 200, &n);
            if (rc == VG_OK) {
                ok++;
                CHECK(n == 150 + c);
                for (uint32_t i = 1; i < n; i++)
                    CHECK(ts[i] > ts[i - 1]);
            } else {
                CHECK_EQ_INT(rc, VG_ECORRUPT);
                corrupt++;
            }
        }
        free(p);
    }
    CHECK(corrupt > 0);
    free(ts);
    free(v);
    buf_release(&b);
}

static void test_vtype_name(void)
{
    CHECK(!strcmp(vg_vtype_name(VT_F64), "float"));
    CHECK(!strcmp(vg_vtype_name(VT_I64), "int"));
    CHECK(!strcmp(vg_vtype_name(VT_BOOL), "bool"));
    CHECK(!strcmp(vg_vtype_name(VT_STR), "string"));
    CHECK(!strcmp(vg_vtype_name(VT_GEO), "geo"));
    CHECK(vg_vtype_name((enum vg_vtype)77) != NULL);
}

int main(void)
{
    TEST_BEGIN("chunk");
    TEST_RUN(test_vtype_name);
    TEST_RUN(test_errors);
    TEST_RUN(test_edges);
    TEST_RUN(test_compact);
    TEST_RUN(test_paths);
    TEST_RUN(test_concat);
    TEST_RUN(test_prop_f64);
    TEST_RUN(test_prop_i64);
    TEST_RUN(test_prop_bool);
    TEST_RUN(test_prop_str);
    TEST_RUN(test_prop_geo);
    TEST_RUN(test_bitflips);
    TEST_RUN(test_mutations_valid_crc);
    return TEST_END();
}
