/*
** alerts/notify_test.c: notify.c against real sinks on 127.0.0.1: an HTTP server thread that
** checks the HMAC signature itself, an SMTP sink thread, and the real mosquitto broker (spawned
** with a config file in a temporary directory; ports 19100-19199). No library is mocked.
** Owns: the sink threads, the broker process and the temporary directory of each test.
*/
#include "alerts/notify.h"

#include "core/clock.h"
#include "core/test.h"
#include "core/vg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define SECRET "a webhook secret that is longer than thirty-two bytes, on purpose"
#define MAX_KEEP 512
/* 10,000 posts must take well under 100 ms; ASan and TSan slow every allocation and lock down */
#if defined(__SANITIZE_THREAD__)
#define POST_BUDGET_MS 600
#elif defined(__SANITIZE_ADDRESS__)
#define POST_BUDGET_MS 300
#else
#define POST_BUDGET_MS 100
#endif

static double ms_since(int64_t t0)
{
    return (double)(clock_mono_ns() - t0) / 1e6;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A listening socket on 127.0.0.1:port (0 = any free port); the port is written back. */
static int listen_on(int *port)
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)*port);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 64) ||
        getsockname(fd, (struct sockaddr *)&a, &al)) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* A port in 19100-19199 where nothing listens right now, from a pid-dependent start so that
** two runs at the same time rarely try the same one. */
static int free_port(void)
{
    for (int i = 0; i < 100; i++) {
        int p = 19100 + (int)(((unsigned)getpid() + (unsigned)i * 7u) % 100u);
        int port = p, fd = listen_on(&port);
        if (fd >= 0) {
            close(fd);
            return p;
        }
    }
    return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* HTTP sink                                                                                   */

struct http_sink {
    int fd, port;
    pthread_t th;
    int stop;
    pthread_mutex_t mu;
    int script[8]; /* status of request i (0 = 200 beyond the script) */
    int nscript;
    int nreq, sig_ok, sig_bad, hdr_bad;
    char *body[MAX_KEEP];
    int64_t t_ns[MAX_KEEP];
};

static const char *find_header(const char *head, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n"))
        if (!strncasecmp(p + 2, name, n) && p[2 + n] == ':')
            return p + 3 + n + strspn(p + 3 + n, " ");
    return NULL;
}

/* Verify X-Vigie-Signature independently: HMAC-SHA256(secret, ts "." body). */
static int signature_ok(const char *head, const char *body, size_t blen)
{
    const char *ts = find_header(head, "X-Vigie-Timestamp");
    const char *sig = find_header(head, "X-Vigie-Signature");
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char hex[2 * sizeof(mac) + 1];
    crypto_auth_hmacsha256_state st;
    size_t tl;
    if (!ts || !sig || strncmp(sig, "sha256=", 7))
        return 0;
    tl = strcspn(ts, "\r");
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)SECRET, strlen(SECRET));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, tl);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, blen);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
    return strncmp(sig + 7, hex, 64) == 0 && sig[71] == '\r' &&
           labs(atol(ts) - (long)time(NULL)) < 60;
}

/* Serve one keep-alive connection until the peer closes or the sink stops. */
static void http_serve(struct http_sink *s, int c)
{
    static char buf[1 << 20];
    size_t len = 0;
    while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
        char *end = len ? memmem(buf, len, "\r\n\r\n", 4) : NULL;
        if (end) {
            size_t hl = (size_t)(end - buf) + 4, cl;
            const char *clh;
            int status, i;
            buf[hl - 2] = '\0';
            clh = find_header(buf, "Content-Length");
            cl = clh ? (size_t)atol(clh) : 0;
            if (len >= hl + cl) {
                char resp[128];
                const char *ev = find_header(buf, "X-Vigie-Event");
                const char *ct = find_header(buf, "Content-Type");
                int ok = signature_ok(buf, buf + hl, cl);
                pthread_mutex_lock(&s->mu);
                i = s->nreq++;
                status = i < s->nscript ? s->script[i] : 200;
                ok ? s->sig_ok++ : s->sig_bad++;
                if (!ev || !ct || strncmp(ct, "application/json\r", 17) ||
                    strncmp(buf, "POST /hook?token=x HTTP/1.1", 27))
                    s->hdr_bad++;
                if (i < MAX_KEEP) {
                    s->body[i] = strndup(buf + hl, cl);
                    s->t_ns[i] = clock_mono_ns();
                }
                pthread_mutex_unlock(&s->mu);
                memmove(buf, buf + hl + cl, len - hl - cl);
                len -= hl + cl;
                snprintf(resp, sizeof(resp), "HTTP/1.1 %d X\r\nContent-Length: 2\r\n\r\nok",
                         status);
                if (write(c, resp, strlen(resp)) < 0)
                    return;
                continue;
            }
        }
        struct pollfd p = {c, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t r = read(c, buf + len, sizeof(buf) - 1 - len);
        if (r <= 0)
            return;
        len += (size_t)r;
    }
}

static void *http_main(void *arg)
{
    struct http_sink *s = arg;
    while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
        struct pollfd p = {s->fd, POLLIN, 0};
        int c;
        if (poll(&p, 1, 100) <= 0)
            continue;
        c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        http_serve(s, c);
        close(c);
    }
    return NULL;
}

static int http_start(struct http_sink *s, const int *script, int n)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    for (int i = 0; i < n; i++)
        s->script[i] = script[i];
    s->nscript = n;
    s->fd = listen_on(&s->port);
    if (s->fd < 0)
        return -1;
    return pthread_create(&s->th, NULL, http_main, s);
}

static void http_stop(struct http_sink *s)
{
    __atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
    pthread_join(s->th, NULL);
    close(s->fd);
    for (int i = 0; i < MAX_KEEP; i++)
        free(s->body[i]);
    pthread_mutex_destroy(&s->mu);
}

static int http_count(struct http_sink *s)
{
    int n;
    pthread_mutex_lock(&s->mu);
    n = s->nreq;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* Wait until the sink saw n requests; returns the time waited in ms, or -1 after limit_ms. */
static double http_wait(struct http_sink *s, int n, int limit_ms)
{
    int64_t t0 = clock_mono_ns();
    while (http_count(s) < n) {
        if (ms_since(t0) > limit_ms)
            return -1;
        sleep_ms(2);
    }
    return ms_since(t0);
}

/* The "seq" member of the alert in a sink body, -1 if missing. */
static int body_seq(const char *body)
{
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    int v = (int)json_integer_value(json_object_get(json_object_get(j, "alert"), "seq"));
    if (!json_object_get(json_object_get(j, "alert"), "seq"))
        v = -1;
    json_decref(j);
    return v;
}

static void post_seq(struct notify *n, const char *tenant, const char *event, int sev, int seq)
{
    char a[128];
    snprintf(a, sizeof(a), "{\"id\":\"al-%d\",\"seq\":%d,\"message\":\"m %d\"}", seq, seq, seq);
    notify_post(n, tenant, event, sev, a);
}

static char secret_path[600];

static void webhook_line(struct notify_config *c, int port, const char *extra)
{
    char v[1024], err[256];
    snprintf(v, sizeof(v), "http://user:pw@127.0.0.1:%d/hook?token=x secret-file=%s %s", port,
             secret_path, extra);
    if (notify_config_line(c, "notify-webhook", v, err, sizeof(err)) != 1)
        printf("  config error: %s\n", err);
}

/* ------------------------------------------------------------------------------------------ */
/* Tests: configuration                                                                        */

static void test_config(void)
{
    struct notify_config c;
    char err[256], path[600], pw[600];
    char *dir = test_tmpdir("notify");
    FILE *f;
    snprintf(path, sizeof(path), "%s/secret", dir);
    snprintf(pw, sizeof(pw), "%s/pw", dir);
    f = fopen(path, "w");
    REQUIRE(f);
    fputs("s3cr3t\n", f);
    fclose(f);
    f = fopen(pw, "w");
    REQUIRE(f);
    fputs("hunter2\r\n", f);
    fclose(f);
    notify_config_init(&c);

    char line[1024];
    snprintf(line, sizeof(line),
             "https://u:p@hooks.example.org:8443/a/b?k=v secret-file=%s min-severity=high "
             "tenant=city",
             path);
    CHECK_EQ_INT(notify_config_line(&c, "notify-webhook", line, err, sizeof(err)), 1);
    CHECK_EQ_INT(c.n, 1);
    CHECK_EQ_INT(c.r[0].kind, NOTIFY_WEBHOOK);
    CHECK(!strcmp(c.r[0].secret, "s3cr3t"));
    CHECK_EQ_INT(c.r[0].secret_len, 6);
    CHECK_EQ_INT(c.r[0].min_severity, 3);
    CHECK(!strcmp(c.r[0].tenant, "city"));
    CHECK_EQ_INT(notify_config_line(&c, "notify-mqtt", "mqtt://127.0.0.1:1884/vigie/alerts",
                                    err, sizeof(err)),
                 1);
    CHECK(!strcmp(c.r[1].host, "127.0.0.1") && c.r[1].port == 1884);
    CHECK(!strcmp(c.r[1].topic, "vigie/alerts"));
    CHECK_EQ_INT(c.r[1].min_severity, 0);
    snprintf(line, sizeof(line),
             "smtp://relay.example.org:587 from=vigie@example.org to=a@example.org,b@example.org "
             "user=vigie password-file=%s starttls=required min-severity=critical",
             pw);
    CHECK_EQ_INT(notify_config_line(&c, "notify-smtp", line, err, sizeof(err)), 1);
    CHECK_EQ_INT(c.r[2].nto, 2);
    CHECK(!strcmp(c.r[2].to[1], "b@example.org"));
    CHECK(!strcmp(c.r[2].password, "hunter2"));
    CHECK_EQ_INT(c.r[2].starttls, NOTIFY_STARTTLS_REQUIRED);
    CHECK_EQ_INT(notify_config_line(&c, "notify-queue-max", "500", err, sizeof(err)), 1);
    CHECK_EQ_INT(c.queue_max, 500);
    CHECK_EQ_INT(notify_config_line(&c, "notify-max-age", "2h", err, sizeof(err)), 1);
    CHECK_EQ_INT(c.max_age_ms, 7200000);
    CHECK_EQ_INT(notify_config_line(&c, "listen", "127.0.0.1:8080", err, sizeof(err)), 0);
    CHECK_EQ_INT(c.n, 3);

    /* Bad lines: each error names the problem and leaves c unchanged. */
    static const struct {
        const char *key, *value, *expect;
    } bad[] = {
        {"notify-webhook", "ftp://example.org/x", "scheme"},
        {"notify-webhook", "not a url", "malformed URL"},
        {"notify-webhook", "", "missing URL"},
        {"notify-webhook", "http://example.org/ min-severity=urgent", "min-severity 'urgent'"},
        {"notify-webhook", "http://example.org/ secret-file=/nonexistent/s", "cannot read"},
        {"notify-webhook", "http://example.org/ colour=blue", "unknown option 'colour'"},
        {"notify-webhook", "http://example.org/ tenant", "not name=value"},
        {"notify-webhook", "http://example.org/ tenant=", "empty value"},
        {"notify-mqtt", "tcp://h:1883/t", "mqtt://"},
        {"notify-mqtt", "mqtt://h:70000/t", "bad port"},
        {"notify-mqtt", "mqtt://h:1883/", "no topic"},
        {"notify-mqtt", "mqtt://h:1883/a/#", "not a valid topic"},
        {"notify-mqtt", "mqtt://:1883/t", "no host"},
        {"notify-smtp", "smtp://relay:25 to=a@b.c", "missing from"},
        {"notify-smtp", "smtp://relay:25 from=v@b.c", "missing to"},
        {"notify-smtp", "smtp://relay:25 from=nobody to=a@b.c", "from 'nobody'"},
        {"notify-smtp", "smtp://relay:25 from=v@b.c to=a@b.c,bad", "to 'bad'"},
        {"notify-smtp", "http://relay:25 from=v@b.c to=a@b.c", "scheme"},
        {"notify-smtp", "smtp://relay:25 from=v@b.c to=a@b.c starttls=maybe", "starttls"},
        {"notify-smtp", "smtp://relay:25 from=v@b.c to=a@b.c secret-file=/x", "unknown option"},
        {"notify-queue-max", "0", "not a number"},
        {"notify-queue-max", "12x", "not a number"},
        {"notify-max-age", "soon", "not a positive duration"},
    };
    for (size_t i = 0; i < VG_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        int rc = notify_config_line(&c, bad[i].key, bad[i].value, err, sizeof(err));
        CHECK_EQ_INT(rc, VG_EINVAL);
        if (!strstr(err, bad[i].expect))
            printf("  line %zu '%s = %s': error '%s' lacks '%s'\n", i, bad[i].key, bad[i].value,
                   err, bad[i].expect);
        CHECK(strstr(err, bad[i].expect) != NULL);
        CHECK(strstr(err, bad[i].key) != NULL);
    }
    /* an empty secret file is refused, and the limit of 16 receivers holds */
    f = fopen(path, "w");
    REQUIRE(f);
    fputs("\n", f);
    fclose(f);
    snprintf(line, sizeof(line), "http://example.org/ secret-file=%s", path);
    CHECK_EQ_INT(notify_config_line(&c, "notify-webhook", line, err, sizeof(err)), VG_EINVAL);
    CHECK(strstr(err, "empty") != NULL);
    CHECK_EQ_INT(c.n, 3);
    while (c.n < NOTIFY_MAX_RECEIVERS)
        CHECK_EQ_INT(notify_config_line(&c, "notify-webhook", "http://e.org/", err, sizeof(err)),
                     1);
    CHECK_EQ_INT(notify_config_line(&c, "notify-webhook", "http://e.org/", err, sizeof(err)),
                 VG_EINVAL);
    CHECK(strstr(err, "too many") != NULL);
    notify_config_release(&c);
    CHECK_EQ_INT(c.n, 0);
    test_rmrf(dir);
    free(dir);
}

/* ------------------------------------------------------------------------------------------ */
/* Tests: webhooks                                                                             */

/* 500, 500, then 200: the first notification is retried after ~1 s then ~2 s, in order. */
static void test_webhook_retry(void)
{
    static const int script[] = {500, 500};
    struct http_sink s;
    struct notify_config c;
    struct notify *n = NULL;
    struct notify_stats st;
    double gap1, gap2;
    REQUIRE(http_start(&s, script, 2) == 0);
    notify_config_init(&c);
    webhook_line(&c, s.port, "");
    REQUIRE(c.n == 1);
    REQUIRE(notify_open(&c, &n) == 0);
    post_seq(n, "city", "raised", 4, 1);
    post_seq(n, "city", "acknowledged", 4, 2);
    post_seq(n, "city", "resolved", 4, 3);
    CHECK(http_wait(&s, 5, 6000) >= 0);
    sleep_ms(50);
    notify_get_stats(n, &st);
    CHECK_EQ_INT(st.queued, 3);
    CHECK_EQ_INT(st.delivered, 3);
    CHECK_EQ_INT(st.retries, 2);
    CHECK_EQ_INT(st.dropped, 0);
    CHECK_EQ_INT(http_count(&s), 5);
    /* attempts: seq 1 (500), 1 (500), 1 (200), 2, 3 */
    static const int want[] = {1, 1, 1, 2, 3};
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(body_seq(s.body[i]), want[i]);
    CHECK_EQ_INT(s.sig_ok, 5);
    CHECK_EQ_INT(s.sig_bad, 0);
    CHECK_EQ_INT(s.hdr_bad, 0);
    gap1 = (double)(s.t_ns[1] - s.t_ns[0]) / 1e6;
    gap2 = (double)(s.t_ns[2] - s.t_ns[1]) / 1e6;
    printf("  retry gaps: %.0f ms, %.0f ms (expected 1000 and 2000 +-20%%)\n", gap1, gap2);
    CHECK(gap1 >= 780 && gap1 <= 1400);
    CHECK(gap2 >= 1580 && gap2 <= 2700);
    /* the body: {"event":...,"tenant":...,"alert":{...}} */
    json_t *j = json_loads(s.body[3], 0, NULL);
    CHECK(j && !strcmp(json_string_value(json_object_get(j, "event")) ?: "", "acknowledged"));
    CHECK(j && !strcmp(json_string_value(json_object_get(j, "tenant")) ?: "", "city"));
    CHECK(j && !strcmp(json_string_value(json_object_get(json_object_get(j, "alert"), "id")) ?: "",
                       "al-2"));
    json_decref(j);
    notify_free(n);
    notify_config_release(&c);
    http_stop(&s);
}

/* 400 is rejected for good; 429 is retried. */
static void test_webhook_reject(void)
{
    static const int script[] = {400, 429};
    struct http_sink s;
    struct notify_config c;
    struct notify *n = NULL;
    struct notify_stats st;
    REQUIRE(http_start(&s, script, 2) == 0);
    notify_config_init(&c);
    webhook_line(&c, s.port, "");
    REQUIRE(notify_open(&c, &n) == 0);
    post_seq(n, "city", "raised", 2, 1);
    post_seq(n, "city", "raised", 2, 2);
    CHECK(http_wait(&s, 3, 4000) >= 0);
    sleep_ms(50);
    notify_get_stats(n, &st);
    CHECK_EQ_INT(st.rejected, 1);
    CHECK_EQ_INT(st.retries, 1);
    CHECK_EQ_INT(st.delivered, 1);
    CHECK_EQ_INT(body_seq(s.body[0]), 1);
    CHECK_EQ_INT(body_seq(s.body[1]), 2);
    CHECK_EQ_INT(body_seq(s.body[2]), 2);
    notify_free(n);
    notify_config_release(&c);
    http_stop(&s);
}

/* A dead receiver next to a live one: the live one gets all 10,000 promptly; notify_post stays
** cheap; notify_free returns promptly while the dead one is in backoff. */
static void test_dead_and_live(void)
{
    struct http_sink s;
    struct notify_config c;
    struct notify *n = NULL;
    struct notify_receiver_state rs[2];
    struct buf m;
    int dead = 0, fd;
    int64_t t0;
    double post_ms, deliver_ms, free_ms;
    REQUIRE(http_start(&s, NULL, 0) == 0);
    fd = listen_on(&dead); /* a port where nothing listens once closed */
    REQUIRE(fd >= 0);
    close(fd);
    notify_config_init(&c);
    webhook_line(&c, dead, "");
    webhook_line(&c, s.port, "");
    REQUIRE(c.n == 2);
    REQUIRE(notify_open(&c, &n) == 0);
    t0 = clock_mono_ns();
    for (int i = 0; i < 10000; i++)
        post_seq(n, "city", "raised", 3, i);
    post_ms = ms_since(t0);
    deliver_ms = http_wait(&s, 10000, 20000);
    printf("  10000 posts to 2 receivers: %.2f ms (%.2f us each); live receiver got all in "
           "%.0f ms\n",
           post_ms, post_ms * 1000 / 10000, deliver_ms);
    CHECK(post_ms < POST_BUDGET_MS);
    CHECK(deliver_ms >= 0 && deliver_ms < 10000);
    for (int i = 0; i < MAX_KEEP; i++)
        CHECK_EQ_INT(body_seq(s.body[i]), i);
    CHECK_EQ_INT(notify_receivers(n, rs, 2), 2);
    CHECK_EQ_INT(rs[1].delivered, 10000);
    CHECK_EQ_INT(rs[1].queue_len, 0);
    CHECK_EQ_INT(rs[1].up, 1);
    CHECK_EQ_INT(rs[0].delivered, 0);
    CHECK(rs[0].retries >= 1);
    CHECK_EQ_INT(rs[0].queue_len, 10000);
    CHECK_EQ_INT(rs[0].up, 0);
    CHECK(strstr(rs[0].target, "user") == NULL && strstr(rs[0].target, "token") == NULL);
    CHECK(strstr(rs[0].target, "/hook") != NULL);
    buf_init(&m, 0);
    CHECK_EQ_INT(notify_metrics(n, &m), 0);
    CHECK(m.p && strstr(m.p, "vigie_notify_delivered_total{kind=\"webhook\",index=\"1\"} 10000"));
    CHECK(m.p && strstr(m.p, "vigie_notify_queue_length{kind=\"webhook\",index=\"0\"} 10000"));
    CHECK(m.p && strstr(m.p, "# TYPE vigie_notify_up gauge"));
    buf_release(&m);
    t0 = clock_mono_ns();
    notify_free(n);
    free_ms = ms_since(t0);
    printf("  notify_free with a receiver in backoff: %.1f ms\n", free_ms);
    CHECK(free_ms < 1000);
    notify_config_release(&c);
    http_stop(&s);
}

/* A receiver that accepts connections and never answers: notify_free still returns in ~1 s. */
static void test_free_hung(void)
{
    struct notify_config c;
    struct notify *n = NULL;
    int port = 0, fd = listen_on(&port);
    int64_t t0;
    double ms;
    REQUIRE(fd >= 0);
    notify_config_init(&c);
    webhook_line(&c, port, "");
    REQUIRE(notify_open(&c, &n) == 0);
    post_seq(n, "city", "raised", 3, 1);
    sleep_ms(300); /* the request is now waiting for an answer */
    t0 = clock_mono_ns();
    notify_free(n);
    ms = ms_since(t0);
    printf("  notify_free with a hung request: %.1f ms\n", ms);
    CHECK(ms < 1500);
    close(fd);
    notify_config_release(&c);
}

/* Queue of 100: the attempt in flight stays, the oldest queued ones are dropped. */
static void test_queue_full(void)
{
    static const int script[] = {500};
    struct http_sink s;
    struct notify_config c;
    struct notify *n = NULL;
    struct notify_stats st;
    char err[128];
    REQUIRE(http_start(&s, script, 1) == 0);
    notify_config_init(&c);
    webhook_line(&c, s.port, "");
    CHECK_EQ_INT(notify_config_line(&c, "notify-queue-max", "100", err, sizeof(err)), 1);
    REQUIRE(notify_open(&c, &n) == 0);
    post_seq(n, "city", "raised", 1, 0);
    CHECK(http_wait(&s, 1, 2000) >= 0); /* seq 0 failed: the receiver is in backoff */
    for (int i = 1; i < 250; i++)
        post_seq(n, "city", "raised", 1, i);
    notify_get_stats(n, &st);
    CHECK_EQ_INT(st.queued, 250);
    CHECK_EQ_INT(st.dropped, 149);
    CHECK(http_wait(&s, 102, 4000) >= 0);
    sleep_ms(50);
    notify_get_stats(n, &st);
    CHECK_EQ_INT(st.delivered, 101);
    CHECK_EQ_INT(http_count(&s), 102);
    CHECK_EQ_INT(body_seq(s.body[1]), 0);
    for (int i = 2; i < 102; i++)
        CHECK_EQ_INT(body_seq(s.body[i]), 148 + i);
    notify_free(n);
    notify_config_release(&c);
    http_stop(&s);
}

/* min-severity and tenant filters act before queueing. */
static void test_filters(void)
{
    struct http_sink s;
    struct notify_config c;
    struct notify *n = NULL;
    struct notify_receiver_state rs[2];
    REQUIRE(http_start(&s, NULL, 0) == 0);
    notify_config_init(&c);
    webhook_line(&c, s.port, "min-severity=high tenant=city");
    REQUIRE(c.n == 1);
    REQUIRE(notify_open(&c, &n) == 0);
    for (int sev = 0; sev <= 4; sev++) {
        post_seq(n, "city", "raised", sev, sev);
        post_seq(n, "other", "raised", sev, 10 + sev);
    }
    CHECK(http_wait(&s, 2, 2000) >= 0);
    sleep_ms(200);
    CHECK_EQ_INT(notify_receivers(n, rs, 2), 1);
    CHECK_EQ_INT(rs[0].queued, 2);
    CHECK_EQ_INT(rs[0].delivered, 2);
    CHECK_EQ_INT(http_count(&s), 2);
    CHECK_EQ_INT(body_seq(s.body[0]), 3);
    CHECK_EQ_INT(body_seq(s.body[1]), 4);
    notify_free(n);
    notify_config_release(&c);
    http_stop(&s);

    /* zero receivers: valid, posting is a no-op; NULL is fine too */
    notify_config_init(&c);
    REQUIRE(notify_open(&c, &n) == 0);
    notify_post(n, "city", "raised", 4, "{}");
    notify_post(NULL, "city", "raised", 4, "{}");
    struct notify_stats st;
    notify_get_stats(n, &st);
    CHECK_EQ_INT(st.queued, 0);
    notify_free(n);
    notify_free(NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* SMTP sink                                                                                   */

struct smtp_sink {
    int fd, port;
    pthread_t th;
    int stop;
    pthread_mutex_t mu;
    int mails;
    char from[256];
    char rcpt[4][256];
    int nrcpt;
    char *data; /* the last DATA, dot-terminator removed */
};

static int read_line(int c, char *line, size_t cap, int *stop)
{
    size_t n = 0;
    while (n + 1 < cap) {
        struct pollfd p = {c, POLLIN, 0};
        char ch;
        if (__atomic_load_n(stop, __ATOMIC_RELAXED))
            return -1;
        if (poll(&p, 1, 100) <= 0)
            continue;
        if (read(c, &ch, 1) != 1)
            return -1;
        line[n++] = ch;
        if (ch == '\n')
            break;
    }
    line[n] = '\0';
    return (int)n;
}

static void say(int c, const char *s)
{
    if (write(c, s, strlen(s)) < 0)
        return;
}

static void smtp_serve(struct smtp_sink *s, int c)
{
    char line[2048];
    say(c, "220 sink ESMTP\r\n");
    while (read_line(c, line, sizeof(line), &s->stop) > 0) {
        if (!strncasecmp(line, "EHLO", 4) || !strncasecmp(line, "HELO", 4)) {
            say(c, "250-sink\r\n250 8BITMIME\r\n");
        } else if (!strncasecmp(line, "MAIL FROM:", 10)) {
            pthread_mutex_lock(&s->mu);
            snprintf(s->from, sizeof(s->from), "%.*s", (int)strcspn(line + 10, "\r\n "),
                     line + 10);
            s->nrcpt = 0;
            pthread_mutex_unlock(&s->mu);
            say(c, "250 OK\r\n");
        } else if (!strncasecmp(line, "RCPT TO:", 8)) {
            pthread_mutex_lock(&s->mu);
            if (s->nrcpt < 4)
                snprintf(s->rcpt[s->nrcpt++], 256, "%.*s", (int)strcspn(line + 8, "\r\n "),
                         line + 8);
            pthread_mutex_unlock(&s->mu);
            say(c, "250 OK\r\n");
        } else if (!strncasecmp(line, "DATA", 4)) {
            struct buf d;
            int n;
            buf_init(&d, 0);
            say(c, "354 go ahead\r\n");
            while ((n = read_line(c, line, sizeof(line), &s->stop)) > 0 && strcmp(line, ".\r\n"))
                buf_append(&d, line, (size_t)n);
            pthread_mutex_lock(&s->mu);
            free(s->data);
            s->data = buf_detach(&d, NULL);
            s->mails++;
            pthread_mutex_unlock(&s->mu);
            say(c, "250 queued\r\n");
        } else if (!strncasecmp(line, "QUIT", 4)) {
            say(c, "221 bye\r\n");
            return;
        } else if (!strncasecmp(line, "RSET", 4) || !strncasecmp(line, "NOOP", 4)) {
            say(c, "250 OK\r\n");
        } else {
            say(c, "502 unknown\r\n");
        }
    }
}

static void *smtp_main(void *arg)
{
    struct smtp_sink *s = arg;
    while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
        struct pollfd p = {s->fd, POLLIN, 0};
        int c;
        if (poll(&p, 1, 100) <= 0)
            continue;
        c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        smtp_serve(s, c);
        close(c);
    }
    return NULL;
}

static int smtp_mails(struct smtp_sink *s)
{
    int n;
    pthread_mutex_lock(&s->mu);
    n = s->mails;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* Every LF of s is preceded by CR. */
static int all_crlf(const char *s)
{
    for (const char *p = strchr(s, '\n'); p; p = strchr(p + 1, '\n'))
        if (p == s || p[-1] != '\r')
            return 0;
    return 1;
}

static void test_smtp(void)
{
    struct smtp_sink s;
    struct notify_config c;
    struct notify *n = NULL;
    struct notify_stats st;
    char line[512], err[256];
    int64_t t0;
    memset(&s, 0, sizeof(s));
    pthread_mutex_init(&s.mu, NULL);
    s.fd = listen_on(&s.port);
    REQUIRE(s.fd >= 0);
    REQUIRE(pthread_create(&s.th, NULL, smtp_main, &s) == 0);
    notify_config_init(&c);
    snprintf(line, sizeof(line),
             "smtp://127.0.0.1:%d from=vigie@example.org to=ops@example.org,oncall@example.org "
             "min-severity=medium",
             s.port);
    CHECK_EQ_INT(notify_config_line(&c, "notify-smtp", line, err, sizeof(err)), 1);
    REQUIRE(notify_open(&c, &n) == 0);
    t0 = clock_mono_ns();
    notify_post(n, "city", "raised", 4,
                "{\"id\":\"al-7\",\"rule\":\"temp-high\",\"message\":\"Temperature too "
                "high\\nsecond line\",\"value\":41.5,\"entity\":\"sensor:1\"}");
    notify_post(n, "city", "raised", 1, "{\"id\":\"al-low\"}"); /* below medium */
    while (smtp_mails(&s) < 1 && ms_since(t0) < 5000)
        sleep_ms(5);
    printf("  smtp: first mail in %.1f ms\n", ms_since(t0));
    pthread_mutex_lock(&s.mu);
    REQUIRE(s.data);
    CHECK(!strcmp(s.from, "<vigie@example.org>"));
    CHECK_EQ_INT(s.nrcpt, 2);
    CHECK(!strcmp(s.rcpt[0], "<ops@example.org>"));
    CHECK(!strcmp(s.rcpt[1], "<oncall@example.org>"));
    CHECK(strstr(s.data, "\r\nFrom: vigie@example.org\r\n") != NULL);
    CHECK(strstr(s.data, "\r\nTo: ops@example.org, oncall@example.org\r\n") != NULL);
    CHECK(strstr(s.data,
                 "\r\nSubject: [Vigie] critical raised: Temperature too high second line\r\n") !=
          NULL);
    CHECK(!strncmp(s.data, "Date: ", 6));
    CHECK(strstr(s.data, "\r\nMessage-ID: <") != NULL && strstr(s.data, "@example.org>\r\n"));
    CHECK(strstr(s.data, "\r\nMIME-Version: 1.0\r\n") != NULL);
    CHECK(strstr(s.data, "\r\nContent-Type: text/plain; charset=utf-8\r\n") != NULL);
    CHECK(strstr(s.data, "\r\n\r\n") != NULL);
    CHECK(strstr(s.data, "\r\nvalue: 41.5\r\n") != NULL);
    CHECK(strstr(s.data, "\r\nentity: sensor:1\r\n") != NULL);
    CHECK(all_crlf(s.data));
    pthread_mutex_unlock(&s.mu);

    /* a non-ASCII message becomes an RFC 2047 encoded word */
    notify_post(n, "city", "escalated", 3, "{\"message\":\"Température élevée\"}");
    t0 = clock_mono_ns();
    while (smtp_mails(&s) < 2 && ms_since(t0) < 5000)
        sleep_ms(5);
    pthread_mutex_lock(&s.mu);
    const char *subj = s.data ? strstr(s.data, "\r\nSubject: =?UTF-8?B?") : NULL;
    CHECK(subj != NULL);
    if (subj) {
        unsigned char dec[128];
        size_t dl = 0;
        const char *b64 = subj + strlen("\r\nSubject: =?UTF-8?B?");
        size_t bl = (size_t)(strstr(b64, "?=") - b64);
        CHECK(sodium_base642bin(dec, sizeof(dec) - 1, b64, bl, NULL, &dl, NULL,
                                sodium_base64_VARIANT_ORIGINAL) == 0);
        dec[dl] = '\0';
        CHECK(!strcmp((char *)dec, "[Vigie] high escalated: Température élevée"));
    }
    pthread_mutex_unlock(&s.mu);
    sleep_ms(100);
    notify_get_stats(n, &st);
    CHECK_EQ_INT(st.queued, 2);
    CHECK_EQ_INT(st.delivered, 2);
    CHECK_EQ_INT(smtp_mails(&s), 2);
    notify_free(n);
    notify_config_release(&c);
    __atomic_store_n(&s.stop, 1, __ATOMIC_RELAXED);
    pthread_join(s.th, NULL);
    close(s.fd);
    free(s.data);
    pthread_mutex_destroy(&s.mu);
}

/* ------------------------------------------------------------------------------------------ */
/* MQTT with the real broker                                                                   */

struct broker {
    pid_t pid;
    int port;
    char conf[600], log[600];
};

static int broker_start(struct broker *b)
{
    char *argv[] = {"mosquitto", "-c", b->conf, NULL};
    posix_spawn_file_actions_t fa;
    int rc;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, b->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    rc = posix_spawnp(&b->pid, "mosquitto", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc)
        return -1;
    for (int i = 0; i < 300; i++) { /* wait until it listens */
        struct sockaddr_in a;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons((uint16_t)b->port);
        rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
        close(fd);
        if (waitpid(b->pid, NULL, WNOHANG) == b->pid) /* exited (port taken?) */
            break;
        if (rc == 0) {
            sleep_ms(50); /* the one listening must be ours */
            if (waitpid(b->pid, NULL, WNOHANG) == b->pid)
                break;
            return 0;
        }
        sleep_ms(10);
    }
    b->pid = 0;
    return -1;
}

static void broker_stop(struct broker *b)
{
    if (b->pid > 0) {
        kill(b->pid, SIGTERM);
        waitpid(b->pid, NULL, 0);
    }
    b->pid = 0;
}

struct sub {
    pthread_mutex_t mu;
    int n;
    char topic[8][256];
    char *payload[8];
    int64_t t_ns[8];
};

static void sub_on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
    struct sub *s = arg;
    pthread_mutex_lock(&s->mu);
    if (s->n < 8) {
        snprintf(s->topic[s->n], 256, "%s", msg->topic);
        s->payload[s->n] = strndup(msg->payload, (size_t)msg->payloadlen);
        s->t_ns[s->n] = clock_mono_ns();
        s->n++;
    }
    pthread_mutex_unlock(&s->mu);
}

static void sub_on_connect(struct mosquitto *m, void *arg, int rc)
{
    if (rc == 0)
        mosquitto_subscribe(m, NULL, "vigie/#", 1);
}

static int sub_count(struct sub *s)
{
    int n;
    pthread_mutex_lock(&s->mu);
    n = s->n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void test_mqtt(void)
{
    struct broker b;
    struct sub s;
    struct notify_config c;
    struct notify *n = NULL;
    struct notify_stats st;
    struct mosquitto *sm;
    char *dir = test_tmpdir("notify");
    char err[256], url[128];
    const char *want1 = "{\"event\":\"raised\",\"tenant\":\"city\",\"alert\":{\"id\":\"al-1\"}}";
    const char *want2 =
        "{\"event\":\"resolved\",\"tenant\":\"city\",\"alert\":{\"id\":\"al-1\",\"n\":2}}";
    int64_t t0;
    FILE *f;
    memset(&b, 0, sizeof(b));
    memset(&s, 0, sizeof(s));
    pthread_mutex_init(&s.mu, NULL);
    snprintf(b.conf, sizeof(b.conf), "%s/mosquitto.conf", dir);
    snprintf(b.log, sizeof(b.log), "%s/mosquitto.log", dir);
    for (int tries = 0; tries < 5 && !b.pid; tries++) {
        b.port = free_port();
        REQUIRE(b.port > 0);
        f = fopen(b.conf, "w");
        REQUIRE(f);
        /* persistence: the subscriber's session and its queued QoS 1 messages survive the
        ** restart */
        fprintf(f, "listener %d 127.0.0.1\nallow_anonymous true\npersistence true\n"
                   "persistence_location %s/\nautosave_interval 0\n",
                b.port, dir);
        fclose(f);
        broker_start(&b);
    }
    REQUIRE(b.pid > 0);

    mosquitto_lib_init();
    sm = mosquitto_new("vigie-notify-test-sub", false, &s);
    REQUIRE(sm);
    mosquitto_connect_callback_set(sm, sub_on_connect);
    mosquitto_message_callback_set(sm, sub_on_message);
    mosquitto_reconnect_delay_set(sm, 1, 1, false);
    CHECK_EQ_INT(mosquitto_connect(sm, "127.0.0.1", b.port, 30), MOSQ_ERR_SUCCESS);
    CHECK_EQ_INT(mosquitto_loop_start(sm), MOSQ_ERR_SUCCESS);
    sleep_ms(200); /* SUBACK */

    notify_config_init(&c);
    snprintf(url, sizeof(url), "mqtt://127.0.0.1:%d/vigie", b.port);
    CHECK_EQ_INT(notify_config_line(&c, "notify-mqtt", url, err, sizeof(err)), 1);
    REQUIRE(notify_open(&c, &n) == 0);
    t0 = clock_mono_ns();
    notify_post(n, "city", "raised", 2, "{\"id\":\"al-1\"}");
    while (sub_count(&s) < 1 && ms_since(t0) < 5000)
        sleep_ms(2);
    printf("  mqtt: first message (connect + publish) in %.1f ms\n", ms_since(t0));
    pthread_mutex_lock(&s.mu);
    CHECK_EQ_INT(s.n, 1);
    CHECK(!strcmp(s.topic[0], "vigie/city/raised"));
    CHECK(s.payload[0] && !strcmp(s.payload[0], want1));
    pthread_mutex_unlock(&s.mu);

    /* broker down: the notification waits in the queue */
    broker_stop(&b);
    sleep_ms(300);
    notify_post(n, "city", "resolved", 2, "{\"id\":\"al-1\",\"n\":2}");
    sleep_ms(1500);
    notify_get_stats(n, &st);
    CHECK_EQ_INT(st.delivered, 1);
    CHECK(st.retries >= 1);
    struct notify_receiver_state rs;
    notify_receivers(n, &rs, 1);
    CHECK_EQ_INT(rs.queue_len, 1);
    CHECK_EQ_INT(rs.up, 0);
    t0 = clock_mono_ns();
    REQUIRE(broker_start(&b) == 0);
    while (sub_count(&s) < 2 && ms_since(t0) < 8000)
        sleep_ms(5);
    printf("  mqtt: queued message delivered %.0f ms after the broker restart (%llu retries)\n",
           ms_since(t0), (unsigned long long)st.retries);
    pthread_mutex_lock(&s.mu);
    CHECK_EQ_INT(s.n, 2);
    CHECK(!strcmp(s.topic[1], "vigie/city/resolved"));
    CHECK(s.payload[1] && !strcmp(s.payload[1], want2));
    pthread_mutex_unlock(&s.mu);
    /* the broker may forward to the subscriber before the PUBACK reaches the publisher */
    t0 = clock_mono_ns();
    do {
        notify_get_stats(n, &st);
        sleep_ms(2);
    } while (st.delivered < 2 && ms_since(t0) < 2000);
    CHECK_EQ_INT(st.delivered, 2);
    CHECK_EQ_INT(st.dropped, 0);

    t0 = clock_mono_ns();
    notify_free(n);
    printf("  notify_free (mqtt connected): %.1f ms\n", ms_since(t0));
    CHECK(ms_since(t0) < 1000);
    mosquitto_disconnect(sm);
    mosquitto_loop_stop(sm, false);
    mosquitto_destroy(sm);
    mosquitto_lib_cleanup();
    broker_stop(&b);
    for (int i = 0; i < 8; i++)
        free(s.payload[i]);
    pthread_mutex_destroy(&s.mu);
    notify_config_release(&c);
    test_rmrf(dir);
    free(dir);
}

int main(void)
{
    char *dir;
    FILE *f;
    TEST_BEGIN("notify_test");
    signal(SIGPIPE, SIG_IGN);
    if (sodium_init() < 0)
        return 2;
    dir = test_tmpdir("notify");
    snprintf(secret_path, sizeof(secret_path), "%s/secret", dir);
    f = fopen(secret_path, "w");
    if (!f)
        return 2;
    fprintf(f, "%s\n", SECRET);
    fclose(f);
    TEST_RUN(test_config);
    TEST_RUN(test_filters);
    TEST_RUN(test_webhook_retry);
    TEST_RUN(test_webhook_reject);
    TEST_RUN(test_queue_full);
    TEST_RUN(test_dead_and_live);
    TEST_RUN(test_free_hung);
    TEST_RUN(test_smtp);
    TEST_RUN(test_mqtt);
    test_rmrf(dir);
    free(dir);
    return TEST_END();
}
