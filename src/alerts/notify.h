/*
** alerts/notify.h: delivery of alert changes (raised, acknowledged, resolved, escalated) to
** external receivers: webhooks (HTTP POST signed with HMAC-SHA256), MQTT topics and e-mail
** through an SMTP relay. docs/notifications.md describes the keys, payloads and retry policy.
** Owns: one bounded queue and one thread per receiver, the copies of the posted alerts, the
** libcurl / libmosquitto handles of each receiver, and a copy of the configuration (secrets
** included; wiped on notify_free).
** Borrows: nothing after a call returns (notify_post copies its arguments).
** Thread: notify_post and notify_get_stats / notify_receivers are thread-safe and never do I/O;
** notify_config_line is for the config parser (one thread). The caller must have run
** curl_global_init() and mosquitto_lib_init() before notify_open (notify_open calls both again,
** which is harmless: both libraries count their initialisations).
*/
#ifndef VG_ALERTS_NOTIFY_H
#define VG_ALERTS_NOTIFY_H

#include "core/buf.h"

#include <stddef.h>
#include <stdint.h>

#define NOTIFY_MAX_RECEIVERS 16
#define NOTIFY_MAX_TO 8          /* recipients of one smtp receiver */
#define NOTIFY_URL_MAX 1024      /* webhook URL, smtp URL */
#define NOTIFY_NAME_MAX 256      /* host, topic, addresses, user, tenant */
#define NOTIFY_SECRET_MAX 1024   /* webhook secret, smtp password (bytes read from the file) */
#define NOTIFY_QUEUE_DEFAULT 10000
#define NOTIFY_MAX_AGE_DEFAULT_MS (24 * 3600 * 1000LL)

enum notify_kind { NOTIFY_WEBHOOK = 0, NOTIFY_MQTT = 1, NOTIFY_SMTP = 2 };

enum notify_starttls { NOTIFY_STARTTLS_TRY = 0, NOTIFY_STARTTLS_REQUIRED = 1, NOTIFY_STARTTLS_NO = 2 };

struct notify_receiver_config {
    enum notify_kind kind;
    int min_severity;                /* 0 informational .. 4 critical; lower ones are not queued */
    char tenant[NOTIFY_NAME_MAX];    /* "" = every tenant */
    char url[NOTIFY_URL_MAX];        /* webhook: http(s)://...; smtp: smtp(s)://host:port */
    char host[NOTIFY_NAME_MAX];      /* mqtt */
    int port;                        /* mqtt */
    char topic[NOTIFY_NAME_MAX];     /* mqtt: messages go to <topic>/<tenant>/<event> */
    char secret[NOTIFY_SECRET_MAX];  /* webhook HMAC key ("" = no signature header) */
    size_t secret_len;
    char from[NOTIFY_NAME_MAX];      /* smtp */
    char to[NOTIFY_MAX_TO][NOTIFY_NAME_MAX];
    uint32_t nto;
    char user[NOTIFY_NAME_MAX];      /* smtp, "" = no authentication */
    char password[NOTIFY_SECRET_MAX];
    enum notify_starttls starttls;   /* smtp:// only (smtps:// is TLS from the start) */
};

/* Plain data: zero it (or use notify_config_init) and fill it with notify_config_line. */
struct notify_config {
    struct notify_receiver_config r[NOTIFY_MAX_RECEIVERS];
    uint32_t n;
    uint32_t queue_max;      /* per receiver; 0 = NOTIFY_QUEUE_DEFAULT */
    int64_t max_age_ms;      /* a notification older than this is dropped; 0 = 24 h */
    uint32_t backoff_min_ms; /* first retry delay; 0 = 1000 */
    uint32_t backoff_max_ms; /* cap of the retry delay; 0 = 300000 */
};

void notify_config_init(struct notify_config *c);
/* Wipe the secrets held by c (sodium_memzero) and re-initialise it. */
void notify_config_release(struct notify_config *c);

/* Parse one `key = value` line of the daemon's configuration. Returns 1 if key is a notify key
** and value was parsed into c, 0 if key is not a notify key (c untouched), VG_EINVAL with the
** reason in err (c untouched) on a bad value. Keys: notify-webhook, notify-mqtt, notify-smtp,
** notify-queue-max, notify-max-age (docs/notifications.md). Secret files are read here. */
int notify_config_line(struct notify_config *c, const char *key, const char *value, char *err,
                       size_t cap);

struct notify;

/* Copy c and start one thread per receiver. Zero receivers is valid (notify_post is then a
** no-op). On error *out is not modified. */
int notify_open(const struct notify_config *c, struct notify **out);
/* Queue an alert change for every receiver whose severity and tenant filters accept it.
** tenant, event and alert_json are copied; alert_json is the alert object as JSON (it is
** embedded as is in the payload when it parses, null otherwise). Never blocks on I/O: when a
** queue is full its oldest notification is dropped (and counted). n may be NULL. */
void notify_post(struct notify *n, const char *tenant, const char *event, int severity,
                 const char *alert_json);
/* Stop the threads (within about a second even while a receiver hangs or is in backoff; the
** notifications still queued are discarded) and free everything. NULL is a no-op. */
void notify_free(struct notify *n);

/* Totals over the receivers. queued: accepted into a queue; delivered: acknowledged by the
** receiver (2xx, PUBACK, 250 after DATA); retries: failed attempts that will be retried;
** dropped: pushed out of a full queue or older than the maximum age; rejected: refused for good
** by the receiver (HTTP 4xx other than 408/429, SMTP 5xx). */
struct notify_stats {
    uint64_t queued, delivered, retries, dropped, rejected;
};
void notify_get_stats(struct notify *n, struct notify_stats *s);

/* The state of one receiver, for /metrics. */
struct notify_receiver_state {
    enum notify_kind kind;
    uint32_t index;               /* position in the configuration (0-based) */
    char target[NOTIFY_URL_MAX];  /* URL without userinfo nor query, safe to show */
    uint32_t queue_len;           /* waiting, including the one being attempted */
    int up;                       /* last attempt succeeded (MQTT: connected) */
    uint64_t queued, delivered, retries, dropped, rejected;
};
/* Fill out[0..cap) with the receivers' states; returns the number of receivers (may be > cap). */
uint32_t notify_receivers(struct notify *n, struct notify_receiver_state *out, uint32_t cap);
/* Append the receivers' states in Prometheus text format (vigie_notify_* families). */
int notify_metrics(struct notify *n, struct buf *out);

const char *notify_kind_name(enum notify_kind k);

#endif
