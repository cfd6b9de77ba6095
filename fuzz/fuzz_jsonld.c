/*
** fuzz/fuzz_jsonld.c: libFuzzer target for JSON-LD @context resolution (ngsild/ldctx.c).
** The input (at most 64 KiB) is parsed as JSON and used as an @context value, resolved against
** a fresh registry holding the core context and two HOSTED documents for tenant "t":
**   A = {"@context": {"ex": "http://example.org/", "speed": "ex:speed"}}
**   B = {"@context": [<id of A>, {"b": "ex:b", "@vocab": "http://v.org/"}]}
** (the seed corpus names them by id). Then a few terms taken from the input, and fixed ones, are
** expanded and compacted. The registry is freed after each input, so leaks show.
** Checks: no crash or leak; a second resolve of the same value returns the same context (cache);
** expansion is stable (same pointer); compaction is lossless (compact(x) != x implies
** expand(compact(x)) == x); the value is also accepted or rejected by ldctx_reg_add consistently.
*/
#include "ngsild/ldctx.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INPUT_MAX (64 * 1024)
#define TERMS_MAX 64

struct terms {
    const char *t[TERMS_MAX];
    int n;
};

static void collect(const json_t *v, struct terms *ts, int depth)
{
    const char *key;
    const json_t *e;
    size_t i;
    if (depth > 16 || ts->n >= TERMS_MAX)
        return;
    switch (json_typeof(v)) {
    case JSON_STRING:
        ts->t[ts->n++] = json_string_value(v);
        break;
    case JSON_OBJECT:
        json_object_foreach((json_t *)v, key, e) {
            if (ts->n < TERMS_MAX)
                ts->t[ts->n++] = key;
            collect(e, ts, depth + 1);
        }
        break;
    case JSON_ARRAY:
        json_array_foreach(v, i, e) collect(e, ts, depth + 1);
        break;
    default:
        break;
    }
}

static void check_terms(struct ldctx *c, const json_t *v)
{
    static const char *const fixed[] = {"value", "location", "speed", "b", "ex:x", "urn:a:b",
                                        "http://x/y", "", ":", "_:b", "ex:", "ngsi-ld:q", "id"};
    struct terms ts = {.n = 0};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        ts.t[ts.n++] = fixed[i];
    collect(v, &ts, 0);
    for (int i = 0; i < ts.n; i++) {
        const char *x = ldctx_expand(c, ts.t[i]);
        if (!x || ldctx_expand(c, ts.t[i]) != x)
            abort();
        const char *y = ldctx_compact(c, x);
        if (!y || ldctx_compact(c, x) != y)
            abort();
        if (strcmp(y, x) != 0 && strcmp(ldctx_expand(c, y), x) != 0) {
            fprintf(stderr, "lossy compaction: %s -> %s -> %s -> %s\n", ts.t[i], x, y,
                    ldctx_expand(c, y));
            abort();
        }
        (void)ldctx_term_type(c, ts.t[i]);
        (void)ldctx_term_container(c, ts.t[i]);
        (void)ldctx_compact(c, ts.t[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ldctx_reg *r = NULL;
    struct ldctx *c = NULL, *c2 = NULL;
    json_error_t jerr;
    char err[512], ida[96], idb[96], idv[96];
    json_t *v, *a, *b;

    if (size > INPUT_MAX)
        return 0;
    v = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
    if (!v)
        return 0;
    if (ldctx_reg_new(&r) != VG_OK)
        abort();
    a = json_pack("{s:{s:s, s:s}}", "@context", "ex", "http://example.org/", "speed", "ex:speed");
    if (ldctx_reg_add(r, "t", a, ida, sizeof(ida)) != VG_OK)
        abort();
    b = json_pack("[s, {s:s, s:s}]", ida, "b", "ex:b", "@vocab", "http://v.org/");
    json_t *bd = json_pack("{s:o}", "@context", b);
    if (ldctx_reg_add(r, "t", bd, idb, sizeof(idb)) != VG_OK)
        abort();

    int rc = ldctx_resolve(r, "t", v, &c, err, sizeof(err));
    if (rc == VG_OK) {
        if (!c)
            abort();
        if (ldctx_resolve(r, "t", v, &c2, err, sizeof(err)) != VG_OK || c2 != c)
            abort();
        ldctx_release(c2);
        check_terms(c, v);
        ldctx_release(c);
    } else if (rc != VG_EINVAL && rc != VG_ENOENT) {
        abort();
    } else if (c || !err[0]) {
        abort();
    }

    /* the same value as a user document: structurally valid values are accepted */
    json_t *doc = json_pack("{s:O}", "@context", v);
    int arc = ldctx_reg_add(r, "t", doc, idv, sizeof(idv));
    if (rc == VG_OK && arc != VG_OK && arc != VG_ETOOBIG)
        abort();
    if (arc == VG_OK) {
        json_t *got = NULL;
        if (ldctx_reg_get(r, "t", idv, &got, NULL) != VG_OK || !json_equal(got, doc))
            abort();
        json_decref(got);
        if (ldctx_reg_del(r, "t", idv) != VG_OK)
            abort();
    }
    json_decref(doc);
    json_decref(a);
    json_decref(bd);
    ldctx_reg_free(r);
    json_decref(v);
    return 0;
}
