/* A small non-blocking HTTP/1.1 client for baton's own probes: one GET on the loop, the status
 * of the response head (parsed by h1_parse_response), a deadline. Used by `ready = "http:/path"`
 * and [health] checks against a generation's private socket. The body is never read: the
 * connection is closed once the head is in ("Connection: close" is sent).
 *
 * Ownership: the handle is the client's until cb runs (exactly once, never inside
 * http_get_start(), from the loop) or http_get_cancel() is called (then cb never runs); after
 * either it is freed and must not be used. addr, path and host are copied. */
#ifndef BATON_HTTP_CLIENT_H
#define BATON_HTTP_CLIENT_H

#include <stdint.h>
#include <sys/socket.h>

struct loop;
struct http_get;

/* status: the final response's status (100..999, 1xx other than 101 skipped), or 0 when there
 * was none; then why says what went wrong ("connect: Connection refused", "timed out after
 * 1s", "bad response head"), valid during the call only. */
typedef void (*http_get_cb)(void *arg, int status, const char *why);

/* Limit on the response head the client reads. */
#define HTTP_CLIENT_MAX_HEAD 16384

/* GET path (origin form) from addr (AF_UNIX, AF_INET, AF_INET6) with "Host: host" (NULL:
 * "localhost"), failing after timeout_ms. NULL with errno set only when memory or the loop
 * fail; a socket or connect error is reported through cb. */
struct http_get *http_get_start(struct loop *l, const struct sockaddr *addr, socklen_t len,
				const char *path, const char *host, int64_t timeout_ms,
				http_get_cb cb, void *arg);
void http_get_cancel(struct http_get *g);

#endif
