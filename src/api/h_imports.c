/*
** api/h_imports.c: POST /api/v1/imports?mapping=NAME&filename=FILE (docs/imports.md).
** Body: the file's bytes as exported (any encoding the mapping names). NAME is a mapping of the
** server's mappings directory (config `mappings`: DIR/NAME.json); FILE, the file's name, picks
** the mapping section. The import runs in the request (the client waits): rows are validated,
** stored through the line-protocol ingest and the failures quarantined, exactly as
** `vigie import` does. Answers:
**   200  {"section", "rows", "stored", "quarantined", "values", "seconds", "errors"}
**   400  no or bad mapping name, no filename; 404 no such mapping; 422 the mapping is invalid,
**        no section matches the file name, or the file cannot be read as the section says
**   503/507/500  the store failed (what was acknowledged before stays; re-importing is safe)
*/
#include "api/api_int.h"

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "ingest/import.h"
#include "ingest/sources.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int name_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 100)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return 0;
    return 1;
}

int api_mapping_path(const struct api *a, const char *name, char *path, size_t cap)
{
    if (!name_ok(name) || strstr(name, ".."))
        return VG_EINVAL;
    snprintf(path, cap, "%s/%s.json", a->o.mappings_dir ? a->o.mappings_dir : ".", name);
    return VG_OK;
}

void h_imports(struct api *a, struct http_req *req, struct http_resp *resp,
               const struct principal *p)
{
    const char *name = http_arg(req, "mapping");
    const char *file = http_arg(req, "filename");
    char path[1200], err[512];
    if (api_mapping_path(a, name, path, sizeof(path))) {
        problem(resp, 400, "bad-request", "Bad request",
                "mapping: the name of a mapping of the server's mappings directory "
                "([A-Za-z0-9_.-], e.g. madrid_noise)");
        return;
    }
    if (!file || !*file || strlen(file) > 255 || strchr(file, '/')) {
        problem(resp, 400, "bad-request", "Bad request",
                "filename: the file's name (it picks the mapping section), without a path");
        return;
    }
    struct stat st;
    if (stat(path, &st) || !S_ISREG(st.st_mode)) {
        problem(resp, 404, "not-found", "Not found", "no mapping '%s' in the mappings directory",
                name);
        return;
    }
    struct import_mapping *m = NULL;
    if (import_mapping_load(path, &m, err, sizeof(err))) {
        problem(resp, 422, "invalid-mapping", "Invalid mapping", "mapping '%s': %s", name, err);
        return;
    }
    /* The source: a declared source bound to the mapping ("import" in the gateway file),
    ** else "import:FILE". */
    char source[SOURCE_NAME_MAX + 1], bkey[160], fallback[320];
    snprintf(bkey, sizeof(bkey), "import:%s", name);
    snprintf(fallback, sizeof(fallback), "import:%.118s", file);
    sources_resolve(a->sources, bkey, fallback, source, sizeof(source));
    struct source *src = sources_get(a->sources, source, SOURCE_IMPORT, p->tenant);
    if (api_admit(a, req->body.len, resp)) {
        import_mapping_free(m);
        return;
    }
    struct import_result r;
    int64_t now = clock_now_ms();
    int rc = import_run(a->ig, a->meta, m, path, p->tenant, source, file,
                        req->body.p ? req->body.p : "", req->body.len, NULL, NULL, &r, err,
                        sizeof(err));
    api_release(a, req->body.len);
    import_mapping_free(m);
    if (rc)
        source_error(src, err[0] ? err : vg_strerror(rc), now);
    else
        source_seen(src, 1, r.stored, r.quarantined, now);
    if (!rc && r.quarantined)
        source_error(src, r.first_errors, now);
    if (rc == VG_ENOENT || rc == VG_EINVAL) {
        problem(resp, 422, "unprocessable", "Unprocessable file", "%s", err);
        return;
    }
    if (rc == VG_EFULL) {
        problem(resp, 507, "insufficient-storage", "Insufficient storage",
                "the disk is full after %llu rows: %s; retry later (re-importing is safe)",
                (unsigned long long)r.rows, err);
        http_resp_header(resp, "Retry-After", "30");
        return;
    }
    if (rc == VG_ECLOSED || rc == VG_EAGAIN) {
        problem(resp, 503, "unavailable", "Service unavailable", "%s; retry later", err);
        http_resp_header(resp, "Retry-After", "5");
        return;
    }
    if (rc) {
        log_error("import of '%s' failed: %s", file, err);
        problem(resp, 500, "internal", "Internal error", "%s", err);
        return;
    }
    resp->status = 200;
    resp->ctype = "application/json";
    struct buf *b = &resp->body;
    buf_puts(b, "{\"section\":");
    buf_json_str(b, r.section, strlen(r.section));
    buf_printf(b, ",\"rows\":%llu,\"stored\":%llu,\"quarantined\":%llu,\"values\":%llu,"
                  "\"seconds\":%.3f,\"errors\":",
               (unsigned long long)r.rows, (unsigned long long)r.stored,
               (unsigned long long)r.quarantined, (unsigned long long)r.values,
               (double)r.elapsed_ms / 1000.0);
    buf_json_str(b, r.first_errors, strlen(r.first_errors));
    buf_puts(b, "}\n");
}
