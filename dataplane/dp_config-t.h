/* dp_config-t.h - the data plane's settings and its protected resources (types only).
 *
 * Filled by the appliance's config loader (appliance/config.c) or by tests, then
 * read-only for workers.
 */
#ifndef TG_DP_CONFIG_T_H
#define TG_DP_CONFIG_T_H

#include <stdint.h>

#define DP_MAX_PORTS      8
#define DP_FRAME_OVERHEAD (14 + 8 + 4) /* frame bytes around an IP packet: Ethernet,
                                         * two VLAN tags, CRC */
#define DP_MAX_RESOURCES  4096
#define DP_NAME_MAX       64

/* What happens to a new protected flow when the flow table is full. */
enum dp_overload_policy {
	DP_OVERLOAD_FAIL_CLOSED = 0,  /* refuse with RST to the client (counted) */
	DP_OVERLOAD_FAIL_OPEN   = 1,  /* bridge it uninspected (counted) */
};

/* What happens to IP fragments of protected flows. */
enum dp_frag_policy {
	DP_FRAG_DROP       = 0,       /* drop and count */
	DP_FRAG_REASSEMBLE = 1,       /* reassemble with rte_ip_frag, then inspect */
};

/* What happens to a message larger than max_hold_bytes. */
enum dp_hold_policy {
	DP_HOLD_STREAM = 0,           /* forward it uninspected, count and alert */
	DP_HOLD_RESET  = 1,           /* reset the flow */
};

/* What happens to a statement the decoder cannot judge: larger than max_hold_bytes (it
 * never lies whole in the hold), or with more statements or text than the lexer's
 * buffers take. Forwarding it would let any statement through behind enough padding, so
 * by default it is refused like a blocked statement, before its last byte reaches the
 * server. */
enum dp_unjudged_policy {
	DP_UNJUDGED_BLOCK   = 0,      /* refuse it with an error, the session goes on
	                               * (counted cmd_unjudged_blocked) */
	DP_UNJUDGED_RESET   = 1,      /* reset the session (counted cmd_unjudged_reset) */
	DP_UNJUDGED_FORWARD = 2,      /* forward it unjudged (counted cmd_unjudged) */
};

/* What happens to a flow whose decoder meets bytes it cannot decode (a malformed
 * message, another protocol version): nothing after them could be judged or masked. */
enum dp_malformed_policy {
	DP_MALFORMED_RESET   = 0,     /* reset the flow (counted proto_error) */
	DP_MALFORMED_FORWARD = 1,     /* forward the rest uninspected (counted proto_error) */
};

/* What happens to a retransmission that carries different bytes for data already seen. */
enum dp_overlap_policy {
	DP_OVERLAP_REWRITE = 0,       /* rewrite it to the original bytes (counted) */
	DP_OVERLAP_RESET   = 1,       /* reset the flow (counted) */
};

/* Flows of protected resources whose handshake the appliance did not see. */
enum dp_midstream_policy {
	DP_MIDSTREAM_BYPASS = 0,      /* bridge uninspected, counted */
	DP_MIDSTREAM_DROP   = 1,      /* drop (the client reconnects through the appliance) */
};

/* What happens when a client asks a protected resource for TLS / GSS encryption
 * (PostgreSQL SSLRequest / GSSENCRequest). Encrypted bytes cannot be inspected. */
enum dp_tls_policy {
	DP_TLS_REFUSE      = 0,       /* answer "no" for the server: the session goes on in
	                               * clear and stays inspectable (counted) */
	DP_TLS_PASSTHROUGH = 1,       /* let the server answer; an encrypted flow is then
	                               * forwarded uninspected (counted) */
};

/* What happens to a replication start-up (PostgreSQL StartupMessage with replication
 * true or database): the replication stream (base backups, WAL, logical changes)
 * carries the database's contents in forms the rules cannot read. */
enum dp_replication_policy {
	DP_REPLICATION_REFUSE = 0,    /* answered FATAL 42501 for the server (counted) */
	DP_REPLICATION_ALLOW  = 1,    /* decoded as usual; its commands are judged, the
	                               * replication stream is not masked (counted) */
};

/* What happens to a session whose events cannot be recorded (the event ring is full). */
enum dp_record_policy {
	DP_RECORD_BEST_EFFORT = 0,    /* the session goes on; the lost events are counted */
	DP_RECORD_MUST        = 1,    /* the session is reset (counted) */
};

enum dp_proto_id {
	DP_PROTO_NONE = 0,            /* no decoder: stream tracked, every byte released at once */
	DP_PROTO_PG,                  /* PostgreSQL v3 */
	DP_PROTO_MYSQL,
	DP_PROTO_REDIS,
	DP_PROTO_HTTP,
	DP_PROTO_TEST,                /* the unit tests' decoder */
	DP_PROTO__MAX
};

/* A protected resource: TCP service at <addr>:<port> spoken with <proto>. */
struct dp_resource {
	char     name[DP_NAME_MAX];   /* operator's name ("orders-db") */
	uint8_t  ip_ver;              /* 4 or 6 */
	uint32_t addr[4];             /* network order (IPv4 in addr[0]) */
	uint16_t port;                /* host order */
	uint8_t  proto;               /* enum dp_proto_id */
};

struct dp_config {
	uint32_t flow_capacity;       /* flows per worker */
	uint32_t idle_timeout_s;      /* established flow idle timeout */
	uint32_t closed_timeout_s;    /* time a closed (FIN/RST) flow lingers */
	uint32_t max_hold_bytes;      /* per direction: bytes held waiting for a message end */
	uint32_t ooo_max_segs;        /* per direction: out-of-order segments kept */
	uint64_t stream_memcap;       /* per worker: bytes of mbufs held by streams */
	uint32_t rto_ms;              /* initial retransmission timeout of injected bytes */
	uint8_t  overload;            /* enum dp_overload_policy */
	uint8_t  frag;                /* enum dp_frag_policy */
	uint8_t  hold;                /* enum dp_hold_policy */
	uint8_t  unjudged;            /* enum dp_unjudged_policy */
	uint8_t  malformed;           /* enum dp_malformed_policy */
	uint8_t  overlap;             /* enum dp_overlap_policy */
	uint8_t  midstream;           /* enum dp_midstream_policy */
	uint8_t  verify_cksum;        /* verify TCP/IP checksums of protected flows */
	uint8_t  tls;                 /* enum dp_tls_policy */
	uint8_t  replication;         /* enum dp_replication_policy */
	uint8_t  record;              /* enum dp_record_policy */
	uint8_t  record_raw;          /* record statements as sent (1) or normalized (0) */
	uint32_t record_rows;         /* result bytes (as the client got them) recorded per
	                               * session, 0 = none */
	uint16_t port_mtu[DP_MAX_PORTS]; /* largest IP packet each port sends, by the workers'
	                               * port index (0: not known; a reassembled datagram
	                               * that is not a protected flow's is then sent whole) */
	uint16_t n_resources;         /* entries used in resources[] */
	struct dp_resource resources[DP_MAX_RESOURCES];
};

#endif
