/* fuzz_tcp.c - libFuzzer target: a TCP conversation through a worker, both endpoints
 * played from the input. Reassembly, overlaps, retransmissions, the stream editor's
 * removals, injections and rewrites (the line decoder of test_linedec.h), SACK, FIN,
 * RST and timers get segments no real stack would send.
 *
 * The first byte chooses the setting: bit 0 IPv6, bit 1 a destination options header,
 * bit 2 a segment routing header on the client's frames (IPv6), bit 3 timestamps at
 * odd offsets, bit 4 a stream memcap of 16 KiB (segments sent unkept, memcap resets),
 * bit 5 six bytes after each datagram, bit 6 no window scaling, bit 7 a hold of 64
 * bytes with the reset policy (else 4 KiB, streamed through).
 * Each conversation starts with a proper handshake (so that the fuzzer spends its time
 * on an established flow), then reads operations of 6 bytes:
 *   b0  bit 0: direction (0 client, 1 server); bits 1-3: kind (below); bit 4: the
 *       payload is one of the decoder's commands rather than input bytes; bit 5: the
 *       ACK is perturbed by b3; bits 6-7: TCP options (timestamps, a SACK block)
 *   b1  signed sequence offset from the sender's next byte, times (b2 & 15)
 *   b2  bits 4-7: FIN/PSH/URG extras
 *   b3  signed ACK perturbation
 *   b4  bits 0-5: window; bits 6-7: which of four conversations (client ports 40000
 *       to 40003; each starts with its handshake when first used; three fit in the
 *       flow table, so the fourth is refused with RST while the others live; with
 *       two workers, one in each worker's table)
 *   b5  payload length (times 6, up to 1530) or, for a timer, milliseconds / 10
 * Kinds: 0-2 data, 3 pure ACK, 4 FIN, 5 RST, 6 clock and timers, 7 SYN (a new or
 * retransmitted connection on the same tuple).
 *
 * Built as fuzz_tcp_pg (tests/fuzz/fuzz_tcp_pg.c defines FUZZ_TCP_PG), the resource
 * speaks PostgreSQL with the four default rule packs in force (rules/packs/, read from
 * the working directory: run it from the repository's root, as run_smoke.sh does), the
 * handshake is followed by a startup exchange, and the commands are PostgreSQL messages
 * (queries that are blocked, extended-protocol batches, rows with card numbers and
 * SSNs to mask, COPY out, messages cut in two).
 *
 * Built as fuzz_tcp_mw (FUZZ_TCP_MW), two workers spread the flows in software
 * (dataplane/handoff.h, as on ports without RSS): each segment reaches the worker that
 * the parity of b1 ^ b3 picks (the kernel's fanout, including its rollover, which
 * may move a flow's frames to another queue), a segment of the other worker's flow
 * waits in that worker's handoff ring, and the rings are drained only every fourth
 * operation and at timers, so that segments handed over and segments received
 * directly overtake each other. The seed of the owner hash comes from the first byte.
 * The same invariants hold over both workers together.
 *
 * What must hold, or the target traps: every frame the worker emits parses as TCP and
 * carries good IP and TCP checksums; the appliance never sends an endpoint two
 * different bytes for one sequence number (what the receiver's stack would keep is
 * then what the decoder judged - unless the memcap made it send bytes unkept, or a
 * message outgrew the hold, which the counters say); once the clock has run past
 * every timeout, no flow, no held stream byte and no mbuf is left (what the worker
 * took, it gave back).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include "dataplane/dp_counters.h"
#include "dataplane/dp_pkt.h"
#include "dataplane/flow.h"
#include "dataplane/handoff.h"
#include "dataplane/worker.h"
#include "tests/common/pktgen.h"
#include "tests/common/test_eal.h"
#include "tests/common/test_linedec.h"
#ifdef FUZZ_TCP_PG
#include "dataplane/policy-t.h"
#include "dataplane/proto/proto.h"
#include "slowpath/policy_build.h"
#endif

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

#define OP_LEN      6
#define MAX_OPS     256
#define PAYLOAD_MAX 1530
#define SEEN_MAX    (1u << 18)     /* stream bytes remembered per endpoint */
#define N_CONV      4
#define CPORT0      40000
#ifdef FUZZ_TCP_MW
#define N_WORKERS   2
#else
#define N_WORKERS   1
#endif

struct cmd {
	const uint8_t *b;
	uint16_t n;
};

#ifndef FUZZ_TCP_PG
#define C(s) { (const uint8_t *)(s), sizeof(s) - 1 }
/* the line decoder's commands, the same both ways; "BLO" + "CK\n" is a line in two */
static const struct cmd cmds[2][9] = {
	{ C("BLOCK\n"), C("DROP\n"), C("PING\n"), C("SECRET x\n"), C("RESET\n"), C("BAD\n"),
	  C("abc\n"), C("BLO"), C("CK\n") },
	{ C("BLOCK\n"), C("DROP\n"), C("PING\n"), C("SECRET x\n"), C("RESET\n"), C("BAD\n"),
	  C("abc\n"), C("BLO"), C("CK\n") },
};
#undef C
#define FUZZ_PROTO DP_PROTO_TEST
#else
/* PostgreSQL messages, built once (pg_msgs): [0] the client's, [1] the server's */
static struct cmd cmds[2][10];
static uint8_t pg_buf[2048];
static struct cmd startup, auth_ok, ready;
static struct dp_policy *policy;
#define FUZZ_PROTO DP_PROTO_PG

/* Appends message <type> (0: none, the startup message) with <body> to pg_buf. */
static struct cmd pg_msg(size_t *at, char type, const void *body, uint32_t n)
{
	uint8_t *b = pg_buf + *at;
	uint32_t len = n + 4, k = 0;

	CHECK(*at + n + 5 <= sizeof(pg_buf));
	if (type)
		b[k++] = (uint8_t)type;
	b[k++] = (uint8_t)(len >> 24);
	b[k++] = (uint8_t)(len >> 16);
	b[k++] = (uint8_t)(len >> 8);
	b[k++] = (uint8_t)len;
	memcpy(b + k, body, n);
	*at += k + n;
	return (struct cmd){ b, (uint16_t)(k + n) };
}

/* Joins the consecutive messages <a>..<b> (built one after the other) into one. */
static struct cmd pg_join(struct cmd a, struct cmd b)
{
	return (struct cmd){ a.b, (uint16_t)(b.b + b.n - a.b) };
}

#define B(s) s, sizeof(s) - 1
static void pg_msgs(void)
{
	size_t at = 0;
	struct cmd a, b;

	startup = pg_msg(&at, 0, B("\x00\x03\x00\x00user\0u\0database\0d\0\0"));
	auth_ok = pg_msg(&at, 'R', B("\0\0\0\0"));
	ready = pg_msg(&at, 'Z', B("I"));
	cmds[0][0] = pg_msg(&at, 'Q', B("SELECT 1;\0"));
	cmds[0][1] = pg_msg(&at, 'Q', B("DROP TABLE t;\0"));
	cmds[0][2] = pg_msg(&at, 'Q', B("SELECT 1; dRoP /* x */ TaBlE t;\0"));
	a = pg_msg(&at, 'P', B("\0DROP TABLE t\0\0\0"));
	pg_msg(&at, 'B', B("\0\0\0\0\0\0\0\0"));
	pg_msg(&at, 'E', B("\0\0\0\0\0"));
	b = pg_msg(&at, 'S', "", 0);
	cmds[0][3] = pg_join(a, b);
	a = pg_msg(&at, 'P', B("s1\0SELECT card, ssn FROM c\0\0\0"));
	pg_msg(&at, 'B', B("\0s1\0\0\0\0\0\0\0"));
	pg_msg(&at, 'D', B("P\0"));
	pg_msg(&at, 'E', B("\0\0\0\0\0"));
	b = pg_msg(&at, 'S', "", 0);
	cmds[0][4] = pg_join(a, b);
	cmds[0][5] = pg_msg(&at, 'd', B("x\n"));
	cmds[0][6] = pg_msg(&at, 'X', "", 0);
	cmds[0][7] = pg_msg(&at, 'Q', B("SELECT 'DROP TABLE t' -- DROP TABLE t\0"));
	/* a query cut in two */
	cmds[0][8] = (struct cmd){ cmds[0][1].b, 7 };
	cmds[0][9] = (struct cmd){ cmds[0][1].b + 7, (uint16_t)(cmds[0][1].n - 7) };

	cmds[1][0] = pg_msg(&at, 'T', B("\0\x02" "card\0\0\0\0\0\0\x01\0\0\0\x19\xff\xff\xff\xff\xff\xff\0\0"
					 "ssn\0\0\0\0\0\0\x02\0\0\0\x19\xff\xff\xff\xff\xff\xff\0\0"));
	cmds[1][1] = pg_msg(&at, 'D', B("\0\x02\0\0\0\x13" "4111 1111 1111 1111\0\0\0\x0b" "123-45-6789"));
	cmds[1][2] = pg_msg(&at, 'C', B("SELECT 1\0"));
	cmds[1][3] = pg_msg(&at, 'Z', B("I"));
	cmds[1][4] = pg_msg(&at, 'E', B("SERROR\0C42000\0Mx\0\0"));
	a = pg_msg(&at, 'H', B("\0\0\x02\0\0\0\0"));
	pg_msg(&at, 'd', B("4111111111111111\t123-45-6789\n"));
	b = pg_msg(&at, 'c', "", 0);
	cmds[1][5] = pg_join(a, b);
	cmds[1][6] = pg_msg(&at, 'D', B("\0\x02\xff\xff\xff\xff\0\0\0\x03" "abc"));
	a = pg_msg(&at, '1', "", 0);
	b = pg_msg(&at, '2', "", 0);
	cmds[1][7] = pg_join(a, b);
	/* a row cut in two */
	cmds[1][8] = (struct cmd){ cmds[1][1].b, 11 };
	cmds[1][9] = (struct cmd){ cmds[1][1].b + 11, (uint16_t)(cmds[1][1].n - 11) };
}
#undef B
#endif

/* What the appliance sent one endpoint, by offset from that connection's first byte. */
struct seen {
	uint32_t base;                 /* sequence number of offset 0 (the SYN's + 1) */
	uint32_t hi;                   /* offsets below this may be marked known */
	uint8_t have_base;
	uint8_t known[SEEN_MAX];
	uint8_t byte[SEEN_MAX];
};

static struct seen seen[N_CONV][2]; /* [conversation][port]: the endpoint behind it */

/* One client's connection to the server, as its two ends see it. */
struct conv {
	struct pktgen_ep ep[2];        /* 0: client (port 0), 1: server (port 1) */
	uint32_t nxt[2];               /* next sequence number each endpoint sends */
	uint32_t rcv[2];               /* highest sequence end each endpoint was sent */
	uint32_t tsval[2];
	uint8_t started;               /* its handshake was sent */
};

struct fz {
	struct dp_worker *ws[N_WORKERS];
	struct dp_handoff *h;          /* the workers' rings (fuzz_tcp_mw) */
	unsigned rx;                   /* the worker the next segment reaches */
	uint8_t setting;               /* the input's first byte (see the top) */
	struct dp_config cfg;
	struct conv cv[N_CONV];
	struct conv *c;                /* the conversation of the current operation */
	uint8_t payload[PAYLOAD_MAX];
};

static struct rte_mempool *pool;
static const uint8_t via[16] = { 0x20, 0x01, 0x02, [15] = 9 }; /* a waypoint in srv's /64 */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	CHECK(test_eal_init() == 0);
	pool = test_pool();
	CHECK(pool != NULL);
	tdec_register();
#ifdef FUZZ_TCP_PG
	{
		static const char *const packs[] = {
			"rules/packs/destructive.conf", "rules/packs/privilege.conf",
			"rules/packs/exfiltration.conf", "rules/packs/pii.conf",
		};
		struct dp_config dp;
		char err[512];

		memset(&dp, 0, sizeof(dp));
		proto_register_builtin();
		pg_msgs();
		policy = policy_build(packs, 4, &dp, NULL, 1, err, sizeof(err));
		if (policy == NULL)
			fprintf(stderr, "fuzz_tcp_pg: %s (run from the repository's root)\n", err);
		CHECK(policy != NULL);
	}
#endif
	return 0;
}

/* Counter <id> summed over the workers. */
static uint64_t fz_cnt(const struct fz *z, enum dp_counter_id id)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < N_WORKERS; i++)
		v += z->ws[i]->cnt.v[id];
	return v;
}

/* Starts endpoint record <s> afresh: a connection whose first byte is <base>. */
static void seen_restart(struct seen *s, uint32_t base)
{
	memset(s->known, 0, s->hi);
	s->hi = 0;
	s->base = base;
	s->have_base = 1;
}

/* Records the payload of frame <d> sent to the endpoint behind <port>, and traps if
 * a byte differs from one sent before at the same sequence number. A SYN starts the
 * endpoint's record afresh (a new connection, or one the appliance passed on). */
static void seen_check(struct fz *z, struct seen *s, const uint8_t *d, const struct dp_pkt *p)
{
	const uint8_t *pl = d + p->payload_off;

	if (p->tcp_flags & DP_TCP_SYN) {
		seen_restart(s, p->seq + 1);
		return;
	}
	if (!s->have_base)
		return;
	for (uint32_t i = 0; i < p->payload_len; i++) {
		uint32_t o = p->seq + i - s->base;

		if (o >= SEEN_MAX)
			continue;
		if (s->known[o] && s->byte[o] != pl[i] &&
		    fz_cnt(z, DP_CNT_rtx_not_kept) == 0 && fz_cnt(z, DP_CNT_hold_overflow) == 0) {
			fprintf(stderr, "fuzz_tcp: an endpoint got byte 0x%02x at offset %u, 0x%02x before\n",
				pl[i], o, s->byte[o]);
			__builtin_trap();
		}
		s->known[o] = 1;
		s->byte[o] = pl[i];
		if (o >= s->hi)
			s->hi = o + 1;
	}
}

/* Takes what the worker queued: every frame must be TCP with good checksums; the
 * highest sequence end sent toward each endpoint is what that endpoint may ACK. */
static void drain(struct fz *z)
{
	for (unsigned wi = 0; wi < N_WORKERS; wi++)
	for (uint16_t port = 2; port-- > 0;) {
		/* port 1 first: what went to the server is recorded before a SYN-ACK to the
		 * client restarts the server's record, since the order in which a worker
		 * queued frames on two ports is not kept (found by fuzz_tcp_mw, whose ring
		 * drains run many frames before one drain) */
		struct dp_txbuf *t = &z->ws[wi]->tx[port];

		for (uint16_t i = 0; i < t->n; i++) {
			struct rte_mbuf *m = t->pkts[i];
			const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
			struct dp_pkt p;

			CHECK(m->nb_segs == 1);
			CHECK(dp_pkt_parse(d, rte_pktmbuf_data_len(m), &p) == DP_PKT_TCP);
			CHECK(dp_pkt_ip_cksum_ok(d, &p));
			CHECK(dp_pkt_tcp_cksum_ok(d, &p));
			/* the client's port names the conversation: its destination port on
			 * port 0 (toward the clients), its source port on port 1 */
			unsigned k = (unsigned)(port ? p.sport : p.dport) - CPORT0;
			CHECK(k < N_CONV);
			/* A SYN-ACK on its way to the client commits the appliance to the
			 * connection it answers: the server's record starts there. Until then a
			 * client SYN passed on inside a live session (RFC 5961) leaves two
			 * connections sharing the server's sequence numbers, the old one's bytes
			 * still flowing: which of them the server keeps is its choice, not the
			 * appliance's (found by fuzz_tcp_mw, whose handoffs delay SYN-ACKs). */
			if (port == 0 && (p.tcp_flags & (DP_TCP_SYN | DP_TCP_ACK)) ==
					 (DP_TCP_SYN | DP_TCP_ACK))
				seen_restart(&seen[k][1], p.ack);
			seen_check(z, &seen[k][port], d, &p);
			uint32_t end = p.seq + p.payload_len +
				       !!(p.tcp_flags & (DP_TCP_SYN | DP_TCP_FIN));
			/* port 0 faces the client: frames there are for endpoint 0 */
			if ((int32_t)(end - z->cv[k].rcv[port]) > 0)
				z->cv[k].rcv[port] = end;
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
	s.src = &z->c->ep[dir];
	s.dst = &z->c->ep[!dir];
	s.ip_ver = (z->setting & 1) ? 6 : 4;
	s.ip6_dstopt = !!(z->setting & 2);
	if ((z->setting & 4) && dir == 0)
		s.ip6_srh_via = via;
	s.ts_odd = !!(z->setting & 8);
	s.trailer = (z->setting & 32) ? 6 : 0;
	s.flags = flags;
	s.seq = seq;
	s.ack = ack;
	s.win = win;
	s.wscale = (flags & DP_TCP_SYN) && !(z->setting & 64) ? 7 : -1;
	s.mss = (flags & DP_TCP_SYN) ? 1460 : 0;
	s.sack_perm = !!(flags & DP_TCP_SYN);
	s.ts = (opts & 1) || (flags & DP_TCP_SYN);
	s.tsval = z->c->tsval[dir]++;
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
	dp_worker_process_burst(z->ws[z->rx % N_WORKERS], (uint16_t)dir, &m, 1);
	drain(z);
}

/* Each worker takes what the others passed it (fuzz_tcp_mw), one frame at a time: the
 * frames a worker queues on its two ports lose their order between drains, and the
 * byte records must follow the order the appliance sent in (a SYN-ACK that restarts
 * a session and the new session's first bytes, handed over together, were checked in
 * the wrong order; found by the smoke run). Each frame goes back alone into the ring
 * it came from and through dp_worker_handoff_poll(), the path tollgated runs. */
static void poll_rings(struct fz *z)
{
	static void *held[DP_HANDOFF_RING];

	for (unsigned i = 0; z->h && i < N_WORKERS; i++) {
		struct rte_ring *r = z->h->ring[i];
		unsigned n = rte_ring_sc_dequeue_burst(r, held, DP_HANDOFF_RING, NULL);

		for (unsigned k = 0; k < n; k++) {
			CHECK(rte_ring_sp_enqueue(r, held[k]) == 0);
			CHECK(dp_worker_handoff_poll(z->ws[i]) == 1);
			drain(z);
		}
	}
}

/* The current conversation's handshake (and, for PostgreSQL, its startup exchange). */
static void handshake(struct fz *z)
{
	struct conv *c = z->c;

	c->started = 1;
	/* the handshake in order (the conversation's own queue, rings drained at once):
	 * what follows is the input's */
	z->rx = (unsigned)(c - z->cv);
	send_seg(z, 0, DP_TCP_SYN, c->nxt[0]++, 0, 64240, NULL, 0, 1);
	poll_rings(z);
	send_seg(z, 1, DP_TCP_SYN | DP_TCP_ACK, c->nxt[1]++, c->nxt[0], 65160, NULL, 0, 1);
	poll_rings(z);
	send_seg(z, 0, DP_TCP_ACK, c->nxt[0], c->rcv[0], 502, NULL, 0, 1);
	poll_rings(z);
#ifdef FUZZ_TCP_PG
	/* the startup exchange: the decoder judges queries only after it */
	send_seg(z, 0, DP_TCP_ACK | DP_TCP_PSH, c->nxt[0], c->rcv[0], 502, startup.b, startup.n, 1);
	c->nxt[0] += startup.n;
	memcpy(z->payload, auth_ok.b, auth_ok.n);
	memcpy(z->payload + auth_ok.n, ready.b, ready.n);
	poll_rings(z);
	send_seg(z, 1, DP_TCP_ACK | DP_TCP_PSH, c->nxt[1], c->rcv[1], 502, z->payload,
		 (uint16_t)(auth_ok.n + ready.n), 1);
	poll_rings(z);
	c->nxt[1] += auth_ok.n + ready.n;
#endif
}

static void run_timers(struct fz *z, uint64_t ns)
{
	poll_rings(z);
	for (unsigned i = 0; i < N_WORKERS; i++) {
		z->ws[i]->now_ns += ns;
		dp_worker_timers(z->ws[i]);
	}
	drain(z);
}

static void op(struct fz *z, const uint8_t *b, const uint8_t **in, size_t *left)
{
	int dir = b[0] & 1, kind = (b[0] >> 1) & 7;
	uint8_t opts = (uint8_t)(b[0] >> 6);
	uint16_t win = b[4] & 0x3f;

	z->c = &z->cv[b[4] >> 6];
	if (!z->c->started)
		handshake(z);
	z->rx = (unsigned)__builtin_parity((unsigned)(b[1] ^ b[3]));

	struct conv *c = z->c;
	uint32_t seq = c->nxt[dir] + (uint32_t)((int32_t)(int8_t)b[1] * (b[2] & 15));
	uint32_t ack = c->rcv[dir] + ((b[0] & 0x20) ? (uint32_t)(int32_t)(int8_t)b[3] : 0);
	uint8_t extra = (uint8_t)((b[2] >> 4) & (DP_TCP_FIN | DP_TCP_PSH)) | ((b[2] & 0x80) ? DP_TCP_URG : 0);
	uint16_t len = 0;

	if (kind <= 2 || kind == 4) {
		if (b[0] & 0x10) {
			const struct cmd *cm = &cmds[dir][b[5] % (sizeof(cmds[0]) / sizeof(cmds[0][0]))];
			len = cm->n;
			memcpy(z->payload, cm->b, len);
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
		send_seg(z, dir, DP_TCP_ACK | extra, seq, ack, win ? win : 1, z->payload, len, opts);
		break;
	case 3:
		send_seg(z, dir, DP_TCP_ACK, seq, ack, win, NULL, 0, opts);
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
		/* a new connection's numbers (or the same again): later data follows them */
		c->nxt[dir] = seq + 1;
		return;
	}
	/* a segment sent at the sender's next byte moves it on: retransmissions and
	 * overlaps come from the offsets, new data from here */
	if (seq == c->nxt[dir])
		c->nxt[dir] += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t peer[2] = { 1, 0 };
	static const uint8_t server_side[2] = { 0, 1 };
	struct fz *z = calloc(1, sizeof(*z));
	unsigned avail0, ops = 0;

	CHECK(z != NULL);
	if (size > 0) {
		z->setting = data[0];
		data++;
		size--;
	}
	/* the last conversation finds the table full; with two workers each table holds
	 * one flow, so a second conversation on a worker is refused (a capacity of three
	 * per worker would have needed all four on one, found in review) */
	z->cfg.flow_capacity = N_WORKERS == 1 ? N_CONV - 1 : 1;
	z->cfg.overload = DP_OVERLOAD_FAIL_CLOSED;
	z->cfg.idle_timeout_s = 60;
	z->cfg.closed_timeout_s = 5;
	z->cfg.max_hold_bytes = (z->setting & 128) ? 64 : 4096;
	z->cfg.hold = (z->setting & 128) ? DP_HOLD_RESET : DP_HOLD_STREAM;
	z->cfg.ooo_max_segs = 8;
	z->cfg.stream_memcap = (z->setting & 16) ? 16u << 10 : 256u << 10;
	z->cfg.rto_ms = 200;
	z->cfg.verify_cksum = 1;
	z->cfg.n_resources = 1;
	z->cfg.resources[0].port = 5432;
	z->cfg.resources[0].proto = FUZZ_PROTO;
	for (unsigned k = 0; k < N_CONV; k++) {
		struct conv *c = &z->cv[k];

		pktgen_default_eps(&c->ep[0], &c->ep[1], (uint16_t)(CPORT0 + k), 5432);
		c->nxt[0] = 1000 + k * 100000;
		c->nxt[1] = 0xfffff000u - k * 100000; /* the server's numbers wrap past 2^32 */
		for (int i = 0; i < 2; i++) {
			memset(seen[k][i].known, 0, seen[k][i].hi);
			seen[k][i].hi = 0;
			seen[k][i].have_base = 0;
		}
	}
	if (z->setting & 1) {
		z->cfg.resources[0].ip_ver = 6;
		memcpy(z->cfg.resources[0].addr, z->cv[0].ep[1].ip6, 16);
	} else {
		z->cfg.resources[0].ip_ver = 4;
		z->cfg.resources[0].addr[0] = z->cv[0].ep[1].ip4;
	}
	z->cfg.midstream = DP_MIDSTREAM_DROP; /* segments of no flow are not the appliance's */
	avail0 = rte_mempool_avail_count(pool);
	for (unsigned i = 0; i < N_WORKERS; i++) {
		struct dp_worker *w = rte_zmalloc("fuzz_worker", sizeof(*w), 64);

		CHECK(w != NULL);
		CHECK(dp_worker_init(w, (uint16_t)i, 2, peer, server_side, &z->cfg, pool) == 0);
		w->now_ns = 1000000000ull;
#ifdef FUZZ_TCP_PG
		dp_worker_set_policy(w, policy);
#endif
		z->ws[i] = w;
	}
#ifdef FUZZ_TCP_MW
	z->h = rte_zmalloc("fuzz_handoff", sizeof(*z->h), 64);
	CHECK(z->h != NULL);
	z->h->n_workers = N_WORKERS;
	z->h->soft = 1;
	z->h->seed = 0x9e3779b9u * z->setting;
	CHECK(dp_handoff_rings_create(z->h, SOCKET_ID_ANY) == 0);
	for (unsigned i = 0; i < N_WORKERS; i++)
		z->ws[i]->handoff = z->h;
#endif

	z->c = &z->cv[0];
	handshake(z);
	/* the handshake made a flow, or every check below would pass on nothing */
	CHECK(fz_cnt(z, DP_CNT_flow_created) == 1);
	while (size >= OP_LEN && ops++ < MAX_OPS) {
		const uint8_t *b = data;

		data += OP_LEN;
		size -= OP_LEN;
		op(z, b, &data, &size);
		for (unsigned i = 0; i < N_WORKERS; i++)
			z->ws[i]->now_ns += 1000000;   /* 1 ms a segment: timers see time pass */
		if ((ops & 3) == 0)
			poll_rings(z);
		if ((ops & 15) == 0)
			run_timers(z, 0);
	}
	/* FUZZ_TCP_VERBOSE=1: what the input did, to check a seed does what it says */
	if (getenv("FUZZ_TCP_VERBOSE"))
		fprintf(stderr, "fuzz_tcp: %u ops, %llu flows, %llu commands: blocked %llu; %llu rows, "
			"masked %llu; removed %llu, injected %llu, rewritten %llu bytes; decoder "
			"errors %llu\n", ops,
			(unsigned long long)fz_cnt(z, DP_CNT_flow_created),
			(unsigned long long)fz_cnt(z, DP_CNT_cmd_seen),
			(unsigned long long)fz_cnt(z, DP_CNT_cmd_blocked),
			(unsigned long long)fz_cnt(z, DP_CNT_rows_scanned),
			(unsigned long long)fz_cnt(z, DP_CNT_fields_masked),
			(unsigned long long)fz_cnt(z, DP_CNT_edit_removed_bytes),
			(unsigned long long)fz_cnt(z, DP_CNT_edit_injected_bytes),
			(unsigned long long)fz_cnt(z, DP_CNT_edit_rewritten_bytes),
			(unsigned long long)fz_cnt(z, DP_CNT_proto_error));
	if (getenv("FUZZ_TCP_VERBOSE") && N_WORKERS > 1)
		fprintf(stderr, "fuzz_tcp: handed over %llu segments (%llu for a full ring); "
			"flows: worker 0 %llu, worker 1 %llu\n",
			(unsigned long long)fz_cnt(z, DP_CNT_soft_handoff),
			(unsigned long long)fz_cnt(z, DP_CNT_soft_handoff_full),
			(unsigned long long)z->ws[0]->cnt.v[DP_CNT_flow_created],
			(unsigned long long)z->ws[N_WORKERS - 1]->cnt.v[DP_CNT_flow_created]);
	/* past every timeout: nothing may stay behind */
	for (int i = 0; i < 4; i++)
		run_timers(z, 3600ull * 1000000000ull);
	for (unsigned i = 0; i < N_WORKERS; i++) {
		struct dp_worker *w = z->ws[i];

		if (flow_count(w->ft) != 0 || w->stream_mem != 0)
			fprintf(stderr, "fuzz_tcp: worker %u: %u flows, %llu stream bytes left after "
				"every timeout\n", i, flow_count(w->ft), (unsigned long long)w->stream_mem);
		CHECK(flow_count(w->ft) == 0);
		CHECK(w->stream_mem == 0);
	}
	if (z->h) {
		/* empty: run_timers drained them (else the mbuf count below would not see
		 * what they held, since freeing them frees it) */
		for (unsigned i = 0; i < N_WORKERS; i++)
			CHECK(rte_ring_count(z->h->ring[i]) == 0);
		dp_handoff_rings_free(z->h);
		rte_free(z->h);
	}
	for (unsigned i = 0; i < N_WORKERS; i++) {
		dp_worker_fini(z->ws[i]);
		rte_free(z->ws[i]);
	}
	CHECK(rte_mempool_avail_count(pool) == avail0);
	free(z);
	return 0;
}
