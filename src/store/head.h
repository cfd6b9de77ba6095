/*
** store/head.h: the in-memory head of the engine. PRIVATE to src/store/ (only db.c and the
** store tests include it); upper layers see store/db.h only.
** Owns: per series, the raw append buffer (sorted, de-duplicated, 8 or 16 bytes per value) and
** the sealed head chunks (chunk_encode output, each tagged with a generation); the store-wide
** string intern table (strings live until head_strs_release, i.e. store close).
** Priority when the same (sid, ts) appears in several places: raw buffer > newer head chunk >
** older head chunk > any block (blocks only ever receive data that left the head).
** Thread: no locking here; db.c calls everything under its store lock.
*/
#ifndef VG_STORE_HEAD_H
#define VG_STORE_HEAD_H

#include "core/buf.h"
#include "store/value.h"

/* One interned string: s[len] is a NUL. Never moves, freed at head_strs_release. */
struct head_str {
    struct head_str *next; /* hash chain */
    uint32_t len;
    uint32_t hash;
    char s[];
};

struct head_strs {
    struct head_str **tab;
    size_t cap, n;
    uint64_t bytes;
};

void head_strs_init(struct head_strs *t);
void head_strs_release(struct head_strs *t);
/* Intern p[0..len): returns the unique copy (owned by t). */
const struct head_str *head_strs_intern(struct head_strs *t, const char *p, uint32_t len);

/* A sealed head chunk: the chunk_encode bytes of points that left the raw buffer. */
struct head_chunk {
    uint8_t *data; /* owned (malloc) */
    uint32_t len, n;
    uint32_t gen;  /* larger = newer (wins for equal ts) */
    int64_t min_ts, max_ts;
};

struct head_series {
    uint32_t sid, group;
    enum vg_vtype vt;
    uint32_t esize;        /* bytes per raw value: 8 (F64, I64, BOOL, STR as head_str *) or 16 */
    int64_t *rts;          /* raw buffer: ascending, unique ts */
    unsigned char *rv;     /* raw values, esize bytes each */
    uint32_t rn, rcap;
    struct head_chunk *ch; /* sealed chunks in generation order (oldest first) */
    uint32_t nch, chcap;
    uint32_t nfrozen;      /* ch[0..nfrozen) are being written to blocks by a checkpoint */
    uint32_t next_gen;
    int has_last;
    int64_t last_ts;       /* latest point (largest ts), for store_latest */
    union vg_val last_v;   /* VT_STR: points into the intern table */
};

/* Scratch memory reused by sealing (one per store, used under the store lock). */
struct head_scratch {
    union vg_val *v;
    uint32_t cap;
    struct buf enc;
};
void head_scratch_init(struct head_scratch *sc);
void head_scratch_release(struct head_scratch *sc);

void head_series_init(struct head_series *hs, uint32_t sid, uint32_t group, enum vg_vtype vt);
/* Free the raw buffer and every chunk. */
void head_series_release(struct head_series *hs);

/* Insert one point into the raw buffer (a duplicate ts replaces the value) and update the latest
** point. VT_STR values must already be interned (v->s.p from head_strs_intern()->s). Seals the
** raw buffer into a head chunk once it holds seal_at points. */
int head_series_insert(struct head_series *hs, int64_t ts, const union vg_val *v, uint32_t seal_at,
                       struct head_scratch *sc);
/* Encode the raw buffer (if not empty) into a new head chunk with the next generation. */
int head_series_seal(struct head_series *hs, struct head_scratch *sc);
/* Raw value i as a union vg_val (VT_STR: points into the intern table). */
void head_series_raw_get(const struct head_series *hs, uint32_t i, union vg_val *v);
/* Drop ch[0..k) (freeing them) and shift the rest down. */
void head_series_drop_chunks(struct head_series *hs, uint32_t k);
/* Append a chunk built by the caller (data ownership passes to hs). */
void head_series_add_chunk(struct head_series *hs, uint8_t *data, uint32_t len, uint32_t n,
                           int64_t min_ts, int64_t max_ts);
/* Points held (raw + chunks, duplicates across generations counted) and bytes of memory. */
uint64_t head_series_points(const struct head_series *hs);
uint64_t head_series_bytes(const struct head_series *hs);

#endif
