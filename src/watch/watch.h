/* The file watcher: one inotify instance for the whole process, registered on the loop. Every
 * watch given the same hub (watch_hub.h, opts.hub) shares it; the kernel watch of a directory
 * two watches need is one watch descriptor, refcounted by the hub.
 *
 * Directories are watched, never bare files. Trees are recursive: a new directory is watched
 * first and scanned second (what the scan finds is reported as created), moved-in trees are
 * watched, moved-out and deleted ones unwatched, renamed ones keep their watches under the new
 * path. Filters (filter.h) are applied before a watch is added. A change is decided by the stat
 * fingerprint and, when that differs, the content hash (fingerprint.h): event names are hints,
 * never counted, never paired. A settle window (debounce, reset by each event, capped at
 * max_wait) turns any burst into one batch: one callback with the net changes since the last
 * batch, sorted by path. Fast settle: while every file the pending batch touched was last seen
 * completed (closed after writing, or renamed into place), still exists, and there are at most
 * a few of them (nothing else pending: no directory, deletion, rename-away, configured file),
 * the quiet time is fast_settle_ms instead of the debounce, provided it was really quiet (no
 * queued event, no CPU or I/O pressure that could have held a writer back; watch_settle.c) —
 * one editor save is acted on ~5 ms after its close, while bursts (checkouts, generators) still
 * get the whole debounce. VCS operations: while the repository holding the root is locked
 * (.git/index.lock or HEAD.lock, .hg/wlock, jj's working-copy lock), every batch is held, up to
 * vcs_hold_ms after its first event, and acted on one debounce after the lock went: one
 * `git checkout` is one batch, however long it writes.
 *
 * Configured paths (opts.paths) may be directories (watched recursively) or files (for
 * [[reload]]/[[tls]]): a file is watched through its parent directory, and through the
 * directory of every symlink on its way, re-resolved on every event there (Kubernetes' "..data"
 * swap, certbot's live/ links); symlink loops are detected and reported. A path that does not
 * exist yet is watched for through its nearest existing ancestor.
 *
 * Queue overflow, a directory's watch vanishing (IN_IGNORED) or an unmount: rescan and re-arm,
 * log once, keep going. inotify limits (ENOSPC/EMFILE): an actionable warning naming the sysctl,
 * then polling for what could not be watched. poll = auto polls filesystems that do not deliver
 * events (NFS, CIFS, 9p, FUSE/virtiofs...), at an interval stretched so a poll pass costs at
 * most ~2% of a CPU.
 *
 * Memory: per watched directory ~200 bytes, per tracked file ~24 bytes plus its name; files that
 * the filter rejects cost nothing.
 *
 * Inside (docs/design.md "Watching" walks the path): watch.c routes events and builds batches;
 * the trees are watch_tree.c and watch_scan.c, configured paths watch_target.c, the settle
 * window watch_settle.c, polling and inotify limits watch_poll.c, the hub watch_hub.c, filters
 * filter.c. struct watch is made of parts, one per file that keeps state (watch_int.h). */
#ifndef BATON_WATCH_H
#define BATON_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/strv.h"

struct loop;
struct config;
struct watch;
struct watch_hub;

enum watch_poll { WATCH_POLL_AUTO, WATCH_POLL_FORCE, WATCH_POLL_OFF };

struct watch_opts {
	char *root;                /* absolute; reported paths are relative to it */
	struct strv paths;         /* relative to root or absolute; empty: the root */
	struct strv include_ext;   /* see filter.h for all the filters */
	struct strv include_dir;
	struct strv include_file;
	struct strv exclude_dir;
	struct strv exclude;
	struct strv exclude_regex;
	bool gitignore;            /* honour .gitignore files inside the root */
	bool dev_mode;             /* ignore editor/VCS temp names and .git */
	int64_t debounce_ms;       /* quiet time that ends a batch (default 50) */
	int64_t max_wait_ms;       /* a batch is cut after this long (default 1000) */
	int64_t fast_settle_ms;    /* quiet time after completed writes (0: off, the default) */
	int64_t vcs_hold_ms;       /* hold a batch while a VCS lock exists, at most this long
				    * after its first event (0: 10 s, the default; < 0: off) */
	enum watch_poll poll;
	int64_t poll_interval_ms;  /* base polling interval (default 500) */
	struct watch_hub *hub;     /* the process' inotify instance; NULL: a private one. Not
				    * owned by opts: watch_new() takes a reference */
};

/* Defaults: everything empty, gitignore and dev_mode off, 50 ms / 1 s / fast settle off / auto /
 * 500 ms, no hub. */
void watch_opts_init(struct watch_opts *o);
/* Fill from the [watch] section (dev mode: dev_mode and gitignore as configured, fast settle
 * from fast_settle, 5 ms by default). o is initialised first; strings are copied. */
void watch_opts_from_config(const struct config *cfg, struct watch_opts *o);
void watch_opts_release(struct watch_opts *o);

enum watch_kind { WATCH_CHANGED, WATCH_CREATED, WATCH_REMOVED };

struct watch_change {
	enum watch_kind kind;
	const char *path; /* relative to root (absolute for configured paths outside it) */
};

/* One call per settled batch (n >= 1); the array and strings live until the callback returns.
 * The callback may call watch_free(). */
typedef void (*watch_cb)(const struct watch_change *changes, size_t n, void *data);

/* Copies what it needs from o. NULL with errno set (EINVAL: a root that is not absolute, or a
 * bad exclude_regex), and a fresh message in *err when err is not NULL (the caller frees it).
 * Nothing is watched before watch_start(). */
struct watch *watch_new(struct loop *l, const struct watch_opts *o, watch_cb cb, void *data,
			char **err);
/* Watch and scan everything; returns 0 or -errno (only for a failure that leaves nothing
 * watched: inotify limits degrade to polling instead). */
int watch_start(struct watch *w);
/* Directories currently watched or polled, and files tracked (those the filter accepts). */
size_t watch_ndirs(const struct watch *w);
size_t watch_nfiles(const struct watch *w);
/* Unwatch everything (the hub removes the kernel watches no other watch holds, or closes the
 * instance when this was its last watch), drop the hub reference, free. NULL is fine. May hand
 * queued events to the hub's other watches (their handling only marks state). */
void watch_free(struct watch *w);

#endif
