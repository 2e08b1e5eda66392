/* policy.c - policy snapshot publication: pointer swap + rte_rcu_qsbr grace period. */
#include <stdlib.h>
#include <string.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>
#include "dataplane/policy.h"

static void empty_destroy(struct dp_policy *p)
{
	free(p);
}

struct dp_policy *dp_policy_empty(void)
{
	struct dp_policy *p = calloc(1, sizeof(*p));

	if (p)
		p->destroy = empty_destroy;
	return p;
}

struct dp_policy_slot *dp_policy_slot_create(unsigned n_workers)
{
	struct dp_policy_slot *slot = calloc(1, sizeof(*slot));
	size_t sz;

	if (slot == NULL || n_workers == 0 || n_workers > DP_MAX_WORKERS)
		goto err;
	sz = rte_rcu_qsbr_get_memsize(n_workers);
	slot->qs = rte_zmalloc("tg_policy_qsbr", sz, RTE_CACHE_LINE_SIZE);
	if (slot->qs == NULL || rte_rcu_qsbr_init(slot->qs, n_workers) != 0)
		goto err;
	slot->n_workers = n_workers;
	slot->cur = dp_policy_empty();
	if (slot->cur == NULL)
		goto err;
	slot->cur->version = 1;
	return slot;
err:
	if (slot) {
		rte_free(slot->qs);
		free(slot);
	}
	return NULL;
}

void dp_policy_slot_free(struct dp_policy_slot *slot)
{
	if (slot == NULL)
		return;
	if (slot->cur && slot->cur->destroy)
		slot->cur->destroy(slot->cur);
	rte_free(slot->qs);
	free(slot);
}

void dp_policy_publish(struct dp_policy_slot *slot, struct dp_policy *p)
{
	struct dp_policy *old = slot->cur;

	p->version = old ? old->version + 1 : 1;
	/* release: a worker that loads the new pointer sees the snapshot fully built */
	__atomic_store_n(&slot->cur, p, __ATOMIC_RELEASE);
	if (slot->qs)
		rte_rcu_qsbr_synchronize(slot->qs, RTE_QSBR_THRID_INVALID);
	if (old && old->destroy)
		old->destroy(old);
}
