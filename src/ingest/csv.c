/*
** ingest/csv.c: the CSV reader of ingest/csv.h and the conversion of a file image to UTF-8.
** Owns: the scratch area holding the unescaped contents of the quoted fields of the current
** record that contain doubled quotes (other fields, quoted or not, point into the input). It
** grows geometrically and is bounded by CSV_MAX_FIELDS * CSV_MAX_FIELD (16 MiB) since no field
** copied there exceeds CSV_MAX_FIELD; it is reused from record to record.
** Borrows: the input buffer passed to csv_init.
** Recovery after a malformed record, so that one bad row costs one quarantined record:
**   - an unclosed quote ends the record at the end of the physical line holding the opening
**     quote (rather than swallowing the rest of the file); reading resumes on the next line;
**   - text after a closing quote ends the record at the end of that physical line;
**   - too many fields or a field over CSV_MAX_FIELD: the record is read to its normal end.
** The fields of a malformed record are partial (at most CSV_MAX_FIELDS, none over the limit:
** such a field is handed out empty); raw/raw_len is what to quarantine.
** Line ends: LF, CRLF and a lone CR each end a physical line, inside quotes too (where they are
** kept verbatim in the field).
** Thread: one reader per thread; csv_to_utf8 is reentrant (its own iconv descriptor per call).
*/
#include "ingest/csv.h"

#include "core/utf8.h"
#include "core/vg.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SCRATCH_MIN 4096

void csv_init(struct csv *c, const char *buf, size_t len, char sep)
{
    memset(c, 0, sizeof(*c));
    if (!buf) /* (NULL, 0): no pointer arithmetic on NULL */
        buf = "";
    c->p = buf;
    c->end = buf + len;
    c->sep = sep;
    c->next_line = 1;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        c->p += 3;
    c->raw = c->p;
}

void csv_release(struct csv *c)
{
    free(c->scratch);
    c->scratch = NULL;
    c->used = c->cap = 0;
    c->nf = 0;
}

/* Make room for need bytes in the scratch. The fields of the current record already copied
** there are moved along (their pointers rebased before the old area is freed). */
static void scratch_reserve(struct csv *c, size_t need)
{
    if (need <= c->cap)
        return;
    size_t ncap = c->cap ? c->cap : SCRATCH_MIN;
    while (ncap < need)
        ncap *= 2;
    char *ns = vg_malloc(ncap);
    if (c->used) {
        uintptr_t lo = (uintptr_t)c->scratch;
        memcpy(ns, c->scratch, c->used);
        for (uint32_t i = 0; i < c->nf; i++) {
            uintptr_t fp = (uintptr_t)c->f[i];
            if (fp - lo < c->used)
                c->f[i] = ns + (fp - lo);
        }
    }
    free(c->scratch);
    c->scratch = ns;
    c->cap = ncap;
}

/* Physical line ends in p[0..n): LF, CRLF (once) and lone CR. A CR at p[n-1] counts as a lone
** CR: the caller only passes spans that end before a quote. */
static uint64_t count_lines(const char *p, size_t n)
{
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n')
            k++;
        else if (p[i] == '\r' && (i + 1 >= n || p[i + 1] != '\n'))
            k++;
    }
    return k;
}

/* First line end at or after p (or end). */
static const char *to_eol(const char *p, const char *end)
{
    while (p < end && *p != '\n' && *p != '\r')
        p++;
    return p;
}

int csv_next(struct csv *c)
{
    const char *p = c->p, *end = c->end;
    const char sep = c->sep;
    uint64_t line = c->next_line;
    int bad = 0;

    /* Blank lines are not records. */
    while (p < end && (*p == '\n' || *p == '\r')) {
        if (*p == '\r' && p + 1 < end && p[1] == '\n')
            p++;
        p++;
        line++;
    }
    c->nf = 0;
    c->used = 0;
    c->raw = p;
    c->raw_len = 0;
    c->lineno = line;
    if (p >= end) {
        c->p = p;
        c->next_line = line;
        return 0;
    }
    for (;;) {
        const char *fs;
        size_t fl;
        if (p < end && *p == '"') {
            const char *open = p, *q = p + 1, *close = NULL, *x = q;
            size_t ndq = 0; /* doubled quotes */
            for (;;) {
                x = memchr(x, '"', (size_t)(end - x));
                if (!x)
                    break;
                if (x + 1 < end && x[1] == '"') {
                    ndq++;
                    x += 2;
                    continue;
                }
                close = x;
                break;
            }
            if (!close) {
                /* Unclosed quote: the record ends with the opening quote's physical line. */
                bad = 1;
                p = to_eol(open, end);
                break;
            }
            line += count_lines(q, (size_t)(close - q));
            fl = (size_t)(close - q) - ndq;
            if (fl > CSV_MAX_FIELD) {
                bad = 1;
                fs = q;
                fl = 0;
            } else if (!ndq) {
                fs = q;
            } else {
                scratch_reserve(c, c->used + fl);
                char *d = c->scratch + c->used;
                const char *s = q;
                while (s < close) {
                    const char *dq = memchr(s, '"', (size_t)(close - s));
                    if (!dq)
                        dq = close;
                    memcpy(d, s, (size_t)(dq - s));
                    d += dq - s;
                    if (dq < close) {
                        *d++ = '"';
                        dq += 2;
                    }
                    s = dq;
                }
                fs = c->scratch + c->used;
                c->used += fl;
            }
            p = close + 1;
            if (p < end && *p != sep && *p != '\n' && *p != '\r') {
                /* Text after the closing quote: drop the rest of the physical line. */
                bad = 1;
                p = to_eol(p, end);
                break;
            }
        } else {
            fs = p;
            while (p < end && *p != sep && *p != '\n' && *p != '\r')
                p++;
            fl = (size_t)(p - fs);
            if (fl > CSV_MAX_FIELD) {
                bad = 1;
                fl = 0; /* as for a quoted one: no field over the limit is handed out */
            }
        }
        if (c->nf < CSV_MAX_FIELDS) {
            c->f[c->nf] = fs;
            c->fl[c->nf] = fl;
            c->nf++;
        } else {
            bad = 1;
        }
        if (p < end && *p == sep) {
            p++;
            continue;
        }
        break; /* at a line end or the end of the input */
    }
    c->raw_len = (size_t)(p - c->raw);
    if (p < end) {
        if (*p == '\r' && p + 1 < end && p[1] == '\n')
            p++;
        p++;
        line++;
    }
    c->p = p;
    c->next_line = line;
    return bad ? -1 : 1;
}

void csv_trim(const char **p, size_t *n)
{
    const char *s = *p;
    size_t k = *n;
    while (k && (*s == ' ' || *s == '\t')) {
        s++;
        k--;
    }
    while (k && (s[k - 1] == ' ' || s[k - 1] == '\t'))
        k--;
    *p = s;
    *n = k;
}

int csv_find(const struct csv *c, const char *name)
{
    size_t nl = strlen(name);
    for (uint32_t i = 0; i < c->nf; i++) {
        const char *p = c->f[i];
        size_t n = c->fl[i];
        csv_trim(&p, &n);
        if (n == nl && memcmp(p, name, n) == 0)
            return (int)i;
    }
    return -1;
}

/* ---- conversion to UTF-8 --------------------------------------------------------------------- */

/* The iconv name of a common encoding spelled any way; other names are passed to iconv as they
** are (glibc's iconv ignores case too). NULL for UTF-8, validated here instead. */
static const char *iconv_name(const char *enc)
{
    static const char *const alias[][2] = {
        {"latin1", "ISO-8859-1"},       {"latin-1", "ISO-8859-1"},
        {"iso-8859-1", "ISO-8859-1"},   {"iso8859-1", "ISO-8859-1"},
        {"iso_8859-1", "ISO-8859-1"},   {"windows-1252", "WINDOWS-1252"},
        {"cp1252", "WINDOWS-1252"},     {"win1252", "WINDOWS-1252"},
        {"iso-8859-15", "ISO-8859-15"}, {"latin9", "ISO-8859-15"},
    };
    if (!strcasecmp(enc, "utf-8") || !strcasecmp(enc, "utf8"))
        return NULL;
    for (size_t i = 0; i < VG_ARRAY_LEN(alias); i++)
        if (!strcasecmp(enc, alias[i][0]))
            return alias[i][1];
    return enc;
}

/* Grow the output of an iconv loop: *buf of *cap bytes with *op the write position and *ol
** the room left (one byte is always kept for the NUL). */
static void out_grow(char **buf, size_t *cap, char **op, size_t *ol)
{
    size_t done = (size_t)(*op - *buf);
    size_t ncap = *cap * 2;
    *buf = vg_realloc(*buf, ncap);
    *op = *buf + done;
    *ol = ncap - 1 - done;
    *cap = ncap;
}

int csv_to_utf8(const char *in, size_t len, const char *encoding, char **out, size_t *olen,
                size_t *bad_offset)
{
    if (!encoding || !*encoding) { /* iconv would take "" for the locale's charset */
        *bad_offset = 0;
        return VG_EINVAL;
    }
    const char *name = iconv_name(encoding);
    if (!name) {
        if (!utf8_valid((const unsigned char *)in, len)) {
            *bad_offset = utf8_invalid_at((const unsigned char *)in, len);
            return VG_EINVAL;
        }
        char *buf = vg_malloc(len + 1);
        if (len)
            memcpy(buf, in, len);
        buf[len] = '\0';
        *out = buf;
        *olen = len;
        return VG_OK;
    }
    if (len > SIZE_MAX / 4) {
        *bad_offset = 0;
        return VG_ETOOBIG;
    }
    iconv_t cd = iconv_open("UTF-8", name);
    if (cd == (iconv_t)-1) {
        *bad_offset = 0;
        return VG_EINVAL;
    }
    int rc = VG_OK;
    /* Single-byte sources need at most 3 output bytes per input byte (U+20AC); start at 2x
    ** and grow on E2BIG. */
    size_t cap = len * 2 + 16;
    char *buf = vg_malloc(cap);
    char *ip = (char *)in, *op = buf;
    size_t il = len, ol = cap - 1;
    while (il > 0) {
        if (iconv(cd, &ip, &il, &op, &ol) != (size_t)-1)
            break;
        if (errno == E2BIG) {
            out_grow(&buf, &cap, &op, &ol);
            continue;
        }
        /* EILSEQ (invalid byte) or EINVAL (truncated sequence at the end). */
        *bad_offset = (size_t)(ip - in);
        rc = VG_EINVAL;
        goto out;
    }
    /* Flush the shift state of stateful encodings. */
    while (iconv(cd, NULL, NULL, &op, &ol) == (size_t)-1) {
        if (errno != E2BIG) {
            *bad_offset = len;
            rc = VG_EINVAL;
            goto out;
        }
        out_grow(&buf, &cap, &op, &ol);
    }
    *op = '\0';
    *olen = (size_t)(op - buf);
    *out = buf;
    buf = NULL;
out:
    free(buf);
    iconv_close(cd);
    return rc;
}
