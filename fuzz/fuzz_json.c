/* libFuzzer target for the JSON parser: parse; a document that parses is written back out and
 * must parse again to the same tree (types, keys, strings byte for byte, number texts), and
 * every string must be valid for writing. Any mismatch aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/json_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put_str(struct buf *b, const char *s, size_t n)
{
	buf_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\' || c < 0x20)
			buf_printf(b, "\\u%04x", c);
		else
			buf_putc(b, (char)c);
	}
	buf_putc(b, '"');
}

static void write_json(struct buf *b, const struct json *j)
{
	switch (j->type) {
	case JSON_NULL:
		buf_puts(b, "null");
		break;
	case JSON_BOOL:
		buf_puts(b, j->b ? "true" : "false");
		break;
	case JSON_NUMBER:
		buf_append(b, j->s, j->len);
		break;
	case JSON_STRING:
		put_str(b, j->s, j->len);
		break;
	case JSON_ARRAY:
	case JSON_OBJECT:
		buf_putc(b, j->type == JSON_ARRAY ? '[' : '{');
		for (size_t i = 0; i < j->n; i++) {
			if (i)
				buf_putc(b, ',');
			if (j->type == JSON_OBJECT) {
				put_str(b, j->items[i].key, j->items[i].keylen);
				buf_putc(b, ':');
			}
			write_json(b, &j->items[i]);
		}
		buf_putc(b, j->type == JSON_ARRAY ? ']' : '}');
		break;
	}
}

static void same(const struct json *a, const struct json *b)
{
	if (a->type != b->type || a->n != b->n || a->b != b->b || a->len != b->len ||
	    a->keylen != b->keylen || (a->len && memcmp(a->s, b->s, a->len) != 0) ||
	    (a->keylen && memcmp(a->key, b->key, a->keylen) != 0)) {
		fprintf(stderr, "fuzz_json: round trip differs\n");
		abort();
	}
	for (size_t i = 0; i < a->n; i++)
		same(&a->items[i], &b->items[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *err = NULL;
	struct json *j = json_parse((const char *)data, size, &err);
	if (!j) {
		if (!err || !*err)
			abort();
		free(err);
		return 0;
	}
	struct buf b = BUF_INIT;
	write_json(&b, j);
	struct json *k = json_parse(b.p, b.len, &err);
	if (!k) {
		fprintf(stderr, "fuzz_json: own output rejected: %s\n", err);
		abort();
	}
	same(j, k);
	const struct json *x = json_get(j, "a");
	(void)x;
	int64_t v;
	(void)json_get_i64(j, "revision", 0, &v);
	json_free(k);
	json_free(j);
	buf_release(&b);
	return 0;
}
