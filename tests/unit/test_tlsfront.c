/* Unit tests for tls/tlsfront: TLS termination under a struct conn — the handshake, SNI among
 * groups, ALPN, a live certificate swap that keeps existing connections, a rejected swap, and
 * garbage or an abrupt close from the client. The client side is OpenSSL linked directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/conn.h"
#include "tls/tlsfront.h"
#include "tlsfixture.h"

static struct tu_certs certs;

static int setup(void **state)
{
	(void)state;
	return tu_certs_make(&certs, "tlsfront",
			     "mk a a.test; mk a2 a.test; mk b b.test; mk other c.test");
}

static int teardown(void **state)
{
	(void)state;
	return tu_certs_remove(&certs);
}

static const char *path(const char *name)
{
	return tu_certs_path(&certs, name);
}

struct pair {
	struct conn server;
	SSL_CTX *cctx;
	SSL *client;
	int cfd;
};

/* A client (SNI name, ALPN list) and a server connection on a socketpair, handshaken. Returns
 * the server's handshake result: 0, or the -errno its read said. */
static int connect_pair(struct pair *p, struct tls_front *f, const char *sni, bool alpn)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	char *err = NULL;
	assert_int_equal(tls_conn_init(&p->server, sv[0], f, &err), 0);
	p->cfd = sv[1];
	p->cctx = SSL_CTX_new(TLS_client_method());
	p->client = SSL_new(p->cctx);
	SSL_set_fd(p->client, sv[1]);
	if (sni)
		SSL_set_tlsext_host_name(p->client, sni);
	if (alpn)
		SSL_set_alpn_protos(p->client, (const unsigned char *)"\x02h2\x08http/1.1", 12);
	SSL_set_connect_state(p->client);
	bool cdone = false;
	for (int i = 0; i < 100; i++) {
		if (!cdone) {
			int r = SSL_do_handshake(p->client);
			if (r == 1)
				cdone = true;
			else if (SSL_get_error(p->client, r) != SSL_ERROR_WANT_READ)
				return -EPROTO;
		}
		char b;
		ssize_t n = conn_read(&p->server, &b, 0);
		if (n < 0 && n != -EAGAIN)
			return (int)n;
		if (cdone && n == 0)
			return 0;
	}
	return cdone ? 0 : -ETIMEDOUT;
}

static void close_pair(struct pair *p)
{
	conn_close(&p->server, false);
	SSL_free(p->client);
	SSL_CTX_free(p->cctx);
	close(p->cfd);
}

static char *peer_cn(SSL *s)
{
	static char cn[64];
	X509 *x = SSL_get1_peer_certificate(s);
	assert_non_null(x);
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
	X509_free(x);
	return cn;
}

static long peer_serial_hash(SSL *s)
{
	X509 *x = SSL_get1_peer_certificate(s);
	unsigned char md[32];
	unsigned len = 0;
	X509_digest(x, EVP_sha256(), md, &len);
	X509_free(x);
	long h = 0;
	memcpy(&h, md, sizeof(h));
	return h;
}

/* Bytes both ways through the pair. */
static void exchange(struct pair *p)
{
	assert_int_equal(SSL_write(p->client, "hello", 5), 5);
	char buf[16];
	ssize_t n = -EAGAIN;
	for (int i = 0; i < 50 && n == -EAGAIN; i++)
		n = conn_read(&p->server, buf, sizeof(buf));
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(conn_write(&p->server, "world", 5), 5);
	assert_int_equal(SSL_read(p->client, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "world", 5);
}

static struct tls_front *front_ab(void)
{
	struct tls_front *f = NULL;
	char *err = NULL;
	assert_int_equal(tls_front_new(&f, &err), 0);
	assert_int_equal(tls_front_set(f, "a", path("a.crt"), path("a.key"), &err), 0);
	assert_int_equal(tls_front_set(f, "b", path("b.crt"), path("b.key"), &err), 0);
	return f;
}

static void test_handshake_sni_alpn(void **state)
{
	(void)state;
	if (!certs.have_openssl)
		skip();
	struct tls_front *f = front_ab();
	struct pair p;
	assert_int_equal(connect_pair(&p, f, "b.test", true), 0);
	assert_string_equal(peer_cn(p.client), "b.test");
	const unsigned char *proto;
	unsigned plen;
	SSL_get0_alpn_selected(p.client, &proto, &plen);
	assert_int_equal(plen, 8);
	assert_memory_equal(proto, "http/1.1", 8);
	exchange(&p);
	close_pair(&p);
	/* no SNI, or a name no group covers: the first group */
	assert_int_equal(connect_pair(&p, f, NULL, false), 0);
	assert_string_equal(peer_cn(p.client), "a.test");
	close_pair(&p);
	assert_int_equal(connect_pair(&p, f, "zzz.test", false), 0);
	assert_string_equal(peer_cn(p.client), "a.test");
	close_pair(&p);
	assert_true(tls_front_not_after(f, "a") > 0);
	assert_int_equal(tls_front_not_after(f, "nope"), -1);
	tls_front_free(f);
}

static void test_live_swap_keeps_connections(void **state)
{
	(void)state;
	if (!certs.have_openssl)
		skip();
	struct tls_front *f = front_ab();
	struct pair before, after;
	assert_int_equal(connect_pair(&before, f, "a.test", false), 0);
	long old = peer_serial_hash(before.client);
	char *err = NULL;
	assert_int_equal(tls_front_set(f, "a", path("a2.crt"), path("a2.key"), &err), 0);
	assert_int_equal(connect_pair(&after, f, "a.test", false), 0);
	assert_true(peer_serial_hash(after.client) != old);
	exchange(&before); /* the connection made before the swap goes on */
	exchange(&after);
	close_pair(&before);
	close_pair(&after);

	/* a mismatched pair is refused and the group keeps its certificate */
	long cur = 0;
	assert_int_equal(connect_pair(&after, f, "a.test", false), 0);
	cur = peer_serial_hash(after.client);
	close_pair(&after);
	assert_int_equal(tls_front_set(f, "a", path("a.crt"), path("b.key"), &err), -EINVAL);
	print_message("%s\n", err);
	assert_non_null(strstr(err, "key values mismatch"));
	free(err);
	err = NULL;
	assert_int_equal(tls_front_set(f, "a", path("missing.crt"), path("a.key"), &err), -EINVAL);
	assert_non_null(strstr(err, "missing.crt"));
	free(err);
	assert_int_equal(connect_pair(&after, f, "a.test", false), 0);
	assert_true(peer_serial_hash(after.client) == cur);
	close_pair(&after);
	tls_front_free(f);
}

static void test_garbage_and_abrupt_close(void **state)
{
	(void)state;
	if (!certs.have_openssl)
		skip();
	struct tls_front *f = front_ab();
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	struct conn c;
	char *err = NULL;
	assert_int_equal(tls_conn_init(&c, sv[0], f, &err), 0);
	const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	assert_int_equal(write(sv[1], junk, sizeof(junk) - 1), (ssize_t)sizeof(junk) - 1);
	char buf[64];
	ssize_t n = conn_read(&c, buf, sizeof(buf));
	assert_true(n < 0 && n != -EAGAIN);
	conn_close(&c, true);
	close(sv[1]);

	/* the client goes away mid-handshake */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(tls_conn_init(&c, sv[0], f, &err), 0);
	assert_int_equal(conn_read(&c, buf, sizeof(buf)), -EAGAIN);
	assert_int_equal(c.want, 0);
	close(sv[1]);
	n = conn_read(&c, buf, sizeof(buf));
	assert_true(n <= 0 && n != -EAGAIN);
	assert_int_equal(conn_splice_fd(&c), -EOPNOTSUPP);
	conn_close(&c, false);

	/* a set with no certificate cannot serve */
	struct tls_front *empty = NULL;
	assert_int_equal(tls_front_new(&empty, &err), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(tls_conn_init(&c, sv[0], empty, &err), -EINVAL);
	free(err);
	close(sv[1]);
	tls_front_free(empty);
	tls_front_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_sni_alpn),
		cmocka_unit_test(test_live_swap_keeps_connections),
		cmocka_unit_test(test_garbage_and_abrupt_close),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
