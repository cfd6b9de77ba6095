/*
** fuzz/fuzz_geo.c: libFuzzer target for ngsild/geo.c (georel grammar, geometry parsers,
** predicates, distances).
** Input: "<georel>\n<GeometryType> <coordinates text>". The first line goes to georel_parse, the
** rest to geo_parse_query (type name up to the first space); the input is also tried as a
** GeoJSON geometry object (trailing bytes allowed, so "{...}\nPoint [1,2]" gives two shapes)
** through geo_parse_json. Every parsed shape is then run against itself
** and the other through every georel and geo_distance_m, checking invariants that hold for any
** input: disjoint == !intersects, intersects is symmetric, contains(a, b) == within(b, a),
** within implies intersects, a shape equals itself, distances are >= 0 and 0 when intersecting.
** Owns: NUL-terminated heap copies of the input parts (exact size, so ASan sees overreads).
*/
#include "ngsild/geo.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char *dup_span(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);

    if (!s)
        abort();
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static int op(enum georel_op o, const struct geo_shape *q, const struct geo_shape *e)
{
    struct georel r;

    memset(&r, 0, sizeof(r));
    r.op = o;
    return geo_match(&r, q, e);
}

static void pair(const struct georel *user, const struct geo_shape *a, const struct geo_shape *b)
{
    double d = geo_distance_m(a, b), box[4];
    int inter = op(GEOREL_INTERSECTS, a, b);
    int o;

    if (!(d >= 0))
        abort();
    if (inter && d != 0)
        abort();
    if (op(GEOREL_DISJOINT, a, b) == inter)
        abort();
    if (op(GEOREL_INTERSECTS, b, a) != inter)
        abort();
    if (op(GEOREL_CONTAINS, a, b) != op(GEOREL_WITHIN, b, a))
        abort();
    if (op(GEOREL_WITHIN, a, b) && !inter)
        abort();
    if (!op(GEOREL_EQUALS, a, a))
        abort();
    for (o = GEOREL_NEAR; o <= GEOREL_OVERLAPS; o++)
        (void)op((enum georel_op)o, a, b);
    if (user) {
        (void)geo_match(user, a, b);
        geo_search_bbox(user, a, box);
        if (!(box[0] <= box[2] && box[1] <= box[3]))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct geo_shape *shapes[2] = {NULL, NULL};
    struct georel r, *user = NULL;
    const uint8_t *nl = memchr(data, '\n', size);
    char err[256];
    char *line, *type, *coords;
    json_t *j;
    size_t n1, n2, sp;
    int i, k, ns = 0;

    n1 = nl ? (size_t)(nl - data) : size;
    line = dup_span(data, n1);
    if (georel_parse(line, &r, err, sizeof(err)) == VG_OK)
        user = &r;
    else if (strlen(err) >= sizeof(err))
        abort();
    free(line);

    if (nl) {
        const uint8_t *rest = nl + 1;
        n2 = size - n1 - 1;
        for (sp = 0; sp < n2 && rest[sp] != ' '; sp++)
            ;
        type = dup_span(rest, sp);
        coords = sp < n2 ? dup_span(rest + sp + 1, n2 - sp - 1) : NULL;
        if (geo_parse_query(type, coords, &shapes[ns], err, sizeof(err)) == VG_OK)
            ns++;
        free(type);
        free(coords);
    }

    j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, NULL);
    if (j) {
        if (geo_parse_json(j, &shapes[ns], err, sizeof(err)) == VG_OK)
            ns++;
        json_decref(j);
    }

    for (i = 0; i < ns; i++) {
        double b[4];
        geo_bbox(shapes[i], b);
        if (!(b[0] >= -180 && b[2] <= 180 && b[1] >= -90 && b[3] <= 90 && b[0] <= b[2] &&
              b[1] <= b[3]))
            abort();
        if (geo_shape_type(shapes[i]) < GEO_POINT || geo_shape_type(shapes[i]) > GEO_MULTIPOLYGON)
            abort();
        for (k = 0; k < ns; k++)
            pair(user, shapes[i], shapes[k]);
    }
    for (i = 0; i < ns; i++)
        geo_free(shapes[i]);
    return 0;
}
