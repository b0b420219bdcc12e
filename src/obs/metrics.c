/* Prometheus metrics: see metrics.h. */
#include "obs/metrics.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "obs/events.h"
#include "obs/httpd.h"
#include "util/fileio.h"
#include "util/xalloc.h"

#define MAX_HTTP_SERIES 256 /* (listener, generation) pairs kept; the oldest go first */

static const double reload_bounds[] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
static const double build_bounds[] = {0.5, 1, 2, 5, 10, 20, 30, 60, 120};
static const double http_bounds[] = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};
#define NB(a) (sizeof(a) / sizeof((a)[0]))

struct group_count {
	char *group;
	uint64_t applied, rejected, failed;
};
struct cert {
	char *group;
	int64_t not_after;
};
struct http_series {
	char *listener;
	unsigned gen;
	uint64_t by_class[6]; /* [1..5] */
	struct metrics_hist dur;
};

static struct {
	bool on;
	metrics_state_fn state;
	void *state_arg;
	uint64_t reloads[3]; /* success, failed, rolled_back */
	bool last_ok;
	double last_success_ts;
	struct metrics_hist reload_dur;
	uint64_t crash_restarts;
	uint64_t builds[2]; /* success, failed */
	struct metrics_hist build_dur;
	struct group_count *groups;
	size_t ngroups;
	struct cert *certs;
	size_t ncerts;
	struct http_series *http;
	size_t nhttp;
} M;

void metrics_hist_observe(struct metrics_hist *h, double v)
{
	size_t i = 0;
	while (i < h->nbounds && v > h->bounds[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum += v;
}

static void hist_init(struct metrics_hist *h, const double *bounds, size_t n)
{
	memset(h, 0, sizeof(*h));
	h->bounds = bounds;
	h->nbounds = n;
}

/* A float as Prometheus reads it: shortest round-trip form, +Inf, NaN. */
static void put_num(struct buf *out, double v)
{
	if (isinf(v)) {
		buf_puts(out, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (isnan(v)) {
		buf_puts(out, "NaN");
		return;
	}
	if (v == (double)(int64_t)v && fabs(v) < 1e15) {
		buf_printf(out, "%lld", (long long)v);
		return;
	}
	char s[40];
	for (int prec = 6; prec <= 17; prec++) {
		snprintf(s, sizeof(s), "%.*g", prec, v);
		if (strtod(s, NULL) == v)
			break;
	}
	buf_puts(out, s);
}

void metrics_hist_render(struct buf *out, const char *name, const char *labels,
			 const struct metrics_hist *h)
{
	uint64_t cum = 0;
	const char *sep = labels && *labels ? "," : "";
	for (size_t i = 0; i <= h->nbounds; i++) {
		cum += h->counts[i];
		buf_printf(out, "%s_bucket{%s%sle=\"", name, labels ? labels : "", sep);
		put_num(out, i < h->nbounds ? h->bounds[i] : INFINITY);
		buf_printf(out, "\"} %llu\n", (unsigned long long)cum);
	}
	buf_printf(out, "%s_sum%s%s%s ", name, *sep ? "{" : "", *sep ? labels : "",
		   *sep ? "}" : "");
	put_num(out, h->sum);
	buf_printf(out, "\n%s_count%s%s%s %llu\n", name, *sep ? "{" : "", *sep ? labels : "",
		   *sep ? "}" : "", (unsigned long long)h->count);
}

/* A label value, escaped as the text format wants (backslash, quote, newline). */
static void put_label(struct buf *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			buf_putc(out, '\\'), buf_putc(out, *v);
		else if (*v == '\n')
			buf_puts(out, "\\n");
		else
			buf_putc(out, *v);
	}
}

static void family(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static double wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the event bus ---- */

static struct group_count *group(const char *name)
{
	for (size_t i = 0; i < M.ngroups; i++)
		if (strcmp(M.groups[i].group, name) == 0)
			return &M.groups[i];
	M.groups = xrealloc(M.groups, (M.ngroups + 1) * sizeof(*M.groups));
	M.groups[M.ngroups] = (struct group_count){.group = xstrdup(name)};
	return &M.groups[M.ngroups++];
}

static void on_event(void *arg, const struct ev *e)
{
	(void)arg;
	double dur = e->duration_us >= 0 ? (double)e->duration_us / 1e6 : -1;
	switch (e->type) {
	case EV_RELOAD_SUCCEEDED:
		M.reloads[0]++;
		M.last_ok = true;
		M.last_success_ts = e->time_us ? (double)e->time_us / 1e6 : wall_now();
		if (dur >= 0)
			metrics_hist_observe(&M.reload_dur, dur);
		break;
	case EV_RELOAD_FAILED:
	case EV_RELOAD_ROLLED_BACK:
		M.reloads[e->type == EV_RELOAD_FAILED ? 1 : 2]++;
		M.last_ok = false;
		if (dur >= 0)
			metrics_hist_observe(&M.reload_dur, dur);
		break;
	case EV_CRASH_RESTART:
		M.crash_restarts++;
		break;
	case EV_BUILD_SUCCEEDED:
	case EV_BUILD_FAILED:
		M.builds[e->type == EV_BUILD_FAILED]++;
		if (dur >= 0)
			metrics_hist_observe(&M.build_dur, dur);
		break;
	case EV_FILE_GROUP: {
		if (!e->group || !e->result)
			break;
		struct group_count *g = group(e->group);
		if (!strcmp(e->result, "applied"))
			g->applied++;
		else if (!strcmp(e->result, "rejected"))
			g->rejected++;
		else if (!strcmp(e->result, "failed"))
			g->failed++;
		break;
	}
	case EV_TLS_CERT: {
		if (!e->group)
			break;
		size_t i = 0;
		while (i < M.ncerts && strcmp(M.certs[i].group, e->group))
			i++;
		if (i == M.ncerts) {
			M.certs = xrealloc(M.certs, (M.ncerts + 1) * sizeof(*M.certs));
			M.certs[M.ncerts++] = (struct cert){.group = xstrdup(e->group)};
		}
		M.certs[i].not_after = e->not_after;
		break;
	}
	default:
		break;
	}
}

void metrics_init(metrics_state_fn fn, void *arg)
{
	metrics_reset();
	M.on = true;
	M.state = fn;
	M.state_arg = arg;
	M.last_ok = true; /* as Prometheus after loading its config: nothing has failed yet */
	M.last_success_ts = wall_now();
	hist_init(&M.reload_dur, reload_bounds, NB(reload_bounds));
	hist_init(&M.build_dur, build_bounds, NB(build_bounds));
	ev_subscribe(on_event, NULL);
}

void metrics_reset(void)
{
	if (M.on)
		ev_unsubscribe(on_event, NULL);
	for (size_t i = 0; i < M.ngroups; i++)
		free(M.groups[i].group);
	for (size_t i = 0; i < M.ncerts; i++)
		free(M.certs[i].group);
	for (size_t i = 0; i < M.nhttp; i++)
		free(M.http[i].listener);
	free(M.groups);
	free(M.certs);
	free(M.http);
	memset(&M, 0, sizeof(M));
}

void metrics_http_observe(const char *listener, unsigned gen, int status, int64_t dur_us)
{
	if (!M.on)
		return;
	struct http_series *s = NULL;
	for (size_t i = M.nhttp; i-- > 0;)
		if (M.http[i].gen == gen && strcmp(M.http[i].listener, listener) == 0) {
			s = &M.http[i];
			break;
		}
	if (!s) {
		if (M.nhttp == MAX_HTTP_SERIES) { /* forget the oldest */
			free(M.http[0].listener);
			memmove(M.http, M.http + 1, (M.nhttp - 1) * sizeof(*M.http));
			M.nhttp--;
		}
		M.http = xrealloc(M.http, (M.nhttp + 1) * sizeof(*M.http));
		s = &M.http[M.nhttp++];
		memset(s, 0, sizeof(*s));
		s->listener = xstrdup(listener);
		s->gen = gen;
		hist_init(&s->dur, http_bounds, NB(http_bounds));
	}
	/* a request that failed got baton's own 502 */
	int cls = status >= 100 && status < 600 ? status / 100 : 5;
	s->by_class[cls]++;
	metrics_hist_observe(&s->dur, (double)dur_us / 1e6);
}

/* ---- process metrics ---- */

static void process_metrics(struct buf *out)
{
	char *stat = NULL;
	size_t len;
	long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	if (file_read_all("/proc/self/stat", 4096, &stat, &len) == 0) {
		/* fields after the command (which may hold spaces), from its closing paren */
		const char *p = strrchr(stat, ')');
		unsigned long long ut = 0, st = 0, start = 0;
		long rss = 0;
		if (p && sscanf(p + 2,
				"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d "
				"%*d %*d %*d %llu %*u %ld",
				&ut, &st, &start, &rss) == 4) {
			family(out, "process_cpu_seconds_total", "counter",
			       "Total user and system CPU time spent in seconds.");
			buf_puts(out, "process_cpu_seconds_total ");
			put_num(out, (double)(ut + st) / (double)tick);
			buf_putc(out, '\n');
			family(out, "process_resident_memory_bytes", "gauge",
			       "Resident memory size in bytes.");
			buf_printf(out, "process_resident_memory_bytes %lld\n",
				   (long long)rss * page);
			char *up = NULL;
			size_t ulen;
			double btime = 0;
			if (file_read_all("/proc/stat", 1 << 20, &up, &ulen) == 0) {
				const char *b = strstr(up, "\nbtime ");
				if (b)
					btime = strtod(b + 7, NULL);
				free(up);
			}
			family(out, "process_start_time_seconds", "gauge",
			       "Start time of the process since unix epoch in seconds.");
			buf_puts(out, "process_start_time_seconds ");
			put_num(out, btime + (double)start / (double)tick);
			buf_putc(out, '\n');
		}
		free(stat);
	}
	int fds = 0;
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)))
			fds += e->d_name[0] != '.';
		closedir(d);
		family(out, "process_open_fds", "gauge", "Number of open file descriptors.");
		buf_printf(out, "process_open_fds %d\n", fds - 1); /* not the directory's own */
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		family(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
		buf_puts(out, "process_max_fds ");
		put_num(out, rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur);
		buf_putc(out, '\n');
	}
}

/* ---- exposition ---- */

void metrics_render(struct buf *out)
{
	static const char *const results[] = {"success", "failed", "rolled_back"};
	family(out, "baton_reloads_total", "counter",
	       "Generation reloads by result: success, failed (the new one never became ready), "
	       "rolled_back (a rollout's analysis or an operator sent traffic back).");
	for (int i = 0; i < 3; i++)
		buf_printf(out, "baton_reloads_total{result=\"%s\"} %llu\n", results[i],
			   (unsigned long long)M.reloads[i]);
	family(out, "baton_last_reload_successful", "gauge",
	       "Whether the last reload succeeded (1) or not (0).");
	buf_printf(out, "baton_last_reload_successful %d\n", M.last_ok ? 1 : 0);
	family(out, "baton_last_reload_success_timestamp_seconds", "gauge",
	       "Time of the last successful reload (or of baton's start), unix seconds.");
	buf_puts(out, "baton_last_reload_success_timestamp_seconds ");
	put_num(out, M.last_success_ts);
	buf_putc(out, '\n');
	family(out, "baton_reload_duration_seconds", "histogram",
	       "From a reload's request to its cut-over (or failure).");
	metrics_hist_render(out, "baton_reload_duration_seconds", NULL, &M.reload_dur);

	struct metrics_state st = {0};
	if (M.state)
		M.state(M.state_arg, &st);
	family(out, "baton_generation", "gauge", "The serving generation's number (0: none).");
	buf_printf(out, "baton_generation %d\n", st.serving);
	family(out, "baton_generation_info", "gauge", "1 per live generation.");
	for (size_t i = 0; i < st.ngens; i++) {
		buf_printf(out, "baton_generation_info{generation=\"%d\",pid=\"%d\",state=\"",
			   st.gens[i].id, st.gens[i].pid);
		put_label(out, st.gens[i].state ? st.gens[i].state : "");
		buf_puts(out, "\"} 1\n");
	}
	family(out, "baton_crash_restarts_total", "counter",
	       "Restarts of the serving generation after it exited on its own.");
	buf_printf(out, "baton_crash_restarts_total %llu\n", (unsigned long long)M.crash_restarts);
	family(out, "baton_builds_total", "counter", "Builds (baton dev) by result.");
	buf_printf(out, "baton_builds_total{result=\"success\"} %llu\n",
		   (unsigned long long)M.builds[0]);
	buf_printf(out, "baton_builds_total{result=\"failed\"} %llu\n",
		   (unsigned long long)M.builds[1]);
	family(out, "baton_build_duration_seconds", "histogram", "How long builds took.");
	metrics_hist_render(out, "baton_build_duration_seconds", NULL, &M.build_dur);

	family(out, "baton_file_reloads_total", "counter",
	       "[[reload]], [[tls]] and [[source]] decisions: applied, rejected (a check caught "
	       "bad "
	       "input), failed (the action failed).");
	for (size_t i = 0; i < M.ngroups; i++) {
		const struct group_count *g = &M.groups[i];
		const uint64_t v[3] = {g->applied, g->rejected, g->failed};
		static const char *const r[3] = {"applied", "rejected", "failed"};
		for (int k = 0; k < 3; k++) {
			buf_puts(out, "baton_file_reloads_total{group=\"");
			put_label(out, g->group);
			buf_printf(out, "\",result=\"%s\"} %llu\n", r[k], (unsigned long long)v[k]);
		}
	}
	family(out, "baton_tls_cert_not_after_timestamp_seconds", "gauge",
	       "When the certificate in use expires, per [[tls]] group, unix seconds.");
	for (size_t i = 0; i < M.ncerts; i++) {
		buf_puts(out, "baton_tls_cert_not_after_timestamp_seconds{group=\"");
		put_label(out, M.certs[i].group);
		buf_printf(out, "\"} %lld\n", (long long)M.certs[i].not_after);
	}
	if (st.nsources) {
		family(out, "baton_config_source_up", "gauge",
		       "Whether a [[source]] is connected and watching (1) or not (0).");
		for (size_t i = 0; i < st.nsources; i++) {
			buf_puts(out, "baton_config_source_up{source=\"");
			put_label(out, st.sources[i]);
			buf_printf(out, "\"} %d\n", st.sources_up[i] ? 1 : 0);
		}
	}
	if (st.nlisteners || M.nhttp) {
		family(out, "baton_http_requests_total", "counter",
		       "Requests through the HTTP front by listener, generation and status class "
		       "(a request that failed without a response counts as 5xx).");
		for (size_t i = 0; i < M.nhttp; i++)
			for (int c = 1; c <= 5; c++) {
				buf_puts(out, "baton_http_requests_total{listener=\"");
				put_label(out, M.http[i].listener);
				buf_printf(out, "\",generation=\"%u\",code=\"%dxx\"} %llu\n",
					   M.http[i].gen, c,
					   (unsigned long long)M.http[i].by_class[c]);
			}
		family(out, "baton_http_request_duration_seconds", "histogram",
		       "From a request's start to its response's end, through the front.");
		for (size_t i = 0; i < M.nhttp; i++) {
			struct buf l = BUF_INIT;
			buf_puts(&l, "listener=\"");
			put_label(&l, M.http[i].listener);
			buf_printf(&l, "\",generation=\"%u\"", M.http[i].gen);
			metrics_hist_render(out, "baton_http_request_duration_seconds",
					    buf_cstr(&l), &M.http[i].dur);
			buf_release(&l);
		}
		family(out, "baton_open_connections", "gauge",
		       "Client connections open on an HTTP front listener.");
		for (size_t i = 0; i < st.nlisteners; i++) {
			buf_puts(out, "baton_open_connections{listener=\"");
			put_label(out, st.listeners[i].name);
			buf_printf(out, "\"} %llu\n",
				   (unsigned long long)st.listeners[i].open_connections);
		}
		family(out, "baton_upstream_retries_total", "counter",
		       "Requests the front sent again on a fresh connection after a backend "
		       "failed.");
		buf_printf(out, "baton_upstream_retries_total %llu\n",
			   (unsigned long long)st.upstream_retries);
		family(out, "baton_generation_weight", "gauge",
		       "Percent of new requests each live generation gets (rollouts).");
		for (size_t i = 0; i < st.ngens; i++)
			if (st.gens[i].weight >= 0)
				buf_printf(out, "baton_generation_weight{generation=\"%d\"} %d\n",
					   st.gens[i].id, st.gens[i].weight);
	}
	process_metrics(out);
}

static void serve_metrics(void *arg, struct httpd_conn *c, const struct h1_head *req)
{
	(void)arg;
	(void)req;
	struct buf b = BUF_INIT;
	metrics_render(&b);
	httpd_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", b.p ? b.p : "", b.len);
	buf_release(&b);
}

int metrics_route(struct httpd *h)
{
	return httpd_route(h, "/metrics", serve_metrics, NULL);
}
