/*
** alerts/rule.h: alert rules: their JSON form (POST /api/v1/rules, docs/alerts.md), validation
** with clear errors, target matching, and the incremental evaluation of one rule on one series
** (one entity's attribute): a small state machine fed with each new value and with the passing
** of time. Pure: no I/O, no clock, no threads, no allocation during evaluation.
** Owns: struct rule (its id lists and polygon, freed by rule_release).
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
};

/* Smart Data Models Alert severities. */
enum rule_severity { SEV_INFORMATIONAL = 0, SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV_CRITICAL };
const char *rule_severity_name(int sev);   /* "informational" ... "critical" */
const char *rule_kind_name(enum rule_kind k); /* "threshold", "stale", "stuck", "rate" */

#define RULE_MAX_IDS 1000
#define RULE_MAX_WHERE 8
#define RULE_MAX_POLY 1000

struct rule {
    char id[64];          /* [A-Za-z0-9_.-], 1..63 chars */
    char name[128];       /* free text ("" -> the id) */
    enum rule_kind kind;
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
    /* condition */
    int op;               /* threshold: '>' or '<' */
    double raise;         /* threshold: raise when value op raise holds ... */
    double clear;         /* ... and clear when it no longer holds against clear (hysteresis;
                             for '>', clear <= raise; default clear = raise) */
    int64_t for_ms;       /* threshold: the condition must hold this long before raising (0 =
                             at once); stuck: identical values for at least this long */
    int64_t after_ms;     /* stale: no value for longer than this */
    uint32_t min_repeats; /* stuck: at least this many identical consecutive values (default 3) */
    double max_delta;     /* rate: raise when |change| per per_ms exceeds max_delta */
    int64_t per_ms;       /* rate: default 1 h */
};

/* Parse and validate a rule from JSON (docs/alerts.md gives the format). On error returns
** VG_EINVAL with a message naming the member and the problem in err, and *out is released. */
int rule_parse(const char *json, size_t len, struct rule *out, char *err, size_t cap);
/* Free what a parsed rule owns (the struct itself is the caller's). */
void rule_release(struct rule *r);
/* The rule as canonical JSON (malloc'ed, NUL-terminated): rule_parse of it gives the same rule. */
char *rule_to_json(const struct rule *r);

/* Does the rule watch this series? lonlat: the entity's location (NULL = unknown: a rule with a
** polygon then does not match). */
int rule_matches(const struct rule *r, const char *type, const char *entity, const char *attr,
                 const struct vg_tag *tags, uint32_t ntags, const double *lonlat);

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
};

enum rule_event { RULE_NONE = 0, RULE_RAISE = 1, RULE_CLEAR = 2 };

/* A new value of the series at ts. Values older than the newest seen are ignored (RULE_NONE).
** NaN values are ignored. Returns the transition, if any. */
enum rule_event rule_on_value(const struct rule *r, struct rule_state *st, int64_t ts, double v);
/* Time passes (now, wall clock ms): staleness. Returns the transition, if any. */
enum rule_event rule_on_tick(const struct rule *r, struct rule_state *st, int64_t now);

/* The rule's message for this series, its template expanded ({value} with up to 6 significant
** digits, {threshold} = raise, {duration} = for/after as "30m", "2h", "1d"). Always
** NUL-terminated, truncated to cap. */
void rule_message(const struct rule *r, const struct rule_state *st, const char *entity,
                  const char *attr, char *out, size_t cap);

#endif
