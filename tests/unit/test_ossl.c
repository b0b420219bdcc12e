/* Unit tests for the on-demand libcrypto loader (ossl.c) and how certcheck reports a load
 * failure. The failure paths run first, against a library name that does not exist and a real
 * library without OpenSSL's functions (cmocka's own); then the real library loads and a pair
 * made by the `openssl` command line checks fine. This binary is not linked with libcrypto:
 * the successful load is a real dlopen() from scratch, as in baton. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls/certcheck.h"
#include "tls/ossl.h"
#include "util/xalloc.h"

#define MISSING "libbaton-test-no-such-crypto.so.0"
#define PREFIX "certificate checks need OpenSSL's libcrypto ("

static char dir[] = "/tmp/baton-ossl-XXXXXX";
static bool have_dir;

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	have_dir = true;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (!have_dir)
		return 0;
	char *cmd = xasprintf("rm -rf '%s'", dir);
	int rc = system(cmd);
	free(cmd);
	return rc == 0 ? 0 : -1;
}

/* certcheck_pair() on tls.crt + tls.key in dir (they need not exist). */
static int check(struct certcheck_result *r)
{
	const char *hosts[] = {"localhost", NULL};
	struct certcheck_opts o = {
		.cert = "tls.crt", .key = "tls.key", .root = dir, .hostnames = hosts};
	return certcheck_pair(&o, r);
}

/* A load failure is the checker's ordinary error: one problem, its own kind, not retried as a
 * pair caught mid-update, nothing parsed. */
static void expect_check_fails(const char *why)
{
	struct certcheck_result r;
	assert_int_equal(check(&r), -ELIBACC);
	assert_false(r.ok);
	assert_int_equal(r.kind, CERT_NO_LIBCRYPTO);
	assert_string_equal(certcheck_kind_name(r.kind), "no-libcrypto");
	assert_int_equal(r.problems.n, 1);
	assert_ptr_equal(r.msg, r.problems.v[0]);
	assert_true(strncmp(r.msg, "\"tls.crt\": " PREFIX, strlen("\"tls.crt\": " PREFIX)) == 0);
	if (!strstr(r.msg, why))
		fail_msg("%s\n  does not say: %s", r.msg, why);
	assert_false(certcheck_mismatch_is_transient(&r));
	assert_false(r.have_leaf);
	assert_false(r.have_content);
	assert_null(r.warning);
	certcheck_result_release(&r);
}

static void test_missing_library(void **state)
{
	(void)state;
	ossl_set_soname(MISSING);
	char *err = NULL;
	assert_int_equal(ossl_load(&err), -1);
	assert_non_null(err);
	/* what to install, then dlerror()'s own words */
	const char *want = PREFIX MISSING ", Debian package libssl3): " MISSING
					  ": cannot open shared object file";
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("got:    %s\nwanted: %s...", err, want);
	free(err);
	/* not remembered: the next call tries again and fails the same way */
	err = NULL;
	assert_int_equal(ossl_load(&err), -1);
	assert_non_null(err);
	free(err);
	expect_check_fails(MISSING ": cannot open shared object file");
}

static void test_library_without_the_functions(void **state)
{
	(void)state;
	ossl_set_soname("libcmocka.so.0"); /* loaded (this binary links it), no OpenSSL in it */
	char *err = NULL;
	assert_int_equal(ossl_load(&err), -1);
	assert_non_null(err);
	if (!strstr(err, "libcmocka.so.0, Debian package libssl3): ") ||
	    !strstr(err, "undefined symbol: ASN1_INTEGER_to_BN"))
		fail_msg("%s", err);
	free(err);
	expect_check_fails("undefined symbol: ASN1_INTEGER_to_BN");
}

static void test_real_library_after_failures(void **state)
{
	(void)state;
	ossl_set_soname(NULL);
	char *err = NULL;
	if (ossl_load(&err) != 0)
		fail_msg("%s", err);
	assert_null(err);
	assert_int_equal(ossl_load(&err), 0); /* idempotent */
	ossl_set_soname(MISSING);	      /* no effect once loaded */
	assert_int_equal(ossl_load(&err), 0);
	assert_null(err);

	/* the checker gets past the loader: a missing file is an I/O problem */
	struct certcheck_result r;
	assert_int_equal(check(&r), -ENOENT);
	assert_int_equal(r.kind, CERT_IO);
	certcheck_result_release(&r);

	if (system("command -v openssl >/dev/null 2>&1") != 0)
		skip();
	char *cmd =
		xasprintf("cd '%s' && openssl req -x509 -newkey ec -pkeyopt "
			  "ec_paramgen_curve:P-256 -nodes -keyout tls.key -out tls.crt -days 30 "
			  "-subj /CN=localhost -addext subjectAltName=DNS:localhost "
			  ">gen.log 2>&1",
			  dir);
	int rc = system(cmd);
	free(cmd);
	assert_int_equal(rc, 0);
	rc = check(&r);
	if (rc != 0)
		fail_msg("%s", r.msg);
	assert_true(r.ok);
	assert_true(r.have_leaf);
	assert_true(r.have_content);
	assert_int_equal(strlen(r.sha256), 64);
	certcheck_result_release(&r);
}

int main(void)
{
	/* in this order: a successful load is final */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_library),
		cmocka_unit_test(test_library_without_the_functions),
		cmocka_unit_test(test_real_library_after_failures),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
