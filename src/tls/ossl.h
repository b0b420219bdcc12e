/* OpenSSL's libcrypto and libssl, loaded on demand. baton does not link OpenSSL: only the
 * certificate checker (certcheck*.c) needs libcrypto, and only TLS libssl (tlsfront.c
 * terminating it, tlsclient.c speaking it to a server); linking them cost every baton process
 * ~1.4 MiB of RSS and the dynamic linking at each exec, `baton watch` and `baton dev` included.
 * A user calls ossl_load() or ossl_load_ssl*() first; the functions it uses are resolved with
 * dlsym() into pointers that the private headers (ossl_sym.h for libcrypto, ossl_ssl_sym.h for
 * libssl) redirect the OpenSSL names to. This is the only place OpenSSL is loaded; the
 * libraries are never unloaded. */
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
/* The same for another use of libssl, named in the message: use "TLS to etcd" gives "TLS to
 * etcd needs OpenSSL's libssl (libssl.so.3, Debian package libssl3): ..." (or libcrypto's name
 * and file, when that is the one that failed). One loader, one set of pointers, whatever the
 * use: the first success serves every caller. */
int ossl_load_ssl_for(const char *use, char **err);

/* Tests only: the library name ossl_load() opens (NULL: OSSL_SONAME). No effect once a load
 * succeeded. */
void ossl_set_soname(const char *soname);

#endif
