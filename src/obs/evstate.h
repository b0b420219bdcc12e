/* The current state, kept from the events: what a client that connects now (the status page's
 * /events stream) must be told before the live events — the live generations with their
 * last state change (and last stats), the last reloads, the last build, the certificate in
 * use per group, the last rollout step. Subscribes to the bus while it exists. */
#ifndef BATON_EVSTATE_H
#define BATON_EVSTATE_H

#include "obs/events.h"

#define EVSTATE_RELOADS 10 /* reload results kept */

struct evstate;

/* NULL on out of memory. */
struct evstate *evstate_new(void);
void evstate_free(struct evstate *s);
/* Replay the state to fn as events, oldest first: tls_cert per group, the last build, the last
 * EVSTATE_RELOADS reload results (succeeded, failed, rolled back), the last rollout step, then
 * per live generation its last gen_state and its last stats. Each keeps its original time. */
void evstate_snapshot(const struct evstate *s, ev_fn fn, void *arg);

#endif
