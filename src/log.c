#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/fileio.h"

/* Process-wide logging settings: written once by log_setup() before the loop starts, read-only
 * afterwards. The one deliberate exception to "no mutable globals": every module logs. */
static struct {
	enum log_level min;
	enum log_color color;
	bool json;
} log_cfg = {LOG_INFO, LOG_COLOR_AUTO, false};

void log_setup(enum log_level min, enum log_color color, bool json)
{
	log_cfg.min = min;
	log_cfg.color = color;
	log_cfg.json = json;
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

static void json_escape(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c == '\n')
			buf_puts(b, "\\n");
		else if (c < 0x20)
			buf_printf(b, "\\u%04x", c);
		else
			buf_putc(b, (char)c);
	}
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
	if (log_cfg.json) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		buf_printf(&b, "{\"ts\":%lld.%03ld,\"level\":\"%s\",\"msg\":\"", (long long)ts.tv_sec,
			   ts.tv_nsec / 1000000, names[lvl]);
		json_escape(&b, msg);
		buf_puts(&b, "\"}\n");
	} else {
		bool col = log_use_color(2);
		buf_printf(&b, "%sbaton%s: ", col ? "\033[1;34m" : "", col ? "\033[0m" : "");
		if (lvl == LOG_WARN)
			buf_printf(&b, "%swarning:%s ", col ? "\033[33m" : "", col ? "\033[0m" : "");
		else if (lvl == LOG_ERROR)
			buf_printf(&b, "%serror:%s ", col ? "\033[31m" : "", col ? "\033[0m" : "");
		buf_puts(&b, msg);
		buf_putc(&b, '\n');
	}
	(void)fd_write_all(2, b.p, b.len);
	buf_free(&b);
	errno = saved;
}
