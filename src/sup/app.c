#include "sup/app.h"
#include "sup/front.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc/child.h"
#include "proc/env.h"
#include "net/forward.h"
#include "net/listen.h"
#include "core/log.h"
#include "core/loop.h"
#include "net/notify.h"
#include "core/sig.h"
#include "filereload/reload.h"
#include "sup/takeover.h"
#include "util/signame.h"
#include "util/buf.h"
#include "util/xalloc.h"

/* At exit, how long queued output may take to go out to a slow reader */
#define APP_LOG_FLUSH_MS 2000

extern char **environ;

static void app_sig(const struct signalfd_siginfo *si, void *data)
{
	struct app *a = data;
	if (si->ssi_signo == SIGCHLD) {
		child_reap(a->reaper);
		return;
	}
	int sig = (int)si->ssi_signo;
	const struct app_policy *p = a->policy;
	if (!p)
		return;
	switch (sig) {
	case SIGHUP:
		p->reload(a, "SIGHUP");
		break;
	case SIGINT:
	case SIGTERM:
	case SIGQUIT:
		a->interrupts++;
		if (a->interrupts == 1) {
			p->stop(a, signame_str(sig));
		} else if (sig != SIGTERM || p->kill_on_sigterm) {
			p->kill(a, signame_str(sig));
			gen_kill(a->gens);
		}
		break;
	default:
		if (p->other)
			p->other(a, sig);
		break;
	}
}

static void app_reload_restart(const char *why, void *data)
{
	struct app *a = data;
	a->policy->restart(a, why);
}

static void app_reload_signal(int sig, const char *why, void *data)
{
	struct app *a = data;
	int e = gen_signal_serving(a->gens, sig);
	if (e < 0)
		log_warn("%s: cannot send %s: %s", why, signame_str(sig),
			 e == -ESRCH ? "no generation is serving" : strerror(-e));
	else
		log_info("%s: sent %s to generation %d", why, signame_str(sig),
			 gen_serving(a->gens));
}

static int app_reload_tls_swap(const struct cfg_tls *t, char **err, void *data)
{
	struct app *a = data;
	return front_tls_swap(a->front, t, err);
}

const struct reload_cbs app_reload_cbs = {.restart = app_reload_restart,
					  .signal = app_reload_signal,
					  .tls_swap = app_reload_tls_swap};

static void app_notify(pid_t pid, const struct notify_msg *m, int *fds, size_t nfds, void *data)
{
	struct app *a = data;
	if (a->gens)
		gen_notify(a->gens, pid, m, fds, nfds);
}

static int build_env(struct app *a, struct strv *out)
{
	const struct config *cfg = a->cfg;
	struct strv files = STRV_INIT;
	for (size_t i = 0; i < cfg->run.env_file.n; i++) {
		const char *f = cfg->run.env_file.v[i];
		char *path = f[0] == '/' ? xstrdup(f) : xasprintf("%s/%s", cfg->root, f);
		char *err = NULL;
		int r = env_file_load(path, &files, &err);
		free(path);
		if (r < 0) {
			log_error("%s", err ? err : strerror(-r));
			free(err);
			strv_release(&files);
			return r;
		}
	}
	const char *port = NULL;
	char portb[16];
	for (int i = 0; i < cfg->nlisten; i++) {
		if (!cfg->listen[i].forward)
			continue;
		const char *c = strrchr(cfg->listen[i].forward, ':');
		if (c) {
			snprintf(portb, sizeof(portb), "%s", c + 1);
			port = portb;
		}
		break;
	}
	struct env_input in = {
		.base = (const char *const *)environ,
		.files = &files,
		.config = &cfg->run.env,
		.generation = -1,
		.port = port,
	};
	char *err = NULL;
	int r = env_build(&in, out, &err);
	if (r < 0) {
		log_error("%s", err ? err : "invalid environment");
		free(err);
	}
	strv_release(&files);
	return r;
}

static int open_listeners(struct app *a, struct listen_adopted *orphan_socks)
{
	const struct config *cfg = a->cfg;
	struct listen_adopted *adopted = NULL;
	int r = listen_adopt_env(&adopted);
	if (r < 0)
		log_warn("ignoring sockets passed by systemd: %s", strerror(-r));
	else if (r > 0)
		log_info("adopted %d socket%s from systemd", r, r == 1 ? "" : "s");
	if (r > 0) {
		listen_adopted_free(orphan_socks);
	} else {
		listen_adopted_free(adopted);
		adopted = orphan_socks;
	}
	struct listen_opts lo = {.root = cfg->root, .backlog = 0, .adopted = adopted};
	a->listeners = xcalloc((size_t)cfg->nlisten + 1, sizeof(*a->listeners));
	a->forwards = xcalloc((size_t)cfg->nlisten + 1, sizeof(*a->forwards));
	a->handoff_fds = xcalloc((size_t)cfg->nlisten + 1, sizeof(int));
	a->handoff_names = xcalloc((size_t)cfg->nlisten + 1, sizeof(char *));
	r = 0;
	for (int i = 0; i < cfg->nlisten; i++) {
		const struct cfg_listen *cl = &cfg->listen[i];
		char *err = NULL;
		lo.backlog = cl->backlog;
		r = listen_open(cl->name, cl->address, &lo, &a->listeners[i], &err);
		if (r < 0) {
			log_error("%s", err);
			free(err);
			break;
		}
		if (cl->forward && cl->proxy != LISTEN_PROXY_NONE) {
			continue; /* the front's: each generation binds a port of its own */
		} else if (cl->forward) {
			struct sockaddr_storage ss;
			socklen_t len;
			char *why = NULL;
			if (forward_parse_target(cl->forward, &ss, &len, &why) < 0) {
				log_error("listener \"%s\": bad forward address \"%s\": %s",
					  cl->name, cl->forward, why);
				free(why);
				r = -EINVAL;
				break;
			}
			a->forwards[i] =
				forward_new(a->loop, a->listeners[i]->fd, (struct sockaddr *)&ss,
					    len, cfg->run.ready_timeout_ms);
			if (!a->forwards[i]) {
				r = -errno;
				log_error("listener \"%s\": cannot forward: %s", cl->name,
					  strerror(errno));
				break;
			}
			forward_set_max_conns(a->forwards[i], (size_t)cl->max_connections,
					      cl->name);
		} else {
			a->handoff_fds[a->nhandoff] = a->listeners[i]->fd;
			a->handoff_names[a->nhandoff] = a->listeners[i]->name;
			a->nhandoff++;
		}
	}
	listen_adopted_free(adopted);
	return r;
}

/* The HTTP front on the proxy listeners (none: a->front stays NULL). 0 or -errno. */
static int open_front(struct app *a)
{
	const struct config *cfg = a->cfg;
	int *fds = xcalloc((size_t)cfg->nlisten + 1, sizeof(int));
	int *slots = xcalloc((size_t)cfg->nlisten + 1, sizeof(int));
	for (int i = 0, k = 0; i < cfg->nlisten; i++) {
		fds[i] = a->listeners[i]->fd;
		slots[i] = cfg->listen[i].forward ? -1 : k++;
	}
	char *err = NULL;
	a->front = front_new(a->loop, cfg, fds, slots, &err);
	int r = !a->front && errno ? -errno : 0;
	if (r < 0) {
		log_error("cannot start the HTTP front: %s", err ? err : strerror(-r));
		free(err);
	}
	free(fds);
	free(slots);
	return r;
}

int app_init(struct app *a, const struct config *cfg, char **extra_args)
{
	return app_init_adopting(a, cfg, extra_args, NULL);
}

/* Bind takeover, when on and possible here; the [[listen]] sockets are held for apps that bind
 * their addresses. Unavailable: said once, and apps bind as they always did. */
static void app_takeover_init(struct app *a)
{
	const struct config *cfg = a->cfg;
	if (cfg->run.takeover && strcmp(cfg->run.takeover, "off") == 0)
		return;
	char *why = NULL;
	a->takeover = takeover_new(a->loop, &why);
	if (!a->takeover) {
		log_warn("bind takeover is unavailable (%s): an app that binds its own port is "
			 "restarted the ordinary way (see docs/troubleshooting.md)",
			 why ? why : "unknown");
		free(why);
		return;
	}
	if (a->front) /* a generation's own forward port is its alone */
		takeover_set_pass(a->takeover, front_takeover_pass, a->front);
	for (int i = 0; i < cfg->nlisten; i++) {
		if (!a->listeners || !a->listeners[i])
			continue;
		/* behind the front, an app binding the address gets its private socket */
		if (a->front && cfg->listen[i].proxy != LISTEN_PROXY_NONE)
			(void)takeover_route_fd(a->takeover, a->listeners[i]->fd,
						front_takeover_route, a->front, i);
		else
			(void)takeover_hold_fd(a->takeover, a->listeners[i]->fd);
	}
}

int app_init_adopting(struct app *a, const struct config *cfg, char **extra_args,
		      const struct app_handover *h)
{
	static const struct app_handover none = {.notify_fd = -1};
	if (!h)
		h = &none;
	struct listen_adopted *orphan_socks = h->socks;
	int nfd = h->notify_fd;
	int r;
	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	a->is_pid1 = getpid() == 1;
	a->loop = loop_new();
	if (!a->loop)
		goto fail_errno;
	log_attach_loop(a->loop); /* a stalled reader of our output never blocks the loop */
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGQUIT, SIGUSR1, SIGUSR2};
	a->sig = sig_new(a->loop, sigs, (int)(sizeof(sigs) / sizeof(sigs[0])), app_sig, a);
	if (!a->sig)
		goto fail_errno;
	a->reaper = child_reaper_new(!a->is_pid1);
	if (!a->reaper) {
		log_error("cannot become a child subreaper: %s", strerror(errno));
		goto fail_errno;
	}
	strv_copy(&a->args, &cfg->run.args);
	for (char **p = extra_args; p && *p; p++)
		strv_push(&a->args, *p);
	r = build_env(a, &a->env);
	if (r < 0)
		goto fail;
	r = open_listeners(a, orphan_socks);
	orphan_socks = NULL; /* taken */
	if (r < 0)
		goto fail;
	r = open_front(a);
	if (r < 0)
		goto fail;
	if (nfd >= 0 && h->notify_name) {
		a->notify = notify_new_fd(a->loop, nfd, h->notify_name, app_notify, a);
		if (!a->notify)
			log_warn("cannot keep the notify socket \"%s\" (%s): a new one is used",
				 h->notify_name, strerror(errno));
		else
			nfd = -1; /* taken */
	}
	if (!a->notify)
		a->notify = notify_new(a->loop, NULL, app_notify, a);
	if (!a->notify) {
		log_error("cannot create the notify socket: %s", strerror(errno));
		goto fail_errno;
	}
	if (nfd >= 0)
		close(nfd);
	app_obs_start(a);
	app_takeover_init(a);
	return 0;
fail_errno:
	r = -errno;
fail:
	listen_adopted_free(orphan_socks);
	if (nfd >= 0)
		close(nfd);
	return r;
}

/* Before each spawn: env_file is read again ("loaded before each start"), so a generation
 * started after the file changed gets the new values. A file that no longer loads keeps the
 * last environment that did. */
static const char *const *app_spawn_env(void *data)
{
	struct app *a = data;
	if (!a->cfg->run.env_file.n)
		return NULL;
	struct strv env = STRV_INIT;
	if (build_env(a, &env) < 0) {
		strv_release(&env);
		log_warn("keeping the previous environment for the app");
		return a->spawn_env.v ? (const char *const *)a->spawn_env.v : NULL;
	}
	strv_release(&a->spawn_env);
	a->spawn_env = env;
	return (const char *const *)a->spawn_env.v;
}

void app_start_gens(struct app *a, bool overlap, bool inherit_output, const struct gen_cbs *cbs,
		    void *owner)
{
	const struct config *cfg = a->cfg;
	struct gen_opts o = {
		.cmd = cfg->run.cmd,
		.args = (const char *const *)a->args.v,
		.cwd = cfg->root,
		.env = (const char *const *)a->env.v,
		.env_refresh = app_spawn_env,
		.env_data = a,
		.fds = a->handoff_fds,
		.nfds = a->nhandoff,
		.fd_names = (const char *const *)a->handoff_names,
		.notify_socket = notify_socket_path(a->notify),
		.ready = cfg->run.ready,
		.ready_delay_ms = cfg->run.ready_delay_ms,
		.ready_timeout_ms = cfg->run.ready_timeout_ms,
		.stop_signal = cfg->run.stop_signal,
		.stop_timeout_ms = cfg->run.stop_timeout_ms,
		.restart_on_crash = cfg->run.restart_on_crash,
		.overlap = overlap,
		.max_draining = cfg->run.max_draining,
		.fd_store_max = cfg->run.fd_store_max,
		.reaper = a->reaper,
		.inherit_output = inherit_output,
		.takeover = a->takeover,
		.ready_takeover = !cfg->run.ready_set,
	};
	bool own_port = false; /* proxy with forward: a port per generation, probed there */
	for (int i = 0; i < cfg->nlisten; i++)
		own_port |= cfg->listen[i].forward && cfg->listen[i].proxy != LISTEN_PROXY_NONE;
	if (own_port && !cfg->run.ready_set) {
		o.ready = READY_PORT;
		o.ready_takeover = false;
	}
	if (o.ready == READY_PORT) {
		for (int i = 0; i < cfg->nlisten; i++) {
			if (cfg->listen[i].forward && cfg->listen[i].proxy == LISTEN_PROXY_NONE &&
			    forward_parse_target(cfg->listen[i].forward, &o.port_addr,
						 &o.port_addrlen, NULL) == 0)
				break;
		}
	}
	a->owner = owner;
	if (a->front) {
		struct gen_cbs wrapped;
		front_gen_opts(a->front, &o, cbs, owner, &wrapped);
		a->gens = gen_new(a->loop, &o, &wrapped, a->front);
		front_set_gens(a->front, a->gens);
		return;
	}
	a->gens = gen_new(a->loop, &o, cbs, owner);
}

void app_kick_forwards(struct app *a)
{
	for (int i = 0; i < a->cfg->nlisten; i++)
		if (a->forwards[i])
			forward_retry_now(a->forwards[i]);
}

void app_fini(struct app *a)
{
	if (a->reaper) {
		child_kill_orphans(a->reaper, SIGKILL);
		child_reap(a->reaper);
	}
	app_obs_stop(a);
	gen_free(a->gens);
	front_free(a->front);
	takeover_free(a->takeover);
	notify_free(a->notify);
	if (a->cfg) {
		for (int i = 0; i < a->cfg->nlisten; i++) {
			if (a->forwards && a->forwards[i])
				forward_free(a->forwards[i]);
			if (a->listeners && a->listeners[i])
				listen_close(a->listeners[i]);
		}
	}
	free(a->forwards);
	free(a->listeners);
	free(a->handoff_fds);
	free(a->handoff_names);
	strv_release(&a->env);
	strv_release(&a->spawn_env);
	strv_release(&a->args);
	child_reaper_free(a->reaper);
	sig_free(a->sig);
	log_detach_loop(APP_LOG_FLUSH_MS);
	loop_free(a->loop);
	memset(a, 0, sizeof(*a));
}

char *app_listeners_str(const struct app *a)
{
	struct buf b = BUF_INIT;
	for (int i = 0; i < a->cfg->nlisten; i++) {
		const struct listener *l = a->listeners[i];
		if (!l)
			continue;
		if (b.len)
			buf_puts(&b, ", ");
		buf_printf(&b, "%s (%s)", l->bound, l->name);
		if (a->cfg->listen[i].forward && a->cfg->listen[i].proxy != LISTEN_PROXY_NONE)
			buf_puts(&b, " → a loopback port per generation (PORT)");
		else if (a->cfg->listen[i].forward)
			buf_printf(&b, " → %s", a->cfg->listen[i].forward);
	}
	return buf_detach(&b);
}
