/*
** api/h_write.c: POST /write (InfluxDB 1.x) and POST /api/v2/write (InfluxDB 2.x).
** Body: line protocol, optionally gzip (Content-Encoding: gzip). precision: ns (default), us,
** ms, s (1.x also n, u). db/bucket/org are accepted and ignored: the tenant comes from the key.
** Answers (docs/api.md):
**   204  every line stored and durable
**   400  some lines bad: the good ones are stored, the bad ones quarantined; detail names the
**        first bad lines (members "stored", "rejected")
**   413  body (or its gzip expansion) over the limit
**   503  store closing; 507 disk full (Retry-After); 500 other store errors
*/
#include "api/api_int.h"

#include "core/clock.h"
#include "core/log.h"
#include "ingest/sources.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

/* Inflate gzip src into out (capped). Returns 0, VG_ETOOBIG or VG_EINVAL. */
static int gunzip(const char *src, size_t len, struct buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return VG_ENOMEM;
    z.next_in = (Bytef *)src;
    z.avail_in = (uInt)len;
    int rc = VG_OK;
    for (;;) {
        if ((rc = buf_reserve(out, 256 * 1024)))
            break;
        size_t room = out->alloc - out->len - 1;
        z.next_out = (Bytef *)out->p + out->len;
        z.avail_out = (uInt)room;
        int zr = inflate(&z, Z_NO_FLUSH);
        out->len += room - z.avail_out;
        if (zr == Z_STREAM_END) {
            /* Concatenated gzip members are legal: continue with the next one. */
            if (z.avail_in == 0)
                break;
            inflateReset(&z);
            continue;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            rc = VG_EINVAL;
            break;
        }
        if (zr == Z_BUF_ERROR && z.avail_in == 0) {
            rc = VG_EINVAL; /* truncated stream */
            break;
        }
    }
    inflateEnd(&z);
    if (!rc)
        out->p[out->len] = '\0';
    return rc;
}

void h_write(struct api *a, struct http_req *req, struct http_resp *resp, const struct principal *p)
{
    const char *body = req->body.p ? req->body.p : "";
    size_t len = req->body.len;
    struct buf inflated;
    buf_init(&inflated, a->o.max_decoded_body);

    const char *enc = http_header(req, "Content-Encoding");
    if (enc && strcasecmp(enc, "gzip") == 0) {
        int rc = gunzip(body, len, &inflated);
        if (rc == VG_ETOOBIG) {
            problem(resp, 413, "body-too-large", "Request body too large",
                    "the gzip body expands past %zu bytes", a->o.max_decoded_body);
            goto out;
        }
        if (rc) {
            problem(resp, 400, "bad-encoding", "Bad request", "the body is not valid gzip");
            goto out;
        }
        body = inflated.p;
        len = inflated.len;
    } else if (enc && strcasecmp(enc, "identity") != 0) {
        problem(resp, 415, "unsupported-encoding", "Unsupported content encoding",
                "Content-Encoding '%s' is not supported (use gzip or none)", enc);
        goto out;
    }

    const char *prec_s = http_arg(req, "precision");
    int prec = lp_precision_parse(prec_s);
    if (prec < 0) {
        problem(resp, 400, "bad-precision", "Bad request",
                "precision '%s' is not one of ns, us, ms, s", prec_s);
        goto out;
    }

    /* The source: a declared source bound to the API key, else "key:LABEL", else "http". */
    char source[SOURCE_NAME_MAX + 1], bkey[160];
    snprintf(bkey, sizeof(bkey), "key:%s", p->key_label);
    sources_resolve(a->sources, bkey, p->key_label[0] ? bkey : "http", source, sizeof(source));
    struct source *src = sources_get(a->sources, source, SOURCE_HTTP, p->tenant);
    if (api_admit(a, len, resp))
        goto out;
    struct ingest_result res;
    int64_t now = clock_now_ms();
    int rc = ingest_lp(a->ig, p->tenant, source, body, len, (enum lp_precision)prec, now, &res);
    api_release(a, len);
    if (rc) {
        char e[160];
        snprintf(e, sizeof(e), "write refused: %s", vg_strerror(rc));
        source_error(src, e, now);
    } else {
        source_seen(src, 1, res.lines - res.bad, res.bad, now);
        if (res.bad)
            source_error(src, res.first_errors, now);
    }
    if (rc == VG_EFULL) {
        log_error("write from '%s' refused: disk full", req->peer);
        problem(resp, 507, "insufficient-storage", "Insufficient storage",
                "the disk is full: nothing of this batch was acknowledged; retry later");
        http_resp_header(resp, "Retry-After", "30");
        goto out;
    }
    if (rc == VG_ETOOBIG) {
        problem(resp, 413, "body-too-large", "Request body too large", "%s", res.first_errors);
        goto out;
    }
    if (rc == VG_ECLOSED || rc == VG_EAGAIN) {
        problem(resp, 503, "unavailable", "Service unavailable",
                "the server is %s; retry later", rc == VG_ECLOSED ? "stopping" : "overloaded");
        http_resp_header(resp, "Retry-After", "5");
        goto out;
    }
    if (rc) {
        log_error("write from '%s' failed: %s", req->peer, vg_strerror(rc));
        problem(resp, 500, "internal", "Internal error",
                "the batch could not be stored (%s); nothing of it was acknowledged",
                vg_strerror(rc));
        goto out;
    }
    if (res.bad) {
        char extra[160];
        snprintf(extra, sizeof(extra),
                 "\"stored\":%llu,\"rejected\":%llu,\"quarantine\":\"/api/v1/quarantine\"",
                 (unsigned long long)res.points, (unsigned long long)res.bad);
        log_warn("write from '%s': %llu bad lines quarantined (%s)", req->peer,
                 (unsigned long long)res.bad, res.first_errors);
        problem_ext(resp, 400, "bad-lines", "Some lines were rejected", extra,
                    "%llu of %llu lines rejected and quarantined, the others stored: %s",
                    (unsigned long long)res.bad, (unsigned long long)res.lines, res.first_errors);
        goto out;
    }
    resp->status = 204;
out:
    buf_release(&inflated);
}
