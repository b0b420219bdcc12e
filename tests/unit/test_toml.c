/* Unit tests for the TOML parser: error positions and messages, lookups and positions, date/time
 * values, integer limits, the nesting limit, strings with NUL bytes, big tables. The toml-test
 * conformance suite (tests/toml/) covers the grammar broadly; these pin down what config users
 * see. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toml/toml.h"
#include "toml/toml_json.h"
#include "util/buf.h"

/* Parse from an exactly sized heap copy, so reading past the end is caught under ASan. */
static struct toml_value *parse(const char *doc, struct toml_error *err)
{
	size_t n = strlen(doc);
	char *copy = malloc(n ? n : 1);
	assert_non_null(copy);
	memcpy(copy, doc, n);
	struct toml_value *root = toml_parse(copy, n, err);
	free(copy);
	return root;
}

static struct toml_value *parse_ok(const char *doc)
{
	struct toml_error err;
	struct toml_value *root = parse(doc, &err);
	if (!root)
		fail_msg("unexpected error %u:%u: %s", err.pos.line, err.pos.col, err.msg);
	assert_int_equal(root->type, TOML_TABLE);
	return root;
}

static const struct toml_value *get(const struct toml_value *t, const char *key)
{
	const struct toml_kv *kv = toml_table_get(t, key);
	if (!kv)
		fail_msg("key '%s' not found", key);
	return &kv->val;
}

struct bad_doc {
	const char *doc;
	uint32_t line, col;
	const char *msg; /* expected substring */
};

static void test_error_positions(void **state)
{
	(void)state;
	static const struct bad_doc bad[] = {
		{"name = \"x\"\nname = \"y\"\n", 2, 1,
		 "duplicate key 'name' (first defined at 1:1)"},
		{"a = 1\n\n  port 8080\n", 3, 8, "expected '=' after key"},
		{"[server]\nport = 80\n[server]\n", 3, 2, "duplicate table 'server'"},
		{"a = \"abc\n", 1, 5, "unterminated string"},
		{"a = \"\\q\"\n", 1, 6, "invalid escape sequence '\\q'"},
		{"a = \"\\uD800\"\n", 1, 6, "not a unicode scalar value"},
		{"a = 01\n", 1, 5, "leading zeros"},
		{"a = 1__0\n", 1, 5, "underscores must be between digits"},
		{"a = 1.\n", 1, 5, "expected digits after the decimal point"},
		{"a = .5\n", 1, 5, "expected digits before the decimal point"},
		{"a = +0x10\n", 1, 5, "sign is not allowed"},
		{"a = tru\n", 1, 5, "invalid value 'tru'"},
		{"a = hello\n", 1, 5, "strings need quotes"},
		{"a = 1 2\n", 1, 7, "expected end of line after value"},
		{"a = [1 2]\n", 1, 8, "expected ',' or ']' in array"},
		{"a = {b = 1,}\n", 1, 12, "trailing comma not allowed in inline table"},
		{"a = {b = 1\n}\n", 1, 11, "newline not allowed in inline table"},
		{"a = {b = 1}\na.c = 2\n", 2, 1, "cannot extend inline table 'a'"},
		{"a = {b = 1}\n[a.c]\n", 2, 2, "cannot extend inline table 'a'"},
		{"x = []\n[[x]]\n", 2, 3, "cannot append to static array 'x'"},
		{"[a]\nb = 1\n[a.b]\n", 3, 4, "duplicate key 'a.b' (first defined at 2:1)"},
		{"[t.x]\n[t]\nx.y = 1\n", 3, 1, "cannot add to table 'x' with dotted keys"},
		{"a.b = 1\n[a]\n", 2, 2, "duplicate table 'a' (first defined at 1:1)"},
		{"[[t]]\n[t]\n", 2, 2, "already an array of tables"},
		{"[t]\n[[t]]\n", 2, 3, "already a table"},
		{"[a\n", 1, 3, "expected ']' at the end of the table header"},
		{"[[a]\n", 1, 4, "expected ']]'"},
		{"a = 1979-02-29\n", 1, 5, "day out of range"},
		{"a = 1979-05-27T25:00:00\n", 1, 5, "hour out of range"},
		{"a = 07:32\n", 1, 5, "seconds are required"},
		{"a = 1979-05-27T07:32:00+24:00\n", 1, 5, "offset out of range"},
		{"a = \"\x01\"\n", 1, 6, "control character U+0001 not allowed in string"},
		{"# ok\n# bad \x7f\n", 2, 7, "control character U+007F not allowed in comment"},
		{"a = 1\r\nb = \"x\xff\"\r\n", 2, 7, "invalid utf-8 (byte 0xff)"},
		{"a = \"\xc0\xaf\"\n", 1, 6, "invalid utf-8"},	   /* overlong */
		{"a = \"\xed\xa0\x80\"\n", 1, 6, "invalid utf-8"}, /* surrogate */
		{"a = 1\rb = 2\n", 1, 6, "carriage return"},
		{"a = \"\"\"x\n", 1, 5, "unterminated multi-line string"},
		{"a = \"\"\"x\\ y\"\"\"\n", 1, 9, "line-ending backslash"},
		{"\"\"\"k\"\"\" = 1\n", 1, 1, "multi-line strings cannot be keys"},
		{"a.b = 1\na.b.c = 2\n", 2, 3, "duplicate key 'a.b' (first defined at 1:3)"},
		{"a = 1\r\n\r\n[b]\r\nc = 1\r\nc = 2\r\n", 5, 1,
		 "duplicate key 'c' (first defined at 4:1)"},
		{"\xef\xbb\xbf"
		 "a = 1\na = 2\n",
		 2, 1, "duplicate key 'a' (first defined at 1:1)"},
		{"a = \n", 1, 5, "expected a value, found end of line"},
		{"a = 1\n=", 2, 1, "expected a key, found '='"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct toml_error err;
		struct toml_value *root = parse(bad[i].doc, &err);
		if (root)
			fail_msg("document %zu parsed but should not have", i);
		if (err.pos.line != bad[i].line || err.pos.col != bad[i].col ||
		    !strstr(err.msg, bad[i].msg))
			fail_msg("document %zu: got %u:%u: %s; want %u:%u: ...%s...", i,
				 err.pos.line, err.pos.col, err.msg, bad[i].line, bad[i].col,
				 bad[i].msg);
		/* messages are lowercase with no final period */
		assert_false(err.msg[0] >= 'A' && err.msg[0] <= 'Z');
		assert_int_not_equal(err.msg[strlen(err.msg) - 1], '.');
	}
}

static void test_lookup_and_positions(void **state)
{
	(void)state;
	struct toml_value *root = parse_ok("# config\n"
					   "name = \"app\"\n"
					   "[build]\n"
					   "  cmd = 'go build'\n"
					   "  delay.ms = 250\n"
					   "[[listen]]\n"
					   "address = \":8080\"\n"
					   "[[listen]]\n"
					   "address = \":8443\"\n"
					   "tags = [\"a\", \"b\"]\n"
					   "empty = {}\n");
	const struct toml_kv *kv = toml_table_get(root, "name");
	assert_non_null(kv);
	assert_int_equal(kv->key_pos.line, 2);
	assert_int_equal(kv->key_pos.col, 1);
	assert_int_equal(kv->val.type, TOML_STRING);
	assert_string_equal(kv->val.u.str.ptr, "app");
	assert_int_equal(kv->val.pos.line, 2);
	assert_int_equal(kv->val.pos.col, 8);

	const struct toml_value *build = get(root, "build");
	assert_int_equal(build->type, TOML_TABLE);
	assert_int_equal(build->pos.line, 3);
	assert_int_equal(build->pos.col, 1);
	kv = toml_table_get(build, "cmd");
	assert_int_equal(kv->key_pos.line, 4);
	assert_int_equal(kv->key_pos.col, 3);
	assert_string_equal(kv->val.u.str.ptr, "go build");
	const struct toml_value *delay = get(build, "delay");
	assert_int_equal(delay->type, TOML_TABLE);
	kv = toml_table_get(delay, "ms");
	assert_int_equal(kv->val.u.i, 250);
	assert_int_equal(kv->key_pos.line, 5);
	assert_int_equal(kv->key_pos.col, 9);
	assert_int_equal(kv->val.pos.col, 14);

	const struct toml_value *listen = get(root, "listen");
	assert_int_equal(listen->type, TOML_ARRAY);
	assert_int_equal(listen->u.arr.n, 2);
	assert_int_equal(listen->u.arr.items[1].pos.line, 8);
	assert_string_equal(get(&listen->u.arr.items[0], "address")->u.str.ptr, ":8080");
	const struct toml_value *tags = get(&listen->u.arr.items[1], "tags");
	assert_int_equal(tags->u.arr.n, 2);
	assert_string_equal(tags->u.arr.items[1].u.str.ptr, "b");
	assert_int_equal(tags->u.arr.items[1].pos.col, 14);
	assert_int_equal(get(&listen->u.arr.items[1], "empty")->u.tab->n, 0);

	assert_null(toml_table_get(root, "missing"));
	assert_null(toml_table_get(get(root, "name"), "x")); /* not a table */
	assert_null(toml_table_get(NULL, "x"));
	toml_free(root);
	toml_free(NULL);
}

static void test_datetimes(void **state)
{
	(void)state;
	struct toml_value *root = parse_ok("odt = 1979-05-27T07:32:00.999999999-07:30\n"
					   "utc = 1979-05-27 07:32:00z\n"
					   "ldt = 2000-02-29t23:59:60.1234567891\n"
					   "ld = 2024-02-29\n"
					   "lt = 00:00:00.5\n");
	const struct toml_value *v = get(root, "odt");
	assert_int_equal(v->type, TOML_DATETIME);
	assert_int_equal(v->u.dt.year, 1979);
	assert_int_equal(v->u.dt.month, 5);
	assert_int_equal(v->u.dt.day, 27);
	assert_int_equal(v->u.dt.hour, 7);
	assert_int_equal(v->u.dt.minute, 32);
	assert_int_equal(v->u.dt.nanosecond, 999999999);
	assert_int_equal(v->u.dt.offset_minutes, -(7 * 60 + 30));

	char text[TOML_DATETIME_MAX];
	toml_datetime_format(text, sizeof(text), v->type, &v->u.dt);
	assert_string_equal(text, "1979-05-27T07:32:00.999999999-07:30");
	v = get(root, "utc");
	assert_int_equal(v->type, TOML_DATETIME);
	assert_int_equal(v->u.dt.offset_minutes, 0);
	toml_datetime_format(text, sizeof(text), v->type, &v->u.dt);
	assert_string_equal(text, "1979-05-27T07:32:00Z");

	v = get(root, "ldt"); /* leap day, leap second, extra precision truncated */
	assert_int_equal(v->type, TOML_DATETIME_LOCAL);
	assert_int_equal(v->u.dt.second, 60);
	assert_int_equal(v->u.dt.nanosecond, 123456789);
	assert_int_equal(v->u.dt.frac_digits, 9);
	v = get(root, "ld");
	assert_int_equal(v->type, TOML_DATE_LOCAL);
	toml_datetime_format(text, sizeof(text), v->type, &v->u.dt);
	assert_string_equal(text, "2024-02-29");
	v = get(root, "lt");
	assert_int_equal(v->type, TOML_TIME_LOCAL);
	assert_int_equal(v->u.dt.nanosecond, 500000000);
	toml_datetime_format(text, sizeof(text), v->type, &v->u.dt);
	assert_string_equal(text, "00:00:00.5");
	toml_free(root);

	static const char *bad[] = {
		"d = 1900-02-29\n",
		"d = 2023-02-29\n",
		"d = 2023-04-31\n",
		"d = 2023-00-10\n",
		"d = 2023-1-10\n",
		"d = 12:60:00\n",
		"d = 12:00:61\n",
		"d = 2023-01-01T\n",
		"d = 2023-01-01T12:00:00+1:00\n",
		"d = 2023-01-01T12:00:00.Z\n",
		"d = 2023-01-01 12:00\n",
		"d = 10000-01-01\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct toml_error err;
		struct toml_value *r = parse(bad[i], &err);
		if (r)
			fail_msg("'%s' parsed but should not have", bad[i]);
		assert_int_equal(err.pos.line, 1);
		assert_int_equal(err.pos.col, 5);
	}
}

static void test_integers(void **state)
{
	(void)state;
	struct toml_value *root = parse_ok("max = 9_223_372_036_854_775_807\n"
					   "min = -9223372036854775808\n"
					   "hex = 0x7FFF_ffff_ffff_ffff\n"
					   "oct = 0o777\n"
					   "bin = 0b1010\n"
					   "zero = -0\n"
					   "f = 6.02e+23\n"
					   "nan = -nan\n"
					   "inf = -inf\n");
	assert_true(get(root, "max")->u.i == INT64_MAX);
	assert_true(get(root, "min")->u.i == INT64_MIN);
	assert_true(get(root, "hex")->u.i == INT64_MAX);
	assert_int_equal(get(root, "oct")->u.i, 511);
	assert_int_equal(get(root, "bin")->u.i, 10);
	assert_int_equal(get(root, "zero")->u.i, 0);
	assert_true(get(root, "f")->u.f == 6.02e23);
	assert_true(isnan(get(root, "nan")->u.f));
	assert_true(isinf(get(root, "inf")->u.f) && get(root, "inf")->u.f < 0);
	toml_free(root);

	static const char *overflow[] = {
		"i = 9223372036854775808\n",
		"i = -9223372036854775809\n",
		"i = 0x8000000000000000\n",
		"i = 0o1000000000000000000000\n",
		"i = 99999999999999999999999999999\n",
	};
	for (size_t i = 0; i < sizeof(overflow) / sizeof(overflow[0]); i++) {
		struct toml_error err;
		assert_null(parse(overflow[i], &err));
		assert_non_null(strstr(err.msg, "out of range"));
		assert_int_equal(err.pos.col, 5);
	}
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, head);
	for (size_t i = 0; i < n; i++)
		buf_puts(&b, unit);
	buf_puts(&b, tail);
	return buf_detach(&b);
}

static void expect_depth(const char *head, const char *open, const char *mid, const char *close,
			 size_t n, bool ok)
{
	char *doc = repeat(head, open, n, mid);
	struct buf b = BUF_INIT;
	buf_puts(&b, doc);
	for (size_t i = 0; i < n; i++)
		buf_puts(&b, close);
	buf_putc(&b, '\n');
	struct toml_error err;
	struct toml_value *root = parse(buf_cstr(&b), &err);
	if (ok) {
		if (!root)
			fail_msg("depth %zu rejected: %s", n, err.msg);
		toml_free(root);
	} else {
		assert_null(root);
		assert_non_null(strstr(err.msg, "nesting too deep"));
	}
	free(doc);
	buf_release(&b);
}

static void test_nesting_limit(void **state)
{
	(void)state;
	/* the root is level 0; a = [...] is level 1, each nested array one more */
	expect_depth("a = ", "[", "", "]", TOML_MAX_DEPTH, true);
	expect_depth("a = ", "[", "", "]", TOML_MAX_DEPTH + 1, false);
	expect_depth("a = ", "{b = ", "1", "}", TOML_MAX_DEPTH - 1, true);
	expect_depth("a = ", "{b = ", "1", "}", TOML_MAX_DEPTH, false);
	expect_depth("a = ", "[{b = ", "1", "}]", TOML_MAX_DEPTH, false);
	expect_depth("", "k.", "k = 1", "", TOML_MAX_DEPTH - 1, true);
	expect_depth("", "k.", "k = 1", "", 5000, false); /* a dotted key with 5001 parts */

	/* never recurses past the limit, however deep the input tries to go */
	char *doc = repeat("a = ", "[", 100000, "");
	struct toml_error err;
	assert_null(parse(doc, &err));
	assert_int_equal(err.pos.line, 1);
	assert_int_equal(err.pos.col, 5 + TOML_MAX_DEPTH);
	free(doc);
	doc = repeat("[a", ".a", 1000, "]\n");
	assert_null(parse(doc, &err));
	assert_non_null(strstr(err.msg, "nesting too deep"));
	free(doc);
}

static void test_strings(void **state)
{
	(void)state;
	struct toml_value *root = parse_ok("nul = \"a\\u0000b\"\n"
					   "esc = \"\\b\\t\\n\\f\\r\\\"\\\\\\u00e9\\U0001F600\"\n"
					   "ml = \"\"\"\r\nline1\r\n  \\\r\n   line2\\\n\"\"\"\n"
					   "lit = 'C:\\path'\n"
					   "mll = '''\n''x'''''\n"
					   "\"key\\u0000x\" = 1\n");
	const struct toml_value *v = get(root, "nul");
	assert_int_equal(v->u.str.len, 3);
	assert_memory_equal(v->u.str.ptr, "a\0b", 4);
	assert_string_equal(get(root, "esc")->u.str.ptr, "\b\t\n\f\r\"\\\xc3\xa9\xf0\x9f\x98\x80");
	assert_string_equal(get(root, "ml")->u.str.ptr, "line1\n  line2");
	assert_string_equal(get(root, "lit")->u.str.ptr, "C:\\path");
	assert_string_equal(get(root, "mll")->u.str.ptr, "''x''");
	const struct toml_kv *kv = &root->u.tab->items[5];
	assert_int_equal(kv->keylen, 5);
	assert_memory_equal(kv->key, "key\0x", 6);

	struct buf json = BUF_INIT;
	toml_json_write(&json, get(root, "nul"));
	assert_string_equal(buf_cstr(&json), "{\"type\":\"string\",\"value\":\"a\\u0000b\"}");
	buf_release(&json);
	toml_free(root);
}

static void test_big_table(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	for (int i = 0; i < 5000; i++)
		buf_printf(&b, "key%d = %d\n", i, i);
	struct toml_value *root = parse_ok(buf_cstr(&b));
	assert_int_equal(root->u.tab->n, 5000);
	for (int i = 0; i < 5000; i += 7) {
		char k[32];
		snprintf(k, sizeof(k), "key%d", i);
		assert_int_equal(get(root, k)->u.i, i);
	}
	assert_null(toml_table_get(root, "key5000"));
	toml_free(root);

	buf_puts(&b, "key4321 = 0\n");
	struct toml_error err;
	assert_null(parse(buf_cstr(&b), &err));
	assert_int_equal(err.pos.line, 5001);
	assert_string_equal(err.msg, "duplicate key 'key4321' (first defined at 4322:1)");
	buf_release(&b);
}

static void test_json(void **state)
{
	(void)state;
	struct toml_value *root =
		parse_ok("a = [1, 2.5, true, 1979-05-27, 'x\"']\n[t]\nb.c = -0.1\n");
	struct buf json = BUF_INIT;
	toml_json_write(&json, root);
	assert_string_equal(buf_cstr(&json),
			    "{\"a\":[{\"type\":\"integer\",\"value\":\"1\"},"
			    "{\"type\":\"float\",\"value\":\"2.5\"},"
			    "{\"type\":\"bool\",\"value\":\"true\"},"
			    "{\"type\":\"date-local\",\"value\":\"1979-05-27\"},"
			    "{\"type\":\"string\",\"value\":\"x\\\"\"}],"
			    "\"t\":{\"b\":{\"c\":{\"type\":\"float\",\"value\":\"-0.1\"}}}}");
	buf_release(&json);
	toml_free(root);

	/* empty documents and a NULL error pointer */
	root = parse_ok("");
	assert_int_equal(root->u.tab->n, 0);
	toml_free(root);
	assert_null(toml_parse("=", 1, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_positions), cmocka_unit_test(test_lookup_and_positions),
		cmocka_unit_test(test_datetimes),	cmocka_unit_test(test_integers),
		cmocka_unit_test(test_nesting_limit),	cmocka_unit_test(test_strings),
		cmocka_unit_test(test_big_table),	cmocka_unit_test(test_json),
	};
	return cmocka_run_group_tests_name("toml", tests, NULL, NULL);
}
