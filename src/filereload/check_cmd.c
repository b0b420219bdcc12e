/* One run of a check command: see check_cmd.h. */
#include "filereload/check_cmd.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/loop.h"
#include "proc/child.h"
#include "util/buf.h"
#include "util/escape.h"
#include "util/strv.h"
#include "util/xalloc.h"

struct check_cmd {
	struct child *child;
	struct loop_timer *timer; /* the timeout */
	struct buf out;		  /* the output, as quoted in the reason */
	bool timed_out;
	const char *cmd;
	int64_t timeout_ms;
	check_cmd_done_cb done;
	void *data;
};

/* Why the check rejected the input, with its output. Fresh string. */
static char *reason(const struct check_cmd *cc, const char *status)
{
	const char *o = buf_cstr(&cc->out);
	size_t n = strlen(o);
	while (n && o[n - 1] == '\n')
		n--;
	char *c = escape_str(cc->cmd);
	char *why =
		cc->timed_out
			? xasprintf("check \"%s\" did not finish within %lld ms and was "
				    "killed%s%.*s",
				    c, (long long)cc->timeout_ms, n ? ":\n" : "", (int)n, o)
			: xasprintf("check \"%s\" %s%s%.*s", c, status, n ? ":\n" : "", (int)n, o);
	free(c);
	return why;
}

static void on_line(struct child *c, int stream, const char *line, size_t len, void *data)
{
	(void)c;
	(void)stream;
	struct check_cmd *cc = data;
	if (cc->out.len >= CHECK_OUTPUT_MAX)
		return;
	buf_puts(&cc->out, "  │ ");
	escape_append(&cc->out, line, len);
	buf_putc(&cc->out, '\n');
}

static void on_exit_cb(struct child *c, const struct child_exit *st, void *data)
{
	struct check_cmd *cc = data;
	char sb[96];
	child_status_str(st, sb, sizeof(sb));
	child_free(c);
	cc->child = NULL;
	loop_timer_disarm(cc->timer);
	bool ok = st->code == 0 && st->signal == 0 && !cc->timed_out;
	/* last: the callback may free cc */
	cc->done(cc, ok, ok ? NULL : reason(cc, sb), cc->data);
}

static void on_timeout(struct loop *l, void *data)
{
	(void)l;
	struct check_cmd *cc = data;
	if (!cc->child)
		return;
	cc->timed_out = true;
	child_stop(cc->child, SIGKILL, 0);
}

/* env with extra's variables set over it; a fresh vector the caller releases */
static void merge_env(const char *const *env, const char *const *extra, struct strv *out)
{
	if (!env)
		env = (const char *const *)environ;
	for (const char *const *e = env; *e; e++) {
		bool replaced = false;
		for (const char *const *x = extra; *x && !replaced; x++) {
			const char *eq = strchr(*x, '=');
			size_t k = eq ? (size_t)(eq - *x) + 1 : strlen(*x);
			replaced = strncmp(*e, *x, k) == 0;
		}
		if (!replaced)
			strv_push(out, *e);
	}
	for (const char *const *x = extra; *x; x++)
		strv_push(out, *x);
}

int check_cmd_start(struct loop *l, const struct check_cmd_spec *spec, struct check_cmd **out,
		    char **err)
{
	*out = NULL;
	struct check_cmd *cc = xcalloc(1, sizeof(*cc));
	cc->cmd = spec->cmd;
	cc->timeout_ms = spec->timeout_ms;
	cc->done = spec->done;
	cc->data = spec->data;
	struct strv env = {0};
	if (spec->extra_env)
		merge_env(spec->env, spec->extra_env, &env);
	struct child_spec cs = {
		.shell_cmd = spec->cmd,
		.label = spec->cmd,
		.cwd = spec->cwd,
		.env = spec->extra_env ? (const char *const *)env.v : spec->env,
		.out = CHILD_OUT_PIPE,
		.new_session = true,
		.reaper = spec->reaper,
		.on_line = on_line,
		.on_exit = on_exit_cb,
		.data = cc,
	};
	int rc = child_spawn(l, &cs, &cc->child, err);
	strv_release(&env);
	if (rc < 0) {
		free(cc);
		return rc;
	}
	cc->timer = loop_timer_new(l, on_timeout, cc);
	loop_timer_arm_in(cc->timer, spec->timeout_ms);
	*out = cc;
	return 0;
}

void check_cmd_free(struct check_cmd *cc)
{
	if (!cc)
		return;
	if (cc->child) {
		child_signal(cc->child, SIGKILL, true);
		child_free(cc->child);
	}
	loop_timer_free(cc->timer);
	buf_release(&cc->out);
	free(cc);
}
