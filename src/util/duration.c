#include "util/duration.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/xalloc.h"

/* The largest duration accepted: 100 years, far below int64 microseconds' limit. */
#define MAX_US (100LL * 365 * 24 * 3600 * 1000000)
#define NOT_A_NUMBER "expected a number (durations look like \"250ms\", \"10s\", \"1m30s\")"
#define TOO_LARGE "duration too large (the limit is 100 years, 876000h)"

struct unit {
	const char *name;
	int64_t us; /* microseconds, so that "1.5ms" is representable before rounding */
};

static const struct unit units[] = {
	{"ms", 1000}, {"us", 1}, {"µs", 1}, {"s", 1000000}, {"m", 60000000}, {"h", 3600000000LL},
};

static int bad(char **err, const char *why)
{
	if (err)
		*err = xstrdup(why);
	return -EINVAL;
}

int duration_parse_ms(const char *s, int64_t *out_ms, char **err)
{
	const char *p = s;
	int64_t total_us = 0;
	int parts = 0;
	if (!*p)
		return bad(err, "empty duration");
	if (strcmp(p, "0") == 0) {
		*out_ms = 0;
		return 0;
	}
	while (*p) {
		if (!isdigit((unsigned char)*p) && *p != '.')
			return bad(err, NOT_A_NUMBER);
		int64_t ip = 0, frac = 0, fscale = 1;
		int digits = 0;
		while (isdigit((unsigned char)*p)) {
			if (ip > MAX_US) /* more digits cannot make it smaller */
				return bad(err, TOO_LARGE);
			ip = ip * 10 + (*p++ - '0');
			digits++;
		}
		if (*p == '.') {
			p++;
			while (isdigit((unsigned char)*p)) {
				if (fscale < 1000000000LL) {
					frac = frac * 10 + (*p - '0');
					fscale *= 10;
				}
				p++;
				digits++;
			}
		}
		if (!digits)
			return bad(err, NOT_A_NUMBER);
		const struct unit *u = NULL;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t l = strlen(units[i].name);
			if (strncmp(p, units[i].name, l) == 0 && !isalpha((unsigned char)p[l])) {
				u = &units[i];
				p += l;
				break;
			}
		}
		if (!u)
			return bad(err, "missing or unknown unit (use ms, s, m or h)");
		/* ip <= MAX_US and u->us <= 3.6e9 could still overflow int64: check every step.
		 * frac < fscale <= 1e9, so frac * u->us <= 3.6e18 fits. */
		int64_t part;
		if (__builtin_mul_overflow(ip, u->us, &part) ||
		    __builtin_add_overflow(part, frac * u->us / fscale, &part) ||
		    __builtin_add_overflow(total_us, part, &total_us) || total_us > MAX_US)
			return bad(err, TOO_LARGE);
		parts++;
	}
	*out_ms = (total_us + 999) / 1000;
	return 0;
}

void duration_format_ms(int64_t ms, char *out, unsigned long outlen)
{
	if (ms == 0) {
		snprintf(out, outlen, "0s");
		return;
	}
	if (ms % 1000) {
		if (ms < 1000) {
			snprintf(out, outlen, "%lldms", (long long)ms);
			return;
		}
	}
	int64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, r = ms % 1000;
	size_t n = 0;
	out[0] = '\0';
	if (h)
		n += (size_t)snprintf(out + n, outlen - n, "%lldh", (long long)h);
	if (m && n < outlen)
		n += (size_t)snprintf(out + n, outlen - n, "%lldm", (long long)m);
	if (s && n < outlen)
		n += (size_t)snprintf(out + n, outlen - n, "%llds", (long long)s);
	if (r && n < outlen)
		snprintf(out + n, outlen - n, "%lldms", (long long)r);
}
