/* Scanning (watch_scan.c): add-then-scan of new directories, reconcile of known ones (overflow
 * rescans, polling, .gitignore changes), and the directory side of events (watch, move,
 * detach). No state of its own in struct watch: it works on the trees through wt_*(). */
#ifndef BATON_WATCH_SCAN_H
#define BATON_WATCH_SCAN_H

#include <stdbool.h>

struct watch;
struct wnode;

enum wscan_mode { WSCAN_INITIAL, WSCAN_NEW, WSCAN_RECONCILE, WSCAN_SILENT };

/* Scan n (and, with recurse, what is below it). */
void wscan_run(struct watch *w, struct wnode *n, enum wscan_mode mode, bool recurse);
/* Something happened to p/name that may concern a directory: look, then watch, move, or
 * detach. Returns the directory's node, or NULL when the name is not a watched directory. */
struct wnode *wscan_child_sync(struct watch *w, struct wnode *p, const char *name);
/* (Re)load dir_abs/.gitignore into the filter, for node n's directory. */
void wscan_gitignore_load(struct watch *w, struct wnode *n, const char *dir_abs);

#endif
