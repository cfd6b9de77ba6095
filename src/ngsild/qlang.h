/*
** ngsild/qlang.h: the NGSI-LD query language (q, ETSI GS CIM 009 cl. 4.9) and scope queries
** (scopeQ, cl. 4.19): parser to an AST and evaluator over an entity in Vigie's stored form
** (see ngsild/entity.h: expanded attribute IRIs under "attrs", instances as arrays).
** Owns: the AST (struct qexpr / struct scopeq), freed by q_free / scopeq_free.
** Thread: parsing is reentrant; a parsed AST is immutable and may be matched from many threads.
**
** Grammar (cl. 4.9): Query = QueryTerm *(("; " | "|") QueryTerm), ';' = AND binds tighter than
** '|' = OR, parentheses group. QueryTerm = Attribute | Attribute Operator ComparableValue |
** Attribute Equal CompEqualityValue. Operators == != > >= < <= ~= !~=. Values: numbers, "strings",
** true/false, DateTime/Date/Time, URIs, other bare words; lists a,b,c and ranges a..b (== / !=).
** Attribute paths: name, name.sub.sub (sub-attributes or observedAt/unitCode/datasetId/createdAt/
** modifiedAt), name[key.key2] (compound value member). Bare attribute = existence test.
** The input must already be percent-decoded (libmicrohttpd decodes query arguments).
*/
#ifndef VG_NGSILD_QLANG_H
#define VG_NGSILD_QLANG_H

#include "core/vg.h"

#include <jansson.h>
#include <regex.h>

struct qexpr;
struct scopeq;

/* Expand an attribute name (first path segment, or a sub-attribute segment) into the IRI under
** which the entity stores it. Returns a string valid for the duration of q_parse (it is copied),
** or NULL to keep the term as written. */
typedef const char *q_expand_fn(void *ctx, const char *term);

/* Limits: q text <= 8192 bytes, nesting depth <= 32, terms <= 256, list items <= 256. */
#define Q_MAX_LEN 8192

/* Parse q (len bytes, not NUL-terminated necessarily). expand may be NULL (names kept as is).
** On success *out owns the AST; on error *out is unchanged and err explains where (position and
** what was expected), e.g. "q: expected an operator after 'temperature' at offset 11". */
int q_parse(const char *q, size_t len, q_expand_fn *expand, void *ctx, struct qexpr **out,
            char *err, size_t cap);
void q_free(struct qexpr *e);
/* 1 if the entity (stored form) matches, else 0. Multi-instance attributes match if any instance
** does; a JSON array value matches if any member does; Relationship targets compare with ==/!=
** only. Ordering operators between a number and a non-number never match. Strings that are
** both DateTimes compare as instants. */
int q_match(const struct qexpr *e, const json_t *entity);
/* Call fn for each distinct attribute IRI (first path segment) the query mentions. */
void q_attrs(const struct qexpr *e, void (*fn)(void *arg, const char *iri), void *arg);

/* Compile a POSIX extended regular expression (idPattern, ~=) with the same guards as q: at
** most 1,024 bytes, no back-references, no stacked repetitions, a bounded compiled size (glibc's
** regcomp can otherwise take seconds or gigabytes, e.g. "a++++++++"). On success the caller
** regfree()s re; on error re is untouched and err says why. */
int q_regex_compile(regex_t *re, const char *pattern, char *err, size_t cap);

/* scopeQ: "/Madrid/Gardens" exact, "/Madrid/#" the scope and all below, "/Madrid/+" direct
** children... with ';' (AND), ',' or '|' (OR) and parentheses. */
int scopeq_parse(const char *s, size_t len, struct scopeq **out, char *err, size_t cap);
void scopeq_free(struct scopeq *s);
/* scope is the entity's "scope" member (string or array of strings) or NULL (never matches). */
int scopeq_match(const struct scopeq *s, const json_t *scope);

#endif
