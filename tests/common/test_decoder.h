/* test_decoder.h - a two-endpoint conversation harness that drives a worker through
 * the scriptable line decoder of test_linedec.h (unit tests of tcp.c, stream_edit.c,
 * worker.c).
 *
 * The harness plays a client (port 0) and a server (port 1): it builds their segments
 * with pktgen, hands them to dp_worker_process_burst(), and drains what the worker
 * queued into struct tconv_frame records (every frame's IP and TCP checksums are
 * asserted there). Each endpoint has a receiver model that places payload bytes at
 * their sequence number, so a test reads the byte stream an end host would read.
 */
#ifndef TG_TEST_DECODER_H
#define TG_TEST_DECODER_H

#include <stdint.h>
#include "dataplane/dp_config-t.h"
#include "dataplane/dp_counters-t.h"
#include "dataplane/dp_pkt-t.h"
#include "dataplane/worker-t.h"
#include "tests/common/pktgen.h"
#include "tests/common/test_linedec.h"

struct dp_worker;
struct flow;
struct rte_mbuf;
struct rte_mempool;

/* ---- the conversation harness ---- */

#define TCONV_MAX_FRAMES 256          /* frames one drain may collect */
#define TCONV_FRAME_DATA 2048         /* payload bytes kept per frame */
#define TCONV_RX_MAX     65536        /* bytes of stream each receiver model keeps */

/* One frame the worker queued. */
struct tconv_frame {
	uint16_t port;                    /* port it was queued on (0: to the client) */
	int      dir;                     /* direction it travels: 0 client->server, 1 back */
	const struct rte_mbuf *mbuf;      /* the mbuf it was (freed by the drain: identity only) */
	struct dp_pkt p;                  /* its parse */
	uint8_t  flags;                   /* TCP flags */
	uint32_t seq, ack;                /* host order */
	uint16_t len;                     /* payload bytes */
	uint8_t  data[TCONV_FRAME_DATA];  /* the payload */
	uint16_t frame_len;               /* bytes of the whole frame */
	uint8_t  frame[TCONV_FRAME_DATA + 128]; /* the whole frame */
};

/* What one end host received: payload placed at its sequence number. */
struct tconv_rx {
	uint32_t isn;                     /* the sender's ISN as this receiver knows it */
	uint8_t  buf[TCONV_RX_MAX];       /* stream bytes by offset (seq - isn - 1) */
	uint8_t  have[TCONV_RX_MAX];      /* 1 where buf holds a received byte */
	uint32_t contig;                  /* bytes received in order from offset 0 */
	unsigned conflicts;               /* bytes received twice with different values */
	unsigned data_frames;             /* frames with payload received */
	int      fin;                     /* a FIN was received */
	uint32_t fin_off;                 /* its stream offset */
	int      rst;                     /* a RST was received */
	uint32_t rst_seq;                 /* its seq */
	uint32_t last_tsval;              /* latest TSval received */
};

struct tconv {
	struct dp_config cfg;             /* the worker's settings (tests may change them) */
	struct dp_worker *w;              /* rte_zmalloc'ed, 64-byte aligned */
	struct rte_mempool *pool;         /* test_pool() */
	unsigned pool_avail0;             /* free mbufs before the worker started */
	struct pktgen_ep ep[2];           /* 0: client, 1: server */
	uint8_t  ts;                      /* both sides send timestamps */
	uint8_t  sack;                    /* both sides offer SACK */
	int8_t   wscale;                  /* window scale both offer (-1: none) */
	uint16_t mss;                     /* MSS both announce */
	uint16_t win;                     /* raw window field both send */
	uint8_t  ip_ver;                  /* 4 or 6 */
	uint8_t  ip6_dstopt;              /* IPv6 frames carry a destination options header */
	const uint8_t *ip6_srh_via;       /* IPv6: the client's frames reach the server through
	                                   * this waypoint (pktgen ip6_srh_via) */
	uint8_t  ts_odd;                  /* timestamps at odd offsets (pktgen ts_odd) */
	uint8_t  trailer;                 /* bytes after each datagram (pktgen trailer) */
	uint16_t vlan[2];                 /* VLAN ids of both sides' frames (0: none) */
	uint8_t  check_ts;                /* new frames must carry TSval >= the sender's latest */
	uint8_t  lose[2];                 /* drain: frames of direction d are lost (recorded,
	                                   * not given to the receiver model) */
	uint32_t isn[2];                  /* ISN of the client, of the server */
	uint32_t nxt[2];                  /* next seq each side sends (its own space) */
	uint32_t tsval[2];                /* latest TSval each side sent */
	struct tconv_rx rx[2];            /* rx[d]: the receiver of direction d */
	unsigned n_fr;                    /* frames collected by the last drain */
	struct tconv_frame fr[TCONV_MAX_FRAMES];
};

/* Allocates a conversation with default settings: one resource 198.18.0.2:5432 spoken
 * with <proto>, 64 flows, timestamps, SACK, wscale 7, MSS 1460. The caller may change
 * t->cfg and the option fields, then calls tconv_start(). Returns NULL on failure. */
struct tconv *tconv_new(uint8_t proto);
/* Creates the worker (ports 0 and 1, a pair, port 1 faces the server). Returns 0. */
int tconv_start(struct tconv *t);
/* Drains, frees the worker and its flows. Returns how many mbufs are missing from the
 * pool compared with before tconv_start() (0: nothing leaked). */
int tconv_stop(struct tconv *t);
/* tconv_stop() if the worker still runs, then frees <t> (NULL allowed). */
void tconv_free(struct tconv *t);

/* Builds a segment of side <dir> (0: client, 1: server) with the given header values,
 * that side's options (timestamps: TSval advanced by one), and <len> bytes of <data>. */
struct rte_mbuf *tconv_build(struct tconv *t, int dir, uint8_t flags, uint32_t seq,
			     uint32_t ack, const void *data, uint16_t len);
/* Same, with <n_sack> SACK blocks <sack>. */
struct rte_mbuf *tconv_build_sack(struct tconv *t, int dir, uint8_t flags, uint32_t seq,
				  uint32_t ack, const void *data, uint16_t len,
				  unsigned n_sack, const uint32_t (*sack)[2]);
/* Hands <m> to the worker as received from side <dir>. */
void tconv_rx_frame(struct tconv *t, int dir, struct rte_mbuf *m);
/* Builds and hands over a segment (see tconv_build). */
void tconv_seg(struct tconv *t, int dir, uint8_t flags, uint32_t seq, uint32_t ack,
	       const void *data, uint16_t len);
/* Side <dir> sends string <s> at its next seq, acknowledging what it received. */
void tconv_send(struct tconv *t, int dir, const char *s);
/* Side <dir> sends <len> bytes of <data> at its next seq, acknowledging what it received. */
void tconv_send_bytes(struct tconv *t, int dir, const void *data, uint16_t len);
/* Side <dir> sends a pure ACK of what it received. */
void tconv_ack(struct tconv *t, int dir);
/* The ACK side <dir> would send now: next byte its receiver model expects (out-space). */
uint32_t tconv_rcv_nxt(const struct tconv *t, int dir);
/* SYN, SYN-ACK, ACK, each drained and asserted to pass. */
void tconv_handshake(struct tconv *t);
/* Sets w->now_ns to <now_ns> and runs dp_worker_timers(); new frames are checked as
 * tconv_rx_frame checks them. */
void tconv_timers(struct tconv *t, uint64_t now_ns);

/* Collects every frame the worker queued into t->fr (asserting IP and TCP checksums),
 * feeds the receiver models, frees the mbufs. Returns the number of frames. */
unsigned tconv_drain(struct tconv *t);
/* Frames of the last drain travelling in direction <dir>. */
unsigned tconv_count(const struct tconv *t, int dir);
/* The <i>-th frame of the last drain travelling in direction <dir>, or NULL. */
const struct tconv_frame *tconv_frame(const struct tconv *t, int dir, unsigned i);
/* Whether receiver <dir>'s stream from offset 0 is exactly <s> (and no conflicts). */
int tconv_rx_is(const struct tconv *t, int dir, const char *s);

/* Whether receiver <dir>'s stream from offset 0 is exactly <len> bytes of <data>. */
int tconv_rx_eq(const struct tconv *t, int dir, const void *data, uint32_t len);

/* Frames of the last drain toward the receiver of <dir> that carry payload. */
unsigned tconv_data_frames(const struct tconv *t, int dir);

/* CMocka fixtures: a new conversation with the test decoder in *<state>, and its end. */
int tconv_cm_setup(void **state);
int tconv_cm_teardown(void **state);

/* The flow of the conversation, or NULL. */
struct flow *tconv_flow(struct tconv *t);
/* Counter value by name suffix, e.g. TCONV_CNT(t, drop_out_of_window). */
#define TCONV_CNT(t, name) ((t)->w->cnt.v[DP_CNT_##name])

#endif
