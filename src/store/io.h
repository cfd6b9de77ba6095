/*
** store/io.h: the storage engine's VFS. Every byte the engine reads or writes goes through it,
** so tests can swap the POSIX backend (io_posix.c) for the fault-injecting one (io_fault.c).
** Owns: nothing itself; each backend owns its file handles.
** Errors: VG_EFULL for ENOSPC/EDQUOT, VG_ENOENT for ENOENT, VG_EIO for any other errno.
** This is the only place in Vigie where errno is converted. [STYLE 5]
** Thread: every call is safe from any thread; one io_file may be used by several threads for
** pread, but writes to one file are serialised by its owner.
*/
#ifndef VG_STORE_IO_H
#define VG_STORE_IO_H

#include "core/vg.h"

#include <stddef.h>
#include <stdint.h>

struct io_file;
struct io_vfs;

enum io_open_flags {
    IO_RDONLY = 1 << 0, /* read only (default: read-write) */
    IO_CREATE = 1 << 1, /* create if missing */
    IO_TRUNC = 1 << 2,  /* truncate to 0 on open */
    IO_EXCL = 1 << 3,   /* fail with VG_EEXIST if it exists */
};

/* Called once per directory entry by io_list (names only, no "." or ".."). Return non-zero to stop. */
typedef int io_list_fn(void *arg, const char *name);

struct io_vfs_ops {
    int (*open)(struct io_vfs *vfs, const char *path, int flags, struct io_file **out);
    int (*close)(struct io_file *f);
    /* Read up to n bytes at off; *got receives the count (short only at end of file). */
    int (*pread)(struct io_file *f, void *buf, size_t n, uint64_t off, size_t *got);
    /* Write all n bytes at off (loops on short writes). Not durable before sync. */
    int (*pwrite)(struct io_file *f, const void *buf, size_t n, uint64_t off);
    int (*sync)(struct io_file *f); /* fdatasync: data written so far is durable */
    int (*size)(struct io_file *f, uint64_t *size);
    int (*truncate)(struct io_file *f, uint64_t size);
    /* Map the whole file read-only; *p stays valid until unmap. Empty files give p=NULL, len=0. */
    int (*map)(struct io_file *f, const void **p, size_t *len);
    void (*unmap)(struct io_file *f, const void *p, size_t len);
    int (*unlink)(struct io_vfs *vfs, const char *path);
    int (*rename)(struct io_vfs *vfs, const char *from, const char *to); /* atomic replace */
    int (*mkdir)(struct io_vfs *vfs, const char *path);                  /* ok if it exists */
    int (*sync_dir)(struct io_vfs *vfs, const char *path); /* make creates/renames/unlinks durable */
    int (*list)(struct io_vfs *vfs, const char *dir, io_list_fn *fn, void *arg);
    int (*exists)(struct io_vfs *vfs, const char *path); /* 1 yes, 0 no */
};

struct io_vfs {
    const struct io_vfs_ops *ops;
};

/* Convenience wrappers: io_open(vfs, ...) == vfs->ops->open(vfs, ...). */
int io_open(struct io_vfs *vfs, const char *path, int flags, struct io_file **out);
int io_close(struct io_file *f);
int io_pread(struct io_file *f, void *buf, size_t n, uint64_t off, size_t *got);
int io_pwrite(struct io_file *f, const void *buf, size_t n, uint64_t off);
int io_sync(struct io_file *f);
int io_size(struct io_file *f, uint64_t *size);
int io_truncate(struct io_file *f, uint64_t size);
int io_map(struct io_file *f, const void **p, size_t *len);
void io_unmap(struct io_file *f, const void *p, size_t len);
int io_unlink(struct io_vfs *vfs, const char *path);
int io_rename(struct io_vfs *vfs, const char *from, const char *to);
int io_mkdir(struct io_vfs *vfs, const char *path);
int io_sync_dir(struct io_vfs *vfs, const char *path);
int io_list(struct io_vfs *vfs, const char *dir, io_list_fn *fn, void *arg);
int io_exists(struct io_vfs *vfs, const char *path);

/* Every io_file starts with this header so the wrappers can find the vfs. */
struct io_file {
    struct io_vfs *vfs;
};

/* The process-wide POSIX backend (a const singleton; never freed). */
struct io_vfs *io_posix(void);

/* ---- Fault-injecting backend (store/io_fault.c), for tests. -------------------------------
** Wraps io_posix(). Writes are held in memory until sync(), so a simulated crash can decide the
** fate of every unsynced write. Reads see the held writes (the page cache of a live process). */
enum io_crash_mode {
    IO_CRASH_DROP = 0,   /* every unsynced write is lost */
    IO_CRASH_KEEP = 1,   /* every unsynced write reached the disk */
    IO_CRASH_RANDOM = 2, /* each unsynced write is kept, dropped, torn (a prefix) or garbled */
};
struct io_vfs *io_fault_new(uint64_t seed);
void io_fault_free(struct io_vfs *vfs);
/* From now on every pwrite/sync fails with VG_EFULL (on) or works again (off). */
void io_fault_set_full(struct io_vfs *vfs, int on);
/* The nth pwrite or sync from now (1-based) fails with err (VG_EIO or VG_EFULL); 0 disables. */
void io_fault_fail_nth(struct io_vfs *vfs, uint64_t nth, int err);
/* Simulate power loss: apply unsynced writes per mode, then invalidate every open io_file
** (later calls on them fail with VG_EIO; close still frees them). The vfs can be reused. */
void io_fault_crash(struct io_vfs *vfs, enum io_crash_mode mode);
/* Counters for tests. */
uint64_t io_fault_writes(struct io_vfs *vfs);
uint64_t io_fault_syncs(struct io_vfs *vfs);

#endif
