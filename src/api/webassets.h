/*
** api/webassets.h: the web application's files embedded in the binary (web/dist/, bundled by
** web/build.mjs). The table is generated at build time by scripts/embed_web.c into
** $(BUILD)/gen/webassets.c; an empty table (no web build) is valid: the pages then answer 404.
** Owns: read-only data.
*/
#ifndef VG_API_WEBASSETS_H
#define VG_API_WEBASSETS_H

#include <stddef.h>

struct webasset {
    const char *path;          /* "/index.html", "/assets/app.js" */
    const char *ctype;         /* "text/html; charset=utf-8" */
    const unsigned char *data; /* the file */
    size_t len;
    const unsigned char *gz;   /* the file gzip-compressed (NULL when it would not be smaller) */
    size_t gzlen;
    const char *etag;          /* "\"<16 hex digits>\"" */
};

extern const struct webasset vg_webassets[];
extern const size_t vg_nwebassets;

#endif
