/*
** alerts/notify.c: alert notifications to webhooks, MQTT and SMTP (docs/notifications.md).
** Owns: per receiver a ring of struct msg (heap copies made by notify_post), the message being
** attempted (r->cur, outside the ring), one thread, its CURL or mosquitto handle; the copy of
** the configuration (secrets wiped with sodium_memzero on notify_free).
** Borrows: nothing.
** Thread: notify_post runs on the caller's thread and only takes receiver mutexes; everything
** that does I/O runs on the receiver's own thread, so a dead receiver only fills its own queue.
**
** One receiver's thread:
**
**        queue empty (cond wait; MQTT: service the connection every 200 ms)
**   IDLE <------------------------------------------------+
**    |  message queued [notify_post signals]              | delivered / rejected / too old
**    v                                                    |
**   ATTEMPT [deliver_webhook | deliver_mqtt | deliver_smtp] --+
**    |  transport error, HTTP 408/429/5xx/3xx, SMTP 4xx, MQTT broker down
**    v
**   BACKOFF: wait min(min_ms * 2^(k-1), max_ms) +-20 % on the cond (notify_free wakes it),
**            then ATTEMPT the same message again (order is kept; new ones wait behind it)
**
** Stop: notify_free sets r->stop and broadcasts; a transfer in progress is aborted by the curl
** progress callback (called at least once a second) or by the 100 ms MQTT loop.
*/
#include "alerts/notify.h"

#include "alerts/rule.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/vg.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <mosquitto.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_MIN_DEFAULT_MS 1000u
#define BACKOFF_MAX_DEFAULT_MS 300000u
#define MQTT_BACKOFF_MAX_MS 30000u /* reconnecting to a broker: never wait longer than this */
#define CONNECT_TIMEOUT_MS 5000
#define TOTAL_TIMEOUT_MS 10000
#define IDLE_POLL_MS 200          /* MQTT keepalive servicing while idle */
#define ALERT_JSON_MAX (1u << 20) /* larger alert documents are sent as null */
#define SUBJECT_MAX 200           /* bytes of the alert message kept in a Subject */
#define BODY_VALUE_MAX 900        /* bytes of one field value in an e-mail body line */
#define RESP_BODY_MAX 4096        /* bytes of a webhook response kept (for the log) */
#define QUEUE_MAX_LIMIT 1000000u

enum outcome { OUT_DELIVERED, OUT_RETRY, OUT_REJECTED };

struct msg {
    int64_t enq_ns; /* clock_mono_ns at notify_post */
    int severity;
    char *tenant, *event, *alert; /* point into data[] */
    char *payload;                /* built on the first attempt (heap), freed with the msg */
    size_t payload_len;
    int64_t payload_ts;           /* unix seconds the payload was dated/signed with */
    char data[];
};

struct recv {
    struct notify *n;
    struct notify_receiver_config cfg;
    uint32_t index;
    char target[NOTIFY_URL_MAX]; /* for logs and metrics: no userinfo, no query */
    pthread_t th;
    int started;

    pthread_mutex_t mu; /* guards everything below down to the thread-only part */
    pthread_cond_t cv;
    struct msg **ring;
    uint32_t cap, head, len;
    struct msg *cur; /* taken from the ring, being attempted */
    int waiting;     /* the thread waits for a message: notify_post must signal */
    int stop;        /* also read without the lock (__atomic) by the curl progress callback */
    int up;
    uint64_t queued, delivered, retries, dropped, rejected;
    uint64_t burst_drops; /* drops since the burst was last logged */
    int burst_logged;

    /* thread-only */
    CURL *curl;
    struct mosquitto *mq;
    int mq_connected, mq_failed, mq_acked, mq_mid;
    uint32_t failures; /* consecutive failed attempts */
};

struct notify {
    struct recv *r;
    uint32_t n;
    int64_t max_age_ns;
    uint32_t backoff_min_ms, backoff_max_ms;
};

static const char *const kind_names[] = {"webhook", "mqtt", "smtp"};

const char *notify_kind_name(enum notify_kind k)
{
    if ((unsigned)k >= VG_ARRAY_LEN(kind_names))
        return "unknown";
    return kind_names[k];
}

/* ------------------------------------------------------------------------------------------ */
/* Configuration                                                                               */

void notify_config_init(struct notify_config *c)
{
    memset(c, 0, sizeof(*c));
}

void notify_config_release(struct notify_config *c)
{
    sodium_memzero(c, sizeof(*c));
}

static int parse_severity(const char *s)
{
    for (int i = 0; i <= 4; i++)
        if (!strcmp(s, rule_severity_name(i)))
            return i;
    return -1;
}

/* Copy s into dst[dcap]; VG_EINVAL naming what when empty or too long. */
static int copy_field(char *dst, size_t dcap, const char *s, const char *key, const char *what,
                      char *err, size_t cap)
{
    size_t n = strlen(s);
    if (n == 0 || n >= dcap)
        return vg_errf(err, cap, VG_EINVAL, "%s: %s must be 1 to %zu bytes", key, what, dcap - 1);
    memcpy(dst, s, n + 1);
    return 0;
}

/* Read a secret file into dst (at most dcap - 1 bytes), strip one trailing newline. */
static int read_secret(const char *path, char *dst, size_t dcap, size_t *len, const char *key,
                       const char *opt, char *err, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n;
    int rc = 0;
    if (!f)
        return vg_errf(err, cap, VG_EINVAL, "%s: cannot read %s '%s': %s", key, opt, path,
                       strerror(errno));
    n = fread(dst, 1, dcap, f);
    if (ferror(f))
        rc = vg_errf(err, cap, VG_EINVAL, "%s: cannot read %s '%s': %s", key, opt, path,
                     strerror(errno));
    else if (n >= dcap)
        rc = vg_errf(err, cap, VG_EINVAL, "%s: %s '%s' is larger than %zu bytes", key, opt, path,
                     dcap - 1);
    fclose(f);
    if (rc) {
        sodium_memzero(dst, dcap);
        return rc;
    }
    if (n > 0 && dst[n - 1] == '\n')
        n--;
    if (n > 0 && dst[n - 1] == '\r')
        n--;
    dst[n] = '\0';
    if (n == 0 || memchr(dst, '\0', n))
        return vg_errf(err, cap, VG_EINVAL, "%s: %s '%s' is empty or holds a NUL byte", key, opt,
                       path);
    *len = n;
    return 0;
}

/* An e-mail address as used in MAIL FROM / RCPT TO and the headers: local@domain, printable
** ASCII without spaces, brackets, quotes or commas. */
static int valid_address(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || !at[1] || strchr(at + 1, '@') || strlen(s) >= NOTIFY_NAME_MAX)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p >= 0x7f || strchr("<>\",;()[]\\", *p))
            return 0;
    return 1;
}

/* Validate an http(s)/smtp(s) URL with libcurl's parser and write the loggable form
** scheme://host[:port]path (no userinfo, no query, no fragment) into out. */
static int url_check(const char *url, const char *const *schemes, const char *key, char *out,
                     size_t outcap, int with_path, char *err, size_t cap)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    int rc = 0, ok = 0;
    if (!u)
        return vg_errf(err, cap, VG_ENOMEM, "%s: out of memory", key);
    if (strlen(url) >= NOTIFY_URL_MAX) {
        rc = vg_errf(err, cap, VG_EINVAL, "%s: URL longer than %d bytes", key, NOTIFY_URL_MAX - 1);
        goto out;
    }
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0]) {
        rc = vg_errf(err, cap, VG_EINVAL, "%s: malformed URL", key);
        goto out;
    }
    for (const char *const *s = schemes; *s; s++)
        ok |= !strcmp(scheme, *s);
    if (!ok) {
        rc = vg_errf(err, cap, VG_EINVAL, "%s: unsupported URL scheme '%.16s'", key, scheme);
        goto out;
    }
    curl_url_get(u, CURLUPART_PORT, &port, 0);
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    vg_putf(out, outcap, "%s://%s%s%s%s", scheme, host, port ? ":" : "", port ? port : "",
            with_path && path ? path : "");
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
    return rc;
}

/* mqtt://HOST[:PORT]/TOPIC */
static int parse_mqtt_url(const char *url, struct notify_receiver_config *r, const char *key,
                          char *err, size_t cap)
{
    const char *p, *host, *hend, *slash;
    long port = 1883;
    if (strncmp(url, "mqtt://", 7) != 0)
        return vg_errf(err, cap, VG_EINVAL, "%s: URL must start with mqtt://", key);
    host = url + 7;
    slash = strchr(host, '/');
    if (!slash || !slash[1])
        return vg_errf(err, cap, VG_EINVAL, "%s: URL has no topic (mqtt://HOST:PORT/TOPIC)", key);
    hend = slash;
    p = memchr(host, ':', (size_t)(slash - host));
    if (p) {
        char *end;
        hend = p;
        errno = 0;
        port = strtol(p + 1, &end, 10);
        if (end != slash || end == p + 1 || port < 1 || port > 65535)
            return vg_errf(err, cap, VG_EINVAL, "%s: bad port in URL (1 to 65535)", key);
    }
    if (hend == host || (size_t)(hend - host) >= sizeof(r->host))
        return vg_errf(err, cap, VG_EINVAL, "%s: URL has no host or a host too long", key);
    memcpy(r->host, host, (size_t)(hend - host));
    r->host[hend - host] = '\0';
    r->port = (int)port;
    if (copy_field(r->topic, sizeof(r->topic), slash + 1, key, "topic", err, cap))
        return VG_EINVAL;
    if (strpbrk(r->topic, "+#") || mosquitto_pub_topic_check(r->topic) != MOSQ_ERR_SUCCESS)
        return vg_errf(err, cap, VG_EINVAL, "%s: topic '%.64s' is not a valid topic to publish to",
                       key, r->topic);
    vg_putf(r->url, sizeof(r->url), "mqtt://%s:%d/%s", r->host, r->port, r->topic);
    return 0;
}

static int parse_receiver(enum notify_kind kind, const char *key, const char *value,
                          struct notify_receiver_config *r, char *target, size_t tcap, char *err,
                          size_t cap)
{
    static const char *const http_schemes[] = {"http", "https", NULL};
    static const char *const smtp_schemes[] = {"smtp", "smtps", NULL};
    char *copy = vg_strdup(value), *save = NULL, *tok;
    int rc = 0, first = 1;
    r->kind = kind;
    for (tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        char *eq, *v;
        if (first) {
            first = 0;
            if (kind == NOTIFY_MQTT)
                rc = parse_mqtt_url(tok, r, key, err, cap);
            else
                rc = url_check(tok, kind == NOTIFY_WEBHOOK ? http_schemes : smtp_schemes, key,
                               target, tcap, kind == NOTIFY_WEBHOOK, err, cap);
            if (rc)
                goto out;
            if (kind != NOTIFY_MQTT)
                snprintf(r->url, sizeof(r->url), "%s", tok);
            else
                snprintf(target, tcap, "%s", r->url);
            continue;
        }
        eq = strchr(tok, '=');
        if (!eq) {
            rc = vg_errf(err, cap, VG_EINVAL, "%s: option '%.64s' is not name=value", key, tok);
            goto out;
        }
        *eq = '\0';
        v = eq + 1;
        if (!*v) {
            rc = vg_errf(err, cap, VG_EINVAL, "%s: option '%.64s' has an empty value", key, tok);
            goto out;
        }
        if (!strcmp(tok, "min-severity")) {
            r->min_severity = parse_severity(v);
            if (r->min_severity < 0) {
                rc = vg_errf(err, cap, VG_EINVAL,
                             "%s: unknown min-severity '%.64s' (informational, low, medium, high, "
                             "critical)",
                             key, v);
                goto out;
            }
        } else if (!strcmp(tok, "tenant")) {
            rc = copy_field(r->tenant, sizeof(r->tenant), v, key, "tenant", err, cap);
        } else if (kind == NOTIFY_WEBHOOK && !strcmp(tok, "secret-file")) {
            rc = read_secret(v, r->secret, sizeof(r->secret), &r->secret_len, key, tok, err, cap);
        } else if (kind == NOTIFY_SMTP && !strcmp(tok, "from")) {
            if (!valid_address(v)) {
                rc = vg_errf(err, cap, VG_EINVAL, "%s: from '%.64s' is not an e-mail address",
                             key, v);
                goto out;
            }
            snprintf(r->from, sizeof(r->from), "%s", v);
        } else if (kind == NOTIFY_SMTP && !strcmp(tok, "to")) {
            char *s2 = NULL, *a;
            r->nto = 0;
            for (a = strtok_r(v, ",", &s2); a; a = strtok_r(NULL, ",", &s2)) {
                if (!valid_address(a)) {
                    rc = vg_errf(err, cap, VG_EINVAL, "%s: to '%.64s' is not an e-mail address",
                                 key, a);
                    goto out;
                }
                if (r->nto == NOTIFY_MAX_TO) {
                    rc = vg_errf(err, cap, VG_EINVAL, "%s: more than %d to addresses", key,
                                 NOTIFY_MAX_TO);
                    goto out;
                }
                snprintf(r->to[r->nto++], NOTIFY_NAME_MAX, "%s", a);
            }
        } else if (kind == NOTIFY_SMTP && !strcmp(tok, "user")) {
            rc = copy_field(r->user, sizeof(r->user), v, key, "user", err, cap);
        } else if (kind == NOTIFY_SMTP && !strcmp(tok, "password-file")) {
            size_t plen;
            rc = read_secret(v, r->password, sizeof(r->password), &plen, key, tok, err, cap);
        } else if (kind == NOTIFY_SMTP && !strcmp(tok, "starttls")) {
            if (!strcmp(v, "try"))
                r->starttls = NOTIFY_STARTTLS_TRY;
            else if (!strcmp(v, "required"))
                r->starttls = NOTIFY_STARTTLS_REQUIRED;
            else if (!strcmp(v, "no"))
                r->starttls = NOTIFY_STARTTLS_NO;
            else
                rc = vg_errf(err, cap, VG_EINVAL, "%s: starttls must be try, required or no",
                             key);
        } else {
            rc = vg_errf(err, cap, VG_EINVAL, "%s: unknown option '%.64s'", key, tok);
        }
        if (rc)
            goto out;
    }
    if (first) {
        rc = vg_errf(err, cap, VG_EINVAL, "%s: missing URL", key);
        goto out;
    }
    if (kind == NOTIFY_SMTP && !r->from[0])
        rc = vg_errf(err, cap, VG_EINVAL, "%s: missing from=ADDRESS", key);
    else if (kind == NOTIFY_SMTP && r->nto == 0)
        rc = vg_errf(err, cap, VG_EINVAL, "%s: missing to=ADDRESS[,ADDRESS...]", key);
    else if (kind == NOTIFY_SMTP && r->password[0] && !r->user[0])
        rc = vg_errf(err, cap, VG_EINVAL, "%s: password-file without user", key);
out:
    sodium_memzero(copy, strlen(value));
    free(copy);
    return rc;
}

int notify_config_line(struct notify_config *c, const char *key, const char *value, char *err,
                       size_t cap)
{
    enum notify_kind kind;
    struct notify_receiver_config *r;
    char target[NOTIFY_URL_MAX];
    int rc;
    if (!strcmp(key, "notify-queue-max")) {
        char *end;
        unsigned long v;
        errno = 0;
        v = strtoul(value, &end, 10);
        if (errno || end == value || *end || value[0] == '-' || v < 1 || v > QUEUE_MAX_LIMIT)
            return vg_errf(err, cap, VG_EINVAL, "%s: '%.32s' is not a number from 1 to %u", key,
                           value, QUEUE_MAX_LIMIT);
        c->queue_max = (uint32_t)v;
        return 1;
    }
    if (!strcmp(key, "notify-max-age")) {
        int64_t ms;
        if (clock_parse_duration(value, &ms) || ms <= 0)
            return vg_errf(err, cap, VG_EINVAL, "%s: '%.32s' is not a positive duration (e.g. 24h)",
                           key, value);
        c->max_age_ms = ms;
        return 1;
    }
    if (!strcmp(key, "notify-webhook"))
        kind = NOTIFY_WEBHOOK;
    else if (!strcmp(key, "notify-mqtt"))
        kind = NOTIFY_MQTT;
    else if (!strcmp(key, "notify-smtp"))
        kind = NOTIFY_SMTP;
    else
        return 0;
    if (c->n >= NOTIFY_MAX_RECEIVERS)
        return vg_errf(err, cap, VG_EINVAL, "%s: too many notify receivers (at most %d)", key,
                       NOTIFY_MAX_RECEIVERS);
    r = vg_calloc(1, sizeof(*r));
    rc = parse_receiver(kind, key, value, r, target, sizeof(target), err, cap);
    if (rc == 0) {
        c->r[c->n++] = *r;
        rc = 1;
    }
    sodium_memzero(r, sizeof(*r));
    free(r);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Queues                                                                                      */

static void msg_free(struct msg *m)
{
    if (!m)
        return;
    free(m->payload);
    free(m);
}

/* Add m to r's ring, dropping the oldest when full. Returns the dropped message (caller frees
** it outside the lock) or NULL. Called with r->mu held. */
static struct msg *ring_push(struct recv *r, struct msg *m)
{
    struct msg *old = NULL;
    if (r->len == r->cap) {
        old = r->ring[r->head];
        r->head = (r->head + 1) % r->cap;
        r->len--;
        r->dropped++;
        r->burst_drops++;
    }
    r->ring[(r->head + r->len) % r->cap] = m;
    r->len++;
    r->queued++;
    return old;
}

static struct msg *ring_pop(struct recv *r)
{
    struct msg *m;
    if (r->len == 0)
        return NULL;
    m = r->ring[r->head];
    r->head = (r->head + 1) % r->cap;
    r->len--;
    return m;
}

void notify_post(struct notify *n, const char *tenant, const char *event, int severity,
                 const char *alert_json)
{
    size_t lt, le, la;
    int64_t now;
    if (!n || n->n == 0)
        return;
    tenant = tenant ? tenant : "";
    event = event ? event : "";
    alert_json = alert_json ? alert_json : "null";
    lt = strlen(tenant);
    le = strlen(event);
    la = strlen(alert_json);
    if (la > ALERT_JSON_MAX) {
        alert_json = "null";
        la = 4;
    }
    now = clock_mono_ns();
    for (uint32_t i = 0; i < n->n; i++) {
        struct recv *r = &n->r[i];
        struct msg *m, *old;
        if (severity < r->cfg.min_severity)
            continue;
        if (r->cfg.tenant[0] && strcmp(r->cfg.tenant, tenant) != 0)
            continue;
        m = vg_malloc(sizeof(*m) + lt + le + la + 3);
        m->enq_ns = now;
        m->severity = severity;
        m->payload = NULL;
        m->payload_len = 0;
        m->payload_ts = 0;
        m->tenant = m->data;
        m->event = m->tenant + lt + 1;
        m->alert = m->event + le + 1;
        memcpy(m->tenant, tenant, lt + 1);
        memcpy(m->event, event, le + 1);
        memcpy(m->alert, alert_json, la + 1);
        pthread_mutex_lock(&r->mu);
        old = ring_push(r, m);
        if (r->waiting) { /* one wake-up is enough: the thread drains the queue */
            r->waiting = 0;
            pthread_cond_signal(&r->cv);
        }
        pthread_mutex_unlock(&r->mu);
        msg_free(old);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Payloads                                                                                    */

/* {"event":...,"tenant":...,"alert":...}: the webhook body and the MQTT payload. */
static void build_json(struct msg *m)
{
    struct buf b;
    json_t *a = json_loads(m->alert, JSON_DECODE_ANY, NULL);
    buf_init(&b, 0);
    buf_puts(&b, "{\"event\":");
    buf_json_str(&b, m->event, strlen(m->event));
    buf_puts(&b, ",\"tenant\":");
    buf_json_str(&b, m->tenant, strlen(m->tenant));
    buf_puts(&b, ",\"alert\":");
    buf_puts(&b, a ? m->alert : "null");
    buf_puts(&b, "}");
    json_decref(a);
    m->payload = buf_detach(&b, &m->payload_len);
}

/* Append s to b with control characters (CR, LF, tabs...) replaced by spaces, at most max bytes
** and never cutting a UTF-8 sequence. */
static void put_clean(struct buf *b, const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        buf_putc(b, ch < 0x20 || ch == 0x7f ? ' ' : (char)ch);
    }
}

/* A Subject header value: ASCII as is, otherwise RFC 2047 encoded-words (UTF-8, base64) of at
** most 45 input bytes each, folded with CRLF SP. */
static void put_subject(struct buf *b, const char *s)
{
    size_t n = strlen(s), i = 0;
    int ascii = 1;
    for (size_t k = 0; k < n; k++)
        ascii &= (unsigned char)s[k] < 0x80;
    if (ascii) {
        buf_puts(b, s);
        return;
    }
    while (i < n) {
        size_t len = VG_MIN((size_t)45, n - i);
        char enc[64];
        while (i + len < n && len > 0 && ((unsigned char)s[i + len] & 0xC0) == 0x80)
            len--;
        sodium_bin2base64(enc, sizeof(enc), (const unsigned char *)s + i, len,
                          sodium_base64_VARIANT_ORIGINAL);
        buf_printf(b, "%s=?UTF-8?B?%s?=", i ? "\r\n " : "", enc);
        i += len;
    }
}

static void rfc5322_date(time_t t, char *out, size_t cap)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mons[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    gmtime_r(&t, &tm);
    vg_putf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
            mons[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The whole e-mail (headers and body), CRLF line ends. */
static void build_mail(struct recv *r, struct msg *m)
{
    const struct notify_receiver_config *c = &r->cfg;
    json_t *a = json_loads(m->alert, JSON_DECODE_ANY, NULL);
    const char *text = NULL, *domain = strchr(c->from, '@') + 1;
    unsigned char rnd[8];
    char date[64], subject[SUBJECT_MAX + 64];
    struct buf b, sb;
    time_t now = time(NULL);
    if (json_is_object(a)) {
        text = json_string_value(json_object_get(a, "message"));
        if (!text)
            text = json_string_value(json_object_get(a, "rule"));
    }
    buf_init(&sb, 0);
    buf_printf(&sb, "[Vigie] %s ", rule_severity_name(m->severity));
    put_clean(&sb, m->event, 64);
    buf_puts(&sb, ": ");
    put_clean(&sb, text ? text : "", SUBJECT_MAX);
    vg_putf(subject, sizeof(subject), "%s", sb.p);
    buf_release(&sb);

    randombytes_buf(rnd, sizeof(rnd));
    rfc5322_date(now, date, sizeof(date));
    buf_init(&b, 0);
    buf_printf(&b, "Date: %s\r\nFrom: %s\r\nTo: ", date, c->from);
    for (uint32_t i = 0; i < c->nto; i++)
        buf_printf(&b, "%s%s", i ? ", " : "", c->to[i]);
    buf_puts(&b, "\r\nSubject: ");
    put_subject(&b, subject);
    buf_printf(&b, "\r\nMessage-ID: <%lld.", (long long)now);
    for (size_t i = 0; i < sizeof(rnd); i++)
        buf_printf(&b, "%02x", rnd[i]);
    buf_printf(&b, "@%s>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                   "Content-Transfer-Encoding: 8bit\r\nX-Vigie-Event: ", domain);
    put_clean(&b, m->event, 64);
    buf_puts(&b, "\r\n\r\n");
    buf_puts(&b, "Event: ");
    put_clean(&b, m->event, 64);
    buf_printf(&b, "\r\nSeverity: %s\r\nTenant: ", rule_severity_name(m->severity));
    put_clean(&b, m->tenant, BODY_VALUE_MAX);
    buf_puts(&b, "\r\n\r\n");
    if (json_is_object(a)) {
        const char *k;
        json_t *v;
        json_object_foreach(a, k, v)
        {
            put_clean(&b, k, 64);
            buf_puts(&b, ": ");
            if (json_is_string(v)) {
                put_clean(&b, json_string_value(v), BODY_VALUE_MAX);
            } else {
                char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                put_clean(&b, d ? d : "", BODY_VALUE_MAX);
                free(d);
            }
            buf_puts(&b, "\r\n");
        }
    } else {
        buf_puts(&b, "(no alert document)\r\n");
    }
    buf_puts(&b, "\r\n-- \r\nVigie alert notification\r\n");
    json_decref(a);
    m->payload = buf_detach(&b, &m->payload_len);
}

/* ------------------------------------------------------------------------------------------ */
/* Webhook and SMTP (libcurl)                                                                  */

static int stopping(struct recv *r)
{
    return __atomic_load_n(&r->stop, __ATOMIC_RELAXED);
}

static int progress_cb(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    return stopping(arg) ? 1 : 0;
}

static size_t sink_cb(char *p, size_t size, size_t nmemb, void *arg)
{
    struct buf *b = arg;
    size_t n = size * nmemb;
    if (b->len + n < RESP_BODY_MAX)
        buf_append(b, p, n);
    return n;
}

static void curl_common(struct recv *r)
{
    CURL *c = r->curl;
    curl_easy_setopt(c, CURLOPT_URL, r->cfg.url);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)TOTAL_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress_cb);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, r);
}

static void hmac_hex(const struct recv *r, int64_t ts, const char *body, size_t len, char *hex)
{
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char pre[32];
    int pn = snprintf(pre, sizeof(pre), "%lld.", (long long)ts);
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)r->cfg.secret, r->cfg.secret_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)pre, (unsigned long long)pn);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(hex, 2 * sizeof(mac) + 1, mac, sizeof(mac));
    sodium_memzero(&st, sizeof(st));
}

static enum outcome deliver_webhook(struct recv *r, struct msg *m, char *err, size_t cap)
{
    struct curl_slist *h = NULL;
    char line[256], hex[2 * crypto_auth_hmacsha256_BYTES + 1];
    struct buf resp;
    long status = 0;
    CURLcode cr;
    int64_t ts = (int64_t)time(NULL);
    if (!m->payload)
        build_json(m);
    h = curl_slist_append(h, "Content-Type: application/json");
    {
        struct buf eb;
        buf_init(&eb, 0);
        buf_puts(&eb, "X-Vigie-Event: ");
        put_clean(&eb, m->event, 64);
        h = curl_slist_append(h, eb.p);
        buf_release(&eb);
    }
    snprintf(line, sizeof(line), "X-Vigie-Timestamp: %lld", (long long)ts);
    h = curl_slist_append(h, line);
    if (r->cfg.secret_len) {
        hmac_hex(r, ts, m->payload, m->payload_len, hex);
        snprintf(line, sizeof(line), "X-Vigie-Signature: sha256=%s", hex);
        h = curl_slist_append(h, line);
    }
    h = curl_slist_append(h, "Expect:");
    buf_init(&resp, RESP_BODY_MAX);
    curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, m->payload);
    curl_easy_setopt(r->curl, CURLOPT_POSTFIELDSIZE, (long)m->payload_len);
    curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, sink_cb);
    curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, &resp);
    cr = curl_easy_perform(r->curl);
    curl_slist_free_all(h);
    buf_release(&resp);
    if (cr != CURLE_OK) {
        vg_putf(err, cap, "%s", curl_easy_strerror(cr));
        return OUT_RETRY;
    }
    curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300)
        return OUT_DELIVERED;
    vg_putf(err, cap, "HTTP status %ld", status);
    if (status >= 400 && status < 500 && status != 408 && status != 429)
        return OUT_REJECTED;
    return OUT_RETRY;
}

struct upload {
    const char *p;
    size_t len, off;
};

static size_t read_cb(char *dst, size_t size, size_t nmemb, void *arg)
{
    struct upload *u = arg;
    size_t n = VG_MIN(size * nmemb, u->len - u->off);
    memcpy(dst, u->p + u->off, n);
    u->off += n;
    return n;
}

static enum outcome deliver_smtp(struct recv *r, struct msg *m, char *err, size_t cap)
{
    const struct notify_receiver_config *c = &r->cfg;
    struct curl_slist *rcpt = NULL;
    struct upload up;
    char addr[NOTIFY_NAME_MAX + 2];
    long code = 0;
    CURLcode cr;
    if (!m->payload)
        build_mail(r, m);
    for (uint32_t i = 0; i < c->nto; i++) {
        snprintf(addr, sizeof(addr), "<%s>", c->to[i]);
        rcpt = curl_slist_append(rcpt, addr);
    }
    snprintf(addr, sizeof(addr), "<%s>", c->from);
    up.p = m->payload;
    up.len = m->payload_len;
    up.off = 0;
    curl_easy_setopt(r->curl, CURLOPT_MAIL_FROM, addr);
    curl_easy_setopt(r->curl, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(r->curl, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(r->curl, CURLOPT_READDATA, &up);
    curl_easy_setopt(r->curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(r->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up.len);
    cr = curl_easy_perform(r->curl);
    curl_slist_free_all(rcpt);
    if (cr == CURLE_OK)
        return OUT_DELIVERED;
    curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &code);
    if (code)
        vg_putf(err, cap, "%s (server reply %ld)", curl_easy_strerror(cr), code);
    else
        vg_putf(err, cap, "%s", curl_easy_strerror(cr));
    return code >= 500 && code < 600 ? OUT_REJECTED : OUT_RETRY;
}

static void curl_setup(struct recv *r)
{
    const struct notify_receiver_config *c = &r->cfg;
    r->curl = curl_easy_init();
    if (!r->curl)
        return;
    curl_common(r);
    if (c->kind == NOTIFY_WEBHOOK) {
        curl_easy_setopt(r->curl, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(r->curl, CURLOPT_USERAGENT, "vigie-notify");
        curl_easy_setopt(r->curl, CURLOPT_POST, 1L);
    } else {
        curl_easy_setopt(r->curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
        if (!strncmp(c->url, "smtp://", 7))
            curl_easy_setopt(r->curl, CURLOPT_USE_SSL,
                             c->starttls == NOTIFY_STARTTLS_REQUIRED ? (long)CURLUSESSL_ALL
                             : c->starttls == NOTIFY_STARTTLS_NO     ? (long)CURLUSESSL_NONE
                                                                     : (long)CURLUSESSL_TRY);
        if (c->user[0]) {
            curl_easy_setopt(r->curl, CURLOPT_USERNAME, c->user);
            curl_easy_setopt(r->curl, CURLOPT_PASSWORD, c->password);
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* MQTT (libmosquitto, driven by this thread with mosquitto_loop)                              */

static void mq_on_connect(struct mosquitto *mq, void *arg, int rc)
{
    struct recv *r = arg;
    if (rc == 0)
        r->mq_connected = 1;
    else
        r->mq_failed = 1;
}

static void mq_on_disconnect(struct mosquitto *mq, void *arg, int rc)
{
    struct recv *r = arg;
    r->mq_connected = 0;
    r->mq_failed = 1;
}

static void mq_on_publish(struct mosquitto *mq, void *arg, int mid)
{
    struct recv *r = arg;
    if (mid == r->mq_mid)
        r->mq_acked = 1;
}

static void mq_drop(struct recv *r)
{
    if (r->mq)
        mosquitto_destroy(r->mq);
    r->mq = NULL;
    r->mq_connected = 0;
}

/* Run the network loop until *flag is set, the connection fails, stop, or timeout_ms. */
static int mq_wait(struct recv *r, const int *flag, int64_t timeout_ms)
{
    int64_t end = clock_mono_ns() + timeout_ms * 1000000;
    while (!*flag) {
        int rc;
        if (r->mq_failed || stopping(r) || clock_mono_ns() > end)
            return VG_EIO;
        rc = mosquitto_loop(r->mq, 100, 1);
        if (rc != MOSQ_ERR_SUCCESS && !*flag)
            return VG_EIO;
    }
    return 0;
}

static int mq_connect(struct recv *r, char *err, size_t cap)
{
    char id[64];
    int rc;
    if (r->mq && r->mq_connected)
        return 0;
    mq_drop(r);
    snprintf(id, sizeof(id), "vigie-notify-%ld-%u", (long)getpid(), r->index);
    r->mq = mosquitto_new(id, true, r);
    if (!r->mq) {
        vg_putf(err, cap, "cannot create mqtt client");
        return VG_EIO;
    }
    mosquitto_int_option(r->mq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_connect_callback_set(r->mq, mq_on_connect);
    mosquitto_disconnect_callback_set(r->mq, mq_on_disconnect);
    mosquitto_publish_callback_set(r->mq, mq_on_publish);
    r->mq_failed = 0;
    rc = mosquitto_connect_async(r->mq, r->cfg.host, r->cfg.port, 30);
    if (rc != MOSQ_ERR_SUCCESS || mq_wait(r, &r->mq_connected, CONNECT_TIMEOUT_MS)) {
        vg_putf(err, cap, "cannot connect to the broker: %s",
                rc != MOSQ_ERR_SUCCESS ? mosquitto_strerror(rc) : "no CONNACK");
        mq_drop(r);
        return VG_EIO;
    }
    return 0;
}

static enum outcome deliver_mqtt(struct recv *r, struct msg *m, char *err, size_t cap)
{
    char topic[3 * NOTIFY_NAME_MAX];
    int rc;
    snprintf(topic, sizeof(topic), "%s/%s/%s", r->cfg.topic, m->tenant, m->event);
    if (mosquitto_pub_topic_check(topic) != MOSQ_ERR_SUCCESS || !m->tenant[0] || !m->event[0]) {
        vg_putf(err, cap, "invalid topic '%.64s'", topic);
        return OUT_REJECTED;
    }
    if (!m->payload)
        build_json(m);
    if (mq_connect(r, err, cap))
        return OUT_RETRY;
    r->mq_acked = 0;
    rc = mosquitto_publish(r->mq, &r->mq_mid, topic, (int)m->payload_len, m->payload, 1, false);
    if (rc != MOSQ_ERR_SUCCESS) {
        vg_putf(err, cap, "publish failed: %s", mosquitto_strerror(rc));
        mq_drop(r);
        return OUT_RETRY;
    }
    if (mq_wait(r, &r->mq_acked, TOTAL_TIMEOUT_MS)) {
        vg_putf(err, cap, "no PUBACK from the broker");
        mq_drop(r);
        return OUT_RETRY;
    }
    return OUT_DELIVERED;
}

/* ------------------------------------------------------------------------------------------ */
/* Receiver thread                                                                             */

static void deadline_in(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

/* Log the start and the end of a burst of drops (once each). Called with r->mu held; releases
** it while writing the log line, so that notify_post never waits for log I/O. */
static void log_drops(struct recv *r)
{
    uint64_t count = 0;
    int what = 0;
    if (r->burst_drops && !r->burst_logged) {
        what = 1;
        r->burst_logged = 1;
    } else if (r->burst_logged && r->len < r->cap / 2) {
        what = 2;
        count = r->burst_drops;
        r->burst_logged = 0;
        r->burst_drops = 0;
    }
    if (!what)
        return;
    pthread_mutex_unlock(&r->mu);
    if (what == 1)
        log_warn("notify %s #%u '%s': queue full (%u), dropping the oldest notifications",
                 notify_kind_name(r->cfg.kind), r->index, r->target, r->cap);
    else
        log_warn("notify %s #%u '%s': %llu notifications dropped (queue full)",
                 notify_kind_name(r->cfg.kind), r->index, r->target, (unsigned long long)count);
    pthread_mutex_lock(&r->mu);
}

/* Wait for the next message; NULL on stop. Sets r->cur. */
static struct msg *next_msg(struct recv *r)
{
    struct msg *m = NULL;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        log_drops(r);
        if (r->stop)
            break;
        m = ring_pop(r);
        if (m)
            break;
        if (r->mq && r->mq_connected) {
            struct timespec ts;
            deadline_in(&ts, IDLE_POLL_MS);
            r->waiting = 1;
            pthread_cond_timedwait(&r->cv, &r->mu, &ts);
            r->waiting = 0;
            if (r->len == 0 && !r->stop) {
                /* keepalive and disconnect detection while idle */
                pthread_mutex_unlock(&r->mu);
                if (mosquitto_loop(r->mq, 0, 1) != MOSQ_ERR_SUCCESS || r->mq_failed) {
                    log_warn("notify mqtt #%u '%s': connection to the broker lost", r->index,
                             r->target);
                    mq_drop(r);
                }
                pthread_mutex_lock(&r->mu);
                r->up = r->mq != NULL;
            }
        } else {
            r->waiting = 1;
            pthread_cond_wait(&r->cv, &r->mu);
            r->waiting = 0;
        }
    }
    r->cur = m;
    pthread_mutex_unlock(&r->mu);
    return m;
}

static uint32_t backoff_ms(const struct recv *r)
{
    const struct notify *n = r->n;
    uint32_t cap = n->backoff_max_ms;
    uint64_t d = n->backoff_min_ms;
    if (r->cfg.kind == NOTIFY_MQTT)
        cap = VG_MIN(cap, MQTT_BACKOFF_MAX_MS);
    for (uint32_t i = 1; i < r->failures && d < cap; i++)
        d *= 2;
    if (d > cap)
        d = cap;
    /* jitter: 80 % .. 120 % */
    return (uint32_t)(d * (80 + randombytes_uniform(41)) / 100);
}

static void finish(struct recv *r, struct msg *m, enum outcome o, const char *err)
{
    pthread_mutex_lock(&r->mu);
    r->cur = NULL;
    if (o == OUT_DELIVERED) {
        r->delivered++;
        r->up = 1;
    } else if (o == OUT_REJECTED) {
        r->rejected++;
    } else {
        r->retries++;
        r->up = 0;
    }
    pthread_mutex_unlock(&r->mu);
    msg_free(m);
}

static void *recv_main(void *arg)
{
    struct recv *r = arg;
    struct notify *n = r->n;
    char err[256];
    if (r->cfg.kind != NOTIFY_MQTT)
        curl_setup(r);
    for (;;) {
        struct msg *m = next_msg(r);
        enum outcome o;
        if (!m)
            break;
        for (;;) {
            if (clock_mono_ns() - m->enq_ns > n->max_age_ns) {
                log_warn("notify %s #%u '%s': notification older than %lld s dropped",
                         notify_kind_name(r->cfg.kind), r->index, r->target,
                         (long long)(n->max_age_ns / 1000000000));
                pthread_mutex_lock(&r->mu);
                r->dropped++;
                r->cur = NULL;
                pthread_mutex_unlock(&r->mu);
                msg_free(m);
                break;
            }
            err[0] = '\0';
            if (r->cfg.kind == NOTIFY_WEBHOOK)
                o = r->curl ? deliver_webhook(r, m, err, sizeof(err)) : OUT_RETRY;
            else if (r->cfg.kind == NOTIFY_SMTP)
                o = r->curl ? deliver_smtp(r, m, err, sizeof(err)) : OUT_RETRY;
            else
                o = deliver_mqtt(r, m, err, sizeof(err));
            if (stopping(r)) {
                pthread_mutex_lock(&r->mu);
                r->cur = NULL;
                pthread_mutex_unlock(&r->mu);
                msg_free(m);
                break;
            }
            if (o == OUT_DELIVERED) {
                if (r->failures)
                    log_info("notify %s #%u '%s': delivering again after %u failed attempts",
                             notify_kind_name(r->cfg.kind), r->index, r->target, r->failures);
                r->failures = 0;
                finish(r, m, o, NULL);
                break;
            }
            if (o == OUT_REJECTED) {
                log_warn("notify %s #%u '%s': notification rejected: %s",
                         notify_kind_name(r->cfg.kind), r->index, r->target, err);
                finish(r, m, o, err);
                break;
            }
            r->failures++;
            {
                uint32_t d = backoff_ms(r);
                struct timespec ts;
                if (r->failures == 1)
                    log_warn("notify %s #%u '%s': delivery failed: %s; retrying in %.1f s",
                             notify_kind_name(r->cfg.kind), r->index, r->target, err, d / 1000.0);
                else
                    log_debug("notify %s #%u '%s': attempt %u failed: %s; retrying in %.1f s",
                              notify_kind_name(r->cfg.kind), r->index, r->target, r->failures,
                              err, d / 1000.0);
                int64_t end = clock_mono_ns() + (int64_t)d * 1000000;
                pthread_mutex_lock(&r->mu);
                r->retries++;
                r->up = 0;
                /* wait in slices of at most 1 s to log a burst of drops while in backoff */
                while (!r->stop) {
                    int64_t left = (end - clock_mono_ns()) / 1000000;
                    if (left <= 0)
                        break;
                    deadline_in(&ts, VG_MIN(left, 1000));
                    pthread_cond_timedwait(&r->cv, &r->mu, &ts);
                    log_drops(r);
                }
                pthread_mutex_unlock(&r->mu);
            }
        }
    }
    if (r->curl)
        curl_easy_cleanup(r->curl);
    r->curl = NULL;
    mq_drop(r);
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Lifecycle and state                                                                         */

static void recv_release(struct recv *r)
{
    struct msg *m;
    while ((m = ring_pop(r)) != NULL)
        msg_free(m);
    free(r->ring);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    sodium_memzero(&r->cfg, sizeof(r->cfg));
}

void notify_free(struct notify *n)
{
    if (!n)
        return;
    for (uint32_t i = 0; i < n->n; i++) {
        struct recv *r = &n->r[i];
        pthread_mutex_lock(&r->mu);
        __atomic_store_n(&r->stop, 1, __ATOMIC_RELAXED);
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
    }
    for (uint32_t i = 0; i < n->n; i++)
        if (n->r[i].started)
            pthread_join(n->r[i].th, NULL);
    for (uint32_t i = 0; i < n->n; i++)
        recv_release(&n->r[i]);
    free(n->r);
    free(n);
    mosquitto_lib_cleanup();
    curl_global_cleanup();
}

int notify_open(const struct notify_config *c, struct notify **out)
{
    struct notify *n;
    pthread_condattr_t ca;
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return VG_EIO;
    mosquitto_lib_init();
    n = vg_calloc(1, sizeof(*n));
    n->n = VG_MIN(c->n, (uint32_t)NOTIFY_MAX_RECEIVERS);
    n->max_age_ns = (c->max_age_ms > 0 ? c->max_age_ms : NOTIFY_MAX_AGE_DEFAULT_MS) * 1000000;
    n->backoff_min_ms = c->backoff_min_ms ? c->backoff_min_ms : BACKOFF_MIN_DEFAULT_MS;
    n->backoff_max_ms = c->backoff_max_ms ? c->backoff_max_ms : BACKOFF_MAX_DEFAULT_MS;
    if (n->backoff_max_ms < n->backoff_min_ms)
        n->backoff_max_ms = n->backoff_min_ms;
    n->r = vg_calloc(n->n ? n->n : 1, sizeof(*n->r));
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    for (uint32_t i = 0; i < n->n; i++) {
        struct recv *r = &n->r[i];
        char scratch[128];
        r->n = n;
        r->cfg = c->r[i];
        r->index = i;
        r->cap = c->queue_max ? c->queue_max : NOTIFY_QUEUE_DEFAULT;
        r->ring = vg_calloc(r->cap, sizeof(*r->ring));
        pthread_mutex_init(&r->mu, NULL);
        pthread_cond_init(&r->cv, &ca);
        if (r->cfg.kind == NOTIFY_MQTT ||
            url_check(r->cfg.url,
                      (const char *const[]){"http", "https", "smtp", "smtps", NULL}, "notify",
                      r->target, sizeof(r->target), r->cfg.kind == NOTIFY_WEBHOOK, scratch,
                      sizeof(scratch)))
            vg_putf(r->target, sizeof(r->target), "%s",
                    r->cfg.kind == NOTIFY_MQTT ? r->cfg.url : "(invalid url)");
    }
    pthread_condattr_destroy(&ca);
    for (uint32_t i = 0; i < n->n; i++) {
        struct recv *r = &n->r[i];
        if (pthread_create(&r->th, NULL, recv_main, r) != 0) {
            log_error("notify %s #%u '%s': cannot start thread", notify_kind_name(r->cfg.kind), i,
                      r->target);
            notify_free(n);
            return VG_EIO;
        }
        r->started = 1;
        log_info("notify %s #%u '%s': started (min-severity %s%s%s)",
                 notify_kind_name(r->cfg.kind), i, r->target,
                 rule_severity_name(r->cfg.min_severity), r->cfg.tenant[0] ? ", tenant " : "",
                 r->cfg.tenant);
    }
    *out = n;
    return 0;
}

static void recv_state(struct recv *r, struct notify_receiver_state *s)
{
    pthread_mutex_lock(&r->mu);
    s->kind = r->cfg.kind;
    s->index = r->index;
    snprintf(s->target, sizeof(s->target), "%s", r->target);
    s->queue_len = r->len + (r->cur ? 1 : 0);
    s->up = r->up;
    s->queued = r->queued;
    s->delivered = r->delivered;
    s->retries = r->retries;
    s->dropped = r->dropped;
    s->rejected = r->rejected;
    pthread_mutex_unlock(&r->mu);
}

void notify_get_stats(struct notify *n, struct notify_stats *s)
{
    memset(s, 0, sizeof(*s));
    if (!n)
        return;
    for (uint32_t i = 0; i < n->n; i++) {
        struct notify_receiver_state st;
        recv_state(&n->r[i], &st);
        s->queued += st.queued;
        s->delivered += st.delivered;
        s->retries += st.retries;
        s->dropped += st.dropped;
        s->rejected += st.rejected;
    }
}

uint32_t notify_receivers(struct notify *n, struct notify_receiver_state *out, uint32_t cap)
{
    if (!n)
        return 0;
    for (uint32_t i = 0; i < n->n && i < cap; i++)
        recv_state(&n->r[i], &out[i]);
    return n->n;
}

int notify_metrics(struct notify *n, struct buf *out)
{
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"vigie_notify_queue_length", "gauge", "Notifications waiting, per receiver."},
        {"vigie_notify_up", "gauge", "1 if the last attempt succeeded (MQTT: connected)."},
        {"vigie_notify_queued_total", "counter", "Notifications accepted into the queue."},
        {"vigie_notify_delivered_total", "counter", "Notifications acknowledged by the receiver."},
        {"vigie_notify_retries_total", "counter", "Failed attempts that were retried."},
        {"vigie_notify_dropped_total", "counter", "Dropped (queue full or too old)."},
        {"vigie_notify_rejected_total", "counter", "Refused for good by the receiver."},
    };
    struct notify_receiver_state *st;
    uint32_t cnt = n ? n->n : 0;
    int rc = 0;
    if (cnt == 0)
        return 0;
    st = vg_calloc(cnt, sizeof(*st));
    notify_receivers(n, st, cnt);
    for (size_t f = 0; f < VG_ARRAY_LEN(fam) && !rc; f++) {
        rc = buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", fam[f].name, fam[f].help,
                        fam[f].name, fam[f].type);
        for (uint32_t i = 0; i < cnt && !rc; i++) {
            uint64_t v[] = {st[i].queue_len, (uint64_t)st[i].up, st[i].queued, st[i].delivered,
                            st[i].retries,   st[i].dropped,      st[i].rejected};
            rc = buf_printf(out, "%s{kind=\"%s\",index=\"%u\"} %llu\n", fam[f].name,
                            notify_kind_name(st[i].kind), st[i].index,
                            (unsigned long long)v[f]);
        }
    }
    free(st);
    return rc;
}
