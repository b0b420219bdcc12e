/* Unit tests for listen_addr, the listener address parser shared by config and the runtime, and
 * http_endpoint, the HTTP endpoints of [[source]] (config and the etcd client). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "net/http_endpoint.h"
#include "net/listen_addr.h"

static struct listen_addr ok(const char *s)
{
	struct listen_addr a;
	char *why = NULL;
	int r = listen_addr_parse(s, &a, &why);
	if (r != 0)
		fail_msg("'%s' rejected: %s", s, why);
	assert_null(why);
	return a;
}

/* The reason s was refused (valid until the next call). */
static const char *bad(const char *s)
{
	static char reason[256];
	struct listen_addr a;
	char *why = NULL;
	if (listen_addr_parse(s, &a, &why) == 0)
		fail_msg("'%s' accepted", s);
	assert_non_null(why);
	snprintf(reason, sizeof(reason), "%s", why);
	free(why);
	/* the reason is optional */
	assert_int_equal(listen_addr_parse(s, &a, NULL), -EINVAL);
	return reason;
}

static void test_tcp(void **state)
{
	(void)state;
	struct listen_addr a = ok(":8080");
	assert_int_equal(a.family, LISTEN_ADDR_TCP);
	assert_string_equal(a.host, "");
	assert_int_equal(a.port, 8080);
	assert_true(listen_addr_is_any(&a));

	a = ok("127.0.0.1:80");
	assert_string_equal(a.host, "127.0.0.1");
	assert_int_equal(a.port, 80);
	assert_false(a.host_v6);
	assert_false(listen_addr_is_any(&a));

	a = ok("localhost:65535");
	assert_string_equal(a.host, "localhost");
	assert_int_equal(a.port, 65535);

	a = ok("api-1.example.com:443");
	assert_string_equal(a.host, "api-1.example.com");

	a = ok(":0");
	assert_int_equal(a.port, 0);

	a = ok("0.0.0.0:9000");
	assert_true(listen_addr_is_any(&a));
}

static void test_ipv6(void **state)
{
	(void)state;
	struct listen_addr a = ok("[::1]:8080");
	assert_int_equal(a.family, LISTEN_ADDR_TCP);
	assert_string_equal(a.host, "::1");
	assert_true(a.host_v6);
	assert_int_equal(a.port, 8080);

	a = ok("[::]:443");
	assert_true(listen_addr_is_any(&a));

	a = ok("[fe80::1:2]:1");
	assert_string_equal(a.host, "fe80::1:2");
}

static void test_unix(void **state)
{
	(void)state;
	struct listen_addr a = ok("unix:/run/app.sock");
	assert_int_equal(a.family, LISTEN_ADDR_UNIX);
	assert_string_equal(a.path, "/run/app.sock");

	a = ok("unix:rel/app.sock");
	assert_int_equal(a.family, LISTEN_ADDR_UNIX);
	assert_string_equal(a.path, "rel/app.sock");

	a = ok("unix:@baton-test");
	assert_int_equal(a.family, LISTEN_ADDR_ABSTRACT);
	assert_string_equal(a.path, "baton-test");

	char longp[200] = "unix:/";
	memset(longp + 6, 'x', 106);
	longp[112] = '\0'; /* a 107-byte path fits sun_path with its NUL */
	a = ok(longp);
	assert_int_equal(strlen(a.path), 107);
	longp[112] = 'x';
	longp[113] = '\0';
	assert_string_equal(bad(longp), "socket path too long (at most 107 bytes)");
}

static void test_bad(void **state)
{
	(void)state;
	assert_string_equal(bad(""), "empty address");
	assert_string_equal(bad("8080"), "missing ':' before the port (write ':PORT')");
	assert_string_equal(bad("localhost"),
			    "missing port (write 'host:PORT', ':PORT' or 'unix:/path')");
	assert_string_equal(bad(":"), "missing port after ':'");
	assert_string_equal(bad(":65536"), "port out of range (0..65535)");
	assert_string_equal(bad(":123456"), "port out of range (0..65535)");
	assert_string_equal(bad(":http"), "the port must be a number from 0 to 65535");
	assert_string_equal(bad(":-1"), "the port must be a number from 0 to 65535");
	assert_string_equal(bad("::1:8080"), "an IPv6 address needs brackets: '[::1]:PORT'");
	assert_string_equal(bad("[::1]"), "missing ':PORT' after ']'");
	assert_string_equal(bad("[::1:8080"), "missing ']' after an IPv6 address");
	assert_string_equal(bad("[zz::1]:80"), "invalid IPv6 address");
	assert_string_equal(bad("[]:80"), "invalid IPv6 address");
	assert_string_equal(bad("999.1.1.1:80"), "invalid IPv4 address");
	assert_string_equal(bad("bad_host:80"), "invalid character in host name");
	assert_string_equal(bad("-x.com:80"), "invalid host name");
	assert_string_equal(bad("a..b:80"), "invalid host name");
	assert_string_equal(bad("*:80"), "write ':PORT' (empty host) to listen on every address");
	assert_string_equal(bad("http://x:80"), "no scheme: write 'host:port' or 'unix:/path'");
	assert_string_equal(bad(" :80"), "addresses contain no spaces");
	assert_string_equal(bad("unix:"), "empty socket path after 'unix:'");
	assert_string_equal(bad("unix:@"), "empty abstract socket name after 'unix:@'");
}

static void test_format(void **state)
{
	(void)state;
	const char *in[] = {":8080", "127.0.0.1:80", "[::1]:8080", "unix:/a.sock", "unix:@n"};
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		struct listen_addr a = ok(in[i]);
		char out[256];
		assert_int_equal(listen_addr_format(&a, out, sizeof(out)), (int)strlen(in[i]));
		assert_string_equal(out, in[i]);
	}
}

static bool conflict(const char *x, const char *y)
{
	struct listen_addr a = ok(x), b = ok(y);
	bool r = listen_addr_conflict(&a, &b);
	assert_int_equal(r, listen_addr_conflict(&b, &a));
	return r;
}

static void test_conflict(void **state)
{
	(void)state;
	assert_true(conflict(":8080", ":8080"));
	assert_true(conflict(":8080", "127.0.0.1:8080"));
	assert_true(conflict("0.0.0.0:8080", "127.0.0.1:8080"));
	assert_true(conflict("[::]:8080", "[::1]:8080"));
	assert_true(conflict(":8080", "[::1]:8080"));
	assert_true(conflict("unix:/a", "unix:/a"));
	assert_true(conflict("unix:@a", "unix:@a"));
	assert_false(conflict("0.0.0.0:8080", "[::1]:8080"));
	assert_false(conflict("127.0.0.1:8080", "127.0.0.2:8080"));
	assert_false(conflict(":8080", ":8081"));
	assert_false(conflict(":0", ":0"));
	assert_false(conflict("unix:/a", "unix:@a"));
	assert_false(conflict("unix:/a", "unix:/b"));
}

static void test_http_endpoint(void **state)
{
	(void)state;
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	bool tls = true;
	char host[64];
	assert_int_equal(
		http_endpoint_parse("http://127.0.0.1:2379", &ss, &sl, &tls, host, sizeof(host)),
		0);
	assert_false(tls);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(sl, sizeof(struct sockaddr_in));
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 2379);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(
		http_endpoint_parse("https://[::1]:443", &ss, &sl, &tls, host, sizeof(host)), 0);
	assert_true(tls);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_string_equal(host, "::1");
	assert_int_equal(
		http_endpoint_parse("http://localhost:1", &ss, &sl, &tls, host, sizeof(host)), 0);
	assert_string_equal(host, "localhost"); /* for TLS verification; the address is 127.0.0.1 */
	assert_int_equal(((struct sockaddr_in *)&ss)->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	static const char *const bad[] = {
		"127.0.0.1:2379",	  "ftp://127.0.0.1:1",	    "http://127.0.0.1",
		"http://127.0.0.1:0",	  "http://127.0.0.1:65536", "http://127.0.0.1:1x",
		"http://etcd.local:2379", "http://::1:2379",	    "http://[::1]2379",
		"http://[127.0.0.1]:1",	  "http://[::1:1",	    "http://:2379",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (http_endpoint_parse(bad[i], &ss, &sl, &tls, NULL, 0) != -EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp),	      cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_unix),	      cmocka_unit_test(test_bad),
		cmocka_unit_test(test_format),	      cmocka_unit_test(test_conflict),
		cmocka_unit_test(test_http_endpoint),
	};
	return cmocka_run_group_tests_name("listen_addr", tests, NULL, NULL);
}
