/* air's .air.toml read as-is and mapped onto baton's model. Absent keys take air's own defaults
 * (runner/config.go defaultConfigBase, not air_example.toml). Keys with no baton equivalent are
 * accepted and reported as notes, one line each; a value of the wrong type is an error. */
#include "config/config_impl.h"

#include <errno.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "util/buf.h"
#include "util/duration.h"
#include "util/strv.h"
#include "util/xalloc.h"

enum air_type { AT_STR, AT_STRV, AT_BOOL, AT_INT, AT_DUR, AT_ANY };

/* Indexes into air_keys (keep in the same order). */
/* clang-format off */
enum {
	K_ROOT, K_TESTDATA, K_TMP, K_ENV_FILES,
	K_PRE_CMD, K_CMD, K_POST_CMD, K_BIN, K_ENTRYPOINT, K_FULL_BIN, K_ARGS_BIN, K_LOG,
	K_INCLUDE_EXT, K_EXCLUDE_DIR, K_INCLUDE_DIR, K_INCLUDE_FILE, K_EXCLUDE_FILE,
	K_EXCLUDE_REGEX, K_EXCLUDE_UNCHANGED, K_DANGEROUS, K_FOLLOW_SYMLINK, K_POLL,
	K_POLL_INTERVAL, K_DELAY, K_STOP_ON_ERROR, K_SEND_INTERRUPT, K_KILL_DELAY, K_RERUN,
	K_RERUN_DELAY, K_RULES, K_WINDOWS, K_DARWIN, K_LINUX,
	K_LOG_TIME, K_LOG_MAIN_ONLY, K_LOG_SILENT,
	K_COLOR_MAIN, K_COLOR_WATCHER, K_COLOR_BUILD, K_COLOR_RUNNER, K_COLOR_APP, K_COLOR_MODE,
	K_CLEAN_ON_EXIT, K_BANNER, K_CLEAR_ON_REBUILD, K_KEEP_SCROLL,
	K_PROXY_ENABLED, K_PROXY_PORT, K_APP_PORT, K_APP_START_TIMEOUT,
	K_N
};
/* clang-format on */

struct air_key {
	const char *table; /* NULL: top level */
	const char *name;
	enum air_type type;
	const char *note; /* why it has no baton equivalent; NULL: mapped (or silently ignored) */
};

#define NO_COLOUR "baton colours its own output; see [log] color"

/* clang-format off */
static const struct air_key air_keys[K_N] = {
	[K_ROOT] = {NULL, "root", AT_STR, NULL},
	[K_TESTDATA] = {NULL, "testdata_dir", AT_STR, NULL},
	[K_TMP] = {NULL, "tmp_dir", AT_STR, NULL},
	[K_ENV_FILES] = {NULL, "env_files", AT_STRV, NULL},
	[K_PRE_CMD] = {"build", "pre_cmd", AT_STRV, NULL},
	[K_CMD] = {"build", "cmd", AT_STR, NULL},
	[K_POST_CMD] = {"build", "post_cmd", AT_STRV, "baton runs nothing when it exits"},
	[K_BIN] = {"build", "bin", AT_STR, NULL},
	[K_ENTRYPOINT] = {"build", "entrypoint", AT_STRV, NULL},
	[K_FULL_BIN] = {"build", "full_bin", AT_STR, NULL},
	[K_ARGS_BIN] = {"build", "args_bin", AT_STRV, NULL},
	[K_LOG] = {"build", "log", AT_STR, "baton shows build errors once in its output and keeps "
		   "no build log file"},
	[K_INCLUDE_EXT] = {"build", "include_ext", AT_STRV, NULL},
	[K_EXCLUDE_DIR] = {"build", "exclude_dir", AT_STRV, NULL},
	[K_INCLUDE_DIR] = {"build", "include_dir", AT_STRV, NULL},
	[K_INCLUDE_FILE] = {"build", "include_file", AT_STRV, NULL},
	[K_EXCLUDE_FILE] = {"build", "exclude_file", AT_STRV, NULL},
	[K_EXCLUDE_REGEX] = {"build", "exclude_regex", AT_STRV, NULL},
	[K_EXCLUDE_UNCHANGED] = {"build", "exclude_unchanged", AT_BOOL, NULL},
	[K_DANGEROUS] = {"build", "ignore_dangerous_root_dir", AT_BOOL, "baton watches the root "
			 "it is given"},
	[K_FOLLOW_SYMLINK] = {"build", "follow_symlink", AT_BOOL, "baton does not follow "
			      "directory symlinks; add their targets to [watch] paths"},
	[K_POLL] = {"build", "poll", AT_BOOL, NULL},
	[K_POLL_INTERVAL] = {"build", "poll_interval", AT_INT, NULL},
	[K_DELAY] = {"build", "delay", AT_INT, NULL},
	[K_STOP_ON_ERROR] = {"build", "stop_on_error", AT_BOOL, NULL},
	[K_SEND_INTERRUPT] = {"build", "send_interrupt", AT_BOOL, NULL},
	[K_KILL_DELAY] = {"build", "kill_delay", AT_DUR, NULL},
	[K_RERUN] = {"build", "rerun", AT_BOOL, NULL},
	[K_RERUN_DELAY] = {"build", "rerun_delay", AT_INT, "baton restarts a crashed app with a "
			   "capped exponential backoff; see run.restart_on_crash"},
	[K_RULES] = {"build", "rules", AT_ANY, "baton has one build step; run extra commands from "
		     "build.cmd"},
	[K_WINDOWS] = {"build", "windows", AT_ANY, NULL},
	[K_DARWIN] = {"build", "darwin", AT_ANY, NULL},
	[K_LINUX] = {"build", "linux", AT_ANY, NULL},
	[K_LOG_TIME] = {"log", "time", AT_BOOL, NULL},
	[K_LOG_MAIN_ONLY] = {"log", "main_only", AT_BOOL, "baton prints one line per event"},
	[K_LOG_SILENT] = {"log", "silent", AT_BOOL, "baton prints one line per event"},
	[K_COLOR_MAIN] = {"color", "main", AT_STR, NO_COLOUR},
	[K_COLOR_WATCHER] = {"color", "watcher", AT_STR, NO_COLOUR},
	[K_COLOR_BUILD] = {"color", "build", AT_STR, NO_COLOUR},
	[K_COLOR_RUNNER] = {"color", "runner", AT_STR, NO_COLOUR},
	[K_COLOR_APP] = {"color", "app", AT_STR, NO_COLOUR},
	[K_COLOR_MODE] = {"color", "mode", AT_STR, NULL},
	[K_CLEAN_ON_EXIT] = {"misc", "clean_on_exit", AT_BOOL, "baton deletes nothing on exit"},
	[K_BANNER] = {"misc", "startup_banner", AT_STR, "baton prints no banner"},
	[K_CLEAR_ON_REBUILD] = {"screen", "clear_on_rebuild", AT_BOOL, "baton never clears the "
				"screen"},
	[K_KEEP_SCROLL] = {"screen", "keep_scroll", AT_BOOL, "baton never clears the screen"},
	[K_PROXY_ENABLED] = {"proxy", "enabled", AT_BOOL, NULL},
	[K_PROXY_PORT] = {"proxy", "proxy_port", AT_INT, NULL},
	[K_APP_PORT] = {"proxy", "app_port", AT_INT, NULL},
	[K_APP_START_TIMEOUT] = {"proxy", "app_start_timeout", AT_INT, NULL},
};
/* clang-format on */

static const char *const air_tables[] = {"build", "log", "color", "misc", "screen", "proxy"};
#define N_AIR_TABLES (sizeof(air_tables) / sizeof(air_tables[0]))

/* What [build.linux] may override. */
static const int linux_keys[] = {K_PRE_CMD,    K_CMD,	   K_POST_CMD, K_BIN,
				 K_ENTRYPOINT, K_FULL_BIN, K_ARGS_BIN};

struct air {
	const char *file;
	struct config_diags *d;
	struct strv *notes;
	const struct toml_kv *found[K_N]; /* where each key was set (the last one wins) */
	int errors;
};

static void air_err(struct air *a, struct toml_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void air_err(struct air *a, struct toml_pos pos, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	config_diag_addv(a->d, a->file, pos.line, pos.col, fmt, ap);
	va_end(ap);
	a->errors++;
}

static void air_note(struct air *a, struct toml_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void air_note(struct air *a, struct toml_pos pos, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = '?';
	if (a->notes)
		strv_pushf(a->notes, "%s:%u:%u: note: %s", a->file, pos.line, pos.col, msg);
	free(msg);
}

static char *air_path(const struct air_key *k)
{
	return k->table ? xasprintf("%s.%s", k->table, k->name) : xstrdup(k->name);
}

static bool type_ok(const struct air_key *k, const struct toml_value *v)
{
	switch (k->type) {
	case AT_STR:
		return v->type == TOML_STRING && strlen(v->u.str.ptr) == v->u.str.len;
	case AT_BOOL:
		return v->type == TOML_BOOL;
	case AT_INT:
		return v->type == TOML_INTEGER;
	case AT_DUR:
		return v->type == TOML_INTEGER || v->type == TOML_STRING;
	case AT_STRV:
		if (v->type != TOML_ARRAY)
			return false;
		for (size_t i = 0; i < v->u.arr.n; i++)
			if (v->u.arr.items[i].type != TOML_STRING ||
			    strlen(v->u.arr.items[i].u.str.ptr) != v->u.arr.items[i].u.str.len)
				return false;
		return true;
	case AT_ANY:
		return true;
	}
	return false;
}

static const char *air_expect(enum air_type t)
{
	static const char *const names[] = {"a string",
					    "an array of strings",
					    "true or false",
					    "an integer",
					    "milliseconds or a duration string",
					    ""};
	return names[t];
}

static const char *kind_name(enum toml_type t)
{
	switch (t) {
	case TOML_STRING:
		return "string";
	case TOML_INTEGER:
		return "integer";
	case TOML_FLOAT:
		return "float";
	case TOML_BOOL:
		return "boolean";
	case TOML_ARRAY:
		return "array";
	case TOML_TABLE:
		return "table";
	default:
		return "date-time";
	}
}

static int find_key(const char *table, const char *name, const int *only, size_t nonly)
{
	for (int i = 0; i < K_N; i++) {
		const struct air_key *k = &air_keys[i];
		if ((!table) != (!k->table) || (table && strcmp(table, k->table) != 0))
			continue;
		if (strcmp(name, k->name) != 0)
			continue;
		if (!only)
			return i;
		for (size_t j = 0; j < nonly; j++)
			if (only[j] == i)
				return i;
	}
	return -1;
}

static void unknown(struct air *a, const char *table, const struct toml_kv *kv)
{
	const char *cands[K_N + N_AIR_TABLES];
	size_t n = 0;
	for (int i = 0; i < K_N; i++) {
		const struct air_key *k = &air_keys[i];
		if ((!table && !k->table) || (table && k->table && strcmp(table, k->table) == 0))
			cands[n++] = k->name;
	}
	if (!table)
		for (size_t i = 0; i < N_AIR_TABLES; i++)
			cands[n++] = air_tables[i];
	const char *s = config_suggest(kv->key, cands, n);
	air_note(a, kv->key_pos, "unknown air key '%s%s%.64s' ignored%s%s%s", table ? table : "",
		 table ? "." : "", kv->key, s ? "; did you mean '" : "", s ? s : "", s ? "'?" : "");
}

static void walk(struct air *a, const char *table, const struct toml_value *tv, const int *only,
		 size_t nonly)
{
	const struct toml_table *t = tv->u.tab;
	for (size_t i = 0; i < t->n; i++) {
		const struct toml_kv *kv = &t->items[i];
		if (!table) {
			bool is_table = false;
			for (size_t j = 0; j < N_AIR_TABLES; j++)
				is_table |= strcmp(kv->key, air_tables[j]) == 0;
			if (is_table) {
				if (kv->val.type == TOML_TABLE)
					walk(a, kv->key, &kv->val, NULL, 0);
				else
					air_err(a, kv->val.pos, "'%s': expected a table, got %s",
						kv->key, kind_name(kv->val.type));
				continue;
			}
		}
		int idx = find_key(table, kv->key, only, nonly);
		if (idx < 0) {
			unknown(a, table, kv);
			continue;
		}
		const struct air_key *k = &air_keys[idx];
		char *path = air_path(k);
		if (!type_ok(k, &kv->val)) {
			air_err(a, kv->val.pos, "'%s': expected %s, got %s", path,
				air_expect(k->type), kind_name(kv->val.type));
		} else if (idx == K_LINUX) {
			if (kv->val.type == TOML_TABLE)
				walk(a, "build", &kv->val, linux_keys,
				     sizeof(linux_keys) / sizeof(linux_keys[0]));
			else
				air_err(a, kv->val.pos, "'%s': expected a table, got %s", path,
					kind_name(kv->val.type));
		} else {
			a->found[idx] = kv;
			if (k->note)
				air_note(a, kv->key_pos, "'%s' has no baton equivalent (%s)", path,
					 k->note);
		}
		free(path);
	}
}

/* ---- reading values, with air's defaults ---- */

static const char *str(const struct air *a, int k, const char *dflt)
{
	return a->found[k] ? a->found[k]->val.u.str.ptr : dflt;
}

static bool boolean(const struct air *a, int k, bool dflt)
{
	return a->found[k] ? a->found[k]->val.u.b : dflt;
}

static int64_t integer(struct air *a, int k, int64_t dflt, int64_t min, int64_t max)
{
	if (!a->found[k])
		return dflt;
	int64_t v = a->found[k]->val.u.i;
	if (v < min || v > max) {
		char *path = air_path(&air_keys[k]);
		air_err(a, a->found[k]->val.pos, "'%s': %lld is out of range (%lld..%lld)", path,
			(long long)v, (long long)min, (long long)max);
		free(path);
		return dflt;
	}
	return v;
}

/* The array at k, or the comma-separated default. */
static void list(const struct air *a, int k, const char *dflt, struct strv *out)
{
	strv_release(out);
	if (a->found[k]) {
		const struct toml_array *arr = &a->found[k]->val.u.arr;
		for (size_t i = 0; i < arr->n; i++)
			if (k == K_ARGS_BIN || arr->items[i].u.str.ptr[0]) /* "" matches nothing */
				strv_push(out, arr->items[i].u.str.ptr);
		return;
	}
	if (!dflt)
		return;
	char *copy = xstrdup(dflt), *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
		strv_push(out, t);
	free(copy);
}

/* air's kill_delay: a duration string, or an integer read as nanoseconds, except that values
 * under a millisecond are taken as milliseconds (runner/config.go killDelay). */
static int64_t kill_delay_ms(struct air *a)
{
	const struct toml_value *v = &a->found[K_KILL_DELAY]->val;
	if (v->type == TOML_STRING) {
		int64_t ms;
		char *why = NULL;
		if (duration_parse_ms(v->u.str.ptr, &ms, &why) < 0) {
			air_err(a, v->pos, "'build.kill_delay': invalid duration \"%.64s\": %s",
				v->u.str.ptr, why);
			free(why);
			return 0;
		}
		return ms;
	}
	if (v->u.i < 0) {
		air_err(a, v->pos, "'build.kill_delay': must not be negative");
		return 0;
	}
	return v->u.i < 1000000 ? v->u.i : v->u.i / 1000000;
}

static char *shell_quote_join(const struct strv *sv)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < sv->n; i++) {
		const char *s = sv->v[i];
		if (i)
			buf_putc(&b, ' ');
		if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
				    "_-./=:@%+,") == strlen(s)) {
			buf_puts(&b, s);
			continue;
		}
		buf_putc(&b, '\'');
		for (; *s; s++) {
			if (*s == '\'')
				buf_puts(&b, "'\\''");
			else
				buf_putc(&b, *s);
		}
		buf_putc(&b, '\'');
	}
	return buf_detach(&b);
}

static void push_unique(struct strv *sv, const char *s)
{
	if (*s && !strv_contains(sv, s))
		strv_push(sv, s);
}

static void map_build(struct air *a, struct config *cfg, const char *tmp)
{
	char *dflt_cmd = xasprintf("go build -o ./%s/main .", tmp);
	const char *cmd = str(a, K_CMD, dflt_cmd);
	struct strv pre = STRV_INIT;
	list(a, K_PRE_CMD, NULL, &pre);
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < pre.n; i++)
		buf_printf(&b, "%s%s", i ? " && " : "", pre.v[i]);
	if (*cmd)
		buf_printf(&b, "%s%s", pre.n ? " && " : "", cmd);
	free(cfg->build.cmd);
	cfg->build.cmd = b.len ? buf_detach(&b) : NULL;
	buf_release(&b);
	strv_release(&pre);
	free(dflt_cmd);
	/* only when set: air's default (1000 ms) stood in for the settle window baton has */
	cfg->build.delay_ms = integer(a, K_DELAY, 0, 0, 24LL * 3600 * 1000);
	cfg->build.stop_on_error = boolean(a, K_STOP_ON_ERROR, false);
}

static void map_run(struct air *a, struct config *cfg, const char *tmp)
{
	char *dflt_bin = xasprintf("./%s/main", tmp);
	const char *bin = str(a, K_BIN, dflt_bin);
	const char *full = str(a, K_FULL_BIN, "");
	struct strv entry = STRV_INIT;
	list(a, K_ENTRYPOINT, NULL, &entry);
	free(cfg->run.cmd);
	if (*full)
		cfg->run.cmd = xstrdup(full);
	else if (entry.n)
		cfg->run.cmd = shell_quote_join(&entry);
	else if (*bin && !strchr(bin, '/'))
		cfg->run.cmd = xasprintf("./%s", bin);
	else
		cfg->run.cmd = xstrdup(bin);
	if (!*cfg->run.cmd) {
		const struct toml_kv *kv = a->found[K_BIN];
		air_err(a, kv ? kv->val.pos : (struct toml_pos){1, 1},
			"'build.bin': air has nothing to run (set build.bin, build.entrypoint or "
			"build.full_bin)");
	}
	strv_release(&entry);
	free(dflt_bin);
	list(a, K_ARGS_BIN, NULL, &cfg->run.args);
	list(a, K_ENV_FILES, NULL, &cfg->run.env_file);
	cfg->run.ready = READY_EXEC;
	cfg->run.restart_on_crash = boolean(a, K_RERUN, false);
	/* air's send_interrupt = false kills with SIGKILL at once; baton keeps its graceful
	 * SIGTERM there, and SIGINT when air was asked for it */
	if (boolean(a, K_SEND_INTERRUPT, false))
		cfg->run.stop_signal = SIGINT;
	if (a->found[K_KILL_DELAY])
		cfg->run.stop_timeout_ms = kill_delay_ms(a);
}

static void map_watch(struct air *a, struct config *cfg, const char *tmp, const char *testdata)
{
	list(a, K_INCLUDE_EXT, "go,tpl,tmpl,html", &cfg->watch.include_ext);
	if (strv_contains(&cfg->watch.include_ext, "*"))
		strv_release(&cfg->watch.include_ext); /* air's "*": every file */
	for (size_t i = 0; i < cfg->watch.include_ext.n; i++) {
		char *e = cfg->watch.include_ext.v[i];
		if (e[0] == '.' && e[1])
			memmove(e, e + 1, strlen(e));
	}
	char *dflt = xasprintf("assets,%s,vendor,%s", tmp, testdata);
	list(a, K_EXCLUDE_DIR, dflt, &cfg->watch.exclude_dir);
	free(dflt);
	/* always skipped by air: tmp_dir, testdata_dir, hidden directories */
	push_unique(&cfg->watch.exclude_dir, tmp);
	push_unique(&cfg->watch.exclude_dir, testdata);
	push_unique(&cfg->watch.exclude_dir, ".git");
	push_unique(&cfg->watch.exclude_dir, ".baton");
	list(a, K_INCLUDE_DIR, NULL, &cfg->watch.include_dir);
	list(a, K_INCLUDE_FILE, NULL, &cfg->watch.include_file);
	list(a, K_EXCLUDE_FILE, NULL, &cfg->watch.exclude);
	list(a, K_EXCLUDE_REGEX, "_test.go", &cfg->watch.exclude_regex);
	const struct toml_kv *rx = a->found[K_EXCLUDE_REGEX];
	for (size_t i = 0; rx && i < rx->val.u.arr.n; i++) {
		const struct toml_value *it = &rx->val.u.arr.items[i];
		regex_t re;
		int rc = regcomp(&re, it->u.str.ptr, REG_EXTENDED | REG_NOSUB);
		if (rc == 0) {
			regfree(&re);
			continue;
		}
		char why[128];
		regerror(rc, &re, why, sizeof(why));
		air_err(a, it->pos,
			"'build.exclude_regex': \"%.64s\" is not a POSIX extended regular "
			"expression: %s",
			it->u.str.ptr, why);
	}
	if (boolean(a, K_POLL, false))
		cfg->watch.poll = POLL_FORCE;
	int64_t pi = integer(a, K_POLL_INTERVAL, 0, 0, 24LL * 3600 * 1000);
	cfg->watch.poll_interval_ms = pi < 500 ? 500 : pi; /* air's minimum */
}

static void map_log(struct air *a, struct config *cfg)
{
	cfg->log.timestamps = boolean(a, K_LOG_TIME, false);
	const char *mode = str(a, K_COLOR_MODE, "auto");
	if (strcmp(mode, "auto") == 0)
		cfg->log.color = LOG_COLOR_AUTO;
	else if (strcmp(mode, "always") == 0)
		cfg->log.color = LOG_COLOR_ALWAYS;
	else if (strcmp(mode, "never") == 0)
		cfg->log.color = LOG_COLOR_NEVER;
	else
		air_err(a, a->found[K_COLOR_MODE]->val.pos,
			"'color.mode': expected \"auto\", \"always\" or \"never\", got \"%.64s\"",
			mode);
}

/* air's proxy listens on proxy_port and forwards to the app on app_port: exactly a baton
 * forward listener, minus the browser live-reload script injection. */
static void map_proxy(struct air *a, struct config *cfg)
{
	const struct toml_kv *en = a->found[K_PROXY_ENABLED];
	static const int keys[] = {K_PROXY_PORT, K_APP_PORT, K_APP_START_TIMEOUT};
	if (!boolean(a, K_PROXY_ENABLED, false)) {
		for (size_t i = 0; i < 3; i++)
			if (a->found[keys[i]]) {
				char *path = air_path(&air_keys[keys[i]]);
				air_note(a, a->found[keys[i]]->key_pos,
					 "'%s' has no baton equivalent while the proxy is off "
					 "(baton holds the port itself; see [[listen]])",
					 path);
				free(path);
			}
		if (en)
			air_note(a, en->key_pos,
				 "'proxy.enabled' has no baton equivalent (baton holds the port "
				 "itself; see [[listen]])");
		return;
	}
	int64_t pp = integer(a, K_PROXY_PORT, 0, 0, 65535);
	int64_t ap = integer(a, K_APP_PORT, 0, 0, 65535);
	if (pp == 0 || ap == 0) {
		air_err(a, en->val.pos,
			"'proxy.enabled': proxy_port and app_port must both be set");
		return;
	}
	if (pp == ap) {
		air_err(a, a->found[K_APP_PORT]->val.pos,
			"'proxy.app_port': must differ from proxy_port (%lld)", (long long)pp);
		return;
	}
	cfg->listen = xcalloc(1, sizeof(*cfg->listen));
	cfg->nlisten = 1;
	config_scope_defaults(CS_LISTEN, &cfg->listen[0]);
	cfg->listen[0].name = xstrdup("http");
	cfg->listen[0].address = xasprintf(":%lld", (long long)pp);
	cfg->listen[0].forward = xasprintf("127.0.0.1:%lld", (long long)ap);
	cfg->run.ready = READY_PORT;
	cfg->run.ready_timeout_ms = integer(a, K_APP_START_TIMEOUT, 5000, 1, 24LL * 3600 * 1000);
	air_note(a, en->key_pos,
		 "'proxy.enabled' has no exact baton equivalent: mapped to a [[listen]] on "
		 "\":%lld\" forwarding to \"127.0.0.1:%lld\" (the app gets PORT=%lld), without "
		 "browser live reload",
		 (long long)pp, (long long)ap, (long long)ap);
}

void config_air_apply(struct config *cfg, const struct toml_value *root, const char *file,
		      struct config_diags *d, struct strv *notes)
{
	struct air a = {.file = file, .d = d, .notes = notes};
	walk(&a, NULL, root, NULL, 0);
	if (a.errors)
		return;
	const char *tmp = str(&a, K_TMP, "tmp");
	const char *testdata = str(&a, K_TESTDATA, "testdata");
	if (!*tmp)
		tmp = "tmp";
	if (!*testdata)
		testdata = "testdata";
	const char *r = str(&a, K_ROOT, ".");
	free(cfg->root);
	cfg->root = xstrdup(*r ? r : ".");
	map_build(&a, cfg, tmp);
	map_run(&a, cfg, tmp);
	map_watch(&a, cfg, tmp, testdata);
	map_log(&a, cfg);
	map_proxy(&a, cfg);
}
