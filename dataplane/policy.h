/* policy.h - publishing policy snapshots under RCU (see policy-t.h). */
#ifndef TG_POLICY_H
#define TG_POLICY_H

#include "dataplane/policy-t.h"

/* Creates the slot with an empty policy (no rules) and an RCU variable for
 * <n_workers> workers. Returns NULL on failure. Slow path, at start-up. */
struct dp_policy_slot *dp_policy_slot_create(unsigned n_workers);

/* Frees the slot and the policy in force. After the workers stopped. */
void dp_policy_slot_free(struct dp_policy_slot *slot);

/* Publishes <p> (version is set here) and frees the previous snapshot once every
 * worker passed a quiescent state. Blocks the caller (the slow path) for that grace
 * period, which lasts at most one loop iteration of the slowest worker. */
void dp_policy_publish(struct dp_policy_slot *slot, struct dp_policy *p);

/* An empty policy (no operations): decoders frame and forward, nothing else. */
struct dp_policy *dp_policy_empty(void);

#endif
