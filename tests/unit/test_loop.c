/* test_loop.c - the adaptive poll loop's back-off (dataplane/loop.h: dp_loop_backoff),
 * its sleep that a frame ends (dp_loop_sleep), and the af_packet sockets it waits on
 * (dataplane/port.h: dp_port_af_packet_fds).
 *
 * The back-off is a pure function of the poll results and of the times it is given,
 * so these tests feed it made-up nanoseconds: nothing there sleeps or reads a clock.
 * The sleep tests give a readable descriptor and a sleep of two seconds: a sleep that
 * is not ended by it returns 0 after them and fails the test on its result (no clock is
 * read).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <poll.h>
#include <cmocka.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include "dataplane/handoff.h"
#include "dataplane/loop.h"
#include "dataplane/port.h"
#include "tests/common/test_eal.h"

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

/* While a wake-up has brought nothing (wake_skip), a sleep ignores the sockets, which
 * may stay readable (a frame the PMD cannot take), but not the kick eventfd: a frame
 * handed over still ends it. Before, such a sleep was a plain timed one (review). */
static void test_sleep_skip_keeps_kick(void **state)
{
	struct dp_loop lp;
	int p[2], ev = eventfd(0, EFD_NONBLOCK);
	uint64_t one = 1;

	(void)state;
	assert_true(ev >= 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "x", 1), 1);   /* a socket that stays readable */
	memset(&lp, 0, sizeof(lp));
	lp.wake_fd[0] = p[0];
	lp.n_wake = 1;
	lp.kick_fd = ev;
	lp.kick_on = 1;
	assert_int_equal(dp_loop_sleep(&lp, 2000000u), 1);  /* the socket ends it */
	lp.wake_skip = 1;
	assert_int_equal(dp_loop_sleep(&lp, 1000), 0);      /* ignored: 1 ms, then 0 */
	assert_int_equal(write(ev, &one, sizeof(one)), (ssize_t)sizeof(one));
	assert_int_equal(dp_loop_sleep(&lp, 2000000u), 1);  /* the kick ends it */
	lp.kick_on = 0;
	assert_int_equal(dp_loop_sleep(&lp, 1000), 0);      /* nothing left: timed */
	close(p[0]);
	close(p[1]);
	close(ev);
}

/* The af_packet tests run in a network namespace of their own (made in main(), before
 * EAL starts its threads), so that the "lo" they bind to is theirs: nothing else sends
 * there, and nothing the PMD does touches the machine's interfaces. 0 without
 * CAP_SYS_ADMIN: they are skipped. */
static int own_netns;

/* A readable descriptor ends the sleep at once (a sleep of 10 minutes otherwise); with
 * nothing to read the sleep runs its course. */
static void test_sleep_ended_by_descriptor(void **state)
{
	struct dp_loop lp;
	int p[2];

	(void)state;
	memset(&lp, 0, sizeof(lp));
	assert_int_equal(pipe(p), 0);
	lp.wake_fd[0] = p[0];
	lp.n_wake = 1;
	assert_int_equal(dp_loop_sleep(&lp, 1000), 0);       /* 1 ms, nothing came */
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(dp_loop_sleep(&lp, 2000000u), 1); /* ended by it */
	assert_int_equal(lp.n_wake, 1);
	close(p[0]);
	close(p[1]);
}

/* A descriptor that is closed (or in error) is dropped from the list, so that sleeps do
 * not end at once forever; the others stay watched. */
static void test_sleep_drops_bad_descriptor(void **state)
{
	struct dp_loop lp;
	int p[2], ev = eventfd(1, 0);

	(void)state;
	assert_true(ev >= 0);
	memset(&lp, 0, sizeof(lp));
	assert_int_equal(pipe(p), 0);
	close(p[0]);
	close(p[1]);
	lp.wake_fd[0] = p[0];                 /* not open any more */
	lp.wake_fd[1] = ev;
	lp.n_wake = 2;
	assert_int_equal(dp_loop_sleep(&lp, 2000000u), 1);
	assert_int_equal(lp.n_wake, 1);
	assert_int_equal(lp.wake_fd[0], ev);
	assert_int_equal(dp_loop_sleep(&lp, 2000000u), 1); /* the eventfd is still readable */
	close(ev);
	lp.n_wake = 0;
	assert_int_equal(dp_loop_sleep(&lp, 1), 0);          /* a plain timed sleep */
}

/* The af_packet sockets of a port are found among the process's descriptors by the
 * interface they are bound to (here a socket on "lo", standing in for the PMD's). Needs
 * a namespace of its own (root); skipped without. */
static void test_af_packet_fds(void **state)
{
	struct sockaddr_ll sll;
	int fds[4], other[4];
	int s = own_netns ? socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)) : -1;

	(void)state;
	if (s < 0)
		skip();
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)if_nametoindex("lo");
	assert_true(sll.sll_ifindex > 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sll, sizeof(sll)), 0);
	assert_int_equal(dp_port_af_packet_fds("net_af_packet0,iface=lo", fds, 4), 1);
	assert_int_equal(fds[0], s);
	assert_int_equal(dp_port_af_packet_fds("net_af_packet0,iface=lo,qpairs=2", other, 4), 1);
	assert_int_equal(dp_port_af_packet_fds("eth_af_packet3,iface=lo", other, 4), 1);
	/* another interface, another PMD, a malformed string: none */
	assert_int_equal(dp_port_af_packet_fds("net_af_packet0,iface=tg-nonexistent", other, 4), 0);
	assert_int_equal(dp_port_af_packet_fds("net_tap0,iface=lo", other, 4), 0);
	assert_int_equal(dp_port_af_packet_fds("net_af_packet0", other, 4), 0);
	close(s);
	assert_int_equal(dp_port_af_packet_fds("net_af_packet0,iface=lo", fds, 4), 0);
}

/* Whether <fd> is readable now (no waiting). */
static int readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* A worker that hands frames to a sleeping one wakes it through its eventfd; not one
 * that is awake; and a worker with frames already in its ring does not go to sleep. */
static void test_handoff_wakes_sleeper(void **state)
{
	struct rte_mempool *pool = test_pool();
	struct dp_handoff *h = rte_zmalloc("h", sizeof(*h), 64);
	struct dp_loop lp;
	struct rte_mbuf *m;
	void *got;

	(void)state;
	assert_non_null(pool);
	assert_non_null(h);
	h->n_workers = 2;
	assert_int_equal(dp_handoff_rings_create(h, SOCKET_ID_ANY), 0);
	assert_int_equal(dp_handoff_wake_init(h), 0);
	/* awake: no kick reaches it */
	dp_handoff_kick(h, 1);
	assert_false(readable(h->wake[1].efd));
	/* asleep with an empty ring: a frame for it, then the kick */
	assert_int_equal(dp_handoff_sleep_begin(h, 1), 1);
	m = rte_pktmbuf_alloc(pool);
	assert_non_null(m);
	assert_int_equal(rte_ring_mp_enqueue(h->ring[1], m), 0);
	dp_handoff_kick(h, 1);
	assert_true(readable(h->wake[1].efd));
	assert_false(readable(h->wake[0].efd));
	memset(&lp, 0, sizeof(lp));
	lp.kick_fd = h->wake[1].efd;
	lp.kick_on = 1;
	assert_int_equal(dp_loop_sleep(&lp, 2000000u), 1); /* ended by it */
	dp_handoff_sleep_end(h, 1);
	assert_false(readable(h->wake[1].efd));
	assert_int_equal(h->wake[1].asleep, 0);
	/* a frame waits in the ring: no sleep */
	assert_int_equal(dp_handoff_sleep_begin(h, 1), 0);
	assert_int_equal(h->wake[1].asleep, 0);
	assert_int_equal(rte_ring_sc_dequeue(h->ring[1], &got), 0);
	assert_ptr_equal(got, m);
	rte_pktmbuf_free(m);
	dp_handoff_rings_free(h);
	assert_int_equal(h->wake_on, 0);
	rte_free(h);
}

/* A worker waits on its own queue's socket only: the socket of each RX queue of an
 * af_packet port (two queue pairs on the test's own "lo", nothing sent) is read from
 * the PMD and is one of the port's sockets, and the two differ.
 * Needs a namespace of its own (root); skipped without. */
static void test_af_packet_queue_fd(void **state)
{
	static const char dev[] = "net_af_packet_tq,iface=lo,qpairs=2";
	struct rte_mempool *pool = test_pool();
	struct rte_eth_conf conf;
	uint16_t port;
	int all[8], q0, q1, n;

	(void)state;
	if (!own_netns)
		skip();
	assert_non_null(pool);
	assert_int_equal(rte_eal_hotplug_add("vdev", "net_af_packet_tq", "iface=lo,qpairs=2"), 0);
	assert_int_equal(rte_eth_dev_get_port_by_name("net_af_packet_tq", &port), 0);
	memset(&conf, 0, sizeof(conf));
	assert_int_equal(rte_eth_dev_configure(port, 2, 2, &conf), 0);
	for (uint16_t q = 0; q < 2; q++) {
		assert_int_equal(rte_eth_rx_queue_setup(port, q, 128, SOCKET_ID_ANY, NULL, pool), 0);
		assert_int_equal(rte_eth_tx_queue_setup(port, q, 128, SOCKET_ID_ANY, NULL), 0);
	}
	assert_int_equal(rte_eth_dev_start(port), 0);
	n = dp_port_af_packet_fds(dev, all, 8);
	assert_int_equal(n, 2);
	q0 = dp_port_af_packet_queue_fd(port, 0, dev);
	q1 = dp_port_af_packet_queue_fd(port, 1, dev);
	assert_true(q0 >= 0 && q1 >= 0);
	assert_int_not_equal(q0, q1);
	assert_true(q0 == all[0] || q0 == all[1]);
	assert_true(q1 == all[0] || q1 == all[1]);
	assert_int_equal(dp_port_af_packet_queue_fd(port, 0, "net_af_packet_tq,iface=tg-nonexistent"), -1);
	assert_int_equal(rte_eth_dev_stop(port), 0);
	assert_int_equal(rte_eth_dev_close(port), 0);
	assert_int_equal(rte_eal_hotplug_remove("vdev", "net_af_packet_tq"), 0);
}

int main(void)
{
	own_netns = unshare(CLONE_NEWNET) == 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spin_then_doubling),
		cmocka_unit_test(test_deep_idle),
		cmocka_unit_test(test_sleep_ended_by_descriptor),
		cmocka_unit_test(test_sleep_drops_bad_descriptor),
		cmocka_unit_test(test_af_packet_fds),
		cmocka_unit_test(test_sleep_skip_keeps_kick),
		cmocka_unit_test(test_handoff_wakes_sleeper),
		cmocka_unit_test(test_af_packet_queue_fd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
