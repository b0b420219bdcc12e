/* Tagged JSON output (toml-test's format), used by tools/toml-decoder and the fuzzer. */
#include "toml/toml_json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_string(struct buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;

	buf_putc(out, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		buf_append(out, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"':
			buf_puts(out, "\\\"");
			break;
		case '\\':
			buf_puts(out, "\\\\");
			break;
		case '\b':
			buf_puts(out, "\\b");
			break;
		case '\f':
			buf_puts(out, "\\f");
			break;
		case '\n':
			buf_puts(out, "\\n");
			break;
		case '\r':
			buf_puts(out, "\\r");
			break;
		case '\t':
			buf_puts(out, "\\t");
			break;
		default: {
			char e[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
			buf_puts(out, e);
		}
		}
	}
	buf_append(out, s + run, n - run);
	buf_putc(out, '"');
}

/* The shortest %g text that reads back as the same double. */
static void put_float(struct buf *out, double f)
{
	char tmp[40];
	if (isnan(f)) {
		buf_puts(out, "nan");
		return;
	}
	if (isinf(f)) {
		buf_puts(out, f < 0 ? "-inf" : "inf");
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, f);
		if (strtod(tmp, NULL) == f)
			break;
	}
	buf_puts(out, tmp);
}

static const char *tag(enum toml_type t)
{
	switch (t) {
	case TOML_STRING:
		return "string";
	case TOML_INTEGER:
		return "integer";
	case TOML_FLOAT:
		return "float";
	case TOML_BOOL:
		return "bool";
	case TOML_DATETIME:
		return "datetime";
	case TOML_DATETIME_LOCAL:
		return "datetime-local";
	case TOML_DATE_LOCAL:
		return "date-local";
	case TOML_TIME_LOCAL:
		return "time-local";
	default:
		return "?";
	}
}

/* Recursion follows the tree, whose depth the parser bounds (TOML_MAX_DEPTH). */
void toml_json_write(struct buf *out, const struct toml_value *v)
{
	char tmp[TOML_DATETIME_MAX];

	switch (v->type) {
	case TOML_TABLE:
		buf_putc(out, '{');
		for (size_t k = 0; v->u.tab && k < v->u.tab->n; k++) {
			const struct toml_kv *kv = &v->u.tab->items[k];
			if (k)
				buf_putc(out, ',');
			put_string(out, kv->key, kv->keylen);
			buf_putc(out, ':');
			toml_json_write(out, &kv->val);
		}
		buf_putc(out, '}');
		return;
	case TOML_ARRAY:
		buf_putc(out, '[');
		for (size_t k = 0; k < v->u.arr.n; k++) {
			if (k)
				buf_putc(out, ',');
			toml_json_write(out, &v->u.arr.items[k]);
		}
		buf_putc(out, ']');
		return;
	default:
		break;
	}
	buf_printf(out, "{\"type\":\"%s\",\"value\":", tag(v->type));
	switch (v->type) {
	case TOML_STRING:
		put_string(out, v->u.str.ptr, v->u.str.len);
		break;
	case TOML_INTEGER:
		buf_printf(out, "\"%" PRId64 "\"", v->u.i);
		break;
	case TOML_FLOAT:
		buf_putc(out, '"');
		put_float(out, v->u.f);
		buf_putc(out, '"');
		break;
	case TOML_BOOL:
		buf_puts(out, v->u.b ? "\"true\"" : "\"false\"");
		break;
	default:
		toml_datetime_format(tmp, sizeof(tmp), v->type, &v->u.dt);
		put_string(out, tmp, strlen(tmp));
		break;
	}
	buf_putc(out, '}');
}
