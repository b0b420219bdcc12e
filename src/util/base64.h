/* Base64 (RFC 4648, standard alphabet, padded), as etcd's JSON gateway encodes keys and values.
 * Pure. */
#ifndef BATON_UTIL_BASE64_H
#define BATON_UTIL_BASE64_H

#include <stddef.h>

#include "util/buf.h"

/* Append the encoding of in[0..n) to out. */
void base64_encode(struct buf *out, const void *in, size_t n);
/* Append the decoding of s[0..n) to out: 0, or -EINVAL for anything but canonical padded
 * base64 (out then holds a partial result the caller discards). */
int base64_decode(struct buf *out, const char *s, size_t n);

#endif
