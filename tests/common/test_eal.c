/* test_eal.c - EAL start-up for tests and benches (see test_eal.h). */
#include <stdio.h>
#include <rte_eal.h>
#include <rte_mempool.h>
#include "tests/common/test_eal.h"
#include "dataplane/worker.h"

static int eal_done;
static struct rte_mempool *pool;

int test_eal_init(void)
{
	char *argv[] = { "tg-test", "--no-huge", "--no-pci", "--no-shconf", "-m", "1024",
			 "--log-level=lib.*:error", "-l", "0",
			 /* no telemetry socket: its start-up connects to the socket of any other
			  * DPDK process here, and hangs while that one is stopped (a debugger,
			  * SIGSTOP) */
			 "--no-telemetry", NULL };
	int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;

	if (eal_done)
		return 0;
	if (rte_eal_init(argc, argv) < 0) {
		fprintf(stderr, "test_eal_init: rte_eal_init failed\n");
		return -1;
	}
	eal_done = 1;
	return 0;
}

struct rte_mempool *test_pool(void)
{
	if (pool == NULL) {
		if (test_eal_init() < 0)
			return NULL;
		pool = dp_worker_pool_create("test_pool", 65535, 1500 + DP_FRAME_OVERHEAD, SOCKET_ID_ANY);
	}
	return pool;
}
