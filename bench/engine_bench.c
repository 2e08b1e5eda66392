/* engine_bench.c - PostgreSQL sessions through dp_worker_process_burst on one core, against a forward ceiling.
 *
 * A trace of realistic sessions (bench/sessgen.h) is generated once, as bytes. Each
 * timed phase then does what a NIC and the worker loop would: copy every frame into a
 * fresh mbuf (the NIC's RX), hand bursts of 32 to the code under test, and free what
 * it queued for TX (the NIC's TX completion).
 *
 *   tracked  - dp_worker_process_burst: parse, flow table, TCP tracking and reassembly,
 *              the PostgreSQL framing decoder, the stream editor; timers every 1 ms.
 *   ceiling  - the same copy-in, each mbuf queued to the peer port's TX array, freed.
 *   hold     - the ceiling, but each frame with data stays out of the pool as long as
 *              the tracked path kept it (run_hold): the copy-in cost that keeping
 *              unacknowledged segments brings, with no tracking work at all.
 *
 * Both phases run over the very same frames, alternately, several times; the ratio
 * tracked/ceiling is the figure that survives a noisy machine. An untimed pass first
 * checks what the appliance emits: every session's two byte streams must come out
 * whole and in order, with good checksums, and the counters must show no drop.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <jansson.h>
#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_mempool.h>
#include "bench/sessgen.h"
#include "dataplane/dp_counters.h"
#include "dataplane/dp_pkt.h"
#include "dataplane/flow.h"
#include "dataplane/loop.h"
#include "dataplane/handoff.h"
#include "dataplane/worker.h"
#include "dataplane/proto/proto.h"
#include "tests/common/test_eal.h"
#ifdef TG_BENCH_RULES
#include "dataplane/policy-t.h"
#include "slowpath/policy_build.h"
#include "rules/rule_int.h"
#endif

#define BENCH_MAX_REPS   1000
#define BENCH_MAX_WORKERS 4            /* --workers: software flow spreading */
#define BENCH_MAX_RULES  16
#define BENCH_TIMER_NS   DP_LOOP_TIMER_NS     /* as the worker loop: timers every 1 ms */
#define BENCH_STORE_BYTES 8192         /* the copy phase's store a session (a power of 2) */

struct bench_opts {
	struct sg_params sg;
	unsigned reps;                /* timed repetitions of each phase */
	double seconds;               /* or: repeat until the tracked phase ran this long */
	const char *json;             /* write results here too */
	int verify_cksum;             /* dp_config.verify_cksum */
	unsigned mbufs;               /* mbufs in the pool */
	int only;                     /* 0 all, or only 1 tracked, 2 ceiling, 3 hold, 4 find, 5 copy (profiling) */
	int check;                    /* run the untimed checking pass */
	const char *rules[BENCH_MAX_RULES]; /* rule files (--rules): the policy in force */
	unsigned n_rules;
	int proto;                    /* the resource's decoder: DP_PROTO_PG or DP_PROTO_NONE */
	unsigned resources;           /* resources configured: the trace's server is the last */
	int nic_cksum;                /* the emulated NIC verifies checksums (RX offload) */
	unsigned workers;             /* workers spreading flows in software, on this core */
};

/* One timed run of one phase. */
struct phase_run {
	uint64_t cycles;              /* TSC cycles of the whole pass */
	uint64_t tx_pkts;             /* packets the pass queued for TX */
	uint64_t tx_bytes;
};

/* Per-session state of the checking pass: what came out so far, per direction. */
struct check_sess {
	uint32_t isn[2];              /* ISN of each direction, from the emitted SYNs */
	uint8_t  syn[2];              /* SYN of that direction seen */
	uint64_t hw[2];               /* stream bytes emitted in order so far */
	uint64_t hash[2];             /* FNV-1a over them */
};

struct check_res {
	uint64_t out_pkts, bad_cksum, unparsable, foreign, gaps, replays;
	uint64_t sess_ok, sess_bad;
	uint64_t sess_edited;         /* with rules: same lengths, bytes masked */
};

struct bench {
	struct bench_opts o;
	struct sg_trace t;
	struct rte_mempool *pool;
	struct dp_config cfg;
	struct dp_worker *w;          /* ws[0] */
	struct dp_worker *ws[BENCH_MAX_WORKERS]; /* o.workers of them */
	struct dp_handoff *h;         /* their rings (o.workers > 1) */
	struct dp_txbuf *fwd;         /* the ceiling's TX arrays, [2] */
	uint64_t mult;                /* TSC to ns, 32.32 fixed point */
	uint64_t clock_off_ns;        /* added to the clock: skips idle time between runs */
	uint64_t next_timer_ns;
	uint64_t peak_stream_mem;     /* bytes (w->stream_mem), highest seen after a burst */
	uint64_t hs_hits;             /* matches Hyperscan alone reported (last run) */
	uint32_t peak_flows;          /* flows in the table, sampled */
	unsigned peak_mbufs;          /* mbufs out of the pool, sampled */
	struct check_sess *cs;        /* checking pass, per session */
	uint32_t *held;               /* per burst: mbufs out of the pool after it, checking pass */
	struct rte_mbuf **fifo;       /* the hold phase's mbufs, oldest first (fifo_mask + 1) */
	uint32_t fifo_mask;
	int record_held;              /* run_tracked fills held[] (the checking pass) */
	struct flow_table *find_ft;   /* the find phase's flows: every session of the trace */
	uint32_t *sess_of;            /* per frame: its session (the copy phase) */
	uint16_t *pl_off, *pl_len;    /* per frame: its TCP payload's offset and length (0: a
	                               * frame without data, an ACK) */
	uint8_t *store;               /* the copy phase's byte store, BENCH_STORE_BYTES a
	                               * session, written round and round */
	uint32_t *store_off;          /* per session: where its next bytes go */
	uint64_t find_missed;         /* frames the find phase found no flow for (must be 0) */
	struct check_res chk;
	void *policy;                 /* struct dp_policy of --rules, freed at exit */
};

/* ---- clock and I/O emulation ---- */

static inline uint64_t bench_now_ns(const struct bench *b)
{
	return (uint64_t)(((unsigned __int128)rte_rdtsc() * b->mult) >> 32) + b->clock_off_ns;
}

/* What a NIC's RX does: fresh mbufs, frame bytes copied in, lengths set. */
static inline int rx_copy(struct bench *b, const struct sg_burst *bu, struct rte_mbuf **pkts)
{
	const struct sg_frame *f = &b->t.frames[bu->first];
	/* a NIC with RX checksum offload marks every frame (the trace's are all right) */
	const uint64_t ol = b->o.nic_cksum ? RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD : 0;

	if (rte_pktmbuf_alloc_bulk(b->pool, pkts, bu->n) != 0)
		return -1;
	for (uint16_t i = 0; i < bu->n; i++) {
		struct rte_mbuf *m = pkts[i];
		rte_memcpy(rte_pktmbuf_mtod(m, void *), b->t.buf + f[i].off, f[i].len);
		m->data_len = f[i].len;
		m->pkt_len = f[i].len;
		m->port = bu->port;
		m->ol_flags = ol;
	}
	return 0;
}

/* What the loop's TX flush and the NIC's completion do: read lengths, free. */
static inline void tx_done(struct dp_txbuf *tx, struct phase_run *r)
{
	uint16_t n = tx->n;

	if (n == 0)
		return;
	for (uint16_t i = 0; i < n; i++)
		r->tx_bytes += rte_pktmbuf_pkt_len(tx->pkts[i]);
	r->tx_pkts += n;
	rte_pktmbuf_free_bulk(tx->pkts, n);
	tx->n = 0;
}

/* ---- the checking pass ---- */

static void check_frame(struct bench *b, uint16_t port, struct rte_mbuf *m)
{
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	struct check_res *c = &b->chk;
	struct dp_pkt p;
	int64_t s;
	int dir = port == 0 ? 1 : 0;  /* to the client: the server's stream */

	c->out_pkts++;
	if (dp_pkt_parse(d, rte_pktmbuf_data_len(m), &p) != DP_PKT_TCP) {
		c->unparsable++;
		return;
	}
	if (!dp_pkt_ip_cksum_ok(d, &p) || !dp_pkt_tcp_cksum_ok(d, &p))
		c->bad_cksum++;
	if (dir == 1)
		s = sg_session_of(ntohl(p.dst[0]), p.dport, b->t.st.sessions);
	else
		s = sg_session_of(ntohl(p.src[0]), p.sport, b->t.st.sessions);
	if (s < 0) {
		c->foreign++;
		return;
	}
	struct check_sess *cs = &b->cs[s];
	if (p.tcp_flags & DP_TCP_SYN) {
		cs->isn[dir] = p.seq;
		cs->syn[dir] = 1;
		return;
	}
	if (p.payload_len == 0)
		return;
	if (!cs->syn[dir]) {
		c->gaps++;
		return;
	}
	uint64_t rel = (uint32_t)(p.seq - cs->isn[dir] - 1);
	if (rel == cs->hw[dir]) {
		cs->hash[dir] = sg_fnv(cs->hash[dir], d + p.payload_off, p.payload_len);
		cs->hw[dir] += p.payload_len;
	} else if (rel + p.payload_len <= cs->hw[dir]) {
		c->replays++;      /* a retransmission answered from the rtx queue */
	} else {
		c->gaps++;
	}
}

static void check_finish(struct bench *b)
{
	for (uint64_t s = 0; s < b->t.st.sessions; s++) {
		const struct check_sess *cs = &b->cs[s];
		int len_ok = 1, same = 1;
		for (int dir = 0; dir < 2; dir++) {
			len_ok &= cs->hw[dir] == b->t.sums[2 * s + dir].len;
			same &= cs->hash[dir] == b->t.sums[2 * s + dir].hash;
		}
		/* masking is length-preserving: with rules, edited bytes are expected */
		if (len_ok && same)
			b->chk.sess_ok++;
		else if (len_ok && b->o.n_rules)
			b->chk.sess_edited++;
		else
			b->chk.sess_bad++;
	}
}

/* ---- phases ---- */

static void sample_peaks(struct bench *b)
{
	uint32_t fl = 0;

	for (unsigned k = 0; k < b->o.workers; k++)
		fl += flow_count(b->ws[k]->ft);
	unsigned mb = rte_mempool_in_use_count(b->pool);

	if (fl > b->peak_flows)
		b->peak_flows = fl;
	if (mb > b->peak_mbufs)
		b->peak_mbufs = mb;
}

/* What worker <w> queued for TX after a burst: inspected (with <check>), then sent
 * and freed (tx_done). */
static inline void burst_out(struct bench *b, struct dp_worker *w, struct phase_run *r, int check)
{
	if (check)
		for (uint16_t p = 0; p < 2; p++)
			for (uint16_t k = 0; k < w->tx[p].n; k++)
				check_frame(b, p, w->tx[p].pkts[k]);
	tx_done(&w->tx[0], r);
	tx_done(&w->tx[1], r);
}

/* --workers N: the trace through N workers on this core, spreading the flows in
 * software (dataplane/handoff.h). Burst i reaches worker i % N, as a kernel spreading
 * frames over N queues might, flow or not (the harder case: about (N-1)/N of the
 * segments go to another worker); every ring is drained after each burst, so a flow's
 * frames keep their order. It measures what the spreading costs a core (the owner's
 * hash, the ring, the single-frame path of handed-over segments), not the scaling over
 * cores. Never inlined (see run_tracked). */
static __attribute__((noinline)) int run_tracked_soft(struct bench *b, struct phase_run *r,
						      int check)
{
	struct rte_mbuf *pkts[DP_BURST];
	unsigned nw = b->o.workers;
	uint64_t t0;

	memset(r, 0, sizeof(*r));
	b->next_timer_ns = bench_now_ns(b) + BENCH_TIMER_NS;
	t0 = rte_rdtsc();
	for (uint32_t i = 0; i < b->t.n_bursts; i++) {
		const struct sg_burst *bu = &b->t.bursts[i];
		uint64_t now, mem = 0;
		unsigned moved;

		if (rx_copy(b, bu, pkts) < 0)
			return -1;
		now = bench_now_ns(b);
		for (unsigned k = 0; k < nw; k++)
			b->ws[k]->now_ns = now;
		dp_worker_process_burst(b->ws[i % nw], bu->port, pkts, bu->n);
		do {
			moved = 0;
			for (unsigned k = 0; k < nw; k++)
				moved += dp_worker_handoff_poll(b->ws[k]);
		} while (moved);
		if (now >= b->next_timer_ns) {
			for (unsigned k = 0; k < nw; k++)
				dp_worker_timers(b->ws[k]);
			b->next_timer_ns = now + BENCH_TIMER_NS;
		}
		for (unsigned k = 0; k < nw; k++) {
			struct dp_worker *w = b->ws[k];

			burst_out(b, w, r, check);
			mem += w->stream_mem;
		}
		if (mem > b->peak_stream_mem)
			b->peak_stream_mem = mem;
		if ((i & 63) == 63)
			sample_peaks(b);
	}
	r->cycles = rte_rdtsc() - t0;
	return 0;
}

/* The tracked path over the whole trace. With <check>, every emitted frame is
 * inspected (untimed pass). Returns 0, or -1 when the pool ran dry. Never inlined, so
 * that profilers can name it (callgrind --toggle-collect='run_tracked*'). */
static __attribute__((noinline)) int run_tracked(struct bench *b, struct phase_run *r, int check)
{
	struct dp_worker *w = b->w;
	struct rte_mbuf *pkts[DP_BURST];
	uint64_t t0;

	if (b->o.workers > 1)
		return run_tracked_soft(b, r, check);
	memset(r, 0, sizeof(*r));
	b->next_timer_ns = bench_now_ns(b) + BENCH_TIMER_NS;
	t0 = rte_rdtsc();
	for (uint32_t i = 0; i < b->t.n_bursts; i++) {
		const struct sg_burst *bu = &b->t.bursts[i];
		if (rx_copy(b, bu, pkts) < 0)
			return -1;
		w->now_ns = bench_now_ns(b);
		dp_worker_process_burst(w, bu->port, pkts, bu->n);
		if (w->now_ns >= b->next_timer_ns) {
			dp_worker_timers(w);
			b->next_timer_ns = w->now_ns + BENCH_TIMER_NS;
		}
		burst_out(b, w, r, check);
		if (b->record_held)
			b->held[i] = rte_mempool_in_use_count(b->pool);
		if (w->stream_mem > b->peak_stream_mem)
			b->peak_stream_mem = w->stream_mem;
		if ((i & 63) == 63)
			sample_peaks(b);
	}
	r->cycles = rte_rdtsc() - t0;
	return 0;
}

/* The ceiling: copy-in, queue to the peer port, free. Never inlined (see run_tracked). */
static __attribute__((noinline)) int run_ceiling(struct bench *b, struct phase_run *r)
{
	struct rte_mbuf *pkts[DP_BURST];
	uint64_t t0;

	memset(r, 0, sizeof(*r));
	t0 = rte_rdtsc();
	for (uint32_t i = 0; i < b->t.n_bursts; i++) {
		const struct sg_burst *bu = &b->t.bursts[i];
		struct dp_txbuf *tx = &b->fwd[!bu->port];
		if (rx_copy(b, bu, pkts) < 0)
			return -1;
		for (uint16_t k = 0; k < bu->n; k++)
			tx->pkts[tx->n++] = pkts[k];
		tx_done(tx, r);
	}
	r->cycles = rte_rdtsc() - t0;
	return 0;
}

/* The hold floors: the ceiling's loop, except that a frame carrying data is not freed
 * after its TX but kept, oldest first, as long as the tracked path kept mbufs out of
 * the pool in the checking pass: after burst i the oldest are freed until no more are
 * out than were then (held[i]). A frame without data (an ACK) is freed at once, as the
 * tracked path frees a forwarded ACK. This is what the copy-in alone costs a path that
 * keeps every unacknowledged segment until the peer's ACK (DESIGN §2.1: a
 * retransmission is rewritten to the original bytes, an injected one is kept until
 * acked): the mbufs it reuses went cold while held, where the ceiling recycles a few
 * hot ones.
 *   hold - nothing else;
 *   find - and what any tracker does first: every frame parsed, its flow key built,
 *          the burst's flows looked up together in a flow table holding the trace's
 *          sessions (find_ft, filled at set-up) and each found flow touched.
 * tracked/ceiling can be no higher than either floor's ratio to the ceiling on this
 * machine. The mbufs still kept at the end are freed after the clock stops (the
 * tracked phase's flows drain untimed too). Always inlined, so that <find> is a
 * constant. */
static inline __attribute__((always_inline)) int hold_loop(struct bench *b, struct phase_run *r,
							   int find)
{
	struct rte_mbuf *pkts[DP_BURST];
	uint32_t head = 0, tail = 0;
	uint64_t t0;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	t0 = rte_rdtsc();
	for (uint32_t i = 0; i < b->t.n_bursts; i++) {
		const struct sg_burst *bu = &b->t.bursts[i];
		const uint16_t *data = &b->pl_len[bu->first];
		if (rx_copy(b, bu, pkts) < 0) {
			rc = -1;
			break;
		}
		if (find) {
			struct dp_pkt p[DP_BURST];
			struct flow_key k[DP_BURST];
			const struct flow_key *kp[DP_BURST];
			struct flow *f[DP_BURST];
			uint64_t now = bench_now_ns(b);
			unsigned nk = 0;
			uint8_t side;

			for (uint16_t j = 0; j < bu->n; j++)
				if (dp_pkt_parse(rte_pktmbuf_mtod(pkts[j], const uint8_t *),
						 rte_pktmbuf_data_len(pkts[j]), &p[j]) == DP_PKT_TCP) {
					flow_key_from_pkt(&p[j], &k[nk], &side);
					kp[nk] = &k[nk];
					nk++;
				}
			flow_lookup_bulk(b->find_ft, kp, nk, f);
			for (unsigned j = 0; j < nk; j++)
				if (f[j])
					flow_touch(b->find_ft, f[j], now);
				else
					b->find_missed++;
		}
		for (uint16_t k = 0; k < bu->n; k++) {
			r->tx_bytes += rte_pktmbuf_pkt_len(pkts[k]);
			if (data[k])
				b->fifo[tail++ & b->fifo_mask] = pkts[k];
			else
				rte_pktmbuf_free(pkts[k]);
		}
		r->tx_pkts += bu->n;
		while (tail - head > b->held[i])
			rte_pktmbuf_free(b->fifo[head++ & b->fifo_mask]);
	}
	r->cycles = rte_rdtsc() - t0;
	while (head != tail)
		rte_pktmbuf_free(b->fifo[head++ & b->fifo_mask]);
	return rc;
}

/* The copy floor: the other way to keep unacknowledged bytes. The ceiling's loop (each
 * mbuf freed at once, so the pool stays hot), but the payload of every frame with data
 * is first copied into its session's own store (BENCH_STORE_BYTES, written round and
 * round: a byte stays there until that many more of its session's came). What a tracker
 * pays that keeps the bytes it may have to retransmit or compare in a buffer of its own
 * instead of in the received mbufs. No parsing or lookup (the session of each frame is
 * known from set-up). */
static __attribute__((noinline)) int run_copy(struct bench *b, struct phase_run *r)
{
	struct rte_mbuf *pkts[DP_BURST];
	uint64_t t0;

	memset(r, 0, sizeof(*r));
	t0 = rte_rdtsc();
	for (uint32_t i = 0; i < b->t.n_bursts; i++) {
		const struct sg_burst *bu = &b->t.bursts[i];
		if (rx_copy(b, bu, pkts) < 0)
			return -1;
		for (uint16_t k = 0; k < bu->n; k++) {
			struct rte_mbuf *m = pkts[k];
			uint32_t f = bu->first + k;

			r->tx_bytes += rte_pktmbuf_pkt_len(m);
			if (b->pl_len[f]) {
				/* the payload: the frame less its headers (54 to 86 bytes here), taken
				 * from the trace's parse at set-up */
				uint32_t s = b->sess_of[f], len = b->pl_len[f], o = b->store_off[s];
				uint8_t *st = b->store + (size_t)s * BENCH_STORE_BYTES;
				const uint8_t *src = rte_pktmbuf_mtod_offset(m, const uint8_t *, b->pl_off[f]);
				uint32_t at = o & (BENCH_STORE_BYTES - 1), first = BENCH_STORE_BYTES - at;

				if (first > len)
					first = len;
				rte_memcpy(st + at, src, first);
				rte_memcpy(st, src + first, len - first);
				b->store_off[s] = o + len;
			}
			rte_pktmbuf_free(m);
		}
		r->tx_pkts += bu->n;
	}
	r->cycles = rte_rdtsc() - t0;
	return 0;
}

/* Never inlined (see run_tracked). */
static __attribute__((noinline)) int run_hold(struct bench *b, struct phase_run *r)
{
	return hold_loop(b, r, 0);
}

static __attribute__((noinline)) int run_find(struct bench *b, struct phase_run *r)
{
	return hold_loop(b, r, 1);
}

/* The loop of the two rule ceilings below: the same copy-in as the other phases, then
 * <fn> on each TCP payload (<d> the frame, <p> its parse), then free. Always inlined,
 * so that <fn>, a constant at each call, is inlined too. */
typedef void (*payload_fn)(struct bench *b, const struct dp_pkt *p, uint8_t *d, void *ctx);

static inline __attribute__((always_inline)) int each_payload(struct bench *b,
							      struct phase_run *r,
							      payload_fn fn, void *ctx)
{
	struct rte_mbuf *pkts[DP_BURST];
	uint64_t t0;

	memset(r, 0, sizeof(*r));
	t0 = rte_rdtsc();
	for (uint32_t i = 0; i < b->t.n_bursts; i++) {
		const struct sg_burst *bu = &b->t.bursts[i];
		if (rx_copy(b, bu, pkts) < 0)
			return -1;
		for (uint16_t k = 0; k < bu->n; k++) {
			uint8_t *d = rte_pktmbuf_mtod(pkts[k], uint8_t *);
			struct dp_pkt p;
			if (dp_pkt_parse(d, rte_pktmbuf_data_len(pkts[k]), &p) == DP_PKT_TCP &&
			    p.payload_len)
				fn(b, &p, d, ctx);
			rte_pktmbuf_free(pkts[k]);
		}
	}
	r->cycles = rte_rdtsc() - t0;
	return 0;
}

/* Rules alone (with --rules): the rule engine's result scan (rule_mask_fields through
 * the policy, the frame's payload as one field) over every payload byte: what
 * Hyperscan and the validators cost over the very same bytes, without TCP, decoding
 * or editing. The tracked phase scans only result fields, so this ceiling scans more
 * bytes than the tracked path does. */
static inline void rules_payload(struct bench *b, const struct dp_pkt *p, uint8_t *d, void *ctx)
{
	struct dp_policy *pol = b->policy;
	struct rule_field fld = { .off = 0, .len = p->payload_len, .col_rule = -1 };

	(void)ctx;
	pol->ops.mask_fields(pol->ops.rules, pol->scratch[0], DP_PROTO_PG, 0,
			     d + p->payload_off, p->payload_len, &fld, 1, NULL);
}

/* Never inlined (see run_tracked), nor run_hs. */
static __attribute__((noinline)) int run_rules(struct bench *b, struct phase_run *r)
{
	return each_payload(b, r, rules_payload, NULL);
}

#ifdef TG_BENCH_RULES
static int hs_nop(unsigned int id, unsigned long long from, unsigned long long to,
		  unsigned int flags, void *ctx)
{
	(void)id; (void)from; (void)to; (void)flags;
	(*(uint64_t *)ctx)++;
	return 0;
}

/* Hyperscan alone (with --rules): every payload scanned by the rule set's databases for
 * its direction, with a callback that only counts: a server payload by the field
 * database (every field rule, no start of match: the engine's prefilter), a client
 * payload by the statement, fingerprint and raw databases in force. No lexing, no
 * field splitting, no validators, no masking: the bare cost of the patterns over the
 * very same bytes (DESIGN §10's "Hyperscan alone"). */
static inline void hs_payload(struct bench *b, const struct dp_pkt *p, uint8_t *d, void *ctx)
{
	const struct dp_policy *pol = b->policy;
	const struct rule_set *rs = pol->ops.rules;
	hs_scratch_t *hs = ((struct rule_scratch *)pol->scratch[0])->hs;
	const char *pl = (const char *)d + p->payload_off;

	if (p->sport == SG_SERVER_PORT) {
		if (rs->db[DP_PROTO_PG][RULE_DB_FIELD])
			hs_scan(rs->db[DP_PROTO_PG][RULE_DB_FIELD], pl, p->payload_len, 0, hs,
				hs_nop, ctx);
		return;
	}
	for (int j = RULE_DB_STATEMENT; j <= RULE_DB_RAW; j++)
		if (rs->db[DP_PROTO_PG][j])
			hs_scan(rs->db[DP_PROTO_PG][j], pl, p->payload_len, 0, hs, hs_nop, ctx);
}
#endif

static __attribute__((noinline)) int run_hs(struct bench *b, struct phase_run *r)
{
#ifdef TG_BENCH_RULES
	uint64_t hits = 0;
	int rc = each_payload(b, r, hs_payload, &hits);

	b->hs_hits = hits;
	return rc;
#else
	(void)b; (void)r;
	return -1;
#endif
}

/* Lets every flow of the last pass expire (the clock jumps past both timeouts), so that
 * the next pass starts from an empty table. Returns the mbufs still out of the pool
 * afterwards (0 unless something leaked). */
static unsigned drain_flows(struct bench *b)
{
	struct phase_run junk = { 0 };

	b->clock_off_ns += ((uint64_t)b->cfg.idle_timeout_s + b->cfg.closed_timeout_s + 1) * 1000000000ull;
	for (unsigned k = 0; k < b->o.workers; k++) {
		struct dp_worker *w = b->ws[k];

		for (unsigned i = 0; i < 100000 && flow_count(w->ft) > 0; i++) {
			w->now_ns = bench_now_ns(b);
			dp_worker_timers(w);
			burst_out(b, w, &junk, 0);
		}
	}
	return rte_mempool_in_use_count(b->pool);
}

/* The workers' counters, summed into <out>. */
static void bench_counters(const struct bench *b, struct dp_counters *out)
{
	*out = b->ws[0]->cnt;
	for (unsigned k = 1; k < b->o.workers; k++)
		for (int i = 0; i < DP_CNT__MAX; i++)
			out->v[i] += b->ws[k]->cnt.v[i];
}

/* ---- statistics ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct summary {
	double med, min, max;
};

static struct summary summarize(const double *v, unsigned n)
{
	double s[BENCH_MAX_REPS];
	struct summary r = { 0, 0, 0 };

	if (n == 0)
		return r;
	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	r.min = s[0];
	r.max = s[n - 1];
	r.med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	return r;
}

static json_t *summary_json(struct summary s)
{
	return json_pack("{s:f, s:f, s:f}", "median", s.med, "min", s.min, "max", s.max);
}

/* ---- counters ---- */

/* Prints the verdict of each expectation; returns the number that failed. */
static unsigned check_counters(const struct bench *b, const struct dp_counters *c, json_t *jc)
{
	static const enum dp_counter_id zero[] = {
		DP_CNT_tx_drop_full, DP_CNT_drop_malformed, DP_CNT_drop_multiseg,
		DP_CNT_drop_bad_cksum, DP_CNT_drop_bad_flags, DP_CNT_drop_out_of_window,
		DP_CNT_drop_no_flow, DP_CNT_frag_dropped, DP_CNT_flow_table_full,
		DP_CNT_flow_overload_rst, DP_CNT_flow_overload_bypass, DP_CNT_flow_midstream_bypass,
		DP_CNT_tcp_ooo_drop_limit, DP_CNT_tcp_overlap_rewritten, DP_CNT_tcp_rst_policy,
		DP_CNT_tcp_memcap_reset, DP_CNT_hold_overflow, DP_CNT_mbuf_alloc_fail,
		DP_CNT_proto_error,
	};
	const struct sg_stats *st = &b->t.st;
	const struct { enum dp_counter_id id; uint64_t want; const char *why; } eq[] = {
		{ DP_CNT_rx_pkts, st->frames, "frames in the trace" },
		{ DP_CNT_flow_created, st->sessions, "sessions" },
		{ DP_CNT_tcp_dup_dropped, st->rtx, "segments sent twice" },
		{ DP_CNT_tcp_ooo_queued, st->swaps, "segments swapped" },
		{ DP_CNT_flow_expired_closed, st->sessions, "sessions, all closed by FIN" },
		{ DP_CNT_flow_expired_idle, 0, "none left open" },
	};
	unsigned bad = 0;

	for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++) {
		uint64_t v = c->v[zero[i]];
		if (v) {
			printf("  UNEXPECTED %-24s %llu (must be 0)\n", dp_counter_name(zero[i]),
			       (unsigned long long)v);
			bad++;
		}
	}
	for (size_t i = 0; i < sizeof(eq) / sizeof(eq[0]); i++) {
		uint64_t v = c->v[eq[i].id];
		printf("  %-10s %-24s %llu (%s: %llu)\n", v == eq[i].want ? "ok" : "UNEXPECTED",
		       dp_counter_name(eq[i].id), (unsigned long long)v, eq[i].why,
		       (unsigned long long)eq[i].want);
		bad += v != eq[i].want;
	}
	for (int i = 0; i < DP_CNT__MAX; i++)
		if (c->v[i])
			json_object_set_new(jc, dp_counter_name((enum dp_counter_id)i),
					    json_integer((json_int_t)c->v[i]));
	return bad;
}

/* What the workers' counters moved since <before> (bench_counters), into <d>. */
static void counters_since(const struct bench *b, struct dp_counters *d,
			   const struct dp_counters *before)
{
	struct dp_counters now;

	bench_counters(b, &now);
	for (int i = 0; i < DP_CNT__MAX; i++)
		d->v[i] = now.v[i] - before->v[i];
}

/* ---- set-up ---- */

static void usage(const char *prog)
{
	printf("usage: %s [options]\n"
	       "  --flows N         sessions in the trace (4096)\n"
	       "  --active N        sessions open at once, served round-robin (1024)\n"
	       "  --queries N       queries per session (20)\n"
	       "  --rows N          mean DataRows per result, 1..2N-1 (20)\n"
	       "  --reorder PCT     server segments swapped with the next, percent (1)\n"
	       "  --rtx PCT         server segments sent twice, percent (0.5)\n"
	       "  --reps N          timed runs of each phase (5)\n"
	       "  --seconds S       instead: repeat until the tracked phase ran S seconds in all\n"
	       "  --json FILE       write the results as JSON too\n"
	       "  --verify-cksum 0|1  the data plane verifies checksums (1, as tollgate.conf)\n"
	       "  --nic-cksum 0|1   the emulated NIC verifies them (RX offload: flags GOOD) (1);\n"
	       "                    0: as af_packet, every checksum is summed in software\n"
	       "  --mbufs N         mbufs in the pool (65535)\n"
	       "  --seed N          trace PRNG seed (1)\n"
	       "  --only tracked|ceiling|hold|find|copy  time one phase only (for perf record)\n"
	       "  --rules FILE      a rule file in force (repeatable; e.g. rules/packs/pii.conf)\n"
	       "  --proto pg|none   the resource's decoder (pg); none: tracking and reassembly only\n"
	       "  --mix customers|standard  the queries: customer lists, PII in nearly every row\n"
	       "                    (customers); or an OLTP mix with 15 %% of them (standard)\n"
	       "  --workers N       N workers (1..4) on this core, spreading flows in software\n"
	       "                    (what the spreading costs; burst i reaches worker i %% N)\n"
	       "  --resources N     resources configured (1): N-1 other databases listed before\n"
	       "                    the trace's server, as in front of a fleet\n"
	       "  --no-check        skip the untimed checking pass\n", prog);
}

static int parse_opts(int argc, char **argv, struct bench_opts *o)
{
	static const struct option lo[] = {
		{ "flows", 1, 0, 'f' }, { "active", 1, 0, 'a' }, { "queries", 1, 0, 'q' },
		{ "rows", 1, 0, 'r' }, { "reorder", 1, 0, 'o' }, { "rtx", 1, 0, 't' },
		{ "reps", 1, 0, 'n' }, { "seconds", 1, 0, 's' }, { "json", 1, 0, 'j' },
		{ "verify-cksum", 1, 0, 'v' }, { "mbufs", 1, 0, 'm' }, { "seed", 1, 0, 'S' },
		{ "only", 1, 0, 'O' }, { "no-check", 0, 0, 'N' }, { "help", 0, 0, 'h' },
		{ "rules", 1, 0, 'R' }, { "proto", 1, 0, 'P' },
		{ "nic-cksum", 1, 0, 'C' }, { "mix", 1, 0, 'M' }, { "resources", 1, 0, 'X' },
		{ "workers", 1, 0, 'W' },
		{ 0, 0, 0, 0 },
	};
	int c;

	sg_params_default(&o->sg);
	o->reps = 5;
	o->verify_cksum = 1;
	o->mbufs = 65535;
	o->check = 1;
	o->proto = DP_PROTO_PG;
	o->resources = 1;
	o->nic_cksum = 1;
	o->workers = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'f': o->sg.flows = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'a': o->sg.active = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'q': o->sg.queries = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'r': o->sg.rows = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'o': o->sg.reorder_pct = strtod(optarg, NULL); break;
		case 't': o->sg.rtx_pct = strtod(optarg, NULL); break;
		case 'n': o->reps = (unsigned)strtoul(optarg, NULL, 0); break;
		case 's': o->seconds = strtod(optarg, NULL); break;
		case 'j': o->json = optarg; break;
		case 'v': o->verify_cksum = atoi(optarg) != 0; break;
		case 'C': o->nic_cksum = atoi(optarg) != 0; break;
		case 'W':
			o->workers = (unsigned)strtoul(optarg, NULL, 0);
			if (o->workers < 1 || o->workers > BENCH_MAX_WORKERS) {
				fprintf(stderr, "--workers: 1 to %d\n", BENCH_MAX_WORKERS);
				return -1;
			}
			break;
		case 'X':
			o->resources = (unsigned)strtoul(optarg, NULL, 0);
			if (o->resources < 1 || o->resources > DP_MAX_RESOURCES) {
				fprintf(stderr, "--resources: 1 to %d\n", DP_MAX_RESOURCES);
				return -1;
			}
			break;
		case 'M':
			if (strcmp(optarg, "customers") == 0)
				o->sg.mix = SG_MIX_CUSTOMERS;
			else if (strcmp(optarg, "standard") == 0)
				o->sg.mix = SG_MIX_STANDARD;
			else
				return -1;
			break;
		case 'm': o->mbufs = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'S': o->sg.seed = strtoull(optarg, NULL, 0); break;
		case 'O':
			if (strcmp(optarg, "tracked") == 0)
				o->only = 1;
			else if (strcmp(optarg, "ceiling") == 0)
				o->only = 2;
			else if (strcmp(optarg, "hold") == 0)
				o->only = 3;
			else if (strcmp(optarg, "find") == 0)
				o->only = 4;
			else if (strcmp(optarg, "copy") == 0)
				o->only = 5;
			else
				return -1;
			break;
		case 'N': o->check = 0; break;
		case 'P':
			if (strcmp(optarg, "pg") == 0)
				o->proto = DP_PROTO_PG;
			else if (strcmp(optarg, "none") == 0)
				o->proto = DP_PROTO_NONE;
			else
				return -1;
			break;
		case 'R':
			if (o->n_rules == BENCH_MAX_RULES)
				return -1;
			o->rules[o->n_rules++] = optarg;
			break;
		case 'h': usage(argv[0]); exit(0);
		default: return -1;
		}
	}
	if (o->reps == 0 || o->reps > BENCH_MAX_REPS || o->mbufs < 4096 || o->seconds < 0)
		return -1;
	return 0;
}

/* Settings as appliance/tollgate.conf's defaults, and the one protected resource. */
static void bench_config(struct dp_config *c, const struct bench_opts *o)
{
	memset(c, 0, sizeof(*c));
	c->flow_capacity = o->sg.flows * 2 > 65536 ? o->sg.flows * 2 : 65536;
	c->idle_timeout_s = 300;
	c->closed_timeout_s = 10;
	c->max_hold_bytes = 256u << 10;
	c->ooo_max_segs = 64;
	c->stream_memcap = 256ull << 20;
	c->rto_ms = 200;
	c->overload = DP_OVERLOAD_FAIL_CLOSED;
	c->frag = DP_FRAG_DROP;
	c->hold = DP_HOLD_STREAM;
	c->overlap = DP_OVERLAP_REWRITE;
	c->midstream = DP_MIDSTREAM_BYPASS;
	c->verify_cksum = (uint8_t)o->verify_cksum;
	/* other databases of a fleet first (198.19.x.y:5432, the same decoder), the trace's
	 * server last: the worst place for a lookup that scans */
	c->n_resources = (uint16_t)o->resources;
	for (unsigned i = 0; i < o->resources; i++) {
		struct dp_resource *r = &c->resources[i];
		int last = i + 1 == o->resources;

		snprintf(r->name, sizeof(r->name), last ? "pg" : "pg-%u", i);
		r->ip_ver = 4;
		r->addr[0] = last ? htonl(SG_SERVER_IP) : htonl(0xc6130000u | (i + 1));
		r->port = SG_SERVER_PORT;
		r->proto = (uint8_t)o->proto;
	}
}

static void cpu_model(char *out, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];

	snprintf(out, len, "unknown");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (strncmp(line, "model name", 10) == 0 && colon) {
			snprintf(out, len, "%s", colon + 2);
			out[strcspn(out, "\n")] = 0;
			break;
		}
	}
	fclose(f);
}

/* ---- reports ---- */

static void report_trace(const struct bench *b)
{
	const struct sg_stats *st = &b->t.st;

	printf("trace: %llu sessions, %llu frames (%llu from clients, %llu from the server) in %llu bursts "
	       "(%.1f frames a burst)\n",
	       (unsigned long long)st->sessions, (unsigned long long)st->frames,
	       (unsigned long long)st->frames_port[0], (unsigned long long)st->frames_port[1],
	       (unsigned long long)st->bursts, (double)st->frames / (double)st->bursts);
	printf("       %.1f MB on the wire (%.0f B a frame); streams: %.1f MB client to server, "
	       "%.1f MB server to client\n",
	       st->wire_bytes / 1e6, (double)st->wire_bytes / (double)st->frames,
	       st->payload_bytes[0] / 1e6, st->payload_bytes[1] / 1e6);
	printf("       %llu queries, %llu rows (%.0f B of result a query), %llu server data segments, "
	       "%llu swapped, %llu sent twice, %llu client ACKs\n",
	       (unsigned long long)st->queries, (unsigned long long)st->rows,
	       st->queries ? (double)st->payload_bytes[1] / (double)st->queries : 0.0,
	       (unsigned long long)st->data_segs_s2c, (unsigned long long)st->swaps,
	       (unsigned long long)st->rtx, (unsigned long long)st->client_acks);
	fflush(stdout);
}

/* Figures of one phase over <n> runs; adds them to <jp> and prints one table line. */
static void report_phase(const struct bench *b, const char *name, const struct phase_run *r,
			 unsigned n, double *mpps_out, json_t *jp)
{
	const struct sg_stats *st = &b->t.st;
	double hz = (double)rte_get_tsc_hz();
	double mpps[BENCH_MAX_REPS], gbps[BENCH_MAX_REPS], nspp[BENCH_MAX_REPS], fps[BENCH_MAX_REPS];
	json_t *runs = json_array();

	for (unsigned i = 0; i < n; i++) {
		double sec = (double)r[i].cycles / hz;
		mpps[i] = (double)st->frames / sec / 1e6;
		gbps[i] = (double)st->wire_bytes * 8 / sec / 1e9;
		nspp[i] = sec * 1e9 / (double)st->frames;
		fps[i] = (double)st->sessions / sec;
		mpps_out[i] = mpps[i];
		json_array_append_new(runs, json_pack("{s:f, s:f, s:f, s:I, s:I}", "seconds", sec,
			"mpps", mpps[i], "gbps", gbps[i], "tx_pkts", (json_int_t)r[i].tx_pkts,
			"tx_bytes", (json_int_t)r[i].tx_bytes));
	}
	struct summary sm = summarize(mpps, n), sg = summarize(gbps, n), sn = summarize(nspp, n),
		       sf = summarize(fps, n);
	printf("  %-8s %7.3f [%6.3f .. %6.3f]  %6.2f [%5.2f .. %5.2f]  %7.1f [%6.1f .. %6.1f]  %9.0f\n",
	       name, sm.med, sm.min, sm.max, sg.med, sg.min, sg.max, sn.med, sn.min, sn.max, sf.med);
	json_object_set_new(jp, "mpps", summary_json(sm));
	json_object_set_new(jp, "gbps", summary_json(sg));
	json_object_set_new(jp, "ns_per_pkt", summary_json(sn));
	json_object_set_new(jp, "new_flows_per_s", summary_json(sf));
	json_object_set_new(jp, "tx_pkts_per_run", json_integer(n ? (json_int_t)r[0].tx_pkts : 0));
	json_object_set_new(jp, "runs", runs);
}

/* Reports ceiling phase <r> (<name>, JSON phases.<key>) and the ratio of the tracked
 * runs <tm> to it, run by run (JSON ratio_tracked_to_<key>). Returns its JSON phase. */
static json_t *report_ceiling(const struct bench *b, const char *name, const char *key,
			      const struct phase_run *r, unsigned n, const double *tm,
			      json_t *phases, json_t *root)
{
	double m[BENCH_MAX_REPS], q[BENCH_MAX_REPS];
	json_t *jp = json_object(), *jr;
	char rkey[64];

	report_phase(b, name, r, n, m, jp);
	json_object_set_new(phases, key, jp);
	for (unsigned i = 0; i < n; i++)
		q[i] = tm[i] / m[i];
	struct summary s = summarize(q, n);
	snprintf(rkey, sizeof(rkey), "%s", key);
	for (char *c = rkey; *c; c++)
		*c = *c == '_' ? '-' : *c;    /* rules_alone -> rules-alone */
	printf("  ratio tracked/%s: %.3f [%.3f .. %.3f] (run by run); target >= 0.5\n",
	       rkey, s.med, s.min, s.max);
	jr = summary_json(s);
	json_object_set_new(jr, "target", json_real(0.5));
	snprintf(rkey, sizeof(rkey), "ratio_tracked_to_%s", key);
	json_object_set_new(root, rkey, jr);
	return jp;
}

/* Reports floor phase <r> (<name>: hold or find, run_hold) and, when every phase ran,
 * its ratio to the ceiling runs <cm> (the most tracked/ceiling can be here) and the
 * tracked runs' <tm> ratio to it. */
static void report_floor(const struct bench *b, const char *name, const struct phase_run *r,
			 unsigned n, const double *cm, const double *tm, json_t *phases,
			 json_t *root)
{
	double m[BENCH_MAX_REPS], q[BENCH_MAX_REPS];
	char key[64];
	json_t *jp;

	if (b->o.only != 0 && strcmp(name, b->o.only == 3 ? "hold" : b->o.only == 4 ? "find" :
					   b->o.only == 5 ? "copy" : "-"))
		return;
	jp = json_object();
	report_phase(b, name, r, n, m, jp);
	json_object_set_new(phases, name, jp);
	if (b->o.only != 0)
		return;
	for (unsigned i = 0; i < n; i++)
		q[i] = m[i] / cm[i];
	struct summary sc = summarize(q, n);
	for (unsigned i = 0; i < n; i++)
		q[i] = tm[i] / m[i];
	struct summary st = summarize(q, n);
	printf("  ratio %s/ceiling: %.3f [%.3f .. %.3f], tracked/%s: %.3f [%.3f .. %.3f] (run by run)\n",
	       name, sc.med, sc.min, sc.max, name, st.med, st.min, st.max);
	snprintf(key, sizeof(key), "ratio_%s_to_ceiling", name);
	json_object_set_new(root, key, summary_json(sc));
	snprintf(key, sizeof(key), "ratio_tracked_to_%s", name);
	json_object_set_new(root, key, summary_json(st));
}

/* Prints and writes everything; returns the number of failed checks. */
static int report_results(struct bench *b, const struct phase_run *tr, const struct phase_run *ce,
			  const struct phase_run *ru, const struct phase_run *hsr,
			  const struct phase_run *ho, const struct phase_run *fi,
			  const struct phase_run *co, unsigned n, const struct dp_counters *chk_cnt, const struct dp_counters *last_cnt,
			  unsigned leaked)
{
	const struct bench_opts *o = &b->o;
	const struct check_res *c = &b->chk;
	double tm[BENCH_MAX_REPS], cm[BENCH_MAX_REPS], ratio[BENCH_MAX_REPS];
	json_t *root = json_object(), *phases = json_object(), *jc = json_object(), *jl = json_object();
	char cpu[128];
	int fails = 0;

	cpu_model(cpu, sizeof(cpu));
	printf("\n%u runs of each phase; median [min .. max]\n", n);
	printf("  %-8s %-25s %-21s %-23s %s\n", "phase", "Mpps", "Gbit/s (frames)", "ns/packet",
	       "new flows/s");
	if (o->only == 0 || o->only == 2) {
		json_t *jp = json_object();
		report_phase(b, "ceiling", ce, n, cm, jp);
		json_object_set_new(phases, "ceiling", jp);
	}
	if (o->only == 0 || o->only == 1) {
		json_t *jp = json_object();
		report_phase(b, "tracked", tr, n, tm, jp);
		json_object_set_new(phases, "tracked", jp);
	}
	if (o->only == 0 && b->policy && ((struct dp_policy *)b->policy)->ops.mask_fields) {
		report_ceiling(b, "rules", "rules_alone", ru, n, tm, phases, root);
		json_t *jh = report_ceiling(b, "hs-alone", "hyperscan_alone", hsr, n, tm, phases,
					    root);
		json_object_set_new(jh, "matches_per_run", json_integer((json_int_t)b->hs_hits));
	}
	json_object_set_new(root, "phases", phases);
	if (o->only == 0) {
		for (unsigned i = 0; i < n; i++)
			ratio[i] = tm[i] / cm[i];
		struct summary sr = summarize(ratio, n);
		struct summary st = summarize(tm, n), sc = summarize(cm, n);
		/* interference from other work only ever slows a run down: the best runs of
		 * each phase are the least disturbed ones */
		printf("  ratio tracked/ceiling: %.3f [%.3f .. %.3f] (run by run), %.3f (of the medians), "
		       "%.3f (of the best runs); target >= 0.5\n", sr.med, sr.min, sr.max,
		       st.med / sc.med, st.max / sc.max);
		json_t *jr = summary_json(sr);
		json_object_set_new(jr, "of_medians", json_real(st.med / sc.med));
		json_object_set_new(jr, "of_best", json_real(st.max / sc.max));
		json_object_set_new(jr, "target", json_real(0.5));
		json_object_set_new(root, "ratio_tracked_to_ceiling", jr);
	}
	if (b->held) {
		report_floor(b, "hold", ho, n, cm, tm, phases, root);
		report_floor(b, "find", fi, n, cm, tm, phases, root);
		report_floor(b, "copy", co, n, cm, tm, phases, root);
		printf("  (hold: the copy-in alone, into mbufs kept as long as the tracked path keeps them;\n"
		       "   find: that, and every frame parsed and its flow looked up and touched;\n"
		       "   copy: the ceiling, and every payload copied into its session's %u-byte store)\n",
		       BENCH_STORE_BYTES);
	}

	/* memory: a flow's table share, plus what streams held at the peak, spread over the
	 * sessions open at once */
	const struct rte_mempool *mp = b->pool;
	size_t per_flow = flow_bytes_per_flow(b->w->ft);
	uint64_t obj = mp->header_size + mp->elt_size + mp->trailer_size;
	uint64_t buf_len = RTE_MBUF_DEFAULT_BUF_SIZE;
	uint64_t held_mbufs = b->peak_stream_mem / buf_len;
	uint32_t open = o->sg.active < o->sg.flows ? o->sg.active : o->sg.flows;
	double stream_per_flow = (double)held_mbufs * (double)obj / open;
	printf("\nmemory: flow table %zu B a flow (capacity %u); streams held at most %llu mbufs "
	       "(%.1f MB, %llu B each) for %u open sessions = %.0f B a session;\n"
	       "        total %.0f B a flow; peaks sampled: %u flows in the table, %u mbufs out of the pool\n",
	       per_flow, b->cfg.flow_capacity, (unsigned long long)held_mbufs,
	       held_mbufs * obj / 1e6, (unsigned long long)obj, open, stream_per_flow,
	       per_flow + stream_per_flow, b->peak_flows, b->peak_mbufs);
	json_object_set_new(root, "memory", json_pack(
		"{s:I, s:I, s:I, s:I, s:f, s:f, s:I, s:I}",
		"flow_table_bytes_per_flow", (json_int_t)per_flow,
		"peak_stream_mem_bytes", (json_int_t)b->peak_stream_mem,
		"peak_held_mbufs", (json_int_t)held_mbufs, "mbuf_object_bytes", (json_int_t)obj,
		"stream_bytes_per_open_session", stream_per_flow,
		"total_bytes_per_flow", per_flow + stream_per_flow,
		"peak_flows_in_table", (json_int_t)b->peak_flows,
		"peak_mbufs_in_use", (json_int_t)b->peak_mbufs));

	/* checks */
	printf("\nchecks:\n");
	if (o->check) {
		int ok = c->sess_bad == 0 && c->bad_cksum == 0 && c->gaps == 0 && c->unparsable == 0 &&
			 c->foreign == 0;
		printf("  %-10s emitted streams: %llu of %llu sessions whole and in order in both "
		       "directions (%llu more with masked bytes, same lengths); %llu frames out, "
		       "%llu bad checksums, %llu gaps, %llu replays\n",
		       ok ? "ok" : "UNEXPECTED", (unsigned long long)c->sess_ok,
		       (unsigned long long)b->t.st.sessions, (unsigned long long)c->sess_edited,
		       (unsigned long long)c->out_pkts, (unsigned long long)c->bad_cksum,
		       (unsigned long long)c->gaps, (unsigned long long)c->replays);
		fails += !ok;
		json_object_set_new(root, "stream_check", json_pack(
			"{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "ok", ok,
			"sessions_ok", (json_int_t)c->sess_ok, "sessions_bad", (json_int_t)c->sess_bad,
			"sessions_masked", (json_int_t)c->sess_edited,
			"frames_out", (json_int_t)c->out_pkts, "bad_cksum", (json_int_t)c->bad_cksum,
			"gaps", (json_int_t)c->gaps, "replays", (json_int_t)c->replays));
	}
	if (b->held && (o->only == 0 || o->only == 4)) {
		printf("  %-10s find phase: frames whose flow was not found: %llu\n",
		       b->find_missed ? "UNEXPECTED" : "ok", (unsigned long long)b->find_missed);
		fails += b->find_missed != 0;
	}
	printf("  %-10s mbufs out of the pool once every flow expired: %u\n",
	       leaked ? "UNEXPECTED" : "ok", leaked);
	fails += leaked != 0;
	printf("  counters of the checking pass (flow expiry included):\n");
	fails += (int)check_counters(b, chk_cnt, jc);
	if (o->only == 0 || o->only == 1) {
		printf("  counters of the last timed run:\n");
		fails += (int)check_counters(b, last_cnt, jl);
		printf("  non-zero counters of the last timed run:\n");
		dp_counters_print(stdout, "    ", last_cnt);
	}
	json_object_set_new(root, "counters_check_pass", jc);
	json_object_set_new(root, "counters_last_run", jl);
	printf("\nverdict: %s\n", fails ? "FAILED checks (see UNEXPECTED above)" : "all checks passed");

	json_object_set_new(root, "machine", json_pack("{s:i, s:s, s:I}",
		"nproc", (int)sysconf(_SC_NPROCESSORS_ONLN), "cpu", cpu,
		"tsc_hz", (json_int_t)rte_get_tsc_hz()));
	json_t *jrules = json_array();
	for (unsigned i = 0; i < o->n_rules; i++)
		json_array_append_new(jrules, json_string(o->rules[i]));
	json_object_set_new(root, "rules", jrules);
	json_object_set_new(root, "params", json_pack(
		"{s:i, s:i, s:i, s:i, s:f, s:f, s:i, s:i, s:i, s:I, s:i, s:i, s:i, s:s, s:s}",
		"flows", (int)o->sg.flows, "active", (int)o->sg.active, "queries", (int)o->sg.queries,
		"rows", (int)o->sg.rows, "reorder_pct", o->sg.reorder_pct, "rtx_pct", o->sg.rtx_pct,
		"burst", (int)o->sg.burst, "per_visit", (int)o->sg.per_visit, "mss", (int)o->sg.mss,
		"seed", (json_int_t)o->sg.seed, "verify_cksum", o->verify_cksum, "runs", (int)n,
		"nic_cksum", o->nic_cksum, "proto", o->proto == DP_PROTO_NONE ? "none" : "pg",
		"mix", o->sg.mix == SG_MIX_STANDARD ? "standard" : "customers"));
	const struct sg_stats *st = &b->t.st;
	json_object_set_new(root, "trace", json_pack(
		"{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		"sessions", (json_int_t)st->sessions, "frames", (json_int_t)st->frames,
		"frames_from_clients", (json_int_t)st->frames_port[0],
		"frames_from_server", (json_int_t)st->frames_port[1],
		"bursts", (json_int_t)st->bursts, "wire_bytes", (json_int_t)st->wire_bytes,
		"stream_bytes_c2s", (json_int_t)st->payload_bytes[0],
		"stream_bytes_s2c", (json_int_t)st->payload_bytes[1],
		"queries", (json_int_t)st->queries, "rows", (json_int_t)st->rows,
		"swapped", (json_int_t)st->swaps, "sent_twice", (json_int_t)st->rtx));
	json_object_set_new(root, "ok", json_boolean(!fails));
	if (o->json && json_dump_file(root, o->json, JSON_INDENT(2)) < 0) {
		fprintf(stderr, "engine_bench: cannot write %s\n", o->json);
		fails++;
	}
	json_decref(root);
	return fails;
}

/* Compiles the --rules files into a policy and puts it in force (no RCU: one thread). */
static int load_rules(struct bench *b)
{
#ifdef TG_BENCH_RULES
	char err[256];
	struct dp_policy *p = policy_build(b->o.rules, b->o.n_rules, &b->cfg, NULL, b->o.workers,
					   err, sizeof(err));

	if (p == NULL) {
		fprintf(stderr, "engine_bench: rules: %s\n", err);
		return -1;
	}
	for (unsigned k = 0; k < b->o.workers; k++)
		dp_worker_set_policy(b->ws[k], p);
	b->policy = p;
	printf("rules: %u in force (%u file%s)\n", p->n_rules, b->o.n_rules, b->o.n_rules == 1 ? "" : "s");
	return 0;
#else
	fprintf(stderr, "engine_bench: built without the rule engine (slowpath/): --rules unavailable\n");
	return -1;
#endif
}

/* Frees what main set up (any part of it may be missing). */
static void bench_teardown(struct bench *b)
{
	for (unsigned k = 0; k < BENCH_MAX_WORKERS; k++)
		if (b->ws[k] && b->ws[k]->ft)
			dp_worker_fini(b->ws[k]);
	if (b->h) {
		dp_handoff_rings_free(b->h);
		rte_free(b->h);
	}
#ifdef TG_BENCH_RULES
	if (b->policy) {
		struct dp_policy *p = b->policy;
		if (p->destroy)
			p->destroy(p);
	}
#endif
	sg_free(&b->t);
	free(b->cs);
	if (b->find_ft)
		flow_table_free(b->find_ft, NULL, NULL);
	free(b->sess_of);
	free(b->pl_off);
	free(b->pl_len);
	free(b->store);
	free(b->store_off);
	free(b->held);
	free(b->fifo);
	rte_free(b->fwd);
	for (unsigned k = 0; k < BENCH_MAX_WORKERS; k++)
		rte_free(b->ws[k]);
}

/* What the hold phase needs (one worker only): which frames carry data, room for the
 * checking pass's per-burst counts, and its FIFO, as large as the pool. */
static int hold_setup(struct bench *b)
{
	uint32_t cap = 1;

	if (b->o.workers > 1)
		return 0;
	while (cap < b->o.mbufs)
		cap <<= 1;
	b->sess_of = calloc(b->t.n_frames, sizeof(*b->sess_of));
	b->pl_off = calloc(b->t.n_frames, sizeof(*b->pl_off));
	b->pl_len = calloc(b->t.n_frames, sizeof(*b->pl_len));
	b->store_off = calloc(b->t.st.sessions, sizeof(*b->store_off));
	b->store = malloc((size_t)b->t.st.sessions * BENCH_STORE_BYTES);
	if (b->sess_of == NULL || b->store_off == NULL || b->store == NULL || b->pl_off == NULL ||
	    b->pl_len == NULL) {
		fprintf(stderr, "engine_bench: out of memory\n");
		return -1;
	}
	memset(b->store, 0, (size_t)b->t.st.sessions * BENCH_STORE_BYTES);  /* mapped */
	b->held = calloc(b->t.n_bursts, sizeof(*b->held));
	b->fifo = calloc(cap, sizeof(*b->fifo));
	if (b->held == NULL || b->fifo == NULL) {
		fprintf(stderr, "engine_bench: out of memory\n");
		return -1;
	}
	b->fifo_mask = cap - 1;
	b->find_ft = flow_table_create("bench_find", b->cfg.flow_capacity, SOCKET_ID_ANY);
	if (b->find_ft == NULL) {
		fprintf(stderr, "engine_bench: find phase's flow table\n");
		return -1;
	}
	for (uint32_t i = 0; i < b->t.n_frames; i++) {
		struct dp_pkt p;
		struct flow_key k;
		uint8_t side;

		if (dp_pkt_parse(b->t.buf + b->t.frames[i].off, b->t.frames[i].len, &p) != DP_PKT_TCP)
			continue;
		int64_t sess = b->t.frames[i].port == 0 ? sg_session_of(ntohl(p.src[0]), p.sport, b->t.st.sessions)
							: sg_session_of(ntohl(p.dst[0]), p.dport, b->t.st.sessions);
		b->sess_of[i] = sess < 0 ? 0 : (uint32_t)sess;
		b->pl_off[i] = p.payload_off;
		b->pl_len[i] = p.payload_len;   /* frames are at most 2 KB: below BENCH_STORE_BYTES */
		flow_key_from_pkt(&p, &k, &side);
		if (flow_lookup(b->find_ft, &k) == NULL && flow_insert(b->find_ft, &k, 0) == NULL) {
			fprintf(stderr, "engine_bench: find phase's flow table is full\n");
			return -1;
		}
	}
	return 0;
}

/* EAL, pool, worker, rules, trace. Returns 0, or -1 after saying why. */
static int bench_setup(struct bench *b)
{
	uint16_t peer[2] = { 1, 0 };
	uint8_t server_side[2] = { 0, 1 };
	char err[128];
	int nomem = 0;

	if (test_eal_init() < 0)
		return -1;
	proto_register_builtin();
	b->pool = dp_worker_pool_create("bench_pool", b->o.mbufs, 1500 + DP_FRAME_OVERHEAD, SOCKET_ID_ANY);
	for (unsigned k = 0; k < b->o.workers; k++)
		nomem |= (b->ws[k] = rte_zmalloc("bench_worker", sizeof(*b->ws[k]), 64)) == NULL;
	b->w = b->ws[0];
	b->fwd = rte_zmalloc("bench_fwd", 2 * sizeof(*b->fwd), 64);
	b->cs = calloc(b->o.sg.flows ? b->o.sg.flows : 1, sizeof(*b->cs));
	if (nomem || b->pool == NULL || b->fwd == NULL || b->cs == NULL) {
		fprintf(stderr, "engine_bench: out of memory (pool of %u mbufs, worker)\n", b->o.mbufs);
		return -1;
	}
	for (uint32_t s = 0; s < b->o.sg.flows; s++)
		b->cs[s].hash[0] = b->cs[s].hash[1] = SG_FNV_INIT;
	b->mult = (uint64_t)(((unsigned __int128)1000000000ull << 32) / rte_get_tsc_hz());
	bench_config(&b->cfg, &b->o);
	for (unsigned k = 0; k < b->o.workers; k++) {
		if (dp_worker_init(b->ws[k], (uint16_t)k, 2, peer, server_side, &b->cfg, b->pool) < 0) {
			fprintf(stderr, "engine_bench: dp_worker_init failed (flow capacity %u)\n",
				b->cfg.flow_capacity);
			return -1;
		}
		b->ws[k]->queue = (uint16_t)k;
	}
	if (b->o.workers > 1) {
		b->h = rte_zmalloc("bench_handoff", sizeof(*b->h), 64);
		if (b->h == NULL)
			return -1;
		b->h->n_workers = (uint16_t)b->o.workers;
		b->h->soft = 1;
		b->h->seed = 0x5eed;
		if (dp_handoff_rings_create(b->h, SOCKET_ID_ANY) < 0) {
			fprintf(stderr, "engine_bench: handoff rings\n");
			return -1;
		}
		for (unsigned k = 0; k < b->o.workers; k++)
			b->ws[k]->handoff = b->h;
		printf("workers: %u on this core, flows spread in software (burst i to worker i %% %u)\n",
		       b->o.workers, b->o.workers);
	}
	if (b->o.n_rules && load_rules(b) < 0)
		return -1;
	printf("decoder: %s; checksums: %s\n", b->o.proto == DP_PROTO_NONE ? "none (tracking and reassembly only)" : "postgresql",
	       !b->o.verify_cksum ? "not verified" : b->o.nic_cksum ? "verified by the emulated NIC (RX offload)" : "verified in software");
	printf("generating %u sessions (%u at once, %u queries, ~%u rows each, %s mix)...\n",
	       b->o.sg.flows, b->o.sg.active, b->o.sg.queries, b->o.sg.rows,
	       b->o.sg.mix == SG_MIX_STANDARD ? "standard" : "customers");
	fflush(stdout);
	if (sg_build(&b->o.sg, b->pool, &b->t, err, sizeof(err)) < 0) {
		fprintf(stderr, "engine_bench: trace: %s\n", err);
		return -1;
	}
	report_trace(b);
	return hold_setup(b);
}

int main(int argc, char **argv)
{
	static struct bench b;
	static struct phase_run tr[BENCH_MAX_REPS], ce[BENCH_MAX_REPS], ru[BENCH_MAX_REPS];
	static struct phase_run hsr[BENCH_MAX_REPS], ho[BENCH_MAX_REPS], fi[BENCH_MAX_REPS];
	static struct phase_run co[BENCH_MAX_REPS];
	struct phase_run chk_run;
	struct dp_counters before, delta, chk_delta;
	unsigned reps = 0, leaked;
	double tracked_s = 0;
	int rc = 1;

	if (parse_opts(argc, argv, &b.o) < 0) {
		usage(argv[0]);
		return 2;
	}
	if (bench_setup(&b) < 0)
		goto out;

	/* Untimed checking pass; it also warms the flow table and the pool. */
	bench_counters(&b, &before);
	b.record_held = b.held != NULL;
	if (run_tracked(&b, &chk_run, b.o.check) < 0)
		goto dry;
	b.record_held = 0;
	leaked = drain_flows(&b);
	counters_since(&b, &chk_delta, &before);
	if (b.o.check)
		check_finish(&b);

	/* Timed runs: the two phases alternate, so that drift hits both alike. */
	memset(&delta, 0, sizeof(delta));
	while (reps < BENCH_MAX_REPS) {
		if (b.o.only == 0 || b.o.only == 1) {
			bench_counters(&b, &before);
			if (run_tracked(&b, &tr[reps], 0) < 0)
				goto dry;
			tracked_s += (double)tr[reps].cycles / (double)rte_get_tsc_hz();
			unsigned l = drain_flows(&b);
			counters_since(&b, &delta, &before);
			leaked = l > leaked ? l : leaked;
		}
		if ((b.o.only == 0 || b.o.only == 2) && run_ceiling(&b, &ce[reps]) < 0)
			goto dry;
		if ((b.o.only == 0 || b.o.only == 3) && b.held && run_hold(&b, &ho[reps]) < 0)
			goto dry;
		if ((b.o.only == 0 || b.o.only == 4) && b.held && run_find(&b, &fi[reps]) < 0)
			goto dry;
		if ((b.o.only == 0 || b.o.only == 5) && b.held && run_copy(&b, &co[reps]) < 0)
			goto dry;
		if (b.o.only == 0 && b.policy && run_rules(&b, &ru[reps]) < 0)
			goto dry;
		if (b.o.only == 0 && b.policy && run_hs(&b, &hsr[reps]) < 0)
			goto dry;
		reps++;
		if (b.o.seconds > 0 && (b.o.only == 0 || b.o.only == 1) ? tracked_s >= b.o.seconds && reps >= 3
						      : reps >= b.o.reps)
			break;
	}
	rc = report_results(&b, tr, ce, ru, hsr, ho, fi, co, reps, &chk_delta, &delta, leaked) ? 1 : 0;
	goto out;
dry:
	fprintf(stderr, "engine_bench: the mbuf pool ran dry (raise --mbufs)\n");
out:
	bench_teardown(&b);
	return rc;
}
