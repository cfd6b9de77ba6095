/*
** ngsild/geo.h: geometry for NGSI-LD geo-queries (ETSI GS CIM 009 cl. 4.10): GeoJSON geometries
** (Point, MultiPoint, LineString, MultiLineString, Polygon, MultiPolygon; not
** GeometryCollection), the georel grammar, the spatial predicates, and a spatial index.
** Coordinates are [longitude, latitude] in degrees (WGS84). Distances (near) are great-circle
** metres on a sphere of radius 6,371,008.8 m (the IUGG mean radius); documented in docs/api.md.
** The topological predicates (within, contains, intersects, equals, disjoint, overlaps) are
** computed in planar lon/lat coordinates, as GeoJSON (RFC 7946) prescribes for simple
** geometries, with exact segment-intersection tests.
** Owns: struct geo_shape (parsed geometry), struct geo_index (a uniform-grid index of bounding
** boxes keyed by uint64 handles).
** Thread: shapes are immutable after parsing; geo_index is NOT thread-safe (callers lock).
*/
#ifndef VG_NGSILD_GEO_H
#define VG_NGSILD_GEO_H

#include "core/vg.h"

#include <jansson.h>

enum geo_type {
    GEO_POINT = 1, GEO_MULTIPOINT, GEO_LINESTRING, GEO_MULTILINESTRING, GEO_POLYGON,
    GEO_MULTIPOLYGON
};

struct geo_shape; /* opaque */

/* Limits: <= 100,000 positions per geometry, nesting as GeoJSON defines. Longitudes must be in
** [-180, 180], latitudes in [-90, 90], all finite; polygon rings closed with >= 4 positions. */
#define GEO_MAX_POSITIONS 100000

/* Parse a GeoJSON geometry object {"type":..., "coordinates":...}. On error *out is unchanged and
** err says what is wrong, e.g. "coordinates: latitude 95 out of range [-90, 90]". */
int geo_parse_json(const json_t *geometry, struct geo_shape **out, char *err, size_t cap);
/* Parse the query form: geometry name ("Point", ...) and the coordinates text ("[8,40]"). */
int geo_parse_query(const char *geometry, const char *coordinates, struct geo_shape **out,
                    char *err, size_t cap);
void geo_free(struct geo_shape *s);
enum geo_type geo_shape_type(const struct geo_shape *s);
/* Bounding box: b[0]=min lon, b[1]=min lat, b[2]=max lon, b[3]=max lat. */
void geo_bbox(const struct geo_shape *s, double b[4]);

enum georel_op {
    GEOREL_NEAR = 1, GEOREL_WITHIN, GEOREL_CONTAINS, GEOREL_INTERSECTS, GEOREL_EQUALS,
    GEOREL_DISJOINT, GEOREL_OVERLAPS
};
struct georel {
    enum georel_op op;
    double max_distance, min_distance; /* metres; only for near */
    int has_max, has_min;
};
/* Parse "near;maxDistance==2000", "near;minDistance==10", "near;maxDistance==2000;minDistance==10",
** "within", ... near needs at least one distance; distances are finite and >= 0. */
int georel_parse(const char *s, struct georel *out, char *err, size_t cap);

/* Does the entity geometry satisfy "entity <georel> query"? near: the minimum distance between
** the two geometries (0 if they intersect) is <= max_distance and >= min_distance. */
int geo_match(const struct georel *r, const struct geo_shape *query, const struct geo_shape *entity);
/* Minimum great-circle distance in metres between the two geometries (0 if they intersect). */
double geo_distance_m(const struct geo_shape *a, const struct geo_shape *b);
/* Bounding box that contains every entity geometry that can satisfy r against query (for
** near: the query bbox grown by max_distance; for disjoint: the whole world). */
void geo_search_bbox(const struct georel *r, const struct geo_shape *query, double b[4]);

/* Spatial index of bounding boxes (a uniform grid over lon/lat with cells of ~0.01 degree,
** entries spanning many cells kept in an overflow list). Handles are the caller's. */
struct geo_index;
struct geo_index *geo_index_new(void);
void geo_index_free(struct geo_index *ix);
/* Insert or move the entry for handle. */
void geo_index_put(struct geo_index *ix, uint64_t handle, const double b[4]);
void geo_index_del(struct geo_index *ix, uint64_t handle);
/* Call fn for every handle whose box intersects b (each once). Non-zero return stops. */
typedef int geo_index_fn(void *arg, uint64_t handle);
int geo_index_search(const struct geo_index *ix, const double b[4], geo_index_fn *fn, void *arg);
uint64_t geo_index_count(const struct geo_index *ix);

#endif
