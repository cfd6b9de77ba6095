/*
** fuzz/fuzz_live.c: libFuzzer target for the live feed's input parsing (api/live.c): the
** client's Last-Event-ID and the filter lists of GET /api/v1/live. The input is split at the
** first three NUL bytes into Last-Event-ID, type list, id list, the rest being published values
** (one per line: "type id attr"). Checks the contract: a stream that joins reads, in order,
** exactly the published values its filter accepts, whatever id it came with; the SSE text is
** well formed (event, data, id lines) and its data is a JSON array.
** Owns: its copies of the input and one ring per run.
*/
#include "api/live.h"

#include <jansson.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int in_list(const char *list, const char *s)
{
    if (!*list)
        return 1;
    size_t n = strlen(s);
    for (const char *p = list;;) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        if (l == n && !memcmp(p, s, n))
            return 1;
        if (!c)
            return 0;
        p = c + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 4);
    if (!in)
        return 0;
    memcpy(in, data, size);
    memset(in + size, 0, 4);
    const char *lastid = in;
    const char *types = lastid + strlen(lastid) + 1;
    if (types > in + size) types = in + size;
    const char *ids = types + strlen(types) + 1;
    if (ids > in + size) ids = in + size;
    char *vals = (char *)ids + strlen(ids) + 1;
    if (vals > in + size) vals = in + size;

    struct live *lv = live_new(1024);
    uint64_t cur;
    int reset;
    if (live_join(lv, 0, lastid, &cur, &reset))
        abort();
    if (reset != (lastid[0] != '\0')) /* a fresh ring holds no event a client can name */
        abort();
    struct ingest_update pts[64];
    int want = 0, n = 0;
    char *save = NULL;
    for (char *line = strtok_r(vals, "\n", &save); line && n < 64; line = strtok_r(NULL, "\n", &save)) {
        char *t = strtok(line, " "), *id = strtok(NULL, " "), *a = strtok(NULL, " ");
        if (!t || !id || !a)
            continue;
        pts[n] = (struct ingest_update){.entity = id, .type = t, .attr = a,
            .vt = VT_I64, .v = {.i = n}, .ts = n, .sid = 0, .source = NULL};
        want += in_list(types, t) && in_list(ids, id);
        n++;
    }
    live_publish(lv, "t", pts, (uint32_t)n);
    struct live_filter f = {.tenant = "t", .types = types, .ids = ids};
    struct buf out;
    buf_init(&out, 0);
    int got = 0, last = -1;
    for (;;) {
        buf_reset(&out);
        enum live_rc rc = live_read(lv, &cur, &f, 0, 7, &out);
        if (rc == LIVE_TIMEOUT)
            break;
        if (rc != LIVE_DATA || out.len < 16 || memcmp(out.p, "event: m\ndata: [", 16) ||
            out.p[out.len - 1] != '\n' || out.p[out.len - 2] != '\n')
            abort();
        const char *d = out.p + 15;
        const char *nl = memchr(d, '\n', out.len - 15);
        json_t *a = json_loadb(d, (size_t)(nl - d), 0, NULL);
        if (!a || !json_is_array(a) || json_array_size(a) > 7)
            abort();
        for (size_t i = 0; i < json_array_size(a); i++) {
            int v = (int)json_integer_value(json_array_get(json_array_get(a, i), 4));
            if (v <= last)
                abort();
            last = v;
            got++;
        }
        json_decref(a);
    }
    if (got != want)
        abort();
    buf_release(&out);
    live_leave(lv);
    live_close(lv);
    live_free(lv);
    free(in);
    return 0;
}
