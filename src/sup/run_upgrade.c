/* `baton upgrade` and SIGUSR2 under `baton run`: re-execute baton's binary in place (upgrade.h).
 *
 * The old image: refuse while a generation is starting, baton is stopping or adopted orphans are
 * draining; run the new binary once with --version (it must start and exit 0: a missing file, a
 * file that is not executable or does not run on this system is caught here, while nothing is
 * lost); then hand over the listeners, the control socket, the client that asked, the notify
 * socket, the fd store (FDSTORE=1) and the generations, and execve. A failed exec restores
 * everything and answers the client with the reason. The new image (run_upgrade_restore) takes the
 * generations over as children it already has, puts the stored fds back in its store (as many as
 * its fd_store_max allows), and answers the client with the new version. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sup/adopt.h"
#include "proc/child.h"
#include "core/version.h"
#include "ctl/ctl.h"
#include "ctl/ctlproto.h"
#include "net/listen.h"
#include "core/log.h"
#include "net/notify.h"
#include "sup/run_internal.h"
#include "sup/gen.h"
#include "sup/upgrade.h"
#include "sup/fdstore.h"
#include "util/buf.h"
#include "util/fileio.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

/* argv[0] as an absolute path: joined to the cwd when relative, searched in PATH when it has no
 * '/'. Symlinks are kept: the kernel resolves them again at each exec. */
static char *argv0_path(void)
{
	char *cmdline = NULL;
	size_t len = 0;
	char *out = NULL;
	if (file_read_all("/proc/self/cmdline", 1 << 20, &cmdline, &len) < 0 || !len || !cmdline[0])
		goto out;
	if (cmdline[0] == '/') {
		out = xstrdup(cmdline);
	} else if (strchr(cmdline, '/')) {
		char *cwd = getcwd(NULL, 0);
		if (cwd)
			out = xasprintf("%s/%s", cwd, cmdline);
		free(cwd);
	} else {
		const char *path = getenv("PATH");
		char *copy = xstrdup(path ? path : "/usr/local/bin:/usr/bin:/bin");
		char *save = NULL;
		for (char *d = strtok_r(copy, ":", &save); d && !out;
		     d = strtok_r(NULL, ":", &save)) {
			char *cand = xasprintf("%s/%s", d, cmdline);
			if (d[0] == '/' && access(cand, X_OK) == 0)
				out = cand;
			else
				free(cand);
		}
		free(copy);
	}
out:
	free(cmdline);
	return out;
}

char *run_upgrade_exe(void)
{
	char *p = argv0_path();
	return p ? p : realpath("/proc/self/exe", NULL);
}

static void upgrade_failed(struct run *r, const char *why)
{
	log_error("upgrade failed: %s — this baton keeps running", why);
	if (r->upgrade_client) {
		ctl_reply(r->upgrade_client, false, why);
		ctl_client_unref(r->upgrade_client);
		r->upgrade_client = NULL;
	}
}

static void fill_state(struct run *r, struct upgrade_state *st)
{
	upgrade_state_init(st);
	st->started_ms = r->started_ms;
	st->first_ready = r->first_ready;
	st->crashes = gen_crash_count(r->app.gens);
	st->last_id = gen_last_id(r->app.gens);
	st->nlisten = r->cfg->nlisten;
	for (int i = 0; i < r->cfg->nlisten; i++)
		st->listen_fd[i] = r->app.listeners[i] ? r->app.listeners[i]->fd : -1;
	st->ctl_fd = run_ctl_fd(r->ctl);
	st->reply_fd = r->upgrade_client ? ctl_client_fd(r->upgrade_client) : -1;
	const char *ns = notify_socket_path(r->app.notify);
	if (ns && strlen(ns) < sizeof(st->notify)) {
		snprintf(st->notify, sizeof(st->notify), "%s", ns);
		st->notify_fd = notify_fd(r->app.notify);
	}
	const struct fdstore *fs = gen_fdstore(r->app.gens);
	for (size_t i = 0; i < fdstore_count(fs); i++)
		upgrade_state_store(st, fdstore_fd(fs, i), fdstore_name(fs, i));
	struct gen_info gi[UPGRADE_MAX_GENS];
	int n = gen_list(r->app.gens, gi, UPGRADE_MAX_GENS);
	for (int i = 0; i < n; i++)
		if (gi[i].state == GEN_READY || gi[i].state == GEN_DRAINING)
			st->gens[st->ngens++] = gi[i];
	st->have_last = r->have_last;
	st->last_ok = r->last_ok;
	st->last_duration_ms = r->last_duration_ms;
	st->last_at_ms = r->last_at_ms;
	st->last_at_unix_ms = r->last_at_unix_ms;
	snprintf(st->last_reason, sizeof(st->last_reason), "%s", r->last_reason);
}

static void preflight_line(struct child *c, int stream, const char *line, size_t len, void *data)
{
	(void)c;
	struct run *r = data;
	if (stream == 1 && !r->upgrade_version[0])
		snprintf(r->upgrade_version, sizeof(r->upgrade_version), "%.*s",
			 (int)(len < 120 ? len : 120), line);
}

static void preflight_exit(struct child *c, const struct child_exit *es, void *data)
{
	struct run *r = data;
	child_free(c);
	r->preflight = NULL;
	if (es->code != 0) {
		char sb[96], why[PATH_MAX + 200];
		child_status_str(es, sb, sizeof(sb));
		snprintf(why, sizeof(why), "the new binary \"%s\" does not run: \"--version\" %s",
			 r->exe, sb);
		upgrade_failed(r, why);
		return;
	}
	if (gen_busy(r->app.gens) || gen_stopping(r->app.gens)) {
		upgrade_failed(r, gen_stopping(r->app.gens)
					  ? "baton is stopping"
					  : "a reload started meanwhile: try again");
		return;
	}
	struct upgrade_state *st = xcalloc(1, sizeof(*st));
	fill_state(r, st);
	log_info("upgrading in place: executing \"%s\" (%s), pid %d stays", r->exe,
		 r->upgrade_version[0] ? r->upgrade_version : "version unknown", (int)getpid());
	char *err = NULL;
	int e = upgrade_exec(r->exe, st, &err);
	upgrade_state_release(st);
	free(st);
	upgrade_failed(r, err ? err : strerror(-e));
	free(err);
}

void run_upgrade(struct run *r, struct ctl_client *c, const char *who)
{
	const char *busy = r->upgrade_client || r->preflight ? "an upgrade is in progress"
			   : gen_stopping(r->app.gens)	     ? "baton is stopping"
			   : gen_busy(r->app.gens)	     ? "a reload is in progress: try again"
			   : adopt_alive(r->orphans) ? "adopted generations are still draining"
			   : !r->exe		     ? "baton's own binary is unknown"
			   : r->cfg->nlisten > UPGRADE_MAX_LISTEN ? "too many listeners"
								  : NULL;
	log_info("upgrade requested (%s)", who);
	if (busy) {
		log_warn("upgrade refused: %s", busy);
		if (c)
			ctl_reply(c, false, busy);
		return;
	}
	r->upgrade_client = c ? ctl_client_ref(c) : NULL;
	r->upgrade_version[0] = '\0';
	const char *argv[] = {r->exe, "--version", NULL};
	struct child_spec spec = {
		.argv = argv,
		.label = r->exe,
		.in = CHILD_IN_NULL,
		.out = CHILD_OUT_PIPE,
		.reaper = r->app.reaper,
		.on_line = preflight_line,
		.on_exit = preflight_exit,
		.data = r,
	};
	char *err = NULL;
	int e = child_spawn(r->app.loop, &spec, &r->preflight, &err);
	if (e < 0) {
		r->preflight = NULL;
		upgrade_failed(r, err);
		free(err);
	}
}

static void reply_fd(int fd, const char *text)
{
	struct buf b = BUF_INIT;
	ctlproto_encode_reply(&b, true, text);
	/* one short line into a connection that has nothing queued: it fits */
	(void)!send(fd, b.p, b.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
	free(buf_detach(&b));
}

struct listen_adopted *run_upgrade_sockets(struct run *r)
{
	const struct upgrade_state *st = r->inherit;
	struct listen_adopted *socks = NULL;
	for (int i = 0; i < st->nlisten; i++) {
		int fd = st->listen_fd[i];
		if (fd < 0)
			continue;
		if (i < r->cfg->nlisten &&
		    listen_fd_matches(fd, r->cfg->listen[i].address, r->cfg->root)) {
			listen_adopted_add(&socks, fd, r->cfg->listen[i].name);
		} else {
			log_warn("listener %d changed in the config: its old socket is closed",
				 i + 1);
			close(fd);
		}
	}
	return socks;
}

/* The stored fds of the old image, in its order, into this one's store; what does not fit under
 * this config's fd_store_max is closed. The handoff keeps none after (fd -1). */
static void restore_store(struct run *r, struct upgrade_state *st)
{
	size_t kept = 0;
	for (size_t i = 0; i < st->nstore; i++) {
		struct upgrade_stored *e = &st->store[i];
		int k = gen_fdstore_adopt(r->app.gens, e->fd, e->name);
		if (k == 0) {
			kept++;
			e->fd = -1;
			continue;
		}
		if (k == -EXFULL)
			log_warn("the fd store is full (fd_store_max = %zu): closed the stored fd "
				 "\"%s\"",
				 fdstore_max(gen_fdstore(r->app.gens)), e->name);
		else
			log_warn("the stored fd \"%s\" (%d) was not handed over: %s", e->name,
				 e->fd, strerror(-k));
		if (k != -EBADF)
			close(e->fd);
		e->fd = -1;
	}
	if (st->nstore)
		log_info("fd store: %zu of %zu stored fd%s kept", kept, st->nstore,
			 st->nstore == 1 ? "" : "s");
}

void run_upgrade_restore(struct run *r)
{
	struct upgrade_state *st = r->inherit;
	r->started_ms = st->started_ms;
	r->first_ready = st->first_ready;
	r->have_last = st->have_last;
	r->last_ok = st->last_ok;
	r->last_duration_ms = st->last_duration_ms;
	r->last_at_ms = st->last_at_ms;
	r->last_at_unix_ms = st->last_at_unix_ms;
	snprintf(r->last_reason, sizeof(r->last_reason), "%s", st->last_reason);
	gen_set_last_id(r->app.gens, st->last_id);
	restore_store(r, st);
	for (int i = 0; i < st->ngens; i++) {
		int e = gen_adopt(r->app.gens, &st->gens[i],
				  st->gens[i].state == GEN_DRAINING
					  ? now_ms() + r->cfg->run.stop_timeout_ms
					  : -1,
				  st->crashes);
		if (e < 0)
			log_warn("generation %d (pid %d) is not baton's to take over: %s",
				 st->gens[i].id, (int)st->gens[i].pid, strerror(-e));
	}
	int cur = gen_serving(r->app.gens);
	char msg[200];
	if (cur)
		snprintf(msg, sizeof(msg),
			 "upgraded to baton %s (pid %d): generation %d keeps serving",
			 BATON_VERSION, (int)getpid(), cur);
	else
		snprintf(msg, sizeof(msg), "upgraded to baton %s (pid %d)", BATON_VERSION,
			 (int)getpid());
	log_info("%s", msg);
	if (st->reply_fd >= 0) {
		reply_fd(st->reply_fd, msg);
		st->reply_fd = -1;
	}
}
