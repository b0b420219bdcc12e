/* The page `baton dev` shows in the browser while a build is broken (proxy mode): the
 * compiler's output, HTML-escaped, with what baton is doing about it. Pure: text in, a fresh
 * HTML document out (the caller frees it), safe for any output (terminal colour sequences
 * dropped, other control characters and invalid UTF-8 shown as U+FFFD). With live reload on, the
 * page listens on the front's event stream and reloads itself once a build succeeds and the new
 * generation is ready. */
#ifndef BATON_DEVPAGE_H
#define BATON_DEVPAGE_H

#include <stdbool.h>

/* status: how the build ended ("exit 2"); serving: the generation still answering other
 * requests (0: none). */
char *devpage_build_error(const char *output, const char *status, int serving, bool live_reload);

#endif
