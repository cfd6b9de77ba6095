/*
** app/server.c: start-up, signal handling and clean shutdown of the daemon.
**
**   start:  lock DIR/LOCK -> meta_open(DIR/meta.db) -> store_open(DIR/store) -> catalog_open
**           (declares every series) -> store_recover (WAL replay) -> ingest -> NGSI-LD (@context
**           registry, entity store: loads every entity document, subscriptions) -> source
**           registry and gateway file -> api -> http -> gateway threads (MQTT)
**   stop (SIGTERM/SIGINT): http_quiesce (no new connections) -> demo_stop -> http_stop (in-flight
**           requests finish) -> gateway_free (MQTT batch in hand finished) -> subs_free -> entstore_free (commits what is queued)
**           -> store_close (final checkpoint: head -> blocks, WAL emptied)
**           -> catalog_free -> meta_close -> unlock -> exit 0
*/
#include "app/server.h"

#include "alerts/alerts.h"
#include "api/live.h"
#include "app/replay.h"

#include "core/clock.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int lock_data_dir(const char *dir)
{
    char path[600];
    if (mkdir(dir, 0750) && errno != EEXIST) {
        log_error("cannot create data directory '%s': %s", dir, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/LOCK", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        log_error("cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        log_error("data directory '%s' is in use by another vigie process", dir);
        close(fd);
        return -1;
    }
    return fd;
}

/* Apply the configured retention rules to the groups that exist now (new groups appear as data
** arrives, so this runs again every minute). */
struct retention_ctx {
    struct vg_server *s;
    const struct config_retention *r;
};

static int retention_one(void *arg, const struct catalog_series *cs)
{
    struct retention_ctx *c = arg;
    if (strcmp(c->r->type, "*") == 0 || strcmp(c->r->type, cs->type) == 0)
        store_set_retention(c->s->store, cs->group, c->r->keep_ms);
    return 0;
}

static void apply_retention(struct vg_server *s)
{
    /* "*" rules first so that a rule for a specific type overrides them. */
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < s->cfg.nretention; i++) {
            const struct config_retention *r = &s->cfg.retention[i];
            if ((strcmp(r->type, "*") == 0) != (pass == 0))
                continue;
            struct retention_ctx c = {s, r};
            struct catalog_sel sel = {r->tenant, strcmp(r->type, "*") ? r->type : NULL,
                                      NULL, NULL, NULL, 0};
            catalog_select(s->cat, &sel, retention_one, &c);
        }
    }
}

/* Test hook (docs/testing.md): with VIGIE_TEST_FAULT_CTL=PATH in the environment the store runs
** on the fault-injecting VFS, and the disk is "full" while the file PATH exists. Never set in
** production; logged loudly at start. */
static void poll_fault_ctl(struct vg_server *s)
{
    if (!s->fault_vfs)
        return;
    int full = access(s->fault_ctl, F_OK) == 0;
    if (full != s->fault_full) {
        io_fault_set_full(s->fault_vfs, full);
        s->fault_full = full;
        log_warn("test hook: disk %s", full ? "full" : "has space again");
    }
}

static void *maint_main(void *arg)
{
    struct vg_server *s = arg;
    int ticks = 0;
    while (!s->stopping) {
        poll_fault_ctl(s);
        if (ticks % 600 == 0 && s->cfg.nretention)
            apply_retention(s);
        if (ticks % 36000 == 0) { /* hourly: quarantine retention */
            uint64_t n = 0;
            int64_t before = clock_now_ms() - (int64_t)s->cfg.quarantine_days * 86400000;
            int rc = meta_quarantine_purge(s->meta, before, &n);
            if (rc)
                log_error("cannot purge the quarantine: %s", vg_strerror(rc));
            else if (n)
                log_info("quarantine: purged %llu rows older than %u days",
                         (unsigned long long)n, s->cfg.quarantine_days);
        }
        ticks++;
        usleep(100000);
    }
    return NULL;
}

static int load_user_context(void *arg, const struct meta_doc_row *row)
{
    struct vg_server *s = arg;
    json_t *doc = json_loadb(row->doc, row->len, 0, NULL);
    char id[128];
    if (!doc || ldctx_reg_add(s->ldreg, row->tenant, doc, id, sizeof(id)))
        log_error("NGSI-LD: stored @context %s of tenant %s cannot be loaded", row->id,
                  row->tenant);
    json_decref(doc);
    return 0;
}

/* NGSI-LD: the @context registry (built-in core, preloaded directories, the tenants' stored
** contexts) and the entity store. */
static void on_entity_change(void *arg, const char *tenant, const char *id, const json_t *old,
                             const json_t *new_);

static int ngsild_open(struct vg_server *s)
{
    char err[512];
    int rc = ldctx_reg_new(&s->ldreg);
    if (rc) {
        log_error("cannot create the @context registry: %s", vg_strerror(rc));
        return -1;
    }
    if (s->cfg.sdm_contexts[0]) {
        uint32_t n = 0;
        if (access(s->cfg.sdm_contexts, R_OK) != 0)
            log_warn("NGSI-LD: no Smart Data Models contexts at '%s' (--sdm-contexts)",
                     s->cfg.sdm_contexts);
        else if (ldctx_reg_load_sdm(s->ldreg, s->cfg.sdm_contexts, &n, err, sizeof(err)))
            log_warn("NGSI-LD: Smart Data Models contexts: %s", err);
        else
            log_info("NGSI-LD: preloaded %u Smart Data Models contexts from '%s'", n,
                     s->cfg.sdm_contexts);
    }
    if (s->cfg.contexts[0]) {
        if (ldctx_reg_load_manifest(s->ldreg, s->cfg.contexts, err, sizeof(err))) {
            log_error("NGSI-LD: --contexts %s: %s", s->cfg.contexts, err);
            return -1;
        }
        log_info("NGSI-LD: preloaded the @contexts of '%s/manifest.tsv'", s->cfg.contexts);
    }
    if ((rc = meta_docs_load(s->meta, "context", load_user_context, s))) {
        log_error("NGSI-LD: cannot load the stored @contexts: %s", vg_strerror(rc));
        return -1;
    }
    int64_t t0 = clock_mono_ns();
    if ((rc = entstore_open(s->meta, s->store, s->cat, &s->es))) {
        log_error("NGSI-LD: cannot load the entities: %s", vg_strerror(rc));
        return -1;
    }
    struct entstore_stats st;
    entstore_get_stats(s->es, &st);
    log_info("NGSI-LD: loaded %llu entities in %.1f ms", (unsigned long long)st.entities,
             (double)(clock_mono_ns() - t0) / 1e6);
    /* subs_open initialises libcurl and libmosquitto: before any other thread uses them */
    if ((rc = subs_open(s->meta, s->ldreg, &s->subs))) {
        log_error("NGSI-LD: cannot load the subscriptions: %s", vg_strerror(rc));
        return -1;
    }
    subs_set_entstore(s->subs, s->es); /* periodic (timeInterval) notifications read entities */
    entstore_set_observer(s->es, on_entity_change, s);
    return 0;
}

/* Validation of every incoming point: the Smart Data Models schemas of --datamodels (missing
** directory: a warning, no schemas) and the rules of the gateway file (a bad rule: no start). */
static int validation_open(struct vg_server *s)
{
    char err[700] = "";
    if (s->cfg.datamodels[0]) {
        if (access(s->cfg.datamodels, R_OK) != 0) {
            log_warn("validation: no Smart Data Models schemas at '%s' (--datamodels)",
                     s->cfg.datamodels);
        } else if (schema_set_load(s->cfg.datamodels, &s->schemas, err, sizeof(err))) {
            log_warn("validation: Smart Data Models schemas: %s", err);
        } else {
            if (err[0])
                log_warn("validation: schemas not loaded: %s", err);
            log_info("validation: %zu Smart Data Models schemas from '%s'",
                     schema_set_count(s->schemas), s->cfg.datamodels);
        }
    }
    validator_new(s->schemas, &s->val);
    const json_t *rules = s->gw ? gateway_rules(s->gw) : NULL;
    if (rules && validator_add_rule_json(s->val, rules, err, sizeof(err))) {
        log_error("gateway: %s: rules: %s", s->cfg.gateway, err);
        return -1;
    }
    if (rules)
        log_info("validation: %zu operator rules", validator_rule_count(s->val));
    ingest_set_validator(s->ig, s->val);
    return 0;
}

/* POST /api/v1/quarantine/replay: the same replay as `vigie quarantine replay`, on the running
** server (its gateway file as loaded at start). */
static int api_replay(void *arg, const struct api_replay_req *rq, struct api_replay_res *out)
{
    struct replay_opts o = {rq->tenant, rq->source, rq->id, rq->mapping};
    struct replay_result r;
    int rc = replay_run(arg, &o, &r);
    out->replayed = r.replayed;
    out->stored = r.stored;
    out->quarantined = r.quarantined;
    out->skipped = r.skipped;
    memcpy(out->first_errors, r.first_errors, sizeof(out->first_errors));
    return rc;
}

/* ---- one store, two doors: line protocol moves the current state of NGSI-LD documents ---- */

/* Every durable point, to the rules (keyed by sid: they need no names). */
static void lp_points(void *arg, const char *tenant, const char *source,
                      const struct store_point *p, size_t n)
{
    struct vg_server *s = arg;
    alerts_on_points(s->alerts, tenant, source, p, n);
}

/* The live feed and the documents need values with names. */
static int lp_wants(void *arg, const char *tenant, const char *entity, size_t elen)
{
    struct vg_server *s = arg;
    char id[1024];
    if (live_active(s->live))
        return 1;
    if (elen >= sizeof(id))
        return 0;
    memcpy(id, entity, elen);
    id[elen] = '\0';
    return entstore_has_doc(s->es, tenant, id);
}

/* The live values of an NGSI-LD change: the default instance of every Property with a number,
** string or boolean value, and of "location" (a Point), that differs from the old state. */
static int live_value_of(const json_t *inst, enum vg_vtype *vt, union vg_val *v)
{
    const char *t = json_string_value(json_object_get(inst, "type"));
    const json_t *val = json_object_get(inst, "value");
    if (!t || !val || json_object_get(inst, "datasetId"))
        return 0;
    if (!strcmp(t, "Property")) {
        if (json_is_integer(val)) {
            *vt = VT_I64;
            v->i = json_integer_value(val);
        } else if (json_is_real(val)) {
            *vt = VT_F64;
            v->f = json_real_value(val);
        } else if (json_is_boolean(val)) {
            *vt = VT_BOOL;
            v->i = json_is_true(val);
        } else if (json_is_string(val)) {
            *vt = VT_STR;
            v->s.p = json_string_value(val);
            v->s.len = (uint32_t)json_string_length(val);
        } else {
            return 0;
        }
        return 1;
    }
    const json_t *c = json_object_get(val, "coordinates");
    if (!strcmp(t, "GeoProperty") && json_array_size(c) >= 2 &&
        !strcmp(json_string_value(json_object_get(val, "type")) ?: "", "Point")) {
        *vt = VT_GEO;
        v->geo.lon = json_number_value(json_array_get(c, 0));
        v->geo.lat = json_number_value(json_array_get(c, 1));
        return 1;
    }
    return 0;
}

/* json_equal, where two absent members are the same too */
static int json_same(const json_t *a, const json_t *b)
{
    return (!a && !b) || json_equal((json_t *)a, (json_t *)b);
}

/* The values an NGSI-LD change set, to the live feed and the rules (the same values line
** protocol hands to lp_apply). */
static void values_from_change(struct vg_server *s, const char *tenant, const char *id,
                             const json_t *old, const json_t *new_)
{
    const json_t *attrs = json_object_get(new_, "attrs");
    const char *type = json_string_value(json_array_get(json_object_get(new_, "type"), 0));
    if (!attrs || !type)
        return;
    const json_t *oattrs = json_object_get(old, "attrs");
    struct ingest_update lp[64];
    uint32_t n = 0;
    const char *iri;
    const json_t *insts;
    json_object_foreach((json_t *)attrs, iri, insts) {
        const json_t *inst = json_array_get(insts, 0);
        if (n == VG_ARRAY_LEN(lp) || json_array_size(insts) != 1)
            continue;
        const json_t *was = json_array_get(json_object_get(oattrs, iri), 0);
        if (was && json_same(json_object_get(was, "value"), json_object_get(inst, "value")) &&
            json_same(json_object_get(was, "observedAt"), json_object_get(inst, "observedAt")))
            continue;
        struct ingest_update *p = &lp[n];
        if (!live_value_of(inst, &p->vt, &p->v))
            continue;
        const char *at = json_string_value(json_object_get(inst, "observedAt"));
        if (!at)
            at = json_string_value(json_object_get(inst, "modifiedAt"));
        if (!at || clock_parse_time(at, strlen(at), &p->ts))
            p->ts = clock_now_ms();
        p->sid = 0; /* a document's attribute: no store series to key by */
        p->source = NULL;
        p->entity = id;
        p->type = entstore_local_name(type);
        p->attr = entstore_local_name(iri);
        n++;
    }
    if (live_active(s->live))
        live_publish(s->live, tenant, lp, n);
    if (alerts_active(s->alerts))
        alerts_on_values(s->alerts, tenant, lp, n);
}

/* Set while lp_apply commits line-protocol values into documents: those values are in the live
** feed (lp_apply) and the rules (lp_points) already, so the observer, called in the same thread,
** does not repeat them. */
static _Thread_local int lp_applying;

static void on_entity_change(void *arg, const char *tenant, const char *id, const json_t *old,
                             const json_t *new_)
{
    struct vg_server *s = arg;
    subs_on_change(s->subs, tenant, id, old, new_);
    /* not the values of what lp_apply or the alert sink write: they were evaluated already, or
    ** are alerts themselves */
    if (new_ && !lp_applying && !alertsink_writing() &&
        (live_active(s->live) || alerts_active(s->alerts)))
        values_from_change(s, tenant, id, old, new_);
}

/* Order of lp_apply: entity, attribute, then the newest point first. */
static int update_cmp(const void *a, const void *b)
{
    const struct ingest_update *x = *(const struct ingest_update *const *)a;
    const struct ingest_update *y = *(const struct ingest_update *const *)b;
    int c = strcmp(x->entity, y->entity);
    if (!c)
        c = strcmp(x->attr, y->attr);
    return c ? c : (x->ts < y->ts) - (x->ts > y->ts);
}

/* The updates of one request: the newest value of each (entity, attribute), one change per
** entity, all in one batch (one group commit, however many lines the request had). */
static void lp_apply(void *arg, const char *tenant, const struct ingest_update *u, uint32_t n)
{
    struct vg_server *s = arg;
    /* every value of the request, to the live feed's watchers (only while there are some; the
    ** rules had them from lp_points) */
    if (live_active(s->live))
        live_publish(s->live, tenant, u, n);
    const struct ingest_update **o = vg_malloc(n * sizeof(*o));
    struct entstore_latest *l = vg_malloc(n * sizeof(*l));
    uint32_t nd = 0;
    int doc = 0;
    const char *prev = NULL;
    for (uint32_t i = 0; i < n; i++) { /* document entities only (lp_wants takes all for live) */
        if (!prev || strcmp(u[i].entity, prev))
            doc = entstore_has_doc(s->es, tenant, u[i].entity);
        prev = u[i].entity;
        if (doc)
            o[nd++] = &u[i];
    }
    if (!nd) {
        free(l);
        free(o);
        return;
    }
    n = nd;
    qsort(o, n, sizeof(*o), update_cmp);
    struct entstore_batch *b = entstore_batch_new(s->es, tenant);
    entstore_batch_no_history(b);
    int rc = 0;
    for (uint32_t i = 0; i < n && !rc;) {
        uint32_t j = i, k = 0;
        for (; j < n && !strcmp(o[j]->entity, o[i]->entity); j++)
            if (j == i || strcmp(o[j]->attr, o[j - 1]->attr)) /* the newest of each attribute */
                l[k++] = (struct entstore_latest){o[j]->attr, o[j]->vt, o[j]->v, o[j]->ts};
        rc = entstore_apply_latest(b, o[i]->entity, l, k);
        i = j;
    }
    lp_applying = 1;
    int rc2 = entstore_batch_finish(b);
    lp_applying = 0;
    if (rc || rc2) /* the points are durable; only the documents lag until their next change */
        log_error("NGSI-LD: current state not updated from line protocol: %s",
                  vg_strerror(rc ? rc : rc2));
    free(l);
    free(o);
}

/* Rules ({"rules":[...]} or [...]), each for its "tenant" or the default one, from `what` (a
** file, the demo). */
static int rules_apply(struct vg_server *s, json_t *doc, const char *what)
{
    const char *path = what;
    const json_t *arr = json_is_array(doc) ? doc : json_object_get(doc, "rules");
    if (!json_is_array(arr)) {
        log_error("rules of %s: expected {\"rules\":[...]} or an array of rules", path);
        json_decref(doc);
        return VG_EINVAL;
    }
    int rc = VG_OK;
    uint32_t counts[3] = {0, 0, 0};
    size_t i;
    const json_t *r;
    json_array_foreach(arr, i, r) {
        /* "tenant": the rule's tenant (default: the default tenant), not part of the rule */
        if (!json_is_object(r)) {
            log_error("rules of %s: rule %zu: not a JSON object", path, i + 1);
            rc = VG_EINVAL;
            continue;
        }
        const json_t *tj = json_object_get(r, "tenant");
        const char *tenant = tj ? json_string_value(tj) : "default";
        if (!tenant || !auth_tenant_valid(tenant)) {
            log_error("rules of %s: rule %zu: \"tenant\" must be a string of 1 to 63 letters, "
                      "digits, '_' or '-'", path, i + 1);
            rc = VG_EINVAL;
            continue;
        }
        json_t *rule = json_copy((json_t *)r);
        json_object_del(rule, "tenant");
        char *text = json_dumps(rule, JSON_COMPACT);
        json_decref(rule);
        char err[512];
        int changed = 0;
        if (alerts_rule_ensure(s->alerts, tenant, text, strlen(text), &changed, err,
                               sizeof(err))) {
            log_error("rules of %s: rule %zu: %s", path, i + 1, err);
            rc = VG_EINVAL;
        } else {
            counts[changed]++;
        }
        free(text);
    }
    json_decref(doc);
    if (!rc)
        log_info("rules of %s: %u created, %u replaced, %u unchanged", path, counts[1],
                 counts[2], counts[0]);
    return rc;
}

/* The rules of the configuration file. */
static int rules_from_file(struct vg_server *s, const char *path)
{
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc) {
        log_error("rules file '%s': %s (line %d)", path, je.text, je.line);
        return VG_EINVAL;
    }
    char what[600];
    snprintf(what, sizeof(what), "file '%s'", path);
    return rules_apply(s, doc, what);
}

/* The `anomaly = TYPE:attr,attr [score=S] [weeks=W]` settings: one anomaly rule per type and
** attribute ("anomaly.TYPE.attr"), so that anomaly detection needs no rule written by hand. */
static int anomaly_rules(struct vg_server *s)
{
    json_t *arr = json_array();
    for (uint32_t i = 0; i < s->cfg.nanomaly; i++) {
        const struct config_anomaly *an = &s->cfg.anomaly[i];
        char attrs[sizeof(an->attrs)];
        snprintf(attrs, sizeof(attrs), "%s", an->attrs);
        json_t *cond = json_object();
        if (an->score > 0)
            json_object_set_new(cond, "score", json_real(an->score));
        if (an->weeks)
            json_object_set_new(cond, "weeks", json_integer(an->weeks));
        char *save = NULL;
        for (char *a = strtok_r(attrs, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
            char id[200];
            snprintf(id, sizeof(id), "anomaly.%s.%s", an->type, a);
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:s},s:O}", "id", id,
                                                 "name", "Unusual value for the hour of the week",
                                                 "kind", "anomaly", "severity", "low", "target",
                                                 "type", an->type, "attr", a, "condition", cond));
        }
        json_decref(cond);
    }
    return rules_apply(s, arr, "the anomaly settings");
}

/* The alert engine, its lifecycle policy, its rules from the configuration, and where its
** changes go (app/alertsink: live feed, notifications, NGSI-LD Alert entities). */
static int alerts_setup(struct vg_server *s)
{
    int rc;
    if ((rc = alerts_open(s->meta, s->cat, s->store, &s->alerts))) {
        log_error("cannot load the rules and alerts: %s", vg_strerror(rc));
        return rc;
    }
    struct alerts_policy pol = {s->cfg.alert_escalate_ms, s->cfg.alert_flap_window_ms,
                                s->cfg.alert_flap_count};
    alerts_set_policy(s->alerts, &pol);
    rc = notify_open(&s->cfg.notify, &s->notify);
    notify_config_release(&s->cfg.notify); /* the receivers hold their copy of the secrets */
    if (rc) {
        log_error("cannot start the notifications: %s", vg_strerror(rc));
        return rc;
    }
    s->sink = (struct alertsink){s->live, s->notify, s->cfg.alert_entities ? s->es : NULL,
                                 s->ldreg};
    struct alerts_listener l = {alertsink_on_changes, &s->sink};
    alerts_set_listener(s->alerts, &l);
    if (s->cfg.rules[0] && (rc = rules_from_file(s, s->cfg.rules)))
        return rc;
    if (s->cfg.nanomaly && (rc = anomaly_rules(s)))
        return rc;
    return VG_OK;
}

int server_open(struct vg_server *s, const struct config *cfg, int background)
{
    char path[600];
    int rc;
    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    if (cfg->timezone[0]) { /* local time of the city (night windows, hours of the week) */
        char zf[200];
        snprintf(zf, sizeof(zf), "/usr/share/zoneinfo/%s", cfg->timezone);
        if (access(zf, R_OK)) {
            log_error("timezone '%s': no such zone in /usr/share/zoneinfo (install tzdata)",
                      cfg->timezone);
            return -1;
        }
        setenv("TZ", cfg->timezone, 1); /* before any thread starts */
        tzset();
    }
    s->lock_fd = lock_data_dir(cfg->data);
    if (s->lock_fd < 0)
        return -1;
    snprintf(path, sizeof(path), "%s/meta.db", cfg->data);
    if ((rc = meta_open(path, &s->meta))) {
        log_error("cannot open metadata '%s': %s", path, vg_strerror(rc));
        goto fail;
    }
    struct store_opts so;
    memset(&so, 0, sizeof(so));
    so.sync = cfg->sync_batch ? WAL_SYNC_BATCH : WAL_SYNC_ALWAYS;
    so.batch_ms = cfg->batch_ms;
    so.background = background;
    const char *ctl = getenv("VIGIE_TEST_FAULT_CTL");
    if (ctl && *ctl) {
        snprintf(s->fault_ctl, sizeof(s->fault_ctl), "%s", ctl);
        s->fault_vfs = io_fault_new(1);
        so.vfs = s->fault_vfs;
        log_warn("test hook: store on the fault-injecting vfs, disk full while '%s' exists", ctl);
    }
    snprintf(path, sizeof(path), "%s/store", cfg->data);
    if ((rc = store_open(path, &so, &s->store))) {
        log_error("cannot open store '%s': %s", path, vg_strerror(rc));
        goto fail;
    }
    if ((rc = catalog_open(s->meta, s->store, &s->cat))) {
        log_error("cannot load the series catalogue: %s", vg_strerror(rc));
        goto fail;
    }
    struct wal_replay_report rep;
    memset(&rep, 0, sizeof(rep));
    int64_t t0 = clock_mono_ns();
    if ((rc = store_recover(s->store, &rep))) {
        log_error("cannot recover store '%s': %s", path, vg_strerror(rc));
        goto fail;
    }
    if (rep.damaged)
        log_warn("wal recovery cut %llu bytes of a torn or corrupt tail: %s",
                 (unsigned long long)rep.cut_bytes, rep.detail);
    log_info("recovered %llu wal records (%llu bytes) in %.1f ms", (unsigned long long)rep.records,
             (unsigned long long)rep.bytes, (double)(clock_mono_ns() - t0) / 1e6);
    const char *tags[CONFIG_MAX_ID_TAGS];
    for (uint32_t i = 0; i < cfg->nid_tags; i++)
        tags[i] = cfg->id_tags[i];
    struct ingest_lp_opts io = {tags, cfg->nid_tags};
    if ((rc = ingest_new(s->cat, s->store, s->meta, &io, &s->ig))) {
        log_error("cannot start ingest: %s", vg_strerror(rc));
        goto fail;
    }
    if ((rc = ngsild_open(s)))
        goto fail;
    s->live = live_new(0);
    if ((rc = alerts_setup(s)))
        goto fail;
    struct ingest_hook hook = {lp_points, lp_wants, lp_apply, s};
    ingest_set_hook(s->ig, &hook);
    sources_new(&s->sources);
    alerts_set_sources(s->alerts, s->sources); /* stale rules on a source's cadence */
    if (cfg->gateway[0]) {
        char err[700];
        if ((rc = gateway_load(cfg->gateway, s->ig, s->meta, s->sources, &s->gw, err,
                               sizeof(err)))) {
            log_error("gateway: %s", err);
            goto fail;
        }
    }
    if (validation_open(s))
        goto fail;
    if (cfg->nretention)
        apply_retention(s);
    return 0;
fail:
    server_close(s);
    return -1;
}

/* The demo's backfill is in: the alerts' staleness tick may judge by the wall clock now. */
static void start_alerts_tick(void *arg)
{
    struct vg_server *s = arg;
    if (alerts_start(s->alerts, 1000))
        log_error("alerts: cannot start the tick thread");
}

int server_start(struct vg_server *s, int demo)
{
    struct api_opts ao;
    memset(&ao, 0, sizeof(ao));
    ao.auth = s->cfg.auth;
    ao.default_tenant = "default";
    ao.mappings_dir = s->cfg.mappings;
    ao.max_inflight = s->cfg.max_inflight;
    const char *pub[CONFIG_MAX_PUBLIC];
    for (uint32_t i = 0; i < s->cfg.npublic; i++)
        pub[i] = s->cfg.public_[i];
    ao.public_specs = pub;
    ao.npublic = s->cfg.npublic;
    ao.public_tenant = s->cfg.public_tenant[0] ? s->cfg.public_tenant : NULL;
    ao.web_dir = s->cfg.web_dir[0] ? s->cfg.web_dir : NULL;
    ao.tiles = s->cfg.map_tiles[0] ? s->cfg.map_tiles : NULL;
    ao.tiles_attribution = s->cfg.map_attribution;
    ao.live_max_clients = s->cfg.live_max_clients;
    s->api = api_new(&ao, s->store, s->cat, s->meta, s->ig);
    api_set_ngsild(s->api, s->ldreg, s->es);
    api_set_subs(s->api, s->subs);
    api_set_sources(s->api, s->sources);
    api_set_replay(s->api, api_replay, s);
    api_set_live(s->api, s->live);
    api_set_alerts(s->api, s->alerts);
    api_set_notify(s->api, s->notify);
    struct http_opts ho;
    memset(&ho, 0, sizeof(ho));
    ho.listen = s->cfg.listen;
    ho.threads = s->cfg.threads;
    ho.max_connections = s->cfg.max_connections;
    ho.timeout_s = s->cfg.timeout_s;
    ho.max_body = s->cfg.max_body;
    ho.early = api_early;
    char err[256];
    if (http_start(&ho, api_handle, s->api, &s->http, err, sizeof(err))) {
        log_error("%s", err);
        return -1;
    }
    api_set_http(s->api, s->http);
    if (s->gw && gateway_start(s->gw))
        return -1;
    if (pthread_create(&s->maint, NULL, maint_main, s) == 0)
        s->maint_running = 1;
    /* the demo: its rules, and the tick (staleness by the wall clock) only once the backfill
    ** of past days is in, else every backfilled series would look silent for a moment */
    if (demo && rules_apply(s, json_loads(demo_rules_json(), 0, NULL), "the demo city"))
        return -1;
    if (!demo && alerts_start(s->alerts, 1000))
        return -1;
    int loopback = strncmp(s->cfg.listen, "127.", 4) == 0 ||
                   strncmp(s->cfg.listen, "localhost:", 10) == 0 ||
                   strncmp(s->cfg.listen, "[::1]:", 6) == 0;
    log_info("vigie listening on http://%s (data '%s', auth %s, sync %s)", s->cfg.listen,
             s->cfg.data, s->cfg.auth ? "on" : "off", s->cfg.sync_batch ? "batch" : "always");
    if (!s->cfg.auth)
        log_warn("authentication is OFF: anyone who can reach %s can read and write%s",
                 s->cfg.listen, loopback ? " (loopback only)" : " -- NOT LOOPBACK, use --auth on");
    if (demo) {
        struct demo_opts dop;
        memset(&dop, 0, sizeof(dop));
        dop.tenant = "default";
        dop.samples_dir = s->cfg.samples[0] ? s->cfg.samples : NULL;
        dop.backfill_days = 7;
        dop.realtime = s->cfg.realtime;
        dop.seed = 42;
        dop.backfilled = start_alerts_tick;
        dop.backfilled_arg = s;
        int rc = demo_start(s->ig, s->meta, &dop, &s->demo);
        if (rc) {
            log_error("cannot start the demo city: %s", vg_strerror(rc));
            return -1;
        }
        log_info("demo city running: try http://%s/api/v1/latest?type=NoiseLevelObserved",
                 s->cfg.listen);

    }
    return 0;
}

int server_run_until_signal(struct vg_server *s)
{
    sigset_t set;
    int sig = 0;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigwait(&set, &sig);
    log_info("received %s: stopping (finishing in-flight requests, flushing)",
             sig == SIGTERM ? "SIGTERM" : "SIGINT");
    server_close(s);
    log_info("stopped cleanly");
    return 0;
}

void server_close(struct vg_server *s)
{
    s->stopping = 1;
    if (s->http)
        http_quiesce(s->http);
    demo_stop(s->demo);
    s->demo = NULL;
    if (s->live)
        live_close(s->live); /* live streams end, so their connections can */
    http_stop(s->http);
    s->http = NULL;
    if (s->maint_running) {
        pthread_join(s->maint, NULL);
        s->maint_running = 0;
    }
    gateway_free(s->gw); /* the batch in hand is stored (or left unacknowledged) first */
    s->gw = NULL;
    api_free(s->api);
    s->api = NULL;
    if (s->alerts)
        alerts_set_sources(s->alerts, NULL);
    sources_free(s->sources);
    s->sources = NULL;
    ingest_free(s->ig);
    s->ig = NULL;
    alerts_free(s->alerts); /* after ingest and http: nothing evaluates any more */
    s->alerts = NULL;
    notify_free(s->notify); /* after the engine: nothing posts any more */
    s->notify = NULL;
    live_free(s->live); /* no publisher (ingest, alerts) nor reader (http) is left */
    s->live = NULL;
    validator_free(s->val);
    s->val = NULL;
    schema_set_free(s->schemas);
    s->schemas = NULL;
    if (s->es)
        entstore_set_observer(s->es, NULL, NULL); /* no notification once subs is freed */
    subs_free(s->subs); /* undelivered notifications stay durable */
    s->subs = NULL;
    entstore_free(s->es); /* commits what is queued */
    s->es = NULL;
    ldctx_reg_free(s->ldreg);
    s->ldreg = NULL;
    store_close(s->store); /* final checkpoint */
    s->store = NULL;
    catalog_free(s->cat);
    s->cat = NULL;
    meta_close(s->meta);
    s->meta = NULL;
    if (s->fault_vfs) {
        io_fault_free(s->fault_vfs);
        s->fault_vfs = NULL;
    }
    if (s->lock_fd > 0) {
        close(s->lock_fd);
        s->lock_fd = -1;
    }
}
