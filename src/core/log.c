#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/loop.h"
#include "util/buf.h"
#include "util/fileio.h"
#include "util/json.h"
#include "util/timeutil.h"

/* Process-wide logging settings: written once by log_setup() before the loop starts, read-only
 * afterwards. The one deliberate exception to "no mutable globals": every module logs. */
static struct {
	enum log_level min;
	enum log_color color;
	bool json;
	bool timestamps;
} log_cfg = {LOG_INFO, LOG_COLOR_AUTO, false, false};

void log_setup(enum log_level min, enum log_color color, bool json, bool timestamps)
{
	log_cfg.min = min;
	log_cfg.color = color;
	log_cfg.json = json;
	log_cfg.timestamps = timestamps;
}

bool log_json(void)
{
	return log_cfg.json;
}

void log_json_output(int fd, const char *source, int gen, const char *line, size_t len)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct buf text = BUF_INIT;
	buf_append(&text, line, len); /* json_str takes a C string: a NUL byte ends the line */
	struct buf b = BUF_INIT;
	buf_puts(&b, "{\"time\":");
	json_time(&b, (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
	buf_puts(&b, ",\"source\":");
	json_str(&b, source);
	if (gen > 0)
		buf_printf(&b, ",\"generation\":%d", gen);
	buf_puts(&b, ",\"line\":");
	json_str(&b, buf_cstr(&text));
	buf_puts(&b, "}\n");
	log_write(fd, b.p, b.len);
	buf_release(&b);
	buf_release(&text);
}

bool log_use_color(int fd)
{
	if (log_cfg.json || log_cfg.color == LOG_COLOR_NEVER)
		return false;
	if (log_cfg.color == LOG_COLOR_ALWAYS)
		return true;
	const char *nc = getenv("NO_COLOR");
	if (nc && *nc)
		return false;
	const char *term = getenv("TERM");
	if (term && strcmp(term, "dumb") == 0)
		return false;
	return isatty(fd);
}

const char *log_c(const char *ansi)
{
	return log_use_color(2) ? ansi : "";
}

/* "2026-12-04T10:31:02.123Z ": UTC, milliseconds (log.timestamps) */
static void put_time(struct buf *b, const struct timespec *ts)
{
	struct tm tm;
	char day[32];
	gmtime_r(&ts->tv_sec, &tm);
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	buf_printf(b, "%s.%03ldZ ", day, ts->tv_nsec / 1000000);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	int saved = errno;
	if (lvl < log_cfg.min) {
		errno = saved;
		return;
	}
	char msg[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	static const char *const names[] = {"debug", "info", "warning", "error"};
	struct buf b = BUF_INIT;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (log_cfg.json) {
		buf_puts(&b, "{\"time\":");
		json_time(&b, (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
		buf_printf(&b, ",\"level\":\"%s\",\"msg\":", names[lvl]);
		json_str(&b, msg);
		buf_puts(&b, "}\n");
	} else {
		bool col = log_use_color(2);
		if (log_cfg.timestamps)
			put_time(&b, &ts);
		buf_printf(&b, "%sbaton%s: ", col ? "\033[1;34m" : "", col ? "\033[0m" : "");
		if (lvl == LOG_WARN)
			buf_printf(&b, "%swarning:%s ", col ? "\033[33m" : "",
				   col ? "\033[0m" : "");
		else if (lvl == LOG_ERROR)
			buf_printf(&b, "%serror:%s ", col ? "\033[31m" : "", col ? "\033[0m" : "");
		buf_puts(&b, msg);
		buf_putc(&b, '\n');
	}
	log_write(2, b.p, b.len);
	buf_release(&b);
	errno = saved;
}

/* ---- output that never blocks the loop ----
 *
 * While a loop is attached, each of stdout and stderr is a sink: a write that would block
 * queues the rest (whole lines past LOG_QUEUE_MAX are dropped and counted), and the loop sends
 * the queue when the fd is writable, then a note of what was dropped. Pipes and terminals get a
 * file description of their own (opened through /proc/self/fd) in non-blocking mode, so the
 * app's and the shell's view of the fd is untouched; sockets (journald's stream) are sent to
 * with MSG_DONTWAIT; regular files and others are written as before (they do not block on a
 * stalled reader). Another process-wide state, like log_cfg: there is one stdout and one
 * stderr. */

#define LOG_QUEUE_MAX (256 * 1024)

enum sink_mode { SINK_BLOCKING, SINK_NONBLOCK_FD, SINK_SOCKET };

struct sink {
	int fd;	 /* 1 or 2 */
	int wfd; /* what is written to: fd, or our non-blocking description of it */
	enum sink_mode mode;
	struct buf q; /* queued bytes (from q_off) */
	size_t q_off;
	unsigned long dropped; /* lines */
	struct loop_src *src;
};

static struct {
	struct loop *loop;
	struct sink s[2]; /* stdout, stderr */
} out = {.s = {{.fd = 1, .wfd = 1}, {.fd = 2, .wfd = 2}}};

static struct sink *sink_of(int fd)
{
	return fd == 1 || fd == 2 ? &out.s[fd - 1] : NULL;
}

/* One non-blocking write attempt: bytes written, or -errno. */
static ssize_t sink_try(struct sink *k, const char *p, size_t n)
{
	ssize_t w;
	do {
		if (k->mode == SINK_SOCKET)
			w = send(k->wfd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		else
			w = write(k->wfd, p, n);
	} while (w < 0 && errno == EINTR);
	return w < 0 ? -errno : w;
}

static void sink_arm(struct sink *k, bool want)
{
	if (!out.loop || !k->src)
		return;
	(void)loop_mod(out.loop, k->src, want ? EPOLLOUT : 0);
}

/* Send what is queued; 0 when the queue is empty, -EAGAIN while it is not, or another -errno
 * (the reader went away: the queue is dropped). */
static int sink_flush(struct sink *k)
{
	for (;;) {
		if (k->q_off == k->q.len && k->dropped) {
			char note[96];
			int n = snprintf(note, sizeof(note),
					 "baton: warning: %lu log lines dropped (output blocked)\n",
					 k->dropped);
			k->dropped = 0;
			buf_append(&k->q, note, (size_t)n);
		}
		if (k->q_off == k->q.len) {
			buf_reset(&k->q);
			k->q_off = 0;
			return 0;
		}
		ssize_t w = sink_try(k, k->q.p + k->q_off, k->q.len - k->q_off);
		if (w == -EAGAIN)
			return -EAGAIN;
		if (w < 0) {
			buf_reset(&k->q);
			k->q_off = 0;
			k->dropped = 0;
			return (int)w;
		}
		k->q_off += (size_t)w;
	}
}

static void sink_queue(struct sink *k, const char *p, size_t n)
{
	if (k->q.len - k->q_off + n > LOG_QUEUE_MAX) {
		for (size_t i = 0; i < n; i++)
			k->dropped += p[i] == '\n';
		if (n && p[n - 1] != '\n')
			k->dropped++;
		return;
	}
	if (k->q_off > 0 && k->q_off == k->q.len) {
		buf_reset(&k->q);
		k->q_off = 0;
	}
	buf_append(&k->q, p, n);
}

void log_write(int fd, const void *data, size_t len)
{
	struct sink *k = sink_of(fd);
	if (!k || k->mode == SINK_BLOCKING) {
		(void)fd_write_all(fd, data, len);
		return;
	}
	const char *p = data;
	if (k->q_off == k->q.len && !k->dropped) {
		while (len > 0) {
			ssize_t w = sink_try(k, p, len);
			if (w < 0)
				break;
			p += w;
			len -= (size_t)w;
		}
		if (len == 0)
			return;
	}
	sink_queue(k, p, len);
	sink_arm(k, true);
}

static void on_writable(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)l;
	(void)fd;
	(void)events;
	struct sink *k = data;
	if (sink_flush(k) != -EAGAIN)
		sink_arm(k, false);
}

static void sink_open(struct sink *k)
{
	struct stat st;
	if (fstat(k->fd, &st) < 0)
		return;
	if (S_ISSOCK(st.st_mode)) {
		k->mode = SINK_SOCKET;
		k->wfd = fcntl(k->fd, F_DUPFD_CLOEXEC, 3);
	} else if (S_ISFIFO(st.st_mode) || (S_ISCHR(st.st_mode) && isatty(k->fd))) {
		char path[32];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", k->fd);
		k->mode = SINK_NONBLOCK_FD;
		k->wfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	} else {
		return;
	}
	if (k->wfd < 0)
		goto out_blocking;
	k->src = loop_add(out.loop, k->wfd, 0, on_writable, k);
	if (!k->src) {
		close(k->wfd);
		goto out_blocking;
	}
	return;
out_blocking:
	k->mode = SINK_BLOCKING;
	k->wfd = k->fd;
}

void log_attach_loop(struct loop *l)
{
	if (out.loop)
		return;
	out.loop = l;
	for (int i = 0; i < 2; i++)
		sink_open(&out.s[i]);
}

void log_detach_loop(int64_t flush_timeout_ms)
{
	if (!out.loop)
		return;
	int64_t deadline = now_ms() + flush_timeout_ms;
	for (int i = 0; i < 2; i++) {
		struct sink *k = &out.s[i];
		while (k->mode != SINK_BLOCKING && sink_flush(k) == -EAGAIN) {
			int64_t left = deadline - now_ms();
			if (left <= 0)
				break;
			struct pollfd pfd = {.fd = k->wfd, .events = POLLOUT};
			(void)poll(&pfd, 1, (int)left);
		}
		if (k->src)
			loop_del(out.loop, k->src);
		if (k->wfd != k->fd)
			close(k->wfd);
		buf_release(&k->q);
		*k = (struct sink){.fd = k->fd, .wfd = k->fd};
	}
	out.loop = NULL;
}

size_t log_queued(int fd)
{
	struct sink *k = sink_of(fd);
	return k ? k->q.len - k->q_off : 0;
}
