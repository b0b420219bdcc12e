/* Starting a generation (gen.h): its environment and fds, the spawn, what its child says (exit,
 * group exit, output lines), its timer (READY_EXEC, ready_delay, ready_timeout) and the
 * READY_PORT probe, each turned into an event of the state machine (gen_event(), gen.c); and
 * taking over one across baton's re-exec (gen_adopt()). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "http/client.h"
#include "proc/child.h"
#include "proc/env.h"
#include "sup/fdstore.h"
#include "sup/gen.h"
#include "sup/gen_int.h"
#include "sup/takeover.h"
#include "util/duration.h"
#include "util/strv.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#define PROBE_INTERVAL_MS 10

void gen_probe_stop(struct gen *g)
{
	if (g->probe_src) {
		loop_del(g->set->loop, g->probe_src);
		g->probe_src = NULL;
	}
	if (g->probe_fd >= 0) {
		close(g->probe_fd);
		g->probe_fd = -1;
	}
	if (g->probe_timer)
		loop_timer_disarm(g->probe_timer);
	http_get_cancel(g->http_probe);
	g->http_probe = NULL;
}

/* ---- what the child, the timers and the probe say ---- */

static void on_child_exit(struct child *c, const struct child_exit *st, void *data)
{
	struct gen *g = data;
	if (g->main_exited) {
		/* the main process (a MAINPID) ended before the leader: handled then */
		if (!child_group_alive(c))
			gen_event(g, GEN_EV_GROUP_EXIT, NULL);
		return;
	}
	child_status_str(st, g->status, sizeof(g->status));
	if (gen_mainpid_alive(g)) {
		log_info("generation %d's first process %s; its main process %d carries on", g->id,
			 g->status, (int)g->mainpid);
		return;
	}
	/* exec'd means ready (READY_EXEC): it was, even if it ended before the loop said so */
	if (g->state == GEN_STARTING && g->set->o.ready == READY_EXEC && !g->tk_ready)
		gen_event(g, GEN_EV_READY, NULL);
	gen_event(g, GEN_EV_MAIN_EXIT, NULL);
}

static void on_group_exit(struct child *c, void *data)
{
	(void)c;
	struct gen *g = data;
	if (!g->main_exited) { /* a MAINPID's exit not seen yet: it was in the group */
		snprintf(g->status, sizeof(g->status), "exited (main process %d)", (int)g->mainpid);
		gen_event(g, GEN_EV_MAIN_EXIT, NULL);
		return;
	}
	gen_event(g, GEN_EV_GROUP_EXIT, NULL);
}

static void on_child_line(struct child *c, int stream, const char *line, size_t len, void *data)
{
	(void)c;
	struct gen *g = data;
	if (g->set->cbs.output)
		g->set->cbs.output(g->set, g->id, stream, line, len, g->set->data);
}

/* The generation's timer: READY_EXEC's readiness (the loop's turn after the spawn), the end of
 * ready_delay, or the ready deadline. */
static void on_gen_timer(struct loop *l, void *data)
{
	(void)l;
	struct gen *g = data;
	struct gens *s = g->set;
	if (g->state == GEN_READY && g->retiring) { /* defer_stop: not drained in stop_timeout */
		gen_event(g, GEN_EV_STOP, NULL);
		return;
	}
	if (g->state != GEN_STARTING)
		return;
	int64_t now = now_ms();
	if ((s->o.ready == READY_EXEC && !g->tk_ready) ||
	    (s->o.ready == READY_DELAY && now - g->started_ms >= s->o.ready_delay_ms &&
	     now < g->ready_deadline)) {
		gen_event(g, GEN_EV_READY, NULL);
		return;
	}
	if (now >= g->ready_deadline) {
		char b[32];
		duration_format_ms(s->o.ready_timeout_ms, b, sizeof(b));
		char *http = s->o.ready == READY_HTTP
				     ? xasprintf("\"http:%s\": %s", s->o.ready_path,
						 g->http_last ? g->http_last : "no answer")
				     : NULL;
		char *reason = xasprintf("not ready within %s (ready = %s)", b,
					 s->o.ready == READY_NOTIFY ? "\"notify\": no READY=1"
					 : s->o.ready == READY_PORT ? "\"port\": nothing accepted"
					 : http			    ? http
					 : g->tk_ready ? "\"exec\": no listen on every address held"
						       : "\"delay\"");
		free(http);
		gen_event(g, GEN_EV_TIMEOUT, reason);
		free(reason);
		return;
	}
	loop_timer_arm_at(g->timer, g->ready_deadline);
}

static void probe_arm(struct gen *g);

static void probe_event(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)l;
	(void)events;
	struct gen *g = data;
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	gen_probe_stop(g);
	if (err == 0)
		gen_event(g, GEN_EV_READY, NULL);
	else
		loop_timer_arm_in(g->probe_timer, PROBE_INTERVAL_MS);
}

static void probe_try(struct loop *l, void *data)
{
	(void)l;
	struct gen *g = data;
	struct gens *s = g->set;
	if (g->state != GEN_STARTING)
		return;
	gen_probe_stop(g);
	/* the forward port, or (proxy with forward) the generation's own one */
	const struct sockaddr_storage *to = s->o.port_addrlen ? &s->o.port_addr : &g->http_addr;
	socklen_t tolen = s->o.port_addrlen ? s->o.port_addrlen : g->http_len;
	int fd = socket(to->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		loop_timer_arm_in(g->probe_timer, PROBE_INTERVAL_MS);
		return;
	}
	if (connect(fd, (const struct sockaddr *)to, tolen) == 0) {
		close(fd);
		gen_event(g, GEN_EV_READY, NULL);
		return;
	}
	if (errno != EINPROGRESS) {
		close(fd);
		loop_timer_arm_in(g->probe_timer, PROBE_INTERVAL_MS);
		return;
	}
	g->probe_fd = fd;
	g->probe_src = loop_add(s->loop, fd, EPOLLOUT, probe_event, g);
	if (!g->probe_src) {
		close(fd);
		g->probe_fd = -1;
		loop_timer_arm_in(g->probe_timer, PROBE_INTERVAL_MS);
	}
}

/* READY_HTTP: a GET of ready_path at the generation's private socket; 2xx is ready, anything
 * else is tried again after PROBE_INTERVAL_MS (the app may not accept yet). */
static void on_http_probe(void *arg, int status, const char *why)
{
	struct gen *g = arg;
	g->http_probe = NULL;
	if (g->state != GEN_STARTING)
		return;
	if (status >= 200 && status < 300) {
		gen_event(g, GEN_EV_READY, NULL);
		return;
	}
	free(g->http_last);
	g->http_last = status ? xasprintf("the last GET answered %d", status)
			      : xasprintf("the last GET failed: %s", why ? why : "?");
	loop_timer_arm_in(g->probe_timer, PROBE_INTERVAL_MS);
}

static void http_probe_try(struct loop *l, void *data)
{
	struct gen *g = data;
	struct gens *s = g->set;
	if (g->state != GEN_STARTING || g->http_probe)
		return;
	int64_t left = g->ready_deadline - now_ms();
	g->http_probe =
		http_get_start(l, (struct sockaddr *)&g->http_addr, g->http_len, s->o.ready_path,
			       NULL, left > 1 ? left : 1, on_http_probe, g);
	if (!g->http_probe)
		loop_timer_arm_in(g->probe_timer, PROBE_INTERVAL_MS);
}

/* Readiness by takeover: looked at every PROBE_INTERVAL_MS (a bind is seen at once, the
 * listen(2) after it is not). */
static void takeover_try(struct loop *l, void *data)
{
	(void)l;
	struct gen *g = data;
	struct gens *s = g->set;
	if (g->state != GEN_STARTING)
		return;
	/* dev's overlap (tk_ready): once it listens on one address, even a new one (the port was
	 * edited); addresses it no longer binds stay held until baton exits */
	if (takeover_gen_ready(s->o.takeover, g->id, g->tk_ready ? 0 : s->current)) {
		log_info("generation %d listens on every address: ready", g->id);
		gen_event(g, GEN_EV_READY, NULL);
		return;
	}
	loop_timer_arm_in(g->probe_timer, PROBE_INTERVAL_MS);
}

static void probe_arm(struct gen *g)
{
	if (g->set->o.ready == READY_HTTP) {
		g->probe_timer = loop_timer_new(g->set->loop, http_probe_try, g);
		loop_timer_arm_in(g->probe_timer, 0);
		return;
	}
	g->probe_timer = loop_timer_new(g->set->loop, probe_try, g);
	loop_timer_arm_in(g->probe_timer, 0);
}

void gen_spawn(struct gens *s)
{
	struct gen *g = xcalloc(1, sizeof(*g));
	g->set = s;
	g->id = ++s->last_id;
	g->probe_fd = -1;
	g->mainfd = -1;
	g->state = GEN_STARTING;
	g->started_ms = now_ms();

	struct strv env = STRV_INIT;
	const char *const *base = s->o.env_refresh ? s->o.env_refresh(s->o.env_data) : NULL;
	for (const char *const *e = base ? base : s->o.env; e && *e; e++)
		strv_push(&env, *e);
	char idb[16];
	snprintf(idb, sizeof(idb), "%d", g->id);
	env_set(&env, "BATON_GENERATION", idb);

	/* the listeners, then the stored fds (systemd's order), named in LISTEN_FDNAMES */
	size_t nstored = fdstore_count(s->store);
	int nall = s->o.nfds + (int)nstored;
	int *fds = xcalloc((size_t)nall + 1, sizeof(int));
	const char **names = xcalloc((size_t)nall + 1, sizeof(char *));
	for (int i = 0; i < s->o.nfds; i++) {
		fds[i] = s->o.fds[i];
		names[i] = s->o.fd_names ? s->o.fd_names[i] : NULL;
	}
	for (size_t i = 0; i < nstored; i++) {
		fds[s->o.nfds + (int)i] = fdstore_fd(s->store, i);
		names[s->o.nfds + (int)i] = fdstore_name(s->store, i);
	}
	if (s->o.prepare) {
		char *perr = NULL;
		int pr = s->o.prepare(s->o.prepare_data, g->id, fds, s->o.nfds, &env, &g->http_addr,
				      &g->http_len, &perr);
		if (pr < 0) {
			strv_release(&env);
			free(fds);
			free(names);
			gen_report_failed_spawn(s, g->id, perr ? perr : strerror(-pr));
			free(perr);
			free(g);
			return;
		}
	}

	struct child_spec spec = {
		.shell_cmd = s->o.cmd,
		.args = s->o.args,
		.label = s->o.cmd,
		.cwd = s->o.cwd,
		.env = (const char *const *)env.v,
		.fds = fds,
		.nfds = nall,
		.fd_names = s->o.fd_names || nstored ? names : NULL,
		.listen_env = nall > 0,
		.notify_socket = s->o.notify_socket,
		.in = CHILD_IN_NULL,
		.out = s->o.inherit_output ? CHILD_OUT_INHERIT : CHILD_OUT_PIPE,
		.new_session = true,
		.reaper = s->o.reaper,
		.on_line = on_child_line,
		.on_exit = on_child_exit,
		.on_group_exit = on_group_exit,
		.data = g,
		.takeover = s->o.takeover != NULL,
	};
	char *err = NULL;
	int r = child_spawn(s->loop, &spec, &g->child, &err);
	strv_release(&env);
	free(fds);
	free(names);
	if (r < 0) {
		gen_report_failed_spawn(s, g->id, err ? err : strerror(-r));
		free(err);
		free(g);
		return;
	}
	s->gen = xgrow(s->gen, &s->capgen, s->ngen + 1, sizeof(*s->gen));
	s->gen[s->ngen++] = g;
	gen_emit_state(g);
	if (s->o.takeover) {
		int tfd = child_take_trap_fd(g->child);
		if (tfd < 0 || takeover_attach(s->o.takeover, g->id, tfd) < 0)
			log_warn("generation %d runs without bind takeover: no filter", g->id);
	}

	g->timer = loop_timer_new(s->loop, on_gen_timer, g);
	g->ready_deadline = g->started_ms + s->o.ready_timeout_ms;
	if (s->o.ready == READY_EXEC && gen_takeover_overlap(s)) {
		/* the next one in dev, overlapping: ready once it listens where the serving one did
		 */
		g->tk_ready = true;
		g->probe_timer = loop_timer_new(s->loop, takeover_try, g);
		loop_timer_arm_in(g->probe_timer, PROBE_INTERVAL_MS);
		loop_timer_arm_at(g->timer, g->ready_deadline);
		return;
	}
	switch (s->o.ready) {
	case READY_EXEC: /* ready once exec'd: said from the loop (on_gen_timer) */
		loop_timer_arm_in(g->timer, 0);
		return;
	case READY_DELAY:
		loop_timer_arm_at(g->timer, g->started_ms + s->o.ready_delay_ms);
		return;
	case READY_PORT:
	case READY_HTTP:
		probe_arm(g);
		break;
	case READY_NOTIFY:
		if (s->o.takeover && s->o.ready_takeover) {
			g->probe_timer = loop_timer_new(s->loop, takeover_try, g);
			loop_timer_arm_in(g->probe_timer, PROBE_INTERVAL_MS);
		}
		break;
	}
	loop_timer_arm_at(g->timer, g->ready_deadline);
}

int gen_set_probe(struct gens *s, int id, const struct sockaddr *addr, socklen_t len)
{
	for (size_t i = 0; i < s->ngen; i++) {
		struct gen *g = s->gen[i];
		if (g->id != id || g->state == GEN_EXITED)
			continue;
		if (len > sizeof(g->http_addr))
			return -EINVAL;
		memcpy(&g->http_addr, addr, len);
		g->http_len = len;
		return 0;
	}
	return -ESRCH;
}

int gen_adopt(struct gens *s, const struct gen_info *gi, int64_t kill_at_ms, int crashes)
{
	if (gi->state != GEN_READY && gi->state != GEN_DRAINING)
		return -EINVAL;
	struct gen *g = xcalloc(1, sizeof(*g));
	g->set = s;
	g->id = gi->id;
	g->probe_fd = -1;
	g->mainfd = -1;
	g->state = gi->state;
	g->started_ms = gi->started_ms;
	g->ready_ms = gi->ready_ms;
	int r = child_adopt(s->loop, gi->pid, s->o.cmd, true, s->o.reaper, on_child_exit,
			    on_group_exit, g, &g->child);
	if (r < 0) {
		free(g);
		return r;
	}
	g->timer = loop_timer_new(s->loop, on_gen_timer, g);
	s->gen = xgrow(s->gen, &s->capgen, s->ngen + 1, sizeof(*s->gen));
	s->gen[s->ngen++] = g;
	if (gi->id > s->last_id)
		s->last_id = gi->id;
	if (gi->state == GEN_READY) {
		s->current = gi->id;
		s->crashes = crashes;
	} else if (kill_at_ms >= 0) {
		/* signal 0: the stop signal was sent already, only the SIGKILL deadline is armed */
		int64_t left = kill_at_ms - now_ms();
		child_stop(g->child, 0, left > 0 ? left : 0);
	}
	return 0;
}
