/*
** api/session.h: browser sessions. POST /api/v1/session trades an API key for a random session
** token sent back as an HttpOnly, SameSite=Strict cookie; auth_authorize() accepts the cookie
** like the key it was made from (same tenant, scope and label) until it expires or is deleted.
** Only a BLAKE2b hash of each token is kept, in memory: a restart ends every session.
** Owns: the session table (at most SESSION_MAX; the one closest to expiry gives way).
** Thread: all functions are thread-safe.
*/
#ifndef VG_API_SESSION_H
#define VG_API_SESSION_H

#include "meta/meta.h"

#include <stddef.h>
#include <stdint.h>

#define SESSION_COOKIE "vigie_session"
#define SESSION_MAX 4096
#define SESSION_TTL_MS (12LL * 3600 * 1000)

struct sessions;

struct sessions *sessions_new(void);
void sessions_free(struct sessions *ss);
/* Open a session; writes the token (64 hex digits + NUL) into token (cap >= 65). */
void sessions_open(struct sessions *ss, const char *tenant, enum vg_scope scope, const char *label,
                   int64_t now_ms, char *token, size_t cap);
/* Look a token up: 0 with tenant/scope/label filled, or VG_ENOENT (unknown or expired). */
int sessions_check(struct sessions *ss, const char *token, int64_t now_ms, char *tenant,
                   size_t tcap, enum vg_scope *scope, char *label, size_t lcap);
/* End a session (unknown tokens are ignored). */
void sessions_close(struct sessions *ss, const char *token);

#endif
