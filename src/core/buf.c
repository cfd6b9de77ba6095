/*
** core/buf.c: bounded growable buffer.
*/
#include "core/buf.h"

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
        while (j < n && !needs_escape((unsigned char)p[j]))
            j++;
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
        switch (c) {
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

int buf_json_double(struct buf *b, double v)
{
    static const double p10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
    if (!isfinite(v))
        return buf_append(b, "null", 4);
    /* Fast exact path for the values sensors send (few decimals): when iv / 10^d == v with
    ** iv < 2^53, the decimal iv/10^d parses back to exactly v (one correctly rounded division),
    ** so it is a valid round-trip representation. -0.0 takes the general path. */
    if (fabs(v) < 9e14 && v != 0) {
        for (int d = 0; d <= 6; d++) {
            double sc = v * p10[d];
            double r = nearbyint(sc);
            if (fabs(r) < 9007199254740992.0 && r / p10[d] == v)
                return put_scaled(b, (int64_t)r, d);
        }
    } else if (v == 0 && !signbit(v)) {
        return buf_putc(b, '0');
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
