/*
** api/live.h: the live feed behind GET /api/v1/live (Server-Sent Events). Every value stored by
** the ingest path is published once into a ring of recent events; each SSE connection reads the
** ring from its own cursor, filtered, and blocks while there is nothing new.
** An event id is "<boot>-<seq>": boot changes at every start, seq counts events since; a client
** that comes back with a Last-Event-ID the ring still holds resumes after it, any other gets a
** reset (it re-reads the current state).
** Owns: the ring (each slot one allocation: names and the event's JSON text), the readers count.
** Borrows: nothing.
** Thread: live_publish from any thread (ingest); live_read from any thread (one per connection).
*/
#ifndef VG_API_LIVE_H
#define VG_API_LIVE_H

#include "core/buf.h"
#include "ingest/ingest.h" /* struct ingest_update: the values published */

#include <stdint.h>

struct live;

/* capacity: events kept (rounded up to a power of two, at least 1024; 0 = 65536). */
struct live *live_new(uint32_t capacity);
/* Free the ring. Call live_close first and make sure no reader remains. NULL is a no-op. */
void live_free(struct live *lv);
/* Wake every reader: their live_read returns LIVE_CLOSED from now on. */
void live_close(struct live *lv);
/* Is anyone listening? (publishers skip the work when not) */
int live_active(const struct live *lv);

/* Publish n values of tenant (one event each, in order). Strings are copied. */
void live_publish(struct live *lv, const char *tenant, const struct ingest_update *u, uint32_t n);

/* Publish a change of an alert of tenant (alerts/alerts.h): one `event: alert` whose data is
** {"event":event,"alert":alert_json}; entity and type are the alert's, for the readers' filters.
** Public readers (pub set) never receive alerts. */
void live_publish_alert(struct live *lv, const char *tenant, const char *entity,
                        const char *type, const char *event, const char *alert_json);

/* What a reader wants: tenant is required; lists are comma-separated names (NULL or "" = any);
** pub, when set, is asked for each event and drops what it refuses (public data only). */
struct live_filter {
    const char *tenant;
    const char *types, *ids, *attrs;
    int (*pub)(void *arg, const char *type, const char *attr);
    void *pub_arg;
};

/* Is name (n bytes) one of the items of the comma-separated list? */
int live_list_has(const char *list, const char *name, size_t n);

/* Readers. live_join counts a reader in (VG_EAGAIN when max readers are in already) and sets
** *cursor from the client's Last-Event-ID (NULL = from now): returns 1 in *reset when that id
** is not in the ring any more (the client must re-read the state). live_leave counts it out. */
int live_join(struct live *lv, uint32_t max, const char *last_event_id, uint64_t *cursor,
              int *reset);
void live_leave(struct live *lv);

enum live_rc { LIVE_DATA = 0, LIVE_TIMEOUT = 1, LIVE_CLOSED = 2, LIVE_RESET = 3 };
/* Wait up to timeout_ms for events after *cursor that pass f, and append at most max_events of
** them to out as one SSE "m" event (id, event, data lines). LIVE_RESET: the reader fell more
** than the ring behind; *cursor moved to now (the client must re-read the state). */
enum live_rc live_read(struct live *lv, uint64_t *cursor, const struct live_filter *f,
                       int timeout_ms, uint32_t max_events, struct buf *out);

/* The boot id ("<16 hex digits>") of this hub. */
const char *live_boot(const struct live *lv);

struct live_stats {
    uint64_t published, readers, resets;
};
void live_get_stats(struct live *lv, struct live_stats *st);

#endif
