/*
** ingest/sources.h: the source registry. Every way data enters Vigie is a source with a name:
** an MQTT subscription, an API key (line protocol over HTTP), a file import. A source has an
** owner department and an expected cadence (declared in the gateway file, docs/sources.md) and
** live counters: messages received, records stored, records quarantined, last seen, last error.
** A source silent for longer than its cadence is stale (GET /api/v1/sources, /metrics; the
** alert engine reads the same flag).
** Sources that send without being declared (a new API key, an import of a new file) register
** themselves on first use, without owner or cadence.
** Owns: struct sources, every struct source (never freed before the registry: callers keep
** pointers for the life of the process).
** Thread: any thread; counters are atomics, the table and error texts are under a mutex.
*/
#ifndef VG_INGEST_SOURCES_H
#define VG_INGEST_SOURCES_H

#include <stddef.h>
#include <stdint.h>

#define SOURCES_MAX 4096   /* sources in the registry (declared and self-registered) */
#define SOURCE_NAME_MAX 127

enum source_kind { SOURCE_HTTP = 1, SOURCE_MQTT, SOURCE_IMPORT };

struct sources;
struct source;

int sources_new(struct sources **out);
void sources_free(struct sources *r); /* NULL is a no-op */

/* Declare a source (gateway file). kind, tenant ("" = any), owner and cadence (0 = none) are
** set; declaring a name twice is VG_EEXIST. */
int sources_declare(struct sources *r, const char *name, enum source_kind kind,
                    const char *tenant, const char *owner, int64_t cadence_ms,
                    struct source **out);
/* The source called name, registering it (kind, tenant) when unknown. NULL when the registry
** is full (SOURCES_MAX) or the name is empty or too long: callers then count nothing. */
struct source *sources_get(struct sources *r, const char *name, enum source_kind kind,
                           const char *tenant);
/* The declared cadence of the source called name (ms), 0 when unknown or none. */
int64_t sources_cadence(struct sources *r, const char *name);
/* Bindings from how data arrives to a declared source (gateway file): key "key:LABEL" (an API
** key's label) or "import:MAPPING" (an import mapping's name, without directory and .json). */
int sources_bind(struct sources *r, const char *key, const char *source_name);
/* The source name bound to key, else fallback, into out. */
void sources_resolve(struct sources *r, const char *key, const char *fallback, char *out,
                     size_t cap);

/* Counters. received counts messages/requests/files; stored and quarantined count records. */
void source_seen(struct source *s, uint64_t received, uint64_t stored, uint64_t quarantined,
                 int64_t now_ms);
void source_error(struct source *s, const char *msg, int64_t now_ms);
/* MQTT: is the source's broker connection up (1/0); HTTP and imports leave it -1. */
void source_set_connected(struct source *s, int up);
const char *source_name(const struct source *s);

struct source_info {
    const char *name, *tenant, *owner;
    enum source_kind kind;
    int64_t cadence_ms;
    uint64_t received, stored, quarantined, errors;
    int64_t last_seen_ms, last_error_ms, created_ms;
    char last_error[256];
    int connected; /* -1 = not applicable */
    int stale;     /* silent for longer than the cadence (since last seen, or since created) */
};
/* Calls fn for every source visible to tenant (NULL = all), in name order. fn returns non-zero
** to stop (returned). */
typedef int sources_fn(void *arg, const struct source_info *si);
int sources_list(struct sources *r, const char *tenant, int64_t now_ms, sources_fn *fn,
                 void *arg);
const char *source_kind_name(enum source_kind k);

#endif
