/* TLS as a client: a context (the CA to trust, or the system's trust store; an optional client
 * certificate) and the TLS client transport under a struct conn (net/conn.h), so that a caller
 * speaks to an https:// server through the same conn_read / conn_write as over plain TCP (the
 * etcd source, source/etcd_http.c). libssl is loaded on first use (ossl.h), never linked.
 *
 * The peer is verified against the context's CA and the host it was dialled as: an IP address
 * must be in the certificate's IP SANs, a name in its DNS names (and is sent as SNI). TLS 1.2
 * and 1.3.
 *
 * Readiness: as net/conn.h says; an op that returns -EAGAIN sets conn->want when it needs the
 * other direction (a read that must write first). libssl writes with write(2): the process
 * ignores SIGPIPE (core/sig.h), as for tlsfront.h.
 *
 * Ownership: a context is the caller's (tls_client_free) and must outlive the connections set
 * up on it until their conn_close(); a transport set up on a conn owns its TLS state and the
 * fd, both released by conn_close(). */
#ifndef BATON_TLSCLIENT_H
#define BATON_TLSCLIENT_H

#include <stdbool.h>

#include "net/conn.h"

struct tls_client;

/* A context trusting ca (a PEM file; NULL: the system's default verify paths), presenting
 * cert/key (PEM files; cert NULL: none) when the server asks. use names what TLS is for in the
 * message when libssl cannot be loaded ("TLS to etcd" gives "TLS to etcd needs OpenSSL's
 * libssl (libssl.so.3, Debian package libssl3): ..."). NULL with a fresh message in *err
 * (libssl missing, an unreadable CA, a key that does not match its certificate). Paths are used
 * as given. */
struct tls_client *tls_client_new(const char *use, const char *ca, const char *cert,
				  const char *key, char **err);
void tls_client_free(struct tls_client *t);

/* Put the TLS client transport on c (whose fd is a connected, non-blocking stream socket), to
 * verify host (an IP literal or a name). 0, or -1 with a fresh message in *err (c is left as it
 * was). */
int tls_client_conn_init(struct conn *c, struct tls_client *t, const char *host, char **err);
/* Drive the handshake: 0 when done, -EAGAIN (wait for *want_write ? EPOLLOUT : EPOLLIN), or
 * -EPROTO with a fresh message in *err ("TLS: certificate verify failed: ...", "TLS handshake:
 * ...", "TLS handshake failed: ..."). */
int tls_client_handshake(struct conn *c, bool *want_write, char **err);

#endif
