/*
** net/http.h: the HTTP listener, a thin wrapper over libmicrohttpd.
** Owns: the MHD daemon (a thread per connection, or an epoll pool of `threads`), per-request state (struct http_req: the
** capped body buffer and the response being built) and the limits below.
** Calls the application handler once per request, in an MHD thread, after the whole body
** has arrived (or the body limit was hit). The handler fills struct http_resp; this module sends
** it and writes the access-log line.
** Thread: the handler runs concurrently in up to max_connections threads (threads = 0) or in
** `threads` pool threads.
*/
#ifndef VG_NET_HTTP_H
#define VG_NET_HTTP_H

#include "core/buf.h"

#include <stdint.h>

struct http_server;
struct MHD_Connection;
struct http_req;
struct http_resp;

struct http_opts {
    const char *listen;       /* "ADDR:PORT", e.g. "127.0.0.1:8080", "0.0.0.0:8080", "[::1]:8080" */
    uint32_t threads;         /* 0: one thread per connection (default); N: an epoll pool of N */
    uint32_t max_connections; /* default 512 */
    uint32_t timeout_s;       /* idle connection timeout (default 30) */
    size_t max_body;          /* bytes (default 64 MiB); larger bodies get 413 */
    size_t max_header;        /* request line + headers (default 32 KiB); larger get a 431
                                 problem document (MHD's own pool is 4x this, min 256 KiB) */
    int (*early)(void *arg, struct http_req *req, struct http_resp *resp); /* http_early_fn */
};

#define HTTP_MAX_RESP_HEADERS 8

struct http_req {
    struct MHD_Connection *conn;
    const char *method;
    const char *url;       /* path only, percent-decoded by MHD */
    char peer[64];         /* client address */
    struct buf body;       /* capped at max_body */
    int body_too_big;
    int answered;          /* a response was queued */
    /* set by the application's early function for its handler */
    const void *route;
    int scope;
    int authenticated;
    char key_label[128];   /* the API key's label ("" = none) */
    int64_t start_ns;
    /* set by the application for the access log */
    char tenant[64];
    char principal[32];
};

/* A streamed answer (Server-Sent Events): instead of body, read() is called for the next bytes
** until it returns HTTP_STREAM_END (or the client goes away); it may block (thread-per-
** connection mode only: the caller checks http_streams_ok). free(arg) runs once, when the
** connection ends, in every case. */
#define HTTP_STREAM_END (-1)
struct http_stream {
    long (*read)(void *arg, char *out, size_t cap); /* bytes written (> 0) or HTTP_STREAM_END */
    void (*free)(void *arg);
    void *arg;
};

struct http_resp {
    int status;
    const char *ctype;     /* static string */
    struct buf body;
    struct http_stream stream; /* set (read != NULL) to stream instead of body */
    const char *hdr_name[HTTP_MAX_RESP_HEADERS]; /* static names */
    char *hdr_val[HTTP_MAX_RESP_HEADERS];        /* owned copies */
    int nhdr;
};

typedef void http_handler_fn(void *arg, struct http_req *req, struct http_resp *resp);
/* Called once per request on its headers, before the body is read. Return 1 after filling resp
** to answer at once (the body is then discarded unread), 0 to read the body and call the
** handler. */
typedef int http_early_fn(void *arg, struct http_req *req, struct http_resp *resp);

/* Start listening. On error *out is unchanged and a message is in err. */
int http_start(const struct http_opts *o, http_handler_fn *fn, void *arg, struct http_server **out,
               char *err, size_t errcap);
/* Stop accepting new connections at once (in-flight requests continue). */
void http_quiesce(struct http_server *s);
/* Finish in-flight requests, close every connection, free. NULL is a no-op. */
void http_stop(struct http_server *s);
/* May a handler answer with a blocking http_stream? Only with a thread per connection. */
int http_streams_ok(const struct http_server *s);
/* Port actually bound (useful with port 0). */
uint16_t http_port(struct http_server *s);

/* Request accessors (valid during the handler only). */
const char *http_header(struct http_req *r, const char *name);
const char *http_arg(struct http_req *r, const char *name);
const char *http_cookie(struct http_req *r, const char *name);
/* The connection's socket, for http_peer_gone (-1 if unknown). */
int http_conn_fd(struct http_req *r);
/* Has the client closed its side of the connection fd (or reset it)? Never blocks. A stream asks
** between writes, so that a departed client frees its thread at once. */
int http_peer_gone(int fd);
/* Call fn for each query argument named name (repeated arguments). */
typedef void http_arg_fn(void *arg, const char *value);
void http_args(struct http_req *r, const char *name, http_arg_fn *fn, void *arg);

/* Call fn for every query argument, in request order (values percent-decoded; "" if absent). */
typedef void http_kv_fn(void *arg, const char *name, const char *value);
void http_args_all(struct http_req *r, http_kv_fn *fn, void *arg);

/* Response helpers. */
void http_resp_header(struct http_resp *resp, const char *name, const char *val);

struct http_stats {
    uint64_t requests, responses_2xx, responses_4xx, responses_5xx;
    uint64_t bytes_in, bytes_out;
    uint64_t active;
};
void http_get_stats(struct http_server *s, struct http_stats *st);

#endif
