/*
** alerts/rule_test.c: alert rules: parsing of every documented form and refusal (the error names
** the member), canonical JSON round trips (fixed and randomized), each kind's state machine on
** explicit sequences, target matching (tags, ids, concave polygon), message templates, and a
** property test of threshold hysteresis on random sequences.
*/
#include "alerts/rule.h"
#include "core/buf.h"
#include "core/test.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

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
    return r.ids == NULL && r.nids == 0 && r.poly == NULL && r.nwhere == 0;
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

static void random_rules_round_trip(void)
{
    int parsed = 0;
    for (int iter = 0; iter < 3000; iter++) {
        struct buf b;
        struct rule r;
        char err[256];
        int kind = 1 + rndn(4);
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
        buf_puts(&b, "\"type\":\"T\"");
        if (kind != RULE_STALE || rndn(2))
            buf_puts(&b, ",\"attr\":\"a\"");
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
        if (rndn(2)) {
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
        }
        buf_puts(&b, "}}");
        if (rule_parse(b.p, b.len, &r, err, sizeof(err)) == 0) {
            parsed++;
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
    CHECK(!strcmp(out, "e1: no new rh value for more than 2h"));
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
    TEST_RUN(stuck_needs_repeats_and_duration);
    TEST_RUN(rate_raises_and_clears);
    TEST_RUN(threshold_never_active_below_clear);
    TEST_RUN(matches_each_criterion);
    TEST_RUN(matches_concave_polygon);
    TEST_RUN(message_expands_and_truncates);
    TEST_RUN(names_and_durations);
    return TEST_END();
}
