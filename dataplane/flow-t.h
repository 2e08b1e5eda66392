/* flow-t.h - per-worker flow table types.
 *
 * A flow is keyed by its canonical 5-tuple + outer VLAN: the two (address, port)
 * endpoints are ordered so that both directions of a connection build the same key.
 * Entries come from a fixed-size pool made at start-up; a full table is an overload
 * decision for the caller, never an allocation.
 */
#ifndef TG_FLOW_T_H
#define TG_FLOW_T_H

#include <stdint.h>
#include <sys/queue.h>
#include "dataplane/tcp-t.h"

struct flow_key {
	uint32_t addr[2][4];          /* endpoint addresses, network order, canonical order */
	uint16_t port[2];             /* endpoint ports, host order */
	uint16_t vlan;                /* outer VLAN id, 0 if untagged */
	uint8_t  ip_ver;              /* 4 or 6 */
	uint8_t  pad[9];              /* always 0 (the key is hashed as bytes); makes the
	                               * key 48 bytes, a size rte_hash compares with vector
	                               * loads instead of calling memcmp (~3 % a packet) */
};

enum flow_mode {
	FLOW_INSPECT = 0,             /* tracked, reassembled, decoded, edited */
	FLOW_BYPASS  = 1,             /* bridged uninspected (policy decision, counted) */
};

#define FLOW_DEC_STATE_SIZE 576       /* bytes of decoder state kept inline in each flow */

struct flow {
	struct flow_key key;          /* canonical key */
	TAILQ_ENTRY(flow) lru;        /* position in the worker's expiry list */
	TAILQ_ENTRY(flow) rtx_link;   /* position in the worker's retransmit list (tcp) */
	uint64_t last_ns;             /* time of the last packet */
	uint64_t id;                  /* session id: boot << 48 | worker << 40 | counter */
	uint16_t res_id;              /* index of the protected resource */
	uint8_t  mode;                /* enum flow_mode */
	uint8_t  client_side;         /* key side (0/1) of the client (SYN sender) */
	uint8_t  proto;               /* enum dp_proto_id */
	uint8_t  closed;              /* FIN/RST seen: on the short timeout */
	uint8_t  in_table;            /* 1 while the table holds it */
	uint8_t  ev_closed;           /* its session-close event was sent */
	uint16_t port_of_side[2];     /* DPDK port on which each key side's packets arrive */
	struct tcp_conn tcp;          /* tracking, reassembly, editing */
	uint64_t dec_state[FLOW_DEC_STATE_SIZE / 8]; /* decoder state (see proto.h) */
};

TAILQ_HEAD(flow_list, flow);

struct flow_table;                /* opaque, see flow.c */

#endif
