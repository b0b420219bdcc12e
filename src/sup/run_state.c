/* The state file of `baton run` (runstate.h) and the adoption of generations a killed baton
 * left serving (adopt.h): the run policy's side of both. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sup/adopt.h"
#include "ctl/ctl.h"
#include "net/listen.h"
#include "core/log.h"
#include "sup/run_internal.h"
#include "sup/runstate.h"
#include "sup/gen.h"
#include "util/xalloc.h"

struct listen_adopted *run_state_adopt(struct run *r)
{
	char *sock = ctl_socket_path(r->cfg->root, r->cfg->control.socket);
	r->state_path = xasprintf("%s.state", sock);
	free(sock);
	if (r->inherit)
		return NULL; /* re-exec'd in place: the state file is this baton's own */
	struct listen_adopted *socks = NULL;
	r->orphans = adopt_find(r->state_path, r->cfg, &socks);
	return socks;
}

void run_state_save(struct run *r)
{
	if (!r->state_path || !r->app.gens)
		return;
	struct runstate *st = xcalloc(1, sizeof(*st));
	st->baton_pid = getpid();
	if (runstate_proc_start(st->baton_pid, &st->baton_start) < 0)
		st->baton_start = 0;
	struct gen_info gi[RUNSTATE_MAX_GENS];
	int n = gen_list(r->app.gens, gi, RUNSTATE_MAX_GENS);
	for (int i = 0; i < n; i++) {
		struct runstate_gen *g = &st->gens[st->ngens];
		if (gi[i].state == GEN_EXITED || runstate_proc_start(gi[i].pid, &g->start) < 0)
			continue;
		g->id = gi[i].id;
		g->pid = gi[i].pid;
		snprintf(g->state, sizeof(g->state), "%s", gen_state_name(gi[i].state));
		for (int k = 0; k < r->app.nhandoff && k < RUNSTATE_MAX_FDS; k++) {
			g->fds[k].fd = 3 + k;
			snprintf(g->fds[k].name, sizeof(g->fds[k].name), "%s",
				 r->app.handoff_names[k]);
			g->nfds++;
		}
		st->ngens++;
	}
	adopt_record(r->orphans, st);
	int e = runstate_write(r->state_path, st);
	free(st);
	if (e == 0) {
		r->state_written = true;
		if (r->state_warned)
			log_info("state file \"%s\" written again", r->state_path);
		r->state_warned = false;
	} else if (!r->state_warned) {
		r->state_warned = true;
		log_warn("cannot write the state file \"%s\": %s — still serving, but if baton is "
			 "killed now the next `baton run` cannot adopt its generations",
			 r->state_path, strerror(-e));
	}
}

void run_state_fini(struct run *r)
{
	if (r->state_path && r->state_written && !adopt_alive(r->orphans))
		unlink(r->state_path);
	adopt_free(r->orphans);
	r->orphans = NULL;
	free(r->state_path);
	r->state_path = NULL;
}
