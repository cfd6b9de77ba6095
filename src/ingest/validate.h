/*
** ingest/validate.h: validation of every incoming point and entity before it is stored: the
** Smart Data Models schemas (ingest/schema.h) plus operator rules per tenant/type/attribute
** (range, allowed unit codes, maximum rate of change). A record that fails is quarantined by
** the caller with the reason written here. Rules and limits: docs/validation.md.
** Owns: the rules (immutable once published), the rate-of-change state of the series that a
** rate rule covers (bounded: VALIDATOR_MAX_SERIES by default, see validator_set_max_series).
** Borrows: the schema set (may be NULL: schemas disabled), which must outlive the validator.
** Thread: validator_check, validator_check_entity and validator_has_checks may run on any
** number of threads at once, also while rules are added (readers see a published snapshot of
** the rules and take no lock; the rate state is in VALIDATOR_SHARDS mutex-protected shards).
** validator_set_max_series must be called before the first check.
*/
#ifndef VG_INGEST_VALIDATE_H
#define VG_INGEST_VALIDATE_H

#include "ingest/schema.h"
#include "store/value.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define VALIDATOR_MAX_SERIES (1u << 20) /* series with rate-of-change state (default) */
#define VALIDATOR_SHARDS 64
#define VALIDATOR_MAX_RULES 100000

struct validator;

/* A validator over schemas (borrowed, may be NULL) and no rules yet. Free with validator_free. */
int validator_new(const struct schema_set *schemas, struct validator **out);
/* NULL is a no-op. */
void validator_free(struct validator *v);

/* Track at most n series (n >= VALIDATOR_SHARDS; each shard holds n / VALIDATOR_SHARDS and is
** cleared when full, see docs/validation.md). Before the first check only. */
void validator_set_max_series(struct validator *v, size_t n);

/* Add one rule (an object) or several (an array of objects, all or none):
**   {"tenant": "paris" (optional: any tenant), "type": "NoiseLevelObserved",
**    "attribute": "LAeq", "min": 20, "max": 140, "units": ["2N"], "max_rate": 5.0,
**    "name": "noise range" (optional: "<type>.<attribute>"), "description": "free text"}
** type and attribute are required, and at least one of min, max, units, max_rate.
** Returns 0; VG_EINVAL with err naming the rule and the member; VG_ETOOBIG past
** VALIDATOR_MAX_RULES. The rule object is read, not kept. */
int validator_add_rule_json(struct validator *v, const json_t *rule, char *err, size_t cap);

size_t validator_rule_count(const struct validator *v);

/* 1 when a point of type for tenant may be rejected (the type has a schema, or a rule applies
** to it for that tenant), else 0: the ingest can skip validator_check for the whole record. */
int validator_has_checks(const struct validator *v, const char *tenant, const char *type);

/* Check one point of series (tenant, entity, attr) of an entity of type `type`; unit is the
** point's UN/CEFACT unit code or NULL if unknown (unit rules then pass). Returns 0, or
** VG_EINVAL with why, e.g.:
**   "LAeq = 190 is above the schema maximum 150 (NoiseLevelObserved schema)"
**   "LAeq = 190 breaks rule 'noise range' (max 140)"
**   "unit 'GQ' not allowed for LAeq (rule 'noise range': 2N)"
**   "LAeq changed by 80 in 1 s (rule 'noise range': at most 5/s)"
** Range and rate rules apply to VT_F64/VT_I64 values (a NaN or infinite value fails them).
** Rate of change: only a point newer than the last accepted point of the series is compared
** with it; older or same-time points are not rate-checked; the state moves only on an accepted
** point (a point rejected for any reason leaves it). */
int validator_check(struct validator *v, const char *tenant, const char *type, const char *entity,
                    const char *attr, enum vg_vtype vt, const union vg_val *val, int64_t ts_ms,
                    const char *unit, char *why, size_t cap);

/* Check an entity in keyValues form: the type's schema, then the range rules of its numeric
** attributes (units and rates need a unit and a timestamp: they apply to points only).
** Returns 0 or VG_EINVAL with why. */
int validator_check_entity(struct validator *v, const char *tenant, const char *type,
                           const json_t *kv, char *why, size_t cap);

/* Series with rate state now, and how many times a full shard was cleared. */
size_t validator_series_count(struct validator *v);
uint64_t validator_series_cleared(struct validator *v);

#endif
