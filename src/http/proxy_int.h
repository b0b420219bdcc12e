/* Internals of the HTTP front, shared by proxy.c (accept, backends, choice, pool, drain),
 * proxy_client.c (a client connection: heads, bodies, responses, tunnels) and proxy_dev.c (the
 * dev error page and live reload). Not for other modules.
 *
 * One exchange at a time per client connection: the next pipelined head is parsed only once the
 * response to the previous one is complete, so responses leave in request order. Bytes move
 * through small buffers with backpressure: a side is read only while the buffer towards the
 * other side is below PX_BUF_HIGH. An idle keep-alive client holds no buffer at all. */
#ifndef BATON_PROXY_INT_H
#define BATON_PROXY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "http/h1.h"
#include "http/proxy.h"
#include "net/conn.h"

struct loop;
struct loop_src;
struct loop_timer;

#define PX_READ_CHUNK (16 * 1024) /* bytes per read */
#define PX_BUF_HIGH (64 * 1024)	  /* stop reading a side while the other side's buffer holds this */
#define PX_RETAIN_MAX (64 * 1024) /* request bytes kept for a retry */
#define PX_RESP_HEAD_MAX (64 * 1024)
#define PX_ACCEPT_BATCH 64
#define PX_PASSIVE_FAILS 5 /* consecutive 5xx / failures: the observer's business (health) */

/* A growable byte buffer: bytes [off, len) are pending. */
struct pxbuf {
	char *p;
	size_t off, len, cap;
};
void pxbuf_put(struct pxbuf *b, const void *d, size_t n);
void pxbuf_printf(struct pxbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline size_t pxbuf_pending(const struct pxbuf *b)
{
	return b->len - b->off;
}
void pxbuf_consume(struct pxbuf *b, size_t n);
void pxbuf_free(struct pxbuf *b);
/* Read once from c into b (room for PX_READ_CHUNK made first): 1 = bytes came, 0 = nothing
 * now or end of file (*eof set), or -errno. */
int px_read_into(struct conn *c, struct pxbuf *b, bool *eof);
/* Write b's pending bytes to c until done or -EAGAIN (0); -errno on failure. *wrote (if not
 * NULL) is set once a byte went out. */
int px_flush(struct conn *c, struct pxbuf *b, bool *wrote);

struct bconn; /* a connection to a backend */
struct pclient;

struct proxy_backend {
	struct proxy *p;
	unsigned id;
	struct sockaddr_storage addr;
	socklen_t alen;
	unsigned weight;
	int cw; /* smooth weighted round robin's current weight */
	bool up;
	bool draining;
	void (*drain_cb)(void *arg);
	void *drain_arg;
	struct loop_timer *drain_timer; /* reports the drain from the loop */
	struct bconn *pool;		/* idle connections, newest first */
	size_t npool;
	struct proxy_backend_stats st;
};

struct bconn {
	struct proxy_backend *b;
	struct conn c;
	struct loop_src *src;
	uint32_t events;
	bool connecting;
	bool reused;	    /* came from the pool */
	int64_t idle_since; /* ms, while pooled */
	struct bconn *next; /* pool list */
	struct pclient *owner;
};

enum pc_state {
	PC_IDLE,    /* keep-alive, waiting for the next head (idle_timeout) */
	PC_HEAD,    /* a head is arriving (header_timeout) */
	PC_WAIT,    /* no backend can take it yet (connect_timeout) */
	PC_XCHG,    /* the exchange runs: request body and response */
	PC_TUNNEL,  /* Upgrade / CONNECT: bytes both ways */
	PC_LIVE,    /* the live-reload event stream */
	PC_CLOSING, /* flushing a final answer, then close */
};

struct xchg {
	struct proxy_backend *b;
	struct bconn *bc;
	char method[24];
	bool idempotent, is_head, upgrade, connect, req_keepalive, client_10;
	struct h1_body reqbody;
	bool req_done;	   /* the request body ended */
	struct pxbuf bout; /* to the backend */
	struct pxbuf sent; /* every request byte, for a retry (while retain) */
	bool retain;
	bool wrote_any; /* a byte reached the backend's socket */
	int retries;
	struct pxbuf rin; /* from the backend */
	bool resp_head;	  /* the final response head was forwarded */
	bool any_resp;	  /* a byte came back from the backend */
	bool counted;	  /* counted in the backend's inflight */
	bool tunnel;	  /* counted in the backend's tunnels */
	int status;
	struct h1_body respbody;
	bool resp_eof; /* framed by the backend's close */
	bool resp_done;
	bool resp_close; /* the backend connection cannot be reused */
	bool inject;	 /* live reload: append the script */
	bool rechunk;	 /* inject into a chunked body: re-frame it */
	int64_t start_us;
	bool set_cookie; /* the response carries Set-Cookie: baton_gen */
};

struct pclient {
	struct proxy *p;
	struct pclient *prev, *next;
	struct conn c;
	struct loop_src *src;
	uint32_t events;
	enum pc_state st;
	struct loop_timer *timer;
	struct pxbuf in;  /* from the client: heads, then body bytes not yet forwarded */
	struct pxbuf out; /* to the client */
	bool client_eof;
	bool close_after; /* close once out is flushed (after this exchange) */
	struct xchg *x;
	int64_t wait_until; /* PC_WAIT: ms */
	char peer[48];	    /* the client's address for X-Forwarded-For */
	bool tunnel_up_eof, tunnel_down_eof;
	bool tls;
	unsigned last_gen;   /* the backend its last request went to (connection stickiness) */
	unsigned cookie_gen; /* the current request's baton_gen cookie, 0: none */
	uint32_t want_r, want_w; /* TLS: the event a read / a write waits for (conn.h want) */
	bool tls_more;		 /* TLS: reading stopped at a full buffer, plaintext may wait */
	int busy;		 /* inside a handler of its own */
	bool doomed;		 /* closed while busy: freed when the handler ends */
};

struct proxy {
	struct loop *loop;
	struct proxy_opts o;
	char *name;
	int lfd;
	struct loop_src *lsrc;
	bool accept_paused;
	struct proxy_backend **bk;
	size_t nbk;
	struct pclient *clients;
	size_t nclients;
	proxy_observer_fn obs;
	void *obs_arg;
	char *error_page;
	bool live;
	proxy_router_fn router;
	void *router_arg;
	char *preview_header;
	struct loop_timer *sweep; /* closes stale pooled connections */
};

/* proxy.c */
/* The next backend for a request (smooth weighted round robin); avoid: one that just failed. */
struct proxy_backend *px_pick(struct proxy *p, const struct proxy_backend *avoid);
/* The backend with this id when it can take requests (weight ignored), else NULL. */
struct proxy_backend *px_backend_by_id(struct proxy *p, unsigned id);
/* A connection to b: a pooled one that passes the check, or a new non-blocking connect (NULL
 * with errno on failure). The caller registers it (px_bconn_watch). */
struct bconn *px_bconn_get(struct proxy_backend *b);
void px_bconn_watch(struct bconn *bc, uint32_t events);
void px_bconn_close(struct bconn *bc);
/* Done with bc after a complete exchange: back to the pool, or closed. */
void px_bconn_release(struct bconn *bc, bool reusable);
/* An exchange ended on b (or a tunnel closed): drain check. */
void px_backend_idle_check(struct proxy_backend *b);
/* Clients waiting for a backend: try again. */
void px_kick_waiting(struct proxy *p);
void px_client_gone(struct proxy *p); /* a client closed: accepting may resume */

/* proxy_client.c */
void px_client_new(struct proxy *p, int fd, const struct sockaddr_storage *ss, socklen_t len);
void px_client_close(struct pclient *pc);
void px_client_retry_wait(struct pclient *pc);
/* The backend of pc's exchange (or tunnel) is going away. */
void px_client_backend_lost(struct pclient *pc);
void px_bconn_event(struct bconn *bc, uint32_t events);

/* proxy_head.c */
const char *px_reason(int status); /* the reason phrase of baton's own answers */
/* The request head h as sent to a backend: hop-by-hop fields out, forwarding fields in. */
void px_write_request_head(struct pclient *pc, const struct h1_head *h, struct pxbuf *o);
/* The response head h as sent to pc's client; extra_len: bytes added to a Content-Length
 * body (live reload). */
void px_write_response_head(struct pclient *pc, const struct h1_head *h, struct pxbuf *o,
			    size_t extra_len);

/* proxy_head.c: which backend takes a request (a rollout's router, else by weight) */
struct proxy_backend *px_route(struct pclient *pc, const struct h1_head *h);

/* proxy_dev.c */
/* The request is for the live-reload stream, or gets the error page: answered here (true). */
bool px_dev_intercept(struct pclient *pc, const struct h1_head *req);
const char *px_live_script(size_t *len);
/* A response head that may take the script: text/html, not compressed, 200. */
bool px_dev_injectable(const struct proxy *p, const struct h1_head *resp, bool is_head);

#endif
