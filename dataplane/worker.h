/* worker.h - the per-packet path: parse, flow lookup, TCP, decoder, editor, output.
 *
 * dp_worker_process_burst() is a plain function (DESIGN.md §2.2): tests and benches
 * feed it mbufs built in memory and read what it queued in w->tx[port]; the worker
 * loop (dataplane/loop.c) feeds it from rx_burst and drains w->tx with tx_burst.
 */
#ifndef TG_WORKER_H
#define TG_WORKER_H

#include <stdint.h>
#include "dataplane/worker-t.h"
#include "dataplane/dp_pkt-t.h"

/* Initialises <w> as worker <id> serving <n_ports> ports, with <pairs> giving peer
 * ports (peer[p]), <server_side> flags, settings <cfg>, mbuf <pool> (its private area
 * must hold struct tcp_seg: see dp_worker_pool_create). Creates its flow table.
 * Returns 0, or a negative errno. */
int dp_worker_init(struct dp_worker *w, uint16_t id, uint16_t n_ports, const uint16_t *peer,
		   const uint8_t *server_side, const struct dp_config *cfg, struct rte_mempool *pool);

/* Frees the worker's flows (and the mbufs they hold) and its table. */
void dp_worker_fini(struct dp_worker *w);

/* Creates an mbuf pool whose mbufs carry a struct tcp_seg in their private area and
 * hold a frame of up to <frame_max> bytes whole (dp_port_frame_max()). */
struct rte_mempool *dp_worker_pool_create(const char *name, unsigned n_mbufs, uint32_t frame_max,
					  int socket);

/* Bytes of buffer an mbuf needs for a whole frame of <frame_max> bytes: headroom and
 * the frame, rounded up; never less than DPDK's default (RTE_MBUF_DEFAULT_BUF_SIZE,
 * which holds a 1500-byte MTU frame). */
uint16_t dp_worker_data_room(uint32_t frame_max);

/* Processes <n> packets received on <port>. Every packet is either queued for output
 * in w->tx[], kept by a stream (held, out of order, retransmit queue), or freed and
 * counted. Uses w->now_ns as the current time. */
void dp_worker_process_burst(struct dp_worker *w, uint16_t port, struct rte_mbuf **pkts, uint16_t n);

/* Several workers (w->handoff set): processes up to DP_BURST datagrams that other
 * workers reassembled for this worker's flows (handoff.h), as received on the port
 * the datagram's mbuf names. Returns how many it took. */
unsigned dp_worker_handoff_poll(struct dp_worker *w);

/* Periodic work: expire flows, retransmit unacknowledged injected bytes. Call with
 * w->now_ns set, every few milliseconds at most. */
void dp_worker_timers(struct dp_worker *w);

/* Makes the worker read its policy from <slot> at every burst (the appliance), and
 * registers it with the slot's RCU variable. */
void dp_worker_attach_policy(struct dp_worker *w, struct dp_policy_slot *slot);

/* Uses policy <p> for every following burst (tests, benches: no RCU). */
void dp_worker_set_policy(struct dp_worker *w, struct dp_policy *p);

/* Reports that the worker holds no reference to a policy snapshot (RCU quiescent
 * state). The loop calls it after every iteration, idle or not. */
void dp_worker_quiescent(struct dp_worker *w);

/* The worker's thread starts / stops reporting quiescent states (loop start / exit). */
void dp_worker_online(struct dp_worker *w);
void dp_worker_offline(struct dp_worker *w);

/* Sends event <ev> of flow <f> to the slow path: fills its header (session id, time,
 * worker, resource, protocol) and enqueues it. A full ring is counted (ev_lost) and,
 * with record policy must_record, the flow is reset. */
void dp_worker_event(struct dp_worker *w, struct flow *f, struct tg_event *ev);

/* Starts a session on inspected flow <f> (its proto set) from client SYN <p> in frame
 * <frame>: a new session id, TCP tracking, a fresh decoder state, and the session-open
 * event. For a new flow, and for a new connection that reuses a flow's tuple. */
void dp_worker_session_begin(struct dp_worker *w, struct flow *f, const struct dp_pkt *p,
			     const uint8_t *frame);
/* Sends the session-close event of <f> (enum ev_close_reason), once per session. */
void dp_worker_session_close(struct dp_worker *w, struct flow *f, uint8_t reason);
/* Ends the session of <f>: its close event (<reason>), its TCP state's mbufs, and its
 * decoder's fini(). The flow itself stays (released by the table, or begun again). */
void dp_worker_session_end(struct dp_worker *w, struct flow *f, uint8_t reason);

/* A command from the slow path to a worker, through w->ctl_ring. */
struct dp_ctl_msg {
	uint32_t type;                /* DP_CTL_KILL */
	uint32_t pad;
	uint64_t sid;                 /* the session (flow id) */
};
#define DP_CTL_KILL 1

/* Queues <m> for output on <port>; frees and counts it when the buffer is full. */
void dp_worker_emit(struct dp_worker *w, uint16_t port, struct rte_mbuf *m);

#endif
