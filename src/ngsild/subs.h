/*
** ngsild/subs.h: NGSI-LD subscriptions and notifications (ETSI GS CIM 009 cl. 5.8, 5.11, 6.10-6.11).
** CONTRACT written by the lead; the implementer may add functions (additive changes only).
** Owns: every subscription of every tenant (in memory, durable as meta documents of kind
** "subscription"), the per-endpoint notification queues and their worker threads, the
** undelivered notifications (durable, so that they survive a restart).
** Borrows: meta, the @context registry (to compact notifications with the subscription's
** @context).
** Thread: all functions are thread-safe. subs_on_change never blocks on a receiver.
*/
#ifndef VG_NGSILD_SUBS_H
#define VG_NGSILD_SUBS_H

#include "meta/meta.h"
#include "ngsild/ldctx.h"

#include <jansson.h>

struct subs;

/* Load the subscriptions and the undelivered notifications, start the workers. */
int subs_open(struct meta *m, struct ldctx_reg *reg, struct subs **out);
/* Stop the workers (undelivered notifications stay durable) and free. NULL is a no-op. */
void subs_free(struct subs *s);

/* The entity store's observer (entstore_observer_fn): evaluate the tenant's subscriptions
** against one committed change and enqueue the notifications. Never blocks on I/O. */
void subs_on_change(void *arg, const char *tenant, const char *id, const json_t *old,
                    const json_t *new_);

/* ---- additions by the implementer (additive) ---------------------------------------------- */
struct entstore;

/* The entity store, needed by periodic subscriptions (timeInterval) to read the current state of
** the matching entities. Set once, before serving; without it periodic notifications are off. */
void subs_set_entstore(struct subs *s, struct entstore *es);

/* Limits. */
#define SUBS_MAX_PER_TENANT 10000
#define SUBS_QUEUE_MAX 10000       /* undelivered notifications per endpoint (oldest dropped) */

/* CRUD for the API (api/h_subscriptions.c). body/frag are the request JSON; ctx is the request's
** active @context (names are expanded with it; it is retained as the subscription's context for
** notifications at creation) and ctx_value the @context as given (NULL: core), kept to re-resolve
** it at load. Errors: VG_EINVAL with "member: detail" in err, VG_EEXIST (id taken),
** VG_ENOENT (no such subscription), VG_ETOOBIG (SUBS_MAX_PER_TENANT), or a meta error. */
int subs_create(struct subs *s, const char *tenant, const json_t *body, struct ldctx *ctx,
                const json_t *ctx_value, char *id_out, size_t id_cap, char *err, size_t cap);
/* Merge frag into the subscription (top-level members replaced, "notification" merged one level
** deep; isActive false pauses, true resumes) and persist it. */
int subs_update(struct subs *s, const char *tenant, const char *id, const json_t *frag,
                struct ldctx *ctx, char *err, size_t cap);
int subs_delete(struct subs *s, const char *tenant, const char *id);
/* The subscription as the API shows it (names compacted with ctx; createdAt/modifiedAt only with
** sys_attrs; read-only status members). *out: a new reference. VG_ENOENT if none. */
int subs_get(struct subs *s, const char *tenant, const char *id, struct ldctx *ctx, int sys_attrs,
             json_t **out);
/* A page of the tenant's subscriptions in creation order; *total (may be NULL) = how many. */
int subs_list(struct subs *s, const char *tenant, struct ldctx *ctx, int sys_attrs,
              uint64_t offset, uint64_t limit, json_t **out, uint64_t *total);

struct subs_stats {
    uint64_t subscriptions, queued, sent, failed, dropped;
};
void subs_get_stats(struct subs *s, struct subs_stats *st);

/* ---- pure functions (unit tests, fuzzer) ---------------------------------------------------- */
/* Validate a subscription payload and build its stored form (names expanded with ctx, read-only
** members dropped). now_ms > 0: expiresAt must be after it. *out: a new reference; on error *out
** is unchanged and err holds "member: detail". */
int subs_parse(const json_t *body, struct ldctx *ctx, int64_t now_ms, json_t **out, char *err,
               size_t cap);
/* Would the subscription `doc` (stored form from subs_parse; q parsed with ctx) notify this change
** (old/new stored entities, NULL = absent) at now_ms? 1 yes, 0 no, VG_EINVAL if doc is invalid. */
int subs_match(const json_t *doc, struct ldctx *ctx, const json_t *old, const json_t *new_,
               int64_t now_ms);
/* Throttling: 0 if a notification may be sent at now_ms, else the time it may be sent. */
int64_t subs_throttle_due(int64_t last_sent_ms, int64_t throttling_ms, int64_t now_ms);

#endif
