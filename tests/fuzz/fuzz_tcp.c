/* fuzz_tcp.c - libFuzzer target: a TCP conversation through a worker, both endpoints
 * played from the input. Reassembly, overlaps, retransmissions, the stream editor's
 * removals, injections and rewrites (the line decoder of test_linedec.h), SACK, FIN,
 * RST and timers get segments no real stack would send.
 *
 * Each input starts with a proper handshake (so that the fuzzer spends its time on an
 * established flow), then reads operations of 6 bytes:
 *   b0  bit 0: direction (0 client, 1 server); bits 1-3: kind (below); bit 4: the
 *       payload is one of the decoder's commands rather than input bytes; bit 5: the
 *       ACK is perturbed by b3; bits 6-7: TCP options (timestamps, a SACK block)
 *   b1  signed sequence offset from the sender's next byte, times (b2 & 15)
 *   b2  bits 4-7: FIN/PSH/URG extras
 *   b3  signed ACK perturbation
 *   b4  window
 *   b5  payload length (times 6, up to 1530) or, for a timer, milliseconds / 10
 * Kinds: 0-2 data, 3 pure ACK, 4 FIN, 5 RST, 6 clock and timers, 7 SYN (a new or
 * retransmitted connection on the same tuple).
 *
 * What must hold, or the target traps: every frame the worker emits parses as TCP and
 * carries good IP and TCP checksums; once the clock has run past every timeout, no
 * flow, no held stream byte and no mbuf is left (what the worker took, it gave back).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include "dataplane/dp_pkt.h"
#include "dataplane/flow.h"
#include "dataplane/worker.h"
#include "tests/common/pktgen.h"
#include "tests/common/test_eal.h"
#include "tests/common/test_linedec.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

#define OP_LEN      6
#define MAX_OPS     256
#define PAYLOAD_MAX 1530

static const char *const cmds[] = {
	"BLOCK\n", "DROP\n", "PING\n", "SECRET x\n", "RESET\n", "BAD\n", "abc\n", "BLO", "CK\n",
};

struct fz {
	struct dp_worker *w;
	struct dp_config cfg;
	struct pktgen_ep ep[2];        /* 0: client (port 0), 1: server (port 1) */
	uint32_t nxt[2];               /* next sequence number each endpoint sends */
	uint32_t rcv[2];               /* highest sequence end each endpoint was sent */
	uint32_t tsval[2];
	uint8_t payload[PAYLOAD_MAX];
};

static struct rte_mempool *pool;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	CHECK(test_eal_init() == 0);
	pool = test_pool();
	CHECK(pool != NULL);
	tdec_register();
	return 0;
}

/* Takes what the worker queued: every frame must be TCP with good checksums; the
 * highest sequence end sent toward each endpoint is what that endpoint may ACK. */
static void drain(struct fz *z)
{
	for (uint16_t port = 0; port < 2; port++) {
		struct dp_txbuf *t = &z->w->tx[port];

		for (uint16_t i = 0; i < t->n; i++) {
			struct rte_mbuf *m = t->pkts[i];
			const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
			struct dp_pkt p;

			CHECK(m->nb_segs == 1);
			CHECK(dp_pkt_parse(d, rte_pktmbuf_data_len(m), &p) == DP_PKT_TCP);
			CHECK(dp_pkt_ip_cksum_ok(d, &p));
			CHECK(dp_pkt_tcp_cksum_ok(d, &p));
			uint32_t end = p.seq + p.payload_len +
				       !!(p.tcp_flags & (DP_TCP_SYN | DP_TCP_FIN));
			/* port 0 faces the client: frames there are for endpoint 0 */
			if ((int32_t)(end - z->rcv[port]) > 0)
				z->rcv[port] = end;
			rte_pktmbuf_free(m);
		}
		t->n = 0;
	}
}

static void send_seg(struct fz *z, int dir, uint8_t flags, uint32_t seq, uint32_t ack,
		     uint16_t win, const uint8_t *data, uint16_t len, uint8_t opts)
{
	struct pktgen_seg_spec s;
	struct rte_mbuf *m;

	memset(&s, 0, sizeof(s));
	s.src = &z->ep[dir];
	s.dst = &z->ep[!dir];
	s.ip_ver = 4;
	s.flags = flags;
	s.seq = seq;
	s.ack = ack;
	s.win = win;
	s.wscale = (flags & DP_TCP_SYN) ? 7 : -1;
	s.mss = (flags & DP_TCP_SYN) ? 1460 : 0;
	s.sack_perm = !!(flags & DP_TCP_SYN);
	s.ts = (opts & 1) || (flags & DP_TCP_SYN);
	s.tsval = z->tsval[dir]++;
	if (opts & 2) {
		s.n_sack = 1;
		s.sack[0][0] = ack + 100;
		s.sack[0][1] = ack + 100 + len;
	}
	s.payload = data;
	s.payload_len = len;
	m = pktgen_build(pool, &s);
	if (m == NULL)
		return; /* the pool is held by the worker: the op is lost, as on a wire */
	dp_worker_process_burst(z->w, (uint16_t)dir, &m, 1);
	drain(z);
}

static void handshake(struct fz *z)
{
	send_seg(z, 0, DP_TCP_SYN, z->nxt[0]++, 0, 64240, NULL, 0, 1);
	send_seg(z, 1, DP_TCP_SYN | DP_TCP_ACK, z->nxt[1]++, z->nxt[0], 65160, NULL, 0, 1);
	send_seg(z, 0, DP_TCP_ACK, z->nxt[0], z->rcv[0], 502, NULL, 0, 1);
}

static void run_timers(struct fz *z, uint64_t ns)
{
	z->w->now_ns += ns;
	dp_worker_timers(z->w);
	drain(z);
}

static void op(struct fz *z, const uint8_t *b, const uint8_t **in, size_t *left)
{
	int dir = b[0] & 1, kind = (b[0] >> 1) & 7;
	uint8_t opts = (uint8_t)(b[0] >> 6);
	uint32_t seq = z->nxt[dir] + (uint32_t)((int32_t)(int8_t)b[1] * (b[2] & 15));
	uint32_t ack = z->rcv[dir] + ((b[0] & 0x20) ? (uint32_t)(int32_t)(int8_t)b[3] : 0);
	uint8_t extra = (uint8_t)((b[2] >> 4) & (DP_TCP_FIN | DP_TCP_PSH)) | ((b[2] & 0x80) ? DP_TCP_URG : 0);
	uint16_t len = 0;

	if (kind <= 2 || kind == 4) {
		if (b[0] & 0x10) {
			const char *c = cmds[b[5] % (sizeof(cmds) / sizeof(cmds[0]))];
			len = (uint16_t)strlen(c);
			memcpy(z->payload, c, len);
		} else {
			len = (uint16_t)(b[5] * 6u);
			if (len > PAYLOAD_MAX)
				len = PAYLOAD_MAX;
			for (uint16_t i = 0; i < len; i++)
				z->payload[i] = *left ? (*in)[i % *left] : (uint8_t)'\n';
		}
	}
	switch (kind) {
	case 0: case 1: case 2:
		send_seg(z, dir, DP_TCP_ACK | extra, seq, ack, b[4] ? b[4] : 1, z->payload, len, opts);
		break;
	case 3:
		send_seg(z, dir, DP_TCP_ACK, seq, ack, b[4], NULL, 0, opts);
		return;
	case 4:
		send_seg(z, dir, DP_TCP_ACK | DP_TCP_FIN, seq, ack, 512, z->payload, len, opts);
		len++;
		break;
	case 5:
		send_seg(z, dir, DP_TCP_RST | ((b[2] & 1) ? DP_TCP_ACK : 0), seq, ack, 0, NULL, 0, 0);
		return;
	case 6:
		run_timers(z, (uint64_t)b[5] * 10000000ull);
		return;
	default:
		send_seg(z, dir, dir ? DP_TCP_SYN | DP_TCP_ACK : DP_TCP_SYN, seq, ack, 64240, NULL, 0, 1);
		return;
	}
	/* a segment sent at the sender's next byte moves it on: retransmissions and
	 * overlaps come from the offsets, new data from here */
	if (seq == z->nxt[dir])
		z->nxt[dir] += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t peer[2] = { 1, 0 };
	static const uint8_t server_side[2] = { 0, 1 };
	struct fz *z = calloc(1, sizeof(*z));
	unsigned avail0, ops = 0;

	CHECK(z != NULL);
	z->cfg.flow_capacity = 16;
	z->cfg.idle_timeout_s = 60;
	z->cfg.closed_timeout_s = 5;
	z->cfg.max_hold_bytes = 4096;
	z->cfg.ooo_max_segs = 8;
	z->cfg.stream_memcap = 256u << 10;
	z->cfg.rto_ms = 200;
	z->cfg.verify_cksum = 1;
	z->cfg.n_resources = 1;
	z->cfg.resources[0].port = 5432;
	z->cfg.resources[0].proto = DP_PROTO_TEST;
	z->cfg.resources[0].ip_ver = 4;
	pktgen_default_eps(&z->ep[0], &z->ep[1], 40000, 5432);
	z->cfg.resources[0].addr[0] = z->ep[1].ip4;
	z->nxt[0] = 1000;
	z->nxt[1] = 0xfffff000u;      /* the server's numbers wrap past 2^32 */
	avail0 = rte_mempool_avail_count(pool);
	z->w = rte_zmalloc("fuzz_worker", sizeof(*z->w), 64);
	CHECK(z->w != NULL);
	CHECK(dp_worker_init(z->w, 0, 2, peer, server_side, &z->cfg, pool) == 0);
	z->w->now_ns = 1000000000ull;

	handshake(z);
	while (size >= OP_LEN && ops++ < MAX_OPS) {
		const uint8_t *b = data;

		data += OP_LEN;
		size -= OP_LEN;
		op(z, b, &data, &size);
		z->w->now_ns += 1000000;   /* 1 ms a segment: timers see time pass */
		if ((ops & 15) == 0)
			run_timers(z, 0);
	}
	/* past every timeout: nothing may stay behind */
	for (int i = 0; i < 4; i++)
		run_timers(z, 3600ull * 1000000000ull);
	if (flow_count(z->w->ft) != 0 || z->w->stream_mem != 0)
		fprintf(stderr, "fuzz_tcp: %u flows, %llu stream bytes left after every timeout\n",
			flow_count(z->w->ft), (unsigned long long)z->w->stream_mem);
	CHECK(flow_count(z->w->ft) == 0);
	CHECK(z->w->stream_mem == 0);
	dp_worker_fini(z->w);
	rte_free(z->w);
	CHECK(rte_mempool_avail_count(pool) == avail0);
	free(z);
	return 0;
}
