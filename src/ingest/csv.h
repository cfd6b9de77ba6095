/*
** ingest/csv.h: a CSV reader over a whole buffer (RFC 4180 plus the habits of business-software
** exports: any one-byte delimiter, a UTF-8 BOM, LF, CRLF or CR line ends, quoted fields holding
** delimiters, doubled quotes and line breaks), and the conversion of a file's bytes to UTF-8.
** Owns: the scratch area of unquoted fields (bounded by CSV_MAX_FIELD per field).
** Borrows: the input buffer, which must outlive the reader.
** Thread: one reader per thread; csv_to_utf8 is reentrant.
*/
#ifndef VG_INGEST_CSV_H
#define VG_INGEST_CSV_H

#include <stddef.h>
#include <stdint.h>

#define CSV_MAX_FIELDS 256         /* fields per record; more is a malformed record */
#define CSV_MAX_FIELD (64u << 10)  /* bytes per field; more is a malformed record */

struct csv {
    const char *p, *end;
    char sep;
    uint64_t lineno;   /* physical line where the current record starts (1-based) */
    uint64_t next_line;
    uint32_t nf;
    const char *f[CSV_MAX_FIELDS]; /* field i: f[i][0..fl[i]) (into the input or the scratch) */
    size_t fl[CSV_MAX_FIELDS];
    const char *raw;   /* the current record as it stands in the input (for quarantine) */
    size_t raw_len;    /* without its line end */
    char *scratch;
    size_t used, cap;
};

/* Start reading buf[0..len) (a UTF-8 BOM is skipped). */
void csv_init(struct csv *c, const char *buf, size_t len, char sep);
void csv_release(struct csv *c);

/* Next record: 1, with f/fl/nf, raw/raw_len and lineno set; 0 at the end of the input; -1 for a
** malformed record (an unclosed quote, text after a closing quote, more than CSV_MAX_FIELDS
** fields or a field over CSV_MAX_FIELD), whose raw/raw_len/lineno are set too and after which
** the reader is at the next record. Fields are valid until the next call. Blank lines are
** skipped (they are not records). */
int csv_next(struct csv *c);

/* Trim ASCII spaces and tabs on both sides of p[0..*n). */
void csv_trim(const char **p, size_t *n);

/* Index of the first field of the current record equal to name after trimming, or -1. */
int csv_find(const struct csv *c, const char *name);

/* Convert in[0..len) from encoding ("UTF-8", "ISO-8859-1", "LATIN1", "WINDOWS-1252", "CP1252",
** any name iconv knows) to UTF-8 in a new buffer *out (NUL-terminated, *olen bytes without the
** NUL; the caller frees it). UTF-8 input is validated, not copied through blindly. Returns 0,
** VG_EINVAL for an unknown encoding or bytes invalid in it (*bad_offset = where). */
int csv_to_utf8(const char *in, size_t len, const char *encoding, char **out, size_t *olen,
                size_t *bad_offset);

#endif
