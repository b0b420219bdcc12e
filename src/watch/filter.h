/* Path filters for the watcher: pure string matching, no I/O.
 *
 * Every path is relative to the filter's root, '/'-separated, without a leading "./" or '/';
 * the root itself is "". Directories are decided before they are watched (an excluded
 * directory costs nothing: no watch, no scan); files are decided per change.
 *
 * Rules (directories):   dev-mode ".git", exclude_dir (a name without '/' matches at any
 *                        depth, a name with '/' is a path from the root; globs allowed), exclude
 *                        globs (a pattern "dir/" + "**" prunes "dir" itself), .gitignore rules,
 *                        include_dir (only its entries, their ancestors and their subtrees).
 * Rules (files):         include_file wins over everything but dev-mode temp names; then
 *                        editor/VCS temp names (dev mode), exclude globs, exclude_regex,
 *                        .gitignore rules, include_dir, include_ext.
 * Globs: '*' and '?' do not cross '/', "[a-z]" and "[!a-z]" classes, '\' escapes, "**" as a
 * whole component matches zero or more directories. A glob without '/' matches the base name
 * at any depth; with a '/' it is anchored at the root (gitignore's convention).
 * .gitignore: rules are loaded per directory (filter_gitignore_set); the deepest file wins and,
 * within a file, the last matching rule; '!' negates, a trailing '/' matches directories only,
 * a leading or inner '/' anchors the pattern to the file's directory. */
#ifndef BATON_FILTER_H
#define BATON_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "util/strv.h"

struct filter;

struct filter_spec {
	const struct strv *include_ext;   /* extensions without the dot; NULL/empty: every file */
	const struct strv *include_dir;   /* paths from the root */
	const struct strv *include_file;  /* paths from the root */
	const struct strv *exclude_dir;
	const struct strv *exclude;       /* globs */
	const struct strv *exclude_regex; /* POSIX ERE against the relative path */
	bool dev_mode;                    /* ignore editor/VCS temp names and ".git" */
};

/* Copies everything it needs from spec. NULL with errno set (EINVAL for a bad regex, with a
 * fresh message in *err when err is not NULL; the caller frees it). */
struct filter *filter_new(const struct filter_spec *spec, char **err);
void filter_free(struct filter *f);

/* Should this directory be watched and descended into? The root ("") always is. */
bool filter_dir_ok(const struct filter *f, const char *rel);
/* Should a change to this file be reported? */
bool filter_file_ok(const struct filter *f, const char *rel);

/* Replace the .gitignore rules of directory dir_rel with those parsed from text (len bytes;
 * NULL or len 0 removes them). Returns the number of rules kept. */
int filter_gitignore_set(struct filter *f, const char *dir_rel, const char *text, size_t len);
/* True when some .gitignore rules are loaded for dir_rel. */
bool filter_gitignore_has(const struct filter *f, const char *dir_rel);
/* The gitignore verdict alone: true when ignored. */
bool filter_gitignored(const struct filter *f, const char *rel, bool is_dir);

/* Glob match of a whole path (see above for the syntax; both anchored at the start). */
bool filter_glob(const char *pat, const char *path);
/* Editor and VCS temporary names (base name only): 4913 and vim's later probe numbers, "*~",
 * ".*.sw?", ".*.swpx", ".#*", "#*#", "*___jb_tmp___", "*___jb_old___", "*___jb_bak___",
 * "sed??????". */
bool filter_temp_name(const char *base);

#endif
