#include "sup/build.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/loop.h"
#include "obs/events.h"
#include "proc/child.h"
#include "util/buf.h"
#include "util/timeutil.h"
#include "util/xalloc.h"

#define OUTPUT_KEEP_MAX (256 * 1024)

struct build {
	struct loop *loop;
	const char *cmd, *cwd;
	const char *const *env;
	struct child_reaper *reaper;
	struct build_cbs cbs;
	void *data;
	struct child *child;
	struct loop_timer *delay; /* armed: a start waits for build.delay */
	bool cancelled;		  /* the running child was cancelled: its exit is not reported */
	bool restart;		  /* start again once the cancelled child is gone */
	int64_t started_ms;
	struct buf out;	     /* output of the running build */
	struct buf last_out; /* output of the last finished build */
};

static int spawn(struct build *b);

/* The end of a build on the event bus; a failure carries the first lines of its output (at
 * most 5 lines, 1 KiB: what a person reads first is the first compiler error). */
static void emit_done(bool ok, const char *status, int64_t took_ms, const char *out)
{
	struct buf why = BUF_INIT;
	if (!ok) {
		buf_puts(&why, status);
		int lines = 0;
		for (const char *p = out ? out : ""; *p && lines < 5 && why.len < 1024; lines++) {
			size_t n = strcspn(p, "\n");
			buf_putc(&why, '\n');
			buf_append(&why, p, n > 1024 ? 1024 : n);
			p += n + (p[n] == '\n');
		}
	}
	ev_emit(&(struct ev){.type = ok ? EV_BUILD_SUCCEEDED : EV_BUILD_FAILED,
			     .reason = ok ? NULL : buf_cstr(&why),
			     .duration_us = took_ms * 1000});
	buf_release(&why);
}
static void on_delay(struct loop *l, void *data);

static void on_line(struct child *c, int stream, const char *line, size_t len, void *data)
{
	(void)c;
	(void)stream;
	struct build *b = data;
	if (b->cancelled)
		return;
	if (b->out.len < OUTPUT_KEEP_MAX) {
		buf_append(&b->out, line, len);
		buf_putc(&b->out, '\n');
	}
	if (b->cbs.output)
		b->cbs.output(b, line, len, b->data);
}

static void on_exit_cb(struct child *c, const struct child_exit *st, void *data)
{
	struct build *b = data;
	bool cancelled = b->cancelled;
	char sb[96];
	child_status_str(st, sb, sizeof(sb));
	child_free(c);
	b->child = NULL;
	b->cancelled = false;
	if (cancelled) {
		buf_reset(&b->out);
		if (b->restart) {
			b->restart = false;
			spawn(b);
		}
		return;
	}
	buf_release(&b->last_out);
	b->last_out = b->out;
	b->out = (struct buf)BUF_INIT;
	bool ok = st->code == 0 && st->signal == 0;
	emit_done(ok, sb, now_ms() - b->started_ms, buf_cstr(&b->last_out));
	if (b->cbs.done)
		b->cbs.done(b, ok, sb, now_ms() - b->started_ms, b->data);
}

static int spawn(struct build *b)
{
	struct child_spec spec = {
		.shell_cmd = b->cmd,
		.label = b->cmd,
		.cwd = b->cwd,
		.env = b->env,
		.in = CHILD_IN_NULL,
		.out = CHILD_OUT_PIPE,
		.new_session = true,
		.reaper = b->reaper,
		.on_line = on_line,
		.on_exit = on_exit_cb,
		.data = b,
	};
	char *err = NULL;
	b->started_ms = now_ms();
	buf_reset(&b->out);
	ev_emit(&(struct ev){.type = EV_BUILD_STARTED, .duration_us = -1});
	int r = child_spawn(b->loop, &spec, &b->child, &err);
	if (r < 0) {
		emit_done(false, err, 0, NULL);
		b->child = NULL;
		buf_release(&b->last_out);
		buf_puts(&b->last_out, err);
		buf_putc(&b->last_out, '\n');
		if (b->cbs.done)
			b->cbs.done(b, false, err, 0, b->data);
		free(err);
	}
	return r;
}

struct build *build_new(struct loop *l, const char *cmd, const char *cwd, const char *const *env,
			struct child_reaper *reaper, const struct build_cbs *cbs, void *data)
{
	struct build *b = xcalloc(1, sizeof(*b));
	b->loop = l;
	b->cmd = cmd;
	b->cwd = cwd;
	b->env = env;
	b->reaper = reaper;
	b->cbs = *cbs;
	b->data = data;
	b->delay = loop_timer_new(l, on_delay, b);
	return b;
}

void build_free(struct build *b)
{
	if (!b)
		return;
	if (b->child) {
		child_signal(b->child, SIGKILL, true);
		child_free(b->child);
	}
	loop_timer_free(b->delay);
	buf_release(&b->out);
	buf_release(&b->last_out);
	free(b);
}

void build_cancel(struct build *b)
{
	loop_timer_disarm(b->delay);
	b->restart = false;
	if (!b->child || b->cancelled)
		return;
	b->cancelled = true;
	child_signal(b->child, SIGKILL, true);
}

static int start_now(struct build *b)
{
	if (b->child) {
		build_cancel(b);
		b->restart = true;
		return 0;
	}
	return spawn(b);
}

static void on_delay(struct loop *l, void *data)
{
	(void)l;
	start_now(data);
}

int build_start(struct build *b, int64_t delay_ms)
{
	if (delay_ms <= 0) {
		loop_timer_disarm(b->delay);
		return start_now(b);
	}
	if (!loop_timer_armed(b->delay))
		loop_timer_arm_in(b->delay, delay_ms);
	return 0;
}

bool build_running(const struct build *b)
{
	return b->child != NULL;
}

const char *build_output(const struct build *b)
{
	return buf_cstr(&b->last_out);
}
