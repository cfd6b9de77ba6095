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

#include <stdint.h>

struct alerts;

/* Load the rules and alerts of every tenant from m. On error *out is unchanged. */
int alerts_open(struct meta *m, struct catalog *cat, struct store *st, struct alerts **out);
/* Start the tick thread (staleness), every tick_ms (0 = 1000). */
int alerts_start(struct alerts *al, uint32_t tick_ms);
/* Stop the thread and free. NULL is a no-op. */
void alerts_free(struct alerts *al);
/* Are there rules at all? (the ingest hook skips the work when not) */
int alerts_active(const struct alerts *al);

/* ---- rules ---------------------------------------------------------------------------------- */
/* Create (replace = 0: VG_EEXIST if the id is taken) or replace (replace = 1: VG_ENOENT if
** absent) a rule from its JSON; durable on return. VG_EINVAL with the reason in err. Replacing a
** rule resolves its open alerts ("rule changed") and starts its series afresh. */
int alerts_rule_put(struct alerts *al, const char *tenant, const char *json, size_t len,
                    int replace, char *id_out, size_t idcap, char *err, size_t errcap);
/* Delete a rule (its open alerts are resolved, "rule deleted"). VG_ENOENT if absent. */
int alerts_rule_delete(struct alerts *al, const char *tenant, const char *id);
/* {"rules":[...]} of a tenant, or one rule (id != NULL; VG_ENOENT if absent), appended to out. */
int alerts_rules_json(struct alerts *al, const char *tenant, const char *id, struct buf *out);

/* ---- evaluation ----------------------------------------------------------------------------- */
/* Values of one tenant just made durable (numbers and booleans are evaluated; a location updates
** the entity's position for area rules matched later). */
void alerts_on_values(struct alerts *al, const char *tenant, const struct ingest_update *v,
                      uint32_t n);
/* Time passes (the tick thread calls it; tests call it with their own clock). */
void alerts_tick(struct alerts *al, int64_t now_ms);

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
    uint64_t rules, open, raised, resolved, evaluations;
};
void alerts_get_stats(struct alerts *al, struct alerts_stats *st);

#endif
