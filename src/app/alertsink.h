/*
** app/alertsink.h: where the alert engine's changes go once durable (alerts_listener): the live
** feed (`event: alert` on GET /api/v1/live), the notification receivers (alerts/notify: webhooks,
** MQTT, e-mail) and the NGSI-LD Alert entities (Smart Data Models Alert, one per alert, so that
** NGSI-LD queries and subscriptions see them; alertsink.c gives the mapping).
** Borrows: every module it writes to (any may be NULL: that destination is skipped).
** Thread: called by the engine in the thread that made the change, one call at a time.
*/
#ifndef VG_APP_ALERTSINK_H
#define VG_APP_ALERTSINK_H

#include "alerts/alerts.h"
#include "alerts/notify.h"
#include "api/live.h"
#include "ngsild/entstore.h"
#include "ngsild/ldctx.h"

struct alertsink {
    struct live *live;
    struct notify *notify;
    struct entstore *es;
    struct ldctx_reg *ldreg;
};

/* The alerts_listener function; arg is a struct alertsink. */
void alertsink_on_changes(void *arg, const struct alerts_change *c, uint32_t n);
/* Is this thread writing Alert entities now? (the entity observer must not feed their values
** back to the engine) */
int alertsink_writing(void);

#endif
