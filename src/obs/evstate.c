#include "obs/evstate.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

/* An event with its own copy of its strings. */
struct kept {
	struct ev e;
	char *str[4]; /* state, result, group, reason */
};

static void kept_clear(struct kept *k)
{
	for (int i = 0; i < 4; i++)
		free(k->str[i]);
	memset(k, 0, sizeof(*k));
}

static void kept_set(struct kept *k, const struct ev *e)
{
	kept_clear(k);
	k->e = *e;
	const char *src[4] = {e->state, e->result, e->group, e->reason};
	for (int i = 0; i < 4; i++)
		k->str[i] = src[i] ? xstrdup(src[i]) : NULL;
	k->e.state = k->str[0];
	k->e.result = k->str[1];
	k->e.group = k->str[2];
	k->e.reason = k->str[3];
}

struct kgen {
	unsigned gen;
	struct kept state, stats;
};

struct evstate {
	struct kgen *gens;
	size_t ngen, capgen;
	struct kept *certs;
	size_t ncert, capcert;
	struct kept reloads[EVSTATE_RELOADS]; /* a ring: next is the oldest */
	size_t next;
	struct kept build, rollout;
};

static struct kgen *gen_of(struct evstate *s, unsigned gen, bool add)
{
	for (size_t i = 0; i < s->ngen; i++)
		if (s->gens[i].gen == gen)
			return &s->gens[i];
	if (!add)
		return NULL;
	s->gens = xgrow(s->gens, &s->capgen, s->ngen + 1, sizeof(*s->gens));
	struct kgen *g = &s->gens[s->ngen++];
	memset(g, 0, sizeof(*g));
	g->gen = gen;
	return g;
}

static void gen_drop(struct evstate *s, struct kgen *g)
{
	kept_clear(&g->state);
	kept_clear(&g->stats);
	size_t i = (size_t)(g - s->gens);
	memmove(g, g + 1, (s->ngen - i - 1) * sizeof(*g));
	s->ngen--;
}

static void on_cert(struct evstate *s, const struct ev *e)
{
	if (!e->group)
		return;
	for (size_t i = 0; i < s->ncert; i++) {
		if (strcmp(s->certs[i].e.group, e->group) == 0) {
			kept_set(&s->certs[i], e);
			return;
		}
	}
	s->certs = xgrow(s->certs, &s->capcert, s->ncert + 1, sizeof(*s->certs));
	struct kept *k = &s->certs[s->ncert++];
	memset(k, 0, sizeof(*k));
	kept_set(k, e);
}

static void on_event(void *arg, const struct ev *e)
{
	struct evstate *s = arg;
	struct kgen *g;
	switch (e->type) {
	case EV_GEN_STATE:
		if (!e->gen)
			return;
		if (e->state && strcmp(e->state, "exited") == 0) {
			g = gen_of(s, e->gen, false);
			if (g)
				gen_drop(s, g);
			return;
		}
		kept_set(&gen_of(s, e->gen, true)->state, e);
		return;
	case EV_STATS:
		g = gen_of(s, e->gen, false);
		if (g)
			kept_set(&g->stats, e);
		return;
	case EV_RELOAD_SUCCEEDED:
	case EV_RELOAD_FAILED:
	case EV_RELOAD_ROLLED_BACK:
		kept_set(&s->reloads[s->next], e);
		s->next = (s->next + 1) % EVSTATE_RELOADS;
		return;
	case EV_BUILD_STARTED:
	case EV_BUILD_SUCCEEDED:
	case EV_BUILD_FAILED:
		kept_set(&s->build, e);
		return;
	case EV_TLS_CERT:
		on_cert(s, e);
		return;
	case EV_ROLLOUT_STEP:
		kept_set(&s->rollout, e);
		return;
	case EV_RELOAD_REQUESTED:
	case EV_CRASH_RESTART:
	case EV_FILE_GROUP:
	case EV_TYPE_COUNT:
		return;
	}
}

struct evstate *evstate_new(void)
{
	struct evstate *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (ev_subscribe(on_event, s) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

void evstate_free(struct evstate *s)
{
	if (!s)
		return;
	ev_unsubscribe(on_event, s);
	while (s->ngen)
		gen_drop(s, &s->gens[s->ngen - 1]);
	free(s->gens);
	for (size_t i = 0; i < s->ncert; i++)
		kept_clear(&s->certs[i]);
	free(s->certs);
	for (size_t i = 0; i < EVSTATE_RELOADS; i++)
		kept_clear(&s->reloads[i]);
	kept_clear(&s->build);
	kept_clear(&s->rollout);
	free(s);
}

static bool kept_set_p(const struct kept *k)
{
	return k->e.time_us != 0;
}

void evstate_snapshot(const struct evstate *s, ev_fn fn, void *arg)
{
	for (size_t i = 0; i < s->ncert; i++)
		fn(arg, &s->certs[i].e);
	if (kept_set_p(&s->build))
		fn(arg, &s->build.e);
	for (size_t i = 0; i < EVSTATE_RELOADS; i++) {
		const struct kept *k = &s->reloads[(s->next + i) % EVSTATE_RELOADS];
		if (kept_set_p(k))
			fn(arg, &k->e);
	}
	if (kept_set_p(&s->rollout))
		fn(arg, &s->rollout.e);
	for (size_t i = 0; i < s->ngen; i++) {
		fn(arg, &s->gens[i].state.e);
		if (kept_set_p(&s->gens[i].stats))
			fn(arg, &s->gens[i].stats.e);
	}
}
