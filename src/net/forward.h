/* Forward listeners, for apps that bind their own port (`forward = "127.0.0.1:8081"`): baton
 * accepts on the listening socket it owns and relays each connection, as plain bytes, to the
 * app's address. While the app refuses (building, restarting) a connection waits — baton retries
 * the connect with a short backoff until the connection's deadline — so no client is refused;
 * at the deadline the client connection is closed. Bytes are moved with splice(2) through a pipe
 * per direction (read/write where splice is not supported); half-close is relayed as
 * shutdown(SHUT_WR), a reset as a reset. Protocol-agnostic: WebSocket upgrades, HTTP/2 and
 * anything else over TCP pass through unchanged.
 *
 * Ownership: the caller owns listen_fd (forward never closes, shuts down or changes it; it may be
 * blocking or non-blocking) and must keep it open until forward_free(). Forward owns every
 * connection it accepted or made (client and target sockets, pipes; all CLOEXEC) and closes
 * them when they end or in forward_free(). The process must ignore SIGPIPE (sig_new() does).
 *
 * A connection the target drops before answering is replayed: until the first byte comes back
 * from the target, the bytes the client sent (up to 64 KiB; a larger request is not replayed)
 * are kept, and when the target resets, closes or fails in that window (an app killed in the
 * middle of a request, as a dev-mode restart does) forward connects again, with the same retry
 * and a fresh connect_timeout_ms, sends the kept bytes and the client's half-close if there was
 * one, and relays the new answer — provided no byte of the request reached the failed target,
 * or the request is idempotent HTTP (it starts with GET, HEAD, OPTIONS, TRACE, PUT or DELETE:
 * running it twice is the same as once). A POST (or anything else) of which the dead target took
 * a byte gets a reset instead of a second submission. Only the connection's first request can
 * be replayed (the window ends with the first byte of an answer), and it is judged by its first
 * request line: a client pipelining a POST behind a GET could still see the POST sent twice (RFC
 * 9112 asks clients not to pipeline after non-idempotent methods, not before). At most 8 replays
 * per connection; then, or once a byte of the answer was relayed, a reset is passed on as a
 * reset. */
#ifndef BATON_FORWARD_H
#define BATON_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct loop;
struct forward;

struct forward_stats {
	uint64_t accepted;  /* client connections accepted */
	uint64_t connected; /* ... that reached the target */
	uint64_t retries;   /* connect attempts refused (or failed) and retried */
	uint64_t timed_out; /* clients closed because the target was not up by the deadline */
	uint64_t replayed;  /* requests sent again after the target failed before answering */
	uint64_t bytes_in;  /* client -> target (replayed bytes count again) */
	uint64_t bytes_out; /* target -> client */
};

/* Start accepting on listen_fd and forwarding to target (AF_INET, AF_INET6 or AF_UNIX, copied).
 * connect_timeout_ms (> 0) bounds how long an accepted connection waits for the target to
 * accept (the run's ready_timeout). NULL with errno set on failure: EINVAL for bad arguments,
 * ELOOP when the target is the listening socket's own address. */
struct forward *forward_new(struct loop *l, int listen_fd, const struct sockaddr *target,
			    socklen_t len, int64_t connect_timeout_ms);
/* The supervisor knows the target is up (the app is ready): connections waiting for it retry
 * now instead of at their next backoff step. */
void forward_retry_now(struct forward *f);
/* Connections alive: waiting for the target or relaying. */
size_t forward_nconns(const struct forward *f);
void forward_get_stats(const struct forward *f, struct forward_stats *out);
/* The target as text ("127.0.0.1:8081", "[::1]:8081", "unix:/path"), for messages. */
const char *forward_target_str(const struct forward *f);
/* Close every connection and free f. Does not close the listening socket. Safe inside a loop
 * callback. NULL is a no-op. */
void forward_free(struct forward *f);

/* At most max connections at once (0: the default, FORWARD_MAX_CONNS_DEFAULT): at the cap,
 * accepting pauses (new connections wait in the kernel's backlog, none is refused) until one
 * closes; logged once per episode, naming the listener (name, copied; NULL keeps the target).
 * Independently, accepting pauses while one more connection (counted as 6 fds, for every
 * forward's connections, on top of the fds open at forward_new()) would reach into the last 64
 * fds below the RLIMIT_NOFILE soft limit read at forward_new(), so that the control socket,
 * spawning and readiness checks keep fds; it resumes when a connection closes (rechecked every
 * 100 ms); and for 100 ms, or until a connection closes, after EMFILE. */
#define FORWARD_MAX_CONNS_DEFAULT 4096
void forward_set_max_conns(struct forward *f, size_t max, const char *name);

/* Tests and old kernels: relay with read/write instead of splice (connections made later). */
void forward_set_splice(struct forward *f, bool on);

/* Parse a forward target, written like a [[listen]] address (listen_addr.h): "127.0.0.1:8081",
 * "[::1]:8081", "localhost:8081" or ":8081" (both 127.0.0.1: the app on this machine),
 * "unix:/path", "unix:rel" (relative to the working directory at connect time), "unix:@name".
 * Host names other than localhost are refused: a forward target is a local app, and resolving
 * would block. Returns 0, or -EINVAL with *err (if err is not NULL) set to a reason the caller
 * frees. */
int forward_parse_target(const char *s, struct sockaddr_storage *out, socklen_t *outlen,
			 char **err);

#endif
