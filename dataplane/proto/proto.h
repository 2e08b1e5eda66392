/* proto.h - the one small interface every protocol decoder implements (DESIGN.md §3).
 *
 * A decoder sees each direction of a flow as a byte stream, never mbufs. Offsets are
 * stream offsets: byte 0 is the first byte after the SYN of that direction, so a
 * decoder never deals with sequence wraparound. feed() may be given any split of the
 * stream (one byte at a time included) and must resume where it stopped.
 *
 * Through the sink a decoder tells the stream editor what it may do with the bytes:
 *  - release(upto): bytes before <upto> may be forwarded (a message boundary);
 *  - remove(from, to): bytes [from, to) never reach the receiver;
 *  - rewrite(at, bytes, len): bytes at [at, at+len) are replaced (same length);
 *  - inject(dir, bytes, len): the bytes are sent to the receiver of direction <dir>
 *    at that direction's current message boundary;
 *  - reset(): both sides get RST.
 * Every offset passed must be at or after the last release of that direction: bytes
 * already released may be on the wire. Calls that break this return -1 (counted).
 */
#ifndef TG_PROTO_H
#define TG_PROTO_H

#include <stdint.h>
#include <stddef.h>
#include "dataplane/dp_config-t.h"
#include "dataplane/dp_counters-t.h"
#include "rules/rule-t.h"
#include "slowpath/event-t.h"

enum proto_dir {
	PROTO_DIR_C2S = 0,            /* client to server */
	PROTO_DIR_S2C = 1,            /* server to client */
};

/* The policy a decoder enforces, as operations on an opaque rule set (the slow path
 * wires them to rules/rule.h, tests to fakes). Each may be NULL: nothing to check. */
struct proto_policy {
	void *rules;                  /* the rule set (immutable while a worker uses it) */
	int (*check_command)(void *rules, void *scratch, uint8_t proto, uint16_t res,
			     const char *norm, uint32_t nlen, const char *fp, uint32_t fplen,
			     const char *raw, uint32_t rawlen, struct rule_verdict *v);
	const struct rule_mask *(*column_mask)(void *rules, uint8_t proto, uint16_t res,
					       const char *name, uint32_t len, int32_t *rule);
	int (*has_result_rules)(void *rules, uint8_t proto, uint16_t res);
	/* whether any command rule is in force for <proto> (NULL: as check_command) */
	int (*has_command_rules)(void *rules, uint8_t proto, uint16_t res);
	int (*mask_fields)(void *rules, void *scratch, uint8_t proto, uint16_t res, uint8_t *buf,
			   uint32_t len, const struct rule_field *fields, unsigned n_fields,
			   struct rule_mask_stats *st);
};

/* What a decoder may use besides the stream: the policy, the worker's scratch memory
 * and counters. Valid for the duration of one feed()/fin() call only. */
struct proto_env {
	const struct proto_policy *pol; /* never NULL (may have no operations) */
	void *scratch;                /* the worker's scratch for pol (Hyperscan) */
	uint8_t *buf;                 /* the worker's buffer for whole messages */
	uint32_t buf_cap;             /* its size (>= max_hold_bytes) */
	uint8_t *aux;                 /* a second scratch buffer (lexer output) */
	uint32_t aux_cap;             /* its size */
	struct dp_counters *cnt;      /* the worker's counters */
	struct dp_counters *pcnt;     /* and those of the port whose frame is being decoded
	                               * (NULL: none, as in the decoders' unit tests) */
	const struct dp_config *cfg;  /* settings */
	uint16_t res_id;              /* the flow's resource */
	uint64_t flow_id;             /* the flow's id */
	uint64_t now_ns;              /* time of the current burst (monotonic) */
};

struct proto_sink {
	void *ctx;                                                   /* the editor's */
	const struct proto_env *env;                                 /* policy, scratch */
	/* Copies held bytes [from, from+len) of <dir> into <buf>: bytes fed to the decoder
	 * and not yet released. Returns 0, or -1 if any of them is not held. */
	int  (*peek)(void *ctx, int dir, uint64_t from, uint8_t *buf, uint32_t len);
	void (*release)(void *ctx, int dir, uint64_t upto);
	int  (*remove)(void *ctx, int dir, uint64_t from, uint64_t to);
	int  (*rewrite)(void *ctx, int dir, uint64_t at, const uint8_t *bytes, uint32_t len);
	int  (*inject)(void *ctx, int dir, const uint8_t *bytes, uint32_t len);
	void (*reset)(void *ctx);
	/* Records event <ev> for the flow (the editor fills the session id, time, worker,
	 * resource and protocol). The decoder fills type and payload. */
	void (*event)(void *ctx, struct tg_event *ev);
};

/* Feed result: >= 0 bytes consumed (a decoder normally consumes all it is given). */
/* Counts in the worker's totals and in the current port's block (PROTO_CNT_INC). */
#define PROTO_CNT_ADD(env, name, n) do {                                         \
		(env)->cnt->v[DP_CNT_##name] += (n);                             \
		if ((env)->pcnt)                                                 \
			(env)->pcnt->v[DP_CNT_##name] += (n);                    \
	} while (0)
#define PROTO_CNT_INC(env, name) PROTO_CNT_ADD(env, name, 1)

#define PROTO_ERR (-1)                /* malformed stream: counted; the flow is released
                                       * uninspected or reset, per policy */

struct proto_ops {
	const char *name;             /* "pg", "test" */
	size_t state_size;            /* bytes of state (<= FLOW_DEC_STATE_SIZE) */
	/* Initialises <st> for a new flow. */
	void (*init)(void *st);
	/* Consumes <len> bytes of direction <dir> starting at stream offset <off>. */
	int  (*feed)(void *st, int dir, uint64_t off, const uint8_t *data, uint32_t len,
		     struct proto_sink *sink);
	/* End of the stream of <dir> (FIN): the decoder releases what it still holds. */
	void (*fin)(void *st, int dir, uint64_t off, struct proto_sink *sink);
	/* Frees anything <st> owns (decoders own nothing on the hot path; may be NULL). */
	void (*fini)(void *st);
};

/* Registers <ops> for protocol <id>; called at start-up (and by tests). */
void proto_register(int id, const struct proto_ops *ops);
/* The decoder of protocol <id>, or NULL. */
const struct proto_ops *proto_get(int id);
/* Registers the built-in decoders (pg). */
void proto_register_builtin(void);

#endif
