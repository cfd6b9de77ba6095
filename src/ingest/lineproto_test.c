/*
** ingest/lineproto_test.c: unit tests of the line protocol parser (ingest/lineproto.c).
** Tables of valid and invalid lines, a mixed multi-line body, a random round trip through a
** test-local escaper, float parsing checked bit for bit against strtod, precision helpers.
** Owns: nothing beyond its local buffers.
*/
#include "ingest/lineproto.h"

#include "core/test.h"
#include "core/vg.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct lp_parser g_ps; /* large (scratch): keep off the stack */
static struct lp_line g_ln;
static char g_err[256];

/* xorshift64*: deterministic so failures reproduce */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
}
static uint32_t rndn(uint32_t n)
{
    return (uint32_t)(rnd() % n);
}

static int span_eq(const char *p, uint32_t n, const char *s)
{
    return n == strlen(s) && memcmp(p, s, n) == 0;
}

/* Parse exactly one line (plus comments/blank lines) from s[0..n). */
static int parse1(const char *s, size_t n)
{
    lp_init(&g_ps, s, n);
    return lp_next(&g_ps, &g_ln, g_err, sizeof(g_err));
}

static int same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof(a)) == 0;
}

/* ---- valid lines ---- */

struct exp_field {
    const char *k;
    enum vg_vtype vt;
    double f;
    int64_t i; /* VT_I64 and VT_BOOL */
    const char *s;
};

struct valid_case {
    const char *in;
    const char *meas;
    const char *tags[6][2];
    uint32_t ntags;
    struct exp_field fields[5];
    uint32_t nfields;
    int has_ts;
    int64_t ts;
};

#define F_(k, v) {k, VT_F64, v, 0, NULL}
#define I_(k, v) {k, VT_I64, 0, v, NULL}
#define B_(k, v) {k, VT_BOOL, 0, v, NULL}
#define S_(k, v) {k, VT_STR, 0, 0, v}

static const struct valid_case valid_cases[] = {
    {"m f=1", "m", {{0}}, 0, {F_("f", 1.0)}, 1, 0, 0},
    {"m f=1.5 123", "m", {{0}}, 0, {F_("f", 1.5)}, 1, 1, 123},
    {"m f=-3.2e-5", "m", {{0}}, 0, {F_("f", -3.2e-5)}, 1, 0, 0},
    {"m f=1.", "m", {{0}}, 0, {F_("f", 1.0)}, 1, 0, 0},
    {"m f=.5", "m", {{0}}, 0, {F_("f", 0.5)}, 1, 0, 0},
    {"m f=-.5", "m", {{0}}, 0, {F_("f", -0.5)}, 1, 0, 0},
    {"m f=1E3,g=1e+3,h=25e-1", "m", {{0}}, 0, {F_("f", 1e3), F_("g", 1e3), F_("h", 2.5)}, 3, 0, 0},
    {"m f=007.50", "m", {{0}}, 0, {F_("f", 7.5)}, 1, 0, 0},
    {"m f=1e300,g=1e-300,h=4.9e-324", "m", {{0}}, 0,
     {F_("f", 1e300), F_("g", 1e-300), F_("h", 4.9e-324)}, 3, 0, 0},
    {"m f=3.14159265358979323846264338327950288", "m", {{0}}, 0,
     {F_("f", 3.14159265358979323846264338327950288)}, 1, 0, 0},
    {"m f=12e30,g=9007199254740993", "m", {{0}}, 0,
     {F_("f", 12e30), F_("g", 9007199254740993.0)}, 2, 0, 0},
    {"m f=1i,g=-9223372036854775808i,h=9223372036854775807i", "m", {{0}}, 0,
     {I_("f", 1), I_("g", INT64_MIN), I_("h", INT64_MAX)}, 3, 0, 0},
    {"m f=0u,g=9223372036854775807u,h=-0i", "m", {{0}}, 0,
     {I_("f", 0), I_("g", INT64_MAX), I_("h", 0)}, 3, 0, 0},
    {"m a=t,b=T,c=true,d=True,e=TRUE", "m", {{0}}, 0,
     {B_("a", 1), B_("b", 1), B_("c", 1), B_("d", 1), B_("e", 1)}, 5, 0, 0},
    {"m a=f,b=F,c=false,d=False,e=FALSE", "m", {{0}}, 0,
     {B_("a", 0), B_("b", 0), B_("c", 0), B_("d", 0), B_("e", 0)}, 5, 0, 0},
    {"m s=\"hello, world = yes\" 5", "m", {{0}}, 0, {S_("s", "hello, world = yes")}, 1, 1, 5},
    {"m s=\"a\\\"b\\\\c\\d\\,\"", "m", {{0}}, 0, {S_("s", "a\"b\\c\\d\\,")}, 1, 0, 0},
    {"m s=\"\",t=\"x\"", "m", {{0}}, 0, {S_("s", ""), S_("t", "x")}, 2, 0, 0},
    {"m s=\"tab\there #not a comment\"", "m", {{0}}, 0, {S_("s", "tab\there #not a comment")}, 1,
     0, 0},
    {"my\\ meas\\,x f=1", "my meas,x", {{0}}, 0, {F_("f", 1)}, 1, 0, 0},
    {"a\\=b\\c f=1", "a\\=b\\c", {{0}}, 0, {F_("f", 1)}, 1, 0, 0},
    {"a=b f=1", "a=b", {{0}}, 0, {F_("f", 1)}, 1, 0, 0},
    {"m,k\\ ey=v\\,a\\=l\\ ue f=1", "m", {{"k ey", "v,a=l ue"}}, 1, {F_("f", 1)}, 1, 0, 0},
    {"m f\\,i\\=e\\ ld=1", "m", {{0}}, 0, {F_("f,i=e ld", 1)}, 1, 0, 0},
    {"m,t=a\\b,u=x\\\\ y f=1", "m", {{"t", "a\\b"}, {"u", "x\\ y"}}, 2, {F_("f", 1)}, 1, 0, 0},
    {"m,t=a\\\\,u f=1", "m", {{"t", "a\\,u"}}, 1, {F_("f", 1)}, 1, 0, 0},
    {"mesure,ville=Zürich température=21.5", "mesure", {{"ville", "Zürich"}}, 1,
     {F_("température", 21.5)}, 1, 0, 0},
    {"温度,地点=東京 値=1i 7", "温度", {{"地点", "東京"}}, 1, {I_("値", 1)}, 1, 1, 7},
    {"m,z=1,a=2,m=3 f=1", "m", {{"z", "1"}, {"a", "2"}, {"m", "3"}}, 3, {F_("f", 1)}, 1, 0, 0},
    {"m f=1 10\r", "m", {{0}}, 0, {F_("f", 1)}, 1, 1, 10},
    {"m,t=a   f=1   10  ", "m", {{"t", "a"}}, 1, {F_("f", 1)}, 1, 1, 10},
    {"  \tm f=1", "m", {{0}}, 0, {F_("f", 1)}, 1, 0, 0},
    {"m f=1\t10\t", "m", {{0}}, 0, {F_("f", 1)}, 1, 1, 10},
    {"m f=\"x\" ", "m", {{0}}, 0, {S_("f", "x")}, 1, 0, 0},
    {"m a=1,b=2i,c=\"x\",d=t 5", "m", {{0}}, 0,
     {F_("a", 1), I_("b", 2), S_("c", "x"), B_("d", 1)}, 4, 1, 5},
    {"m a=1,b=2,a=3i", "m", {{0}}, 0, {I_("a", 3), F_("b", 2)}, 2, 0, 0},
    {"m f=1 -5", "m", {{0}}, 0, {F_("f", 1)}, 1, 1, -5},
    {"m f=1 -9223372036854775808", "m", {{0}}, 0, {F_("f", 1)}, 1, 1, INT64_MIN},
    {"m f=1 0009223372036854775807", "m", {{0}}, 0, {F_("f", 1)}, 1, 1, INT64_MAX},
    {"noise,id=nation-07,kind=noise,district=75012 laeq=63.4 1700000000000000000", "noise",
     {{"id", "nation-07"}, {"kind", "noise"}, {"district", "75012"}}, 3, {F_("laeq", 63.4)}, 1, 1,
     1700000000000000000ll},
    {"m f\"q=\"v\"", "m", {{0}}, 0, {S_("f\"q", "v")}, 1, 0, 0},
    {"# comment first\n\n  \nm f=2", "m", {{0}}, 0, {F_("f", 2)}, 1, 0, 0},
};

static void check_valid(const struct valid_case *vc)
{
    uint32_t i;
    int rc = parse1(vc->in, strlen(vc->in));
    if (rc != 1)
        printf("  line '%s': rc %d err '%s'\n", vc->in, rc, g_err);
    REQUIRE(rc == 1);
    CHECK(span_eq(g_ln.meas, g_ln.mlen, vc->meas));
    CHECK_EQ_INT(g_ln.ntags, vc->ntags);
    for (i = 0; i < vc->ntags && i < g_ln.ntags; i++) {
        CHECK(span_eq(g_ln.tags[i].key, g_ln.tags[i].klen, vc->tags[i][0]));
        CHECK(span_eq(g_ln.tags[i].val, g_ln.tags[i].vlen, vc->tags[i][1]));
    }
    if (vc->nfields == 0) /* case written for the tag side only */
        return;
    CHECK_EQ_INT(g_ln.nfields, vc->nfields);
    for (i = 0; i < vc->nfields && i < g_ln.nfields; i++) {
        const struct exp_field *e = &vc->fields[i];
        const struct lp_field *f = &g_ln.fields[i];
        CHECK(span_eq(f->key, f->klen, e->k));
        CHECK_EQ_INT(f->vt, e->vt);
        if (e->vt == VT_F64)
            CHECK(same_double(f->v.f, e->f));
        else if (e->vt == VT_STR)
            CHECK(span_eq(f->v.s.p, f->v.s.len, e->s));
        else
            CHECK_EQ_INT(f->v.i, e->i);
    }
    CHECK_EQ_INT(g_ln.has_ts, vc->has_ts);
    if (vc->has_ts)
        CHECK_EQ_INT(g_ln.ts, vc->ts);
    CHECK_EQ_INT(lp_next(&g_ps, &g_ln, g_err, sizeof(g_err)), 0);
}

static void test_valid_lines(void)
{
    size_t i;
    int before = test_failed_checks;
    for (i = 0; i < VG_ARRAY_LEN(valid_cases); i++) {
        check_valid(&valid_cases[i]);
        if (test_failed_checks != before) {
            printf("  in valid case %zu: %s\n", i, valid_cases[i].in);
            before = test_failed_checks;
        }
    }
}

/* Zero copy: without escapes every pointer is inside the input; with escapes in the scratch. */
static void test_zero_copy(void)
{
    const char *s = "m,t=v f=\"str\",g=1 1";
    const char *e = "m\\ x,t\\,=v f=\"a\\\"\" 1";
    REQUIRE(parse1(s, strlen(s)) == 1);
    CHECK(g_ln.meas == s);
    CHECK(g_ln.tags[0].key == s + 2);
    CHECK(g_ln.tags[0].val == s + 4);
    CHECK(g_ln.fields[0].key == s + 6);
    CHECK(g_ln.fields[0].v.s.p == s + 9);
    CHECK(g_ln.raw == s);
    CHECK_EQ_INT(g_ln.raw_len, strlen(s));
    CHECK_EQ_INT(g_ps.scratch_used, 0);
    REQUIRE(parse1(e, strlen(e)) == 1);
    CHECK(g_ln.meas >= g_ps.scratch && g_ln.meas < g_ps.scratch + LP_SCRATCH);
    CHECK(span_eq(g_ln.meas, g_ln.mlen, "m x"));
    CHECK(span_eq(g_ln.tags[0].key, g_ln.tags[0].klen, "t,"));
    CHECK(g_ln.tags[0].val == e + 9);
    CHECK(span_eq(g_ln.fields[0].v.s.p, g_ln.fields[0].v.s.len, "a\""));
    CHECK(g_ln.fields[0].v.s.p >= g_ps.scratch);
}

/* ---- invalid lines ---- */

struct invalid_case {
    const char *in;
    const char *want; /* substring of the error */
};

static const struct invalid_case invalid_cases[] = {
    {"m", "missing fields"},
    {"m ", "missing fields"},
    {"m,t=a", "missing fields"},
    {"m,t=a  \r", "missing fields"},
    {",t=a f=1", "missing measurement"},
    {"m,t= f=1", "empty tag value for tag 't'"},
    {"m,=a f=1", "missing tag key"},
    {"m, f=1", "missing tag key"},
    {"m,t f=1", "missing '=' after tag key 't'"},
    {"m,t=a=b f=1", "unescaped '=' in value of tag 't'"},
    {"m,t=a,t=b f=1", "duplicate tag key 't'"},
    {"m f", "missing '=' after field key 'f'"},
    {"m =1", "missing field key"},
    {"m f=", "missing value for field 'f'"},
    {"m f= 1", "missing value for field 'f'"},
    {"m f=1,", "missing field key"},
    {"m f=1, g=2", "missing field key"},
    {"m f=abc", "invalid float value 'abc' for field 'f'"},
    {"m f=inf", "invalid float value 'inf'"},
    {"m f=-inf", "invalid float value '-inf'"},
    {"m f=NaN", "invalid float value 'NaN'"},
    {"m f=nan", "invalid float value"},
    {"m f=+1", "invalid float value '+1'"},
    {"m f=1.2.3", "invalid float value '1.2.3'"},
    {"m f=1e", "invalid float value '1e'"},
    {"m f=1e+", "invalid float value"},
    {"m f=-", "invalid float value '-'"},
    {"m f=.", "invalid float value '.'"},
    {"m f=-.e1", "invalid float value"},
    {"m f=0x10", "invalid float value '0x10'"},
    {"m f=1_000", "invalid float value"},
    {"m f=1,5", "missing '=' after field key '5'"},
    {"m f=1.5i", "invalid integer value '1.5i'"},
    {"m f=1e3i", "invalid integer value"},
    {"m f=-i", "invalid integer value"},
    {"m f=1ii", "invalid float value '1ii'"},
    {"m f=-1u", "invalid unsigned value '-1u'"},
    {"m f=1.0u", "invalid unsigned value"},
    {"m f=9223372036854775808i", "integer value out of range '9223372036854775808i' for field 'f'"},
    {"m f=-9223372036854775809i", "integer value out of range"},
    {"m f=100000000000000000000i", "integer value out of range"},
    {"m f=9223372036854775808u", "unsigned value out of range"},
    {"m f=18446744073709551616u", "unsigned value out of range"},
    {"m f=1e400", "float value out of range '1e400'"},
    {"m f=-1e400", "float value out of range"},
    {"m f=tru", "invalid float value 'tru'"},
    {"m f=yes", "invalid float value"},
    {"m f=tRUE", "invalid float value"},
    {"m f=1 abc", "invalid timestamp"},
    {"m f=1 12a", "invalid timestamp"},
    {"m f=1 1.5", "invalid timestamp"},
    {"m f=1 -", "invalid timestamp"},
    {"m f=1 +5", "invalid timestamp"},
    {"m f=1 10 20", "unexpected data after timestamp"},
    {"m f=1 10 x", "unexpected data after timestamp"},
    {"m f=1 99999999999999999999", "timestamp out of range"},
    {"m f=1 9223372036854775808", "timestamp out of range"},
    {"m f=1 -9223372036854775809", "timestamp out of range"},
    {"m f=\"abc", "unterminated string value for field 'f'"},
    {"m f=\"abc\\\"", "unterminated string"},
    {"m f=\"abc\\", "unterminated string"},
    {"m f=\"a\"b", "unexpected data after string value for field 'f'"},
    {"m f=\"a\"\"b\"", "unexpected data after string"},
};

static void test_invalid_lines(void)
{
    size_t i;
    for (i = 0; i < VG_ARRAY_LEN(invalid_cases); i++) {
        const struct invalid_case *ic = &invalid_cases[i];
        int rc = parse1(ic->in, strlen(ic->in));
        int ok = rc == VG_EINVAL && strstr(g_err, ic->want) != NULL;
        if (!ok)
            printf("  invalid case '%s': rc %d err '%s' (want '%s')\n", ic->in, rc, g_err,
                   ic->want);
        CHECK(ok);
        if (rc == VG_EINVAL) {
            CHECK(g_ln.raw == ic->in);
            CHECK_EQ_INT(g_ln.raw_len, strlen(ic->in) - (ic->in[strlen(ic->in) - 1] == '\r'));
            CHECK_EQ_INT(g_ln.lineno, 1);
            CHECK_EQ_INT(lp_next(&g_ps, &g_ln, g_err, sizeof(g_err)), 0);
        }
    }
}

static void expect_err_n(const char *s, size_t n, const char *want)
{
    int rc = parse1(s, n);
    if (rc != VG_EINVAL || !strstr(g_err, want))
        printf("  rc %d err '%s' (want '%s')\n", rc, g_err, want);
    CHECK_EQ_INT(rc, VG_EINVAL);
    CHECK(strstr(g_err, want) != NULL);
}

static void test_nul_bytes(void)
{
    static const char a[] = "m f=1\0";
    static const char b[] = "m\0x f=1";
    static const char c[] = "m,t=a\0b f=1";
    static const char d[] = "m f=\"a\0b\"";
    static const char e[] = "m f=1 12\0";
    static const char f[] = "m f=t\0";
    static const char g[] = "\0m f=1\nm f=2";
    expect_err_n(a, sizeof(a) - 1, "nul byte");
    expect_err_n(b, sizeof(b) - 1, "nul byte");
    expect_err_n(c, sizeof(c) - 1, "nul byte");
    expect_err_n(d, sizeof(d) - 1, "nul byte");
    expect_err_n(e, sizeof(e) - 1, "nul byte at column 9");
    expect_err_n(f, sizeof(f) - 1, "nul byte");
    expect_err_n(g, sizeof(g) - 1, "nul byte at column 1");
    /* and the next line still parses */
    CHECK_EQ_INT(lp_next(&g_ps, &g_ln, g_err, sizeof(g_err)), 1);
    CHECK_EQ_INT(g_ln.lineno, 2);
    CHECK(same_double(g_ln.fields[0].v.f, 2.0));
}

static void test_limits(void)
{
    char *buf = malloc(LP_MAX_LINE + 64);
    size_t n, i;
    int rc;
    REQUIRE(buf != NULL);

    /* LP_MAX_TAGS tags pass, one more fails */
    n = (size_t)snprintf(buf, 64, "m");
    for (i = 0; i < LP_MAX_TAGS; i++)
        n += (size_t)snprintf(buf + n, 64, ",t%zu=v", i);
    n += (size_t)snprintf(buf + n, 64, " f=1");
    CHECK_EQ_INT(parse1(buf, n), 1);
    CHECK_EQ_INT(g_ln.ntags, LP_MAX_TAGS);
    n = (size_t)snprintf(buf, 64, "m");
    for (i = 0; i <= LP_MAX_TAGS; i++)
        n += (size_t)snprintf(buf + n, 64, ",t%zu=v", i);
    n += (size_t)snprintf(buf + n, 64, " f=1");
    expect_err_n(buf, n, "too many tags (max 64)");

    /* LP_MAX_FIELDS fields pass, one more fails */
    n = (size_t)snprintf(buf, 64, "m ");
    for (i = 0; i < LP_MAX_FIELDS; i++)
        n += (size_t)snprintf(buf + n, 64, "%sf%zu=%zui", i ? "," : "", i, i);
    CHECK_EQ_INT(parse1(buf, n), 1);
    CHECK_EQ_INT(g_ln.nfields, LP_MAX_FIELDS);
    CHECK_EQ_INT(g_ln.fields[LP_MAX_FIELDS - 1].v.i, LP_MAX_FIELDS - 1);
    n += (size_t)snprintf(buf + n, 64, ",extra=1");
    expect_err_n(buf, n, "too many fields (max 256)");

    /* a line of exactly LP_MAX_LINE bytes passes (zero copy, far beyond the scratch size) */
    memcpy(buf, "m s=\"", 5);
    memset(buf + 5, 'x', LP_MAX_LINE - 6);
    buf[LP_MAX_LINE - 1] = '"';
    rc = parse1(buf, LP_MAX_LINE);
    CHECK_EQ_INT(rc, 1);
    CHECK_EQ_INT(g_ln.fields[0].v.s.len, LP_MAX_LINE - 6);
    /* one byte more is too long, and a following line is still parsed */
    memset(buf + 5, 'x', LP_MAX_LINE - 5);
    buf[LP_MAX_LINE] = '"';
    memcpy(buf + LP_MAX_LINE + 1, "\nm f=1\n", 7);
    rc = parse1(buf, LP_MAX_LINE + 8);
    CHECK_EQ_INT(rc, VG_EINVAL);
    CHECK(strstr(g_err, "line too long") != NULL);
    CHECK_EQ_INT(lp_next(&g_ps, &g_ln, g_err, sizeof(g_err)), 1);
    CHECK_EQ_INT(g_ln.lineno, 2);
    /* a very long line without a newline at all */
    memset(buf, 'x', LP_MAX_LINE + 10);
    expect_err_n(buf, LP_MAX_LINE + 10, "line too long");
    CHECK_EQ_INT(lp_next(&g_ps, &g_ln, g_err, sizeof(g_err)), 0);

    /* escapes beyond the scratch buffer */
    memcpy(buf, "m s=\"", 5);
    for (i = 0; i < LP_SCRATCH + 10; i++)
        memcpy(buf + 5 + 2 * i, "\\\"", 2);
    n = 5 + 2 * i;
    buf[n++] = '"';
    expect_err_n(buf, n, "line too long after unescaping");
    /* half that fits */
    n = 5 + LP_SCRATCH; /* LP_SCRATCH/2 escaped quotes */
    buf[n++] = '"';
    CHECK_EQ_INT(parse1(buf, n), 1);
    CHECK_EQ_INT(g_ln.fields[0].v.s.len, LP_SCRATCH / 2);
    /* long float token falls back to strtod on a heap copy */
    memcpy(buf, "m f=0.", 6);
    memset(buf + 6, '3', 1000);
    buf[1006] = '\0';
    CHECK_EQ_INT(parse1(buf, 1006), 1);
    CHECK(same_double(g_ln.fields[0].v.f, strtod(buf + 4, NULL)));
    free(buf);
}

/* ---- multi-line body ---- */

static void test_mixed_body(void)
{
    static const char body[] = "# header comment\n"          /* 1 */
                               "good,t=1 f=1 100\n"          /* 2 */
                               "\n"                          /* 3 */
                               "bad f=abc 100\r\n"           /* 4 */
                               "good,t=2 f=2 200\r\n"        /* 5 */
                               "   \t\n"                     /* 6 */
                               "nofields\n"                  /* 7 */
                               "  # indented comment\n"      /* 8 */
                               "good,t=3 f=\"a b\" 300\n"    /* 9 */
                               "bad2,t=x f=1 1 2\n"          /* 10 */
                               "good,t=4 f=4i";              /* 11, no final newline */
    int rc, ngood = 0;
    REQUIRE(parse1(body, sizeof(body) - 1) == 1);
    CHECK_EQ_INT(g_ln.lineno, 2);
    CHECK(span_eq(g_ln.raw, g_ln.raw_len, "good,t=1 f=1 100"));
    CHECK_EQ_INT(g_ln.ts, 100);
    ngood++;

    rc = lp_next(&g_ps, &g_ln, g_err, sizeof(g_err));
    CHECK_EQ_INT(rc, VG_EINVAL);
    CHECK_EQ_INT(g_ln.lineno, 4);
    CHECK(span_eq(g_ln.raw, g_ln.raw_len, "bad f=abc 100"));
    CHECK(strstr(g_err, "invalid float value 'abc' for field 'f'") != NULL);

    REQUIRE(lp_next(&g_ps, &g_ln, g_err, sizeof(g_err)) == 1);
    CHECK_EQ_INT(g_ln.lineno, 5);
    CHECK(span_eq(g_ln.raw, g_ln.raw_len, "good,t=2 f=2 200"));
    CHECK(span_eq(g_ln.tags[0].val, g_ln.tags[0].vlen, "2"));
    CHECK_EQ_INT(g_ln.ts, 200);
    ngood++;

    rc = lp_next(&g_ps, &g_ln, g_err, sizeof(g_err));
    CHECK_EQ_INT(rc, VG_EINVAL);
    CHECK_EQ_INT(g_ln.lineno, 7);
    CHECK(span_eq(g_ln.raw, g_ln.raw_len, "nofields"));
    CHECK(strstr(g_err, "missing fields") != NULL);

    REQUIRE(lp_next(&g_ps, &g_ln, g_err, sizeof(g_err)) == 1);
    CHECK_EQ_INT(g_ln.lineno, 9);
    CHECK(span_eq(g_ln.fields[0].v.s.p, g_ln.fields[0].v.s.len, "a b"));
    ngood++;

    rc = lp_next(&g_ps, &g_ln, g_err, sizeof(g_err));
    CHECK_EQ_INT(rc, VG_EINVAL);
    CHECK_EQ_INT(g_ln.lineno, 10);
    CHECK(span_eq(g_ln.raw, g_ln.raw_len, "bad2,t=x f=1 1 2"));
    CHECK(strstr(g_err, "unexpected data after timestamp") != NULL);

    REQUIRE(lp_next(&g_ps, &g_ln, g_err, sizeof(g_err)) == 1);
    CHECK_EQ_INT(g_ln.lineno, 11);
    CHECK_EQ_INT(g_ln.fields[0].vt, VT_I64);
    CHECK_EQ_INT(g_ln.fields[0].v.i, 4);
    CHECK_EQ_INT(g_ln.has_ts, 0);
    ngood++;

    CHECK_EQ_INT(lp_next(&g_ps, &g_ln, g_err, sizeof(g_err)), 0);
    CHECK_EQ_INT(lp_next(&g_ps, &g_ln, g_err, sizeof(g_err)), 0);
    CHECK_EQ_INT(ngood, 4);

    /* empty input, only comments, NULL error buffer */
    lp_init(&g_ps, NULL, 0);
    CHECK_EQ_INT(lp_next(&g_ps, &g_ln, g_err, sizeof(g_err)), 0);
    lp_init(&g_ps, "#a\n#b\n\n", 7);
    CHECK_EQ_INT(lp_next(&g_ps, &g_ln, NULL, 0), 0);
    lp_init(&g_ps, "x\ny f=1", 7);
    CHECK_EQ_INT(lp_next(&g_ps, &g_ln, NULL, 0), VG_EINVAL);
    CHECK_EQ_INT(lp_next(&g_ps, &g_ln, g_err, 4), 1); /* tiny error buffer is fine too */
}

/* ---- round trip ---- */

/* Bytes the generator draws names and strings from: every special character, UTF-8 pieces. */
static const char *const pieces[] = {"a", "b", "Z", "0", "9", "_", "-", ".", ",", "=", " ", "\\",
                                     "\"", "#", "'", "é", "€", "温", "i", "u", "t", "e"};

static size_t gen_name(char *dst, int meas)
{
    size_t n = 0, len = 1 + rndn(8), i;
    for (i = 0; i < len; i++) {
        const char *p = pieces[rndn(VG_ARRAY_LEN(pieces))];
        memcpy(dst + n, p, strlen(p));
        n += strlen(p);
    }
    /* not representable: a trailing backslash (it would escape the delimiter after it), and a
    ** measurement starting with '#' (a comment) */
    while (n && dst[n - 1] == '\\')
        n--;
    if (n == 0)
        dst[n++] = 'x';
    if (meas && dst[0] == '#')
        dst[0] = 'x';
    return n;
}

/* Test-local escaper: a backslash before each byte of set. */
static size_t escape(char *dst, const char *s, size_t n, const char *set)
{
    size_t i, k = 0;
    for (i = 0; i < n; i++) {
        if (strchr(set, s[i]))
            dst[k++] = '\\';
        dst[k++] = s[i];
    }
    return k;
}

struct rt_field {
    char key[64];
    size_t klen;
    enum vg_vtype vt;
    double f;
    int64_t i;
    char s[64];
    size_t slen;
};

struct rt_line {
    char meas[64];
    size_t mlen;
    char tk[8][64], tv[8][64];
    size_t tkl[8], tvl[8];
    int ntags;
    struct rt_field fl[8];
    int nfields;
    int has_ts;
    int64_t ts;
};

static int name_in(char arr[][64], const size_t *lens, int n, const char *s, size_t len)
{
    int i;
    for (i = 0; i < n; i++)
        if (lens[i] == len && !memcmp(arr[i], s, len))
            return 1;
    return 0;
}

static void gen_line(struct rt_line *l)
{
    int i;
    char tmp[64];
    l->mlen = gen_name(l->meas, 1);
    l->ntags = (int)rndn(5);
    for (i = 0; i < l->ntags; i++) {
        size_t kl;
        do {
            kl = gen_name(tmp, 0);
        } while (name_in(l->tk, l->tkl, i, tmp, kl));
        memcpy(l->tk[i], tmp, kl);
        l->tkl[i] = kl;
        l->tvl[i] = gen_name(l->tv[i], 0);
    }
    l->nfields = 1 + (int)rndn(5);
    for (i = 0; i < l->nfields; i++) {
        struct rt_field *f = &l->fl[i];
        int j, dup;
        do {
            f->klen = gen_name(f->key, 0);
            for (dup = 0, j = 0; j < i; j++)
                dup |= l->fl[j].klen == f->klen && !memcmp(l->fl[j].key, f->key, f->klen);
        } while (dup);
        switch (rndn(5)) {
        case 0:
            do {
                uint64_t bits = rnd();
                memcpy(&f->f, &bits, 8);
            } while (!isfinite(f->f));
            if (rndn(2))
                f->f = (double)(int)rndn(2000) / 10.0;
            f->vt = VT_F64;
            break;
        case 1:
            f->vt = VT_I64;
            f->i = (int64_t)rnd();
            break;
        case 2:
            f->vt = VT_I64 + 100; /* unsigned on the wire */
            f->i = (int64_t)(rnd() >> 1);
            break;
        case 3:
            f->vt = VT_BOOL;
            f->i = (int64_t)rndn(2);
            break;
        default: {
            static const char sb[] = "ab ,=\\\"\t#é'x";
            f->vt = VT_STR;
            f->slen = rndn(20);
            for (j = 0; j < (int)f->slen; j++)
                f->s[j] = sb[rndn(sizeof(sb) - 1)];
            break;
        }
        }
    }
    l->has_ts = (int)rndn(2);
    l->ts = (int64_t)rnd();
}

static const char *const true_words[] = {"t", "T", "true", "True", "TRUE"};
static const char *const false_words[] = {"f", "F", "false", "False", "FALSE"};

static size_t spaces(char *dst)
{
    size_t n = rndn(8) == 0 ? 2 + rndn(2) : 1;
    memset(dst, ' ', n);
    return n;
}

static size_t ser_line(char *dst, const struct rt_line *l)
{
    size_t n = 0;
    int i;
    n += escape(dst + n, l->meas, l->mlen, ", ");
    for (i = 0; i < l->ntags; i++) {
        dst[n++] = ',';
        n += escape(dst + n, l->tk[i], l->tkl[i], ",= ");
        dst[n++] = '=';
        n += escape(dst + n, l->tv[i], l->tvl[i], ",= ");
    }
    n += spaces(dst + n);
    for (i = 0; i < l->nfields; i++) {
        const struct rt_field *f = &l->fl[i];
        if (i)
            dst[n++] = ',';
        n += escape(dst + n, f->key, f->klen, ",= ");
        dst[n++] = '=';
        if (f->vt == VT_F64)
            n += (size_t)sprintf(dst + n, "%.17g", f->f);
        else if (f->vt == VT_I64)
            n += (size_t)sprintf(dst + n, "%lldi", (long long)f->i);
        else if ((int)f->vt == VT_I64 + 100)
            n += (size_t)sprintf(dst + n, "%lluu", (unsigned long long)f->i);
        else if (f->vt == VT_BOOL)
            n += (size_t)sprintf(dst + n, "%s",
                                 (f->i ? true_words : false_words)[rndn(5)]);
        else {
            dst[n++] = '"';
            n += escape(dst + n, f->s, f->slen, "\"\\");
            dst[n++] = '"';
        }
    }
    if (l->has_ts) {
        n += spaces(dst + n);
        n += (size_t)sprintf(dst + n, "%lld", (long long)l->ts);
    }
    if (rndn(4) == 0)
        dst[n++] = '\r';
    dst[n++] = '\n';
    return n;
}

static int cmp_line(const struct rt_line *l, const struct lp_line *p)
{
    int i;
    if (p->mlen != l->mlen || memcmp(p->meas, l->meas, l->mlen))
        return 1;
    if ((int)p->ntags != l->ntags || (int)p->nfields != l->nfields || p->has_ts != l->has_ts)
        return 2;
    for (i = 0; i < l->ntags; i++) {
        const struct vg_tag *t = &p->tags[i];
        if (t->klen != l->tkl[i] || memcmp(t->key, l->tk[i], t->klen) || t->vlen != l->tvl[i] ||
            memcmp(t->val, l->tv[i], t->vlen))
            return 3;
    }
    for (i = 0; i < l->nfields; i++) {
        const struct rt_field *e = &l->fl[i];
        const struct lp_field *f = &p->fields[i];
        enum vg_vtype vt = (int)e->vt == VT_I64 + 100 ? VT_I64 : e->vt;
        if (f->klen != e->klen || memcmp(f->key, e->key, e->klen) || f->vt != vt)
            return 4;
        if (vt == VT_F64 && !same_double(f->v.f, e->f))
            return 5;
        if ((vt == VT_I64 || vt == VT_BOOL) && f->v.i != e->i)
            return 6;
        if (vt == VT_STR && (f->v.s.len != e->slen || memcmp(f->v.s.p, e->s, e->slen)))
            return 7;
    }
    if (l->has_ts && p->ts != l->ts)
        return 8;
    return 0;
}

#define RT_BATCH 64

static void test_round_trip(void)
{
    static struct rt_line lines[RT_BATCH];
    static char body[RT_BATCH * 4096];
    int iter, i, bad = 0;
    for (iter = 0; iter < 600 && bad < 5; iter++) {
        size_t n = 0;
        for (i = 0; i < RT_BATCH; i++) {
            gen_line(&lines[i]);
            if (rndn(16) == 0)
                n += (size_t)sprintf(body + n, rndn(2) ? "# comment, = \"\n" : "\n");
            n += ser_line(body + n, &lines[i]);
        }
        lp_init(&g_ps, body, n);
        for (i = 0; i < RT_BATCH && bad < 5; i++) {
            int rc = lp_next(&g_ps, &g_ln, g_err, sizeof(g_err));
            int why = rc == 1 ? cmp_line(&lines[i], &g_ln) : -1;
            if (why) {
                printf("  round trip mismatch %d (rc %d '%s'): %.*s\n", why, rc, g_err,
                       (int)g_ln.raw_len, g_ln.raw);
                bad++;
            }
        }
        if (!bad)
            CHECK_EQ_INT(lp_next(&g_ps, &g_ln, g_err, sizeof(g_err)), 0);
    }
    CHECK_EQ_INT(bad, 0);
}

/* ---- floats against strtod ---- */

static size_t gen_decimal(char *s)
{
    size_t n = 0, nd, i, ndig = 0;
    int kind = (int)rndn(4);
    if (kind == 0) { /* a random double printed with 1..21 significant digits */
        double d;
        do {
            uint64_t bits = rnd();
            memcpy(&d, &bits, 8);
        } while (!isfinite(d));
        return (size_t)sprintf(s, rndn(2) ? "%.*g" : "%.*e", 1 + (int)rndn(21), d);
    }
    if (rndn(2))
        s[n++] = '-';
    nd = kind == 1 ? rndn(8) : rndn(26);
    for (i = 0; i < nd; i++)
        s[n++] = (char)('0' + rndn(10));
    ndig += nd;
    if (rndn(3)) {
        s[n++] = '.';
        nd = kind == 1 ? rndn(8) : rndn(26);
        for (i = 0; i < nd; i++)
            s[n++] = (char)('0' + rndn(10));
        ndig += nd;
    }
    if (ndig == 0)
        s[n++] = '7'; /* "", "-" or "-." are not numbers */
    if (rndn(3) == 0) {
        int e = kind == 1 ? (int)rndn(61) - 30 : (int)rndn(701) - 350;
        n += (size_t)sprintf(s + n, "%c%s%d", rndn(2) ? 'e' : 'E', e >= 0 && rndn(2) ? "+" : "", e);
    }
    s[n] = '\0';
    return n;
}

static void test_float_vs_strtod(void)
{
    char line[128];
    long iter, checked = 0, bad = 0;
    const long iters = 2000000;
    for (iter = 0; iter < iters && bad < 5; iter++) {
        char *num = line + 4;
        size_t n;
        int rc;
        double want;
        memcpy(line, "m f=", 4);
        n = gen_decimal(num);
        want = strtod(num, NULL);
        rc = parse1(line, n + 4);
        if (!isfinite(want)) {
            if (rc != VG_EINVAL || !strstr(g_err, "out of range")) {
                printf("  '%s': expected out of range, rc %d\n", num, rc);
                bad++;
            }
            continue;
        }
        if (rc != 1 || g_ln.fields[0].vt != VT_F64 || !same_double(g_ln.fields[0].v.f, want)) {
            printf("  '%s': rc %d err '%s' got %.17g want %.17g\n", num, rc, g_err,
                   rc == 1 ? g_ln.fields[0].v.f : 0.0, want);
            bad++;
        }
        checked++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(checked > iters / 2);
}

static void test_precision(void)
{
    CHECK_EQ_INT(lp_precision_parse(NULL), LP_NS);
    CHECK_EQ_INT(lp_precision_parse(""), LP_NS);
    CHECK_EQ_INT(lp_precision_parse("ns"), LP_NS);
    CHECK_EQ_INT(lp_precision_parse("n"), LP_NS);
    CHECK_EQ_INT(lp_precision_parse("us"), LP_US);
    CHECK_EQ_INT(lp_precision_parse("u"), LP_US);
    CHECK_EQ_INT(lp_precision_parse("ms"), LP_MS);
    CHECK_EQ_INT(lp_precision_parse("s"), LP_S);
    CHECK_EQ_INT(lp_precision_parse("h"), -1);
    CHECK_EQ_INT(lp_precision_parse("m"), -1);
    CHECK_EQ_INT(lp_precision_parse("sec"), -1);
    CHECK_EQ_INT(lp_precision_parse("NS"), -1);

    CHECK_EQ_INT(lp_ts_to_ms(1700000000123456789ll, LP_NS), 1700000000123ll);
    CHECK_EQ_INT(lp_ts_to_ms(-1, LP_NS), -1);
    CHECK_EQ_INT(lp_ts_to_ms(-1000000, LP_NS), -1);
    CHECK_EQ_INT(lp_ts_to_ms(-1000001, LP_NS), -2);
    CHECK_EQ_INT(lp_ts_to_ms(999999, LP_NS), 0);
    CHECK_EQ_INT(lp_ts_to_ms(INT64_MIN, LP_NS), -9223372036855ll);
    CHECK_EQ_INT(lp_ts_to_ms(1500, LP_US), 1);
    CHECK_EQ_INT(lp_ts_to_ms(-1500, LP_US), -2);
    CHECK_EQ_INT(lp_ts_to_ms(-1000, LP_US), -1);
    CHECK_EQ_INT(lp_ts_to_ms(-7, LP_MS), -7);
    CHECK_EQ_INT(lp_ts_to_ms(1700000000, LP_S), 1700000000000ll);
    CHECK_EQ_INT(lp_ts_to_ms(-2, LP_S), -2000);
    CHECK_EQ_INT(lp_ts_to_ms(INT64_MAX / 10, LP_S), INT64_MAX);
    CHECK_EQ_INT(lp_ts_to_ms(INT64_MIN / 10, LP_S), INT64_MIN);
}

int main(void)
{
    TEST_BEGIN("lineproto");
    TEST_RUN(test_valid_lines);
    TEST_RUN(test_zero_copy);
    TEST_RUN(test_invalid_lines);
    TEST_RUN(test_nul_bytes);
    TEST_RUN(test_limits);
    TEST_RUN(test_mixed_body);
    TEST_RUN(test_round_trip);
    TEST_RUN(test_float_vs_strtod);
    TEST_RUN(test_precision);
    return TEST_END();
}
