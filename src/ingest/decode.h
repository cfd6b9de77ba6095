/*
** ingest/decode.h: payload decoders of the MQTT gateway. A decoder specification (one JSON
** object of the gateway file, docs/decoders.md) says how to turn one message (topic + payload)
** into line protocol for ingest_lp: generic JSON (one record or an array of records), ChirpStack
** v4 uplink events and The Things Stack v3 uplink messages. Each record becomes one line:
**   <type>,<id_tag>=<entity id> <attr>=<value>[,<attr>@unitCode="<code>"][,lat=..,lon=..]
**   [,rssi=..,snr=..] <time in ms>
** Every line written parses back with lp_next (ingest/lineproto.h).
** Owns: struct decode_spec (immutable after decode_spec_parse: one spec may be used by several
** threads at once). Per decode_message call: the parsed payload and a scratch context, freed
** before it returns.
** Borrows: the caller's output buffer (appended to; restored on error).
*/
#ifndef VG_INGEST_DECODE_H
#define VG_INGEST_DECODE_H

#include <jansson.h>
#include "core/buf.h"

#include <stddef.h>
#include <stdint.h>

#define DECODE_PAYLOAD_MAX (1u << 20) /* bytes of a payload: above, VG_ETOOBIG */
#define DECODE_MAX_RECORDS 10000      /* records of one message */
#define DECODE_MAX_ATTRS 256          /* attributes of one record */
#define DECODE_MAX_NAME 256           /* bytes of a type or attribute name */
#define DECODE_MAX_ID 1024            /* bytes of an entity id (after the template) */
#define DECODE_MAX_STRING 4096        /* bytes of a string attribute value */

struct decode_spec;

/* Parse a decoder specification (a JSON object of the gateway's sources file). Returns 0 and
** sets *out (free with decode_spec_free), or VG_EINVAL with a message in err ("decoder: ...",
** naming the bad member) and *out unchanged. obj is borrowed (nothing of it is kept). */
int decode_spec_parse(const json_t *obj, struct decode_spec **out, char *err, size_t cap);
void decode_spec_free(struct decode_spec *s);            /* NULL is a no-op */
const char *decode_spec_type(const struct decode_spec *s); /* the entity type (owned by s) */

/* Asked before writing a unit field: return 1 to write "<attr>@unitCode" for (entity, attr),
** 0 to skip it (the caller remembers which units it already stored). NULL = always write.
** Called only once the whole message has decoded: a message that fails asks nothing. */
typedef int decode_unit_fn(void *arg, const char *entity, const char *attr, const char *unit);

/* Decode one message into line protocol lines (timestamps in ms, one line per record) appended
** to out, the entity id in tag id_tag. Returns the number of lines (>= 1), or VG_EINVAL with the
** reason in err and nothing appended (out->len restored). now_ms stamps records without time.
** A payload over DECODE_PAYLOAD_MAX bytes, or output over out's cap_max, is VG_ETOOBIG (reason
** in err, nothing appended). topic may be NULL when the spec takes no id from it. */
int decode_message(const struct decode_spec *s, const char *topic, const char *payload,
                   size_t len, const char *id_tag, int64_t now_ms, decode_unit_fn *unit_fn,
                   void *unit_arg, struct buf *out, char *err, size_t cap);

#endif
