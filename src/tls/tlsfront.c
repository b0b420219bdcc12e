/* TLS termination: certificate groups with SNI, and the TLS transport (see tlsfront.h). */
#include "tls/ossl_ssl_sym.h"
#include "tls/tlsconn.h"
#include "tls/tlsfront.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/xalloc.h"

struct tls_group {
	char *name;
	SSL_CTX *ctx;
	int64_t not_after;
};

struct tls_front {
	struct tls_group *groups; /* [0] is the default */
	size_t ngroups;
};

static char *ssl_errors(const char *what, const char *path)
{
	char buf[256] = "";
	unsigned long e, last = 0;
	while ((e = ERR_get_error()))
		last = e; /* the innermost reason is pushed first; the last one is the summary */
	if (last)
		ERR_error_string_n(last, buf, sizeof(buf));
	return xasprintf("%s %s: %s", what, path, last ? buf : "unknown error");
}

int tls_front_new(struct tls_front **out, char **err)
{
	if (ossl_load_ssl(err) < 0)
		return -ENOPKG;
	*out = xcalloc(1, sizeof(**out));
	return 0;
}

void tls_front_free(struct tls_front *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->ngroups; i++) {
		free(f->groups[i].name);
		SSL_CTX_free(f->groups[i].ctx);
	}
	free(f->groups);
	free(f);
}

/* SNI: switch the connection to the first group whose certificate covers the name. */
static int on_servername(SSL *s, int *alert, void *arg)
{
	(void)alert;
	const struct tls_front *f = arg;
	const char *name = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
	if (!name || !*name)
		return SSL_TLSEXT_ERR_OK;
	for (size_t i = 0; i < f->ngroups; i++) {
		X509 *cert = SSL_CTX_get0_certificate(f->groups[i].ctx);
		if (cert && X509_check_host(cert, name, 0, 0, NULL) == 1) {
			if (i)
				SSL_set_SSL_CTX(s, f->groups[i].ctx);
			return SSL_TLSEXT_ERR_OK;
		}
	}
	return SSL_TLSEXT_ERR_OK; /* the default certificate; the client decides */
}

static int on_alpn(SSL *s, const unsigned char **out, unsigned char *outlen,
		   const unsigned char *in, unsigned inlen, void *arg)
{
	(void)s;
	(void)arg;
	static const unsigned char ours[] = "\x08http/1.1";
	unsigned char *sel;
	if (SSL_select_next_proto(&sel, outlen, ours, sizeof(ours) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK; /* no ALPN agreed: carry on without it */
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static int64_t not_after_of(SSL_CTX *ctx)
{
	X509 *cert = SSL_CTX_get0_certificate(ctx);
	struct tm tm;
	if (!cert || ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1)
		return -1;
	return (int64_t)timegm(&tm);
}

static SSL_CTX *new_ctx(struct tls_front *f, const char *cert, const char *key, char **err)
{
	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		*err = ssl_errors("cannot make a TLS context for", cert);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		*err = ssl_errors("cannot load the certificate", cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		*err = ssl_errors("cannot load the key", key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*err = ssl_errors("the key does not match the certificate", cert);
		goto fail;
	}
	SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
	SSL_CTX_set_tlsext_servername_arg(ctx, f);
	SSL_CTX_set_alpn_select_cb(ctx, on_alpn, NULL);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int tls_front_set(struct tls_front *f, const char *name, const char *cert, const char *key,
		  char **err)
{
	SSL_CTX *ctx = new_ctx(f, cert, key, err);
	if (!ctx)
		return -EINVAL;
	for (size_t i = 0; i < f->ngroups; i++) {
		if (strcmp(f->groups[i].name, name) == 0) {
			SSL_CTX_free(f->groups[i].ctx); /* live connections keep their reference */
			f->groups[i].ctx = ctx;
			f->groups[i].not_after = not_after_of(ctx);
			return 0;
		}
	}
	f->groups = xrealloc(f->groups, (f->ngroups + 1) * sizeof(*f->groups));
	f->groups[f->ngroups++] = (struct tls_group){
		.name = xstrdup(name), .ctx = ctx, .not_after = not_after_of(ctx)};
	return 0;
}

int64_t tls_front_not_after(const struct tls_front *f, const char *name)
{
	for (size_t i = 0; i < f->ngroups; i++)
		if (strcmp(f->groups[i].name, name) == 0)
			return f->groups[i].not_after;
	return -1;
}

int tls_conn_init(struct conn *c, int fd, struct tls_front *f, char **err)
{
	if (!f->ngroups) {
		close(fd);
		*err = xstrdup("no certificate to serve TLS with");
		return -EINVAL;
	}
	ERR_clear_error();
	SSL *s = SSL_new(f->groups[0].ctx);
	if (!s || SSL_set_fd(s, fd) != 1) {
		*err = ssl_errors("cannot start TLS on", "a connection");
		SSL_free(s);
		close(fd);
		return -ENOMEM;
	}
	SSL_set_accept_state(s);
	c->ops = &tls_conn_strict_ops;
	c->fd = fd;
	c->ctx = s;
	c->want = 0;
	return 0;
}
