/* test_resource.c - the resource index (dataplane/resource.c): every configured resource
 * found by address and port, nothing else found, first listed wins on duplicates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <rte_memory.h>
#include "dataplane/dp_config-t.h"
#include "dataplane/resource.h"
#include "tests/common/test_eal.h"

/* Resource i of the full table: IPv4 198.18.(i/256).(i%256):5432+i%7 for even i,
 * IPv6 2001:2::i port 3306 for odd i. */
static void fill(struct dp_config *c, unsigned n)
{
	memset(c, 0, sizeof(*c));
	c->n_resources = (uint16_t)n;
	for (unsigned i = 0; i < n; i++) {
		struct dp_resource *r = &c->resources[i];

		if (i % 2 == 0) {
			r->ip_ver = 4;
			r->addr[0] = htonl(0xc6120000u | i);
			r->port = (uint16_t)(5432 + i % 7);
		} else {
			r->ip_ver = 6;
			r->addr[0] = htonl(0x20010002u);
			r->addr[3] = htonl(i);
			r->port = 3306;
		}
	}
}

static void test_all_found_none_else(void **state)
{
	struct dp_config *c = malloc(sizeof(*c));
	struct dp_res_index *x;
	uint32_t a[4];

	(void)state;
	assert_non_null(c);
	fill(c, DP_MAX_RESOURCES);
	x = dp_res_index_build(c, SOCKET_ID_ANY);
	assert_non_null(x);
	for (unsigned i = 0; i < c->n_resources; i++) {
		const struct dp_resource *r = &c->resources[i];

		memcpy(a, r->addr, sizeof(a));
		if (r->ip_ver == 4) {
			/* an IPv4 packet's unused address words are not part of the key */
			a[1] = 0xdeadbeef;
			a[3] = 7;
		}
		assert_int_equal(dp_res_find(x, r->ip_ver, a, r->port), (int)i);
		assert_true(dp_res_addr_known(x, r->ip_ver, a));
		assert_int_equal(dp_res_find(x, r->ip_ver, a, (uint16_t)(r->port + 100)), -1);
		assert_int_equal(dp_res_find(x, r->ip_ver == 4 ? 6 : 4, a, r->port), -1);
	}
	memset(a, 0, sizeof(a));
	a[0] = htonl(0xc6130001u);                 /* 198.19.0.1: no resource */
	assert_int_equal(dp_res_find(x, 4, a, 5432), -1);
	assert_false(dp_res_addr_known(x, 4, a));
	a[0] = htonl(0x20010002u);
	a[3] = htonl(100000);
	assert_int_equal(dp_res_find(x, 6, a, 3306), -1);
	assert_false(dp_res_addr_known(x, 6, a));
	assert_int_equal(dp_res_find(x, 0, a, 3306), -1);
	dp_res_index_free(x);
	free(c);
}

static void test_duplicates_and_empty(void **state)
{
	struct dp_config *c = malloc(sizeof(*c));
	struct dp_res_index *x;

	(void)state;
	assert_non_null(c);
	fill(c, 6);
	c->resources[4] = c->resources[2];      /* same address and port as resource 2 */
	c->resources[5] = c->resources[0];
	c->resources[5].port = 6000;            /* another port on resource 0's address */
	x = dp_res_index_build(c, SOCKET_ID_ANY);
	assert_non_null(x);
	assert_int_equal(dp_res_find(x, 4, c->resources[2].addr, c->resources[2].port), 2);
	assert_int_equal(dp_res_find(x, 4, c->resources[0].addr, c->resources[0].port), 0);
	assert_int_equal(dp_res_find(x, 4, c->resources[0].addr, 6000), 5);
	dp_res_index_free(x);

	c->n_resources = 0;
	x = dp_res_index_build(c, SOCKET_ID_ANY);
	assert_non_null(x);
	assert_int_equal(dp_res_find(x, 4, c->resources[0].addr, c->resources[0].port), -1);
	assert_false(dp_res_addr_known(x, 4, c->resources[0].addr));
	dp_res_index_free(x);
	dp_res_index_free(NULL);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_found_none_else),
		cmocka_unit_test(test_duplicates_and_empty),
	};

	if (test_eal_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
