/*
** fuzz/fuzz_decode.c: libFuzzer target for the MQTT payload decoders (ingest/decode.c).
** The first byte picks one of four fixed specifications (low 2 bits: json with records and
** location, chirpstack flattening with gateway, tts with gateway and units, json with a GeoJSON
** location and every value type), bit 2 the topic (an uplink topic or another event) and bit 3
** a small output cap; the rest is the payload. Checks the contract: the return value is a line
** count or VG_EINVAL / VG_ETOOBIG with a reason; on error out is byte for byte what it was and
** unit_fn was not asked; on success exactly that many lines were appended after the old
** content, and each parses back with lp_next with the spec's type as measurement, one
** non-empty "id" tag, 1..256 fields and a timestamp.
** Owns: the parsed specifications (built once), a copy of the payload in an exact-size heap
** buffer (so ASan sees any overread).
*/
#include "ingest/decode.h"

#include "ingest/lineproto.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const spec_text[4] = {
    "{\"decoder\":\"json\",\"type\":\"TrafficFlowObserved\",\"id\":{\"topic_segment\":-1},"
    "\"records\":\"/items\",\"time\":{\"pointer\":\"/ts\",\"format\":\"epoch_ms\"},"
    "\"attributes\":[{\"pointer\":\"/count\",\"name\":\"intensity\",\"type\":\"integer\"},"
    "{\"pointer\":\"/speed\",\"unit\":\"KMH\",\"optional\":true},"
    "{\"pointer\":\"/occupancy\",\"scale\":0.01,\"optional\":true}],"
    "\"location\":{\"lat\":\"/lat\",\"lon\":\"/lon\",\"optional\":true}}",

    "{\"decoder\":\"chirpstack\",\"type\":\"NoiseLevelObserved\",\"gateway\":true}",

    "{\"decoder\":\"tts\",\"type\":\"AirQualityObserved\",\"gateway\":true,"
    "\"attributes\":[{\"pointer\":\"/pm25\",\"unit\":\"GQ\"},{\"pointer\":\"/pm10\","
    "\"unit\":\"GQ\",\"optional\":true},{\"pointer\":\"/temperature\",\"unit\":\"CEL\","
    "\"optional\":true},{\"pointer\":\"/label\",\"type\":\"string\",\"optional\":true}]}",

    "{\"decoder\":\"json\",\"type\":\"Parking Spot,A\",\"id\":{\"pointer\":\"/id\"},"
    "\"id_template\":\"urn:x:{}:y\",\"time\":{\"pointer\":\"/t\"},"
    "\"attributes\":[{\"pointer\":\"/a~1b\",\"type\":\"integer\",\"optional\":true},"
    "{\"pointer\":\"/m~0n/1\",\"name\":\"second value\",\"optional\":true},"
    "{\"pointer\":\"/free\",\"type\":\"boolean\",\"optional\":true},"
    "{\"pointer\":\"/label\",\"type\":\"string\",\"name\":\"na,me=x\",\"optional\":true}],"
    "\"location\":{\"geojson\":\"/loc\",\"optional\":true}}",
};

static const char *const topics[4][2] = {
    {"city/counters/bd-voltaire-01", "city/counters/a\tb"},
    {"application/17c82e96/device/0004a30b001c0530/event/up",
     "application/17c82e96/device/0004a30b001c0530/event/join"},
    {"v3/air-quality@ttn/devices/air-sensor-bastille/up",
     "v3/air-quality@ttn/devices/air-sensor-bastille/down/ack"},
    {NULL, "x"},
};

static struct decode_spec *specs[4];
static struct lp_parser ps;
static struct lp_line ln;

static int unit_calls;
static int unit_cb(void *arg, const char *entity, const char *attr, const char *unit)
{
    unit_calls++;
    if (!entity[0] || !attr[0] || !unit[0])
        abort();
    return (int)((uintptr_t)arg & 1);
}

static void init(void)
{
    for (int i = 0; i < 4; i++) {
        json_t *j = json_loads(spec_text[i], 0, NULL);
        char err[256];
        if (!j || decode_spec_parse(j, &specs[i], err, sizeof(err)))
            abort();
        json_decref(j);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!specs[0])
        init();
    if (size == 0)
        return 0;
    int which = data[0] & 3, alt = (data[0] >> 2) & 1, small = (data[0] >> 3) & 1;
    size_t len = size - 1;
    char *payload = malloc(len ? len : 1);
    if (!payload)
        return 0;
    memcpy(payload, data + 1, len);

    struct buf out;
    buf_init(&out, small ? 300 : 0);
    buf_puts(&out, "keep me\n");
    size_t start = out.len;
    char err[300];
    unit_calls = 0;
    int rc = decode_message(specs[which], topics[which][alt], payload, len, "id",
                            1700000000000LL, unit_cb, (void *)(uintptr_t)(data[0] >> 4), &out,
                            err, sizeof(err));
    if (rc <= 0) {
        if (rc != -4 /* VG_EINVAL */ && rc != -10 /* VG_ETOOBIG */)
            abort();
        if (out.len != start || memcmp(out.p, "keep me\n", start + 1) || !err[0] || unit_calls)
            abort();
    } else {
        if (rc > DECODE_MAX_RECORDS || out.len <= start || out.p[out.len - 1] != '\n')
            abort();
        const char *type = decode_spec_type(specs[which]);
        char lerr[200];
        int n = 0, r;
        lp_init(&ps, out.p + start, out.len - start);
        while ((r = lp_next(&ps, &ln, lerr, sizeof(lerr))) != 0) {
            if (r < 0)
                abort();
            if (ln.mlen != strlen(type) || memcmp(ln.meas, type, ln.mlen))
                abort();
            if (ln.ntags != 1 || ln.tags[0].klen != 2 || memcmp(ln.tags[0].key, "id", 2) ||
                ln.tags[0].vlen == 0 || ln.tags[0].vlen > DECODE_MAX_ID)
                abort();
            if (ln.nfields < 1 || ln.nfields > LP_MAX_FIELDS || !ln.has_ts)
                abort();
            n++;
        }
        if (n != rc || memcmp(out.p, "keep me\n", start))
            abort();
    }
    buf_release(&out);
    free(payload);
    return 0;
}
