/* dp_pkt.c - per-packet L2/L3/L4 header parser and TCP header rewriting (see dp_pkt.h). */

/* rte_ipv4/ipv6_udptcp_cksum_verify() are still marked experimental in DPDK 22.11. */
#define ALLOW_EXPERIMENTAL_API 1

#include <stddef.h>
#include <string.h>
#include <netinet/in.h>
#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include "dataplane/dp_pkt.h"

#define ETH_HLEN        14
#define VLAN_TAG_LEN    4
#define IP4_MIN_HLEN    20
#define IP6_HLEN        40
#define IP6_EXT_MIN     8       /* every extension header we skip is at least 8 bytes */
#define IP6_MAX_EXT     8       /* longer chains are refused (an evasion and CPU-cost vector) */
#define TCP_MIN_HLEN    20
#define TCP_CKSUM_OFF   16

#define TCPOPT_EOL      0
#define TCPOPT_NOP      1
#define TCPOPT_MSS      2
#define TCPOPT_WSCALE   3
#define TCPOPT_SACKPERM 4
#define TCPOPT_SACK     5
#define TCPOPT_TS       8
#define TCP_MAX_WSCALE  14      /* RFC 7323 2.3: larger shifts are used as 14 */

/* Frame loads. The IP header sits at an offset of 14/18/22 bytes, so nothing is aligned:
 * fixed-size memcpy compiles to one plain load. */
static inline uint16_t rd16(const uint8_t *b)
{
	uint16_t v;

	memcpy(&v, b, sizeof(v));
	return rte_be_to_cpu_16(v);
}

static inline uint32_t rd32(const uint8_t *b)
{
	uint32_t v;

	memcpy(&v, b, sizeof(v));
	return rte_be_to_cpu_32(v);
}

/* Decodes the options of the TCP header at <th> of <hlen> bytes into <o>.
 * Returns 0, or DP_PKT_ERR_HDR when an option's length is < 2 or runs past the header.
 * Known options with a wrong length are ignored, as Linux's receiver does, so that the
 * appliance sees the options the end host will act on. */
static int parse_tcp_opts(const uint8_t *th, uint32_t hlen, struct dp_tcp_opts *o)
{
	uint32_t i = TCP_MIN_HLEN;

	/* The layout nearly every established segment has (Linux, BSD, Windows): NOP, NOP,
	 * timestamps, nothing else. Decoded at once, with the values the loop below gives. */
	if (hlen == TCP_MIN_HLEN + 12 && rd32(th + TCP_MIN_HLEN) == 0x0101080au) {
		o->has_ts = 1;
		o->ts_off = TCP_MIN_HLEN + 4;
		o->tsval = rd32(th + TCP_MIN_HLEN + 4);
		o->tsecr = rd32(th + TCP_MIN_HLEN + 8);
		return 0;
	}
	while (i < hlen) {
		uint8_t kind = th[i];
		uint32_t olen;

		if (kind == TCPOPT_EOL)
			break;
		if (kind == TCPOPT_NOP) {
			i++;
			continue;
		}
		if (hlen - i < 2)
			return DP_PKT_ERR_HDR;
		olen = th[i + 1];
		if (olen < 2 || olen > hlen - i)
			return DP_PKT_ERR_HDR;
		switch (kind) {
		case TCPOPT_MSS:
			if (olen == 4)
				o->mss = rd16(th + i + 2);
			break;
		case TCPOPT_WSCALE:
			if (olen == 3) {
				o->wscale = RTE_MIN(th[i + 2], TCP_MAX_WSCALE);
				o->has_wscale = 1;
			}
			break;
		case TCPOPT_SACKPERM:
			if (olen == 2)
				o->sack_perm = 1;
			break;
		case TCPOPT_SACK:
			/* 2 + 8n bytes; 40 option bytes hold at most 4 blocks. */
			if (olen >= 10 && (olen - 2) % 8 == 0) {
				uint32_t n = RTE_MIN((olen - 2) / 8, 4u);

				o->n_sack = (uint8_t)n;
				o->sack_off = (uint8_t)(i + 2);
				for (uint32_t b = 0; b < n; b++) {
					o->sack[b][0] = rd32(th + i + 2 + 8 * b);
					o->sack[b][1] = rd32(th + i + 6 + 8 * b);
				}
			}
			break;
		case TCPOPT_TS:
			if (olen == 10) {
				o->has_ts = 1;
				o->ts_off = (uint8_t)(i + 2);
				o->tsval = rd32(th + i + 2);
				o->tsecr = rd32(th + i + 6);
			}
			break;
		default:
			break;
		}
		i += olen;
	}
	return 0;
}

/* Parses the TCP segment of <seg_len> bytes (from the IP lengths) at <off>. */
static int parse_tcp(const uint8_t *d, uint32_t off, uint32_t seg_len, struct dp_pkt *p)
{
	const uint8_t *th = d + off;
	uint32_t hlen;

	p->l4_off = (uint16_t)off;
	if (seg_len < TCP_MIN_HLEN)
		return DP_PKT_ERR_TRUNC;
	hlen = (uint32_t)(th[12] >> 4) * 4;
	if (hlen < TCP_MIN_HLEN)
		return DP_PKT_ERR_HDR;
	if (hlen > seg_len)
		return DP_PKT_ERR_TRUNC;
	p->sport = rd16(th);
	p->dport = rd16(th + 2);
	p->seq = rd32(th + 4);
	p->ack = rd32(th + 8);
	p->tcp_flags = th[13];
	p->win = rd16(th + 14);
	p->tcp_hlen = (uint8_t)hlen;
	p->payload_off = (uint16_t)(off + hlen);
	p->payload_len = (uint16_t)(seg_len - hlen);
	if (hlen > TCP_MIN_HLEN) {
		int rc = parse_tcp_opts(th, hlen, &p->opt);

		if (rc < 0)
			return rc;
	}
	return DP_PKT_TCP;
}

/* A fragment of IP datagram: its offset <off> in the datagram and, for a first one
 * that holds them (<l4_bytes> of it follow the IP header), the TCP ports: what
 * tells whether it belongs to a protected flow (worker.c). */
static inline void frag_note(const uint8_t *d, struct dp_pkt *p, uint32_t off, uint32_t l4_bytes)
{
	p->frag_off = (uint16_t)off;
	p->sport = p->dport = 0;
	if (off == 0 && p->l4_proto == IPPROTO_TCP && l4_bytes >= 4) {
		p->sport = rd16(d + p->l4_off);
		p->dport = rd16(d + p->l4_off + 2);
	}
}

static int parse_ipv4(const uint8_t *d, uint32_t len, uint32_t off, struct dp_pkt *p)
{
	const uint8_t *ip = d + off;
	uint32_t ihl, tot;

	p->ip_ver = 4;
	if (len - off < IP4_MIN_HLEN)
		return DP_PKT_ERR_TRUNC;
	if ((ip[0] >> 4) != 4)
		return DP_PKT_ERR_HDR;
	ihl = (uint32_t)(ip[0] & 0x0f) * 4;
	if (ihl < IP4_MIN_HLEN)
		return DP_PKT_ERR_HDR;
	if (ihl > len - off)
		return DP_PKT_ERR_TRUNC;
	tot = rd16(ip + 2);
	if (tot < ihl)
		return DP_PKT_ERR_HDR;
	/* A longer frame is Ethernet padding (a 60-byte minimum frame carrying a
	 * 40-byte datagram); a shorter one lost bytes. */
	if (tot > len - off)
		return DP_PKT_ERR_LEN;
	p->frame_len = (uint16_t)(off + tot);
	p->tos = ip[1];
	p->ttl = ip[8];
	p->l4_proto = ip[9];
	memcpy(&p->src[0], ip + 12, 4);
	memcpy(&p->dst[0], ip + 16, 4);
	p->l4_off = (uint16_t)(off + ihl);
	/* MF set or a non-zero offset: never inspect a piece of a datagram. */
	if (rd16(ip + 6) & (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) {
		frag_note(d, p, (uint32_t)(rd16(ip + 6) & RTE_IPV4_HDR_OFFSET_MASK) * 8, tot - ihl);
		return DP_PKT_FRAGMENT;
	}
	if (p->l4_proto != IPPROTO_TCP)
		return DP_PKT_OTHER_L4;
	return parse_tcp(d, off + ihl, tot - ihl, p);
}

/* Bytes of the IPv6 extension header <e> of type <nh> (at least IP6_EXT_MIN readable):
 * AH counts 4-byte units less 2, the fragment header is fixed, the others count 8-byte
 * units less 1. */
static inline uint32_t ip6_ext_len(uint8_t nh, const uint8_t *e)
{
	if (nh == IPPROTO_FRAGMENT)
		return IP6_EXT_MIN;
	if (nh == IPPROTO_AH)
		return ((uint32_t)e[1] + 2) * 4;
	return ((uint32_t)e[1] + 1) * 8;
}

/* The final destination of a datagram whose routing header <rh> (<elen> bytes, within
 * the frame) still has segments left. RFC 8200 8.1: the TCP pseudo-header carries it,
 * and the connection is with it, not with the waypoint in the IPv6 destination <dst>;
 * so flows, resources and checksums all use it. Returns 0 and fills <final>, or -1 for
 * a header whose final destination the appliance cannot tell (RH0, deprecated by RFC
 * 5095; types it does not know; lengths that disagree). The parser then refuses the
 * datagram if it carries TCP, since a guessed destination could steer a session past
 * its rules; anything else is bridged as before, for the waypoint to judge. */
static int ip6_rh_final(const uint8_t *rh, uint32_t elen, const uint8_t *dst, uint8_t final[16])
{
	uint32_t left = rh[3];

	switch (rh[2]) {
	case 2:
		/* Mobile IPv6 (RFC 6275 6.4): one address, the home address, one left */
		if (elen != 24 || left != 1)
			return -1;
		memcpy(final, rh + 8, 16);
		return 0;
	case 3: {
		/* RPL source route (RFC 6554 3): addresses with their first CmprI (the last,
		 * CmprE) bytes elided, which are those of the IPv6 destination */
		uint32_t cmpri = rh[4] >> 4, cmpre = rh[4] & 15, pad = rh[5] >> 4;
		uint32_t room = elen - 8, n;

		if (room < pad + (16 - cmpre) || (room - pad - (16 - cmpre)) % (16 - cmpri))
			return -1;
		n = (room - pad - (16 - cmpre)) / (16 - cmpri) + 1;
		if (left > n)
			return -1;
		memcpy(final, dst, cmpre);
		memcpy(final + cmpre, rh + 8 + (n - 1) * (16 - cmpri), 16 - cmpre);
		return 0;
	}
	case 4:
		/* Segment routing (RFC 8754 2): the list is in reverse, Segment List[0] is
		 * the last segment; Last Entry indexes the list's end. Segments Left may be
		 * Last Entry + 1: a reduced SRH leaves the first segment out of the list
		 * (4.3.1.1 rejects only more than that) */
		if ((uint32_t)rh[4] * 16 + 24 > elen || left > (uint32_t)rh[4] + 1)
			return -1;
		memcpy(final, rh + 8, 16);
		return 0;
	default:
		return -1;
	}
}

static int parse_ipv6(const uint8_t *d, uint32_t len, uint32_t off, struct dp_pkt *p)
{
	const uint8_t *ip = d + off;
	uint32_t pos, end, plen;
	int rh_unknown = 0;           /* a routing header in transit, its end unknown */
	uint8_t nh;

	p->ip_ver = 6;
	if (len - off < IP6_HLEN)
		return DP_PKT_ERR_TRUNC;
	if ((ip[0] >> 4) != 6)
		return DP_PKT_ERR_HDR;
	plen = rd16(ip + 4);
	/* A zero payload length with a jumbo payload option is not supported: with
	 * plen 0 every extension header or TCP header fails the bounds below. */
	if (plen > len - off - IP6_HLEN)
		return DP_PKT_ERR_LEN;
	p->tos = (uint8_t)(rd16(ip) >> 4);
	p->ttl = ip[7];
	memcpy(p->src, ip + 8, 16);
	memcpy(p->dst, ip + 24, 16);
	pos = off + IP6_HLEN;
	end = pos + plen;
	p->frame_len = (uint16_t)end;
	nh = ip[6];
	/* Walk at most IP6_MAX_EXT extension headers; every read below is bounded by
	 * <end>, which is within the frame. */
	for (unsigned n = 0; nh != IPPROTO_TCP; n++) {
		uint32_t elen;

		if (!dp_pkt_ip6_ext(nh)) {
			/* ESP, no-next-header, UDP, ICMPv6, ... */
			p->l4_proto = nh;
			p->l4_off = (uint16_t)pos;
			return DP_PKT_OTHER_L4;
		}
		if (n == IP6_MAX_EXT)
			return DP_PKT_ERR_HDR;
		/* RFC 8200 4.3: hop-by-hop only right after the IPv6 header; hosts drop
		 * anything else, so the appliance must not inspect it either. */
		if (nh == IPPROTO_HOPOPTS && n != 0)
			return DP_PKT_ERR_HDR;
		if (end - pos < IP6_EXT_MIN)
			return DP_PKT_ERR_TRUNC;
		/* Offset (13 bits) << 3 | M. Offset 0 and M=0 is an atomic fragment (RFC
		 * 6946): a whole datagram, parsed through. */
		if (nh == IPPROTO_FRAGMENT && (rd16(d + pos + 2) & 0xfff9)) {
			p->l4_proto = d[pos];
			p->l4_off = (uint16_t)(pos + IP6_EXT_MIN);
			frag_note(d, p, rd16(d + pos + 2) & 0xfff8u, end - pos - IP6_EXT_MIN);
			/* a TCP fragment behind a routing header whose final destination is
			 * unknown is refused as the whole segment would be (below): its p->dst,
			 * a waypoint, says nothing of the resource it goes to (found in review) */
			if (rh_unknown && p->l4_proto == IPPROTO_TCP)
				return DP_PKT_ERR_HDR;
			return DP_PKT_FRAGMENT;
		}
		elen = ip6_ext_len(nh, d + pos);
		if (elen > end - pos)
			return DP_PKT_ERR_TRUNC;
		if (nh == IPPROTO_ROUTING && d[pos + 3] != 0) {
			if (ip6_rh_final(d + pos, elen, ip + 24, (uint8_t *)p->dst) < 0)
				rh_unknown = 1;
			else
				p->ip6_routed = 1;
		}
		nh = d[pos];
		pos += elen;
	}
	p->l4_proto = IPPROTO_TCP;
	if (rh_unknown)
		return DP_PKT_ERR_HDR;
	return parse_tcp(d, pos, end - pos, p);
}

int dp_pkt_parse(const uint8_t *data, uint32_t len, struct dp_pkt *p)
{
	uint32_t off = 12;
	uint16_t et;

	/* Clear everything but the SACK blocks, which are valid up to opt.n_sack only.
	 * In two parts: one memset of 88 bytes compiles to `rep stos`, whose start-up
	 * costs more than the handful of vector stores these two become. */
	RTE_BUILD_BUG_ON(offsetof(struct dp_pkt, opt.sack) < 48);
	memset(p, 0, 48);
	memset((uint8_t *)p + 48, 0, offsetof(struct dp_pkt, opt.sack) - 48);
	/* Offsets are 16-bit; an mbuf segment never holds more than 64 KiB, and a
	 * datagram that would need more is refused by the length checks. */
	if (len > UINT16_MAX)
		len = UINT16_MAX;
	if (len < ETH_HLEN)
		return DP_PKT_ERR_TRUNC;
	et = rd16(data + off);
	while (et == RTE_ETHER_TYPE_VLAN || et == RTE_ETHER_TYPE_QINQ) {
		if (p->n_vlan == DP_PKT_MAX_VLAN)
			return DP_PKT_ERR_HDR;
		/* TPID at off, TCI at off + 2, next type at off + 4. */
		if (len < off + VLAN_TAG_LEN + 2)
			return DP_PKT_ERR_TRUNC;
		p->vlan[p->n_vlan++] = rd16(data + off + 2) & 0x0fff;
		off += VLAN_TAG_LEN;
		et = rd16(data + off);
	}
	off += 2;
	p->ethertype = et;
	p->l3_off = (uint16_t)off;
	if (et == RTE_ETHER_TYPE_IPV4)
		return parse_ipv4(data, len, off, p);
	if (et == RTE_ETHER_TYPE_IPV6)
		return parse_ipv6(data, len, off, p);
	p->frame_len = (uint16_t)len;
	return DP_PKT_NON_IP;
}

/* Into <dst>: the destination the TCP pseudo-header names for the IPv6 datagram at
 * <l3_off> whose TCP header is at <l4_off>, the final one when a routing header has
 * segments left (see ip6_rh_final). The chain was bounded by the parser; the walk
 * stays below <l4_off> all the same. */
static void ip6_pseudo_dst(const uint8_t *data, unsigned l3_off, unsigned l4_off, uint8_t dst[16])
{
	const uint8_t *ip = data + l3_off;
	unsigned pos = l3_off + IP6_HLEN, elen;
	uint8_t nh = ip[6];

	memcpy(dst, ip + 24, 16);
	while (nh != IPPROTO_TCP && pos + IP6_EXT_MIN <= l4_off) {
		const uint8_t *e = data + pos;

		elen = ip6_ext_len(nh, e);
		if (pos + elen > l4_off)
			return;
		/* ip6_rh_final writes <dst> only when it knows the final destination */
		if (nh == IPPROTO_ROUTING && e[3] != 0)
			(void)ip6_rh_final(e, elen, ip + 24, dst);
		nh = e[0];
		pos += elen;
	}
}

/* The IPv6 header to give DPDK's helpers, which take the L4 length from payload_len
 * and the pseudo-header protocol from proto: with extension headers between the IPv6
 * header and TCP, neither is right, so a copy with the TCP values stands in, and with
 * a routing header in transit it names the final destination (RFC 8200 8.1). */
static const struct rte_ipv6_hdr *ip6_for_tcp(const uint8_t *data, unsigned l3_off,
					      unsigned l4_off, struct rte_ipv6_hdr *shadow)
{
	const struct rte_ipv6_hdr *ip6 = (const struct rte_ipv6_hdr *)(data + l3_off);
	unsigned ext_len = l4_off - l3_off - IP6_HLEN;

	if (ext_len == 0)
		return ip6;
	memcpy(shadow->src_addr, ip6->src_addr, sizeof(shadow->src_addr));
	ip6_pseudo_dst(data, l3_off, l4_off, shadow->dst_addr);
	/* TCP's length from the header's, not the frame's: a frame may carry bytes after
	 * the datagram (Ethernet padding, a trailer) */
	shadow->payload_len = rte_cpu_to_be_16((uint16_t)(rte_be_to_cpu_16(ip6->payload_len) - ext_len));
	shadow->proto = IPPROTO_TCP;
	return shadow;
}

int dp_pkt_tcp_cksum_ok(const uint8_t *data, const struct dp_pkt *p)
{
	const void *th = data + p->l4_off;
	struct rte_ipv6_hdr shadow;

	/* Both helpers sum exactly the L4 length from the IP header (IPv4 total_length
	 * minus IHL, IPv6 payload_len of the header or of the shadow), never the
	 * Ethernet padding after the datagram. */
	if (p->ip_ver == 4)
		return rte_ipv4_udptcp_cksum_verify(
			(const struct rte_ipv4_hdr *)(data + p->l3_off), th) == 0;
	return rte_ipv6_udptcp_cksum_verify(ip6_for_tcp(data, p->l3_off, p->l4_off, &shadow), th) == 0;
}

int dp_pkt_ip_cksum_ok(const uint8_t *data, const struct dp_pkt *p)
{
	if (p->ip_ver != 4)
		return 1;
	/* Summing a header with its checksum in place gives 0xffff; the helper returns
	 * its complement. */
	return rte_ipv4_cksum((const struct rte_ipv4_hdr *)(data + p->l3_off)) == 0;
}

void dp_pkt_tcp_cksum_fill(uint8_t *data, unsigned l3_off, unsigned l4_off, uint8_t ip_ver)
{
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(data + l4_off);

	th->cksum = 0;
	if (ip_ver == 4) {
		th->cksum = rte_ipv4_udptcp_cksum((const struct rte_ipv4_hdr *)(data + l3_off), th);
	} else {
		struct rte_ipv6_hdr shadow;

		th->cksum = rte_ipv6_udptcp_cksum(ip6_for_tcp(data, l3_off, l4_off, &shadow), th);
	}
}

void dp_pkt_fix_lengths_and_cksum(uint8_t *data, const struct dp_pkt *p)
{
	uint32_t tcp_len = (uint32_t)p->tcp_hlen + p->payload_len;

	if (p->ip_ver == 4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(data + p->l3_off);

		ip->total_length = rte_cpu_to_be_16((uint16_t)(rte_ipv4_hdr_len(ip) + tcp_len));
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	} else {
		struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)(data + p->l3_off);
		uint32_t ext_len = (uint32_t)p->l4_off - p->l3_off - IP6_HLEN;

		ip6->payload_len = rte_cpu_to_be_16((uint16_t)(ext_len + tcp_len));
	}
	dp_pkt_tcp_cksum_fill(data, p->l3_off, p->l4_off, p->ip_ver);
}

/* RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), over <n> 16-bit words. Every value stays
 * in frame byte order: one's complement sums do not depend on byte order (RFC 1071
 * 2(B)), so no swapping is needed as long as the words are 16-bit aligned to the
 * start of the TCP header. */
static void cksum_update(uint8_t *th, const uint8_t *old_w, const uint8_t *new_w, unsigned n)
{
	uint16_t hc, w;
	uint32_t sum;

	memcpy(&hc, th + TCP_CKSUM_OFF, 2);
	sum = (uint16_t)~hc;
	for (unsigned i = 0; i < n; i++) {
		memcpy(&w, old_w + 2 * i, 2);
		sum += (uint16_t)~w;
		memcpy(&w, new_w + 2 * i, 2);
		sum += w;
	}
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	hc = (uint16_t)~sum;
	memcpy(th + TCP_CKSUM_OFF, &hc, 2);
}

/* Writes the <n> bytes at <nv> to <field_off> of the TCP header and fixes the checksum.
 * Fields at even offsets from the TCP header (seq 4, ack 8, window 14, and timestamp
 * and SACK fields in the usual NOP-padded layouts, which are 4-byte aligned; any
 * option that starts at an odd offset makes its fields odd) are updated
 * incrementally; a field at an odd offset falls back to a full recompute. */
static void tcp_set(uint8_t *data, const struct dp_pkt *p, uint32_t field_off,
		    const uint8_t *nv, unsigned n)
{
	uint8_t *th = data + p->l4_off;
	uint8_t old[4];

	/* Never past the header, and never the checksum field itself: such a call is
	 * a caller's bug, and the frame is left as it was. */
	if (unlikely(field_off > (uint32_t)p->tcp_hlen - n ||
		     (field_off < TCP_CKSUM_OFF + 2 && field_off + n > TCP_CKSUM_OFF)))
		return;
	if (field_off & 1) {
		memcpy(th + field_off, nv, n);
		dp_pkt_tcp_cksum_fill(data, p->l3_off, p->l4_off, p->ip_ver);
		return;
	}
	memcpy(old, th + field_off, n);
	memcpy(th + field_off, nv, n);
	cksum_update(th, old, nv, n / 2);
}

void dp_pkt_tcp_set32(uint8_t *data, const struct dp_pkt *p, uint32_t field_off, uint32_t val)
{
	uint32_t be = rte_cpu_to_be_32(val);

	tcp_set(data, p, field_off, (const uint8_t *)&be, 4);
}

void dp_pkt_tcp_set16(uint8_t *data, const struct dp_pkt *p, uint32_t field_off, uint16_t val)
{
	uint16_t be = rte_cpu_to_be_16(val);

	tcp_set(data, p, field_off, (const uint8_t *)&be, 2);
}

const char *dp_pkt_status_name(int status)
{
	switch (status) {
	case DP_PKT_TCP:       return "tcp";
	case DP_PKT_OTHER_L4:  return "other-l4";
	case DP_PKT_NON_IP:    return "non-ip";
	case DP_PKT_FRAGMENT:  return "fragment";
	case DP_PKT_ERR_TRUNC: return "truncated";
	case DP_PKT_ERR_HDR:   return "bad-header";
	case DP_PKT_ERR_LEN:   return "bad-length";
	default:               return "unknown";
	}
}
