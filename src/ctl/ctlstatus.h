/* The status document behind `baton status`: the run supervisor describes its state in a
 * struct ctlstatus (plain data; every pointer is borrowed and only read during the call) and
 * renders it here, so the format lives in one place. Pure: no clock, no I/O; times are given.
 *
 * JSON (`baton status --json`, `status json` on the socket), one object:
 *   {"version": "0.1.0", "pid": 812, "uptime_ms": 5000, "serving": 4 | null,
 *    "reloading": false, "stopping": false, "crashes": 0,
 *    "generations": [{"id": 4, "pid": 901, "state": "ready", "age_ms": 4000,
 *                     "ready_ms": 120 | null}, ...],                       oldest first
 *    "listeners": [{"name": "http", "address": ":8080"}, ...],
 *       a proxy listener adds "proxy": {"connections": 12, "generations": [{"id": 5,
 *       "inflight": 2, "tunnels": 0, "up": true}, ...]}   (open client connections; requests in
 *       flight and open Upgrade/CONNECT tunnels per generation behind the front)
 *    "last_reload": null | {"ok": true, "reason": "..." | null, "duration_ms": 120,
 *                           "at": "2024-05-01T12:00:00.000Z" | null, "ago_ms": 1000},
 *    "fd_store": {"count": 1, "max": 64, "names": ["counter"]}}     only when not empty
 * Keys may be added later; none will be removed or change meaning.
 *
 * Text: a few lines for humans (header, listeners, a table of generations, last reload). */
#ifndef BATON_CTLSTATUS_H
#define BATON_CTLSTATUS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct ctlstatus_gen {
	int id;
	pid_t pid;
	const char *state; /* "starting" | "ready" | "draining" (gen_state_name()) */
	int64_t age_ms;	   /* since it was spawned */
	int64_t ready_ms;  /* spawn to ready; -1 while not ready */
	const char *holds; /* bind takeover: the addresses it bound that baton holds, separated
			    * by spaces ("127.0.0.1:8080 [::]:9090"); NULL or "": none */
};

/* A generation behind a proxy listener (the HTTP front, issue 12). */
struct ctlstatus_backend {
	int id;		   /* generation */
	uint64_t inflight; /* requests now */
	uint64_t tunnels;  /* open Upgrade / CONNECT tunnels */
	bool up;	   /* health: false = no traffic while another is up */
	/* over the last second (the status page's figures): requests per second, the share that
	 * failed (5xx or no answer, percent), p99 in ms (-1: no request), weight in percent */
	double rps, error_rate, p99_ms;
	int weight;
};

struct ctlstatus_listener {
	const char *name;
	const char *address; /* as configured: ":8080", "unix:/run/app.sock" */
	/* proxy = "http" listeners only (the HTTP front) */
	bool proxy;
	uint64_t connections; /* open client connections */
	const struct ctlstatus_backend *backends;
	int nbackends;
};

struct ctlstatus_reload {
	bool done;	     /* false: no reload yet; the other fields are ignored */
	bool ok;	     /* true: the new generation serves; false: failed, rolled back */
	const char *reason;  /* NULL, or one line: why it failed / what happened */
	int64_t duration_ms; /* request to result */
	int64_t at_unix_ms;  /* wall clock when it finished; <= 0 unknown */
	int64_t ago_ms;	     /* how long ago it finished */
};

/* A [[reload]] or [[tls]] group (issue: config and certificate hot reload). */
struct ctlstatus_group {
	const char *name;
	const char *kind;	/* "reload" | "tls" */
	bool ok;		/* the last attempt was applied, or none was made */
	const char *error;	/* why the last attempt was rejected, or NULL */
	const char *warning;	/* NULL, or e.g. "expires in 3 days" */
	uint64_t good_hash;	/* content hash of the last good state, 0: none */
	int64_t attempt_ago_ms; /* since the last attempt, -1: never */
	unsigned applied;	/* actions asked for */
};

/* A rollout ([rollout] canary / blue-green), while one runs. */
struct ctlstatus_rollout_gen {
	int id;
	uint64_t requests;
	double error_rate; /* percent, in the current window */
	double p99_ms;
};
struct ctlstatus_rollout {
	const char *strategy; /* "canary", "blue-green" */
	int step, nsteps;     /* 1-based */
	int weight;	      /* percent of new requests to the new generation */
	int64_t left_ms;      /* until the step (or keep_old) ends */
	struct ctlstatus_rollout_gen old, new_;
	const char *reason; /* the last decision, e.g. why it holds; may be "" */
};

struct ctlstatus {
	const char *version; /* baton's version */
	pid_t pid;	     /* baton's pid */
	int64_t uptime_ms;
	int serving;			  /* id of the serving generation, 0 if none */
	bool reloading;			  /* a reload is in progress */
	bool stopping;			  /* baton is stopping */
	int crashes;			  /* consecutive crashes of the serving generation */
	const struct ctlstatus_gen *gens; /* live generations, oldest first */
	int ngens;
	const struct ctlstatus_listener *listeners;
	int nlisteners;
	struct ctlstatus_reload last_reload;
	const struct ctlstatus_group *groups; /* shown only when ngroups > 0 */
	int ngroups;
	const char *const *stored_fds; /* FDSTORE=1 names, in order; shown when nstored > 0 */
	int nstored;
	int fd_store_max;
	const struct ctlstatus_rollout *rollout; /* NULL: no rollout runs */
};

/* Fresh NUL-terminated strings ending in a newline; the caller frees them. Strings are escaped
 * (JSON) or have control characters replaced (text); invalid UTF-8 becomes U+FFFD / '?'. */
char *ctlstatus_json(const struct ctlstatus *st);
char *ctlstatus_text(const struct ctlstatus *st);

#endif
