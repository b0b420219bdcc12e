/* Prometheus metrics: a small registry fed from the event bus (events.h) and from state read at
 * scrape time, and its exposition in the text format 0.0.4 (metrics_render). The metric names
 * and labels are a contract (docs/observability.md lists them):
 *   baton_reloads_total{result}, baton_last_reload_successful,
 *   baton_last_reload_success_timestamp_seconds, baton_reload_duration_seconds,
 *   baton_generation, baton_generation_info{generation,pid,state}, baton_crash_restarts_total,
 *   baton_builds_total{result}, baton_build_duration_seconds,
 *   baton_file_reloads_total{group,result}, baton_tls_cert_not_after_timestamp_seconds{group},
 *   baton_config_source_up{source},
 *   baton_http_requests_total{listener,generation,code},
 *   baton_http_request_duration_seconds{listener,generation}, baton_open_connections{listener},
 *   baton_upstream_retries_total, baton_generation_weight{generation},
 *   process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds,
 *   process_max_fds, process_start_time_seconds.
 * Single-threaded; nothing here blocks. */
#ifndef BATON_METRICS_H
#define BATON_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct httpd;

/* State the supervisor reports at each scrape. */
struct metrics_gen {
	int id;
	int pid;
	const char *state;
	int weight; /* percent of new requests; -1 without a front */
};
struct metrics_listener {
	const char *name;
	uint64_t open_connections;
};
struct metrics_state {
	int serving; /* generation number, 0 if none */
	const struct metrics_gen *gens;
	size_t ngens;
	const struct metrics_listener *listeners; /* the HTTP front's, if any */
	size_t nlisteners;
	uint64_t upstream_retries;
	const char *const *sources; /* config sources and whether they are up */
	const bool *sources_up;
	size_t nsources;
};
typedef void (*metrics_state_fn)(void *arg, struct metrics_state *out);

/* Start counting: subscribe to the event bus. The state callback may be NULL. */
void metrics_init(metrics_state_fn fn, void *arg);
/* Unsubscribe and forget everything (tests, exit). */
void metrics_reset(void);
/* One request through the front (status 0: failed without a response). */
void metrics_http_observe(const char *listener, unsigned gen, int status, int64_t dur_us);
/* The exposition, appended to out. */
void metrics_render(struct buf *out);
/* Serve /metrics on h. */
int metrics_route(struct httpd *h);

/* Histograms, exposed for tests: buckets are upper bounds in seconds, cumulative on output. */
#define METRICS_MAX_BUCKETS 16
struct metrics_hist {
	const double *bounds;
	size_t nbounds;
	uint64_t counts[METRICS_MAX_BUCKETS + 1]; /* per bucket, not cumulative; last: +Inf */
	uint64_t count;
	double sum;
};
void metrics_hist_observe(struct metrics_hist *h, double v);
/* One histogram's lines: name_bucket{labels,le="..."} cumulative, then _sum and _count. */
void metrics_hist_render(struct buf *out, const char *name, const char *labels,
			 const struct metrics_hist *h);

#endif
