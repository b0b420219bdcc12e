/* Internals shared by certcheck.c (the pair checks), certcheck_pem.c (reading files and
 * splitting them into PEM blocks) and certcheck_host.c (hostname coverage). Not for other
 * modules. Every OpenSSL call assumes ossl_load() succeeded: certcheck_pair() loads first. */
#ifndef BATON_CERTCHECK_INT_H
#define BATON_CERTCHECK_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "tls/certcheck.h"
/* OpenSSL's types and macros, its functions through the pointers ossl_load() resolves: include
 * no <openssl/...> header directly (see ossl_sym.h) */
#include "tls/ossl_sym.h"

struct cc_ctx {
	const struct certcheck_opts *o;
	struct certcheck_result *res;
	time_t now;
	int64_t skew_s;
	int64_t min_validity_s; /* < 0: never warn */
};

/* Record a problem: appended to res->problems; the first one sets res->kind. */
void cc_problem(struct cc_ctx *c, enum certcheck_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One PEM block, base64 decoded. */
struct cc_block {
	char *label;	    /* "CERTIFICATE", "PRIVATE KEY", ... (OPENSSL_free) */
	char *header;	    /* RFC 1421 headers ("Proc-Type: 4,ENCRYPTED"...), often "" */
	unsigned char *der; /* the decoded bytes */
	long len;
	unsigned line; /* of the BEGIN line, 1-based */
};

struct cc_file {
	const char *name; /* as given (for messages) */
	bool secret;	  /* cleanse the bytes before freeing them */
	char *data;	  /* the file's bytes, NUL-terminated; NULL when it could not be read */
	size_t len;
	struct cc_block *blocks;
	int n;
};

/* Read name (relative names resolved against root, when set) and split it into decoded
 * blocks. A file that cannot be read, is empty, has a block without END line, a corrupt block,
 * text after its last block or no block at all is reported with cc_problem() and makes this
 * return false; f->data may still be set (the bytes were read). Free with cc_file_release(). */
bool cc_file_load(struct cc_ctx *c, struct cc_file *f, const char *name, const char *root,
		  bool secret);
void cc_file_release(struct cc_file *f);

/* Report every hostname in c->o->hostnames the leaf does not cover, and a leaf without SANs. */
void cc_check_hostnames(struct cc_ctx *c, X509 *leaf);

/* An X509_NAME as RFC 2253 text ("CN=example.com,O=Example"), fresh string. */
char *cc_name_str(const X509_NAME *name);

#endif
