/*
** ingest/schema.c: the JSON Schema subset of the Smart Data Models, compiled into a node graph
** (one struct snode per schema object, shared definitions compiled once per set) and, per
** (type, attribute), into a flat check for the one-point hot path. docs/validation.md lists
** the keywords, the formats and the limits.
**
** Compilation: compile() walks a schema object and records each $ref in a worklist; the
** worklist resolves them (local JSON pointer, or the shared file named by the URL's last path
** segment) and compiles the targets, memoized by JSON node so a cyclic $ref becomes a cyclic
** graph. A cycle through in-place applicators only ($ref, allOf, anyOf, oneOf, not,
** dependentSchemas) would recurse forever on any instance that reaches it: it is rejected.
** A failed compile frees the nodes it made and leaves the set as it was.
**
** Patterns: JSON Schema patterns are ECMA-262 regexes; POSIX ERE reads "\w" or "\-" inside a
** bracket as two characters, so the SDM identifier pattern would mean something else. Patterns
** are translated (ecma_to_ere) and then compiled with regcomp(REG_EXTENDED | REG_NOSUB); a
** pattern that cannot be translated or compiled always passes and is counted (patterns_bad).
**
** Owns: every node, the parsed documents (the nodes borrow their strings and enum values), the
** regexes. Thread: built on one thread, then read-only (regexec on a shared regex_t is safe).
*/
#include "ingest/schema.h"

#include "core/vg.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* JSON types as bits. A number that is integral satisfies TB_INT; every number TB_NUM. */
enum {
    TB_NULL = 1 << 0,
    TB_BOOL = 1 << 1,
    TB_OBJ = 1 << 2,
    TB_ARR = 1 << 3,
    TB_NUM = 1 << 4,
    TB_INT = 1 << 5,
    TB_STR = 1 << 6,
    TB_ANY = 0x7f,
};

enum fmt {
    FMT_NONE = 0,
    FMT_DATETIME,
    FMT_DATE,
    FMT_TIME,
    FMT_URI,
    FMT_EMAIL,
    FMT_IDN_EMAIL,
    FMT_IPV4,
    FMT_IPV6,
};

static const char *const fmt_names[] = {"", "date-time", "date", "time", "uri",
                                        "email", "idn-email", "ipv4", "ipv6"};

enum node_flags {
    N_MIN = 1 << 0,
    N_MAX = 1 << 1,
    N_XMIN = 1 << 2,
    N_XMAX = 1 << 3,
    N_MULT = 1 << 4,
    N_FALSE = 1 << 5, /* the boolean schema false: nothing passes */
    N_UNIQUE = 1 << 6,
};

/* A scalar, from JSON or from a point. K_INT carries i and d = (double)i. */
enum { K_NULL, K_BOOL, K_INT, K_REAL, K_STR, K_OTHER };
struct scal {
    int k;
    int64_t i;
    double d;
    const char *s;
    size_t len;
};

/* enum / const: the values as JSON (for objects and arrays) and as scalars (fast compare). */
struct senum {
    uint32_t n;
    int is_const;
    const json_t **j; /* borrowed from the set's documents */
    struct scal *v;   /* K_OTHER for object/array members */
};

struct spattern {
    char *src;
    regex_t re;
    int ok; /* 0: could not translate or compile; always passes */
    struct spattern *next;
};

/* The keywords that apply to one scalar: a node's own, or the merge of a conjunction. */
struct fconj {
    uint16_t types; /* TB_ANY when unconstrained */
    uint16_t flags;
    uint8_t fmt;
    double min, max, xmin, xmax, mult;
    int64_t minlen, maxlen; /* -1: absent */
    const struct spattern *pat;
    const struct senum *en;
};

struct snode;
struct sprop {
    const char *name;
    size_t len;
    struct snode *s;
};
struct spprop {
    const struct spattern *pat;
    struct snode *s;
};
struct sdep {
    const char *name;
    size_t len;
    const json_t *req; /* array of strings, or NULL */
    struct snode *s;   /* schema, or NULL */
};

struct snode {
    struct fconj fc;
    int64_t minitems, maxitems, minprops, maxprops; /* -1: absent */
    struct snode *items, *addl, *not, *ref;
    struct sprop *props; /* sorted by (len, bytes) */
    uint32_t nprops;
    struct spprop *pprops;
    uint32_t npprops;
    const json_t *req; /* "required": array of strings, or NULL */
    struct sdep *deps;
    uint32_t ndeps;
    struct snode **all, **any, **one;
    uint32_t nall, nany, none;
    const json_t *src; /* memo key */
    uint32_t mark;     /* DFS colour (cycle check) or visit generation */
};

/* Per (type, attribute): the conjunction of schemas that apply to the attribute's value. */
struct acheck {
    const char *attr; /* borrowed from a document */
    uint64_t hash;
    struct snode **nodes; /* the conjunction (tree walker: VT_GEO, fallback) */
    uint32_t nnodes;
    int flat; /* 1: base/alts below decide; 0: tree walker */
    struct fconj base;
    uint8_t nalt, one; /* alternatives of one anyOf (one = 0) or oneOf (one = 1) */
    struct fconj alts[SCHEMA_MAX_ALTS];
};

struct stype {
    char *name;
    uint64_t hash;
    struct snode *root;
    struct snode **conj; /* root, its allOf members and $ref targets, transitively */
    uint32_t nconj;
    int open; /* some conj node has additionalProperties or patternProperties */
    struct acheck **tab; /* open addressing by attribute name */
    uint32_t mask, nattr;
};

struct sdoc {
    char *name; /* file name for shared documents, NULL for a type's own document */
    json_t *root;
    const char *id;
    struct sdoc *next;
};

struct schema_set {
    char *shared_dir;
    struct sdoc *docs;
    struct snode **nodes;
    size_t nnodes, capnodes;
    const json_t **mk; /* memo: JSON node -> compiled node */
    struct snode **mv;
    size_t mcap, mn;
    struct spattern *pats;
    struct stype **types; /* open addressing by name */
    uint32_t tmask;
    uint32_t ntypes;
    uint32_t gen;
    struct schema_stats st;
};

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                               */

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t hash_str(const char *s)
{
    return hash_bytes(s, strlen(s));
}

/* Append to a bounded message buffer. */
static void catf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void catf(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    size_t n;
    if (!buf || cap == 0)
        return;
    n = strnlen(buf, cap);
    if (n + 1 >= cap)
        return;
    va_start(ap, fmt);
    vsnprintf(buf + n, cap - n, fmt, ap);
    va_end(ap);
}

static void fmt_num(double d, char *buf, size_t cap)
{
    if (isnan(d)) {
        vg_putf(buf, cap, "nan");
    } else if (isinf(d)) {
        vg_putf(buf, cap, "%s", d < 0 ? "-inf" : "inf");
    } else if (d == floor(d) && fabs(d) < 1e15) {
        vg_putf(buf, cap, "%.0f", d);
    } else {
        vg_putf(buf, cap, "%.15g", d);
        if (strtod(buf, NULL) != d)
            vg_putf(buf, cap, "%.17g", d);
    }
}

/* A string for a message: quoted, cut at 64 bytes, control bytes as '?'. */
static void fmt_str(const char *s, size_t n, char *buf, size_t cap)
{
    size_t o = 0, lim = n > 64 ? 64 : n;
    if (cap < 4) {
        vg_putf(buf, cap, "\"");
        return;
    }
    buf[o++] = '"';
    for (size_t i = 0; i < lim && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (n > lim && o + 5 < cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '"';
    buf[o] = '\0';
}

static void fmt_scal(const struct scal *x, char *buf, size_t cap)
{
    switch (x->k) {
    case K_NULL:
        vg_putf(buf, cap, "null");
        break;
    case K_BOOL:
        vg_putf(buf, cap, "%s", x->i ? "true" : "false");
        break;
    case K_INT:
        vg_putf(buf, cap, "%lld", (long long)x->i);
        break;
    case K_REAL:
        fmt_num(x->d, buf, cap);
        break;
    case K_STR:
        fmt_str(x->s, x->len, buf, cap);
        break;
    default:
        vg_putf(buf, cap, "value");
        break;
    }
}

char *schema_fmt_value(enum vg_vtype vt, const union vg_val *val, char *buf, size_t cap)
{
    char a[40], b[40];
    if (!buf || cap == 0)
        return buf;
    switch (vt) {
    case VT_F64:
        fmt_num(val->f, buf, cap);
        break;
    case VT_I64:
        vg_putf(buf, cap, "%lld", (long long)val->i);
        break;
    case VT_BOOL:
        vg_putf(buf, cap, "%s", val->i ? "true" : "false");
        break;
    case VT_STR:
        fmt_str(val->s.p ? val->s.p : "", val->s.p ? val->s.len : 0, buf, cap);
        break;
    case VT_GEO:
        fmt_num(val->geo.lat, a, sizeof(a));
        fmt_num(val->geo.lon, b, sizeof(b));
        vg_putf(buf, cap, "(%s, %s)", a, b);
        break;
    default:
        vg_putf(buf, cap, "null");
        break;
    }
    return buf;
}

static void type_names(uint16_t t, char *buf, size_t cap)
{
    static const char *const names[] = {"null", "boolean", "object", "array",
                                        "number", "integer", "string"};
    int first = 1;
    vg_putf(buf, cap, "%s", "");
    if ((t & TB_NUM) && (t & TB_INT))
        t &= (uint16_t)~TB_INT;
    for (int b = 0; b < 7; b++) {
        if (!(t & (1u << b)))
            continue;
        catf(buf, cap, "%s%s", first ? "" : " or ", names[b]);
        first = 0;
    }
    if (first)
        vg_putf(buf, cap, "nothing");
}

/* Code points of valid UTF-8 (bytes that are not continuation bytes). */
static size_t utf8_len(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

static int is_integral(double d)
{
    return isfinite(d) && d == floor(d);
}

/* ------------------------------------------------------------------------------------------ */
/* Formats                                                                                     */

static int ndig(const char *p, int n)
{
    for (int i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

static int num2(const char *p)
{
    return (p[0] - '0') * 10 + (p[1] - '0');
}

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return d[m - 1];
}

/* RFC 3339 full-date, exactly n == 10 bytes. */
static int fmt_date_ok(const char *p, size_t n)
{
    int y, m, d;
    if (n != 10 || !ndig(p, 4) || p[4] != '-' || !ndig(p + 5, 2) || p[7] != '-' ||
        !ndig(p + 8, 2))
        return 0;
    y = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + num2(p + 2);
    m = num2(p + 5);
    d = num2(p + 8);
    return m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

/* RFC 3339 full-time: hh:mm:ss[.frac](Z|+hh:mm|-hh:mm); second 60 only at 23:59 UTC. */
static int fmt_time_ok(const char *p, size_t n)
{
    size_t i = 8;
    int h, mi, s, oh = 0, om = 0, sign = 0;
    if (n < 9 || !ndig(p, 2) || p[2] != ':' || !ndig(p + 3, 2) || p[5] != ':' || !ndig(p + 6, 2))
        return 0;
    h = num2(p);
    mi = num2(p + 3);
    s = num2(p + 6);
    if (h > 23 || mi > 59 || s > 60)
        return 0;
    if (p[i] == '.') {
        size_t j = ++i;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
        if (i == j)
            return 0;
    }
    if (i >= n)
        return 0;
    if ((p[i] == 'Z' || p[i] == 'z') && i + 1 == n) {
        sign = 0;
    } else if ((p[i] == '+' || p[i] == '-') && n - i == 6 && ndig(p + i + 1, 2) &&
               p[i + 3] == ':' && ndig(p + i + 4, 2)) {
        sign = p[i] == '+' ? 1 : -1;
        oh = num2(p + i + 1);
        om = num2(p + i + 4);
        if (oh > 23 || om > 59)
            return 0;
    } else {
        return 0;
    }
    if (s == 60) {
        int utc = h * 60 + mi - sign * (oh * 60 + om);
        utc = ((utc % 1440) + 1440) % 1440;
        if (utc != 23 * 60 + 59)
            return 0;
    }
    return 1;
}

static int fmt_datetime_ok(const char *p, size_t n)
{
    if (n < 20 || (p[10] != 'T' && p[10] != 't'))
        return 0;
    return fmt_date_ok(p, 10) && fmt_time_ok(p + 11, n - 11);
}

static int hexd(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static int alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static int digit(int c)
{
    return c >= '0' && c <= '9';
}
static int unreserved(int c)
{
    return alpha(c) || digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}
static int subdelim(int c)
{
    return c && strchr("!$&'()*+,;=", c) != NULL;
}

static int fmt_ipv4_ok(const char *p, size_t n)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        size_t j = i;
        int v = 0;
        if (part && (i >= n || p[i++] != '.'))
            return 0;
        j = i;
        while (i < n && digit(p[i]) && i - j < 4)
            v = v * 10 + (p[i++] - '0');
        if (i == j || i - j > 3 || v > 255 || (p[j] == '0' && i - j > 1))
            return 0;
    }
    return i == n;
}

static int fmt_ipv6_ok(const char *p, size_t n)
{
    char buf[64];
    unsigned char out[16];
    if (n == 0 || n >= sizeof(buf) || memchr(p, '%', n) || memchr(p, '\0', n))
        return 0;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return inet_pton(AF_INET6, buf, out) == 1;
}

/* RFC 3986 authority: [userinfo@]host[:port]. */
static int uri_authority_ok(const char *p, size_t n)
{
    size_t i = 0, at = n;
    for (size_t k = 0; k < n; k++)
        if (p[k] == '@')
            at = k;
    if (at < n) {
        for (; i < at; i++) {
            int c = (unsigned char)p[i];
            if (c == '%') {
                if (i + 2 >= at + 1 || !hexd(p[i + 1]) || !hexd(p[i + 2]))
                    return 0;
                i += 2;
            } else if (!unreserved(c) && !subdelim(c) && c != ':') {
                return 0;
            }
        }
        i = at + 1;
    }
    if (i < n && p[i] == '[') {
        size_t e = i + 1;
        while (e < n && p[e] != ']')
            e++;
        if (e >= n)
            return 0;
        if (e > i + 1 && (p[i + 1] == 'v' || p[i + 1] == 'V')) {
            for (size_t k = i + 2; k < e; k++)
                if (!unreserved(p[k]) && !subdelim(p[k]) && p[k] != ':')
                    return 0;
        } else if (!fmt_ipv6_ok(p + i + 1, e - i - 1)) {
            return 0;
        }
        i = e + 1;
    } else {
        for (; i < n && p[i] != ':'; i++) {
            int c = (unsigned char)p[i];
            if (c == '%') {
                if (i + 2 >= n || !hexd(p[i + 1]) || !hexd(p[i + 2]))
                    return 0;
                i += 2;
            } else if (!unreserved(c) && !subdelim(c)) {
                return 0;
            }
        }
    }
    if (i < n) {
        if (p[i] != ':')
            return 0;
        for (i++; i < n; i++)
            if (!digit(p[i]))
                return 0;
    }
    return 1;
}

/* RFC 3986 URI (absolute: a scheme is required). */
static int fmt_uri_ok(const char *p, size_t n)
{
    size_t i = 0;
    int frag = 0;
    if (n == 0 || !alpha(p[0]))
        return 0;
    while (i < n && (alpha(p[i]) || digit(p[i]) || p[i] == '+' || p[i] == '-' || p[i] == '.'))
        i++;
    if (i >= n || p[i] != ':')
        return 0;
    i++;
    if (i + 1 < n && p[i] == '/' && p[i + 1] == '/') {
        size_t a = i + 2, e = a;
        while (e < n && p[e] != '/' && p[e] != '?' && p[e] != '#')
            e++;
        if (!uri_authority_ok(p + a, e - a))
            return 0;
        i = e;
    }
    for (; i < n; i++) {
        int c = (unsigned char)p[i];
        if (c == '%') {
            if (i + 2 >= n || !hexd(p[i + 1]) || !hexd(p[i + 2]))
                return 0;
            i += 2;
        } else if (c == '#') {
            if (frag)
                return 0;
            frag = 1;
        } else if (!unreserved(c) && !subdelim(c) && c != ':' && c != '@' && c != '/' &&
                   c != '?') {
            return 0;
        }
    }
    return 1;
}

static int atext(int c, int idn)
{
    return alpha(c) || digit(c) || (c && strchr("!#$%&'*+/=?^_`{|}~-", c)) || (idn && c >= 0x80);
}

/* RFC 5321 mailbox: dot-atom or quoted local part, '@', hostname or [address literal]. */
static int fmt_email_ok(const char *p, size_t n, int idn)
{
    size_t i = 0, at;
    if (n == 0 || n > 320)
        return 0;
    if (p[0] == '"') {
        for (i = 1; i < n && p[i] != '"'; i++) {
            if (p[i] == '\\')
                i++;
            else if ((unsigned char)p[i] < 0x20)
                return 0;
        }
        if (i >= n || i == 1)
            return 0;
        i++;
    } else {
        size_t start = 0;
        for (; i < n && p[i] != '@'; i++) {
            if (p[i] == '.') {
                if (i == start)
                    return 0;
                start = i + 1;
            } else if (!atext((unsigned char)p[i], idn)) {
                return 0;
            }
        }
        if (i == start)
            return 0; /* empty local part or a trailing dot */
    }
    if (i >= n || p[i] != '@')
        return 0;
    at = ++i;
    if (at >= n)
        return 0;
    if (p[at] == '[') {
        if (p[n - 1] != ']')
            return 0;
        if (n - at > 7 && !memcmp(p + at + 1, "IPv6:", 5))
            return fmt_ipv6_ok(p + at + 6, n - at - 7);
        return fmt_ipv4_ok(p + at + 1, n - at - 2);
    }
    for (size_t start = at; start <= n;) {
        size_t e = start;
        while (e < n && p[e] != '.')
            e++;
        if (e == start || e - start > 63 || p[start] == '-' || p[e - 1] == '-')
            return 0;
        for (size_t k = start; k < e; k++) {
            int c = (unsigned char)p[k];
            if (!alpha(c) && !digit(c) && c != '-' && !(idn && c >= 0x80))
                return 0;
        }
        if (e == n)
            break;
        start = e + 1;
        if (start == n)
            return 0;
    }
    return 1;
}

static int fmt_ok(int fmt, const char *p, size_t n)
{
    switch (fmt) {
    case FMT_DATETIME:
        return fmt_datetime_ok(p, n);
    case FMT_DATE:
        return fmt_date_ok(p, n);
    case FMT_TIME:
        return fmt_time_ok(p, n);
    case FMT_URI:
        return fmt_uri_ok(p, n);
    case FMT_EMAIL:
        return fmt_email_ok(p, n, 0);
    case FMT_IDN_EMAIL:
        return fmt_email_ok(p, n, 1);
    case FMT_IPV4:
        return fmt_ipv4_ok(p, n);
    case FMT_IPV6:
        return fmt_ipv6_ok(p, n);
    default:
        return 1;
    }
}

static int fmt_lookup(const char *s)
{
    for (int i = 1; i < (int)VG_ARRAY_LEN(fmt_names); i++)
        if (!strcmp(s, fmt_names[i]))
            return i;
    return FMT_NONE;
}

/* ------------------------------------------------------------------------------------------ */
/* ECMA-262 pattern -> POSIX ERE                                                              */

#define RX_SRC_MAX 1024u  /* bytes of a pattern; longer ones are not compiled */
#define RX_OUT_MAX 16384u /* bytes of the translation */
#define RX_BOUND_MAX 1000 /* largest {n,m} bound */
#define RX_REPEAT_MAX 4096 /* product of nested {n,m} bounds (regcomp copies the atom) */
#define RX_GROUPS 32       /* nesting of groups */

struct rx {
    char *p;
    size_t n, cap;
    int bad;
};

static void rx_putc(struct rx *r, char c)
{
    if (r->n + 2 > RX_OUT_MAX) {
        r->bad = 1;
        return;
    }
    if (r->n + 2 > r->cap) {
        r->cap = r->cap ? r->cap * 2 : 256;
        r->p = vg_realloc(r->p, r->cap);
    }
    r->p[r->n++] = c;
    r->p[r->n] = '\0';
}

static void rx_puts(struct rx *r, const char *s)
{
    while (*s)
        rx_putc(r, *s++);
}

struct cset {
    uint8_t b[16]; /* ASCII 0..127 */
};

static void cs_add(struct cset *s, int c)
{
    s->b[c >> 3] |= (uint8_t)(1u << (c & 7));
}
static int cs_has(const struct cset *s, int c)
{
    return (s->b[c >> 3] >> (c & 7)) & 1;
}
static void cs_range(struct cset *s, int lo, int hi)
{
    for (int c = lo; c <= hi; c++)
        cs_add(s, c);
}
/* 'd', 'w', 's' */
static void cs_class(struct cset *s, char k)
{
    if (k == 'd') {
        cs_range(s, '0', '9');
    } else if (k == 'w') {
        cs_range(s, '0', '9');
        cs_range(s, 'A', 'Z');
        cs_range(s, 'a', 'z');
        cs_add(s, '_');
    } else {
        cs_range(s, '\t', '\r');
        cs_add(s, ' ');
    }
}

static int alnum_cat(int c)
{
    if (c >= '0' && c <= '9')
        return 1;
    if (c >= 'A' && c <= 'Z')
        return 2;
    if (c >= 'a' && c <= 'z')
        return 3;
    return 0;
}

/* One UTF-8 multi-byte character (the non-ASCII half of '.' and of negated classes). */
static const char rx_utf8_mb[] = "[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf][\x80-\xbf]|"
                                 "[\xf0-\xf4][\x80-\xbf][\x80-\xbf][\x80-\xbf]";

/* A POSIX bracket expression for s (ASCII). Negated, it becomes a group that matches one whole
** character outside s: an ASCII byte, or a UTF-8 multi-byte sequence (ECMA matches characters,
** regexec in the C locale matches bytes). */
static void cs_emit(struct rx *r, const struct cset *s, int neg)
{
    int count = 0, emitted = 0;
    for (int c = 1; c < 128; c++)
        count += cs_has(s, c);
    if (count == 0) {
        r->bad = 1; /* [] matches nothing in ECMA: no ERE equivalent */
        return;
    }
    if (!neg && count == 1 && cs_has(s, '^')) {
        rx_puts(r, "\\^");
        return;
    }
    if (neg)
        rx_puts(r, "([^");
    else
        rx_putc(r, '[');
    if (cs_has(s, ']')) {
        rx_putc(r, ']');
        emitted = 1;
    }
    for (int c = 1; c < 128; c++) {
        int cat = alnum_cat(c), e = c;
        if (!cs_has(s, c) || c == ']' || c == '[' || c == '^' || c == '-')
            continue;
        if (cat) {
            while (e + 1 < 128 && alnum_cat(e + 1) == cat && cs_has(s, e + 1))
                e++;
            if (e - c >= 2) {
                rx_putc(r, (char)c);
                rx_putc(r, '-');
                rx_putc(r, (char)e);
                c = e;
                emitted = 1;
                continue;
            }
        }
        rx_putc(r, (char)c);
        emitted = 1;
    }
    if (neg) {
        rx_puts(r, "\x80-\xff");
        emitted = 1;
    }
    if (cs_has(s, '[')) {
        rx_putc(r, '[');
        emitted = 1;
    }
    if (cs_has(s, '^')) {
        if (!emitted && !neg && cs_has(s, '-')) {
            rx_puts(r, "-^");
            rx_putc(r, ']');
            return;
        }
        rx_putc(r, '^');
    }
    if (cs_has(s, '-'))
        rx_putc(r, '-');
    rx_putc(r, ']');
    if (neg) {
        rx_putc(r, '|');
        rx_puts(r, rx_utf8_mb);
        rx_putc(r, ')');
    }
}

static int ctrl_escape(char e)
{
    switch (e) {
    case 't':
        return '\t';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 'f':
        return '\f';
    case 'v':
        return '\v';
    default:
        return 0;
    }
}

static int ascii_punct(int c)
{
    return c > 0x20 && c < 0x7f && !alpha(c) && !digit(c);
}

static void rx_literal(struct rx *r, int c)
{
    if (strchr(".[]()*+?{}|^$\\", c) && c != ']') {
        rx_putc(r, '\\');
        rx_putc(r, (char)c);
    } else {
        rx_putc(r, (char)c);
    }
}

/* One element of a character class at s[*i]: a character (returned) or a class (-1, added to
** cs). -2 on anything unsupported. */
static int class_atom(const char *s, size_t n, size_t *i, struct cset *cs)
{
    unsigned char c = (unsigned char)s[*i];
    if (c != '\\') {
        if (c >= 0x80 || c == 0)
            return -2;
        (*i)++;
        return c;
    }
    if (*i + 1 >= n)
        return -2;
    c = (unsigned char)s[*i + 1];
    *i += 2;
    if (c == 'd' || c == 'w' || c == 's') {
        cs_class(cs, (char)c);
        return -1;
    }
    if (ctrl_escape((char)c))
        return ctrl_escape((char)c);
    if (c == 'b')
        return '\b';
    if (ascii_punct(c))
        return c;
    return -2;
}

static void rx_class(struct rx *r, const char *s, size_t n, size_t *i)
{
    struct cset cs;
    int neg = 0;
    memset(&cs, 0, sizeof(cs));
    (*i)++;
    if (*i < n && s[*i] == '^') {
        neg = 1;
        (*i)++;
    }
    if (*i < n && s[*i] == ']') {
        r->bad = 1; /* [] or [^]: nothing / anything */
        return;
    }
    while (*i < n && s[*i] != ']') {
        int lo = class_atom(s, n, i, &cs), hi;
        if (lo == -2) {
            r->bad = 1;
            return;
        }
        if (lo >= 0 && *i + 1 < n && s[*i] == '-' && s[*i + 1] != ']') {
            (*i)++;
            hi = class_atom(s, n, i, &cs);
            if (hi < 0 || hi < lo) {
                r->bad = 1;
                return;
            }
            cs_range(&cs, lo, hi);
        } else if (lo >= 0) {
            cs_add(&cs, lo);
        }
    }
    if (*i >= n) {
        r->bad = 1;
        return;
    }
    (*i)++;
    cs_emit(r, &cs, neg);
}

/* {n}, {n,}, {n,m} at s[*i] ('{'): 1 and the bounds, 0 when it is not a quantifier. */
static int rx_brace(const char *s, size_t n, size_t i, size_t *end, long *lo, long *hi)
{
    size_t j = i + 1;
    long a = 0, b;
    if (j >= n || !digit(s[j]))
        return 0;
    while (j < n && digit(s[j]) && a < 100000)
        a = a * 10 + (s[j++] - '0');
    b = a;
    if (j < n && s[j] == ',') {
        j++;
        if (j < n && digit(s[j])) {
            b = 0;
            while (j < n && digit(s[j]) && b < 100000)
                b = b * 10 + (s[j++] - '0');
        } else {
            b = -1;
        }
    }
    if (j >= n || s[j] != '}')
        return 0;
    *end = j + 1;
    *lo = a;
    *hi = b;
    return 1;
}

/* Translate an ECMA-262 pattern; 0 and r->p, or -1 when it uses something unsupported
** (lookaround, backreferences, \b, \u, non-ASCII in a class, a bound over RX_BOUND_MAX,
** nested bounds whose product exceeds RX_REPEAT_MAX). */
static int ecma_to_ere(const char *s, size_t n, struct rx *r)
{
    int atom = 0, quant = 0, depth = 0;
    long atom_mult = 1;           /* copies regcomp makes of the last atom's inside */
    long gb[RX_GROUPS + 1];       /* largest such product inside each open group */
    size_t i = 0;
    for (int k = 0; k <= RX_GROUPS; k++)
        gb[k] = 1;
    if (n > RX_SRC_MAX || memchr(s, '\0', n))
        return -1;
    while (i < n && !r->bad) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\') {
            unsigned char e;
            struct cset cs;
            if (i + 1 >= n)
                return -1;
            e = (unsigned char)s[i + 1];
            i += 2;
            memset(&cs, 0, sizeof(cs));
            if (e == 'd' || e == 'w' || e == 's' || e == 'D' || e == 'W' || e == 'S') {
                cs_class(&cs, (char)(e | 0x20));
                cs_emit(r, &cs, !(e & 0x20));
            } else if (ctrl_escape((char)e)) {
                rx_putc(r, (char)ctrl_escape((char)e));
            } else if (ascii_punct(e)) {
                rx_literal(r, e);
            } else {
                return -1;
            }
            atom = 1;
            quant = 0;
            atom_mult = 1;
        } else if (c == '[') {
            rx_class(r, s, n, &i);
            atom = 1;
            quant = 0;
            atom_mult = 1;
        } else if (c == '(') {
            if (i + 1 < n && s[i + 1] == '?') {
                if (i + 2 < n && s[i + 2] == ':')
                    i += 3;
                else
                    return -1;
            } else {
                i++;
            }
            if (depth >= RX_GROUPS)
                return -1;
            gb[++depth] = 1;
            rx_putc(r, '(');
            atom = 0;
            quant = 0;
        } else if (c == ')') {
            if (depth == 0)
                return -1;
            atom_mult = gb[depth];
            depth--;
            if (atom_mult > gb[depth])
                gb[depth] = atom_mult;
            rx_putc(r, ')');
            i++;
            atom = 1;
            quant = 0;
        } else if (c == '*' || c == '+' || c == '?') {
            i++;
            if (!atom) {
                if (quant && c == '?') { /* lazy: same match/no-match verdict */
                    quant = 0;
                    continue;
                }
                return -1;
            }
            rx_putc(r, (char)c);
            atom = 0;
            quant = 1;
        } else if (c == '{') {
            size_t end;
            long lo, hi;
            if (rx_brace(s, n, i, &end, &lo, &hi)) {
                char b[48];
                long m;
                if (!atom || lo > RX_BOUND_MAX || hi > RX_BOUND_MAX || (hi >= 0 && hi < lo))
                    return -1;
                m = atom_mult * (hi > lo ? hi : lo > 0 ? lo : 1);
                if (m > RX_REPEAT_MAX)
                    return -1;
                if (m > gb[depth])
                    gb[depth] = m;
                if (hi < 0)
                    snprintf(b, sizeof(b), "{%ld,}", lo);
                else if (hi == lo)
                    snprintf(b, sizeof(b), "{%ld}", lo);
                else
                    snprintf(b, sizeof(b), "{%ld,%ld}", lo, hi);
                rx_puts(r, b);
                i = end;
                atom = 0;
                quant = 1;
            } else {
                rx_puts(r, "\\{");
                i++;
                atom = 1;
                quant = 0;
                atom_mult = 1;
            }
        } else if (c == '}') {
            rx_puts(r, "\\}");
            i++;
            atom = 1;
            quant = 0;
            atom_mult = 1;
        } else if (c == '.') {
            struct cset nl;
            memset(&nl, 0, sizeof(nl));
            cs_add(&nl, '\n');
            cs_add(&nl, '\r');
            cs_emit(r, &nl, 1);
            i++;
            atom = 1;
            quant = 0;
            atom_mult = 1;
        } else if (c == '^' || c == '$' || c == '|') {
            rx_putc(r, (char)c);
            i++;
            atom = 0;
            quant = 0;
        } else if (c >= 0x80) {
            /* a UTF-8 sequence is one atom: group it so a quantifier applies to all of it */
            size_t e = i + 1;
            while (e < n && ((unsigned char)s[e] & 0xC0) == 0x80)
                e++;
            rx_putc(r, '(');
            for (; i < e; i++)
                rx_putc(r, s[i]);
            rx_putc(r, ')');
            atom = 1;
            quant = 0;
            atom_mult = 1;
        } else {
            rx_putc(r, (char)c);
            i++;
            atom = 1;
            quant = 0;
            atom_mult = 1;
        }
    }
    if (r->bad || depth != 0)
        return -1;
    return 0;
}

static struct spattern *pattern_get(struct schema_set *set, const char *src, size_t n)
{
    struct spattern *p;
    struct rx r = {0};
    for (p = set->pats; p; p = p->next)
        if (strlen(p->src) == n && !memcmp(p->src, src, n))
            return p;
    p = vg_calloc(1, sizeof(*p));
    p->src = vg_strndup(src, n);
    p->ok = 0;
    if (ecma_to_ere(src, n, &r) == 0 &&
        regcomp(&p->re, r.p ? r.p : "", REG_EXTENDED | REG_NOSUB) == 0)
        p->ok = 1;
    free(r.p);
    p->next = set->pats;
    set->pats = p;
    set->st.patterns++;
    if (!p->ok)
        set->st.patterns_bad++;
    return p;
}

static int pattern_match(const struct spattern *p, const char *s, size_t n)
{
    regmatch_t m[1];
    if (!p->ok)
        return 1;
    if (!s)
        s = "";
    m[0].rm_so = 0;
    m[0].rm_eo = (regoff_t)n;
    return regexec(&p->re, s, 1, m, REG_STARTEND) == 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Values, equality, the scalar checks shared by the tree walker and the flat checks          */

/* JSON value -> scalar: 1, or 0 (K_OTHER) for objects and arrays. */
static int json_scal(const json_t *j, struct scal *x)
{
    memset(x, 0, sizeof(*x));
    switch (json_typeof(j)) {
    case JSON_NULL:
        x->k = K_NULL;
        return 1;
    case JSON_TRUE:
        x->k = K_BOOL;
        x->i = 1;
        return 1;
    case JSON_FALSE:
        x->k = K_BOOL;
        return 1;
    case JSON_INTEGER:
        x->k = K_INT;
        x->i = (int64_t)json_integer_value(j);
        x->d = (double)x->i;
        return 1;
    case JSON_REAL:
        x->k = K_REAL;
        x->d = json_real_value(j);
        return 1;
    case JSON_STRING:
        x->k = K_STR;
        x->s = json_string_value(j);
        x->len = json_string_length(j);
        return 1;
    default:
        x->k = K_OTHER;
        return 0;
    }
}

static void point_scal(enum vg_vtype vt, const union vg_val *v, struct scal *x)
{
    memset(x, 0, sizeof(*x));
    switch (vt) {
    case VT_F64:
        x->k = K_REAL;
        x->d = v->f;
        break;
    case VT_I64:
        x->k = K_INT;
        x->i = v->i;
        x->d = (double)v->i;
        break;
    case VT_BOOL:
        x->k = K_BOOL;
        x->i = v->i != 0;
        break;
    case VT_STR:
        x->k = K_STR;
        x->s = v->s.p ? v->s.p : "";
        x->len = v->s.p ? v->s.len : 0;
        break;
    default:
        x->k = K_NULL;
        break;
    }
}

/* JSON Schema equality: numbers by value (1 == 1.0), strings by bytes, containers deeply. */
static int scal_eq(const struct scal *a, const struct scal *b)
{
    int an = a->k == K_INT || a->k == K_REAL, bn = b->k == K_INT || b->k == K_REAL;
    if (an && bn) {
        if (a->k == K_INT && b->k == K_INT)
            return a->i == b->i;
        return a->d == b->d;
    }
    if (a->k != b->k)
        return 0;
    switch (a->k) {
    case K_NULL:
        return 1;
    case K_BOOL:
        return a->i == b->i;
    case K_STR:
        return a->len == b->len && (a->len == 0 || !memcmp(a->s, b->s, a->len));
    default:
        return 0;
    }
}

/* Deep equality; each call costs a step of *steps (0 once the budget is spent). */
static int jeq(const json_t *a, const json_t *b, long *steps)
{
    struct scal x, y;
    int sa, sb;
    if (++*steps > SCHEMA_STEP_BUDGET)
        return 0;
    sa = json_scal(a, &x);
    sb = json_scal(b, &y);
    if (sa || sb)
        return sa && sb && scal_eq(&x, &y);
    if (json_typeof(a) != json_typeof(b))
        return 0;
    if (json_is_array(a)) {
        size_t n = json_array_size(a);
        if (n != json_array_size(b))
            return 0;
        for (size_t i = 0; i < n; i++)
            if (!jeq(json_array_get(a, i), json_array_get(b, i), steps))
                return 0;
        return 1;
    } else {
        const char *k;
        size_t kl;
        json_t *v;
        if (json_object_size(a) != json_object_size(b))
            return 0;
        json_object_keylen_foreach((json_t *)a, k, kl, v)
        {
            json_t *w = json_object_getn(b, k, kl);
            if (!w || !jeq(v, w, steps))
                return 0;
        }
        return 1;
    }
}

static int en_has(const struct senum *en, const struct scal *x)
{
    for (uint32_t k = 0; k < en->n; k++)
        if (scal_eq(&en->v[k], x))
            return 1;
    return 0;
}

static void fmt_enum(const struct senum *en, char *buf, size_t cap)
{
    char v[96];
    vg_putf(buf, cap, "%s", "");
    for (uint32_t k = 0; k < en->n && k < 8; k++) {
        if (en->v[k].k == K_OTHER)
            vg_putf(v, sizeof(v), "%s", json_is_object(en->j[k]) ? "{...}" : "[...]");
        else
            fmt_scal(&en->v[k], v, sizeof(v));
        catf(buf, cap, "%s%s", k ? ", " : "", v);
    }
    if (en->n > 8)
        catf(buf, cap, ", ...");
}

static int multiple_of(double d, double m)
{
    double q = d / m;
    if (!isfinite(q))
        return 0;
    return fabs(q - nearbyint(q)) <= 1e-9 * fmax(1.0, fabs(q));
}

/* Check scalar x against f. 0 pass; 1 wrong type; 2 another keyword. prob = the problem, e.g.
** "190 is above maximum 150" ("the schema maximum" when fast). A non-finite number is never a
** JSON value: it fails every check. */
static int fc_scal(const struct fconj *f, const struct scal *x, int fast, char *prob, size_t cap)
{
    char v[96], b[48], t[96];
    const char *the = fast ? "the schema " : "";
    /* the value is formatted only on failure: this runs for every point */
#define V (fmt_scal(x, v, sizeof(v)), v)
    if (f->flags & N_FALSE) {
        vg_putf(prob, cap, "%s is not allowed (false schema)", V);
        return 2;
    }
    if (x->k == K_REAL && !isfinite(x->d)) {
        vg_putf(prob, cap, "%s is not a finite number", V);
        return 1;
    }
    if (f->types != TB_ANY) {
        int ok;
        switch (x->k) {
        case K_NULL:
            ok = f->types & TB_NULL;
            break;
        case K_BOOL:
            ok = f->types & TB_BOOL;
            break;
        case K_STR:
            ok = f->types & TB_STR;
            break;
        case K_INT:
            ok = f->types & TB_INT;
            break;
        default:
            ok = (f->types & TB_NUM) || ((f->types & TB_INT) && is_integral(x->d));
            break;
        }
        if (!ok) {
            type_names(f->types, t, sizeof(t));
            vg_putf(prob, cap, "%s is not of type %s", V, t);
            return 1;
        }
    }
    if (f->en && !en_has(f->en, x)) {
        char l[256];
        fmt_enum(f->en, l, sizeof(l));
        if (f->en->is_const)
            vg_putf(prob, cap, "%s is not the %sconstant %s", V, the, l);
        else
            vg_putf(prob, cap, "%s is not one of the %sallowed values (%s)", V,
                    fast ? "schema's " : "", l);
        return 2;
    }
    if (x->k == K_INT || x->k == K_REAL) {
        double d = x->d;
        if ((f->flags & N_MIN) && d < f->min) {
            fmt_num(f->min, b, sizeof(b));
            vg_putf(prob, cap, "%s is below %sminimum %s", V, the, b);
            return 2;
        }
        if ((f->flags & N_XMIN) && d <= f->xmin) {
            fmt_num(f->xmin, b, sizeof(b));
            vg_putf(prob, cap, "%s is not above %sexclusive minimum %s", V, the, b);
            return 2;
        }
        if ((f->flags & N_MAX) && d > f->max) {
            fmt_num(f->max, b, sizeof(b));
            vg_putf(prob, cap, "%s is above %smaximum %s", V, the, b);
            return 2;
        }
        if ((f->flags & N_XMAX) && d >= f->xmax) {
            fmt_num(f->xmax, b, sizeof(b));
            vg_putf(prob, cap, "%s is not below %sexclusive maximum %s", V, the, b);
            return 2;
        }
        if ((f->flags & N_MULT) && !multiple_of(d, f->mult)) {
            fmt_num(f->mult, b, sizeof(b));
            vg_putf(prob, cap, "%s is not a multiple of %s", V, b);
            return 2;
        }
    } else if (x->k == K_STR) {
        if (f->minlen >= 0 || f->maxlen >= 0) {
            int64_t l = (int64_t)utf8_len(x->s, x->len);
            if (f->minlen >= 0 && l < f->minlen) {
                vg_putf(prob, cap, "%s is shorter than %lld characters", V, (long long)f->minlen);
                return 2;
            }
            if (f->maxlen >= 0 && l > f->maxlen) {
                vg_putf(prob, cap, "%s is longer than %lld characters", V, (long long)f->maxlen);
                return 2;
            }
        }
        if (f->fmt && !fmt_ok(f->fmt, x->s, x->len)) {
            vg_putf(prob, cap, "%s is not a valid %s", V, fmt_names[f->fmt]);
            return 2;
        }
        if (f->pat && !pattern_match(f->pat, x->s, x->len)) {
            vg_putf(prob, cap, "%s does not match %spattern '%.80s'", V, the, f->pat->src);
            return 2;
        }
    }
    return 0;
#undef V
}

/* The same for an object or array instance: type, enum/const, false. */
static int fc_other(const struct fconj *f, const json_t *x, long *steps, char *prob, size_t cap)
{
    const char *v = json_is_object(x) ? "{...}" : "[...]";
    char t[96];
    if (f->flags & N_FALSE) {
        vg_putf(prob, cap, "%s is not allowed (false schema)", v);
        return 2;
    }
    if (f->types != TB_ANY && !(f->types & (json_is_object(x) ? TB_OBJ : TB_ARR))) {
        type_names(f->types, t, sizeof(t));
        vg_putf(prob, cap, "%s is not of type %s", json_is_object(x) ? "object" : "array", t);
        return 1;
    }
    if (f->en) {
        int found = 0;
        for (uint32_t k = 0; k < f->en->n && !found; k++)
            found = f->en->v[k].k == K_OTHER && jeq(f->en->j[k], x, steps);
        if (!found) {
            vg_putf(prob, cap, "%s is not %s", v,
                    f->en->is_const ? "the constant" : "one of the allowed values");
            return 2;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Nodes and the memo (JSON schema object -> compiled node)                                   */

static size_t ptr_hash(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x;
}

static struct snode *memo_get(const struct schema_set *set, const json_t *k)
{
    if (!set->mcap)
        return NULL;
    for (size_t i = ptr_hash(k) & (set->mcap - 1);; i = (i + 1) & (set->mcap - 1)) {
        if (!set->mk[i])
            return NULL;
        if (set->mk[i] == k)
            return set->mv[i];
    }
}

static void memo_insert(struct schema_set *set, const json_t *k, struct snode *v)
{
    size_t i = ptr_hash(k) & (set->mcap - 1);
    while (set->mk[i])
        i = (i + 1) & (set->mcap - 1);
    set->mk[i] = k;
    set->mv[i] = v;
    set->mn++;
}

/* Rebuild the memo from the live nodes, with room for at least `want` entries. */
static void memo_rebuild(struct schema_set *set, size_t want)
{
    size_t cap = 64;
    while (cap < want * 2 + 2)
        cap *= 2;
    free(set->mk);
    free(set->mv);
    set->mk = vg_calloc(cap, sizeof(*set->mk));
    set->mv = vg_calloc(cap, sizeof(*set->mv));
    set->mcap = cap;
    set->mn = 0;
    for (size_t i = 0; i < set->nnodes; i++)
        if (set->nodes[i]->src)
            memo_insert(set, set->nodes[i]->src, set->nodes[i]);
}

static struct snode *node_new(struct schema_set *set, const json_t *src)
{
    struct snode *n = vg_calloc(1, sizeof(*n));
    n->fc.types = TB_ANY;
    n->fc.minlen = n->fc.maxlen = -1;
    n->minitems = n->maxitems = n->minprops = n->maxprops = -1;
    n->src = src;
    if (set->nnodes == set->capnodes) {
        set->capnodes = set->capnodes ? set->capnodes * 2 : 256;
        set->nodes = vg_realloc(set->nodes, set->capnodes * sizeof(*set->nodes));
    }
    set->nodes[set->nnodes++] = n;
    if ((set->mn + 1) * 2 > set->mcap)
        memo_rebuild(set, set->mn + 1);
    else
        memo_insert(set, src, n);
    set->st.nodes++;
    return n;
}

static void senum_free(const struct senum *en)
{
    if (!en)
        return;
    free((void *)en->j);
    free(en->v);
    free((void *)en);
}

static void node_free(struct snode *n)
{
    free(n->props);
    free(n->pprops);
    free(n->deps);
    free(n->all);
    free(n->any);
    free(n->one);
    senum_free(n->fc.en);
    free(n);
}

/* ------------------------------------------------------------------------------------------ */
/* Compilation                                                                                 */

struct pend {
    struct snode *n;
    const char *ref;
    struct sdoc *doc;
    char *where;
};

struct cctx {
    struct schema_set *set;
    char *err;
    size_t cap;
    int rc;
    struct pend *pend;
    size_t npend, cappend;
    struct sdoc *doc;
    char where[256];
    size_t wlen;
};

static void cfail(struct cctx *cc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cfail(struct cctx *cc, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    if (cc->rc)
        return;
    cc->rc = VG_EINVAL;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    vg_putf(cc->err, cc->cap, "%s#%s: %s", cc->doc && cc->doc->name ? cc->doc->name : "",
            cc->where, msg);
}

static size_t wpush(struct cctx *cc, const char *seg)
{
    size_t old = cc->wlen;
    int n = snprintf(cc->where + old, sizeof(cc->where) - old, "/%s", seg);
    if (n < 0 || (size_t)n >= sizeof(cc->where) - old)
        cc->wlen = sizeof(cc->where) - 1;
    else
        cc->wlen = old + (size_t)n;
    return old;
}

static void wpop(struct cctx *cc, size_t old)
{
    cc->wlen = old;
    cc->where[old] = '\0';
}

static int type_bit(const char *s)
{
    if (!strcmp(s, "null"))
        return TB_NULL;
    if (!strcmp(s, "boolean"))
        return TB_BOOL;
    if (!strcmp(s, "object"))
        return TB_OBJ;
    if (!strcmp(s, "array"))
        return TB_ARR;
    if (!strcmp(s, "number"))
        return TB_NUM | TB_INT;
    if (!strcmp(s, "integer"))
        return TB_INT;
    if (!strcmp(s, "string"))
        return TB_STR;
    return 0;
}

static struct senum *senum_make(const json_t *vals, int is_const)
{
    struct senum *en = vg_calloc(1, sizeof(*en));
    size_t n = is_const ? 1 : json_array_size(vals);
    en->n = (uint32_t)n;
    en->is_const = is_const;
    en->j = vg_calloc(n ? n : 1, sizeof(*en->j));
    en->v = vg_calloc(n ? n : 1, sizeof(*en->v));
    for (size_t i = 0; i < n; i++) {
        en->j[i] = is_const ? vals : json_array_get(vals, i);
        json_scal(en->j[i], &en->v[i]);
    }
    return en;
}

/* enum and const in one schema object: keep the values of a that b also allows. */
static struct senum *senum_and(const struct senum *a, const struct senum *b)
{
    struct senum *en = vg_calloc(1, sizeof(*en));
    long steps = 0;
    en->j = vg_calloc(a->n ? a->n : 1, sizeof(*en->j));
    en->v = vg_calloc(a->n ? a->n : 1, sizeof(*en->v));
    en->is_const = a->is_const || b->is_const;
    for (uint32_t i = 0; i < a->n; i++) {
        int in = 0;
        for (uint32_t k = 0; k < b->n && !in; k++)
            in = jeq(a->j[i], b->j[k], &steps);
        if (in) {
            en->j[en->n] = a->j[i];
            en->v[en->n++] = a->v[i];
        }
    }
    return en;
}

static int get_count(const json_t *v, int64_t *out)
{
    double d;
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0)
            return -1;
        *out = (int64_t)json_integer_value(v);
        return 0;
    }
    if (!json_is_real(v))
        return -1;
    d = json_real_value(v);
    if (!is_integral(d) || d < 0 || d > 9e18)
        return -1;
    *out = (int64_t)d;
    return 0;
}

static int is_strarray(const json_t *v)
{
    size_t i;
    json_t *e;
    if (!json_is_array(v))
        return 0;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e))
            return 0;
    }
    return 1;
}

static int prop_cmp(const void *a, const void *b)
{
    const struct sprop *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(x->name, y->name, x->len);
}

static const struct sprop *prop_find(const struct snode *n, const char *k, size_t kl)
{
    struct sprop key = {k, kl, NULL};
    if (!n->nprops)
        return NULL;
    return bsearch(&key, n->props, n->nprops, sizeof(*n->props), prop_cmp);
}

static struct snode *compile(struct cctx *cc, const json_t *j, int depth);

static struct snode **compile_list(struct cctx *cc, const json_t *v, int depth, uint32_t *n)
{
    size_t i, cnt = json_array_size(v);
    struct snode **out;
    json_t *e;
    if (!json_is_array(v) || cnt == 0) {
        cfail(cc, "must be a non-empty array of schemas");
        return NULL;
    }
    out = vg_calloc(cnt, sizeof(*out));
    json_array_foreach(v, i, e)
    {
        char seg[24];
        size_t w;
        snprintf(seg, sizeof(seg), "%zu", i);
        w = wpush(cc, seg);
        out[i] = compile(cc, e, depth + 1);
        wpop(cc, w);
        if (!out[i]) {
            free(out);
            return NULL;
        }
    }
    *n = (uint32_t)cnt;
    return out;
}

/* A map of name -> schema ("properties", "patternProperties", "dependentSchemas"). */
static int compile_map(struct cctx *cc, struct snode *n, const json_t *v, int depth, int kind)
{
    const char *k;
    size_t kl, cnt = json_object_size(v), i = 0;
    json_t *e;
    if (!json_is_object(v)) {
        cfail(cc, "must be an object");
        return -1;
    }
    if (kind == 0) {
        n->props = vg_calloc(cnt ? cnt : 1, sizeof(*n->props));
    } else if (kind == 1) {
        n->pprops = vg_calloc(cnt ? cnt : 1, sizeof(*n->pprops));
    } else {
        n->deps = vg_realloc(n->deps, (n->ndeps + cnt + 1) * sizeof(*n->deps));
    }
    json_object_keylen_foreach((json_t *)v, k, kl, e)
    {
        size_t w = wpush(cc, k);
        struct snode *s = compile(cc, e, depth + 1);
        wpop(cc, w);
        if (!s)
            return -1;
        if (kind == 0) {
            n->props[i].name = k;
            n->props[i].len = kl;
            n->props[i].s = s;
            n->nprops = (uint32_t)++i;
        } else if (kind == 1) {
            n->pprops[i].pat = pattern_get(cc->set, k, kl);
            n->pprops[i].s = s;
            n->npprops = (uint32_t)++i;
        } else {
            struct sdep *d = &n->deps[n->ndeps++];
            memset(d, 0, sizeof(*d));
            d->name = k;
            d->len = kl;
            d->s = s;
        }
    }
    if (kind == 0)
        qsort(n->props, n->nprops, sizeof(*n->props), prop_cmp);
    return 0;
}

/* "dependentRequired" (kind 0) or the draft-7 "dependencies" (array: required; else schema). */
static int compile_deps(struct cctx *cc, struct snode *n, const json_t *v, int depth, int legacy)
{
    const char *k;
    size_t kl;
    json_t *e;
    if (!json_is_object(v)) {
        cfail(cc, "must be an object");
        return -1;
    }
    n->deps = vg_realloc(n->deps, (n->ndeps + json_object_size(v) + 1) * sizeof(*n->deps));
    json_object_keylen_foreach((json_t *)v, k, kl, e)
    {
        struct sdep d;
        memset(&d, 0, sizeof(d));
        d.name = k;
        d.len = kl;
        if (is_strarray(e)) {
            d.req = e;
        } else if (legacy && (json_is_object(e) || json_is_boolean(e))) {
            size_t w = wpush(cc, k);
            d.s = compile(cc, e, depth + 1);
            wpop(cc, w);
            if (!d.s)
                return -1;
        } else {
            size_t w = wpush(cc, k);
            cfail(cc, "must be an array of strings%s", legacy ? " or a schema" : "");
            wpop(cc, w);
            return -1;
        }
        n->deps[n->ndeps++] = d;
    }
    return 0;
}

static const char *const unsupported_kw[] = {
    "if", "then", "else", "prefixItems", "contains", "minContains", "maxContains",
    "propertyNames", "unevaluatedProperties", "unevaluatedItems", "additionalItems",
    "$dynamicRef", "$recursiveRef", "contentSchema",
};

static int num_kw(struct cctx *cc, const json_t *v, double *out)
{
    if (!json_is_number(v)) {
        cfail(cc, "must be a number");
        return -1;
    }
    *out = json_number_value(v);
    return 0;
}

static void add_enum(struct snode *n, struct senum *en)
{
    if (n->fc.en) {
        struct senum *both = senum_and(n->fc.en, en);
        senum_free(n->fc.en);
        senum_free(en);
        en = both;
    }
    n->fc.en = en;
}

static int keyword(struct cctx *cc, struct snode *n, const char *k, const json_t *v, int depth)
{
    struct fconj *f = &n->fc;
    if (!strcmp(k, "type")) {
        int tb = 0;
        if (json_is_string(v)) {
            tb = type_bit(json_string_value(v));
        } else if (json_is_array(v) && json_array_size(v) > 0) {
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                int b = json_is_string(e) ? type_bit(json_string_value(e)) : 0;
                if (!b) {
                    tb = 0;
                    break;
                }
                tb |= b;
            }
        }
        if (!tb) {
            cfail(cc, "unknown type (want null, boolean, object, array, number, integer, string)");
            return -1;
        }
        f->types = (uint16_t)tb;
    } else if (!strcmp(k, "enum")) {
        if (!json_is_array(v)) {
            cfail(cc, "must be an array");
            return -1;
        }
        add_enum(n, senum_make(v, 0));
    } else if (!strcmp(k, "const")) {
        add_enum(n, senum_make(v, 1));
    } else if (!strcmp(k, "minimum")) {
        if (num_kw(cc, v, &f->min))
            return -1;
        f->flags |= N_MIN;
    } else if (!strcmp(k, "maximum")) {
        if (num_kw(cc, v, &f->max))
            return -1;
        f->flags |= N_MAX;
    } else if (!strcmp(k, "exclusiveMinimum") || !strcmp(k, "exclusiveMaximum")) {
        int mn = k[9] == 'M' && k[10] == 'i';
        if (json_is_boolean(v))
            return 0; /* draft-4 form: applied to minimum/maximum after the loop */
        if (num_kw(cc, v, mn ? &f->xmin : &f->xmax))
            return -1;
        f->flags |= mn ? N_XMIN : N_XMAX;
    } else if (!strcmp(k, "multipleOf")) {
        if (num_kw(cc, v, &f->mult))
            return -1;
        if (!(f->mult > 0) || !isfinite(f->mult)) {
            cfail(cc, "must be greater than 0");
            return -1;
        }
        f->flags |= N_MULT;
    } else if (!strcmp(k, "minLength") || !strcmp(k, "maxLength") || !strcmp(k, "minItems") ||
               !strcmp(k, "maxItems") || !strcmp(k, "minProperties") ||
               !strcmp(k, "maxProperties")) {
        int64_t c;
        if (get_count(v, &c)) {
            cfail(cc, "must be a non-negative integer");
            return -1;
        }
        if (!strcmp(k, "minLength"))
            f->minlen = c;
        else if (!strcmp(k, "maxLength"))
            f->maxlen = c;
        else if (!strcmp(k, "minItems"))
            n->minitems = c;
        else if (!strcmp(k, "maxItems"))
            n->maxitems = c;
        else if (!strcmp(k, "minProperties"))
            n->minprops = c;
        else
            n->maxprops = c;
    } else if (!strcmp(k, "uniqueItems")) {
        if (!json_is_boolean(v)) {
            cfail(cc, "must be a boolean");
            return -1;
        }
        if (json_is_true(v))
            n->fc.flags |= N_UNIQUE;
    } else if (!strcmp(k, "pattern")) {
        if (!json_is_string(v)) {
            cfail(cc, "must be a string");
            return -1;
        }
        f->pat = pattern_get(cc->set, json_string_value(v), json_string_length(v));
    } else if (!strcmp(k, "format")) {
        if (!json_is_string(v)) {
            cfail(cc, "must be a string");
            return -1;
        }
        f->fmt = (uint8_t)fmt_lookup(json_string_value(v));
    } else if (!strcmp(k, "items")) {
        if (json_is_array(v)) {
            cc->set->st.ignored++; /* draft-4 tuple form */
            return 0;
        }
        n->items = compile(cc, v, depth + 1);
        return n->items ? 0 : -1;
    } else if (!strcmp(k, "properties")) {
        return compile_map(cc, n, v, depth, 0);
    } else if (!strcmp(k, "patternProperties")) {
        return compile_map(cc, n, v, depth, 1);
    } else if (!strcmp(k, "dependentSchemas")) {
        return compile_map(cc, n, v, depth, 2);
    } else if (!strcmp(k, "dependentRequired")) {
        return compile_deps(cc, n, v, depth, 0);
    } else if (!strcmp(k, "dependencies")) {
        return compile_deps(cc, n, v, depth, 1);
    } else if (!strcmp(k, "additionalProperties")) {
        n->addl = compile(cc, v, depth + 1);
        return n->addl ? 0 : -1;
    } else if (!strcmp(k, "not")) {
        n->not = compile(cc, v, depth + 1);
        return n->not ? 0 : -1;
    } else if (!strcmp(k, "required")) {
        if (!is_strarray(v)) {
            cfail(cc, "must be an array of strings");
            return -1;
        }
        n->req = v;
    } else if (!strcmp(k, "allOf")) {
        n->all = compile_list(cc, v, depth, &n->nall);
        return n->all ? 0 : -1;
    } else if (!strcmp(k, "anyOf")) {
        n->any = compile_list(cc, v, depth, &n->nany);
        return n->any ? 0 : -1;
    } else if (!strcmp(k, "oneOf")) {
        n->one = compile_list(cc, v, depth, &n->none);
        return n->one ? 0 : -1;
    } else if (!strcmp(k, "$ref")) {
        struct pend *p;
        if (!json_is_string(v)) {
            cfail(cc, "must be a string");
            return -1;
        }
        if (cc->npend == cc->cappend) {
            cc->cappend = cc->cappend ? cc->cappend * 2 : 16;
            cc->pend = vg_realloc(cc->pend, cc->cappend * sizeof(*cc->pend));
        }
        p = &cc->pend[cc->npend++];
        p->n = n;
        p->ref = json_string_value(v);
        p->doc = cc->doc;
        p->where = vg_strdup(cc->where);
    } else if (!strcmp(k, "definitions") || !strcmp(k, "$defs")) {
        if (!json_is_object(v)) {
            cfail(cc, "must be an object");
            return -1;
        }
    } else {
        for (size_t i = 0; i < VG_ARRAY_LEN(unsupported_kw); i++)
            if (!strcmp(k, unsupported_kw[i]))
                cc->set->st.ignored++;
    }
    return 0;
}

static struct snode *compile(struct cctx *cc, const json_t *j, int depth)
{
    struct snode *n = memo_get(cc->set, j);
    const char *k;
    json_t *v;
    if (n)
        return n;
    if (cc->rc)
        return NULL;
    if (depth > SCHEMA_MAX_DEPTH) {
        cfail(cc, "schema nested deeper than %d", SCHEMA_MAX_DEPTH);
        return NULL;
    }
    if (json_is_boolean(j)) {
        n = node_new(cc->set, j);
        if (json_is_false(j))
            n->fc.flags |= N_FALSE;
        return n;
    }
    if (!json_is_object(j)) {
        cfail(cc, "a schema must be an object or a boolean");
        return NULL;
    }
    n = node_new(cc->set, j);
    json_object_foreach((json_t *)j, k, v)
    {
        size_t w = wpush(cc, k);
        int rc = keyword(cc, n, k, v, depth);
        wpop(cc, w);
        if (rc || cc->rc)
            return NULL;
    }
    /* draft 4: "exclusiveMinimum": true turns minimum into an exclusive bound */
    if (json_is_true(json_object_get(j, "exclusiveMinimum")) && (n->fc.flags & N_MIN)) {
        n->fc.flags = (uint16_t)((n->fc.flags & ~N_MIN) | N_XMIN);
        n->fc.xmin = n->fc.min;
    }
    if (json_is_true(json_object_get(j, "exclusiveMaximum")) && (n->fc.flags & N_MAX)) {
        n->fc.flags = (uint16_t)((n->fc.flags & ~N_MAX) | N_XMAX);
        n->fc.xmax = n->fc.max;
    }
    return n;
}

/* ------------------------------------------------------------------------------------------ */
/* Documents and $ref                                                                          */

static struct sdoc *doc_add(struct schema_set *set, const char *name, json_t *root)
{
    struct sdoc *d = vg_calloc(1, sizeof(*d));
    json_t *id = json_is_object(root) ? json_object_get(root, "$id") : NULL;
    d->name = name ? vg_strdup(name) : NULL;
    d->root = root;
    d->id = json_is_string(id) ? json_string_value(id) : NULL;
    d->next = set->docs;
    set->docs = d;
    return d;
}

static void doc_unlink(struct schema_set *set, struct sdoc *d)
{
    for (struct sdoc **pp = &set->docs; *pp; pp = &(*pp)->next) {
        if (*pp == d) {
            *pp = d->next;
            break;
        }
    }
    json_decref(d->root);
    free(d->name);
    free(d);
}

static int load_file(const char *path, json_t **out, char *err, size_t cap)
{
    struct stat sb;
    json_error_t je;
    json_t *j;
    if (stat(path, &sb) != 0) {
        vg_putf(err, cap, "cannot read '%s'", path);
        return VG_ENOENT;
    }
    if (!S_ISREG(sb.st_mode) || sb.st_size > (off_t)SCHEMA_MAX_FILE) {
        vg_putf(err, cap, "'%s' is not a regular file of at most %u bytes", path, SCHEMA_MAX_FILE);
        return VG_ETOOBIG;
    }
    j = json_load_file(path, 0, &je);
    if (!j) {
        vg_putf(err, cap, "'%s' line %d: %s", path, je.line, je.text);
        return VG_EINVAL;
    }
    *out = j;
    return 0;
}

static int safe_name(const char *s, size_t n)
{
    if (n == 0 || n > 128 || s[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!alpha(s[i]) && !digit(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return 0;
    return 1;
}

/* The document a $ref URL (before '#') names: empty or the document's own $id -> the same
** document; otherwise the shared file named by the URL's last path segment. */
static struct sdoc *ref_doc(struct cctx *cc, struct sdoc *doc, const char *u, size_t ulen)
{
    struct schema_set *set = cc->set;
    const char *seg = u, *q;
    size_t slen;
    char name[160], path[4096], e[256];
    json_t *root;
    if (ulen == 0 || (doc->id && strlen(doc->id) == ulen && !memcmp(doc->id, u, ulen)))
        return doc;
    for (size_t i = 0; i < ulen; i++)
        if (u[i] == '/')
            seg = u + i + 1;
    slen = (size_t)(u + ulen - seg);
    q = memchr(seg, '?', slen);
    if (q)
        slen = (size_t)(q - seg);
    if (!safe_name(seg, slen)) {
        cfail(cc, "cannot map $ref '%.*s' to a file name", (int)(ulen > 200 ? 200 : ulen), u);
        return NULL;
    }
    memcpy(name, seg, slen);
    name[slen] = '\0';
    for (struct sdoc *d = set->docs; d; d = d->next)
        if (d->name && !strcmp(d->name, name))
            return d;
    if (!set->shared_dir) {
        cfail(cc, "cannot resolve $ref to '%s': no shared schema directory", name);
        return NULL;
    }
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", set->shared_dir, name) >= sizeof(path)) {
        cfail(cc, "shared schema path too long");
        return NULL;
    }
    if (load_file(path, &root, e, sizeof(e))) {
        cfail(cc, "$ref to '%s': %s", name, e);
        return NULL;
    }
    return doc_add(set, name, root);
}

/* Follow a JSON pointer fragment (without '#'; percent-encoded, RFC 6901 escapes). */
static const json_t *ref_pointer(struct cctx *cc, const json_t *root, const char *p, size_t n)
{
    char tok[256];
    const json_t *cur = root;
    size_t i = 0;
    while (i < n) {
        size_t t = 0;
        if (p[i] != '/') {
            cfail(cc, "$ref fragment '%.*s' is not a JSON pointer (anchors are not supported)",
                  (int)(n > 100 ? 100 : n), p);
            return NULL;
        }
        for (i++; i < n && p[i] != '/'; i++) {
            int c = (unsigned char)p[i];
            if (c == '%' && i + 2 < n && hexd(p[i + 1]) && hexd(p[i + 2])) {
                char hx[3] = {p[i + 1], p[i + 2], 0};
                c = (int)strtol(hx, NULL, 16);
                i += 2;
            }
            if (t + 1 >= sizeof(tok)) {
                cfail(cc, "$ref pointer token too long");
                return NULL;
            }
            tok[t++] = (char)c;
        }
        /* RFC 6901: ~1 -> '/', ~0 -> '~' */
        {
            size_t o = 0;
            for (size_t k = 0; k < t; k++) {
                if (tok[k] == '~' && k + 1 < t && (tok[k + 1] == '0' || tok[k + 1] == '1')) {
                    tok[o++] = tok[k + 1] == '0' ? '~' : '/';
                    k++;
                } else {
                    tok[o++] = tok[k];
                }
            }
            t = o;
        }
        if (json_is_object(cur)) {
            cur = json_object_getn(cur, tok, t);
        } else if (json_is_array(cur)) {
            size_t idx = 0;
            if (t == 0 || (tok[0] == '0' && t > 1) || t > 9) {
                cur = NULL;
            } else {
                for (size_t k = 0; k < t && cur; k++) {
                    if (!digit(tok[k]))
                        cur = NULL;
                    idx = idx * 10 + (size_t)(tok[k] - '0');
                }
                cur = cur ? json_array_get(cur, idx) : NULL;
            }
        } else {
            cur = NULL;
        }
        if (!cur) {
            cfail(cc, "$ref pointer '%.*s' points nowhere", (int)(n > 100 ? 100 : n), p);
            return NULL;
        }
    }
    return cur;
}

static int resolve_pending(struct cctx *cc)
{
    for (size_t i = 0; i < cc->npend && !cc->rc; i++) {
        struct pend *p = &cc->pend[i];
        const char *hash = strchr(p->ref, '#');
        size_t ulen = hash ? (size_t)(hash - p->ref) : strlen(p->ref);
        struct sdoc *d;
        const json_t *target;
        snprintf(cc->where, sizeof(cc->where), "%s/$ref", p->where);
        cc->wlen = strlen(cc->where);
        cc->doc = p->doc;
        d = ref_doc(cc, p->doc, p->ref, ulen);
        if (!d)
            break;
        cc->doc = d;
        target = hash ? ref_pointer(cc, d->root, hash + 1, strlen(hash + 1)) : d->root;
        if (!target) {
            cc->doc = p->doc;
            break;
        }
        cc->wlen = 0;
        cc->where[0] = '\0';
        if (hash)
            snprintf(cc->where, sizeof(cc->where), "%.200s", hash + 1);
        cc->wlen = strlen(cc->where);
        {
            struct snode *n = p->n; /* compile() may grow cc->pend */
            struct snode *r = compile(cc, target, 0);
            n->ref = r;
        }
    }
    return cc->rc;
}

/* In-place applicators of n (they see the same instance): k-th edge, or NULL. */
static struct snode *edge(const struct snode *n, uint32_t k)
{
    if (k == 0)
        return n->ref;
    k--;
    if (k < n->nall)
        return n->all[k];
    k -= n->nall;
    if (k < n->nany)
        return n->any[k];
    k -= n->nany;
    if (k < n->none)
        return n->one[k];
    k -= n->none;
    if (k == 0)
        return n->not;
    k--;
    if (k < n->ndeps)
        return n->deps[k].s;
    return NULL;
}

static uint32_t nedges(const struct snode *n)
{
    return 2 + n->nall + n->nany + n->none + n->ndeps;
}

/* 1 when the nodes made since `start` take part in a cycle of in-place applicators. */
static int has_cycle(struct schema_set *set, size_t start)
{
    struct frame {
        struct snode *n;
        uint32_t k;
    } *st;
    uint32_t grey, black;
    size_t sp = 0;
    int cyc = 0;
    set->gen += 2;
    grey = set->gen;
    black = grey + 1;
    st = vg_malloc((set->nnodes + 1) * sizeof(*st));
    for (size_t i = start; i < set->nnodes && !cyc; i++) {
        struct snode *r = set->nodes[i];
        if (r->mark == grey || r->mark == black)
            continue;
        r->mark = grey;
        st[sp].n = r;
        st[sp++].k = 0;
        while (sp && !cyc) {
            struct frame *f = &st[sp - 1];
            struct snode *c;
            if (f->k >= nedges(f->n)) {
                f->n->mark = black;
                sp--;
                continue;
            }
            c = edge(f->n, f->k++);
            if (!c || c->mark == black)
                continue;
            if (c->mark == grey) {
                cyc = 1;
                break;
            }
            c->mark = grey;
            st[sp].n = c;
            st[sp++].k = 0;
        }
    }
    free(st);
    return cyc;
}

/* ------------------------------------------------------------------------------------------ */
/* Types and their flat per-attribute checks                                                   */

static struct stype *type_find(const struct schema_set *set, const char *name)
{
    uint64_t h;
    if (!set || !set->types || !name)
        return NULL;
    h = hash_str(name);
    for (uint32_t i = (uint32_t)h & set->tmask;; i = (i + 1) & set->tmask) {
        struct stype *t = set->types[i];
        if (!t)
            return NULL;
        if (t->hash == h && !strcmp(t->name, name))
            return t;
    }
}

static void type_insert(struct schema_set *set, struct stype *t)
{
    if (!set->types || (set->ntypes + 1) * 2 > set->tmask + 1) {
        uint32_t ncap = set->types ? (set->tmask + 1) * 2 : 16;
        struct stype **old = set->types;
        uint32_t omask = set->tmask;
        set->types = vg_calloc(ncap, sizeof(*set->types));
        set->tmask = ncap - 1;
        if (old) {
            for (uint32_t i = 0; i <= omask; i++) {
                if (!old[i])
                    continue;
                uint32_t j = (uint32_t)old[i]->hash & set->tmask;
                while (set->types[j])
                    j = (j + 1) & set->tmask;
                set->types[j] = old[i];
            }
            free(old);
        }
    }
    uint32_t j = (uint32_t)t->hash & set->tmask;
    while (set->types[j])
        j = (j + 1) & set->tmask;
    set->types[j] = t;
    set->ntypes++;
    set->st.types++;
}

static const struct acheck *attr_find(const struct stype *t, const char *attr)
{
    uint64_t h;
    if (!t->tab)
        return NULL;
    h = hash_str(attr);
    for (uint32_t i = (uint32_t)h & t->mask;; i = (i + 1) & t->mask) {
        const struct acheck *a = t->tab[i];
        if (!a)
            return NULL;
        if (a->hash == h && !strcmp(a->attr, attr))
            return a;
    }
}

struct nlist {
    struct snode **v;
    uint32_t n, cap;
};

static void nl_push(struct nlist *l, struct snode *s)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (l->v[i] == s)
            return;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = vg_realloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = s;
}

/* The schemas that apply to the value of member name of an instance of t (through the root's
** conjunction: properties, matching patternProperties, else additionalProperties). */
static void collect_attr(const struct stype *t, const char *name, size_t len, struct nlist *out)
{
    for (uint32_t c = 0; c < t->nconj; c++) {
        const struct snode *n = t->conj[c];
        const struct sprop *p = prop_find(n, name, len);
        int covered = p != NULL;
        if (p)
            nl_push(out, p->s);
        for (uint32_t k = 0; k < n->npprops; k++) {
            if (pattern_match(n->pprops[k].pat, name, len)) {
                covered = 1;
                nl_push(out, n->pprops[k].s);
            }
        }
        if (!covered && n->addl)
            nl_push(out, n->addl);
    }
}

static void fc_init(struct fconj *f)
{
    memset(f, 0, sizeof(*f));
    f->types = TB_ANY;
    f->minlen = f->maxlen = -1;
}

/* f &= g; -1 when the result cannot be one flat check (two different patterns, enums...). */
static int fc_merge(struct fconj *f, const struct fconj *g)
{
    f->flags |= g->flags & N_FALSE;
    f->types &= g->types;
    if ((g->flags & N_MIN) && (!(f->flags & N_MIN) || g->min > f->min)) {
        f->min = g->min;
        f->flags |= N_MIN;
    }
    if ((g->flags & N_MAX) && (!(f->flags & N_MAX) || g->max < f->max)) {
        f->max = g->max;
        f->flags |= N_MAX;
    }
    if ((g->flags & N_XMIN) && (!(f->flags & N_XMIN) || g->xmin > f->xmin)) {
        f->xmin = g->xmin;
        f->flags |= N_XMIN;
    }
    if ((g->flags & N_XMAX) && (!(f->flags & N_XMAX) || g->xmax < f->xmax)) {
        f->xmax = g->xmax;
        f->flags |= N_XMAX;
    }
    if (g->flags & N_MULT) {
        if ((f->flags & N_MULT) && f->mult != g->mult)
            return -1;
        f->mult = g->mult;
        f->flags |= N_MULT;
    }
    if (g->minlen > f->minlen)
        f->minlen = g->minlen;
    if (g->maxlen >= 0 && (f->maxlen < 0 || g->maxlen < f->maxlen))
        f->maxlen = g->maxlen;
    if (g->fmt) {
        if (f->fmt && f->fmt != g->fmt)
            return -1;
        f->fmt = g->fmt;
    }
    if (g->pat) {
        if (f->pat && f->pat != g->pat)
            return -1;
        f->pat = g->pat;
    }
    if (g->en) {
        if (f->en && f->en != g->en)
            return -1;
        f->en = g->en;
    }
    return 0;
}

/* Merge the conjunction of start[0..n) (following $ref and allOf) into f. The one anyOf/oneOf
** met is returned in *grp (must be NULL on entry when allowed, grp == NULL: not allowed). */
static int fc_flatten(struct fconj *f, struct snode *const *start, uint32_t n,
                      const struct snode **grp)
{
    struct nlist work = {0};
    int rc = 0;
    for (uint32_t i = 0; i < n; i++)
        nl_push(&work, start[i]);
    for (uint32_t i = 0; i < work.n && !rc; i++) {
        const struct snode *x = work.v[i];
        if (i > 64 || x->not || fc_merge(f, &x->fc)) {
            rc = -1;
            break;
        }
        if (x->ref)
            nl_push(&work, x->ref);
        for (uint32_t k = 0; k < x->nall; k++)
            nl_push(&work, x->all[k]);
        if (x->nany || x->none) {
            if (!grp || *grp || (x->nany && x->none))
                rc = -1;
            else
                *grp = x;
        }
    }
    free(work.v);
    return rc;
}

static int flatten(struct acheck *a)
{
    const struct snode *grp = NULL;
    struct snode **alts;
    uint32_t nalt;
    fc_init(&a->base);
    if (fc_flatten(&a->base, a->nodes, a->nnodes, &grp))
        return -1;
    if (!grp)
        return 0;
    alts = grp->nany ? grp->any : grp->one;
    nalt = grp->nany ? grp->nany : grp->none;
    if (nalt > SCHEMA_MAX_ALTS)
        return -1;
    for (uint32_t k = 0; k < nalt; k++) {
        fc_init(&a->alts[k]);
        if (fc_flatten(&a->alts[k], &alts[k], 1, NULL))
            return -1;
    }
    a->nalt = (uint8_t)nalt;
    a->one = grp->none > 0;
    return 0;
}

static void type_build(struct schema_set *set, struct stype *t)
{
    struct nlist conj = {0};
    uint32_t total = 0, cap = 16;
    nl_push(&conj, t->root);
    for (uint32_t i = 0; i < conj.n; i++) {
        struct snode *x = conj.v[i];
        if (x->ref)
            nl_push(&conj, x->ref);
        for (uint32_t k = 0; k < x->nall; k++)
            nl_push(&conj, x->all[k]);
        total += x->nprops;
        if (x->addl || x->npprops)
            t->open = 1;
    }
    t->conj = conj.v;
    t->nconj = conj.n;
    while (cap < total * 2 + 2)
        cap *= 2;
    t->tab = vg_calloc(cap, sizeof(*t->tab));
    t->mask = cap - 1;
    for (uint32_t i = 0; i < conj.n; i++) {
        const struct snode *x = conj.v[i];
        for (uint32_t p = 0; p < x->nprops; p++) {
            const char *name = x->props[p].name;
            struct acheck *a;
            uint32_t j;
            uint64_t h;
            if (strlen(name) != x->props[p].len || attr_find(t, name))
                continue; /* an embedded NUL never matches a C-string attribute */
            h = hash_str(name);
            a = vg_calloc(1, sizeof(*a));
            a->attr = name;
            a->hash = h;
            for (j = (uint32_t)h & t->mask; t->tab[j]; j = (j + 1) & t->mask)
                ;
            t->tab[j] = a;
            t->nattr++;
        }
    }
    for (uint32_t j = 0; j <= t->mask; j++) {
        struct acheck *a = t->tab[j];
        struct nlist l = {0};
        if (!a)
            continue;
        collect_attr(t, a->attr, strlen(a->attr), &l);
        a->nodes = l.v;
        a->nnodes = l.n;
        a->flat = flatten(a) == 0;
        if (a->flat)
            set->st.flat_attrs++;
        else
            set->st.fallback_attrs++;
    }
}

static void type_free(struct stype *t)
{
    if (!t)
        return;
    if (t->tab) {
        for (uint32_t j = 0; j <= t->mask; j++) {
            if (t->tab[j]) {
                free(t->tab[j]->nodes);
                free(t->tab[j]);
            }
        }
    }
    free(t->tab);
    free(t->conj);
    free(t->name);
    free(t);
}

/* ------------------------------------------------------------------------------------------ */
/* The tree walker                                                                             */

#define EVAL_DEPTH_MAX (4 * SCHEMA_MAX_DEPTH) /* nested vnode() calls */

struct vctx {
    char path[256]; /* JSON pointer of the instance being checked */
    size_t plen;
    long steps;
    int dead; /* budget or depth exhausted: the verdict is "invalid" whatever happens next */
};

static size_t path_push(struct vctx *c, const char *k, size_t kl, size_t idx, int is_idx)
{
    size_t old = c->plen, o = old;
    char num[24];
    if (is_idx) {
        snprintf(num, sizeof(num), "%zu", idx);
        k = num;
        kl = strlen(num);
    }
    if (o + 2 >= sizeof(c->path))
        return old;
    c->path[o++] = '/';
    for (size_t i = 0; i < kl; i++) {
        const char *rep = NULL;
        char one[2] = {k[i], 0};
        if (k[i] == '~')
            rep = "~0";
        else if (k[i] == '/')
            rep = "~1";
        else if ((unsigned char)k[i] < 0x20)
            one[0] = '?';
        if (!rep)
            rep = one;
        if (o + strlen(rep) + 4 >= sizeof(c->path)) {
            memcpy(c->path + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(c->path + o, rep, strlen(rep));
        o += strlen(rep);
    }
    c->path[o] = '\0';
    c->plen = o;
    return old;
}

static void path_pop(struct vctx *c, size_t old)
{
    c->plen = old;
    c->path[old] = '\0';
}

static int vfail(const struct vctx *c, char *why, size_t cap, int r, const char *prob)
{
    if (c->plen)
        vg_putf(why, cap, "%s: %s", c->path, prob);
    else
        vg_putf(why, cap, "%s", prob);
    return r;
}

static void fmt_inst(const json_t *x, char *buf, size_t cap)
{
    struct scal s;
    if (json_scal(x, &s))
        fmt_scal(&s, buf, cap);
    else
        vg_putf(buf, cap, "%s", json_is_object(x) ? "{...}" : "[...]");
}

static int vnode(struct vctx *c, const struct snode *n, const json_t *x, int depth, char *why,
                 size_t cap);

static int vdead(struct vctx *c, char *why, size_t cap)
{
    c->dead = 1;
    vg_putf(why, cap, "schema evaluation exceeds its budget (%d steps, depth %d)",
            SCHEMA_STEP_BUDGET, EVAL_DEPTH_MAX);
    return 2;
}

/* anyOf (one = 0) / oneOf (one = 1) over alts. */
static int valts(struct vctx *c, struct snode *const *alts, uint32_t na, int one, const json_t *x,
                 int depth, char *why, size_t cap)
{
    char tmp[256], best[256], v[96], t[96];
    int bestr = 0, hits = 0, all_type = 1;
    uint16_t tu = 0;
    best[0] = '\0';
    for (uint32_t k = 0; k < na; k++) {
        int r = vnode(c, alts[k], x, depth + 1, tmp, sizeof(tmp));
        if (c->dead)
            return vdead(c, why, cap);
        if (!r) {
            hits++;
            if (!one)
                return 0;
            continue;
        }
        if (r != 1 || alts[k]->fc.types == TB_ANY)
            all_type = 0;
        tu |= alts[k]->fc.types;
        if (!bestr || (r == 2 && bestr == 1)) {
            memcpy(best, tmp, sizeof(best));
            bestr = r;
        }
    }
    if (one && hits == 1)
        return 0;
    fmt_inst(x, v, sizeof(v));
    if (hits > 1) {
        snprintf(tmp, sizeof(tmp), "%s matches %d alternatives of oneOf, exactly one is required",
                 v, hits);
        return vfail(c, why, cap, 2, tmp);
    }
    if (all_type) {
        type_names(tu, t, sizeof(t));
        snprintf(tmp, sizeof(tmp), "%s is not of type %s", v, t);
        return vfail(c, why, cap, 1, tmp);
    }
    vg_putf(why, cap, "%s (no alternative of %s matches)", best, one ? "oneOf" : "anyOf");
    return 2;
}

static int vobject(struct vctx *c, const struct snode *n, const json_t *x, int depth, char *why,
                   size_t cap)
{
    char prob[256];
    size_t nk = json_object_size(x), i;
    int r;
    json_t *e;
    if (n->minprops >= 0 && (int64_t)nk < n->minprops) {
        snprintf(prob, sizeof(prob), "object has %zu properties, fewer than minProperties %lld",
                 nk, (long long)n->minprops);
        return vfail(c, why, cap, 2, prob);
    }
    if (n->maxprops >= 0 && (int64_t)nk > n->maxprops) {
        snprintf(prob, sizeof(prob), "object has %zu properties, more than maxProperties %lld",
                 nk, (long long)n->maxprops);
        return vfail(c, why, cap, 2, prob);
    }
    if (n->req) {
        json_array_foreach(n->req, i, e)
        {
            if (!json_object_getn(x, json_string_value(e), json_string_length(e))) {
                snprintf(prob, sizeof(prob), "missing required property '%.100s'",
                         json_string_value(e));
                return vfail(c, why, cap, 2, prob);
            }
        }
    }
    for (uint32_t p = 0; p < n->nprops; p++) {
        json_t *v = json_object_getn(x, n->props[p].name, n->props[p].len);
        size_t old;
        if (!v)
            continue;
        old = path_push(c, n->props[p].name, n->props[p].len, 0, 0);
        r = vnode(c, n->props[p].s, v, depth + 1, why, cap);
        path_pop(c, old);
        if (r)
            return 2;
    }
    if (n->npprops || n->addl) {
        const char *k;
        size_t kl;
        json_t *v;
        json_object_keylen_foreach((json_t *)x, k, kl, v)
        {
            int covered = prop_find(n, k, kl) != NULL;
            size_t old;
            for (uint32_t p = 0; p < n->npprops; p++) {
                if (!pattern_match(n->pprops[p].pat, k, kl))
                    continue;
                covered = 1;
                old = path_push(c, k, kl, 0, 0);
                r = vnode(c, n->pprops[p].s, v, depth + 1, why, cap);
                path_pop(c, old);
                if (r)
                    return 2;
            }
            if (covered || !n->addl)
                continue;
            if ((n->addl->fc.flags & N_FALSE)) {
                char kk[96];
                fmt_str(k, kl, kk, sizeof(kk));
                snprintf(prob, sizeof(prob), "property %s is not allowed (additionalProperties)",
                         kk);
                return vfail(c, why, cap, 2, prob);
            }
            old = path_push(c, k, kl, 0, 0);
            r = vnode(c, n->addl, v, depth + 1, why, cap);
            path_pop(c, old);
            if (r)
                return 2;
        }
    }
    for (uint32_t d = 0; d < n->ndeps; d++) {
        const struct sdep *dp = &n->deps[d];
        if (!json_object_getn(x, dp->name, dp->len))
            continue;
        if (dp->req) {
            json_array_foreach(dp->req, i, e)
            {
                if (!json_object_getn(x, json_string_value(e), json_string_length(e))) {
                    snprintf(prob, sizeof(prob), "property '%.80s' requires property '%.80s'",
                             dp->name, json_string_value(e));
                    return vfail(c, why, cap, 2, prob);
                }
            }
        }
        if (dp->s && vnode(c, dp->s, x, depth + 1, why, cap))
            return 2;
    }
    return 0;
}

static int varray(struct vctx *c, const struct snode *n, const json_t *x, int depth, char *why,
                  size_t cap)
{
    char prob[256];
    size_t na = json_array_size(x);
    if (n->minitems >= 0 && (int64_t)na < n->minitems) {
        snprintf(prob, sizeof(prob), "array has %zu items, fewer than minItems %lld", na,
                 (long long)n->minitems);
        return vfail(c, why, cap, 2, prob);
    }
    if (n->maxitems >= 0 && (int64_t)na > n->maxitems) {
        snprintf(prob, sizeof(prob), "array has %zu items, more than maxItems %lld", na,
                 (long long)n->maxitems);
        return vfail(c, why, cap, 2, prob);
    }
    if (n->items) {
        for (size_t i = 0; i < na; i++) {
            size_t old = path_push(c, NULL, 0, i, 1);
            int r = vnode(c, n->items, json_array_get(x, i), depth + 1, why, cap);
            path_pop(c, old);
            if (r)
                return 2;
        }
    }
    if (n->fc.flags & N_UNIQUE) {
        for (size_t i = 0; i < na; i++) {
            for (size_t j = i + 1; j < na; j++) {
                if (jeq(json_array_get(x, i), json_array_get(x, j), &c->steps)) {
                    snprintf(prob, sizeof(prob), "items %zu and %zu are equal (uniqueItems)", i,
                             j);
                    return vfail(c, why, cap, 2, prob);
                }
                if (c->steps > SCHEMA_STEP_BUDGET)
                    return vdead(c, why, cap);
            }
        }
    }
    return 0;
}

/* 0 valid; 1 x has the wrong type for n itself (or an in-place subschema); 2 other failure. */
static int vnode(struct vctx *c, const struct snode *n, const json_t *x, int depth, char *why,
                 size_t cap)
{
    char prob[256];
    struct scal sc;
    int r;
    if (c->dead)
        return 2;
    if (++c->steps > SCHEMA_STEP_BUDGET || depth > EVAL_DEPTH_MAX)
        return vdead(c, why, cap);
    if (json_scal(x, &sc))
        r = fc_scal(&n->fc, &sc, 0, prob, sizeof(prob));
    else
        r = fc_other(&n->fc, x, &c->steps, prob, sizeof(prob));
    if (c->steps > SCHEMA_STEP_BUDGET)
        return vdead(c, why, cap);
    if (r)
        return vfail(c, why, cap, r, prob);
    if (json_is_object(x) && (r = vobject(c, n, x, depth, why, cap)))
        return r;
    if (json_is_array(x) && (r = varray(c, n, x, depth, why, cap)))
        return r;
    if (n->ref && (r = vnode(c, n->ref, x, depth + 1, why, cap)))
        return r;
    for (uint32_t k = 0; k < n->nall; k++)
        if ((r = vnode(c, n->all[k], x, depth + 1, why, cap)))
            return r;
    if (n->nany && (r = valts(c, n->any, n->nany, 0, x, depth, why, cap)))
        return r;
    if (n->none && (r = valts(c, n->one, n->none, 1, x, depth, why, cap)))
        return r;
    if (n->not) {
        char tmp[8];
        r = vnode(c, n->not, x, depth + 1, tmp, sizeof(tmp));
        if (c->dead)
            return vdead(c, why, cap);
        if (!r) {
            char v[96];
            fmt_inst(x, v, sizeof(v));
            snprintf(prob, sizeof(prob), "%s matches the schema in 'not'", v);
            return vfail(c, why, cap, 2, prob);
        }
    }
    return 0;
}

/* 1 when x nests deeper than max. */
static int too_deep(const json_t *x, int max)
{
    if (max < 0)
        return 1;
    if (json_is_array(x)) {
        for (size_t i = 0; i < json_array_size(x); i++)
            if (too_deep(json_array_get(x, i), max - 1))
                return 1;
    } else if (json_is_object(x)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)x, k, v)
        {
            if (too_deep(v, max - 1))
                return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Public API                                                                                  */

int schema_set_new(const char *shared_dir, struct schema_set **out)
{
    struct schema_set *set = vg_calloc(1, sizeof(*set));
    set->shared_dir = shared_dir ? vg_strdup(shared_dir) : NULL;
    memo_rebuild(set, 64);
    *out = set;
    return 0;
}

void schema_set_free(struct schema_set *set)
{
    struct spattern *p, *pn;
    if (!set)
        return;
    if (set->types)
        for (uint32_t i = 0; i <= set->tmask; i++)
            type_free(set->types[i]);
    free(set->types);
    for (size_t i = 0; i < set->nnodes; i++)
        node_free(set->nodes[i]);
    free(set->nodes);
    while (set->docs)
        doc_unlink(set, set->docs);
    for (p = set->pats; p; p = pn) {
        pn = p->next;
        if (p->ok)
            regfree(&p->re);
        free(p->src);
        free(p);
    }
    free(set->mk);
    free(set->mv);
    free(set->shared_dir);
    free(set);
}

int schema_set_add(struct schema_set *set, const char *type, const json_t *schema, char *err,
                   size_t cap)
{
    struct cctx cc;
    struct sdoc *doc;
    struct snode *root;
    struct stype *t;
    json_t *copy;
    size_t start;
    uint32_t nodes0, ignored0;
    vg_putf(err, cap, "%s", "");
    if (!set || !type || !*type || !schema) {
        vg_putf(err, cap, "missing type name or schema");
        return VG_EINVAL;
    }
    if (type_find(set, type)) {
        vg_putf(err, cap, "type '%s' already has a schema", type);
        return VG_EEXIST;
    }
    copy = json_deep_copy(schema);
    if (!copy) {
        vg_putf(err, cap, "cannot copy the schema");
        return VG_EINVAL;
    }
    doc = doc_add(set, NULL, copy);
    start = set->nnodes;
    nodes0 = set->st.nodes;
    ignored0 = set->st.ignored;
    memset(&cc, 0, sizeof(cc));
    cc.set = set;
    cc.err = err;
    cc.cap = cap;
    cc.doc = doc;
    root = compile(&cc, copy, 0);
    if (root && !cc.rc)
        resolve_pending(&cc);
    if (!cc.rc && has_cycle(set, start)) {
        cc.doc = doc;
        cc.where[0] = '\0';
        cfail(&cc, "$ref cycle: a schema applies itself to the same value (through $ref, allOf, "
                   "anyOf, oneOf, not or dependentSchemas)");
    }
    for (size_t i = 0; i < cc.npend; i++)
        free(cc.pend[i].where);
    free(cc.pend);
    if (cc.rc) {
        for (size_t i = start; i < set->nnodes; i++)
            node_free(set->nodes[i]);
        set->nnodes = start;
        memo_rebuild(set, set->nnodes);
        set->st.nodes = nodes0;
        set->st.ignored = ignored0;
        doc_unlink(set, doc);
        return cc.rc;
    }
    t = vg_calloc(1, sizeof(*t));
    t->name = vg_strdup(type);
    t->hash = hash_str(type);
    t->root = root;
    type_build(set, t);
    type_insert(set, t);
    return 0;
}

int schema_compile_json(const json_t *schema, const char *type, const char *shared_dir,
                        struct schema_set **out, char *err, size_t cap)
{
    struct schema_set *set;
    int rc;
    schema_set_new(shared_dir, &set);
    rc = schema_set_add(set, type && *type ? type : "schema", schema, err, cap);
    if (rc) {
        schema_set_free(set);
        return rc;
    }
    *out = set;
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int schema_set_load(const char *dir, struct schema_set **out, char *err, size_t cap)
{
    DIR *d;
    struct dirent *de;
    char **names = NULL, path[4096], e[512];
    size_t n = 0, capn = 0;
    struct schema_set *set;
    vg_putf(err, cap, "%s", "");
    d = opendir(dir);
    if (!d) {
        vg_putf(err, cap, "cannot open '%s'", dir);
        return VG_ENOENT;
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || de->d_name[0] == '_' || strlen(de->d_name) > 128)
            continue;
        if (n == capn) {
            capn = capn ? capn * 2 : 64;
            names = vg_realloc(names, capn * sizeof(*names));
        }
        names[n++] = vg_strdup(de->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), name_cmp);
    snprintf(path, sizeof(path), "%s/_shared/schemas", dir);
    schema_set_new(path, &set);
    for (size_t i = 0; i < n; i++) {
        struct stat sb;
        json_t *j;
        int rc;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s/schema.json", dir, names[i]) >=
                sizeof(path) ||
            stat(path, &sb) != 0)
            continue; /* not a type folder */
        rc = load_file(path, &j, e, sizeof(e));
        if (rc == 0) {
            rc = schema_set_add(set, names[i], j, e, sizeof(e));
            json_decref(j);
        }
        if (rc)
            catf(err, cap, "%s%s: %s", err && *err ? "; " : "", names[i], e);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    *out = set;
    return 0;
}

size_t schema_set_count(const struct schema_set *set)
{
    return set ? set->ntypes : 0;
}

void schema_set_stats(const struct schema_set *set, struct schema_stats *st)
{
    if (set)
        *st = set->st;
    else
        memset(st, 0, sizeof(*st));
}

int schema_has_type(const struct schema_set *set, const char *type)
{
    return type_find(set, type) != NULL;
}

size_t schema_type_attrs(const struct schema_set *set, const char *type, const char **names,
                         size_t cap)
{
    const struct stype *t = type_find(set, type);
    size_t n = 0;
    if (!t)
        return 0;
    for (uint32_t j = 0; j <= t->mask; j++) {
        if (!t->tab[j])
            continue;
        if (n < cap)
            names[n] = t->tab[j]->attr;
        n++;
    }
    return n;
}

int schema_validate_entity(const struct schema_set *set, const char *type, const json_t *kv,
                           char *why, size_t cap)
{
    const struct stype *t = type_find(set, type);
    struct vctx c;
    int r;
    vg_putf(why, cap, "%s", "");
    if (!t)
        return VG_ENOENT;
    if (!kv) {
        vg_putf(why, cap, "no value");
        return VG_EINVAL;
    }
    if (too_deep(kv, SCHEMA_MAX_DEPTH)) {
        vg_putf(why, cap, "value nested deeper than %d levels", SCHEMA_MAX_DEPTH);
        return VG_EINVAL;
    }
    memset(&c, 0, sizeof(c));
    r = vnode(&c, t->root, kv, 0, why, cap);
    return r || c.dead ? VG_EINVAL : 0;
}

/* The value of one point as JSON (allocates): the slow path. */
static json_t *point_json(enum vg_vtype vt, const union vg_val *v)
{
    switch (vt) {
    case VT_F64:
        return json_real(v->f); /* NULL for NaN/Inf */
    case VT_I64:
        return json_integer((json_int_t)v->i);
    case VT_BOOL:
        return json_boolean(v->i != 0);
    case VT_STR:
        return json_stringn_nocheck(v->s.p ? v->s.p : "", v->s.p ? v->s.len : 0);
    case VT_GEO: {
        json_t *lon = json_real(v->geo.lon), *lat = json_real(v->geo.lat);
        if (!lon || !lat) {
            json_decref(lon);
            json_decref(lat);
            return NULL;
        }
        return json_pack("{s:s, s:[o,o]}", "type", "Point", "coordinates", lon, lat);
    }
    default:
        return json_null();
    }
}

static int slow_value(const struct stype *t, struct snode *const *nodes, uint32_t n,
                      const char *attr, enum vg_vtype vt, const union vg_val *val, char *why,
                      size_t cap)
{
    char v[128], reason[320];
    json_t *j;
    struct vctx c;
    int r = 0;
    schema_fmt_value(vt, val, v, sizeof(v));
    j = point_json(vt, val);
    if (!j) {
        vg_putf(why, cap, "%s = %s is not a finite number (%s schema)", attr, v, t->name);
        return VG_EINVAL;
    }
    memset(&c, 0, sizeof(c));
    for (uint32_t i = 0; i < n && !r; i++)
        r = vnode(&c, nodes[i], j, 0, reason, sizeof(reason));
    json_decref(j);
    if (!r && !c.dead)
        return 0;
    vg_putf(why, cap, "%s = %s is invalid: %s (%s schema)", attr, v, reason, t->name);
    return VG_EINVAL;
}

int schema_validate_value(const struct schema_set *set, const char *type, const char *attr,
                          enum vg_vtype vt, const union vg_val *val, char *why, size_t cap)
{
    const struct stype *t = type_find(set, type);
    const struct acheck *a;
    struct scal x;
    char prob[320];
    int r;
    if (why && cap)
        why[0] = '\0';
    if (!t)
        return VG_ENOENT;
    a = attr ? attr_find(t, attr) : NULL;
    if (!a) {
        struct nlist l = {0};
        if (!t->open || !attr)
            return 0;
        collect_attr(t, attr, strlen(attr), &l);
        r = l.n ? slow_value(t, l.v, l.n, attr, vt, val, why, cap) : 0;
        free(l.v);
        return r;
    }
    if (vt == VT_GEO || !a->flat)
        return slow_value(t, a->nodes, a->nnodes, attr, vt, val, why, cap);
    point_scal(vt, val, &x);
    r = fc_scal(&a->base, &x, 1, prob, sizeof(prob));
    if (!r && a->nalt) {
        char tmp[320], v[96], tn[96];
        int hits = 0, bestr = 0, all_type = 1;
        uint16_t tu = 0;
        for (uint32_t k = 0; k < a->nalt; k++) {
            int rk = fc_scal(&a->alts[k], &x, 1, tmp, sizeof(tmp));
            if (!rk) {
                hits++;
                if (!a->one)
                    break;
                continue;
            }
            if (rk != 1 || a->alts[k].types == TB_ANY)
                all_type = 0;
            tu |= a->alts[k].types;
            if (!bestr || (rk == 2 && bestr == 1)) {
                memcpy(prob, tmp, sizeof(prob));
                bestr = rk;
            }
        }
        if (a->one ? hits != 1 : hits == 0) {
            fmt_scal(&x, v, sizeof(v));
            r = 2;
            if (hits > 1) {
                vg_putf(prob, sizeof(prob), "%s matches %d alternatives of oneOf, exactly one is "
                        "required", v, hits);
            } else if (all_type) {
                type_names(tu, tn, sizeof(tn));
                vg_putf(prob, sizeof(prob), "%s is not of type %s", v, tn);
            } else {
                memcpy(tmp, prob, sizeof(tmp));
                vg_putf(prob, sizeof(prob), "%s (no alternative of %s matches)", tmp,
                        a->one ? "oneOf" : "anyOf");
            }
        }
    }
    if (!r)
        return 0;
    vg_putf(why, cap, "%s = %s (%s schema)", attr, prob, t->name);
    return VG_EINVAL;
}
