/* Writing JSON text: the string and time forms shared by the JSON log (core/log) and the
 * events (obs/events), so both escape the same way. */
#ifndef BATON_UTIL_JSON_H
#define BATON_UTIL_JSON_H

#include <stdint.h>

struct buf;

/* Append s as a JSON string, quotes included: '"' and '\\' escaped, control characters (and
 * DEL) as \n, \r, \t or \u00XX, each byte of invalid UTF-8 as \ufffd so the output is always
 * valid UTF-8 JSON. NULL appends null. */
void json_str(struct buf *b, const char *s);
/* Append "2026-12-04T13:00:00.123Z" (quotes included) for unix microseconds. */
void json_time(struct buf *b, int64_t time_us);

#endif
