/*
** tests/stubs/demo_stubs.c: stand-ins for ingest_lp and meta_kv_* so that app/demo.c and
** app/demo_test.c can be built and run alone (not part of the Makefile build, which links the
** real ingest and meta). ingest_lp parses nothing: it counts lines and keeps the bodies it
** received in demo_stub_bodies; meta_kv_* keep a small in-memory table.
*/
#include "ingest/ingest.h"
#include "meta/meta.h"
#include "core/buf.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct buf demo_stub_bodies;   /* every body, concatenated (if demo_stub_keep) */
int demo_stub_keep;
unsigned long long demo_stub_lines, demo_stub_calls;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char kv_k[32][128], kv_v[32][1024];
static int kv_n;

int ingest_lp(struct ingest *ig, const char *tenant, const char *source, const char *body,
              size_t len, enum lp_precision prec, int64_t now_ms, struct ingest_result *res)
{
    memset(res, 0, sizeof(*res));
    for (size_t i = 0; i < len; i++)
        if (body[i] == '\n')
            res->lines++;
    /* count values roughly: '=' after the first space, lat+lon pair counts once */
    const char *p = body, *e = body + len;
    while (p < e) {
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        if (!nl)
            nl = e;
        const char *sp = p;
        while (sp < nl && !(*sp == ' ' && sp[-1] != '\\'))
            sp++;
        for (const char *q = sp; q < nl; q++)
            if (*q == '=')
                res->points++;
        if (memmem(sp, (size_t)(nl - sp), "lon=", 4))
            res->points--;
        p = nl + 1;
    }
    pthread_mutex_lock(&mu);
    demo_stub_lines += res->lines;
    demo_stub_calls++;
    if (demo_stub_keep)
        buf_append(&demo_stub_bodies, body, len);
    pthread_mutex_unlock(&mu);
    return 0;
}

int meta_kv_get(struct meta *m, const char *key, char *val, size_t cap)
{
    int rc = VG_ENOENT;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < kv_n; i++)
        if (!strcmp(kv_k[i], key)) {
            snprintf(val, cap, "%s", kv_v[i]);
            rc = 0;
        }
    pthread_mutex_unlock(&mu);
    return rc;
}

int meta_kv_set(struct meta *m, const char *key, const char *val)
{
    pthread_mutex_lock(&mu);
    int i;
    for (i = 0; i < kv_n; i++)
        if (!strcmp(kv_k[i], key))
            break;
    if (i == kv_n && kv_n < 32)
        kv_n++;
    if (i < 32) {
        snprintf(kv_k[i], sizeof(kv_k[i]), "%s", key);
        snprintf(kv_v[i], sizeof(kv_v[i]), "%s", val);
    }
    pthread_mutex_unlock(&mu);
    return 0;
}
