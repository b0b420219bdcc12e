/* Checks across keys, after the walk: default and duplicate names, listener addresses,
 * [[source]] endpoints, [run] and the front's keys, [rollout], and the HTTPS front's
 * certificate groups. Each problem is one diagnostic at the key it is about. */
#include "config/config_loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_endpoint.h"
#include "net/listen_addr.h"
#include "util/xalloc.h"

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
			const struct seen *sj = ld_seen(ld, table, "name", j);
			struct toml_pos pi =
				ld_pos_or(ld_seen(ld, table, "name", i), ld->elem_pos[slot][i]);
			ld_diag(ld, ld_pos_or(sj, ld->elem_pos[slot][j]),
				"duplicate %s name '%s' (also used on line %u)",
				slot == 0   ? "listener"
				: slot == 3 ? "source"
					    : "reload rule",
				*name_at(ld->cfg, j), pi.line);
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
	struct sockaddr_storage ss;
	socklen_t sl;
	bool tls;
	return http_endpoint_parse(e, &ss, &sl, &tls, NULL, 0) == 0;
}

/* [[source]]: key or prefix, endpoints baton can reach, credentials in pairs. */
static void check_sources(struct loader *ld)
{
	for (int i = 0; i < ld->cfg->nsources; i++) {
		const struct cfg_source *s = &ld->cfg->sources[i];
		struct toml_pos at = ld->elem_pos[3][i];
		if (!s->key == !s->prefix)
			ld_diag(ld, at, "[[source]] '%s' needs exactly one of 'key' and 'prefix'",
				s->name);
		if (s->prefix && s->prefix[strlen(s->prefix) - 1] != '/')
			ld_diag(ld, ld_pos_or(ld_seen(ld, "source", "prefix", i), at),
				"'source.prefix': \"%s\" must end with '/' (every key under it "
				"becomes a file named after the rest of the key)",
				s->prefix);
		if (!s->username != !s->password)
			ld_diag(ld, at, "[[source]] '%s': 'username' and 'password' go together",
				s->name);
		if (!s->cert != !s->cert_key)
			ld_diag(ld, at, "[[source]] '%s': 'cert' and 'cert_key' go together",
				s->name);
		bool https = false;
		for (size_t j = 0; j < s->etcd.n; j++)
			https |= strncmp(s->etcd.v[j], "https://", 8) == 0;
		if (!https && (s->ca || s->cert))
			ld_diag(ld, at,
				"[[source]] '%s': 'ca' and 'cert' are for https:// endpoints, and "
				"it "
				"has none",
				s->name);
		for (size_t j = 0; j < s->etcd.n; j++) {
			const char *e = s->etcd.v[j];
			struct toml_pos ep = ld_pos_or(ld_seen(ld, "source", "etcd", i), at);
			if (!source_endpoint_ok(e))
				ld_diag(ld, ep,
					"'source.etcd': \"%s\" is not an endpoint like "
					"\"http://127.0.0.1:2379\" (an IP address or localhost, "
					"and a "
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
			ld_pos_or(ld_seen(ld, "listen", "address", j), ld->elem_pos[0][j]);
		struct toml_pos fj =
			ld_pos_or(ld_seen(ld, "listen", "forward", j), ld->elem_pos[0][j]);
		for (int i = 0; i < j && addr[j].port >= 0; i++) {
			if (addr[i].port < 0 || !listen_addr_conflict(&addr[i], &addr[j]))
				continue;
			struct toml_pos pi = ld_pos_or(ld_seen(ld, "listen", "address", i), pj);
			ld_diag(ld, pj,
				"duplicate listener address \"%s\": listener '%s' (line %u) "
				"already "
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
			ld_diag(ld, fj,
				"forward address \"%s\" is the address of listener '%s': the app "
				"must "
				"bind another port",
				cfg->listen[j].forward, cfg->listen[i].name);
			break;
		}
		for (int i = 0; i < j; i++) {
			if (fwd[i].port < 0 || !listen_addr_conflict(&fwd[i], &fwd[j]))
				continue;
			ld_diag(ld, fj,
				"forward address \"%s\" is also the forward of listener '%s'",
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
		ld_diag(ld,
			ld_pos_or(ld_seen(ld, "rollout", "strategy", 0), (struct toml_pos){1, 1}),
			"'rollout.strategy': invalid value \"%.64s\": expected \"immediate\", "
			"\"canary\" or \"blue-green\"",
			s);
	bool front = false;
	for (int i = 0; i < cfg->nlisten; i++)
		front |= cfg->listen[i].proxy != LISTEN_PROXY_NONE;
	if (strcmp(s, "immediate") && !front)
		ld_diag(ld,
			ld_pos_or(ld_seen(ld, "rollout", "strategy", 0), (struct toml_pos){1, 1}),
			"'rollout.strategy': \"%.64s\" needs a [[listen]] with proxy = \"http\" "
			"(baton "
			"must see every request to weigh and judge them)",
			s);
	s = cfg->rollout.on_no_traffic;
	if (strcmp(s, "hold") && strcmp(s, "promote") && strcmp(s, "rollback"))
		ld_diag(ld,
			ld_pos_or(ld_seen(ld, "rollout", "on_no_traffic", 0),
				  (struct toml_pos){1, 1}),
			"'rollout.on_no_traffic': invalid value \"%.64s\": expected \"hold\", "
			"\"promote\" or \"rollback\"",
			s);
}

static void check_run(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	/* bind takeover */
	cfg->run.ready_set = ld_seen(ld, "run", "ready", 0) != NULL;
	if (cfg->run.takeover && strcmp(cfg->run.takeover, "auto") != 0 &&
	    strcmp(cfg->run.takeover, "off") != 0)
		ld_diag(ld, ld_pos_or(ld_seen(ld, "run", "takeover", 0), (struct toml_pos){1, 1}),
			"'run.takeover': expected \"auto\" or \"off\", not \"%.64s\"",
			cfg->run.takeover);
	if (cfg->run.ready != READY_PORT)
		return;
	for (int i = 0; i < cfg->nlisten; i++)
		if (cfg->listen[i].forward)
			return;
	ld_diag(ld, ld_pos_or(ld_seen(ld, "run", "ready", 0), (struct toml_pos){1, 1}),
		"'run.ready': \"port\" needs a [[listen]] with 'forward' (the port the app binds)");
}

/* The HTTP front (proxy mode): keys that only mean something with a proxy listener. */
static void check_proxy(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	bool proxied = false;
	for (int i = 0; i < cfg->nlisten; i++)
		proxied |= cfg->listen[i].proxy != LISTEN_PROXY_NONE;
	const struct toml_pos top = {1, 1};
	/* own ports behind the front: one PORT per generation, so one such listener */
	int nfwd = 0;
	for (int i = 0; i < cfg->nlisten; i++)
		if (cfg->listen[i].proxy != LISTEN_PROXY_NONE && cfg->listen[i].forward &&
		    ++nfwd == 2)
			ld_diag(ld, ld_pos_or(ld_seen(ld, "listen", "proxy", i), top),
				"'listen.proxy': only one listener may have proxy = \"http\" with "
				"'forward' (the app gets one PORT per generation)");
	const char *ps = cfg->proxy.private_socket;
	if (ps && strcmp(ps, "tcp") != 0 && strcmp(ps, "unix") != 0)
		ld_diag(ld, ld_pos_or(ld_seen(ld, "proxy", "private_socket", 0), top),
			"'proxy.private_socket': expected \"tcp\" or \"unix\", not \"%.64s\"", ps);
	if (cfg->run.ready == READY_HTTP && !proxied)
		ld_diag(ld, ld_pos_or(ld_seen(ld, "run", "ready", 0), top),
			"'run.ready': \"http:%s\" needs a [[listen]] with proxy = \"http\" (the "
			"probe "
			"goes to the generation's private socket)",
			cfg->run.ready_path);
	if (cfg->health.path && !proxied)
		ld_diag(ld, ld_pos_or(ld_seen(ld, "health", "path", 0), top),
			"'health.path': health checks need a [[listen]] with proxy = \"http\"");
	if (cfg->dev.live_reload && !proxied)
		ld_diag(ld, ld_pos_or(ld_seen(ld, "dev", "live_reload", 0), top),
			"'dev.live_reload': live reload needs a [[listen]] with proxy = \"http\" "
			"(baton "
			"adds the script to the HTML it forwards)");
	if (cfg->health.timeout_ms > cfg->health.interval_ms)
		ld_diag(ld, ld_pos_or(ld_seen(ld, "health", "timeout", 0), top),
			"'health.timeout' (%lld ms) is longer than 'health.interval' (%lld ms)",
			(long long)cfg->health.timeout_ms, (long long)cfg->health.interval_ms);
}

/* proxy = "https" and its tls list: every name a [[tls]] group's, names unique; the groups
 * they name are the front's (cfg_tls.front), acted on only when `action` is written. */
static void check_https(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	for (int j = 1; j < cfg->ntls; j++)
		for (int i = 0; i < j && cfg->tls[j].name; i++)
			if (cfg->tls[i].name && strcmp(cfg->tls[i].name, cfg->tls[j].name) == 0) {
				ld_diag(ld,
					ld_pos_or(ld_seen(ld, "tls", "name", j),
						  ld->elem_pos[2][j]),
					"duplicate [[tls]] name '%s'", cfg->tls[j].name);
				break;
			}
	for (int i = 0; i < cfg->nlisten; i++) {
		const struct cfg_listen *cl = &cfg->listen[i];
		struct toml_pos at = ld_pos_or(ld_seen(ld, "listen", "tls", i), ld->elem_pos[0][i]);
		if (cl->proxy != LISTEN_PROXY_HTTPS) {
			if (cl->tls.n)
				ld_diag(ld, at,
					"'listen.tls': listener '%s' does not terminate TLS: 'tls' "
					"needs proxy = \"https\"",
					cl->name);
			continue;
		}
		if (!cl->tls.n) {
			ld_diag(ld, ld_pos_or(ld_seen(ld, "listen", "proxy", i), at),
				"listener '%s': proxy = \"https\" needs 'tls', the names of the "
				"[[tls]] groups whose certificates it serves",
				cl->name);
			continue;
		}
		for (size_t k = 0; k < cl->tls.n; k++) {
			const char *name = cl->tls.v[k];
			int found = -1;
			for (int t = 0; t < cfg->ntls && found < 0; t++)
				if (cfg->tls[t].name && strcmp(cfg->tls[t].name, name) == 0)
					found = t;
			for (size_t e = 0; e < k; e++)
				if (strcmp(cl->tls.v[e], name) == 0)
					ld_diag(ld, at, "'listen.tls': \"%.64s\" is named twice",
						name);
			if (found < 0) {
				ld_diag(ld, at,
					"'listen.tls': no [[tls]] group is named \"%.64s\" (give "
					"the "
					"group name = \"%.64s\")",
					name, name);
				continue;
			}
			cfg->tls[found].front = true;
		}
	}
	for (int t = 0; t < cfg->ntls; t++)
		cfg->tls[t].act = !cfg->tls[t].front || ld_seen(ld, "tls", "action", t) != NULL;
}

void ld_check_all(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	check_names(ld, "source", cfg->nsources, source_name);
	check_sources(ld);
	check_names(ld, "listen", cfg->nlisten, listen_name);
	check_names(ld, "reload", cfg->nreload, reload_name);
	check_listeners(ld);
	check_run(ld);
	check_proxy(ld);
	check_rollout(ld);
	check_https(ld);
}
