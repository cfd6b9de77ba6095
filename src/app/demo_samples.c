/*
** app/demo_samples.c: the line-protocol batch writer of the demo, the Paris time helpers it
** shares with app/demo.c, and the loaders of the real open-data samples (docs/demo.md, "Real
** samples"; provenance in ../shared/data/SOURCES.md).
** Owns: per call, the file image (read whole, capped at SAMPLE_MAX_FILE), the entity table and
** the pivot records of one file. Nothing outlives a call.
** Borrows: the demo_lpw writer passed in. CSV reading and the ISO-8859-1 conversion of the
** Madrid files are ingest/csv.c's.
** Every loader pivots rows into (entity, timestamp, attribute, value) records, sorts them by
** entity then time (the Paris traffic rows are not in time order) and writes one line per
** (entity, timestamp); an entity's location goes on its first line only (stations are fixed).
** Thread: any; no shared state.
*/
#include "app/demo_samples.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/timefmt.h"
#include "ingest/lineproto.h"
#include "core/vg.h"
#include "ingest/csv.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAMPLE_MAX_FILE (64u << 20) /* larger sample files are refused */
#define SAMPLE_MAX_RECS (4u << 20)  /* pivot records per file */
#define SAMPLE_MAX_ENTS 4096u
#define SAMPLE_MAX_TAGS 8
#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL

/* ---- line-protocol writer -------------------------------------------------------------------- */

void demo__lpw_init(struct demo_lpw *w, demo_emit_fn *emit, void *arg)
{
    memset(w, 0, sizeof(*w));
    buf_init(&w->b, 0);
    w->batch_lines = DEMO_BATCH_LINES;
    w->emit = emit;
    w->arg = arg;
}

void demo__lpw_release(struct demo_lpw *w)
{
    buf_release(&w->b);
}

static void put_escaped(struct buf *b, const char *s, const char *esc)
{
    lp_escape(b, s, strlen(s), esc);
}

void demo__lpw_begin(struct demo_lpw *w, const char *meas)
{
    w->line_off = w->b.len;
    w->nfields = 0;
    w->nvalues = 0;
    put_escaped(&w->b, meas, LP_ESC_MEASUREMENT);
}

void demo__lpw_tag(struct demo_lpw *w, const char *key, const char *val)
{
    if (!val || !*val)
        return;
    (void)buf_putc(&w->b, ',');
    put_escaped(&w->b, key, LP_ESC_KEY);
    (void)buf_putc(&w->b, '=');
    put_escaped(&w->b, val, LP_ESC_KEY);
}

static void field_key(struct demo_lpw *w, const char *key)
{
    (void)buf_putc(&w->b, w->nfields ? ',' : ' ');
    put_escaped(&w->b, key, LP_ESC_KEY);
    (void)buf_putc(&w->b, '=');
    w->nfields++;
}

void demo__lpw_f64(struct demo_lpw *w, const char *key, double v, int decimals)
{
    if (!isfinite(v))
        return;
    if (v == 0.0)
        v = 0.0; /* no "-0.0" */
    field_key(w, key);
    (void)buf_printf(&w->b, "%.*f", decimals, v);
    w->nvalues++;
}

void demo__lpw_i64(struct demo_lpw *w, const char *key, int64_t v)
{
    field_key(w, key);
    (void)buf_printf(&w->b, "%lldi", (long long)v);
    w->nvalues++;
}

void demo__lpw_str(struct demo_lpw *w, const char *key, const char *val)
{
    field_key(w, key);
    (void)buf_putc(&w->b, '"');
    put_escaped(&w->b, val, LP_ESC_STRING);
    (void)buf_putc(&w->b, '"');
    w->nvalues++;
}

void demo__lpw_geo(struct demo_lpw *w, double lat, double lon)
{
    if (!isfinite(lat) || !isfinite(lon))
        return;
    field_key(w, "lat");
    (void)buf_printf(&w->b, "%.6f", lat);
    field_key(w, "lon");
    (void)buf_printf(&w->b, "%.6f", lon);
    w->nvalues++;
}

int demo__lpw_flush(struct demo_lpw *w)
{
    if (w->nlines && !w->rc)
        w->rc = w->emit(w->arg, w->b.p, w->b.len, w->nlines);
    buf_reset(&w->b);
    w->nlines = 0;
    return w->rc;
}

int demo__lpw_end(struct demo_lpw *w, int64_t ts_ms)
{
    if (!w->nfields) {
        w->b.len = w->line_off;
        if (w->b.p)
            w->b.p[w->b.len] = '\0';
        return w->rc;
    }
    (void)buf_printf(&w->b, " %lld\n", (long long)ts_ms);
    w->nlines++;
    w->lines++;
    w->values += (uint64_t)w->nvalues;
    if (w->nlines >= w->batch_lines)
        return demo__lpw_flush(w);
    return w->rc;
}

/* ---- Paris geography and time ---------------------------------------------------------------- */

/* Approximate centroids of the 20 arrondissements (12e and 16e without their woods). */
static const double district_ll[20][2] = {
    {48.8626, 2.3363}, {48.8683, 2.3428}, {48.8630, 2.3601}, {48.8543, 2.3576},
    {48.8445, 2.3507}, {48.8491, 2.3328}, {48.8562, 2.3121}, {48.8727, 2.3125},
    {48.8770, 2.3375}, {48.8761, 2.3608}, {48.8591, 2.3800}, {48.8400, 2.3950},
    {48.8283, 2.3623}, {48.8291, 2.3266}, {48.8401, 2.2930}, {48.8600, 2.2750},
    {48.8873, 2.3067}, {48.8925, 2.3484}, {48.8871, 2.3848}, {48.8634, 2.4012},
};

void demo__district_center(int arr, double *lat, double *lon)
{
    if (arr < 1 || arr > 20)
        arr = 12;
    *lat = district_ll[arr - 1][0];
    *lon = district_ll[arr - 1][1];
}

int demo__district_of(double lat, double lon)
{
    int best = 1;
    double bd = 1e300;
    for (int i = 0; i < 20; i++) {
        double dy = lat - district_ll[i][0];
        double dx = (lon - district_ll[i][1]) * 0.658; /* cos(48.85 deg) */
        double d = dx * dx + dy * dy;
        if (d < bd) {
            bd = d;
            best = i + 1;
        }
    }
    return best;
}

/* Europe/Paris (= Europe/Madrid) under the EU rule: core/timefmt. */
static const struct tf_zone *paris(void)
{
    static const struct tf_zone z = {60, 1}; /* what tf_zone_find("Europe/Paris") gives */
    return &z;
}

int64_t demo__cet_offset_ms(int64_t utc_ms)
{
    return tf_offset_at(paris(), utc_ms);
}

int64_t demo__cet_local_to_utc(int64_t local_ms)
{
    /* never fails: a local time in the spring gap is read with the winter offset */
    return local_ms - tf_offset_at(paris(), local_ms - HOUR_MS);
}

/* ---- field helpers over the CSV reader (ingest/csv.c) ---------------------------------------- */

/* Field i trimmed into out (NUL-terminated, cap bytes). 0, or VG_EINVAL if absent or too long. */
static int fld_str(const struct csv *c, int i, char *out, size_t cap)
{
    if (i < 0 || (uint32_t)i >= c->nf)
        return VG_EINVAL;
    const char *p = c->f[i];
    size_t n = c->fl[i];
    csv_trim(&p, &n);
    if (n >= cap)
        return VG_EINVAL;
    memcpy(out, p, n);
    out[n] = '\0';
    return VG_OK;
}

/* 1 and *v for a finite number, 0 for an empty or "n/d"-like missing value, VG_EINVAL for
** anything else that is not a number. */
static int parse_num(const char *p, size_t n, double *v)
{
    char tmp[64];
    csv_trim(&p, &n);
    if (n == 0)
        return 0;
    if (n >= sizeof(tmp))
        return VG_EINVAL;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    if (!strcmp(tmp, "n/d") || !strcmp(tmp, "N/D") || !strcmp(tmp, "NA") || !strcmp(tmp, "-"))
        return 0;
    char *e = NULL;
    errno = 0;
    double d = strtod(tmp, &e);
    if (e == tmp || *e || errno || !isfinite(d))
        return VG_EINVAL;
    *v = d;
    return 1;
}

static int fld_num(const struct csv *c, int i, double *v)
{
    if (i < 0 || (uint32_t)i >= c->nf)
        return VG_EINVAL;
    return parse_num(c->f[i], c->fl[i], v);
}

static int read_file(const char *path, char **out, size_t *len)
{
    int rc = VG_OK;
    char *data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? VG_ENOENT : VG_EIO;
    if (fseek(f, 0, SEEK_END) != 0) {
        rc = VG_EIO;
        goto out;
    }
    long sz = ftell(f);
    if (sz < 0 || fseek(f, 0, SEEK_SET) != 0) {
        rc = VG_EIO;
        goto out;
    }
    if ((unsigned long)sz > SAMPLE_MAX_FILE) {
        rc = VG_ETOOBIG;
        goto out;
    }
    data = vg_malloc((size_t)sz + 1);
    if (fread(data, 1, (size_t)sz, f) != (size_t)sz) {
        rc = VG_EIO;
        goto out;
    }
    data[sz] = '\0';
    *out = data;
    *len = (size_t)sz;
    data = NULL;
out:
    free(data);
    fclose(f);
    return rc;
}

/* ---- pivot: (entity, ts, attribute, value) records -> one line per (entity, ts) ------------- */

enum rec_kind { REC_F64, REC_I64, REC_STR };

struct rec {
    uint32_t ent;
    uint32_t seq; /* insertion order: keeps the attribute order of a line stable */
    int64_t ts;
    const char *attr; /* static string */
    enum rec_kind kind;
    int decimals;
    double f;
    int64_t i;
    const char *s; /* static string */
};

struct sent {
    char key[64];
    char id[160];
    const char *meas;
    const char *tk[SAMPLE_MAX_TAGS];
    char *tv[SAMPLE_MAX_TAGS];
    int ntags;
    double lat, lon;
    int has_loc;
};

struct pivot {
    struct sent *ents;
    uint32_t nents, ecap;
    struct rec *recs;
    size_t nrecs, rcap;
};

static void pivot_release(struct pivot *pv)
{
    for (uint32_t i = 0; i < pv->nents; i++)
        for (int t = 0; t < pv->ents[i].ntags; t++)
            free(pv->ents[i].tv[t]);
    free(pv->ents);
    free(pv->recs);
    memset(pv, 0, sizeof(*pv));
}

/* Find or create the entity with this key. *created tells whether the caller must fill it. */
static int pivot_ent(struct pivot *pv, const char *key, uint32_t *idx, int *created)
{
    *created = 0;
    for (uint32_t i = pv->nents; i-- > 0;) {
        if (!strcmp(pv->ents[i].key, key)) {
            *idx = i;
            return VG_OK;
        }
    }
    if (pv->nents >= SAMPLE_MAX_ENTS || strlen(key) >= sizeof(pv->ents[0].key))
        return VG_ETOOBIG;
    if (pv->nents == pv->ecap) {
        pv->ecap = pv->ecap ? pv->ecap * 2 : 16;
        pv->ents = vg_realloc(pv->ents, pv->ecap * sizeof(*pv->ents));
    }
    struct sent *e = &pv->ents[pv->nents];
    memset(e, 0, sizeof(*e));
    snprintf(e->key, sizeof(e->key), "%s", key);
    *idx = pv->nents++;
    *created = 1;
    return VG_OK;
}

static void ent_tag(struct sent *e, const char *k, const char *v)
{
    if (e->ntags < SAMPLE_MAX_TAGS && v && *v) {
        e->tk[e->ntags] = k;
        e->tv[e->ntags] = vg_strdup(v);
        e->ntags++;
    }
}

static struct rec *pivot_add(struct pivot *pv, uint32_t ent, int64_t ts, const char *attr)
{
    if (pv->nrecs >= SAMPLE_MAX_RECS)
        return NULL;
    if (pv->nrecs == pv->rcap) {
        pv->rcap = pv->rcap ? pv->rcap * 2 : 1024;
        pv->recs = vg_realloc(pv->recs, pv->rcap * sizeof(*pv->recs));
    }
    struct rec *r = &pv->recs[pv->nrecs];
    memset(r, 0, sizeof(*r));
    r->ent = ent;
    r->seq = (uint32_t)pv->nrecs;
    r->ts = ts;
    r->attr = attr;
    pv->nrecs++;
    return r;
}

static int add_f64(struct pivot *pv, uint32_t ent, int64_t ts, const char *attr, double v, int dec)
{
    struct rec *r = pivot_add(pv, ent, ts, attr);
    if (!r)
        return VG_ETOOBIG;
    r->kind = REC_F64;
    r->f = v;
    r->decimals = dec;
    return VG_OK;
}

static int add_i64(struct pivot *pv, uint32_t ent, int64_t ts, const char *attr, int64_t v)
{
    struct rec *r = pivot_add(pv, ent, ts, attr);
    if (!r)
        return VG_ETOOBIG;
    r->kind = REC_I64;
    r->i = v;
    return VG_OK;
}

static int add_str(struct pivot *pv, uint32_t ent, int64_t ts, const char *attr, const char *s)
{
    struct rec *r = pivot_add(pv, ent, ts, attr);
    if (!r)
        return VG_ETOOBIG;
    r->kind = REC_STR;
    r->s = s;
    return VG_OK;
}

static int rec_cmp(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    if (x->ent != y->ent)
        return x->ent < y->ent ? -1 : 1;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

static int pivot_write(struct pivot *pv, struct demo_lpw *w, struct demo_sample_stats *st)
{
    uint64_t l0 = w->lines, v0 = w->values;
    if (pv->nrecs)
        qsort(pv->recs, pv->nrecs, sizeof(*pv->recs), rec_cmp);
    size_t i = 0;
    uint32_t last_ent = UINT32_MAX;
    while (i < pv->nrecs && !w->rc) {
        size_t j = i;
        while (j < pv->nrecs && pv->recs[j].ent == pv->recs[i].ent &&
               pv->recs[j].ts == pv->recs[i].ts)
            j++;
        const struct sent *e = &pv->ents[pv->recs[i].ent];
        demo__lpw_begin(w, e->meas);
        demo__lpw_tag(w, "id", e->id);
        for (int t = 0; t < e->ntags; t++)
            demo__lpw_tag(w, e->tk[t], e->tv[t]);
        for (size_t k = i; k < j; k++) {
            const struct rec *r = &pv->recs[k];
            int dup = 0;
            for (size_t q = i; q < k; q++)
                if (!strcmp(pv->recs[q].attr, r->attr))
                    dup = 1; /* the same attribute twice at one instant: keep the first */
            if (dup)
                continue;
            if (r->kind == REC_F64)
                demo__lpw_f64(w, r->attr, r->f, r->decimals);
            else if (r->kind == REC_I64)
                demo__lpw_i64(w, r->attr, r->i);
            else
                demo__lpw_str(w, r->attr, r->s);
        }
        if (pv->recs[i].ent != last_ent) {
            last_ent = pv->recs[i].ent;
            st->entities++;
            if (e->has_loc)
                demo__lpw_geo(w, e->lat, e->lon);
        }
        demo__lpw_end(w, pv->recs[i].ts);
        i = j;
    }
    st->lines += w->lines - l0;
    st->values += w->values - v0;
    return w->rc;
}

/* ---- Paris permanent road-traffic counters --------------------------------------------------- */

static const char *const traffic_states[] = {
    "Fluide", "Pr\xc3\xa9-satur\xc3\xa9", "Satur\xc3\xa9", "Bloqu\xc3\xa9", "Inconnu",
};

int demo__samples_paris_traffic(const char *path, struct demo_lpw *w, struct demo_sample_stats *st)
{
    char *data = NULL;
    size_t len = 0;
    struct csv c;
    struct pivot pv;
    memset(&pv, 0, sizeof(pv));
    memset(st, 0, sizeof(*st));
    int rc = read_file(path, &data, &len);
    if (rc)
        return rc;
    csv_init(&c, data, len, ';');
    int ci_arc = -1, ci_name = -1, ci_date = -1, ci_flow = -1, ci_occ = -1, ci_state = -1,
        ci_geo = -1;
    if (csv_next(&c) == 1) {
        ci_arc = csv_find(&c, "Identifiant arc");
        ci_name = csv_find(&c, "Libelle");
        ci_date = csv_find(&c, "Date et heure de comptage");
        ci_flow = csv_find(&c, "D\xc3\xa9" "bit horaire");
        ci_occ = csv_find(&c, "Taux d'occupation");
        ci_state = csv_find(&c, "Etat trafic");
        ci_geo = csv_find(&c, "geo_point_2d");
    }
    if (ci_arc < 0 || ci_date < 0 || ci_flow < 0 || ci_occ < 0) {
        log_warn("demo samples: '%s': unexpected header", path);
        rc = VG_EINVAL;
        goto out;
    }
    for (;;) {
        int r = csv_next(&c);
        if (r == 0)
            break;
        st->rows++;
        char arc[32], date[64], state[64], geo[96], name[128];
        int64_t ts;
        double flow = 0, occ = 0;
        int hf, ho;
        if (r < 0 || fld_str(&c, ci_arc, arc, sizeof(arc)) || !arc[0] ||
            fld_str(&c, ci_date, date, sizeof(date)) ||
            clock_parse_time(date, strlen(date), &ts)) {
            st->bad++;
            continue;
        }
        hf = fld_num(&c, ci_flow, &flow);
        ho = fld_num(&c, ci_occ, &occ);
        if (hf < 0 || ho < 0) {
            st->bad++;
            continue;
        }
        if (!hf && !ho) {
            st->empty++;
            continue;
        }
        uint32_t ei;
        int created;
        char key[64];
        snprintf(key, sizeof(key), "%s", arc);
        rc = pivot_ent(&pv, key, &ei, &created);
        if (rc)
            goto out;
        struct sent *e = &pv.ents[ei];
        if (created) {
            e->meas = "TrafficFlowObserved";
            snprintf(e->id, sizeof(e->id), "urn:ngsi-ld:TrafficFlowObserved:paris-arc-%s", arc);
            if (!fld_str(&c, ci_geo, geo, sizeof(geo))) {
                char *comma = strchr(geo, ',');
                double la, lo;
                if (comma && parse_num(geo, (size_t)(comma - geo), &la) == 1 &&
                    parse_num(comma + 1, strlen(comma + 1), &lo) == 1) {
                    e->lat = la;
                    e->lon = lo;
                    e->has_loc = 1;
                }
            }
            char dist[16] = "";
            if (e->has_loc)
                snprintf(dist, sizeof(dist), "750%02d", demo__district_of(e->lat, e->lon));
            ent_tag(e, "district", dist);
            ent_tag(e, "kind", "mobility");
            if (!fld_str(&c, ci_name, name, sizeof(name)))
                ent_tag(e, "name", name);
            ent_tag(e, "source", "paris_comptages_routiers");
        }
        if (hf)
            rc = add_i64(&pv, ei, ts, "intensity", llround(flow));
        if (!rc && ho)
            rc = add_f64(&pv, ei, ts, "occupancy", occ / 100.0, 6);
        if (!rc && !fld_str(&c, ci_state, state, sizeof(state))) {
            for (size_t k = 0; k < VG_ARRAY_LEN(traffic_states); k++)
                if (!strcmp(state, traffic_states[k]))
                    rc = add_str(&pv, ei, ts, "trafficState", traffic_states[k]);
        }
        if (rc)
            goto out;
    }
    rc = pivot_write(&pv, w, st);
out:
    pivot_release(&pv);
    csv_release(&c);
    free(data);
    return rc;
}

/* ---- Atmo Occitanie 72-hour export ----------------------------------------------------------- */

static const char *const occ_poll[][2] = {
    {"PM2.5", "pm25"}, {"PM10", "pm10"}, {"NO2", "no2"}, {"O3", "o3"},
    {"NO", "no"},      {"NOX as NO2", "nox"}, {"SO2", "so2"}, {"H2S", "h2s"},
};

int demo__samples_occitanie(const char *path, struct demo_lpw *w, struct demo_sample_stats *st)
{
    char *data = NULL;
    size_t len = 0;
    struct csv c;
    struct pivot pv;
    memset(&pv, 0, sizeof(pv));
    memset(st, 0, sizeof(*st));
    int rc = read_file(path, &data, &len);
    if (rc)
        return rc;
    csv_init(&c, data, len, ',');
    int cx = -1, cy = -1, ccom = -1, cins = -1, cname = -1, ccode = -1, ctyp = -1, cinf = -1,
        cpoll = -1, cval = -1, cdate = -1, cvalid = -1;
    if (csv_next(&c) == 1) {
        cx = csv_find(&c, "X");
        cy = csv_find(&c, "Y");
        ccom = csv_find(&c, "nom_com");
        cins = csv_find(&c, "insee_com");
        cname = csv_find(&c, "nom_station");
        ccode = csv_find(&c, "code_station");
        ctyp = csv_find(&c, "typologie");
        cinf = csv_find(&c, "influence");
        cpoll = csv_find(&c, "nom_poll");
        cval = csv_find(&c, "valeur");
        cdate = csv_find(&c, "date_debut");
        cvalid = csv_find(&c, "statut_valid");
    }
    if (ccode < 0 || cpoll < 0 || cval < 0 || cdate < 0) {
        log_warn("demo samples: '%s': unexpected header", path);
        rc = VG_EINVAL;
        goto out;
    }
    for (;;) {
        int r = csv_next(&c);
        if (r == 0)
            break;
        st->rows++;
        char code[32], poll[32], date[64], valid[8], tmp[128];
        int64_t ts;
        double v = 0;
        const char *attr = NULL;
        if (r < 0 || fld_str(&c, ccode, code, sizeof(code)) || !code[0] ||
            fld_str(&c, cpoll, poll, sizeof(poll)) || fld_str(&c, cdate, date, sizeof(date)) ||
            clock_parse_time(date, strlen(date), &ts)) {
            st->bad++;
            continue;
        }
        for (size_t k = 0; k < VG_ARRAY_LEN(occ_poll); k++)
            if (!strcmp(poll, occ_poll[k][0]))
                attr = occ_poll[k][1];
        int hv = fld_num(&c, cval, &v);
        if (!attr || hv < 0) {
            st->bad++;
            continue;
        }
        if (cvalid >= 0 && !fld_str(&c, cvalid, valid, sizeof(valid)) && strcmp(valid, "t"))
            hv = 0; /* not validated by the network: dropped */
        if (hv && v < 0)
            hv = 0; /* analyser noise around zero (-0.8): the model's minimum is 0 (an import
                       of the same file quarantines these rows; the demo leaves them out) */
        if (!hv) {
            st->empty++;
            continue;
        }
        uint32_t ei;
        int created;
        rc = pivot_ent(&pv, code, &ei, &created);
        if (rc)
            goto out;
        struct sent *e = &pv.ents[ei];
        if (created) {
            double la, lo;
            e->meas = "AirQualityObserved";
            snprintf(e->id, sizeof(e->id), "urn:ngsi-ld:AirQualityObserved:%s", code);
            if (fld_num(&c, cy, &la) == 1 && fld_num(&c, cx, &lo) == 1) {
                e->lat = la;
                e->lon = lo;
                e->has_loc = 1;
            }
            ent_tag(e, "kind", "air");
            if (!fld_str(&c, cname, tmp, sizeof(tmp)))
                ent_tag(e, "name", tmp);
            if (!fld_str(&c, ccom, tmp, sizeof(tmp)))
                ent_tag(e, "city", tmp);
            if (!fld_str(&c, cins, tmp, sizeof(tmp)))
                ent_tag(e, "insee", tmp);
            if (!fld_str(&c, ctyp, tmp, sizeof(tmp)))
                ent_tag(e, "stationType", tmp);
            if (!fld_str(&c, cinf, tmp, sizeof(tmp)))
                ent_tag(e, "influence", tmp);
            ent_tag(e, "source", "atmo_occitanie");
        }
        rc = add_f64(&pv, ei, ts, attr, v, 1);
        if (rc)
            goto out;
    }
    rc = pivot_write(&pv, w, st);
out:
    pivot_release(&pv);
    csv_release(&c);
    free(data);
    return rc;
}

/* ---- Airparif PA13, 2018 --------------------------------------------------------------------- */

/* "dd/mm/yyyy" -> days since epoch. */
static int parse_dmy(const char *s, int64_t *days)
{
    int d, m, y;
    char extra;
    if (sscanf(s, "%2d/%2d/%4d%c", &d, &m, &y, &extra) != 3)
        return VG_EINVAL;
    if (d < 1 || d > 31 || m < 1 || m > 12 || y < 1900 || y > 2200)
        return VG_EINVAL;
    *days = clock_days_from_civil(y, (unsigned)m, (unsigned)d);
    return VG_OK;
}

int demo__samples_pa13(const char *path, struct demo_lpw *w, struct demo_sample_stats *st)
{
    char *data = NULL;
    size_t len = 0;
    struct csv c;
    struct pivot pv;
    memset(&pv, 0, sizeof(pv));
    memset(st, 0, sizeof(*st));
    int rc = read_file(path, &data, &len);
    if (rc)
        return rc;
    csv_init(&c, data, len, ';');
    int cdate = -1, chour = -1, cno2 = -1, co3 = -1;
    if (csv_next(&c) == 1) {
        cdate = csv_find(&c, "date");
        chour = csv_find(&c, "heure");
        cno2 = csv_find(&c, "NO2");
        co3 = csv_find(&c, "O3");
    }
    if (cdate < 0 || chour < 0 || cno2 < 0 || co3 < 0) {
        log_warn("demo samples: '%s': unexpected header", path);
        rc = VG_EINVAL;
        goto out;
    }
    uint32_t ei;
    int created;
    rc = pivot_ent(&pv, "PA13", &ei, &created);
    if (rc)
        goto out;
    struct sent *e = &pv.ents[ei];
    e->meas = "AirQualityObserved";
    snprintf(e->id, sizeof(e->id), "urn:ngsi-ld:AirQualityObserved:PA13");
    e->lat = 48.8283; /* Paris 13e urban background station, approximate */
    e->lon = 2.3597;
    e->has_loc = 1;
    ent_tag(e, "district", "75013");
    ent_tag(e, "kind", "air");
    ent_tag(e, "name", "Paris 13e (Airparif PA13)");
    ent_tag(e, "source", "airparif");
    for (;;) {
        int r = csv_next(&c);
        if (r == 0)
            break;
        char date[32], hour[8];
        if (r > 0 && c.nf >= 1 && c.fl[0] == 0 && st->rows == 0)
            continue; /* the units row (";;microg/m3;microg/m3") */
        st->rows++;
        int64_t days;
        double h = 0, no2 = 0, o3 = 0;
        if (r < 0 || fld_str(&c, cdate, date, sizeof(date)) || parse_dmy(date, &days) ||
            fld_str(&c, chour, hour, sizeof(hour)) || parse_num(hour, strlen(hour), &h) != 1 ||
            h < 1 || h > 24 || h != floor(h)) {
            st->bad++;
            continue;
        }
        int a = fld_num(&c, cno2, &no2), b = fld_num(&c, co3, &o3);
        if (a < 0 || b < 0) {
            st->bad++;
            continue;
        }
        if (!a && !b) {
            st->empty++;
            continue;
        }
        /* Hour h (1..24) ends at h:00 in French standard time (UTC+1 all year: every day of the
        ** file has 24 rows, DST change days included). The point is stamped at the hour's
        ** start, like the other hourly sources. */
        int64_t ts = days * DAY_MS + ((int64_t)h - 1) * HOUR_MS - HOUR_MS;
        if (a)
            rc = add_f64(&pv, ei, ts, "no2", no2, 1);
        if (!rc && b)
            rc = add_f64(&pv, ei, ts, "o3", o3, 1);
        if (rc)
            goto out;
    }
    rc = pivot_write(&pv, w, st);
out:
    pivot_release(&pv);
    csv_release(&c);
    free(data);
    return rc;
}

/* ---- Madrid noise network -------------------------------------------------------------------- */

struct mstation {
    int nmt;
    char name[128];
    double lat, lon;
    int has_loc;
};

static int load_madrid_stations(const char *path, struct mstation **out, int *n)
{
    char *raw = NULL, *data = NULL;
    size_t len = 0;
    struct mstation *arr = NULL;
    int cnt = 0, cap = 0;
    struct csv c;
    int have_csv = 0;
    int rc = read_file(path, &raw, &len);
    if (rc)
        goto out;
    size_t bad_at = 0;
    rc = csv_to_utf8(raw, len, "ISO-8859-1", &data, &len, &bad_at);
    if (rc)
        goto out;
    csv_init(&c, data, len, ';');
    have_csv = 1;
    int cname = -1, clat = -1, clon = -1;
    if (csv_next(&c) == 1) {
        cname = csv_find(&c, "Nombre");
        clat = csv_find(&c, "LATITUD_WGS84");
        clon = csv_find(&c, "LONGITUD_WGS84");
    }
    if (cname < 0 || clat < 0 || clon < 0) {
        rc = VG_EINVAL;
        goto out;
    }
    for (;;) {
        int r = csv_next(&c);
        if (r == 0)
            break;
        double num;
        if (r < 0 || fld_num(&c, 0, &num) != 1 || num != floor(num) || num < 0 || num > 1e6)
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 32;
            arr = vg_realloc(arr, (size_t)cap * sizeof(*arr));
        }
        struct mstation *s = &arr[cnt++];
        memset(s, 0, sizeof(*s));
        s->nmt = (int)num;
        if (fld_str(&c, cname, s->name, sizeof(s->name)))
            s->name[0] = '\0';
        s->has_loc = fld_num(&c, clat, &s->lat) == 1 && fld_num(&c, clon, &s->lon) == 1;
    }
    *out = arr;
    *n = cnt;
    arr = NULL;
out:
    if (have_csv)
        csv_release(&c);
    free(arr);
    free(raw);
    free(data);
    return rc;
}

static const char *const madrid_attr[4][6] = {
    {"laeq_T", "las01_T", "las10_T", "las50_T", "las90_T", "las99_T"},
    {"laeq_D", "las01_D", "las10_D", "las50_D", "las90_D", "las99_D"},
    {"laeq_E", "las01_E", "las10_E", "las50_E", "las90_E", "las99_E"},
    {"laeq_N", "las01_N", "las10_N", "las50_N", "las90_N", "las99_N"},
};

int demo__samples_madrid_noise(const char *noise_path, const char *stations_path,
                               struct demo_lpw *w, struct demo_sample_stats *st)
{
    char *data = NULL;
    size_t len = 0;
    struct csv c;
    int have_csv = 0;
    struct pivot pv;
    struct mstation *sta = NULL;
    int nsta = 0;
    memset(&pv, 0, sizeof(pv));
    memset(st, 0, sizeof(*st));
    int rc = read_file(noise_path, &data, &len);
    if (rc)
        goto out;
    if (load_madrid_stations(stations_path, &sta, &nsta))
        log_warn("demo samples: cannot read madrid stations '%s': noise without locations",
                 stations_path);
    csv_init(&c, data, len, ';');
    have_csv = 1;
    int cols[11] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
    static const char *const names[11] = {"NMT",   "anio",  "mes",   "dia",   "tipo", "LAEQ",
                                          "LAS01", "LAS10", "LAS50", "LAS90", "LAS99"};
    if (csv_next(&c) == 1)
        for (int k = 0; k < 11; k++)
            cols[k] = csv_find(&c, names[k]);
    for (int k = 0; k < 11; k++) {
        if (cols[k] < 0) {
            log_warn("demo samples: '%s': unexpected header", noise_path);
            rc = VG_EINVAL;
            goto out;
        }
    }
    for (;;) {
        int r = csv_next(&c);
        if (r == 0)
            break;
        st->rows++;
        double nmt, y, mo, d, v[6];
        char tipo[8];
        int ok = r > 0 && fld_num(&c, cols[0], &nmt) == 1 && fld_num(&c, cols[1], &y) == 1 &&
                 fld_num(&c, cols[2], &mo) == 1 && fld_num(&c, cols[3], &d) == 1 &&
                 !fld_str(&c, cols[4], tipo, sizeof(tipo));
        int ti = -1;
        if (ok) {
            ti = !strcmp(tipo, "T") ? 0 : !strcmp(tipo, "D") ? 1 : !strcmp(tipo, "E") ? 2
                 : !strcmp(tipo, "N") ? 3 : -1;
            ok = ti >= 0 && nmt >= 0 && nmt < 1e6 && y >= 1900 && y <= 2200 && mo >= 1 &&
                 mo <= 12 && d >= 1 && d <= 31;
        }
        int nv = 0;
        for (int k = 0; ok && k < 6; k++) {
            int h = fld_num(&c, cols[5 + k], &v[k]);
            if (h < 0)
                ok = 0;
            else if (h == 0)
                v[k] = NAN;
            else
                nv++;
        }
        if (!ok) {
            st->bad++;
            continue;
        }
        if (!nv) {
            st->empty++;
            continue;
        }
        char key[32];
        snprintf(key, sizeof(key), "%d", (int)nmt);
        uint32_t ei;
        int created;
        rc = pivot_ent(&pv, key, &ei, &created);
        if (rc)
            goto out;
        struct sent *e = &pv.ents[ei];
        if (created) {
            e->meas = "NoiseLevelObserved";
            snprintf(e->id, sizeof(e->id), "urn:ngsi-ld:NoiseLevelObserved:madrid-%d", (int)nmt);
            for (int s = 0; s < nsta; s++) {
                if (sta[s].nmt == (int)nmt) {
                    ent_tag(e, "name", sta[s].name);
                    e->lat = sta[s].lat;
                    e->lon = sta[s].lon;
                    e->has_loc = sta[s].has_loc;
                }
            }
            ent_tag(e, "city", "Madrid");
            ent_tag(e, "kind", "noise");
            ent_tag(e, "source", "madrid_noise");
        }
        /* One line per station and day, stamped at local midnight (Europe/Madrid, CET/CEST). */
        int64_t day = clock_days_from_civil((int64_t)y, (unsigned)mo, (unsigned)d);
        int64_t ts = demo__cet_local_to_utc(day * DAY_MS);
        for (int k = 0; k < 6 && !rc; k++)
            if (!isnan(v[k]))
                rc = add_f64(&pv, ei, ts, madrid_attr[ti][k], v[k], 1);
        if (rc)
            goto out;
    }
    rc = pivot_write(&pv, w, st);
out:
    if (have_csv)
        csv_release(&c);
    pivot_release(&pv);
    free(sta);
    free(data);
    return rc;
}

/* ---- directory loader ------------------------------------------------------------------------ */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void log_stats(const char *path, int rc, const struct demo_sample_stats *st)
{
    if (rc == VG_ENOENT) {
        log_info("demo samples: '%s' not found, skipped", path);
        return;
    }
    if (rc) {
        log_warn("demo samples: cannot load '%s': %s", path, vg_strerror(rc));
        return;
    }
    log_info("demo samples: '%s': %llu rows, %llu bad, %llu empty, %llu entities, %llu lines, "
             "%llu values",
             path, (unsigned long long)st->rows, (unsigned long long)st->bad,
             (unsigned long long)st->empty, (unsigned long long)st->entities,
             (unsigned long long)st->lines, (unsigned long long)st->values);
}

int demo__samples_load_dir(const char *dir, demo_emit_fn *emit, void *arg, uint64_t *values_out)
{
    struct demo_lpw w;
    struct demo_sample_stats st;
    char path[4096], path2[4096];
    char *names[256];
    int nnames = 0;
    int rc = VG_OK;
    demo__lpw_init(&w, emit, arg);

    snprintf(path, sizeof(path), "%s/paris_comptages_routiers", dir);
    DIR *dh = opendir(path);
    if (dh) {
        struct dirent *de;
        while ((de = readdir(dh)) != NULL && nnames < (int)VG_ARRAY_LEN(names)) {
            size_t n = strlen(de->d_name);
            if (n > 4 && !strcmp(de->d_name + n - 4, ".csv"))
                names[nnames++] = vg_strdup(de->d_name);
        }
        closedir(dh);
        qsort(names, (size_t)nnames, sizeof(names[0]), name_cmp);
    } else {
        log_info("demo samples: '%s' not found, skipped", path);
    }
    for (int i = 0; i < nnames && !w.rc; i++) {
        snprintf(path, sizeof(path), "%s/paris_comptages_routiers/%s", dir, names[i]);
        rc = demo__samples_paris_traffic(path, &w, &st);
        log_stats(path, rc, &st);
    }
    if (!w.rc) {
        snprintf(path, sizeof(path), "%s/air_quality_occitanie_paris/%s", dir,
                 "Mesure_72h_Region_Occitanie_Polluants_Principaux.csv");
        rc = demo__samples_occitanie(path, &w, &st);
        log_stats(path, rc, &st);
    }
    if (!w.rc) {
        snprintf(path, sizeof(path), "%s/air_quality_occitanie_paris/PA13_2018.csv", dir);
        rc = demo__samples_pa13(path, &w, &st);
        log_stats(path, rc, &st);
    }
    if (!w.rc) {
        snprintf(path, sizeof(path), "%s/madrid_noise/RuidoDiario2021Original.csv", dir);
        snprintf(path2, sizeof(path2), "%s/madrid_noise/EstacionesMedidaOriginal.csv", dir);
        rc = demo__samples_madrid_noise(path, path2, &w, &st);
        log_stats(path, rc, &st);
    }
    rc = demo__lpw_flush(&w);
    if (values_out)
        *values_out = w.values;
    for (int i = 0; i < nnames; i++)
        free(names[i]);
    demo__lpw_release(&w);
    return rc;
}
