/* The struct conn transport over an SSL object (net/conn.h), shared by the TLS server
 * (tlsfront.c) and client (tlsclient.c): c->ctx is the SSL *, c->fd its socket. Reads and
 * writes set c->want on -EAGAIN; close frees the SSL and closes the fd (with an RST when asked).
 * Internal to src/tls. */
#ifndef BATON_TLSCONN_H
#define BATON_TLSCONN_H

#include "net/conn.h"

/* A peer that closes without close_notify is a reset (-ECONNRESET on read): the server side,
 * where a truncated request must not pass for a complete one. */
extern const struct conn_ops tls_conn_strict_ops;
/* The same, but such an EOF reads as an end (0): the client side, where HTTP's own framing
 * tells a complete answer from a cut one. */
extern const struct conn_ops tls_conn_lax_ops;

#endif
