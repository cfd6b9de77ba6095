/*
** store/block.h: immutable block files. PRIVATE to src/store/ (db.c and store tests only).
** A block holds, for one (retention group, partition), per series the merged de-duplicated points
** of that partition as one or more chunks (chunk.h), then an index sorted by (sid, min_ts) and a
** footer with a CRC-32C of everything before it. Since format version 2 (3 now), each numeric chunk
** (F64, I64, BOOL) may be followed by its hour summaries: per UTC hour holding points, the
** count, sum, sum of squares, min, max, first and last of the chunk's points in that hour, so an
** aggregation over whole hours need not decode the chunk. Format: docs/format/block.md.
** Owns: struct block (its io_file, the read-only mapping and the parsed index);
** struct block_writer (the temp file being written and its pending index).
** Thread: a loaded block is immutable: any thread may read it while it stays loaded (db.c
** guarantees that with its store lock). A writer is used by one thread.
*/
#ifndef VG_STORE_BLOCK_H
#define VG_STORE_BLOCK_H

#include "core/buf.h"
#include "store/io.h"
#include "store/value.h"

struct block;

#define BLOCK_CHUNK_POINTS 8192u /* a series' points in one partition are split past this */
#define BLOCK_HOUR_MS 3600000LL  /* width of a summary bucket: one UTC (epoch aligned) hour */
/* Summaries are written for a chunk only when it holds at least this many points per hour
** with points on average (sparser chunks decode cheaply and would grow the file most). */
#define BLOCK_SUM_MIN_PPH 4u

struct block_entry {
    uint32_t sid;
    uint32_t n;       /* points in the chunk */
    int64_t min_ts, max_ts;
    uint64_t off;     /* offset of the chunk in the file */
    uint32_t len;     /* encoded length */
    uint32_t slen;    /* length of the hour-summary record, 0 if the chunk has none */
    uint64_t soff;    /* offset of the hour-summary record: off + len (0 if none) */
};

/* Summary of the points of one series in one UTC hour (a subset of them for a partial fold).
** The same fields as struct store_bucket (db.h); min/max ignore NaN (+Inf/-Inf if every value
** is NaN), sum and sumsq are accumulated from +0.0 in ascending ts order. */
struct block_hsum {
    int64_t hour; /* start of the hour, a multiple of BLOCK_HOUR_MS */
    uint64_t count;
    double sum, sumsq, min, max, first, last;
    int64_t first_ts, last_ts;
};

/* Fold the n >= 1 points (ascending ts) of a numeric series (F64, I64, BOOL: as (double)i) into
** *h, overwriting it (h->hour is set from ts[0]). This is THE arithmetic of aggregation: the
** block writer and db.c's decode path both use it, so a stored summary is bit-identical to a
** fold of the decoded points. */
void block_hsum_fold(enum vg_vtype vt, const int64_t *ts, const union vg_val *v, uint32_t n,
                     struct block_hsum *h);

/* Decode and verify (CRC, structure, consistency with e) the hour summaries of entry e (which
** must have e->slen != 0), appending those whose hour is in [lo, hi) to *arr (grown with
** vg_realloc; *n entries used, *cap allocated; the caller frees *arr). VG_ECORRUPT for bad
** bytes (then *n may have grown). */
int block_hsum_decode(const struct block *b, const struct block_entry *e, int64_t lo, int64_t hi,
                      struct block_hsum **arr, uint32_t *n, uint32_t *cap);

struct block {
    uint64_t seq;     /* larger = newer: wins for equal (sid, ts) inside a partition */
    uint32_t group;
    int64_t pstart;
    char *path;
    uint64_t size;
    struct io_file *f;
    const uint8_t *map;
    size_t maplen;
    struct block_entry *ix; /* sorted by (sid, min_ts) */
    uint32_t nix;
};

/* Open, map and fully verify the block at path (footer, CRC over the file, index bounds and
** order, header matching group/pstart, every hour-summary record). Versions 1 (no summaries)
** and 2 load. On success *out owns everything; VG_ECORRUPT for bad bytes; *out unchanged on
** error. */
int block_load(struct io_vfs *vfs, const char *path, uint32_t group, int64_t pstart, uint64_t seq,
               struct block **out);
/* Unmap, close, free. NULL is a no-op. Does not unlink. */
void block_free(struct block *b);
/* Index of the first entry with sid >= sid (nix if none). */
uint32_t block_find(const struct block *b, uint32_t sid);
/* Pointer to the bytes of entry e (valid while b is loaded). */
static inline const uint8_t *block_chunk(const struct block *b, const struct block_entry *e)
{
    return b->map + e->off;
}

struct block_writer {
    struct io_vfs *vfs;
    char *tmp_path, *path, *dir;
    struct io_file *f;
    uint64_t off;             /* bytes written to f + pending */
    struct buf pend;          /* not yet written to f */
    struct block_entry *ix;
    uint32_t nix, ixcap;
    uint32_t group;
    int64_t pstart;
    uint64_t seq;
    uint32_t crc;             /* CRC-32C of every byte written so far */
    uint32_t last_sid;        /* series must be added in ascending sid order */
};

/* Create dir/<seq>.tmp (dir must exist) and write the header. On error w is released. */
int block_writer_open(struct block_writer *w, struct io_vfs *vfs, const char *dir, uint32_t group,
                      int64_t pstart, uint64_t seq);
/* Append the points of one series (ts strictly ascending; VT_STR strings read during the call),
** split into chunks of at most BLOCK_CHUNK_POINTS, preferably at an hour boundary (so no hour
** is split between two chunks unless it holds more than BLOCK_CHUNK_POINTS points); numeric
** chunks get their hour summaries. Sids must come in ascending order. */
int block_writer_add(struct block_writer *w, uint32_t sid, enum vg_vtype vt, const int64_t *ts,
                     const union vg_val *v, uint32_t n);
/* Write index and footer, fsync, close. The file is still under its temp name. */
int block_writer_finish(struct block_writer *w);
/* Rename the finished temp file to dir/<seq>.blk, fsync the directory, load it into *out
** and release w. */
int block_writer_commit(struct block_writer *w, struct block **out);
/* Close and unlink the temp file, release w. Safe after any failure. */
void block_writer_abort(struct block_writer *w);
/* Number of index entries added so far. */
static inline uint32_t block_writer_entries(const struct block_writer *w) { return w->nix; }

/* "<dir>/<seq>.blk" name helpers: parse a file name; returns 1 and sets *seq for "<digits>.blk". */
int block_parse_name(const char *name, const char *suffix, uint64_t *seq);

#endif
