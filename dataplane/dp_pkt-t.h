/* dp_pkt-t.h - the result of parsing one frame's L2/L3/L4 headers (types only).
 *
 * dp_pkt_parse() fills a struct dp_pkt from a contiguous frame. All offsets are
 * from the start of the frame; the frame itself is not copied, so every offset is
 * valid only as long as the frame (the mbuf data) is.
 */
#ifndef TG_DP_PKT_T_H
#define TG_DP_PKT_T_H

#include <stdint.h>

/* Parse results. Negative values are malformed frames (counted, never inspected). */
enum dp_pkt_status {
	DP_PKT_TCP        = 0,   /* IPv4/IPv6 TCP, headers complete, fields filled */
	DP_PKT_OTHER_L4   = 1,   /* IP but not TCP (UDP, ICMP, ...) */
	DP_PKT_NON_IP     = 2,   /* not IPv4/IPv6 (ARP, LLDP, ...) */
	DP_PKT_FRAGMENT   = 3,   /* an IP fragment (any but a complete datagram) */
	DP_PKT_ERR_TRUNC  = -1,  /* a header runs past the end of the frame */
	DP_PKT_ERR_HDR    = -2,  /* impossible header field (IHL < 5, bad version, data offset < 5, ...) */
	DP_PKT_ERR_LEN    = -3,  /* IP total / payload length disagrees with the frame */
};

#define DP_PKT_MAX_VLAN 2

/* TCP flag bits, as in the header's flags byte. */
#define DP_TCP_FIN 0x01
#define DP_TCP_SYN 0x02
#define DP_TCP_RST 0x04
#define DP_TCP_PSH 0x08
#define DP_TCP_ACK 0x10
#define DP_TCP_URG 0x20
#define DP_TCP_ECE 0x40
#define DP_TCP_CWR 0x80

/* TCP options that the tracker needs, decoded from the header. */
struct dp_tcp_opts {
	uint16_t mss;            /* MSS option value, 0 if absent */
	uint8_t  wscale;         /* window scale shift, valid if has_wscale */
	uint8_t  has_wscale:1;   /* window scale option present */
	uint8_t  sack_perm:1;    /* SACK-permitted option present */
	uint8_t  has_ts:1;       /* timestamps option present */
	uint8_t  n_sack;         /* number of SACK blocks (0..4) */
	uint8_t  ts_off;         /* offset of the TSval field from the TCP header start, if has_ts */
	uint8_t  sack_off;       /* offset of the first SACK block from the TCP header start */
	uint32_t tsval;          /* timestamp value, host order */
	uint32_t tsecr;          /* timestamp echo reply, host order */
	uint32_t sack[4][2];     /* SACK blocks [left, right), host order */
};

struct dp_pkt {
	uint16_t l3_off;         /* offset of the IPv4/IPv6 header */
	uint16_t l4_off;         /* offset of the TCP header */
	uint16_t payload_off;    /* offset of the TCP payload */
	uint16_t payload_len;    /* TCP payload length (from the IP lengths, not the frame) */
	uint16_t frame_len;      /* bytes of the frame that belong to the IP datagram + L2 */
	uint16_t ethertype;      /* inner ethertype (after VLAN tags), host order */
	uint16_t vlan[DP_PKT_MAX_VLAN]; /* VLAN ids, outer first */
	uint8_t  n_vlan;         /* number of VLAN tags (0..2) */
	uint8_t  ip_ver;         /* 4 or 6 */
	uint8_t  l4_proto;       /* IP protocol of the transport header */
	uint8_t  tcp_hlen;       /* TCP header length in bytes (20..60) */
	uint8_t  tcp_flags;      /* DP_TCP_* bits */
	uint8_t  ttl;            /* IPv4 TTL / IPv6 hop limit */
	uint8_t  tos;            /* IPv4 TOS / IPv6 traffic class */
	uint8_t  ip6_routed;     /* 1: dst is a routing header's final destination, not
	                          * the IPv6 destination (the NIC's RSS hashed the latter) */
	uint32_t src[4];         /* source address, network order (IPv4 in src[0]) */
	uint32_t dst[4];         /* destination address, network order */
	uint16_t sport;          /* host order */
	uint16_t dport;          /* host order */
	uint32_t seq;            /* host order */
	uint32_t ack;            /* host order */
	uint16_t win;            /* raw window field, host order (unscaled) */
	uint16_t frag_off;       /* DP_PKT_FRAGMENT: the fragment's offset in its datagram,
	                          * bytes (sport/dport are set for a first TCP fragment
	                          * that holds them, else 0) */
	struct dp_tcp_opts opt;  /* decoded TCP options */
};

#endif
