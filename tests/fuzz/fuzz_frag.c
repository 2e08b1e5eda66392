/* fuzz_frag.c - libFuzzer target: IP fragment reassembly (dp_frag_in) and cutting a
 * datagram again (dp_frag_split) on any sequence of frames.
 *
 * Input: bytes 0-1 (big-endian) pick the MTU the datagrams are cut to again (68 to
 * 9216), then frames, each a 2-byte big-endian length and that many bytes. Every frame
 * is parsed; a fragment goes to the table; a datagram that comes out must parse as a
 * whole datagram (never as a fragment), and if it is longer than the MTU its pieces
 * from dp_frag_split must each parse as a fragment of at most that MTU, their payloads
 * put back in order must be the datagram's, and (up to rte_ip_frag's limit of pieces)
 * a second fragment table must rebuild the very datagram from them: a wrong length,
 * offset, flag or checksum in a piece's header fails one of these (a review planted
 * four such bugs; the first version of this target caught none). No mbuf may be left
 * out of the pool at the end: the tables are freed, and with them what they held. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <rte_config.h>
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
 * most <mtu> bytes of IP, each with the datagram's IP header in front of its slice,
 * which a fragment table puts back together as <d>. */
static void check_pieces(const struct rte_mbuf *d, const struct dp_pkt *p, uint16_t mtu,
			 struct rte_mbuf **out, int n)
{
	const uint8_t *dd = rte_pktmbuf_mtod(d, const uint8_t *);
	uint32_t hl = p->ip_ver == 4 ? (uint32_t)(dd[p->l3_off] & 0x0f) * 4 : 40;
	uint32_t fh = p->ip_ver == 4 ? 0 : 8, at = 0;

	for (int k = 0; k < n; k++) {
		const uint8_t *f = rte_pktmbuf_mtod(out[k], const uint8_t *);
		uint32_t len = rte_pktmbuf_data_len(out[k]);
		/* an IPv4 piece after the first carries only the copied options */
		uint32_t h = p->ip_ver == 4 ? (uint32_t)(f[p->l3_off] & 0x0f) * 4 : 40;
		struct dp_pkt q;

		CHECK(len - p->l3_off <= mtu);
		CHECK(h <= hl && (k > 0 || h == hl));
		CHECK(len > p->l3_off + h + fh);
		CHECK(dp_pkt_parse(f, len, &q) == DP_PKT_FRAGMENT);
		CHECK(memcmp(f + p->l3_off + h + fh, dd + p->l3_off + hl + at,
			     len - p->l3_off - h - fh) == 0);
		at += len - p->l3_off - h - fh;
	}
	CHECK(at == p->frame_len - p->l3_off - hl);
	/* IPv4 fragments of other protocols than TCP are refused by the table (frag.c) */
	if (n > RTE_LIBRTE_IP_FRAG_MAX_FRAG || (p->ip_ver == 4 && p->l4_proto != 6))
		return;
	struct dp_frag *fr = dp_frag_create(4, 2000, 0);
	struct rte_mbuf *r = NULL;

	CHECK(fr != NULL);
	for (int k = 0; k < n; k++) {
		struct rte_mbuf *c = rte_pktmbuf_copy(out[k], pool, 0, UINT32_MAX), *x;
		struct dp_pkt q;
		int err;

		CHECK(c != NULL);
		CHECK(dp_pkt_parse(rte_pktmbuf_mtod(c, const uint8_t *), rte_pktmbuf_data_len(c), &q) ==
		      DP_PKT_FRAGMENT);
		x = dp_frag_in(fr, pool, c, &q, 1000 + (uint64_t)k, &err, NULL);
		CHECK(err == DP_FRAG_OK);
		CHECK(x == NULL || k == n - 1);
		r = x;
	}
	CHECK(r != NULL);
	CHECK(rte_pktmbuf_data_len(r) == p->frame_len);
	CHECK(memcmp(rte_pktmbuf_mtod(r, const uint8_t *), dd, p->frame_len) == 0);
	rte_pktmbuf_free(r);
	dp_frag_free(fr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dp_frag *fr;
	unsigned avail0;
	uint16_t mtu;
	size_t pos = 2;
	uint64_t now = 1000000;

	if (size < 2)
		return 0;
	mtu = (uint16_t)(68 + ((uint32_t)data[0] << 8 | data[1]) % (9216 - 68 + 1));
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
		d = dp_frag_in(fr, pool, m, &p, now, &err, NULL);
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
