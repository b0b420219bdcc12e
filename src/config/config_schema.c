/* The schema: every baton.toml key once, with its type, default, bounds and help text.
 * Loading (config_load.c, storing in config_store.c), defaults, printing (config_print.c) and
 * docs/config.md all follow this table. */
#include "config/config_impl.h"

#include <stddef.h>
#include <string.h>

#define R(f) offsetof(struct config, f)
#define L(f) offsetof(struct cfg_listen, f)
#define RL(f) offsetof(struct cfg_reload, f)
#define T(f) offsetof(struct cfg_tls, f)
#define SRC(f) offsetof(struct cfg_source, f)
#define DAY (24LL * 3600 * 1000)

/* clang-format off */
const struct config_key config_keys[] = {
	{NULL, "root", CT_STR, CS_ROOT, R(root), 0, ".", 0, 0, CK_NONEMPTY,
	 "the project directory, relative to the config file's directory; watched paths, commands "
	 "and relative socket paths start here"},

	{"build", "cmd", CT_OPTSTR, CS_ROOT, R(build.cmd), 0, NULL, 0, 0, 0,
	 "build command, run by /bin/sh -c in root before each start; \"\" = no build step"},
	{"build", "delay", CT_DURATION, CS_ROOT, R(build.delay_ms), 0, "0", 0, DAY, 0,
	 "extra wait after a change batch before building (air's build.delay)"},
	{"build", "stop_on_error", CT_BOOL, CS_ROOT, R(build.stop_on_error), 0, "false", 0, 0, 0,
	 "stop the running app when a build fails (by default it keeps serving)"},

	{"run", "cmd", CT_STR, CS_ROOT, R(run.cmd), 0, NULL, 0, 0, CK_REQUIRED | CK_NONEMPTY,
	 "the app, run by /bin/sh -c in root (exec'd: the app is the process)"},
	{"run", "args", CT_STRV, CS_ROOT, R(run.args), 0, NULL, 0, 0, CK_EMPTY_ITEMS,
	 "arguments appended to cmd, shell-quoted (ARGS after -- come after these)"},
	{"run", "env", CT_ENV, CS_ROOT, R(run.env), 0, NULL, 0, 0, 0,
	 "extra environment for the app, as a table: { GIN_MODE = \"release\" }"},
	{"run", "env_file", CT_STRV, CS_ROOT, R(run.env_file), 0, NULL, 0, 0, 0,
	 "files of KEY=VALUE lines loaded into the app's environment before each start"},
	{"run", "ready", CT_READY, CS_ROOT, R(run.ready), R(run.ready_delay_ms), "notify", 0, 0, 0,
	 "when a new generation counts as serving: \"notify\" (it sends READY=1 on NOTIFY_SOCKET), "
	 "\"exec\" (once started), \"delay:500ms\" (that long after start, if still running), "
	 "\"port\" (it accepts on its forward port) or \"http:/healthz\" (a GET of that path on "
	 "its private socket answers 2xx; needs a [[listen]] with proxy = \"http\")"},
	/* bind takeover */
	{"run", "takeover", CT_STR, CS_ROOT, R(run.takeover), 0, "auto", 0, 0, CK_NONEMPTY,
	 "\"auto\": hold the TCP ports the app binds itself across generations (seccomp; Linux "
	 ">= 5.9), \"off\": the app binds as usual"},
	{"run", "ready_timeout", CT_DURATION, CS_ROOT, R(run.ready_timeout_ms), 0, "30s", 1, DAY, 0,
	 "a generation not ready by then is killed; the previous one keeps serving"},
	{"run", "stop_signal", CT_SIGNAL, CS_ROOT, R(run.stop_signal), 0, "SIGTERM", 0, 0, 0,
	 "sent to the app to stop: stop accepting, finish in-flight requests, exit"},
	{"run", "stop_timeout", CT_DURATION, CS_ROOT, R(run.stop_timeout_ms), 0, "10s", 0, DAY, 0,
	 "then SIGKILL to the whole process group"},
	{"run", "restart_on_crash", CT_BOOL, CS_ROOT, R(run.restart_on_crash), 0, "true", 0, 0, 0,
	 "restart an app that exits on its own, with capped exponential backoff; sockets stay held"},
	{"run", "reload_signal", CT_OPTSIGNAL, CS_ROOT, R(run.reload_signal), 0, "", 0, 0, 0,
	 "if set (e.g. \"SIGHUP\"), `baton reload` signals the app instead of starting a new "
	 "generation"},
	{"run", "overlap", CT_BOOL, CS_ROOT, R(run.overlap), 0, "false", 0, 0, 0,
	 "dev: start the new app before stopping the old one (production always overlaps)"},
	{"run", "max_draining", CT_INT, CS_ROOT, R(run.max_draining), 0, "4", 1, 64, 0,
	 "production: at most this many old generations draining at once"},
	{"run", "fd_store_max", CT_INT, CS_ROOT, R(run.fd_store_max), 0, "64", 0, 1024, 0,
	 "file descriptors the app may store with FDSTORE=1 (systemd's FileDescriptorStoreMax); "
	 "handed to every later generation after the listeners; 0: refuse them"},

	{"listen", "name", CT_NAME, CS_LISTEN, L(name), 0, NULL, 0, 0, 0,
	 "passed in LISTEN_FDNAMES (default \"listen1\", \"listen2\", ... by position)"},
	{"listen", "address", CT_ADDRESS, CS_LISTEN, L(address), 0, NULL, 0, 0,
	 CK_REQUIRED | CK_NONEMPTY,
	 "\":8080\", \"host:8080\", \"[::1]:8080\", \"unix:/path/to.sock\" or \"unix:@abstract\""},
	{"listen", "forward", CT_FORWARD, CS_LISTEN, L(forward), 0, NULL, 0, 0, 0,
	 "for apps that bind their own port: baton accepts on address and forwards to this "
	 "\"host:port\"; the app gets PORT"},
	{"listen", "backlog", CT_INT, CS_LISTEN, L(backlog), 0, "4096", 1, 65535, 0,
	 "listen(2) backlog: connections wait here while the app restarts"},
	{"listen", "max_connections", CT_INT, CS_LISTEN, L(max_connections), 0, "4096", 0, 1000000,
	 0,
	 "forward listeners: connections relayed at once; at the cap accepting pauses (new ones "
	 "wait in the backlog, none is refused); 0 = 4096"},

	/* The HTTP front (proxy mode, issue 12): [[listen]] proxy, [proxy], [health], [dev]. */
	{"listen", "proxy", CT_PROXY, CS_LISTEN, L(proxy), 0, "", 0, 0, 0,
	 "\"http\": baton accepts on address and speaks HTTP/1.1 to clients; each generation gets "
	 "a private socket of its own (same fd, same LISTEN_FDNAMES name; with forward, a loopback "
	 "PORT of its own) and client connections outlive generations; \"https\": the same behind "
	 "TLS that baton terminates (see tls); \"\" = hand the socket over"},
	{"listen", "tls", CT_STRV, CS_LISTEN, L(tls), 0, NULL, 0, 0, 0,
	 "proxy = \"https\": the [[tls]] groups (by name) whose certificates baton serves; SNI "
	 "picks among them, the first is the default"},
	{"proxy", "header_timeout", CT_DURATION, CS_ROOT, R(proxy.header_timeout_ms), 0, "10s", 1,
	 DAY, 0, "a client whose request head is not complete by then gets 408 and is closed"},
	{"proxy", "idle_timeout", CT_DURATION, CS_ROOT, R(proxy.idle_timeout_ms), 0, "60s", 1, DAY,
	 0, "a keep-alive client connection idle this long is closed"},
	{"proxy", "max_header_size", CT_INT, CS_ROOT, R(proxy.max_header_size), 0, "65536", 1024,
	 1048576, 0, "bytes; a request head bigger than this gets 431"},
	/* private sockets of generations behind the front (own ports behind the front) */
	{"proxy", "private_socket", CT_STR, CS_ROOT, R(proxy.private_socket), 0, "unix", 0, 0,
	 CK_NONEMPTY,
	 "what each generation listens on behind the front: \"unix\" (a socket file, 0600) or "
	 "\"tcp\" (a loopback port, 10-20% more CPU per request: the app sees the front's address "
	 "as its peer, so Gin's ClientIP() works); an app that binds its own port always gets "
	 "TCP"},
	{"health", "path", CT_URLPATH, CS_ROOT, R(health.path), 0, "", 0, 0, 0,
	 "if set (e.g. \"/healthz\"), serving generations are checked with a GET of this path "
	 "(2xx passes); \"\" = only passive checks (5 consecutive 5xx or connect errors)"},
	{"health", "interval", CT_DURATION, CS_ROOT, R(health.interval_ms), 0, "2s", 10, DAY, 0,
	 "time between two checks of a generation"},
	{"health", "timeout", CT_DURATION, CS_ROOT, R(health.timeout_ms), 0, "1s", 1, DAY, 0,
	 "a check not answered by then failed (at most interval)"},
	{"health", "rise", CT_INT, CS_ROOT, R(health.rise), 0, "2", 1, 1000, 0,
	 "consecutive passed checks that bring a down generation up"},
	{"health", "fall", CT_INT, CS_ROOT, R(health.fall), 0, "3", 1, 1000, 0,
	 "consecutive failed checks that take a generation down (no traffic while another is up)"},
	{"dev", "live_reload", CT_BOOL, CS_ROOT, R(dev.live_reload), 0, "false", 0, 0, 0,
	 "baton dev with proxy = \"http\": HTML pages reload themselves when a new generation is "
	 "ready"},

	{"watch", "paths", CT_STRV, CS_ROOT, R(watch.paths), 0, ".", 0, 0, 0,
	 "dev: directories (or files) watched, relative to root"},
	{"watch", "include_ext", CT_EXTV, CS_ROOT, R(watch.include_ext), 0, "go,tmpl,tpl,html", 0, 0,
	 0, "extensions that trigger a rebuild; [] = every file"},
	{"watch", "include_dir", CT_STRV, CS_ROOT, R(watch.include_dir), 0, NULL, 0, 0, 0,
	 "if not empty, only changes under these directories count"},
	{"watch", "include_file", CT_STRV, CS_ROOT, R(watch.include_file), 0, NULL, 0, 0, 0,
	 "files that count whatever their extension"},
	{"watch", "exclude_dir", CT_STRV, CS_ROOT, R(watch.exclude_dir), 0,
	 ".git,.baton,vendor,node_modules,tmp,testdata", 0, 0, 0,
	 "directories never watched (a name matches at any depth, a path from root)"},
	{"watch", "exclude", CT_STRV, CS_ROOT, R(watch.exclude), 0, "*_test.go", 0, 0, 0,
	 "globs relative to root (\"**\" crosses directories) whose changes are ignored"},
	{"watch", "exclude_regex", CT_REGEXV, CS_ROOT, R(watch.exclude_regex), 0, NULL, 0, 0, 0,
	 "POSIX extended regular expressions matched against the path relative to root"},
	{"watch", "gitignore", CT_BOOL, CS_ROOT, R(watch.gitignore), 0, "true", 0, 0, 0,
	 "honour .gitignore files"},
	{"watch", "debounce", CT_DURATION, CS_ROOT, R(watch.debounce_ms), 0, "50ms", 0, DAY, 0,
	 "quiet time after the last change before a batch is acted on"},
	{"watch", "max_wait", CT_DURATION, CS_ROOT, R(watch.max_wait_ms), 0, "1s", 0, DAY, 0,
	 "a stream of changes is cut into a batch after at most this long"},
	{"watch", "fast_settle", CT_DURATION, CS_ROOT, R(watch.fast_settle_ms), 0, "5ms", 0, DAY, 0,
	 "quiet time that replaces debounce while the batch is only a few completely written "
	 "files (closed after writing, or renamed into place); \"0s\": always the full debounce"},
	{"watch", "poll", CT_POLL, CS_ROOT, R(watch.poll), R(watch.poll_interval_ms), "auto", 0, 0, 0,
	 "\"auto\": inotify, polling only where events cannot arrive; \"off\": never poll; a "
	 "duration such as \"1s\": always poll, that often"},
	{"watch", "poll_interval", CT_DURATION, CS_ROOT, R(watch.poll_interval_ms), 0, "500ms", 10,
	 DAY, 0, "how often to poll where polling is used"},

	{"reload", "name", CT_NAME, CS_RELOAD, RL(name), 0, NULL, 0, 0, 0,
	 "shown in logs and `baton status` (default \"reload1\", ... by position)"},
	{"reload", "paths", CT_STRV, CS_RELOAD, RL(paths), 0, NULL, 0, 0, CK_REQUIRED | CK_NONEMPTY,
	 "files or directories (relative to root) whose change triggers the action"},
	{"reload", "check", CT_OPTSTR, CS_RELOAD, RL(check), 0, NULL, 0, 0, 0,
	 "optional command (sh -c); a non-zero exit rejects the change and the app is untouched"},
	{"reload", "check_timeout", CT_DURATION, CS_RELOAD, RL(check_timeout_ms), 0, "30s", 1, DAY, 0,
	 "a check still running after this is killed and the change rejected"},
	{"reload", "action", CT_ACTION, CS_RELOAD, RL(action), 0, "restart", 0, 0, 0,
	 "\"restart\" (a new generation), \"signal:SIGHUP\" or \"exec:CMD\" (sh -c)"},

	{"tls", "name", CT_NAME, CS_TLS, T(name), 0, NULL, 0, 0, 0,
	 "the group's name, for [[listen]] tls (an https listener serves the certificate and swaps "
	 "it in live when it changes and passes its checks)"},
	{"tls", "cert", CT_STR, CS_TLS, T(cert), 0, NULL, 0, 0, CK_REQUIRED | CK_NONEMPTY,
	 "PEM certificate (chain), relative to root"},
	{"tls", "key", CT_STR, CS_TLS, T(key), 0, NULL, 0, 0, CK_REQUIRED | CK_NONEMPTY,
	 "PEM private key matching cert"},
	{"tls", "hostnames", CT_STRV, CS_TLS, T(hostnames), 0, NULL, 0, 0, 0,
	 "every name must be covered by the certificate's subject alternative names"},
	{"tls", "ca", CT_OPTSTR, CS_TLS, T(ca), 0, NULL, 0, 0, 0,
	 "optional CA bundle: the chain must verify against it"},
	{"tls", "action", CT_ACTION, CS_TLS, T(action), 0, "restart", 0, 0, 0,
	 "\"restart\", \"signal:SIGHUP\" (apps that reload certificates themselves) or "
	 "\"exec:CMD\""},

	/* [[source]]: config sources (etcd) */
	{"source", "name", CT_NAME, CS_SOURCE, SRC(name), 0, NULL, 0, 0, 0,
	 "shown in logs, `baton status` and events (default \"source1\", ... by position)"},
	{"source", "etcd", CT_STRV, CS_SOURCE, SRC(etcd), 0, NULL, 0, 0, CK_REQUIRED | CK_NONEMPTY,
	 "etcd endpoints (\"http://127.0.0.1:2379\", \"https://10.0.0.1:2379\"), tried in turn"},
	{"source", "key", CT_OPTSTR, CS_SOURCE, SRC(key), 0, NULL, 0, 0, 0,
	 "one etcd key, written to file (give key or prefix)"},
	{"source", "prefix", CT_OPTSTR, CS_SOURCE, SRC(prefix), 0, NULL, 0, 0, 0,
	 "every key under this prefix, one file each in the directory file (swapped as a whole)"},
	{"source", "file", CT_STR, CS_SOURCE, SRC(file), 0, NULL, 0, 0, CK_REQUIRED | CK_NONEMPTY,
	 "where the value is kept, relative to root (a directory with prefix)"},
	{"source", "check", CT_OPTSTR, CS_SOURCE, SRC(check), 0, NULL, 0, 0, 0,
	 "optional command (sh -c) run on the staged copy ($BATON_FILE); non-zero rejects it"},
	{"source", "check_timeout", CT_DURATION, CS_SOURCE, SRC(check_timeout_ms), 0, "30s", 1, DAY,
	 0, "a check still running after this is killed and the value rejected"},
	{"source", "action", CT_ACTION, CS_SOURCE, SRC(action), 0, "restart", 0, 0, 0,
	 "once a new value is in place: \"restart\", \"signal:SIGHUP\" or \"exec:CMD\""},
	{"source", "username", CT_OPTSTR, CS_SOURCE, SRC(username), 0, NULL, 0, 0, 0,
	 "etcd user (auth enabled), with password"},
	{"source", "password", CT_OPTSTR, CS_SOURCE, SRC(password), 0, NULL, 0, 0, 0,
	 "the etcd user's password"},
	{"source", "ca", CT_OPTSTR, CS_SOURCE, SRC(ca), 0, NULL, 0, 0, 0,
	 "https:// endpoints: the CA bundle to verify etcd against (default: the system's)"},
	{"source", "cert", CT_OPTSTR, CS_SOURCE, SRC(cert), 0, NULL, 0, 0, 0,
	 "https:// endpoints: client certificate (PEM) for etcd's --client-cert-auth"},
	{"source", "cert_key", CT_OPTSTR, CS_SOURCE, SRC(cert_key), 0, NULL, 0, 0, 0,
	 "the client certificate's private key (PEM, unencrypted)"},
	{"source", "initial_timeout", CT_DURATION, CS_SOURCE, SRC(initial_timeout_ms), 0, "30s", 1,
	 DAY, 0, "at start with no file in place: how long to wait for etcd before failing"},

	{"control", "socket", CT_STR, CS_ROOT, R(control.socket), 0, ".baton/baton.sock", 0, 0,
	 CK_NONEMPTY, "control socket for reload/status/stop (mode 0600, same-uid peers only)"},

	/* [rollout] */
	{"rollout", "strategy", CT_STR, CS_ROOT, R(rollout.strategy), 0, "immediate", 0, 0, 0,
	 "\"immediate\": a new generation takes every request once ready; \"canary\": it gets "
	 "'steps' of them, each analysed, and is promoted or rolled back; \"blue-green\": all at once, "
	 "the old one kept warm 'keep_old' for 'baton rollback' (needs a [[listen]] with proxy)"},
	{"rollout", "steps", CT_PERCENTV, CS_ROOT, R(rollout.steps), 0, "10,50,100", 1, 100, 0,
	 "canary: percent of requests to the new generation, step by step (increasing)"},
	{"rollout", "interval", CT_DURATION, CS_ROOT, R(rollout.interval_ms), 0, "60s", 1, DAY, 0,
	 "canary: how long each step holds; its requests are analysed when it ends"},
	{"rollout", "min_requests", CT_INT, CS_ROOT, R(rollout.min_requests), 0, "100", 0, 100000000,
	 0, "fewer requests to the new generation in a step: the step is extended, never failed"},
	{"rollout", "max_error_rate", CT_DECIMAL, CS_ROOT, R(rollout.max_error_rate), 0, "1.0", 0,
	 100, 0, "percent of the new generation's requests that may be 5xx or failed in a step"},
	{"rollout", "max_latency_ratio", CT_DECIMAL, CS_ROOT, R(rollout.max_latency_ratio), 0, "1.5",
	 1, 1000, 0, "the new generation's p99 may be at most this times the old one's ..."},
	{"rollout", "latency_floor", CT_DURATION, CS_ROOT, R(rollout.latency_floor_ms), 0, "50ms", 0,
	 DAY, 0, "... checked only when the new p99 is above this"},
	{"rollout", "fast_fail", CT_INT, CS_ROOT, R(rollout.fast_fail), 0, "5", 0, 1000000, 0,
	 "this many consecutive 5xx or failed requests from the new generation roll back at once "
	 "(0: off)"},
	{"rollout", "sticky", CT_BOOL, CS_ROOT, R(rollout.sticky), 0, "true", 0, 0, 0,
	 "a client keeps the generation it first got for the whole rollout (cookie baton_gen, "
	 "else its connection)"},
	{"rollout", "preview_header", CT_OPTSTR, CS_ROOT, R(rollout.preview_header), 0,
	 "X-Baton-Preview", 0, 0, 0, "a request with this header always goes to the new generation"},
	{"rollout", "on_no_traffic", CT_STR, CS_ROOT, R(rollout.on_no_traffic), 0, "hold", 0, 0, 0,
	 "after 10 minutes without enough requests to judge: \"hold\", \"promote\" or "
	 "\"rollback\""},
	{"rollout", "keep_old", CT_DURATION, CS_ROOT, R(rollout.keep_old_ms), 0, "30s", 0, DAY, 0,
	 "blue-green: how long the old generation stays warm for 'baton rollback'"},
	/* [metrics] */
	{"metrics", "address", CT_OPTADDRESS, CS_ROOT, R(metrics.address), 0, "", 0, 0, 0,
	 "serve /metrics (Prometheus), the status page / and its event stream /events on this "
	 "address, such as \"127.0.0.1:9180\" or \"unix:.baton/metrics.sock\"; \"\": off"},
	{"log", "color", CT_COLOR, CS_ROOT, R(log.color), 0, "auto", 0, 0, 0,
	 "\"auto\" (a terminal, and NO_COLOR unset), \"always\" or \"never\""},
	{"log", "format", CT_LOGFORMAT, CS_ROOT, R(log.json), 0, "text", 0, 0, 0,
	 "\"text\" or \"json\" (one object per line)"},
	{"log", "timestamps", CT_BOOL, CS_ROOT, R(log.timestamps), 0, "false", 0, 0, 0,
	 "prefix baton's text lines with the UTC time"},
};
/* clang-format on */
const size_t config_nkeys = sizeof(config_keys) / sizeof(config_keys[0]);

const struct config_table config_tables[] = {
	{"build", CS_ROOT, "the build step (dev): a failed build never takes the running app down"},
	{"run", CS_ROOT, "the app"},
	{"listen", CS_LISTEN,
	 "sockets baton holds and hands to every generation (fds 3.., LISTEN_FDS)"},
	{"watch", CS_ROOT, "dev mode: what triggers a rebuild"},
	{"reload", CS_RELOAD, "production: files whose change triggers a reload"},
	{"tls", CS_TLS, "certificates validated before any reload they cause"},
	{"source", CS_SOURCE, "config sources: etcd keys kept in files through check-then-apply"},
	{"control", CS_ROOT, "the control socket"},
	{"proxy", CS_ROOT, "the HTTP front's limits (listeners with proxy = \"http\")"},
	{"health", CS_ROOT, "health checks of serving generations (proxy mode)"},
	{"dev", CS_ROOT, "dev mode in the browser (proxy mode)"},
	{"rollout", CS_ROOT, "progressive delivery: canary and blue-green with automatic rollback"},
	{"metrics", CS_ROOT, "observability: Prometheus metrics, a live status page, events"},
	{"log", CS_ROOT, "baton's own output"},
};
const size_t config_ntables = sizeof(config_tables) / sizeof(config_tables[0]);

const struct config_key *config_key_find(const char *table, const char *name)
{
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];
		if ((!table) != (!k->table))
			continue;
		if (table && strcmp(table, k->table) != 0)
			continue;
		if (strcmp(name, k->name) == 0)
			return k;
	}
	return NULL;
}

const struct config_table *config_table_find(const char *name)
{
	for (size_t i = 0; i < config_ntables; i++)
		if (strcmp(name, config_tables[i].name) == 0)
			return &config_tables[i];
	return NULL;
}

const char *config_type_expect(enum config_type t)
{
	switch (t) {
	case CT_STR:
	case CT_OPTSTR:
		return "a string";
	case CT_BOOL:
		return "true or false";
	case CT_INT:
		return "an integer";
	case CT_DURATION:
		return "a duration string such as \"10s\"";
	case CT_SIGNAL:
	case CT_OPTSIGNAL:
		return "a signal name such as \"SIGTERM\"";
	case CT_STRV:
	case CT_REGEXV:
		return "an array of strings";
	case CT_EXTV:
		return "an array of extensions such as [\"go\", \"html\"]";
	case CT_ENV:
		return "a table such as { KEY = \"value\" }";
	case CT_READY:
		return "\"notify\", \"exec\", \"port\", \"delay:DURATION\" or \"http:/PATH\"";
	case CT_ACTION:
		return "\"restart\", \"signal:SIGNAME\" or \"exec:COMMAND\"";
	case CT_POLL:
		return "\"auto\", \"off\" or a duration string";
	case CT_ADDRESS:
	case CT_OPTADDRESS:
		return "an address string such as \":8080\"";
	case CT_FORWARD:
		return "an address string such as \"127.0.0.1:8081\"";
	case CT_COLOR:
		return "\"auto\", \"always\" or \"never\"";
	case CT_LOGFORMAT:
		return "\"text\" or \"json\"";
	case CT_NAME:
		return "a name string";
	case CT_PROXY:
		return "\"http\", \"https\" or \"\"";
	case CT_URLPATH:
		return "a path such as \"/healthz\"";
	case CT_PERCENTV:
		return "an array of increasing percents such as [10, 50, 100]";
	case CT_DECIMAL:
		return "a number";
	}
	return "a value";
}
