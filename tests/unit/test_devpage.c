/* The broken-build page: escaping, colour codes, bad bytes, what it says, live reload. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sup/devpage.h"

/* The <pre> contents of a page. */
static char *pre_of(const char *page)
{
	const char *open = "<pre id=\"baton-build-output\">";
	const char *p = strstr(page, open);
	assert_non_null(p);
	p += strlen(open);
	const char *e = strstr(p, "</pre>");
	assert_non_null(e);
	return strndup(p, (size_t)(e - p));
}

static void test_escaping(void **state)
{
	(void)state;
	const char *out = "./main.go:12:2: undefined: <script>alert('x&y')</script> \"q\"\r\n"
			  "\x1b[1;31merror\x1b[0m tab\there \x01 bel\x07 del\x7f\n"
			  "caf\xc3\xa9 \xff \xe2\x82 \xed\xa0\x80 \xe2\x9c\x93\n";
	char *page = devpage_build_error(out, "exit 2", 3, false);
	char *pre = pre_of(page);
	assert_string_equal(pre, "./main.go:12:2: undefined: &lt;script&gt;alert(&#39;x&amp;y&#39;)"
				 "&lt;/script&gt; &quot;q&quot;\n"
				 "error tab\there \xef\xbf\xbd bel\xef\xbf\xbd del\xef\xbf\xbd\n"
				 "caf\xc3\xa9 \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd "
				 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xe2\x9c\x93\n");
	/* nothing from the output escapes the <pre> */
	assert_null(strstr(page, "<script>alert"));
	assert_non_null(strstr(page, "<h1>Build failed (exit 2)</h1>"));
	assert_non_null(strstr(page, "Other requests still go to generation 3."));
	assert_non_null(strstr(page, "then reload this page."));
	assert_null(strstr(page, "EventSource"));
	free(pre);
	free(page);
}

static void test_live_reload_and_edges(void **state)
{
	(void)state;
	char *page = devpage_build_error(NULL, NULL, 0, true);
	char *pre = pre_of(page);
	assert_string_equal(pre, "");
	assert_non_null(strstr(page, "<h1>Build failed</h1>"));
	assert_non_null(strstr(page, "Nothing is serving yet."));
	assert_non_null(strstr(page, "new EventSource(\"/__baton/live\")"));
	assert_non_null(strstr(page, "this page reloads itself"));
	free(pre);
	free(page);
	/* a truncated escape sequence at the very end */
	page = devpage_build_error("x\x1b", "<b>", 1, false);
	pre = pre_of(page);
	assert_string_equal(pre, "x");
	assert_non_null(strstr(page, "<h1>Build failed (&lt;b&gt;)</h1>"));
	free(pre);
	free(page);
	page = devpage_build_error("y\x1b[31", "", 1, false);
	pre = pre_of(page);
	assert_string_equal(pre, "y");
	free(pre);
	free(page);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_live_reload_and_edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
