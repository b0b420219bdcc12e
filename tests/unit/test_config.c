/* Unit tests for config: the schema's defaults, every kind of error with its exact line:col (and
 * all of them collected), air's format mapped onto baton's, discovery, and the round trip of
 * config_to_toml (what `baton check --print` writes loads back to the same config). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "config/config_impl.h"
#include "core/log.h"
#include "util/fileio.h"
#include "util/strv.h"
#include "util/xalloc.h"

#define MIN_RUN "[run]\ncmd = \"./app\"\n"

static void round_trip(const struct config *cfg);

static struct config *load_as(const char *text, bool air, struct config_diags *d,
			      struct strv *notes)
{
	return config_load_buffer(air ? ".air.toml" : "baton.toml", "/srv/app", text, strlen(text),
				  air, d, notes);
}

static struct config *load_ok(const char *text)
{
	struct config_diags d = {0};
	struct config *cfg = load_as(text, false, &d, NULL);
	if (!cfg) {
		config_diags_print(&d, 2);
		fail_msg("config rejected");
	}
	assert_int_equal(d.n, 0);
	config_diags_release(&d);
	return cfg;
}

/* The text must be rejected with exactly one error, at line:col, containing msg. */
static void one_error(const char *text, unsigned line, unsigned col, const char *msg)
{
	struct config_diags d = {0};
	struct config *cfg = load_as(text, false, &d, NULL);
	if (cfg || d.n != 1 || d.v[0].line != line || d.v[0].col != col ||
	    !strstr(d.v[0].msg, msg)) {
		config_diags_print(&d, 2);
		fail_msg("expected one error at %u:%u containing \"%s\" (got %d)", line, col, msg,
			 d.n);
	}
	assert_string_equal(d.v[0].file, "baton.toml");
	config_diags_release(&d);
}

static void test_defaults(void **state)
{
	(void)state;
	struct config *cfg = load_ok(MIN_RUN);
	assert_int_equal(cfg->source, CONFIG_SRC_FILE);
	assert_string_equal(cfg->dir, "/srv/app");
	assert_string_equal(cfg->root, "/srv/app");
	assert_string_equal(cfg->path, "/srv/app/baton.toml");
	assert_null(cfg->build.cmd);
	assert_int_equal(cfg->build.delay_ms, 0);
	assert_false(cfg->build.stop_on_error);
	assert_string_equal(cfg->run.cmd, "./app");
	assert_int_equal(cfg->run.args.n, 0);
	assert_int_equal(cfg->run.env.n, 0);
	assert_int_equal(cfg->run.ready, READY_NOTIFY);
	assert_int_equal(cfg->run.ready_timeout_ms, 30000);
	assert_int_equal(cfg->run.stop_signal, SIGTERM);
	assert_int_equal(cfg->run.stop_timeout_ms, 10000);
	assert_true(cfg->run.restart_on_crash);
	assert_int_equal(cfg->run.reload_signal, 0);
	assert_false(cfg->run.overlap);
	assert_int_equal(cfg->run.max_draining, 4);
	assert_int_equal(cfg->nlisten, 0);
	assert_int_equal(cfg->watch.paths.n, 1);
	assert_string_equal(cfg->watch.paths.v[0], ".");
	char *ext = strv_join(&cfg->watch.include_ext, ",");
	assert_string_equal(ext, "go,tmpl,tpl,html");
	free(ext);
	char *ex = strv_join(&cfg->watch.exclude_dir, ",");
	assert_string_equal(ex, ".git,.baton,vendor,node_modules,tmp,testdata");
	free(ex);
	assert_int_equal(cfg->watch.exclude.n, 1);
	assert_string_equal(cfg->watch.exclude.v[0], "*_test.go");
	assert_true(cfg->watch.gitignore);
	assert_int_equal(cfg->watch.debounce_ms, 50);
	assert_int_equal(cfg->watch.max_wait_ms, 1000);
	assert_int_equal(cfg->watch.fast_settle_ms, 5);
	assert_int_equal(cfg->watch.poll, POLL_AUTO);
	assert_int_equal(cfg->watch.poll_interval_ms, 500);
	assert_string_equal(cfg->control.socket, ".baton/baton.sock");
	assert_int_equal(cfg->log.color, LOG_COLOR_AUTO);
	assert_false(cfg->log.json);
	assert_false(cfg->log.timestamps);
	config_free(cfg);
}

static const char full[] = "root = \"srv/../web\"\n"
			   "[build]\n"
			   "cmd = \"go build -o .baton/bin/app .\"\n"
			   "delay = \"1m30s\"\n"
			   "[run]\n"
			   "cmd = \".baton/bin/app\"\n"
			   "args = [\"-v\", \"it's \\\"quoted\\\"\"]\n"
			   "env = { GIN_MODE = \"release\", WORKERS = 4, DEBUG = false }\n"
			   "env_file = \".env\"\n"
			   "ready = \"delay:1.5s\"\n"
			   "ready_timeout = \"45s\"\n"
			   "stop_signal = \"INT\"\n"
			   "stop_timeout = \"250ms\"\n"
			   "restart_on_crash = false\n"
			   "reload_signal = \"SIGHUP\"\n"
			   "overlap = true\n"
			   "max_draining = 2\n"
			   "[[listen]]\n"
			   "name = \"http\"\n"
			   "address = \":8080\"\n"
			   "forward = \"127.0.0.1:8081\"\n"
			   "[[listen]]\n"
			   "address = \"[::1]:8443\"\n"
			   "backlog = 128\n"
			   "[[listen]]\n"
			   "name = \"admin\"\n"
			   "address = \"unix:@baton-admin\"\n"
			   "[watch]\n"
			   "paths = [\"cmd\", \"internal\"]\n"
			   "include_ext = [\".go\", \"sql\"]\n"
			   "exclude_regex = [\"^gen/.*\\\\.go$\"]\n"
			   "gitignore = false\n"
			   "debounce = \"0\"\n"
			   "poll = \"2s\"\n"
			   "[[reload]]\n"
			   "name = \"config\"\n"
			   "paths = [\"config/app.yaml\"]\n"
			   "check = \"./bin/app --check-config\"\n"
			   "action = \"signal:SIGUSR2\"\n"
			   "[[reload]]\n"
			   "paths = [\"flags.json\"]\n"
			   "action = \"exec:kill -HUP $(cat app.pid)\"\n"
			   "[[tls]]\n"
			   "cert = \"certs/tls.crt\"\n"
			   "key = \"certs/tls.key\"\n"
			   "hostnames = [\"example.com\", \"*.example.com\"]\n"
			   "ca = \"certs/ca.pem\"\n"
			   "[control]\n"
			   "socket = \"/run/baton.sock\"\n"
			   "[log]\n"
			   "color = \"never\"\n"
			   "format = \"json\"\n"
			   "timestamps = true\n";

static void test_full(void **state)
{
	(void)state;
	struct config *cfg = load_ok(full);
	assert_string_equal(cfg->root, "/srv/app/web");
	assert_string_equal(cfg->build.cmd, "go build -o .baton/bin/app .");
	assert_int_equal(cfg->build.delay_ms, 90000);
	assert_int_equal(cfg->run.args.n, 2);
	assert_string_equal(cfg->run.args.v[1], "it's \"quoted\"");
	assert_int_equal(cfg->run.env.n, 3);
	assert_string_equal(cfg->run.env.v[0], "GIN_MODE=release");
	assert_string_equal(cfg->run.env.v[1], "WORKERS=4");
	assert_string_equal(cfg->run.env.v[2], "DEBUG=false");
	assert_int_equal(cfg->run.env_file.n, 1);
	assert_string_equal(cfg->run.env_file.v[0], ".env");
	assert_int_equal(cfg->run.ready, READY_DELAY);
	assert_int_equal(cfg->run.ready_delay_ms, 1500);
	assert_int_equal(cfg->run.ready_timeout_ms, 45000);
	assert_int_equal(cfg->run.stop_signal, SIGINT);
	assert_int_equal(cfg->run.stop_timeout_ms, 250);
	assert_false(cfg->run.restart_on_crash);
	assert_int_equal(cfg->run.reload_signal, SIGHUP);
	assert_true(cfg->run.overlap);
	assert_int_equal(cfg->run.max_draining, 2);
	assert_int_equal(cfg->nlisten, 3);
	assert_string_equal(cfg->listen[0].name, "http");
	assert_string_equal(cfg->listen[0].address, ":8080");
	assert_string_equal(cfg->listen[0].forward, "127.0.0.1:8081");
	assert_int_equal(cfg->listen[0].backlog, 4096);
	assert_string_equal(cfg->listen[1].name, "listen2");
	assert_null(cfg->listen[1].forward);
	assert_int_equal(cfg->listen[1].backlog, 128);
	assert_string_equal(cfg->listen[2].address, "unix:@baton-admin");
	assert_int_equal(cfg->watch.paths.n, 2);
	assert_string_equal(cfg->watch.include_ext.v[0], "go");
	assert_string_equal(cfg->watch.include_ext.v[1], "sql");
	assert_string_equal(cfg->watch.exclude_regex.v[0], "^gen/.*\\.go$");
	assert_false(cfg->watch.gitignore);
	assert_int_equal(cfg->watch.debounce_ms, 0);
	assert_int_equal(cfg->watch.poll, POLL_FORCE);
	assert_int_equal(cfg->watch.poll_interval_ms, 2000);
	assert_int_equal(cfg->nreload, 2);
	assert_string_equal(cfg->reload[0].name, "config");
	assert_string_equal(cfg->reload[0].check, "./bin/app --check-config");
	assert_int_equal(cfg->reload[0].check_timeout_ms, 30000);
	assert_int_equal(cfg->reload[0].action.kind, ACTION_SIGNAL);
	assert_int_equal(cfg->reload[0].action.signal, SIGUSR2);
	assert_string_equal(cfg->reload[1].name, "reload2");
	assert_null(cfg->reload[1].check);
	assert_int_equal(cfg->reload[1].action.kind, ACTION_EXEC);
	assert_string_equal(cfg->reload[1].action.cmd, "kill -HUP $(cat app.pid)");
	assert_int_equal(cfg->ntls, 1);
	assert_string_equal(cfg->tls[0].cert, "certs/tls.crt");
	assert_int_equal(cfg->tls[0].hostnames.n, 2);
	assert_string_equal(cfg->tls[0].ca, "certs/ca.pem");
	assert_int_equal(cfg->tls[0].action.kind, ACTION_RESTART);
	assert_string_equal(cfg->control.socket, "/run/baton.sock");
	assert_int_equal(cfg->log.color, LOG_COLOR_NEVER);
	assert_true(cfg->log.json);
	assert_true(cfg->log.timestamps);
	config_free(cfg);
}

static void test_values(void **state)
{
	(void)state;
	struct config *cfg = load_ok(MIN_RUN "ready = \"exec\"\n[watch]\npoll = \"off\"\n");
	assert_int_equal(cfg->run.ready, READY_EXEC);
	assert_int_equal(cfg->watch.poll, POLL_OFF);
	config_free(cfg);
	cfg = load_ok(MIN_RUN "ready = \"port\"\n[[listen]]\naddress = \":1\"\nforward = \":2\"\n"
			      "[build]\ncmd = \"\"\n");
	assert_int_equal(cfg->run.ready, READY_PORT);
	assert_null(cfg->build.cmd);
	config_free(cfg);
	/* inline arrays of tables are arrays of tables too */
	cfg = load_ok("listen = [{ address = \":1\" }, { address = \":2\" }]\n" MIN_RUN);
	assert_int_equal(cfg->nlisten, 2);
	assert_string_equal(cfg->listen[1].name, "listen2");
	config_free(cfg);
}

static void test_error_kinds(void **state)
{
	(void)state;
	/* wrong type */
	one_error(MIN_RUN "stop_timeout = 10\n", 3, 16,
		  "'run.stop_timeout': expected a duration string such as \"10s\", got integer");
	one_error(MIN_RUN "restart_on_crash = \"yes\"\n", 3, 20,
		  "'run.restart_on_crash': expected true or false, got string");
	one_error("[run]\ncmd = [\"./app\"]\n", 2, 7, "'run.cmd': expected a string, got array");
	one_error(MIN_RUN "[watch]\nexclude = [\"a\", 1]\n", 4, 17,
		  "'watch.exclude': expected an array of strings, got integer in the array");
	one_error(MIN_RUN "env = \"A=1\"\n", 3, 7, "'run.env': expected a table");
	/* unknown keys, with suggestions */
	one_error(MIN_RUN "[watch]\ndebouce = \"50ms\"\n", 4, 1,
		  "unknown key 'debouce' in [watch]; did you mean 'debounce'?");
	one_error(MIN_RUN "stop_timout = \"1s\"\n", 3, 1,
		  "unknown key 'stop_timout' in [run]; did you mean 'stop_timeout'?");
	one_error(MIN_RUN "debounce = \"1s\"\n", 3, 1,
		  "unknown key 'debounce' in [run]; did you mean 'debounce' in [watch]?");
	one_error(MIN_RUN "frobnicate = 1\n", 3, 1, "unknown key 'frobnicate' in [run]");
	one_error(MIN_RUN "[wacth]\n", 3, 2, "unknown table [wacth]; did you mean [watch]?");
	one_error(MIN_RUN "[[listne]]\naddress = \":1\"\n", 3, 3,
		  "unknown key 'listne'; did you mean [[listen]]?");
	one_error("rot = \".\"\n" MIN_RUN, 1, 1, "unknown key 'rot'; did you mean 'root'?");
	/* bad values */
	one_error(MIN_RUN "stop_timeout = \"10\"\n", 3, 16,
		  "'run.stop_timeout': invalid duration \"10\": missing or unknown unit");
	one_error(MIN_RUN "ready_timeout = \"0s\"\n", 3, 17,
		  "'run.ready_timeout': must be at least 1ms");
	one_error(MIN_RUN "stop_signal = \"SIGFOO\"\n", 3, 15,
		  "'run.stop_signal': unknown signal \"SIGFOO\"");
	one_error(MIN_RUN "ready = \"sometime\"\n", 3, 9,
		  "'run.ready': invalid value \"sometime\"");
	one_error(MIN_RUN "ready = \"delay:soon\"\n", 3, 9,
		  "'run.ready': invalid duration in \"delay:soon\"");
	one_error(MIN_RUN "max_draining = 0\n", 3, 16,
		  "'run.max_draining': 0 is out of range (1..64)");
	one_error(MIN_RUN "env = { LISTEN_FDS = \"3\" }\n", 3, 9,
		  "'run.env': \"LISTEN_FDS\" is set by baton itself");
	one_error(MIN_RUN "env = { A = [1] }\n", 3, 13,
		  "'run.env': value of \"A\": expected a string, got array");
	one_error(MIN_RUN "[watch]\npoll = \"sometimes\"\n", 4, 8,
		  "'watch.poll': invalid value \"sometimes\": expected \"auto\", \"off\" or a "
		  "duration");
	one_error(MIN_RUN "[watch]\nexclude_regex = [\"ok\", \"(unclosed\"]\n", 4, 24,
		  "'watch.exclude_regex': invalid regular expression \"(unclosed\"");
	one_error(MIN_RUN "[watch]\ninclude_ext = [\"a/b\"]\n", 4, 16,
		  "'watch.include_ext': \"a/b\" is not a file extension");
	one_error(MIN_RUN "[log]\ncolor = \"rainbow\"\n", 4, 9, "'log.color': invalid value");
	one_error(MIN_RUN "[log]\nformat = \"xml\"\n", 4, 10, "'log.format': invalid value");
	one_error(MIN_RUN "[control]\nsocket = \"\"\n", 4, 10,
		  "'control.socket': must not be empty");
	/* actions */
	one_error(MIN_RUN "[[reload]]\npaths = [\"a\"]\naction = \"reboot\"\n", 5, 10,
		  "'reload.action': invalid action \"reboot\": expected \"restart\"");
	one_error(MIN_RUN "[[reload]]\npaths = [\"a\"]\naction = \"signal:NOPE\"\n", 5, 10,
		  "unknown signal after 'signal:'");
	one_error(MIN_RUN "[[tls]]\ncert = \"c\"\nkey = \"k\"\naction = \"exec:\"\n", 6, 10,
		  "'tls.action': invalid action \"exec:\": empty command after 'exec:'");
	one_error(MIN_RUN "[[reload]]\npaths = []\n", 4, 9, "'reload.paths': must not be empty");
	one_error(MIN_RUN "[[reload]]\nname = \"has space\"\npaths = [\"a\"]\n", 4, 8,
		  "'reload.name': invalid name \"has space\"");
	/* required keys */
	one_error("[build]\ncmd = \"make\"\n", 1, 1, "missing required key 'run.cmd'");
	one_error("[run]\nready = \"exec\"\n", 1, 1, "missing required key 'run.cmd'");
}

static void test_error_listeners(void **state)
{
	(void)state;
	one_error(MIN_RUN "[[listen]]\naddress = \"8080\"\n", 4, 11,
		  "'listen.address': invalid address \"8080\": missing ':' before the port");
	one_error(MIN_RUN "[[listen]]\naddress = \"::1:8080\"\n", 4, 11,
		  "an IPv6 address needs brackets");
	one_error(MIN_RUN "[[listen]]\naddress = \"unix:\"\n", 4, 11, "empty socket path");
	one_error(MIN_RUN "[[listen]]\nname = \"http\"\n", 3, 1,
		  "[[listen]] is missing required key 'address'");
	one_error(MIN_RUN "[[listen]]\nname = \"a\"\naddress = \":80\"\n"
			  "[[listen]]\nname = \"a\"\naddress = \":81\"\n",
		  7, 8, "duplicate listener name 'a' (also used on line 4)");
	/* a default name can collide with an explicit one */
	one_error(MIN_RUN "[[listen]]\naddress = \":80\"\n[[listen]]\nname = \"listen1\"\n"
			  "address = \":81\"\n",
		  6, 8, "duplicate listener name 'listen1' (also used on line 3)");
	one_error(MIN_RUN "[[listen]]\nname = \"a\"\naddress = \":8080\"\n"
			  "[[listen]]\nname = \"b\"\naddress = \"127.0.0.1:8080\"\n",
		  8, 11,
		  "duplicate listener address \"127.0.0.1:8080\": listener 'a' (line 5) already "
		  "binds \":8080\"");
	one_error(MIN_RUN "[[listen]]\naddress = \"unix:/s\"\n[[listen]]\naddress = \"unix:/s\"\n",
		  6, 11, "duplicate listener address \"unix:/s\"");
	one_error(MIN_RUN "[[listen]]\naddress = \":80\"\nforward = \"unix:/x\"\n", 5, 11,
		  "'listen.forward': invalid address \"unix:/x\": expected \"host:port\"");
	one_error(MIN_RUN "[[listen]]\naddress = \":80\"\nforward = \"localhost\"\n", 5, 11,
		  "'listen.forward': invalid address \"localhost\": missing port");
	one_error(MIN_RUN "[[listen]]\naddress = \":80\"\nforward = \":0\"\n", 5, 11,
		  "'listen.forward': invalid address \":0\"");
	one_error(MIN_RUN
		  "[[listen]]\nname = \"w\"\naddress = \":80\"\nforward = \"127.0.0.1:80\"\n",
		  6, 11, "forward address \"127.0.0.1:80\" is the address of listener 'w'");
	one_error(MIN_RUN "[[listen]]\naddress = \":80\"\nforward = \":90\"\n"
			  "[[listen]]\naddress = \":81\"\nforward = \"127.0.0.1:90\"\n",
		  8, 11,
		  "forward address \"127.0.0.1:90\" is also the forward of listener 'listen1'");
	one_error(MIN_RUN "[listen]\naddress = \":80\"\n", 3, 2,
		  "'listen' must be an array of tables: write [[listen]] for each one");
	one_error("listen = [1]\n" MIN_RUN, 1, 11, "'listen' must be an array of tables");
	one_error(MIN_RUN "listen = []\n", 3, 1,
		  "unknown key 'listen' in [run]; 'listen' belongs at the top level");
	one_error(MIN_RUN "[[listen]]\naddress = \":80\"\nbacklog = 0\n", 5, 11,
		  "'listen.backlog': 0 is out of range (1..65535)");
	one_error("[run]\ncmd = \"x\"\nready = \"port\"\n", 3, 9,
		  "'run.ready': \"port\" needs a [[listen]] with 'forward'");
	one_error(MIN_RUN "[[listen]]\naddress = \":80\"\nready = \"exec\"\n", 5, 1,
		  "unknown key 'ready' in [[listen]]; did you mean 'ready' in [run]?");
	one_error(MIN_RUN "[build]\ncmd = \"make\"\n[build]\n", 5, 2, "");
}

static void test_error_tls(void **state)
{
	(void)state;
	one_error(MIN_RUN "[[tls]]\ncert = \"\"\nkey = \"k\"\n", 4, 8,
		  "'tls.cert': must not be empty");
	one_error(MIN_RUN "[[tls]]\ncert = \"c\"\nkey = \"\"\n", 5, 7,
		  "'tls.key': must not be empty");
	one_error(MIN_RUN "[[tls]]\ncert = \"c\"\n", 3, 1, "[[tls]] is missing required key 'key'");
	one_error(MIN_RUN
		  "[[tls]]\ncert = \"c\"\nkey = \"k\"\nhostnames = \"example.com\"\nca = 1\n",
		  7, 6, "'tls.ca': expected a string, got integer");
}

static void test_syntax_error(void **state)
{
	(void)state;
	struct config_diags d = {0};
	const char *text = "[run]\ncmd = \"./app\"\nstop_timeout = \"10s\n";
	assert_null(load_as(text, false, &d, NULL));
	assert_int_equal(d.n, 1);
	assert_int_equal(d.v[0].line, 3);
	assert_true(d.v[0].col >= 16);
	config_diags_release(&d);
	text = "[run]\ncmd = \"./app\"\ncmd = \"again\"\n";
	assert_null(load_as(text, false, &d, NULL));
	assert_int_equal(d.n, 1);
	assert_int_equal(d.v[0].line, 3);
	config_diags_release(&d);
}

/* Every error in a file is reported, in file order, not just the first. */
static void test_all_errors(void **state)
{
	(void)state;
	const char *text = "[build]\n"			 /* 1 */
			   "cmd = 5\n"			 /* 2 */
			   "[run]\n"			 /* 3 */
			   "cmd = \"./app\"\n"		 /* 4 */
			   "stop_timeout = 10\n"	 /* 5 */
			   "stop_signal = \"SIGFOO\"\n"	 /* 6 */
			   "[watch]\n"			 /* 7 */
			   "debouce = \"50ms\"\n"	 /* 8 */
			   "[[listen]]\n"		 /* 9 */
			   "address = \":80\"\n"	 /* 10 */
			   "[[listen]]\n"		 /* 11 */
			   "address = \":80\"\n"	 /* 12 */
			   "[[tls]]\n"			 /* 13 */
			   "cert = \"\"\n"		 /* 14 */
			   "key = \"k\"\n"		 /* 15 */
			   "[[reload]]\n"		 /* 16 */
			   "paths = [\"x\"]\n"		 /* 17 */
			   "action = \"signal:NOPE\"\n"; /* 18 */
	struct config_diags d = {0};
	assert_null(load_as(text, false, &d, NULL));
	const unsigned want[][2] = {{2, 7}, {5, 16}, {6, 15}, {8, 1}, {12, 11}, {14, 8}, {18, 10}};
	if (d.n != 7)
		config_diags_print(&d, 2);
	assert_int_equal(d.n, 7);
	for (int i = 0; i < 7; i++) {
		assert_int_equal(d.v[i].line, want[i][0]);
		assert_int_equal(d.v[i].col, want[i][1]);
	}
	config_diags_release(&d);
}

static void test_control_chars_in_messages(void **state)
{
	(void)state;
	struct config_diags d = {0};
	const char *text = MIN_RUN "\"bad\\nkey\\u001b[31m\" = 1\n";
	assert_null(load_as(text, false, &d, NULL));
	assert_int_equal(d.n, 1);
	for (const char *p = d.v[0].msg; *p; p++)
		assert_true((unsigned char)*p >= 0x20);
	config_diags_release(&d);
}

/* ---- air ---- */

static struct config *air_ok(const char *text, struct strv *notes)
{
	struct config_diags d = {0};
	struct config *cfg = load_as(text, true, &d, notes);
	if (!cfg) {
		config_diags_print(&d, 2);
		fail_msg("air config rejected");
	}
	config_diags_release(&d);
	assert_int_equal(cfg->source, CONFIG_SRC_AIR);
	return cfg;
}

static void test_air_defaults(void **state)
{
	(void)state;
	struct strv notes = STRV_INIT;
	struct config *cfg = air_ok("", &notes);
	assert_int_equal(notes.n, 0);
	assert_string_equal(cfg->root, "/srv/app");
	assert_string_equal(cfg->build.cmd, "go build -o ./tmp/main .");
	assert_int_equal(cfg->build.delay_ms, 0); /* air's 1000 ms is not carried over */
	assert_false(cfg->build.stop_on_error);
	assert_string_equal(cfg->run.cmd, "./tmp/main");
	assert_int_equal(cfg->run.ready, READY_EXEC);
	assert_false(cfg->run.restart_on_crash);
	assert_int_equal(cfg->run.stop_signal, SIGTERM);
	char *s = strv_join(&cfg->watch.include_ext, ",");
	assert_string_equal(s, "go,tpl,tmpl,html");
	free(s);
	s = strv_join(&cfg->watch.exclude_dir, ",");
	assert_string_equal(s, "assets,tmp,vendor,testdata,.git,.baton");
	free(s);
	assert_int_equal(cfg->watch.exclude.n, 0);
	assert_int_equal(cfg->watch.exclude_regex.n, 1);
	assert_string_equal(cfg->watch.exclude_regex.v[0], "_test.go");
	assert_int_equal(cfg->watch.poll, POLL_AUTO);
	assert_int_equal(cfg->watch.poll_interval_ms, 500);
	assert_int_equal(cfg->nlisten, 0);
	config_free(cfg);
}

static void test_air_mapping(void **state)
{
	(void)state;
	struct strv notes = STRV_INIT;
	struct config *cfg = air_ok("root = \"src\"\n"
				    "tmp_dir = \"out\"\n"
				    "env_files = [\".env\"]\n"
				    "[build]\n"
				    "pre_cmd = [\"templ generate\", \"go vet ./...\"]\n"
				    "entrypoint = [\"dlv\", \"exec\", \"./out/main\", \"--a b\"]\n"
				    "args_bin = [\"serve\"]\n"
				    "include_ext = [\"*\"]\n"
				    "exclude_file = [\"gen/*.go\"]\n"
				    "delay = 200\n"
				    "stop_on_error = true\n"
				    "send_interrupt = true\n"
				    "kill_delay = \"2s\"\n"
				    "rerun = true\n"
				    "poll = true\n"
				    "poll_interval = 100\n"
				    "[log]\n"
				    "time = true\n"
				    "[color]\n"
				    "mode = \"never\"\n",
				    &notes);
	assert_int_equal(notes.n, 0);
	assert_string_equal(cfg->root, "/srv/app/src");
	/* changing tmp_dir rewrites air's default cmd, bin and exclude_dir */
	assert_string_equal(cfg->build.cmd, "templ generate && go vet ./... && go build -o "
					    "./out/main .");
	assert_string_equal(cfg->run.cmd, "dlv exec ./out/main '--a b'");
	assert_string_equal(cfg->run.args.v[0], "serve");
	assert_string_equal(cfg->run.env_file.v[0], ".env");
	assert_int_equal(cfg->watch.include_ext.n, 0); /* "*": every file */
	assert_string_equal(cfg->watch.exclude.v[0], "gen/*.go");
	assert_true(strv_contains(&cfg->watch.exclude_dir, "out"));
	assert_false(strv_contains(&cfg->watch.exclude_dir, "tmp"));
	assert_int_equal(cfg->build.delay_ms, 200);
	assert_true(cfg->build.stop_on_error);
	assert_int_equal(cfg->run.stop_signal, SIGINT);
	assert_int_equal(cfg->run.stop_timeout_ms, 2000);
	assert_true(cfg->run.restart_on_crash);
	assert_int_equal(cfg->watch.poll, POLL_FORCE);
	assert_int_equal(cfg->watch.poll_interval_ms, 500); /* air's minimum */
	assert_true(cfg->log.timestamps);
	assert_int_equal(cfg->log.color, LOG_COLOR_NEVER);
	config_free(cfg);

	/* kill_delay as an integer: under 1ms of nanoseconds reads as milliseconds */
	cfg = air_ok("[build]\nkill_delay = 500\nbin = \"main\"\n", NULL);
	assert_int_equal(cfg->run.stop_timeout_ms, 500);
	assert_string_equal(cfg->run.cmd, "./main");
	config_free(cfg);
	cfg = air_ok("[build]\nkill_delay = 3000000000\nfull_bin = \"APP_ENV=dev ./tmp/main\"\n",
		     NULL);
	assert_int_equal(cfg->run.stop_timeout_ms, 3000);
	assert_string_equal(cfg->run.cmd, "APP_ENV=dev ./tmp/main");
	config_free(cfg);
	/* "" in air's lists matches nothing and is dropped, except as an argument */
	cfg = air_ok("[build]\nexclude_dir = [\"\", \"x\"]\nargs_bin = [\"\", \"-v\"]\n", NULL);
	assert_false(strv_contains(&cfg->watch.exclude_dir, ""));
	assert_int_equal(cfg->run.args.n, 2);
	round_trip(cfg);
	config_free(cfg);
	/* [build.linux] overrides */
	cfg = air_ok("[build]\ncmd = \"make win\"\n[build.linux]\ncmd = \"make linux\"\n", NULL);
	assert_string_equal(cfg->build.cmd, "make linux");
	config_free(cfg);
}

static void test_air_notes_and_errors(void **state)
{
	(void)state;
	struct strv notes = STRV_INIT;
	struct config *cfg = air_ok("[build]\n"
				    "log = \"air.log\"\n"
				    "rerun_delay = 500\n"
				    "bni = \"x\"\n"
				    "[proxy]\n"
				    "enabled = false\n"
				    "proxy_port = 8090\n"
				    "[misc]\n"
				    "clean_on_exit = true\n",
				    &notes);
	assert_int_equal(notes.n, 6);
	assert_string_equal(notes.v[0], ".air.toml:2:1: note: 'build.log' has no baton equivalent "
					"(baton shows build errors once in its output and keeps no "
					"build log file)");
	assert_non_null(strstr(notes.v[1], ".air.toml:3:1: note: 'build.rerun_delay' has no"));
	assert_string_equal(notes.v[2], ".air.toml:4:1: note: unknown air key 'build.bni' "
					"ignored; did you mean 'bin'?");
	assert_string_equal(notes.v[3], ".air.toml:9:1: note: 'misc.clean_on_exit' has no baton "
					"equivalent (baton deletes nothing on exit)");
	assert_non_null(strstr(notes.v[4], ".air.toml:7:1: note: 'proxy.proxy_port' has no baton"));
	assert_string_equal(notes.v[5], ".air.toml:6:1: note: 'proxy.enabled' has no baton "
					"equivalent (baton holds the port itself; see [[listen]])");
	strv_release(&notes);
	config_free(cfg);

	struct config_diags d = {0};
	const char *bad = "[build]\n"
			  "delay = \"1s\"\n"
			  "include_ext = \"go\"\n"
			  "exclude_regex = [\"(?i)x(\"]\n"
			  "[proxy]\n"
			  "enabled = true\n";
	assert_null(load_as(bad, true, &d, NULL));
	assert_int_equal(d.n, 2);
	assert_int_equal(d.v[0].line, 2);
	assert_int_equal(d.v[0].col, 9);
	assert_string_equal(d.v[0].msg, "'build.delay': expected an integer, got string");
	assert_int_equal(d.v[1].line, 3);
	assert_string_equal(d.v[1].msg, "'build.include_ext': expected an array of strings, got "
					"string");
	config_diags_release(&d);
	bad = "[build]\nexclude_regex = [\"ok\", \"x(\"]\n[proxy]\nenabled = true\n";
	assert_null(load_as(bad, true, &d, NULL));
	assert_int_equal(d.n, 2);
	assert_int_equal(d.v[0].line, 2);
	assert_int_equal(d.v[0].col, 24);
	assert_int_equal(d.v[1].line, 4);
	assert_string_equal(d.v[1].msg,
			    "'proxy.enabled': proxy_port and app_port must both be set");
	config_diags_release(&d);
}

static char *example_path(void)
{
	const char *here = __FILE__; /* tests/unit/test_config.c */
	const char *slash = strrchr(here, '/');
	return xasprintf("%.*s/../e2e/data/air_example.toml", (int)(slash - here), here);
}

/* air's own documented example (air_example.toml) loads, maps, and prints back */
static void test_air_example(void **state)
{
	(void)state;
	char *path = example_path(), *data;
	size_t len;
	assert_int_equal(file_read_all(path, 1 << 20, &data, &len), 0);
	struct strv notes = STRV_INIT;
	struct config_diags d = {0};
	struct config *cfg =
		config_load_buffer(".air.toml", "/srv/app", data, len, true, &d, &notes);
	assert_non_null(cfg);
	assert_string_equal(cfg->build.cmd,
			    "echo 'hello air' > pre_cmd.txt && go build -o ./tmp/main .");
	assert_string_equal(cfg->run.cmd, "APP_ENV=dev APP_USER=air ./tmp/main");
	assert_int_equal(cfg->run.args.n, 2);
	assert_int_equal(cfg->build.delay_ms, 0);
	assert_true(cfg->build.stop_on_error);
	assert_int_equal(cfg->run.stop_signal, SIGTERM);
	assert_int_equal(cfg->run.stop_timeout_ms, 500);
	assert_true(strv_contains(&cfg->watch.exclude_dir, "frontend/node_modules"));
	assert_string_equal(cfg->watch.exclude_regex.v[0], "_test\\.go");
	/* the proxy becomes a forward listener */
	assert_int_equal(cfg->nlisten, 1);
	assert_string_equal(cfg->listen[0].address, ":8090");
	assert_string_equal(cfg->listen[0].forward, "127.0.0.1:8080");
	assert_int_equal(cfg->run.ready, READY_PORT);
	assert_int_equal(cfg->run.ready_timeout_ms, 5000);
	/* one note per key without an equivalent */
	const char *expect[] = {
		"'build.post_cmd'",	"'build.follow_symlink'", "'build.log'",
		"'build.rerun_delay'",	"'log.main_only'",	  "'log.silent'",
		"'color.main'",		"'color.watcher'",	  "'color.build'",
		"'color.runner'",	"'misc.clean_on_exit'",	  "'screen.clear_on_rebuild'",
		"'screen.keep_scroll'", "'proxy.enabled'"};
	assert_int_equal(notes.n, sizeof(expect) / sizeof(expect[0]));
	for (size_t i = 0; i < notes.n; i++) {
		assert_non_null(strstr(notes.v[i], expect[i]));
		assert_non_null(strstr(notes.v[i], ": note: "));
		assert_true(strncmp(notes.v[i], ".air.toml:", 10) == 0);
	}
	assert_string_equal(notes.v[2],
			    ".air.toml:39:1: note: 'build.log' has no baton "
			    "equivalent (baton shows build errors once in its output and "
			    "keeps no build log file)");

	/* printed as baton.toml, it loads back as the same config */
	char *text = config_to_toml(cfg);
	struct config *back =
		config_load_buffer("baton.toml", "/srv/app", text, strlen(text), false, &d, NULL);
	if (!back) {
		config_diags_print(&d, 2);
		fail_msg("printed air config does not load:\n%s", text);
	}
	assert_string_equal(back->run.cmd, cfg->run.cmd);
	assert_string_equal(back->listen[0].forward, "127.0.0.1:8080");
	assert_int_equal(back->run.ready, READY_PORT);
	config_free(back);
	free(text);
	config_free(cfg);
	strv_release(&notes);
	free(data);
	free(path);
}

/* ---- printing ---- */

static void round_trip(const struct config *cfg)
{
	char *text = config_to_toml(cfg);
	struct config_diags d = {0};
	struct config *back =
		config_load_buffer("baton.toml", cfg->dir, text, strlen(text), false, &d, NULL);
	if (!back) {
		config_diags_print(&d, 2);
		fail_msg("printed config does not load:\n%s", text);
	}
	assert_string_equal(back->root, cfg->root);
	/* printing again gives the same text, but for the header naming the source */
	char *again = config_to_toml(back);
	const char *body1 = strstr(text, "\nroot = "), *body2 = strstr(again, "\nroot = ");
	assert_non_null(body1);
	assert_non_null(body2);
	assert_string_equal(body1, body2);
	free(again);
	free(text);
	config_free(back);
}

static void test_print_round_trip(void **state)
{
	(void)state;
	struct config *cfg = load_ok(full);
	round_trip(cfg);
	char *text = config_to_toml(cfg);
	assert_non_null(strstr(text, "root = \"web\"\n"));
	assert_non_null(strstr(text, "ready = \"delay:1s500ms\"\n"));
	assert_non_null(strstr(text, "poll = \"2s\"\n"));
	assert_non_null(strstr(text, "env = { \"GIN_MODE\" = \"release\", \"WORKERS\" = \"4\""));
	assert_non_null(strstr(text, "args = [\"-v\", \"it's \\\"quoted\\\"\"]\n"));
	assert_non_null(strstr(text, "action = \"exec:kill -HUP $(cat app.pid)\"\n"));
	assert_non_null(
		strstr(text, "# then SIGKILL to the whole process group; default \"10s\"\n"));
	free(text);
	config_free(cfg);

	cfg = load_ok("root = \"/elsewhere\"\n" MIN_RUN);
	text = config_to_toml(cfg);
	assert_non_null(strstr(text, "root = \"/elsewhere\"\n"));
	free(text);
	config_free(cfg);

	cfg = config_load_default("/srv/app");
	assert_int_equal(cfg->source, CONFIG_SRC_DEFAULT);
	round_trip(cfg);
	text = config_to_toml(cfg);
	assert_non_null(strstr(text, "zero-config defaults"));
	assert_non_null(strstr(text, "# [[listen]]\n"));
	assert_non_null(strstr(text, "PORT is left to it"));
	free(text);
	config_free(cfg);
}

/* ---- discovery (real files) ---- */

static char *tmpdir(void)
{
	char *t = xstrdup("/tmp/baton-test-config-XXXXXX");
	assert_non_null(mkdtemp(t));
	return t;
}

static void put(const char *dir, const char *name, const char *text)
{
	char *p = xasprintf("%s/%s", dir, name);
	assert_int_equal(file_write_atomic(p, text, strlen(text), 0644), 0);
	free(p);
}

static void rm_rf(const char *dir)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void test_discovery(void **state)
{
	(void)state;
	char *dir = tmpdir();
	struct config_diags d = {0};
	struct strv notes = STRV_INIT;

	/* nothing at all */
	assert_null(config_load(NULL, dir, &d, &notes));
	assert_int_equal(d.n, 1);
	assert_non_null(strstr(d.v[0].msg, "no config"));
	config_diags_release(&d);

	/* a Go main package: zero-config */
	put(dir, "main.go", "// Command hello.\n/* block */\npackage main\n\nfunc main() {}\n");
	struct config *cfg = config_load(NULL, dir, &d, &notes);
	assert_non_null(cfg);
	assert_int_equal(cfg->source, CONFIG_SRC_DEFAULT);
	assert_null(cfg->path);
	assert_string_equal(cfg->build.cmd, "go build -o .baton/bin/app .");
	assert_string_equal(cfg->run.cmd, ".baton/bin/app");
	assert_int_equal(cfg->run.ready, READY_EXEC);
	assert_int_equal(cfg->nlisten, 0);
	config_free(cfg);

	/* .air.toml beats zero-config */
	put(dir, ".air.toml", "[build]\nbin = \"./tmp/app\"\n");
	cfg = config_load(NULL, dir, &d, &notes);
	assert_non_null(cfg);
	assert_int_equal(cfg->source, CONFIG_SRC_AIR);
	assert_string_equal(cfg->run.cmd, "./tmp/app");
	char *want = xasprintf("%s/.air.toml", dir);
	assert_string_equal(cfg->path, want);
	free(want);
	config_free(cfg);

	/* baton.toml beats .air.toml */
	put(dir, "baton.toml", MIN_RUN);
	cfg = config_load(NULL, dir, &d, &notes);
	assert_non_null(cfg);
	assert_int_equal(cfg->source, CONFIG_SRC_FILE);
	config_free(cfg);

	/* -c: relative to cwd; a file named otherwise is read as air's when it has air's keys */
	put(dir, "dev.toml", "tmp_dir = \"build\"\n");
	cfg = config_load("dev.toml", dir, &d, &notes);
	assert_non_null(cfg);
	assert_int_equal(cfg->source, CONFIG_SRC_AIR);
	assert_string_equal(cfg->run.cmd, "./build/main");
	config_free(cfg);
	put(dir, "prod.toml", "[run]\ncmd = \"./x\"\n");
	cfg = config_load("prod.toml", dir, &d, &notes);
	assert_non_null(cfg);
	assert_int_equal(cfg->source, CONFIG_SRC_FILE);
	config_free(cfg);

	/* a missing -c file */
	assert_null(config_load("nope.toml", dir, &d, &notes));
	assert_int_equal(d.n, 1);
	assert_string_equal(d.v[0].file, "nope.toml");
	assert_int_equal(d.v[0].line, 0);
	assert_non_null(strstr(d.v[0].msg, "No such file"));
	config_diags_release(&d);

	/* files the config names must exist when loaded from disk */
	put(dir, "tls.toml", "root = \"sub\"\n[run]\ncmd = \"x\"\n");
	assert_null(config_load("tls.toml", dir, &d, &notes));
	assert_int_equal(d.n, 1);
	assert_int_equal(d.v[0].line, 1);
	assert_int_equal(d.v[0].col, 8);
	assert_non_null(strstr(d.v[0].msg, "is not a directory"));
	config_diags_release(&d);
	put(dir, "tls.toml", MIN_RUN "[[tls]]\ncert = \"c.pem\"\nkey = \"main.go\"\n");
	assert_null(config_load("tls.toml", dir, &d, &notes));
	assert_int_equal(d.n, 1);
	assert_int_equal(d.v[0].line, 4);
	assert_string_equal(d.v[0].msg, "'tls.cert': cannot read \"c.pem\": No such file or "
					"directory");
	config_diags_release(&d);

	assert_int_equal(notes.n, 0);
	rm_rf(dir);
	free(dir);
}

static void test_find_go_main(void **state)
{
	(void)state;
	char *dir = tmpdir();
	assert_null(config_find_go_main(dir));
	put(dir, "lib.go", "package hello\n");
	put(dir, "x_test.go", "package main\n");
	assert_null(config_find_go_main(dir));
	char *sub = xasprintf("%s/cmd", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	char *api = xasprintf("%s/cmd/api", dir), *cli = xasprintf("%s/cmd/cli", dir);
	assert_int_equal(mkdir(cli, 0755), 0);
	assert_int_equal(mkdir(api, 0755), 0);
	put(cli, "main.go", "package main\n");
	put(api, "main.go", "package  main // the api\n");
	char *pkg = config_find_go_main(dir);
	assert_string_equal(pkg, "./cmd/api");
	free(pkg);
	struct config *cfg = config_load_default(dir);
	assert_string_equal(cfg->build.cmd, "go build -o .baton/bin/app ./cmd/api");
	config_free(cfg);
	put(dir, "main.go", "package main\n");
	pkg = config_find_go_main(dir);
	assert_string_equal(pkg, ".");
	free(pkg);
	put(dir, "main.go", "package mainly\n");
	pkg = config_find_go_main(dir);
	assert_string_equal(pkg, "./cmd/api");
	free(pkg);
	free(sub);
	free(api);
	free(cli);
	rm_rf(dir);
	free(dir);
}

/* docs/config.md lists every schema key in its table's section, with the schema's default. */
/* The HTTP front's keys: [[listen]] proxy, ready = "http:", [proxy], [health], [dev]. */
static void test_proxy_keys(void **state)
{
	(void)state;
	struct config *cfg = load_ok(MIN_RUN);
	assert_int_equal(cfg->proxy.header_timeout_ms, 10000);
	assert_int_equal(cfg->proxy.idle_timeout_ms, 60000);
	assert_int_equal(cfg->proxy.max_header_size, 65536);
	assert_null(cfg->health.path);
	assert_int_equal(cfg->health.interval_ms, 2000);
	assert_int_equal(cfg->health.timeout_ms, 1000);
	assert_int_equal(cfg->health.rise, 2);
	assert_int_equal(cfg->health.fall, 3);
	assert_false(cfg->dev.live_reload);
	config_free(cfg);

	cfg = load_ok(MIN_RUN "ready = \"http:/healthz?x=1\"\n"
			      "[[listen]]\naddress = \":1\"\nproxy = \"http\"\n"
			      "[[listen]]\naddress = \":2\"\n"
			      "[proxy]\nheader_timeout = \"250ms\"\nidle_timeout = \"5s\"\n"
			      "max_header_size = 4096\n"
			      "[health]\npath = \"/up\"\ninterval = \"1s\"\ntimeout = \"1s\"\n"
			      "rise = 1\nfall = 5\n[dev]\nlive_reload = true\n");
	assert_int_equal(cfg->run.ready, READY_HTTP);
	assert_string_equal(cfg->run.ready_path, "/healthz?x=1");
	assert_int_equal(cfg->listen[0].proxy, LISTEN_PROXY_HTTP);
	assert_int_equal(cfg->listen[1].proxy, LISTEN_PROXY_NONE);
	assert_int_equal(cfg->proxy.header_timeout_ms, 250);
	assert_int_equal(cfg->proxy.idle_timeout_ms, 5000);
	assert_int_equal(cfg->proxy.max_header_size, 4096);
	assert_string_equal(cfg->health.path, "/up");
	assert_int_equal(cfg->health.interval_ms, 1000);
	assert_int_equal(cfg->health.rise, 1);
	assert_int_equal(cfg->health.fall, 5);
	assert_true(cfg->dev.live_reload);
	round_trip(cfg);
	config_free(cfg);

	/* a later ready replaces the path: nothing leaks (ASan) */
	cfg = load_ok(MIN_RUN
		      "ready = \"http:/a\"\n[[listen]]\naddress = \":1\"\nproxy = \"http\"\n");
	config_free(cfg);

	/* proxy = "https": the groups it names are the front's, swapped live; no action unless
	 * one is written */
	cfg = load_ok(MIN_RUN "[[listen]]\naddress = \":1\"\nproxy = \"https\"\n"
			      "tls = [\"site\", \"other\"]\n"
			      "[[listen]]\naddress = \":2\"\nproxy = \"http\"\n"
			      "[[tls]]\nname = \"other\"\ncert = \"o.crt\"\nkey = \"o.key\"\n"
			      "action = \"signal:SIGHUP\"\n"
			      "[[tls]]\nname = \"site\"\ncert = \"s.crt\"\nkey = \"s.key\"\n"
			      "[[tls]]\ncert = \"app.crt\"\nkey = \"app.key\"\n");
	assert_int_equal(cfg->listen[0].proxy, LISTEN_PROXY_HTTPS);
	assert_int_equal(cfg->listen[0].tls.n, 2);
	assert_string_equal(cfg->listen[0].tls.v[0], "site");
	assert_true(cfg->tls[0].front && cfg->tls[0].act);  /* named, with an action */
	assert_true(cfg->tls[1].front && !cfg->tls[1].act); /* the front's only */
	assert_true(!cfg->tls[2].front && cfg->tls[2].act); /* the app's (restart) */
	assert_null(cfg->tls[2].name);
	round_trip(cfg);
	config_free(cfg);
	one_error(MIN_RUN "[[listen]]\naddress = \":1\"\nproxy = \"https\"\n", 5, 9,
		  "listener 'listen1': proxy = \"https\" needs 'tls'");
	one_error(MIN_RUN "[[listen]]\naddress = \":1\"\nproxy = \"https\"\ntls = [\"x\"]\n", 6, 7,
		  "'listen.tls': no [[tls]] group is named \"x\"");
	one_error(MIN_RUN "[[listen]]\naddress = \":1\"\nproxy = \"http\"\ntls = [\"x\"]\n"
			  "[[tls]]\nname = \"x\"\ncert = \"c\"\nkey = \"k\"\n",
		  6, 7, "'listen.tls': listener 'listen1' does not terminate TLS");
	one_error(MIN_RUN "[[listen]]\naddress = \":1\"\nproxy = \"https\"\ntls = [\"x\", \"x\"]\n"
			  "[[tls]]\nname = \"x\"\ncert = \"c\"\nkey = \"k\"\n",
		  6, 7, "'listen.tls': \"x\" is named twice");
	one_error(MIN_RUN "[[tls]]\nname = \"x\"\ncert = \"c\"\nkey = \"k\"\n"
			  "[[tls]]\nname = \"x\"\ncert = \"d\"\nkey = \"k\"\n",
		  8, 8, "duplicate [[tls]] name 'x'");
	/* own ports behind the front: proxy with forward, one such listener; private_socket */
	cfg = load_ok(MIN_RUN "[[listen]]\naddress = \":1\"\nforward = \":2\"\nproxy = \"http\"\n");
	assert_string_equal(cfg->proxy.private_socket, "unix");
	config_free(cfg);
	cfg = load_ok(MIN_RUN "[proxy]\nprivate_socket = \"tcp\"\n[[listen]]\naddress = \":1\"\n"
			      "proxy = \"http\"\n");
	assert_string_equal(cfg->proxy.private_socket, "tcp");
	round_trip(cfg);
	config_free(cfg);
	one_error(MIN_RUN "[[listen]]\naddress = \":1\"\nforward = \":2\"\nproxy = \"http\"\n"
			  "[[listen]]\naddress = \":3\"\nforward = \":4\"\nproxy = \"http\"\n",
		  10, 9,
		  "'listen.proxy': only one listener may have proxy = \"http\" with 'forward'");
	one_error(MIN_RUN "[proxy]\nprivate_socket = \"udp\"\n", 4, 18,
		  "'proxy.private_socket': expected \"tcp\" or \"unix\", not \"udp\"");
	one_error(MIN_RUN "[[listen]]\naddress = \":1\"\nproxy = \"tcp\"\n", 5, 9,
		  "'listen.proxy': invalid value \"tcp\": expected \"http\", \"https\" or \"\"");
	one_error(MIN_RUN "[[listen]]\naddress = \":1\"\nproxy = true\n", 5, 9,
		  "'listen.proxy': expected \"http\", \"https\" or \"\", got boolean");
	one_error(MIN_RUN "ready = \"http:healthz\"\n", 3, 9,
		  "'run.ready': invalid value \"http:healthz\": the path must start with '/'");
	one_error(MIN_RUN "ready = \"http:/a b\"\n", 3, 9, "must not hold spaces");
	one_error(MIN_RUN "ready = \"http:/healthz\"\n", 3, 9,
		  "'run.ready': \"http:/healthz\" needs a [[listen]] with proxy = \"http\"");
	one_error(MIN_RUN
		  "[[listen]]\naddress = \":1\"\nproxy = \"http\"\n[health]\npath = \"up\"\n",
		  7, 8, "'health.path': invalid path \"up\"");
	one_error(MIN_RUN "[health]\npath = \"/up\"\n", 4, 8,
		  "'health.path': health checks need a [[listen]] with proxy = \"http\"");
	one_error(MIN_RUN "[dev]\nlive_reload = true\n", 4, 15,
		  "'dev.live_reload': live reload needs a [[listen]] with proxy = \"http\"");
	one_error(MIN_RUN "[health]\ntimeout = \"3s\"\n", 4, 11,
		  "'health.timeout' (3000 ms) is longer than 'health.interval' (2000 ms)");
	one_error(MIN_RUN "[health]\nrise = 0\n", 4, 8,
		  "'health.rise': 0 is out of range (1..1000)");
	one_error(MIN_RUN "[proxy]\nmax_header_size = 100\n", 4, 19,
		  "'proxy.max_header_size': 100 is out of range (1024..1048576)");
	one_error(MIN_RUN "[proxy]\nheader_timeout = \"0s\"\n", 4, 18,
		  "'proxy.header_timeout': must be at least 1ms");
}

static void test_docs_match_schema(void **state)
{
	(void)state;
	const char *here = __FILE__;
	const char *slash = strrchr(here, '/');
	char *path = xasprintf("%.*s/../../docs/config.md", (int)(slash - here), here), *doc;
	size_t len;
	assert_int_equal(file_read_all(path, 1 << 20, &doc, &len), 0);
	struct config *cfg = config_new();
	struct cfg_listen l = {0};
	struct cfg_reload r = {0};
	struct cfg_tls t = {0};
	struct cfg_source so = {0};
	config_scope_defaults(CS_SOURCE, &so);
	config_scope_defaults(CS_LISTEN, &l);
	config_scope_defaults(CS_RELOAD, &r);
	config_scope_defaults(CS_TLS, &t);
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];
		char *head = !k->table		   ? xstrdup("\n## top level\n")
			     : k->scope == CS_ROOT ? xasprintf("\n## [%s]\n", k->table)
						   : xasprintf("\n## [[%s]]\n", k->table);
		const char *sec = strstr(doc, head);
		if (!sec)
			fail_msg("docs/config.md has no section '%s'", head + 1);
		const char *end = strstr(sec + 1, "\n## ");
		char *rowkey = xasprintf("\n| `%s` |", k->name);
		const char *row = strstr(sec, rowkey);
		if (!row || (end && row > end))
			fail_msg("docs/config.md: no row for '%s' in '%s'", k->name, head + 1);
		const char *eol = strchr(row + 1, '\n');
		char *line = xstrndup(row + 1, eol ? (size_t)(eol - row - 1) : strlen(row + 1));
		if (k->def) {
			const void *base = k->scope == CS_LISTEN   ? (const void *)&l
					   : k->scope == CS_RELOAD ? (const void *)&r
					   : k->scope == CS_TLS	   ? (const void *)&t
					   : k->scope == CS_SOURCE ? (const void *)&so
								   : (const void *)cfg;
			char *v = config_key_format(k, base);
			char *want = xasprintf("`%s`", v);
			if (!strstr(line, want))
				fail_msg("docs/config.md: '%s' should show default %s: %s", k->name,
					 want, line);
			free(want);
			free(v);
		}
		free(line);
		free(rowkey);
		free(head);
	}
	config_scope_release(CS_LISTEN, &l);
	config_scope_release(CS_RELOAD, &r);
	config_scope_release(CS_TLS, &t);
	config_scope_release(CS_SOURCE, &so);
	config_free(cfg);
	free(doc);
	free(path);
}

/* [[source]] (config sources): defaults, and the checks across its keys. */
static void test_source(void **state)
{
	(void)state;
	struct config *ok;
	struct config *cfg = load_ok(MIN_RUN "[[source]]\netcd = \"http://127.0.0.1:2379\"\n"
					     "key = \"/a/b\"\nfile = \"c/b.json\"\n");
	assert_int_equal(cfg->nsources, 1);
	assert_string_equal(cfg->sources[0].name, "source1");
	assert_int_equal(cfg->sources[0].initial_timeout_ms, 30000);
	assert_int_equal(cfg->sources[0].action.kind, ACTION_RESTART);
	assert_null(cfg->sources[0].prefix);
	round_trip(cfg);
	config_free(cfg);
	one_error(MIN_RUN "[[source]]\netcd = \"http://127.0.0.1:1\"\nfile = \"f\"\n", 3, 1,
		  "needs exactly one of 'key' and 'prefix'");
	one_error(MIN_RUN
		  "[[source]]\netcd = \"http://127.0.0.1:1\"\nkey = \"/k\"\nprefix = \"/p/\"\n"
		  "file = \"f\"\n",
		  3, 1, "needs exactly one of 'key' and 'prefix'");
	one_error(MIN_RUN
		  "[[source]]\netcd = \"http://127.0.0.1:1\"\nprefix = \"/p\"\nfile = \"f\"\n",
		  5, 10, "must end with '/'");
	one_error(MIN_RUN "[[source]]\netcd = \"https://h:1\"\nkey = \"/k\"\nfile = \"f\"\n", 4, 8,
		  "baton does no name lookups");
	one_error(MIN_RUN "[[source]]\netcd = \"http://127.0.0.1:1\"\nkey = \"/k\"\nfile = \"f\"\n"
			  "ca = \"ca.pem\"\n",
		  3, 1, "'ca' and 'cert' are for https:// endpoints");
	one_error(MIN_RUN "[[source]]\netcd = \"https://127.0.0.1:1\"\nkey = \"/k\"\nfile = \"f\"\n"
			  "cert = \"c.pem\"\n",
		  3, 1, "'cert' and 'cert_key' go together");
	ok = load_ok(MIN_RUN
		     "[[source]]\netcd = \"https://127.0.0.1:1\"\nkey = \"/k\"\nfile = \"f\"\n"
		     "ca = \"ca.pem\"\ncert = \"c.pem\"\ncert_key = \"k.pem\"\n");
	assert_string_equal(ok->sources[0].cert_key, "k.pem");
	config_free(ok);
	one_error(MIN_RUN "[[source]]\netcd = \"h:1\"\nkey = \"/k\"\nfile = \"f\"\n", 4, 8,
		  "is not an endpoint like");
	one_error(MIN_RUN "[[source]]\netcd = [\"http://127.0.0.1:2379\", \"http://etcd-0:2379\"]\n"
			  "key = \"/k\"\nfile = \"f\"\n",
		  4, 8, "baton does no name lookups");
	ok = load_ok(MIN_RUN "[[source]]\netcd = [\"http://[::1]:2379\", "
			     "\"http://localhost:2379\"]\nkey = \"/k\"\nfile = \"f\"\n");
	config_free(ok);
	one_error(MIN_RUN "[[source]]\netcd = \"http://127.0.0.1:1\"\nkey = \"/k\"\nfile = \"f\"\n"
			  "username = \"u\"\n",
		  3, 1, "'username' and 'password' go together");
	one_error(MIN_RUN "[[source]]\nkey = \"/k\"\nfile = \"f\"\n", 3, 1,
		  "[[source]] is missing required key 'etcd'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_proxy_keys),
		cmocka_unit_test(test_error_kinds),
		cmocka_unit_test(test_error_listeners),
		cmocka_unit_test(test_error_tls),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_all_errors),
		cmocka_unit_test(test_control_chars_in_messages),
		cmocka_unit_test(test_air_defaults),
		cmocka_unit_test(test_air_mapping),
		cmocka_unit_test(test_air_notes_and_errors),
		cmocka_unit_test(test_air_example),
		cmocka_unit_test(test_print_round_trip),
		cmocka_unit_test(test_discovery),
		cmocka_unit_test(test_find_go_main),
		cmocka_unit_test(test_docs_match_schema),
		cmocka_unit_test(test_source),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
