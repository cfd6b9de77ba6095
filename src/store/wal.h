/*
** store/wal.h: write-ahead log of the storage engine.
** Owns: the wal/ directory of a store, its segment files, the in-memory group-commit buffer and
** the background sync thread of the batched policy.
** Borrows: record bytes passed to wal_append() (copied before return).
** Format: docs/format/wal.md. Records are opaque to the WAL (store/db.c encodes them); each
** carries its own CRC-32C so a torn or corrupt tail is detected and cut at recovery.
** Thread: wal_append and wal_sync may be called from many threads at once (group commit);
** wal_replay and wal_checkpoint from one thread while no append runs.
*/
#ifndef VG_STORE_WAL_H
#define VG_STORE_WAL_H

#include "core/vg.h"
#include "store/io.h"

struct wal;

enum wal_sync_policy {
    WAL_SYNC_ALWAYS = 0, /* default: wal_sync returns once the record is fdatasync'ed */
    WAL_SYNC_BATCH = 1,  /* wal_sync returns once written to the OS; a thread fsyncs every
                            batch_ms: kill -9 loses nothing, power loss loses <= batch_ms */
};

struct wal_opts {
    enum wal_sync_policy policy;
    uint32_t batch_ms;        /* WAL_SYNC_BATCH interval, default 200 */
    uint64_t segment_bytes;   /* roll to a new segment past this size, default 64 MiB */
    uint32_t max_record;      /* largest record accepted, default 256 MiB */
};

struct wal_stats {
    uint64_t bytes_written;   /* since open */
    uint64_t records;         /* appended since open */
    uint64_t syncs;           /* fdatasync calls */
    uint64_t size_on_disk;    /* bytes in live segments */
    uint32_t segments;
    /* fdatasync latency histogram: count of syncs with latency <= bound[i] us. */
    uint64_t sync_hist[12];   /* bounds: 100,250,500,1000,2500,5000,10000,25000,50000,100000,250000,+Inf us */
    uint64_t sync_total_us;
};
extern const uint32_t wal_sync_hist_bounds_us[11];

/* Open (creating if needed) the log in dir. Nothing is replayed yet. opts may be NULL. On error
** *out is unchanged. */
int wal_open(struct io_vfs *vfs, const char *dir, const struct wal_opts *opts, struct wal **out);

/* What recovery found. damaged is set if anything was cut; detail names file and offset. */
struct wal_replay_report {
    uint64_t records;
    uint64_t bytes;
    uint64_t cut_bytes;       /* bytes removed from the tail (torn or corrupt) */
    int damaged;
    char detail[256];
};

/* Called for each intact record, in log order. rec is valid only during the call.
** A non-zero return stops the replay and is returned by wal_replay. */
typedef int wal_record_fn(void *arg, uint64_t lsn, const void *rec, size_t len);

/* Read every record from the oldest live segment on. At the first record that fails its length or
** checksum check, the log is cut there (that segment truncated, later segments removed) and the
** damage reported; appends then continue after the last good record. Call once, before appends. */
int wal_replay(struct wal *w, wal_record_fn *fn, void *arg, struct wal_replay_report *rep);

/* Copy a record into the commit buffer. *lsn receives its log sequence number (monotonic;
** pass it to wal_sync). Returns VG_ETOOBIG past max_record, or the sticky error of a failed
** sync (VG_EFULL, VG_EIO) until a later wal_sync succeeds in writing the pending buffer. */
int wal_append(struct wal *w, const void *rec, size_t len, uint64_t *lsn);

/* Make every record up to lsn durable per the policy (group commit: one fdatasync serves every
** thread waiting). Returns 0, or VG_EFULL / VG_EIO if the write or sync failed; records not yet
** written stay pending and are retried by the next wal_sync (so a full disk heals when space
** returns). */
int wal_sync(struct wal *w, uint64_t lsn);

/* Start a new segment and return, in *lsn, the first LSN it will hold. Everything before is
** then in closed segments, which wal_truncate_before() can delete. */
int wal_rotate(struct wal *w, uint64_t *lsn);
/* Delete closed segments holding only records with LSN < lsn (their data is in chunks). */
int wal_truncate_before(struct wal *w, uint64_t lsn);

void wal_get_stats(struct wal *w, struct wal_stats *st);

/* Sync what is pending, stop the batch thread, close segments, free. NULL is a no-op. */
void wal_close(struct wal *w);

#endif
