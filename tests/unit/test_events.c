/* Unit tests for the event bus (obs/events): subscribe/unsubscribe (also during an emit), the
 * JSON form of each field and its escaping, and the JSON log: with [log] format = "json" every
 * log line and every event is one JSON object on stderr. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "obs/events.h"
#include "obs/evstate.h"
#include "util/buf.h"
#include "util/json.h"

struct rec {
	int n;
	enum ev_type last;
	int64_t time_us;
	char reason[64];
};

static void on_ev(void *arg, const struct ev *e)
{
	struct rec *r = arg;
	r->n++;
	r->last = e->type;
	r->time_us = e->time_us;
	snprintf(r->reason, sizeof(r->reason), "%s", e->reason ? e->reason : "");
}

static void *g_self_arg;
static void on_ev_unsub_self(void *arg, const struct ev *e)
{
	on_ev(arg, e);
	ev_unsubscribe(on_ev_unsub_self, g_self_arg);
}

static int teardown(void **state)
{
	(void)state;
	ev_reset();
	return 0;
}

static void test_subscribe_emit(void **state)
{
	(void)state;
	struct rec a = {0}, b = {0};
	assert_int_equal(ev_subscribe(on_ev, &a), 0);
	assert_int_equal(ev_subscribe(on_ev, &a), 0); /* the same pair twice: one subscription */
	assert_int_equal(ev_subscribe(on_ev, &b), 0);
	ev_emit(&(struct ev){.type = EV_RELOAD_REQUESTED, .reason = "signal", .duration_us = -1});
	assert_int_equal(a.n, 1);
	assert_int_equal(b.n, 1);
	assert_int_equal(a.last, EV_RELOAD_REQUESTED);
	assert_string_equal(a.reason, "signal");
	assert_true(a.time_us > 1700000000LL * 1000000); /* filled in: wall clock */
	ev_emit(&(struct ev){.type = EV_GEN_STATE, .time_us = 42, .duration_us = -1});
	assert_int_equal(a.time_us, 42); /* kept when given */
	ev_unsubscribe(on_ev, &a);
	ev_emit(&(struct ev){.type = EV_BUILD_STARTED, .duration_us = -1});
	assert_int_equal(a.n, 2);
	assert_int_equal(b.n, 3);
	assert_int_equal(b.last, EV_BUILD_STARTED);
}

static void test_unsubscribe_during_emit(void **state)
{
	(void)state;
	struct rec self = {0}, other = {0};
	g_self_arg = &self;
	assert_int_equal(ev_subscribe(on_ev_unsub_self, &self), 0);
	assert_int_equal(ev_subscribe(on_ev, &other), 0);
	ev_emit(&(struct ev){.type = EV_CRASH_RESTART, .duration_us = -1});
	ev_emit(&(struct ev){.type = EV_CRASH_RESTART, .duration_us = -1});
	assert_int_equal(self.n, 1);  /* gone after its first event */
	assert_int_equal(other.n, 2); /* the one after it still saw both */
}

static void test_type_names(void **state)
{
	(void)state;
	for (int t = 0; t < EV_TYPE_COUNT; t++)
		assert_string_not_equal(ev_type_name((enum ev_type)t), "unknown");
	assert_string_equal(ev_type_name(EV_RELOAD_SUCCEEDED), "reload_succeeded");
	assert_string_equal(ev_type_name(EV_TYPE_COUNT), "unknown");
}

static void json_of(const struct ev *e, char *out, size_t n)
{
	struct buf b = BUF_INIT;
	ev_to_json(e, &b);
	snprintf(out, n, "%s", buf_cstr(&b));
	buf_release(&b);
}

static void test_to_json_fields(void **state)
{
	(void)state;
	char s[512];
	/* 2026-12-04T13:00:00.123456Z */
	int64_t t = 1796389200LL * 1000000 + 123456;
	json_of(&(struct ev){.type = EV_RELOAD_SUCCEEDED,
			     .time_us = t,
			     .gen = 3,
			     .pid = 77,
			     .duration_us = 412500},
		s, sizeof(s));
	assert_string_equal(s,
			    "{\"time\":\"2026-12-04T13:00:00.123Z\",\"event\":\"reload_succeeded\","
			    "\"generation\":3,\"pid\":77,\"duration_ms\":412.500}");
	json_of(&(struct ev){.type = EV_GEN_STATE,
			     .time_us = t,
			     .gen = 2,
			     .pid = 9,
			     .state = "draining",
			     .duration_us = -1},
		s, sizeof(s));
	assert_string_equal(s, "{\"time\":\"2026-12-04T13:00:00.123Z\",\"event\":\"gen_state\","
			       "\"generation\":2,\"pid\":9,\"state\":\"draining\"}");
	json_of(&(struct ev){.type = EV_FILE_GROUP,
			     .time_us = t,
			     .group = "nginx",
			     .result = "rejected",
			     .reason = "check failed",
			     .duration_us = -1},
		s, sizeof(s));
	assert_string_equal(s, "{\"time\":\"2026-12-04T13:00:00.123Z\",\"event\":\"file_group\","
			       "\"group\":\"nginx\",\"result\":\"rejected\",\"reason\":\"check "
			       "failed\"}");
	json_of(&(struct ev){.type = EV_TLS_CERT,
			     .time_us = t,
			     .group = "web",
			     .not_after = 1796389200,
			     .duration_us = -1},
		s, sizeof(s));
	assert_string_equal(s, "{\"time\":\"2026-12-04T13:00:00.123Z\",\"event\":\"tls_cert\","
			       "\"group\":\"web\",\"not_after\":1796389200,"
			       "\"not_after_time\":\"2026-12-04T13:00:00.000Z\"}");
	json_of(&(struct ev){.type = EV_ROLLOUT_STEP,
			     .time_us = t,
			     .gen = 4,
			     .weight = 25,
			     .duration_us = -1},
		s, sizeof(s));
	assert_string_equal(s, "{\"time\":\"2026-12-04T13:00:00.123Z\",\"event\":\"rollout_step\","
			       "\"generation\":4,\"weight\":25}");
	/* duration -1: left out */
	json_of(&(struct ev){.type = EV_BUILD_FAILED, .time_us = t, .duration_us = -1}, s,
		sizeof(s));
	assert_null(strstr(s, "duration"));
}

static void test_to_json_escaping(void **state)
{
	(void)state;
	char s[512];
	json_of(&(struct ev){.type = EV_BUILD_FAILED,
			     .time_us = 1,
			     .reason = "main.go:3: \"x\" \\ undefined\n\tat\r\x1b[31m\x7f",
			     .duration_us = 0},
		s, sizeof(s));
	assert_non_null(strstr(s, "\"reason\":\"main.go:3: \\\"x\\\" \\\\ undefined\\n\\tat\\r"
				  "\\u001b[31m\\u007f\""));
	/* valid UTF-8 kept, invalid bytes replaced: the line stays valid JSON */
	struct buf b = BUF_INIT;
	json_str(&b, "caf\xc3\xa9 \xff\xc3 \xe2\x82\xac \xed\xa0\x80 \xf0\x9f\x98\x80");
	assert_string_equal(buf_cstr(&b), "\"caf\xc3\xa9 \\ufffd\\ufffd \xe2\x82\xac "
					  "\\ufffd\\ufffd\\ufffd \xf0\x9f\x98\x80\"");
	buf_reset(&b);
	json_str(&b, NULL);
	assert_string_equal(buf_cstr(&b), "null");
	buf_release(&b);
}

/* stderr into a pipe; returns what was written by fn */
static char *capture_stderr(void (*fn)(void))
{
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	int saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(p[1], 2), 2);
	close(p[1]);
	fn();
	assert_int_equal(dup2(saved, 2), 2); /* the last write end: EOF for the reader */
	close(saved);
	struct buf b = BUF_INIT;
	char chunk[4096];
	ssize_t n;
	while ((n = read(p[0], chunk, sizeof(chunk))) > 0)
		buf_append(&b, chunk, (size_t)n);
	close(p[0]);
	return buf_detach(&b);
}

static void log_some(void)
{
	log_info("reloading \"app\"\n(requested)");
	assert_int_equal(ev_log_start(), 0);
	ev_emit(&(struct ev){.type = EV_RELOAD_FAILED,
			     .gen = 2,
			     .reason = "exited with 1",
			     .duration_us = 1500});
}

static void test_json_log(void **state)
{
	(void)state;
	log_setup(LOG_INFO, LOG_COLOR_NEVER, true, false);
	assert_true(log_json());
	char *out = capture_stderr(log_some);
	log_setup(LOG_INFO, LOG_COLOR_AUTO, false, false);
	/* two lines, each one JSON object */
	char *nl = strchr(out, '\n');
	assert_non_null(nl);
	*nl = '\0';
	char *second = nl + 1;
	assert_true(strncmp(out, "{\"time\":\"20", 11) == 0);
	assert_non_null(strstr(out, "Z\",\"level\":\"info\",\"msg\":\"reloading \\\"app\\\"\\n"
				    "(requested)\"}"));
	assert_true(strncmp(second, "{\"time\":\"20", 11) == 0);
	assert_non_null(strstr(second, "\"event\":\"reload_failed\",\"generation\":2,"
				       "\"duration_ms\":1.500,\"reason\":\"exited with 1\"}\n"));
	assert_null(strchr(strchr(second, '\n') + 1, '\n'));
	free(out);
}

static void log_text_event(void)
{
	assert_int_equal(ev_log_start(), 0);
	ev_emit(&(struct ev){.type = EV_BUILD_STARTED, .duration_us = -1});
}

static void test_text_log_has_no_events(void **state)
{
	(void)state;
	log_setup(LOG_INFO, LOG_COLOR_NEVER, false, false);
	assert_false(log_json());
	char *out = capture_stderr(log_text_event);
	assert_string_equal(out, "");
	free(out);
}

/* ---- evstate: the snapshot a client gets on connect ---- */

struct snap {
	char lines[64][512];
	int n;
};

static void on_snap(void *arg, const struct ev *e)
{
	struct snap *sn = arg;
	char s[512];
	json_of(e, s, sizeof(s));
	/* drop the time: {"time":"...", */
	const char *p = strstr(s, "\"event\"");
	snprintf(sn->lines[sn->n++], sizeof(sn->lines[0]), "%s", p ? p : s);
}

static void emit_state(unsigned gen, int pid, const char *state)
{
	ev_emit(&(struct ev){
		.type = EV_GEN_STATE, .gen = gen, .pid = pid, .state = state, .duration_us = -1});
}

static void test_evstate_snapshot(void **state)
{
	(void)state;
	struct evstate *st = evstate_new();
	assert_non_null(st);
	struct snap sn = {0};
	evstate_snapshot(st, on_snap, &sn);
	assert_int_equal(sn.n, 0); /* nothing happened yet */

	emit_state(1, 10, "starting");
	emit_state(1, 10, "ready");
	char group[32] = "web";
	ev_emit(&(struct ev){
		.type = EV_TLS_CERT, .group = group, .not_after = 1800000000, .duration_us = -1});
	strcpy(group, "XXX"); /* the state keeps its own copy */
	ev_emit(&(struct ev){.type = EV_RELOAD_REQUESTED, .reason = "SIGHUP", .duration_us = -1});
	emit_state(2, 20, "starting");
	emit_state(2, 20, "ready");
	emit_state(1, 10, "draining");
	ev_emit(&(struct ev){.type = EV_RELOAD_SUCCEEDED, .gen = 2, .duration_us = 5000});
	ev_emit(&(struct ev){.type = EV_STATS,
			     .gen = 2,
			     .weight = 100,
			     .rps = 3,
			     .p99_us = 1500,
			     .duration_us = -1});
	ev_emit(&(struct ev){
		.type = EV_STATS, .gen = 9, .rps = 1, .duration_us = -1}); /* unknown */
	emit_state(1, 10, "exited");

	evstate_snapshot(st, on_snap, &sn);
	assert_int_equal(sn.n, 4);
	assert_string_equal(sn.lines[0], "\"event\":\"tls_cert\",\"group\":\"web\","
					 "\"not_after\":1800000000,"
					 "\"not_after_time\":\"2027-01-15T08:00:00.000Z\"}");
	assert_string_equal(
		sn.lines[1],
		"\"event\":\"reload_succeeded\",\"generation\":2,\"duration_ms\":5.000}");
	assert_string_equal(sn.lines[2], "\"event\":\"gen_state\",\"generation\":2,\"pid\":20,"
					 "\"state\":\"ready\"}");
	assert_string_equal(sn.lines[3], "\"event\":\"stats\",\"generation\":2,\"weight\":100,"
					 "\"rps\":3.00,\"errors\":0.0000,\"p99_ms\":1.500}");
	evstate_free(st);
	/* unsubscribed: emitting is harmless */
	emit_state(3, 30, "starting");
}

static void test_evstate_keeps_the_last_reloads(void **state)
{
	(void)state;
	struct evstate *st = evstate_new();
	for (unsigned i = 1; i <= EVSTATE_RELOADS + 3; i++)
		ev_emit(&(struct ev){.type = i % 2 ? EV_RELOAD_FAILED : EV_RELOAD_SUCCEEDED,
				     .gen = i,
				     .reason = i % 2 ? "exited with 1" : NULL,
				     .duration_us = 1000});
	struct snap sn = {0};
	evstate_snapshot(st, on_snap, &sn);
	assert_int_equal(sn.n, EVSTATE_RELOADS);
	assert_non_null(strstr(sn.lines[0], "\"generation\":4,")); /* oldest kept first */
	assert_non_null(strstr(sn.lines[EVSTATE_RELOADS - 1], "\"generation\":13,"));
	evstate_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_subscribe_emit, teardown),
		cmocka_unit_test_teardown(test_unsubscribe_during_emit, teardown),
		cmocka_unit_test_teardown(test_type_names, teardown),
		cmocka_unit_test_teardown(test_to_json_fields, teardown),
		cmocka_unit_test_teardown(test_to_json_escaping, teardown),
		cmocka_unit_test_teardown(test_json_log, teardown),
		cmocka_unit_test_teardown(test_text_log_has_no_events, teardown),
		cmocka_unit_test_teardown(test_evstate_snapshot, teardown),
		cmocka_unit_test_teardown(test_evstate_keeps_the_last_reloads, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
