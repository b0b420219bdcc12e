#include "core/loop.h"

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
	uint64_t seq;	  /* arm order: equal deadlines fire first armed, first fired */
	size_t heap_idx;  /* position in loop->heap while armed, or in loop->aside */
	bool aside;	  /* armed during a timer pass: waits in loop->aside for the next one */
	size_t all_idx;	  /* position in loop->all */
	loop_timer_cb cb;
	void *data;
};

struct loop {
	int epfd;
	bool exiting;
	int exit_code;
	int dispatching;	  /* >0 while a batch runs: frees are deferred */
	struct loop_src *dead;	  /* sources to free after the batch */
	struct loop_timer **heap; /* armed timers: a binary min-heap on (deadline, seq) */
	size_t nheap, capheap;
	struct loop_timer **all; /* every timer, for loop_free */
	size_t nall, capall;
	/* armed and due during a timer pass: back in the heap after it */
	struct loop_timer **aside;
	size_t naside, capaside;
	uint64_t next_seq;
	size_t nsrc; /* live sources, for loop_free's sanity */
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
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nsrc; i++)
		free(l->srcs[i]);
	free(l->srcs);
	reap_dead(l);
	for (size_t i = 0; i < l->nall; i++)
		free(l->all[i]);
	free(l->all);
	free(l->heap);
	free(l->aside);
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

/* ---- timers: a binary min-heap, O(log n) arm, disarm and fire ---- */

static bool timer_before(const struct loop_timer *a, const struct loop_timer *b)
{
	return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_set(struct loop *l, size_t i, struct loop_timer *t)
{
	l->heap[i] = t;
	t->heap_idx = i;
}

static void heap_up(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!timer_before(t, l->heap[p]))
			break;
		heap_set(l, i, l->heap[p]);
		i = p;
	}
	heap_set(l, i, t);
}

static void heap_down(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= l->nheap)
			break;
		if (c + 1 < l->nheap && timer_before(l->heap[c + 1], l->heap[c]))
			c++;
		if (!timer_before(l->heap[c], t))
			break;
		heap_set(l, i, l->heap[c]);
		i = c;
	}
	heap_set(l, i, t);
}

static void heap_remove(struct loop *l, struct loop_timer *t)
{
	size_t i = t->heap_idx;
	if (t->aside) {
		struct loop_timer *lt = l->aside[--l->naside];
		l->aside[i] = lt;
		lt->heap_idx = i;
		t->aside = false;
		t->deadline = -1;
		return;
	}
	struct loop_timer *last = l->heap[--l->nheap];
	t->deadline = -1;
	if (last == t)
		return;
	heap_set(l, i, last);
	if (i > 0 && timer_before(last, l->heap[(i - 1) / 2]))
		heap_up(l, i);
	else
		heap_down(l, i);
}

static void heap_insert(struct loop *l, struct loop_timer *t)
{
	l->heap = xgrow(l->heap, &l->capheap, l->nheap + 1, sizeof(*l->heap));
	heap_set(l, l->nheap++, t);
	heap_up(l, t->heap_idx);
}

struct loop_timer *loop_timer_new(struct loop *l, loop_timer_cb cb, void *data)
{
	struct loop_timer *t = xcalloc(1, sizeof(*t));
	t->loop = l;
	t->deadline = -1;
	t->cb = cb;
	t->data = data;
	l->all = xgrow(l->all, &l->capall, l->nall + 1, sizeof(*l->all));
	t->all_idx = l->nall;
	l->all[l->nall++] = t;
	return t;
}

void loop_timer_arm_at(struct loop_timer *t, int64_t deadline_ms)
{
	struct loop *l = t->loop;
	if (t->deadline >= 0)
		heap_remove(l, t);
	t->deadline = deadline_ms < 0 ? 0 : deadline_ms;
	t->seq = l->next_seq++;
	heap_insert(l, t);
}

void loop_timer_arm_in(struct loop_timer *t, int64_t delay_ms)
{
	loop_timer_arm_at(t, now_ms() + (delay_ms < 0 ? 0 : delay_ms));
}

void loop_timer_disarm(struct loop_timer *t)
{
	if (t->deadline >= 0)
		heap_remove(t->loop, t);
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
	struct loop *l = t->loop;
	loop_timer_disarm(t);
	struct loop_timer *last = l->all[--l->nall];
	l->all[t->all_idx] = last;
	last->all_idx = t->all_idx;
	/* the loop keeps no pointer to a timer whose callback runs: freeing is safe anywhere */
	free(t);
}

static int64_t earliest_deadline(const struct loop *l)
{
	return l->nheap ? l->heap[0]->deadline : -1;
}

/* Fire the timers due now, earliest first. A timer armed by a callback during this pass waits
 * for the next iteration (so a callback re-arming itself for "now" cannot starve the fds): it
 * is set aside and put back after the pass. */
static int run_timers(struct loop *l)
{
	int n = 0;
	int64_t now = now_ms();
	uint64_t seq_limit = l->next_seq;
	while (l->nheap && !l->exiting) {
		struct loop_timer *t = l->heap[0];
		if (t->deadline > now)
			break;
		if (t->seq >= seq_limit) {
			int64_t d = t->deadline;
			heap_remove(l, t);
			t->deadline = d;
			t->aside = true;
			l->aside = xgrow(l->aside, &l->capaside, l->naside + 1, sizeof(*l->aside));
			t->heap_idx = l->naside;
			l->aside[l->naside++] = t;
			continue;
		}
		heap_remove(l, t);
		t->cb(l, t->data);
		n++;
	}
	while (l->naside) {
		struct loop_timer *t = l->aside[--l->naside];
		t->aside = false;
		heap_insert(l, t);
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
