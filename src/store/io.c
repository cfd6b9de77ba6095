/*
** store/io.c: the io_* convenience wrappers of the storage VFS (store/io.h).
** Owns: nothing. Each wrapper forwards to the backend found through the file's or the vfs's
** ops table, so callers never touch the table directly.
** Thread: as the backend (every backend in Vigie is safe from any thread).
*/
#include "store/io.h"

int io_open(struct io_vfs *vfs, const char *path, int flags, struct io_file **out)
{
    return vfs->ops->open(vfs, path, flags, out);
}

int io_close(struct io_file *f)
{
    if (f == NULL)
        return VG_OK;
    return f->vfs->ops->close(f);
}

int io_pread(struct io_file *f, void *buf, size_t n, uint64_t off, size_t *got)
{
    return f->vfs->ops->pread(f, buf, n, off, got);
}

int io_pwrite(struct io_file *f, const void *buf, size_t n, uint64_t off)
{
    return f->vfs->ops->pwrite(f, buf, n, off);
}

int io_sync(struct io_file *f)
{
    return f->vfs->ops->sync(f);
}

int io_size(struct io_file *f, uint64_t *size)
{
    return f->vfs->ops->size(f, size);
}

int io_truncate(struct io_file *f, uint64_t size)
{
    return f->vfs->ops->truncate(f, size);
}

int io_map(struct io_file *f, const void **p, size_t *len)
{
    return f->vfs->ops->map(f, p, len);
}

void io_unmap(struct io_file *f, const void *p, size_t len)
{
    f->vfs->ops->unmap(f, p, len);
}

int io_unlink(struct io_vfs *vfs, const char *path)
{
    return vfs->ops->unlink(vfs, path);
}

int io_rename(struct io_vfs *vfs, const char *from, const char *to)
{
    return vfs->ops->rename(vfs, from, to);
}

int io_mkdir(struct io_vfs *vfs, const char *path)
{
    return vfs->ops->mkdir(vfs, path);
}

int io_sync_dir(struct io_vfs *vfs, const char *path)
{
    return vfs->ops->sync_dir(vfs, path);
}

int io_list(struct io_vfs *vfs, const char *dir, io_list_fn *fn, void *arg)
{
    return vfs->ops->list(vfs, dir, fn, arg);
}

int io_exists(struct io_vfs *vfs, const char *path)
{
    return vfs->ops->exists(vfs, path);
}
