/* Unit tests for etcd's JSON gateway messages and the watch-stream decoder, on messages as
 * etcd 3.4.23 writes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source/etcd_proto.h"
#include "source/etcd_stream.h"

static const char created[] =
	"{\"result\":{\"header\":{\"cluster_id\":\"14841639068965178418\",\"revision\":\"3\","
	"\"raft_term\":\"2\"},\"created\":true}}\n";
static const char events[] =
	"{\"result\":{\"header\":{\"revision\":\"5\"},\"events\":[{\"kv\":{\"key\":\"L2EveA==\","
	"\"create_revision\":\"2\",\"mod_revision\":\"4\",\"version\":\"2\",\"value\":"
	"\"aGVsbG8y\"}},{\"type\":\"DELETE\",\"kv\":{\"key\":\"L2Evew==\",\"mod_revision\":"
	"\"5\"}}]}}\n";
static const char compacted[] =
	"{\"result\":{\"header\":{\"raft_term\":\"2\"},\"canceled\":true,\"compact_revision\":"
	"\"3\"}}\n";
static const char error[] =
	"{\"error\":{\"grpc_code\":14,\"http_code\":503,\"message\":\"etcdserver:"
	" no leader\",\"http_status\":\"Service Unavailable\"}}";

struct seen {
	int n;
	enum etcd_watch_kind kinds[8];
	int64_t revs[8];
	char last_value[64];
	int ndeleted;
};

static int collect(const struct etcd_watch_msg *m, void *data)
{
	struct seen *s = data;
	if (s->n < 8) {
		s->kinds[s->n] = m->kind;
		s->revs[s->n] = m->kind == ETCD_WATCH_COMPACTED ? m->compact_revision : m->revision;
	}
	s->n++;
	for (size_t i = 0; i < m->nevents; i++) {
		if (m->events[i].deleted)
			s->ndeleted++;
		else
			snprintf(s->last_value, sizeof(s->last_value), "%s=%s", m->events[i].key,
				 m->events[i].value);
	}
	return 0;
}

static void test_stream_any_split(void **state)
{
	(void)state;
	char all[2048];
	snprintf(all, sizeof(all), "%s%s\r\n%s%s", created, events, compacted, error);
	size_t n = strlen(all);
	for (size_t cut = 0; cut <= n; cut++) {
		struct etcd_stream st;
		struct seen s = {0};
		etcd_stream_init(&st);
		char *err = NULL;
		assert_int_equal(etcd_stream_feed(&st, all, cut, collect, &s, &err), 0);
		assert_int_equal(etcd_stream_feed(&st, all + cut, n - cut, collect, &s, &err), 0);
		etcd_stream_release(&st);
		assert_int_equal(s.n, 4);
		assert_int_equal(s.kinds[0], ETCD_WATCH_CREATED);
		assert_int_equal(s.revs[0], 3);
		assert_int_equal(s.kinds[1], ETCD_WATCH_EVENTS);
		assert_int_equal(s.revs[1], 5);
		assert_string_equal(s.last_value, "/a/x=hello2");
		assert_int_equal(s.ndeleted, 1);
		assert_int_equal(s.kinds[2], ETCD_WATCH_COMPACTED);
		assert_int_equal(s.revs[2], 3);
		assert_int_equal(s.kinds[3], ETCD_WATCH_ERROR);
	}
}

static void test_stream_garbage(void **state)
{
	(void)state;
	static const char bad_key[] = "{\"result\":{\"events\":[{\"kv\":{\"key\":\"!!\"}}]}}";
	const char *cases[] = {"x", "{]", "{\"result\":1}", bad_key, "[1]"};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct etcd_stream st;
		etcd_stream_init(&st);
		char *err = NULL;
		assert_int_equal(etcd_stream_feed(&st, cases[i], strlen(cases[i]), collect,
						  &(struct seen){0}, &err),
				 -EINVAL);
		assert_non_null(err);
		free(err);
		etcd_stream_release(&st);
	}
}

static void test_range(void **state)
{
	(void)state;
	const char *body = "{\"header\":{\"revision\":\"3\"},\"kvs\":[{\"key\":\"L2EveA==\","
			   "\"mod_revision\":\"3\",\"value\":\"aGVsbG8y\"},{\"key\":\"L2Evew==\"}],"
			   "\"count\":\"2\"}";
	struct etcd_range r;
	assert_int_equal(etcd_range_parse(body, strlen(body), &r, NULL), 0);
	assert_int_equal(r.revision, 3);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.kvs[0].key, "/a/x");
	assert_string_equal(r.kvs[0].value, "hello2");
	assert_string_equal(r.kvs[1].value, ""); /* an empty value is left out */
	etcd_range_release(&r);
	body = "{\"header\":{\"revision\":\"1\"}}";
	assert_int_equal(etcd_range_parse(body, strlen(body), &r, NULL), 0);
	assert_int_equal(r.n, 0);
	etcd_range_release(&r);
	char *err = NULL;
	body = "{\"error\":\"x\",\"code\":3}";
	assert_int_equal(etcd_range_parse(body, strlen(body), &r, &err), -EINVAL);
	free(err);
	char *m = etcd_error_parse(body, strlen(body));
	assert_string_equal(m, "x");
	free(m);
}

static void test_bodies(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	etcd_range_body(&b, "/a/", true);
	assert_string_equal(buf_cstr(&b), "{\"key\":\"L2Ev\",\"range_end\":\"L2Ew\"}");
	buf_reset(&b);
	etcd_watch_body(&b, "/a/x", false, 4);
	assert_string_equal(buf_cstr(&b), "{\"create_request\":{\"key\":\"L2EveA==\","
					  "\"start_revision\":\"4\",\"progress_notify\":true}}");
	buf_reset(&b);
	etcd_range_body(&b, "\xff", true);
	assert_string_equal(buf_cstr(&b), "{\"key\":\"/w==\",\"range_end\":\"AA==\"}");
	buf_reset(&b);
	etcd_auth_body(&b, "ro\"ot", "p\\w");
	assert_string_equal(buf_cstr(&b), "{\"name\":\"ro\\\"ot\",\"password\":\"p\\\\w\"}");
	buf_release(&b);
	const char *a = "{\"header\":{},\"token\":\"abc.12\"}";
	char *tok = etcd_auth_parse(a, strlen(a), NULL);
	assert_string_equal(tok, "abc.12");
	free(tok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_any_split),
		cmocka_unit_test(test_stream_garbage),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_bodies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
