/*
** ngsild/qlang.c: the NGSI-LD query language (q, ETSI GS CIM 009 cl. 4.9) and scope queries
** (scopeQ, cl. 4.19): recursive-descent parsers to immutable ASTs, and evaluators over an
** entity in the stored form of ngsild/entity.h.
** Owns: every AST node, string and compiled regex_t of a parsed query (q_free / scopeq_free).
** Thread: parsing is reentrant; matching only reads the AST (regexec on a REG_NOSUB pattern is
** thread-safe), so one AST may be matched from many threads.
**
** Grammar accepted (q):
**   Query   = Or
**   Or      = And *("|" And)            ';' (AND) binds tighter than '|' (OR)
**   And     = Primary *(";" Primary)
**   Primary = "(" Or ")" / Term          nesting depth <= 32, terms <= 256
**   Term    = Path [ Op Value ]          no operator: existence test
**   Path    = Name *("." Name) *("[" Key *("." Key) "]")
**   Op      = "==" / "!=" / ">" / ">=" / "<" / "<=" / "~=" / "!~="
**   Value   = One / One 1*("," One) / One ".." One      lists and ranges with == and != only
**   One     = JSON number / "quoted" (JSON escapes; unknown \x kept as the two bytes) /
**             true / false / bare token (DateTime, Date, Time, URI, any other word)
** Spaces and tabs are tolerated around operators, separators and parentheses; a bare token
** ends at a space, ';', '|', ',', '(', ')', '"' or "..", so a value with spaces must be quoted.
** Quoted strings are kept exactly. A regex after ~= / !~= is a quoted string, or a bare run
** that ends at ';', '|' or ')' outside its own parentheses and bracket expressions (trailing
** spaces dropped); it is a POSIX ERE compiled once at parse time (<= 1,024 bytes; no
** back-references, adjacent repetitions or empty groups; copying repetitions nested <= 2 deep
** and glibc's expanded tree kept under 2,048 nodes per regex, 8,192 per query: see re_check).
** Names hold any byte except . [ ] { } ( ) ; | = ! < > ~ " , and space/control (so
** "https://x/y" is a name, but an IRI with a '.' cannot be written unexpanded).
** Path segments after the first named observedAt, unitCode, datasetId, createdAt, modifiedAt,
** deletedAt, objectType or lang address that member of the instance and must be last; other
** segments are sub-attributes (instance "subs", expanded with the callback). [keys] address
** members of the compared value (not expanded; an array value is searched element-wise).
** The linked-entity form attr{Type:path} is REJECTED with "not supported" (a clear 400 beats
** silently matching nothing). Limits: <= 16 path segments, <= 16 keys, names <= 1,024 bytes,
** <= 256 list items; every error is VG_EINVAL with "q: ... at offset N" (byte offset in q).
**
** Evaluation choices (documented contract):
** - The compared value of an instance: Property/GeoProperty "value", Relationship "object",
**   LanguageProperty every string of "languageMap", ListProperty every element of "valueList",
**   VocabProperty "vocab", JsonProperty "json", ListRelationship every objectList[*].object;
**   unknown types use "value". {"@value": x} compares as x. Arrays: any member may match (also
**   for !=). Multi-instance attributes: any instance may match.
** - A comparison needs compatible kinds: number with number (exact for integers), string with
**   string, bool with bool. Incompatible kinds never match, for == and for != alike; a missing
**   attribute never matches (!= too). Strings that both parse as full RFC 3339 DateTimes
**   (date, 'T', time, 'Z' or offset) compare as instants in ms, other strings bytewise (so
**   Dates and Times compare textually). Ordering operators with true/false are parse errors.
** - Relationship targets (object, objectList) only match == and != (list and range forms
**   included); other operators never match them. Regexes only match strings.
** - A path with a member (temperature.observedAt) compares that member; with [keys] the value
**   reached through them; a bare path tests that the attribute / sub-attribute / member / key
**   exists (whatever its value).
** - Lists: == any item equals; != no item equals and at least one item has a compatible kind.
**   Ranges (inclusive): == min <= v <= max, != v < min or v > max (kinds compatible with both).
** - Regexes (~= and !~=) only apply to strings of at most 4,096 bytes; longer strings match
**   neither, because glibc's regexec can take time quadratic in the subject length.
**
** scopeQ: Or = And *(("," / "|") And), And = Primary *(";" Primary), Primary = "(" Or ")" /
** Scope, Scope = "/#" / 1*("/" Level) where Level is a name, "+" (exactly one level, any
** position) or "#" (last only: this level and everything below, including none). An entity
** scope array matches a pattern if any of its scopes does; AND/OR combine pattern results.
** Levels hold any byte except / ; , | ( ) # + and space/control. Limits as for q (length,
** depth, 256 patterns), <= 64 levels; errors are VG_EINVAL with "scopeQ: ... at offset N".
*/
#include "ngsild/qlang.h"

#include "core/clock.h"

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define Q_MAX_DEPTH 32
#define Q_MAX_TERMS 256
#define Q_MAX_LIST 256
#define Q_MAX_SEGS 16
#define Q_MAX_KEYS 16
#define Q_MAX_NAME 1024
#define Q_MAX_RE 1024
#define Q_RE_NODES 2048.0      /* estimated regcomp tree size per regex, see re_check */
#define Q_RE_NODES_ALL 8192.0  /* ... and for all regexes of one query */
#define Q_RE_DUP_NEST 2
#define Q_RE_MAX_SUBJECT 4096 /* longer strings never match ~= nor !~= */
#define Q_MAX_JSON_DEPTH 64 /* recursion cap when walking stored values */
#define SQ_MAX_LEVELS 64

enum qop { QOP_EXISTS, QOP_EQ, QOP_NE, QOP_GT, QOP_GE, QOP_LT, QOP_LE, QOP_RE, QOP_NRE };
enum qform { QF_ONE, QF_LIST, QF_RANGE, QF_REGEX };
enum qkind { QK_NUM, QK_STR, QK_BOOL };

/* Instance members a path segment may name; index + 1 is qterm.member. */
static const char *const member_names[] = {"observedAt", "unitCode",   "datasetId", "createdAt",
                                           "modifiedAt", "deletedAt", "objectType", "lang"};

struct qval {
    enum qkind kind;
    double num;
    int is_int;  /* num is integral and fits in int64 */
    int64_t i;
    int b;
    char *str;   /* QK_STR: NUL-terminated, no embedded NUL */
    size_t slen;
    int is_dt;   /* QK_STR that parses as a full RFC 3339 DateTime */
    int64_t ms;
};

struct qterm {
    char *attr;          /* expanded attribute IRI */
    char **subs;         /* expanded sub-attribute IRIs, nsubs of them */
    size_t nsubs;
    int member;          /* 0, or 1 + index in member_names */
    char **keys;         /* compound value keys, nkeys of them */
    size_t nkeys;
    enum qop op;
    enum qform form;
    struct qval *vals;   /* ONE: 1, LIST: n, RANGE: 2 (min, max) */
    size_t nvals;
    regex_t re;
    int has_re;
};

enum qnode { QN_TERM, QN_AND, QN_OR };

struct qexpr {
    enum qnode kind;
    struct qexpr **kids; /* AND / OR */
    size_t nkids;
    struct qterm *t;     /* TERM */
};

struct scopeq {
    enum qnode kind;
    struct scopeq **kids;
    size_t nkids;
    char **levels;       /* TERM: "+" and "#" are wildcards */
    size_t nlevels;
};

/* ---- shared parser state and helpers ---- */

struct qp {
    const char *s;
    size_t len;
    size_t pos;
    q_expand_fn *expand;
    void *ctx;
    char *err;
    size_t cap;
    const char *what; /* "q" or "scopeQ" */
    int depth;
    int terms;
    double re_budget; /* regex nodes left for this query (re_check) */
};

__attribute__((format(printf, 3, 4))) static int qp_fail(struct qp *p, size_t off,
                                                           const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    if (!p->err || p->cap == 0)
        return VG_EINVAL;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(p->err, p->cap, "%s: %s at offset %zu", p->what, msg, off);
    return VG_EINVAL;
}

static void qp_ws(struct qp *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t'))
        p->pos++;
}

static int qp_peek(const struct qp *p)
{
    return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static int qp_at(const struct qp *p, const char *tok)
{
    size_t n = strlen(tok);
    return p->len - p->pos >= n && memcmp(p->s + p->pos, tok, n) == 0;
}

/* A printable description of the byte at pos for error messages. */
static const char *qp_near(const struct qp *p, char *buf, size_t cap)
{
    int c = qp_peek(p);
    if (c < 0)
        snprintf(buf, cap, "end of input");
    else if (c > 0x20 && c < 0x7f)
        snprintf(buf, cap, "'%c'", c);
    else
        snprintf(buf, cap, "byte 0x%02x", (unsigned)c);
    return buf;
}

/* Append x to the heap array arr of n elements (amortisation is pointless at these sizes). */
#define VEC_PUSH(arr, n, x)                                                                    \
    do {                                                                                       \
        (arr) = vg_realloc((arr), ((n) + 1) * sizeof(*(arr)));                                 \
        (arr)[(n)++] = (x);                                                                    \
    } while (0)

/* ---- RFC 3339 DateTime (strict: full date, 'T', full time, zone) ---- */

static int dig(const char *s, size_t n, size_t *i, int count, int *out)
{
    int v = 0;
    for (int k = 0; k < count; k++) {
        if (*i >= n || s[*i] < '0' || s[*i] > '9')
            return -1;
        v = v * 10 + (s[(*i)++] - '0');
    }
    *out = v;
    return 0;
}

static int dt_parse(const char *s, size_t n, int64_t *ms)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    size_t i = 0;
    int Y, M, D, h, m, sec, oh = 0, om = 0, sign = 0;
    int64_t frac = 0;

    if (dig(s, n, &i, 4, &Y) || i >= n || s[i++] != '-' || dig(s, n, &i, 2, &M) || i >= n ||
        s[i++] != '-' || dig(s, n, &i, 2, &D) || i >= n || (s[i] != 'T' && s[i] != 't'))
        return -1;
    i++;
    if (dig(s, n, &i, 2, &h) || i >= n || s[i++] != ':' || dig(s, n, &i, 2, &m) || i >= n ||
        s[i++] != ':' || dig(s, n, &i, 2, &sec))
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || m > 59 || sec > 60)
        return -1;
    if (M == 2 && D == 29 && !((Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0))
        return -1;
    if (i < n && s[i] == '.') {
        int nd = 0;
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (nd < 3)
                frac = frac * 10 + (s[i] - '0');
            nd++;
            i++;
        }
        if (nd == 0)
            return -1;
        for (; nd < 3; nd++)
            frac *= 10;
    }
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        sign = s[i++] == '-' ? -1 : 1;
        if (dig(s, n, &i, 2, &oh) || i >= n || s[i++] != ':' || dig(s, n, &i, 2, &om) ||
            oh > 23 || om > 59)
            return -1;
    } else {
        return -1;
    }
    if (i != n)
        return -1;
    int64_t days = clock_days_from_civil(Y, (unsigned)M, (unsigned)D);
    int64_t t = ((days * 24 + h) * 60 + m) * 60 + sec;
    t -= (int64_t)sign * (oh * 3600 + om * 60);
    *ms = t * 1000 + frac;
    return 0;
}

/* ---- q: values ---- */

static void qval_release(struct qval *v)
{
    free(v->str);
}

/* JSON number grammar over exactly s[0..n). */
static int is_json_number(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n)
        return 0;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return 0;
    }
    if (i < n && s[i] == '.') {
        size_t st = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == st)
            return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t st = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == st)
            return 0;
    }
    return i == n;
}

static void qval_set_str(struct qval *v, char *str, size_t n)
{
    v->kind = QK_STR;
    v->str = str;
    v->slen = n;
    v->is_dt = dt_parse(str, n, &v->ms) == 0;
}

/* Classify a bare token s[0..n) (no NUL inside: checked by the caller). */
static int qval_bare(struct qp *p, size_t off, const char *s, size_t n, struct qval *v)
{
    memset(v, 0, sizeof(*v));
    if (n == 4 && memcmp(s, "true", 4) == 0) {
        v->kind = QK_BOOL;
        v->b = 1;
        return 0;
    }
    if (n == 5 && memcmp(s, "false", 5) == 0) {
        v->kind = QK_BOOL;
        return 0;
    }
    if (is_json_number(s, n)) {
        char *tmp = vg_strndup(s, n);
        double d = strtod(tmp, NULL);
        free(tmp);
        if (!isfinite(d))
            return qp_fail(p, off, "number out of range");
        v->kind = QK_NUM;
        v->num = d;
        if (!memchr(s, '.', n) && !memchr(s, 'e', n) && !memchr(s, 'E', n) &&
            fabs(d) < 9.2e18) {
            /* Integers compare exactly with stored JSON integers (beyond 2^53 too). */
            tmp = vg_strndup(s, n);
            v->i = strtoll(tmp, NULL, 10);
            free(tmp);
            v->is_int = 1;
        } else if (d == floor(d) && fabs(d) < 9.2e18) {
            v->is_int = 1;
            v->i = (int64_t)d;
        }
        return 0;
    }
    qval_set_str(v, vg_strndup(s, n), n);
    return 0;
}

static int hex4(const char *s, size_t n, size_t i, unsigned *out)
{
    unsigned v = 0;
    if (n - i < 4)
        return -1;
    for (int k = 0; k < 4; k++) {
        char c = s[i + (size_t)k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Parse a "quoted" string at p->pos (which is '"'); *out is a new NUL-terminated string. */
static int parse_quoted(struct qp *p, char **out, size_t *outlen)
{
    size_t start = p->pos, o = 0;
    char *buf = vg_malloc(p->len - p->pos + 1);
    int rc = VG_OK;

    p->pos++;
    for (;;) {
        if (p->pos >= p->len) {
            rc = qp_fail(p, start, "unterminated string");
            goto out;
        }
        char c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c == '\0') {
            rc = qp_fail(p, p->pos, "NUL byte in string");
            goto out;
        }
        if (c != '\\' || p->pos + 1 >= p->len) {
            buf[o++] = c;
            p->pos++;
            continue;
        }
        char e = p->s[p->pos + 1];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e != '\0' && simple) {
            static const char repl[] = "\"\\/\b\f\n\r\t";
            buf[o++] = repl[simple - "\"\\/bfnrt"];
            p->pos += 2;
        } else if (e == 'u') {
            unsigned cp, lo;
            size_t at = p->pos;
            if (hex4(p->s, p->len, p->pos + 2, &cp)) {
                rc = qp_fail(p, at, "bad \\u escape");
                goto out;
            }
            p->pos += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (p->len - p->pos < 6 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
                    hex4(p->s, p->len, p->pos + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                    rc = qp_fail(p, at, "unpaired surrogate in \\u escape");
                    goto out;
                }
                p->pos += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                rc = qp_fail(p, at, "unpaired surrogate in \\u escape");
                goto out;
            }
            if (cp == 0) {
                rc = qp_fail(p, at, "NUL byte in string");
                goto out;
            }
            /* An escape is 6 or 12 input bytes and yields at most 4: the buffer suffices. */
            if (cp < 0x80) {
                buf[o++] = (char)cp;
            } else if (cp < 0x800) {
                buf[o++] = (char)(0xC0 | (cp >> 6));
                buf[o++] = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                buf[o++] = (char)(0xE0 | (cp >> 12));
                buf[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                buf[o++] = (char)(0x80 | (cp & 0x3F));
            } else {
                buf[o++] = (char)(0xF0 | (cp >> 18));
                buf[o++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                buf[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                buf[o++] = (char)(0x80 | (cp & 0x3F));
            }
        } else {
            /* Unknown escape (e.g. "\." in a regex): keep both bytes. */
            buf[o++] = c;
            p->pos++;
        }
    }
    buf[o] = '\0';
    *out = buf;
    *outlen = o;
    buf = NULL;
out:
    free(buf);
    return rc;
}

static int bare_stop(const struct qp *p, size_t i)
{
    char c = p->s[i];
    if (c == ' ' || c == '\t' || c == ';' || c == '|' || c == ',' || c == '(' || c == ')' ||
        c == '"')
        return 1;
    return c == '.' && i + 1 < p->len && p->s[i + 1] == '.';
}

/* One value: quoted string or bare token. */
static int parse_one(struct qp *p, const char *opname, struct qval *v)
{
    size_t start;
    int rc;

    qp_ws(p);
    start = p->pos;
    if (qp_peek(p) == '"') {
        char *str;
        size_t n;
        rc = parse_quoted(p, &str, &n);
        if (rc)
            return rc;
        memset(v, 0, sizeof(*v));
        qval_set_str(v, str, n);
        return VG_OK;
    }
    while (p->pos < p->len && !bare_stop(p, p->pos)) {
        if (p->s[p->pos] == '\0' || (unsigned char)p->s[p->pos] < 0x20)
            return qp_fail(p, p->pos, "control byte in value");
        p->pos++;
    }
    if (p->pos == start) {
        char near[32];
        return qp_fail(p, start, "expected a value after '%s', found %s", opname,
                       qp_near(p, near, sizeof(near)));
    }
    return qval_bare(p, start, p->s + start, p->pos - start, v);
}

/* ---- q: regular expressions ---- */

/* End of a bracket expression starting at re[i] == '[' (index after its ']', or n). */
static size_t bracket_end(const char *re, size_t n, size_t i)
{
    i++;
    if (i < n && re[i] == '^')
        i++;
    if (i < n && re[i] == ']')
        i++;
    while (i < n && re[i] != ']') {
        if (re[i] == '[' && i + 1 < n &&
            (re[i + 1] == ':' || re[i + 1] == '.' || re[i + 1] == '=')) {
            char cl = re[i + 1];
            i += 2;
            while (i + 1 < n && !(re[i] == cl && re[i + 1] == ']'))
                i++;
            i = i + 2 <= n ? i + 2 : n;
            continue;
        }
        i++;
    }
    return i < n ? i + 1 : n;
}

/* Parse "{m}", "{m,}" or "{m,n}" at re[i]; returns the index after '}' and the copy factor
** glibc's regcomp makes of the operand, or 0 if this is not an interval. */
static size_t interval(const char *re, size_t n, size_t i, double *factor)
{
    double a = 0, b;
    size_t j = i + 1, st = j;
    while (j < n && re[j] >= '0' && re[j] <= '9' && j - st < 6)
        a = a * 10 + (re[j++] - '0');
    if (j == st)
        return 0;
    b = a;
    if (j < n && re[j] == ',') {
        size_t st2 = ++j;
        b = 0;
        while (j < n && re[j] >= '0' && re[j] <= '9' && j - st2 < 6)
            b = b * 10 + (re[j++] - '0');
        if (j == st2)
            b = a + 1; /* {m,}: m copies and a starred one */
    }
    if (j >= n || re[j] != '}')
        return 0;
    *factor = VG_MAX(VG_MAX(a, b), 1.0);
    return j + 1;
}

/* glibc's regcomp copies the operand of '+' and of {m,n} (n copies), and its epsilon-closure
** work grows faster than linearly with the copies of nullable parts: "a*++++++++", "(()*){999}"
** or "((a?){99}){99}" take seconds to compile. So, before regcomp, refuse what POSIX leaves
** undefined anyway (adjacent repetition operators, empty groups and alternatives), more than
** Q_RE_DUP_NEST nested copying repetitions, and an estimated expanded tree (atoms, groups,
** operators, copies) above Q_RE_NODES per regex or Q_RE_NODES_ALL per query (*budget).
** Back-references (\1..\9, a glibc extension to EREs) are refused: their matching can take
** exponential time. Returns NULL, or the reason. */
static const char *re_check(const char *re, size_t n, double *budget)
{
    double total[Q_MAX_DEPTH + 2], last[Q_MAX_DEPTH + 2], f;
    int dmax[Q_MAX_DEPTH + 2], dlast[Q_MAX_DEPTH + 2];
    int d = 0, prev_rep = 0;
    size_t i = 0, j;

    total[0] = last[0] = 0;
    dmax[0] = dlast[0] = 0;
    while (i < n) {
        char c = re[i];
        int rep = 0;
        f = 0;
        if (c == '\\') {
            if (i + 1 < n && re[i + 1] >= '1' && re[i + 1] <= '9')
                return "back-references are not supported";
            i = i + 2 <= n ? i + 2 : n;
            last[d] = 1;
            dlast[d] = 0;
            total[d] += 1;
        } else if (c == '[') {
            i = bracket_end(re, n, i);
            last[d] = 1;
            dlast[d] = 0;
            total[d] += 1;
        } else if (c == '(') {
            if (d > Q_MAX_DEPTH)
                return "groups nested too deeply";
            if (i + 1 < n && (re[i + 1] == ')' || re[i + 1] == '|'))
                return "has an empty group or alternative";
            d++;
            total[d] = last[d] = 0;
            dmax[d] = dlast[d] = 0;
            i++;
        } else if (c == ')' && d > 0) {
            double g = total[d] + 1;
            int gd = VG_MAX(dmax[d], dlast[d]);
            d--;
            total[d] += g;
            last[d] = g;
            dlast[d] = gd;
            i++;
        } else if (c == '|') {
            if (i == 0 || i + 1 >= n || re[i + 1] == '|' || re[i + 1] == ')' || re[i - 1] == '(')
                return "has an empty group or alternative";
            dmax[d] = VG_MAX(dmax[d], dlast[d]);
            total[d] += 1;
            last[d] = 0;
            dlast[d] = 0;
            i++;
        } else if (c == '*' || c == '?') {
            rep = 1;
            f = 1;
            i++;
        } else if (c == '+') {
            rep = 1;
            f = 2;
            i++;
        } else if (c == '{' && (j = interval(re, n, i, &f)) != 0) {
            rep = 1;
            i = j;
        } else {
            last[d] = 1;
            dlast[d] = 0;
            total[d] += 1;
            i++;
        }
        if (rep) {
            if (prev_rep)
                return "has adjacent repetition operators";
            total[d] += last[d] * (f - 1) + 1;
            last[d] = last[d] * f + 1;
            if (f > 1 && ++dlast[d] > Q_RE_DUP_NEST)
                return "nests repetitions too deeply";
        }
        prev_rep = rep;
        if (total[d] > Q_RE_NODES || total[d] > *budget)
            return "is too complex (repetitions expand beyond the size limit)";
    }
    while (d > 0) {
        total[d - 1] += total[d];
        d--;
    }
    *budget -= total[0];
    return NULL;
}

/* Scan a bare regex: stop at ';', '|' or ')' outside the regex's own groups and brackets. */
static size_t scan_bare_regex(const struct qp *p)
{
    size_t i = p->pos;
    int depth = 0;

    while (i < p->len) {
        char c = p->s[i];
        if (c == '\\') {
            i += i + 1 < p->len ? 2 : 1;
            continue;
        }
        if (c == '[') {
            i = bracket_end(p->s, p->len, i);
            continue;
        }
        if (c == '(') {
            depth++;
        } else if (c == ')') {
            if (depth == 0)
                break;
            depth--;
        } else if ((c == ';' || c == '|') && depth == 0) {
            break;
        }
        i++;
    }
    return i;
}

static int parse_regex(struct qp *p, struct qterm *t)
{
    char *pat = NULL;
    size_t n = 0, start;
    int rc = VG_OK;

    qp_ws(p);
    start = p->pos;
    if (qp_peek(p) == '"') {
        rc = parse_quoted(p, &pat, &n);
        if (rc)
            goto out;
    } else {
        size_t end = scan_bare_regex(p);
        size_t e = end;
        while (e > start && (p->s[e - 1] == ' ' || p->s[e - 1] == '\t'))
            e--;
        if (memchr(p->s + start, '\0', e - start)) {
            rc = qp_fail(p, start, "NUL byte in regular expression");
            goto out;
        }
        pat = vg_strndup(p->s + start, e - start);
        n = e - start;
        p->pos = end;
    }
    if (n == 0) {
        rc = qp_fail(p, start, "expected a regular expression");
        goto out;
    }
    if (n > Q_MAX_RE) {
        rc = qp_fail(p, start, "regular expression longer than %d bytes", Q_MAX_RE);
        goto out;
    }
    const char *why = re_check(pat, n, &p->re_budget);
    if (why) {
        rc = qp_fail(p, start, "regular expression %s", why);
        goto out;
    }
    int rrc = regcomp(&t->re, pat, REG_EXTENDED | REG_NOSUB);
    if (rrc != 0) {
        char msg[128];
        regerror(rrc, &t->re, msg, sizeof(msg));
        rc = qp_fail(p, start, "invalid regular expression: %s", msg);
        goto out;
    }
    t->has_re = 1;
    t->form = QF_REGEX;
out:
    free(pat);
    return rc;
}

int q_regex_compile(regex_t *re, const char *pattern, char *err, size_t cap)
{
    size_t n = strlen(pattern);
    double budget = Q_RE_NODES;
    if (n == 0 || n > Q_MAX_RE) {
        snprintf(err, cap, "a regular expression has 1 to %d bytes", Q_MAX_RE);
        return VG_EINVAL;
    }
    const char *why = re_check(pattern, n, &budget);
    if (why) {
        snprintf(err, cap, "regular expression %s", why);
        return VG_EINVAL;
    }
    int rrc = regcomp(re, pattern, REG_EXTENDED | REG_NOSUB);
    if (rrc != 0) {
        char msg[128];
        regerror(rrc, re, msg, sizeof(msg));
        snprintf(err, cap, "invalid regular expression: %s", msg);
        return VG_EINVAL;
    }
    return 0;
}

/* ---- q: terms and expressions ---- */

static void qterm_free(struct qterm *t)
{
    if (!t)
        return;
    free(t->attr);
    for (size_t i = 0; i < t->nsubs; i++)
        free(t->subs[i]);
    free(t->subs);
    for (size_t i = 0; i < t->nkeys; i++)
        free(t->keys[i]);
    free(t->keys);
    for (size_t i = 0; i < t->nvals; i++)
        qval_release(&t->vals[i]);
    free(t->vals);
    if (t->has_re)
        regfree(&t->re);
    free(t);
}

void q_free(struct qexpr *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nkids; i++)
        q_free(e->kids[i]);
    free(e->kids);
    qterm_free(e->t);
    free(e);
}

static int name_char(int c)
{
    if (c < 0)
        return 0;
    if (c <= 0x20 || c == 0x7f)
        return 0;
    return strchr(".[]{}();|=!<>~\",", c) == NULL;
}

/* Read a name at p->pos into a new string (may be empty: the caller checks). */
static int read_name(struct qp *p, char **out, size_t *n)
{
    size_t start = p->pos;
    while (name_char(qp_peek(p)))
        p->pos++;
    *n = p->pos - start;
    if (*n > Q_MAX_NAME)
        return qp_fail(p, start, "name longer than %d bytes", Q_MAX_NAME);
    *out = vg_strndup(p->s + start, *n);
    return VG_OK;
}

static char *expand_name(struct qp *p, char *name)
{
    if (p->expand) {
        const char *x = p->expand(p->ctx, name);
        if (x) {
            char *c = vg_strdup(x);
            free(name);
            return c;
        }
    }
    return name;
}

static int parse_path(struct qp *p, struct qterm *t)
{
    char *name = NULL;
    size_t n, start = p->pos;
    char near[32];
    int rc;

    rc = read_name(p, &name, &n);
    if (rc)
        goto out;
    if (n == 0) {
        rc = qp_fail(p, start, "expected an attribute name, found %s",
                     qp_near(p, near, sizeof(near)));
        goto out;
    }
    t->attr = expand_name(p, name);
    name = NULL;
    while (qp_peek(p) == '.') {
        size_t at = ++p->pos;
        rc = read_name(p, &name, &n);
        if (rc)
            goto out;
        if (n == 0) {
            rc = qp_fail(p, at, "expected a sub-attribute name after '.', found %s",
                         qp_near(p, near, sizeof(near)));
            goto out;
        }
        if (t->member) {
            rc = qp_fail(p, at, "nothing may follow '%s' in a path",
                         member_names[t->member - 1]);
            goto out;
        }
        if (t->nsubs + 2 > Q_MAX_SEGS) {
            rc = qp_fail(p, at, "path longer than %d segments", Q_MAX_SEGS);
            goto out;
        }
        for (size_t k = 0; k < VG_ARRAY_LEN(member_names); k++) {
            if (strcmp(name, member_names[k]) == 0)
                t->member = (int)k + 1;
        }
        if (t->member) {
            free(name);
        } else {
            name = expand_name(p, name);
            VEC_PUSH(t->subs, t->nsubs, name);
        }
        name = NULL;
    }
    while (qp_peek(p) == '[') {
        if (t->member) {
            rc = qp_fail(p, p->pos, "'[' may not follow '%s'", member_names[t->member - 1]);
            goto out;
        }
        p->pos++;
        for (;;) {
            size_t ks = p->pos;
            while (p->pos < p->len && p->s[p->pos] != '.' && p->s[p->pos] != ']' &&
                   p->s[p->pos] != '[' && p->s[p->pos] != '\0')
                p->pos++;
            if (p->pos == ks) {
                rc = qp_fail(p, ks, "expected a key inside [...], found %s",
                             qp_near(p, near, sizeof(near)));
                goto out;
            }
            if (p->pos - ks > Q_MAX_NAME) {
                rc = qp_fail(p, ks, "key longer than %d bytes", Q_MAX_NAME);
                goto out;
            }
            if (t->nkeys >= Q_MAX_KEYS) {
                rc = qp_fail(p, ks, "more than %d keys", Q_MAX_KEYS);
                goto out;
            }
            VEC_PUSH(t->keys, t->nkeys, vg_strndup(p->s + ks, p->pos - ks));
            if (qp_peek(p) == '.') {
                p->pos++;
                continue;
            }
            if (qp_peek(p) == ']') {
                p->pos++;
                break;
            }
            rc = qp_fail(p, p->pos, "expected '.' or ']' in [...], found %s",
                         qp_near(p, near, sizeof(near)));
            goto out;
        }
    }
    if (qp_peek(p) == '{') {
        rc = qp_fail(p, p->pos, "linked-entity queries (attr{Type:path}) are not supported");
        goto out;
    }
out:
    free(name);
    return rc;
}

static const char *op_name(enum qop op)
{
    static const char *const names[] = {"", "==", "!=", ">", ">=", "<", "<=", "~=", "!~="};
    return names[op];
}

static int parse_op(struct qp *p, enum qop *op)
{
    static const struct {
        const char *tok;
        enum qop op;
    } ops[] = {{"!~=", QOP_NRE}, {"==", QOP_EQ}, {"!=", QOP_NE}, {">=", QOP_GE},
               {"<=", QOP_LE},   {"~=", QOP_RE}, {">", QOP_GT},  {"<", QOP_LT}};
    for (size_t i = 0; i < VG_ARRAY_LEN(ops); i++) {
        if (qp_at(p, ops[i].tok)) {
            p->pos += strlen(ops[i].tok);
            *op = ops[i].op;
            return 1;
        }
    }
    return 0;
}

static int parse_values(struct qp *p, struct qterm *t)
{
    struct qval v;
    const char *on = op_name(t->op);
    int eqne = t->op == QOP_EQ || t->op == QOP_NE;
    size_t at;
    int rc;

    t->form = QF_ONE;
    at = p->pos;
    rc = parse_one(p, on, &v);
    if (rc)
        return rc;
    t->vals = vg_malloc(sizeof(*t->vals));
    t->vals[0] = v;
    t->nvals = 1;
    qp_ws(p);
    if (qp_at(p, "..")) {
        at = p->pos;
        if (!eqne)
            return qp_fail(p, at, "a range is only allowed with == and !=, not '%s'", on);
        p->pos += 2;
        rc = parse_one(p, on, &v);
        if (rc)
            return rc;
        t->vals = vg_realloc(t->vals, 2 * sizeof(*t->vals));
        t->vals[1] = v;
        t->nvals = 2;
        t->form = QF_RANGE;
        if (t->vals[0].kind == QK_BOOL || t->vals[1].kind == QK_BOOL)
            return qp_fail(p, at, "a range needs numbers, strings or dates, not true/false");
        if (t->vals[0].kind != t->vals[1].kind)
            return qp_fail(p, at, "range bounds must have the same type");
        qp_ws(p);
        if (qp_peek(p) == ',')
            return qp_fail(p, p->pos, "a range cannot be part of a list");
        return VG_OK;
    }
    while (qp_peek(p) == ',') {
        at = p->pos;
        if (!eqne)
            return qp_fail(p, at, "a list is only allowed with == and !=, not '%s'", on);
        if (t->nvals >= Q_MAX_LIST)
            return qp_fail(p, at, "list longer than %d items", Q_MAX_LIST);
        p->pos++;
        rc = parse_one(p, on, &v);
        if (rc)
            return rc;
        t->vals = vg_realloc(t->vals, (t->nvals + 1) * sizeof(*t->vals));
        t->vals[t->nvals++] = v;
        t->form = QF_LIST;
        qp_ws(p);
        if (qp_at(p, ".."))
            return qp_fail(p, p->pos, "a range cannot be part of a list");
    }
    if (!eqne && t->vals[0].kind == QK_BOOL)
        return qp_fail(p, at, "'%s' needs a number, string or date, not true/false", on);
    return VG_OK;
}

static int parse_term(struct qp *p, struct qexpr **out)
{
    struct qterm *t = vg_calloc(1, sizeof(*t));
    size_t start;
    char near[32];
    int rc;

    qp_ws(p);
    start = p->pos;
    if (++p->terms > Q_MAX_TERMS) {
        rc = qp_fail(p, start, "more than %d terms", Q_MAX_TERMS);
        goto out;
    }
    rc = parse_path(p, t);
    if (rc)
        goto out;
    size_t pend = p->pos;
    qp_ws(p);
    if (parse_op(p, &t->op)) {
        if (t->op == QOP_RE || t->op == QOP_NRE)
            rc = parse_regex(p, t);
        else
            rc = parse_values(p, t);
        if (rc)
            goto out;
        qp_ws(p);
    } else {
        t->op = QOP_EXISTS;
    }
    int c = qp_peek(p);
    if (c >= 0 && c != ';' && c != '|' && c != ')') {
        if (t->op == QOP_EXISTS) {
            int shown = (int)VG_MIN(pend - start, (size_t)64);
            rc = qp_fail(p, p->pos, "expected an operator after '%.*s', found %s", shown,
                         p->s + start, qp_near(p, near, sizeof(near)));
        } else {
            rc = qp_fail(p, p->pos, "expected ';', '|' or ')' after the value, found %s",
                         qp_near(p, near, sizeof(near)));
        }
        goto out;
    }
    struct qexpr *e = vg_calloc(1, sizeof(*e));
    e->kind = QN_TERM;
    e->t = t;
    t = NULL;
    *out = e;
out:
    qterm_free(t);
    return rc;
}

static int parse_or(struct qp *p, struct qexpr **out);

static int parse_primary(struct qp *p, struct qexpr **out)
{
    char near[32];
    int rc;

    qp_ws(p);
    if (qp_peek(p) != '(')
        return parse_term(p, out);
    size_t open = p->pos++;
    if (++p->depth > Q_MAX_DEPTH)
        return qp_fail(p, open, "parentheses nested deeper than %d", Q_MAX_DEPTH);
    rc = parse_or(p, out);
    if (rc)
        return rc;
    qp_ws(p);
    if (qp_peek(p) != ')') {
        rc = qp_fail(p, p->pos, "expected ')' to close the '(' at offset %zu, found %s", open,
                     qp_near(p, near, sizeof(near)));
        q_free(*out);
        *out = NULL;
        return rc;
    }
    p->pos++;
    p->depth--;
    return VG_OK;
}

/* Parse a chain of `sub` separated by `sep`; one operand is returned as is. */
static int parse_chain(struct qp *p, int (*sub)(struct qp *, struct qexpr **), char sep,
                       enum qnode kind, struct qexpr **out)
{
    struct qexpr *first = NULL, *node = NULL, *k = NULL;
    int rc = sub(p, &first);

    if (rc)
        goto out;
    for (;;) {
        qp_ws(p);
        if (qp_peek(p) != sep)
            break;
        p->pos++;
        rc = sub(p, &k);
        if (rc)
            goto out;
        if (!node) {
            node = vg_calloc(1, sizeof(*node));
            node->kind = kind;
            VEC_PUSH(node->kids, node->nkids, first);
            first = NULL;
        }
        VEC_PUSH(node->kids, node->nkids, k);
        k = NULL;
    }
    *out = node ? node : first;
    node = first = NULL;
out:
    q_free(first);
    q_free(node);
    return rc;
}

static int parse_and(struct qp *p, struct qexpr **out)
{
    return parse_chain(p, parse_primary, ';', QN_AND, out);
}

static int parse_or(struct qp *p, struct qexpr **out)
{
    return parse_chain(p, parse_and, '|', QN_OR, out);
}

int q_parse(const char *q, size_t len, q_expand_fn *expand, void *ctx, struct qexpr **out,
            char *err, size_t cap)
{
    struct qp p = {.s = q, .len = len, .expand = expand, .ctx = ctx, .err = err, .cap = cap,
                   .what = "q", .re_budget = Q_RE_NODES_ALL};
    struct qexpr *e = NULL;
    char near[32];
    int rc;

    if (err && cap)
        err[0] = '\0';
    if (len > Q_MAX_LEN)
        return qp_fail(&p, Q_MAX_LEN, "query longer than %d bytes", Q_MAX_LEN);
    qp_ws(&p);
    if (p.pos >= len)
        return qp_fail(&p, p.pos, "empty query");
    rc = parse_or(&p, &e);
    if (rc)
        return rc;
    qp_ws(&p);
    if (p.pos < len) {
        q_free(e);
        return qp_fail(&p, p.pos, "unexpected %s", qp_near(&p, near, sizeof(near)));
    }
    *out = e;
    return VG_OK;
}

/* ---- q: evaluation ---- */

/* Compare stored leaf v with query value q: 0 = incompatible kinds, else 1 and *c = sign. */
static int leaf_cmp(const json_t *v, const struct qval *q, int *c)
{
    switch (q->kind) {
    case QK_NUM:
        if (json_is_integer(v) && q->is_int) {
            json_int_t a = json_integer_value(v);
            *c = (a > q->i) - (a < q->i);
            return 1;
        }
        if (json_is_number(v)) {
            double a = json_number_value(v);
            *c = (a > q->num) - (a < q->num);
            return 1;
        }
        return 0;
    case QK_BOOL:
        if (!json_is_boolean(v))
            return 0;
        *c = (json_is_true(v) ? 1 : 0) != q->b;
        return 1;
    case QK_STR:
        if (!json_is_string(v))
            return 0;
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        int64_t ms;
        if (q->is_dt && dt_parse(s, n, &ms) == 0) {
            *c = (ms > q->ms) - (ms < q->ms);
            return 1;
        }
        int m = memcmp(s, q->str, VG_MIN(n, q->slen));
        *c = m ? (m > 0 ? 1 : -1) : (n > q->slen) - (n < q->slen);
        return 1;
    }
    return 0;
}

static int op_holds(enum qop op, int c)
{
    switch (op) {
    case QOP_EQ:
        return c == 0;
    case QOP_NE:
        return c != 0;
    case QOP_GT:
        return c > 0;
    case QOP_GE:
        return c >= 0;
    case QOP_LT:
        return c < 0;
    case QOP_LE:
        return c <= 0;
    default:
        return 0;
    }
}

/* Does one stored leaf value satisfy the term? Arrays: any member. */
static int value_match(const struct qterm *t, const json_t *v, int rel, int depth)
{
    int c, c2;

    if (depth > Q_MAX_JSON_DEPTH)
        return 0;
    if (t->op == QOP_EXISTS)
        return 1;
    if (json_is_array(v)) {
        size_t i;
        const json_t *m;
        json_array_foreach(v, i, m) {
            if (value_match(t, m, rel, depth + 1))
                return 1;
        }
        return 0;
    }
    if (json_is_object(v)) {
        const json_t *inner = json_object_get(v, "@value");
        return inner ? value_match(t, inner, rel, depth + 1) : 0;
    }
    if (rel && t->op != QOP_EQ && t->op != QOP_NE)
        return 0;
    switch (t->form) {
    case QF_REGEX:
        /* glibc's unanchored regexec can be quadratic in the subject ("(a|aa)*b"). */
        if (!json_is_string(v) || json_string_length(v) > Q_RE_MAX_SUBJECT)
            return 0;
        return (regexec(&t->re, json_string_value(v), 0, NULL, 0) == 0) == (t->op == QOP_RE);
    case QF_ONE:
        return leaf_cmp(v, &t->vals[0], &c) && op_holds(t->op, c);
    case QF_RANGE:
        if (!leaf_cmp(v, &t->vals[0], &c) || !leaf_cmp(v, &t->vals[1], &c2))
            return 0;
        return (c >= 0 && c2 <= 0) == (t->op == QOP_EQ);
    case QF_LIST: {
        int compat = 0;
        for (size_t i = 0; i < t->nvals; i++) {
            if (!leaf_cmp(v, &t->vals[i], &c))
                continue;
            compat = 1;
            if (c == 0)
                return t->op == QOP_EQ;
        }
        return t->op == QOP_NE && compat;
    }
    }
    return 0;
}

/* Apply the compound keys from index i, then compare. */
static int keys_match(const struct qterm *t, const json_t *v, size_t i, int rel, int depth)
{
    if (depth > Q_MAX_JSON_DEPTH)
        return 0;
    if (i == t->nkeys)
        return value_match(t, v, rel, depth);
    if (json_is_array(v)) {
        size_t k;
        const json_t *m;
        json_array_foreach(v, k, m) {
            if (keys_match(t, m, i, rel, depth + 1))
                return 1;
        }
        return 0;
    }
    const json_t *m = json_is_object(v) ? json_object_get(v, t->keys[i]) : NULL;
    return m ? keys_match(t, m, i + 1, rel, depth + 1) : 0;
}

/* The instance reached by the path (after sub-attributes): pick what to compare. */
static int leaf_instance_match(const struct qterm *t, const json_t *inst)
{
    const char *type = json_string_value(json_object_get(inst, "type"));
    const json_t *v, *m;
    size_t i;

    if (t->member) {
        v = json_object_get(inst, member_names[t->member - 1]);
        return v ? value_match(t, v, 0, 0) : 0;
    }
    if (t->op == QOP_EXISTS && t->nkeys == 0)
        return 1;
    if (!type)
        type = "";
    if (strcmp(type, "Relationship") == 0) {
        v = json_object_get(inst, "object");
        return v ? keys_match(t, v, 0, 1, 0) : 0;
    }
    if (strcmp(type, "ListRelationship") == 0) {
        json_array_foreach(json_object_get(inst, "objectList"), i, m) {
            v = json_object_get(m, "object");
            if (v && keys_match(t, v, 0, 1, 0))
                return 1;
        }
        return 0;
    }
    if (strcmp(type, "LanguageProperty") == 0) {
        v = json_object_get(inst, "languageMap");
        if (json_is_object(v)) {
            const char *lang;
            json_object_foreach((json_t *)v, lang, m) {
                if (keys_match(t, m, 0, 0, 0))
                    return 1;
            }
            return 0;
        }
        return v ? keys_match(t, v, 0, 0, 0) : 0;
    }
    if (strcmp(type, "ListProperty") == 0)
        v = json_object_get(inst, "valueList");
    else if (strcmp(type, "VocabProperty") == 0)
        v = json_object_get(inst, "vocab");
    else if (strcmp(type, "JsonProperty") == 0)
        v = json_object_get(inst, "json");
    else
        v = json_object_get(inst, "value");
    return v ? keys_match(t, v, 0, 0, 0) : 0;
}

/* Follow sub-attributes from index i; an attribute may be one instance or an array of them. */
static int instance_match(const struct qterm *t, const json_t *inst, size_t i)
{
    if (json_is_array(inst)) {
        size_t k;
        const json_t *m;
        json_array_foreach(inst, k, m) {
            if (json_is_object(m) && instance_match(t, m, i))
                return 1;
        }
        return 0;
    }
    if (!json_is_object(inst))
        return 0;
    if (i == t->nsubs)
        return leaf_instance_match(t, inst);
    const json_t *sub = json_object_get(json_object_get(inst, "subs"), t->subs[i]);
    return sub ? instance_match(t, sub, i + 1) : 0;
}

int q_match(const struct qexpr *e, const json_t *entity)
{
    switch (e->kind) {
    case QN_TERM: {
        const json_t *a = json_object_get(json_object_get(entity, "attrs"), e->t->attr);
        return a ? instance_match(e->t, a, 0) : 0;
    }
    case QN_AND:
        for (size_t i = 0; i < e->nkids; i++) {
            if (!q_match(e->kids[i], entity))
                return 0;
        }
        return 1;
    case QN_OR:
        for (size_t i = 0; i < e->nkids; i++) {
            if (q_match(e->kids[i], entity))
                return 1;
        }
        return 0;
    }
    return 0;
}

static void collect_attrs(const struct qexpr *e, const char **seen, size_t *n)
{
    if (e->kind == QN_TERM) {
        for (size_t i = 0; i < *n; i++) {
            if (strcmp(seen[i], e->t->attr) == 0)
                return;
        }
        if (ALWAYS(*n < Q_MAX_TERMS))
            seen[(*n)++] = e->t->attr;
        return;
    }
    for (size_t i = 0; i < e->nkids; i++)
        collect_attrs(e->kids[i], seen, n);
}

void q_attrs(const struct qexpr *e, void (*fn)(void *arg, const char *iri), void *arg)
{
    const char *seen[Q_MAX_TERMS];
    size_t n = 0;

    collect_attrs(e, seen, &n);
    for (size_t i = 0; i < n; i++)
        fn(arg, seen[i]);
}

/* ---- scopeQ ---- */

void scopeq_free(struct scopeq *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nkids; i++)
        scopeq_free(s->kids[i]);
    free(s->kids);
    for (size_t i = 0; i < s->nlevels; i++)
        free(s->levels[i]);
    free(s->levels);
    free(s);
}

static int scope_char(int c)
{
    if (c <= 0x20 || c == 0x7f)
        return 0;
    return strchr("/;,|()#+", c) == NULL;
}

static int sq_parse_or(struct qp *p, struct scopeq **out);

static int sq_parse_pattern(struct qp *p, struct scopeq **out)
{
    struct scopeq *s = vg_calloc(1, sizeof(*s));
    char near[32];
    int rc = VG_OK;

    s->kind = QN_TERM;
    if (++p->terms > Q_MAX_TERMS) {
        rc = qp_fail(p, p->pos, "more than %d scopes", Q_MAX_TERMS);
        goto out;
    }
    if (qp_peek(p) != '/') {
        rc = qp_fail(p, p->pos, "expected a scope starting with '/', found %s",
                     qp_near(p, near, sizeof(near)));
        goto out;
    }
    while (qp_peek(p) == '/') {
        size_t at = ++p->pos;
        if (s->nlevels && strcmp(s->levels[s->nlevels - 1], "#") == 0) {
            rc = qp_fail(p, at - 1, "'#' must be the last level of a scope");
            goto out;
        }
        if (s->nlevels >= SQ_MAX_LEVELS) {
            rc = qp_fail(p, at, "scope deeper than %d levels", SQ_MAX_LEVELS);
            goto out;
        }
        if (qp_peek(p) == '#' || qp_peek(p) == '+') {
            p->pos++;
        } else {
            while (scope_char(qp_peek(p)))
                p->pos++;
        }
        if (p->pos == at) {
            rc = qp_fail(p, at, "expected a scope level after '/', found %s",
                         qp_near(p, near, sizeof(near)));
            goto out;
        }
        if (p->pos - at > Q_MAX_NAME) {
            rc = qp_fail(p, at, "scope level longer than %d bytes", Q_MAX_NAME);
            goto out;
        }
        VEC_PUSH(s->levels, s->nlevels, vg_strndup(p->s + at, p->pos - at));
    }
    int c = qp_peek(p);
    if (c == '#' || c == '+') {
        rc = qp_fail(p, p->pos, "'%c' must be a whole scope level", c);
        goto out;
    }
    *out = s;
    s = NULL;
out:
    scopeq_free(s);
    return rc;
}

static int sq_parse_primary(struct qp *p, struct scopeq **out)
{
    char near[32];
    int rc;

    qp_ws(p);
    if (qp_peek(p) != '(')
        return sq_parse_pattern(p, out);
    size_t open = p->pos++;
    if (++p->depth > Q_MAX_DEPTH)
        return qp_fail(p, open, "parentheses nested deeper than %d", Q_MAX_DEPTH);
    rc = sq_parse_or(p, out);
    if (rc)
        return rc;
    qp_ws(p);
    if (qp_peek(p) != ')') {
        rc = qp_fail(p, p->pos, "expected ')' to close the '(' at offset %zu, found %s", open,
                     qp_near(p, near, sizeof(near)));
        scopeq_free(*out);
        *out = NULL;
        return rc;
    }
    p->pos++;
    p->depth--;
    return VG_OK;
}

static int sq_chain(struct qp *p, int (*sub)(struct qp *, struct scopeq **), const char *seps,
                    enum qnode kind, struct scopeq **out)
{
    struct scopeq *first = NULL, *node = NULL, *k = NULL;
    int rc = sub(p, &first);

    if (rc)
        goto out;
    for (;;) {
        qp_ws(p);
        int c = qp_peek(p);
        if (c <= 0 || !strchr(seps, c))
            break;
        p->pos++;
        rc = sub(p, &k);
        if (rc)
            goto out;
        if (!node) {
            node = vg_calloc(1, sizeof(*node));
            node->kind = kind;
            VEC_PUSH(node->kids, node->nkids, first);
            first = NULL;
        }
        VEC_PUSH(node->kids, node->nkids, k);
        k = NULL;
    }
    *out = node ? node : first;
    node = first = NULL;
out:
    scopeq_free(first);
    scopeq_free(node);
    return rc;
}

static int sq_parse_and(struct qp *p, struct scopeq **out)
{
    return sq_chain(p, sq_parse_primary, ";", QN_AND, out);
}

static int sq_parse_or(struct qp *p, struct scopeq **out)
{
    return sq_chain(p, sq_parse_and, ",|", QN_OR, out);
}

int scopeq_parse(const char *s, size_t len, struct scopeq **out, char *err, size_t cap)
{
    struct qp p = {.s = s, .len = len, .err = err, .cap = cap, .what = "scopeQ"};
    struct scopeq *e = NULL;
    char near[32];
    int rc;

    if (err && cap)
        err[0] = '\0';
    if (len > Q_MAX_LEN)
        return qp_fail(&p, Q_MAX_LEN, "scope query longer than %d bytes", Q_MAX_LEN);
    qp_ws(&p);
    if (p.pos >= len)
        return qp_fail(&p, p.pos, "empty scope query");
    rc = sq_parse_or(&p, &e);
    if (rc)
        return rc;
    qp_ws(&p);
    if (p.pos < len) {
        scopeq_free(e);
        return qp_fail(&p, p.pos, "unexpected %s", qp_near(&p, near, sizeof(near)));
    }
    *out = e;
    return VG_OK;
}

/* Does the scope string sc[0..n) match the pattern levels? */
static int scope_pattern_match(const struct scopeq *s, const char *sc, size_t n)
{
    size_t i = 0;

    if (n == 0 || sc[0] != '/')
        return 0;
    for (size_t l = 0; l < s->nlevels; l++) {
        const char *lv = s->levels[l];
        if (strcmp(lv, "#") == 0)
            return 1; /* this level and anything below, including nothing */
        if (i >= n || sc[i] != '/')
            return 0;
        size_t st = ++i;
        while (i < n && sc[i] != '/')
            i++;
        if (i == st)
            return 0;
        if (strcmp(lv, "+") == 0)
            continue;
        if (strlen(lv) != i - st || memcmp(lv, sc + st, i - st) != 0)
            return 0;
    }
    return i == n;
}

static int scopeq_match_one(const struct scopeq *s, const json_t *scope)
{
    if (json_is_string(scope))
        return scope_pattern_match(s, json_string_value(scope), json_string_length(scope));
    if (json_is_array(scope)) {
        size_t i;
        const json_t *m;
        json_array_foreach(scope, i, m) {
            if (json_is_string(m) &&
                scope_pattern_match(s, json_string_value(m), json_string_length(m)))
                return 1;
        }
    }
    return 0;
}

int scopeq_match(const struct scopeq *s, const json_t *scope)
{
    if (!scope)
        return 0;
    switch (s->kind) {
    case QN_TERM:
        return scopeq_match_one(s, scope);
    case QN_AND:
        for (size_t i = 0; i < s->nkids; i++) {
            if (!scopeq_match(s->kids[i], scope))
                return 0;
        }
        return 1;
    case QN_OR:
        for (size_t i = 0; i < s->nkids; i++) {
            if (scopeq_match(s->kids[i], scope))
                return 1;
        }
        return 0;
    }
    return 0;
}
