/* fuzz_tcp_pg.c - fuzz_tcp with the PostgreSQL decoder and the default rule packs:
 * a TCP conversation through a worker that blocks and masks for real (see fuzz_tcp.c). */
#define FUZZ_TCP_PG 1
#include "tests/fuzz/fuzz_tcp.c"
