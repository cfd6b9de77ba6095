/*
** app/alertsink.c: where the alert engine's changes go (see alertsink.h).
** The Alert entity (Smart Data Models, dataModel.Alert) of alert N of a tenant is
** urn:ngsi-ld:Alert:vigie-N in that tenant, written with the core @context:
**   alertSource  the entity that raised it (its id)         category  environment | traffic |
**   severity     informational .. critical (after escalation)          security (by entity type)
**   subCategory  the rule's kind (threshold, stale, nightmin, ...)
**   description  the message        dateIssued / validFrom  raisedAt      validTo  resolvedAt
**   location     the entity's position when known
** and Vigie's own members: alertState (open | acknowledged | resolved), rule, attribute, value,
** acknowledgedBy, resolvedBy, comment, flapping, escalations.
*/
#include "app/alertsink.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/vg.h"
#include "ngsild/entity.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local int sink_writing;

int alertsink_writing(void)
{
    return sink_writing;
}

/* The Smart Data Models Alert category of an entity type. */
static const char *category_of(const char *type)
{
    static const char *const traffic[] = {"Vehicle", "TrafficFlowObserved", "ParkingSpot",
                                          "OffStreetParking", "BikeHireDockingStation"};
    for (size_t i = 0; i < VG_ARRAY_LEN(traffic); i++)
        if (!strcmp(type, traffic[i]))
            return "traffic";
    static const char *const env[] = {"AirQualityObserved", "NoiseLevelObserved",
                                      "WeatherObserved", "WaterQualityObserved", "Building",
                                      "WasteContainer", "WaterConsumptionObserved",
                                      "EnergyConsumptionObserved"};
    for (size_t i = 0; i < VG_ARRAY_LEN(env); i++)
        if (!strcmp(type, env[i]))
            return "environment";
    return "security";
}

static void prop(json_t *e, const char *name, json_t *value)
{
    if (!value)
        return;
    json_object_set_new(e, name, json_pack("{s:s,s:o}", "type", "Property", "value", value));
}

static void date_prop(json_t *e, const char *name, const json_t *alert, const char *member)
{
    const char *t = json_string_value(json_object_get(alert, member));
    if (t)
        prop(e, name, json_pack("{s:s,s:s}", "@type", "DateTime", "@value", t));
}

static void str_prop(json_t *e, const char *name, const json_t *alert, const char *member)
{
    const char *v = json_string_value(json_object_get(alert, member));
    if (v && *v)
        prop(e, name, json_string(v));
}

/* The NGSI-LD body (normalized, core @context) of an alert's JSON. */
static json_t *entity_body(const struct alerts_change *c, const json_t *a, char *id, size_t cap)
{
    snprintf(id, cap, "urn:ngsi-ld:Alert:vigie-%s",
             json_string_value(json_object_get(a, "id")) ?: "0");
    json_t *e = json_pack("{s:s,s:s}", "id", id, "type", "Alert");
    prop(e, "alertSource", json_string(c->entity));
    prop(e, "category", json_string(category_of(c->type)));
    str_prop(e, "subCategory", a, "kind");
    str_prop(e, "severity", a, "severity");
    str_prop(e, "description", a, "message");
    date_prop(e, "dateIssued", a, "raisedAt");
    date_prop(e, "validFrom", a, "raisedAt");
    date_prop(e, "validTo", a, "resolvedAt");
    str_prop(e, "alertState", a, "state");
    str_prop(e, "rule", a, "rule");
    str_prop(e, "attribute", a, "attr");
    str_prop(e, "acknowledgedBy", a, "acknowledgedBy");
    str_prop(e, "resolvedBy", a, "resolvedBy");
    str_prop(e, "comment", a, "comment");
    const json_t *v = json_object_get(a, "value");
    if (json_is_number(v))
        prop(e, "value", json_real(json_number_value(v)));
    if (json_is_true(json_object_get(a, "flapping")))
        prop(e, "flapping", json_true());
    json_int_t esc = json_integer_value(json_object_get(a, "escalations"));
    if (esc)
        prop(e, "escalations", json_integer(esc));
    if (c->has_loc)
        json_object_set_new(e, "location",
                            json_pack("{s:s,s:{s:s,s:[f,f]}}", "type", "GeoProperty", "value",
                                      "type", "Point", "coordinates", c->lonlat[0],
                                      c->lonlat[1]));
    return e;
}

struct change_arg {
    json_t *stored; /* the parsed new state */
    const char *now;
};

static int change_fn(void *arg, const json_t *cur, int synth, json_t **next)
{
    struct change_arg *ca = arg;
    if (!cur || synth) {
        *next = json_incref(ca->stored);
        return 0;
    }
    return entity_apply(cur, ca->stored, ENTITY_REPLACE, ca->now, NULL, NULL, next);
}

/* Write the Alert entities of the changes, one batch per tenant run. */
static void write_entities(struct alertsink *k, const struct alerts_change *c, uint32_t n)
{
    char now[40];
    clock_format_rfc3339(clock_now_ms(), now, sizeof(now));
    struct ldctx *ctx = ldctx_core(k->ldreg);
    sink_writing = 1;
    for (uint32_t i = 0; i < n;) {
        struct entstore_batch *b = entstore_batch_new(k->es, c[i].tenant);
        /* no history points: an alert's history is its own (GET /api/v1/alerts), and the
        ** entities stay out of the measurement series (/api/v1/latest, the dashboard's map) */
        entstore_batch_no_history(b);
        uint32_t j = i;
        for (; j < n && !strcmp(c[j].tenant, c[i].tenant); j++) {
            char id[96];
            json_t *body = entity_body(&c[j], c[j].alert, id, sizeof(id));
            json_t *stored = NULL;
            struct entity_err err;
            if (entity_parse(body, ENTITY_FULL, ctx, NULL, 0, now, &stored, &err)) {
                log_error("alerts: Alert entity %s refused (%s: %s)", id, err.member, err.detail);
            } else {
                struct change_arg ca = {stored, now};
                int rc = entstore_change(b, id, change_fn, &ca);
                if (rc)
                    log_error("alerts: Alert entity %s not written: %s", id, vg_strerror(rc));
            }
            json_decref(stored);
            json_decref(body);
        }
        int rc = entstore_batch_finish(b);
        if (rc)
            log_error("alerts: Alert entities not stored: %s", vg_strerror(rc));
        i = j;
    }
    sink_writing = 0;
    ldctx_release(ctx);
}

void alertsink_on_changes(void *arg, const struct alerts_change *c, uint32_t n)
{
    struct alertsink *k = arg;
    for (uint32_t i = 0; i < n; i++) {
        if (live_active(k->live))
            live_publish_alert(k->live, c[i].tenant, c[i].entity, c[i].type, c[i].event,
                               c[i].json);
        if (k->notify)
            notify_post(k->notify, c[i].tenant, c[i].event, c[i].severity, c[i].json);
    }
    if (k->es)
        write_entities(k, c, n);
}
