/*
** ingest/import.h: imports of files exported by business software (CSV), driven by a mapping
** file (JSON, parsed with jansson; format in docs/imports.md). A mapping declares, per kind of
** file (chosen by file-name pattern), the encoding, delimiter, header rows, decimal comma, the
** entity type and id, the time column(s) with their format and zone, the attribute columns with
** type and unit (or one name/value column pair to pivot), and a geometry column.
** Every good row becomes points through the line-protocol ingest path (one validation, one
** catalogue, one store); a row that fails (malformed CSV, a bad number or date, no id) goes to
** the quarantine with its raw text and reason. Re-importing a file writes the same points at
** the same instants: no duplicates.
** Owns: struct import_mapping; per call, the converted text and the line-protocol chunks.
** Borrows: struct ingest and struct meta.
** Thread: a mapping is read-only once loaded (share it); import_run from any thread.
*/
#ifndef VG_INGEST_IMPORT_H
#define VG_INGEST_IMPORT_H

#include "ingest/ingest.h"
#include "meta/meta.h"

#include <stddef.h>
#include <stdint.h>

struct import_mapping;

#define IMPORT_MAPPING_MAX (1u << 20) /* bytes of a mapping file */

/* Parse a mapping (JSON text). On error returns VG_EINVAL and a message naming the offending
** member in err. */
int import_mapping_parse(const char *text, size_t len, struct import_mapping **out, char *err,
                         size_t errcap);
int import_mapping_load(const char *path, struct import_mapping **out, char *err, size_t errcap);
void import_mapping_free(struct import_mapping *m);

struct import_result {
    uint64_t rows;        /* data rows read (header rows and blank lines excluded) */
    uint64_t stored;      /* rows whose values were stored */
    uint64_t quarantined; /* rows sent to the quarantine */
    uint64_t values;      /* values stored */
    int64_t elapsed_ms;
    char section[128];       /* the mapping section used */
    char first_errors[1024]; /* "line 3: reason; ..." (first few quarantined rows) */
};

/* Progress callback, called about every 100,000 rows and at the end: done/total in bytes. */
typedef void import_progress_fn(void *arg, uint64_t bytes_done, uint64_t bytes_total,
                                const struct import_result *so_far);

/* Import data[0..len) (the file's bytes), named file_name (its base name picks the mapping
** section), for tenant. source names the import in the quarantine and logs. Returns 0 when
** every good row is durable (bad rows quarantined); VG_ENOENT when no section matches the file
** name, VG_EINVAL when the file cannot be read as the section says (encoding, a missing
** column: err says which); a store error otherwise (nothing after the failing chunk stored).
** mapping_ref (the mapping's path or name, or NULL) is kept with every quarantined row, with
** the file name and the header rows, so that the row can be replayed (import_replay). */
int import_run(struct ingest *ig, struct meta *meta, const struct import_mapping *m,
               const char *mapping_ref, const char *tenant, const char *source,
               const char *file_name, const char *data, size_t len, import_progress_fn *progress,
               void *parg, struct import_result *res, char *err, size_t errcap);

/* The mapping reference of a quarantined row's context (format "csv"). */
int import_replay_ref(const char *context, char *ref, size_t cap);
/* Import one quarantined row again (raw: the row as UTF-8, context: its quarantine context)
** with mapping m (the stored reference's mapping, or a fixed one). res->stored = 1 when it
** passed; when it fails again it is quarantined again (the caller deletes the old row). */
int import_replay(struct ingest *ig, struct meta *meta, const struct import_mapping *m,
                  const char *tenant, const char *source, const char *context, const char *raw,
                  size_t raw_len, struct import_result *res, char *err, size_t errcap);

#endif
