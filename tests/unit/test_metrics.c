/* Unit tests for obs/metrics (the registry fed by events, the text format, histograms) and
 * obs/httpd (routes, errors, streams). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/loop.h"
#include "obs/events.h"
#include "obs/httpd.h"
#include "obs/metrics.h"
#include "testutil.h"

static const char *render(struct buf *b)
{
	buf_reset(b);
	metrics_render(b);
	return buf_cstr(b);
}

static bool has_line(const char *doc, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = doc; (p = strstr(p, line)); p++)
		if ((p == doc || p[-1] == '\n') && (p[n] == '\n' || !p[n]))
			return true;
	return false;
}

static void state(void *arg, struct metrics_state *out)
{
	(void)arg;
	static const struct metrics_gen g[] = {{3, 100, "ready", 90}, {4, 101, "starting", 10}};
	static const struct metrics_listener l[] = {{"web", 7}};
	out->serving = 3;
	out->gens = g;
	out->ngens = 2;
	out->listeners = l;
	out->nlisteners = 1;
	out->upstream_retries = 2;
}

static void test_events_become_metrics(void **st)
{
	(void)st;
	metrics_init(state, NULL);
	struct buf b = BUF_INIT;
	const char *d = render(&b);
	assert_true(has_line(d, "baton_reloads_total{result=\"success\"} 0"));
	assert_true(has_line(d, "baton_last_reload_successful 1"));
	ev_emit(&(struct ev){.type = EV_RELOAD_SUCCEEDED, .gen = 2, .duration_us = 300000});
	ev_emit(&(struct ev){.type = EV_RELOAD_SUCCEEDED, .gen = 3, .duration_us = 2000000});
	ev_emit(&(struct ev){.type = EV_RELOAD_FAILED, .gen = 4, .duration_us = 50000});
	ev_emit(&(struct ev){.type = EV_CRASH_RESTART, .gen = 3, .duration_us = -1});
	ev_emit(&(struct ev){.type = EV_FILE_GROUP,
			     .group = "a\"b\\c\nd",
			     .result = "rejected",
			     .duration_us = -1});
	ev_emit(&(struct ev){
		.type = EV_TLS_CERT, .group = "site", .not_after = 1800000000, .duration_us = -1});
	ev_emit(&(struct ev){.type = EV_BUILD_FAILED, .duration_us = 1500000});
	metrics_http_observe("web", 3, 200, 3000);
	metrics_http_observe("web", 3, 503, 20000);
	metrics_http_observe("web", 3, 0, 20000);
	d = render(&b);
	assert_true(has_line(d, "baton_reloads_total{result=\"success\"} 2"));
	assert_true(has_line(d, "baton_reloads_total{result=\"failed\"} 1"));
	assert_true(has_line(d, "baton_last_reload_successful 0"));
	assert_true(has_line(d, "baton_reload_duration_seconds_bucket{le=\"0.5\"} 2"));
	assert_true(has_line(d, "baton_reload_duration_seconds_bucket{le=\"2.5\"} 3"));
	assert_true(has_line(d, "baton_reload_duration_seconds_count 3"));
	const char *sum = strstr(d, "\nbaton_reload_duration_seconds_sum ");
	assert_non_null(sum);
	assert_true(fabs(strtod(sum + 35, NULL) - 2.35) < 1e-9);
	assert_true(has_line(d, "baton_crash_restarts_total 1"));
	assert_true(has_line(d, "baton_generation 3"));
	assert_true(has_line(
		d, "baton_generation_info{generation=\"4\",pid=\"101\",state=\"starting\"} 1"));
	assert_true(has_line(
		d, "baton_file_reloads_total{group=\"a\\\"b\\\\c\\nd\",result=\"rejected\"} 1"));
	assert_true(has_line(
		d, "baton_tls_cert_not_after_timestamp_seconds{group=\"site\"} 1800000000"));
	assert_true(has_line(d, "baton_builds_total{result=\"failed\"} 1"));
	assert_true(has_line(
		d, "baton_http_requests_total{listener=\"web\",generation=\"3\",code=\"2xx\"} 1"));
	assert_true(has_line(
		d, "baton_http_requests_total{listener=\"web\",generation=\"3\",code=\"5xx\"} 2"));
	assert_true(has_line(d, "baton_http_request_duration_seconds_bucket{listener=\"web\","
				"generation=\"3\",le=\"0.005\"} 1"));
	assert_true(has_line(
		d,
		"baton_http_request_duration_seconds_count{listener=\"web\",generation=\"3\"} 3"));
	assert_true(has_line(d, "baton_open_connections{listener=\"web\"} 7"));
	assert_true(has_line(d, "baton_upstream_retries_total 2"));
	assert_true(has_line(d, "baton_generation_weight{generation=\"4\"} 10"));
	assert_non_null(strstr(d, "\nprocess_open_fds "));
	assert_non_null(strstr(d, "\nprocess_resident_memory_bytes "));
	/* every family has HELP and TYPE, once */
	assert_non_null(strstr(d, "# TYPE baton_http_request_duration_seconds histogram\n"));
	assert_null(
		strstr(strstr(d, "# TYPE baton_reloads_total") + 1, "# TYPE baton_reloads_total"));
	buf_release(&b);
	metrics_reset();
	ev_emit(&(struct ev){.type = EV_RELOAD_SUCCEEDED, .duration_us = 1}); /* no subscriber */
}

static void test_histogram_cumulative(void **st)
{
	(void)st;
	static const double bounds[] = {0.1, 1, 10};
	struct metrics_hist h = {.bounds = bounds, .nbounds = 3};
	const double vals[] = {0.05, 0.1, 0.5, 1, 5, 50, 50};
	double sum = 0;
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		metrics_hist_observe(&h, vals[i]);
		sum += vals[i];
	}
	struct buf b = BUF_INIT;
	metrics_hist_render(&b, "x", "a=\"1\"", &h);
	const char *d = buf_cstr(&b);
	assert_true(has_line(d, "x_bucket{a=\"1\",le=\"0.1\"} 2")); /* le is inclusive */
	assert_true(has_line(d, "x_bucket{a=\"1\",le=\"1\"} 4"));
	assert_true(has_line(d, "x_bucket{a=\"1\",le=\"10\"} 5"));
	assert_true(has_line(d, "x_bucket{a=\"1\",le=\"+Inf\"} 7"));
	assert_true(has_line(d, "x_count{a=\"1\"} 7"));
	char want[64];
	snprintf(want, sizeof(want), "x_sum{a=\"1\"} %.2f", sum);
	assert_true(has_line(d, want));
	/* the buckets never decrease and +Inf equals _count */
	uint64_t prev = 0;
	for (const char *p = d; (p = strstr(p, "_bucket{")); p++) {
		uint64_t v = strtoull(strchr(strchr(p, '}'), ' ') + 1, NULL, 10);
		assert_true(v >= prev);
		prev = v;
	}
	assert_int_equal(prev, h.count);
	buf_release(&b);
}

/* ---- httpd ---- */

static void hello(void *arg, struct httpd_conn *c, const struct h1_head *req)
{
	(void)req;
	(*(int *)arg)++;
	httpd_respond(c, 200, "text/plain", "hi\n", 3);
}

static struct httpd_conn *streamc;
static int closed;
static void on_close(void *arg)
{
	(void)arg;
	closed++;
	streamc = NULL;
}

static void stream(void *arg, struct httpd_conn *c, const struct h1_head *req)
{
	(void)arg;
	(void)req;
	assert_int_equal(httpd_stream_begin(c, "text/event-stream", on_close, NULL), 0);
	assert_int_equal(httpd_stream_write(c, "data: 1\n\n", 9), 0);
	streamc = c;
}

static int dial(const char *bound)
{
	int port = atoi(strrchr(bound, ':') + 1);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	connect(fd, (struct sockaddr *)&a, sizeof(a));
	return fd;
}

struct rd {
	int fd;
	char buf[4096];
	size_t len;
	const char *want;
};

static bool got(void *arg)
{
	struct rd *r = arg;
	ssize_t n = read(r->fd, r->buf + r->len, sizeof(r->buf) - 1 - r->len);
	if (n > 0)
		r->len += (size_t)n;
	r->buf[r->len] = 0;
	return strstr(r->buf, r->want) != NULL;
}

static void exchange(struct loop *l, const char *bound, const char *req, const char *want)
{
	struct rd r = {.fd = dial(bound), .want = want};
	for (int i = 0; i < 100 && write(r.fd, req, strlen(req)) < 0; i++)
		loop_run_once(l, 10);
	tu_run_until(l, got, &r, 5000, want);
	close(r.fd);
}

static void test_httpd_routes_and_errors(void **st)
{
	(void)st;
	struct loop *l = loop_new();
	struct httpd *h = NULL;
	char *err = NULL;
	assert_int_equal(httpd_new(l, "127.0.0.1:0", NULL, &h, &err), 0);
	int hits = 0;
	assert_int_equal(httpd_route(h, "/hello", hello, &hits), 0);
	assert_int_equal(httpd_route(h, "/hello", hello, &hits), -EEXIST);
	assert_int_equal(httpd_route(h, "/events", stream, NULL), 0);
	const char *b = httpd_bound(h);
	exchange(l, b, "GET /hello?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", "\r\n\r\nhi\n");
	exchange(l, b, "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n", "Content-Length: 3\r\n");
	exchange(l, b, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 404");
	exchange(l, b, "DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 405");
	exchange(l, b, "GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab",
		 "HTTP/1.1 400");
	exchange(l, b, "GARBAGE\r\n\r\n", "HTTP/1.1 400");
	assert_int_equal(hits, 2);
	/* a stream: events arrive; a client that stops reading is dropped, reported from the loop
	 */
	struct rd r = {.fd = dial(b), .want = "data: 1\n\n"};
	const char req[] = "GET /events HTTP/1.1\r\nHost: x\r\n\r\n";
	for (int i = 0; i < 100 && write(r.fd, req, sizeof(req) - 1) < 0; i++)
		loop_run_once(l, 10);
	tu_run_until(l, got, &r, 5000, "the first event");
	assert_non_null(strstr(r.buf, "Content-Type: text/event-stream"));
	int small = 4096;
	setsockopt(r.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	static char chunk[64 * 1024];
	memset(chunk, 'x', sizeof(chunk));
	int rc = 0;
	for (int i = 0; i < 2000 && rc == 0 && streamc; i++) {
		rc = httpd_stream_write(streamc, chunk, sizeof(chunk));
		if (rc == 0)
			loop_run_once(l, 0);
	}
	assert_int_equal(rc, -EPIPE);
	assert_int_equal(closed, 0); /* not inside the write */
	while (!closed)
		assert_true(loop_run_once(l, 1000) >= 0);
	close(r.fd);
	httpd_free(h);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events_become_metrics),
		cmocka_unit_test(test_histogram_cumulative),
		cmocka_unit_test(test_httpd_routes_and_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
