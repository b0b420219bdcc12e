/* Unit tests for certificate validation. Every fixture is made by the `openssl` command line in
 * a fresh temporary directory when the suite starts (no private key is committed); dates far
 * from today come from `openssl ca -startdate/-enddate`, and the injectable `now` moves the
 * clock where that is simpler. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "tls/certcheck.h"
#include "util/fileio.h"
#include "util/xalloc.h"

#include "tlsfixture.h"

static struct tu_certs certs;

/* clang-format off */
static const char fixtures[] =
	"ec() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:${CURVE:-P-256} -nodes "
	"  -keyout $1.key -out $1.crt -days ${DAYS:-90} -subj \"/CN=${CN:-example.com}\" $2; }\n"
	"san() { echo \"-addext subjectAltName=$1\"; }\n"
	/* RSA and ECDSA pairs (the RSA one with a known serial), Ed25519, a P-384 key */
	"openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.crt -days 90 "
	"  -subj /CN=example.com -set_serial 0x1234ABCD "
	"  -addext subjectAltName=DNS:example.com,DNS:www.example.com\n"
	"ec ec \"$(san DNS:example.com,DNS:www.example.com)\"\n"
	"ec ec2 \"$(san DNS:example.com)\"\n"
	"CURVE=P-384 ec p384 \"$(san DNS:example.com)\"\n"
	"openssl req -x509 -newkey ed25519 -nodes -keyout ed.key -out ed.crt -days 90 "
	"  -subj /CN=ed -addext subjectAltName=DNS:example.com\n"
	"DAYS=3 ec short \"$(san DNS:example.com)\"\n"
	"ec wild \"$(san DNS:*.example.com,IP:127.0.0.1,IP:::1)\"\n"
	"ec partial \"$(san DNS:f*.example.com,DNS:*.com)\"\n"
	"ec nosan\n"
	/* key encodings: PKCS#1, SEC1 (with its EC PARAMETERS block), encrypted PKCS#8 and
	 * traditional, a combined cert + key file, a public key, DER */
	"openssl pkey -in rsa.key -traditional -out rsa1.key\n"
	"openssl pkey -in ec.key -traditional -out sec1.key\n"
	"openssl ecparam -name prime256v1 -genkey -out ecparam.key\n"
	"openssl req -x509 -key ecparam.key -days 90 -subj /CN=p -addext "
	"  subjectAltName=DNS:example.com -out ecparam.crt\n"
	"openssl pkey -in ec.key -aes256 -passout pass:secret -out enc8.key\n"
	"openssl pkey -in rsa.key -traditional -aes128 -passout pass:secret -out enctrad.key\n"
	"cat ec.crt ec.key > combo.pem\n"
	"openssl pkey -in ec.key -pubout -out pub.key\n"
	"openssl x509 -in ec.crt -outform der -out der.crt\n"
	"cat ec.key ec2.key > two.key\n"
	/* broken files */
	": > empty.pem\n"
	"printf '\\n  \\n' > blank.pem\n"
	"head -c $(( $(wc -c < ec.crt) / 2 )) ec.crt > trunc.crt\n"
	"head -c $(( $(wc -c < ec.crt) - 10 )) ec.crt > trunc_end.crt\n"
	"{ cat ec.crt; echo garbage; } > garbage.crt\n"
	"sed 's/$/\\r/' ec.crt > crlf.crt\n"
	"head -c $(( $(wc -c < ec.key) - 1 )) ec.key > nonl.key\n"
	"sed '3s/^..../!!!!/' ec.crt > corrupt.crt\n"
	"sed '2s/^..../AAAA/' ec.crt > baddr.crt\n"
	"{ echo 'Bag Attributes'; echo '    localKeyID: 01'; cat ec.crt; echo; } > text.crt\n"
	"{ head -c $(( $(wc -c < ec.crt) / 2 )) ec.crt; echo; cat ec2.crt; } > spliced.crt\n"
	"sed 's/END CERTIFICATE/END X509 CRL/' ec.crt > wrongend.crt\n"
	"openssl req -new -key ec.key -subj /CN=example.com -out req.csr\n"
	/* a CA, an intermediate, a leaf under it: chain.crt is leaf + intermediate */
	"printf '[v3]\\nbasicConstraints=critical,CA:TRUE\\nkeyUsage=critical,keyCertSign,cRLSign\\n"
	"[leaf]\\nsubjectAltName=DNS:example.com,DNS:www.example.com\\n"
	"extendedKeyUsage=serverAuth\\n' > ext.cnf\n"
	"CN='Test Root' ec ca\n"
	"CN='Other Root' ec other\n"
	"openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout int.key "
	"  -out int.csr -subj '/CN=Test Intermediate'\n"
	"openssl x509 -req -in int.csr -CA ca.crt -CAkey ca.key -set_serial 2 -days 30 "
	"  -extfile ext.cnf -extensions v3 -out int.crt\n"
	"openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key "
	"  -out leaf.csr -subj /CN=example.com\n"
	"openssl x509 -req -in leaf.csr -CA int.crt -CAkey int.key -set_serial 3 -days 90 "
	"  -extfile ext.cnf -extensions leaf -out leaf.crt\n"
	"cat leaf.crt int.crt > chain.crt\n"
	"{ sed '2s/^..../AAAA/' leaf.crt; cat int.crt; } > badleaf.crt\n"
	/* dates far from today: openssl ca signs with any window */
	"printf '[ca]\\ndefault_ca=tca\\n[tca]\\ndatabase=index.txt\\nnew_certs_dir=.\\n"
	"serial=serial\\ndefault_md=sha256\\npolicy=pol\\ncopy_extensions=copy\\n"
	"unique_subject=no\\n[pol]\\ncommonName=supplied\\n' > ca.cnf\n"
	": > index.txt; echo 10 > serial\n"
	"dated() { openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	"  -keyout $1.key -out $1.csr -subj /CN=example.com -addext subjectAltName=DNS:example.com;"
	"  openssl ca -batch -config ca.cnf -selfsign -keyfile $1.key -in $1.csr -out $1.crt "
	"  -notext -startdate $2 -enddate $3; }\n"
	"dated old 20200101000000Z 20200201000000Z\n"
	"dated future 20990101000000Z 21000101000000Z\n"
	/* what openssl says, to compare with */
	"openssl x509 -in rsa.crt -noout -fingerprint -sha256 > rsa.fp\n";
/* clang-format on */

static int setup(void **state)
{
	(void)state;
	return tu_certs_make(&certs, "certcheck", fixtures);
}

static int teardown(void **state)
{
	(void)state;
	return tu_certs_remove(&certs);
}

/* Check cert + key with optional hostnames (NULL-terminated varargs) at now (0: real time). */
static int check_at(struct certcheck_result *r, const char *cert, const char *key, const char *ca,
		    time_t now, ...)
{
	const char *hosts[8] = {0};
	va_list ap;
	va_start(ap, now);
	for (int i = 0; i < 7; i++) {
		hosts[i] = va_arg(ap, const char *);
		if (!hosts[i])
			break;
	}
	va_end(ap);
	struct certcheck_opts o = {.cert = cert,
				   .key = key,
				   .root = certs.dir,
				   .hostnames = hosts,
				   .ca = ca,
				   .now = now};
	int rc = certcheck_pair(&o, r);
	assert_int_equal(ERR_peek_error(), 0); /* the OpenSSL error queue is left empty */
	return rc;
}

#define SKIP_WITHOUT_OPENSSL()                                                                     \
	do {                                                                                       \
		(void)state;                                                                       \
		if (!certs.have_openssl)                                                           \
			skip();                                                                    \
	} while (0)

static void expect_ok(const char *cert, const char *key, const char *host)
{
	struct certcheck_result r;
	int rc = check_at(&r, cert, key, NULL, 0, host, NULL);
	if (rc != 0)
		fail_msg("%s + %s: %s", cert, key, r.msg);
	assert_true(r.ok);
	assert_int_equal(r.kind, CERT_OK);
	assert_null(r.msg);
	assert_int_equal(r.problems.n, 0);
	assert_null(r.warning);
	assert_true(r.have_leaf);
	assert_true(r.have_content);
	certcheck_result_release(&r);
}

/* Expect exactly one problem of kind with message want (or containing it, when partial). */
static void expect_fail_at(const char *cert, const char *key, const char *ca, time_t now,
			   const char *host, enum certcheck_kind kind, const char *want,
			   bool partial)
{
	struct certcheck_result r;
	int rc = check_at(&r, cert, key, ca, now, host, NULL);
	assert_false(r.ok);
	if (r.kind != kind || r.problems.n != 1 ||
	    (partial ? !strstr(r.msg, want) : strcmp(r.msg, want) != 0))
		fail_msg("%s + %s: kind %s, %zu problems, first: %s\n  wanted %s: %s", cert, key,
			 certcheck_kind_name(r.kind), r.problems.n, r.msg,
			 certcheck_kind_name(kind), want);
	assert_int_equal(rc, kind == CERT_IO ? -r.err : -EINVAL);
	certcheck_result_release(&r);
}

static void expect_fail(const char *cert, const char *key, enum certcheck_kind kind,
			const char *want)
{
	expect_fail_at(cert, key, NULL, 0, NULL, kind, want, false);
}

static void test_good_pairs(void **state)
{
	SKIP_WITHOUT_OPENSSL();
	expect_ok("rsa.crt", "rsa.key", "example.com");
	expect_ok("ec.crt", "ec.key", "www.example.com");
	expect_ok("ed.crt", "ed.key", "example.com");
	expect_ok("rsa.crt", "rsa1.key", NULL);	       /* PKCS#1 */
	expect_ok("ec.crt", "sec1.key", NULL);	       /* SEC1 */
	expect_ok("ecparam.crt", "ecparam.key", NULL); /* EC PARAMETERS + EC PRIVATE KEY */
	expect_ok("combo.pem", "combo.pem", NULL);     /* cert and key in one file */
	expect_ok("crlf.crt", "nonl.key", NULL);       /* CRLF lines; no final newline */
	expect_ok("text.crt", "ec.key", NULL);	       /* explanatory text before the block */
	expect_ok("chain.crt", "leaf.key", "example.com");
}

static void test_leaf_facts(void **state)
{
	SKIP_WITHOUT_OPENSSL();
	struct certcheck_result r, r2;
	assert_int_equal(check_at(&r, "rsa.crt", "rsa.key", NULL, 0, NULL), 0);
	assert_string_equal(r.serial, "1234ABCD");
	/* "sha256 Fingerprint=AB:CD:..." as openssl prints it */
	char *path = xasprintf("%s/rsa.fp", certs.dir), *fp;
	size_t len;
	assert_int_equal(file_read_all(path, 4096, &fp, &len), 0);
	char want[65] = {0};
	size_t n = 0;
	for (const char *p = strchr(fp, '=') + 1; *p && n < 64; p++)
		if (*p != ':' && *p != '\n')
			want[n++] = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
	assert_string_equal(r.sha256, want);
	free(fp);
	free(path);
	time_t now = time(NULL);
	assert_true(r.not_before <= now + 60 && r.not_before >= now - 3600);
	assert_true(r.not_after - r.not_before == 90 * 86400);
	assert_int_equal(strlen(r.content_sha256), 64);

	/* same files, same content fingerprint; another key, another one */
	assert_int_equal(check_at(&r2, "rsa.crt", "rsa.key", NULL, 0, NULL), 0);
	assert_string_equal(r.content_sha256, r2.content_sha256);
	certcheck_result_release(&r2);
	assert_int_equal(check_at(&r2, "rsa.crt", "rsa1.key", NULL, 0, NULL), 0);
	assert_string_not_equal(r.content_sha256, r2.content_sha256);
	certcheck_result_release(&r2);
	/* still computed when the pair is rejected */
	assert_int_equal(check_at(&r2, "ec.crt", "rsa.key", NULL, 0, NULL), -EINVAL);
	assert_true(r2.have_content && r2.have_leaf);
	certcheck_result_release(&r2);
	certcheck_result_release(&r);
}

static void test_key_mismatch(void **state)
{
	SKIP_WITHOUT_OPENSSL();
	expect_fail("ec.crt", "ec2.key", CERT_KEY_MISMATCH,
		    "\"ec2.key\": the private key does not match the certificate (another ECDSA "
		    "P-256 key)");
	expect_fail("ec.crt", "rsa.key", CERT_KEY_MISMATCH,
		    "\"rsa.key\": the private key does not match the certificate (RSA key, ECDSA "
		    "certificate)");
	expect_fail("rsa.crt", "ec.key", CERT_KEY_MISMATCH,
		    "\"ec.key\": the private key does not match the certificate (ECDSA key, RSA "
		    "certificate)");
	expect_fail("ec.crt", "p384.key", CERT_KEY_MISMATCH,
		    "\"p384.key\": the private key does not match the certificate (ECDSA P-384 "
		    "key, ECDSA P-256 certificate)");
	expect_fail("ed.crt", "ec.key", CERT_KEY_MISMATCH,
		    "\"ec.key\": the private key does not match the certificate (ECDSA key, "
		    "Ed25519 certificate)");
	struct certcheck_result r;
	check_at(&r, "ec.crt", "ec2.key", NULL, 0, NULL);
	assert_true(certcheck_mismatch_is_transient(&r)); /* cert and key written separately */
	certcheck_result_release(&r);
}

static void test_validity_window(void **state)
{
	SKIP_WITHOUT_OPENSSL();
	struct certcheck_result r;
	assert_int_equal(check_at(&r, "ec.crt", "ec.key", NULL, 0, NULL), 0);
	time_t nb = r.not_before, na = r.not_after;
	certcheck_result_release(&r);
	char when[64], *want;
	struct tm tm;

	/* expired, with the clock moved */
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&na, &tm));
	want = xasprintf("\"ec.crt\": expired 3 days ago (notAfter %s)", when);
	expect_fail_at("ec.crt", "ec.key", NULL, na + 3 * 86400 + 5, NULL, CERT_EXPIRED, want,
		       false);
	free(want);
	/* notAfter is strict: the skew is for clocks behind the issuer, not for old certs */
	expect_fail_at("ec.crt", "ec.key", NULL, na, NULL, CERT_EXPIRED,
		       "\"ec.crt\": expired 0 seconds ago", true);

	/* not valid yet beyond the skew; within it, fine */
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&nb, &tm));
	want = xasprintf("\"ec.crt\": not valid yet: valid in 2 days (notBefore %s)", when);
	expect_fail_at("ec.crt", "ec.key", NULL, nb - 2 * 86400, NULL, CERT_NOT_YET_VALID, want,
		       false);
	free(want);
	expect_fail_at("ec.crt", "ec.key", NULL, nb - 6 * 60, NULL, CERT_NOT_YET_VALID,
		       "valid in 6 minutes", true);
	assert_int_equal(check_at(&r, "ec.crt", "ec.key", NULL, nb - 4 * 60, NULL), 0);
	certcheck_result_release(&r);
	struct certcheck_opts o = {.cert = "ec.crt",
				   .key = "ec.key",
				   .root = certs.dir,
				   .now = nb - 4 * 60,
				   .skew_ms = -1};
	assert_int_equal(certcheck_pair(&o, &r), -EINVAL); /* no tolerance at all */
	assert_int_equal(r.kind, CERT_NOT_YET_VALID);
	certcheck_result_release(&r);

	/* real dates: openssl ca made certificates for 2020 and 2099 */
	expect_fail_at("old.crt", "old.key", NULL, 0, NULL, CERT_EXPIRED,
		       "(notAfter 2020-02-01 00:00:00 UTC)", true);
	expect_fail_at("future.crt", "future.key", NULL, 0, NULL, CERT_NOT_YET_VALID,
		       "(notBefore 2099-01-01 00:00:00 UTC)", true);
	check_at(&r, "old.crt", "old.key", NULL, 0, NULL);
	assert_false(certcheck_mismatch_is_transient(&r));
	certcheck_result_release(&r);
}

static void test_expiring_soon_warns(void **state)
{
	SKIP_WITHOUT_OPENSSL();
	struct certcheck_result r;
	assert_int_equal(check_at(&r, "short.crt", "short.key", NULL, 0, NULL), 0);
	assert_true(r.ok);
	assert_non_null(r.warning);
	char when[64], *want;
	struct tm tm;
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&r.not_after, &tm));
	/* 3 days from generation, a moment ago (or within the same second) */
	want = xasprintf("\"short.crt\": expires in 2 days (notAfter %s)", when);
	char *want3 = xasprintf("\"short.crt\": expires in 3 days (notAfter %s)", when);
	if (strcmp(r.warning, want) != 0 && strcmp(r.warning, want3) != 0)
		fail_msg("warning: %s", r.warning);
	free(want3);
	free(want);
	time_t na = r.not_after;
	certcheck_result_release(&r);

	/* a 90-day certificate warns only in its last 7 days, or per min_validity */
	assert_int_equal(check_at(&r, "ec.crt", "ec.key", NULL, 0, NULL), 0);
	assert_null(r.warning);
	na = r.not_after;
	certcheck_result_release(&r);
	assert_int_equal(check_at(&r, "ec.crt", "ec.key", NULL, na - 6 * 86400, NULL), 0);
	assert_non_null(strstr(r.warning, "expires in 6 days"));
	certcheck_result_release(&r);
	struct certcheck_opts o = {.cert = "ec.crt",
				   .key = "ec.key",
				   .root = certs.dir,
				   .min_validity_ms = (int64_t)100 * 86400 * 1000};
	/* a fixed clock: with the real one this ran within the certificate's first
	 * second on a fast machine, and 90 days were left, not 89 */
	o.now = na - (89 * 86400 + 3600);
	assert_int_equal(certcheck_pair(&o, &r), 0);
	assert_non_null(strstr(r.warning, "expires in 89 days"));
	certcheck_result_release(&r);
	o.min_validity_ms = -1;
	o.now = na - 60;
	assert_int_equal(certcheck_pair(&o, &r), 0);
	assert_null(r.warning);
	certcheck_result_release(&r);
}

static void test_hostnames(void **state)
{
	SKIP_WITHOUT_OPENSSL();
	struct certcheck_result r;
	assert_int_equal(
		check_at(&r, "ec.crt", "ec.key", NULL, 0, "example.com", "WWW.Example.COM.", NULL),
		0);
	certcheck_result_release(&r);
	expect_fail_at("ec.crt", "ec.key", NULL, 0, "api.example.com", CERT_HOSTNAME,
		       "\"ec.crt\": does not cover \"api.example.com\" (SANs: example.com, "
		       "www.example.com)",
		       false);
	/* several names: one message listing the uncovered ones */
	assert_int_equal(check_at(&r, "ec.crt", "ec.key", NULL, 0, "a.example.com", "example.com",
				  "b.example.com", NULL),
			 -EINVAL);
	assert_int_equal(r.problems.n, 1);
	assert_string_equal(r.msg,
			    "\"ec.crt\": does not cover \"a.example.com\", \"b.example.com\" "
			    "(SANs: example.com, www.example.com)");
	certcheck_result_release(&r);

	/* wildcards: the whole left-most label, one label */
	assert_int_equal(check_at(&r, "wild.crt", "wild.key", NULL, 0, "api.example.com",
				  "WWW.EXAMPLE.COM", "*.example.com", NULL),
			 0);
	certcheck_result_release(&r);
	const char *no[] = {"example.com",  "a.b.example.com", "api.example.org",
			    ".example.com", "*.b.example.com", "10.0.0.1",
			    "::2"};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		expect_fail_at("wild.crt", "wild.key", NULL, 0, no[i], CERT_HOSTNAME,
			       "(SANs: *.example.com, 127.0.0.1, ::1)", true);
	/* partial wildcards and "*.com" cover nothing */
	expect_fail_at("partial.crt", "partial.key", NULL, 0, "foo.example.com", CERT_HOSTNAME,
		       "does not cover \"foo.example.com\"", true);
	expect_fail_at("partial.crt", "partial.key", NULL, 0, "example.com", CERT_HOSTNAME,
		       "does not cover \"example.com\"", true);

	/* IP literals match IP SANs only */
	assert_int_equal(check_at(&r, "wild.crt", "wild.key", NULL, 0, "127.0.0.1", "::1", "[::1]",
				  "0:0:0:0:0:0:0:1", NULL),
			 0);
	certcheck_result_release(&r);
	expect_fail_at("ec.crt", "ec.key", NULL, 0, "127.0.0.1", CERT_HOSTNAME,
		       "does not cover \"127.0.0.1\"", true);

	/* the common name is ignored: no SAN, rejected even without hostnames */
	expect_fail("nosan.crt", "nosan.key", CERT_HOSTNAME,
		    "\"nosan.crt\": no subject alternative names (the common name "
		    "\"example.com\" does not count: TLS clients ignore it)");
}

static void test_broken_files(void **state)
{
	SKIP_WITHOUT_OPENSSL();
	expect_fail("empty.pem", "ec.key", CERT_EMPTY, "\"empty.pem\": empty file");
	expect_fail("ec.crt", "blank.pem", CERT_EMPTY, "\"blank.pem\": empty file");
	expect_fail("trunc.crt", "ec.key", CERT_TRUNCATED,
		    "\"trunc.crt\": truncated: the CERTIFICATE block on line 1 has no END line");
	expect_fail(
		"trunc_end.crt", "ec.key", CERT_TRUNCATED,
		"\"trunc_end.crt\": truncated: the CERTIFICATE block on line 1 has no END line");
	expect_fail_at("spliced.crt", "ec.key", NULL, 0, NULL, CERT_TRUNCATED,
		       "has no END line (another block begins on line", true);
	expect_fail_at("garbage.crt", "ec.key", NULL, 0, NULL, CERT_BAD_PEM,
		       "\"garbage.crt\": unexpected text after the last PEM block (line", true);
	expect_fail("corrupt.crt", "ec.key", CERT_BAD_PEM,
		    "\"corrupt.crt\": the CERTIFICATE block on line 1 is corrupt (its base64 does "
		    "not decode)");
	expect_fail("baddr.crt", "ec.key", CERT_BAD_PEM,
		    "\"baddr.crt\": the CERTIFICATE block on line 1 does not parse as a "
		    "certificate");
	/* the intermediate after a broken leaf is not taken for the leaf */
	expect_fail("badleaf.crt", "leaf.key", CERT_BAD_PEM,
		    "\"badleaf.crt\": the CERTIFICATE block on line 1 does not parse as a "
		    "certificate");
	expect_fail_at("wrongend.crt", "ec.key", NULL, 0, NULL, CERT_BAD_PEM,
		       "\"-----END X509 CRL-----\" does not close \"-----BEGIN CERTIFICATE-----\" "
		       "(line 1)",
		       true);
	expect_fail_at("der.crt", "ec.key", NULL, 0, NULL, CERT_BAD_PEM,
		       "\"der.crt\": not PEM (it looks like DER", true);
	expect_fail("ec.crt", "req.csr", CERT_KEY_BAD,
		    "\"req.csr\": no private key (only a CERTIFICATE REQUEST block)");
	expect_fail("req.csr", "ec.key", CERT_NO_CERT,
		    "\"req.csr\": no certificate (only a CERTIFICATE REQUEST block)");
	expect_fail("nope.crt", "ec.key", CERT_IO,
		    "\"nope.crt\": cannot read: No such file or directory");
	expect_fail("ec.key", "ec.key", CERT_NO_CERT,
		    "\"ec.key\": no certificate (only a private key: are cert and key swapped?)");

	struct certcheck_result r;
	check_at(&r, "nope.crt", "ec.key", NULL, 0, NULL);
	assert_int_equal(r.err, ENOENT);
	assert_false(r.have_content);
	assert_true(certcheck_mismatch_is_transient(&r)); /* not written yet */
	certcheck_result_release(&r);
	check_at(&r, "trunc.crt", "ec.key", NULL, 0, NULL);
	assert_true(certcheck_mismatch_is_transient(&r)); /* still being written */
	assert_false(r.have_leaf);
	assert_true(r.have_content);
	certcheck_result_release(&r);
	check_at(&r, "empty.pem", "ec.key", NULL, 0, NULL);
	assert_true(certcheck_mismatch_is_transient(&r));
	certcheck_result_release(&r);
	check_at(&r, "garbage.crt", "ec.key", NULL, 0, NULL);
	assert_false(certcheck_mismatch_is_transient(&r));
	certcheck_result_release(&r);

	/* both files bad: both reported, the first sets the kind */
	check_at(&r, "ec.key", "ec.crt", NULL, 0, NULL);
	assert_int_equal(r.kind, CERT_NO_CERT);
	assert_int_equal(r.problems.n, 2);
	assert_string_equal(r.problems.v[1], "\"ec.crt\": no private key (only certificates: are "
					     "cert and key swapped?)");
	certcheck_result_release(&r);
}

static void test_keys(void **state)
{
	SKIP_WITHOUT_OPENSSL();
	const char *enc = "the private key is encrypted; baton never asks for a passphrase";
	expect_fail_at("ec.crt", "enc8.key", NULL, 0, NULL, CERT_KEY_ENCRYPTED, enc, true);
	expect_fail_at("rsa.crt", "enctrad.key", NULL, 0, NULL, CERT_KEY_ENCRYPTED, enc, true);
	expect_fail("ec.crt", "pub.key", CERT_KEY_BAD,
		    "\"pub.key\": no private key (only a public key)");
	expect_fail("ec.crt", "two.key", CERT_KEY_BAD,
		    "\"two.key\": 2 private keys (lines 1 and 6...); expected exactly one");
	expect_fail("ec.crt", "empty.pem", CERT_EMPTY, "\"empty.pem\": empty file");
	struct certcheck_result r;
	check_at(&r, "ec.crt", "enc8.key", NULL, 0, NULL);
	assert_false(certcheck_mismatch_is_transient(&r));
	assert_string_equal(certcheck_kind_name(r.kind), "key-encrypted");
	certcheck_result_release(&r);
}

static void test_chain(void **state)
{
	SKIP_WITHOUT_OPENSSL();
	struct certcheck_result r;
	/* leaf + intermediate in the file, the root in ca */
	assert_int_equal(check_at(&r, "chain.crt", "leaf.key", "ca.crt", 0, "example.com", NULL),
			 0);
	certcheck_result_release(&r);
	/* an intermediate in the bundle is a trust anchor too */
	assert_int_equal(check_at(&r, "leaf.crt", "leaf.key", "int.crt", 0, NULL), 0);
	certcheck_result_release(&r);
	/* the intermediate missing from the file */
	expect_fail_at(
		"leaf.crt", "leaf.key", "ca.crt", 0, NULL, CERT_CHAIN,
		"\"leaf.crt\": does not verify against \"ca.crt\": unable to get local issuer "
		"certificate (at \"CN=example.com\")",
		false);
	/* self-signed, and signed by another root */
	expect_fail_at("ec.crt", "ec.key", "ca.crt", 0, NULL, CERT_CHAIN,
		       "\"ec.crt\": does not verify against \"ca.crt\": self-signed certificate",
		       true);
	expect_fail_at("chain.crt", "leaf.key", "other.crt", 0, NULL, CERT_CHAIN,
		       "does not verify against \"other.crt\"", true);
	/* the intermediate (30 days) expires before the leaf (90 days): reported once, as an
	 * expiry, not again by the chain verification */
	time_t now = time(NULL) + 40 * 86400;
	assert_int_equal(check_at(&r, "chain.crt", "leaf.key", "ca.crt", now, NULL), -EINVAL);
	assert_int_equal(r.kind, CERT_EXPIRED);
	assert_int_equal(r.problems.n, 1);
	assert_non_null(strstr(r.msg, "\"chain.crt\" (certificate 2 in the file, \"CN=Test "
				      "Intermediate\"): expired 10 days ago (notAfter "));
	certcheck_result_release(&r);
	/* a broken bundle is reported as such */
	expect_fail_at("chain.crt", "leaf.key", "empty.pem", 0, NULL, CERT_EMPTY,
		       "\"empty.pem\": empty file", false);
	expect_fail_at("chain.crt", "leaf.key", "ec.key", 0, NULL, CERT_NO_CERT,
		       "\"ec.key\": no CA certificate to verify against (only a private key)",
		       false);
}

static void test_every_problem_listed(void **state)
{
	SKIP_WITHOUT_OPENSSL();
	struct certcheck_result r;
	/* wrong key, expired (clock moved), wrong hostname, wrong CA: four problems */
	assert_int_equal(check_at(&r, "ec.crt", "rsa.key", "ca.crt", time(NULL) + 400 * 86400,
				  "api.example.com", NULL),
			 -EINVAL);
	assert_int_equal(r.kind, CERT_KEY_MISMATCH);
	assert_int_equal(r.problems.n, 4);
	assert_ptr_equal(r.msg, r.problems.v[0]);
	assert_non_null(strstr(r.problems.v[1], "expired 3"));
	assert_non_null(strstr(r.problems.v[2], "does not cover \"api.example.com\""));
	assert_non_null(strstr(r.problems.v[3], "does not verify against"));
	certcheck_result_release(&r);
	assert_string_equal(certcheck_kind_name(CERT_TRUNCATED), "truncated");
	assert_string_equal(certcheck_kind_name((enum certcheck_kind)99), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_pairs),
		cmocka_unit_test(test_leaf_facts),
		cmocka_unit_test(test_key_mismatch),
		cmocka_unit_test(test_validity_window),
		cmocka_unit_test(test_expiring_soon_warns),
		cmocka_unit_test(test_hostnames),
		cmocka_unit_test(test_broken_files),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_every_problem_listed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
