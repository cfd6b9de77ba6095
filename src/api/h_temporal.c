/*
** api/h_temporal.c: the NGSI-LD temporal API (ETSI GS CIM 009 cl. 5.6.11-5.6.12, 5.7.3-5.7.4,
** 6.18-6.22) on Vigie's time-series engine:
**   GET  /temporal/entities                   query (entity filters on the current state, then
**                                             the history of each match)
**   POST /temporal/entities                   create or append a temporal entity
**   GET  /temporal/entities/{id}              retrieve
**   POST /temporal/entities/{id}/attrs        append instances
**   PATCH /temporal/entities/{id}/attrs/{attr}/{instanceId}   modify one instance
**   POST /temporal/entityOperations/query     query with a Query body
** Parameters: timerel (before|after|between), timeAt, endTimeAt, timeproperty (observedAt; the
** engine keeps one time per instance), lastN, attrs, options/format temporalValues or
** aggregatedValues, aggrMethods (totalCount, distinctCount, sum, avg, min, max, stddev, sumsq),
** aggrPeriodDuration (ISO 8601, P..D T..H..M..S; a month is 30 days, a year 365; default PT0S:
** one period for the whole range).
** Instances: instanceId "urn:ngsi-ld:Instance:<series>:<epoch ms>" (a series keeps one value
** per instant, the last written). More than TEMPORAL_MAX_INSTANCES instances of an attribute
** answer 206 Partial Content with the first ones and a Content-Range naming the instants sent.
**   DELETE /temporal/entities/{id}                            the entity: history and state
**   DELETE /temporal/entities/{id}/attrs/{attr}               an attribute's history
**          (datasetId = that instance only, deleteAll=true = every datasetId)
**   DELETE /temporal/entities/{id}/attrs/{attr}/{instanceId}  one instance
** Deleting history retires the attribute's series in the catalogue (catalog_retire): the
** points leave every query at once and later appends start a new series; the bytes stay on disk
** until their partition expires. Deleting one instance rewrites the attribute's series without
** it (at most TEMPORAL_MAX_REWRITE instances; the new series is written before the reply, but
** a crash between the retirement and that write loses the attribute's other instances).
*/
#include "api/ngsild_int.h"

#include "core/clock.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEMPORAL_MAX_INSTANCES 10000
#define TEMPORAL_MAX_BUCKETS 100000
#define TEMPORAL_MAX_REWRITE 1000000

enum { AG_TOTALCOUNT = 1, AG_DISTINCT = 2, AG_SUM = 4, AG_AVG = 8, AG_MIN = 16, AG_MAX = 32,
       AG_STDDEV = 64, AG_SUMSQ = 128 };
static const char *const ag_names[] = {"totalCount", "distinctCount", "sum", "avg",
                                       "min", "max", "stddev", "sumsq"};

struct tq {
    int64_t from, to;     /* [from, to) ms */
    uint32_t last_n;      /* 0 = all */
    int mode;             /* 0 normalized, LD_OPT_TEMPORAL, LD_OPT_AGGREGATED */
    int sys_attrs;
    unsigned aggr;        /* AG_* */
    int64_t period;       /* ms, 0 = whole range */
    json_t *attrs;        /* expanded names to include, or NULL */
    int partial;          /* some attribute was truncated */
    int64_t range_lo, range_hi;
    /* RFC 3339 strings of the instants already formatted for this request (aggregation
    ** periods repeat for every entity): open addressing on the instant, bounded */
    struct tq_time { int64_t ms; char s[32]; } *times;
    uint32_t ntimes, times_cap;
    char tmp_time[32];
};

#define TQ_TIMES_CAP 65536 /* power of two */

static uint32_t tq_slot(int64_t ms, uint32_t cap)
{
    return (uint32_t)(((uint64_t)ms * 0x9E3779B97F4A7C15ull) >> 40) & (cap - 1);
}

/* The RFC 3339 text of instant ms, cached for the request (valid until the next call for an
** instant not in the cache, or tq_release). The table starts small and doubles up to
** TQ_TIMES_CAP entries: a one-entity answer must not pay for a large zeroed table. */
static const char *tq_time(struct tq *t, int64_t ms)
{
    if (!t->times) {
        t->times_cap = 256;
        t->times = vg_calloc(t->times_cap, sizeof(*t->times));
    }
    uint32_t i = tq_slot(ms, t->times_cap);
    for (;; i = (i + 1) & (t->times_cap - 1)) {
        if (!t->times[i].s[0])
            break;
        if (t->times[i].ms == ms)
            return t->times[i].s;
    }
    if ((t->ntimes + 1) * 2 > t->times_cap) { /* keep the load under 1/2 */
        if (t->times_cap >= TQ_TIMES_CAP) {
            clock_format_rfc3339(ms, t->tmp_time, sizeof(t->tmp_time));
            return t->tmp_time;
        }
        uint32_t nc = t->times_cap * 2;
        struct tq_time *nt = vg_calloc(nc, sizeof(*nt));
        for (uint32_t k = 0; k < t->times_cap; k++) {
            if (!t->times[k].s[0])
                continue;
            uint32_t j = tq_slot(t->times[k].ms, nc);
            while (nt[j].s[0])
                j = (j + 1) & (nc - 1);
            nt[j] = t->times[k];
        }
        free(t->times);
        t->times = nt;
        t->times_cap = nc;
        i = tq_slot(ms, nc);
        while (t->times[i].s[0])
            i = (i + 1) & (nc - 1);
    }
    clock_format_rfc3339(ms, t->times[i].s, sizeof(t->times[i].s));
    t->times[i].ms = ms;
    t->ntimes++;
    return t->times[i].s;
}

static void tq_release(struct tq *t)
{
    free(t->times);
    t->times = NULL;
    json_decref(t->attrs);
    t->attrs = NULL;
}

/* ISO 8601 duration: PnYnMnWnDTnHnMnS (fractions of seconds allowed). */
static int parse_duration(const char *s, int64_t *ms)
{
    if (!s || *s != 'P')
        return -1;
    s++;
    int in_time = 0, any = 0;
    double total = 0;
    while (*s) {
        if (*s == 'T') {
            if (in_time)
                return -1;
            in_time = 1;
            s++;
            continue;
        }
        char *end;
        double v = strtod(s, &end);
        if (end == s || v < 0 || !isfinite(v))
            return -1;
        double unit;
        switch (*end) {
        case 'Y': unit = in_time ? -1 : 365 * 86400e3; break;
        case 'M': unit = in_time ? 60e3 : 30 * 86400e3; break;
        case 'W': unit = in_time ? -1 : 7 * 86400e3; break;
        case 'D': unit = in_time ? -1 : 86400e3; break;
        case 'H': unit = in_time ? 3600e3 : -1; break;
        case 'S': unit = in_time ? 1e3 : -1; break;
        default: return -1;
        }
        if (unit < 0)
            return -1;
        total += v * unit;
        any = 1;
        s = end + 1;
    }
    if (!any || total > 1e15)
        return -1;
    *ms = (int64_t)total;
    return 0;
}

static int parse_time_arg(const char *s, int64_t *ms)
{
    return s && clock_parse_time(s, strlen(s), ms) == 0 ? 0 : -1;
}

/* Temporal parameters from the query string or a Query body ("temporalQ"). */
static int tq_parse(struct ld_req *r, struct tq *t, const json_t *body)
{
    memset(t, 0, sizeof(*t));
    /* From a Query body: "temporalQ" {timerel, timeAt, endTimeAt, timeproperty, lastN} and
    ** the members aggrMethods / aggrPeriodDuration; the query string may give any of them. */
    const json_t *tq = body ? json_object_get(body, "temporalQ") : NULL;
#define TARG(obj, name)                                                                          \
    (ld_arg(r, name) ? ld_arg(r, name) : json_string_value(json_object_get(obj, name)))
    const char *timerel = TARG(tq, "timerel"), *time_at = TARG(tq, "timeAt");
    const char *end_at = TARG(tq, "endTimeAt"), *tprop = TARG(tq, "timeproperty");
    const char *last_n = ld_arg(r, "lastN");
    const char *methods = TARG(body, "aggrMethods");
    const char *period = TARG(body, "aggrPeriodDuration");
#undef TARG
    char mbuf[256] = "";
    const json_t *jm = body ? json_object_get(body, "aggrMethods") : NULL;
    if (!methods && json_is_array(jm)) { /* ["avg","max"] -> "avg,max" */
        size_t i, n = 0;
        json_t *x;
        json_array_foreach(jm, i, x) if (json_is_string(x) && n < sizeof(mbuf))
            n += (size_t)snprintf(mbuf + n, sizeof(mbuf) - n, "%s%s", n ? "," : "",
                                  json_string_value(x));
        methods = mbuf;
    }
    if (!last_n && json_is_integer(json_object_get(tq, "lastN"))) {
        json_int_t n = json_integer_value(json_object_get(tq, "lastN"));
        if (n <= 0 || n > TEMPORAL_MAX_INSTANCES) {
            ld_error(r, 400, "BadRequestData", "temporalQ.lastN: expected an integer in 1..%d",
                     TEMPORAL_MAX_INSTANCES);
            return -1;
        }
        t->last_n = (uint32_t)n;
    }
    t->from = INT64_MIN / 4;
    t->to = INT64_MAX / 4;
    if (timerel) {
        int64_t at, end;
        if (parse_time_arg(time_at, &at)) {
            ld_error(r, 400, "BadRequestData", "timeAt: a DateTime is required with timerel");
            return -1;
        }
        if (!strcmp(timerel, "before")) {
            t->to = at;
        } else if (!strcmp(timerel, "after")) {
            t->from = at + 1;
        } else if (!strcmp(timerel, "between")) {
            if (parse_time_arg(end_at, &end)) {
                ld_error(r, 400, "BadRequestData", "endTimeAt: a DateTime is required with "
                                                   "timerel=between");
                return -1;
            }
            if (end <= at) {
                ld_error(r, 400, "BadRequestData", "endTimeAt must be after timeAt");
                return -1;
            }
            t->from = at;
            t->to = end;
        } else {
            ld_error(r, 400, "BadRequestData", "timerel: expected before, after or between");
            return -1;
        }
    } else if (time_at || end_at) {
        ld_error(r, 400, "BadRequestData", "timeAt/endTimeAt need timerel");
        return -1;
    }
    if (tprop && strcmp(tprop, "observedAt")) {
        if (!strcmp(tprop, "createdAt") || !strcmp(tprop, "modifiedAt") ||
            !strcmp(tprop, "deletedAt"))
            ld_error(r, 501, "OperationNotSupported",
                     "timeproperty=%s: Vigie keeps the history by observedAt (or receipt time)",
                     tprop);
        else
            ld_error(r, 400, "BadRequestData", "timeproperty: unknown '%s'", tprop);
        return -1;
    }
    if (last_n) {
        char *end;
        long v = strtol(last_n, &end, 10);
        if (*end || v <= 0 || v > TEMPORAL_MAX_INSTANCES) {
            ld_error(r, 400, "BadRequestData", "lastN: expected an integer in 1..%d",
                     TEMPORAL_MAX_INSTANCES);
            return -1;
        }
        t->last_n = (uint32_t)v;
    }
    enum entity_format f;
    int flags;
    if (ld_options(r, &f, &t->sys_attrs, &flags))
        return -1;
    t->mode = flags & (LD_OPT_TEMPORAL | LD_OPT_AGGREGATED);
    if (t->mode == LD_OPT_AGGREGATED) {
        if (!methods || !*methods) {
            ld_error(r, 400, "BadRequestData", "aggrMethods is required with aggregatedValues");
            return -1;
        }
        const char *p = methods;
        while (*p) {
            const char *e = strchr(p, ',');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            int found = 0;
            for (size_t i = 0; i < VG_ARRAY_LEN(ag_names); i++)
                if (strlen(ag_names[i]) == n && !strncmp(ag_names[i], p, n)) {
                    t->aggr |= 1u << i;
                    found = 1;
                }
            if (!found) {
                ld_error(r, 400, "BadRequestData", "aggrMethods: unknown method '%.*s'", (int)n,
                         p);
                return -1;
            }
            p = e ? e + 1 : p + n;
        }
        if (period && parse_duration(period, &t->period)) {
            ld_error(r, 400, "BadRequestData",
                     "aggrPeriodDuration: expected an ISO 8601 duration such as PT1H or P1D");
            return -1;
        }
    }
    const char *attrs = body ? NULL : ld_arg(r, "attrs");
    if (attrs && *attrs)
        t->attrs = ld_name_list(r, attrs, 1);
    return 0;
}

/* ---- history of one attribute instance --------------------------------------------------------- */

struct sid_find {
    uint32_t sid;
    enum vg_vtype vt;
    int found;
};

static int sid_cb(void *arg, const struct catalog_series *cs)
{
    struct sid_find *f = arg;
    f->sid = cs->sid;
    f->vt = cs->vt;
    f->found = 1;
    return 1;
}

static int find_sid(struct ld_req *r, const char *id, const char *series_attr, uint32_t *sid,
                    enum vg_vtype *vt)
{
    struct sid_find f = {0, VT_NONE, 0};
    struct catalog_sel sel = {r->tenant, NULL, id, series_attr, NULL, 0};
    catalog_select(r->a->cat, &sel, sid_cb, &f);
    *sid = f.sid;
    if (vt)
        *vt = f.vt;
    return f.found ? 0 : -1;
}

static json_t *point_json(enum vg_vtype vt, const union vg_val *v)
{
    json_t *j = entstore_value_json(vt, v);
    return j ? j : json_null();
}

static const char *value_member(const char *kind)
{
    if (!strcmp(kind, "Relationship")) return "object";
    if (!strcmp(kind, "LanguageProperty")) return "languageMap";
    if (!strcmp(kind, "ListProperty")) return "valueList";
    if (!strcmp(kind, "JsonProperty")) return "json";
    if (!strcmp(kind, "VocabProperty")) return "vocab";
    if (!strcmp(kind, "ListRelationship")) return "objectList";
    return "value";
}

static const char *values_member(const char *kind)
{
    if (!strcmp(kind, "Relationship")) return "objects";
    if (!strcmp(kind, "LanguageProperty")) return "languageMaps";
    if (!strcmp(kind, "ListProperty")) return "valueLists";
    if (!strcmp(kind, "JsonProperty")) return "jsons";
    if (!strcmp(kind, "VocabProperty")) return "vocabs";
    if (!strcmp(kind, "ListRelationship")) return "objectLists";
    return "values";
}

static void fmt_time(int64_t ms, char *out, size_t cap)
{
    clock_format_rfc3339(ms, out, cap);
}

/* Aggregated values of one series over [from, to), written to out as the JSON object
** {"type": kind, "<method>": [[value, start, end], ...], ..., "datasetId": ds}: directly as
** text, since a query over many entities produces hundreds of thousands of periods.
** Returns 0, or -1 after answering 403 (too many periods). */
static int aggregate(struct ld_req *r, struct tq *t, uint32_t sid, enum vg_vtype vt,
                     const char *kind, const char *ds, struct buf *out)
{
    int numeric = vt == VT_F64 || vt == VT_I64 || vt == VT_BOOL;
    int64_t from = t->from, to = t->to;
    int64_t lts;
    union vg_val lv;
    struct store_bucket *b = NULL;
    uint32_t nb = 0;
    int64_t every = 0;
    if (from < 0 || to > (int64_t)4e15) { /* open range: bound it by the data */
        if (store_latest(r->a->st, sid, &lts, &lv)) {
            to = from; /* no data: no period */
        } else {
            if (to > lts + 1)
                to = lts + 1;
            if (from < 0) {
                struct store_points pts;
                store_points_init(&pts);
                if (store_read(r->a->st, sid, 0, to, 1, &pts) == 0 && pts.n)
                    from = pts.ts[0];
                else
                    from = to - 1;
                store_points_release(&pts);
            }
        }
    }
    if (to > from) {
        every = t->period ? t->period : to - from;
        nb = store_bucket_count(from, to, every);
        if (nb > TEMPORAL_MAX_BUCKETS) {
            ld_error(r, 403, "TooManyResults", "aggrPeriodDuration gives %u periods (at most %d)",
                     nb, TEMPORAL_MAX_BUCKETS);
            return -1;
        }
        b = vg_calloc(nb, sizeof(*b));
        if (store_aggregate(r->a->st, sid, from, to, every, b, nb))
            nb = 0;
        if (!t->period && nb > 1) { /* PT0S: one period for the whole range */
            for (uint32_t i = 1; i < nb; i++)
                store_bucket_merge(&b[0], &b[i]);
            b[0].start = from;
            nb = 1;
        }
    }
    buf_puts(out, "{\"type\":");
    buf_json_str(out, kind, strlen(kind));
    for (size_t m = 0; m < VG_ARRAY_LEN(ag_names); m++) {
        if (!(t->aggr & (1u << m)))
            continue;
        if (!numeric && (1u << m) != AG_TOTALCOUNT && (1u << m) != AG_DISTINCT)
            continue; /* sum, avg, min... of strings or places mean nothing */
        if (!nb && !b)
            continue;
        buf_printf(out, ",\"%s\":[", ag_names[m]);
        int first = 1;
        for (uint32_t i = 0; i < nb; i++) {
            if (!b[i].count && (1u << m) != AG_TOTALCOUNT)
                continue;
            int64_t s = t->period ? b[i].start : from;
            int64_t e = t->period ? b[i].start + every : to;
            if (s < from)
                s = from;
            if (e > to)
                e = to;
            buf_puts(out, first ? "[" : ",[");
            first = 0;
            switch (1u << m) {
            case AG_TOTALCOUNT: buf_u64(out, b[i].count); break;
            case AG_DISTINCT: {
                struct store_points pts;
                store_points_init(&pts);
                json_t *seen = json_object();
                if (store_read(r->a->st, sid, s, e, 0, &pts) == 0)
                    for (uint32_t k = 0; k < pts.n; k++) {
                        json_t *pv = point_json(pts.vt, &pts.v[k]);
                        char *key = json_dumps(pv, JSON_COMPACT | JSON_ENCODE_ANY);
                        if (key)
                            json_object_set_new(seen, key, json_true());
                        free(key);
                        json_decref(pv);
                    }
                buf_u64(out, json_object_size(seen));
                json_decref(seen);
                store_points_release(&pts);
                break;
            }
            case AG_SUM: buf_json_double(out, b[i].sum); break;
            case AG_AVG: buf_json_double(out, store_bucket_value(&b[i], AGG_AVG)); break;
            case AG_MIN: buf_json_double(out, b[i].min); break;
            case AG_MAX: buf_json_double(out, b[i].max); break;
            case AG_STDDEV: buf_json_double(out, store_bucket_value(&b[i], AGG_STDDEV)); break;
            default: buf_json_double(out, b[i].sumsq); break;
            }
            const char *ts = tq_time(t, s);
            buf_putc(out, ',');
            buf_json_str(out, ts, strlen(ts));
            const char *te = tq_time(t, e);
            buf_putc(out, ',');
            buf_json_str(out, te, strlen(te));
            buf_putc(out, ']');
        }
        buf_putc(out, ']');
    }
    if (ds) {
        buf_puts(out, ",\"datasetId\":");
        buf_json_str(out, ds, strlen(ds));
    }
    buf_putc(out, '}');
    free(b);
    return 0;
}

/* The history of one attribute instance in the requested representation: appended to dst
** (normalized: instances; temporalValues: one object with "values"). */
static int attr_history(struct ld_req *r, struct tq *t, const char *id, const char *attr_iri,
                        const json_t *cur_inst, json_t *dst)
{
    const char *kind = json_string_value(json_object_get(cur_inst, "type"));
    const char *ds = json_string_value(json_object_get(cur_inst, "datasetId"));
    if (!kind)
        kind = "Property";
    char name[600];
    entstore_series_name(attr_iri, ds, name, sizeof(name));
    uint32_t sid;
    enum vg_vtype vt;
    if (find_sid(r, id, name, &sid, &vt))
        return 0; /* no history */
    if (t->mode == LD_OPT_AGGREGATED) {
        struct buf text;
        buf_init(&text, 0);
        if (aggregate(r, t, sid, vt, kind, ds, &text)) {
            buf_release(&text);
            return -1;
        }
        json_t *a = json_loadb(text.p, text.len, 0, NULL);
        buf_release(&text);
        json_array_append_new(dst, a ? a : json_pack("{s:s}", "type", kind));
        return 0;
    }
    struct store_points pts;
    store_points_init(&pts);
    int64_t from = t->from < 0 ? 0 : t->from;
    if (store_read(r->a->st, sid, from, t->to, 0, &pts)) {
        store_points_release(&pts);
        return 0;
    }
    uint32_t first = 0, n = pts.n;
    if (t->last_n && n > t->last_n) {
        first = n - t->last_n;
        n = t->last_n;
    }
    if (n > TEMPORAL_MAX_INSTANCES) {
        n = TEMPORAL_MAX_INSTANCES;
        t->partial = 1;
        if (!t->range_lo || pts.ts[first] < t->range_lo)
            t->range_lo = pts.ts[first];
        if (pts.ts[first + n - 1] > t->range_hi)
            t->range_hi = pts.ts[first + n - 1];
    }
    /* Unit codes where they changed (ENTSTORE_UNIT_SUFFIX): the unit at t is the last change at
    ** or before t, else the first one; with no change recorded, the current unit. */
    struct store_points units;
    store_points_init(&units);
    char uname[640];
    uint32_t usid;
    int have_units = 0;
    snprintf(uname, sizeof(uname), "%s" ENTSTORE_UNIT_SUFFIX, name);
    if (find_sid(r, id, uname, &usid, NULL) == 0 &&
        store_read(r->a->st, usid, 0, INT64_MAX / 4, 0, &units) == 0 && units.n &&
        units.vt == VT_STR)
        have_units = 1;
    const char *cur_unit = json_string_value(json_object_get(cur_inst, "unitCode"));
    uint32_t ui = 0;
    json_t *values = t->mode == LD_OPT_TEMPORAL ? json_array() : NULL;
    for (uint32_t i = first; i < first + n; i++) {
        char at[32];
        fmt_time(pts.ts[i], at, sizeof(at));
        json_t *v = point_json(pts.vt, &pts.v[i]);
        if (values) {
            json_array_append_new(values, json_pack("[o,s]", v, at));
            continue;
        }
        char iid[96];
        snprintf(iid, sizeof(iid), "urn:ngsi-ld:Instance:%u:%lld", sid, (long long)pts.ts[i]);
        json_t *inst = json_pack("{s:s, s:o, s:s, s:s}", "type", kind, value_member(kind), v,
                                 "observedAt", at, "instanceId", iid);
        if (have_units) {
            while (ui + 1 < units.n && units.ts[ui + 1] <= pts.ts[i])
                ui++;
            if (units.v[ui].s.len)
                json_object_set_new(inst, "unitCode",
                                    json_stringn(units.v[ui].s.p, units.v[ui].s.len));
        } else if (cur_unit) {
            json_object_set_new(inst, "unitCode", json_string(cur_unit));
        }
        if (ds)
            json_object_set_new(inst, "datasetId", json_string(ds));
        json_array_append_new(dst, inst);
    }
    if (values) {
        json_t *o = json_pack("{s:s, s:o}", "type", kind, values_member(kind), values);
        if (ds)
            json_object_set_new(o, "datasetId", json_string(ds));
        json_array_append_new(dst, o);
    }
    store_points_release(&units);
    store_points_release(&pts);
    return 0;
}

/* Is the attribute among those asked for (attrs=), or were none named? */
static int attr_wanted(const struct tq *t, const char *iri)
{
    if (!t->attrs)
        return 1;
    size_t k;
    json_t *a;
    json_array_foreach(t->attrs, k, a) if (!strcmp(json_string_value(a), iri)) return 1;
    return 0;
}

/* The temporal representation of one entity (current state e). */
static json_t *temporal_entity(struct ld_req *r, struct tq *t, const json_t *e)
{
    const char *id = json_string_value(json_object_get(e, "id"));
    json_t *types = json_array();
    size_t i;
    json_t *ty;
    json_array_foreach(json_object_get(e, "type"), i, ty) json_array_append_new(
        types, json_string(ldctx_compact(r->ctx, json_string_value(ty))));
    json_t *out = json_pack("{s:s, s:o}", "id", id, "type",
                            json_array_size(types) == 1 ? json_incref(json_array_get(types, 0))
                                                        : json_incref(types));
    json_decref(types);
    const char *iri;
    json_t *arr;
    json_object_foreach(json_object_get(e, "attrs"), iri, arr) {
        if (!attr_wanted(t, iri))
            continue;
        json_t *dst = json_array();
        json_t *inst;
        json_array_foreach(arr, i, inst) {
            if (attr_history(r, t, id, iri, inst, dst)) {
                json_decref(dst);
                json_decref(out);
                return NULL;
            }
        }
        if (json_array_size(dst) == 0) {
            json_decref(dst);
            continue;
        }
        const char *name = ldctx_compact(r->ctx, iri);
        if (json_array_size(dst) == 1 && t->mode)
            json_object_set(out, name, json_array_get(dst, 0));
        else
            json_object_set(out, name, dst);
        json_decref(dst);
    }
    return out;
}

/* The aggregated temporal representation of one entity written straight to out (a query over
** a thousand entities makes hundreds of thousands of periods: no JSON tree for them).
** Returns 0, or -1 after answering an error. */
static int temporal_entity_agg_text(struct ld_req *r, struct tq *t, const json_t *e,
                                    struct buf *out)
{
    const char *id = json_string_value(json_object_get(e, "id"));
    const json_t *types = json_object_get(e, "type");
    buf_puts(out, "{\"id\":");
    buf_json_str(out, id, strlen(id));
    buf_puts(out, ",\"type\":");
    if (json_array_size(types) != 1)
        buf_putc(out, '[');
    size_t i;
    json_t *ty;
    json_array_foreach(types, i, ty) {
        const char *c = ldctx_compact(r->ctx, json_string_value(ty));
        if (i)
            buf_putc(out, ',');
        buf_json_str(out, c, strlen(c));
    }
    if (json_array_size(types) != 1)
        buf_putc(out, ']');
    const char *iri;
    json_t *arr;
    json_object_foreach(json_object_get(e, "attrs"), iri, arr) {
        if (!attr_wanted(t, iri))
            continue;
        size_t mark = out->len; /* rolled back if the attribute has no history */
        const char *name = ldctx_compact(r->ctx, iri);
        buf_putc(out, ',');
        buf_json_str(out, name, strlen(name));
        buf_puts(out, ":[");
        size_t bracket = out->len - 1;
        int n = 0;
        json_t *inst;
        json_array_foreach(arr, i, inst) {
            const char *kind = json_string_value(json_object_get(inst, "type"));
            const char *ds = json_string_value(json_object_get(inst, "datasetId"));
            char sname[600];
            uint32_t sid;
            enum vg_vtype vt;
            entstore_series_name(iri, ds, sname, sizeof(sname));
            if (find_sid(r, id, sname, &sid, &vt))
                continue;
            if (n++)
                buf_putc(out, ',');
            if (aggregate(r, t, sid, vt, kind ? kind : "Property", ds, out))
                return -1;
        }
        if (n == 0) {
            out->len = mark;
            out->p[mark] = '\0';
        } else if (n == 1) { /* one instance: the object itself, not an array */
            memmove(out->p + bracket, out->p + bracket + 1, out->len - bracket - 1);
            out->len--;
            out->p[out->len] = '\0';
        } else {
            buf_putc(out, ']');
        }
    }
    if (r->accept == LD_ACCEPT_LD) {
        json_t *cv = ld_context_value(r);
        buf_puts(out, ",\"@context\":");
        entity_json_write(out, cv);
        json_decref(cv);
    }
    buf_putc(out, '}');
    return 0;
}

static void send_temporal(struct ld_req *r, struct tq *t, json_t *body)
{
    int status = 200;
    if (t->partial) {
        char lo[32], hi[32], cr[128];
        fmt_time(t->range_lo, lo, sizeof(lo));
        fmt_time(t->range_hi, hi, sizeof(hi));
        snprintf(cr, sizeof(cr), "date-time %s-%s/*", lo, hi);
        http_resp_header(r->resp, "Content-Range", cr);
        status = 206;
    }
    ld_send_json(r, status, body, 1);
}

static void temporal_retrieve(struct ld_req *r, const char *id)
{
    struct tq t;
    if (!ld_tenant_check(r) || tq_parse(r, &t, NULL))
        return;
    json_t *e = NULL;
    if (!entity_uri_valid(id)) {
        ld_error(r, 400, "BadRequestData", "'%s' is not a valid entity id (a URI)", id);
    } else if (entstore_get(r->a->es, r->tenant, id, &e)) {
        ld_error(r, 404, "ResourceNotFound", "entity '%s' not found", id);
    } else {
        json_t *out = temporal_entity(r, &t, e);
        if (out)
            send_temporal(r, &t, out);
    }
    json_decref(e);
    tq_release(&t);
}

struct tquery_ctx {
    struct ld_req *r;
    struct tq *t;
    json_t *out;
    struct buf *text; /* aggregated values: the answer is written here directly */
    int rows, failed;
};

static int tquery_row(void *arg, const json_t *e)
{
    struct tquery_ctx *c = arg;
    if (c->text) {
        buf_putc(c->text, c->rows++ ? ',' : '[');
        if (temporal_entity_agg_text(c->r, c->t, e, c->text)) {
            c->failed = 1;
            return 1;
        }
        return 0;
    }
    json_t *x = temporal_entity(c->r, c->t, e);
    if (!x) {
        c->failed = 1;
        return 1;
    }
    json_array_append_new(c->out, x);
    return 0;
}

static void temporal_query(struct ld_req *r, const json_t *body)
{
    struct tq t;
    struct ld_query q;
    if (!ld_tenant_check(r) || tq_parse(r, &t, body))
        return;
    if (ld_query_parse(r, &q, body)) {
        tq_release(&t);
        return;
    }
    if (body && json_object_get(body, "attrs") && !t.attrs) {
        t.attrs = json_array();
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(body, "attrs"), i, a) if (json_is_string(a))
            json_array_append_new(t.attrs, json_string(ldctx_expand(r->ctx, json_string_value(a))));
    }
    if (!ld_query_has_filter(&q)) {
        ld_error(r, 400, "BadRequestData",
                 "a temporal query needs at least one of id, idPattern, type, attrs, q or a "
                 "geo-query");
        goto out;
    }
    const char *l = ld_arg(r, "limit"), *o = ld_arg(r, "offset");
    uint64_t limit = l ? strtoull(l, NULL, 10) : LD_DEFAULT_LIMIT;
    uint64_t offset = o ? strtoull(o, NULL, 10) : 0;
    if (limit > LD_MAX_LIMIT) {
        ld_error(r, 403, "TooManyResults", "limit: at most %d entities per page", LD_MAX_LIMIT);
        goto out;
    }
    struct ld_scan_hints h;
    struct entstore_scan s;
    ld_query_hints(&q, &h, &s);
    s.offset = offset;
    s.limit = limit;
    struct tquery_ctx c = {r, &t, json_array(), NULL, 0, 0};
    if (t.mode == LD_OPT_AGGREGATED) {
        buf_reset(&r->resp->body);
        c.text = &r->resp->body;
        /* reserve the answer's likely size at once (~60 bytes a period): growing a buffer of
        ** tens of MB by doubling copies it and faults fresh pages at every step */
        if (t.period > 0 && t.from > 0 && t.to < (int64_t)4e15) {
            double methods = 0;
            for (unsigned m = t.aggr; m; m &= m - 1)
                methods++;
            double est = (double)(t.to - t.from) / (double)t.period * methods * 60.0 *
                         (double)limit;
            if (est > 1e6)
                buf_reserve(c.text, est < 256e6 ? (size_t)est : (size_t)256e6);
        }
    }
    uint64_t total = 0;
    const char *count = ld_arg(r, "count");
    int rc = entstore_scan(r->a->es, r->tenant, &s, tquery_row, &c, &total);
    if (c.failed) {
        json_decref(c.out);
        goto out; /* the error is already in resp */
    }
    if (rc) {
        json_decref(c.out);
        ld_error_store(r, rc);
        goto out;
    }
    if (count && !strcmp(count, "true")) {
        char n[32];
        snprintf(n, sizeof(n), "%llu", (unsigned long long)total);
        http_resp_header(r->resp, "NGSILD-Results-Count", n);
    }
    if (c.text) {
        if (!c.rows)
            buf_putc(c.text, '[');
        buf_putc(c.text, ']');
        json_decref(c.out);
        ld_send_prepared(r, 200, 1);
    } else {
        send_temporal(r, &t, c.out);
    }
out:
    ld_query_release(&q);
    tq_release(&t);
}

/* ---- writes ----------------------------------------------------------------------------------- */

/* Keep, per attribute instance (datasetId), the instance with the latest observedAt: the state
** a temporal create leaves as the entity's current value. */
static json_t *latest_instances(const json_t *attrs)
{
    json_t *out = json_object();
    const char *iri;
    json_t *arr;
    json_object_foreach((json_t *)attrs, iri, arr) {
        json_t *keep = json_array();
        size_t i;
        json_t *inst;
        json_array_foreach(arr, i, inst) {
            const char *ds = json_string_value(json_object_get(inst, "datasetId"));
            const char *at = json_string_value(json_object_get(inst, "observedAt"));
            size_t j;
            json_t *k;
            int placed = 0;
            json_array_foreach(keep, j, k) {
                const char *kds = json_string_value(json_object_get(k, "datasetId"));
                if ((ds == NULL) != (kds == NULL) || (ds && strcmp(ds, kds)))
                    continue;
                const char *kat = json_string_value(json_object_get(k, "observedAt"));
                if (at && (!kat || strcmp(at, kat) > 0))
                    json_array_set(keep, j, inst);
                placed = 1;
                break;
            }
            if (!placed)
                json_array_append(keep, inst);
        }
        json_object_set_new(out, iri, keep);
    }
    return out;
}

struct tcreate_arg {
    json_t *frag; /* stored form with every instance (several per datasetId) */
    const char *now;
    int created;
};

static int tcreate_fn(void *arg, const json_t *cur, int synth, json_t **next)
{
    struct tcreate_arg *a = arg;
    json_t *state = json_deep_copy(a->frag);
    json_object_set_new(state, "attrs", latest_instances(json_object_get(a->frag, "attrs")));
    if (!cur || synth) {
        *next = state;
        a->created = !cur;
        return 0;
    }
    int rc = entity_apply(cur, state, ENTITY_APPEND, a->now, NULL, NULL, next);
    json_decref(state);
    return rc;
}

/* Temporal payloads carry several instances per attribute and datasetId: the entity module
** validates attribute by attribute, so parse each instance as its own fragment. */
static json_t *parse_temporal(struct ld_req *r, const json_t *body, enum entity_parse_mode mode,
                              struct entity_err *e)
{
    json_t *skeleton = json_object();
    json_t *attrs = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v) {
        if (!strcmp(k, "id") || !strcmp(k, "@id") || !strcmp(k, "type") || !strcmp(k, "@type") ||
            !strcmp(k, "scope") || !strcmp(k, "@context"))
            json_object_set(skeleton, k, v);
    }
    json_t *base = NULL;
    if (entity_parse(skeleton, mode, r->ctx, NULL, 0, r->now, &base, e)) {
        json_decref(skeleton);
        json_decref(attrs);
        return NULL;
    }
    json_decref(skeleton);
    json_object_foreach((json_t *)body, k, v) {
        if (!strcmp(k, "id") || !strcmp(k, "@id") || !strcmp(k, "type") || !strcmp(k, "@type") ||
            !strcmp(k, "scope") || !strcmp(k, "@context"))
            continue;
        json_t *insts = json_is_array(v) ? json_incref(v) : json_pack("[O]", v);
        size_t i;
        json_t *inst;
        const char *iri = ldctx_expand(r->ctx, k);
        json_t *dst = json_array();
        json_array_foreach(insts, i, inst) {
            json_t *one = NULL;
            if (entity_parse(inst, ENTITY_ATTR, r->ctx, iri, 0, r->now, &one, e)) {
                snprintf(e->member, sizeof(e->member), "%s[%zu]", k, i);
                json_decref(insts);
                json_decref(dst);
                json_decref(attrs);
                json_decref(base);
                return NULL;
            }
            json_t *parsed = json_object_get(json_object_get(one, "attrs"), iri);
            size_t j;
            json_t *x;
            json_array_foreach(parsed, j, x) json_array_append(dst, x);
            json_decref(one);
        }
        json_decref(insts);
        json_object_set_new(attrs, iri, dst);
    }
    json_object_set_new(base, "attrs", attrs);
    return base;
}

/* Store a parsed temporal payload: the latest instance of each attribute becomes the current
** state (the entity is created if needed), every instance goes to the history. */
static int temporal_store(struct ld_req *r, const char *id, const json_t *frag, int *created)
{
    struct tcreate_arg a = {(json_t *)frag, r->now, 0};
    struct entstore_batch *b = entstore_batch_new(r->a->es, r->tenant);
    int rc = entstore_change(b, id, tcreate_fn, &a);
    int rc2 = entstore_batch_finish(b);
    if (!rc)
        rc = rc2;
    if (!rc) {
        const char *type = json_string_value(json_array_get(json_object_get(frag, "type"), 0));
        rc = entstore_history_append(r->a->es, r->tenant, id, type, json_object_get(frag, "attrs"),
                                     NULL);
    }
    if (created)
        *created = a.created;
    return rc;
}

static void temporal_create(struct ld_req *r)
{
    struct entity_err e = {{0}, {0}};
    if (!json_is_object(r->body)) {
        ld_error(r, 400, "BadRequestData", "the body must be a temporal entity (a JSON object)");
        return;
    }
    json_t *frag = parse_temporal(r, r->body, ENTITY_FULL, &e);
    if (!frag) {
        ld_error_entity(r, &e);
        return;
    }
    const char *id = json_string_value(json_object_get(frag, "id"));
    int created = 0;
    int rc = temporal_store(r, id, frag, &created);
    if (rc) {
        ld_error_store(r, rc);
    } else if (created) {
        char loc[1200];
        snprintf(loc, sizeof(loc), LD_ROOT "temporal/entities/%s", id);
        http_resp_header(r->resp, "Location", loc);
        ld_send_status(r, 201);
    } else {
        ld_send_status(r, 204);
    }
    json_decref(frag);
}

static void temporal_append(struct ld_req *r, const char *id)
{
    struct entity_err e = {{0}, {0}};
    json_t *cur = NULL;
    if (!json_is_object(r->body)) {
        ld_error(r, 400, "BadRequestData", "the body must be a JSON object of attributes");
        return;
    }
    if (entstore_get(r->a->es, r->tenant, id, &cur)) {
        ld_error(r, 404, "ResourceNotFound", "entity '%s' not found", id);
        return;
    }
    json_t *frag = parse_temporal(r, r->body, ENTITY_FRAGMENT, &e);
    if (!frag) {
        json_decref(cur);
        ld_error_entity(r, &e);
        return;
    }
    json_object_set(frag, "id", json_object_get(cur, "id"));
    if (!json_object_get(frag, "type"))
        json_object_set(frag, "type", json_object_get(cur, "type"));
    int rc = temporal_store(r, id, frag, NULL);
    if (rc)
        ld_error_store(r, rc);
    else
        ld_send_status(r, 204);
    json_decref(frag);
    json_decref(cur);
}

/* "urn:ngsi-ld:Instance:<sid>:<epoch ms>" -> sid, ts; else a 400 is sent and -1 returned. */
static int instance_id_parse(struct ld_req *r, const char *iid, uint32_t *sid, int64_t *ts)
{
    unsigned s;
    long long t;
    char tail;
    if (sscanf(iid, "urn:ngsi-ld:Instance:%u:%lld%c", &s, &t, &tail) != 2) {
        ld_error(r, 400, "BadRequestData", "'%s' is not an instance id of this broker", iid);
        return -1;
    }
    *sid = s;
    *ts = t;
    return 0;
}

/* PATCH /temporal/entities/{id}/attrs/{attrId}/{instanceId}: a new value for that instant. */
static void temporal_instance_patch(struct ld_req *r, const char *id, const char *attr,
                                    const char *iid)
{
    uint32_t sid;
    int64_t ts;
    if (instance_id_parse(r, iid, &sid, &ts))
        return;
    json_t *cur = NULL;
    if (entstore_get(r->a->es, r->tenant, id, &cur)) {
        ld_error(r, 404, "ResourceNotFound", "entity '%s' not found", id);
        return;
    }
    const char *iri = ldctx_expand(r->ctx, attr);
    uint32_t want;
    if (find_sid(r, id, entstore_local_name(iri), &want, NULL) || want != sid) {
        json_decref(cur);
        ld_error(r, 404, "ResourceNotFound", "no instance '%s' of attribute '%s'", iid, attr);
        return;
    }
    struct entity_err e = {{0}, {0}};
    json_t *frag = NULL;
    if (entity_parse(r->body, ENTITY_ATTR, r->ctx, iri, 0, r->now, &frag, &e)) {
        json_decref(cur);
        ld_error_entity(r, &e);
        return;
    }
    char at[32];
    fmt_time(ts, at, sizeof(at));
    json_t *insts = json_object_get(json_object_get(frag, "attrs"), iri);
    json_t *inst = json_array_get(insts, 0);
    if (inst)
        json_object_set_new(inst, "observedAt", json_string(at));
    int rc = entstore_history_append(
        r->a->es, r->tenant, id,
        json_string_value(json_array_get(json_object_get(cur, "type"), 0)),
        json_object_get(frag, "attrs"), NULL);
    if (rc)
        ld_error_store(r, rc);
    else
        ld_send_status(r, 204);
    json_decref(frag);
    json_decref(cur);
}

/* ---- deleting history ----------------------------------------------------------------------- */

/* Which series of an entity hold one attribute: `name` (local name), then "#datasetId" when
** the instance has one, then ENTSTORE_UNIT_SUFFIX for the unit-code series. */
struct attr_series {
    const char *name;
    const char *dataset_id; /* only that datasetId; NULL: the default instance */
    int all;                /* every datasetId */
};

static int attr_series_match(void *arg, const char *series)
{
    const struct attr_series *w = arg;
    size_t n = strlen(w->name);
    if (strncmp(series, w->name, n))
        return 0;
    const char *rest = series + n;
    if (w->all && *rest == '#')
        return 1; /* "name#datasetId" and "name#datasetId@unitCode" */
    if (w->dataset_id) {
        size_t dl = strlen(w->dataset_id);
        if (*rest != '#' || strncmp(rest + 1, w->dataset_id, dl))
            return 0;
        rest += 1 + dl;
    }
    return !*rest || !strcmp(rest, ENTSTORE_UNIT_SUFFIX);
}

/* Does the tenant know entity id, by its current state or by its history? */
static int entity_known(struct ld_req *r, const char *id)
{
    return entstore_has_doc(r->a->es, r->tenant, id) ||
           catalog_entity_exists(r->a->cat, r->tenant, id) > 0;
}

static void temporal_entity_delete(struct ld_req *r, const char *id)
{
    if (!entity_uri_valid(id)) {
        ld_error(r, 400, "BadRequestData", "'%s' is not a valid entity id (a URI)", id);
        return;
    }
    uint32_t n = 0;
    int rc = catalog_retire(r->a->cat, r->tenant, id, NULL, NULL, &n);
    if (rc) {
        ld_error_store(r, rc);
        return;
    }
    rc = ld_entity_delete(r, id);
    if (rc == VG_ENOENT && !n)
        ld_error(r, 404, "ResourceNotFound", "entity '%s' not found", id);
    else if (rc && rc != VG_ENOENT)
        ld_error_store(r, rc);
    else
        ld_send_status(r, 204);
}

static void temporal_attr_delete(struct ld_req *r, const char *id, const char *attr)
{
    const char *ds = ld_arg(r, "datasetId");
    const char *all = ld_arg(r, "deleteAll");
    if (all && strcmp(all, "true") && strcmp(all, "false")) {
        ld_error(r, 400, "BadRequestData", "deleteAll: expected true or false");
        return;
    }
    struct attr_series w = {entstore_local_name(ldctx_expand(r->ctx, attr)), ds,
                            all && !strcmp(all, "true")};
    if (w.all && ds) {
        ld_error(r, 400, "BadRequestData", "datasetId and deleteAll=true exclude each other");
        return;
    }
    if (!entity_known(r, id)) {
        ld_error(r, 404, "ResourceNotFound", "entity '%s' not found", id);
        return;
    }
    uint32_t n = 0;
    int rc = catalog_retire(r->a->cat, r->tenant, id, attr_series_match, &w, &n);
    if (rc)
        ld_error_store(r, rc);
    else if (!n)
        ld_error(r, 404, "ResourceNotFound", "entity '%s' has no history of attribute '%s'%s%s",
                 id, attr, ds ? " with datasetId " : "", ds ? ds : "");
    else
        ld_send_status(r, 204);
}

/* The series an instance id names, if it belongs to attr of entity id. */
struct inst_series {
    uint32_t sid;
    struct attr_series w;
    int found;
    enum vg_vtype vt;
    char name[600], type[300];
    struct vg_tag tags[64];
    uint32_t ntags;
    struct buf tagstr;
};

static int inst_series_cb(void *arg, const struct catalog_series *cs)
{
    struct inst_series *f = arg;
    if (cs->sid != f->sid || !attr_series_match(&f->w, cs->attr) ||
        strstr(cs->attr, ENTSTORE_UNIT_SUFFIX))
        return 0;
    f->found = 1;
    f->vt = cs->vt;
    snprintf(f->name, sizeof(f->name), "%s", cs->attr);
    snprintf(f->type, sizeof(f->type), "%s", cs->type);
    /* copy the entity's tags (line-protocol entities have some): the rewritten series keeps them */
    size_t off[64][2];
    for (uint32_t i = 0; i < cs->ntags && i < 64; i++) {
        off[i][0] = f->tagstr.len;
        buf_append(&f->tagstr, cs->tags[i].key, cs->tags[i].klen);
        off[i][1] = f->tagstr.len;
        buf_append(&f->tagstr, cs->tags[i].val, cs->tags[i].vlen);
        f->tags[i].klen = cs->tags[i].klen;
        f->tags[i].vlen = cs->tags[i].vlen;
        f->ntags = i + 1;
    }
    for (uint32_t i = 0; i < f->ntags; i++) {
        f->tags[i].key = f->tagstr.p + off[i][0];
        f->tags[i].val = f->tagstr.p + off[i][1];
    }
    return 1;
}

static int name_equal(void *arg, const char *series)
{
    return !strcmp(series, (const char *)arg);
}

static void temporal_instance_delete(struct ld_req *r, const char *id, const char *attr,
                                     const char *iid)
{
    uint32_t sid;
    int64_t ts;
    if (instance_id_parse(r, iid, &sid, &ts))
        return;
    if (!entity_known(r, id)) {
        ld_error(r, 404, "ResourceNotFound", "entity '%s' not found", id);
        return;
    }
    struct inst_series f;
    memset(&f, 0, sizeof(f));
    buf_init(&f.tagstr, 0);
    f.sid = sid;
    f.w.name = entstore_local_name(ldctx_expand(r->ctx, attr));
    f.w.all = 1; /* the instance id names the series: any datasetId of this attribute */
    struct catalog_sel sel = {r->tenant, NULL, id, NULL, NULL, 0};
    catalog_select(r->a->cat, &sel, inst_series_cb, &f);
    struct store_points pts;
    store_points_init(&pts);
    int rc = 0;
    uint32_t at = 0, n = 0;
    if (f.found)
        rc = store_read(r->a->st, sid, INT64_MIN, INT64_MAX, TEMPORAL_MAX_REWRITE + 1, &pts);
    while (at < pts.n && pts.ts[at] != ts)
        at++;
    if (rc) {
        ld_error_store(r, rc);
    } else if (!f.found || at == pts.n) {
        ld_error(r, 404, "ResourceNotFound", "no instance '%s' of attribute '%s'", iid, attr);
    } else if (pts.n > TEMPORAL_MAX_REWRITE) {
        ld_error(r, 501, "OperationNotSupported",
                 "attribute '%s' has more than %u instances: deleting one of them is not "
                 "supported (delete the attribute's history instead)",
                 attr, TEMPORAL_MAX_REWRITE);
    } else if ((rc = catalog_retire(r->a->cat, r->tenant, id, name_equal, f.name, &n))) {
        ld_error_store(r, rc);
    } else {
        uint32_t nsid = 0;
        rc = catalog_resolve(r->a->cat, r->tenant, strlen(r->tenant), f.type, strlen(f.type), id,
                             strlen(id), f.tags, f.ntags, f.name, strlen(f.name), f.vt, &nsid);
        if (!rc)
            rc = catalog_sync(r->a->cat);
        struct store_point *p = pts.n > 1 ? vg_malloc((pts.n - 1) * sizeof(*p)) : NULL;
        uint32_t k = 0;
        for (uint32_t i = 0; !rc && i < pts.n; i++)
            if (i != at)
                p[k++] = (struct store_point){nsid, pts.ts[i], pts.v[i]};
        if (!rc && k)
            rc = store_write(r->a->st, p, k);
        free(p);
        if (rc)
            ld_error_store(r, rc);
        else
            ld_send_status(r, 204);
    }
    store_points_release(&pts);
    buf_release(&f.tagstr);
}

void ld_temporal(struct ld_req *r)
{
    const char *m = r->req->method;
    if (r->nseg >= 2 && !strcmp(r->seg[1], "entityOperations")) {
        if (r->nseg == 3 && !strcmp(r->seg[2], "query") && !strcmp(m, "POST")) {
            if (!json_is_object(r->body)) {
                ld_error(r, 400, "BadRequestData", "the body must be a Query object");
                return;
            }
            temporal_query(r, r->body);
            return;
        }
        ld_error(r, 404, "ResourceNotFound", "no NGSI-LD resource at '%s'", r->req->url);
        return;
    }
    if (r->nseg < 2 || strcmp(r->seg[1], "entities")) {
        ld_error(r, 404, "ResourceNotFound", "no NGSI-LD resource at '%s'", r->req->url);
        return;
    }
    if (r->nseg == 2) {
        if (!strcmp(m, "GET"))
            temporal_query(r, NULL);
        else if (!strcmp(m, "POST"))
            temporal_create(r);
        else
            ld_method_not_allowed(r, "GET, POST");
        return;
    }
    const char *id = r->seg[2];
    if (r->nseg == 3) {
        if (!strcmp(m, "GET"))
            temporal_retrieve(r, id);
        else if (!strcmp(m, "DELETE"))
            temporal_entity_delete(r, id);
        else
            ld_method_not_allowed(r, "GET, DELETE");
        return;
    }
    if (strcmp(r->seg[3], "attrs")) {
        ld_error(r, 404, "ResourceNotFound", "no NGSI-LD resource at '%s'", r->req->url);
        return;
    }
    if (r->nseg == 4 && !strcmp(m, "POST")) {
        temporal_append(r, id);
        return;
    }
    if (r->nseg == 6 && !strcmp(m, "PATCH")) {
        temporal_instance_patch(r, id, r->seg[4], r->seg[5]);
        return;
    }
    if (r->nseg == 5 && !strcmp(m, "DELETE")) {
        temporal_attr_delete(r, id, r->seg[4]);
        return;
    }
    if (r->nseg == 6 && !strcmp(m, "DELETE")) {
        temporal_instance_delete(r, id, r->seg[4], r->seg[5]);
        return;
    }
    ld_method_not_allowed(r, r->nseg == 4 ? "POST" : r->nseg == 6 ? "PATCH, DELETE" : "DELETE");
}
