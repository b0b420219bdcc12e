/* Unit tests for rollout/: the canary's steps and analysis, blue-green, routing, the histogram. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rollout/rollout.h"

#define S 1000000LL

static struct rollout_cfg canary(void)
{
	struct rollout_cfg c;
	rollout_cfg_defaults(&c);
	c.strategy = ROLLOUT_CANARY;
	return c;
}

/* n requests to each side over the step, new ones failing every fail_every-th (0: never). */
static enum rollout_decision feed(struct rollout *r, int n, int fail_every, int64_t old_us,
				  int64_t new_us, int64_t now)
{
	enum rollout_decision d = ROLLOUT_NONE;
	for (int i = 1; i <= n && d == ROLLOUT_NONE; i++) {
		rollout_observe(r, false, 200, old_us, now);
		d = rollout_observe(r, true, fail_every && i % fail_every == 0 ? 500 : 200, new_us,
				    now);
	}
	return d;
}

static void test_defaults_and_check(void **state)
{
	(void)state;
	struct rollout_cfg c = canary();
	char *err = NULL;
	assert_int_equal(rollout_cfg_check(&c, &err), 0);
	assert_int_equal(c.nsteps, 3);
	assert_int_equal(c.steps[2], 100);
	c.steps[1] = 5;
	assert_int_equal(rollout_cfg_check(&c, &err), -EINVAL);
	assert_non_null(strstr(err, "must increase"));
	free(err);
	c = canary();
	c.steps[0] = 0;
	assert_int_equal(rollout_cfg_check(&c, &err), -EINVAL);
	free(err);
	c = canary();
	c.max_latency_ratio = 0.5;
	assert_int_equal(rollout_cfg_check(&c, &err), -EINVAL);
	free(err);
}

static void test_healthy_canary_steps_then_promotes(void **state)
{
	(void)state;
	struct rollout_cfg c = canary();
	struct rollout r;
	rollout_init(&r, &c);
	assert_int_equal(rollout_start(&r, 0), ROLLOUT_STEP);
	assert_int_equal(rollout_weight(&r), 10);
	assert_int_equal(rollout_next_deadline(&r), 60 * S);
	assert_int_equal(feed(&r, 200, 0, 10000, 11000, S), ROLLOUT_NONE);
	assert_int_equal(rollout_tick(&r, 59 * S), ROLLOUT_NONE);
	assert_int_equal(rollout_tick(&r, 60 * S), ROLLOUT_STEP);
	assert_int_equal(rollout_weight(&r), 50);
	assert_int_equal(r.new_w.requests, 0); /* a fresh window per step */
	feed(&r, 200, 0, 10000, 11000, 61 * S);
	assert_int_equal(rollout_tick(&r, 120 * S), ROLLOUT_STEP);
	assert_int_equal(rollout_weight(&r), 100);
	feed(&r, 200, 0, 10000, 11000, 121 * S);
	assert_int_equal(rollout_tick(&r, 180 * S), ROLLOUT_PROMOTE);
	assert_int_equal(r.state, ROLLOUT_PROMOTED);
	assert_true(rollout_pick_new(&r, false, false, false, 99.9));
	assert_int_equal(rollout_next_deadline(&r), INT64_MAX);
}

static void test_error_rate_rolls_back_with_figures(void **state)
{
	(void)state;
	struct rollout_cfg c = canary();
	c.fast_fail = 0;
	struct rollout r;
	rollout_init(&r, &c);
	rollout_start(&r, 0);
	feed(&r, 300, 3, 10000, 10000, S); /* a third fail */
	assert_int_equal(rollout_tick(&r, 60 * S), ROLLOUT_ROLLBACK);
	assert_int_equal(r.state, ROLLOUT_ROLLED_BACK);
	assert_non_null(strstr(r.reason, "error rate 33.33%"));
	assert_non_null(strstr(r.reason, "max_error_rate 1.00%"));
	assert_false(rollout_pick_new(&r, true, true, true, 0));
	assert_int_equal(rollout_weight(&r), 0);
}

/* The e2e flake's suspects, pinned down: a failing canary that gets few requests per step is
 * held (never passed) until min_requests, then rolled back on its error rate; errors of the old
 * generation never count to the new one. */
static void test_sparse_failing_canary_held_then_rolled_back(void **state)
{
	(void)state;
	struct rollout_cfg c = canary();
	c.fast_fail = 0;
	c.min_requests = 20;
	c.interval_us = S;
	struct rollout r;
	rollout_init(&r, &c);
	rollout_start(&r, 0);
	int64_t t = 0;
	enum rollout_decision d = ROLLOUT_HOLD;
	int holds = 0;
	while (d == ROLLOUT_HOLD) {
		for (int i = 0; i < 30; i++) /* the old one: busy, and failing too */
			rollout_observe(&r, false, i % 2 ? 500 : 200, 1000, t);
		feed(&r, 3, 3, 1000, 1000, t); /* 3 new requests a step, one fails */
		t += S;
		d = rollout_tick(&r, t);
		holds += d == ROLLOUT_HOLD;
		assert_true(holds < 100);
	}
	assert_int_equal(d, ROLLOUT_ROLLBACK);
	assert_int_equal(holds, 6); /* 18 requests after 6 steps: held; 21 after 7 */
	assert_non_null(strstr(r.reason, "step 10%: error rate 33.33% (7 of 21)"));
	assert_non_null(strstr(r.reason, "(old: 45.45%)")); /* 105 of 231 */

	/* a healthy canary next to a failing old generation is not failed for the old's errors */
	rollout_start(&r, 0);
	for (int i = 0; i < 40; i++) {
		rollout_observe(&r, false, 500, 1000, 0);
		rollout_observe(&r, true, 200, 1000, 0);
	}
	assert_int_equal(r.new_w.errors, 0);
	assert_int_equal(r.old_w.errors, 40);
	assert_int_equal(rollout_tick(&r, S), ROLLOUT_STEP);
}

static void test_fast_fail_and_reset_on_success(void **state)
{
	(void)state;
	struct rollout_cfg c = canary();
	struct rollout r;
	rollout_init(&r, &c);
	rollout_start(&r, 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(rollout_observe(&r, true, 502, 1000, S), ROLLOUT_NONE);
	assert_int_equal(rollout_observe(&r, true, 200, 1000, S), ROLLOUT_NONE);
	for (int i = 0; i < 4; i++)
		assert_int_equal(rollout_observe(&r, true, 0, 1000, S), ROLLOUT_NONE);
	/* the old generation's failures do not count */
	assert_int_equal(rollout_observe(&r, false, 500, 1000, S), ROLLOUT_NONE);
	assert_int_equal(rollout_observe(&r, true, 503, 1000, S), ROLLOUT_ROLLBACK);
	assert_non_null(strstr(r.reason, "5 consecutive"));
	/* ended: further outcomes change nothing */
	assert_int_equal(rollout_observe(&r, true, 500, 1000, S), ROLLOUT_NONE);
}

static void test_latency_rolls_back_above_floor_only(void **state)
{
	(void)state;
	struct rollout_cfg c = canary();
	struct rollout r;
	rollout_init(&r, &c);
	rollout_start(&r, 0);
	/* 3x slower but under the 50 ms floor: passes */
	feed(&r, 200, 0, 5000, 15000, S);
	assert_int_equal(rollout_tick(&r, 60 * S), ROLLOUT_STEP);
	/* 250 ms slower: rolled back */
	feed(&r, 200, 0, 10000, 260000, 61 * S);
	assert_int_equal(rollout_tick(&r, 120 * S), ROLLOUT_ROLLBACK);
	assert_non_null(strstr(r.reason, "p99"));
}

static void test_no_traffic_holds_then_policy(void **state)
{
	(void)state;
	struct rollout_cfg c = canary();
	struct rollout r;
	rollout_init(&r, &c);
	rollout_start(&r, 0);
	feed(&r, 10, 0, 1000, 1000, S);
	assert_int_equal(rollout_tick(&r, 60 * S), ROLLOUT_HOLD);
	assert_int_equal(rollout_weight(&r), 10);
	assert_non_null(strstr(r.reason, "holding"));
	/* on_no_traffic = hold: holds forever */
	int64_t t = 60 * S;
	for (int i = 0; i < 20; i++) {
		t = rollout_next_deadline(&r);
		assert_int_equal(rollout_tick(&r, t), ROLLOUT_HOLD);
	}
	/* traffic arrives: the accumulated window passes */
	feed(&r, 100, 0, 1000, 1000, t);
	assert_int_equal(rollout_tick(&r, rollout_next_deadline(&r)), ROLLOUT_STEP);
	assert_int_equal(rollout_weight(&r), 50);

	c.on_no_traffic = ROLLOUT_NT_ROLLBACK;
	rollout_init(&r, &c);
	rollout_start(&r, 0);
	enum rollout_decision d = ROLLOUT_HOLD;
	int n = 0;
	while (d == ROLLOUT_HOLD && n++ < 100)
		d = rollout_tick(&r, rollout_next_deadline(&r));
	assert_int_equal(d, ROLLOUT_ROLLBACK);
	assert_int_equal(n, 10); /* ten 60 s holds = 10 minutes */
	assert_non_null(strstr(r.reason, "on_no_traffic = rollback"));

	c.on_no_traffic = ROLLOUT_NT_PROMOTE;
	rollout_init(&r, &c);
	rollout_start(&r, 0);
	d = ROLLOUT_HOLD;
	while (d == ROLLOUT_HOLD)
		d = rollout_tick(&r, rollout_next_deadline(&r));
	assert_int_equal(d, ROLLOUT_PROMOTE);
}

static void test_commands(void **state)
{
	(void)state;
	struct rollout_cfg c = canary();
	struct rollout r;
	rollout_init(&r, &c);
	assert_int_equal(rollout_promote(&r, NULL), -ESRCH);
	assert_int_equal(rollout_abort(&r, NULL), -ESRCH);
	rollout_start(&r, 0);
	assert_int_equal(rollout_rollback(&r), -ESRCH); /* canary: abort, not rollback */
	assert_int_equal(rollout_abort(&r, "operator"), 0);
	assert_int_equal(r.state, ROLLOUT_ROLLED_BACK);
	assert_non_null(strstr(r.reason, "operator"));
	rollout_start(&r, 0);
	assert_int_equal(rollout_promote(&r, NULL), 0);
	assert_int_equal(rollout_weight(&r), 100);
	assert_string_equal(r.reason, "promoted by request");
	rollout_start(&r, 0);
	assert_int_equal(rollout_promote(&r, "generation 1 exited"), 0);
	assert_int_equal(r.state, ROLLOUT_PROMOTED);
	assert_string_equal(r.reason, "promoted: generation 1 exited"); /* said why, in the log */

	c.strategy = ROLLOUT_IMMEDIATE;
	rollout_init(&r, &c);
	assert_int_equal(rollout_start(&r, 0), ROLLOUT_PROMOTE);
}

static void test_blue_green(void **state)
{
	(void)state;
	struct rollout_cfg c = canary();
	c.strategy = ROLLOUT_BLUE_GREEN;
	struct rollout r;
	rollout_init(&r, &c);
	assert_int_equal(rollout_start(&r, 0), ROLLOUT_STEP);
	assert_int_equal(rollout_weight(&r), 100);
	assert_true(rollout_pick_new(&r, false, false, false, 99.99));
	assert_int_equal(rollout_tick(&r, 29 * S), ROLLOUT_NONE);
	assert_int_equal(rollout_rollback(&r), 0);
	assert_int_equal(rollout_weight(&r), 0);
	rollout_start(&r, 0);
	assert_int_equal(rollout_tick(&r, 30 * S), ROLLOUT_PROMOTE);
	assert_int_equal(rollout_rollback(&r), -ESRCH); /* keep_old is over */
}

static void test_routing(void **state)
{
	(void)state;
	struct rollout_cfg c = canary();
	struct rollout r;
	rollout_init(&r, &c);
	assert_false(rollout_pick_new(&r, false, false, false, 0)); /* idle */
	rollout_start(&r, 0);
	int n = 0;
	for (int i = 0; i < 1000; i++)
		n += rollout_pick_new(&r, false, false, false, i / 10.0);
	assert_int_equal(n, 100);
	assert_true(rollout_pick_new(&r, false, false, true, 99));
	assert_true(rollout_pick_new(&r, true, true, false, 99));
	assert_false(rollout_pick_new(&r, true, false, false, 0));
}

static void test_hist_quantile(void **state)
{
	(void)state;
	struct rollout_hist h;
	memset(&h, 0, sizeof(h));
	assert_int_equal(rollout_hist_quantile(&h, 0.99), 0);
	for (int i = 1; i <= 1000; i++)
		rollout_hist_add(&h, i * 1000); /* 1..1000 ms */
	int64_t p99 = rollout_hist_quantile(&h, 0.99), p50 = rollout_hist_quantile(&h, 0.5);
	assert_true(p99 >= 990000 && p99 <= 990000 * 1.125);
	assert_true(p50 >= 500000 && p50 <= 500000 * 1.125);
	for (int i = 0; i < 8; i++) {
		memset(&h, 0, sizeof(h));
		rollout_hist_add(&h, i);
		assert_int_equal(rollout_hist_quantile(&h, 1), i);
	}
	memset(&h, 0, sizeof(h));
	rollout_hist_add(&h, -5);
	rollout_hist_add(&h, INT64_MAX);
	assert_int_equal(rollout_hist_quantile(&h, 0.5), 0);
	assert_true(rollout_hist_quantile(&h, 1) > 1000 * S); /* clamped to the last bucket */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_check),
		cmocka_unit_test(test_healthy_canary_steps_then_promotes),
		cmocka_unit_test(test_error_rate_rolls_back_with_figures),
		cmocka_unit_test(test_sparse_failing_canary_held_then_rolled_back),
		cmocka_unit_test(test_fast_fail_and_reset_on_success),
		cmocka_unit_test(test_latency_rolls_back_above_floor_only),
		cmocka_unit_test(test_no_traffic_holds_then_policy),
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_blue_green),
		cmocka_unit_test(test_routing),
		cmocka_unit_test(test_hist_quantile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
