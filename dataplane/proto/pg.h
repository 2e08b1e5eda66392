/* pg.h - PostgreSQL protocol v3 decoder and enforcer (DESIGN.md §3).
 *
 * Both directions are framed into messages: the untyped start-up packets
 * (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest), the one-byte answer to
 * an encryption request, then typed messages (type byte, int32 length including
 * itself). Bytes are released to the stream editor at message ends only, so every
 * message is judged (or masked) whole before any of it leaves.
 *
 * Client to server: Query and Parse carry SQL. Each statement (sql_lex) is judged
 * by the policy; the highest action decides:
 *  - block: a Query is removed and ErrorResponse (SQLSTATE 42501) + ReadyForQuery
 *    (with the server's real transaction status) are injected for the client; a Parse
 *    is removed with everything after it up to the next Sync (what the server itself
 *    does after an error), the Sync is forwarded, and the ErrorResponse is injected
 *    just before the server's ReadyForQuery answering it, so the client's Sync gets its
 *    ReadyForQuery as usual;
 *  - reset: both sides get RST; alert: counted.
 * Every request forwarded is remembered by kind until the server answers it (enum
 * pg_rq), so that an Execute sent without a Describe (JDBC, pgx) gets one added in
 * front of it, whose answer names the columns of its rows and is removed.
 * Server to client: RowDescription gives column names, types and formats (column
 * rules, and which columns can hold text at all); DataRow fields and COPY OUT rows
 * (text format) are masked in place, length-preserving, scanned in batches: all
 * rows completed by one feed() call are scanned in one rule_mask_fields() call.
 * A FunctionCall is judged as the statement "SELECT name($1, ...)" of the built-in
 * function its OID names (pg_fn.c); one of any other OID cannot be judged and goes by
 * dataplane.unjudged. Its FunctionCallResponse is masked like a result field.
 * An SSLRequest / GSSENCRequest is refused for the server (policy tls = refuse), or
 * answered by the server and, if accepted, the flow is forwarded uninspected.
 */
#ifndef TG_PG_H
#define TG_PG_H

#include <stdint.h>
#include "dataplane/proto/proto.h"
#include "rules/rule-t.h"

#define PG_PROTO_V3        196608u     /* StartupMessage protocol 3.0 */
#define PG_SSL_REQUEST     80877103u
#define PG_GSSENC_REQUEST  80877104u
#define PG_CANCEL_REQUEST  80877102u
#define PG_MAX_MSG         (1u << 30)  /* PostgreSQL's own limit on a message */
#define PG_MAX_COLS        64          /* columns tracked for masking and type skipping */
#define PG_MAX_COL_MASKS   8           /* distinct column masks per result set */
#define PG_ERR_TEXT        80          /* bytes of a pending error's text */

/* Framing state of one direction. */
struct pg_framer {
	uint8_t  hdr[8];              /* header bytes collected so far */
	uint8_t  hdr_len;             /* bytes in hdr */
	uint8_t  untyped;             /* next message has no type byte (start-up phase) */
	uint8_t  one_byte;            /* next message is the one-byte SSL/GSS answer */
	uint8_t  type;                /* type of the current message (0: untyped) */
	uint8_t  judge;               /* the current message is needed whole */
	uint8_t  drop;                /* c2s: the current message is a statement too large to
	                               * judge, removed as it comes (dataplane.unjudged) */
	uint8_t  pad[2];
	uint32_t len;                 /* length of the current message (whole, with header) */
	uint32_t remain;              /* bytes of the current message still to come */
	uint64_t msg_start;           /* stream offset of the current message */
	uint64_t msgs;                /* complete messages seen */
};

/* What the server owes the client for each request forwarded to it, in order: which
 * answer ends it. The decoder needs this to know which RowDescription describes the
 * rows of an Execute, and which answer is the one to a Describe it added itself. */
enum pg_rq {
	PG_RQ_QUERY = 1,              /* Query, FunctionCall, start-up: up to ReadyForQuery */
	PG_RQ_PARSE,                  /* ParseComplete */
	PG_RQ_BIND,                   /* BindComplete */
	PG_RQ_CLOSE,                  /* CloseComplete */
	PG_RQ_DESC_S,                 /* ParameterDescription, then RowDescription or NoData */
	PG_RQ_DESC_P,                 /* RowDescription or NoData */
	PG_RQ_DESC_ADDED,             /* the same, for a Describe the appliance added: removed */
	PG_RQ_EXEC,                   /* rows, then CommandComplete, EmptyQuery or Suspended */
	PG_RQ_EXEC_BLIND,             /* the same, its result columns not known */
	PG_RQ_SYNC,                   /* ReadyForQuery */
};
#define PG_RQ_MAX          64          /* requests tracked at once (4 bits each) */
#define PG_ADDED_MAX       6           /* added Describes unanswered at once: each removed
                                       * answer takes an editor anchor until acknowledged */
#define PG_DESC_NAME       24          /* bytes of a described portal's name kept */

/* An error for a request the server never saw, waiting for its place in the
 * server's stream: a blocked extended-protocol batch's goes before the server's
 * ReadyForQuery that answers the <sync>-th forwarded Query/Sync; a refused Query's
 * (<after>), sent while earlier requests were unanswered, goes with its own
 * ReadyForQuery right after that one. */
struct pg_pending_err {
	uint32_t sync;                /* number of that Query/Sync (1-based) */
	uint8_t  after;               /* after it, with a ReadyForQuery (a refused Query) */
	char     text[PG_ERR_TEXT];   /* the error message */
};

struct pg_state {
	struct pg_framer dir[2];      /* 0: client to server, 1: server to client */
	uint8_t  encrypted;           /* SSL/GSS accepted: nothing more to decode */
	uint8_t  txn;                 /* last ReadyForQuery status: 'I', 'T' or 'E' */
	uint8_t  discard;             /* c2s: discarding until Sync after a blocked Parse */
	uint8_t  copy_out;            /* s2c: in COPY OUT: 1 text rows, 2 binary rows */
	uint8_t  n_err;               /* pending errors */
	uint8_t  n_col_masks;         /* distinct column masks in use */
	uint16_t n_cols;              /* columns of the current result set */
	uint32_t syncs_fwd;           /* Query and Sync messages forwarded to the server */
	uint32_t rfq_seen;            /* ReadyForQuery messages seen from the server */
	uint64_t col_text;            /* bit c: column c is text format and of a type that
	                               * can hold what field rules look for */
	uint8_t  col_mask[PG_MAX_COLS];  /* 1 + index into col_masks, 0: no column mask */
	struct rule_mask col_masks[PG_MAX_COL_MASKS];
	struct pg_pending_err err[2];
	uint8_t  results;             /* result rules apply to this flow (1), not (2), unknown (0) */
	uint8_t  pad;
	uint32_t res_rows;            /* rows of the current result (for its EV_RESULT) */
	uint32_t rows_recorded;       /* result bytes recorded so far (recorder.result_bytes) */
	uint32_t res_masked;          /* fields masked in it */
	uint64_t res_bytes;           /* server bytes since the command */
	uint64_t cmd_start_ns;        /* when the command was judged */
	/* requests the server has still to answer (enum pg_rq, 4 bits each, a ring) */
	uint8_t  rq[PG_RQ_MAX / 2];
	uint8_t  rq_head;             /* ring index of the oldest */
	uint8_t  rq_n;                /* how many */
	uint8_t  rq_lost;             /* the ring was full: requests went untracked; until the
	                               * server answered every one, result columns are not
	                               * known from one result to the next */
	uint8_t  srv_skip;            /* s2c: an error in the extended protocol: the server
	                               * skips the requests before the next Sync */
	uint8_t  added_desc;          /* Describes the appliance added whose answer is still
	                               * to be removed from the server's stream */
	uint8_t  last_desc;           /* c2s: the last request was Describe of a portal */
	uint8_t  replication;         /* the start-up asked for a replication connection */
	uint8_t  copy_in;             /* c2s: in COPY FROM STDIN (the server ignores Sync) */
	uint8_t  unsynced;            /* c2s: extended requests forwarded since the last Sync
	                               * (or Query): answered without a ReadyForQuery after */
	uint8_t  last_desc_len;       /* that portal's name: its length (0xff: too long to
	                               * keep, matches no Execute) and bytes */
	char     last_desc_name[PG_DESC_NAME];
	char     user[24];            /* StartupMessage user */
	char     database[24];        /* StartupMessage database */
	char     app[24];             /* StartupMessage application_name */
};

extern const struct proto_ops pg_proto_ops;

#define PG_FN_MAX_ARGS     100         /* FUNC_MAX_ARGS of PostgreSQL */
#define PG_FN_SQL_MAX      (32 + 64 + 6 * PG_FN_MAX_ARGS)  /* pg_fn_sql()'s text at most */

/* The name of the built-in function <oid>, or NULL when the table of pg_fn.c does not
 * have it. */
const char *pg_fn_name(uint32_t oid);

/* Writes "SELECT name($1, ..., $n)" for FunctionCall message <m> (<len> bytes, whole,
 * type byte first) into <out> (<cap> bytes) and its OID in *<oid> (0 when too short).
 * Returns the text's length, or 0 when the OID is not in the table or the message is
 * malformed (the statement then cannot be judged). */
uint32_t pg_fn_sql(const uint8_t *m, uint32_t len, char *out, size_t cap, uint32_t *oid);

/* Builds ErrorResponse(ERROR, SQLSTATE <sqlstate>, <msg>) + ReadyForQuery(<txn>) into
 * <out> (<cap> bytes). Returns the length, or 0 if it does not fit. */
uint32_t pg_build_error(uint8_t *out, uint32_t cap, const char *sqlstate, const char *msg,
			uint8_t txn, int with_rfq);

#endif
