/*
** api/session.c: the session table (see session.h). A flat array scanned under a mutex: a few
** thousand 32-byte comparisons per request cost less than the request's parsing.
*/
#include "api/session.h"

#include "core/vg.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

struct session {
    unsigned char hash[32]; /* BLAKE2b-256 of the token; all zero = free slot */
    int64_t expires_ms;
    enum vg_scope scope;
    char tenant[64];
    char label[128];
};

struct sessions {
    pthread_mutex_t mu;
    struct session s[SESSION_MAX];
};

struct sessions *sessions_new(void)
{
    struct sessions *ss = vg_calloc(1, sizeof(*ss));
    pthread_mutex_init(&ss->mu, NULL);
    return ss;
}

void sessions_free(struct sessions *ss)
{
    if (!ss)
        return;
    sodium_memzero(ss->s, sizeof(ss->s));
    pthread_mutex_destroy(&ss->mu);
    free(ss);
}

static void token_hash(const char *token, unsigned char out[32])
{
    crypto_generichash(out, 32, (const unsigned char *)token, strlen(token), NULL, 0);
}

void sessions_open(struct sessions *ss, const char *tenant, enum vg_scope scope, const char *label,
                   int64_t now_ms, char *token, size_t cap)
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(token, cap, raw, sizeof(raw));
    sodium_memzero(raw, sizeof(raw));
    unsigned char h[32];
    token_hash(token, h);
    pthread_mutex_lock(&ss->mu);
    struct session *victim = &ss->s[0];
    for (int i = 0; i < SESSION_MAX; i++) {
        struct session *s = &ss->s[i];
        if (s->expires_ms <= now_ms) { /* free or expired */
            victim = s;
            break;
        }
        if (s->expires_ms < victim->expires_ms)
            victim = s;
    }
    memcpy(victim->hash, h, 32);
    victim->expires_ms = now_ms + SESSION_TTL_MS;
    victim->scope = scope;
    snprintf(victim->tenant, sizeof(victim->tenant), "%s", tenant);
    snprintf(victim->label, sizeof(victim->label), "%s", label ? label : "");
    pthread_mutex_unlock(&ss->mu);
}

static struct session *find(struct sessions *ss, const char *token, int64_t now_ms)
{
    if (strlen(token) != 64)
        return NULL;
    unsigned char h[32];
    token_hash(token, h);
    for (int i = 0; i < SESSION_MAX; i++)
        if (ss->s[i].expires_ms > now_ms && sodium_memcmp(ss->s[i].hash, h, 32) == 0)
            return &ss->s[i];
    return NULL;
}

int sessions_check(struct sessions *ss, const char *token, int64_t now_ms, char *tenant,
                   size_t tcap, enum vg_scope *scope, char *label, size_t lcap)
{
    pthread_mutex_lock(&ss->mu);
    struct session *s = find(ss, token, now_ms);
    if (s) {
        snprintf(tenant, tcap, "%s", s->tenant);
        *scope = s->scope;
        snprintf(label, lcap, "%s", s->label);
    }
    pthread_mutex_unlock(&ss->mu);
    return s ? VG_OK : VG_ENOENT;
}

void sessions_close(struct sessions *ss, const char *token)
{
    pthread_mutex_lock(&ss->mu);
    struct session *s = find(ss, token, 0);
    if (s)
        memset(s, 0, sizeof(*s));
    pthread_mutex_unlock(&ss->mu);
}
