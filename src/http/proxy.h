/* The HTTP front (`[[listen]] proxy = "http"`): baton accepts on the public listener, speaks
 * HTTP/1.1 to clients (h1.h), and sends each request to one backend — a generation's private
 * socket — chosen when the request starts. Client connections outlive backends: a keep-alive
 * connection's next request goes to whichever backend serves then. Backend connections are
 * pooled per backend; a pooled connection is checked before reuse (a non-blocking peek: end of
 * file or bytes pending = the backend is closing it) and never reused after `pool_idle_ms`.
 * A request that failed before any response byte is retried once on a fresh connection when
 * nothing of it was consumed or it is idempotent (h1_is_idempotent).
 *
 * Draining a backend: no new requests (weight 0), in-flight ones finish, idle pooled
 * connections close; the drain callback fires when none is in flight (tunnels — Upgrade and
 * CONNECT — count until they close or proxy_backend_remove()).
 *
 * Ownership: the caller owns listen_fd (never closed here) and keeps it open until
 * proxy_free(). The proxy owns every connection it accepted or made. A backend handle is valid
 * from proxy_backend_add() until proxy_backend_remove() or proxy_free(). Callbacks never run
 * inside the call that caused them. The process ignores SIGPIPE. */
#ifndef BATON_PROXY_H
#define BATON_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct loop;
struct tls_front;
struct proxy;
struct proxy_backend;

struct proxy_opts {
	const char *name;	    /* the listener's name, for messages and metrics (copied) */
	int64_t header_timeout_ms;  /* a client's head not complete by then: 408, close (10 s) */
	int64_t idle_timeout_ms;    /* a keep-alive client idle this long is closed (60 s) */
	size_t max_header_size;	    /* a bigger request head: 431 (64 KiB) */
	size_t max_connections;	    /* client connections at once; at the cap accepting pauses */
	int64_t connect_timeout_ms; /* no backend able to take a request by then: 503
				       (ready_timeout) */
	int64_t pool_idle_ms;	    /* a pooled backend connection idle longer is closed (2 s) */
	bool https;		    /* X-Forwarded-Proto: https (TLS is below, in struct conn) */
	/* TLS termination (tls/tlsfront.h): clients speak TLS; the set must outlive the proxy.
	 * Implies https. NULL: plain HTTP. */
	struct tls_front *tls;
};

/* 0 or -errno with *err set (caller frees). Defaults apply to zero fields. */
int proxy_new(struct loop *l, int listen_fd, const struct proxy_opts *o, struct proxy **out,
	      char **err);
/* Close every connection and free p. NULL is a no-op. Safe inside a loop callback. */
void proxy_free(struct proxy *p);

/* A backend (a generation) at addr (AF_UNIX or loopback TCP; copied). id is the generation
 * number, for messages, metrics and the cookie of rollouts. It starts with weight 0: it gets
 * no request until proxy_backend_set_weight(). */
struct proxy_backend *proxy_backend_add(struct proxy *p, unsigned id, const struct sockaddr *addr,
					socklen_t len);
/* The share of new requests (relative to the other backends' weights; 0 = none). Requests
 * already routed keep their backend. With every weight 0, requests wait for a backend up to
 * connect_timeout_ms, then 503. */
void proxy_backend_set_weight(struct proxy_backend *b, unsigned weight);
/* Health (sup/health.c decides): a backend that is down gets no requests while another with a
 * weight is up; with none up, the down ones keep their traffic. Backends start up. */
void proxy_backend_set_up(struct proxy_backend *b, bool up);
/* Weight 0 for good; cb(arg) once nothing is in flight on b (maybe from the loop right away). */
void proxy_backend_drain(struct proxy_backend *b, void (*cb)(void *arg), void *arg);
/* Close b's connections (clients mid-request on it get 502, tunnels close) and free b. */
void proxy_backend_remove(struct proxy_backend *b);

struct proxy_backend_stats {
	uint64_t requests;    /* requests routed to it */
	uint64_t by_class[6]; /* [1..5]: responses 1xx..5xx; [0]: failed (no response) */
	uint64_t retries;     /* requests sent again on a fresh connection */
	uint64_t inflight;    /* requests now */
	uint64_t tunnels;     /* open Upgrade / CONNECT tunnels */
	uint64_t pooled;      /* idle pooled connections */
	unsigned weight;
	bool up;
};
void proxy_backend_get_stats(const struct proxy_backend *b, struct proxy_backend_stats *out);
/* Client connections open now. */
size_t proxy_nconns(const struct proxy *p);

/* Called once per request when its response ended (or failed: status 0), for health, metrics
 * and rollouts. dur_us: from the request's first byte to the response's last. */
typedef void (*proxy_observer_fn)(void *arg, struct proxy_backend *b, unsigned id, int status,
				  int64_t dur_us);
void proxy_set_observer(struct proxy *p, proxy_observer_fn fn, void *arg);

/* Rollouts: while a router is set, each request asks it which backend (by id) should take
 * it: sticky is the generation the client is pinned to (its baton_gen cookie, else the one its
 * connection last used; 0: none), preview whether it carries preview_header. The router answers
 * an id, or 0 to route by weight. Responses then carry Set-Cookie: baton_gen=<id> when the
 * client's cookie named another generation. NULL: no router (weights only, no cookie). */
typedef unsigned (*proxy_router_fn)(void *arg, unsigned sticky, bool preview);
void proxy_set_router(struct proxy *p, proxy_router_fn fn, void *arg, const char *preview_header);

/* Dev mode. While html is set (not NULL; copied), a request that accepts text/html (and is
 * not for the reserved path) is answered 500 with it instead of being routed: the build is
 * broken. Other requests keep going to the backends. */
void proxy_set_error_page(struct proxy *p, const char *html);
/* Live reload: text/html responses (not compressed) get a small script appended that listens
 * on the reserved path PROXY_LIVE_PATH (Server-Sent Events) and reloads the page when
 * proxy_live_reload() is called (a new generation is ready). */
#define PROXY_LIVE_PATH "/__baton/live"
void proxy_set_live_reload(struct proxy *p, bool on);
void proxy_live_reload(struct proxy *p);

#endif
