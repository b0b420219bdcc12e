/* Loading: find the config, parse it, walk the tree through the schema table into struct config,
 * have config_check.c check what spans several keys (duplicate listeners, ready = "port"
 * without a forward listener...), and collect every problem as "file:line:col: message". */
#include "config/config_impl.h"
#include "config/config_loader.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "util/buf.h"
#include "util/fileio.h"
#include "util/xalloc.h"

#define CONFIG_MAX_BYTES (4u << 20)

/* ---- diagnostics ---- */

void config_diag_add(struct config_diags *d, const char *file, unsigned line, unsigned col,
		     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	config_diag_addv(d, file, line, col, fmt, ap);
	va_end(ap);
}

void config_diag_addv(struct config_diags *d, const char *file, unsigned line, unsigned col,
		      const char *fmt, va_list ap)
{
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 8;
		d->v = xrealloc(d->v, (size_t)d->cap * sizeof(*d->v));
	}
	d->v[d->n++] = (struct config_diag){xstrdup(file ? file : "config"), line, col, msg};
}

void config_diags_sort(struct config_diags *d)
{
	for (int i = 1; i < d->n; i++) {
		struct config_diag x = d->v[i];
		int j = i;
		while (j > 0 && strcmp(d->v[j - 1].file, x.file) == 0 &&
		       (d->v[j - 1].line > x.line ||
			(d->v[j - 1].line == x.line && d->v[j - 1].col > x.col))) {
			d->v[j] = d->v[j - 1];
			j--;
		}
		d->v[j] = x;
	}
}

void config_diags_print(const struct config_diags *d, int fd)
{
	struct buf b = BUF_INIT;
	for (int i = 0; i < d->n; i++) {
		const struct config_diag *g = &d->v[i];
		if (g->line)
			buf_printf(&b, "%s:%u:%u: %s\n", g->file, g->line, g->col, g->msg);
		else
			buf_printf(&b, "%s: %s\n", g->file, g->msg);
	}
	fd_write_all(fd, buf_cstr(&b), b.len);
	buf_release(&b);
}

void config_diags_release(struct config_diags *d)
{
	for (int i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
	}
	free(d->v);
	d->v = NULL;
	d->n = d->cap = 0;
}

void config_notes_print(const struct strv *notes, int fd)
{
	for (size_t i = 0; i < notes->n; i++) {
		fd_write_all(fd, notes->v[i], strlen(notes->v[i]));
		fd_write_all(fd, "\n", 1);
	}
}

/* ---- paths ---- */

char *config_path_resolve(const char *dir, const char *p)
{
	char *joined = p[0] == '/' ? xstrdup(p) : xasprintf("%s/%s", dir, p);
	size_t n = strlen(joined);
	char *out = xmalloc(n + 2);
	size_t o = 0;
	const char *s = joined;
	while (*s) {
		while (*s == '/')
			s++;
		const char *e = strchr(s, '/');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		if (len == 0)
			break;
		if (len == 1 && s[0] == '.') {
			/* skip */
		} else if (len == 2 && s[0] == '.' && s[1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else {
			out[o++] = '/';
			memcpy(out + o, s, len);
			o += len;
		}
		s += len;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	free(joined);
	return out;
}

/* ---- the walk ---- */

static void note_seen(struct loader *ld, const struct config_key *k, int idx, struct toml_pos pos)
{
	ld->seen = xgrow(ld->seen, &ld->capseen, ld->nseen + 1, sizeof(*ld->seen));
	ld->seen[ld->nseen++] = (struct seen){k, idx, pos};
}

const struct seen *ld_seen(const struct loader *ld, const char *table, const char *name, int idx)
{
	const struct config_key *k = config_key_find(table, name);
	for (size_t i = 0; i < ld->nseen; i++)
		if (ld->seen[i].k == k && ld->seen[i].idx == idx)
			return &ld->seen[i];
	return NULL;
}

void ld_diag(struct loader *ld, struct toml_pos pos, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	config_diag_addv(ld->d, ld->file, pos.line, pos.col, fmt, ap);
	va_end(ap);
}
static void unknown_key(struct loader *ld, const char *table, const struct toml_kv *kv)
{
	char *owned;
	const char *hint = config_suggest_key(table, kv->key, &owned);
	if (table)
		ld_diag(ld, kv->key_pos, "unknown key '%.64s' in [%s%s%s]%s", kv->key,
			config_table_find(table)->scope == CS_ROOT ? "" : "[", table,
			config_table_find(table)->scope == CS_ROOT ? "" : "]", hint);
	else if (kv->val.type == TOML_TABLE && !(hint[0] && strstr(hint, " in [")))
		ld_diag(ld, kv->key_pos, "unknown table [%.64s]%s", kv->key, hint);
	else
		ld_diag(ld, kv->key_pos, "unknown key '%.64s'%s", kv->key, hint);
	free(owned);
}

static void walk_keys(struct loader *ld, const char *table, enum config_scope scope, int idx,
		      void *base, const struct toml_value *tv)
{
	const struct toml_table *t = tv->u.tab;
	for (size_t i = 0; i < t->n; i++) {
		const struct toml_kv *kv = &t->items[i];
		const struct config_key *k = config_key_find(table, kv->key);
		if (!k || k->scope != scope || strlen(kv->key) != kv->keylen) {
			unknown_key(ld, table, kv);
			continue;
		}
		char *err;
		struct toml_pos epos;
		/* seen even when invalid: one error per key, not a second "missing" */
		note_seen(ld, k, idx, kv->val.pos);
		if (config_key_store(k, base, &kv->val, &err, &epos) < 0) {
			ld_diag(ld, epos, "%s", err);
			free(err);
		}
	}
}

static void *add_elem(struct config *cfg, enum config_scope scope, int *n)
{
	void *e;
	switch (scope) {
	case CS_LISTEN:
		cfg->listen =
			xrealloc(cfg->listen, (size_t)(cfg->nlisten + 1) * sizeof(*cfg->listen));
		e = &cfg->listen[cfg->nlisten];
		memset(e, 0, sizeof(*cfg->listen));
		*n = cfg->nlisten++;
		break;
	case CS_RELOAD:
		cfg->reload =
			xrealloc(cfg->reload, (size_t)(cfg->nreload + 1) * sizeof(*cfg->reload));
		e = &cfg->reload[cfg->nreload];
		memset(e, 0, sizeof(*cfg->reload));
		*n = cfg->nreload++;
		break;
	case CS_SOURCE:
		cfg->sources =
			xrealloc(cfg->sources, (size_t)(cfg->nsources + 1) * sizeof(*cfg->sources));
		e = &cfg->sources[cfg->nsources];
		memset(e, 0, sizeof(*cfg->sources));
		*n = cfg->nsources++;
		break;
	default:
		cfg->tls = xrealloc(cfg->tls, (size_t)(cfg->ntls + 1) * sizeof(*cfg->tls));
		e = &cfg->tls[cfg->ntls];
		memset(e, 0, sizeof(*cfg->tls));
		*n = cfg->ntls++;
		break;
	}
	config_scope_defaults(scope, e);
	return e;
}

static void walk_array(struct loader *ld, const struct config_table *tab, const struct toml_kv *kv)
{
	const struct toml_value *v = &kv->val;
	if (v->type != TOML_ARRAY) {
		ld_diag(ld, v->type == TOML_TABLE ? kv->key_pos : v->pos,
			"'%s' must be an array of tables: write [[%s]] for each one", tab->name,
			tab->name);
		return;
	}
	int slot = tab->scope == CS_LISTEN   ? 0
		   : tab->scope == CS_RELOAD ? 1
		   : tab->scope == CS_TLS    ? 2
					     : 3;
	for (size_t i = 0; i < v->u.arr.n; i++) {
		const struct toml_value *el = &v->u.arr.items[i];
		if (el->type != TOML_TABLE) {
			ld_diag(ld, el->pos,
				"'%s' must be an array of tables: write [[%s]] for each one",
				tab->name, tab->name);
			continue;
		}
		int idx;
		void *e = add_elem(ld->cfg, tab->scope, &idx);
		ld->elem_pos[slot] = xgrow(ld->elem_pos[slot], &ld->elem_cap[slot], (size_t)idx + 1,
					   sizeof(struct toml_pos));
		ld->elem_pos[slot][idx] = el->pos;
		walk_keys(ld, tab->name, tab->scope, idx, e, el);
	}
}

static void walk_root(struct loader *ld, const struct toml_value *root)
{
	const struct toml_table *t = root->u.tab;
	for (size_t i = 0; i < t->n; i++) {
		const struct toml_kv *kv = &t->items[i];
		const struct config_table *tab = config_table_find(kv->key);
		if (!tab) {
			const struct config_key *k = config_key_find(NULL, kv->key);
			if (!k) {
				unknown_key(ld, NULL, kv);
				continue;
			}
			char *err;
			struct toml_pos epos;
			note_seen(ld, k, 0, kv->val.pos);
			if (config_key_store(k, ld->cfg, &kv->val, &err, &epos) < 0) {
				ld_diag(ld, epos, "%s", err);
				free(err);
			}
			continue;
		}
		if (tab->scope != CS_ROOT) {
			walk_array(ld, tab, kv);
			continue;
		}
		if (kv->val.type != TOML_TABLE) {
			ld_diag(ld, kv->val.pos,
				"'%s' must be a table: write [%s] and its keys below it", tab->name,
				tab->name);
			continue;
		}
		ld->table_pos[tab - config_tables] = kv->val.pos;
		walk_keys(ld, tab->name, CS_ROOT, 0, ld->cfg, &kv->val);
	}
}

/* ---- checks across keys ---- */

static void check_required(struct loader *ld, enum config_scope scope, int n)
{
	int slot = scope == CS_LISTEN ? 0 : scope == CS_RELOAD ? 1 : scope == CS_TLS ? 2 : 3;
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];
		if (k->scope != scope || !(k->flags & CK_REQUIRED))
			continue;
		if (ld->watch_only && k->table && strcmp(k->table, "run") == 0)
			continue;
		for (int idx = 0; idx < (scope == CS_ROOT ? 1 : n); idx++) {
			if (ld_seen(ld, k->table, k->name, idx))
				continue;
			struct toml_pos p = {1, 1};
			if (scope != CS_ROOT)
				p = ld->elem_pos[slot][idx];
			else if (k->table) {
				const struct config_table *t = config_table_find(k->table);
				if (ld->table_pos[t - config_tables].line)
					p = ld->table_pos[t - config_tables];
			}
			if (scope == CS_ROOT)
				ld_diag(ld, p, "missing required key '%s%s%s'",
					k->table ? k->table : "", k->table ? "." : "", k->name);
			else
				ld_diag(ld, p, "[[%s]] is missing required key '%s'", k->table,
					k->name);
		}
	}
}

/* Files the config names must exist (only for configs loaded from disk). */
static void check_files(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	struct stat st;
	if (stat(cfg->root, &st) < 0 || !S_ISDIR(st.st_mode)) {
		ld_diag(ld, ld_pos_or(ld_seen(ld, NULL, "root", 0), (struct toml_pos){1, 1}),
			"'root': \"%s\" is not a directory", cfg->root);
		return;
	}
	for (int i = 0; i < cfg->ntls; i++) {
		static const char *const names[] = {"cert", "key", "ca"};
		const char *paths[] = {cfg->tls[i].cert, cfg->tls[i].key, cfg->tls[i].ca};
		for (int f = 0; f < 3; f++) {
			if (!paths[f] || !*paths[f])
				continue;
			char *p = config_path_resolve(cfg->root, paths[f]);
			if (access(p, R_OK) < 0)
				ld_diag(ld,
					ld_pos_or(ld_seen(ld, "tls", names[f], i),
						  ld->elem_pos[2][i]),
					"'tls.%s': cannot read \"%s\": %s", names[f], paths[f],
					strerror(errno));
			free(p);
		}
	}
}

/* ---- entry points ---- */

struct config *config_new(void)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	cfg->source = CONFIG_SRC_FILE;
	config_scope_defaults(CS_ROOT, cfg);
	return cfg;
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	for (int i = 0; i < cfg->nlisten; i++)
		config_scope_release(CS_LISTEN, &cfg->listen[i]);
	for (int i = 0; i < cfg->nreload; i++)
		config_scope_release(CS_RELOAD, &cfg->reload[i]);
	for (int i = 0; i < cfg->ntls; i++)
		config_scope_release(CS_TLS, &cfg->tls[i]);
	free(cfg->listen);
	free(cfg->reload);
	free(cfg->tls);
	for (int i = 0; i < cfg->nsources; i++)
		config_scope_release(CS_SOURCE, &cfg->sources[i]);
	free(cfg->sources);
	config_scope_release(CS_ROOT, cfg);
	free(cfg->path);
	free(cfg->dir);
	free(cfg);
}

static char *abs_dir(const char *dir)
{
	if (dir && dir[0] == '/')
		return config_path_resolve("/", dir);
	char cwd[4096];
	if (!getcwd(cwd, sizeof(cwd)))
		snprintf(cwd, sizeof(cwd), "/");
	return config_path_resolve(cwd, dir ? dir : ".");
}

/* Keys only air's format has: a file given with -c under another name is read as air's when
 * it holds one of them. */
static bool looks_like_air(const struct toml_value *root)
{
	static const char *const top[] = {"tmp_dir", "testdata_dir", "env_files",
					  "color",   "misc",	     "screen"};
	/* [proxy] is both air's (browser live reload) and baton's (the HTTP front's limits):
	 * air's when it holds one of air's keys */
	static const char *const proxy[] = {"enabled", "proxy_port", "app_port"};
	const struct toml_kv *px = toml_table_get(root, "proxy");
	for (size_t i = 0; px && i < sizeof(proxy) / sizeof(proxy[0]); i++)
		if (px->val.type == TOML_TABLE && toml_table_get(&px->val, proxy[i]))
			return true;
	static const char *const build[] = {
		"bin",	       "full_bin",	 "entrypoint", "args_bin", "include_ext",
		"exclude_dir", "send_interrupt", "kill_delay", "pre_cmd"};
	for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++)
		if (toml_table_get(root, top[i]))
			return true;
	const struct toml_kv *b = toml_table_get(root, "build");
	for (size_t i = 0; b && i < sizeof(build) / sizeof(build[0]); i++)
		if (toml_table_get(&b->val, build[i]))
			return true;
	return false;
}

enum air_mode { AIR_NO, AIR_YES, AIR_SNIFF };

static struct config *load(const char *name, const char *dir, const char *data, size_t len,
			   enum air_mode air, bool check_fs, bool watch_only,
			   struct config_diags *diags, struct strv *notes)
{
	int first = diags->n;
	struct toml_error terr;
	struct toml_value *root = toml_parse(data, len, &terr);
	if (!root) {
		config_diag_add(diags, name, terr.pos.line, terr.pos.col, "%s", terr.msg);
		return NULL;
	}
	bool is_air = air == AIR_YES || (air == AIR_SNIFF && looks_like_air(root));
	struct config *cfg = config_new();
	cfg->dir = abs_dir(dir);
	cfg->path = config_path_resolve(cfg->dir, name);
	struct loader ld = {.file = name, .d = diags, .cfg = cfg, .watch_only = watch_only};
	if (is_air) {
		cfg->source = CONFIG_SRC_AIR;
		config_air_apply(cfg, root, name, diags, notes);
	} else {
		walk_root(&ld, root);
		check_required(&ld, CS_ROOT, 1);
		check_required(&ld, CS_LISTEN, cfg->nlisten);
		check_required(&ld, CS_RELOAD, cfg->nreload);
		check_required(&ld, CS_TLS, cfg->ntls);
		check_required(&ld, CS_SOURCE, cfg->nsources);
		ld_check_all(&ld);
	}
	char *written = cfg->root;
	cfg->root = config_path_resolve(cfg->dir, written);
	free(written);
	if (check_fs && diags->n == first)
		check_files(&ld);
	toml_free(root);
	free(ld.seen);
	for (int i = 0; i < 4; i++)
		free(ld.elem_pos[i]);
	if (diags->n > first) {
		struct config_diags mine = {diags->v + first, diags->n - first, 0};
		config_diags_sort(&mine);
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

struct config *config_load_buffer(const char *name, const char *dir, const char *data, size_t len,
				  bool is_air, struct config_diags *diags, struct strv *notes)
{
	return load(name, dir, data, len, is_air ? AIR_YES : AIR_NO, false, false, diags, notes);
}

/* ".air.toml", "air.toml", "x.air.toml": air's; "baton.toml", "x.baton.toml": baton's;
 * anything else: by its keys. */
static enum air_mode air_mode_of(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base);
	if (strcmp(base, "air.toml") == 0 || (n >= 9 && strcmp(base + n - 9, ".air.toml") == 0))
		return AIR_YES;
	if (strcmp(base, "baton.toml") == 0 ||
	    (n >= 11 && strcmp(base + n - 11, ".baton.toml") == 0))
		return AIR_NO;
	return AIR_SNIFF;
}

static bool is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static struct config *load_file(const char *explicit_path, const char *cwd, bool watch_only,
				struct config_diags *diags, struct strv *notes)
{
	char *dir = abs_dir(cwd);
	char *name = NULL;
	if (explicit_path) {
		name = xstrdup(explicit_path);
	} else {
		char *p = config_path_resolve(dir, "baton.toml");
		char *q = config_path_resolve(dir, ".air.toml");
		if (is_file(p))
			name = xstrdup("baton.toml");
		else if (is_file(q))
			name = xstrdup(".air.toml");
		free(p);
		free(q);
	}
	if (!name) {
		struct config *cfg = NULL;
		char *pkg = config_find_go_main(dir);
		if (pkg)
			cfg = config_load_default(dir);
		else
			config_diag_add(
				diags, "baton", 0, 0,
				"no config: no baton.toml or .air.toml in \"%s\", and no Go "
				"main package to run (write one with 'baton init')",
				dir);
		free(pkg);
		free(dir);
		return cfg;
	}
	char *path = config_path_resolve(dir, name);
	char *data = NULL;
	size_t len = 0;
	int r = file_read_all(path, CONFIG_MAX_BYTES, &data, &len);
	struct config *cfg = NULL;
	if (r < 0) {
		config_diag_add(diags, name, 0, 0, "cannot read the config: %s",
				r == -EFBIG ? "larger than 4 MiB" : strerror(-r));
	} else {
		char *slash = strrchr(path, '/');
		char *cdir = xstrndup(path, (size_t)(slash - path));
		if (!*cdir) {
			free(cdir);
			cdir = xstrdup("/");
		}
		cfg = load(name, cdir, data, len, air_mode_of(path), true, watch_only, diags,
			   notes);
		if (cfg) {
			free(cfg->path);
			cfg->path = xstrdup(path);
		}
		free(cdir);
	}
	free(data);
	free(path);
	free(name);
	free(dir);
	return cfg;
}

struct config *config_load(const char *explicit_path, const char *cwd, struct config_diags *diags,
			   struct strv *notes)
{
	return load_file(explicit_path, cwd, false, diags, notes);
}

struct config *config_load_watch(const char *explicit_path, const char *cwd,
				 struct config_diags *diags, struct strv *notes)
{
	return load_file(explicit_path, cwd, true, diags, notes);
}
