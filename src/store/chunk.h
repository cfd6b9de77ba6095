/*
** store/chunk.h: the column codec of the engine. A chunk holds the points of one series for a
** time range: delta-of-delta timestamps and type-specific value columns (decimal-scaled integers
** or Gorilla XOR for floats, zigzag deltas for ints, run-length bits for bools, a chunk-local
** dictionary for strings, scaled fixed-point deltas for geo points), framed with a CRC-32C.
** Owns: nothing; callers pass the output buffer and the arrays.
** Format: docs/format/chunk.md.
** Thread: pure functions, any thread.
*/
#ifndef VG_STORE_CHUNK_H
#define VG_STORE_CHUNK_H

#include "core/buf.h"
#include "store/value.h"

#define CHUNK_MAX_POINTS (1u << 24)

/* Append the encoding of n points to out. ts must be strictly increasing (the caller merges and
** de-duplicates first). For VT_STR, v[i].s is read during the call only. Every bit of every value
** round-trips exactly (NaN payloads, -0.0, +-Inf included).
** Returns VG_EINVAL for n == 0, n > CHUNK_MAX_POINTS, unsorted ts or an unknown type;
** VG_ETOOBIG if out's cap is hit (out is then unchanged). */
int chunk_encode(enum vg_vtype vt, const int64_t *ts, const union vg_val *v, uint32_t n,
                 struct buf *out);

struct chunk_info {
    enum vg_vtype vt;
    uint32_t n;
    int64_t min_ts, max_ts;
    size_t len; /* total encoded length of this chunk, header included */
};

/* Read and check the header of the chunk at p (len bytes available; the chunk may be shorter).
** Verifies the CRC. Returns VG_ECORRUPT on any inconsistency; never reads past p+len. */
int chunk_info(const void *p, size_t len, struct chunk_info *ci);

/* Decode all points of the chunk at p into ts[0..n) and v[0..n); cap is the array capacity and
** must be >= chunk_info().n. For VT_STR the decoded v[i].s.p point into p (borrowed: valid as
** long as the chunk bytes are). Returns VG_ECORRUPT for bad bytes, VG_ETOOBIG if cap is short. */
int chunk_decode(const void *p, size_t len, int64_t *ts, union vg_val *v, uint32_t cap,
                 uint32_t *n);

#endif
