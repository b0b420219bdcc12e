/* Internals shared by the config_*.c files (not for other modules: they read struct config).
 *   config_schema.c  the one table of baton.toml keys: type, default, bounds, help
 *   config_store.c   a TOML value checked against its key and stored; defaults; release
 *   config_load.c    discovery, TOML tree -> struct config, diagnostics
 *   config_check.c   checks across keys, after the walk (config_loader.h)
 *   config_air.c     air's .air.toml mapped onto the same struct
 *   config_print.c   struct config -> commented baton.toml
 *   config_suggest.c "did you mean" by edit distance */
#ifndef BATON_CONFIG_IMPL_H
#define BATON_CONFIG_IMPL_H

#include <stdarg.h>
#include <stddef.h>

#include "config/config.h"
#include "toml/toml.h"

enum config_type {
	CT_STR,	       /* char *; "" allowed unless CK_NONEMPTY */
	CT_OPTSTR,     /* char *; "" stored as NULL */
	CT_BOOL,       /* bool */
	CT_INT,	       /* int, within [min, max] */
	CT_DURATION,   /* int64_t ms from "250ms", "10s", "1m30s"; at least min ms */
	CT_SIGNAL,     /* int, a signal name or number */
	CT_OPTSIGNAL,  /* int; "" stored as 0 */
	CT_STRV,       /* struct strv from an array of strings (a single string is one item) */
	CT_EXTV,       /* struct strv of file extensions, leading '.' dropped */
	CT_REGEXV,     /* struct strv of POSIX extended regular expressions */
	CT_ENV,	       /* struct strv of "KEY=VALUE" from a table */
	CT_READY,      /* enum ready_kind at off, ready_delay_ms at off2 */
	CT_ACTION,     /* struct cfg_action */
	CT_POLL,       /* enum poll_mode at off, poll_interval_ms at off2 */
	CT_ADDRESS,    /* char *, a listen address (listen_addr_parse) */
	CT_OPTADDRESS, /* char * or NULL (""), a listen address */
	CT_FORWARD,    /* char * or NULL, a TCP "host:port" with a non-zero port */
	CT_COLOR,      /* int (enum log_color) from "auto" | "always" | "never" */
	CT_LOGFORMAT,  /* bool json from "text" | "json" */
	CT_NAME,       /* char *, [A-Za-z0-9._-]+ (LISTEN_FDNAMES entries, rule names) */
	CT_PROXY,      /* enum listen_proxy from "http" ("" = none) */
	CT_URLPATH,    /* char * or NULL, an origin-form path such as "/healthz" ("" = none) */
	CT_PERCENTV,   /* struct cfg_percents: increasing integers in [min, max] */
	CT_DECIMAL,    /* double within [min, max], from an integer or a float */
};

/* Which struct a key's offsets are relative to. */
enum config_scope { CS_ROOT, CS_LISTEN, CS_RELOAD, CS_TLS, CS_SOURCE };

#define CK_REQUIRED 1u	  /* must be present */
#define CK_NONEMPTY 2u	  /* "" or [] is an error */
#define CK_EMPTY_ITEMS 4u /* a list may hold "" (arguments) */

struct config_key {
	const char *table; /* NULL: top level; else "build", "run", "listen", ... */
	const char *name;
	enum config_type type;
	enum config_scope scope;
	size_t off, off2;
	const char *def; /* default in the value's string form; lists comma-separated; NULL: none */
	long long min, max;
	unsigned flags;
	const char *help;
};

struct config_table {
	const char *name;
	enum config_scope scope; /* CS_ROOT: [name]; otherwise [[name]] */
	const char *help;
};

extern const struct config_key config_keys[];
extern const size_t config_nkeys;
extern const struct config_table config_tables[];
extern const size_t config_ntables;

const struct config_key *config_key_find(const char *table, const char *name);
const struct config_table *config_table_find(const char *name);
/* Store v at the key's field in base (freeing what was there). Returns 0, or -EINVAL with a
 * fresh message in *err and where it applies in *errpos (an array item, say). */
int config_key_store(const struct config_key *k, void *base, const struct toml_value *v, char **err,
		     struct toml_pos *errpos);
/* NULL when p is a usable origin-form path ("/healthz"), else why not (static). */
const char *config_urlpath_check(const char *p);
/* Apply every default of one scope to base (which must be zeroed or already defaulted). */
void config_scope_defaults(enum config_scope scope, void *base);
/* Free what the keys of one scope own in base. */
void config_scope_release(enum config_scope scope, void *base);
/* Parse "restart" | "signal:SIG" | "exec:CMD"; returns NULL or a static reason. */
const char *config_action_parse(const char *s, struct cfg_action *a);
/* A TOML value literal for the key's current value in base (fresh string). */
char *config_key_format(const struct config_key *k, const void *base);
/* A fresh TOML basic string literal for s, quotes included. */
char *config_toml_quote(const char *s);
const char *config_type_expect(enum config_type t);

struct config *config_new(void);
/* Append "file:line:col: msg" (line 0: no position). Control characters in msg become '?'. */
void config_diag_add(struct config_diags *d, const char *file, unsigned line, unsigned col,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void config_diag_addv(struct config_diags *d, const char *file, unsigned line, unsigned col,
		      const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
void config_diags_sort(struct config_diags *d);
/* dir + "/" + p with "." and ".." and doubled slashes removed; p absolute stays p. */
char *config_path_resolve(const char *dir, const char *p);

/* The closest candidate within a small edit distance, or NULL. */
const char *config_suggest(const char *word, const char *const *cands, size_t n);
/* The suggestion text for an unknown key of table (NULL: top level), as
 * "; did you mean 'debounce'?" or "" (static or fresh: the caller frees *owned). */
const char *config_suggest_key(const char *table, const char *key, char **owned);

/* Fill cfg (already holding baton's defaults) from air's tree. Errors go to d, notes about keys
 * without an equivalent to notes. */
void config_air_apply(struct config *cfg, const struct toml_value *root, const char *file,
		      struct config_diags *d, struct strv *notes);

#endif
