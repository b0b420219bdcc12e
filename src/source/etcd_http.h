/* One HTTP/1.1 request to an etcd endpoint, on the loop: connect (non-blocking), send, read the
 * answer's head (h1_parse_response) and stream its body's payload (h1_body_step: chunked
 * decoding for the watch stream) to the caller. Byte I/O goes through net/conn.h, so the TLS
 * client transport goes under it. One request per connection: the connection closes with it.
 *
 * Endpoints are "http://HOST:PORT" or "https://HOST:PORT" (TLS through tls/tlsclient.h) with
 * HOST an IPv4 or IPv6 literal (in brackets) or "localhost": no name lookup, which would block
 * the loop.
 *
 * Ownership: the caller frees the request with etcd_http_free(), which closes the connection;
 * it may do so inside any callback, and must then return non-zero from on_body. on_done is
 * called once, last (never after etcd_http_free). */
#ifndef BATON_ETCD_HTTP_H
#define BATON_ETCD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct etcd_http;
struct tls_client;

struct etcd_http_cbs {
	/* Payload bytes of the body; return non-zero after freeing the request (or to stop). */
	int (*on_body)(struct etcd_http *h, const char *p, size_t n, void *data);
	/* The answer is complete (err 0; etcd_http_status() says how it went) or failed (err
	 * -errno, why says what happened). */
	void (*on_done)(struct etcd_http *h, int err, const char *why, void *data);
};

/* Start POST path with body (JSON) and extra header lines (each ending in "\r\n", or NULL);
 * tls is the context for an https:// endpoint (tls/tlsclient.h), ignored for http://.
 * timeout_ms bounds the whole exchange (< 0: only the connection, for streams). NULL with a
 * fresh message in *err (a bad endpoint, no socket). */
struct etcd_http *etcd_http_post(struct loop *l, const char *endpoint, struct tls_client *tls,
				 const char *path, const char *headers, const char *body,
				 size_t len, int64_t timeout_ms, const struct etcd_http_cbs *cbs,
				 void *data, char **err);
void etcd_http_free(struct etcd_http *h);
/* The answer's status (0 before its head arrived). */
int etcd_http_status(const struct etcd_http *h);
/* Check an endpoint's form: NULL when usable, else a static reason. */
const char *etcd_http_endpoint_check(const char *endpoint);

#endif
