/* Monotonic time in milliseconds / microseconds. Every timeout in baton is a deadline on this clock. */
#ifndef BATON_UTIL_TIMEUTIL_H
#define BATON_UTIL_TIMEUTIL_H

#include <stdint.h>

int64_t now_ms(void);
int64_t now_us(void);

#endif
