/* pktgen.c - frame builder for tests and benches (see pktgen.h). */
#include <string.h>
#include <arpa/inet.h>
#include <rte_mbuf.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include "tests/common/pktgen.h"
#include "dataplane/dp_pkt-t.h"

void pktgen_default_eps(struct pktgen_ep *client, struct pktgen_ep *server,
			uint16_t cport, uint16_t sport)
{
	static const uint8_t cmac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	static const uint8_t smac[6] = { 0x02, 0, 0, 0, 0, 0x02 };

	memset(client, 0, sizeof(*client));
	memset(server, 0, sizeof(*server));
	memcpy(client->mac, cmac, 6);
	memcpy(server->mac, smac, 6);
	client->ip4 = htonl(0xC6120001);       /* 198.18.0.1 */
	server->ip4 = htonl(0xC6120002);       /* 198.18.0.2 */
	client->ip6[0] = 0x20; client->ip6[1] = 0x01; client->ip6[2] = 0x02; client->ip6[15] = 1;
	server->ip6[0] = 0x20; server->ip6[1] = 0x01; server->ip6[2] = 0x02; server->ip6[15] = 2;
	client->port = cport;
	server->port = sport;
}

/* Writes the TCP options of <s> at <o>; returns their length, padded to 4. */
static unsigned build_opts(uint8_t *o, const struct pktgen_seg_spec *s)
{
	unsigned n = 0;

	if (s->mss) {
		o[n++] = 2; o[n++] = 4; o[n++] = (uint8_t)(s->mss >> 8); o[n++] = (uint8_t)s->mss;
	}
	if (s->sack_perm) {
		o[n++] = 1; o[n++] = 1; o[n++] = 4; o[n++] = 2;
	}
	if (s->ts) {
		uint32_t v = htonl(s->tsval), e = htonl(s->tsecr);
		o[n++] = 1;
		if (!s->ts_odd)
			o[n++] = 1;
		o[n++] = 8; o[n++] = 10;
		memcpy(o + n, &v, 4); n += 4;
		memcpy(o + n, &e, 4); n += 4;
		if (s->ts_odd)
			o[n++] = 1;
	}
	if (s->wscale >= 0) {
		o[n++] = 1; o[n++] = 3; o[n++] = 3; o[n++] = (uint8_t)s->wscale;
	}
	if (s->n_sack) {
		o[n++] = 1; o[n++] = 1; o[n++] = 5; o[n++] = (uint8_t)(2 + 8 * s->n_sack);
		for (unsigned i = 0; i < s->n_sack; i++) {
			uint32_t l = htonl(s->sack[i][0]), r = htonl(s->sack[i][1]);
			memcpy(o + n, &l, 4); n += 4;
			memcpy(o + n, &r, 4); n += 4;
		}
	}
	while (n % 4)
		o[n++] = 0;
	return n;
}

struct rte_mbuf *pktgen_build(struct rte_mempool *pool, const struct pktgen_seg_spec *s)
{
	uint8_t opts[40];
	unsigned olen = build_opts(opts, s);
	unsigned l2 = 14 + 4 * (s->vlan[0] != 0) + 4 * (s->vlan[1] != 0);
	unsigned srh = s->ip_ver == 6 && s->ip6_srh_via ? 40 : 0;
	unsigned ext = srh + (s->ip_ver == 6 && s->ip6_dstopt ? 8 : 0);
	unsigned l3 = (s->ip_ver == 6 ? 40 : 20) + ext;
	unsigned tcp_len = 20 + olen + s->payload_len;
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint8_t *d;
	struct rte_tcp_hdr *th;

	if (m == NULL)
		return NULL;
	d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(l2 + l3 + tcp_len + s->trailer));
	if (d == NULL) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	memcpy(d, s->dst->mac, 6);
	memcpy(d + 6, s->src->mac, 6);
	unsigned off = 12;
	if (s->vlan[0]) {
		uint16_t tpid = htons(s->vlan[1] ? RTE_ETHER_TYPE_QINQ : RTE_ETHER_TYPE_VLAN);
		uint16_t tci = htons(s->vlan[0]);
		memcpy(d + off, &tpid, 2); memcpy(d + off + 2, &tci, 2);
		off += 4;
		if (s->vlan[1]) {
			tpid = htons(RTE_ETHER_TYPE_VLAN);
			tci = htons(s->vlan[1]);
			memcpy(d + off, &tpid, 2); memcpy(d + off + 2, &tci, 2);
			off += 4;
		}
	}
	uint16_t et = htons(s->ip_ver == 6 ? RTE_ETHER_TYPE_IPV6 : RTE_ETHER_TYPE_IPV4);
	memcpy(d + off, &et, 2);
	off += 2;
	if (s->ip_ver == 6) {
		struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)(d + off);
		memset(ip6, 0, sizeof(*ip6));
		ip6->vtc_flow = htonl(6u << 28);
		ip6->payload_len = htons((uint16_t)(ext + tcp_len));
		ip6->proto = srh ? IPPROTO_ROUTING : ext ? IPPROTO_DSTOPTS : IPPROTO_TCP;
		ip6->hop_limits = 64;
		memcpy(ip6->src_addr, s->src->ip6, 16);
		memcpy(ip6->dst_addr, s->dst->ip6, 16);
		if (srh) {
			/* next header, length 4 (40 bytes), type 4, segments left 1, last entry 1,
			 * flags, tag; Segment List[0] is the final destination */
			uint8_t *r = d + off + 40;
			r[0] = ext > srh ? IPPROTO_DSTOPTS : IPPROTO_TCP;
			r[1] = 4;
			r[2] = 4;
			r[3] = 1;
			r[4] = 1;
			memset(r + 5, 0, 3);
			memcpy(r + 8, s->dst->ip6, 16);
			memcpy(r + 24, s->ip6_srh_via, 16);
			memcpy(ip6->dst_addr, s->ip6_srh_via, 16);
		}
		if (ext > srh) {
			/* next header TCP, length 0 (8 bytes), one PadN option of 4 data bytes */
			static const uint8_t dstopt[8] = { IPPROTO_TCP, 0, 1, 4, 0, 0, 0, 0 };
			memcpy(d + off + 40 + srh, dstopt, 8);
		}
	} else {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(d + off);
		memset(ip, 0, sizeof(*ip));
		ip->version_ihl = 0x45;
		ip->total_length = htons((uint16_t)(20 + tcp_len));
		ip->fragment_offset = htons(RTE_IPV4_HDR_DF_FLAG);
		ip->time_to_live = 64;
		ip->next_proto_id = IPPROTO_TCP;
		ip->src_addr = s->src->ip4;
		ip->dst_addr = s->dst->ip4;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	}
	th = (struct rte_tcp_hdr *)(d + off + l3);
	memset(th, 0, sizeof(*th));
	th->src_port = htons(s->src->port);
	th->dst_port = htons(s->dst->port);
	th->sent_seq = htonl(s->seq);
	th->recv_ack = htonl(s->ack);
	th->data_off = (uint8_t)(((20 + olen) / 4) << 4);
	th->tcp_flags = s->flags;
	th->rx_win = htons(s->win);
	memcpy((uint8_t *)th + 20, opts, olen);
	if (s->payload_len)
		memcpy((uint8_t *)th + 20 + olen, s->payload, s->payload_len);
	memset((uint8_t *)th + tcp_len, 0, s->trailer);
	if (s->ip_ver == 6) {
		/* the pseudo-header names TCP and its length, whatever headers come between */
		struct rte_ipv6_hdr ph = *(struct rte_ipv6_hdr *)(d + off);
		memcpy(ph.dst_addr, s->dst->ip6, 16);     /* the final destination */
		ph.proto = IPPROTO_TCP;
		ph.payload_len = htons((uint16_t)tcp_len);
		th->cksum = rte_ipv6_udptcp_cksum(&ph, th);
	} else
		th->cksum = rte_ipv4_udptcp_cksum((struct rte_ipv4_hdr *)(d + off), th);
	return m;
}
