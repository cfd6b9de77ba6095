/*
** alerts/rule.c: alert rules: JSON parsing and validation (jansson), canonical JSON output,
** target matching (tags, ids, point in polygon) and the per-series state machines.
** Owns: the ids, where strings and polygon of a parsed struct rule (freed by rule_release).
** Format and semantics: docs/alerts.md "## Rule format".
**
** Evaluation (rule_on_value / rule_on_tick) is pure: no allocation, no clock, no I/O. Every
** kind shares one gate: a value is accepted only if it is not NaN and its ts is newer than the
** newest accepted one; accepted values update last_ts / last_value / has_last.
**
** Threshold (op '>'; '<' mirrors it):
**
**        v > raise                     held for_ms [rule_on_value]
**   IDLE ----------> PENDING -------------------------------> ACTIVE
**    ^                  |                                     |   ^
**    |    v <= raise    |          v <= clear [rule_on_value] |   | clear < v (hysteresis:
**    +------------------+                                     |   |  stays active)
**    +--------------------------------------------------------+   +--+
**
** Stale:  IDLE -- tick: now - last_ts > after_ms --> ACTIVE -- any accepted value --> IDLE
** Stuck:  IDLE -- repeats >= min_repeats and ts - repeat_since >= for_ms --> ACTIVE
**         ACTIVE -- a different value --> IDLE
** Rate:   IDLE -- |dv| * per_ms / dt > max_delta --> ACTIVE -- rate <= max_delta --> IDLE
*/
#include "alerts/rule.h"

#include "core/buf.h"
#include "core/clock.h"
#include "core/vg.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RULE_ID_MAX 256  /* bytes of one target id */
#define RULE_TAG_MAX 256 /* bytes of a where key or value */
#define STUCK_MAX_REPEATS 1000000u
#define DEFAULT_PER_MS 3600000

static const char *const sev_names[] = {"informational", "low", "medium", "high", "critical"};

const char *rule_severity_name(int sev)
{
    if (sev < 0 || sev >= (int)VG_ARRAY_LEN(sev_names))
        return "medium";
    return sev_names[sev];
}

const char *rule_kind_name(enum rule_kind k)
{
    switch (k) {
    case RULE_THRESHOLD:
        return "threshold";
    case RULE_STALE:
        return "stale";
    case RULE_STUCK:
        return "stuck";
    case RULE_RATE:
        return "rate";
    }
    return "unknown";
}

void rule_release(struct rule *r)
{
    if (!r)
        return;
    for (uint32_t i = 0; i < r->nids; i++)
        free(r->ids[i]);
    free(r->ids);
    r->ids = NULL;
    r->nids = 0;
    for (uint32_t i = 0; i < r->nwhere; i++) {
        free((char *)r->where[i].key);
        free((char *)r->where[i].val);
    }
    memset(r->where, 0, sizeof(r->where));
    r->nwhere = 0;
    free(r->poly);
    r->poly = NULL;
    r->npoly = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Parsing                                                                                     */

/* Refuse members of o that are not in allowed[]; where names the object for the message. */
static int check_members(const json_t *o, const char *const *allowed, size_t n, const char *where,
                         char *err, size_t cap)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        size_t i;
        for (i = 0; i < n; i++)
            if (!strcmp(k, allowed[i]))
                break;
        if (i == n)
            return vg_errf(err, cap, VG_EINVAL, "unknown member '%.64s' in %s", k, where);
    }
    return 0;
}

/* An optional string member copied into dst[cap]: non-empty, no NUL, < dcap bytes. Returns 1
** when present, 0 when absent, VG_EINVAL otherwise. */
static int get_str(const json_t *o, const char *key, const char *path, char *dst, size_t dcap,
                   char *err, size_t cap)
{
    const json_t *v = json_object_get(o, key);
    size_t n;
    if (!v)
        return 0;
    n = json_is_string(v) ? json_string_length(v) : 0;
    if (n == 0 || n >= dcap || strlen(json_string_value(v)) != n)
        return vg_errf(err, cap, VG_EINVAL, "%s must be a non-empty string of at most %zu bytes",
                       path, dcap - 1);
    memcpy(dst, json_string_value(v), n + 1);
    return 1;
}

/* An optional finite number. Returns 1 when present, 0 when absent, VG_EINVAL otherwise. */
static int get_num(const json_t *o, const char *key, const char *path, double *out, char *err,
                   size_t cap)
{
    const json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return vg_errf(err, cap, VG_EINVAL, "%s must be a finite number", path);
    *out = json_number_value(v);
    return 1;
}

/* An optional duration string ("30m"). Returns 1 when present, 0 when absent, VG_EINVAL. */
static int get_dur(const json_t *o, const char *key, const char *path, int64_t *out, char *err,
                   size_t cap)
{
    const json_t *v = json_object_get(o, key);
    if (!v)
        return 0;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
        clock_parse_duration(json_string_value(v), out))
        return vg_errf(err, cap, VG_EINVAL,
                       "%s must be a duration such as \"90s\", \"30m\", \"2h\" or \"1d\"", path);
    return 1;
}

static int id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

static int cmp_tag(const void *a, const void *b)
{
    const struct vg_tag *x = a, *y = b;
    return strcmp(x->key, y->key);
}

static int parse_area(const json_t *a, struct rule *r, char *err, size_t cap)
{
    static const char *const allowed[] = {"type", "coordinates"};
    const json_t *t, *c, *ring;
    size_t n;
    if (!json_is_object(a))
        return vg_errf(err, cap, VG_EINVAL, "target.area must be a GeoJSON Polygon object");
    if (check_members(a, allowed, VG_ARRAY_LEN(allowed), "target.area", err, cap))
        return VG_EINVAL;
    t = json_object_get(a, "type");
    if (!json_is_string(t) || strcmp(json_string_value(t), "Polygon"))
        return vg_errf(err, cap, VG_EINVAL, "target.area.type must be \"Polygon\"");
    c = json_object_get(a, "coordinates");
    if (!json_is_array(c) || json_array_size(c) == 0)
        return vg_errf(err, cap, VG_EINVAL,
                       "target.area.coordinates must be a non-empty array of rings");
    for (size_t i = 1; i < json_array_size(c); i++)
        if (!json_is_array(json_array_get(c, i)))
            return vg_errf(err, cap, VG_EINVAL, "target.area.coordinates[%zu] must be a ring", i);
    ring = json_array_get(c, 0);
    n = json_array_size(ring);
    if (!json_is_array(ring) || n < 4 || n > RULE_MAX_POLY)
        return vg_errf(err, cap, VG_EINVAL,
                       "target.area.coordinates[0] must be a ring of 4 to %d positions",
                       RULE_MAX_POLY);
    r->poly = vg_malloc(n * 2 * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        const json_t *p = json_array_get(ring, i);
        size_t pn = json_array_size(p);
        double lon, lat;
        if (!json_is_array(p) || pn < 2 || pn > 3 || !json_is_number(json_array_get(p, 0)) ||
            !json_is_number(json_array_get(p, 1)) ||
            (pn == 3 && !json_is_number(json_array_get(p, 2))))
            return vg_errf(err, cap, VG_EINVAL,
                           "target.area.coordinates[0][%zu] must be a position [lon, lat]", i);
        lon = json_number_value(json_array_get(p, 0));
        lat = json_number_value(json_array_get(p, 1));
        if (!(lon >= -180 && lon <= 180))
            return vg_errf(err, cap, VG_EINVAL,
                           "target.area.coordinates[0][%zu]: longitude %g out of range "
                           "[-180, 180]",
                           i, lon);
        if (!(lat >= -90 && lat <= 90))
            return vg_errf(err, cap, VG_EINVAL,
                           "target.area.coordinates[0][%zu]: latitude %g out of range [-90, 90]",
                           i, lat);
        r->poly[2 * i] = lon;
        r->poly[2 * i + 1] = lat;
        r->npoly++;
    }
    if (r->poly[0] != r->poly[2 * (n - 1)] || r->poly[1] != r->poly[2 * (n - 1) + 1])
        return vg_errf(err, cap, VG_EINVAL,
                       "target.area.coordinates[0] must be closed (last position = first)");
    return 0;
}

static int parse_target(const json_t *t, struct rule *r, char *err, size_t cap)
{
    static const char *const allowed[] = {"type", "attr", "ids", "where", "area"};
    const json_t *v;
    int has_type, has_attr;
    if (!json_is_object(t))
        return vg_errf(err, cap, VG_EINVAL, "target must be an object");
    if (check_members(t, allowed, VG_ARRAY_LEN(allowed), "target", err, cap))
        return VG_EINVAL;
    has_type = get_str(t, "type", "target.type", r->type, sizeof(r->type), err, cap);
    if (has_type < 0)
        return has_type;
    has_attr = get_str(t, "attr", "target.attr", r->attr, sizeof(r->attr), err, cap);
    if (has_attr < 0)
        return has_attr;
    v = json_object_get(t, "ids");
    if (v) {
        size_t n = json_array_size(v), i;
        json_t *e;
        if (!json_is_array(v) || n == 0 || n > RULE_MAX_IDS)
            return vg_errf(err, cap, VG_EINVAL,
                           "target.ids must be a non-empty array of at most %d entity ids",
                           RULE_MAX_IDS);
        r->ids = vg_calloc(n, sizeof(*r->ids));
        json_array_foreach(v, i, e)
        {
            size_t len = json_is_string(e) ? json_string_length(e) : 0;
            if (len == 0 || len > RULE_ID_MAX || strlen(json_string_value(e)) != len)
                return vg_errf(err, cap, VG_EINVAL,
                               "target.ids[%zu] must be a non-empty string of at most %d bytes",
                               i, RULE_ID_MAX);
            r->ids[r->nids++] = vg_strdup(json_string_value(e));
        }
    }
    if (!has_type && !r->nids)
        return vg_errf(err, cap, VG_EINVAL, "target.type or target.ids is required");
    if (!has_attr && r->kind != RULE_STALE)
        return vg_errf(err, cap, VG_EINVAL, "target.attr is required for a %s rule",
                       rule_kind_name(r->kind));
    v = json_object_get(t, "where");
    if (v) {
        const char *k;
        json_t *e;
        if (!json_is_object(v) || json_object_size(v) > RULE_MAX_WHERE)
            return vg_errf(err, cap, VG_EINVAL,
                           "target.where must be an object of at most %d string tags",
                           RULE_MAX_WHERE);
        json_object_foreach((json_t *)v, k, e)
        {
            size_t kl = strlen(k), vl = json_is_string(e) ? json_string_length(e) : 0;
            if (kl == 0 || kl > RULE_TAG_MAX)
                return vg_errf(err, cap, VG_EINVAL,
                               "target.where keys must be non-empty strings of at most %d bytes",
                               RULE_TAG_MAX);
            if (!json_is_string(e) || vl > RULE_TAG_MAX || strlen(json_string_value(e)) != vl)
                return vg_errf(err, cap, VG_EINVAL,
                               "target.where.%.64s must be a string of at most %d bytes", k,
                               RULE_TAG_MAX);
            struct vg_tag *tg = &r->where[r->nwhere++];
            tg->key = vg_strdup(k);
            tg->klen = (uint32_t)kl;
            tg->val = vg_strdup(json_string_value(e));
            tg->vlen = (uint32_t)vl;
        }
        /* canonical order, whatever the document's */
        qsort(r->where, r->nwhere, sizeof(r->where[0]), cmp_tag);
    }
    v = json_object_get(t, "area");
    if (v)
        return parse_area(v, r, err, cap);
    return 0;
}

static int parse_condition(const json_t *c, struct rule *r, char *err, size_t cap)
{
    static const char *const th[] = {"op", "raise", "clear", "for"};
    static const char *const st[] = {"after"};
    static const char *const su[] = {"for", "repeats"};
    static const char *const ra[] = {"max", "per"};
    const json_t *v;
    int rc;
    if (!json_is_object(c))
        return vg_errf(err, cap, VG_EINVAL, "condition must be an object");
    switch (r->kind) {
    case RULE_THRESHOLD:
        if (check_members(c, th, VG_ARRAY_LEN(th), "condition", err, cap))
            return VG_EINVAL;
        v = json_object_get(c, "op");
        if (!v)
            return vg_errf(err, cap, VG_EINVAL, "condition.op is required (\">\" or \"<\")");
        if (!json_is_string(v) ||
            (strcmp(json_string_value(v), ">") && strcmp(json_string_value(v), "<")))
            return vg_errf(err, cap, VG_EINVAL, "condition.op must be \">\" or \"<\"");
        r->op = json_string_value(v)[0];
        rc = get_num(c, "raise", "condition.raise", &r->raise, err, cap);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return vg_errf(err, cap, VG_EINVAL, "condition.raise is required");
        rc = get_num(c, "clear", "condition.clear", &r->clear, err, cap);
        if (rc < 0)
            return rc;
        if (rc == 0)
            r->clear = r->raise;
        if (r->op == '>' && r->clear > r->raise)
            return vg_errf(err, cap, VG_EINVAL,
                           "condition.clear must be <= condition.raise for op '>'");
        if (r->op == '<' && r->clear < r->raise)
            return vg_errf(err, cap, VG_EINVAL,
                           "condition.clear must be >= condition.raise for op '<'");
        rc = get_dur(c, "for", "condition.for", &r->for_ms, err, cap);
        return rc < 0 ? rc : 0;
    case RULE_STALE:
        if (check_members(c, st, VG_ARRAY_LEN(st), "condition", err, cap))
            return VG_EINVAL;
        rc = get_dur(c, "after", "condition.after", &r->after_ms, err, cap);
        if (rc < 0)
            return rc;
        if (rc == 0 || r->after_ms <= 0)
            return vg_errf(err, cap, VG_EINVAL,
                           "condition.after is required and must be above 0 (e.g. \"2h\")");
        return 0;
    case RULE_STUCK:
        if (check_members(c, su, VG_ARRAY_LEN(su), "condition", err, cap))
            return VG_EINVAL;
        rc = get_dur(c, "for", "condition.for", &r->for_ms, err, cap);
        if (rc < 0)
            return rc;
        r->min_repeats = 3;
        v = json_object_get(c, "repeats");
        if (v) {
            double d = json_is_number(v) ? json_number_value(v) : NAN;
            if (!(d >= 2 && d <= STUCK_MAX_REPEATS) || d != floor(d))
                return vg_errf(err, cap, VG_EINVAL,
                               "condition.repeats must be an integer from 2 to %u",
                               STUCK_MAX_REPEATS);
            r->min_repeats = (uint32_t)d;
        }
        return 0;
    case RULE_RATE:
        if (check_members(c, ra, VG_ARRAY_LEN(ra), "condition", err, cap))
            return VG_EINVAL;
        rc = get_num(c, "max", "condition.max", &r->max_delta, err, cap);
        if (rc < 0)
            return rc;
        if (rc == 0 || !(r->max_delta > 0))
            return vg_errf(err, cap, VG_EINVAL, "condition.max is required and must be above 0");
        r->per_ms = DEFAULT_PER_MS;
        rc = get_dur(c, "per", "condition.per", &r->per_ms, err, cap);
        if (rc < 0)
            return rc;
        if (r->per_ms <= 0)
            return vg_errf(err, cap, VG_EINVAL, "condition.per must be above 0");
        return 0;
    }
    return vg_errf(err, cap, VG_EINVAL, "kind is invalid");
}

static const char *default_message(const struct rule *r)
{
    switch (r->kind) {
    case RULE_THRESHOLD:
        return r->op == '<' ? "{entity}: {attr} {value} below {threshold} for {duration}"
                            : "{entity}: {attr} {value} above {threshold} for {duration}";
    case RULE_STALE:
        return "{entity}: no new {attr} value for more than {duration}";
    case RULE_STUCK:
        return "{entity}: {attr} stuck at {value} ({threshold} identical values over at least "
               "{duration})";
    case RULE_RATE:
        return "{entity}: {attr} changed faster than {threshold} per {duration} (now {value})";
    }
    return "{rule}: {entity} {attr} {value}";
}

static int parse_obj(const json_t *o, struct rule *r, char *err, size_t cap)
{
    static const char *const allowed[] = {"id",      "name",    "kind",   "severity",
                                          "message", "enabled", "target", "condition"};
    const json_t *v;
    int rc;
    if (!json_is_object(o))
        return vg_errf(err, cap, VG_EINVAL, "a rule must be a JSON object");
    if (check_members(o, allowed, VG_ARRAY_LEN(allowed), "rule", err, cap))
        return VG_EINVAL;
    v = json_object_get(o, "id");
    if (!v)
        return vg_errf(err, cap, VG_EINVAL, "id is required");
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
        !id_ok(json_string_value(v)))
        return vg_errf(err, cap, VG_EINVAL,
                       "id must be 1 to 63 characters among A-Z a-z 0-9 _ . -");
    memcpy(r->id, json_string_value(v), json_string_length(v) + 1);
    rc = get_str(o, "name", "name", r->name, sizeof(r->name), err, cap);
    if (rc < 0)
        return rc;
    v = json_object_get(o, "kind");
    if (!v)
        return vg_errf(err, cap, VG_EINVAL, "kind is required (threshold, stale, stuck, rate)");
    for (int k = RULE_THRESHOLD; k <= RULE_RATE; k++)
        if (json_is_string(v) && !strcmp(json_string_value(v), rule_kind_name(k)))
            r->kind = k;
    if (!r->kind)
        return vg_errf(err, cap, VG_EINVAL,
                       "kind must be one of threshold, stale, stuck, rate");
    r->severity = SEV_MEDIUM;
    v = json_object_get(o, "severity");
    if (v) {
        int s = -1;
        for (int i = 0; i < (int)VG_ARRAY_LEN(sev_names); i++)
            if (json_is_string(v) && !strcmp(json_string_value(v), sev_names[i]))
                s = i;
        if (s < 0)
            return vg_errf(err, cap, VG_EINVAL,
                           "severity must be one of informational, low, medium, high, critical");
        r->severity = s;
    }
    r->enabled = 1;
    v = json_object_get(o, "enabled");
    if (v) {
        if (!json_is_boolean(v))
            return vg_errf(err, cap, VG_EINVAL, "enabled must be true or false");
        r->enabled = json_is_true(v);
    }
    v = json_object_get(o, "target");
    if (!v)
        return vg_errf(err, cap, VG_EINVAL, "target is required");
    rc = parse_target(v, r, err, cap);
    if (rc)
        return rc;
    v = json_object_get(o, "condition");
    if (!v)
        return vg_errf(err, cap, VG_EINVAL, "condition is required");
    rc = parse_condition(v, r, err, cap);
    if (rc)
        return rc;
    /* after the condition: the default message of a threshold rule depends on op */
    rc = get_str(o, "message", "message", r->message, sizeof(r->message), err, cap);
    if (rc < 0)
        return rc;
    if (rc == 0)
        snprintf(r->message, sizeof(r->message), "%s", default_message(r));
    return 0;
}

int rule_parse(const char *json, size_t len, struct rule *out, char *err, size_t cap)
{
    json_error_t je;
    json_t *o;
    int rc;
    memset(out, 0, sizeof(*out));
    vg_putf(err, cap, "%s", "");
    o = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &je);
    if (!o)
        return vg_errf(err, cap, VG_EINVAL, "invalid JSON at line %d column %d: %s", je.line,
                       je.column, je.text);
    rc = parse_obj(o, out, err, cap);
    json_decref(o);
    if (rc) {
        rule_release(out);
        memset(out, 0, sizeof(*out));
        return VG_EINVAL;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Canonical JSON                                                                              */

/* ms as the largest unit that divides it exactly: "1d", "2h", "30m", "90s", "1500ms". */
static void fmt_duration(int64_t ms, char *out, size_t cap)
{
    static const struct {
        int64_t ms;
        const char *unit;
    } units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
    if (ms != 0)
        for (size_t i = 0; i < VG_ARRAY_LEN(units); i++)
            if (ms % units[i].ms == 0) {
                snprintf(out, cap, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
                return;
            }
    snprintf(out, cap, ms == 0 ? "%llds" : "%lldms", (long long)ms);
}

static void put_key(struct buf *b, const char *k)
{
    buf_json_str(b, k, strlen(k));
    buf_putc(b, ':');
}

static void put_str(struct buf *b, const char *k, const char *v)
{
    put_key(b, k);
    buf_json_str(b, v, strlen(v));
}

static void put_dur(struct buf *b, const char *k, int64_t ms)
{
    char d[32];
    fmt_duration(ms, d, sizeof(d));
    put_str(b, k, d);
}

char *rule_to_json(const struct rule *r)
{
    struct buf b;
    int first = 1;
    buf_init(&b, 0);
    buf_putc(&b, '{');
    put_str(&b, "id", r->id);
    buf_putc(&b, ',');
    if (r->name[0]) { /* "" (no name) has no JSON form: the member is left out */
        put_str(&b, "name", r->name);
        buf_putc(&b, ',');
    }
    put_str(&b, "kind", rule_kind_name(r->kind));
    buf_putc(&b, ',');
    put_str(&b, "severity", rule_severity_name(r->severity));
    buf_putc(&b, ',');
    put_str(&b, "message", r->message);
    buf_puts(&b, r->enabled ? ",\"enabled\":true" : ",\"enabled\":false");
    buf_puts(&b, ",\"target\":{");
    if (r->type[0]) {
        put_str(&b, "type", r->type);
        first = 0;
    }
    if (r->attr[0]) {
        if (!first)
            buf_putc(&b, ',');
        put_str(&b, "attr", r->attr);
        first = 0;
    }
    if (r->nids) {
        if (!first)
            buf_putc(&b, ',');
        put_key(&b, "ids");
        buf_putc(&b, '[');
        for (uint32_t i = 0; i < r->nids; i++) {
            if (i)
                buf_putc(&b, ',');
            buf_json_str(&b, r->ids[i], strlen(r->ids[i]));
        }
        buf_putc(&b, ']');
        first = 0;
    }
    if (r->nwhere) {
        if (!first)
            buf_putc(&b, ',');
        put_key(&b, "where");
        buf_putc(&b, '{');
        for (uint32_t i = 0; i < r->nwhere; i++) {
            if (i)
                buf_putc(&b, ',');
            buf_json_str(&b, r->where[i].key, r->where[i].klen);
            buf_putc(&b, ':');
            buf_json_str(&b, r->where[i].val, r->where[i].vlen);
        }
        buf_putc(&b, '}');
        first = 0;
    }
    if (r->npoly) {
        if (!first)
            buf_putc(&b, ',');
        buf_puts(&b, "\"area\":{\"type\":\"Polygon\",\"coordinates\":[[");
        for (uint32_t i = 0; i < r->npoly; i++) {
            buf_puts(&b, i ? ",[" : "[");
            buf_json_double(&b, r->poly[2 * i]);
            buf_putc(&b, ',');
            buf_json_double(&b, r->poly[2 * i + 1]);
            buf_putc(&b, ']');
        }
        buf_puts(&b, "]]}");
    }
    buf_puts(&b, "},\"condition\":{");
    switch (r->kind) {
    case RULE_THRESHOLD:
        put_str(&b, "op", r->op == '<' ? "<" : ">");
        buf_puts(&b, ",\"raise\":");
        buf_json_double(&b, r->raise);
        buf_puts(&b, ",\"clear\":");
        buf_json_double(&b, r->clear);
        buf_putc(&b, ',');
        put_dur(&b, "for", r->for_ms);
        break;
    case RULE_STALE:
        put_dur(&b, "after", r->after_ms);
        break;
    case RULE_STUCK:
        put_dur(&b, "for", r->for_ms);
        buf_puts(&b, ",\"repeats\":");
        buf_u64(&b, r->min_repeats);
        break;
    case RULE_RATE:
        buf_puts(&b, "\"max\":");
        buf_json_double(&b, r->max_delta);
        buf_putc(&b, ',');
        put_dur(&b, "per", r->per_ms);
        break;
    }
    buf_puts(&b, "}}");
    return buf_detach(&b, NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* Matching                                                                                    */

/* Is (x, y) inside the ring poly[0..n) (closed or not)? Points on an edge count as inside;
** elsewhere the even-odd rule (ray casting towards +x). */
static int point_in_ring(const double *poly, uint32_t n, double x, double y)
{
    int in = 0;
    for (uint32_t i = 0, j = n - 1; i < n; j = i++) {
        double xi = poly[2 * i], yi = poly[2 * i + 1], xj = poly[2 * j], yj = poly[2 * j + 1];
        /* on the segment [j, i]: collinear and within its bounding box */
        double cross = (xj - xi) * (y - yi) - (yj - yi) * (x - xi);
        if (cross == 0 && x >= fmin(xi, xj) && x <= fmax(xi, xj) && y >= fmin(yi, yj) &&
            y <= fmax(yi, yj))
            return 1;
        if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi)
            in = !in;
    }
    return in;
}

int rule_matches(const struct rule *r, const char *type, const char *entity, const char *attr,
                 const struct vg_tag *tags, uint32_t ntags, const double *lonlat)
{
    if (!r->enabled)
        return 0;
    if (r->type[0] && (!type || strcmp(r->type, type)))
        return 0;
    if (r->attr[0] && (!attr || strcmp(r->attr, attr)))
        return 0;
    if (r->nids) {
        uint32_t i;
        if (!entity)
            return 0;
        for (i = 0; i < r->nids; i++)
            if (!strcmp(r->ids[i], entity))
                break;
        if (i == r->nids)
            return 0;
    }
    for (uint32_t w = 0; w < r->nwhere; w++) {
        const struct vg_tag *want = &r->where[w];
        uint32_t i;
        for (i = 0; i < ntags; i++)
            if (tags[i].klen == want->klen && !memcmp(tags[i].key, want->key, want->klen))
                break;
        if (i == ntags || tags[i].vlen != want->vlen ||
            memcmp(tags[i].val, want->val, want->vlen))
            return 0;
    }
    if (r->npoly) {
        if (!lonlat || !point_in_ring(r->poly, r->npoly, lonlat[0], lonlat[1]))
            return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Evaluation                                                                                  */

/* a - b without overflow (saturated). */
static int64_t sub_sat(int64_t a, int64_t b)
{
    int64_t d;
    if (__builtin_sub_overflow(a, b, &d))
        return b > 0 ? INT64_MIN : INT64_MAX;
    return d;
}

static enum rule_event eval_threshold(const struct rule *r, struct rule_state *st, int64_t ts,
                                      double v)
{
    int cond = r->op == '<' ? v < r->raise : v > r->raise;
    if (st->active) {
        if (r->op == '<' ? v >= r->clear : v <= r->clear) {
            st->active = 0;
            st->pending = 0;
            return RULE_CLEAR;
        }
        return RULE_NONE;
    }
    if (!cond) {
        st->pending = 0;
        return RULE_NONE;
    }
    if (!st->pending) {
        st->pending = 1;
        st->pending_since = ts;
    }
    if (sub_sat(ts, st->pending_since) >= r->for_ms) {
        st->active = 1;
        st->pending = 0;
        st->trigger_value = v;
        st->raised_at = ts;
        return RULE_RAISE;
    }
    return RULE_NONE;
}

static enum rule_event eval_stuck(const struct rule *r, struct rule_state *st, int64_t ts,
                                  double v)
{
    enum rule_event ev = RULE_NONE;
    if (st->has_last && v == st->last_value) {
        if (st->repeats < UINT32_MAX)
            st->repeats++;
    } else {
        st->repeats = 1;
        st->repeat_since = ts;
        if (st->active) {
            st->active = 0;
            return RULE_CLEAR;
        }
    }
    if (!st->active && st->repeats >= r->min_repeats &&
        sub_sat(ts, st->repeat_since) >= r->for_ms) {
        st->active = 1;
        st->trigger_value = v;
        st->raised_at = ts;
        ev = RULE_RAISE;
    }
    return ev;
}

static enum rule_event eval_rate(const struct rule *r, struct rule_state *st, int64_t ts, double v)
{
    double rate;
    if (!st->has_last)
        return RULE_NONE;
    /* ts > last_ts here, so the (saturated) interval is >= 1 ms */
    rate = fabs(v - st->last_value) * (double)r->per_ms / (double)sub_sat(ts, st->last_ts);
    if (!st->active && rate > r->max_delta) {
        st->active = 1;
        st->trigger_value = v;
        st->raised_at = ts;
        return RULE_RAISE;
    }
    if (st->active && rate <= r->max_delta) {
        st->active = 0;
        return RULE_CLEAR;
    }
    return RULE_NONE;
}

enum rule_event rule_on_value(const struct rule *r, struct rule_state *st, int64_t ts, double v)
{
    enum rule_event ev = RULE_NONE;
    if (isnan(v) || (st->has_last && ts <= st->last_ts))
        return RULE_NONE;
    switch (r->kind) {
    case RULE_THRESHOLD:
        ev = eval_threshold(r, st, ts, v);
        break;
    case RULE_STALE:
        if (st->active) {
            st->active = 0;
            ev = RULE_CLEAR;
        }
        break;
    case RULE_STUCK:
        ev = eval_stuck(r, st, ts, v);
        break;
    case RULE_RATE:
        ev = eval_rate(r, st, ts, v);
        break;
    }
    st->has_last = 1;
    st->last_ts = ts;
    st->last_value = v;
    return ev;
}

enum rule_event rule_on_tick(const struct rule *r, struct rule_state *st, int64_t now)
{
    if (r->kind != RULE_STALE || st->active || !st->has_last)
        return RULE_NONE;
    if (sub_sat(now, st->last_ts) > r->after_ms) {
        st->active = 1;
        st->trigger_value = st->last_value;
        st->raised_at = now;
        return RULE_RAISE;
    }
    return RULE_NONE;
}

/* ------------------------------------------------------------------------------------------ */
/* Messages                                                                                    */

struct out {
    char *p;
    size_t cap, len;
    int full;
};

static void out_put(struct out *o, const char *s, size_t n)
{
    if (o->full)
        return;
    if (o->len + n >= o->cap) {
        n = o->cap - 1 - o->len;
        o->full = 1;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

void rule_message(const struct rule *r, const struct rule_state *st, const char *entity,
                  const char *attr, char *out, size_t cap)
{
    struct out o = {out, cap, 0, 0};
    const char *s = r->message;
    char num[64];
    if (!out || cap == 0)
        return;
    if (!entity)
        entity = "";
    if (!attr)
        attr = r->attr;
    while (*s && !o.full) {
        const char *open = strchr(s, '{'), *close;
        const char *rep = NULL;
        size_t kl;
        if (!open) {
            out_put(&o, s, strlen(s));
            break;
        }
        out_put(&o, s, (size_t)(open - s));
        close = strchr(open, '}');
        if (!close) {
            out_put(&o, open, strlen(open));
            break;
        }
        kl = (size_t)(close - open - 1);
#define IS(k) (kl == sizeof(k) - 1 && !memcmp(open + 1, k, kl))
        if (IS("rule")) {
            rep = r->name[0] ? r->name : r->id;
        } else if (IS("entity")) {
            rep = entity;
        } else if (IS("attr")) {
            rep = attr;
        } else if (IS("value")) {
            double v = !st ? NAN : st->active ? st->trigger_value : st->last_value;
            snprintf(num, sizeof(num), "%.6g", v);
            rep = num;
        } else if (IS("threshold")) {
            if (r->kind == RULE_RATE)
                snprintf(num, sizeof(num), "%.6g", r->max_delta);
            else if (r->kind == RULE_STUCK)
                snprintf(num, sizeof(num), "%u", r->min_repeats);
            else
                snprintf(num, sizeof(num), "%.6g", r->raise);
            rep = num;
        } else if (IS("duration")) {
            fmt_duration(r->kind == RULE_STALE  ? r->after_ms
                         : r->kind == RULE_RATE ? r->per_ms
                                                : r->for_ms,
                         num, sizeof(num));
            rep = num;
        }
#undef IS
        if (rep) {
            out_put(&o, rep, strlen(rep));
            s = close + 1;
        } else {
            /* not a placeholder: keep the '{' and go on after it */
            out_put(&o, open, 1);
            s = open + 1;
        }
    }
    /* do not leave half a UTF-8 sequence at a truncation point */
    if (o.full) {
        size_t i = o.len, back = 0;
        while (i > 0 && back < 4 && ((unsigned char)out[i - 1] & 0xC0) == 0x80) {
            i--;
            back++;
        }
        if (i > 0 && ((unsigned char)out[i - 1] & 0xC0) == 0xC0) {
            unsigned char lead = (unsigned char)out[i - 1];
            size_t need = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : 1;
            if (back < need)
                o.len = i - 1;
        }
    }
    out[o.len] = '\0';
}
