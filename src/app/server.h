/*
** app/server.h: struct vg_server, the one object that holds every part of a running Vigie,
** and its life cycle: open the data directory (lock, meta, store, catalogue, recovery), serve,
** stop. The only code that knows every layer [STYLE 1].
** Owns: every module instance below and the data-directory lock.
*/
#ifndef VG_APP_SERVER_H
#define VG_APP_SERVER_H

#include "api/api.h"
#include "app/alertsink.h"
#include "app/config.h"
#include "app/demo.h"
#include "ingest/gateway.h"
#include "ingest/sources.h"
#include "ingest/validate.h"
#include "ngsild/entstore.h"
#include "ngsild/ldctx.h"
#include "ngsild/subs.h"

#include <pthread.h>
#include <stdatomic.h>

struct vg_server {
    struct config cfg;
    int lock_fd;
    struct meta *meta;
    struct store *store;
    struct catalog *cat;
    struct ingest *ig;
    struct ldctx_reg *ldreg; /* NGSI-LD @contexts */
    struct entstore *es;     /* NGSI-LD entities */
    struct subs *subs;       /* NGSI-LD subscriptions and notifications */
    struct sources *sources; /* the source registry */
    struct gateway *gw;      /* MQTT gateway (NULL without a gateway file) */
    struct schema_set *schemas; /* Smart Data Models schemas (NULL: none) */
    struct validator *val;   /* schemas + operator rules, used by ingest */
    struct live *live;       /* the live feed of new values (GET /api/v1/live) */
    struct alerts *alerts;   /* rules and alerts (docs/alerts.md) */
    struct notify *notify;   /* alert notifications: webhooks, MQTT, e-mail */
    struct alertsink sink;   /* where alert changes go (the engine's listener) */
    struct api *api;
    struct http_server *http;
    struct demo *demo;
    pthread_t maint;
    int maint_running;
    atomic_int stopping; /* read by the maintenance thread */
    struct io_vfs *fault_vfs; /* test hook only (VIGIE_TEST_FAULT_CTL) */
    char fault_ctl[512];
    int fault_full;
};

/* Open the data directory: lock it, open meta and the store, load the catalogue, replay the
** WAL. background: start the store's maintenance thread. Returns 0 or -1 (logged). */
int server_open(struct vg_server *s, const struct config *cfg, int background);
/* Start listening (and the demo when demo = 1); returns 0 or -1 (logged). */
int server_start(struct vg_server *s, int demo);
/* Block until SIGTERM or SIGINT, then stop cleanly. Returns the exit code. */
int server_run_until_signal(struct vg_server *s);
/* Stop everything that runs and close everything that is open. */
void server_close(struct vg_server *s);

#endif
