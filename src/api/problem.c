/*
** api/problem.c: RFC 7807 problem documents, the body of every error response.
*/
#include "api/api_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 6, 0))) static void problem_v(struct http_resp *resp, int status, const char *slug, const char *title,
                      const char *extra, const char *fmt, va_list ap)
{
    char detail[1024];
    vsnprintf(detail, sizeof(detail), fmt, ap);
    buf_reset(&resp->body);
    resp->status = status;
    resp->ctype = "application/problem+json";
    struct buf *b = &resp->body;
    buf_puts(b, "{\"type\":\"urn:vigie:problem:");
    buf_puts(b, slug);
    buf_puts(b, "\",\"title\":");
    buf_json_str(b, title, strlen(title));
    buf_printf(b, ",\"status\":%d,\"detail\":", status);
    buf_json_str(b, detail, strlen(detail));
    /* InfluxDB clients (Telegraf, influx CLI, client libraries) read "error". */
    buf_puts(b, ",\"error\":");
    buf_json_str(b, detail, strlen(detail));
    if (extra && *extra) {
        buf_putc(b, ',');
        buf_puts(b, extra);
    }
    buf_puts(b, "}\n");
}

void problem(struct http_resp *resp, int status, const char *slug, const char *title,
             const char *detail_fmt, ...)
{
    va_list ap;
    va_start(ap, detail_fmt);
    problem_v(resp, status, slug, title, NULL, detail_fmt, ap);
    va_end(ap);
}

void problem_ext(struct http_resp *resp, int status, const char *slug, const char *title,
                 const char *extra, const char *detail_fmt, ...)
{
    va_list ap;
    va_start(ap, detail_fmt);
    problem_v(resp, status, slug, title, extra, detail_fmt, ap);
    va_end(ap);
}
