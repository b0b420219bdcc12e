/* Loading: find the config, parse it, walk the tree through the schema table into struct config,
 * check what spans several keys (duplicate listeners, ready = "port" without a forward
 * listener...), and collect every problem as "file:line:col: message". */
#include "config/config_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/listen_addr.h"
#include "core/log.h"
#include "util/buf.h"
#include "util/fileio.h"
#include "util/xalloc.h"

#define CONFIG_MAX_BYTES (4u << 20)

/* Where a key was set, for messages about it that come after the walk. */
struct seen {
	const struct config_key *k;
	int idx; /* element of [[listen]] / [[reload]] / [[tls]], else 0 */
	struct toml_pos pos;
};

struct loader {
	const char *file;
	struct config_diags *d;
	struct config *cfg;
	struct seen *seen;
	size_t nseen, capseen;
	struct toml_pos *elem_pos[4]; /* table positions of listen, reload, tls, source elements */
	size_t elem_cap[4];
	struct toml_pos table_pos[16]; /* positions of [build], [run], ... by config_tables index */
	bool watch_only;	       /* config_load_watch: what runs an app is not required */
};

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

static const struct seen *find_seen(const struct loader *ld, const char *table, const char *name,
				    int idx)
{
	const struct config_key *k = config_key_find(table, name);
	for (size_t i = 0; i < ld->nseen; i++)
		if (ld->seen[i].k == k && ld->seen[i].idx == idx)
			return &ld->seen[i];
	return NULL;
}

static void diag(struct loader *ld, struct toml_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void diag(struct loader *ld, struct toml_pos pos, const char *fmt, ...)
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
		diag(ld, kv->key_pos, "unknown key '%.64s' in [%s%s%s]%s", kv->key,
		     config_table_find(table)->scope == CS_ROOT ? "" : "[", table,
		     config_table_find(table)->scope == CS_ROOT ? "" : "]", hint);
	else if (kv->val.type == TOML_TABLE && !(hint[0] && strstr(hint, " in [")))
		diag(ld, kv->key_pos, "unknown table [%.64s]%s", kv->key, hint);
	else
		diag(ld, kv->key_pos, "unknown key '%.64s'%s", kv->key, hint);
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
			diag(ld, epos, "%s", err);
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
		cfg->sources = xrealloc(cfg->sources,
					(size_t)(cfg->nsources + 1) * sizeof(*cfg->sources));
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
		diag(ld, v->type == TOML_TABLE ? kv->key_pos : v->pos,
		     "'%s' must be an array of tables: write [[%s]] for each one", tab->name,
		     tab->name);
		return;
	}
	int slot = tab->scope == CS_LISTEN ? 0 : tab->scope == CS_RELOAD ? 1 : tab->scope == CS_TLS ? 2 : 3;
	for (size_t i = 0; i < v->u.arr.n; i++) {
		const struct toml_value *el = &v->u.arr.items[i];
		if (el->type != TOML_TABLE) {
			diag(ld, el->pos,
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
				diag(ld, epos, "%s", err);
				free(err);
			}
			continue;
		}
		if (tab->scope != CS_ROOT) {
			walk_array(ld, tab, kv);
			continue;
		}
		if (kv->val.type != TOML_TABLE) {
			diag(ld, kv->val.pos,
			     "'%s' must be a table: write [%s] and its keys below it", tab->name,
			     tab->name);
			continue;
		}
		ld->table_pos[tab - config_tables] = kv->val.pos;
		walk_keys(ld, tab->name, CS_ROOT, 0, ld->cfg, &kv->val);
	}
}

/* ---- checks across keys ---- */

static struct toml_pos pos_or(const struct seen *s, struct toml_pos dflt)
{
	return s ? s->pos : dflt;
}

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
			if (find_seen(ld, k->table, k->name, idx))
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
				diag(ld, p, "missing required key '%s%s%s'",
				     k->table ? k->table : "", k->table ? "." : "", k->name);
			else
				diag(ld, p, "[[%s]] is missing required key '%s'", k->table,
				     k->name);
		}
	}
}

/* Default names ("listen1", "reload2") and duplicates. */
static void check_names(struct loader *ld, const char *table, int n,
			char **(*name_at)(struct config *, int))
{
	int slot = strcmp(table, "listen") == 0 ? 0 : strcmp(table, "source") == 0 ? 3 : 1;
	for (int i = 0; i < n; i++) {
		char **name = name_at(ld->cfg, i);
		if (!*name)
			*name = xasprintf("%s%d", table, i + 1);
	}
	for (int j = 1; j < n; j++) {
		for (int i = 0; i < j; i++) {
			if (strcmp(*name_at(ld->cfg, i), *name_at(ld->cfg, j)) != 0)
				continue;
			const struct seen *sj = find_seen(ld, table, "name", j);
			struct toml_pos pi =
				pos_or(find_seen(ld, table, "name", i), ld->elem_pos[slot][i]);
			diag(ld, pos_or(sj, ld->elem_pos[slot][j]),
			     "duplicate %s name '%s' (also used on line %u)",
			     slot == 0 ? "listener" : slot == 3 ? "source" : "reload rule", *name_at(ld->cfg, j), pi.line);
			break;
		}
	}
}

static char **listen_name(struct config *cfg, int i)
{
	return &cfg->listen[i].name;
}

static char **reload_name(struct config *cfg, int i)
{
	return &cfg->reload[i].name;
}

static char **source_name(struct config *cfg, int i)
{
	return &cfg->sources[i].name;
}

/* "http://IP:PORT", "http://[IPv6]:PORT" or "http://localhost:PORT" (or https://). */
static bool source_endpoint_ok(const char *e)
{
	bool tls = strncmp(e, "https://", 8) == 0;
	if (!tls && strncmp(e, "http://", 7) != 0)
		return false;
	const char *h = e + (tls ? 8 : 7), *colon;
	char host[64];
	if (*h == '[') {
		const char *rb = strchr(h, ']');
		if (!rb || rb[1] != ':' || (size_t)(rb - h - 1) >= sizeof(host))
			return false;
		memcpy(host, h + 1, (size_t)(rb - h - 1));
		host[rb - h - 1] = 0;
		colon = rb + 1;
	} else {
		colon = strrchr(h, ':');
		if (!colon || (size_t)(colon - h) >= sizeof(host))
			return false;
		memcpy(host, h, (size_t)(colon - h));
		host[colon - h] = 0;
	}
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end || port <= 0 || port > 65535)
		return false;
	unsigned char a[16];
	return strcmp(host, "localhost") == 0 || inet_pton(AF_INET, host, a) == 1 ||
	       (h[0] == '[' && inet_pton(AF_INET6, host, a) == 1);
}

/* [[source]]: key or prefix, endpoints baton can reach, credentials in pairs. */
static void check_sources(struct loader *ld)
{
	for (int i = 0; i < ld->cfg->nsources; i++) {
		const struct cfg_source *s = &ld->cfg->sources[i];
		struct toml_pos at = ld->elem_pos[3][i];
		if (!s->key == !s->prefix)
			diag(ld, at, "[[source]] '%s' needs exactly one of 'key' and 'prefix'",
			     s->name);
		if (s->prefix && s->prefix[strlen(s->prefix) - 1] != '/')
			diag(ld, pos_or(find_seen(ld, "source", "prefix", i), at),
			     "'source.prefix': \"%s\" must end with '/' (every key under it "
			     "becomes a file named after the rest of the key)",
			     s->prefix);
		if (!s->username != !s->password)
			diag(ld, at, "[[source]] '%s': 'username' and 'password' go together",
			     s->name);
		if (!s->cert != !s->cert_key)
			diag(ld, at, "[[source]] '%s': 'cert' and 'cert_key' go together", s->name);
		bool https = false;
		for (size_t j = 0; j < s->etcd.n; j++)
			https |= strncmp(s->etcd.v[j], "https://", 8) == 0;
		if (!https && (s->ca || s->cert))
			diag(ld, at,
			     "[[source]] '%s': 'ca' and 'cert' are for https:// endpoints, and it "
			     "has none",
			     s->name);
		for (size_t j = 0; j < s->etcd.n; j++) {
			const char *e = s->etcd.v[j];
			struct toml_pos ep = pos_or(find_seen(ld, "source", "etcd", i), at);
			if (!source_endpoint_ok(e))
				diag(ld, ep,
				     "'source.etcd': \"%s\" is not an endpoint like "
				     "\"http://127.0.0.1:2379\" (an IP address or localhost, and a "
				     "port: baton does no name lookups)",
				     e);
		}
	}
}

static void check_listeners(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	int n = cfg->nlisten;
	struct listen_addr *addr = xcalloc((size_t)n + 1, sizeof(*addr));
	struct listen_addr *fwd = xcalloc((size_t)n + 1, sizeof(*fwd));
	for (int i = 0; i < n; i++) {
		if (!cfg->listen[i].address ||
		    listen_addr_parse(cfg->listen[i].address, &addr[i], NULL))
			addr[i].port = -1; /* missing or already reported */
		if (!cfg->listen[i].forward ||
		    listen_addr_parse(cfg->listen[i].forward, &fwd[i], NULL))
			fwd[i].port = -1;
	}
	for (int j = 0; j < n; j++) {
		struct toml_pos pj =
			pos_or(find_seen(ld, "listen", "address", j), ld->elem_pos[0][j]);
		struct toml_pos fj =
			pos_or(find_seen(ld, "listen", "forward", j), ld->elem_pos[0][j]);
		for (int i = 0; i < j && addr[j].port >= 0; i++) {
			if (addr[i].port < 0 || !listen_addr_conflict(&addr[i], &addr[j]))
				continue;
			struct toml_pos pi = pos_or(find_seen(ld, "listen", "address", i), pj);
			diag(ld, pj,
			     "duplicate listener address \"%s\": listener '%s' (line %u) already "
			     "binds \"%s\"",
			     cfg->listen[j].address, cfg->listen[i].name, pi.line,
			     cfg->listen[i].address);
			break;
		}
		if (fwd[j].port < 0)
			continue;
		for (int i = 0; i < n; i++) {
			if (addr[i].port < 0 || !listen_addr_conflict(&addr[i], &fwd[j]))
				continue;
			diag(ld, fj,
			     "forward address \"%s\" is the address of listener '%s': the app must "
			     "bind another port",
			     cfg->listen[j].forward, cfg->listen[i].name);
			break;
		}
		for (int i = 0; i < j; i++) {
			if (fwd[i].port < 0 || !listen_addr_conflict(&fwd[i], &fwd[j]))
				continue;
			diag(ld, fj, "forward address \"%s\" is also the forward of listener '%s'",
			     cfg->listen[j].forward, cfg->listen[i].name);
			break;
		}
	}
	free(addr);
	free(fwd);
}

static void check_rollout(struct loader *ld)
{
	const struct config *cfg = ld->cfg;
	const char *s = cfg->rollout.strategy;
	if (strcmp(s, "immediate") && strcmp(s, "canary") && strcmp(s, "blue-green"))
		diag(ld, pos_or(find_seen(ld, "rollout", "strategy", 0), (struct toml_pos){1, 1}),
		     "'rollout.strategy': invalid value \"%.64s\": expected \"immediate\", "
		     "\"canary\" or \"blue-green\"",
		     s);
	bool front = false;
	for (int i = 0; i < cfg->nlisten; i++)
		front |= cfg->listen[i].proxy == LISTEN_PROXY_HTTP;
	if (strcmp(s, "immediate") && !front)
		diag(ld, pos_or(find_seen(ld, "rollout", "strategy", 0), (struct toml_pos){1, 1}),
		     "'rollout.strategy': \"%.64s\" needs a [[listen]] with proxy = \"http\" (baton "
		     "must see every request to weigh and judge them)",
		     s);
	s = cfg->rollout.on_no_traffic;
	if (strcmp(s, "hold") && strcmp(s, "promote") && strcmp(s, "rollback"))
		diag(ld,
		     pos_or(find_seen(ld, "rollout", "on_no_traffic", 0), (struct toml_pos){1, 1}),
		     "'rollout.on_no_traffic': invalid value \"%.64s\": expected \"hold\", "
		     "\"promote\" or \"rollback\"",
		     s);
}

static void check_run(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	/* bind takeover */
	cfg->run.ready_set = find_seen(ld, "run", "ready", 0) != NULL;
	if (cfg->run.takeover && strcmp(cfg->run.takeover, "auto") != 0 &&
	    strcmp(cfg->run.takeover, "off") != 0)
		diag(ld, pos_or(find_seen(ld, "run", "takeover", 0), (struct toml_pos){1, 1}),
		     "'run.takeover': expected \"auto\" or \"off\", not \"%.64s\"",
		     cfg->run.takeover);
	if (cfg->run.ready != READY_PORT)
		return;
	for (int i = 0; i < cfg->nlisten; i++)
		if (cfg->listen[i].forward)
			return;
	diag(ld, pos_or(find_seen(ld, "run", "ready", 0), (struct toml_pos){1, 1}),
	     "'run.ready': \"port\" needs a [[listen]] with 'forward' (the port the app binds)");
}

/* The HTTP front (proxy mode): keys that only mean something with a proxy listener. */
static void check_proxy(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	bool proxied = false;
	for (int i = 0; i < cfg->nlisten; i++)
		proxied |= cfg->listen[i].proxy == LISTEN_PROXY_HTTP;
	const struct toml_pos top = {1, 1};
	/* own ports behind the front: one PORT per generation, so one such listener */
	int nfwd = 0;
	for (int i = 0; i < cfg->nlisten; i++)
		if (cfg->listen[i].proxy == LISTEN_PROXY_HTTP && cfg->listen[i].forward &&
		    ++nfwd == 2)
			diag(ld, pos_or(find_seen(ld, "listen", "proxy", i), top),
			     "'listen.proxy': only one listener may have proxy = \"http\" with "
			     "'forward' (the app gets one PORT per generation)");
	const char *ps = cfg->proxy.private_socket;
	if (ps && strcmp(ps, "tcp") != 0 && strcmp(ps, "unix") != 0)
		diag(ld, pos_or(find_seen(ld, "proxy", "private_socket", 0), top),
		     "'proxy.private_socket': expected \"tcp\" or \"unix\", not \"%.64s\"", ps);
	if (cfg->run.ready == READY_HTTP && !proxied)
		diag(ld, pos_or(find_seen(ld, "run", "ready", 0), top),
		     "'run.ready': \"http:%s\" needs a [[listen]] with proxy = \"http\" (the probe "
		     "goes to the generation's private socket)",
		     cfg->run.ready_path);
	if (cfg->health.path && !proxied)
		diag(ld, pos_or(find_seen(ld, "health", "path", 0), top),
		     "'health.path': health checks need a [[listen]] with proxy = \"http\"");
	if (cfg->dev.live_reload && !proxied)
		diag(ld, pos_or(find_seen(ld, "dev", "live_reload", 0), top),
		     "'dev.live_reload': live reload needs a [[listen]] with proxy = \"http\" "
		     "(baton "
		     "adds the script to the HTML it forwards)");
	if (cfg->health.timeout_ms > cfg->health.interval_ms)
		diag(ld, pos_or(find_seen(ld, "health", "timeout", 0), top),
		     "'health.timeout' (%lld ms) is longer than 'health.interval' (%lld ms)",
		     (long long)cfg->health.timeout_ms, (long long)cfg->health.interval_ms);
}

/* Files the config names must exist (only for configs loaded from disk). */
static void check_files(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	struct stat st;
	if (stat(cfg->root, &st) < 0 || !S_ISDIR(st.st_mode)) {
		diag(ld, pos_or(find_seen(ld, NULL, "root", 0), (struct toml_pos){1, 1}),
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
				diag(ld,
				     pos_or(find_seen(ld, "tls", names[f], i), ld->elem_pos[2][i]),
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
		check_names(&ld, "source", cfg->nsources, source_name);
		check_sources(&ld);
		check_names(&ld, "listen", cfg->nlisten, listen_name);
		check_names(&ld, "reload", cfg->nreload, reload_name);
		check_listeners(&ld);
		check_run(&ld);
		check_proxy(&ld);
		check_rollout(&ld);
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
