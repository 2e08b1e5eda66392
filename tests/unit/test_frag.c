/* test_frag.c - CMocka tests of IP fragment reassembly (dp_frag). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>
#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include "dataplane/dp_pkt.h"
#include "dataplane/frag.h"
#include "tests/common/pktgen.h"
#include "tests/common/test_eal.h"

#define DGRAM_MAX  8192                /* original datagrams, frames included */
#define FRAME_MAX  2048                /* one fragment's frame */
#define ETH_MIN    60                  /* frames shorter than this are padded, as on a wire */
#define TTL_MS     100
#define T0         1000000ull          /* synthetic TSC of the first fragment */
#define FLOWS      64

static struct pktgen_ep cli, srv;

/* An unfragmented datagram in memory: the frame a sender would have sent. */
struct dgram {
	uint8_t  b[DGRAM_MAX];
	uint32_t len;                  /* frame bytes */
	uint16_t l3;                   /* offset of the IP header */
	uint16_t hlen;                 /* IPv4 header with options / IPv6 header (40) */
	uint8_t  ver;
	uint8_t  proto;                /* protocol of the IP payload */
	uint32_t id;                   /* fragment id used by mk_frag */
};

/* ---- helpers ---- */

static uint64_t ttl_cycles(void)
{
	return (rte_get_tsc_hz() + 999) / 1000 * TTL_MS;
}

static unsigned avail(void)
{
	return rte_mempool_avail_count(test_pool());
}

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static void fix_ip4_cksum(uint8_t *ip)
{
	struct rte_ipv4_hdr *h = (struct rte_ipv4_hdr *)ip;

	h->hdr_checksum = 0;
	h->hdr_checksum = rte_ipv4_cksum(h);
}

/* Sets the IPv4 id of <g> (and of its fragments) to <id>. */
static void set_id(struct dgram *g, uint32_t id)
{
	g->id = id;
	if (g->ver == 4) {
		put16(g->b + g->l3 + 4, (uint16_t)id);
		fix_ip4_cksum(g->b + g->l3);
	}
}

/* Builds a TCP segment of <plen> payload bytes client -> server with pktgen, with
 * <n_vlan> VLAN tags, as a datagram that may be fragmented (no DF). */
static void mk_tcp(struct dgram *g, uint8_t ver, unsigned n_vlan, uint16_t plen)
{
	static uint8_t payload[DGRAM_MAX];
	struct pktgen_seg_spec s = {
		.src = &cli, .dst = &srv, .ip_ver = ver,
		.flags = DP_TCP_ACK | DP_TCP_PSH, .seq = 1000, .ack = 2000, .win = 501,
		.wscale = -1, .ts = 1, .tsval = 7, .tsecr = 9,
		.payload = payload, .payload_len = plen,
	};
	struct rte_mbuf *m;
	struct dp_pkt p;

	for (unsigned i = 0; i < plen; i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	s.vlan[0] = n_vlan > 0 ? 100 : 0;
	s.vlan[1] = n_vlan > 1 ? 200 : 0;
	m = pktgen_build(test_pool(), &s);
	assert_non_null(m);
	memset(g, 0, sizeof(*g));
	g->len = rte_pktmbuf_data_len(m);
	memcpy(g->b, rte_pktmbuf_mtod(m, const uint8_t *), g->len);
	rte_pktmbuf_free(m);
	assert_int_equal(dp_pkt_parse(g->b, g->len, &p), DP_PKT_TCP);
	g->l3 = p.l3_off;
	g->ver = ver;
	g->proto = IPPROTO_TCP;
	g->hlen = (uint16_t)(p.l4_off - p.l3_off);
	if (ver == 4) {
		put16(g->b + g->l3 + 6, 0);           /* clear DF */
		fix_ip4_cksum(g->b + g->l3);
	}
	set_id(g, 0x1234);
}

/* Adds <n> bytes of IPv4 options (NOPs then EOL) to IPv4 datagram <g>. */
static void add_ip4_opts(struct dgram *g, unsigned n)
{
	uint8_t *ip = g->b + g->l3;
	uint32_t at = g->l3 + g->hlen;

	memmove(g->b + at + n, g->b + at, g->len - at);
	memset(g->b + at, 1, n);
	g->b[at + n - 1] = 0;
	g->len += n;
	g->hlen = (uint16_t)(g->hlen + n);
	ip[0] = (uint8_t)(0x40 | (g->hlen / 4));
	put16(ip + 2, (uint16_t)(g->len - g->l3));
	fix_ip4_cksum(ip);
}

/* Bytes of <g>'s IP payload (what is fragmented). */
static uint32_t ip_plen(const struct dgram *g)
{
	return g->len - g->l3 - g->hlen;
}

/* Builds the fragment [<off>, <off> + <len>) of <g>'s IP payload with the MF bit
 * <more>, taking its bytes from <data> (NULL: from <g>). An IPv4 fragment gets
 * <hlen> bytes of <g>'s header (20: without options; 0: all of it). The frame is
 * padded to the Ethernet minimum. */
static struct rte_mbuf *mk_frag_raw(const struct dgram *g, uint32_t off, uint32_t len, int more,
				    uint16_t hlen, const uint8_t *data)
{
	uint8_t f[FRAME_MAX + 64];
	uint32_t n = g->l3, flen;
	struct rte_mbuf *m;

	if (data == NULL)
		data = g->b + g->l3 + g->hlen + off;
	memcpy(f, g->b, g->l3);
	if (g->ver == 4) {
		hlen = hlen ? hlen : g->hlen;
		memcpy(f + n, g->b + g->l3, hlen);
		f[n] = (uint8_t)(0x40 | (hlen / 4));
		put16(f + n + 2, (uint16_t)(hlen + len));
		put16(f + n + 4, (uint16_t)g->id);
		put16(f + n + 6, (uint16_t)(((off / 8) & 0x1fff) | (more ? 0x2000 : 0)));
		fix_ip4_cksum(f + n);
		n += hlen;
	} else {
		uint32_t id = htonl(g->id);

		memcpy(f + n, g->b + g->l3, 40);
		f[n + 6] = IPPROTO_FRAGMENT;
		put16(f + n + 4, (uint16_t)(8 + len));
		n += 40;
		f[n] = g->proto;
		f[n + 1] = 0;
		put16(f + n + 2, (uint16_t)((off & 0xfff8) | (more ? 1 : 0)));
		memcpy(f + n + 4, &id, 4);
		n += 8;
	}
	assert_true(n + len <= FRAME_MAX);
	memcpy(f + n, data, len);
	flen = n + len;
	if (flen < ETH_MIN) {
		memset(f + flen, 0xee, ETH_MIN - flen);
		flen = ETH_MIN;
	}
	m = rte_pktmbuf_alloc(test_pool());
	assert_non_null(m);
	assert_non_null(rte_pktmbuf_append(m, (uint16_t)flen));
	memcpy(rte_pktmbuf_mtod(m, uint8_t *), f, flen);
	return m;
}

static struct rte_mbuf *mk_frag(const struct dgram *g, uint32_t off, uint32_t len, int more)
{
	return mk_frag_raw(g, off, len, more, 0, NULL);
}

/* Parses fragment <m> and feeds it at <now>; returns dp_frag_in's result, *<err> its
 * error. */
static struct rte_mbuf *feed(struct dp_frag *fr, struct rte_mbuf *m, uint64_t now, int *err)
{
	struct dp_pkt p;

	assert_int_equal(dp_pkt_parse(rte_pktmbuf_mtod(m, const uint8_t *),
				      rte_pktmbuf_data_len(m), &p), DP_PKT_FRAGMENT);
	*err = 12345;
	return dp_frag_in(fr, test_pool(), m, &p, now, err, NULL);
}

/* Feeds a fragment that must be kept. */
static void feed_kept(struct dp_frag *fr, struct rte_mbuf *m, uint64_t now)
{
	int err;

	assert_null(feed(fr, m, now, &err));
	assert_int_equal(err, DP_FRAG_OK);
}

/* Feeds a fragment that must be dropped for <want>. */
static void feed_err(struct dp_frag *fr, struct rte_mbuf *m, uint64_t now, int want)
{
	int err;

	assert_null(feed(fr, m, now, &err));
	assert_int_equal(err, want);
}

/* Checks that <out> is <g>, byte for byte, parsed as a TCP segment with good
 * checksums, and frees it. */
static void expect_dgram(struct rte_mbuf *out, const struct dgram *g)
{
	const uint8_t *d;
	struct dp_pkt p;

	assert_non_null(out);
	assert_int_equal(out->nb_segs, 1);
	assert_int_equal(rte_pktmbuf_data_len(out), g->len);
	d = rte_pktmbuf_mtod(out, const uint8_t *);
	assert_memory_equal(d, g->b, g->len);
	assert_int_equal(dp_pkt_parse(d, rte_pktmbuf_data_len(out), &p), DP_PKT_TCP);
	assert_true(dp_pkt_ip_cksum_ok(d, &p));
	assert_true(dp_pkt_tcp_cksum_ok(d, &p));
	rte_pktmbuf_free(out);
}

static struct dp_frag *mk_table(unsigned flows)
{
	struct dp_frag *fr = dp_frag_create(flows, TTL_MS, SOCKET_ID_ANY);

	assert_non_null(fr);
	return fr;
}

/* Splits <g>'s IP payload at <cut0> and <cut1> (0: unused) into 2 or 3 pieces,
 * feeds them in the order <order> (indices into the pieces), and checks that the
 * last one returns <g>. */
static void reassemble_order(const struct dgram *g, uint32_t cut0, uint32_t cut1,
			     const unsigned *order)
{
	uint32_t end = ip_plen(g);
	uint32_t lo[3] = { 0, cut0, cut1 }, hi[3] = { cut0, cut1 ? cut1 : end, end };
	unsigned n = cut1 ? 3 : 2, start = avail();
	struct dp_frag *fr = mk_table(FLOWS);
	struct rte_mbuf *out = NULL;
	int err;

	for (unsigned i = 0; i < n; i++) {
		unsigned k = order[i];
		struct rte_mbuf *m = mk_frag(g, lo[k], hi[k] - lo[k], k != n - 1);

		m->port = 2;
		out = feed(fr, m, T0 + i, &err);
		assert_int_equal(err, DP_FRAG_OK);
		if (i < n - 1)
			assert_null(out);
	}
	assert_non_null(out);
	assert_int_equal(out->port, 2);
	expect_dgram(out, g);
	assert_int_equal(dp_frag_expire(fr, T0 + 10 * ttl_cycles()), 0);
	dp_frag_free(fr);
	assert_int_equal(avail(), start);
}

static void all_orders(const struct dgram *g, uint32_t cut0, uint32_t cut1)
{
	static const unsigned two[2][2] = { { 0, 1 }, { 1, 0 } };
	static const unsigned three[6][3] = {
		{ 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 }, { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 },
	};

	if (cut1 == 0) {
		for (unsigned i = 0; i < 2; i++)
			reassemble_order(g, cut0, 0, two[i]);
	} else {
		for (unsigned i = 0; i < 6; i++)
			reassemble_order(g, cut0, cut1, three[i]);
	}
}

static int group_setup(void **state)
{
	(void)state;
	if (test_pool() == NULL)
		return -1;
	pktgen_default_eps(&cli, &srv, 40000, 5432);
	return 0;
}

/* Small xorshift PRNG: deterministic garbage. */
static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* ---- tests ---- */

static void test_create_args(void **state)
{
	(void)state;
	assert_null(dp_frag_create(0, TTL_MS, SOCKET_ID_ANY));
	assert_null(dp_frag_create(16, 0, SOCKET_ID_ANY));
	dp_frag_free(NULL);
	assert_string_equal(dp_frag_err_name(DP_FRAG_OK), "ok");
	assert_string_equal(dp_frag_err_name(DP_FRAG_ETOOBIG), "too_big");
	assert_string_equal(dp_frag_err_name(DP_FRAG_ETABLE), "table_full");
	assert_string_equal(dp_frag_err_name(-99), "unknown");
}

static void test_ipv4_two(void **state)
{
	static struct dgram g;

	(void)state;
	mk_tcp(&g, 4, 0, 1200);
	all_orders(&g, 616, 0);
}

static void test_ipv4_three(void **state)
{
	static struct dgram g;

	(void)state;
	mk_tcp(&g, 4, 0, 1200);
	all_orders(&g, 400, 800);
}

/* QinQ tags in every fragment, and a last fragment of 8 bytes padded to 60. */
static void test_ipv4_vlan_small_last(void **state)
{
	static struct dgram g;

	(void)state;
	mk_tcp(&g, 4, 2, 304);                    /* 336 bytes of IP payload */
	all_orders(&g, 200, ip_plen(&g) - 8);
}

/* The first fragment carries IP options, the others do not (RFC 791 3.1: options
 * without the copy flag go in the first fragment only): the datagram keeps them. */
static void test_ipv4_options_first_only(void **state)
{
	static struct dgram g;
	struct dp_frag *fr;
	struct rte_mbuf *out;
	unsigned start;
	int err;

	(void)state;
	mk_tcp(&g, 4, 0, 900);
	add_ip4_opts(&g, 8);
	start = avail();
	fr = mk_table(FLOWS);
	feed_kept(fr, mk_frag_raw(&g, 0, 512, 1, 0, NULL), T0);
	feed_kept(fr, mk_frag_raw(&g, 512, 256, 1, 20, NULL), T0);
	out = feed(fr, mk_frag_raw(&g, 768, ip_plen(&g) - 768, 0, 20, NULL), T0, &err);
	assert_int_equal(err, DP_FRAG_OK);
	expect_dgram(out, &g);
	dp_frag_free(fr);
	assert_int_equal(avail(), start);
}

/* dp_frag_split on an IPv4 datagram with options: the first piece keeps them all, the
 * others only those with the copy bit (RFC 791 3.1: here a Security option, 130, is
 * copied and a Record Route, 7, is not); every piece is a fragment of at most the
 * MTU with a good header checksum, and a table rebuilds the datagram from them.
 * Before, every piece carried every option. */
static void test_split_ipv4_options(void **state)
{
	static struct dgram g;
	struct rte_mbuf *out[DP_FRAG_SPLIT_MAX], *r = NULL;
	static const uint8_t opts[20] = {
		7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0,           /* Record Route: 2 slots */
		130, 6, 0xab, 0xcd, 0xef, 0x01,             /* Security (copied) */
		1, 1, 0,                                    /* NOP, NOP, End */
	};
	struct dp_frag *fr;
	struct dp_pkt p;
	unsigned start;
	int n, err;

	(void)state;
	mk_tcp(&g, 4, 1, 900);
	add_ip4_opts(&g, sizeof(opts));
	memcpy(g.b + g.l3 + 20, opts, sizeof(opts));
	fix_ip4_cksum(g.b + g.l3);
	start = avail();
	struct rte_mbuf *m = rte_pktmbuf_alloc(test_pool());
	assert_non_null(m);
	memcpy(rte_pktmbuf_append(m, (uint16_t)g.len), g.b, g.len);
	assert_int_equal(dp_pkt_parse(g.b, g.len, &p), DP_PKT_TCP);
	n = dp_frag_split(test_pool(), m, &p, 400, 0, out, DP_FRAG_SPLIT_MAX);
	/* (400 - 40) & ~7 = 360 a piece: 3 for 920 + 20 bytes of TCP options and data */
	assert_int_equal(n, 3);
	fr = mk_table(FLOWS);
	for (int k = 0; k < n; k++) {
		const uint8_t *f = rte_pktmbuf_mtod(out[k], const uint8_t *);
		struct dp_pkt q;
		uint32_t hl = (uint32_t)(f[g.l3] & 0x0f) * 4;

		assert_int_equal(dp_pkt_parse(f, rte_pktmbuf_data_len(out[k]), &q), DP_PKT_FRAGMENT);
		assert_true(dp_pkt_ip_cksum_ok(f, &q));
		assert_true(rte_pktmbuf_data_len(out[k]) - g.l3 <= 400);
		if (k == 0) {
			assert_int_equal(hl, 40);
			assert_memory_equal(f + g.l3 + 20, opts, sizeof(opts));
		} else {
			/* the Security option, padded with End of Options to 8 bytes */
			static const uint8_t want[8] = { 130, 6, 0xab, 0xcd, 0xef, 0x01, 0, 0 };

			assert_int_equal(hl, 28);
			assert_memory_equal(f + g.l3 + 20, want, sizeof(want));
		}
		r = feed(fr, out[k], T0, &err);
		assert_int_equal(err, DP_FRAG_OK);
		assert_true(r == NULL || k == n - 1);
	}
	expect_dgram(r, &g);
	rte_pktmbuf_free(m);
	dp_frag_free(fr);
	assert_int_equal(avail(), start);
}

static void test_ipv6_two(void **state)
{
	static struct dgram g;

	(void)state;
	mk_tcp(&g, 6, 0, 1200);
	set_id(&g, 0xdeadbeef);
	all_orders(&g, 640, 0);
}

static void test_ipv6_three(void **state)
{
	static struct dgram g;

	(void)state;
	mk_tcp(&g, 6, 1, 1200);
	all_orders(&g, 400, 800);
}

/* Two datagrams interleaved, told apart by their id. */
static void test_interleaved(void **state)
{
	static struct dgram a, b;
	struct dp_frag *fr;
	struct rte_mbuf *out;
	unsigned start;
	int err;

	(void)state;
	mk_tcp(&a, 4, 0, 1000);
	mk_tcp(&b, 4, 0, 1000);
	set_id(&b, 0x4321);
	b.b[b.len - 1] ^= 0xff;                   /* different bytes; checksum not needed here */
	start = avail();
	fr = mk_table(FLOWS);
	feed_kept(fr, mk_frag(&a, 0, 512, 1), T0);
	feed_kept(fr, mk_frag(&b, 512, ip_plen(&b) - 512, 0), T0);
	feed_kept(fr, mk_frag(&b, 0, 256, 1), T0);
	out = feed(fr, mk_frag(&a, 512, ip_plen(&a) - 512, 0), T0, &err);
	assert_int_equal(err, DP_FRAG_OK);
	expect_dgram(out, &a);
	out = feed(fr, mk_frag(&b, 256, 256, 1), T0, &err);
	assert_int_equal(err, DP_FRAG_OK);
	assert_non_null(out);
	assert_int_equal(rte_pktmbuf_data_len(out), b.len);
	assert_memory_equal(rte_pktmbuf_mtod(out, const uint8_t *), b.b, b.len);
	rte_pktmbuf_free(out);
	dp_frag_free(fr);
	assert_int_equal(avail(), start);
}

/* DPDK 22.11 discards the whole datagram on a duplicate fragment (upstream commit
 * 87ca15b "ip_frag: tolerate duplicate fragments" changes that later): no datagram
 * is ever built from it, and nothing leaks. */
static void test_duplicate(void **state)
{
	static struct dgram g;
	uint32_t end;
	struct dp_frag *fr;
	struct rte_mbuf *out;
	unsigned start;
	int err;

	(void)state;
	mk_tcp(&g, 4, 0, 1200);
	end = ip_plen(&g);
	start = avail();
	fr = mk_table(FLOWS);
	/* a duplicate middle piece: found when the last one arrives */
	feed_kept(fr, mk_frag(&g, 0, 400, 1), T0);
	feed_kept(fr, mk_frag(&g, 400, 400, 1), T0);
	feed_kept(fr, mk_frag(&g, 400, 400, 1), T0);
	feed_err(fr, mk_frag(&g, 800, end - 800, 0), T0, DP_FRAG_EBAD);
	assert_int_equal(avail(), start);
	/* a duplicate first piece: at once */
	feed_kept(fr, mk_frag(&g, 0, 400, 1), T0);
	feed_err(fr, mk_frag(&g, 0, 400, 1), T0, DP_FRAG_EBAD);
	assert_int_equal(avail(), start);
	/* a duplicate after completion starts a new datagram, which expires */
	feed_kept(fr, mk_frag(&g, 0, 616, 1), T0);
	out = feed(fr, mk_frag(&g, 616, end - 616, 0), T0, &err);
	assert_int_equal(err, DP_FRAG_OK);
	expect_dgram(out, &g);
	feed_kept(fr, mk_frag(&g, 616, end - 616, 0), T0);
	assert_int_equal(avail(), start - 1);
	assert_int_equal(dp_frag_expire(fr, T0 + 2 * ttl_cycles()), 1);
	assert_int_equal(avail(), start);
	dp_frag_free(fr);
}

/* Overlapping pieces never make a datagram (what would the server have kept?). */
static void test_overlap(void **state)
{
	static struct dgram g;
	uint32_t end;
	struct dp_frag *fr;
	unsigned start;

	(void)state;
	mk_tcp(&g, 4, 0, 1200);
	end = ip_plen(&g);
	start = avail();
	fr = mk_table(FLOWS);
	/* lengths add up to more than the datagram */
	feed_kept(fr, mk_frag(&g, 0, 400, 1), T0);
	feed_kept(fr, mk_frag(&g, 392, 408, 1), T0);
	feed_err(fr, mk_frag(&g, 800, end - 800, 0), T0, DP_FRAG_EBAD);
	assert_int_equal(avail(), start);
	/* lengths add up exactly, with an overlap and a hole */
	feed_kept(fr, mk_frag(&g, 392, 400, 1), T0);
	feed_kept(fr, mk_frag(&g, 800, end - 800, 0), T0);
	feed_err(fr, mk_frag(&g, 0, 400, 1), T0, DP_FRAG_EBAD);
	assert_int_equal(avail(), start);
	/* IPv6 likewise */
	mk_tcp(&g, 6, 0, 1200);
	end = ip_plen(&g);
	feed_kept(fr, mk_frag(&g, 800, end - 800, 0), T0);
	feed_kept(fr, mk_frag(&g, 0, 408, 1), T0);
	feed_err(fr, mk_frag(&g, 400, 400, 1), T0, DP_FRAG_EBAD);
	assert_int_equal(avail(), start);
	dp_frag_free(fr);
}

/* A datagram missing a piece is held until the TTL, then freed by dp_frag_expire. */
static void test_missing_expires(void **state)
{
	static struct dgram g, h;
	uint32_t end;
	struct dp_frag *fr;
	unsigned start;

	(void)state;
	mk_tcp(&g, 4, 0, 1200);
	mk_tcp(&h, 6, 0, 1200);
	end = ip_plen(&g);
	start = avail();
	fr = mk_table(FLOWS);
	feed_kept(fr, mk_frag(&g, 0, 400, 1), T0);
	feed_kept(fr, mk_frag(&g, 800, end - 800, 0), T0);
	feed_kept(fr, mk_frag(&h, 0, 400, 1), T0 + 5);
	assert_int_equal(avail(), start - 3);
	assert_int_equal(dp_frag_expire(fr, T0 + ttl_cycles() / 2), 0);
	assert_int_equal(avail(), start - 3);
	assert_int_equal(dp_frag_expire(fr, T0 + 2 * ttl_cycles()), 3);
	assert_int_equal(avail(), start);
	assert_int_equal(dp_frag_expire(fr, T0 + 3 * ttl_cycles()), 0);
	/* the late piece starts over, alone, and is freed with the table */
	feed_kept(fr, mk_frag(&g, 400, 400, 1), T0 + 3 * ttl_cycles());
	assert_int_equal(avail(), start - 1);
	dp_frag_free(fr);
	assert_int_equal(avail(), start);
}

/* A fragment arriving after the TTL of another datagram frees that one first; the
 * next dp_frag_expire reports it. */
static void test_expired_freed_by_in(void **state)
{
	static struct dgram g, h;
	struct dp_frag *fr;
	unsigned start;

	(void)state;
	mk_tcp(&g, 4, 0, 1200);
	mk_tcp(&h, 4, 0, 1200);
	set_id(&h, 77);
	start = avail();
	fr = mk_table(FLOWS);
	feed_kept(fr, mk_frag(&g, 0, 400, 1), T0);
	feed_kept(fr, mk_frag(&g, 400, 400, 1), T0);
	feed_kept(fr, mk_frag(&h, 0, 400, 1), T0 + 2 * ttl_cycles());
	assert_int_equal(avail(), start - 1);
	assert_int_equal(dp_frag_expire(fr, T0 + 2 * ttl_cycles()), 2);
	/* the same datagram after its TTL: its old pieces go, the new one stays */
	feed_kept(fr, mk_frag(&h, 400, 400, 1), T0 + 4 * ttl_cycles());
	assert_int_equal(avail(), start - 1);
	assert_int_equal(dp_frag_expire(fr, T0 + 4 * ttl_cycles()), 1);
	dp_frag_free(fr);
	assert_int_equal(avail(), start);
}

/* Too big for one mbuf: refused as soon as a piece shows it, or after reassembly
 * when only the first piece's longer header makes it too big. */
static void test_too_big(void **state)
{
	static struct dgram g;
	struct dp_frag *fr;
	unsigned start, room;

	(void)state;
	mk_tcp(&g, 4, 0, 1400);
	/* stretch the datagram well past one mbuf; its bytes need not be TCP */
	g.len = g.l3 + g.hlen + 3000;
	start = avail();
	fr = mk_table(FLOWS);
	feed_kept(fr, mk_frag(&g, 0, 1480, 1), T0);
	feed_err(fr, mk_frag(&g, 1480, 1480, 1), T0, DP_FRAG_ETOOBIG);
	feed_err(fr, mk_frag(&g, 2960, 40, 0), T0, DP_FRAG_ETOOBIG);
	assert_int_equal(avail(), start - 1);
	assert_int_equal(dp_frag_expire(fr, T0 + 2 * ttl_cycles()), 1);
	assert_int_equal(avail(), start);

	/* each piece fits with a 20-byte header, the datagram with the first one's 60 does not */
	mk_tcp(&g, 4, 0, 1400);
	add_ip4_opts(&g, 40);
	room = rte_pktmbuf_data_room_size(test_pool()) - RTE_PKTMBUF_HEADROOM;
	g.len = room + 40;                        /* L2 + 60 + payload = room + 40 */
	feed_kept(fr, mk_frag_raw(&g, 0, 1000, 1, 0, NULL), T0);
	feed_err(fr, mk_frag_raw(&g, 1000, ip_plen(&g) - 1000, 0, 20, NULL), T0, DP_FRAG_ETOOBIG);
	assert_int_equal(avail(), start);
	/* IPv6 */
	mk_tcp(&g, 6, 0, 1400);
	g.len = g.l3 + 40 + 3000;
	feed_kept(fr, mk_frag(&g, 0, 1480, 1), T0);
	feed_err(fr, mk_frag(&g, 1480, 1520, 0), T0, DP_FRAG_ETOOBIG);
	dp_frag_free(fr);
	assert_int_equal(avail(), start);
}

/* A full table refuses new datagrams and keeps those it has. */
static void test_table_full(void **state)
{
	static struct dgram g;
	uint32_t end;
	struct dp_frag *fr;
	struct rte_mbuf *out;
	unsigned start;
	int err;

	(void)state;
	mk_tcp(&g, 4, 0, 1200);
	end = ip_plen(&g);
	start = avail();
	fr = mk_table(2);
	for (uint32_t id = 1; id <= 2; id++) {
		set_id(&g, id);
		feed_kept(fr, mk_frag(&g, 0, 400, 1), T0);
	}
	set_id(&g, 3);
	feed_err(fr, mk_frag(&g, 0, 400, 1), T0, DP_FRAG_ETABLE);
	assert_int_equal(avail(), start - 2);
	/* completing one frees a slot */
	set_id(&g, 1);
	feed_kept(fr, mk_frag(&g, 400, 400, 1), T0);
	out = feed(fr, mk_frag(&g, 800, end - 800, 0), T0, &err);
	assert_int_equal(err, DP_FRAG_OK);
	expect_dgram(out, &g);
	set_id(&g, 3);
	feed_kept(fr, mk_frag(&g, 0, 400, 1), T0);
	set_id(&g, 4);
	feed_err(fr, mk_frag(&g, 0, 400, 1), T0, DP_FRAG_ETABLE);
	/* after the TTL the old ones give way */
	feed_kept(fr, mk_frag(&g, 0, 400, 1), T0 + 2 * ttl_cycles());
	assert_int_equal(dp_frag_expire(fr, T0 + 2 * ttl_cycles()), 2);
	assert_int_equal(avail(), start - 1);
	dp_frag_free(fr);
	assert_int_equal(avail(), start);
}

/* Fragments refused before they reach the table. */
static void test_refused(void **state)
{
	static struct dgram g;
	struct dp_frag *fr;
	struct rte_mbuf *m, *m2;
	struct dp_pkt p;
	unsigned start;
	int err;

	(void)state;
	mk_tcp(&g, 4, 0, 1200);
	start = avail();
	fr = mk_table(FLOWS);
	/* IPv4, not TCP */
	g.b[g.l3 + 9] = IPPROTO_UDP;
	fix_ip4_cksum(g.b + g.l3);
	feed_err(fr, mk_frag(&g, 0, 400, 1), T0, DP_FRAG_EPROTO);
	g.b[g.l3 + 9] = IPPROTO_TCP;
	fix_ip4_cksum(g.b + g.l3);
	/* a middle piece whose length is not a multiple of 8 */
	feed_err(fr, mk_frag(&g, 0, 404, 1), T0, DP_FRAG_EBAD);
	/* a bad header checksum */
	m = mk_frag(&g, 0, 400, 1);
	rte_pktmbuf_mtod(m, uint8_t *)[g.l3 + 10] ^= 0x55;
	feed_err(fr, m, T0, DP_FRAG_EBAD);
	/* a datagram longer than 65535 bytes */
	feed_err(fr, mk_frag_raw(&g, 65528, 400, 0, 0, g.b), T0, DP_FRAG_EBAD);
	/* a two-segment mbuf */
	m = mk_frag(&g, 0, 400, 1);
	m2 = rte_pktmbuf_alloc(test_pool());
	assert_non_null(m2);
	assert_non_null(rte_pktmbuf_append(m2, 10));
	assert_int_equal(rte_pktmbuf_chain(m, m2), 0);
	feed_err(fr, m, T0, DP_FRAG_EBAD);
	/* IPv6 with a hop-by-hop header before the fragment header */
	mk_tcp(&g, 6, 0, 1200);
	m = mk_frag(&g, 0, 400, 1);
	{
		uint8_t f[FRAME_MAX];
		uint32_t len = rte_pktmbuf_data_len(m), at = g.l3 + 40;
		uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);

		memcpy(f, d, at);
		f[at] = IPPROTO_FRAGMENT;          /* hop-by-hop: next header, length 0, PadN */
		f[at + 1] = 0;
		f[at + 2] = 1;
		f[at + 3] = 4;
		memset(f + at + 4, 0, 4);
		memcpy(f + at + 8, d + at, len - at);
		f[g.l3 + 6] = 0;                  /* IPv6 next header: hop-by-hop */
		put16(f + g.l3 + 4, (uint16_t)(len - at + 8));
		assert_non_null(rte_pktmbuf_append(m, 8));
		memcpy(d, f, len + 8);
	}
	assert_int_equal(dp_pkt_parse(rte_pktmbuf_mtod(m, const uint8_t *),
				      rte_pktmbuf_data_len(m), &p), DP_PKT_FRAGMENT);
	assert_null(dp_frag_in(fr, test_pool(), m, &p, T0, &err, NULL));
	assert_int_equal(err, DP_FRAG_EPROTO);
	assert_int_equal(dp_frag_expire(fr, T0 + 2 * ttl_cycles()), 0);
	dp_frag_free(fr);
	assert_int_equal(avail(), start);
}

/* More pieces than rte_ip_frag keeps per datagram (RTE_LIBRTE_IP_FRAG_MAX_FRAG). */
static void test_too_many_pieces(void **state)
{
	static struct dgram g;
	struct dp_frag *fr;
	unsigned start, i;
	int err = 0;

	(void)state;
	mk_tcp(&g, 4, 0, 1200);
	start = avail();
	fr = mk_table(FLOWS);
	for (i = 0; i < 20 && err == 0; i++) {
		struct rte_mbuf *out = feed(fr, mk_frag(&g, i * 48, 48, 1), T0, &err);

		assert_null(out);
	}
	assert_int_equal(err, DP_FRAG_EBAD);
	assert_true(i <= RTE_LIBRTE_IP_FRAG_MAX_FRAG + 1);
	assert_int_equal(avail(), start);
	dp_frag_free(fr);
}

/* An IPv6 datagram whose reassembled payload starts with another fragment header:
 * dropped, never handed back as a fragment to reassemble again. */
static void test_ipv6_nested(void **state)
{
	static struct dgram g;
	uint8_t inner[128];
	uint32_t id = htonl(99);
	struct dp_frag *fr;
	unsigned start;

	(void)state;
	mk_tcp(&g, 6, 0, 200);
	/* inner fragment header (TCP follows, offset 0, M=1), then TCP bytes */
	inner[0] = IPPROTO_TCP;
	inner[1] = 0;
	put16(inner + 2, 1);
	memcpy(inner + 4, &id, 4);
	memcpy(inner + 8, g.b + g.l3 + 40, sizeof(inner) - 8);
	g.proto = IPPROTO_FRAGMENT;
	start = avail();
	fr = mk_table(FLOWS);
	feed_kept(fr, mk_frag_raw(&g, 0, 64, 1, 0, inner), T0);
	feed_err(fr, mk_frag_raw(&g, 64, 64, 0, 0, inner + 64), T0, DP_FRAG_EBAD);
	dp_frag_free(fr);
	assert_int_equal(avail(), start);
}

/* Feeds garbage piece [<off>, <off> + <len>) of a datagram like <g>, filled with
 * <junk>; checks what comes out. Returns 1 if a datagram came out. */
static unsigned feed_junk(struct dp_frag *fr, const struct dgram *g, uint32_t off, uint32_t len,
			  int more, const uint8_t *junk, uint64_t now)
{
	struct rte_mbuf *m = mk_frag_raw(g, off, len, more, 0, junk), *out;
	struct dp_pkt p;
	int err, st;

	st = dp_pkt_parse(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m), &p);
	if (st != DP_PKT_FRAGMENT) {
		rte_pktmbuf_free(m);
		return 0;
	}
	out = dp_frag_in(fr, test_pool(), m, &p, now, &err, NULL);
	if (out == NULL) {
		assert_true(err <= 0 && err >= DP_FRAG_ENOMEM);
		return 0;
	}
	assert_int_equal(err, DP_FRAG_OK);
	assert_int_equal(out->nb_segs, 1);
	st = dp_pkt_parse(rte_pktmbuf_mtod(out, const uint8_t *), rte_pktmbuf_data_len(out), &p);
	assert_int_not_equal(st, DP_PKT_FRAGMENT);
	rte_pktmbuf_free(out);
	return 1;
}

/* Random pieces of a few datagrams, IPv4 and IPv6: either any offset, length and
 * flag, or a plausible split of a datagram fed in random order with, now and then,
 * one piece shifted, resized or left out. Nothing crashes, whatever comes out is one
 * unfragmented frame, and nothing leaks. */
static void test_garbage(void **state)
{
	static struct dgram g4, g6;
	static uint8_t junk[1600];
	uint32_t seed = 0x2545f491;
	uint64_t now = T0;
	struct dp_frag *fr;
	unsigned start, made = 0;

	(void)state;
	mk_tcp(&g4, 4, 0, 100);
	mk_tcp(&g6, 6, 1, 100);
	start = avail();
	fr = mk_table(8);
	for (unsigned i = 0; i < 3000; i++) {
		struct dgram *g = (rnd(&seed) & 1) ? &g4 : &g6;
		uint32_t r = rnd(&seed), off, len;

		for (unsigned k = 0; k < sizeof(junk); k++)
			junk[k] = (uint8_t)rnd(&seed);
		g->id = r & 3;
		if (r & 0x400) {
			off = (r & 0x100) ? (rnd(&seed) % 8192) * 8 : (rnd(&seed) % 64) * 8;
			len = 1 + rnd(&seed) % 1400;
			if ((r & 0x200) == 0)
				len = (len + 7) & ~7u;
			made += feed_junk(fr, g, off, len, (r >> 4) & 1, junk, now);
		} else {
			unsigned n = 2 + rnd(&seed) % 4, order[6], mut = rnd(&seed) % 8;
			uint32_t cut[7];

			/* n pieces of 8 to 256 bytes each, in 8-byte units */
			cut[0] = 0;
			for (unsigned k = 1; k <= n; k++)
				cut[k] = cut[k - 1] + 8 * (1 + rnd(&seed) % 32);
			for (unsigned k = 0; k < n; k++)
				order[k] = k;
			for (unsigned k = n - 1; k > 0; k--) {
				unsigned j = rnd(&seed) % (k + 1), t = order[k];

				order[k] = order[j];
				order[j] = t;
			}
			for (unsigned k = 0; k < n; k++) {
				unsigned q = order[k];

				off = cut[q];
				len = cut[q + 1] - cut[q];
				if (k == 0 && mut == 1)
					continue;                 /* left out */
				if (k == 0 && mut == 2 && q > 0)
					off -= 8;                 /* overlaps the previous piece */
				if (k == 0 && mut == 3)
					len += 8;                 /* overlaps the next piece */
				made += feed_junk(fr, g, off, len, q != n - 1, junk + cut[q] % 256, now);
				if (k == 0 && mut == 4)           /* duplicated */
					made += feed_junk(fr, g, off, len, q != n - 1, junk, now);
			}
		}
		now += rnd(&seed) % (ttl_cycles() / 8);
		if (i % 97 == 0)
			dp_frag_expire(fr, now);
	}
	dp_frag_expire(fr, now + 2 * ttl_cycles());
	assert_int_equal(avail(), start);
	dp_frag_free(fr);
	assert_int_equal(avail(), start);
	/* the plausible splits left untouched must have made datagrams */
	assert_true(made > 100);
	print_message("garbage: %u datagrams came out\n", made);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_args),
		cmocka_unit_test(test_ipv4_two),
		cmocka_unit_test(test_ipv4_three),
		cmocka_unit_test(test_ipv4_vlan_small_last),
		cmocka_unit_test(test_ipv4_options_first_only),
		cmocka_unit_test(test_split_ipv4_options),
		cmocka_unit_test(test_ipv6_two),
		cmocka_unit_test(test_ipv6_three),
		cmocka_unit_test(test_interleaved),
		cmocka_unit_test(test_duplicate),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_missing_expires),
		cmocka_unit_test(test_expired_freed_by_in),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_table_full),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_too_many_pieces),
		cmocka_unit_test(test_ipv6_nested),
		cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
