/*
** ingest/decode_ngsild_test.c: unit tests of the NGSI-LD message decoder
** (ingest/decode_ngsild.c): normalized and keyValues entities, observedAt split into lines,
** unit codes, DateTime values, relationships, the location Point, skipped structured values,
** arrays of entities, every error (out unchanged), and every Smart Data Models example of
** ../shared/datamodels parsed back through the line-protocol parser.
** Owns: nothing beyond its local buffers.
*/
#include "ingest/decode_ngsild.h"

#include "core/test.h"
#include "core/vg.h"
#include "ingest/lineproto.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct lp_parser g_p;
static struct lp_line g_ln;

static int decode(const char *json, struct buf *out, char *why)
{
    buf_init(out, 0);
    return decode_ngsild(json, strlen(json), "id", 1000, out, why, 256);
}

/* Lines of out that parse; -1 when one does not. */
static int parse_lines(const struct buf *out)
{
    char err[128];
    int n = 0, rc;
    lp_init(&g_p, out->p, out->len);
    while ((rc = lp_next(&g_p, &g_ln, err, sizeof(err))) != 0) {
        if (rc < 0)
            return -1;
        n++;
    }
    return n;
}

static void test_normalized(void)
{
    struct buf out;
    char why[256];
    const char *e =
        "{\"id\":\"urn:ngsi-ld:WaterConsumptionObserved:m 1\",\"type\":\"WaterConsumptionObserved\","
        "\"flow\":{\"type\":\"Property\",\"value\":3.25,\"unitCode\":\"G51\","
        "\"observedAt\":\"2026-11-20T10:00:00Z\"},"
        "\"alarm\":{\"type\":\"Property\",\"value\":true,\"observedAt\":\"2026-11-20T10:00:00Z\"},"
        "\"dateObserved\":{\"type\":\"Property\",\"value\":{\"@type\":\"DateTime\","
        "\"@value\":\"2026-11-20T10:00:00Z\"}},"
        "\"refDevice\":{\"type\":\"Relationship\",\"object\":\"urn:ngsi-ld:Device:d1\"},"
        "\"location\":{\"type\":\"GeoProperty\",\"value\":{\"type\":\"Point\","
        "\"coordinates\":[2.39,48.85]}},"
        "\"address\":{\"type\":\"Property\",\"value\":{\"streetAddress\":\"x\"}},"
        "\"@context\":[\"https://example.org/ctx.jsonld\"]}";
    int n = decode(e, &out, why);
    CHECK_EQ_INT(n, 2);
    CHECK(strcmp(out.p,
                 "WaterConsumptionObserved,id=urn:ngsi-ld:WaterConsumptionObserved:m\\ 1 "
                 "flow=3.25,flow@unitCode=\"G51\",alarm=true 1795168800000\n"
                 "WaterConsumptionObserved,id=urn:ngsi-ld:WaterConsumptionObserved:m\\ 1 "
                 "dateObserved=\"2026-11-20T10:00:00Z\",refDevice=\"urn:ngsi-ld:Device:d1\","
                 "lat=48.85,lon=2.39 1000\n") == 0);
    if (n != 2)
        printf("  got: %s / %s\n", out.p ? out.p : "", why);
    CHECK_EQ_INT(parse_lines(&out), 2);
    buf_release(&out);
}

static void test_keyvalues_and_arrays(void)
{
    struct buf out;
    char why[256];
    int n = decode("[{\"id\":\"a\",\"type\":\"https://uri.example.org/T\",\"LAeq\":64,"
                   "\"name\":\"Nation \\\"1\\\"\",\"location\":{\"type\":\"Point\","
                   "\"coordinates\":[2.4,48.8]},\"tags\":[1,2]},"
                   "{\"id\":\"b\",\"type\":[\"T\",\"U\"],\"on\":false}]",
                   &out, why);
    CHECK_EQ_INT(n, 2);
    CHECK(strcmp(out.p, "T,id=a LAeq=64,name=\"Nation \\\"1\\\"\",lat=48.8,lon=2.4 1000\n"
                        "T,id=b on=false 1000\n") == 0);
    CHECK_EQ_INT(parse_lines(&out), 2);
    buf_release(&out);
}

/* A line end inside a string value cannot travel in line protocol: written as a space. */
static void test_string_line_ends(void)
{
    struct buf out;
    char why[256];
    int n = decode("{\"id\":\"a\",\"type\":\"T\",\"note\":\"two\\nlines\\r\\\\ end\"}",
                   &out, why);
    CHECK_EQ_INT(n, 1);
    CHECK(out.p && strcmp(out.p, "T,id=a note=\"two lines \\\\ end\" 1000\n") == 0);
    CHECK_EQ_INT(parse_lines(&out), 1);
    CHECK(g_ln.fields[0].v.s.len == 15 && !memcmp(g_ln.fields[0].v.s.p, "two lines \\ end", 15));
    buf_release(&out);
}

static void test_errors_leave_out_unchanged(void)
{
    const char *bad[] = {
        "{not json",
        "42",
        "[]",
        "{\"type\":\"T\",\"x\":1}",                      /* no id */
        "{\"id\":\"a\",\"x\":1}",                        /* no type */
        "{\"id\":\"a\",\"type\":\"T\"}",                 /* nothing storable */
        "{\"id\":\"a\",\"type\":\"T\",\"x\":{\"type\":\"Property\",\"value\":{\"k\":1}}}",
        "{\"id\":\"a\",\"type\":\"T\",\"x\":{\"type\":\"Property\",\"value\":1,"
        "\"observedAt\":\"yesterday\"}}",
        "{\"id\":\"a\\u0001\",\"type\":\"T\",\"x\":1}",  /* control character in the id */
        "[{\"id\":\"a\",\"type\":\"T\",\"x\":1},7]",     /* one bad entity fails the message */
        "{\"id\":\"a\",\"type\":\"#\",\"x\":1}",         /* '#' would start a comment line */
    };
    for (size_t i = 0; i < VG_ARRAY_LEN(bad); i++) {
        struct buf out;
        char why[256] = "";
        buf_init(&out, 0);
        buf_puts(&out, "keep");
        int rc = decode_ngsild(bad[i], strlen(bad[i]), "id", 0, &out, why, sizeof(why));
        CHECK_EQ_INT(rc, VG_EINVAL);
        CHECK(out.len == 4 && strcmp(out.p, "keep") == 0);
        CHECK(why[0] != '\0');
        buf_release(&out);
    }
    /* too many attributes */
    struct buf big, out;
    char why[256];
    buf_init(&big, 0);
    buf_puts(&big, "{\"id\":\"a\",\"type\":\"T\"");
    for (int i = 0; i < DECODE_NGSILD_MAX_ATTRS + 5; i++)
        buf_printf(&big, ",\"a%d\":%d", i, i);
    buf_puts(&big, "}");
    buf_init(&out, 0);
    CHECK_EQ_INT(decode_ngsild(big.p, big.len, "id", 0, &out, why, sizeof(why)), VG_EINVAL);
    CHECK(strstr(why, "too many") != NULL);
    buf_release(&out);
    buf_release(&big);
}

/* Every Smart Data Models example that has a storable value decodes into valid lines. */
static void test_datamodels_examples(void)
{
    const char *root = "../shared/datamodels";
    DIR *d = opendir(root);
    REQUIRE(d != NULL);
    struct dirent *de;
    int files = 0, decoded = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || de->d_name[0] == '_')
            continue;
        const char *names[] = {"example.jsonld", "example-normalized.jsonld"};
        for (int k = 0; k < 2; k++) {
            char path[600];
            snprintf(path, sizeof(path), "%s/%s/%s", root, de->d_name, names[k]);
            FILE *f = fopen(path, "rb");
            if (!f)
                continue;
            static char text[1 << 20];
            size_t n = fread(text, 1, sizeof(text) - 1, f);
            fclose(f);
            text[n] = '\0';
            files++;
            struct buf out;
            char why[256];
            buf_init(&out, 0);
            int rc = decode_ngsild(text, n, "id", 0, &out, why, sizeof(why));
            if (rc > 0) {
                decoded++;
                CHECK_EQ_INT(parse_lines(&out), rc);
            } else if (strcmp(de->d_name, "PointOfInterest") != 0 || k != 0) {
                printf("  %s: %s\n", path, why); /* only the known-broken JSON may fail */
                CHECK(0);
            }
            buf_release(&out);
        }
    }
    closedir(d);
    CHECK(files >= 40);
    CHECK_EQ_INT(decoded, files - 1);
}

int main(void)
{
    TEST_BEGIN("decode_ngsild");
    TEST_RUN(test_normalized);
    TEST_RUN(test_keyvalues_and_arrays);
    TEST_RUN(test_string_line_ends);
    TEST_RUN(test_errors_leave_out_unchanged);
    TEST_RUN(test_datamodels_examples);
    return TEST_END();
}
