/* baton's own small HTTP server, for /metrics, the status page and its event stream: a listener
 * on the loop (an address as [[listen]] takes: "127.0.0.1:9180", "unix:/path"), GET and HEAD on
 * exact paths, one request at a time per connection. It never blocks the loop and never touches
 * the app: sockets are non-blocking, a request head is bounded (8 KiB, 5 s), at most
 * HTTPD_MAX_CONNS connections (more wait in the backlog), and a stream whose client does not
 * keep up (over HTTPD_STREAM_MAX bytes queued) is dropped.
 *
 * Ownership: the server owns its listener and connections. A struct httpd_conn handed to a
 * handler is valid during the call; after httpd_stream_begin(), until on_close runs. */
#ifndef BATON_HTTPD_H
#define BATON_HTTPD_H

#include <stddef.h>

#include "http/h1.h"

#define HTTPD_MAX_CONNS 64
#define HTTPD_STREAM_MAX (1024 * 1024)

struct loop;
struct httpd;
struct httpd_conn;

typedef void (*httpd_handler)(void *arg, struct httpd_conn *c, const struct h1_head *req);

/* 0, or -errno with *err (the caller frees). root: base of a relative unix path (NULL: cwd). */
int httpd_new(struct loop *l, const char *address, const char *root, struct httpd **out,
	      char **err);
/* What it is bound to: "127.0.0.1:9180", "unix:/abs/path". */
const char *httpd_bound(const struct httpd *h);
void httpd_free(struct httpd *h);
/* Serve path (exact; a query string is ignored) with fn. 0, or -EEXIST. Unknown paths get 404,
 * other methods 405. */
int httpd_route(struct httpd *h, const char *path, httpd_handler fn, void *arg);
/* Answer the request (a HEAD gets the head only). The connection stays open for the next. */
void httpd_respond(struct httpd_conn *c, int status, const char *content_type, const void *body,
		   size_t len);
/* Keep the connection as a stream (Server-Sent Events): the head goes now (no length: the
 * stream ends with the connection), then httpd_stream_write() appends. on_close(arg) runs
 * (from the loop) when the stream ends: the client went away, fell behind, or httpd_free(). */
int httpd_stream_begin(struct httpd_conn *c, const char *content_type, void (*on_close)(void *arg),
		       void *arg);
/* 0, or -EPIPE when the stream is gone or its client fell behind (it is then closed). */
int httpd_stream_write(struct httpd_conn *c, const void *p, size_t len);

#endif
