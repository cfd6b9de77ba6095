/*
** fuzz/fuzz_entity.c: libFuzzer target for NGSI-LD entity payloads (ngsild/entity.c).
** The input is a JSON document (at most 64 KiB). It is parsed with entity_parse in each mode
** (full entity, fragment, one attribute), with and without null_ok. Every accepted payload is
** rendered in the three formats (with and without sysAttrs / lang) and as a GeoJSON Feature, and
** applied with every update operation onto a fixed entity.
** Invariants checked (abort on violation): a parsed full entity rendered normalized or concise
** parses back to the same stored form (system times aside); every successful entity_apply
** result renders again; cur is never modified.
*/
#include "core/vg.h"
#include "ngsild/entity.h"
#include "ngsild/ldctx.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW "2024-05-01T10:00:00.000Z"
#define LATER "2024-05-02T10:00:00.000Z"

static struct ldctx_reg *g_reg;
static struct ldctx *g_ctx;
static json_t *g_base;

static const char base_text[] =
    "{\"id\":\"urn:ngsi-ld:T:1\",\"type\":\"T\",\"a\":{\"value\":1,\"unitCode\":\"C\","
    "\"s\":{\"value\":2}},\"m\":[{\"value\":1},{\"value\":2,\"datasetId\":\"urn:d:2\"}],"
    "\"r\":{\"object\":\"urn:o:1\"},\"location\":{\"type\":\"Point\",\"coordinates\":[1,2]},"
    "\"n\":{\"languageMap\":{\"fr\":\"x\",\"en\":\"y\"}}}";

static json_t *strip(const json_t *v)
{
    json_t *c = json_deep_copy(v);
    json_object_del(c, "createdAt");
    json_object_del(c, "modifiedAt");
    const char *k;
    json_t *arr, *x;
    size_t i;
    json_object_foreach (json_object_get(c, "attrs"), k, arr) {
        json_array_foreach (arr, i, x)
            json_array_set_new(arr, i, strip(x));
    }
    json_object_foreach (json_object_get(c, "subs"), k, x) {
        json_object_set_new(json_object_get(c, "subs"), k, strip(x));
    }
    return c;
}

static void init(void)
{
    if (g_reg)
        return;
    if (ldctx_reg_new(&g_reg) != VG_OK)
        abort();
    g_ctx = ldctx_core(g_reg);
    json_t *b = json_loads(base_text, 0, NULL);
    if (!b || entity_parse(b, ENTITY_FULL, g_ctx, NULL, 0, NOW, &g_base, NULL) != VG_OK)
        abort();
    json_decref(b);
}

static void check_roundtrip(const json_t *st, enum entity_format f)
{
    struct entity_render_opts o = {.format = f};
    json_t *r = entity_render(st, g_ctx, &o);
    json_t *back = NULL;
    struct entity_err e;
    if (entity_parse(r, ENTITY_FULL, g_ctx, NULL, 0, NOW, &back, &e) != VG_OK) {
        char *s = json_dumps(r, JSON_COMPACT);
        fprintf(stderr, "rendered entity does not parse back: %s: %s\n%s\n", e.member, e.detail,
                s ? s : "");
        abort();
    }
    json_t *x = strip(st), *y = strip(back);
    if (!json_equal(x, y)) {
        char *s1 = json_dumps(x, JSON_COMPACT | JSON_SORT_KEYS);
        char *s2 = json_dumps(y, JSON_COMPACT | JSON_SORT_KEYS);
        fprintf(stderr, "round trip (format %d) differs:\n%s\n%s\n", (int)f, s1 ? s1 : "",
                s2 ? s2 : "");
        abort();
    }
    json_decref(x);
    json_decref(y);
    json_decref(back);
    json_decref(r);
}

/* Render in the three formats; with all != 0 also with sysAttrs, lang, datasetId and context. */
static void render_all(const json_t *st, int all)
{
    static const char *const langs[] = {NULL, "fr", "de,en", "*"};
    for (int f = 0; f < 3; f++) {
        for (int l = 0; l < (all ? 4 : 1); l++) {
            struct entity_render_opts o = {.format = (enum entity_format)f,
                                           .sys_attrs = l & 1,
                                           .lang = langs[l],
                                           .with_context = l == 2,
                                           .dataset_id = l == 3 ? "@none" : NULL};
            json_t *r = entity_render(st, g_ctx, &o);
            if (!r)
                abort();
            char *s = json_dumps(r, JSON_COMPACT);
            free(s);
            json_decref(r);
            if (l == 0) {
                r = entity_render_feature(st, g_ctx, &o, NULL);
                json_decref(r);
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
    if (size > 64 * 1024)
        return 0;
    json_t *body = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!body)
        return 0;
    json_t *snapshot = json_deep_copy(g_base);
    static const enum entity_parse_mode modes[] = {ENTITY_FULL, ENTITY_FRAGMENT, ENTITY_ATTR};
    for (size_t mi = 0; mi < 3; mi++) {
        for (int null_ok = 0; null_ok < 2; null_ok++) {
            json_t *st = NULL;
            struct entity_err e;
            int rc = entity_parse(body, modes[mi], g_ctx,
                                  "https://uri.etsi.org/ngsi-ld/default-context/a", null_ok, NOW,
                                  &st, &e);
            if (rc != VG_OK) {
                if (rc != VG_EINVAL || st)
                    abort();
                continue;
            }
            render_all(st, 1);
            if (modes[mi] == ENTITY_FULL && !null_ok) {
                check_roundtrip(st, ENTITY_NORMALIZED);
                check_roundtrip(st, ENTITY_CONCISE);
            }
            for (int op = ENTITY_APPEND; op <= ENTITY_REPLACE; op++) {
                json_t *upd = json_array(), *nupd = json_array(), *out = NULL;
                rc = entity_apply(g_base, st, (enum entity_op)op, LATER, upd, nupd, &out);
                if (rc == VG_OK) {
                    render_all(out, 0);
                    json_t *o2 = NULL;
                    if (entity_attr_delete(out, "https://uri.etsi.org/ngsi-ld/default-context/a",
                                           NULL, op & 1, LATER, &o2) == VG_OK)
                        json_decref(o2);
                    json_decref(out);
                } else if (out) {
                    abort();
                }
                json_decref(upd);
                json_decref(nupd);
            }
            if (!json_equal(snapshot, g_base))
                abort();
            json_decref(st);
        }
    }
    json_decref(snapshot);
    json_decref(body);
    return 0;
}
