/* libFuzzer target for the TOML parser: parse, and for documents that parse, write the tagged
 * JSON and read it back against the tree (keys, order, types, values; date/times re-parsed),
 * check every position lies inside the document, then free. Errors must carry a position and a
 * message. Any mismatch aborts, which libFuzzer reports as a crash. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toml/toml.h"
#include "toml/toml_json.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct reader {
	const char *s;
	size_t n;
	size_t i;
};

static void die(const struct reader *r, const char *why)
{
	fprintf(stderr, "fuzz_toml: %s at JSON offset %zu\n", why, r ? r->i : 0);
	abort();
}

static void expect(struct reader *r, const char *lit)
{
	size_t n = strlen(lit);
	if (r->n - r->i < n || memcmp(r->s + r->i, lit, n) != 0)
		die(r, "unexpected JSON");
	r->i += n;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A JSON string as the writer produces it (control characters escaped, UTF-8 raw). */
static void read_string(struct reader *r, struct buf *out)
{
	buf_reset(out);
	expect(r, "\"");
	for (;;) {
		if (r->i >= r->n)
			die(r, "unterminated JSON string");
		char c = r->s[r->i++];
		if (c == '"')
			return;
		if ((unsigned char)c < 0x20)
			die(r, "raw control character in JSON string");
		if (c != '\\') {
			buf_putc(out, c);
			continue;
		}
		if (r->i >= r->n)
			die(r, "bad JSON escape");
		c = r->s[r->i++];
		switch (c) {
		case '"':
		case '\\':
		case '/':
			buf_putc(out, c);
			break;
		case 'b':
			buf_putc(out, '\b');
			break;
		case 'f':
			buf_putc(out, '\f');
			break;
		case 'n':
			buf_putc(out, '\n');
			break;
		case 'r':
			buf_putc(out, '\r');
			break;
		case 't':
			buf_putc(out, '\t');
			break;
		case 'u': {
			int v = 0;
			for (int k = 0; k < 4; k++) {
				int h = r->i < r->n ? hexval(r->s[r->i++]) : -1;
				if (h < 0)
					die(r, "bad \\u escape");
				v = v * 16 + h;
			}
			if (v >= 0x20)
				die(r, "unneeded \\u escape");
			buf_putc(out, (char)v);
			break;
		}
		default:
			die(r, "bad JSON escape");
		}
	}
}

static const char *tag(enum toml_type t)
{
	static const char *tags[] = {"string",	 "integer",	   "float",	 "bool",
				     "datetime", "datetime-local", "date-local", "time-local"};
	if ((size_t)t >= sizeof(tags) / sizeof(tags[0]))
		die(NULL, "unexpected type");
	return tags[t];
}

static void check_datetime(const struct toml_value *v, const char *text)
{
	struct buf doc = BUF_INIT;
	struct toml_error err;
	buf_printf(&doc, "v = %s", text);
	struct toml_value *root = toml_parse(doc.p, doc.len, &err);
	buf_release(&doc);
	if (!root)
		die(NULL, "date/time text does not parse back");
	const struct toml_kv *kv = toml_table_get(root, "v");
	const struct toml_datetime *a = &v->u.dt, *b = &kv->val.u.dt;
	if (kv->val.type != v->type || a->year != b->year || a->month != b->month ||
	    a->day != b->day || a->hour != b->hour || a->minute != b->minute ||
	    a->second != b->second || a->nanosecond != b->nanosecond ||
	    a->frac_digits != b->frac_digits || a->offset_minutes != b->offset_minutes)
		die(NULL, "date/time changed through JSON");
	toml_free(root);
}

static void check_scalar(struct reader *r, const struct toml_value *v, struct buf *s)
{
	expect(r, "{\"type\":");
	read_string(r, s);
	if (strcmp(buf_cstr(s), tag(v->type)) != 0)
		die(r, "wrong type tag");
	expect(r, ",\"value\":");
	read_string(r, s);
	expect(r, "}");
	const char *text = buf_cstr(s);
	char *end;
	switch (v->type) {
	case TOML_STRING:
		if (s->len != v->u.str.len || memcmp(text, v->u.str.ptr, s->len) != 0 ||
		    v->u.str.ptr[v->u.str.len] != '\0')
			die(r, "string changed");
		break;
	case TOML_INTEGER:
		if (strtoll(text, &end, 10) != v->u.i || *end)
			die(r, "integer changed");
		break;
	case TOML_FLOAT: {
		double f = strtod(text, &end);
		if (*end || (isnan(f) != isnan(v->u.f)) || (!isnan(f) && f != v->u.f))
			die(r, "float changed");
		break;
	}
	case TOML_BOOL:
		if (strcmp(text, v->u.b ? "true" : "false") != 0)
			die(r, "bool changed");
		break;
	default:
		check_datetime(v, text);
		break;
	}
}

static void check_value(struct reader *r, const struct toml_value *v, struct buf *s,
			const struct toml_pos *max)
{
	if (v->pos.line < 1 || v->pos.col < 1 || v->pos.line > max->line)
		die(r, "value position outside the document");
	if (v->type == TOML_TABLE) {
		expect(r, "{");
		for (size_t k = 0; k < v->u.tab->n; k++) {
			const struct toml_kv *kv = &v->u.tab->items[k];
			if (kv->key_pos.line < 1 || kv->key_pos.col < 1 ||
			    kv->key_pos.line > max->line)
				die(r, "key position outside the document");
			if (k)
				expect(r, ",");
			read_string(r, s);
			if (s->len != kv->keylen || memcmp(s->p ? s->p : "", kv->key, s->len) != 0)
				die(r, "key changed");
			expect(r, ":");
			check_value(r, &kv->val, s, max);
		}
		expect(r, "}");
	} else if (v->type == TOML_ARRAY) {
		expect(r, "[");
		for (size_t k = 0; k < v->u.arr.n; k++) {
			if (k)
				expect(r, ",");
			check_value(r, &v->u.arr.items[k], s, max);
		}
		expect(r, "]");
	} else {
		check_scalar(r, v, s);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct toml_error err;
	struct toml_value *root = toml_parse((const char *)data, size, &err);
	struct toml_pos max = {1, 1};

	for (size_t i = 0; i < size; i++)
		max.line += data[i] == '\n';
	if (!root) {
		if (!err.msg[0] || err.pos.line < 1 || err.pos.col < 1 || err.pos.line > max.line)
			die(NULL, "error without a message or position");
		return 0;
	}
	struct buf json = BUF_INIT, s = BUF_INIT;
	toml_json_write(&json, root);
	struct reader r = {buf_cstr(&json), json.len, 0};
	check_value(&r, root, &s, &max);
	if (r.i != r.n)
		die(&r, "trailing JSON");
	buf_release(&json);
	buf_release(&s);
	toml_free(root);
	return 0;
}
