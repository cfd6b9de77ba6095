/*
** meta/meta_test.c: unit tests of meta/db.c (schema, catalogue rows, API keys, quarantine, kv).
*/
#include "core/clock.h"
#include "core/test.h"
#include "meta/meta.h"

#include <time.h>
#include <unistd.h>

static char *db_path(const char *dir)
{
    char *p = malloc(strlen(dir) + 16);
    sprintf(p, "%s/meta.db", dir);
    return p;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Does the file contain needle? (-1 if it cannot be read) */
static int file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    fclose(f);
    int found = 0;
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl <= got && !found; i++)
        found = memcmp(b + i, needle, nl) == 0;
    free(b);
    return found;
}

struct docs_seen {
    char ids[8][64];
    char docs[8][64];
    char tenants[8][16];
    int n;
};

static int docs_cb(void *arg, const struct meta_doc_row *row)
{
    struct docs_seen *d = arg;
    if (d->n < 8) {
        snprintf(d->ids[d->n], sizeof(d->ids[0]), "%s", row->id);
        snprintf(d->docs[d->n], sizeof(d->docs[0]), "%.*s", (int)row->len, row->doc);
        snprintf(d->tenants[d->n], sizeof(d->tenants[0]), "%s", row->tenant);
    }
    d->n++;
    return 0;
}

/* Documents: puts, replaces and deletes in one transaction; load by kind, ordered; survive
** reopen; an invalid op rolls the whole batch back. */
static void test_docs(void)
{
    char *dir = test_tmpdir("metadocs");
    char *path = db_path(dir);
    struct meta *m = NULL;
    REQUIRE(meta_open(path, &m) == 0);
    struct meta_doc_op ops[] = {
        {"entity", "t1", "urn:b", "{\"v\":1}", 7},
        {"entity", "t1", "urn:a", "{\"v\":2}", 7},
        {"entity", "t0", "urn:z", "{\"v\":3}", 7},
        {"context", "t1", "urn:c", "{}", 2},
        {"entity", "t1", "urn:b", "{\"v\":9}", 7}, /* replaces the first */
    };
    CHECK_EQ_INT(meta_docs_commit(m, ops, 5), 0);
    struct meta_doc_op del = {"entity", "t0", "urn:z", NULL, 0};
    CHECK_EQ_INT(meta_docs_commit(m, &del, 1), 0);
    meta_close(m);
    REQUIRE(meta_open(path, &m) == 0);
    struct docs_seen d;
    memset(&d, 0, sizeof(d));
    CHECK_EQ_INT(meta_docs_load(m, "entity", docs_cb, &d), 0);
    CHECK_EQ_INT(d.n, 2);
    CHECK(strcmp(d.ids[0], "urn:a") == 0 && strcmp(d.docs[0], "{\"v\":2}") == 0);
    CHECK(strcmp(d.ids[1], "urn:b") == 0 && strcmp(d.docs[1], "{\"v\":9}") == 0);
    CHECK(strcmp(d.tenants[1], "t1") == 0);
    /* one bad op (empty id): nothing of the batch is written */
    struct meta_doc_op bad[] = {{"entity", "t1", "urn:new", "{}", 2}, {"entity", "t1", "", "{}", 2}};
    CHECK(meta_docs_commit(m, bad, 2) != 0);
    memset(&d, 0, sizeof(d));
    CHECK_EQ_INT(meta_docs_load(m, "entity", docs_cb, &d), 0);
    CHECK_EQ_INT(d.n, 2);
    memset(&d, 0, sizeof(d));
    CHECK_EQ_INT(meta_docs_load(m, "context", docs_cb, &d), 0);
    CHECK_EQ_INT(d.n, 1);
    meta_close(m);
    free(path);
    free(dir);
}

static void test_schema_and_reopen(void)
{
    char *dir = test_tmpdir("meta");
    char *path = db_path(dir);
    struct meta *m = NULL;
    char v[64];
    REQUIRE(meta_open(path, &m) == 0);
    CHECK_EQ_INT(meta_kv_get(m, "schema_version", v, sizeof(v)), 0);
    CHECK(strcmp(v, "3") == 0);
    CHECK_EQ_INT(meta_kv_set(m, "server_id", "abc"), 0);
    meta_close(m);

    /* WAL journal in use */
    char wal[600];
    snprintf(wal, sizeof(wal), "%s-wal", path);
    m = NULL;
    REQUIRE(meta_open(path, &m) == 0);
    CHECK(access(wal, F_OK) == 0);
    CHECK_EQ_INT(meta_kv_get(m, "schema_version", v, sizeof(v)), 0);
    CHECK(strcmp(v, "3") == 0);
    CHECK_EQ_INT(meta_kv_get(m, "server_id", v, sizeof(v)), 0);
    CHECK(strcmp(v, "abc") == 0);
    /* a database written by a newer version is refused, *out unchanged */
    CHECK_EQ_INT(meta_kv_set(m, "schema_version", "99"), 0);
    meta_close(m);
    struct meta *m2 = (struct meta *)&m2;
    CHECK_EQ_INT(meta_open(path, &m2), VG_EINVAL);
    CHECK(m2 == (struct meta *)&m2);

    /* not a database */
    char bad[600];
    snprintf(bad, sizeof(bad), "%s/bad.db", dir);
    FILE *f = fopen(bad, "wb");
    for (int i = 0; i < 200; i++)
        fputs("this is not an sqlite file ", f);
    fclose(f);
    CHECK(meta_open(bad, &m2) < 0);
    test_rmrf(dir);
    free(path);
    free(dir);
}

struct loaded {
    int n;
    struct meta_series_row rows[16];
    char text[16][4][64];
    char tags[16][512];
};

static int on_series(void *arg, const struct meta_series_row *r)
{
    struct loaded *l = arg;
    if (l->n >= 16)
        return VG_ETOOBIG;
    struct meta_series_row *d = &l->rows[l->n];
    *d = *r;
    snprintf(l->text[l->n][0], 64, "%s", r->tenant);
    snprintf(l->text[l->n][1], 64, "%s", r->entity);
    snprintf(l->text[l->n][2], 64, "%s", r->type);
    snprintf(l->text[l->n][3], 64, "%s", r->attr);
    d->tenant = l->text[l->n][0];
    d->entity = l->text[l->n][1];
    d->type = l->text[l->n][2];
    d->attr = l->text[l->n][3];
    d->tags = NULL;
    l->tags[l->n][0] = '\0';
    for (uint32_t i = 0; i < r->ntags; i++) {
        size_t o = strlen(l->tags[l->n]);
        snprintf(l->tags[l->n] + o, 512 - o, "%s=%s;", r->tags[i].key, r->tags[i].val);
    }
    l->n++;
    return 0;
}

struct gloaded {
    int n;
    uint32_t id[8];
    char t[8][2][64];
};

static int on_group(void *arg, const struct meta_group_row *r)
{
    struct gloaded *g = arg;
    if (g->n >= 8)
        return VG_ETOOBIG;
    g->id[g->n] = r->group;
    snprintf(g->t[g->n][0], 64, "%s", r->tenant);
    snprintf(g->t[g->n][1], 64, "%s", r->type);
    g->n++;
    return 0;
}

static int stop_at_first(void *arg, const struct meta_series_row *r)
{
    (*(int *)arg)++;
    return 42;
}

static void test_commit_and_load(void)
{
    char *dir = test_tmpdir("meta");
    char *path = db_path(dir);
    struct meta *m = NULL;
    REQUIRE(meta_open(path, &m) == 0);

    struct meta_tag tags[] = {{"district", "Nord"}, {"quote\"key", "v\\al\nue \xc3\xa9"}};
    struct meta_group_row groups[] = {{1, "lyon", "Sensor"}, {2, "paris", "Sensor"}};
    struct meta_entity_row ents[] = {{"lyon", "s1", "Sensor", tags, 2},
                                     {"paris", "s1", "Sensor", NULL, 0}};
    struct meta_series_row ser[] = {
        {1, 1, VT_F64, "lyon", "s1", "Sensor", "temp", NULL, 0},
        {2, 1, VT_STR, "lyon", "s1", "Sensor", "name", NULL, 0},
        {3, 2, VT_I64, "paris", "s1", "Sensor", "temp", NULL, 0},
    };
    struct meta_batch b = {groups, 2, ents, 2, ser, 3};
    CHECK_EQ_INT(meta_commit(m, &b), 0);
    struct meta_batch empty = {0};
    CHECK_EQ_INT(meta_commit(m, &empty), 0);

    /* a batch with one bad row leaves nothing behind: group 3 must not exist afterwards */
    struct meta_group_row g3[] = {{3, "lyon", "Meter"}};
    struct meta_series_row bad[] = {{4, 77, VT_F64, "lyon", "s1", "Sensor", "x", NULL, 0}};
    struct meta_batch bb = {g3, 1, NULL, 0, bad, 1};
    CHECK(meta_commit(m, &bb) < 0);
    /* duplicate (tenant, entity, attr) is refused too */
    struct meta_series_row dup[] = {{9, 1, VT_F64, "lyon", "s1", "Sensor", "temp", NULL, 0}};
    struct meta_batch bd = {NULL, 0, NULL, 0, dup, 1};
    CHECK(meta_commit(m, &bd) < 0);
    meta_close(m);

    m = NULL;
    REQUIRE(meta_open(path, &m) == 0);
    struct gloaded gl = {0};
    CHECK_EQ_INT(meta_groups_load(m, on_group, &gl), 0);
    CHECK_EQ_INT(gl.n, 2);
    CHECK_EQ_INT(gl.id[0], 1);
    CHECK(strcmp(gl.t[0][0], "lyon") == 0 && strcmp(gl.t[0][1], "Sensor") == 0);
    CHECK_EQ_INT(gl.id[1], 2);

    struct loaded *l = calloc(1, sizeof(*l));
    CHECK_EQ_INT(meta_series_load(m, on_series, l), 0);
    CHECK_EQ_INT(l->n, 3);
    /* ordered by tenant, entity, attr */
    CHECK_EQ_INT(l->rows[0].sid, 2);
    CHECK(strcmp(l->rows[0].attr, "name") == 0);
    CHECK_EQ_INT(l->rows[0].vt, VT_STR);
    CHECK_EQ_INT(l->rows[1].sid, 1);
    CHECK_EQ_INT(l->rows[1].group, 1);
    CHECK(strcmp(l->rows[1].type, "Sensor") == 0);
    CHECK_EQ_INT(l->rows[1].ntags, 2);
    CHECK(strcmp(l->tags[1], "district=Nord;quote\"key=v\\al\nue \xc3\xa9;") == 0);
    CHECK_EQ_INT(l->rows[2].sid, 3);
    CHECK_EQ_INT(l->rows[2].vt, VT_I64);
    CHECK_EQ_INT(l->rows[2].ntags, 0);
    CHECK(strcmp(l->rows[2].tenant, "paris") == 0);

    /* entity update: tags replaced */
    struct meta_tag t2[] = {{"district", "Sud"}};
    struct meta_entity_row up[] = {{"lyon", "s1", "Sensor", t2, 1}};
    struct meta_batch bu = {NULL, 0, up, 1, NULL, 0};
    CHECK_EQ_INT(meta_commit(m, &bu), 0);
    memset(l, 0, sizeof(*l));
    CHECK_EQ_INT(meta_series_load(m, on_series, l), 0);
    CHECK_EQ_INT(l->n, 3);
    CHECK(strcmp(l->tags[0], "district=Sud;") == 0);
    CHECK(strcmp(l->tags[1], "district=Sud;") == 0);

    int calls = 0;
    CHECK_EQ_INT(meta_series_load(m, stop_at_first, &calls), 42);
    CHECK_EQ_INT(calls, 1);
    free(l);
    meta_close(m);
    test_rmrf(dir);
    free(path);
    free(dir);
}

struct keylist {
    int n;
    int64_t id[8];
    int revoked[8];
    enum vg_scope scope[8];
    char label[8][32];
};

static int on_key(void *arg, const struct meta_apikey_row *r)
{
    struct keylist *k = arg;
    if (k->n < 8) {
        k->id[k->n] = r->id;
        k->revoked[k->n] = r->revoked;
        k->scope[k->n] = r->scope;
        snprintf(k->label[k->n], 32, "%s", r->label);
        k->n++;
    }
    return 0;
}

static void test_apikeys(void)
{
    char *dir = test_tmpdir("meta");
    char *path = db_path(dir);
    struct meta *m = NULL;
    char key[64], key2[64], tenant[64], small[16];
    int64_t id = 0, id2 = 0;
    enum vg_scope sc = SCOPE_NONE;
    REQUIRE(meta_open(path, &m) == 0);

    CHECK_EQ_INT(meta_apikey_create(m, "lyon", SCOPE_WRITE, "gateway 1", key, sizeof(key), &id),
                 0);
    CHECK(id > 0);
    CHECK_EQ_INT(strlen(key), 46);
    CHECK(strncmp(key, "vg_", 3) == 0);
    for (size_t i = 3; i < strlen(key); i++) {
        char ch = key[i];
        CHECK((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_');
    }
    CHECK_EQ_INT(meta_apikey_create(m, "paris", SCOPE_ADMIN, NULL, key2, sizeof(key2), &id2), 0);
    CHECK(strcmp(key, key2) != 0);
    CHECK(id2 != id);
    /* refused arguments */
    CHECK_EQ_INT(meta_apikey_create(m, "lyon", SCOPE_READ, "x", small, sizeof(small), NULL),
                 VG_EINVAL);
    CHECK_EQ_INT(meta_apikey_create(m, "", SCOPE_READ, "x", key2, sizeof(key2), NULL), VG_EINVAL);
    CHECK_EQ_INT(meta_apikey_create(m, "lyon", SCOPE_NONE, "x", key2, sizeof(key2), NULL),
                 VG_EINVAL);

    /* verify twice (second from the cache) */
    for (int i = 0; i < 2; i++) {
        memset(tenant, 0, sizeof(tenant));
        CHECK_EQ_INT(meta_apikey_verify(m, key, tenant, sizeof(tenant), &sc), 0);
        CHECK(strcmp(tenant, "lyon") == 0);
        CHECK_EQ_INT(sc, SCOPE_WRITE);
    }
    CHECK_EQ_INT(meta_apikey_verify(m, key2, tenant, sizeof(tenant), &sc), 0);
    CHECK(strcmp(tenant, "paris") == 0);
    CHECK_EQ_INT(sc, SCOPE_ADMIN);

    /* wrong keys */
    char wrong[64];
    snprintf(wrong, sizeof(wrong), "%s", key);
    wrong[20] = wrong[20] == 'A' ? 'B' : 'A';
    CHECK_EQ_INT(meta_apikey_verify(m, wrong, tenant, sizeof(tenant), &sc), VG_ENOENT);
    CHECK_EQ_INT(meta_apikey_verify(m, "", tenant, sizeof(tenant), &sc), VG_ENOENT);
    CHECK_EQ_INT(meta_apikey_verify(m, "vg_", tenant, sizeof(tenant), &sc), VG_ENOENT);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "%.45s", key);
    CHECK_EQ_INT(meta_apikey_verify(m, prefix, tenant, sizeof(tenant), &sc), VG_ENOENT);

    /* list */
    struct keylist kl = {0};
    CHECK_EQ_INT(meta_apikey_list(m, on_key, &kl), 0);
    CHECK_EQ_INT(kl.n, 2);
    CHECK_EQ_INT(kl.id[0], id);
    CHECK(strcmp(kl.label[0], "gateway 1") == 0);
    CHECK_EQ_INT(kl.scope[1], SCOPE_ADMIN);
    CHECK_EQ_INT(kl.revoked[0], 0);

    /* revoke clears the cache */
    CHECK_EQ_INT(meta_apikey_revoke(m, id), 0);
    CHECK_EQ_INT(meta_apikey_verify(m, key, tenant, sizeof(tenant), &sc), VG_ENOENT);
    CHECK_EQ_INT(meta_apikey_verify(m, key2, tenant, sizeof(tenant), &sc), 0);
    CHECK_EQ_INT(meta_apikey_revoke(m, 424242), VG_ENOENT);
    memset(&kl, 0, sizeof(kl));
    CHECK_EQ_INT(meta_apikey_list(m, on_key, &kl), 0);
    CHECK_EQ_INT(kl.revoked[0], 1);
    CHECK_EQ_INT(kl.revoked[1], 0);
    meta_close(m);

    /* after reopen (empty cache): same answers */
    m = NULL;
    REQUIRE(meta_open(path, &m) == 0);
    CHECK_EQ_INT(meta_apikey_verify(m, key, tenant, sizeof(tenant), &sc), VG_ENOENT);
    CHECK_EQ_INT(meta_apikey_verify(m, key2, tenant, sizeof(tenant), &sc), 0);
    CHECK(strcmp(tenant, "paris") == 0);
    CHECK_EQ_INT(meta_apikey_verify(m, key2, small, 3, &sc), VG_ETOOBIG);

    /* the plaintext (nor its secret part) is nowhere in the files, before and after checkpoint */
    char wal[600];
    snprintf(wal, sizeof(wal), "%s-wal", path);
    CHECK_EQ_INT(file_contains(path, key2 + 3), 0);
    CHECK(file_contains(wal, key2 + 3) != 1);
    CHECK(file_contains(wal, key + 3) != 1);
    CHECK(file_contains(path, "paris") == 1 || file_contains(wal, "paris") == 1);
    meta_close(m);
    CHECK_EQ_INT(file_contains(path, key + 3), 0);
    CHECK_EQ_INT(file_contains(path, key2 + 3), 0);
    CHECK_EQ_INT(file_contains(path, "paris"), 1); /* sanity: the search works */
    test_rmrf(dir);
    free(path);
    free(dir);
}

struct qlist {
    int n;
    int64_t id[16];
    int64_t received[16];
    char source[16][32];
    char reason[16][64];
    char raw[16][64];
    char fmt[16][16];
    char ctx[16][32];
    size_t raw_len[16];
    int stop_after;
};

static int on_q(void *arg, const struct meta_quarantine_row *r)
{
    struct qlist *q = arg;
    if (q->n >= 16)
        return VG_ETOOBIG;
    q->id[q->n] = r->id;
    q->received[q->n] = r->received_ms;
    snprintf(q->source[q->n], 32, "%s", r->source);
    snprintf(q->reason[q->n], 64, "%s", r->reason);
    q->raw_len[q->n] = r->raw_len;
    snprintf(q->fmt[q->n], 16, "%s", r->format);
    snprintf(q->ctx[q->n], 32, "%s", r->context);
    memcpy(q->raw[q->n], r->raw, r->raw_len < 64 ? r->raw_len : 64);
    q->n++;
    if (q->stop_after && q->n == q->stop_after)
        return 7;
    return 0;
}

static void test_quarantine(void)
{
    char *dir = test_tmpdir("meta");
    char *path = db_path(dir);
    struct meta *m = NULL;
    uint64_t n = 0;
    REQUIRE(meta_open(path, &m) == 0);

    const char bin[] = {'a', 0, 'b', '\xff', '\n', 0};
    struct meta_quarantine_row rows[] = {
        {0, 0, "lyon", "mqtt:gw1", "bad number", bin, sizeof(bin), "mqtt", "city/n1/up"},
        {0, 0, "lyon", "http:10.0.0.1", "unknown field", "{\"x\":1}", 7, NULL, NULL},
        {0, 0, "paris", "mqtt:gw1", "bad time", "", 0, "mqtt", "city/n2/up"},
    };
    int64_t t0 = clock_now_ms();
    CHECK_EQ_INT(meta_quarantine_add(m, rows, 3), 0);
    sleep_ms(30);
    int64_t mid = clock_now_ms();
    sleep_ms(30);
    struct meta_quarantine_row later[] = {{0, 0, "lyon", "mqtt:gw1", "late", "zz", 2, "mqtt", "t"}};
    CHECK_EQ_INT(meta_quarantine_add(m, later, 1), 0);
    struct meta_quarantine_row badrow[] = {{0, 0, NULL, "x", "y", "z", 1, NULL, NULL}};
    CHECK_EQ_INT(meta_quarantine_add(m, badrow, 1), VG_EINVAL);

    CHECK_EQ_INT(meta_quarantine_count(m, "lyon", &n), 0);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(meta_quarantine_count(m, "paris", &n), 0);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(meta_quarantine_count(m, "nobody", &n), 0);
    CHECK_EQ_INT(n, 0);

    struct qlist *q = calloc(1, sizeof(*q));
    CHECK_EQ_INT(meta_quarantine_list(m, "lyon", NULL, 0, 0, on_q, q), 0);
    CHECK_EQ_INT(q->n, 3);
    CHECK(strcmp(q->reason[0], "late") == 0); /* newest first */
    CHECK(q->received[0] >= q->received[1]);
    CHECK(q->received[1] >= t0);
    /* among equal times, newest id first: rows[1] then rows[0] */
    CHECK(strcmp(q->reason[1], "unknown field") == 0);
    CHECK(strcmp(q->reason[2], "bad number") == 0);
    CHECK_EQ_INT(q->raw_len[2], sizeof(bin));
    CHECK(memcmp(q->raw[2], bin, sizeof(bin)) == 0);

    memset(q, 0, sizeof(*q));
    CHECK_EQ_INT(meta_quarantine_list(m, "lyon", "mqtt:gw1", 0, 0, on_q, q), 0);
    CHECK_EQ_INT(q->n, 2);
    CHECK(strcmp(q->source[0], "mqtt:gw1") == 0 && strcmp(q->source[1], "mqtt:gw1") == 0);

    memset(q, 0, sizeof(*q));
    CHECK_EQ_INT(meta_quarantine_list(m, "lyon", NULL, mid, 0, on_q, q), 0);
    CHECK_EQ_INT(q->n, 1);
    CHECK(strcmp(q->reason[0], "late") == 0);

    memset(q, 0, sizeof(*q));
    CHECK_EQ_INT(meta_quarantine_list(m, "lyon", NULL, 0, 2, on_q, q), 0);
    CHECK_EQ_INT(q->n, 2);

    memset(q, 0, sizeof(*q));
    CHECK_EQ_INT(meta_quarantine_list(m, "paris", NULL, 0, 0, on_q, q), 0);
    CHECK_EQ_INT(q->n, 1);
    CHECK_EQ_INT(q->raw_len[0], 0);

    memset(q, 0, sizeof(*q));
    q->stop_after = 1;
    CHECK_EQ_INT(meta_quarantine_list(m, "lyon", NULL, 0, 0, on_q, q), 7);
    CHECK_EQ_INT(q->n, 1);

    /* a source filter of one call does not stick to the next (bindings are cleared) */
    memset(q, 0, sizeof(*q));
    CHECK_EQ_INT(meta_quarantine_list(m, "lyon", "mqtt:gw1", 0, 0, on_q, q), 0);
    memset(q, 0, sizeof(*q));
    CHECK_EQ_INT(meta_quarantine_list(m, "lyon", NULL, 0, 0, on_q, q), 0);
    CHECK_EQ_INT(q->n, 3);

    /* scan: oldest first, filters, format and context kept, paging by after_id */
    memset(q, 0, sizeof(*q));
    struct meta_quarantine_filter f = {.format = "mqtt"};
    CHECK_EQ_INT(meta_quarantine_scan(m, &f, on_q, q), 0);
    CHECK_EQ_INT(q->n, 3);
    CHECK(q->id[0] < q->id[1] && q->id[1] < q->id[2]);
    CHECK(strcmp(q->reason[0], "bad number") == 0 && strcmp(q->reason[2], "late") == 0);
    CHECK(strcmp(q->ctx[0], "city/n1/up") == 0 && strcmp(q->fmt[0], "mqtt") == 0);
    int64_t first = q->id[0];
    memset(q, 0, sizeof(*q));
    f = (struct meta_quarantine_filter){.tenant = "lyon", .after_id = first, .limit = 1};
    CHECK_EQ_INT(meta_quarantine_scan(m, &f, on_q, q), 0);
    CHECK_EQ_INT(q->n, 1);
    CHECK(strcmp(q->reason[0], "unknown field") == 0 && strcmp(q->fmt[0], "lp") == 0);
    CHECK(strcmp(q->ctx[0], "") == 0);
    int64_t second = q->id[0];
    memset(q, 0, sizeof(*q));
    f = (struct meta_quarantine_filter){.id = second};
    CHECK_EQ_INT(meta_quarantine_scan(m, &f, on_q, q), 0);
    CHECK_EQ_INT(q->n, 1);
    /* delete: by id, durable with the rest; unknown ids ignored */
    int64_t gone[] = {second, 999999};
    CHECK_EQ_INT(meta_quarantine_delete(m, gone, 2), 0);
    CHECK_EQ_INT(meta_quarantine_count(m, "lyon", &n), 0);
    CHECK_EQ_INT(n, 2);
    memset(q, 0, sizeof(*q));
    CHECK_EQ_INT(meta_quarantine_scan(m, &f, on_q, q), 0);
    CHECK_EQ_INT(q->n, 0);

    uint64_t del = 99;
    CHECK_EQ_INT(meta_quarantine_purge(m, t0 - 1000, &del), 0);
    CHECK_EQ_INT(del, 0);
    CHECK_EQ_INT(meta_quarantine_purge(m, mid, &del), 0);
    CHECK_EQ_INT(del, 2);
    CHECK_EQ_INT(meta_quarantine_count(m, "lyon", &n), 0);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(meta_quarantine_count(m, "paris", &n), 0);
    CHECK_EQ_INT(n, 0);
    meta_close(m);

    /* durable */
    m = NULL;
    REQUIRE(meta_open(path, &m) == 0);
    CHECK_EQ_INT(meta_quarantine_count(m, "lyon", &n), 0);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(meta_quarantine_purge(m, clock_now_ms() + 1, NULL), 0);
    CHECK_EQ_INT(meta_quarantine_count(m, "lyon", &n), 0);
    CHECK_EQ_INT(n, 0);
    meta_close(m);
    free(q);
    test_rmrf(dir);
    free(path);
    free(dir);
}

static void test_kv_and_scopes(void)
{
    char *dir = test_tmpdir("meta");
    char *path = db_path(dir);
    struct meta *m = NULL;
    char v[8];
    REQUIRE(meta_open(path, &m) == 0);
    CHECK_EQ_INT(meta_kv_get(m, "missing", v, sizeof(v)), VG_ENOENT);
    CHECK_EQ_INT(meta_kv_set(m, "k", "one"), 0);
    CHECK_EQ_INT(meta_kv_get(m, "k", v, sizeof(v)), 0);
    CHECK(strcmp(v, "one") == 0);
    CHECK_EQ_INT(meta_kv_set(m, "k", "two"), 0);
    CHECK_EQ_INT(meta_kv_get(m, "k", v, sizeof(v)), 0);
    CHECK(strcmp(v, "two") == 0);
    CHECK_EQ_INT(meta_kv_set(m, "long", "12345678"), 0);
    CHECK_EQ_INT(meta_kv_get(m, "long", v, sizeof(v)), VG_ETOOBIG);
    CHECK_EQ_INT(meta_kv_set(m, "", "x"), VG_EINVAL);
    meta_close(m);

    CHECK(strcmp(vg_scope_name(SCOPE_READ), "read") == 0);
    CHECK(strcmp(vg_scope_name(SCOPE_ADMIN), "admin") == 0);
    CHECK_EQ_INT(vg_scope_parse("write"), SCOPE_WRITE);
    CHECK_EQ_INT(vg_scope_parse("root"), -1);
    CHECK_EQ_INT(vg_scope_parse(NULL), -1);
    test_rmrf(dir);
    free(path);
    free(dir);
}

int main(void)
{
    TEST_BEGIN("meta");
    TEST_RUN(test_schema_and_reopen);
    TEST_RUN(test_commit_and_load);
    TEST_RUN(test_apikeys);
    TEST_RUN(test_quarantine);
    TEST_RUN(test_kv_and_scopes);
    TEST_RUN(test_docs);
    return TEST_END();
}
