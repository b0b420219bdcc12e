#include "sup/upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/log.h"
#include "net/notify.h"
#include "util/buf.h"
#include "util/fileio.h"
#include "util/strv.h"
#include "util/xalloc.h"

#define UPGRADE_DOC_MAX (1 << 20)
#define UPGRADE_ARGS_MAX (1 << 20)

extern char **environ;

void upgrade_state_init(struct upgrade_state *st)
{
	memset(st, 0, sizeof(*st));
	st->ctl_fd = -1;
	st->reply_fd = -1;
	st->notify_fd = -1;
	for (int i = 0; i < UPGRADE_MAX_LISTEN; i++)
		st->listen_fd[i] = -1;
}

void upgrade_state_release(struct upgrade_state *st)
{
	for (size_t i = 0; i < st->nstore; i++)
		free(st->store[i].name);
	free(st->store);
	upgrade_state_init(st);
}

void upgrade_state_store(struct upgrade_state *st, int fd, const char *name)
{
	st->store = xgrow(st->store, &st->store_cap, st->nstore + 1, sizeof(*st->store));
	st->store[st->nstore].fd = fd;
	st->store[st->nstore].name = xstrdup(name);
	st->nstore++;
}

/* A store entry that can be handed over (and is: the others are neither written nor kept). */
static bool stored_ok(const struct upgrade_stored *e)
{
	return e->fd >= 3 && notify_fdname_valid(e->name, strlen(e->name));
}

static const char *state_word(enum gen_state s)
{
	return gen_state_name(s);
}

static int state_parse(const char *w, enum gen_state *out)
{
	for (int s = GEN_STARTING; s <= GEN_EXITED; s++) {
		if (strcmp(w, gen_state_name((enum gen_state)s)) == 0) {
			*out = (enum gen_state)s;
			return 0;
		}
	}
	return -EINVAL;
}

char *upgrade_format(const struct upgrade_state *st)
{
	struct buf b = BUF_INIT;
	buf_printf(&b,
		   "baton-upgrade 1\nstarted %" PRId64 "\nfirst-ready %d\ncrashes %d\n"
		   "last-id %d\n",
		   st->started_ms, st->first_ready, st->crashes, st->last_id);
	for (int i = 0; i < st->nlisten && i < UPGRADE_MAX_LISTEN; i++)
		if (st->listen_fd[i] >= 0)
			buf_printf(&b, "listen %d %d\n", i, st->listen_fd[i]);
	if (st->ctl_fd >= 0)
		buf_printf(&b, "ctl %d\n", st->ctl_fd);
	if (st->reply_fd >= 0)
		buf_printf(&b, "reply %d\n", st->reply_fd);
	if (st->notify_fd >= 0 && st->notify[0] && !strpbrk(st->notify, " \n"))
		buf_printf(&b, "notify %d %s\n", st->notify_fd, st->notify);
	for (size_t i = 0; i < st->nstore; i++)
		if (stored_ok(&st->store[i]))
			buf_printf(&b, "store %d %s\n", st->store[i].fd, st->store[i].name);
	for (int i = 0; i < st->ngens && i < UPGRADE_MAX_GENS; i++) {
		const struct gen_info *g = &st->gens[i];
		buf_printf(&b, "gen %d %d %s %" PRId64 " %" PRId64 "\n", g->id, (int)g->pid,
			   state_word(g->state), g->started_ms, g->ready_ms);
	}
	if (st->have_last) {
		buf_printf(&b, "last %d %" PRId64 " %" PRId64 " %" PRId64 " ", st->last_ok,
			   st->last_duration_ms, st->last_at_ms, st->last_at_unix_ms);
		for (const char *p = st->last_reason; *p; p++)
			buf_printf(&b, "%c", *p == '\n' ? ' ' : *p);
		buf_puts(&b, "\n");
	}
	return buf_detach(&b);
}

static int num(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "store <fd> <name>": the name is the rest of the line, spaces included. */
static int parse_store(char *ln, struct upgrade_state *st)
{
	char *fd_s = ln + strlen("store ");
	char *sp = strchr(fd_s, ' ');
	if (!sp)
		return -EINVAL;
	*sp = '\0';
	const char *name = sp + 1;
	int64_t fd;
	if (st->nstore >= UPGRADE_MAX_STORE || num(fd_s, 3, 0x7fffffff, &fd) < 0 ||
	    !notify_fdname_valid(name, strlen(name)))
		return -EINVAL;
	upgrade_state_store(st, (int)fd, name);
	return 0;
}

static int parse_line(char *ln, struct upgrade_state *st)
{
	if (strncmp(ln, "store ", 6) == 0)
		return parse_store(ln, st);
	char *w[8];
	int n = 0;
	char *save = NULL;
	/* "last" keeps the rest of its line (after 5 words) as the reason */
	bool is_last = strncmp(ln, "last ", 5) == 0;
	int max = is_last ? 5 : 8;
	for (char *t = strtok_r(ln, " ", &save); t && n < max;
	     t = n < max ? strtok_r(NULL, " ", &save) : NULL)
		w[n++] = t;
	char *rest = is_last ? save : NULL;
	if (!is_last && strtok_r(NULL, " ", &save))
		return -EINVAL;
	if (n == 0)
		return -EINVAL;
	int64_t a, b2, c, d;
	const int64_t I = 0x7fffffff, T = INT64_MAX / 2;
	if (strcmp(w[0], "started") == 0 && n == 2)
		return num(w[1], 0, T, &st->started_ms);
	if (strcmp(w[0], "first-ready") == 0 && n == 2 && num(w[1], 0, 1, &a) == 0) {
		st->first_ready = a;
		return 0;
	}
	if (strcmp(w[0], "crashes") == 0 && n == 2 && num(w[1], 0, I, &a) == 0) {
		st->crashes = (int)a;
		return 0;
	}
	if (strcmp(w[0], "last-id") == 0 && n == 2 && num(w[1], 0, I, &a) == 0) {
		st->last_id = (int)a;
		return 0;
	}
	if (strcmp(w[0], "listen") == 0 && n == 3 &&
	    num(w[1], 0, UPGRADE_MAX_LISTEN - 1, &a) == 0 && num(w[2], 0, I, &b2) == 0) {
		st->listen_fd[a] = (int)b2;
		if (a + 1 > st->nlisten)
			st->nlisten = (int)a + 1;
		return 0;
	}
	if ((strcmp(w[0], "ctl") == 0 || strcmp(w[0], "reply") == 0) && n == 2 &&
	    num(w[1], 0, I, &a) == 0) {
		*(w[0][0] == 'c' ? &st->ctl_fd : &st->reply_fd) = (int)a;
		return 0;
	}
	if (strcmp(w[0], "notify") == 0 && n == 3 && num(w[1], 0, I, &a) == 0 &&
	    strlen(w[2]) < sizeof(st->notify)) {
		st->notify_fd = (int)a;
		snprintf(st->notify, sizeof(st->notify), "%s", w[2]);
		return 0;
	}
	if (strcmp(w[0], "gen") == 0 && n == 6 && st->ngens < UPGRADE_MAX_GENS) {
		struct gen_info *g = &st->gens[st->ngens];
		if (num(w[1], 1, I, &a) < 0 || num(w[2], 1, I, &b2) < 0 ||
		    state_parse(w[3], &g->state) < 0 || num(w[4], 0, T, &c) < 0 ||
		    num(w[5], 0, T, &d) < 0)
			return -EINVAL;
		g->id = (int)a;
		g->pid = (pid_t)b2;
		g->started_ms = c;
		g->ready_ms = d;
		st->ngens++;
		return 0;
	}
	if (is_last && n == 5 && num(w[1], 0, 1, &a) == 0 && num(w[2], 0, T, &b2) == 0 &&
	    num(w[3], 0, T, &c) == 0 && num(w[4], 0, T, &d) == 0) {
		st->have_last = true;
		st->last_ok = a;
		st->last_duration_ms = b2;
		st->last_at_ms = c;
		st->last_at_unix_ms = d;
		snprintf(st->last_reason, sizeof(st->last_reason), "%s", rest ? rest : "");
		return 0;
	}
	return -EINVAL;
}

int upgrade_parse(const char *text, struct upgrade_state *st)
{
	upgrade_state_init(st);
	char *copy = xstrdup(text);
	char *save = NULL;
	int r = -EINVAL;
	char *ln = strtok_r(copy, "\n", &save);
	if (!ln || strcmp(ln, "baton-upgrade 1") != 0)
		goto out;
	while ((ln = strtok_r(NULL, "\n", &save)))
		if ((r = parse_line(ln, st)) < 0)
			goto out;
	r = 0;
out:
	free(copy);
	if (r < 0)
		upgrade_state_release(st);
	return r;
}

/* baton's own argv, from /proc/self/cmdline. */
static int own_argv(struct strv *out)
{
	char *text = NULL;
	size_t len = 0;
	int r = file_read_all("/proc/self/cmdline", UPGRADE_ARGS_MAX, &text, &len);
	if (r < 0)
		return r;
	for (size_t off = 0; off < len; off += strlen(text + off) + 1)
		strv_push(out, text + off);
	free(text);
	return out->n ? 0 : -EINVAL;
}

static void keep_fds(const struct upgrade_state *st, int memfd, bool keep)
{
	for (int i = 0; i < st->nlisten; i++)
		if (st->listen_fd[i] >= 0)
			fd_set_cloexec(st->listen_fd[i], !keep);
	if (st->ctl_fd >= 0)
		fd_set_cloexec(st->ctl_fd, !keep);
	if (st->reply_fd >= 0)
		fd_set_cloexec(st->reply_fd, !keep);
	if (st->notify_fd >= 0)
		fd_set_cloexec(st->notify_fd, !keep);
	for (size_t i = 0; i < st->nstore; i++)
		if (stored_ok(&st->store[i]))
			fd_set_cloexec(st->store[i].fd, !keep);
	fd_set_cloexec(memfd, !keep);
}

static void set_err(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(char **err, const char *fmt, ...)
{
	if (!err)
		return;
	va_list ap;
	va_start(ap, fmt);
	*err = xvasprintf(fmt, ap);
	va_end(ap);
}

int upgrade_exec(const char *exe, const struct upgrade_state *st, char **err)
{
	struct strv argv = STRV_INIT;
	int r = own_argv(&argv);
	if (r < 0) {
		set_err(err, "cannot read baton's arguments: %s", strerror(-r));
		strv_release(&argv);
		return r;
	}
	int memfd = memfd_create("baton-upgrade", MFD_CLOEXEC);
	if (memfd < 0) {
		r = -errno;
		set_err(err, "cannot create the handoff memfd: %s", strerror(errno));
		strv_release(&argv);
		return r;
	}
	char *doc = upgrade_format(st);
	r = fd_write_all(memfd, doc, strlen(doc));
	free(doc);
	if (r == 0 && lseek(memfd, 0, SEEK_SET) < 0)
		r = -errno;
	if (r < 0) {
		set_err(err, "cannot write the handoff memfd: %s", strerror(-r));
		goto out;
	}
	char num_s[16];
	snprintf(num_s, sizeof(num_s), "%d", memfd);
	keep_fds(st, memfd, true);
	setenv(UPGRADE_ENV, num_s, 1);
	execve(exe, argv.v, environ);
	r = -errno;
	unsetenv(UPGRADE_ENV);
	keep_fds(st, memfd, false);
	set_err(err, "cannot execute \"%s\": %s", exe, strerror(-r));
out:
	close(memfd);
	strv_release(&argv);
	return r;
}

int upgrade_take(struct upgrade_state *st)
{
	upgrade_state_init(st);
	const char *v = getenv(UPGRADE_ENV);
	if (!v)
		return 0;
	int64_t fd;
	int r = num(v, 0, 0x7fffffff, &fd);
	unsetenv(UPGRADE_ENV);
	if (r < 0) {
		log_error("ignoring %s: not an fd number", UPGRADE_ENV);
		return r;
	}
	char *doc = xmalloc(UPGRADE_DOC_MAX + 1);
	size_t len = 0;
	while (len < UPGRADE_DOC_MAX) {
		ssize_t n = read((int)fd, doc + len, UPGRADE_DOC_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : 0;
			break;
		}
		len += (size_t)n;
	}
	close((int)fd);
	doc[len] = '\0';
	if (r == 0)
		r = strlen(doc) == len ? upgrade_parse(doc, st) : -EINVAL;
	free(doc);
	if (r < 0) {
		log_error("cannot read the upgrade handoff: %s",
			  r == -EINVAL ? "malformed" : strerror(-r));
		upgrade_state_init(st);
		return r;
	}
	for (int i = 0; i < st->nlisten; i++)
		if (st->listen_fd[i] >= 0)
			fd_set_cloexec(st->listen_fd[i], true);
	if (st->ctl_fd >= 0)
		fd_set_cloexec(st->ctl_fd, true);
	if (st->reply_fd >= 0)
		fd_set_cloexec(st->reply_fd, true);
	if (st->notify_fd >= 0)
		fd_set_cloexec(st->notify_fd, true);
	for (size_t i = 0; i < st->nstore; i++)
		fd_set_cloexec(st->store[i].fd, true);
	return 1;
}
