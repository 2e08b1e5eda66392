/* test_flow.c - unit tests of the per-worker flow table (dataplane/flow.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <rte_errno.h>
#include <rte_memory.h>
#include "dataplane/flow.h"
#include "tests/common/test_eal.h"

#define MAX_IDS 4096

/* What the release callback saw: how often each flow id was released, in which order. */
struct rel_log {
	unsigned calls;
	unsigned per_id[MAX_IDS];
	uint64_t order[MAX_IDS];
};

static void rel_cb(struct flow *f, void *arg)
{
	struct rel_log *log = arg;

	if (log->calls < MAX_IDS)
		log->order[log->calls] = f->id;
	log->calls++;
	if (f->id < MAX_IDS)
		log->per_id[f->id]++;
}

static void rel_count(struct flow *f, void *arg)
{
	(*(uint64_t *)arg)++;
}

/* A parsed IPv4 TCP packet; the rest of the struct is filled with junk, as a parser
 * reusing a struct dp_pkt might leave it. */
static void pkt4(struct dp_pkt *p, const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
	memset(p, 0xa5, sizeof(*p));
	p->ip_ver = 4;
	p->n_vlan = 0;
	assert_int_equal(inet_pton(AF_INET, src, &p->src[0]), 1);
	assert_int_equal(inet_pton(AF_INET, dst, &p->dst[0]), 1);
	p->sport = sport;
	p->dport = dport;
}

static void pkt6(struct dp_pkt *p, const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
	memset(p, 0xa5, sizeof(*p));
	p->ip_ver = 6;
	p->n_vlan = 0;
	assert_int_equal(inet_pton(AF_INET6, src, p->src), 1);
	assert_int_equal(inet_pton(AF_INET6, dst, p->dst), 1);
	p->sport = sport;
	p->dport = dport;
}

/* The reply of <p>: addresses and ports swapped, same VLANs. */
static void reverse(const struct dp_pkt *p, struct dp_pkt *r)
{
	*r = *p;
	memcpy(r->src, p->dst, sizeof(r->src));
	memcpy(r->dst, p->src, sizeof(r->dst));
	r->sport = p->dport;
	r->dport = p->sport;
}

/* A distinct IPv4 key per <i> (198.18.0.0/15 addresses). */
static void key_n(struct flow_key *k, uint32_t i)
{
	struct dp_pkt p;
	uint8_t side;

	memset(&p, 0, sizeof(p));
	p.ip_ver = 4;
	p.src[0] = htonl(0xc6120000u | (i >> 16));      /* 198.18.x.y */
	p.dst[0] = htonl(0xc6130001u);                   /* 198.19.0.1 */
	p.sport = (uint16_t)(i & 0xffff);
	p.dport = 5432;
	flow_key_from_pkt(&p, k, &side);
}

static int setup_eal(void **state)
{
	return test_eal_init() == 0 ? 0 : -1;
}

static void test_key_v4_both_directions(void **state)
{
	struct dp_pkt p, r;
	struct flow_key a, b;
	uint8_t sa, sb;

	pkt4(&p, "198.18.0.10", 40000, "198.18.1.1", 5432);
	reverse(&p, &r);
	flow_key_from_pkt(&p, &a, &sa);
	flow_key_from_pkt(&r, &b, &sb);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(sa ^ sb, 1);
	/* 198.18.0.10 < 198.18.1.1: the client is side 0. */
	assert_int_equal(sa, 0);
	assert_int_equal(a.addr[0][0], p.src[0]);
	assert_int_equal(a.addr[1][0], p.dst[0]);
	assert_int_equal(a.port[0], 40000);
	assert_int_equal(a.port[1], 5432);
	for (int s = 0; s < 2; s++)
		for (int w = 1; w < 4; w++)
			assert_int_equal(a.addr[s][w], 0);
	assert_int_equal(a.ip_ver, 4);
	assert_int_equal(a.vlan, 0);
	for (size_t i = 0; i < sizeof(a.pad); i++)
		assert_int_equal(a.pad[i], 0);

	/* The order is numeric on the address, not on its first word's host value. */
	pkt4(&p, "198.19.0.1", 1000, "198.18.255.255", 2000);
	flow_key_from_pkt(&p, &a, &sa);
	assert_int_equal(sa, 1);
}

static void test_key_v4_same_address_orders_by_port(void **state)
{
	struct dp_pkt p, r;
	struct flow_key a, b;
	uint8_t sa, sb;

	pkt4(&p, "198.18.0.1", 6000, "198.18.0.1", 5000);
	reverse(&p, &r);
	flow_key_from_pkt(&p, &a, &sa);
	flow_key_from_pkt(&r, &b, &sb);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(sa, 1);
	assert_int_equal(sb, 0);
	assert_int_equal(a.port[0], 5000);
	assert_int_equal(a.port[1], 6000);
}

static void test_key_v6_both_directions(void **state)
{
	struct dp_pkt p, r;
	struct flow_key a, b;
	uint8_t sa, sb;

	pkt6(&p, "2001:db8::2", 5432, "2001:db8::1:1", 50000);
	reverse(&p, &r);
	flow_key_from_pkt(&p, &a, &sa);
	flow_key_from_pkt(&r, &b, &sb);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(sa, 0);
	assert_int_equal(sb, 1);
	assert_memory_equal(a.addr[0], p.src, 16);
	assert_memory_equal(a.addr[1], p.dst, 16);
	assert_int_equal(a.ip_ver, 6);
	for (size_t i = 0; i < sizeof(a.pad); i++)
		assert_int_equal(a.pad[i], 0);

	/* Addresses that differ only in the last byte. */
	pkt6(&p, "2001:db8::ff", 1, "2001:db8::fe", 1);
	reverse(&p, &r);
	flow_key_from_pkt(&p, &a, &sa);
	flow_key_from_pkt(&r, &b, &sb);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(sa, 1);
}

static void test_key_vlan_distinguishes(void **state)
{
	struct dp_pkt p, r;
	struct flow_key untagged, v10, v10r, v20, v10inner;
	uint8_t s;

	pkt4(&p, "198.18.0.10", 40000, "198.18.1.1", 5432);
	flow_key_from_pkt(&p, &untagged, &s);
	p.n_vlan = 1;
	p.vlan[0] = 10;
	flow_key_from_pkt(&p, &v10, &s);
	reverse(&p, &r);
	flow_key_from_pkt(&r, &v10r, &s);
	p.vlan[0] = 20;
	flow_key_from_pkt(&p, &v20, &s);
	/* QinQ: the outer tag is the key, the inner one is not. */
	p.n_vlan = 2;
	p.vlan[0] = 10;
	p.vlan[1] = 99;
	flow_key_from_pkt(&p, &v10inner, &s);

	assert_int_equal(v10.vlan, 10);
	assert_memory_equal(&v10, &v10r, sizeof(v10));
	assert_memory_equal(&v10, &v10inner, sizeof(v10));
	assert_memory_not_equal(&untagged, &v10, sizeof(v10));
	assert_memory_not_equal(&v10, &v20, sizeof(v10));
}

static void test_create_errors(void **state)
{
	struct flow_table *ft, *dup;

	rte_errno = 0;
	assert_null(flow_table_create("ce0", 0, SOCKET_ID_ANY));
	assert_int_equal(rte_errno, EINVAL);
	assert_null(flow_table_create("a-name-far-too-long-for-dpdk-rings", 16, SOCKET_ID_ANY));
	assert_int_equal(rte_errno, ENAMETOOLONG);

	ft = flow_table_create("ce1", 16, SOCKET_ID_ANY);
	assert_non_null(ft);
	dup = flow_table_create("ce1", 16, SOCKET_ID_ANY);
	assert_null(dup);
	assert_int_equal(flow_capacity(ft), 16);
	assert_int_equal(flow_count(ft), 0);
	/* The entry, plus some share of the hash (at least its key slot). */
	assert_true(flow_bytes_per_flow(ft) >= sizeof(struct flow) + sizeof(struct flow_key));
	assert_true(flow_bytes_per_flow(ft) < sizeof(struct flow) + 1024);
	flow_table_free(ft, NULL, NULL);

	/* The name is free again once the table is. */
	ft = flow_table_create("ce1", 16, SOCKET_ID_ANY);
	assert_non_null(ft);
	flow_table_free(ft, NULL, NULL);
}

static void test_insert_lookup_remove(void **state)
{
	struct flow_table *ft = flow_table_create("ilr", 64, SOCKET_ID_ANY);
	struct dp_pkt p, r;
	struct flow_key k, kr, other;
	struct flow *f;
	uint8_t s;
	static const uint8_t zero[FLOW_DEC_STATE_SIZE];

	assert_non_null(ft);
	pkt4(&p, "198.18.0.10", 40000, "198.18.1.1", 5432);
	reverse(&p, &r);
	flow_key_from_pkt(&p, &k, &s);
	flow_key_from_pkt(&r, &kr, &s);
	key_n(&other, 7);

	assert_null(flow_lookup(ft, &k));
	f = flow_insert(ft, &k, 1234);
	assert_non_null(f);
	assert_int_equal(flow_count(ft), 1);
	assert_memory_equal(&f->key, &k, sizeof(k));
	assert_int_equal(f->last_ns, 1234);
	assert_int_equal(f->in_table, 1);
	assert_int_equal(f->closed, 0);
	assert_int_equal(f->id, 0);
	assert_int_equal(f->mode, FLOW_INSPECT);
	assert_memory_equal(f->dec_state, zero, sizeof(zero));

	assert_ptr_equal(flow_lookup(ft, &k), f);
	assert_ptr_equal(flow_lookup(ft, &kr), f);
	assert_null(flow_lookup(ft, &other));

	/* A second insert of the same key is refused and changes nothing. */
	rte_errno = 0;
	assert_null(flow_insert(ft, &kr, 2000));
	assert_int_equal(rte_errno, EEXIST);
	assert_int_equal(flow_count(ft), 1);
	assert_ptr_equal(flow_lookup(ft, &k), f);

	flow_remove(ft, f);
	assert_int_equal(flow_count(ft), 0);
	assert_null(flow_lookup(ft, &k));

	/* A flow that was written to comes back zeroed. */
	f = flow_insert(ft, &k, 5);
	assert_non_null(f);
	memset(f->dec_state, 0x5a, sizeof(f->dec_state));
	f->id = 42;
	flow_remove(ft, f);
	f = flow_insert(ft, &k, 6);
	assert_non_null(f);
	assert_int_equal(f->id, 0);
	assert_memory_equal(f->dec_state, zero, sizeof(zero));
	flow_table_free(ft, NULL, NULL);
}

static void check_capacity(const char *name, uint32_t cap)
{
	struct flow_table *ft = flow_table_create(name, cap, SOCKET_ID_ANY);
	struct flow *fl[1100];
	struct flow_key k;

	assert_non_null(ft);
	assert_true(cap < 1100);
	for (uint32_t i = 0; i < cap; i++) {
		key_n(&k, i);
		fl[i] = flow_insert(ft, &k, i);
		assert_non_null(fl[i]);
	}
	assert_int_equal(flow_count(ft), cap);
	key_n(&k, cap);
	rte_errno = 0;
	assert_null(flow_insert(ft, &k, cap));
	assert_int_equal(rte_errno, ENOSPC);
	assert_int_equal(flow_count(ft), cap);
	for (uint32_t i = 0; i < cap; i++) {
		key_n(&k, i);
		assert_ptr_equal(flow_lookup(ft, &k), fl[i]);
	}

	/* One slot freed, one more insert, and full again. */
	flow_remove(ft, fl[cap / 2]);
	key_n(&k, cap / 2);
	assert_null(flow_lookup(ft, &k));
	key_n(&k, cap);
	assert_non_null(flow_insert(ft, &k, cap));
	key_n(&k, cap + 1);
	assert_null(flow_insert(ft, &k, cap + 1));
	assert_int_equal(flow_count(ft), cap);
	flow_table_free(ft, NULL, NULL);
}

static void test_capacity_exact(void **state)
{
	check_capacity("cap100", 100);     /* rte_hash rounds to 128 */
	check_capacity("cap5", 5);         /* below one hash bucket */
	check_capacity("cap1024", 1024);   /* a power of two: hash and pool both exact */
	check_capacity("cap1", 1);
}

/* Inserts a flow with key <i> at <now> and gives it id <i>. */
static struct flow *ins(struct flow_table *ft, uint32_t i, uint64_t now)
{
	struct flow_key k;
	struct flow *f;

	key_n(&k, i);
	f = flow_insert(ft, &k, now);
	assert_non_null(f);
	f->id = i;
	return f;
}

static void test_expire_lru_order(void **state)
{
	struct flow_table *ft = flow_table_create("lru", 16, SOCKET_ID_ANY);
	static struct rel_log log;
	struct flow *a, *b, *c;
	unsigned idle = 99, closed = 99;
	struct flow_key k;

	memset(&log, 0, sizeof(log));
	assert_non_null(ft);
	a = ins(ft, 1, 0);
	b = ins(ft, 2, 1);
	c = ins(ft, 3, 2);
	(void)b;
	(void)c;
	flow_touch(ft, a, 10);             /* order now: b(1), c(2), a(10) */
	assert_int_equal(a->last_ns, 10);

	/* Nothing is idle for more than 100 ns at t=100. */
	assert_int_equal(flow_expire(ft, 100, 100, 5, 64, rel_cb, &log, &idle, &closed), 0);
	assert_int_equal(idle, 0);
	assert_int_equal(closed, 0);
	/* t=102: b is 101 old (expires), c is exactly 100 old (does not). */
	assert_int_equal(flow_expire(ft, 102, 100, 5, 64, rel_cb, &log, &idle, &closed), 1);
	assert_int_equal(idle, 1);
	assert_int_equal(log.calls, 1);
	assert_int_equal(log.order[0], 2);
	key_n(&k, 2);
	assert_null(flow_lookup(ft, &k));
	/* t=110: c goes, a (touched at 10) stays. */
	assert_int_equal(flow_expire(ft, 110, 100, 5, 64, rel_cb, &log, &idle, &closed), 1);
	assert_int_equal(log.order[1], 3);
	key_n(&k, 1);
	assert_ptr_equal(flow_lookup(ft, &k), a);
	assert_int_equal(flow_expire(ft, 111, 100, 5, 64, rel_cb, &log, &idle, &closed), 1);
	assert_int_equal(log.order[2], 1);
	assert_int_equal(flow_count(ft), 0);
	for (int i = 1; i <= 3; i++)
		assert_int_equal(log.per_id[i], 1);
	assert_int_equal(log.calls, 3);
	flow_table_free(ft, rel_cb, &log);
	assert_int_equal(log.calls, 3);
}

static void test_expire_closed_timeout(void **state)
{
	struct flow_table *ft = flow_table_create("clo", 16, SOCKET_ID_ANY);
	static struct rel_log log;
	struct flow *a, *b, *c;
	unsigned idle, closed;

	memset(&log, 0, sizeof(log));
	assert_non_null(ft);
	a = ins(ft, 1, 0);
	b = ins(ft, 2, 0);
	c = ins(ft, 3, 0);
	flow_mark_closed(ft, b, 50);
	assert_int_equal(b->closed, 1);
	assert_int_equal(b->last_ns, 50);
	flow_mark_closed(ft, c, 52);

	/* t=56: b is 6 old on a 5 ns closed timeout; c is 4 old; a is on the idle one. */
	assert_int_equal(flow_expire(ft, 56, 1000, 5, 64, rel_cb, &log, &idle, &closed), 1);
	assert_int_equal(closed, 1);
	assert_int_equal(idle, 0);
	assert_int_equal(log.order[0], 2);

	/* Touching a closed flow keeps it on the closed list, stamped. */
	flow_touch(ft, c, 60);
	assert_int_equal(c->closed, 1);
	assert_int_equal(flow_expire(ft, 65, 1000, 5, 64, rel_cb, &log, &idle, &closed), 0);
	assert_int_equal(flow_expire(ft, 66, 1000, 5, 64, rel_cb, &log, &idle, &closed), 1);
	assert_int_equal(closed, 1);
	assert_int_equal(log.order[1], 3);

	/* The active flow only goes on the idle timeout. */
	assert_int_equal(flow_expire(ft, 1000, 1000, 5, 64, rel_cb, &log, &idle, &closed), 0);
	assert_int_equal(flow_expire(ft, 1001, 1000, 5, 64, rel_cb, &log, &idle, &closed), 1);
	assert_int_equal(idle, 1);
	assert_int_equal(closed, 0);
	assert_int_equal(log.order[2], 1);
	(void)a;
	assert_int_equal(flow_count(ft), 0);
	flow_table_free(ft, rel_cb, &log);
	assert_int_equal(log.calls, 3);
}

static void test_expire_budget(void **state)
{
	struct flow_table *ft = flow_table_create("bud", 32, SOCKET_ID_ANY);
	static struct rel_log log;
	struct flow *fl[10];
	unsigned idle, closed;

	memset(&log, 0, sizeof(log));
	assert_non_null(ft);
	for (uint32_t i = 0; i < 10; i++)
		fl[i] = ins(ft, i, i);
	/* Two closed, eight active, all long past both timeouts at t=10000. */
	flow_mark_closed(ft, fl[3], 20);
	flow_mark_closed(ft, fl[7], 21);

	/* Budget 3: the closed list first (2), then one active. */
	assert_int_equal(flow_expire(ft, 10000, 100, 10, 3, rel_cb, &log, &idle, &closed), 3);
	assert_int_equal(closed, 2);
	assert_int_equal(idle, 1);
	assert_int_equal(flow_count(ft), 7);
	assert_int_equal(log.order[0], 3);
	assert_int_equal(log.order[1], 7);
	assert_int_equal(log.order[2], 0);

	assert_int_equal(flow_expire(ft, 10000, 100, 10, 4, rel_cb, &log, &idle, &closed), 4);
	assert_int_equal(idle, 4);
	assert_int_equal(flow_count(ft), 3);
	assert_int_equal(flow_expire(ft, 10000, 100, 10, 0, rel_cb, &log, &idle, &closed), 0);
	assert_int_equal(flow_count(ft), 3);
	assert_int_equal(flow_expire(ft, 10000, 100, 10, 100, rel_cb, &log, &idle, &closed), 3);
	assert_int_equal(flow_count(ft), 0);
	assert_int_equal(log.calls, 10);
	for (int i = 0; i < 10; i++)
		assert_int_equal(log.per_id[i], 1);
	/* Oldest first within the active list. */
	{
		static const uint64_t want[10] = { 3, 7, 0, 1, 2, 4, 5, 6, 8, 9 };

		for (int i = 0; i < 10; i++)
			assert_int_equal(log.order[i], want[i]);
	}
	flow_table_free(ft, rel_cb, &log);
	assert_int_equal(log.calls, 10);
}

static void test_expire_future_stamp(void **state)
{
	struct flow_table *ft = flow_table_create("fut", 8, SOCKET_ID_ANY);
	uint64_t n = 0;

	assert_non_null(ft);
	ins(ft, 1, 5000);
	/* A stamp later than now is not idle (no unsigned wrap-around). */
	assert_int_equal(flow_expire(ft, 10, 100, 100, 8, rel_count, &n, NULL, NULL), 0);
	assert_int_equal(n, 0);
	assert_int_equal(flow_count(ft), 1);
	flow_table_free(ft, rel_count, &n);
	assert_int_equal(n, 1);
}

static void test_free_releases_all(void **state)
{
	struct flow_table *ft = flow_table_create("fre", 16, SOCKET_ID_ANY);
	static struct rel_log log;
	struct flow *fl[7];

	memset(&log, 0, sizeof(log));
	assert_non_null(ft);
	for (uint32_t i = 0; i < 7; i++)
		fl[i] = ins(ft, i + 1, i);
	flow_mark_closed(ft, fl[1], 10);
	flow_mark_closed(ft, fl[4], 11);
	flow_remove(ft, fl[6]);            /* removed flows are not released again */
	flow_table_free(ft, rel_cb, &log);
	assert_int_equal(log.calls, 6);
	for (int i = 1; i <= 6; i++)
		assert_int_equal(log.per_id[i], 1);
	assert_int_equal(log.per_id[7], 0);
}

/* 100k flows through a 1024-entry table: insert, sometimes close, expire a few per
 * round. Every flow is released exactly once, the table never fills, and it ends
 * empty with its whole capacity usable again (nothing leaked from the pool). */
static void test_churn(void **state)
{
	const uint32_t cap = 1024, cycles = 100000;
	struct flow_table *ft = flow_table_create("churn", cap, SOCKET_ID_ANY);
	uint64_t released = 0, expired = 0;
	uint32_t max_count = 0;
	struct flow_key k;
	struct flow *f;

	assert_non_null(ft);
	for (uint32_t i = 0; i < cycles; i++) {
		uint64_t now = (uint64_t)i * 10;

		key_n(&k, i);
		f = flow_insert(ft, &k, now);
		assert_non_null(f);
		if (i % 3 == 0)
			flow_mark_closed(ft, f, now);
		/* Touch an older flow now and then, still in the table. */
		if (i >= 50 && i % 7 == 0) {
			key_n(&k, i - 50);
			f = flow_lookup(ft, &k);
			if (f != NULL)
				flow_touch(ft, f, now);
		}
		/* Idle 5000 ns (500 inserts), closed 500 ns (50 inserts). */
		expired += flow_expire(ft, now, 5000, 500, 4, rel_count, &released, NULL, NULL);
		if (flow_count(ft) > max_count)
			max_count = flow_count(ft);
	}
	assert_true(max_count < cap);
	expired += flow_expire(ft, UINT64_MAX, 5000, 500, cap, rel_count, &released, NULL, NULL);
	assert_int_equal(flow_count(ft), 0);
	assert_int_equal(expired, cycles);
	assert_int_equal(released, cycles);

	for (uint32_t i = 0; i < cap; i++) {
		key_n(&k, cycles + i);
		assert_non_null(flow_insert(ft, &k, 0));
	}
	key_n(&k, cycles + cap);
	assert_null(flow_insert(ft, &k, 0));
	released = 0;
	flow_table_free(ft, rel_count, &released);
	assert_int_equal(released, cap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_v4_both_directions),
		cmocka_unit_test(test_key_v4_same_address_orders_by_port),
		cmocka_unit_test(test_key_v6_both_directions),
		cmocka_unit_test(test_key_vlan_distinguishes),
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test(test_insert_lookup_remove),
		cmocka_unit_test(test_capacity_exact),
		cmocka_unit_test(test_expire_lru_order),
		cmocka_unit_test(test_expire_closed_timeout),
		cmocka_unit_test(test_expire_budget),
		cmocka_unit_test(test_expire_future_stamp),
		cmocka_unit_test(test_free_releases_all),
		cmocka_unit_test(test_churn),
	};

	return cmocka_run_group_tests(tests, setup_eal, NULL);
}
