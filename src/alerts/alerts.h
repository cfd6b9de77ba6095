/*
** alerts/alerts.h: the alert engine (docs/alerts.md). Keeps the rules of every tenant, evaluates
** them incrementally on each stored value (alerts_on_values, called by the ingest hook once a
** batch is durable) and on the passing of time (a tick thread, for staleness), and keeps the
** alerts with their lifecycle: open -> acknowledged -> resolved (automatically when the condition
** clears, or by hand); one open alert per (rule, entity, attribute).
** Rules and alerts are durable documents in meta (kinds "rule" and "alert"); at start they are
** loaded, and the series of an open alert start active again, so that nothing already raised is
** raised twice after a restart.
** Owns: the rules (alerts/rule.h), the per-series evaluation states, the alerts, the tick thread.
** Borrows: meta (documents), catalog and store (an entity's tags and location, to match the
** rules' targets, looked up once per series and rule set).
** Thread: every function is thread-safe (one mutex; evaluation does no I/O unless a transition
** is written).
*/
#ifndef VG_ALERTS_ALERTS_H
#define VG_ALERTS_ALERTS_H

#include "core/buf.h"
#include "ingest/ingest.h" /* struct ingest_update: the values evaluated */
#include "meta/catalog.h"
#include "meta/meta.h"
#include "store/db.h"

#include <jansson.h>

#include <stdint.h>

struct alerts;

/* Load the rules and alerts of every tenant from m. On error *out is unchanged. */
int alerts_open(struct meta *m, struct catalog *cat, struct store *st, struct alerts **out);
/* Start the tick thread (staleness), every tick_ms (0 = 1000). */
int alerts_start(struct alerts *al, uint32_t tick_ms);
/* Stop the thread and free. NULL is a no-op. */
void alerts_free(struct alerts *al);
/* The source registry (borrowed): stale rules "after":"cadence" take their delay from the
** declared cadence of the source that delivered each value (struct ingest_update.source). */
struct sources;
void alerts_set_sources(struct alerts *al, struct sources *src);
/* Are there rules at all? (the ingest hook skips the work when not) */
int alerts_active(const struct alerts *al);

/* ---- rules ---------------------------------------------------------------------------------- */
/* Create (replace = 0: VG_EEXIST if the id is taken) or replace (replace = 1: VG_ENOENT if
** absent) a rule from its JSON; durable on return. VG_EINVAL with the reason in err. Replacing a
** rule resolves its open alerts ("rule changed") and starts its series afresh. */
int alerts_rule_put(struct alerts *al, const char *tenant, const char *json, size_t len,
                    int replace, char *id_out, size_t idcap, char *err, size_t errcap);
/* Make the rule of this JSON present as given (the configuration's rules at each start): created
** if absent, kept as is (with its state and open alerts) if identical, replaced if different.
** *changed = 0 kept, 1 created, 2 replaced. VG_EINVAL with the reason in err. */
int alerts_rule_ensure(struct alerts *al, const char *tenant, const char *json, size_t len,
                       int *changed, char *err, size_t errcap);
/* Delete a rule (its open alerts are resolved, "rule deleted"). VG_ENOENT if absent. */
int alerts_rule_delete(struct alerts *al, const char *tenant, const char *id);
/* {"rules":[...]} of a tenant, or one rule (id != NULL; VG_ENOENT if absent), appended to out. */
int alerts_rules_json(struct alerts *al, const char *tenant, const char *id, struct buf *out);

/* ---- evaluation ----------------------------------------------------------------------------- */
/* Points of one tenant just made durable (the ingest hook's points: series ids, no names; the
** engine finds a series' names and type in the catalogue on first sight; a sid is the
** catalogue's, of this tenant, as the ingest resolved it). Numbers and booleans
** are evaluated; a location updates the entity's position for area rules matched later. source:
** the batch's source (sources.h cadence), or NULL. */
void alerts_on_points(struct alerts *al, const char *tenant, const char *source,
                      const struct store_point *p, size_t n);
/* The same for values by name (an NGSI-LD change: sid 0, each with its own source). */
void alerts_on_values(struct alerts *al, const char *tenant, const struct ingest_update *v,
                      uint32_t n);
/* Time passes (the tick thread calls it; tests call it with their own clock). */
void alerts_tick(struct alerts *al, int64_t now_ms);

/* ---- forecasts ------------------------------------------------------------------------------
** GET /api/v1/forecast: hourly point forecasts and prediction intervals (alerts/forecast.h,
** docs/forecast.md) of a numeric series for horizon_ms, at probability level, as
** {"id","attr","model","seasons","step","level","points":[{"at","value","lower","upper"}]}
** ("points":[] and a "reason" without enough history). The first request fits the model on the
** series' last 8 weeks; the engine keeps it and feeds it every new value (up to 4,096 models).
** VG_ENOENT: no such series; VG_ETYPE: not numeric. */
int alerts_forecast(struct alerts *al, const char *tenant, const char *entity, const char *attr,
                    int64_t horizon_ms, double level, struct buf *out);

/* ---- alerts --------------------------------------------------------------------------------- */
struct alerts_filter {
    const char *state;    /* "open" (open or acknowledged), "acknowledged", "resolved", NULL = all */
    const char *severity; /* NULL = all */
    const char *type;     /* the entity type, NULL = all */
    const char *rule;     /* NULL = all */
    int64_t since;        /* raised at or after (ms), 0 = all */
    uint32_t limit;       /* newest first; 0 = 1000 */
};
/* {"total":N,"alerts":[...]} newest first, appended to out. */
int alerts_list_json(struct alerts *al, const char *tenant, const struct alerts_filter *f,
                     struct buf *out);
/* Acknowledge (open -> acknowledged) or resolve (open|acknowledged -> resolved) by hand; by names
** who did it, comment is free text (may be NULL). VG_ENOENT: no such alert; VG_EINVAL: not in a
** state that allows it (the reason in err). The alert's JSON is appended to out. */
int alerts_ack(struct alerts *al, const char *tenant, const char *id, const char *by,
               const char *comment, struct buf *out, char *err, size_t errcap);
int alerts_resolve(struct alerts *al, const char *tenant, const char *id, const char *by,
                   const char *comment, struct buf *out, char *err, size_t errcap);

struct alerts_stats {
    uint64_t rules, open, raised, resolved, evaluations, escalated, flapping;
    uint64_t settled; /* values settled by their series' quiet band (counted in evaluations too) */
};

/* ---- announcing changes ----------------------------------------------------------------------
** The listener hears every change of an alert once it is durable, in order, outside the engine's
** mutex, the changes of one call together: event is "raised", "acknowledged", "resolved",
** "escalated" or "flapping"; json is the alert as GET /api/v1/alerts shows it. Everything is
** borrowed for the call. It runs in the thread that made the changes (ingest, tick, API): it must
** not block on the network (queue such work). It may write NGSI-LD entities, but the values of
** those must not come back to alerts_on_values from the same thread. */
struct alerts_change {
    const char *tenant, *event, *entity, *type, *json;
    const json_t *alert; /* the same alert, as a JSON object */
    int severity; /* enum rule_severity, after the change */
    int has_loc;  /* the entity's position when known */
    double lonlat[2];
};
struct alerts_listener {
    void (*fn)(void *arg, const struct alerts_change *c, uint32_t n);
    void *arg;
};
void alerts_set_listener(struct alerts *al, const struct alerts_listener *l);

/* Lifecycle policy. escalate_after_ms: an open alert nobody acknowledged goes up one severity
** level after this delay, and again after each further delay, up to critical (0 = never).
** flap_window_ms/flap_count: a rule and series that change state flap_count times within the
** window are flapping: the alert stays open (marked "flapping"), new raisings fold into it, and
** it resolves once the condition stayed clear for a whole window (flap_count 0 = off; <= 16). */
#define ALERTS_ESCALATE_MS (60 * 60 * 1000LL)
#define ALERTS_FLAP_WINDOW_MS (60 * 60 * 1000LL)
#define ALERTS_FLAP_COUNT 6
struct alerts_policy {
    int64_t escalate_after_ms;
    int64_t flap_window_ms;
    uint32_t flap_count;
};
void alerts_set_policy(struct alerts *al, const struct alerts_policy *p);
void alerts_get_stats(struct alerts *al, struct alerts_stats *st);

#endif
