#include "sup/svc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "proc/child.h"
#include "proc/env.h"
#include "core/log.h"
#include "core/loop.h"
#include "net/notify.h"
#include "sup/fdstore.h"
#include "proc/proc.h"
#include "sup/svc_int.h"
#include "util/duration.h"
#include "util/strv.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#define PROBE_INTERVAL_MS 10
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 30000
#define STABLE_MS 10000 /* up this long after ready: the crash streak is over */

const char *gen_state_name(enum gen_state st)
{
	static const char *const n[] = {"starting", "ready", "draining", "exited"};
	return n[st];
}

static struct gen *find_gen(const struct svc *s, int id)
{
	for (size_t i = 0; i < s->ngens; i++)
		if (s->gens[i]->id == id)
			return s->gens[i];
	return NULL;
}

static struct gen *starting_gen(const struct svc *s)
{
	for (size_t i = 0; i < s->ngens; i++)
		if (s->gens[i]->state == GEN_STARTING)
			return s->gens[i];
	return NULL;
}

static void probe_stop(struct gen *g)
{
	if (g->probe_src) {
		loop_del(g->svc->loop, g->probe_src);
		g->probe_src = NULL;
	}
	if (g->probe_fd >= 0) {
		close(g->probe_fd);
		g->probe_fd = -1;
	}
	if (g->probe_timer)
		loop_timer_disarm(g->probe_timer);
}

static void gen_free(struct gen *g)
{
	svc_gen_forget_mainpid(g);
	probe_stop(g);
	loop_timer_free(g->probe_timer);
	loop_timer_free(g->timer);
	child_free(g->child);
	free(g->fail_reason);
	free(g);
}

static void gen_remove(struct svc *s, struct gen *g)
{
	for (size_t i = 0; i < s->ngens; i++) {
		if (s->gens[i] == g) {
			memmove(&s->gens[i], &s->gens[i + 1],
				(s->ngens - i - 1) * sizeof(*s->gens));
			s->ngens--;
			break;
		}
	}
	gen_free(g);
}

static void gen_drain(struct svc *s, struct gen *g)
{
	g->state = GEN_DRAINING;
	probe_stop(g);
	loop_timer_disarm(g->timer);
	int r = child_stop(g->child, s->o.stop_signal, s->o.stop_timeout_ms);
	if (r < 0 && r != -ESRCH)
		log_warn("cannot stop generation %d: %s", g->id, strerror(-r));
}

static void enforce_max_draining(struct svc *s)
{
	if (s->o.max_draining <= 0)
		return;
	int n = 0;
	for (size_t i = s->ngens; i-- > 0;) {
		struct gen *g = s->gens[i];
		if (g->state != GEN_DRAINING)
			continue;
		if (++n > s->o.max_draining) {
			log_warn("too many draining generations: killing generation %d", g->id);
			child_signal(g->child, SIGKILL, true);
		}
	}
}

static void maybe_follow_up(struct svc *s)
{
	if (s->pending && !s->stopping) {
		s->pending = false;
		svc_replace(s);
	}
}

void svc_gen_ready(struct gen *g)
{
	struct svc *s = g->svc;
	/* a late READY=1 from a generation being stopped for missing its deadline is ignored */
	if (g->state != GEN_STARTING || g->fail_reason)
		return;
	g->state = GEN_READY;
	g->ready_ms = now_ms();
	probe_stop(g);
	loop_timer_disarm(g->timer);
	int prev = s->current;
	s->current = g->id;
	struct gen *old = prev ? find_gen(s, prev) : NULL;
	if (old && old->state == GEN_READY)
		gen_drain(s, old);
	enforce_max_draining(s);
	if (s->cbs.ready)
		s->cbs.ready(s, g->id, prev, g->ready_ms - g->started_ms, s->data);
	maybe_follow_up(s);
}

static void spawn_gen(struct svc *s);

static void backoff_fire(struct loop *l, void *data)
{
	(void)l;
	struct svc *s = data;
	if (!s->stopping && !s->current && !starting_gen(s))
		spawn_gen(s);
}

static void schedule_restart(struct svc *s)
{
	int64_t d = BACKOFF_MIN_MS;
	for (int i = 1; i < s->crashes && d < BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > BACKOFF_MAX_MS)
		d = BACKOFF_MAX_MS;
	char b[32];
	duration_format_ms(d, b, sizeof(b));
	log_info("restarting in %s (crash %d in a row)", b, s->crashes);
	loop_timer_arm_in(s->backoff, d);
}

static void check_stopped(struct svc *s)
{
	if (s->stopping && s->ngens == 0 && !s->stopped_sent) {
		s->stopped_sent = true;
		if (s->cbs.stopped)
			s->cbs.stopped(s, s->data);
	}
}

/* The generation and its whole process group are gone: report what is left to report. */
static void gen_finish(struct gen *g)
{
	struct svc *s = g->svc;
	int id = g->id;
	if (g->remnant) {
		log_info("the processes generation %d left behind are gone", id);
		gen_remove(s, g);
	} else if (g->fail_reason) {
		/* stopped for missing ready_timeout: reported once it is gone */
		char *reason = g->fail_reason;
		g->fail_reason = NULL;
		gen_remove(s, g);
		if (s->cbs.failed)
			s->cbs.failed(s, id, reason, s->data);
		free(reason);
		maybe_follow_up(s);
	} else {
		char sb[sizeof(g->status)];
		memcpy(sb, g->status, sizeof(sb));
		gen_remove(s, g);
		if (s->cbs.exited)
			s->cbs.exited(s, id, sb, s->data);
		if (s->waiting_for == id) {
			s->waiting_for = 0;
			if (!s->stopping)
				spawn_gen(s);
		}
	}
	check_stopped(s);
}

/* Its main process exited on its own and was reported: with members of its group left, stop
 * them like a draining generation (stop_signal, SIGKILL at stop_timeout), else remove it. */
static bool gen_has_processes(const struct gen *g)
{
	return child_running(g->child) || child_group_alive(g->child);
}

static void gen_leave_remnant(struct svc *s, struct gen *g)
{
	if (!gen_has_processes(g)) {
		gen_remove(s, g);
		return;
	}
	g->remnant = true;
	g->state = GEN_DRAINING;
	log_warn("generation %d's main process exited, processes of its group remain — stopping "
		 "them",
		 g->id);
	child_stop(g->child, s->o.stop_signal, s->o.stop_timeout_ms);
}

void svc_gen_main_exit(struct gen *g)
{
	struct svc *s = g->svc;
	enum gen_state was = g->state;
	int id = g->id;
	g->main_exited = true;
	svc_gen_forget_mainpid(g);
	probe_stop(g);
	loop_timer_disarm(g->timer);

	if (was == GEN_STARTING && !g->fail_reason) {
		char *reason = xasprintf("%s before it was ready", g->status);
		/* nothing serves: with restart_on_crash, keep trying (with backoff) */
		bool crash_restart = !s->current && s->o.restart_on_crash && !s->stopping;
		gen_leave_remnant(s, g);
		if (s->cbs.failed)
			s->cbs.failed(s, id, reason, s->data);
		free(reason);
		if (crash_restart && !s->pending) {
			s->crashes++;
			schedule_restart(s);
		}
		maybe_follow_up(s);
	} else if (was == GEN_READY) {
		s->current = 0;
		int64_t up = now_ms() - g->ready_ms;
		char sb[sizeof(g->status)];
		memcpy(sb, g->status, sizeof(sb));
		gen_leave_remnant(s, g);
		if (!s->stopping) {
			s->crashes = up >= STABLE_MS ? 1 : s->crashes + 1;
			if (s->cbs.crashed)
				s->cbs.crashed(s, id, sb, s->data);
			if (s->o.restart_on_crash && !starting_gen(s))
				schedule_restart(s);
		}
	} else if (gen_has_processes(g)) {
		/* stopped by us: the group's deadline runs on until the group is gone */
		g->state = GEN_DRAINING;
		log_info("generation %d's main process %s; waiting for the rest of its process "
			 "group",
			 id, g->status);
		return;
	} else {
		g->state = GEN_EXITED;
		gen_finish(g);
		return;
	}
	check_stopped(s);
}

static void gen_on_exit(struct child *c, const struct child_exit *st, void *data)
{
	struct gen *g = data;
	if (g->main_exited) {
		/* the main process (a MAINPID) ended before the leader: handled then */
		if (!child_group_alive(c)) {
			g->state = GEN_EXITED;
			gen_finish(g);
		}
		return;
	}
	child_status_str(st, g->status, sizeof(g->status));
	if (svc_gen_mainpid_alive(g)) {
		log_info("generation %d's first process %s; its main process %d carries on", g->id,
			 g->status, (int)g->mainpid);
		return;
	}
	svc_gen_main_exit(g);
}

static void gen_on_group_exit(struct child *c, void *data)
{
	(void)c;
	struct gen *g = data;
	if (!g->main_exited) { /* a MAINPID's exit not seen yet: it was in the group */
		snprintf(g->status, sizeof(g->status), "exited (main process %d)", (int)g->mainpid);
		svc_gen_main_exit(g);
		return;
	}
	g->state = GEN_EXITED;
	gen_finish(g);
}

static void gen_on_line(struct child *c, int stream, const char *line, size_t len, void *data)
{
	(void)c;
	struct gen *g = data;
	if (g->svc->cbs.output)
		g->svc->cbs.output(g->svc, g->id, stream, line, len, g->svc->data);
}

/* A generation that missed ready_timeout is stopped like a draining one (stop_signal, then
 * SIGKILL at stop_timeout), not killed at once: it may already have accepted connections on
 * the shared sockets, and those would be reset. The failure is reported when it has exited. */
static void gen_stop_failed(struct gen *g, char *reason)
{
	struct svc *s = g->svc;
	free(g->fail_reason);
	g->fail_reason = reason;
	probe_stop(g);
	loop_timer_disarm(g->timer);
	log_warn("generation %d %s — stopping it", g->id, reason);
	int r = child_stop(g->child, s->o.stop_signal, s->o.stop_timeout_ms);
	if (r < 0 && r != -ESRCH)
		child_stop(g->child, SIGKILL, 0);
}

static void gen_timer(struct loop *l, void *data)
{
	(void)l;
	struct gen *g = data;
	struct svc *s = g->svc;
	if (g->state != GEN_STARTING || g->fail_reason)
		return;
	int64_t now = now_ms();
	if (s->o.ready == READY_DELAY && now - g->started_ms >= s->o.ready_delay_ms &&
	    now < g->ready_deadline) {
		svc_gen_ready(g);
		return;
	}
	if (now >= g->ready_deadline) {
		char b[32];
		duration_format_ms(s->o.ready_timeout_ms, b, sizeof(b));
		gen_stop_failed(g,
				xasprintf("not ready within %s (ready = %s)", b,
					  s->o.ready == READY_NOTIFY ? "\"notify\": no READY=1"
					  : s->o.ready == READY_PORT ? "\"port\": nothing accepted"
								     : "\"delay\""));
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
	probe_stop(g);
	if (err == 0)
		svc_gen_ready(g);
	else
		loop_timer_arm_in(g->probe_timer, PROBE_INTERVAL_MS);
}

static void probe_try(struct loop *l, void *data)
{
	(void)l;
	struct gen *g = data;
	struct svc *s = g->svc;
	if (g->state != GEN_STARTING)
		return;
	probe_stop(g);
	int fd = socket(s->o.port_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		loop_timer_arm_in(g->probe_timer, PROBE_INTERVAL_MS);
		return;
	}
	if (connect(fd, (struct sockaddr *)&s->o.port_addr, s->o.port_addrlen) == 0) {
		close(fd);
		svc_gen_ready(g);
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

static void probe_arm(struct gen *g)
{
	g->probe_timer = loop_timer_new(g->svc->loop, probe_try, g);
	loop_timer_arm_in(g->probe_timer, 0);
}

static void spawn_gen(struct svc *s)
{
	struct gen *g = xcalloc(1, sizeof(*g));
	g->svc = s;
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
		.on_line = gen_on_line,
		.on_exit = gen_on_exit,
		.on_group_exit = gen_on_group_exit,
		.data = g,
	};
	char *err = NULL;
	int r = child_spawn(s->loop, &spec, &g->child, &err);
	strv_release(&env);
	free(fds);
	free(names);
	if (r < 0) {
		int id = g->id;
		free(g);
		if (s->cbs.failed)
			s->cbs.failed(s, id, err, s->data);
		free(err);
		return;
	}
	s->gens = xgrow(s->gens, &s->capgens, s->ngens + 1, sizeof(*s->gens));
	s->gens[s->ngens++] = g;

	g->timer = loop_timer_new(s->loop, gen_timer, g);
	g->ready_deadline = g->started_ms + s->o.ready_timeout_ms;
	switch (s->o.ready) {
	case READY_EXEC:
		svc_gen_ready(g);
		return;
	case READY_DELAY:
		loop_timer_arm_at(g->timer, g->started_ms + s->o.ready_delay_ms);
		return;
	case READY_PORT:
		probe_arm(g);
		break;
	case READY_NOTIFY:
		break;
	}
	loop_timer_arm_at(g->timer, g->ready_deadline);
}

struct svc *svc_new(struct loop *l, const struct svc_opts *o, const struct svc_cbs *cbs, void *data)
{
	struct svc *s = xcalloc(1, sizeof(*s));
	s->loop = l;
	s->o = *o;
	s->cbs = *cbs;
	s->data = data;
	s->backoff = loop_timer_new(l, backoff_fire, s);
	s->store = fdstore_new(o->fd_store_max > 0 ? (size_t)o->fd_store_max : 0);
	return s;
}

void svc_free(struct svc *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ngens; i++)
		gen_free(s->gens[i]);
	free(s->gens);
	loop_timer_free(s->backoff);
	fdstore_free(s->store);
	free(s);
}

int svc_replace(struct svc *s)
{
	if (s->stopping)
		return -ESHUTDOWN;
	if (starting_gen(s) || s->waiting_for) {
		s->pending = true;
		return 0;
	}
	loop_timer_disarm(s->backoff);
	struct gen *cur = s->current ? find_gen(s, s->current) : NULL;
	if (cur && !s->o.overlap) {
		s->waiting_for = cur->id;
		s->current = 0;
		gen_drain(s, cur);
		return 0;
	}
	spawn_gen(s);
	return 0;
}

void svc_stop(struct svc *s)
{
	s->stopping = true;
	s->pending = false;
	s->waiting_for = 0;
	loop_timer_disarm(s->backoff);
	for (size_t i = 0; i < s->ngens; i++) {
		struct gen *g = s->gens[i];
		if (g->state == GEN_STARTING || g->state == GEN_READY)
			gen_drain(s, g);
	}
	check_stopped(s);
}

void svc_kill(struct svc *s)
{
	for (size_t i = 0; i < s->ngens; i++)
		child_signal(s->gens[i]->child, SIGKILL, true);
}

int svc_signal_current(struct svc *s, int sig)
{
	struct gen *g = s->current ? find_gen(s, s->current) : NULL;
	if (!g)
		return -ESRCH;
	return svc_gen_signal_main(g, sig);
}

bool svc_busy(const struct svc *s)
{
	return starting_gen(s) || s->pending || s->waiting_for;
}

int svc_current(const struct svc *s)
{
	return s->current;
}

bool svc_stopping(const struct svc *s)
{
	return s->stopping;
}

int svc_last_id(const struct svc *s)
{
	return s->last_id;
}

void svc_set_last_id(struct svc *s, int id)
{
	if (id > s->last_id)
		s->last_id = id;
}

int svc_adopt(struct svc *s, const struct svc_gen_info *gi, int64_t kill_at_ms, int crashes)
{
	if (gi->state != GEN_READY && gi->state != GEN_DRAINING)
		return -EINVAL;
	struct gen *g = xcalloc(1, sizeof(*g));
	g->svc = s;
	g->id = gi->id;
	g->probe_fd = -1;
	g->mainfd = -1;
	g->state = gi->state;
	g->started_ms = gi->started_ms;
	g->ready_ms = gi->ready_ms;
	int r = child_adopt(s->loop, gi->pid, s->o.cmd, true, s->o.reaper, gen_on_exit,
			    gen_on_group_exit, g, &g->child);
	if (r < 0) {
		free(g);
		return r;
	}
	g->timer = loop_timer_new(s->loop, gen_timer, g);
	s->gens = xgrow(s->gens, &s->capgens, s->ngens + 1, sizeof(*s->gens));
	s->gens[s->ngens++] = g;
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

const struct fdstore *svc_fdstore(const struct svc *s)
{
	return s->store;
}

int svc_crash_count(const struct svc *s)
{
	return s->crashes;
}

int svc_list(const struct svc *s, struct svc_gen_info *out, int max)
{
	int n = 0;
	for (size_t i = 0; i < s->ngens && n < max; i++) {
		const struct gen *g = s->gens[i];
		out[n++] = (struct svc_gen_info){g->id,
						 g->mainfd >= 0 ? g->mainpid : child_pid(g->child),
						 g->state, g->started_ms, g->ready_ms};
	}
	return n;
}
