/* The etcd kind of source: range, then watch from the revision after it, through etcd's v3 JSON
 * gateway. Endpoints are tried in turn; a full round that fails waits (250 ms doubling to 30 s,
 * forever) and says the source is down; a watch resumes from the last revision seen; a
 * compacted start revision reads the whole range again and converges on it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/loop.h"
#include "source/etcd_http.h"
#include "source/etcd_proto.h"
#include "source/etcd_stream.h"
#include "source/source_int.h"
#include "tls/tlsclient.h"
#include "util/buf.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 30000
#define REQUEST_TIMEOUT_MS 10000
#define STABLE_MS 10000 /* a watch up this long resets the backoff */
#define BODY_MAX (64u << 20)

enum phase { P_IDLE, P_AUTH, P_RANGE, P_WATCH };

struct kv {
	char *name; /* the key without the prefix ("" in key mode) */
	char *value;
	size_t len;
};

struct etcd {
	struct loop *loop;
	const struct cfg_source *cfg;
	struct source *src;
	const char *key; /* key or prefix */
	bool prefix;
	size_t ep;    /* endpoint in use */
	size_t fails; /* failures in this round of endpoints */
	int64_t backoff_ms;
	struct loop_timer *retry;
	struct etcd_http *req;
	enum phase phase;
	struct buf body; /* range / auth answer */
	struct etcd_stream stream;
	bool watching; /* the watch was created */
	int64_t watch_since;
	bool changed; /* events applied since the last delivery */
	char *token;
	int64_t rev; /* last revision seen; the watch starts after it */
	bool need_range;
	struct kv *view;
	size_t nview;
	struct tls_client *tls; /* for https:// endpoints, or NULL */
};

static void connect_next(struct etcd *e);

static const char *endpoint(const struct etcd *e)
{
	return e->cfg->etcd.v[e->ep];
}

static void drop_req(struct etcd *e)
{
	etcd_http_free(e->req);
	e->req = NULL;
	buf_reset(&e->body);
	etcd_stream_release(&e->stream);
	etcd_stream_init(&e->stream);
	e->phase = P_IDLE;
	e->watching = false;
}

static void retry_timer(struct loop *l, void *data)
{
	(void)l;
	connect_next(data);
}

/* The request on the current endpoint failed: the next endpoint now, or after a full round
 * the backoff. */
static void fail(struct etcd *e, const char *what)
{
	bool was_watching = e->watching;
	/* the backoff starts over only after a watch that lasted: one canceled as soon as it is
	 * created (a member without a leader) must not make baton retry four times a second */
	if (was_watching && now_ms() - e->watch_since >= STABLE_MS)
		e->backoff_ms = BACKOFF_MIN_MS;
	drop_req(e);
	char *why = xasprintf("etcd \"%s\": %s", endpoint(e), what);
	size_t n = e->cfg->etcd.n;
	e->ep = (e->ep + 1) % n;
	if (was_watching)
		e->fails = 0;
	if (++e->fails < n) {
		log_debug("source \"%s\": %s — trying the next endpoint", e->cfg->name, why);
		free(why);
		connect_next(e);
		return;
	}
	e->fails = 0;
	source_set_state(e->src, false, why);
	log_info("source \"%s\": %s — retrying in %lld ms", e->cfg->name, why,
		 (long long)e->backoff_ms);
	free(why);
	loop_timer_arm_in(e->retry, e->backoff_ms);
	e->backoff_ms = e->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : e->backoff_ms * 2;
}

/* The error text of a non-200 answer. */
static char *answer_error(struct etcd *e)
{
	char *m = etcd_error_parse(e->body.p ? e->body.p : "", e->body.len);
	char *s = xasprintf("HTTP %d%s%s", etcd_http_status(e->req), m ? ": " : "", m ? m : "");
	free(m);
	if (strstr(s, "invalid auth token") || strstr(s, "user name is empty") ||
	    etcd_http_status(e->req) == 401) {
		free(e->token);
		e->token = NULL; /* authenticate again on the next try */
	}
	return s;
}

/* ---- the view ---- */

static void view_clear(struct etcd *e)
{
	for (size_t i = 0; i < e->nview; i++) {
		free(e->view[i].name);
		free(e->view[i].value);
	}
	free(e->view);
	e->view = NULL;
	e->nview = 0;
}

/* The key's name under the prefix ("" in key mode), or NULL: not ours, or a NUL inside. */
static const char *rel_name(const struct etcd *e, const struct etcd_kv *kv)
{
	size_t pl = strlen(e->key);
	if (strlen(kv->key) != kv->keylen || kv->keylen < pl || memcmp(kv->key, e->key, pl) != 0)
		return NULL;
	if (!e->prefix && kv->keylen != pl)
		return NULL;
	return kv->key + pl;
}

static void view_set(struct etcd *e, const struct etcd_kv *kv)
{
	const char *name = rel_name(e, kv);
	if (!name)
		return;
	for (size_t i = 0; i < e->nview; i++) {
		if (strcmp(e->view[i].name, name) != 0)
			continue;
		free(e->view[i].value);
		if (kv->deleted) {
			free(e->view[i].name);
			e->view[i] = e->view[--e->nview];
		} else {
			e->view[i].value = xmalloc(kv->vlen + 1);
			memcpy(e->view[i].value, kv->value, kv->vlen);
			e->view[i].value[kv->vlen] = 0;
			e->view[i].len = kv->vlen;
		}
		return;
	}
	if (kv->deleted)
		return;
	e->view = xrealloc(e->view, (e->nview + 1) * sizeof(*e->view));
	struct kv *n = &e->view[e->nview++];
	n->name = xstrdup(name);
	n->value = xmalloc(kv->vlen + 1);
	memcpy(n->value, kv->value, kv->vlen);
	n->value[kv->vlen] = 0;
	n->len = kv->vlen;
}

static void deliver(struct etcd *e)
{
	struct source_entry *v = e->nview ? xcalloc(e->nview, sizeof(*v)) : NULL;
	for (size_t i = 0; i < e->nview; i++)
		v[i] = (struct source_entry){e->view[i].name, e->view[i].value, e->view[i].len};
	source_deliver(e->src, v, e->nview, e->rev);
	free(v);
}

/* ---- the watch ---- */

static int on_watch_msg(const struct etcd_watch_msg *m, void *data)
{
	struct etcd *e = data;
	switch (m->kind) {
	case ETCD_WATCH_CREATED:
		if (m->revision > 0 && m->revision < e->rev) {
			/* the store went back (restored from a backup, or a new cluster at the same
			 * address): a watch from our revision would wait for changes long made */
			log_warn("source \"%s\": etcd is at revision %lld, behind the %lld baton "
				 "saw — "
				 "reading the whole %s again",
				 e->cfg->name, (long long)m->revision, (long long)e->rev,
				 e->prefix ? "prefix" : "key");
			e->need_range = true;
			drop_req(e);
			connect_next(e);
			return 1;
		}
		e->watching = true;
		e->watch_since = now_ms();
		e->fails = 0;
		source_set_state(e->src, true, NULL);
		return 0;
	case ETCD_WATCH_EVENTS:
		for (size_t i = 0; i < m->nevents; i++) {
			view_set(e, &m->events[i]);
			if (m->events[i].mod_revision > e->rev)
				e->rev = m->events[i].mod_revision;
		}
		if (m->nevents)
			deliver(e);
		return 0;
	case ETCD_WATCH_COMPACTED:
		log_info("source \"%s\": revision %lld was compacted (oldest kept: %lld) — reading "
			 "the whole %s again",
			 e->cfg->name, (long long)e->rev + 1, (long long)m->compact_revision,
			 e->prefix ? "prefix" : "key");
		e->need_range = true;
		drop_req(e);
		connect_next(e);
		return 1;
	case ETCD_WATCH_CANCELED:
	case ETCD_WATCH_ERROR: {
		char *why = xasprintf("watch ended: %s", m->reason);
		fail(e, why);
		free(why);
		return 1;
	}
	}
	return 0;
}

static int watch_body(struct etcd_http *h, const char *p, size_t n, void *data)
{
	(void)h;
	struct etcd *e = data;
	char *err = NULL;
	int rc = etcd_stream_feed(&e->stream, p, n, on_watch_msg, e, &err);
	if (rc < 0) {
		fail(e, err);
		free(err);
		return 1;
	}
	return rc;
}

static void watch_done(struct etcd_http *h, int err, const char *why, void *data)
{
	struct etcd *e = data;
	if (err)
		fail(e, why);
	else if (etcd_http_status(h) != 200) {
		char *m = answer_error(e);
		fail(e, m);
		free(m);
	} else {
		fail(e, "the watch stream ended");
	}
}

/* ---- range and auth (whole answers) ---- */

static int collect_body(struct etcd_http *h, const char *p, size_t n, void *data)
{
	struct etcd *e = data;
	if (etcd_http_status(h) == 200 && e->phase == P_WATCH)
		return watch_body(h, p, n, data);
	if (e->body.len + n > BODY_MAX) {
		fail(e, "answer too large");
		return 1;
	}
	buf_append(&e->body, p, n);
	return 0;
}

static void range_done(struct etcd *e)
{
	struct etcd_range r;
	char *err = NULL;
	if (etcd_range_parse(e->body.p ? e->body.p : "", e->body.len, &r, &err) < 0) {
		fail(e, err);
		free(err);
		return;
	}
	view_clear(e);
	for (size_t i = 0; i < r.n; i++)
		view_set(e, &r.kvs[i]);
	e->rev = r.revision;
	e->need_range = false;
	etcd_range_release(&r);
	drop_req(e);
	deliver(e);
	connect_next(e);
}

static void auth_done(struct etcd *e)
{
	char *err = NULL;
	char *tok = etcd_auth_parse(e->body.p ? e->body.p : "", e->body.len, &err);
	if (!tok) {
		fail(e, err);
		free(err);
		return;
	}
	free(e->token);
	e->token = tok;
	drop_req(e);
	connect_next(e);
}

static void whole_done(struct etcd_http *h, int err, const char *why, void *data)
{
	struct etcd *e = data;
	if (err) {
		fail(e, why);
		return;
	}
	if (etcd_http_status(h) != 200) {
		char *m = answer_error(e);
		fail(e, m);
		free(m);
		return;
	}
	if (e->phase == P_AUTH)
		auth_done(e);
	else if (e->phase == P_RANGE)
		range_done(e);
	else
		watch_done(h, err, why, data);
}

/* ---- requests ---- */

static void connect_next(struct etcd *e)
{
	static const struct etcd_http_cbs cbs = {.on_body = collect_body, .on_done = whole_done};
	struct buf body = BUF_INIT, hdr = BUF_INIT;
	const char *path;
	int64_t timeout = REQUEST_TIMEOUT_MS;
	loop_timer_disarm(e->retry);
	if (e->cfg->username && !e->token) {
		e->phase = P_AUTH;
		path = "/v3/auth/authenticate";
		etcd_auth_body(&body, e->cfg->username, e->cfg->password);
	} else if (e->need_range || e->rev == 0) {
		e->phase = P_RANGE;
		path = "/v3/kv/range";
		etcd_range_body(&body, e->key, e->prefix);
	} else {
		e->phase = P_WATCH;
		path = "/v3/watch";
		etcd_watch_body(&body, e->key, e->prefix, e->rev + 1);
		/* a member that lost its leader cancels the watch instead of going quiet */
		buf_puts(&hdr, "Grpc-Metadata-hasleader: true\r\n");
		timeout = -1;
	}
	if (e->token && e->phase != P_AUTH)
		buf_printf(&hdr, "Authorization: %s\r\n", e->token);
	char *err = NULL;
	e->req = etcd_http_post(e->loop, endpoint(e), e->tls, path, buf_cstr(&hdr), buf_cstr(&body),
				body.len, timeout, &cbs, e, &err);
	buf_release(&body);
	buf_release(&hdr);
	if (!e->req) {
		e->phase = P_IDLE;
		fail(e, err);
		free(err);
	}
}

static char *rooted(const char *root, const char *p)
{
	return !p ? NULL : p[0] == '/' ? xstrdup(p) : xasprintf("%s/%s", root, p);
}

static void *etcd_start(struct loop *l, const struct cfg_source *cfg, const char *root,
			struct source *s, char **err)
{
	bool https = false;
	for (size_t i = 0; i < cfg->etcd.n; i++) {
		const char *why = etcd_http_endpoint_check(cfg->etcd.v[i]);
		if (why) {
			*err = xasprintf("endpoint \"%s\": %s", cfg->etcd.v[i], why);
			return NULL;
		}
		https |= strncmp(cfg->etcd.v[i], "https://", 8) == 0;
	}
	struct tls_client *tls = NULL;
	if (https) {
		char *ca = rooted(root, cfg->ca), *cert = rooted(root, cfg->cert),
		     *key = rooted(root, cfg->cert_key);
		tls = tls_client_new("TLS to etcd", ca, cert, key, err);
		free(ca);
		free(cert);
		free(key);
		if (!tls)
			return NULL;
	}
	struct etcd *e = xcalloc(1, sizeof(*e));
	e->tls = tls;
	e->loop = l;
	e->cfg = cfg;
	e->src = s;
	e->prefix = cfg->prefix != NULL;
	e->key = e->prefix ? cfg->prefix : cfg->key;
	e->backoff_ms = BACKOFF_MIN_MS;
	e->need_range = true;
	e->retry = loop_timer_new(l, retry_timer, e);
	etcd_stream_init(&e->stream);
	connect_next(e);
	return e;
}

static void etcd_stop(void *impl)
{
	struct etcd *e = impl;
	drop_req(e);
	etcd_stream_release(&e->stream);
	loop_timer_free(e->retry);
	buf_release(&e->body);
	view_clear(e);
	free(e->token);
	tls_client_free(e->tls);
	free(e);
}

const struct source_kind source_kind_etcd = {
	.name = "etcd",
	.start = etcd_start,
	.stop = etcd_stop,
};
