/*
** core/strset.c: bounded string set (see strset.h).
** Owns: the slot array s->k and one heap copy per key.
*/
#include "core/strset.h"
#include "core/vg.h"

#include <stdlib.h>
#include <string.h>

#define STRSET_MIN_SLOTS 256
#define STRSET_MAX_KEYS (1u << 30) /* keeps the slot count within uint32_t */

static uint32_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (uint32_t)h;
}

void strset_init(struct strset *s, uint32_t max)
{
    memset(s, 0, sizeof(*s));
    s->max = max < 1 ? 1 : max > STRSET_MAX_KEYS ? STRSET_MAX_KEYS : max;
}

static void forget_all(struct strset *s)
{
    for (uint32_t i = 0; i < s->cap; i++) {
        free(s->k[i]);
        s->k[i] = NULL;
    }
    s->n = 0;
}

/* Double the slots (load factor at most 1/2), moving the keys. */
static void grow(struct strset *s)
{
    uint32_t ncap = s->cap ? s->cap * 2 : STRSET_MIN_SLOTS;
    char **nk = vg_calloc(ncap, sizeof(*nk));
    for (uint32_t i = 0; i < s->cap; i++) {
        if (!s->k[i])
            continue;
        uint32_t j = hash(s->k[i]) & (ncap - 1);
        while (nk[j])
            j = (j + 1) & (ncap - 1);
        nk[j] = s->k[i];
    }
    free(s->k);
    s->k = nk;
    s->cap = ncap;
}

int strset_add(struct strset *s, const char *key)
{
    if (s->cap) {
        for (uint32_t j = hash(key) & (s->cap - 1); s->k[j]; j = (j + 1) & (s->cap - 1))
            if (!strcmp(s->k[j], key))
                return 0;
    }
    if (s->n >= s->max)
        forget_all(s);
    if (2 * ((uint64_t)s->n + 1) > s->cap)
        grow(s);
    uint32_t j = hash(key) & (s->cap - 1);
    while (s->k[j])
        j = (j + 1) & (s->cap - 1);
    s->k[j] = vg_strdup(key);
    s->n++;
    return 1;
}

void strset_release(struct strset *s)
{
    for (uint32_t i = 0; i < s->cap; i++)
        free(s->k[i]);
    free(s->k);
    s->k = NULL;
    s->n = s->cap = 0;
}
