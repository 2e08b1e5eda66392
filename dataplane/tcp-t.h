/* tcp-t.h - TCP tracking, reassembly and stream-editing state of one flow (types only).
 *
 * Two sequence spaces exist per direction (DESIGN.md §2.1):
 *   in-space  - the sender's own sequence numbers, as it sends them;
 *   out-space - the numbers the receiver sees, after bytes were removed or injected.
 * Forwarded segments have SEQ translated in->out; the receiver's ACKs and SACK blocks
 * are translated back out->in with the same direction's anchors.
 *
 * Byte queues hold mbufs; the per-segment bookkeeping lives in each mbuf's private
 * area (struct tcp_seg), so a segment costs no allocation beyond its mbuf.
 */
#ifndef TG_TCP_T_H
#define TG_TCP_T_H

#include <stdint.h>

struct rte_mbuf;

/* Per-mbuf bookkeeping, stored in the mbuf private area (priv_size >= sizeof). */
struct tcp_seg {
	struct rte_mbuf *next;        /* next mbuf in the same queue */
	uint32_t seq;                 /* seq of the first payload byte (queue's space) */
	uint32_t in_seq;              /* rtx queue: in-space seq of the first byte */
	uint16_t off;                 /* offset of the first payload byte in the mbuf data */
	uint16_t len;                 /* payload bytes of this segment in the queue */
	uint8_t  flags;               /* TCP_SEG_* */
	uint8_t  tries;               /* rtx of injected bytes: transmissions so far */
	uint16_t l4_off;              /* offset of the TCP header in the mbuf data */
	uint8_t  ts_off;              /* offset of TSval from the TCP header, 0 if none */
	uint8_t  l3_off;              /* offset of the IP header in the mbuf data (a frame
	                               * kept as received may have IPv4 options or IPv6
	                               * extension headers between l3_off and l4_off) */
	uint8_t  pad[2];
	uint64_t sent_ns;             /* rtx: time of the last transmission */
	uint64_t mem;                 /* bytes charged to the worker's stream memcap */
};

#define TCP_SEG_INJECTED 0x01         /* bytes are the appliance's own (no in-space) */
#define TCP_SEG_EDITED   0x02         /* bytes differ from what the sender sent */
#define TCP_SEG_FIN      0x04         /* the segment carried FIN after its payload */
#define TCP_SEG_OWNED    0x10         /* the appliance acknowledged these bytes to their sender
                                       * (pre-ACK of held bytes): it retransmits them itself */
#define TCP_SEG_WHOLE    0x08         /* off/len are the frame's whole payload: the frame can
                                       * be sent as it is, with its headers rewritten */

/* A FIFO of mbufs linked through struct tcp_seg.next. */
struct tcp_segq {
	struct rte_mbuf *head;        /* oldest */
	struct rte_mbuf *tail;        /* newest */
	uint32_t n;                   /* mbufs */
	uint32_t bytes;               /* payload bytes */
};

/* One piece of the out->in map: for out-space x >= out (up to the next anchor),
 * x < out + flat maps to <in> (injected bytes: no in-space), and
 * x >= out + flat maps to in + (x - out - flat). */
struct tcp_anchor {
	uint32_t out;                 /* out-space start */
	uint32_t in;                  /* in-space position it maps to */
	uint32_t flat;                /* injected bytes at this point */
};

#define TCP_MAX_ANCHORS 16

/* An injection waiting for the emission point to reach <at>. */
struct tcp_pending_inj {
	uint64_t at;                  /* stream offset (in-space) where the bytes go */
	struct rte_mbuf *m;           /* the bytes, one segment per mbuf, chained via tcp_seg */
};

enum tcp_state {
	TCP_ST_NONE = 0,
	TCP_ST_SYN_SENT,              /* client SYN seen */
	TCP_ST_SYN_RCVD,              /* server SYN-ACK seen */
	TCP_ST_ESTABLISHED,           /* client's ACK of the SYN-ACK seen */
	TCP_ST_CLOSING,               /* a FIN seen in at least one direction */
	TCP_ST_CLOSED,                /* both FINs acked, or RST */
};

/* One direction: bytes sent by one side (the sender) to the other (the receiver). */
struct tcp_dir {
	/* tracking (in-space) */
	uint32_t isn;                 /* sender's initial sequence number */
	uint32_t nxt;                 /* next in-order byte expected from the sender */
	uint32_t fwd;                 /* bytes before this were emitted or removed */
	uint32_t scan;                /* bytes before this were fed to the decoder */
	uint64_t scan_off;            /* stream offset of <scan> (bytes since the SYN) */
	uint32_t release;             /* the decoder allows emitting up to here */
	uint32_t fin_seq;             /* seq of the FIN, valid if fin_seen */
	uint32_t last_ack;            /* latest ACK value the sender sent (other direction's out-space) */
	uint32_t preack;              /* the appliance acknowledged this direction's bytes up to
	                               * here to the sender (held bytes; valid if preack_on) */
	uint32_t last_win;            /* latest window the sender advertised, scaled, bytes */
	uint32_t last_tsval;          /* latest TSval the sender sent */
	uint16_t mss;                 /* MSS the sender announced (caps what we send *to* it) */
	uint8_t  wscale;              /* window scale the sender announced (0 if none) */
	uint8_t  syn_seen:1;          /* sender's SYN seen */
	uint8_t  fin_seen:1;          /* sender's FIN seen (in order) */
	uint8_t  fin_fwd:1;           /* FIN emitted to the receiver */
	uint8_t  sack_perm:1;         /* sender offered SACK */
	uint8_t  ts_ok:1;             /* sender sent timestamps */
	uint8_t  hold_over:1;         /* a message beyond max_hold_bytes is being streamed */
	uint8_t  ack_seen:1;          /* the sender has sent an ACK (last_ack valid) */
	uint8_t  ts_seen:1;           /* last_tsval valid */
	uint8_t  fin_fed:1;           /* the decoder was told about the FIN */
	uint8_t  lossy:1;             /* some emitted bytes were not kept (memcap) */
	uint8_t  preack_on:1;         /* preack is valid */
	uint8_t  eth[12];             /* dst and src MAC of the sender's frames */
	uint32_t last_tsecr;          /* latest TSecr the sender sent */
	uint16_t last_win_raw;        /* latest raw window field the sender sent */
	uint32_t emitted_ack;         /* latest ACK value put in an emission of this direction */
	uint8_t  ttl;                 /* sender's latest TTL / hop limit */
	uint8_t  tos;                 /* sender's latest TOS / traffic class */
	uint8_t  n_anchor;            /* anchors used */
	uint8_t  n_inj;               /* pending injections */
	uint8_t  dupacks;             /* duplicate ACKs from the receiver (fast retransmit) */
	/* reassembly (in-space) */
	struct tcp_segq ooo;          /* out-of-order segments, sorted by seq, no overlaps */
	struct tcp_segq hold;         /* in-order bytes [fwd, nxt) not yet emitted, possibly with
	                               * removed gaps */
	/* editing (out-space) */
	uint32_t out_nxt;             /* next out-space seq to emit */
	uint32_t out_una;             /* receiver's cumulative ACK (out-space) */
	struct tcp_segq rtx;          /* emitted and not yet acknowledged, out-space seqs */
	struct tcp_anchor anchor[TCP_MAX_ANCHORS];   /* out->in map, ascending */
	struct tcp_pending_inj inj[4];               /* injections waiting for their point */
};

/* Both directions. dir[0]: client -> server, dir[1]: server -> client. */
struct tcp_conn {
	struct tcp_dir dir[2];
	uint16_t vlan[2];             /* VLAN tags of the flow's frames, outer first */
	uint8_t  n_vlan;              /* tags used */
	uint8_t  ip_ver;              /* 4 or 6 */
	uint8_t state;                /* enum tcp_state */
	uint8_t reset;                /* the appliance reset the flow */
	uint8_t dec_off;              /* decoder stopped (error or policy): release all */
	uint8_t reset_by_policy;      /* the appliance sent the RSTs (not an endpoint) */
	uint8_t rtx_armed;            /* on the worker's retransmit list */
	uint8_t pad;
	uint64_t rto_ns;              /* current RTO for injected bytes */
	uint64_t rto_deadline_ns;     /* next retransmission check, 0 if none */
	struct rte_mbuf *syn_pending; /* the client's latest SYN with a new ISN on this open
	                               * connection (a reference), in case the server had
	                               * lost the connection and answers with a handshake */
};

#endif
