/* Health checks on the loop (health_check.h). */
#include "sup/health_check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/loop.h"
#include "http/client.h"
#include "util/xalloc.h"

struct target {
	struct health_checker *hc;
	unsigned id;
	struct sockaddr_storage addr;
	socklen_t len;
	struct health_state st;
	struct loop_timer *timer; /* next active check */
	struct http_get *probe;	  /* the check in progress */
	struct target *next;
};

struct health_checker {
	struct loop *loop;
	char *path;
	int64_t interval_ms, timeout_ms;
	struct health_opts o;
	health_change_cb cb;
	void *arg;
	struct target *targets;
	struct pending *pending; /* changes not reported yet */
};

/* Changes are reported from the loop, one timer turn after the call that caused them. */
struct pending {
	struct health_checker *hc;
	unsigned id;
	bool up;
	char *why;
	struct loop_timer *timer;
	struct pending *next;
};

static void pending_free(struct pending *p)
{
	loop_timer_free(p->timer);
	free(p->why);
	free(p);
}

static struct target *find(const struct health_checker *hc, unsigned id)
{
	for (struct target *t = hc->targets; t; t = t->next)
		if (t->id == id)
			return t;
	return NULL;
}

static void on_pending(struct loop *l, void *data)
{
	(void)l;
	struct pending *p = data;
	struct health_checker *hc = p->hc;
	for (struct pending **pp = &hc->pending; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	struct target *t = find(hc, p->id);
	/* removed meanwhile, or changed back again: nothing to say */
	if (t && t->st.up == p->up)
		hc->cb(hc->arg, p->id, p->up, p->why);
	pending_free(p);
}

static void report(struct target *t, enum health_change c, const char *why)
{
	if (c == HEALTH_SAME)
		return;
	struct pending *p = xcalloc(1, sizeof(*p));
	p->hc = t->hc;
	p->id = t->id;
	p->up = c == HEALTH_WENT_UP;
	p->why = p->up || !why ? NULL : xstrdup(why);
	p->timer = loop_timer_new(t->hc->loop, on_pending, p);
	if (!p->timer) {
		free(p->why);
		free(p);
		return;
	}
	loop_timer_arm_in(p->timer, 0);
	p->next = t->hc->pending;
	t->hc->pending = p;
}

static void on_probe(void *arg, int status, const char *why)
{
	struct target *t = arg;
	struct health_checker *hc = t->hc;
	t->probe = NULL;
	bool ok = status >= 200 && status < 300;
	char reason[256];
	if (status)
		snprintf(reason, sizeof(reason), "GET %s answered %d", hc->path, status);
	else
		snprintf(reason, sizeof(reason), "GET %s: %s", hc->path, why ? why : "failed");
	report(t, health_check(&t->st, &hc->o, ok), reason);
	loop_timer_arm_in(t->timer, hc->interval_ms);
}

static void on_check(struct loop *l, void *data)
{
	struct target *t = data;
	struct health_checker *hc = t->hc;
	t->probe = http_get_start(l, (const struct sockaddr *)&t->addr, t->len, hc->path, NULL,
				  hc->timeout_ms, on_probe, t);
	if (!t->probe) /* out of memory or fds: try again next interval */
		loop_timer_arm_in(t->timer, hc->interval_ms);
}

struct health_checker *health_checker_new(struct loop *l, const char *path, int64_t interval_ms,
					  int64_t timeout_ms, const struct health_opts *o,
					  health_change_cb cb, void *arg)
{
	struct health_checker *hc = xcalloc(1, sizeof(*hc));
	hc->loop = l;
	hc->path = path ? xstrdup(path) : NULL;
	hc->interval_ms = interval_ms;
	hc->timeout_ms = timeout_ms;
	hc->o = *o;
	hc->cb = cb;
	hc->arg = arg;
	return hc;
}

static void target_free(struct target *t)
{
	http_get_cancel(t->probe);
	loop_timer_free(t->timer);
	free(t);
}

void health_checker_free(struct health_checker *hc)
{
	if (!hc)
		return;
	while (hc->targets) {
		struct target *t = hc->targets;
		hc->targets = t->next;
		target_free(t);
	}
	while (hc->pending) {
		struct pending *p = hc->pending;
		hc->pending = p->next;
		pending_free(p);
	}
	free(hc->path);
	free(hc);
}

int health_checker_add(struct health_checker *hc, unsigned id, const struct sockaddr *addr,
		       socklen_t len)
{
	if (find(hc, id))
		return -EEXIST;
	if (len > sizeof(struct sockaddr_storage))
		return -EINVAL;
	struct target *t = xcalloc(1, sizeof(*t));
	t->hc = hc;
	t->id = id;
	memcpy(&t->addr, addr, len);
	t->len = len;
	health_init(&t->st);
	t->timer = loop_timer_new(hc->loop, on_check, t);
	if (!t->timer) {
		free(t);
		return -ENOMEM;
	}
	if (hc->path)
		loop_timer_arm_in(t->timer, hc->interval_ms);
	t->next = hc->targets;
	hc->targets = t;
	return 0;
}

void health_checker_remove(struct health_checker *hc, unsigned id)
{
	for (struct target **pp = &hc->targets; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			struct target *t = *pp;
			*pp = t->next;
			target_free(t);
			return;
		}
	}
}

void health_checker_observe(struct health_checker *hc, unsigned id, int status)
{
	struct target *t = find(hc, id);
	if (!t)
		return;
	char why[96];
	snprintf(why, sizeof(why), "%d responses in a row were 5xx or failed",
		 HEALTH_PASSIVE_FAILS);
	report(t, health_observe(&t->st, &hc->o, status), why);
}

bool health_checker_up(const struct health_checker *hc, unsigned id)
{
	const struct target *t = find(hc, id);
	return t && t->st.up;
}

bool health_checker_all_down(const struct health_checker *hc)
{
	if (!hc->targets)
		return false;
	for (const struct target *t = hc->targets; t; t = t->next)
		if (t->st.up)
			return false;
	return true;
}
