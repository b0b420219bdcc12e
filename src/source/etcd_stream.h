/* The watch stream's decoder, pure: bytes of the HTTP body (the chunk payloads, framing already
 * stripped by h1_body_step) in, watch messages out. The gateway writes one JSON object per
 * message, each followed by a newline, but chunk boundaries fall anywhere: the decoder finds
 * each object's end itself (brace depth outside strings) and parses it with etcd_watch_parse().
 * An object over ETCD_STREAM_MAX bytes, or bytes that are no JSON object, are an error: the
 * caller drops the connection and resumes from the last revision it saw. Fuzzed:
 * fuzz/fuzz_etcd_stream.c.
 *
 * Ownership: the decoder owns its buffer (etcd_stream_release); each message handed to the
 * callback is released by the decoder after the callback returns. */
#ifndef BATON_ETCD_STREAM_H
#define BATON_ETCD_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "source/etcd_proto.h"
#include "util/buf.h"

#define ETCD_STREAM_MAX (8u << 20)

struct etcd_stream {
	struct buf acc; /* the current object's bytes so far */
	int depth;
	bool in_str, esc;
};

/* Return non-zero to stop decoding (etcd_stream_feed then returns that value). */
typedef int (*etcd_stream_cb)(const struct etcd_watch_msg *m, void *data);

void etcd_stream_init(struct etcd_stream *s);
void etcd_stream_release(struct etcd_stream *s);
/* Decode p[0..n): 0, the callback's non-zero value, or -EINVAL with a fresh message in *err
 * (err may be NULL); after an error the decoder must be reset (etcd_stream_release + init). */
int etcd_stream_feed(struct etcd_stream *s, const char *p, size_t n, etcd_stream_cb cb, void *data,
		     char **err);

#endif
