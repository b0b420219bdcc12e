/* TOML dates and times (RFC 3339 with TOML's relaxations): parsing with range checks, and
 * formatting back to text.
 *
 *   1979-05-27T07:32:00.999Z   offset date-time ('T' may be 't' or a space, 'Z' may be 'z')
 *   1979-05-27T07:32:00        local date-time
 *   1979-05-27                 local date
 *   07:32:00.5                 local time (seconds are required in TOML 1.0) */
#include "toml/toml_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

struct cursor {
	const char *s;
	size_t n;
	size_t i;
};

/* Exactly `width` digits. */
static bool digits(struct cursor *c, int width, int *out)
{
	int v = 0;
	for (int k = 0; k < width; k++) {
		if (c->i >= c->n || c->s[c->i] < '0' || c->s[c->i] > '9')
			return false;
		v = v * 10 + (c->s[c->i++] - '0');
	}
	*out = v;
	return true;
}

static bool expect(struct cursor *c, char ch)
{
	if (c->i < c->n && c->s[c->i] == ch) {
		c->i++;
		return true;
	}
	return false;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

static int parse_date(struct cursor *c, struct toml_datetime *dt, const char **why)
{
	if (!digits(c, 4, &dt->year) || !expect(c, '-') || !digits(c, 2, &dt->month) ||
	    !expect(c, '-') || !digits(c, 2, &dt->day)) {
		*why = "expected a date as YYYY-MM-DD";
		return -1;
	}
	if (dt->month < 1 || dt->month > 12) {
		*why = "month out of range";
		return -1;
	}
	if (dt->day < 1 || dt->day > days_in_month(dt->year, dt->month)) {
		*why = "day out of range for the month";
		return -1;
	}
	return 0;
}

static int parse_time(struct cursor *c, struct toml_datetime *dt, const char **why)
{
	if (!digits(c, 2, &dt->hour) || !expect(c, ':') || !digits(c, 2, &dt->minute)) {
		*why = "expected a time as HH:MM:SS";
		return -1;
	}
	if (!expect(c, ':') || !digits(c, 2, &dt->second)) {
		*why = "expected a time as HH:MM:SS (seconds are required)";
		return -1;
	}
	if (dt->hour > 23) {
		*why = "hour out of range";
		return -1;
	}
	if (dt->minute > 59) {
		*why = "minute out of range";
		return -1;
	}
	if (dt->second > 60) { /* 60: a leap second */
		*why = "second out of range";
		return -1;
	}
	if (!expect(c, '.'))
		return 0;
	int nd = 0, ns = 0;
	while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
		if (nd < 9) { /* more precision than nanoseconds is truncated */
			ns = ns * 10 + (c->s[c->i] - '0');
			nd++;
		}
		c->i++;
	}
	if (!nd) {
		*why = "expected digits after the decimal point";
		return -1;
	}
	dt->frac_digits = nd;
	for (int k = nd; k < 9; k++)
		ns *= 10;
	dt->nanosecond = ns;
	return 0;
}

static int parse_offset(struct cursor *c, struct toml_datetime *dt, const char **why)
{
	if (expect(c, 'Z') || expect(c, 'z'))
		return 0;
	int sign = expect(c, '+') ? 1 : expect(c, '-') ? -1 : 0;
	int h, m;
	if (!sign) {
		*why = "unexpected text after the time";
		return -1;
	}
	if (!digits(c, 2, &h) || !expect(c, ':') || !digits(c, 2, &m)) {
		*why = "expected a time offset as +HH:MM";
		return -1;
	}
	if (h > 23 || m > 59) {
		*why = "time offset out of range";
		return -1;
	}
	dt->offset_minutes = sign * (h * 60 + m);
	return 0;
}

static int parse_datetime(const char *s, size_t n, enum toml_type *type, struct toml_datetime *dt,
			  const char **why)
{
	struct cursor c = {s, n, 0};
	struct toml_datetime z = {0};

	*dt = z;
	const char *colon = memchr(s, ':', n), *dash = memchr(s, '-', n);
	if (colon && (!dash || colon < dash)) {
		if (parse_time(&c, dt, why) < 0)
			return -1;
		*type = TOML_TIME_LOCAL;
	} else {
		if (parse_date(&c, dt, why) < 0)
			return -1;
		*type = TOML_DATE_LOCAL;
		if (c.i < n) {
			char sep = s[c.i++];
			if (sep != 'T' && sep != 't' && sep != ' ') {
				*why = "expected 'T' between date and time";
				return -1;
			}
			if (parse_time(&c, dt, why) < 0)
				return -1;
			*type = TOML_DATETIME_LOCAL;
			if (c.i < n) {
				if (parse_offset(&c, dt, why) < 0)
					return -1;
				*type = TOML_DATETIME;
			}
		}
	}
	if (c.i < n) {
		*why = "unexpected text after the date/time";
		return -1;
	}
	return 0;
}

int toml_datetime_parse(const char *s, size_t n, enum toml_type *type, struct toml_datetime *dt,
			char **err)
{
	const char *why = NULL;
	if (parse_datetime(s, n, type, dt, &why) == 0)
		return 0;
	if (err)
		*err = xstrdup(why);
	return -EINVAL;
}

int toml_datetime_format(char *buf, size_t size, enum toml_type t, const struct toml_datetime *dt)
{
	char date[16] = "", time[32] = "", off[8] = "";

	if (t == TOML_DATETIME || t == TOML_DATETIME_LOCAL || t == TOML_DATE_LOCAL)
		snprintf(date, sizeof(date), "%04d-%02d-%02d", dt->year % 10000, dt->month % 100,
			 dt->day % 100);
	if (t == TOML_DATETIME || t == TOML_DATETIME_LOCAL || t == TOML_TIME_LOCAL) {
		int n = snprintf(time, sizeof(time), "%02d:%02d:%02d", dt->hour % 100,
				 dt->minute % 100, dt->second % 100);
		int nd = dt->frac_digits;
		if (nd > 0 && nd <= 9) {
			int ns = abs(dt->nanosecond % 1000000000);
			for (int k = nd; k < 9; k++)
				ns /= 10;
			snprintf(time + n, sizeof(time) - (size_t)n, ".%0*d", nd, ns);
		}
	}
	if (t == TOML_DATETIME) {
		long m = dt->offset_minutes;
		if (m == 0)
			snprintf(off, sizeof(off), "Z");
		else
			snprintf(off, sizeof(off), "%c%02ld:%02ld", m < 0 ? '-' : '+',
				 labs(m) / 60 % 100, labs(m) % 60);
	}
	return snprintf(buf, size, "%s%s%s%s", date, date[0] && time[0] ? "T" : "", time, off);
}
