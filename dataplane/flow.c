/* flow.c - per-worker flow table: an rte_hash of canonical keys, a mempool of flows, LRU expiry. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <rte_byteorder.h>
#include <rte_common.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include "dataplane/flow.h"

/* rte_hash's bucket: 8 (signature, key index) pairs, flags and an extension pointer,
 * cache aligned. struct rte_hash_bucket and RTE_HASH_BUCKET_ENTRIES are private to
 * DPDK (rte_cuckoo_hash.h); these are their 22.11 values. */
#define FLOW_HASH_BUCKET_ENTRIES 8u
#define FLOW_HASH_BUCKET_BYTES   RTE_CACHE_LINE_SIZE
/* rte_hash's key slot header (the data pointer stored next to each key), and the
 * alignment of a slot (KEY_ALIGNMENT in rte_cuckoo_hash.h). */
#define FLOW_HASH_SLOT_HDR   sizeof(void *)
#define FLOW_HASH_SLOT_ALIGN 16

struct flow_table {
	struct rte_hash *hash;        /* key -> struct flow * */
	struct rte_mempool *pool;     /* <capacity> struct flow entries */
	struct flow_list active;      /* open flows, least recently touched first */
	struct flow_list closed;      /* FIN/RST seen, least recently touched first */
	uint32_t count;               /* flows in the table now */
	uint32_t capacity;            /* configured capacity (exact, not rounded) */
	size_t bytes_per_flow;        /* memory estimate, computed at creation */
};

static size_t flow_estimate_bytes(const struct flow_table *ft, uint32_t hash_entries);

/* rte_hash_crc(key, 48, init) unrolled for the fixed key size: the same value word for
 * word (six 8-byte CRC steps), without the generic loop and the 4/2/1-byte tails that
 * cost ~45 instructions a lookup. rte_hash always passes key_len, which is 48. */
static uint32_t flow_key_hash(const void *key, uint32_t len, uint32_t init)
{
	const uint8_t *b = key;

	RTE_SET_USED(len);
	for (unsigned i = 0; i < sizeof(struct flow_key) / 8; i++) {
		uint64_t w;

		memcpy(&w, b + 8 * i, 8);
		init = rte_hash_crc_8byte(w, init);
	}
	return init;
}

struct flow_table *flow_table_create(const char *name, uint32_t capacity, int socket)
{
	struct rte_hash_parameters hp = { 0 };
	char hname[RTE_HASH_NAMESIZE], pname[RTE_MEMPOOL_NAMESIZE];
	struct flow_table *ft;
	int n1, n2, err;

	if (name == NULL || capacity == 0 || capacity > RTE_HASH_ENTRIES_MAX) {
		rte_errno = EINVAL;
		return NULL;
	}
	/* rte_hash also names rings "HT_EXT_<name>" (RTE_RING_NAMESIZE), so keep the
	 * hash's own name short enough for that too. */
	n1 = snprintf(hname, sizeof(hname), "ft_%s", name);
	n2 = snprintf(pname, sizeof(pname), "fp_%s", name);
	if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof(hname) || (size_t)n2 >= sizeof(pname) ||
	    (size_t)n1 + sizeof("HT_EXT_") > RTE_RING_NAMESIZE) {
		rte_errno = ENAMETOOLONG;
		return NULL;
	}

	ft = rte_zmalloc_socket("flow_table", sizeof(*ft), RTE_CACHE_LINE_SIZE, socket);
	if (ft == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	TAILQ_INIT(&ft->active);
	TAILQ_INIT(&ft->closed);
	ft->capacity = capacity;

	hp.name = hname;
	/* rte_hash refuses fewer entries than one bucket holds; the exact capacity is
	 * enforced by flow_insert, not by the hash. */
	hp.entries = RTE_MAX(capacity, FLOW_HASH_BUCKET_ENTRIES);
	RTE_BUILD_BUG_ON(sizeof(struct flow_key) != 48);
	hp.key_len = sizeof(struct flow_key);
	RTE_BUILD_BUG_ON(sizeof(struct flow_key) % 8 != 0);
	hp.hash_func = flow_key_hash; /* rte_hash_crc: SSE4.2 crc32 on x86, table fallback elsewhere */
	hp.hash_func_init_val = 0;
	hp.socket_id = socket;
	/* One writer and reader (this worker): no RW flags. EXT_TABLE chains overflow
	 * buckets, so an unlucky cluster of keys never fails an insert below capacity. */
	hp.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
	ft->hash = rte_hash_create(&hp);
	if (ft->hash == NULL)
		goto err;

	ft->pool = rte_mempool_create(pname, capacity, sizeof(struct flow), 0, 0,
				      NULL, NULL, NULL, NULL, socket,
				      RTE_MEMPOOL_F_SP_PUT | RTE_MEMPOOL_F_SC_GET);
	if (ft->pool == NULL)
		goto err;

	ft->bytes_per_flow = flow_estimate_bytes(ft, hp.entries);
	return ft;
err:
	/* rte_errno was set by the failing call; the frees must not change it. */
	err = rte_errno;
	rte_hash_free(ft->hash);
	rte_free(ft);
	rte_errno = err;
	return NULL;
}

/* Memory that each flow costs, all of it allocated at creation:
 *  - the mempool object (header + struct flow + trailer, cache-line padded) and its
 *    slot in the pool's ring (one pointer per power-of-two slot);
 *  - the hash: its key store (one slot of data pointer + key per entry, plus the dummy
 *    slot 0), its bucket array and the same number of extension buckets
 *    (rte_align32pow2(entries) / 8 each), and the rings of free key slots and free
 *    extension buckets.
 * The sum is divided by the configured capacity, rounded up. The layout figures follow
 * rte_cuckoo_hash.c of DPDK 22.11; they are an estimate, not a measurement. */
static size_t flow_estimate_bytes(const struct flow_table *ft, uint32_t hash_entries)
{
	const struct rte_mempool *mp = ft->pool;
	uint64_t pow2 = rte_align32pow2(hash_entries);
	uint64_t buckets = pow2 / FLOW_HASH_BUCKET_ENTRIES;
	uint64_t slot = RTE_ALIGN_CEIL(FLOW_HASH_SLOT_HDR + sizeof(struct flow_key),
				       FLOW_HASH_SLOT_ALIGN);
	uint64_t total = 0;
	ssize_t r;

	total += (uint64_t)(mp->header_size + mp->elt_size + mp->trailer_size) * ft->capacity;
	r = rte_ring_get_memsize(rte_align32pow2(ft->capacity + 1));
	total += r > 0 ? (uint64_t)r : 0;

	total += slot * (hash_entries + 1);
	total += 2 * buckets * FLOW_HASH_BUCKET_BYTES;
	r = rte_ring_get_memsize_elem(sizeof(uint32_t), rte_align32pow2(hash_entries + 1));
	total += r > 0 ? (uint64_t)r : 0;
	r = rte_ring_get_memsize_elem(sizeof(uint32_t), rte_align32pow2(buckets + 1));
	total += r > 0 ? (uint64_t)r : 0;

	return (size_t)((total + ft->capacity - 1) / ft->capacity);
}

static inline struct flow_list *flow_list_of(struct flow_table *ft, const struct flow *f)
{
	return f->closed ? &ft->closed : &ft->active;
}

void flow_table_free(struct flow_table *ft, void (*release)(struct flow *f, void *arg), void *arg)
{
	struct flow *f;

	if (ft == NULL)
		return;
	/* The pool and the hash go away whole, so each flow only needs its release;
	 * unlink first so that <release> sees a flow no longer in the table. */
	while ((f = TAILQ_FIRST(&ft->closed)) != NULL || (f = TAILQ_FIRST(&ft->active)) != NULL) {
		TAILQ_REMOVE(flow_list_of(ft, f), f, lru);
		f->in_table = 0;
		if (release != NULL)
			release(f, arg);
	}
	rte_hash_free(ft->hash);
	rte_mempool_free(ft->pool);
	rte_free(ft);
}

/* The canonical order of the two endpoints is the memory order of (address, port): the
 * address bytes in network order (so the numeric order), then the port. Any total order
 * would do; it only has to be the same both ways. The address is compared as big-endian
 * words rather than with memcmp: the same order, without a library call a packet. */
static inline uint64_t flow_be64(const uint32_t *a)
{
	uint64_t v;

	memcpy(&v, a, 8);
	return rte_be_to_cpu_64(v);
}

void flow_key_from_pkt(const struct dp_pkt *p, struct flow_key *k, uint8_t *side)
{
	uint8_t s;

	/* The key is hashed and compared as bytes: every byte, pad and unused address
	 * words included, must be a function of the connection alone. */
	memset(k, 0, sizeof(*k));
	if (p->ip_ver == 6) {
		uint64_t sh = flow_be64(&p->src[0]), dh = flow_be64(&p->dst[0]);
		uint64_t sl = flow_be64(&p->src[2]), dl = flow_be64(&p->dst[2]);

		if (sh != dh)
			s = sh > dh;
		else if (sl != dl)
			s = sl > dl;
		else
			s = p->sport > p->dport;
		memcpy(k->addr[s], p->src, 16);
		memcpy(k->addr[s ^ 1], p->dst, 16);
	} else {
		uint64_t se = (uint64_t)rte_be_to_cpu_32(p->src[0]) << 16 | p->sport;
		uint64_t de = (uint64_t)rte_be_to_cpu_32(p->dst[0]) << 16 | p->dport;

		s = se > de;
		k->addr[s][0] = p->src[0];
		k->addr[s ^ 1][0] = p->dst[0];
	}
	k->port[s] = p->sport;
	k->port[s ^ 1] = p->dport;
	k->vlan = p->n_vlan > 0 ? p->vlan[0] : 0;
	k->ip_ver = p->ip_ver;
	*side = s;
}

struct flow *flow_lookup(struct flow_table *ft, const struct flow_key *k)
{
	void *data;

	if (rte_hash_lookup_data(ft->hash, k, &data) < 0)
		return NULL;
	return data;
}

void flow_lookup_bulk(struct flow_table *ft, const struct flow_key **keys, unsigned n,
		      struct flow **out)
{
	void *data[FLOW_BULK_MAX];
	uint64_t hits = 0;

	RTE_BUILD_BUG_ON(FLOW_BULK_MAX > RTE_HASH_LOOKUP_BULK_MAX);
	if (n == 0)
		return;
	if (rte_hash_lookup_bulk_data(ft->hash, (const void **)keys, n, &hits, data) <= 0)
		hits = 0;
	for (unsigned i = 0; i < n; i++)
		out[i] = (hits >> i & 1) ? data[i] : NULL;
}

struct flow *flow_insert(struct flow_table *ft, const struct flow_key *k, uint64_t now_ns)
{
	hash_sig_t sig;
	void *obj;
	struct flow *f;

	if (ft->count >= ft->capacity) {
		rte_errno = ENOSPC;
		return NULL;
	}
	sig = rte_hash_hash(ft->hash, k);
	/* rte_hash_add_* silently replaces the data of an existing key, which would orphan
	 * the old flow on an LRU list; a second insert of one key is refused instead. */
	if (rte_hash_lookup_with_hash(ft->hash, k, sig) >= 0) {
		rte_errno = EEXIST;
		return NULL;
	}
	if (rte_mempool_get(ft->pool, &obj) < 0) {
		rte_errno = ENOSPC;
		return NULL;
	}
	f = obj;
	memset(f, 0, sizeof(*f));
	f->key = *k;
	f->last_ns = now_ns;
	if (rte_hash_add_key_with_hash_data(ft->hash, &f->key, sig, f) < 0) {
		rte_mempool_put(ft->pool, f);
		rte_errno = ENOSPC;
		return NULL;
	}
	f->in_table = 1;
	TAILQ_INSERT_TAIL(&ft->active, f, lru);
	ft->count++;
	return f;
}

void flow_touch(struct flow_table *ft, struct flow *f, uint64_t now_ns)
{
	struct flow_list *l = flow_list_of(ft, f);

	f->last_ns = now_ns;
	/* Most packets belong to the most recent flow: skip the relink then. */
	if (TAILQ_NEXT(f, lru) == NULL)
		return;
	TAILQ_REMOVE(l, f, lru);
	TAILQ_INSERT_TAIL(l, f, lru);
}

void flow_mark_closed(struct flow_table *ft, struct flow *f, uint64_t now_ns)
{
	TAILQ_REMOVE(flow_list_of(ft, f), f, lru);
	f->closed = 1;
	f->last_ns = now_ns;
	TAILQ_INSERT_TAIL(&ft->closed, f, lru);
}

void flow_reopen(struct flow_table *ft, struct flow *f, uint64_t now_ns)
{
	if (!f->closed)
		return;
	TAILQ_REMOVE(&ft->closed, f, lru);
	f->closed = 0;
	f->last_ns = now_ns;
	TAILQ_INSERT_TAIL(&ft->active, f, lru);
}

void flow_remove(struct flow_table *ft, struct flow *f)
{
	if (!f->in_table)
		return;
	TAILQ_REMOVE(flow_list_of(ft, f), f, lru);
	rte_hash_del_key(ft->hash, &f->key);
	f->in_table = 0;
	ft->count--;
	rte_mempool_put(ft->pool, f);
}

/* Expires from the head of <l> while the head is older than <timeout>, at most <budget>.
 * The list is in last_ns order (every stamp moves a flow to the tail), so the first
 * young flow ends the walk. */
static unsigned flow_expire_list(struct flow_table *ft, struct flow_list *l, uint64_t now_ns,
				 uint64_t timeout, unsigned budget,
				 void (*release)(struct flow *f, void *arg), void *arg)
{
	unsigned n = 0;
	struct flow *f;

	while (n < budget && (f = TAILQ_FIRST(l)) != NULL) {
		/* A stamp from the future (clock read on another core) is not idle. */
		if (now_ns <= f->last_ns || now_ns - f->last_ns <= timeout)
			break;
		/* <release> frees what the flow holds; it must not remove the flow. */
		if (release != NULL)
			release(f, arg);
		flow_remove(ft, f);
		n++;
	}
	return n;
}

unsigned flow_expire(struct flow_table *ft, uint64_t now_ns, uint64_t idle_ns, uint64_t closed_ns,
		     unsigned budget, void (*release)(struct flow *f, void *arg), void *arg,
		     unsigned *idle, unsigned *closed)
{
	unsigned nc, ni;

	/* Closed flows first: they are finished, and their slots are the cheapest win. */
	nc = flow_expire_list(ft, &ft->closed, now_ns, closed_ns, budget, release, arg);
	ni = flow_expire_list(ft, &ft->active, now_ns, idle_ns, budget - nc, release, arg);
	if (idle != NULL)
		*idle = ni;
	if (closed != NULL)
		*closed = nc;
	return nc + ni;
}

uint32_t flow_count(const struct flow_table *ft)
{
	return ft->count;
}

uint32_t flow_capacity(const struct flow_table *ft)
{
	return ft->capacity;
}

size_t flow_bytes_per_flow(const struct flow_table *ft)
{
	return ft->bytes_per_flow;
}

struct flow *flow_find_id(struct flow_table *ft, uint64_t id)
{
	struct flow *f;

	/* O(flows): for rare management actions (kill), not the packet path */
	TAILQ_FOREACH(f, &ft->active, lru)
		if (f->id == id)
			return f;
	TAILQ_FOREACH(f, &ft->closed, lru)
		if (f->id == id)
			return f;
	return NULL;
}
