/* The HTTP front in the supervisor (front.h). */
#include "sup/front.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "core/loop.h"
#include "ctl/ctl.h"
#include "ctl/ctlstatus.h"
#include "http/proxy.h"
#include "net/forward.h"
#include "obs/events.h"
#include "obs/metrics.h"
#include "proc/env.h"
#include "sup/front_tls.h"
#include "sup/health_check.h"
#include "sup/privsock.h"
#include "sup/rollout_run.h"
#include "tls/tlsfront.h"
#include "util/timeutil.h"
#include "util/fileio.h"
#include "util/xalloc.h"

/* One generation behind the front: per proxy listener, its private socket and backend. */
struct fgen {
	struct front *f;
	int id;
	/* requests answered since the last EV_STATS */
	uint64_t reqs, errs;
	struct rollout_hist lat;
	/* the last second's figures, as EV_STATS said them (baton status) */
	double last_rps, last_err;
	int64_t last_p99_us;
	struct privsock *ps;	   /* [nlisten] */
	struct proxy_backend **be; /* [nlisten]; NULL for other listeners */
	int draining;		   /* backends not drained yet, after the replace */
};

struct front {
	struct loop *loop;
	const struct config *cfg;
	int n;
	int *slots;
	struct proxy **px;	/* [n]; NULL: not a proxy listener */
	struct tls_front **tls; /* [n]; NULL: not an https listener */
	char *dir;		/* private sockets live here (the control socket's directory) */
	struct fgen **g;
	size_t ng, capg;
	struct gens *gens;
	struct health_checker *hc;
	struct gen_cbs policy;
	void *policy_data;
	struct ctlstatus_backend **status; /* [n]: front_status() storage per listener */
	bool all_down_said;
	/* [rollout] canary / blue-green (NULL: immediate) */
	struct rollout_run *ro;
	int ro_cur, ro_prev;	  /* the rollout's candidate and baseline */
	int64_t ro_took;	  /* the candidate's spawn-to-ready, for the policy at the end */
	struct loop_timer *stats; /* EV_STATS once a second per generation */
	int64_t stats_at;	  /* ms, the last one */
	/* own ports behind the front: [proxy] private_socket = "tcp", each public listener's
	 * family (a TCP private socket is of the same one), the proxy listener with forward */
	bool tcp;
	int *family; /* [n] */
	int fwd;     /* -1: none */
};

static struct fgen *fgen_find(struct front *f, int id)
{
	for (size_t i = 0; i < f->ng; i++)
		if (f->g[i]->id == id)
			return f->g[i];
	return NULL;
}

static void fgen_free(struct front *f, struct fgen *g)
{
	for (int i = 0; i < f->n; i++) {
		if (g->be[i])
			proxy_backend_remove(g->be[i]);
		privsock_close(&g->ps[i]);
	}
	free(g->ps);
	free(g->be);
	free(g);
}

static void on_observe(void *arg, struct proxy_backend *b, unsigned id, int status, int64_t dur_us)
{
	struct front *f = arg;
	struct fgen *g = fgen_find(f, (int)id);
	for (int i = 0; g && i < f->n; i++)
		if (g->be[i] == b)
			metrics_http_observe(f->cfg->listen[i].name, id, status, dur_us);
	if (f->ro)
		rollout_run_observe(f->ro, (int)id, status, dur_us);
	if (g) {
		g->reqs++;
		g->errs += status == 0 || status >= 500;
		rollout_hist_add(&g->lat, dur_us);
	}
	if (f->hc)
		health_checker_observe(f->hc, id, status);
}

static void on_health(void *arg, unsigned id, bool up, const char *why)
{
	struct front *f = arg;
	struct fgen *g = fgen_find(f, (int)id);
	if (!g)
		return;
	for (int i = 0; i < f->n; i++)
		if (g->be[i])
			proxy_backend_set_up(g->be[i], up);
	if (up) {
		log_info("generation %u passes its health checks again — it gets traffic", id);
		f->all_down_said = false;
		return;
	}
	log_warn("generation %u failed its health checks (%s)", id, why ? why : "?");
	if (health_checker_all_down(f->hc) && !f->all_down_said) {
		f->all_down_said = true;
		log_warn("no generation passes its health checks — generation %u keeps its traffic",
			 id);
	}
}

/* Each generation's request rate, error share and p99 over the last second, for the status
 * page's charts (obs/page) and anyone else on the event bus. */
static void on_stats(struct loop *l, void *data)
{
	(void)l;
	struct front *f = data;
	int64_t now = now_ms();
	double secs = f->stats_at ? (double)(now - f->stats_at) / 1000.0 : 1.0;
	f->stats_at = now;
	unsigned total = 0;
	for (size_t k = 0; k < f->ng; k++)
		for (int i = 0; i < f->n; i++)
			if (f->g[k]->be[i]) {
				struct proxy_backend_stats st;
				proxy_backend_get_stats(f->g[k]->be[i], &st);
				total += st.weight;
				break;
			}
	for (size_t k = 0; k < f->ng; k++) {
		struct fgen *g = f->g[k];
		unsigned w = 0;
		for (int i = 0; i < f->n; i++)
			if (g->be[i]) {
				struct proxy_backend_stats st;
				proxy_backend_get_stats(g->be[i], &st);
				w = st.weight;
				break;
			}
		g->last_rps = secs > 0 ? (double)g->reqs / secs : 0;
		g->last_err = g->reqs ? (double)g->errs / (double)g->reqs : 0;
		g->last_p99_us = g->reqs ? rollout_hist_quantile(&g->lat, 0.99) : -1;
		ev_emit(&(struct ev){
			.type = EV_STATS,
			.gen = (unsigned)g->id,
			.weight = total ? (int)(100 * w / total) : 0,
			.rps = secs > 0 ? (double)g->reqs / secs : 0,
			.errors = g->reqs ? (double)g->errs / (double)g->reqs : 0,
			.p99_us = g->reqs ? rollout_hist_quantile(&g->lat, 0.99) : -1,
			.duration_us = -1,
		});
		g->reqs = g->errs = 0;
		memset(&g->lat, 0, sizeof(g->lat));
	}
	loop_timer_arm_in(f->stats, 1000);
}

static void own_ports_init(struct front *f, const int *listen_fds);
static void check_gen(struct front *f, int id);
static void ro_weights(void *arg, int prev, int prev_pct, int cur, int cur_pct);
static void ro_ended(void *arg, int prev, int cur, bool promoted, const char *reason);
static unsigned ro_route(void *arg, unsigned sticky, bool preview);

struct front *front_new(struct loop *l, const struct config *cfg, const int *listen_fds,
			const int *slots, char **err)
{
	bool any = false;
	for (int i = 0; i < cfg->nlisten; i++)
		any |= cfg->listen[i].proxy != LISTEN_PROXY_NONE;
	if (!any) {
		errno = 0;
		return NULL;
	}
	struct front *f = xcalloc(1, sizeof(*f));
	f->loop = l;
	f->cfg = cfg;
	f->n = cfg->nlisten;
	f->slots = xcalloc((size_t)f->n + 1, sizeof(int));
	memcpy(f->slots, slots, (size_t)f->n * sizeof(int));
	f->px = xcalloc((size_t)f->n + 1, sizeof(*f->px));
	f->tls = xcalloc((size_t)f->n + 1, sizeof(*f->tls));
	f->status = xcalloc((size_t)f->n + 1, sizeof(*f->status));
	char *sock = ctl_socket_path(cfg->root, cfg->control.socket);
	char *slash = strrchr(sock, '/');
	f->dir = slash && slash != sock ? xstrndup(sock, (size_t)(slash - sock)) : xstrdup("/");
	free(sock);
	(void)dir_make_all(f->dir, 0700); /* as the control socket's */
	own_ports_init(f, listen_fds);
	for (int i = 0; i < f->n; i++) {
		const struct cfg_listen *cl = &cfg->listen[i];
		if (cl->proxy == LISTEN_PROXY_NONE)
			continue;
		struct proxy_opts po = {
			.name = cl->name,
			.header_timeout_ms = cfg->proxy.header_timeout_ms,
			.idle_timeout_ms = cfg->proxy.idle_timeout_ms,
			.max_header_size = (size_t)cfg->proxy.max_header_size,
			.max_connections =
				cl->max_connections > 0 ? (size_t)cl->max_connections : 4096,
			.connect_timeout_ms = cfg->run.ready_timeout_ms,
		};
		int r = 0;
		if (cl->proxy == LISTEN_PROXY_HTTPS) {
			r = front_tls_open(cfg, cl, &f->tls[i], err);
			po.tls = f->tls[i];
		}
		if (r == 0)
			r = proxy_new(l, listen_fds[i], &po, &f->px[i], err);
		if (r < 0) {
			front_free(f);
			errno = -r;
			return NULL;
		}
		proxy_set_observer(f->px[i], on_observe, f);
		proxy_set_live_reload(f->px[i], cfg->dev.live_reload);
	}
	const struct health_opts ho = {.rise = cfg->health.rise, .fall = cfg->health.fall};
	f->hc = health_checker_new(l, cfg->health.path, cfg->health.interval_ms,
				   cfg->health.timeout_ms, &ho, on_health, f);
	f->stats = loop_timer_new(l, on_stats, f);
	loop_timer_arm_in(f->stats, 1000);
	struct rollout_cfg rc;
	rollout_cfg_from_config(cfg, &rc);
	if (rc.strategy != ROLLOUT_IMMEDIATE) {
		static const struct rollout_run_hooks hooks = {ro_weights, ro_ended};
		f->ro = rollout_run_new(l, &rc, &hooks, f);
		for (int i = 0; i < f->n; i++)
			if (f->px[i])
				proxy_set_router(f->px[i], ro_route, f,
						 cfg->rollout.preview_header);
	}
	return f;
}

void front_free(struct front *f)
{
	if (!f)
		return;
	health_checker_free(f->hc);
	rollout_run_free(f->ro);
	loop_timer_free(f->stats);
	for (size_t i = 0; i < f->ng; i++)
		fgen_free(f, f->g[i]);
	free(f->g);
	for (int i = 0; i < f->n; i++) {
		proxy_free(f->px[i]);
		tls_front_free(f->tls[i]);
	}
	free(f->px);
	free(f->tls);
	for (int i = 0; f->status && i < f->n; i++)
		free(f->status[i]);
	free(f->status);
	free(f->slots);
	free(f->family);
	free(f->dir);
	free(f);
}

/* ---- own ports behind the front (issues 12 and 16) ----
 * A generation's private socket is a unix socket file ([proxy] private_socket = "unix", the
 * default: the cheapest) or a loopback TCP port of the public listener's family ("tcp": Go sees
 * the front's address as the peer, so Gin's ClientIP() takes X-Forwarded-For). An app that
 * binds the public address itself, under takeover, gets its generation's socket, a TCP one of
 * its family (front_takeover_route()); one with a forward listener binds a loopback port baton
 * picks per generation, told in PORT. */

static void own_ports_init(struct front *f, const int *listen_fds)
{
	f->tcp = f->cfg->proxy.private_socket && !strcmp(f->cfg->proxy.private_socket, "tcp");
	f->family = xcalloc((size_t)f->n + 1, sizeof(int));
	f->fwd = -1;
	for (int i = 0; i < f->n; i++) {
		const struct cfg_listen *cl = &f->cfg->listen[i];
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		f->family[i] = AF_UNSPEC;
		if (listen_fds[i] >= 0 &&
		    getsockname(listen_fds[i], (struct sockaddr *)&ss, &len) == 0)
			f->family[i] = ss.ss_family;
		if (cl->proxy != LISTEN_PROXY_NONE && cl->forward && f->fwd < 0)
			f->fwd = i;
	}
}

static bool is_ip(int family)
{
	return family == AF_INET || family == AF_INET6;
}

/* Listener i's private socket for generation id: TCP of family, or a unix one. */
static int own_open(struct front *f, struct privsock *ps, unsigned id, int i, int family,
		    char **err)
{
	const struct cfg_listen *cl = &f->cfg->listen[i];
	if (is_ip(family))
		return privsock_open_tcp(ps, family, cl->backlog, err);
	return privsock_open(ps, f->dir, id, i, cl->name, cl->backlog, err);
}

/* The forward listener's port for generation id: picked, told in PORT. */
static int own_forward(struct front *f, struct privsock *ps, struct strv *env, char **err)
{
	const struct cfg_listen *cl = &f->cfg->listen[f->fwd];
	memset(ps, 0, sizeof(*ps));
	ps->fd = -1;
	ps->addrlen = sizeof(ps->addr);
	if (forward_parse_target(cl->forward, &ps->addr, &ps->addrlen, err) < 0)
		return -EINVAL;
	char *why = NULL;
	int r = privsock_pick_port(&ps->addr, ps->addrlen, &why);
	if (r < 0) {
		*err = xasprintf("listener '%s': forward \"%s\": %s", cl->name, cl->forward, why);
		free(why);
		return r;
	}
	unsigned port = ps->addr.ss_family == AF_INET
				? ntohs(((struct sockaddr_in *)&ps->addr)->sin_port)
				: ntohs(((struct sockaddr_in6 *)&ps->addr)->sin6_port);
	char b[16];
	snprintf(b, sizeof(b), "%u", port);
	env_set(env, "PORT", b);
	return 0;
}

/* gen_opts.prepare */
static int front_prepare(void *data, int id, int *fds, int nfds, struct strv *env,
			 struct sockaddr_storage *probe, socklen_t *probe_len, char **err)
{
	struct front *f = data;
	struct fgen *g = xcalloc(1, sizeof(*g));
	g->last_p99_us = -1;
	g->f = f;
	g->id = id;
	g->ps = xcalloc((size_t)f->n + 1, sizeof(*g->ps));
	g->be = xcalloc((size_t)f->n + 1, sizeof(*g->be));
	for (int i = 0; i < f->n; i++)
		g->ps[i].fd = -1;
	int probe_at = -1;
	for (int i = 0; i < f->n; i++) {
		int r;
		if (!f->px[i])
			continue;
		if (i == f->fwd)
			r = own_forward(f, &g->ps[i], env, err);
		else if (f->slots[i] < 0 || f->slots[i] >= nfds)
			continue;
		else
			r = own_open(f, &g->ps[i], (unsigned)id, i, f->tcp ? f->family[i] : AF_UNIX,
				     err);
		if (r < 0) {
			fgen_free(f, g);
			return r;
		}
		if (i != f->fwd)
			fds[f->slots[i]] = g->ps[i].fd;
		g->be[i] = proxy_backend_add(f->px[i], (unsigned)id,
					     (struct sockaddr *)&g->ps[i].addr, g->ps[i].addrlen);
		if (probe_at < 0 || i == f->fwd) /* the forward port when there is one */
			probe_at = i;
	}
	if (probe_at >= 0) {
		memcpy(probe, &g->ps[probe_at].addr, g->ps[probe_at].addrlen);
		*probe_len = g->ps[probe_at].addrlen;
	}
	f->g = xgrow(f->g, &f->capg, f->ng + 1, sizeof(*f->g));
	f->g[f->ng++] = g;
	return 0;
}

bool front_takeover_pass(void *data, int gen, const struct sockaddr *sa, size_t len)
{
	struct front *f = data;
	struct fgen *g = f->fwd >= 0 ? fgen_find(f, gen) : NULL;
	if (!g || sa->sa_family != g->ps[f->fwd].addr.ss_family)
		return false;
	const struct sockaddr_storage *own = &g->ps[f->fwd].addr;
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
		return ((const struct sockaddr_in *)sa)->sin_port ==
		       ((const struct sockaddr_in *)own)->sin_port;
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
		return ((const struct sockaddr_in6 *)sa)->sin6_port ==
		       ((const struct sockaddr_in6 *)own)->sin6_port;
	return false;
}

int front_takeover_route(void *data, int gen, int index, int family, char **err)
{
	struct front *f = data;
	struct fgen *g = fgen_find(f, gen);
	if (!g || index < 0 || index >= f->n || !g->be[index] || index == f->fwd) {
		*err = xasprintf("generation %d has no private socket for listener '%s'", gen,
				 index >= 0 && index < f->n ? f->cfg->listen[index].name : "?");
		return -EADDRINUSE;
	}
	struct privsock *ps = &g->ps[index];
	if (ps->fd >= 0 && ps->addr.ss_family == family)
		return ps->fd;
	/* prepared as a unix socket ("unix"): this app needs one of its own family */
	struct privsock np;
	int r = own_open(f, &np, (unsigned)gen, index, family, err);
	if (r < 0)
		return r;
	struct proxy_backend_stats st;
	proxy_backend_get_stats(g->be[index], &st);
	proxy_backend_remove(g->be[index]);
	privsock_close(ps);
	*ps = np;
	g->be[index] = proxy_backend_add(f->px[index], (unsigned)gen, (struct sockaddr *)&ps->addr,
					 ps->addrlen);
	proxy_backend_set_weight(g->be[index], st.weight);
	bool first = true; /* probes and checks go to the first private socket */
	for (int i = 0; i < index; i++)
		first &= !g->be[i];
	if (first && f->fwd < 0 && f->gens)
		gen_set_probe(f->gens, gen, (struct sockaddr *)&ps->addr, ps->addrlen);
	if (first && f->hc && st.weight > 0) { /* serving already (ready = "exec") */
		health_checker_remove(f->hc, (unsigned)gen);
		check_gen(f, gen);
	}
	return ps->fd;
}

static void gone(struct front *f, int id)
{
	for (size_t i = 0; i < f->ng; i++) {
		if (f->g[i]->id != id)
			continue;
		if (f->hc)
			health_checker_remove(f->hc, (unsigned)id);
		fgen_free(f, f->g[i]);
		f->g[i] = f->g[--f->ng];
		return;
	}
}

static void on_drained(void *arg)
{
	struct fgen *g = arg;
	if (--g->draining > 0)
		return;
	struct front *f = g->f;
	if (f->gens)
		gen_retire_id(f->gens, g->id); /* -ESRCH: stopped or gone already */
}

static void set_weight(struct front *f, int id, unsigned w)
{
	struct fgen *g = fgen_find(f, id);
	for (int i = 0; g && i < f->n; i++)
		if (g->be[i])
			proxy_backend_set_weight(g->be[i], w);
}

/* No new requests to old; once nothing is in flight on it, the set stops it. */
static void drain_gen(struct front *f, struct fgen *old)
{
	if (!old || old->draining)
		return;
	if (f->hc)
		health_checker_remove(f->hc, (unsigned)old->id);
	old->draining = 1; /* held until every backend is asked */
	for (int i = 0; i < f->n; i++) {
		if (old->be[i]) {
			old->draining++;
			proxy_backend_drain(old->be[i], on_drained, old);
		}
	}
	on_drained(old);
}

static void check_gen(struct front *f, int id)
{
	struct fgen *g = fgen_find(f, id);
	for (int i = 0; g && f->hc && i < f->n; i++) {
		if (g->be[i]) { /* checked through its first private socket */
			health_checker_add(f->hc, (unsigned)id, (struct sockaddr *)&g->ps[i].addr,
					   g->ps[i].addrlen);
			break;
		}
	}
}

/* ---- rollouts ---- */

static void ro_weights(void *arg, int prev, int prev_pct, int cur, int cur_pct)
{
	struct front *f = arg;
	set_weight(f, prev, (unsigned)prev_pct);
	set_weight(f, cur, (unsigned)cur_pct);
	struct rollout_status st;
	rollout_run_status(f->ro, &st);
	ev_emit(&(struct ev){.type = EV_ROLLOUT_STEP,
			     .gen = (unsigned)cur,
			     .weight = cur_pct,
			     .reason = st.reason && *st.reason ? st.reason : NULL,
			     .duration_us = -1});
}

static unsigned ro_route(void *arg, unsigned sticky, bool preview)
{
	struct front *f = arg;
	int id = rollout_run_route(f->ro, f->cfg->rollout.sticky ? (int)sticky : 0, preview);
	return id > 0 ? (unsigned)id : 0;
}

static void ro_ended(void *arg, int prev, int cur, bool promoted, const char *reason)
{
	struct front *f = arg;
	struct gens *s = f->gens;
	f->ro_cur = f->ro_prev = 0;
	if (promoted) {
		if (gen_previous(s) == prev)
			gen_retire(s); /* retiring: stopped once drained */
		drain_gen(f, fgen_find(f, prev));
		if (f->policy.ready)
			f->policy.ready(s, cur, prev, f->ro_took, f->policy_data);
		return;
	}
	if (gen_previous(s) == prev)
		gen_revert(s);
	set_weight(f, prev, 1);
	check_gen(f, prev);
	drain_gen(f, fgen_find(f, cur));
	if (f->policy.rolled_back)
		f->policy.rolled_back(s, cur, prev, reason, f->policy_data);
}

int front_rollout(struct front *f, int verb, char **msg)
{
	if (!f || !f->ro || !rollout_run_active(f->ro)) {
		*msg = xstrdup("no rollout is running");
		return -ESRCH;
	}
	int cur = f->ro_cur, prev = f->ro_prev;
	int r = verb == 0   ? rollout_run_promote(f->ro, NULL)
		: verb == 1 ? rollout_run_abort(f->ro, "baton abort")
			    : rollout_run_rollback(f->ro);
	if (r < 0)
		*msg = xstrdup(verb == 2 ? "baton rollback is for blue-green, within keep_old"
					 : "no rollout is running");
	else
		*msg = xasprintf(verb == 0
					 ? "generation %d promoted; generation %d drains"
					 : "generation %d rolled back; generation %d serves again",
				 cur, prev);
	return r;
}

void front_rollout_status(const struct front *f, struct rollout_status *out, bool *active)
{
	*active = f && f->ro && rollout_run_active(f->ro);
	if (f && f->ro)
		rollout_run_status(f->ro, out);
}

static void w_ready(struct gens *s, int id, int prev, int64_t took, void *data)
{
	struct front *f = data;
	if (f->ro && prev && gen_previous(s) == prev) {
		/* a rollout: the candidate gets its share step by step, the baseline serves on */
		for (size_t k = 0; k < f->ng; k++) /* a candidate this one replaced */
			if (f->g[k]->id != id && f->g[k]->id != prev)
				drain_gen(f, f->g[k]);
		check_gen(f, id);
		f->ro_cur = id;
		f->ro_prev = prev;
		f->ro_took = took;
		rollout_run_begin(f->ro, prev, id);
		for (int i = 0; i < f->n; i++)
			if (f->px[i] && f->cfg->dev.live_reload)
				proxy_live_reload(f->px[i]);
		return; /* the policy hears of it when the rollout ends */
	}
	struct fgen *g = fgen_find(f, id);
	for (int i = 0; g && i < f->n; i++)
		if (g->be[i])
			proxy_backend_set_weight(g->be[i], 1);
	check_gen(f, id);
	drain_gen(f, prev ? fgen_find(f, prev) : NULL);
	for (int i = 0; i < f->n; i++)
		if (f->px[i] && f->cfg->dev.live_reload)
			proxy_live_reload(f->px[i]);
	if (f->policy.ready)
		f->policy.ready(s, id, prev, took, f->policy_data);
}

static void w_failed(struct gens *s, int id, const char *reason, void *data)
{
	struct front *f = data;
	gone(f, id);
	if (f->policy.failed)
		f->policy.failed(s, id, reason, f->policy_data);
}

static void w_crashed(struct gens *s, int id, const char *status, void *data)
{
	struct front *f = data;
	if (f->ro && rollout_run_active(f->ro) && (id == f->ro_cur || id == f->ro_prev)) {
		/* the candidate crashed: back to the baseline (the set serves it again); the
		 * baseline crashed: nothing to go back to, the candidate is promoted */
		char why[200];
		bool cand = id == f->ro_cur;
		snprintf(why, sizeof(why), "generation %d %s during the rollout%s", id, status,
			 cand ? "" : ": nothing to go back to");
		gone(f, id);
		if (cand)
			rollout_run_abort(f->ro, why);
		else
			rollout_run_promote(f->ro, why);
		return;
	}
	gone(f, id);
	if (f->policy.crashed)
		f->policy.crashed(s, id, status, f->policy_data);
}

static void w_exited(struct gens *s, int id, const char *status, void *data)
{
	struct front *f = data;
	gone(f, id);
	if (f->policy.exited)
		f->policy.exited(s, id, status, f->policy_data);
}

static void w_stopped(struct gens *s, void *data)
{
	struct front *f = data;
	if (f->policy.stopped)
		f->policy.stopped(s, f->policy_data);
}

static void w_output(struct gens *s, int id, int stream, const char *line, size_t len, void *data)
{
	struct front *f = data;
	if (f->policy.output)
		f->policy.output(s, id, stream, line, len, f->policy_data);
}

void front_gen_opts(struct front *f, struct gen_opts *o, const struct gen_cbs *policy_cbs,
		    void *policy_data, struct gen_cbs *cbs_out)
{
	o->prepare = front_prepare;
	o->prepare_data = f;
	o->defer_stop = true;
	o->ready_path = f->cfg->run.ready_path;
	f->policy = *policy_cbs;
	f->policy_data = policy_data;
	*cbs_out = (struct gen_cbs){
		.ready = w_ready,
		.failed = w_failed,
		.crashed = w_crashed,
		.exited = w_exited,
		.stopped = w_stopped,
		.output = policy_cbs->output ? w_output : NULL,
	};
}

void front_set_gens(struct front *f, struct gens *s)
{
	f->gens = s;
	if (f->ro)
		gen_hold_previous(s, true);
}

void front_set_error_page(struct front *f, const char *html)
{
	for (int i = 0; i < f->n; i++)
		if (f->px[i])
			proxy_set_error_page(f->px[i], html);
}

bool front_live_reload(const struct front *f)
{
	return f->cfg->dev.live_reload;
}

void front_metrics(struct front *f, struct metrics_listener *ls, size_t *nls,
		   struct metrics_gen *gens, size_t ngens, uint64_t *retries)
{
	*nls = 0;
	*retries = 0;
	for (int i = 0; i < f->n; i++) {
		if (!f->px[i])
			continue;
		ls[*nls].name = f->cfg->listen[i].name;
		ls[*nls].open_connections = proxy_nconns(f->px[i]);
		(*nls)++;
	}
	for (size_t k = 0; k < f->ng; k++) {
		struct fgen *g = f->g[k];
		unsigned weight = 0;
		for (int i = 0; i < f->n; i++) {
			if (!g->be[i])
				continue;
			struct proxy_backend_stats st;
			proxy_backend_get_stats(g->be[i], &st);
			*retries += st.retries;
			weight = st.weight;
		}
		for (size_t j = 0; j < ngens; j++)
			if (gens[j].id == g->id)
				gens[j].weight = (int)weight;
	}
	/* weights as percent of the live generations' total */
	unsigned total = 0;
	for (size_t j = 0; j < ngens; j++)
		total += gens[j].weight > 0 ? (unsigned)gens[j].weight : 0;
	for (size_t j = 0; j < ngens; j++)
		if (gens[j].weight >= 0)
			gens[j].weight = total ? (int)(100 * (unsigned)gens[j].weight / total) : 0;
}

void front_status(struct front *f, int i, struct ctlstatus_listener *out)
{
	if (i < 0 || i >= f->n || !f->px[i])
		return;
	out->proxy = true;
	out->connections = proxy_nconns(f->px[i]);
	free(f->status[i]);
	struct ctlstatus_backend *v = f->status[i] = xcalloc(f->ng + 1, sizeof(*v));
	int n = 0;
	unsigned total = 0;
	for (size_t k = 0; k < f->ng; k++) {
		struct proxy_backend *b = f->g[k]->be[i];
		struct proxy_backend_stats st;
		if (b) {
			proxy_backend_get_stats(b, &st);
			total += st.weight;
		}
	}
	for (size_t k = 0; k < f->ng; k++) {
		struct proxy_backend *b = f->g[k]->be[i];
		if (!b)
			continue;
		struct proxy_backend_stats st;
		proxy_backend_get_stats(b, &st);
		const struct fgen *g = f->g[k];
		v[n++] = (struct ctlstatus_backend){
			.id = g->id,
			.inflight = st.inflight,
			.tunnels = st.tunnels,
			.up = st.up,
			.rps = g->last_rps,
			.error_rate = 100 * g->last_err,
			.p99_ms = g->last_p99_us >= 0 ? (double)g->last_p99_us / 1000 : -1,
			.weight = total ? (int)(100 * st.weight / total) : 0,
		};
	}
	out->backends = v;
	out->nbackends = n;
}

int front_tls_swap(struct front *f, const struct cfg_tls *t, char **err)
{
	for (int i = 0; f && i < f->n; i++) {
		int r = front_tls_update(f->cfg, &f->cfg->listen[i], f->tls[i], t, err);
		if (r < 0)
			return r;
	}
	return 0;
}
