/*
** ngsild/geo.c: GeoJSON geometries, the georel grammar, spatial predicates and the grid index
** behind NGSI-LD geo-queries (ETSI GS CIM 009 cl. 4.10). Contract: ngsild/geo.h.
** Owns: struct geo_shape (positions, rings and parts packed in one allocation) and
** struct geo_index (entries, a hash of grid cells, a handle map and an overflow list).
**
** Representation. Every geometry is a list of parts, each a list of rings, each a run of
** [lon, lat] positions in xy[]: a Point is 1 part of 1 ring of 1 position, a MultiPoint n such
** parts, a LineString 1 part of 1 ring (the line), a Polygon 1 part whose first ring is the
** exterior and the others holes. The dimension (0 points, 1 lines, 2 polygons) is one per shape
** since GeometryCollection is refused. Altitudes are parsed, checked and dropped.
**
** Predicates (planar in lon/lat degrees, as RFC 7946 prescribes), "E rel Q" for entity E and
** query Q, multi-geometries taken as the union of their parts. DE-9IM, loosely:
**   intersects  some point in common (boundaries count: a point on a polygon edge intersects);
**   disjoint    not intersects;
**   within      every point of E lies in Q (interior or boundary) and the interiors meet, so a
**               line lying along a polygon's edge is not within it, a point on it neither;
**   contains    Q within E;
**   overlaps    same dimension, the interiors meet in that dimension (an area for polygons, a
**               common stretch for lines, a common point for points) and neither covers the
**               other; polygons that only touch along an edge do not overlap;
**   equals      same type and the same positions in the same order; polygon rings also compare
**               equal when they start at another vertex or run the other way round. Altitudes
**               are ignored. MultiPoint order matters (NEEDSWORK: set semantics).
** Boundary tests use a tolerance of 1e-9 degree (~0.1 mm); the "interior side" probes used for
** holes and shared edges step 1e-8 to 1e-7 degree off an edge, so features finer than ~1 cm may
** be judged loosely. Segment/segment intersection uses orientation signs, plus the same
** tolerance for an endpoint touching the other segment.
** Cost is O(n*m) in the numbers of positions, pruned by per-ring bounding boxes.
**
** Distances (near): great-circle metres on a sphere of radius 6,371,008.8 m. Point to point is
** the haversine formula. Point to segment finds the closest point of the segment in a local
** equirectangular projection centred on the point (x scaled by cos(latitude)), then takes the
** haversine distance to that point: within 0.5% of the true minimum under 50 km, and never less
** than the true distance of that point. Segment to segment is the least of the four endpoint to
** segment distances (segments that cross have distance 0). 0 when the geometries intersect.
**
** Index: a uniform grid of 0.01 degree cells. A hash table maps a cell (x, y) to a small vector of
** entry numbers; an entry whose box spans more than 64 cells lives in an overflow list scanned
** by every search. Searches report an entry only from the first cell of the overlap between its
** cell range and the query's (the reference-point method), so they write nothing and concurrent
** searches under a shared lock are safe. A search covering more cells than are occupied walks
** the occupied cells instead of the query's range.
*/
#include "ngsild/geo.h"

#include <float.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EARTH_R 6371008.8
#define DEG2RAD (3.14159265358979323846 / 180.0)
#define TOL 1e-9           /* boundary tolerance, degrees */
#define QUERY_TEXT_CAP (1u << 20)
#define EQ_BUDGET (1u << 24) /* position comparisons allowed for ring rotation matching */

struct geo_ring {
    uint32_t off, n; /* positions xy[2*off .. 2*(off+n)) */
    double bb[4];
};

struct geo_part {
    uint32_t ring0, nrings;
    double bb[4];
};

struct geo_shape {
    enum geo_type type;
    int dim;
    uint32_t npos, nrings, nparts;
    uint32_t cappos, caprings, capparts; /* while parsing */
    double *xy;
    struct geo_ring *rings;
    struct geo_part *parts;
    double bb[4];
};

/* ---------------------------------------------------------------------------------------------
** Parsing
*/

struct pctx {
    struct geo_shape *s;
    char *err;
    size_t cap;
    int path[4];
    int depth;
};

static const char *const type_names[] = {
    NULL, "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
};

static void seterr(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;

    if (!err || cap == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* "coordinates[1][0]" for the current path. */
static void path_str(const struct pctx *p, char *buf, size_t cap)
{
    size_t used = 0;
    int i, n;

    n = snprintf(buf, cap, "coordinates");
    used = n > 0 ? (size_t)n : 0;
    for (i = 0; i < p->depth && used < cap; i++) {
        n = snprintf(buf + used, cap - used, "[%d]", p->path[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static int perr(const struct pctx *p, int rc, const char *what)
{
    char path[96];

    path_str(p, path, sizeof(path));
    seterr(p->err, p->cap, "%s: %s", path, what);
    return rc;
}

static void bb_empty(double b[4])
{
    b[0] = b[1] = DBL_MAX;
    b[2] = b[3] = -DBL_MAX;
}

static void bb_add(double b[4], const double *pt)
{
    if (pt[0] < b[0])
        b[0] = pt[0];
    if (pt[1] < b[1])
        b[1] = pt[1];
    if (pt[0] > b[2])
        b[2] = pt[0];
    if (pt[1] > b[3])
        b[3] = pt[1];
}

static void bb_union(double b[4], const double o[4])
{
    bb_add(b, o);
    bb_add(b, o + 2);
}

static int bb_meet(const double a[4], const double b[4], double tol)
{
    return a[0] <= b[2] + tol && b[0] <= a[2] + tol && a[1] <= b[3] + tol && b[1] <= a[3] + tol;
}

static int parse_position(struct pctx *p, const json_t *v)
{
    char buf[128];
    double c[2];
    size_t n, i;
    struct geo_shape *s = p->s;

    if (!json_is_array(v) || json_array_size(v) < 2)
        return perr(p, VG_EINVAL, "expected a [longitude, latitude] position");
    n = json_array_size(v);
    if (n > 3)
        return perr(p, VG_EINVAL,
                    "a position has at most 3 elements (longitude, latitude, altitude)");
    for (i = 0; i < n; i++) {
        const json_t *e = json_array_get(v, i);
        double d;
        d = json_is_number(e) ? json_number_value(e) : NAN;
        if (!isfinite(d)) {
            snprintf(buf, sizeof(buf), "%s is not a %snumber",
                     i == 0 ? "longitude" : i == 1 ? "latitude" : "altitude",
                     json_is_number(e) ? "finite " : "");
            if (p->depth < 4)
                p->path[p->depth++] = (int)i; /* name the element */
            return perr(p, VG_EINVAL, buf);
        }
        if (i < 2)
            c[i] = d;
    }
    if (c[0] < -180.0 || c[0] > 180.0) {
        snprintf(buf, sizeof(buf), "longitude %.10g out of range [-180, 180]", c[0]);
        return perr(p, VG_EINVAL, buf);
    }
    if (c[1] < -90.0 || c[1] > 90.0) {
        snprintf(buf, sizeof(buf), "latitude %.10g out of range [-90, 90]", c[1]);
        return perr(p, VG_EINVAL, buf);
    }
    if (s->npos >= GEO_MAX_POSITIONS) {
        snprintf(buf, sizeof(buf), "more than %d positions", GEO_MAX_POSITIONS);
        return perr(p, VG_ETOOBIG, buf);
    }
    if (s->npos == s->cappos) {
        s->cappos = s->cappos ? 2 * s->cappos : 16;
        s->xy = vg_realloc(s->xy, (size_t)s->cappos * 2 * sizeof(double));
    }
    s->xy[2 * s->npos] = c[0];
    s->xy[2 * s->npos + 1] = c[1];
    s->npos++;
    return VG_OK;
}

static void ring_begin(struct geo_shape *s)
{
    if (s->nrings == s->caprings) {
        s->caprings = s->caprings ? 2 * s->caprings : 4;
        s->rings = vg_realloc(s->rings, (size_t)s->caprings * sizeof(*s->rings));
    }
    s->rings[s->nrings].off = s->npos;
    s->rings[s->nrings].n = 0;
    s->nrings++;
}

static void ring_end(struct geo_shape *s)
{
    struct geo_ring *r = &s->rings[s->nrings - 1];
    uint32_t i;

    r->n = s->npos - r->off;
    bb_empty(r->bb);
    for (i = 0; i < r->n; i++)
        bb_add(r->bb, s->xy + 2 * (r->off + i));
}

static void part_begin(struct geo_shape *s)
{
    if (s->nparts == s->capparts) {
        s->capparts = s->capparts ? 2 * s->capparts : 4;
        s->parts = vg_realloc(s->parts, (size_t)s->capparts * sizeof(*s->parts));
    }
    s->parts[s->nparts].ring0 = s->nrings;
    s->parts[s->nparts].nrings = 0;
    s->nparts++;
}

static void part_end(struct geo_shape *s)
{
    struct geo_part *pt = &s->parts[s->nparts - 1];
    uint32_t i;

    pt->nrings = s->nrings - pt->ring0;
    bb_empty(pt->bb);
    for (i = 0; i < pt->nrings; i++)
        bb_union(pt->bb, s->rings[pt->ring0 + i].bb);
}

/* An array of >= min positions as one ring; ring=1 also checks closure. */
static int parse_run(struct pctx *p, const json_t *v, size_t min, int ring)
{
    char buf[96];
    size_t i, n;
    int rc;
    const double *first, *last;

    if (!json_is_array(v))
        return perr(p, VG_EINVAL, "expected an array of positions");
    n = json_array_size(v);
    if (n < min) {
        if (ring)
            snprintf(buf, sizeof(buf), "a linear ring needs at least 4 positions, got %zu", n);
        else if (min == 2)
            snprintf(buf, sizeof(buf), "a line needs at least 2 positions, got %zu", n);
        else
            snprintf(buf, sizeof(buf), "expected at least one position");
        return perr(p, VG_EINVAL, buf);
    }
    if (n > GEO_MAX_POSITIONS || p->s->npos + n > GEO_MAX_POSITIONS) {
        snprintf(buf, sizeof(buf), "more than %d positions", GEO_MAX_POSITIONS);
        return perr(p, VG_ETOOBIG, buf);
    }
    ring_begin(p->s);
    p->depth++;
    for (i = 0; i < n; i++) {
        p->path[p->depth - 1] = (int)i;
        rc = parse_position(p, json_array_get(v, i));
        if (rc)
            return rc;
    }
    p->depth--;
    ring_end(p->s);
    if (ring) {
        const struct geo_ring *r = &p->s->rings[p->s->nrings - 1];
        first = p->s->xy + 2 * r->off;
        last = p->s->xy + 2 * (r->off + r->n - 1);
        if (first[0] != last[0] || first[1] != last[1])
            return perr(p, VG_EINVAL,
                        "linear ring is not closed (first and last positions differ)");
    }
    return VG_OK;
}

/* A Polygon's coordinates: an array of >= 1 rings. */
static int parse_polygon(struct pctx *p, const json_t *v)
{
    size_t i, n;
    int rc;

    if (!json_is_array(v))
        return perr(p, VG_EINVAL, "expected an array of linear rings");
    n = json_array_size(v);
    if (n == 0)
        return perr(p, VG_EINVAL, "a polygon needs at least one linear ring");
    part_begin(p->s);
    p->depth++;
    for (i = 0; i < n; i++) {
        p->path[p->depth - 1] = (int)i;
        rc = parse_run(p, json_array_get(v, i), 4, 1);
        if (rc)
            return rc;
    }
    p->depth--;
    part_end(p->s);
    return VG_OK;
}

static int parse_coords(struct pctx *p, enum geo_type t, const json_t *c)
{
    struct geo_shape *s = p->s;
    size_t i, n;
    int rc;

    switch (t) {
    case GEO_POINT:
        part_begin(s);
        ring_begin(s);
        rc = parse_position(p, c);
        if (rc)
            return rc;
        ring_end(s);
        part_end(s);
        return VG_OK;
    case GEO_LINESTRING:
        part_begin(s);
        rc = parse_run(p, c, 2, 0);
        if (rc)
            return rc;
        part_end(s);
        return VG_OK;
    case GEO_POLYGON:
        return parse_polygon(p, c);
    case GEO_MULTIPOINT:
    case GEO_MULTILINESTRING:
    case GEO_MULTIPOLYGON:
        break;
    }
    if (!json_is_array(c))
        return perr(p, VG_EINVAL,
                    t == GEO_MULTIPOINT        ? "expected an array of positions"
                    : t == GEO_MULTILINESTRING ? "expected an array of lines"
                                               : "expected an array of polygons");
    n = json_array_size(c);
    if (n == 0)
        return perr(p, VG_EINVAL,
                    t == GEO_MULTIPOINT        ? "expected at least one position"
                    : t == GEO_MULTILINESTRING ? "expected at least one line"
                                               : "expected at least one polygon");
    if (n > GEO_MAX_POSITIONS) {
        char buf[64];
        snprintf(buf, sizeof(buf), "more than %d positions", GEO_MAX_POSITIONS);
        return perr(p, VG_ETOOBIG, buf);
    }
    p->depth++;
    for (i = 0; i < n; i++) {
        const json_t *e = json_array_get(c, i);
        p->path[p->depth - 1] = (int)i;
        if (t == GEO_MULTIPOINT) {
            part_begin(s);
            ring_begin(s);
            rc = parse_position(p, e);
            if (rc)
                return rc;
            ring_end(s);
            part_end(s);
        } else if (t == GEO_MULTILINESTRING) {
            part_begin(s);
            rc = parse_run(p, e, 2, 0);
            if (rc)
                return rc;
            part_end(s);
        } else {
            rc = parse_polygon(p, e);
            if (rc)
                return rc;
        }
    }
    p->depth--;
    return VG_OK;
}

static enum geo_type type_from_name(const char *name)
{
    int i;

    for (i = GEO_POINT; i <= GEO_MULTIPOLYGON; i++)
        if (strcmp(name, type_names[i]) == 0)
            return (enum geo_type)i;
    return (enum geo_type)0;
}

static int type_check(const char *name, enum geo_type *t, char *err, size_t cap)
{
    if (strcmp(name, "GeometryCollection") == 0) {
        seterr(err, cap, "GeometryCollection is not supported");
        return VG_EINVAL;
    }
    *t = type_from_name(name);
    if (!*t) {
        seterr(err, cap, "type: unknown geometry type '%.64s'", name);
        return VG_EINVAL;
    }
    return VG_OK;
}

/* One allocation per parsed shape: [struct][parts][rings][xy], all 8-byte aligned. Entities
** keep their shapes for their lifetime, so this matters for memory (and the index benchmark). */
static struct geo_shape *pack(const struct geo_shape *t)
{
    size_t sz = sizeof(*t) + t->nparts * sizeof(*t->parts) + t->nrings * sizeof(*t->rings) +
                (size_t)t->npos * 2 * sizeof(double);
    struct geo_shape *s = vg_malloc(sz);
    char *p = (char *)(s + 1);

    *s = *t;
    s->parts = (struct geo_part *)p;
    memcpy(s->parts, t->parts, t->nparts * sizeof(*t->parts));
    p += t->nparts * sizeof(*t->parts);
    s->rings = (struct geo_ring *)p;
    memcpy(s->rings, t->rings, t->nrings * sizeof(*t->rings));
    p += t->nrings * sizeof(*t->rings);
    s->xy = (double *)p;
    memcpy(s->xy, t->xy, (size_t)t->npos * 2 * sizeof(double));
    s->cappos = s->npos;
    s->caprings = s->nrings;
    s->capparts = s->nparts;
    return s;
}

static int build(enum geo_type t, const json_t *coords, struct geo_shape **out, char *err,
                 size_t cap)
{
    struct pctx p;
    struct geo_shape tmp, *s = &tmp;
    uint32_t i;
    int rc;

    memset(&tmp, 0, sizeof(tmp));
    s->type = t;
    s->dim = t == GEO_POINT || t == GEO_MULTIPOINT             ? 0
             : t == GEO_LINESTRING || t == GEO_MULTILINESTRING ? 1
                                                                : 2;
    memset(&p, 0, sizeof(p));
    p.s = s;
    p.err = err;
    p.cap = cap;
    rc = parse_coords(&p, t, coords);
    if (rc)
        goto out;
    bb_empty(s->bb);
    for (i = 0; i < s->nparts; i++)
        bb_union(s->bb, s->parts[i].bb);
    *out = pack(s);
out:
    free(tmp.xy);
    free(tmp.rings);
    free(tmp.parts);
    return rc;
}

int geo_parse_json(const json_t *geometry, struct geo_shape **out, char *err, size_t cap)
{
    const json_t *jt, *jc;
    enum geo_type t;
    int rc;

    if (!json_is_object(geometry)) {
        seterr(err, cap, "geometry: expected a GeoJSON geometry object");
        return VG_EINVAL;
    }
    jt = json_object_get(geometry, "type");
    if (!json_is_string(jt)) {
        seterr(err, cap, "type: missing or not a string");
        return VG_EINVAL;
    }
    rc = type_check(json_string_value(jt), &t, err, cap);
    if (rc)
        return rc;
    jc = json_object_get(geometry, "coordinates");
    if (!jc) {
        seterr(err, cap, "coordinates: missing");
        return VG_EINVAL;
    }
    return build(t, jc, out, err, cap);
}

int geo_parse_query(const char *geometry, const char *coordinates, struct geo_shape **out,
                    char *err, size_t cap)
{
    json_error_t jerr;
    json_t *jc = NULL;
    enum geo_type t;
    int rc;

    if (!geometry) {
        seterr(err, cap, "geometry: missing");
        return VG_EINVAL;
    }
    rc = type_check(geometry, &t, err, cap);
    if (rc)
        return rc;
    if (!coordinates) {
        seterr(err, cap, "coordinates: missing");
        return VG_EINVAL;
    }
    if (strnlen(coordinates, QUERY_TEXT_CAP + 1) > QUERY_TEXT_CAP) {
        seterr(err, cap, "coordinates: longer than %u bytes", QUERY_TEXT_CAP);
        return VG_ETOOBIG;
    }
    jc = json_loads(coordinates, JSON_DECODE_ANY, &jerr);
    if (!jc) {
        seterr(err, cap, "coordinates: invalid JSON at column %d: %s", jerr.column, jerr.text);
        return VG_EINVAL;
    }
    rc = build(t, jc, out, err, cap);
    json_decref(jc);
    return rc;
}

void geo_free(struct geo_shape *s)
{
    free(s); /* packed: one allocation (see pack) */
}

enum geo_type geo_shape_type(const struct geo_shape *s)
{
    return s->type;
}

void geo_bbox(const struct geo_shape *s, double b[4])
{
    memcpy(b, s->bb, sizeof(s->bb));
}

/* ---------------------------------------------------------------------------------------------
** georel
*/

static int parse_distance(const char *s, size_t n, double *out)
{
    char buf[64];
    char *end;
    size_t i;
    double d;

    if (n == 0 || n >= sizeof(buf))
        return VG_EINVAL;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' ||
              c == '-'))
            return VG_EINVAL;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    d = strtod(buf, &end);
    if (end != buf + n || !isfinite(d) || d < 0)
        return VG_EINVAL;
    *out = d;
    return VG_OK;
}

int georel_parse(const char *s, struct georel *out, char *err, size_t cap)
{
    static const struct {
        const char *name;
        enum georel_op op;
    } ops[] = {
        {"near", GEOREL_NEAR},         {"within", GEOREL_WITHIN},
        {"contains", GEOREL_CONTAINS}, {"intersects", GEOREL_INTERSECTS},
        {"equals", GEOREL_EQUALS},     {"disjoint", GEOREL_DISJOINT},
        {"overlaps", GEOREL_OVERLAPS},
    };
    struct georel r;
    const char *p, *semi;
    size_t n, i;

    if (!s) {
        seterr(err, cap, "georel: missing");
        return VG_EINVAL;
    }
    memset(&r, 0, sizeof(r));
    semi = strchr(s, ';');
    n = semi ? (size_t)(semi - s) : strlen(s);
    for (i = 0; i < VG_ARRAY_LEN(ops); i++)
        if (strlen(ops[i].name) == n && memcmp(ops[i].name, s, n) == 0)
            r.op = ops[i].op;
    if (!r.op) {
        seterr(err, cap, "georel: unknown relation '%.*s'", (int)VG_MIN(n, 32), s);
        return VG_EINVAL;
    }
    if (r.op != GEOREL_NEAR && semi) {
        seterr(err, cap, "georel: '%s' takes no modifier (only near takes a distance)",
               ops[r.op - 1].name);
        return VG_EINVAL;
    }
    p = semi;
    while (p) {
        const char *name, *val;
        size_t nn, vn;
        double d;
        int is_max;

        name = p + 1;
        semi = strchr(name, ';');
        nn = semi ? (size_t)(semi - name) : strlen(name);
        if (nn > 13 && memcmp(name, "maxDistance==", 13) == 0)
            is_max = 1;
        else if (nn > 13 && memcmp(name, "minDistance==", 13) == 0)
            is_max = 0;
        else if (nn == 13 && (memcmp(name, "maxDistance==", 13) == 0 ||
                              memcmp(name, "minDistance==", 13) == 0)) {
            seterr(err, cap, "georel: %.11s has no value", name);
            return VG_EINVAL;
        } else {
            seterr(err, cap,
                   "georel: unknown modifier '%.*s' (expected maxDistance==<metres> or "
                   "minDistance==<metres>)",
                   (int)VG_MIN(nn, 32), name);
            return VG_EINVAL;
        }
        val = name + 13;
        vn = nn - 13;
        if ((is_max && r.has_max) || (!is_max && r.has_min)) {
            seterr(err, cap, "georel: %s given twice", is_max ? "maxDistance" : "minDistance");
            return VG_EINVAL;
        }
        if (parse_distance(val, vn, &d)) {
            seterr(err, cap, "georel: %s '%.*s' is not a non-negative number of metres",
                   is_max ? "maxDistance" : "minDistance", (int)VG_MIN(vn, 32), val);
            return VG_EINVAL;
        }
        if (is_max) {
            r.has_max = 1;
            r.max_distance = d;
        } else {
            r.has_min = 1;
            r.min_distance = d;
        }
        p = semi;
    }
    if (r.op == GEOREL_NEAR && !r.has_max && !r.has_min) {
        seterr(err, cap, "georel: near needs maxDistance==<metres> or minDistance==<metres>");
        return VG_EINVAL;
    }
    *out = r;
    return VG_OK;
}

/* ---------------------------------------------------------------------------------------------
** Planar primitives
*/

#define PT(s, i) ((s)->xy + 2 * (size_t)(i))

enum { REL_OUT = 0, REL_BND = 1, REL_IN = 2 };

static double orient(const double *a, const double *b, const double *c)
{
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
}

static int sgn(double v)
{
    return (v > 0) - (v < 0);
}

static int in_seg_box(const double *a, const double *b, const double *p)
{
    return p[0] >= fmin(a[0], b[0]) && p[0] <= fmax(a[0], b[0]) && p[1] >= fmin(a[1], b[1]) &&
           p[1] <= fmax(a[1], b[1]);
}

static int seg_intersect(const double *a, const double *b, const double *c, const double *d)
{
    int d1 = sgn(orient(c, d, a)), d2 = sgn(orient(c, d, b));
    int d3 = sgn(orient(a, b, c)), d4 = sgn(orient(a, b, d));

    if (d1 * d2 < 0 && d3 * d4 < 0)
        return 1;
    if (d1 == 0 && in_seg_box(c, d, a))
        return 1;
    if (d2 == 0 && in_seg_box(c, d, b))
        return 1;
    if (d3 == 0 && in_seg_box(a, b, c))
        return 1;
    if (d4 == 0 && in_seg_box(a, b, d))
        return 1;
    return 0;
}

/* Parameter of the point of [a,b] closest to p, in [0,1]. */
static double seg_param(const double *a, const double *b, const double *p)
{
    double dx = b[0] - a[0], dy = b[1] - a[1], l2 = dx * dx + dy * dy, t;

    if (l2 <= 0)
        return 0;
    t = ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / l2;
    return t < 0 ? 0 : t > 1 ? 1 : t;
}

static double seg_dist2(const double *a, const double *b, const double *p)
{
    double t = seg_param(a, b, p);
    double x = a[0] + t * (b[0] - a[0]) - p[0], y = a[1] + t * (b[1] - a[1]) - p[1];

    return x * x + y * y;
}

static int near_seg(const double *a, const double *b, const double *p)
{
    if (p[0] < fmin(a[0], b[0]) - TOL || p[0] > fmax(a[0], b[0]) + TOL ||
        p[1] < fmin(a[1], b[1]) - TOL || p[1] > fmax(a[1], b[1]) + TOL)
        return 0;
    return seg_dist2(a, b, p) <= TOL * TOL;
}

/* Segments cross, or an endpoint of one lies within the boundary tolerance of the other: the
** same tolerance as the point tests, so "within" always implies "intersects". */
static int seg_touch(const double *a, const double *b, const double *c, const double *d)
{
    return seg_intersect(a, b, c, d) || near_seg(a, b, c) || near_seg(a, b, d) ||
           near_seg(c, d, a) || near_seg(c, d, b);
}

static int same_pt(const double *a, const double *b)
{
    return fabs(a[0] - b[0]) <= TOL && fabs(a[1] - b[1]) <= TOL;
}

/* Point against one ring: REL_BND on the ring, else REL_IN inside (even-odd rule), REL_OUT. */
static int ring_rel(const struct geo_shape *s, const struct geo_ring *r, const double *p)
{
    uint32_t i;
    int in = 0;

    if (p[0] < r->bb[0] - TOL || p[0] > r->bb[2] + TOL || p[1] < r->bb[1] - TOL ||
        p[1] > r->bb[3] + TOL)
        return REL_OUT;
    for (i = 1; i < r->n; i++) {
        const double *a = PT(s, r->off + i - 1), *b = PT(s, r->off + i);
        if (near_seg(a, b, p))
            return REL_BND;
        if ((a[1] > p[1]) != (b[1] > p[1]) &&
            p[0] < (b[0] - a[0]) * (p[1] - a[1]) / (b[1] - a[1]) + a[0])
            in = !in;
    }
    return in ? REL_IN : REL_OUT;
}

/* Point against one part: interior, boundary or outside. */
static int part_rel(const struct geo_shape *s, const struct geo_part *pt, const double *p)
{
    const struct geo_ring *r = &s->rings[pt->ring0];
    uint32_t i, k;
    int rel;

    if (p[0] < pt->bb[0] - TOL || p[0] > pt->bb[2] + TOL || p[1] < pt->bb[1] - TOL ||
        p[1] > pt->bb[3] + TOL)
        return REL_OUT;
    if (s->dim == 0)
        return same_pt(PT(s, r->off), p) ? REL_IN : REL_OUT;
    if (s->dim == 1) {
        const double *first = PT(s, r->off), *last = PT(s, r->off + r->n - 1);
        int closed = first[0] == last[0] && first[1] == last[1];
        for (i = 1; i < r->n; i++) {
            if (near_seg(PT(s, r->off + i - 1), PT(s, r->off + i), p)) {
                if (!closed && (same_pt(first, p) || same_pt(last, p)))
                    return REL_BND;
                return REL_IN;
            }
        }
        return r->n == 1 && same_pt(first, p) ? REL_IN : REL_OUT;
    }
    rel = ring_rel(s, r, p);
    if (rel != REL_IN)
        return rel;
    for (k = 1; k < pt->nrings; k++) {
        rel = ring_rel(s, r + k, p);
        if (rel == REL_BND)
            return REL_BND;
        if (rel == REL_IN)
            return REL_OUT;
    }
    return REL_IN;
}

/* Point against the union of the parts: the best relation over the parts. */
static int shape_rel(const struct geo_shape *s, const double *p)
{
    uint32_t i;
    int best = REL_OUT, rel;

    if (p[0] < s->bb[0] - TOL || p[0] > s->bb[2] + TOL || p[1] < s->bb[1] - TOL ||
        p[1] > s->bb[3] + TOL)
        return REL_OUT;
    for (i = 0; i < s->nparts && best != REL_IN; i++) {
        rel = part_rel(s, &s->parts[i], p);
        if (rel > best)
            best = rel;
    }
    return best;
}

/* ---------------------------------------------------------------------------------------------
** Boundary pieces: a segment of one shape cut at every point where it meets the other shape.
** The pieces' midpoints are then tested; between two cuts nothing changes.
*/

struct tbuf {
    double *v;
    size_t n, cap;
};

static void tb_push(struct tbuf *tb, double t)
{
    if (tb->n == tb->cap) {
        tb->cap = tb->cap ? 2 * tb->cap : 64;
        tb->v = vg_realloc(tb->v, tb->cap * sizeof(double));
    }
    tb->v[tb->n++] = t < 0 ? 0 : t > 1 ? 1 : t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef int piece_fn(void *ctx, const double m[2], const double dir[2], double len);

/* Calls fn for the midpoint of every piece of [a,b] cut by the segments of t. */
static int scan_pieces(const double *a, const double *b, const struct geo_shape *t,
                       struct tbuf *tb, piece_fn *fn, void *ctx)
{
    double sb[4], rx = b[0] - a[0], ry = b[1] - a[1], len, dir[2];
    uint32_t k, i;
    size_t j;
    int rc;

    len = sqrt(rx * rx + ry * ry);
    if (len <= 0)
        return 0;
    dir[0] = rx / len;
    dir[1] = ry / len;
    tb->n = 0;
    tb_push(tb, 0);
    tb_push(tb, 1);
    bb_empty(sb);
    bb_add(sb, a);
    bb_add(sb, b);
    for (k = 0; k < t->nrings; k++) {
        const struct geo_ring *r = &t->rings[k];
        if (!bb_meet(sb, r->bb, TOL))
            continue;
        for (i = 0; i < r->n; i++) {
            const double *c = PT(t, r->off + i);
            if (near_seg(a, b, c))
                tb_push(tb, seg_param(a, b, c));
            if (i > 0) {
                const double *pc = PT(t, r->off + i - 1);
                double sx = c[0] - pc[0], sy = c[1] - pc[1], den = rx * sy - ry * sx;
                if (den != 0 && seg_intersect(a, b, pc, c))
                    tb_push(tb, ((pc[0] - a[0]) * sy - (pc[1] - a[1]) * sx) / den);
            }
        }
    }
    qsort(tb->v, tb->n, sizeof(double), cmp_double);
    for (j = 1; j < tb->n; j++) {
        double t0 = tb->v[j - 1], t1 = tb->v[j], tm, m[2];
        if ((t1 - t0) * len <= 1e-12)
            continue;
        tm = 0.5 * (t0 + t1);
        m[0] = a[0] + tm * rx;
        m[1] = a[1] + tm * ry;
        rc = fn(ctx, m, dir, (t1 - t0) * len);
        if (rc)
            return rc;
    }
    return 0;
}

/* scan_pieces over every segment of s (lines, or polygon rings) against t. */
static int scan_boundary(const struct geo_shape *s, const struct geo_shape *t, struct tbuf *tb,
                         piece_fn *fn, void *ctx)
{
    uint32_t k, i;
    int rc;

    if (s->dim == 0)
        return 0;
    for (k = 0; k < s->nrings; k++) {
        const struct geo_ring *r = &s->rings[k];
        for (i = 1; i < r->n; i++) {
            rc = scan_pieces(PT(s, r->off + i - 1), PT(s, r->off + i), t, tb, fn, ctx);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* Two probe points just off an edge piece, one on each side. */
static void probes(const double m[2], const double dir[2], double len, double o[2][2])
{
    double eps = fmax(fmin(1e-7, 0.25 * len), 1e-8);

    o[0][0] = m[0] - dir[1] * eps;
    o[0][1] = m[1] + dir[0] * eps;
    o[1][0] = m[0] + dir[1] * eps;
    o[1][1] = m[1] - dir[0] * eps;
}

struct pcx {
    const struct geo_shape *a, *b;
    int meet;
};

/* Piece of E's boundary against Q: fails (1) if it leaves Q; notes if it runs inside Q. */
static int cb_cover(void *ctx, const double m[2], const double dir[2], double len)
{
    struct pcx *c = ctx;
    int rel = shape_rel(c->b, m);

    VG_UNUSED(dir);
    VG_UNUSED(len);
    if (rel == REL_OUT)
        return 1;
    if (rel == REL_IN)
        c->meet = 1;
    return 0;
}

/* Piece of Q's boundary against area E: fails if E's interior reaches outside Q next to it. */
static int cb_hole(void *ctx, const double m[2], const double dir[2], double len)
{
    struct pcx *c = ctx; /* a = E, b = Q */
    double o[2][2];
    int i;

    if (shape_rel(c->a, m) == REL_OUT)
        return 0;
    probes(m, dir, len, o);
    for (i = 0; i < 2; i++)
        if (shape_rel(c->a, o[i]) == REL_IN && shape_rel(c->b, o[i]) == REL_OUT)
            return 1;
    return 0;
}

/* Piece of a's boundary against b (both areas): found (1) if the interiors meet next to it. */
static int cb_meet2(void *ctx, const double m[2], const double dir[2], double len)
{
    struct pcx *c = ctx;
    double o[2][2];
    int i, rel = shape_rel(c->b, m);

    if (rel == REL_IN)
        return 1;
    if (rel == REL_OUT)
        return 0;
    probes(m, dir, len, o);
    for (i = 0; i < 2; i++)
        if (shape_rel(c->a, o[i]) == REL_IN && shape_rel(c->b, o[i]) == REL_IN)
            return 1;
    return 0;
}

/* Piece of line a lying on line b. */
static int cb_online(void *ctx, const double m[2], const double dir[2], double len)
{
    struct pcx *c = ctx;

    VG_UNUSED(dir);
    VG_UNUSED(len);
    return shape_rel(c->b, m) != REL_OUT;
}

/* ---------------------------------------------------------------------------------------------
** Predicates
*/

static int part_intersects(const struct geo_shape *a, const struct geo_part *pa,
                           const struct geo_shape *b, const struct geo_part *pb)
{
    uint32_t ka, kb, i, j;

    if (!bb_meet(pa->bb, pb->bb, TOL))
        return 0;
    if (a->dim == 0)
        return part_rel(b, pb, PT(a, a->rings[pa->ring0].off)) != REL_OUT;
    if (b->dim == 0)
        return part_rel(a, pa, PT(b, b->rings[pb->ring0].off)) != REL_OUT;
    for (ka = pa->ring0; ka < pa->ring0 + pa->nrings; ka++) {
        const struct geo_ring *ra = &a->rings[ka];
        for (kb = pb->ring0; kb < pb->ring0 + pb->nrings; kb++) {
            const struct geo_ring *rb = &b->rings[kb];
            if (!bb_meet(ra->bb, rb->bb, TOL))
                continue;
            for (i = 1; i < ra->n; i++) {
                const double *p = PT(a, ra->off + i - 1), *q = PT(a, ra->off + i);
                double sb[4];
                bb_empty(sb);
                bb_add(sb, p);
                bb_add(sb, q);
                if (!bb_meet(sb, rb->bb, TOL))
                    continue;
                for (j = 1; j < rb->n; j++)
                    if (seg_touch(p, q, PT(b, rb->off + j - 1), PT(b, rb->off + j)))
                        return 1;
            }
        }
    }
    /* No crossing: one part may still lie wholly inside the other area. */
    if (b->dim == 2 && part_rel(b, pb, PT(a, a->rings[pa->ring0].off)) != REL_OUT)
        return 1;
    if (a->dim == 2 && part_rel(a, pa, PT(b, b->rings[pb->ring0].off)) != REL_OUT)
        return 1;
    return 0;
}

static int shape_intersects(const struct geo_shape *a, const struct geo_shape *b)
{
    uint32_t i, j;

    if (!bb_meet(a->bb, b->bb, TOL))
        return 0;
    for (i = 0; i < a->nparts; i++)
        for (j = 0; j < b->nparts; j++)
            if (part_intersects(a, &a->parts[i], b, &b->parts[j]))
                return 1;
    return 0;
}

/* Is every point of e in q (interior or boundary)? *meet: do their interiors meet? */
static int covered(const struct geo_shape *e, const struct geo_shape *q, struct tbuf *tb,
                   int *meet)
{
    struct pcx c;
    uint32_t i;
    int rel;

    *meet = 0;
    if (e->bb[0] < q->bb[0] - TOL || e->bb[1] < q->bb[1] - TOL || e->bb[2] > q->bb[2] + TOL ||
        e->bb[3] > q->bb[3] + TOL)
        return 0;
    if (e->dim > q->dim)
        return 0;
    for (i = 0; i < e->npos; i++) {
        rel = shape_rel(q, PT(e, i));
        if (rel == REL_OUT)
            return 0;
        if (rel == REL_IN && e->dim == 0)
            *meet = 1;
    }
    if (e->dim == 0)
        return 1;
    c.a = e;
    c.b = q;
    c.meet = 0;
    if (scan_boundary(e, q, tb, cb_cover, &c))
        return 0;
    if (e->dim == 1) {
        *meet = c.meet || q->dim == 1;
        return 1;
    }
    /* Areas: E's boundary lies in Q; Q must not have a hole or gap inside E. */
    if (scan_boundary(q, e, tb, cb_hole, &c))
        return 0;
    *meet = 1;
    return 1;
}

static int shape_within(const struct geo_shape *e, const struct geo_shape *q, struct tbuf *tb)
{
    int meet;

    return covered(e, q, tb, &meet) && meet;
}

static int shape_overlaps(const struct geo_shape *e, const struct geo_shape *q, struct tbuf *tb)
{
    struct pcx c;
    int meet, common;

    if (e->dim != q->dim || !shape_intersects(e, q))
        return 0;
    c.a = e;
    c.b = q;
    c.meet = 0;
    if (e->dim == 0) {
        common = 1;
    } else if (e->dim == 1) {
        common = scan_boundary(e, q, tb, cb_online, &c) != 0;
    } else {
        common = scan_boundary(e, q, tb, cb_meet2, &c) != 0;
        if (!common) {
            c.a = q;
            c.b = e;
            common = scan_boundary(q, e, tb, cb_meet2, &c) != 0;
        }
    }
    return common && !covered(e, q, tb, &meet) && !covered(q, e, tb, &meet);
}

static int pos_eq(const double *a, const double *b)
{
    return a[0] == b[0] && a[1] == b[1];
}

/* Closed rings equal up to start vertex and direction (budgeted against pathological input). */
static int ring_eq(const struct geo_shape *a, const struct geo_ring *ra,
                   const struct geo_shape *b, const struct geo_ring *rb, uint64_t *budget)
{
    uint32_t m = ra->n - 1, s, i;

    if (ra->n != rb->n)
        return 0;
    if (m == 0)
        return pos_eq(PT(a, ra->off), PT(b, rb->off));
    for (s = 0; s < m; s++) {
        int fwd = 1, bwd = 1;
        if (!pos_eq(PT(a, ra->off), PT(b, rb->off + s)))
            continue;
        for (i = 1; i < m && (fwd || bwd); i++) {
            if (*budget == 0)
                return 0;
            (*budget)--;
            if (fwd && !pos_eq(PT(a, ra->off + i), PT(b, rb->off + (s + i) % m)))
                fwd = 0;
            if (bwd && !pos_eq(PT(a, ra->off + i), PT(b, rb->off + (s + m - i) % m)))
                bwd = 0;
        }
        if (fwd || bwd)
            return 1;
    }
    return 0;
}

static int shape_equals(const struct geo_shape *a, const struct geo_shape *b)
{
    uint64_t budget = EQ_BUDGET;
    uint32_t i, k;

    if (a->type != b->type || a->npos != b->npos || a->nrings != b->nrings ||
        a->nparts != b->nparts)
        return 0;
    for (i = 0; i < a->nparts; i++)
        if (a->parts[i].nrings != b->parts[i].nrings)
            return 0;
    for (k = 0; k < a->nrings; k++) {
        const struct geo_ring *ra = &a->rings[k], *rb = &b->rings[k];
        if (ra->n != rb->n)
            return 0;
        if (a->dim == 2) {
            if (!ring_eq(a, ra, b, rb, &budget))
                return 0;
            continue;
        }
        for (i = 0; i < ra->n; i++)
            if (!pos_eq(PT(a, ra->off + i), PT(b, rb->off + i)))
                return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------------------------------------
** Distances
*/

static double haversine(const double *p, const double *q)
{
    double p1 = p[1] * DEG2RAD, p2 = q[1] * DEG2RAD;
    double dp = (q[1] - p[1]) * DEG2RAD, dl = (q[0] - p[0]) * DEG2RAD;
    double s1 = sin(dp / 2), s2 = sin(dl / 2);
    double h = s1 * s1 + cos(p1) * cos(p2) * s2 * s2;

    if (h > 1)
        h = 1;
    if (h < 0)
        h = 0;
    return 2 * EARTH_R * asin(sqrt(h));
}

/* Point to segment: closest point found in a local equirectangular frame around p. */
static double point_seg_m(const double *p, const double *a, const double *b)
{
    double k = cos(p[1] * DEG2RAD), shift = 0, ax, bx, ay, by, dx, dy, l2, t, q[2];

    ax = a[0] - p[0];
    if (ax > 180)
        shift = -360;
    else if (ax < -180)
        shift = 360;
    ax = (ax + shift) * k;
    bx = (b[0] - p[0] + shift) * k;
    ay = a[1] - p[1];
    by = b[1] - p[1];
    dx = bx - ax;
    dy = by - ay;
    l2 = dx * dx + dy * dy;
    t = l2 > 0 ? -(ax * dx + ay * dy) / l2 : 0;
    if (t < 0)
        t = 0;
    if (t > 1)
        t = 1;
    q[0] = a[0] + t * (b[0] - a[0]);
    q[1] = a[1] + t * (b[1] - a[1]);
    return haversine(p, q);
}

/* Least distance from point p to the boundary/lines/points of part pt of s. */
static double point_part_m(const double *p, const struct geo_shape *s, const struct geo_part *pt)
{
    double best = INFINITY, d;
    uint32_t k, i;

    for (k = pt->ring0; k < pt->ring0 + pt->nrings; k++) {
        const struct geo_ring *r = &s->rings[k];
        if (r->n == 1) {
            d = haversine(p, PT(s, r->off));
            if (d < best)
                best = d;
        }
        for (i = 1; i < r->n; i++) {
            d = point_seg_m(p, PT(s, r->off + i - 1), PT(s, r->off + i));
            if (d < best)
                best = d;
        }
    }
    return best;
}

double geo_distance_m(const struct geo_shape *a, const struct geo_shape *b)
{
    double best = INFINITY, d;
    uint32_t i, j, k, n;

    if (shape_intersects(a, b))
        return 0;
    /* Without intersection the least distance is reached at a vertex of one of them. */
    for (i = 0; i < a->nparts; i++) {
        const struct geo_part *pa = &a->parts[i];
        for (j = 0; j < b->nparts; j++) {
            const struct geo_part *pb = &b->parts[j];
            for (k = pa->ring0; k < pa->ring0 + pa->nrings; k++)
                for (n = 0; n < a->rings[k].n; n++) {
                    d = point_part_m(PT(a, a->rings[k].off + n), b, pb);
                    if (d < best)
                        best = d;
                }
            if (a->dim == 0)
                continue;
            for (k = pb->ring0; k < pb->ring0 + pb->nrings; k++)
                for (n = 0; n < b->rings[k].n; n++) {
                    d = point_part_m(PT(b, b->rings[k].off + n), a, pa);
                    if (d < best)
                        best = d;
                }
        }
    }
    return best;
}

int geo_match(const struct georel *r, const struct geo_shape *query, const struct geo_shape *entity)
{
    struct tbuf tb = {NULL, 0, 0};
    int ok = 0, meet;
    double d;

    if (!r || !query || !entity)
        return 0;
    switch (r->op) {
    case GEOREL_NEAR:
        d = geo_distance_m(entity, query);
        ok = (!r->has_max || d <= r->max_distance) && (!r->has_min || d >= r->min_distance);
        break;
    case GEOREL_WITHIN:
        ok = shape_within(entity, query, &tb);
        break;
    case GEOREL_CONTAINS:
        ok = covered(query, entity, &tb, &meet) && meet;
        break;
    case GEOREL_INTERSECTS:
        ok = shape_intersects(entity, query);
        break;
    case GEOREL_EQUALS:
        ok = shape_equals(entity, query);
        break;
    case GEOREL_DISJOINT:
        ok = !shape_intersects(entity, query);
        break;
    case GEOREL_OVERLAPS:
        ok = shape_overlaps(entity, query, &tb);
        break;
    }
    free(tb.v);
    return ok;
}

void geo_search_bbox(const struct georel *r, const struct geo_shape *query, double b[4])
{
    double delta, dlat, latmax, s;

    if (r->op == GEOREL_DISJOINT || (r->op == GEOREL_NEAR && !r->has_max)) {
        b[0] = -180;
        b[1] = -90;
        b[2] = 180;
        b[3] = 90;
        return;
    }
    memcpy(b, query->bb, sizeof(query->bb));
    if (r->op != GEOREL_NEAR)
        return;
    /* Grow by the distance: exact in latitude; in longitude asin(sin(d/R) / cos(lat)) at the
    ** highest latitude reached, plus a small margin for rounding. */
    delta = r->max_distance / EARTH_R;
    dlat = delta / DEG2RAD * (1 + 1e-9) + 1e-9;
    b[1] -= dlat;
    b[3] += dlat;
    if (b[1] <= -90 || b[3] >= 90 || delta >= 3.14159265358979323846 / 2) {
        b[0] = -180;
        b[2] = 180;
    } else {
        latmax = fmax(fabs(b[1]), fabs(b[3])) * DEG2RAD;
        s = sin(delta) / cos(latmax);
        if (s >= 1) {
            b[0] = -180;
            b[2] = 180;
        } else {
            double dlon = asin(s) / DEG2RAD * (1 + 1e-9) + 1e-9;
            b[0] -= dlon;
            b[2] += dlon;
            if (b[0] < -180 || b[2] > 180) { /* crosses the antimeridian */
                b[0] = -180;
                b[2] = 180;
            }
        }
    }
    if (b[1] < -90)
        b[1] = -90;
    if (b[3] > 90)
        b[3] = 90;
}

/* ---------------------------------------------------------------------------------------------
** Grid index
*/

#define CELL_DEG_INV 100.0 /* cells per degree */
#define CELL_X_MAX 36000
#define CELL_Y_MAX 18000
#define MAX_SPAN 64
#define NONE UINT32_MAX
#define EMPTY_KEY UINT64_MAX

struct geo_ent {
    uint64_t handle;
    double b[4];
    int32_t x0, y0, x1, y1;
    uint32_t ovpos; /* index in the overflow list, or NONE */
};

struct geo_cell {
    uint64_t key; /* x << 32 | y, EMPTY_KEY when free */
    uint32_t n, cap;
    uint32_t *v; /* entry numbers */
};

struct geo_hslot {
    uint64_t handle;
    uint32_t ent; /* NONE when free */
};

struct geo_index {
    struct geo_ent *ents;
    uint32_t nents, capents;
    uint32_t *freel;
    uint32_t nfree, capfree;
    struct geo_cell *cells;
    size_t cellcap, ncells; /* power of two; occupied */
    struct geo_hslot *hmap;
    size_t hcap, hcount;
    uint32_t *ov;
    uint32_t nov, capov;
};

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static int32_t cell_x(double lon)
{
    double v = floor((lon + 180.0) * CELL_DEG_INV);
    return v < 0 ? 0 : v > CELL_X_MAX ? CELL_X_MAX : (int32_t)v;
}

static int32_t cell_y(double lat)
{
    double v = floor((lat + 90.0) * CELL_DEG_INV);
    return v < 0 ? 0 : v > CELL_Y_MAX ? CELL_Y_MAX : (int32_t)v;
}

static uint64_t cell_key(int32_t x, int32_t y)
{
    return (uint64_t)(uint32_t)x << 32 | (uint32_t)y;
}

struct geo_index *geo_index_new(void)
{
    struct geo_index *ix = vg_calloc(1, sizeof(*ix));
    size_t i;

    ix->cellcap = 64;
    ix->cells = vg_calloc(ix->cellcap, sizeof(*ix->cells));
    for (i = 0; i < ix->cellcap; i++)
        ix->cells[i].key = EMPTY_KEY;
    ix->hcap = 64;
    ix->hmap = vg_calloc(ix->hcap, sizeof(*ix->hmap));
    for (i = 0; i < ix->hcap; i++)
        ix->hmap[i].ent = NONE;
    return ix;
}

void geo_index_free(struct geo_index *ix)
{
    size_t i;

    if (!ix)
        return;
    for (i = 0; i < ix->cellcap; i++)
        free(ix->cells[i].v);
    free(ix->cells);
    free(ix->hmap);
    free(ix->ents);
    free(ix->freel);
    free(ix->ov);
    free(ix);
}

static size_t cell_find(const struct geo_index *ix, uint64_t key)
{
    size_t mask = ix->cellcap - 1, i = mix64(key) & mask;

    while (ix->cells[i].key != EMPTY_KEY && ix->cells[i].key != key)
        i = (i + 1) & mask;
    return i;
}

static void cells_grow(struct geo_index *ix)
{
    struct geo_cell *old = ix->cells;
    size_t oldcap = ix->cellcap, i;

    ix->cellcap *= 2;
    ix->cells = vg_calloc(ix->cellcap, sizeof(*ix->cells));
    for (i = 0; i < ix->cellcap; i++)
        ix->cells[i].key = EMPTY_KEY;
    for (i = 0; i < oldcap; i++)
        if (old[i].key != EMPTY_KEY)
            ix->cells[cell_find(ix, old[i].key)] = old[i];
    free(old);
}

static void cell_add(struct geo_index *ix, uint64_t key, uint32_t ent)
{
    struct geo_cell *c;
    size_t i;

    if (2 * (ix->ncells + 1) > ix->cellcap)
        cells_grow(ix);
    i = cell_find(ix, key);
    c = &ix->cells[i];
    if (c->key == EMPTY_KEY) {
        c->key = key;
        c->n = c->cap = 0;
        c->v = NULL;
        ix->ncells++;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 4;
        c->v = vg_realloc(c->v, c->cap * sizeof(uint32_t));
    }
    c->v[c->n++] = ent;
}

/* Removes the slot at i and shifts back its followers (linear probing without tombstones). */
static void cell_erase(struct geo_index *ix, size_t i)
{
    size_t mask = ix->cellcap - 1, j = i, home;

    free(ix->cells[i].v);
    ix->cells[i].key = EMPTY_KEY;
    ix->cells[i].v = NULL;
    ix->ncells--;
    for (;;) {
        j = (j + 1) & mask;
        if (ix->cells[j].key == EMPTY_KEY)
            return;
        home = mix64(ix->cells[j].key) & mask;
        /* Move j back to i unless its home lies cyclically in (i, j]. */
        if ((i <= j) ? (i < home && home <= j) : (i < home || home <= j))
            continue;
        ix->cells[i] = ix->cells[j];
        ix->cells[j].key = EMPTY_KEY;
        ix->cells[j].v = NULL;
        i = j;
    }
}

static void cell_remove(struct geo_index *ix, uint64_t key, uint32_t ent)
{
    size_t i = cell_find(ix, key);
    struct geo_cell *c = &ix->cells[i];
    uint32_t k;

    if (NEVER(c->key == EMPTY_KEY))
        return;
    for (k = 0; k < c->n; k++) {
        if (c->v[k] == ent) {
            c->v[k] = c->v[--c->n];
            break;
        }
    }
    if (c->n == 0)
        cell_erase(ix, i);
}

static size_t hmap_find(const struct geo_index *ix, uint64_t h)
{
    size_t mask = ix->hcap - 1, i = mix64(h) & mask;

    while (ix->hmap[i].ent != NONE && ix->hmap[i].handle != h)
        i = (i + 1) & mask;
    return i;
}

static void hmap_grow(struct geo_index *ix)
{
    struct geo_hslot *old = ix->hmap;
    size_t oldcap = ix->hcap, i;

    ix->hcap *= 2;
    ix->hmap = vg_calloc(ix->hcap, sizeof(*ix->hmap));
    for (i = 0; i < ix->hcap; i++)
        ix->hmap[i].ent = NONE;
    for (i = 0; i < oldcap; i++)
        if (old[i].ent != NONE)
            ix->hmap[hmap_find(ix, old[i].handle)] = old[i];
    free(old);
}

static void hmap_erase(struct geo_index *ix, size_t i)
{
    size_t mask = ix->hcap - 1, j = i, home;

    ix->hmap[i].ent = NONE;
    ix->hcount--;
    for (;;) {
        j = (j + 1) & mask;
        if (ix->hmap[j].ent == NONE)
            return;
        home = mix64(ix->hmap[j].handle) & mask;
        if ((i <= j) ? (i < home && home <= j) : (i < home || home <= j))
            continue;
        ix->hmap[i] = ix->hmap[j];
        ix->hmap[j].ent = NONE;
        i = j;
    }
}

/* NaN sides become the world's; inverted sides are swapped. */
static void box_sanitize(const double in[4], double b[4])
{
    static const double world[4] = {-180, -90, 180, 90};
    int i;

    for (i = 0; i < 4; i++)
        b[i] = isnan(in[i]) ? world[i] : in[i];
    if (b[0] > b[2]) {
        double t = b[0];
        b[0] = b[2];
        b[2] = t;
    }
    if (b[1] > b[3]) {
        double t = b[1];
        b[1] = b[3];
        b[3] = t;
    }
}

static void ent_unlink(struct geo_index *ix, uint32_t n)
{
    struct geo_ent *e = &ix->ents[n];
    int32_t x, y;

    if (e->ovpos != NONE) {
        uint32_t last = ix->ov[--ix->nov];
        ix->ov[e->ovpos] = last;
        ix->ents[last].ovpos = e->ovpos;
        e->ovpos = NONE;
        return;
    }
    for (x = e->x0; x <= e->x1; x++)
        for (y = e->y0; y <= e->y1; y++)
            cell_remove(ix, cell_key(x, y), n);
}

static void ent_link(struct geo_index *ix, uint32_t n, const double b[4])
{
    struct geo_ent *e = &ix->ents[n];
    int32_t x, y;

    box_sanitize(b, e->b);
    e->x0 = cell_x(e->b[0]);
    e->y0 = cell_y(e->b[1]);
    e->x1 = cell_x(e->b[2]);
    e->y1 = cell_y(e->b[3]);
    e->ovpos = NONE;
    if ((int64_t)(e->x1 - e->x0 + 1) * (e->y1 - e->y0 + 1) > MAX_SPAN) {
        if (ix->nov == ix->capov) {
            ix->capov = ix->capov ? 2 * ix->capov : 16;
            ix->ov = vg_realloc(ix->ov, ix->capov * sizeof(uint32_t));
        }
        e->ovpos = ix->nov;
        ix->ov[ix->nov++] = n;
        return;
    }
    for (x = e->x0; x <= e->x1; x++)
        for (y = e->y0; y <= e->y1; y++)
            cell_add(ix, cell_key(x, y), n);
}

void geo_index_put(struct geo_index *ix, uint64_t handle, const double b[4])
{
    size_t i;
    uint32_t n;

    if (2 * (ix->hcount + 1) > ix->hcap)
        hmap_grow(ix);
    i = hmap_find(ix, handle);
    if (ix->hmap[i].ent != NONE) {
        n = ix->hmap[i].ent;
        ent_unlink(ix, n);
        ent_link(ix, n, b);
        return;
    }
    if (ix->nfree) {
        n = ix->freel[--ix->nfree];
    } else {
        if (ix->nents == ix->capents) {
            ix->capents = ix->capents ? 2 * ix->capents : 64;
            ix->ents = vg_realloc(ix->ents, ix->capents * sizeof(*ix->ents));
        }
        n = ix->nents++;
    }
    ix->ents[n].handle = handle;
    ix->hmap[i].handle = handle;
    ix->hmap[i].ent = n;
    ix->hcount++;
    ent_link(ix, n, b);
}

void geo_index_del(struct geo_index *ix, uint64_t handle)
{
    size_t i = hmap_find(ix, handle);
    uint32_t n = ix->hmap[i].ent;

    if (n == NONE)
        return;
    ent_unlink(ix, n);
    hmap_erase(ix, i);
    if (ix->nfree == ix->capfree) {
        ix->capfree = ix->capfree ? 2 * ix->capfree : 64;
        ix->freel = vg_realloc(ix->freel, ix->capfree * sizeof(uint32_t));
    }
    ix->freel[ix->nfree++] = n;
}

static int box_meet(const double a[4], const double b[4])
{
    return a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3];
}

/* Entries of one cell: each reported only from the first cell shared with the query range. */
static int scan_cell(const struct geo_index *ix, const struct geo_cell *c, int32_t x, int32_t y,
                     int32_t qx0, int32_t qy0, const double q[4], geo_index_fn *fn, void *arg)
{
    uint32_t k;
    int rc;

    for (k = 0; k < c->n; k++) {
        const struct geo_ent *e = &ix->ents[c->v[k]];
        if (x != VG_MAX(e->x0, qx0) || y != VG_MAX(e->y0, qy0))
            continue;
        if (!box_meet(e->b, q))
            continue;
        rc = fn(arg, e->handle);
        if (rc)
            return rc;
    }
    return 0;
}

int geo_index_search(const struct geo_index *ix, const double b[4], geo_index_fn *fn, void *arg)
{
    double q[4];
    int32_t qx0, qy0, qx1, qy1, x, y;
    uint64_t span;
    uint32_t k;
    size_t i;
    int rc;

    box_sanitize(b, q);
    for (k = 0; k < ix->nov; k++) {
        const struct geo_ent *e = &ix->ents[ix->ov[k]];
        if (box_meet(e->b, q)) {
            rc = fn(arg, e->handle);
            if (rc)
                return rc;
        }
    }
    qx0 = cell_x(q[0]);
    qy0 = cell_y(q[1]);
    qx1 = cell_x(q[2]);
    qy1 = cell_y(q[3]);
    span = (uint64_t)(qx1 - qx0 + 1) * (uint64_t)(qy1 - qy0 + 1);
    if (span <= ix->ncells) {
        for (x = qx0; x <= qx1; x++)
            for (y = qy0; y <= qy1; y++) {
                const struct geo_cell *c = &ix->cells[cell_find(ix, cell_key(x, y))];
                if (c->key == EMPTY_KEY)
                    continue;
                rc = scan_cell(ix, c, x, y, qx0, qy0, q, fn, arg);
                if (rc)
                    return rc;
            }
        return 0;
    }
    for (i = 0; i < ix->cellcap; i++) {
        const struct geo_cell *c = &ix->cells[i];
        if (c->key == EMPTY_KEY)
            continue;
        x = (int32_t)(c->key >> 32);
        y = (int32_t)(c->key & 0xffffffffu);
        if (x < qx0 || x > qx1 || y < qy0 || y > qy1)
            continue;
        rc = scan_cell(ix, c, x, y, qx0, qy0, q, fn, arg);
        if (rc)
            return rc;
    }
    return 0;
}

uint64_t geo_index_count(const struct geo_index *ix)
{
    return ix->hcount;
}
