/* The inotify hub: one inotify instance shared by every watcher (struct watch) of the process.
 *
 * fs.inotify.max_user_instances is 128 per user, shared by every container of that uid, so
 * `baton dev` with [[reload]] groups (the source tree's watch and the reload groups' watch)
 * must not take two. The hub owns the instance and its loop source; each watch is a client.
 *
 * The kernel gives the same watch descriptor to every inotify_add_watch() of one inode (the
 * project root is watched by the tree and, for ./config.yaml, by a reload group). So per watch
 * descriptor the hub records which clients hold it (a bitmap) and the union of the masks they
 * asked for: every add passes IN_MASK_ADD, so one client never narrows another's mask, and
 * inotify_rm_watch() happens only when the last holder drops it (watch_hub_wd_unref). Each
 * event goes to every client holding its descriptor (each ignores the kinds it does not care
 * about), IN_Q_OVERFLOW to every client (each rescans), IN_IGNORED to every holder, after which
 * the hub forgets the descriptor.
 *
 * Clients' event handling must only mark state and arm timers (never run user callbacks): a
 * drain asked for by one client (watch_hub_drain) dispatches to all of them.
 *
 * Ownership: watch_hub_new() returns one reference, watch_hub_ref() adds one, and the hub is
 * freed at the last watch_hub_unref(). Every attached client holds a reference (struct watch
 * takes one in watch_new()). The instance is opened at the first attach and closed when the
 * last client detaches (which drops every kernel watch at once). The loop must outlive the
 * hub. No globals: whoever owns the loop creates the hub and passes it to its watches. */
#ifndef BATON_WATCH_HUB_H
#define BATON_WATCH_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct inotify_event;
struct watch_hub;

#define WATCH_HUB_MAX_CLIENTS 32

/* Tables keyed by watch descriptor (the hub's, and each watch's wd -> node table) share one
 * scheme: open addressing with linear probing over a power-of-two size, and backward-shift
 * deletion (no tombstones). wd_slot() is the home slot; after emptying slot `hole`, the entry at
 * slot j (home k) moves into the hole when wd_fills_hole(k, hole, j). */
static inline uint32_t wd_slot(int wd, uint32_t mask)
{
	return ((uint32_t)wd * 2654435761u) & mask;
}

static inline bool wd_fills_hole(uint32_t k, uint32_t hole, uint32_t j)
{
	return hole <= j ? (k <= hole || k > j) : (k <= hole && k > j);
}

/* Never fails (allocation failure aborts); opens nothing yet. */
struct watch_hub *watch_hub_new(struct loop *l);
struct watch_hub *watch_hub_ref(struct watch_hub *h);
/* NULL is fine. Every client must have detached by the last unref. */
void watch_hub_unref(struct watch_hub *h);

/* ---- clients (watch*.c) ---- */

struct watch_hub_ops {
	/* One event: its descriptor is one this client holds, or wd -1 (IN_Q_OVERFLOW, sent to
	 * every client). After IN_IGNORED the client no longer holds wd (the kernel dropped it).
	 * May add and drop watches; must not free anything attached to the hub. */
	void (*event)(void *data, const struct inotify_event *ev);
	/* After a drain that gave this client at least one event (e.g. rescan after an
	 * overflow). May be NULL. */
	void (*drained)(void *data);
};

/* Attach a client, opening the instance (registered on the loop) if there is none. Returns
 * the client's id (>= 0), or -errno: inotify_init1()'s errors (EMFILE: the per-user instance
 * limit, or the process' fd limit), or EUSERS when WATCH_HUB_MAX_CLIENTS are attached. */
int watch_hub_attach(struct watch_hub *h, const struct watch_hub_ops *ops, void *data);
/* Release everything client id holds: inotify_rm_watch() for what no other client holds, or
 * close the instance when id was the last client. May dispatch queued events to the other
 * clients (long runs of removals are interleaved with drains so that the queue never overflows
 * with their IN_IGNORED). id < 0 is fine. */
void watch_hub_detach(struct watch_hub *h, int id);
/* inotify_add_watch(path, mask | IN_MASK_ADD) on behalf of client id. Returns the watch
 * descriptor (possibly one other clients hold too), or -errno (ENOSPC: max_user_watches). */
int watch_hub_add(struct watch_hub *h, int id, const char *path, uint32_t mask);
/* Client id no longer needs wd; the kernel watch is removed when no client holds it. Unknown
 * or already dropped descriptors are ignored. */
void watch_hub_wd_unref(struct watch_hub *h, int id, int wd);
/* Read what the queue holds now and dispatch it. A no-op within a dispatch. */
void watch_hub_drain(struct watch_hub *h);

/* Kernel watches the instance holds: each counted once, however many clients hold it. */
size_t watch_hub_nwatches(const struct watch_hub *h);
/* The union of the masks asked for wd (lookup flags left out), 0 when the hub does not hold
 * it; whether client id holds it. */
uint32_t watch_hub_mask(const struct watch_hub *h, int wd);
bool watch_hub_holds(const struct watch_hub *h, int id, int wd);

#endif
