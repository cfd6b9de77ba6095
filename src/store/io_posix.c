/*
** store/io_posix.c: the POSIX backend of the storage VFS (store/io.h).
** Owns: one file descriptor per io_file (closed by close), and the mappings made by map.
** Errors: errno is converted here and nowhere else: ENOSPC/EDQUOT -> VG_EFULL, ENOENT ->
** VG_ENOENT, EEXIST -> VG_EEXIST, anything else -> VG_EIO. EINTR is retried.
** io_list: a callback's negative return is returned by io_list; a positive one stops the walk
** and io_list returns VG_OK.
** Thread: stateless apart from the fds; every call is safe from any thread.
*/
#include "store/io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct posix_file {
    struct io_file base; /* first: io_file * <-> posix_file * */
    int fd;
};

static int map_errno(int e)
{
    switch (e) {
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
        return VG_EFULL;
    case ENOENT:
        return VG_ENOENT;
    case EEXIST:
        return VG_EEXIST;
    default:
        return VG_EIO;
    }
}

static int posix_open(struct io_vfs *vfs, const char *path, int flags, struct io_file **out)
{
    int oflags = O_CLOEXEC;
    int fd;
    struct posix_file *pf;

    oflags |= (flags & IO_RDONLY) ? O_RDONLY : O_RDWR;
    if (flags & IO_CREATE)
        oflags |= O_CREAT;
    if (flags & IO_TRUNC)
        oflags |= O_TRUNC;
    if (flags & IO_EXCL)
        oflags |= O_EXCL | O_CREAT;
    do {
        fd = open(path, oflags, 0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return map_errno(errno);
    pf = vg_calloc(1, sizeof(*pf));
    pf->base.vfs = vfs;
    pf->fd = fd;
    *out = &pf->base;
    return VG_OK;
}

static int posix_close(struct io_file *f)
{
    struct posix_file *pf = (struct posix_file *)f;
    int rc = VG_OK;

    /* Never retry close on EINTR: on Linux the fd is released anyway. */
    if (close(pf->fd) != 0 && errno != EINTR)
        rc = map_errno(errno);
    free(pf);
    return rc;
}

static int posix_pread(struct io_file *f, void *buf, size_t n, uint64_t off, size_t *got)
{
    struct posix_file *pf = (struct posix_file *)f;
    size_t done = 0;

    while (done < n) {
        ssize_t r = pread(pf->fd, (char *)buf + done, n - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return map_errno(errno);
        }
        if (r == 0)
            break;
        done += (size_t)r;
    }
    *got = done;
    return VG_OK;
}

static int posix_pwrite(struct io_file *f, const void *buf, size_t n, uint64_t off)
{
    struct posix_file *pf = (struct posix_file *)f;
    size_t done = 0;

    while (done < n) {
        ssize_t r = pwrite(pf->fd, (const char *)buf + done, n - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return map_errno(errno);
        }
        if (r == 0)
            return VG_EIO; /* no progress and no errno: give up rather than spin */
        done += (size_t)r;
    }
    return VG_OK;
}

static int posix_sync(struct io_file *f)
{
    struct posix_file *pf = (struct posix_file *)f;
    int r;

    do {
        r = fdatasync(pf->fd);
    } while (r != 0 && errno == EINTR);
    return r == 0 ? VG_OK : map_errno(errno);
}

static int posix_size(struct io_file *f, uint64_t *size)
{
    struct posix_file *pf = (struct posix_file *)f;
    struct stat st;

    if (fstat(pf->fd, &st) != 0)
        return map_errno(errno);
    *size = (uint64_t)st.st_size;
    return VG_OK;
}

static int posix_truncate(struct io_file *f, uint64_t size)
{
    struct posix_file *pf = (struct posix_file *)f;
    int r;

    do {
        r = ftruncate(pf->fd, (off_t)size);
    } while (r != 0 && errno == EINTR);
    return r == 0 ? VG_OK : map_errno(errno);
}

static int posix_map(struct io_file *f, const void **p, size_t *len)
{
    struct posix_file *pf = (struct posix_file *)f;
    uint64_t size;
    void *m;
    int rc;

    rc = posix_size(f, &size);
    if (rc)
        return rc;
    if (size == 0) {
        *p = NULL;
        *len = 0;
        return VG_OK;
    }
    if (size > (uint64_t)SIZE_MAX)
        return VG_ETOOBIG;
    m = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, pf->fd, 0);
    if (m == MAP_FAILED)
        return map_errno(errno);
    *p = m;
    *len = (size_t)size;
    return VG_OK;
}

static void posix_unmap(struct io_file *f, const void *p, size_t len)
{
    if (p != NULL && len > 0)
        munmap((void *)p, len);
}

static int posix_unlink(struct io_vfs *vfs, const char *path)
{
    return unlink(path) == 0 ? VG_OK : map_errno(errno);
}

static int posix_rename(struct io_vfs *vfs, const char *from, const char *to)
{
    return rename(from, to) == 0 ? VG_OK : map_errno(errno);
}

static int posix_mkdir(struct io_vfs *vfs, const char *path)
{
    struct stat st;

    if (mkdir(path, 0755) == 0)
        return VG_OK;
    if (errno != EEXIST)
        return map_errno(errno);
    if (stat(path, &st) != 0)
        return map_errno(errno);
    return S_ISDIR(st.st_mode) ? VG_OK : VG_EEXIST;
}

static int posix_sync_dir(struct io_vfs *vfs, const char *path)
{
    int fd, r, rc = VG_OK;

    do {
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return map_errno(errno);
    do {
        r = fsync(fd);
    } while (r != 0 && errno == EINTR);
    if (r != 0)
        rc = map_errno(errno);
    close(fd);
    return rc;
}

static int posix_list(struct io_vfs *vfs, const char *dir, io_list_fn *fn, void *arg)
{
    DIR *d;
    struct dirent *de;
    int rc = VG_OK;

    d = opendir(dir);
    if (d == NULL)
        return map_errno(errno);
    for (;;) {
        errno = 0;
        de = readdir(d);
        if (de == NULL) {
            if (errno != 0)
                rc = map_errno(errno);
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        rc = fn(arg, de->d_name);
        if (rc != 0) {
            if (rc > 0)
                rc = VG_OK;
            break;
        }
    }
    closedir(d);
    return rc;
}

static int posix_exists(struct io_vfs *vfs, const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? 1 : 0;
}

static const struct io_vfs_ops posix_ops = {
    .open = posix_open,
    .close = posix_close,
    .pread = posix_pread,
    .pwrite = posix_pwrite,
    .sync = posix_sync,
    .size = posix_size,
    .truncate = posix_truncate,
    .map = posix_map,
    .unmap = posix_unmap,
    .unlink = posix_unlink,
    .rename = posix_rename,
    .mkdir = posix_mkdir,
    .sync_dir = posix_sync_dir,
    .list = posix_list,
    .exists = posix_exists,
};

/* A const singleton; the cast only exists because the ops take a non-const vfs (never written). */
static const struct io_vfs posix_vfs = {&posix_ops};

struct io_vfs *io_posix(void)
{
    return (struct io_vfs *)&posix_vfs;
}
