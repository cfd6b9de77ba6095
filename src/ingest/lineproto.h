/*
** ingest/lineproto.h: InfluxDB line protocol parser (1.x / 2.x wire format), the hot path of
** POST /write. Zero-copy: names and values point into the input, except where escapes must be
** removed (then into the parser's bounded scratch buffer).
**   measurement[,tag=val...] field=val[,field=val...] [timestamp]
** Owns: the scratch buffer inside struct lp_parser.
** Borrows: the input buffer (must outlive every lp_line returned from it).
** Thread: one parser per thread.
*/
#ifndef VG_INGEST_LINEPROTO_H
#define VG_INGEST_LINEPROTO_H

#include "meta/catalog.h" /* struct vg_tag */
#include "store/value.h"

#include <stddef.h>
#include <stdint.h>

#define LP_MAX_TAGS 64
#define LP_MAX_FIELDS 256
#define LP_MAX_LINE (1u << 20)      /* a longer line is an error */
#define LP_SCRATCH (1u << 16)       /* unescaped bytes per line */

struct lp_field {
    const char *key;
    uint32_t klen;
    enum vg_vtype vt; /* VT_F64, VT_I64 (i and u suffixes), VT_BOOL, VT_STR */
    union vg_val v;   /* VT_STR: v.s points into the input or the scratch buffer */
};

struct lp_line {
    const char *meas;
    uint32_t mlen;
    struct vg_tag tags[LP_MAX_TAGS];
    uint32_t ntags;
    struct lp_field fields[LP_MAX_FIELDS];
    uint32_t nfields;
    int has_ts;
    int64_t ts;          /* as written, in the request's precision */
    const char *raw;     /* the whole line, without its newline */
    uint32_t raw_len;
    uint32_t lineno;     /* 1-based */
};

struct lp_parser {
    const char *p, *end;
    uint32_t lineno;
    char scratch[LP_SCRATCH];
    size_t scratch_used;
};

enum lp_precision { LP_NS = 0, LP_US = 1, LP_MS = 2, LP_S = 3 };
/* "ns", "n", "us", "u", "ms", "s" (also "h", "m" rejected); -1 if unknown. NULL/"" -> LP_NS. */
int lp_precision_parse(const char *s);
/* Convert a timestamp in precision prec to ms (floor). */
int64_t lp_ts_to_ms(int64_t ts, enum lp_precision prec);

void lp_init(struct lp_parser *ps, const char *buf, size_t len);

/* Writing line protocol: append s[0..n) to b with a backslash before each character of esc.
** The sets: measurement ", ", tag key/value and field key ",= ", string field "\"\\". As in
** InfluxDB, a backslash in a name is literal unless a delimiter follows it, so names are not
** escaped for it; a name that ends with a backslash cannot be written (writers refuse it). */
#define LP_ESC_MEASUREMENT ", "
#define LP_ESC_KEY ",= "
#define LP_ESC_STRING "\"\\"
struct buf;
void lp_escape(struct buf *b, const char *s, size_t n, const char *esc);
/* A string field's value (without its quotes): escaped, and each CR or LF written as a space
** (line protocol has no way to carry a line end inside a value). */
void lp_put_string(struct buf *b, const char *s, size_t n);

/* Parse the next non-empty, non-comment line.
** Returns 1 and fills *out; 0 at end of input; VG_EINVAL for a bad line: then out->raw,
** out->raw_len and out->lineno describe the line, err (cap bytes) says why in lowercase, and the
** parser has moved past it, so the caller can quarantine it and call lp_next again. */
int lp_next(struct lp_parser *ps, struct lp_line *out, char *err, size_t cap);

#endif
