/*
** store/io_fault.c: the fault-injecting backend of the storage VFS (store/io.h), for crash and
** error tests. Compiled into the program but only ever created by tests.
** Owns: per file (an inode, keyed by its real path) the list of writes not yet synced, one real
** POSIX handle per such file, and the fault switches (disk full, fail the nth op, crash).
** Model [SQLite src/test6.c]:
**   - pwrite is held in memory (per file, in order) until sync; reads and size see the held
**     writes overlaid on the real file, like the page cache of a live process does. sync applies
**     them to the real file, then fdatasyncs it. Held writes survive close (the page cache does).
**   - io_fault_crash() decides the fate of every held write (drop, keep, or with RANDOM: keep,
**     drop, write a random prefix (torn) or write garbage of the same length), then invalidates
**     every open io_file: later calls fail with VG_EIO and only close works (and frees it).
**   - io_fault_set_full() makes every pwrite and sync fail with VG_EFULL; io_fault_fail_nth()
**     fails one pwrite or sync. A failed pwrite holds nothing; a failed sync applies nothing.
** Simplifications (documented, deliberate): open/create, truncate, unlink, rename, mkdir and
** sync_dir are applied to the real file system at once and are never undone by a crash, and
** never fail by injection. A truncate also clips the held writes past the new size.
** Thread: one mutex per vfs serialises every call (real I/O included).
*/
#include "store/io.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct fault_write {
    struct fault_write *next;
    uint64_t off;
    size_t len;
    uint8_t data[];
};

/* One per real file that has open handles or held writes. */
struct fault_node {
    struct fault_node *next;
    char *path; /* realpath; NULL once unlinked or replaced by a rename */
    struct io_file *real;
    int real_rdonly;
    int refs; /* open fault_files */
    struct fault_write *head, *tail;
};

struct fault_file {
    struct io_file base; /* first */
    struct fault_file *next;
    struct fault_node *node; /* NULL once dead */
    int rdonly;
};

struct fault_vfs {
    struct io_vfs base; /* first */
    pthread_mutex_t mu;
    uint64_t rng;
    int full;
    uint64_t nth_left; /* 0: disabled */
    int nth_err;
    uint64_t writes, syncs;
    struct fault_node *nodes;
    struct fault_file *files;
};

static uint64_t rng_next(struct fault_vfs *fv)
{
    /* splitmix64: a fixed seed gives a reproducible crash. */
    uint64_t z = (fv->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static struct fault_vfs *fv_of(struct io_vfs *vfs)
{
    return (struct fault_vfs *)vfs;
}

static void drop_writes(struct fault_node *n)
{
    struct fault_write *w = n->head;

    while (w != NULL) {
        struct fault_write *nx = w->next;
        free(w);
        w = nx;
    }
    n->head = n->tail = NULL;
}

static struct fault_node *node_find(struct fault_vfs *fv, const char *path)
{
    struct fault_node *n;

    for (n = fv->nodes; n != NULL; n = n->next)
        if (n->path != NULL && strcmp(n->path, path) == 0)
            return n;
    return NULL;
}

/* Free n if nothing refers to it any more (no handle, no held write, or unlinked). */
static void node_maybe_free(struct fault_vfs *fv, struct fault_node *n)
{
    struct fault_node **pp;

    if (n->refs > 0 || (n->head != NULL && n->path != NULL))
        return;
    for (pp = &fv->nodes; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == n) {
            *pp = n->next;
            break;
        }
    }
    drop_writes(n);
    io_close(n->real);
    free(n->path);
    free(n);
}

/* Injected failure for a pwrite or sync, or VG_OK. Called with the mutex held. */
static int fault_check(struct fault_vfs *fv)
{
    if (fv->full)
        return VG_EFULL;
    if (fv->nth_left > 0 && --fv->nth_left == 0)
        return fv->nth_err;
    return VG_OK;
}

static int node_size(struct fault_node *n, uint64_t *size)
{
    struct fault_write *w;
    uint64_t s;
    int rc;

    rc = io_size(n->real, &s);
    if (rc)
        return rc;
    for (w = n->head; w != NULL; w = w->next)
        if (w->off + w->len > s)
            s = w->off + w->len;
    *size = s;
    return VG_OK;
}

/* Read n bytes at off as the live process sees them: real file, zero-filled, then the held
** writes overlaid in order. */
static int node_read(struct fault_node *n, void *buf, size_t len, uint64_t off, size_t *got)
{
    struct fault_write *w;
    uint64_t size;
    size_t real_got;
    int rc;

    rc = node_size(n, &size);
    if (rc)
        return rc;
    if (off >= size) {
        *got = 0;
        return VG_OK;
    }
    if (len > size - off)
        len = (size_t)(size - off);
    rc = io_pread(n->real, buf, len, off, &real_got);
    if (rc)
        return rc;
    memset((uint8_t *)buf + real_got, 0, len - real_got);
    for (w = n->head; w != NULL; w = w->next) {
        uint64_t lo = VG_MAX(off, w->off);
        uint64_t hi = VG_MIN(off + len, w->off + w->len);
        if (lo < hi)
            memcpy((uint8_t *)buf + (lo - off), w->data + (lo - w->off), (size_t)(hi - lo));
    }
    *got = len;
    return VG_OK;
}

static int fault_open(struct io_vfs *vfs, const char *path, int flags, struct io_file **out)
{
    struct fault_vfs *fv = fv_of(vfs);
    struct io_file *real = NULL;
    struct fault_node *n;
    struct fault_file *ff;
    char *key = NULL;
    int rc;

    pthread_mutex_lock(&fv->mu);
    rc = io_open(io_posix(), path, flags, &real);
    if (rc)
        goto out;
    key = realpath(path, NULL);
    if (key == NULL) {
        rc = VG_EIO;
        goto out;
    }
    n = node_find(fv, key);
    if (n == NULL) {
        n = vg_calloc(1, sizeof(*n));
        n->path = key;
        n->real = real;
        n->real_rdonly = (flags & IO_RDONLY) != 0;
        n->next = fv->nodes;
        fv->nodes = n;
        key = NULL;
        real = NULL;
    } else {
        if (flags & IO_TRUNC)
            drop_writes(n);
        if (n->real_rdonly && !(flags & IO_RDONLY)) {
            io_close(n->real);
            n->real = real;
            n->real_rdonly = 0;
            real = NULL;
        }
    }
    ff = vg_calloc(1, sizeof(*ff));
    ff->base.vfs = vfs;
    ff->node = n;
    ff->rdonly = (flags & IO_RDONLY) != 0;
    ff->next = fv->files;
    fv->files = ff;
    n->refs++;
    *out = &ff->base;
out:
    if (real != NULL)
        io_close(real);
    free(key);
    pthread_mutex_unlock(&fv->mu);
    return rc;
}

static int fault_close(struct io_file *f)
{
    struct fault_vfs *fv = fv_of(f->vfs);
    struct fault_file *ff = (struct fault_file *)f;
    struct fault_file **pp;

    pthread_mutex_lock(&fv->mu);
    for (pp = &fv->files; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == ff) {
            *pp = ff->next;
            break;
        }
    }
    if (ff->node != NULL) {
        ff->node->refs--;
        node_maybe_free(fv, ff->node);
    }
    pthread_mutex_unlock(&fv->mu);
    free(ff);
    return VG_OK;
}

static int fault_pread(struct io_file *f, void *buf, size_t n, uint64_t off, size_t *got)
{
    struct fault_vfs *fv = fv_of(f->vfs);
    struct fault_file *ff = (struct fault_file *)f;
    int rc = VG_EIO;

    pthread_mutex_lock(&fv->mu);
    if (ff->node != NULL)
        rc = node_read(ff->node, buf, n, off, got);
    pthread_mutex_unlock(&fv->mu);
    return rc;
}

static int fault_pwrite(struct io_file *f, const void *buf, size_t n, uint64_t off)
{
    struct fault_vfs *fv = fv_of(f->vfs);
    struct fault_file *ff = (struct fault_file *)f;
    struct fault_write *w;
    int rc = VG_EIO;

    pthread_mutex_lock(&fv->mu);
    if (ff->node == NULL || ff->rdonly)
        goto out;
    rc = fault_check(fv);
    if (rc)
        goto out;
    if (n == 0)
        goto out;
    w = vg_malloc(sizeof(*w) + n);
    w->next = NULL;
    w->off = off;
    w->len = n;
    memcpy(w->data, buf, n);
    if (ff->node->tail != NULL)
        ff->node->tail->next = w;
    else
        ff->node->head = w;
    ff->node->tail = w;
    fv->writes++;
out:
    pthread_mutex_unlock(&fv->mu);
    return rc;
}

static int fault_sync(struct io_file *f)
{
    struct fault_vfs *fv = fv_of(f->vfs);
    struct fault_file *ff = (struct fault_file *)f;
    struct fault_node *n;
    int rc = VG_EIO;

    pthread_mutex_lock(&fv->mu);
    n = ff->node;
    if (n == NULL)
        goto out;
    rc = fault_check(fv);
    if (rc)
        goto out;
    while (n->head != NULL) {
        struct fault_write *w = n->head;
        rc = io_pwrite(n->real, w->data, w->len, w->off);
        if (rc)
            goto out;
        n->head = w->next;
        if (n->head == NULL)
            n->tail = NULL;
        free(w);
    }
    rc = io_sync(n->real);
    if (rc)
        goto out;
    fv->syncs++;
out:
    pthread_mutex_unlock(&fv->mu);
    return rc;
}

static int fault_size(struct io_file *f, uint64_t *size)
{
    struct fault_vfs *fv = fv_of(f->vfs);
    struct fault_file *ff = (struct fault_file *)f;
    int rc = VG_EIO;

    pthread_mutex_lock(&fv->mu);
    if (ff->node != NULL)
        rc = node_size(ff->node, size);
    pthread_mutex_unlock(&fv->mu);
    return rc;
}

static int fault_truncate(struct io_file *f, uint64_t size)
{
    struct fault_vfs *fv = fv_of(f->vfs);
    struct fault_file *ff = (struct fault_file *)f;
    struct fault_write **pp;
    struct fault_node *n;
    int rc = VG_EIO;

    pthread_mutex_lock(&fv->mu);
    n = ff->node;
    if (n == NULL || ff->rdonly)
        goto out;
    rc = io_truncate(n->real, size);
    if (rc)
        goto out;
    n->tail = NULL;
    pp = &n->head;
    while (*pp != NULL) {
        struct fault_write *w = *pp;
        if (w->off >= size) {
            *pp = w->next;
            free(w);
            continue;
        }
        if (w->off + w->len > size)
            w->len = (size_t)(size - w->off);
        n->tail = w;
        pp = &w->next;
    }
out:
    pthread_mutex_unlock(&fv->mu);
    return rc;
}

/* A private heap copy (the held writes cannot be mmap'ed); unmap frees it. */
static int fault_map(struct io_file *f, const void **p, size_t *len)
{
    struct fault_vfs *fv = fv_of(f->vfs);
    struct fault_file *ff = (struct fault_file *)f;
    uint64_t size;
    uint8_t *buf = NULL;
    size_t got;
    int rc = VG_EIO;

    pthread_mutex_lock(&fv->mu);
    if (ff->node == NULL)
        goto out;
    rc = node_size(ff->node, &size);
    if (rc)
        goto out;
    if (size > (uint64_t)SIZE_MAX / 2) {
        rc = VG_ETOOBIG;
        goto out;
    }
    if (size == 0) {
        *p = NULL;
        *len = 0;
        goto out;
    }
    buf = vg_malloc((size_t)size);
    rc = node_read(ff->node, buf, (size_t)size, 0, &got);
    if (rc)
        goto out;
    *p = buf;
    *len = got;
    buf = NULL;
out:
    pthread_mutex_unlock(&fv->mu);
    free(buf);
    return rc;
}

static void fault_unmap(struct io_file *f, const void *p, size_t len)
{
    free((void *)p);
}

static void node_detach(struct fault_vfs *fv, struct fault_node *n)
{
    free(n->path);
    n->path = NULL;
    node_maybe_free(fv, n);
}

static int fault_unlink(struct io_vfs *vfs, const char *path)
{
    struct fault_vfs *fv = fv_of(vfs);
    struct fault_node *n = NULL;
    char *key;
    int rc;

    pthread_mutex_lock(&fv->mu);
    key = realpath(path, NULL);
    rc = io_unlink(io_posix(), path);
    if (rc == VG_OK && key != NULL) {
        n = node_find(fv, key);
        if (n != NULL)
            node_detach(fv, n);
    }
    pthread_mutex_unlock(&fv->mu);
    free(key);
    return rc;
}

static int fault_rename(struct io_vfs *vfs, const char *from, const char *to)
{
    struct fault_vfs *fv = fv_of(vfs);
    struct fault_node *src = NULL, *dst;
    char *kfrom, *kto = NULL;
    int rc;

    pthread_mutex_lock(&fv->mu);
    kfrom = realpath(from, NULL);
    rc = io_rename(io_posix(), from, to);
    if (rc)
        goto out;
    kto = realpath(to, NULL);
    if (kfrom != NULL)
        src = node_find(fv, kfrom);
    if (kto != NULL) {
        dst = node_find(fv, kto);
        if (dst != NULL && dst != src)
            node_detach(fv, dst);
        if (src != NULL) {
            free(src->path);
            src->path = kto;
            kto = NULL;
        }
    } else if (src != NULL) {
        node_detach(fv, src);
    }
out:
    pthread_mutex_unlock(&fv->mu);
    free(kfrom);
    free(kto);
    return rc;
}

static int fault_mkdir(struct io_vfs *vfs, const char *path)
{
    return io_mkdir(io_posix(), path);
}

static int fault_sync_dir(struct io_vfs *vfs, const char *path)
{
    return io_sync_dir(io_posix(), path);
}

static int fault_list(struct io_vfs *vfs, const char *dir, io_list_fn *fn, void *arg)
{
    return io_list(io_posix(), dir, fn, arg);
}

static int fault_exists(struct io_vfs *vfs, const char *path)
{
    return io_exists(io_posix(), path);
}

static const struct io_vfs_ops fault_ops = {
    .open = fault_open,
    .close = fault_close,
    .pread = fault_pread,
    .pwrite = fault_pwrite,
    .sync = fault_sync,
    .size = fault_size,
    .truncate = fault_truncate,
    .map = fault_map,
    .unmap = fault_unmap,
    .unlink = fault_unlink,
    .rename = fault_rename,
    .mkdir = fault_mkdir,
    .sync_dir = fault_sync_dir,
    .list = fault_list,
    .exists = fault_exists,
};

struct io_vfs *io_fault_new(uint64_t seed)
{
    struct fault_vfs *fv = vg_calloc(1, sizeof(*fv));

    fv->base.ops = &fault_ops;
    pthread_mutex_init(&fv->mu, NULL);
    fv->rng = seed;
    return &fv->base;
}

/* Every io_file of this vfs must have been closed before; held writes are dropped. */
void io_fault_free(struct io_vfs *vfs)
{
    struct fault_vfs *fv;

    if (vfs == NULL)
        return;
    fv = fv_of(vfs);
    while (fv->nodes != NULL) {
        struct fault_node *n = fv->nodes;
        fv->nodes = n->next;
        drop_writes(n);
        io_close(n->real);
        free(n->path);
        free(n);
    }
    pthread_mutex_destroy(&fv->mu);
    free(fv);
}

void io_fault_set_full(struct io_vfs *vfs, int on)
{
    struct fault_vfs *fv = fv_of(vfs);

    pthread_mutex_lock(&fv->mu);
    fv->full = on != 0;
    pthread_mutex_unlock(&fv->mu);
}

void io_fault_fail_nth(struct io_vfs *vfs, uint64_t nth, int err)
{
    struct fault_vfs *fv = fv_of(vfs);

    pthread_mutex_lock(&fv->mu);
    fv->nth_left = nth;
    fv->nth_err = err ? err : VG_EIO;
    pthread_mutex_unlock(&fv->mu);
}

/* The fate of one held write at a crash. Failures of the real write are ignored: the crash
** happens whatever the disk says. */
static void crash_write(struct fault_vfs *fv, struct fault_node *n, struct fault_write *w,
                        enum io_crash_mode mode)
{
    uint64_t r;
    size_t i;

    if (n->real_rdonly)
        return;
    if (mode == IO_CRASH_DROP)
        return;
    if (mode == IO_CRASH_KEEP) {
        (void)io_pwrite(n->real, w->data, w->len, w->off);
        return;
    }
    r = rng_next(fv) % 4;
    switch (r) {
    case 0: /* kept */
        (void)io_pwrite(n->real, w->data, w->len, w->off);
        break;
    case 1: /* dropped */
        break;
    case 2: /* torn: a prefix reached the disk */
        (void)io_pwrite(n->real, w->data, (size_t)(rng_next(fv) % w->len), w->off);
        break;
    default: /* garbled: the sectors hold garbage */
        for (i = 0; i < w->len; i++)
            w->data[i] = (uint8_t)rng_next(fv);
        (void)io_pwrite(n->real, w->data, w->len, w->off);
        break;
    }
}

void io_fault_crash(struct io_vfs *vfs, enum io_crash_mode mode)
{
    struct fault_vfs *fv = fv_of(vfs);
    struct fault_file *ff;
    struct fault_write *w;

    pthread_mutex_lock(&fv->mu);
    for (ff = fv->files; ff != NULL; ff = ff->next)
        ff->node = NULL;
    while (fv->nodes != NULL) {
        struct fault_node *n = fv->nodes;
        fv->nodes = n->next;
        for (w = n->head; w != NULL; w = w->next)
            crash_write(fv, n, w, mode);
        drop_writes(n);
        io_close(n->real);
        free(n->path);
        free(n);
    }
    pthread_mutex_unlock(&fv->mu);
}

uint64_t io_fault_writes(struct io_vfs *vfs)
{
    struct fault_vfs *fv = fv_of(vfs);
    uint64_t v;

    pthread_mutex_lock(&fv->mu);
    v = fv->writes;
    pthread_mutex_unlock(&fv->mu);
    return v;
}

uint64_t io_fault_syncs(struct io_vfs *vfs)
{
    struct fault_vfs *fv = fv_of(vfs);
    uint64_t v;

    pthread_mutex_lock(&fv->mu);
    v = fv->syncs;
    pthread_mutex_unlock(&fv->mu);
    return v;
}
