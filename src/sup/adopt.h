/* Adopting what a killed baton left behind (`baton run`). When baton dies by SIGKILL (or the
 * OOM killer) its generations keep serving on their own, holding the listening sockets. The
 * next `baton run` with the same config reads the state file (runstate.h); when the recorded
 * baton is gone and a recorded generation is alive (same pid and start time), it takes that
 * generation's listening sockets with pidfd_open() + pidfd_getfd() (Linux >= 5.6), keeps those
 * bound to a configured listener's address and listening (getsockname, SO_ACCEPTCONN), and hands
 * them to listen_open() instead of binding. Once baton's own generation is ready the orphans are
 * drained: stop_signal to each one's process group, SIGKILL to the group at stop_timeout. An
 * orphan is not baton's child: its exit is seen through its pidfd (pollable for any process),
 * its status is unknown, and init reaps it.
 *
 * Ownership: struct adopt owns the orphans' pidfds and its timer; the sockets taken move to the
 * caller's struct listen_adopted. */
#ifndef BATON_ADOPT_H
#define BATON_ADOPT_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"

struct loop;
struct listen_adopted;
struct runstate;
struct adopt;

/* Look for orphans recorded in the state file at path. Returns NULL when there is nothing to
 * adopt (no file, a stale one, baton still alive, ...; the reason is logged). Otherwise the
 * orphans, and the sockets taken from them are added to *socks (created when NULL). Every
 * adoption is logged: `adopted generation 4 (pid 1234) left by baton pid 1200: "http" on fd 3`. */
struct adopt *adopt_find(const char *path, const struct config *cfg, struct listen_adopted **socks);
/* The highest generation id among the orphans (generation numbering continues after it). */
int adopt_last_id(const struct adopt *a);
/* Orphans still alive (not yet seen exiting). */
int adopt_alive(const struct adopt *a);
/* Append the live orphans to st (so a baton killed again before they are gone still finds
 * them). */
void adopt_record(const struct adopt *a, struct runstate *st);
/* Drain every orphan: sig to its process group now, SIGKILL to the group at timeout_ms. done
 * (may be NULL) runs once every orphan is gone (maybe at once). A second call only replaces
 * done. */
void adopt_drain(struct adopt *a, struct loop *l, int sig, int64_t timeout_ms,
		 void (*done)(void *data), void *data);
/* SIGKILL every live orphan's group now. */
void adopt_kill(struct adopt *a);
void adopt_free(struct adopt *a);

#endif
