#include "sup/runstate.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/fileio.h"
#include "util/xalloc.h"

#define RUNSTATE_FILE_MAX (256 * 1024)

static bool name_char_plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

static void put_name(struct buf *b, const char *name)
{
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (name_char_plain(*p))
			buf_printf(b, "%c", *p);
		else
			buf_printf(b, "%%%02X", *p);
	}
}

char *runstate_format(const struct runstate *st)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "baton-state 1\nbaton %d %llu\n", (int)st->baton_pid, st->baton_start);
	for (int i = 0; i < st->ngens && i < RUNSTATE_MAX_GENS; i++) {
		const struct runstate_gen *g = &st->gens[i];
		buf_printf(&b, "gen %d %d %llu %s", g->id, (int)g->pid, g->start,
			   g->state[0] ? g->state : "ready");
		for (int j = 0; j < g->nfds && j < RUNSTATE_MAX_FDS; j++) {
			buf_printf(&b, " %d=", g->fds[j].fd);
			put_name(&b, g->fds[j].name);
		}
		buf_puts(&b, "\n");
	}
	return buf_detach(&b);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int get_name(const char *s, char *out, size_t outlen)
{
	size_t n = 0;
	for (; *s; s++) {
		int c = (unsigned char)*s;
		if (c == '%') {
			int h = s[1] ? hexval(s[1]) : -1, l = h >= 0 && s[2] ? hexval(s[2]) : -1;
			if (h < 0 || l < 0)
				return -EINVAL;
			c = h * 16 + l;
			s += 2;
		} else if (!name_char_plain((unsigned char)c)) {
			return -EINVAL;
		}
		if (n + 1 < outlen)
			out[n++] = (char)c;
	}
	out[n] = '\0';
	return 0;
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_ull(const char *s, unsigned long long *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end ? -EINVAL : 0;
}

static int parse_gen(char **tok, int ntok, struct runstate_gen *g)
{
	long id, pid;
	if (ntok < 5 || parse_long(tok[1], 1, INT_MAX, &id) < 0 ||
	    parse_long(tok[2], 1, INT_MAX, &pid) < 0 || parse_ull(tok[3], &g->start) < 0 ||
	    strlen(tok[4]) >= sizeof(g->state) || ntok - 5 > RUNSTATE_MAX_FDS)
		return -EINVAL;
	g->id = (int)id;
	g->pid = (pid_t)pid;
	snprintf(g->state, sizeof(g->state), "%s", tok[4]);
	for (int i = 5; i < ntok; i++) {
		char *eq = strchr(tok[i], '=');
		long fd;
		if (!eq)
			return -EINVAL;
		*eq = '\0';
		if (parse_long(tok[i], 3, INT_MAX, &fd) < 0 ||
		    get_name(eq + 1, g->fds[g->nfds].name, RUNSTATE_NAME_MAX) < 0)
			return -EINVAL;
		g->fds[g->nfds++].fd = (int)fd;
	}
	return 0;
}

int runstate_parse(const char *text, struct runstate *st)
{
	memset(st, 0, sizeof(*st));
	char *copy = xstrdup(text);
	int r = -EINVAL;
	int line = 0;
	bool have_baton = false;
	char *save = NULL;
	for (char *ln = strtok_r(copy, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
		char *tok[RUNSTATE_MAX_FDS + 6];
		int ntok = 0;
		char *s2 = NULL;
		for (char *t = strtok_r(ln, " ", &s2); t; t = strtok_r(NULL, " ", &s2)) {
			if (ntok == (int)(sizeof(tok) / sizeof(tok[0])))
				goto out;
			tok[ntok++] = t;
		}
		if (ntok == 0)
			goto out;
		if (line++ == 0) {
			if (ntok != 2 || strcmp(tok[0], "baton-state") != 0 || strcmp(tok[1], "1"))
				goto out;
		} else if (strcmp(tok[0], "baton") == 0) {
			long pid;
			if (have_baton || ntok != 3 || parse_long(tok[1], 1, INT_MAX, &pid) < 0 ||
			    parse_ull(tok[2], &st->baton_start) < 0)
				goto out;
			st->baton_pid = (pid_t)pid;
			have_baton = true;
		} else if (strcmp(tok[0], "gen") == 0) {
			if (st->ngens == RUNSTATE_MAX_GENS ||
			    parse_gen(tok, ntok, &st->gens[st->ngens]) < 0)
				goto out;
			st->ngens++;
		} else {
			goto out;
		}
	}
	r = have_baton ? 0 : -EINVAL;
out:
	free(copy);
	return r;
}

int runstate_write(const char *path, const struct runstate *st)
{
	char *text = runstate_format(st);
	int r = file_write_atomic(path, text, strlen(text), 0600);
	free(text);
	return r;
}

int runstate_read(const char *path, struct runstate *st)
{
	char *text = NULL;
	size_t len = 0;
	int r = file_read_all(path, RUNSTATE_FILE_MAX, &text, &len);
	if (r < 0)
		return r;
	r = strlen(text) == len ? runstate_parse(text, st) : -EINVAL;
	free(text);
	return r;
}

int runstate_parse_stat(const char *text, char *state, unsigned long long *start)
{
	const char *p = strrchr(text, ')');
	if (!p || p[1] != ' ')
		return -EINVAL;
	p += 2;
	/* after "pid (comm) ": field 3 is the state, field 22 the start time */
	*state = *p;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -EINVAL;
		p++;
	}
	char *end;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	errno = 0;
	*start = strtoull(p, &end, 10);
	return errno || (*end != ' ' && *end != '\n' && *end) ? -EINVAL : 0;
}

int runstate_proc_start(pid_t pid, unsigned long long *start)
{
	char path[64], text[1024];
	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	ssize_t n = read(fd, text, sizeof(text) - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return e == ESRCH ? -ESRCH : -e;
	text[n] = '\0';
	char state;
	if (runstate_parse_stat(text, &state, start) < 0)
		return -EINVAL;
	return state == 'Z' || state == 'X' ? -ESRCH : 0;
}

bool runstate_alive(pid_t pid, unsigned long long start)
{
	unsigned long long s;
	return runstate_proc_start(pid, &s) == 0 && s == start;
}
