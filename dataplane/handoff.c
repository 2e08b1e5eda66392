/* handoff.c - which worker owns a reassembled datagram, and the rings that carry it
 * there (see handoff.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <rte_byteorder.h>
#include <rte_jhash.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_thash.h>
#include "dataplane/handoff.h"

uint16_t dp_handoff_soft(uint32_t seed, uint16_t n_workers, const struct dp_pkt *p)
{
	/* XOR makes (a, b) and (b, a) one input. The hash must mix the seed in non-linearly:
	 * with a linear one (CRC32) the seed only XORs a constant into the result, so the
	 * flows that share a worker would be the same for every seed, and a client could
	 * choose ports that all land on one worker (found in review). jhash is keyed by
	 * its initial value. IPv4 addresses are in word 0 only. */
	uint32_t k[5];
	unsigned n = 0;

	for (unsigned i = 0; i < (p->ip_ver == 4 ? 1u : 4u); i++)
		k[n++] = p->src[i] ^ p->dst[i];
	k[n++] = (uint32_t)(p->sport ^ p->dport);
	/* the high bits of h * n: no division, and even for any n */
	return (uint16_t)(((uint64_t)rte_jhash_32b(k, n, seed) * n_workers) >> 32);
}

uint16_t dp_handoff_owner(const struct dp_handoff *h, uint16_t port, const struct dp_pkt *p)
{
	const struct dp_rss *r;
	union rte_thash_tuple t;
	uint32_t hash;

	if (h == NULL || port >= DP_MAX_PORTS)
		return UINT16_MAX;
	if (h->soft)
		return dp_handoff_soft(h->seed, h->n_workers, p);
	r = &h->rss[port];
	if (r->key_len == 0 || r->reta_size == 0)
		return UINT16_MAX;
	/* rte_softrss wants the tuple in CPU order, addresses word by word, and reads the
	 * key as the NIC does (bytes in order): the same hash as the NIC's Toeplitz over
	 * the packet's own source, destination and ports */
	if (!(p->ip_ver == 4 ? r->tcp4 : r->tcp6))
		return r->reta[0];
	memset(&t, 0, sizeof(t));
	if (p->ip_ver == 4) {
		t.v4.src_addr = rte_be_to_cpu_32(p->src[0]);
		t.v4.dst_addr = rte_be_to_cpu_32(p->dst[0]);
		t.v4.sport = p->sport;
		t.v4.dport = p->dport;
		hash = rte_softrss((uint32_t *)&t, RTE_THASH_V4_L4_LEN, r->key);
	} else {
		uint32_t *s = (uint32_t *)t.v6.src_addr, *d = (uint32_t *)t.v6.dst_addr;

		for (int i = 0; i < 4; i++) {
			s[i] = rte_be_to_cpu_32(p->src[i]);
			d[i] = rte_be_to_cpu_32(p->dst[i]);
		}
		t.v6.sport = p->sport;
		t.v6.dport = p->dport;
		hash = rte_softrss((uint32_t *)&t, RTE_THASH_V6_L4_LEN, r->key);
	}
	return r->reta[hash % r->reta_size];
}

int dp_handoff_rings_create(struct dp_handoff *h, int socket)
{
	char name[RTE_RING_NAMESIZE];

	if (h->n_workers > DP_MAX_WORKERS)
		return -1;
	for (uint16_t q = 0; q < h->n_workers; q++) {
		snprintf(name, sizeof(name), "tg_handoff_%p_%u", (void *)h, q);
		h->ring[q] = rte_ring_create(name, DP_HANDOFF_RING, socket, RING_F_SC_DEQ);
		if (h->ring[q] == NULL) {
			dp_handoff_rings_free(h);
			return -1;
		}
	}
	return 0;
}

int dp_handoff_wake_init(struct dp_handoff *h)
{
	if (h->n_workers > DP_MAX_WORKERS)
		return -1;
	for (uint16_t q = 0; q < h->n_workers; q++) {
		h->wake[q].efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (h->wake[q].efd < 0) {
			int e = errno;

			for (uint16_t k = 0; k < q; k++)
				close(h->wake[k].efd);
			errno = e;
			return -1;
		}
	}
	h->wake_on = 1;
	return 0;
}

void dp_handoff_kick(struct dp_handoff *h, uint16_t q)
{
	/* pairs with the fence in dp_handoff_sleep_begin: the enqueue is visible before
	 * the flag is read */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (h->wake_on && __atomic_load_n(&h->wake[q].asleep, __ATOMIC_RELAXED)) {
		uint64_t one = 1;
		ssize_t rc = write(h->wake[q].efd, &one, sizeof(one));

		(void)rc;                 /* EAGAIN: the counter is full, it is readable anyway */
	}
}

int dp_handoff_sleep_begin(struct dp_handoff *h, uint16_t q)
{
	__atomic_store_n(&h->wake[q].asleep, 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (h->ring[q] != NULL && rte_ring_count(h->ring[q]) > 0) {
		__atomic_store_n(&h->wake[q].asleep, 0, __ATOMIC_RELAXED);
		return 0;
	}
	return 1;
}

void dp_handoff_sleep_end(struct dp_handoff *h, uint16_t q)
{
	uint64_t v;

	__atomic_store_n(&h->wake[q].asleep, 0, __ATOMIC_RELAXED);
	if (h->wake_on && read(h->wake[q].efd, &v, sizeof(v)) < 0)
		(void)v;                  /* EAGAIN: nobody kicked */
}

void dp_handoff_rings_free(struct dp_handoff *h)
{
	void *m;

	for (uint16_t q = 0; h->wake_on && q < h->n_workers; q++)
		close(h->wake[q].efd);
	h->wake_on = 0;

	for (uint16_t q = 0; q < DP_MAX_WORKERS; q++) {
		if (h->ring[q] == NULL)
			continue;
		while (rte_ring_sc_dequeue(h->ring[q], &m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(h->ring[q]);
		h->ring[q] = NULL;
	}
}
