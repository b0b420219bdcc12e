/* Loading libcrypto on demand (see ossl.h): dlopen() on the first certificate check, dlsym()
 * of every function in OSSL_FUNCS (ossl_sym.h) into its typed pointer. As systemd does for its
 * optional libraries: the handle is kept for the life of the process (RTLD_NODELETE, never
 * dlclose'd), and a library that cannot be opened or lacks a function is an error message
 * for the caller, never a crash. baton is single-threaded: no locking. */
#define OSSL_NO_REDIRECT
#include "tls/ossl_sym.h"

#include <dlfcn.h>
#include <stdlib.h>

#include "util/xalloc.h"

#define OSSL_DEFINE(f) __typeof__(f) *ossl_##f;
OSSL_FUNCS(OSSL_DEFINE)
#undef OSSL_DEFINE

static const char *soname = OSSL_SONAME;
static void *handle; /* non-NULL once every pointer is resolved */

void ossl_set_soname(const char *name)
{
	if (!handle)
		soname = name ? name : OSSL_SONAME;
}

static char *load_error(const char *why)
{
	return xasprintf("certificate checks need OpenSSL's libcrypto (%s, Debian package "
			 "libssl3): %s",
			 soname, why);
}

int ossl_load(char **err)
{
	if (handle)
		return 0;
	dlerror();
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!h) {
		const char *e = dlerror();
		*err = load_error(e ? e : "dlopen failed");
		return -1;
	}
	/* the cast from dlsym's void * is the one place the types are asserted; every call goes
	 * through the pointer's declared type (OpenSSL's prototype) */
#define OSSL_RESOLVE(f)                                                                            \
	if (!(ossl_##f = (__typeof__(ossl_##f))dlsym(h, #f))) {                                    \
		missing = #f;                                                                      \
		goto fail;                                                                         \
	}
	const char *missing = NULL;
	OSSL_FUNCS(OSSL_RESOLVE)
#undef OSSL_RESOLVE
	handle = h;
	return 0;

fail:;
	const char *e = dlerror();
	char *why = e ? xstrdup(e) : xasprintf("%s: undefined symbol: %s", soname, missing);
	*err = load_error(why);
	free(why);
#define OSSL_CLEAR(f) ossl_##f = NULL;
	OSSL_FUNCS(OSSL_CLEAR)
#undef OSSL_CLEAR
	return -1; /* h stays open (RTLD_NODELETE makes dlclose moot): the next call tries again */
}
