/* TLS as a client: the context and the transport (see tlsclient.h). */
#include "tls/ossl_ssl_sym.h"
#include "tls/tlsclient.h"
#include "tls/tlsconn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/xalloc.h"

struct tls_client {
	SSL_CTX *ctx;
};

/* The library's first queued error, after what (fresh); the queue is emptied. */
static char *ssl_error(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";
	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return xasprintf("%s%s%s", what, *buf ? ": " : "", buf);
}

/* ssl_error() for a message about a file: `what "file": reason`. */
static char *ssl_file_error(const char *what_done, const char *file)
{
	char *what = xasprintf("%s \"%s\"", what_done, file);
	char *msg = ssl_error(what);
	free(what);
	return msg;
}

struct tls_client *tls_client_new(const char *use, const char *ca, const char *cert,
				  const char *key, char **err)
{
	if (ossl_load_ssl_for(use, err) < 0)
		return NULL;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		*err = ssl_error("cannot make a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (ca ? SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1
	       : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		*err = ssl_file_error("cannot load the CA", ca ? ca : "(system default)");
		goto fail;
	}
	if (cert) {
		if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
			*err = ssl_file_error("cannot load the client certificate", cert);
			goto fail;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1) {
			*err = ssl_file_error("cannot use the client key", key);
			goto fail;
		}
	}
	struct tls_client *t = xcalloc(1, sizeof(*t));
	t->ctx = ctx;
	return t;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

void tls_client_free(struct tls_client *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

int tls_client_conn_init(struct conn *c, struct tls_client *t, const char *host, char **err)
{
	SSL *ssl = SSL_new(t->ctx);
	if (!ssl || SSL_set_fd(ssl, c->fd) != 1) {
		*err = ssl_error("cannot start TLS");
		SSL_free(ssl);
		return -1;
	}
	unsigned char a[16];
	bool ip = inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
	int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host)
		    : SSL_set1_host(ssl, host);
	if (!ip)
		SSL_set_tlsext_host_name(ssl, host);
	if (ok != 1) {
		*err = ssl_error("cannot set the name to verify");
		SSL_free(ssl);
		return -1;
	}
	c->ops = &tls_conn_lax_ops;
	c->ctx = ssl;
	c->want = 0;
	return 0;
}

int tls_client_handshake(struct conn *c, bool *want_write, char **err)
{
	SSL *ssl = c->ctx;
	errno = 0;
	int n = SSL_connect(ssl);
	if (n == 1)
		return 0;
	int e = SSL_get_error(ssl, n);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		*want_write = e == SSL_ERROR_WANT_WRITE;
		return -EAGAIN;
	}
	long v = SSL_get_verify_result(ssl);
	if (v != X509_V_OK) {
		ERR_clear_error();
		*err = xasprintf("TLS: certificate verify failed: %s",
				 X509_verify_cert_error_string(v));
	} else if (e == SSL_ERROR_SYSCALL && !ERR_peek_error()) {
		*err = xasprintf("TLS handshake: %s",
				 errno ? strerror(errno) : "the server closed the connection");
	} else {
		*err = ssl_error("TLS handshake failed");
	}
	return -EPROTO;
}
