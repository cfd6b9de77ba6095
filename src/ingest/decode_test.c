/*
** ingest/decode_test.c: unit tests of the MQTT payload decoders (ingest/decode.c).
** Samples: tests/data/lorawan/{chirpstack_up,tts_up,json_counters}.json (ChirpStack v4 uplink
** event, The Things Stack v3 uplink message, generic JSON with records; the integration test
** publishes the same files), read from the repository root where tests/run.sh runs.
** Covers each decoder's exact output, ids (pointer, topic levels, templates, fallbacks), times,
** records, scale, optional, units and unit_fn, gateway metadata, every error path with its
** reason (out untouched, unit_fn not asked), spec errors, limits, and a random round trip:
** every emitted line parsed back with lp_next gives the type, the id and each value.
** Owns: nothing beyond its local buffers.
*/
#include "ingest/decode.h"

#include "core/test.h"
#include "core/vg.h"
#include "ingest/lineproto.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1700000000000LL
#define CS_TOPIC "application/17c82e96-be03-4f38-aef3-f83d48582d97/device/0004a30b001c0530/event/up"
#define TTS_TOPIC "v3/air-quality@ttn/devices/air-sensor-bastille/up"

static struct lp_parser g_ps; /* 64 KiB scratch: keep off the stack */
static struct lp_line g_ln;

static char *g_cs, *g_tts, *g_json; /* the sample files */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *p = malloc(1 << 16);
    size_t n = fread(p, 1, (1 << 16) - 1, f);
    fclose(f);
    p[n] = '\0';
    return p;
}

static struct decode_spec *spec(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j) {
        printf("  bad test spec: %s\n", je.text);
        return NULL;
    }
    struct decode_spec *s = NULL;
    char err[400] = "";
    if (decode_spec_parse(j, &s, err, sizeof(err))) {
        printf("  spec: %s\n", err);
        s = NULL;
    }
    json_decref(j);
    return s;
}

/* decode_spec_parse's error for text (must fail), in err. */
static int spec_err(const char *text, char *err, size_t cap)
{
    json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
    struct decode_spec *s = (struct decode_spec *)1;
    int rc = decode_spec_parse(j, &s, err, cap);
    json_decref(j);
    if (rc == 0) {
        decode_spec_free(s);
        snprintf(err, cap, "(accepted)");
        return 0;
    }
    return s == (struct decode_spec *)1 ? rc : 0; /* *out untouched on failure */
}

struct unit_log {
    int answer;
    int calls;
    char last[3][128];
};

static int unit_cb(void *arg, const char *entity, const char *attr, const char *unit)
{
    struct unit_log *u = arg;
    u->calls++;
    snprintf(u->last[0], sizeof(u->last[0]), "%s", entity);
    snprintf(u->last[1], sizeof(u->last[1]), "%s", attr);
    snprintf(u->last[2], sizeof(u->last[2]), "%s", unit);
    return u->answer;
}

/* Every line of b parses with lp_next, has measurement type, tag "id" and nf[i] fields (nf
** NULL: any). Returns the number of lines, or -1. */
static int parse_back(const struct buf *b, const char *type, const int *nf)
{
    char err[200];
    int n = 0, rc;
    lp_init(&g_ps, b->p ? b->p : "", b->len);
    while ((rc = lp_next(&g_ps, &g_ln, err, sizeof(err))) != 0) {
        if (rc < 0) {
            printf("  line %u does not parse: %s\n", g_ln.lineno, err);
            return -1;
        }
        if (g_ln.mlen != strlen(type) || memcmp(g_ln.meas, type, g_ln.mlen) ||
            g_ln.ntags != 1 || g_ln.tags[0].klen != 2 || memcmp(g_ln.tags[0].key, "id", 2) ||
            !g_ln.has_ts || (nf && (int)g_ln.nfields != nf[n])) {
            printf("  line %u: wrong shape (%u fields)\n", g_ln.lineno, g_ln.nfields);
            return -1;
        }
        n++;
    }
    return n;
}

/* Decode and compare the whole output with want (NULL: just return rc). */
static int dec(const struct decode_spec *s, const char *topic, const char *payload,
               decode_unit_fn *fn, void *arg, char *got, size_t gcap, char *err, size_t ecap)
{
    struct buf out;
    buf_init(&out, 0);
    buf_puts(&out, "PREFIX\n");
    err[0] = '\0';
    int rc = decode_message(s, topic, payload, strlen(payload), "id", NOW, fn, arg, &out, err,
                            ecap);
    if (rc < 0) {
        if (out.len != 7 || strcmp(out.p, "PREFIX\n"))
            rc = -1000; /* out must be restored */
        if (!err[0])
            rc = -1001; /* a reason is required */
    } else if (rc == 0 || err[0]) {
        rc = -1002;
    }
    snprintf(got, gcap, "%s", out.p + 7);
    buf_release(&out);
    return rc;
}

#define EXPECT_OUT(s, topic, payload, want)                                                        \
    do {                                                                                           \
        char got_[8192], err_[512];                                                                \
        int rc_ = dec((s), (topic), (payload), NULL, NULL, got_, sizeof(got_), err_,              \
                      sizeof(err_));                                                               \
        if (rc_ < 1 || strcmp(got_, (want))) {                                                     \
            printf("  rc %d err '%s'\n  got  '%s'\n  want '%s'\n", rc_, err_, got_, (want));       \
            CHECK(0);                                                                              \
        }                                                                                          \
    } while (0)

/* The message fails with VG_EINVAL (or rc) and its reason contains want. */
#define EXPECT_ERR_RC(s, topic, payload, rc, want)                                                 \
    do {                                                                                           \
        char got_[8192], err_[512];                                                                \
        struct unit_log u_ = {1, 0, {"", "", ""}};                                                 \
        int rc_ = dec((s), (topic), (payload), unit_cb, &u_, got_, sizeof(got_), err_,            \
                      sizeof(err_));                                                               \
        if (rc_ != (rc) || !strstr(err_, (want)) || u_.calls) {                                    \
            printf("  rc %d (want %d) err '%s' (want '%s') unit calls %d\n", rc_, (rc), err_,     \
                   (want), u_.calls);                                                              \
            CHECK(0);                                                                              \
        }                                                                                          \
    } while (0)
#define EXPECT_ERR(s, topic, payload, want) EXPECT_ERR_RC(s, topic, payload, VG_EINVAL, want)

#define CS_SPEC_UNITS                                                                              \
    "{\"decoder\":\"chirpstack\",\"type\":\"NoiseLevelObserved\","                                 \
    "\"attributes\":[{\"pointer\":\"/LAeq\",\"unit\":\"2N\"},"                                     \
    "{\"pointer\":\"/LAmax\",\"name\":\"LAmax\",\"type\":\"number\",\"unit\":\"2N\"}],"            \
    "\"gateway\":true}"

/* ---- samples and exact outputs ------------------------------------------------------------ */

static void test_samples_present(void)
{
    REQUIRE(g_cs && g_tts && g_json);
    CHECK(strstr(g_cs, "\"deduplicationId\"") && strstr(g_tts, "\"uplink_message\""));
}

static void test_chirpstack_units_gateway(void)
{
    REQUIRE(g_cs);
    struct decode_spec *s = spec(CS_SPEC_UNITS);
    REQUIRE(s);
    CHECK(!strcmp(decode_spec_type(s), "NoiseLevelObserved"));
    /* ns fraction and +00:00 offset; best gateway is the second (-64 > -97) */
    EXPECT_OUT(s, CS_TOPIC, g_cs,
               "NoiseLevelObserved,id=urn:ngsi-ld:NoiseLevelObserved:0004a30b001c0530 "
               "LAeq=63.4,LAeq@unitCode=\"2N\",LAmax=78.1,LAmax@unitCode=\"2N\",rssi=-64,"
               "snr=9.25 1658136855775\n");

    /* unit_fn: asked once per attribute with the entity id, writes only what it allows */
    struct unit_log u = {0, 0, {"", "", ""}};
    char got[4096], err[256];
    CHECK_EQ_INT(dec(s, CS_TOPIC, g_cs, unit_cb, &u, got, sizeof(got), err, sizeof(err)), 1);
    CHECK_EQ_INT(u.calls, 2);
    CHECK(!strcmp(u.last[0], "urn:ngsi-ld:NoiseLevelObserved:0004a30b001c0530"));
    CHECK(!strcmp(u.last[1], "LAmax") && !strcmp(u.last[2], "2N"));
    CHECK(!strcmp(got, "NoiseLevelObserved,id=urn:ngsi-ld:NoiseLevelObserved:0004a30b001c0530 "
                       "LAeq=63.4,LAmax=78.1,rssi=-64,snr=9.25 1658136855775\n"));
    u.answer = 1;
    u.calls = 0;
    CHECK_EQ_INT(dec(s, CS_TOPIC, g_cs, unit_cb, &u, got, sizeof(got), err, sizeof(err)), 1);
    CHECK_EQ_INT(u.calls, 2);
    CHECK(strstr(got, "LAeq@unitCode=\"2N\"") && strstr(got, "LAmax@unitCode=\"2N\""));

    struct buf out;
    buf_init(&out, 0);
    CHECK_EQ_INT(decode_message(s, CS_TOPIC, g_cs, strlen(g_cs), "id", NOW, NULL, NULL, &out,
                                err, sizeof(err)), 1);
    int nf[] = {6};
    CHECK_EQ_INT(parse_back(&out, "NoiseLevelObserved", nf), 1);
    CHECK(g_ln.fields[1].vt == VT_STR && g_ln.fields[1].klen == 13 &&
          !memcmp(g_ln.fields[1].key, "LAeq@unitCode", 13));
    CHECK(g_ln.ts == 1658136855775LL);
    buf_release(&out);
    decode_spec_free(s);
}

static void test_chirpstack_auto(void)
{
    REQUIRE(g_cs);
    /* no attributes: every scalar of /object, nested keys joined with '_', numbers as floats */
    struct decode_spec *s = spec("{\"decoder\":\"chirpstack\",\"type\":\"NoiseLevelObserved\","
                                 "\"id_template\":\"urn:ngsi-ld:NoiseLevelObserved:paris-{}\"}");
    REQUIRE(s);
    EXPECT_OUT(s, CS_TOPIC, g_cs,
               "NoiseLevelObserved,id=urn:ngsi-ld:NoiseLevelObserved:paris-0004a30b001c0530 "
               "LAeq=63.4,LAmax=78.1,battery=3.6,status_overload=false 1658136855775\n");
    /* arrays and nulls skipped; strings kept; a missing /time is now_ms */
    EXPECT_OUT(s, "x",
               "{\"deviceInfo\":{\"devEui\":\"a1\"},\"fPort\":1,\"object\":{\"n\":2,\"v\":[1,2],"
               "\"z\":null,\"s\":\"ok\",\"deep\":{\"a\":{\"b\":1}}}}",
               "NoiseLevelObserved,id=urn:ngsi-ld:NoiseLevelObserved:paris-a1 n=2,s=\"ok\","
               "deep_a_b=1 1700000000000\n");
    decode_spec_free(s);

    /* an explicit id pointer (relative to the event), time override */
    s = spec("{\"decoder\":\"chirpstack\",\"type\":\"T\",\"id\":{\"pointer\":"
             "\"/deviceInfo/deviceName\"},\"id_template\":\"{}\",\"time\":{\"pointer\":"
             "\"/rxInfo/0/uplinkId\",\"format\":\"epoch_s\"},\"attributes\":[{\"pointer\":"
             "\"/battery\",\"name\":\"batteryLevel\"}]}");
    REQUIRE(s);
    EXPECT_OUT(s, CS_TOPIC, g_cs, "T,id=noise-nation-07 batteryLevel=3.6 4217106255000\n");
    decode_spec_free(s);
}

static void test_tts(void)
{
    REQUIRE(g_tts);
    struct decode_spec *s = spec("{\"decoder\":\"tts\",\"type\":\"AirQualityObserved\","
                                 "\"gateway\":true}");
    REQUIRE(s);
    EXPECT_OUT(s, TTS_TOPIC, g_tts,
               "AirQualityObserved,id=urn:ngsi-ld:AirQualityObserved:70B3D57ED005A1B2 "
               "pm25=12.5,pm10=21,temperature=8.4,rssi=-71,snr=7.25 1658137202412\n");
    /* dev_eui absent: device_id; received_at absent: uplink_message.received_at; snr absent
    ** (TTS omits zero values): 0; rssi absent: channel_rssi */
    EXPECT_OUT(s, TTS_TOPIC,
               "{\"end_device_ids\":{\"device_id\":\"abp-7\"},\"uplink_message\":{"
               "\"decoded_payload\":{\"pm25\":3},\"received_at\":\"2022-07-18T09:40:02.206Z\","
               "\"rx_metadata\":[{\"channel_rssi\":-80},{\"rssi\":-90,\"snr\":1}]}}",
               "AirQualityObserved,id=urn:ngsi-ld:AirQualityObserved:abp-7 pm25=3,rssi=-80,"
               "snr=0 1658137202206\n");
    /* no gateway metadata: no rssi/snr fields */
    EXPECT_OUT(s, TTS_TOPIC,
               "{\"end_device_ids\":{\"device_id\":\"abp-7\"},\"uplink_message\":{"
               "\"decoded_payload\":{\"pm25\":3}}}",
               "AirQualityObserved,id=urn:ngsi-ld:AirQualityObserved:abp-7 pm25=3 "
               "1700000000000\n");
    decode_spec_free(s);

    s = spec("{\"decoder\":\"tts\",\"type\":\"AirQualityObserved\",\"id\":{\"topic_segment\":3},"
             "\"attributes\":[{\"pointer\":\"/pm25\",\"unit\":\"GQ\"},{\"pointer\":\"/no2\","
             "\"optional\":true},{\"pointer\":\"/temperature\",\"unit\":\"CEL\"}],"
             "\"location\":{\"lat\":\"/uplink_message/rx_metadata/0/location/latitude\","
             "\"lon\":\"/uplink_message/rx_metadata/0/location/longitude\",\"optional\":true}}");
    REQUIRE(s);
    EXPECT_OUT(s, TTS_TOPIC, g_tts,
               "AirQualityObserved,id=urn:ngsi-ld:AirQualityObserved:air-sensor-bastille "
               "pm25=12.5,pm25@unitCode=\"GQ\",temperature=8.4,temperature@unitCode=\"CEL\" "
               "1658137202412\n");
    decode_spec_free(s);
}

static void test_json_records(void)
{
    REQUIRE(g_json);
    struct decode_spec *s = spec(
        "{\"decoder\":\"json\",\"type\":\"TrafficFlowObserved\",\"id\":{\"topic_segment\":-1},"
        "\"records\":\"/items\",\"time\":{\"pointer\":\"/ts\",\"format\":\"epoch_ms\"},"
        "\"attributes\":[{\"pointer\":\"/count\",\"name\":\"intensity\",\"type\":\"integer\"},"
        "{\"pointer\":\"/speed\",\"name\":\"averageVehicleSpeed\",\"unit\":\"KMH\"},"
        "{\"pointer\":\"/occupancy\",\"scale\":0.01}],"
        "\"location\":{\"lat\":\"/lat\",\"lon\":\"/lon\"}}");
    REQUIRE(s);
    EXPECT_OUT(s, "city/counters/bd-voltaire-01", g_json,
               "TrafficFlowObserved,id=urn:ngsi-ld:TrafficFlowObserved:bd-voltaire-01 "
               "intensity=42i,averageVehicleSpeed=31.5,averageVehicleSpeed@unitCode=\"KMH\","
               "occupancy=0.12,lat=48.8566,lon=2.3795 1658136855000\n"
               "TrafficFlowObserved,id=urn:ngsi-ld:TrafficFlowObserved:bd-voltaire-01 "
               "intensity=38i,averageVehicleSpeed=29,averageVehicleSpeed@unitCode=\"KMH\","
               "occupancy=0.09,lat=48.8566,lon=2.3795 1658136915000\n");
    struct buf out;
    char err[256];
    buf_init(&out, 0);
    /* unit_fn remembering: only the first record's line carries the unit */
    struct unit_log u = {1, 0, {"", "", ""}};
    CHECK_EQ_INT(decode_message(s, "city/counters/bd-voltaire-01", g_json, strlen(g_json), "id",
                                NOW, unit_cb, &u, &out, err, sizeof(err)), 2);
    CHECK_EQ_INT(u.calls, 2);
    int nf[] = {6, 6};
    CHECK_EQ_INT(parse_back(&out, "TrafficFlowObserved", nf), 2);
    buf_release(&out);
    /* the topic's first level, and a negative index other than -1 */
    decode_spec_free(s);
    s = spec("{\"decoder\":\"json\",\"type\":\"T\",\"id\":{\"topic_segment\":0},"
             "\"attributes\":[{\"pointer\":\"/v\"}]}");
    REQUIRE(s);
    EXPECT_OUT(s, "dev42/up", "{\"v\":1}", "T,id=urn:ngsi-ld:T:dev42 v=1 1700000000000\n");
    decode_spec_free(s);
    s = spec("{\"decoder\":\"json\",\"type\":\"T\",\"id\":{\"topic_segment\":-2},"
             "\"attributes\":[{\"pointer\":\"/v\"}]}");
    REQUIRE(s);
    EXPECT_OUT(s, "a/dev43/up", "{\"v\":1}", "T,id=urn:ngsi-ld:T:dev43 v=1 1700000000000\n");
    decode_spec_free(s);
}

static void test_json_payload_array_and_pointers(void)
{
    /* the payload itself is the array; id pointer per record; ~0 ~1 escapes; array index;
    ** GeoJSON location; booleans and strings with characters that need escaping */
    struct decode_spec *s = spec(
        "{\"decoder\":\"json\",\"type\":\"Parking Spot,A\",\"id\":{\"pointer\":\"/meta/id\"},"
        "\"time\":{\"pointer\":\"/t\"},"
        "\"attributes\":[{\"pointer\":\"/a~1b\",\"type\":\"integer\"},"
        "{\"pointer\":\"/m~0n/1\",\"name\":\"second value\"},"
        "{\"pointer\":\"/free\",\"type\":\"boolean\"},"
        "{\"pointer\":\"/label\",\"type\":\"string\",\"name\":\"na,me=x\"}],"
        "\"location\":{\"geojson\":\"/loc\"}}");
    REQUIRE(s);
    EXPECT_OUT(s, NULL,
               "[{\"meta\":{\"id\":\"p 1\"},\"t\":\"2024-01-04T22:00:00.5+01:00\",\"a/b\":\"7\","
               "\"m~n\":[0,\" 2.5e1 \"],\"free\":true,\"label\":\"say \\\"hi\\\" \\\\ \\n ok\","
               "\"loc\":{\"type\":\"Point\",\"coordinates\":[2.35,48.85]}},"
               "{\"meta\":{\"id\":12},\"t\":\"2024-01-04T21:00:01Z\",\"a/b\":-3,"
               "\"m~n\":[0,1e-7],\"free\":false,\"label\":\"\","
               "\"loc\":{\"type\":\"Point\",\"coordinates\":[-180,-90]}}]",
               "Parking\\ Spot\\,A,id=urn:ngsi-ld:Parking\\ Spot\\,A:p\\ 1 a/b=7i,"
               "second\\ value=25,free=true,na\\,me\\=x=\"say \\\"hi\\\" \\\\   ok\",lat=48.85,"
               "lon=2.35 1704402000500\n"
               "Parking\\ Spot\\,A,id=urn:ngsi-ld:Parking\\ Spot\\,A:12 a/b=-3i,"
               "second\\ value=1e-07,free=false,na\\,me\\=x=\"\",lat=-90,lon=-180 "
               "1704402001000\n");
    struct buf out;
    char err[256];
    buf_init(&out, 0);
    const char *p = "[{\"meta\":{\"id\":\"p,1 =\"},\"t\":\"2024-01-04T22:00:00Z\",\"a/b\":1,"
                    "\"m~n\":[0,2],\"free\":true,\"label\":\"x\\\"\","
                    "\"loc\":{\"type\":\"Point\",\"coordinates\":[2,48]}}]";
    CHECK_EQ_INT(decode_message(s, NULL, p, strlen(p), "id", NOW, NULL, NULL, &out, err,
                                sizeof(err)), 1);
    int nf[] = {6};
    CHECK_EQ_INT(parse_back(&out, "Parking Spot,A", nf), 1);
    CHECK(g_ln.tags[0].vlen == 32 &&
          !memcmp(g_ln.tags[0].val, "urn:ngsi-ld:Parking Spot,A:p,1 =", 32));
    CHECK(g_ln.fields[3].klen == 7 && !memcmp(g_ln.fields[3].key, "na,me=x", 7));
    CHECK(g_ln.fields[3].vt == VT_STR && g_ln.fields[3].v.s.len == 2 &&
          !memcmp(g_ln.fields[3].v.s.p, "x\"", 2));
    buf_release(&out);
    decode_spec_free(s);
}

static void test_times(void)
{
    struct decode_spec *s = spec("{\"decoder\":\"json\",\"type\":\"T\",\"id\":{\"pointer\":"
                                 "\"/id\"},\"time\":{\"pointer\":\"/t\",\"format\":\"epoch_s\"},"
                                 "\"attributes\":[{\"pointer\":\"/v\"}]}");
    REQUIRE(s);
    EXPECT_OUT(s, NULL, "{\"id\":\"a\",\"t\":1658136855,\"v\":1}",
               "T,id=urn:ngsi-ld:T:a v=1 1658136855000\n");
    EXPECT_OUT(s, NULL, "{\"id\":\"a\",\"t\":1658136855.7755,\"v\":1}",
               "T,id=urn:ngsi-ld:T:a v=1 1658136855776\n");
    EXPECT_OUT(s, NULL, "{\"id\":\"a\",\"t\":\"1658136855\",\"v\":1}",
               "T,id=urn:ngsi-ld:T:a v=1 1658136855000\n");
    EXPECT_OUT(s, NULL, "{\"id\":\"a\",\"t\":\"1658136855.5\",\"v\":1}",
               "T,id=urn:ngsi-ld:T:a v=1 1658136855500\n");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"t\":\"yesterday\",\"v\":1}",
               "time (/t): expected epoch seconds, got string \"yesterday\"");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"t\":1e300,\"v\":1}", "out of range");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"t\":99999999999999,\"v\":1}", "out of range");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"v\":1}", "time (/t): missing");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"t\":null,\"v\":1}", "time (/t): missing");
    decode_spec_free(s);

    s = spec("{\"decoder\":\"json\",\"type\":\"T\",\"id\":{\"pointer\":\"/id\"},"
             "\"time\":{\"pointer\":\"/t\",\"format\":\"epoch_ms\"},"
             "\"attributes\":[{\"pointer\":\"/v\"}]}");
    REQUIRE(s);
    EXPECT_OUT(s, NULL, "{\"id\":\"a\",\"t\":1658136855775,\"v\":1}",
               "T,id=urn:ngsi-ld:T:a v=1 1658136855775\n");
    EXPECT_OUT(s, NULL, "{\"id\":\"a\",\"t\":\"1658136855775\",\"v\":1}",
               "T,id=urn:ngsi-ld:T:a v=1 1658136855775\n");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"t\":true,\"v\":1}", "got boolean true");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"t\":\"99999999999999999999999\",\"v\":1}",
               "out of range");
    decode_spec_free(s);

    s = spec("{\"decoder\":\"json\",\"type\":\"T\",\"id\":{\"pointer\":\"/id\"},"
             "\"time\":{\"pointer\":\"/t\"},\"attributes\":[{\"pointer\":\"/v\"}]}");
    REQUIRE(s);
    /* ChirpStack's nanosecond fraction with +00:00, TTS's with Z, an offset */
    EXPECT_OUT(s, NULL, "{\"id\":\"a\",\"t\":\"2022-07-18T09:34:15.775023242+00:00\",\"v\":1}",
               "T,id=urn:ngsi-ld:T:a v=1 1658136855775\n");
    EXPECT_OUT(s, NULL, "{\"id\":\"a\",\"t\":\"2022-07-18T09:40:02.412823915Z\",\"v\":1}",
               "T,id=urn:ngsi-ld:T:a v=1 1658137202412\n");
    EXPECT_OUT(s, NULL, "{\"id\":\"a\",\"t\":\"2022-07-18T11:34:15+02:00\",\"v\":1}",
               "T,id=urn:ngsi-ld:T:a v=1 1658136855000\n");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"t\":\"2022-13-18T09:34:15Z\",\"v\":1}",
               "time (/t): \"2022-13-18T09:34:15Z\" is not an RFC 3339 date-time");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"t\":1658136855,\"v\":1}",
               "time (/t): expected an RFC 3339 date-time string, got number 1658136855");
    decode_spec_free(s);
}

static void test_values(void)
{
    struct decode_spec *s = spec(
        "{\"decoder\":\"json\",\"type\":\"T\",\"id\":{\"pointer\":\"/id\"},\"attributes\":["
        "{\"pointer\":\"/n\",\"optional\":true},"
        "{\"pointer\":\"/i\",\"type\":\"integer\",\"optional\":true},"
        "{\"pointer\":\"/b\",\"type\":\"boolean\",\"optional\":true},"
        "{\"pointer\":\"/s\",\"type\":\"string\",\"optional\":true},"
        "{\"pointer\":\"/x\",\"scale\":0.1,\"optional\":true},"
        "{\"pointer\":\"/y\",\"scale\":2.5,\"optional\":true}]}");
    REQUIRE(s);
    EXPECT_OUT(s, NULL, "{\"id\":\"a\",\"n\":\"42.5\",\"i\":\" -7 \",\"x\":634,\"y\":\"4\"}",
               "T,id=urn:ngsi-ld:T:a n=42.5,i=-7i,x=63.4,y=10 1700000000000\n");
    EXPECT_OUT(s, NULL, "{\"id\":\"a\",\"i\":42.0,\"b\":false,\"s\":\"\\u00e9t\\u00e9\"}",
               "T,id=urn:ngsi-ld:T:a i=42i,b=false,s=\"\xc3\xa9t\xc3\xa9\" 1700000000000\n");
    EXPECT_OUT(s, NULL, "{\"id\":\"a\",\"i\":-9223372036854775808,\"n\":null}",
               "T,id=urn:ngsi-ld:T:a i=-9223372036854775808i 1700000000000\n");
    EXPECT_OUT(s, NULL, "{\"id\":\"a\",\"i\":\"9223372036854775807\"}",
               "T,id=urn:ngsi-ld:T:a i=9223372036854775807i 1700000000000\n");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"n\":\"abc\"}",
               "attribute n (/n): expected a number, got string \"abc\"");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"n\":\"0x1A\"}", "expected a number");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"n\":\"NaN\"}", "expected a number, got string \"NaN\"");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"n\":\"inf\"}", "expected a number");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"n\":\"1e999\"}", "attribute n (/n): number out of range");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"n\":true}", "expected a number, got boolean true");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"n\":{}}", "expected a number, got object");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"y\":1e308}", "attribute y (/y): number out of range");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"i\":42.5}",
               "attribute i (/i): expected an integer, got number 42.5");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"i\":\"4.5\"}", "expected an integer");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"i\":\"9223372036854775808\"}",
               "attribute i (/i): integer out of range");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"i\":1e19}", "integer out of range");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"b\":1}", "attribute b (/b): expected a boolean, got number 1");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"s\":5}", "attribute s (/s): expected a string, got number 5");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"s\":[1]}", "expected a string, got array");
    /* a record with zero attributes */
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"other\":1}", "no attribute present");
    decode_spec_free(s);

    s = spec("{\"decoder\":\"json\",\"type\":\"T\",\"id\":{\"pointer\":\"/id\"},"
             "\"attributes\":[{\"pointer\":\"/v\"},{\"pointer\":\"/w\",\"type\":\"string\"}]}");
    REQUIRE(s);
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"w\":\"x\"}", "attribute v (/v): missing (not optional)");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"v\":null,\"w\":\"x\"}", "attribute v (/v): null");
    decode_spec_free(s);
}

static void test_ids(void)
{
    struct decode_spec *s = spec("{\"decoder\":\"json\",\"type\":\"T\",\"id\":{\"pointer\":"
                                 "\"/id\"},\"id_template\":\"{}\",\"attributes\":[{\"pointer\":"
                                 "\"/v\"}]}");
    REQUIRE(s);
    EXPECT_OUT(s, NULL, "{\"id\":\"raw-id\",\"v\":1}", "T,id=raw-id v=1 1700000000000\n");
    EXPECT_ERR(s, NULL, "{\"v\":1}", "id (/id): missing");
    EXPECT_ERR(s, NULL, "{\"id\":\"\",\"v\":1}", "id (/id): empty");
    EXPECT_ERR(s, NULL, "{\"id\":true,\"v\":1}",
               "id (/id): expected a string or an integer, got boolean true");
    EXPECT_ERR(s, NULL, "{\"id\":1.5,\"v\":1}", "got number 1.5");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\\tb\",\"v\":1}", "id \"a?b\" contains a control character");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\\\\b\",\"v\":1}", "contains a backslash");
    char big[1200];
    snprintf(big, sizeof(big), "{\"id\":\"%01025d\",\"v\":1}", 0);
    EXPECT_ERR(s, NULL, big, "id is longer than 1024 bytes");
    snprintf(big, sizeof(big), "{\"id\":\"%01024d\",\"v\":1}", 0);
    char got[4096], err[256];
    CHECK_EQ_INT(dec(s, NULL, big, NULL, NULL, got, sizeof(got), err, sizeof(err)), 1);
    decode_spec_free(s);

    /* the template counts in the limit */
    s = spec("{\"decoder\":\"json\",\"type\":\"T\",\"id\":{\"pointer\":\"/id\"},\"attributes\":"
             "[{\"pointer\":\"/v\"}]}");
    REQUIRE(s);
    EXPECT_ERR(s, NULL, big, "id is longer than 1024 bytes");
    decode_spec_free(s);

    s = spec("{\"decoder\":\"json\",\"type\":\"T\",\"id\":{\"topic_segment\":3},"
             "\"id_template\":\"sensor:{}:x\",\"attributes\":[{\"pointer\":\"/v\"}]}");
    REQUIRE(s);
    EXPECT_OUT(s, "a/b/c/d/e", "{\"v\":1}", "T,id=sensor:d:x v=1 1700000000000\n");
    EXPECT_ERR(s, "a/b/c", "{\"v\":1}", "id (topic_segment 3): topic \"a/b/c\" has no such level");
    EXPECT_ERR(s, NULL, "{\"v\":1}", "id (topic_segment 3)");
    EXPECT_ERR(s, "a/b/c//e", "{\"v\":1}", "empty topic level");
    EXPECT_ERR(s, "a/b/c/d\te", "{\"v\":1}", "contains a control character");
    EXPECT_ERR(s, "a/b/c/\xff", "{\"v\":1}", "is not valid UTF-8");
    decode_spec_free(s);
    s = spec("{\"decoder\":\"json\",\"type\":\"T\",\"id\":{\"topic_segment\":-4},"
             "\"attributes\":[{\"pointer\":\"/v\"}]}");
    REQUIRE(s);
    EXPECT_OUT(s, "a/b/c/d", "{\"v\":1}", "T,id=urn:ngsi-ld:T:a v=1 1700000000000\n");
    EXPECT_ERR(s, "b/c/d", "{\"v\":1}", "has no such level");
    decode_spec_free(s);
}

static void test_lorawan_errors(void)
{
    REQUIRE(g_cs && g_tts);
    struct decode_spec *s = spec(CS_SPEC_UNITS);
    REQUIRE(s);
    json_t *j = json_loads(g_cs, 0, NULL);
    REQUIRE(j);
    json_object_del(j, "object");
    char *noobj = json_dumps(j, JSON_COMPACT);
    EXPECT_ERR(s, CS_TOPIC, noobj,
               "no decoded object (object missing: does the device profile have a codec?)");
    free(noobj);
    json_object_set_new(j, "object", json_pack("{s:s, s:f}", "LAeq", "loud", "LAmax", 80.0));
    char *bad = json_dumps(j, JSON_COMPACT);
    EXPECT_ERR(s, CS_TOPIC, bad, "attribute LAeq (/LAeq): expected a number, got string \"loud\"");
    free(bad);
    json_object_set_new(j, "object", json_pack("{s:f}", "LAmax", 80.0));
    bad = json_dumps(j, JSON_COMPACT);
    EXPECT_ERR(s, CS_TOPIC, bad, "attribute LAeq (/LAeq): missing");
    free(bad);
    json_object_del(j, "deviceInfo");
    json_object_set_new(j, "object", json_pack("{s:f,s:f}", "LAeq", 1.0, "LAmax", 80.0));
    bad = json_dumps(j, JSON_COMPACT);
    EXPECT_ERR(s, CS_TOPIC, bad, "id (/deviceInfo/devEui): missing");
    free(bad);
    json_decref(j);
    /* other events: by topic, or by content */
    EXPECT_ERR(s, "application/1/device/0101010101010101/event/join", g_cs,
               "chirpstack event \"join\" is not an uplink");
    EXPECT_ERR(s, "application/1/device/0101010101010101/event/status",
               "{\"deviceInfo\":{\"devEui\":\"01\"},\"margin\":7,\"batteryLevel\":95.5}",
               "is not an uplink");
    EXPECT_ERR(s, "custom/topic",
               "{\"deviceInfo\":{\"devEui\":\"01\"},\"margin\":7,\"batteryLevel\":95.5}",
               "not a ChirpStack uplink event");
    EXPECT_ERR(s, CS_TOPIC, "[1,2]", "must be a JSON object");
    EXPECT_ERR(s, CS_TOPIC, "{\"deviceInfo\":", "not JSON");
    decode_spec_free(s);

    s = spec("{\"decoder\":\"chirpstack\",\"type\":\"T\"}");
    REQUIRE(s);
    EXPECT_ERR(s, CS_TOPIC, "{\"deviceInfo\":{\"devEui\":\"01\"},\"object\":{}}",
               "decoded object has no number, boolean or string member");
    EXPECT_ERR(s, CS_TOPIC, "{\"deviceInfo\":{\"devEui\":\"01\"},\"object\":{\"a\":{\"b\":1},"
                            "\"a_b\":2}}",
               "two members make the attribute name \"a_b\"");
    EXPECT_ERR(s, CS_TOPIC, "{\"deviceInfo\":{\"devEui\":\"01\"},\"object\":{\"a@b\":1}}",
               "contains '@'");
    EXPECT_ERR(s, CS_TOPIC, "{\"deviceInfo\":{\"devEui\":\"01\"},\"object\":{\"\":1}}",
               "is empty");
    EXPECT_ERR(s, CS_TOPIC,
               "{\"deviceInfo\":{\"devEui\":\"01\"},\"object\":{\"a\":{\"b\":{\"c\":{\"d\":{"
               "\"e\":{\"f\":{\"g\":{\"h\":{\"i\":{\"j\":{\"k\":{\"l\":{\"m\":{\"n\":{\"o\":{"
               "\"p\":{\"q\":{\"r\":1}}}}}}}}}}}}}}}}}}}",
               "nested deeper than");
    /* too many flattened attributes (256 fit, 257 do not) */
    struct buf p;
    buf_init(&p, 0);
    buf_puts(&p, "{\"deviceInfo\":{\"devEui\":\"01\"},\"object\":{");
    for (int i = 0; i < 257; i++)
        buf_printf(&p, "%s\"k%d\":%d", i ? "," : "", i, i);
    buf_puts(&p, "}}");
    EXPECT_ERR(s, CS_TOPIC, p.p, "decoded object has more than 256 attributes");
    buf_reset(&p);
    buf_puts(&p, "{\"deviceInfo\":{\"devEui\":\"01\"},\"object\":{");
    for (int i = 0; i < 256; i++)
        buf_printf(&p, "%s\"k%d\":\"%d\"", i ? "," : "", i, i);
    buf_puts(&p, "}}");
    struct buf out;
    char err[256];
    buf_init(&out, 0);
    CHECK_EQ_INT(decode_message(s, CS_TOPIC, p.p, p.len, "id", NOW, NULL, NULL, &out, err,
                                sizeof(err)), 1);
    int nf[] = {256};
    CHECK_EQ_INT(parse_back(&out, "T", nf), 1);
    buf_release(&out);
    buf_release(&p);
    decode_spec_free(s);
    /* with gateway on, rssi/snr take two of the 256 fields; an object key "rssi" yields */
    s = spec("{\"decoder\":\"chirpstack\",\"type\":\"T\",\"gateway\":true}");
    REQUIRE(s);
    EXPECT_OUT(s, CS_TOPIC, "{\"deviceInfo\":{\"devEui\":\"01\"},\"object\":{\"rssi\":5,\"v\":1},"
                            "\"rxInfo\":[{\"rssi\":-100,\"snr\":-2}]}",
               "T,id=urn:ngsi-ld:T:01 v=1,rssi=-100,snr=-2 1700000000000\n");
    decode_spec_free(s);

    s = spec("{\"decoder\":\"tts\",\"type\":\"AirQualityObserved\",\"gateway\":true}");
    REQUIRE(s);
    j = json_loads(g_tts, 0, NULL);
    REQUIRE(j);
    json_object_del(json_object_get(j, "uplink_message"), "decoded_payload");
    noobj = json_dumps(j, JSON_COMPACT);
    EXPECT_ERR(s, TTS_TOPIC, noobj, "no decoded payload (uplink_message.decoded_payload missing");
    free(noobj);
    json_object_del(j, "uplink_message");
    json_object_set_new(j, "join_accept", json_pack("{s:s}", "session_key_id", "AXBSH1Pk6Z0G"));
    noobj = json_dumps(j, JSON_COMPACT);
    EXPECT_ERR(s, "v3/air-quality@ttn/devices/air-sensor-bastille/join", noobj,
               "The Things Stack message \"join\" is not an uplink");
    EXPECT_ERR(s, "other/topic", noobj, "not an uplink message (no uplink_message");
    free(noobj);
    json_decref(j);
    EXPECT_ERR(s, TTS_TOPIC, "{\"uplink_message\":{\"decoded_payload\":{\"a\":1}}}",
               "id (/end_device_ids/dev_eui): missing");
    decode_spec_free(s);
}

static void test_records_and_limits(void)
{
    struct decode_spec *s = spec("{\"decoder\":\"json\",\"type\":\"T\",\"id\":{\"pointer\":"
                                 "\"/id\"},\"records\":\"/r\",\"attributes\":[{\"pointer\":"
                                 "\"/v\",\"unit\":\"CEL\"}]}");
    REQUIRE(s);
    EXPECT_ERR(s, NULL, "{\"x\":1}", "records (/r): missing");
    EXPECT_ERR(s, NULL, "{\"r\":{}}", "records (/r): expected an array, got object");
    EXPECT_ERR(s, NULL, "{\"r\":[]}", "no records (empty array)");
    /* the second record fails: nothing appended, no unit asked (checked by EXPECT_ERR) */
    EXPECT_ERR(s, NULL, "{\"r\":[{\"id\":\"a\",\"v\":1},{\"id\":\"b\",\"v\":\"x\"}]}",
               "record 1: attribute v (/v): expected a number, got string \"x\"");
    EXPECT_ERR(s, NULL, "", "not JSON");
    EXPECT_ERR(s, NULL, "42", "not JSON");
    EXPECT_ERR(s, NULL, "{\"r\":[],\"r\":[]}", "not JSON");
    struct buf p, out;
    char err[256];
    buf_init(&p, 0);
    buf_init(&out, 0);
    buf_puts(&p, "{\"r\":[");
    for (int i = 0; i < DECODE_MAX_RECORDS; i++)
        buf_printf(&p, "%s{\"id\":\"e%d\",\"v\":%d}", i ? "," : "", i % 7, i);
    buf_puts(&p, "]}");
    struct unit_log u = {1, 0, {"", "", ""}};
    CHECK_EQ_INT(decode_message(s, NULL, p.p, p.len, "id", NOW, unit_cb, &u, &out, err,
                                sizeof(err)), DECODE_MAX_RECORDS);
    CHECK_EQ_INT(u.calls, DECODE_MAX_RECORDS);
    CHECK_EQ_INT(parse_back(&out, "T", NULL), DECODE_MAX_RECORDS);
    /* one record more */
    p.len -= 2;
    buf_puts(&p, ",{\"id\":\"x\",\"v\":0}]}");
    EXPECT_ERR(s, NULL, p.p, "10001 records: at most 10000 per message");
    /* out's cap: VG_ETOOBIG, out unchanged, unit_fn not asked */
    struct buf small;
    buf_init(&small, 64);
    buf_puts(&small, "keep");
    u.calls = 0;
    const char *two = "{\"r\":[{\"id\":\"a\",\"v\":1},{\"id\":\"b\",\"v\":2}]}";
    CHECK_EQ_INT(decode_message(s, NULL, two, strlen(two), "id", NOW, unit_cb, &u, &small, err,
                                sizeof(err)), VG_ETOOBIG);
    CHECK(small.len == 4 && !strcmp(small.p, "keep") && u.calls == 0 && strstr(err, "cap"));
    buf_release(&small);
    /* payload over 1 MiB: VG_ETOOBIG before parsing */
    buf_reset(&p);
    while (p.len <= DECODE_PAYLOAD_MAX)
        buf_puts(&p, "                                ");
    buf_reset(&out);
    CHECK_EQ_INT(decode_message(s, NULL, p.p, p.len, "id", NOW, NULL, NULL, &out, err,
                                sizeof(err)), VG_ETOOBIG);
    CHECK(out.len == 0 && strstr(err, "over the 1048576-byte limit"));
    /* bad arguments */
    CHECK_EQ_INT(decode_message(s, NULL, "{}", 2, "", NOW, NULL, NULL, &out, err, sizeof(err)),
                 VG_EINVAL);
    CHECK_EQ_INT(decode_message(s, NULL, "{}", 2, "i d\x01", NOW, NULL, NULL, &out, err,
                                sizeof(err)), VG_EINVAL);
    CHECK_EQ_INT(decode_message(NULL, NULL, "{}", 2, "id", NOW, NULL, NULL, &out, err,
                                sizeof(err)), VG_EINVAL);
    buf_release(&p);
    buf_release(&out);
    decode_spec_free(s);
}

/* Lines stay within the parser's limits: what lp_next would refuse (over LP_SCRATCH bytes to
** unescape, over LP_MAX_LINE bytes) is refused first, with a reason; what is accepted parses
** back. 16 strings of 4096 quotes unescape to exactly 64 KiB; 17 do not fit. */
static void test_line_limits(void)
{
    struct buf sp, p, out;
    char err[256];
    buf_init(&sp, 0);
    buf_init(&p, 0);
    buf_init(&out, 0);
    buf_puts(&sp, "{\"decoder\":\"json\",\"type\":\"T\",\"id\":{\"pointer\":\"/id\"},"
                  "\"attributes\":[");
    for (int i = 0; i < 20; i++)
        buf_printf(&sp, "%s{\"pointer\":\"/s%d\",\"type\":\"string\",\"optional\":true}",
                   i ? "," : "", i);
    buf_puts(&sp, "]}");
    struct decode_spec *s = spec(sp.p);
    REQUIRE(s);
    char q[4097];
    memset(q, '"', 4096);
    q[4096] = '\0';
    for (int n = 16; n <= 17; n++) {
        buf_reset(&p);
        buf_puts(&p, "{\"id\":\"a\"");
        for (int i = 0; i < n; i++) {
            buf_printf(&p, ",\"s%d\":\"", i);
            for (int k = 0; k < 4096; k++)
                buf_puts(&p, "\\\"");
            buf_putc(&p, '"');
        }
        buf_putc(&p, '}');
        buf_reset(&out);
        int rc = decode_message(s, NULL, p.p, p.len, "id", NOW, NULL, NULL, &out, err,
                                sizeof(err));
        if (n == 16) {
            CHECK_EQ_INT(rc, 1);
            int nf[] = {16};
            CHECK_EQ_INT(parse_back(&out, "T", nf), 1);
            CHECK(g_ln.fields[15].v.s.len == 4096 && !memcmp(g_ln.fields[15].v.s.p, q, 4096));
        } else {
            CHECK_EQ_INT(rc, VG_EINVAL);
            CHECK(strstr(err, "record too large for one line protocol line (69632 escaped") !=
                  NULL);
            CHECK(out.len == 0);
        }
    }
    decode_spec_free(s);

    /* 200 attributes reading the same string of 4096 quotes: an 8 KiB payload, a 1.6 MiB line */
    buf_reset(&sp);
    buf_puts(&sp, "{\"decoder\":\"json\",\"type\":\"T\",\"id\":{\"pointer\":\"/id\"},"
                  "\"attributes\":[");
    for (int i = 0; i < 200; i++)
        buf_printf(&sp, "%s{\"pointer\":\"/s\",\"name\":\"n%d\",\"type\":\"string\"}",
                   i ? "," : "", i);
    buf_puts(&sp, "]}");
    s = spec(sp.p);
    REQUIRE(s);
    buf_reset(&p);
    buf_puts(&p, "{\"id\":\"a\",\"s\":\"");
    for (int k = 0; k < 4096; k++)
        buf_puts(&p, "\\\"");
    buf_puts(&p, "\"}");
    buf_reset(&out);
    CHECK_EQ_INT(decode_message(s, NULL, p.p, p.len, "id", NOW, NULL, NULL, &out, err,
                                sizeof(err)), VG_EINVAL);
    CHECK(strstr(err, "record too large for one line protocol line (") && strstr(err, "at most "
                                                                                       "1048576"));
    CHECK(out.len == 0);
    /* a string over DECODE_MAX_STRING */
    buf_reset(&p);
    buf_puts(&p, "{\"id\":\"a\",\"s\":\"");
    for (int k = 0; k < 4097; k++)
        buf_putc(&p, 'x');
    buf_puts(&p, "\"}");
    EXPECT_ERR(s, NULL, p.p, "attribute n0 (/s): string of 4097 bytes is over the 4096-byte");
    buf_release(&sp);
    buf_release(&p);
    buf_release(&out);
    decode_spec_free(s);
}

static void test_location(void)
{
    struct decode_spec *s = spec("{\"decoder\":\"json\",\"type\":\"T\",\"id\":{\"pointer\":"
                                 "\"/id\"},\"attributes\":[{\"pointer\":\"/v\"}],\"location\":"
                                 "{\"lat\":\"/p/la\",\"lon\":\"/p/lo\"}}");
    REQUIRE(s);
    EXPECT_OUT(s, NULL, "{\"id\":\"a\",\"v\":1,\"p\":{\"la\":\"48.5\",\"lo\":-1.25}}",
               "T,id=urn:ngsi-ld:T:a v=1,lat=48.5,lon=-1.25 1700000000000\n");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"v\":1}", "location (/p/la): missing");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"v\":1,\"p\":{\"la\":1}}", "location (/p/lo): missing");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"v\":1,\"p\":{\"la\":91,\"lo\":0}}",
               "location (/p/la): latitude 91, longitude 0 out of range");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"v\":1,\"p\":{\"la\":1,\"lo\":\"east\"}}",
               "location longitude (/p/lo): expected a number, got string \"east\"");
    decode_spec_free(s);
    s = spec("{\"decoder\":\"json\",\"type\":\"T\",\"id\":{\"pointer\":\"/id\"},\"attributes\":"
             "[{\"pointer\":\"/v\"}],\"location\":{\"geojson\":\"/g\",\"optional\":true}}");
    REQUIRE(s);
    EXPECT_OUT(s, NULL, "{\"id\":\"a\",\"v\":1}", "T,id=urn:ngsi-ld:T:a v=1 1700000000000\n");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"v\":1,\"g\":{\"type\":\"LineString\",\"coordinates\":"
                        "[[1,2],[3,4]]}}",
               "location (/g): expected a GeoJSON Point");
    EXPECT_ERR(s, NULL, "{\"id\":\"a\",\"v\":1,\"g\":{\"type\":\"Point\",\"coordinates\":"
                        "[181,0]}}",
               "out of range");
    decode_spec_free(s);
}

static void test_spec_errors(void)
{
    static const struct {
        const char *spec, *want;
    } cases[] = {
        {"[]", "decoder: a decoder specification must be a JSON object"},
        {"{\"type\":\"T\"}", "decoder: \"decoder\" is required"},
        {"{\"decoder\":\"csv\",\"type\":\"T\"}", "\"decoder\" must be \"json\", \"chirpstack\""},
        {"{\"decoder\":\"tts\"}", "decoder: \"type\" is required"},
        {"{\"decoder\":\"tts\",\"type\":\"\"}", "\"type\" \"\" is empty"},
        {"{\"decoder\":\"tts\",\"type\":\"a\\nb\"}", "contains a control character"},
        {"{\"decoder\":\"tts\",\"type\":\"a\\\\b\"}", "\"type\" \"a\\b\" contains a backslash"},
        {"{\"decoder\":\"tts\",\"type\":\"#T\"}", "starts with '#'"},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"atributes\":[]}",
         "decoder: unknown member \"atributes\""},
        {"{\"decoder\":\"json\",\"type\":\"T\",\"attributes\":[{\"pointer\":\"/v\"}]}",
         "\"id\" is required for the json decoder"},
        {"{\"decoder\":\"json\",\"type\":\"T\",\"id\":{\"pointer\":\"/i\"}}",
         "\"attributes\" is required for the json decoder"},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"id\":\"/x\"}", "\"id\" must be {\"pointer\""},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"id\":{}}", "exactly one of \"pointer\""},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"id\":{\"pointer\":\"/a\",\"topic_segment\":1}}",
         "exactly one of"},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"id\":{\"pointer\":\"a\"}}",
         "\"id\": \"pointer\" is not a JSON pointer"},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"id\":{\"pointer\":\"/a~2\"}}",
         "is not a JSON pointer"},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"id\":{\"pointer\":\"/a~\"}}",
         "is not a JSON pointer"},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"id\":{\"topic_segment\":\"3\"}}",
         "\"topic_segment\" must be an integer"},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"id\":{\"topic_segment\":1,\"x\":1}}",
         "\"id\": unknown member \"x\""},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"id_template\":\"urn:x\"}",
         "\"id_template\" must contain {} exactly once"},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"id_template\":\"{}:{}\"}", "exactly once"},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"id_template\":7}", "\"id_template\" must be"},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"time\":{\"pointer\":\"/t\",\"format\":\"unix\"}}",
         "\"time\": \"format\" must be"},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"time\":{\"format\":\"epoch_s\"}}",
         "\"time\": \"pointer\" is required"},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"records\":\"/r\"}",
         "\"records\" is only for the json decoder"},
        {"{\"decoder\":\"json\",\"type\":\"T\",\"id\":{\"pointer\":\"/i\"},\"gateway\":true,"
         "\"attributes\":[{\"pointer\":\"/v\"}]}",
         "\"gateway\" is only for the chirpstack and tts decoders"},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"gateway\":1}", "\"gateway\" must be true or false"},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"attributes\":[]}",
         "\"attributes\" must be an array of 1..256"},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"attributes\":{}}", "\"attributes\" must be"},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"attributes\":[{\"name\":\"x\"}]}",
         "\"attributes\"[0]: \"pointer\" is required"},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"attributes\":[{\"pointer\":\"\"}]}",
         "\"attributes\"[0]: \"name\" is required when the pointer is \"\""},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"attributes\":[{\"pointer\":\"/a\"},"
         "{\"pointer\":\"/b\",\"type\":\"float\"}]}",
         "\"attributes\"[1]: \"type\" must be"},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"attributes\":[{\"pointer\":\"/a\",\"unit\":"
         "\"°C\"}]}",
         "\"attributes\"[0]: \"unit\" must be a UN/CEFACT code"},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"attributes\":[{\"pointer\":\"/a\",\"scale\":0}]}",
         "\"scale\" must be a non-zero number"},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"attributes\":[{\"pointer\":\"/a\",\"type\":"
         "\"integer\",\"scale\":10}]}",
         "\"scale\" needs \"type\": \"number\""},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"attributes\":[{\"pointer\":\"/a\",\"optional\":"
         "\"yes\"}]}",
         "\"optional\" must be true or false"},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"attributes\":[{\"pointer\":\"/a\",\"extra\":1}]}",
         "\"attributes\"[0]: unknown member \"extra\""},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"attributes\":[{\"pointer\":\"/x/a\"},"
         "{\"pointer\":\"/y/a\"}]}",
         "\"attributes\"[1]: name \"a\" is used twice"},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"attributes\":[{\"pointer\":\"/a@b\"}]}",
         "name \"a@b\" contains '@'"},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"attributes\":[{\"pointer\":\"/a\",\"name\":"
         "\"x\\\\y\"}]}",
         "contains a backslash"},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"attributes\":[{\"pointer\":\"/lat\"}],"
         "\"location\":{\"lat\":\"/lat\",\"lon\":\"/lon\"}}",
         "name \"lat\" is taken by \"location\""},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"attributes\":[{\"pointer\":\"/snr\"}],"
         "\"gateway\":true}",
         "name \"snr\" is taken by \"gateway\""},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"location\":{\"lat\":\"/lat\"}}",
         "\"location\" needs \"lat\" and \"lon\", or \"geojson\""},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"location\":{\"lat\":\"/a\",\"lon\":\"/b\","
         "\"geojson\":\"/g\"}}",
         "\"location\" needs"},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"location\":{\"geojson\":5}}",
         "\"location\": \"geojson\" must be a JSON pointer string"},
        {"{\"decoder\":\"tts\",\"type\":\"T\",\"location\":[]}", "\"location\" must be"},
    };
    char err[512];
    for (size_t i = 0; i < VG_ARRAY_LEN(cases); i++) {
        int rc = spec_err(cases[i].spec, err, sizeof(err));
        if (rc != VG_EINVAL || strncmp(err, "decoder: ", 9) || !strstr(err, cases[i].want)) {
            printf("  case %zu: rc %d err '%s' want '%s'\n", i, rc, err, cases[i].want);
            CHECK(0);
        }
    }
    /* a name long enough for a unit field, and one byte more */
    char sp[800], nm[300];
    memset(nm, 'n', 247);
    nm[247] = '\0';
    snprintf(sp, sizeof(sp), "{\"decoder\":\"tts\",\"type\":\"T\",\"attributes\":[{\"pointer\":"
                             "\"/a\",\"name\":\"%s\",\"unit\":\"CEL\"}]}", nm);
    struct decode_spec *s = spec(sp);
    CHECK(s != NULL);
    decode_spec_free(s);
    decode_spec_free(NULL);
    nm[247] = 'n';
    nm[248] = '\0';
    snprintf(sp, sizeof(sp), "{\"decoder\":\"tts\",\"type\":\"T\",\"attributes\":[{\"pointer\":"
                             "\"/a\",\"name\":\"%s\",\"unit\":\"CEL\"}]}", nm);
    CHECK(spec_err(sp, err, sizeof(err)) == VG_EINVAL && strstr(err, "too long for a unit"));
    /* 130 attributes with units are 260 fields: over line protocol's 256 */
    struct buf b;
    buf_init(&b, 0);
    buf_puts(&b, "{\"decoder\":\"tts\",\"type\":\"T\",\"attributes\":[");
    for (int i = 0; i < 130; i++)
        buf_printf(&b, "%s{\"pointer\":\"/a%d\",\"unit\":\"CEL\"}", i ? "," : "", i);
    buf_puts(&b, "]}");
    CHECK(spec_err(b.p, err, sizeof(err)) == VG_EINVAL && strstr(err, "260 fields per line"));
    buf_release(&b);
    /* a NULL err buffer is allowed */
    json_t *j = json_loads("{}", 0, NULL);
    CHECK_EQ_INT(decode_spec_parse(j, &s, NULL, 0), VG_EINVAL);
    json_decref(j);
}

/* ---- random round trip ---------------------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
}

/* A random name of printable bytes including the ones line protocol escapes (no '\\', '@'). */
static void rnd_name(char *out, size_t maxlen)
{
    static const char *const parts[] = {"a", "Z", "0", " ", ",", "=", "\"", "#", "\xc3\xa9",
                                        "_", "-", ":", "/", "~", "{", "\xe2\x82\xac"};
    size_t n = 1 + rnd() % maxlen, len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *p = parts[rnd() % VG_ARRAY_LEN(parts)];
        if (len + strlen(p) >= maxlen)
            break;
        strcpy(out + len, p);
        len += strlen(p);
    }
    if (len == 0 || out[0] == '#') /* a type starting with '#' is refused (comment line) */
        out[0] = 'x', out[1] = '\0';
}

static void test_random_round_trip(void)
{
    for (int iter = 0; iter < 2000; iter++) {
        char type[40], name[8][24];
        rnd_name(type, sizeof(type));
        int na = 1 + (int)(rnd() % 8);
        int types[8];
        json_t *sp = json_pack("{s:s, s:s, s:{s:s}, s:s, s:[]}", "decoder", "json", "type", type,
                               "id", "pointer", "/id", "id_template", "{}", "attributes");
        for (int i = 0; i < na; i++) {
            static const char *const tn[] = {"number", "integer", "boolean", "string"};
            do {
                rnd_name(name[i], sizeof(name[i]));
                for (int k = 0; k < i; k++)
                    if (!strcmp(name[k], name[i]))
                        name[i][0] = '\0';
            } while (!name[i][0]);
            types[i] = (int)(rnd() % 4);
            char ptr[16];
            snprintf(ptr, sizeof(ptr), "/v%d", i);
            json_array_append_new(json_object_get(sp, "attributes"),
                                  json_pack("{s:s, s:s, s:s}", "pointer", ptr, "name", name[i],
                                            "type", tn[types[i]]));
        }
        struct decode_spec *s = NULL;
        char err[400];
        if (decode_spec_parse(sp, &s, err, sizeof(err))) {
            printf("  spec: %s\n", err);
            CHECK(0);
            json_decref(sp);
            return;
        }
        json_decref(sp);
        char id[40], sval[8][40];
        double dv[8];
        int64_t iv[8];
        rnd_name(id, sizeof(id));
        json_t *msg = json_pack("{s:s}", "id", id);
        for (int i = 0; i < na; i++) {
            char key[16];
            snprintf(key, sizeof(key), "v%d", i);
            dv[i] = (double)(int64_t)(rnd() >> 11) * pow(10, (double)(rnd() % 40) - 30) *
                    ((rnd() & 1) ? -1 : 1);
            iv[i] = (int64_t)rnd();
            rnd_name(sval[i], sizeof(sval[i]) - 1);
            if (rnd() % 4 == 0) { /* backslashes are fine in string values */
                memmove(sval[i] + 1, sval[i], strlen(sval[i]) + 1);
                sval[i][0] = '\\';
            }
            json_t *v = types[i] == 0   ? json_real(dv[i])
                        : types[i] == 1 ? json_integer(iv[i])
                        : types[i] == 2 ? json_boolean(iv[i] & 1)
                                        : json_string(sval[i]);
            json_object_set_new(msg, key, v);
        }
        char *text = json_dumps(msg, JSON_COMPACT);
        json_decref(msg);
        struct buf out;
        buf_init(&out, 0);
        int rc = decode_message(s, NULL, text, strlen(text), "id", NOW, NULL, NULL, &out, err,
                                sizeof(err));
        free(text);
        int nf[] = {na};
        if (rc != 1 || parse_back(&out, type, nf) != 1) {
            printf("  iter %d: rc %d %s\n  %s", iter, rc, rc < 0 ? err : "", out.p ? out.p : "");
            CHECK(0);
            buf_release(&out);
            decode_spec_free(s);
            return;
        }
        CHECK(g_ln.tags[0].vlen == strlen(id) && !memcmp(g_ln.tags[0].val, id, strlen(id)));
        CHECK(g_ln.ts == NOW);
        for (int i = 0; i < na; i++) {
            const struct lp_field *f = &g_ln.fields[i];
            CHECK(f->klen == strlen(name[i]) && !memcmp(f->key, name[i], f->klen));
            switch (types[i]) {
            case 0:
                CHECK(f->vt == VT_F64 && f->v.f == dv[i]);
                break;
            case 1:
                CHECK(f->vt == VT_I64 && f->v.i == iv[i]);
                break;
            case 2:
                CHECK(f->vt == VT_BOOL && f->v.i == (iv[i] & 1));
                break;
            default:
                CHECK(f->vt == VT_STR && f->v.s.len == strlen(sval[i]) &&
                      !memcmp(f->v.s.p, sval[i], f->v.s.len));
            }
        }
        buf_release(&out);
        decode_spec_free(s);
    }
}

int main(void)
{
    TEST_BEGIN("decode_test");
    g_cs = slurp("tests/data/lorawan/chirpstack_up.json");
    g_tts = slurp("tests/data/lorawan/tts_up.json");
    g_json = slurp("tests/data/lorawan/json_counters.json");
    TEST_RUN(test_samples_present);
    TEST_RUN(test_chirpstack_units_gateway);
    TEST_RUN(test_chirpstack_auto);
    TEST_RUN(test_tts);
    TEST_RUN(test_json_records);
    TEST_RUN(test_json_payload_array_and_pointers);
    TEST_RUN(test_times);
    TEST_RUN(test_values);
    TEST_RUN(test_ids);
    TEST_RUN(test_lorawan_errors);
    TEST_RUN(test_records_and_limits);
    TEST_RUN(test_line_limits);
    TEST_RUN(test_location);
    TEST_RUN(test_spec_errors);
    TEST_RUN(test_random_round_trip);
    free(g_cs);
    free(g_tts);
    free(g_json);
    return TEST_END();
}
