/* Placeholder until the control socket lands: baton run works without it. */
#include "run_internal.h"

struct run_ctl *run_ctl_new(struct run *r)
{
	(void)r;
	static char dummy;
	return (struct run_ctl *)&dummy;
}

void run_ctl_free(struct run_ctl *c)
{
	(void)c;
}
