/*
** ngsild/entity.h: NGSI-LD entities in Vigie: validation and expansion of request payloads into
** the stored form, the update algorithms (append, update, merge, replace, delete), and rendering
** back to the normalized, concise or simplified (keyValues) representations, compacted with the
** request's @context.
** Owns: nothing long-lived; every function returns new jansson values the caller owns.
** Thread: reentrant (struct ldctx is thread-safe).
**
** STORED FORM (what ngsild/entstore.c keeps in memory and in SQLite; q and geo match on it):
**   { "id": "<URI>",
**     "type": ["<type IRI>", ...],                   always an array, expanded, no duplicates
**     "scope": ["/a/b", ...],                        optional
**     "createdAt": "<RFC 3339 ms Z>", "modifiedAt": "...",     system, always present
**     "attrs": { "<attribute IRI>": [ INSTANCE, ... ] } }      one instance per datasetId
**   INSTANCE = { "type": "Property" | "Relationship" | "GeoProperty" | "LanguageProperty" |
**                        "ListProperty" | "JsonProperty" | "VocabProperty" | "ListRelationship",
**     exactly one of "value" (Property, GeoProperty: a GeoJSON geometry object),
**       "object" (Relationship: URI string, or array of URIs), "languageMap" (object lang->string
**       or array of strings), "valueList" (array), "json" (any JSON), "vocab" (expanded IRI
**       string or array of them), "objectList" (array of {"object": URI}),
**     optional "observedAt" (RFC 3339 string), "unitCode", "datasetId" (URI; absent = default
**       instance), "objectType" (expanded), "lang" (LanguageProperty only),
**     "createdAt", "modifiedAt" (system; set by the update functions),
**     optional "subs": { "<sub-attribute IRI>": INSTANCE } (sub-properties, nested the same way,
**       one instance each) }
** Compound Property values (JSON objects/arrays) are kept verbatim: their keys are not expanded.
** "@id"/"@type" are accepted as synonyms of "id"/"type" in input; GeoJSON given as a JSON string
** in a GeoProperty value is parsed. The NGSI-LD Null "urn:ngsi-ld:null" is accepted only where
** null_ok is set (merge, partial update) and means "delete this attribute".
*/
#ifndef VG_NGSILD_ENTITY_H
#define VG_NGSILD_ENTITY_H

#include "ngsild/ldctx.h"

#include <jansson.h>

/* Limits: payload nesting depth <= 32, <= 1,024 attributes per entity, <= 64 datasetIds per
** attribute, names <= 512 bytes, id <= 1,024 bytes. */
#define ENTITY_MAX_ATTRS 1024

enum entity_parse_mode {
    ENTITY_FULL,     /* create / replace / batch create, upsert: "id" and "type" required */
    ENTITY_FRAGMENT, /* append / update / merge: attributes only; id/type optional (if present,
                        id must equal the target, type is added to the entity's types) */
    ENTITY_ATTR      /* the body of PATCH/PUT .../attrs/{attrId}: one attribute (or an array of
                        instances), without the name */
};

/* Why a payload was refused: the API maps it to BadRequestData (400) naming the member. */
struct entity_err {
    char member[128]; /* offending member path as written, e.g. "temperature.observedAt" */
    char detail[256];
};

/* Validate body (the parsed request JSON; "@context" members are ignored here, the caller resolved
** them into ctx) and build its stored form in *out (a new reference). now is the RFC 3339 time
** stamped as createdAt/modifiedAt. null_ok: accept urn:ngsi-ld:null values (kept as instances
** {"type":"Property","value":"urn:ngsi-ld:null"} so entity_merge can delete).
** For ENTITY_ATTR, attr_iri is the expanded attribute name and *out is {"attrs":{iri:[...]}}.
** Returns 0 or VG_EINVAL with e filled. */
int entity_parse(const json_t *body, enum entity_parse_mode mode, struct ldctx *ctx,
                 const char *attr_iri, int null_ok, const char *now, json_t **out,
                 struct entity_err *e);

/* Update algorithms. Each takes the current stored entity `cur` (not modified) and a parsed
** fragment `frag` (stored form of the request), and returns the new stored entity in *out (a new
** reference, sharing nothing mutable with cur). now stamps modifiedAt (and createdAt of new
** attributes/instances). The lists `updated` and `not_updated` (JSON arrays the caller created,
** may be NULL) receive attribute IRIs, for not_updated as {"attributeName":IRI,"reason":"..."}.
** Instances match by datasetId (absent = the default instance). */
enum entity_op {
    ENTITY_APPEND,           /* POST .../attrs: add or replace attributes (instances) */
    ENTITY_APPEND_NOOVERWRITE, /* options=noOverwrite: existing attributes are kept */
    ENTITY_UPDATE,           /* PATCH .../attrs: only existing attributes (instances) replaced;
                                others go to not_updated */
    ENTITY_MERGE,            /* PATCH /entities/{id}: merge-patch semantics, urn:ngsi-ld:null
                                deletes, sub-attributes merged, observedAt/unitCode kept if the
                                fragment omits them */
    ENTITY_PARTIAL,          /* PATCH .../attrs/{attrId}: merge into the existing instance(s) of
                                that attribute; absent attribute is VG_ENOENT */
    ENTITY_REPLACE_ATTR,     /* PUT .../attrs/{attrId}: replace the attribute (must exist) */
    ENTITY_REPLACE           /* PUT /entities/{id}: replace all attributes, keep createdAt */
};
int entity_apply(const json_t *cur, const json_t *frag, enum entity_op op, const char *now,
                 json_t *updated, json_t *not_updated, json_t **out);

/* Delete an attribute: datasetId NULL = the default instance; delete_all = every instance.
** VG_ENOENT if the attribute (or instance) does not exist. */
int entity_attr_delete(const json_t *cur, const char *attr_iri, const char *dataset_id,
                       int delete_all, const char *now, json_t **out);

/* Rendering. */
enum entity_format { ENTITY_NORMALIZED, ENTITY_CONCISE, ENTITY_SIMPLIFIED };
struct entity_render_opts {
    enum entity_format format;
    int sys_attrs;            /* include createdAt/modifiedAt (entity and attributes) */
    const json_t *pick;       /* NULL, or array of strings: member names to keep (id, type, scope,
                                 attribute IRIs; already expanded by the caller) */
    const json_t *omit;       /* NULL, or array of member names to drop (same form) */
    const char *lang;         /* NULL, or "fr", "en,fr", "*": LanguageProperty -> Property with
                                 the chosen string and a "lang" member */
    const char *dataset_id;   /* NULL, or keep only instances with this datasetId ("@none" =
                                 the default instance) */
    int with_context;         /* 1: add "@context" (the value in context_value) */
    const json_t *context_value;
};
/* Render one stored entity for the client: names and types compacted with ctx (entity types,
** attribute and sub-attribute names, vocab values, objectType), single instances as objects,
** several instances as arrays. Returns a new reference. */
json_t *entity_render(const json_t *stored, struct ldctx *ctx, const struct entity_render_opts *o);
/* GeoJSON Feature for one entity (application/geo+json): "geometry" from the GeoProperty named
** geoprop_iri (null if absent), "properties" = the rendered entity minus id. */
json_t *entity_render_feature(const json_t *stored, struct ldctx *ctx,
                              const struct entity_render_opts *o, const char *geoprop_iri);

/* Compact JSON text of v appended to b, numbers in their shortest round-trip form (json_dumps
** prints 17 significant digits: 2.39 would become 2.3900000000000001). Nesting is bounded by
** the parser that built v. */
struct buf;
void entity_json_write(struct buf *b, const json_t *v);

/* Helpers for the store and the API. */
/* The first (default) instance of an attribute, or NULL. Borrowed. */
const json_t *entity_attr_default(const json_t *stored, const char *attr_iri);
/* Does the stored entity have type_iri among its types? */
int entity_has_type(const json_t *stored, const char *type_iri);
/* Is s a valid URI for an entity id, a relationship target or a datasetId (scheme ":" rest, no
** spaces or control characters)? */
int entity_uri_valid(const char *s);

#endif
