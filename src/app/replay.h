/*
** app/replay.h: quarantine replay. After the mapping, the decoder or a rule is fixed, the
** quarantined records go through the ingest path again, each by its format: line protocol
** ("lp", with its precision), an MQTT message ("mqtt": the source's decoder in the gateway
** file), a CSV row ("csv": the import mapping it came through, or a fixed one). A record that
** passes is stored and leaves the quarantine; one that fails again is quarantined again with
** its new reason (the old row is removed: one row per record).
** Owns: per call, the list of row ids to replay.
** Borrows: the server's ingest, meta and gateway.
*/
#ifndef VG_APP_REPLAY_H
#define VG_APP_REPLAY_H

#include "app/server.h"

struct replay_opts {
    const char *tenant;  /* required */
    const char *source;  /* NULL = every source */
    int64_t id;          /* 0 = every row */
    const char *mapping; /* csv rows: this mapping instead of the stored reference (or NULL) */
};

struct replay_result {
    uint64_t replayed, stored, quarantined, skipped;
    char first_errors[1024];
};

/* Replay the rows that exist when the call starts (rows quarantined again during the call are
** not replayed twice). Returns 0, or a store error (the rows not yet replayed stay). */
int replay_run(struct vg_server *s, const struct replay_opts *o, struct replay_result *res);

#endif
