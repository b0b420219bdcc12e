/* Notify datagrams for the service: which generation sent it, then READY=1, MAINPID=,
 * EXTEND_TIMEOUT_USEC= and the fd store (FDSTORE=1, FDSTOREREMOVE=1, FDNAME=). See gen.h. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "proc/child.h"
#include "sup/fdstore.h"
#include "core/log.h"
#include "core/loop.h"
#include "net/notify.h"
#include "proc/proc.h"
#include "sup/gen_int.h"
#include "util/duration.h"
#include "util/timeutil.h"

/* EXTEND_TIMEOUT_USEC never moves the ready deadline past started + this × ready_timeout. */
#define EXTEND_MAX_FACTOR 10

/* The generation pid belongs to, newest first, or NULL (also when pid is gone). A group or
 * session id is the leader's pid, which the kernel keeps from reuse while the group has a
 * member (zombies included: baton reaps its orphans itself). */
static struct gen *gen_of_pid(struct gens *s, pid_t pid)
{
	if (pid <= 0)
		return NULL;
	pid_t pgid = getpgid(pid), sid = getsid(pid);
	if (pgid < 0 && sid < 0)
		return NULL;
	for (size_t i = s->ngen; i-- > 0;) {
		pid_t lead = child_pid(s->gen[i]->child);
		if (pid == lead || pgid == lead || sid == lead)
			return s->gen[i];
	}
	/* a descendant that left the session (setsid) but not the family */
	for (size_t i = s->ngen; i-- > 0;)
		if (proc_is_descendant(pid, child_pid(s->gen[i]->child)))
			return s->gen[i];
	return NULL;
}

static bool pid_gone(pid_t pid)
{
	return kill(pid, 0) < 0 && errno == ESRCH;
}

/* The one live generation, when it is starting (nothing else baton runs could have sent it). */
static struct gen *only_starting(struct gens *s)
{
	if (s->ngen != 1)
		return NULL;
	struct gen *g = s->gen[0];
	return (g->state == GEN_STARTING || g->state == GEN_FAILING) && !g->remnant ? g : NULL;
}

static struct gen *attribute(struct gens *s, pid_t pid, const struct notify_msg *m)
{
	struct gen *g = gen_of_pid(s, pid);
	if (g || !pid_gone(pid))
		return g;
	/* the sender exited (and was reaped) before we could look */
	if (m->has_mainpid) {
		g = gen_of_pid(s, m->mainpid);
		if (g) {
			log_debug(
				"notify: pid %d is gone; attributed to generation %d by MAINPID=%d",
				(int)pid, g->id, (int)m->mainpid);
			return g;
		}
	}
	g = only_starting(s);
	if (g)
		log_debug(
			"notify: pid %d is gone; attributed to generation %d, the only one running",
			(int)pid, g->id);
	return g;
}

/* ---- MAINPID ---- */

void gen_forget_mainpid(struct gen *g)
{
	if (g->mainsrc)
		loop_del(g->set->loop, g->mainsrc);
	g->mainsrc = NULL;
	if (g->mainfd >= 0)
		close(g->mainfd);
	g->mainfd = -1;
}

bool gen_mainpid_alive(const struct gen *g)
{
	if (g->mainfd < 0)
		return false;
	struct pollfd p = {.fd = g->mainfd, .events = POLLIN};
	return poll(&p, 1, 0) == 0; /* a pidfd is readable once its process exited */
}

/* The MAINPID exited: the generation's main process ended, whatever its leader does. */
static void mainpid_exited(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)l;
	(void)fd;
	(void)events;
	struct gen *g = data;
	gen_forget_mainpid(g);
	if (g->main_exited)
		return;
	snprintf(g->status, sizeof(g->status), "exited (main process %d)", (int)g->mainpid);
	gen_event(g, GEN_EV_MAIN_EXIT, NULL);
}

/* MAINPID=pid from g: a live member of g's process group becomes its main process, watched
 * through a pidfd (so a recycled pid is never taken for it). */
static void take_mainpid(struct gen *g, pid_t pid)
{
	pid_t lead = child_pid(g->child);
	if (pid == lead || pid == g->mainpid)
		return;
	if (g->main_exited || getpgid(pid) != lead) {
		log_warn("generation %d sent MAINPID=%d, which is not a process of its group — "
			 "ignored",
			 g->id, (int)pid);
		return;
	}
	int fd = -1;
#ifdef SYS_pidfd_open
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
#else
	errno = ENOSYS;
#endif
	struct loop_src *src =
		fd >= 0 ? loop_add(g->set->loop, fd, EPOLLIN, mainpid_exited, g) : NULL;
	if (!src) {
		log_warn("generation %d sent MAINPID=%d: cannot watch it (%s) — ignored", g->id,
			 (int)pid, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	gen_forget_mainpid(g);
	g->mainfd = fd;
	g->mainsrc = src;
	g->mainpid = pid;
	log_info("generation %d: main process is now %d", g->id, (int)pid);
}

int gen_signal_main(struct gen *g, int sig)
{
#ifdef SYS_pidfd_send_signal
	if (g->mainfd >= 0 && gen_mainpid_alive(g))
		return syscall(SYS_pidfd_send_signal, g->mainfd, sig, NULL, 0) < 0 ? -errno : 0;
#endif
	return child_signal(g->child, sig, false);
}

static void extend(struct gen *g, uint64_t usec)
{
	struct gens *s = g->set;
	int64_t cap = g->started_ms + EXTEND_MAX_FACTOR * s->o.ready_timeout_ms;
	int64_t now = now_ms();
	uint64_t ms = usec / 1000;
	int64_t d = ms >= (uint64_t)(cap - now > 0 ? cap - now : 0) ? cap : now + (int64_t)ms;
	if (d == cap && !g->extend_capped) {
		char b[32];
		duration_format_ms(EXTEND_MAX_FACTOR * s->o.ready_timeout_ms, b, sizeof(b));
		log_warn("generation %d asked for more start-up time than %d × ready_timeout: it "
			 "has until %s after its start",
			 g->id, EXTEND_MAX_FACTOR, b);
		g->extend_capped = true;
	}
	if (d > g->ready_deadline) {
		g->ready_deadline = d;
		loop_timer_arm_at(g->timer, d);
	}
}

static void store_fds(struct gen *g, const struct notify_msg *m, int *fds, size_t nfds)
{
	struct gens *s = g->set;
	if (m->fdstore_remove) {
		if (m->has_fdname) {
			size_t k = fdstore_remove(s->store, m->fdname, m->fdname_len);
			log_info("generation %d removed %zu stored fd%s named \"%.*s\"", g->id, k,
				 k == 1 ? "" : "s", (int)m->fdname_len, m->fdname);
		} else {
			log_warn("generation %d sent FDSTOREREMOVE=1 without a valid FDNAME= — "
				 "ignored",
				 g->id);
		}
	}
	if (!nfds)
		return;
	if (!m->fdstore) {
		log_debug("generation %d passed %zu fd%s without FDSTORE=1: closed", g->id, nfds,
			  nfds == 1 ? "" : "s");
		return;
	}
	const char *name = m->has_fdname ? m->fdname : FDSTORE_DEFAULT_NAME;
	int nlen = m->has_fdname ? (int)m->fdname_len : (int)(sizeof(FDSTORE_DEFAULT_NAME) - 1);
	size_t kept = 0, refused = 0;
	for (size_t i = 0; i < nfds; i++) {
		int r = fdstore_add(s->store, fds[i], m->has_fdname ? m->fdname : NULL,
				    m->fdname_len);
		if (r == 0) {
			fds[i] = -1;
			kept++;
		} else {
			refused++;
		}
	}
	if (kept)
		log_info("generation %d stored %zu fd%s as \"%.*s\" (%zu of %zu in the store)",
			 g->id, kept, kept == 1 ? "" : "s", nlen, name, fdstore_count(s->store),
			 fdstore_max(s->store));
	if (refused)
		log_warn(
			"generation %d: the fd store is full (fd_store_max = %zu): closed %zu fd%s "
			"named \"%.*s\"",
			g->id, fdstore_max(s->store), refused, refused == 1 ? "" : "s", nlen, name);
}

void gen_notify(struct gens *s, pid_t pid, const struct notify_msg *m, int *fds, size_t nfds)
{
	struct gen *g = attribute(s, pid, m);
	if (!g) {
		if (m->ready && pid_gone(pid))
			log_warn("READY=1 from pid %d, which exited before baton could tell its "
				 "generation — ignored; send MAINPID= with it, or BARRIER=1 after "
				 "it",
				 (int)pid);
		else
			log_debug("notify message from pid %d, which belongs to no generation",
				  (int)pid);
		return;
	}
	if (m->has_mainpid)
		take_mainpid(g, m->mainpid);
	store_fds(g, m, fds, nfds);
	if (m->has_extend && g->state == GEN_STARTING)
		extend(g, m->extend_timeout_usec);
	if (m->ready && s->o.ready == READY_NOTIFY)
		gen_event(g, GEN_EV_READY, NULL);
}
