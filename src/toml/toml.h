/* TOML 1.0 parser: bytes in, a tree or an error with line:column out.
 * Pure: no I/O, no globals. The tree owns all its memory; free it with toml_free(). */
#ifndef BATON_TOML_H
#define BATON_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum toml_type {
	TOML_STRING,
	TOML_INTEGER,
	TOML_FLOAT,
	TOML_BOOL,
	TOML_DATETIME,       /* offset date-time: 1979-05-27T07:32:00Z */
	TOML_DATETIME_LOCAL, /* 1979-05-27T07:32:00 */
	TOML_DATE_LOCAL,     /* 1979-05-27 */
	TOML_TIME_LOCAL,     /* 07:32:00 */
	TOML_ARRAY,
	TOML_TABLE,
};

/* 1-based line and column (column counts bytes). */
struct toml_pos {
	uint32_t line;
	uint32_t col;
};

struct toml_datetime {
	int year, month, day;            /* valid for DATETIME, DATETIME_LOCAL, DATE_LOCAL */
	int hour, minute, second;        /* valid for DATETIME, DATETIME_LOCAL, TIME_LOCAL */
	int nanosecond;                  /* fraction of a second, 0..999999999 */
	int frac_digits;                 /* fraction digits written (0 = none; extra past 9 dropped) */
	int offset_minutes;              /* DATETIME only; Z is 0 */
};

struct toml_value;
struct toml_table;

struct toml_array {
	struct toml_value *items;
	size_t n;
	size_t cap;
	unsigned flags; /* parser bookkeeping (array of tables or static); not for callers */
};

struct toml_value {
	enum toml_type type;
	struct toml_pos pos; /* where the value starts (for tables: the header or first key) */
	union {
		struct {
			char *ptr; /* NUL-terminated; may contain NUL bytes (\u0000), see len */
			size_t len;
		} str;
		int64_t i;
		double f;
		bool b;
		struct toml_datetime dt;
		struct toml_array arr;
		struct toml_table *tab;
	} u;
};

struct toml_kv {
	char *key; /* NUL-terminated; may contain NUL bytes, see keylen */
	size_t keylen;
	struct toml_pos key_pos;
	struct toml_value val;
};

struct toml_table {
	struct toml_kv *items; /* in document order */
	size_t n;
	size_t cap;
	unsigned flags; /* parser bookkeeping (defined, implicit, inline, dotted); not for callers */
	size_t *slots;  /* key index for large tables (item index + 1, 0 = empty); not for callers */
	size_t nslots;
};

struct toml_error {
	struct toml_pos pos;
	char msg[256];
};

/* Arrays and inline tables nested deeper than this (counting every table and array from the
 * root) are rejected with an error instead of exhausting the stack. */
#define TOML_MAX_DEPTH 128

/* Parse a whole document. Returns the root (a TOML_TABLE value) or NULL with *err filled.
 * The input need not be NUL-terminated. */
struct toml_value *toml_parse(const char *data, size_t len, struct toml_error *err);
void toml_free(struct toml_value *root);

/* Lookup of a key in a table value (NULL when v is not a table or the key is absent). */
const struct toml_kv *toml_table_get(const struct toml_value *table, const char *key);

/* Longest text toml_datetime_format() writes, with its NUL: 2006-01-02T15:04:05.999999999+07:00 */
#define TOML_DATETIME_MAX 40
/* Format a date/time value of type t as RFC 3339 / TOML text ("1979-05-27T07:32:00.5Z",
 * "1979-05-27", "07:32:00"); the fraction keeps the digits that were written (up to 9).
 * Returns the length snprintf() would, so size TOML_DATETIME_MAX is always enough. */
int toml_datetime_format(char *buf, size_t size, enum toml_type t, const struct toml_datetime *dt);

#endif
