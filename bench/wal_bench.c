/*
** bench/wal_bench.c: standalone micro-benchmark of the WAL group commit (store/wal.c).
** N writer threads each loop { wal_append(one record); wal_sync(its lsn) } for a fixed time with
** the WAL_SYNC_ALWAYS policy on the real disk, for N = 1, 2, 4. Prints appends+syncs per second,
** MB/s, fdatasyncs per second, records per fdatasync and the mean fdatasync latency.
** Build and run (from the repository root):
**   gcc -std=c11 -D_GNU_SOURCE -O2 -Isrc -pthread -o /tmp/wal_bench bench/wal_bench.c \
**       src/store/wal.c src/store/io.c src/store/io_posix.c src/store/io_fault.c \
**       src/core/{buf,clock,crc32c,log,vg}.c -lm    (the core/ library files)
**   /tmp/wal_bench [dir (default $TMPDIR or /tmp)] [seconds per run (3)] [record bytes (250000)]
*/
#include "core/clock.h"
#include "store/wal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct writer {
    struct wal *w;
    size_t rec_len;
    int64_t deadline_ns;
    uint64_t done;
    int errors;
};

static void *writer_main(void *p)
{
    struct writer *wr = p;
    uint8_t *rec = malloc(wr->rec_len);
    uint64_t lsn;

    for (size_t i = 0; i < wr->rec_len; i++)
        rec[i] = (uint8_t)(i * 2654435761u >> 13);
    while (clock_mono_ns() < wr->deadline_ns) {
        if (wal_append(wr->w, rec, wr->rec_len, &lsn) != 0 || wal_sync(wr->w, lsn) != 0) {
            wr->errors++;
            break;
        }
        wr->done++;
    }
    free(rec);
    return NULL;
}

static int run(const char *base, int nthreads, double seconds, size_t rec_len)
{
    char dir[600];
    struct wal *w = NULL;
    struct wal_stats st;
    struct writer wr[16];
    pthread_t th[16];
    uint64_t total = 0;
    int errors = 0, rc;

    snprintf(dir, sizeof(dir), "%s/wal_bench.%d.%d", base, (int)clock_mono_ns() & 0xffff, nthreads);
    rc = wal_open(io_posix(), dir, NULL, &w);
    if (rc) {
        fprintf(stderr, "cannot open wal '%s': %s\n", dir, vg_strerror(rc));
        return 1;
    }
    wal_replay(w, NULL, NULL, NULL);
    int64_t t0 = clock_mono_ns();
    for (int t = 0; t < nthreads; t++) {
        wr[t] = (struct writer){w, rec_len, t0 + (int64_t)(seconds * 1e9), 0, 0};
        pthread_create(&th[t], NULL, writer_main, &wr[t]);
    }
    for (int t = 0; t < nthreads; t++) {
        pthread_join(th[t], NULL);
        total += wr[t].done;
        errors += wr[t].errors;
    }
    double el = (double)(clock_mono_ns() - t0) / 1e9;
    wal_get_stats(w, &st);
    wal_close(w);
    printf("threads=%d records=%llu  %.0f appends+syncs/s  %.1f MB/s  %.0f fdatasync/s  "
           "%.2f rec/sync  mean sync %.2f ms%s\n",
           nthreads, (unsigned long long)total, total / el, total * rec_len / el / 1e6,
           st.syncs / el, st.syncs ? (double)total / st.syncs : 0.0,
           st.syncs ? st.sync_total_us / 1000.0 / st.syncs : 0.0, errors ? "  ERRORS" : "");
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove '%s'\n", dir);
    return errors != 0;
}

int main(int argc, char **argv)
{
    const char *base = argc > 1 ? argv[1] : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    double seconds = argc > 2 ? strtod(argv[2], NULL) : 3.0;
    size_t rec_len = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 250000;
    static const int threads[] = {1, 2, 4};
    int bad = 0;

    printf("wal_bench: dir=%s record=%zu bytes, %.1f s per run, policy=always\n", base, rec_len,
           seconds);
    for (size_t i = 0; i < sizeof(threads) / sizeof(threads[0]); i++)
        bad |= run(base, threads[i], seconds, rec_len);
    return bad;
}
