#include "sup/status.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/log.h"
#include "obs/httpd.h"
#include "obs/page.h"
#include "util/xalloc.h"

struct status_srv {
	struct httpd *h;
	struct page *page;
};

int status_start(struct loop *l, const struct config *cfg, struct status_srv **out)
{
	*out = NULL;
	if (!cfg->status.listen || !*cfg->status.listen)
		return 0;
	struct status_srv *s = xcalloc(1, sizeof(*s));
	char *err = NULL;
	int r = httpd_new(l, cfg->status.listen, cfg->root, &s->h, &err);
	if (r < 0) {
		log_error("[status] listen \"%s\": %s", cfg->status.listen,
			  err ? err : strerror(-r));
		free(err);
		free(s);
		return r;
	}
	r = page_new(l, s->h, &s->page);
	if (r < 0) {
		log_error("status page: %s", strerror(-r));
		httpd_free(s->h);
		free(s);
		return r;
	}
	const char *at = httpd_bound(s->h);
	log_info("status page on %s%s/", strncmp(at, "unix:", 5) ? "http://" : "", at);
	*out = s;
	return 0;
}

void status_stop(struct status_srv *s)
{
	if (!s)
		return;
	httpd_free(s->h); /* ends the event streams */
	page_free(s->page);
	free(s);
}
