/*
** fuzz/fuzz_qlang.c: libFuzzer target for the NGSI-LD q and scopeQ parsers (ngsild/qlang.c).
** Parses the input bytes as q (names expanded with an "https://x/" prefix) and matches the AST
** against three fixed stored entities (every instance type, sub-attributes, compound values,
** multi-instance); then parses the same bytes as scopeQ and matches three scope values.
** Checks: an error leaves *out untouched and explains itself with "at offset"; matching returns
** 0 or 1 and is deterministic; q_attrs visits only expanded names.
** Owns: the fixed entities (built once) and a copy of each input in an exact-size heap buffer.
*/
#include "ngsild/qlang.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const ENTS[3] = {
    "{\"id\":\"urn:e:1\",\"scope\":[\"/Madrid/Gardens/ParqueNorte\",\"/A\"],\"attrs\":{"
    "\"https://x/temperature\":[{\"type\":\"Property\",\"value\":21.5,\"observedAt\":"
    "\"2017-12-24T12:00:00Z\",\"unitCode\":\"CEL\",\"subs\":{\"https://x/accuracy\":{\"type\":"
    "\"Property\",\"value\":0.9}}},{\"type\":\"Property\",\"value\":30,\"datasetId\":\"urn:d\"}],"
    "\"https://x/name\":[{\"type\":\"Property\",\"value\":\"Parque Norte; main\"}],"
    "\"https://x/address\":[{\"type\":\"Property\",\"value\":{\"city\":\"Berlin\",\"zip\":10115,"
    "\"l\":[1,{\"k\":[2,3]}]}}],"
    "\"https://x/owner\":[{\"type\":\"Relationship\",\"object\":\"urn:ngsi-ld:Person:Bob\"}]}}",
    "{\"id\":\"urn:e:2\",\"scope\":\"/Company/Fiware\",\"attrs\":{"
    "\"https://x/label\":[{\"type\":\"LanguageProperty\",\"languageMap\":{\"en\":\"Garden\","
    "\"fr\":[\"Jardin\",\"Parc\"]},\"lang\":\"en\"}],"
    "\"https://x/tags\":[{\"type\":\"ListProperty\",\"valueList\":[\"red\",3,true,null,[1]]}],"
    "\"https://x/category\":[{\"type\":\"VocabProperty\",\"vocab\":[\"https://x/Park\"]}],"
    "\"https://x/meta\":[{\"type\":\"JsonProperty\",\"json\":{\"a\":{\"b\":5}}}],"
    "\"https://x/members\":[{\"type\":\"ListRelationship\",\"objectList\":[{\"object\":"
    "\"urn:a\"},{\"object\":\"urn:b\"}]}]}}",
    "{\"id\":\"urn:e:3\",\"attrs\":{"
    "\"https://x/when\":[{\"type\":\"Property\",\"value\":{\"@type\":\"DateTime\",\"@value\":"
    "\"2020-01-01T10:00:00+02:00\"}}],"
    "\"https://x/on\":[{\"type\":\"Property\",\"value\":false}],"
    "\"https://x/location\":[{\"type\":\"GeoProperty\",\"value\":{\"type\":\"Point\","
    "\"coordinates\":[-3.7,40.4]}}],"
    "\"https://x/sensor\":[{\"value\":1,\"subs\":{\"https://x/rawdata\":{\"type\":\"Property\","
    "\"value\":{\"airquality\":{\"particulate\":40}}}}}],"
    "\"https://x/odd\":[\"not an instance\",{\"type\":7,\"value\":\"x\"}]}}"};

static json_t *ents[3];

struct xctx {
    char buf[4096];
};

static const char *expand(void *ctx, const char *term)
{
    struct xctx *x = ctx;
    snprintf(x->buf, sizeof(x->buf), "https://x/%s", term);
    return x->buf;
}

static void check_attr(void *arg, const char *iri)
{
    (void)arg;
    if (strncmp(iri, "https://x/", 10) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct qexpr *q = (struct qexpr *)0x1;
    struct scopeq *s = (struct scopeq *)0x1;
    struct xctx x;
    char err[256];
    char *buf;
    int rc;

    if (!ents[0]) {
        for (int i = 0; i < 3; i++) {
            ents[i] = json_loads(ENTS[i], 0, NULL);
            if (!ents[i])
                abort();
        }
    }
    buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);

    rc = q_parse(buf, size, expand, &x, &q, err, sizeof(err));
    if (rc) {
        if (rc != VG_EINVAL || q != (struct qexpr *)0x1 || !strstr(err, "at offset"))
            abort();
    } else {
        for (int i = 0; i < 3; i++) {
            int m = q_match(q, ents[i]);
            if ((m != 0 && m != 1) || q_match(q, ents[i]) != m)
                abort();
        }
        q_attrs(q, check_attr, NULL);
        q_free(q);
    }

    rc = scopeq_parse(buf, size, &s, err, sizeof(err));
    if (rc) {
        if (rc != VG_EINVAL || s != (struct scopeq *)0x1 || !strstr(err, "at offset"))
            abort();
    } else {
        for (int i = 0; i < 3; i++) {
            int m = scopeq_match(s, json_object_get(ents[i], "scope"));
            if (m != 0 && m != 1)
                abort();
        }
        if (scopeq_match(s, NULL) != 0)
            abort();
        scopeq_free(s);
    }
    free(buf);
    return 0;
}
