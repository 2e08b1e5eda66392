/* fuzz_tcp_mw.c - fuzz_tcp with two workers spreading the flows in software: segments
 * reach either worker and are handed to the owner, out of step (see fuzz_tcp.c). */
#define FUZZ_TCP_MW 1
#include "tests/fuzz/fuzz_tcp.c"
