/* policy-t.h - the policy snapshot workers read, and the slot it is published in.
 *
 * The slow path builds a struct dp_policy (compiled rules wired to the decoders'
 * operations, one rule scratch per worker), then publishes it by swapping the slot's
 * pointer. Workers load the pointer once per burst and report a quiescent state
 * (rte_rcu_qsbr) after each loop iteration, when they hold no reference to it; the
 * slow path frees the old snapshot only after every worker has done so. A reload
 * therefore stops no worker and loses no packet.
 */
#ifndef TG_POLICY_T_H
#define TG_POLICY_T_H

#include <stdint.h>
#include "dataplane/proto/proto.h"

#define DP_MAX_WORKERS 64

struct rte_rcu_qsbr;

struct dp_policy {
	struct proto_policy ops;      /* what decoders call (rules and operations) */
	void *scratch[DP_MAX_WORKERS];/* scratch of worker i for ops.rules */
	uint64_t version;             /* 1, 2, ... in publication order */
	char hash[72];                /* rule set hash (hex), "" if none */
	unsigned n_rules;             /* rules in force */
	void (*destroy)(struct dp_policy *p); /* frees it (called after the grace period) */
};

struct dp_policy_slot {
	struct dp_policy *cur;        /* the snapshot in force; read with acquire semantics */
	struct rte_rcu_qsbr *qs;      /* workers' quiescent-state reports (NULL in tests) */
	unsigned n_workers;           /* threads registered with qs */
};

#endif
