/* Health of the generations behind the HTTP front ([health], proxy mode): the pure decisions,
 * with no loop, no socket and no clock. Active checks (a GET of [health] path every interval)
 * and passive observations (each proxied response: 5xx, or status 0 for a connect error or a
 * failure before any response) are fed in; what comes out is when a generation goes down or
 * comes back up (HAProxy's rise/fall), and whether every generation is down — then the front
 * keeps sending traffic to the down ones rather than refusing everything, and baton says so.
 *
 * A generation starts up (it passed its readiness check to be serving at all). */
#ifndef BATON_HEALTH_H
#define BATON_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

/* Consecutive 5xx or connect errors that count as one failed check. */
#define HEALTH_PASSIVE_FAILS 5

struct health_opts {
	int rise; /* consecutive passed checks that bring a down generation up (>= 1) */
	int fall; /* consecutive failed checks that take it down (>= 1) */
};

struct health_state {
	bool up;
	int passed;	   /* consecutive passed checks while down */
	int failed;	   /* consecutive failed checks while up */
	int bad_responses; /* consecutive 5xx / connect errors seen passively */
};

enum health_change { HEALTH_SAME, HEALTH_WENT_UP, HEALTH_WENT_DOWN };

void health_init(struct health_state *s);
/* The result of one active check (true: 2xx within timeout). */
enum health_change health_check(struct health_state *s, const struct health_opts *o, bool ok);
/* One proxied response's status (0: no response: connect error, reset). Every
 * HEALTH_PASSIVE_FAILS consecutive 5xx or 0 count as one failed check; any other status ends the
 * run (but is no passed check: only active checks bring a generation back up). */
enum health_change health_observe(struct health_state *s, const struct health_opts *o, int status);

/* Whether every one of n generations is down (false for n == 0). */
bool health_all_down(const struct health_state *const *s, size_t n);

#endif
