/*
** ingest/import.c: mapping-driven CSV imports (contract: ingest/import.h; mapping format:
** docs/imports.md).
** Owns: the parsed mapping (sections, templates, column names: one allocation each, freed by
** import_mapping_free) and, per import_run, the UTF-8 text, the column index, the line-protocol
** chunk being built, the set of (entity, attribute) whose unit was written, and the quarantine
** rows of the current chunk.
** Flow of import_run: pick the section by file name -> convert to UTF-8 (iconv) -> csv_next
** over the header rows (the first names the columns) -> per data row: id, time, values ->
** one line-protocol line (measurement = type, tag id, fields, ms timestamp) -> every
** IMPORT_CHUNK_LINES lines, ingest_lp (validation, catalogue, store, fsync) and the rows that
** failed go to meta_quarantine_add with the raw CSV row and the reason.
** Thread: see import.h.
*/
#include "ingest/import.h"

#include "core/buf.h"
#include "core/clock.h"
#include "core/strset.h"
#include "core/timefmt.h"
#include "core/utf8.h"
#include "core/vg.h"
#include "ingest/csv.h"

#include <errno.h>
#include <fnmatch.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define IMPORT_MAX_SECTIONS 64
#define IMPORT_MAX_ATTRS 128
#define IMPORT_MAX_SEGS 16
#define IMPORT_MAX_MISSING 16
#define IMPORT_MAX_NAMES 256
#define IMPORT_CHUNK_LINES 50000
#define IMPORT_PROGRESS_ROWS 100000
#define IMPORT_FIRST_ERRORS 5
#define IMPORT_NAME_MAX 256
#define IMPORT_UNITS_MAX 1000000 /* remembered (entity, attribute) unit writes per run */

enum imp_type { IT_NUMBER, IT_INTEGER, IT_STRING, IT_BOOLEAN };
enum loc_fmt { LOC_NONE, LOC_LATLON, LOC_LONLAT, LOC_GEOJSON, LOC_TWO_COLUMNS };

/* A text with {Column} references: literal and column segments alternate. */
struct tmpl {
    uint32_t nseg;
    struct {
        char *text; /* literal, or the column name */
        int is_col;
        int col;    /* resolved index, per run (see run_cols) */
    } seg[IMPORT_MAX_SEGS];
};

struct imp_attr {
    char *column;
    struct tmpl name;
    enum imp_type type;
    char *unit;
    double scale;
    char decimal; /* this column's decimal mark, or 0 for the section's */
};

struct imp_section {
    char *match;
    char *encoding;
    char sep;
    char decimal;
    uint32_t header_rows;
    char *missing[IMPORT_MAX_MISSING];
    uint32_t nmissing;
    char *type;
    struct tmpl id;
    /* time: columns joined by one space, or a fixed instant */
    char *time_cols[4];
    uint32_t ntime_cols;
    char *time_format;
    struct tf_zone zone;
    int later;
    int64_t fixed_ms;
    int has_fixed;
    /* geometry */
    enum loc_fmt loc;
    char *loc_col, *lat_col, *lon_col;
    struct imp_attr attrs[IMPORT_MAX_ATTRS];
    uint32_t nattrs;
    /* pivot: one attribute per row, named by a column */
    int pivot;
    char *pv_name_col, *pv_value_col, *pv_unit_col, *pv_unit;
    enum imp_type pv_type;
    char *pv_from[IMPORT_MAX_NAMES], *pv_to[IMPORT_MAX_NAMES];
    uint32_t npv_names;
    char *name;
};

struct import_mapping {
    char *name;
    struct imp_section sec[IMPORT_MAX_SECTIONS];
    uint32_t nsec;
};

/* ---- mapping ---------------------------------------------------------------------------------- */

static char *dup_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? vg_strdup(s) : NULL;
}

static int tmpl_parse(const char *s, struct tmpl *t, const char *where, char *err, size_t cap)
{
    memset(t, 0, sizeof(*t));
    while (*s) {
        if (t->nseg == IMPORT_MAX_SEGS)
            return vg_errf(err, cap, VG_EINVAL, "%s: more than %d parts", where, IMPORT_MAX_SEGS);
        if (*s == '{') {
            const char *e = strchr(s, '}');
            if (!e || e == s + 1)
                return vg_errf(err, cap, VG_EINVAL, "%s: '{' without a column name and '}'", where);
            t->seg[t->nseg].text = vg_strndup(s + 1, (size_t)(e - s - 1));
            t->seg[t->nseg].is_col = 1;
            t->nseg++;
            s = e + 1;
        } else {
            size_t n = strcspn(s, "{");
            t->seg[t->nseg].text = vg_strndup(s, n);
            t->nseg++;
            s += n;
        }
    }
    if (!t->nseg)
        return vg_errf(err, cap, VG_EINVAL, "%s: empty", where);
    return VG_OK;
}

static void tmpl_free(struct tmpl *t)
{
    for (uint32_t i = 0; i < t->nseg; i++)
        free(t->seg[i].text);
    t->nseg = 0;
}

static int type_parse(const char *s, enum imp_type *t)
{
    if (!s || !strcmp(s, "number"))
        *t = IT_NUMBER;
    else if (!strcmp(s, "integer"))
        *t = IT_INTEGER;
    else if (!strcmp(s, "string"))
        *t = IT_STRING;
    else if (!strcmp(s, "boolean"))
        *t = IT_BOOLEAN;
    else
        return -1;
    return 0;
}

/* A name the line-protocol path reserves or cannot carry. */
static int name_reserved(const char *n)
{
    return !strcmp(n, "lat") || !strcmp(n, "lon") || !strcmp(n, "location") || strchr(n, '@') ||
           strchr(n, '#');
}

static int section_parse(const json_t *o, struct imp_section *s, uint32_t idx, char *err,
                         size_t cap)
{
    char where[64];
    snprintf(where, sizeof(where), "files[%u]", idx);
    if (!json_is_object(o))
        return vg_errf(err, cap, VG_EINVAL, "%s: expected an object", where);
    s->match = dup_str(o, "match");
    if (!s->match)
        return vg_errf(err, cap, VG_EINVAL,
                       "%s.match: required (a file-name pattern such as \"*.csv\")", where);
    s->name = vg_strdup(s->match);
    s->encoding = dup_str(o, "encoding");
    if (!s->encoding)
        s->encoding = vg_strdup("UTF-8");
    const char *sep = json_string_value(json_object_get(o, "delimiter"));
    if (sep && (strlen(sep) != 1 && strcmp(sep, "\\t")))
        return vg_errf(err, cap, VG_EINVAL, "%s.delimiter: one character (or \"\\\\t\")", where);
    s->sep = !sep ? ',' : !strcmp(sep, "\\t") ? '\t' : sep[0];
    const char *dec = json_string_value(json_object_get(o, "decimal"));
    if (dec && strcmp(dec, ".") && strcmp(dec, ","))
        return vg_errf(err, cap, VG_EINVAL, "%s.decimal: \".\" or \",\"", where);
    s->decimal = dec ? dec[0] : '.';
    json_t *hr = json_object_get(o, "header_rows");
    if (hr && (!json_is_integer(hr) || json_integer_value(hr) < 1 || json_integer_value(hr) > 100))
        return vg_errf(err, cap, VG_EINVAL,
                       "%s.header_rows: an integer from 1 to 100 (the first names the "
                       "columns)",
                       where);
    s->header_rows = hr ? (uint32_t)json_integer_value(hr) : 1;
    json_t *miss = json_object_get(o, "missing");
    if (miss) {
        if (!json_is_array(miss) || json_array_size(miss) > IMPORT_MAX_MISSING)
            return vg_errf(err, cap, VG_EINVAL, "%s.missing: an array of at most %d strings", where,
                           IMPORT_MAX_MISSING);
        size_t i;
        json_t *x;
        json_array_foreach(miss, i, x)
        {
            if (!json_is_string(x))
                return vg_errf(err, cap, VG_EINVAL, "%s.missing[%zu]: a string", where, i);
            s->missing[s->nmissing++] = vg_strdup(json_string_value(x));
        }
    } else {
        s->missing[s->nmissing++] = vg_strdup("");
    }
    s->type = dup_str(o, "type");
    if (!s->type || !s->type[0] || strpbrk(s->type, ",= \\\n"))
        return vg_errf(err, cap, VG_EINVAL,
                       "%s.type: required, an entity type without ',', '=', spaces", where);
    const char *id = json_string_value(json_object_get(o, "id"));
    if (!id)
        return vg_errf(err, cap, VG_EINVAL,
                       "%s.id: required (a template such as \"urn:ngsi-ld:T:{Column}\")", where);
    char w2[160];
    snprintf(w2, sizeof(w2), "%s.id", where);
    int rc = tmpl_parse(id, &s->id, w2, err, cap);
    if (rc)
        return rc;

    json_t *tm = json_object_get(o, "time");
    if (!json_is_object(tm))
        return vg_errf(err, cap, VG_EINVAL,
                       "%s.time: required, {\"columns\": [...], \"format\": ..., \"zone\": "
                       "...} or {\"fixed\": \"<RFC 3339>\"}",
                       where);
    const char *zone = json_string_value(json_object_get(tm, "zone"));
    if (tf_zone_find(zone ? zone : "UTC", &s->zone))
        return vg_errf(err, cap, VG_EINVAL,
                       "%s.time.zone: unknown zone '%s' (UTC, Europe/Paris, ...)", where, zone);
    s->later = json_is_true(json_object_get(tm, "later"));
    const char *fixed = json_string_value(json_object_get(tm, "fixed"));
    if (fixed) {
        if (tf_parse(fixed, strlen(fixed), "iso8601", &s->zone, 0, &s->fixed_ms))
            return vg_errf(err, cap, VG_EINVAL, "%s.time.fixed: not an ISO 8601 instant: '%s'",
                           where, fixed);
        s->has_fixed = 1;
    } else {
        json_t *cols = json_object_get(tm, "columns");
        const char *one = json_string_value(json_object_get(tm, "column"));
        if (one) {
            s->time_cols[s->ntime_cols++] = vg_strdup(one);
        } else if (json_is_array(cols) && json_array_size(cols) >= 1 &&
                   json_array_size(cols) <= 4) {
            size_t i;
            json_t *x;
            json_array_foreach(cols, i, x)
            {
                if (!json_is_string(x))
                    return vg_errf(err, cap, VG_EINVAL, "%s.time.columns[%zu]: a column name",
                                   where, i);
                s->time_cols[s->ntime_cols++] = vg_strdup(json_string_value(x));
            }
        } else {
            return vg_errf(err, cap, VG_EINVAL,
                           "%s.time: \"column\", \"columns\" (1 to 4) or \"fixed\" required",
                           where);
        }
        s->time_format = dup_str(tm, "format");
        if (!s->time_format)
            s->time_format = vg_strdup("iso8601");
    }

    json_t *loc = json_object_get(o, "location");
    if (loc) {
        const char *f = json_string_value(json_object_get(loc, "format"));
        s->loc_col = dup_str(loc, "column");
        s->lat_col = dup_str(loc, "lat");
        s->lon_col = dup_str(loc, "lon");
        if (s->lat_col && s->lon_col && !s->loc_col)
            s->loc = LOC_TWO_COLUMNS;
        else if (s->loc_col && (!f || !strcmp(f, "lat,lon")))
            s->loc = LOC_LATLON;
        else if (s->loc_col && !strcmp(f, "lon,lat"))
            s->loc = LOC_LONLAT;
        else if (s->loc_col && !strcmp(f, "geojson"))
            s->loc = LOC_GEOJSON;
        else
            return vg_errf(err, cap, VG_EINVAL,
                           "%s.location: {\"column\": ..., \"format\": \"lat,lon\" | "
                           "\"lon,lat\" | \"geojson\"} or {\"lat\": ..., \"lon\": ...}",
                           where);
    }

    json_t *attrs = json_object_get(o, "attributes");
    if (attrs && (!json_is_array(attrs) || json_array_size(attrs) > IMPORT_MAX_ATTRS))
        return vg_errf(err, cap, VG_EINVAL, "%s.attributes: an array of at most %d", where,
                       IMPORT_MAX_ATTRS);
    size_t i;
    json_t *a;
    json_array_foreach(attrs, i, a)
    {
        struct imp_attr *at = &s->attrs[s->nattrs++];
        at->scale = 1;
        at->column = dup_str(a, "column");
        if (!at->column)
            return vg_errf(err, cap, VG_EINVAL, "%s.attributes[%zu].column: required", where, i);
        const char *name = json_string_value(json_object_get(a, "name"));
        snprintf(w2, sizeof(w2), "%s.attributes[%zu].name", where, i);
        if ((rc = tmpl_parse(name ? name : at->column, &at->name, w2, err, cap)))
            return rc;
        if (at->name.nseg == 1 && !at->name.seg[0].is_col && name_reserved(at->name.seg[0].text))
            return vg_errf(err, cap, VG_EINVAL, "%s: '%s' is reserved (location is declared with "
                                  "\"location\"; '@' and '#' are not allowed)", w2,
                           at->name.seg[0].text);
        if (type_parse(json_string_value(json_object_get(a, "type")), &at->type))
            return vg_errf(err, cap, VG_EINVAL,
                           "%s.attributes[%zu].type: number, integer, string or boolean", where, i);
        at->unit = dup_str(a, "unit");
        const char *adec = json_string_value(json_object_get(a, "decimal"));
        if (adec && strcmp(adec, ".") && strcmp(adec, ","))
            return vg_errf(err, cap, VG_EINVAL, "%s.attributes[%zu].decimal: \".\" or \",\"", where,
                           i);
        at->decimal = adec ? adec[0] : 0;
        json_t *sc = json_object_get(a, "scale");
        if (sc) {
            if (!json_is_number(sc) || !isfinite(json_number_value(sc)))
                return vg_errf(err, cap, VG_EINVAL, "%s.attributes[%zu].scale: a number", where, i);
            at->scale = json_number_value(sc);
        }
    }
    json_t *pv = json_object_get(o, "pivot");
    if (pv) {
        s->pivot = 1;
        s->pv_name_col = dup_str(pv, "name_column");
        s->pv_value_col = dup_str(pv, "value_column");
        s->pv_unit_col = dup_str(pv, "unit_column");
        s->pv_unit = dup_str(pv, "unit");
        if (s->pv_unit && s->pv_unit_col)
            return vg_errf(err, cap, VG_EINVAL,
                           "%s.pivot: \"unit\" (fixed) or \"unit_column\", not both", where);
        if (!s->pv_name_col || !s->pv_value_col)
            return vg_errf(err, cap, VG_EINVAL, "%s.pivot: name_column and value_column required",
                           where);
        if (type_parse(json_string_value(json_object_get(pv, "type")), &s->pv_type))
            return vg_errf(err, cap, VG_EINVAL, "%s.pivot.type: number, integer, string or boolean",
                           where);
        json_t *names = json_object_get(pv, "names");
        if (names && (!json_is_object(names) || json_object_size(names) > IMPORT_MAX_NAMES))
            return vg_errf(err, cap, VG_EINVAL, "%s.pivot.names: an object of at most %d names",
                           where, IMPORT_MAX_NAMES);
        const char *k;
        json_t *v;
        json_object_foreach(names, k, v)
        {
            if (!json_is_string(v) || name_reserved(json_string_value(v)))
                return vg_errf(err, cap, VG_EINVAL, "%s.pivot.names.%s: an attribute name", where,
                               k);
            s->pv_from[s->npv_names] = vg_strdup(k);
            s->pv_to[s->npv_names++] = vg_strdup(json_string_value(v));
        }
    }
    if (!s->nattrs && !s->pivot && s->loc == LOC_NONE)
        return vg_errf(err, cap, VG_EINVAL,
                       "%s: no \"attributes\", \"pivot\" or \"location\": nothing to import",
                       where);
    return VG_OK;
}

static void section_free(struct imp_section *s)
{
    free(s->match);
    free(s->name);
    free(s->encoding);
    for (uint32_t i = 0; i < s->nmissing; i++)
        free(s->missing[i]);
    free(s->type);
    tmpl_free(&s->id);
    for (uint32_t i = 0; i < s->ntime_cols; i++)
        free(s->time_cols[i]);
    free(s->time_format);
    free(s->loc_col);
    free(s->lat_col);
    free(s->lon_col);
    for (uint32_t i = 0; i < s->nattrs; i++) {
        free(s->attrs[i].column);
        tmpl_free(&s->attrs[i].name);
        free(s->attrs[i].unit);
    }
    free(s->pv_name_col);
    free(s->pv_value_col);
    free(s->pv_unit_col);
    free(s->pv_unit);
    for (uint32_t i = 0; i < s->npv_names; i++) {
        free(s->pv_from[i]);
        free(s->pv_to[i]);
    }
}

int import_mapping_parse(const char *text, size_t len, struct import_mapping **out, char *err,
                         size_t errcap)
{
    json_error_t je;
    if (len > IMPORT_MAPPING_MAX)
        return vg_errf(err, errcap, VG_EINVAL, "mapping larger than %u bytes", IMPORT_MAPPING_MAX);
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return vg_errf(err, errcap, VG_EINVAL, "mapping is not valid JSON: %s (line %d, column %d)",
                       je.text, je.line, je.column);
    struct import_mapping *m = vg_calloc(1, sizeof(*m));
    int rc = VG_OK;
    json_t *files = json_object_get(root, "files");
    if (!json_is_object(root)) {
        rc = vg_errf(err, errcap, VG_EINVAL, "mapping: expected a JSON object");
    } else if (!json_is_array(files) || !json_array_size(files) ||
               json_array_size(files) > IMPORT_MAX_SECTIONS) {
        rc = vg_errf(err, errcap, VG_EINVAL,
                     "files: required, an array of 1 to %d file descriptions", IMPORT_MAX_SECTIONS);
    } else {
        m->name = dup_str(root, "name");
        size_t i;
        json_t *f;
        json_array_foreach(files, i, f)
        {
            rc = section_parse(f, &m->sec[m->nsec++], (uint32_t)i, err, errcap);
            if (rc)
                break;
        }
    }
    json_decref(root);
    if (rc) {
        import_mapping_free(m);
        return rc;
    }
    *out = m;
    return VG_OK;
}

int import_mapping_load(const char *path, struct import_mapping **out, char *err, size_t errcap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return vg_errf(err, errcap, VG_EINVAL, "cannot open mapping '%s': %s", path,
                       strerror(errno));
    char *buf = vg_malloc(IMPORT_MAPPING_MAX + 1);
    size_t n = fread(buf, 1, IMPORT_MAPPING_MAX + 1, f);
    fclose(f);
    int rc = import_mapping_parse(buf, n, out, err, errcap);
    free(buf);
    return rc;
}

void import_mapping_free(struct import_mapping *m)
{
    if (!m)
        return;
    for (uint32_t i = 0; i < m->nsec; i++)
        section_free(&m->sec[i]);
    free(m->name);
    free(m);
}

/* ---- run ----------------------------------------------------------------------------------------- */

/* Column indexes of one run (the header decides them). */
struct run_cols {
    int time[4];
    int loc, lat, lon;
    int attr[IMPORT_MAX_ATTRS];
    int pv_name, pv_value, pv_unit;
};

struct run {
    const struct imp_section *s;
    struct run_cols c;
    struct tmpl id, names[IMPORT_MAX_ATTRS]; /* the section's templates, columns resolved */
    struct ingest *ig;
    struct meta *meta;
    const char *tenant, *source, *id_tag;
    struct import_result *res;
    struct buf lp;       /* line-protocol chunk */
    uint32_t lp_lines;
    struct meta_quarantine_row *q; /* quarantined rows of the chunk (raw copied into qraw) */
    char **qcopies;
    uint32_t nq, capq;
    struct strset units; /* entity 0x1f attribute: unit already written during this run */
    struct buf scratch;
    struct buf replay; /* quarantine context: "MAPPING\nFILE\nHEADER ROWS" */
    int64_t now_ms;
};

static int col_index(const struct csv *hdr, const char *name, const char *what, char *err,
                     size_t cap, int *idx)
{
    *idx = csv_find(hdr, name);
    if (*idx < 0)
        return vg_errf(err, cap, VG_EINVAL, "%s: no column '%s' in the header (line %llu)", what,
                       name, (unsigned long long)hdr->lineno);
    return VG_OK;
}

static int tmpl_resolve(const struct tmpl *src, struct tmpl *dst, const struct csv *hdr,
                        const char *what, char *err, size_t cap)
{
    *dst = *src; /* shares the texts (owned by the mapping) */
    for (uint32_t i = 0; i < dst->nseg; i++) {
        if (!dst->seg[i].is_col)
            continue;
        int rc = col_index(hdr, dst->seg[i].text, what, err, cap, &dst->seg[i].col);
        if (rc)
            return rc;
    }
    return VG_OK;
}

static int resolve_columns(struct run *r, const struct csv *hdr, char *err, size_t cap)
{
    const struct imp_section *s = r->s;
    struct run_cols *c = &r->c;
    int rc = tmpl_resolve(&s->id, &r->id, hdr, "id", err, cap);
    for (uint32_t i = 0; !rc && i < s->ntime_cols; i++)
        rc = col_index(hdr, s->time_cols[i], "time", err, cap, &c->time[i]);
    c->loc = c->lat = c->lon = c->pv_name = c->pv_value = c->pv_unit = -1;
    if (!rc && s->loc_col)
        rc = col_index(hdr, s->loc_col, "location", err, cap, &c->loc);
    if (!rc && s->lat_col)
        rc = col_index(hdr, s->lat_col, "location.lat", err, cap, &c->lat);
    if (!rc && s->lon_col)
        rc = col_index(hdr, s->lon_col, "location.lon", err, cap, &c->lon);
    for (uint32_t i = 0; !rc && i < s->nattrs; i++) {
        rc = col_index(hdr, s->attrs[i].column, "attributes", err, cap, &c->attr[i]);
        if (!rc)
            rc = tmpl_resolve(&s->attrs[i].name, &r->names[i], hdr, "attributes.name", err, cap);
    }
    if (!rc && s->pivot) {
        rc = col_index(hdr, s->pv_name_col, "pivot.name_column", err, cap, &c->pv_name);
        if (!rc)
            rc = col_index(hdr, s->pv_value_col, "pivot.value_column", err, cap, &c->pv_value);
        if (!rc && s->pv_unit_col)
            rc = col_index(hdr, s->pv_unit_col, "pivot.unit_column", err, cap, &c->pv_unit);
    }
    return rc;
}

/* Field i of the current record, trimmed; "" if the record is shorter. */
static void field(const struct csv *c, int i, const char **p, size_t *n)
{
    if (i < 0 || (uint32_t)i >= c->nf) {
        *p = "";
        *n = 0;
        return;
    }
    *p = c->f[i];
    *n = c->fl[i];
    csv_trim(p, n);
}

static int is_missing(const struct imp_section *s, const char *p, size_t n)
{
    for (uint32_t i = 0; i < s->nmissing; i++)
        if (strlen(s->missing[i]) == n && !memcmp(s->missing[i], p, n))
            return 1;
    return 0;
}

/* Expand a template into out (NUL-terminated). -1 if a referenced field is empty. */
static int tmpl_expand(const struct tmpl *t, const struct csv *c, char *out, size_t cap)
{
    size_t o = 0;
    for (uint32_t i = 0; i < t->nseg; i++) {
        const char *p = t->seg[i].text;
        size_t n = strlen(p);
        if (t->seg[i].is_col) {
            field(c, t->seg[i].col, &p, &n);
            if (!n)
                return -1;
        }
        if (o + n >= cap)
            return -1;
        memcpy(out + o, p, n);
        o += n;
    }
    out[o] = '\0';
    return 0;
}

static int parse_number(const char *p, size_t n, char decimal, double *v)
{
    char tmp[64];
    if (!n || n >= sizeof(tmp))
        return -1;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (ch == decimal)
            ch = '.';
        else if (ch == '.' && decimal == ',')
            return -1; /* "1.234,5": thousands separators are not guessed */
        tmp[i] = ch;
    }
    tmp[n] = '\0';
    char *e = NULL;
    errno = 0;
    double d = strtod(tmp, &e);
    if (e == tmp || *e || errno == ERANGE || !isfinite(d))
        return -1;
    *v = d;
    return 0;
}

static int parse_bool(const char *p, size_t n, int *v)
{
    static const char *const yes[] = {"true", "1", "yes", "oui", "t", "y", "vrai"};
    static const char *const no[] = {"false", "0", "no", "non", "f", "n", "faux"};
    for (size_t i = 0; i < VG_ARRAY_LEN(yes); i++) {
        if (strlen(yes[i]) == n && !strncasecmp(p, yes[i], n)) {
            *v = 1;
            return 0;
        }
        if (strlen(no[i]) == n && !strncasecmp(p, no[i], n)) {
            *v = 0;
            return 0;
        }
    }
    return -1;
}

static void lp_field_key(struct buf *b, int *nfields, const char *name)
{
    (void)buf_putc(b, *nfields ? ',' : ' ');
    (*nfields)++;
    lp_escape(b, name, strlen(name), LP_ESC_KEY);
    (void)buf_putc(b, '=');
}

/* Copy a number's text as line protocol writes it (the decimal mark made a '.'), when it is
** plain digits, one mark, an optional leading '-' and no exponent: the common case, which then
** costs no float formatting. 0 if copied; -1 to format instead. */
static int lp_copy_number(struct buf *b, const char *p, size_t n, char decimal, int integer)
{
    size_t i = p[0] == '-' ? 1 : 0;
    int marks = 0, digits = 0;
    if (n > 40)
        return -1;
    for (; i < n; i++) {
        if (p[i] >= '0' && p[i] <= '9')
            digits++;
        else if (p[i] == decimal && !integer && !marks++)
            continue;
        else
            return -1;
    }
    if (!digits)
        return -1;
    char tmp[48];
    memcpy(tmp, p, n);
    for (i = 0; i < n; i++)
        if (tmp[i] == decimal)
            tmp[i] = '.';
    if (integer)
        tmp[n++] = 'i';
    (void)buf_append(b, tmp, n);
    return 0;
}

/* One typed value as a line-protocol field; -1 with a reason if the text is not of the type. */
static int lp_value(struct run *r, int *nfields, const char *name, enum imp_type t, double scale,
                    char decimal, const char *p, size_t n, char *why, size_t whycap)
{
    struct buf *b = &r->lp;
    double d;
    int bv;
    switch (t) {
    case IT_NUMBER:
        if (parse_number(p, n, decimal, &d))
            goto bad;
        lp_field_key(b, nfields, name);
        if (scale != 1 || lp_copy_number(b, p, n, decimal, 0))
            buf_json_double(b, d * scale); /* finite: parse_number refuses the others */
        return 0;
    case IT_INTEGER:
        if (parse_number(p, n, decimal, &d) || d != floor(d) || fabs(d) > 9.0e15)
            goto bad;
        lp_field_key(b, nfields, name);
        if (scale != 1 || lp_copy_number(b, p, n, decimal, 1))
            buf_printf(b, "%lldi", (long long)(d * scale));
        return 0;
    case IT_BOOLEAN:
        if (parse_bool(p, n, &bv))
            goto bad;
        lp_field_key(b, nfields, name);
        buf_printf(b, "%s", bv ? "true" : "false");
        return 0;
    case IT_STRING:
        if (!utf8_valid((const unsigned char *)p, n))
            goto bad;
        lp_field_key(b, nfields, name);
        (void)buf_putc(b, '"');
        lp_put_string(b, p, n);
        (void)buf_putc(b, '"');
        return 0;
    }
bad:
    snprintf(why, whycap, "column for '%s': '%.*s' is not a%s %s", name, (int)VG_MIN(n, 60u), p,
             t == IT_INTEGER ? "n" : "",
             t == IT_NUMBER ? "number" : t == IT_INTEGER ? "integer" : t == IT_BOOLEAN ? "boolean"
                                                                                     : "string");
    return -1;
}

static int parse_location(struct run *r, const struct csv *c, double *lat, double *lon,
                          char *why, size_t whycap)
{
    const char *p;
    size_t n;
    char tmp[512];
    if (r->s->loc == LOC_TWO_COLUMNS) {
        field(c, r->c.lat, &p, &n);
        if (parse_number(p, n, r->s->decimal, lat))
            goto bad;
        field(c, r->c.lon, &p, &n);
        if (parse_number(p, n, r->s->decimal, lon))
            goto bad;
    } else {
        field(c, r->c.loc, &p, &n);
        if (n >= sizeof(tmp))
            goto bad;
        memcpy(tmp, p, n);
        tmp[n] = '\0';
        if (r->s->loc == LOC_GEOJSON) {
            json_t *g = json_loadb(p, n, 0, NULL);
            json_t *co = json_object_get(g, "coordinates");
            int ok = json_is_string(json_object_get(g, "type")) &&
                     !strcmp(json_string_value(json_object_get(g, "type")), "Point") &&
                     json_array_size(co) == 2 && json_is_number(json_array_get(co, 0)) &&
                     json_is_number(json_array_get(co, 1));
            if (ok) {
                *lon = json_number_value(json_array_get(co, 0));
                *lat = json_number_value(json_array_get(co, 1));
            }
            json_decref(g);
            if (!ok)
                goto bad;
        } else {
            double a, b;
            char *e1, *e2;
            errno = 0;
            a = strtod(tmp, &e1);
            while (*e1 == ' ')
                e1++;
            if (e1 == tmp || *e1 != ',')
                goto bad;
            b = strtod(e1 + 1, &e2);
            while (*e2 == ' ')
                e2++;
            if (e2 == e1 + 1 || *e2 || errno)
                goto bad;
            *lat = r->s->loc == LOC_LATLON ? a : b;
            *lon = r->s->loc == LOC_LATLON ? b : a;
        }
    }
    if (*lat >= -90 && *lat <= 90 && *lon >= -180 && *lon <= 180)
        return 0;
bad:
    snprintf(why, whycap, "location: not a point (%s)",
             r->s->loc == LOC_TWO_COLUMNS ? "lat/lon columns"
             : r->s->loc == LOC_GEOJSON   ? "GeoJSON Point"
             : r->s->loc == LOC_LATLON    ? "\"lat, lon\""
                                          : "\"lon, lat\"");
    return -1;
}

static int row_time(struct run *r, const struct csv *c, int64_t *ts, char *why, size_t whycap)
{
    const struct imp_section *s = r->s;
    if (s->has_fixed) {
        *ts = s->fixed_ms;
        return 0;
    }
    char tmp[256];
    size_t o = 0;
    for (uint32_t i = 0; i < s->ntime_cols; i++) {
        const char *p;
        size_t n;
        field(c, r->c.time[i], &p, &n);
        if (o + n + 1 >= sizeof(tmp))
            break;
        if (i)
            tmp[o++] = ' ';
        memcpy(tmp + o, p, n);
        o += n;
    }
    tmp[o] = '\0';
    int rc = tf_parse(tmp, o, s->time_format, &s->zone, s->later, ts);
    if (!rc)
        return 0;
    snprintf(why, whycap, "time '%.60s' %s (format %s, zone from the mapping)", tmp,
             rc == VG_ERANGE ? "does not exist in that zone (summer-time gap)"
                             : "does not match",
             s->time_format);
    return -1;
}

static void quarantine(struct run *r, const struct csv *c, const char *why)
{
    struct import_result *res = r->res;
    res->quarantined++;
    size_t used = strlen(res->first_errors);
    if (res->quarantined <= IMPORT_FIRST_ERRORS && used + 16 < sizeof(res->first_errors))
        snprintf(res->first_errors + used, sizeof(res->first_errors) - used, "%sline %llu: %s",
                 used ? "; " : "", (unsigned long long)c->lineno, why);
    if (r->nq == r->capq) {
        r->capq = r->capq ? r->capq * 2 : 64;
        r->q = vg_realloc(r->q, r->capq * sizeof(*r->q));
        r->qcopies = vg_realloc(r->qcopies, r->capq * 2 * sizeof(*r->qcopies));
    }
    struct meta_quarantine_row *q = &r->q[r->nq];
    memset(q, 0, sizeof(*q));
    q->tenant = r->tenant;
    q->source = r->source;
    char *reason = vg_malloc(strlen(why) + 32);
    sprintf(reason, "line %llu: %s", (unsigned long long)c->lineno, why);
    char *raw = vg_strndup(c->raw, VG_MIN(c->raw_len, (size_t)64 << 10));
    r->qcopies[2 * r->nq] = reason;
    r->qcopies[2 * r->nq + 1] = raw;
    q->reason = reason;
    q->raw = raw;
    q->raw_len = strlen(raw);
    q->format = "csv";
    q->context = r->replay.len ? r->replay.p : NULL;
    r->nq++;
}

/* Write the chunk: points through ingest_lp, then the quarantined rows. */
static int flush(struct run *r, char *err, size_t cap)
{
    int rc = VG_OK;
    if (r->lp_lines) {
        struct ingest_result ir;
        rc = ingest_lp(r->ig, r->tenant, r->source, r->lp.p, r->lp.len, LP_MS, r->now_ms, &ir);
        if (rc) {
            snprintf(err, cap, "storing failed: %s%s%s", vg_strerror(rc),
                     ir.first_errors[0] ? ": " : "", ir.first_errors);
        } else {
            r->res->values += ir.points;
            if (ir.bad) { /* lines the ingest refused (e.g. a type conflict): quarantined there */
                r->res->stored -= ir.bad;
                r->res->quarantined += ir.bad;
                size_t used = strlen(r->res->first_errors);
                if (used + 16 < sizeof(r->res->first_errors))
                    snprintf(r->res->first_errors + used, sizeof(r->res->first_errors) - used,
                             "%s%.*s", used ? "; " : "",
                             (int)(sizeof(r->res->first_errors) - used - 3), ir.first_errors);
            }
        }
    }
    if (!rc && r->nq) {
        rc = meta_quarantine_add(r->meta, r->q, r->nq);
        if (rc)
            snprintf(err, cap, "quarantine failed: %s", vg_strerror(rc));
    }
    for (uint32_t i = 0; i < 2 * r->nq; i++)
        free(r->qcopies[i]);
    r->nq = 0;
    buf_reset(&r->lp);
    r->lp_lines = 0;
    return rc;
}

/* One data row -> one line (or a quarantine entry). */
static void row(struct run *r, const struct csv *c)
{
    const struct imp_section *s = r->s;
    char id[IMPORT_NAME_MAX * 2], why[400], name[IMPORT_NAME_MAX], ukey[IMPORT_NAME_MAX * 3];
    int64_t ts;
    size_t mark = r->lp.len;
    if (tmpl_expand(&r->id, c, id, sizeof(id))) {
        quarantine(r, c, "entity id: a column of the id template is empty (or the id is too "
                         "long)");
        return;
    }
    if (row_time(r, c, &ts, why, sizeof(why))) {
        quarantine(r, c, why);
        return;
    }
    lp_escape(&r->lp, s->type, strlen(s->type), LP_ESC_MEASUREMENT);
    (void)buf_putc(&r->lp, ',');
    lp_escape(&r->lp, r->id_tag, strlen(r->id_tag), LP_ESC_KEY);
    (void)buf_putc(&r->lp, '=');
    lp_escape(&r->lp, id, strlen(id), LP_ESC_KEY);
    int nf = 0;
    const char *p;
    size_t n;
    for (uint32_t i = 0; i < s->nattrs; i++) {
        const struct imp_attr *a = &s->attrs[i];
        field(c, r->c.attr[i], &p, &n);
        if (is_missing(s, p, n))
            continue;
        if (tmpl_expand(&r->names[i], c, name, sizeof(name)) || name_reserved(name)) {
            r->lp.len = mark;
            snprintf(why, sizeof(why), "attribute name from '%s': empty or reserved",
                     a->column);
            quarantine(r, c, why);
            return;
        }
        if (lp_value(r, &nf, name, a->type, a->scale, a->decimal ? a->decimal : s->decimal, p, n,
                     why, sizeof(why))) {
            r->lp.len = mark;
            quarantine(r, c, why);
            return;
        }
        snprintf(ukey, sizeof(ukey), "%s\x1f%s", id, name);
        if (a->unit && strset_add(&r->units, ukey)) {
            char un[IMPORT_NAME_MAX + 16];
            snprintf(un, sizeof(un), "%s@unitCode", name);
            lp_value(r, &nf, un, IT_STRING, 1, '.', a->unit, strlen(a->unit), why, sizeof(why));
        }
    }
    if (s->pivot) {
        field(c, r->c.pv_value, &p, &n);
        if (!is_missing(s, p, n)) {
            const char *pn;
            size_t pnl;
            field(c, r->c.pv_name, &pn, &pnl);
            snprintf(name, sizeof(name), "%.*s", (int)VG_MIN(pnl, sizeof(name) - 1), pn);
            for (uint32_t k = 0; k < s->npv_names; k++)
                if (!strcmp(s->pv_from[k], name)) {
                    snprintf(name, sizeof(name), "%s", s->pv_to[k]);
                    break;
                }
            if (!name[0] || name_reserved(name)) {
                r->lp.len = mark;
                quarantine(r, c, "pivot: the attribute-name column is empty or reserved");
                return;
            }
            if (lp_value(r, &nf, name, s->pv_type, 1, s->decimal, p, n, why, sizeof(why))) {
                r->lp.len = mark;
                quarantine(r, c, why);
                return;
            }
            const char *up = s->pv_unit;
            size_t ul = up ? strlen(up) : 0;
            if (!up)
                field(c, r->c.pv_unit, &up, &ul);
            snprintf(ukey, sizeof(ukey), "%s\x1f%s", id, name);
            if (ul && strset_add(&r->units, ukey)) {
                char un[IMPORT_NAME_MAX + 16];
                snprintf(un, sizeof(un), "%s@unitCode", name);
                lp_value(r, &nf, un, IT_STRING, 1, '.', up, ul, why, sizeof(why));
            }
        }
    }
    if (s->loc != LOC_NONE) {
        double lat, lon;
        if (parse_location(r, c, &lat, &lon, why, sizeof(why))) {
            r->lp.len = mark;
            quarantine(r, c, why);
            return;
        }
        lp_field_key(&r->lp, &nf, "lat");
        buf_printf(&r->lp, "%.7f", lat);
        lp_field_key(&r->lp, &nf, "lon");
        buf_printf(&r->lp, "%.7f", lon);
    }
    if (!nf) { /* every mapped value missing: nothing to store, nothing wrong */
        r->lp.len = mark;
        r->res->stored++;
        return;
    }
    buf_printf(&r->lp, " %lld\n", (long long)ts);
    r->lp_lines++;
    r->res->stored++;
}

static const struct imp_section *section_for(const struct import_mapping *m, const char *file)
{
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    for (uint32_t i = 0; i < m->nsec; i++)
        if (!fnmatch(m->sec[i].match, base, 0))
            return &m->sec[i];
    return NULL;
}

/* import_run and import_replay: utf8 = the text is UTF-8 already (a replayed row). */
static int run_file(struct ingest *ig, struct meta *meta, const struct import_mapping *m,
                    const char *mapping_ref, const char *tenant, const char *source,
                    const char *file_name, const char *data, size_t len, int utf8,
                    import_progress_fn *progress, void *parg, struct import_result *res,
                    char *err, size_t errcap)
{
    int64_t t0 = clock_mono_ns();
    memset(res, 0, sizeof(*res));
    err[0] = '\0';
    const struct imp_section *s = section_for(m, file_name);
    if (!s) {
        snprintf(err, errcap, "no section of the mapping matches the file name '%s'", file_name);
        return VG_ENOENT;
    }
    snprintf(res->section, sizeof(res->section), "%s", s->name);
    char *text = NULL;
    size_t tlen = 0, bad = 0;
    int rc = csv_to_utf8(data, len, utf8 ? "UTF-8" : s->encoding, &text, &tlen, &bad);
    if (rc) {
        snprintf(err, errcap, "the file is not valid %s (byte offset %zu)", s->encoding, bad);
        return VG_EINVAL;
    }
    struct run r;
    memset(&r, 0, sizeof(r));
    strset_init(&r.units, IMPORT_UNITS_MAX); /* bounded: forgotten units are written again */
    r.s = s;
    r.ig = ig;
    r.meta = meta;
    r.tenant = tenant;
    r.source = source;
    r.id_tag = ingest_id_tag(ig);
    r.res = res;
    r.now_ms = clock_now_ms();
    buf_init(&r.lp, 0);
    buf_init(&r.replay, (size_t)1 << 20);
    if (mapping_ref)
        buf_printf(&r.replay, "%s\n%s", mapping_ref, file_name);
    struct csv c;
    csv_init(&c, text, tlen, s->sep);
    uint32_t hdr = 0;
    int st;
    while (hdr < s->header_rows && (st = csv_next(&c)) != 0) {
        if (st < 0) {
            rc = vg_errf(err, errcap, VG_EINVAL, "header row %u (line %llu) is malformed CSV",
                         hdr + 1, (unsigned long long)c.lineno);
            goto out;
        }
        if (hdr == 0 && (rc = resolve_columns(&r, &c, err, errcap)))
            goto out;
        if (mapping_ref) {
            buf_putc(&r.replay, '\n');
            buf_append(&r.replay, c.raw, c.raw_len);
        }
        hdr++;
    }
    if (hdr < s->header_rows) {
        rc = vg_errf(err, errcap, VG_EINVAL, "the file has fewer than %u header rows",
                     s->header_rows);
        goto out;
    }
    while ((st = csv_next(&c)) != 0) {
        res->rows++;
        if (st < 0)
            quarantine(&r, &c, "malformed CSV record (quotes, or too many or too long fields)");
        else
            row(&r, &c);
        if (r.lp_lines >= IMPORT_CHUNK_LINES || r.nq >= IMPORT_CHUNK_LINES) {
            if ((rc = flush(&r, err, errcap)))
                goto out;
        }
        if (progress && res->rows % IMPORT_PROGRESS_ROWS == 0) {
            res->elapsed_ms = (clock_mono_ns() - t0) / 1000000;
            progress(parg, (uint64_t)(c.p - text), tlen, res);
        }
    }
    rc = flush(&r, err, errcap);
out:
    res->elapsed_ms = (clock_mono_ns() - t0) / 1000000;
    if (progress && !rc)
        progress(parg, tlen, tlen, res);
    csv_release(&c);
    buf_release(&r.lp);
    buf_release(&r.replay);
    for (uint32_t i = 0; i < 2 * r.nq; i++)
        free(r.qcopies[i]);
    free(r.q);
    free(r.qcopies);
    strset_release(&r.units);
    free(text);
    return rc;
}

int import_run(struct ingest *ig, struct meta *meta, const struct import_mapping *m,
               const char *mapping_ref, const char *tenant, const char *source,
               const char *file_name, const char *data, size_t len, import_progress_fn *progress,
               void *parg, struct import_result *res, char *err, size_t errcap)
{
    return run_file(ig, meta, m, mapping_ref, tenant, source, file_name, data, len, 0, progress,
                    parg, res, err, errcap);
}

int import_replay_ref(const char *context, char *ref, size_t cap)
{
    const char *nl = strchr(context, '\n');
    size_t n = nl ? (size_t)(nl - context) : strlen(context);
    if (!nl || n == 0 || n >= cap)
        return VG_EINVAL;
    memcpy(ref, context, n);
    ref[n] = '\0';
    return VG_OK;
}

int import_replay(struct ingest *ig, struct meta *meta, const struct import_mapping *m,
                  const char *tenant, const char *source, const char *context, const char *raw,
                  size_t raw_len, struct import_result *res, char *err, size_t errcap)
{
    char ref[512];
    memset(res, 0, sizeof(*res));
    if (import_replay_ref(context, ref, sizeof(ref))) {
        snprintf(err, errcap, "the quarantined row has no import context");
        return VG_EINVAL;
    }
    const char *file = context + strlen(ref) + 1;
    const char *nl = strchr(file, '\n');
    size_t flen = nl ? (size_t)(nl - file) : strlen(file);
    char fname[512];
    if (flen == 0 || flen >= sizeof(fname)) {
        snprintf(err, errcap, "the quarantined row has no file name in its context");
        return VG_EINVAL;
    }
    memcpy(fname, file, flen);
    fname[flen] = '\0';
    const char *hdr = nl ? nl + 1 : "";
    struct buf text;
    buf_init(&text, 0);
    buf_puts(&text, hdr);
    if (text.len)
        buf_putc(&text, '\n');
    buf_append(&text, raw, raw_len);
    buf_putc(&text, '\n');
    int rc = run_file(ig, meta, m, ref, tenant, source, fname, text.p, text.len, 1, NULL, NULL,
                      res, err, errcap);
    buf_release(&text);
    return rc;
}
