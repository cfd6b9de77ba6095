/*
** ngsild/geo_test.c: unit tests for ngsild/geo.c: GeoJSON and query parsing with their error
** messages, the georel grammar, great-circle distances, every predicate on points, lines,
** polygons with holes and multi-geometries, the near search box, and the grid index (a property
** test against brute force, put/move/delete, and a timed 1 km search over 100,000 points).
** Owns: the shapes and indexes it creates.
*/
#include "ngsild/geo.h"
#include "core/test.h"

#include <math.h>
#include <time.h>

#define R_EARTH 6371008.8
#define L_AB "LineString", "[[0,0],[10,10]]"
#define L_X "LineString", "[[0,10],[10,0]]"
#define U_SHAPE "Polygon", "[[[0,0],[9,0],[9,9],[6,9],[6,3],[3,3],[3,9],[0,9],[0,0]]]"
#define D2R (3.14159265358979323846 / 180.0)

static char err[256];

static struct geo_shape *shp(const char *type, const char *coords)
{
    struct geo_shape *s = NULL;
    int rc = geo_parse_query(type, coords, &s, err, sizeof(err));

    if (rc)
        printf("  unexpected parse error for %s %s: %s\n", type, coords, err);
    return s;
}

/* Parse, expect failure with rc and a message containing want. */
static int qfail(const char *type, const char *coords, int rc_want, const char *want)
{
    struct geo_shape *s = (struct geo_shape *)&err; /* sentinel: must stay unchanged */
    int rc;

    err[0] = '\0';
    rc = geo_parse_query(type, coords, &s, err, sizeof(err));
    if (rc != rc_want || s != (struct geo_shape *)&err || !strstr(err, want)) {
        printf("  %s %s: rc %d, err '%s' (want %d, '%s')\n", type, coords, rc, err, rc_want,
               want);
        return 0;
    }
    return 1;
}

static int jfail(const char *text, const char *want)
{
    json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
    struct geo_shape *s = NULL;
    int rc, ok;

    if (!j)
        return 0;
    err[0] = '\0';
    rc = geo_parse_json(j, &s, err, sizeof(err));
    json_decref(j);
    ok = rc == VG_EINVAL && s == NULL && strstr(err, want);
    if (!ok)
        printf("  %s: rc %d, err '%s' (want '%s')\n", text, rc, err, want);
    geo_free(s);
    return ok;
}

/* "entity <rel> query" from text forms. -1 if something does not parse. */
static int rel(const char *georel, const char *qt, const char *qc, const char *et, const char *ec)
{
    struct georel r;
    struct geo_shape *q = shp(qt, qc), *e = shp(et, ec);
    int out = -1;

    if (q && e && georel_parse(georel, &r, err, sizeof(err)) == VG_OK)
        out = geo_match(&r, q, e);
    geo_free(q);
    geo_free(e);
    return out;
}

static double dist(const char *at, const char *ac, const char *bt, const char *bc)
{
    struct geo_shape *a = shp(at, ac), *b = shp(bt, bc);
    double d = -1;

    if (a && b)
        d = geo_distance_m(a, b);
    geo_free(a);
    geo_free(b);
    return d;
}

/* Spherical law of cosines in long double: independent of the module's haversine. */
static double cosines_m(double lat1, double lon1, double lat2, double lon2)
{
    long double p1 = lat1 * D2R, p2 = lat2 * D2R, dl = (lon2 - lon1) * D2R;
    long double c = sinl(p1) * sinl(p2) + cosl(p1) * cosl(p2) * cosl(dl);

    if (c > 1)
        c = 1;
    return (double)(R_EARTH * acosl(c));
}

static int close_rel(double got, double want, double tol)
{
    int ok = fabs(got - want) <= tol * fabs(want);

    if (!ok)
        printf("  distance %.3f, want %.3f (+-%.2f%%)\n", got, want, tol * 100);
    return ok;
}

static void test_parse_ok(void)
{
    struct geo_shape *s;
    json_t *j;
    double b[4];

    s = shp("Point", "[2.35, 48.85]");
    REQUIRE(s);
    CHECK_EQ_INT(geo_shape_type(s), GEO_POINT);
    geo_bbox(s, b);
    CHECK(b[0] == 2.35 && b[1] == 48.85 && b[2] == 2.35 && b[3] == 48.85);
    geo_free(s);

    s = shp("Point", "[2.35, 48.85, 35.5]"); /* altitude accepted and ignored */
    CHECK(s && geo_shape_type(s) == GEO_POINT);
    geo_free(s);

    s = shp("MultiPoint", "[[0,0],[10,5],[-3,-7]]");
    REQUIRE(s);
    geo_bbox(s, b);
    CHECK(b[0] == -3 && b[1] == -7 && b[2] == 10 && b[3] == 5);
    geo_free(s);

    s = shp("LineString", "[[0,0],[1,1],[2,0]]");
    CHECK(s && geo_shape_type(s) == GEO_LINESTRING);
    geo_free(s);
    s = shp("MultiLineString", "[[[0,0],[1,1]],[[5,5],[6,6]]]");
    CHECK(s && geo_shape_type(s) == GEO_MULTILINESTRING);
    geo_free(s);
    s = shp("Polygon", "[[[0,0],[10,0],[10,10],[0,10],[0,0]],[[4,4],[6,4],[6,6],[4,6],[4,4]]]");
    CHECK(s && geo_shape_type(s) == GEO_POLYGON);
    geo_free(s);
    s = shp("MultiPolygon", "[[[[0,0],[1,0],[1,1],[0,0]]],[[[180,90],[-180,-90],[0,0],[180,90]]]]");
    REQUIRE(s);
    CHECK_EQ_INT(geo_shape_type(s), GEO_MULTIPOLYGON);
    geo_bbox(s, b);
    CHECK(b[0] == -180 && b[1] == -90 && b[2] == 180 && b[3] == 90);
    geo_free(s);

    j = json_loads("{\"type\":\"Point\",\"coordinates\":[8,40],\"bbox\":[8,40,8,40]}", 0, NULL);
    REQUIRE(j);
    s = NULL;
    CHECK_EQ_INT(geo_parse_json(j, &s, err, sizeof(err)), VG_OK);
    CHECK(s && geo_shape_type(s) == GEO_POINT);
    geo_free(s);
    json_decref(j);
    geo_free(NULL);
}

static void test_parse_errors(void)
{
    char *big;
    size_t i, n;

    CHECK(jfail("{\"type\":\"GeometryCollection\",\"geometries\":[]}",
                "GeometryCollection is not supported"));
    CHECK(jfail("{\"type\":\"Circle\",\"coordinates\":[1,2]}", "unknown geometry type 'Circle'"));
    CHECK(jfail("{\"coordinates\":[1,2]}", "type: missing"));
    CHECK(jfail("{\"type\":\"Point\"}", "coordinates: missing"));
    CHECK(jfail("[1,2]", "expected a GeoJSON geometry object"));
    CHECK(qfail("GeometryCollection", "[]", VG_EINVAL, "GeometryCollection is not supported"));
    CHECK(qfail("point", "[1,2]", VG_EINVAL, "unknown geometry type"));
    CHECK(qfail("Point", "[1,95]", VG_EINVAL, "coordinates: latitude 95 out of range [-90, 90]"));
    CHECK(qfail("Point", "[200,1]", VG_EINVAL,
                "coordinates: longitude 200 out of range [-180, 180]"));
    CHECK(qfail("Point", "[1]", VG_EINVAL,
                "coordinates: expected a [longitude, latitude] position"));
    CHECK(qfail("Point", "[1,2,3,4]", VG_EINVAL, "at most 3 elements"));
    CHECK(qfail("Point", "[1,\"2\"]", VG_EINVAL, "coordinates[1]: latitude is not a number"));
    CHECK(qfail("Point", "[1,2,null]", VG_EINVAL, "altitude is not a number"));
    CHECK(qfail("Point", "[1,2", VG_EINVAL, "coordinates: invalid JSON"));
    CHECK(qfail("Point", "[1e999,2]", VG_EINVAL, "invalid JSON"));
    CHECK(qfail("MultiLineString", "[[[1,2],[3,4]],[5,6]]", VG_EINVAL,
                "coordinates[1][0]: expected a [longitude, latitude] position"));
    CHECK(qfail("LineString", "[[1,2]]", VG_EINVAL, "a line needs at least 2 positions"));
    CHECK(qfail("MultiPoint", "[]", VG_EINVAL, "expected at least one position"));
    CHECK(qfail("Polygon", "[]", VG_EINVAL, "at least one linear ring"));
    CHECK(qfail("Polygon", "[[[0,0],[1,0],[0,0]]]", VG_EINVAL,
                "coordinates[0]: a linear ring needs at least 4 positions"));
    CHECK(qfail("Polygon", "[[[0,0],[1,0],[1,1],[0,1]]]", VG_EINVAL,
                "coordinates[0]: linear ring is not closed"));
    CHECK(qfail("MultiPolygon", "[[[[0,0],[1,0],[1,1],[0,0]]],[[[0,0],[1,0],[1,1],[0,0.5]]]]",
                VG_EINVAL, "coordinates[1][0]: linear ring is not closed"));
    CHECK(qfail("MultiPolygon", "[[[[0,0],[1,0],[1,1],[0,0]]],[[[0,0],[1,0],[1,100],[0,0]]]]",
                VG_EINVAL, "coordinates[1][0][2]: latitude 100 out of range"));
    CHECK(qfail("Point", NULL, VG_EINVAL, "coordinates: missing"));

    /* Limits: 100,001 positions, and a text over 1 MiB. */
    n = 100001;
    big = malloc(n * 6 + 8);
    REQUIRE(big);
    big[0] = '[';
    for (i = 0; i < n; i++)
        memcpy(big + 1 + i * 6, "[0,0],", 6);
    big[n * 6] = ']';
    big[n * 6 + 1] = '\0';
    CHECK(qfail("MultiPoint", big, VG_ETOOBIG, "more than 100000 positions"));
    big[(n - 1) * 6] = ']'; /* exactly 100,000 */
    big[(n - 1) * 6 + 1] = '\0';
    {
        struct geo_shape *s = shp("MultiPoint", big);
        CHECK(s != NULL);
        geo_free(s);
    }
    free(big);
    big = malloc((1u << 20) + 16);
    REQUIRE(big);
    memset(big, ' ', (1u << 20) + 8);
    memcpy(big, "[1,2]", 5);
    big[(1u << 20) + 8] = '\0';
    CHECK(qfail("Point", big, VG_ETOOBIG, "longer than"));
    free(big);
}

static void test_georel_parse(void)
{
    struct georel r;

    CHECK_EQ_INT(georel_parse("near;maxDistance==2000", &r, err, sizeof(err)), VG_OK);
    CHECK(r.op == GEOREL_NEAR && r.has_max && !r.has_min && r.max_distance == 2000);
    CHECK_EQ_INT(georel_parse("near;minDistance==10.5", &r, err, sizeof(err)), VG_OK);
    CHECK(r.op == GEOREL_NEAR && !r.has_max && r.has_min && r.min_distance == 10.5);
    CHECK_EQ_INT(georel_parse("near;minDistance==10;maxDistance==1e3", &r, err, sizeof(err)),
                 VG_OK);
    CHECK(r.has_max && r.has_min && r.max_distance == 1000 && r.min_distance == 10);
    CHECK_EQ_INT(georel_parse("near;maxDistance==0", &r, err, sizeof(err)), VG_OK);
    CHECK_EQ_INT(georel_parse("within", &r, err, sizeof(err)), VG_OK);
    CHECK_EQ_INT(r.op, GEOREL_WITHIN);
    CHECK_EQ_INT(georel_parse("contains", &r, err, sizeof(err)), VG_OK);
    CHECK_EQ_INT(r.op, GEOREL_CONTAINS);
    CHECK_EQ_INT(georel_parse("intersects", &r, err, sizeof(err)), VG_OK);
    CHECK_EQ_INT(r.op, GEOREL_INTERSECTS);
    CHECK_EQ_INT(georel_parse("equals", &r, err, sizeof(err)), VG_OK);
    CHECK_EQ_INT(r.op, GEOREL_EQUALS);
    CHECK_EQ_INT(georel_parse("disjoint", &r, err, sizeof(err)), VG_OK);
    CHECK_EQ_INT(r.op, GEOREL_DISJOINT);
    CHECK_EQ_INT(georel_parse("overlaps", &r, err, sizeof(err)), VG_OK);
    CHECK_EQ_INT(r.op, GEOREL_OVERLAPS);

    r.op = GEOREL_EQUALS;
    CHECK_EQ_INT(georel_parse("nearby", &r, err, sizeof(err)), VG_EINVAL);
    CHECK(strstr(err, "unknown relation 'nearby'"));
    CHECK_EQ_INT(r.op, GEOREL_EQUALS); /* unchanged on error */
    CHECK_EQ_INT(georel_parse("", &r, err, sizeof(err)), VG_EINVAL);
    CHECK_EQ_INT(georel_parse("near", &r, err, sizeof(err)), VG_EINVAL);
    CHECK(strstr(err, "near needs"));
    CHECK_EQ_INT(georel_parse("near;", &r, err, sizeof(err)), VG_EINVAL);
    CHECK_EQ_INT(georel_parse("within;maxDistance==5", &r, err, sizeof(err)), VG_EINVAL);
    CHECK(strstr(err, "takes no modifier"));
    CHECK_EQ_INT(georel_parse("near;maxDistance==-1", &r, err, sizeof(err)), VG_EINVAL);
    CHECK(strstr(err, "maxDistance '-1'"));
    CHECK_EQ_INT(georel_parse("near;maxDistance==nan", &r, err, sizeof(err)), VG_EINVAL);
    CHECK_EQ_INT(georel_parse("near;maxDistance==inf", &r, err, sizeof(err)), VG_EINVAL);
    CHECK_EQ_INT(georel_parse("near;maxDistance==1e999", &r, err, sizeof(err)), VG_EINVAL);
    CHECK_EQ_INT(georel_parse("near;maxDistance==12abc", &r, err, sizeof(err)), VG_EINVAL);
    CHECK_EQ_INT(georel_parse("near;maxDistance== 12", &r, err, sizeof(err)), VG_EINVAL);
    CHECK_EQ_INT(georel_parse("near;maxDistance==", &r, err, sizeof(err)), VG_EINVAL);
    CHECK(strstr(err, "no value"));
    CHECK_EQ_INT(georel_parse("near;maxDistance==0x10", &r, err, sizeof(err)), VG_EINVAL);
    CHECK_EQ_INT(georel_parse("near;maxDistance:2000", &r, err, sizeof(err)), VG_EINVAL);
    CHECK(strstr(err, "unknown modifier"));
    CHECK_EQ_INT(georel_parse("near;maxDistance==1;maxDistance==2", &r, err, sizeof(err)),
                 VG_EINVAL);
    CHECK(strstr(err, "maxDistance given twice"));
    CHECK_EQ_INT(georel_parse("near;minDistance==1;minDistance==1", &r, err, sizeof(err)),
                 VG_EINVAL);
    CHECK_EQ_INT(georel_parse("near;maxDistance==1;", &r, err, sizeof(err)), VG_EINVAL);
    CHECK_EQ_INT(georel_parse(NULL, &r, err, sizeof(err)), VG_EINVAL);
    CHECK_EQ_INT(georel_parse("within", &r, NULL, 0), VG_OK);
    CHECK_EQ_INT(georel_parse("bad", &r, NULL, 0), VG_EINVAL); /* no buffer: no crash */
}

static void test_distance_points(void)
{
    double d, want;

    /* Paris, Nation -> Bastille: about 2.04 km. */
    d = dist("Point", "[2.3959,48.8483]", "Point", "[2.3691,48.8532]");
    want = cosines_m(48.8483, 2.3959, 48.8532, 2.3691);
    CHECK(close_rel(d, want, 0.005));
    CHECK(d > 2000 && d < 2100);
    /* Paris -> London, about 343.6 km. */
    d = dist("Point", "[2.3522,48.8566]", "Point", "[-0.1278,51.5074]");
    CHECK(close_rel(d, cosines_m(48.8566, 2.3522, 51.5074, -0.1278), 0.005));
    /* Across the antimeridian: 0.2 degree of longitude on the equator. */
    d = dist("Point", "[179.9,0]", "Point", "[-179.9,0]");
    CHECK(close_rel(d, R_EARTH * 0.2 * D2R, 0.001));
    CHECK(dist("Point", "[5,5]", "Point", "[5,5]") == 0);
    /* Symmetric. */
    CHECK(fabs(dist("Point", "[2.3959,48.8483]", "MultiPoint", "[[2.3691,48.8532],[0,0]]") -
               dist("MultiPoint", "[[2.3691,48.8532],[0,0]]", "Point", "[2.3959,48.8483]")) <
          1e-6);
}

static void test_distance_segments(void)
{
    double d, want;

    /* Point to a meridian segment 0.01 degree east at 48.85N: cross-track distance. */
    d = dist("Point", "[2.35,48.85]", "LineString", "[[2.36,48.80],[2.36,48.90]]");
    want = R_EARTH * asin(cos(48.85 * D2R) * sin(0.01 * D2R));
    CHECK(close_rel(d, want, 0.005));
    /* An oblique segment, 20 km away: against a dense sampling of the segment. */
    {
        double a[2] = {2.0, 48.0}, b[2] = {2.5, 48.4}, best = 1e30;
        int i;
        d = dist("Point", "[2.5,48.0]", "LineString", "[[2.0,48.0],[2.5,48.4]]");
        for (i = 0; i <= 100000; i++) {
            double t = i / 100000.0;
            double lon = a[0] + t * (b[0] - a[0]), lat = a[1] + t * (b[1] - a[1]);
            double x = cosines_m(48.0, 2.5, lat, lon);
            if (x < best)
                best = x;
        }
        CHECK(close_rel(d, best, 0.005));
    }
    /* Past the segment's end: distance to the endpoint. */
    d = dist("Point", "[2.36,48.95]", "LineString", "[[2.36,48.80],[2.36,48.90]]");
    CHECK(close_rel(d, cosines_m(48.95, 2.36, 48.90, 2.36), 0.001));
    /* Inside a polygon: 0; outside: distance to the nearest edge. */
    CHECK(dist("Point", "[0.5,0.5]", "Polygon", "[[[0,0],[1,0],[1,1],[0,1],[0,0]]]") == 0);
    d = dist("Point", "[0.5,1.001]", "Polygon", "[[[0,0],[1,0],[1,1],[0,1],[0,0]]]");
    CHECK(close_rel(d, R_EARTH * 0.001 * D2R, 0.005));
    /* Inside the hole: distance to the hole's edge. */
    d = dist("Point", "[5,5]", "Polygon",
             "[[[0,0],[10,0],[10,10],[0,10],[0,0]],[[4,4],[6,4],[6,6],[4,6],[4,4]]]");
    CHECK(close_rel(d, cosines_m(5, 5, 5, 6), 0.005));
    /* Crossing lines: 0. Parallel lines 0.001 degree of latitude apart. */
    CHECK(dist("LineString", "[[0,0],[1,1]]", "LineString", "[[0,1],[1,0]]") == 0);
    d = dist("LineString", "[[0,0],[1,0]]", "LineString", "[[0.2,0.001],[0.8,0.001]]");
    CHECK(close_rel(d, R_EARTH * 0.001 * D2R, 0.005));
}

static void test_near(void)
{
    const char *nation = "[2.3959,48.8483]", *bastille = "[2.3691,48.8532]";
    const char *both1 = "near;minDistance==2000;maxDistance==2100";
    const char *both2 = "near;maxDistance==2100;minDistance==2050";

    CHECK_EQ_INT(rel("near;maxDistance==2100", "Point", nation, "Point", bastille), 1);
    CHECK_EQ_INT(rel("near;maxDistance==2000", "Point", nation, "Point", bastille), 0);
    CHECK_EQ_INT(rel("near;minDistance==2000", "Point", nation, "Point", bastille), 1);
    CHECK_EQ_INT(rel("near;minDistance==2100", "Point", nation, "Point", bastille), 0);
    CHECK_EQ_INT(rel(both1, "Point", nation, "Point", bastille),
                 1);
    CHECK_EQ_INT(rel(both2, "Point", nation, "Point", bastille),
                 0);
    CHECK_EQ_INT(rel("near;maxDistance==0", "Point", nation, "Point", nation), 1);
    /* A point inside a polygon is at distance 0. */
    CHECK_EQ_INT(rel("near;maxDistance==1", "Point", "[0.5,0.5]", "Polygon",
                     "[[[0,0],[1,0],[1,1],[0,1],[0,0]]]"),
                 1);
    CHECK_EQ_INT(rel("near;minDistance==1", "Point", "[0.5,0.5]", "Polygon",
                     "[[[0,0],[1,0],[1,1],[0,1],[0,0]]]"),
                 0);
    /* Road (line) 731 m from the point. */
    CHECK_EQ_INT(rel("near;maxDistance==740", "Point", "[2.35,48.85]", "LineString",
                     "[[2.36,48.80],[2.36,48.90]]"),
                 1);
    CHECK_EQ_INT(rel("near;maxDistance==720", "Point", "[2.35,48.85]", "LineString",
                     "[[2.36,48.80],[2.36,48.90]]"),
                 0);
}

static const char *SQ = "[[[0,0],[10,0],[10,10],[0,10],[0,0]]]";
static const char *HOLED = "[[[0,0],[10,0],[10,10],[0,10],[0,0]],[[4,4],[6,4],[6,6],[4,6],[4,4]]]";

static void test_points(void)
{
    /* Point vs polygon with hole. */
    CHECK_EQ_INT(rel("within", "Polygon", HOLED, "Point", "[2,2]"), 1);
    CHECK_EQ_INT(rel("within", "Polygon", HOLED, "Point", "[5,5]"), 0); /* in the hole */
    CHECK_EQ_INT(rel("disjoint", "Polygon", HOLED, "Point", "[5,5]"), 1);
    CHECK_EQ_INT(rel("intersects", "Polygon", HOLED, "Point", "[4,5]"), 1); /* hole edge */
    CHECK_EQ_INT(rel("within", "Polygon", HOLED, "Point", "[4,5]"), 0);     /* boundary only */
    CHECK_EQ_INT(rel("intersects", "Polygon", SQ, "Point", "[10,10]"), 1);  /* corner */
    CHECK_EQ_INT(rel("within", "Polygon", SQ, "Point", "[10,10]"), 0);
    CHECK_EQ_INT(rel("intersects", "Polygon", SQ, "Point", "[10.0001,5]"), 0);
    CHECK_EQ_INT(rel("disjoint", "Polygon", SQ, "Point", "[-1,5]"), 1);
    /* The converse: the polygon contains the point. */
    CHECK_EQ_INT(rel("contains", "Point", "[2,2]", "Polygon", HOLED), 1);
    CHECK_EQ_INT(rel("contains", "Point", "[5,5]", "Polygon", HOLED), 0);
    /* Point vs point, point vs line. */
    CHECK_EQ_INT(rel("intersects", "Point", "[1,2]", "Point", "[1,2]"), 1);
    CHECK_EQ_INT(rel("within", "Point", "[1,2]", "Point", "[1,2]"), 1);
    CHECK_EQ_INT(rel("equals", "Point", "[1,2]", "Point", "[1,2,300]"), 1);
    CHECK_EQ_INT(rel("equals", "Point", "[1,2]", "Point", "[1,2.000001]"), 0);
    CHECK_EQ_INT(rel("intersects", "LineString", "[[0,0],[10,10]]", "Point", "[3,3]"), 1);
    CHECK_EQ_INT(rel("within", "LineString", "[[0,0],[10,10]]", "Point", "[3,3]"), 1);
    CHECK_EQ_INT(rel("within", "LineString", "[[0,0],[10,10]]", "Point", "[0,0]"), 0); /* end */
    CHECK_EQ_INT(rel("intersects", "LineString", "[[0,0],[10,10]]", "Point", "[3,3.01]"), 0);
    /* MultiPoint: within needs every point in. */
    CHECK_EQ_INT(rel("within", "Polygon", SQ, "MultiPoint", "[[1,1],[9,9]]"), 1);
    CHECK_EQ_INT(rel("within", "Polygon", SQ, "MultiPoint", "[[1,1],[11,9]]"), 0);
    CHECK_EQ_INT(rel("intersects", "Polygon", SQ, "MultiPoint", "[[-1,1],[9,9]]"), 1);
    CHECK_EQ_INT(rel("overlaps", "MultiPoint", "[[1,1],[2,2]]", "MultiPoint", "[[2,2],[3,3]]"), 1);
    CHECK_EQ_INT(rel("overlaps", "MultiPoint", "[[1,1],[2,2]]", "MultiPoint", "[[2,2]]"), 0);
    CHECK_EQ_INT(rel("overlaps", "Polygon", SQ, "MultiPoint", "[[-1,1],[9,9]]"), 0); /* dims */
}

static void test_lines(void)
{
    /* Line vs line. */
    CHECK_EQ_INT(rel("intersects", L_AB, L_X),
                 1);
    CHECK_EQ_INT(rel("intersects", L_AB, "LineString", "[[0,1],[9,10]]"),
                 0);
    CHECK_EQ_INT(rel("intersects", "LineString", "[[0,0],[10,0]]", "LineString", "[[10,0],[20,5]]"),
                 1); /* touch at an end */
    CHECK_EQ_INT(rel("within", "LineString", "[[0,0],[10,0]]", "LineString", "[[2,0],[5,0]]"), 1);
    CHECK_EQ_INT(rel("within", "LineString", "[[0,0],[10,0]]", "LineString", "[[2,0],[11,0]]"), 0);
    CHECK_EQ_INT(rel("within", "LineString", "[[0,0],[5,0],[10,0]]", "LineString",
                     "[[2,0],[7,0]]"),
                 1); /* across a vertex */
    CHECK_EQ_INT(rel("overlaps", "LineString", "[[0,0],[10,0]]", "LineString", "[[5,0],[15,0]]"),
                 1);
    CHECK_EQ_INT(rel("overlaps", L_AB, L_X),
                 0); /* crossing is not overlapping */
    CHECK_EQ_INT(rel("overlaps", "LineString", "[[0,0],[10,0]]", "LineString", "[[2,0],[5,0]]"),
                 0); /* within is not overlapping */
    CHECK_EQ_INT(rel("equals", "LineString", "[[0,0],[10,0]]", "LineString", "[[0,0],[10,0]]"), 1);
    CHECK_EQ_INT(rel("equals", "LineString", "[[0,0],[10,0]]", "LineString", "[[10,0],[0,0]]"), 0);
    /* Line vs polygon with hole. */
    CHECK_EQ_INT(rel("within", "Polygon", HOLED, "LineString", "[[1,1],[3,1],[3,9]]"), 1);
    CHECK_EQ_INT(rel("within", "Polygon", HOLED, "LineString", "[[1,5],[9,5]]"), 0); /* hole */
    CHECK_EQ_INT(rel("intersects", "Polygon", HOLED, "LineString", "[[4.5,4.5],[5.5,5.5]]"), 0);
    CHECK_EQ_INT(rel("disjoint", "Polygon", HOLED, "LineString", "[[4.5,4.5],[5.5,5.5]]"), 1);
    CHECK_EQ_INT(rel("intersects", "Polygon", HOLED, "LineString", "[[4.5,4.5],[7,5]]"), 1);
    CHECK_EQ_INT(rel("within", "Polygon", SQ, "LineString", "[[0,0],[10,0]]"), 0); /* on edge */
    CHECK_EQ_INT(rel("intersects", "Polygon", SQ, "LineString", "[[0,0],[10,0]]"), 1);
    CHECK_EQ_INT(rel("within", "Polygon", SQ, "LineString", "[[0,0],[5,5]]"), 1);
    CHECK_EQ_INT(rel("within", "Polygon", SQ, "LineString", "[[-1,5],[5,5]]"), 0);
    CHECK_EQ_INT(rel("intersects", "Polygon", SQ, "LineString", "[[-1,-1],[-2,20]]"), 0);
    CHECK_EQ_INT(rel("contains", "LineString", "[[1,1],[2,2]]", "Polygon", SQ), 1);
    /* A concave polygon (U shape): a chord across the gap leaves it. */
    CHECK_EQ_INT(rel("within", U_SHAPE, "LineString", "[[1,8],[8,8]]"),
                 0);
    CHECK_EQ_INT(rel("within", U_SHAPE, "LineString", "[[1,1],[8,1]]"),
                 1);
}

static void test_polygons(void)
{
    const char *inner = "[[[1,1],[3,1],[3,3],[1,3],[1,1]]]";
    const char *shifted = "[[[5,5],[15,5],[15,15],[5,15],[5,5]]]";
    const char *beside = "[[[10,0],[20,0],[20,10],[10,10],[10,0]]]";
    const char *far = "[[[30,30],[31,30],[31,31],[30,30]]]";

    CHECK_EQ_INT(rel("within", "Polygon", SQ, "Polygon", inner), 1);
    CHECK_EQ_INT(rel("contains", "Polygon", inner, "Polygon", SQ), 1);
    CHECK_EQ_INT(rel("contains", "Polygon", SQ, "Polygon", inner), 0);
    CHECK_EQ_INT(rel("within", "Polygon", SQ, "Polygon", SQ), 1);
    CHECK_EQ_INT(rel("within", "Polygon", SQ, "Polygon", shifted), 0);
    CHECK_EQ_INT(rel("overlaps", "Polygon", SQ, "Polygon", shifted), 1);
    CHECK_EQ_INT(rel("intersects", "Polygon", SQ, "Polygon", shifted), 1);
    CHECK_EQ_INT(rel("overlaps", "Polygon", SQ, "Polygon", beside), 0); /* touching edge */
    CHECK_EQ_INT(rel("intersects", "Polygon", SQ, "Polygon", beside), 1);
    CHECK_EQ_INT(rel("overlaps", "Polygon", SQ, "Polygon", inner), 0);
    CHECK_EQ_INT(rel("disjoint", "Polygon", SQ, "Polygon", far), 1);
    /* Holes: a polygon inside the hole is disjoint; one spanning the hole is not within. */
    CHECK_EQ_INT(rel("disjoint", "Polygon", HOLED, "Polygon",
                     "[[[4.5,4.5],[5.5,4.5],[5.5,5.5],[4.5,4.5]]]"),
                 1);
    CHECK_EQ_INT(rel("within", "Polygon", HOLED, "Polygon", "[[[3,3],[7,3],[7,7],[3,7],[3,3]]]"),
                 0);
    CHECK_EQ_INT(rel("within", "Polygon", HOLED, "Polygon", "[[[1,1],[3,1],[3,9],[1,9],[1,1]]]"),
                 1);
    CHECK_EQ_INT(rel("contains", "Polygon", "[[[3,3],[7,3],[7,7],[3,7],[3,3]]]", "Polygon", HOLED),
                 0);
    /* The hole exactly fills the entity: not within (only the boundary is shared). */
    CHECK_EQ_INT(rel("within", "Polygon", HOLED, "Polygon", "[[[4,4],[6,4],[6,6],[4,6],[4,4]]]"),
                 0);
    CHECK_EQ_INT(rel("intersects", "Polygon", HOLED, "Polygon",
                     "[[[4,4],[6,4],[6,6],[4,6],[4,4]]]"),
                 1);
    /* A polygon with a hole within a plain one; and the converse with the hole inside. */
    CHECK_EQ_INT(rel("within", "Polygon", SQ, "Polygon", HOLED), 1);
    CHECK_EQ_INT(rel("within", "Polygon", HOLED, "Polygon", SQ), 0);
    CHECK_EQ_INT(rel("contains", "Polygon", HOLED, "Polygon", SQ), 1);
    /* Equality up to ring start and orientation. */
    CHECK_EQ_INT(rel("equals", "Polygon", SQ, "Polygon", "[[[10,0],[10,10],[0,10],[0,0],[10,0]]]"),
                 1);
    CHECK_EQ_INT(rel("equals", "Polygon", SQ, "Polygon", "[[[0,0],[0,10],[10,10],[10,0],[0,0]]]"),
                 1);
    CHECK_EQ_INT(rel("equals", "Polygon", SQ, "Polygon", "[[[0,0],[0,10],[10,11],[10,0],[0,0]]]"),
                 0);
    CHECK_EQ_INT(rel("equals", "Polygon", SQ, "MultiPolygon",
                     "[[[[0,0],[10,0],[10,10],[0,10],[0,0]]]]"),
                 0); /* type differs */
    CHECK_EQ_INT(rel("equals", "Polygon", HOLED, "Polygon", HOLED), 1);
}

static void test_multi(void)
{
    /* Two adjacent squares: a line crossing from one into the other is within their union. */
    const char *two = "[[[[0,0],[1,0],[1,1],[0,1],[0,0]]],[[[1,0],[2,0],[2,1],[1,1],[1,0]]]]";
    const char *apart = "[[[[0,0],[1,0],[1,1],[0,1],[0,0]]],[[[3,0],[4,0],[4,1],[3,1],[3,0]]]]";

    CHECK_EQ_INT(rel("within", "MultiPolygon", two, "LineString", "[[0.5,0.5],[1.5,0.5]]"), 1);
    CHECK_EQ_INT(rel("within", "MultiPolygon", two, "Polygon",
                     "[[[0.5,0.2],[1.5,0.2],[1.5,0.8],[0.5,0.8],[0.5,0.2]]]"),
                 1);
    CHECK_EQ_INT(rel("within", "MultiPolygon", apart, "LineString", "[[0.5,0.5],[3.5,0.5]]"), 0);
    CHECK_EQ_INT(rel("intersects", "MultiPolygon", apart, "Point", "[3.5,0.5]"), 1);
    CHECK_EQ_INT(rel("intersects", "MultiPolygon", apart, "Point", "[2,0.5]"), 0);
    CHECK_EQ_INT(rel("within", "MultiPolygon", apart, "MultiPoint", "[[0.5,0.5],[3.5,0.5]]"), 1);
    CHECK_EQ_INT(rel("contains", "Point", "[3.5,0.5]", "MultiPolygon", apart), 1);
    CHECK_EQ_INT(rel("intersects", "MultiLineString", "[[[0,0],[1,1]],[[5,0],[5,10]]]",
                     "LineString", "[[4,5],[6,5]]"),
                 1);
    CHECK_EQ_INT(rel("within", "MultiLineString", "[[[0,0],[1,1]],[[5,0],[5,10]]]", "LineString",
                     "[[5,2],[5,3]]"),
                 1);
    CHECK_EQ_INT(rel("overlaps", "MultiPolygon", apart, "Polygon",
                     "[[[0.5,0.5],[3.5,0.5],[3.5,2],[0.5,2],[0.5,0.5]]]"),
                 1);
    CHECK_EQ_INT(rel("near;maxDistance==1", "MultiPolygon", apart, "Point", "[3.5,0.5]"), 1);
    {
        double d = dist("MultiPolygon", apart, "Point", "[2,0.5]");
        CHECK(close_rel(d, R_EARTH * 1.0 * D2R, 0.005));
    }
}

struct coll {
    uint64_t *v;
    size_t n, cap;
};

static int collect(void *arg, uint64_t h)
{
    struct coll *c = arg;

    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 256;
        c->v = realloc(c->v, c->cap * sizeof(uint64_t));
        if (!c->v)
            abort();
    }
    c->v[c->n++] = h;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static double urand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static void test_search_bbox(void)
{
    struct georel r;
    struct geo_shape *q = shp("Point", "[2.35,48.85]"), *p;
    double b[4], ang;
    char buf[64];
    int i, inside = 1;

    REQUIRE(q);
    REQUIRE(georel_parse("near;maxDistance==1000", &r, err, sizeof(err)) == VG_OK);
    geo_search_bbox(&r, q, b);
    CHECK(b[0] < 2.35 && b[2] > 2.35 && b[1] < 48.85 && b[3] > 48.85);
    CHECK(b[3] - b[1] < 0.02 && b[2] - b[0] < 0.03);
    /* Points just under 1 km in every direction fall in the box. */
    for (i = 0; i < 360; i++) {
        ang = i * D2R;
        double dlat = 999.0 / R_EARTH / D2R * cos(ang);
        double dlon = 999.0 / R_EARTH / D2R * sin(ang) / cos(48.85 * D2R);
        snprintf(buf, sizeof(buf), "[%.9f,%.9f]", 2.35 + dlon, 48.85 + dlat);
        p = shp("Point", buf);
        if (!p)
            continue;
        if (geo_match(&r, q, p)) {
            double pb[4];
            geo_bbox(p, pb);
            if (pb[0] < b[0] || pb[0] > b[2] || pb[1] < b[1] || pb[1] > b[3])
                inside = 0;
        } else {
            inside = 0; /* 999 m must match */
        }
        geo_free(p);
    }
    CHECK(inside);
    REQUIRE(georel_parse("disjoint", &r, err, sizeof(err)) == VG_OK);
    geo_search_bbox(&r, q, b);
    CHECK(b[0] == -180 && b[1] == -90 && b[2] == 180 && b[3] == 90);
    REQUIRE(georel_parse("near;minDistance==5", &r, err, sizeof(err)) == VG_OK);
    geo_search_bbox(&r, q, b);
    CHECK(b[0] == -180 && b[2] == 180);
    REQUIRE(georel_parse("within", &r, err, sizeof(err)) == VG_OK);
    geo_search_bbox(&r, q, b);
    CHECK(b[0] == 2.35 && b[1] == 48.85 && b[2] == 2.35 && b[3] == 48.85);
    geo_free(q);
    /* Near the antimeridian the box opens to every longitude. */
    q = shp("Point", "[179.999,10]");
    REQUIRE(q);
    REQUIRE(georel_parse("near;maxDistance==5000", &r, err, sizeof(err)) == VG_OK);
    geo_search_bbox(&r, q, b);
    CHECK(b[0] == -180 && b[2] == 180);
    geo_free(q);
}

#define NBOX 20000

static void random_box(double b[4])
{
    double lon = 2.0 + urand(), lat = 48.5 + urand(), w = 0, h = 0, k = urand();

    if (k < 0.6) {
        w = h = 0; /* point */
    } else if (k < 0.9) {
        w = urand() * 0.03;
        h = urand() * 0.03;
    } else if (k < 0.98) {
        w = urand() * 0.5; /* overflow list */
        h = urand() * 0.5;
    } else {
        lon = -180 + 360 * urand() * 0.5;
        lat = -90 + 90 * urand();
        w = 180;
        h = 90;
    }
    b[0] = lon;
    b[1] = lat;
    b[2] = fmin(lon + w, 180);
    b[3] = fmin(lat + h, 90);
}

static int box_meet(const double a[4], const double b[4])
{
    return a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3];
}

/* Every query: the index returns exactly the brute-force set, each handle once. */
static int compare_all(struct geo_index *ix, double (*boxes)[4], const int *live, int nq)
{
    struct coll got = {NULL, 0, 0}, want = {NULL, 0, 0};
    int q, i, bad = 0;
    size_t k;

    for (q = 0; q < nq && !bad; q++) {
        double qb[4];
        if (q == 0) {
            qb[0] = -180, qb[1] = -90, qb[2] = 180, qb[3] = 90;
        } else {
            double w = urand() < 0.8 ? urand() * 0.05 : urand() * 1.2;
            qb[0] = 1.9 + urand() * 1.2;
            qb[1] = 48.4 + urand() * 1.2;
            qb[2] = qb[0] + w;
            qb[3] = qb[1] + w * (0.5 + urand());
        }
        got.n = want.n = 0;
        geo_index_search(ix, qb, collect, &got);
        for (i = 0; i < NBOX; i++)
            if (live[i] && box_meet(boxes[i], qb))
                collect(&want, (uint64_t)i * 7 + 3);
        qsort(got.v, got.n, sizeof(uint64_t), cmp_u64);
        qsort(want.v, want.n, sizeof(uint64_t), cmp_u64);
        if (got.n != want.n)
            bad = 1;
        for (k = 0; !bad && k < got.n; k++)
            if (got.v[k] != want.v[k])
                bad = 1;
        if (bad)
            printf("  query %d: index %zu handles, brute force %zu\n", q, got.n, want.n);
    }
    free(got.v);
    free(want.v);
    return !bad;
}

static void test_index_property(void)
{
    double (*boxes)[4] = malloc(sizeof(double[4]) * NBOX);
    int *live = calloc(NBOX, sizeof(int));
    struct geo_index *ix = geo_index_new();
    int i, n;

    REQUIRE(boxes && live && ix);
    for (i = 0; i < NBOX; i++) {
        random_box(boxes[i]);
        geo_index_put(ix, (uint64_t)i * 7 + 3, boxes[i]);
        live[i] = 1;
    }
    CHECK_EQ_INT(geo_index_count(ix), NBOX);
    CHECK(compare_all(ix, boxes, live, 200));
    /* Move a third, delete a quarter, then compare again. */
    for (i = 0, n = 0; i < NBOX; i++) {
        double k = urand();
        if (k < 0.33) {
            random_box(boxes[i]);
            geo_index_put(ix, (uint64_t)i * 7 + 3, boxes[i]);
        } else if (k < 0.58) {
            geo_index_del(ix, (uint64_t)i * 7 + 3);
            live[i] = 0;
        }
        n += live[i];
    }
    CHECK_EQ_INT(geo_index_count(ix), n);
    CHECK(compare_all(ix, boxes, live, 200));
    /* Re-insert the deleted ones (slot reuse). */
    for (i = 0; i < NBOX; i++)
        if (!live[i]) {
            random_box(boxes[i]);
            geo_index_put(ix, (uint64_t)i * 7 + 3, boxes[i]);
            live[i] = 1;
        }
    CHECK_EQ_INT(geo_index_count(ix), NBOX);
    CHECK(compare_all(ix, boxes, live, 50));
    geo_index_free(ix);
    free(boxes);
    free(live);
}

static int stop_at_first(void *arg, uint64_t h)
{
    (*(int *)arg)++;
    return 7;
}

static void test_index_ops(void)
{
    struct geo_index *ix = geo_index_new();
    struct coll c = {NULL, 0, 0};
    double a[4] = {2.35, 48.85, 2.35, 48.85}, far[4] = {-70, -30, -70, -30};
    double q[4] = {2.34, 48.84, 2.36, 48.86}, big[4] = {0, 40, 10, 50};
    double bad[4] = {NAN, 1, 2, NAN}, nw[4] = {-100, 10, -99, 11};
    int hits = 0;

    REQUIRE(ix);
    geo_index_put(ix, 1, a);
    geo_index_put(ix, UINT64_MAX, a);
    geo_index_put(ix, 0, big); /* overflow list */
    CHECK_EQ_INT(geo_index_count(ix), 3);
    geo_index_search(ix, q, collect, &c);
    CHECK_EQ_INT(c.n, 3);
    /* Move 1 far away. */
    geo_index_put(ix, 1, far);
    CHECK_EQ_INT(geo_index_count(ix), 3);
    c.n = 0;
    geo_index_search(ix, q, collect, &c);
    CHECK_EQ_INT(c.n, 2);
    c.n = 0;
    geo_index_search(ix, far, collect, &c);
    CHECK(c.n == 1 && c.v[0] == 1);
    /* Move the big one into the grid and back. */
    geo_index_put(ix, 0, a);
    c.n = 0;
    geo_index_search(ix, big, collect, &c);
    CHECK_EQ_INT(c.n, 2);
    geo_index_put(ix, 0, big);
    /* Delete; deleting twice or an unknown handle is harmless. */
    geo_index_del(ix, UINT64_MAX);
    geo_index_del(ix, UINT64_MAX);
    geo_index_del(ix, 424242);
    CHECK_EQ_INT(geo_index_count(ix), 2);
    c.n = 0;
    geo_index_search(ix, q, collect, &c);
    CHECK(c.n == 1 && c.v[0] == 0);
    /* A non-zero callback return stops the search and is returned. */
    CHECK_EQ_INT(geo_index_search(ix, big, stop_at_first, &hits), 7);
    CHECK_EQ_INT(hits, 1);
    /* NaN sides of a box are taken as the world's: here lon [-180, 2], lat [1, 90]. */
    geo_index_put(ix, 5, bad);
    c.n = 0;
    geo_index_search(ix, nw, collect, &c);
    CHECK(c.n == 1 && c.v[0] == 5);
    geo_index_free(ix);
    geo_index_free(NULL);
    free(c.v);
}

struct bench {
    struct geo_shape **pts;
    const struct geo_shape *q;
    const struct georel *r;
    uint64_t matched;
};

static int bench_fn(void *arg, uint64_t h)
{
    struct bench *b = arg;

    b->matched += geo_match(b->r, b->q, b->pts[h]) != 0;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* 100,000 points over 0.7 x 0.5 degree (Paris and suburbs); 1 km near searches. */
static void test_index_bench(void)
{
    enum { N = 100000, NQ = 1000 };
    struct geo_shape **pts = calloc(N, sizeof(*pts));
    struct geo_index *ix = geo_index_new();
    struct georel r;
    struct bench b;
    char buf[64];
    double t0, box[4];
    uint64_t brute = 0, found = 0;
    int i, ok = 1;

    REQUIRE(pts && ix);
    REQUIRE(georel_parse("near;maxDistance==1000", &r, err, sizeof(err)) == VG_OK);
    for (i = 0; i < N && ok; i++) {
        snprintf(buf, sizeof(buf), "[%.6f,%.6f]", 2.0 + urand() * 0.7, 48.6 + urand() * 0.5);
        pts[i] = shp("Point", buf);
        if (!pts[i]) {
            ok = 0;
            break;
        }
        geo_bbox(pts[i], box);
        geo_index_put(ix, (uint64_t)i, box);
    }
    CHECK(ok);
    b.pts = pts;
    b.r = &r;
    for (i = 0; ok && i < 40; i++) {
        struct geo_shape *q;
        snprintf(buf, sizeof(buf), "[%.6f,%.6f]", 2.05 + urand() * 0.6, 48.65 + urand() * 0.4);
        q = shp("Point", buf);
        if (!q)
            break;
        b.q = q;
        b.matched = 0;
        geo_search_bbox(&r, q, box);
        geo_index_search(ix, box, bench_fn, &b);
        { /* against brute force */
            int k;
            uint64_t m = 0;
            for (k = 0; k < N; k++)
                m += geo_match(&r, q, pts[k]) != 0;
            brute += m;
            if (m != b.matched)
                ok = 0;
        }
        geo_free(q);
    }
    CHECK(ok);
    CHECK(brute > 0);
    /* Timed loop on its own, without the brute-force checks. */
    {
        struct geo_shape *qs[100];
        double total;
        int k;
        for (k = 0; k < 100; k++) {
            snprintf(buf, sizeof(buf), "[%.6f,%.6f]", 2.05 + urand() * 0.6, 48.65 + urand() * 0.4);
            qs[k] = shp("Point", buf);
        }
        found = 0;
        t0 = now_s();
        for (i = 0; i < NQ; i++) {
            b.q = qs[i % 100];
            if (!b.q)
                continue;
            b.matched = 0;
            geo_search_bbox(&r, b.q, box);
            geo_index_search(ix, box, bench_fn, &b);
            found += b.matched;
        }
        total = now_s() - t0;
        printf("  bench: %d points, 1 km near search (box + exact distance): %.1f us/query, "
               "%.0f matches/query\n",
               N, total / NQ * 1e6, (double)found / NQ);
        for (k = 0; k < 100; k++)
            geo_free(qs[k]);
    }
    geo_index_free(ix);
    for (i = 0; i < N; i++)
        geo_free(pts[i]);
    free(pts);
}

int main(void)
{
    TEST_BEGIN("geo");
    TEST_RUN(test_parse_ok);
    TEST_RUN(test_parse_errors);
    TEST_RUN(test_georel_parse);
    TEST_RUN(test_distance_points);
    TEST_RUN(test_distance_segments);
    TEST_RUN(test_near);
    TEST_RUN(test_points);
    TEST_RUN(test_lines);
    TEST_RUN(test_polygons);
    TEST_RUN(test_multi);
    TEST_RUN(test_search_bbox);
    TEST_RUN(test_index_property);
    TEST_RUN(test_index_ops);
    TEST_RUN(test_index_bench);
    return TEST_END();
}
