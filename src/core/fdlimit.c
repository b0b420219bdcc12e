#include "core/fdlimit.h"

#include <errno.h>
#include <stdbool.h>

#define FDLIMIT_CAP 1048576 /* fs.nr_open's default: setrlimit refuses more unless raised */

static struct {
	bool raised;
	struct rlimit orig;
} fdlimit;

long fdlimit_raise(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (!fdlimit.raised)
		fdlimit.orig = rl;
	rlim_t want = rl.rlim_max;
	if (want == RLIM_INFINITY || want > FDLIMIT_CAP)
		want = FDLIMIT_CAP;
	if (want <= rl.rlim_cur)
		return (long)rl.rlim_cur;
	struct rlimit nrl = {.rlim_cur = want, .rlim_max = rl.rlim_max};
	if (setrlimit(RLIMIT_NOFILE, &nrl) < 0)
		return -errno;
	fdlimit.raised = true;
	return (long)want;
}

int fdlimit_restore_in_child(void)
{
	if (!fdlimit.raised)
		return 0;
	struct rlimit rl = {.rlim_cur = fdlimit.orig.rlim_cur, .rlim_max = fdlimit.orig.rlim_max};
	/* the hard limit may have been lowered since: keep whatever is current */
	struct rlimit cur;
	if (getrlimit(RLIMIT_NOFILE, &cur) == 0) {
		rl.rlim_max = cur.rlim_max;
		if (rl.rlim_cur > cur.rlim_max)
			rl.rlim_cur = cur.rlim_max;
	}
	return setrlimit(RLIMIT_NOFILE, &rl) < 0 ? -errno : 0;
}
