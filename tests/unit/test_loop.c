/* test_loop.c - the adaptive poll loop's back-off (dataplane/loop.h: dp_loop_backoff).
 *
 * The back-off is a pure function of the poll results and of the times it is given,
 * so these tests feed it made-up nanoseconds: nothing here sleeps or reads a clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "dataplane/loop.h"

#define US 1000ull
#define MS 1000000ull

static void init(struct dp_backoff *b, uint32_t idle, uint32_t deep, uint64_t deep_after_ns)
{
	memset(b, 0, sizeof(*b));
	b->idle_us_max = idle;
	b->deep_us_max = deep;
	b->deep_after_ns = deep_after_ns;
}

/* Empty polls at <now> until the first sleep; returns the time of that poll. */
static uint64_t spin_out(struct dp_backoff *b, uint64_t now)
{
	for (unsigned i = 0; i < 100000; i++, now += 100) {
		if (dp_loop_backoff(b, now, 0))
			return now;
	}
	fail_msg("never slept");
	return now;
}

/* A packet resets; the loop spins DP_LOOP_SPIN_NS and DP_LOOP_IDLE_POLLS polls, then
 * sleeps 1, 2, 4 ... up to idle_us_max and stays there. */
static void test_spin_then_doubling(void **state)
{
	struct dp_backoff b;
	uint64_t t = 10 * MS, t0;
	uint32_t want[] = { 2, 4, 8, 16, 32, 64, 128, 200, 200, 200 };

	(void)state;
	init(&b, 200, 0, 0);
	assert_int_equal(dp_loop_backoff(&b, t, 5), 0);
	/* many fast empty polls: still spinning inside DP_LOOP_SPIN_NS */
	for (unsigned i = 0; i < 1000; i++)
		assert_int_equal(dp_loop_backoff(&b, t + i * 10, 0), 0);
	t0 = spin_out(&b, t + 1000 * 10);
	assert_true(t0 - t >= DP_LOOP_SPIN_NS);
	/* the call that returned nonzero returned 1 */
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(dp_loop_backoff(&b, t0 + (i + 1) * MS, 0), want[i]);
	/* a packet: back to spinning, and the next sleep starts at 1 again */
	t = t0 + 20 * MS;
	assert_int_equal(dp_loop_backoff(&b, t, 1), 0);
	assert_int_equal(dp_loop_backoff(&b, t + 10, 0), 0);
	spin_out(&b, t + 20);
	assert_int_equal(dp_loop_backoff(&b, t + 2 * MS, 0), 2);
}

/* Without deep idle the cap never grows; with it, sleeps grow past idle_us_max only
 * once no packet has come for deep_after_ns, and a packet ends that at once. */
static void test_deep_idle(void **state)
{
	struct dp_backoff b;
	uint64_t t = 5 * MS, now;
	uint32_t us = 0;

	(void)state;
	init(&b, 200, 1000, 0);           /* deep_after 0: off */
	dp_loop_backoff(&b, t, 3);
	now = spin_out(&b, t);
	for (unsigned i = 0; i < 50; i++)
		us = dp_loop_backoff(&b, now + 10 * (uint64_t)i * 1000 * MS, 0);
	assert_int_equal(us, 200);

	init(&b, 200, 1000, 1000 * MS);
	dp_loop_backoff(&b, t, 3);
	now = spin_out(&b, t);
	/* 999 ms after the packet: still capped at 200 */
	for (unsigned i = 0; i < 20; i++)
		us = dp_loop_backoff(&b, t + 999 * MS, 0);
	assert_int_equal(us, 200);
	/* 1 s after: doubles on from 200 to 400, 800, then 1000 */
	assert_int_equal(dp_loop_backoff(&b, t + 1000 * MS, 0), 200);
	assert_int_equal(dp_loop_backoff(&b, t + 1001 * MS, 0), 400);
	assert_int_equal(dp_loop_backoff(&b, t + 1002 * MS, 0), 800);
	assert_int_equal(dp_loop_backoff(&b, t + 1003 * MS, 0), 1000);
	assert_int_equal(dp_loop_backoff(&b, t + 1004 * MS, 0), 1000);
	/* a packet: spinning again, then the short cap until the next quiet second */
	t += 2000 * MS;
	assert_int_equal(dp_loop_backoff(&b, t, 1), 0);
	now = spin_out(&b, t + 10);
	for (unsigned i = 0; i < 20; i++)
		us = dp_loop_backoff(&b, now + i * MS, 0);
	assert_int_equal(us, 200);
	/* a deep cap not above idle_us_max changes nothing */
	init(&b, 200, 100, 1 * MS);
	dp_loop_backoff(&b, t, 3);
	now = spin_out(&b, t);
	for (unsigned i = 0; i < 30; i++)
		us = dp_loop_backoff(&b, now + (i + 1) * 100 * MS, 0);
	assert_int_equal(us, 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spin_then_doubling),
		cmocka_unit_test(test_deep_idle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
