/*
** net/httpc.c: minimal HTTP/1.1 GET (Connection: close; reads until EOF).
*/
#include "net/httpc.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int httpc_get(const char *url, const char *key, int *status, struct buf *out, char *err,
              size_t cap)
{
    char host[256], port[16] = "80";
    const char *path;
    if (strncmp(url, "http://", 7) != 0) {
        snprintf(err, cap, "only http:// URLs are supported");
        return VG_EINVAL;
    }
    const char *h = url + 7;
    const char *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    path = slash ? slash : "/";
    if (hl >= sizeof(host)) {
        snprintf(err, cap, "host too long");
        return VG_EINVAL;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *colon = strrchr(host, ':');
    if (colon) {
        snprintf(port, sizeof(port), "%s", colon + 1);
        *colon = '\0';
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) || !res) {
        snprintf(err, cap, "cannot resolve '%s'", host);
        return VG_EIO;
    }
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen)) {
        snprintf(err, cap, "cannot connect to %s:%s", host, port);
        freeaddrinfo(res);
        if (fd >= 0)
            close(fd);
        return VG_EIO;
    }
    freeaddrinfo(res);
    struct buf req;
    buf_init(&req, 1 << 16);
    buf_printf(&req, "GET %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n", path, host, port);
    if (key)
        buf_printf(&req, "Authorization: Bearer %s\r\n", key);
    buf_puts(&req, "\r\n");
    int rc = VG_OK;
    if (write(fd, req.p, req.len) != (ssize_t)req.len) {
        snprintf(err, cap, "cannot send request");
        rc = VG_EIO;
    }
    buf_release(&req);
    struct buf resp;
    buf_init(&resp, 1u << 30);
    char tmp[65536];
    ssize_t n;
    while (!rc && (n = read(fd, tmp, sizeof(tmp))) > 0)
        if (buf_append(&resp, tmp, (size_t)n))
            rc = VG_ETOOBIG;
    close(fd);
    if (!rc) {
        char *sep = resp.p ? strstr(resp.p, "\r\n\r\n") : NULL;
        if (!sep || sscanf(resp.p, "HTTP/1.%*d %d", status) != 1) {
            snprintf(err, cap, "malformed HTTP response");
            rc = VG_EIO;
        } else {
            const char *body = sep + 4;
            size_t blen = resp.len - (size_t)(body - resp.p);
            /* De-chunk if needed. */
            if (strcasestr(resp.p, "transfer-encoding: chunked") &&
                strcasestr(resp.p, "transfer-encoding: chunked") < sep) {
                const char *p = body, *end = body + blen;
                while (p < end) {
                    char *e;
                    unsigned long sz = strtoul(p, &e, 16);
                    const char *d = strstr(e, "\r\n");
                    if (!d || sz == 0)
                        break;
                    d += 2;
                    if ((size_t)(end - d) < sz)
                        break;
                    buf_append(out, d, sz);
                    p = d + sz + 2;
                }
            } else {
                buf_append(out, body, blen);
            }
        }
    }
    buf_release(&resp);
    return rc;
}
