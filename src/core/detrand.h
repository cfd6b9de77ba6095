/*
** core/detrand.h: deterministic randomness for generators (the demo city, the labelled incident
** generator): every number is a pure function of (seed, salt, a, b) through a counter-based
** hash (splitmix64's finaliser), never of a stream, so any window of generated data can be
** produced alone and gives the same values. Inline: the generators call these per value.
** Owns: nothing. Thread: pure.
*/
#ifndef VG_CORE_DETRAND_H
#define VG_CORE_DETRAND_H

#include "core/clock.h" /* clock_floor_div */

#include <math.h>
#include <stdint.h>

/* The splitmix64 finaliser: a bijective mix of x. */
static inline uint64_t det_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static inline uint64_t det_hash(uint64_t seed, uint64_t salt, uint64_t a, uint64_t b)
{
    uint64_t h = det_mix64(seed + 0x9e3779b97f4a7c15ULL * salt);
    h = det_mix64(h ^ (a * 0xd6e8feb86659fd93ULL + 1));
    return det_mix64(h ^ (b * 0xa0761d6478bd642fULL + 7));
}

static inline double det_u01(uint64_t h)
{
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

static inline double det_gauss(uint64_t h)
{
    double u1 = ((double)(h >> 32) + 0.5) / 4294967296.0;
    double u2 = (double)(h & 0xffffffffu) / 4294967296.0;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* Smooth random signal, about N(0,1), with knots every knot_ms. */
static inline double det_vnoise(uint64_t seed, uint64_t salt, uint64_t idx, int64_t t, int64_t knot_ms)
{
    int64_t k = clock_floor_div(t, knot_ms);
    double f = (double)(t - k * knot_ms) / (double)knot_ms;
    double s = f * f * (3.0 - 2.0 * f);
    double a = det_gauss(det_hash(seed, salt, idx, (uint64_t)k));
    double b = det_gauss(det_hash(seed, salt, idx, (uint64_t)(k + 1)));
    return a + (b - a) * s;
}

#endif
