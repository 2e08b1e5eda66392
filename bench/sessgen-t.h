/* sessgen-t.h - a pre-generated trace of PostgreSQL sessions for the engine bench (types only).
 *
 * The trace is a byte buffer of whole Ethernet frames (correct IP and TCP checksums),
 * already in the order a NIC would deliver them, cut into bursts of one port each.
 * Port 0 faces the clients (frames sent by clients), port 1 the server.
 */
#ifndef TG_SESSGEN_T_H
#define TG_SESSGEN_T_H

#include <stdint.h>

/* What to generate. sg_params_default() fills the defaults named here. */
struct sg_params {
	uint32_t flows;               /* sessions in the trace (4096) */
	uint32_t active;              /* sessions open at once: the round-robin set (1024) */
	uint32_t queries;             /* simple-protocol queries per session (20) */
	uint32_t rows;                /* mean DataRows per result set (20) */
	double   reorder_pct;         /* % of server data segments swapped with the next (1.0) */
	double   rtx_pct;             /* % of server data segments sent a second time (0.5) */
	uint32_t per_visit;           /* frames one session may put in one pass of a port (2) */
	uint16_t burst;               /* frames per burst, at most 32 (32) */
	uint16_t mss;                 /* MSS both ends announce (1460; payload 1448 with TS) */
	uint64_t seed;                /* PRNG seed: the same seed gives the same trace (1) */
	uint8_t  mix;                 /* enum sg_mix: what the queries ask (SG_MIX_CUSTOMERS) */
};

/* The query mix of every session (README.md of bench/ describes both). */
enum sg_mix {
	SG_MIX_CUSTOMERS = 0,         /* customer lists: PII (e-mail, card) in nearly every row */
	SG_MIX_STANDARD  = 1,         /* OLTP: point selects and updates, orders, products,
	                               * 15 % customer lists, aggregates */
};

/* One frame of the trace. */
struct sg_frame {
	uint64_t off;                 /* offset of the frame in sg_trace.buf */
	uint16_t len;                 /* frame bytes (Ethernet header to the end of the payload) */
	uint8_t  port;                /* port it arrives on: 0 client side, 1 server side */
	uint8_t  pad[5];
};

/* Consecutive frames of one port, handed to process_burst in one call. */
struct sg_burst {
	uint32_t first;               /* index of the first frame in sg_trace.frames */
	uint16_t n;                   /* frames */
	uint8_t  port;                /* port they arrive on */
	uint8_t  pad;
};

/* What one session's two byte streams look like, for checking what the appliance emits. */
struct sg_stream_sum {
	uint64_t len;                 /* bytes of the stream (SYN and FIN excluded) */
	uint64_t hash;                /* FNV-1a 64 of the stream, in order */
};

/* Counts of what was generated. */
struct sg_stats {
	uint64_t sessions;            /* sessions (flows) */
	uint64_t frames;              /* frames in the trace */
	uint64_t frames_port[2];      /* frames per arrival port */
	uint64_t wire_bytes;          /* sum of frame lengths (no preamble, IFG or FCS) */
	uint64_t payload_bytes[2];    /* stream bytes: [0] client to server, [1] server to client */
	uint64_t queries;             /* Query messages */
	uint64_t rows;                /* DataRow messages */
	uint64_t data_segs_s2c;       /* server data segments (first transmissions) */
	uint64_t swaps;               /* server data segments delivered before their predecessor */
	uint64_t rtx;                 /* server data segments sent twice */
	uint64_t client_acks;         /* pure ACKs sent by clients */
	uint64_t bursts;              /* bursts */
};

struct sg_trace {
	uint8_t *buf;                 /* the frames, in delivery order */
	uint64_t buf_len;             /* bytes used in buf */
	struct sg_frame *frames;      /* every frame, in delivery order */
	uint32_t n_frames;
	struct sg_burst *bursts;      /* the delivery schedule */
	uint32_t n_bursts;
	struct sg_stream_sum *sums;   /* per session: [2 * s + dir], dir 0 client to server */
	struct sg_stats st;
};

#endif
