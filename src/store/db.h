/*
** store/db.h: the time-series engine, the only header of store/ that upper layers include
** (plus store/value.h and, for tests and the fault flag, store/io.h).
**
** A series is a uint32 id (sid) chosen by the caller (meta/catalog assigns them and keeps the
** (tenant, entity, attribute) -> sid mapping in SQLite). The engine knows for each sid its value
** type and its retention group (an id chosen by the caller: all series whose data must expire
** together, e.g. one tenant + entity type). Data is laid out as:
**   wal/            write-ahead log (store/wal.c)            -> docs/format/wal.md
**   head            in memory: per series, a raw tail + sealed encoded head chunks
**   part/G/T/       one directory per (group G, partition start T): immutable block files of
**                   checksummed chunks (store/block.c)         -> docs/format/block.md
** A write is acknowledged after its WAL record is durable (per policy); checkpoints move head data
** to blocks and delete WAL segments; compaction merges small blocks of a partition; retention
** unlinks whole partition directories.
**
** Owns: the data directory, the head, the maintenance thread.
** Thread: all functions are thread-safe. Reads never wait for fsync.
*/
#ifndef VG_STORE_DB_H
#define VG_STORE_DB_H

#include "core/buf.h"
#include "core/vg.h"
#include "store/io.h"
#include "store/value.h"
#include "store/wal.h"

struct store;

struct store_opts {
    struct io_vfs *vfs;                /* NULL: io_posix() */
    enum wal_sync_policy sync;         /* default WAL_SYNC_ALWAYS */
    uint32_t batch_ms;                 /* WAL_SYNC_BATCH interval (default 200) */
    int64_t partition_ms;              /* partition width, default 86400000 (1 day, UTC aligned) */
    uint64_t checkpoint_wal_bytes;     /* checkpoint when the WAL exceeds this (default 256 MiB) */
    uint32_t head_chunk_points;        /* raw points per series before sealing (default 256) */
    int background;                    /* 1: run the maintenance thread (checkpoint, compaction,
                                          retention every few seconds); 0: caller calls
                                          store_maintain() (tests) */
};

/* Open or create the store in dir. Series must then be declared with store_series_add() before
** store_recover() replays the WAL. On error *out is unchanged. */
int store_open(const char *dir, const struct store_opts *opts, struct store **out);

/* Declare a series. Idempotent for the same (group, vt); VG_ETYPE if sid exists with another vt.
** Callable at any time (new series at run time). */
int store_series_add(struct store *s, uint32_t sid, uint32_t group, enum vg_vtype vt);

/* Load block indexes and replay the WAL into the head. A torn/corrupt WAL tail is cut and
** reported in rep (may be NULL). Records for undeclared sids are an error (VG_ECORRUPT). */
int store_recover(struct store *s, struct wal_replay_report *rep);

struct store_point {
    uint32_t sid;
    int64_t ts; /* ms since epoch */
    union vg_val v; /* VT_STR: v.s borrowed for the call only */
};

/* Append a batch atomically (one WAL record) and return once it is durable per the policy.
** Points may be in any order and older than anything stored; a (sid, ts) already present keeps
** the value of the latest write. Returns VG_ENOENT for an undeclared sid (nothing written),
** VG_EFULL / VG_EIO if the log could not be made durable (the batch is then NOT acknowledged;
** retrying it is idempotent), VG_ECLOSED after store_close started, VG_EPERM before
** store_recover() succeeded. */
int store_write(struct store *s, const struct store_point *p, size_t n);

/* Points of one series with from <= ts < to, ascending, de-duplicated. */
struct store_points {
    enum vg_vtype vt;
    uint32_t n, cap;
    int64_t *ts;
    union vg_val *v;  /* VT_STR values point into strs (owned by this struct) */
    struct buf strs;
};
void store_points_init(struct store_points *pts);
void store_points_release(struct store_points *pts);
/* Fill pts (reset first). limit 0 = no limit (then the first `limit` points are returned).
** VG_ENOENT for an unknown sid. */
int store_read(struct store *s, uint32_t sid, int64_t from, int64_t to, uint32_t limit,
               struct store_points *pts);

/* Aggregation buckets: bucket k covers [start_k, start_k + every), start_0 = from rounded down
** to a multiple of every (epoch aligned). Numeric types only (F64, I64, BOOL); for VT_STR and
** VT_GEO only count, first_ts and last_ts are filled. */
struct store_bucket {
    int64_t start;
    uint64_t count;
    double sum, sumsq, min, max, first, last;
    int64_t first_ts, last_ts;
};
enum store_agg { AGG_AVG, AGG_MIN, AGG_MAX, AGG_SUM, AGG_COUNT, AGG_FIRST, AGG_LAST, AGG_STDDEV };
int store_agg_parse(const char *name); /* -1 if unknown */
/* Final value of a bucket for agg (NaN when count == 0; stddev is the population one). */
double store_bucket_value(const struct store_bucket *b, enum store_agg agg);
/* Merge b into a (same start). */
void store_bucket_merge(struct store_bucket *a, const struct store_bucket *b);
/* Number of buckets for [from, to) with width every. */
uint32_t store_bucket_count(int64_t from, int64_t to, int64_t every);
/* Fill out[0..nb) (nb = store_bucket_count(from, to, every), caller-allocated). */
int store_aggregate(struct store *s, uint32_t sid, int64_t from, int64_t to, int64_t every,
                    struct store_bucket *out, uint32_t nb);

/* Latest point of a series (largest ts). VT_STR: v->s valid until store_close. VG_ENOENT if the
** series has no point. O(1): kept in memory. */
int store_latest(struct store *s, uint32_t sid, int64_t *ts, union vg_val *v);

/* Retention: partitions of group whose end is older than now - keep_ms are dropped by the
** maintenance pass. keep_ms 0 keeps forever (default). */
int store_set_retention(struct store *s, uint32_t group, int64_t keep_ms);

/* Move all head data to blocks, fsync, delete WAL segments. */
int store_checkpoint(struct store *s);
/* Merge small blocks within each partition into one. */
int store_compact(struct store *s);
/* One maintenance pass (checkpoint if due, compaction, retention at time now). */
int store_maintain(struct store *s, int64_t now_ms);

struct store_stats {
    uint64_t series;
    uint64_t points_written;  /* accepted since open */
    uint64_t write_batches;
    uint64_t head_points;
    uint64_t head_bytes;
    uint64_t chunks;          /* chunks in blocks on disk */
    uint64_t blocks;
    uint64_t partitions;
    uint64_t disk_bytes;      /* blocks + WAL */
    uint64_t checkpoints, compactions, partitions_dropped;
    int write_error;          /* last sticky write error (VG_EFULL ...) or 0 */
    struct wal_stats wal;
    uint64_t corrupt_blocks;  /* blocks renamed to *.corrupt by store_recover */
};
void store_get_stats(struct store *s, struct store_stats *st);

/* Clean stop: refuse new writes, checkpoint, close everything, free. NULL is a no-op. */
void store_close(struct store *s);
/* Crash-test helper: free everything WITHOUT checkpointing or syncing (like kill -9). */
void store_abandon(struct store *s);

#endif
