/* Unit tests for takeover_addr: which addresses an app's bind(2) asks for baton holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "config/config.h"
#include "sup/takeover_addr.h"

static int decode(const void *sa, size_t len, char *key)
{
	return tk_addr_decode(sa, len, key);
}

static void test_inet(void **state)
{
	(void)state;
	char key[TK_KEY_MAX];
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(8080)};
	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	assert_int_equal(decode(&in, sizeof(in), key), 1);
	assert_string_equal(key, "127.0.0.1:8080");
	in.sin_addr.s_addr = 0;
	assert_int_equal(decode(&in, sizeof(in), key), 1);
	assert_string_equal(key, "0.0.0.0:8080");
	in.sin_port = 0; /* ephemeral: untouched */
	assert_int_equal(decode(&in, sizeof(in), key), 0);
	in.sin_port = htons(1);
	assert_int_equal(decode(&in, sizeof(in) - 1, key), -EINVAL); /* short */
	assert_int_equal(decode(&in, 1, key), -EINVAL);
	assert_int_equal(decode(&in, 0, key), -EINVAL);
}

static void test_inet6(void **state)
{
	(void)state;
	char key[TK_KEY_MAX];
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(8080)};
	assert_int_equal(decode(&in6, sizeof(in6), key), 1);
	assert_string_equal(key, "[::]:8080"); /* Go's ":8080", dual-stack */
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &in6.sin6_addr);
	assert_int_equal(decode(&in6, sizeof(in6), key), 1);
	assert_string_equal(key, "[::ffff:127.0.0.1]:8080");
	inet_pton(AF_INET6, "fe80::1", &in6.sin6_addr);
	in6.sin6_scope_id = 2;
	assert_int_equal(decode(&in6, sizeof(in6), key), 1);
	assert_string_equal(key, "[fe80::1%2]:8080");
	in6.sin6_port = 0;
	assert_int_equal(decode(&in6, sizeof(in6), key), 0);
	assert_int_equal(decode(&in6, sizeof(struct sockaddr_in), key), -EINVAL);
}

static void test_unix(void **state)
{
	(void)state;
	char key[TK_KEY_MAX];
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	size_t off = offsetof(struct sockaddr_un, sun_path);
	/* unnamed (autobind) and a path pass untouched */
	assert_int_equal(decode(&un, off, key), 0);
	strcpy(un.sun_path, "/run/app.sock");
	assert_int_equal(decode(&un, off + strlen(un.sun_path) + 1, key), 0);
	/* an abstract name is held; its bytes are shown safely */
	memcpy(un.sun_path, "\0app\n\\x", 7);
	assert_int_equal(decode(&un, off + 7, key), 1);
	assert_string_equal(key, "unix:@app\\x0a\\x5cx");
	/* the longest abstract name, every byte escaped, fits */
	memset(un.sun_path, 0, sizeof(un.sun_path));
	assert_int_equal(decode(&un, sizeof(un), key), 1);
	assert_int_equal(strlen(key), 6 + 4 * (sizeof(un.sun_path) - 1));
	assert_int_equal(decode(&un, sizeof(un) + 1, key), -EINVAL);
}

static void test_other(void **state)
{
	(void)state;
	char key[TK_KEY_MAX];
	struct sockaddr_storage ss = {.ss_family = AF_NETLINK};
	assert_int_equal(decode(&ss, sizeof(ss), key), 0);
	assert_string_equal(key, "");
	ss.ss_family = AF_PACKET;
	assert_int_equal(decode(&ss, sizeof(ss), key), 0);
}

static struct config *load(const char *text, struct config_diags *d)
{
	return config_load_buffer("baton.toml", "/srv/app", text, strlen(text), false, d, NULL);
}

/* [run] takeover: "auto" by default, "off" accepted, anything else refused at its position;
 * ready_set tells whether the file wrote 'ready' (readiness by takeover applies when not). */
static void test_config_key(void **state)
{
	(void)state;
	struct config_diags d = {0};
	struct config *cfg = load("[run]\ncmd = \"app\"\n", &d);
	assert_non_null(cfg);
	assert_string_equal(cfg->run.takeover, "auto");
	assert_false(cfg->run.ready_set);
	config_free(cfg);
	cfg = load("[run]\ncmd = \"app\"\ntakeover = \"off\"\nready = \"notify\"\n", &d);
	assert_non_null(cfg);
	assert_string_equal(cfg->run.takeover, "off");
	assert_true(cfg->run.ready_set);
	config_free(cfg);
	assert_int_equal(d.n, 0);
	cfg = load("[run]\ncmd = \"app\"\ntakeover = \"on\"\n", &d);
	assert_null(cfg);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.v[0].line, 3);
	assert_non_null(strstr(d.v[0].msg, "expected \"auto\" or \"off\""));
	config_diags_release(&d);
	cfg = load("[run]\ncmd = \"app\"\ntakeover = \"\"\n", &d);
	assert_null(cfg);
	config_diags_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inet),	   cmocka_unit_test(test_inet6),
		cmocka_unit_test(test_unix),	   cmocka_unit_test(test_other),
		cmocka_unit_test(test_config_key),
	};
	return cmocka_run_group_tests_name("takeover", tests, NULL, NULL);
}
