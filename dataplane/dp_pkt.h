/* dp_pkt.h - L2/L3/L4 header parsing and TCP header rewriting helpers.
 *
 * Parsing never writes to the frame; rewriting helpers update the checksum
 * incrementally (RFC 1624) so that an unchanged payload is not read again.
 */
#ifndef TG_DP_PKT_H
#define TG_DP_PKT_H

#include <stdint.h>
#include <netinet/in.h>
#include "dataplane/dp_pkt-t.h"

/* Extension headers of the usual shape (next header, length in 8-byte units less 1)
 * that <netinet/in.h> does not name: Mobility (RFC 6275), HIP (RFC 7401), Shim6 (RFC
 * 5533). RFC 7045 asks a middlebox to walk every extension header IANA lists, so that
 * a TCP segment behind one of them is inspected, not taken for another protocol. */
#define DP_IP6_NH_MOBILITY 135
#define DP_IP6_NH_HIP      139
#define DP_IP6_NH_SHIM6    140

/* Is next header <nh> an IPv6 extension header (one the parser walks past)? */
static inline int dp_pkt_ip6_ext(uint8_t nh)
{
	switch (nh) {
	case IPPROTO_HOPOPTS: case IPPROTO_ROUTING: case IPPROTO_DSTOPTS: case IPPROTO_AH:
	case IPPROTO_FRAGMENT: case DP_IP6_NH_MOBILITY: case DP_IP6_NH_HIP: case DP_IP6_NH_SHIM6:
		return 1;
	default:
		return 0;
	}
}

/* Parses the frame <data> of <len> bytes into <p>.
 * Ethernet, up to two 802.1Q/802.1ad tags, IPv4 (options skipped), IPv6 (hop-by-hop,
 * routing, destination options and AH extension headers skipped; a fragment header
 * makes it DP_PKT_FRAGMENT), TCP with its options decoded.
 * Returns an enum dp_pkt_status; on negative returns <p> is partially filled.
 */
int dp_pkt_parse(const uint8_t *data, uint32_t len, struct dp_pkt *p);

/* Verifies the TCP checksum of the parsed frame. Returns 1 if good, 0 if bad. */
int dp_pkt_tcp_cksum_ok(const uint8_t *data, const struct dp_pkt *p);

/* Verifies the IPv4 header checksum (always 1 for IPv6). */
int dp_pkt_ip_cksum_ok(const uint8_t *data, const struct dp_pkt *p);

/* Writes a fresh TCP checksum into the frame at <data>: TCP at <l4_off>, its IP header
 * (version <ip_ver>) at <l3_off>, whose length fields must already be right, since the
 * TCP length is taken from them. IPv4 options and IPv6 extension headers between the
 * two are left out of the pseudo-header, as RFC 8200 8.1 wants (DPDK's IPv6 helper
 * takes the bare header's next header and length, which are wrong then). */
void dp_pkt_tcp_cksum_fill(uint8_t *data, unsigned l3_off, unsigned l4_off, uint8_t ip_ver);

/* Recomputes the TCP checksum (and the IPv4 header checksum) of the frame from scratch,
 * after a change of payload or lengths. The frame must have been parsed into <p>, and
 * <p>->payload_len must hold the new payload length. Also rewrites the IP length field. */
void dp_pkt_fix_lengths_and_cksum(uint8_t *data, const struct dp_pkt *p);

/* Rewrites a 32-bit TCP header field at byte offset <field_off> from the TCP header
 * start (4 = seq, 8 = ack, or a SACK/timestamp field) to <val> (host order), updating
 * the TCP checksum incrementally. */
void dp_pkt_tcp_set32(uint8_t *data, const struct dp_pkt *p, uint32_t field_off, uint32_t val);

/* Same for a 16-bit field (14 = window). */
void dp_pkt_tcp_set16(uint8_t *data, const struct dp_pkt *p, uint32_t field_off, uint16_t val);

/* Returns a printable name of a parse status ("tcp", "truncated", ...). */
const char *dp_pkt_status_name(int status);

#endif
