/* stream_edit.c - the TCP stream editor: out-space bookkeeping, emission, retransmission.
 *
 * Each direction keeps anchors that map the receiver's sequence numbers (out-space)
 * back to the sender's (in-space); see tcp-t.h. Everything emitted stays in the
 * direction's rtx queue until the receiver acknowledges it, so that a retransmission
 * by the sender is answered with exactly the bytes first emitted (masked bytes stay
 * masked; different bytes never reach the receiver), and injected bytes, which no
 * sender will retransmit, are retransmitted here on timeout.
 *
 * Every emitted segment carries the sender's latest state: ACK (translated), window,
 * and timestamps (TSval never older than the last one the sender sent, so that the
 * receiver's PAWS check accepts it).
 */
#include <string.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_byteorder.h>
#include "dataplane/tcp_int.h"
#include "dataplane/tcp.h"
#include "dataplane/worker.h"
#include "dataplane/dp_counters.h"
#include "dataplane/dp_pkt-t.h"
#include "dataplane/dp_pkt.h"

#define SE_MAX_INJ_TRIES 8
#define SE_RTX_BURST     8       /* segments one timer call retransmits per direction */

/* ---- sequence maps (the lookups are inline in tcp_int.h) ---- */

/* Drops anchors wholly below what the receiver acknowledged: no ACK, SACK or
 * retransmission will ever refer to them again. */
static void anchors_gc(struct tcp_dir *d)
{
	unsigned k = 0;

	while (k + 1 < d->n_anchor && SEQ_LEQ(d->anchor[k + 1].out, d->out_una))
		k++;
	if (k) {
		memmove(&d->anchor[0], &d->anchor[k], (d->n_anchor - k) * sizeof(d->anchor[0]));
		d->n_anchor -= (uint8_t)k;
	}
}

/* Appends an anchor. Returns 0, or -1 when the map is full (too many edits in flight). */
static int anchor_add(struct tcp_dir *d, uint32_t out, uint32_t in, uint32_t flat)
{
	struct tcp_anchor *last;

	anchors_gc(d);
	last = d->n_anchor ? &d->anchor[d->n_anchor - 1] : NULL;
	if (last && last->out == out && last->flat == 0 && flat == 0) {
		last->in = in; /* two removals back to back: one anchor */
		return 0;
	}
	if (last && flat && last->flat && last->in == in && last->out + last->flat == out) {
		last->flat += flat; /* two injections back to back: one anchor */
		return 0;
	}
	if (d->n_anchor >= TCP_MAX_ANCHORS)
		return -1;
	d->anchor[d->n_anchor++] = (struct tcp_anchor){ .out = out, .in = in, .flat = flat };
	return 0;
}

/* ---- checksums ---- */

/* RFC 1624 incremental update of a one's complement checksum for one 16-bit word.
 * Works on words as they lie in memory: the sum does not depend on byte order. */
static inline void ck_upd16(uint16_t *ck, uint16_t old, uint16_t new)
{
	uint32_t s = (uint16_t)~*ck + (uint32_t)(uint16_t)~old + new;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	*ck = (uint16_t)~s;
}

/* Writes host-order <v> at byte <off> of TCP header <th> (off even), updating <ck>. */
static inline void put32(uint8_t *th, uint16_t *ck, unsigned off, uint32_t v)
{
	uint16_t old[2], new[2];
	uint32_t be = rte_cpu_to_be_32(v), cur;

	memcpy(&cur, th + off, 4);
	if (cur == be)
		return; /* the common case of a segment forwarded unedited: nothing to sum */
	memcpy(old, &cur, 4);
	memcpy(new, &be, 4);       /* from registers: no load of the bytes just stored */
	memcpy(th + off, &be, 4);
	ck_upd16(ck, old[0], new[0]);
	ck_upd16(ck, old[1], new[1]);
}

static inline void put16(uint8_t *th, uint16_t *ck, unsigned off, uint16_t v)
{
	uint16_t old, be = rte_cpu_to_be_16(v);

	memcpy(&old, th + off, 2);
	if (old == be)
		return;
	memcpy(th + off, &be, 2);
	ck_upd16(ck, old, be);
}

/* Writes the pair <a>, <b> at <off> and <off> + 4 of <th> (a timestamp or SACK
 * option field pair), updating <ck>. A pair at an odd offset is not summed by
 * words: it is written as is, and 1 says that the caller must recompute. */
static inline int put32_pair(uint8_t *th, uint16_t *ck, unsigned off, uint32_t a, uint32_t b)
{
	if (off & 1) {
		uint32_t ba = rte_cpu_to_be_32(a), bb = rte_cpu_to_be_32(b);

		memcpy(th + off, &ba, 4);
		memcpy(th + off + 4, &bb, 4);
		return 1;
	}
	put32(th, ck, off, a);
	put32(th, ck, off + 4, b);
	return 0;
}

/* ---- frames ---- */

static inline int ts_on(const struct flow *f)
{
	return f->tcp.dir[0].ts_ok && f->tcp.dir[1].ts_ok;
}

/* Largest payload the receiver of <dir> accepts in one segment. */
static uint32_t mss_to(const struct flow *f, int dir)
{
	uint32_t mss = f->tcp.dir[dir ^ 1].mss ? f->tcp.dir[dir ^ 1].mss : 536;

	return ts_on(f) ? mss - 12 : mss;
}

/* Recomputes the checksums of kept, built or forwarded frame <m> of flow <f>: the IP
 * header at tseg->l3_off, TCP at tseg->l4_off. A frame forwarded as its sender sent it
 * may carry IPv4 options or IPv6 extension headers in between, which
 * dp_pkt_tcp_cksum_fill() leaves out of the pseudo-header. */
static void seg_full_cksum(const struct flow *f, struct rte_mbuf *m)
{
	const struct tcp_seg *s = tseg(m);
	uint8_t *base = rte_pktmbuf_mtod(m, uint8_t *);

	if (f->tcp.ip_ver == 4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(base + s->l3_off);

		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	}
	dp_pkt_tcp_cksum_fill(base, s->l3_off, s->l4_off, f->tcp.ip_ver);
}

/* Builds a fresh frame of direction <dir>: the sender's addresses and latest header
 * state, <flags>, out-space <seq>, and <len> bytes of <payload>. With <payload> NULL and
 * <len> > 0 the payload room is left for the caller to fill and checksum. Returns NULL
 * (counted) when no mbuf is left. */
static struct rte_mbuf *build_frame(struct dp_worker *w, const struct flow *f, int dir,
				    uint8_t flags, uint32_t seq, const uint8_t *payload, uint32_t len)
{
	const struct tcp_conn *c = &f->tcp;
	const struct tcp_dir *d = &c->dir[dir];
	int ss = tcp_sender_side(f, dir);
	unsigned l2 = 14 + 4u * c->n_vlan;
	unsigned l3 = c->ip_ver == 6 ? 40 : 20;
	unsigned thl = ts_on(f) ? 32 : 20;
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->pool);
	uint8_t *p, *th;
	uint16_t et;

	if (m == NULL) {
		DP_WCNT_INC(w, mbuf_alloc_fail);
		return NULL;
	}
	p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(l2 + l3 + thl + len));
	if (p == NULL) {
		rte_pktmbuf_free(m);
		DP_WCNT_INC(w, mbuf_alloc_fail);
		return NULL;
	}
	memcpy(p, d->eth, 12);
	for (unsigned i = 0; i < c->n_vlan; i++) {
		uint16_t tpid = rte_cpu_to_be_16(i == 0 && c->n_vlan == 2 ? RTE_ETHER_TYPE_QINQ
								       : RTE_ETHER_TYPE_VLAN);
		uint16_t tci = rte_cpu_to_be_16(c->vlan[i]);
		memcpy(p + 12 + 4 * i, &tpid, 2);
		memcpy(p + 14 + 4 * i, &tci, 2);
	}
	et = rte_cpu_to_be_16(c->ip_ver == 6 ? RTE_ETHER_TYPE_IPV6 : RTE_ETHER_TYPE_IPV4);
	memcpy(p + l2 - 2, &et, 2);
	if (c->ip_ver == 6) {
		struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)(p + l2);
		ip6->vtc_flow = rte_cpu_to_be_32((6u << 28) | ((uint32_t)d->tos << 20));
		ip6->payload_len = rte_cpu_to_be_16((uint16_t)(thl + len));
		ip6->proto = IPPROTO_TCP;
		ip6->hop_limits = d->ttl;
		memcpy(ip6->src_addr, f->key.addr[ss], 16);
		memcpy(ip6->dst_addr, f->key.addr[!ss], 16);
	} else {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + l2);
		ip->version_ihl = 0x45;
		ip->type_of_service = d->tos;
		ip->total_length = rte_cpu_to_be_16((uint16_t)(20 + thl + len));
		ip->packet_id = 0;
		ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
		ip->time_to_live = d->ttl;
		ip->next_proto_id = IPPROTO_TCP;
		ip->src_addr = f->key.addr[ss][0];
		ip->dst_addr = f->key.addr[!ss][0];
	}
	th = p + l2 + l3;
	struct rte_tcp_hdr *t = (struct rte_tcp_hdr *)th;
	t->src_port = rte_cpu_to_be_16(f->key.port[ss]);
	t->dst_port = rte_cpu_to_be_16(f->key.port[!ss]);
	t->sent_seq = rte_cpu_to_be_32(seq);
	t->recv_ack = rte_cpu_to_be_32(d->ack_seen ? se_ack_value(f, dir) : 0);
	t->data_off = (uint8_t)((thl / 4) << 4);
	t->tcp_flags = (uint8_t)(flags | (d->ack_seen ? DP_TCP_ACK : 0));
	t->rx_win = rte_cpu_to_be_16(d->last_win_raw);
	t->tcp_urp = 0;
	if (thl == 32) {
		uint32_t v = rte_cpu_to_be_32(d->last_tsval), e = rte_cpu_to_be_32(d->last_tsecr);
		th[20] = 1; th[21] = 1; th[22] = 8; th[23] = 10;
		memcpy(th + 24, &v, 4);
		memcpy(th + 28, &e, 4);
	}
	tseg(m)->l4_off = (uint16_t)(l2 + l3);
	tseg(m)->l3_off = (uint8_t)l2;
	tseg(m)->ts_off = thl == 32 ? 24 : 0;
	tseg(m)->off = (uint16_t)(l2 + l3 + thl);
	tseg(m)->len = (uint16_t)len;
	tseg(m)->flags = 0;
	tseg(m)->tries = 0;           /* the private area holds a former user's values */
	tseg(m)->mem = 0;
	if (payload == NULL && len)
		return m; /* the caller copies the payload in and sums */
	if (len)
		memcpy(th + thl, payload, len);
	seg_full_cksum(f, m);
	return m;
}

/* The ACK value an emission of <dir> carries now: se_ack_value once the sender has
 * acknowledged anything, else 0. Computed once per frame by the callers below and
 * passed on: nothing between a header rewrite and the send changes it. */
static inline uint32_t ack_now(const struct flow *f, int dir)
{
	return f->tcp.dir[dir].ack_seen ? se_ack_value(f, dir) : 0;
}

/* Rewrites the header of a kept frame <m> (TCP at tseg->l4_off) to out-space <seq>,
 * <flags> and the sender's latest ACK (<ack>, from ack_now), window and timestamps. */
static inline void rewrite_hdr(const struct flow *f, int dir, struct rte_mbuf *m,
			       uint32_t seq, uint8_t flags, int full, uint32_t ack)
{
	const struct tcp_dir *d = &f->tcp.dir[dir];
	struct tcp_seg *s = tseg(m);
	uint8_t *th = rte_pktmbuf_mtod(m, uint8_t *) + s->l4_off;
	struct rte_tcp_hdr *t = (struct rte_tcp_hdr *)th;
	uint16_t ck = t->cksum;
	uint16_t fw_old, fw_new;
	uint8_t fl[2];

	put32(th, &ck, 4, seq);
	if (d->ack_seen)
		put32(th, &ck, 8, ack);
	/* the new flags word is built in registers: reading it back after the byte store
	 * would stall on a failed store-to-load forward (a narrow store, a wide load) */
	fl[0] = th[12];
	fl[1] = (uint8_t)(flags | (d->ack_seen ? DP_TCP_ACK : 0));
	if (fl[1] != th[13]) {
		memcpy(&fw_old, th + 12, 2);
		memcpy(&fw_new, fl, 2);
		th[13] = fl[1];
		ck_upd16(&ck, fw_old, fw_new);
	}
	put16(th, &ck, 14, d->last_win_raw);
	if (s->ts_off && d->ts_seen &&
	    put32_pair(th, &ck, s->ts_off, d->last_tsval, d->last_tsecr))
		full = 1;
	t->cksum = ck;
	if (full)
		seg_full_cksum(f, m);
}

/* Sends <m> to the receiver of <dir>, noting the ACK value it carries (<ack>, from
 * ack_now). */
static inline void send_to_receiver(struct dp_worker *w, struct flow *f, int dir,
				    struct rte_mbuf *m, uint32_t ack)
{
	struct tcp_dir *d = &f->tcp.dir[dir];

	d->emitted_ack = ack;
	dp_worker_emit(w, tcp_out_port(f, dir), m);
}

/* Sends <m> to the receiver of <dir>, keeping a reference in the rtx queue; <ack> is
 * ack_now's value (the bookkeeping here does not change it). */
static inline void emit_keep(struct dp_worker *w, struct flow *f, int dir, struct rte_mbuf *m,
			     uint32_t out_seq, uint32_t in_seq, uint8_t segflags, uint32_t ack)
{
	struct tcp_dir *d = &f->tcp.dir[dir];
	struct tcp_seg *s = tseg(m);

	s->seq = out_seq;
	s->in_seq = in_seq;
	s->flags = (uint8_t)((s->flags & TCP_SEG_EDITED) | segflags);
	s->sent_ns = w->now_ns;
	s->tries = 0;
	if (!(segflags & TCP_SEG_INJECTED) && d->preack_on && SEQ_LT(in_seq, d->preack))
		s->flags |= TCP_SEG_OWNED; /* its sender will not retransmit it: we must */
	if ((s->flags & (TCP_SEG_OWNED | TCP_SEG_INJECTED)) && !f->tcp.rtx_armed) {
		TAILQ_INSERT_TAIL(&w->rtx_flows, f, rtx_link);
		f->tcp.rtx_armed = 1;
	}
	if (s->mem == 0 && tcp_mem_charge(w, m) < 0) {
		/* Over the memcap: send without keeping a copy; a later retransmission of
		 * these bytes by the sender is then forwarded as the sender sends it. */
		d->lossy = 1;
		DP_WCNT_INC(w, rtx_not_kept);
	} else {
		rte_mbuf_refcnt_update(m, 1);
		segq_push(&d->rtx, m);
	}
	send_to_receiver(w, f, dir, m, ack);
}

/* ---- emission ---- */

static void emit_injection(struct dp_worker *w, struct flow *f, int dir, struct tcp_pending_inj *pi)
{
	struct tcp_dir *d = &f->tcp.dir[dir];
	struct rte_mbuf *pm = pi->m, *next;

	for (; pm; pm = next) {
		next = tseg(pm)->next;
		struct rte_mbuf *fm = build_frame(w, f, dir, DP_TCP_PSH, d->out_nxt,
						  rte_pktmbuf_mtod(pm, uint8_t *), pm->data_len);
		if (fm) {
			uint32_t seq = d->out_nxt;
			d->out_nxt += pm->data_len;
			emit_keep(w, f, dir, fm, seq, pi->at, TCP_SEG_INJECTED, ack_now(f, dir));
		} else {
			d->out_nxt += pm->data_len; /* the timer cannot resend it: the receiver will
						     * never see these bytes; reset instead */
			f->tcp.reset = 1;
		}
		rte_pktmbuf_free(pm);
	}
	pi->m = NULL;
}

static void pop_injection(struct tcp_dir *d)
{
	memmove(&d->inj[0], &d->inj[1], (d->n_inj - 1) * sizeof(d->inj[0]));
	d->n_inj--;
}

/* Bytes the receiver of <dir> accepts beyond what was emitted: its last ACK plus its
 * window, minus what is in flight. UINT32_MAX before it has said anything. */
static uint32_t emit_room(const struct flow *f, int dir)
{
	const struct tcp_dir *d = &f->tcp.dir[dir];
	const struct tcp_dir *r = &f->tcp.dir[dir ^ 1];
	uint32_t edge;

	if (!r->ack_seen)
		return UINT32_MAX;
	edge = r->last_ack + r->last_win;
	return SEQ_GT(edge, d->out_nxt) ? edge - d->out_nxt : 0;
}

/* Emits one fresh segment of up to <n> held bytes starting at d->fwd, gathered from
 * consecutive held segments (stopping at a removed gap), so that re-segmenting at
 * message boundaries does not multiply the number of packets. Consumed held segments
 * are freed, a partly consumed one is trimmed. <n> is updated to what was sent.
 * Returns 0, or -1 when no mbuf was left. */
static int emit_gather(struct dp_worker *w, struct flow *f, int dir, uint32_t n, uint32_t out,
		       uint32_t in)
{
	struct tcp_dir *d = &f->tcp.dir[dir];
	uint32_t avail = 0, got = 0;
	uint8_t edited = 0;
	struct rte_mbuf *m, *fm;
	uint8_t *dst;

	/* how many contiguous bytes the hold has from fwd, up to n */
	for (m = d->hold.head; m && avail < n; m = tseg(m)->next) {
		if (tseg(m)->seq != d->fwd + avail)
			break;
		avail += tseg(m)->len;
	}
	if (avail < n)
		n = avail;
	fm = build_frame(w, f, dir, DP_TCP_PSH, out, NULL, n);
	if (fm == NULL)
		return -1;
	dst = rte_pktmbuf_mtod(fm, uint8_t *) + tseg(fm)->off;
	while (got < n) {
		struct tcp_seg *s;
		uint32_t take;
		m = d->hold.head;
		s = tseg(m);
		take = s->len < n - got ? s->len : n - got;
		memcpy(dst + got, tseg_data(m), take);
		edited |= s->flags & TCP_SEG_EDITED;
		got += take;
		if (take == s->len) {
			segq_pop(&d->hold);
			tcp_mem_free(w, m);
		} else {
			tseg_trim_front(s, take);
			d->hold.bytes -= take;
		}
	}
	/* build_frame left the payload room unsummed: sum now that it is copied in */
	seg_full_cksum(f, fm);
	tseg(fm)->flags = edited;
	emit_keep(w, f, dir, fm, out, in, 0, ack_now(f, dir));
	d->out_nxt += n;
	d->fwd += n;
	return 0;
}

void se_emit_run(struct dp_worker *w, struct flow *f, int dir)
{
	struct tcp_dir *d = &f->tcp.dir[dir];

	for (;;) {
		uint32_t limit = d->release;
		struct rte_mbuf *m;
		struct tcp_seg *s;

		if (d->n_inj && d->inj[0].at == d->fwd) {
			emit_injection(w, f, dir, &d->inj[0]);
			pop_injection(d);
			continue;
		}
		if (d->n_inj && SEQ_LT(d->inj[0].at, limit))
			limit = d->inj[0].at;
		if (SEQ_GEQ(d->fwd, limit))
			break;
		m = d->hold.head;
		if (m == NULL) {
			/* the held bytes up to <limit> were all removed */
			d->fwd = SEQ_MIN(limit, d->nxt);
			if (d->fwd != limit)
				break;
			continue;
		}
		s = tseg(m);
		if (SEQ_GT(s->seq, d->fwd)) {
			/* a removed range: those bytes count as forwarded */
			d->fwd = SEQ_MIN(s->seq, limit);
			continue;
		}
		uint32_t n = SEQ_MIN(s->seq + s->len, limit) - d->fwd;
		uint32_t out = d->out_nxt;
		uint32_t in = d->fwd;
		uint32_t mss = mss_to(f, dir);
		if (n > mss)
			n = mss;
		/* Never past the receiver's window. The sender keeps to it by itself, except
		 * for bytes the appliance pre-acknowledged: those wait here until the
		 * receiver's next ACK opens the window (tcp_segment emits both directions on
		 * every segment). */
		uint32_t room = emit_room(f, dir);
		if (room == 0)
			break;
		if (n > room)
			n = room;
		if (n == s->len && (s->flags & TCP_SEG_WHOLE)) {
			uint32_t ack = ack_now(f, dir);
			segq_pop(&d->hold);
			rewrite_hdr(f, dir, m, out, DP_TCP_PSH, (s->flags & TCP_SEG_EDITED) != 0, ack);
			emit_keep(w, f, dir, m, out, in, 0, ack);
			d->out_nxt += n;
			d->fwd += n;
		} else {
			n = SEQ_MIN(limit - d->fwd, mss);
			if (emit_gather(w, f, dir, n, out, in) < 0)
				break; /* no mbuf: try again on the next packet or timer */
		}
	}
	if (d->fin_seen && !d->fin_fwd && d->fwd == d->fin_seq && d->hold.head == NULL &&
	    d->n_inj == 0) {
		se_emit_ctl(w, f, dir, DP_TCP_FIN, d->out_nxt);
		d->out_nxt++;
		d->fin_fwd = 1;
	}
}

void se_emit_ctl(struct dp_worker *w, struct flow *f, int dir, uint8_t flags, uint32_t seq)
{
	struct rte_mbuf *m = build_frame(w, f, dir, flags, seq, NULL, 0);

	if (m != NULL)
		send_to_receiver(w, f, dir, m, ack_now(f, dir));
}


void se_forward_ctl(struct dp_worker *w, struct flow *f, int dir, struct rte_mbuf *m,
		    const struct dp_pkt *p, uint32_t seq, uint8_t flags)
{
	const struct tcp_dir *rd = &f->tcp.dir[dir ^ 1];
	uint8_t *base = rte_pktmbuf_mtod(m, uint8_t *);
	uint8_t *th = base + p->l4_off;
	uint32_t ack = ack_now(f, dir);
	int full = 0;

	if (p->payload_len || rte_pktmbuf_pkt_len(m) != (uint32_t)p->payload_off) {
		/* strip the payload (and any Ethernet padding): a header-only segment */
		rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_pkt_len(m) - p->payload_off));
		if (p->ip_ver == 6) {
			struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)(base + p->l3_off);
			ip6->payload_len = rte_cpu_to_be_16((uint16_t)(p->payload_off - p->l3_off - 40));
		} else {
			struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(base + p->l3_off);
			ip->total_length = rte_cpu_to_be_16((uint16_t)(p->payload_off - p->l3_off));
		}
		full = 1;                 /* rewrite_hdr sums the IP and TCP headers again */
	}
	tseg_adopt(m, p);
	/* SACK blocks name the other direction's out-space: translate them back */
	if (p->opt.n_sack && rd->n_anchor) {
		uint16_t ck = ((struct rte_tcp_hdr *)th)->cksum;
		for (unsigned i = 0; i < p->opt.n_sack; i++) {
			unsigned o = p->opt.sack_off + 8 * i;
			if (put32_pair(th, &ck, o, se_out_to_in(rd, p->opt.sack[i][0]),
				       se_out_to_in(rd, p->opt.sack[i][1])))
				full = 1;
		}
		((struct rte_tcp_hdr *)th)->cksum = ck;
	}
	rewrite_hdr(f, dir, m, seq, flags, full, ack);
	send_to_receiver(w, f, dir, m, ack);
}

/* ---- acknowledgements and retransmission ---- */

/* Sends a copy of kept segment <m> of <dir> again, with the sender's current header
 * state, and counts it in counter <cnt>. Returns 0, or -1 when no mbuf was left. */
static int resend(struct dp_worker *w, struct flow *f, int dir, struct rte_mbuf *m,
		  enum dp_counter_id cnt)
{
	struct rte_mbuf *fm = build_frame(w, f, dir, DP_TCP_PSH, tseg(m)->seq, tseg_data(m),
					  tseg(m)->len);

	if (fm == NULL)
		return -1;
	DP_WCNT_INC_ID(w, cnt);
	dp_worker_emit(w, tcp_out_port(f, dir), fm);
	return 0;
}

void se_on_ack_run(struct dp_worker *w, struct flow *f, int dir, uint32_t out_ack)
{
	struct tcp_dir *d = &f->tcp.dir[dir];
	struct rte_mbuf *m;

	if (out_ack == d->out_una && (m = d->rtx.head) != NULL &&
	    (tseg(m)->flags & (TCP_SEG_OWNED | TCP_SEG_INJECTED))) {
		/* Fast retransmit of the appliance's own bytes: their sender will not resend
		 * them, so three duplicate ACKs from the receiver are ours to answer (a
		 * timeout alone would stall the stream for an RTO at every loss). */
		if (++d->dupacks == 3) {
			if (resend(w, f, dir, m, DP_CNT_tcp_inject_rtx) == 0)
				tseg(m)->sent_ns = w->now_ns;
			d->dupacks = 0;
		}
		return;
	}
	if (!SEQ_GT(out_ack, d->out_una) || SEQ_GT(out_ack, d->out_nxt))
		return;
	d->dupacks = 0;
	d->out_una = out_ack;
	while ((m = d->rtx.head) != NULL && SEQ_LEQ(tseg(m)->seq + tseg(m)->len, out_ack)) {
		segq_pop(&d->rtx);
		tcp_mem_free(w, m);
	}
	anchors_gc(d);
}

int se_replay(struct dp_worker *w, struct flow *f, int dir, uint32_t from, uint32_t to)
{
	struct tcp_dir *d = &f->tcp.dir[dir];
	uint32_t covered = 0;

	for (struct rte_mbuf *m = d->rtx.head; m; m = tseg(m)->next) {
		struct tcp_seg *s = tseg(m);
		if (s->flags & TCP_SEG_INJECTED)
			continue;
		if (SEQ_LEQ(s->in_seq + s->len, from) || SEQ_GEQ(s->in_seq, to))
			continue;
		covered += SEQ_MIN(s->in_seq + s->len, to) - SEQ_MAX(s->in_seq, from);
		if (resend(w, f, dir, m, DP_CNT_tcp_rtx_replayed) < 0)
			return 1;
	}
	/* bytes the receiver already acknowledged need no copy */
	uint32_t acked_in = se_out_to_in(d, d->out_una);
	if (SEQ_LT(from, acked_in))
		covered += SEQ_MIN(acked_in, to) - from;
	return SEQ_GEQ(covered, to - from);
}

void se_forward_data(struct dp_worker *w, struct flow *f, int dir, struct rte_mbuf *m,
		     const struct dp_pkt *p)
{
	uint32_t ack = ack_now(f, dir);

	tseg_adopt(m, p);
	rewrite_hdr(f, dir, m, se_in_to_out(&f->tcp.dir[dir], p->seq), DP_TCP_PSH, 0, ack);
	send_to_receiver(w, f, dir, m, ack);
}

/* Compares [seq, seq+len) of <data> with the overlapping part of one kept segment. */
static int seg_differs(struct rte_mbuf *m, uint32_t s_seq, uint32_t seq, const uint8_t *data,
		       uint32_t len)
{
	struct tcp_seg *s = tseg(m);
	uint32_t lo = SEQ_MAX(s_seq, seq), hi = SEQ_MIN(s_seq + s->len, seq + len);

	if (!SEQ_LT(lo, hi))
		return 0;
	return memcmp(tseg_data(m) + (lo - s_seq), data + (lo - seq), hi - lo) != 0;
}

int se_differs(struct flow *f, int dir, uint32_t seq, const uint8_t *data, uint32_t len)
{
	struct tcp_dir *d = &f->tcp.dir[dir];

	for (struct rte_mbuf *m = d->hold.head; m; m = tseg(m)->next)
		if (!(tseg(m)->flags & TCP_SEG_EDITED) && seg_differs(m, tseg(m)->seq, seq, data, len))
			return 1;
	for (struct rte_mbuf *m = d->rtx.head; m; m = tseg(m)->next)
		if (!(tseg(m)->flags & (TCP_SEG_EDITED | TCP_SEG_INJECTED)) &&
		    seg_differs(m, tseg(m)->in_seq, seq, data, len))
			return 1;
	return 0;
}

int tcp_conn_rtx_timer(struct dp_worker *w, struct flow *f)
{
	struct tcp_conn *c = &f->tcp;
	int pending = 0;

	if (c->rto_ns == 0)
		c->rto_ns = (uint64_t)(w->cfg->rto_ms ? w->cfg->rto_ms : 200) * 1000000ull;
	for (int dir = 0; dir < 2; dir++) {
		struct tcp_dir *d = &c->dir[dir];
		const struct tcp_dir *r = &c->dir[dir ^ 1];
		/* never beyond the receiver's window: a receiver that is slow to read (or
		 * advertises zero) would drop the bytes, and each try would count */
		uint32_t edge = r->ack_seen ? r->last_ack + r->last_win : d->out_una + 65535;
		unsigned sent = 0;
		for (struct rte_mbuf *m = d->rtx.head; m; m = tseg(m)->next) {
			struct tcp_seg *s = tseg(m);
			if (!(s->flags & (TCP_SEG_INJECTED | TCP_SEG_OWNED)))
				continue;
			pending = 1;
			if (!SEQ_LT(s->seq, edge) || sent >= SE_RTX_BURST)
				break;
			if (w->now_ns - s->sent_ns < (c->rto_ns << (s->tries < 6 ? s->tries : 6)))
				continue;
			if (++s->tries > SE_MAX_INJ_TRIES) {
				tcp_conn_reset(w, f);
				return 0;
			}
			if (resend(w, f, dir, m, DP_CNT_tcp_inject_rtx) < 0)
				continue;
			s->sent_ns = w->now_ns;
			sent++;
		}
	}
	return pending;
}

/* ---- the decoder's requests ---- */

static inline uint32_t off_to_seq(const struct tcp_dir *d, uint64_t off)
{
	return d->isn + 1 + (uint32_t)off;
}

static void sink_release(void *vctx, int dir, uint64_t upto)
{
	struct se_sink_ctx *ctx = vctx;
	struct tcp_dir *d = &ctx->f->tcp.dir[dir & 1];
	uint32_t seq = off_to_seq(d, upto);

	if (SEQ_GT(seq, d->release) && SEQ_LEQ(seq, d->scan)) {
		d->release = seq;
		d->hold_over = 0; /* a message end: an over-long message is over */
	}
}

/* Splits held segment <m> at in-space <at>: <m> keeps the bytes before <at>, a copy
 * holding the rest is linked after it. Returns 0 or -1 (no mbuf). */
static int hold_split(struct dp_worker *w, struct tcp_dir *d, struct rte_mbuf *m, uint32_t at)
{
	struct tcp_seg *s = tseg(m);
	struct rte_mbuf *t = rte_pktmbuf_copy(m, w->pool, 0, UINT32_MAX);
	uint32_t head = at - s->seq;

	if (t == NULL) {
		DP_WCNT_INC(w, mbuf_alloc_fail);
		return -1;
	}
	*tseg(t) = *s;
	tseg(t)->mem = 0;
	tcp_mem_charge(w, t);
	tseg(t)->seq = at;
	tseg(t)->off = (uint16_t)(s->off + head);
	tseg(t)->len = (uint16_t)(s->len - head);
	tseg(t)->flags &= (uint8_t)~TCP_SEG_WHOLE;
	tseg(t)->next = s->next;
	s->len = (uint16_t)head;
	s->flags &= (uint8_t)~TCP_SEG_WHOLE;
	s->next = t;
	if (d->hold.tail == m)
		d->hold.tail = t;
	d->hold.n++;
	return 0;
}

static int sink_remove(void *vctx, int dir, uint64_t from, uint64_t to)
{
	struct se_sink_ctx *ctx = vctx;
	struct dp_worker *w = ctx->w;
	struct tcp_dir *d = &ctx->f->tcp.dir[dir & 1];
	uint32_t a = off_to_seq(d, from), b = off_to_seq(d, to);
	struct rte_mbuf *m, *prev = NULL, *next;

	if (!SEQ_LT(a, b) || SEQ_LT(a, d->release) || SEQ_GT(b, d->scan) || SEQ_LT(a, d->fwd))
		return -1;
	/* a segment holding both ends is split first: that copy is the only step that can
	 * fail, and a refusal must leave no anchor behind */
	for (m = d->hold.head; m; m = tseg(m)->next) {
		struct tcp_seg *s = tseg(m);
		if (SEQ_LT(s->seq, a) && SEQ_GT(s->seq + s->len, b)) {
			if (hold_split(w, d, m, b) < 0)
				return -1;
			break;
		}
	}
	if (anchor_add(d, se_in_to_out(d, a), b, 0) < 0)
		return -1;
	for (m = d->hold.head; m; m = next) {
		struct tcp_seg *s = tseg(m);
		uint32_t e = s->seq + s->len;
		next = s->next;
		if (SEQ_LEQ(e, a) || SEQ_GEQ(s->seq, b)) {
			prev = m;
			continue;
		}
		if (SEQ_LT(s->seq, a)) {
			/* keep the head part (it ends at or before b: split above) */
			d->hold.bytes -= e - a;
			s->len = (uint16_t)(a - s->seq);
			s->flags &= (uint8_t)~TCP_SEG_WHOLE;
			prev = m;
		} else if (SEQ_GT(e, b)) {
			/* keep the tail part */
			uint32_t cut = b - s->seq;
			tseg_trim_front(s, cut);
			d->hold.bytes -= cut;
			prev = m;
		} else {
			/* wholly removed */
			if (prev)
				tseg(prev)->next = next;
			else
				d->hold.head = next;
			if (d->hold.tail == m)
				d->hold.tail = prev;
			d->hold.n--;
			d->hold.bytes -= s->len;
			tcp_mem_free(w, m);
		}
	}
	DP_WCNT_ADD(w, edit_removed_bytes, b - a);
	return 0;
}

static int sink_rewrite(void *vctx, int dir, uint64_t at, const uint8_t *bytes, uint32_t len)
{
	struct se_sink_ctx *ctx = vctx;
	struct tcp_dir *d = &ctx->f->tcp.dir[dir & 1];
	uint32_t a = off_to_seq(d, at), b = a + len;

	if (SEQ_LT(a, d->release) || SEQ_GT(b, d->scan) || SEQ_LT(a, d->fwd))
		return -1;
	for (struct rte_mbuf *m = d->hold.head; m; m = tseg(m)->next) {
		struct tcp_seg *s = tseg(m);
		uint32_t lo = SEQ_MAX(s->seq, a), hi = SEQ_MIN(s->seq + s->len, b);
		if (!SEQ_LT(lo, hi))
			continue;
		memcpy(tseg_data(m) + (lo - s->seq), bytes + (lo - a), hi - lo);
		s->flags |= TCP_SEG_EDITED;
	}
	DP_WCNT_ADD(ctx->w, edit_rewritten_bytes, len);
	return 0;
}

static int sink_inject(void *vctx, int dir, const uint8_t *bytes, uint32_t len)
{
	struct se_sink_ctx *ctx = vctx;
	struct dp_worker *w = ctx->w;
	struct flow *f = ctx->f;
	struct tcp_dir *d = &f->tcp.dir[dir & 1];
	uint32_t q = d->release, mss = mss_to(f, dir & 1);
	struct rte_mbuf *head = NULL, *tail = NULL;
	int append = d->n_inj && d->inj[d->n_inj - 1].at == q;

	if (len == 0)
		return 0;
	/* another reply at the same point (a pipelining client) joins the pending one */
	if ((!append && d->n_inj >= RTE_DIM(d->inj)) || (d->fin_seen && SEQ_GEQ(q, d->fin_seq)))
		return -1;
	for (uint32_t done = 0; done < len;) {
		uint32_t n = len - done < mss ? len - done : mss;
		struct rte_mbuf *pm = rte_pktmbuf_alloc(w->pool);
		uint8_t *p = pm ? (uint8_t *)rte_pktmbuf_append(pm, (uint16_t)n) : NULL;
		if (p == NULL) {
			if (pm)
				rte_pktmbuf_free(pm);
			tseg_chain_free(head);
			DP_WCNT_INC(w, mbuf_alloc_fail);
			return -1;
		}
		memcpy(p, bytes + done, n);
		tseg(pm)->next = NULL;
		if (tail)
			tseg(tail)->next = pm;
		else
			head = pm;
		tail = pm;
		done += n;
	}
	if (anchor_add(d, se_in_to_out(d, q), q, len) < 0) {
		tseg_chain_free(head);
		return -1;
	}
	if (append) {
		struct rte_mbuf *t = d->inj[d->n_inj - 1].m;
		while (tseg(t)->next)
			t = tseg(t)->next;
		tseg(t)->next = head;
	} else {
		d->inj[d->n_inj++] = (struct tcp_pending_inj){ .at = q, .m = head };
	}
	DP_WCNT_ADD(w, edit_injected_bytes, len);
	return 0;
}

static int sink_peek(void *vctx, int dir, uint64_t from, uint8_t *buf, uint32_t len)
{
	struct se_sink_ctx *ctx = vctx;
	struct tcp_dir *d = &ctx->f->tcp.dir[dir & 1];
	uint32_t a = off_to_seq(d, from), b = a + len, got = 0;

	if (SEQ_LT(a, d->fwd) || SEQ_GT(b, d->scan))
		return -1;
	for (struct rte_mbuf *m = d->hold.head; m && got < len; m = tseg(m)->next) {
		struct tcp_seg *s = tseg(m);
		uint32_t lo = SEQ_MAX(s->seq, a + got), hi = SEQ_MIN(s->seq + s->len, b);
		if (!SEQ_LT(lo, hi))
			continue;
		if (lo != a + got)
			return -1; /* a gap: those bytes were removed */
		memcpy(buf + got, tseg_data(m) + (lo - s->seq), hi - lo);
		got += hi - lo;
	}
	return got == len ? 0 : -1;
}

static void sink_event(void *vctx, struct tg_event *ev)
{
	struct se_sink_ctx *ctx = vctx;

	dp_worker_event(ctx->w, ctx->f, ev);
}

static void sink_reset(void *vctx)
{
	struct se_sink_ctx *ctx = vctx;

	ctx->f->tcp.reset = 1;
}

void se_sink_init(struct proto_sink *s, struct se_sink_ctx *ctx)
{
	s->ctx = ctx;
	s->env = NULL;
	s->peek = sink_peek;
	s->release = sink_release;
	s->remove = sink_remove;
	s->rewrite = sink_rewrite;
	s->inject = sink_inject;
	s->reset = sink_reset;
	s->event = sink_event;
}
