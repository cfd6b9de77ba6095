/*
** api/h_influxql.c: GET|POST /query, just enough InfluxQL for InfluxDB 1.x clients that start
** by creating their database (Telegraf's influxdb output sends CREATE DATABASE at start-up).
** Understood: CREATE DATABASE <name> (accepted, nothing to do: the tenant comes from the key),
** SHOW DATABASES (the tenant). Anything else: 400 with a pointer to /api/v1/query.
** The statement comes from ?q= or from a form-encoded body (q=...).
*/
#include "api/api_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Decode application/x-www-form-urlencoded value in place ('+' -> ' ', %XX). */
static void form_decode(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p == '+') {
            *o++ = ' ';
        } else if (*p == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
            char hex[3] = {p[1], p[2], 0};
            *o++ = (char)strtol(hex, NULL, 16);
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
}

/* Find q= in a form body; returns a heap copy (decoded) or NULL. */
static char *form_q(const char *body, size_t len)
{
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        if (e - p >= 2 && p[0] == 'q' && p[1] == '=') {
            char *q = vg_strndup(p + 2, (size_t)(e - p - 2));
            form_decode(q);
            return q;
        }
        p = e + 1;
    }
    return NULL;
}

static int starts_with_words(const char *s, const char *w1, const char *w2)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n1 = strlen(w1), n2 = strlen(w2);
    if (strncasecmp(s, w1, n1) != 0 || !isspace((unsigned char)s[n1]))
        return 0;
    s += n1;
    while (isspace((unsigned char)*s))
        s++;
    return strncasecmp(s, w2, n2) == 0 && (s[n2] == '\0' || isspace((unsigned char)s[n2]) || s[n2] == ';');
}

void h_influxql(struct api *a, struct http_req *req, struct http_resp *resp,
                const struct principal *p)
{
    char *owned = NULL;
    const char *q = http_arg(req, "q");
    if (!q && req->body.len)
        q = owned = form_q(req->body.p, req->body.len);
    if (!q) {
        problem(resp, 400, "bad-query", "Bad query", "missing required parameter \"q\"");
        goto out;
    }
    if (starts_with_words(q, "CREATE", "DATABASE")) {
        if (p->scope != SCOPE_WRITE && p->scope != SCOPE_ADMIN) {
            problem(resp, 403, "forbidden", "Forbidden", "CREATE DATABASE needs a write key");
            goto out;
        }
        resp->status = 200;
        resp->ctype = "application/json";
        buf_puts(&resp->body, "{\"results\":[{\"statement_id\":0}]}\n");
        goto out;
    }
    if (starts_with_words(q, "SHOW", "DATABASES")) {
        resp->status = 200;
        resp->ctype = "application/json";
        buf_puts(&resp->body, "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":"
                              "\"databases\",\"columns\":[\"name\"],\"values\":[[");
        buf_json_str(&resp->body, p->tenant, strlen(p->tenant));
        buf_puts(&resp->body, "]]}]}]}\n");
        goto out;
    }
    problem(resp, 400, "influxql-unsupported", "InfluxQL not supported",
            "only CREATE DATABASE and SHOW DATABASES are understood here; query data with "
            "GET /api/v1/query");
out:
    free(owned);
}
