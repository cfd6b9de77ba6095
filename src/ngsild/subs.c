/*
** ngsild/subs.c: NGSI-LD subscriptions and notifications (ETSI GS CIM 009 cl. 5.8, 5.11,
** 6.10-6.11).
** Owns: struct subs: the subscriptions of every tenant (a list in creation order), the
** per-endpoint notification queues, the worker threads that deliver them (HTTP with libcurl,
** MQTT with libmosquitto, one client per broker), the housekeeping thread (journal of undelivered
** notifications, status persistence, throttling windows, periodic notifications).
** Borrows: meta (documents "subscription" and "notification"), the @context registry, the entity
** store (periodic notifications only).
**
** Flow of a change:
**   entstore_batch_finish -> subs_on_change (request thread): match every subscription of the
**   tenant, render the notification (subscription's @context and format) -> enqueue on the
**   endpoint's queue + journal "add" op -> worker: deliver (timeout 5 s) -> journal "delete" op.
**   The housekeeping thread commits the journal (one meta transaction per batch), so the request
**   thread never waits for SQLite nor for a receiver.
** Endpoint states (one in-flight notification per endpoint, so order is kept):
**   IDLE -> BUSY [worker_main picks it] -> IDLE [delivered: next one at once]
**                                       -> BACKOFF [failed: 1 s, 2 s, ... 60 s] -> IDLE (time)
** A dead endpoint holds at most one worker for at most 5 s per attempt; the others keep serving.
** Locks: mu guards everything in memory; wmu serialises the writes of subscription documents
** (so a status write can never resurrect a deleted subscription). Order: wmu before mu.
** Stored subscription document: the payload as validated by subs_parse (names expanded), plus
** "@context" (the creation context as given), "createdAt", "modifiedAt" and "_st" (status).
*/
#include "ngsild/subs.h"

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "ngsild/entity.h"
#include "ngsild/entstore.h"
#include "ngsild/geo.h"
#include "ngsild/qlang.h"

#include <curl/curl.h>
#include <mosquitto.h>
#include <pthread.h>
#include <regex.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NWORKERS 8
#define HTTP_TIMEOUT_MS 5000
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
#define JOURNAL_MAX 200000
#define SUB_NAME_MAX 1024 /* attribute and type names, as given and expanded */
#define PERIODIC_MAX 10000
#define CORE_LINK_FMT \
    "<%s>; rel=\"http://www.w3.org/ns/json-ld#context\"; type=\"application/ld+json\""

enum trig {
    T_ENT_CREATED = 1 << 0, T_ENT_UPDATED = 1 << 1, T_ENT_DELETED = 1 << 2,
    T_ATTR_CREATED = 1 << 3, T_ATTR_UPDATED = 1 << 4, T_ATTR_DELETED = 1 << 5
};
static const char *const trig_names[] = {"entityCreated",    "entityUpdated",
                                         "entityDeleted",    "attributeCreated",
                                         "attributeUpdated", "attributeDeleted"};
#define T_DEFAULT (T_ENT_CREATED | T_ENT_UPDATED | T_ATTR_CREATED | T_ATTR_UPDATED)

struct sel {
    const char *type; /* expanded IRI (borrowed from doc) */
    const char *id;
    regex_t re;
    int has_re;
};

/* One subscription. The configuration is immutable once built (PATCH builds a new one and
** carries the status over); the status members are guarded by subs->mu. */
struct sub {
    struct sub *next;
    int refs;
    int removed;
    char tenant[64];
    const char *id; /* in doc */
    json_t *doc;
    struct ldctx *ctx;
    struct sel *sel;
    uint32_t nsel;
    const json_t *watched; /* in doc, or NULL */
    struct qexpr *q;
    struct scopeq *scopeq;
    struct geo_shape *geom;
    struct georel georel;
    const char *geoprop;
    json_t *pick; /* id, type + notification.attributes, or NULL */
    enum entity_format fmt;
    int sys_attrs;
    const char *lang;
    const char *uri;
    int mqtt, qos, accept_ld;
    char ep_key[1100];
    char topic[512];
    char link[1200];
    unsigned trig;
    int64_t throttle_ms, interval_ms, expires_ms;
    int active;
    int64_t created_ms;
    /* status */
    uint64_t times_sent;
    int64_t last_notif, last_ok, last_fail, last_sent;
    int failing;
    json_t *pending; /* throttled: id -> [new or null, old or null] */
    int64_t pending_due;
    int64_t next_periodic;
    int dirty;
};

struct notif {
    struct notif *next;
    char tenant[64];
    char doc_id[48];
    json_t *d; /* {"seq","sub","ep","uri","mqtt","qos","topic","headers":[..],"body":text} */
    int attempts;
    uint64_t seq;
};

struct mqttc {
    struct mosquitto *m;
    atomic_int connected;
};

struct endpoint {
    struct endpoint *next;
    char key[1100];
    int mqtt;
    struct notif *head, *tail;
    uint32_t n;
    int busy;
    int64_t next_ms;
    int64_t backoff_ms;
    uint64_t dropped;
    struct mqttc *mq;
};

struct jop {
    char kind[16];
    char tenant[64];
    char id[48];
    char *doc; /* NULL: delete */
    size_t len;
};

struct subs {
    struct meta *m;
    struct ldctx_reg *reg;
    struct entstore *es;
    pthread_mutex_t mu, wmu;
    pthread_cond_t wcond, hcond;
    struct sub *head;
    uint32_t nsubs;
    struct endpoint *eps;
    struct jop *jops;
    uint32_t njops, capjops;
    uint64_t seq;
    atomic_int stop;
    int workers_done;
    pthread_t workers[NWORKERS];
    int nworkers;
    pthread_t hk;
    int hk_running;
    struct subs_stats stats;
};

/* ---- small helpers --------------------------------------------------------------------------- */

static int errf(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int errf(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && cap)
        vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return VG_EINVAL;
}


static char *json_text(const json_t *v, size_t *len)
{
    struct buf b;
    buf_init(&b, 0);
    entity_json_write(&b, v);
    if (!b.p)
        buf_puts(&b, "");
    return buf_detach(&b, len);
}

static void rand_hex(char *out, size_t nbytes)
{
    unsigned char r[16];
    if (nbytes > sizeof(r))
        nbytes = sizeof(r);
    randombytes_buf(r, nbytes);
    for (size_t i = 0; i < nbytes; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
}

static void fmt_time(int64_t ms, char *out, size_t cap)
{
    clock_format_rfc3339(ms, out, cap);
}

static int64_t secs_ms(const json_t *v)
{
    return (int64_t)(json_number_value(v) * 1000.0 + 0.5);
}

/* Split an endpoint URI: scheme (0 http, 1 https, 2 mqtt), host, port, path. */
static int uri_split(const char *uri, int *scheme, char *host, size_t hcap, int *port, char *path,
                     size_t pcap)
{
    const char *p;
    if (!strncmp(uri, "http://", 7)) {
        *scheme = 0;
        p = uri + 7;
        *port = 80;
    } else if (!strncmp(uri, "https://", 8)) {
        *scheme = 1;
        p = uri + 8;
        *port = 443;
    } else if (!strncmp(uri, "mqtt://", 7)) {
        *scheme = 2;
        p = uri + 7;
        *port = 1883;
    } else {
        return -1;
    }
    const char *at = strchr(p, '@');
    const char *slash = strchr(p, '/');
    if (at && (!slash || at < slash))
        p = at + 1; /* user:password@ */
    size_t hl = strcspn(p, ":/?#");
    if (hl == 0 || hl >= hcap)
        return -1;
    memcpy(host, p, hl);
    host[hl] = '\0';
    p += hl;
    if (*p == ':') {
        char *end;
        long v = strtol(p + 1, &end, 10);
        if (end == p + 1 || v <= 0 || v > 65535)
            return -1;
        *port = (int)v;
        p = end;
    }
    if (*p && *p != '/' && *p != '?' && *p != '#')
        return -1;
    if (strlen(p) >= pcap)
        return -1;
    snprintf(path, pcap, "%s", p);
    for (const char *c = uri; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return -1;
    return 0;
}

static int header_token_ok(const char *s)
{
    if (!*s || strlen(s) > 256)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *s)))
            return 0;
    return 1;
}

static int header_value_ok(const char *s)
{
    if (strlen(s) > 4096)
        return 0;
    for (; *s; s++)
        if (*s == '\r' || *s == '\n' || *s == '\0')
            return 0;
    return 1;
}

static const char *q_expand(void *ctx, const char *term)
{
    return ctx ? ldctx_expand((struct ldctx *)ctx, term) : term;
}

/* ---- validation (subs_parse) ----------------------------------------------------------------- */

static int name_list(const json_t *v, const char *member, struct ldctx *ctx, json_t **out,
                     char *err, size_t cap)
{
    if (!json_is_array(v) || json_array_size(v) == 0)
        return errf(err, cap, "%s: expected a non-empty array of attribute names", member);
    if (json_array_size(v) > 1024)
        return errf(err, cap, "%s: at most 1024 names", member);
    json_t *a = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
        const char *n = json_string_value(x);
        const char *iri = n && *n && strlen(n) <= SUB_NAME_MAX ? ldctx_expand(ctx, n) : NULL;
        if (!iri || strlen(iri) > SUB_NAME_MAX) {
            json_decref(a);
            return errf(err, cap, "%s[%zu]: expected a non-empty name (at most %d bytes "
                        "expanded)", member, i, SUB_NAME_MAX);
        }
        json_array_append_new(a, json_string(iri));
    }
    *out = a;
    return 0;
}

static int kv_list(const json_t *v, const char *member, json_t **out, char *err, size_t cap)
{
    if (!json_is_array(v))
        return errf(err, cap, "%s: expected an array of {key, value}", member);
    if (json_array_size(v) > 64)
        return errf(err, cap, "%s: at most 64 items", member);
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
        const char *k = json_string_value(json_object_get(x, "key"));
        const char *val = json_string_value(json_object_get(x, "value"));
        if (!json_is_object(x) || !k || !val)
            return errf(err, cap, "%s[%zu]: expected {\"key\": string, \"value\": string}",
                        member, i);
        if (!header_token_ok(k))
            return errf(err, cap, "%s[%zu].key: '%s' is not a valid header name", member, i, k);
        if (!header_value_ok(val))
            return errf(err, cap, "%s[%zu].value: control characters are not allowed", member, i);
    }
    *out = json_deep_copy(v);
    return 0;
}

static int parse_endpoint(const json_t *ep, json_t *out, char *err, size_t cap)
{
    if (!json_is_object(ep))
        return errf(err, cap, "notification.endpoint: expected an object");
    const char *uri = json_string_value(json_object_get(ep, "uri"));
    if (!uri)
        return errf(err, cap, "notification.endpoint.uri: required, a string");
    char host[256], path[512];
    int scheme, port;
    if (strlen(uri) > 1024 ||
        uri_split(uri, &scheme, host, sizeof(host), &port, path, sizeof(path)))
        return errf(err, cap, "notification.endpoint.uri: '%.200s' is not an http://, https:// "
                    "or mqtt://host[:port]/topic URI", uri);
    if (scheme == 2 && (strlen(path) < 2 || strchr(path, '+') || strchr(path, '#')))
        return errf(err, cap, "notification.endpoint.uri: an mqtt URI needs a topic without "
                    "wildcards");
    json_object_set_new(out, "uri", json_string(uri));
    json_t *acc = json_object_get(ep, "accept");
    if (acc) {
        const char *a = json_string_value(acc);
        if (!a || (strcmp(a, "application/json") && strcmp(a, "application/ld+json")))
            return errf(err, cap, "notification.endpoint.accept: expected application/json or "
                        "application/ld+json");
        json_object_set_new(out, "accept", json_string(a));
    }
    static const char *const kvs[] = {"receiverInfo", "notifierInfo"};
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(ep, kvs[i]), *c = NULL;
        char m[64];
        snprintf(m, sizeof(m), "notification.endpoint.%s", kvs[i]);
        if (!v)
            continue;
        if (kv_list(v, m, &c, err, cap))
            return VG_EINVAL;
        json_object_set_new(out, kvs[i], c);
    }
    json_t *ni = json_object_get(out, "notifierInfo");
    size_t i;
    json_t *x;
    json_array_foreach(ni, i, x) {
        if (!strcmp(json_string_value(json_object_get(x, "key")), "MQTT-QoS")) {
            const char *q = json_string_value(json_object_get(x, "value"));
            if (strcmp(q, "0") && strcmp(q, "1") && strcmp(q, "2"))
                return errf(err, cap, "notification.endpoint.notifierInfo[%zu].value: MQTT-QoS is "
                            "0, 1 or 2", i);
        }
    }
    return 0;
}

static int parse_notification(const json_t *n, struct ldctx *ctx, int fragment, json_t *out,
                              char *err, size_t cap)
{
    if (!json_is_object(n))
        return errf(err, cap, "notification: required, an object");
    json_t *v;
    if ((v = json_object_get(n, "attributes"))) {
        json_t *a = NULL;
        if (name_list(v, "notification.attributes", ctx, &a, err, cap))
            return VG_EINVAL;
        json_object_set_new(out, "attributes", a);
    }
    if ((v = json_object_get(n, "format"))) {
        const char *f = json_string_value(v);
        if (!f || (strcmp(f, "normalized") && strcmp(f, "keyValues") && strcmp(f, "simplified") &&
                   strcmp(f, "concise")))
            return errf(err, cap, "notification.format: expected normalized, keyValues, "
                        "simplified or concise");
        json_object_set_new(out, "format", json_string(f));
    }
    static const char *const bools[] = {"sysAttrs", "showChanges"};
    for (size_t i = 0; i < 2; i++) {
        if ((v = json_object_get(n, bools[i]))) {
            if (!json_is_boolean(v))
                return errf(err, cap, "notification.%s: expected true or false", bools[i]);
            json_object_set(out, bools[i], v);
        }
    }
    if (fragment && !json_object_get(n, "endpoint"))
        return 0;
    json_t *ep = json_object();
    json_object_set_new(out, "endpoint", ep);
    if (!json_object_get(n, "endpoint"))
        return errf(err, cap, "notification.endpoint: required, an object with uri");
    return parse_endpoint(json_object_get(n, "endpoint"), ep, err, cap);
}

static int parse_geoq(const json_t *g, struct ldctx *ctx, json_t *out, char *err, size_t cap)
{
    if (!json_is_object(g))
        return errf(err, cap, "geoQ: expected an object {geometry, coordinates, georel}");
    const char *geom = json_string_value(json_object_get(g, "geometry"));
    json_t *coords = json_object_get(g, "coordinates");
    const char *georel = json_string_value(json_object_get(g, "georel"));
    json_t *gp = json_object_get(g, "geoproperty");
    if (!geom)
        return errf(err, cap, "geoQ.geometry: required, a string");
    if (!coords || !(json_is_array(coords) || json_is_string(coords)))
        return errf(err, cap, "geoQ.coordinates: required, an array (or its JSON text)");
    if (!georel)
        return errf(err, cap, "geoQ.georel: required, a string");
    if (gp && (!json_is_string(gp) || !json_string_length(gp) ||
               json_string_length(gp) > SUB_NAME_MAX ||
               strlen(ldctx_expand(ctx, json_string_value(gp))) > SUB_NAME_MAX))
        return errf(err, cap, "geoQ.geoproperty: expected an attribute name");
    char e2[256];
    struct georel gr;
    if (georel_parse(georel, &gr, e2, sizeof(e2)))
        return errf(err, cap, "geoQ.georel: %s", e2);
    struct geo_shape *sh = NULL;
    int rc;
    if (json_is_string(coords)) {
        rc = geo_parse_query(geom, json_string_value(coords), &sh, e2, sizeof(e2));
    } else {
        json_t *gj = json_pack("{s:s, s:O}", "type", geom, "coordinates", coords);
        rc = gj ? geo_parse_json(gj, &sh, e2, sizeof(e2)) : VG_EINVAL;
        json_decref(gj);
    }
    if (rc)
        return errf(err, cap, "geoQ: %s", e2);
    geo_free(sh);
    json_object_set_new(out, "geometry", json_string(geom));
    json_object_set(out, "coordinates", coords);
    json_object_set_new(out, "georel", json_string(georel));
    const char *gpi = gp ? ldctx_expand(ctx, json_string_value(gp)) : ENTSTORE_LOCATION_IRI;
    json_object_set_new(out, "geoproperty", json_string(gpi));
    return 0;
}

static int parse_number_pos(const json_t *v, const char *member, int allow_zero, char *err,
                            size_t cap)
{
    if (!json_is_number(v))
        return errf(err, cap, "%s: expected a number of seconds", member);
    double d = json_number_value(v);
    if (!(d > 0 || (allow_zero && d == 0)) || d > 1e9)
        return errf(err, cap, "%s: expected a positive number of seconds", member);
    return 0;
}

/* Shared by create (full) and PATCH (fragment: nothing required). stored: the input is a stored
** document (keep "_st", "createdAt", "modifiedAt", "@context"). */
static int parse_doc(const json_t *body, struct ldctx *ctx, int64_t now_ms, int fragment,
                     int stored, json_t **out, char *err, size_t cap)
{
    if (!json_is_object(body))
        return errf(err, cap, "the subscription must be a JSON object");
    json_t *d = json_object();
    json_t *v;
    int rc = VG_EINVAL;
    if ((v = json_object_get(body, "type")) || !fragment) {
        if (!json_is_string(v) || strcmp(json_string_value(v), "Subscription")) {
            errf(err, cap, "type: required, must be \"Subscription\"");
            goto out;
        }
        json_object_set_new(d, "type", json_string("Subscription"));
    }
    if ((v = json_object_get(body, "id")) || (v = json_object_get(body, "@id"))) {
        const char *id = json_string_value(v);
        if (!id || strlen(id) > 1024 || !entity_uri_valid(id)) {
            errf(err, cap, "id: expected a URI");
            goto out;
        }
        json_object_set_new(d, "id", json_string(id));
    }
    static const char *const strs[] = {"subscriptionName", "description", "lang"};
    for (size_t i = 0; i < VG_ARRAY_LEN(strs); i++) {
        if ((v = json_object_get(body, strs[i]))) {
            if (!json_is_string(v) || json_string_length(v) > 4096) {
                errf(err, cap, "%s: expected a string", strs[i]);
                goto out;
            }
            json_object_set(d, strs[i], v);
        }
    }
    if ((v = json_object_get(body, "entities"))) {
        if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 256) {
            errf(err, cap, "entities: expected a non-empty array of {type, id or idPattern}");
            goto out;
        }
        json_t *a = json_array();
        json_object_set_new(d, "entities", a);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            const char *t = json_string_value(json_object_get(x, "type"));
            json_t *id = json_object_get(x, "id"), *ip = json_object_get(x, "idPattern");
            if (!json_is_object(x)) {
                errf(err, cap, "entities[%zu]: expected an object", i);
                goto out;
            }
            if (!t || !*t || strlen(t) > SUB_NAME_MAX ||
                strlen(ldctx_expand(ctx, t)) > SUB_NAME_MAX) {
                errf(err, cap, "entities[%zu].type: required, a type name", i);
                goto out;
            }
            json_t *e = json_pack("{s:s}", "type", ldctx_expand(ctx, t));
            json_array_append_new(a, e);
            if (id) {
                if (!json_is_string(id) || json_string_length(id) > 1024 ||
                    !entity_uri_valid(json_string_value(id))) {
                    errf(err, cap, "entities[%zu].id: expected a URI", i);
                    goto out;
                }
                json_object_set(e, "id", id);
            }
            if (ip) {
                regex_t re;
                char why[160] = "expected a string";
                if (!json_is_string(ip) ||
                    q_regex_compile(&re, json_string_value(ip), why, sizeof(why))) {
                    errf(err, cap, "entities[%zu].idPattern: %s", i, why);
                    goto out;
                }
                regfree(&re);
                json_object_set(e, "idPattern", ip);
            }
        }
    }
    if ((v = json_object_get(body, "watchedAttributes"))) {
        json_t *a = NULL;
        if (name_list(v, "watchedAttributes", ctx, &a, err, cap))
            goto out;
        json_object_set_new(d, "watchedAttributes", a);
    }
    if ((v = json_object_get(body, "notificationTrigger"))) {
        if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 16) {
            errf(err, cap, "notificationTrigger: expected a non-empty array");
            goto out;
        }
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            const char *t = json_string_value(x);
            size_t k = 0;
            while (t && k < VG_ARRAY_LEN(trig_names) && strcmp(trig_names[k], t))
                k++;
            if (!t || k == VG_ARRAY_LEN(trig_names)) {
                errf(err, cap, "notificationTrigger[%zu]: expected one of entityCreated, "
                     "entityUpdated, entityDeleted, attributeCreated, attributeUpdated, "
                     "attributeDeleted", i);
                goto out;
            }
        }
        json_object_set(d, "notificationTrigger", v);
    }
    if ((v = json_object_get(body, "q"))) {
        const char *q = json_string_value(v);
        char e2[300];
        struct qexpr *qe = NULL;
        if (!q || !*q || json_string_length(v) > Q_MAX_LEN) {
            errf(err, cap, "q: expected a query string");
            goto out;
        }
        if (q_parse(q, json_string_length(v), q_expand, ctx, &qe, e2, sizeof(e2))) {
            errf(err, cap, "%s", e2);
            goto out;
        }
        q_free(qe);
        json_object_set(d, "q", v);
    }
    if ((v = json_object_get(body, "scopeQ"))) {
        const char *q = json_string_value(v);
        char e2[300];
        struct scopeq *sq = NULL;
        if (!q || json_string_length(v) > Q_MAX_LEN ||
            scopeq_parse(q, json_string_length(v), &sq, e2, sizeof(e2))) {
            errf(err, cap, "scopeQ: %s", q ? e2 : "expected a string");
            goto out;
        }
        scopeq_free(sq);
        json_object_set(d, "scopeQ", v);
    }
    if ((v = json_object_get(body, "geoQ"))) {
        json_t *g = json_object();
        json_object_set_new(d, "geoQ", g);
        if (parse_geoq(v, ctx, g, err, cap))
            goto out;
    }
    if ((v = json_object_get(body, "notification")) || !fragment) {
        json_t *n = json_object();
        json_object_set_new(d, "notification", n);
        if (parse_notification(v, ctx, fragment, n, err, cap))
            goto out;
    }
    if ((v = json_object_get(body, "throttling"))) {
        if (parse_number_pos(v, "throttling", 1, err, cap))
            goto out;
        json_object_set(d, "throttling", v);
    }
    if ((v = json_object_get(body, "timeInterval"))) {
        if (parse_number_pos(v, "timeInterval", 0, err, cap))
            goto out;
        json_object_set(d, "timeInterval", v);
    }
    if ((v = json_object_get(body, "expiresAt"))) {
        int64_t t;
        if (!json_is_string(v) ||
            clock_parse_time(json_string_value(v), json_string_length(v), &t) ||
            !strchr(json_string_value(v), 'T')) {
            errf(err, cap, "expiresAt: expected a DateTime");
            goto out;
        }
        if (now_ms > 0 && t <= now_ms) {
            errf(err, cap, "expiresAt: must be in the future");
            goto out;
        }
        char ts[40];
        fmt_time(t, ts, sizeof(ts));
        json_object_set_new(d, "expiresAt", json_string(ts));
    }
    if ((v = json_object_get(body, "isActive"))) {
        if (!json_is_boolean(v)) {
            errf(err, cap, "isActive: expected true or false");
            goto out;
        }
        json_object_set(d, "isActive", v);
    }
    if (stored) {
        static const char *const keep[] = {"_st", "createdAt", "modifiedAt", "@context"};
        for (size_t i = 0; i < VG_ARRAY_LEN(keep); i++)
            if ((v = json_object_get(body, keep[i])))
                json_object_set(d, keep[i], v);
    }
    if (!fragment) {
        json_t *ents = json_object_get(d, "entities");
        json_t *wa = json_object_get(d, "watchedAttributes");
        if (!ents && !wa) {
            errf(err, cap, "entities: give entities or watchedAttributes (or both)");
            goto out;
        }
        if (json_object_get(d, "timeInterval")) {
            if (wa) {
                errf(err, cap, "timeInterval: a periodic subscription cannot have "
                     "watchedAttributes");
                goto out;
            }
            if (json_object_get(d, "throttling")) {
                errf(err, cap, "timeInterval: a periodic subscription cannot have throttling");
                goto out;
            }
            if (!ents) {
                errf(err, cap, "entities: required for a periodic subscription (timeInterval)");
                goto out;
            }
        }
    }
    rc = 0;
out:
    if (rc)
        json_decref(d);
    else
        *out = d;
    return rc;
}

int subs_parse(const json_t *body, struct ldctx *ctx, int64_t now_ms, json_t **out, char *err,
               size_t cap)
{
    return parse_doc(body, ctx, now_ms, 0, 0, out, err, cap);
}

/* ---- compiled subscriptions ------------------------------------------------------------------ */

static void sub_free(struct sub *u)
{
    if (!u)
        return;
    for (uint32_t i = 0; i < u->nsel; i++)
        if (u->sel[i].has_re)
            regfree(&u->sel[i].re);
    free(u->sel);
    q_free(u->q);
    scopeq_free(u->scopeq);
    geo_free(u->geom);
    json_decref(u->pick);
    json_decref(u->pending);
    if (u->ctx)
        ldctx_release(u->ctx);
    json_decref(u->doc);
    free(u);
}

static void sub_unref(struct sub *u)
{
    if (u && --u->refs == 0)
        sub_free(u);
}

static int64_t doc_time(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    int64_t t = 0;
    if (s && clock_parse_time(s, strlen(s), &t))
        t = 0;
    return t;
}

/* Build the runtime form of a validated stored document (doc: reference taken). */
static int sub_build(json_t *doc, struct ldctx *ctx, const char *tenant, struct sub **out,
                     char *err, size_t cap)
{
    struct sub *u = vg_calloc(1, sizeof(*u));
    int rc = VG_EINVAL;
    char e2[300];
    u->refs = 1;
    u->doc = doc;
    ldctx_retain(ctx);
    u->ctx = ctx;
    snprintf(u->tenant, sizeof(u->tenant), "%s", tenant);
    u->id = json_string_value(json_object_get(doc, "id"));
    if (!u->id) {
        errf(err, cap, "id: missing");
        goto out;
    }
    json_t *ents = json_object_get(doc, "entities");
    if (json_array_size(ents)) {
        u->sel = vg_calloc(json_array_size(ents), sizeof(*u->sel));
        size_t i;
        json_t *x;
        json_array_foreach(ents, i, x) {
            struct sel *sl = &u->sel[u->nsel++];
            sl->type = json_string_value(json_object_get(x, "type"));
            sl->id = json_string_value(json_object_get(x, "id"));
            const char *ip = json_string_value(json_object_get(x, "idPattern"));
            if (ip && !sl->id) {
                char why[160];
                if (q_regex_compile(&sl->re, ip, why, sizeof(why))) {
                    errf(err, cap, "entities[%zu].idPattern: %s", i, why);
                    goto out;
                }
                sl->has_re = 1;
            }
        }
    }
    u->watched = json_object_get(doc, "watchedAttributes");
    json_t *v;
    if ((v = json_object_get(doc, "q")) &&
        q_parse(json_string_value(v), json_string_length(v), q_expand, ctx, &u->q, e2,
                sizeof(e2))) {
        errf(err, cap, "%s", e2);
        goto out;
    }
    if ((v = json_object_get(doc, "scopeQ")) &&
        scopeq_parse(json_string_value(v), json_string_length(v), &u->scopeq, e2, sizeof(e2))) {
        errf(err, cap, "scopeQ: %s", e2);
        goto out;
    }
    json_t *g = json_object_get(doc, "geoQ");
    if (g) {
        json_t *coords = json_object_get(g, "coordinates");
        const char *geom = json_string_value(json_object_get(g, "geometry"));
        int r2;
        if (json_is_string(coords)) {
            r2 = geo_parse_query(geom, json_string_value(coords), &u->geom, e2, sizeof(e2));
        } else {
            json_t *gj = json_pack("{s:s?, s:O}", "type", geom, "coordinates", coords);
            r2 = gj ? geo_parse_json(gj, &u->geom, e2, sizeof(e2)) : VG_EINVAL;
            json_decref(gj);
        }
        if (r2 || georel_parse(json_string_value(json_object_get(g, "georel")), &u->georel, e2,
                               sizeof(e2))) {
            errf(err, cap, "geoQ: %s", e2);
            goto out;
        }
        u->geoprop = json_string_value(json_object_get(g, "geoproperty"));
        if (!u->geoprop)
            u->geoprop = ENTSTORE_LOCATION_IRI;
    }
    json_t *n = json_object_get(doc, "notification");
    json_t *attrs = json_object_get(n, "attributes");
    if (attrs) {
        u->pick = json_pack("[ss]", "id", "type");
        json_array_extend(u->pick, attrs);
    }
    const char *f = json_string_value(json_object_get(n, "format"));
    u->fmt = !f || !strcmp(f, "normalized") ? ENTITY_NORMALIZED
             : !strcmp(f, "concise")        ? ENTITY_CONCISE
                                            : ENTITY_SIMPLIFIED;
    u->sys_attrs = json_is_true(json_object_get(n, "sysAttrs"));
    u->lang = json_string_value(json_object_get(doc, "lang"));
    json_t *ep = json_object_get(n, "endpoint");
    u->uri = json_string_value(json_object_get(ep, "uri"));
    const char *acc = json_string_value(json_object_get(ep, "accept"));
    u->accept_ld = acc && !strcmp(acc, "application/ld+json");
    char host[256], path[512];
    int scheme, port;
    if (!u->uri || uri_split(u->uri, &scheme, host, sizeof(host), &port, path, sizeof(path))) {
        errf(err, cap, "notification.endpoint.uri: invalid");
        goto out;
    }
    u->mqtt = scheme == 2;
    if (u->mqtt) {
        snprintf(u->ep_key, sizeof(u->ep_key), "mqtt://%s:%d", host, port);
        snprintf(u->topic, sizeof(u->topic), "%s", path + 1);
    } else {
        snprintf(u->ep_key, sizeof(u->ep_key), "%s", u->uri);
    }
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(ep, "notifierInfo"), i, x)
        if (!strcmp(json_string_value(json_object_get(x, "key")), "MQTT-QoS"))
            u->qos = (int)strtol(json_string_value(json_object_get(x, "value")), NULL, 10);
    const char *curl_ctx = json_string_value(json_object_get(doc, "@context"));
    snprintf(u->link, sizeof(u->link), CORE_LINK_FMT, curl_ctx ? curl_ctx : LDCTX_CORE_URL);
    json_t *tr = json_object_get(doc, "notificationTrigger");
    u->trig = tr ? 0 : T_DEFAULT;
    json_array_foreach(tr, i, x) {
        for (size_t k = 0; k < VG_ARRAY_LEN(trig_names); k++)
            if (!strcmp(trig_names[k], json_string_value(x)))
                u->trig |= 1u << k;
    }
    if ((v = json_object_get(doc, "throttling")))
        u->throttle_ms = secs_ms(v);
    if ((v = json_object_get(doc, "timeInterval")))
        u->interval_ms = secs_ms(v);
    u->expires_ms = doc_time(doc, "expiresAt");
    u->active = !json_is_false(json_object_get(doc, "isActive"));
    u->created_ms = doc_time(doc, "createdAt");
    json_t *st = json_object_get(doc, "_st");
    u->times_sent = (uint64_t)json_integer_value(json_object_get(st, "timesSent"));
    u->last_notif = doc_time(st, "lastNotification");
    u->last_ok = doc_time(st, "lastSuccess");
    u->last_fail = doc_time(st, "lastFailure");
    u->failing = json_is_true(json_object_get(st, "failing"));
    rc = 0;
out:
    if (rc) {
        sub_free(u);
    } else {
        *out = u;
    }
    return rc;
}

/* ---- matching -------------------------------------------------------------------------------- */

static int sel_match(const struct sub *u, const json_t *e)
{
    if (!u->nsel)
        return 1;
    const char *id = json_string_value(json_object_get(e, "id"));
    for (uint32_t i = 0; i < u->nsel; i++) {
        const struct sel *sl = &u->sel[i];
        if (sl->type && !entity_has_type(e, sl->type))
            continue;
        if (sl->id && (!id || strcmp(sl->id, id)))
            continue;
        if (sl->has_re && (!id || regexec(&sl->re, id, 0, NULL, 0)))
            continue;
        return 1;
    }
    return 0;
}

static int watched(const struct sub *u, const char *iri)
{
    if (!u->watched)
        return 1;
    size_t i;
    json_t *x;
    json_array_foreach(u->watched, i, x) if (!strcmp(json_string_value(x), iri)) return 1;
    return 0;
}

static int has_watched(const struct sub *u, const json_t *e)
{
    if (!u->watched)
        return 1;
    size_t i;
    json_t *x;
    json_t *attrs = json_object_get(e, "attrs");
    json_array_foreach(u->watched, i, x) if (json_object_get(attrs, json_string_value(x))) return 1;
    return 0;
}

/* The content filters (q, scopeQ, geoQ) on one state of the entity. */
static int filter_match(const struct sub *u, const json_t *e)
{
    if (u->q && !q_match(u->q, e))
        return 0;
    if (u->scopeq && !scopeq_match(u->scopeq, json_object_get(e, "scope")))
        return 0;
    if (u->geom) {
        const json_t *inst = entity_attr_default(e, u->geoprop);
        const json_t *gv = json_object_get(inst, "value");
        struct geo_shape *es = NULL;
        char e2[128];
        if (!gv || geo_parse_json(gv, &es, e2, sizeof(e2)))
            return 0;
        int m = geo_match(&u->georel, u->geom, es);
        geo_free(es);
        if (!m)
            return 0;
    }
    return 1;
}

/* json_equal, with two absent members equal. */
static int same(const json_t *a, const json_t *b)
{
    return a == b || (a && b && json_equal(a, b));
}

/* Does a change trigger u at now? */
static int sub_match(const struct sub *u, const json_t *old, const json_t *new_, int64_t now)
{
    const json_t *e = new_ ? new_ : old;
    if (!e || !u->active || u->interval_ms || (u->expires_ms && now >= u->expires_ms))
        return 0;
    if (!sel_match(u, e))
        return 0;
    int ok = 0;
    if (!old) {
        ok = (u->trig & T_ENT_CREATED) && has_watched(u, new_);
    } else if (!new_) {
        ok = (u->trig & T_ENT_DELETED) && has_watched(u, old);
    } else {
        unsigned kinds = 0;
        int changed = 0, watched_changed = 0;
        json_t *oa = json_object_get(old, "attrs"), *na = json_object_get(new_, "attrs");
        const char *k;
        json_t *x;
        json_object_foreach(na, k, x) {
            json_t *ox = json_object_get(oa, k);
            unsigned kind = !ox ? T_ATTR_CREATED : !json_equal(ox, x) ? T_ATTR_UPDATED : 0;
            if (kind) {
                changed = 1;
                if (watched(u, k)) {
                    kinds |= kind;
                    watched_changed = 1;
                }
            }
        }
        json_object_foreach(oa, k, x) {
            if (!json_object_get(na, k)) {
                changed = 1;
                if (watched(u, k)) {
                    kinds |= T_ATTR_DELETED;
                    watched_changed = 1;
                }
            }
        }
        if (!same(json_object_get(old, "type"), json_object_get(new_, "type")) ||
            !same(json_object_get(old, "scope"), json_object_get(new_, "scope")))
            changed = 1;
        if (!u->watched)
            watched_changed = changed;
        ok = ((u->trig & T_ENT_UPDATED) && watched_changed) || (u->trig & kinds);
    }
    return ok && filter_match(u, e);
}

int64_t subs_throttle_due(int64_t last_sent_ms, int64_t throttling_ms, int64_t now_ms)
{
    if (throttling_ms <= 0 || last_sent_ms <= 0 || now_ms - last_sent_ms >= throttling_ms)
        return 0;
    return last_sent_ms + throttling_ms;
}

int subs_match(const json_t *doc, struct ldctx *ctx, const json_t *old, const json_t *new_,
               int64_t now_ms)
{
    struct sub *u = NULL;
    char err[256];
    if (sub_build(json_incref((json_t *)doc), ctx, "test", &u, err, sizeof(err)))
        return VG_EINVAL;
    int m = sub_match(u, old, new_, now_ms);
    sub_free(u);
    return m;
}

/* ---- notifications and queues (under mu) ----------------------------------------------------- */

static struct sub *find(struct subs *s, const char *tenant, const char *id)
{
    for (struct sub *u = s->head; u; u = u->next)
        if (!strcmp(u->id, id) && !strcmp(u->tenant, tenant))
            return u;
    return NULL;
}

static void journal(struct subs *s, const char *kind, const char *tenant, const char *id,
                    char *doc /* owned */, size_t len)
{
    if (s->njops >= JOURNAL_MAX) {
        if (doc) {
            log_error("subscriptions: the notification journal is full: notification '%s' is "
                      "not durable", id);
            free(doc);
            return;
        }
    }
    if (s->njops == s->capjops) {
        s->capjops = s->capjops ? 2 * s->capjops : 64;
        s->jops = vg_realloc(s->jops, s->capjops * sizeof(*s->jops));
    }
    struct jop *o = &s->jops[s->njops++];
    snprintf(o->kind, sizeof(o->kind), "%s", kind);
    snprintf(o->tenant, sizeof(o->tenant), "%s", tenant);
    snprintf(o->id, sizeof(o->id), "%s", id);
    o->doc = doc;
    o->len = len;
    pthread_cond_signal(&s->hcond);
}

static void notif_free(struct notif *n)
{
    if (n) {
        json_decref(n->d);
        free(n);
    }
}

static struct endpoint *endpoint_get(struct subs *s, const char *key, int mqtt)
{
    struct endpoint *ep;
    for (ep = s->eps; ep; ep = ep->next)
        if (!strcmp(ep->key, key))
            return ep;
    ep = vg_calloc(1, sizeof(*ep));
    snprintf(ep->key, sizeof(ep->key), "%s", key);
    ep->mqtt = mqtt;
    ep->next = s->eps;
    s->eps = ep;
    return ep;
}

/* Unlink n (not the in-flight head) from ep. */
static void ep_unlink(struct endpoint *ep, struct notif *n)
{
    struct notif **pp = &ep->head, *prev = NULL;
    while (*pp && *pp != n) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return;
    *pp = n->next;
    if (ep->tail == n)
        ep->tail = prev;
    ep->n--;
}

static void enqueue(struct subs *s, const char *tenant, json_t *d /* taken */, uint64_t seq,
                    const char *doc_id, int persist)
{
    const char *key = json_string_value(json_object_get(d, "ep"));
    struct endpoint *ep = endpoint_get(s, key, json_is_true(json_object_get(d, "mqtt")));
    if (ep->n >= SUBS_QUEUE_MAX) {
        struct notif *victim = ep->busy ? ep->head->next : ep->head;
        if (victim) {
            ep_unlink(ep, victim);
            journal(s, "notification", victim->tenant, victim->doc_id, NULL, 0);
            struct sub *u = find(s, victim->tenant, json_string_value(json_object_get(victim->d,
                                                                                      "sub")));
            if (u) {
                u->last_fail = clock_now_ms();
                u->failing = 1;
                u->dirty = 1;
            }
            ep->dropped++;
            s->stats.dropped++;
            if (ep->dropped == 1 || ep->dropped % 1000 == 0)
                log_warn("subscriptions: queue of '%s' is full (%d): dropped %llu old "
                         "notifications so far", ep->key, SUBS_QUEUE_MAX,
                         (unsigned long long)ep->dropped);
            notif_free(victim);
        }
    }
    struct notif *n = vg_calloc(1, sizeof(*n));
    snprintf(n->tenant, sizeof(n->tenant), "%s", tenant);
    snprintf(n->doc_id, sizeof(n->doc_id), "%s", doc_id);
    n->d = d;
    n->seq = seq;
    if (ep->tail)
        ep->tail->next = n;
    else
        ep->head = n;
    ep->tail = n;
    ep->n++;
    s->stats.queued++;
    if (persist) {
        size_t len;
        char *text = json_text(d, &len);
        journal(s, "notification", tenant, doc_id, text, len);
    }
    pthread_cond_signal(&s->wcond);
}

static json_t *render_one(const struct sub *u, const json_t *e, int deleted, const char *now)
{
    struct entity_render_opts o;
    memset(&o, 0, sizeof(o));
    o.format = u->fmt;
    o.sys_attrs = u->sys_attrs;
    o.lang = u->lang;
    if (deleted) {
        json_t *min = json_pack("{s:O, s:O, s:{}}", "id", json_object_get(e, "id"), "type",
                                json_object_get(e, "type"), "attrs");
        json_t *r = min ? entity_render(min, u->ctx, &o) : json_object();
        json_decref(min);
        json_object_set_new(r, "deletedAt", json_string(now));
        return r;
    }
    o.pick = u->pick;
    return entity_render(e, u->ctx, &o);
}

/* Build and enqueue one notification of u with data (stolen). Under mu. */
static void notify(struct subs *s, struct sub *u, json_t *data, int64_t now)
{
    char nowt[40], nid[96], hex[40], doc_id[48];
    fmt_time(now, nowt, sizeof(nowt));
    rand_hex(hex, 12);
    snprintf(nid, sizeof(nid), "urn:ngsi-ld:Notification:%s", hex);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", nid, "type", "Notification",
                             "subscriptionId", u->id, "notifiedAt", nowt, "data", data);
    json_t *ctxv = json_object_get(u->doc, "@context");
    if (u->accept_ld)
        json_object_set_new(body, "@context", ctxv ? json_incref(ctxv)
                                                   : json_string(LDCTX_CORE_URL));
    json_t *hdrs = json_object(); /* name -> value, in order */
    json_object_set_new(hdrs, "Content-Type",
                        json_string(u->accept_ld ? "application/ld+json" : "application/json"));
    if (!u->accept_ld)
        json_object_set_new(hdrs, "Link", json_string(u->link));
    if (strcmp(u->tenant, "default"))
        json_object_set_new(hdrs, "NGSILD-Tenant", json_string(u->tenant));
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(json_object_get(json_object_get(u->doc, "notification"),
                                                       "endpoint"), "receiverInfo"), i, x)
        json_object_set(hdrs, json_string_value(json_object_get(x, "key")),
                        json_object_get(x, "value"));
    char *text;
    size_t len;
    if (u->mqtt) {
        json_t *payload = json_pack("{s:O, s:O}", "metadata", hdrs, "body", body);
        text = json_text(payload, &len);
        json_decref(payload);
    } else {
        text = json_text(body, &len);
    }
    json_decref(body);
    uint64_t seq = (uint64_t)now * 1000;
    if (seq <= s->seq)
        seq = s->seq + 1;
    s->seq = seq;
    snprintf(doc_id, sizeof(doc_id), "%020llu", (unsigned long long)seq);
    json_t *d = json_pack("{s:I, s:s, s:s, s:s, s:b, s:i, s:s, s:o, s:s%}", "seq", (json_int_t)seq,
                          "sub", u->id, "ep", u->ep_key, "uri", u->uri, "mqtt", u->mqtt, "qos",
                          u->qos, "topic", u->topic, "headers", hdrs, "body", text, len);
    free(text);
    if (!d) {
        log_error("subscriptions: cannot build a notification of '%s'", u->id);
        return;
    }
    u->last_sent = now;
    enqueue(s, u->tenant, d, seq, doc_id, 1);
}

static void flush_pending(struct subs *s, struct sub *u, int64_t now)
{
    char nowt[40];
    fmt_time(now, nowt, sizeof(nowt));
    json_t *data = json_array();
    const char *k;
    json_t *pair;
    json_object_foreach(u->pending, k, pair) {
        json_t *nw = json_array_get(pair, 0);
        if (json_is_object(nw))
            json_array_append_new(data, render_one(u, nw, 0, nowt));
        else
            json_array_append_new(data, render_one(u, json_array_get(pair, 1), 1, nowt));
    }
    json_decref(u->pending);
    u->pending = NULL;
    u->pending_due = 0;
    notify(s, u, data, now);
}

void subs_on_change(void *arg, const char *tenant, const char *id, const json_t *old,
                    const json_t *new_)
{
    struct subs *s = arg;
    int64_t now = clock_now_ms();
    char nowt[40];
    fmt_time(now, nowt, sizeof(nowt));
    pthread_mutex_lock(&s->mu);
    for (struct sub *u = s->head; u; u = u->next) {
        if (strcmp(u->tenant, tenant) || !sub_match(u, old, new_, now))
            continue;
        if (u->throttle_ms > 0 &&
            (u->pending || subs_throttle_due(u->last_sent, u->throttle_ms, now))) {
            if (!u->pending)
                u->pending = json_object();
            json_t *pair = json_array();
            json_array_append_new(pair, new_ ? json_deep_copy(new_) : json_null());
            json_array_append_new(pair, old ? json_deep_copy(old) : json_null());
            json_object_set_new(u->pending, id, pair);
            if (!u->pending_due)
                u->pending_due = subs_throttle_due(u->last_sent, u->throttle_ms, now);
            if (!u->pending_due)
                u->pending_due = now;
            continue;
        }
        json_t *data = json_array();
        json_array_append_new(data, render_one(u, new_ ? new_ : old, new_ == NULL, nowt));
        notify(s, u, data, now);
    }
    pthread_mutex_unlock(&s->mu);
}

/* ---- delivery (workers) ---------------------------------------------------------------------- */

static size_t sink(char *p, size_t size, size_t n, void *arg)
{
    VG_UNUSED(p);
    VG_UNUSED(arg);
    return size * n;
}

static int progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    struct subs *s = arg;
    return atomic_load(&s->stop) ? 1 : 0;
}

/* POST the notification. Returns 1 delivered (2xx); 0 failed with *status (0: no answer). */
static int deliver_http(struct subs *s, CURL *c, const json_t *d, long *status, char *err,
                        size_t cap)
{
    struct curl_slist *h = NULL;
    const char *k;
    json_t *v;
    char line[4500];
    json_object_foreach(json_object_get(d, "headers"), k, v) {
        snprintf(line, sizeof(line), "%s: %s", k, json_string_value(v));
        h = curl_slist_append(h, line);
    }
    h = curl_slist_append(h, "Expect:");
    json_t *body = json_object_get(d, "body");
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, json_string_value(json_object_get(d, "uri")));
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, json_string_value(body));
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)json_string_length(body));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)HTTP_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)HTTP_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "vigie-ngsild");
    CURLcode cr = curl_easy_perform(c);
    curl_slist_free_all(h);
    *status = 0;
    if (cr != CURLE_OK) {
        snprintf(err, cap, "%s", curl_easy_strerror(cr));
        return 0;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (*status >= 200 && *status < 300)
        return 1;
    snprintf(err, cap, "the receiver answered %ld", *status);
    return 0;
}

static void mq_on_connect(struct mosquitto *m, void *arg, int rc)
{
    struct mqttc *q = arg;
    atomic_store(&q->connected, rc == 0);
}

static void mq_on_disconnect(struct mosquitto *m, void *arg, int rc)
{
    struct mqttc *q = arg;
    atomic_store(&q->connected, 0);
}

static void mqttc_free(struct mqttc *q)
{
    if (!q)
        return;
    mosquitto_disconnect(q->m);
    mosquitto_loop_stop(q->m, true);
    mosquitto_destroy(q->m);
    free(q);
}

/* Publish on the broker of ep (its client is created at first use; libmosquitto reconnects with
** a 1..60 s backoff). Only the worker that holds ep busy touches ep->mq. */
static int deliver_mqtt(struct subs *s, struct endpoint *ep, const json_t *d, char *err, size_t cap)
{
    if (!ep->mq) {
        char host[256], path[512];
        int scheme, port;
        if (uri_split(ep->key, &scheme, host, sizeof(host), &port, path, sizeof(path))) {
            snprintf(err, cap, "bad broker '%.200s'", ep->key);
            return 0;
        }
        struct mqttc *q = vg_calloc(1, sizeof(*q));
        q->m = mosquitto_new(NULL, true, q);
        if (!q->m) {
            free(q);
            snprintf(err, cap, "cannot create an MQTT client");
            return 0;
        }
        mosquitto_connect_callback_set(q->m, mq_on_connect);
        mosquitto_disconnect_callback_set(q->m, mq_on_disconnect);
        mosquitto_reconnect_delay_set(q->m, 1, 60, true);
        int rc = mosquitto_connect_async(q->m, host, port, 30);
        if (rc != MOSQ_ERR_SUCCESS)
            log_warn("subscriptions: cannot connect to MQTT broker '%s' yet: %s", ep->key,
                     mosquitto_strerror(rc));
        mosquitto_loop_start(q->m);
        ep->mq = q;
    }
    for (int i = 0; i < 150 && !atomic_load(&ep->mq->connected) && !atomic_load(&s->stop);
         i++) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (!atomic_load(&ep->mq->connected)) {
        snprintf(err, cap, "not connected to the broker");
        return 0;
    }
    json_t *body = json_object_get(d, "body");
    int rc = mosquitto_publish(ep->mq->m, NULL, json_string_value(json_object_get(d, "topic")),
                               (int)json_string_length(body), json_string_value(body),
                               (int)json_integer_value(json_object_get(d, "qos")), false);
    if (rc != MOSQ_ERR_SUCCESS) {
        snprintf(err, cap, "publish failed: %s", mosquitto_strerror(rc));
        return 0;
    }
    return 1;
}

static void cond_wait_ms(pthread_cond_t *c, pthread_mutex_t *mu, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (ms % 1000) * 1000000;
    ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_cond_timedwait(c, mu, &ts);
}

static void *worker_main(void *arg)
{
    struct subs *s = arg;
    CURL *c = curl_easy_init();
    pthread_mutex_lock(&s->mu);
    while (!atomic_load(&s->stop)) {
        int64_t now = clock_now_ms(), wait = 1000;
        struct endpoint *ep = NULL;
        for (struct endpoint *e = s->eps; e; e = e->next) {
            if (e->busy || !e->head)
                continue;
            if (e->next_ms > now) {
                wait = VG_MIN(wait, e->next_ms - now);
                continue;
            }
            ep = e;
            break;
        }
        if (!ep) {
            cond_wait_ms(&s->wcond, &s->mu, wait);
            continue;
        }
        ep->busy = 1;
        struct notif *n = ep->head;
        json_t *d = json_incref(n->d);
        pthread_mutex_unlock(&s->mu);

        char err[300] = "";
        long status = 0;
        int ok = ep->mqtt ? deliver_mqtt(s, ep, d, err, sizeof(err))
                          : (c ? deliver_http(s, c, d, &status, err, sizeof(err)) : 0);
        json_decref(d);

        pthread_mutex_lock(&s->mu);
        ep->busy = 0;
        int64_t t = clock_now_ms();
        struct sub *u = find(s, n->tenant, json_string_value(json_object_get(n->d, "sub")));
        if (u) {
            if (n->attempts == 0)
                u->times_sent++;
            u->last_notif = t;
            if (ok) {
                u->last_ok = t;
                u->failing = 0;
            } else {
                u->last_fail = t;
                u->failing = 1;
            }
            u->dirty = 1;
        }
        n->attempts++;
        int permanent = !ok && status >= 400 && status < 500 && status != 408 && status != 429;
        if (ok || permanent || !u) {
            ep->head = n->next;
            if (!ep->head)
                ep->tail = NULL;
            ep->n--;
            journal(s, "notification", n->tenant, n->doc_id, NULL, 0);
            if (ok)
                s->stats.sent++;
            else
                s->stats.failed++;
            if (permanent)
                log_warn("subscriptions: notification of '%s' to '%s' refused: %s (dropped)",
                         json_string_value(json_object_get(n->d, "sub")), ep->key, err);
            notif_free(n);
            ep->backoff_ms = 0;
            ep->next_ms = 0;
        } else if (!atomic_load(&s->stop)) {
            s->stats.failed++;
            if (!ep->backoff_ms)
                log_warn("subscriptions: cannot notify '%s': %s (retrying with backoff)",
                         ep->key, err);
            ep->backoff_ms = ep->backoff_ms ? VG_MIN(2 * ep->backoff_ms, BACKOFF_MAX_MS)
                                            : BACKOFF_MIN_MS;
            ep->next_ms = t + ep->backoff_ms;
        }
        pthread_cond_broadcast(&s->wcond);
    }
    pthread_mutex_unlock(&s->mu);
    if (c)
        curl_easy_cleanup(c);
    return NULL;
}

/* ---- housekeeping ---------------------------------------------------------------------------- */

static json_t *status_json(const struct sub *u)
{
    json_t *st = json_object();
    char t[40];
    json_object_set_new(st, "timesSent", json_integer((json_int_t)u->times_sent));
    const struct {
        const char *name;
        int64_t ms;
    } times[] = {{"lastNotification", u->last_notif}, {"lastSuccess", u->last_ok},
                 {"lastFailure", u->last_fail}};
    for (size_t i = 0; i < VG_ARRAY_LEN(times); i++) {
        if (times[i].ms) {
            fmt_time(times[i].ms, t, sizeof(t));
            json_object_set_new(st, times[i].name, json_string(t));
        }
    }
    json_object_set_new(st, "failing", json_boolean(u->failing));
    return st;
}

/* The stored document text of u with its current status. Under mu. */
static char *sub_text(const struct sub *u, size_t *len)
{
    json_t *d = json_copy(u->doc);
    json_object_set_new(d, "_st", status_json(u));
    char *t = json_text(d, len);
    json_decref(d);
    return t;
}

static void persist_dirty(struct subs *s)
{
    pthread_mutex_lock(&s->wmu);
    pthread_mutex_lock(&s->mu);
    uint32_t n = 0, cap = 0;
    struct meta_doc_op *ops = NULL;
    for (struct sub *u = s->head; u; u = u->next) {
        if (!u->dirty)
            continue;
        u->dirty = 0;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            ops = vg_realloc(ops, cap * sizeof(*ops));
        }
        ops[n].kind = "subscription";
        ops[n].tenant = vg_strdup(u->tenant);
        ops[n].id = vg_strdup(u->id);
        ops[n].doc = sub_text(u, &ops[n].len);
        n++;
    }
    pthread_mutex_unlock(&s->mu);
    if (n) {
        int rc = meta_docs_commit(s->m, ops, n);
        if (rc)
            log_error("subscriptions: cannot store the status of %u subscriptions: %s", n,
                      vg_strerror(rc));
    }
    for (uint32_t i = 0; i < n; i++) {
        free((char *)ops[i].tenant);
        free((char *)ops[i].id);
        free((char *)ops[i].doc);
    }
    free(ops);
    pthread_mutex_unlock(&s->wmu);
}

static void flush_journal(struct subs *s)
{
    pthread_mutex_lock(&s->mu);
    struct jop *j = s->jops;
    uint32_t n = s->njops;
    s->jops = NULL;
    s->njops = s->capjops = 0;
    pthread_mutex_unlock(&s->mu);
    if (!n)
        return;
    struct meta_doc_op *ops = vg_calloc(n, sizeof(*ops));
    for (uint32_t i = 0; i < n; i++) {
        ops[i].kind = j[i].kind;
        ops[i].tenant = j[i].tenant;
        ops[i].id = j[i].id;
        ops[i].doc = j[i].doc;
        ops[i].len = j[i].len;
    }
    int rc = meta_docs_commit(s->m, ops, n);
    if (rc)
        log_error("subscriptions: cannot store %u notification journal entries: %s", n,
                  vg_strerror(rc));
    for (uint32_t i = 0; i < n; i++)
        free(j[i].doc);
    free(ops);
    free(j);
}

struct periodic {
    struct sub *u;
    json_t *found;
};

static int periodic_match(void *arg, const json_t *e)
{
    const struct sub *u = arg;
    return sel_match(u, e) && filter_match(u, e);
}

static int periodic_row(void *arg, const json_t *e)
{
    json_array_append((json_t *)arg, (json_t *)e);
    return 0;
}

static void run_periodic(struct subs *s, struct sub *u)
{
    const char *types[256];
    uint32_t nt = 0;
    for (uint32_t i = 0; i < u->nsel && nt < VG_ARRAY_LEN(types); i++)
        types[nt++] = u->sel[i].type;
    struct entstore_scan sc;
    memset(&sc, 0, sizeof(sc));
    if (nt == u->nsel && nt > 0) {
        sc.types = types;
        sc.ntypes = nt;
    }
    sc.match = periodic_match;
    sc.arg = u;
    sc.limit = PERIODIC_MAX;
    json_t *found = json_array();
    int rc = entstore_scan(s->es, u->tenant, &sc, periodic_row, found, NULL);
    int64_t now = clock_now_ms();
    char nowt[40];
    fmt_time(now, nowt, sizeof(nowt));
    pthread_mutex_lock(&s->mu);
    if (!rc && json_array_size(found) && !u->removed) {
        json_t *data = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(found, i, e) json_array_append_new(data, render_one(u, e, 0, nowt));
        notify(s, u, data, now);
    }
    sub_unref(u);
    pthread_mutex_unlock(&s->mu);
    json_decref(found);
}

static void *hk_main(void *arg)
{
    struct subs *s = arg;
    int64_t last_persist = 0;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        int stopping = s->workers_done;
        int64_t now = clock_now_ms();
        struct sub *due[64];
        uint32_t ndue = 0;
        for (struct sub *u = s->head; u; u = u->next) {
            if (u->pending && now >= u->pending_due)
                flush_pending(s, u, now);
            if (u->interval_ms && s->es && !stopping && ndue < VG_ARRAY_LEN(due) && u->active &&
                !(u->expires_ms && now >= u->expires_ms) && now >= u->next_periodic) {
                u->next_periodic = now + u->interval_ms;
                u->refs++;
                due[ndue++] = u;
            }
        }
        pthread_mutex_unlock(&s->mu);
        for (uint32_t i = 0; i < ndue; i++)
            run_periodic(s, due[i]);
        flush_journal(s);
        if (stopping || now - last_persist >= 1000) {
            persist_dirty(s);
            last_persist = now;
        }
        if (stopping) {
            flush_journal(s);
            break;
        }
        pthread_mutex_lock(&s->mu);
        if (!s->njops && !s->workers_done)
            cond_wait_ms(&s->hcond, &s->mu, 100);
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

/* ---- API view -------------------------------------------------------------------------------- */

static void compact_list(json_t *a, struct ldctx *ctx)
{
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x) json_array_set_new(a, i, json_string(ldctx_compact(
                                                             ctx, json_string_value(x))));
}

static json_t *sub_view(const struct sub *u, struct ldctx *ctx, int sys_attrs, int64_t now)
{
    json_t *v = json_pack("{s:s, s:s}", "id", u->id, "type", "Subscription");
    json_t *body = json_deep_copy(u->doc);
    json_object_update(v, body);
    json_decref(body);
    json_object_del(v, "_st");
    json_object_del(v, "@context");
    if (!sys_attrs) {
        json_object_del(v, "createdAt");
        json_object_del(v, "modifiedAt");
    }
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(v, "entities"), i, x)
        json_object_set_new(x, "type", json_string(ldctx_compact(
                                           ctx, json_string_value(json_object_get(x, "type")))));
    compact_list(json_object_get(v, "watchedAttributes"), ctx);
    json_t *n = json_object_get(v, "notification");
    compact_list(json_object_get(n, "attributes"), ctx);
    json_t *g = json_object_get(v, "geoQ");
    if (g) {
        const char *gp = json_string_value(json_object_get(g, "geoproperty"));
        json_object_set_new(g, "geoproperty", json_string(ldctx_compact(ctx, gp)));
    }
    json_object_set_new(v, "isActive", json_boolean(u->active));
    const char *st = (u->expires_ms && now >= u->expires_ms) ? "expired"
                     : !u->active                             ? "paused"
                                                              : "active";
    json_object_set_new(v, "status", json_string(st));
    if (!json_object_get(n, "format"))
        json_object_set_new(n, "format", json_string("normalized"));
    json_t *sj = status_json(u);
    json_object_del(sj, "failing");
    json_object_update(n, sj);
    json_decref(sj);
    if (u->times_sent)
        json_object_set_new(n, "status", json_string(u->failing ? "failed" : "ok"));
    return v;
}

int subs_get(struct subs *s, const char *tenant, const char *id, struct ldctx *ctx, int sys_attrs,
             json_t **out)
{
    pthread_mutex_lock(&s->mu);
    struct sub *u = find(s, tenant, id);
    if (u)
        *out = sub_view(u, ctx, sys_attrs, clock_now_ms());
    pthread_mutex_unlock(&s->mu);
    return u ? 0 : VG_ENOENT;
}

int subs_list(struct subs *s, const char *tenant, struct ldctx *ctx, int sys_attrs,
              uint64_t offset, uint64_t limit, json_t **out, uint64_t *total)
{
    json_t *a = json_array();
    uint64_t k = 0;
    int64_t now = clock_now_ms();
    pthread_mutex_lock(&s->mu);
    for (struct sub *u = s->head; u; u = u->next) {
        if (strcmp(u->tenant, tenant))
            continue;
        if (k >= offset && k - offset < limit)
            json_array_append_new(a, sub_view(u, ctx, sys_attrs, now));
        k++;
    }
    pthread_mutex_unlock(&s->mu);
    if (total)
        *total = k;
    *out = a;
    return 0;
}

void subs_get_stats(struct subs *s, struct subs_stats *st)
{
    pthread_mutex_lock(&s->mu);
    *st = s->stats;
    st->subscriptions = s->nsubs;
    uint64_t q = 0;
    for (struct endpoint *e = s->eps; e; e = e->next)
        q += e->n;
    st->queued = q;
    pthread_mutex_unlock(&s->mu);
}

/* ---- CRUD ------------------------------------------------------------------------------------ */

static int commit_doc(struct subs *s, const char *tenant, const char *id, char *text, size_t len)
{
    struct meta_doc_op op = {"subscription", tenant, id, text, len};
    int rc = meta_docs_commit(s->m, &op, 1);
    free(text);
    return rc;
}

int subs_create(struct subs *s, const char *tenant, const json_t *body, struct ldctx *ctx,
                const json_t *ctx_value, char *id_out, size_t id_cap, char *err, size_t cap)
{
    int64_t now = clock_now_ms();
    json_t *d = NULL;
    struct sub *u = NULL;
    char ts[40];
    int rc = parse_doc(body, ctx, now, 0, 0, &d, err, cap);
    if (rc)
        return rc;
    if (!json_object_get(d, "id")) {
        char hex[40], id[80];
        rand_hex(hex, 12);
        snprintf(id, sizeof(id), "urn:ngsi-ld:Subscription:%s", hex);
        json_object_set_new(d, "id", json_string(id));
    }
    fmt_time(now, ts, sizeof(ts));
    json_object_set_new(d, "createdAt", json_string(ts));
    json_object_set_new(d, "modifiedAt", json_string(ts));
    if (ctx_value)
        json_object_set_new(d, "@context", json_deep_copy(ctx_value));
    if ((rc = sub_build(d, ctx, tenant, &u, err, cap)))
        return rc;
    pthread_mutex_lock(&s->wmu);
    pthread_mutex_lock(&s->mu);
    uint32_t n = 0;
    for (struct sub *x = s->head; x; x = x->next)
        n += !strcmp(x->tenant, tenant);
    if (find(s, tenant, u->id))
        rc = VG_EEXIST;
    else if (n >= SUBS_MAX_PER_TENANT)
        rc = VG_ETOOBIG;
    size_t len = 0;
    char *text = rc ? NULL : sub_text(u, &len);
    pthread_mutex_unlock(&s->mu);
    if (!rc)
        rc = commit_doc(s, tenant, u->id, text, len);
    if (!rc) {
        pthread_mutex_lock(&s->mu);
        struct sub **pp = &s->head;
        while (*pp)
            pp = &(*pp)->next;
        *pp = u;
        s->nsubs++;
        snprintf(id_out, id_cap, "%s", u->id);
        u = NULL;
        pthread_cond_signal(&s->hcond);
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_unlock(&s->wmu);
    if (rc == VG_EEXIST)
        errf(err, cap, "id: a subscription with this id already exists");
    sub_free(u);
    return rc;
}

int subs_update(struct subs *s, const char *tenant, const char *id, const json_t *frag,
                struct ldctx *ctx, char *err, size_t cap)
{
    int64_t now = clock_now_ms();
    json_t *f = NULL, *merged = NULL, *d = NULL;
    struct sub *nu = NULL;
    char ts[40];
    /* merge-patch: a null member removes it (read-only and required members cannot go) */
    json_t *nulls = json_array(), *clean = json_deep_copy(frag);
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(clean, tmp, k, v) {
        if (json_is_null(v)) {
            json_array_append_new(nulls, json_string(k));
            json_object_del(clean, k);
        }
    }
    int rc = parse_doc(clean, ctx, now, 1, 0, &f, err, cap);
    json_decref(clean);
    if (rc) {
        json_decref(nulls);
        return rc;
    }
    const char *fid = json_string_value(json_object_get(f, "id"));
    if (fid && strcmp(fid, id)) {
        json_decref(f);
        json_decref(nulls);
        return errf(err, cap, "id: the id of a subscription cannot be changed");
    }
    pthread_mutex_lock(&s->wmu);
    pthread_mutex_lock(&s->mu);
    struct sub *u = find(s, tenant, id);
    if (u) {
        merged = json_deep_copy(u->doc);
        ldctx_retain(u->ctx);
    }
    pthread_mutex_unlock(&s->mu);
    if (!u) {
        rc = VG_ENOENT;
        goto out;
    }
    size_t i;
    json_array_foreach(nulls, i, v) {
        const char *name = json_string_value(v);
        if (strcmp(name, "id") && strcmp(name, "type") && strcmp(name, "notification"))
            json_object_del(merged, name);
    }
    json_object_foreach(f, k, v) {
        json_t *cur = json_object_get(merged, k);
        if (!strcmp(k, "notification") && json_is_object(cur))
            json_object_update(cur, v);
        else
            json_object_set(merged, k, v);
    }
    fmt_time(now, ts, sizeof(ts));
    json_object_set_new(merged, "modifiedAt", json_string(ts));
    rc = parse_doc(merged, u->ctx, 0, 0, 1, &d, err, cap);
    if (!rc)
        rc = sub_build(d, u->ctx, tenant, &nu, err, cap); /* takes d */
    ldctx_release(u->ctx); /* u stays alive: only this thread (holding wmu) replaces it */
    if (rc)
        goto out;
    pthread_mutex_lock(&s->mu);
    nu->times_sent = u->times_sent;
    nu->last_notif = u->last_notif;
    nu->last_ok = u->last_ok;
    nu->last_fail = u->last_fail;
    nu->failing = u->failing;
    nu->last_sent = u->last_sent;
    size_t len;
    char *text = sub_text(nu, &len);
    pthread_mutex_unlock(&s->mu);
    if ((rc = commit_doc(s, tenant, id, text, len)))
        goto out;
    pthread_mutex_lock(&s->mu);
    nu->times_sent = u->times_sent;
    nu->last_notif = u->last_notif;
    nu->last_ok = u->last_ok;
    nu->last_fail = u->last_fail;
    nu->failing = u->failing;
    nu->last_sent = u->last_sent;
    nu->pending = u->pending;
    nu->pending_due = u->pending_due;
    u->pending = NULL;
    nu->dirty = u->dirty;
    struct sub **pp = &s->head;
    while (*pp != u)
        pp = &(*pp)->next;
    nu->next = u->next;
    *pp = nu;
    nu = NULL;
    u->removed = 1;
    sub_unref(u);
    pthread_mutex_unlock(&s->mu);
out:
    pthread_mutex_unlock(&s->wmu);
    sub_free(nu);
    json_decref(nulls);
    json_decref(merged);
    json_decref(f);
    return rc;
}

int subs_delete(struct subs *s, const char *tenant, const char *id)
{
    pthread_mutex_lock(&s->wmu);
    pthread_mutex_lock(&s->mu);
    struct sub *u = find(s, tenant, id);
    pthread_mutex_unlock(&s->mu);
    int rc = VG_ENOENT;
    if (u) {
        struct meta_doc_op op = {"subscription", tenant, id, NULL, 0};
        rc = meta_docs_commit(s->m, &op, 1);
    }
    if (u && !rc) {
        pthread_mutex_lock(&s->mu);
        struct sub **pp = &s->head;
        while (*pp != u)
            pp = &(*pp)->next;
        *pp = u->next;
        s->nsubs--;
        /* its queued notifications go too (the one in flight is dropped by its worker) */
        for (struct endpoint *ep = s->eps; ep; ep = ep->next) {
            struct notif *n = ep->busy && ep->head ? ep->head->next : ep->head;
            while (n) {
                struct notif *next = n->next;
                if (!strcmp(n->tenant, tenant) &&
                    !strcmp(json_string_value(json_object_get(n->d, "sub")), id)) {
                    ep_unlink(ep, n);
                    journal(s, "notification", n->tenant, n->doc_id, NULL, 0);
                    notif_free(n);
                }
                n = next;
            }
        }
        u->removed = 1;
        sub_unref(u);
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_unlock(&s->wmu);
    return rc;
}

/* ---- open / free ----------------------------------------------------------------------------- */

static struct ldctx *resolve_ctx(struct subs *s, const char *tenant, const json_t *v)
{
    struct ldctx *c = NULL;
    char err[300] = "";
    int rc = 0;
    if (!v)
        return ldctx_core(s->reg);
    const char *url = json_string_value(v);
    const char *hosted = url ? strstr(url, "/ngsi-ld/v1/jsonldContexts/") : NULL;
    if (hosted)
        rc = ldctx_resolve_url(s->reg, tenant, hosted + strlen("/ngsi-ld/v1/jsonldContexts/"), &c,
                               err, sizeof(err));
    else
        rc = ldctx_resolve(s->reg, tenant, v, &c, err, sizeof(err));
    if (rc) {
        log_warn("subscriptions: the @context of a subscription of tenant '%s' is not available "
                 "(%s): using the core context", tenant, err);
        c = ldctx_core(s->reg);
    }
    return c;
}

static int load_sub(void *arg, const struct meta_doc_row *row)
{
    struct subs *s = arg;
    json_error_t je;
    json_t *raw = json_loadb(row->doc, row->len, 0, &je), *d = NULL;
    char err[300] = "";
    if (!raw) {
        log_error("subscriptions: stored subscription '%s' is not JSON: dropped", row->id);
        return 0;
    }
    struct ldctx *c = resolve_ctx(s, row->tenant, json_object_get(raw, "@context"));
    struct sub *u = NULL;
    int rc = parse_doc(raw, c, 0, 0, 1, &d, err, sizeof(err));
    if (!rc)
        rc = sub_build(d, c, row->tenant, &u, err, sizeof(err));
    if (rc) {
        log_error("subscriptions: stored subscription '%s' is invalid (%s): ignored", row->id, err);
    } else {
        struct sub **pp = &s->head;
        while (*pp)
            pp = &(*pp)->next;
        *pp = u;
        s->nsubs++;
    }
    ldctx_release(c);
    json_decref(raw);
    return 0;
}

struct loaded {
    struct notif **v;
    uint32_t n, cap;
};

static int load_notif(void *arg, const struct meta_doc_row *row)
{
    struct loaded *l = arg;
    json_t *d = json_loadb(row->doc, row->len, 0, NULL);
    if (!d || !json_is_string(json_object_get(d, "ep")) ||
        !json_is_string(json_object_get(d, "sub")) ||
        !json_is_string(json_object_get(d, "uri")) || !json_is_string(json_object_get(d, "body"))) {
        json_decref(d);
        return 0;
    }
    struct notif *n = vg_calloc(1, sizeof(*n));
    snprintf(n->tenant, sizeof(n->tenant), "%s", row->tenant);
    snprintf(n->doc_id, sizeof(n->doc_id), "%s", row->id);
    n->d = d;
    n->seq = (uint64_t)json_integer_value(json_object_get(d, "seq"));
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = vg_realloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = n;
    return 0;
}

static int cmp_seq(const void *a, const void *b)
{
    const struct notif *x = *(struct notif *const *)a, *y = *(struct notif *const *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int subs_open(struct meta *m, struct ldctx_reg *reg, struct subs **out)
{
    struct subs *s = vg_calloc(1, sizeof(*s));
    s->m = m;
    s->reg = reg;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->wmu, NULL);
    pthread_cond_init(&s->wcond, NULL);
    pthread_cond_init(&s->hcond, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    mosquitto_lib_init();
    int rc = meta_docs_load(m, "subscription", load_sub, s);
    struct loaded l = {NULL, 0, 0};
    if (!rc)
        rc = meta_docs_load(m, "notification", load_notif, &l);
    if (l.n)
        qsort(l.v, l.n, sizeof(*l.v), cmp_seq);
    uint32_t kept = 0;
    for (uint32_t i = 0; i < l.n; i++) {
        struct notif *n = l.v[i];
        if (!rc && find(s, n->tenant, json_string_value(json_object_get(n->d, "sub")))) {
            enqueue(s, n->tenant, json_incref(n->d), n->seq, n->doc_id, 0);
            /* counted in timesSent before the restart */
            endpoint_get(s, json_string_value(json_object_get(n->d, "ep")), 0)->tail->attempts = 1;
            if (n->seq > s->seq)
                s->seq = n->seq;
            kept++;
        } else {
            journal(s, "notification", n->tenant, n->doc_id, NULL, 0);
        }
        notif_free(n);
    }
    free(l.v);
    if (rc) {
        log_error("subscriptions: cannot load the stored subscriptions: %s", vg_strerror(rc));
        subs_free(s);
        return rc;
    }
    if (kept)
        log_info("subscriptions: %u undelivered notifications reloaded", kept);
    for (int i = 0; i < NWORKERS; i++)
        if (pthread_create(&s->workers[s->nworkers], NULL, worker_main, s) == 0)
            s->nworkers++;
    if (pthread_create(&s->hk, NULL, hk_main, s) == 0)
        s->hk_running = 1;
    *out = s;
    return 0;
}

void subs_set_entstore(struct subs *s, struct entstore *es)
{
    pthread_mutex_lock(&s->mu);
    s->es = es;
    pthread_mutex_unlock(&s->mu);
}

void subs_free(struct subs *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, 1);
    pthread_mutex_lock(&s->mu);
    pthread_cond_broadcast(&s->wcond);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i], NULL);
    pthread_mutex_lock(&s->mu);
    s->workers_done = 1;
    pthread_cond_broadcast(&s->hcond);
    pthread_mutex_unlock(&s->mu);
    if (s->hk_running) {
        pthread_join(s->hk, NULL);
    } else {
        flush_journal(s);
        persist_dirty(s);
    }
    while (s->head) {
        struct sub *u = s->head;
        s->head = u->next;
        sub_free(u);
    }
    while (s->eps) {
        struct endpoint *ep = s->eps;
        s->eps = ep->next;
        while (ep->head) {
            struct notif *n = ep->head;
            ep->head = n->next;
            notif_free(n);
        }
        mqttc_free(ep->mq);
        free(ep);
    }
    for (uint32_t i = 0; i < s->njops; i++)
        free(s->jops[i].doc);
    free(s->jops);
    mosquitto_lib_cleanup();
    curl_global_cleanup();
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->wmu);
    pthread_cond_destroy(&s->wcond);
    pthread_cond_destroy(&s->hcond);
    free(s);
}
