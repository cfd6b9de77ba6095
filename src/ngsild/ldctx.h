/*
** ngsild/ldctx.h: JSON-LD @context handling for the NGSI-LD API, offline by design.
** Owns: the registry of context documents (struct ldctx_reg): the NGSI-LD core context built into
** the binary under every official URL (v1.3..v1.9 and the unversioned one), contexts preloaded from
** a directory (manifest.tsv: `URL<TAB>FILE`), the Smart Data Models subject contexts, and user
** contexts added through /jsonldContexts (tenant-scoped); and the cache of resolved active
** contexts (struct ldctx), so that a request with an already-seen @context costs one hash lookup.
** Never fetches anything: a URL that is neither built in nor registered is VG_ENOENT with the URL
** in err (the API answers LdContextNotAvailable).
** Thread: every function is thread-safe. A struct ldctx is immutable once resolved, except for
** its internal expansion/compaction caches, which are guarded by its own lock.
*/
#ifndef VG_NGSILD_LDCTX_H
#define VG_NGSILD_LDCTX_H

#include "core/vg.h"

#include <jansson.h>

struct ldctx_reg;
struct ldctx;

/* The URL of the core context Vigie answers with when a request did not name one. */
#define LDCTX_CORE_URL "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
/* The default vocabulary of the core context: a term no context defines expands to this + term. */
#define LDCTX_DEFAULT_VOCAB "https://uri.etsi.org/ngsi-ld/default-context/"
#define LDCTX_NGSILD_NS "https://uri.etsi.org/ngsi-ld/"

enum ldctx_kind { LDCTX_HOSTED = 1, LDCTX_CACHED = 2, LDCTX_IMPLICIT = 3, LDCTX_BUILTIN = 4 };

/* New registry holding the built-in core context under all its URLs. */
int ldctx_reg_new(struct ldctx_reg **out);
void ldctx_reg_free(struct ldctx_reg *r);

/* Preload every context listed in DIR/manifest.tsv (lines `URL<TAB>FILE`, FILE relative to DIR;
** empty lines and lines starting with '#' ignored) for all tenants, kind CACHED.
** Returns 0, or VG_ENOENT / VG_EINVAL with the file and line in err. */
int ldctx_reg_load_manifest(struct ldctx_reg *r, const char *dir, char *err, size_t cap);

/* Preload the Smart Data Models subject contexts found in dir (files named
** `dataModel.<Subject>.context.jsonld`, as in shared/datamodels/_shared/contexts) under the two
** URLs the official examples use:
**   https://raw.githubusercontent.com/smart-data-models/dataModel.<Subject>/master/context.jsonld
**   https://smart-data-models.github.io/dataModel.<Subject>/context.jsonld
** *n receives the number of files loaded (may be NULL). */
int ldctx_reg_load_sdm(struct ldctx_reg *r, const char *dir, uint32_t *n, char *err, size_t cap);

/* Add a user context document (the whole JSON document, which must hold an "@context" member)
** for tenant (kind HOSTED). The id is "urn:ngsi-ld:jsonldContext:<hex>" derived from the content;
** it is written to id_out (cap >= 96). Adding the same document twice gives the same id.
** The caller persists it (the registry is in memory) and re-adds it at start.
** The document is copied (the caller keeps its reference).
** Errors: VG_EINVAL (not an object with a well-formed "@context", or cap too small),
** VG_ETOOBIG (document over 1 MiB), VG_EFULL (the tenant already has 10,000 documents). */
int ldctx_reg_add(struct ldctx_reg *r, const char *tenant, const json_t *doc, char *id_out,
                  size_t cap);
/* Find a document by id or URL, visible to tenant (tenant's own HOSTED ones plus global ones).
** *doc receives a new reference (json_decref it). VG_ENOENT if unknown. */
int ldctx_reg_get(struct ldctx_reg *r, const char *tenant, const char *id_or_url, json_t **doc,
                  enum ldctx_kind *kind);
/* Delete a tenant's HOSTED context (VG_ENOENT if unknown, VG_EPERM for built-in/preloaded).
** Invalidates cached resolved contexts that used it. */
int ldctx_reg_del(struct ldctx_reg *r, const char *tenant, const char *id);
/* List documents visible to tenant. fn receives the id (or URL), kind, and the document.
** Order: built-in (under LDCTX_CORE_URL only), then preloaded, then HOSTED, each by id.
** fn runs under the registry's read lock: it must not add or delete documents. A non-zero return
** from fn stops the walk and is returned. */
typedef int ldctx_list_fn(void *arg, const char *id, enum ldctx_kind kind, const json_t *doc);
int ldctx_reg_list(struct ldctx_reg *r, const char *tenant, ldctx_list_fn *fn, void *arg);

/* Resolve an @context value (a URL string, an inline object, or an array of both; NULL means
** "no context given": the core context alone) into an active context, with the core context
** applied LAST so its terms cannot be redefined. Nested URL references are resolved through the
** registry (depth <= 8, cycles rejected). Results are cached by (tenant, canonical text).
** *out receives a reference: ldctx_release() it. Errors: VG_ENOENT (a URL is not available:
** err holds "context <URL> is not available..."), VG_EINVAL (malformed context, reason in err). */
int ldctx_resolve(struct ldctx_reg *r, const char *tenant, const json_t *context,
                  struct ldctx **out, char *err, size_t cap);
/* Same for the target of a Link header (one URL). */
int ldctx_resolve_url(struct ldctx_reg *r, const char *tenant, const char *url, struct ldctx **out,
                      char *err, size_t cap);
/* The core context alone (never fails; a reference: release it). */
struct ldctx *ldctx_core(struct ldctx_reg *r);
void ldctx_retain(struct ldctx *c);
void ldctx_release(struct ldctx *c);

/* Expand a term used as attribute name or entity type into an absolute IRI:
** a term defined by the context -> its @id (compact IRIs like "ngsi-ld:foo" resolved); a compact
** IRI "prefix:suffix" whose prefix is a term -> expanded; an absolute IRI (scheme ":" ...,
** e.g. "http://...", "urn:...") -> unchanged; otherwise @vocab + term (the core context's
** @vocab is LDCTX_DEFAULT_VOCAB). Returned string is owned by c (valid while c is held). */
const char *ldctx_expand(struct ldctx *c, const char *term);
/* Compact an IRI back to the shortest term of the context that maps to it, else a compact IRI
** "prefix:suffix", else the IRI minus @vocab when it starts with it, else the IRI. Owned by c. */
const char *ldctx_compact(struct ldctx *c, const char *iri);

/* The "@type" of term's definition in c ("@id", "@vocab", "@json", or an expanded IRI such as
** https://uri.etsi.org/ngsi-ld/DateTime); NULL if the term is not defined or has none. Owned by c.
** (Additive: lets callers see that e.g. "object" holds an IRI and "typeName" a vocab term.) */
const char *ldctx_term_type(struct ldctx *c, const char *term);
/* The "@container" of term's definition ("@list", "@set", "@language", "@index"; several joined
** by ','); NULL if none. Owned by c. */
const char *ldctx_term_container(struct ldctx *c, const char *term);

/* The built-in core context document (static JSON text). */
const char *ldctx_core_text(void);
/* Is url one of the URLs of the core context (any version, or the unversioned one)? */
int ldctx_is_core_url(const char *url);

#endif
