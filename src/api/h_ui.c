/*
** api/h_ui.c: what the web application needs from the server (docs/web.md): its files
** (embedded, api/webassets.h, or from `web-dir` on disk), GET /api/v1/ui/config, and browser
** sessions (POST and DELETE /api/v1/session, api/session.h).
** Pages are public shells: every datum they show comes through the authorised API.
*/
#include "api/api_int.h"
#include "api/session.h"
#include "api/webassets.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/version.h"

#include <jansson.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WEB_MAX_FILE (16u << 20)

static const char *ctype_of(const char *p)
{
    static const struct {
        const char *ext, *ct;
    } map[] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},   {".json", "application/json"},
        {".svg", "image/svg+xml"},             {".png", "image/png"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(p, '.');
    for (size_t i = 0; dot && i < VG_ARRAY_LEN(map); i++)
        if (strcmp(dot, map[i].ext) == 0)
            return map[i].ct;
    return "application/octet-stream";
}

/* Security headers of a page: the dashboard may not be framed; the display pages are made to be
** (city websites embed them). Map tiles may come from the configured tile server. */
static void page_headers(struct api *a, struct http_resp *resp, int framable)
{
    char origin[256] = "";
    if (a->o.tiles) {
        const char *p = strstr(a->o.tiles, "://");
        if (p) {
            const char *end = strchr(p + 3, '/');
            size_t n = end ? (size_t)(end - a->o.tiles) : strlen(a->o.tiles);
            if (n < sizeof(origin) - 1 && !memchr(a->o.tiles, '{', VG_MIN(n, strlen(a->o.tiles))))
                snprintf(origin, sizeof(origin), " %.*s", (int)n, a->o.tiles);
        }
    }
    char csp[700];
    snprintf(csp, sizeof(csp),
             "default-src 'self'; img-src 'self' data: blob:%s; style-src 'self' 'unsafe-inline'; "
             "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
             "frame-ancestors %s",
             origin, framable ? "*" : "'none'");
    http_resp_header(resp, "Content-Security-Policy", csp);
    http_resp_header(resp, "X-Content-Type-Options", "nosniff");
    http_resp_header(resp, "Referrer-Policy", "same-origin");
}

static int accepts_gzip(struct http_req *req)
{
    const char *ae = http_header(req, "Accept-Encoding");
    return ae && strstr(ae, "gzip");
}

/* Serve the file at path ("/index.html"). Returns 0, or VG_ENOENT (resp untouched). */
static int serve_file(struct api *a, struct http_req *req, struct http_resp *resp,
                      const char *path)
{
    int html = strlen(path) > 5 && strcmp(path + strlen(path) - 5, ".html") == 0;
    if (a->o.web_dir && *a->o.web_dir) {
        if (strstr(path, "..") || strchr(path, '\\'))
            return VG_ENOENT;
        char full[1024];
        snprintf(full, sizeof(full), "%s%s", a->o.web_dir, path);
        int fd = open(full, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return VG_ENOENT;
        struct stat st;
        if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > WEB_MAX_FILE ||
            buf_reserve(&resp->body, (size_t)st.st_size)) {
            close(fd);
            return VG_ENOENT;
        }
        ssize_t n = read(fd, resp->body.p, (size_t)st.st_size);
        close(fd);
        if (n != st.st_size)
            return VG_ENOENT;
        resp->body.len = (size_t)n;
        resp->ctype = ctype_of(path);
        http_resp_header(resp, "Cache-Control", "no-store");
    } else {
        const struct webasset *w = NULL;
        for (size_t i = 0; i < vg_nwebassets; i++)
            if (strcmp(vg_webassets[i].path, path) == 0)
                w = &vg_webassets[i];
        if (!w)
            return VG_ENOENT;
        resp->ctype = w->ctype;
        http_resp_header(resp, "ETag", w->etag);
        http_resp_header(resp, "Cache-Control", "no-cache");
        http_resp_header(resp, "Vary", "Accept-Encoding");
        const char *inm = http_header(req, "If-None-Match");
        if (inm && strcmp(inm, w->etag) == 0) {
            resp->status = 304;
            resp->ctype = NULL;
            return VG_OK;
        }
        if (w->gz && accepts_gzip(req)) {
            http_resp_header(resp, "Content-Encoding", "gzip");
            buf_append(&resp->body, w->gz, w->gzlen);
        } else {
            buf_append(&resp->body, w->data, w->len);
        }
    }
    if (html)
        page_headers(a, resp, strncmp(path, "/display", 8) == 0 ||
                                  strncmp(path, "/widget", 7) == 0);
    resp->status = 200;
    return VG_OK;
}

static void not_found(struct http_req *req, struct http_resp *resp)
{
    problem(resp, 404, "not-found", "Not found", "no resource at '%s'", req->url);
}

/* GET /assets/..., /display/... and, for browsers, / */
void h_asset(struct api *a, struct http_req *req, struct http_resp *resp, const struct principal *p)
{
    const char *u = req->url;
    const char *path = u;
    if (strcmp(u, "/") == 0)
        path = "/index.html";
    else if (strcmp(u, "/display") == 0 || strncmp(u, "/display/", 9) == 0)
        path = "/display.html"; /* one page; its script reads the view from the path */
    else if (strcmp(u, "/widget-demo.html") == 0)
        path = u; /* a page that looks like a city website embedding the widget */
    else if (strncmp(u, "/assets/", 8) != 0 || strlen(u) > 200)
        path = NULL;
    /* The dashboard's first data call starts while its script downloads, for callers who will
    ** be allowed to read it (others would see an unused preload refused). */
    if (path && !strcmp(path, "/index.html") && (!a->o.auth || p->authenticated) &&
        (p->scope == SCOPE_READ || p->scope == SCOPE_ADMIN))
        http_resp_header(resp, "Link", "</api/v1/latest?by=entity>; rel=preload; as=fetch; crossorigin");
    if (!path || serve_file(a, req, resp, path)) {
        if (strcmp(u, "/") == 0 || !strcmp(path ? path : "", "/display.html"))
            problem(resp, 404, "no-web-ui", "Web application not built",
                    "this binary was built without the web application (web/dist); run make "
                    "with npm available, or set web-dir");
        else
            not_found(req, resp);
    }
    if (!strcmp(req->method, "HEAD"))
        buf_reset(&resp->body);
}

void h_ui_config(struct api *a, struct http_req *req, struct http_resp *resp,
                 const struct principal *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "version", json_string(VIGIE_VERSION));
    json_object_set_new(o, "auth", json_boolean(a->o.auth));
    int authed = !a->o.auth || p->authenticated;
    json_object_set_new(o, "authenticated", json_boolean(authed));
    json_object_set_new(o, "tenant", json_string(authed ? p->tenant : a->o.public_tenant));
    json_object_set_new(o, "scope", json_string(vg_scope_name(p->scope)));
    json_object_set_new(o, "tiles", a->o.tiles ? json_string(a->o.tiles) : json_null());
    json_object_set_new(o, "tilesAttribution",
                        json_string(a->o.tiles_attribution ? a->o.tiles_attribution : ""));
    json_t *pub = json_array();
    for (uint32_t i = 0; i < a->o.npublic; i++)
        json_array_append_new(pub, json_string(a->o.public_specs[i]));
    json_object_set_new(o, "publicTypes", pub);
    /* what the page may call: it probes nothing the server does not announce (a 404 would be a
    ** console error) */
    json_t *feat = json_array();
    if (a->alerts) {
        json_array_append_new(feat, json_string("alerts"));
        json_array_append_new(feat, json_string("forecast"));
    }
    json_object_set_new(o, "features", feat);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    buf_puts(&resp->body, s);
    buf_putc(&resp->body, '\n');
    free(s);
    resp->status = 200;
    resp->ctype = "application/json";
    http_resp_header(resp, "Cache-Control", "no-store");
}

void h_session_open(struct api *a, struct http_req *req, struct http_resp *resp,
                    const struct principal *p)
{
    if (!a->o.auth) {
        resp->status = 204; /* auth off: nothing to open */
        return;
    }
    json_error_t je;
    json_t *o = json_loadb(req->body.p ? req->body.p : "", req->body.len, 0, &je);
    const char *key = json_string_value(json_object_get(o, "key"));
    if (!key || !*key || strlen(key) > 127) {
        json_decref(o);
        problem(resp, 400, "bad-request", "Bad request", "the body must be {\"key\":\"<API key>\"}");
        return;
    }
    char tenant[64], label[128];
    enum vg_scope scope;
    int rc = meta_apikey_verify_label(a->meta, key, tenant, sizeof(tenant), &scope, label,
                                      sizeof(label));
    json_decref(o);
    if (req->body.p) /* the key's only other copy */
        memset(req->body.p, 0, req->body.len);
    if (rc) {
        atomic_fetch_add(&a->auth_failures, 1);
        problem(resp, rc == VG_ENOENT ? 401 : 500, rc == VG_ENOENT ? "unauthorized" : "internal",
                rc == VG_ENOENT ? "Unauthorized" : "Internal error",
                rc == VG_ENOENT ? "unknown or revoked API key" : "cannot verify the API key");
        return;
    }
    char token[65];
    sessions_open(a->sessions, tenant, scope, label, clock_now_ms(), token, sizeof(token));
    char cookie[200];
    snprintf(cookie, sizeof(cookie), "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld",
             SESSION_COOKIE, token, (long long)(SESSION_TTL_MS / 1000));
    http_resp_header(resp, "Set-Cookie", cookie);
    memset(token, 0, sizeof(token));
    memset(cookie, 0, sizeof(cookie));
    snprintf(req->tenant, sizeof(req->tenant), "%s", tenant);
    resp->status = 204;
}

void h_session_close(struct api *a, struct http_req *req, struct http_resp *resp,
                     const struct principal *p)
{
    const char *c = http_cookie(req, SESSION_COOKIE);
    if (c)
        sessions_close(a->sessions, c);
    char cookie[128];
    snprintf(cookie, sizeof(cookie), "%s=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
             SESSION_COOKIE);
    http_resp_header(resp, "Set-Cookie", cookie);
    resp->status = 204;
}
