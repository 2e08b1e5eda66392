/* test_decoder.c - the worker conversation harness of unit tests (see test_decoder.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include "tests/common/test_decoder.h"
#include "tests/common/test_eal.h"
#include "tests/common/pktgen.h"
#include "dataplane/dp_pkt.h"
#include "dataplane/flow.h"
#include "dataplane/worker.h"
#include "dataplane/proto/proto.h"

/* ---- the harness ---- */

struct tconv *tconv_new(uint8_t proto)
{
	struct tconv *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->pool = test_pool();
	if (t->pool == NULL) {
		free(t);
		return NULL;
	}
	tdec_register();
	tdec_log_reset();
	t->cfg.flow_capacity = 64;
	t->cfg.idle_timeout_s = 60;
	t->cfg.closed_timeout_s = 5;
	t->cfg.max_hold_bytes = 65536;
	t->cfg.ooo_max_segs = 16;
	t->cfg.stream_memcap = 64ull << 20;
	t->cfg.rto_ms = 200;
	t->cfg.verify_cksum = 1;
	t->cfg.n_resources = 1;
	snprintf(t->cfg.resources[0].name, DP_NAME_MAX, "test-db");
	t->cfg.resources[0].port = 5432;
	t->cfg.resources[0].proto = proto;
	pktgen_default_eps(&t->ep[0], &t->ep[1], 40000, 5432);
	t->ts = 1;
	t->sack = 1;
	t->wscale = 7;
	t->mss = 1460;
	t->win = 512;                 /* 64 KiB with wscale 7 */
	t->ip_ver = 4;
	t->check_ts = 1;
	t->isn[0] = 1000;
	t->isn[1] = 500000;
	t->tsval[0] = 100;
	t->tsval[1] = 70000;
	return t;
}

/* Fills the private area (struct tcp_seg) of <n> free mbufs of <pool> with junk, so that
 * a field the data plane forgets to set reads junk, not a zero left by a fresh pool.
 * The mbufs go back to the pool's cache, where the next allocations take them from. */
static void poison_pool(struct rte_mempool *pool, unsigned n)
{
	struct rte_mbuf *m[512];
	uint16_t priv = rte_pktmbuf_priv_size(pool);
	unsigned got = 0;

	if (n > RTE_DIM(m))
		n = RTE_DIM(m);
	while (got < n && (m[got] = rte_pktmbuf_alloc(pool)) != NULL)
		got++;
	for (unsigned i = 0; i < got; i++) {
		memset(rte_mbuf_to_priv(m[i]), 0xa5, priv);
		rte_pktmbuf_free(m[i]);
	}
}

int tconv_start(struct tconv *t)
{
	static const uint16_t peer[2] = { 1, 0 };
	static const uint8_t server_side[2] = { 0, 1 };
	struct dp_resource *r = &t->cfg.resources[0];

	r->ip_ver = t->ip_ver;
	memset(r->addr, 0, sizeof(r->addr));
	if (t->ip_ver == 6)
		memcpy(r->addr, t->ep[1].ip6, 16);
	else
		r->addr[0] = t->ep[1].ip4;
	t->w = rte_zmalloc("tconv_worker", sizeof(*t->w), 64);
	if (t->w == NULL)
		return -1;
	poison_pool(t->pool, 512);
	t->pool_avail0 = rte_mempool_avail_count(t->pool);
	if (dp_worker_init(t->w, 0, 2, peer, server_side, &t->cfg, t->pool) < 0)
		return -1;
	t->w->now_ns = 1000000000ull;
	return 0;
}

int tconv_stop(struct tconv *t)
{
	if (t->w == NULL)
		return 0;
	tconv_drain(t);
	dp_worker_fini(t->w);
	rte_free(t->w);
	t->w = NULL;
	return (int)t->pool_avail0 - (int)rte_mempool_avail_count(t->pool);
}

void tconv_free(struct tconv *t)
{
	if (t == NULL)
		return;
	tconv_stop(t);
	free(t);
}

struct rte_mbuf *tconv_build_sack(struct tconv *t, int dir, uint8_t flags, uint32_t seq,
				  uint32_t ack, const void *data, uint16_t len,
				  unsigned n_sack, const uint32_t (*sack)[2])
{
	struct pktgen_seg_spec s;
	struct rte_mbuf *m;

	memset(&s, 0, sizeof(s));
	s.src = &t->ep[dir];
	s.dst = &t->ep[!dir];
	s.ip_ver = t->ip_ver;
	s.ip6_dstopt = t->ip6_dstopt;
	if (dir == 0)
		s.ip6_srh_via = t->ip6_srh_via;
	s.ts_odd = t->ts_odd;
	s.trailer = t->trailer;
	s.vlan[0] = t->vlan[0];
	s.vlan[1] = t->vlan[1];
	s.flags = flags;
	s.seq = seq;
	s.ack = ack;
	s.win = t->win;
	s.wscale = -1;
	if (flags & DP_TCP_SYN) {
		/* a SYN's window is never scaled (RFC 7323): announce what the scaled window
		 * means, as real stacks do (64240 and the like) */
		if (t->wscale > 0) {
			uint32_t full = (uint32_t)t->win << t->wscale;
			s.win = (uint16_t)(full > 65535 ? 65535 : full);
		}
		s.mss = t->mss;
		s.wscale = t->wscale;
		s.sack_perm = t->sack;
	}
	if (t->ts) {
		s.ts = 1;
		s.tsval = ++t->tsval[dir];
		s.tsecr = (flags & DP_TCP_ACK) ? t->rx[dir ^ 1].last_tsval : 0;
	}
	s.n_sack = (uint8_t)n_sack;
	for (unsigned i = 0; i < n_sack && i < 4; i++) {
		s.sack[i][0] = sack[i][0];
		s.sack[i][1] = sack[i][1];
	}
	s.payload = data;
	s.payload_len = len;
	m = pktgen_build(t->pool, &s);
	assert_non_null(m);
	return m;
}

struct rte_mbuf *tconv_build(struct tconv *t, int dir, uint8_t flags, uint32_t seq,
			     uint32_t ack, const void *data, uint16_t len)
{
	return tconv_build_sack(t, dir, flags, seq, ack, data, len, 0, NULL);
}

/* Asserts what every frame queued since <old> must satisfy at the time it was made:
 * TSval no older than the latest its sender sent. */
static void check_new(struct tconv *t, const uint16_t old[2])
{
	for (int port = 0; port < 2; port++) {
		for (unsigned i = old[port]; i < t->w->tx[port].n; i++) {
			struct rte_mbuf *m = t->w->tx[port].pkts[i];
			struct dp_pkt p;
			int dir = port == 1 ? 0 : 1;
			if (dp_pkt_parse(rte_pktmbuf_mtod(m, const uint8_t *),
					 rte_pktmbuf_data_len(m), &p) != DP_PKT_TCP)
				continue;
			if (t->check_ts && t->ts && p.opt.has_ts &&
			    (int32_t)(p.opt.tsval - t->tsval[dir]) < 0) {
				fail_msg("frame to port %d: TSval %u older than the sender's latest %u",
					 port, p.opt.tsval, t->tsval[dir]);
			}
		}
	}
}

void tconv_rx_frame(struct tconv *t, int dir, struct rte_mbuf *m)
{
	uint16_t old[2] = { t->w->tx[0].n, t->w->tx[1].n };

	dp_worker_process_burst(t->w, dir == 0 ? 0 : 1, &m, 1);
	check_new(t, old);
}

void tconv_timers(struct tconv *t, uint64_t now_ns)
{
	uint16_t old[2] = { t->w->tx[0].n, t->w->tx[1].n };

	t->w->now_ns = now_ns;
	dp_worker_timers(t->w);
	check_new(t, old);
}

void tconv_seg(struct tconv *t, int dir, uint8_t flags, uint32_t seq, uint32_t ack,
	       const void *data, uint16_t len)
{
	tconv_rx_frame(t, dir, tconv_build(t, dir, flags, seq, ack, data, len));
}

uint32_t tconv_rcv_nxt(const struct tconv *t, int dir)
{
	const struct tconv_rx *r = &t->rx[dir ^ 1];

	return r->isn + 1 + r->contig + (r->fin && r->fin_off == r->contig ? 1 : 0);
}

void tconv_send_bytes(struct tconv *t, int dir, const void *data, uint16_t len)
{
	tconv_seg(t, dir, DP_TCP_ACK | DP_TCP_PSH, t->nxt[dir], tconv_rcv_nxt(t, dir), data, len);
	t->nxt[dir] += len;
}

void tconv_send(struct tconv *t, int dir, const char *s)
{
	tconv_send_bytes(t, dir, s, (uint16_t)strlen(s));
}

void tconv_ack(struct tconv *t, int dir)
{
	tconv_seg(t, dir, DP_TCP_ACK, t->nxt[dir], tconv_rcv_nxt(t, dir), NULL, 0);
}

void tconv_handshake(struct tconv *t)
{
	struct rte_mbuf *m;

	memset(t->rx, 0, sizeof(t->rx));
	t->rx[0].isn = t->isn[0];
	t->rx[1].isn = t->isn[1];
	m = tconv_build(t, 0, DP_TCP_SYN, t->isn[0], 0, NULL, 0);
	tconv_rx_frame(t, 0, m);
	assert_int_equal(t->w->tx[1].n, 1);
	assert_ptr_equal(t->w->tx[1].pkts[0], m);
	assert_int_equal(tconv_drain(t), 1);
	m = tconv_build(t, 1, DP_TCP_SYN | DP_TCP_ACK, t->isn[1], t->isn[0] + 1, NULL, 0);
	tconv_rx_frame(t, 1, m);
	assert_int_equal(t->w->tx[0].n, 1);
	assert_ptr_equal(t->w->tx[0].pkts[0], m);
	assert_int_equal(tconv_drain(t), 1);
	t->nxt[0] = t->isn[0] + 1;
	t->nxt[1] = t->isn[1] + 1;
	tconv_ack(t, 0);
	assert_int_equal(t->w->tx[0].n, 0);
	assert_int_equal(t->w->tx[1].n, 1);
	assert_int_equal(tconv_drain(t), 1);
	assert_int_equal(t->fr[0].seq, t->isn[0] + 1);
	assert_int_equal(t->fr[0].ack, t->isn[1] + 1);
	assert_int_equal(t->fr[0].flags, DP_TCP_ACK);
}

/* Places the payload of frame <fr> in the receiver model of its direction. */
static void rx_feed(struct tconv *t, const struct tconv_frame *fr)
{
	struct tconv_rx *r = &t->rx[fr->dir];
	uint32_t off = fr->seq - r->isn - 1;

	if (t->lose[fr->dir])
		return;
	if (fr->p.opt.has_ts && (!r->last_tsval || (int32_t)(fr->p.opt.tsval - r->last_tsval) > 0))
		r->last_tsval = fr->p.opt.tsval;
	if (fr->flags & DP_TCP_SYN)
		return;
	if (fr->flags & DP_TCP_RST) {
		r->rst = 1;
		r->rst_seq = fr->seq;
		return;
	}
	if (fr->len) {
		r->data_frames++;
		for (uint32_t i = 0; i < fr->len; i++) {
			uint32_t o = off + i;
			if (o >= TCONV_RX_MAX)
				continue;       /* before the ISN (a bug) or beyond the model */
			if (r->have[o] && r->buf[o] != fr->data[i])
				r->conflicts++;
			if (!r->have[o]) {
				r->buf[o] = fr->data[i];
				r->have[o] = 1;
			}
		}
		while (r->contig < TCONV_RX_MAX && r->have[r->contig])
			r->contig++;
	}
	if (fr->flags & DP_TCP_FIN) {
		r->fin = 1;
		r->fin_off = off + fr->len;
	}
}

unsigned tconv_drain(struct tconv *t)
{
	t->n_fr = 0;
	for (int port = 0; port < 2; port++) {
		struct dp_txbuf *tx = &t->w->tx[port];
		for (unsigned i = 0; i < tx->n; i++) {
			struct rte_mbuf *m = tx->pkts[i];
			struct tconv_frame *fr;
			const uint8_t *data = rte_pktmbuf_mtod(m, const uint8_t *);
			uint32_t len = rte_pktmbuf_data_len(m);
			int st;

			assert_true(t->n_fr < TCONV_MAX_FRAMES);
			fr = &t->fr[t->n_fr++];
			memset(fr, 0, offsetof(struct tconv_frame, data));
			fr->port = (uint16_t)port;
			fr->dir = port == 1 ? 0 : 1;
			fr->mbuf = m;
			assert_int_equal(m->nb_segs, 1);
			assert_true(len <= sizeof(fr->frame));
			memcpy(fr->frame, data, len);
			fr->frame_len = (uint16_t)len;
			st = dp_pkt_parse(data, len, &fr->p);
			if (st != DP_PKT_TCP) {
				rte_pktmbuf_free(m);
				continue;
			}
			if (!dp_pkt_ip_cksum_ok(data, &fr->p))
				fail_msg("frame %u to port %d: bad IP checksum", i, port);
			if (!dp_pkt_tcp_cksum_ok(data, &fr->p))
				fail_msg("frame %u to port %d: bad TCP checksum", i, port);
			fr->flags = fr->p.tcp_flags;
			fr->seq = fr->p.seq;
			fr->ack = fr->p.ack;
			fr->len = fr->p.payload_len;
			assert_true(fr->len <= TCONV_FRAME_DATA);
			memcpy(fr->data, data + fr->p.payload_off, fr->len);
			rx_feed(t, fr);
			rte_pktmbuf_free(m);
		}
		tx->n = 0;
	}
	return t->n_fr;
}

unsigned tconv_count(const struct tconv *t, int dir)
{
	unsigned n = 0;

	for (unsigned i = 0; i < t->n_fr; i++)
		n += t->fr[i].dir == dir;
	return n;
}

const struct tconv_frame *tconv_frame(const struct tconv *t, int dir, unsigned i)
{
	for (unsigned k = 0; k < t->n_fr; k++)
		if (t->fr[k].dir == dir && i-- == 0)
			return &t->fr[k];
	return NULL;
}

int tconv_rx_is(const struct tconv *t, int dir, const char *s)
{
	const struct tconv_rx *r = &t->rx[dir];
	size_t n = strlen(s);

	if (r->contig == n && memcmp(r->buf, s, n) == 0 && r->conflicts == 0)
		return 1;
	print_message("receiver of dir %d has %u bytes (%u conflicts): \"%.*s\", expected \"%s\"\n",
		      dir, r->contig, r->conflicts, (int)r->contig, (const char *)r->buf, s);
	return 0;
}

int tconv_rx_eq(const struct tconv *t, int dir, const void *data, uint32_t len)
{
	const struct tconv_rx *r = &t->rx[dir];

	if (r->contig == len && memcmp(r->buf, data, len) == 0 && r->conflicts == 0)
		return 1;
	print_message("receiver of dir %d has %u bytes (%u conflicts), expected %u\n",
		      dir, r->contig, r->conflicts, len);
	return 0;
}

struct flow *tconv_flow(struct tconv *t)
{
	struct dp_pkt p;
	struct flow_key k;
	uint8_t side;

	memset(&p, 0, sizeof(p));
	p.ip_ver = t->ip_ver;
	if (t->ip_ver == 6) {
		memcpy(p.src, t->ep[0].ip6, 16);
		memcpy(p.dst, t->ep[1].ip6, 16);
	} else {
		p.src[0] = t->ep[0].ip4;
		p.dst[0] = t->ep[1].ip4;
	}
	p.sport = t->ep[0].port;
	p.dport = t->ep[1].port;
	flow_key_from_pkt(&p, &k, &side);
	return flow_lookup(t->w->ft, &k);
}

unsigned tconv_data_frames(const struct tconv *t, int dir)
{
	unsigned n = 0;

	for (unsigned i = 0; i < t->n_fr; i++)
		n += t->fr[i].dir == dir && t->fr[i].len > 0;
	return n;
}

int tconv_cm_setup(void **state)
{
	struct tconv *t = tconv_new(DP_PROTO_TEST);

	if (t == NULL)
		return -1;
	*state = t;
	return 0;
}

int tconv_cm_teardown(void **state)
{
	tconv_free(*state);
	return 0;
}
