/* loop.h - the worker lcore's poll loop: rx_burst -> dp_worker_process_burst -> tx_burst.
 *
 * One loop per worker lcore, started with rte_eal_remote_launch(dp_loop_run, loop, lcore).
 * Per iteration it stamps w->now_ns from the TSC, polls its queue (w->queue) on every
 * port, hands each non-empty burst to dp_worker_process_burst(), drains every w->tx[]
 * with rte_eth_tx_burst after each port's burst, and calls dp_worker_timers() about once
 * a millisecond. It stops when *quit becomes true.
 *
 * Polling is busy (never sleeps: dedicated cores) or adaptive, as DPDK's l3fwd-power
 * does: once all ports have stayed empty for DP_LOOP_SPIN_NS since the last packet
 * (and for at least DP_LOOP_IDLE_POLLS polls) the loop sleeps, 1 us first, doubling up
 * to idle_us_max; any packet returns it to busy polling. A sleeping worker reacts to
 * traffic within idle_us_max (the packets wait in the RX ring). The spin is counted in
 * time, not in polls, because the answer to a forwarded packet comes a round trip
 * later (tens of microseconds through a database): a worker asleep by then adds its
 * wake-up to every transaction. pgbench through a 2-vCPU appliance: 0.80 of testpmd
 * with 100 polls (~5 us) of spin, 0.90 (rounds 0.86-0.93) with 50 us, no better with
 * 150 us; an idle worker still sleeps within 50 us of its last packet.
 *
 * Deep idle: once no packet has come for deep_after_ns, sleeps may grow on to
 * deep_us_max. Each wake-up of a KVM guest costs some 15 us of CPU (timer exits), so
 * 200 us sleeps keep an idle worker at ~8 % of a core, 1 ms ones at ~2 %. Only the
 * first packet after a quiet second waits longer (up to deep_us_max); an exchange in
 * progress never sees the deep sleeps. The back-off itself is dp_loop_backoff(), a
 * pure function, so that tests can drive it with made-up times.
 *
 * Waking on a frame: a loop given wake descriptors (wake_fd[]: the af_packet PMD's
 * socket of the worker's own queue on each port, dp_port_af_packet_queue_fd(); with
 * several workers, its handoff eventfd, handoff.h) sleeps in ppoll() on them instead of
 * a plain timed sleep, so that a frame arriving during a sleep ends it at once (the
 * kernel marks a PACKET_MMAP socket readable while its ring holds a frame the PMD has
 * not taken); the sleep's length stays the bound. Only its own queue's socket: another
 * worker's stays readable while that worker is busy, and would keep this one awake
 * (found in review). While a wake-up has brought nothing (woke_idle: a frame the PMD
 * cannot take for want of mbufs stays readable), sleeps ignore the sockets and wait on
 * the eventfd only (wake_skip), so that a descriptor that stays readable cannot make
 * the worker spin, and a handed-over frame still ends the sleep. Without them a frame that arrives
 * during a sleep waits for its end. Measured through the demo (docs/performance.md):
 * under load the worker hardly sleeps and nothing changes; with sparse traffic (one
 * client, 50 transactions a second) the average transaction took 0.58 ms instead of
 * 0.66 ms.
 *
 * Counters: the loop counts what only it knows - tx_pkts, tx_bytes and tx_drop_full
 * (packets the TX queue did not take after bounded retries) - in w->cnt and in
 * w->port_cnt[port]. Everything else is the worker's.
 *
 * Ports: the worker numbers its ports 0..w->n_ports-1 (the configuration's order);
 * port_id[] maps them to ethdev port ids, so the worker never sees ethdev ids.
 */
#ifndef TG_LOOP_H
#define TG_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <rte_common.h>
#include "dataplane/dp_config-t.h"
#include "dataplane/worker-t.h"

#define DP_LOOP_IDLE_POLLS  100       /* adaptive: empty polls before the first sleep, */
#define DP_LOOP_SPIN_NS     50000     /* ... and time since the last packet */
#define DP_LOOP_TX_RETRIES  8         /* tx_burst calls that may take nothing before drop */
#define DP_LOOP_TIMER_NS    1000000   /* dp_worker_timers() period */

/* The adaptive back-off's state and settings (dp_loop_backoff). */
struct dp_backoff {
	uint32_t idle_us_max;         /* longest sleep while traffic is recent (>= 1) */
	uint32_t deep_us_max;         /* longest sleep once quiet (<= idle_us_max: none) */
	uint64_t deep_after_ns;       /* quiet means: no packet for this long (0: never) */
	uint32_t empty;               /* empty polls since the last packet */
	uint32_t sleep_us;            /* the next sleep */
	uint64_t last_rx_ns;          /* when a poll last brought packets */
};

/* After a poll at <now_ns> that brought <got> packets: how many microseconds to sleep
 * now (0: poll again at once). Spins DP_LOOP_SPIN_NS (and DP_LOOP_IDLE_POLLS polls)
 * after the last packet, then sleeps 1, 2, 4 ... us up to idle_us_max, and up to
 * deep_us_max once no packet has come for deep_after_ns. */
static inline uint32_t dp_loop_backoff(struct dp_backoff *b, uint64_t now_ns, uint32_t got)
{
	uint32_t us, cap;

	if (got) {
		b->empty = 0;
		b->sleep_us = 1;
		b->last_rx_ns = now_ns;
		return 0;
	}
	if (b->empty < DP_LOOP_IDLE_POLLS || now_ns - b->last_rx_ns < DP_LOOP_SPIN_NS) {
		b->empty++;
		return 0;
	}
	cap = b->idle_us_max ? b->idle_us_max : 1;
	if (b->deep_after_ns && b->deep_us_max > cap && now_ns - b->last_rx_ns >= b->deep_after_ns)
		cap = b->deep_us_max;
	us = b->sleep_us ? b->sleep_us : 1;
	if (us > cap)
		us = cap;
	b->sleep_us = us * 2 > cap ? cap : us * 2;
	return us;
}

enum dp_poll_mode {
	DP_POLL_BUSY     = 0,         /* spin on rx_burst: dedicated cores */
	DP_POLL_ADAPTIVE = 1,         /* sleep after empty polls (VMs, small machines) */
};

/* What one worker lcore runs. Filled by the appliance before launch; the loop writes
 * only the statistics at the end, and reads the rest. */
#define DP_LOOP_WAKE_MAX 32           /* wake descriptors a loop watches at most */

struct dp_loop {
	struct dp_worker *w;          /* the worker this loop drives (its own lcore only) */
	uint16_t port_id[DP_MAX_PORTS]; /* port_id[p]: ethdev id of the worker's port p */
	uint8_t  poll;                /* enum dp_poll_mode */
	uint32_t idle_us_max;         /* adaptive: longest sleep, in microseconds (>= 1) */
	uint32_t deep_us_max;         /* adaptive: longest sleep once quiet (see above) */
	uint32_t deep_after_ms;       /* adaptive: quiet after this long without packets
	                               * (0: never) */
	const volatile bool *quit;    /* set by the signal handler; owned by the appliance */
	int      wake_fd[DP_LOOP_WAKE_MAX]; /* adaptive: descriptors that end a sleep when
	                               * readable (see above); n_wake of them */
	uint8_t  n_wake;
	uint8_t  kick_on;             /* kick_fd is set */
	int      kick_fd;             /* several workers: the eventfd other workers write to
	                               * after handing this one frames (handoff.h) */
	uint8_t  wake_skip;           /* the next sleep ignores wake_fd[] (not kick_fd) */
	uint8_t  woke_idle;           /* a sleep ended early and no packet came since */
	/* statistics of the loop itself, written by the loop (read them after it returned) */
	uint64_t polls;               /* iterations over all ports */
	uint64_t sleeps;              /* adaptive sleeps taken */
	uint64_t sleep_us;            /* microseconds asked to sleep, in total */
	uint64_t deep_sleeps;         /* sleeps longer than idle_us_max (quiet ports) */
	uint64_t woken;               /* sleeps ended early by a wake descriptor */
} __rte_cache_aligned;

/* Sleeps up to <us> microseconds, or until one of lp->wake_fd[] (not with
 * lp->wake_skip) or lp->kick_fd (with lp->kick_on) is readable; with neither, a plain
 * timed sleep. A socket error is read, which clears it; a descriptor that is not open
 * is dropped (else every sleep would end at once). Returns 1 when woken early, 0 after
 * the full sleep. */
int dp_loop_sleep(struct dp_loop *lp, uint32_t us);

/* The lcore function: runs <arg> (a struct dp_loop *) until *quit becomes true, then
 * flushes what w->tx[] still holds (sent, or freed and counted) and returns 0.
 * Returns -1 at once, without polling, if <arg> is unusable (NULL worker or quit flag).
 * Must run on the lcore that owns the worker: nothing else may touch <w> meanwhile,
 * except readers of its counters. */
int dp_loop_run(void *arg);

/* Sends what w->tx[p] holds on the ethdev port <port_id>, queue w->queue. Tries
 * DP_LOOP_TX_RETRIES more times while the queue takes nothing, then frees the rest and
 * counts it as tx_drop_full. Counts tx_pkts and tx_bytes. Leaves w->tx[p] empty.
 * Called by the loop; exposed for tests and benches driving a worker themselves. */
void dp_loop_tx_flush(struct dp_worker *w, uint16_t p, uint16_t port_id);

/* The workers' clock (TSC in nanoseconds), as w->now_ns reads it: for the slow path
 * to relate worker times to the wall clock. */
uint64_t dp_loop_clock_ns(void);

#endif
