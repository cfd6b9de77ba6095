/*
** app/config.c: settings parsing (file and flags share config_set).
*/
#include "app/config.h"

#include "alerts/alerts.h"
#include "core/clock.h"
#include "core/vg.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void config_defaults(struct config *c, int demo)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->data, sizeof(c->data), "%s", demo ? "./demo-data" : "./vigie-data");
    snprintf(c->listen, sizeof(c->listen), "127.0.0.1:8080");
    c->auth = demo ? 0 : 1;
    c->batch_ms = 200;
    snprintf(c->log_level, sizeof(c->log_level), "info");
    c->threads = 0; /* a thread per connection: handlers block on fsync (net/http.c) */
    c->max_connections = 512;
    c->timeout_s = 30;
    c->max_body = 64u << 20;
    snprintf(c->samples, sizeof(c->samples), "../shared/data");
    c->realtime = 1;
    c->quarantine_days = 30;
    snprintf(c->sdm_contexts, sizeof(c->sdm_contexts), "../shared/datamodels/_shared/contexts");
    snprintf(c->mappings, sizeof(c->mappings), "examples/imports");
    snprintf(c->datamodels, sizeof(c->datamodels), "../shared/datamodels");
    c->max_inflight = 1ull << 30;
    c->live_max_clients = 256;
    c->alert_escalate_ms = ALERTS_ESCALATE_MS;
    c->alert_flap_window_ms = ALERTS_FLAP_WINDOW_MS;
    c->alert_flap_count = ALERTS_FLAP_COUNT;
    c->alert_entities = 1;
    notify_config_init(&c->notify);
    if (demo)
        snprintf(c->timezone, sizeof(c->timezone), "Europe/Paris");
    if (demo) { /* the demo city's public displays: noise, air quality, pools, weather */
        static const char *const pub[] = {"NoiseLevelObserved", "AirQualityObserved",
                                          "SwimmingPool", "WeatherObserved"};
        for (size_t i = 0; i < VG_ARRAY_LEN(pub); i++)
            snprintf(c->public_[c->npublic++], sizeof(c->public_[0]), "%s", pub[i]);
        c->public_defaults = 1;
    }
}

/* "TYPE" or "TYPE:attr,attr": names of [A-Za-z0-9_.-] (attributes may not be empty). */
static int public_spec_valid(const char *v)
{
    const char *colon = strchr(v, ':');
    size_t tl = colon ? (size_t)(colon - v) : strlen(v);
    if (!tl || tl > 200)
        return 0;
    for (size_t i = 0; i < tl; i++)
        if (!isalnum((unsigned char)v[i]) && !strchr("_.-", v[i]))
            return 0;
    if (!colon)
        return 1;
    const char *p = colon + 1;
    if (!*p)
        return 0;
    for (; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_.-,", *p))
            return 0;
    return !strstr(colon + 1, ",,") && v[strlen(v) - 1] != ',' && colon[1] != ',';
}

static int parse_u64(const char *v, uint64_t *out)
{
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (end == v)
        return -1;
    int shift = 0;
    if (*end == 'k' || *end == 'K')
        shift = 10, end++;
    else if (*end == 'M')
        shift = 20, end++;
    else if (*end == 'G')
        shift = 30, end++;
    if (x > (UINT64_MAX >> 31) || x == ULLONG_MAX)
        return -1; /* far beyond any sane setting; also catches strtoull overflow */
    x <<= shift;
    if (*end)
        return -1;
    *out = x;
    return 0;
}

#define COPY(field)                                                                                \
    do {                                                                                           \
        if (strlen(val) >= sizeof(c->field)) {                                                     \
            snprintf(err, cap, "value of '%s' too long", key);                                    \
            return -1;                                                                             \
        }                                                                                          \
        snprintf(c->field, sizeof(c->field), "%s", val);                                          \
        return 0;                                                                                  \
    } while (0)

int config_set(struct config *c, const char *key, const char *val, char *err, size_t cap)
{
    uint64_t u;
    if (strcmp(key, "data") == 0)
        COPY(data);
    if (strcmp(key, "listen") == 0)
        COPY(listen);
    if (strcmp(key, "samples") == 0)
        COPY(samples);
    if (strcmp(key, "contexts") == 0)
        COPY(contexts);
    if (strcmp(key, "mappings") == 0)
        COPY(mappings);
    if (strcmp(key, "gateway") == 0)
        COPY(gateway);
    if (strcmp(key, "datamodels") == 0)
        COPY(datamodels);
    if (strcmp(key, "max-inflight") == 0) {
        if (parse_u64(val, &u) || u < (1u << 20)) {
            snprintf(err, cap, "max-inflight takes a size of at least 1M (k, M, G suffixes)");
            return -1;
        }
        c->max_inflight = u;
        return 0;
    }
    if (strcmp(key, "sdm-contexts") == 0)
        COPY(sdm_contexts);
    if (strcmp(key, "rules") == 0)
        COPY(rules);
    if (strcmp(key, "anomaly") == 0) {
        struct config_anomaly a;
        memset(&a, 0, sizeof(a));
        char extra[2][32];
        int n = sscanf(val, "%127[A-Za-z0-9_.-]:%199[A-Za-z0-9_.,-] %31s %31s", a.type, a.attrs,
                       extra[0], extra[1]);
        int ok = n >= 2 && c->nanomaly < CONFIG_MAX_ANOMALY && strlen(val) < 256;
        for (int i = 0; ok && i < n - 2; i++) {
            char *end;
            double x = strtod(extra[i] + 6, &end);
            ok = !*end && x > 0;
            if (!strncmp(extra[i], "score=", 6))
                a.score = x;
            else if (!strncmp(extra[i], "weeks=", 6))
                a.weeks = (uint32_t)x;
            else
                ok = 0;
        }
        if (!ok) {
            snprintf(err, cap, "anomaly takes TYPE:attr[,attr...] [score=S] [weeks=W] (at most %d "
                               "lines)", CONFIG_MAX_ANOMALY);
            return -1;
        }
        c->anomaly[c->nanomaly++] = a;
        return 0;
    }
    if (strcmp(key, "timezone") == 0) {
        if (*val && (strlen(val) >= sizeof(c->timezone) || strstr(val, "..") || *val == '/' ||
                     strspn(val, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                 "0123456789/_+-") != strlen(val))) {
            snprintf(err, cap, "timezone takes a zone name such as Europe/Paris");
            return -1;
        }
        COPY(timezone);
    }
    if (strcmp(key, "alert-escalate-after") == 0 || strcmp(key, "alert-flap-window") == 0) {
        int64_t ms;
        if (clock_parse_duration(val, &ms) || ms < 0 || ms > 366LL * 86400000) {
            snprintf(err, cap, "%s takes a duration such as 30m, 1h, 2d (0 = off)", key);
            return -1;
        }
        if (key[6] == 'e')
            c->alert_escalate_ms = ms;
        else
            c->alert_flap_window_ms = ms;
        return 0;
    }
    if (strcmp(key, "alert-flap-count") == 0) {
        if (parse_u64(val, &u) || u > 16 || u == 1) {
            snprintf(err, cap, "alert-flap-count takes 0 (off) or 2..16 transitions");
            return -1;
        }
        c->alert_flap_count = (uint32_t)u;
        return 0;
    }
    if (strcmp(key, "alert-entities") == 0) {
        if (strcmp(val, "on") && strcmp(val, "off")) {
            snprintf(err, cap, "alert-entities takes on or off");
            return -1;
        }
        c->alert_entities = !strcmp(val, "on");
        return 0;
    }
    if (strncmp(key, "notify-", 7) == 0) {
        int r = notify_config_line(&c->notify, key, val, err, cap);
        if (r == 1)
            return 0;
        if (r < 0)
            return -1;
    }
    if (strcmp(key, "public") == 0) {
        if (c->public_defaults) {
            c->npublic = 0;
            c->public_defaults = 0;
        }
        if (!public_spec_valid(val)) {
            snprintf(err, cap, "public takes TYPE or TYPE:attr,attr (names of letters, digits, "
                               "'_', '.', '-')");
            return -1;
        }
        if (c->npublic == CONFIG_MAX_PUBLIC) {
            snprintf(err, cap, "at most %d public lines", CONFIG_MAX_PUBLIC);
            return -1;
        }
        snprintf(c->public_[c->npublic++], sizeof(c->public_[0]), "%s", val);
        return 0;
    }
    if (strcmp(key, "public-tenant") == 0)
        COPY(public_tenant);
    if (strcmp(key, "web-dir") == 0)
        COPY(web_dir);
    if (strcmp(key, "map-tiles") == 0) {
        if (*val && strncmp(val, "https://", 8) && strncmp(val, "http://", 7)) {
            snprintf(err, cap, "map-tiles takes an http(s) URL template with {z}/{x}/{y}");
            return -1;
        }
        COPY(map_tiles);
    }
    if (strcmp(key, "map-attribution") == 0)
        COPY(map_attribution);
    if (strcmp(key, "live-max-clients") == 0) {
        if (parse_u64(val, &u) || u < 1 || u > 100000) {
            snprintf(err, cap, "live-max-clients takes 1 to 100000");
            return -1;
        }
        c->live_max_clients = (uint32_t)u;
        return 0;
    }
    if (strcmp(key, "error-log") == 0)
        COPY(error_log);
    if (strcmp(key, "access-log") == 0)
        COPY(access_log);
    if (strcmp(key, "log-level") == 0) {
        if (strcmp(val, "error") && strcmp(val, "warn") && strcmp(val, "info") &&
            strcmp(val, "debug")) {
            snprintf(err, cap, "log-level must be error, warn, info or debug");
            return -1;
        }
        COPY(log_level);
    }
    if (strcmp(key, "auth") == 0) {
        if (strcmp(val, "on") == 0)
            c->auth = 1;
        else if (strcmp(val, "off") == 0)
            c->auth = 0;
        else {
            snprintf(err, cap, "auth must be on or off");
            return -1;
        }
        return 0;
    }
    if (strcmp(key, "sync") == 0) {
        if (strcmp(val, "always") == 0)
            c->sync_batch = 0;
        else if (strcmp(val, "batch") == 0)
            c->sync_batch = 1;
        else {
            snprintf(err, cap, "sync must be always or batch");
            return -1;
        }
        return 0;
    }
    if (strcmp(key, "realtime") == 0) {
        c->realtime = strcmp(val, "off") != 0 && strcmp(val, "0") != 0;
        return 0;
    }
    if (strcmp(key, "id-tags") == 0) {
        char tmp[512];
        snprintf(tmp, sizeof(tmp), "%s", val);
        c->nid_tags = 0;
        for (char *save = NULL, *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (c->nid_tags >= CONFIG_MAX_ID_TAGS || strlen(t) >= 64) {
                snprintf(err, cap, "id-tags: at most %d names of < 64 bytes", CONFIG_MAX_ID_TAGS);
                return -1;
            }
            snprintf(c->id_tags[c->nid_tags++], 64, "%s", t);
        }
        return 0;
    }
    if (strcmp(key, "retention") == 0) {
        struct config_retention r;
        char days[32];
        memset(&r, 0, sizeof(r));
        if (c->nretention >= CONFIG_MAX_RETENTION ||
            sscanf(val, "%63s %127s %31s", r.tenant, r.type, days) != 3 ||
            parse_u64(days, &u) || u == 0 || u > 36500) {
            snprintf(err, cap, "retention takes 'TENANT TYPE DAYS' (TYPE may be *, DAYS 1..36500), at most %d",
                     CONFIG_MAX_RETENTION);
            return -1;
        }
        r.keep_ms = (int64_t)u * 86400000;
        c->retention[c->nretention++] = r;
        return 0;
    }
    struct {
        const char *k;
        uint64_t lo, hi;
    } nums[] = {{"batch-ms", 1, 60000},       {"threads", 0, 256},
                {"max-connections", 1, 65536}, {"timeout", 1, 3600},
                {"max-body", 1024, 1ull << 31}, {"quarantine-days", 1, 36500}};
    for (size_t i = 0; i < VG_ARRAY_LEN(nums); i++) {
        if (strcmp(key, nums[i].k) != 0)
            continue;
        if (parse_u64(val, &u) || u < nums[i].lo || u > nums[i].hi) {
            snprintf(err, cap, "%s must be a number in %llu..%llu", key,
                     (unsigned long long)nums[i].lo, (unsigned long long)nums[i].hi);
            return -1;
        }
        switch (i) {
        case 0: c->batch_ms = (uint32_t)u; break;
        case 1: c->threads = (uint32_t)u; break;
        case 2: c->max_connections = (uint32_t)u; break;
        case 3: c->timeout_s = (uint32_t)u; break;
        case 4: c->max_body = u; break;
        case 5: c->quarantine_days = (uint32_t)u; break;
        }
        return 0;
    }
    snprintf(err, cap, "unknown setting '%s'", key);
    return -1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

int config_load(struct config *c, const char *path, char *err, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, cap, "cannot open config '%s'", path);
        return -1;
    }
    char line[1024], msg[256];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, cap, "%s:%d: expected 'key = value'", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        if (config_set(c, trim(s), trim(eq + 1), msg, sizeof(msg))) {
            snprintf(err, cap, "%s:%d: %s", path, lineno, msg);
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}
