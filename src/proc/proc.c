#include "proc/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/xalloc.h"

/* Longest ppid chain followed before giving up (guards against a /proc that lies or races). */
#define PROC_MAX_DEPTH 4096

/* Parse a positive decimal pid from [*p, end); advances *p. */
static int parse_pid(const char **p, const char *end, pid_t *out)
{
	const char *s = *p;
	long long v = 0;
	if (s >= end || *s < '0' || *s > '9')
		return -EINVAL;
	while (s < end && *s >= '0' && *s <= '9') {
		v = v * 10 + (*s - '0');
		if (v > INT_MAX)
			return -EINVAL;
		s++;
	}
	*p = s;
	*out = (pid_t)v;
	return 0;
}

int proc_parse_stat_ppid(const char *text, size_t len, pid_t *ppid)
{
	/* comm is whatever lies between the first '(' and the last ')' */
	const char *end = text + len;
	const char *rp = NULL;
	for (const char *q = text; q < end; q++)
		if (*q == ')')
			rp = q;
	if (!rp || !memchr(text, '(', (size_t)(rp - text)))
		return -EINVAL;
	const char *p = rp + 1;
	/* " S ppid" */
	if (end - p < 4 || p[0] != ' ' || p[2] != ' ')
		return -EINVAL;
	p += 3;
	pid_t v;
	if (parse_pid(&p, end, &v) < 0)
		return -EINVAL;
	if (p < end && *p != ' ' && *p != '\n')
		return -EINVAL;
	*ppid = v;
	return 0;
}

/* Read a small /proc file into buf (NUL-terminated); returns length or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = 0;
	while (len + 1 < cap) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			return -e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

int proc_ppid(pid_t pid, pid_t *ppid)
{
	char path[64], buf[1024];
	if (pid <= 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	ssize_t n = read_small(path, buf, sizeof(buf));
	if (n < 0)
		return n == -ENOENT ? -ESRCH : (int)n;
	return proc_parse_stat_ppid(buf, (size_t)n, ppid);
}

bool proc_is_descendant(pid_t pid, pid_t ancestor)
{
	if (pid <= 0 || ancestor <= 0)
		return false;
	for (int depth = 0; depth < PROC_MAX_DEPTH; depth++) {
		if (pid == ancestor)
			return true;
		if (pid <= 1)
			return false;
		pid_t pp;
		if (proc_ppid(pid, &pp) < 0)
			return false;
		pid = pp;
	}
	return false;
}

static void push_pid(pid_t **v, size_t *n, size_t *cap, pid_t pid)
{
	for (size_t i = 0; i < *n; i++)
		if ((*v)[i] == pid)
			return;
	*v = xgrow(*v, cap, *n + 1, sizeof(**v));
	(*v)[(*n)++] = pid;
}

/* Parse "12 34 56 " into the vector. */
static void parse_children_list(const char *s, pid_t **v, size_t *n, size_t *cap)
{
	const char *end = s + strlen(s);
	while (s < end) {
		while (s < end && (*s == ' ' || *s == '\n'))
			s++;
		pid_t pid;
		if (parse_pid(&s, end, &pid) < 0)
			return;
		if (pid > 0)
			push_pid(v, n, cap, pid);
	}
}

/* Via /proc/<parent>/task/<tid>/children (CONFIG_PROC_CHILDREN). -ENOENT when unsupported. */
static int children_from_task_files(pid_t parent, pid_t **v, size_t *n, size_t *cap)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)parent);
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ESRCH : -errno;
	int r = 0;
	bool any = false;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		char cpath[300];
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children", (int)parent,
			 de->d_name);
		/* enough for thousands of children; longer lists are truncated, then the
		 * caller's next scan picks up the rest */
		char *buf = xmalloc(65536);
		ssize_t len = read_small(cpath, buf, 65536);
		if (len == -ENOENT) {
			free(buf);
			/* either the thread vanished or the kernel lacks the file: decide by
			 * the main thread's file */
			if (!any && atoi(de->d_name) == (int)parent) {
				r = -ENOENT;
				break;
			}
			continue;
		}
		if (len < 0) {
			free(buf);
			continue;
		}
		any = true;
		parse_children_list(buf, v, n, cap);
		free(buf);
	}
	closedir(d);
	return r;
}

static int children_from_scan(pid_t parent, pid_t **v, size_t *n, size_t *cap)
{
	DIR *d = opendir("/proc");
	if (!d)
		return -errno;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *p = de->d_name, *end = p + strlen(p);
		pid_t pid, pp;
		if (parse_pid(&p, end, &pid) < 0 || p != end)
			continue;
		if (proc_ppid(pid, &pp) == 0 && pp == parent)
			push_pid(v, n, cap, pid);
	}
	closedir(d);
	return 0;
}

int proc_children(pid_t parent, pid_t **out, size_t *n)
{
	pid_t *v = NULL;
	size_t cnt = 0, cap = 0;
	*out = NULL;
	*n = 0;
	if (parent <= 0)
		return -EINVAL;
	int r = children_from_task_files(parent, &v, &cnt, &cap);
	if (r == -ENOENT) {
		cnt = 0;
		r = children_from_scan(parent, &v, &cnt, &cap);
	}
	if (r < 0) {
		free(v);
		return r;
	}
	if (cnt == 0) {
		free(v);
		v = NULL;
	}
	*out = v;
	*n = cnt;
	return 0;
}
