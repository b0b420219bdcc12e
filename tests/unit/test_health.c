/* Health decisions: rise and fall, passive runs of 5xx / connect errors, all down. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sup/health.h"

static const struct health_opts haproxy = {.rise = 2, .fall = 3};

static void test_fall_then_rise(void **state)
{
	(void)state;
	struct health_state s;
	health_init(&s);
	assert_true(s.up);
	/* a pass between failures starts the count again */
	assert_int_equal(health_check(&s, &haproxy, false), HEALTH_SAME);
	assert_int_equal(health_check(&s, &haproxy, false), HEALTH_SAME);
	assert_int_equal(health_check(&s, &haproxy, true), HEALTH_SAME);
	assert_int_equal(health_check(&s, &haproxy, false), HEALTH_SAME);
	assert_int_equal(health_check(&s, &haproxy, false), HEALTH_SAME);
	assert_true(s.up);
	assert_int_equal(health_check(&s, &haproxy, false), HEALTH_WENT_DOWN);
	assert_false(s.up);
	assert_int_equal(health_check(&s, &haproxy, false), HEALTH_SAME);
	/* rise = 2 consecutive passes */
	assert_int_equal(health_check(&s, &haproxy, true), HEALTH_SAME);
	assert_int_equal(health_check(&s, &haproxy, false), HEALTH_SAME);
	assert_int_equal(health_check(&s, &haproxy, true), HEALTH_SAME);
	assert_false(s.up);
	assert_int_equal(health_check(&s, &haproxy, true), HEALTH_WENT_UP);
	assert_true(s.up);
	assert_int_equal(health_check(&s, &haproxy, true), HEALTH_SAME);
}

static void test_rise_fall_one(void **state)
{
	(void)state;
	const struct health_opts one = {.rise = 1, .fall = 1};
	struct health_state s;
	health_init(&s);
	assert_int_equal(health_check(&s, &one, false), HEALTH_WENT_DOWN);
	assert_int_equal(health_check(&s, &one, true), HEALTH_WENT_UP);
}

static void test_passive(void **state)
{
	(void)state;
	struct health_state s;
	health_init(&s);
	/* 4 bad then a good one: no failed check */
	for (int i = 0; i < HEALTH_PASSIVE_FAILS - 1; i++)
		assert_int_equal(health_observe(&s, &haproxy, 502), HEALTH_SAME);
	assert_int_equal(health_observe(&s, &haproxy, 404), HEALTH_SAME);
	assert_int_equal(s.failed, 0);
	/* 5 consecutive (5xx and connect errors mixed) = one failed check */
	for (int i = 0; i < HEALTH_PASSIVE_FAILS; i++)
		assert_int_equal(health_observe(&s, &haproxy, i % 2 ? 0 : 500), HEALTH_SAME);
	assert_int_equal(s.failed, 1);
	/* fall = 3 failed checks: 15 bad responses in all */
	for (int i = 0; i < HEALTH_PASSIVE_FAILS * 2 - 1; i++)
		assert_int_equal(health_observe(&s, &haproxy, 503), HEALTH_SAME);
	assert_int_equal(health_observe(&s, &haproxy, 503), HEALTH_WENT_DOWN);
	assert_false(s.up);
	/* good responses never bring it back: only active checks do */
	for (int i = 0; i < 10; i++)
		assert_int_equal(health_observe(&s, &haproxy, 200), HEALTH_SAME);
	assert_false(s.up);
	assert_int_equal(health_check(&s, &haproxy, true), HEALTH_SAME);
	assert_int_equal(health_check(&s, &haproxy, true), HEALTH_WENT_UP);
	assert_int_equal(s.bad_responses, 0);
}

static void test_all_down(void **state)
{
	(void)state;
	struct health_state a, b;
	health_init(&a);
	health_init(&b);
	const struct health_state *v[] = {&a, &b};
	assert_false(health_all_down(v, 0));
	assert_false(health_all_down(v, 2));
	const struct health_opts one = {.rise = 1, .fall = 1};
	health_check(&a, &one, false);
	assert_false(health_all_down(v, 2));
	assert_true(health_all_down(v, 1));
	health_check(&b, &one, false);
	assert_true(health_all_down(v, 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fall_then_rise),
		cmocka_unit_test(test_rise_fall_one),
		cmocka_unit_test(test_passive),
		cmocka_unit_test(test_all_down),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
