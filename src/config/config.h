/* The effective configuration: loaded from baton.toml, from air's .air.toml, or zero-config
 * defaults. Every key is described once in the schema table (config_schema.c): type, default,
 * validator, help. All durations are milliseconds; all paths are as written (relative to root)
 * unless stated. The struct is plain data: modules read it, nobody mutates it after load. */
#ifndef BATON_CONFIG_H
#define BATON_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "util/strv.h"

enum config_source { CONFIG_SRC_FILE, CONFIG_SRC_AIR, CONFIG_SRC_DEFAULT };
enum ready_kind { READY_NOTIFY, READY_EXEC, READY_DELAY, READY_PORT, READY_HTTP };
/* [[listen]] proxy (the HTTP front): none, or baton speaks HTTP/1.1 on the listener. */
enum listen_proxy { LISTEN_PROXY_NONE, LISTEN_PROXY_HTTP, LISTEN_PROXY_HTTPS };
enum poll_mode { POLL_AUTO, POLL_FORCE, POLL_OFF };
enum action_kind { ACTION_RESTART, ACTION_SIGNAL, ACTION_EXEC };

struct cfg_action {
	enum action_kind kind;
	int signal; /* ACTION_SIGNAL */
	char *cmd;  /* ACTION_EXEC (run by sh -c) */
};

/* A list of percents, e.g. [rollout] steps. */
#define CFG_PERCENTS_MAX 16
struct cfg_percents {
	int v[CFG_PERCENTS_MAX];
	int n;
};

struct cfg_listen {
	char *name;	     /* LISTEN_FDNAMES entry; defaults to "listen<N>" */
	char *address;	     /* as written: ":8080", "[::1]:8080", "unix:/p", "unix:@abstract" */
	char *forward;	     /* NULL, or "host:port" the app binds itself (forward mode) */
	int backlog;	     /* listen(2) backlog, default 4096 */
	int max_connections; /* forward and proxy listeners: client connections at once */
	enum listen_proxy proxy; /* the HTTP front (proxy mode): LISTEN_PROXY_HTTP or _HTTPS */
	struct strv tls; /* proxy = "https": [[tls]] group names; the first is the default */
};

struct cfg_reload {
	char *name;
	struct strv paths;
	char *check; /* NULL or a command; non-zero exit = rejected */
	int64_t check_timeout_ms;
	struct cfg_action action;
};

struct cfg_tls {
	char *name; /* named by [[listen]] tls (NULL when unnamed) */
	char *cert;
	char *key;
	struct strv hostnames;
	char *ca; /* NULL or a bundle to verify the chain against */
	struct cfg_action action;
	/* An https listener names this group: the front swaps the certificate in live. Unless
	 * `action` is written (act), nothing else is done and a rejection holds no reload. */
	bool front;
	bool act;
};

/* [[source]] (config sources: etcd): one key, or every key under a prefix, kept in a file or a
 * directory through the same check-then-apply pipeline as [[reload]]. */
struct cfg_source {
	char *name;
	struct strv etcd; /* endpoints "http://host:port", tried in turn */
	char *key;	  /* exactly one of key / prefix */
	char *prefix;
	char *file; /* relative to root unless absolute; a directory with prefix */
	char *check;
	int64_t check_timeout_ms;
	struct cfg_action action;
	char *username; /* etcd auth (with password), or NULL */
	char *password;
	char *ca;   /* https:// endpoints: CA bundle (NULL: the system's), relative to root */
	char *cert; /* client certificate (with cert_key), or NULL */
	char *cert_key;
	int64_t initial_timeout_ms;
};

struct config {
	enum config_source source;
	char *path; /* the file loaded (absolute), NULL for zero-config */
	char *dir;  /* directory of the file (absolute), or the cwd for zero-config */
	char *root; /* absolute; "root" resolved against dir */

	struct {
		char *cmd;	    /* NULL: no build step */
		int64_t delay_ms;   /* wait after a change before building (air's build.delay) */
		bool stop_on_error; /* stop the app when a build fails (off by default) */
	} build;

	struct {
		char *cmd;
		struct strv args; /* appended to cmd (air's args_bin, and ARGS after --) */
		struct strv env;  /* "KEY=VALUE", in file order */
		struct strv env_file;
		enum ready_kind ready;
		int64_t ready_delay_ms; /* READY_DELAY */
		char *ready_path; /* READY_HTTP: "/healthz" (GET on the private socket, 2xx) */
		int64_t ready_timeout_ms;
		int stop_signal;
		int64_t stop_timeout_ms;
		bool restart_on_crash;
		int reload_signal; /* 0: reload starts a new generation */
		bool overlap;	   /* dev: start the new app before stopping the old one */
		int max_draining;  /* production: bound on draining generations */
		int fd_store_max;  /* FDSTORE=1 fds kept for the next generations */
		/* bind takeover (sup/takeover.h) */
		char *takeover; /* "auto" (default) | "off" */
		bool ready_set; /* 'ready' was written in the file */
	} run;

	struct cfg_listen *listen;
	int nlisten;

	struct {
		struct strv paths;
		struct strv include_ext; /* without dots; empty = every file */
		struct strv include_dir;
		struct strv include_file;
		struct strv exclude_dir;
		struct strv exclude;	   /* globs relative to root, "**" allowed */
		struct strv exclude_regex; /* POSIX ERE, matched against the relative path */
		bool gitignore;
		int64_t debounce_ms;
		int64_t max_wait_ms;	/* settle window cap */
		int64_t fast_settle_ms; /* quiet time after completed writes; 0: off */
		enum poll_mode poll;
		int64_t poll_interval_ms;
	} watch;

	struct cfg_reload *reload;
	int nreload;
	struct cfg_tls *tls;
	int ntls;
	/* [[source]] (config sources) */
	struct cfg_source *sources;
	int nsources;

	struct {
		char *socket; /* relative to root unless absolute */
	} control;

	/* The HTTP front (proxy mode, issue 12): [proxy] limits, [health] checks, [dev]. */
	struct {
		int64_t header_timeout_ms; /* a client head not complete by then: 408 */
		int64_t idle_timeout_ms;   /* a keep-alive client idle this long is closed */
		int max_header_size;	   /* bytes; a bigger request head: 431 */
		/* private sockets (own ports behind the front): "unix" (default) or "tcp" */
		char *private_socket;
	} proxy;
	struct {
		char *path; /* NULL: no active checks (passive ones still count) */
		int64_t interval_ms;
		int64_t timeout_ms;
		int rise; /* consecutive passed checks that bring a generation up */
		int fall; /* consecutive failed checks that take it down */
	} health;
	struct {
		bool live_reload; /* baton dev: reload browser pages when a generation is ready */
	} dev;
	/* [rollout]: canary and blue-green through the HTTP front (rollout/rollout.h) */
	struct {
		char *strategy; /* "immediate" | "canary" | "blue-green" */
		struct cfg_percents steps;
		int64_t interval_ms;
		int min_requests;
		double max_error_rate; /* percent */
		double max_latency_ratio;
		int64_t latency_floor_ms;
		int fast_fail;
		bool sticky;
		char *preview_header;
		char *on_no_traffic; /* "hold" | "promote" | "rollback" */
		int64_t keep_old_ms;
	} rollout;

	/* [metrics]: baton's own HTTP listener for /metrics, the status page and /events */
	struct {
		char *address; /* NULL: off */
	} metrics;

	struct {
		int color; /* enum log_color */
		bool json;
		bool timestamps;
	} log;
};

/* One config problem: "file:line:col: message". */
struct config_diag {
	char *file;
	unsigned line, col;
	char *msg;
};

struct config_diags {
	struct config_diag *v;
	int n, cap;
};

/* Find and load the config: explicit path, else ./baton.toml, else ./.air.toml, else zero-config
 * defaults, searched in cwd. Returns the config, or NULL when there are errors (all of them in
 * *diags). Notes about air keys without an equivalent go to *notes (one line each). */
struct config *config_load(const char *explicit_path, const char *cwd, struct config_diags *diags,
			   struct strv *notes);
/* The same for `baton watch` (vcs): a file with only a [watch] table is fine, the [run] keys
 * that running an app needs (run.cmd) are not required (cfg->run.cmd may be NULL). */
struct config *config_load_watch(const char *explicit_path, const char *cwd,
				 struct config_diags *diags, struct strv *notes);
/* Load from a buffer (for tests); name is used in diagnostics; is_air selects air's format. */
struct config *config_load_buffer(const char *name, const char *dir, const char *data, size_t len,
				  bool is_air, struct config_diags *diags, struct strv *notes);
void config_free(struct config *cfg);
void config_diags_print(const struct config_diags *d, int fd);
void config_diags_release(struct config_diags *d);
/* Write the effective config as a valid baton.toml (for `baton check --print`). */
char *config_to_toml(const struct config *cfg);

/* Zero-config defaults for a Go main package in dir (absolute): build "go build -o
 * .baton/bin/app <pkg>", run ".baton/bin/app", ready "exec", no listener. The package is
 * config_find_go_main(dir), or "." when there is none. */
struct config *config_load_default(const char *dir);
/* The Go main package of the project in dir: "." when dir holds a non-test .go file with
 * "package main", else "./cmd/NAME" for the first such cmd/ subdirectory (fresh string), or
 * NULL when there is none. */
char *config_find_go_main(const char *dir);
/* Print notes (one per line) to fd. */
void config_notes_print(const struct strv *notes, int fd);

#endif
