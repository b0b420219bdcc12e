/* Unit tests for the status document: exact JSON and text renderings, JSON validity (checked
 * by a small strict JSON parser below) with hostile strings, and the empty state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctlproto.h"
#include "ctl/ctlstatus.h"
#include "util/buf.h"

/* ---- a strict RFC 8259 checker: one value, nothing after it but whitespace ---- */

struct jp {
	const char *s;
	size_t n, i;
	int depth;
};

static bool jp_value(struct jp *p);

static void jp_ws(struct jp *p)
{
	while (p->i < p->n && strchr(" \t\r\n", p->s[p->i]))
		p->i++;
}

static bool jp_lit(struct jp *p, const char *lit)
{
	size_t k = strlen(lit);
	if (p->n - p->i < k || memcmp(p->s + p->i, lit, k) != 0)
		return false;
	p->i += k;
	return true;
}

static bool jp_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool jp_string(struct jp *p)
{
	if (p->i >= p->n || p->s[p->i] != '"')
		return false;
	p->i++;
	while (p->i < p->n) {
		unsigned char c = (unsigned char)p->s[p->i];
		if (c == '"') {
			p->i++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			p->i++;
			if (p->i >= p->n)
				return false;
			char e = p->s[p->i];
			if (e == 'u') {
				if (p->n - p->i < 5)
					return false;
				for (int k = 1; k <= 4; k++)
					if (!jp_hex(p->s[p->i + k]))
						return false;
				p->i += 5;
				continue;
			}
			if (!strchr("\"\\/bfnrt", e))
				return false;
			p->i++;
			continue;
		}
		size_t k = ctlproto_utf8_seq(p->s + p->i, p->n - p->i);
		if (!k)
			return false;
		p->i += k;
	}
	return false;
}

static bool jp_digits(struct jp *p)
{
	size_t start = p->i;
	while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
		p->i++;
	return p->i > start;
}

static bool jp_number(struct jp *p)
{
	if (p->i < p->n && p->s[p->i] == '-')
		p->i++;
	if (p->i < p->n && p->s[p->i] == '0')
		p->i++;
	else if (!jp_digits(p))
		return false;
	if (p->i < p->n && p->s[p->i] == '.') {
		p->i++;
		if (!jp_digits(p))
			return false;
	}
	if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
		p->i++;
		if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
			p->i++;
		if (!jp_digits(p))
			return false;
	}
	return true;
}

static bool jp_container(struct jp *p, char close, bool object)
{
	p->i++;
	if (++p->depth > 64)
		return false;
	jp_ws(p);
	if (p->i < p->n && p->s[p->i] == close) {
		p->i++;
		p->depth--;
		return true;
	}
	for (;;) {
		jp_ws(p);
		if (object) {
			if (!jp_string(p))
				return false;
			jp_ws(p);
			if (p->i >= p->n || p->s[p->i] != ':')
				return false;
			p->i++;
			jp_ws(p);
		}
		if (!jp_value(p))
			return false;
		jp_ws(p);
		if (p->i >= p->n)
			return false;
		if (p->s[p->i] == ',') {
			p->i++;
			continue;
		}
		if (p->s[p->i] != close)
			return false;
		p->i++;
		p->depth--;
		return true;
	}
}

static bool jp_value(struct jp *p)
{
	jp_ws(p);
	if (p->i >= p->n)
		return false;
	switch (p->s[p->i]) {
	case '{':
		return jp_container(p, '}', true);
	case '[':
		return jp_container(p, ']', false);
	case '"':
		return jp_string(p);
	case 't':
		return jp_lit(p, "true");
	case 'f':
		return jp_lit(p, "false");
	case 'n':
		return jp_lit(p, "null");
	default:
		return jp_number(p);
	}
}

static bool json_valid(const char *s)
{
	struct jp p = {s, strlen(s), 0, 0};
	if (!jp_value(&p))
		return false;
	jp_ws(&p);
	return p.i == p.n;
}

static void test_checker(void **state)
{
	(void)state;
	assert_true(json_valid("{\"a\": [1, -2.5e3, true, false, null, \"x\\u00e9\\n\"]}"));
	assert_true(json_valid(" [] "));
	assert_false(json_valid("{\"a\": 1,}"));
	assert_false(json_valid("{\"a\" 1}"));
	assert_false(json_valid("[\"tab\there\"]"));
	assert_false(json_valid("[\"\\x\"]"));
	assert_false(json_valid("[01]"));
	assert_false(json_valid("[1] 2"));
	assert_false(json_valid("[\"\xff\"]"));
	assert_false(json_valid("{\"a\": tru}"));
}

/* ---- the documents ---- */

static const struct ctlstatus_gen gens[] = {
	{4, 901, "draining", 125000, 812, NULL},
	{5, 950, "ready", 3000, 1200, "127.0.0.1:8080 [::]:9090"},
	{6, 990, "starting", 200, -1, ""},
};
static const struct ctlstatus_listener listeners[] = {
	{.name = "http", .address = ":8080"},
	{.name = "https", .address = "[::1]:8443"},
};

static struct ctlstatus sample(void)
{
	struct ctlstatus st = {
		.version = "0.1.0",
		.pid = 812,
		.uptime_ms = 3723000,
		.serving = 5,
		.reloading = true,
		.crashes = 1,
		.gens = gens,
		.ngens = 3,
		.listeners = listeners,
		.nlisteners = 2,
		.last_reload = {.done = true,
				.ok = false,
				.reason = "generation 6 exited with status 1 before it was ready",
				.duration_ms = 1500,
				.at_unix_ms = 1714564800123,
				.ago_ms = 65000},
	};
	return st;
}

/* What sample() renders as JSON: one generation per line, pretty but compact. */
static const char sample_json[] =
	"{\n"
	"  \"version\": \"0.1.0\",\n"
	"  \"pid\": 812,\n"
	"  \"uptime_ms\": 3723000,\n"
	"  \"serving\": 5,\n"
	"  \"reloading\": true,\n"
	"  \"stopping\": false,\n"
	"  \"crashes\": 1,\n"
	"  \"generations\": [\n"
	"    {\"id\": 4, \"pid\": 901, \"state\": \"draining\", \"age_ms\": 125000, "
	"\"ready_ms\": 812},\n"
	"    {\"id\": 5, \"pid\": 950, \"state\": \"ready\", \"age_ms\": 3000, "
	"\"ready_ms\": 1200, \"holds\": [\"127.0.0.1:8080\", \"[::]:9090\"]},\n"
	"    {\"id\": 6, \"pid\": 990, \"state\": \"starting\", \"age_ms\": 200, "
	"\"ready_ms\": null}\n"
	"  ],\n"
	"  \"listeners\": [\n"
	"    {\"name\": \"http\", \"address\": \":8080\"},\n"
	"    {\"name\": \"https\", \"address\": \"[::1]:8443\"}\n"
	"  ],\n"
	"  \"last_reload\": {\"ok\": false, "
	"\"reason\": \"generation 6 exited with status 1 before it was ready\", "
	"\"duration_ms\": 1500, "
	"\"at\": \"2024-05-01T12:00:00.123Z\", "
	"\"ago_ms\": 65000}\n"
	"}\n";

static void test_json_exact(void **state)
{
	(void)state;
	struct ctlstatus st = sample();
	char *j = ctlstatus_json(&st);
	assert_string_equal(j, sample_json);
	assert_true(json_valid(j));
	free(j);
}

static void test_json_empty(void **state)
{
	(void)state;
	struct ctlstatus st = {.version = "0.1.0", .pid = 1};
	char *j = ctlstatus_json(&st);
	assert_string_equal(j, "{\n"
			       "  \"version\": \"0.1.0\",\n"
			       "  \"pid\": 1,\n"
			       "  \"uptime_ms\": 0,\n"
			       "  \"serving\": null,\n"
			       "  \"reloading\": false,\n"
			       "  \"stopping\": false,\n"
			       "  \"crashes\": 0,\n"
			       "  \"generations\": [],\n"
			       "  \"listeners\": [],\n"
			       "  \"last_reload\": null\n"
			       "}\n");
	assert_true(json_valid(j));
	free(j);

	/* a successful reload without a reason or a known time */
	st.last_reload = (struct ctlstatus_reload){.done = true, .ok = true, .duration_ms = 9};
	j = ctlstatus_json(&st);
	assert_non_null(strstr(j, "\"last_reload\": {\"ok\": true, \"reason\": null, "
				  "\"duration_ms\": 9, \"at\": null, \"ago_ms\": 0}"));
	assert_true(json_valid(j));
	free(j);
}

static void test_json_escaping(void **state)
{
	(void)state;
	static const char *const nasty[] = {
		"quote \" backslash \\ slash /",
		"newline\nreturn\rtab\tbell\a esc\033 del\x7f nul-free",
		"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		"bad \xff\xfe utf8 \xc3 cut",
		"surrogate \xed\xa0\x80 overlong \xc0\xaf",
		"\x01\x02\x1f",
		"",
	};
	for (size_t i = 0; i < sizeof(nasty) / sizeof(nasty[0]); i++) {
		struct ctlstatus_gen g = {1, 2, nasty[i], 3, 4, nasty[i]};
		struct ctlstatus_listener l = {.name = nasty[i], .address = nasty[i]};
		struct ctlstatus st = {.version = nasty[i],
				       .gens = &g,
				       .ngens = 1,
				       .listeners = &l,
				       .nlisteners = 1,
				       .last_reload = {.done = true, .reason = nasty[i]}};
		char *j = ctlstatus_json(&st);
		if (!json_valid(j))
			fail_msg("invalid JSON for string %zu:\n%s", i, j);
		/* and it survives the wire unchanged */
		struct buf b = BUF_INIT;
		ctlproto_encode_body(&b, j, strlen(j));
		struct ctlproto_respdec d;
		struct ctl_response r;
		size_t used;
		ctlproto_respdec_init(&d);
		assert_int_equal(ctlproto_respdec_feed(&d, b.p, b.len, &used, &r), 1);
		assert_string_equal(r.text, j);
		free(r.text);
		ctlproto_respdec_release(&d);
		buf_release(&b);

		char *t = ctlstatus_text(&st);
		for (const char *p = t; *p; p++)
			assert_true((unsigned char)*p >= 0x20 || *p == '\n');
		for (size_t k = 0; t[k];) {
			size_t n = ctlproto_utf8_seq(t + k, strlen(t + k));
			assert_true(n > 0);
			k += n;
		}
		free(j);
		free(t);
	}
	struct ctlstatus st = {.version = "v", .pid = 1};
	char *j = ctlstatus_json(&st);
	assert_true(json_valid(j));
	free(j);
	struct ctlstatus_gen g = {1, 2, "a\"b\\c\nd\x01", 3, -1, "a\"b \\c\nd\x01"};
	st.gens = &g;
	st.ngens = 1;
	j = ctlstatus_json(&st);
	assert_non_null(strstr(j, "\"state\": \"a\\\"b\\\\c\\nd\\u0001\""));
	free(j);
	g.state = "x\xff";
	j = ctlstatus_json(&st);
	assert_non_null(strstr(j, "\"state\": \"x\\ufffd\""));
	free(j);
}

/* FDSTORE=1 fds: listed by name once there are any */
static void test_fd_store(void **state)
{
	(void)state;
	const char *names[] = {"counter", "db \"main\""};
	struct ctlstatus st = {.version = "0.1.0", .pid = 1, .fd_store_max = 64};
	char *j = ctlstatus_json(&st);
	assert_null(strstr(j, "fd_store"));
	free(j);
	st.stored_fds = names;
	st.nstored = 2;
	j = ctlstatus_json(&st);
	assert_non_null(strstr(j, "  \"last_reload\": null,\n"
				  "  \"fd_store\": {\"count\": 2, \"max\": 64, \"names\": "
				  "[\"counter\", \"db \\\"main\\\"\"]}\n}\n"));
	assert_true(json_valid(j));
	free(j);
	char *t = ctlstatus_text(&st);
	assert_non_null(strstr(t, "crashes: 0\nfd store: 2 of 64 (counter, db \"main\")\n"));
	free(t);
}

/* A proxy listener: client connections, requests in flight and tunnels per generation. */
static void test_proxy_listener(void **state)
{
	(void)state;
	static const struct ctlstatus_backend be[] = {{4, 0, 1, true, 12.5, 0, 3.25, 100},
						      {5, 2, 0, false, 0, 50, -1, 0}};
	struct ctlstatus_listener ls[] = {
		{.name = "web",
		 .address = ":80",
		 .proxy = true,
		 .connections = 12,
		 .backends = be,
		 .nbackends = 2},
		{.name = "idle", .address = ":81", .proxy = true, .connections = 1},
		{.name = "plain", .address = ":82"},
	};
	struct ctlstatus st = {.version = "0.1.0", .pid = 1, .listeners = ls, .nlisteners = 3};
	char *j = ctlstatus_json(&st);
	assert_true(json_valid(j));
	assert_non_null(
		strstr(j, "    {\"name\": \"web\", \"address\": \":80\", \"proxy\": "
			  "{\"connections\": 12, \"generations\": [{\"id\": 4, \"inflight\": "
			  "0, \"tunnels\": 1, \"up\": true, \"weight\": 100, \"rps\": 12.500, "
			  "\"error_rate\": 0.000, \"p99_ms\": 3.250}, {\"id\": 5, \"inflight\": 2, "
			  "\"tunnels\": 0, \"up\": false, \"weight\": 0, \"rps\": 0.000, "
			  "\"error_rate\": 50.000, \"p99_ms\": null}]}},\n"));
	assert_non_null(strstr(j, "{\"name\": \"idle\", \"address\": \":81\", \"proxy\": "
				  "{\"connections\": 1, \"generations\": []}},\n"));
	assert_non_null(strstr(j, "{\"name\": \"plain\", \"address\": \":82\"}\n"));
	free(j);
	char *t = ctlstatus_text(&st);
	assert_non_null(strstr(t,
			       "listeners: web :80, idle :81, plain :82\n"
			       "proxy web: 12 connections · gen 4: 100% of requests, 12.5/s, 0.00% "
			       "errors, p99 3.2 ms, 0 in flight, 1 tunnel · gen 5 (down): 0% of "
			       "requests, 0.0/s, 50.00% errors, 2 in flight\n"
			       "proxy idle: 1 connection\n"
			       "\n"));
	free(t);
}

static void test_text_exact(void **state)
{
	(void)state;
	struct ctlstatus st = sample();
	char *t = ctlstatus_text(&st);
	assert_string_equal(t,
			    "baton 0.1.0 · pid 812 · up 1h2m3s · serving generation 5 · reload in "
			    "progress\n"
			    "listeners: http :8080, https [::1]:8443\n"
			    "\n"
			    "  GEN  PID  STATE     AGE    READY IN\n"
			    "  4    901  draining  2m5s   812ms\n"
			    "  5*   950  ready     3s     1s200ms\n"
			    "  6    990  starting  200ms  -\n"
			    "  generation 5 holds 127.0.0.1:8080 [::]:9090\n"
			    "\n"
			    "last reload: failed, 1m5s ago, took 1s500ms — generation 6 exited "
			    "with status 1 before it was ready\n"
			    "crashes: 1\n");
	free(t);

	struct ctlstatus e = {.version = "0.1.0", .pid = 1, .stopping = true};
	t = ctlstatus_text(&e);
	assert_string_equal(t, "baton 0.1.0 · pid 1 · up 0s · no generation serving · stopping\n"
			       "listeners: none\n"
			       "\n"
			       "  no generation running\n"
			       "\n"
			       "last reload: none\n"
			       "crashes: 0\n");
	free(t);

	/* long and odd cells stay aligned and clean */
	struct ctlstatus_gen g[] = {
		{123456, 4000000, "a-very-long-state-name-that-goes-on", 1, 2, NULL},
		{7, 8, "\xc3\xa9t\xc3\xa9\n", 0, -1, NULL}};
	e.gens = g;
	e.ngens = 2;
	e.stopping = false;
	e.last_reload = (struct ctlstatus_reload){.done = true,
						  .ok = true,
						  .duration_ms = 900,
						  .ago_ms = 1000,
						  .reason = "generation 7 serving"};
	t = ctlstatus_text(&e);
	assert_non_null(
		strstr(t, "  GEN     PID      STATE                     AGE  READY IN\n"
			  "  123456  4000000  a-very-long-state-name-t  1ms  2ms\n"
			  "  7       8        \xc3\xa9t\xc3\xa9?                      0s   -\n"));
	assert_non_null(strstr(t, "last reload: ok, 1s ago, took 900ms — generation 7 serving\n"));
	free(t);
}

int main(void)
{
	/* clang-format off */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checker),
		cmocka_unit_test(test_json_exact),
		cmocka_unit_test(test_json_empty),
		cmocka_unit_test(test_json_escaping),
		cmocka_unit_test(test_text_exact),
		cmocka_unit_test(test_proxy_listener),
		cmocka_unit_test(test_fd_store),
	};
	/* clang-format on */
	return cmocka_run_group_tests_name("ctlstatus", tests, NULL, NULL);
}
