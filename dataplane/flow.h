/* flow.h - per-worker flow table: lookup, insert, LRU expiry.
 *
 * Owned by one worker: no locks, and no call may be made from another thread.
 * Expiry is an LRU list per timeout class (active, closed): every packet moves its
 * flow to the tail, so the oldest flow is always at the head and expiry is O(1) per
 * expired flow. This replaces a timer per flow (DESIGN.md §2 mentions rte_timer): the
 * list needs no timer re-arming on every packet, which is what a busy flow would do.
 */
#ifndef TG_FLOW_H
#define TG_FLOW_H

#include <stdint.h>
#include "dataplane/flow-t.h"
#include "dataplane/dp_pkt-t.h"

/* Creates a table for <capacity> flows on NUMA <socket> (SOCKET_ID_ANY allowed), named
 * <name> (unique per process). Returns NULL on failure (rte_errno set). */
struct flow_table *flow_table_create(const char *name, uint32_t capacity, int socket);

/* Frees the table; <release> is called on every flow still in it first (may be NULL). */
void flow_table_free(struct flow_table *ft, void (*release)(struct flow *f, void *arg), void *arg);

/* Builds the canonical key of the parsed packet <p>. Sets *<side> to the key side
 * (0 or 1) of the packet's source. */
void flow_key_from_pkt(const struct dp_pkt *p, struct flow_key *k, uint8_t *side);

/* Returns the flow with key <k>, or NULL. */
struct flow *flow_lookup(struct flow_table *ft, const struct flow_key *k);

/* Looks up <n> keys (at most FLOW_BULK_MAX) at once: out[i] is the flow of keys[i] or
 * NULL. rte_hash's bulk lookup prefetches every bucket before comparing, so that the
 * cache misses of a burst's lookups overlap instead of coming one after another. */
#define FLOW_BULK_MAX 32
void flow_lookup_bulk(struct flow_table *ft, const struct flow_key **keys, unsigned n,
		      struct flow **out);

/* Inserts a new zeroed flow with key <k>, stamped with <now_ns>, at the tail of the
 * active list. Returns NULL if the table is full (the caller applies the overload
 * policy) - never evicts a live flow. */
struct flow *flow_insert(struct flow_table *ft, const struct flow_key *k, uint64_t now_ns);

/* Marks activity: stamps <now_ns> and moves <f> to the tail of its list. */
void flow_touch(struct flow_table *ft, struct flow *f, uint64_t now_ns);

/* Moves <f> to the closed list (short timeout). */
void flow_mark_closed(struct flow_table *ft, struct flow *f, uint64_t now_ns);

/* Moves closed flow <f> back to the active list, stamped <now_ns>: its tuple was
 * reused by a new connection. No-op if <f> is not closed. */
void flow_reopen(struct flow_table *ft, struct flow *f, uint64_t now_ns);

/* Removes and frees <f> now. */
void flow_remove(struct flow_table *ft, struct flow *f);

/* Expires flows idle longer than their list's timeout at <now_ns>, at most <budget>
 * of them; <release> is called on each before it is freed (to free its mbufs and
 * count it). <closed> receives how many came from the closed list, <idle> the others.
 * Returns the number expired. */
unsigned flow_expire(struct flow_table *ft, uint64_t now_ns, uint64_t idle_ns, uint64_t closed_ns,
		     unsigned budget, void (*release)(struct flow *f, void *arg), void *arg,
		     unsigned *idle, unsigned *closed);

/* The flow with id <id>, or NULL. O(flows): for management actions only. */
struct flow *flow_find_id(struct flow_table *ft, uint64_t id);

/* Flows in the table now. */
uint32_t flow_count(const struct flow_table *ft);
/* Capacity given at creation. */
uint32_t flow_capacity(const struct flow_table *ft);
/* Bytes of memory per flow (entry + hash slot share), for the bench. */
size_t flow_bytes_per_flow(const struct flow_table *ft);

#endif
