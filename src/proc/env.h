/* Building a child's environment, and parsing env files. Pure: inputs in, a strv of
 * "KEY=VALUE" out; nothing here reads or changes baton's own environment except
 * env_file_load(), which reads the named file.
 *
 * Precedence (later wins): baton's environment (minus the variables baton manages for its
 * children: LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES, LISTEN_PIDFDID, NOTIFY_SOCKET, WATCHDOG_PID,
 * WATCHDOG_USEC), then env_file entries in file order, then [run].env entries in order, then
 * BATON_GENERATION and PORT. LISTEN_* and NOTIFY_SOCKET for the child are added by the child
 * module at spawn time, never here.
 *
 * Ownership: every strv passed as output is appended to / modified in place and stays the
 * caller's (strv_release() frees it). Error strings (*err) are malloc'd; the caller frees them. */
#ifndef BATON_ENV_H
#define BATON_ENV_H

#include <stdbool.h>
#include <stddef.h>

#include "util/strv.h"

/* True when name is a valid variable name: [A-Za-z_][A-Za-z0-9_]* (len bytes). */
bool env_name_valid(const char *name, size_t len);
/* The value of key in env ("KEY=VALUE" entries), or NULL. */
const char *env_get(const struct strv *env, const char *key);
/* Replace every entry for key (keeping the first one's position) or append "key=value". */
void env_set(struct strv *env, const char *key, const char *value);
/* Same as env_set() for one "KEY=VALUE" entry. -EINVAL when it has no '=' or a bad name. */
int env_set_entry(struct strv *env, const char *entry);
/* True for the variables baton sets for children itself and must never pass through. */
bool env_is_managed(const char *key, size_t keylen);

struct env_input {
	const char *const *base;   /* baton's environment (environ), or NULL for none */
	const struct strv *files;  /* entries parsed from env files, or NULL */
	const struct strv *config; /* [run].env "KEY=VALUE" entries, or NULL */
	long generation;	   /* BATON_GENERATION, or < 0 to leave unset */
	const char *port;	   /* PORT value (forward mode), or NULL to leave as is */
};

/* Build the environment into out (appended to; normally empty). Entries of base without '='
 * are dropped. Returns 0, or -EINVAL when a files/config entry is malformed (*err, if err is
 * not NULL, gets "invalid environment entry \"...\"" and out is left partially built). */
int env_build(const struct env_input *in, struct strv *out, char **err);

/* Parse env-file text: KEY=VALUE lines, optional "export " prefix, blank lines and # comments,
 * '...' (literal) and "..." (\n \t \r \\ \" \$ escapes) values that may span lines, unquoted
 * values trimmed and cut at " #". No variable expansion. Entries are appended to out in
 * file order (a later duplicate overrides an earlier one through env_set()).
 * Returns 0, or -EINVAL with *err = "NAME:LINE: message" (NAME is `name`). */
int env_file_parse(const char *name, const char *data, size_t len, struct strv *out, char **err);
/* Read path (at most 1 MiB) and parse it; errors name the path: "path:3: ..." or
 * "cannot read \"path\": No such file or directory". Returns 0 or -errno/-EINVAL. */
int env_file_load(const char *path, struct strv *out, char **err);

#endif
