/*
** store/wal.c: write-ahead log of the storage engine (contract: store/wal.h).
** Owns: the wal/ directory, the open segment (an io_file), the list of live segment LSNs, the
** two group-commit buffers (pending + spare, swapped by the syncer) and the batch thread.
** Borrows: record bytes passed to wal_append() (copied into the pending buffer before return).
** Format: docs/format/wal.md (segment header, record frame, group commit, recovery rules).
**
** LSN: the logical byte offset of the record stream across segments (segment headers are not
** counted). wal_append returns the LSN of the END of the record; wal_replay hands the callback
** that same value, so the db can compare the two directly.
**
** Group commit (every field below marked [mu] is under w->mu):
**     wal_append: CRC outside the lock, then under mu copy the frame into `pend`, bump next_lsn.
**     wal_sync(lsn): if covered, return. If a syncer runs, wait for its round to end and look
**       again (a futex on round_seq, not done_cv: the many waiters of a round then return on
**       the published LSNs without queueing one by one for mu). Else
**       become the syncer (syncing = 1): swap pend <-> spare, unlock, pwrite the taken buffer
**       (rotating at record boundaries past segment_bytes), fdatasync (policy ALWAYS), lock,
**       publish written_lsn / durable_lsn, syncing = 0, broadcast done_cv.
**     A failed round puts its unwritten bytes back in front of `pend`, marks the segment to be
**       truncated back to the last good offset before the next write, sets the sticky error that
**       wal_append then returns, and hands the error to every waiter of that round. The next
**       wal_sync (any lsn past the durable one, e.g. UINT64_MAX) retries; success clears it.
**     WAL_SYNC_BATCH: wal_sync stops after the pwrite; the batch thread runs a durable round every
**       batch_ms. Loss window: nothing on kill -9 (the bytes are in the OS), up to batch_ms of
**       acknowledged records on power loss. An fdatasync failure in that mode is retried by the
**       next round but the bytes already handed to the OS are not rewritten.
**     Back-pressure: when the pending buffer would pass WAL_PEND_CAP, wal_append first writes it
**       out itself (a non-durable round), so memory stays bounded while the disk is slow.
** Thread: wal_append / wal_sync / wal_rotate / wal_truncate_before / wal_get_stats from any
** thread; wal_replay once, before appends, and its callback must not call into this wal.
** Only the thread holding the syncer role (syncing == 1) touches seg, seg_first, need_trunc.
*/
#include "store/wal.h"

#include "core/clock.h"
#include "core/crc32c.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define WAL_HDR_SIZE 24u
#define WAL_FRAME_HDR 8u
#define WAL_MAGIC 0x4C574756u /* "VGWL" as little-endian bytes */
#define WAL_VERSION 1u
#define WAL_PEND_CAP ((size_t)64 << 20)
#define WAL_PATH_MAX 4096
#define WAL_MAX_SEGMENTS 1000000u

const uint32_t wal_sync_hist_bounds_us[11] = {100,   250,   500,   1000,   2500,  5000,
                                              10000, 25000, 50000, 100000, 250000};

struct wal {
    struct io_vfs *vfs;
    char *dir;
    struct wal_opts opts;

    pthread_mutex_t mu;
    pthread_cond_t done_cv;  /* a syncer role was released */
    pthread_cond_t batch_cv; /* wakes the batch thread early (close) */

    uint8_t *pend; /* [mu] frames appended, not yet written */
    size_t pend_len, pend_cap;
    uint8_t *spare; /* [mu] the other buffer; NULL while the syncer holds it */
    size_t spare_cap;
    uint64_t next_lsn;    /* [mu] end of the last appended record */
    uint64_t written_lsn; /* [mu] end of what reached the OS (== start of pend) */
    uint64_t durable_lsn; /* [mu] end of what was fdatasync'ed */
    int syncing;          /* [mu] someone holds the syncer role */
    int sticky;           /* [mu] error of the last failed round, 0 once a round succeeds */
    int last_err;         /* [mu] error of the last failed round (for its waiters) */
    uint64_t fail_gen;    /* [mu] bumped by every failed round */
    int recovered;        /* [mu] the log end is known (replayed) */
    int batch_stop;       /* [mu] */
    uint64_t *segs;       /* [mu] first LSN of every live segment, ascending */
    uint32_t nseg, seg_alloc;

    /* Written under mu, read without it by the waiters of wal_sync: */
    uint32_t round_seq;   /* futex word: bumped whenever a syncer role is released */
    uint64_t written_pub; /* copies of written_lsn / durable_lsn, published by the releaser */
    uint64_t durable_pub;

    /* [mu] statistics */
    uint64_t st_bytes, st_records, st_syncs, st_sync_us;
    uint64_t st_hist[12]; /* per bucket; made cumulative by wal_get_stats */

    /* syncer role only */
    struct io_file *seg; /* open segment, NULL if it must be created at seg_first */
    uint64_t seg_first;
    int need_trunc; /* a round failed: truncate seg back to the written offset first */

    pthread_t batch_thread;
    int batch_started;
};

/* Bytes of one round of the syncer: `closed` went to segments fsynced and closed during the
** round, `cur` to the current segment (lost again if the round fails). */
struct round {
    size_t closed, cur;
};

/* Publish the log ends and wake every wal_sync waiter. Called with mu held. */
static void round_end(struct wal *w)
{
    __atomic_store_n(&w->written_pub, w->written_lsn, __ATOMIC_RELEASE);
    __atomic_store_n(&w->durable_pub, w->durable_lsn, __ATOMIC_RELEASE);
    __atomic_add_fetch(&w->round_seq, 1, __ATOMIC_RELEASE);
    syscall(SYS_futex, &w->round_seq, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
    pthread_cond_broadcast(&w->done_cv);
}

/* Sleep until round_seq moves past `seq`. Called without mu. */
static void round_wait(struct wal *w, uint32_t seq)
{
    while (__atomic_load_n(&w->round_seq, __ATOMIC_ACQUIRE) == seq) {
        if (syscall(SYS_futex, &w->round_seq, FUTEX_WAIT_PRIVATE, seq, NULL, NULL, 0) != 0 &&
            errno != EAGAIN && errno != EINTR)
            break; /* cannot sleep: look again under mu (spins at worst, never hangs) */
    }
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    put_le32(p, (uint32_t)v);
    put_le32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get_le64(const uint8_t *p)
{
    return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static uint32_t frame_crc(const uint8_t len_le[4], const void *rec, size_t len)
{
    return crc32c(crc32c(0, len_le, 4), rec, len);
}

static void hdr_encode(uint8_t h[WAL_HDR_SIZE], uint64_t first)
{
    put_le32(h, WAL_MAGIC);
    put_le32(h + 4, WAL_VERSION);
    put_le64(h + 8, first);
    put_le32(h + 16, 0);
    put_le32(h + 20, crc32c(0, h, 20));
}

/* 0 if h is a valid header naming `first`. */
static int hdr_check(const uint8_t *h, uint64_t first)
{
    if (get_le32(h) != WAL_MAGIC || get_le32(h + 4) != WAL_VERSION)
        return -1;
    if (get_le32(h + 20) != crc32c(0, h, 20))
        return -1;
    return get_le64(h + 8) == first ? 0 : -1;
}

static void seg_name(char *out, size_t cap, uint64_t lsn)
{
    snprintf(out, cap, "%016" PRIx64 ".wal", lsn);
}

static void seg_path(const struct wal *w, char *out, size_t cap, uint64_t lsn)
{
    snprintf(out, cap, "%s/%016" PRIx64 ".wal", w->dir, lsn);
}

/* Parse "<16 lowercase hex>.wal"; 0 on success. */
static int seg_parse(const char *name, uint64_t *lsn)
{
    uint64_t v = 0;
    int i;

    if (strlen(name) != 20 || strcmp(name + 16, ".wal") != 0)
        return -1;
    for (i = 0; i < 16; i++) {
        char c = name[i];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            return -1;
        v = v << 4 | (uint64_t)d;
    }
    *lsn = v;
    return 0;
}

/* [mu] */
static void segs_push(struct wal *w, uint64_t lsn)
{
    if (w->nseg > 0 && w->segs[w->nseg - 1] == lsn)
        return;
    if (w->nseg == w->seg_alloc) {
        w->seg_alloc = w->seg_alloc ? w->seg_alloc * 2 : 16;
        w->segs = vg_realloc(w->segs, w->seg_alloc * sizeof(*w->segs));
    }
    w->segs[w->nseg++] = lsn;
}

static void stats_sync(struct wal *w, int64_t ns)
{
    uint64_t us = ns > 0 ? (uint64_t)ns / 1000 : 0;
    size_t i = 0;

    while (i < VG_ARRAY_LEN(wal_sync_hist_bounds_us) && us > wal_sync_hist_bounds_us[i])
        i++;
    w->st_syncs++;
    w->st_sync_us += us;
    w->st_hist[i]++;
}

/* fdatasync of the open segment, timed into the histogram. Syncer role, mu not held. */
static int seg_sync(struct wal *w)
{
    int64_t t0 = clock_mono_ns();
    int rc = io_sync(w->seg);
    int64_t dt = clock_mono_ns() - t0;

    pthread_mutex_lock(&w->mu);
    stats_sync(w, dt);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* Create (or re-create after a failed try) the segment starting at lsn, with a durable header
** and directory entry. Syncer role, mu not held. */
static int seg_create(struct wal *w, uint64_t lsn)
{
    char path[WAL_PATH_MAX + 32];
    uint8_t h[WAL_HDR_SIZE];
    struct io_file *f = NULL;
    int rc;

    seg_path(w, path, sizeof(path), lsn);
    rc = io_open(w->vfs, path, IO_CREATE | IO_TRUNC, &f);
    if (rc)
        goto out;
    hdr_encode(h, lsn);
    rc = io_pwrite(f, h, sizeof(h), 0);
    if (rc)
        goto out;
    w->seg = f; /* seg_sync works on w->seg */
    rc = seg_sync(w);
    w->seg = NULL;
    if (rc)
        goto out;
    rc = io_sync_dir(w->vfs, w->dir);
    if (rc)
        goto out;
    w->seg = f;
    w->seg_first = lsn;
    f = NULL;
    pthread_mutex_lock(&w->mu);
    segs_push(w, lsn);
    w->st_bytes += WAL_HDR_SIZE;
    pthread_mutex_unlock(&w->mu);
out:
    if (f != NULL)
        io_close(f);
    if (rc)
        w->seg_first = lsn;
    return rc;
}

/* How many bytes of buf (whole frames) go into a segment whose file size is fsize: frames up to
** and including the one that makes the file reach segment_bytes. */
static size_t chunk_len(const struct wal *w, const uint8_t *buf, size_t len, uint64_t fsize)
{
    size_t n = 0;

    while (n < len) {
        n += WAL_FRAME_HDR + get_le32(buf + n);
        if (fsize + n >= w->opts.segment_bytes)
            break;
    }
    return n;
}

/* Write buf (whole frames, first byte at LSN start) into the log, rotating as needed.
** Syncer role, mu not held. */
static int write_out(struct wal *w, const uint8_t *buf, size_t len, uint64_t start,
                     struct round *r)
{
    uint64_t pos = start;
    size_t off = 0;
    int rc = VG_OK;

    if (w->need_trunc && w->seg != NULL) {
        rc = io_truncate(w->seg, WAL_HDR_SIZE + pos - w->seg_first);
        if (rc)
            goto out;
    }
    w->need_trunc = 0;
    while (off < len) {
        uint64_t fsize;
        size_t n;

        if (w->seg != NULL && pos > w->seg_first &&
            WAL_HDR_SIZE + pos - w->seg_first >= w->opts.segment_bytes) {
            /* Rotate: the old segment must be durable before a later one holds data. */
            rc = seg_sync(w);
            if (rc)
                goto out;
            r->closed += r->cur;
            r->cur = 0;
            io_close(w->seg);
            w->seg = NULL;
            w->seg_first = pos;
        }
        if (w->seg == NULL) {
            rc = seg_create(w, pos);
            if (rc)
                goto out;
        }
        fsize = WAL_HDR_SIZE + pos - w->seg_first;
        n = chunk_len(w, buf + off, len - off, fsize);
        rc = io_pwrite(w->seg, buf + off, n, fsize);
        if (rc)
            goto out;
        r->cur += n;
        off += n;
        pos += n;
    }
out:
    return rc;
}

/* One syncer round: take the pending buffer, write it, fdatasync if durable. Called with mu held
** and no syncer running; returns with mu held. */
static int sync_round(struct wal *w, int durable)
{
    uint8_t *buf = w->pend;
    size_t len = w->pend_len, cap = w->pend_cap, done;
    uint64_t start = w->written_lsn;
    struct round r = {0, 0};
    int rc, synced = 0;

    w->syncing = 1;
    w->pend = w->spare;
    w->pend_cap = w->spare_cap;
    w->pend_len = 0;
    w->spare = NULL;
    w->spare_cap = 0;
    pthread_mutex_unlock(&w->mu);

    rc = write_out(w, buf, len, start, &r);
    if (rc == VG_OK && durable) {
        /* No open segment means everything written went to closed, fsynced segments. */
        rc = w->seg != NULL ? seg_sync(w) : VG_OK;
        synced = rc == VG_OK;
    }

    pthread_mutex_lock(&w->mu);
    done = r.closed + (rc == VG_OK ? r.cur : 0);
    w->written_lsn = start + done;
    w->st_bytes += done;
    if (synced)
        w->durable_lsn = w->written_lsn;
    else if (r.closed > 0 && start + r.closed > w->durable_lsn)
        w->durable_lsn = start + r.closed;
    if (rc) {
        size_t rest = len - done;
        w->sticky = rc;
        w->last_err = rc;
        w->fail_gen++;
        w->need_trunc = 1;
        if (rest > 0) {
            /* Put the unwritten frames back in front of what was appended meanwhile. */
            size_t total = rest + w->pend_len;
            if (done > 0)
                memmove(buf, buf + done, rest);
            if (total > cap) {
                buf = vg_realloc(buf, total);
                cap = total;
            }
            if (w->pend_len > 0)
                memcpy(buf + rest, w->pend, w->pend_len);
            w->spare = w->pend;
            w->spare_cap = w->pend_cap;
            w->pend = buf;
            w->pend_cap = cap;
            w->pend_len = total;
            buf = NULL;
        }
    } else {
        w->sticky = 0;
    }
    if (buf != NULL) {
        w->spare = buf;
        w->spare_cap = cap;
    }
    w->syncing = 0;
    round_end(w);
    return rc;
}

/* Make the log written (durable = 0) or durable (1) up to lsn. Called and returns with mu held. */
static int commit(struct wal *w, uint64_t lsn, int durable)
{
    int rc;

    for (;;) {
        uint64_t have;

        if (lsn > w->next_lsn)
            lsn = w->next_lsn;
        have = durable ? w->durable_lsn : w->written_lsn;
        if (have >= lsn)
            return VG_OK;
        if (w->syncing) {
            uint64_t gen = w->fail_gen;
            while (w->syncing)
                pthread_cond_wait(&w->done_cv, &w->mu);
            have = durable ? w->durable_lsn : w->written_lsn;
            if (have >= lsn)
                return VG_OK;
            if (w->fail_gen != gen)
                return w->last_err; /* the round we waited for failed: our record with it */
            continue;
        }
        rc = sync_round(w, durable);
        if (rc)
            return rc;
    }
}

/* Wait for the syncer role and take it. Called and returns with mu held. */
static void role_take(struct wal *w)
{
    while (w->syncing)
        pthread_cond_wait(&w->done_cv, &w->mu);
    w->syncing = 1;
}

static void role_release(struct wal *w)
{
    w->syncing = 0;
    round_end(w);
}

/* ---- Recovery ------------------------------------------------------------------------------ */

struct lsn_vec {
    uint64_t *v;
    size_t n, cap;
    int overflow;
};

static int list_cb(void *arg, const char *name)
{
    struct lsn_vec *lv = arg;
    uint64_t lsn;

    if (seg_parse(name, &lsn) != 0)
        return 0;
    if (lv->n >= WAL_MAX_SEGMENTS) {
        lv->overflow = 1;
        return 1;
    }
    if (lv->n == lv->cap) {
        lv->cap = lv->cap ? lv->cap * 2 : 16;
        lv->v = vg_realloc(lv->v, lv->cap * sizeof(*lv->v));
    }
    lv->v[lv->n++] = lsn;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void set_damage(struct wal_replay_report *rep, const char *name, uint64_t off,
                       const char *reason)
{
    rep->damaged = 1;
    snprintf(rep->detail, sizeof(rep->detail), "segment '%s' offset %" PRIu64 ": %s", name, off,
             reason);
}

/* Validate one mapped segment from its header on; calls fn for intact records. Returns the
** offset of the first bad byte (== len if intact); *why is NULL if intact. */
static size_t scan_records(struct wal *w, const uint8_t *p, size_t len, uint64_t first,
                           wal_record_fn *fn, void *arg, int *stop_rc,
                           struct wal_replay_report *rep, char *why, size_t why_cap)
{
    size_t off = WAL_HDR_SIZE;

    why[0] = '\0';
    while (off < len) {
        uint32_t rlen;

        if (len - off < WAL_FRAME_HDR) {
            snprintf(why, why_cap, "short record header (%zu bytes)", len - off);
            break;
        }
        rlen = get_le32(p + off);
        if (rlen > w->opts.max_record) {
            snprintf(why, why_cap, "record length %" PRIu32 " exceeds max_record", rlen);
            break;
        }
        if (rlen > len - off - WAL_FRAME_HDR) {
            snprintf(why, why_cap, "record length %" PRIu32 " beyond end of file", rlen);
            break;
        }
        if (frame_crc(p + off, p + off + WAL_FRAME_HDR, rlen) != get_le32(p + off + 4)) {
            snprintf(why, why_cap, "crc mismatch");
            break;
        }
        off += WAL_FRAME_HDR + rlen;
        rep->records++;
        rep->bytes += WAL_FRAME_HDR + rlen;
        if (fn != NULL && *stop_rc == 0)
            *stop_rc = fn(arg, first + (off - WAL_HDR_SIZE), p + off - rlen, rlen);
    }
    return off;
}

/* Read every segment, cut at the first damage, and set the log end. If `locked`, mu is held. */
static int scan(struct wal *w, wal_record_fn *fn, void *arg, struct wal_replay_report *rep,
                int locked, int *stop_rc)
{
    struct lsn_vec lv = {NULL, 0, 0, 0};
    char path[WAL_PATH_MAX + 32], name[32], why[160];
    struct io_file *f = NULL, *cur = NULL;
    uint64_t end = 0;
    size_t i, keep = 0, cut_from;
    int rc, have_end = 0;

    memset(rep, 0, sizeof(*rep));
    *stop_rc = 0;
    rc = io_list(w->vfs, w->dir, list_cb, &lv);
    if (rc)
        goto out;
    if (lv.overflow) {
        rc = VG_ETOOBIG;
        goto out;
    }
    if (lv.n > 1)
        qsort(lv.v, lv.n, sizeof(*lv.v), cmp_u64);
    cut_from = lv.n;
    for (i = 0; i < lv.n; i++) {
        const void *map = NULL;
        size_t len = 0, off;

        seg_name(name, sizeof(name), lv.v[i]);
        seg_path(w, path, sizeof(path), lv.v[i]);
        rc = io_open(w->vfs, path, 0, &f);
        if (rc)
            goto out;
        rc = io_map(f, &map, &len);
        if (rc)
            goto out;
        if (len < WAL_HDR_SIZE || hdr_check(map, lv.v[i]) != 0) {
            set_damage(rep, name, 0, "bad segment header");
            io_unmap(f, map, len);
            io_close(f);
            f = NULL;
            cut_from = i;
            if (!have_end)
                end = lv.v[i];
            break;
        }
        if (have_end && lv.v[i] != end) {
            snprintf(why, sizeof(why),
                     "first lsn %" PRIu64 " does not follow the previous end %" PRIu64, lv.v[i],
                     end);
            set_damage(rep, name, 0, why);
            io_unmap(f, map, len);
            io_close(f);
            f = NULL;
            cut_from = i;
            break;
        }
        off = scan_records(w, map, len, lv.v[i], fn, arg, stop_rc, rep, why, sizeof(why));
        io_unmap(f, map, len);
        end = lv.v[i] + (off - WAL_HDR_SIZE);
        have_end = 1;
        keep = i + 1;
        if (why[0] != '\0') {
            set_damage(rep, name, off, why);
            rep->cut_bytes += len - off;
            rc = io_truncate(f, off);
            if (rc == VG_OK)
                rc = io_sync(f);
            if (rc)
                goto out;
            cut_from = i + 1;
            io_close(cur);
            cur = f;
            f = NULL;
            break;
        }
        io_close(cur);
        cur = f;
        f = NULL;
    }
    if (cut_from < lv.n) {
        for (i = cut_from; i < lv.n; i++) {
            uint64_t size = 0;
            seg_path(w, path, sizeof(path), lv.v[i]);
            if (io_open(w->vfs, path, IO_RDONLY, &f) == VG_OK) {
                if (io_size(f, &size) == VG_OK)
                    rep->cut_bytes += size;
                io_close(f);
                f = NULL;
            }
            rc = io_unlink(w->vfs, path);
            if (rc)
                goto out;
        }
        rc = io_sync_dir(w->vfs, w->dir);
        if (rc)
            goto out;
    }

    /* Publish the log end: appends go on after the last intact record. */
    if (!locked)
        pthread_mutex_lock(&w->mu);
    w->nseg = 0;
    for (i = 0; i < keep; i++)
        segs_push(w, lv.v[i]);
    io_close(w->seg);
    w->seg = cur;
    cur = NULL;
    w->seg_first = keep > 0 ? lv.v[keep - 1] : end;
    w->next_lsn = w->written_lsn = w->durable_lsn = end;
    w->written_pub = w->durable_pub = end;
    w->need_trunc = 0;
    if (!locked)
        pthread_mutex_unlock(&w->mu);
out:
    io_close(f);
    io_close(cur);
    free(lv.v);
    return rc;
}

/* [mu] */
static int ensure_recovered(struct wal *w)
{
    struct wal_replay_report rep;
    int stop_rc, rc;

    if (w->recovered)
        return VG_OK;
    rc = scan(w, NULL, NULL, &rep, 1, &stop_rc);
    if (rc == VG_OK)
        w->recovered = 1;
    return rc;
}

int wal_replay(struct wal *w, wal_record_fn *fn, void *arg, struct wal_replay_report *rep)
{
    struct wal_replay_report local;
    int rc, stop_rc = 0;

    if (rep == NULL)
        rep = &local;
    pthread_mutex_lock(&w->mu);
    rc = w->recovered ? VG_EINVAL : VG_OK;
    pthread_mutex_unlock(&w->mu);
    if (rc)
        return rc;
    rc = scan(w, fn, arg, rep, 0, &stop_rc);
    if (rc)
        return rc;
    pthread_mutex_lock(&w->mu);
    w->recovered = 1;
    pthread_mutex_unlock(&w->mu);
    return stop_rc;
}

/* ---- Appends and syncs --------------------------------------------------------------------- */

int wal_append(struct wal *w, const void *rec, size_t len, uint64_t *lsn)
{
    uint8_t hdr[WAL_FRAME_HDR];
    size_t frame;
    int rc;

    if (len > w->opts.max_record)
        return VG_ETOOBIG;
    put_le32(hdr, (uint32_t)len);
    put_le32(hdr + 4, frame_crc(hdr, rec, len));
    frame = WAL_FRAME_HDR + len;

    pthread_mutex_lock(&w->mu);
    rc = ensure_recovered(w);
    if (rc)
        goto out;
    while (w->sticky == 0 && w->pend_len > 0 && w->pend_len + frame > WAL_PEND_CAP) {
        rc = commit(w, w->next_lsn, 0); /* back-pressure: write it out first */
        if (rc)
            goto out;
    }
    if (w->sticky) {
        rc = w->sticky;
        goto out;
    }
    if (w->pend_len + frame > w->pend_cap) {
        size_t cap = w->pend_cap ? w->pend_cap : (size_t)1 << 20;
        while (cap < w->pend_len + frame)
            cap *= 2;
        w->pend = vg_realloc(w->pend, cap);
        w->pend_cap = cap;
    }
    memcpy(w->pend + w->pend_len, hdr, WAL_FRAME_HDR);
    if (len > 0)
        memcpy(w->pend + w->pend_len + WAL_FRAME_HDR, rec, len);
    w->pend_len += frame;
    w->next_lsn += frame;
    w->st_records++;
    *lsn = w->next_lsn;
out:
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* commit() for the many concurrent writers: the same rules, but a writer that finds a round
** running sleeps on round_seq and, once woken, returns on the published LSN without taking mu. */
int wal_sync(struct wal *w, uint64_t lsn)
{
    int durable = w->opts.policy == WAL_SYNC_ALWAYS;
    const uint64_t *pub = durable ? &w->durable_pub : &w->written_pub;
    int rc = VG_OK;

    pthread_mutex_lock(&w->mu);
    while (w->recovered) {
        if (lsn > w->next_lsn)
            lsn = w->next_lsn;
        if ((durable ? w->durable_lsn : w->written_lsn) >= lsn)
            break;
        if (!w->syncing) {
            rc = sync_round(w, durable);
            if (rc)
                break;
            continue;
        }
        uint64_t gen = w->fail_gen;
        uint32_t seq = __atomic_load_n(&w->round_seq, __ATOMIC_ACQUIRE);
        pthread_mutex_unlock(&w->mu);
        round_wait(w, seq);
        if (__atomic_load_n(pub, __ATOMIC_ACQUIRE) >= lsn)
            return VG_OK;
        pthread_mutex_lock(&w->mu);
        if ((durable ? w->durable_lsn : w->written_lsn) >= lsn)
            break;
        if (w->fail_gen != gen) {
            rc = w->last_err; /* the round we waited for failed: our record with it */
            break;
        }
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int wal_rotate(struct wal *w, uint64_t *lsn)
{
    uint64_t first;
    int rc, synced = 0;

    pthread_mutex_lock(&w->mu);
    rc = ensure_recovered(w);
    if (rc)
        goto out;
    rc = commit(w, w->next_lsn, 1);
    if (rc)
        goto out;
    role_take(w);
    first = w->written_lsn;
    if (w->seg != NULL && first == w->seg_first) {
        role_release(w); /* the open segment is still empty: it is the new one */
        *lsn = first;
        goto out;
    }
    pthread_mutex_unlock(&w->mu);
    if (w->seg != NULL) {
        rc = seg_sync(w);
        if (rc == VG_OK) {
            synced = 1;
            io_close(w->seg);
            w->seg = NULL;
            w->seg_first = first;
        }
    }
    if (rc == VG_OK)
        rc = seg_create(w, first);
    pthread_mutex_lock(&w->mu);
    if (synced && first > w->durable_lsn)
        w->durable_lsn = first;
    role_release(w);
    if (rc == VG_OK)
        *lsn = first;
out:
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int wal_truncate_before(struct wal *w, uint64_t lsn)
{
    char path[WAL_PATH_MAX + 32];
    uint64_t *doomed = NULL;
    uint32_t n = 0, i, gone = 0;
    int rc;

    pthread_mutex_lock(&w->mu);
    rc = ensure_recovered(w);
    if (rc)
        goto out;
    role_take(w);
    /* Segment i ends where segment i+1 starts; the last one is never deleted. */
    while (n + 1 < w->nseg && w->segs[n + 1] <= lsn)
        n++;
    if (n > 0) {
        doomed = vg_malloc(n * sizeof(*doomed));
        memcpy(doomed, w->segs, n * sizeof(*doomed));
    }
    pthread_mutex_unlock(&w->mu);
    for (i = 0; i < n; i++) { /* oldest first: a crash leaves a contiguous log */
        seg_path(w, path, sizeof(path), doomed[i]);
        rc = io_unlink(w->vfs, path);
        if (rc && rc != VG_ENOENT)
            break;
        rc = VG_OK;
        gone++;
    }
    if (gone > 0) {
        int rc2 = io_sync_dir(w->vfs, w->dir);
        if (rc == VG_OK)
            rc = rc2;
    }
    pthread_mutex_lock(&w->mu);
    memmove(w->segs, w->segs + gone, (w->nseg - gone) * sizeof(*w->segs));
    w->nseg -= gone;
    role_release(w);
out:
    pthread_mutex_unlock(&w->mu);
    free(doomed);
    return rc;
}

void wal_get_stats(struct wal *w, struct wal_stats *st)
{
    uint64_t cum = 0;
    size_t i;

    memset(st, 0, sizeof(*st));
    pthread_mutex_lock(&w->mu);
    st->bytes_written = w->st_bytes;
    st->records = w->st_records;
    st->syncs = w->st_syncs;
    st->segments = w->nseg;
    if (w->nseg > 0)
        st->size_on_disk = (w->written_lsn - w->segs[0]) + (uint64_t)w->nseg * WAL_HDR_SIZE;
    for (i = 0; i < VG_ARRAY_LEN(st->sync_hist); i++) {
        cum += w->st_hist[i];
        st->sync_hist[i] = cum;
    }
    st->sync_total_us = w->st_sync_us;
    pthread_mutex_unlock(&w->mu);
}

/* ---- Lifecycle ----------------------------------------------------------------------------- */

static void *batch_main(void *arg)
{
    struct wal *w = arg;
    struct timespec ts;

    pthread_mutex_lock(&w->mu);
    while (!w->batch_stop) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += w->opts.batch_ms / 1000;
        ts.tv_nsec += (long)(w->opts.batch_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        while (!w->batch_stop && pthread_cond_timedwait(&w->batch_cv, &w->mu, &ts) == 0)
            ;
        if (w->batch_stop)
            break;
        if (w->recovered)
            (void)commit(w, w->next_lsn, 1); /* errors stay sticky for the appenders */
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int wal_open(struct io_vfs *vfs, const char *dir, const struct wal_opts *opts, struct wal **out)
{
    pthread_condattr_t ca;
    struct wal *w;
    int rc;

    if (dir == NULL || strlen(dir) == 0 || strlen(dir) > WAL_PATH_MAX)
        return VG_EINVAL;
    rc = io_mkdir(vfs, dir);
    if (rc)
        return rc;
    w = vg_calloc(1, sizeof(*w));
    w->vfs = vfs;
    w->dir = vg_strdup(dir);
    if (opts != NULL)
        w->opts = *opts;
    if (w->opts.batch_ms == 0)
        w->opts.batch_ms = 200;
    if (w->opts.segment_bytes == 0)
        w->opts.segment_bytes = (uint64_t)64 << 20;
    if (w->opts.max_record == 0 || w->opts.max_record > UINT32_MAX - WAL_FRAME_HDR)
        w->opts.max_record = (uint32_t)256 << 20;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->done_cv, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->batch_cv, &ca);
    pthread_condattr_destroy(&ca);
    if (w->opts.policy == WAL_SYNC_BATCH) {
        if (pthread_create(&w->batch_thread, NULL, batch_main, w) != 0) {
            rc = VG_EIO;
            goto out;
        }
        w->batch_started = 1;
    }
    *out = w;
    w = NULL;
out:
    if (w != NULL) {
        pthread_cond_destroy(&w->batch_cv);
        pthread_cond_destroy(&w->done_cv);
        pthread_mutex_destroy(&w->mu);
        free(w->dir);
        free(w);
    }
    return rc;
}

void wal_close(struct wal *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->batch_stop = 1;
    pthread_cond_broadcast(&w->batch_cv);
    pthread_mutex_unlock(&w->mu);
    if (w->batch_started)
        pthread_join(w->batch_thread, NULL);
    pthread_mutex_lock(&w->mu);
    if (w->recovered)
        (void)commit(w, w->next_lsn, 1); /* best effort: a failure leaves the records unsynced */
    pthread_mutex_unlock(&w->mu);
    io_close(w->seg);
    pthread_cond_destroy(&w->batch_cv);
    pthread_cond_destroy(&w->done_cv);
    pthread_mutex_destroy(&w->mu);
    free(w->pend);
    free(w->spare);
    free(w->segs);
    free(w->dir);
    free(w);
}
