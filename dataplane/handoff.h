/* handoff.h - reassembled datagrams (and routed segments) passed to the worker that owns their flow.
 *
 * With several workers each one owns the flows that the NIC's RSS sends to its queue.
 * A NIC hashes unfragmented TCP on addresses and ports, but fragments (which carry no
 * ports, or only the first does) are not hashed and land on queue 0 (port.c asks RSS
 * for unfragmented TCP only). Worker 0 therefore reassembles every fragmented
 * datagram, and the datagram may belong to a flow of another worker, whose stream it
 * must join: inspected, in sequence, with the flow's state.
 *
 * So the reassembling worker computes the queue RSS would have chosen for the whole
 * datagram - the Toeplitz hash of (source, destination, source port, destination
 * port) with the port's own key, then the port's redirection table - exactly as the
 * NIC does for the flow's unfragmented segments, and enqueues the datagram on that
 * worker's handoff ring (multi-producer, single-consumer). Each worker drains its
 * ring in its poll loop and runs the datagrams through its normal path.
 *
 * The same holds for an IPv6 segment with a routing header in transit: the NIC hashed
 * its waypoint (the IPv6 destination), while its flow is that of its final destination
 * (dp_pkt.c); the worker that gets it passes it on the same way (rh_handoff).
 *
 * The key and the table are read from the port once it is started (dp_port_rss_get()),
 * so they are the NIC's, not assumptions. Counters: frag_handoff (datagrams passed
 * on), frag_handoff_full (dropped: the owner's ring was full; the sender
 * retransmits).
 *
 * Software flow spreading (h->soft): when a port's PMD cannot spread flows by RSS
 * (af_packet, whose queues are fed by the kernel's PACKET_FANOUT hash; a NIC without
 * RSS that leaves everything to queue 0), no NIC decides who owns a flow. Then the
 * owner is a hash of the flow that this process computes itself, the same for both
 * directions (addresses and ports folded by XOR before they are hashed) and keyed with
 * a seed drawn at start-up (jhash, whose initial value mixes in non-linearly: flows
 * that share a worker under one seed are split under another, so no client can pick
 * ports that all land on one worker), and
 * every worker checks every protected TCP segment it receives: a segment of another
 * worker's flow is passed on through that worker's ring (soft_handoff). Correct
 * whatever queue the frames arrive on; what the kernel's or NIC's spreading still
 * does is share the receiving. The ownership is global then: with one such port,
 * every port's segments are checked, so that both directions of a flow agree.
 *
 * Waking a sleeping owner (adaptive polling): a worker about to sleep says so
 * (dp_handoff_sleep_begin: its asleep flag, then a last look at its ring), and a worker
 * that has just put frames on a sleeping worker's ring writes to that worker's eventfd
 * (dp_handoff_kick), which the sleeper waits on with its ports (loop.h). The flag is set
 * before the look and read after the enqueue, both with full fences, so either the
 * sleeper sees the frame or the sender sees the flag: a handed-over frame never waits
 * out a whole sleep.
 *
 * Threading: a struct dp_handoff is built before the workers start and only read
 * afterwards, except wake[q].asleep (written by worker q, read by the others); each
 * ring has many producers (any worker) and one consumer (its owner).
 */
#ifndef TG_DP_HANDOFF_H
#define TG_DP_HANDOFF_H

#include <stdint.h>
#include "dataplane/dp_config-t.h"
#include "dataplane/dp_pkt-t.h"
#include "dataplane/policy-t.h"

struct rte_ring;
struct dp_worker;

#define DP_RSS_KEY_MAX      64        /* bytes of RSS key (40 on most NICs, 52 on i40e) */
#define DP_RSS_RETA_MAX     512       /* redirection table entries (up to 512 on i40e) */
#define DP_HANDOFF_RING     4096      /* frames each ring holds (with software spreading
                                       * about half of all traffic crosses them) */

/* How one port spreads TCP over its queues. */
struct dp_rss {
	/* rte_softrss() reads the key as 32-bit words: keep it aligned */
	uint8_t  key[DP_RSS_KEY_MAX] __attribute__((aligned(8)));
	uint16_t key_len;             /* bytes of key (0: this port is not known) */
	uint16_t reta_size;           /* entries of reta */
	uint8_t  tcp4, tcp6;          /* TCP over IPv4 / IPv6 is hashed; what is not hashed
	                               * gets hash 0, so lands on reta[0] */
	uint16_t reta[DP_RSS_RETA_MAX]; /* hash % reta_size -> queue */
};

/* A worker's sleep, as the others see it. */
struct dp_handoff_wake {
	uint32_t asleep;              /* 1 while worker q may be sleeping (atomic) */
	int      efd;                 /* its eventfd (non-blocking), when wake_on */
} __attribute__((aligned(64)));

/* What every worker shares: each port's RSS and each worker's ring (index = queue). */
struct dp_handoff {
	uint16_t n_workers;
	uint8_t  soft;                /* software flow spreading: owner by dp_handoff_soft() */
	uint8_t  wake_on;             /* wake[].efd are open (dp_handoff_wake_init) */
	uint32_t seed;                /* its hash seed (drawn at start-up) */
	struct dp_rss rss[DP_MAX_PORTS];          /* by the workers' port index */
	struct rte_ring *ring[DP_MAX_WORKERS]; /* ring[q]: datagrams for worker q */
	struct dp_handoff_wake wake[DP_MAX_WORKERS];
};

/* The queue (= worker) that owns the flow of the TCP segment parsed into <p> on worker
 * port <port>: the one RSS sends it to, as the NIC computes it (both directions of a
 * flow give the same answer with a symmetric key, as port.c configures), or with
 * h->soft the software owner, whatever the port. Returns UINT16_MAX when the port's
 * RSS is not known. */
uint16_t dp_handoff_owner(const struct dp_handoff *h, uint16_t port, const struct dp_pkt *p);

/* The software owner of <p>'s flow among <n_workers>, with hash <seed>: the same for
 * both directions of a flow. */
uint16_t dp_handoff_soft(uint32_t seed, uint16_t n_workers, const struct dp_pkt *p);

/* Creates one ring per worker in <h> (h->n_workers set, rings NULL). Returns 0, or -1
 * with the rings made so far freed. */
int dp_handoff_rings_create(struct dp_handoff *h, int socket);

/* Frees the rings and the datagrams still in them, and closes the eventfds. */
void dp_handoff_rings_free(struct dp_handoff *h);

/* Creates each worker's eventfd (wake[q].efd). Returns 0, or -1 (errno set) with none
 * left open. */
int dp_handoff_wake_init(struct dp_handoff *h);

/* After frames were put on worker <q>'s ring: wakes it if it sleeps. */
void dp_handoff_kick(struct dp_handoff *h, uint16_t q);

/* Worker <q> is about to sleep: returns 1 (flag set) when its ring is empty, else 0
 * (flag cleared: poll again instead). */
int dp_handoff_sleep_begin(struct dp_handoff *h, uint16_t q);

/* Worker <q> is awake again: clears its flag and empties its eventfd. */
void dp_handoff_sleep_end(struct dp_handoff *h, uint16_t q);

#endif
