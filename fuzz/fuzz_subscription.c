/*
** fuzz/fuzz_subscription.c: libFuzzer target for the NGSI-LD subscription payload validation
** (ngsild/subs.c subs_parse) and the change matcher (subs_match).
** Parses the input as JSON and validates it as a subscription with the core @context; a valid
** one is parsed again from its own stored form (must succeed: the stored form is a fixed point),
** and matched against three fixed changes (create, update, delete of a Room with a location).
** Checks: an error leaves *out untouched and names a reason; matching returns 0 or 1.
** Owns: the @context registry and the fixed entities (built once).
*/
#include "ngsild/subs.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct ldctx_reg *reg;
static struct ldctx *core;
static json_t *e_old, *e_new;

static void setup(void)
{
    if (reg)
        return;
    if (ldctx_reg_new(&reg))
        abort();
    core = ldctx_core(reg);
    e_old = json_loads("{\"id\":\"urn:ngsi-ld:Room:1\",\"type\":[\"https://uri.etsi.org/ngsi-ld/"
                       "default-context/Room\"],\"scope\":[\"/a/b\"],\"attrs\":{\"https://uri.etsi."
                       "org/ngsi-ld/default-context/temperature\":[{\"type\":\"Property\",\"value\""
                       ":20}],\"https://uri.etsi.org/ngsi-ld/location\":[{\"type\":\"GeoProperty\","
                       "\"value\":{\"type\":\"Point\",\"coordinates\":[2.35,48.85]}}]}}",
                       0, NULL);
    e_new = json_deep_copy(e_old);
    json_t *t = json_array_get(json_object_get(json_object_get(e_new, "attrs"),
                                               "https://uri.etsi.org/ngsi-ld/default-context/"
                                               "temperature"), 0);
    json_object_set_new(t, "value", json_real(31.5));
    json_object_set_new(json_object_get(e_new, "attrs"),
                        "https://uri.etsi.org/ngsi-ld/default-context/humidity",
                        json_pack("[{s:s, s:i}]", "type", "Property", "value", 40));
    if (!e_old || !e_new)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    json_t *body = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!body)
        return 0;
    json_t *out = (json_t *)(uintptr_t)1, *again = NULL;
    char err[256] = "";
    int rc = subs_parse(body, core, 0, &out, err, sizeof(err));
    if (rc) {
        if (out != (json_t *)(uintptr_t)1 || !err[0])
            abort();
        json_decref(body);
        return 0;
    }
    if (!json_object_get(out, "id"))
        json_object_set_new(out, "id", json_string("urn:ngsi-ld:Subscription:fuzz"));
    if (subs_parse(out, core, 0, &again, err, sizeof(err)))
        abort(); /* the stored form must validate */
    int m1 = subs_match(out, core, NULL, e_new, 1700000000000);
    int m2 = subs_match(out, core, e_old, e_new, 1700000000000);
    int m3 = subs_match(out, core, e_old, NULL, 1700000000000);
    if (m1 < 0 || m1 > 1 || m2 < 0 || m2 > 1 || m3 < 0 || m3 > 1)
        abort();
    json_decref(again);
    json_decref(out);
    json_decref(body);
    return 0;
}
