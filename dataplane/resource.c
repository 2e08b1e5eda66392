/* resource.c - the per-worker resource index (see resource.h). */
#include <string.h>
#include <rte_common.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include "dataplane/resource.h"

/* One slot: a key and what it maps to. addr holds 4 bytes (IPv4, the rest zero) or 16. */
struct res_slot {
	uint32_t addr[4];
	uint16_t port;                /* 0 in the address-only table */
	uint8_t  ip_ver;              /* 0: empty slot */
	uint8_t  pad;
	int32_t  idx;                 /* resource index (address table: the first one) */
};

struct dp_res_index {
	uint32_t mask;                /* slots - 1 (a power of two, at least twice n) */
	struct res_slot *by_ep;       /* (ip_ver, addr, port) */
	struct res_slot *by_addr;     /* (ip_ver, addr) */
};

static inline uint32_t res_hash(uint8_t ip_ver, const uint32_t *addr, uint16_t port)
{
	uint32_t h = rte_hash_crc_4byte(((uint32_t)ip_ver << 16) | port, 0);

	h = rte_hash_crc_4byte(addr[0], h);
	if (ip_ver == 6) {
		h = rte_hash_crc_4byte(addr[1], h);
		h = rte_hash_crc_4byte(addr[2], h);
		h = rte_hash_crc_4byte(addr[3], h);
	}
	return h;
}

static inline int res_same(const struct res_slot *s, uint8_t ip_ver, const uint32_t *addr,
			   uint16_t port)
{
	if (s->ip_ver != ip_ver || s->port != port || s->addr[0] != addr[0])
		return 0;
	return ip_ver == 4 || (s->addr[1] == addr[1] && s->addr[2] == addr[2] && s->addr[3] == addr[3]);
}

/* Finds the slot of the key, or the empty slot where it would go. Never full: the
 * table has at least twice as many slots as keys. */
static struct res_slot *res_probe(struct res_slot *t, uint32_t mask, uint8_t ip_ver,
				  const uint32_t *addr, uint16_t port)
{
	for (uint32_t i = res_hash(ip_ver, addr, port) & mask;; i = (i + 1) & mask) {
		struct res_slot *s = &t[i];

		if (s->ip_ver == 0 || res_same(s, ip_ver, addr, port))
			return s;
	}
}

static void res_insert(struct res_slot *t, uint32_t mask, uint8_t ip_ver, const uint32_t *addr,
		       uint16_t port, int idx)
{
	struct res_slot *s = res_probe(t, mask, ip_ver, addr, port);

	if (s->ip_ver != 0)
		return;               /* the first resource listed wins */
	memset(s, 0, sizeof(*s));
	s->addr[0] = addr[0];
	if (ip_ver == 6)
		memcpy(s->addr, addr, 16);
	s->port = port;
	s->ip_ver = ip_ver;
	s->idx = idx;
}

struct dp_res_index *dp_res_index_build(const struct dp_config *cfg, int socket)
{
	uint32_t slots = 16;
	struct dp_res_index *x;

	while (slots < 2u * cfg->n_resources)
		slots <<= 1;
	x = rte_zmalloc_socket("tg_res_index", sizeof(*x), RTE_CACHE_LINE_SIZE, socket);
	if (x == NULL)
		return NULL;
	x->mask = slots - 1;
	x->by_ep = rte_zmalloc_socket("tg_res_ep", slots * sizeof(struct res_slot),
				      RTE_CACHE_LINE_SIZE, socket);
	x->by_addr = rte_zmalloc_socket("tg_res_addr", slots * sizeof(struct res_slot),
					RTE_CACHE_LINE_SIZE, socket);
	if (x->by_ep == NULL || x->by_addr == NULL) {
		dp_res_index_free(x);
		return NULL;
	}
	for (unsigned i = 0; i < cfg->n_resources; i++) {
		const struct dp_resource *r = &cfg->resources[i];

		if (r->ip_ver != 4 && r->ip_ver != 6)
			continue;
		res_insert(x->by_ep, x->mask, r->ip_ver, r->addr, r->port, (int)i);
		res_insert(x->by_addr, x->mask, r->ip_ver, r->addr, 0, (int)i);
	}
	return x;
}

void dp_res_index_free(struct dp_res_index *x)
{
	if (x == NULL)
		return;
	rte_free(x->by_ep);
	rte_free(x->by_addr);
	rte_free(x);
}

int dp_res_find(const struct dp_res_index *x, uint8_t ip_ver, const uint32_t *addr, uint16_t port)
{
	const struct res_slot *s = res_probe(x->by_ep, x->mask, ip_ver, addr, port);

	return s->ip_ver ? s->idx : -1;
}

int dp_res_addr_known(const struct dp_res_index *x, uint8_t ip_ver, const uint32_t *addr)
{
	return res_probe(x->by_addr, x->mask, ip_ver, addr, 0)->ip_ver != 0;
}
