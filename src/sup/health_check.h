/* Active and passive health checks of the generations behind the front ([health]), on the loop:
 * every interval a GET of path on each target's private socket (http/client.h; 2xx within
 * timeout passes), and the statuses of proxied responses fed in by the caller (the front's
 * observer). The decisions are health.h's; what comes out is cb(id, up, why) when a target goes
 * down or comes back up. The caller turns that into proxy_backend_set_up() and a log line.
 *
 * Targets start up. A target's first active check runs one interval after it is added.
 * Callbacks never run inside a health_checker_* call; a callback may call any of them.
 * Ownership: addresses and path are copied; the checker owns its probes and timers. */
#ifndef BATON_HEALTH_CHECK_H
#define BATON_HEALTH_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sup/health.h"

struct loop;
struct health_checker;

/* why: the last failed check's reason when going down ("GET /healthz: 503", "timed out after
 * 1s", "5 responses in a row were 5xx or failed"), NULL when coming up. */
typedef void (*health_change_cb)(void *arg, unsigned id, bool up, const char *why);

/* path NULL: passive checks only. */
struct health_checker *health_checker_new(struct loop *l, const char *path, int64_t interval_ms,
					  int64_t timeout_ms, const struct health_opts *o,
					  health_change_cb cb, void *arg);
void health_checker_free(struct health_checker *hc);

/* 0, -EEXIST (id is checked already) or -ENOMEM. */
int health_checker_add(struct health_checker *hc, unsigned id, const struct sockaddr *addr,
		       socklen_t len);
/* Stop checking id (no callback about it afterwards). Unknown ids are ignored. */
void health_checker_remove(struct health_checker *hc, unsigned id);
/* A proxied response of id: its status, 0 for a connect error or no response. */
void health_checker_observe(struct health_checker *hc, unsigned id, int status);
/* Whether id is up (unknown ids: false); whether every target is down (none: false). */
bool health_checker_up(const struct health_checker *hc, unsigned id);
bool health_checker_all_down(const struct health_checker *hc);

#endif
