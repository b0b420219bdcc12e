/* Small /proc readers for process ancestry: who is whose parent, and which processes a given
 * process has as children. Used to attribute notify datagrams to a generation (descendants
 * count) and to find orphans re-parented to baton. No state, no fds kept open. */
#ifndef BATON_PROC_H
#define BATON_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Parse the text of /proc/<pid>/stat ("pid (comm) state ppid ...") for the ppid; comm may
 * contain spaces and parentheses. Pure. Returns 0, or -EINVAL for malformed text. */
int proc_parse_stat_ppid(const char *text, size_t len, pid_t *ppid);
/* The parent pid of pid from /proc/<pid>/stat. 0 or -errno (-ESRCH when pid is gone). */
int proc_ppid(pid_t pid, pid_t *ppid);
/* True when pid is ancestor itself or one of its descendants, following the ppid chain.
 * A process re-parented to a subreaper (or init) is no longer a descendant of its old
 * ancestor. False when either pid is <= 0 or on any /proc read error. */
bool proc_is_descendant(pid_t pid, pid_t ancestor);
/* The pids whose parent is `parent`, in a fresh array the caller frees (*out is NULL when
 * *n is 0). Reads /proc/<parent>/task/<tid>/children, falls back to scanning /proc/<pid>/stat.
 * Returns 0 or -errno. */
int proc_children(pid_t parent, pid_t **out, size_t *n);

#endif
