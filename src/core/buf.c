/*
** core/buf.c: bounded growable buffer.
*/
#include "core/buf.h"
#include "core/utf8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t cap_max)
{
    b->p = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap_max = cap_max ? cap_max : (SIZE_MAX / 2);
}

void buf_release(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = 0;
    b->alloc = 0;
}

int buf_reserve(struct buf *b, size_t n)
{
    if (n > b->cap_max || b->len > b->cap_max - n)
        return VG_ETOOBIG;
    size_t need = b->len + n + 1;
    if (need <= b->alloc)
        return VG_OK;
    size_t a = b->alloc ? b->alloc : 64;
    while (a < need)
        a = a < (SIZE_MAX / 4) ? a * 2 : need;
    b->p = vg_realloc(b->p, a);
    b->alloc = a;
    return VG_OK;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
    return VG_OK;
}

int buf_putc(struct buf *b, char c)
{
    if (b->len + 2 <= b->alloc && b->len < b->cap_max) {
        b->p[b->len++] = c;
        b->p[b->len] = '\0';
        return VG_OK;
    }
    return buf_append(b, &c, 1);
}

int buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof(tmp), fmt, cp);
    va_end(cp);
    if (n < 0)
        return VG_EINVAL;
    if ((size_t)n < sizeof(tmp))
        return buf_append(b, tmp, (size_t)n);
    int rc = buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return VG_OK;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

static int needs_escape(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\';
}


/* Always emits valid JSON and valid UTF-8: bytes that are not UTF-8 become U+FFFD. */
int buf_json_str(struct buf *b, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    int rc = buf_reserve(b, n + 2);
    if (rc)
        return rc;
    b->p[b->len++] = '"';
    size_t i = 0;
    while (i < n) {
        /* Copy the longest run that needs no escaping in one go. */
        size_t j = i;
        for (;;) {
            if (j >= n)
                break;
            unsigned char cj = (unsigned char)p[j];
            if (cj < 0x80) {
                if (needs_escape(cj))
                    break;
                j++;
                continue;
            }
            size_t k = utf8_seq_len((const unsigned char *)p + j, n - j);
            if (!k)
                break;
            j += k;
        }
        if (j > i) {
            if ((rc = buf_reserve(b, j - i + 1)))
                return rc;
            memcpy(b->p + b->len, p + i, j - i);
            b->len += j - i;
            i = j;
            if (i == n)
                break;
        }
        unsigned char c = (unsigned char)p[i++];
        char esc[7];
        size_t el = 2;
        esc[0] = '\\';
        if (c >= 0x80) { /* not UTF-8 */
            memcpy(esc, "\\ufffd", 6);
            el = 6;
        } else switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
        }
        if ((rc = buf_reserve(b, el + 1)))
            return rc;
        memcpy(b->p + b->len, esc, el);
        b->len += el;
    }
    if ((rc = buf_reserve(b, 1)))
        return rc;
    b->p[b->len++] = '"';
    b->p[b->len] = '\0';
    return VG_OK;
}

/* Print iv / 10^d as a decimal ("-12.05"), trailing zeros of the fraction removed. */
static int put_scaled(struct buf *b, int64_t iv, int d)
{
    char tmp[40];
    int neg = iv < 0;
    uint64_t u = neg ? (uint64_t)0 - (uint64_t)iv : (uint64_t)iv;
    int i = (int)sizeof(tmp);
    int k = 0;
    while (k < d && u % 10 == 0) { /* drop trailing zeros */
        u /= 10;
        k++;
    }
    int frac = d - k;
    for (int f = 0; f < frac; f++) {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    }
    if (frac)
        tmp[--i] = '.';
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (neg)
        tmp[--i] = '-';
    return buf_append(b, tmp + i, sizeof(tmp) - (size_t)i);
}

/*
** Exact decimal digits of a double in [1e-5, 1e15) by fixed-point arithmetic: v = m * 2^-sh with
** m < 2^53 and 3 <= sh <= 70, so the integer part is m >> sh and the fraction F / 2^sh, whose
** digits come out exactly by repeated multiplication by 10 (64-bit while F*10 fits, else 128).
** Fills dig[0..17) (17 significant digits, truncated), sets *point = digits before the decimal
** point (negative: zeros after it) and *rem = the exact remainder compared with half a unit of
** the 17th digit: -1 below, 0 equal, 1 above; *rem_zero = 1 if the remainder is 0.
*/
static void exact_digits17(double v, char *dig, int *point, int *rem, int *rem_zero)
{
    int E;
    double f = frexp(v, &E); /* v = f * 2^E, f in [0.5, 1) */
    uint64_t m = (uint64_t)ldexp(f, 53);
    int sh = 53 - E;
    uint64_t ip = sh < 64 ? m >> sh : 0;
    unsigned __int128 one = (unsigned __int128)1 << sh;
    unsigned __int128 F = sh < 64 ? (unsigned __int128)(m & (((uint64_t)1 << sh) - 1)) : m;
    char tmp[24];
    int n = 0, ni = 0;
    if (ip) {
        while (ip) {
            tmp[ni++] = (char)('0' + ip % 10);
            ip /= 10;
        }
        for (int i = 0; i < ni; i++)
            dig[n++] = tmp[ni - 1 - i];
        *point = ni;
    } else {
        int z = 0; /* leading zeros of the fraction */
        for (;;) {
            F *= 10;
            int d = (int)(F >> sh);
            F &= one - 1;
            if (d) {
                dig[n++] = (char)('0' + d);
                break;
            }
            z++;
        }
        *point = -z;
    }
    if (sh <= 60) { /* F < 2^60: F * 10 fits in 64 bits */
        uint64_t f64 = (uint64_t)F, mask = ((uint64_t)1 << sh) - 1;
        while (n < 17) {
            f64 *= 10;
            dig[n++] = (char)('0' + (int)(f64 >> sh));
            f64 &= mask;
        }
        F = f64;
    } else {
        while (n < 17) {
            F *= 10;
            dig[n++] = (char)('0' + (int)(F >> sh));
            F &= one - 1;
        }
    }
    unsigned __int128 half = one >> 1;
    *rem = F > half ? 1 : F == half ? 0 : -1;
    *rem_zero = F == 0;
}

/* Round dig[0..keep) in place given what follows (next digits + remainder), half-even.
** Returns 1 if the rounding carried into a new leading digit (then *point grew by one). */
static int round_digits(char *dig, int keep, int up, int *point)
{
    if (!up)
        return 0;
    int i = keep - 1;
    while (i >= 0 && dig[i] == '9')
        dig[i--] = '0';
    if (i >= 0) {
        dig[i]++;
        return 0;
    }
    memmove(dig + 1, dig, (size_t)keep - 1); /* 99..9 -> 100..0 */
    dig[0] = '1';
    (*point)++;
    return 1;
}

/* Write digits dig[0..n) with the decimal point after `point` digits (negative: leading zeros). */
static int put_digits(struct buf *b, int neg, const char *dig, int n, int point)
{
    char out[48];
    int o = 0;
    while (n > 1 && dig[n - 1] == '0' && n > point)
        n--;
    if (neg)
        out[o++] = '-';
    if (point <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -point; i++)
            out[o++] = '0';
        for (int i = 0; i < n; i++)
            out[o++] = dig[i];
    } else {
        for (int i = 0; i < point; i++)
            out[o++] = i < n ? dig[i] : '0';
        if (n > point) {
            out[o++] = '.';
            for (int i = point; i < n; i++)
                out[o++] = dig[i];
        }
    }
    return buf_append(b, out, (size_t)o);
}

int buf_json_double(struct buf *b, double v)
{
    static const double p10[] = {1,    1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    if (!isfinite(v))
        return buf_append(b, "null", 4);
    /* Fast exact path for the values sensors send (few decimals): when iv / 10^d == v with
    ** iv < 2^53, the decimal iv/10^d parses back to exactly v (one correctly rounded division),
    ** so it is a valid round-trip representation. -0.0 takes the general path. */
    double av = fabs(v);
    if (av < 9e14 && v != 0) {
        for (int d = 0; d <= 6; d++) {
            double sc = v * p10[d];
            double r = nearbyint(sc);
            if (fabs(r) < 9007199254740992.0 && r / p10[d] == v)
                return put_scaled(b, (int64_t)r, d);
        }
    } else if (v == 0 && !signbit(v)) {
        return buf_putc(b, '0');
    }
    /* Other values in [1e-5, 1e15) (averages, ...): exact digits. 15 significant digits when
    ** they read back as v (checked exactly: N < 2^53 and 10^k <= 1e22, one rounding), else 17,
    ** which always round-trips. */
    if (av >= 1e-5 && av < 1e15) {
        char d17[17], d15[17];
        int p17, p15, rem, rem_zero;
        exact_digits17(av, d17, &p17, &rem, &rem_zero);
        /* 15 digits: round on digits 16-17 and the remainder (exact, half-even). */
        int tail = (d17[15] - '0') * 10 + (d17[16] - '0');
        int up15 = tail > 50 || (tail == 50 && (!rem_zero || ((d17[14] - '0') & 1)));
        memcpy(d15, d17, 15);
        p15 = p17;
        round_digits(d15, 15, up15, &p15);
        uint64_t N = 0;
        for (int i = 0; i < 15; i++)
            N = N * 10 + (uint64_t)(d15[i] - '0');
        int k = 15 - p15; /* value = N / 10^k */
        double back = -1;
        if (k >= 0 && k <= 22)
            back = (double)N / p10[k];
        else if (k < 0 && -k <= 22)
            back = (double)N * p10[-k];
        if (back == av)
            return put_digits(b, v < 0, d15, 15, p15);
        int up17 = rem > 0 || (rem == 0 && ((d17[16] - '0') & 1));
        round_digits(d17, 17, up17, &p17);
        return put_digits(b, v < 0, d17, 17, p17);
    }
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "%.15g", v);
    if (strtod(tmp, NULL) != v)
        n = snprintf(tmp, sizeof(tmp), "%.17g", v);
    return buf_append(b, tmp, (size_t)n);
}

int buf_u64(struct buf *b, uint64_t v)
{
    char tmp[24];
    int i = (int)sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return buf_append(b, tmp + i, sizeof(tmp) - (size_t)i);
}

int buf_i64(struct buf *b, int64_t v)
{
    if (v < 0) {
        int rc = buf_putc(b, '-');
        if (rc)
            return rc;
        return buf_u64(b, (uint64_t)0 - (uint64_t)v);
    }
    return buf_u64(b, (uint64_t)v);
}

char *buf_detach(struct buf *b, size_t *len)
{
    if (!b->p)
        buf_reserve(b, 0);
    char *p = b->p;
    if (len)
        *len = b->len;
    b->p = NULL;
    b->len = 0;
    b->alloc = 0;
    return p;
}
