/*
** api/auth.c: auth_authorize(), the one function every request passes through.
** Decides the tenant and the scope of the caller:
**   auth on:  the API key (Authorization: Bearer|Token <key>, Basic with the key as password,
**             X-API-Key, or ?p=<key> as InfluxDB 1.x clients send it) names its tenant and scope;
**             an NGSILD-Tenant header naming another tenant is refused (403).
**             A browser session cookie (api/session.h) stands for the key it was opened with.
**             Public routes (need = SCOPE_NONE) take credentials when they are presented and
**             valid (their handlers widen what they show), and stay anonymous otherwise.
**   auth off: tenant from NGSILD-Tenant / Fiware-Service / ?tenant=, else the default; scope admin.
** Keys are never logged: the access log shows only the tenant.
** Owns: nothing (keys and their cache live in meta).
*/
#include "api/api_int.h"

#include "api/session.h"
#include "core/clock.h"
#include "core/log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sodium.h>

int auth_tenant_valid(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static const char *requested_tenant(struct http_req *req)
{
    const char *t = http_header(req, "NGSILD-Tenant");
    if (!t)
        t = http_header(req, "Fiware-Service");
    if (!t)
        t = http_arg(req, "tenant");
    return t;
}

/* Extract the presented key into out (cap); returns 1 if one was found. */
static int presented_key(struct http_req *req, char *out, size_t cap)
{
    const char *h = http_header(req, "Authorization");
    const char *k = NULL;
    if (h) {
        if (strncasecmp(h, "Bearer ", 7) == 0)
            k = h + 7;
        else if (strncasecmp(h, "Token ", 6) == 0)
            k = h + 6;
        else if (strncasecmp(h, "Basic ", 6) == 0) {
            unsigned char dec[256];
            size_t dl = 0;
            if (sodium_base642bin(dec, sizeof(dec) - 1, h + 6, strlen(h + 6), NULL, &dl, NULL,
                                  sodium_base64_VARIANT_ORIGINAL) != 0)
                return 0;
            dec[dl] = '\0';
            char *colon = memchr(dec, ':', dl);
            if (!colon) {
                sodium_memzero(dec, sizeof(dec));
                return 0;
            }
            snprintf(out, cap, "%s", colon + 1);
            sodium_memzero(dec, sizeof(dec));
            return out[0] != '\0';
        }
    }
    if (!k)
        k = http_header(req, "X-API-Key");
    if (!k)
        k = http_arg(req, "p");
    if (!k)
        return 0;
    while (*k == ' ')
        k++;
    snprintf(out, cap, "%s", k);
    return out[0] != '\0';
}

int auth_authorize(struct api *a, struct http_req *req, enum vg_scope need, struct principal *p,
                   struct http_resp *resp)
{
    memset(p, 0, sizeof(*p));
    const char *want = requested_tenant(req);
    if (want && !auth_tenant_valid(want)) {
        if (strncmp(req->url, "/ngsi-ld/", 9) == 0) { /* NGSI-LD clients read its error types */
            buf_reset(&resp->body);
            resp->status = 400;
            resp->ctype = "application/json";
            buf_puts(&resp->body, "{\"type\":\"https://uri.etsi.org/ngsi-ld/errors/BadRequestData\","
                                  "\"title\":\"Bad request data\",\"status\":400,\"detail\":"
                                  "\"NGSILD-Tenant: tenant names are 1 to 63 characters among "
                                  "A-Z a-z 0-9 _ -\"}\n");
            return VG_EPERM;
        }
        problem(resp, 400, "bad-tenant", "Invalid tenant",
                "tenant names are 1 to 63 characters among A-Z a-z 0-9 _ -");
        return VG_EPERM;
    }

    if (!a->o.auth) {
        snprintf(p->tenant, sizeof(p->tenant), "%s", want ? want : a->o.default_tenant);
        p->scope = SCOPE_ADMIN;
        snprintf(req->tenant, sizeof(req->tenant), "%s", p->tenant);
        return VG_OK;
    }
    char key[128];
    int have_key = presented_key(req, key, sizeof(key));
    const char *cookie = have_key ? NULL : http_cookie(req, SESSION_COOKIE);
    if (need == SCOPE_NONE && !have_key && !cookie) {
        p->scope = SCOPE_NONE;
        return VG_OK;
    }
    if (!have_key && !cookie) {
        atomic_fetch_add(&a->auth_failures, 1);
        problem(resp, 401, "unauthorized", "Unauthorized",
                "an API key is required (Authorization: Bearer <key>)");
        http_resp_header(resp, "WWW-Authenticate", "Bearer realm=\"vigie\"");
        return VG_EPERM;
    }
    enum vg_scope scope = SCOPE_NONE;
    int rc;
    if (have_key) {
        rc = meta_apikey_verify_label(a->meta, key, p->tenant, sizeof(p->tenant), &scope,
                                      p->key_label, sizeof(p->key_label));
        sodium_memzero(key, sizeof(key));
    } else {
        rc = sessions_check(a->sessions, cookie, clock_now_ms(), p->tenant, sizeof(p->tenant),
                            &scope, p->key_label, sizeof(p->key_label));
    }
    if (rc && need == SCOPE_NONE) { /* a public route: a stale session is no error */
        memset(p, 0, sizeof(*p));
        return VG_OK;
    }
    if (rc) {
        atomic_fetch_add(&a->auth_failures, 1);
        if (rc != VG_ENOENT)
            log_error("cannot verify api key from '%s': %s", req->peer, vg_strerror(rc));
        problem(resp, rc == VG_ENOENT ? 401 : 500, rc == VG_ENOENT ? "unauthorized" : "internal",
                rc == VG_ENOENT ? "Unauthorized" : "Internal error",
                rc == VG_ENOENT ? (have_key ? "unknown or revoked API key"
                                            : "the session has expired; sign in again")
                                : "cannot verify the API key");
        if (rc == VG_ENOENT)
            http_resp_header(resp, "WWW-Authenticate", "Bearer realm=\"vigie\", error=\"invalid_token\"");
        return VG_EPERM;
    }
    p->scope = scope;
    p->authenticated = 1;
    snprintf(req->tenant, sizeof(req->tenant), "%s", p->tenant);
    snprintf(req->principal, sizeof(req->principal), "%s", vg_scope_name(scope));
    if (want && strcmp(want, p->tenant) != 0) {
        atomic_fetch_add(&a->auth_failures, 1);
        problem(resp, 403, "forbidden", "Forbidden", "this API key belongs to another tenant");
        return VG_EPERM;
    }
    /* admin implies write and read; write does not imply read (a gateway only writes). */
    int ok = need == SCOPE_NONE || scope == SCOPE_ADMIN || scope == need;
    if (!ok) {
        atomic_fetch_add(&a->auth_failures, 1);
        problem(resp, 403, "forbidden", "Forbidden", "this API key has scope '%s', the request needs '%s'",
                vg_scope_name(scope), vg_scope_name(need));
        return VG_EPERM;
    }
    return VG_OK;
}
