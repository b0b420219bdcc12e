/* The control socket of `baton run`: reload (answered when the covering generation is ready or
 * has failed), status (text or JSON), stop. The server and wire format are ctl.c/ctlproto.c;
 * this file only maps requests onto the run policy. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/version.h"
#include "ctl/ctl.h"
#include "ctl/ctlproto.h"
#include "ctl/ctlstatus.h"
#include "sup/front.h"
#include "sup/fdstore.h"
#include "net/listen.h"
#include "core/log.h"
#include "filereload/reload.h"
#include "source/source.h"
#include "sup/rollout_run.h"
#include "sup/run_internal.h"
#include "sup/takeover.h"
#include "sup/gen.h"
#include "sup/upgrade.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

struct run_ctl {
	struct run *run;
	struct ctl *ctl;
};

static void reload_done(bool ok, const char *msg, void *data)
{
	struct ctl_client *c = data;
	ctl_reply(c, ok, msg);
	ctl_client_unref(c);
}

static char *status_doc(struct run *r, bool json)
{
	struct gen_info gi[64];
	int n = gen_list(r->app.gens, gi, 64);
	struct ctlstatus_gen gens[64];
	int64_t now = now_ms();
	char *holds[64] = {NULL};
	int ng = 0;
	for (int i = 0; i < n; i++) {
		if (gi[i].state == GEN_EXITED)
			continue;
		holds[ng] = r->app.takeover ? takeover_addresses(r->app.takeover, gi[i].id) : NULL;
		gens[ng] = (struct ctlstatus_gen){
			.holds = holds[ng],
			.id = gi[i].id,
			.pid = gi[i].pid,
			.state = gen_state_name(gi[i].state),
			.age_ms = now - gi[i].started_ms,
			.ready_ms = gi[i].ready_ms ? gi[i].ready_ms - gi[i].started_ms : -1,
		};
		ng++;
	}
	int nl = r->cfg->nlisten;
	struct ctlstatus_listener *ls = xcalloc((size_t)nl + 1, sizeof(*ls));
	for (int i = 0; i < nl; i++)
		ls[i] = (struct ctlstatus_listener){.name = r->cfg->listen[i].name,
						    .address = r->app.listeners[i]
								       ? r->app.listeners[i]->bound
								       : r->cfg->listen[i].address};
	for (int i = 0; r->app.front && i < nl; i++)
		front_status(r->app.front, i, &ls[i]); /* proxy listeners: connections, in flight */
	struct ctlstatus st = {
		.version = BATON_VERSION,
		.pid = getpid(),
		.uptime_ms = now - r->started_ms,
		.serving = gen_serving(r->app.gens),
		.reloading = r->reloading,
		.stopping = gen_stopping(r->app.gens),
		.crashes = gen_crash_count(r->app.gens),
		.gens = gens,
		.ngens = ng,
		.listeners = ls,
		.nlisteners = nl,
	};
	struct rollout_status ros;
	struct ctlstatus_rollout ro;
	bool ro_active = false;
	if (r->app.front)
		front_rollout_status(r->app.front, &ros, &ro_active);
	if (ro_active) {
		ro = (struct ctlstatus_rollout){
			.strategy = ros.strategy,
			.step = ros.step,
			.nsteps = ros.nsteps,
			.weight = ros.weight,
			.left_ms = ros.step_left_ms,
			.old = {ros.prev.gen, ros.prev.requests, ros.prev.error_rate,
				ros.prev.p99_ms},
			.new_ = {ros.cur.gen, ros.cur.requests, ros.cur.error_rate, ros.cur.p99_ms},
			.reason = ros.reason,
		};
		st.rollout = &ro;
	}
	if (r->have_last) {
		st.last_reload = (struct ctlstatus_reload){
			.done = true,
			.ok = r->last_ok,
			.reason = r->last_reason,
			.duration_ms = r->last_duration_ms,
			.at_unix_ms = r->last_at_unix_ms,
			.ago_ms = now - r->last_at_ms,
		};
	}
	int ngr = reloader_ngroups(r->reloader);
	struct ctlstatus_group *grs = xcalloc((size_t)ngr + 1, sizeof(*grs));
	for (int i = 0; i < ngr; i++) {
		struct reload_group_info rg;
		reloader_group(r->reloader, i, &rg);
		grs[i] = (struct ctlstatus_group){
			.name = rg.name,
			.kind = rg.kind,
			.ok = rg.ok,
			.error = rg.error,
			.warning = rg.warning,
			.good_hash = rg.good_hash,
			.attempt_ago_ms = rg.last_attempt_ms ? now - rg.last_attempt_ms : -1,
			.applied = rg.applied,
		};
	}
	/* [[source]]: shown with the groups, as kind "source" */
	int nsrc = source_set_count(r->sources);
	if (nsrc) {
		grs = xrealloc(grs, (size_t)(ngr + nsrc + 1) * sizeof(*grs));
		for (int i = 0; i < nsrc; i++) {
			struct source_info si;
			source_set_info(r->sources, i, &si);
			grs[ngr++] = (struct ctlstatus_group){
				.name = si.name,
				.kind = "source",
				.ok = si.ok,
				.error = si.error,
				.warning = si.up	    ? NULL
					   : si.down_reason ? si.down_reason
							    : "connecting",
				.attempt_ago_ms = -1,
				.applied = si.applied,
			};
		}
	}
	st.groups = grs;
	st.ngroups = ngr;
	const struct fdstore *fs = gen_fdstore(r->app.gens);
	size_t nst = fdstore_count(fs);
	const char **stored = xcalloc(nst + 1, sizeof(*stored));
	for (size_t i = 0; i < nst; i++)
		stored[i] = fdstore_name(fs, i);
	st.stored_fds = stored;
	st.nstored = (int)nst;
	st.fd_store_max = (int)fdstore_max(fs);
	char *doc = json ? ctlstatus_json(&st) : ctlstatus_text(&st);
	free(stored);
	free(grs);
	free(ls);
	for (int i = 0; i < ng; i++)
		free(holds[i]);
	return doc;
}

static void on_request(struct ctl_client *c, const struct ctl_request *req, void *data)
{
	struct run_ctl *rc = data;
	struct run *r = rc->run;
	switch (req->verb) {
	case CTL_RELOAD:
		run_request_reload(r, "baton reload", reload_done, ctl_client_ref(c));
		break;
	case CTL_STATUS: {
		char *doc = status_doc(r, req->json);
		ctl_reply_body(c, doc);
		free(doc);
		break;
	}
	case CTL_STOP:
		ctl_reply(c, true, "stopping: draining every generation");
		run_request_stop(r, "baton stop");
		break;
	case CTL_UPGRADE:
		run_upgrade(r, c, "baton upgrade");
		break;
	case CTL_PROMOTE:
	case CTL_ABORT:
	case CTL_ROLLBACK: {
		char *msg = NULL;
		int verb = req->verb == CTL_PROMOTE ? 0 : req->verb == CTL_ABORT ? 1 : 2;
		int e = front_rollout(r->app.front, verb, &msg);
		ctl_reply(c, e == 0, msg);
		free(msg);
		break;
	}
	default:
		ctl_reply(c, false, "unsupported request");
		break;
	}
}

struct run_ctl *run_ctl_new(struct run *r)
{
	struct run_ctl *rc = xcalloc(1, sizeof(*rc));
	rc->run = r;
	char *err = NULL;
	if (r->inherit && r->inherit->ctl_fd >= 0) {
		rc->ctl = ctl_new_fd(r->app.loop, r->cfg->root, r->cfg->control.socket,
				     r->inherit->ctl_fd, on_request, rc);
		if (rc->ctl) {
			r->inherit->ctl_fd = -1;
			return rc;
		}
		log_warn("cannot serve on the inherited control socket: %s", strerror(errno));
		close(r->inherit->ctl_fd);
		r->inherit->ctl_fd = -1;
	}
	rc->ctl = ctl_new(r->app.loop, r->cfg->root, r->cfg->control.socket, on_request, rc, &err);
	if (!rc->ctl) {
		log_error("control socket: %s", err ? err : "cannot create it");
		free(err);
		free(rc);
		return NULL;
	}
	log_debug("control socket at \"%s\"", ctl_path(rc->ctl));
	return rc;
}

int run_ctl_fd(const struct run_ctl *rc)
{
	return rc ? ctl_fd(rc->ctl) : -1;
}

void run_ctl_free(struct run_ctl *rc)
{
	if (!rc)
		return;
	ctl_free(rc->ctl);
	free(rc);
}
