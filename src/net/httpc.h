/*
** net/httpc.h: a minimal blocking HTTP/1.1 client for the command line (`vigie query --server`).
** Owns: nothing beyond the call. Plain HTTP only (the CLI talks to a local or proxied server).
*/
#ifndef VG_NET_HTTPC_H
#define VG_NET_HTTPC_H

#include "core/buf.h"

/* GET url ("http://host:port/path?query"); optional bearer key. Fills *status and appends the
** body to out. Returns 0 or VG_EIO / VG_EINVAL with a message in err. */
int httpc_get(const char *url, const char *key, int *status, struct buf *out, char *err,
              size_t cap);

#endif
