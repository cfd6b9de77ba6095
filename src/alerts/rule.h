/*
** alerts/rule.h: alert rules: their JSON form (POST /api/v1/rules, docs/alerts.md), validation
** with clear errors, target matching, and the incremental evaluation of one rule on one series
** (one entity's attribute): a small state machine fed with each new value and with the passing
** of time. Pure: no I/O, no clock, no threads, no allocation during evaluation. The one outside
** input is the process time zone (localtime_r), read by nightmin rules to find local nights.
** Owns: struct rule (its id lists, polygon and geofence, freed by rule_release).
*/
#ifndef VG_ALERTS_RULE_H
#define VG_ALERTS_RULE_H

#include "meta/catalog.h" /* struct vg_tag */

#include <stddef.h>
#include <stdint.h>

enum rule_kind {
    RULE_THRESHOLD = 1, /* value above (or below) a level, with hysteresis and minimum duration */
    RULE_STALE = 2,     /* no value for longer than a delay */
    RULE_STUCK = 3,     /* the same value repeated (a frozen sensor) */
    RULE_RATE = 4,      /* the value changes faster than a rate */
    RULE_NIGHTMIN = 5,  /* the night minimum (of a flow) rises above its learned level: leak */
    RULE_DWELL = 6,     /* stationary inside a geofence for too long (fed with positions) */
    RULE_FORECAST = 7,  /* the series' forecast crosses a value within a horizon (engine-fed) */
    RULE_ANOMALY = 8,   /* a robust seasonal anomaly score above a level (engine-fed) */
    RULE_COMPOSITE = 9, /* several clauses on several entities of one area within a window */
};
#define RULE_KIND_MAX RULE_COMPOSITE

/* Comparison operators of forecast rules and composite clauses (threshold uses '>' '<'). */
enum rule_op { RULE_OP_GT = '>', RULE_OP_LT = '<', RULE_OP_GE = 'G', RULE_OP_LE = 'L' };
/* Does v op ref hold? (NaN: never.) */
int rule_op_holds(int op, double v, double ref);
const char *rule_op_name(int op); /* ">", "<", ">=", "<=" */

/* Smart Data Models Alert severities. */
enum rule_severity { SEV_INFORMATIONAL = 0, SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV_CRITICAL };
const char *rule_severity_name(int sev);   /* "informational" ... "critical" */
/* "threshold", "stale", "stuck", "rate", "nightmin", "dwell", "forecast", "anomaly",
** "composite" ("unknown" otherwise). */
const char *rule_kind_name(enum rule_kind k);

#define RULE_MAX_IDS 1000
#define RULE_MAX_WHERE 8
#define RULE_MAX_POLY 1000
#define RULE_MAX_GEOFENCE 20000 /* dwell: positions of all rings, once closed */
#define RULE_MAX_CLAUSES 8
#define RULE_MAX_NIGHTS 60      /* nightmin: learn and window upper bound */

/* One clause of a composite rule: a series of this type/attr holds when value op value. */
struct rule_clause {
    char type[128];
    char attr[128];
    int op;               /* enum rule_op */
    double value;
};

/* What the evaluation of a value reads for the threshold, stale, stuck and rate kinds: the first
** members of struct rule (also named `core` there), which the engine copies next to each
** binding's state so that evaluating a value touches one or two cache lines, not the rule. */
struct rule_core {
    enum rule_kind kind;
    int op;
    double raise, clear;
    int64_t for_ms, after_ms;
    uint32_t min_repeats;
    double max_delta;
    int64_t per_ms;
};

struct rule {
    union {
        struct rule_core core;
        struct { /* the same members, by their names (identical layout) */
            enum rule_kind kind;
            int op;               /* threshold: '>' or '<' */
            double raise;         /* threshold: raise when value op raise holds ... */
            double clear;         /* ... and clear when it no longer holds against clear
                                     (hysteresis; for '>', clear <= raise; default = raise) */
            int64_t for_ms;       /* threshold: the condition must hold this long before
                                     raising (0 = at once); stuck: identical values for at
                                     least this long */
            int64_t after_ms;     /* stale: no value for longer than this */
            uint32_t min_repeats; /* stuck: at least this many identical consecutive values
                                     (default 3) */
            double max_delta;     /* rate: raise when |change| per per_ms exceeds max_delta */
            int64_t per_ms;       /* rate: default 1 h */
        };
    };
    double cadence_factor; /* stale with "after":"cadence": the delay is this factor times the
                              cadence of the source that delivered the last value (the engine
                              sets it in its copy of the core); 0 = the fixed after_ms */
    /* identity and target */
    char id[64];          /* [A-Za-z0-9_.-], 1..63 chars */
    char name[128];       /* free text ("" -> the id) */
    int severity;         /* enum rule_severity */
    char message[512];    /* template: {rule} {entity} {attr} {value} {threshold} {duration} */
    int enabled;          /* default 1 */
    /* target: type and/or ids are required; every given criterion must match */
    char type[128];       /* entity type ("" = any) */
    char attr[128];       /* attribute; required except for stale ("" = any attribute) */
    char **ids;           /* exact entity ids, owned (nids = 0: any) */
    uint32_t nids;
    struct vg_tag where[RULE_MAX_WHERE]; /* tag equalities; strings owned */
    uint32_t nwhere;
    double *poly;         /* area polygon, lon,lat pairs, owned (npoly points; 0 = anywhere) */
    uint32_t npoly;
    /* nightmin (leak): local night window [night_from, night_to) in minutes after midnight */
    int night_from, night_to;
    uint32_t nights;      /* consecutive excess nights to raise (1..30, default 2) */
    uint32_t learn;       /* nights known before anything raises (1..60, default 7) */
    uint32_t window;      /* baseline: median of the last `window` normal nights (learn..60) */
    double ratio, margin; /* excess: min > baseline * (1 + ratio) + margin */
    /* dwell: for_ms (above) is the dwell time; the geofence is npolys polygons of rings */
    double radius_m;      /* stationary = within radius_m of the anchor (1..10000) */
    int geo_multi;        /* 1: written as MultiPolygon, 0: Polygon */
    double *geo;          /* lon,lat pairs of every ring, closed, owned (ngeo points) */
    uint32_t ngeo;
    uint32_t *geo_ring;   /* points per ring, owned (ngeo_ring rings) */
    uint32_t ngeo_ring;
    uint32_t *geo_poly;   /* rings per polygon (the first is the outer one), owned */
    uint32_t ngeo_poly;
    double geo_bbox[4];   /* min lon, min lat, max lon, max lat */
    /* forecast: op (above, an enum rule_op) and raise (the value; clear = raise) */
    int64_t horizon_ms;   /* default 24 h */
    int upper;            /* bound: 0 = the point forecast, 1 = the upper bound (lower for
                             op < and <=) of the forecast interval */
    /* anomaly */
    double score;         /* raise when score >= this (> 0, default 6); clear under score/2 */
    uint32_t weeks;       /* seasonal history the engine uses (2..8, default 4) */
    uint32_t min_weeks;   /* weeks of history needed before scoring (1..weeks, default 2) */
    /* composite: every clause held on some entity of the area (target.area) within window_ms */
    struct rule_clause clauses[RULE_MAX_CLAUSES];
    uint32_t nclauses;    /* 2..8 */
    int64_t window_ms;    /* default 10 min */
};

/* Parse and validate a rule from JSON (docs/alerts.md gives the format). On error returns
** VG_EINVAL with a message naming the member and the problem in err, and *out is released. */
int rule_parse(const char *json, size_t len, struct rule *out, char *err, size_t cap);
/* Free what a parsed rule owns (the struct itself is the caller's). */
void rule_release(struct rule *r);
/* The rule as canonical JSON (malloc'ed, NUL-terminated): rule_parse of it gives the same rule. */
char *rule_to_json(const struct rule *r);

/* Does the rule watch this series? lonlat: the entity's location (NULL = unknown: a rule with a
** polygon then does not match). Composite: the series' type/attr must be one of a clause's (and
** target.type, if given), and the entity must lie in target.area. Dwell: target.area (if any)
** filters like for any kind; the geofence is the condition, not a filter. */
int rule_matches(const struct rule *r, const char *type, const char *entity, const char *attr,
                 const struct vg_tag *tags, uint32_t ntags, const double *lonlat);

/* nightmin: the nights of one series. */
struct rule_night {
    float minima[RULE_MAX_NIGHTS]; /* ring of the normal (not excess) closed nights' minima */
    uint8_t head, count;           /* next write slot; entries in use (<= rule.window) */
    uint8_t open;                  /* a night is being measured: day, cur_min */
    uint8_t closed_any;            /* closed_day is valid */
    uint8_t streak;                /* consecutive excess nights so far */
    int32_t day;                   /* local date of the open night (days since 1970-01-01) */
    int32_t closed_day;            /* local date of the newest closed night */
    double cur_min;                /* minimum of the open night so far */
    double level;                  /* excess level at the last closed night (NaN: learning) */
};

/* dwell: the entity's last fix and its anchor (where it stopped). */
struct rule_dwell {
    uint8_t anchored;  /* the last fix was inside the geofence: anchor_* valid */
    double anchor_lon, anchor_lat;
    int64_t anchor_ts; /* time of the first fix within radius_m of the anchor */
    double lon, lat;   /* last fix (time: rule_state.last_ts) */
};

/* Evaluation state of one rule on one series. Zero-initialised = nothing seen yet. */
struct rule_state {
    uint8_t active;         /* an alert is raised */
    uint8_t pending;        /* threshold: the condition holds since pending_since */
    uint8_t has_last;
    int64_t pending_since;
    int64_t last_ts;        /* newest value seen */
    double last_value;
    uint32_t repeats;       /* stuck: identical consecutive values so far */
    int64_t repeat_since;
    double trigger_value;   /* the value that raised (or the last one, for stale) */
    int64_t raised_at;      /* time of the raising point (stale: the tick's time) */
    union {                 /* kind-specific parts */
        struct rule_night night;
        struct rule_dwell dwell;
        int64_t crossing_at; /* forecast: the crossing time of the last crossing forecast */
        double score;        /* anomaly: the score that raised */
        uint32_t held;       /* composite: clauses holding at the last call */
    } u;
};

enum rule_event { RULE_NONE = 0, RULE_RAISE = 1, RULE_CLEAR = 2 };

/* A new value of the series at ts. Values older than the newest seen are ignored (RULE_NONE).
** NaN values are ignored. Returns the transition, if any. Kinds fed by their own function below
** (dwell, forecast, anomaly, composite) ignore it and leave the state unchanged. */
enum rule_event rule_on_value(const struct rule *r, struct rule_state *st, int64_t ts, double v);
/* rule_on_value for the kinds whose condition is all in struct rule_core (threshold, stale,
** stuck, rate; RULE_NONE for the others): the engine calls it with its copy of the core. */
enum rule_event rule_on_core(const struct rule_core *c, struct rule_state *st, int64_t ts,
                             double v);
/* rule_on_tick for stale rules with their core copy (after_ms 0: no delay known yet, nothing
** raises). */
enum rule_event rule_on_tick_core(const struct rule_core *c, struct rule_state *st, int64_t now);
/* Time passes (now, wall clock ms): staleness; nightmin closes a night at `to` + 1 h; dwell
** raises a parked entity that stopped sending (for at most 2 x for). Returns the transition. */
enum rule_event rule_on_tick(const struct rule *r, struct rule_state *st, int64_t now);

/* Dwell: a new position (lon, lat in degrees) of the entity at ts. Ignored like rule_on_value
** (ts not newer, or lon/lat not finite or out of range); RULE_NONE for other kinds. */
enum rule_event rule_on_position(const struct rule *r, struct rule_state *st, int64_t ts,
                                 double lon, double lat);
/* Forecast: the engine's forecast made at ts: crosses = it crosses the rule's value within the
** horizon (with the rule's bound), first at crossing_at, peak = its extreme value over the
** horizon. RAISE when crosses becomes true, CLEAR when it becomes false. Ignored when ts is not
** newer than the last call's, or crosses with a non-finite peak. */
enum rule_event rule_on_forecast(const struct rule *r, struct rule_state *st, int64_t ts,
                                 int crosses, int64_t crossing_at, double peak);
/* Anomaly: the value v at ts has the seasonal score `score` (engine). RAISE when score >=
** r->score, CLEAR when score < r->score / 2. Ignored like rule_on_value (and NaN scores). */
enum rule_event rule_on_score(const struct rule *r, struct rule_state *st, int64_t ts, double v,
                              double score);

/* Composite: the index of the first clause at or after `from` fed by series of (type, attr), or
** -1. Loop with from = i + 1 to find them all. */
int rule_clause_index(const struct rule *r, const char *type, const char *attr, int from);
/* Does the clause hold for the value v? (NaN: no.) */
int rule_clause_holds(const struct rule_clause *c, double v);
/* Composite at now: last_true[i] (r->nclauses entries) = the newest time clause i held on some
** entity of the area (0 = never). RAISE when every clause held within the last window_ms
** (now - last_true[i] <= window_ms), CLEAR when one has not. st is one per rule (and tenant). */
enum rule_event rule_on_composite(const struct rule *r, struct rule_state *st, int64_t now,
                                  const int64_t *last_true);

/* The rule's message for this series, its template expanded ({value} with up to 6 significant
** digits, {threshold} = raise, {duration} = for/after as "30m", "2h", "1d"; per kind meanings
** in docs/alerts.md, plus {at} for forecast and {score} for anomaly). Always NUL-terminated,
** truncated to cap. */
void rule_message(const struct rule *r, const struct rule_state *st, const char *entity,
                  const char *attr, char *out, size_t cap);

#endif
