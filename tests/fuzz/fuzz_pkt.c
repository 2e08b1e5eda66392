/* fuzz_pkt.c - libFuzzer target: dp_pkt_parse() on any frame; for TCP, the
 * checksum checks, and a rewrite that must leave a frame with a good checksum. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/dp_pkt.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dp_pkt p, q;
	uint8_t *copy;
	int rc;

	if (size > UINT16_MAX)
		return 0;
	rc = dp_pkt_parse(data, (uint32_t)size, &p);
	CHECK(dp_pkt_status_name(rc) != NULL);
	CHECK(p.n_vlan <= DP_PKT_MAX_VLAN);
	if (rc != DP_PKT_TCP)
		return 0;

	CHECK(p.l3_off < p.l4_off && p.l4_off < p.payload_off);
	CHECK(p.tcp_hlen >= 20 && p.tcp_hlen <= 60 && p.tcp_hlen % 4 == 0);
	CHECK(p.payload_off == p.l4_off + p.tcp_hlen);
	CHECK((uint32_t)p.payload_off + p.payload_len <= size);
	CHECK(p.frame_len <= size);
	CHECK(p.opt.n_sack <= 4);
	(void)dp_pkt_tcp_cksum_ok(data, &p);
	(void)dp_pkt_ip_cksum_ok(data, &p);

	/* The rewriting helpers work on a copy of the frame. */
	copy = malloc(size);
	CHECK(copy != NULL);
	memcpy(copy, data, size);
	dp_pkt_fix_lengths_and_cksum(copy, &p);
	dp_pkt_tcp_set32(copy, &p, 4, p.seq + 1000);
	dp_pkt_tcp_set16(copy, &p, 14, (uint16_t)(p.win ^ 0x5a5a));
	CHECK(dp_pkt_parse(copy, (uint32_t)size, &q) == DP_PKT_TCP);
	CHECK(q.seq == p.seq + 1000 && q.payload_len == p.payload_len);
	CHECK(dp_pkt_tcp_cksum_ok(copy, &q) == 1);
	CHECK(dp_pkt_ip_cksum_ok(copy, &q) == 1);
	free(copy);
	return 0;
}
