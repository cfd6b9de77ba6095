/*
** ingest/schema.h: the JSON Schema subset used by the Smart Data Models (draft 2020-12), compiled
** once and checked on every incoming record. Two ways to check:
**   - schema_validate_entity(): a whole entity in keyValues form (or any JSON instance) walks
**     the compiled schema tree; the reason names the JSON path ("/LAeq: 190 is above maximum 150").
**   - schema_validate_value(): the hot path for one point (a number, bool or string value of one
**     attribute). At load time every (type, attribute) gets a flat check (allowed types, numeric
**     bounds, enum set, length, format, pattern, up to SCHEMA_MAX_ALTS anyOf/oneOf alternatives)
**     found by hash; no JSON is allocated on that path.
** Keywords, formats, $ref resolution and limits: docs/validation.md.
** Owns: the compiled nodes, the parsed schema documents they point into, the compiled regexes.
** Thread: build the set (schema_set_new/add/load) on one thread; afterwards every validate call
** is read-only and may run on any number of threads at once.
*/
#ifndef VG_INGEST_SCHEMA_H
#define VG_INGEST_SCHEMA_H

#include "store/value.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define SCHEMA_MAX_DEPTH 64        /* nesting of a schema document and of a validated instance */
#define SCHEMA_MAX_FILE (4u << 20) /* bytes of one schema file */
#define SCHEMA_MAX_ALTS 8          /* anyOf/oneOf alternatives a flat check can hold */
#define SCHEMA_STEP_BUDGET 1000000 /* schema nodes visited per validate call before giving up */

struct schema_set;

struct schema_stats {
    uint32_t types;          /* type schemas compiled */
    uint32_t nodes;          /* schema objects compiled (shared definitions counted once) */
    uint32_t patterns;       /* distinct "pattern"/"patternProperties" regexes */
    uint32_t patterns_bad;   /* of which could not be translated or compiled: they always pass */
    uint32_t ignored;        /* occurrences of unsupported assertion keywords (they pass) */
    uint32_t flat_attrs;     /* (type, attribute) pairs with a flat check */
    uint32_t fallback_attrs; /* (type, attribute) pairs checked by the tree walker instead */
};

/* An empty set. shared_dir holds the files that external $ref URLs name (the URL's last path
** segment is the file name); NULL: external $ref cannot be resolved (such a schema fails to
** compile). Free with schema_set_free. */
int schema_set_new(const char *shared_dir, struct schema_set **out);

/* Compile schema (a draft 2020-12 document; borrowed: the set keeps its own reference) as the
** schema of entity type `type`. Returns 0; VG_EEXIST if the type already has one; VG_EINVAL with
** a message in err for a schema that cannot be compiled (bad keyword value, unresolvable or
** cyclic $ref, nesting over SCHEMA_MAX_DEPTH): the set is left as it was. */
int schema_set_add(struct schema_set *set, const char *type, const json_t *schema, char *err,
                   size_t cap);

/* Load every <datamodels_dir>/<Type>/schema.json (type = folder name; folders starting with '_'
** or '.' skipped), resolving external $ref in <datamodels_dir>/_shared/schemas. A schema that
** fails is skipped and named in err ("Type: reason; ..."); err is "" when all loaded. Returns 0
** and *out (possibly with zero types), or VG_ENOENT/VG_EIO when the directory cannot be read. */
int schema_set_load(const char *datamodels_dir, struct schema_set **out, char *err, size_t cap);

/* A set holding one schema under `type` (the fuzz target and tests; shared_dir as in
** schema_set_new, may be NULL). Returns 0 and *out, or VG_EINVAL with err. */
int schema_compile_json(const json_t *schema, const char *type, const char *shared_dir,
                        struct schema_set **out, char *err, size_t cap);

/* NULL is a no-op. */
void schema_set_free(struct schema_set *set);

/* Number of type schemas in the set (0 for NULL). */
size_t schema_set_count(const struct schema_set *set);
void schema_set_stats(const struct schema_set *set, struct schema_stats *st);

/* 1 when type has a schema, else 0 (also for a NULL set). */
int schema_has_type(const struct schema_set *set, const char *type);

/* The attributes the type's schema describes at its top level (through allOf and $ref), in no
** particular order: up to cap names (borrowed from the set) into names; returns the total. */
size_t schema_type_attrs(const struct schema_set *set, const char *type, const char **names,
                         size_t cap);

/* Validate kv (an entity in keyValues form, or any JSON value) against type's schema.
** Returns 0; VG_ENOENT when type has no schema (or set is NULL); VG_EINVAL with why = the first
** failure, "<json path>: <problem>" ("/LAeq: 190 is above maximum 150"; the path is omitted at
** the root). Instances nested deeper than SCHEMA_MAX_DEPTH, and schemas needing more than
** SCHEMA_STEP_BUDGET steps, are invalid. */
int schema_validate_entity(const struct schema_set *set, const char *type, const json_t *kv,
                           char *why, size_t cap);

/* The hot path: is val (of type vt; VT_STR is val->s.p[0..len), need not be NUL-terminated)
** a valid value of attribute attr of entity type type? The value is checked against the
** schema of the attribute itself (keyValues form). Attributes the schema does not describe
** pass (unless the type's schema has additionalProperties/patternProperties that apply).
** VT_BOOL is a JSON boolean, VT_I64 an integer, VT_F64 a number (an integer when integral;
** NaN/Inf fail a numeric type), VT_GEO a GeoJSON Point (this one goes through the tree walker
** and allocates), VT_NONE null. Returns 0; VG_ENOENT when type has no schema; VG_EINVAL with
** why = "LAeq = 190 is above the schema maximum 150 (NoiseLevelObserved schema)". */
int schema_validate_value(const struct schema_set *set, const char *type, const char *attr,
                          enum vg_vtype vt, const union vg_val *val, char *why, size_t cap);

/* Write val for a human into buf (numbers shortest round-trip, strings quoted and cut at 64
** bytes with control characters as '?'). Returns buf. */
char *schema_fmt_value(enum vg_vtype vt, const union vg_val *val, char *buf, size_t cap);

#endif
