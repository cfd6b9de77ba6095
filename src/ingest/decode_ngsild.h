/*
** ingest/decode_ngsild.h: NGSI-LD entities received as messages (MQTT gateway, decoder
** "ngsi-ld") to line protocol: one entity (normalized or keyValues) or an array of them. Each
** Property with a number, boolean or string value, each Relationship (its object) and the
** location Point become fields; observedAt gives the line's time (attributes with different
** observedAt go to different lines); unitCode becomes "<attr>@unitCode". Structured values
** (objects, arrays), LanguageProperties and non-Point geometries are not time series: skipped.
** Owns: nothing (appends to the caller's buffer).
*/
#ifndef VG_INGEST_DECODE_NGSILD_H
#define VG_INGEST_DECODE_NGSILD_H

#include "core/buf.h"

#include <stddef.h>
#include <stdint.h>

#define DECODE_NGSILD_MAX_ENTITIES 10000
#define DECODE_NGSILD_MAX_ATTRS 256

/* Returns the number of lines appended (>= 1), or VG_EINVAL with the reason in why and out
** unchanged. Lines without observedAt take now_ms; timestamps are in ms. */
int decode_ngsild(const char *payload, size_t len, const char *id_tag, int64_t now_ms,
                  struct buf *out, char *why, size_t cap);

#endif
