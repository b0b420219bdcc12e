/* Unit tests for tls/tlsclient: the TLS client under a struct conn against baton's own TLS
 * server (tlsfront) on a socketpair — a verified exchange by name and by IP address, a name or
 * an address the certificate does not cover, a CA that did not sign it, a server that goes
 * away mid-handshake, and the context's errors (a missing CA, a client key that is not the
 * certificate's). libssl comes through tls/ossl.c only: this binary does not link OpenSSL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/conn.h"
#include "testutil.h"
#include "tlsfixture.h"
#include "tls/tlsclient.h"
#include "tls/tlsfront.h"

static struct tu_certs certs;

static int setup(void **state)
{
	(void)state;
	return tu_certs_make(&certs, "tlsclient",
			     "mk srv srv.test DNS:srv.test,IP:127.0.0.1; mk other other.test; "
			     "mk cli cli");
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

static struct tls_front *server(void)
{
	struct tls_front *f = NULL;
	char *err = NULL;
	assert_int_equal(tls_front_new(&f, &err), 0);
	assert_int_equal(tls_front_set(f, "srv", path("srv.crt"), path("srv.key"), &err), 0);
	return f;
}

static struct tls_client *client(const char *ca)
{
	char *err = NULL;
	struct tls_client *t = tls_client_new("TLS to the test", ca, NULL, NULL, &err);
	if (!t)
		fail_msg("%s", err);
	return t;
}

struct pair {
	struct conn cli, srv;
};

/* Connect a client verifying host to f's default certificate on a socketpair, and drive the
 * handshake: the server's side runs in its reads (here and in the exchange that follows). 0
 * once the client is through, or its -errno with its message in *err. */
static int connect_pair(struct pair *p, struct tls_front *f, struct tls_client *t, const char *host,
			char **err)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(tls_conn_init(&p->srv, sv[0], f, err), 0);
	conn_sock_init(&p->cli, sv[1]);
	assert_int_equal(tls_client_conn_init(&p->cli, t, host, err), 0);
	for (int i = 0; i < 100; i++) {
		bool want_write = true;
		int rc = tls_client_handshake(&p->cli, &want_write, err);
		if (rc != -EAGAIN)
			return rc;
		assert_false(want_write); /* a socketpair has room for a handshake */
		char b;
		assert_int_equal(conn_read(&p->srv, &b, 0), -EAGAIN);
	}
	fail_msg("the handshake did not finish");
	return -ETIMEDOUT;
}

static void close_pair(struct pair *p)
{
	conn_close(&p->cli, false);
	conn_close(&p->srv, false);
}

/* Read from c until bytes come (the peer wrote them already: a bounded number of tries). */
static ssize_t read_some(struct conn *c, char *buf, size_t len)
{
	ssize_t n = -EAGAIN;
	for (int i = 0; i < 50 && n == -EAGAIN; i++)
		n = conn_read(c, buf, len);
	return n;
}

static void test_verified_exchange_by_name_and_address(void **state)
{
	(void)state;
	if (!certs.have_openssl)
		skip();
	int fds = tu_count_fds();
	struct tls_front *f = server();
	struct tls_client *t = client(path("srv.crt"));
	const char *hosts[] = {"srv.test", "127.0.0.1"};
	for (size_t i = 0; i < 2; i++) {
		struct pair p;
		char *err = NULL;
		assert_int_equal(connect_pair(&p, f, t, hosts[i], &err), 0);
		assert_null(err);
		assert_int_equal(conn_write(&p.cli, "ping", 4), 4);
		char buf[16];
		assert_int_equal(read_some(&p.srv, buf, sizeof(buf)), 4);
		assert_memory_equal(buf, "ping", 4);
		assert_int_equal(conn_write(&p.srv, "pong!", 5), 5);
		assert_int_equal(read_some(&p.cli, buf, sizeof(buf)), 5);
		assert_memory_equal(buf, "pong!", 5);
		assert_int_equal(conn_write(&p.cli, "", 0), 0);
		assert_int_equal(conn_splice_fd(&p.cli), -EOPNOTSUPP);
		/* the client's close_notify and half-close: the server reads the end */
		assert_int_equal(conn_shutdown(&p.cli), 0);
		assert_int_equal(read_some(&p.srv, buf, sizeof(buf)), 0);
		close_pair(&p);
		assert_int_equal(p.cli.fd, -1);
	}
	tls_client_free(t);
	tls_front_free(f);
	assert_int_equal(tu_count_fds(), fds);
}

static void expect_refused(struct tls_front *f, struct tls_client *t, const char *host,
			   const char *want)
{
	struct pair p;
	char *err = NULL;
	assert_int_equal(connect_pair(&p, f, t, host, &err), -EPROTO);
	print_message("%s: %s\n", host, err);
	assert_string_equal(err, want);
	free(err);
	close_pair(&p);
}

static void test_name_address_or_ca_not_matching_is_refused(void **state)
{
	(void)state;
	if (!certs.have_openssl)
		skip();
	int fds = tu_count_fds();
	struct tls_front *f = server();
	struct tls_client *t = client(path("srv.crt"));
	expect_refused(f, t, "other.test", "TLS: certificate verify failed: hostname mismatch");
	expect_refused(f, t, "127.0.0.2", "TLS: certificate verify failed: IP address mismatch");
	expect_refused(f, t, "::1", "TLS: certificate verify failed: IP address mismatch");
	tls_client_free(t);
	t = client(path("other.crt")); /* a CA that did not sign srv.crt */
	expect_refused(f, t, "srv.test", "TLS: certificate verify failed: self-signed certificate");
	tls_client_free(t);
	tls_front_free(f);
	assert_int_equal(tu_count_fds(), fds);
}

/* A client connection on a socketpair (the server's end in sv[1]) whose ClientHello is out. */
static void start_handshake(struct conn *c, struct tls_client *t, int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	conn_sock_init(c, sv[0]);
	char *err = NULL;
	assert_int_equal(tls_client_conn_init(c, t, "srv.test", &err), 0);
	bool want_write = true;
	assert_int_equal(tls_client_handshake(c, &want_write, &err), -EAGAIN);
	assert_false(want_write); /* the ClientHello is out; waiting for the server */
}

static void test_server_gone_mid_handshake(void **state)
{
	(void)state;
	if (!certs.have_openssl)
		skip();
	int fds = tu_count_fds();
	struct tls_client *t = client(path("srv.crt"));
	int sv[2];
	struct conn c;
	start_handshake(&c, t, sv);
	char *err = NULL;
	bool want_write = false;
	char hello[4096];
	assert_true(read(sv[1], hello, sizeof(hello)) > 0);
	close(sv[1]);
	assert_int_equal(tls_client_handshake(&c, &want_write, &err), -EPROTO);
	print_message("%s\n", err); /* OpenSSL 3 says so itself */
	assert_true(strncmp(err, "TLS handshake failed: ", 22) == 0);
	assert_non_null(strstr(err, "unexpected eof while reading"));
	free(err);
	conn_close(&c, false);

	/* closed with the ClientHello unread: a reset */
	start_handshake(&c, t, sv);
	close(sv[1]);
	assert_int_equal(tls_client_handshake(&c, &want_write, &err), -EPROTO);
	assert_string_equal(err, "TLS handshake: Connection reset by peer");
	free(err);
	conn_close(&c, false);
	tls_client_free(t);
	assert_int_equal(tu_count_fds(), fds);
}

/* tls_client_new(ca, cert, key) fails, saying `what "file": ` and OpenSSL's reason. */
static void expect_context_error(const char *ca, const char *cert, const char *key,
				 const char *what, const char *file)
{
	char *err = NULL;
	assert_null(tls_client_new("TLS to the test", ca, cert, key, &err));
	print_message("%s\n", err);
	char want[400];
	snprintf(want, sizeof(want), "%s \"%s\": ", what, file);
	assert_true(strncmp(err, want, strlen(want)) == 0);
	free(err);
}

static void test_context_errors(void **state)
{
	(void)state;
	if (!certs.have_openssl)
		skip();
	expect_context_error(path("missing.pem"), NULL, NULL, "cannot load the CA",
			     path("missing.pem"));
	expect_context_error(path("srv.crt"), path("missing.crt"), path("cli.key"),
			     "cannot load the client certificate", path("missing.crt"));
	expect_context_error(path("srv.crt"), path("cli.crt"), path("other.key"),
			     "cannot use the client key", path("other.key"));
	char *err = NULL;
	/* a matching client pair, and the system's trust store */
	struct tls_client *t = tls_client_new("TLS to the test", path("srv.crt"), path("cli.crt"),
					      path("cli.key"), &err);
	assert_non_null(t);
	tls_client_free(t);
	t = tls_client_new("TLS to the test", NULL, NULL, NULL, &err);
	assert_non_null(t);
	tls_client_free(t);
	tls_client_free(NULL);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* as sig_new() does in baton: libssl writes with write(2) */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verified_exchange_by_name_and_address),
		cmocka_unit_test(test_name_address_or_ca_not_matching_is_refused),
		cmocka_unit_test(test_server_gone_mid_handshake),
		cmocka_unit_test(test_context_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
