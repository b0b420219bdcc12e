/* Certificate validation: is this cert + key pair fit to hand to the app? Used by `baton check`
 * and, before any reload a [[tls]] change causes, by the reload machinery.
 *
 * Checks, in order (every independent problem is reported, the first one sets the kind):
 *   - both files readable and non-empty; complete PEM: every block has its END line, decodes
 *     and parses, nothing but whitespace after the last block (text before a block is allowed,
 *     as OpenSSL allows it: "Bag Attributes" headers, `openssl x509 -text` output)
 *   - the cert file holds at least one CERTIFICATE (leaf first, then intermediates); the key
 *     file exactly one private key (PKCS#8, PKCS#1, SEC1; any algorithm), not encrypted
 *   - the private key matches the leaf's public key, algorithm included
 *   - the validity window: notBefore <= now + skew, now < notAfter; a warning when less than
 *     min_validity remains
 *   - the leaf has subject alternative names, and every hostname is covered by one (DNS SANs
 *     with RFC 6125 wildcards: "*" as the whole left-most label, one label only; IP SANs for
 *     IP literals; the common name is ignored)
 *   - with a CA bundle, the chain (intermediates from the cert file) verifies to it for a TLS
 *     server, at `now`
 *
 * Pure functions of the files and the options: no globals, no prompts (an encrypted key is
 * refused, never decrypted), the OpenSSL error queue is left empty. libcrypto is loaded on the
 * first check (ossl.h); when it cannot be, every check fails with CERT_NO_LIBCRYPTO and a
 * message saying what to install. */
#ifndef BATON_CERTCHECK_H
#define BATON_CERTCHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "util/strv.h"

#define CERTCHECK_MIN_VALIDITY_MS ((int64_t)7 * 24 * 3600 * 1000)
#define CERTCHECK_SKEW_MS ((int64_t)5 * 60 * 1000)
#define CERTCHECK_MAX_FILE (8u << 20) /* larger files are refused (CERT_IO, EFBIG) */

enum certcheck_kind {
	CERT_OK,
	CERT_IO,	    /* a file could not be read (res->err) */
	CERT_EMPTY,	    /* a file is empty (or only whitespace) */
	CERT_TRUNCATED,	    /* a PEM block has no END line: cut short, or still being written */
	CERT_BAD_PEM,	    /* not PEM, a corrupt block, text after the last block */
	CERT_NO_CERT,	    /* the cert file holds no CERTIFICATE block */
	CERT_KEY_BAD,	    /* no private key, several, or one that does not parse */
	CERT_KEY_ENCRYPTED, /* the key is encrypted (baton never asks for a passphrase) */
	CERT_KEY_MISMATCH,  /* the key does not belong to the leaf certificate */
	CERT_EXPIRED,
	CERT_NOT_YET_VALID,
	CERT_HOSTNAME,	   /* a hostname is not covered, or the leaf has no SANs at all */
	CERT_CHAIN,	   /* the chain does not verify against the CA bundle */
	CERT_NO_LIBCRYPTO, /* OpenSSL's libcrypto could not be loaded: nothing was checked */
};

struct certcheck_opts {
	const char *cert; /* PEM certificate chain, leaf first */
	const char *key;  /* PEM private key (may be the same file as cert) */
	const char *root; /* NULL, or the directory relative cert/key/ca paths are resolved in;
			   * messages always show the paths as given */
	const char *const *hostnames; /* NULL-terminated, or NULL: no hostname to cover */
	const char *ca;		      /* NULL or "": no chain verification */
	int64_t min_validity_ms;      /* 0: CERTCHECK_MIN_VALIDITY_MS; < 0: never warn */
	int64_t skew_ms;	      /* 0: CERTCHECK_SKEW_MS; < 0: no tolerance */
	time_t now;		      /* 0: time(NULL) */
};

struct certcheck_result {
	bool ok;		  /* kind == CERT_OK; a warning does not make it false */
	enum certcheck_kind kind; /* the first problem found */
	int err;		  /* CERT_IO: the errno */
	char *msg;		  /* NULL when ok, else problems.v[0] */
	struct strv problems;	  /* every problem, one message each */
	char *warning;		  /* NULL, or e.g. less than min_validity left */

	/* Set once the leaf parsed (have_leaf), whatever the verdict. */
	bool have_leaf;
	char serial[129];  /* hex, upper case, as `openssl x509 -serial` prints it */
	char sha256[65];   /* SHA-256 of the leaf's DER, hex, lower case */
	time_t not_before; /* seconds since the epoch, UTC */
	time_t not_after;

	/* Set once both files were read (have_content): SHA-256 over the cert file's and the key
	 * file's bytes (length-prefixed), hex lower case. Same files, same value: the "last good"
	 * fingerprint a reloader shows and compares. */
	bool have_content;
	char content_sha256[65];
};

/* Validate the pair described by *o into *res, which is overwritten (free it first when
 * reusing it). Returns 0 when the pair is fit to use (possibly with a warning), -EINVAL when a
 * check failed, the negative errno of a failed read for CERT_IO, -ELIBACC when libcrypto could
 * not be loaded (CERT_NO_LIBCRYPTO). The caller owns *res and frees it with
 * certcheck_result_release(), whatever the return value. */
int certcheck_pair(const struct certcheck_opts *o, struct certcheck_result *res);
void certcheck_result_release(struct certcheck_result *res);

/* True when the failure may be a pair caught in the middle of an update, worth retrying with
 * backoff before declaring it bad: the key does not match the leaf (certbot and cert-manager
 * write cert and key separately), a file is empty, missing or its last block has no END line. */
bool certcheck_mismatch_is_transient(const struct certcheck_result *res);

/* A short stable name for a kind ("ok", "io", "empty", "truncated", "bad-pem", "no-cert",
 * "key-bad", "key-encrypted", "key-mismatch", "expired", "not-yet-valid", "hostname",
 * "chain", "no-libcrypto"), for JSON status and logs. */
const char *certcheck_kind_name(enum certcheck_kind kind);

#endif
