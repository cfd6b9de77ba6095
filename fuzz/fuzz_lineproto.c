/*
** fuzz/fuzz_lineproto.c: libFuzzer target for the line protocol parser (ingest/lineproto.c).
** Parses arbitrary bytes to the end and checks the invariants of every result: pointers inside
** the input or the scratch buffer, lengths within limits, line numbers increasing, raw spans
** inside the input and free of newlines, the parser always making progress.
** Owns: a copy of the input in an exact-size heap buffer (so ASan sees any overread).
*/
#include "ingest/lineproto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct lp_parser ps;
static struct lp_line ln;

static int inside(const char *p, uint32_t n, const char *lo, const char *hi)
{
    if (n == 0)
        return 1; /* an empty span may point anywhere valid */
    return p >= lo && p <= hi && (size_t)(hi - p) >= n;
}

static int span_ok(const char *p, uint32_t n, const char *buf, size_t len)
{
    return inside(p, n, buf, buf + len) ||
           inside(p, n, ps.scratch, ps.scratch + ps.scratch_used);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    char err[128];
    uint32_t last = 0, i;
    const char *prev = NULL;
    int rc;

    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);
    lp_init(&ps, buf, size);
    while ((rc = lp_next(&ps, &ln, err, sizeof(err))) != 0) {
        if (rc != 1 && rc != -4) /* VG_EINVAL */
            abort();
        if (ln.lineno <= last || ps.p == prev) /* progress */
            abort();
        last = ln.lineno;
        prev = ps.p;
        if (!inside(ln.raw, ln.raw_len, buf, buf + size) || ln.raw_len > LP_MAX_LINE)
            abort();
        if (memchr(ln.raw, '\n', ln.raw_len))
            abort();
        if (rc != 1) {
            if (strlen(err) == 0 || strlen(err) >= sizeof(err))
                abort();
            continue;
        }
        if (ps.scratch_used > LP_SCRATCH)
            abort();
        if (ln.mlen == 0 || !span_ok(ln.meas, ln.mlen, buf, size))
            abort();
        if (ln.ntags > LP_MAX_TAGS || ln.nfields == 0 || ln.nfields > LP_MAX_FIELDS)
            abort();
        for (i = 0; i < ln.ntags; i++) {
            const struct vg_tag *t = &ln.tags[i];
            if (!t->klen || !t->vlen || !span_ok(t->key, t->klen, buf, size) ||
                !span_ok(t->val, t->vlen, buf, size) || memchr(t->val, '\0', t->vlen))
                abort();
        }
        for (i = 0; i < ln.nfields; i++) {
            const struct lp_field *f = &ln.fields[i];
            if (!f->klen || !span_ok(f->key, f->klen, buf, size))
                abort();
            switch (f->vt) {
            case VT_F64:
                if (f->v.f != f->v.f || f->v.f > 1.7976931348623157e308 ||
                    f->v.f < -1.7976931348623157e308)
                    abort(); /* no NaN, no inf */
                break;
            case VT_BOOL:
                if (f->v.i != 0 && f->v.i != 1)
                    abort();
                break;
            case VT_I64: break;
            case VT_STR:
                if (!span_ok(f->v.s.p, f->v.s.len, buf, size) ||
                    memchr(f->v.s.p, '\n', f->v.s.len) || memchr(f->v.s.p, '\0', f->v.s.len))
                    abort();
                break;
            default: abort();
            }
        }
    }
    if (ps.p != ps.end)
        abort();
    free(buf);
    return 0;
}
