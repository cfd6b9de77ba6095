/*
** core/crc32c.h: CRC-32C (Castagnoli), the checksum of every WAL record and chunk.
** Uses the SSE4.2 instruction when the CPU has it, a slicing table otherwise.
** Owns: one const table built at first use.
*/
#ifndef VG_CRC32C_H
#define VG_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend crc (start with 0) over p[0..n). */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);

#endif
