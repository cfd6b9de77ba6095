/*
** store/value.h: the value types of a series, shared by the engine and the layers above.
** Owns: nothing.
*/
#ifndef VG_STORE_VALUE_H
#define VG_STORE_VALUE_H

#include <stdint.h>

/* On-disk numbers: never renumber. */
enum vg_vtype {
    VT_NONE = 0,
    VT_F64 = 1,  /* IEEE double, NaN/Inf/-0.0 preserved bit for bit */
    VT_I64 = 2,
    VT_BOOL = 3, /* stored in .i as 0 or 1 */
    VT_STR = 4,  /* dictionary-encoded string */
    VT_GEO = 5,  /* WGS84 point: .geo.lat, .geo.lon in degrees */
};

union vg_val {
    double f;
    int64_t i; /* VT_I64 and VT_BOOL */
    struct {
        const char *p; /* borrowed: see the function that produced the value */
        uint32_t len;
    } s;
    struct {
        double lat, lon;
    } geo;
};

const char *vg_vtype_name(enum vg_vtype t); /* "float", "int", "bool", "string", "geo" */

#endif
