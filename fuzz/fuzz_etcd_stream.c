/* libFuzzer target for the etcd watch-stream decoder (and the range, auth and error answers): the
 * input is fed whole, then cut in two at a point taken from its first byte; both runs must agree on
 * the messages decoded (count, kinds, revisions, events) and on whether the stream is bad. Messages
 * are checked for sane fields. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source/etcd_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct tally {
	uint64_t n, h;
};

static int count(const struct etcd_watch_msg *m, void *arg)
{
	struct tally *t = arg;
	t->n++;
	t->h = t->h * 31 + (uint64_t)m->kind * 7 + (uint64_t)m->revision + m->nevents;
	if ((m->kind == ETCD_WATCH_CANCELED || m->kind == ETCD_WATCH_ERROR) && !m->reason)
		abort();
	for (size_t i = 0; i < m->nevents; i++) {
		const struct etcd_kv *kv = &m->events[i];
		if (!kv->key || kv->keylen == 0 || (!kv->deleted && !kv->value))
			abort();
		t->h = t->h * 31 + kv->keylen + kv->vlen;
	}
	return 0;
}

static int run(const char *p, size_t n, size_t cut, struct tally *t)
{
	struct etcd_stream s;
	etcd_stream_init(&s);
	char *err = NULL;
	int rc = etcd_stream_feed(&s, p, cut, count, t, &err);
	if (rc == 0)
		rc = etcd_stream_feed(&s, p + cut, n - cut, count, t, &err);
	if (rc < 0 && !err)
		abort();
	free(err);
	etcd_stream_release(&s);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	const char *p = (const char *)data + 1;
	size_t n = size - 1;
	size_t cut = n ? data[0] % (n + 1) : 0;
	/* the whole answers go through the same JSON: none may crash or leak either */
	struct etcd_range r;
	char *err = NULL;
	if (etcd_range_parse(p, n, &r, &err) == 0)
		etcd_range_release(&r);
	free(err);
	err = NULL;
	free(etcd_auth_parse(p, n, &err));
	free(err);
	free(etcd_error_parse(p, n));
	struct tally a = {0}, b = {0};
	int ra = run(p, n, n, &a);
	int rb = run(p, n, cut, &b);
	if ((ra < 0) != (rb < 0) || a.n != b.n || a.h != b.h) {
		fprintf(stderr, "fuzz_etcd_stream: whole and split runs differ\n");
		abort();
	}
	return 0;
}
