/*
** ngsild/entity.c: NGSI-LD entity payloads: validation and expansion into the stored form
** (described in entity.h), the update algorithms, and rendering (normalized, concise,
** simplified, GeoJSON Feature).
** Owns: nothing long-lived; every function returns new jansson values the caller owns.
** Borrows: the struct ldctx given by the caller (names are expanded / compacted through it).
** Thread: reentrant.
**
** Input forms. An attribute member may be written normalized ({"type":"Property","value":..}),
** concise (cl. 4.5: an object without "type" holding "value" / "object" / "languageMap" /
** "valueList" / "objectList" / "json" / "vocab"; a bare GeoJSON geometry; a bare non-object value)
** or as an array of instances (multi-attribute, one per datasetId). An object whose "type" is not
** one of the eight attribute kinds and holds none of the value members is a compound Property value
** (the keyValues examples write {"type":"PostalAddress",...}); a "type" that differs from a kind
** only by case ("Geoproperty") is an error naming the member.
**
** Choices where the spec leaves room (documented here, tested in entity_test.c):
**   - merge / partial update: urn:ngsi-ld:null (or JSON null) for an attribute without datasetId
**     deletes the whole attribute, with a datasetId only that instance; a null sub-attribute
**     deletes the sub-attribute; a Property value is replaced, never merged member-wise.
**   - replace attribute (PUT .../attrs/{attrId}) replaces the instances whose datasetId it names
**     and keeps the others.
**   - keyValues of a multi-attribute: the array of the instances' values, in stored order.
**   - lang: the first listed language present (case-insensitive), "*" = any; if none is present,
**     the "@none" entry, else the first entry; the chosen key is given back as "lang".
**
** Rendering concise is lossless: a concise candidate is classified with the same function the
** parser uses (classify()), and "type" is kept whenever the candidate would be read back as
** another kind.
*/
#include "ngsild/entity.h"

#include "core/buf.h"

#include "core/clock.h"
#include "core/vg.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_DEPTH 32
#define MAX_NAME 512
#define MAX_ID 1024
#define MAX_DATASETS 64
#define NGSILD_NULL "urn:ngsi-ld:null"
#define NGSILD_LOCATION "https://uri.etsi.org/ngsi-ld/location"

enum kind { K_PROP, K_REL, K_GEO, K_LANG, K_LIST, K_JSON, K_VOCAB, K_LISTREL, K_COUNT };

static const struct {
    const char *type;
    const char *key;
} kinds[K_COUNT] = {
    {"Property", "value"},         {"Relationship", "object"},
    {"GeoProperty", "value"},      {"LanguageProperty", "languageMap"},
    {"ListProperty", "valueList"}, {"JsonProperty", "json"},
    {"VocabProperty", "vocab"},    {"ListRelationship", "objectList"},
};

/* Members of an instance that carry its value, in the order concise input is recognised. */
static const char *const value_keys[] = {"value",      "object", "languageMap", "valueList",
                                         "objectList", "json",   "vocab"};
static const enum kind value_key_kind[] = {K_PROP,    K_REL,  K_LANG, K_LIST,
                                           K_LISTREL, K_JSON, K_VOCAB};

static const char *const geo_types[] = {
    "Point",   "MultiPoint",   "LineString",        "MultiLineString",
    "Polygon", "MultiPolygon", "GeometryCollection"};
static const int geo_depth[] = {1, 2, 2, 3, 3, 4, 0};

/* ---------------------------------------------------------------------------------------- */
/* Small helpers                                                                             */

static int kind_exact(const char *t)
{
    for (int k = 0; k < K_COUNT; k++)
        if (strcmp(t, kinds[k].type) == 0)
            return k;
    return -1;
}

static int kind_casefold(const char *t)
{
    for (int k = 0; k < K_COUNT; k++)
        if (strcasecmp(t, kinds[k].type) == 0)
            return k;
    return -1;
}

static int inst_kind(const json_t *inst)
{
    const char *t = json_string_value(json_object_get(inst, "type"));
    int k = t ? kind_exact(t) : -1;
    return k < 0 ? K_PROP : k;
}

static const char *inst_dsid(const json_t *inst)
{
    return json_string_value(json_object_get(inst, "datasetId"));
}

static int dsid_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static int is_null_marker(const json_t *inst)
{
    const char *t = json_string_value(json_object_get(inst, "type"));
    const char *v = json_string_value(json_object_get(inst, "value"));
    return t && v && strcmp(t, "Property") == 0 && strcmp(v, NGSILD_NULL) == 0;
}

static int array_has_string(const json_t *arr, const char *s)
{
    size_t i;
    const json_t *v;
    json_array_foreach (arr, i, v) {
        const char *x = json_string_value(v);
        if (x && strcmp(x, s) == 0)
            return 1;
    }
    return 0;
}

int entity_uri_valid(const char *s)
{
    if (!s)
        return 0;
    size_t n = strlen(s);
    if (n == 0 || n > MAX_ID)
        return 0;
    const char *c = strchr(s, ':');
    if (!c || c == s || c[1] == '\0')
        return 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return 0;
    for (const char *p = s + 1; p < c; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 *p == '+' || *p == '-' || *p == '.';
        if (!ok)
            return 0;
    }
    for (const char *p = c + 1; *p; p++) {
        unsigned char u = (unsigned char)*p;
        if (u <= 0x20 || u == 0x7f || strchr("<>\"{}|\\^`", u))
            return 0;
    }
    return 1;
}

/* Attribute and type names are JSON-LD terms: refuse what cannot appear in one. */
static int name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MAX_NAME)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char u = (unsigned char)s[i];
        if (u < 0x20 || u == 0x7f || strchr("<>\"'=;()", u))
            return 0;
    }
    return 1;
}

static int coords_ok(const json_t *c, int depth)
{
    if (!json_is_array(c) || json_array_size(c) == 0)
        return 0;
    size_t i;
    const json_t *v;
    if (depth == 1) {
        if (json_array_size(c) < 2 || json_array_size(c) > 4)
            return 0;
        json_array_foreach (c, i, v)
            if (!json_is_number(v))
                return 0;
        return 1;
    }
    json_array_foreach (c, i, v)
        if (!coords_ok(v, depth - 1))
            return 0;
    return 1;
}

/* Structural GeoJSON geometry check (type + coordinates of the right nesting). */
static int is_geometry_d(const json_t *g, int depth)
{
    if (!json_is_object(g) || depth > 8)
        return 0;
    const char *t = json_string_value(json_object_get(g, "type"));
    if (!t)
        return 0;
    for (size_t i = 0; i < VG_ARRAY_LEN(geo_types); i++) {
        if (strcmp(t, geo_types[i]) != 0)
            continue;
        if (geo_depth[i] == 0) {
            const json_t *gs = json_object_get(g, "geometries");
            size_t j;
            const json_t *x;
            if (!json_is_array(gs))
                return 0;
            json_array_foreach (gs, j, x)
                if (!is_geometry_d(x, depth + 1))
                    return 0;
            return 1;
        }
        return coords_ok(json_object_get(g, "coordinates"), geo_depth[i]);
    }
    return 0;
}

static int is_geometry(const json_t *g)
{
    return is_geometry_d(g, 0);
}

static int is_geo_type_name(const char *t)
{
    for (size_t i = 0; i < VG_ARRAY_LEN(geo_types); i++)
        if (strcmp(t, geo_types[i]) == 0)
            return 1;
    return 0;
}

static int json_depth_over(const json_t *v, int depth)
{
    if (depth > MAX_DEPTH)
        return 1;
    size_t i;
    const char *k;
    json_t *x;
    if (json_is_object(v)) {
        json_object_foreach ((json_t *)v, k, x)
            if (json_depth_over(x, depth + 1))
                return 1;
    } else if (json_is_array(v)) {
        json_array_foreach (v, i, x)
            if (json_depth_over(x, depth + 1))
                return 1;
    }
    return 0;
}

/* How a JSON value written for an attribute (or sub-attribute) is read. */
enum form {
    F_BARE,     /* not an object, or a compound object: Property whose value is the whole thing */
    F_GEOM,     /* a bare GeoJSON geometry: GeoProperty */
    F_EXPLICIT, /* object with "type" naming a kind */
    F_CONCISE,  /* object without "type" holding a value member */
    F_BAD       /* wrong-case kind, or unknown "type" together with value members */
};

static int has_value_key(const json_t *o)
{
    for (size_t i = 0; i < VG_ARRAY_LEN(value_keys); i++)
        if (json_object_get(o, value_keys[i]))
            return 1;
    return 0;
}

static enum form classify(const json_t *v, int *kind)
{
    *kind = K_PROP;
    if (!json_is_object(v))
        return F_BARE;
    const json_t *t = json_object_get(v, "type");
    if (json_is_string(t)) {
        const char *ts = json_string_value(t);
        int k = kind_exact(ts);
        if (k >= 0) {
            *kind = k;
            return F_EXPLICIT;
        }
        if (kind_casefold(ts) >= 0)
            return F_BAD;
        if (is_geometry(v)) {
            *kind = K_GEO;
            return F_GEOM;
        }
        if (is_geo_type_name(ts) && json_object_get(v, "coordinates"))
            return F_BAD;
        return has_value_key(v) ? F_BAD : F_BARE;
    }
    if (t)
        return has_value_key(v) ? F_BAD : F_BARE;
    for (size_t i = 0; i < VG_ARRAY_LEN(value_keys); i++) {
        const json_t *x = json_object_get(v, value_keys[i]);
        if (!x)
            continue;
        *kind = value_key_kind[i];
        if (*kind == K_PROP && is_geometry(x))
            *kind = K_GEO;
        return F_CONCISE;
    }
    return F_BARE;
}

/* An attribute given as a JSON array is a list of instances when every element is an object read
** as an instance (explicit kind, or concise with a value member, or carrying a datasetId);
** otherwise it is the value of a Property. */
static int looks_multi(const json_t *arr)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return 0;
    size_t i;
    const json_t *x;
    json_array_foreach (arr, i, x) {
        int k;
        if (!json_is_object(x))
            return 0;
        enum form f = classify(x, &k);
        if (f == F_EXPLICIT || f == F_CONCISE || f == F_BAD)
            continue;
        if (json_object_get(x, "datasetId") && !json_object_get(x, "type"))
            continue;
        return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------------------------------- */
/* Parsing                                                                                   */

struct pstate {
    struct ldctx *ctx;
    int null_ok;
    const char *now;
    struct entity_err *e;
    char path[128];
    size_t plen;
};

static size_t path_push(struct pstate *p, const char *name, int index)
{
    size_t old = p->plen;
    int n;
    if (index >= 0)
        n = snprintf(p->path + old, sizeof(p->path) - old, "[%d]", index);
    else
        n = snprintf(p->path + old, sizeof(p->path) - old, "%s%s", old ? "." : "", name);
    if (n > 0)
        p->plen = VG_MIN(old + (size_t)n, sizeof(p->path) - 1);
    return old;
}

static void path_pop(struct pstate *p, size_t old)
{
    p->plen = old;
    p->path[old] = '\0';
}

/* Append src to the NUL-terminated dst of capacity cap, truncating. */
static void cat_trunc(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(dst), m = strlen(src);
    if (n + 1 >= cap)
        return;
    if (m > cap - n - 1)
        m = cap - n - 1;
    memcpy(dst + n, src, m);
    dst[n + m] = '\0';
}

static int fail(struct pstate *p, const char *member, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct pstate *p, const char *member, const char *fmt, ...)
{
    if (p->e) {
        p->e->member[0] = '\0';
        cat_trunc(p->e->member, sizeof(p->e->member), p->path);
        if (member && p->plen)
            cat_trunc(p->e->member, sizeof(p->e->member), ".");
        if (member)
            cat_trunc(p->e->member, sizeof(p->e->member), member);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->e->detail, sizeof(p->e->detail), fmt, ap);
        va_end(ap);
    }
    return VG_EINVAL;
}

static int expand(struct pstate *p, const char *term, const char **out)
{
    if (!name_valid(term))
        return fail(p, NULL, "invalid name '%.64s'", term);
    const char *iri = ldctx_expand(p->ctx, term);
    if (!iri || !*iri)
        return fail(p, NULL, "cannot expand '%.64s'", term);
    *out = iri;
    return VG_OK;
}

static void stamp_new(json_t *inst, const char *now)
{
    json_object_set_new(inst, "createdAt", json_string(now));
    json_object_set_new(inst, "modifiedAt", json_string(now));
}

static json_t *null_marker(const char *dsid)
{
    json_t *m = json_pack("{s:s,s:s}", "type", "Property", "value", NGSILD_NULL);
    if (dsid)
        json_object_set_new(m, "datasetId", json_string(dsid));
    return m;
}

static int is_null_value(const json_t *v)
{
    const char *s = json_string_value(v);
    return json_is_null(v) || (s && strcmp(s, NGSILD_NULL) == 0);
}

/* observedAt: an RFC 3339 date-time, which needs a time and a zone ('Z' or an offset). */
static int check_time(const json_t *v)
{
    const char *s = json_string_value(v);
    int64_t ms;
    if (!s)
        return 0;
    const char *t = strpbrk(s, "Tt");
    if (!t || !strpbrk(t, "Zz+-"))
        return 0;
    return clock_parse_time(s, strlen(s), &ms) == VG_OK;
}

static int parse_value_member(struct pstate *p, int kind, const char *key, const json_t *v,
                              json_t *inst)
{
    size_t i;
    const json_t *x;
    switch (kind) {
    case K_PROP:
        json_object_set_new(inst, key, json_deep_copy(v));
        return VG_OK;
    case K_GEO: {
        json_t *g = NULL;
        if (json_is_string(v)) {
            g = json_loads(json_string_value(v), 0, NULL);
            if (!g)
                return fail(p, key, "GeoProperty value is a string that is not GeoJSON");
        } else {
            g = json_deep_copy(v);
        }
        if (!is_geometry(g)) {
            json_decref(g);
            return fail(p, key, "GeoProperty value must be a GeoJSON geometry");
        }
        json_object_set_new(inst, key, g);
        return VG_OK;
    }
    case K_REL:
        if (json_is_string(v)) {
            if (!entity_uri_valid(json_string_value(v)))
                return fail(p, key, "Relationship object must be a URI");
        } else if (json_is_array(v) && json_array_size(v) > 0) {
            json_array_foreach (v, i, x)
                if (!entity_uri_valid(json_string_value(x)))
                    return fail(p, key, "Relationship object must be a URI or an array of URIs");
        } else {
            return fail(p, key, "Relationship object must be a URI or an array of URIs");
        }
        json_object_set_new(inst, key, json_deep_copy(v));
        return VG_OK;
    case K_LANG: {
        const char *lk;
        json_t *lv;
        if (!json_is_object(v) || json_object_size(v) == 0)
            return fail(p, key, "languageMap must be a non-empty object");
        json_object_foreach ((json_t *)v, lk, lv) {
            if (!*lk)
                return fail(p, key, "languageMap has an empty language tag");
            if (json_is_array(lv)) {
                json_array_foreach (lv, i, x)
                    if (!json_is_string(x))
                        return fail(p, key,
                                    "languageMap values must be strings or arrays of strings");
            } else if (!json_is_string(lv)) {
                return fail(p, key, "languageMap values must be strings or arrays of strings");
            }
        }
        json_object_set_new(inst, key, json_deep_copy(v));
        return VG_OK;
    }
    case K_LIST:
        if (!json_is_array(v))
            return fail(p, key, "valueList must be an array");
        json_object_set_new(inst, key, json_deep_copy(v));
        return VG_OK;
    case K_JSON:
        json_object_set_new(inst, key, json_deep_copy(v));
        return VG_OK;
    case K_VOCAB: {
        json_t *out = NULL;
        if (json_is_string(v)) {
            const char *iri;
            if (expand(p, json_string_value(v), &iri))
                return fail(p, key, "vocab must be a term or an IRI");
            out = json_string(iri);
        } else if (json_is_array(v) && json_array_size(v) > 0) {
            out = json_array();
            json_array_foreach (v, i, x) {
                const char *iri;
                if (!json_is_string(x) || expand(p, json_string_value(x), &iri)) {
                    json_decref(out);
                    return fail(p, key, "vocab must be a term or an array of terms");
                }
                json_array_append_new(out, json_string(iri));
            }
        } else {
            return fail(p, key, "vocab must be a string or an array of strings");
        }
        json_object_set_new(inst, key, out);
        return VG_OK;
    }
    case K_LISTREL: {
        if (!json_is_array(v))
            return fail(p, key, "objectList must be an array");
        json_t *out = json_array();
        json_array_foreach (v, i, x) {
            const json_t *o = json_is_object(x) ? json_object_get(x, "object") : x;
            if (!entity_uri_valid(json_string_value(o))) {
                json_decref(out);
                return fail(p, key, "objectList items must be {\"object\": URI}");
            }
            json_array_append_new(out, json_pack("{s:O}", "object", o));
        }
        json_object_set_new(inst, key, out);
        return VG_OK;
    }
    }
    return VG_EINVAL;
}

static int parse_instance(struct pstate *p, const json_t *v, int depth, json_t **out);

static int is_system_member(const char *k)
{
    return !strcmp(k, "createdAt") || !strcmp(k, "modifiedAt") || !strcmp(k, "deletedAt") ||
           !strcmp(k, "instanceId") || !strcmp(k, "@context");
}

/* An instance object (explicit kind or concise with a value member). */
static int parse_instance_obj(struct pstate *p, const json_t *v, int kind, int depth, json_t **out)
{
    int rc = VG_OK;
    json_t *inst = json_object();
    json_t *subs = json_object();
    const char *key = kinds[kind].key;
    const char *k;
    json_t *x;

    const json_t *dv = json_object_get(v, "datasetId");
    if (dv && !entity_uri_valid(json_string_value(dv))) {
        rc = fail(p, "datasetId", "datasetId must be a URI");
        goto out;
    }
    const json_t *main = json_object_get(v, key);
    if (!main) {
        rc = fail(p, NULL, "a %s needs a \"%s\" member", kinds[kind].type, key);
        goto out;
    }
    if (is_null_value(main)) {
        if (!p->null_ok) {
            rc = fail(p, key,
                      json_is_null(main) ? "null is not a valid value"
                                         : "urn:ngsi-ld:null is only allowed in merge "
                                           "and partial updates");
            goto out;
        }
        json_decref(inst);
        inst = null_marker(json_string_value(dv));
        goto out;
    }
    json_object_set_new(inst, "type", json_string(kinds[kind].type));
    rc = parse_value_member(p, kind, key, main, inst);
    if (rc)
        goto out;
    json_object_foreach ((json_t *)v, k, x) {
        if (!strcmp(k, "type") || !strcmp(k, key) || is_system_member(k))
            continue;
        int other = 0;
        for (size_t i = 0; i < VG_ARRAY_LEN(value_keys); i++)
            if (!strcmp(k, value_keys[i]))
                other = 1;
        if (other) {
            rc = fail(p, k, "\"%s\" is not allowed in a %s", k, kinds[kind].type);
            goto out;
        }
        if (!strcmp(k, "datasetId")) {
            json_object_set(inst, k, x);
        } else if (!strcmp(k, "observedAt")) {
            if (!check_time(x)) {
                rc = fail(p, k, "observedAt must be an RFC 3339 date-time");
                goto out;
            }
            json_object_set(inst, k, x);
        } else if (!strcmp(k, "unitCode")) {
            if (!json_is_string(x)) {
                rc = fail(p, k, "unitCode must be a string");
                goto out;
            }
            json_object_set(inst, k, x);
        } else if (!strcmp(k, "lang")) {
            if (!json_is_string(x) || (kind != K_PROP && kind != K_LANG)) {
                rc = fail(p, k, "lang must be a string in a Property or LanguageProperty");
                goto out;
            }
            json_object_set(inst, k, x);
        } else if (!strcmp(k, "objectType")) {
            const char *iri;
            if ((kind != K_REL && kind != K_LISTREL) || !json_is_string(x)) {
                rc = fail(p, k, "objectType must be a string in a Relationship");
                goto out;
            }
            size_t old = path_push(p, k, -1);
            rc = expand(p, json_string_value(x), &iri);
            path_pop(p, old);
            if (rc)
                goto out;
            json_object_set_new(inst, k, json_string(iri));
        } else {
            const char *iri;
            json_t *sub = NULL;
            size_t old = path_push(p, k, -1);
            rc = expand(p, k, &iri);
            if (rc == VG_OK && json_object_get(subs, iri))
                rc = fail(p, NULL, "sub-attribute given twice");
            if (rc == VG_OK)
                rc = parse_instance(p, x, depth + 1, &sub);
            path_pop(p, old);
            if (rc)
                goto out;
            json_object_set_new(subs, iri, sub);
        }
    }
    if (json_object_size(subs))
        json_object_set(inst, "subs", subs);
    stamp_new(inst, p->now);
out:
    json_decref(subs);
    if (rc) {
        json_decref(inst);
        return rc;
    }
    *out = inst;
    return VG_OK;
}

/* One instance in any input form. */
static int parse_instance(struct pstate *p, const json_t *v, int depth, json_t **out)
{
    int kind;
    if (depth > MAX_DEPTH)
        return fail(p, NULL, "attributes nested too deeply");
    if (is_null_value(v)) {
        if (!p->null_ok)
            return fail(p, NULL,
                        json_is_null(v) ? "null is not a valid attribute value"
                                        : "urn:ngsi-ld:null is only allowed in merge "
                                          "and partial updates");
        *out = null_marker(NULL);
        return VG_OK;
    }
    enum form f = classify(v, &kind);
    switch (f) {
    case F_BARE: {
        json_t *inst = json_pack("{s:s,s:o}", "type", "Property", "value", json_deep_copy(v));
        stamp_new(inst, p->now);
        *out = inst;
        return VG_OK;
    }
    case F_GEOM: {
        json_t *inst = json_pack("{s:s,s:o}", "type", "GeoProperty", "value", json_deep_copy(v));
        stamp_new(inst, p->now);
        *out = inst;
        return VG_OK;
    }
    case F_BAD: {
        const char *t = json_string_value(json_object_get(v, "type"));
        if (t && kind_casefold(t) >= 0)
            return fail(p, "type", "unknown attribute type '%.64s' (did you mean '%s'?)", t,
                        kinds[kind_casefold(t)].type);
        if (t && is_geo_type_name(t))
            return fail(p, NULL, "invalid GeoJSON geometry");
        return fail(p, "type", "unknown attribute type");
    }
    case F_EXPLICIT:
    case F_CONCISE:
        break;
    }
    return parse_instance_obj(p, v, kind, depth, out);
}

/* An attribute: one instance or an array of instances -> array of stored instances. */
static int parse_attr(struct pstate *p, const json_t *v, json_t **out)
{
    int rc = VG_OK;
    json_t *arr = json_array();
    if (looks_multi(v)) {
        size_t i;
        const json_t *x;
        if (json_array_size(v) > MAX_DATASETS) {
            rc = fail(p, NULL, "more than %d instances", MAX_DATASETS);
            goto out;
        }
        json_array_foreach (v, i, x) {
            json_t *inst = NULL;
            size_t old = path_push(p, "", (int)i);
            rc = parse_instance(p, x, 1, &inst);
            if (rc == VG_OK) {
                size_t j;
                const json_t *y;
                const char *ds = inst_dsid(inst);
                json_array_foreach (arr, j, y)
                    if (dsid_eq(ds, inst_dsid(y))) {
                        rc = fail(p, NULL,
                                  ds ? "datasetId '%.64s' given twice"
                                     : "more than one default instance (without datasetId)%.0s",
                                  ds ? ds : "");
                        break;
                    }
            }
            path_pop(p, old);
            if (rc) {
                json_decref(inst);
                goto out;
            }
            json_array_append_new(arr, inst);
        }
    } else {
        json_t *inst = NULL;
        rc = parse_instance(p, v, 1, &inst);
        if (rc)
            goto out;
        json_array_append_new(arr, inst);
    }
out:
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return VG_OK;
}

static int parse_types(struct pstate *p, const json_t *t, json_t *ent)
{
    json_t *types = json_array();
    size_t i;
    const json_t *x;
    int rc = VG_OK;
    size_t old = path_push(p, "type", -1);
    if (json_is_string(t)) {
        t = json_pack("[O]", t);
    } else if (json_is_array(t) && json_array_size(t) > 0) {
        json_incref((json_t *)t);
    } else {
        rc = fail(p, NULL, "type must be a string or a non-empty array of strings");
        goto out;
    }
    json_array_foreach (t, i, x) {
        const char *iri;
        if (!json_is_string(x)) {
            rc = fail(p, NULL, "type must be a string or an array of strings");
            break;
        }
        rc = expand(p, json_string_value(x), &iri);
        if (rc)
            break;
        if (!array_has_string(types, iri))
            json_array_append_new(types, json_string(iri));
    }
    json_decref((json_t *)t);
out:
    path_pop(p, old);
    if (rc == VG_OK)
        json_object_set(ent, "type", types);
    json_decref(types);
    return rc;
}

static int parse_scope(struct pstate *p, const json_t *s, json_t *ent)
{
    json_t *sc = json_array();
    int rc = VG_OK;
    size_t i;
    const json_t *x;
    if (json_is_string(s)) {
        json_array_append(sc, (json_t *)s);
    } else if (json_is_array(s)) {
        json_array_foreach (s, i, x) {
            const char *v = json_string_value(x);
            if (!v || !array_has_string(sc, v))
                json_array_append(sc, (json_t *)x);
        }
    } else {
        rc = fail(p, "scope", "scope must be a string or an array of strings");
        goto out;
    }
    json_array_foreach (sc, i, x) {
        const char *v = json_string_value(x);
        if (!v || v[0] != '/' || strlen(v) > MAX_NAME) {
            rc = fail(p, "scope", "a scope is a string starting with '/'");
            goto out;
        }
    }
    if (json_array_size(sc))
        json_object_set(ent, "scope", sc);
out:
    json_decref(sc);
    return rc;
}

static const json_t *get_syn(const json_t *body, const char *a, const char *b, struct pstate *p,
                             int *rc)
{
    const json_t *x = json_object_get(body, a), *y = json_object_get(body, b);
    if (x && y && !json_equal(x, y))
        *rc = fail(p, a, "\"%s\" and \"%s\" differ", a, b);
    return x ? x : y;
}

int entity_parse(const json_t *body, enum entity_parse_mode mode, struct ldctx *ctx,
                 const char *attr_iri, int null_ok, const char *now, json_t **out,
                 struct entity_err *e)
{
    struct pstate p = {.ctx = ctx, .null_ok = null_ok, .now = now ? now : "", .e = e};
    json_t *ent = json_object();
    json_t *attrs = json_object();
    int rc = VG_OK;
    if (e)
        e->member[0] = e->detail[0] = '\0';

    if (json_depth_over(body, 0)) {
        rc = fail(&p, NULL, "payload nested deeper than %d levels", MAX_DEPTH);
        goto out;
    }
    if (mode == ENTITY_ATTR) {
        json_t *arr = NULL;
        if (!attr_iri || !*attr_iri) {
            rc = fail(&p, NULL, "no attribute name");
            goto out;
        }
        const char *shown = ldctx_compact(ctx, attr_iri);
        path_push(&p, shown ? shown : attr_iri, -1);
        if (json_is_object(body) && json_object_get(body, "@context")) {
            /* application/ld+json bodies carry the @context next to the attribute's members */
            json_t *copy = json_copy((json_t *)body);
            json_object_del(copy, "@context");
            rc = parse_attr(&p, copy, &arr);
            json_decref(copy);
        } else {
            rc = parse_attr(&p, body, &arr);
        }
        if (rc)
            goto out;
        json_object_set_new(attrs, attr_iri, arr);
        json_object_set(ent, "attrs", attrs);
        goto out;
    }
    if (!json_is_object(body)) {
        rc = fail(&p, NULL, "the payload must be a JSON object");
        goto out;
    }
    const json_t *id = get_syn(body, "id", "@id", &p, &rc);
    const json_t *type = get_syn(body, "type", "@type", &p, &rc);
    const json_t *scope = json_object_get(body, "scope");
    if (rc)
        goto out;
    if (id) {
        if (!entity_uri_valid(json_string_value(id))) {
            rc = fail(&p, "id", "id must be a URI");
            goto out;
        }
        json_object_set(ent, "id", (json_t *)id);
    } else if (mode == ENTITY_FULL) {
        rc = fail(&p, "id", "id is missing");
        goto out;
    }
    if (type) {
        rc = parse_types(&p, type, ent);
        if (rc)
            goto out;
    } else if (mode == ENTITY_FULL) {
        rc = fail(&p, "type", "type is missing");
        goto out;
    }
    if (scope) {
        rc = parse_scope(&p, scope, ent);
        if (rc)
            goto out;
    }
    if (mode == ENTITY_FULL) {
        json_object_set_new(ent, "createdAt", json_string(p.now));
        json_object_set_new(ent, "modifiedAt", json_string(p.now));
    }
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)body, k, v) {
        if (!strcmp(k, "id") || !strcmp(k, "@id") || !strcmp(k, "type") || !strcmp(k, "@type") ||
            !strcmp(k, "scope") || !strcmp(k, "@context") || !strcmp(k, "createdAt") ||
            !strcmp(k, "modifiedAt") || !strcmp(k, "deletedAt"))
            continue;
        const char *iri;
        json_t *arr = NULL;
        size_t old = path_push(&p, k, -1);
        if (json_object_size(attrs) >= ENTITY_MAX_ATTRS)
            rc = fail(&p, NULL, "more than %d attributes", ENTITY_MAX_ATTRS);
        if (rc == VG_OK)
            rc = expand(&p, k, &iri);
        if (rc == VG_OK && json_object_get(attrs, iri))
            rc = fail(&p, NULL, "attribute given twice (same expanded name)");
        if (rc == VG_OK)
            rc = parse_attr(&p, v, &arr);
        path_pop(&p, old);
        if (rc)
            goto out;
        json_object_set_new(attrs, iri, arr);
    }
    json_object_set(ent, "attrs", attrs);
out:
    json_decref(attrs);
    if (rc) {
        json_decref(ent);
        return rc;
    }
    *out = ent;
    return VG_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Updates                                                                                   */

static int find_inst(const json_t *arr, const char *dsid)
{
    size_t i;
    const json_t *x;
    json_array_foreach (arr, i, x)
        if (dsid_eq(dsid, inst_dsid(x)))
            return (int)i;
    return -1;
}

/* A new instance replacing old (old may be NULL): createdAt kept, modifiedAt = now. */
static json_t *inst_replace(const json_t *old, const json_t *nw, const char *now)
{
    json_t *r = json_deep_copy(nw);
    const json_t *c = old ? json_object_get(old, "createdAt") : NULL;
    json_object_set_new(r, "createdAt", c ? json_deep_copy(c) : json_string(now));
    json_object_set_new(r, "modifiedAt", json_string(now));
    return r;
}

static json_t *inst_merge(const json_t *old, const json_t *nw, const char *now)
{
    json_t *r = json_deep_copy(old);
    for (size_t i = 0; i < VG_ARRAY_LEN(value_keys); i++)
        json_object_del(r, value_keys[i]);
    int k = inst_kind(nw);
    json_object_set_new(r, "type", json_string(kinds[k].type));
    const json_t *val = json_object_get(nw, kinds[k].key);
    if (val)
        json_object_set_new(r, kinds[k].key, json_deep_copy(val));
    static const char *const meta[] = {"observedAt", "unitCode", "objectType", "lang", "datasetId"};
    for (size_t i = 0; i < VG_ARRAY_LEN(meta); i++) {
        const json_t *m = json_object_get(nw, meta[i]);
        if (m)
            json_object_set_new(r, meta[i], json_deep_copy(m));
    }
    if (k != K_REL && k != K_LISTREL)
        json_object_del(r, "objectType");
    if (k != K_PROP && k != K_LANG)
        json_object_del(r, "lang");
    const json_t *nsubs = json_object_get(nw, "subs");
    if (nsubs) {
        json_t *subs = json_object_get(r, "subs");
        if (!subs) {
            subs = json_object();
            json_object_set_new(r, "subs", subs);
        }
        const char *sk;
        json_t *sv;
        json_object_foreach ((json_t *)nsubs, sk, sv) {
            const json_t *os = json_object_get(subs, sk);
            if (is_null_marker(sv))
                json_object_del(subs, sk);
            else if (os)
                json_object_set_new(subs, sk, inst_merge(os, sv, now));
            else
                json_object_set_new(subs, sk, inst_replace(NULL, sv, now));
        }
        if (json_object_size(subs) == 0)
            json_object_del(r, "subs");
    }
    if (!json_object_get(r, "createdAt"))
        json_object_set_new(r, "createdAt", json_string(now));
    json_object_set_new(r, "modifiedAt", json_string(now));
    return r;
}

static void note(json_t *list, const char *iri)
{
    if (list && !array_has_string(list, iri))
        json_array_append_new(list, json_string(iri));
}

static void note_not(json_t *list, const char *iri, const char *reason)
{
    if (list)
        json_array_append_new(list, json_pack("{s:s,s:s}", "attributeName", iri, "reason", reason));
}

int entity_apply(const json_t *cur, const json_t *frag, enum entity_op op, const char *now,
                 json_t *updated, json_t *not_updated, json_t **out)
{
    int rc = VG_OK;
    int changed = 0;
    json_t *r = NULL;
    if (!json_is_object(cur) || !json_is_object(frag) || !now)
        return VG_EINVAL;
    const char *fid = json_string_value(json_object_get(frag, "id"));
    const char *cid = json_string_value(json_object_get(cur, "id"));
    if (fid && (!cid || strcmp(fid, cid) != 0))
        return VG_EINVAL;
    const json_t *fattrs = json_object_get(frag, "attrs");
    r = json_deep_copy(cur);
    json_t *attrs = json_object_get(r, "attrs");
    if (!json_is_object(attrs)) {
        attrs = json_object();
        json_object_set_new(r, "attrs", attrs);
    }
    const json_t *ftypes = json_object_get(frag, "type");
    const json_t *fscope = json_object_get(frag, "scope");

    if (op == ENTITY_REPLACE) {
        if (ftypes)
            json_object_set_new(r, "type", json_deep_copy(ftypes));
        if (fscope)
            json_object_set_new(r, "scope", json_deep_copy(fscope));
        else
            json_object_del(r, "scope");
        attrs = json_object();
        json_object_set_new(r, "attrs", attrs);
        const char *k;
        json_t *arr;
        json_object_foreach ((json_t *)fattrs, k, arr) {
            json_t *na = json_array();
            size_t i;
            json_t *x;
            json_array_foreach (arr, i, x)
                json_array_append_new(na, inst_replace(NULL, x, now));
            json_object_set_new(attrs, k, na);
            note(updated, k);
        }
        changed = 1;
        goto done;
    }
    if (op != ENTITY_PARTIAL && op != ENTITY_REPLACE_ATTR) {
        if (ftypes) {
            json_t *types = json_object_get(r, "type");
            size_t i;
            json_t *x;
            json_array_foreach (ftypes, i, x)
                if (!array_has_string(types, json_string_value(x))) {
                    json_array_append(types, x);
                    changed = 1;
                }
        }
        if (fscope) {
            json_object_set_new(r, "scope", json_deep_copy(fscope));
            changed = 1;
        }
    }
    const char *k;
    json_t *farr;
    json_object_foreach ((json_t *)fattrs, k, farr) {
        json_t *carr = json_object_get(attrs, k);
        if (!carr && (op == ENTITY_PARTIAL || op == ENTITY_REPLACE_ATTR)) {
            rc = VG_ENOENT;
            goto out;
        }
        if (!carr && op == ENTITY_UPDATE) {
            note_not(not_updated, k, "attribute does not exist");
            continue;
        }
        if (!carr) {
            carr = json_array();
            json_object_set_new(attrs, k, carr);
        }
        size_t i;
        json_t *fi;
        json_array_foreach (farr, i, fi) {
            const char *ds = inst_dsid(fi);
            int idx = find_inst(carr, ds);
            const json_t *old = idx >= 0 ? json_array_get(carr, (size_t)idx) : NULL;
            int marker = is_null_marker(fi);
            switch (op) {
            case ENTITY_APPEND:
            case ENTITY_REPLACE_ATTR:
                if (old)
                    json_array_set_new(carr, (size_t)idx, inst_replace(old, fi, now));
                else
                    json_array_append_new(carr, inst_replace(NULL, fi, now));
                note(updated, k);
                changed = 1;
                break;
            case ENTITY_APPEND_NOOVERWRITE:
                if (old) {
                    note_not(not_updated, k, "attribute exists and noOverwrite is set");
                } else {
                    json_array_append_new(carr, inst_replace(NULL, fi, now));
                    note(updated, k);
                    changed = 1;
                }
                break;
            case ENTITY_UPDATE:
                if (old) {
                    json_array_set_new(carr, (size_t)idx, inst_replace(old, fi, now));
                    note(updated, k);
                    changed = 1;
                } else {
                    note_not(not_updated, k, "no instance with this datasetId");
                }
                break;
            case ENTITY_MERGE:
            case ENTITY_PARTIAL:
                if (marker && !ds) {
                    /* urn:ngsi-ld:null for the attribute: delete it (every instance). */
                    json_array_clear(carr);
                    note(updated, k);
                    changed = 1;
                } else if (marker) {
                    if (old) {
                        json_array_remove(carr, (size_t)idx);
                        note(updated, k);
                        changed = 1;
                    } else if (op == ENTITY_PARTIAL) {
                        rc = VG_ENOENT;
                        goto out;
                    }
                } else if (old) {
                    json_array_set_new(carr, (size_t)idx, inst_merge(old, fi, now));
                    note(updated, k);
                    changed = 1;
                } else if (op == ENTITY_PARTIAL) {
                    rc = VG_ENOENT;
                    goto out;
                } else {
                    json_array_append_new(carr, inst_replace(NULL, fi, now));
                    note(updated, k);
                    changed = 1;
                }
                break;
            case ENTITY_REPLACE:
                break;
            }
        }
        if (json_array_size(carr) > MAX_DATASETS) {
            rc = VG_ETOOBIG;
            goto out;
        }
        if (json_array_size(carr) == 0)
            json_object_del(attrs, k);
    }
done:
    if (json_object_size(attrs) > ENTITY_MAX_ATTRS) {
        rc = VG_ETOOBIG;
        goto out;
    }
    if (changed)
        json_object_set_new(r, "modifiedAt", json_string(now));
out:
    if (rc) {
        json_decref(r);
        return rc;
    }
    *out = r;
    return VG_OK;
}

int entity_attr_delete(const json_t *cur, const char *attr_iri, const char *dataset_id,
                       int delete_all, const char *now, json_t **out)
{
    const json_t *arr = json_object_get(json_object_get(cur, "attrs"), attr_iri ? attr_iri : "");
    if (!arr || json_array_size(arr) == 0)
        return VG_ENOENT;
    int idx = delete_all ? 0 : find_inst(arr, dataset_id);
    if (idx < 0)
        return VG_ENOENT;
    json_t *r = json_deep_copy(cur);
    json_t *attrs = json_object_get(r, "attrs");
    json_t *carr = json_object_get(attrs, attr_iri);
    if (delete_all)
        json_array_clear(carr);
    else
        json_array_remove(carr, (size_t)idx);
    if (json_array_size(carr) == 0)
        json_object_del(attrs, attr_iri);
    if (now)
        json_object_set_new(r, "modifiedAt", json_string(now));
    *out = r;
    return VG_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Rendering                                                                                 */

static json_t *compact_str(struct ldctx *ctx, const char *iri)
{
    const char *c = ldctx_compact(ctx, iri);
    return json_string(c ? c : iri);
}

static json_t *compact_value(struct ldctx *ctx, const json_t *v)
{
    if (json_is_string(v))
        return compact_str(ctx, json_string_value(v));
    json_t *a = json_array();
    size_t i;
    const json_t *x;
    json_array_foreach (v, i, x) {
        if (json_is_string(x))
            json_array_append_new(a, compact_str(ctx, json_string_value(x)));
        else
            json_array_append(a, (json_t *)x);
    }
    return a;
}

/* Pick the string of a languageMap for the lang option; *tag receives the chosen key. */
static const json_t *lang_pick(const json_t *map, const char *lang, const char **tag)
{
    const char *p = lang;
    while (p && *p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",;");
        while (n > 0 && p[n - 1] == ' ')
            n--;
        if (n == 1 && p[0] == '*') {
            const char *k;
            json_t *v;
            json_object_foreach ((json_t *)map, k, v) {
                *tag = k;
                return v;
            }
        }
        if (n > 0 && n < 64) {
            const char *k;
            json_t *v;
            json_object_foreach ((json_t *)map, k, v)
                if (strlen(k) == n && strncasecmp(k, p, n) == 0) {
                    *tag = k;
                    return v;
                }
        }
        p += strcspn(p, ",");
    }
    /* No requested language: the "@none" entry, else the first one. */
    const json_t *none = json_object_get(map, "@none");
    if (none) {
        *tag = "@none";
        return none;
    }
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)map, k, v) {
        *tag = k;
        return v;
    }
    return NULL;
}

/* The stored instance as the client sees it before formatting: LanguageProperty turned into a
** Property when a lang is requested, vocab/objectType compacted. Returns a new reference. */
static json_t *inst_view(const json_t *inst, struct ldctx *ctx, const struct entity_render_opts *o)
{
    json_t *v = json_copy((json_t *)inst); /* shallow: members are replaced, never modified */
    int k = inst_kind(inst);
    if (k == K_LANG && o->lang) {
        const char *tag = NULL;
        const json_t *s = lang_pick(json_object_get(inst, "languageMap"), o->lang, &tag);
        json_object_del(v, "languageMap");
        json_object_set_new(v, "type", json_string("Property"));
        json_object_set_new(v, "value", s ? json_deep_copy(s) : json_string(""));
        if (tag)
            json_object_set_new(v, "lang", json_string(tag));
    }
    if (k == K_VOCAB && json_object_get(v, "vocab"))
        json_object_set_new(v, "vocab", compact_value(ctx, json_object_get(v, "vocab")));
    if (json_is_string(json_object_get(v, "objectType")))
        json_object_set_new(v, "objectType",
                            compact_str(ctx, json_string_value(json_object_get(v, "objectType"))));
    return v;
}

static json_t *render_inst(const json_t *inst, struct ldctx *ctx,
                           const struct entity_render_opts *o, int in_array);

static json_t *simplified_value(const json_t *view)
{
    int k = inst_kind(view);
    const json_t *val = json_object_get(view, kinds[k].key);
    if (k == K_LISTREL) {
        json_t *a = json_array();
        size_t i;
        const json_t *x;
        json_array_foreach (val, i, x)
            json_array_append(a, json_object_get(x, "object"));
        return a;
    }
    return val ? json_deep_copy(val) : json_null();
}

/* Would the concise candidate be read back as a Property whose value is the candidate itself? */
static int bare_ok(const json_t *cand, int want_kind)
{
    int k;
    enum form f = classify(cand, &k);
    if (want_kind == K_GEO)
        return f == F_GEOM;
    if (f != F_BARE || is_null_value(cand))
        return 0;
    return !(json_is_array(cand) && looks_multi(cand));
}

static json_t *render_inst(const json_t *inst, struct ldctx *ctx,
                           const struct entity_render_opts *o, int in_array)
{
    json_t *view = inst_view(inst, ctx, o);
    json_t *r = NULL;
    if (o->format == ENTITY_SIMPLIFIED) {
        r = simplified_value(view);
        goto out;
    }
    int k = inst_kind(view);
    r = json_object();
    if (o->format == ENTITY_NORMALIZED)
        json_object_set_new(r, "type", json_string(kinds[k].type));
    const json_t *val = json_object_get(view, kinds[k].key);
    if (val)
        json_object_set_new(r, kinds[k].key, json_deep_copy(val));
    static const char *const meta[] = {"observedAt", "unitCode", "datasetId", "objectType", "lang"};
    for (size_t i = 0; i < VG_ARRAY_LEN(meta); i++) {
        json_t *m = json_object_get(view, meta[i]);
        if (m)
            json_object_set(r, meta[i], m);
    }
    if (o->sys_attrs) {
        json_t *c = json_object_get(view, "createdAt"), *m = json_object_get(view, "modifiedAt");
        if (c)
            json_object_set(r, "createdAt", c);
        if (m)
            json_object_set(r, "modifiedAt", m);
    }
    const char *sk;
    json_t *sv;
    json_object_foreach (json_object_get(view, "subs"), sk, sv) {
        const char *name = ldctx_compact(ctx, sk);
        json_object_set_new(r, name ? name : sk, render_inst(sv, ctx, o, 0));
    }
    if (o->format == ENTITY_CONCISE) {
        int only_value = json_object_size(r) == 1 && val;
        if (only_value && !in_array && (k == K_PROP || k == K_GEO) && bare_ok(val, k)) {
            json_t *b = json_deep_copy(val);
            json_decref(r);
            r = b;
            goto out;
        }
        int ck;
        enum form f = classify(r, &ck);
        if (f != F_CONCISE || ck != k)
            json_object_set_new(r, "type", json_string(kinds[k].type));
    }
out:
    json_decref(view);
    return r;
}

static int keep_member(const struct entity_render_opts *o, const char *name)
{
    if (o->pick && !array_has_string(o->pick, name))
        return 0;
    if (o->omit && array_has_string(o->omit, name))
        return 0;
    return 1;
}

static int keep_inst(const struct entity_render_opts *o, const json_t *inst)
{
    if (!o->dataset_id)
        return 1;
    const char *ds = inst_dsid(inst);
    if (strcmp(o->dataset_id, "@none") == 0)
        return ds == NULL;
    return ds && strcmp(ds, o->dataset_id) == 0;
}

json_t *entity_render(const json_t *stored, struct ldctx *ctx, const struct entity_render_opts *o)
{
    struct entity_render_opts def = {.format = ENTITY_NORMALIZED};
    if (!o)
        o = &def;
    json_t *r = json_object();
    const json_t *id = json_object_get(stored, "id");
    if (id && keep_member(o, "id"))
        json_object_set(r, "id", (json_t *)id);
    const json_t *types = json_object_get(stored, "type");
    if (json_is_array(types) && keep_member(o, "type")) {
        if (json_array_size(types) == 1)
            json_object_set_new(r, "type",
                                compact_str(ctx, json_string_value(json_array_get(types, 0))));
        else
            json_object_set_new(r, "type", compact_value(ctx, types));
    }
    const json_t *scope = json_object_get(stored, "scope");
    if (json_is_array(scope) && json_array_size(scope) && keep_member(o, "scope")) {
        if (json_array_size(scope) == 1)
            json_object_set(r, "scope", json_array_get(scope, 0));
        else
            json_object_set_new(r, "scope", json_deep_copy(scope));
    }
    if (o->sys_attrs) {
        json_t *c = json_object_get(stored, "createdAt"),
               *m = json_object_get(stored, "modifiedAt");
        if (c)
            json_object_set(r, "createdAt", c);
        if (m)
            json_object_set(r, "modifiedAt", m);
    }
    const char *k;
    json_t *arr;
    json_object_foreach (json_object_get(stored, "attrs"), k, arr) {
        if (!keep_member(o, k))
            continue;
        size_t n = 0, i;
        json_t *x;
        json_array_foreach (arr, i, x)
            n += (size_t)keep_inst(o, x);
        if (n == 0)
            continue;
        const char *name = ldctx_compact(ctx, k);
        json_t *val;
        if (n == 1) {
            val = NULL;
            json_array_foreach (arr, i, x)
                if (keep_inst(o, x)) {
                    val = render_inst(x, ctx, o, 0);
                    break;
                }
        } else {
            val = json_array();
            json_array_foreach (arr, i, x)
                if (keep_inst(o, x))
                    json_array_append_new(val, render_inst(x, ctx, o, 1));
        }
        json_object_set_new(r, name ? name : k, val);
    }
    if (o->with_context)
        json_object_set_new(r, "@context",
                            o->context_value ? json_deep_copy(o->context_value)
                                             : json_string(LDCTX_CORE_URL));
    return r;
}

json_t *entity_render_feature(const json_t *stored, struct ldctx *ctx,
                              const struct entity_render_opts *o, const char *geoprop_iri)
{
    struct entity_render_opts po = {.format = ENTITY_NORMALIZED};
    if (o)
        po = *o;
    po.with_context = 0;
    json_t *f = json_object();
    const json_t *id = json_object_get(stored, "id");
    json_object_set_new(f, "id", id ? json_deep_copy(id) : json_null());
    json_object_set_new(f, "type", json_string("Feature"));
    const json_t *arr = json_object_get(json_object_get(stored, "attrs"),
                                        geoprop_iri ? geoprop_iri : NGSILD_LOCATION);
    const json_t *geom = NULL;
    size_t i;
    const json_t *x;
    json_array_foreach (arr, i, x) {
        if (!keep_inst(&po, x) || inst_kind(x) != K_GEO)
            continue;
        if (!geom || !inst_dsid(x))
            geom = json_object_get(x, "value");
        if (!inst_dsid(x))
            break;
    }
    json_object_set_new(f, "geometry", geom ? json_deep_copy(geom) : json_null());
    json_t *props = entity_render(stored, ctx, &po);
    json_object_del(props, "id");
    json_object_set_new(f, "properties", props);
    if (o && o->with_context)
        json_object_set_new(f, "@context",
                            o->context_value ? json_deep_copy(o->context_value)
                                             : json_string(LDCTX_CORE_URL));
    return f;
}

/* ---------------------------------------------------------------------------------------- */
/* Helpers                                                                                   */

const json_t *entity_attr_default(const json_t *stored, const char *attr_iri)
{
    const json_t *arr = json_object_get(json_object_get(stored, "attrs"), attr_iri);
    size_t i;
    const json_t *x;
    json_array_foreach (arr, i, x)
        if (!inst_dsid(x))
            return x;
    return json_array_get(arr, 0);
}

int entity_has_type(const json_t *stored, const char *type_iri)
{
    return type_iri && array_has_string(json_object_get(stored, "type"), type_iri);
}

/* ---- JSON text ---------------------------------------------------------------------------- */

/* Compact JSON of a jansson value with the shortest round-trip numbers (json_dumps prints
** 17 significant digits: 2.39 would come out as 2.3900000000000001). Depth-bounded by the
** parser that built v. */
void entity_json_write(struct buf *b, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *x;
        int first = 1;
        buf_putc(b, '{');
        json_object_foreach((json_t *)v, k, x) {
            if (!first)
                buf_putc(b, ',');
            first = 0;
            buf_json_str(b, k, strlen(k));
            buf_putc(b, ':');
            entity_json_write(b, x);
        }
        buf_putc(b, '}');
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *x;
        buf_putc(b, '[');
        json_array_foreach(v, i, x) {
            if (i)
                buf_putc(b, ',');
            entity_json_write(b, x);
        }
        buf_putc(b, ']');
        break;
    }
    case JSON_STRING:
        buf_json_str(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        buf_i64(b, (int64_t)json_integer_value(v));
        break;
    case JSON_REAL:
        buf_json_double(b, json_real_value(v));
        break;
    case JSON_TRUE:
        buf_puts(b, "true");
        break;
    case JSON_FALSE:
        buf_puts(b, "false");
        break;
    default:
        buf_puts(b, "null");
        break;
    }
}
