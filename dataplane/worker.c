/* worker.c - the per-packet path of one worker: parse, classify, flow, TCP, output.
 *
 * What is not TCP to a protected resource is bridged to the peer port untouched.
 * Protected flows are created on the client's SYN; a full table applies the overload
 * policy; flows seen without their handshake follow the mid-stream policy. Every
 * decision that is not "inspect" has a counter.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_prefetch.h>
#include <rte_random.h>
#include "dataplane/worker.h"
#include "dataplane/dp_counters.h"
#include "dataplane/dp_pkt.h"
#include "dataplane/flow.h"
#include "dataplane/tcp.h"
#include "dataplane/tcp_int.h"
#include "dataplane/proto/proto.h"
#include "dataplane/policy.h"
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include "slowpath/event-t.h"
#include "dataplane/frag.h"
#include "dataplane/handoff.h"
#include "dataplane/resource.h"
#include <rte_cycles.h>

/* The worker's clock in TSC cycles, for rte_ip_frag (tests set now_ns by hand, so the
 * reassembly timeouts follow it too). Fragments are rare: a division is fine. */
static inline uint64_t ns_to_tsc(uint64_t ns)
{
	return (uint64_t)(((unsigned __int128)ns * rte_get_tsc_hz()) / 1000000000u);
}

#define DP_FRAG_MAX_DGRAMS 1024 /* datagrams in reassembly per worker (~0.5-1 MB) */
#define DP_FRAG_TTL_MS     2000
#define EXPIRE_BUDGET   256     /* flows expired per timer call: bounds the pause */

uint16_t dp_worker_data_room(uint32_t frame_max)
{
	/* a whole frame in one mbuf: the worker drops chained mbufs it receives */
	uint32_t room = RTE_ALIGN_CEIL(RTE_PKTMBUF_HEADROOM + frame_max, 128);

	if (room > UINT16_MAX)
		room = UINT16_MAX & ~127u;
	return (uint16_t)(room < RTE_MBUF_DEFAULT_BUF_SIZE ? RTE_MBUF_DEFAULT_BUF_SIZE : room);
}

struct rte_mempool *dp_worker_pool_create(const char *name, unsigned n_mbufs, uint32_t frame_max,
					  int socket)
{
	return rte_pktmbuf_pool_create(name, n_mbufs, 256,
				       RTE_ALIGN_CEIL(sizeof(struct tcp_seg), RTE_MBUF_PRIV_ALIGN),
				       dp_worker_data_room(frame_max), socket);
}

/* From now on counters go to port <p>'s block too (DP_MAX_PORTS, or any port out of
 * range: the block of no port). */
static inline void cnt_port(struct dp_worker *w, uint16_t p)
{
	w->pc = &w->port_cnt[p < DP_MAX_PORTS ? p : DP_MAX_PORTS];
	w->env.pcnt = w->pc;
}

int dp_worker_init(struct dp_worker *w, uint16_t id, uint16_t n_ports, const uint16_t *peer,
		   const uint8_t *server_side, const struct dp_config *cfg, struct rte_mempool *pool)
{
	char name[16];

	memset(w, 0, sizeof(*w));
	cnt_port(w, DP_MAX_PORTS);    /* valid from here on: the error paths count too */
	w->id = id;
	w->queue = id;
	w->n_ports = n_ports;
	for (uint16_t p = 0; p < DP_MAX_PORTS; p++) {
		w->peer[p] = p < n_ports ? peer[p] : UINT16_MAX;
		w->server_side[p] = p < n_ports ? server_side[p] : 0;
	}
	w->cfg = cfg;
	w->pool = pool;
	w->next_flow_id = (uint64_t)id << 40; /* the slow path adds the boot counter */
	TAILQ_INIT(&w->rtx_flows);
	snprintf(name, sizeof(name), "w%u", id);
	w->ft = flow_table_create(name, cfg->flow_capacity, (int)rte_socket_id());
	if (w->ft == NULL)
		return -ENOMEM;
	w->res = dp_res_index_build(cfg, (int)rte_socket_id());
	if (w->res == NULL) {
		dp_worker_fini(w);
		return -ENOMEM;
	}
	/* scratch for decoders: one whole message (up to the hold limit), and three times
	 * that for the lexer's normalized text, fingerprint and statement list */
	w->env.buf_cap = cfg->max_hold_bytes + 65536;
	w->env.aux_cap = 3 * w->env.buf_cap;
	w->env.buf = rte_malloc("tg_dec_buf", w->env.buf_cap, RTE_CACHE_LINE_SIZE);
	w->env.aux = rte_malloc("tg_dec_aux", w->env.aux_cap, RTE_CACHE_LINE_SIZE);
	w->own_pol = dp_policy_empty();
	if (w->env.buf == NULL || w->env.aux == NULL || w->own_pol == NULL) {
		dp_worker_fini(w);
		return -ENOMEM;
	}
	if (cfg->frag == DP_FRAG_REASSEMBLE &&
	    (w->frag = dp_frag_create(DP_FRAG_MAX_DGRAMS, DP_FRAG_TTL_MS, (int)rte_socket_id())) == NULL) {
		dp_worker_fini(w);
		return -ENOMEM;
	}
	w->pol = w->own_pol;
	w->env.cnt = &w->cnt;
	w->env.cfg = cfg;
	return 0;
}

void dp_worker_attach_policy(struct dp_worker *w, struct dp_policy_slot *slot)
{
	w->slot = slot;
	if (slot->qs)
		rte_rcu_qsbr_thread_register(slot->qs, w->id);
	w->pol = __atomic_load_n(&slot->cur, __ATOMIC_ACQUIRE);
}

void dp_worker_set_policy(struct dp_worker *w, struct dp_policy *p)
{
	w->slot = NULL;
	w->pol = p ? p : w->own_pol;
}

void dp_worker_quiescent(struct dp_worker *w)
{
	if (w->slot && w->slot->qs)
		rte_rcu_qsbr_quiescent(w->slot->qs, w->id);
}

void dp_worker_online(struct dp_worker *w)
{
	if (w->slot && w->slot->qs)
		rte_rcu_qsbr_thread_online(w->slot->qs, w->id);
}

void dp_worker_offline(struct dp_worker *w)
{
	if (w->slot && w->slot->qs)
		rte_rcu_qsbr_thread_offline(w->slot->qs, w->id);
}

void dp_worker_event(struct dp_worker *w, struct flow *f, struct tg_event *ev)
{
	if (w->ev_ring == NULL)
		return;
	ev->sid = f->id;
	ev->worker = (uint8_t)w->id;
	ev->res_id = f->res_id;
	ev->proto = f->proto;
	ev->ts_ns = (uint64_t)((int64_t)w->now_ns + w->realtime_off_ns);
	if (rte_ring_sp_enqueue_elem(w->ev_ring, ev, sizeof(*ev)) != 0) {
		DP_WCNT_INC(w, ev_lost);
		if (w->cfg->record == DP_RECORD_MUST && f->mode == FLOW_INSPECT &&
		    f->tcp.state != TCP_ST_CLOSED) {
			DP_WCNT_INC(w, ev_reset);
			f->tcp.reset = 1;
		}
		return;
	}
	DP_WCNT_INC(w, ev_sent);
}

void dp_worker_session_close(struct dp_worker *w, struct flow *f, uint8_t reason)
{
	struct tg_event ev;
	const struct tcp_conn *c = &f->tcp;

	if (f->mode != FLOW_INSPECT || f->ev_closed)
		return;
	f->ev_closed = 1;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_SESSION_CLOSE;
	ev.u.close.reason = reason;
	if (c->dir[0].syn_seen)
		ev.u.close.bytes_c2s = c->dir[0].nxt - c->dir[0].isn - 1;
	if (c->dir[1].syn_seen)
		ev.u.close.bytes_s2c = c->dir[1].nxt - c->dir[1].isn - 1;
	dp_worker_event(w, f, &ev);
}

static void session_open_event(struct dp_worker *w, struct flow *f, const struct dp_pkt *p)
{
	struct tg_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = EV_SESSION_OPEN;
	ev.u.open.ip_ver = p->ip_ver;
	memcpy(ev.u.open.client, p->src, sizeof(ev.u.open.client));
	memcpy(ev.u.open.server, p->dst, sizeof(ev.u.open.server));
	ev.u.open.cport = p->sport;
	ev.u.open.sport = p->dport;
	dp_worker_event(w, f, &ev);
}

void dp_worker_session_begin(struct dp_worker *w, struct flow *f, const struct dp_pkt *p,
			     const uint8_t *frame)
{
	const struct proto_ops *ops = proto_get(f->proto);

	f->id = w->next_flow_id++;
	f->ev_closed = 0;
	tcp_conn_init(f, p, frame);
	if (ops && ops->init)
		ops->init(f->dec_state);
	session_open_event(w, f, p);
}

/* Why a flow that is released now ended, for its close event. */
static uint8_t close_reason(const struct flow *f)
{
	if (f->tcp.state == TCP_ST_CLOSED)
		return f->tcp.reset_by_policy ? EV_CLOSE_POLICY : EV_CLOSE_RST;
	if (f->closed)
		return EV_CLOSE_FIN;
	return EV_CLOSE_IDLE;
}

void dp_worker_session_end(struct dp_worker *w, struct flow *f, uint8_t reason)
{
	const struct proto_ops *ops = proto_get(f->proto);

	dp_worker_session_close(w, f, reason);
	tcp_conn_release(w, f);
	/* every init() is paired with a fini(): a decoder may hold more than its state */
	if (ops && ops->fini && f->mode == FLOW_INSPECT)
		ops->fini(f->dec_state);
}

static void flow_release_cb(struct flow *f, void *arg)
{
	struct dp_worker *w = arg;

	dp_worker_session_end(w, f, w->stopping ? EV_CLOSE_SHUTDOWN : close_reason(f));
}

void dp_worker_fini(struct dp_worker *w)
{
	w->stopping = 1;
	if (w->ft)
		flow_table_free(w->ft, flow_release_cb, w);
	w->ft = NULL;
	dp_frag_free(w->frag);
	w->frag = NULL;
	dp_res_index_free(w->res);
	w->res = NULL;
	rte_free(w->env.buf);
	rte_free(w->env.aux);
	w->env.buf = w->env.aux = NULL;
	if (w->own_pol)
		w->own_pol->destroy(w->own_pol);
	w->own_pol = NULL;
}

void dp_worker_emit(struct dp_worker *w, uint16_t port, struct rte_mbuf *m)
{
	struct dp_txbuf *t;

	if (port >= DP_MAX_PORTS) {
		rte_pktmbuf_free(m);
		return;
	}
	t = &w->tx[port];
	if (t->n >= DP_TXBUF_MAX) {
		/* the port it was to go out on, as loop.c counts tx */
		DP_CNT_INC(&w->cnt, tx_drop_full);
		DP_CNT_INC(&w->port_cnt[port], tx_drop_full);
		rte_pktmbuf_free(m);
		return;
	}
	t->pkts[t->n++] = m;
}

static inline void bridge(struct dp_worker *w, uint16_t port, struct rte_mbuf *m)
{
	uint16_t out = w->peer[port];

	if (out == UINT16_MAX) {
		rte_pktmbuf_free(m);
		return;
	}
	dp_worker_emit(w, out, m);
}

/* Index of the protected resource the packet belongs to, or -1. A packet arriving on
 * a client-facing port is matched on its destination, one from the server side on
 * its source. */
static int resource_lookup(const struct dp_worker *w, uint16_t port, const struct dp_pkt *p)
{
	int to_server = !w->server_side[port];

	return dp_res_find(w->res, p->ip_ver, to_server ? p->dst : p->src,
			   to_server ? p->dport : p->sport);
}

/* Does either address of the packet belong to a protected resource? (fragments) */
static int addr_protected(const struct dp_worker *w, const struct dp_pkt *p)
{
	return dp_res_addr_known(w->res, p->ip_ver, p->dst) ||
	       dp_res_addr_known(w->res, p->ip_ver, p->src);
}

/* Turns the client's SYN <m> into a RST|ACK back to the client (overload, fail_closed). */
static void refuse_syn(struct dp_worker *w, uint16_t port, struct rte_mbuf *m, const struct dp_pkt *p)
{
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	unsigned l4 = p->l4_off;
	struct rte_tcp_hdr *th;
	uint8_t mac[6];
	uint16_t tport;

	memcpy(mac, d, 6);
	memcpy(d, d + 6, 6);
	memcpy(d + 6, mac, 6);
	if (p->ip_ver == 6) {
		struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)(d + p->l3_off);
		/* from the SYN's final destination (p->dst, not a routing header's next
		 * waypoint in the IPv6 header), which is who the client asked for */
		memcpy(ip6->src_addr, p->dst, 16);
		memcpy(ip6->dst_addr, p->src, 16);
		if (p->l4_off != p->l3_off + 40) {
			/* the SYN's extension headers stay behind: a routing header would send
			 * the answer along the SYN's path, not back to the client */
			l4 = p->l3_off + 40u;
			memmove(d + l4, d + p->l4_off, 20);
			ip6->proto = IPPROTO_TCP;
		}
		ip6->payload_len = rte_cpu_to_be_16(20);
	} else {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(d + p->l3_off);
		uint32_t a = ip->src_addr;
		ip->src_addr = ip->dst_addr;
		ip->dst_addr = a;
		ip->total_length = rte_cpu_to_be_16((uint16_t)(p->l4_off - p->l3_off + 20));
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	}
	th = (struct rte_tcp_hdr *)(d + l4);
	tport = th->src_port;
	th->src_port = th->dst_port;
	th->dst_port = tport;
	th->recv_ack = rte_cpu_to_be_32(p->seq + 1);
	th->sent_seq = 0;
	th->data_off = 5 << 4;
	th->tcp_flags = DP_TCP_RST | DP_TCP_ACK;
	th->rx_win = 0;
	th->tcp_urp = 0;
	rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_pkt_len(m) - (l4 + 20)));
	dp_pkt_tcp_cksum_fill(d, p->l3_off, l4, p->ip_ver);
	dp_worker_emit(w, port, m);
}

/* A packet of a protected resource without a flow. */
static void no_flow(struct dp_worker *w, uint16_t port, struct rte_mbuf *m, const struct dp_pkt *p,
		    const struct flow_key *k, uint8_t side, int res)
{
	int is_syn = (p->tcp_flags & (DP_TCP_SYN | DP_TCP_ACK | DP_TCP_RST)) == DP_TCP_SYN;
	struct flow *f;

	if (is_syn && !w->server_side[port]) {
		f = flow_insert(w->ft, k, w->now_ns);
		if (f == NULL) {
			DP_WCNT_INC(w, flow_table_full);
			if (w->cfg->overload == DP_OVERLOAD_FAIL_OPEN) {
				DP_WCNT_INC(w, flow_overload_bypass);
				bridge(w, port, m);
			} else {
				DP_WCNT_INC(w, flow_overload_rst);
				refuse_syn(w, port, m, p);
			}
			return;
		}
		f->res_id = (uint16_t)res;
		f->proto = w->cfg->resources[res].proto;
		f->mode = FLOW_INSPECT;
		f->client_side = side;
		f->port_of_side[side] = port;
		f->port_of_side[!side] = w->peer[port];
		dp_worker_session_begin(w, f, p, rte_pktmbuf_mtod(m, uint8_t *));
		DP_WCNT_INC(w, flow_created);
		bridge(w, port, m);
		return;
	}
	if (w->cfg->midstream == DP_MIDSTREAM_BYPASS) {
		/* remember the decision so that it is counted once per flow */
		f = (p->tcp_flags & DP_TCP_RST) ? NULL : flow_insert(w->ft, k, w->now_ns);
		if (f) {
			f->id = w->next_flow_id++;
			f->res_id = (uint16_t)res;
			f->mode = FLOW_BYPASS;
			f->client_side = w->server_side[port] ? !side : side;
			DP_WCNT_INC(w, flow_midstream_bypass);
		}
		DP_WCNT_INC(w, bridged_pkts);
		bridge(w, port, m);
		return;
	}
	DP_WCNT_INC(w, drop_no_flow);
	rte_pktmbuf_free(m);
}

/* fragments = "drop": does fragment <p> (parsed, arrived on <port>), to or
 * from a protected address, belong to a protected flow? Only a datagram's first
 * fragment carries the TCP ports, so only it can tell: it is judged like a segment
 * (resource_lookup), and one too short to hold the ports counts as protected. A later
 * fragment is not: no host can rebuild its datagram without the first fragment,
 * which is dropped when the flow is protected (the ports are in the first 8 bytes,
 * which only an offset-0 fragment carries; an overlapping one is judged on its own).
 * Other protocols than TCP are not protected, as unfragmented; an IPv6 first
 * fragment whose next header is another extension header hides its upper layer and
 * counts as protected. */
static int frag_of_protected(const struct dp_worker *w, uint16_t port, const struct dp_pkt *p)
{
	if (p->frag_off != 0)
		return 0;
	if (p->l4_proto != IPPROTO_TCP)
		return p->ip_ver == 6 && dp_pkt_ip6_ext(p->l4_proto);
	if (p->frame_len < p->l4_off + 4u)
		return 1;                       /* no ports: the parser left them 0 */
	return resource_lookup(w, port, p) >= 0;
}

/* A reassembled datagram <m> (parsed as <p>, arrived on <port>) that is no protected
 * flow's goes on as its sender cut it: in fragments again (dp_frag_split), each at
 * most the size of its largest fragment <piece_max>, and never above the MTU of the
 * port it leaves by. Sent whole it could exceed that MTU; cut at the port's MTU alone,
 * IPv6 pieces could exceed what the sender chose (a path MTU below ours, the 1280
 * minimum), and IPv6 routers further on do not fragment (found in review). Returns 1
 * if <m> was consumed. */
static int resplit(struct dp_worker *w, uint16_t port, struct rte_mbuf *m, const struct dp_pkt *p,
		   uint16_t piece_max)
{
	struct rte_mbuf *out[DP_FRAG_SPLIT_MAX];
	uint16_t to = w->peer[port], mtu = piece_max;
	int n;

	if (to >= DP_MAX_PORTS)
		return 0;
	if (w->cfg->port_mtu[to] != 0 && (mtu == 0 || w->cfg->port_mtu[to] < mtu))
		mtu = w->cfg->port_mtu[to];
	if (mtu == 0 || (uint32_t)(p->frame_len - p->l3_off) <= mtu)
		return 0;
	/* IPv6 pieces get an identification no one can guess (RFC 7739) */
	n = dp_frag_split(w->pool, m, p, mtu, (uint32_t)rte_rand(), out, DP_FRAG_SPLIT_MAX);
	if (n < 0) {
		DP_WCNT_INC(w, frag_resplit_fail);
		rte_pktmbuf_free(m);
		return 1;
	}
	for (int k = 0; k < n; k++)
		dp_worker_emit(w, to, out[k]);
	DP_WCNT_INC(w, frag_resplit);
	DP_WCNT_ADD(w, bridged_pkts, (uint64_t)n);
	rte_pktmbuf_free(m);
	return 1;
}

/* Feeds fragment <m> of a protected address to reassembly. Consumes <m>. Returns the
 * whole datagram to run through the normal path, or NULL. */
static struct rte_mbuf *frag_input(struct dp_worker *w, uint16_t port, struct rte_mbuf *m,
				   const struct dp_pkt *p, uint16_t *piece_max)
{
	struct rte_mbuf *d;
	int err;

	if (w->frag == NULL) {
		/* never inspected piecemeal: policy drop, for a protected flow's */
		if (!frag_of_protected(w, port, p)) {
			DP_WCNT_INC(w, frag_bridged);
			DP_WCNT_INC(w, bridged_pkts);
			bridge(w, port, m);
			return NULL;
		}
		DP_WCNT_INC(w, frag_dropped);
		rte_pktmbuf_free(m);
		return NULL;
	}
	m->port = port;
	d = dp_frag_in(w->frag, w->pool, m, p, ns_to_tsc(w->now_ns), &err, piece_max);
	switch (err) {
	case DP_FRAG_OK:      break;
	case DP_FRAG_ETOOBIG: DP_WCNT_INC(w, frag_too_big); break;
	case DP_FRAG_ETABLE:  DP_WCNT_INC(w, frag_table_full); break;
	case DP_FRAG_ENOMEM:  DP_WCNT_INC(w, mbuf_alloc_fail); break;
	case DP_FRAG_EPROTO:  DP_WCNT_INC(w, frag_unsupported); break;
	default:              DP_WCNT_INC(w, frag_bad); break;
	}
	if (d != NULL && d->port != port) {
		/* pieces came in on both sides of the pair: not one sender's datagram */
		DP_WCNT_INC(w, frag_bad);
		rte_pktmbuf_free(d);
		return NULL;
	}
	if (d != NULL)
		DP_WCNT_INC(w, frag_reassembled);
	return d;
}

/* Whether the frame's IP and TCP checksums are good: the NIC's verdict where it gave
 * one (RX checksum offload, requested by port.c where the PMD has it), else computed
 * here. UNKNOWN (no offload: af_packet, net_ring) and NONE (the field holds a partial
 * sum: the data was verified but the field is not right) are checked in software, the
 * latter so that it fails: the stream editor updates checksums incrementally and needs
 * a right one to start from. */
static inline int cksum_ok(const struct rte_mbuf *m, const uint8_t *data, const struct dp_pkt *p)
{
	uint64_t ip = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
	uint64_t l4 = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;

	if (ip == RTE_MBUF_F_RX_IP_CKSUM_BAD || l4 == RTE_MBUF_F_RX_L4_CKSUM_BAD)
		return 0;
	if (p->ip_ver == 4 && ip != RTE_MBUF_F_RX_IP_CKSUM_GOOD && !dp_pkt_ip_cksum_ok(data, p))
		return 0;
	return l4 == RTE_MBUF_F_RX_L4_CKSUM_GOOD || dp_pkt_tcp_cksum_ok(data, p);
}

/* What the first pass over a burst learned of one frame (dp_worker_process_burst). */
struct pre {
	struct dp_pkt p;
	struct flow_key k;
	struct flow *f;               /* looked up in bulk (valid when keyed) */
	int st;                       /* dp_pkt_parse() */
	int res;                      /* resource index; -1: not protected (st TCP only) */
	uint8_t side;
	uint8_t keyed;                /* k, side and f are set */
	uint8_t foreign;              /* another worker owns its flow (software spreading) */
};

static void process_parsed(struct dp_worker *w, uint16_t port, struct rte_mbuf *m, struct pre *pr);

/* Parses frame <m> of worker port <port> into <pr> and finds its resource; the flow
 * is not looked up yet. Returns pr->st. */
static inline int pre_parse(struct dp_worker *w, uint16_t port, struct rte_mbuf *m, struct pre *pr)
{
	pr->st = dp_pkt_parse(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m), &pr->p);
	pr->res = pr->st == DP_PKT_TCP ? resource_lookup(w, port, &pr->p) : -1;
	pr->keyed = 0;
	pr->foreign = 0;
	pr->f = NULL;
	return pr->st;
}

/* Software flow spreading (handoff.h): whether protected segment <p> belongs to a flow
 * of another worker. With RSS the NIC already chose the owner. */
static inline int soft_foreign(const struct dp_worker *w, const struct dp_pkt *p)
{
	const struct dp_handoff *h = w->handoff;

	return h != NULL && h->soft && h->n_workers > 1 &&
	       dp_handoff_soft(h->seed, h->n_workers, p) != w->queue;
}

/* Several workers: datagram <m> (parsed into <p>) of worker port <port> goes to the
 * worker RSS gives its flow to (handoff.h), unless that is this one: a datagram
 * reassembled here from fragments, or an IPv6 segment whose routing header names a
 * final destination, which the NIC did not hash on. Counted in <sent>, or in <full>
 * when the owner's ring is. Returns 1 when <m> was consumed (passed on, or dropped
 * and counted), 0 when this worker owns it. */
static int handoff_send(struct dp_worker *w, uint16_t port, struct rte_mbuf *m,
			const struct dp_pkt *p, enum dp_counter_id sent, enum dp_counter_id full)
{
	uint16_t q = dp_handoff_owner(w->handoff, port, p);

	if (q == UINT16_MAX || q == w->queue || q >= w->handoff->n_workers)
		return 0;
	m->port = port;               /* the owner's port index, as frag_input set it */
	if (rte_ring_mp_enqueue(w->handoff->ring[q], m) != 0) {
		DP_WCNT_INC_ID(w, full);
		rte_pktmbuf_free(m);
		return 1;
	}
	DP_WCNT_INC_ID(w, sent);
	w->kick |= 1ull << q;         /* woken once, at the end of the burst */
	return 1;
}

static void process_one(struct dp_worker *w, uint16_t port, struct rte_mbuf *m, struct pre *pr)
{
	struct dp_pkt *pp = &pr->p;
	int st = pr->st;

	DP_WCNT_INC(w, rx_pkts);
	DP_WCNT_ADD(w, rx_bytes, rte_pktmbuf_pkt_len(m));
	if (st < 0) {
		DP_WCNT_INC(w, drop_malformed);
		rte_pktmbuf_free(m);
		return;
	}
	if (st == DP_PKT_NON_IP) {
		DP_WCNT_INC(w, bridged_non_ip);
		bridge(w, port, m);
		return;
	}
	if (pr->foreign &&
	    handoff_send(w, port, m, pp, DP_CNT_soft_handoff, DP_CNT_soft_handoff_full))
		return;
	if (st == DP_PKT_FRAGMENT) {
		/* IPv4 non-TCP fragments are not TCP to a resource: rte_ip_frag keys datagrams
		 * without the protocol, so they must never join a TCP datagram */
		if (!addr_protected(w, pp) || (w->frag && pp->ip_ver == 4 && pp->l4_proto != IPPROTO_TCP)) {
			DP_WCNT_INC(w, bridged_pkts);
			bridge(w, port, m);
			return;
		}
		uint16_t piece_max = 0;

		m = frag_input(w, port, m, pp, &piece_max);
		if (m == NULL)
			return;
		/* a NIC does not verify TCP over fragments: the reassembled datagram is
		 * checked in software (frag.c copies it into a fresh mbuf, without flags;
		 * cleared here too, so that this holds however it is built) */
		m->ol_flags &= ~(RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK);
		st = pre_parse(w, port, m, pr);
		if (st < 0 || st == DP_PKT_FRAGMENT) {
			DP_WCNT_INC(w, drop_malformed);
			rte_pktmbuf_free(m);
			return;
		}
		if (pr->res >= 0 && w->handoff &&
		    handoff_send(w, port, m, pp, DP_CNT_frag_handoff, DP_CNT_frag_handoff_full))
			return;
		if (pr->res < 0 && resplit(w, port, m, pp, piece_max))
			return;
	} else if (pp->ip6_routed && pr->res >= 0 && w->handoff &&
		   handoff_send(w, port, m, pp, DP_CNT_rh_handoff, DP_CNT_rh_handoff_full)) {
		return;
	}
	process_parsed(w, port, m, pr);
}

/* The second prefetch stage, before the chunk's frames are processed (the flow's
 * lines are on their way): the private areas of the retransmit queue's head
 * that this segment's ACK frees (the other direction's, sent a round trip ago) and of
 * the tail its data is appended behind. */
static inline void prefetch_queues(const struct pre *q)
{
	const struct flow *f = q->f;
	const struct rte_mbuf *h;
	int d;

	if (f == NULL || f->mode != FLOW_INSPECT)
		return;
	d = q->side == f->client_side ? 0 : 1;
	if ((h = f->tcp.dir[!d].rtx.head) != NULL)
		rte_prefetch0(RTE_PTR_ADD(h, sizeof(struct rte_mbuf)));
	if ((h = f->tcp.dir[d].rtx.tail) != NULL)
		rte_prefetch0(RTE_PTR_ADD(h, sizeof(struct rte_mbuf)));
}

/* The rest of the path of frame <m>, parsed into <pr> (pre_parse): bridged, dropped,
 * or given to its flow. Received frames come from process_one(), datagrams another
 * worker reassembled from dp_worker_handoff_poll(). */
static void process_parsed(struct dp_worker *w, uint16_t port, struct rte_mbuf *m, struct pre *pr)
{
	const uint8_t *data = rte_pktmbuf_mtod(m, const uint8_t *);
	struct dp_pkt *pp = &pr->p;
	struct flow *f;

	if (pr->st != DP_PKT_TCP || pr->res < 0) {
		DP_WCNT_INC(w, bridged_pkts);
		bridge(w, port, m);
		return;
	}
	if (m->nb_segs > 1) {
		DP_WCNT_INC(w, drop_multiseg);
		rte_pktmbuf_free(m);
		return;
	}
	if (!pr->keyed) {
		flow_key_from_pkt(pp, &pr->k, &pr->side);
		pr->f = NULL;
	}
	/* NULL from the bulk lookup: a flow may have been created by an earlier frame of
	 * this burst (flows are only ever removed by the timers, so a flow found stays).
	 * A flow looked up here alone gets the queues' prefetch the bulk lookup gives the
	 * others; the checksum pass below hides its latency. */
	if (pr->f == NULL) {
		pr->f = flow_lookup(w->ft, &pr->k);
		prefetch_queues(pr);
	}
	f = pr->f;
	if (w->cfg->verify_cksum && !cksum_ok(m, data, pp)) {
		DP_WCNT_INC(w, drop_bad_cksum);
		rte_pktmbuf_free(m);
		return;
	}
	if (f == NULL) {
		no_flow(w, port, m, pp, &pr->k, pr->side, pr->res);
		return;
	}
	if (f->mode == FLOW_BYPASS) {
		flow_touch(w->ft, f, w->now_ns);
		DP_WCNT_INC(w, bridged_pkts);
		bridge(w, port, m);
		return;
	}
	if (!f->closed)
		flow_touch(w->ft, f, w->now_ns);
	tcp_segment(w, f, pr->side == f->client_side ? 0 : 1, m, pp);
}

/* Keys pre-parsed frame <m> for the chunk's bulk lookup, if it is a protected segment
 * in one mbuf (others are bridged or dropped without a flow). */
static inline void pre_key(const struct rte_mbuf *m, struct pre *q)
{
	if (q->res >= 0 && m->nb_segs == 1) {
		flow_key_from_pkt(&q->p, &q->k, &q->side);
		q->keyed = 1;
	}
}

/* Prefetches the lines of flow <f> that a segment touches: the header (mode, sides,
 * times), each direction's sequence state and queues, and the connection's state.
 * With a thousand flows open they are out of L1 and L2 (1.5 KB a flow), and a
 * segment touches both directions (its data, and the ACK it carries for the other). */
static inline void prefetch_flow(const struct flow *f)
{
	const struct tcp_conn *c = &f->tcp;

	for (int d = 0; d < 2; d++) {
		const char *p = (const char *)&c->dir[d];
		const char *end = (const char *)(&c->dir[d].rtx + 1);

		for (p = RTE_PTR_ALIGN_FLOOR(p, RTE_CACHE_LINE_SIZE); p < end; p += RTE_CACHE_LINE_SIZE)
			rte_prefetch0(p);
	}
	rte_prefetch0(&f->lru);        /* flow_touch() reads the expiry list link */
	rte_prefetch0(&f->mode);
	rte_prefetch0(&c->state);
}

/* The first lines of the chunk's frames, and their private areas (struct tcp_seg),
 * written first thing in tcp_segment(): a NIC's receive touches the mbuf's first line
 * and the data, not the private area. */
static inline void prefetch_frames(struct rte_mbuf **pkts, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++) {
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
		rte_prefetch0(rte_mbuf_to_priv(pkts[i]));
	}
}

/* Looks up the flows of the keyed frames among <pr>[0..n) together (their cache misses
 * overlap) and prefetches each flow found. */
static void chunk_lookup(struct dp_worker *w, struct pre *pr, uint16_t n)
{
	const struct flow_key *keys[FLOW_BULK_MAX];
	struct flow *found[FLOW_BULK_MAX];
	uint8_t idx[FLOW_BULK_MAX];
	unsigned nk = 0;

	for (uint16_t i = 0; i < n; i++)
		if (pr[i].keyed) {
			keys[nk] = &pr[i].k;
			idx[nk++] = (uint8_t)i;
		}
	flow_lookup_bulk(w->ft, keys, nk, found);
	for (unsigned j = 0; j < nk; j++) {
		pr[idx[j]].f = found[j];
		if (found[j])
			prefetch_flow(found[j]);
	}
	/* the second stage, once every flow's lines are on their way (a distance of a few
	 * frames instead of the whole chunk measured 3 % slower) */
	for (unsigned j = 0; j < nk; j++)
		prefetch_queues(&pr[idx[j]]);
}

/* Two passes over a burst: first every frame is parsed and the flows of the protected
 * ones looked up together (their cache misses overlap, and each found flow is
 * prefetched), then each frame is processed in order. */
static void process_chunk(struct dp_worker *w, uint16_t port, struct rte_mbuf **pkts, uint16_t n)
{
	struct pre pr[FLOW_BULK_MAX];

	prefetch_frames(pkts, n);
	for (uint16_t i = 0; i < n; i++) {
		pre_parse(w, port, pkts[i], &pr[i]);
		/* a segment of another worker's flow is passed on as it is: no lookup here */
		if (pr[i].res >= 0 && soft_foreign(w, &pr[i].p))
			pr[i].foreign = 1;
		else
			pre_key(pkts[i], &pr[i]);
	}
	chunk_lookup(w, pr, n);
	for (uint16_t i = 0; i < n; i++)
		process_one(w, port, pkts[i], &pr[i]);
}

/* Takes the current policy snapshot for the frames about to be processed. */
static inline void burst_begin(struct dp_worker *w)
{
	/* acquire: pairs with the slow path's release store of a new snapshot; the
	 * snapshot stays valid until this worker reports its next quiescent state */
	if (w->slot)
		w->pol = __atomic_load_n(&w->slot->cur, __ATOMIC_ACQUIRE);
	w->env.pol = &w->pol->ops;
	w->env.now_ns = w->now_ns;
	w->env.scratch = w->id < DP_MAX_WORKERS ? w->pol->scratch[w->id] : NULL;
}

/* Frames other workers passed to this one (each with its worker port in m->port), the
 * way process_chunk() takes a burst: parsed, their flows looked up together, then each
 * given to its flow. Not counted as received again (the worker that received them
 * did), and never passed on again: this worker owns them. */
static void handoff_chunk(struct dp_worker *w, struct rte_mbuf **pkts, uint16_t n)
{
	struct pre pr[FLOW_BULK_MAX];

	prefetch_frames(pkts, n);
	for (uint16_t i = 0; i < n; i++) {
		pr[i].keyed = 0;
		cnt_port(w, pkts[i]->port);   /* each frame's own port (the ring mixes them) */
		if (pkts[i]->port < w->n_ports) {
			pre_parse(w, pkts[i]->port, pkts[i], &pr[i]);
			pre_key(pkts[i], &pr[i]);
		}
	}
	chunk_lookup(w, pr, n);
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];

		cnt_port(w, m->port);
		if (m->port >= w->n_ports) {
			DP_WCNT_INC(w, drop_malformed);
			rte_pktmbuf_free(m);
			continue;
		}
		process_parsed(w, m->port, m, &pr[i]);
	}
}

unsigned dp_worker_handoff_poll(struct dp_worker *w)
{
	struct rte_mbuf *pkts[DP_BURST];
	unsigned n;

	if (w->handoff == NULL || w->queue >= w->handoff->n_workers)
		return 0;
	n = rte_ring_sc_dequeue_burst(w->handoff->ring[w->queue], (void **)pkts, DP_BURST, NULL);
	if (n == 0)
		return 0;
	burst_begin(w);
	for (unsigned i = 0; i < n; i += FLOW_BULK_MAX)
		handoff_chunk(w, pkts + i, n - i < FLOW_BULK_MAX ? (uint16_t)(n - i) : FLOW_BULK_MAX);
	cnt_port(w, DP_MAX_PORTS);
	return n;
}

void dp_worker_process_burst(struct dp_worker *w, uint16_t port, struct rte_mbuf **pkts, uint16_t n)
{
	burst_begin(w);
	cnt_port(w, port);
	for (uint16_t i = 0; i < n; i += FLOW_BULK_MAX)
		process_chunk(w, port, pkts + i, n - i < FLOW_BULK_MAX ? (uint16_t)(n - i) : FLOW_BULK_MAX);
	cnt_port(w, DP_MAX_PORTS);
	/* the workers that got frames wake up if they sleep: once a burst, not a frame
	 * (each kick costs a full fence) */
	while (w->kick != 0 && w->handoff->wake_on) {
		unsigned q = (unsigned)__builtin_ctzll(w->kick);

		w->kick &= w->kick - 1;
		dp_handoff_kick(w->handoff, (uint16_t)q);
	}
	w->kick = 0;                  /* busy polling: nobody sleeps, no fence needed */
}

void dp_worker_timers(struct dp_worker *w)
{
	unsigned idle = 0, closed = 0;
	struct flow *f, *next;

	flow_expire(w->ft, w->now_ns, (uint64_t)w->cfg->idle_timeout_s * 1000000000ull,
		    (uint64_t)w->cfg->closed_timeout_s * 1000000000ull, EXPIRE_BUDGET,
		    flow_release_cb, w, &idle, &closed);
	DP_WCNT_ADD(w, flow_expired_idle, idle);
	DP_WCNT_ADD(w, flow_expired_closed, closed);
	if (w->frag)
		DP_WCNT_ADD(w, frag_timeout, dp_frag_expire(w->frag, ns_to_tsc(w->now_ns)));
	/* management commands from the slow path */
	if (w->ctl_ring) {
		struct dp_ctl_msg msg;
		while (rte_ring_sc_dequeue_elem(w->ctl_ring, &msg, sizeof(msg)) == 0) {
			if (msg.type != DP_CTL_KILL)
				continue;
			f = flow_find_id(w->ft, msg.sid);
			if (f == NULL || f->mode != FLOW_INSPECT || f->tcp.state == TCP_ST_CLOSED)
				continue;
			DP_WCNT_INC(w, ctl_kill);
			dp_worker_session_close(w, f, EV_CLOSE_KILLED);
			tcp_conn_reset(w, f);
		}
	}
	for (f = TAILQ_FIRST(&w->rtx_flows); f; f = next) {
		next = TAILQ_NEXT(f, rtx_link);
		if (!tcp_conn_rtx_timer(w, f) && f->tcp.rtx_armed) {
			TAILQ_REMOVE(&w->rtx_flows, f, rtx_link);
			f->tcp.rtx_armed = 0;
		}
	}
}
