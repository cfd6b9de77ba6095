/*
** ingest/gateway.c: the MQTT gateway (see gateway.h).
** Owns: struct gateway (parsed brokers and subscriptions), one struct broker per broker with
** its libmosquitto client, thread and message batch, and the set of unit codes already written.
**
** Broker thread loop (libmosquitto in external-thread mode, mosquitto_threaded_set):
**   connect -> poll(socket) -> read every message the socket holds (at most GW_BATCH_MSGS or
**   GW_BATCH_BYTES) into the batch -> flush: decode each message, one ingest_lp per
**   subscription (durable), bad messages to the quarantine (durable) -> only then write the
**   queued PUBACKs -> keepalive. A failed flush drops the connection unacknowledged: the broker
**   redelivers after the reconnection (backoff reconnect_min_s doubling to reconnect_max_s).
*/
#include "ingest/gateway.h"

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/strset.h"
#include "ingest/decode.h"
#include "ingest/decode_ngsild.h"

#include <errno.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GW_MAX_BROKERS 32
#define GW_MAX_SUBS 1024
#define GW_BATCH_MSGS 20000          /* messages per batch (one durable commit per source) */
#define GW_BATCH_BYTES (32u << 20)   /* payload bytes per batch */
#define GW_PAYLOAD_MAX (1u << 20)    /* larger messages are quarantined unread */
#define GW_UNITS_MAX 1000000
#define GW_PARALLEL_MIN 512          /* messages in a batch before decoding uses two threads */         /* remembered (tenant, entity, attribute) unit writes */

enum sub_format { FMT_DECODER = 1, FMT_LP, FMT_NGSILD };

struct sub {
    struct source *src;
    char name[SOURCE_NAME_MAX + 1];
    char tenant[64];
    char topic[256];
    int qos;
    enum sub_format fmt;
    enum lp_precision prec; /* FMT_LP */
    struct decode_spec *spec;
    struct broker *br;
    uint32_t index;        /* in br->subs */
    struct buf pending;    /* line protocol of the batch */
    uint64_t pending_msgs; /* messages whose lines are in pending */
};

struct msg {
    struct sub *sub;
    char *topic;
    char *payload;
    size_t len;
};

/* The quarantined messages of a batch, written in one durable transaction before the batch's
** PUBACKs (topic and payload are borrowed from the batch; reasons are owned). */
struct qlist {
    struct meta_quarantine_row *rows;
    char **reasons;
    uint32_t n, cap;
};

struct broker {
    struct gateway *g;
    char name[64];
    char host[256];
    int port;
    char client_id[128];
    char username[128];
    char password[256];
    int has_user;
    char ca_file[512], cert_file[512], key_file[512];
    int tls, tls_insecure;
    int keepalive;
    int clean_session;
    int protocol;        /* MQTT_PROTOCOL_V311 or V5 */
    int receive_maximum; /* MQTT v5: QoS 1 messages in flight before our acknowledgements */
    int reconnect_min_s, reconnect_max_s;
    int session_expiry_s; /* MQTT v5 persistent session: kept this long while disconnected */
    struct sub *subs[GW_MAX_SUBS];
    uint32_t nsubs;
    struct mosquitto *m;
    pthread_t thread;
    int running;
    int connected;
    struct msg *batch;
    struct half *half; /* the helper thread's buffers (flush) */
    struct qlist q;    /* the batch's undecodable messages */
    uint32_t nbatch;
    size_t batch_bytes;
};

struct unit_key_set {
    pthread_mutex_t mu;
    struct strset keys; /* tenant, entity, attribute and unit joined by 0x1f */
};

struct gateway {
    struct ingest *ig;
    struct meta *meta;
    struct sources *reg;
    json_t *file; /* the parsed gateway file (rules are borrowed from it) */
    struct broker *brokers[GW_MAX_BROKERS];
    uint32_t nbrokers;
    struct sub *subs[GW_MAX_SUBS];
    uint32_t nsubs;
    struct unit_key_set units;
    atomic_int stop;
    atomic_uint_fast64_t messages, batches, decode_errors, store_errors, reconnects;
};

/* ---- unit codes written once per (tenant, entity, attribute) ------------------------------- */

static int unit_wanted(void *arg, const char *entity, const char *attr, const char *unit)
{
    struct sub *sb = arg;
    struct unit_key_set *u = &sb->br->g->units;
    char key[1600];
    snprintf(key, sizeof(key), "%s\x1f%s\x1f%s\x1f%s", sb->tenant, entity, attr, unit);
    pthread_mutex_lock(&u->mu);
    int fresh = strset_add(&u->keys, key);
    pthread_mutex_unlock(&u->mu);
    return fresh;
}

/* ---- the gateway file ------------------------------------------------------------------------ */

static const char *str_member(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int copy_str(const json_t *o, const char *k, char *dst, size_t cap, int required,
                    const char *what, char *err, size_t ecap)
{
    const json_t *v = json_object_get(o, k);
    if (!v) {
        if (required)
            return vg_errf(err, ecap, VG_EINVAL, "%s: \"%s\" is required", what, k);
        return VG_OK;
    }
    if (!json_is_string(v) || json_string_length(v) >= cap)
        return vg_errf(err, ecap, VG_EINVAL, "%s: \"%s\" must be a string of at most %zu bytes",
                       what, k, cap - 1);
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return VG_OK;
}

static int int_member(const json_t *o, const char *k, int lo, int hi, int *dst, const char *what,
                      char *err, size_t cap)
{
    const json_t *v = json_object_get(o, k);
    if (!v)
        return VG_OK;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return vg_errf(err, cap, VG_EINVAL, "%s: \"%s\" must be an integer in %d..%d", what, k, lo,
                       hi);
    *dst = (int)json_integer_value(v);
    return VG_OK;
}

static int bool_member(const json_t *o, const char *k, int *dst, const char *what, char *err,
                       size_t cap)
{
    const json_t *v = json_object_get(o, k);
    if (!v)
        return VG_OK;
    if (!json_is_boolean(v))
        return vg_errf(err, cap, VG_EINVAL, "%s: \"%s\" must be true or false", what, k);
    *dst = json_is_true(v);
    return VG_OK;
}

/* A secret from a file (first line) or an environment variable; never logged. */
static int read_secret(const json_t *o, const char *what, char *dst, size_t cap, char *err,
                       size_t ecap)
{
    const char *file = str_member(o, "password_file");
    const char *env = str_member(o, "password_env");
    const json_t *plain = json_object_get(o, "password");
    if (plain)
        return vg_errf(err, ecap, VG_EINVAL,
                       "%s: write the password in a file (\"password_file\") or an "
                       "environment variable (\"password_env\"), not in the gateway file",
                       what);
    if (env) {
        const char *v = getenv(env);
        if (!v)
            return vg_errf(err, ecap, VG_EINVAL, "%s: environment variable %s is not set", what,
                           env);
        if (strlen(v) >= cap)
            return vg_errf(err, ecap, VG_EINVAL, "%s: the password is too long", what);
        snprintf(dst, cap, "%s", v);
        return VG_OK;
    }
    if (file) {
        FILE *f = fopen(file, "r");
        if (!f)
            return vg_errf(err, ecap, VG_EINVAL, "%s: cannot read password_file %s: %s", what, file,
                           strerror(errno));
        if (!fgets(dst, (int)cap, f))
            dst[0] = '\0';
        fclose(f);
        dst[strcspn(dst, "\r\n")] = '\0';
        return VG_OK;
    }
    return VG_OK;
}

static int parse_broker(struct gateway *g, const json_t *o, char *err, size_t cap)
{
    if (!json_is_object(o))
        return vg_errf(err, cap, VG_EINVAL, "brokers: every broker must be an object");
    if (g->nbrokers == GW_MAX_BROKERS)
        return vg_errf(err, cap, VG_EINVAL, "brokers: at most %d", GW_MAX_BROKERS);
    struct broker *b = vg_calloc(1, sizeof(*b));
    g->brokers[g->nbrokers++] = b;
    b->g = g;
    b->port = 1883;
    b->keepalive = 30;
    b->protocol = MQTT_PROTOCOL_V5;
    b->receive_maximum = 10000;
    b->reconnect_min_s = 1;
    b->reconnect_max_s = 60;
    b->session_expiry_s = 7 * 86400;
    snprintf(b->host, sizeof(b->host), "127.0.0.1");
    int rc;
    char what[96] = "brokers[]";
    if ((rc = copy_str(o, "name", b->name, sizeof(b->name), 1, what, err, cap)))
        return rc;
    snprintf(what, sizeof(what), "broker '%s'", b->name);
    for (uint32_t i = 0; i + 1 < g->nbrokers; i++)
        if (!strcmp(g->brokers[i]->name, b->name))
            return vg_errf(err, cap, VG_EINVAL, "%s: declared twice", what);
    snprintf(b->client_id, sizeof(b->client_id), "vigie-%s", b->name);
    if ((rc = copy_str(o, "host", b->host, sizeof(b->host), 0, what, err, cap)) ||
        (rc = copy_str(o, "client_id", b->client_id, sizeof(b->client_id), 0, what, err, cap)) ||
        (rc = copy_str(o, "username", b->username, sizeof(b->username), 0, what, err, cap)) ||
        (rc = int_member(o, "port", 1, 65535, &b->port, what, err, cap)) ||
        (rc = int_member(o, "keepalive", 5, 3600, &b->keepalive, what, err, cap)) ||
        (rc = int_member(o, "receive_maximum", 1, 65535, &b->receive_maximum, what, err, cap)) ||
        (rc = int_member(o, "reconnect_min_s", 1, 3600, &b->reconnect_min_s, what, err, cap)) ||
        (rc = int_member(o, "reconnect_max_s", 1, 3600, &b->reconnect_max_s, what, err, cap)) ||
        (rc = int_member(o, "session_expiry_s", 0, 0x7fffffff, &b->session_expiry_s, what, err,
                         cap)) ||
        (rc = bool_member(o, "clean_session", &b->clean_session, what, err, cap)) ||
        (rc = read_secret(o, what, b->password, sizeof(b->password), err, cap)))
        return rc;
    b->has_user = b->username[0] != '\0';
    const char *proto = str_member(o, "protocol");
    if (proto) {
        if (!strcmp(proto, "mqttv5"))
            b->protocol = MQTT_PROTOCOL_V5;
        else if (!strcmp(proto, "mqttv311"))
            b->protocol = MQTT_PROTOCOL_V311;
        else
            return vg_errf(err, cap, VG_EINVAL,
                           "%s: \"protocol\" must be \"mqttv5\" or \"mqttv311\"", what);
    }
    if (b->reconnect_max_s < b->reconnect_min_s)
        b->reconnect_max_s = b->reconnect_min_s;
    const json_t *tls = json_object_get(o, "tls");
    if (tls) {
        if (!json_is_object(tls))
            return vg_errf(err, cap, VG_EINVAL, "%s: \"tls\" must be an object", what);
        b->tls = 1;
        if ((rc = copy_str(tls, "ca_file", b->ca_file, sizeof(b->ca_file), 1, what, err, cap)) ||
            (rc = copy_str(tls, "cert_file", b->cert_file, sizeof(b->cert_file), 0, what, err,
                           cap)) ||
            (rc = copy_str(tls, "key_file", b->key_file, sizeof(b->key_file), 0, what, err,
                           cap)) ||
            (rc = bool_member(tls, "insecure", &b->tls_insecure, what, err, cap)))
            return rc;
        if (!b->cert_file[0] != !b->key_file[0])
            return vg_errf(err, cap, VG_EINVAL,
                           "%s: tls needs both cert_file and key_file, or neither", what);
    }
    return VG_OK;
}

static struct broker *broker_named(struct gateway *g, const char *name)
{
    for (uint32_t i = 0; i < g->nbrokers; i++)
        if (!strcmp(g->brokers[i]->name, name))
            return g->brokers[i];
    return NULL;
}

static int parse_source(struct gateway *g, const json_t *o, char *err, size_t cap)
{
    char name[SOURCE_NAME_MAX + 1] = "", owner[128] = "", tenant[64] = "default";
    char what[200] = "sources[]";
    int rc;
    if (!json_is_object(o))
        return vg_errf(err, cap, VG_EINVAL, "sources: every source must be an object");
    if ((rc = copy_str(o, "name", name, sizeof(name), 1, what, err, cap)))
        return rc;
    snprintf(what, sizeof(what), "source '%s'", name);
    if ((rc = copy_str(o, "owner", owner, sizeof(owner), 0, what, err, cap)) ||
        (rc = copy_str(o, "tenant", tenant, sizeof(tenant), 0, what, err, cap)))
        return rc;
    int64_t cadence = 0;
    const json_t *c = json_object_get(o, "cadence");
    if (c && (!json_is_string(c) || clock_parse_duration(json_string_value(c), &cadence)))
        return vg_errf(err, cap, VG_EINVAL,
                       "%s: \"cadence\" must be a duration such as \"15m\", \"1h\", \"1d\"", what);
    const json_t *mq = json_object_get(o, "mqtt");
    const char *key = str_member(o, "api_key");
    const char *imp = str_member(o, "import");
    int kinds = !!mq + !!key + !!imp;
    if (kinds != 1)
        return vg_errf(err, cap, VG_EINVAL,
                       "%s: needs exactly one of \"mqtt\", \"api_key\", \"import\"", what);
    enum source_kind kind = mq ? SOURCE_MQTT : key ? SOURCE_HTTP : SOURCE_IMPORT;
    struct source *src = NULL;
    rc = sources_declare(g->reg, name, kind, tenant, owner, cadence, &src);
    if (rc == VG_EEXIST)
        return vg_errf(err, cap, VG_EINVAL, "%s: declared twice", what);
    if (rc)
        return vg_errf(err, cap, VG_EINVAL, "%s: %s", what, vg_strerror(rc));
    if (key || imp) {
        char bkey[160];
        snprintf(bkey, sizeof(bkey), "%s:%s", key ? "key" : "import", key ? key : imp);
        if (sources_bind(g->reg, bkey, name))
            return vg_errf(err, cap, VG_EINVAL, "%s: bad \"%s\"", what, key ? "api_key" : "import");
        return VG_OK;
    }
    if (!json_is_object(mq))
        return vg_errf(err, cap, VG_EINVAL, "%s: \"mqtt\" must be an object {broker, topic, qos}",
                       what);
    if (g->nsubs == GW_MAX_SUBS)
        return vg_errf(err, cap, VG_EINVAL, "%s: at most %d MQTT sources", what, GW_MAX_SUBS);
    struct sub *sb = vg_calloc(1, sizeof(*sb));
    g->subs[g->nsubs++] = sb;
    sb->src = src;
    snprintf(sb->name, sizeof(sb->name), "%s", name);
    snprintf(sb->tenant, sizeof(sb->tenant), "%s", tenant);
    sb->qos = 1;
    buf_init(&sb->pending, 0);
    char bname[64] = "";
    if ((rc = copy_str(mq, "broker", bname, sizeof(bname), 1, what, err, cap)) ||
        (rc = copy_str(mq, "topic", sb->topic, sizeof(sb->topic), 1, what, err, cap)) ||
        (rc = int_member(mq, "qos", 0, 1, &sb->qos, what, err, cap)))
        return rc;
    if (mosquitto_sub_topic_check(sb->topic) != MOSQ_ERR_SUCCESS)
        return vg_errf(err, cap, VG_EINVAL, "%s: \"%s\" is not a valid MQTT subscription", what,
                       sb->topic);
    sb->br = broker_named(g, bname);
    if (!sb->br)
        return vg_errf(err, cap, VG_EINVAL, "%s: no broker named '%s'", what, bname);
    if (sb->br->nsubs == GW_MAX_SUBS)
        return vg_errf(err, cap, VG_EINVAL, "%s: too many sources on broker '%s'", what, bname);
    sb->index = sb->br->nsubs;
    sb->br->subs[sb->br->nsubs++] = sb;
    const json_t *d = json_object_get(o, "decoder");
    if (json_is_string(d) && !strcmp(json_string_value(d), "lp")) {
        sb->fmt = FMT_LP;
        const char *p = str_member(o, "precision");
        int prec = lp_precision_parse(p);
        if (prec < 0)
            return vg_errf(err, cap, VG_EINVAL, "%s: \"precision\" must be ns, us, ms or s", what);
        sb->prec = (enum lp_precision)prec;
    } else if (json_is_string(d) && !strcmp(json_string_value(d), "ngsi-ld")) {
        sb->fmt = FMT_NGSILD;
    } else if (json_is_object(d)) {
        char derr[400];
        sb->fmt = FMT_DECODER;
        if (decode_spec_parse(d, &sb->spec, derr, sizeof(derr)))
            return vg_errf(err, cap, VG_EINVAL, "%s: %s", what, derr);
    } else {
        return vg_errf(err, cap, VG_EINVAL,
                       "%s: \"decoder\" must be \"lp\", \"ngsi-ld\" or a decoder object "
                       "(docs/decoders.md)",
                       what);
    }
    return VG_OK;
}

int gateway_load(const char *path, struct ingest *ig, struct meta *meta, struct sources *reg,
                 struct gateway **out, char *err, size_t cap)
{
    char e[512] = "";
    json_error_t je;
    struct stat st;
    if (stat(path, &st) || st.st_size > (off_t)GATEWAY_FILE_MAX) {
        snprintf(err, cap, "%s: %s", path, errno ? strerror(errno) : "file too large");
        return VG_EINVAL;
    }
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        snprintf(err, cap, "%s:%d:%d: %s", path, je.line, je.column, je.text);
        return VG_EINVAL;
    }
    struct gateway *g = vg_calloc(1, sizeof(*g));
    g->ig = ig;
    g->meta = meta;
    g->reg = reg;
    g->file = root;
    pthread_mutex_init(&g->units.mu, NULL);
    strset_init(&g->units.keys, GW_UNITS_MAX); /* bounded: forgotten units are written again */
    int rc = VG_OK;
    const char *k;
    json_t *v;
    if (!json_is_object(root)) {
        rc = vg_errf(e, sizeof(e), VG_EINVAL, "the gateway file must be a JSON object");
        goto out;
    }
    json_object_foreach(root, k, v) {
        if (strcmp(k, "brokers") && strcmp(k, "sources") && strcmp(k, "rules") &&
            strcmp(k, "comment")) {
            rc = vg_errf(e, sizeof(e), VG_EINVAL, "unknown member \"%s\" (brokers, sources, rules)",
                         k);
            goto out;
        }
    }
    const json_t *arr = json_object_get(root, "brokers");
    size_t i;
    if (arr && !json_is_array(arr)) {
        rc = vg_errf(e, sizeof(e), VG_EINVAL, "\"brokers\" must be an array");
        goto out;
    }
    json_array_foreach(arr, i, v) {
        if ((rc = parse_broker(g, v, e, sizeof(e))))
            goto out;
    }
    arr = json_object_get(root, "sources");
    if (arr && !json_is_array(arr)) {
        rc = vg_errf(e, sizeof(e), VG_EINVAL, "\"sources\" must be an array");
        goto out;
    }
    json_array_foreach(arr, i, v) {
        if ((rc = parse_source(g, v, e, sizeof(e))))
            goto out;
    }
    arr = json_object_get(root, "rules");
    if (arr && !json_is_array(arr))
        rc = vg_errf(e, sizeof(e), VG_EINVAL, "\"rules\" must be an array");
out:
    if (rc) {
        snprintf(err, cap, "%s: %s", path, e);
        gateway_free(g);
        return rc;
    }
    *out = g;
    return VG_OK;
}

const json_t *gateway_rules(const struct gateway *g)
{
    return json_object_get(g->file, "rules");
}

/* ---- processing a batch -------------------------------------------------------------------- */

static void qlist_add(struct qlist *q, const struct sub *sb, const char *topic,
                      const char *payload, size_t len, const char *why)
{
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 16;
        q->rows = vg_realloc(q->rows, q->cap * sizeof(*q->rows));
        q->reasons = vg_realloc(q->reasons, q->cap * sizeof(*q->reasons));
    }
    char reason[800];
    snprintf(reason, sizeof(reason), "topic %.200s: %s", topic, why);
    q->reasons[q->n] = vg_strdup(reason);
    q->rows[q->n] = (struct meta_quarantine_row){0, 0, sb->tenant, sb->name, q->reasons[q->n],
                                                 payload, VG_MIN(len, (size_t)GW_PAYLOAD_MAX),
                                                 "mqtt", topic};
    q->n++;
}

/* Move src's rows after dst's. */
static void qlist_take(struct qlist *dst, struct qlist *src)
{
    for (uint32_t i = 0; i < src->n; i++) {
        if (dst->n == dst->cap) {
            dst->cap = dst->cap ? dst->cap * 2 : 16;
            dst->rows = vg_realloc(dst->rows, dst->cap * sizeof(*dst->rows));
            dst->reasons = vg_realloc(dst->reasons, dst->cap * sizeof(*dst->reasons));
        }
        dst->rows[dst->n] = src->rows[i];
        dst->reasons[dst->n++] = src->reasons[i];
    }
    src->n = 0;
}

/* Write the rows (one transaction) and empty the list. Returns 0 or the meta error. */
static int qlist_flush(struct gateway *g, struct qlist *q)
{
    int rc = meta_quarantine_add(g->meta, q->rows, q->n);
    if (rc)
        log_error("gateway: cannot quarantine %u messages: %s", q->n, vg_strerror(rc));
    for (uint32_t i = 0; i < q->n; i++)
        free(q->reasons[i]);
    q->n = 0;
    return rc;
}

static void qlist_release(struct qlist *q)
{
    for (uint32_t i = 0; i < q->n; i++)
        free(q->reasons[i]);
    free(q->rows);
    free(q->reasons);
    memset(q, 0, sizeof(*q));
}

/* Decode one message into out; on failure add it to q. Returns 1 when decoded. */
static int decode_one(struct gateway *g, struct sub *sb, struct buf *out, struct qlist *q,
                      const char *topic, const char *payload, size_t len, int64_t now)
{
    char why[512] = "";
    int rc;
    if (len > GW_PAYLOAD_MAX) {
        snprintf(why, sizeof(why), "payload of %zu bytes is over the %u-byte limit", len,
                 GW_PAYLOAD_MAX);
        rc = VG_ETOOBIG;
    } else if (sb->fmt == FMT_LP) {
        buf_append(out, payload, len);
        if (len && payload[len - 1] != '\n')
            buf_putc(out, '\n');
        rc = 1;
    } else if (sb->fmt == FMT_NGSILD) {
        rc = decode_ngsild(payload, len, ingest_id_tag(g->ig), now, out, why, sizeof(why));
    } else {
        rc = decode_message(sb->spec, topic, payload, len, ingest_id_tag(g->ig), now,
                            unit_wanted, sb, out, why, sizeof(why));
    }
    if (rc > 0)
        return 1;
    atomic_fetch_add(&g->decode_errors, 1);
    qlist_add(q, sb, topic, payload, len, why[0] ? why : vg_strerror(rc));
    source_seen(sb->src, 0, 0, 1, now);
    return 0;
}

/* Store what the subscription's pending buffer holds; *stored (may be NULL) = records stored,
** err (may be NULL) = the ingest's first errors. Returns 0 or the store error. */
static int store_pending(struct gateway *g, struct sub *sb, int64_t now, uint64_t *stored,
                         char *err, size_t cap)
{
    if (stored)
        *stored = 0;
    if (!sb->pending.len) {
        if (sb->pending_msgs)
            source_seen(sb->src, sb->pending_msgs, 0, 0, now);
        sb->pending_msgs = 0;
        return VG_OK;
    }
    struct ingest_result res;
    enum lp_precision prec = sb->fmt == FMT_LP ? sb->prec : LP_MS;
    int rc = ingest_lp(g->ig, sb->tenant, sb->name, sb->pending.p, sb->pending.len, prec, now,
                       &res);
    if (rc) {
        char e[300];
        snprintf(e, sizeof(e), "store: %s", vg_strerror(rc));
        source_error(sb->src, e, now);
        atomic_fetch_add(&g->store_errors, 1);
    } else {
        source_seen(sb->src, sb->pending_msgs, res.lines - res.bad, res.bad, now);
        if (res.bad)
            source_error(sb->src, res.first_errors, now);
        if (stored)
            *stored = res.lines - res.bad;
        if (err && res.bad)
            snprintf(err, cap, "%s", res.first_errors);
    }
    sb->pending.len = 0;
    sb->pending_msgs = 0;
    return rc;
}

static void batch_clear(struct broker *b)
{
    for (uint32_t i = 0; i < b->nbatch; i++) {
        free(b->batch[i].topic);
        free(b->batch[i].payload);
    }
    b->nbatch = 0;
    b->batch_bytes = 0;
}

/* Decode and store the batch. Returns 0 when every message is durable (stored or quarantined). */
/* The second half of a large batch, decoded by a helper thread into its own buffers (one per
** subscription of the broker), appended after the first half's: order is kept. */
struct half {
    struct broker *b;
    uint32_t lo, hi;
    int64_t now;
    struct buf out[GW_MAX_SUBS];
    uint64_t msgs[GW_MAX_SUBS];
    struct qlist q;
};

static void decode_range(struct broker *b, uint32_t lo, uint32_t hi, int64_t now,
                         struct half *h)
{
    for (uint32_t i = lo; i < hi; i++) {
        struct msg *m = &b->batch[i];
        struct buf *out = h ? &h->out[m->sub->index] : &m->sub->pending;
        struct qlist *q = h ? &h->q : &b->q;
        if (decode_one(b->g, m->sub, out, q, m->topic, m->payload, m->len, now)) {
            if (h)
                h->msgs[m->sub->index]++;
            else
                m->sub->pending_msgs++;
        }
    }
}

static void *decode_half(void *arg)
{
    struct half *h = arg;
    decode_range(h->b, h->lo, h->hi, h->now, h);
    return NULL;
}

/* Decode and store the batch. Returns 0 when every message is durable (stored or quarantined).
** Decoding (JSON parsing: most of the CPU per message) of a batch of GW_PARALLEL_MIN messages
** or more is split in two threads. */
static int flush(struct broker *b)
{
    struct gateway *g = b->g;
    int64_t now = clock_now_ms();
    int rc = VG_OK;
    if (!b->nbatch)
        return VG_OK;
    struct half *h = NULL;
    pthread_t th;
    uint32_t mid = b->nbatch;
    if (b->nbatch >= GW_PARALLEL_MIN) {
        h = b->half;
        mid = b->nbatch / 2;
        h->b = b;
        h->lo = mid;
        h->hi = b->nbatch;
        h->now = now;
        for (uint32_t i = 0; i < b->nsubs; i++) {
            h->out[i].len = 0;
            h->msgs[i] = 0;
        }
        if (pthread_create(&th, NULL, decode_half, h)) {
            h = NULL;
            mid = b->nbatch;
        }
    }
    decode_range(b, 0, mid, now, NULL);
    if (h) {
        pthread_join(th, NULL);
        for (uint32_t i = 0; i < b->nsubs; i++) {
            buf_append(&b->subs[i]->pending, h->out[i].p, h->out[i].len);
            b->subs[i]->pending_msgs += h->msgs[i];
        }
        qlist_take(&b->q, &h->q);
    }
    rc = qlist_flush(g, &b->q);
    for (uint32_t i = 0; i < b->nsubs; i++) {
        int r = store_pending(g, b->subs[i], now, NULL, NULL, 0);
        if (r && !rc)
            rc = r;
    }
    atomic_fetch_add(&g->messages, b->nbatch);
    atomic_fetch_add(&g->batches, 1);
    batch_clear(b);
    return rc;
}

static void on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *mm)
{
    struct broker *b = arg;
    struct sub *sb = NULL;
    for (uint32_t i = 0; i < b->nsubs && !sb; i++) {
        bool match = false;
        if (mosquitto_topic_matches_sub(b->subs[i]->topic, mm->topic, &match) ==
                MOSQ_ERR_SUCCESS && match)
            sb = b->subs[i];
    }
    if (!sb) /* a subscription of an earlier configuration kept by the persistent session */
        return;
    if (b->nbatch == GW_BATCH_MSGS) /* cannot happen: the read loop stops before */
        return;
    struct msg *x = &b->batch[b->nbatch++];
    x->sub = sb;
    x->topic = vg_strdup(mm->topic);
    x->len = mm->payloadlen > 0 ? (size_t)mm->payloadlen : 0;
    x->payload = vg_malloc(x->len + 1);
    if (x->len)
        memcpy(x->payload, mm->payload, x->len);
    x->payload[x->len] = '\0';
    b->batch_bytes += x->len;
}

static void on_connect(struct mosquitto *m, void *arg, int rc)
{
    struct broker *b = arg;
    if (rc) {
        char e[200];
        snprintf(e, sizeof(e), "broker %s refused the connection: %s", b->name,
                 mosquitto_connack_string(rc));
        log_error("gateway: %s", e);
        for (uint32_t i = 0; i < b->nsubs; i++)
            source_error(b->subs[i]->src, e, clock_now_ms());
        return;
    }
    b->connected = 1;
    log_info("gateway: connected to broker %s (%s:%d)", b->name, b->host, b->port);
    for (uint32_t i = 0; i < b->nsubs; i++) {
        struct sub *sb = b->subs[i];
        int src = mosquitto_subscribe(m, NULL, sb->topic, sb->qos);
        if (src != MOSQ_ERR_SUCCESS)
            log_error("gateway: source %s: cannot subscribe to %s: %s", sb->name, sb->topic,
                      mosquitto_strerror(src));
        source_set_connected(sb->src, 1);
    }
}

/* ---- the broker thread ------------------------------------------------------------------- */

static void set_down(struct broker *b, const char *why)
{
    if (b->connected)
        log_warn("gateway: lost broker %s: %s", b->name, why);
    b->connected = 0;
    for (uint32_t i = 0; i < b->nsubs; i++)
        source_set_connected(b->subs[i]->src, 0);
}

/* Sleep up to ms, waking early when the gateway stops. */
static void nap(struct gateway *g, int ms)
{
    while (ms > 0 && !atomic_load(&g->stop)) {
        usleep(100000);
        ms -= 100;
    }
}

/* Write what libmosquitto has queued (PUBACKs, SUBSCRIBE, PINGREQ). Returns a MOSQ_ERR. */
static int write_all(struct broker *b)
{
    int guard = 0;
    while (mosquitto_want_write(b->m) && guard++ < 10000) {
        int rc = mosquitto_loop_write(b->m, 1);
        if (rc != MOSQ_ERR_SUCCESS)
            return rc;
        if (mosquitto_want_write(b->m)) {
            struct pollfd p = {mosquitto_socket(b->m), POLLOUT, 0};
            if (poll(&p, 1, 1000) < 0 && errno != EINTR)
                return MOSQ_ERR_ERRNO;
        }
    }
    return MOSQ_ERR_SUCCESS;
}

/* One connection's life: returns when it is lost or the gateway stops. */
static void serve_connection(struct broker *b)
{
    struct gateway *g = b->g;
    while (!atomic_load(&g->stop)) {
        int fd = mosquitto_socket(b->m);
        if (fd < 0)
            return set_down(b, "no socket");
        struct pollfd p = {fd, POLLIN | (mosquitto_want_write(b->m) ? POLLOUT : 0), 0};
        int n = poll(&p, 1, 200);
        if (n < 0 && errno != EINTR)
            return set_down(b, strerror(errno));
        int rc = MOSQ_ERR_SUCCESS;
        if (n > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
            /* Read every packet the socket holds, within the batch bounds. */
            do {
                rc = mosquitto_loop_read(b->m, 1);
                if (rc != MOSQ_ERR_SUCCESS)
                    break;
                p.events = POLLIN;
                p.revents = 0;
            } while (b->nbatch < GW_BATCH_MSGS && b->batch_bytes < GW_BATCH_BYTES &&
                     poll(&p, 1, 0) > 0 && (p.revents & POLLIN));
            /* Durable first; the PUBACKs queued during the reads go out after. */
            int frc = flush(b);
            if (frc) {
                log_error("gateway: broker %s: a batch could not be stored (%s); dropping the "
                          "connection unacknowledged so that the broker delivers it again",
                          b->name, vg_strerror(frc));
                mosquitto_disconnect(b->m);
                return set_down(b, "store error");
            }
            if (rc != MOSQ_ERR_SUCCESS)
                return set_down(b, mosquitto_strerror(rc));
        }
        if ((rc = write_all(b)) != MOSQ_ERR_SUCCESS)
            return set_down(b, mosquitto_strerror(rc));
        if ((rc = mosquitto_loop_misc(b->m)) != MOSQ_ERR_SUCCESS)
            return set_down(b, mosquitto_strerror(rc));
    }
}

static void *broker_main(void *arg)
{
    struct broker *b = arg;
    struct gateway *g = b->g;
    int backoff = b->reconnect_min_s;
    int first = 1;
    while (!atomic_load(&g->stop)) {
        int rc;
        if (first) {
            /* MQTT v5 ends a session at disconnection unless it has an expiry interval; the
            ** property is kept by libmosquitto for the reconnections. */
            mosquitto_property *props = NULL;
            if (b->protocol == MQTT_PROTOCOL_V5 && !b->clean_session)
                mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
                                             (uint32_t)b->session_expiry_s);
            rc = mosquitto_connect_bind_v5(b->m, b->host, b->port, b->keepalive, NULL, props);
            mosquitto_property_free_all(&props);
        } else {
            rc = mosquitto_reconnect(b->m);
        }
        if (rc == MOSQ_ERR_SUCCESS) {
            first = 0;
            if (write_all(b) == MOSQ_ERR_SUCCESS) {
                int64_t t0 = clock_now_ms();
                serve_connection(b);
                if (clock_now_ms() - t0 > 10000)
                    backoff = b->reconnect_min_s; /* it had worked for a while */
            }
            batch_clear(b); /* unacknowledged: the broker delivers it again */
            set_down(b, "connection closed");
        } else {
            char e[700];
            snprintf(e, sizeof(e), "cannot connect to broker %s (%s:%d): %s", b->name, b->host,
                     b->port, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
            log_warn("gateway: %s; retrying in %d s", e, backoff);
            for (uint32_t i = 0; i < b->nsubs; i++)
                source_error(b->subs[i]->src, e, clock_now_ms());
        }
        if (atomic_load(&g->stop))
            break;
        atomic_fetch_add(&g->reconnects, 1);
        nap(g, backoff * 1000);
        backoff = VG_MIN(backoff * 2, b->reconnect_max_s);
    }
    if (b->connected)
        mosquitto_disconnect(b->m);
    return NULL;
}

static int broker_client(struct broker *b)
{
    b->m = mosquitto_new(b->client_id, b->clean_session ? true : false, b);
    if (!b->m) {
        log_error("gateway: broker %s: cannot create the MQTT client: %s", b->name,
                  strerror(errno));
        return VG_EIO;
    }
    mosquitto_threaded_set(b->m, true); /* we run the loop: PUBACKs leave when we write */
    mosquitto_int_option(b->m, MOSQ_OPT_PROTOCOL_VERSION, b->protocol);
    if (b->protocol == MQTT_PROTOCOL_V5)
        mosquitto_int_option(b->m, MOSQ_OPT_RECEIVE_MAXIMUM, b->receive_maximum);
    mosquitto_int_option(b->m, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_connect_callback_set(b->m, on_connect);
    mosquitto_message_callback_set(b->m, on_message);
    if (b->has_user &&
        mosquitto_username_pw_set(b->m, b->username, b->password[0] ? b->password : NULL)) {
        log_error("gateway: broker %s: bad username or password setting", b->name);
        return VG_EINVAL;
    }
    if (b->tls) {
        int rc = mosquitto_tls_set(b->m, b->ca_file, NULL, b->cert_file[0] ? b->cert_file : NULL,
                                   b->key_file[0] ? b->key_file : NULL, NULL);
        if (rc == MOSQ_ERR_SUCCESS && b->tls_insecure)
            rc = mosquitto_tls_insecure_set(b->m, true);
        if (rc != MOSQ_ERR_SUCCESS) {
            log_error("gateway: broker %s: TLS setup: %s", b->name, mosquitto_strerror(rc));
            return VG_EINVAL;
        }
    }
    b->batch = vg_calloc(GW_BATCH_MSGS, sizeof(*b->batch));
    b->half = vg_calloc(1, sizeof(*b->half));
    for (uint32_t i = 0; i < b->nsubs; i++)
        buf_init(&b->half->out[i], 0);
    return VG_OK;
}

int gateway_start(struct gateway *g)
{
    for (uint32_t i = 0; i < g->nbrokers; i++) {
        struct broker *b = g->brokers[i];
        int rc = broker_client(b);
        if (rc)
            return rc;
        if (pthread_create(&b->thread, NULL, broker_main, b)) {
            log_error("gateway: cannot start the thread of broker %s", b->name);
            return VG_EIO;
        }
        b->running = 1;
    }
    if (g->nbrokers)
        log_info("gateway: %u brokers, %u MQTT sources", g->nbrokers, g->nsubs);
    return VG_OK;
}

void gateway_free(struct gateway *g)
{
    if (!g)
        return;
    atomic_store(&g->stop, 1);
    for (uint32_t i = 0; i < g->nbrokers; i++) {
        struct broker *b = g->brokers[i];
        if (b->running)
            pthread_join(b->thread, NULL);
        batch_clear(b);
        free(b->batch);
        if (b->half) {
            for (uint32_t j = 0; j < b->nsubs; j++)
                buf_release(&b->half->out[j]);
            qlist_release(&b->half->q);
        }
        free(b->half);
        qlist_release(&b->q);
        if (b->m)
            mosquitto_destroy(b->m);
        memset(b->password, 0, sizeof(b->password));
        free(b);
    }
    for (uint32_t i = 0; i < g->nsubs; i++) {
        decode_spec_free(g->subs[i]->spec);
        buf_release(&g->subs[i]->pending);
        free(g->subs[i]);
    }
    strset_release(&g->units.keys);
    pthread_mutex_destroy(&g->units.mu);
    json_decref(g->file);
    free(g);
}

int gateway_replay(struct gateway *g, const char *source, const char *topic,
                   const char *payload, size_t len, uint64_t *stored, char *err, size_t cap)
{
    struct sub *sb = NULL;
    for (uint32_t i = 0; i < g->nsubs && !sb; i++)
        if (!strcmp(g->subs[i]->name, source))
            sb = g->subs[i];
    *stored = 0;
    if (!sb) {
        snprintf(err, cap, "no MQTT source '%s' in the gateway file", source);
        return VG_ENOENT;
    }
    /* Replays run outside the broker threads: a private pending buffer. */
    struct sub tmp = *sb;
    struct qlist q = {0};
    buf_init(&tmp.pending, 0);
    tmp.pending_msgs = 0;
    int64_t now = clock_now_ms();
    int rc;
    if (decode_one(g, &tmp, &tmp.pending, &q, topic, payload, len, now)) {
        tmp.pending_msgs = 1;
        rc = store_pending(g, &tmp, now, stored, err, cap);
        if (rc)
            snprintf(err, cap, "store: %s", vg_strerror(rc));
    } else {
        rc = qlist_flush(g, &q);
        snprintf(err, cap, "the message fails again (quarantined again)");
    }
    qlist_release(&q);
    buf_release(&tmp.pending);
    return rc;
}

void gateway_get_stats(struct gateway *g, struct gateway_stats *st)
{
    st->messages = atomic_load(&g->messages);
    st->batches = atomic_load(&g->batches);
    st->decode_errors = atomic_load(&g->decode_errors);
    st->store_errors = atomic_load(&g->store_errors);
    st->reconnects = atomic_load(&g->reconnects);
}
