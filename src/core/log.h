/* The one log module. Lines go to stderr: "baton: message" (text) or one JSON object per line.
 * Messages are lowercase, without a final period, with the subject in quotes. Every log_* call
 * preserves errno. */
#ifndef BATON_LOG_H
#define BATON_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_color { LOG_COLOR_AUTO, LOG_COLOR_ALWAYS, LOG_COLOR_NEVER };

/* Configure once at start (defaults: info, auto colour, text, no timestamps). timestamps: text
 * lines start with the UTC time, "2026-12-04T10:31:02.123Z baton: ..." (JSON lines always
 * carry it: {"time":"2026-12-04T10:31:02.123Z","level":"info","msg":"..."}). */
void log_setup(enum log_level min, enum log_color color, bool json, bool timestamps);
/* Whether lines are JSON objects ([log] format = "json"); obs then logs every event as its
 * JSON record (obs/events.h, ev_log_start). */
bool log_json(void);
/* [log] format = "json": one line of a child's output (the build's, an app's in dev mode) as
 * {"time":...,"source":"build","generation":2,"line":"..."} on fd (gen 0: left out). */
void log_json_output(int fd, const char *source, int gen, const char *line, size_t len);
/* True when colour escapes should be written to fd (honours NO_COLOR and isatty). */
bool log_use_color(int fd);

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* Write to fd 1 or 2 (any other fd: a plain blocking write). While a loop is attached, it
 * never blocks: what the fd does not take now is queued (at most 256 KiB; whole lines past that
 * are dropped, and a note says how many once the reader catches up) and sent when the fd is
 * writable. */
void log_write(int fd, const void *data, size_t len);
/* From now on, stdout and stderr writes go through the loop (pipes and terminals get their own
 * non-blocking file description; sockets are sent to with MSG_DONTWAIT). Call once the loop
 * exists; log_detach_loop() before freeing it: it sends what is queued, waiting at most
 * flush_timeout_ms, and drops the rest. */
struct loop;
void log_attach_loop(struct loop *l);
void log_detach_loop(int64_t flush_timeout_ms);
/* Bytes queued for fd (1 or 2), for tests. */
size_t log_queued(int fd);

/* ANSI colours, or "" when colour is off for stderr. */
const char *log_c(const char *ansi);
#define C_RESET log_c("\033[0m")
#define C_BOLD log_c("\033[1m")
#define C_DIM log_c("\033[2m")
#define C_RED log_c("\033[31m")
#define C_GREEN log_c("\033[32m")
#define C_YELLOW log_c("\033[33m")
#define C_BLUE log_c("\033[34m")
#define C_CYAN log_c("\033[36m")

#endif
