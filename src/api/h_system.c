/*
** api/h_system.c: GET /health, GET|HEAD /ping (InfluxDB compatible), GET / and GET /metrics
** (Prometheus text exposition format 0.0.4).
*/
#include "api/api_int.h"

#include "core/clock.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/version.h"
#define VIGIE_VERSION_STR VIGIE_VERSION

static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &res) != 2)
        res = 0;
    fclose(f);
    return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

void h_health(struct api *a, struct http_req *req, struct http_resp *resp, const struct principal *p)
{
    struct store_stats ss;
    store_get_stats(a->st, &ss);
    int degraded = ss.write_error != 0;
    resp->status = degraded ? 503 : 200;
    resp->ctype = "application/json";
    buf_printf(&resp->body,
               "{\"status\":\"%s\",\"version\":\"%s\",\"uptime_s\":%lld,\"writes\":\"%s\"}\n",
               degraded ? "degraded" : "ok", VIGIE_VERSION_STR,
               (long long)((clock_now_ms() - a->started_ms) / 1000),
               degraded ? vg_strerror(ss.write_error) : "ok");
}

void h_ping(struct api *a, struct http_req *req, struct http_resp *resp, const struct principal *p)
{
    resp->status = 204;
    http_resp_header(resp, "X-Influxdb-Version", "1.8-vigie-" VIGIE_VERSION_STR);
}

void h_index(struct api *a, struct http_req *req, struct http_resp *resp, const struct principal *p)
{
    const char *acc = http_header(req, "Accept");
    if (acc && strstr(acc, "text/html")) { /* a browser: the dashboard */
        h_asset(a, req, resp, p);
        return;
    }
    resp->status = 200;
    resp->ctype = "application/json";
    buf_puts(&resp->body,
             "{\"name\":\"vigie\",\"version\":\"" VIGIE_VERSION_STR "\",\"endpoints\":["
             "\"/health\",\"/metrics\",\"/write\",\"/api/v2/write\",\"/api/v1/query\","
             "\"/api/v1/latest\",\"/api/v1/quarantine\",\"/api/v1/sources\",\"/api/v1/live\",\"/api/v1/rules\",\"/api/v1/alerts\","
             "\"/ngsi-ld/v1/\"],\"ui\":\"/\"}\n");
}

static void counter(struct buf *b, const char *name, const char *help, uint64_t v)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
               (unsigned long long)v);
}

static void gauge(struct buf *b, const char *name, const char *help, uint64_t v)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name, name,
               (unsigned long long)v);
}

void h_metrics(struct api *a, struct http_req *req, struct http_resp *resp, const struct principal *p)
{
    struct store_stats ss;
    struct ingest_stats is;
    struct catalog_stats cs;
    struct buf *b = &resp->body;
    store_get_stats(a->st, &ss);
    ingest_get_stats(a->ig, &is);
    catalog_get_stats(a->cat, &cs);

    counter(b, "vigie_ingest_requests_total", "Ingest requests (line protocol).", is.requests);
    counter(b, "vigie_ingest_lines_total", "Line-protocol lines received.", is.lines);
    counter(b, "vigie_ingest_points_total", "Values stored.", is.points);
    counter(b, "vigie_ingest_bad_lines_total", "Lines quarantined.", is.bad_lines);
    counter(b, "vigie_ingest_failed_batches_total", "Batches refused (store error).",
            is.failed_batches);
    counter(b, "vigie_store_points_written_total", "Points accepted by the engine.",
            ss.points_written);
    counter(b, "vigie_wal_bytes_written_total", "Bytes written to the write-ahead log.",
            ss.wal.bytes_written);
    gauge(b, "vigie_wal_size_bytes", "Bytes in live WAL segments.", ss.wal.size_on_disk);
    gauge(b, "vigie_wal_segments", "Live WAL segments.", ss.wal.segments);
    counter(b, "vigie_wal_fsyncs_total", "fdatasync calls on the WAL.", ss.wal.syncs);
    buf_puts(b, "# HELP vigie_wal_fsync_seconds WAL fdatasync latency.\n"
                "# TYPE vigie_wal_fsync_seconds histogram\n");
    /* wal_get_stats() gives cumulative counts already, as Prometheus buckets are */
    for (int i = 0; i < 11; i++)
        buf_printf(b, "vigie_wal_fsync_seconds_bucket{le=\"%g\"} %llu\n",
                   wal_sync_hist_bounds_us[i] / 1e6, (unsigned long long)ss.wal.sync_hist[i]);
    buf_printf(b, "vigie_wal_fsync_seconds_bucket{le=\"+Inf\"} %llu\n",
               (unsigned long long)ss.wal.sync_hist[11]);
    buf_printf(b, "vigie_wal_fsync_seconds_sum %g\n", ss.wal.sync_total_us / 1e6);
    buf_printf(b, "vigie_wal_fsync_seconds_count %llu\n", (unsigned long long)ss.wal.syncs);
    gauge(b, "vigie_series", "Series in the catalogue.", cs.series);
    gauge(b, "vigie_series_retired", "Series whose history was deleted (unreachable, kept on "
                                     "disk until their partition expires).", cs.retired);
    gauge(b, "vigie_entities", "Entities in the catalogue.", cs.entities);
    gauge(b, "vigie_tenants", "Tenants with data.", cs.tenants);
    gauge(b, "vigie_chunks", "Compressed chunks on disk.", ss.chunks);
    gauge(b, "vigie_blocks", "Block files on disk.", ss.blocks);
    gauge(b, "vigie_partitions", "Time partitions on disk.", ss.partitions);
    gauge(b, "vigie_head_points", "Points in the in-memory head.", ss.head_points);
    gauge(b, "vigie_head_bytes", "Bytes used by the in-memory head.", ss.head_bytes);
    gauge(b, "vigie_disk_bytes", "Bytes of blocks and WAL on disk.", ss.disk_bytes);
    counter(b, "vigie_checkpoints_total", "Head-to-block checkpoints.", ss.checkpoints);
    counter(b, "vigie_compactions_total", "Block compactions.", ss.compactions);
    counter(b, "vigie_partitions_dropped_total", "Partitions dropped by retention.",
            ss.partitions_dropped);
    gauge(b, "vigie_write_error", "1 while writes are refused (disk full or I/O error).",
          ss.write_error ? 1 : 0);
    gauge(b, "vigie_resident_memory_bytes", "Resident set size.", rss_bytes());
    counter(b, "vigie_auth_failures_total", "Requests refused by authorisation.",
            atomic_load(&a->auth_failures));
    counter(b, "vigie_write_overloaded_total",
            "Writes refused with 503 because max-inflight bytes were being stored.",
            atomic_load(&a->overloaded));
    gauge(b, "vigie_write_inflight_bytes", "Write bodies being stored.",
          atomic_load(&a->inflight_bytes));
    h_sources_metrics(a, b);
    h_live_metrics(a, b);
    h_alerts_metrics(a, b);
    struct http_server *http = __atomic_load_n(&a->http, __ATOMIC_ACQUIRE);
    if (http) {
        struct http_stats hs;
        http_get_stats(http, &hs);
        buf_printf(b, "# HELP vigie_http_responses_total HTTP responses by class.\n"
                      "# TYPE vigie_http_responses_total counter\n"
                      "vigie_http_responses_total{class=\"2xx\"} %llu\n"
                      "vigie_http_responses_total{class=\"4xx\"} %llu\n"
                      "vigie_http_responses_total{class=\"5xx\"} %llu\n",
                   (unsigned long long)hs.responses_2xx, (unsigned long long)hs.responses_4xx,
                   (unsigned long long)hs.responses_5xx);
        gauge(b, "vigie_http_active_requests", "Requests in progress.", hs.active);
        counter(b, "vigie_http_received_bytes_total", "Request body bytes received.", hs.bytes_in);
    }
    resp->status = 200;
    resp->ctype = "text/plain; version=0.0.4; charset=utf-8";
}
