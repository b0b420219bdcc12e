/* OpenSSL's libcrypto, loaded on demand. baton does not link libcrypto: only the certificate
 * checker (certcheck*.c) needs it, and linking it cost every baton process ~1.4 MiB of RSS and
 * the dynamic linking at each exec, `baton watch` and `baton dev` included. The checker calls
 * ossl_load() first; the functions it uses are resolved with dlsym() into pointers its private
 * header (ossl_sym.h) redirects the OpenSSL names to. The library is never unloaded. */
#ifndef BATON_OSSL_H
#define BATON_OSSL_H

#define OSSL_SONAME "libcrypto.so.3" /* OpenSSL 3; Debian package libssl3 */
#define OSSL_SSL_SONAME "libssl.so.3"

/* Load libcrypto and resolve every function certcheck uses. Returns 0, at once when already
 * loaded; or -1 with *err set to a fresh message (the caller frees it), e.g. "certificate
 * checks need OpenSSL's libcrypto (libcrypto.so.3, Debian package libssl3): libcrypto.so.3:
 * cannot open shared object file: No such file or directory". A failure is not remembered:
 * the next call tries again (the package may have been installed since). */
int ossl_load(char **err);
/* The same for libssl (and libcrypto first), for TLS termination (tlsfront.h). */
int ossl_load_ssl(char **err);

/* Tests only: the library name ossl_load() opens (NULL: OSSL_SONAME). No effect once a load
 * succeeded. */
void ossl_set_soname(const char *soname);

#endif
