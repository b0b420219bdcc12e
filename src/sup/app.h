/* The composition root shared by `baton dev` and `baton run`: from a loaded config it builds
 * the loop, the signalfd, the reaper, the listeners (bound or adopted from systemd), the
 * forwarders, the NOTIFY_SOCKET receiver, the child environment and the generations (gen.h). The
 * mode-specific policy (dev: watch + build; run: reload triggers + control socket) lives in
 * dev.c and run.c, which own a struct app and react to its callbacks.
 *
 * Ownership: app owns everything it creates; the config must outlive it. */
#ifndef BATON_APP_H
#define BATON_APP_H

#include <stdbool.h>
#include <sys/signalfd.h>

#include "config/config.h"
#include "sup/gen.h"
#include "util/strv.h"

struct loop;
struct sig;
struct child_reaper;
struct notify;
struct listener;
struct listen_adopted;
struct forward;
struct front;
struct reload_cbs;
struct app;

/* What a mode does when asked (run.c, dev.c). app.c turns signals and the [[reload]] groups'
 * requests into these calls, the same way for both modes. */
struct app_policy {
	void (*reload)(struct app *a, const char *why);	 /* SIGHUP */
	void (*restart)(struct app *a, const char *why); /* a [[reload]] group: new generation */
	void (*stop)(struct app *a, const char *why);	 /* the first SIGINT, SIGTERM, SIGQUIT */
	/* the next one (a second SIGTERM only with kill_on_sigterm); gen_kill() follows */
	void (*kill)(struct app *a, const char *why);
	void (*other)(struct app *a, int sig); /* another signal baton catches; may be NULL */
	bool kill_on_sigterm;
};

struct app {
	const struct config *cfg;
	struct loop *loop;
	struct sig *sig;
	struct child_reaper *reaper;
	struct listener **listeners; /* cfg->nlisten */
	struct forward **forwards;   /* per listener: NULL unless it has forward = */
	int *handoff_fds;	     /* fds handed to the app (non-forward listeners) */
	char **handoff_names;
	int nhandoff;
	struct notify *notify;
	struct gens *gens;
	struct front *front; /* the HTTP front (proxy listeners), NULL without (sup/front.h) */
	struct takeover *takeover; /* bind takeover, NULL when off or unavailable */
	struct strv env;       /* the app's environment (without BATON_GENERATION), at start-up */
	struct strv spawn_env; /* the same with env_file read again before the latest spawn */
	struct strv args;      /* run.args + ARGS after -- */
	bool is_pid1;
	int interrupts; /* SIGINT/SIGTERM received */
	const struct app_policy *policy;
	void *owner;
	struct httpd *obs; /* [metrics] address: /metrics and the status page (app_obs.c) */
	struct page *page; /* the status page and /events on obs (obs/page.h) */
};

/* Set up everything but the generations; errors are logged. Returns 0 or -errno. extra_args are the
 * ARGS after "--" (NULL-terminated, may be NULL). overlap selects the replace policy. */
int app_init(struct app *a, const struct config *cfg, char **extra_args);
/* Sockets app_init uses instead of creating them. */
struct app_handover {
	/* Listening sockets baton did not bind itself (NULL: none; app_init takes them): taken
	 * from an orphaned generation (adopt.h) or kept across baton's re-exec (upgrade.h).
	 * Listeners on their addresses use them. Sockets passed by systemd take precedence: with
	 * those, these are closed. */
	struct listen_adopted *socks;
	/* The notify socket kept across a re-exec (-1: none; app_init takes it) and its name,
	 * which the running generations know. */
	int notify_fd;
	const char *notify_name;
};
/* app_init with sockets handed over (h may be NULL). */
int app_init_adopting(struct app *a, const struct config *cfg, char **extra_args,
		      const struct app_handover *h);
/* Create the generations with the given callbacks (data = the owner). */
/* inherit_output: the app writes to baton's stdout/stderr directly (run); otherwise its lines
 * go through cbs->output (dev prefixes them). */
void app_start_gens(struct app *a, bool overlap, bool inherit_output, const struct gen_cbs *cbs,
		    void *owner);
/* Callbacks for the reloader (data = the app): a restart goes to policy->restart, a signal to
 * the serving generation (logged, with why). */
extern const struct reload_cbs app_reload_cbs;
/* The app is ready: connections waiting in forwarders retry at once. */
void app_kick_forwards(struct app *a);
/* Observability (app_obs.c): start baton's own HTTP listener when [metrics] address is set
 * (a failure is logged, never fatal); stop it. */
void app_obs_start(struct app *a);
void app_obs_stop(struct app *a);
/* Kill orphans left behind and free everything. */
void app_fini(struct app *a);
/* One line describing the listeners: ":8080 (http), unix:/x.sock (admin) → 127.0.0.1:8081". */
char *app_listeners_str(const struct app *a);

#endif
