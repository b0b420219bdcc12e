#include "source/etcd_tls.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/conn.h"
#include "util/xalloc.h"

#define SSL_SONAME "libssl.so.3" /* OpenSSL 3; Debian package libssl3 */

/* Every libssl / libcrypto function used here, resolved at load time: calls go through these
 * pointers (typed with the library's own prototypes), never through a link-time reference. */
#define TLS_FUNCS(X)                                                                               \
	X(TLS_client_method)                                                                       \
	X(SSL_CTX_new)                                                                             \
	X(SSL_CTX_free)                                                                            \
	X(SSL_CTX_set_verify)                                                                      \
	X(SSL_CTX_load_verify_locations)                                                           \
	X(SSL_CTX_set_default_verify_paths)                                                        \
	X(SSL_CTX_use_certificate_chain_file)                                                      \
	X(SSL_CTX_use_PrivateKey_file)                                                             \
	X(SSL_CTX_check_private_key)                                                               \
	X(SSL_CTX_ctrl)                                                                            \
	X(SSL_new)                                                                                 \
	X(SSL_free)                                                                                \
	X(SSL_set_fd)                                                                              \
	X(SSL_ctrl)                                                                                \
	X(SSL_set1_host)                                                                           \
	X(SSL_get0_param)                                                                          \
	X(X509_VERIFY_PARAM_set1_ip_asc)                                                           \
	X(SSL_connect)                                                                             \
	X(SSL_read)                                                                                \
	X(SSL_write)                                                                               \
	X(SSL_shutdown)                                                                            \
	X(SSL_get_error)                                                                           \
	X(SSL_get_verify_result)                                                                   \
	X(X509_verify_cert_error_string)                                                           \
	X(ERR_get_error)                                                                           \
	X(ERR_error_string_n)                                                                      \
	X(ERR_clear_error)

#define DECL(f) static __typeof__(f) *p_##f;
TLS_FUNCS(DECL)
#undef DECL

static bool loaded;

static int load(char **err)
{
	if (loaded)
		return 0;
	void *h = dlopen(SSL_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!h) {
		const char *e = dlerror();
		*err = xasprintf(
			"TLS to etcd needs OpenSSL's libssl (%s, Debian package libssl3): %s",
			SSL_SONAME, e ? e : "dlopen failed");
		return -1;
	}
#define RESOLVE(f)                                                                                 \
	p_##f = (__typeof__(f) *)dlsym(h, #f);                                                     \
	if (!p_##f) {                                                                              \
		*err = xasprintf("%s has no %s", SSL_SONAME, #f);                                  \
		return -1;                                                                         \
	}
	TLS_FUNCS(RESOLVE)
#undef RESOLVE
	loaded = true;
	return 0;
}

struct etcd_tls_ctx {
	SSL_CTX *ctx;
};

/* The library's last error, as text (fresh). */
static char *ssl_error(const char *what)
{
	unsigned long e = p_ERR_get_error();
	char buf[256] = "";
	if (e)
		p_ERR_error_string_n(e, buf, sizeof(buf));
	p_ERR_clear_error();
	return xasprintf("%s%s%s", what, *buf ? ": " : "", buf);
}

struct etcd_tls_ctx *etcd_tls_ctx_new(const char *ca, const char *cert, const char *key, char **err)
{
	if (load(err) < 0)
		return NULL;
	SSL_CTX *ctx = p_SSL_CTX_new(p_TLS_client_method());
	if (!ctx) {
		*err = ssl_error("cannot make a TLS context");
		return NULL;
	}
	p_SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, NULL);
	p_SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (ca ? p_SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1
	       : p_SSL_CTX_set_default_verify_paths(ctx) != 1) {
		char *w = xasprintf("cannot load the CA \"%s\"", ca ? ca : "(system default)");
		*err = ssl_error(w);
		free(w);
		goto bad;
	}
	if (cert) {
		if (p_SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
			char *w = xasprintf("cannot load the client certificate \"%s\"", cert);
			*err = ssl_error(w);
			free(w);
			goto bad;
		}
		if (p_SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
		    p_SSL_CTX_check_private_key(ctx) != 1) {
			char *w = xasprintf("cannot use the client key \"%s\"", key);
			*err = ssl_error(w);
			free(w);
			goto bad;
		}
	}
	struct etcd_tls_ctx *t = xcalloc(1, sizeof(*t));
	t->ctx = ctx;
	return t;
bad:
	p_SSL_CTX_free(ctx);
	return NULL;
}

void etcd_tls_ctx_free(struct etcd_tls_ctx *t)
{
	if (!t)
		return;
	p_SSL_CTX_free(t->ctx);
	free(t);
}

/* ---- the transport ---- */

static ssize_t tls_io_result(struct conn *c, int n)
{
	SSL *ssl = c->ctx;
	if (n > 0)
		return n;
	int e = p_SSL_get_error(ssl, n);
	switch (e) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		/* TLS 1.3 key updates can want the other direction; both wait on the socket, and
		 * the caller's level-triggered readiness makes the next call retry */
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		p_ERR_clear_error();
		return errno ? -errno : 0; /* an EOF without close_notify reads as an end */
	default:
		p_ERR_clear_error();
		return -EPROTO;
	}
}

static ssize_t tls_read(struct conn *c, void *buf, size_t len)
{
	errno = 0;
	return tls_io_result(c, p_SSL_read(c->ctx, buf, len > INT32_MAX ? INT32_MAX : (int)len));
}

static ssize_t tls_write(struct conn *c, const void *buf, size_t len)
{
	errno = 0;
	return tls_io_result(c, p_SSL_write(c->ctx, buf, len > INT32_MAX ? INT32_MAX : (int)len));
}

static int tls_shutdown(struct conn *c)
{
	p_SSL_shutdown(c->ctx);
	p_ERR_clear_error();
	return shutdown(c->fd, SHUT_WR) < 0 ? -errno : 0;
}

static void tls_close(struct conn *c, bool reset)
{
	(void)reset;
	p_SSL_free(c->ctx);
	c->ctx = NULL;
	close(c->fd);
	c->fd = -1;
}

static int tls_splice_fd(const struct conn *c)
{
	(void)c;
	return -EOPNOTSUPP;
}

static const struct conn_ops tls_ops = {
	.read = tls_read,
	.write = tls_write,
	.shutdown = tls_shutdown,
	.close = tls_close,
	.splice_fd = tls_splice_fd,
};

int etcd_tls_conn_init(struct conn *c, struct etcd_tls_ctx *t, const char *host, char **err)
{
	int fd = c->fd;
	SSL *ssl = p_SSL_new(t->ctx);
	if (!ssl || p_SSL_set_fd(ssl, fd) != 1) {
		*err = ssl_error("cannot start TLS");
		if (ssl)
			p_SSL_free(ssl);
		return -1;
	}
	unsigned char a[16];
	bool ip = inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
	int ok = ip ? p_X509_VERIFY_PARAM_set1_ip_asc(p_SSL_get0_param(ssl), host)
		    : p_SSL_set1_host(ssl, host);
	if (!ip)
		p_SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
			   (void *)host);
	if (ok != 1) {
		*err = ssl_error("cannot set the name to verify");
		p_SSL_free(ssl);
		return -1;
	}
	c->ops = &tls_ops;
	c->fd = fd;
	c->ctx = ssl;
	return 0;
}

int etcd_tls_handshake(struct conn *c, bool *want_write, char **err)
{
	SSL *ssl = c->ctx;
	errno = 0;
	int n = p_SSL_connect(ssl);
	if (n == 1)
		return 0;
	int e = p_SSL_get_error(ssl, n);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		*want_write = e == SSL_ERROR_WANT_WRITE;
		return -EAGAIN;
	}
	long v = p_SSL_get_verify_result(ssl);
	if (v != X509_V_OK) {
		p_ERR_clear_error();
		*err = xasprintf("TLS: certificate verify failed: %s",
				 p_X509_verify_cert_error_string(v));
	} else if (e == SSL_ERROR_SYSCALL && !p_ERR_get_error()) {
		*err = xasprintf("TLS handshake: %s",
				 errno ? strerror(errno) : "the server closed the connection");
	} else {
		*err = ssl_error("TLS handshake failed");
	}
	return -EPROTO;
}
