/* The one log module. Lines go to stderr: "baton: message" (text) or one JSON object per line.
 * Messages are lowercase, without a final period, with the subject in quotes. Every log_* call
 * preserves errno. */
#ifndef BATON_LOG_H
#define BATON_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_color { LOG_COLOR_AUTO, LOG_COLOR_ALWAYS, LOG_COLOR_NEVER };

/* Configure once at start (defaults: info, auto colour, text). */
void log_setup(enum log_level min, enum log_color color, bool json);
/* True when colour escapes should be written to fd (honours NO_COLOR and isatty). */
bool log_use_color(int fd);

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

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
