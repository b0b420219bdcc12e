/* The HTTP front: accepting, backends and the choice between them, the backend connection pool,
 * draining. The client side is proxy_client.c. See proxy.h and proxy_int.h. */
#include "http/proxy_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

/* ---- buffers ---- */

void pxbuf_put(struct pxbuf *b, const void *d, size_t n)
{
	if (!n)
		return;
	if (b->off && b->off == b->len)
		b->off = b->len = 0;
	if (b->len + n > b->cap) {
		if (b->off) { /* slide down before growing */
			memmove(b->p, b->p + b->off, b->len - b->off);
			b->len -= b->off;
			b->off = 0;
		}
		if (b->len + n > b->cap) {
			size_t cap = b->cap ? b->cap : 4096;
			while (cap < b->len + n)
				cap *= 2;
			b->p = xrealloc(b->p, cap);
			b->cap = cap;
		}
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

void pxbuf_printf(struct pxbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(tmp)) {
		pxbuf_put(b, tmp, (size_t)n);
		return;
	}
	char *big = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	pxbuf_put(b, big, (size_t)n);
	free(big);
}

void pxbuf_consume(struct pxbuf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len)
		b->off = b->len = 0;
}

void pxbuf_free(struct pxbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- I/O ---- */

int px_read_into(struct conn *c, struct pxbuf *b, bool *eof)
{
	if (b->cap - b->len < PX_READ_CHUNK) {
		if (b->off) {
			memmove(b->p, b->p + b->off, b->len - b->off);
			b->len -= b->off;
			b->off = 0;
		}
		if (b->cap - b->len < PX_READ_CHUNK) {
			b->cap = b->len + PX_READ_CHUNK;
			b->p = xrealloc(b->p, b->cap);
		}
	}
	ssize_t n = conn_read(c, b->p + b->len, b->cap - b->len);
	if (n > 0) {
		b->len += (size_t)n;
		return 1;
	}
	if (n == 0) {
		*eof = true;
		return 0;
	}
	return n == -EAGAIN ? 0 : (int)n;
}

int px_flush(struct conn *c, struct pxbuf *b, bool *wrote)
{
	while (pxbuf_pending(b)) {
		ssize_t n = conn_write(c, b->p + b->off, pxbuf_pending(b));
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return (int)n;
		pxbuf_consume(b, (size_t)n);
		if (wrote)
			*wrote = true;
	}
	return 0;
}

/* ---- accepting ---- */

static void set_accepting(struct proxy *p)
{
	bool pause = p->o.max_connections && p->nclients >= p->o.max_connections;
	if (pause == p->accept_paused)
		return;
	p->accept_paused = pause;
	loop_mod(p->loop, p->lsrc, pause ? 0 : EPOLLIN);
	if (pause)
		log_warn(
			"%s: %zu client connections, max_connections reached: new ones wait in the "
			"backlog",
			p->name, p->nclients);
}

void px_client_gone(struct proxy *p)
{
	set_accepting(p);
}

static void on_accept(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)l;
	(void)events;
	struct proxy *p = data;
	for (int i = 0; i < PX_ACCEPT_BATCH && !p->accept_paused; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int c = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("%s: accept: %s", p->name, strerror(errno));
			return;
		}
		px_client_new(p, c, &ss, len);
		set_accepting(p);
	}
}

/* ---- the pool ---- */

static void on_sweep(struct loop *l, void *data)
{
	(void)l;
	struct proxy *p = data;
	int64_t now = now_ms();
	bool any = false;
	for (size_t i = 0; i < p->nbk; i++) {
		struct proxy_backend *b = p->bk[i];
		for (struct bconn **pp = &b->pool; *pp;) {
			struct bconn *bc = *pp;
			if (now - bc->idle_since >= p->o.pool_idle_ms) {
				*pp = bc->next;
				b->npool--;
				b->st.pooled = b->npool;
				px_bconn_close(bc);
			} else {
				pp = &bc->next;
				any = true;
			}
		}
	}
	if (any)
		loop_timer_arm_in(p->sweep, p->o.pool_idle_ms);
}

void px_bconn_watch(struct bconn *bc, uint32_t events)
{
	if (events == bc->events && bc->src)
		return;
	bc->events = events;
	loop_mod(bc->b->p->loop, bc->src, events);
}

static void on_bconn(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)l;
	(void)fd;
	struct bconn *bc = data;
	if (!bc->owner) { /* pooled: the backend closed it or sent something unasked */
		struct proxy_backend *b = bc->b;
		for (struct bconn **pp = &b->pool; *pp; pp = &(*pp)->next)
			if (*pp == bc) {
				*pp = bc->next;
				b->npool--;
				b->st.pooled = b->npool;
				break;
			}
		px_bconn_close(bc);
		return;
	}
	px_bconn_event(bc, events);
}

void px_bconn_close(struct bconn *bc)
{
	if (!bc)
		return;
	if (bc->src)
		loop_del(bc->b->p->loop, bc->src);
	conn_close(&bc->c, false);
	free(bc);
}

/* A pooled connection is usable when the backend has neither closed it nor written to it. */
static bool still_good(struct bconn *bc, int64_t now, int64_t max_idle)
{
	if (now - bc->idle_since >= max_idle)
		return false;
	char b;
	ssize_t n = recv(bc->c.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

struct bconn *px_bconn_get(struct proxy_backend *b)
{
	int64_t now = now_ms();
	while (b->pool) {
		struct bconn *bc = b->pool;
		b->pool = bc->next;
		b->npool--;
		b->st.pooled = b->npool;
		bc->next = NULL;
		if (still_good(bc, now, b->p->o.pool_idle_ms)) {
			bc->reused = true;
			return bc;
		}
		px_bconn_close(bc);
	}
	int fd = socket(b->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if (b->addr.ss_family != AF_UNIX) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	bool connecting = false;
	if (connect(fd, (const struct sockaddr *)&b->addr, b->alen) < 0) {
		if (errno != EINPROGRESS && errno != EAGAIN) {
			int e = errno;
			close(fd);
			errno = e;
			return NULL;
		}
		connecting = true;
	}
	struct bconn *bc = xcalloc(1, sizeof(*bc));
	bc->b = b;
	conn_sock_init(&bc->c, fd);
	bc->connecting = connecting;
	bc->src = loop_add(b->p->loop, fd, 0, on_bconn, bc);
	if (!bc->src) {
		int e = errno;
		conn_close(&bc->c, false);
		free(bc);
		errno = e;
		return NULL;
	}
	return bc;
}

void px_bconn_release(struct bconn *bc, bool reusable)
{
	struct proxy_backend *b = bc->b;
	bc->owner = NULL;
	if (!reusable || b->draining || b->p->o.pool_idle_ms <= 0) {
		px_bconn_close(bc);
		return;
	}
	bc->idle_since = now_ms();
	bc->reused = false;
	px_bconn_watch(bc, EPOLLIN | EPOLLRDHUP);
	bc->next = b->pool;
	b->pool = bc;
	b->npool++;
	b->st.pooled = b->npool;
	if (!loop_timer_armed(b->p->sweep))
		loop_timer_arm_in(b->p->sweep, b->p->o.pool_idle_ms);
}

static void close_pool(struct proxy_backend *b)
{
	while (b->pool) {
		struct bconn *bc = b->pool;
		b->pool = bc->next;
		px_bconn_close(bc);
	}
	b->npool = 0;
	b->st.pooled = 0;
}

/* ---- backends ---- */

static void on_drained(struct loop *l, void *data)
{
	(void)l;
	struct proxy_backend *b = data;
	void (*cb)(void *) = b->drain_cb;
	b->drain_cb = NULL;
	if (cb)
		cb(b->drain_arg);
}

void px_backend_idle_check(struct proxy_backend *b)
{
	if (b->draining && b->drain_cb && !b->st.inflight && !b->st.tunnels) {
		close_pool(b);
		if (!loop_timer_armed(b->drain_timer))
			loop_timer_arm_in(b->drain_timer, 0);
	}
}

static bool routable(const struct proxy_backend *b, bool want_up)
{
	return b->weight > 0 && !b->draining && (!want_up || b->up);
}

struct proxy_backend *px_pick(struct proxy *p, const struct proxy_backend *avoid)
{
	/* prefer backends that are up; with none up, the ones with a weight keep traffic; a retry
	 * avoids the backend that failed when another can take it */
	bool any_up = false, other = false;
	for (size_t i = 0; i < p->nbk; i++) {
		any_up |= routable(p->bk[i], true);
		other |= p->bk[i] != avoid && routable(p->bk[i], false);
	}
	int total = 0;
	struct proxy_backend *best = NULL;
	for (size_t i = 0; i < p->nbk; i++) {
		struct proxy_backend *b = p->bk[i];
		if (!routable(b, any_up) || (other && b == avoid))
			continue;
		b->cw += (int)b->weight;
		total += (int)b->weight;
		if (!best || b->cw > best->cw)
			best = b;
	}
	if (best)
		best->cw -= total;
	return best;
}

struct proxy_backend *px_backend_by_id(struct proxy *p, unsigned id)
{
	for (size_t i = 0; i < p->nbk; i++)
		if (p->bk[i]->id == id && !p->bk[i]->draining)
			return p->bk[i];
	return NULL;
}

void proxy_set_router(struct proxy *p, proxy_router_fn fn, void *arg, const char *preview_header)
{
	p->router = fn;
	p->router_arg = arg;
	free(p->preview_header);
	p->preview_header = preview_header ? xstrdup(preview_header) : NULL;
}

struct proxy_backend *proxy_backend_add(struct proxy *p, unsigned id, const struct sockaddr *addr,
					socklen_t len)
{
	if (len > sizeof(struct sockaddr_storage))
		return NULL;
	struct proxy_backend *b = xcalloc(1, sizeof(*b));
	b->p = p;
	b->id = id;
	memcpy(&b->addr, addr, len);
	b->alen = len;
	b->up = true;
	b->st.up = true;
	b->drain_timer = loop_timer_new(p->loop, on_drained, b);
	p->bk = xrealloc(p->bk, (p->nbk + 1) * sizeof(*p->bk));
	p->bk[p->nbk++] = b;
	return b;
}

void proxy_backend_set_weight(struct proxy_backend *b, unsigned weight)
{
	if (b->draining)
		return;
	b->weight = weight;
	b->st.weight = weight;
	b->cw = 0;
	if (weight)
		px_kick_waiting(b->p);
}

void proxy_backend_set_up(struct proxy_backend *b, bool up)
{
	b->up = up;
	b->st.up = up;
	if (up)
		px_kick_waiting(b->p);
}

void proxy_backend_drain(struct proxy_backend *b, void (*cb)(void *arg), void *arg)
{
	b->draining = true;
	b->weight = 0;
	b->st.weight = 0;
	b->drain_cb = cb;
	b->drain_arg = arg;
	close_pool(b);
	px_backend_idle_check(b);
}

void proxy_backend_remove(struct proxy_backend *b)
{
	struct proxy *p = b->p;
	b->draining = true;
	b->drain_cb = NULL;
	for (struct pclient *pc = p->clients, *next; pc; pc = next) {
		next = pc->next;
		if (pc->x && pc->x->b == b)
			px_client_backend_lost(pc);
	}
	close_pool(b);
	for (size_t i = 0; i < p->nbk; i++)
		if (p->bk[i] == b) {
			p->bk[i] = p->bk[--p->nbk];
			break;
		}
	loop_timer_free(b->drain_timer);
	free(b);
}

void proxy_backend_get_stats(const struct proxy_backend *b, struct proxy_backend_stats *out)
{
	*out = b->st;
}

size_t proxy_nconns(const struct proxy *p)
{
	return p->nclients;
}

void proxy_set_observer(struct proxy *p, proxy_observer_fn fn, void *arg)
{
	p->obs = fn;
	p->obs_arg = arg;
}

void px_kick_waiting(struct proxy *p)
{
	for (struct pclient *pc = p->clients, *next; pc; pc = next) {
		next = pc->next;
		if (pc->st == PC_WAIT)
			px_client_retry_wait(pc);
	}
}

/* ---- life ---- */

int proxy_new(struct loop *l, int listen_fd, const struct proxy_opts *o, struct proxy **out,
	      char **err)
{
	struct proxy *p = xcalloc(1, sizeof(*p));
	p->loop = l;
	p->o = *o;
	p->name = xstrdup(o->name ? o->name : "proxy");
	p->o.name = p->name;
	if (!p->o.header_timeout_ms)
		p->o.header_timeout_ms = 10000;
	if (!p->o.idle_timeout_ms)
		p->o.idle_timeout_ms = 60000;
	if (!p->o.max_header_size)
		p->o.max_header_size = 64 * 1024;
	if (!p->o.connect_timeout_ms)
		p->o.connect_timeout_ms = 30000;
	if (!p->o.pool_idle_ms)
		p->o.pool_idle_ms = 2000;
	p->lfd = listen_fd;
	int fl = fcntl(listen_fd, F_GETFL);
	if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0)) {
		int e = errno;
		*err = xasprintf("%s: cannot make the listening socket non-blocking: %s", p->name,
				 strerror(e));
		free(p->name);
		free(p);
		return -e;
	}
	p->lsrc = loop_add(l, listen_fd, EPOLLIN, on_accept, p);
	if (!p->lsrc) {
		int e = errno;
		*err = xasprintf("%s: cannot watch the listening socket: %s", p->name, strerror(e));
		free(p->name);
		free(p);
		return -e;
	}
	p->sweep = loop_timer_new(l, on_sweep, p);
	*out = p;
	return 0;
}

void proxy_free(struct proxy *p)
{
	if (!p)
		return;
	while (p->clients)
		px_client_close(p->clients);
	while (p->nbk)
		proxy_backend_remove(p->bk[p->nbk - 1]);
	free(p->bk);
	loop_del(p->loop, p->lsrc);
	loop_timer_free(p->sweep);
	free(p->error_page);
	free(p->preview_header);
	free(p->name);
	free(p);
}
