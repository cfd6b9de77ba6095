/*
** app/main.c: the vigie command line: serve, demo, query, apikey, version, help.
** Owns: argument parsing and the process (signal mask, exit codes).
** Exit codes: 0 ok, 1 runtime error, 2 usage error.
*/
#include "app/config.h"
#include "app/replay.h"
#include "app/server.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/version.h"
#include "ingest/import.h"
#include "net/httpc.h"

#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: vigie <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve     run the server\n"
    "  demo      run the server with the demo city (7 days of backfill, then live data)\n"
    "  query     query a data directory or a running server, print JSON\n"
    "  import    import a CSV export of business software with a mapping file\n"
    "  apikey    create, list or revoke API keys\n"
    "  quarantine list or replay what validation refused\n"
    "  version   print the version\n"
    "  help      this text\n"
    "\n"
    "serve and demo options (a --config file sets the same keys; flags win):\n"
    "  --data DIR          data directory (serve: ./vigie-data, demo: ./demo-data)\n"
    "  --listen ADDR:PORT  HTTP address (default 127.0.0.1:8080)\n"
    "  --config FILE       settings file, 'key = value' lines (docs/configuration.md)\n"
    "  --auth on|off       require API keys (serve: on, demo: off)\n"
    "  --sync always|batch always: acknowledge writes after fsync (default);\n"
    "                      batch: fsync every --batch-ms (default 200), power loss may lose\n"
    "                      up to that window, kill -9 loses nothing\n"
    "  --log-level L       error, warn, info (default), debug\n"
    "  --error-log FILE    error log (default stderr); --access-log FILE (default stdout)\n"
    "  --threads N         HTTP threads: 0 = one per connection (default), N = a pool of N\n"
    "  --max-connections N (default 512)   --timeout S idle timeout (default 30)\n"
    "  --max-body BYTES    request body limit (default 64M)\n"
    "  --id-tags a,b,c     tags naming the entity id (default id,entity_id,sensor,device)\n"
    "  --samples DIR       demo: real open-data samples (default ../shared/data)\n"
    "  --contexts DIR      NGSI-LD: preload the @contexts listed in DIR/manifest.tsv\n"
    "                      (lines URL<TAB>FILE, FILE relative to DIR)\n"
    "  --sdm-contexts DIR  NGSI-LD: Smart Data Models subject contexts preloaded under their\n"
    "                      official URLs (default ../shared/datamodels/_shared/contexts)\n"
    "  --realtime on|off   demo: keep generating live data (default on)\n"
    "  --mappings DIR      import mappings for POST /api/v1/imports (default examples/imports)\n"
    "  --gateway FILE      MQTT brokers, sources and validation rules (docs/sources.md)\n"
    "  --datamodels DIR    Smart Data Models schemas that validate input (default\n"
    "                      ../shared/datamodels; empty = no schema validation)\n"
    "  --max-inflight SIZE write bodies being stored at once before 503 (default 1G)\n"
    "\n"
    "query options:\n"
    "  --data DIR | --server http://HOST:PORT [--key KEY]\n"
    "  --tenant T --type T --id ID --attr A --where TAG:VALUE --from T --to T\n"
    "  --agg avg|min|max|sum|count|first|last|stddev --every 1h --limit N --latest\n"
    "\n"
    "import:\n"
    "  vigie import FILE --mapping MAP [--data DIR] [--tenant T] [--progress on|off]\n"
    "  (MAP: JSON, docs/imports.md; ends with 'rows N, stored N, quarantined N')\n"
    "\n"
    "quarantine (on a data directory, while the server is stopped):\n"
    "  vigie quarantine list [--data DIR] [--tenant T] [--source S] [--since T] [--limit N]\n"
    "  vigie quarantine replay [--data DIR] [--tenant T] [--source S] [--id N]\n"
    "                          [--gateway FILE] [--mapping MAP]\n"
    "  (replay ends with 'replayed N, stored N, quarantined N')\n"
    "\n"
    "apikey:\n"
    "  vigie apikey create --tenant T --scope read|write|admin [--label L] [--data DIR]\n"
    "  vigie apikey list [--data DIR]\n"
    "  vigie apikey revoke ID [--data DIR]\n";

static int cmd_version(void)
{
    printf("vigie %s\n", VIGIE_VERSION);
    return 0;
}

/* Parse serve/demo options into cfg. Returns 0, or 2 on usage error. */
static int parse_server_args(int argc, char **argv, struct config *cfg, int demo)
{
    char err[256];
    const char *config_path = NULL;
    config_defaults(cfg, demo);
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config_path = argv[i + 1];
    if (config_path && config_load(cfg, config_path, err, sizeof(err))) {
        fprintf(stderr, "vigie: %s\n", err);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || i + 1 >= argc) {
            fprintf(stderr, "vigie: unexpected argument '%s' (see vigie help)\n", a);
            return 2;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--config") == 0)
            continue;
        if (config_set(cfg, a + 2, v, err, sizeof(err))) {
            fprintf(stderr, "vigie: %s\n", err);
            return 2;
        }
    }
    return 0;
}

static int setup_logs(const struct config *cfg)
{
    log_set_level((enum log_level)log_level_parse(cfg->log_level));
    if (log_open(cfg->error_log[0] ? cfg->error_log : NULL,
                 cfg->access_log[0] ? cfg->access_log : NULL)) {
        fprintf(stderr, "vigie: cannot open log files\n");
        return -1;
    }
    return 0;
}

static int cmd_serve(int argc, char **argv, int demo)
{
    struct config cfg;
    struct vg_server s;
    int rc = parse_server_args(argc, argv, &cfg, demo);
    if (rc)
        return rc;
    if (setup_logs(&cfg))
        return 1;
    /* Block the stop signals in every thread; the main thread waits for them in sigwait. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    log_info("vigie %s starting (%s)", VIGIE_VERSION, demo ? "demo" : "serve");
    if (server_open(&s, &cfg, 1))
        return 1;
    if (server_start(&s, demo)) {
        server_close(&s);
        return 1;
    }
    return server_run_until_signal(&s);
}

/* Append k=v to a query string, percent-encoding v (RFC 3986 unreserved kept). */
static void qs_add(struct buf *qs, const char *k, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";
    buf_printf(qs, "%s%s=", qs->len ? "&" : "", k);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~' || *p == ':')
            buf_putc(qs, (char)*p);
        else
            buf_printf(qs, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
    }
}

/* `vigie query` flags as a query_source (see api.h). */
struct cli_args {
    const char *const *names, *const *vals;
    size_t n;
    const char *const *wheres;
    int nwhere;
};

static const char *cli_get(void *ctx, const char *name)
{
    struct cli_args *c = ctx;
    for (size_t i = 0; i < c->n; i++)
        if (c->vals[i] && strcmp(c->names[i], name) == 0)
            return c->vals[i];
    return NULL;
}

static void cli_each(void *ctx, const char *name, void (*fn)(void *arg, const char *v), void *arg)
{
    struct cli_args *c = ctx;
    if (strcmp(name, "where") == 0)
        for (int i = 0; i < c->nwhere; i++)
            fn(arg, c->wheres[i]);
}

struct opt {
    const char *name;
    const char **val;
};

static int cmd_query(int argc, char **argv)
{
    const char *data = NULL, *server = NULL, *key = NULL, *tenant = "default";
    const char *type = NULL, *id = NULL, *attr = NULL, *from = NULL, *to = NULL, *agg = NULL;
    const char *every = NULL, *limit = NULL, *wheres[16];
    int nwhere = 0, latest = 0;
    struct opt opts[] = {{"--data", &data},   {"--server", &server}, {"--key", &key},
                         {"--tenant", &tenant}, {"--type", &type},   {"--id", &id},
                         {"--attr", &attr},   {"--from", &from},     {"--to", &to},
                         {"--agg", &agg},     {"--every", &every},   {"--limit", &limit}};
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--latest") == 0) {
            latest = 1;
            continue;
        }
        if (strcmp(argv[i], "--where") == 0 && i + 1 < argc && nwhere < 16) {
            wheres[nwhere++] = argv[++i];
            continue;
        }
        size_t k;
        for (k = 0; k < VG_ARRAY_LEN(opts); k++)
            if (strcmp(argv[i], opts[k].name) == 0 && i + 1 < argc) {
                *opts[k].val = argv[++i];
                break;
            }
        if (k == VG_ARRAY_LEN(opts)) {
            fprintf(stderr, "vigie query: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!data == !server) {
        fprintf(stderr, "vigie query: give exactly one of --data DIR or --server URL\n");
        return 2;
    }
    /* Build the same query string for both paths: the server parses it, or we do below. */
    struct buf qs;
    buf_init(&qs, 1 << 16);
    const char *names[] = {"type", "id", "attr", "from", "to", "agg", "every", "limit"};
    const char *vals[] = {type, id, attr, from, to, agg, every, limit};
    for (size_t k = 0; k < VG_ARRAY_LEN(names); k++)
        if (vals[k])
            qs_add(&qs, names[k], vals[k]);
    for (int k = 0; k < nwhere; k++)
        qs_add(&qs, "where", wheres[k]);
    if (strcmp(tenant, "default") != 0)
        qs_add(&qs, "tenant", tenant); /* with auth on, the key's tenant decides */
    int rc = 0;
    if (server) {
        struct buf url, out;
        char err[256];
        int status = 0;
        buf_init(&url, 1 << 16);
        buf_init(&out, 0);
        buf_printf(&url, "%s/api/v1/%s%s%s", server, latest ? "latest" : "query", qs.len ? "?" : "",
                   qs.len ? qs.p : "");
        if (httpc_get(url.p, key, &status, &out, err, sizeof(err))) {
            fprintf(stderr, "vigie query: %s\n", err);
            rc = 1;
        } else {
            fwrite(out.p ? out.p : "", 1, out.len, stdout);
            rc = status == 200 ? 0 : 1;
        }
        buf_release(&url);
        buf_release(&out);
        buf_release(&qs);
        return rc;
    }
    buf_release(&qs);

    /* Local data directory: open it like the server does (refused while a server holds it). */
    struct config cfg;
    struct vg_server s;
    config_defaults(&cfg, 0);
    snprintf(cfg.data, sizeof(cfg.data), "%s", data);
    log_set_level(LOG_WARN);
    if (server_open(&s, &cfg, 0))
        return 1;
    /* The same parser and defaults as GET /api/v1/query. */
    struct cli_args ca = {names, vals, VG_ARRAY_LEN(names), wheres, nwhere};
    struct query_source src = {cli_get, cli_each, &ca};
    struct query_params q;
    char keys[16][128];
    char err[256] = "";
    if (query_params_parse(&src, tenant, clock_now_ms(), &q, keys, err, sizeof(err))) {
        fprintf(stderr, "vigie query: %s\n", err);
        rc = 2;
        goto out;
    }
    struct buf out;
    buf_init(&out, 0);
    int qrc = latest ? query_latest(s.store, s.cat, &q, 1000000, &out, err, sizeof(err))
                     : query_run(s.store, s.cat, &q, 1000000, 100000000, &out, err, sizeof(err));
    if (qrc) {
        fprintf(stderr, "vigie query: %s\n", err[0] ? err : vg_strerror(qrc));
        rc = 1;
    } else {
        fwrite(out.p, 1, out.len, stdout);
    }
    buf_release(&out);
out:
    server_close(&s);
    return rc;
}

/* ---- import ------------------------------------------------------------------------------------ */

#define IMPORT_FILE_MAX ((size_t)4 << 30) /* a file is read whole: 4 GiB at most */

static int read_whole_file(const char *path, size_t max, char **out, size_t *len, char *err,
                           size_t cap)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
        snprintf(err, cap, "cannot read '%s': %s", path, f ? "not a regular file" : strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    if ((size_t)st.st_size > max) {
        snprintf(err, cap, "'%s' is larger than %zu bytes", path, max);
        fclose(f);
        return -1;
    }
    char *b = vg_malloc((size_t)st.st_size + 1);
    size_t n = fread(b, 1, (size_t)st.st_size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n != (size_t)st.st_size) {
        snprintf(err, cap, "cannot read '%s': short read", path);
        free(b);
        return -1;
    }
    b[n] = '\0';
    *out = b;
    *len = n;
    return 0;
}

static void import_progress(void *arg, uint64_t done, uint64_t total,
                            const struct import_result *r)
{
    int *tty = arg;
    if (!*tty)
        return;
    double s = (double)r->elapsed_ms / 1000.0;
    fprintf(stderr, "\r%5.1f%%  rows %llu, stored %llu, quarantined %llu  (%.1f s, %.0f rows/s)  ",
            total ? 100.0 * (double)done / (double)total : 100.0, (unsigned long long)r->rows,
            (unsigned long long)r->stored, (unsigned long long)r->quarantined, s,
            s > 0 ? (double)r->rows / s : 0.0);
    if (done == total)
        fputc('\n', stderr);
}

static int cmd_import(int argc, char **argv)
{
    const char *data = "./vigie-data", *tenant = "default", *mapping = NULL, *file = NULL;
    int tty = isatty(STDERR_FILENO);
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            data = argv[++i];
        else if (strcmp(argv[i], "--mapping") == 0 && i + 1 < argc)
            mapping = argv[++i];
        else if (strcmp(argv[i], "--tenant") == 0 && i + 1 < argc)
            tenant = argv[++i];
        else if (strcmp(argv[i], "--progress") == 0 && i + 1 < argc)
            tty = strcmp(argv[++i], "off") != 0;
        else if (argv[i][0] != '-' && !file)
            file = argv[i];
        else {
            fprintf(stderr, "vigie import: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!file || !mapping) {
        fprintf(stderr, "vigie import: needs FILE and --mapping MAP (see vigie help)\n");
        return 2;
    }
    char err[512];
    struct import_mapping *m = NULL;
    if (import_mapping_load(mapping, &m, err, sizeof(err))) {
        fprintf(stderr, "vigie import: %s: %s\n", mapping, err);
        return 2;
    }
    char *bytes = NULL;
    size_t len = 0;
    if (read_whole_file(file, IMPORT_FILE_MAX, &bytes, &len, err, sizeof(err))) {
        fprintf(stderr, "vigie import: %s\n", err);
        import_mapping_free(m);
        return 1;
    }
    struct config cfg;
    struct vg_server s;
    config_defaults(&cfg, 0);
    snprintf(cfg.data, sizeof(cfg.data), "%s", data);
    log_set_level(LOG_WARN);
    int rc = 1;
    if (server_open(&s, &cfg, 0) == 0) {
        char source[300];
        const char *base = strrchr(file, '/');
        snprintf(source, sizeof(source), "import:%s", base ? base + 1 : file);
        struct import_result r;
        char *ref = realpath(mapping, NULL); /* kept with quarantined rows for the replay */
        int irc = import_run(s.ig, s.meta, m, ref ? ref : mapping, tenant, source, file, bytes,
                             len, import_progress, &tty, &r, err, sizeof(err));
        free(ref);
        if (irc) {
            fprintf(stderr, "vigie import: %s: %s\n", file, err[0] ? err : vg_strerror(irc));
            rc = irc == VG_ENOENT || irc == VG_EINVAL ? 2 : 1;
        } else {
            if (r.first_errors[0])
                fprintf(stderr, "quarantined: %s%s\n", r.first_errors,
                        r.quarantined > 5 ? "; ... (vigie quarantine list)" : "");
            printf("section %s, values %llu, %.3f s, %.0f rows/s\n", r.section,
                   (unsigned long long)r.values, (double)r.elapsed_ms / 1000.0,
                   r.elapsed_ms ? (double)r.rows * 1000.0 / (double)r.elapsed_ms : 0.0);
            printf("rows %llu, stored %llu, quarantined %llu\n", (unsigned long long)r.rows,
                   (unsigned long long)r.stored, (unsigned long long)r.quarantined);
            rc = 0;
        }
        server_close(&s);
    }
    free(bytes);
    import_mapping_free(m);
    return rc;
}

static int print_quarantined(void *arg, const struct meta_quarantine_row *r)
{
    (void)arg;
    char ts[40];
    clock_format_rfc3339(r->received_ms, ts, sizeof(ts));
    printf("%lld\t%s\t%s\t%s\t", (long long)r->id, ts, r->source, r->format);
    for (const char *c = r->reason; *c; c++) /* one line per row */
        putchar(*c == '\n' || *c == '\t' ? ' ' : *c);
    putchar('\n');
    return 0;
}

/* vigie quarantine list|replay: offline, on a data directory (the server holds its lock). */
static int cmd_quarantine(int argc, char **argv)
{
    const char *data = "./vigie-data", *tenant = "default", *source = NULL, *since_s = NULL;
    const char *gateway = NULL, *mapping = NULL;
    const char *sub = argc > 2 ? argv[2] : "";
    int64_t id = 0;
    long limit = 100;
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "vigie quarantine: '%s' needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--data"))
            data = v;
        else if (!strcmp(a, "--tenant"))
            tenant = v;
        else if (!strcmp(a, "--source"))
            source = v;
        else if (!strcmp(a, "--since"))
            since_s = v;
        else if (!strcmp(a, "--limit"))
            limit = strtol(v, NULL, 10);
        else if (!strcmp(a, "--id"))
            id = strtoll(v, NULL, 10);
        else if (!strcmp(a, "--gateway"))
            gateway = v;
        else if (!strcmp(a, "--mapping"))
            mapping = v;
        else {
            fprintf(stderr, "vigie quarantine: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    int64_t since = 0;
    if (strcmp(sub, "list") && strcmp(sub, "replay")) {
        fprintf(stderr, "vigie quarantine: list or replay (see vigie help)\n");
        return 2;
    }
    if (since_s && clock_parse_time(since_s, strlen(since_s), &since)) {
        fprintf(stderr, "vigie quarantine: --since takes RFC 3339 or epoch ms\n");
        return 2;
    }
    if (limit <= 0 || limit > 1000000) {
        fprintf(stderr, "vigie quarantine: --limit takes 1..1000000\n");
        return 2;
    }
    struct config cfg;
    struct vg_server s;
    config_defaults(&cfg, 0);
    snprintf(cfg.data, sizeof(cfg.data), "%s", data);
    if (gateway)
        snprintf(cfg.gateway, sizeof(cfg.gateway), "%s", gateway);
    log_set_level(LOG_WARN);
    if (server_open(&s, &cfg, 0))
        return 1;
    int rc = 0;
    if (!strcmp(sub, "list")) {
        printf("ID\tRECEIVED\tSOURCE\tFORMAT\tREASON\n");
        rc = meta_quarantine_list(s.meta, tenant, source, since, (uint32_t)limit,
                                  print_quarantined, NULL);
        if (rc)
            fprintf(stderr, "vigie quarantine: %s\n", vg_strerror(rc));
    } else {
        struct replay_opts o = {tenant, source, id, mapping};
        struct replay_result r;
        rc = replay_run(&s, &o, &r);
        if (r.first_errors[0])
            fprintf(stderr, "%s\n", r.first_errors);
        if (rc)
            fprintf(stderr, "vigie quarantine replay: stopped: %s\n", vg_strerror(rc));
        if (r.skipped)
            printf("skipped %llu (see the messages above)\n", (unsigned long long)r.skipped);
        printf("replayed %llu, stored %llu, quarantined %llu\n", (unsigned long long)r.replayed,
               (unsigned long long)r.stored, (unsigned long long)r.quarantined);
    }
    server_close(&s);
    return rc ? 1 : 0;
}

static int print_key(void *arg, const struct meta_apikey_row *r)
{
    (void)arg;
    char ts[40];
    clock_format_rfc3339(r->created_ms, ts, sizeof(ts));
    printf("%lld\t%s\t%s\t%s\t%s%s\n", (long long)r->id, r->tenant, vg_scope_name(r->scope), ts,
           r->label ? r->label : "", r->revoked ? "\t(revoked)" : "");
    return 0;
}

static int cmd_apikey(int argc, char **argv)
{
    const char *data = "./vigie-data", *tenant = NULL, *scope_s = NULL, *label = "";
    const char *sub = argc > 2 ? argv[2] : "";
    const char *revoke_id = NULL;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            data = argv[++i];
        else if (strcmp(argv[i], "--tenant") == 0 && i + 1 < argc)
            tenant = argv[++i];
        else if (strcmp(argv[i], "--scope") == 0 && i + 1 < argc)
            scope_s = argv[++i];
        else if (strcmp(argv[i], "--label") == 0 && i + 1 < argc)
            label = argv[++i];
        else if (strcmp(sub, "revoke") == 0 && !revoke_id)
            revoke_id = argv[i];
        else {
            fprintf(stderr, "vigie apikey: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    char path[600];
    struct meta *m;
    if (strcmp(sub, "create") && strcmp(sub, "list") && strcmp(sub, "revoke")) {
        fprintf(stderr, "vigie apikey: create, list or revoke (see vigie help)\n");
        return 2;
    }
    int scope = 0;
    if (strcmp(sub, "create") == 0) {
        scope = scope_s ? vg_scope_parse(scope_s) : -1;
        if (!tenant || scope <= 0) {
            fprintf(stderr, "vigie apikey create: needs --tenant T and --scope read|write|admin\n");
            return 2;
        }
    }
    if (strcmp(sub, "revoke") == 0 && !revoke_id) {
        fprintf(stderr, "vigie apikey revoke: needs the key id (see vigie apikey list)\n");
        return 2;
    }
    snprintf(path, sizeof(path), "%s/meta.db", data);
    if ((mkdir(data, 0750) && errno != EEXIST) || meta_open(path, &m)) {
        fprintf(stderr, "vigie apikey: cannot open '%s'\n", path);
        return 1;
    }
    int rc = 0;
    if (strcmp(sub, "create") == 0) {
        char key[80];
        int64_t id;
        if (meta_apikey_create(m, tenant, (enum vg_scope)scope, label, key, sizeof(key), &id)) {
            fprintf(stderr, "vigie apikey: cannot create the key\n");
            rc = 1;
        } else {
            printf("%s\n", key);
            fprintf(stderr, "key %lld created for tenant '%s' with scope '%s'; it is shown only "
                            "once, store it now\n",
                    (long long)id, tenant, vg_scope_name((enum vg_scope)scope));
        }
    } else if (strcmp(sub, "list") == 0) {
        rc = meta_apikey_list(m, print_key, NULL) ? 1 : 0;
    } else {
        rc = meta_apikey_revoke(m, strtoll(revoke_id, NULL, 10));
        if (rc)
            fprintf(stderr, "vigie apikey: cannot revoke key %s: %s\n", revoke_id,
                    vg_strerror(rc));
        rc = rc ? 1 : 0;
    }
    meta_close(m);
    return rc;
}

int main(int argc, char **argv)
{
    /* Keep freed heap memory instead of returning it to the kernel after every large request
    ** (a 1,000-entity batch allocates and frees tens of MB): trimming and re-faulting pages
    ** cost more CPU than the requests themselves. Large blocks still come from mmap. */
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_TOP_PAD, 16 << 20);
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    const char *cmd = argc > 1 ? argv[1] : "help";
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(argc, argv, 0);
    if (strcmp(cmd, "demo") == 0)
        return cmd_serve(argc, argv, 1);
    if (strcmp(cmd, "query") == 0)
        return cmd_query(argc, argv);
    if (strcmp(cmd, "import") == 0)
        return cmd_import(argc, argv);
    if (strcmp(cmd, "apikey") == 0)
        return cmd_apikey(argc, argv);
    if (strcmp(cmd, "quarantine") == 0)
        return cmd_quarantine(argc, argv);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)
        return cmd_version();
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    fprintf(stderr, "vigie: unknown command '%s'\n\n%s", cmd, usage);
    return 2;
}
