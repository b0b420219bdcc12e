/* The front's rewriting of heads: hop-by-hop fields out (RFC 9110 §7.6.1), X-Forwarded-For,
 * X-Forwarded-Proto and Forwarded in, a response's Connection field for the client's side of
 * the exchange; and the choice of backend for a request (px_route). See proxy_int.h. */
#include "http/proxy_int.h"

#include <stdio.h>
#include <string.h>

const char *px_reason(int status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 408:
		return "Request Timeout";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Error";
	}
}

static bool name_is(struct h1_span n, const char *lit)
{
	return h1_span_eqi(n, lit);
}

/* A field that belongs to one connection only (RFC 9110 §7.6.1), or one named in Connection. */
static bool hop_by_hop(struct h1_span name, const struct h1_header *connection)
{
	static const char *const hop[] = {"connection", "keep-alive", "proxy-connection", "te",
					  "trailer",	"upgrade",    "transfer-encoding"};
	for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (name_is(name, hop[i]))
			return strcmp(hop[i], "transfer-encoding") != 0 &&
			       strcmp(hop[i], "trailer") != 0;
	if (connection && name.len < 64) {
		char n[64];
		memcpy(n, name.p, name.len);
		n[name.len] = 0;
		return h1_has_token(connection->value, n);
	}
	return false;
}

static void put_field(struct pxbuf *o, const struct h1_header *f)
{
	pxbuf_put(o, f->name.p, f->name.len);
	pxbuf_put(o, ": ", 2);
	pxbuf_put(o, f->value.p, f->value.len);
	pxbuf_put(o, "\r\n", 2);
}

void px_write_request_head(struct pclient *pc, const struct h1_head *h, struct pxbuf *o)
{
	const struct h1_header *conn = h1_find(h, "connection");
	pxbuf_put(o, h->method.p, h->method.len);
	pxbuf_put(o, " ", 1);
	pxbuf_put(o, h->target.p, h->target.len);
	pxbuf_put(o, " HTTP/1.1\r\n", 11);
	struct pxbuf xff = {0}, fwd = {0};
	for (size_t i = 0; i < h->nheaders; i++) {
		const struct h1_header *f = &h->headers[i];
		if (hop_by_hop(f->name, conn) || name_is(f->name, "x-forwarded-proto"))
			continue;
		struct pxbuf *list = name_is(f->name, "x-forwarded-for") ? &xff
				     : name_is(f->name, "forwarded")	 ? &fwd
									 : NULL;
		if (list) {
			if (list->len)
				pxbuf_put(list, ", ", 2);
			pxbuf_put(list, f->value.p, f->value.len);
			continue;
		}
		put_field(o, f);
	}
	const char *proto = pc->p->o.https || pc->p->o.tls ? "https" : "http";
	bool v6 = strchr(pc->peer, ':') != NULL;
	pxbuf_printf(o, "X-Forwarded-For: %.*s%s%s\r\n", (int)xff.len, xff.p ? xff.p : "",
		     xff.len ? ", " : "", pc->peer);
	pxbuf_printf(o, "X-Forwarded-Proto: %s\r\n", proto);
	pxbuf_printf(o, "Forwarded: %.*s%sfor=%s%s%s;proto=%s\r\n", (int)fwd.len,
		     fwd.p ? fwd.p : "", fwd.len ? ", " : "", v6 ? "\"[" : "", pc->peer,
		     v6 ? "]\"" : "", proto);
	pxbuf_free(&xff);
	pxbuf_free(&fwd);
	const struct h1_header *up = h1_find(h, "upgrade");
	if (h->upgrade && up) {
		pxbuf_put(o, "Connection: Upgrade\r\n", 21);
		put_field(o, up);
	}
	pxbuf_put(o, "\r\n", 2);
}

void px_write_response_head(struct pclient *pc, const struct h1_head *h, struct pxbuf *o,
			    size_t extra_len)
{
	struct xchg *x = pc->x;
	const struct h1_header *conn = h1_find(h, "connection");
	int len = (int)(h->reason.len > 200 ? 200 : h->reason.len);
	pxbuf_printf(o, "HTTP/1.1 %d %.*s\r\n", h->status, len, h->reason.p ? h->reason.p : "");
	for (size_t i = 0; i < h->nheaders; i++) {
		const struct h1_header *f = &h->headers[i];
		if (hop_by_hop(f->name, conn))
			continue;
		if (extra_len && name_is(f->name, "content-length")) {
			pxbuf_printf(o, "Content-Length: %llu\r\n",
				     (unsigned long long)(h->content_length + extra_len));
			continue;
		}
		put_field(o, f);
	}
	if (x->set_cookie && x->b && pc->p->router) /* a rollout pins the client */
		pxbuf_printf(o, "Set-Cookie: baton_gen=%u; Path=/; HttpOnly; SameSite=Lax\r\n",
			     x->b->id);
	if (h->status == 101) {
		const struct h1_header *up = h1_find(h, "upgrade");
		pxbuf_put(o, "Connection: Upgrade\r\n", 21);
		if (up)
			put_field(o, up);
	} else if (pc->close_after) {
		pxbuf_put(o, "Connection: close\r\n", 19);
	} else if (x->client_10) {
		pxbuf_put(o, "Connection: keep-alive\r\n", 24);
	}
	pxbuf_put(o, "\r\n", 2);
}

/* ---- routing ---- */

/* The baton_gen cookie's value in a Cookie field (0: none). */
static unsigned cookie_gen(const struct h1_head *h)
{
	for (size_t i = 0; i < h->nheaders; i++) {
		const struct h1_header *f = &h->headers[i];
		if (!h1_span_eqi(f->name, "cookie"))
			continue;
		const char *p = f->value.p, *end = p + f->value.len;
		while (p < end) {
			while (p < end && (*p == ' ' || *p == ';'))
				p++;
			if (end - p > 9 && memcmp(p, "baton_gen=", 10) == 0) {
				unsigned v = 0;
				for (p += 10; p < end && *p >= '0' && *p <= '9' && v < 100000000;
				     p++)
					v = v * 10 + (unsigned)(*p - '0');
				return v;
			}
			while (p < end && *p != ';')
				p++;
		}
	}
	return 0;
}

/* Which backend takes a request: the rollout's router when one is set, else by weight. */
struct proxy_backend *px_route(struct pclient *pc, const struct h1_head *h)
{
	struct proxy *p = pc->p;
	if (p->router) {
		pc->cookie_gen = cookie_gen(h);
		unsigned sticky = pc->cookie_gen ? pc->cookie_gen : pc->last_gen;
		bool preview = p->preview_header && h1_find(h, p->preview_header);
		unsigned id = p->router(p->router_arg, sticky, preview);
		struct proxy_backend *b = id ? px_backend_by_id(p, id) : NULL;
		if (b) {
			pc->x->set_cookie = pc->cookie_gen != id;
			return b;
		}
	}
	return px_pick(p, NULL);
}
