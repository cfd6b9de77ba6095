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

#endif
