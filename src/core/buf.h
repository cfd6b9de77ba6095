/*
** core/buf.h: growable byte buffer with a hard size cap [curl dynbuf].
** Owns: the heap block behind b->p. Borrows nothing.
** Every append returns VG_ETOOBIG instead of growing past b->cap_max; the buffer is then unchanged.
*/
#ifndef VG_BUF_H
#define VG_BUF_H

#include "core/vg.h"

#include <stdarg.h>

struct buf {
    char *p;        /* always NUL-terminated when len < alloc (callers may rely on it) */
    size_t len;
    size_t alloc;
    size_t cap_max; /* hard cap on len; 0 means SIZE_MAX/2 */
};

/* Initialise an empty buffer (no allocation). */
void buf_init(struct buf *b, size_t cap_max);
/* Free the contents; the buffer may be reused after buf_init. */
void buf_release(struct buf *b);
/* Forget the contents but keep the allocation. */
static inline void buf_reset(struct buf *b) { b->len = 0; if (b->p) b->p[0] = '\0'; }
/* Make room for n more bytes (plus a NUL). */
int buf_reserve(struct buf *b, size_t n);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_putc(struct buf *b, char c);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Append a JSON string literal (with quotes and escapes) of p[0..n). */
int buf_json_str(struct buf *b, const char *p, size_t n);
/* Append a double as JSON: shortest round-trip form; NaN/Inf as null. */
int buf_json_double(struct buf *b, double v);
int buf_i64(struct buf *b, int64_t v);
int buf_u64(struct buf *b, uint64_t v);
/* Detach the block: the caller owns it and frees it with free(3). The buffer is re-initialised. */
char *buf_detach(struct buf *b, size_t *len);

#endif
