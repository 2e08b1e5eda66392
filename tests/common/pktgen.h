/* pktgen.h - builds Ethernet/IP/TCP frames into mbufs for tests and benches.
 *
 * An endpoint pair plus sequence state makes a "conversation": pktgen_seg() builds
 * the next segment of one side with correct checksums, options as configured.
 */
#ifndef TG_PKTGEN_H
#define TG_PKTGEN_H

#include <stdint.h>

struct rte_mempool;
struct rte_mbuf;

struct pktgen_ep {
	uint8_t  mac[6];
	uint32_t ip4;                 /* network order; used when ip_ver == 4 */
	uint8_t  ip6[16];             /* used when ip_ver == 6 */
	uint16_t port;                /* host order */
};

struct pktgen_seg_spec {
	const struct pktgen_ep *src;
	const struct pktgen_ep *dst;
	uint8_t  ip_ver;              /* 4 or 6 */
	uint8_t  trailer;             /* bytes (zero) after the IP datagram, in the frame */
	uint8_t  ip6_dstopt;          /* IPv6: put an 8-byte destination options header
	                               * (PadN) between the IPv6 header and TCP */
	const uint8_t *ip6_srh_via;   /* IPv6: reach <dst> through this waypoint: a segment
	                               * routing header (RFC 8754) with the segments [dst,
	                               * via] and one left, the IPv6 destination <via>, the
	                               * TCP checksum over <dst> (RFC 8200 8.1) */
	uint16_t vlan[2];             /* VLAN ids (0 = none) */
	uint8_t  flags;               /* DP_TCP_* */
	uint32_t seq;
	uint32_t ack;
	uint16_t win;
	uint16_t mss;                 /* add an MSS option (SYN) if non-zero */
	int8_t   wscale;              /* add a window scale option if >= 0 */
	uint8_t  sack_perm;           /* add SACK-permitted */
	uint8_t  ts;                  /* add timestamps with tsval/tsecr */
	uint8_t  ts_odd;              /* lay them out NOP, TS, NOP: values at odd offsets,
	                               * which no incremental 16-bit checksum update covers */
	uint32_t tsval, tsecr;
	uint8_t  n_sack;              /* SACK blocks to add (<= 3 with ts, 4 without) */
	uint32_t sack[4][2];
	const uint8_t *payload;
	uint16_t payload_len;
};

/* Builds the frame described by <s> into a new mbuf from <pool>. Returns NULL if
 * allocation fails. */
struct rte_mbuf *pktgen_build(struct rte_mempool *pool, const struct pktgen_seg_spec *s);

/* Fills two endpoints (client 198.18.0.1:<cport>, server 198.18.0.2:<sport>). */
void pktgen_default_eps(struct pktgen_ep *client, struct pktgen_ep *server,
			uint16_t cport, uint16_t sport);

#endif
