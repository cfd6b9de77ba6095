/*
** app/config.h: settings of the vigie binary: defaults, then the --config file, then flags.
** Owns: struct config and the strings in it.
** File format (docs/configuration.md): one "key = value" per line, '#' comments; keys are the
** long flag names without "--" (data, listen, auth, sync, ...); "retention = TENANT TYPE DAYS"
** may repeat (TYPE "*" = every type of the tenant).
*/
#ifndef VG_APP_CONFIG_H
#define VG_APP_CONFIG_H

#include "alerts/notify.h" /* struct notify_config: notify-* keys */

#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_RETENTION 64
#define CONFIG_MAX_ID_TAGS 8
#define CONFIG_MAX_PUBLIC 64
#define CONFIG_MAX_ANOMALY 32

struct config_retention {
    char tenant[64];
    char type[128]; /* "*" = any */
    int64_t keep_ms;
};

struct config {
    char data[512];
    char listen[128];
    int auth;            /* 1 on, 0 off */
    int sync_batch;      /* 0: fsync before ack (default); 1: batched */
    uint32_t batch_ms;
    char log_level[16];
    char error_log[512];
    char access_log[512];
    uint32_t threads;
    uint32_t max_connections;
    uint32_t timeout_s;
    uint64_t max_body;
    char samples[512];   /* demo: real data samples directory */
    int realtime;        /* demo: keep generating live data */
    char id_tags[CONFIG_MAX_ID_TAGS][64];
    uint32_t nid_tags;
    struct config_retention retention[CONFIG_MAX_RETENTION];
    uint32_t nretention;
    char mappings[512];     /* import mappings directory (POST /api/v1/imports) */
    char contexts[512];     /* NGSI-LD: DIR with manifest.tsv (URL<TAB>FILE) to preload, or "" */
    char sdm_contexts[512]; /* Smart Data Models subject contexts to preload ("" = none) */
    uint32_t quarantine_days; /* quarantined input older than this is purged (default 30) */
    char gateway[512];      /* gateway file: MQTT brokers, sources, rules (docs/sources.md) */
    char datamodels[512];   /* Smart Data Models schemas for validation ("" = none) */
    uint64_t max_inflight;  /* bytes of write bodies being stored at once; beyond: 503 */
    /* web application and public data (docs/web.md) */
    char public_[CONFIG_MAX_PUBLIC][256]; /* "TYPE" or "TYPE:attr,attr" anyone may read */
    uint32_t npublic;
    int public_defaults;    /* public_ holds the demo's defaults (a `public` line replaces them) */
    char public_tenant[64]; /* tenant of the public data ("" = the default tenant) */
    char web_dir[512];      /* serve the web application from this directory ("" = embedded) */
    char map_tiles[512];    /* raster tile URL template, "" = the schematic offline base map */
    char map_attribution[256];
    uint32_t live_max_clients; /* concurrent GET /api/v1/live streams (default 256) */
    /* alerts (docs/alerts.md) */
    char rules[512];        /* JSON file of rules for the default tenant, applied at start */
    struct config_anomaly {   /* "anomaly = TYPE:attr,attr [score=S] [weeks=W]": anomaly */
        char type[128];       /* detection without writing a rule */
        char attrs[200];      /* comma-separated */
        double score;         /* 0 = the rule's default */
        uint32_t weeks;       /* 0 = the rule's default */
    } anomaly[CONFIG_MAX_ANOMALY];
    uint32_t nanomaly;
    char timezone[64];      /* the city's time zone (night windows, hours of the week); "" =
                               the process's TZ; the demo: Europe/Paris */
    int64_t alert_escalate_ms;    /* alert-escalate-after (0 = never) */
    int64_t alert_flap_window_ms; /* alert-flap-window */
    uint32_t alert_flap_count;    /* alert-flap-count (0 = no flapping detection) */
    int alert_entities;     /* alert-entities: alerts as NGSI-LD Alert entities (default on) */
    struct notify_config notify; /* notify-webhook, notify-mqtt, notify-smtp, ... */
};

/* Defaults for `serve` (demo = 0) or `demo` (demo = 1). */
void config_defaults(struct config *c, int demo);
/* Apply one setting; returns 0 or -1 with a message in err. */
int config_set(struct config *c, const char *key, const char *val, char *err, size_t cap);
/* Read a config file; returns 0 or -1 with "file:line: message" in err. */
int config_load(struct config *c, const char *path, char *err, size_t cap);

#endif
