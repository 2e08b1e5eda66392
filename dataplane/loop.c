/* loop.c - the worker lcore's poll loop (busy or adaptive), TX drain and timer tick. */
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/prctl.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include "common/tg_log.h"
#include "dataplane/dp_counters.h"
#include "dataplane/handoff.h"
#include "dataplane/loop.h"
#include "dataplane/worker.h"

/* TSC to nanoseconds as one multiply and shift: ns = tsc * mult >> 32, with mult
 * = 2^32 * 1e9 / hz computed once. A 128-bit product keeps it exact enough (relative
 * error below 1e-9) without a division per poll. */
struct loop_clock {
	uint64_t mult;                /* nanoseconds per cycle, 32.32 fixed point */
};

static void loop_clock_init(struct loop_clock *c)
{
	uint64_t hz = rte_get_tsc_hz();

	c->mult = (uint64_t)(((unsigned __int128)NS_PER_S << 32) / (hz ? hz : 1));
}

static inline uint64_t loop_now_ns(const struct loop_clock *c)
{
	return (uint64_t)(((unsigned __int128)rte_get_tsc_cycles() * c->mult) >> 32);
}

void dp_loop_tx_flush(struct dp_worker *w, uint16_t p, uint16_t port_id)
{
	struct dp_txbuf *t = &w->tx[p];
	uint16_t n = t->n, sent = 0;
	uint64_t bytes = 0, unsent_bytes = 0;
	unsigned idle = 0;

	if (n == 0)
		return;
	/* Lengths are read before tx_burst: once sent, an mbuf belongs to the PMD. */
	for (uint16_t i = 0; i < n; i++)
		bytes += rte_pktmbuf_pkt_len(t->pkts[i]);
	while (sent < n) {
		uint16_t k = rte_eth_tx_burst(port_id, w->queue, t->pkts + sent, n - sent);

		sent += k;
		/* Only attempts that took nothing count towards the bound: a queue that
		 * takes packets is draining, and each such attempt sends at least one. */
		if (k == 0 && ++idle > DP_LOOP_TX_RETRIES)
			break;
	}
	if (sent < n) {
		for (uint16_t i = sent; i < n; i++)
			unsent_bytes += rte_pktmbuf_pkt_len(t->pkts[i]);
		rte_pktmbuf_free_bulk(t->pkts + sent, n - sent);
		DP_CNT_ADD(&w->cnt, tx_drop_full, n - sent);
		DP_CNT_ADD(&w->port_cnt[p], tx_drop_full, n - sent);
	}
	DP_CNT_ADD(&w->cnt, tx_pkts, sent);
	DP_CNT_ADD(&w->cnt, tx_bytes, bytes - unsent_bytes);
	DP_CNT_ADD(&w->port_cnt[p], tx_pkts, sent);
	DP_CNT_ADD(&w->port_cnt[p], tx_bytes, bytes - unsent_bytes);
	t->n = 0;
}

/* Sends everything the worker queued, on every port. */
static inline void loop_tx_drain(struct dp_loop *lp)
{
	struct dp_worker *w = lp->w;

	for (uint16_t p = 0; p < w->n_ports; p++)
		if (w->tx[p].n)
			dp_loop_tx_flush(w, p, lp->port_id[p]);
}

/* One pass over every port: returns the packets received. */
static inline uint32_t loop_poll_ports(struct dp_loop *lp)
{
	struct dp_worker *w = lp->w;
	struct rte_mbuf *pkts[DP_BURST];
	uint32_t got = 0;

	/* frames other workers passed on for this one's flows (several workers): up to
	 * four bursts a pass, since with software spreading the other N-1 workers each
	 * receive up to a burst a port per pass for it, and a ring drained slower than it
	 * fills would drop (soft_handoff_full) before any core is busy */
	for (unsigned k = 0; w->handoff && k < 4; k++) {
		unsigned n = dp_worker_handoff_poll(w);

		if (n == 0)
			break;
		got += n;
		loop_tx_drain(lp);
		if (n < DP_BURST)
			break;
	}
	for (uint16_t p = 0; p < w->n_ports; p++) {
		uint16_t n = rte_eth_rx_burst(lp->port_id[p], w->queue, pkts, DP_BURST);

		if (n == 0)
			continue;
		got += n;
		dp_worker_process_burst(w, p, pkts, n);
		/* Drain after each burst, not once per pass: a burst may emit on any port
		 * (bridged frames on the peer, injected replies back on this one), and the
		 * TX buffers must not fill up while other ports are polled. */
		loop_tx_drain(lp);
	}
	return got;
}

int dp_loop_run(void *arg)
{
	struct dp_loop *lp = arg;
	struct dp_worker *w;
	struct loop_clock clk;
	struct dp_backoff bo;
	uint64_t next_timer_ns;
	bool adaptive;

	if (lp == NULL || lp->w == NULL || lp->quit == NULL)
		return -1;
	w = lp->w;
	adaptive = lp->poll == DP_POLL_ADAPTIVE;
	memset(&bo, 0, sizeof(bo));
	bo.idle_us_max = lp->idle_us_max ? lp->idle_us_max : 1;
	bo.deep_us_max = lp->deep_us_max;
	bo.deep_after_ns = (uint64_t)lp->deep_after_ms * 1000000ull;
	loop_clock_init(&clk);
	/* Linux rounds a thread's sleeps up by its timer slack (50 us by default), which
	 * would turn the first 1 us back-off into 50 us of added latency. */
	if (adaptive) {
		prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
		if (bo.deep_after_ns && bo.deep_us_max > bo.idle_us_max)
			TG_INFO("loop", "worker %u on lcore %u: queue %u, %u ports, adaptive polling "
				"(sleeps up to %u us, up to %u us after %u ms without packets; "
				"a frame on %u sockets ends a sleep%s)",
				w->id, rte_lcore_id(), w->queue, w->n_ports, bo.idle_us_max,
				bo.deep_us_max, lp->deep_after_ms, lp->n_wake,
				lp->kick_on ? ", and so does a frame handed over" : "");
		else
			TG_INFO("loop", "worker %u on lcore %u: queue %u, %u ports, adaptive polling "
				"(sleeps up to %u us; a frame on %u sockets ends a sleep%s)", w->id,
				rte_lcore_id(), w->queue, w->n_ports, bo.idle_us_max, lp->n_wake,
				lp->kick_on ? ", and so does a frame handed over" : "");
	} else {
		TG_INFO("loop", "worker %u on lcore %u: queue %u, %u ports, busy polling",
			w->id, rte_lcore_id(), w->queue, w->n_ports);
	}

	w->now_ns = loop_now_ns(&clk);
	bo.last_rx_ns = w->now_ns;
	next_timer_ns = w->now_ns + DP_LOOP_TIMER_NS;
	dp_worker_online(w);
	/* The quit flag is written by a signal handler on another thread: an atomic load
	 * keeps the compiler from hoisting it out of the loop (it costs a plain load). */
	while (!__atomic_load_n(lp->quit, __ATOMIC_RELAXED)) {
		uint32_t got, us;

		w->now_ns = loop_now_ns(&clk);
		got = loop_poll_ports(lp);
		if (got)
			lp->woke_idle = 0;
		if (w->now_ns >= next_timer_ns) {
			dp_worker_timers(w);
			loop_tx_drain(lp);     /* timers may retransmit */
			next_timer_ns = w->now_ns + DP_LOOP_TIMER_NS;
		}
		lp->polls++;
		/* between iterations the worker holds no policy snapshot: a reload may free
		 * the previous one once every worker has said so */
		dp_worker_quiescent(w);
		/* Adaptive back-off (as l3fwd-power): spin through short gaps between
		 * bursts, then sleep while the ports stay empty. */
		if (!adaptive || (us = dp_loop_backoff(&bo, w->now_ns, got)) == 0)
			continue;
		/* frames another worker handed over since the poll: poll, not sleep; else
		 * the others now kick this worker's eventfd (handoff.h) */
		if (w->handoff && !dp_handoff_sleep_begin(w->handoff, w->queue))
			continue;
		/* a wake-up that has brought nothing yet (a frame the PMD could not take, no
		 * mbuf): this sleep ignores the sockets, or one that stays readable would keep
		 * the worker spinning through poll(); handed-over frames still wake it */
		lp->wake_skip = lp->woke_idle;
		if (dp_loop_sleep(lp, us)) {
			lp->woken++;
			lp->woke_idle = 1;
		}
		if (w->handoff)
			dp_handoff_sleep_end(w->handoff, w->queue);
		lp->sleeps++;
		lp->sleep_us += us;
		if (us > bo.idle_us_max)
			lp->deep_sleeps++;
	}
	loop_tx_drain(lp);
	dp_worker_offline(w);
	TG_INFO("loop", "worker %u stopped: %" PRIu64 " polls, %" PRIu64 " sleeps (%" PRIu64
		" us asked, %" PRIu64 " deep, %" PRIu64 " ended by a frame)", w->id, lp->polls,
		lp->sleeps, lp->sleep_us, lp->deep_sleeps, lp->woken);
	return 0;
}

int dp_loop_sleep(struct dp_loop *lp, uint32_t us)
{
	struct pollfd pfd[DP_LOOP_WAKE_MAX + 1];
	struct timespec ts = { .tv_sec = us / 1000000u, .tv_nsec = (long)(us % 1000000u) * 1000 };
	unsigned n = lp->n_wake < DP_LOOP_WAKE_MAX ? lp->n_wake : DP_LOOP_WAKE_MAX;
	unsigned total;
	int rc;

	if (lp->wake_skip)
		n = 0;
	total = n;

	if (n == 0 && !lp->kick_on) {
		rte_delay_us_sleep(us);
		return 0;
	}
	for (unsigned i = 0; i < n; i++)
		pfd[i] = (struct pollfd){ .fd = lp->wake_fd[i], .events = POLLIN };
	if (lp->kick_on)
		pfd[total++] = (struct pollfd){ .fd = lp->kick_fd, .events = POLLIN };
	rc = ppoll(pfd, total, &ts, NULL);
	if (rc < 0 && errno != EINTR) {
		rte_delay_us_sleep(us);   /* poll() itself failed: sleep all the same */
		return 0;
	}
	if (rc <= 0)
		return 0;             /* the full sleep (or a signal: the loop checks quit) */
	for (unsigned i = n; i-- > 0;) {
		if (pfd[i].revents & POLLERR) {
			/* a socket error (the interface went down: ENETDOWN) is reported once;
			 * reading it clears it, and the socket wakes the worker again once the
			 * interface is back */
			int err = 0;
			socklen_t len = sizeof(err);

			(void)getsockopt(lp->wake_fd[i], SOL_SOCKET, SO_ERROR, &err, &len);
		}
		if (pfd[i].revents & POLLNVAL) {
			TG_WARN("loop", "wake descriptor %d is not open; no longer watched",
				lp->wake_fd[i]);
			lp->wake_fd[i] = lp->wake_fd[--n];
			lp->n_wake = (uint8_t)n;
		}
	}
	if (lp->kick_on && (pfd[total - 1].revents & POLLNVAL)) {
		TG_WARN("loop", "kick descriptor %d is not open; no longer watched", lp->kick_fd);
		lp->kick_on = 0;
	}
	return 1;
}

uint64_t dp_loop_clock_ns(void)
{
	struct loop_clock c;

	loop_clock_init(&c);
	return loop_now_ns(&c);
}
