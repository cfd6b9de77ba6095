/*
** ingest/decode.c: payload decoders of the MQTT gateway (see decode.h, docs/decoders.md).
** Owns: struct decode_spec with its pre-parsed JSON pointers (RFC 6901); per decode_message
** call the parsed payload and a struct dctx (the fields of one record, the names made by
** flattening a decoded object, the line under construction).
** Borrows: the spec JSON during decode_spec_parse only; the caller's output buffer.
**
** A message is decoded in two passes over its records:
**   1. extract each record (id, time, attributes, location, gateway) and build its line with
**      every unit field into a scratch buffer: checks that the line stays within the parser's
**      limits (LP_MAX_LINE bytes, LP_SCRATCH bytes to unescape) and sums the sizes; nothing is
**      asked of unit_fn yet.
**   2. grow out once to that sum, extract each record again (a pure function of the payload:
**      same result) and write its line, asking unit_fn for each unit field.
** So a failing message neither appends anything nor consumes a unit, and pass 2 cannot fail.
**
** Names: LP_ESC_KEY / LP_ESC_MEASUREMENT put a backslash before a backslash, which lp_next
** reads back as two backslashes (in names only "\," "\=" "\ " are escapes). Types, ids and
** attribute names with a backslash are therefore rejected rather than silently changed.
** Thread: decode_message may run on several threads with the same spec (read only).
*/
#include "ingest/decode.h"

#include "core/clock.h"
#include "core/utf8.h"
#include "core/vg.h"
#include "ingest/lineproto.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PTR_MAX_LEN 1024       /* bytes of a JSON pointer in a spec */
#define PTR_MAX_TOKENS 64      /* reference tokens of a JSON pointer */
#define UNIT_MAX 16            /* bytes of a unit code */
#define TEMPLATE_MAX 512       /* bytes of an id template */
#define SEGMENT_MAX 1024       /* |topic_segment| */
#define NUMSTR_MAX 64          /* bytes of a numeric string value */
#define UNIT_SUFFIX "@unitCode"
#define UNIT_SUFFIX_LEN 9
#define TS_MIN (-62167219200000LL) /* 0000-01-01T00:00:00Z */
#define TS_MAX 253402300799999LL   /* 9999-12-31T23:59:59.999Z */

enum dec_kind { DK_JSON, DK_CHIRPSTACK, DK_TTS };
enum attr_type { AT_NUMBER, AT_INTEGER, AT_BOOLEAN, AT_STRING };
enum time_fmt { TF_ISO8601, TF_EPOCH_S, TF_EPOCH_MS };
enum loc_mode { LOC_NONE, LOC_LATLON, LOC_GEOJSON };

/* A JSON pointer, split into unescaped reference tokens. set == 0: not configured. */
struct jptr {
    int set;
    char *text;  /* as written (for messages) */
    char *store; /* the tokens, each NUL-terminated */
    char **tok;
    uint32_t n;
};

struct attr_spec {
    struct jptr ptr;
    char *name;
    enum attr_type type;
    char *unit; /* NULL: none */
    double scale;
    double divisor; /* scale 0.1, 0.01...: divide by 10, 100 (exact decimal results) */
    int has_scale, optional;
};

struct decode_spec {
    enum dec_kind kind;
    char *type;
    int id_segment_set;
    int id_segment;
    struct jptr id_ptr, id_alt;       /* id_alt: TTS default fallback */
    char *tmpl_pre, *tmpl_post;       /* id = pre + value + post */
    struct jptr time_ptr, time_alt;   /* time_ptr.set == 0: now_ms */
    enum time_fmt tfmt;
    int time_missing_ok;              /* default pointers: a missing time is now_ms */
    struct jptr records;
    struct attr_spec *attrs;          /* nattrs == 0: flatten the decoded object */
    uint32_t nattrs;
    enum loc_mode loc;
    struct jptr lat, lon, geo;
    int loc_optional;
    int gateway;
};

/* ---- small helpers --------------------------------------------------------------------------- */

/* NULL when s[0..n) can be a type, an attribute name or an entity id (at most max bytes);
** otherwise why not. */
static const char *name_problem(const char *s, size_t n, size_t max)
{
    if (n == 0)
        return "is empty";
    if (n > max)
        return "is too long";
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        if (b < 0x20 || b == 0x7f)
            return "contains a control character";
        if (b == '\\')
            return "contains a backslash (not representable in line protocol names)";
    }
    if (!utf8_valid((const unsigned char *)s, n))
        return "is not valid UTF-8";
    return NULL;
}

static const char *attr_name_problem(const char *s, size_t n, size_t max)
{
    const char *why = name_problem(s, n, max);
    if (!why && memchr(s, '@', n))
        why = "contains '@' (reserved for unit fields)";
    return why;
}

/* Shortest "%.Ng" form of a finite v that reads back exactly (15..17 digits). */
static int fmt_double(double v, char *out, size_t cap)
{
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, cap, "%.*g", prec, v);
        if (prec == 17 || strtod(out, NULL) == v)
            break;
    }
    return n;
}

/* s[0..n) in double quotes for an error message: at most 40 bytes (cut on a UTF-8 boundary,
** then "..."), control characters and quotes as '?'. */
static void quote(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = n > 40 ? 40 : n;
    while (k < n && k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
        k--;
    char tmp[48];
    for (size_t i = 0; i < k; i++)
        tmp[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '"') ? '?' : s[i];
    tmp[k] = '\0';
    snprintf(out, cap, "\"%s%s\"", tmp, k < n ? "..." : "");
}

/* A JSON value for an error message: "string \"abc\"", "number 1.5", "object", ... */
static void describe(const json_t *v, char *out, size_t cap)
{
    char tmp[64];
    if (!v) {
        snprintf(out, cap, "nothing");
    } else if (json_is_string(v)) {
        quote(json_string_value(v), json_string_length(v), tmp, sizeof(tmp));
        snprintf(out, cap, "string %s", tmp);
    } else if (json_is_integer(v)) {
        snprintf(out, cap, "number %lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        fmt_double(json_real_value(v), tmp, sizeof(tmp));
        snprintf(out, cap, "number %s", tmp);
    } else if (json_is_boolean(v)) {
        snprintf(out, cap, "boolean %s", json_is_true(v) ? "true" : "false");
    } else if (json_is_null(v)) {
        snprintf(out, cap, "null");
    } else if (json_is_object(v)) {
        snprintf(out, cap, "object");
    } else {
        snprintf(out, cap, "array");
    }
}

/* Strict decimal number in a string: [+-] (digits [. [digits]] | . digits) [(e|E) [+-] digits],
** blanks around it allowed. 0 and *out, -1 for bad syntax, -2 when out of range. */
static int parse_num_str(const char *s, size_t n, double *out)
{
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0 || n > NUMSTR_MAX)
        return -1;
    size_t i = 0, mant = 0;
    if (s[i] == '+' || s[i] == '-')
        i++;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, mant++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, mant++;
    }
    if (mant == 0)
        return -1;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t ed = 0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, ed++;
        if (ed == 0)
            return -1;
    }
    if (i != n)
        return -1;
    char tmp[NUMSTR_MAX + 1];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    double v = strtod(tmp, NULL);
    if (!isfinite(v))
        return -2;
    *out = v;
    return 0;
}

/* Strict integer in a string: [+-] digits, blanks around it allowed. 0, -1 syntax, -2 range. */
static int parse_int_str(const char *s, size_t n, int64_t *out)
{
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0 || n > NUMSTR_MAX)
        return -1;
    size_t i = 0;
    int neg = 0;
    if (s[i] == '+' || s[i] == '-')
        neg = s[i++] == '-';
    if (i == n)
        return -1;
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    int range = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (lim - d) / 10)
            range = 1;
        else
            v = v * 10 + d;
    }
    if (range)
        return -2;
    *out = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    return 0;
}

/* ---- JSON pointers (RFC 6901) -------------------------------------------------------------- */

static void jptr_release(struct jptr *p)
{
    free(p->text);
    free(p->store);
    free(p->tok);
    memset(p, 0, sizeof(*p));
}

/* Parse s into p. VG_EINVAL for a pointer that does not start with '/' (and is not ""), has a
** '~' not followed by 0 or 1, or is over the limits. */
static int jptr_parse(const char *s, struct jptr *p)
{
    size_t n = strlen(s);
    uint32_t nt = 0;
    if (n > PTR_MAX_LEN || (n && s[0] != '/'))
        return VG_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '/')
            nt++;
        else if (s[i] == '~' && (i + 1 >= n || (s[i + 1] != '0' && s[i + 1] != '1')))
            return VG_EINVAL;
    }
    if (nt > PTR_MAX_TOKENS)
        return VG_EINVAL;
    /* Each token "/xyz" unescapes to at most its own length including the NUL. */
    char *store = vg_malloc(n + 1);
    char **tok = vg_calloc(nt ? nt : 1, sizeof(*tok));
    size_t w = 0, i = 0;
    uint32_t k = 0;
    while (i < n) {
        i++; /* the '/' */
        tok[k++] = store + w;
        while (i < n && s[i] != '/') {
            if (s[i] == '~') {
                store[w++] = s[i + 1] == '0' ? '~' : '/';
                i += 2;
            } else {
                store[w++] = s[i++];
            }
        }
        store[w++] = '\0';
    }
    p->set = 1;
    p->text = vg_strdup(s);
    p->store = store;
    p->tok = tok;
    p->n = nt;
    return VG_OK;
}

/* An RFC 6901 array index: "0" or digits without a leading zero. */
static int array_index(const char *t, size_t *idx)
{
    size_t n = strlen(t), v = 0;
    if (n == 0 || n > 9 || (n > 1 && t[0] == '0'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i] < '0' || t[i] > '9')
            return 0;
        v = v * 10 + (size_t)(t[i] - '0');
    }
    *idx = v;
    return 1;
}

/* The value p points to in root, or NULL when it does not exist. */
static const json_t *jptr_get(const struct jptr *p, const json_t *root)
{
    const json_t *v = root;
    for (uint32_t i = 0; v && i < p->n; i++) {
        size_t idx;
        if (json_is_object(v))
            v = json_object_get(v, p->tok[i]);
        else if (json_is_array(v) && array_index(p->tok[i], &idx))
            v = json_array_get(v, idx);
        else
            v = NULL;
    }
    return v;
}

/* ---- the specification ----------------------------------------------------------------------- */

static int spec_fail(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int spec_fail(char *err, size_t cap, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return vg_errf(err, cap, VG_EINVAL, "decoder: %s", msg);
}

void decode_spec_free(struct decode_spec *s)
{
    if (!s)
        return;
    free(s->type);
    jptr_release(&s->id_ptr);
    jptr_release(&s->id_alt);
    free(s->tmpl_pre);
    free(s->tmpl_post);
    jptr_release(&s->time_ptr);
    jptr_release(&s->time_alt);
    jptr_release(&s->records);
    for (uint32_t i = 0; i < s->nattrs; i++) {
        jptr_release(&s->attrs[i].ptr);
        free(s->attrs[i].name);
        free(s->attrs[i].unit);
    }
    free(s->attrs);
    jptr_release(&s->lat);
    jptr_release(&s->lon);
    jptr_release(&s->geo);
    free(s);
}

const char *decode_spec_type(const struct decode_spec *s)
{
    return s->type;
}

/* Members of obj not in allowed[] are errors (typos would otherwise be ignored silently). */
static int only_members(const json_t *obj, const char *const *allowed, size_t n,
                        const char *where, char *err, size_t cap)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        size_t i = 0;
        while (i < n && strcmp(k, allowed[i]))
            i++;
        if (i == n)
            return spec_fail(err, cap, "%sunknown member \"%.60s\"", where, k);
    }
    return VG_OK;
}

/* Member key of o as a JSON pointer into *p (absent: p left unset unless required). */
static int ptr_member(const json_t *o, const char *key, struct jptr *p, int required,
                      const char *where, char *err, size_t cap)
{
    const json_t *v = json_object_get(o, key);
    if (!v) {
        if (required)
            return spec_fail(err, cap, "%s\"%s\" is required", where, key);
        return VG_OK;
    }
    if (!json_is_string(v))
        return spec_fail(err, cap, "%s\"%s\" must be a JSON pointer string", where, key);
    jptr_release(p);
    if (jptr_parse(json_string_value(v), p))
        return spec_fail(err, cap, "%s\"%s\" is not a JSON pointer (RFC 6901, \"/a/0/b\"): "
                         "\"%.80s\"", where, key, json_string_value(v));
    return VG_OK;
}

static int bool_member(const json_t *o, const char *key, int *out, const char *where,
                       char *err, size_t cap)
{
    const json_t *v = json_object_get(o, key);
    if (!v)
        return VG_OK;
    if (!json_is_boolean(v))
        return spec_fail(err, cap, "%s\"%s\" must be true or false", where, key);
    *out = json_is_true(v);
    return VG_OK;
}

static int parse_id(struct decode_spec *s, const json_t *v, char *err, size_t cap)
{
    static const char *const allowed[] = {"pointer", "topic_segment"};
    if (!json_is_object(v))
        return spec_fail(err, cap, "\"id\" must be {\"pointer\": \"/...\"} or "
                                   "{\"topic_segment\": N}");
    int rc = only_members(v, allowed, VG_ARRAY_LEN(allowed), "\"id\": ", err, cap);
    if (rc)
        return rc;
    const json_t *p = json_object_get(v, "pointer"), *seg = json_object_get(v, "topic_segment");
    if (!!p == !!seg)
        return spec_fail(err, cap, "\"id\" needs exactly one of \"pointer\" and "
                                   "\"topic_segment\"");
    if (seg) {
        if (!json_is_integer(seg) || json_integer_value(seg) < -SEGMENT_MAX ||
            json_integer_value(seg) >= SEGMENT_MAX)
            return spec_fail(err, cap, "\"id\": \"topic_segment\" must be an integer (0 = first "
                                       "topic level, -1 = last)");
        s->id_segment_set = 1;
        s->id_segment = (int)json_integer_value(seg);
        jptr_release(&s->id_ptr);
        jptr_release(&s->id_alt);
        return VG_OK;
    }
    jptr_release(&s->id_alt);
    return ptr_member(v, "pointer", &s->id_ptr, 1, "\"id\": ", err, cap);
}

static int parse_template(struct decode_spec *s, const json_t *v, char *err, size_t cap)
{
    if (!json_is_string(v))
        return spec_fail(err, cap, "\"id_template\" must be a string with one {}");
    const char *t = json_string_value(v);
    size_t n = json_string_length(v);
    const char *at = strstr(t, "{}");
    if (!at || strstr(at + 2, "{}"))
        return spec_fail(err, cap, "\"id_template\" must contain {} exactly once (where the id "
                                   "goes): \"%.80s\"", t);
    const char *why = n > 2 ? name_problem(t, n, TEMPLATE_MAX) : NULL;
    if (why)
        return spec_fail(err, cap, "\"id_template\" %s", why);
    free(s->tmpl_pre);
    free(s->tmpl_post);
    s->tmpl_pre = vg_strndup(t, (size_t)(at - t));
    s->tmpl_post = vg_strdup(at + 2);
    return VG_OK;
}

static int parse_time(struct decode_spec *s, const json_t *v, char *err, size_t cap)
{
    static const char *const allowed[] = {"pointer", "format"};
    if (!json_is_object(v))
        return spec_fail(err, cap, "\"time\" must be {\"pointer\": \"/...\", \"format\": "
                                   "\"iso8601\" | \"epoch_s\" | \"epoch_ms\"}");
    int rc = only_members(v, allowed, VG_ARRAY_LEN(allowed), "\"time\": ", err, cap);
    if (rc || (rc = ptr_member(v, "pointer", &s->time_ptr, 1, "\"time\": ", err, cap)))
        return rc;
    jptr_release(&s->time_alt);
    s->time_missing_ok = 0;
    const json_t *f = json_object_get(v, "format");
    const char *fs = f ? json_string_value(f) : "iso8601";
    if (fs && !strcmp(fs, "iso8601"))
        s->tfmt = TF_ISO8601;
    else if (fs && !strcmp(fs, "epoch_s"))
        s->tfmt = TF_EPOCH_S;
    else if (fs && !strcmp(fs, "epoch_ms"))
        s->tfmt = TF_EPOCH_MS;
    else
        return spec_fail(err, cap, "\"time\": \"format\" must be \"iso8601\", \"epoch_s\" or "
                                   "\"epoch_ms\"");
    return VG_OK;
}

static int parse_attr(struct attr_spec *a, const json_t *v, uint32_t i, char *err, size_t cap)
{
    static const char *const allowed[] = {"pointer", "name", "type", "unit", "scale",
                                          "optional"};
    char where[48];
    snprintf(where, sizeof(where), "\"attributes\"[%u]: ", i);
    if (!json_is_object(v))
        return spec_fail(err, cap, "%smust be an object {\"pointer\": \"/...\", ...}", where);
    int rc = only_members(v, allowed, VG_ARRAY_LEN(allowed), where, err, cap);
    if (rc || (rc = ptr_member(v, "pointer", &a->ptr, 1, where, err, cap)) ||
        (rc = bool_member(v, "optional", &a->optional, where, err, cap)))
        return rc;
    const json_t *nm = json_object_get(v, "name");
    const char *name;
    if (nm) {
        if (!json_is_string(nm))
            return spec_fail(err, cap, "%s\"name\" must be a string", where);
        name = json_string_value(nm);
    } else if (a->ptr.n > 0) {
        name = a->ptr.tok[a->ptr.n - 1];
    } else {
        return spec_fail(err, cap, "%s\"name\" is required when the pointer is \"\"", where);
    }
    const char *why = attr_name_problem(name, strlen(name), DECODE_MAX_NAME);
    if (why)
        return spec_fail(err, cap, "%sname \"%.80s\" %s", where, name, why);
    a->name = vg_strdup(name);
    const json_t *t = json_object_get(v, "type");
    const char *ts = t ? json_string_value(t) : "number";
    if (ts && !strcmp(ts, "number"))
        a->type = AT_NUMBER;
    else if (ts && !strcmp(ts, "integer"))
        a->type = AT_INTEGER;
    else if (ts && !strcmp(ts, "boolean"))
        a->type = AT_BOOLEAN;
    else if (ts && !strcmp(ts, "string"))
        a->type = AT_STRING;
    else
        return spec_fail(err, cap, "%s\"type\" must be \"number\", \"integer\", \"boolean\" or "
                                   "\"string\"", where);
    const json_t *u = json_object_get(v, "unit");
    if (u) {
        const char *us = json_string_value(u);
        size_t un = us ? strlen(us) : 0;
        int ok = us && un >= 1 && un <= UNIT_MAX;
        for (size_t k = 0; ok && k < un; k++)
            ok = (us[k] >= '0' && us[k] <= '9') || (us[k] >= 'A' && us[k] <= 'Z') ||
                 (us[k] >= 'a' && us[k] <= 'z');
        if (!ok)
            return spec_fail(err, cap, "%s\"unit\" must be a UN/CEFACT code (1..%d letters and "
                                       "digits, e.g. \"2N\", \"CEL\")", where, UNIT_MAX);
        if (strlen(a->name) + UNIT_SUFFIX_LEN > DECODE_MAX_NAME)
            return spec_fail(err, cap, "%sname \"%.80s\" is too long for a unit field "
                                       "(%d bytes at most)", where, a->name,
                             DECODE_MAX_NAME - UNIT_SUFFIX_LEN);
        a->unit = vg_strdup(us);
    }
    const json_t *sc = json_object_get(v, "scale");
    if (sc) {
        if (!json_is_number(sc) || !isfinite(json_number_value(sc)) ||
            json_number_value(sc) == 0)
            return spec_fail(err, cap, "%s\"scale\" must be a non-zero number", where);
        if (a->type != AT_NUMBER)
            return spec_fail(err, cap, "%s\"scale\" needs \"type\": \"number\" (a scaled value "
                                       "is a float)", where);
        a->scale = json_number_value(sc);
        a->has_scale = 1;
        double inv = 1.0 / a->scale, r = nearbyint(inv);
        if (fabs(a->scale) < 1 && fabs(r) >= 2 && fabs(r) < 1e15 && fabs(inv - r) <= 1e-9 * fabs(r))
            a->divisor = r;
    }
    return VG_OK;
}

static int parse_location(struct decode_spec *s, const json_t *v, char *err, size_t cap)
{
    static const char *const allowed[] = {"lat", "lon", "geojson", "optional"};
    if (!json_is_object(v))
        return spec_fail(err, cap, "\"location\" must be {\"lat\": \"/...\", \"lon\": \"/...\"} "
                                   "or {\"geojson\": \"/...\"}");
    int rc = only_members(v, allowed, VG_ARRAY_LEN(allowed), "\"location\": ", err, cap);
    if (rc || (rc = bool_member(v, "optional", &s->loc_optional, "\"location\": ", err, cap)))
        return rc;
    int has_lat = json_object_get(v, "lat") != NULL, has_lon = json_object_get(v, "lon") != NULL;
    int has_geo = json_object_get(v, "geojson") != NULL;
    if (has_geo && !has_lat && !has_lon) {
        s->loc = LOC_GEOJSON;
        return ptr_member(v, "geojson", &s->geo, 1, "\"location\": ", err, cap);
    }
    if (has_lat && has_lon && !has_geo) {
        s->loc = LOC_LATLON;
        if ((rc = ptr_member(v, "lat", &s->lat, 1, "\"location\": ", err, cap)) ||
            (rc = ptr_member(v, "lon", &s->lon, 1, "\"location\": ", err, cap)))
            return rc;
        return VG_OK;
    }
    return spec_fail(err, cap, "\"location\" needs \"lat\" and \"lon\", or \"geojson\"");
}

/* The names of a line are unique: attributes, lat/lon (location), rssi/snr (gateway). */
static int check_names(const struct decode_spec *s, char *err, size_t cap)
{
    uint32_t fields = 0;
    for (uint32_t i = 0; i < s->nattrs; i++) {
        const char *n = s->attrs[i].name;
        fields += 1 + (s->attrs[i].unit != NULL);
        for (uint32_t j = 0; j < i; j++)
            if (!strcmp(n, s->attrs[j].name))
                return spec_fail(err, cap, "\"attributes\"[%u]: name \"%.80s\" is used twice",
                                 i, n);
        if (s->loc != LOC_NONE && (!strcmp(n, "lat") || !strcmp(n, "lon")))
            return spec_fail(err, cap, "\"attributes\"[%u]: name \"%s\" is taken by "
                                       "\"location\"", i, n);
        if (s->gateway && (!strcmp(n, "rssi") || !strcmp(n, "snr")))
            return spec_fail(err, cap, "\"attributes\"[%u]: name \"%s\" is taken by "
                                       "\"gateway\"", i, n);
    }
    fields += (s->loc != LOC_NONE ? 2 : 0) + (s->gateway ? 2 : 0);
    if (fields > LP_MAX_FIELDS)
        return spec_fail(err, cap, "\"attributes\": %u fields per line (attributes, units, "
                                   "location, gateway) is over the %d of line protocol",
                         fields, LP_MAX_FIELDS);
    return VG_OK;
}

static int spec_body(struct decode_spec *s, const json_t *obj, char *err, size_t cap)
{
    static const char *const allowed[] = {"decoder", "type", "id", "id_template", "time",
                                          "records", "attributes", "location", "gateway"};
    int rc = only_members(obj, allowed, VG_ARRAY_LEN(allowed), "", err, cap);
    if (rc)
        return rc;
    const char *d = json_string_value(json_object_get(obj, "decoder"));
    if (!d)
        return spec_fail(err, cap, "\"decoder\" is required: \"json\", \"chirpstack\" or "
                                   "\"tts\"");
    if (!strcmp(d, "json"))
        s->kind = DK_JSON;
    else if (!strcmp(d, "chirpstack"))
        s->kind = DK_CHIRPSTACK;
    else if (!strcmp(d, "tts"))
        s->kind = DK_TTS;
    else
        return spec_fail(err, cap, "\"decoder\" must be \"json\", \"chirpstack\" or \"tts\", "
                                   "not \"%.40s\"", d);

    const json_t *t = json_object_get(obj, "type");
    if (!json_is_string(t))
        return spec_fail(err, cap, "\"type\" is required: the entity type (a string)");
    const char *ty = json_string_value(t);
    const char *why = name_problem(ty, json_string_length(t), DECODE_MAX_NAME);
    if (!why && ty[0] == '#')
        why = "starts with '#' (a comment in line protocol)";
    if (why)
        return spec_fail(err, cap, "\"type\" \"%.80s\" %s", ty, why);
    s->type = vg_strdup(ty);

    /* Defaults of the LoRaWAN decoders (replaced by "id" / "time" when given). */
    if (s->kind == DK_CHIRPSTACK) {
        jptr_parse("/deviceInfo/devEui", &s->id_ptr);
        jptr_parse("/time", &s->time_ptr);
        s->time_missing_ok = 1;
    } else if (s->kind == DK_TTS) {
        jptr_parse("/end_device_ids/dev_eui", &s->id_ptr);
        jptr_parse("/end_device_ids/device_id", &s->id_alt);
        jptr_parse("/received_at", &s->time_ptr);
        jptr_parse("/uplink_message/received_at", &s->time_alt);
        s->time_missing_ok = 1;
    }
    const json_t *v = json_object_get(obj, "id");
    if (v && (rc = parse_id(s, v, err, cap)))
        return rc;
    if (!v && s->kind == DK_JSON)
        return spec_fail(err, cap, "\"id\" is required for the json decoder: {\"pointer\": "
                                   "\"/...\"} or {\"topic_segment\": N}");
    v = json_object_get(obj, "id_template");
    if (v) {
        if ((rc = parse_template(s, v, err, cap)))
            return rc;
    } else {
        s->tmpl_pre = vg_malloc(strlen(s->type) + 14);
        snprintf(s->tmpl_pre, strlen(s->type) + 14, "urn:ngsi-ld:%s:", s->type);
        s->tmpl_post = vg_strdup("");
    }
    v = json_object_get(obj, "time");
    if (v && (rc = parse_time(s, v, err, cap)))
        return rc;
    if (json_object_get(obj, "records")) {
        if (s->kind != DK_JSON)
            return spec_fail(err, cap, "\"records\" is only for the json decoder");
        if ((rc = ptr_member(obj, "records", &s->records, 1, "", err, cap)))
            return rc;
    }
    v = json_object_get(obj, "location");
    if (v && (rc = parse_location(s, v, err, cap)))
        return rc;
    if ((rc = bool_member(obj, "gateway", &s->gateway, "", err, cap)))
        return rc;
    if (s->gateway && s->kind == DK_JSON)
        return spec_fail(err, cap, "\"gateway\" is only for the chirpstack and tts decoders");
    v = json_object_get(obj, "attributes");
    if (v) {
        if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > DECODE_MAX_ATTRS)
            return spec_fail(err, cap, "\"attributes\" must be an array of 1..%d attributes",
                             DECODE_MAX_ATTRS);
        s->attrs = vg_calloc(json_array_size(v), sizeof(*s->attrs));
        for (size_t i = 0; i < json_array_size(v); i++) {
            s->nattrs++; /* counted first: decode_spec_free releases a half-parsed one */
            if ((rc = parse_attr(&s->attrs[i], json_array_get(v, i), (uint32_t)i, err, cap)))
                return rc;
        }
    } else if (s->kind == DK_JSON) {
        return spec_fail(err, cap, "\"attributes\" is required for the json decoder");
    }
    return check_names(s, err, cap);
}

int decode_spec_parse(const json_t *obj, struct decode_spec **out, char *err, size_t cap)
{
    if (!json_is_object(obj))
        return spec_fail(err, cap, "a decoder specification must be a JSON object");
    struct decode_spec *s = vg_calloc(1, sizeof(*s));
    int rc = spec_body(s, obj, err, cap);
    if (rc) {
        decode_spec_free(s);
        return rc;
    }
    *out = s;
    return VG_OK;
}

/* ---- decoding ------------------------------------------------------------------------------ */

enum fkind { FK_F64, FK_I64, FK_BOOL, FK_STR };

struct fld {
    const char *name; /* owned by the spec, or in dctx.names; NUL-terminated */
    enum fkind k;
    double f;
    int64_t i;
    int b;
    const char *s; /* FK_STR: borrowed from the payload */
    size_t slen;
    const char *unit; /* owned by the spec; NULL: none */
};

struct dctx {
    const struct decode_spec *s;
    const char *topic;
    const char *id_tag;
    int64_t now_ms;
    char *err;
    size_t cap;
    char pfx[32]; /* "record N: " in front of messages about an array's records */
    char id[DECODE_MAX_ID + 1];
    size_t idlen;
    int64_t ts;
    struct fld f[LP_MAX_FIELDS];
    uint32_t nf;
    char names[LP_MAX_FIELDS][DECODE_MAX_NAME + 1]; /* names made by flattening */
    uint32_t nnames;
    struct buf line;   /* pass 1: the line being measured (bounded by the record's limits) */
    size_t scratch;    /* bytes lp_next unescapes into its scratch for the line written */
};

static int fail(struct dctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct dctx *c, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return vg_errf(c->err, c->cap, VG_EINVAL, "%s%s", c->pfx, msg);
}

static int type_fail(struct dctx *c, const char *what, const char *ptr, const char *expected,
                     const json_t *v)
{
    char d[80];
    describe(v, d, sizeof(d));
    return fail(c, "%s (%.100s): expected %s, got %s", what, ptr, expected, d);
}

/* Topic level idx (negative: from the end) as a span; 0 when there is none. */
static int topic_segment(const char *topic, int idx, const char **p, size_t *n)
{
    if (!topic)
        return 0;
    int count = 1;
    for (const char *q = topic; *q; q++)
        count += *q == '/';
    if (idx < 0)
        idx += count;
    if (idx < 0 || idx >= count)
        return 0;
    const char *q = topic;
    for (int i = 0; i < idx; i++)
        q = strchr(q, '/') + 1;
    const char *e = strchr(q, '/');
    *p = q;
    *n = e ? (size_t)(e - q) : strlen(q);
    return 1;
}

static int get_id(struct dctx *c, const json_t *rec)
{
    const struct decode_spec *s = c->s;
    const char *raw = NULL;
    size_t rlen = 0;
    char num[24];
    if (s->id_segment_set) {
        if (!topic_segment(c->topic, s->id_segment, &raw, &rlen))
            return fail(c, "id (topic_segment %d): topic \"%.100s\" has no such level",
                        s->id_segment, c->topic ? c->topic : "");
        if (rlen == 0)
            return fail(c, "id (topic_segment %d): empty topic level in \"%.100s\"",
                        s->id_segment, c->topic);
    } else {
        const struct jptr *p = &s->id_ptr;
        const json_t *v = jptr_get(p, rec);
        if (!v && s->id_alt.set) {
            p = &s->id_alt;
            v = jptr_get(p, rec);
        }
        if (!v)
            return fail(c, "id (%.100s): missing", s->id_ptr.text);
        if (json_is_string(v)) {
            raw = json_string_value(v);
            rlen = json_string_length(v);
        } else if (json_is_integer(v)) {
            rlen = (size_t)snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
            raw = num;
        } else {
            return type_fail(c, "id", p->text, "a string or an integer", v);
        }
        if (rlen == 0)
            return fail(c, "id (%.100s): empty", p->text);
    }
    size_t pre = strlen(s->tmpl_pre), post = strlen(s->tmpl_post);
    if (rlen > DECODE_MAX_ID || pre + rlen + post > DECODE_MAX_ID)
        return fail(c, "id is longer than %d bytes", DECODE_MAX_ID);
    memcpy(c->id, s->tmpl_pre, pre);
    memcpy(c->id + pre, raw, rlen);
    memcpy(c->id + pre + rlen, s->tmpl_post, post);
    c->idlen = pre + rlen + post;
    c->id[c->idlen] = '\0';
    const char *why = name_problem(c->id, c->idlen, DECODE_MAX_ID);
    if (why) {
        char q[64];
        quote(c->id, c->idlen, q, sizeof(q));
        return fail(c, "id %s %s", q, why);
    }
    return VG_OK;
}

/* A number, or a numeric string, as a double. 0, or -1 wrong type/syntax, -2 out of range. */
static int number_of(const json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return isfinite(*out) ? 0 : -2;
    }
    if (json_is_string(v))
        return parse_num_str(json_string_value(v), json_string_length(v), out);
    return -1;
}

static int get_time(struct dctx *c, const json_t *rec)
{
    const struct decode_spec *s = c->s;
    if (!s->time_ptr.set) {
        c->ts = c->now_ms;
        return VG_OK;
    }
    const struct jptr *p = &s->time_ptr;
    const json_t *v = jptr_get(p, rec);
    if ((!v || json_is_null(v)) && s->time_alt.set) {
        p = &s->time_alt;
        v = jptr_get(p, rec);
    }
    if (!v || json_is_null(v)) {
        if (s->time_missing_ok) {
            c->ts = c->now_ms;
            return VG_OK;
        }
        return fail(c, "time (%.100s): missing", s->time_ptr.text);
    }
    int64_t ms;
    if (s->tfmt == TF_ISO8601) {
        if (!json_is_string(v))
            return type_fail(c, "time", p->text, "an RFC 3339 date-time string", v);
        if (clock_parse_time(json_string_value(v), json_string_length(v), &ms)) {
            char q[64];
            quote(json_string_value(v), json_string_length(v), q, sizeof(q));
            return fail(c, "time (%.100s): %s is not an RFC 3339 date-time", p->text, q);
        }
    } else {
        const char *unit = s->tfmt == TF_EPOCH_S ? "seconds" : "milliseconds";
        double mul = s->tfmt == TF_EPOCH_S ? 1000.0 : 1.0, d;
        int64_t iv;
        if (json_is_integer(v) || (json_is_string(v) && !parse_int_str(json_string_value(v),
                                                                   json_string_length(v), &iv))) {
            if (json_is_integer(v))
                iv = json_integer_value(v);
            if (iv < TS_MIN / (int64_t)mul || iv > TS_MAX / (int64_t)mul)
                return fail(c, "time (%.100s): %lld epoch %s is out of range", p->text,
                            (long long)iv, unit);
            ms = iv * (int64_t)mul;
        } else {
            int rc = number_of(v, &d);
            if (rc == -1)
                return type_fail(c, "time", p->text, s->tfmt == TF_EPOCH_S ? "epoch seconds"
                                                                           : "epoch milliseconds",
                                 v);
            d *= mul;
            if (rc == -2 || !(d >= (double)TS_MIN && d <= (double)TS_MAX))
                return fail(c, "time (%.100s): epoch %s out of range", p->text, unit);
            ms = (int64_t)llround(d);
        }
    }
    if (ms < TS_MIN || ms > TS_MAX)
        return fail(c, "time (%.100s): out of range (years 0..9999)", p->text);
    c->ts = ms;
    return VG_OK;
}

static struct fld *add_field(struct dctx *c, const char *name)
{
    VG_ASSERT(c->nf < LP_MAX_FIELDS); /* bounded by check_names and the flattening limit */
    struct fld *f = &c->f[c->nf++];
    memset(f, 0, sizeof(*f));
    f->name = name;
    return f;
}


/* The value v of attribute a into f. */
static int attr_value(struct dctx *c, const struct attr_spec *a, const json_t *v, struct fld *f)
{
    char what[300];
    const char *ptr = a->ptr.text;
    int rc;
    snprintf(what, sizeof(what), "attribute %s", a->name);
    switch (a->type) {
    case AT_NUMBER:
        f->k = FK_F64;
        rc = number_of(v, &f->f);
        if (rc == -1)
            return type_fail(c, what, ptr, "a number", v);
        if (rc == 0 && a->has_scale)
            f->f = a->divisor != 0 ? f->f / a->divisor : f->f * a->scale;
        if (rc == -2 || !isfinite(f->f))
            return fail(c, "%s (%.100s): number out of range", what, ptr);
        return VG_OK;
    case AT_INTEGER:
        f->k = FK_I64;
        if (json_is_integer(v)) {
            f->i = json_integer_value(v);
            return VG_OK;
        }
        if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v))) {
            double d = json_real_value(v);
            if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
                return fail(c, "%s (%.100s): integer out of range", what, ptr);
            f->i = (int64_t)d;
            return VG_OK;
        }
        if (json_is_string(v)) {
            rc = parse_int_str(json_string_value(v), json_string_length(v), &f->i);
            if (rc == 0)
                return VG_OK;
            if (rc == -2)
                return fail(c, "%s (%.100s): integer out of range", what, ptr);
        }
        return type_fail(c, what, ptr, "an integer", v);
    case AT_BOOLEAN:
        if (!json_is_boolean(v))
            return type_fail(c, what, ptr, "a boolean", v);
        f->k = FK_BOOL;
        f->b = json_is_true(v);
        return VG_OK;
    case AT_STRING:
        if (!json_is_string(v))
            return type_fail(c, what, ptr, "a string", v);
        if (json_string_length(v) > DECODE_MAX_STRING)
            return fail(c, "%s (%.100s): string of %zu bytes is over the %d-byte limit", what,
                        ptr, json_string_length(v), DECODE_MAX_STRING);
        f->k = FK_STR;
        f->s = json_string_value(v);
        f->slen = json_string_length(v);
        return VG_OK;
    }
    VG_BUG("attribute type");
}

static int explicit_attrs(struct dctx *c, const json_t *obj, uint32_t *nattr)
{
    const struct decode_spec *s = c->s;
    for (uint32_t i = 0; i < s->nattrs; i++) {
        const struct attr_spec *a = &s->attrs[i];
        const json_t *v = jptr_get(&a->ptr, obj);
        if (!v || json_is_null(v)) {
            if (a->optional)
                continue;
            return fail(c, "attribute %s (%.100s): %s", a->name, a->ptr.text,
                        v ? "null (not optional)" : "missing (not optional)");
        }
        struct fld *f = add_field(c, a->name);
        f->unit = a->unit;
        int rc = attr_value(c, a, v, f);
        if (rc)
            return rc;
        (*nattr)++;
    }
    return VG_OK;
}

/* lat/lon with location, rssi/snr with gateway: written by those, skipped when flattening. */
static int reserved_name(const struct decode_spec *s, const char *n)
{
    return (s->loc != LOC_NONE && (!strcmp(n, "lat") || !strcmp(n, "lon"))) ||
           (s->gateway && (!strcmp(n, "rssi") || !strcmp(n, "snr")));
}

#define FLATTEN_DEPTH 16

/* Every scalar member of object o (a decoded payload) as an attribute: nested object keys
** joined with '_', arrays and nulls skipped, numbers as floats. At most max attributes. */
static int flatten(struct dctx *c, const json_t *o, const char *prefix, size_t plen, int depth,
                   uint32_t max)
{
    const char *k;
    json_t *v;
    char name[DECODE_MAX_NAME + 1], q[64];
    if (depth > FLATTEN_DEPTH)
        return fail(c, "decoded object is nested deeper than %d levels", FLATTEN_DEPTH);
    json_object_foreach((json_t *)o, k, v) {
        if (json_is_array(v) || json_is_null(v))
            continue;
        size_t kl = strlen(k), nl = plen ? plen + 1 + kl : kl;
        if (nl > DECODE_MAX_NAME) {
            quote(k, kl, q, sizeof(q));
            return fail(c, "decoded object: member %s makes an attribute name over %d bytes", q,
                        DECODE_MAX_NAME);
        }
        if (plen) {
            memcpy(name, prefix, plen);
            name[plen] = '_';
            memcpy(name + plen + 1, k, kl);
        } else {
            memcpy(name, k, kl);
        }
        name[nl] = '\0';
        if (json_is_object(v)) {
            int rc = flatten(c, v, name, nl, depth + 1, max);
            if (rc)
                return rc;
            continue;
        }
        const char *why = attr_name_problem(name, nl, DECODE_MAX_NAME);
        if (why) {
            quote(name, nl, q, sizeof(q));
            return fail(c, "decoded object: attribute name %s %s", q, why);
        }
        if (reserved_name(c->s, name))
            continue;
        for (uint32_t j = 0; j < c->nnames; j++) {
            if (!strcmp(c->names[j], name)) {
                quote(name, nl, q, sizeof(q));
                return fail(c, "decoded object: two members make the attribute name %s", q);
            }
        }
        if (c->nnames >= max)
            return fail(c, "decoded object has more than %u attributes", max);
        if (json_is_string(v) && json_string_length(v) > DECODE_MAX_STRING) {
            quote(name, nl, q, sizeof(q));
            return fail(c, "decoded object: string %s of %zu bytes is over the %d-byte limit", q,
                        json_string_length(v), DECODE_MAX_STRING);
        }
        memcpy(c->names[c->nnames], name, nl + 1);
        struct fld *f = add_field(c, c->names[c->nnames++]);
        if (json_is_number(v)) {
            f->k = FK_F64;
            f->f = json_number_value(v);
            if (!isfinite(f->f))
                return fail(c, "decoded object: %s is not a finite number", name);
        } else if (json_is_boolean(v)) {
            f->k = FK_BOOL;
            f->b = json_is_true(v);
        } else {
            f->k = FK_STR;
            f->s = json_string_value(v);
            f->slen = json_string_length(v);
        }
    }
    return VG_OK;
}

static int get_location(struct dctx *c, const json_t *rec, double *lat, double *lon, int *has)
{
    const struct decode_spec *s = c->s;
    const char *where;
    *has = 0;
    if (s->loc == LOC_LATLON) {
        const json_t *a = jptr_get(&s->lat, rec), *o = jptr_get(&s->lon, rec);
        int ma = !a || json_is_null(a), mo = !o || json_is_null(o);
        if (ma && mo && s->loc_optional)
            return VG_OK;
        if (ma || mo)
            return fail(c, "location (%.100s): missing", ma ? s->lat.text : s->lon.text);
        if (number_of(a, lat))
            return type_fail(c, "location latitude", s->lat.text, "a number", a);
        if (number_of(o, lon))
            return type_fail(c, "location longitude", s->lon.text, "a number", o);
        where = s->lat.text;
    } else {
        const json_t *g = jptr_get(&s->geo, rec);
        if (!g || json_is_null(g)) {
            if (s->loc_optional)
                return VG_OK;
            return fail(c, "location (%.100s): missing", s->geo.text);
        }
        const char *t = json_string_value(json_object_get(g, "type"));
        const json_t *co = json_object_get(g, "coordinates");
        const json_t *x = json_array_get(co, 0), *y = json_array_get(co, 1);
        if (!t || strcmp(t, "Point") || !json_is_number(x) || !json_is_number(y))
            return fail(c, "location (%.100s): expected a GeoJSON Point {\"type\": \"Point\", "
                           "\"coordinates\": [lon, lat]}", s->geo.text);
        *lon = json_number_value(x);
        *lat = json_number_value(y);
        where = s->geo.text;
    }
    if (!(*lat >= -90 && *lat <= 90) || !(*lon >= -180 && *lon <= 180)) {
        char a[32], o[32];
        fmt_double(*lat, a, sizeof(a));
        fmt_double(*lon, o, sizeof(o));
        return fail(c, "location (%.100s): latitude %s, longitude %s out of range", where, a, o);
    }
    *has = 1;
    return VG_OK;
}

/* rssi and snr of the gateway that heard the uplink best (highest rssi; entries without a
** numeric rssi are skipped, a missing snr is 0: both servers omit zero values). */
static void get_gateway(const struct dctx *c, const json_t *root, double *rssi, double *snr,
                        int *has)
{
    int tts = c->s->kind == DK_TTS;
    const json_t *arr = tts ? json_object_get(json_object_get(root, "uplink_message"),
                                              "rx_metadata")
                            : json_object_get(root, "rxInfo");
    size_t i;
    json_t *g;
    *has = 0;
    json_array_foreach((json_t *)arr, i, g) {
        const json_t *r = json_object_get(g, "rssi");
        if (!json_is_number(r) && tts)
            r = json_object_get(g, "channel_rssi");
        if (!json_is_number(r))
            continue;
        double rv = json_number_value(r);
        if (*has && !(rv > *rssi))
            continue;
        const json_t *sn = json_object_get(g, "snr");
        *rssi = rv;
        *snr = json_is_number(sn) ? json_number_value(sn) : 0;
        *has = 1;
    }
}

/* ChirpStack / TTS: is this an uplink with a decoded payload? Sets *obj to that payload. */
static int lorawan_object(struct dctx *c, const json_t *root, const json_t **obj)
{
    const char *p, *ev;
    size_t n, evn;
    if (c->s->kind == DK_CHIRPSTACK) {
        /* application/APP/device/EUI/event/TYPE */
        if (topic_segment(c->topic, -2, &p, &n) && n == 5 && !memcmp(p, "event", 5) &&
            topic_segment(c->topic, -1, &ev, &evn) && !(evn == 2 && !memcmp(ev, "up", 2)))
            return fail(c, "chirpstack event \"%.*s\" is not an uplink (only event/up carries "
                           "measurements)", (int)VG_MIN(evn, 40), ev);
        if (!json_is_object(root))
            return fail(c, "a ChirpStack event must be a JSON object");
        const json_t *o = json_object_get(root, "object");
        if (!json_is_object(o)) {
            if (!json_object_get(root, "fPort") && !json_object_get(root, "data") &&
                !json_object_get(root, "rxInfo") && !json_object_get(root, "fCnt"))
                return fail(c, "not a ChirpStack uplink event (no object, data, fPort or "
                               "rxInfo)");
            return fail(c, "no decoded object (object missing: does the device profile have a "
                           "codec?)");
        }
        *obj = o;
        return VG_OK;
    }
    /* v3/APP@TENANT/devices/DEVICE/up (also .../join, .../down/..., .../service/data) */
    if (topic_segment(c->topic, 0, &p, &n) && n == 2 && !memcmp(p, "v3", 2) &&
        topic_segment(c->topic, 2, &p, &n) && n == 7 && !memcmp(p, "devices", 7)) {
        const char *rest = c->topic;
        for (int i = 0; i < 4 && rest; i++) {
            rest = strchr(rest, '/');
            rest = rest ? rest + 1 : NULL;
        }
        if (rest && strcmp(rest, "up"))
            return fail(c, "The Things Stack message \"%.40s\" is not an uplink (only .../up "
                           "carries measurements)", rest);
    }
    if (!json_is_object(root))
        return fail(c, "a The Things Stack message must be a JSON object");
    const json_t *um = json_object_get(root, "uplink_message");
    if (!json_is_object(um))
        return fail(c, "not an uplink message (no uplink_message: a join, downlink or service "
                       "message?)");
    const json_t *dp = json_object_get(um, "decoded_payload");
    if (!json_is_object(dp))
        return fail(c, "no decoded payload (uplink_message.decoded_payload missing: does the "
                       "end device have a payload formatter?)");
    *obj = dp;
    return VG_OK;
}

/* One record into c->f: rec is what id/time/location pointers address, obj what attribute
** pointers address (the record itself for json, the decoded payload for LoRaWAN). */
static int extract(struct dctx *c, const json_t *rec, const json_t *obj)
{
    const struct decode_spec *s = c->s;
    double lat = 0, lon = 0, rssi = 0, snr = 0;
    int has_loc = 0, has_gw = 0, rc;
    uint32_t nattr = 0;
    c->nf = 0;
    c->nnames = 0;
    if ((rc = get_id(c, rec)) || (rc = get_time(c, rec)))
        return rc;
    if (s->loc != LOC_NONE && (rc = get_location(c, rec, &lat, &lon, &has_loc)))
        return rc;
    if (s->gateway)
        get_gateway(c, rec, &rssi, &snr, &has_gw);
    if (s->nattrs) {
        rc = explicit_attrs(c, obj, &nattr);
    } else {
        uint32_t max = LP_MAX_FIELDS - (s->loc != LOC_NONE ? 2 : 0) - (s->gateway ? 2 : 0);
        rc = json_is_object(obj) ? flatten(c, obj, "", 0, 0, max) : VG_OK;
        nattr = c->nf;
    }
    if (rc)
        return rc;
    if (nattr == 0)
        return fail(c, s->nattrs ? "no attribute present (every listed attribute is optional "
                                   "and missing)"
                                 : "decoded object has no number, boolean or string member");
    if (has_loc) {
        add_field(c, "lat")->f = lat;
        add_field(c, "lon")->f = lon;
    }
    if (has_gw) {
        add_field(c, "rssi")->f = rssi;
        add_field(c, "snr")->f = snr;
    }
    return VG_OK;
}

/* ---- writing line protocol ----------------------------------------------------------------- */

/* Append s[0..n) escaped with esc. When an escape was written, lp_next unescapes the token
** (s plus extra bytes of it written apart) into its scratch buffer: count those bytes. */
static void put_esc(struct dctx *c, struct buf *b, const char *s, size_t n, const char *esc,
                    size_t extra)
{
    size_t before = b->len;
    lp_escape(b, s, n, esc);
    if (b->len - before != n)
        c->scratch += n + extra;
}

/* A string field value: CR and LF (which would end the line) become spaces. */
static void put_str(struct dctx *c, struct buf *b, const char *s, size_t n)
{
    size_t before = b->len;
    lp_put_string(b, s, n);
    if (b->len - before != n)
        c->scratch += n;
}

/* The line of the record in c. ask == 0: every unit field (pass 1, measuring); else units
** as unit_fn says. */
static void write_line(struct dctx *c, struct buf *b, int ask, decode_unit_fn *fn, void *arg)
{
    const struct decode_spec *s = c->s;
    c->scratch = 0;
    put_esc(c, b, s->type, strlen(s->type), LP_ESC_MEASUREMENT, 0);
    buf_putc(b, ',');
    put_esc(c, b, c->id_tag, strlen(c->id_tag), LP_ESC_KEY, 0);
    buf_putc(b, '=');
    put_esc(c, b, c->id, c->idlen, LP_ESC_KEY, 0);
    for (uint32_t i = 0; i < c->nf; i++) {
        const struct fld *f = &c->f[i];
        size_t nl = strlen(f->name);
        buf_putc(b, i ? ',' : ' ');
        put_esc(c, b, f->name, nl, LP_ESC_KEY, 0);
        buf_putc(b, '=');
        switch (f->k) {
        case FK_F64:
            buf_json_double(b, f->f); /* finite: the extraction refuses NaN and infinities */
            break;
        case FK_I64:
            buf_printf(b, "%lldi", (long long)f->i);
            break;
        case FK_BOOL:
            buf_puts(b, f->b ? "true" : "false");
            break;
        case FK_STR:
            buf_putc(b, '"');
            put_str(c, b, f->s, f->slen);
            buf_putc(b, '"');
            break;
        }
        if (f->unit && (!ask || !fn || fn(arg, c->id, f->name, f->unit) > 0)) {
            buf_putc(b, ',');
            put_esc(c, b, f->name, nl, LP_ESC_KEY, UNIT_SUFFIX_LEN);
            buf_puts(b, UNIT_SUFFIX "=\"");
            buf_puts(b, f->unit);
            buf_putc(b, '"');
        }
    }
    buf_printf(b, " %lld\n", (long long)c->ts);
}

static void sanitize(char *err, size_t cap)
{
    for (size_t i = 0; err && i < cap && err[i]; i++)
        if ((unsigned char)err[i] < 0x20 || err[i] == 0x7f)
            err[i] = '?';
}

int decode_message(const struct decode_spec *s, const char *topic, const char *payload,
                   size_t len, const char *id_tag, int64_t now_ms, decode_unit_fn *unit_fn,
                   void *unit_arg, struct buf *out, char *err, size_t cap)
{
    struct dctx *c = NULL;
    json_t *root = NULL;
    json_error_t je;
    size_t start = out ? out->len : 0, nrec = 1, total = 0;
    const json_t *arr = NULL, *obj = NULL;
    int rc;

    if (err && cap)
        err[0] = '\0';
    if (!s || !out || (!payload && len)) {
        if (err && cap)
            snprintf(err, cap, "decoder: no specification, payload or output buffer");
        return VG_EINVAL;
    }
    if (len > DECODE_PAYLOAD_MAX) {
        if (err && cap)
            snprintf(err, cap, "payload of %zu bytes is over the %u-byte limit", len,
                     DECODE_PAYLOAD_MAX);
        return VG_ETOOBIG;
    }
    if (!id_tag || name_problem(id_tag, strlen(id_tag), DECODE_MAX_NAME)) {
        if (err && cap)
            snprintf(err, cap, "decoder: the id tag must be a non-empty name");
        return VG_EINVAL;
    }
    root = json_loadb(payload ? payload : "", len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        if (err && cap)
            snprintf(err, cap, "not JSON: %s (line %d, column %d)", je.text, je.line, je.column);
        sanitize(err, cap);
        return VG_EINVAL;
    }
    c = vg_malloc(sizeof(*c));
    c->s = s;
    c->topic = topic;
    c->id_tag = id_tag;
    c->now_ms = now_ms;
    c->err = err;
    c->cap = cap;
    c->pfx[0] = '\0';
    c->nf = c->nnames = 0;
    buf_init(&c->line, 0); /* bounded by a record's limits: 256 fields of <= 4 KiB strings */

    if (s->kind == DK_JSON) {
        if (s->records.set) {
            arr = jptr_get(&s->records, root);
            if (!arr) {
                rc = fail(c, "records (%.100s): missing", s->records.text);
                goto out;
            }
            if (!json_is_array(arr)) {
                rc = type_fail(c, "records", s->records.text, "an array", arr);
                goto out;
            }
        } else if (json_is_array(root)) {
            arr = root;
        }
        if (arr) {
            nrec = json_array_size(arr);
            if (nrec == 0) {
                rc = fail(c, "no records (empty array)");
                goto out;
            }
            if (nrec > DECODE_MAX_RECORDS) {
                rc = fail(c, "%zu records: at most %d per message", nrec, DECODE_MAX_RECORDS);
                goto out;
            }
        }
    } else if ((rc = lorawan_object(c, root, &obj))) {
        goto out;
    }

    /* Pass 1: extract and measure every record; nothing is written or asked yet. */
    for (size_t i = 0; i < nrec; i++) {
        const json_t *rec = arr ? json_array_get(arr, i) : root;
        if (arr)
            snprintf(c->pfx, sizeof(c->pfx), "record %zu: ", i);
        if ((rc = extract(c, rec, s->kind == DK_JSON ? rec : obj)))
            goto out;
        buf_reset(&c->line);
        write_line(c, &c->line, 0, NULL, NULL);
        if (c->line.len > LP_MAX_LINE) {
            rc = fail(c, "record too large for one line protocol line (%zu bytes, at most %u)",
                      c->line.len, LP_MAX_LINE);
            goto out;
        }
        if (c->scratch > LP_SCRATCH) {
            rc = fail(c, "record too large for one line protocol line (%zu escaped bytes, at "
                         "most %u)", c->scratch, LP_SCRATCH);
            goto out;
        }
        total += c->line.len;
    }
    c->pfx[0] = '\0';
    if (buf_reserve(out, total)) {
        if (err && cap)
            snprintf(err, cap, "output buffer full: %zu more bytes would pass its %zu-byte cap",
                     total, out->cap_max);
        rc = VG_ETOOBIG;
        goto out;
    }
    /* Pass 2: the same records again, written for real (cannot fail: room is reserved). */
    for (size_t i = 0; i < nrec; i++) {
        const json_t *rec = arr ? json_array_get(arr, i) : root;
        if (NEVER(extract(c, rec, s->kind == DK_JSON ? rec : obj))) {
            rc = VG_EINVAL;
            goto out;
        }
        write_line(c, out, 1, unit_fn, unit_arg);
    }
    rc = (int)nrec;
out:
    if (rc < 0) {
        out->len = start;
        if (out->p)
            out->p[start] = '\0';
        sanitize(err, cap);
    }
    json_decref(root);
    buf_release(&c->line);
    free(c);
    return rc;
}
