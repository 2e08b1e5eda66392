/* tgd_slow_stub.c - TEMPORARY: the slow path without recorder and API, used only while
 * those libraries are not in the tree (removed once they are). */
#include <time.h>
#include "appliance/tgd-t.h"

int tgd_slow_init(struct tgd *d)
{
	(void)d;
	return 0;
}

void tgd_slow_run(struct tgd *d)
{
	const struct timespec tick = { 0, 2000000 };

	while (!__atomic_load_n(d->quit, __ATOMIC_RELAXED)) {
		nanosleep(&tick, NULL);
		if (__atomic_exchange_n(d->reload, false, __ATOMIC_RELAXED))
			tgd_policy_reload(d);
	}
}

void tgd_slow_fini(struct tgd *d)
{
	(void)d;
}
