/* Durations as users write them: "250ms", "10s", "1m30s", "1h", "1.5s", "0". */
#ifndef BATON_UTIL_DURATION_H
#define BATON_UTIL_DURATION_H

#include <stdint.h>

/* Parse s into milliseconds. Returns 0, or -EINVAL with a fresh reason in *err (the caller
 * frees; err may be NULL). */
int duration_parse_ms(const char *s, int64_t *out_ms, char **err);
/* Format ms as the shortest readable form ("1m30s", "250ms", "0s") into out. */
void duration_format_ms(int64_t ms, char *out, unsigned long outlen);

#endif
