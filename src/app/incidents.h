/*
** app/incidents.h: the labelled city for the alert benchmark (bench/alerts_bench.c, docs/demo.md
** "Labelled incidents"). A deterministic generator of N sensors over D days (default 1,000
** sensors, 30 days): building water meters (hourly waterConsumption), noise meters (LAeq every
** 10 min), air sensors (hourly pm25) and delivery vehicles (GPS every 30 s while driving, every
** 2 min while stopped, nothing while parked at the depot), with known incidents injected and
** labelled: leaks, stuck meters, silences, dwells at a school, PM2.5 episodes.
** Like app/demo.c, every value is a pure function of (seed, sensor, timestamp) through a
** counter-based hash, so any split of a window yields the same points.
** Owns: struct incidents (layout, labels, school geofence, per-vehicle route caches).
** Thread: none; one struct incidents is used by one thread at a time.
*/
#ifndef VG_APP_INCIDENTS_H
#define VG_APP_INCIDENTS_H

#include "app/demo.h" /* demo_emit_fn */

#include <stdint.h>

/* Monday 2024-01-08 00:00 Europe/Paris (23:00 UTC the day before): 30 days without a DST change. */
#define INCIDENTS_DEFAULT_START 1704668400000LL

enum incident_kind { INC_LEAK, INC_STUCK, INC_SILENCE, INC_DWELL, INC_PEAK, INC_NKINDS };

/* Sensor classes, with the NGSI-LD type (line-protocol measurement) and attribute of each. */
enum incidents_class {
    IC_WATER,   /* Building, waterConsumption (m³ per hour) */
    IC_NOISE,   /* NoiseLevelObserved, LAeq (dB(A), 10 min) */
    IC_AIR,     /* AirQualityObserved, pm25 (µg/m³, hourly) */
    IC_VEHICLE, /* Vehicle, location (lat/lon) and speed (km/h) */
    IC_NCLASSES
};

/* A labelled incident: sensor is the entity id (urn:ngsi-ld:<type>:<slug>); [start_ms, end_ms).
**   leak:    a constant extra flow from start to the end of the data (end_ms = incidents_end)
**   stuck:   every reading in the window repeats the value at start
**   silence: no reading in the window
**   dwell:   the vehicle stands at a school gate (inside the geofence) for the window
**   peak:    pm25 above 50 for the window (the plateau; ramps of 1 h on each side) */
struct incident {
    int kind; /* enum incident_kind */
    int cls;  /* enum incidents_class of the sensor */
    uint32_t idx; /* the sensor's index in its class */
    char sensor[64];
    int64_t start_ms, end_ms;
};

struct incidents_opts {
    uint64_t seed;    /* 0 = 42 */
    int64_t start_ms; /* 0 = INCIDENTS_DEFAULT_START */
    int days;         /* 0 = 30 (at least 10) */
    int sensors;      /* 0 = 1000 (at least 40): 30 % water, 30 % noise, 20 % air, 20 % vehicles */
};

struct incidents;

/* Lay out the sensors and draw the incidents. Returns NULL on bad options. Free with
** incidents_free. */
struct incidents *incidents_new(const struct incidents_opts *o);
/* NULL is a no-op. */
void incidents_free(struct incidents *g);

int64_t incidents_start(const struct incidents *g);
int64_t incidents_end(const struct incidents *g); /* start + days */
/* "leak", "stuck", "silence", "dwell", "peak"; "?" otherwise. */
const char *incidents_kind_name(int kind);
/* The labels, sorted by start time; borrowed from g. Returns the count. */
uint32_t incidents_labels(const struct incidents *g, const struct incident **out);
/* Sensors of a class, and the entity id of one (borrowed; NULL when out of range). */
uint32_t incidents_count(const struct incidents *g, int cls);
const char *incidents_sensor_id(const struct incidents *g, int cls, uint32_t idx);
/* The school geofence: {"type":"MultiPolygon","coordinates":[...]}, one rectangle of about
** 90 x 70 m per school (lon, lat). Borrowed from g. */
const char *incidents_geofence_json(const struct incidents *g);
/* Is (lat, lon) inside a school polygon? Returns the school index or -1. */
int incidents_school_at(const struct incidents *g, double lat, double lon);

/* Emit every point with from_ms <= ts < to_ms (clamped to the data's span) in batches of about
** 5,000 lines through emit, hour by hour, each series in time order. Same seed and window ->
** same bytes; any split of a window yields the same set of lines. Returns 0 or the emitter's
** non-zero result. */
int incidents_generate(struct incidents *g, int64_t from_ms, int64_t to_ms, demo_emit_fn *emit,
                       void *arg);

/* The values of one scalar sensor (IC_WATER, IC_NOISE, IC_AIR) in [from_ms, to_ms), exactly as
** emitted (incidents included, silences absent), at most cap of them. Returns the count. */
uint32_t incidents_series(struct incidents *g, int cls, uint32_t idx, int64_t from_ms,
                          int64_t to_ms, int64_t *ts, double *v, uint32_t cap);

#endif
