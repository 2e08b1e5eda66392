/* tcp.h - TCP tracking, reassembly and stream editing of a protected flow.
 *
 * The worker hands every segment of an inspected flow to tcp_segment(). It tracks
 * both directions, reassembles each into an in-order byte stream, feeds the stream
 * to the flow's decoder, and emits what may be forwarded through the stream editor
 * (DESIGN.md §2.1): SEQ/ACK/SACK translated, checksums fixed, removed bytes
 * acknowledged to their sender, injected bytes retransmitted until acknowledged.
 *
 * Ownership: tcp_segment() takes the mbuf. It is emitted (w->tx), kept in one of the
 * flow's queues (released when acknowledged, or by tcp_conn_release), or freed.
 */
#ifndef TG_TCP_H
#define TG_TCP_H

#include <stdint.h>
#include "dataplane/dp_pkt-t.h"
#include "dataplane/flow-t.h"

struct dp_worker;
struct rte_mbuf;

/* Processes segment <m> (parsed into <p>) of flow <f> in direction <dir>
 * (0: client to server, 1: server to client). */
void tcp_segment(struct dp_worker *w, struct flow *f, int dir, struct rte_mbuf *m,
		 const struct dp_pkt *p);

/* Starts tracking a flow whose client SYN <p>, in frame <frame>, is the first packet
 * (right after the flow was inserted, or when a new connection reuses its tuple). */
void tcp_conn_init(struct flow *f, const struct dp_pkt *p, const uint8_t *frame);

/* Frees every mbuf the flow holds and returns their memory to the worker's memcap. */
void tcp_conn_release(struct dp_worker *w, struct flow *f);

/* Resets the flow by policy: RST to both sides, each in the receiver's window. */
void tcp_conn_reset(struct dp_worker *w, struct flow *f);

/* Retransmits the flow's unacknowledged injected bytes whose timeout has passed.
 * Returns 1 if the flow still has injected bytes in flight, 0 if not. */
int tcp_conn_rtx_timer(struct dp_worker *w, struct flow *f);

#endif
