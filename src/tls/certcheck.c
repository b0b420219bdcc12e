/* The pair checks: certificates and key out of their PEM blocks (certcheck_pem.c), key match,
 * validity windows, hostnames (certcheck_host.c), the chain against a CA bundle, and the
 * fingerprints a reloader keeps. */
#include "tls/certcheck.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls/certcheck_int.h"
#include "util/escape.h"
#include "util/xalloc.h"

void cc_problem(struct cc_ctx *c, enum certcheck_kind kind, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort(); /* out of memory, as xasprintf */
	if (c->res->problems.n == 0)
		c->res->kind = kind;
	/* file names, subjects and SANs come from outside: one printable line each */
	if (escape_needed(s)) {
		char *e = escape_str(s);
		free(s);
		s = e;
	}
	strv_push_owned(&c->res->problems, s);
}

static void add_warning(struct cc_ctx *c, const char *s)
{
	struct certcheck_result *r = c->res;
	char *e = escape_str(s);
	char *w = r->warning ? xasprintf("%s; %s", r->warning, e) : e;
	if (w != e)
		free(e);
	free(r->warning);
	r->warning = w;
}

/* ---- labels ---- */

static bool label_is(const char *l, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(l, *set) == 0)
			return true;
	return false;
}

static const char *const cert_labels[] = {"CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE",
					  NULL};
static const char *const key_labels[] = {"PRIVATE KEY",	    "ENCRYPTED PRIVATE KEY",
					 "RSA PRIVATE KEY", "EC PRIVATE KEY",
					 "DSA PRIVATE KEY", NULL};
static const char *const public_labels[] = {"PUBLIC KEY", "RSA PUBLIC KEY", NULL};
/* Blocks that may sit next to certificates and keys, and are not ours to check. */
static const char *const other_labels[] = {"EC PARAMETERS", "DH PARAMETERS", "X9.42 DH PARAMETERS",
					   "X509 CRL", NULL};

/* ---- time ---- */

static void fmt_utc(time_t t, char *out, size_t n)
{
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(out, n, "%lld", (long long)t);
}

/* "3 days", "1 hour", "12 minutes", "5 seconds" (rounded down to the largest unit). */
static void fmt_span(int64_t s, char *out, size_t n)
{
	static const struct {
		int64_t secs;
		const char *unit;
	} units[] = {{86400, "day"}, {3600, "hour"}, {60, "minute"}, {1, "second"}};
	if (s < 0)
		s = -s;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (s >= units[i].secs || units[i].secs == 1) {
			int64_t v = s / units[i].secs;
			snprintf(out, n, "%lld %s%s", (long long)v, units[i].unit,
				 v == 1 ? "" : "s");
			return;
		}
	}
}

static bool asn1_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return false;
	*out = timegm(&tm);
	return true;
}

/* Check one certificate's window. what: "" for the leaf, else " (certificate N in the file,
 * \"subject\")". Returns false when it is outside. */
static bool check_window(struct cc_ctx *c, X509 *x, const char *what, time_t *nb, time_t *na)
{
	const char *name = c->o->cert;
	char when[48], span[32];
	if (!asn1_time(X509_get0_notBefore(x), nb) || !asn1_time(X509_get0_notAfter(x), na)) {
		cc_problem(c, CERT_BAD_PEM, "\"%s\"%s: unreadable validity dates", name, what);
		return false;
	}
	if ((int64_t)c->now + c->skew_s < (int64_t)*nb) {
		fmt_utc(*nb, when, sizeof(when));
		fmt_span((int64_t)*nb - (int64_t)c->now, span, sizeof(span));
		cc_problem(c, CERT_NOT_YET_VALID,
			   "\"%s\"%s: not valid yet: valid in %s (notBefore %s)", name, what, span,
			   when);
		return false;
	}
	if ((int64_t)c->now >= (int64_t)*na) {
		fmt_utc(*na, when, sizeof(when));
		fmt_span((int64_t)c->now - (int64_t)*na, span, sizeof(span));
		cc_problem(c, CERT_EXPIRED, "\"%s\"%s: expired %s ago (notAfter %s)", name, what,
			   span, when);
		return false;
	}
	return true;
}

static void check_validity(struct cc_ctx *c, STACK_OF(X509) * chain)
{
	struct certcheck_result *r = c->res;
	X509 *leaf = sk_X509_value(chain, 0);
	if (check_window(c, leaf, "", &r->not_before, &r->not_after) && c->min_validity_s >= 0 &&
	    (int64_t)r->not_after - (int64_t)c->now < c->min_validity_s) {
		char when[48], span[32], *w;
		fmt_utc(r->not_after, when, sizeof(when));
		fmt_span((int64_t)r->not_after - (int64_t)c->now, span, sizeof(span));
		w = xasprintf("\"%s\": expires in %s (notAfter %s)", c->o->cert, span, when);
		add_warning(c, w);
		free(w);
	}
	for (int i = 1; i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);
		char *subj = cc_name_str(X509_get_subject_name(x));
		char *what = xasprintf(" (certificate %d in the file, \"%s\")", i + 1, subj);
		time_t nb, na;
		check_window(c, x, what, &nb, &na);
		free(what);
		free(subj);
	}
}

/* ---- certificates ---- */

/* Parse every certificate block of f into sk; other blocks may be keys or parameters. A file
 * without any certificate block is reported as "no <what>". Returns false when anything was
 * reported (sk then holds what did parse). */
static bool collect_certs(struct cc_ctx *c, const struct cc_file *f, STACK_OF(X509) * sk,
			  const char *what)
{
	int ncerts = 0, nkeys = 0;
	size_t before = c->res->problems.n;
	const struct cc_block *odd = NULL;
	for (int i = 0; i < f->n; i++) {
		const struct cc_block *b = &f->blocks[i];
		if (label_is(b->label, key_labels)) {
			nkeys++;
			continue;
		}
		if (label_is(b->label, other_labels))
			continue;
		if (!label_is(b->label, cert_labels)) {
			odd = odd ? odd : b;
			continue;
		}
		ncerts++;
		const unsigned char *p = b->der;
		X509 *x = strcmp(b->label, "TRUSTED CERTIFICATE") == 0
				  ? d2i_X509_AUX(NULL, &p, b->len)
				  : d2i_X509(NULL, &p, b->len);
		if (!x || p != b->der + b->len) {
			cc_problem(
				c, CERT_BAD_PEM,
				"\"%s\": the %s block on line %u does not parse as a certificate",
				f->name, b->label, b->line);
			X509_free(x);
			continue;
		}
		sk_X509_push(sk, x);
	}
	if (ncerts && odd) {
		cc_problem(c, CERT_BAD_PEM, "\"%s\": unexpected %s block on line %u", f->name,
			   odd->label, odd->line);
	} else if (!ncerts) {
		char hint[96] = "";
		if (odd)
			snprintf(hint, sizeof(hint), " (only a %.64s block)", odd->label);
		else if (nkeys)
			snprintf(hint, sizeof(hint), " (only a private key%s)",
				 f->name == c->o->cert ? ": are cert and key swapped?" : "");
		cc_problem(c, CERT_NO_CERT, "\"%s\": no %s%s", f->name, what, hint);
	}
	return c->res->problems.n == before;
}

static void leaf_facts(struct certcheck_result *r, X509 *leaf)
{
	r->have_leaf = true;
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	snprintf(r->serial, sizeof(r->serial), "%s", hex ? hex : "");
	OPENSSL_free(hex);
	BN_free(bn);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (X509_digest(leaf, EVP_sha256(), md, &mdlen) == 1 && mdlen == 32)
		for (unsigned i = 0; i < mdlen; i++)
			snprintf(r->sha256 + 2 * i, 3, "%02x", md[i]);
}

static void content_digest(struct certcheck_result *r, const struct cc_file *cf,
			   const struct cc_file *kf)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int ok = m && EVP_DigestInit_ex(m, EVP_sha256(), NULL) == 1;
	const struct cc_file *fs[] = {cf, kf};
	for (int i = 0; i < 2 && ok; i++) {
		unsigned char len[8];
		uint64_t n = fs[i]->len;
		for (int b = 0; b < 8; b++)
			len[b] = (unsigned char)(n >> (56 - 8 * b));
		ok = EVP_DigestUpdate(m, len, sizeof(len)) == 1 &&
		     EVP_DigestUpdate(m, fs[i]->data, fs[i]->len) == 1;
	}
	if (ok && EVP_DigestFinal_ex(m, md, &mdlen) == 1 && mdlen == 32) {
		for (unsigned i = 0; i < mdlen; i++)
			snprintf(r->content_sha256 + 2 * i, 3, "%02x", md[i]);
		r->have_content = true;
	}
	EVP_MD_CTX_free(m);
}

/* ---- the private key ---- */

static const char *pkey_kind(const EVP_PKEY *pk)
{
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
		return "RSA";
	case EVP_PKEY_RSA_PSS:
		return "RSA-PSS";
	case EVP_PKEY_EC:
		return "ECDSA";
	case EVP_PKEY_ED25519:
		return "Ed25519";
	case EVP_PKEY_ED448:
		return "Ed448";
	case EVP_PKEY_DSA:
		return "DSA";
	}
	const char *n = EVP_PKEY_get0_type_name(pk);
	return n ? n : "unknown";
}

/* "RSA 2048-bit", "ECDSA P-256", "Ed25519". */
static void pkey_desc(const EVP_PKEY *pk, char *out, size_t n)
{
	int id = EVP_PKEY_get_base_id(pk);
	char group[80];
	size_t glen = 0;
	if (id == EVP_PKEY_EC && EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME,
								group, sizeof(group), &glen) == 1) {
		const char *nist = EC_curve_nid2nist(OBJ_txt2nid(group));
		snprintf(out, n, "ECDSA %s", nist ? nist : group);
	} else if (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS || id == EVP_PKEY_DSA) {
		snprintf(out, n, "%s %d-bit", pkey_kind(pk), EVP_PKEY_get_bits(pk));
	} else {
		snprintf(out, n, "%s", pkey_kind(pk));
	}
}

static EVP_PKEY *decode_key(const struct cc_block *b)
{
	const unsigned char *p = b->der;
	EVP_PKEY *pk = NULL;
	if (strcmp(b->label, "PRIVATE KEY") == 0) {
		PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, b->len);
		if (p8 && p == b->der + b->len)
			pk = EVP_PKCS82PKEY(p8);
		PKCS8_PRIV_KEY_INFO_free(p8);
		return pk;
	}
	int type = strcmp(b->label, "RSA PRIVATE KEY") == 0  ? EVP_PKEY_RSA
		   : strcmp(b->label, "EC PRIVATE KEY") == 0 ? EVP_PKEY_EC
							     : EVP_PKEY_DSA;
	pk = d2i_PrivateKey(type, NULL, &p, b->len);
	if (pk && p != b->der + b->len) {
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	return pk;
}

/* The one unencrypted private key of kf, or NULL (reported). */
static EVP_PKEY *load_key(struct cc_ctx *c, const struct cc_file *kf)
{
	const struct cc_block *key = NULL, *second = NULL, *odd = NULL;
	int nkeys = 0, ncerts = 0, npublic = 0;
	for (int i = 0; i < kf->n; i++) {
		const struct cc_block *b = &kf->blocks[i];
		if (label_is(b->label, key_labels)) {
			if (nkeys++ == 0)
				key = b;
			else if (!second)
				second = b;
		} else if (label_is(b->label, cert_labels)) {
			ncerts++; /* a combined cert + key file */
		} else if (label_is(b->label, public_labels)) {
			npublic++;
		} else if (!label_is(b->label, other_labels) && !odd) {
			odd = b;
		}
	}
	if (nkeys == 0) {
		char what[96] = "";
		if (odd)
			snprintf(what, sizeof(what), " (only a %.64s block)", odd->label);
		cc_problem(c, CERT_KEY_BAD, "\"%s\": no private key%s", kf->name,
			   odd	     ? what
			   : npublic ? " (only a public key)"
			   : ncerts  ? " (only certificates: are cert and key swapped?)"
				     : "");
		return NULL;
	}
	if (odd)
		cc_problem(c, CERT_BAD_PEM, "\"%s\": unexpected %s block on line %u", kf->name,
			   odd->label, odd->line);
	if (nkeys > 1) {
		cc_problem(c, CERT_KEY_BAD,
			   "\"%s\": %d private keys (lines %u and %u...); expected exactly one",
			   kf->name, nkeys, key->line, second->line);
		return NULL;
	}
	if (strcmp(key->label, "ENCRYPTED PRIVATE KEY") == 0 ||
	    (key->header && strstr(key->header, "ENCRYPTED"))) {
		cc_problem(
			c, CERT_KEY_ENCRYPTED,
			"\"%s\": the private key is encrypted; baton never asks for a passphrase "
			"(store it decrypted, mode 0600: `openssl pkey -in KEY -out KEY.plain`)",
			kf->name);
		return NULL;
	}
	EVP_PKEY *pk = decode_key(key);
	if (!pk) {
		cc_problem(c, CERT_KEY_BAD,
			   "\"%s\": the %s block on line %u does not parse as a private key",
			   kf->name, key->label, key->line);
		return NULL;
	}
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	if (pc && EVP_PKEY_pairwise_check(pc) == 0) {
		cc_problem(
			c, CERT_KEY_BAD,
			"\"%s\": the private key is inconsistent (its public half does not derive "
			"from its private half)",
			kf->name);
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	EVP_PKEY_CTX_free(pc);
	return pk;
}

static void check_match(struct cc_ctx *c, X509 *leaf, EVP_PKEY *key)
{
	const char *name = c->o->key;
	EVP_PKEY *cpk = X509_get0_pubkey(leaf);
	if (!cpk) {
		cc_problem(
			c, CERT_BAD_PEM,
			"\"%s\": the certificate's public key is unreadable (an algorithm OpenSSL "
			"does not support?)",
			c->o->cert);
		return;
	}
	if (EVP_PKEY_eq(cpk, key) == 1)
		return;
	char kd[96], cd[96];
	pkey_desc(key, kd, sizeof(kd));
	pkey_desc(cpk, cd, sizeof(cd));
	if (strcmp(pkey_kind(key), pkey_kind(cpk)) != 0)
		cc_problem(c, CERT_KEY_MISMATCH,
			   "\"%s\": the private key does not match the certificate (%s key, %s "
			   "certificate)",
			   name, pkey_kind(key), pkey_kind(cpk));
	else if (strcmp(kd, cd) != 0)
		cc_problem(c, CERT_KEY_MISMATCH,
			   "\"%s\": the private key does not match the certificate (%s key, %s "
			   "certificate)",
			   name, kd, cd);
	else
		cc_problem(
			c, CERT_KEY_MISMATCH,
			"\"%s\": the private key does not match the certificate (another %s key)",
			name, kd);
}

/* ---- the chain ---- */

/* Validity dates of the file's own certificates were checked (with the skew) already. */
static int verify_cb(int ok, X509_STORE_CTX *x)
{
	int err = X509_STORE_CTX_get_error(x);
	if (ok || (err != X509_V_ERR_CERT_HAS_EXPIRED && err != X509_V_ERR_CERT_NOT_YET_VALID))
		return ok;
	X509 *cur = X509_STORE_CTX_get_current_cert(x);
	if (!cur)
		return ok;
	if (X509_cmp(cur, X509_STORE_CTX_get0_cert(x)) == 0)
		return 1;
	STACK_OF(X509) *un = X509_STORE_CTX_get0_untrusted(x);
	for (int i = 0; i < sk_X509_num(un); i++)
		if (X509_cmp(cur, sk_X509_value(un, i)) == 0)
			return 1;
	return ok;
}

static void check_chain(struct cc_ctx *c, STACK_OF(X509) * chain)
{
	const struct certcheck_opts *o = c->o;
	struct cc_file caf;
	STACK_OF(X509) *cas = sk_X509_new_null();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *x = X509_STORE_CTX_new();
	if (!cas || !untrusted || !store || !x)
		abort(); /* out of memory */
	if (!cc_file_load(c, &caf, o->ca, o->root, false))
		goto out;
	if (!collect_certs(c, &caf, cas, "CA certificate to verify against"))
		goto out;
	for (int i = 0; i < sk_X509_num(cas); i++)
		X509_STORE_add_cert(store, sk_X509_value(cas, i));
	for (int i = 1; i < sk_X509_num(chain); i++)
		sk_X509_push(untrusted, sk_X509_value(chain, i));
	X509 *leaf = sk_X509_value(chain, 0);
	if (X509_STORE_CTX_init(x, store, leaf, untrusted) != 1)
		abort();
	X509_STORE_CTX_set_verify_cb(x, verify_cb);
	X509_STORE_CTX_set_purpose(x, X509_PURPOSE_SSL_SERVER);
	X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(x);
	X509_VERIFY_PARAM_set_time(vp, c->now);
	X509_VERIFY_PARAM_set_flags(vp, X509_V_FLAG_PARTIAL_CHAIN);
	if (X509_verify_cert(x) != 1) {
		int err = X509_STORE_CTX_get_error(x);
		X509 *cur = X509_STORE_CTX_get_current_cert(x);
		char *subj = cc_name_str(X509_get_subject_name(cur ? cur : leaf));
		cc_problem(c, CERT_CHAIN, "\"%s\": does not verify against \"%s\": %s (at \"%s\")",
			   o->cert, o->ca, X509_verify_cert_error_string(err), subj);
		free(subj);
	}
out:
	X509_STORE_CTX_free(x);
	X509_STORE_free(store);
	sk_X509_free(untrusted); /* borrowed from chain */
	sk_X509_pop_free(cas, X509_free);
	cc_file_release(&caf);
}

/* ---- entry points ---- */

int certcheck_pair(const struct certcheck_opts *o, struct certcheck_result *res)
{
	memset(res, 0, sizeof(*res));
	struct cc_ctx c = {.o = o, .res = res};
	c.now = o->now ? o->now : time(NULL);
	c.skew_s = (o->skew_ms == 0 ? CERTCHECK_SKEW_MS : o->skew_ms < 0 ? 0 : o->skew_ms) / 1000;
	c.min_validity_s = o->min_validity_ms == 0  ? CERTCHECK_MIN_VALIDITY_MS / 1000
			   : o->min_validity_ms < 0 ? -1
						    : o->min_validity_ms / 1000;

	char *err = NULL;
	if (ossl_load(&err) < 0) {
		cc_problem(&c, CERT_NO_LIBCRYPTO, "\"%s\": %s", o->cert, err);
		free(err);
		res->msg = res->problems.v[0];
		return -ELIBACC;
	}

	struct cc_file cf, kf;
	STACK_OF(X509) *chain = sk_X509_new_null();
	EVP_PKEY *key = NULL;
	if (!chain)
		abort();
	bool cert_read = cc_file_load(&c, &cf, o->cert, o->root, false);
	bool key_read = cc_file_load(&c, &kf, o->key, o->root, true);
	if (cf.data && kf.data)
		content_digest(res, &cf, &kf);
	/* a block that does not parse may be the leaf: then nothing is checked against the rest */
	bool certs_ok = cert_read && collect_certs(&c, &cf, chain, "certificate");
	if (key_read)
		key = load_key(&c, &kf);
	X509 *leaf = certs_ok ? sk_X509_value(chain, 0) : NULL;
	if (leaf) {
		leaf_facts(res, leaf);
		if (key)
			check_match(&c, leaf, key);
		check_validity(&c, chain);
		cc_check_hostnames(&c, leaf);
		if (o->ca && *o->ca)
			check_chain(&c, chain);
	}
	EVP_PKEY_free(key);
	sk_X509_pop_free(chain, X509_free);
	cc_file_release(&cf);
	cc_file_release(&kf);
	ERR_clear_error();

	res->ok = res->problems.n == 0;
	if (res->ok) {
		res->kind = CERT_OK;
		return 0;
	}
	res->msg = res->problems.v[0];
	return res->kind == CERT_IO && res->err ? -res->err : -EINVAL;
}

void certcheck_result_release(struct certcheck_result *res)
{
	strv_release(&res->problems);
	free(res->warning);
	memset(res, 0, sizeof(*res));
}

bool certcheck_mismatch_is_transient(const struct certcheck_result *res)
{
	switch (res->kind) {
	case CERT_KEY_MISMATCH:
	case CERT_EMPTY:
	case CERT_TRUNCATED:
		return true;
	case CERT_IO:
		return res->err == ENOENT;
	default:
		return false;
	}
}

const char *certcheck_kind_name(enum certcheck_kind kind)
{
	static const char *const names[] = {
		[CERT_OK] = "ok",
		[CERT_IO] = "io",
		[CERT_EMPTY] = "empty",
		[CERT_TRUNCATED] = "truncated",
		[CERT_BAD_PEM] = "bad-pem",
		[CERT_NO_CERT] = "no-cert",
		[CERT_KEY_BAD] = "key-bad",
		[CERT_KEY_ENCRYPTED] = "key-encrypted",
		[CERT_KEY_MISMATCH] = "key-mismatch",
		[CERT_EXPIRED] = "expired",
		[CERT_NOT_YET_VALID] = "not-yet-valid",
		[CERT_HOSTNAME] = "hostname",
		[CERT_CHAIN] = "chain",
		[CERT_NO_LIBCRYPTO] = "no-libcrypto",
	};
	if ((unsigned)kind >= sizeof(names) / sizeof(names[0]) || !names[kind])
		return "unknown";
	return names[kind];
}
