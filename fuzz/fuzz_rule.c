/*
** fuzz/fuzz_rule.c: libFuzzer target for alert rules (alerts/rule.c). Checks the contract:
** rule_parse never crashes; a refusal has a message and leaves nothing owned; a parsed rule's
** canonical JSON parses back and prints the same bytes; the state machines, matching and the
** message template run on values, timestamps and points derived from the input without a crash,
** and threshold never stays active after an accepted value at or past clear. Every kind is fed
** through its own entry point (rule_on_value, rule_on_position, rule_on_forecast, rule_on_score,
** rule_on_composite); a RAISE always leaves the state active and a CLEAR inactive; nightmin's
** ring stays within its window. Runs in TZ=Europe/Paris so that nights cross DST changes.
** Owns: a copy of the input in an exact-size heap buffer (so ASan sees any overread).
*/
#include "alerts/rule.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("TZ", "Europe/Paris", 1);
    tzset();
    return 0;
}

/* One step of the kinds that are not fed by plain values. */
static enum rule_event feed_other(const struct rule *r, struct rule_state *st, int64_t ts,
                                  const uint8_t *d, size_t size, size_t i, double v)
{
    switch (r->kind) {
    case RULE_DWELL: {
        /* positions around the geofence's bounding box, so that some fall inside */
        double w = r->geo_bbox[2] - r->geo_bbox[0], h = r->geo_bbox[3] - r->geo_bbox[1];
        double lon = r->geo_bbox[0] - w * 0.1 + w * 1.2 * d[i + 1] / 255.0;
        double lat = r->geo_bbox[1] - h * 0.1 + h * 1.2 * d[i + 2] / 255.0;
        if (d[i + 3] == 0xfc)
            lon = NAN;
        return rule_on_position(r, st, ts, lon, lat);
    }
    case RULE_FORECAST:
        return rule_on_forecast(r, st, ts, d[i + 1] & 1, ts + (int64_t)d[i + 2] * 60000, v);
    case RULE_ANOMALY:
        return rule_on_score(r, st, ts, v, (int8_t)d[i + 1] / 8.0);
    case RULE_COMPOSITE: {
        int64_t lt[RULE_MAX_CLAUSES];
        for (uint32_t c = 0; c < r->nclauses; c++) {
            uint8_t b = d[(i + c) % size];
            lt[c] = (b & 1) ? ts - (int64_t)(b >> 1) * 60000 : 0;
        }
        return rule_on_composite(r, st, ts, lt);
    }
    default:
        return RULE_NONE;
    }
}

static void exercise(const struct rule *r, const uint8_t *data, size_t size)
{
    struct rule_state st;
    int64_t ts = 1700000000000;
    char msg[64];
    memset(&st, 0, sizeof(st));
    for (size_t i = 0; i + 4 <= size && i < 4096; i += 4) {
        int8_t dt = (int8_t)data[i];
        int16_t raw = (int16_t)(data[i + 1] | (data[i + 2] << 8));
        double v = data[i + 3] == 0xff ? NAN : raw / 4.0;
        enum rule_event ev;
        ts += (int64_t)dt * 60000;
        if (data[i + 3] == 0xfe)
            ts = (data[i] & 1) ? INT64_MAX : INT64_MIN;
        int accepted = !isnan(v) && (!st.has_last || ts > st.last_ts);
        if (data[i + 3] == 0xfd) {
            ev = rule_on_tick(r, &st, ts);
        } else if (r->kind == RULE_DWELL || r->kind == RULE_FORECAST || r->kind == RULE_ANOMALY ||
                   r->kind == RULE_COMPOSITE) {
            ev = feed_other(r, &st, ts, data, size, i, v);
            if (rule_on_value(r, &st, ts, v) != RULE_NONE) /* never fed by values */
                abort();
        } else {
            ev = rule_on_value(r, &st, ts, v);
            if (!accepted && ev != RULE_NONE)
                abort();
            if (accepted && r->kind == RULE_THRESHOLD && st.active &&
                (r->op == '>' ? v <= r->clear : v >= r->clear))
                abort();
        }
        if (ev == RULE_RAISE && !st.active)
            abort();
        if (ev == RULE_CLEAR && st.active)
            abort();
        if (r->kind == RULE_NIGHTMIN &&
            (st.u.night.count > r->window || st.u.night.head >= r->window))
            abort();
        if (ev == RULE_RAISE)
            rule_message(r, &st, "urn:e", "a", msg, (size_t)(data[i] % sizeof(msg)));
    }
    double p[2] = {size ? data[0] * 360.0 / 255 - 180 : 0,
                   size > 1 ? data[1] * 180.0 / 255 - 90 : 0};
    rule_matches(r, r->type, r->nids ? r->ids[0] : "e", r->attr, r->where, r->nwhere, p);
    rule_matches(r, "T", "e", "a", NULL, 0, NULL);
    if (r->kind == RULE_COMPOSITE) {
        const struct rule_clause *c0 = &r->clauses[0];
        int k = rule_clause_index(r, c0->type, c0->attr, 0);
        /* the area's first vertex is on its boundary, so inside */
        if (k != 0 || (r->enabled && !rule_matches(r, c0->type, r->nids ? r->ids[0] : "e",
                                                   c0->attr, r->where, r->nwhere, r->poly)))
            abort();
        rule_clause_holds(&r->clauses[k], p[0]);
    }
    rule_message(r, &st, NULL, NULL, msg, sizeof(msg));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size ? size : 1);
    char err[256];
    struct rule r, r2;
    if (!in)
        return 0;
    memcpy(in, data, size);
    if (rule_parse(in, size, &r, err, sizeof(err))) {
        if (!err[0] || r.ids || r.nids || r.poly || r.npoly || r.nwhere)
            abort();
        free(in);
        return 0;
    }
    char *j1 = rule_to_json(&r);
    if (rule_parse(j1, strlen(j1), &r2, err, sizeof(err)))
        abort();
    char *j2 = rule_to_json(&r2);
    if (strcmp(j1, j2))
        abort();
    exercise(&r, data, size);
    free(j1);
    free(j2);
    rule_release(&r2);
    rule_release(&r);
    free(in);
    return 0;
}
