/*
** core/utf8.h: UTF-8 validation (RFC 3629: no overlongs, no surrogates, <= U+10FFFF), shared
** by the JSON writer, the catalogue's name checks and the ingest of string values.
** Owns: nothing.
*/
#ifndef VG_UTF8_H
#define VG_UTF8_H

#include <stddef.h>

/* Length (2..4) of the valid multi-byte sequence at p[0..n), or 0 if p[0] does not start one. */
size_t utf8_seq_len(const unsigned char *p, size_t n);
/* 1 if p[0..n) is entirely valid UTF-8. */
int utf8_valid(const unsigned char *p, size_t n);
/* Offset of the first byte of p[0..n) that does not start a valid sequence, or n. */
size_t utf8_invalid_at(const unsigned char *p, size_t n);

#endif
