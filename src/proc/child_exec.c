#include "proc/child_exec.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fdlimit.h"
#include "core/sig.h"
#include "proc/bindtrap.h"
#include "util/buf.h"
#include "util/strv.h"
#include "util/sys.h"
#include "util/xalloc.h"

extern char **environ;

#define LISTEN_PID_DIGITS 20

/* ---- the shell form ---- */

/* A command `exec` can prefix: no control operators, groupings or comments outside quotes,
 * no leading assignment or reserved word. Anything else runs without `exec` (sh stays the
 * parent of the app; signals still reach the app through the process group). */
static bool shell_simple(const char *cmd)
{
	static const char *const reserved[] = {
		"if",	"then",	 "else",  "elif", "fi",	  "do",	      "done",	"case",
		"esac", "while", "until", "for",  "in",	  "function", "select", "!",
		"{",	"}",	 "[[",	  "time", "exec", NULL};
	const char *p = cmd;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t wl = strcspn(p, " \t");
	if (wl == 0)
		return false;
	for (int i = 0; reserved[i]; i++)
		if (strlen(reserved[i]) == wl && strncmp(p, reserved[i], wl) == 0)
			return false;
	const char *eq = memchr(p, '=', wl);
	if (eq && !memchr(p, '/', (size_t)(eq - p)) && !memchr(p, '\'', (size_t)(eq - p)) &&
	    !memchr(p, '"', (size_t)(eq - p)))
		return false; /* VAR=value cmd */
	char quote = 0;
	for (; *p; p++) {
		if (quote == '\'') {
			if (*p == '\'')
				quote = 0;
			continue;
		}
		if (*p == '\\') {
			if (!p[1] || p[1] == '\n')
				return false;
			p++;
			continue;
		}
		if (quote == '"') {
			if (*p == '"')
				quote = 0;
			continue;
		}
		if (*p == '\'' || *p == '"')
			quote = *p;
		else if (strchr(";&|()\n#`{}", *p))
			return false;
	}
	return quote == 0;
}

/* Length of the leading "NAME=value " assignment words of cmd (plain words only: no quotes,
 * expansions or operators), 0 when there are none. */
static size_t leading_assignments(const char *cmd)
{
	const char *p = cmd, *end = cmd;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		size_t wl = strcspn(p, " \t");
		const char *eq = memchr(p, '=', wl);
		if (!wl || !eq || eq == p || !(isalpha((unsigned char)*p) || *p == '_'))
			break;
		bool ok = true;
		for (const char *q = p; q < eq; q++)
			ok &= isalnum((unsigned char)*q) || *q == '_';
		for (const char *q = eq; q < p + wl; q++)
			ok &= !strchr("'\"\\$`;&|()<>{}#*?[", *q);
		if (!ok)
			break;
		p += wl;
		end = p;
	}
	return (size_t)(end - cmd);
}

char *child_shell_script(const char *cmd)
{
	if (shell_simple(cmd))
		return xasprintf("exec %s \"$@\"", cmd);
	size_t n = leading_assignments(cmd);
	if (n && shell_simple(cmd + n))
		return xasprintf("%.*s exec%s \"$@\"", (int)n, cmd, cmd + n);
	/* A compound command runs as written: "$@" after it could be a syntax error ("fi",
	 * "}"); the ARGS are its positional parameters if it wants them. */
	return xstrdup(cmd);
}

/* ---- spawning ---- */

enum exec_stage { STAGE_SETSID = 1, STAGE_FDS, STAGE_CHDIR, STAGE_EXEC };

struct exec_report {
	int err;
	int stage;
};

/* Everything the child needs, prepared before fork so the child only makes
 * async-signal-safe calls. */
struct exec_plan {
	struct strv argv;
	struct strv paths; /* execve candidates, in order */
	struct strv env;
	char *listen_pid_slot; /* digits go here, in the child */
	int *src;	       /* [0..2] stdio sources (-1: keep), [3..3+nfds) listening fds */
	int nsrc;
	int errfd;
	int trapfd; /* takeover: the socket the bind filter's listener goes through, or -1 */
	const char *cwd;
	bool new_session;
	int maxfd; /* close() fallback bound when close_range() is missing */
};

static _Noreturn void exec_fail(int errfd, int stage, int err)
{
	struct exec_report rep = {.err = err, .stage = stage};
	ssize_t n;
	do
		n = write(errfd, &rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	_exit(127);
}

static void put_decimal(char *slot, long v)
{
	char tmp[LISTEN_PID_DIGITS + 1];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < LISTEN_PID_DIGITS);
	for (int i = 0; i < n; i++)
		slot[i] = tmp[n - 1 - i];
	slot[n] = '\0';
}

static void close_from(int lo, int except, int maxfd)
{
#ifdef SYS_close_range
	bool ok = true;
	if (except > lo && syscall(SYS_close_range, lo, except - 1, 0) < 0)
		ok = false;
	if (ok && syscall(SYS_close_range, except + 1, ~0U, 0) == 0)
		return;
#endif
	for (int fd = lo; fd <= maxfd; fd++)
		if (fd != except)
			close(fd);
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static _Noreturn void child_exec(struct exec_plan *p)
{
	sig_reset_for_child();
	(void)fdlimit_restore_in_child(); /* best effort: the app may run with baton's limit */
	if (p->new_session && setsid() < 0)
		exec_fail(p->errfd, STAGE_SETSID, errno);

	int hi = p->nsrc; /* 3 + nfds: the first fd number the child must not have */
	if (p->errfd < hi) {
		int nfd = fcntl(p->errfd, F_DUPFD_CLOEXEC, hi);
		if (nfd < 0)
			exec_fail(p->errfd, STAGE_FDS, errno);
		close(p->errfd);
		p->errfd = nfd;
	}
	if (p->trapfd >= 0 && p->trapfd < hi) {
		int nfd = fcntl(p->trapfd, F_DUPFD_CLOEXEC, hi);
		if (nfd < 0)
			exec_fail(p->errfd, STAGE_FDS, errno);
		close(p->trapfd);
		p->trapfd = nfd;
	}
	/* move every source out of the target range first, so no dup2 clobbers a source */
	for (int i = 0; i < p->nsrc; i++) {
		int old = p->src[i];
		if (old < 0 || old >= hi)
			continue;
		int nfd = fcntl(old, F_DUPFD_CLOEXEC, hi);
		if (nfd < 0)
			exec_fail(p->errfd, STAGE_FDS, errno);
		for (int j = i; j < p->nsrc; j++)
			if (p->src[j] == old)
				p->src[j] = nfd;
		close(old);
	}
	for (int i = 0; i < p->nsrc; i++) {
		if (p->src[i] < 0)
			continue;
		if (dup2(p->src[i], i) < 0)
			exec_fail(p->errfd, STAGE_FDS, errno);
		/* dup2 clears FD_CLOEXEC on the copy; say so explicitly for the handed fds */
		if (fcntl(i, F_SETFD, 0) < 0)
			exec_fail(p->errfd, STAGE_FDS, errno);
	}
	if (p->trapfd >= 0) {
		/* no filter is not fatal: the app runs without takeover (baton gets no listener) */
		(void)bindtrap_install(p->trapfd);
		close(p->trapfd);
	}
	close_from(hi, p->errfd, p->maxfd);

	if (p->cwd && chdir(p->cwd) < 0)
		exec_fail(p->errfd, STAGE_CHDIR, errno);
	if (p->listen_pid_slot)
		put_decimal(p->listen_pid_slot, (long)getpid());

	int err = ENOENT;
	bool eacces = false;
	for (size_t i = 0; i < p->paths.n; i++) {
		execve(p->paths.v[i], p->argv.v, p->env.v);
		err = errno;
		if (err == EACCES)
			eacces = true;
		else if (err != ENOENT && err != ENOTDIR && err != ELOOP && err != ENAMETOOLONG)
			break;
	}
	if (eacces && err != ENOEXEC && err != ETXTBSY && err != ENOMEM && err != E2BIG)
		err = EACCES;
	exec_fail(p->errfd, STAGE_EXEC, err);
}

static void plan_free(struct exec_plan *p)
{
	strv_release(&p->argv);
	strv_release(&p->paths);
	strv_release(&p->env);
	free(p->src);
}

static bool is_child_managed(const char *e)
{
	static const char *const keys[] = {"LISTEN_FDS=",     "LISTEN_PID=",	"LISTEN_FDNAMES=",
					   "LISTEN_PIDFDID=", "NOTIFY_SOCKET=", NULL};
	for (int i = 0; keys[i]; i++)
		if (strncmp(e, keys[i], strlen(keys[i])) == 0)
			return true;
	return false;
}

static const char *plan_getenv(const struct exec_plan *p, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < p->env.n; i++)
		if (strncmp(p->env.v[i], key, kl) == 0 && p->env.v[i][kl] == '=')
			return p->env.v[i] + kl + 1;
	return NULL;
}

static int plan_env(struct exec_plan *p, const struct child_spec *spec)
{
	const char *const *base = spec->env ? spec->env : (const char *const *)environ;
	for (const char *const *e = base; e && *e; e++)
		if (!is_child_managed(*e))
			strv_push(&p->env, *e);
	if (spec->listen_env && spec->nfds > 0) {
		strv_pushf(&p->env, "LISTEN_FDS=%d", spec->nfds);
		/* "LISTEN_PID=" plus room for the digits, filled in by the child */
		char *slot = xcalloc(1, sizeof("LISTEN_PID=") + LISTEN_PID_DIGITS + 1);
		memcpy(slot, "LISTEN_PID=", sizeof("LISTEN_PID=") - 1);
		p->listen_pid_slot = slot + sizeof("LISTEN_PID=") - 1;
		strv_push_owned(&p->env, slot);
		if (spec->fd_names) {
			struct buf b = BUF_INIT;
			buf_puts(&b, "LISTEN_FDNAMES=");
			for (int i = 0; i < spec->nfds; i++) {
				const char *nm = spec->fd_names[i] ? spec->fd_names[i] : "unknown";
				if (strchr(nm, ':')) {
					buf_release(&b);
					return -EINVAL;
				}
				buf_printf(&b, "%s%s", i ? ":" : "", nm);
			}
			strv_push_owned(&p->env, buf_detach(&b));
		}
	}
	if (spec->notify_socket)
		strv_pushf(&p->env, "NOTIFY_SOCKET=%s", spec->notify_socket);
	return 0;
}

static int plan_command(struct exec_plan *p, const struct child_spec *spec)
{
	if (spec->shell_cmd) {
		if (!*spec->shell_cmd)
			return -EINVAL;
		strv_push(&p->argv, "/bin/sh");
		strv_push(&p->argv, "-c");
		strv_push_owned(&p->argv, child_shell_script(spec->shell_cmd));
		strv_push(&p->argv, "sh");
		strv_push(&p->paths, "/bin/sh");
	} else {
		if (!spec->argv || !spec->argv[0] || !*spec->argv[0])
			return -EINVAL;
		for (const char *const *a = spec->argv; *a; a++)
			strv_push(&p->argv, *a);
		const char *prog = spec->argv[0];
		if (strchr(prog, '/')) {
			strv_push(&p->paths, prog);
		} else {
			const char *path = plan_getenv(p, "PATH");
			if (!path)
				path = "/usr/local/bin:/usr/bin:/bin";
			for (const char *d = path;; d++) {
				size_t dl = strcspn(d, ":");
				if (dl == 0)
					strv_pushf(&p->paths, "./%s", prog);
				else
					strv_pushf(&p->paths, "%.*s/%s", (int)dl, d, prog);
				d += dl;
				if (!*d)
					break;
			}
		}
	}
	for (const char *const *a = spec->args; a && *a; a++)
		strv_push(&p->argv, *a);
	return 0;
}

static void spawn_message(char **err, const char *label, const char *cwd, int stage, int e)
{
	if (!err)
		return;
	switch (stage) {
	case STAGE_CHDIR:
		*err = xasprintf("cannot change directory to \"%s\": %s", cwd, strerror(e));
		break;
	case STAGE_SETSID:
		*err = xasprintf("cannot start a new session for \"%s\": %s", label, strerror(e));
		break;
	case STAGE_FDS:
		*err = xasprintf("cannot set up file descriptors for \"%s\": %s", label,
				 strerror(e));
		break;
	case STAGE_EXEC:
		*err = xasprintf("cannot run \"%s\": %s", label, strerror(e));
		break;
	default:
		*err = xasprintf("cannot start \"%s\": %s", label, strerror(e));
	}
}

static int open_null(int flags)
{
	return open("/dev/null", flags | O_CLOEXEC);
}

static void close_pair(int p[2])
{
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0) {
			close(p[i]);
			p[i] = -1;
		}
}

/* The parent's side of the stdio plumbing; fds[] are closed by the caller. */
struct stdio_fds {
	int in;	      /* /dev/null for stdin, or -1 */
	int null_out; /* /dev/null for stdout+stderr, or -1 */
	int pipes[2][2];
};

static int stdio_prepare(const struct child_spec *spec, struct stdio_fds *s, int *src)
{
	s->in = s->null_out = -1;
	s->pipes[0][0] = s->pipes[0][1] = s->pipes[1][0] = s->pipes[1][1] = -1;
	src[0] = src[1] = src[2] = -1;
	if (spec->in == CHILD_IN_NULL) {
		if ((s->in = open_null(O_RDONLY)) < 0)
			return -errno;
		src[0] = s->in;
	}
	if (spec->out == CHILD_OUT_NULL) {
		if ((s->null_out = open_null(O_WRONLY)) < 0)
			return -errno;
		src[1] = src[2] = s->null_out;
	} else if (spec->out == CHILD_OUT_PIPE) {
		for (int i = 0; i < 2; i++) {
			if (sys_pipe2(s->pipes[i], O_CLOEXEC) < 0)
				return -errno;
			/* only baton's end is non-blocking */
			int fl = fcntl(s->pipes[i][0], F_GETFL);
			if (fl < 0 || fcntl(s->pipes[i][0], F_SETFL, fl | O_NONBLOCK) < 0)
				return -errno;
			src[1 + i] = s->pipes[i][1];
		}
	}
	return 0;
}

static void stdio_close(struct stdio_fds *s, bool read_ends)
{
	if (s->in >= 0)
		close(s->in);
	if (s->null_out >= 0)
		close(s->null_out);
	s->in = s->null_out = -1;
	for (int i = 0; i < 2; i++) {
		if (s->pipes[i][1] >= 0)
			close(s->pipes[i][1]);
		s->pipes[i][1] = -1;
		if (read_ends && s->pipes[i][0] >= 0) {
			close(s->pipes[i][0]);
			s->pipes[i][0] = -1;
		}
	}
}

/* Wait for exec: 0 when the error pipe closed (exec happened), else the child's report. */
static int read_report(int fd, struct exec_report *rep)
{
	ssize_t n;
	do
		n = read(fd, rep, sizeof(*rep));
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(*rep)) {
		rep->err = n < 0 ? errno : EPIPE;
		rep->stage = 0;
	}
	return -1;
}

void child_launch_message(char **err, const char *label, int e)
{
	spawn_message(err, label, NULL, 0, e);
}

int child_launch(const struct child_spec *spec, const char *label, struct child_launch *res,
		 char **err)
{
	struct exec_plan p = {.errfd = -1, .trapfd = -1};
	int trap[2] = {-1, -1};
	struct stdio_fds sio;
	int errpipe[2] = {-1, -1};
	int r;

	res->pid = -1;
	res->out_fds[0] = res->out_fds[1] = -1;
	res->trap_fd = -1;
	sio.in = sio.null_out = -1;
	sio.pipes[0][0] = sio.pipes[0][1] = sio.pipes[1][0] = sio.pipes[1][1] = -1;
	p.nsrc = 3 + spec->nfds;
	p.src = xcalloc((size_t)p.nsrc, sizeof(int));
	p.cwd = spec->cwd;
	p.new_session = spec->new_session;
	long om = sysconf(_SC_OPEN_MAX);
	p.maxfd = om > 0 && om < 65536 ? (int)om : 65536;
	r = plan_env(&p, spec);
	if (r == 0)
		r = plan_command(&p, spec);
	if (r < 0) {
		spawn_message(err, label, NULL, 0, -r);
		goto out_plan;
	}
	for (int i = 0; i < spec->nfds; i++)
		p.src[3 + i] = spec->fds[i];
	r = stdio_prepare(spec, &sio, p.src);
	if (r < 0 || sys_pipe2(errpipe, O_CLOEXEC) < 0) {
		r = r < 0 ? r : -errno;
		spawn_message(err, label, NULL, 0, -r);
		goto out_stdio;
	}
	p.errfd = errpipe[1];
	if (spec->takeover) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, trap) < 0) {
			r = -errno;
			spawn_message(err, label, NULL, 0, -r);
			goto out_stdio;
		}
		p.trapfd = trap[1];
	}

	pid_t pid = sys_fork();
	if (pid < 0) {
		r = -errno;
		spawn_message(err, label, NULL, 0, -r);
		goto out_stdio;
	}
	if (pid == 0)
		child_exec(&p);

	close(errpipe[1]);
	errpipe[1] = -1;
	if (trap[1] >= 0) {
		close(trap[1]);
		trap[1] = -1;
	}
	stdio_close(&sio, false);
	struct exec_report rep;
	if (read_report(errpipe[0], &rep) < 0) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		r = -rep.err;
		spawn_message(err, label, spec->cwd, rep.stage, rep.err);
		goto out_stdio;
	}
	res->pid = pid;
	for (int i = 0; i < 2; i++) {
		res->out_fds[i] = sio.pipes[i][0];
		sio.pipes[i][0] = -1;
	}
	if (trap[0] >= 0) {
		int lfd = bindtrap_recv(trap[0]);
		res->trap_fd = lfd >= 0 ? lfd : -1;
	}
	r = 0;

out_stdio:
	stdio_close(&sio, true);
	close_pair(errpipe);
	close_pair(trap);
out_plan:
	plan_free(&p);
	return r;
}
