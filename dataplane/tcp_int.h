/* tcp_int.h - internals shared by tcp.c (tracking, reassembly, decoding) and
 * stream_edit.c (out-space: anchors, emission, retransmission). Not a public API. */
#ifndef TG_TCP_INT_H
#define TG_TCP_INT_H

#include <stdint.h>
#include <rte_mbuf.h>
#include "dataplane/tcp-t.h"
#include "dataplane/flow-t.h"
#include "dataplane/worker-t.h"
#include "dataplane/proto/proto.h"
#include "dataplane/dp_pkt-t.h"

/* Sequence comparisons modulo 2^32 (RFC 793 / RFC 1982): valid while the two values are
 * less than 2^31 apart, which the window check guarantees for anything we keep. */
#define SEQ_LT(a, b)  ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b)  SEQ_LT(b, a)
#define SEQ_GEQ(a, b) SEQ_LEQ(b, a)
#define SEQ_MAX(a, b) (SEQ_GT(a, b) ? (a) : (b))
#define SEQ_MIN(a, b) (SEQ_LT(a, b) ? (a) : (b))

static inline struct tcp_seg *tseg(struct rte_mbuf *m)
{
	return (struct tcp_seg *)rte_mbuf_to_priv(m);
}

static inline uint8_t *tseg_data(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod(m, uint8_t *) + tseg(m)->off;
}

static inline void segq_push(struct tcp_segq *q, struct rte_mbuf *m)
{
	tseg(m)->next = NULL;
	if (q->tail)
		tseg(q->tail)->next = m;
	else
		q->head = m;
	q->tail = m;
	q->n++;
	q->bytes += tseg(m)->len;
}

static inline struct rte_mbuf *segq_pop(struct tcp_segq *q)
{
	struct rte_mbuf *m = q->head;

	if (m == NULL)
		return NULL;
	q->head = tseg(m)->next;
	if (q->head == NULL)
		q->tail = NULL;
	q->n--;
	q->bytes -= tseg(m)->len;
	tseg(m)->next = NULL;
	return m;
}

/* Drops the first <cut> payload bytes of segment <s>: the frame no longer goes out
 * as it is. */
static inline void tseg_trim_front(struct tcp_seg *s, uint32_t cut)
{
	s->off = (uint16_t)(s->off + cut);
	s->len = (uint16_t)(s->len - cut);
	s->seq += cut;
	s->flags &= (uint8_t)~TCP_SEG_WHOLE;
}

/* Takes received segment <m> (parsed <p>) as a frame of its own: its tcp_seg describes
 * the frame's headers as they came, nothing of it is charged yet, and no flag is set. */
static inline void tseg_adopt(struct rte_mbuf *m, const struct dp_pkt *p)
{
	struct tcp_seg *s = tseg(m);

	s->l4_off = p->l4_off;
	s->l3_off = (uint8_t)p->l3_off;
	s->ts_off = p->opt.has_ts ? p->opt.ts_off : 0;
	s->flags = 0;
	s->mem = 0;
}

/* Frees a chain of mbufs linked through tcp_seg.next (uncharged: pending injections). */
static inline void tseg_chain_free(struct rte_mbuf *m)
{
	while (m != NULL) {
		struct rte_mbuf *next = tseg(m)->next;

		rte_pktmbuf_free(m);
		m = next;
	}
}

/* Which key side sends direction <dir> (0: client to server). */
static inline int tcp_sender_side(const struct flow *f, int dir)
{
	return dir == 0 ? f->client_side : !f->client_side;
}

/* DPDK port that leads to the receiver of direction <dir>. */
static inline uint16_t tcp_out_port(const struct flow *f, int dir)
{
	return f->port_of_side[!tcp_sender_side(f, dir)];
}

/* tcp.c */
/* Charges <m> to the worker's stream memcap. Returns 0, or -1 if over the cap.
 * Inline: every kept segment is charged once. */
static inline int tcp_mem_charge(struct dp_worker *w, struct rte_mbuf *m)
{
	uint64_t sz = m->buf_len;

	if (w->stream_mem + sz > w->cfg->stream_memcap)
		return -1;
	w->stream_mem += sz;
	tseg(m)->mem = sz;
	return 0;
}
/* Releases <m>'s charge and drops the stream's reference to it. */
void tcp_mem_free(struct dp_worker *w, struct rte_mbuf *m);

/* stream_edit.c */
/* Maps in-space <in> of direction <d> to out-space (for bytes not yet emitted), and
 * out-space <out> (an ACK or SACK edge from the receiver) back to in-space. Inline:
 * every segment asks several times, and a direction nothing was edited in has one
 * identity anchor. */
static inline uint32_t se_in_to_out(const struct tcp_dir *d, uint32_t in)
{
	/* Anchors are appended in in-space order, so the last one at or before <in> is
	 * found scanning from the end; there are rarely more than two. */
	for (int i = d->n_anchor - 1; i >= 0; i--) {
		const struct tcp_anchor *a = &d->anchor[i];
		if (SEQ_GEQ(in, a->in))
			return a->out + a->flat + (in - a->in);
	}
	return in; /* before every anchor: only for stale values, identity is harmless */
}

static inline uint32_t se_out_to_in(const struct tcp_dir *d, uint32_t out)
{
	/* One anchor without injected bytes (a direction nothing was injected in, the
	 * common case): both branches below give in + (out - a->out), at or past the
	 * anchor as well as before it. */
	if (d->n_anchor == 1 && d->anchor[0].flat == 0)
		return d->anchor[0].in + (out - d->anchor[0].out);
	for (int i = d->n_anchor - 1; i >= 0; i--) {
		const struct tcp_anchor *a = &d->anchor[i];
		if (SEQ_GEQ(out, a->out)) {
			uint32_t rel = out - a->out;
			/* an ACK inside injected bytes acknowledges nothing of the sender's */
			return rel < a->flat ? a->in : a->in + (rel - a->flat);
		}
	}
	return d->n_anchor ? d->anchor[0].in - (d->anchor[0].out - out) : out;
}

/* The receiver of <dir> acknowledged out-space <out_ack>: frees acked rtx segments. */
void se_on_ack_run(struct dp_worker *w, struct flow *f, int dir, uint32_t out_ack);
static inline void se_on_ack(struct dp_worker *w, struct flow *f, int dir, uint32_t out_ack)
{
	const struct tcp_dir *d = &f->tcp.dir[dir];

	/* Only an ACK that advances, or a duplicate while segments are in flight (fast
	 * retransmit), has anything to do: most segments carry the ACK of the one before. */
	if (SEQ_GT(out_ack, d->out_una) || (out_ack == d->out_una && d->rtx.head != NULL))
		se_on_ack_run(w, f, dir, out_ack);
}
/* Emits what direction <dir> may forward: released held bytes, pending injections, FIN. */
void se_emit_run(struct dp_worker *w, struct flow *f, int dir);
static inline void se_emit(struct dp_worker *w, struct flow *f, int dir)
{
	const struct tcp_dir *d = &f->tcp.dir[dir];

	/* Nothing released beyond fwd, no injection and no FIN to send: se_emit_run would
	 * leave at its first test (each segment asks for both directions). */
	if (d->n_inj || SEQ_LT(d->fwd, d->release) || (d->fin_seen && !d->fin_fwd))
		se_emit_run(w, f, dir);
}
/* Sends a header-only segment in direction <dir> with <flags> at out-space <seq>. */
void se_emit_ctl(struct dp_worker *w, struct flow *f, int dir, uint8_t flags, uint32_t seq);
/* Forwards the current segment <m> (parsed <p>) of <dir> without payload, as a pure
 * ACK (or FIN/RST) at out-space <seq>, translating ACK and SACK. Takes <m>. */
void se_forward_ctl(struct dp_worker *w, struct flow *f, int dir, struct rte_mbuf *m,
		    const struct dp_pkt *p, uint32_t seq, uint8_t flags);
/* Re-sends emitted, unacknowledged bytes overlapping in-space [from, to) of <dir>.
 * Returns 1 if the kept segments covered the whole range, 0 if some were not kept. */
int se_replay(struct dp_worker *w, struct flow *f, int dir, uint32_t from, uint32_t to);
/* Forwards the current segment <m> with its payload, SEQ translated in->out: for a
 * retransmission of bytes that were emitted without being kept (memcap). Takes <m>. */
void se_forward_data(struct dp_worker *w, struct flow *f, int dir, struct rte_mbuf *m,
		     const struct dp_pkt *p);
/* Compares bytes <data> at in-space [seq, seq+len) with what was already kept
 * (held or emitted, unedited). Returns 1 if any byte differs. */
int se_differs(struct flow *f, int dir, uint32_t seq, const uint8_t *data, uint32_t len);
/* Fills <s> so that a decoder's requests act on flow <f>; <ctx> is caller storage. */
struct se_sink_ctx {
	struct dp_worker *w;
	struct flow *f;
};
void se_sink_init(struct proto_sink *s, struct se_sink_ctx *ctx);
/* The ACK value an emission of <dir> carries now (in the sender's peer in-space). */
static inline uint32_t se_ack_value(const struct flow *f, int dir)
{
	const struct tcp_dir *d = &f->tcp.dir[dir];
	const struct tcp_dir *od = &f->tcp.dir[dir ^ 1];
	uint32_t ack = se_out_to_in(od, d->last_ack);

	/* held bytes the appliance acknowledged itself (see tcp.c, pre-ACK) */
	return od->preack_on && SEQ_GT(od->preack, ack) ? od->preack : ack;
}

#endif
