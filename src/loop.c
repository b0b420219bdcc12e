#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "util/timeutil.h"
#include "util/xalloc.h"

struct loop_src {
	struct loop *loop;
	int fd;
	bool dead;
	loop_fd_cb cb;
	void *data;
	struct loop_src *next_dead;
};

struct loop_timer {
	struct loop *loop;
	int64_t deadline; /* -1: disarmed */
	bool dead;
	loop_timer_cb cb;
	void *data;
};

struct loop {
	int epfd;
	bool exiting;
	int exit_code;
	int dispatching;             /* >0 while a batch runs: frees are deferred */
	struct loop_src *dead;       /* sources to free after the batch */
	struct loop_timer **timers;  /* few timers: a flat array scanned for the earliest */
	size_t ntimers, captimers;
	size_t nsrc;                 /* live sources, for loop_free's sanity */
	struct loop_src **srcs;
	size_t capsrcs;
};

struct loop *loop_new(void)
{
	int fd = epoll_create1(EPOLL_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct loop *l = xcalloc(1, sizeof(*l));
	l->epfd = fd;
	return l;
}

static void src_forget(struct loop *l, struct loop_src *s)
{
	for (size_t i = 0; i < l->nsrc; i++) {
		if (l->srcs[i] == s) {
			l->srcs[i] = l->srcs[--l->nsrc];
			return;
		}
	}
}

static void reap_dead(struct loop *l)
{
	while (l->dead) {
		struct loop_src *s = l->dead;
		l->dead = s->next_dead;
		free(s);
	}
	size_t j = 0;
	for (size_t i = 0; i < l->ntimers; i++) {
		if (l->timers[i]->dead)
			free(l->timers[i]);
		else
			l->timers[j++] = l->timers[i];
	}
	l->ntimers = j;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nsrc; i++)
		free(l->srcs[i]);
	free(l->srcs);
	reap_dead(l);
	for (size_t i = 0; i < l->ntimers; i++)
		free(l->timers[i]);
	free(l->timers);
	close(l->epfd);
	free(l);
}

struct loop_src *loop_add(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *data)
{
	struct loop_src *s = xcalloc(1, sizeof(*s));
	s->loop = l;
	s->fd = fd;
	s->cb = cb;
	s->data = data;
	struct epoll_event ev = {.events = events, .data.ptr = s};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = errno;
		free(s);
		errno = e;
		return NULL;
	}
	l->srcs = xgrow(l->srcs, &l->capsrcs, l->nsrc + 1, sizeof(*l->srcs));
	l->srcs[l->nsrc++] = s;
	return s;
}

int loop_mod(struct loop *l, struct loop_src *s, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = s};
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, s->fd, &ev) < 0 ? -errno : 0;
}

void loop_del(struct loop *l, struct loop_src *s)
{
	if (!s || s->dead)
		return;
	int e = errno;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	errno = e;
	s->dead = true;
	src_forget(l, s);
	if (l->dispatching) {
		s->next_dead = l->dead;
		l->dead = s;
	} else {
		free(s);
	}
}

int loop_src_fd(const struct loop_src *s)
{
	return s->fd;
}

struct loop_timer *loop_timer_new(struct loop *l, loop_timer_cb cb, void *data)
{
	struct loop_timer *t = xcalloc(1, sizeof(*t));
	t->loop = l;
	t->deadline = -1;
	t->cb = cb;
	t->data = data;
	l->timers = xgrow(l->timers, &l->captimers, l->ntimers + 1, sizeof(*l->timers));
	l->timers[l->ntimers++] = t;
	return t;
}

void loop_timer_arm_at(struct loop_timer *t, int64_t deadline_ms)
{
	t->deadline = deadline_ms < 0 ? 0 : deadline_ms;
}

void loop_timer_arm_in(struct loop_timer *t, int64_t delay_ms)
{
	t->deadline = now_ms() + (delay_ms < 0 ? 0 : delay_ms);
}

void loop_timer_disarm(struct loop_timer *t)
{
	t->deadline = -1;
}

bool loop_timer_armed(const struct loop_timer *t)
{
	return t->deadline >= 0;
}

int64_t loop_timer_deadline(const struct loop_timer *t)
{
	return t->deadline;
}

void loop_timer_free(struct loop_timer *t)
{
	if (!t)
		return;
	t->dead = true;
	t->deadline = -1;
	if (!t->loop->dispatching)
		reap_dead(t->loop);
}

static int64_t earliest_deadline(const struct loop *l)
{
	int64_t best = -1;
	for (size_t i = 0; i < l->ntimers; i++) {
		const struct loop_timer *t = l->timers[i];
		if (!t->dead && t->deadline >= 0 && (best < 0 || t->deadline < best))
			best = t->deadline;
	}
	return best;
}

static int run_timers(struct loop *l)
{
	int n = 0;
	int64_t now = now_ms();
	/* Index loop: callbacks may add timers (the array may grow and move). */
	for (size_t i = 0; i < l->ntimers; i++) {
		struct loop_timer *t = l->timers[i];
		if (t->dead || t->deadline < 0 || t->deadline > now)
			continue;
		t->deadline = -1;
		t->cb(l, t->data);
		n++;
		if (l->exiting)
			break;
	}
	return n;
}

int loop_run_once(struct loop *l, int64_t max_wait_ms)
{
	int64_t deadline = earliest_deadline(l);
	int timeout = -1;
	if (deadline >= 0) {
		int64_t d = deadline - now_ms();
		timeout = d < 0 ? 0 : (d > 1000000 ? 1000000 : (int)d);
	}
	if (max_wait_ms >= 0 && (timeout < 0 || max_wait_ms < timeout))
		timeout = (int)max_wait_ms;

	struct epoll_event evs[64];
	int nev = epoll_wait(l->epfd, evs, 64, timeout);
	if (nev < 0) {
		if (errno == EINTR)
			return 0;
		return -errno;
	}
	int ran = 0;
	l->dispatching++;
	for (int i = 0; i < nev && !l->exiting; i++) {
		struct loop_src *s = evs[i].data.ptr;
		if (s->dead)
			continue;
		s->cb(l, s->fd, evs[i].events, s->data);
		ran++;
	}
	if (!l->exiting)
		ran += run_timers(l);
	l->dispatching--;
	if (!l->dispatching)
		reap_dead(l);
	return ran;
}

int loop_run(struct loop *l)
{
	while (!l->exiting) {
		int r = loop_run_once(l, -1);
		if (r < 0)
			return r;
	}
	return l->exit_code;
}

void loop_exit(struct loop *l, int code)
{
	l->exiting = true;
	l->exit_code = code;
}

bool loop_exiting(const struct loop *l)
{
	return l->exiting;
}
