/* Loading libcrypto and libssl on demand (see ossl.h): dlopen() on first use, dlsym() of every
 * function in OSSL_FUNCS (ossl_sym.h) or OSSL_SSL_FUNCS (ossl_ssl_sym.h) into its typed pointer.
 * As systemd does for its optional libraries: a handle is kept for the life of the process
 * (RTLD_NODELETE, never dlclose'd), and a library that cannot be opened or lacks a function is
 * an error message for the caller, never a crash. baton is single-threaded: no locking. */
#define OSSL_NO_REDIRECT
#include "tls/ossl_ssl_sym.h"

#include <dlfcn.h>
#include <stdlib.h>

#include "util/xalloc.h"

#define OSSL_DEFINE(f) __typeof__(f) *ossl_##f;
OSSL_FUNCS(OSSL_DEFINE)
OSSL_SSL_FUNCS(OSSL_DEFINE)
#undef OSSL_DEFINE

/* One library's table: names and the addresses of their pointers (dlsym's void * is stored
 * through them: the one place the types are asserted; every call goes through the pointer's
 * declared type, OpenSSL's prototype). */
struct sym {
	const char *name;
	void **slot;
};
#define OSSL_SYM(f) {#f, (void **)&ossl_##f},
static const struct sym crypto_syms[] = {OSSL_FUNCS(OSSL_SYM)};
static const struct sym ssl_syms[] = {OSSL_SSL_FUNCS(OSSL_SYM)};
#undef OSSL_SYM

struct lib {
	const char *soname;
	const char *name; /* for messages: "libssl" */
	const char *what; /* for messages, when the caller names no use */
	const struct sym *syms;
	size_t nsyms;
	void *handle; /* non-NULL once every pointer is resolved */
};
static struct lib crypto = {
	.soname = OSSL_SONAME,
	.name = "libcrypto",
	.what = "certificate checks need OpenSSL's libcrypto",
	.syms = crypto_syms,
	.nsyms = sizeof(crypto_syms) / sizeof(crypto_syms[0]),
};
static struct lib ssl = {
	.soname = OSSL_SSL_SONAME,
	.name = "libssl",
	.what = "TLS termination needs OpenSSL's libssl",
	.syms = ssl_syms,
	.nsyms = sizeof(ssl_syms) / sizeof(ssl_syms[0]),
};

void ossl_set_soname(const char *name)
{
	if (!crypto.handle)
		crypto.soname = name ? name : OSSL_SONAME;
}

/* use: what the library is needed for ("TLS to etcd"), or NULL for l's own wording. */
static char *load_error(const struct lib *l, const char *use, const char *why)
{
	if (use)
		return xasprintf("%s needs OpenSSL's %s (%s, Debian package libssl3): %s", use,
				 l->name, l->soname, why);
	return xasprintf("%s (%s, Debian package libssl3): %s", l->what, l->soname, why);
}

static int load(struct lib *l, const char *use, char **err)
{
	if (l->handle)
		return 0;
	dlerror();
	void *h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!h) {
		const char *e = dlerror();
		*err = load_error(l, use, e ? e : "dlopen failed");
		return -1;
	}
	for (size_t i = 0; i < l->nsyms; i++) {
		if (!(*l->syms[i].slot = dlsym(h, l->syms[i].name))) {
			const char *e = dlerror();
			char *why = e ? xstrdup(e)
				      : xasprintf("%s: undefined symbol: %s", l->soname,
						  l->syms[i].name);
			*err = load_error(l, use, why);
			free(why);
			for (size_t j = 0; j < l->nsyms; j++)
				*l->syms[j].slot = NULL;
			return -1; /* h stays open (RTLD_NODELETE): the next call tries again */
		}
	}
	l->handle = h;
	return 0;
}

int ossl_load(char **err)
{
	return load(&crypto, NULL, err);
}

int ossl_load_ssl_for(const char *use, char **err)
{
	return load(&crypto, use, err) < 0 ? -1 : load(&ssl, use, err);
}

int ossl_load_ssl(char **err)
{
	return ossl_load_ssl_for(NULL, err);
}
