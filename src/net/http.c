/*
** net/http.c: libmicrohttpd setup, body collection with a cap, response sending, access log.
** Owns: struct http_server (the daemon) and each struct http_req (freed in request_completed).
*/
#include "net/http.h"

#include "core/clock.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct http_server {
    struct MHD_Daemon *d;
    struct http_opts o;
    http_handler_fn *fn;
    void *arg;
    uint16_t port;
    int listen_fd; /* returned by MHD_quiesce_daemon, closed after MHD_stop_daemon */
    atomic_uint_fast64_t requests, r2xx, r4xx, r5xx, bytes_in, bytes_out, active;
};

static void peer_string(struct MHD_Connection *c, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = '\0';
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
}

static void resp_release(struct http_resp *r)
{
    buf_release(&r->body);
    if (r->stream.read && r->stream.free) /* never handed to MHD */
        r->stream.free(r->stream.arg);
    for (int i = 0; i < r->nhdr; i++)
        free(r->hdr_val[i]);
}

void http_resp_header(struct http_resp *resp, const char *name, const char *val)
{
    if (resp->nhdr >= HTTP_MAX_RESP_HEADERS)
        return;
    resp->hdr_name[resp->nhdr] = name;
    resp->hdr_val[resp->nhdr] = vg_strdup(val);
    resp->nhdr++;
}

/* MHD's content reader over an http_stream. */
struct stream_ctx {
    struct http_server *s;
    struct http_stream st;
};

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    struct stream_ctx *c = cls;
    (void)pos;
    long n = c->st.read(c->st.arg, out, max);
    if (n <= 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    atomic_fetch_add(&c->s->bytes_out, (uint64_t)n);
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    struct stream_ctx *c = cls;
    if (c->st.free)
        c->st.free(c->st.arg);
    free(c);
}

static enum MHD_Result send_resp(struct http_server *s, struct http_req *req, struct http_resp *r)
{
    size_t len = 0;
    struct MHD_Response *mr;
    if (r->stream.read) {
        struct stream_ctx *c = vg_calloc(1, sizeof(*c));
        c->s = s;
        c->st = r->stream;
        memset(&r->stream, 0, sizeof(r->stream)); /* owned by the response from here on */
        mr = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 << 10, stream_read, c,
                                               stream_free);
        if (!mr) {
            stream_free(c);
            return MHD_NO;
        }
    } else {
        char *body = buf_detach(&r->body, &len);
        mr = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
        if (!mr) {
            free(body);
            return MHD_NO;
        }
    }
    if (r->ctype)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, r->ctype);
    for (int i = 0; i < r->nhdr; i++)
        MHD_add_response_header(mr, r->hdr_name[i], r->hdr_val[i]);
    enum MHD_Result ok = MHD_queue_response(req->conn, (unsigned)r->status, mr);
    MHD_destroy_response(mr);

    atomic_fetch_add(&s->bytes_out, len);
    if (r->status < 300)
        atomic_fetch_add(&s->r2xx, 1);
    else if (r->status < 500)
        atomic_fetch_add(&s->r4xx, 1);
    else
        atomic_fetch_add(&s->r5xx, 1);
    double ms = (double)(clock_mono_ns() - req->start_ns) / 1e6;
    char url[512];
    size_t ul = 0;
    for (const char *u = req->url; *u && ul + 5 < sizeof(url); u++) {
        unsigned char c = (unsigned char)*u;
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
            ul += (size_t)snprintf(url + ul, sizeof(url) - ul, "\\x%02x", c);
        else
            url[ul++] = (char)c;
    }
    url[ul] = '\0';
    log_access("%s \"%s %s\" %d %zu %zu %.3fms tenant=%s key=%s", req->peer, req->method, url,
               r->status, req->body.len, len, ms, req->tenant[0] ? req->tenant : "-",
               req->principal[0] ? req->principal : "-");
    return ok;
}

static enum MHD_Result header_size_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                        const char *value)
{
    size_t *total = cls;
    (void)kind;
    *total += (key ? strlen(key) : 0) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    struct http_server *s = cls;
    struct http_req *req = *con_cls;
    (void)version;
    if (!req) {
        req = vg_calloc(1, sizeof(*req));
        req->conn = conn;
        req->method = method;
        req->url = url;
        req->start_ns = clock_mono_ns();
        buf_init(&req->body, s->o.max_body);
        peer_string(conn, req->peer, sizeof(req->peer));
        *con_cls = req;
        atomic_fetch_add(&s->requests, 1);
        atomic_fetch_add(&s->active, 1);
        /* Decide on the headers alone, before any body byte is read: a request that will be
        ** refused (too large, unknown route, no key) never makes us buffer its body. A
        ** response queued now makes MHD skip "100 Continue" and discard the body. */
        size_t hsize = strlen(url) + strlen(method);
        MHD_get_connection_values(conn, MHD_HEADER_KIND, header_size_iter, &hsize);
        struct http_resp resp;
        memset(&resp, 0, sizeof(resp));
        buf_init(&resp.body, 0);
        if (hsize > s->o.max_header) {
            resp.status = 431;
            resp.ctype = "application/problem+json";
            buf_printf(&resp.body,
                       "{\"type\":\"urn:vigie:problem:headers-too-large\",\"title\":\"Request "
                       "header fields too large\",\"status\":431,\"detail\":\"the request line "
                       "and headers exceed %zu bytes\",\"error\":\"headers too large\"}\n",
                       s->o.max_header);
            req->answered = 1;
        } else if (s->o.early && s->o.early(s->arg, req, &resp)) {
            req->answered = 1;
        }
        enum MHD_Result ok = MHD_YES;
        if (req->answered)
            ok = send_resp(s, req, &resp);
        resp_release(&resp);
        return ok;
    }
    if (req->answered) { /* refused early: drop whatever body still arrives */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        atomic_fetch_add(&s->bytes_in, *upload_size);
        if (!req->body_too_big && buf_append(&req->body, upload_data, *upload_size)) {
            req->body_too_big = 1; /* no Content-Length (chunked): answer 413 at the end */
            buf_release(&req->body);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    struct http_resp resp;
    memset(&resp, 0, sizeof(resp));
    buf_init(&resp.body, 0);
    resp.status = 500;
    s->fn(s->arg, req, &resp);
    req->answered = 1;
    enum MHD_Result ok = send_resp(s, req, &resp);
    resp_release(&resp);
    return ok;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *s = cls;
    struct http_req *req = *con_cls;
    (void)conn;
    if (!req)
        return;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        log_debug("request from '%s' ended early (code %d)", req->peer, (int)toe);
    atomic_fetch_sub(&s->active, 1);
    buf_release(&req->body);
    free(req);
    *con_cls = NULL;
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_warn("http: %s", msg);
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[128];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || strlen(colon + 1) == 0)
        return -1;
    size_t hl = (size_t)(colon - listen);
    if (hl >= sizeof(host))
        return -1;
    memcpy(host, listen, hl);
    host[hl] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return -1;
    memset(ss, 0, sizeof(*ss));
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
            return -1;
        *len = sizeof(*a);
        return 0;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
        return -1;
    *len = sizeof(*a);
    return 0;
}

int http_start(const struct http_opts *o, http_handler_fn *fn, void *arg, struct http_server **out,
               char *err, size_t errcap)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_listen(o->listen, &ss, &sl)) {
        snprintf(err, errcap, "invalid listen address '%s' (want ADDR:PORT)", o->listen);
        return VG_EINVAL;
    }
    struct http_server *s = vg_calloc(1, sizeof(*s));
    s->o = *o;
    if (!s->o.max_connections)
        s->o.max_connections = 512;
    if (!s->o.timeout_s)
        s->o.timeout_s = 30;
    if (!s->o.max_body)
        s->o.max_body = 64u << 20;
    if (!s->o.max_header)
        s->o.max_header = 32u << 10;
    s->fn = fn;
    s->arg = arg;
    s->listen_fd = -1;
    /* Handlers block (a write waits for its group fsync). In a fixed pool each thread serves
    ** the connections it happened to accept, so a few busy threads queue many clients behind
    ** one fsync; a thread per connection lets every client join the next group commit. */
    unsigned flags = MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (s->o.threads)
        flags |= MHD_USE_EPOLL_INTERNAL_THREAD;
    else
        flags |= MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(s->o.threads ? s->o.threads : 1),
        MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)s->o.max_connections, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->o.timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, VG_MAX((size_t)256 << 10, 4 * s->o.max_header), MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        (unsigned)1024, MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errcap, "cannot listen on '%s' (address in use or not permitted)", o->listen);
        free(s);
        return VG_EIO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : 0;
    *out = s;
    return VG_OK;
}

void http_quiesce(struct http_server *s)
{
    if (s && s->d && s->listen_fd < 0)
        s->listen_fd = MHD_quiesce_daemon(s->d);
}

void http_stop(struct http_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    if (s->listen_fd >= 0)
        close(s->listen_fd); /* MHD_quiesce_daemon hands the listening socket to us */
    free(s);
}

int http_streams_ok(const struct http_server *s)
{
    return s && s->o.threads == 0;
}

uint16_t http_port(struct http_server *s)
{
    return s->port;
}

const char *http_header(struct http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

int http_conn_fd(struct http_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

int http_peer_gone(int fd)
{
    if (fd < 0)
        return 0;
    struct pollfd pfd = {fd, POLLRDHUP, 0};
    return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

const char *http_cookie(struct http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

const char *http_arg(struct http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct args_ctx {
    const char *name;
    http_arg_fn *fn;
    void *arg;
};

static enum MHD_Result args_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    struct args_ctx *a = cls;
    (void)kind;
    if (key && value && strcmp(key, a->name) == 0)
        a->fn(a->arg, value);
    return MHD_YES;
}

void http_args(struct http_req *r, const char *name, http_arg_fn *fn, void *arg)
{
    struct args_ctx a = {name, fn, arg};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, args_iter, &a);
}

struct args_all_ctx {
    http_kv_fn *fn;
    void *arg;
};

static enum MHD_Result args_all_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct args_all_ctx *a = cls;
    (void)kind;
    if (key)
        a->fn(a->arg, key, value ? value : "");
    return MHD_YES;
}

void http_args_all(struct http_req *r, http_kv_fn *fn, void *arg)
{
    struct args_all_ctx a = {fn, arg};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, args_all_iter, &a);
}

void http_get_stats(struct http_server *s, struct http_stats *st)
{
    st->requests = atomic_load(&s->requests);
    st->responses_2xx = atomic_load(&s->r2xx);
    st->responses_4xx = atomic_load(&s->r4xx);
    st->responses_5xx = atomic_load(&s->r5xx);
    st->bytes_in = atomic_load(&s->bytes_in);
    st->bytes_out = atomic_load(&s->bytes_out);
    st->active = atomic_load(&s->active);
}
