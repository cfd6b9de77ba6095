/*
** core/vg.h: error codes, assertions, checked allocation and bounded message formatting shared
** by every layer.
** Owns: nothing (macros and a few functions in core/vg.c).
** Errors are negative VG_E* constants; 0 is VG_OK. Only store/io converts errno.
*/
#ifndef VG_VG_H
#define VG_VG_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum vg_err {
    VG_OK = 0,
    VG_ENOMEM = -1,   /* allocation refused (input-sized allocations only) */
    VG_EIO = -2,      /* I/O error from the OS */
    VG_ECORRUPT = -3, /* bytes from disk failed a checksum or a structural check */
    VG_EINVAL = -4,   /* invalid argument or input */
    VG_EAGAIN = -5,   /* try again later (back-pressure) */
    VG_EFULL = -6,    /* no space left on device */
    VG_ENOENT = -7,   /* no such object */
    VG_EEXIST = -8,   /* object already exists */
    VG_ETYPE = -9,    /* value type conflicts with the series' type */
    VG_ETOOBIG = -10, /* a hard size limit was hit */
    VG_EPERM = -11,   /* not allowed */
    VG_ECLOSED = -12, /* the object is shutting down or failed */
    VG_ERANGE = -13,  /* a value outside its domain (e.g. a local time that does not exist) */
};

/* Static string for an error code; never NULL. */
const char *vg_strerror(int rc);

/* Format into buf like snprintf (truncated to cap - 1 bytes, NUL-terminated; nothing is written
** when buf is NULL or cap is 0). vg_errf returns rc, so that an error path reads
** `return vg_errf(err, cap, VG_EINVAL, "...", ...);`. */
void vg_putf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vg_errf(char *buf, size_t cap, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Checked allocation: log and abort on OOM [Redis zmalloc]. Cap input-sized sizes first. */
void *vg_malloc(size_t n);
void *vg_calloc(size_t n, size_t size);
void *vg_realloc(void *p, size_t n);
/* n zeroed bytes at an address multiple of align (a power of two, at least sizeof(void *)), for
** hot records that must start a cache line; free() releases them. */
void *vg_calloc_aligned(size_t align, size_t n);
char *vg_strdup(const char *s);
char *vg_strndup(const char *s, size_t n);

void vg_bug(const char *file, int line, const char *msg) __attribute__((noreturn));

#define VG_BUG(msg) vg_bug(__FILE__, __LINE__, (msg))
#define VG_ASSERT(x) do { if (!(x)) vg_bug(__FILE__, __LINE__, "assertion failed: " #x); } while (0)
/* Defensive checks that must not crash production: evaluate to the condition. [SQLite] */
#ifdef VG_DEBUG
#define ALWAYS(x) ((x) ? 1 : (vg_bug(__FILE__, __LINE__, "ALWAYS failed: " #x), 0))
#define NEVER(x) ((x) ? (vg_bug(__FILE__, __LINE__, "NEVER failed: " #x), 1) : 0)
#else
#define ALWAYS(x) (x)
#define NEVER(x) (x)
#endif

#define VG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define VG_UNUSED(x) ((void)(x))
#define VG_MIN(a, b) ((a) < (b) ? (a) : (b))
#define VG_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
