/* tcp.c - TCP tracking and reassembly of protected flows, and the decoder feed.
 *
 * Per direction: the handshake's ISN, options and window scale; in-order bytes go to
 * the hold queue and from there to the decoder; out-of-order segments wait in a sorted
 * queue (bounded per flow and by the worker's memcap). Overlaps keep the first data
 * seen: a retransmission carrying different bytes is counted and never forwarded (the
 * receiver gets the original bytes from the hold or rtx queue), or resets the flow,
 * per policy. The editor (stream_edit.c) does everything in out-space.
 */
#include <string.h>
#include <rte_mbuf.h>
#include "dataplane/tcp.h"
#include "dataplane/tcp_int.h"
#include "dataplane/worker.h"
#include "dataplane/flow.h"
#include "dataplane/dp_counters.h"
#include "dataplane/dp_pkt.h"
#include "dataplane/proto/proto.h"
#include "slowpath/event-t.h"

/* Unreleased bytes of one message from which the appliance acknowledges them early. */
#define TCP_PREACK_BIG (16u * 1024)

/* ---- memory ---- */

void tcp_mem_free(struct dp_worker *w, struct rte_mbuf *m)
{
	w->stream_mem -= tseg(m)->mem;
	tseg(m)->mem = 0;
	rte_pktmbuf_free(m);
}

static void segq_free(struct dp_worker *w, struct tcp_segq *q)
{
	struct rte_mbuf *m;

	while ((m = segq_pop(q)) != NULL)
		tcp_mem_free(w, m);
}

/* Frees every segment and injection direction <d> holds, with their charges. */
static void dir_release(struct dp_worker *w, struct tcp_dir *d)
{
	segq_free(w, &d->ooo);
	segq_free(w, &d->hold);
	segq_free(w, &d->rtx);
	for (unsigned i = 0; i < d->n_inj; i++)
		tseg_chain_free(d->inj[i].m);
	d->n_inj = 0;
}

void tcp_conn_release(struct dp_worker *w, struct flow *f)
{
	struct tcp_conn *c = &f->tcp;

	for (int dir = 0; dir < 2; dir++)
		dir_release(w, &c->dir[dir]);
	if (c->syn_pending) {
		rte_pktmbuf_free(c->syn_pending);
		c->syn_pending = NULL;
	}
	if (c->rtx_armed) {
		TAILQ_REMOVE(&w->rtx_flows, f, rtx_link);
		c->rtx_armed = 0;
	}
}

/* ---- handshake ---- */

static void dir_learn(struct tcp_dir *d, const struct dp_pkt *p, const uint8_t *frame)
{
	memcpy(d->eth, frame, 12);
	d->ttl = p->ttl;
	d->tos = p->tos;
	if (p->opt.has_ts) {
		if (!d->ts_seen || SEQ_GEQ(p->opt.tsval, d->last_tsval))
			d->last_tsval = p->opt.tsval;
		d->last_tsecr = p->opt.tsecr;
		d->ts_seen = 1;
	}
}

static void dir_syn(struct tcp_dir *d, const struct dp_pkt *p)
{
	d->isn = p->seq;
	d->nxt = d->fwd = d->scan = d->release = p->seq + 1;
	d->scan_off = 0;
	d->out_nxt = d->out_una = p->seq + 1;
	d->anchor[0] = (struct tcp_anchor){ .out = p->seq + 1, .in = p->seq + 1, .flat = 0 };
	d->n_anchor = 1;
	d->mss = p->opt.mss;
	d->wscale = p->opt.has_wscale ? (p->opt.wscale > 14 ? 14 : p->opt.wscale) : 0;
	d->sack_perm = p->opt.sack_perm;
	d->ts_ok = p->opt.has_ts;
	d->syn_seen = 1;
	d->last_win_raw = p->win;
	d->last_win = p->win;
}

void tcp_conn_init(struct flow *f, const struct dp_pkt *p, const uint8_t *frame)
{
	struct tcp_conn *c = &f->tcp;

	memset(c, 0, sizeof(*c));
	c->ip_ver = p->ip_ver;
	c->n_vlan = p->n_vlan;
	c->vlan[0] = p->vlan[0];
	c->vlan[1] = p->vlan[1];
	dir_syn(&c->dir[0], p);
	dir_learn(&c->dir[0], p, frame);
	c->state = TCP_ST_SYN_SENT;
}

/* ---- reassembly ---- */

/* Cuts <m>'s payload short where queued segment <next>, which it overlaps, starts:
 * first data wins. Counts the overlap if its bytes differ. Returns 1 if they do. */
static int seg_cut_before(struct dp_worker *w, struct rte_mbuf *m, struct rte_mbuf *next)
{
	struct tcp_seg *s = tseg(m), *o = tseg(next);
	uint32_t keep = o->seq - s->seq;
	uint32_t ov = SEQ_MIN(o->seq + o->len, s->seq + s->len) - o->seq;
	int differs = memcmp(tseg_data(next), tseg_data(m) + keep, ov) != 0;

	if (differs)
		DP_WCNT_INC(w, tcp_overlap_rewritten);
	s->len = (uint16_t)keep;
	s->flags &= (uint8_t)~(TCP_SEG_WHOLE | TCP_SEG_FIN);
	return differs;
}

/* Inserts <m> (payload [seq, seq+len) in its tcp_seg) into the sorted out-of-order
 * queue, first data wins: the parts already queued are cut from the new segment; a
 * new segment that would bridge two queued ones keeps only its part before the
 * first (the sender retransmits the rest). Returns 1 if kept, 0 if freed. */
static int ooo_insert(struct dp_worker *w, struct tcp_dir *d, struct rte_mbuf *m)
{
	struct tcp_seg *s = tseg(m);
	struct rte_mbuf *prev = NULL, *cur = d->ooo.head;

	while (cur && SEQ_LEQ(tseg(cur)->seq + tseg(cur)->len, s->seq)) {
		prev = cur;
		cur = tseg(cur)->next;
	}
	/* overlap with <cur>, which ends after our start */
	if (cur && SEQ_LEQ(tseg(cur)->seq, s->seq)) {
		uint32_t cend = tseg(cur)->seq + tseg(cur)->len;
		uint32_t ov = SEQ_MIN(cend, s->seq + s->len) - s->seq;
		if (memcmp(tseg_data(cur) + (s->seq - tseg(cur)->seq), tseg_data(m), ov))
			DP_WCNT_INC(w, tcp_overlap_rewritten);
		if (SEQ_GEQ(cend, s->seq + s->len)) {
			DP_WCNT_INC(w, tcp_dup_dropped);
			rte_pktmbuf_free(m);
			return 0;
		}
		tseg_trim_front(s, ov);
		prev = cur;
		cur = tseg(cur)->next;
	}
	if (cur && SEQ_LT(tseg(cur)->seq, s->seq + s->len))
		seg_cut_before(w, m, cur);
	if (d->ooo.n >= w->cfg->ooo_max_segs || tcp_mem_charge(w, m) < 0) {
		DP_WCNT_INC(w, tcp_ooo_drop_limit);
		rte_pktmbuf_free(m);
		return 0;
	}
	s->next = cur;
	if (prev)
		tseg(prev)->next = m;
	else
		d->ooo.head = m;
	if (cur == NULL)
		d->ooo.tail = m;
	d->ooo.n++;
	d->ooo.bytes += s->len;
	DP_WCNT_INC(w, tcp_ooo_queued);
	return 1;
}

/* Appends in-order segment <m> to the hold queue; <m>'s tcp_seg is set up. */
static int hold_append(struct dp_worker *w, struct tcp_dir *d, struct rte_mbuf *m)
{
	if (tseg(m)->mem == 0 && tcp_mem_charge(w, m) < 0)
		return -1;
	d->nxt = tseg(m)->seq + tseg(m)->len;
	if (tseg(m)->flags & TCP_SEG_FIN) {
		d->fin_seen = 1;
		d->fin_seq = d->nxt;
	}
	if (tseg(m)->len == 0) {
		tcp_mem_free(w, m);
		return 0;
	}
	segq_push(&d->hold, m);
	return 0;
}

/* Moves out-of-order segments that became in order into the hold queue. */
static int ooo_pull(struct dp_worker *w, struct tcp_dir *d)
{
	struct rte_mbuf *m;

	while ((m = d->ooo.head) != NULL && SEQ_LEQ(tseg(m)->seq, d->nxt)) {
		struct tcp_seg *s;
		segq_pop(&d->ooo);
		s = tseg(m);
		if (SEQ_LEQ(s->seq + s->len, d->nxt) && !((s->flags & TCP_SEG_FIN) && s->seq + s->len == d->nxt)) {
			tcp_mem_free(w, m);
			continue;
		}
		uint32_t cut = d->nxt - s->seq;
		if (cut)
			tseg_trim_front(s, cut);
		if (hold_append(w, d, m) < 0) {
			tcp_mem_free(w, m);
			return -1;
		}
	}
	return 0;
}

/* ---- decoder ---- */

/* Feeds the new bytes of <dir> to decoder <ops> (see dir_decode). Out of line: its
 * sink and loop would otherwise weigh on tcp_segment's frame for every segment. */
static __rte_noinline void dir_decode_run(struct dp_worker *w, struct flow *f, int dir,
					  const struct proto_ops *ops)
{
	struct tcp_conn *c = &f->tcp;
	struct tcp_dir *d = &c->dir[dir];
	struct se_sink_ctx sctx = { .w = w, .f = f };
	struct proto_sink sink;

	/* the sink is filled in only when the decoder is called: most segments of a
	 * direction bring nothing new to decode (pure ACKs, the other direction's turn) */
	if (SEQ_LT(d->scan, d->nxt) || (d->fin_seen && !d->fin_fed)) {
		se_sink_init(&sink, &sctx);
		w->env.res_id = f->res_id;
		w->env.flow_id = f->id;
		sink.env = &w->env;
	}
	while (SEQ_LT(d->scan, d->nxt)) {
		struct rte_mbuf *m = d->hold.head;
		/* find the held segment holding <scan>; removals may have changed the queue */
		while (m && SEQ_LEQ(tseg(m)->seq + tseg(m)->len, d->scan))
			m = tseg(m)->next;
		if (m == NULL) {
			d->scan = d->nxt;
			break;
		}
		struct tcp_seg *s = tseg(m);
		uint32_t start = SEQ_MAX(s->seq, d->scan);
		uint32_t n = s->seq + s->len - start;
		const uint8_t *data = tseg_data(m) + (start - s->seq);
		uint64_t off = d->scan_off + (start - d->scan);
		d->scan_off = off + n;
		d->scan = start + n;
		if (ops->feed(f->dec_state, dir, off, data, n, &sink) < 0) {
			DP_WCNT_INC(w, proto_error);
			if (w->cfg->malformed == DP_MALFORMED_RESET) {
				/* what cannot be decoded cannot be judged: nothing of it leaves */
				c->reset = 1;
				return;
			}
			c->dec_off = 1; /* stop inspecting: forward the rest as it is */
			d->release = d->nxt;
			d->scan = d->nxt;
			c->dir[dir ^ 1].release = c->dir[dir ^ 1].scan;
			return;
		}
	}
	if (d->fin_seen && !d->fin_fed) {
		d->fin_fed = 1;
		if (ops->fin)
			ops->fin(f->dec_state, dir, d->scan_off, &sink);
		d->release = d->nxt;
	}
	/* a message longer than max_hold_bytes: stream it through or reset, by policy;
	 * once streaming, the rest of that message goes as it comes (until the decoder
	 * releases at a message end: sink_release clears hold_over) */
	if (d->hold_over) {
		d->release = d->nxt;
	} else if (d->nxt - d->release > w->cfg->max_hold_bytes) {
		DP_WCNT_INC(w, hold_overflow);
		if (w->cfg->hold == DP_HOLD_RESET) {
			c->reset = 1;
			return;
		}
		d->hold_over = 1;
		d->release = d->nxt;
	}
}

static inline void dir_decode(struct dp_worker *w, struct flow *f, int dir)
{
	struct tcp_conn *c = &f->tcp;
	struct tcp_dir *d = &c->dir[dir];
	const struct proto_ops *ops;

	/* Nothing new to decode, no FIN to report, everything released (a pure ACK, or
	 * the direction's bytes all released): every branch below would leave the
	 * direction as it is, with a decoder or without. */
	if (d->scan == d->nxt && d->release == d->nxt && !(d->fin_seen && !d->fin_fed))
		return;
	/* DP_PROTO_NONE has no decoder (proto_get gives NULL): no call for it */
	ops = c->dec_off || f->proto == DP_PROTO_NONE ? NULL : proto_get(f->proto);
	if (ops == NULL) {
		d->scan = d->nxt;
		d->release = d->nxt;
		return;
	}
	dir_decode_run(w, f, dir, ops);
}

/* ---- segments ---- */

static __rte_noinline void handle_rst(struct dp_worker *w, struct flow *f, int dir,
				       struct rte_mbuf *m, const struct dp_pkt *p)
{
	struct tcp_dir *d = &f->tcp.dir[dir];

	/* RFC 5961: accept only a reset in the window the sender could have reached */
	if (SEQ_LT(p->seq, d->fwd - 1) || SEQ_GT(p->seq, d->nxt + (1u << 30))) {
		DP_WCNT_INC(w, drop_out_of_window);
		rte_pktmbuf_free(m);
		return;
	}
	/* the forwarded RST carries the sender's newest timestamps: learn them first */
	dir_learn(d, p, rte_pktmbuf_mtod(m, uint8_t *));
	if (p->tcp_flags & DP_TCP_ACK) {
		d->last_ack = p->ack;
		d->ack_seen = 1;
	}
	/* the receiver accepts a reset at exactly its rcv_nxt: our out_nxt */
	se_forward_ctl(w, f, dir, m, p, d->out_nxt, DP_TCP_RST);
	dp_worker_session_close(w, f, EV_CLOSE_RST);
	tcp_conn_release(w, f);
	f->tcp.state = TCP_ST_CLOSED;
	flow_mark_closed(w->ft, f, w->now_ns);
}

/* A SYN-ACK <p> on an open connection that answers the client's pending SYN (one with
 * a new ISN, passed on by handle_syn): the server had lost the connection (a restart,
 * a fail-over) and accepted the new one. The old session ends and a new one starts
 * from that SYN, so the SYN-ACK completes its handshake. Without this the tuple stayed
 * dead until the client gave up (every such SYN-ACK dropped as a new ISN). Returns 1
 * when the session was restarted. */
static int syn_restart(struct dp_worker *w, struct flow *f, const struct dp_pkt *p)
{
	struct rte_mbuf *sm = f->tcp.syn_pending;
	const uint8_t *sd = rte_pktmbuf_mtod(sm, const uint8_t *);
	struct dp_pkt sp;

	if (dp_pkt_parse(sd, rte_pktmbuf_data_len(sm), &sp) != DP_PKT_TCP || p->ack != sp.seq + 1)
		return 0;
	f->tcp.syn_pending = NULL;
	DP_WCNT_INC(w, tcp_syn_restart);
	dp_worker_session_end(w, f, EV_CLOSE_RST);
	dp_worker_session_begin(w, f, &sp, sd);
	rte_pktmbuf_free(sm);
	return 1;
}

static __rte_noinline void handle_syn(struct dp_worker *w, struct flow *f, int dir,
				       struct rte_mbuf *m, const struct dp_pkt *p)
{
	struct tcp_conn *c = &f->tcp;

	if (!(p->tcp_flags & DP_TCP_ACK)) {
		/* client SYN: a retransmission, or a new connection reusing a closed tuple */
		if (dir != 0) {
			DP_WCNT_INC(w, drop_bad_flags);
			rte_pktmbuf_free(m);
			return;
		}
		if (p->seq != c->dir[0].isn &&
		    (c->state == TCP_ST_ESTABLISHED || c->state == TCP_ST_CLOSING) && !f->closed) {
			/* RFC 5961 4: a SYN on a synchronized connection makes the server send
			 * a challenge ACK, not start a new connection; a client that really
			 * restarted answers that ACK with a RST (which closes this flow) and
			 * tries again. Passed on, so the server can answer; restarting the
			 * session here would let anyone who guesses the tuple cut it. */
			DP_WCNT_INC(w, tcp_syn_in_session);
			/* kept (one a flow): a server that had lost the connection answers with
			 * a SYN-ACK for it, and the session then starts anew from this SYN */
			if (c->syn_pending)
				rte_pktmbuf_free(c->syn_pending);
			rte_mbuf_refcnt_update(m, 1);
			c->syn_pending = m;
			dp_worker_emit(w, tcp_out_port(f, dir), m);
			return;
		}
		if (p->seq != c->dir[0].isn) {
			/* a new session on the same tuple: it gets its own id and recording */
			dp_worker_session_end(w, f, EV_CLOSE_FIN);
			dp_worker_session_begin(w, f, p, rte_pktmbuf_mtod(m, uint8_t *));
			flow_reopen(w->ft, f, w->now_ns);
		}
	} else {
		if (dir != 1 || c->state < TCP_ST_SYN_SENT) {
			DP_WCNT_INC(w, drop_bad_flags);
			rte_pktmbuf_free(m);
			return;
		}
		/* a server that had lost the connection answering the client's new SYN:
		 * the session restarts from that SYN, and this SYN-ACK is its own */
		if (c->state > TCP_ST_SYN_RCVD && c->syn_pending)
			syn_restart(w, f, p);
		struct tcp_dir *d = &c->dir[1];
		if (d->syn_seen && p->seq == d->isn && c->state > TCP_ST_SYN_RCVD) {
			/* the SYN-ACK again, after the handshake (the client's ACK was lost
			 * beyond the appliance): the client answers it; nothing to learn */
			dp_worker_emit(w, tcp_out_port(f, dir), m);
			return;
		}
		if (d->syn_seen && p->seq != d->isn) {
			/* A SYN-ACK with another ISN. Before any byte has flowed it replaces the
			 * first one (the server restarted its side of the handshake). After,
			 * the connection is synchronized and both directions' streams and
			 * edits stand on the first ISN: a host answers such a segment with a
			 * challenge ACK (RFC 5961 4), the appliance drops it. Wiping the
			 * direction there had leaked its held segments (found by fuzz_tcp). */
			if (c->state > TCP_ST_SYN_RCVD || d->nxt != d->isn + 1 ||
			    c->dir[0].nxt != c->dir[0].isn + 1) {
				DP_WCNT_INC(w, drop_bad_flags);
				rte_pktmbuf_free(m);
				return;
			}
		}
		if (!d->syn_seen || p->seq != d->isn) {
			dir_release(w, d);   /* empty, unless that rule above is ever relaxed */
			memset(d, 0, sizeof(*d));
			dir_syn(d, p);
		}
		dir_learn(d, p, rte_pktmbuf_mtod(m, uint8_t *));
		d->last_ack = p->ack;
		d->ack_seen = 1;
		d->emitted_ack = p->ack; /* forwarded as it is, and no edit exists yet */
		/* window scaling is on only if both SYNs carried it (RFC 7323) */
		if (!p->opt.has_wscale) {
			c->dir[0].wscale = 0;
			d->wscale = 0;
		}
		c->state = TCP_ST_SYN_RCVD;
	}
	dp_worker_emit(w, tcp_out_port(f, dir), m);
}

void tcp_segment(struct dp_worker *w, struct flow *f, int dir, struct rte_mbuf *m,
		 const struct dp_pkt *p)
{
	struct tcp_conn *c = &f->tcp;
	struct tcp_dir *d = &c->dir[dir];
	uint8_t fl = p->tcp_flags;
	int fin_was_fwd = d->fin_fwd;
	int kept = 0, unkept_rtx = 0;

	if (fl & DP_TCP_RST) {
		if (c->state == TCP_ST_CLOSED) {
			dp_worker_emit(w, tcp_out_port(f, dir), m);
			return;
		}
		handle_rst(w, f, dir, m, p);
		return;
	}
	if (fl & DP_TCP_SYN) {
		if (fl & DP_TCP_FIN) {
			DP_WCNT_INC(w, drop_bad_flags);
			rte_pktmbuf_free(m);
			return;
		}
		handle_syn(w, f, dir, m, p);
		return;
	}
	if (!d->syn_seen || !c->dir[dir ^ 1].syn_seen || !(fl & DP_TCP_ACK) ||
	    c->state == TCP_ST_CLOSED) {
		/* data before the handshake (either side's SYN unseen: a client's bytes
		 * before the SYN-ACK would be decoded, and answered, into a direction that
		 * does not exist yet), a segment without ACK, or after a reset */
		DP_WCNT_INC(w, drop_bad_flags);
		rte_pktmbuf_free(m);
		return;
	}
	uint32_t prev_ack = d->last_ack;       /* what the sender said before this segment */
	uint16_t prev_win = d->last_win_raw;
	int had_ack = d->ack_seen;
	dir_learn(d, p, rte_pktmbuf_mtod(m, uint8_t *));
	d->last_win_raw = p->win;
	d->last_win = (uint32_t)p->win << d->wscale;
	if (!d->ack_seen || SEQ_GT(p->ack, d->last_ack))
		d->last_ack = p->ack;
	d->ack_seen = 1;
	se_on_ack(w, f, dir ^ 1, p->ack);
	if (c->state == TCP_ST_SYN_RCVD && dir == 0)
		c->state = TCP_ST_ESTABLISHED;

	uint32_t seq = p->seq, len = p->payload_len, end = seq + len;
	uint32_t nxt0 = d->nxt;                /* before this segment */
	const uint8_t *payload = rte_pktmbuf_mtod(m, const uint8_t *) + p->payload_off;
	int fin = (fl & DP_TCP_FIN) != 0;

	if (len) {
		/* right edge the sender may reach, in its own space: what it saw acknowledged
		 * (by the receiver, or pre-acknowledged by the appliance) plus the window it
		 * saw, with a margin for window probes and receivers that shrink their window */
		const struct tcp_dir *r = &c->dir[dir ^ 1];
		uint32_t win = r->last_win > 65535 ? r->last_win : 65535;
		uint32_t acked = r->ack_seen ? se_ack_value(f, dir ^ 1) : d->out_nxt;
		uint32_t edge = acked + win;
		if (SEQ_GEQ(seq, edge) || SEQ_LT(end, d->fwd - (1u << 30))) {
			DP_WCNT_INC(w, drop_out_of_window);
			rte_pktmbuf_free(m);
			return;
		}
		if (SEQ_LT(seq, d->nxt)) {
			/* bytes already seen: first data wins */
			uint32_t old_end = SEQ_MIN(end, d->nxt);
			if (se_differs(f, dir, seq, payload, old_end - seq)) {
				DP_WCNT_INC(w, tcp_overlap_rewritten);
				if (w->cfg->overlap == DP_OVERLAP_RESET) {
					rte_pktmbuf_free(m);
					tcp_conn_reset(w, f);
					return;
				}
			}
			/* A retransmission of bytes not kept (memcap) can only be passed on as
			 * the sender sends it when no edit lies in flight: removed bytes must
			 * never reach the receiver, whatever the sender retransmits. */
			if (SEQ_LT(seq, d->fwd) &&
			    !se_replay(w, f, dir, seq, SEQ_MIN(old_end, d->fwd)))
				unkept_rtx = d->lossy && d->n_anchor == 1 && d->n_inj == 0 &&
					     SEQ_LEQ(end, d->fwd);
			if (SEQ_LEQ(end, d->nxt))
				DP_WCNT_INC(w, tcp_dup_dropped);
		}
		if (SEQ_GT(end, d->nxt) || (fin && end == d->nxt && !d->fin_seen)) {
			struct tcp_seg *s = tseg(m);
			uint32_t cut = SEQ_LT(seq, d->nxt) ? d->nxt - seq : 0;
			s->next = NULL;
			s->seq = seq + cut;
			s->off = (uint16_t)(p->payload_off + cut);
			s->len = (uint16_t)(len - cut);
			tseg_adopt(m, p);
			if (fin)
				s->flags = TCP_SEG_FIN;
			/* only a frame with nothing but its own payload after plain headers can
			 * be sent again as it is */
			if (cut == 0 && rte_pktmbuf_pkt_len(m) == (uint32_t)p->payload_off + len &&
			    m->nb_segs == 1 &&
			    p->l4_off - p->l3_off == (p->ip_ver == 6 ? 40 : 20) &&
			    p->opt.n_sack == 0) /* SACK blocks would need translating: rebuild */
				s->flags |= TCP_SEG_WHOLE;
			if (SEQ_LEQ(s->seq, d->nxt)) {
				/* first data wins over queued out-of-order bytes too: keep only the
				 * part before the first queued segment, which ooo_pull appends */
				struct rte_mbuf *o = d->ooo.head;
				if (o && SEQ_LT(tseg(o)->seq, s->seq + s->len) &&
				    seg_cut_before(w, m, o) && w->cfg->overlap == DP_OVERLAP_RESET) {
					rte_pktmbuf_free(m);
					tcp_conn_reset(w, f);
					return;
				}
				if (hold_append(w, d, m) < 0) {
					rte_pktmbuf_free(m);
					DP_WCNT_INC(w, tcp_memcap_reset);
					tcp_conn_reset(w, f);
					return;
				}
				kept = 1;
				if (ooo_pull(w, d) < 0) {
					DP_WCNT_INC(w, tcp_memcap_reset);
					tcp_conn_reset(w, f);
					return;
				}
			} else {
				ooo_insert(w, d, m);
				kept = 1;
			}
		}
	} else if (fin && seq == d->nxt && !d->fin_seen) {
		d->fin_seen = 1;
		d->fin_seq = d->nxt;
	}

	dir_decode(w, f, dir);
	if (!c->reset) {
		se_emit(w, f, dir);
		se_emit(w, f, dir ^ 1);
	}
	if (c->reset) {
		if (!kept)
			rte_pktmbuf_free(m);
		tcp_conn_reset(w, f);
		return;
	}

	if (!kept) {
		/* Not kept: a pure ACK, a window update, a keepalive or a retransmission. It
		 * carries the sender's ACK and window: forward it header-only. A segment of old
		 * data goes one below out_nxt so that the receiver answers with an ACK (which
		 * is what a keepalive probe or a retransmission needs). */
		uint32_t oseq = d->out_nxt;
		uint8_t ofl = 0;
		if ((len && SEQ_LEQ(end, d->nxt)) || SEQ_LT(seq, d->nxt))
			oseq = d->out_nxt - 1;
		if (fin && d->fin_fwd) {
			ofl = DP_TCP_FIN;
			oseq = d->out_nxt - 1;
		}
		if (fin && len == 0 && d->fin_fwd && !fin_was_fwd)
			rte_pktmbuf_free(m); /* se_emit just sent this FIN, with this ACK and window */
		else if (len == 0 && !fin && had_ack && SEQ_GT(p->ack, prev_ack) &&
			 p->win == prev_win && p->opt.n_sack == 0 &&
			 se_ack_value(f, dir) == d->emitted_ack)
			/* it acknowledges injected bytes only: not passed on (DESIGN.md 2.1), or
			 * the receiver would count it as a duplicate ACK */
			rte_pktmbuf_free(m);
		else if (unkept_rtx && !fin)
			se_forward_data(w, f, dir, m, p); /* no copy was kept: pass it on */
		else
			se_forward_ctl(w, f, dir, m, p, oseq, ofl);
	}
	/* Pre-ACK: bytes held for a message end are acknowledged to their sender by the
	 * appliance. Without it a sender whose window or congestion window is full of held
	 * bytes (a message sent in many small segments) waits for an ACK that the receiver
	 * cannot send, since it has not seen the bytes: a deadlock. From here on the
	 * appliance retransmits those bytes itself (TCP_SEG_OWNED in the rtx queue).
	 * Only once the sender retransmits bytes the decoder still holds (the sign it
	 * waits for an ACK), or once a message spans TCP_PREACK_BIG bytes (it would wait
	 * soon, window after window). Earlier pre-ACKs would make the appliance, not the
	 * sender, responsible for every loss on the way to the receiver. */
	/* Only bytes the decoder is still waiting on need it (a message not yet whole):
	 * bytes waiting for the receiver's window are acknowledged by the receiver. */
	if (SEQ_GT(d->nxt, d->fwd) && d->hold.bytes && SEQ_LT(d->release, d->nxt) &&
	    (d->nxt - d->release >= TCP_PREACK_BIG ||
	     (len && SEQ_LT(seq, nxt0) && SEQ_GEQ(seq, d->fwd)))) {
		/* The sender can then run ahead of the receiver by at most max_hold_bytes
		 * of unreleased bytes (then the hold overflows and is released) plus one
		 * window: released bytes wait for the receiver's window in the hold. */
		if (!d->preack_on || SEQ_GT(d->nxt, d->preack)) {
			d->preack = d->nxt;
			d->preack_on = 1;
		}
	}
	/* acknowledgements that the emissions did not carry: an ACK that arrived on a held
	 * segment, held bytes acknowledged early, or removed bytes that the appliance
	 * acknowledges for the receiver */
	for (int x = 0; x < 2; x++) {
		struct tcp_dir *xd = &c->dir[x];
		if (xd->ack_seen && xd->syn_seen && se_ack_value(f, x) != xd->emitted_ack) {
			DP_WCNT_INC(w, tcp_ack_generated);
			se_emit_ctl(w, f, x, 0, xd->out_nxt);
		}
	}
	if (c->dir[0].fin_fwd && c->dir[1].fin_fwd && !f->closed) {
		c->state = TCP_ST_CLOSING;
		dp_worker_session_close(w, f, EV_CLOSE_FIN);
		flow_mark_closed(w->ft, f, w->now_ns);
	}
}

void tcp_conn_reset(struct dp_worker *w, struct flow *f)
{
	struct tcp_conn *c = &f->tcp;

	if (c->state != TCP_ST_CLOSED) {
		for (int dir = 0; dir < 2; dir++)
			if (c->dir[dir].syn_seen)
				se_emit_ctl(w, f, dir, DP_TCP_RST, c->dir[dir].out_nxt);
		DP_WCNT_INC(w, tcp_rst_policy);
		c->reset_by_policy = 1;
		dp_worker_session_close(w, f, EV_CLOSE_POLICY);
	}
	tcp_conn_release(w, f);
	c->state = TCP_ST_CLOSED;
	c->reset = 0;
	if (!f->closed)
		flow_mark_closed(w->ft, f, w->now_ns);
}
