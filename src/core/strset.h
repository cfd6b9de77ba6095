/*
** core/strset.h: a bounded set of NUL-terminated strings (open addressing, FNV-1a).
** Owns: copies of the keys added and the slot array. Borrows nothing.
** Bounded: adding a new key to a set that holds `max` keys first forgets every key, so memory
** stays proportional to max. Meant for "already done once" memories where forgetting only costs
** redoing the work (e.g. unit codes written once per attribute). Not thread-safe.
*/
#ifndef VG_STRSET_H
#define VG_STRSET_H

#include <stdint.h>

struct strset {
    char **k;     /* cap slots, NULL when empty; each key a vg_strdup copy */
    uint32_t n;   /* keys held */
    uint32_t cap; /* slots: 0 or a power of two, at least twice n */
    uint32_t max; /* keys held at most (>= 1) */
};

/* Initialise an empty set of at most max keys (no allocation; max is clamped
** to 1..2^30). */
void strset_init(struct strset *s, uint32_t max);
/* Add a copy of key. Returns 1 when key was not in the set (it is now), 0 when it was. A new
** key added to a set that already holds max keys empties the set first. */
int strset_add(struct strset *s, const char *key);
/* Free the keys and slots; the set may be reused after strset_init. */
void strset_release(struct strset *s);

#endif
