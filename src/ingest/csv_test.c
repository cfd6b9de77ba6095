/*
** ingest/csv_test.c: unit tests of the CSV reader and the UTF-8 conversion (ingest/csv.c).
** RFC 4180 cases, line ends and line numbers, every malformed kind and the record that follows
** it, the limits, a random round trip (fields written with proper quoting, read back exactly),
** encodings through iconv, csv_find, and a throughput line (printed, not asserted).
** Owns: nothing beyond its local buffers.
*/
#include "ingest/csv.h"

#include "core/clock.h"
#include "core/test.h"
#include "core/vg.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct csv g_c; /* 4 KiB of field slots: keep off the stack */

/* xorshift64*: deterministic so failures reproduce */
static uint64_t rng = 0x2545f4914f6cdd1dull;
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

static int span_eq(const char *p, size_t n, const char *s)
{
    return n == strlen(s) && memcmp(p, s, n) == 0;
}

static int in_span(const char *p, size_t n, const char *lo, size_t len)
{
    return (uintptr_t)p >= (uintptr_t)lo && (uintptr_t)p + n <= (uintptr_t)lo + len;
}

/* The next record is rc with this first line, raw text and fields (NULL-terminated; NULL
** fields to skip the field check). Returns 1 when everything matched. */
static int expect(struct csv *c, int rc, uint64_t lineno, const char *raw,
                  const char *const *fields)
{
    int ok = 1;
    int got = csv_next(c);
    if (got != rc) {
        printf("  csv_next: %d, want %d (line %llu)\n", got, rc, (unsigned long long)c->lineno);
        return 0;
    }
    if (rc == 0)
        return 1;
    if (c->lineno != lineno) {
        printf("  lineno %llu, want %llu\n", (unsigned long long)c->lineno,
               (unsigned long long)lineno);
        ok = 0;
    }
    if (raw && !span_eq(c->raw, c->raw_len, raw)) {
        printf("  raw '%.*s', want '%s'\n", (int)c->raw_len, c->raw, raw);
        ok = 0;
    }
    if (fields) {
        uint32_t n = 0;
        while (fields[n])
            n++;
        if (n != c->nf) {
            printf("  %u fields, want %u\n", c->nf, n);
            return 0;
        }
        for (uint32_t i = 0; i < n; i++) {
            if (!span_eq(c->f[i], c->fl[i], fields[i])) {
                printf("  field %u '%.*s', want '%s'\n", i, (int)c->fl[i], c->f[i], fields[i]);
                ok = 0;
            }
        }
    }
    return ok;
}

#define F(...) ((const char *const[]){__VA_ARGS__, NULL})
#define S(lit) lit, sizeof(lit) - 1

/* ---- RFC 4180 and line ends ------------------------------------------------------------------ */

static void test_basic(void)
{
    static const char in[] = "a,b,c\n1,2,3\n";
    csv_init(&g_c, S(in), ',');
    CHECK(expect(&g_c, 1, 1, "a,b,c", F("a", "b", "c")));
    CHECK(in_span(g_c.f[0], g_c.fl[0], in, sizeof(in) - 1)); /* unquoted: into the input */
    CHECK(expect(&g_c, 1, 2, "1,2,3", F("1", "2", "3")));
    CHECK(expect(&g_c, 0, 0, NULL, NULL));
    CHECK(expect(&g_c, 0, 0, NULL, NULL)); /* stays at the end */
    CHECK(g_c.p == g_c.end);
    csv_release(&g_c);
    csv_release(&g_c); /* twice is harmless */

    csv_init(&g_c, "", 0, ',');
    CHECK(expect(&g_c, 0, 0, NULL, NULL));
    csv_release(&g_c);
}

static void test_quoting(void)
{
    static const char in[] = "\"a,b\",c\n"
                             "\"say \"\"hi\"\"\",x\n"
                             "\"\",a,\"\"\"\"\n"
                             ",,\n"
                             "a,b,\n"
                             "\"q\",\n"
                             "ab\"c,d\n" /* a quote inside an unquoted field is literal */
                             " \"x\" ,y\n";
    csv_init(&g_c, S(in), ',');
    CHECK(expect(&g_c, 1, 1, "\"a,b\",c", F("a,b", "c")));
    CHECK(in_span(g_c.f[0], g_c.fl[0], in, sizeof(in) - 1)); /* no doubled quote: no copy */
    CHECK(expect(&g_c, 1, 2, "\"say \"\"hi\"\"\",x", F("say \"hi\"", "x")));
    CHECK(in_span(g_c.f[0], g_c.fl[0], g_c.scratch, g_c.used));
    CHECK(expect(&g_c, 1, 3, NULL, F("", "a", "\"")));
    CHECK(expect(&g_c, 1, 4, ",,", F("", "", "")));
    CHECK(expect(&g_c, 1, 5, "a,b,", F("a", "b", "")));
    CHECK(expect(&g_c, 1, 6, "\"q\",", F("q", "")));
    CHECK(expect(&g_c, 1, 7, NULL, F("ab\"c", "d")));
    CHECK(expect(&g_c, 1, 8, NULL, F(" \"x\" ", "y")));
    CHECK(expect(&g_c, 0, 0, NULL, NULL));
    csv_release(&g_c);

    /* Other delimiters; the comma is then ordinary. */
    static const char semi[] = "a;\"b;c\";d,e\n";
    csv_init(&g_c, S(semi), ';');
    CHECK(expect(&g_c, 1, 1, NULL, F("a", "b;c", "d,e")));
    csv_release(&g_c);
    static const char tab[] = "a\t\"b\tc\"\t\n";
    csv_init(&g_c, S(tab), '\t');
    CHECK(expect(&g_c, 1, 1, NULL, F("a", "b\tc", "")));
    csv_release(&g_c);
}

static void test_line_ends(void)
{
    /* Embedded CRLF inside quotes, kept verbatim; the next record's line counts it. */
    static const char crlf[] = "x,\"l1\r\nl2\",y\r\nz\r\n";
    csv_init(&g_c, S(crlf), ',');
    CHECK(expect(&g_c, 1, 1, "x,\"l1\r\nl2\",y", F("x", "l1\r\nl2", "y")));
    CHECK(expect(&g_c, 1, 3, "z", F("z")));
    CHECK(expect(&g_c, 0, 0, NULL, NULL));
    csv_release(&g_c);

    /* Final line without a line end. */
    static const char last[] = "a\nb";
    csv_init(&g_c, S(last), ',');
    CHECK(expect(&g_c, 1, 1, "a", F("a")));
    CHECK(expect(&g_c, 1, 2, "b", F("b")));
    CHECK(expect(&g_c, 0, 0, NULL, NULL));
    csv_release(&g_c);

    /* UTF-8 BOM: skipped, not part of the first field nor of raw. */
    static const char bom[] = "\xEF\xBB\xBFh1,h2\nv1,v2";
    csv_init(&g_c, S(bom), ',');
    CHECK(expect(&g_c, 1, 1, "h1,h2", F("h1", "h2")));
    CHECK(g_c.raw == bom + 3);
    CHECK(expect(&g_c, 1, 2, "v1,v2", F("v1", "v2")));
    csv_release(&g_c);
    csv_init(&g_c, "\xEF\xBB\xBF", 3, ',');
    CHECK(expect(&g_c, 0, 0, NULL, NULL));
    csv_release(&g_c);

    /* CR-only line ends (old Mac exports), a blank CR line, quoted CR. */
    static const char cr[] = "a,b\rc,d\r\re\r\"f\rg\",h\ri";
    csv_init(&g_c, S(cr), ',');
    CHECK(expect(&g_c, 1, 1, "a,b", F("a", "b")));
    CHECK(expect(&g_c, 1, 2, "c,d", F("c", "d")));
    CHECK(expect(&g_c, 1, 4, "e", F("e")));
    CHECK(expect(&g_c, 1, 5, "\"f\rg\",h", F("f\rg", "h")));
    CHECK(expect(&g_c, 1, 7, "i", F("i")));
    CHECK(expect(&g_c, 0, 0, NULL, NULL));
    csv_release(&g_c);

    /* Blank lines of every kind are skipped and counted. */
    static const char blank[] = "\n\r\n\ra\n\n\r\n\nb\n\n";
    csv_init(&g_c, S(blank), ',');
    CHECK(expect(&g_c, 1, 4, "a", F("a")));
    CHECK(expect(&g_c, 1, 8, "b", F("b")));
    CHECK(expect(&g_c, 0, 0, NULL, NULL));
    csv_release(&g_c);

    /* Multi-line records: lineno is the first line, raw spans every line. */
    static const char multi[] = "h\n\"a\nb\nc\",d\nnext,\"1\r\n2\"\r\n\nlast";
    csv_init(&g_c, S(multi), ',');
    CHECK(expect(&g_c, 1, 1, "h", F("h")));
    CHECK(expect(&g_c, 1, 2, "\"a\nb\nc\",d", F("a\nb\nc", "d")));
    CHECK(expect(&g_c, 1, 5, "next,\"1\r\n2\"", F("next", "1\r\n2")));
    CHECK(expect(&g_c, 1, 8, "last", F("last")));
    CHECK(expect(&g_c, 0, 0, NULL, NULL));
    csv_release(&g_c);
}

/* ---- malformed records and limits ------------------------------------------------------------ */

static void test_malformed(void)
{
    /* Text after a closing quote: the rest of the physical line goes with the bad record. */
    static const char after[] = "\"ab\"c,d\nok,1\n\"x\" ,y\r\n\"m\nl\"z,w\nok2\n";
    csv_init(&g_c, S(after), ',');
    CHECK(expect(&g_c, -1, 1, "\"ab\"c,d", NULL));
    CHECK(expect(&g_c, 1, 2, "ok,1", F("ok", "1")));
    CHECK(expect(&g_c, -1, 3, "\"x\" ,y", NULL));
    CHECK(expect(&g_c, -1, 4, "\"m\nl\"z,w", NULL));
    CHECK(expect(&g_c, 1, 6, "ok2", F("ok2")));
    CHECK(expect(&g_c, 0, 0, NULL, NULL));
    csv_release(&g_c);

    /* An unclosed quote ends the bad record with the opening quote's physical line. */
    static const char open[] = "a,\"bc\nok,1\n";
    csv_init(&g_c, S(open), ',');
    CHECK(expect(&g_c, -1, 1, "a,\"bc", NULL));
    CHECK(expect(&g_c, 1, 2, "ok,1", F("ok", "1")));
    CHECK(expect(&g_c, 0, 0, NULL, NULL));
    csv_release(&g_c);
    static const char open_eof[] = "h\n\"q\nr\",a,\"bc";
    csv_init(&g_c, S(open_eof), ',');
    CHECK(expect(&g_c, 1, 1, "h", NULL));
    CHECK(expect(&g_c, -1, 2, "\"q\nr\",a,\"bc", NULL));
    CHECK(expect(&g_c, 0, 0, NULL, NULL));
    csv_release(&g_c);
    /* A stray quote pairs with the next quote of the file (CSV cannot resynchronise there):
    ** the bad record runs to that quote's line, and reading goes on after it. */
    static const char stray[] = "a,\"bc\nlost,\"x\"\nok\n";
    csv_init(&g_c, S(stray), ',');
    CHECK(expect(&g_c, -1, 1, "a,\"bc\nlost,\"x\"", NULL));
    CHECK(expect(&g_c, 1, 3, "ok", F("ok")));
    csv_release(&g_c);
}

static void test_limits(void)
{
    struct buf_s {
        char *p;
        size_t n;
    } b;
    size_t cap = 8u << 20;
    b.p = malloc(cap);
    REQUIRE(b.p);

    /* CSV_MAX_FIELDS fields are fine, one more is malformed; the next record is read. */
    b.n = 0;
    for (int r = 0; r < 2; r++) {
        for (int i = 0; i < CSV_MAX_FIELDS + r; i++)
            b.n += (size_t)sprintf(b.p + b.n, "%s%d", i ? "," : "", i);
        b.p[b.n++] = '\n';
    }
    b.n += (size_t)sprintf(b.p + b.n, "\"multi\nline\",ok\n");
    csv_init(&g_c, b.p, b.n, ',');
    CHECK_EQ_INT(csv_next(&g_c), 1);
    CHECK_EQ_INT(g_c.nf, CSV_MAX_FIELDS);
    CHECK(span_eq(g_c.f[CSV_MAX_FIELDS - 1], g_c.fl[CSV_MAX_FIELDS - 1], "255"));
    CHECK_EQ_INT(csv_next(&g_c), -1);
    CHECK_EQ_INT(g_c.lineno, 2);
    CHECK(g_c.raw_len > 0 && g_c.raw[g_c.raw_len - 1] == '6' && g_c.raw[g_c.raw_len] == '\n');
    CHECK(expect(&g_c, 1, 3, "\"multi\nline\",ok", F("multi\nline", "ok")));
    CHECK(expect(&g_c, 0, 0, NULL, NULL));
    csv_release(&g_c);

    /* Fields of CSV_MAX_FIELD bytes pass (unquoted, quoted, quoted with doubled quotes, i.e.
    ** copied to the scratch); one byte more is malformed in each form. */
    for (int form = 0; form < 3; form++) {
        for (size_t extra = 0; extra < 2; extra++) {
            size_t fl = CSV_MAX_FIELD + extra;
            b.n = 0;
            b.p[b.n++] = 'a';
            b.p[b.n++] = ',';
            if (form)
                b.p[b.n++] = '"';
            for (size_t i = 0; i < fl; i++) {
                if (form == 2 && i % 100 == 7) {
                    b.p[b.n++] = '"';
                    b.p[b.n++] = '"';
                } else {
                    b.p[b.n++] = (char)('a' + i % 26);
                }
            }
            if (form)
                b.p[b.n++] = '"';
            memcpy(b.p + b.n, ",z\nnext\n", 8);
            b.n += 8;
            csv_init(&g_c, b.p, b.n, ',');
            int rc = csv_next(&g_c);
            CHECK_EQ_INT(rc, extra ? -1 : 1);
            CHECK_EQ_INT(g_c.lineno, 1);
            CHECK_EQ_INT(g_c.raw_len, b.n - 6);
            if (rc == 1) {
                CHECK_EQ_INT(g_c.nf, 3);
                CHECK_EQ_INT(g_c.fl[1], fl);
                CHECK(g_c.f[1][7] == (form == 2 ? '"' : 'h'));
                CHECK(span_eq(g_c.f[2], g_c.fl[2], "z"));
            }
            for (uint32_t i = 0; i < g_c.nf; i++)
                CHECK(g_c.fl[i] <= CSV_MAX_FIELD);
            CHECK(expect(&g_c, 1, 2, "next", F("next")));
            csv_release(&g_c);
        }
    }

    /* Many large copied fields in one record: the scratch grows while earlier fields of the
    ** record live in it (they must be moved along). */
    b.n = 0;
    for (int i = 0; i < 40; i++) {
        b.n += (size_t)sprintf(b.p + b.n, "%s\"%d\"\"", i ? "," : "", i);
        for (int k = 0; k < 1000 * (i + 1); k++)
            b.p[b.n++] = (char)('A' + (i + k) % 26);
        b.p[b.n++] = '"';
    }
    b.p[b.n++] = '\n';
    csv_init(&g_c, b.p, b.n, ',');
    CHECK_EQ_INT(csv_next(&g_c), 1);
    CHECK_EQ_INT(g_c.nf, 40);
    for (uint32_t i = 0; i < g_c.nf && i < 40; i++) {
        char head[16];
        int hl = sprintf(head, "%u\"", i);
        int good = g_c.fl[i] == (size_t)hl + 1000 * (i + 1) &&
                   !memcmp(g_c.f[i], head, (size_t)hl) &&
                   in_span(g_c.f[i], g_c.fl[i], g_c.scratch, g_c.used);
        for (size_t k = 0; good && k < 1000 * (i + 1); k++)
            good = g_c.f[i][(size_t)hl + k] == (char)('A' + (i + k) % 26);
        CHECK(good);
    }
    CHECK(g_c.cap <= (size_t)CSV_MAX_FIELDS * CSV_MAX_FIELD);
    csv_release(&g_c);
    free(b.p);
}

/* ---- random round trip ----------------------------------------------------------------------- */

#define RT_RECS 4000
#define RT_MAXF 12

struct rt_rec {
    uint32_t nf;
    char *f[RT_MAXF];
    size_t fl[RT_MAXF];
    uint64_t line;
    size_t raw_off, raw_len;
};

static size_t rand_field(char *out)
{
    static const char *const atoms[] = {"a", "b", "Z", "0", ",", ";", "\t", "\"", "\"\"", "\n",
                                        "\r", "\r\n", " ", "\xc3\xa9", "\xe2\x82\xac", "|",
                                        "\xf0\x9f\x98\x80", "x y"};
    size_t n = 0;
    uint32_t k = rndn(4) == 0 ? 0 : rndn(12);
    if (rndn(200) == 0)
        k = 2000; /* now and then a long one */
    for (uint32_t i = 0; i < k; i++) {
        const char *a = atoms[rndn(VG_ARRAY_LEN(atoms))];
        size_t al = strlen(a);
        memcpy(out + n, a, al);
        n += al;
    }
    return n;
}

static uint64_t count_line_ends(const char *p, size_t n)
{
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] == '\n' || (p[i] == '\r' && (i + 1 == n || p[i + 1] != '\n')))
            k++;
    return k;
}

static void test_roundtrip(void)
{
    static const char seps[] = {',', ';', '\t', '|'};
    struct rt_rec *recs = calloc(RT_RECS, sizeof(*recs));
    size_t cap = (size_t)RT_RECS * RT_MAXF * 9000 + 4096;
    char *text = malloc(cap);
    char *fld = malloc(20000);
    REQUIRE(recs && text && fld);
    for (int round = 0; round < 4; round++) {
        char sep = seps[round];
        size_t n = 0;
        if (round == 1) {
            memcpy(text, "\xEF\xBB\xBF", 3);
            n = 3;
        }
        size_t nrec = RT_RECS / 4 * (size_t)(round + 1) / 2 + 100;
        for (size_t r = 0; r < nrec; r++) {
            struct rt_rec *rec = &recs[r];
            while (rndn(10) == 0) /* blank lines between records */
                text[n++] = rndn(2) ? '\n' : '\r';
            if (n && text[n - 1] == '\r') /* a CR then LF would merge into one line end */
                text[n++] = '\n';
            rec->line = 1 + count_line_ends(text, n);
            rec->raw_off = n;
            rec->nf = 1 + rndn(RT_MAXF);
            for (uint32_t i = 0; i < rec->nf; i++) {
                size_t fl = rand_field(fld);
                rec->f[i] = malloc(fl + 1);
                memcpy(rec->f[i], fld, fl);
                rec->fl[i] = fl;
                int quote = (rec->nf == 1 && fl == 0) || rndn(8) == 0;
                for (size_t k = 0; k < fl && !quote; k++)
                    quote = fld[k] == sep || fld[k] == '"' || fld[k] == '\n' || fld[k] == '\r';
                if (i)
                    text[n++] = sep;
                if (quote) {
                    text[n++] = '"';
                    for (size_t k = 0; k < fl; k++) {
                        if (fld[k] == '"')
                            text[n++] = '"';
                        text[n++] = fld[k];
                    }
                    text[n++] = '"';
                } else {
                    memcpy(text + n, fld, fl);
                    n += fl;
                }
            }
            rec->raw_len = n - rec->raw_off;
            if (r + 1 < nrec || rndn(2)) {
                uint32_t e = rndn(3);
                if (e == 0)
                    text[n++] = '\n';
                else if (e == 1)
                    text[n++] = '\r';
                else {
                    text[n++] = '\r';
                    text[n++] = '\n';
                }
            }
        }
        VG_ASSERT(n <= cap);
        csv_init(&g_c, text, n, sep);
        size_t bad = 0;
        for (size_t r = 0; r < nrec; r++) {
            const struct rt_rec *rec = &recs[r];
            int ok = csv_next(&g_c) == 1 && g_c.nf == rec->nf && g_c.lineno == rec->line &&
                     g_c.raw == text + rec->raw_off && g_c.raw_len == rec->raw_len;
            for (uint32_t i = 0; ok && i < rec->nf; i++)
                ok = g_c.fl[i] == rec->fl[i] && !memcmp(g_c.f[i], rec->f[i], rec->fl[i]);
            if (!ok && bad++ < 3)
                printf("  round %d record %zu (line %llu) differs\n", round, r,
                       (unsigned long long)rec->line);
        }
        CHECK_EQ_INT(bad, 0);
        CHECK_EQ_INT(csv_next(&g_c), 0);
        csv_release(&g_c);
        for (size_t r = 0; r < nrec; r++)
            for (uint32_t i = 0; i < recs[r].nf; i++)
                free(recs[r].f[i]);
    }
    free(fld);
    free(text);
    free(recs);
}

/* ---- encodings ------------------------------------------------------------------------------- */

static int conv_is(const char *in, size_t len, const char *enc, const char *want)
{
    char *out = NULL;
    size_t olen = 0, bad = 99;
    int rc = csv_to_utf8(in, len, enc, &out, &olen, &bad);
    int ok = rc == 0 && out && olen == strlen(want) && !memcmp(out, want, olen) && !out[olen];
    if (!ok)
        printf("  %s: rc %d, '%.*s'\n", enc, rc, out ? (int)olen : 0, out ? out : "");
    free(out);
    return ok;
}

/* VG_EINVAL with *bad_offset == at, and *out untouched. */
static int conv_bad(const char *in, size_t len, const char *enc, size_t at)
{
    char sentinel;
    char *out = &sentinel;
    size_t olen = 12345, bad = 99;
    int rc = csv_to_utf8(in, len, enc, &out, &olen, &bad);
    int ok = rc == VG_EINVAL && bad == at && out == &sentinel && olen == 12345;
    if (!ok)
        printf("  %s: rc %d, bad_offset %zu (want %zu)\n", enc, rc, bad, at);
    if (rc == 0)
        free(out);
    return ok;
}

static void test_to_utf8(void)
{
    CHECK(conv_is(S("caf\xe9"), "ISO-8859-1", "caf\xc3\xa9"));
    CHECK(conv_is(S("\xe9"), "latin1", "\xc3\xa9"));
    CHECK(conv_is(S("\xe9"), "Latin1", "\xc3\xa9"));
    CHECK(conv_is(S("\xe9"), "iso-8859-1", "\xc3\xa9"));
    CHECK(conv_is(S("\x80"), "WINDOWS-1252", "\xe2\x82\xac"));
    CHECK(conv_is(S("\x92"), "windows-1252", "\xe2\x80\x99"));
    CHECK(conv_is(S("a\x80"
                    "b\x92"),
                  "cp1252", "a\xe2\x82\xac" "b\xe2\x80\x99"));
    CHECK(conv_is(S("\x80"), "CP1252", "\xe2\x82\xac"));
    CHECK(conv_is(S("a\0b\0"), "UTF-16LE", "ab")); /* any name iconv knows */
    CHECK(conv_is("", 0, "WINDOWS-1252", ""));
    CHECK(conv_is("", 0, "UTF-8", ""));

    /* Output growth (E2BIG): 3 output bytes per input byte. */
    size_t n = 100000;
    char *in = malloc(n);
    REQUIRE(in);
    memset(in, 0x80, n);
    char *out = NULL;
    size_t olen = 0, bad = 0;
    CHECK_EQ_INT(csv_to_utf8(in, n, "WINDOWS-1252", &out, &olen, &bad), 0);
    CHECK_EQ_INT(olen, 3 * n);
    int good = out && !out[olen];
    for (size_t i = 0; good && i < n; i++)
        good = !memcmp(out + 3 * i, "\xe2\x82\xac", 3);
    CHECK(good);
    free(out);
    free(in);

    /* Bytes invalid in the source encoding. */
    CHECK(conv_bad(S("ab\x81" "cd"), "WINDOWS-1252", 2)); /* 0x81 is unassigned */
    CHECK(conv_bad(S("a\0b"), "UTF-16LE", 2));            /* truncated at the end */

    /* UTF-8: validated and copied. */
    CHECK(conv_is(S("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"), "UTF-8",
                  "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"));
    CHECK(conv_is(S("\xEF\xBB\xBFx"), "utf8", "\xEF\xBB\xBFx")); /* the BOM is csv_init's */
    CHECK(conv_bad(S("ab\xc3("), "UTF-8", 2));
    CHECK(conv_bad(S("abc\xe2\x82"), "utf-8", 3)); /* truncated */
    CHECK(conv_bad(S("\xc0\xaf"), "UTF-8", 0));    /* overlong */
    CHECK(conv_bad(S("xy\xed\xa0\x80"), "UTF-8", 2)); /* surrogate */
    CHECK(conv_bad(S("\xc3\xa9\xe9"), "UTF-8", 2));   /* Latin-1 in a UTF-8 file */

    /* Unknown encodings. */
    CHECK(conv_bad(S("abc"), "NO-SUCH-ENCODING-42", 0));
    CHECK(conv_bad(S("abc"), "", 0));
}

/* ---- csv_find -------------------------------------------------------------------------------- */

static void test_find(void)
{
    static const char in[] = " id ,\tname\t,\" value \",value,,D\xc3\xa9" "bit\n";
    csv_init(&g_c, S(in), ',');
    REQUIRE(csv_next(&g_c) == 1);
    CHECK_EQ_INT(csv_find(&g_c, "id"), 0);
    CHECK_EQ_INT(csv_find(&g_c, "name"), 1);
    CHECK_EQ_INT(csv_find(&g_c, "value"), 2); /* the first match, quoted spaces trimmed too */
    CHECK_EQ_INT(csv_find(&g_c, ""), 4);
    CHECK_EQ_INT(csv_find(&g_c, "D\xc3\xa9" "bit"), 5);
    CHECK_EQ_INT(csv_find(&g_c, "Name"), -1); /* exact case */
    CHECK_EQ_INT(csv_find(&g_c, "nam"), -1);
    CHECK_EQ_INT(csv_find(&g_c, "missing"), -1);
    csv_release(&g_c);

    const char *p = " \t a b\t ";
    size_t n = strlen(p);
    csv_trim(&p, &n);
    CHECK(span_eq(p, n, "a b"));
    p = " \t ";
    n = 3;
    csv_trim(&p, &n);
    CHECK_EQ_INT(n, 0);
}

/* ---- throughput ------------------------------------------------------------------------------ */

static void test_throughput(void)
{
    size_t cap = (20u << 20) + 4096, n = 0, rows = 0;
    char *text = malloc(cap);
    REQUIRE(text);
    while (n < (20u << 20)) {
        n += (size_t)snprintf(text + n, cap - n,
                              "%zu,sensor-%05zu,2024-01-04T22:%02zu:00Z,%zu.%zu,%zu,"
                              "\"Paris, %zue\",Fluide,%zu,48.85%04zu,2.35%04zu\r\n",
                              rows, rows % 3000, rows % 60, rows % 997, rows % 10, rows % 5000,
                              rows % 20 + 1, rows % 7, rows % 9999, rows % 8888);
        rows++;
    }
    int64_t t0 = clock_mono_ns();
    csv_init(&g_c, text, n, ',');
    size_t got = 0, bytes = 0, badrows = 0;
    int rc;
    while ((rc = csv_next(&g_c)) != 0) {
        got++;
        badrows += rc < 0 || g_c.nf != 10;
        bytes += g_c.fl[9];
    }
    double s = (double)(clock_mono_ns() - t0) / 1e9;
    csv_release(&g_c);
    CHECK_EQ_INT(got, rows);
    CHECK_EQ_INT(badrows, 0);
    CHECK(bytes > 0);
    printf("  throughput: %.2f M rows/s, %.0f MB/s (%zu rows of 10 fields, %.1f MB)\n",
           (double)got / s / 1e6, (double)n / s / 1e6, got, (double)n / 1e6);
    free(text);
}

int main(void)
{
    TEST_BEGIN("csv");
    TEST_RUN(test_basic);
    TEST_RUN(test_quoting);
    TEST_RUN(test_line_ends);
    TEST_RUN(test_malformed);
    TEST_RUN(test_limits);
    TEST_RUN(test_roundtrip);
    TEST_RUN(test_to_utf8);
    TEST_RUN(test_find);
    TEST_RUN(test_throughput);
    return TEST_END();
}
