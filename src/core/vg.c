/*
** core/vg.c: error strings, bounded message formatting, checked allocation, VG_BUG.
** Owns: nothing beyond what callers allocate through it.
*/
#include "core/vg.h"
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *vg_strerror(int rc)
{
    switch (rc) {
    case VG_OK: return "ok";
    case VG_ENOMEM: return "out of memory";
    case VG_EIO: return "i/o error";
    case VG_ECORRUPT: return "corrupt data";
    case VG_EINVAL: return "invalid argument";
    case VG_EAGAIN: return "try again";
    case VG_EFULL: return "no space left on device";
    case VG_ENOENT: return "not found";
    case VG_EEXIST: return "already exists";
    case VG_ETYPE: return "type conflict";
    case VG_ETOOBIG: return "too big";
    case VG_EPERM: return "not permitted";
    case VG_ECLOSED: return "closed";
    case VG_ERANGE: return "out of range";
    }
    return "unknown error";
}

void vg_putf(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    if (!buf || cap == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

int vg_errf(char *buf, size_t cap, int rc, const char *fmt, ...)
{
    va_list ap;
    if (!buf || cap == 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return rc;
}

static void oom(size_t n)
{
    log_error("out of memory allocating %zu bytes", n);
    abort();
}

void *vg_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *vg_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *vg_calloc_aligned(size_t align, size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, align, n ? n : 1))
        oom(n);
    memset(p, 0, n);
    return p;
}

void *vg_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *vg_strdup(const char *s)
{
    return vg_strndup(s, strlen(s));
}

char *vg_strndup(const char *s, size_t n)
{
    char *p = vg_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void vg_bug(const char *file, int line, const char *msg)
{
    fprintf(stderr, "BUG: %s:%d: %s\n", file, line, msg);
    fflush(stderr);
    abort();
}
