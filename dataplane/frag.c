/* frag.c - IP fragment reassembly on rte_ip_frag, copied into one mbuf (see frag.h). */
#define ALLOW_EXPERIMENTAL_API 1      /* rte_ip_frag_table_del_expired_entries */
#include <limits.h>
#include <string.h>
#include <netinet/in.h>
#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include "dataplane/frag.h"
#include "dataplane/dp_pkt.h"

#define FRAG_BUCKET_ENTRIES 16        /* hash associativity (power of two) */
#define FRAG_PREFETCH       3         /* death row entries prefetched before freeing */
#define FRAG_TTL_MAX_MS     3600000u  /* keeps start + max_cycles far from wrapping */
#define IP_DGRAM_MAX        65535u    /* largest IPv4 datagram / IPv6 payload */
#define IP6_HLEN            40u
#define IP6_FRAG_HLEN       8u
#define L2_LEN_MAX          127u      /* width of mbuf->l2_len (7 bits) */

struct dp_frag {
	struct rte_ip_frag_tbl *tbl;  /* rte_ip_frag's table of datagrams in progress */
	unsigned max_entries;         /* datagrams the table may hold */
	uint64_t timeout_freed;       /* fragments freed by expiry since dp_frag_expire */
	struct rte_ip_frag_death_row dr; /* mbufs rte_ip_frag released, freed before
					  * every return; empty between calls */
};

static int frag_check(struct rte_mempool *pool, struct rte_mbuf *m, const struct dp_pkt *p);
static void frag_purge(struct dp_frag *fr, uint64_t now_tsc);
static int frag_classify(struct dp_frag *fr, const struct rte_mbuf *m);
static struct rte_mbuf *frag_linearize(struct rte_mempool *pool, struct rte_mbuf *dg, int *err);
static int frag_nested(const struct rte_mbuf *out);

struct dp_frag *dp_frag_create(unsigned max_flows, uint64_t ttl_ms, int socket)
{
	struct dp_frag *fr;
	uint64_t cycles;
	uint32_t buckets;

	if (max_flows == 0 || ttl_ms == 0 || ttl_ms > FRAG_TTL_MAX_MS)
		return NULL;
	fr = rte_zmalloc_socket("dp_frag", sizeof(*fr), RTE_CACHE_LINE_SIZE, socket);
	if (fr == NULL)
		return NULL;
	cycles = (rte_get_tsc_hz() + 999) / 1000 * ttl_ms;
	/* rte_ip_frag uses two hash functions, so the table has 2 * pow2(buckets) *
	 * FRAG_BUCKET_ENTRIES slots: 2 to 4 per flow. */
	buckets = (max_flows + FRAG_BUCKET_ENTRIES - 1) / FRAG_BUCKET_ENTRIES;
	fr->tbl = rte_ip_frag_table_create(buckets, FRAG_BUCKET_ENTRIES, max_flows, cycles, socket);
	if (fr->tbl == NULL) {
		rte_free(fr);
		return NULL;
	}
	fr->max_entries = max_flows;
	return fr;
}

void dp_frag_free(struct dp_frag *fr)
{
	if (fr == NULL)
		return;
	rte_ip_frag_free_death_row(&fr->dr, 0);
	/* frees the mbufs of every datagram still in progress */
	rte_ip_frag_table_destroy(fr->tbl);
	rte_free(fr);
}

/* The IP length of the largest piece of reassembled chain <dg>: the head (offset 0)
 * holds L2, the IP header and its data (rte_ip_frag has removed an IPv6 head's
 * fragment header), every other segment its data only, its header length still in
 * l3_len. */
static uint16_t frag_piece_max(const struct rte_mbuf *dg, uint8_t ip_ver)
{
	uint32_t max = dg->data_len - dg->l2_len + (ip_ver == 6 ? IP6_FRAG_HLEN : 0);

	for (const struct rte_mbuf *s = dg->next; s != NULL; s = s->next)
		if ((uint32_t)s->data_len + s->l3_len > max)
			max = (uint32_t)s->data_len + s->l3_len;
	return max > UINT16_MAX ? UINT16_MAX : (uint16_t)max;
}

struct rte_mbuf *dp_frag_in(struct dp_frag *fr, struct rte_mempool *pool, struct rte_mbuf *m,
			    const struct dp_pkt *p, uint64_t now_tsc, int *err, uint16_t *piece_max)
{
	struct rte_mbuf *dg, *out = NULL;
	uint8_t *l3;
	int e;

	e = frag_check(pool, m, p);
	if (e != DP_FRAG_OK) {
		rte_pktmbuf_free(m);
		*err = e;
		return NULL;
	}
	/* Expired datagrams go first, so that everything rte_ip_frag puts on the death
	 * row below belongs to <m>'s datagram: that is how its NULL return ("not yet"
	 * or "dropped") is told apart. */
	frag_purge(fr, now_tsc);
	l3 = rte_pktmbuf_mtod_offset(m, uint8_t *, p->l3_off);
	if (p->ip_ver == 4)
		dg = rte_ipv4_frag_reassemble_packet(fr->tbl, &fr->dr, m, now_tsc,
						     (struct rte_ipv4_hdr *)l3);
	else
		dg = rte_ipv6_frag_reassemble_packet(fr->tbl, &fr->dr, m, now_tsc,
						     (struct rte_ipv6_hdr *)l3,
						     (struct rte_ipv6_fragment_ext *)(l3 + IP6_HLEN));
	/* <m> may be freed, held or part of <dg> now: only its address is used below. */
	e = frag_classify(fr, dg == NULL ? m : NULL);
	rte_ip_frag_free_death_row(&fr->dr, FRAG_PREFETCH);
	if (dg != NULL && piece_max != NULL)
		*piece_max = frag_piece_max(dg, p->ip_ver);
	if (dg != NULL)
		out = frag_linearize(pool, dg, &e);
	if (out != NULL && p->ip_ver == 6 && frag_nested(out)) {
		rte_pktmbuf_free(out);
		out = NULL;
		e = DP_FRAG_EBAD;
	}
	*err = e;
	return out;
}

unsigned dp_frag_expire(struct dp_frag *fr, uint64_t now_tsc)
{
	uint64_t n;

	frag_purge(fr, now_tsc);
	n = fr->timeout_freed;
	fr->timeout_freed = 0;
	return n > UINT_MAX ? UINT_MAX : (unsigned)n;
}

const char *dp_frag_err_name(int err)
{
	switch (err) {
	case DP_FRAG_OK:      return "ok";
	case DP_FRAG_EBAD:    return "bad";
	case DP_FRAG_EPROTO:  return "unsupported";
	case DP_FRAG_ETOOBIG: return "too_big";
	case DP_FRAG_ETABLE:  return "table_full";
	case DP_FRAG_ENOMEM:  return "no_mbuf";
	}
	return "unknown";
}

/* Validates fragment <m> (parsed into <p>) beyond what the parser checked, for what
 * rte_ip_frag 22.11 would get wrong or what could never be output, and sets the
 * l2_len / l3_len that rte_ip_frag reads. Returns DP_FRAG_OK or a dp_frag_err. */
static int frag_check(struct rte_mempool *pool, struct rte_mbuf *m, const struct dp_pkt *p)
{
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t l3_len, hdr_len, ofs, len, room;
	int more;

	if (m->nb_segs != 1 || p->l3_off > L2_LEN_MAX || p->l4_off <= p->l3_off ||
	    p->l4_off > rte_pktmbuf_data_len(m))
		return DP_FRAG_EBAD;
	l3_len = (uint32_t)p->l4_off - p->l3_off;
	if (p->ip_ver == 4) {
		const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(d + p->l3_off);
		uint16_t fo = rte_be_to_cpu_16(ip->fragment_offset);

		if (p->l4_proto != IPPROTO_TCP)
			return DP_FRAG_EPROTO;
		if (l3_len != rte_ipv4_hdr_len(ip) || !dp_pkt_ip_cksum_ok(d, p) ||
		    rte_be_to_cpu_16(ip->total_length) < l3_len)
			return DP_FRAG_EBAD;
		ofs = (uint32_t)(fo & RTE_IPV4_HDR_OFFSET_MASK) * RTE_IPV4_HDR_OFFSET_UNITS;
		more = (fo & RTE_IPV4_HDR_MF_FLAG) != 0;
		len = rte_be_to_cpu_16(ip->total_length) - l3_len;
		hdr_len = l3_len;
	} else if (p->ip_ver == 6) {
		const struct rte_ipv6_hdr *ip6 = (const struct rte_ipv6_hdr *)(d + p->l3_off);
		const struct rte_ipv6_fragment_ext *fh = (const struct rte_ipv6_fragment_ext *)(ip6 + 1);
		uint16_t fd, plen = rte_be_to_cpu_16(ip6->payload_len);

		/* rte_ip_frag removes the fragment header from right behind the IPv6
		 * header and patches that header's next-header field; with anything in
		 * between it would build a corrupt datagram. */
		if (ip6->proto != IPPROTO_FRAGMENT || l3_len != IP6_HLEN + IP6_FRAG_HLEN)
			return DP_FRAG_EPROTO;
		if (plen < IP6_FRAG_HLEN)
			return DP_FRAG_EBAD;
		fd = rte_be_to_cpu_16(fh->frag_data);
		ofs = (uint32_t)RTE_IPV6_GET_FO(fd) * RTE_IPV6_EHDR_FO_ALIGN;
		more = RTE_IPV6_GET_MF(fd) != 0;
		len = plen - IP6_FRAG_HLEN;
		hdr_len = 0;          /* the payload length excludes the IPv6 header */
	} else {
		return DP_FRAG_EBAD;
	}
	/* Not a fragment; an empty one; a middle piece that would leave the next one
	 * misaligned (hosts drop it); a datagram whose 16-bit length would wrap (22.11
	 * does not check it). */
	if ((ofs == 0 && !more) || len == 0 || (more && len % 8 != 0) ||
	    ofs + len + hdr_len > IP_DGRAM_MAX)
		return DP_FRAG_EBAD;
	/* Early refusal of a datagram that cannot fit; frag_linearize checks the real
	 * size again (the first fragment's header may be longer than this one's). */
	room = rte_pktmbuf_data_room_size(pool);
	room = room > RTE_PKTMBUF_HEADROOM ? room - RTE_PKTMBUF_HEADROOM : 0;
	if ((uint32_t)p->l3_off + (p->ip_ver == 4 ? l3_len : IP6_HLEN) + ofs + len > room)
		return DP_FRAG_ETOOBIG;
	m->l2_len = p->l3_off;
	m->l3_len = l3_len;
	return DP_FRAG_OK;
}

/* Moves every datagram older than the TTL to the death row and frees it, counting
 * its fragments in timeout_freed. Each pass starts with an empty death row, which
 * always has room for one datagram, so each pass that frees nothing is the last. */
static void frag_purge(struct dp_frag *fr, uint64_t now_tsc)
{
	for (unsigned pass = 0; pass <= fr->max_entries; pass++) {
		rte_ip_frag_table_del_expired_entries(fr->tbl, &fr->dr, now_tsc);
		if (fr->dr.cnt == 0)
			return;
		for (uint32_t i = 0; i < fr->dr.cnt; i++)
			fr->timeout_freed += fr->dr.row[i]->nb_segs;
		rte_ip_frag_free_death_row(&fr->dr, FRAG_PREFETCH);
	}
}

/* After rte_ip_frag returned NULL for <m>: was <m> kept or dropped? (<m> is NULL
 * when a datagram was returned.) Dropped means it is on the death row, alone or
 * chained behind another fragment (a reassembly that found a hole has chained part
 * of the datagram already). rte_ip_frag drops <m> alone only when no table slot
 * was free (overlaps, duplicates and holes drop the fragments already held as well).
 * Returns DP_FRAG_OK if <m> is held, else the reason. Reads only mbuf headers,
 * before the death row is freed. */
static int frag_classify(struct dp_frag *fr, const struct rte_mbuf *m)
{
	struct rte_ip_frag_death_row *dr = &fr->dr;

	for (uint32_t i = 0; i < dr->cnt; i++) {
		for (const struct rte_mbuf *s = dr->row[i]; s != NULL; s = s->next) {
			if (s != m)
				continue;
			if (dr->cnt == 1 && dr->row[0] == m && m->next == NULL)
				return DP_FRAG_ETABLE;
			return DP_FRAG_EBAD;
		}
	}
	/* Not expected after frag_purge, but whatever was freed had timed out. */
	for (uint32_t i = 0; i < dr->cnt; i++)
		fr->timeout_freed += dr->row[i]->nb_segs;
	return DP_FRAG_OK;
}

/* Copies the reassembled chain <dg> (data at its L2 header) into one new mbuf from
 * <pool>, rewrites the IPv4 header checksum that rte_ip_frag leaves at 0, and frees
 * <dg>. Returns the copy, or NULL with *<err> set (ETOOBIG or ENOMEM). */
static struct rte_mbuf *frag_linearize(struct rte_mempool *pool, struct rte_mbuf *dg, int *err)
{
	uint32_t len = rte_pktmbuf_pkt_len(dg), off = 0;
	struct rte_mbuf *n = rte_pktmbuf_alloc(pool);
	uint8_t *d;

	if (n == NULL) {
		*err = DP_FRAG_ENOMEM;
		goto fail;
	}
	if (len > rte_pktmbuf_tailroom(n) || len < (uint32_t)dg->l2_len + sizeof(struct rte_ipv4_hdr)) {
		*err = len > rte_pktmbuf_tailroom(n) ? DP_FRAG_ETOOBIG : DP_FRAG_EBAD;
		goto fail;
	}
	d = (uint8_t *)rte_pktmbuf_append(n, (uint16_t)len);
	for (const struct rte_mbuf *s = dg; s != NULL && off < len; s = s->next) {
		uint32_t k = RTE_MIN((uint32_t)s->data_len, len - off);

		memcpy(d + off, rte_pktmbuf_mtod(s, const uint8_t *), k);
		off += k;
	}
	if (off != len) {
		*err = DP_FRAG_EBAD;
		goto fail;
	}
	if ((d[dg->l2_len] >> 4) == 4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(d + dg->l2_len);

		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	}
	n->port = dg->port;
	rte_pktmbuf_free(dg);
	*err = DP_FRAG_OK;
	return n;
fail:
	rte_pktmbuf_free(n);
	rte_pktmbuf_free(dg);
	return NULL;
}

/* Does the reassembled IPv6 datagram <out> carry a fragment header again (nested
 * fragmentation, an evasion trick; RFC 8200 allows one fragment header)? Such a
 * datagram is dropped, so that what dp_frag_in returns never parses as a fragment and
 * a datagram is reassembled at most once. IPv4 cannot nest: MF and offset are 0. */
static int frag_nested(const struct rte_mbuf *out)
{
	struct dp_pkt q;

	return dp_pkt_parse(rte_pktmbuf_mtod(out, const uint8_t *), rte_pktmbuf_data_len(out),
			    &q) == DP_PKT_FRAGMENT;
}

/* RFC 791 3.1: of the options of IPv4 header <ip> (<hl> bytes), only those whose copy
 * bit is set go into every fragment; the others (Record Route, Timestamp) stay in the
 * first. Writes the header of the later pieces to <later> (padded with End of Options
 * to a multiple of 4) and returns its length; with options it cannot walk, the whole
 * header, as it is (hosts accept options anywhere). */
static uint32_t ip4_copied_opts(const uint8_t *ip, uint32_t hl, uint8_t *later)
{
	uint32_t o = 20, w = 20;

	memcpy(later, ip, 20);
	while (o < hl && ip[o] != 0) {         /* 0: End of Options */
		uint32_t ol;

		if (ip[o] == 1) {                  /* No Operation: not copied */
			o++;
			continue;
		}
		if (o + 1 >= hl || (ol = ip[o + 1]) < 2 || o + ol > hl) {
			memcpy(later, ip, hl);
			return hl;
		}
		if (ip[o] & 0x80) {
			memcpy(later + w, ip + o, ol);
			w += ol;
		}
		o += ol;
	}
	while (w % 4)
		later[w++] = 0;
	later[0] = (uint8_t)(0x40 | w / 4);
	return w;
}

int dp_frag_split(struct rte_mempool *pool, const struct rte_mbuf *m, const struct dp_pkt *p,
		  uint16_t mtu, uint32_t id, struct rte_mbuf **out, unsigned max)
{
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t l3 = p->l3_off, end = p->frame_len, hl, fh, chunk, n, off, hl_later;
	uint8_t later[60];                     /* IPv4: the header of every piece but the first */

	if (p->ip_ver == 4) {
		hl = (uint32_t)(d[l3] & 0x0f) * 4;
		fh = 0;
	} else {
		hl = IP6_HLEN;
		fh = 8;                            /* the fragment header each piece gets */
	}
	if (end <= l3 + hl || mtu < hl + fh + 8)
		return -1;
	hl_later = hl;
	if (p->ip_ver == 4 && hl > 20)
		hl_later = ip4_copied_opts(d + l3, hl, later);
	chunk = (mtu - hl - fh) & ~7u;
	n = (end - l3 - hl + chunk - 1) / chunk;
	if (n > max || rte_pktmbuf_alloc_bulk(pool, out, n) != 0)
		return -1;
	off = 0;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t len = end - l3 - hl - off < chunk ? end - l3 - hl - off : chunk;
		uint32_t h = k == 0 ? hl : hl_later;   /* never longer than the first's */
		uint8_t *f = (uint8_t *)rte_pktmbuf_append(out[k], (uint16_t)(l3 + h + fh + len));
		int more = k + 1 < n;

		if (f == NULL) {
			rte_pktmbuf_free_bulk(out, n);
			return -1;
		}
		memcpy(f, d, l3);                  /* L2 */
		memcpy(f + l3, k == 0 || h == hl ? d + l3 : later, h);
		memcpy(f + l3 + h + fh, d + l3 + hl + off, len);
		if (p->ip_ver == 4) {
			struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(f + l3);
			/* the reassembled header's offset is 0 and MF clear; DF stays as it was
			 * (clear: the datagram came in fragments) */
			uint16_t fo = rte_be_to_cpu_16(ip->fragment_offset) & ~RTE_IPV4_HDR_OFFSET_MASK &
				      ~RTE_IPV4_HDR_MF_FLAG;

			ip->total_length = rte_cpu_to_be_16((uint16_t)(h + len));
			ip->fragment_offset = rte_cpu_to_be_16((uint16_t)(fo | (more ? RTE_IPV4_HDR_MF_FLAG : 0) |
									  off / 8));
			ip->hdr_checksum = 0;
			ip->hdr_checksum = rte_ipv4_cksum(ip);
		} else {
			uint8_t *x = f + l3 + hl;
			uint16_t om = (uint16_t)(off | (more ? 1 : 0));   /* offset << 3 | M */

			x[0] = f[l3 + 6];                  /* the next header, now after this one */
			x[1] = 0;
			x[2] = (uint8_t)(om >> 8);
			x[3] = (uint8_t)om;
			x[4] = (uint8_t)(id >> 24);
			x[5] = (uint8_t)(id >> 16);
			x[6] = (uint8_t)(id >> 8);
			x[7] = (uint8_t)id;
			f[l3 + 6] = IPPROTO_FRAGMENT;
			f[l3 + 4] = (uint8_t)((fh + len) >> 8);
			f[l3 + 5] = (uint8_t)(fh + len);
		}
		out[k]->port = m->port;
		off += len;
	}
	return (int)n;
}
