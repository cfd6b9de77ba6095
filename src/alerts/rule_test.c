/*
** alerts/rule_test.c: alert rules: parsing of every documented form and refusal (the error names
** the member), canonical JSON round trips (fixed and randomized), each kind's state machine on
** explicit sequences, target matching (tags, ids, concave polygon), message templates, and a
** property test of threshold hysteresis on random sequences.
*/
#include "alerts/rule.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/test.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MIN_MS 60000LL
#define HOUR_MS 3600000LL

static const char *EX_THRESHOLD =
    "{\"id\":\"pm25-high\",\"name\":\"PM2.5 episode\",\"kind\":\"threshold\",\"severity\":\"high\","
    "\"message\":\"{entity}: PM2.5 {value} \xc2\xb5g/m\xc2\xb3 above {threshold} for {duration}\","
    "\"enabled\":true,"
    "\"target\":{\"type\":\"AirQualityObserved\",\"attr\":\"pm25\","
    "\"ids\":[\"urn:a:1\",\"urn:a:2\"],"
    "\"where\":{\"district\":\"75012\",\"city\":\"Paris\"},"
    "\"area\":{\"type\":\"Polygon\",\"coordinates\":[[[2.3,48.8],[2.4,48.8],[2.4,48.9],[2.3,48.9],"
    "[2.3,48.8]]]}},"
    "\"condition\":{\"op\":\">\",\"raise\":50,\"clear\":40,\"for\":\"30m\"}}";
static const char *EX_STALE = "{\"id\":\"quiet\",\"kind\":\"stale\","
                              "\"target\":{\"type\":\"Sensor\"},"
                              "\"condition\":{\"after\":\"2h\"}}";
static const char *EX_STUCK = "{\"id\":\"frozen\",\"kind\":\"stuck\",\"severity\":\"low\","
                              "\"target\":{\"type\":\"Sensor\",\"attr\":\"t\"},"
                              "\"condition\":{\"for\":\"2h\",\"repeats\":5}}";
static const char *EX_RATE = "{\"id\":\"jump\",\"kind\":\"rate\",\"severity\":\"critical\","
                             "\"target\":{\"ids\":[\"urn:x\"],\"attr\":\"level\"},"
                             "\"condition\":{\"max\":20,\"per\":\"1h\"}}";

static int parse(const char *json, struct rule *r)
{
    char err[256];
    int rc = rule_parse(json, strlen(json), r, err, sizeof(err));
    if (rc)
        printf("  unexpected parse error: %s\n", err);
    return rc;
}

/* The rule is refused and the message contains want. */
static int refused(const char *json, const char *want)
{
    struct rule r;
    char err[256];
    memset(&r, 0x5a, sizeof(r));
    int rc = rule_parse(json, strlen(json), &r, err, sizeof(err));
    if (rc == 0) {
        printf("  accepted: %s\n", json);
        rule_release(&r);
        return 0;
    }
    if (rc != VG_EINVAL || !strstr(err, want)) {
        printf("  error '%s' lacks '%s' for %s\n", err, want, json);
        return 0;
    }
    /* released: nothing left owned */
    return r.ids == NULL && r.nids == 0 && r.poly == NULL && r.nwhere == 0 && r.geo == NULL &&
           r.geo_ring == NULL && r.geo_poly == NULL && r.ngeo == 0;
}

static int same_rule(const struct rule *a, const struct rule *b)
{
    if (strcmp(a->id, b->id) || strcmp(a->name, b->name) || a->kind != b->kind ||
        a->severity != b->severity || strcmp(a->message, b->message) || a->enabled != b->enabled ||
        strcmp(a->type, b->type) || strcmp(a->attr, b->attr) || a->nids != b->nids ||
        a->nwhere != b->nwhere || a->npoly != b->npoly || a->op != b->op ||
        memcmp(&a->raise, &b->raise, sizeof(double)) ||
        memcmp(&a->clear, &b->clear, sizeof(double)) || a->for_ms != b->for_ms ||
        a->after_ms != b->after_ms || a->min_repeats != b->min_repeats ||
        memcmp(&a->max_delta, &b->max_delta, sizeof(double)) || a->per_ms != b->per_ms)
        return 0;
    if (a->night_from != b->night_from || a->night_to != b->night_to || a->nights != b->nights ||
        a->learn != b->learn || a->window != b->window ||
        memcmp(&a->ratio, &b->ratio, sizeof(double)) ||
        memcmp(&a->margin, &b->margin, sizeof(double)) ||
        memcmp(&a->radius_m, &b->radius_m, sizeof(double)) || a->geo_multi != b->geo_multi ||
        a->ngeo != b->ngeo || a->ngeo_ring != b->ngeo_ring || a->ngeo_poly != b->ngeo_poly ||
        memcmp(a->geo_bbox, b->geo_bbox, sizeof(a->geo_bbox)) || a->horizon_ms != b->horizon_ms ||
        a->upper != b->upper || memcmp(&a->score, &b->score, sizeof(double)) ||
        a->weeks != b->weeks || a->min_weeks != b->min_weeks || a->nclauses != b->nclauses ||
        a->window_ms != b->window_ms)
        return 0;
    if ((a->ngeo && memcmp(a->geo, b->geo, 2 * sizeof(double) * a->ngeo)) ||
        (a->ngeo_ring && memcmp(a->geo_ring, b->geo_ring, sizeof(uint32_t) * a->ngeo_ring)) ||
        (a->ngeo_poly && memcmp(a->geo_poly, b->geo_poly, sizeof(uint32_t) * a->ngeo_poly)))
        return 0;
    for (uint32_t i = 0; i < a->nclauses; i++)
        if (strcmp(a->clauses[i].type, b->clauses[i].type) ||
            strcmp(a->clauses[i].attr, b->clauses[i].attr) || a->clauses[i].op != b->clauses[i].op ||
            memcmp(&a->clauses[i].value, &b->clauses[i].value, sizeof(double)))
            return 0;
    for (uint32_t i = 0; i < a->nids; i++)
        if (strcmp(a->ids[i], b->ids[i]))
            return 0;
    for (uint32_t i = 0; i < a->nwhere; i++)
        if (strcmp(a->where[i].key, b->where[i].key) || strcmp(a->where[i].val, b->where[i].val) ||
            a->where[i].klen != b->where[i].klen || a->where[i].vlen != b->where[i].vlen)
            return 0;
    for (uint32_t i = 0; i < 2 * a->npoly; i++)
        if (a->poly[i] != b->poly[i])
            return 0;
    return 1;
}

/* to_json -> parse gives the same fields, and to_json of that gives the same bytes. */
static int round_trips(const struct rule *r)
{
    char *j1 = rule_to_json(r), *j2;
    struct rule b;
    int ok;
    if (parse(j1, &b)) {
        printf("  json: %s\n", j1);
        free(j1);
        return 0;
    }
    j2 = rule_to_json(&b);
    ok = same_rule(r, &b) && !strcmp(j1, j2);
    if (!ok)
        printf("  differs:\n  %s\n  %s\n", j1, j2);
    rule_release(&b);
    free(j1);
    free(j2);
    return ok;
}

static void parses_threshold_example(void)
{
    struct rule r;
    REQUIRE(parse(EX_THRESHOLD, &r) == 0);
    CHECK(!strcmp(r.id, "pm25-high"));
    CHECK(!strcmp(r.name, "PM2.5 episode"));
    CHECK_EQ_INT(r.kind, RULE_THRESHOLD);
    CHECK_EQ_INT(r.severity, SEV_HIGH);
    CHECK(strstr(r.message, "\xc2\xb5g/m") != NULL);
    CHECK_EQ_INT(r.enabled, 1);
    CHECK(!strcmp(r.type, "AirQualityObserved"));
    CHECK(!strcmp(r.attr, "pm25"));
    CHECK_EQ_INT(r.nids, 2);
    CHECK(r.nids == 2 && !strcmp(r.ids[1], "urn:a:2"));
    CHECK_EQ_INT(r.nwhere, 2);
    /* sorted by key */
    CHECK(r.nwhere == 2 && !strcmp(r.where[0].key, "city") && !strcmp(r.where[1].val, "75012"));
    CHECK_EQ_INT(r.npoly, 5);
    CHECK(r.npoly == 5 && r.poly[2] == 2.4 && r.poly[5] == 48.9);
    CHECK_EQ_INT(r.op, '>');
    CHECK(r.raise == 50 && r.clear == 40);
    CHECK_EQ_INT(r.for_ms, 30 * MIN_MS);
    CHECK(round_trips(&r));
    rule_release(&r);
}

static void parses_other_kinds_with_defaults(void)
{
    struct rule r;
    REQUIRE(parse(EX_STALE, &r) == 0);
    CHECK_EQ_INT(r.kind, RULE_STALE);
    CHECK_EQ_INT(r.after_ms, 2 * HOUR_MS);
    CHECK_EQ_INT(r.severity, SEV_MEDIUM);
    CHECK_EQ_INT(r.enabled, 1);
    CHECK(r.attr[0] == 0 && r.name[0] == 0);
    CHECK(strstr(r.message, "{duration}") != NULL);
    CHECK(round_trips(&r));
    rule_release(&r);

    REQUIRE(parse(EX_STUCK, &r) == 0);
    CHECK_EQ_INT(r.kind, RULE_STUCK);
    CHECK_EQ_INT(r.for_ms, 2 * HOUR_MS);
    CHECK_EQ_INT(r.min_repeats, 5);
    CHECK_EQ_INT(r.severity, SEV_LOW);
    CHECK(round_trips(&r));
    rule_release(&r);
    REQUIRE(parse("{\"id\":\"s\",\"kind\":\"stuck\",\"target\":{\"type\":\"T\",\"attr\":\"a\"},"
                  "\"condition\":{}}",
                  &r) == 0);
    CHECK_EQ_INT(r.min_repeats, 3);
    CHECK_EQ_INT(r.for_ms, 0);
    CHECK(round_trips(&r));
    rule_release(&r);

    REQUIRE(parse(EX_RATE, &r) == 0);
    CHECK_EQ_INT(r.kind, RULE_RATE);
    CHECK(r.max_delta == 20);
    CHECK_EQ_INT(r.per_ms, HOUR_MS);
    CHECK_EQ_INT(r.severity, SEV_CRITICAL);
    CHECK(r.type[0] == 0 && r.nids == 1);
    CHECK(round_trips(&r));
    rule_release(&r);
    REQUIRE(parse("{\"id\":\"r\",\"kind\":\"rate\",\"target\":{\"type\":\"T\",\"attr\":\"a\"},"
                  "\"condition\":{\"max\":0.5}}",
                  &r) == 0);
    CHECK_EQ_INT(r.per_ms, HOUR_MS);
    rule_release(&r);

    /* threshold defaults: clear = raise, for = 0, op '<' message says below */
    REQUIRE(parse("{\"id\":\"t\",\"kind\":\"threshold\",\"enabled\":false,"
                  "\"target\":{\"type\":\"T\",\"attr\":\"a\"},"
                  "\"condition\":{\"op\":\"<\",\"raise\":-5.5}}",
                  &r) == 0);
    CHECK(r.clear == -5.5 && r.for_ms == 0 && r.op == '<' && r.enabled == 0);
    CHECK(strstr(r.message, "below") != NULL);
    CHECK(round_trips(&r));
    rule_release(&r);
}

static void refuses_bad_rules(void)
{
#define T "\"target\":{\"type\":\"T\",\"attr\":\"a\"}"
#define TH "\"kind\":\"threshold\","
#define ST "\"kind\":\"stale\","
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"", "invalid JSON"},
        {"[1]", "object"},
        {"{\"id\":\"a\",\"id\":\"b\"}", "invalid JSON"},
        {"{\"id\":\"a\",\"bogus\":1}", "unknown member 'bogus' in rule"},
        {"{\"kind\":\"stale\"," T ",\"condition\":{\"after\":\"1h\"}}", "id is required"},
        {"{\"id\":\"a b\",\"kind\":\"stale\"}", "id must be"},
        {"{\"id\":\"\",\"kind\":\"stale\"}", "id must be"},
        {"{\"id\":\"a1234567890123456789012345678901234567890123456789012345678901234\"}",
         "id must be"},
        {"{\"id\":7}", "id must be"},
        {"{\"id\":\"a\"," T "}", "kind is required"},
        {"{\"id\":\"a\",\"kind\":\"spike\"}", "kind must be"},
        {"{\"id\":\"a\",\"kind\":\"stale\",\"severity\":\"urgent\"}", "severity must be"},
        {"{\"id\":\"a\",\"kind\":\"stale\",\"enabled\":1}", "enabled must be"},
        {"{\"id\":\"a\",\"kind\":\"stale\",\"name\":\"\"}", "name must be"},
        {"{\"id\":\"a\",\"kind\":\"stale\",\"condition\":{\"after\":\"1h\"}}",
         "target is required"},
        {"{\"id\":\"a\",\"kind\":\"stale\",\"target\":[]}", "target must be"},
        {"{\"id\":\"a\",\"kind\":\"stale\",\"target\":{\"attr\":\"x\"}}",
         "target.type or target.ids is required"},
        {"{\"id\":\"a\"," TH "\"target\":{\"type\":\"T\"}}", "target.attr is required"},
        {"{\"id\":\"a\"," TH "\"target\":{\"type\":\"T\",\"attr\":\"\"}}", "target.attr must be"},
        {"{\"id\":\"a\"," TH "\"target\":{\"type\":\"T\",\"x\":1}}",
         "unknown member 'x' in target"},
        {"{\"id\":\"a\"," TH "\"target\":{\"ids\":[]}}", "target.ids must be"},
        {"{\"id\":\"a\"," TH "\"target\":{\"ids\":[\"u\",\"\"]}}", "target.ids[1]"},
        {"{\"id\":\"a\"," TH "\"target\":{\"ids\":[\"u\",3]}}", "target.ids[1]"},
        {"{\"id\":\"a\"," ST "\"target\":{\"type\":\"T\",\"where\":{\"k\":1}}}", "target.where.k"},
        {"{\"id\":\"a\"," ST "\"target\":{\"type\":\"T\",\"where\":{\"a\":\"1\",\"b\":\"1\","
         "\"c\":\"1\",\"d\":\"1\",\"e\":\"1\",\"f\":\"1\",\"g\":\"1\",\"h\":\"1\",\"i\":\"1\"}}}",
         "target.where must be"},
        {"{\"id\":\"a\"," ST "\"target\":{\"type\":\"T\",\"area\":{\"type\":\"Point\","
         "\"coordinates\":[1,2]}}}",
         "target.area.type"},
        {"{\"id\":\"a\"," ST "\"target\":{\"type\":\"T\",\"area\":{\"type\":\"Polygon\","
         "\"coordinates\":[[[0,0],[1,0],[0,0]]]}}}",
         "target.area.coordinates[0] must be a ring"},
        {"{\"id\":\"a\"," ST "\"target\":{\"type\":\"T\",\"area\":{\"type\":\"Polygon\","
         "\"coordinates\":[[[0,0],[1,0],[1,1],[0,1]]]}}}",
         "closed"},
        {"{\"id\":\"a\"," ST "\"target\":{\"type\":\"T\",\"area\":{\"type\":\"Polygon\","
         "\"coordinates\":[[[0,0],[181,0],[1,1],[0,0]]]}}}",
         "longitude 181"},
        {"{\"id\":\"a\"," ST "\"target\":{\"type\":\"T\",\"area\":{\"type\":\"Polygon\","
         "\"coordinates\":[[[0,0],[1,-91],[1,1],[0,0]]]}}}",
         "latitude -91"},
        {"{\"id\":\"a\"," ST "\"target\":{\"type\":\"T\",\"area\":{\"type\":\"Polygon\","
         "\"coordinates\":[[[0,0],[1,0],[\"1\",1],[0,0]]]}}}",
         "target.area.coordinates[0][2]"},
        {"{\"id\":\"a\"," ST "\"target\":{\"type\":\"T\",\"area\":{\"type\":\"Polygon\","
         "\"bbox\":[0,0,1,1],\"coordinates\":[]}}}",
         "unknown member 'bbox' in target.area"},
        {"{\"id\":\"a\"," TH T "}", "condition is required"},
        {"{\"id\":\"a\"," TH T ",\"condition\":{\"op\":\">\",\"raise\":1,\"x\":2}}",
         "unknown member 'x' in condition"},
        {"{\"id\":\"a\"," TH T ",\"condition\":{\"raise\":1}}", "condition.op is required"},
        {"{\"id\":\"a\"," TH T ",\"condition\":{\"op\":\">=\",\"raise\":1}}", "condition.op must"},
        {"{\"id\":\"a\"," TH T ",\"condition\":{\"op\":\">\"}}", "condition.raise is required"},
        {"{\"id\":\"a\"," TH T ",\"condition\":{\"op\":\">\",\"raise\":\"50\"}}",
         "condition.raise must be"},
        {"{\"id\":\"a\"," TH T ",\"condition\":{\"op\":\">\",\"raise\":50,\"clear\":60}}",
         "condition.clear must be <= condition.raise for op '>'"},
        {"{\"id\":\"a\"," TH T ",\"condition\":{\"op\":\"<\",\"raise\":50,\"clear\":40}}",
         "condition.clear must be >= condition.raise for op '<'"},
        {"{\"id\":\"a\"," TH T ",\"condition\":{\"op\":\">\",\"raise\":5,\"for\":\"soon\"}}",
         "condition.for must be a duration"},
        {"{\"id\":\"a\"," TH T ",\"condition\":{\"op\":\">\",\"raise\":5,\"for\":\"-1m\"}}",
         "condition.for must be a duration"},
        {"{\"id\":\"a\"," TH T ",\"condition\":{\"op\":\">\",\"raise\":5,\"for\":60}}",
         "condition.for must be a duration"},
        {"{\"id\":\"a\"," TH T ",\"condition\":{\"op\":\">\",\"raise\":1e999}}", "invalid JSON"},
        {"{\"id\":\"a\"," TH T ",\"condition\":{\"after\":\"1h\"}}",
         "unknown member 'after' in condition"},
        {"{\"id\":\"a\",\"kind\":\"stale\"," T ",\"condition\":{}}", "condition.after is required"},
        {"{\"id\":\"a\",\"kind\":\"stale\"," T ",\"condition\":{\"after\":\"0s\"}}",
         "condition.after is required and must be above 0"},
        {"{\"id\":\"a\",\"kind\":\"stale\"," T ",\"condition\":{\"after\":\"1h\",\"for\":\"1h\"}}",
         "unknown member 'for' in condition"},
        {"{\"id\":\"a\",\"kind\":\"stuck\"," T ",\"condition\":{\"repeats\":1}}",
         "condition.repeats must be"},
        {"{\"id\":\"a\",\"kind\":\"stuck\"," T ",\"condition\":{\"repeats\":1000001}}",
         "condition.repeats must be"},
        {"{\"id\":\"a\",\"kind\":\"stuck\"," T ",\"condition\":{\"repeats\":2.5}}",
         "condition.repeats must be"},
        {"{\"id\":\"a\",\"kind\":\"stuck\"," T ",\"condition\":{\"for\":\"x\"}}",
         "condition.for must be"},
        {"{\"id\":\"a\",\"kind\":\"rate\"," T ",\"condition\":{\"per\":\"1h\"}}",
         "condition.max is required"},
        {"{\"id\":\"a\",\"kind\":\"rate\"," T ",\"condition\":{\"max\":0}}",
         "condition.max is required and must be above 0"},
        {"{\"id\":\"a\",\"kind\":\"rate\"," T ",\"condition\":{\"max\":1,\"per\":\"0ms\"}}",
         "condition.per must be above 0"},
        {"{\"id\":\"a\",\"kind\":\"rate\"," T ",\"condition\":{\"max\":1,\"repeats\":3}}",
         "unknown member 'repeats' in condition"},
        {"{\"id\":\"a\",\"kind\":\"rate\",\"message\":\"\"," T ",\"condition\":{\"max\":1}}",
         "message must be"},
    };
    for (size_t i = 0; i < VG_ARRAY_LEN(cases); i++) {
        if (!refused(cases[i].json, cases[i].want)) {
            printf("  case %zu\n", i);
            CHECK(0);
        }
    }
    /* limits: a type of 128 bytes, more than RULE_MAX_IDS ids, an id of 257 bytes */
    {
        struct buf b;
        buf_init(&b, 0);
        buf_puts(&b, "{\"id\":\"a\",\"kind\":\"stale\",\"target\":{\"type\":\"");
        for (int i = 0; i < 128; i++)
            buf_putc(&b, 'x');
        buf_puts(&b, "\"},\"condition\":{\"after\":\"1h\"}}");
        CHECK(refused(b.p, "target.type must be a non-empty string of at most 127 bytes"));
        buf_reset(&b);
        buf_puts(&b, "{\"id\":\"a\",\"kind\":\"stale\",\"target\":{\"ids\":[");
        for (int i = 0; i <= RULE_MAX_IDS; i++)
            buf_printf(&b, "%s\"u%d\"", i ? "," : "", i);
        buf_puts(&b, "]},\"condition\":{\"after\":\"1h\"}}");
        CHECK(refused(b.p, "target.ids must be"));
        buf_reset(&b);
        buf_puts(&b, "{\"id\":\"a\",\"kind\":\"stale\",\"target\":{\"ids\":[\"ok\",\"");
        for (int i = 0; i < 257; i++)
            buf_putc(&b, 'u');
        buf_puts(&b, "\"]},\"condition\":{\"after\":\"1h\"}}");
        CHECK(refused(b.p, "target.ids[1]"));
        buf_reset(&b);
        buf_puts(&b, "{\"id\":\"a\",\"kind\":\"stale\",\"target\":{\"type\":\"T\",\"area\":{"
                     "\"type\":\"Polygon\",\"coordinates\":[[");
        for (int i = 0; i <= RULE_MAX_POLY; i++)
            buf_printf(&b, "%s[%d,0]", i ? "," : "", i % 10);
        buf_puts(&b, "]]}},\"condition\":{\"after\":\"1h\"}}");
        CHECK(refused(b.p, "target.area.coordinates[0] must be a ring"));
        buf_release(&b);
    }
    /* NUL inside a string is refused by the JSON parser */
    {
        static const char nul[] = "{\"id\":\"a\",\"kind\":\"stale\","
                                  "\"target\":{\"type\":\"T\\u0000x\"},"
                                  "\"condition\":{\"after\":\"1h\"}}";
        CHECK(refused(nul, ""));
    }
#undef T
#undef TH
#undef ST
}

/* ------------------------------------------------------------------------------------------ */
/* Randomized round trip                                                                       */

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static int rndn(int n) { return (int)(rnd() % (uint64_t)n); }

static double rnd_double(void)
{
    switch (rndn(4)) {
    case 0:
        return rndn(2001) - 1000;
    case 1:
        return (rndn(2000001) - 1000000) / 1000.0;
    case 2: {
        uint64_t bits = rnd();
        double d;
        memcpy(&d, &bits, sizeof(d));
        return isfinite(d) ? d : 1.25;
    }
    default:
        return ldexp((double)(rnd() >> 11), -rndn(80)) * (rndn(2) ? 1 : -1);
    }
}

static void rnd_text(struct buf *b, int maxlen, int id_like)
{
    static const char *const pieces[] = {"a", "Z", "0", "-", "_", ".", " ", "\\\"", "\\\\", "\\n",
                                         "\xc3\xa9", "\xe2\x82\xac", "{value}", "{", "}", "/",
                                         "\\u00b5"};
    int n = 1 + rndn(maxlen);
    for (int i = 0; i < n; i++)
        buf_puts(b, id_like ? pieces[rndn(6)] : pieces[rndn((int)VG_ARRAY_LEN(pieces))]);
}

static void rnd_dur(struct buf *b, int allow_zero)
{
    static const char *const units[] = {"ms", "s", "m", "min", "h", "d", "w", ""};
    int v = allow_zero ? rndn(100) : 1 + rndn(100);
    buf_printf(b, "\"%d%s\"", v, units[rndn((int)VG_ARRAY_LEN(units))]);
}

static void rnd_ring(struct buf *b, double lon0, double lat0)
{
    int n = 3 + rndn(8);
    double first[2] = {0, 0};
    buf_puts(b, "[");
    for (int i = 0; i < n; i++) {
        double a = 2 * M_PI * i / n;
        double p[2] = {fmax(-180, fmin(180, lon0 + cos(a) * (1 + rndn(1000)) / 1e4)),
                       fmax(-90, fmin(90, lat0 + sin(a) * (1 + rndn(1000)) / 1e4))};
        if (i == 0)
            memcpy(first, p, sizeof(p));
        buf_printf(b, "%s[", i ? "," : "");
        buf_json_double(b, p[0]);
        buf_puts(b, ",");
        buf_json_double(b, p[1]);
        buf_puts(b, "]");
    }
    if (rndn(2)) { /* closed: the first position again (else the parser closes it) */
        buf_puts(b, ",[");
        buf_json_double(b, first[0]);
        buf_puts(b, ",");
        buf_json_double(b, first[1]);
        buf_puts(b, "]");
    }
    buf_puts(b, "]");
}

static const char *const rnd_ops[] = {">", "<", ">=", "<="};

/* The condition of a nightmin, dwell, forecast, anomaly or composite rule, some members left to
** their defaults. */
static void rnd_new_condition(struct buf *b, int kind, int has_type)
{
    switch (kind) {
    case RULE_NIGHTMIN: {
        int from = rndn(1439), to = from + 1 + rndn(1439 - from);
        int learn = 1 + rndn(60);
        buf_printf(b, "\"nights\":%d", 1 + rndn(30));
        if (rndn(2))
            buf_printf(b, ",\"from\":\"%02d:%02d\",\"to\":\"%02d:%02d\"", from / 60, from % 60,
                       to / 60, to % 60);
        if (rndn(2))
            buf_printf(b, ",\"learn\":%d,\"window\":%d", learn, learn + rndn(61 - learn));
        if (rndn(2)) {
            buf_puts(b, ",\"ratio\":");
            buf_json_double(b, fabs(rnd_double()));
        }
        if (rndn(2)) {
            buf_puts(b, ",\"margin\":");
            buf_json_double(b, fabs(rnd_double()));
        }
        break;
    }
    case RULE_DWELL: {
        int multi = rndn(2), npoly = multi ? 1 + rndn(3) : 1;
        double lon0 = rndn(340) - 170, lat0 = rndn(160) - 80;
        buf_printf(b, "\"geofence\":{\"type\":\"%s\",\"coordinates\":[",
                   multi ? "MultiPolygon" : "Polygon");
        for (int k = 0; k < npoly; k++) {
            int nr = 1 + rndn(3);
            buf_puts(b, k ? ",": "");
            if (multi)
                buf_puts(b, "[");
            for (int j = 0; j < nr; j++) {
                buf_puts(b, j ? "," : "");
                rnd_ring(b, lon0 + k, lat0);
            }
            if (multi)
                buf_puts(b, "]");
        }
        buf_puts(b, "]}");
        if (rndn(2)) {
            buf_puts(b, ",\"radius_m\":");
            buf_json_double(b, 1 + rndn(9999) + rndn(1000) / 1000.0);
        }
        if (rndn(2)) {
            buf_puts(b, ",\"for\":");
            rnd_dur(b, 0);
        }
        break;
    }
    case RULE_FORECAST:
        buf_printf(b, "\"op\":\"%s\",\"value\":", rnd_ops[rndn(4)]);
        buf_json_double(b, rnd_double());
        if (rndn(2))
            buf_printf(b, ",\"horizon\":\"%d%s\"", 1 + rndn(30), rndn(2) ? "h" : "d");
        if (rndn(2))
            buf_printf(b, ",\"bound\":\"%s\"", rndn(2) ? "upper" : "point");
        break;
    case RULE_ANOMALY: {
        int weeks = 2 + rndn(7);
        buf_puts(b, "\"score\":");
        buf_json_double(b, fabs(rnd_double()) + 1e-3);
        if (rndn(2))
            buf_printf(b, ",\"weeks\":%d,\"min_weeks\":%d", weeks, 1 + rndn(weeks));
        break;
    }
    case RULE_COMPOSITE: {
        int n = 2 + rndn(RULE_MAX_CLAUSES - 1);
        buf_puts(b, "\"all\":[");
        for (int i = 0; i < n; i++) {
            buf_printf(b, "%s{\"type\":\"%s\",\"attr\":\"a%d\",\"op\":\"%s\",\"value\":",
                       i ? "," : "", has_type || rndn(2) ? "T" : "U", rndn(3), rnd_ops[rndn(4)]);
            buf_json_double(b, rnd_double());
            buf_puts(b, "}");
        }
        buf_puts(b, "]");
        if (rndn(2)) {
            buf_puts(b, ",\"window\":");
            rnd_dur(b, 0);
        }
        break;
    }
    }
}

static void random_rules_round_trip(void)
{
    int parsed = 0, kinds_parsed[RULE_KIND_MAX + 1] = {0};
    for (int iter = 0; iter < 6000; iter++) {
        struct buf b;
        struct rule r;
        char err[256];
        int kind = 1 + rndn(RULE_KIND_MAX);
        buf_init(&b, 0);
        buf_puts(&b, "{\"id\":\"");
        rnd_text(&b, 20, 1);
        buf_puts(&b, "\"");
        if (rndn(2)) {
            buf_puts(&b, ",\"name\":\"");
            rnd_text(&b, 12, 0);
            buf_puts(&b, "\"");
        }
        buf_printf(&b, ",\"kind\":\"%s\"", rule_kind_name(kind));
        if (rndn(2))
            buf_printf(&b, ",\"severity\":\"%s\"", rule_severity_name(rndn(5)));
        if (rndn(2)) {
            buf_puts(&b, ",\"message\":\"");
            rnd_text(&b, 30, 0);
            buf_puts(&b, "\"");
        }
        if (rndn(2))
            buf_printf(&b, ",\"enabled\":%s", rndn(2) ? "true" : "false");
        buf_puts(&b, ",\"target\":{");
        int has_ids = rndn(2);
        int has_type = kind != RULE_COMPOSITE || rndn(2);
        buf_puts(&b, has_type ? "\"type\":\"T\"" : "\"ids\":[\"only\"]");
        if (kind == RULE_DWELL && rndn(2))
            buf_puts(&b, ",\"attr\":\"pos\"");
        else if (kind != RULE_COMPOSITE && kind != RULE_DWELL && (kind != RULE_STALE || rndn(2)))
            buf_puts(&b, ",\"attr\":\"a\"");
        if (!has_type)
            has_ids = 0;
        if (has_ids) {
            int n = 1 + rndn(5);
            buf_puts(&b, ",\"ids\":[");
            for (int i = 0; i < n; i++) {
                buf_puts(&b, i ? ",\"" : "\"");
                rnd_text(&b, 10, 0);
                buf_puts(&b, "\"");
            }
            buf_puts(&b, "]");
        }
        if (rndn(2)) {
            int n = rndn(RULE_MAX_WHERE + 1);
            buf_puts(&b, ",\"where\":{");
            for (int i = 0; i < n; i++)
                buf_printf(&b, "%s\"k%d\":\"v%d\"", i ? "," : "", rndn(1000) * 10 + i, rndn(9));
            buf_puts(&b, "}");
        }
        if (rndn(2) || kind == RULE_COMPOSITE) {
            int n = 3 + rndn(10);
            double lon0 = rndn(360) - 180 + rndn(1000) / 1000.0, lat0 = rndn(180) - 90;
            if (lon0 > 180)
                lon0 = 180;
            buf_puts(&b, ",\"area\":{\"type\":\"Polygon\",\"coordinates\":[[");
            buf_puts(&b, "[");
            buf_json_double(&b, lon0);
            buf_puts(&b, ",");
            buf_json_double(&b, lat0);
            buf_puts(&b, "]");
            for (int i = 0; i < n; i++) {
                double lon = fmax(-180, fmin(180, lon0 + rnd_double() / 1e3));
                double lat = fmax(-90, fmin(90, lat0 + rndn(2000) / 1e4));
                buf_puts(&b, ",[");
                buf_json_double(&b, lon);
                buf_puts(&b, ",");
                buf_json_double(&b, lat);
                buf_puts(&b, "]");
            }
            buf_puts(&b, ",[");
            buf_json_double(&b, lon0);
            buf_puts(&b, ",");
            buf_json_double(&b, lat0);
            buf_puts(&b, "]]]}");
        }
        buf_puts(&b, "},\"condition\":{");
        switch (kind) {
        case RULE_THRESHOLD: {
            double raise = rnd_double(), clear = raise - fabs(rnd_double());
            int lt = rndn(2);
            if (lt)
                clear = raise + fabs(rnd_double());
            if (!isfinite(clear))
                clear = raise;
            buf_printf(&b, "\"op\":\"%c\",\"raise\":", lt ? '<' : '>');
            buf_json_double(&b, raise);
            if (rndn(2)) {
                buf_puts(&b, ",\"clear\":");
                buf_json_double(&b, clear);
            }
            if (rndn(2)) {
                buf_puts(&b, ",\"for\":");
                rnd_dur(&b, 1);
            }
            break;
        }
        case RULE_STALE:
            buf_puts(&b, "\"after\":");
            rnd_dur(&b, 0);
            break;
        case RULE_STUCK:
            buf_printf(&b, "\"repeats\":%d", 2 + rndn(100));
            if (rndn(2)) {
                buf_puts(&b, ",\"for\":");
                rnd_dur(&b, 1);
            }
            break;
        case RULE_RATE:
            buf_puts(&b, "\"max\":");
            buf_json_double(&b, fabs(rnd_double()) + 1e-3);
            if (rndn(2)) {
                buf_puts(&b, ",\"per\":");
                rnd_dur(&b, 0);
            }
            break;
        default:
            rnd_new_condition(&b, kind, has_type);
            break;
        }
        buf_puts(&b, "}}");
        if (rule_parse(b.p, b.len, &r, err, sizeof(err)) == 0) {
            parsed++;
            kinds_parsed[r.kind]++;
            if (!round_trips(&r)) {
                printf("  input: %s\n", b.p);
                CHECK(0);
            }
            rule_release(&r);
        } else if (!strstr(err, "id must be") && !strstr(err, "area")) {
            /* only generated ids (the random pattern) and degenerate polygons may fail */
            printf("  refused: %s\n  %s\n", err, b.p);
            CHECK(0);
        }
        buf_release(&b);
    }
    CHECK(parsed > 1500);
    for (int k = 1; k <= RULE_KIND_MAX; k++) {
        if (kinds_parsed[k] < 100)
            printf("  kind %s: %d parsed\n", rule_kind_name(k), kinds_parsed[k]);
        CHECK(kinds_parsed[k] >= 100);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* State machines                                                                              */

static struct rule mk(const char *json)
{
    struct rule r;
    memset(&r, 0, sizeof(r));
    if (parse(json, &r))
        printf("  cannot parse %s\n", json);
    return r;
}

static void threshold_hysteresis_and_duration(void)
{
    struct rule r = mk("{\"id\":\"t\",\"kind\":\"threshold\",\"target\":{\"type\":\"T\",\"attr\":"
                       "\"a\"},\"condition\":{\"op\":\">\",\"raise\":50,\"clear\":40,"
                       "\"for\":\"30m\"}}");
    struct rule_state st = {0};
    int64_t t0 = 1700000000000;
    CHECK_EQ_INT(rule_on_value(&r, &st, t0, 55), RULE_NONE);
    CHECK(st.pending && st.pending_since == t0 && !st.active);
    CHECK_EQ_INT(rule_on_value(&r, &st, t0 + 10 * MIN_MS, 60), RULE_NONE);
    CHECK_EQ_INT(rule_on_value(&r, &st, t0 + 29 * MIN_MS, 51), RULE_NONE); /* not yet 30 min */
    CHECK_EQ_INT(rule_on_value(&r, &st, t0 + 30 * MIN_MS, 55), RULE_RAISE);
    CHECK(st.active && !st.pending && st.trigger_value == 55 && st.raised_at == t0 + 30 * MIN_MS);
    CHECK_EQ_INT(rule_on_value(&r, &st, t0 + 31 * MIN_MS, 45), RULE_NONE); /* hysteresis */
    CHECK(st.active);
    CHECK_EQ_INT(rule_on_value(&r, &st, t0 + 32 * MIN_MS, 40.5), RULE_NONE);
    CHECK_EQ_INT(rule_on_value(&r, &st, t0 + 33 * MIN_MS, 70), RULE_NONE); /* no second raise */
    CHECK_EQ_INT(rule_on_value(&r, &st, t0 + 34 * MIN_MS, 39), RULE_CLEAR);
    CHECK(!st.active && !st.pending);
    CHECK_EQ_INT(rule_on_tick(&r, &st, t0 + 999 * MIN_MS), RULE_NONE);

    /* a dip to/below raise resets the for-duration */
    memset(&st, 0, sizeof(st));
    CHECK_EQ_INT(rule_on_value(&r, &st, t0, 55), RULE_NONE);
    CHECK_EQ_INT(rule_on_value(&r, &st, t0 + 20 * MIN_MS, 50), RULE_NONE); /* 50 is not > 50 */
    CHECK(!st.pending);
    CHECK_EQ_INT(rule_on_value(&r, &st, t0 + 25 * MIN_MS, 52), RULE_NONE);
    CHECK_EQ_INT(rule_on_value(&r, &st, t0 + 50 * MIN_MS, 52), RULE_NONE); /* 25 min since 52 */
    CHECK_EQ_INT(rule_on_value(&r, &st, t0 + 55 * MIN_MS, 52), RULE_RAISE);
    CHECK_EQ_INT(rule_on_value(&r, &st, t0 + 56 * MIN_MS, 40), RULE_CLEAR); /* clear inclusive */
    rule_release(&r);

    /* for 0: the first value above raises; clear default = raise */
    r = mk("{\"id\":\"t\",\"kind\":\"threshold\",\"target\":{\"type\":\"T\",\"attr\":\"a\"},"
           "\"condition\":{\"op\":\">\",\"raise\":10}}");
    memset(&st, 0, sizeof(st));
    CHECK_EQ_INT(rule_on_value(&r, &st, 1, 10), RULE_NONE);
    CHECK_EQ_INT(rule_on_value(&r, &st, 2, 10.5), RULE_RAISE);
    CHECK_EQ_INT(rule_on_value(&r, &st, 3, 10), RULE_CLEAR);
    rule_release(&r);

    /* op '<' mirrors */
    r = mk("{\"id\":\"t\",\"kind\":\"threshold\",\"target\":{\"type\":\"T\",\"attr\":\"a\"},"
           "\"condition\":{\"op\":\"<\",\"raise\":0,\"clear\":2,\"for\":\"1s\"}}");
    memset(&st, 0, sizeof(st));
    CHECK_EQ_INT(rule_on_value(&r, &st, 1000, -1), RULE_NONE);
    CHECK_EQ_INT(rule_on_value(&r, &st, 1999, -3), RULE_NONE);
    CHECK_EQ_INT(rule_on_value(&r, &st, 2000, -2), RULE_RAISE);
    CHECK(st.trigger_value == -2);
    CHECK_EQ_INT(rule_on_value(&r, &st, 3000, 1.9), RULE_NONE);
    CHECK_EQ_INT(rule_on_value(&r, &st, 4000, 2), RULE_CLEAR);
    rule_release(&r);
}

static void out_of_order_duplicates_and_nan_are_ignored(void)
{
    struct rule r = mk("{\"id\":\"t\",\"kind\":\"threshold\",\"target\":{\"type\":\"T\",\"attr\":"
                       "\"a\"},\"condition\":{\"op\":\">\",\"raise\":50,\"clear\":40}}");
    struct rule_state st = {0}, copy;
    CHECK_EQ_INT(rule_on_value(&r, &st, 1000, 10), RULE_NONE);
    copy = st;
    CHECK_EQ_INT(rule_on_value(&r, &st, 999, 100), RULE_NONE); /* older */
    CHECK_EQ_INT(rule_on_value(&r, &st, 1000, 100), RULE_NONE); /* duplicate ts */
    CHECK_EQ_INT(rule_on_value(&r, &st, 2000, NAN), RULE_NONE);
    CHECK(!memcmp(&st, &copy, sizeof(st)));
    CHECK_EQ_INT(rule_on_value(&r, &st, 2000, 100), RULE_RAISE);
    CHECK(st.last_ts == 2000 && st.last_value == 100 && st.has_last);
    CHECK_EQ_INT(rule_on_value(&r, &st, 1500, 0), RULE_NONE); /* would clear, but is older */
    CHECK(st.active);
    rule_release(&r);
}

/* Stale rules on the source's cadence: the form, its canonical JSON, and the tick reading the
** delay from the core copy the engine fills in (nothing raises while it is unknown). */
static void stale_on_cadence(void)
{
    const char *j = "{\"id\":\"c\",\"kind\":\"stale\",\"target\":{\"type\":\"Meter\"},"
                    "\"condition\":{\"after\":\"cadence\",\"factor\":3}}";
    struct rule r = mk(j);
    CHECK(r.kind == RULE_STALE && r.cadence_factor == 3 && r.after_ms == 0);
    char *canon = rule_to_json(&r);
    CHECK(strstr(canon, "\"after\":\"cadence\",\"factor\":3") != NULL);
    struct rule r2 = mk(canon);
    CHECK(r2.cadence_factor == 3);
    rule_release(&r2);
    free(canon);
    struct rule d = mk("{\"id\":\"d\",\"kind\":\"stale\",\"target\":{\"type\":\"Meter\"},"
                       "\"condition\":{\"after\":\"cadence\"}}");
    CHECK(d.cadence_factor == 2);
    rule_release(&d);
    CHECK(refused("{\"id\":\"x\",\"kind\":\"stale\",\"target\":{\"type\":\"M\"},\"condition\":"
                  "{\"after\":\"cadence\",\"factor\":0.5}}", "condition.factor must be from 1 to 100"));
    CHECK(refused("{\"id\":\"x\",\"kind\":\"stale\",\"target\":{\"type\":\"M\"},\"condition\":"
                  "{\"after\":\"2h\",\"factor\":2}}", "condition.factor goes with"));
    CHECK(refused("{\"id\":\"x\",\"kind\":\"stale\",\"target\":{\"type\":\"M\"},\"condition\":"
                  "{\"after\":\"soon\"}}", "condition.after must be a duration"));
    struct rule_core c = r.core;
    struct rule_state st;
    memset(&st, 0, sizeof(st));
    int64_t t0 = 1700000000000;
    CHECK_EQ_INT(rule_on_core(&c, &st, t0, 1), RULE_NONE);
    CHECK_EQ_INT(rule_on_tick_core(&c, &st, t0 + 100 * HOUR_MS), RULE_NONE); /* no cadence yet */
    c.after_ms = 3 * 10 * 60000; /* the engine: 3 x a 10 min cadence */
    CHECK_EQ_INT(rule_on_tick_core(&c, &st, t0 + 29 * 60000), RULE_NONE);
    CHECK_EQ_INT(rule_on_tick_core(&c, &st, t0 + 31 * 60000), RULE_RAISE);
    char out[200];
    rule_message(&r, &st, "m1", "", out, sizeof(out));
    CHECK(!strcmp(out, "m1: no new value for more than 3 times its source's cadence"));
    rule_release(&r);
}

static void stale_raises_on_tick_and_clears_on_value(void)
{
    struct rule r = mk(EX_STALE);
    struct rule_state st = {0};
    int64_t t0 = 1700000000000;
    CHECK_EQ_INT(rule_on_tick(&r, &st, t0 + 100 * HOUR_MS), RULE_NONE); /* never seen */
    CHECK_EQ_INT(rule_on_value(&r, &st, t0, 3.5), RULE_NONE);
    CHECK_EQ_INT(rule_on_tick(&r, &st, t0 + HOUR_MS), RULE_NONE);
    CHECK_EQ_INT(rule_on_tick(&r, &st, t0 + 2 * HOUR_MS), RULE_NONE); /* not > 2 h */
    CHECK_EQ_INT(rule_on_tick(&r, &st, t0 + 2 * HOUR_MS + 1), RULE_RAISE);
    CHECK(st.active && st.raised_at == t0 + 2 * HOUR_MS + 1 && st.trigger_value == 3.5);
    CHECK_EQ_INT(rule_on_tick(&r, &st, t0 + 3 * HOUR_MS), RULE_NONE); /* once */
    CHECK_EQ_INT(rule_on_value(&r, &st, t0 - 1, 1), RULE_NONE);       /* older: ignored */
    CHECK(st.active);
    CHECK_EQ_INT(rule_on_value(&r, &st, t0 + 3 * HOUR_MS, 4), RULE_CLEAR);
    CHECK(!st.active && st.last_ts == t0 + 3 * HOUR_MS);
    CHECK_EQ_INT(rule_on_tick(&r, &st, t0 + 4 * HOUR_MS), RULE_NONE);
    CHECK_EQ_INT(rule_on_tick(&r, &st, INT64_MIN), RULE_NONE); /* clock far behind */
    CHECK_EQ_INT(rule_on_tick(&r, &st, INT64_MAX), RULE_RAISE);
    rule_release(&r);
}

static void stuck_needs_repeats_and_duration(void)
{
    struct rule r = mk(EX_STUCK); /* 5 repeats over >= 2 h */
    struct rule_state st = {0};
    int64_t t0 = 0;
    CHECK_EQ_INT(rule_on_value(&r, &st, t0, 7), RULE_NONE);
    CHECK(st.repeats == 1 && st.repeat_since == t0);
    for (int i = 1; i < 5; i++)
        CHECK_EQ_INT(rule_on_value(&r, &st, t0 + i * MIN_MS, 7), RULE_NONE); /* 5 but 4 min */
    CHECK_EQ_INT(st.repeats, 5);
    CHECK_EQ_INT(rule_on_value(&r, &st, t0 + 2 * HOUR_MS, 7), RULE_RAISE);
    CHECK(st.active && st.trigger_value == 7 && st.raised_at == 2 * HOUR_MS);
    CHECK_EQ_INT(rule_on_value(&r, &st, t0 + 3 * HOUR_MS, 7), RULE_NONE);
    CHECK_EQ_INT(rule_on_value(&r, &st, t0 + 4 * HOUR_MS, 7.01), RULE_CLEAR);
    CHECK(st.repeats == 1 && st.repeat_since == 4 * HOUR_MS);
    rule_release(&r);

    /* long enough but too few repeats */
    r = mk("{\"id\":\"s\",\"kind\":\"stuck\",\"target\":{\"type\":\"T\",\"attr\":\"a\"},"
           "\"condition\":{\"for\":\"1h\"}}");
    memset(&st, 0, sizeof(st));
    CHECK_EQ_INT(rule_on_value(&r, &st, 0, 1), RULE_NONE);
    CHECK_EQ_INT(rule_on_value(&r, &st, 5 * HOUR_MS, 1), RULE_NONE); /* 2 < 3 repeats */
    CHECK_EQ_INT(rule_on_value(&r, &st, 6 * HOUR_MS, 1), RULE_RAISE);
    rule_release(&r);

    /* for 0: the third identical value raises */
    r = mk("{\"id\":\"s\",\"kind\":\"stuck\",\"target\":{\"type\":\"T\",\"attr\":\"a\"},"
           "\"condition\":{}}");
    memset(&st, 0, sizeof(st));
    CHECK_EQ_INT(rule_on_value(&r, &st, 1, 0), RULE_NONE);
    CHECK_EQ_INT(rule_on_value(&r, &st, 2, 0), RULE_NONE);
    CHECK_EQ_INT(rule_on_value(&r, &st, 2, 0), RULE_NONE); /* duplicate ts: not a repeat */
    CHECK_EQ_INT(st.repeats, 2);
    CHECK_EQ_INT(rule_on_value(&r, &st, 3, -0.0), RULE_RAISE); /* -0 == 0 */
    rule_release(&r);
}

static void rate_raises_and_clears(void)
{
    struct rule r = mk(EX_RATE); /* max 20 per hour */
    struct rule_state st = {0};
    CHECK_EQ_INT(rule_on_value(&r, &st, 0, 100), RULE_NONE);
    CHECK_EQ_INT(rule_on_value(&r, &st, HOUR_MS, 120), RULE_NONE); /* exactly 20/h */
    CHECK_EQ_INT(rule_on_value(&r, &st, HOUR_MS + 30 * MIN_MS, 131), RULE_RAISE); /* 22/h */
    CHECK(st.active && st.trigger_value == 131);
    CHECK_EQ_INT(rule_on_value(&r, &st, HOUR_MS + 31 * MIN_MS, 130), RULE_NONE);
    /* 1 per minute = 60/h: still active */
    CHECK(st.active);
    CHECK_EQ_INT(rule_on_value(&r, &st, 3 * HOUR_MS + 31 * MIN_MS, 110), RULE_CLEAR); /* 10/h */
    CHECK_EQ_INT(rule_on_value(&r, &st, 3 * HOUR_MS + 32 * MIN_MS, 90), RULE_RAISE); /* down */
    CHECK_EQ_INT(rule_on_value(&r, &st, 4 * HOUR_MS + 32 * MIN_MS, 90), RULE_CLEAR);
    CHECK_EQ_INT(rule_on_value(&r, &st, 4 * HOUR_MS + 32 * MIN_MS, 0), RULE_NONE); /* dup ts */
    CHECK_EQ_INT(rule_on_value(&r, &st, INT64_MIN, 0), RULE_NONE);
    rule_release(&r);
    /* extreme timestamps do not overflow */
    r = mk(EX_RATE);
    memset(&st, 0, sizeof(st));
    CHECK_EQ_INT(rule_on_value(&r, &st, INT64_MIN, 0), RULE_NONE);
    CHECK_EQ_INT(rule_on_value(&r, &st, INT64_MAX, 1), RULE_NONE); /* tiny rate */
    rule_release(&r);
}

/* Property: with op '>', an accepted value <= clear never leaves the alert active. */
static void threshold_never_active_below_clear(void)
{
    for (int seq = 0; seq < 500; seq++) {
        struct rule r;
        struct rule_state st = {0};
        struct buf b;
        double raise = rndn(100), clear = raise - rndn(20);
        buf_init(&b, 0);
        buf_printf(&b,
                   "{\"id\":\"p\",\"kind\":\"threshold\","
                   "\"target\":{\"type\":\"T\",\"attr\":\"a\"},"
                   "\"condition\":{\"op\":\">\",\"raise\":%g,\"clear\":%g,\"for\":\"%dms\"}}",
                   raise, clear, rndn(50));
        r = mk(b.p);
        buf_release(&b);
        int64_t ts = 0;
        int active = 0;
        for (int i = 0; i < 200; i++) {
            double v = rndn(10) == 0 ? NAN : rndn(140) - 20;
            int64_t t = ts + rndn(20) - 4;
            struct rule_state before = st;
            enum rule_event ev = rule_on_value(&r, &st, t, v);
            int accepted = !isnan(v) && (!before.has_last || t > before.last_ts);
            if (!accepted) {
                CHECK(ev == RULE_NONE && !memcmp(&before, &st, sizeof(st)));
                continue;
            }
            ts = t;
            if (ev == RULE_RAISE) {
                CHECK(!active && v > raise);
                active = 1;
            } else if (ev == RULE_CLEAR) {
                CHECK(active && v <= clear);
                active = 0;
            }
            CHECK_EQ_INT(st.active, active);
            if (v <= clear && st.active) {
                printf("  active after %g <= clear %g\n", v, clear);
                CHECK(0);
            }
        }
        rule_release(&r);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Matching and messages                                                                       */

static struct vg_tag tag(const char *k, const char *v)
{
    struct vg_tag t = {k, (uint32_t)strlen(k), v, (uint32_t)strlen(v)};
    return t;
}

static void matches_each_criterion(void)
{
    struct rule r = mk(EX_THRESHOLD);
    struct vg_tag tags[3] = {tag("zone", "z"), tag("city", "Paris"), tag("district", "75012")};
    double in[2] = {2.35, 48.85}, out[2] = {2.5, 48.85}, edge[2] = {2.3, 48.85};
    const char *T = "AirQualityObserved";
    CHECK(rule_matches(&r, T, "urn:a:1", "pm25", tags, 3, in));
    CHECK(rule_matches(&r, T, "urn:a:2", "pm25", tags, 3, edge)); /* on the boundary */
    CHECK(!rule_matches(&r, "Other", "urn:a:1", "pm25", tags, 3, in));
    CHECK(!rule_matches(&r, NULL, "urn:a:1", "pm25", tags, 3, in));
    CHECK(!rule_matches(&r, T, "urn:a:1", "no2", tags, 3, in));
    CHECK(!rule_matches(&r, T, "urn:a:3", "pm25", tags, 3, in));
    CHECK(!rule_matches(&r, T, "urn:a:1", "pm25", tags, 2, in)); /* district missing */
    tags[2] = tag("district", "75013");
    CHECK(!rule_matches(&r, T, "urn:a:1", "pm25", tags, 3, in));
    tags[2] = tag("district", "7501");
    CHECK(!rule_matches(&r, T, "urn:a:1", "pm25", tags, 3, in));
    tags[2] = tag("district", "75012");
    CHECK(!rule_matches(&r, T, "urn:a:1", "pm25", tags, 3, out));
    CHECK(!rule_matches(&r, T, "urn:a:1", "pm25", tags, 3, NULL));
    r.enabled = 0;
    CHECK(!rule_matches(&r, T, "urn:a:1", "pm25", tags, 3, in));
    rule_release(&r);

    /* stale without attr matches any attribute; no tags/area: anything of the type */
    r = mk(EX_STALE);
    CHECK(rule_matches(&r, "Sensor", "urn:any", "t", NULL, 0, NULL));
    CHECK(rule_matches(&r, "Sensor", "urn:any", "rh", NULL, 0, NULL));
    CHECK(!rule_matches(&r, "Other", "urn:any", "rh", NULL, 0, NULL));
    rule_release(&r);
    /* ids only, any type */
    r = mk(EX_RATE);
    CHECK(rule_matches(&r, "Whatever", "urn:x", "level", NULL, 0, NULL));
    CHECK(!rule_matches(&r, "Whatever", "urn:y", "level", NULL, 0, NULL));
    CHECK(!rule_matches(&r, "Whatever", NULL, "level", NULL, 0, NULL));
    rule_release(&r);
}

static void matches_concave_polygon(void)
{
    /* a U shape: x 0..3, y 0..3, with the notch x 1..2, y 1..3 cut out */
    struct rule r = mk("{\"id\":\"u\",\"kind\":\"stale\",\"target\":{\"type\":\"T\",\"area\":{"
                       "\"type\":\"Polygon\",\"coordinates\":[[[0,0],[3,0],[3,3],[2,3],[2,1],"
                       "[1,1],[1,3],[0,3],[0,0]]]}},\"condition\":{\"after\":\"1h\"}}");
    static const struct {
        double p[2];
        int in;
    } pts[] = {
        {{0.5, 2.5}, 1}, {{2.5, 2.5}, 1}, {{1.5, 0.5}, 1}, {{1.5, 2}, 0},  {{1.5, 3.5}, 0},
        {{-0.1, 1}, 0},  {{3.1, 1}, 0},   {{1.5, 1}, 1},   {{2, 2}, 1},    {{0, 0}, 1},
        {{1.5, 1.0001}, 0}, {{0.5, -0.01}, 0},
    };
    for (size_t i = 0; i < VG_ARRAY_LEN(pts); i++)
        if (rule_matches(&r, "T", "e", "x", NULL, 0, pts[i].p) != pts[i].in) {
            printf("  point %zu (%g, %g)\n", i, pts[i].p[0], pts[i].p[1]);
            CHECK(0);
        }
    CHECK(round_trips(&r));
    rule_release(&r);
}

static void message_expands_and_truncates(void)
{
    struct rule r = mk(EX_THRESHOLD);
    struct rule_state st = {0};
    char out[600];
    rule_on_value(&r, &st, 0, 61.234567);
    rule_on_value(&r, &st, 30 * MIN_MS, 61.234567);
    REQUIRE(st.active);
    rule_message(&r, &st, "urn:a:1", "pm25", out, sizeof(out));
    CHECK(!strcmp(out, "urn:a:1: PM2.5 61.2346 \xc2\xb5g/m\xc2\xb3 above 50 for 30m"));
    /* truncation: NUL-terminated, never half a UTF-8 sequence ("µ" is 2 bytes at offset 23) */
    for (size_t cap = 1; cap < 40; cap++) {
        char small[40];
        memset(small, 'X', sizeof(small));
        rule_message(&r, &st, "urn:a:1", "pm25", small, cap);
        CHECK(strlen(small) < cap);
        CHECK(!strncmp(small, out, strlen(small)));
        CHECK(strlen(small) != 24 && strlen(small) != 29); /* inside "µ" or "³" */
    }
    rule_message(&r, &st, "urn:a:1", "pm25", out, 0); /* nothing written, no crash */
    rule_release(&r);

    /* default messages and the other placeholders */
    r = mk("{\"id\":\"q\",\"name\":\"Quiet\",\"kind\":\"stale\",\"target\":{\"type\":\"T\"},"
           "\"message\":\"{rule}/{entity}/{attr}/{value}/{duration}/{nope}/{\","
           "\"condition\":{\"after\":\"90m\"}}");
    memset(&st, 0, sizeof(st));
    rule_on_value(&r, &st, 0, 12.5);
    CHECK_EQ_INT(rule_on_tick(&r, &st, 100 * MIN_MS), RULE_RAISE);
    rule_message(&r, &st, "e1", "rh", out, sizeof(out));
    CHECK(!strcmp(out, "Quiet/e1/rh/12.5/90m/{nope}/{"));
    rule_release(&r);
    r = mk(EX_STALE);
    rule_message(&r, &st, "e1", "rh", out, sizeof(out));
    CHECK(!strcmp(out, "e1: no new value for more than 2h")); /* a whole entity: no attribute */
    rule_release(&r);
    r = mk(EX_RATE);
    memset(&st, 0, sizeof(st));
    rule_on_value(&r, &st, 0, 1);
    rule_on_value(&r, &st, 1000, 100);
    rule_message(&r, &st, "urn:x", "level", out, sizeof(out));
    CHECK(!strcmp(out, "urn:x: level changed faster than 20 per 1h (now 100)"));
    rule_release(&r);
    r = mk(EX_STUCK);
    rule_message(&r, NULL, NULL, NULL, out, sizeof(out));
    CHECK(!strcmp(out, ": t stuck at nan (5 identical values over at least 2h)"));
    rule_release(&r);
}

static void names_and_durations(void)
{
    CHECK(!strcmp(rule_severity_name(SEV_INFORMATIONAL), "informational"));
    CHECK(!strcmp(rule_severity_name(SEV_CRITICAL), "critical"));
    CHECK(!strcmp(rule_kind_name(RULE_STUCK), "stuck"));
    static const struct {
        const char *in, *out;
    } d[] = {{"90s", "90s"}, {"1.5h", "90m"}, {"24h", "1d"}, {"1500ms", "1500ms"},
             {"2w", "14d"},  {"0", "0s"},     {"60", "1m"}};
    for (size_t i = 0; i < VG_ARRAY_LEN(d); i++) {
        char json[256], want[64];
        struct rule r;
        snprintf(json, sizeof(json),
                 "{\"id\":\"d\",\"kind\":\"stuck\",\"target\":{\"type\":\"T\",\"attr\":\"a\"},"
                 "\"condition\":{\"for\":\"%s\"}}",
                 d[i].in);
        REQUIRE(parse(json, &r) == 0);
        char *j = rule_to_json(&r);
        snprintf(want, sizeof(want), "\"for\":\"%s\"", d[i].out);
        if (!strstr(j, want)) {
            printf("  %s -> %s\n", d[i].in, j);
            CHECK(0);
        }
        free(j);
        rule_release(&r);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* New kinds: parsing and refusals                                                             */

#define SCHOOL_POLY                                                                                \
    "[[[2.349,48.849],[2.351,48.849],[2.351,48.851],[2.349,48.851],[2.349,48.849]]]"
static const char *EX_NIGHTMIN = "{\"id\":\"leak\",\"kind\":\"nightmin\","
                                 "\"target\":{\"type\":\"Building\",\"attr\":\"waterConsumption\"},"
                                 "\"condition\":{}}";
static const char *EX_DWELL = "{\"id\":\"gate\",\"kind\":\"dwell\",\"target\":{\"type\":\"Vehicle\"},"
                              "\"condition\":{\"geofence\":{\"type\":\"Polygon\",\"coordinates\":"
                              SCHOOL_POLY "},\"radius_m\":30,\"for\":\"30m\"}}";
static const char *EX_FORECAST = "{\"id\":\"fc\",\"kind\":\"forecast\","
                                 "\"target\":{\"type\":\"AirQualityObserved\",\"attr\":\"no2\"},"
                                 "\"condition\":{\"op\":\">\",\"value\":50,\"horizon\":\"24h\","
                                 "\"bound\":\"upper\"}}";
static const char *EX_ANOMALY = "{\"id\":\"an\",\"kind\":\"anomaly\","
                                "\"target\":{\"type\":\"T\",\"attr\":\"flow\"},"
                                "\"condition\":{\"score\":6,\"weeks\":4,\"min_weeks\":2}}";
static const char *EX_COMPOSITE =
    "{\"id\":\"nation\",\"name\":\"Nation\",\"kind\":\"composite\",\"target\":{\"area\":"
    "{\"type\":\"Polygon\",\"coordinates\":[[[2.39,48.84],[2.40,48.84],[2.40,48.85],[2.39,48.85],"
    "[2.39,48.84]]]}},"
    "\"condition\":{\"all\":[{\"type\":\"NoiseLevelObserved\",\"attr\":\"LAeq\",\"op\":\">\","
    "\"value\":70},{\"type\":\"CrowdFlowObserved\",\"attr\":\"peopleCount\",\"op\":\">=\","
    "\"value\":100}],\"window\":\"10m\"}}";

static void parses_new_kinds_with_defaults(void)
{
    struct rule r;
    REQUIRE(parse(EX_NIGHTMIN, &r) == 0);
    CHECK_EQ_INT(r.kind, RULE_NIGHTMIN);
    CHECK(r.night_from == 120 && r.night_to == 240 && r.nights == 2 && r.learn == 7 &&
          r.window == 14 && r.ratio == 0.5 && r.margin == 0);
    CHECK(round_trips(&r));
    char *j = rule_to_json(&r);
    CHECK(strstr(j, "\"condition\":{\"from\":\"02:00\",\"to\":\"04:00\",\"nights\":2,\"learn\":7,"
                    "\"window\":14,\"ratio\":0.5,\"margin\":0}") != NULL);
    free(j);
    rule_release(&r);
    /* learn above 14 without window: the window follows learn */
    REQUIRE(parse("{\"id\":\"l\",\"kind\":\"nightmin\",\"target\":{\"type\":\"B\",\"attr\":\"w\"},"
                  "\"condition\":{\"from\":\"01:30\",\"to\":\"05:15\",\"learn\":20}}",
                  &r) == 0);
    CHECK(r.window == 20 && r.night_from == 90 && r.night_to == 315);
    CHECK(round_trips(&r));
    rule_release(&r);

    REQUIRE(parse(EX_DWELL, &r) == 0);
    CHECK_EQ_INT(r.kind, RULE_DWELL);
    CHECK(!strcmp(r.attr, "location")); /* the default attr */
    CHECK(r.radius_m == 30 && r.for_ms == 30 * MIN_MS && r.geo_multi == 0);
    CHECK(r.ngeo == 5 && r.ngeo_ring == 1 && r.ngeo_poly == 1 && r.geo_ring[0] == 5);
    CHECK(r.geo_bbox[0] == 2.349 && r.geo_bbox[3] == 48.851);
    CHECK(round_trips(&r));
    rule_release(&r);
    /* MultiPolygon with open rings and a hole: rings are closed in the canonical form */
    REQUIRE(parse("{\"id\":\"m\",\"kind\":\"dwell\",\"target\":{\"type\":\"V\",\"attr\":\"pos\"},"
                  "\"condition\":{\"geofence\":{\"type\":\"MultiPolygon\",\"coordinates\":["
                  "[[[0,0],[1,0],[1,1],[0,1]]],"
                  "[[[10,0],[13,0],[13,3],[10,3],[10,0]],[[11,1],[12,1],[12,2],[11,2]]]]}}}",
                  &r) == 0);
    CHECK(r.geo_multi == 1 && r.ngeo_poly == 2 && r.ngeo_ring == 3 && r.ngeo == 15);
    CHECK(r.geo_poly[0] == 1 && r.geo_poly[1] == 2);
    CHECK(!strcmp(r.attr, "pos") && r.for_ms == 30 * MIN_MS && r.radius_m == 30);
    j = rule_to_json(&r);
    CHECK(strstr(j, "[[[0,0],[1,0],[1,1],[0,1],[0,0]]]") != NULL);
    CHECK(strstr(j, "[[11,1],[12,1],[12,2],[11,2],[11,1]]") != NULL);
    free(j);
    CHECK(round_trips(&r));
    rule_release(&r);

    REQUIRE(parse(EX_FORECAST, &r) == 0);
    CHECK(r.kind == RULE_FORECAST && r.op == RULE_OP_GT && r.raise == 50 && r.upper == 1 &&
          r.horizon_ms == 24 * HOUR_MS);
    CHECK(round_trips(&r));
    rule_release(&r);
    REQUIRE(parse("{\"id\":\"f\",\"kind\":\"forecast\",\"target\":{\"type\":\"T\",\"attr\":\"a\"},"
                  "\"condition\":{\"op\":\"<=\",\"value\":-3}}",
                  &r) == 0);
    CHECK(r.op == RULE_OP_LE && r.upper == 0 && r.horizon_ms == 24 * HOUR_MS);
    CHECK(strstr(r.message, "below") != NULL);
    j = rule_to_json(&r);
    CHECK(strstr(j, "{\"op\":\"<=\",\"value\":-3,\"horizon\":\"1d\",\"bound\":\"point\"}") != NULL);
    free(j);
    rule_release(&r);

    REQUIRE(parse(EX_ANOMALY, &r) == 0);
    CHECK(r.kind == RULE_ANOMALY && r.score == 6 && r.weeks == 4 && r.min_weeks == 2);
    CHECK(round_trips(&r));
    rule_release(&r);
    REQUIRE(parse("{\"id\":\"a\",\"kind\":\"anomaly\",\"target\":{\"type\":\"T\",\"attr\":\"a\"},"
                  "\"condition\":{}}",
                  &r) == 0);
    CHECK(r.score == 6 && r.weeks == 4 && r.min_weeks == 2);
    rule_release(&r);

    REQUIRE(parse(EX_COMPOSITE, &r) == 0);
    CHECK(r.kind == RULE_COMPOSITE && r.nclauses == 2 && r.window_ms == 10 * MIN_MS);
    CHECK(r.type[0] == 0 && r.attr[0] == 0 && r.npoly == 5);
    CHECK(!strcmp(r.clauses[1].attr, "peopleCount") && r.clauses[1].op == RULE_OP_GE &&
          r.clauses[1].value == 100);
    CHECK(round_trips(&r));
    rule_release(&r);

    for (int k = RULE_NIGHTMIN; k <= RULE_KIND_MAX; k++)
        CHECK(strcmp(rule_kind_name(k), "unknown") != 0);
    CHECK(!strcmp(rule_kind_name(RULE_NIGHTMIN), "nightmin"));
    CHECK(!strcmp(rule_kind_name(RULE_COMPOSITE), "composite"));
    CHECK(!strcmp(rule_kind_name(0), "unknown"));
}

static void refuses_bad_new_kinds(void)
{
#define NM "{\"id\":\"a\",\"kind\":\"nightmin\",\"target\":{\"type\":\"B\",\"attr\":\"w\"},"
#define DW "{\"id\":\"a\",\"kind\":\"dwell\",\"target\":{\"type\":\"V\"},"
#define GF(c) "\"geofence\":{\"type\":\"Polygon\",\"coordinates\":" c "}"
#define FC "{\"id\":\"a\",\"kind\":\"forecast\",\"target\":{\"type\":\"T\",\"attr\":\"a\"},"
#define AN "{\"id\":\"a\",\"kind\":\"anomaly\",\"target\":{\"type\":\"T\",\"attr\":\"a\"},"
#define AREA "\"area\":{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,0]]]}"
#define CO "{\"id\":\"a\",\"kind\":\"composite\",\"target\":{" AREA "},"
#define CL "{\"type\":\"N\",\"attr\":\"x\",\"op\":\">\",\"value\":1}"
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"{\"id\":\"a\",\"kind\":\"leak\"}",
         "kind must be one of threshold, stale, stuck, rate, nightmin, dwell, forecast, anomaly, "
         "composite"},
        {NM "\"condition\":{\"from\":\"2:00\"}}", "condition.from must be a local time \"HH:MM\""},
        {NM "\"condition\":{\"to\":\"24:00\"}}", "condition.to must be a local time"},
        {NM "\"condition\":{\"to\":\"03:60\"}}", "condition.to must be a local time"},
        {NM "\"condition\":{\"from\":200}}", "condition.from must be a local time"},
        {NM "\"condition\":{\"from\":\"04:00\",\"to\":\"02:00\"}}",
         "condition.from must be before condition.to"},
        {NM "\"condition\":{\"from\":\"03:00\",\"to\":\"03:00\"}}",
         "condition.from must be before condition.to"},
        {NM "\"condition\":{\"nights\":0}}", "condition.nights must be an integer from 1 to 30"},
        {NM "\"condition\":{\"nights\":31}}", "condition.nights must be an integer from 1 to 30"},
        {NM "\"condition\":{\"nights\":1.5}}", "condition.nights must be an integer"},
        {NM "\"condition\":{\"learn\":61}}", "condition.learn must be an integer from 1 to 60"},
        {NM "\"condition\":{\"learn\":10,\"window\":9}}",
         "condition.window must be an integer from condition.learn (10) to 60"},
        {NM "\"condition\":{\"window\":61}}", "condition.window must be an integer from 1 to 60"},
        {NM "\"condition\":{\"ratio\":-0.1}}", "condition.ratio must be >= 0"},
        {NM "\"condition\":{\"ratio\":\"1\"}}", "condition.ratio must be a finite number"},
        {NM "\"condition\":{\"margin\":-1}}", "condition.margin must be >= 0"},
        {NM "\"condition\":{\"for\":\"1h\"}}", "unknown member 'for' in condition"},
        {"{\"id\":\"a\",\"kind\":\"nightmin\",\"target\":{\"type\":\"B\"},\"condition\":{}}",
         "target.attr is required for a nightmin rule"},
        {DW "\"condition\":{}}", "condition.geofence is required"},
        {DW "\"condition\":{\"geofence\":[]}}", "condition.geofence must be a GeoJSON Polygon"},
        {DW "\"condition\":{\"geofence\":{\"type\":\"Point\",\"coordinates\":[0,0]}}}",
         "condition.geofence.type must be \"Polygon\" or \"MultiPolygon\""},
        {DW "\"condition\":{\"geofence\":{\"type\":\"Polygon\",\"coordinates\":[],\"x\":1}}}",
         "unknown member 'x' in condition.geofence"},
        {DW "\"condition\":{" GF("[]") "}}", "condition.geofence.coordinates must be a non-empty"},
        {DW "\"condition\":{" GF("[[[0,0],[1,0]]]") "}}",
         "condition.geofence.coordinates[0] must be a ring of at least 3 positions"},
        {DW "\"condition\":{" GF("[[[0,0],[1,0],[0,0]]]") "}}",
         "condition.geofence.coordinates[0] must be a ring of at least 3 positions"},
        {DW "\"condition\":{" GF("[[[0,0],[1,0],[1,1]],[[0,0],[1,\"x\"],[1,1]]]") "}}",
         "condition.geofence.coordinates[1][1] must be a position"},
        {DW "\"condition\":{" GF("[[[0,0],[1,0],[1,95]]]") "}}",
         "condition.geofence.coordinates[0][2]: latitude 95 out of range"},
        {DW "\"condition\":{" GF("[[[0,0],[-181,0],[1,1]]]") "}}",
         "condition.geofence.coordinates[0][1]: longitude -181 out of range"},
        {DW "\"condition\":{\"geofence\":{\"type\":\"MultiPolygon\",\"coordinates\":"
            "[[[[0,0],[1,0],[1,1]]],[]]}}}",
         "condition.geofence.coordinates[1] must be a non-empty array of rings"},
        {DW "\"condition\":{\"geofence\":{\"type\":\"MultiPolygon\",\"coordinates\":"
            "[[[[0,0],[1,0],[1,1]]],[[[0,0],[1,0]]]]}}}",
         "condition.geofence.coordinates[1][0] must be a ring"},
        {DW "\"condition\":{" GF("[[[0,0],[1,0],[1,1]]]") ",\"radius_m\":0.5}}",
         "condition.radius_m must be from 1 to 10000"},
        {DW "\"condition\":{" GF("[[[0,0],[1,0],[1,1]]]") ",\"radius_m\":10001}}",
         "condition.radius_m must be from 1 to 10000"},
        {DW "\"condition\":{" GF("[[[0,0],[1,0],[1,1]]]") ",\"for\":\"0s\"}}",
         "condition.for must be above 0"},
        {DW "\"condition\":{" GF("[[[0,0],[1,0],[1,1]]]") ",\"for\":\"long\"}}",
         "condition.for must be a duration"},
        {FC "\"condition\":{\"value\":1}}", "condition.op is required"},
        {FC "\"condition\":{\"op\":\"==\",\"value\":1}}",
         "condition.op must be one of \">\", \"<\", \">=\", \"<=\""},
        {FC "\"condition\":{\"op\":\">\"}}", "condition.value is required"},
        {FC "\"condition\":{\"op\":\">\",\"value\":null}}", "condition.value must be a finite"},
        {FC "\"condition\":{\"op\":\">\",\"value\":1,\"horizon\":\"0s\"}}",
         "condition.horizon must be above 0 and at most 30d"},
        {FC "\"condition\":{\"op\":\">\",\"value\":1,\"horizon\":\"31d\"}}",
         "condition.horizon must be above 0 and at most 30d"},
        {FC "\"condition\":{\"op\":\">\",\"value\":1,\"bound\":\"lower\"}}",
         "condition.bound must be \"point\" or \"upper\""},
        {FC "\"condition\":{\"op\":\">\",\"value\":1,\"raise\":2}}",
         "unknown member 'raise' in condition"},
        {AN "\"condition\":{\"score\":0}}", "condition.score must be above 0"},
        {AN "\"condition\":{\"score\":-2}}", "condition.score must be above 0"},
        {AN "\"condition\":{\"weeks\":1}}", "condition.weeks must be an integer from 2 to 8"},
        {AN "\"condition\":{\"weeks\":9}}", "condition.weeks must be an integer from 2 to 8"},
        {AN "\"condition\":{\"weeks\":3,\"min_weeks\":4}}",
         "condition.min_weeks must be an integer from 1 to condition.weeks (3)"},
        {AN "\"condition\":{\"min_weeks\":0}}", "condition.min_weeks must be an integer from 1"},
        {"{\"id\":\"a\",\"kind\":\"composite\",\"target\":{\"type\":\"N\"},\"condition\":{\"all\":["
         CL "," CL "]}}",
         "target.area is required for a composite rule"},
        {"{\"id\":\"a\",\"kind\":\"composite\",\"target\":{\"attr\":\"x\"," AREA "},"
         "\"condition\":{\"all\":[" CL "," CL "]}}",
         "target.attr is not used by a composite rule"},
        {CO "\"condition\":{}}", "condition.all is required (2 to 8 clauses)"},
        {CO "\"condition\":{\"all\":[" CL "]}}", "condition.all must be an array of 2 to 8 clauses"},
        {CO "\"condition\":{\"all\":[" CL "," CL "," CL "," CL "," CL "," CL "," CL "," CL "," CL
            "]}}",
         "condition.all must be an array of 2 to 8 clauses"},
        {CO "\"condition\":{\"all\":[" CL ",3]}}", "condition.all[1] must be an object"},
        {CO "\"condition\":{\"all\":[" CL ",{\"attr\":\"x\",\"op\":\">\",\"value\":1}]}}",
         "condition.all[1].type is required"},
        {CO "\"condition\":{\"all\":[" CL ",{\"type\":\"N\",\"op\":\">\",\"value\":1}]}}",
         "condition.all[1].attr is required"},
        {CO "\"condition\":{\"all\":[" CL ",{\"type\":\"N\",\"attr\":\"\",\"op\":\">\",\"value\":1}"
            "]}}",
         "condition.all[1].attr must be a non-empty string"},
        {CO "\"condition\":{\"all\":[" CL ",{\"type\":\"N\",\"attr\":\"x\",\"value\":1}]}}",
         "condition.all[1].op is required"},
        {CO "\"condition\":{\"all\":[" CL ",{\"type\":\"N\",\"attr\":\"x\",\"op\":\"=\","
            "\"value\":1}]}}",
         "condition.all[1].op must be one of"},
        {CO "\"condition\":{\"all\":[" CL ",{\"type\":\"N\",\"attr\":\"x\",\"op\":\">\"}]}}",
         "condition.all[1].value is required"},
        {CO "\"condition\":{\"all\":[{\"type\":\"N\",\"attr\":\"x\",\"op\":\">\",\"value\":\"1\"},"
            CL "]}}",
         "condition.all[0].value must be a finite number"},
        {CO "\"condition\":{\"all\":[" CL ",{\"type\":\"N\",\"attr\":\"x\",\"op\":\">\","
            "\"value\":1,\"for\":\"1m\"}]}}",
         "unknown member 'for' in condition.all[1]"},
        {CO "\"condition\":{\"all\":[" CL "," CL "],\"window\":\"0s\"}}",
         "condition.window must be above 0"},
        {"{\"id\":\"a\",\"kind\":\"composite\",\"target\":{\"type\":\"M\"," AREA "},"
         "\"condition\":{\"all\":[" CL "," CL "]}}",
         "condition.all[0].type must be target.type ('M')"},
    };
    for (size_t i = 0; i < VG_ARRAY_LEN(cases); i++) {
        if (!refused(cases[i].json, cases[i].want)) {
            printf("  case %zu\n", i);
            CHECK(0);
        }
    }
    /* the geofence's position budget counts the closing positions the parser adds */
    {
        struct buf b;
        struct rule r;
        buf_init(&b, 0);
        buf_puts(&b, DW "\"condition\":{\"geofence\":{\"type\":\"MultiPolygon\",\"coordinates\":[");
        for (int k = 0; k < 5000; k++) /* 5000 open triangles: 15000 given, 20000 closed */
            buf_printf(&b, "%s[[[%d,0],[%d.5,0],[%d,1]]]", k ? "," : "", k % 100, k % 100, k % 100);
        buf_puts(&b, "]}}}");
        CHECK(parse(b.p, &r) == 0 && r.ngeo == RULE_MAX_GEOFENCE);
        CHECK(round_trips(&r));
        rule_release(&r);
        buf_reset(&b);
        buf_puts(&b, DW "\"condition\":{\"geofence\":{\"type\":\"MultiPolygon\",\"coordinates\":[");
        for (int k = 0; k < 5001; k++)
            buf_printf(&b, "%s[[[%d,0],[%d.5,0],[%d,1]]]", k ? "," : "", k % 100, k % 100, k % 100);
        buf_puts(&b, "]}}}");
        CHECK(refused(b.p, "condition.geofence has more than"));
        buf_reset(&b);
        buf_puts(&b, DW "\"condition\":{\"geofence\":{\"type\":\"Polygon\",\"coordinates\":[[");
        for (int k = 0; k < RULE_MAX_GEOFENCE; k++) /* one open ring of 20000: 20001 closed */
            buf_printf(&b, "%s[%d,%d]", k ? "," : "", k % 7, k % 3);
        buf_puts(&b, "]]}}}");
        CHECK(refused(b.p, "condition.geofence has more than 20000 positions"));
        buf_release(&b);
    }
#undef NM
#undef DW
#undef GF
#undef FC
#undef AN
#undef AREA
#undef CO
#undef CL
}

/* ------------------------------------------------------------------------------------------ */
/* Nightmin                                                                                    */

static void use_paris(void)
{
    setenv("TZ", "Europe/Paris", 1);
    tzset();
}

/* Epoch ms of a local (Paris) wall-clock time; unambiguous times only. */
static int64_t paris(int y, int mo, int d, int h, int mi)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm) * 1000;
}

static struct rule mk_night(const char *cond)
{
    char json[512];
    snprintf(json, sizeof(json),
             "{\"id\":\"leak\",\"kind\":\"nightmin\",\"target\":{\"type\":\"Building\","
             "\"attr\":\"waterConsumption\"},\"condition\":{%s}}",
             cond);
    return mk(json);
}

/* Hourly values for ndays local days from June 1st 2026 (far from DST): at 02:00 and 03:00 the
** night flow night[d] (NaN: no value in the window that night, a missing night), else 100.
** ev[d] gets the transition of the day's 04:00 value (the one that closes the night); any
** transition at another hour fails the test. */
static void run_nights(const struct rule *r, struct rule_state *st, const double *night, int ndays,
                       enum rule_event *ev)
{
    for (int d = 0; d < ndays; d++) {
        ev[d] = RULE_NONE;
        for (int h = 0; h < 24; h++) {
            double v = (h == 2 || h == 3) ? night[d] : 100;
            int64_t ts = paris(2026, 6, 1 + d, h, 0);
            enum rule_event e;
            if (isnan(v))
                continue;
            e = rule_on_value(r, st, ts, v);
            if (h == 4)
                ev[d] = e;
            else if (e != RULE_NONE) {
                printf("  day %d hour %d: event %d\n", d, h, e);
                CHECK(0);
            }
        }
    }
}

/* A leak starting on Wednesday June 10th at 10:00 is raised at the close of the second excess
** night (Friday 04:00, 42 h later), stays open without raising twice, and clears on the first
** normal night; the excess nights never enter the baseline. */
static void nightmin_leak_raises_after_nights(void)
{
    use_paris();
    for (int nights = 1; nights <= 3; nights++) {
        char cond[64];
        snprintf(cond, sizeof(cond), "\"nights\":%d", nights);
        struct rule r = mk_night(cond);
        struct rule_state st = {0};
        int64_t leak_start = paris(2026, 6, 10, 10, 0), leak_end = paris(2026, 6, 14, 12, 0);
        int64_t first_raise = 0, clear_at = 0;
        int raises = 0, clears = 0;
        double level_first_excess = NAN, level_clear = NAN, trigger = NAN;
        for (int d = 0; d < 18; d++)
            for (int h = 0; h < 24; h++) {
                int64_t ts = paris(2026, 6, 1 + d, h, 0);
                double v = h >= 1 && h <= 5 ? 10 + d % 3 : 100 + h; /* night 10..12 */
                if (ts >= leak_start && ts < leak_end)
                    v += 25;
                enum rule_event e = rule_on_value(&r, &st, ts, v);
                if (d == 10 && h == 4) /* first excess night closed */
                    level_first_excess = st.u.night.level;
                if (e == RULE_RAISE) {
                    raises++;
                    first_raise = ts;
                    trigger = st.trigger_value;
                    CHECK(st.raised_at == ts);
                    if (nights == 2) {
                        char msg[256];
                        rule_message(&r, &st, "b1", NULL, msg, sizeof(msg));
                        CHECK(!strcmp(msg, "b1: possible leak, night minimum of waterConsumption "
                                           "37 above 16.5 for 2 nights"));
                    }
                } else if (e == RULE_CLEAR) {
                    clears++;
                    clear_at = ts;
                    level_clear = st.u.night.level;
                }
            }
        CHECK_EQ_INT(raises, 1);
        CHECK_EQ_INT(clears, 1);
        /* excess nights: June 11, 12, 13, 14 (the leak ends at noon on the 14th) */
        CHECK_EQ_INT(first_raise, paris(2026, 6, 10 + nights, 4, 0));
        CHECK(trigger == 35 + (9 + nights) % 3);
        if (nights == 2)
            CHECK(first_raise - leak_start <= 72 * HOUR_MS);
        CHECK_EQ_INT(clear_at, paris(2026, 6, 15, 4, 0));
        /* baseline: median of June 1..10 nights (10, 11, 12 ...) = 11, level 16.5 */
        CHECK(level_first_excess == 16.5);
        CHECK(level_clear == level_first_excess);
        CHECK(!st.active && st.u.night.streak == 0);
        rule_release(&r);
    }
}

static void nightmin_learning_and_missing_nights(void)
{
    use_paris();
    enum rule_event ev[12];
    /* learning: nothing raises before `learn` nights are known, even a night 10x the usual */
    {
        struct rule r = mk_night("\"nights\":1,\"learn\":3");
        struct rule_state st = {0};
        double night[] = {10, 10, 100, 10, 100, 10};
        run_nights(&r, &st, night, 6, ev);
        CHECK(ev[0] == RULE_NONE && ev[1] == RULE_NONE && ev[2] == RULE_NONE);
        CHECK(ev[3] == RULE_NONE);
        CHECK_EQ_INT(ev[4], RULE_RAISE); /* median(10, 10, 100, 10) = 10: level 15 */
        CHECK_EQ_INT(ev[5], RULE_CLEAR);
        CHECK_EQ_INT(st.u.night.count, 5); /* the learning-time 100 stayed, the excess did not */
        rule_release(&r);
    }
    /* a missing night neither counts nor breaks the streak */
    {
        struct rule r = mk_night("\"learn\":3");
        struct rule_state st = {0};
        double night[] = {10, 10, 10, 40, NAN, NAN, 40, 40, 10};
        run_nights(&r, &st, night, 9, ev);
        for (int d = 0; d < 6; d++)
            CHECK_EQ_INT(ev[d], RULE_NONE);
        CHECK_EQ_INT(ev[6], RULE_RAISE);
        CHECK_EQ_INT(st.raised_at, paris(2026, 6, 7, 4, 0));
        CHECK_EQ_INT(ev[7], RULE_NONE);
        CHECK_EQ_INT(ev[8], RULE_CLEAR);
        rule_release(&r);
    }
    /* a normal night between two excess nights resets the streak */
    {
        struct rule r = mk_night("\"learn\":3,\"margin\":2");
        struct rule_state st = {0};
        double night[] = {10, 10, 10, 40, 16, 40, 17, 40, 40};
        run_nights(&r, &st, night, 9, ev);
        for (int d = 0; d < 8; d++)
            CHECK_EQ_INT(ev[d], RULE_NONE); /* 16 and 17 <= 10 * 1.5 + 2 */
        CHECK_EQ_INT(ev[8], RULE_RAISE);
        /* 16 and 17 entered the baseline: median(10, 10, 10, 16, 17) = 10 */
        CHECK(st.u.night.level == 17 && st.u.night.count == 5);
        rule_release(&r);
    }
    /* the baseline is the median of the last `window` normal nights only */
    {
        struct rule r = mk_night("\"learn\":2,\"window\":3,\"nights\":1");
        struct rule_state st = {0};
        double night[] = {10, 10, 10, 14, 14, 14, 20};
        run_nights(&r, &st, night, 7, ev);
        for (int d = 0; d < 6; d++)
            CHECK_EQ_INT(ev[d], RULE_NONE);
        CHECK_EQ_INT(ev[6], RULE_NONE); /* ring (14, 14, 14): level 21 */
        CHECK(st.u.night.level == 21);
        rule_release(&r);
    }
}

/* The tick closes a night at `to` + 1 h when no value arrives after it; a late value of a
** closed night does not reopen it. */
static void nightmin_tick_closes_night(void)
{
    use_paris();
    struct rule r = mk_night("\"learn\":1,\"nights\":1");
    struct rule_state st = {0};
    CHECK_EQ_INT(rule_on_value(&r, &st, paris(2026, 6, 1, 2, 0), 10), RULE_NONE);
    CHECK_EQ_INT(rule_on_value(&r, &st, paris(2026, 6, 1, 5, 0), 90), RULE_NONE); /* closes */
    CHECK(st.u.night.count == 1 && !st.u.night.open);
    CHECK_EQ_INT(rule_on_value(&r, &st, paris(2026, 6, 2, 2, 10), 30), RULE_NONE);
    CHECK_EQ_INT(rule_on_value(&r, &st, paris(2026, 6, 2, 3, 0), 20), RULE_NONE);
    CHECK(st.u.night.open && st.u.night.cur_min == 20);
    CHECK_EQ_INT(rule_on_tick(&r, &st, paris(2026, 6, 2, 4, 30)), RULE_NONE);
    CHECK_EQ_INT(rule_on_tick(&r, &st, paris(2026, 6, 2, 4, 59)), RULE_NONE);
    CHECK(st.u.night.open);
    CHECK_EQ_INT(rule_on_tick(&r, &st, paris(2026, 6, 2, 5, 0)), RULE_RAISE); /* 20 > 15 */
    CHECK(st.raised_at == paris(2026, 6, 2, 5, 0) && st.trigger_value == 20);
    CHECK(!st.u.night.open);
    /* a value of the closed night arriving late (newer than the last one): ignored */
    CHECK_EQ_INT(rule_on_value(&r, &st, paris(2026, 6, 2, 3, 30), 1), RULE_NONE);
    CHECK(!st.u.night.open);
    CHECK_EQ_INT(rule_on_tick(&r, &st, paris(2026, 6, 2, 9, 0)), RULE_NONE);
    /* the next night clears */
    CHECK_EQ_INT(rule_on_value(&r, &st, paris(2026, 6, 3, 2, 0), 9), RULE_NONE);
    CHECK_EQ_INT(rule_on_value(&r, &st, paris(2026, 6, 3, 4, 0), 9), RULE_CLEAR); /* at `to` */
    /* NaN and out-of-order values are ignored; an unrepresentable time too */
    CHECK_EQ_INT(rule_on_value(&r, &st, paris(2026, 6, 4, 2, 0), NAN), RULE_NONE);
    CHECK(!st.u.night.open);
    CHECK_EQ_INT(rule_on_value(&r, &st, INT64_MAX, 1), RULE_NONE);
    CHECK_EQ_INT(rule_on_tick(&r, &st, INT64_MIN), RULE_NONE);
    rule_release(&r);
}

/* DST in Europe/Paris: on March 29th 2026 local time jumps from 02:00 to 03:00 (the window
** 02:00-04:00 is one hour long: 01:00-02:00 UTC); on October 25th 2026 it goes back from 03:00
** to 02:00 (the window is three hours long: 00:00-03:00 UTC). Values every 10 minutes, in UTC. */
static void nightmin_dst_nights(void)
{
    use_paris();
    struct rule r = mk_night("\"learn\":30");
    struct rule_state st = {0};
    /* spring: 2026-03-28 12:00 UTC .. 2026-03-29 12:00 UTC */
    int64_t t0 = clock_days_from_civil(2026, 3, 28) * 86400000LL + 12 * HOUR_MS;
    for (int64_t ts = t0; ts <= t0 + 24 * HOUR_MS; ts += 10 * MIN_MS) {
        int64_t utc_min = (ts - t0) / MIN_MS - 12 * 60; /* minutes after 29 March 00:00 UTC */
        double v = 50;
        if (utc_min == 50) /* 01:50 CET: before the window */
            v = 5;
        else if (utc_min == 70) /* 03:10 CEST */
            v = 7;
        else if (utc_min == 110) /* 03:50 CEST */
            v = 9;
        rule_on_value(&r, &st, ts, v);
        if (utc_min == 110)
            CHECK(st.u.night.open && st.u.night.cur_min == 7 && st.u.night.count == 0);
        if (utc_min == 120) /* 04:00 CEST closes */
            CHECK(!st.u.night.open && st.u.night.count == 1);
    }
    CHECK(st.u.night.count == 1 && st.u.night.minima[0] == 7);
    CHECK_EQ_INT(st.u.night.closed_day, clock_days_from_civil(2026, 3, 29));

    /* autumn: 2026-10-24 12:00 UTC .. 2026-10-25 12:00 UTC */
    t0 = clock_days_from_civil(2026, 10, 24) * 86400000LL + 12 * HOUR_MS;
    for (int64_t ts = t0; ts <= t0 + 24 * HOUR_MS; ts += 10 * MIN_MS) {
        int64_t utc_min = (ts - t0) / MIN_MS - 12 * 60; /* minutes after 25 Oct 00:00 UTC */
        double v = 50;
        if (utc_min == -10) /* 01:50 CEST: before the window */
            v = 4;
        else if (utc_min == 10) /* 02:10 CEST, first pass */
            v = 8;
        else if (utc_min == 90) /* 02:30 CET, second pass */
            v = 6;
        else if (utc_min == 170) /* 03:50 CET */
            v = 7;
        rule_on_value(&r, &st, ts, v);
        if (utc_min >= 0 && utc_min < 180)
            CHECK(st.u.night.open && st.u.night.count == 1); /* one night across the repeat */
        if (utc_min == 180) /* 04:00 CET closes */
            CHECK(!st.u.night.open && st.u.night.count == 2);
    }
    CHECK(st.u.night.count == 2 && st.u.night.minima[1] == 6);
    CHECK_EQ_INT(st.u.night.closed_day, clock_days_from_civil(2026, 10, 25));
    rule_release(&r);
}

/* ------------------------------------------------------------------------------------------ */
/* Dwell                                                                                       */

#define M_PER_DEG 111195.0
static double east(double lon, double m) { return lon + m / (M_PER_DEG * cos(48.85 * M_PI / 180)); }
static double north(double lat, double m) { return lat + m / M_PER_DEG; }
static double jitter(void) { return (rndn(1001) - 500) / 100.0; } /* +-5 m */

struct dwell_log {
    int raises, clears;
    int64_t raise_call_ts, raised_at;
};

static void dwell_fix(const struct rule *r, struct rule_state *st, struct dwell_log *l, int64_t ts,
                      double lon, double lat)
{
    enum rule_event e = rule_on_position(r, st, ts, lon, lat);
    if (e == RULE_NONE)
        e = rule_on_tick(r, st, ts + 1000); /* the tick thread runs in between: no change */
    if (e == RULE_RAISE) {
        l->raises++;
        l->raise_call_ts = ts;
        l->raised_at = st->raised_at;
        CHECK(st->active);
    } else if (e == RULE_CLEAR) {
        l->clears++;
        CHECK(!st->active);
    }
}

static void dwell_parked_at_school_gate(void)
{
    struct rule r = mk(EX_DWELL);
    struct rule_state st = {0};
    struct dwell_log l = {0};
    int64_t t = 1780000000000, arrival = 0;
    double lon = 2.346, lat = 48.85;
    /* drive in from the west at ~37 m per 30 s fix */
    while (lon < 2.35 - 1e-9) {
        dwell_fix(&r, &st, &l, t, lon, lat);
        lon = fmin(2.35, lon + 0.0005);
        t += 30000;
    }
    arrival = t;
    for (int i = 0; i <= 90; i++, t += 30000) /* parked 45 min, +-5 m GPS noise */
        dwell_fix(&r, &st, &l, t, east(2.35, jitter()), north(48.85, jitter()));
    CHECK_EQ_INT(l.raises, 1);
    CHECK_EQ_INT(l.raised_at, arrival + 30 * MIN_MS);
    CHECK_EQ_INT(l.raise_call_ts, arrival + 30 * MIN_MS); /* the fix that proved it */
    CHECK(st.trigger_value == 30);
    char msg[128];
    rule_message(&r, &st, "urn:truck:7", NULL, msg, sizeof(msg));
    CHECK(!strcmp(msg, "urn:truck:7: stationary in the geofence for more than 30m"));
    CHECK_EQ_INT(l.clears, 0);
    for (int i = 0; i < 5; i++, t += 30000) /* leaves eastwards */
        dwell_fix(&r, &st, &l, t, east(2.35, 40.0 * (i + 1)), 48.85);
    CHECK_EQ_INT(l.clears, 1);
    CHECK_EQ_INT(l.raises, 1);
    CHECK(!st.active);
    rule_release(&r);
}

static void dwell_passing_outside_and_silent(void)
{
    struct rule r = mk(EX_DWELL);
    struct rule_state st = {0};
    struct dwell_log l = {0};
    int64_t t = 1780000000000;
    /* passing by at 5 m/s, a fix every 10 s; then a 2 min stop at a crossing inside */
    for (double m = -300; m < 300; m += 50, t += 10000)
        dwell_fix(&r, &st, &l, t, east(2.35, m), 48.85);
    for (int i = 0; i < 12; i++, t += 10000)
        dwell_fix(&r, &st, &l, t, east(2.35, 300 + jitter()), 48.8505);
    for (double m = 300; m < 800; m += 50, t += 10000)
        dwell_fix(&r, &st, &l, t, east(2.35, m), 48.85);
    CHECK_EQ_INT(l.raises, 0);
    /* parked 45 min just outside the geofence (60 m east of its edge) */
    for (int i = 0; i <= 90; i++, t += 30000)
        dwell_fix(&r, &st, &l, t, east(east(2.351, 60), jitter()), north(48.85, jitter()));
    CHECK_EQ_INT(l.raises, 0);
    CHECK_EQ_INT(rule_on_tick(&r, &st, t + 10 * MIN_MS), RULE_NONE);
    CHECK(!st.u.dwell.anchored);

    /* a GPS gone silent inside: one fix, then nothing for more than 2 x for */
    memset(&st, 0, sizeof(st));
    t = 1780000000000;
    CHECK_EQ_INT(rule_on_position(&r, &st, t, 2.35, 48.85), RULE_NONE);
    CHECK_EQ_INT(rule_on_tick(&r, &st, t + 61 * MIN_MS), RULE_NONE);
    CHECK_EQ_INT(rule_on_tick(&r, &st, t + 10 * HOUR_MS), RULE_NONE);
    CHECK(!st.active);
    /* a parked truck that stops sending: the tick raises once the dwell time is reached */
    memset(&st, 0, sizeof(st));
    CHECK_EQ_INT(rule_on_position(&r, &st, t, 2.35, 48.85), RULE_NONE);
    CHECK_EQ_INT(rule_on_position(&r, &st, t + 5 * MIN_MS, east(2.35, 3), 48.85), RULE_NONE);
    CHECK_EQ_INT(rule_on_tick(&r, &st, t + 30 * MIN_MS - 1), RULE_NONE);
    CHECK_EQ_INT(rule_on_tick(&r, &st, t + 30 * MIN_MS), RULE_RAISE);
    CHECK(st.raised_at == t + 30 * MIN_MS);
    CHECK_EQ_INT(rule_on_tick(&r, &st, t + 31 * MIN_MS), RULE_NONE); /* once */
    /* out-of-order, duplicate and invalid fixes are ignored */
    CHECK_EQ_INT(rule_on_position(&r, &st, t + 5 * MIN_MS, 2.36, 48.85), RULE_NONE);
    CHECK_EQ_INT(rule_on_position(&r, &st, t + 40 * MIN_MS, NAN, 48.85), RULE_NONE);
    CHECK_EQ_INT(rule_on_position(&r, &st, t + 40 * MIN_MS, 2.35, 91), RULE_NONE);
    CHECK(st.active);
    CHECK_EQ_INT(rule_on_position(&r, &st, t + 40 * MIN_MS, 2.36, 48.85), RULE_CLEAR); /* left */
    /* other kinds ignore positions; dwell ignores values */
    CHECK_EQ_INT(rule_on_value(&r, &st, t + 50 * MIN_MS, 1), RULE_NONE);
    CHECK_EQ_INT(st.last_ts, t + 40 * MIN_MS);
    struct rule th = mk(EX_THRESHOLD);
    struct rule_state st2 = {0};
    CHECK_EQ_INT(rule_on_position(&th, &st2, 1, 2.35, 48.85), RULE_NONE);
    CHECK(!st2.has_last);
    rule_release(&th);
    /* an alert restored active after a restart (no anchor): the first fix anchors, the next
    ** one far away clears */
    struct rule_state st3 = {0};
    st3.active = 1;
    CHECK_EQ_INT(rule_on_position(&r, &st3, t, 2.35, 48.85), RULE_NONE);
    CHECK(st3.active && st3.u.dwell.anchored);
    CHECK_EQ_INT(rule_on_position(&r, &st3, t + MIN_MS, east(2.35, 20), 48.85), RULE_NONE);
    CHECK_EQ_INT(rule_on_position(&r, &st3, t + 2 * MIN_MS, east(2.35, 35), 48.85), RULE_CLEAR);
    CHECK(!st3.active && st3.u.dwell.anchor_ts == t + 2 * MIN_MS);
    rule_release(&r);
}

static void dwell_multipolygon_with_hole(void)
{
    /* polygon 1: x 0..0.01; polygon 2: x 0.02..0.05 with a hole x 0.03..0.04 (open rings) */
    struct rule r = mk("{\"id\":\"m\",\"kind\":\"dwell\",\"target\":{\"type\":\"V\"},"
                       "\"condition\":{\"geofence\":{\"type\":\"MultiPolygon\",\"coordinates\":["
                       "[[[0,0],[0.01,0],[0.01,0.01],[0,0.01]]],"
                       "[[[0.02,0],[0.05,0],[0.05,0.03],[0.02,0.03]],"
                       "[[0.03,0.01],[0.04,0.01],[0.04,0.02],[0.03,0.02]]]]},"
                       "\"radius_m\":10,\"for\":\"1m\"}}");
    static const struct {
        double lon, lat;
        int raises;
    } spots[] = {
        {0.005, 0.005, 1},  {0.025, 0.015, 1}, {0.035, 0.015, 0}, /* in the hole */
        {0.03, 0.015, 1},                                          /* on the hole's edge */
        {0.015, 0.005, 0},                                         /* between the polygons */
        {0.045, 0.029, 1},  {0.06, 0.01, 0},
    };
    for (size_t i = 0; i < VG_ARRAY_LEN(spots); i++) {
        struct rule_state st = {0};
        rule_on_position(&r, &st, 0, spots[i].lon, spots[i].lat);
        enum rule_event e = rule_on_position(&r, &st, MIN_MS, spots[i].lon, spots[i].lat);
        if ((e == RULE_RAISE) != spots[i].raises) {
            printf("  spot %zu (%g, %g)\n", i, spots[i].lon, spots[i].lat);
            CHECK(0);
        }
    }
    /* the area of the target still filters; the geofence does not */
    rule_release(&r);
    r = mk("{\"id\":\"d\",\"kind\":\"dwell\",\"target\":{\"type\":\"V\",\"area\":{\"type\":"
           "\"Polygon\",\"coordinates\":[[[2,48],[3,48],[3,49],[2,49],[2,48]]]}},"
           "\"condition\":{\"geofence\":{\"type\":\"Polygon\",\"coordinates\":" SCHOOL_POLY "}}}");
    double in_area[2] = {2.9, 48.1}, out_area[2] = {3.5, 48.1};
    CHECK(rule_matches(&r, "V", "v1", "location", NULL, 0, in_area));
    CHECK(!rule_matches(&r, "V", "v1", "location", NULL, 0, out_area));
    CHECK(!rule_matches(&r, "V", "v1", "location", NULL, 0, NULL));
    CHECK(!rule_matches(&r, "V", "v1", "speed", NULL, 0, in_area));
    rule_release(&r);
}

/* ------------------------------------------------------------------------------------------ */
/* Forecast, anomaly, composite                                                                */

static void forecast_transitions(void)
{
    struct rule r = mk(EX_FORECAST);
    struct rule_state st = {0};
    int64_t t = 1780000000000, at = 1780308000000; /* 2026-06-01T10:00:00Z */
    char msg[160];
    CHECK_EQ_INT(rule_on_forecast(&r, &st, t, 0, 0, 30), RULE_NONE);
    CHECK_EQ_INT(rule_on_forecast(&r, &st, t + 1, 1, at, NAN), RULE_NONE); /* no peak */
    CHECK(!st.active);
    CHECK_EQ_INT(rule_on_forecast(&r, &st, t + HOUR_MS, 1, at, 63.5), RULE_RAISE);
    CHECK(st.active && st.trigger_value == 63.5 && st.raised_at == t + HOUR_MS);
    rule_message(&r, &st, "s1", NULL, msg, sizeof(msg));
    CHECK(!strcmp(msg, "s1: no2 forecast to exceed 50 at 2026-06-01T10:00:00.000Z (peak 63.5)"));
    CHECK_EQ_INT(rule_on_forecast(&r, &st, t + 2 * HOUR_MS, 1, at, 70), RULE_NONE);
    CHECK_EQ_INT(rule_on_forecast(&r, &st, t + 2 * HOUR_MS, 0, 0, 0), RULE_NONE); /* dup ts */
    CHECK(st.active);
    CHECK_EQ_INT(rule_on_forecast(&r, &st, t + 3 * HOUR_MS, 0, 0, 40), RULE_CLEAR);
    CHECK_EQ_INT(rule_on_forecast(&r, &st, t + 4 * HOUR_MS, 0, 0, 40), RULE_NONE);
    CHECK_EQ_INT(rule_on_forecast(&r, &st, t + 5 * HOUR_MS, 1, at, 51), RULE_RAISE);
    CHECK_EQ_INT(rule_on_value(&r, &st, t + 6 * HOUR_MS, 1), RULE_NONE); /* not fed by values */
    CHECK(st.active);
    /* {at} is a placeholder of forecast rules only */
    struct rule s = mk(EX_STALE);
    snprintf(s.message, sizeof(s.message), "{at} {score}");
    rule_message(&s, &st, "e", "a", msg, sizeof(msg));
    CHECK(!strcmp(msg, "{at} {score}"));
    rule_release(&s);
    rule_release(&r);
}

static void anomaly_transitions(void)
{
    struct rule r = mk(EX_ANOMALY);
    struct rule_state st = {0};
    char msg[160];
    CHECK_EQ_INT(rule_on_score(&r, &st, 1000, 10, 5.9), RULE_NONE);
    CHECK_EQ_INT(rule_on_score(&r, &st, 2000, 120, NAN), RULE_NONE);
    CHECK_EQ_INT(rule_on_score(&r, &st, 3000, 120, 7.5), RULE_RAISE); /* >= 6 */
    CHECK(st.trigger_value == 120 && st.raised_at == 3000);
    rule_message(&r, &st, "e", NULL, msg, sizeof(msg));
    CHECK(!strcmp(msg, "e: flow 120 is anomalous (score 7.5, limit 6)"));
    CHECK_EQ_INT(rule_on_score(&r, &st, 4000, 80, 4), RULE_NONE);
    CHECK_EQ_INT(rule_on_score(&r, &st, 5000, 70, 3), RULE_NONE);    /* not under 3 */
    CHECK_EQ_INT(rule_on_score(&r, &st, 5000, 70, 0), RULE_NONE);    /* dup ts */
    CHECK_EQ_INT(rule_on_score(&r, &st, 6000, 60, 2.99), RULE_CLEAR); /* under 6/2 */
    CHECK_EQ_INT(rule_on_score(&r, &st, 7000, 60, 6), RULE_RAISE);
    CHECK_EQ_INT(rule_on_score(&r, &st, 8000, 60, -20), RULE_CLEAR);
    CHECK_EQ_INT(rule_on_value(&r, &st, 9000, 60), RULE_NONE);
    rule_release(&r);
}

static void composite_clauses_and_window(void)
{
    struct rule r = mk(EX_COMPOSITE);
    struct rule_state st = {0};
    int64_t lt[2] = {0, 0}, t = 1780000000000;
    char msg[160];
    double nation[2] = {2.395, 48.845}, away[2] = {2.35, 48.85};
    /* which clauses a series feeds */
    CHECK_EQ_INT(rule_clause_index(&r, "NoiseLevelObserved", "LAeq", 0), 0);
    CHECK_EQ_INT(rule_clause_index(&r, "NoiseLevelObserved", "LAeq", 1), -1);
    CHECK_EQ_INT(rule_clause_index(&r, "CrowdFlowObserved", "peopleCount", 0), 1);
    CHECK_EQ_INT(rule_clause_index(&r, "CrowdFlowObserved", "LAeq", 0), -1);
    CHECK_EQ_INT(rule_clause_index(&r, NULL, "LAeq", 0), -1);
    CHECK(rule_clause_holds(&r.clauses[0], 70.1) && !rule_clause_holds(&r.clauses[0], 70));
    CHECK(rule_clause_holds(&r.clauses[1], 100) && !rule_clause_holds(&r.clauses[1], 99));
    CHECK(!rule_clause_holds(&r.clauses[1], NAN));
    CHECK(rule_matches(&r, "NoiseLevelObserved", "n1", "LAeq", NULL, 0, nation));
    CHECK(rule_matches(&r, "CrowdFlowObserved", "c1", "peopleCount", NULL, 0, nation));
    CHECK(!rule_matches(&r, "CrowdFlowObserved", "c1", "peopleCount", NULL, 0, away));
    CHECK(!rule_matches(&r, "CrowdFlowObserved", "c1", "peopleCount", NULL, 0, NULL));
    CHECK(!rule_matches(&r, "NoiseLevelObserved", "n1", "LAmax", NULL, 0, nation));
    CHECK(!rule_matches(&r, "Other", "n1", "LAeq", NULL, 0, nation));
    /* the state machine */
    CHECK_EQ_INT(rule_on_composite(&r, &st, t, lt), RULE_NONE);
    lt[0] = t;
    CHECK_EQ_INT(rule_on_composite(&r, &st, t, lt), RULE_NONE);
    CHECK_EQ_INT(st.u.held, 1);
    lt[1] = t + 4 * MIN_MS;
    CHECK_EQ_INT(rule_on_composite(&r, &st, t + 4 * MIN_MS, lt), RULE_RAISE);
    CHECK(st.active && st.raised_at == t + 4 * MIN_MS);
    rule_message(&r, &st, "", NULL, msg, sizeof(msg));
    CHECK(!strcmp(msg, "Nation: LAeq > 70 and peopleCount >= 100 within 10m"));
    CHECK_EQ_INT(rule_on_composite(&r, &st, t + 10 * MIN_MS, lt), RULE_NONE); /* 10 min: held */
    CHECK_EQ_INT(rule_on_composite(&r, &st, t + 10 * MIN_MS + 1, lt), RULE_CLEAR);
    lt[0] = t + 12 * MIN_MS;
    lt[1] = t + 11 * MIN_MS;
    CHECK_EQ_INT(rule_on_composite(&r, &st, t + 12 * MIN_MS, lt), RULE_RAISE);
    CHECK_EQ_INT(rule_on_composite(&r, &st, t + 15 * MIN_MS, lt), RULE_NONE);
    CHECK_EQ_INT(rule_on_composite(&r, &st, t + 30 * MIN_MS, lt), RULE_CLEAR);
    CHECK_EQ_INT(rule_on_composite(&r, &st, t + 30 * MIN_MS, NULL), RULE_NONE);
    CHECK_EQ_INT(rule_on_value(&r, &st, t + 31 * MIN_MS, 80), RULE_NONE);
    rule_release(&r);
    /* target.type narrows the series; ids too */
    r = mk("{\"id\":\"c\",\"kind\":\"composite\",\"target\":{\"type\":\"N\",\"ids\":[\"n1\",\"n2\"],"
           "\"area\":{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,0]]]}},"
           "\"condition\":{\"all\":[{\"type\":\"N\",\"attr\":\"x\",\"op\":\"<\",\"value\":1},"
           "{\"type\":\"N\",\"attr\":\"x\",\"op\":\"<=\",\"value\":-1}],\"window\":\"1m\"}}");
    double p[2] = {0.5, 0.2};
    CHECK(rule_matches(&r, "N", "n2", "x", NULL, 0, p));
    CHECK(!rule_matches(&r, "N", "n3", "x", NULL, 0, p));
    CHECK_EQ_INT(rule_clause_index(&r, "N", "x", 1), 1); /* both clauses on one series */
    CHECK(rule_clause_holds(&r.clauses[1], -1) && !rule_clause_holds(&r.clauses[1], -0.5));
    rule_release(&r);
}

int main(void)
{
    TEST_BEGIN("rule_test");
    TEST_RUN(parses_threshold_example);
    TEST_RUN(parses_other_kinds_with_defaults);
    TEST_RUN(refuses_bad_rules);
    TEST_RUN(random_rules_round_trip);
    TEST_RUN(threshold_hysteresis_and_duration);
    TEST_RUN(out_of_order_duplicates_and_nan_are_ignored);
    TEST_RUN(stale_raises_on_tick_and_clears_on_value);
    TEST_RUN(stale_on_cadence);
    TEST_RUN(stuck_needs_repeats_and_duration);
    TEST_RUN(rate_raises_and_clears);
    TEST_RUN(threshold_never_active_below_clear);
    TEST_RUN(matches_each_criterion);
    TEST_RUN(matches_concave_polygon);
    TEST_RUN(message_expands_and_truncates);
    TEST_RUN(names_and_durations);
    TEST_RUN(parses_new_kinds_with_defaults);
    TEST_RUN(refuses_bad_new_kinds);
    TEST_RUN(nightmin_leak_raises_after_nights);
    TEST_RUN(nightmin_learning_and_missing_nights);
    TEST_RUN(nightmin_tick_closes_night);
    TEST_RUN(nightmin_dst_nights);
    TEST_RUN(dwell_parked_at_school_gate);
    TEST_RUN(dwell_passing_outside_and_silent);
    TEST_RUN(dwell_multipolygon_with_hole);
    TEST_RUN(forecast_transitions);
    TEST_RUN(anomaly_transitions);
    TEST_RUN(composite_clauses_and_window);
    return TEST_END();
}
