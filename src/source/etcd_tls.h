/* TLS to etcd: OpenSSL's libssl, loaded on demand (dlopen, as tls/ossl.c loads libcrypto for
 * the certificate checker: baton links only libc, and only a [[source]] with an https://
 * endpoint needs libssl), and a net/conn.h transport over it, so etcd_http.c talks to an
 * https:// endpoint through the same conn_read / conn_write.
 *
 * The peer is verified against ca (or the system's trust store when ca is NULL) and the
 * endpoint's address (an IP address must be in the certificate's IP SANs; "localhost" in its
 * DNS names); cert/key, when given, are the client certificate (etcd --client-cert-auth).
 *
 * Ownership: a context is the caller's (etcd_tls_ctx_free); a transport set up on a conn owns
 * its SSL and the fd, released by conn_close(). */
#ifndef BATON_ETCD_TLS_H
#define BATON_ETCD_TLS_H

#include <stdbool.h>

struct conn;
struct etcd_tls_ctx;

/* NULL with a fresh message in *err (libssl missing, an unreadable CA, a key that does not
 * match its certificate). Paths are used as given. */
struct etcd_tls_ctx *etcd_tls_ctx_new(const char *ca, const char *cert, const char *key,
				      char **err);
void etcd_tls_ctx_free(struct etcd_tls_ctx *t);

/* Put the TLS transport on c (whose fd is a connected socket), to verify host (an IP literal
 * or a name). 0, or -1 with a fresh message in *err (c is left as it was). */
int etcd_tls_conn_init(struct conn *c, struct etcd_tls_ctx *t, const char *host, char **err);
/* Drive the handshake: 0 when done, -EAGAIN (wait for *want_write ? EPOLLOUT : EPOLLIN), or
 * -EPROTO with a fresh message in *err (certificate verify failed: ...). */
int etcd_tls_handshake(struct conn *c, bool *want_write, char **err);

#endif
