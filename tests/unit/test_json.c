/* Unit tests for the JSON parser and base64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/base64.h"
#include "util/json_parse.h"

static struct json *ok(const char *s)
{
	char *err = NULL;
	struct json *j = json_parse(s, strlen(s), &err);
	if (!j)
		fail_msg("\"%s\" rejected: %s", s, err);
	return j;
}

static void bad(const char *s, size_t len)
{
	char *err = NULL;
	struct json *j = json_parse(s, len, &err);
	if (j)
		fail_msg("\"%.*s\" accepted", (int)len, s);
	assert_non_null(err);
	free(err);
}

static void test_values(void **state)
{
	(void)state;
	struct json *j =
		ok(" {\"a\": [1, -2.5e3, true, false, null, \"x\"], \"b\": {}, \"a\": 0} ");
	assert_int_equal(j->type, JSON_OBJECT);
	assert_int_equal(j->n, 3);
	const struct json *a = json_get(j, "a");
	assert_non_null(a);
	assert_int_equal(a->type, JSON_ARRAY); /* the first of two */
	assert_int_equal(a->n, 6);
	assert_string_equal(a->items[1].s, "-2.5e3");
	assert_true(a->items[2].b);
	assert_int_equal(a->items[4].type, JSON_NULL);
	assert_string_equal(a->items[5].s, "x");
	assert_int_equal(json_get(j, "b")->type, JSON_OBJECT);
	assert_null(json_get(j, "c"));
	json_free(j);
}

static void test_strings(void **state)
{
	(void)state;
	struct json *j = ok("\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\\u0000z\"");
	const char want[] = "a\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80\0z";
	assert_int_equal(j->len, sizeof(want) - 1);
	assert_memory_equal(j->s, want, sizeof(want) - 1);
	json_free(j);
	j = ok("\"h\xc3\xa9llo\"");
	assert_string_equal(j->s, "h\xc3\xa9llo");
	json_free(j);
}

static void test_rejects(void **state)
{
	(void)state;
	const char *cases[] = {
		"",
		" ",
		"{",
		"[1,]",
		"{\"a\"}",
		"{\"a\":1,}",
		"01",
		"1.",
		"-",
		"1e",
		"tru",
		"\"abc",
		"\"\\x\"",
		"\"\\ud800\"",
		"\"\\udc00\"",
		"\"\\ud800\\u0041\"",
		"\"\t\"",
		"\"\xff\"",
		"\"\xc0\xaf\"",
		"\"\xed\xa0\x80\"",
		"{} {}",
		"[1] x",
		"{1:2}",
		"nul",
		"\"\\u12\"",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		bad(cases[i], strlen(cases[i]));
	bad("\"a\0b\"", 5);
	/* nesting is bounded */
	char deep[200];
	memset(deep, '[', sizeof(deep));
	bad(deep, sizeof(deep));
	char fine[2 * JSON_MAX_DEPTH];
	memset(fine, '[', JSON_MAX_DEPTH);
	memset(fine + JSON_MAX_DEPTH, ']', JSON_MAX_DEPTH);
	struct json *j = json_parse(fine, sizeof(fine), NULL);
	assert_non_null(j);
	json_free(j);
}

static void test_i64(void **state)
{
	(void)state;
	struct json *j = ok("{\"a\":\"9223372036854775807\",\"b\":-5,\"c\":\"9223372036854775808\","
			    "\"d\":\"1x\",\"e\":1.5,\"f\":[]}");
	int64_t v;
	assert_int_equal(json_get_i64(j, "a", 0, &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(json_get_i64(j, "b", 0, &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(json_get_i64(j, "c", 0, &v), -EINVAL);
	assert_int_equal(json_get_i64(j, "d", 0, &v), -EINVAL);
	assert_int_equal(json_get_i64(j, "e", 0, &v), -EINVAL);
	assert_int_equal(json_get_i64(j, "f", 0, &v), -EINVAL);
	assert_int_equal(json_get_i64(j, "zz", 7, &v), 0);
	assert_int_equal(v, 7);
	json_free(j);
}

static void test_base64(void **state)
{
	(void)state;
	const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	for (int i = 0; i < 7; i++) {
		struct buf b = BUF_INIT;
		base64_encode(&b, plain[i], strlen(plain[i]));
		assert_string_equal(buf_cstr(&b), enc[i]);
		buf_reset(&b);
		assert_int_equal(base64_decode(&b, enc[i], strlen(enc[i])), 0);
		assert_string_equal(buf_cstr(&b), plain[i]);
		buf_release(&b);
	}
	const char *badb[] = {
		"Zg=", "Zh==", "Z===", "Zm9=", "Zg==Zg==", "Zm 9", "====", "Zm9v!A=="};
	for (size_t i = 0; i < sizeof(badb) / sizeof(badb[0]); i++) {
		struct buf b = BUF_INIT;
		if (base64_decode(&b, badb[i], strlen(badb[i])) == 0)
			fail_msg("\"%s\" decoded", badb[i]);
		buf_release(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),	cmocka_unit_test(test_strings),
		cmocka_unit_test(test_rejects), cmocka_unit_test(test_i64),
		cmocka_unit_test(test_base64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
