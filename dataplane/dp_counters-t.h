/* dp_counters-t.h - the data plane's named counters (types only).
 *
 * Every drop, bypass, overload decision and protocol anomaly has a counter here.
 * Counters are per worker (and the worker keeps one set per port); each worker
 * writes only its own set, and a reader (the slow path, the exit report, the
 * management API) sums them. Values are plain uint64_t: a reader on another core
 * may see a slightly stale value, never a torn one (aligned 64-bit stores are
 * atomic on x86-64 and arm64), which is all a counter needs.
 *
 * DP_COUNTERS(X) is an X-macro: X(name, help). Adding a counter is one line here;
 * names, the exit report and /metrics follow from it.
 */
#ifndef TG_DP_COUNTERS_T_H
#define TG_DP_COUNTERS_T_H

#include <stdint.h>

#define DP_COUNTERS(X) \
	X(rx_pkts,              "packets received") \
	X(rx_bytes,             "bytes received") \
	X(tx_pkts,              "packets sent") \
	X(tx_bytes,             "bytes sent") \
	X(tx_drop_full,         "packets dropped because the TX queue stayed full") \
	X(bridged_pkts,         "packets bridged untouched (not a protected TCP flow)") \
	X(bridged_non_ip,       "non-IP frames bridged") \
	X(drop_malformed,       "malformed or truncated frames dropped") \
	X(drop_multiseg,        "multi-segment mbufs dropped in protected flows") \
	X(drop_bad_cksum,       "segments with a bad TCP or IP checksum dropped (protected flows)") \
	X(drop_bad_flags,       "segments with impossible TCP flag combinations dropped") \
	X(drop_out_of_window,   "segments outside the receive window dropped") \
	X(drop_no_flow,         "segments of a protected resource without a flow, dropped (midstream = drop)") \
	X(frag_dropped,         "IP fragments of protected flows dropped (policy)") \
	X(frag_bridged,         "IP fragments to or from a protected address bridged: not of a\
 protected flow (fragments = drop)") \
	X(frag_reassembled,     "IP datagrams reassembled from fragments") \
	X(frag_resplit,         "reassembled datagrams of no protected flow sent on in fragments\
 again, cut where their sender cut them (at most the port's MTU)") \
	X(frag_resplit_fail,    "reassembled datagrams of no protected flow dropped: they could\
 not be cut to the port's MTU (mbuf pool empty, or over 64 pieces)") \
	X(frag_bad,             "IP fragments dropped: malformed, overlapping, duplicate, holes, nested") \
	X(frag_unsupported,     "IPv6 fragments dropped: extension headers before the fragment header") \
	X(frag_too_big,         "IP fragments dropped: their datagram does not fit in one mbuf") \
	X(frag_table_full,      "IP fragments dropped: reassembly table full") \
	X(frag_timeout,         "IP fragments freed: their datagram did not complete in time") \
	X(frag_handoff,         "reassembled datagrams passed to the worker that owns their flow") \
	X(frag_handoff_full,    "reassembled datagrams dropped: the owning worker's handoff ring was full") \
	X(rh_handoff,           "IPv6 segments with a routing header passed to the worker that owns\
 their final destination's flow") \
	X(rh_handoff_full,      "IPv6 segments with a routing header dropped: the owning worker's\
 handoff ring was full") \
	X(soft_handoff,         "TCP segments of another worker's flow passed to it (software flow\
 spreading, ports without RSS)") \
	X(soft_handoff_full,    "TCP segments of another worker's flow dropped: its handoff ring\
 was full (software flow spreading)") \
	X(flow_created,         "flows created") \
	X(flow_expired_idle,    "flows expired after the idle timeout") \
	X(flow_expired_closed,  "closed flows released") \
	X(flow_table_full,      "new protected flows that found the flow table full") \
	X(flow_overload_rst,    "new flows refused with RST (overload policy fail_closed)") \
	X(flow_overload_bypass, "new flows bridged uninspected (overload policy fail_open)") \
	X(flow_midstream_bypass,"flows seen without their handshake, bridged uninspected") \
	X(tcp_ooo_queued,       "out-of-order segments queued") \
	X(tcp_ooo_drop_limit,   "out-of-order segments dropped: per-flow or memcap limit") \
	X(tcp_dup_dropped,      "duplicate segments (data already seen) absorbed") \
	X(tcp_syn_in_session,   "client SYNs with a new ISN on a synchronized connection, passed on\
 without restarting the session (RFC 5961: the server answers a challenge ACK)") \
	X(tcp_syn_restart,      "sessions restarted: the server answered such a SYN with a handshake\
 (it had lost the connection)") \
	X(tcp_overlap_rewritten,"retransmissions with different bytes rewritten to the original") \
	X(tcp_rtx_replayed,     "segments re-sent from the retransmit queue") \
	X(tcp_inject_rtx,       "injected segments retransmitted on timeout") \
	X(tcp_ack_generated,    "ACKs the appliance generated (held data, removed bytes)") \
	X(tcp_rst_policy,       "flows reset by policy") \
	X(tcp_memcap_reset,     "flows reset because the stream memcap was exhausted") \
	X(rtx_not_kept,         "emitted segments not kept for retransmission (memcap): a sender's\
 retransmission of them is then forwarded as sent") \
	X(hold_overflow,        "messages larger than max_hold_bytes streamed through (policy)") \
	X(edit_removed_bytes,   "bytes removed from streams") \
	X(edit_injected_bytes,  "bytes injected into streams") \
	X(edit_rewritten_bytes, "bytes rewritten in place (masking)") \
	X(mbuf_alloc_fail,      "mbuf allocations that failed") \
	X(proto_error,          "protocol decoder errors (malformed messages)") \
	X(cmd_seen,             "commands (statements) judged") \
	X(cmd_blocked,          "commands blocked with a protocol-native error") \
	X(cmd_reset,            "commands answered by resetting the flow") \
	X(cmd_alert,            "commands that matched alert rules") \
	X(cmd_unjudged,         "commands forwarded unjudged (larger than the hold or scratch)") \
	X(cmd_unjudged_blocked, "commands refused with an error: too large to judge (policy)") \
	X(cmd_unjudged_reset,   "sessions reset: a command could not be judged (policy)") \
	X(rule_scan_error,      "rule scans that failed (the command or result was let through)") \
	X(rows_scanned,         "result rows scanned for masking") \
	X(fields_masked,        "result fields masked") \
	X(mask_unmaskable,      "result columns a column rule names but cannot mask (binary, not text)") \
	X(ev_sent,              "events sent to the recorder") \
	X(ev_lost,              "events lost: the worker's event ring was full") \
	X(ev_reset,             "sessions reset because their events could not be recorded (must_record)") \
	X(ctl_kill,             "sessions killed through the management API") \
	X(pg_tls_refused,       "PostgreSQL SSL/GSS requests answered 'N' by the appliance") \
	X(pg_tls_passthrough,   "PostgreSQL flows that went encrypted and were forwarded uninspected") \
	X(pg_replication_refused, "PostgreSQL replication start-ups refused (dataplane.replication)") \
	X(pg_replication_allowed, "PostgreSQL replication sessions let through (stream unmasked)") \
	X(pg_describe_injected, "PostgreSQL Describes added before an Execute to learn its result columns") \
	X(pg_exec_columns_unknown, "PostgreSQL Executes masked without their columns (no Describe could be added)") \
	X(pg_requests_untracked, "PostgreSQL sessions whose pipelined requests outran the tracking queue") \
	X(pg_request_desync,    "PostgreSQL server answers that matched no request (tracking stopped)")

enum dp_counter_id {
#define DP_CNT_ENUM(name, help) DP_CNT_##name,
	DP_COUNTERS(DP_CNT_ENUM)
#undef DP_CNT_ENUM
	DP_CNT__MAX
};

/* One set of counters. Cache-line aligned so that two workers never share a line. */
struct dp_counters {
	uint64_t v[DP_CNT__MAX];                 /* indexed by enum dp_counter_id */
} __attribute__((aligned(64)));

#endif
