/*
** alerts/rule.c: alert rules: JSON parsing and validation (jansson), canonical JSON output,
** target matching (tags, ids, point in polygon) and the per-series state machines.
** Owns: the ids, where strings and polygon of a parsed struct rule (freed by rule_release).
** Format and semantics: docs/alerts.md "## Rule format".
**
** Evaluation (rule_on_value / rule_on_tick) is pure: no allocation, no clock, no I/O. Every
** kind shares one gate: a value is accepted only if it is not NaN and its ts is newer than the
** newest accepted one; accepted values update last_ts / last_value / has_last.
**
** Threshold (op '>'; '<' mirrors it):
**
**        v > raise                     held for_ms [rule_on_value]
**   IDLE ----------> PENDING -------------------------------> ACTIVE
**    ^                  |                                     |   ^
**    |    v <= raise    |          v <= clear [rule_on_value] |   | clear < v (hysteresis:
**    +------------------+                                     |   |  stays active)
**    +--------------------------------------------------------+   +--+
**
** Stale:  IDLE -- tick: now - last_ts > after_ms --> ACTIVE -- any accepted value --> IDLE
** Stuck:  IDLE -- repeats >= min_repeats and ts - repeat_since >= for_ms --> ACTIVE
**         ACTIVE -- a different value --> IDLE
** Rate:   IDLE -- |dv| * per_ms / dt > max_delta --> ACTIVE -- rate <= max_delta --> IDLE
**
** Nightmin (leak), per local night [from, to); a night closes on the first value at or after
** `to` [rule_on_value] or when the tick passes `to` + 1 h [rule_on_tick] (night_close):
**
**   LEARNING -- `learn` normal nights known --> WATCHING
**   WATCHING -- closed night min > level: streak++; streak >= nights --> ACTIVE
**   WATCHING -- closed night min <= level: streak = 0, the min enters the baseline ring
**   ACTIVE   -- closed night min <= level --> WATCHING (CLEAR; the min enters the ring)
**   level = median(ring) * (1 + ratio) + margin; excess minima never enter the ring.
**
** Dwell (positions) [rule_on_position, rule_on_tick]:
**
**   OUTSIDE -- fix in geofence --> ANCHORED (anchor = this fix)
**   ANCHORED -- fix within radius_m of the anchor, fix ts - anchor_ts >= for --> ACTIVE
**   ANCHORED -- tick: now - anchor_ts >= for and now - last fix <= 2 x for --> ACTIVE
**   ANCHORED/ACTIVE -- fix beyond radius_m (inside) --> ANCHORED on the new fix (CLEAR if ACTIVE)
**   ANCHORED/ACTIVE -- fix outside the geofence --> OUTSIDE (CLEAR if ACTIVE)
**
** Forecast: IDLE -- crosses [rule_on_forecast] --> ACTIVE -- !crosses --> IDLE
** Anomaly:  IDLE -- score >= s [rule_on_score] --> ACTIVE -- score < s/2 --> IDLE
** Composite: IDLE -- every clause held within window [rule_on_composite] --> ACTIVE
**            ACTIVE -- one clause has not held for a window --> IDLE
*/
#include "alerts/rule.h"

#include "core/buf.h"
#include "core/clock.h"
#include "core/vg.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RULE_ID_MAX 256  /* bytes of one target id */
#define RULE_TAG_MAX 256 /* bytes of a where key or value */
#define STUCK_MAX_REPEATS 1000000u
#define DEFAULT_PER_MS 3600000
#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL
#define EARTH_RADIUS_M 6371008.8

static const char *const sev_names[] = {"informational", "low", "medium", "high", "critical"};

const char *rule_severity_name(int sev)
{
    if (sev < 0 || sev >= (int)VG_ARRAY_LEN(sev_names))
        return "medium";
    return sev_names[sev];
}

const char *rule_kind_name(enum rule_kind k)
{
    switch (k) {
    case RULE_THRESHOLD:
        return "threshold";
    case RULE_STALE:
        return "stale";
    case RULE_STUCK:
        return "stuck";
    case RULE_RATE:
        return "rate";
    case RULE_NIGHTMIN:
        return "nightmin";
    case RULE_DWELL:
        return "dwell";
    case RULE_FORECAST:
        return "forecast";
    case RULE_ANOMALY:
        return "anomaly";
    case RULE_COMPOSITE:
        return "composite";
    }
    return "unknown";
}

int rule_op_holds(int op, double v, double ref)
{
    switch (op) {
    case RULE_OP_GT:
        return v > ref;
    case RULE_OP_LT:
        return v < ref;
    case RULE_OP_GE:
        return v >= ref;
    case RULE_OP_LE:
        return v <= ref;
    }
    return 0;
}

const char *rule_op_name(int op)
{
    switch (op) {
    case RULE_OP_GT:
        return ">";
    case RULE_OP_LT:
        return "<";
    case RULE_OP_GE:
        return ">=";
    case RULE_OP_LE:
        return "<=";
    }
    return "?";
}

/* ">", "<", ">=", "<=" as an enum rule_op, or 0. */
static int op_parse(const json_t *v)
{
    static const int ops[] = {RULE_OP_GT, RULE_OP_LT, RULE_OP_GE, RULE_OP_LE};
    if (!json_is_string(v))
        return 0;
    for (size_t i = 0; i < VG_ARRAY_LEN(ops); i++)
        if (!strcmp(json_string_value(v), rule_op_name(ops[i])))
            return ops[i];
    return 0;
}

void rule_release(struct rule *r)
{
    if (!r)
        return;
    for (uint32_t i = 0; i < r->nids; i++)
        free(r->ids[i]);
    free(r->ids);
    r->ids = NULL;
    r->nids = 0;
    for (uint32_t i = 0; i < r->nwhere; i++) {
        free((char *)r->where[i].key);
        free((char *)r->where[i].val);
    }
    memset(r->where, 0, sizeof(r->where));
    r->nwhere = 0;
    free(r->poly);
    r->poly = NULL;
    r->npoly = 0;
    free(r->geo);
    free(r->geo_ring);
    free(r->geo_poly);
    r->geo = NULL;
    r->geo_ring = r->geo_poly = NULL;
    r->ngeo = r->ngeo_ring = r->ngeo_poly = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Parsing                                                                                     */

/* Refuse members of o that are not in allowed[]; where names the object for the message. */
static int check_members(const json_t *o, const char *const *allowed, size_t n, const char *where,
                         char *err, size_t cap)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        size_t i;
        for (i = 0; i < n; i++)
            if (!strcmp(k, allowed[i]))
                break;
        if (i == n)
            return vg_errf(err, cap, VG_EINVAL, "unknown member '%.64s' in %s", k, where);
    }
    return 0;
}

/* An optional string member copied into dst[cap]: non-empty, no NUL, < dcap bytes. Returns 1
** when present, 0 when absent, VG_EINVAL otherwise. */
static int get_str(const json_t *o, const char *key, const char *path, char *dst, size_t dcap,
                   char *err, size_t cap)
{
    const json_t *v = json_object_get(o, key);
    size_t n;
    if (!v)
        return 0;
    n = json_is_string(v) ? json_string_length(v) : 0;
    if (n == 0 || n >= dcap || strlen(json_string_value(v)) != n)
        return vg_errf(err, cap, VG_EINVAL, "%s must be a non-empty string of at most %zu bytes",
                       path, dcap - 1);
    memcpy(dst, json_string_value(v), n + 1);
    return 1;
}

/* An optional finite number. Returns 1 when present, 0 when absent, VG_EINVAL otherwise. */
static int get_num(const json_t *o, const char *key, const char *path, double *out, char *err,
                   size_t cap)
{
    const json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return vg_errf(err, cap, VG_EINVAL, "%s must be a finite number", path);
    *out = json_number_value(v);
    return 1;
}

/* An optional duration string ("30m"). Returns 1 when present, 0 when absent, VG_EINVAL. */
static int get_dur(const json_t *o, const char *key, const char *path, int64_t *out, char *err,
                   size_t cap)
{
    const json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
        clock_parse_duration(json_string_value(v), out))
        return vg_errf(err, cap, VG_EINVAL,
                       "%s must be a duration such as \"90s\", \"30m\", \"2h\" or \"1d\"", path);
    return 1;
}

static int id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

static int cmp_tag(const void *a, const void *b)
{
    const struct vg_tag *x = a, *y = b;
    return strcmp(x->key, y->key);
}

static int parse_area(const json_t *a, struct rule *r, char *err, size_t cap)
{
    static const char *const allowed[] = {"type", "coordinates"};
    const json_t *t, *c, *ring;
    size_t n;
    if (!json_is_object(a))
        return vg_errf(err, cap, VG_EINVAL, "target.area must be a GeoJSON Polygon object");
    if (check_members(a, allowed, VG_ARRAY_LEN(allowed), "target.area", err, cap))
        return VG_EINVAL;
    t = json_object_get(a, "type");
    if (!json_is_string(t) || strcmp(json_string_value(t), "Polygon"))
        return vg_errf(err, cap, VG_EINVAL, "target.area.type must be \"Polygon\"");
    c = json_object_get(a, "coordinates");
    if (!json_is_array(c) || json_array_size(c) == 0)
        return vg_errf(err, cap, VG_EINVAL,
                       "target.area.coordinates must be a non-empty array of rings");
    for (size_t i = 1; i < json_array_size(c); i++)
        if (!json_is_array(json_array_get(c, i)))
            return vg_errf(err, cap, VG_EINVAL, "target.area.coordinates[%zu] must be a ring", i);
    ring = json_array_get(c, 0);
    n = json_array_size(ring);
    if (!json_is_array(ring) || n < 4 || n > RULE_MAX_POLY)
        return vg_errf(err, cap, VG_EINVAL,
                       "target.area.coordinates[0] must be a ring of 4 to %d positions",
                       RULE_MAX_POLY);
    r->poly = vg_malloc(n * 2 * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        const json_t *p = json_array_get(ring, i);
        size_t pn = json_array_size(p);
        double lon, lat;
        if (!json_is_array(p) || pn < 2 || pn > 3 || !json_is_number(json_array_get(p, 0)) ||
            !json_is_number(json_array_get(p, 1)) ||
            (pn == 3 && !json_is_number(json_array_get(p, 2))))
            return vg_errf(err, cap, VG_EINVAL,
                           "target.area.coordinates[0][%zu] must be a position [lon, lat]", i);
        lon = json_number_value(json_array_get(p, 0));
        lat = json_number_value(json_array_get(p, 1));
        if (!(lon >= -180 && lon <= 180))
            return vg_errf(err, cap, VG_EINVAL,
                           "target.area.coordinates[0][%zu]: longitude %g out of range "
                           "[-180, 180]",
                           i, lon);
        if (!(lat >= -90 && lat <= 90))
            return vg_errf(err, cap, VG_EINVAL,
                           "target.area.coordinates[0][%zu]: latitude %g out of range [-90, 90]",
                           i, lat);
        r->poly[2 * i] = lon;
        r->poly[2 * i + 1] = lat;
        r->npoly++;
    }
    if (r->poly[0] != r->poly[2 * (n - 1)] || r->poly[1] != r->poly[2 * (n - 1) + 1])
        return vg_errf(err, cap, VG_EINVAL,
                       "target.area.coordinates[0] must be closed (last position = first)");
    return 0;
}

static int parse_target(const json_t *t, struct rule *r, char *err, size_t cap)
{
    static const char *const allowed[] = {"type", "attr", "ids", "where", "area"};
    const json_t *v;
    int has_type, has_attr;
    if (!json_is_object(t))
        return vg_errf(err, cap, VG_EINVAL, "target must be an object");
    if (check_members(t, allowed, VG_ARRAY_LEN(allowed), "target", err, cap))
        return VG_EINVAL;
    has_type = get_str(t, "type", "target.type", r->type, sizeof(r->type), err, cap);
    if (has_type < 0)
        return has_type;
    has_attr = get_str(t, "attr", "target.attr", r->attr, sizeof(r->attr), err, cap);
    if (has_attr < 0)
        return has_attr;
    v = json_object_get(t, "ids");
    if (v) {
        size_t n = json_array_size(v), i;
        json_t *e;
        if (!json_is_array(v) || n == 0 || n > RULE_MAX_IDS)
            return vg_errf(err, cap, VG_EINVAL,
                           "target.ids must be a non-empty array of at most %d entity ids",
                           RULE_MAX_IDS);
        r->ids = vg_calloc(n, sizeof(*r->ids));
        json_array_foreach(v, i, e)
        {
            size_t len = json_is_string(e) ? json_string_length(e) : 0;
            if (len == 0 || len > RULE_ID_MAX || strlen(json_string_value(e)) != len)
                return vg_errf(err, cap, VG_EINVAL,
                               "target.ids[%zu] must be a non-empty string of at most %d bytes",
                               i, RULE_ID_MAX);
            r->ids[r->nids++] = vg_strdup(json_string_value(e));
        }
    }
    if (!has_type && !r->nids && r->kind != RULE_COMPOSITE)
        return vg_errf(err, cap, VG_EINVAL, "target.type or target.ids is required");
    if (r->kind == RULE_COMPOSITE) {
        if (has_attr)
            return vg_errf(err, cap, VG_EINVAL,
                           "target.attr is not used by a composite rule (each clause of "
                           "condition.all names its attr)");
    } else if (r->kind == RULE_DWELL) {
        if (!has_attr)
            snprintf(r->attr, sizeof(r->attr), "%s", "location");
    } else if (!has_attr && r->kind != RULE_STALE) {
        return vg_errf(err, cap, VG_EINVAL, "target.attr is required for a %s rule",
                       rule_kind_name(r->kind));
    }
    v = json_object_get(t, "where");
    if (v) {
        const char *k;
        json_t *e;
        if (!json_is_object(v) || json_object_size(v) > RULE_MAX_WHERE)
            return vg_errf(err, cap, VG_EINVAL,
                           "target.where must be an object of at most %d string tags",
                           RULE_MAX_WHERE);
        json_object_foreach((json_t *)v, k, e)
        {
            size_t kl = strlen(k), vl = json_is_string(e) ? json_string_length(e) : 0;
            if (kl == 0 || kl > RULE_TAG_MAX)
                return vg_errf(err, cap, VG_EINVAL,
                               "target.where keys must be non-empty strings of at most %d bytes",
                               RULE_TAG_MAX);
            if (!json_is_string(e) || vl > RULE_TAG_MAX || strlen(json_string_value(e)) != vl)
                return vg_errf(err, cap, VG_EINVAL,
                               "target.where.%.64s must be a string of at most %d bytes", k,
                               RULE_TAG_MAX);
            struct vg_tag *tg = &r->where[r->nwhere++];
            tg->key = vg_strdup(k);
            tg->klen = (uint32_t)kl;
            tg->val = vg_strdup(json_string_value(e));
            tg->vlen = (uint32_t)vl;
        }
        /* canonical order, whatever the document's */
        qsort(r->where, r->nwhere, sizeof(r->where[0]), cmp_tag);
    }
    v = json_object_get(t, "area");
    if (v) {
        int rc = parse_area(v, r, err, cap);
        if (rc)
            return rc;
    }
    if (r->kind == RULE_COMPOSITE && !r->npoly)
        return vg_errf(err, cap, VG_EINVAL, "target.area is required for a composite rule");
    return 0;
}

/* An optional integer in [lo, hi]. Returns 1 when present, 0 when absent, VG_EINVAL otherwise. */
static int get_uint(const json_t *o, const char *key, const char *path, uint32_t lo, uint32_t hi,
                    uint32_t *out, char *err, size_t cap)
{
    const json_t *v = json_object_get(o, key);
    double d;
    if (!v)
        return 0;
    d = json_is_number(v) ? json_number_value(v) : NAN;
    if (!(d >= lo && d <= hi) || d != floor(d))
        return vg_errf(err, cap, VG_EINVAL, "%s must be an integer from %u to %u", path, lo, hi);
    *out = (uint32_t)d;
    return 1;
}

/* An optional local time "HH:MM" (00:00 .. 23:59) as minutes after midnight. Returns 1 when
** present, 0 when absent, VG_EINVAL otherwise. */
static int get_hhmm(const json_t *o, const char *key, const char *path, int *out, char *err,
                    size_t cap)
{
    const json_t *v = json_object_get(o, key);
    const char *s;
    if (!v)
        return 0;
    s = json_is_string(v) ? json_string_value(v) : "";
    if (json_string_length(v) != 5 || s[2] != ':' || s[0] < '0' || s[0] > '2' || s[1] < '0' ||
        s[1] > '9' || s[3] < '0' || s[3] > '5' || s[4] < '0' || s[4] > '9' ||
        (s[0] - '0') * 10 + (s[1] - '0') > 23)
        return vg_errf(err, cap, VG_EINVAL,
                       "%s must be a local time \"HH:MM\" from \"00:00\" to \"23:59\"", path);
    *out = ((s[0] - '0') * 10 + (s[1] - '0')) * 60 + (s[3] - '0') * 10 + (s[4] - '0');
    return 1;
}

/* One ring of the geofence (path names it in messages), appended to r->geo closed; *capp is the
** allocated size of r->geo in points. */
static int parse_geo_ring(const json_t *ring, const char *path, struct rule *r, size_t *capp,
                          char *err, size_t cap)
{
    size_t n = json_array_size(ring), need;
    double *p;
    if (!json_is_array(ring) || n < 3)
        return vg_errf(err, cap, VG_EINVAL, "%s must be a ring of at least 3 positions", path);
    if (n > RULE_MAX_GEOFENCE || r->ngeo + n > RULE_MAX_GEOFENCE)
        return vg_errf(err, cap, VG_EINVAL,
                       "condition.geofence has more than %d positions in all (rings closed)",
                       RULE_MAX_GEOFENCE);
    need = r->ngeo + n + 1;
    if (need > *capp) {
        size_t c = *capp ? *capp : 64;
        while (c < need)
            c *= 2;
        r->geo = vg_realloc(r->geo, c * 2 * sizeof(double));
        *capp = c;
    }
    p = r->geo + 2 * (size_t)r->ngeo;
    for (size_t i = 0; i < n; i++) {
        const json_t *q = json_array_get(ring, i);
        size_t pn = json_array_size(q);
        double lon, lat;
        if (!json_is_array(q) || pn < 2 || pn > 3 || !json_is_number(json_array_get(q, 0)) ||
            !json_is_number(json_array_get(q, 1)) ||
            (pn == 3 && !json_is_number(json_array_get(q, 2))))
            return vg_errf(err, cap, VG_EINVAL, "%s[%zu] must be a position [lon, lat]", path, i);
        lon = json_number_value(json_array_get(q, 0));
        lat = json_number_value(json_array_get(q, 1));
        if (!(lon >= -180 && lon <= 180))
            return vg_errf(err, cap, VG_EINVAL,
                           "%s[%zu]: longitude %g out of range [-180, 180]", path, i, lon);
        if (!(lat >= -90 && lat <= 90))
            return vg_errf(err, cap, VG_EINVAL, "%s[%zu]: latitude %g out of range [-90, 90]",
                           path, i, lat);
        p[2 * i] = lon;
        p[2 * i + 1] = lat;
    }
    if (p[0] != p[2 * (n - 1)] || p[1] != p[2 * (n - 1) + 1]) { /* open: close it */
        if (r->ngeo + n + 1 > RULE_MAX_GEOFENCE)
            return vg_errf(err, cap, VG_EINVAL,
                           "condition.geofence has more than %d positions in all (rings closed)",
                           RULE_MAX_GEOFENCE);
        p[2 * n] = p[0];
        p[2 * n + 1] = p[1];
        n++;
    }
    if (n < 4)
        return vg_errf(err, cap, VG_EINVAL, "%s must be a ring of at least 3 positions", path);
    for (size_t i = 0; i < n; i++) {
        if (r->ngeo == 0 && i == 0) {
            r->geo_bbox[0] = r->geo_bbox[2] = p[0];
            r->geo_bbox[1] = r->geo_bbox[3] = p[1];
        }
        r->geo_bbox[0] = fmin(r->geo_bbox[0], p[2 * i]);
        r->geo_bbox[1] = fmin(r->geo_bbox[1], p[2 * i + 1]);
        r->geo_bbox[2] = fmax(r->geo_bbox[2], p[2 * i]);
        r->geo_bbox[3] = fmax(r->geo_bbox[3], p[2 * i + 1]);
    }
    r->ngeo += (uint32_t)n;
    return 0;
}

/* condition.geofence: a GeoJSON Polygon or MultiPolygon; rings closed or not, holes honoured. */
static int parse_geofence(const json_t *g, struct rule *r, char *err, size_t cap)
{
    static const char *const allowed[] = {"type", "coordinates"};
    const json_t *t, *c;
    size_t npoly, gcap = 0, ringcap = 0;
    char path[64];
    if (!json_is_object(g))
        return vg_errf(err, cap, VG_EINVAL,
                       "condition.geofence must be a GeoJSON Polygon or MultiPolygon object");
    if (check_members(g, allowed, VG_ARRAY_LEN(allowed), "condition.geofence", err, cap))
        return VG_EINVAL;
    t = json_object_get(g, "type");
    if (json_is_string(t) && !strcmp(json_string_value(t), "MultiPolygon"))
        r->geo_multi = 1;
    else if (!json_is_string(t) || strcmp(json_string_value(t), "Polygon"))
        return vg_errf(err, cap, VG_EINVAL,
                       "condition.geofence.type must be \"Polygon\" or \"MultiPolygon\"");
    c = json_object_get(g, "coordinates");
    if (!json_is_array(c) || json_array_size(c) == 0)
        return vg_errf(err, cap, VG_EINVAL,
                       "condition.geofence.coordinates must be a non-empty array of %s",
                       r->geo_multi ? "polygons" : "rings");
    npoly = r->geo_multi ? json_array_size(c) : 1;
    if (npoly > RULE_MAX_GEOFENCE / 4)
        return vg_errf(err, cap, VG_EINVAL, "condition.geofence has more than %d polygons",
                       RULE_MAX_GEOFENCE / 4);
    r->geo_poly = vg_calloc(npoly, sizeof(*r->geo_poly));
    r->ngeo_poly = (uint32_t)npoly;
    for (size_t k = 0; k < npoly; k++) {
        const json_t *rings = r->geo_multi ? json_array_get(c, k) : c;
        size_t nr = json_array_size(rings);
        if (r->geo_multi)
            snprintf(path, sizeof(path), "condition.geofence.coordinates[%u]", (unsigned)k);
        else
            snprintf(path, sizeof(path), "condition.geofence.coordinates");
        if (!json_is_array(rings) || nr == 0)
            return vg_errf(err, cap, VG_EINVAL, "%s must be a non-empty array of rings", path);
        for (size_t j = 0; j < nr; j++) {
            char rpath[96];
            uint32_t before = r->ngeo;
            int rc;
            snprintf(rpath, sizeof(rpath), "%.64s[%u]", path, (unsigned)j);
            rc = parse_geo_ring(json_array_get(rings, j), rpath, r, &gcap, err, cap);
            if (rc)
                return rc;
            if (r->ngeo_ring == ringcap) {
                ringcap = ringcap ? 2 * ringcap : 8;
                r->geo_ring = vg_realloc(r->geo_ring, ringcap * sizeof(*r->geo_ring));
            }
            r->geo_ring[r->ngeo_ring++] = r->ngeo - before;
            r->geo_poly[k]++;
        }
    }
    return 0;
}

static int parse_clauses(const json_t *c, struct rule *r, char *err, size_t cap)
{
    static const char *const allowed[] = {"type", "attr", "op", "value"};
    const json_t *all = json_object_get(c, "all");
    size_t n = json_array_size(all);
    if (!all)
        return vg_errf(err, cap, VG_EINVAL, "condition.all is required (%d to %d clauses)", 2,
                       RULE_MAX_CLAUSES);
    if (!json_is_array(all) || n < 2 || n > RULE_MAX_CLAUSES)
        return vg_errf(err, cap, VG_EINVAL, "condition.all must be an array of %d to %d clauses",
                       2, RULE_MAX_CLAUSES);
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(all, i);
        struct rule_clause *cl = &r->clauses[i];
        char path[48], mp[64];
        int rc;
        snprintf(path, sizeof(path), "condition.all[%u]", (unsigned)i);
        if (!json_is_object(e))
            return vg_errf(err, cap, VG_EINVAL,
                           "%s must be an object {\"type\", \"attr\", \"op\", \"value\"}", path);
        if (check_members(e, allowed, VG_ARRAY_LEN(allowed), path, err, cap))
            return VG_EINVAL;
        snprintf(mp, sizeof(mp), "%s.type", path);
        rc = get_str(e, "type", mp, cl->type, sizeof(cl->type), err, cap);
        if (rc <= 0)
            return rc < 0 ? rc : vg_errf(err, cap, VG_EINVAL, "%s is required", mp);
        if (r->type[0] && strcmp(r->type, cl->type))
            return vg_errf(err, cap, VG_EINVAL, "%s must be target.type ('%.64s') when it is given",
                           mp, r->type);
        snprintf(mp, sizeof(mp), "%s.attr", path);
        rc = get_str(e, "attr", mp, cl->attr, sizeof(cl->attr), err, cap);
        if (rc <= 0)
            return rc < 0 ? rc : vg_errf(err, cap, VG_EINVAL, "%s is required", mp);
        if (!json_object_get(e, "op"))
            return vg_errf(err, cap, VG_EINVAL, "%s.op is required", path);
        cl->op = op_parse(json_object_get(e, "op"));
        if (!cl->op)
            return vg_errf(err, cap, VG_EINVAL,
                           "%s.op must be one of \">\", \"<\", \">=\", \"<=\"", path);
        snprintf(mp, sizeof(mp), "%s.value", path);
        rc = get_num(e, "value", mp, &cl->value, err, cap);
        if (rc <= 0)
            return rc < 0 ? rc : vg_errf(err, cap, VG_EINVAL, "%s is required", mp);
        r->nclauses++;
    }
    return 0;
}

static int parse_condition(const json_t *c, struct rule *r, char *err, size_t cap)
{
    static const char *const th[] = {"op", "raise", "clear", "for"};
    static const char *const st[] = {"after", "factor"};
    static const char *const su[] = {"for", "repeats"};
    static const char *const ra[] = {"max", "per"};
    static const char *const nm[] = {"from",   "to",    "nights", "learn",
                                     "window", "ratio", "margin"};
    static const char *const dw[] = {"geofence", "radius_m", "for"};
    static const char *const fc[] = {"op", "value", "horizon", "bound"};
    static const char *const an[] = {"score", "weeks", "min_weeks"};
    static const char *const co[] = {"all", "window"};
    const json_t *v;
    int rc;
    if (!json_is_object(c))
        return vg_errf(err, cap, VG_EINVAL, "condition must be an object");
    switch (r->kind) {
    case RULE_THRESHOLD:
        if (check_members(c, th, VG_ARRAY_LEN(th), "condition", err, cap))
            return VG_EINVAL;
        v = json_object_get(c, "op");
        if (!v)
            return vg_errf(err, cap, VG_EINVAL, "condition.op is required (\">\" or \"<\")");
        if (!json_is_string(v) ||
            (strcmp(json_string_value(v), ">") && strcmp(json_string_value(v), "<")))
            return vg_errf(err, cap, VG_EINVAL, "condition.op must be \">\" or \"<\"");
        r->op = json_string_value(v)[0];
        rc = get_num(c, "raise", "condition.raise", &r->raise, err, cap);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return vg_errf(err, cap, VG_EINVAL, "condition.raise is required");
        rc = get_num(c, "clear", "condition.clear", &r->clear, err, cap);
        if (rc < 0)
            return rc;
        if (rc == 0)
            r->clear = r->raise;
        if (r->op == '>' && r->clear > r->raise)
            return vg_errf(err, cap, VG_EINVAL,
                           "condition.clear must be <= condition.raise for op '>'");
        if (r->op == '<' && r->clear < r->raise)
            return vg_errf(err, cap, VG_EINVAL,
                           "condition.clear must be >= condition.raise for op '<'");
        rc = get_dur(c, "for", "condition.for", &r->for_ms, err, cap);
        return rc < 0 ? rc : 0;
    case RULE_STALE:
        if (check_members(c, st, VG_ARRAY_LEN(st), "condition", err, cap))
            return VG_EINVAL;
        v = json_object_get(c, "after");
        if (json_is_string(v) && !strcmp(json_string_value(v), "cadence")) {
            /* the source's declared cadence (docs/sources.md), times factor */
            r->cadence_factor = 2;
            rc = get_num(c, "factor", "condition.factor", &r->cadence_factor, err, cap);
            if (rc < 0)
                return rc;
            if (!(r->cadence_factor >= 1 && r->cadence_factor <= 100))
                return vg_errf(err, cap, VG_EINVAL, "condition.factor must be from 1 to 100");
            return 0;
        }
        if (json_object_get(c, "factor"))
            return vg_errf(err, cap, VG_EINVAL,
                           "condition.factor goes with \"after\":\"cadence\" only");
        rc = get_dur(c, "after", "condition.after", &r->after_ms, err, cap);
        if (rc < 0)
            return rc;
        if (rc == 0 || r->after_ms <= 0)
            return vg_errf(err, cap, VG_EINVAL,
                           "condition.after is required and must be above 0 (e.g. \"2h\"), or "
                           "\"cadence\"");
        return 0;
    case RULE_STUCK:
        if (check_members(c, su, VG_ARRAY_LEN(su), "condition", err, cap))
            return VG_EINVAL;
        rc = get_dur(c, "for", "condition.for", &r->for_ms, err, cap);
        if (rc < 0)
            return rc;
        r->min_repeats = 3;
        v = json_object_get(c, "repeats");
        if (v) {
            double d = json_is_number(v) ? json_number_value(v) : NAN;
            if (!(d >= 2 && d <= STUCK_MAX_REPEATS) || d != floor(d))
                return vg_errf(err, cap, VG_EINVAL,
                               "condition.repeats must be an integer from 2 to %u",
                               STUCK_MAX_REPEATS);
            r->min_repeats = (uint32_t)d;
        }
        return 0;
    case RULE_RATE:
        if (check_members(c, ra, VG_ARRAY_LEN(ra), "condition", err, cap))
            return VG_EINVAL;
        rc = get_num(c, "max", "condition.max", &r->max_delta, err, cap);
        if (rc < 0)
            return rc;
        if (rc == 0 || !(r->max_delta > 0))
            return vg_errf(err, cap, VG_EINVAL, "condition.max is required and must be above 0");
        r->per_ms = DEFAULT_PER_MS;
        rc = get_dur(c, "per", "condition.per", &r->per_ms, err, cap);
        if (rc < 0)
            return rc;
        if (r->per_ms <= 0)
            return vg_errf(err, cap, VG_EINVAL, "condition.per must be above 0");
        return 0;
    case RULE_NIGHTMIN:
        if (check_members(c, nm, VG_ARRAY_LEN(nm), "condition", err, cap))
            return VG_EINVAL;
        r->night_from = 2 * 60;
        r->night_to = 4 * 60;
        r->nights = 2;
        r->learn = 7;
        r->ratio = 0.5;
        r->margin = 0;
        if (get_hhmm(c, "from", "condition.from", &r->night_from, err, cap) < 0 ||
            get_hhmm(c, "to", "condition.to", &r->night_to, err, cap) < 0)
            return VG_EINVAL;
        if (r->night_from >= r->night_to)
            return vg_errf(err, cap, VG_EINVAL,
                           "condition.from must be before condition.to (one window within a "
                           "night, such as \"02:00\" to \"04:00\")");
        if (get_uint(c, "nights", "condition.nights", 1, 30, &r->nights, err, cap) < 0 ||
            get_uint(c, "learn", "condition.learn", 1, RULE_MAX_NIGHTS, &r->learn, err, cap) < 0)
            return VG_EINVAL;
        r->window = r->learn > 14 ? r->learn : 14;
        rc = get_uint(c, "window", "condition.window", 1, RULE_MAX_NIGHTS, &r->window, err, cap);
        if (rc < 0)
            return rc;
        if (r->window < r->learn)
            return vg_errf(err, cap, VG_EINVAL,
                           "condition.window must be an integer from condition.learn (%u) to %d",
                           r->learn, RULE_MAX_NIGHTS);
        if (get_num(c, "ratio", "condition.ratio", &r->ratio, err, cap) < 0 ||
            get_num(c, "margin", "condition.margin", &r->margin, err, cap) < 0)
            return VG_EINVAL;
        if (!(r->ratio >= 0))
            return vg_errf(err, cap, VG_EINVAL, "condition.ratio must be >= 0");
        if (!(r->margin >= 0))
            return vg_errf(err, cap, VG_EINVAL, "condition.margin must be >= 0");
        return 0;
    case RULE_DWELL:
        if (check_members(c, dw, VG_ARRAY_LEN(dw), "condition", err, cap))
            return VG_EINVAL;
        v = json_object_get(c, "geofence");
        if (!v)
            return vg_errf(err, cap, VG_EINVAL,
                           "condition.geofence is required (a GeoJSON Polygon or MultiPolygon)");
        rc = parse_geofence(v, r, err, cap);
        if (rc)
            return rc;
        r->radius_m = 30;
        rc = get_num(c, "radius_m", "condition.radius_m", &r->radius_m, err, cap);
        if (rc < 0)
            return rc;
        if (!(r->radius_m >= 1 && r->radius_m <= 10000))
            return vg_errf(err, cap, VG_EINVAL, "condition.radius_m must be from 1 to 10000");
        r->for_ms = 30 * 60000;
        rc = get_dur(c, "for", "condition.for", &r->for_ms, err, cap);
        if (rc < 0)
            return rc;
        if (r->for_ms <= 0)
            return vg_errf(err, cap, VG_EINVAL, "condition.for must be above 0");
        return 0;
    case RULE_FORECAST:
        if (check_members(c, fc, VG_ARRAY_LEN(fc), "condition", err, cap))
            return VG_EINVAL;
        v = json_object_get(c, "op");
        if (!v)
            return vg_errf(err, cap, VG_EINVAL,
                           "condition.op is required (\">\", \"<\", \">=\" or \"<=\")");
        r->op = op_parse(v);
        if (!r->op)
            return vg_errf(err, cap, VG_EINVAL,
                           "condition.op must be one of \">\", \"<\", \">=\", \"<=\"");
        rc = get_num(c, "value", "condition.value", &r->raise, err, cap);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return vg_errf(err, cap, VG_EINVAL, "condition.value is required");
        r->clear = r->raise;
        r->horizon_ms = DAY_MS;
        rc = get_dur(c, "horizon", "condition.horizon", &r->horizon_ms, err, cap);
        if (rc < 0)
            return rc;
        if (r->horizon_ms <= 0 || r->horizon_ms > 30 * DAY_MS)
            return vg_errf(err, cap, VG_EINVAL, "condition.horizon must be above 0 and at most 30d");
        v = json_object_get(c, "bound");
        if (v) {
            if (json_is_string(v) && !strcmp(json_string_value(v), "upper"))
                r->upper = 1;
            else if (!json_is_string(v) || strcmp(json_string_value(v), "point"))
                return vg_errf(err, cap, VG_EINVAL,
                               "condition.bound must be \"point\" or \"upper\"");
        }
        return 0;
    case RULE_ANOMALY:
        if (check_members(c, an, VG_ARRAY_LEN(an), "condition", err, cap))
            return VG_EINVAL;
        r->score = 6;
        r->weeks = 4;
        r->min_weeks = 2;
        rc = get_num(c, "score", "condition.score", &r->score, err, cap);
        if (rc < 0)
            return rc;
        if (!(r->score > 0))
            return vg_errf(err, cap, VG_EINVAL, "condition.score must be above 0");
        if (get_uint(c, "weeks", "condition.weeks", 2, 8, &r->weeks, err, cap) < 0)
            return VG_EINVAL;
        rc = get_uint(c, "min_weeks", "condition.min_weeks", 1, 8, &r->min_weeks, err, cap);
        if (rc < 0)
            return rc;
        if (r->min_weeks > r->weeks)
            return vg_errf(err, cap, VG_EINVAL,
                           "condition.min_weeks must be an integer from 1 to condition.weeks (%u)",
                           r->weeks);
        return 0;
    case RULE_COMPOSITE:
        if (check_members(c, co, VG_ARRAY_LEN(co), "condition", err, cap))
            return VG_EINVAL;
        rc = parse_clauses(c, r, err, cap);
        if (rc)
            return rc;
        r->window_ms = 10 * 60000;
        rc = get_dur(c, "window", "condition.window", &r->window_ms, err, cap);
        if (rc < 0)
            return rc;
        if (r->window_ms <= 0)
            return vg_errf(err, cap, VG_EINVAL, "condition.window must be above 0");
        return 0;
    }
    return vg_errf(err, cap, VG_EINVAL, "kind is invalid");
}

static const char *default_message(const struct rule *r)
{
    switch (r->kind) {
    case RULE_THRESHOLD:
        if (!r->for_ms)
            return r->op == '<' ? "{entity}: {attr} {value} below {threshold}"
                                : "{entity}: {attr} {value} above {threshold}";
        return r->op == '<' ? "{entity}: {attr} {value} below {threshold} for {duration}"
                            : "{entity}: {attr} {value} above {threshold} for {duration}";
    case RULE_STALE:
        return r->attr[0] ? "{entity}: no new {attr} value for more than {duration}"
                          : "{entity}: no new value for more than {duration}";
    case RULE_STUCK:
        return "{entity}: {attr} stuck at {value} ({threshold} identical values over at least "
               "{duration})";
    case RULE_RATE:
        return "{entity}: {attr} changed faster than {threshold} per {duration} (now {value})";
    case RULE_NIGHTMIN:
        return "{entity}: possible leak, night minimum of {attr} {value} above {threshold} for "
               "{duration}";
    case RULE_DWELL:
        return "{entity}: stationary in the geofence for more than {duration}";
    case RULE_FORECAST:
        return r->op == RULE_OP_LT || r->op == RULE_OP_LE
                   ? "{entity}: {attr} forecast to fall below {threshold} at {at} (low {value})"
                   : "{entity}: {attr} forecast to exceed {threshold} at {at} (peak {value})";
    case RULE_ANOMALY:
        return "{entity}: {attr} {value} is anomalous (score {score}, limit {threshold})";
    case RULE_COMPOSITE:
        return "{rule}: {threshold} within {duration}";
    }
    return "{rule}: {entity} {attr} {value}";
}

static int parse_obj(const json_t *o, struct rule *r, char *err, size_t cap)
{
    static const char *const allowed[] = {"id",      "name",    "kind",   "severity",
                                          "message", "enabled", "target", "condition"};
    const json_t *v;
    int rc;
    if (!json_is_object(o))
        return vg_errf(err, cap, VG_EINVAL, "a rule must be a JSON object");
    if (check_members(o, allowed, VG_ARRAY_LEN(allowed), "rule", err, cap))
        return VG_EINVAL;
    v = json_object_get(o, "id");
    if (!v)
        return vg_errf(err, cap, VG_EINVAL, "id is required");
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
        !id_ok(json_string_value(v)))
        return vg_errf(err, cap, VG_EINVAL,
                       "id must be 1 to 63 characters among A-Z a-z 0-9 _ . -");
    memcpy(r->id, json_string_value(v), json_string_length(v) + 1);
    rc = get_str(o, "name", "name", r->name, sizeof(r->name), err, cap);
    if (rc < 0)
        return rc;
    v = json_object_get(o, "kind");
    if (!v)
        return vg_errf(err, cap, VG_EINVAL,
                       "kind is required (threshold, stale, stuck, rate, nightmin, dwell, "
                       "forecast, anomaly, composite)");
    for (int k = RULE_THRESHOLD; k <= RULE_KIND_MAX; k++)
        if (json_is_string(v) && !strcmp(json_string_value(v), rule_kind_name(k)))
            r->kind = k;
    if (!r->kind)
        return vg_errf(err, cap, VG_EINVAL,
                       "kind must be one of threshold, stale, stuck, rate, nightmin, dwell, "
                       "forecast, anomaly, composite");
    r->severity = SEV_MEDIUM;
    v = json_object_get(o, "severity");
    if (v) {
        int s = -1;
        for (int i = 0; i < (int)VG_ARRAY_LEN(sev_names); i++)
            if (json_is_string(v) && !strcmp(json_string_value(v), sev_names[i]))
                s = i;
        if (s < 0)
            return vg_errf(err, cap, VG_EINVAL,
                           "severity must be one of informational, low, medium, high, critical");
        r->severity = s;
    }
    r->enabled = 1;
    v = json_object_get(o, "enabled");
    if (v) {
        if (!json_is_boolean(v))
            return vg_errf(err, cap, VG_EINVAL, "enabled must be true or false");
        r->enabled = json_is_true(v);
    }
    v = json_object_get(o, "target");
    if (!v)
        return vg_errf(err, cap, VG_EINVAL, "target is required");
    rc = parse_target(v, r, err, cap);
    if (rc)
        return rc;
    v = json_object_get(o, "condition");
    if (!v)
        return vg_errf(err, cap, VG_EINVAL, "condition is required");
    rc = parse_condition(v, r, err, cap);
    if (rc)
        return rc;
    /* after the condition: the default message of a threshold rule depends on op */
    rc = get_str(o, "message", "message", r->message, sizeof(r->message), err, cap);
    if (rc < 0)
        return rc;
    if (rc == 0)
        snprintf(r->message, sizeof(r->message), "%s", default_message(r));
    return 0;
}

int rule_parse(const char *json, size_t len, struct rule *out, char *err, size_t cap)
{
    json_error_t je;
    json_t *o;
    int rc;
    memset(out, 0, sizeof(*out));
    vg_putf(err, cap, "%s", "");
    o = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &je);
    if (!o)
        return vg_errf(err, cap, VG_EINVAL, "invalid JSON at line %d column %d: %s", je.line,
                       je.column, je.text);
    rc = parse_obj(o, out, err, cap);
    json_decref(o);
    if (rc) {
        rule_release(out);
        memset(out, 0, sizeof(*out));
        return VG_EINVAL;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Canonical JSON                                                                              */

/* ms as the largest unit that divides it exactly: "1d", "2h", "30m", "90s", "1500ms". */
static void fmt_duration(int64_t ms, char *out, size_t cap)
{
    static const struct {
        int64_t ms;
        const char *unit;
    } units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
    if (ms != 0)
        for (size_t i = 0; i < VG_ARRAY_LEN(units); i++)
            if (ms % units[i].ms == 0) {
                snprintf(out, cap, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
                return;
            }
    snprintf(out, cap, ms == 0 ? "%llds" : "%lldms", (long long)ms);
}

static void put_key(struct buf *b, const char *k)
{
    buf_json_str(b, k, strlen(k));
    buf_putc(b, ':');
}

static void put_str(struct buf *b, const char *k, const char *v)
{
    put_key(b, k);
    buf_json_str(b, v, strlen(v));
}

static void put_dur(struct buf *b, const char *k, int64_t ms)
{
    char d[32];
    fmt_duration(ms, d, sizeof(d));
    put_str(b, k, d);
}

char *rule_to_json(const struct rule *r)
{
    struct buf b;
    int first = 1;
    buf_init(&b, 0);
    buf_putc(&b, '{');
    put_str(&b, "id", r->id);
    buf_putc(&b, ',');
    if (r->name[0]) { /* "" (no name) has no JSON form: the member is left out */
        put_str(&b, "name", r->name);
        buf_putc(&b, ',');
    }
    put_str(&b, "kind", rule_kind_name(r->kind));
    buf_putc(&b, ',');
    put_str(&b, "severity", rule_severity_name(r->severity));
    buf_putc(&b, ',');
    put_str(&b, "message", r->message);
    buf_puts(&b, r->enabled ? ",\"enabled\":true" : ",\"enabled\":false");
    buf_puts(&b, ",\"target\":{");
    if (r->type[0]) {
        put_str(&b, "type", r->type);
        first = 0;
    }
    if (r->attr[0]) {
        if (!first)
            buf_putc(&b, ',');
        put_str(&b, "attr", r->attr);
        first = 0;
    }
    if (r->nids) {
        if (!first)
            buf_putc(&b, ',');
        put_key(&b, "ids");
        buf_putc(&b, '[');
        for (uint32_t i = 0; i < r->nids; i++) {
            if (i)
                buf_putc(&b, ',');
            buf_json_str(&b, r->ids[i], strlen(r->ids[i]));
        }
        buf_putc(&b, ']');
        first = 0;
    }
    if (r->nwhere) {
        if (!first)
            buf_putc(&b, ',');
        put_key(&b, "where");
        buf_putc(&b, '{');
        for (uint32_t i = 0; i < r->nwhere; i++) {
            if (i)
                buf_putc(&b, ',');
            buf_json_str(&b, r->where[i].key, r->where[i].klen);
            buf_putc(&b, ':');
            buf_json_str(&b, r->where[i].val, r->where[i].vlen);
        }
        buf_putc(&b, '}');
        first = 0;
    }
    if (r->npoly) {
        if (!first)
            buf_putc(&b, ',');
        buf_puts(&b, "\"area\":{\"type\":\"Polygon\",\"coordinates\":[[");
        for (uint32_t i = 0; i < r->npoly; i++) {
            buf_puts(&b, i ? ",[" : "[");
            buf_json_double(&b, r->poly[2 * i]);
            buf_putc(&b, ',');
            buf_json_double(&b, r->poly[2 * i + 1]);
            buf_putc(&b, ']');
        }
        buf_puts(&b, "]]}");
    }
    buf_puts(&b, "},\"condition\":{");
    switch (r->kind) {
    case RULE_THRESHOLD:
        put_str(&b, "op", r->op == '<' ? "<" : ">");
        buf_puts(&b, ",\"raise\":");
        buf_json_double(&b, r->raise);
        buf_puts(&b, ",\"clear\":");
        buf_json_double(&b, r->clear);
        buf_putc(&b, ',');
        put_dur(&b, "for", r->for_ms);
        break;
    case RULE_STALE:
        if (r->cadence_factor > 0) {
            buf_puts(&b, "\"after\":\"cadence\",\"factor\":");
            buf_json_double(&b, r->cadence_factor);
        } else {
            put_dur(&b, "after", r->after_ms);
        }
        break;
    case RULE_STUCK:
        put_dur(&b, "for", r->for_ms);
        buf_puts(&b, ",\"repeats\":");
        buf_u64(&b, r->min_repeats);
        break;
    case RULE_RATE:
        buf_puts(&b, "\"max\":");
        buf_json_double(&b, r->max_delta);
        buf_putc(&b, ',');
        put_dur(&b, "per", r->per_ms);
        break;
    case RULE_NIGHTMIN:
        buf_printf(&b, "\"from\":\"%02d:%02d\",\"to\":\"%02d:%02d\"", r->night_from / 60,
                   r->night_from % 60, r->night_to / 60, r->night_to % 60);
        buf_printf(&b, ",\"nights\":%u,\"learn\":%u,\"window\":%u,\"ratio\":", r->nights,
                   r->learn, r->window);
        buf_json_double(&b, r->ratio);
        buf_puts(&b, ",\"margin\":");
        buf_json_double(&b, r->margin);
        break;
    case RULE_DWELL: {
        const double *p = r->geo;
        uint32_t ring = 0;
        buf_printf(&b, "\"geofence\":{\"type\":\"%s\",\"coordinates\":[",
                   r->geo_multi ? "MultiPolygon" : "Polygon");
        for (uint32_t k = 0; k < r->ngeo_poly; k++) {
            if (k)
                buf_putc(&b, ',');
            if (r->geo_multi)
                buf_putc(&b, '[');
            for (uint32_t j = 0; j < r->geo_poly[k]; j++, ring++) {
                buf_puts(&b, j ? ",[" : "[");
                for (uint32_t i = 0; i < r->geo_ring[ring]; i++, p += 2) {
                    buf_puts(&b, i ? ",[" : "[");
                    buf_json_double(&b, p[0]);
                    buf_putc(&b, ',');
                    buf_json_double(&b, p[1]);
                    buf_putc(&b, ']');
                }
                buf_putc(&b, ']');
            }
            if (r->geo_multi)
                buf_putc(&b, ']');
        }
        buf_puts(&b, "]},\"radius_m\":");
        buf_json_double(&b, r->radius_m);
        buf_putc(&b, ',');
        put_dur(&b, "for", r->for_ms);
        break;
    }
    case RULE_FORECAST:
        put_str(&b, "op", rule_op_name(r->op));
        buf_puts(&b, ",\"value\":");
        buf_json_double(&b, r->raise);
        buf_putc(&b, ',');
        put_dur(&b, "horizon", r->horizon_ms);
        buf_puts(&b, r->upper ? ",\"bound\":\"upper\"" : ",\"bound\":\"point\"");
        break;
    case RULE_ANOMALY:
        buf_puts(&b, "\"score\":");
        buf_json_double(&b, r->score);
        buf_printf(&b, ",\"weeks\":%u,\"min_weeks\":%u", r->weeks, r->min_weeks);
        break;
    case RULE_COMPOSITE:
        buf_puts(&b, "\"all\":[");
        for (uint32_t i = 0; i < r->nclauses; i++) {
            const struct rule_clause *c = &r->clauses[i];
            buf_puts(&b, i ? ",{" : "{");
            put_str(&b, "type", c->type);
            buf_putc(&b, ',');
            put_str(&b, "attr", c->attr);
            buf_putc(&b, ',');
            put_str(&b, "op", rule_op_name(c->op));
            buf_puts(&b, ",\"value\":");
            buf_json_double(&b, c->value);
            buf_putc(&b, '}');
        }
        buf_puts(&b, "],");
        put_dur(&b, "window", r->window_ms);
        break;
    }
    buf_puts(&b, "}}");
    return buf_detach(&b, NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* Matching                                                                                    */

/* Where is (x, y) against the ring poly[0..n) (closed or not)? 2: on an edge; 1: inside (the
** even-odd rule, ray casting towards +x); 0: outside. */
static int ring_locate(const double *poly, uint32_t n, double x, double y)
{
    int in = 0;
    for (uint32_t i = 0, j = n - 1; i < n; j = i++) {
        double xi = poly[2 * i], yi = poly[2 * i + 1], xj = poly[2 * j], yj = poly[2 * j + 1];
        /* on the segment [j, i]: collinear and within its bounding box */
        double cross = (xj - xi) * (y - yi) - (yj - yi) * (x - xi);
        if (cross == 0 && x >= fmin(xi, xj) && x <= fmax(xi, xj) && y >= fmin(yi, yj) &&
            y <= fmax(yi, yj))
            return 2;
        if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi)
            in = !in;
    }
    return in;
}

/* Is (x, y) inside the ring or on its boundary? */
static int point_in_ring(const double *poly, uint32_t n, double x, double y)
{
    return ring_locate(poly, n, x, y) != 0;
}

/* Is (lon, lat) in one polygon of the dwell geofence: inside (or on) its outer ring and not
** strictly inside one of its holes (a hole's boundary belongs to the polygon)? */
static int in_geofence(const struct rule *r, double lon, double lat)
{
    const double *p = r->geo;
    uint32_t ring = 0;
    if (!r->ngeo || lon < r->geo_bbox[0] || lat < r->geo_bbox[1] || lon > r->geo_bbox[2] ||
        lat > r->geo_bbox[3])
        return 0;
    for (uint32_t k = 0; k < r->ngeo_poly; k++) {
        int in = 0;
        for (uint32_t j = 0; j < r->geo_poly[k]; j++, ring++) {
            uint32_t n = r->geo_ring[ring];
            if (j == 0)
                in = ring_locate(p, n, lon, lat) != 0;
            else if (in && ring_locate(p, n, lon, lat) == 1)
                in = 0;
            p += 2 * (size_t)n;
        }
        if (in)
            return 1;
    }
    return 0;
}

int rule_clause_index(const struct rule *r, const char *type, const char *attr, int from)
{
    if (!type || !attr || from < 0)
        return -1;
    for (uint32_t i = (uint32_t)from; i < r->nclauses; i++)
        if (!strcmp(r->clauses[i].type, type) && !strcmp(r->clauses[i].attr, attr))
            return (int)i;
    return -1;
}

int rule_clause_holds(const struct rule_clause *c, double v)
{
    return rule_op_holds(c->op, v, c->value);
}

int rule_matches(const struct rule *r, const char *type, const char *entity, const char *attr,
                 const struct vg_tag *tags, uint32_t ntags, const double *lonlat)
{
    if (!r->enabled)
        return 0;
    if (r->type[0] && (!type || strcmp(r->type, type)))
        return 0;
    if (r->kind == RULE_COMPOSITE) {
        if (rule_clause_index(r, type, attr, 0) < 0)
            return 0;
    } else if (r->attr[0] && (!attr || strcmp(r->attr, attr))) {
        return 0;
    }
    if (r->nids) {
        uint32_t i;
        if (!entity)
            return 0;
        for (i = 0; i < r->nids; i++)
            if (!strcmp(r->ids[i], entity))
                break;
        if (i == r->nids)
            return 0;
    }
    for (uint32_t w = 0; w < r->nwhere; w++) {
        const struct vg_tag *want = &r->where[w];
        uint32_t i;
        for (i = 0; i < ntags; i++)
            if (tags[i].klen == want->klen && !memcmp(tags[i].key, want->key, want->klen))
                break;
        if (i == ntags || tags[i].vlen != want->vlen ||
            memcmp(tags[i].val, want->val, want->vlen))
            return 0;
    }
    if (r->npoly) {
        if (!lonlat || !point_in_ring(r->poly, r->npoly, lonlat[0], lonlat[1]))
            return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Evaluation                                                                                  */

/* a - b without overflow (saturated). */
static int64_t sub_sat(int64_t a, int64_t b)
{
    int64_t d;
    if (__builtin_sub_overflow(a, b, &d))
        return b > 0 ? INT64_MIN : INT64_MAX;
    return d;
}

static enum rule_event eval_threshold(const struct rule_core *r, struct rule_state *st, int64_t ts,
                                      double v)
{
    int cond = r->op == '<' ? v < r->raise : v > r->raise;
    if (st->active) {
        if (r->op == '<' ? v >= r->clear : v <= r->clear) {
            st->active = 0;
            st->pending = 0;
            return RULE_CLEAR;
        }
        return RULE_NONE;
    }
    if (!cond) {
        st->pending = 0;
        return RULE_NONE;
    }
    if (!st->pending) {
        st->pending = 1;
        st->pending_since = ts;
    }
    if (sub_sat(ts, st->pending_since) >= r->for_ms) {
        st->active = 1;
        st->pending = 0;
        st->trigger_value = v;
        st->raised_at = ts;
        return RULE_RAISE;
    }
    return RULE_NONE;
}

static enum rule_event eval_stuck(const struct rule_core *r, struct rule_state *st, int64_t ts,
                                  double v)
{
    enum rule_event ev = RULE_NONE;
    if (st->has_last && v == st->last_value) {
        if (st->repeats < UINT32_MAX)
            st->repeats++;
    } else {
        st->repeats = 1;
        st->repeat_since = ts;
        if (st->active) {
            st->active = 0;
            return RULE_CLEAR;
        }
    }
    if (!st->active && st->repeats >= r->min_repeats &&
        sub_sat(ts, st->repeat_since) >= r->for_ms) {
        st->active = 1;
        st->trigger_value = v;
        st->raised_at = ts;
        ev = RULE_RAISE;
    }
    return ev;
}

static enum rule_event eval_rate(const struct rule_core *r, struct rule_state *st, int64_t ts, double v)
{
    double rate;
    if (!st->has_last)
        return RULE_NONE;
    /* ts > last_ts here, so the (saturated) interval is >= 1 ms */
    rate = fabs(v - st->last_value) * (double)r->per_ms / (double)sub_sat(ts, st->last_ts);
    if (!st->active && rate > r->max_delta) {
        st->active = 1;
        st->trigger_value = v;
        st->raised_at = ts;
        return RULE_RAISE;
    }
    if (st->active && rate <= r->max_delta) {
        st->active = 0;
        return RULE_CLEAR;
    }
    return RULE_NONE;
}

/* a + b saturated. */
static int64_t add_sat(int64_t a, int64_t b)
{
    int64_t s;
    if (__builtin_add_overflow(a, b, &s))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return s;
}

static enum rule_event raise_now(struct rule_state *st, int64_t at, double v)
{
    st->active = 1;
    st->trigger_value = v;
    st->raised_at = at;
    return RULE_RAISE;
}

/* The local date (days since 1970-01-01) and minute of the day of ts in the process time zone
** (clock_local_offset_ms). Returns 0, or -1 when ts is out of range. */
static int local_day_min(int64_t ts, int32_t *day, int *min)
{
    if (ts < -(1LL << 50) || ts > (1LL << 50)) /* +-35000 years: days fit in int32 */
        return -1;
    int64_t local = ts + clock_local_offset_ms(ts);
    int64_t d = clock_floor_div(local, 86400000LL);
    *day = (int32_t)d;
    *min = (int)((local - d * 86400000LL) / 60000);
    return 0;
}

/* Median of the ring's entries (any order). */
static double night_median(const struct rule_night *n)
{
    float a[RULE_MAX_NIGHTS];
    uint32_t c = n->count;
    memcpy(a, n->minima, c * sizeof(float));
    for (uint32_t i = 1; i < c; i++) {
        float x = a[i];
        uint32_t j = i;
        while (j > 0 && a[j - 1] > x) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = x;
    }
    return c % 2 ? a[c / 2] : ((double)a[c / 2 - 1] + a[c / 2]) / 2;
}

static void night_push(const struct rule *r, struct rule_night *n, double m)
{
    uint32_t w = r->window ? r->window : 1;
    /* clamp: a double out of float range is undefined behaviour when converted */
    n->minima[n->head % w] = (float)fmax(-FLT_MAX, fmin(FLT_MAX, m));
    n->head = (uint8_t)((n->head + 1u) % w);
    if (n->count < w)
        n->count++;
}

/* The open night ends (at: the closing value's or tick's time). */
static enum rule_event night_close(const struct rule *r, struct rule_state *st, int64_t at)
{
    struct rule_night *n = &st->u.night;
    double m = n->cur_min;
    n->open = 0;
    n->closed_any = 1;
    n->closed_day = n->day;
    if (n->count < r->learn) {
        n->level = NAN;
        night_push(r, n, m);
        return RULE_NONE;
    }
    n->level = night_median(n) * (1 + r->ratio) + r->margin;
    if (m > n->level) { /* excess: kept out of the baseline */
        if (n->streak < UINT8_MAX)
            n->streak++;
        if (!st->active && n->streak >= r->nights)
            return raise_now(st, at, m);
        return RULE_NONE;
    }
    n->streak = 0;
    night_push(r, n, m);
    if (st->active) {
        st->active = 0;
        return RULE_CLEAR;
    }
    return RULE_NONE;
}

static enum rule_event eval_nightmin(const struct rule *r, struct rule_state *st, int64_t ts,
                                     double v)
{
    struct rule_night *n = &st->u.night;
    enum rule_event ev = RULE_NONE;
    int32_t day;
    int min, in;
    if (local_day_min(ts, &day, &min))
        return RULE_NONE;
    in = min >= r->night_from && min < r->night_to;
    /* ts only grows: a value outside the open night's window comes after it */
    if (n->open && !(in && day == n->day))
        ev = night_close(r, st, ts);
    if (in && n->open) {
        n->cur_min = fmin(n->cur_min, v);
    } else if (in && (!n->closed_any || day > n->closed_day)) {
        n->open = 1;
        n->day = day;
        n->cur_min = v;
    }
    return ev;
}

/* Equirectangular distance in metres: accurate to well under 1% over the few km of a dwell
** radius away from the poles. */
static double dist_m(double lon1, double lat1, double lon2, double lat2)
{
    double k = M_PI / 180, dlon = lon2 - lon1, x, y;
    if (dlon > 180)
        dlon -= 360;
    else if (dlon < -180)
        dlon += 360;
    x = dlon * k * cos((lat1 + lat2) / 2 * k);
    y = (lat2 - lat1) * k;
    return EARTH_RADIUS_M * sqrt(x * x + y * y);
}

enum rule_event rule_on_position(const struct rule *r, struct rule_state *st, int64_t ts,
                                 double lon, double lat)
{
    struct rule_dwell *d = &st->u.dwell;
    if (r->kind != RULE_DWELL || !(lon >= -180 && lon <= 180) || !(lat >= -90 && lat <= 90) ||
        (st->has_last && ts <= st->last_ts))
        return RULE_NONE;
    st->has_last = 1;
    st->last_ts = ts;
    d->lon = lon;
    d->lat = lat;
    if (!in_geofence(r, lon, lat)) {
        d->anchored = 0;
    } else if (!d->anchored) {
        /* no CLEAR here: active without an anchor is an alert restored after a restart, and
        ** this fix tells nothing about a move */
        d->anchored = 1;
        d->anchor_lon = lon;
        d->anchor_lat = lat;
        d->anchor_ts = ts;
        return RULE_NONE;
    } else if (dist_m(d->anchor_lon, d->anchor_lat, lon, lat) > r->radius_m) {
        d->anchor_lon = lon;
        d->anchor_lat = lat;
        d->anchor_ts = ts;
    } else {
        int64_t held = sub_sat(ts, d->anchor_ts);
        if (!st->active && held >= r->for_ms)
            return raise_now(st, add_sat(d->anchor_ts, r->for_ms), (double)held / 60000);
        return RULE_NONE;
    }
    if (st->active) { /* left the geofence, or moved beyond radius_m */
        st->active = 0;
        return RULE_CLEAR;
    }
    return RULE_NONE;
}

enum rule_event rule_on_forecast(const struct rule *r, struct rule_state *st, int64_t ts,
                                 int crosses, int64_t crossing_at, double peak)
{
    if (r->kind != RULE_FORECAST || (st->has_last && ts <= st->last_ts) ||
        (crosses && !isfinite(peak)))
        return RULE_NONE;
    st->has_last = 1;
    st->last_ts = ts;
    if (isfinite(peak))
        st->last_value = peak;
    if (crosses) {
        st->u.crossing_at = crossing_at;
        if (!st->active)
            return raise_now(st, ts, peak);
    } else if (st->active) {
        st->active = 0;
        return RULE_CLEAR;
    }
    return RULE_NONE;
}

enum rule_event rule_on_score(const struct rule *r, struct rule_state *st, int64_t ts, double v,
                              double score)
{
    if (r->kind != RULE_ANOMALY || isnan(v) || isnan(score) ||
        (st->has_last && ts <= st->last_ts))
        return RULE_NONE;
    st->has_last = 1;
    st->last_ts = ts;
    st->last_value = v;
    if (!st->active && score >= r->score) {
        st->u.score = score;
        return raise_now(st, ts, v);
    }
    if (st->active && score < r->score / 2) {
        st->active = 0;
        return RULE_CLEAR;
    }
    return RULE_NONE;
}

enum rule_event rule_on_composite(const struct rule *r, struct rule_state *st, int64_t now,
                                  const int64_t *last_true)
{
    uint32_t held = 0;
    if (r->kind != RULE_COMPOSITE || !last_true || r->nclauses == 0)
        return RULE_NONE;
    for (uint32_t i = 0; i < r->nclauses; i++)
        if (last_true[i] != 0 && sub_sat(now, last_true[i]) <= r->window_ms)
            held++;
    st->u.held = held;
    st->has_last = 1;
    st->last_ts = now;
    st->last_value = held;
    if (!st->active && held == r->nclauses)
        return raise_now(st, now, held);
    if (st->active && held < r->nclauses) {
        st->active = 0;
        return RULE_CLEAR;
    }
    return RULE_NONE;
}

/* A value accepted by rule_on_core or rule_on_value becomes the newest seen. */
static enum rule_event seen(struct rule_state *st, int64_t ts, double v, enum rule_event ev)
{
    st->has_last = 1;
    st->last_ts = ts;
    st->last_value = v;
    return ev;
}

enum rule_event rule_on_core(const struct rule_core *c, struct rule_state *st, int64_t ts,
                             double v)
{
    enum rule_event ev = RULE_NONE;
    if (c->kind != RULE_THRESHOLD && c->kind != RULE_STALE && c->kind != RULE_STUCK &&
        c->kind != RULE_RATE)
        return RULE_NONE;
    if (isnan(v) || (st->has_last && ts <= st->last_ts))
        return RULE_NONE;
    switch (c->kind) {
    case RULE_THRESHOLD:
        ev = eval_threshold(c, st, ts, v);
        break;
    case RULE_STALE:
        if (st->active) {
            st->active = 0;
            ev = RULE_CLEAR;
        }
        break;
    case RULE_STUCK:
        ev = eval_stuck(c, st, ts, v);
        break;
    default:
        ev = eval_rate(c, st, ts, v);
        break;
    }
    return seen(st, ts, v, ev);
}

enum rule_event rule_on_value(const struct rule *r, struct rule_state *st, int64_t ts, double v)
{
    if (r->kind != RULE_NIGHTMIN)
        return rule_on_core(&r->core, st, ts, v);
    if (isnan(v) || (st->has_last && ts <= st->last_ts))
        return RULE_NONE;
    return seen(st, ts, v, eval_nightmin(r, st, ts, v));
}

enum rule_event rule_on_tick(const struct rule *r, struct rule_state *st, int64_t now)
{
    if (r->kind == RULE_NIGHTMIN) {
        int32_t day;
        int min;
        if (!st->u.night.open || local_day_min(sub_sat(now, HOUR_MS), &day, &min))
            return RULE_NONE;
        if (day > st->u.night.day || (day == st->u.night.day && min >= r->night_to))
            return night_close(r, st, now);
        return RULE_NONE;
    }
    if (r->kind == RULE_DWELL) {
        const struct rule_dwell *d = &st->u.dwell;
        int64_t held = sub_sat(now, d->anchor_ts);
        if (st->active || !d->anchored || held < r->for_ms ||
            sub_sat(now, st->last_ts) > 2 * r->for_ms)
            return RULE_NONE;
        return raise_now(st, add_sat(d->anchor_ts, r->for_ms), (double)held / 60000);
    }
    return rule_on_tick_core(&r->core, st, now);
}

enum rule_event rule_on_tick_core(const struct rule_core *c, struct rule_state *st, int64_t now)
{
    if (c->kind != RULE_STALE || st->active || !st->has_last || c->after_ms <= 0)
        return RULE_NONE;
    if (sub_sat(now, st->last_ts) > c->after_ms) {
        st->active = 1;
        st->trigger_value = st->last_value;
        st->raised_at = now;
        return RULE_RAISE;
    }
    return RULE_NONE;
}

/* ------------------------------------------------------------------------------------------ */
/* Messages                                                                                    */

struct out {
    char *p;
    size_t cap, len;
    int full;
};

static void out_put(struct out *o, const char *s, size_t n)
{
    if (o->full)
        return;
    if (o->len + n >= o->cap) {
        n = o->cap - 1 - o->len;
        o->full = 1;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

void rule_message(const struct rule *r, const struct rule_state *st, const char *entity,
                  const char *attr, char *out, size_t cap)
{
    struct out o = {out, cap, 0, 0};
    const char *s = r->message;
    char num[64];
    char big[RULE_MAX_CLAUSES * 320];
    if (!out || cap == 0)
        return;
    if (!entity)
        entity = "";
    if (!attr)
        attr = r->attr;
    while (*s && !o.full) {
        const char *open = strchr(s, '{'), *close;
        const char *rep = NULL;
        size_t kl;
        if (!open) {
            out_put(&o, s, strlen(s));
            break;
        }
        out_put(&o, s, (size_t)(open - s));
        close = strchr(open, '}');
        if (!close) {
            out_put(&o, open, strlen(open));
            break;
        }
        kl = (size_t)(close - open - 1);
#define IS(k) (kl == sizeof(k) - 1 && !memcmp(open + 1, k, kl))
        if (IS("rule")) {
            rep = r->name[0] ? r->name : r->id;
        } else if (IS("entity")) {
            rep = entity;
        } else if (IS("attr")) {
            rep = attr;
        } else if (IS("value")) {
            double v = !st ? NAN : st->active ? st->trigger_value : st->last_value;
            snprintf(num, sizeof(num), "%.6g", v);
            rep = num;
        } else if (IS("threshold")) {
            rep = num;
            if (r->kind == RULE_RATE) {
                snprintf(num, sizeof(num), "%.6g", r->max_delta);
            } else if (r->kind == RULE_STUCK) {
                snprintf(num, sizeof(num), "%u", r->min_repeats);
            } else if (r->kind == RULE_NIGHTMIN) {
                snprintf(num, sizeof(num), "%.6g", st ? st->u.night.level : NAN);
            } else if (r->kind == RULE_DWELL) {
                snprintf(num, sizeof(num), "%.6g m", r->radius_m);
            } else if (r->kind == RULE_ANOMALY) {
                snprintf(num, sizeof(num), "%.6g", r->score);
            } else if (r->kind == RULE_COMPOSITE) {
                size_t bl = 0;
                big[0] = '\0';
                for (uint32_t i = 0; i < r->nclauses && bl < sizeof(big); i++) {
                    int w = snprintf(big + bl, sizeof(big) - bl, "%s%s %s %.6g",
                                     i ? " and " : "", r->clauses[i].attr,
                                     rule_op_name(r->clauses[i].op), r->clauses[i].value);
                    bl += w > 0 ? (size_t)w : 0;
                }
                rep = big;
            } else {
                snprintf(num, sizeof(num), "%.6g", r->raise);
            }
        } else if (IS("duration")) {
            rep = num;
            if (r->kind == RULE_NIGHTMIN)
                snprintf(num, sizeof(num), "%u night%s", r->nights, r->nights > 1 ? "s" : "");
            else if (r->kind == RULE_ANOMALY)
                snprintf(num, sizeof(num), "%uw", r->weeks);
            else if (r->kind == RULE_STALE && r->cadence_factor > 0)
                snprintf(num, sizeof(num), "%g times its source's cadence", r->cadence_factor);
            else
                fmt_duration(r->kind == RULE_STALE       ? r->after_ms
                             : r->kind == RULE_RATE      ? r->per_ms
                             : r->kind == RULE_FORECAST  ? r->horizon_ms
                             : r->kind == RULE_COMPOSITE ? r->window_ms
                                                         : r->for_ms,
                             num, sizeof(num));
        } else if (IS("at") && r->kind == RULE_FORECAST) {
            if (st)
                clock_format_rfc3339(st->u.crossing_at, num, sizeof(num));
            else
                snprintf(num, sizeof(num), "?");
            rep = num;
        } else if (IS("score") && r->kind == RULE_ANOMALY) {
            snprintf(num, sizeof(num), "%.6g", st && st->active ? st->u.score : NAN);
            rep = num;
        }
#undef IS
        if (rep) {
            out_put(&o, rep, strlen(rep));
            s = close + 1;
        } else {
            /* not a placeholder: keep the '{' and go on after it */
            out_put(&o, open, 1);
            s = open + 1;
        }
    }
    /* do not leave half a UTF-8 sequence at a truncation point */
    if (o.full) {
        size_t i = o.len, back = 0;
        while (i > 0 && back < 4 && ((unsigned char)out[i - 1] & 0xC0) == 0x80) {
            i--;
            back++;
        }
        if (i > 0 && ((unsigned char)out[i - 1] & 0xC0) == 0xC0) {
            unsigned char lead = (unsigned char)out[i - 1];
            size_t need = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : 1;
            if (back < need)
                o.len = i - 1;
        }
    }
    out[o.len] = '\0';
}
