/* test_eal.h - start DPDK's EAL once for unit tests and benches, with no NIC, no
 * hugepages and no shared config (DESIGN.md §2.2), so it runs under ASan/UBSan. */
#ifndef TG_TEST_EAL_H
#define TG_TEST_EAL_H

struct rte_mempool;

/* Initialises the EAL (once per process). Returns 0 or a negative value. */
int test_eal_init(void);
/* A shared pool of mbufs with the tcp_seg private area, created on first use. */
struct rte_mempool *test_pool(void);

#endif
