/* worker.c - TEMPORARY bridge-only worker (being replaced by the full packet path). */
#include <errno.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include "dataplane/worker.h"
#include "dataplane/dp_counters.h"
#include "dataplane/tcp-t.h"

struct rte_mempool *dp_worker_pool_create(const char *name, unsigned n_mbufs, int socket)
{
	return rte_pktmbuf_pool_create(name, n_mbufs, 256,
				       RTE_ALIGN_CEIL(sizeof(struct tcp_seg), RTE_MBUF_PRIV_ALIGN),
				       RTE_MBUF_DEFAULT_BUF_SIZE, socket);
}

int dp_worker_init(struct dp_worker *w, uint16_t id, uint16_t n_ports, const uint16_t *peer,
		   const uint8_t *server_side, const struct dp_config *cfg, struct rte_mempool *pool)
{
	memset(w, 0, sizeof(*w));
	w->id = id;
	w->n_ports = n_ports;
	for (uint16_t p = 0; p < DP_MAX_PORTS; p++) {
		w->peer[p] = p < n_ports ? peer[p] : UINT16_MAX;
		w->server_side[p] = p < n_ports ? server_side[p] : 0;
	}
	w->cfg = cfg;
	w->pool = pool;
	return 0;
}

void dp_worker_fini(struct dp_worker *w)
{
	(void)w;
}

void dp_worker_emit(struct dp_worker *w, uint16_t port, struct rte_mbuf *m)
{
	struct dp_txbuf *t = &w->tx[port];

	if (t->n >= DP_TXBUF_MAX) {
		DP_CNT_INC(&w->cnt, tx_drop_full);
		rte_pktmbuf_free(m);
		return;
	}
	t->pkts[t->n++] = m;
}

void dp_worker_process_burst(struct dp_worker *w, uint16_t port, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t out = w->peer[port];

	for (uint16_t i = 0; i < n; i++) {
		DP_CNT_INC(&w->cnt, rx_pkts);
		DP_CNT_ADD(&w->cnt, rx_bytes, rte_pktmbuf_pkt_len(pkts[i]));
		if (out == UINT16_MAX) {
			rte_pktmbuf_free(pkts[i]);
			continue;
		}
		DP_CNT_INC(&w->cnt, bridged_pkts);
		dp_worker_emit(w, out, pkts[i]);
	}
}

void dp_worker_timers(struct dp_worker *w)
{
	(void)w;
}
