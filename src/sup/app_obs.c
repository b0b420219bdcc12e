/* Observability in the composition root: baton's own HTTP listener ([metrics] address) serving
 * /metrics from obs/metrics, fed by the event bus and by the supervisor's state at each scrape.
 * A listener that cannot be opened is reported and baton runs on without it: observability
 * never stops the app. */
#include "sup/app.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "obs/httpd.h"
#include "obs/metrics.h"
#include "obs/page.h"
#include "sup/front.h"
#include "sup/gen.h"

#define OBS_MAX_GENS 64
#define OBS_MAX_LISTENERS 64

static void state(void *arg, struct metrics_state *out)
{
	struct app *a = arg;
	static struct gen_info gi[OBS_MAX_GENS];
	static struct metrics_gen mg[OBS_MAX_GENS];
	if (!a->gens)
		return;
	out->serving = gen_serving(a->gens);
	int n = gen_list(a->gens, gi, OBS_MAX_GENS);
	for (int i = 0; i < n; i++)
		mg[i] = (struct metrics_gen){.id = gi[i].id,
					     .pid = gi[i].pid,
					     .state = gen_state_name(gi[i].state),
					     .weight = -1};
	out->gens = mg;
	out->ngens = (size_t)n;
	static struct metrics_listener ls[OBS_MAX_LISTENERS];
	if (a->front && a->cfg->nlisten <= OBS_MAX_LISTENERS) {
		front_metrics(a->front, ls, &out->nlisteners, mg, (size_t)n,
			      &out->upstream_retries);
		out->listeners = ls;
	}
}

void app_obs_start(struct app *a)
{
	const char *addr = a->cfg->metrics.address;
	if (!addr)
		return;
	char *err = NULL;
	if (httpd_new(a->loop, addr, a->cfg->root, &a->obs, &err) < 0) {
		log_error("[metrics] address %s: %s — baton runs on without it", addr, err);
		free(err);
		return;
	}
	metrics_init(state, a);
	metrics_route(a->obs);
	int r = page_new(a->loop, a->obs, &a->page); /* "/" and "/events" */
	if (r < 0)
		log_error("status page: %s — /metrics is served without it", strerror(-r));
	log_info("metrics on http://%s/metrics", httpd_bound(a->obs));
}

void app_obs_stop(struct app *a)
{
	if (!a->obs)
		return;
	httpd_free(a->obs); /* ends the event streams, then the page they point at */
	a->obs = NULL;
	page_free(a->page);
	a->page = NULL;
	metrics_reset();
}
