/* TLS termination for the HTTP front: a set of named certificate groups — SNI picks the group
 * whose certificate matches the name the client asks for; the first group is the default — and
 * the TLS server transport under a struct conn (net/conn.h). A group's certificate is swapped
 * live: tls_front_set() builds a new context and new handshakes use it at once, while
 * connections already made keep theirs (OpenSSL counts the references). ALPN offers http/1.1.
 * TLS 1.2 and 1.3; renegotiation off. libssl is loaded on first use (ossl.h).
 *
 * Readiness: an op of the transport that returns -EAGAIN sets conn->want to the epoll event it
 * needs (EPOLLIN or EPOLLOUT): a TLS read may need the socket writable, a write readable.
 *
 * Ownership: a struct tls_front owns its contexts and names; it must outlive the connections
 * made on it only until they are set up (each holds its own reference). tls_conn_init() takes
 * the fd; conn_close() frees the TLS state and closes it. */
#ifndef BATON_TLSFRONT_H
#define BATON_TLSFRONT_H

#include <stdint.h>

#include "net/conn.h"

struct tls_front;

/* A set with no group. 0, or -ENOPKG (libssl not loadable) with *err set. */
int tls_front_new(struct tls_front **out, char **err);
void tls_front_free(struct tls_front *f);
/* Add group `name`, or replace its certificate: cert is a PEM file with the chain after the
 * leaf, key the PEM private key. The pair is loaded and matched before anything changes: on an
 * error (-EINVAL, with *err) the group keeps what it had. */
int tls_front_set(struct tls_front *f, const char *name, const char *cert, const char *key,
		  char **err);
/* The leaf certificate's notAfter (unix seconds) for group name; -1 when unknown. */
int64_t tls_front_not_after(const struct tls_front *f, const char *name);
/* Server-side TLS on fd (a connected, non-blocking stream socket), with f's default group; the
 * handshake runs inside the first conn_read()/conn_write(). 0 or -errno (fd is then closed). */
int tls_conn_init(struct conn *c, int fd, struct tls_front *f, char **err);

#endif
