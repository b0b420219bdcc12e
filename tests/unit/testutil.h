/* Helpers shared by the unit tests: open-fd counting and running a loop until a condition. */
#ifndef BATON_TESTUTIL_H
#define BATON_TESTUTIL_H

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/loop.h"
#include "util/timeutil.h"

/* The number of fds open in this process (not counting the directory stream itself). */
static inline int tu_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;
}

typedef bool (*tu_pred)(void *arg);

/* Run the loop until pred(arg) holds; fails the test after timeout_ms, naming what. */
static inline void tu_run_until(struct loop *l, tu_pred pred, void *arg, int64_t timeout_ms,
				const char *what)
{
	int64_t deadline = now_ms() + timeout_ms;
	while (!pred(arg)) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			fail_msg("timed out after %lld ms waiting for %s", (long long)timeout_ms, what);
		assert_true(loop_run_once(l, left) >= 0);
	}
}

#endif
