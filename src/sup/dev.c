#include "sup/dev.h"
#include "sup/devpage.h"
#include "sup/front.h"

#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sup/app.h"
#include "sup/build.h"
#include "proc/child.h"
#include "core/log.h"
#include "core/loop.h"
#include "filereload/reload.h"
#include "sup/gen.h"
#include "watch/watch.h"
#include "watch/watch_hub.h"
#include "util/buf.h"
#include "util/escape.h"
#include "util/fileio.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

struct dev {
	struct app app;
	const struct config *cfg;
	struct watch_hub *hub; /* one inotify instance for the tree's watch and the reloader's */
	struct watch *watch;
	struct build *build;
	struct reloader *reloader;
	struct loop_src *stdin_src;
	struct buf stdin_buf;
	int64_t change_ms;  /* when the change that started this cycle was seen */
	int64_t built_ms;   /* build duration of the last good build, -1: none in this cycle */
	int64_t replace_ms; /* when the replace was asked for */
	char *last_fail;    /* output of the last failed build, to say "same errors" */
	bool build_failed;
	unsigned builds;
	int exit_code;
};

static const char *col(const char *c)
{
	return log_c(c);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	char msg[2048];
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info("%s", msg);
}

/* A rejected [[tls]] pair holds the restart while a generation serves (run.c does the same);
 * the reloader restarts once the files pass. */
static bool restart_held(struct dev *d)
{
	int cur = gen_serving(d->app.gens);
	char *why = reloader_hold_reason(d->reloader);
	if (!why || !cur) {
		if (why)
			log_warn("%s — nothing is serving: starting the app on it anyway", why);
		free(why);
		return false;
	}
	log_error("%s — restart held, generation %d keeps serving; it restarts once the "
		  "certificate passes",
		  why, cur);
	free(why);
	reloader_hold_restart(d->reloader);
	return true;
}

static void dev_replace(struct dev *d)
{
	if (restart_held(d))
		return;
	d->replace_ms = now_ms();
	gen_replace(d->app.gens);
}

/* delay_ms: build.delay for a change from the watch, 0 for a start asked for */
static void start_cycle(struct dev *d, const char *why, int64_t delay_ms)
{
	if (gen_stopping(d->app.gens))
		return;
	d->change_ms = now_ms();
	d->built_ms = -1;
	if (d->build) {
		if (build_running(d->build))
			say("%s — cancelling the build in progress", why);
		else if (delay_ms > 0)
			say("%s — building in %lld ms (build.delay)", why, (long long)delay_ms);
		else
			say("%s — building", why);
		gen_lower_priority(d->app.gens, true); /* the compiler first: gen.h */
		build_start(d->build, delay_ms);
	} else {
		say("%s — restarting", why);
		dev_replace(d);
	}
}

static void on_batch(const struct watch_change *ch, size_t n, void *data)
{
	struct dev *d = data;
	char why[512];
	static const char *const kinds[] = {"changed", "created", "removed"};
	char *path = escape_str(ch[0].path); /* a name may hold ESC or a newline */
	if (n == 1)
		snprintf(why, sizeof(why), "%s \"%s\"", kinds[ch[0].kind], path);
	else
		snprintf(why, sizeof(why), "%s \"%s\" and %zu more", kinds[ch[0].kind], path,
			 n - 1);
	free(path);
	start_cycle(d, why, d->cfg->build.delay_ms);
}

/* ---- build ---- */

static void build_line(struct build *b, const char *line, size_t len, void *data)
{
	(void)b;
	(void)data;
	if (log_json()) {
		log_json_output(2, "build", 0, line, len);
		return;
	}
	struct buf o = BUF_INIT;
	buf_printf(&o, "%sbuild │%s ", col("\033[33m"), col("\033[0m"));
	buf_append(&o, line, len);
	buf_putc(&o, '\n');
	log_write(2, o.p, o.len);
	buf_release(&o);
}

static void build_done(struct build *b, bool ok, const char *status, int64_t took, void *data)
{
	struct dev *d = data;
	gen_lower_priority(d->app.gens, false);
	if (gen_stopping(d->app.gens))
		return;
	if (!ok) {
		const char *out = build_output(b);
		bool same = d->last_fail && strcmp(d->last_fail, out) == 0;
		free(d->last_fail);
		d->last_fail = xstrdup(out);
		d->build_failed = true;
		if (d->app.front) { /* browsers get the errors; other requests go on as before */
			char *page = devpage_build_error(out, status, gen_serving(d->app.gens),
							 front_live_reload(d->app.front));
			front_set_error_page(d->app.front, page);
			free(page);
		}
		int cur = gen_serving(d->app.gens);
		char tail[128];
		if (cur)
			snprintf(tail, sizeof(tail), "still serving generation %d", cur);
		else
			snprintf(tail, sizeof(tail), "nothing is serving yet");
		log_error("%sbuild failed%s (%s) in %lld ms%s — %s; fix it and save again",
			  col("\033[1;31m"), col("\033[0m"), status, (long long)took,
			  same ? ", same errors as before" : "", tail);
		if (d->cfg->build.stop_on_error && cur) {
			say("stop_on_error: stopping generation %d", cur);
			gen_stop(d->app.gens);
		}
		return;
	}
	if (d->build_failed)
		say("build fixed");
	d->build_failed = false;
	if (d->app.front)
		front_set_error_page(d->app.front, NULL);
	free(d->last_fail);
	d->last_fail = NULL;
	d->built_ms = took;
	dev_replace(d);
}

/* ---- service ---- */

static void on_ready(struct gens *s, int id, int prev, int64_t took, void *data)
{
	(void)s;
	(void)prev;
	struct dev *d = data;
	app_kick_forwards(&d->app);
	struct buf b = BUF_INIT;
	if (d->built_ms >= 0)
		buf_printf(&b, "built in %lld ms · ", (long long)d->built_ms);
	if (d->replace_ms)
		buf_printf(&b, "%s in %lld ms · ", id == 1 ? "started" : "restarted",
			   (long long)(now_ms() - d->replace_ms));
	else
		buf_printf(&b, "started in %lld ms · ", (long long)took);
	struct gen_info gi[16];
	int n = gen_list(d->app.gens, gi, 16);
	int pid = 0;
	for (int i = 0; i < n; i++)
		if (gi[i].id == id)
			pid = (int)gi[i].pid;
	log_info("%s%sready%s (generation %d, pid %d)", b.p, col("\033[1;32m"), col("\033[0m"), id,
		 pid);
	buf_release(&b);
	d->built_ms = -1;
	d->replace_ms = 0;
}

static void on_failed(struct gens *s, int id, const char *reason, void *data)
{
	struct dev *d = data;
	(void)s;
	if (gen_stopping(d->app.gens))
		return;
	log_error("generation %d failed to start: %s — waiting for the next change", id, reason);
}

static void on_crashed(struct gens *s, int id, const char *status, void *data)
{
	(void)s;
	struct dev *d = data;
	log_error("app %s (generation %d)%s", status, id,
		  d->cfg->run.restart_on_crash ? "" : " — waiting for the next change");
	char *held = d->cfg->run.restart_on_crash ? reloader_hold_reason(d->reloader) : NULL;
	if (held)
		log_warn("%s — restarting the app on it anyway: nothing else can serve", held);
	free(held);
}

static void on_exited(struct gens *s, int id, const char *status, void *data)
{
	(void)s;
	(void)data;
	log_debug("generation %d %s", id, status);
}

static void on_stopped(struct gens *s, void *data)
{
	(void)s;
	struct dev *d = data;
	child_kill_orphans(d->app.reaper, SIGKILL);
	say("stopped");
	loop_exit(d->app.loop, d->exit_code);
}

static void on_output(struct gens *s, int id, int stream, const char *line, size_t len, void *data)
{
	(void)s;
	(void)data;
	if (log_json()) {
		log_json_output(stream == 2 ? 2 : 1, "app", id, line, len);
		return;
	}
	struct buf o = BUF_INIT;
	buf_printf(&o, "%sapp %d │%s ", col("\033[36m"), id, col("\033[0m"));
	buf_append(&o, line, len);
	buf_putc(&o, '\n');
	log_write(stream == 2 ? 2 : 1, o.p, o.len);
	buf_release(&o);
}

/* ---- signals and stdin ---- */

static void dev_stop(struct dev *d)
{
	if (d->build)
		build_cancel(d->build);
	if (d->watch) {
		watch_free(d->watch);
		d->watch = NULL;
	}
	gen_stop(d->app.gens);
}

/* ---- what the app asks (app.h's policy) ---- */

static void policy_reload(struct app *a, const char *why)
{
	start_cycle(a->owner, why, 0);
}

static void policy_restart(struct app *a, const char *why)
{
	say("%s changed — restarting the app", why);
	dev_replace(a->owner);
}

static void policy_stop(struct app *a, const char *why)
{
	say("%s: stopping the app (press Ctrl-C again to force)", why);
	dev_stop(a->owner);
}

static void policy_kill(struct app *a, const char *why)
{
	struct dev *d = a->owner;
	say("%s again: killing everything", why);
	if (d->build)
		build_cancel(d->build);
	child_kill_orphans(a->reaper, SIGKILL);
}

static const struct app_policy dev_policy = {
	.reload = policy_reload,
	.restart = policy_restart,
	.stop = policy_stop,
	.kill = policy_kill,
	.kill_on_sigterm = true,
};

static void on_stdin(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)events;
	struct dev *d = data;
	char tmp[512];
	ssize_t n = read(fd, tmp, sizeof(tmp));
	if (n <= 0) {
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		loop_del(l, d->stdin_src);
		d->stdin_src = NULL;
		return;
	}
	buf_append(&d->stdin_buf, tmp, (size_t)n);
	char *nl;
	while ((nl = memchr(d->stdin_buf.p, '\n', d->stdin_buf.len))) {
		size_t len = (size_t)(nl - d->stdin_buf.p);
		char line[64];
		snprintf(line, sizeof(line), "%.*s", (int)(len < 63 ? len : 63), d->stdin_buf.p);
		buf_consume(&d->stdin_buf, len + 1);
		char *p = line;
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (strncmp(p, "r", 1) == 0 && (p[1] == '\0' || p[1] == '\r' || p[1] == ' '))
			start_cycle(d, "rebuild requested", 0);
		else if (*p)
			say("type 'r' and Enter to rebuild, Ctrl-C to stop");
	}
	if (d->stdin_buf.len > 4096)
		buf_reset(&d->stdin_buf);
}

static void setup_stdin(struct dev *d)
{
	struct stat st;
	if (fstat(0, &st) < 0 || !(S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)))
		return;
	if (S_ISCHR(st.st_mode) && !isatty(0))
		return; /* /dev/null */
	d->stdin_src = loop_add(d->app.loop, 0, EPOLLIN, on_stdin, d);
}

int dev_main(const struct config *cfg, char **extra_args)
{
	struct dev *d = xcalloc(1, sizeof(*d));
	d->cfg = cfg;
	d->built_ms = -1;
	int rc = 1;
	if (app_init(&d->app, cfg, extra_args) < 0)
		goto out;
	d->app.policy = &dev_policy;
	d->app.owner = d;
	static const struct gen_cbs cbs = {
		.ready = on_ready,
		.failed = on_failed,
		.crashed = on_crashed,
		.exited = on_exited,
		.stopped = on_stopped,
		.output = on_output,
	};
	app_start_gens(&d->app, cfg->run.overlap, false, &cbs, d);

	d->hub = watch_hub_new(d->app.loop);
	struct watch_opts wo;
	watch_opts_from_config(cfg, &wo);
	wo.dev_mode = true;
	wo.hub = d->hub;
	int64_t t0 = now_ms();
	char *err = NULL;
	d->watch = watch_new(d->app.loop, &wo, on_batch, d, &err);
	watch_opts_release(&wo);
	if (!d->watch || watch_start(d->watch) < 0) {
		log_error("cannot watch \"%s\": %s", cfg->root, err ? err : strerror(errno));
		free(err);
		goto out;
	}
	char *ls = app_listeners_str(&d->app);
	size_t nd = watch_ndirs(d->watch), nf = watch_nfiles(d->watch);
	say("watching %zu director%s, %zu file%s under \"%s\" (%lld ms)%s%s", nd,
	    nd == 1 ? "y" : "ies", nf, nf == 1 ? "" : "s", cfg->root, (long long)(now_ms() - t0),
	    *ls ? " · listening on " : "", ls);
	free(ls);

	if (cfg->build.cmd && *cfg->build.cmd)
		d->build =
			build_new(d->app.loop, cfg->build.cmd, cfg->root,
				  (const char *const *)d->app.env.v, d->app.reaper,
				  &(struct build_cbs){.done = build_done, .output = build_line}, d);
	if (reloader_needed(cfg)) {
		err = NULL;
		d->reloader =
			reloader_new(d->app.loop, d->hub, cfg, (const char *const *)d->app.env.v,
				     d->app.reaper, &app_reload_cbs, &d->app, &err);
		if (!d->reloader) {
			log_error("%s", err ? err : strerror(errno));
			free(err);
			goto out;
		}
	}
	setup_stdin(d);
	start_cycle(d, "starting", 0);
	int r = loop_run(d->app.loop);
	rc = r < 0 ? 1 : r;
out:
	/* the reloader's few watches first: the tree's watch, last on the hub, then closes the
	 * instance instead of removing its watches one by one */
	reloader_free(d->reloader);
	if (d->watch)
		watch_free(d->watch);
	watch_hub_unref(d->hub);
	build_free(d->build);
	if (d->stdin_src)
		loop_del(d->app.loop, d->stdin_src);
	app_fini(&d->app);
	buf_release(&d->stdin_buf);
	free(d->last_fail);
	free(d);
	return rc;
}
