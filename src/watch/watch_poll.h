/* Polling (watch_poll.c): filesystems without inotify events, forced polling, what the inotify
 * limits left unwatched, and the messages for those limits. struct watch's part, struct
 * wpoll_state, is reached only through wpoll_*(). */
#ifndef BATON_WATCH_POLL_H
#define BATON_WATCH_POLL_H

#include <stdbool.h>
#include <stdint.h>

#include "util/strv.h"
#include "watch/watch.h"
#include "watch/watch_tree.h"

struct loop_timer;
struct watch;
struct watch_hub_ops;

struct wpoll_state {
	enum watch_poll mode;
	int64_t interval_ms;
	struct loop_timer *timer;
	struct nvec polled; /* nodes without a watch */
	int64_t next_retry;
	int64_t cost_ms;
	struct strv mounts; /* mount points inside targets whose filesystem needs polling */
	struct strv mount_types;
	size_t nowatch_new; /* directories newly polled for lack of watches since the last warning
			     */
	int64_t last_limit_warn;
	int limit_errno;
};

void wpoll_init(struct watch *w, const struct watch_opts *o);
void wpoll_free(struct watch *w);
/* Attach w to its hub (a private one when opts gave none); on failure log why and poll.
 * -errno only when polling is off. */
int wpoll_inotify_init(struct watch *w, const struct watch_hub_ops *ops);
void wpoll_detect_mounts(struct watch *w);
/* abs is a mount point that needs polling. */
bool wpoll_path(const struct watch *w, const char *abs);
/* poll = auto: the tree at real (configured as abs) is on a filesystem that needs polling
 * (logged, and remembered as such). */
bool wpoll_auto(struct watch *w, const char *real, const char *abs);
/* Poll n (nowatch: because a limit was hit, retry watching it later); n is destroyed. */
void wpoll_add(struct watch *w, struct wnode *n, bool nowatch);
void wpoll_forget(struct watch *w, struct wnode *n);
void wpoll_arm(struct watch *w);
/* An inotify limit (err: ENOSPC, ENOMEM) left path unwatched. */
void wpoll_limit_hit(struct watch *w, int err, const char *path);
/* At start: the warning for what the limits left unwatched, if anything. */
void wpoll_limit_report(struct watch *w);

#endif
