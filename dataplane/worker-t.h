/* worker-t.h - one worker lcore's context (types only).
 *
 * Everything a worker touches per packet lives here and is passed explicitly;
 * nothing on the packet path reads a global. One struct per worker, cache aligned.
 */
#ifndef TG_WORKER_T_H
#define TG_WORKER_T_H

#include <stdint.h>
#include "dataplane/dp_config-t.h"
#include "dataplane/dp_counters-t.h"
#include "dataplane/flow-t.h"
#include "dataplane/policy-t.h"
#include "dataplane/proto/proto.h"

struct rte_mempool;
struct rte_ring;
struct tg_event;
struct dp_frag;
struct dp_handoff;
struct dp_res_index;
struct rte_mbuf;

#define DP_BURST      32
#define DP_TXBUF_MAX  1024            /* packets one burst may produce for one port */

/* Packets waiting to be sent on one port. process_burst fills it, the loop drains it. */
struct dp_txbuf {
	uint16_t n;                   /* packets queued */
	struct rte_mbuf *pkts[DP_TXBUF_MAX];
};

struct dp_worker {
	uint16_t id;                  /* worker index, 0..n_workers-1 */
	uint16_t queue;               /* RX/TX queue this worker owns on every port */
	unsigned lcore;               /* lcore it runs on */
	uint16_t n_ports;             /* ports in use */
	uint16_t peer[DP_MAX_PORTS];  /* peer[p]: the other port of p's pair (UINT16_MAX: none) */
	uint8_t  server_side[DP_MAX_PORTS]; /* 1 if port p faces the servers (pair's b side) */
	const struct dp_config *cfg;  /* settings and resources (read only) */
	struct dp_res_index *res;     /* cfg's resources by address and port (resource.h) */
	struct flow_table *ft;        /* this worker's flows */
	struct rte_mempool *pool;     /* mbufs for copies and injected segments */
	uint64_t now_ns;              /* time of the current burst (set by the loop or a test) */
	uint64_t next_flow_id;        /* next session id (boot << 48 | worker << 40 | n) */
	uint64_t stream_mem;          /* bytes of mbuf buffers held by streams (memcap) */
	struct flow_list rtx_flows;   /* flows with injected bytes waiting for an ACK */
	struct dp_policy_slot *slot;  /* where the slow path publishes policies (NULL: fixed) */
	struct dp_policy *pol;        /* the policy of the current burst */
	struct dp_policy *own_pol;    /* the empty policy used until one is set */
	struct proto_env env;         /* what decoders get: policy, scratch buffers, counters */
	struct dp_frag *frag;         /* IP reassembly table (NULL: fragments dropped) */
	struct dp_handoff *handoff;   /* several workers: where frames of other workers'
	                               * flows go (NULL: one worker); the worker writes only
	                               * its own wake[queue].asleep there */
	uint64_t kick;                /* workers whose rings got frames in this burst */
	struct rte_ring *ev_ring;     /* events to the slow path (NULL: not recorded) */
	struct rte_ring *ctl_ring;    /* commands from the slow path (kill), or NULL */
	int64_t realtime_off_ns;      /* wall clock = now_ns + this (set by the slow path) */
	uint8_t stopping;             /* dp_worker_fini runs: flows close with "shutdown" */
	struct dp_counters cnt;       /* this worker's totals */
	/* The same counters per port: [p] counts what happened to the frames received on
	 * port p (rx, drops, bypasses, anomalies, the decoders' counts) and tx_* of the
	 * frames sent on it; [DP_MAX_PORTS] what belongs to no frame (timers: expiry,
	 * retransmission timeouts; the slow path's commands). <pc> is the block of the
	 * frame being processed (dp_worker_cnt_port), so that every counter is counted
	 * twice, in cnt and in *pc, at the same site (DP_WCNT_INC). */
	struct dp_counters port_cnt[DP_MAX_PORTS + 1];
	struct dp_counters *pc;
	struct dp_txbuf tx[DP_MAX_PORTS];          /* output, per port */
} __attribute__((aligned(64)));

/* Counts in worker <w>'s totals and in the block of the port whose frame it is
 * processing (w->pc). */
#define DP_WCNT_ADD(w, name, n) do {                                             \
		(w)->cnt.v[DP_CNT_##name] += (n);                                \
		(w)->pc->v[DP_CNT_##name] += (n);                                \
	} while (0)
#define DP_WCNT_INC(w, name)    DP_WCNT_ADD(w, name, 1)
/* The same for a counter id <id> computed at run time. */
#define DP_WCNT_INC_ID(w, id)   do { (w)->cnt.v[id]++; (w)->pc->v[id]++; } while (0)

#endif
