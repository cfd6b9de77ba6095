/*
** ingest/gateway.h: the MQTT gateway. Reads the gateway file (JSON, docs/sources.md): brokers,
** sources (MQTT subscriptions with their decoder, API keys, imports; owner and cadence) and
** validation rules. One thread per broker (libmosquitto, MQTT v5 by default) subscribes to the
** sources' topics, decodes each message (ingest/decode: generic JSON, ChirpStack v4, The Things
** Stack v3; NGSI-LD; line protocol) and stores it through the line-protocol ingest path.
** Durability before acknowledgement: the client runs in libmosquitto's external-thread mode, so
** the PUBACKs of a batch of QoS 1 messages leave only after the batch is durable (stored or
** quarantined). While the store is busy the broker keeps the messages (persistent session);
** when a batch cannot be stored the connection is dropped unacknowledged and the broker
** delivers it again after the reconnection (exponential backoff).
** Owns: the parsed file, the broker clients and threads, the unit-code memory.
** Borrows: ingest, meta (quarantine), the source registry.
*/
#ifndef VG_INGEST_GATEWAY_H
#define VG_INGEST_GATEWAY_H

#include "ingest/ingest.h"
#include "ingest/sources.h"
#include "meta/meta.h"

#include <jansson.h>

#define GATEWAY_FILE_MAX (4u << 20) /* bytes of a gateway file */

struct gateway;

/* Parse the gateway file at path: declares its sources and key/import bindings in reg.
** Returns 0, or VG_EINVAL with "path: message" in err. Nothing runs until gateway_start. */
int gateway_load(const char *path, struct ingest *ig, struct meta *meta, struct sources *reg,
                 struct gateway **out, char *err, size_t cap);
/* The file's "rules" array (borrowed; NULL when absent), for the validator. */
const json_t *gateway_rules(const struct gateway *g);
/* Start one thread per broker. Returns 0 or an error (logged). */
int gateway_start(struct gateway *g);
/* Stop the threads (the batch in hand is finished first) and free. NULL is a no-op. */
void gateway_free(struct gateway *g);

/* Decode and store one message as if source had received it on topic (vigie quarantine
** replay). *stored = records stored; a message that fails again is quarantined again.
** VG_ENOENT when no MQTT source has that name. */
int gateway_replay(struct gateway *g, const char *source, const char *topic,
                   const char *payload, size_t len, uint64_t *stored, char *err, size_t cap);

struct gateway_stats {
    uint64_t messages, batches, decode_errors, store_errors, reconnects;
};
void gateway_get_stats(struct gateway *g, struct gateway_stats *st);

#endif
