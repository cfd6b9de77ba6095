/*
** fuzz/fuzz_mapping.c: libFuzzer target for the import mapping parser (ingest/import.c,
** import_mapping_parse). The input is the mapping text.
** Checks: a refused mapping always explains itself (non-empty error text), an accepted one frees
** cleanly, and parsing the same bytes twice gives the same verdict.
*/
#include "ingest/import.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512], err2[512];
    struct import_mapping *m = NULL, *m2 = NULL;
    err[0] = err2[0] = '\0';
    int rc = import_mapping_parse((const char *)data, size, &m, err, sizeof(err));
    int rc2 = import_mapping_parse((const char *)data, size, &m2, err2, sizeof(err2));
    if (rc != rc2)
        abort();
    if (rc) {
        if (!err[0] || strcmp(err, err2) != 0)
            abort();
    } else {
        if (!m || !m2)
            abort();
    }
    import_mapping_free(m);
    import_mapping_free(m2);
    return 0;
}
