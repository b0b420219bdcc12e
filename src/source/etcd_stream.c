#include "source/etcd_stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

void etcd_stream_init(struct etcd_stream *s)
{
	memset(s, 0, sizeof(*s));
}

void etcd_stream_release(struct etcd_stream *s)
{
	buf_release(&s->acc);
	memset(s, 0, sizeof(*s));
}

static int emit(struct etcd_stream *s, etcd_stream_cb cb, void *data, char **err)
{
	struct etcd_watch_msg m;
	char *perr = NULL;
	int rc = etcd_watch_parse(s->acc.p, s->acc.len, &m, &perr);
	buf_reset(&s->acc);
	if (rc < 0) {
		if (err)
			*err = xasprintf("bad watch message: %s", perr);
		free(perr);
		return -EINVAL;
	}
	rc = cb ? cb(&m, data) : 0;
	etcd_watch_msg_release(&m);
	return rc;
}

int etcd_stream_feed(struct etcd_stream *s, const char *p, size_t n, etcd_stream_cb cb, void *data,
		     char **err)
{
	size_t start = 0; /* first byte of p not yet in acc */
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (s->depth == 0) {
			if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
				start = i + 1;
				continue;
			}
			if (c != '{') {
				if (err)
					*err = xasprintf("watch stream: unexpected byte 0x%02x "
							 "between messages",
							 (unsigned char)c);
				return -EINVAL;
			}
			start = i;
			s->depth = 1;
			continue;
		}
		if (s->in_str) {
			if (s->esc)
				s->esc = false;
			else if (c == '\\')
				s->esc = true;
			else if (c == '"')
				s->in_str = false;
		} else if (c == '"') {
			s->in_str = true;
		} else if (c == '{' || c == '[') {
			s->depth++;
		} else if (c == '}' || c == ']') {
			s->depth--;
		}
		if (s->acc.len + (i + 1 - start) > ETCD_STREAM_MAX) {
			if (err)
				*err = xasprintf("watch stream: a message over %u bytes",
						 ETCD_STREAM_MAX);
			return -EINVAL;
		}
		if (s->depth == 0) {
			buf_append(&s->acc, p + start, i + 1 - start);
			start = i + 1;
			int rc = emit(s, cb, data, err);
			if (rc)
				return rc;
		}
	}
	if (s->depth > 0 && start < n)
		buf_append(&s->acc, p + start, n - start);
	return 0;
}
