/* Health decisions (health.h): rise/fall counters, passive runs of bad responses. */
#include "sup/health.h"

void health_init(struct health_state *s)
{
	*s = (struct health_state){.up = true};
}

enum health_change health_check(struct health_state *s, const struct health_opts *o, bool ok)
{
	if (ok) {
		s->failed = 0;
		if (s->up)
			return HEALTH_SAME;
		if (++s->passed < o->rise)
			return HEALTH_SAME;
		s->passed = 0;
		s->bad_responses = 0;
		s->up = true;
		return HEALTH_WENT_UP;
	}
	s->passed = 0;
	if (!s->up)
		return HEALTH_SAME;
	if (++s->failed < o->fall)
		return HEALTH_SAME;
	s->failed = 0;
	s->up = false;
	return HEALTH_WENT_DOWN;
}

enum health_change health_observe(struct health_state *s, const struct health_opts *o, int status)
{
	if (status != 0 && status < 500) {
		s->bad_responses = 0;
		return HEALTH_SAME;
	}
	if (++s->bad_responses < HEALTH_PASSIVE_FAILS)
		return HEALTH_SAME;
	s->bad_responses = 0;
	return health_check(s, o, false);
}

bool health_all_down(const struct health_state *const *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i]->up)
			return false;
	return true;
}
