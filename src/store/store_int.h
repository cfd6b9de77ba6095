/*
** store/store_int.h: small helpers shared by the private parts of store/ (db.c, tests).
** PRIVATE to src/store/. Owns nothing.
*/
#ifndef VG_STORE_INT_H
#define VG_STORE_INT_H

#include <stdint.h>

/* floor(t / w) * w for w > 0, saturating at INT64_MIN. */
static inline int64_t store__align_down(int64_t t, int64_t w)
{
    int64_t q = t / w;
    if (t % w < 0)
        q--;
    int64_t r;
    if (__builtin_mul_overflow(q, w, &r))
        return INT64_MIN;
    return r;
}

/* a + b saturating at INT64_MAX/INT64_MIN. */
static inline int64_t store__sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* Varints (LEB128) and zigzag, used by the WAL record encoding of db.c. */
static inline uint8_t *store__put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Returns the bytes consumed, 0 on truncated/overlong input. */
static inline size_t store__get_varint(const uint8_t *p, size_t n, uint64_t *v)
{
    uint64_t r = 0;
    for (size_t i = 0; i < n && i < 10; i++) {
        r |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = r;
            return i + 1;
        }
    }
    return 0;
}

static inline uint64_t store__zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t store__unzigzag(uint64_t v)
{
    return (int64_t)((v >> 1) ^ (~(v & 1) + 1));
}

#endif
