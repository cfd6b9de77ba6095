/*
** fuzz/fuzz_decode_ngsild.c: libFuzzer target for the NGSI-LD message decoder
** (ingest/decode_ngsild.c). Checks the contract: a positive return is the number of lines
** appended and every line parses back with the line-protocol parser (measurement, the id tag,
** at least one field); an error leaves the buffer as it was.
** Owns: a copy of the input in an exact-size heap buffer (so ASan sees any overread).
*/
#include "ingest/decode_ngsild.h"

#include "ingest/lineproto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size ? size : 1);
    char why[256];
    struct buf out;
    if (!in)
        return 0;
    memcpy(in, data, size);
    buf_init(&out, 0);
    buf_puts(&out, "keep\n");
    int n = decode_ngsild(in, size, "id", 1700000000000, &out, why, sizeof(why));
    if (n <= 0) {
        if (out.len != 5 || memcmp(out.p, "keep\n", 5) || !why[0])
            abort();
    } else {
        static struct lp_parser p;
        static struct lp_line ln;
        char err[128];
        int lines = 0, rc;
        lp_init(&p, out.p + 5, out.len - 5);
        while ((rc = lp_next(&p, &ln, err, sizeof(err))) != 0) {
            if (rc < 0 || ln.nfields == 0 || ln.ntags != 1 || !ln.has_ts)
                abort();
            if (ln.tags[0].klen != 2 || memcmp(ln.tags[0].key, "id", 2))
                abort();
            lines++;
        }
        if (lines != n)
            abort();
    }
    buf_release(&out);
    free(in);
    return 0;
}
