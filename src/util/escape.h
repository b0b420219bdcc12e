/* Text that comes from outside baton — file names, certificate names and subjects, the output
 * of check commands — made safe to print: control characters are shown as C-style escapes,
 * so that such text can neither drive the terminal (ESC sequences) nor forge a log line of its
 * own (CR, LF). "\n" becomes the two characters \n, "\r" \r, "\t" \t, ESC \x1b, any other C0
 * byte and DEL \xNN, the UTF-8 encoded C1 controls (U+0080..U+009F, which some terminals obey
 * like ESC [) \xc2\xNN. Everything else, valid UTF-8 included, is kept as it is. */
#ifndef BATON_UTIL_ESCAPE_H
#define BATON_UTIL_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

/* Append s[0..n) to b, escaped. */
void escape_append(struct buf *b, const char *s, size_t n);
/* A fresh escaped copy of s (the caller frees); NULL stays NULL. */
char *escape_str(const char *s);
/* Whether s needs escaping at all. */
bool escape_needed(const char *s);

#endif
