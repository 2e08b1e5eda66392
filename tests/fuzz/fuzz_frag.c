/* fuzz_frag.c - libFuzzer target: IP fragment reassembly (dp_frag_in) and cutting a
 * datagram again (dp_frag_split) on any sequence of frames.
 *
 * Input: byte 0 picks the MTU the datagrams are cut to again (68 + 8 * byte), then
 * frames, each a 2-byte big-endian length and that many bytes. Every frame is parsed;
 * a fragment goes to the table; a datagram that comes out must parse as a whole
 * datagram (never as a fragment), and if it is longer than the MTU its pieces from
 * dp_frag_split must each parse as fragments of at most that MTU, whose payloads put
 * back in order are the datagram's. No mbuf may be left out of the pool at the end:
 * the table is freed, and with it what it held. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "dataplane/dp_pkt.h"
#include "dataplane/frag.h"
#include "tests/common/test_eal.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static struct rte_mempool *pool;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	CHECK(test_eal_init() == 0);
	pool = test_pool();
	CHECK(pool != NULL);
	return 0;
}

/* The pieces <out>[0..n) of datagram <d> (parsed as <p>), cut at <mtu>: fragments of at
 * most <mtu> bytes of IP, each with the datagram's IP header in front of its slice. */
static void check_pieces(const struct rte_mbuf *d, const struct dp_pkt *p, uint16_t mtu,
			 struct rte_mbuf **out, int n)
{
	const uint8_t *dd = rte_pktmbuf_mtod(d, const uint8_t *);
	uint32_t hl = p->ip_ver == 4 ? (uint32_t)(dd[p->l3_off] & 0x0f) * 4 : 40;
	uint32_t fh = p->ip_ver == 4 ? 0 : 8, at = 0;

	for (int k = 0; k < n; k++) {
		const uint8_t *f = rte_pktmbuf_mtod(out[k], const uint8_t *);
		uint32_t len = rte_pktmbuf_data_len(out[k]);
		struct dp_pkt q;
		int st = dp_pkt_parse(f, len, &q);

		CHECK(len - p->l3_off <= mtu);
		CHECK(len > p->l3_off + hl + fh);
		/* a piece may fail to parse only as its datagram would have (a header the
		 * parser refuses); the first of several is a fragment */
		CHECK(n == 1 || st == DP_PKT_FRAGMENT || st < 0);
		CHECK(memcmp(f + p->l3_off + hl + fh, dd + p->l3_off + hl + at,
			     len - p->l3_off - hl - fh) == 0);
		at += len - p->l3_off - hl - fh;
	}
	CHECK(at == p->frame_len - p->l3_off - hl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dp_frag *fr;
	unsigned avail0;
	uint16_t mtu;
	size_t pos = 1;
	uint64_t now = 1000000;

	if (size < 1)
		return 0;
	mtu = (uint16_t)(68 + 8 * data[0]);
	avail0 = rte_mempool_avail_count(pool);
	fr = dp_frag_create(16, 2000, 0);
	CHECK(fr != NULL);
	while (pos + 2 <= size) {
		uint32_t len = (uint32_t)data[pos] << 8 | data[pos + 1];
		struct rte_mbuf *m, *d, *out[DP_FRAG_SPLIT_MAX];
		struct dp_pkt p, q;
		int err, n;
		uint8_t *b;

		pos += 2;
		if (len > size - pos)
			len = (uint32_t)(size - pos);
		if (len > 2048 || len < 14)
			break;
		m = rte_pktmbuf_alloc(pool);
		CHECK(m != NULL);
		b = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
		CHECK(b != NULL);
		memcpy(b, data + pos, len);
		pos += len;
		now += 1000;
		if (dp_pkt_parse(b, len, &p) != DP_PKT_FRAGMENT) {
			rte_pktmbuf_free(m);
			continue;
		}
		d = dp_frag_in(fr, pool, m, &p, now, &err);
		CHECK(dp_frag_err_name(err) != NULL);
		if (d == NULL)
			continue;
		int st = dp_pkt_parse(rte_pktmbuf_mtod(d, const uint8_t *), rte_pktmbuf_data_len(d), &q);
		CHECK(st != DP_PKT_FRAGMENT);
		if (st >= 0 && st != DP_PKT_NON_IP && q.frame_len - q.l3_off > mtu) {
			n = dp_frag_split(pool, d, &q, mtu, 0x1234, out, DP_FRAG_SPLIT_MAX);
			if (n > 0) {
				check_pieces(d, &q, mtu, out, n);
				rte_pktmbuf_free_bulk(out, (unsigned)n);
			}
		}
		rte_pktmbuf_free(d);
	}
	dp_frag_free(fr);
	CHECK(rte_mempool_avail_count(pool) == avail0);
	return 0;
}
