/* The HTTP front in the supervisor (proxy mode, `[[listen]] proxy = "http"`): one proxy (the
 * data path, http/proxy.h) per proxy listener, and the wiring of generations to it.
 *   spawn (gen_opts.prepare): a private socket per proxy listener (sup/privsock) in the
 *           public one's fd slot; a backend for it, weight 0; the probe address for READY_HTTP.
 *   ready:  the new backends get the traffic; the replaced generation's are drained, and once
 *           nothing is in flight on them it is stopped (gen_retire_id; gen_opts.defer_stop
 *           bounds the wait by stop_timeout). Health checks follow the serving generation.
 *   gone:   its backends removed, its private sockets closed and unlinked.
 * The policy's gen callbacks are wrapped (front_cbs): the front acts first, then the policy
 * hears of it as before.
 *
 * Ownership: the front borrows the loop, the config and the listening fds (the app's); it
 * owns the proxies, backends, private sockets and the health checker. */
#ifndef BATON_FRONT_H
#define BATON_FRONT_H

#include <stdbool.h>

#include <stddef.h>
#include <stdint.h>

#include "sup/gen.h"

struct loop;
struct front;
struct ctlstatus_listener;
struct metrics_listener;
struct metrics_gen;

/* NULL when no listener has proxy (then nothing changes); else the front, or NULL with *err
 * set and errno. listen_fds[i]: listener i's public fd; slots[i]: its index among the fds
 * handed to generations (-1: not handed over). */
struct front *front_new(struct loop *l, const struct config *cfg, const int *listen_fds,
			const int *slots, char **err);
void front_free(struct front *f);

/* Fill o (prepare, defer_stop, ready_path) and wrap the policy's callbacks: gen_new() gets
 * *cbs_out and f as data. Call front_set_gens() with the set gen_new() made. */
void front_gen_opts(struct front *f, struct gen_opts *o, const struct gen_cbs *policy_cbs,
		    void *policy_data, struct gen_cbs *cbs_out);
void front_set_gens(struct front *f, struct gens *s);

/* Bind takeover behind the front (takeover_route_fd()'s route, data = the front): the private
 * socket of generation gen for listener index, of the family the app's socket is. An fd the
 * front keeps, or -errno with *err set. */
int front_takeover_route(void *data, int gen, int index, int family, char **err);

/* takeover_set_pass()'s pass (data = the front): true for generation gen's own forward port,
 * which takeover leaves alone (no later generation binds it). */
struct sockaddr;
bool front_takeover_pass(void *data, int gen, const struct sockaddr *sa, size_t len);

/* Dev mode: the broken-build page (NULL: the build is fine again) and live reload. */
void front_set_error_page(struct front *f, const char *html);
bool front_live_reload(const struct front *f);

/* `baton status`: listener i's fields (connections, backends); backends point into storage the
 * front keeps until the next call. */
void front_status(struct front *f, int i, struct ctlstatus_listener *out);

/* Metrics at a scrape: the proxy listeners (ls has room for every listener) and their open
 * connections, the upstream retries, and each listed generation's weight (percent of new
 * requests; generations not behind the front keep theirs). */
void front_metrics(struct front *f, struct metrics_listener *ls, size_t *nls,
		   struct metrics_gen *gens, size_t ngens, uint64_t *retries);

/* [[tls]] group t passed its checks: every https listener naming it loads it for new
 * handshakes (connections made keep theirs). 0, or -errno with *err set: the listeners keep
 * the previous certificate. f may be NULL. */
int front_tls_swap(struct front *f, const struct cfg_tls *t, char **err);

/* Rollouts: verb 0 promote, 1 abort, 2 rollback. 0 or -ESRCH; *msg (caller frees) says what
 * happened or why not. */
int front_rollout(struct front *f, int verb, char **msg);
struct rollout_status;
/* The rollout's figures (*active false when none runs; out is filled while a rollout was set
 * up). */
void front_rollout_status(const struct front *f, struct rollout_status *out, bool *active);

#endif
