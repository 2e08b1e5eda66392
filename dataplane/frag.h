/* frag.h - IP fragment reassembly for one worker, on DPDK's rte_ip_frag.
 *
 * DESIGN.md §2 item 1: fragments of protected flows are never inspected piecemeal.
 * A worker feeds each fragment to dp_frag_in(); when the last piece of a datagram
 * arrives it gets back one new single-segment mbuf holding the whole datagram behind
 * the first fragment's L2 header, with the IP header rewritten as if the datagram had
 * never been fragmented, and runs its normal path on that. The appliance forwards
 * the reassembled datagram, not the fragments, so the server receives exactly the
 * bytes that were inspected.
 *
 * What is refused (every refusal frees the fragment, and the reason is returned):
 * - overlapping fragments, duplicates, holes, more than RTE_LIBRTE_IP_FRAG_MAX_FRAG
 *   pieces: rte_ip_frag discards the whole datagram (RFC 5722 behaviour). DPDK 22.11
 *   also discards it on an exact duplicate fragment; the sender's TCP retransmits;
 * - IPv4 fragments of any protocol but TCP: the 22.11 reassembly key is (source,
 *   destination, id) without the protocol (fixed upstream later), so two protocols
 *   sharing an id between two hosts would be merged. Keeping the table TCP-only
 *   rules that out; the server's stack keys by protocol, so a non-TCP fragment can
 *   never become part of a TCP datagram there;
 * - IPv6 fragments whose fragment header does not follow the IPv6 header directly
 *   (rte_ip_frag removes it at that fixed place);
 * - a bad IPv4 header checksum, a middle fragment whose length is not a multiple of
 *   8, a datagram over 65535 bytes, a multi-segment mbuf;
 * - an IPv6 datagram that is a fragment again once reassembled (nested fragment
 *   headers): what dp_frag_in() returns never parses as DP_PKT_FRAGMENT;
 * - a datagram that would not fit in one mbuf of the output pool.
 *
 * Threading: a struct dp_frag belongs to one worker; no call may run concurrently
 * on the same table. Times are TSC cycles and must not go backwards.
 */
#ifndef TG_DP_FRAG_H
#define TG_DP_FRAG_H

#include <stdint.h>
#include "dataplane/dp_pkt-t.h"

struct rte_mbuf;
struct rte_mempool;
struct dp_frag;

/* Why dp_frag_in() dropped a fragment (*err); 0 when it did not. */
enum dp_frag_err {
	DP_FRAG_OK      = 0,   /* kept, or the datagram was returned */
	DP_FRAG_EBAD    = -1,  /* malformed fragment, or a datagram discarded for overlap,
				* duplicate, hole, too many fragments, nesting */
	DP_FRAG_EPROTO  = -2,  /* IPv4 fragment of another protocol than TCP, or an IPv6
				* fragment header after other extension headers */
	DP_FRAG_ETOOBIG = -3,  /* the datagram does not fit in one mbuf of the pool */
	DP_FRAG_ETABLE  = -4,  /* no room in the table for a new datagram */
	DP_FRAG_ENOMEM  = -5,  /* no mbuf for the reassembled copy */
};

/* Creates a reassembly table for up to <max_flows> datagrams in progress at once,
 * each given <ttl_ms> (1 to 3600000) milliseconds to complete, in memory of NUMA <socket>
 * (SOCKET_ID_ANY for any). Needs the EAL. Memory: 512 to 1024 bytes per flow (the
 * table has 2 to 4 slots per flow, so that a hash bucket is rarely full).
 * Returns the table, or NULL if an argument is out of range or memory is short. */
struct dp_frag *dp_frag_create(unsigned max_flows, uint64_t ttl_ms, int socket);

/* Frees <fr> and every fragment it holds. NULL is accepted. */
void dp_frag_free(struct dp_frag *fr);

/* Feeds fragment <m>, which dp_pkt_parse() parsed into <p> as DP_PKT_FRAGMENT, at
 * time <now_tsc>. Takes ownership of <m> in every case.
 * Returns a new single-segment mbuf from <pool> holding the whole datagram, ready for
 * dp_pkt_parse(): the first fragment's L2 header (Ethernet and VLAN tags) and IP
 * header, with IPv4 total length, flags (DF kept, MF and offset cleared) and header
 * checksum rewritten, or IPv6 payload length rewritten and the fragment header
 * removed; its mbuf port is the first fragment's (fragments of one datagram that
 * came in on different ports are not told apart: set m->port before the call and
 * compare). The caller owns it.
 * Returns NULL, with *<err> DP_FRAG_OK, when the datagram is not complete yet (the
 * fragment is kept until the datagram completes or expires).
 * Returns NULL, with *<err> a negative enum dp_frag_err, when the fragment was
 * dropped; then every fragment held for its datagram may have been dropped too.
 * Fragments of other datagrams that had timed out may be freed too (see
 * dp_frag_expire). When a datagram completes and <piece_max> is not NULL, it gets the
 * IP length of the datagram's largest fragment: where its sender cut it (dp_frag_split
 * cuts a datagram that is not inspected back to that size). */
struct rte_mbuf *dp_frag_in(struct dp_frag *fr, struct rte_mempool *pool, struct rte_mbuf *m,
			    const struct dp_pkt *p, uint64_t now_tsc, int *err, uint16_t *piece_max);

/* Frees the fragments of every datagram older than the TTL at <now_tsc>; call it
 * from the worker's timer. Cost: O(expired datagrams).
 * Returns the number of fragments (mbufs) freed because their datagram timed out,
 * since the previous call: here, or inside dp_frag_in(), which frees timed-out
 * datagrams first. */
unsigned dp_frag_expire(struct dp_frag *fr, uint64_t now_tsc);

/* Cuts datagram <m> (a frame parsed as <p>, unfragmented, IPv4 or IPv6) into fragments
 * of at most <mtu> bytes of IP each, for a datagram that was reassembled but turned out
 * not to be a protected flow's: it goes on cut as its sender cut it (worker.c). Each
 * fragment is a fresh single-segment frame from <pool>: <m>'s L2 header, its IP header
 * (IPv4: all options in the first piece, only those with the copy bit in the others;
 * IPv6: a fragment header with identification <id> added after the fixed header, the
 * rest being fragmentable), and a slice of the payload, 8-byte aligned. Writes at most <max> frames to <out> and
 * returns how many, or -1 (nothing written; <m> untouched) if they would be more, the
 * MTU leaves no room, or the pool is empty. <m> is not freed. */
#define DP_FRAG_SPLIT_MAX 64          /* pieces: a 64 KiB datagram at an MTU of 1280 */
int dp_frag_split(struct rte_mempool *pool, const struct rte_mbuf *m, const struct dp_pkt *p,
		  uint16_t mtu, uint32_t id, struct rte_mbuf **out, unsigned max);

/* Returns a printable name of a dp_frag_err ("ok", "bad", "too_big", ...). */
const char *dp_frag_err_name(int err);

#endif
