/* Unit tests for sup/rollout_run: a rollout driven by the loop's clock, its weights and its end
 * as the run policy sees them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/loop.h"
#include "sup/rollout_run.h"
#include "testutil.h"

struct rec {
	char weights[16][32];
	int nweights;
	int ended; /* 0: not yet; 1 promoted; 2 rolled back */
	char reason[256];
	bool in_call;
	bool called_inside;
};

static void h_weights(void *arg, int prev, int pp, int cur, int cp)
{
	struct rec *r = arg;
	if (r->nweights < 16)
		snprintf(r->weights[r->nweights++], 32, "%d:%d %d:%d", prev, pp, cur, cp);
}

static void h_ended(void *arg, int prev, int cur, bool promoted, const char *reason)
{
	(void)prev;
	(void)cur;
	struct rec *r = arg;
	r->called_inside |= r->in_call;
	r->ended = promoted ? 1 : 2;
	snprintf(r->reason, sizeof(r->reason), "%s", reason);
}

static const struct rollout_run_hooks hooks = {h_weights, h_ended};

static bool ended(void *arg)
{
	return ((struct rec *)arg)->ended != 0;
}

static struct rollout_cfg quick(enum rollout_strategy st)
{
	struct rollout_cfg c;
	rollout_cfg_defaults(&c);
	c.strategy = st;
	c.interval_us = 20000; /* 20 ms steps */
	c.min_requests = 0;
	c.keep_old_us = 20000;
	return c;
}

static void test_canary_promoted_step_by_step(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	struct rec r = {0};
	struct rollout_cfg c = quick(ROLLOUT_CANARY);
	struct rollout_run *rr = rollout_run_new(l, &c, &hooks, &r);
	assert_true(rollout_run_wanted(rr));
	assert_false(rollout_run_active(rr));
	rollout_run_begin(rr, 1, 2);
	assert_true(rollout_run_active(rr));
	assert_string_equal(r.weights[0], "1:90 2:10");
	rollout_run_observe(rr, 2, 200, 1000);
	rollout_run_observe(rr, 1, 200, 1000);
	rollout_run_observe(rr, 7, 500, 1000); /* another generation: ignored */
	struct rollout_status st;
	rollout_run_status(rr, &st);
	assert_string_equal(st.strategy, "canary");
	assert_string_equal(st.state, "stepping");
	assert_int_equal(st.step, 1);
	assert_int_equal(st.nsteps, 3);
	assert_int_equal(st.weight, 10);
	assert_int_equal(st.cur.requests, 1);
	assert_int_equal(st.prev.requests, 1);
	tu_run_until(l, ended, &r, 5000, "the rollout's end");
	assert_int_equal(r.ended, 1);
	assert_int_equal(r.nweights, 4);
	assert_string_equal(r.weights[1], "1:50 2:50");
	assert_string_equal(r.weights[2], "1:0 2:100");
	assert_string_equal(r.weights[3], "1:0 2:100");
	assert_false(rollout_run_active(rr));
	assert_int_equal(rollout_run_route(rr, 0, true), 0);
	rollout_run_free(rr);
	loop_free(l);
}

static void test_fast_fail_ends_from_the_loop(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	struct rec r = {0};
	struct rollout_cfg c = quick(ROLLOUT_CANARY);
	c.interval_us = 60LL * 1000000;
	struct rollout_run *rr = rollout_run_new(l, &c, &hooks, &r);
	rollout_run_begin(rr, 3, 4);
	r.in_call = true;
	for (int i = 0; i < 5; i++)
		rollout_run_observe(rr, 4, i % 2 ? 502 : 0, 1000);
	r.in_call = false;
	assert_int_equal(r.ended, 0); /* not inside the observer */
	assert_string_equal(r.weights[r.nweights - 1], "3:100 4:0");
	tu_run_until(l, ended, &r, 5000, "the rollback");
	assert_int_equal(r.ended, 2);
	assert_false(r.called_inside);
	assert_non_null(strstr(r.reason, "5 consecutive"));
	rollout_run_free(rr);
	loop_free(l);
}

static void test_commands_and_routing(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	struct rec r = {0};
	struct rollout_cfg c = quick(ROLLOUT_CANARY);
	c.interval_us = 60LL * 1000000;
	struct rollout_run *rr = rollout_run_new(l, &c, &hooks, &r);
	assert_int_equal(rollout_run_promote(rr, NULL), -ESRCH);
	assert_int_equal(rollout_run_abort(rr, NULL), -ESRCH);
	assert_int_equal(rollout_run_route(rr, 0, false), 0);
	rollout_run_begin(rr, 1, 2);
	assert_int_equal(rollout_run_route(rr, 0, true), 2);  /* preview */
	assert_int_equal(rollout_run_route(rr, 1, false), 1); /* sticky to the old */
	assert_int_equal(rollout_run_route(rr, 2, false), 2); /* sticky to the new */
	int to_new = 0;
	for (int i = 0; i < 2000; i++)
		to_new += rollout_run_route(rr, 0, false) == 2;
	assert_true(to_new > 100 && to_new < 320);	    /* about 10 % */
	assert_int_equal(rollout_run_rollback(rr), -ESRCH); /* canary: abort */
	r.in_call = true;
	assert_int_equal(rollout_run_abort(rr, "baton abort"), 0);
	r.in_call = false;
	assert_string_equal(r.weights[r.nweights - 1], "1:100 2:0");
	tu_run_until(l, ended, &r, 5000, "the abort");
	assert_int_equal(r.ended, 2);
	assert_false(r.called_inside);
	assert_non_null(strstr(r.reason, "baton abort"));
	struct rollout_status st;
	rollout_run_status(rr, &st);
	assert_string_equal(st.state, "rolled back");
	rollout_run_free(rr);
	loop_free(l);
}

static void test_blue_green(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	struct rec r = {0};
	struct rollout_cfg c = quick(ROLLOUT_BLUE_GREEN);
	c.keep_old_us = 60LL * 1000000;
	struct rollout_run *rr = rollout_run_new(l, &c, &hooks, &r);
	rollout_run_begin(rr, 5, 6);
	assert_string_equal(r.weights[0], "5:0 6:100");
	assert_int_equal(rollout_run_route(rr, 0, false), 6);
	assert_int_equal(rollout_run_rollback(rr), 0);
	assert_string_equal(r.weights[1], "5:100 6:0");
	tu_run_until(l, ended, &r, 5000, "the rollback");
	assert_int_equal(r.ended, 2);
	/* keep_old elapses: promoted */
	c.keep_old_us = 10000;
	struct rollout_run *rr2 = rollout_run_new(l, &c, &hooks, &r);
	r.ended = 0;
	rollout_run_begin(rr2, 6, 7);
	tu_run_until(l, ended, &r, 5000, "keep_old");
	assert_int_equal(r.ended, 1);
	assert_int_equal(rollout_run_rollback(rr2), -ESRCH);
	rollout_run_free(rr);
	rollout_run_free(rr2);
	loop_free(l);
}

static void test_config_mapping(void **state)
{
	(void)state;
	struct config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.rollout.strategy = "blue-green";
	cfg.rollout.on_no_traffic = "rollback";
	cfg.rollout.steps.n = 2;
	cfg.rollout.steps.v[0] = 25;
	cfg.rollout.steps.v[1] = 100;
	cfg.rollout.interval_ms = 1500;
	cfg.rollout.max_error_rate = 2.5;
	cfg.rollout.max_latency_ratio = 1.2;
	cfg.rollout.latency_floor_ms = 80;
	cfg.rollout.fast_fail = 3;
	cfg.rollout.min_requests = 7;
	cfg.rollout.keep_old_ms = 2000;
	struct rollout_cfg c;
	rollout_cfg_from_config(&cfg, &c);
	assert_int_equal(c.strategy, ROLLOUT_BLUE_GREEN);
	assert_int_equal(c.on_no_traffic, ROLLOUT_NT_ROLLBACK);
	assert_int_equal(c.nsteps, 2);
	assert_int_equal(c.steps[0], 25);
	assert_int_equal(c.interval_us, 1500000);
	assert_int_equal(c.latency_floor_us, 80000);
	assert_int_equal(c.keep_old_us, 2000000);
	assert_int_equal(c.fast_fail, 3);
	assert_int_equal(c.min_requests, 7);
	assert_true(c.max_error_rate == 2.5 && c.max_latency_ratio == 1.2);
	char *err = NULL;
	assert_int_equal(rollout_cfg_check(&c, &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canary_promoted_step_by_step),
		cmocka_unit_test(test_fast_fail_ends_from_the_loop),
		cmocka_unit_test(test_commands_and_routing),
		cmocka_unit_test(test_blue_green),
		cmocka_unit_test(test_config_mapping),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
