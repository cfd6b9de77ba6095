/*
** ingest/lineproto.c: InfluxDB line protocol parser, the hot path of POST /write.
** Owns: the scratch buffer inside struct lp_parser (reset at the start of every line).
** Borrows: the input buffer. Names and values in a returned lp_line point into the input, or into
**   ps->scratch when escapes had to be removed; scratch pointers are valid until the next
**   lp_next() call on the same parser, input pointers as long as the input buffer.
** Grammar, escapes and what is rejected: docs/internals/lineproto.md.
** Thread: one parser per thread; no globals except the const tables below.
**
** One pass over the bytes of a line: every scanner stops at '\n' (and at NUL), so a line is never
** searched for its end first. Errors are rare: only then is the rest of the line looked at again
** (to find its end, a NUL byte, or an over-long line).
*/
#include "ingest/lineproto.h"

#include "core/buf.h"
#include "core/vg.h"

#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define COLD __attribute__((cold, noinline))
#else
#define LIKELY(x) (x)
#define UNLIKELY(x) (x)
#define COLD
#endif

/* Byte classes. A scanner runs while (cls[byte] & its stop bit) == 0. */
enum lp_cls {
    K_MEAS = 1 << 0,  /* ends a measurement run: ',' ' ' '\\' '\n' NUL */
    K_NAME = 1 << 1,  /* ends a tag key/value or field key run: ',' '=' ' ' '\\' '\n' NUL */
    K_STR = 1 << 2,   /* ends a plain run inside a string value: '"' '\\' '\n' NUL */
    K_DELIM = 1 << 3, /* ends a number or bool token: ',' ' ' '\t' '\r' '\n' */
    K_WS = 1 << 4,    /* skipped between sections: ' ' '\t' '\r' */
    E_MEAS = 1 << 5,  /* may follow '\\' in a measurement: ',' ' ' */
    E_NAME = 1 << 6,  /* may follow '\\' in a tag key/value or field key: ',' '=' ' ' */
};

static const uint8_t cls[256] = {
    [0] = K_MEAS | K_NAME | K_STR,
    ['\n'] = K_MEAS | K_NAME | K_STR | K_DELIM,
    [','] = K_MEAS | K_NAME | K_DELIM | E_MEAS | E_NAME,
    [' '] = K_MEAS | K_NAME | K_DELIM | K_WS | E_MEAS | E_NAME,
    ['='] = K_NAME | E_NAME,
    ['\\'] = K_MEAS | K_NAME | K_STR,
    ['"'] = K_STR,
    ['\t'] = K_DELIM | K_WS,
    ['\r'] = K_DELIM | K_WS,
};

/* Exact powers of ten as doubles (10^22 is the largest exact one) and as integers. */
static const double pow10_f64[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};
static const uint64_t pow10_u64[20] = {
    1ull,
    10ull,
    100ull,
    1000ull,
    10000ull,
    100000ull,
    1000000ull,
    10000000ull,
    100000000ull,
    1000000000ull,
    10000000000ull,
    100000000000ull,
    1000000000000ull,
    10000000000000ull,
    100000000000000ull,
    1000000000000000ull,
    10000000000000000ull,
    100000000000000000ull,
    1000000000000000000ull,
    10000000000000000000ull,
};

#define MAX_SIG_DIGITS 19 /* any 19-digit decimal fits in a uint64_t */
#define TWO_POW_53 (1ull << 53)
#define ERR_TOK_MAX 64    /* bytes of a name or token quoted in an error message */
#define STRTOD_STACK 128  /* longer float tokens are copied to the heap for strtod */

/* Clinger's fast path is exact only when double arithmetic is not done in extended precision. */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define LP_FAST_FLOAT 1
#else
#define LP_FAST_FLOAT 0
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define LP_SWAR 1
#else
#define LP_SWAR 0
#endif

/* Per-line parse state. */
struct lpctx {
    struct lp_parser *ps;
    const char *ls;   /* first byte of the line */
    const char *le;   /* scan bound: end of input, or ls + LP_MAX_LINE */
    const char *epos; /* where the error was detected */
    char *err;
    size_t cap;
};

static inline int is_digit(char ch)
{
    return (unsigned char)(ch - '0') < 10;
}

static inline int at_eol(const char *q, const char *le)
{
    return q == le || *q == '\n';
}

static inline const char *skip_ws(const char *q, const char *le)
{
    while (q < le && (cls[(uint8_t)*q] & K_WS))
        q++;
    return q;
}

/* Copy n bytes of s for an error message: at most ERR_TOK_MAX, control bytes shown as '?'. */
static const char *err_tok(char *dst, size_t dcap, const char *s, size_t n)
{
    size_t i, k = 0, lim = VG_MIN(n, (size_t)ERR_TOK_MAX);
    for (i = 0; i < lim && k + 1 < dcap; i++) {
        unsigned char ch = (unsigned char)s[i];
        dst[k++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    if (n > lim && k + 4 < dcap) {
        memcpy(dst + k, "...", 3);
        k += 3;
    }
    dst[k] = '\0';
    return dst;
}

/* Record an error detected at pos; always returns VG_EINVAL. */
static COLD int fail(struct lpctx *c, const char *pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct lpctx *c, const char *pos, const char *fmt, ...)
{
    va_list ap;
    c->epos = pos;
    if (c->err && c->cap) {
        va_start(ap, fmt);
        vsnprintf(c->err, c->cap, fmt, ap);
        va_end(ap);
    }
    return VG_EINVAL;
}

/* Same, with the subject (a name, unescaped) quoted after the message. */
static COLD int fail_name(struct lpctx *c, const char *pos, const char *what, const char *name,
                          uint32_t nlen)
{
    char t[ERR_TOK_MAX + 8];
    return fail(c, pos, "%s '%s'", what, err_tok(t, sizeof(t), name, nlen));
}

/* Error for a field value: "<what> '<token>' for field '<key>'". The token runs from s to the
** next delimiter. */
static COLD int fail_value(struct lpctx *c, const char *s, const char *what, const char *key,
                           uint32_t klen)
{
    char t[ERR_TOK_MAX + 8], k[ERR_TOK_MAX + 8];
    const char *e = s;
    while (e < c->le && !(cls[(uint8_t)*e] & K_DELIM))
        e++;
    return fail(c, s, "%s '%s' for field '%s'", what, err_tok(t, sizeof(t), s, (size_t)(e - s)),
                err_tok(k, sizeof(k), key, klen));
}

/* Slow path of scan_name: the run starting at s holds a backslash. Unescape it into scratch. */
static COLD int unescape_name(struct lpctx *c, const char *s, const char **qp, uint8_t stop,
                              uint8_t esc, const char **np, uint32_t *nl)
{
    struct lp_parser *ps = c->ps;
    char *dst = ps->scratch + ps->scratch_used;
    size_t room = LP_SCRATCH - ps->scratch_used, n = 0;
    const char *q = s, *le = c->le;

    while (q < le) {
        char ch = *q;
        if (ch == '\\') {
            /* An escapable byte after the backslash is taken literally; otherwise the backslash
            ** itself is literal and the next byte is looked at on its own (InfluxDB 1.x/2.x). */
            if (q + 1 < le && (cls[(uint8_t)q[1]] & esc)) {
                ch = q[1];
                q += 2;
            } else {
                q++;
            }
        } else if (cls[(uint8_t)ch] & stop) {
            break;
        } else {
            q++;
        }
        if (UNLIKELY(n >= room))
            return fail(c, q, "line too long after unescaping");
        dst[n++] = ch;
    }
    ps->scratch_used += n;
    *np = dst;
    *nl = (uint32_t)n;
    *qp = q;
    return VG_OK;
}

/* First byte at or after q (before le) whose class has a bit of stop set, or le. A plain byte loop:
** an SSE2 16-byte compare version measured 1.6x slower on the short names typical here. */
static inline const char *find_stop(const char *q, const char *le, uint8_t stop)
{
    while (q < le && !(cls[(uint8_t)*q] & stop))
        q++;
    return q;
}

/* Scan a measurement (stop K_MEAS, esc E_MEAS) or a key/tag value (K_NAME, E_NAME) at *qp.
** Zero-copy unless a backslash occurs. *qp is left on the byte that ended the name. */
static inline int scan_name(struct lpctx *c, const char **qp, uint8_t stop, uint8_t esc,
                            const char **np, uint32_t *nl)
{
    const char *s = *qp, *q = find_stop(s, c->le, stop), *le = c->le;
    if (UNLIKELY(q < le && *q == '\\'))
        return unescape_name(c, s, qp, stop, esc, np, nl);
    *np = s;
    *nl = (uint32_t)(q - s);
    *qp = q;
    return VG_OK;
}

#if LP_SWAR
static inline uint64_t load8(const char *q)
{
    uint64_t v;
    memcpy(&v, q, 8);
    return v;
}

/* Eight ASCII digits? Every byte 0x30..0x3f, and still 0x30..0x3f after adding 6. */
static inline int all_digits8(uint64_t v)
{
    return (v & 0xf0f0f0f0f0f0f0f0ull) == 0x3030303030303030ull &&
           ((v + 0x0606060606060606ull) & 0xf0f0f0f0f0f0f0f0ull) == 0x3030303030303030ull;
}

/* Value of eight ASCII digits loaded little-endian (first digit in the low byte): combine
** neighbouring digits into 2-digit, then 4-digit, then the 8-digit number. */
static inline uint64_t digits8(uint64_t v)
{
    v -= 0x3030303030303030ull;
    v = (v * 10 + (v >> 8)) & 0x00ff00ff00ff00ffull;
    v = (v * 100 + (v >> 16)) & 0x0000ffff0000ffffull;
    v = (v * 10000 + (v >> 32)) & 0xffffffffull;
    return v;
}
#endif

/* Take at most max (<= 19) digits at q into *v (*v = *v * 10^k + digits) and return k. *v must
** stay below 10^(19 - max) on entry so the result fits. */
static inline size_t take_digits(const char *q, const char *le, size_t max, uint64_t *v)
{
    size_t n = 0;
    uint64_t acc = *v;
#if LP_SWAR
    while (max - n >= 8 && le - q >= 8) {
        uint64_t w = load8(q);
        if (!all_digits8(w))
            break;
        acc = acc * 100000000ull + digits8(w);
        q += 8;
        n += 8;
    }
#endif
    while (n < max && q < le && is_digit(*q)) {
        acc = acc * 10 + (uint64_t)(*q - '0');
        q++;
        n++;
    }
    *v = acc;
    return n;
}

/* strtod on a NUL-terminated copy of [s, e), a token already checked against the grammar. */
static COLD int float_slow(const char *s, const char *e, double *out)
{
    char stack[STRTOD_STACK], *buf = stack, *endp;
    size_t n = (size_t)(e - s);
    int rc = VG_EINVAL;
    double v;

    if (n >= sizeof(stack))
        buf = vg_malloc(n + 1); /* n < LP_MAX_LINE */
    memcpy(buf, s, n);
    buf[n] = '\0';
    v = strtod(buf, &endp);
    if (endp != buf + n)
        goto out;
    if (v > DBL_MAX || v < -DBL_MAX) { /* overflow: InfluxDB rejects it, and inf/NaN too */
        rc = VG_ETOOBIG;
        goto out;
    }
    *out = v;
    rc = VG_OK;
out:
    if (buf != stack)
        free(buf);
    return rc;
}

/* A value starting with a digit, '-' or '.': float, or integer with an 'i' or 'u' suffix.
**   [-] digits [. digits] [(e|E) [+|-] digits]      at least one mantissa digit
**   [-] digits i       [-] digits u               (no '.', no exponent)
*/
static inline int parse_number(struct lpctx *c, const char **qp, struct lp_field *f)
{
    const char *s = *qp, *q = s, *le = c->le, *ds;
    uint64_t m = 0;
    size_t nsig, n, ndig;
    int neg = 0, dexp = 0, slow = 0, dot = 0, hasexp = 0, e10;
    char t;

    if (*q == '-') {
        neg = 1;
        q++;
    }
    ds = q;
    while (q < le && *q == '0')
        q++;
    nsig = take_digits(q, le, MAX_SIG_DIGITS, &m);
    q += nsig;
    while (q < le && is_digit(*q)) { /* beyond 19 significant digits */
        q++;
        dexp++;
        slow = 1;
    }
    ndig = (size_t)(q - ds);
    if (q < le && *q == '.') {
        const char *fs = ++q;
        dot = 1;
        if (nsig == 0) {
            while (q < le && *q == '0') {
                q++;
                dexp--;
            }
        }
        n = take_digits(q, le, MAX_SIG_DIGITS - nsig, &m);
        q += n;
        nsig += n;
        dexp -= (int)n;
        while (q < le && is_digit(*q)) {
            q++;
            slow = 1;
        }
        ndig += (size_t)(q - fs);
    }
    e10 = dexp;
    if (q < le && (*q == 'e' || *q == 'E')) {
        int eneg = 0, ev = 0;
        const char *es;
        hasexp = 1;
        q++;
        if (q < le && (*q == '+' || *q == '-')) {
            eneg = *q == '-';
            q++;
        }
        es = q;
        while (q < le && is_digit(*q)) {
            if (ev < 100000) /* past this strtod decides (inf or 0) */
                ev = ev * 10 + (*q - '0');
            q++;
        }
        if (q == es)
            return fail_value(c, s, "invalid float value", f->key, f->klen);
        e10 += eneg ? -ev : ev;
    }
    t = q < le ? *q : '\n';

    if (UNLIKELY(t == 'i' || t == 'u')) {
        const char *after = q + 1;
        int is_u = t == 'u';
        if (!(after == le || (cls[(uint8_t)*after] & K_DELIM)))
            return fail_value(c, s, "invalid float value", f->key, f->klen);
        if (ndig == 0 || dot || hasexp || (is_u && neg))
            return fail_value(c, s, is_u ? "invalid unsigned value" : "invalid integer value",
                              f->key, f->klen);
        if (slow || m > (uint64_t)INT64_MAX + (uint64_t)neg)
            return fail_value(c, s,
                              is_u ? "unsigned value out of range" : "integer value out of range",
                              f->key, f->klen);
        f->vt = VT_I64;
        /* -(2^63) is representable; compute without signed overflow */
        f->v.i = neg ? (int64_t)(0 - m) : (int64_t)m;
        *qp = after;
        return VG_OK;
    }
    if (UNLIKELY(!(cls[(uint8_t)t] & K_DELIM)) || UNLIKELY(ndig == 0))
        return fail_value(c, s, "invalid float value", f->key, f->klen);

    f->vt = VT_F64;
    *qp = q;
#if LP_FAST_FLOAT
    if (LIKELY(!slow)) {
        double v;
        if (m == 0) {
            f->v.f = neg ? -0.0 : 0.0;
            return VG_OK;
        }
        if (LIKELY(m <= TWO_POW_53)) {
            /* Clinger: m and 10^|e10| are exact doubles, so one IEEE operation rounds once. */
            if (e10 >= 0 && e10 <= 22) {
                v = (double)m * pow10_f64[e10];
                f->v.f = neg ? -v : v;
                return VG_OK;
            }
            if (e10 < 0 && e10 >= -22) {
                v = (double)m / pow10_f64[-e10];
                f->v.f = neg ? -v : v;
                return VG_OK;
            }
            /* 12e30: move some of the exponent into the mantissa while it stays exact */
            if (e10 > 22 && e10 <= 22 + 18) {
                uint64_t p = pow10_u64[e10 - 22];
                if (m <= TWO_POW_53 / p) {
                    v = (double)(m * p) * 1e22;
                    f->v.f = neg ? -v : v;
                    return VG_OK;
                }
            }
        }
    }
#endif
    {
        int rc = float_slow(s, q, &f->v.f);
        if (rc == VG_ETOOBIG)
            return fail_value(c, s, "float value out of range", f->key, f->klen);
        if (rc)
            return fail_value(c, s, "invalid float value", f->key, f->klen);
    }
    return VG_OK;
}

/* Slow path of parse_string: the value (opening quote at s - 1) holds a backslash. \" and \\
** are escapes; a backslash before any other byte is kept. */
static COLD int unescape_string(struct lpctx *c, const char *s, const char **qp,
                                struct lp_field *f)
{
    struct lp_parser *ps = c->ps;
    char *dst = ps->scratch + ps->scratch_used;
    size_t room = LP_SCRATCH - ps->scratch_used, n = 0;
    const char *q = s, *le = c->le;

    for (;;) {
        char ch;
        if (q == le || *q == '\n' || *q == '\0')
            return fail_name(c, q, "unterminated string value for field", f->key, f->klen);
        ch = *q;
        if (ch == '"')
            break;
        if (ch == '\\' && q + 1 < le && (q[1] == '"' || q[1] == '\\')) {
            ch = q[1];
            q += 2;
        } else {
            q++;
        }
        if (UNLIKELY(n >= room))
            return fail(c, q, "line too long after unescaping");
        dst[n++] = ch;
    }
    ps->scratch_used += n;
    f->v.s.p = dst;
    f->v.s.len = (uint32_t)n;
    *qp = q + 1;
    return VG_OK;
}

/* "..." at *qp (on the opening quote). */
static inline int parse_string(struct lpctx *c, const char **qp, struct lp_field *f)
{
    const char *s = *qp + 1, *q = s, *le = c->le;
    int rc;

    f->vt = VT_STR;
    q = find_stop(q, le, K_STR);
    if (LIKELY(q < le && *q == '"')) {
        f->v.s.p = s;
        f->v.s.len = (uint32_t)(q - s);
        q++;
    } else if (q < le && *q == '\\') {
        rc = unescape_string(c, s, &q, f);
        if (rc)
            return rc;
    } else {
        return fail_name(c, q, "unterminated string value for field", f->key, f->klen);
    }
    if (UNLIKELY(q < le && !(cls[(uint8_t)*q] & K_DELIM)))
        return fail_name(c, q, "unexpected data after string value for field", f->key, f->klen);
    *qp = q;
    return VG_OK;
}

/* Anything else: a bool (t T true True TRUE f F false False FALSE). */
static inline int parse_word(struct lpctx *c, const char **qp, struct lp_field *f)
{
    const char *s = *qp, *q = s, *le = c->le;
    size_t n;
    int b = -1;

    while (q < le && !(cls[(uint8_t)*q] & K_DELIM))
        q++;
    n = (size_t)(q - s);
    if (n == 0)
        return fail_name(c, s, "missing value for field", f->key, f->klen);
    if (n == 1) {
        if (*s == 't' || *s == 'T')
            b = 1;
        else if (*s == 'f' || *s == 'F')
            b = 0;
    } else if (n == 4) {
        if (!memcmp(s, "true", 4) || !memcmp(s, "True", 4) || !memcmp(s, "TRUE", 4))
            b = 1;
    } else if (n == 5) {
        if (!memcmp(s, "false", 5) || !memcmp(s, "False", 5) || !memcmp(s, "FALSE", 5))
            b = 0;
    }
    if (b < 0)
        return fail_value(c, s, "invalid float value", f->key, f->klen);
    f->vt = VT_BOOL;
    f->v.i = b;
    *qp = q;
    return VG_OK;
}

/* [-]digits, then only whitespace up to the end of the line. */
static inline int parse_timestamp(struct lpctx *c, const char **qp, struct lp_line *out)
{
    const char *q = *qp, *le = c->le, *ds;
    uint64_t v = 0;
    size_t n;
    int neg = 0;

    if (*q == '-') {
        neg = 1;
        q++;
    }
    ds = q;
    while (q < le && *q == '0')
        q++;
    n = take_digits(q, le, MAX_SIG_DIGITS, &v);
    q += n;
    if (UNLIKELY(q == ds))
        return fail(c, q, "invalid timestamp");
    if (UNLIKELY(q < le && is_digit(*q)) || UNLIKELY(v > (uint64_t)INT64_MAX + (uint64_t)neg))
        return fail(c, *qp, "timestamp out of range");
    if (UNLIKELY(q < le && *q != '\n' && !(cls[(uint8_t)*q] & K_WS)))
        return fail(c, q, "invalid timestamp");
    q = skip_ws(q, le);
    if (UNLIKELY(!at_eol(q, le)))
        return fail(c, q, "unexpected data after timestamp");
    out->has_ts = 1;
    out->ts = neg ? (int64_t)(0 - v) : (int64_t)v;
    *qp = q;
    return VG_OK;
}

/* Keep the field just parsed into out->fields[out->nfields]. A repeated key replaces the earlier
** value in place (last one wins, first position kept). */
static inline void add_field(struct lp_line *out)
{
    struct lp_field *f = &out->fields[out->nfields];
    uint32_t i;
    for (i = 0; i < out->nfields; i++) {
        struct lp_field *o = &out->fields[i];
        if (UNLIKELY(o->klen == f->klen && !memcmp(o->key, f->key, f->klen))) {
            o->vt = f->vt;
            o->v = f->v;
            return;
        }
    }
    out->nfields++;
}

/* Parse the line whose first non-blank byte is at q. On success *qp is at its end ('\n' or
** c->le). */
static int parse_line(struct lpctx *c, const char **qp, struct lp_line *out)
{
    const char *q = *qp, *le = c->le;
    int rc;

    out->ntags = 0;
    out->nfields = 0;
    out->has_ts = 0;
    out->ts = 0;

    rc = scan_name(c, &q, K_MEAS, E_MEAS, &out->meas, &out->mlen);
    if (rc)
        return rc;
    if (UNLIKELY(out->mlen == 0))
        return fail(c, q, "missing measurement");

    while (q < le && *q == ',') {
        /* parsed in place: building a struct on the stack and copying it costs a store-forwarding
        ** stall per tag */
        struct vg_tag *t = &out->tags[out->ntags];
        uint32_t i;
        if (UNLIKELY(out->ntags == LP_MAX_TAGS))
            return fail(c, q, "too many tags (max %d)", LP_MAX_TAGS);
        q++;
        rc = scan_name(c, &q, K_NAME, E_NAME, &t->key, &t->klen);
        if (rc)
            return rc;
        if (UNLIKELY(t->klen == 0))
            return fail(c, q, "missing tag key");
        if (UNLIKELY(q == le || *q != '='))
            return fail_name(c, q, "missing '=' after tag key", t->key, t->klen);
        q++;
        rc = scan_name(c, &q, K_NAME, E_NAME, &t->val, &t->vlen);
        if (rc)
            return rc;
        if (UNLIKELY(t->vlen == 0))
            return fail_name(c, q, "empty tag value for tag", t->key, t->klen);
        if (UNLIKELY(q < le && *q == '='))
            return fail_name(c, q, "unescaped '=' in value of tag", t->key, t->klen);
        for (i = 0; i < out->ntags; i++) {
            if (out->tags[i].klen == t->klen && !memcmp(out->tags[i].key, t->key, t->klen))
                return fail_name(c, q, "duplicate tag key", t->key, t->klen);
        }
        out->ntags++;
    }
    if (UNLIKELY(q == le || *q != ' '))
        return fail(c, q, "missing fields");
    q = skip_ws(q, le);
    if (UNLIKELY(at_eol(q, le)))
        return fail(c, q, "missing fields");

    for (;;) {
        struct lp_field *f = &out->fields[out->nfields]; /* in place, as for tags */
        char ch;
        if (UNLIKELY(out->nfields == LP_MAX_FIELDS))
            return fail(c, q, "too many fields (max %d)", LP_MAX_FIELDS);
        rc = scan_name(c, &q, K_NAME, E_NAME, &f->key, &f->klen);
        if (rc)
            return rc;
        if (UNLIKELY(f->klen == 0))
            return fail(c, q, "missing field key");
        if (UNLIKELY(q == le || *q != '='))
            return fail_name(c, q, "missing '=' after field key", f->key, f->klen);
        q++;
        ch = q < le ? *q : '\n';
        if (is_digit(ch) || ch == '-' || ch == '.')
            rc = parse_number(c, &q, f);
        else if (ch == '"')
            rc = parse_string(c, &q, f);
        else
            rc = parse_word(c, &q, f);
        if (rc)
            return rc;
        add_field(out);
        if (q < le && *q == ',') {
            q++;
            continue;
        }
        break;
    }
    /* q is on ' ', '\t', '\r', '\n' or le */
    q = skip_ws(q, le);
    if (!at_eol(q, le)) {
        rc = parse_timestamp(c, &q, out);
        if (rc)
            return rc;
    }
    *qp = q;
    return VG_OK;
}

/* Error path of lp_next: find the end of the bad line, refine the message, fill out->raw. */
static COLD void finish_bad_line(struct lpctx *c, struct lp_line *out, const char **nextp)
{
    struct lp_parser *ps = c->ps;
    const char *from = c->epos ? c->epos : c->ls;
    const char *nl = memchr(from, '\n', (size_t)(ps->end - from));
    const char *e = nl ? nl : ps->end;
    const char *z;

    if ((size_t)(e - c->ls) > LP_MAX_LINE) {
        fail(c, c->ls, "line too long (max %u bytes)", (unsigned)LP_MAX_LINE);
        /* report only the first LP_MAX_LINE bytes so raw_len fits the contract */
        out->raw_len = LP_MAX_LINE;
    } else {
        z = memchr(c->ls, '\0', (size_t)(e - c->ls));
        if (z)
            fail(c, z, "invalid nul byte at column %u", (unsigned)(z - c->ls + 1));
        out->raw_len = (uint32_t)(e - c->ls);
        if (out->raw_len && c->ls[out->raw_len - 1] == '\r')
            out->raw_len--;
    }
    out->raw = c->ls;
    *nextp = nl ? nl + 1 : ps->end;
}

void lp_init(struct lp_parser *ps, const char *buf, size_t len)
{
    ps->p = buf;
    ps->end = buf ? buf + len : buf;
    ps->lineno = 0;
    ps->scratch_used = 0;
}

int lp_next(struct lp_parser *ps, struct lp_line *out, char *err, size_t cap)
{
    const char *p = ps->p, *end = ps->end;
    struct lpctx c;
    int rc;

    c.ps = ps;
    c.err = err;
    c.cap = cap;
    if (err && cap)
        err[0] = '\0';
    for (;;) {
        const char *q;
        if (p >= end) {
            ps->p = p;
            return 0;
        }
        ps->lineno++;
        c.ls = p;
        c.le = (size_t)(end - p) > LP_MAX_LINE ? p + LP_MAX_LINE : end;
        c.epos = NULL;
        q = skip_ws(p, c.le);
        if (q < c.le && *q == '#') { /* comment: skipped whole, whatever it holds */
            const char *nl = memchr(q, '\n', (size_t)(end - q));
            p = nl ? nl + 1 : end;
            continue;
        }
        if (q == end || *q == '\n') { /* blank */
            p = q == end ? end : q + 1;
            continue;
        }
        ps->scratch_used = 0;
        out->lineno = ps->lineno;
        rc = parse_line(&c, &q, out);
        if (LIKELY(rc == VG_OK)) {
            if (LIKELY(q < end && *q == '\n')) {
                p = q + 1;
            } else if (q == end) {
                p = end;
            } else { /* stopped at c.le inside the line */
                fail(&c, q, "line too long");
                rc = VG_EINVAL;
            }
        }
        if (UNLIKELY(rc != VG_OK)) {
            finish_bad_line(&c, out, &p);
            ps->p = p;
            return VG_EINVAL;
        }
        out->raw = c.ls;
        out->raw_len = (uint32_t)(q - c.ls);
        if (out->raw_len && c.ls[out->raw_len - 1] == '\r')
            out->raw_len--;
        ps->p = p;
        return 1;
    }
}

int lp_precision_parse(const char *s)
{
    if (!s || !*s)
        return LP_NS;
    if (!strcmp(s, "ns") || !strcmp(s, "n"))
        return LP_NS;
    if (!strcmp(s, "us") || !strcmp(s, "u"))
        return LP_US;
    if (!strcmp(s, "ms"))
        return LP_MS;
    if (!strcmp(s, "s"))
        return LP_S;
    return -1; /* includes "h" and "m": not supported */
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && a < 0)
        q--;
    return q;
}

int64_t lp_ts_to_ms(int64_t ts, enum lp_precision prec)
{
    switch (prec) {
    case LP_US: return floor_div(ts, 1000);
    case LP_MS: return ts;
    case LP_S:
        /* saturate: a timestamp this far out is rejected later as out of range anyway */
        if (ts > INT64_MAX / 1000)
            return INT64_MAX;
        if (ts < INT64_MIN / 1000)
            return INT64_MIN;
        return ts * 1000;
    case LP_NS:
    default: return floor_div(ts, 1000000);
    }
}

void lp_put_string(struct buf *b, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '\n' && s[j] != '\r')
            j++;
        lp_escape(b, s + i, j - i, LP_ESC_STRING);
        if (j < n)
            (void)buf_putc(b, ' ');
        i = j + 1;
    }
}

void lp_escape(struct buf *b, const char *s, size_t n, const char *esc)
{
    const char *end = s + n;
    while (s < end) {
        const char *p = s;
        while (p < end && (!*p || !strchr(esc, *p)))
            p++;
        (void)buf_append(b, s, (size_t)(p - s)); /* cannot fail: no cap, OOM aborts */
        if (p == end)
            return;
        (void)buf_putc(b, '\\');
        (void)buf_putc(b, *p);
        s = p + 1;
    }
}
