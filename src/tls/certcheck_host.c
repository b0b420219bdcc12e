/* Hostname coverage (RFC 6125 as browsers and Go apply it): a name is covered by a DNS
 * subject alternative name equal to it (case-insensitive, trailing dot ignored) or by a
 * wildcard SAN whose "*" is the whole left-most label and stands for exactly one label
 * ("*.example.com" covers "api.example.com", not "example.com" nor "a.b.example.com"; "*.com"
 * and "f*.example.com" cover nothing). An IP literal is covered only by an equal IP SAN. The
 * subject's common name is never used. A configured name that is itself a wildcard
 * ("*.example.com") needs that exact wildcard SAN. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "tls/certcheck_int.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define SANS_SHOWN 10 /* SANs listed in a message before "and N more" */

/* Lower-case copy without one trailing dot. */
static char *norm_name(const char *s, size_t n)
{
	if (n > 1 && s[n - 1] == '.')
		n--;
	char *r = xstrndup(s, n);
	for (char *p = r; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return r;
}

/* Parse an IP literal ("10.0.0.1", "::1", "[::1]"): its length (4 or 16), or 0. */
static int parse_ip(const char *s, unsigned char out[16])
{
	char tmp[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(s);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n >= sizeof(tmp))
		return 0;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET, tmp, out) == 1)
		return 4;
	if (inet_pton(AF_INET6, tmp, out) == 1)
		return 16;
	return 0;
}

/* san and host are normalised (lower case, no trailing dot). */
static bool dns_match(const char *san, const char *host)
{
	if (strcmp(san, host) == 0)
		return true;
	if (host[0] == '*' || san[0] != '*' || san[1] != '.')
		return false;
	const char *suffix = san + 1; /* ".example.com" */
	if (!strchr(suffix + 1, '.'))
		return false; /* "*.com": too broad to mean anything */
	const char *dot = strchr(host, '.');
	return dot && dot != host && strcmp(dot, suffix) == 0;
}

struct sans {
	GENERAL_NAMES *gens;
	int ndns, nip;
};

/* The DNS name of a GENERAL_NAME, normalised, or NULL (not DNS, or an embedded NUL). */
static char *gen_dns(const GENERAL_NAME *g)
{
	if (g->type != GEN_DNS)
		return NULL;
	const unsigned char *d = ASN1_STRING_get0_data(g->d.dNSName);
	int len = ASN1_STRING_length(g->d.dNSName);
	if (len <= 0 || memchr(d, '\0', (size_t)len))
		return NULL;
	return norm_name((const char *)d, (size_t)len);
}

static bool covered(const struct sans *s, const char *host)
{
	unsigned char ip[16];
	int iplen = parse_ip(host, ip);
	char *h = iplen ? NULL : norm_name(host, strlen(host));
	bool hit = false;
	for (int i = 0; i < sk_GENERAL_NAME_num(s->gens) && !hit; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(s->gens, i);
		if (iplen) {
			hit = g->type == GEN_IPADD && ASN1_STRING_length(g->d.iPAddress) == iplen &&
			      memcmp(ASN1_STRING_get0_data(g->d.iPAddress), ip, (size_t)iplen) == 0;
		} else {
			char *d = gen_dns(g);
			hit = d && dns_match(d, h);
			free(d);
		}
	}
	free(h);
	return hit;
}

/* "example.com, www.example.com, 10.0.0.1" (at most SANS_SHOWN, then "and N more"). */
static void list_sans(struct buf *b, const struct sans *s)
{
	int shown = 0, total = 0;
	for (int i = 0; i < sk_GENERAL_NAME_num(s->gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(s->gens, i);
		char txt[INET6_ADDRSTRLEN];
		char *d = gen_dns(g);
		const char *show = d;
		if (!d && g->type == GEN_IPADD) {
			int len = ASN1_STRING_length(g->d.iPAddress);
			const void *a = ASN1_STRING_get0_data(g->d.iPAddress);
			if ((len == 4 && inet_ntop(AF_INET, a, txt, sizeof(txt))) ||
			    (len == 16 && inet_ntop(AF_INET6, a, txt, sizeof(txt))))
				show = txt;
		}
		if (show) {
			total++;
			if (shown < SANS_SHOWN) {
				buf_printf(b, "%s%s", shown ? ", " : "", show);
				shown++;
			}
		}
		free(d);
	}
	if (total > shown)
		buf_printf(b, " and %d more", total - shown);
}

char *cc_name_str(const X509_NAME *name)
{
	BIO *bio = BIO_new(BIO_s_mem());
	if (!bio)
		return xstrdup("?");
	X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	char *p = NULL;
	long n = BIO_get_mem_data(bio, &p);
	char *r = n > 0 ? xstrndup(p, (size_t)n) : xstrdup("(empty name)");
	BIO_free(bio);
	return r;
}

static char *common_name(X509 *leaf)
{
	X509_NAME *subj = X509_get_subject_name(leaf);
	int i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
	if (i < 0)
		return NULL;
	ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
	unsigned char *u = NULL;
	int n = ASN1_STRING_to_UTF8(&u, s);
	char *r = n >= 0 ? xstrndup((const char *)u, (size_t)n) : NULL;
	OPENSSL_free(u);
	return r;
}

void cc_check_hostnames(struct cc_ctx *c, X509 *leaf)
{
	const char *name = c->o->cert;
	struct sans s = {0};
	s.gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; i < sk_GENERAL_NAME_num(s.gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(s.gens, i);
		s.ndns += g->type == GEN_DNS;
		s.nip += g->type == GEN_IPADD;
	}
	if (s.ndns + s.nip == 0) {
		char *cn = common_name(leaf);
		if (cn)
			cc_problem(c, CERT_HOSTNAME,
				   "\"%s\": no subject alternative names (the common name \"%s\" "
				   "does not count: TLS clients ignore it)",
				   name, cn);
		else
			cc_problem(c, CERT_HOSTNAME, "\"%s\": no subject alternative names", name);
		free(cn);
		GENERAL_NAMES_free(s.gens);
		return;
	}
	struct buf missing = BUF_INIT;
	int nmissing = 0;
	for (const char *const *h = c->o->hostnames; h && *h; h++) {
		if (covered(&s, *h))
			continue;
		buf_printf(&missing, "%s\"%s\"", nmissing ? ", " : "", *h);
		nmissing++;
	}
	if (nmissing) {
		struct buf list = BUF_INIT;
		list_sans(&list, &s);
		cc_problem(c, CERT_HOSTNAME, "\"%s\": does not cover %s (SANs: %s)", name,
			   buf_cstr(&missing), buf_cstr(&list));
		buf_release(&list);
	}
	buf_release(&missing);
	GENERAL_NAMES_free(s.gens);
}
