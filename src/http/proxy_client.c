/* The front's client side: one state machine per client connection (proxy_int.h). Heads are
 * parsed whole (h1.h), rewritten (hop-by-hop fields out, X-Forwarded-* in) and sent to the
 * chosen backend; bodies stream both ways through bounded buffers; a failure before any
 * response byte is retried once when that is safe; Upgrade and CONNECT become tunnels. */
#include "http/proxy_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "core/loop.h"
#include "tls/tlsfront.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

static void step(struct pclient *pc);
static void rewatch(struct pclient *pc);
static void enter(struct pclient *pc);
static bool leave(struct pclient *pc);
static void client_read(struct pclient *pc);

/* A final answer of baton's own; the connection closes once it is written. */
static void answer_error(struct pclient *pc, int status)
{
	const char *r = px_reason(status);
	pxbuf_printf(&pc->out,
		     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n\r\n%d %s\n",
		     status, r, strlen(r) + 5, status, r);
	pc->close_after = true;
	pc->st = PC_CLOSING;
	loop_timer_disarm(pc->timer);
}

/* ---- the exchange ---- */

static void notify(struct pclient *pc, int status)
{
	struct xchg *x = pc->x;
	struct proxy *p = pc->p;
	int cls = status >= 100 && status < 600 ? status / 100 : 0;
	x->b->st.by_class[cls]++;
	if (p->obs)
		p->obs(p->obs_arg, x->b, x->b->id, status, now_us() - x->start_us);
}

/* The exchange is over (complete, failed or abandoned): give back the backend connection. */
static void end_exchange(struct pclient *pc, bool reusable)
{
	struct xchg *x = pc->x;
	if (!x)
		return;
	struct proxy_backend *b = x->b;
	if (x->bc) {
		if (pxbuf_pending(&x->rin) || pxbuf_pending(&x->bout) || !x->req_done)
			reusable = false;
		px_bconn_release(x->bc, reusable);
	}
	if (b && x->counted && b->st.inflight)
		b->st.inflight--;
	if (b && x->tunnel && b->st.tunnels)
		b->st.tunnels--;
	pxbuf_free(&x->bout);
	pxbuf_free(&x->sent);
	pxbuf_free(&x->rin);
	free(x);
	pc->x = NULL;
	if (b)
		px_backend_idle_check(b);
}

static void to_idle(struct pclient *pc)
{
	if (pc->close_after || pc->client_eof) {
		pc->close_after = true;
		pc->st = PC_CLOSING;
		loop_timer_disarm(pc->timer);
		return;
	}
	pc->st = PC_IDLE;
	loop_timer_arm_in(pc->timer, pc->p->o.idle_timeout_ms);
	if (!pxbuf_pending(&pc->in))
		pxbuf_free(&pc->in);
}

static void attach(struct pclient *pc, struct proxy_backend *b);

/* The backend failed (or could not be reached) before the exchange completed. */
static void backend_failed(struct pclient *pc)
{
	struct xchg *x = pc->x;
	struct proxy_backend *b = x->b;
	if (x->bc) {
		px_bconn_close(x->bc);
		x->bc = NULL;
	}
	bool nothing_sent = !x->wrote_any;
	if (!x->any_resp && x->retries < 1 && x->retain && (nothing_sent || x->idempotent)) {
		x->retries++;
		b->st.retries++;
		if (x->counted && b->st.inflight)
			b->st.inflight--;
		x->counted = false;
		/* its other pooled connections may be as stale: go fresh */
		while (b->pool) {
			struct bconn *bc = b->pool;
			b->pool = bc->next;
			px_bconn_close(bc);
		}
		b->npool = 0;
		b->st.pooled = 0;
		pxbuf_free(&x->bout);
		if (pxbuf_pending(&x->sent))
			pxbuf_put(&x->bout, x->sent.p + x->sent.off, pxbuf_pending(&x->sent));
		x->wrote_any = false;
		struct proxy_backend *nb = px_pick(pc->p, b);
		x->b = NULL;
		px_backend_idle_check(b);
		if (!nb) {
			pc->st = PC_WAIT;
			pc->wait_until = now_ms() + pc->p->o.connect_timeout_ms;
			loop_timer_arm_at(pc->timer, pc->wait_until);
			return;
		}
		attach(pc, nb);
		return;
	}
	notify(pc, 0);
	bool answered = x->resp_head;
	end_exchange(pc, false);
	if (answered) {
		/* part of the response is out: the client must see the connection end */
		pc->close_after = true;
		pc->st = PC_CLOSING;
		pxbuf_free(&pc->out);
		px_client_close(pc);
		return;
	}
	answer_error(pc, 502);
}

static void attach(struct pclient *pc, struct proxy_backend *b)
{
	struct xchg *x = pc->x;
	x->b = b;
	pc->last_gen = b->id;
	if (!x->retries)
		b->st.requests++;
	b->st.inflight++;
	x->counted = true;
	pc->st = PC_XCHG;
	loop_timer_disarm(pc->timer);
	x->bc = px_bconn_get(b);
	if (!x->bc) {
		backend_failed(pc);
		return;
	}
	x->bc->owner = pc;
	step(pc);
}

void px_client_retry_wait(struct pclient *pc)
{
	struct proxy_backend *b = px_pick(pc->p, NULL);
	if (!b)
		return;
	enter(pc);
	attach(pc, b);
	leave(pc);
}

void px_client_backend_lost(struct pclient *pc)
{
	struct xchg *x = pc->x;
	if (!x)
		return;
	enter(pc);
	if (pc->st == PC_TUNNEL) {
		px_client_close(pc);
	} else {
		x->retries = 1; /* the backend is going away: no retry onto it */
		backend_failed(pc);
		if (!pc->doomed)
			step(pc);
	}
	leave(pc);
}

/* A request head is complete in pc->in. */
static void start_request(struct pclient *pc, const struct h1_head *h)
{
	struct proxy *p = pc->p;
	struct xchg *x = xcalloc(1, sizeof(*x));
	pc->x = x;
	x->start_us = now_us();
	size_t ml = h->method.len < sizeof(x->method) - 1 ? h->method.len : sizeof(x->method) - 1;
	memcpy(x->method, h->method.p, ml);
	x->idempotent = h1_is_idempotent(h);
	x->is_head = h1_span_eqi(h->method, "HEAD");
	x->connect = h1_span_eqi(h->method, "CONNECT");
	x->upgrade = h->upgrade;
	x->req_keepalive = h->keep_alive;
	x->client_10 = h->minor == 0;
	x->retain = true;
	if (!h->keep_alive)
		pc->close_after = true;
	h1_body_init(&x->reqbody, h);
	x->req_done = h->framing == H1_BODY_NONE;
	if (x->connect) /* the body of a CONNECT is the tunnel */
		x->req_done = true;
	if (px_dev_intercept(pc, h)) {
		pxbuf_consume(&pc->in, h->head_len);
		if (pc->st != PC_LIVE) {
			if (!x->req_done)
				pc->close_after = true; /* its body is not read */
			free(x);
			pc->x = NULL;
			to_idle(pc);
		} else {
			free(x);
			pc->x = NULL;
		}
		return;
	}
	px_write_request_head(pc, h, &x->bout);
	pxbuf_put(&x->sent, x->bout.p, x->bout.len);
	pxbuf_consume(&pc->in, h->head_len);
	struct proxy_backend *b = px_route(pc, h);
	if (!b) {
		pc->st = PC_WAIT;
		pc->wait_until = now_ms() + p->o.connect_timeout_ms;
		loop_timer_arm_at(pc->timer, pc->wait_until);
		return;
	}
	attach(pc, b);
}

static void parse_head(struct pclient *pc)
{
	struct h1_head h;
	size_t n = pxbuf_pending(&pc->in);
	int r = n ? h1_parse_request(pc->in.p + pc->in.off, n, pc->p->o.max_header_size, &h)
		  : H1_INCOMPLETE;
	if (r == H1_INCOMPLETE) {
		if (n && pc->st == PC_IDLE) {
			pc->st = PC_HEAD;
			loop_timer_arm_in(pc->timer, pc->p->o.header_timeout_ms);
		}
		if (pc->client_eof) {
			if (n)
				answer_error(pc, 400);
			else
				pc->close_after = true, pc->st = PC_CLOSING;
		}
		return;
	}
	if (r < 0) {
		answer_error(pc, h1_error_status(r));
		return;
	}
	start_request(pc, &h);
}

/* Request body bytes from the client to the backend's buffer, and tunnel bytes. */
static void pump_request(struct pclient *pc)
{
	struct xchg *x = pc->x;
	while (pxbuf_pending(&pc->in) && pxbuf_pending(&x->bout) < PX_BUF_HIGH) {
		const char *in = pc->in.p + pc->in.off;
		size_t n = pxbuf_pending(&pc->in);
		if (pc->st == PC_XCHG) {
			if (x->req_done)
				return; /* the next pipelined request waits */
			long k = h1_body_step(&x->reqbody, in, n, NULL, NULL);
			if (k < 0) {
				end_exchange(pc, false);
				answer_error(pc, 400);
				return;
			}
			n = (size_t)k;
			x->req_done = x->reqbody.done;
		}
		pxbuf_put(&x->bout, in, n);
		if (x->retain) {
			if (pxbuf_pending(&x->sent) + n <= PX_RETAIN_MAX)
				pxbuf_put(&x->sent, in, n);
			else {
				x->retain = false;
				pxbuf_free(&x->sent);
			}
		}
		pxbuf_consume(&pc->in, n);
		if (!n)
			break;
	}
}

/* The final response head is in x->rin: forward it and set up its body. Returns the bytes it
 * took, or -1 after the exchange ended in an error. */
static long take_response_head(struct pclient *pc)
{
	struct xchg *x = pc->x;
	struct h1_head h;
	struct h1_span m = {x->method, strlen(x->method)};
	size_t n = pxbuf_pending(&x->rin);
	int r = h1_parse_response(x->rin.p + x->rin.off, n, PX_RESP_HEAD_MAX, m, &h);
	if (r == H1_INCOMPLETE) {
		if (n < PX_RESP_HEAD_MAX)
			return 0;
		x->retries = 1;
		backend_failed(pc);
		return -1;
	}
	if (r < 0) {
		x->retries = 1; /* a broken backend: do not send it again */
		backend_failed(pc);
		return -1;
	}
	if (h.status < 200 && h.status != 101) { /* 100 Continue, 103 Early Hints: as they are */
		pxbuf_put(&pc->out, x->rin.p + x->rin.off, (size_t)r);
		return r;
	}
	x->status = h.status;
	bool tunnel = (h.status == 101 && x->upgrade) || (x->connect && h.status / 100 == 2);
	if (h.status == 101 && !x->upgrade) {
		x->retries = 1;
		backend_failed(pc);
		return -1;
	}
	if (!tunnel && (!h.keep_alive || h.framing == H1_BODY_EOF))
		x->resp_close = true;
	if (!tunnel && (h.framing == H1_BODY_EOF || !x->req_done))
		pc->close_after = true;
	size_t extra = 0;
	size_t slen = 0;
	px_live_script(&slen);
	if (!tunnel && px_dev_injectable(pc->p, &h, x->is_head)) {
		x->inject = true;
		if (h.framing == H1_BODY_LENGTH)
			extra = slen;
		else if (h.framing == H1_BODY_CHUNKED)
			x->rechunk = true;
	}
	px_write_response_head(pc, &h, &pc->out, extra);
	x->resp_head = true;
	if (tunnel) {
		pc->st = PC_TUNNEL;
		x->b->st.tunnels++;
		x->tunnel = true;
		notify(pc, h.status);
		if (x->counted && x->b->st.inflight)
			x->b->st.inflight--;
		x->counted = false;
		x->req_done = true;
		return r;
	}
	h1_body_init(&x->respbody, &h);
	x->resp_eof = h.framing == H1_BODY_EOF;
	if (h.framing == H1_BODY_NONE)
		x->resp_done = true;
	return r;
}

static void finish_injection(struct pclient *pc)
{
	struct xchg *x = pc->x;
	size_t slen;
	const char *s = px_live_script(&slen);
	if (!x->inject)
		return;
	if (x->rechunk)
		pxbuf_printf(&pc->out, "%zx\r\n%s\r\n0\r\n\r\n", slen, s);
	else
		pxbuf_put(&pc->out, s, slen);
}

/* Response bytes from x->rin to the client. */
static void pump_response(struct pclient *pc)
{
	struct xchg *x = pc->x;
	while (pc->x == x && !x->resp_done && pxbuf_pending(&x->rin) &&
	       pxbuf_pending(&pc->out) < PX_BUF_HIGH) {
		const char *in = x->rin.p + x->rin.off;
		size_t n = pxbuf_pending(&x->rin);
		if (pc->st == PC_TUNNEL) {
			pxbuf_put(&pc->out, in, n);
			pxbuf_consume(&x->rin, n);
			return;
		}
		if (!x->resp_head) {
			long k = take_response_head(pc);
			if (k <= 0)
				return;
			pxbuf_consume(&x->rin, (size_t)k);
			continue;
		}
		if (x->resp_eof) {
			pxbuf_put(&pc->out, in, n);
			pxbuf_consume(&x->rin, n);
			continue;
		}
		const char *data = NULL;
		size_t dlen = 0;
		long k = h1_body_step(&x->respbody, in, n, &data, &dlen);
		if (k < 0) {
			x->any_resp = true;
			backend_failed(pc);
			return;
		}
		if (x->rechunk) {
			if (dlen)
				pxbuf_printf(&pc->out, "%zx\r\n", dlen),
					pxbuf_put(&pc->out, data, dlen),
					pxbuf_put(&pc->out, "\r\n", 2);
		} else {
			pxbuf_put(&pc->out, in, (size_t)k);
		}
		pxbuf_consume(&x->rin, (size_t)k);
		if (x->respbody.done) {
			finish_injection(pc);
			x->resp_done = true;
		}
		if (!k)
			break;
	}
	if (pc->x == x && x->resp_done && pc->st == PC_XCHG) {
		notify(pc, x->status);
		end_exchange(pc, !x->resp_close);
		to_idle(pc);
	}
}

/* ---- I/O ---- */

static bool want_client_in(const struct pclient *pc)
{
	if (pc->client_eof || pxbuf_pending(&pc->in) >= PX_BUF_HIGH)
		return false;
	switch (pc->st) {
	case PC_IDLE:
	case PC_HEAD:
		return true;
	case PC_XCHG:
		/* past the request's end, bytes wait in `in` (pipelining; a close is seen early):
		 * watching all along spares an epoll_ctl per request */
		return pc->x && pxbuf_pending(&pc->x->bout) < PX_BUF_HIGH;
	case PC_TUNNEL:
		return pc->x && !pc->tunnel_up_eof && pxbuf_pending(&pc->x->bout) < PX_BUF_HIGH;
	case PC_LIVE:
		return true;
	case PC_WAIT:
	case PC_CLOSING:
		return false;
	}
	return false;
}

static void rewatch(struct pclient *pc)
{
	uint32_t ev = 0;
	if (want_client_in(pc))
		ev |= EPOLLIN | EPOLLRDHUP | pc->want_r;
	if (pxbuf_pending(&pc->out))
		ev |= (pc->want_w ? pc->want_w : EPOLLOUT);
	if (ev != pc->events) {
		pc->events = ev;
		loop_mod(pc->p->loop, pc->src, ev);
	}
	struct xchg *x = pc->x;
	if (x && x->bc) {
		uint32_t bev = 0;
		if (x->bc->connecting || pxbuf_pending(&x->bout))
			bev |= EPOLLOUT;
		if (!x->bc->connecting && pxbuf_pending(&pc->out) < PX_BUF_HIGH &&
		    !(pc->st == PC_TUNNEL && pc->tunnel_down_eof))
			bev |= EPOLLIN | EPOLLRDHUP; /* as in the pool: no epoll_ctl per request */
		px_bconn_watch(x->bc, bev);
	}
}

/* Move whatever can move, then decide what to wait for. Callers hold enter(). */
static void step(struct pclient *pc)
{
	for (int guard = 0; guard < 64 && !pc->doomed; guard++) {
		enum pc_state st = pc->st;
		struct xchg *x = pc->x;
		if ((st == PC_IDLE || st == PC_HEAD) && pxbuf_pending(&pc->out) < PX_BUF_HIGH)
			parse_head(pc);
		else if (st == PC_XCHG || st == PC_TUNNEL) {
			pump_request(pc);
			if (pc->x && pc->x->bc && !pc->x->bc->connecting) {
				int r = px_flush(&pc->x->bc->c, &pc->x->bout, &pc->x->wrote_any);
				if (r < 0) {
					if (pc->st == PC_TUNNEL)
						px_client_close(pc);
					else
						backend_failed(pc);
					continue;
				}
				if (pc->st == PC_TUNNEL && pc->tunnel_up_eof &&
				    !pxbuf_pending(&pc->x->bout))
					conn_shutdown(&pc->x->bc->c);
			}
			if (pc->x && !pc->doomed)
				pump_response(pc);
		}
		if (pc->doomed)
			return;
		if (pxbuf_pending(&pc->out)) {
			if (px_flush(&pc->c, &pc->out, NULL) < 0) {
				px_client_close(pc);
				return;
			}
			pc->want_w = pxbuf_pending(&pc->out) ? pc->c.want : 0;
		}
		/* an idle keep-alive client holds no buffer (a few hundred bytes in all) */
		if (pc->st == PC_IDLE && !pxbuf_pending(&pc->out) && pc->out.p)
			pxbuf_free(&pc->out);
		if (pc->st == PC_IDLE && !pxbuf_pending(&pc->in) && pc->in.p)
			pxbuf_free(&pc->in);
		if (pc->tls_more && want_client_in(pc)) {
			client_read(pc);
			if (pc->doomed)
				return;
			continue;
		}
		if (pc->st == PC_CLOSING && !pxbuf_pending(&pc->out)) {
			px_client_close(pc);
			return;
		}
		if (pc->st == PC_TUNNEL && pc->tunnel_down_eof && !pxbuf_pending(&pc->out)) {
			conn_shutdown(&pc->c);
			if (pc->tunnel_up_eof || !pc->x) {
				px_client_close(pc);
				return;
			}
		}
		if (pc->st == st && pc->x == x)
			break;
	}
	if (!pc->doomed)
		rewatch(pc);
}

/* The backend said something (or failed): its connection's event. */
static void bconn_event(struct pclient *pc, struct bconn *bc, uint32_t events)
{
	struct xchg *x = pc->x;
	if (bc->connecting) {
		int err = 0;
		socklen_t el = sizeof(err);
		if (getsockopt(bc->c.fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			err = errno;
		if (err || (events & (EPOLLERR | EPOLLHUP))) {
			backend_failed(pc);
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		bc->connecting = false;
	}
	if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		return;
	bool eof = false;
	int r = px_read_into(&bc->c, &x->rin, &eof);
	if (r > 0)
		x->any_resp = true;
	if (r >= 0 && !eof)
		return;
	if (pc->st == PC_TUNNEL) {
		pc->tunnel_down_eof = true;
		pump_response(pc);
		return;
	}
	pump_response(pc);
	if (pc->doomed || pc->x != x)
		return;
	if (x->resp_eof && x->resp_head) {
		/* the close ends an EOF-framed body */
		finish_injection(pc);
		x->resp_done = true;
		notify(pc, x->status);
		end_exchange(pc, false);
		to_idle(pc);
	} else {
		backend_failed(pc);
	}
}

void px_bconn_event(struct bconn *bc, uint32_t events)
{
	struct pclient *pc = bc->owner;
	enter(pc);
	bconn_event(pc, bc, events);
	if (!pc->doomed)
		step(pc);
	leave(pc);
}

/* Read what the client sent. Under TLS until the transport says -EAGAIN (or the buffer is
 * full): plaintext it holds decrypted is not signalled by the socket again. */
static void client_read(struct pclient *pc)
{
	bool eof = false;
	int r;
	pc->tls_more = false;
	do {
		r = px_read_into(&pc->c, &pc->in, &eof);
		if (pc->tls && r > 0 && pxbuf_pending(&pc->in) >= PX_BUF_HIGH) {
			pc->tls_more = true;
			break;
		}
	} while (pc->tls && r > 0 && !eof);
	if (pc->tls)
		pc->want_r = r == 0 && !eof ? pc->c.want : 0;
	if (r < 0) {
		px_client_close(pc);
		return;
	}
	if (eof) {
		pc->client_eof = true;
		if (pc->st == PC_TUNNEL) {
			pc->tunnel_up_eof = true;
		} else if (pc->st == PC_XCHG && pc->x && !pc->x->req_done) {
			px_client_close(pc); /* gone mid-request: nothing to answer */
			return;
		} else if ((pc->st == PC_IDLE || pc->st == PC_LIVE || pc->st == PC_WAIT) &&
			   !pxbuf_pending(&pc->in)) {
			px_client_close(pc);
			return;
		}
	}
	if (pc->st == PC_LIVE)
		pxbuf_free(&pc->in); /* nothing is expected from it */
}

static void client_event(struct pclient *pc, uint32_t events)
{
	if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ||
	    (pc->want_r && (events & pc->want_r)))
		client_read(pc);
}

static void on_client(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)l;
	(void)fd;
	struct pclient *pc = data;
	enter(pc);
	client_event(pc, events);
	if (!pc->doomed)
		step(pc);
	leave(pc);
}

static void on_timer(struct loop *l, void *data)
{
	(void)l;
	struct pclient *pc = data;
	enter(pc);
	switch (pc->st) {
	case PC_IDLE:
		px_client_close(pc);
		break;
	case PC_HEAD:
		answer_error(pc, 408);
		break;
	case PC_WAIT:
		if (pc->x) {
			pc->x->b = NULL;
			end_exchange(pc, false);
		}
		answer_error(pc, 503);
		break;
	default:
		break;
	}
	if (!pc->doomed)
		step(pc);
	leave(pc);
}

void px_client_new(struct proxy *p, int fd, const struct sockaddr_storage *ss, socklen_t len)
{
	(void)len;
	struct pclient *pc = xcalloc(1, sizeof(*pc));
	pc->p = p;
	if (p->o.tls) {
		char *err = NULL;
		if (tls_conn_init(&pc->c, fd, p->o.tls, &err) < 0) {
			free(err);
			free(pc);
			return;
		}
		pc->tls = true;
	} else {
		conn_sock_init(&pc->c, fd);
	}
	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, pc->peer,
			  sizeof(pc->peer));
	} else if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a))
			inet_ntop(AF_INET, &a->s6_addr[12], pc->peer, sizeof(pc->peer));
		else
			inet_ntop(AF_INET6, a, pc->peer, sizeof(pc->peer));
	} else {
		snprintf(pc->peer, sizeof(pc->peer), "unix");
	}
	pc->events = EPOLLIN | EPOLLRDHUP;
	pc->src = loop_add(p->loop, fd, pc->events, on_client, pc);
	if (!pc->src) {
		conn_close(&pc->c, true);
		free(pc);
		return;
	}
	pc->timer = loop_timer_new(p->loop, on_timer, pc);
	pc->st = PC_IDLE;
	/* the first head must arrive within header_timeout (slowloris) */
	loop_timer_arm_in(pc->timer, p->o.header_timeout_ms);
	pc->next = p->clients;
	if (p->clients)
		p->clients->prev = pc;
	p->clients = pc;
	p->nclients++;
}

static void really_close(struct pclient *pc);

/* Inside a handler of pc, closing is deferred to the handler's end (pc stays valid). */
static void enter(struct pclient *pc)
{
	pc->busy++;
}

/* Returns false when pc is gone. */
static bool leave(struct pclient *pc)
{
	if (--pc->busy == 0 && pc->doomed) {
		really_close(pc);
		return false;
	}
	return true;
}

void px_client_close(struct pclient *pc)
{
	if (pc->busy) {
		pc->doomed = true;
		if (pc->x)
			end_exchange(pc, false);
		return;
	}
	really_close(pc);
}

static void really_close(struct pclient *pc)
{
	struct proxy *p = pc->p;
	if (pc->x)
		end_exchange(pc, false);
	if (pc->prev)
		pc->prev->next = pc->next;
	else
		p->clients = pc->next;
	if (pc->next)
		pc->next->prev = pc->prev;
	loop_del(p->loop, pc->src);
	loop_timer_free(pc->timer);
	conn_close(&pc->c, false);
	pxbuf_free(&pc->in);
	pxbuf_free(&pc->out);
	free(pc);
	p->nclients--;
	px_client_gone(p);
}
