/* Every event as data: the supervisor, the builder, the file groups and the front report what
 * happens as a struct ev on one process-wide bus (single-threaded, like the log). Subscribers —
 * metrics (obs/metrics), the event stream of the status page (/events), the JSON log
 * (`[log] format = "json"`) — turn the same records into their own form, so a counter, a
 * chart and a log line never disagree. ev_emit() calls every subscriber synchronously; a
 * subscriber never blocks and never emits.
 *
 * Ownership: the strings of a struct ev are borrowed for the duration of ev_emit(); a
 * subscriber copies what it keeps. */
#ifndef BATON_EVENTS_H
#define BATON_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"

enum ev_type {
	EV_RELOAD_REQUESTED, /* reason: why (signal, control socket, file group, crash) */
	EV_RELOAD_SUCCEEDED, /* gen: the new one; duration_us: request to cut-over */
	EV_RELOAD_FAILED,    /* gen, reason; duration_us */
	EV_RELOAD_ROLLED_BACK, /* gen (the one rolled back), reason; duration_us */
	EV_GEN_STATE,	     /* gen, pid, state ("starting", "ready", "draining", "exited", ...) */
	EV_CRASH_RESTART,    /* gen, pid, reason (the exit status) */
	EV_BUILD_STARTED,    /* dev */
	EV_BUILD_SUCCEEDED,  /* duration_us */
	EV_BUILD_FAILED,     /* duration_us, reason (first lines of the compiler's output) */
	EV_FILE_GROUP,	     /* group, result "applied" | "rejected" | "failed", reason */
	EV_TLS_CERT,	     /* group, not_after (unix seconds) of the certificate now in use */
	EV_ROLLOUT_STEP,     /* gen, weight (percent), reason */
	EV_STATS, /* gen, weight; rps, errors, p99_us over the last interval (the front, obs/reqstats) */
	EV_TYPE_COUNT
};

struct ev {
	enum ev_type type;
	int64_t time_us;     /* wall clock (CLOCK_REALTIME); ev_emit fills it when 0 */
	unsigned gen;	     /* generation number, 0 when none */
	int pid;	     /* 0 when none */
	const char *state;   /* EV_GEN_STATE */
	const char *result;  /* EV_FILE_GROUP */
	const char *group;   /* EV_FILE_GROUP, EV_TLS_CERT */
	const char *reason;  /* free text, may be NULL */
	int64_t duration_us; /* -1 when none */
	int64_t not_after;   /* EV_TLS_CERT */
	int weight;	     /* EV_ROLLOUT_STEP */
	/* EV_STATS (added by branch events): requests per second answered by gen, the share of
	 * them that failed (5xx or no response, 0..1), the 99th percentile of their duration (-1:
	 * no request). */
	double rps;
	double errors;
	int64_t p99_us;
};

/* "reload_requested", "reload_succeeded", ... (the "event" field of the JSON form). */
const char *ev_type_name(enum ev_type t);

typedef void (*ev_fn)(void *arg, const struct ev *e);
/* 0, or -ENOMEM. The same (fn, arg) twice is one subscription. */
int ev_subscribe(ev_fn fn, void *arg);
void ev_unsubscribe(ev_fn fn, void *arg);
void ev_emit(const struct ev *e);
/* Drop every subscriber (tests, exit). */
void ev_reset(void);

/* One JSON object, no newline, appended to out: {"time":"2026-12-04T13:00:00.123Z",
 * "event":"reload_succeeded","generation":3,"duration_ms":412.5,...}; absent fields are left
 * out; strings are escaped. */
void ev_to_json(const struct ev *e, struct buf *out);

/* Compatible additions (branch events). */

/* With `[log] format = "json"` (log_json()), subscribe the JSON log: every event becomes one
 * line of stderr, its ev_to_json() record, among the {"time","level","msg"} lines. Otherwise
 * nothing (the text log already says what happened in words). 0 or -ENOMEM. */
int ev_log_start(void);

#endif
