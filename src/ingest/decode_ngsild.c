/*
** ingest/decode_ngsild.c: NGSI-LD entity messages to line protocol (see decode_ngsild.h).
** Owns: per call, the parsed JSON (jansson) and the list of fields of one entity.
*/
#include "ingest/decode_ngsild.h"

#include "core/clock.h"
#include "core/vg.h"
#include "ingest/lineproto.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAYLOAD_MAX (1u << 20)

struct field {
    const char *name;      /* attribute name (or "lat"/"lon") */
    const char *suffix;    /* "" or "@unitCode" */
    const json_t *v;       /* number, boolean or string */
    double geo;            /* for lat/lon (v == NULL) */
    int64_t ts;
};

/* Local name of a type or attribute IRI (after the last '/' or '#'). */
static const char *local_name(const char *s)
{
    const char *a = strrchr(s, '/'), *b = strrchr(s, '#');
    const char *p = a > b ? a : b;
    return p && p[1] ? p + 1 : s;
}

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 256 || s[n - 1] == '\\') /* a trailing backslash cannot be written */
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20)
            return 0;
    return 1;
}

static int is_meta_member(const char *k)
{
    static const char *const skip[] = {"id", "type", "@context", "scope", "createdAt",
                                       "modifiedAt", "deletedAt", "@id", "@type"};
    for (size_t i = 0; i < VG_ARRAY_LEN(skip); i++)
        if (!strcmp(k, skip[i]))
            return 1;
    return 0;
}

static int add(struct field *f, uint32_t *n, const char *name, const char *suffix,
               const json_t *v, double geo, int64_t ts)
{
    if (*n >= DECODE_NGSILD_MAX_ATTRS + 2)
        return VG_ETOOBIG;
    f[*n] = (struct field){name, suffix, v, geo, ts};
    (*n)++;
    return VG_OK;
}

/* A GeoJSON Point's coordinates -> lat/lon fields. 0 when v is not a usable Point. */
static int add_point(struct field *f, uint32_t *n, const json_t *v, int64_t ts)
{
    const json_t *c = json_object_get(v, "coordinates");
    const char *t = json_string_value(json_object_get(v, "type"));
    if (!t || strcmp(t, "Point") || json_array_size(c) < 2)
        return 0;
    const json_t *lon = json_array_get(c, 0), *lat = json_array_get(c, 1);
    if (!json_is_number(lon) || !json_is_number(lat))
        return 0;
    double la = json_number_value(lat), lo = json_number_value(lon);
    if (!(la >= -90 && la <= 90 && lo >= -180 && lo <= 180))
        return 0;
    if (add(f, n, "lat", "", NULL, la, ts) || add(f, n, "lon", "", NULL, lo, ts))
        return 0;
    return 1;
}

static int scalar(const json_t *v)
{
    return json_is_number(v) || json_is_boolean(v) || json_is_string(v);
}

static int one_entity(const json_t *e, const char *id_tag, int64_t now_ms, struct buf *out,
                      int *lines, char *why, size_t cap)
{
    if (!json_is_object(e))
        return vg_errf(why, cap, VG_EINVAL, "an entity must be a JSON object");
    const char *id = json_string_value(json_object_get(e, "id"));
    const json_t *tv = json_object_get(e, "type");
    if (json_is_array(tv))
        tv = json_array_get(tv, 0);
    const char *type = json_string_value(tv);
    if (!id || !name_ok(id) || strlen(id) > 1024)
        return vg_errf(why, cap, VG_EINVAL, "the entity has no valid \"id\"");
    if (!type || !name_ok(local_name(type)) || local_name(type)[0] == '#')
        return vg_errf(why, cap, VG_EINVAL, "entity %.200s has no valid \"type\"", id);
    type = local_name(type);
    struct field f[DECODE_NGSILD_MAX_ATTRS + 2];
    uint32_t n = 0;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)e, k, v) {
        if (is_meta_member(k))
            continue;
        const char *name = local_name(k);
        if (!name_ok(name))
            return vg_errf(why, cap, VG_EINVAL, "entity %.200s: bad attribute name", id);
        if (json_is_array(v)) { /* multi-attribute (normalized): the first instance */
            const json_t *first = json_array_get(v, 0);
            if (!json_is_object(first) || !json_is_string(json_object_get(first, "type")))
                continue; /* a keyValues array: a structured value, not a time series */
            v = first;
        }
        int64_t ts = now_ms;
        const char *at = json_string_value(json_object_get(v, "type"));
        int normalized = json_is_object(v) && at &&
                         (!strcmp(at, "Property") || !strcmp(at, "GeoProperty") ||
                          !strcmp(at, "Relationship") || !strcmp(at, "LanguageProperty") ||
                          !strcmp(at, "VocabProperty") || !strcmp(at, "ListProperty"));
        if (!normalized) { /* keyValues */
            if (scalar(v)) {
                if (add(f, &n, name, "", v, 0, ts))
                    return vg_errf(why, cap, VG_EINVAL, "entity %.200s: too many attributes", id);
            } else if (json_is_object(v) && !strcmp(name, "location")) {
                add_point(f, &n, v, ts);
            }
            continue;
        }
        const char *obs = json_string_value(json_object_get(v, "observedAt"));
        if (obs && clock_parse_time(obs, strlen(obs), &ts))
            return vg_errf(why, cap, VG_EINVAL,
                           "entity %.200s: attribute %.100s: observedAt '%.60s' is "
                           "not a date-time",
                           id, name, obs);
        const json_t *val = NULL;
        if (!strcmp(at, "Property")) {
            val = json_object_get(v, "value");
            if (json_is_object(val) && json_object_get(val, "@value"))
                val = json_object_get(val, "@value"); /* {"@type":"DateTime","@value":...} */
        } else if (!strcmp(at, "Relationship")) {
            val = json_object_get(v, "object");
        } else if (!strcmp(at, "GeoProperty")) {
            if (!strcmp(name, "location"))
                add_point(f, &n, json_object_get(v, "value"), ts);
            continue;
        } else {
            continue;
        }
        if (!scalar(val))
            continue;
        if (add(f, &n, name, "", val, 0, ts))
            return vg_errf(why, cap, VG_EINVAL, "entity %.200s: too many attributes", id);
        const json_t *u = json_object_get(v, "unitCode");
        if (json_is_string(u) && json_string_length(u) > 0 && json_string_length(u) < 64 &&
            add(f, &n, name, "@unitCode", u, 0, ts))
            return vg_errf(why, cap, VG_EINVAL, "entity %.200s: too many attributes", id);
    }
    uint32_t values = 0;
    for (uint32_t i = 0; i < n; i++)
        values += strcmp(f[i].suffix, "@unitCode") != 0;
    if (values == 0)
        return vg_errf(why, cap, VG_EINVAL,
                       "entity %.200s has no attribute with a number, boolean or "
                       "string value",
                       id);
    for (uint32_t i = 0; i < n; i++) {
        if (f[i].v && json_is_real(f[i].v) && !isfinite(json_real_value(f[i].v)))
            return vg_errf(why, cap, VG_EINVAL,
                           "entity %.200s: attribute %s is not a finite number", id, f[i].name);
    }
    /* One line per distinct timestamp, in order of first appearance. */
    for (uint32_t i = 0; i < n; i++) {
        if (!f[i].name)
            continue;
        int64_t ts = f[i].ts;
        lp_escape(out, type, strlen(type), LP_ESC_MEASUREMENT);
        buf_putc(out, ',');
        lp_escape(out, id_tag, strlen(id_tag), LP_ESC_KEY);
        buf_putc(out, '=');
        lp_escape(out, id, strlen(id), LP_ESC_KEY);
        char sep = ' ';
        for (uint32_t j = i; j < n; j++) {
            if (!f[j].name || f[j].ts != ts)
                continue;
            buf_putc(out, sep);
            sep = ',';
            lp_escape(out, f[j].name, strlen(f[j].name), LP_ESC_KEY);
            if (f[j].suffix[0])
                buf_puts(out, f[j].suffix);
            buf_putc(out, '=');
            const json_t *x = f[j].v;
            if (!x)
                buf_json_double(out, f[j].geo);
            else if (json_is_integer(x))
                buf_printf(out, "%lld", (long long)json_integer_value(x));
            else if (json_is_real(x))
                buf_json_double(out, json_real_value(x));
            else if (json_is_boolean(x))
                buf_puts(out, json_is_true(x) ? "true" : "false");
            else {
                buf_putc(out, '"');
                lp_put_string(out, json_string_value(x), json_string_length(x));
                buf_putc(out, '"');
            }
            f[j].name = NULL;
        }
        buf_printf(out, " %lld\n", (long long)ts);
        (*lines)++;
    }
    return VG_OK;
}

int decode_ngsild(const char *payload, size_t len, const char *id_tag, int64_t now_ms,
                  struct buf *out, char *why, size_t cap)
{
    if (len > PAYLOAD_MAX)
        return vg_errf(why, cap, VG_EINVAL, "payload of %zu bytes is over the %u-byte limit", len,
                       PAYLOAD_MAX);
    json_error_t je;
    json_t *root = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return vg_errf(why, cap, VG_EINVAL, "not JSON: %s (line %d, column %d)", je.text, je.line,
                       je.column);
    size_t start = out->len;
    int lines = 0, rc = VG_OK;
    if (json_is_array(root)) {
        if (json_array_size(root) == 0 || json_array_size(root) > DECODE_NGSILD_MAX_ENTITIES)
            rc = vg_errf(why, cap, VG_EINVAL, "an array of 1..%d entities is expected",
                         DECODE_NGSILD_MAX_ENTITIES);
        size_t i;
        json_t *e;
        json_array_foreach(root, i, e) {
            if (rc)
                break;
            rc = one_entity(e, id_tag, now_ms, out, &lines, why, cap);
        }
    } else {
        rc = one_entity(root, id_tag, now_ms, out, &lines, why, cap);
    }
    json_decref(root);
    if (rc) {
        out->len = start;
        if (out->p)
            out->p[start] = '\0';
        return rc == VG_ETOOBIG ? vg_errf(why, cap, VG_EINVAL, "too many attributes") : rc;
    }
    return lines;
}
