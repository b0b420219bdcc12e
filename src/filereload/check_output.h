/* A check command's output and verdict, shared by [[reload]] groups (reload.c) and config sources
 * (source/): its lines are kept (bounded, indented, control characters escaped, so the output
 * can neither drive the terminal nor pass for one of baton's own lines) and quoted in the
 * rejection message. */
#ifndef BATON_CHECK_OUTPUT_H
#define BATON_CHECK_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define CHECK_OUTPUT_MAX (16 * 1024) /* output bytes kept; the rest is dropped */

/* Append one line of the check's output to out (nothing once out holds CHECK_OUTPUT_MAX). */
void check_output_line(struct buf *out, const char *line, size_t len);
/* Why the check rejected the input, with its output: `check "CMD" exited with status 1:\n  │
 * ...`, or `... did not finish within N ms and was killed`. status: child_status_str()'s text.
 * Fresh string; the caller frees it. */
char *check_output_reason(const char *cmd, int64_t timeout_ms, bool timed_out, const char *status,
			  const struct buf *out);

#endif
