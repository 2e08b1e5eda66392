/* pg.c - PostgreSQL protocol v3 decoder and enforcer (see pg.h for the model). */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "dataplane/proto/pg.h"
#include "dataplane/proto/pg_wire.h"
#include "dataplane/proto/sql_lex.h"
#include "dataplane/flow-t.h"
#include "dataplane/dp_counters.h"

_Static_assert(sizeof(struct pg_state) <= FLOW_DEC_STATE_SIZE, "pg_state fits in a flow");

#define BATCH_MAX_ROWS   512          /* rows scanned by one rule_mask_fields call at most */
#define BATCH_MAX_FIELDS 8192

/* Length of the NUL-terminated string at <p>, at most <max>. */
static inline uint32_t cstr_len(const uint8_t *p, uint32_t max)
{
	const uint8_t *z = memchr(p, 0, max);

	return z ? (uint32_t)(z - p) : max;
}

uint32_t pg_build_error(uint8_t *out, uint32_t cap, const char *sqlstate, const char *msg,
			uint8_t txn, int with_rfq)
{
	size_t ml = strlen(msg), sl = strlen(sqlstate);
	uint32_t body = (uint32_t)(4 + 7 + 7 + 2 + sl + 2 + ml + 1);
	uint32_t total = 1 + body + (with_rfq ? 6 : 0);
	uint8_t *p = out;

	if (total > cap)
		return 0;
	*p++ = 'E';
	put32(p, body);
	p += 4;
	memcpy(p, "SERROR", 7); /* includes the NUL */
	p += 7;
	memcpy(p, "VERROR", 7);
	p += 7;
	*p++ = 'C';
	memcpy(p, sqlstate, sl + 1);
	p += sl + 1;
	*p++ = 'M';
	memcpy(p, msg, ml + 1);
	p += ml + 1;
	*p++ = 0;
	if (with_rfq) {
		*p++ = 'Z';
		put32(p, 5);
		p += 4;
		*p++ = txn ? txn : 'I';
	}
	return (uint32_t)(p - out);
}

static void pg_init(void *st)
{
	struct pg_state *s = st;

	memset(s, 0, sizeof(*s));
	s->dir[PROTO_DIR_C2S].untyped = 1;
	s->txn = 'I';
}

/* Whether rows are still being recorded in this session (recorder.result_bytes). */
static inline int rows_recorded(const struct pg_state *s, const struct proto_sink *sink)
{
	return sink->env->cfg->record_rows && s->rows_recorded < sink->env->cfg->record_rows;
}

/* Whether the server's bytes stream through without waiting for message ends: no result
 * rule, no error waiting for a ReadyForQuery, no answer to a Describe the appliance
 * added (which must be removed, so held whole). */
static inline int streaming(const struct pg_state *s)
{
	return s->results == 2 && s->n_err == 0 && s->added_desc == 0;
}

/* ---- the requests the server has still to answer ----
 *
 * Why: the rows of an Execute carry no column names; the RowDescription that names
 * them answers a Describe, which drivers that keep a statement's description (JDBC,
 * pgx) send only the first time. Masked with the last RowDescription seen, another
 * statement's, a column rule missed its column (ssn arrived unmasked by name) and
 * masked another one (a name). So the decoder adds a Describe of the portal before
 * every Execute that is not right after one, and removes its answer from the server's
 * stream; to find that answer, it keeps the kind of every request the server has
 * still to answer, in order (the server answers in order, and after an error skips to
 * the next Sync). */

static inline uint8_t rq_at(const struct pg_state *s, uint32_t i)
{
	uint32_t k = (s->rq_head + i) % PG_RQ_MAX;

	return (uint8_t)((s->rq[k / 2] >> ((k & 1) * 4)) & 0xf);
}

/* Adds request <kind> (enum pg_rq) at the tail. A full ring stops the tracking until
 * the server answered every request (rq_answer). */
static void rq_push(struct pg_state *s, struct proto_sink *sink, uint8_t kind)
{
	uint32_t k;

	if (s->rq_lost)
		return;
	if (s->rq_n == PG_RQ_MAX) {
		s->rq_lost = 1;
		PROTO_CNT_INC(sink->env, pg_requests_untracked);
		return;
	}
	k = (s->rq_head + s->rq_n++) % PG_RQ_MAX;
	s->rq[k / 2] = (uint8_t)((s->rq[k / 2] & ~(0xf << ((k & 1) * 4))) | kind << ((k & 1) * 4));
}

static uint8_t rq_pop(struct pg_state *s)
{
	uint8_t k = rq_at(s, 0);

	s->rq_head = (uint8_t)((s->rq_head + 1) % PG_RQ_MAX);
	s->rq_n--;
	if (k == PG_RQ_DESC_ADDED && s->added_desc)
		s->added_desc--;
	return k;
}

/* Server message of type <t> against the oldest request. Returns 1 when it is the
 * answer to a Describe the appliance added (to be removed), else 0. */
static int rq_answer(struct pg_state *s, struct proto_sink *sink, uint8_t t)
{
	uint8_t k;

	if (t == 'N' || t == 'S' || t == 'A')
		return 0;       /* notice, parameter status, notification: at any time */
	if (t == 'Z' && s->rq_lost && s->rq_n == 0 && s->rfq_seen + 1 == s->syncs_fwd &&
	    !s->unsynced)
		s->rq_lost = 0; /* every request answered: tracked again from the next */
	if (s->rq_n == 0)
		return 0;
	if (s->srv_skip) {
		/* after an error the server skips every request up to the next Sync */
		if (t == 'Z') {
			while (s->rq_n && rq_pop(s) != PG_RQ_SYNC)
				;
			s->srv_skip = 0;
		}
		return 0;
	}
	k = rq_at(s, 0);
	switch (k) {
	case PG_RQ_QUERY:
		if (t == 'Z')
			rq_pop(s);
		return 0;           /* everything up to it answers the Query */
	case PG_RQ_SYNC:
		if (t == 'Z')
			rq_pop(s);
		else if (t != 'E')
			break;
		return 0;       /* E: the commit at the Sync failed, its Z follows */
	case PG_RQ_PARSE:
	case PG_RQ_BIND:
	case PG_RQ_CLOSE:
		if (t == (k == PG_RQ_PARSE ? '1' : k == PG_RQ_BIND ? '2' : '3')) {
			rq_pop(s);
			return 0;
		}
		break;
	case PG_RQ_DESC_S:
	case PG_RQ_DESC_P:
	case PG_RQ_DESC_ADDED:
		if (t == 't' && k == PG_RQ_DESC_S)
			return 0;
		if (t == 'T' || t == 'n') {
			rq_pop(s);
			return k == PG_RQ_DESC_ADDED;
		}
		break;
	case PG_RQ_EXEC:
	case PG_RQ_EXEC_BLIND:
		if (t == 'G') {
			/* COPY FROM STDIN: the server ignores the Syncs the client sent after
			 * this Execute until its CopyDone; they get no ReadyForQuery */
			while (s->rq_n > 1 && rq_at(s, s->rq_n - 1u) == PG_RQ_SYNC) {
				s->rq_n--;
				s->syncs_fwd--;
			}
			return 0;
		}
		if (t == 'D' || t == 'H' || t == 'd' || t == 'c' || t == 'W') {
			if (k == PG_RQ_EXEC_BLIND)
				s->n_cols = 0;  /* no Describe before it: columns unknown */
			return 0;
		}
		if (t == 'C' || t == 'I' || t == 's') {
			rq_pop(s);
			return 0;
		}
		break;
	default:
		break;
	}
	if (t == 'E' && k != PG_RQ_SYNC) {
		s->srv_skip = 1;
		return 0;
	}
	/* an answer no request explains: the tracking stops until every request has been
	 * answered (results are then masked without column rules) */
	PROTO_CNT_INC(sink->env, pg_request_desync);
	s->rq_n = 0;
	s->rq_lost = 1;
	s->added_desc = 0;
	return 0;
}

/* ---- the rows of one feed() call, scanned together (server to client) ---- */

struct batch_row {
	uint64_t off;                 /* stream offset of the row message */
	uint32_t len;                 /* its length */
	uint32_t boff;                /* where its copy starts in env->buf */
	uint32_t copy;                /* a COPY OUT row (text), not a DataRow */
	uint32_t pad;
};

static void ev_rows(struct pg_state *s, struct proto_sink *sink, const uint8_t *m, uint32_t len,
		    int copy);
static void ev_unmasked(struct proto_sink *sink, uint32_t len);

struct batch {
	struct batch_row *rows;       /* in env->aux */
	struct rule_field *fields;    /* in env->aux, after rows */
	uint32_t n_rows, n_fields, bytes;
	uint32_t max_fields;
	uint64_t rel;                 /* release point deferred until the scan */
	int active;                   /* rows are waiting: releases are deferred */
};

static void batch_init(struct batch *b, const struct proto_env *env)
{
	memset(b, 0, sizeof(*b));
	b->rows = (struct batch_row *)(void *)env->aux;
	b->fields = (struct rule_field *)(void *)(env->aux + BATCH_MAX_ROWS * sizeof(struct batch_row));
	b->max_fields = (uint32_t)((env->aux_cap - BATCH_MAX_ROWS * sizeof(struct batch_row)) /
				   sizeof(struct rule_field));
	if (b->max_fields > BATCH_MAX_FIELDS)
		b->max_fields = BATCH_MAX_FIELDS;
}

static void release_to(struct batch *b, int dir, uint64_t end, struct proto_sink *sink)
{
	if (b && b->active)
		b->rel = end;
	else
		sink->release(sink->ctx, dir, end);
}

/* Masks the first <n> of b->fields, which lie in the first <bytes> of env->buf; returns
 * the fields masked. */
static uint64_t batch_scan(struct batch *b, struct proto_sink *sink, uint16_t res, uint32_t bytes,
			   uint32_t n)
{
	const struct proto_env *env = sink->env;
	struct rule_mask_stats st = { 0 };

	if (n && env->pol->mask_fields &&
	    env->pol->mask_fields(env->pol->rules, env->scratch, DP_PROTO_PG, res, env->buf,
				  bytes, b->fields, n, &st) < 0)
		PROTO_CNT_INC(env, rule_scan_error);
	return st.fields_masked;
}

/* The waiting rows were scanned, <masked> fields masked: records them, writes back the
 * masked ones, releases what was deferred and empties the batch. */
static void batch_finish(struct pg_state *s, struct batch *b, struct proto_sink *sink,
			 uint64_t masked)
{
	const struct proto_env *env = sink->env;

	PROTO_CNT_ADD(env, rows_scanned, b->n_rows);
	if (rows_recorded(s, sink))
		for (uint32_t i = 0; i < b->n_rows; i++)
			ev_rows(s, sink, env->buf + b->rows[i].boff, b->rows[i].len, (int)b->rows[i].copy);
	if (masked) {
		s->res_masked += masked;
		PROTO_CNT_ADD(env, fields_masked, masked);
		for (uint32_t i = 0; i < b->n_rows; i++)
			sink->rewrite(sink->ctx, PROTO_DIR_S2C, b->rows[i].off, env->buf + b->rows[i].boff,
				      b->rows[i].len);
	}
	b->active = 0;
	b->n_rows = b->n_fields = b->bytes = 0;
	sink->release(sink->ctx, PROTO_DIR_S2C, b->rel);
}

/* Scans the waiting rows, writes back the masked ones, releases what was deferred. */
static void batch_flush(struct pg_state *s, struct batch *b, struct proto_sink *sink, uint16_t res)
{
	if (b->active)
		batch_finish(s, b, sink, batch_scan(b, sink, res, b->bytes, b->n_fields));
}

/* Adds row message <len> bytes at stream offset <start>, at <boff> in env->buf, to the
 * waiting rows (its fields are in b->fields already). */
static void batch_take(struct batch *b, uint64_t start, uint32_t len, uint32_t boff, int copy_row)
{
	b->rows[b->n_rows++] = (struct batch_row){ .off = start, .len = len, .boff = boff,
						    .copy = (uint32_t)copy_row };
	b->bytes += len;
	b->active = 1;
	b->rel = start + len;
}

/* Copies message [start, start+len) into <dst>: from <data> when it lies there, else
 * from the editor's held bytes. Returns 0 or -1. */
static int msg_copy(struct proto_sink *sink, int dir, uint64_t start, uint32_t len, uint64_t off,
		    const uint8_t *data, uint32_t dlen, uint8_t *dst)
{
	if (start >= off && start + len <= off + dlen) {
		memcpy(dst, data + (start - off), len);
		return 0;
	}
	return sink->peek(sink->ctx, dir, start, dst, len);
}

/* A binary COPY's file header, at the start of its first CopyData: this signature,
 * 32-bit flags (PG_COPY_OIDS: each tuple carries an OID before its fields), a 32-bit
 * extension length, then the extension. */
static const uint8_t pg_copy_sig[11] = "PGCOPY\n\377\r\n";
#define PG_COPY_HDR  19
#define PG_COPY_OIDS (1u << 16)

/* <copy_row> of row_fields() and batch_add() for a FunctionCallResponse: one value,
 * length-prefixed, after the message header (not a row of any COPY) */
#define PG_ROW_FN    4
/* ... for the text fields of an ErrorResponse or NoticeResponse, and the payload of a
 * NotificationResponse (mask_text_msg) */
#define PG_ROW_NOTICE 5
#define PG_ROW_NOTIFY 6

/* The fields of a DataRow or binary COPY tuple: <nf> length-prefixed values from byte
 * <p> of <m>. <cols>: a DataRow, whose column maps say which are scanned and with which
 * column mask (else every non-empty one is). As row_fields() below. */
static uint32_t lp_fields(const struct pg_state *s, const uint8_t *m, uint32_t len, uint32_t p,
			  uint32_t nf, int cols, uint32_t base, struct rule_field *out,
			  uint32_t skip, uint32_t max)
{
	uint32_t n_out = 0, k = 0;

	for (uint32_t c = 0; c < nf && p + 4 <= len; c++) {
		int32_t fl = (int32_t)be32(m + p);
		p += 4;
		if (fl < 0)
			continue;
		if ((uint32_t)fl > len - p)
			break;
		const struct rule_mask *cm = NULL;
		int text = 1;
		if (cols && c < PG_MAX_COLS && c < s->n_cols) {
			if (s->col_mask[c])
				cm = &s->col_masks[s->col_mask[c] - 1];
			text = (s->col_text >> c) & 1;
		}
		if ((cm || text) && fl > 0 && k++ >= skip) {
			if (out) {
				if (n_out == max)
					return n_out;
				out[n_out] = (struct rule_field){ .off = base + p,
					.len = (uint32_t)fl, .col = cm, .col_rule = -1 };
			}
			n_out++;
		}
		p += (uint32_t)fl;
	}
	return n_out;
}

/* The maskable fields of row message <m> (<len> bytes; <copy_row>: 1 a COPY OUT text row,
 * fields split on tabs, 2 a binary COPY OUT row, 3 one with OIDs, PG_ROW_FN a
 * FunctionCallResponse, else a DataRow), at offsets from <base>.
 * With <out> NULL: counts them all. Else writes those from the <skip>-th on, at most
 * <max>, to <out>, and returns how many it wrote. */
static uint32_t row_fields(const struct pg_state *s, const uint8_t *m, uint32_t len, int copy_row,
			   uint32_t base, struct rule_field *out, uint32_t skip, uint32_t max)
{
	uint32_t n_out = 0, k = 0;

	if (copy_row == PG_ROW_FN)  /* its type is not known: scanned whatever it is */
		return lp_fields(s, m, len, 5, 1, 0, base, out, skip, max);
	if (copy_row == PG_ROW_NOTICE || copy_row == PG_ROW_NOTIFY) {
		/* ErrorResponse/NoticeResponse: (code, string) pairs up to a 0; every string
		 * but the severity, SQLSTATE, position and source location can quote data
		 * (a key's value, the row that failed a check, RAISE NOTICE '%', card).
		 * NotificationResponse: a process id, the channel, the payload. */
		uint32_t p = 5;
		if (copy_row == PG_ROW_NOTIFY) {
			p = 9;
			p += len > p ? cstr_len(m + p, len - p) + 1 : 0;    /* the channel */
		}
		while (p < len && (copy_row == PG_ROW_NOTIFY || m[p])) {
			uint8_t code = copy_row == PG_ROW_NOTIFY ? 'M' : m[p++];
			uint32_t vl = p < len ? cstr_len(m + p, len - p) : 0;
			if (vl && !strchr("SVCFLRPp", code) && k++ >= skip) {
				if (out) {
					if (n_out == max)
						return n_out;
					out[n_out] = (struct rule_field){ .off = base + p, .len = vl,
						.col = NULL, .col_rule = -1 };
				}
				n_out++;
			}
			p += vl + 1;
			if (copy_row == PG_ROW_NOTIFY)
				break;
		}
		return n_out;
	}
	if (copy_row >= 2) {
		/* A binary COPY tuple: a field count, then each field's length (-1: NULL) and
		 * bytes; the first CopyData also carries the file header, the last may be the
		 * trailer (count -1). The types are not known: every field is scanned (a
		 * binary number is a few bytes and cannot hold a 13-digit match; text is
		 * itself). */
		uint32_t p = 5;
		if (len - p >= PG_COPY_HDR && memcmp(m + p, pg_copy_sig, sizeof(pg_copy_sig)) == 0) {
			uint32_t ext = be32(m + p + 15);
			p += PG_COPY_HDR;
			if (ext > len - p)
				return n_out;
			p += ext;
		}
		if (p + 2 > len)
			return n_out;
		uint32_t nf = be16(m + p);
		p += 2;
		if (nf == 0xffff)
			return n_out;           /* the trailer */
		if (copy_row == 3)
			nf++;                   /* WITH OIDS: an OID first, not in the count */
		return lp_fields(s, m, len, p, nf, 0, base, out, skip, max);
	}
	if (copy_row) {
		uint32_t p = 5, fs = 5;
		for (; p <= len; p++) {
			if (p == len || m[p] == '\t' || m[p] == '\n') {
				if (p > fs && k++ >= skip) {
					if (out) {
						if (n_out == max)
							return n_out;
						out[n_out] = (struct rule_field){
							.off = base + fs, .len = p - fs,
							.col = NULL, .col_rule = -1 };
					}
					n_out++;
				}
				fs = p + 1;
			}
		}
		return n_out;
	}
	return lp_fields(s, m, len, 7, len >= 7 ? be16(m + 5) : 0, 1, base, out, skip, max);
}

/* Masks row message <m> (<len> bytes at stream offset <start>, in env->buf) whose
 * maskable fields outnumber the batch's field table: the waiting rows are scanned first,
 * then this row alone, b->max_fields fields per scan, and it goes on masked and
 * recorded like any row. */
static void wide_row(struct pg_state *s, struct batch *b, struct proto_sink *sink, uint16_t res,
		     uint64_t start, const uint8_t *m, uint32_t len, int copy_row)
{
	const struct proto_env *env = sink->env;
	uint64_t masked = 0;
	uint32_t got;

	batch_flush(s, b, sink, res);
	memmove(env->buf, m, len);
	batch_take(b, start, len, 0, copy_row);
	for (uint32_t skip = 0;
	     (got = row_fields(s, env->buf, len, copy_row, 0, b->fields, skip, b->max_fields)) > 0;
	     skip += got)
		masked += batch_scan(b, sink, res, b->bytes, got);
	batch_finish(s, b, sink, masked);
}

/* Adds the row message <m> (<len> bytes at stream offset <start>) to the batch.
 * <copy_row>: a COPY OUT text row (fields split on tabs) instead of a DataRow. */
static void batch_add(struct pg_state *s, struct batch *b, struct proto_sink *sink, uint16_t res,
		      uint64_t start, uint32_t len, uint64_t off, const uint8_t *data, uint32_t dlen,
		      int copy_row)
{
	const struct proto_env *env = sink->env;
	uint32_t boff, need;
	uint8_t *m;

	if (b->n_rows >= BATCH_MAX_ROWS || b->bytes + len > env->buf_cap)
		batch_flush(s, b, sink, res);
	if (len > env->buf_cap) {
		PROTO_CNT_INC(env, hold_overflow);
		ev_unmasked(sink, len);
		release_to(b, PROTO_DIR_S2C, start + len, sink);
		return;
	}
	boff = b->bytes;
	m = env->buf + boff;
	if (msg_copy(sink, PROTO_DIR_S2C, start, len, off, data, dlen, m) < 0) {
		/* already released (streamed through as too large): nothing to mask */
		PROTO_CNT_INC(env, hold_overflow);
		ev_unmasked(sink, len);
		release_to(b, PROTO_DIR_S2C, start + len, sink);
		return;
	}
	/* Why the fields are counted before any is stored: the number of fields comes
	 * from the row itself (a DataRow's field count, a COPY row's tabs), not from the
	 * RowDescription (which may be missing, or say fewer columns), so no reserve
	 * taken in advance bounds it. Stored without this count, a DataRow of thousands
	 * of 1-byte fields wrote past b->fields, beyond env->aux; a COPY row stopped at
	 * b->max_fields and left its last fields unmasked. An upper bound from the
	 * row's length is enough most of the time (one pass over the row, not two). */
	if (copy_row == PG_ROW_FN)
		need = 1;
	else if (copy_row >= 2) /* a field: a length word and a byte at least */
		need = (len - 5) / 5;
	else if (copy_row) /* a field: a byte at least, and a tab or line end after all but one */
		need = (len - 5 + 1) / 2;
	else          /* a field: a length word and a byte at least */
		need = len >= 7 ? (be16(m + 5) < (len - 7) / 5 ? be16(m + 5) : (len - 7) / 5) : 0;
	if (b->n_fields + need > b->max_fields) /* the bound does not fit: the exact count */
		need = row_fields(s, m, len, copy_row, boff, NULL, 0, 0);
	if (need > b->max_fields) {
		/* more fields than one scan takes (a COPY ... (FORMAT csv) row is split on
		 * tabs, and a query can put thousands in one): scanned alone, a table's worth
		 * of fields at a time - fields are independent - and never let through
		 * unscanned */
		wide_row(s, b, sink, res, start, m, len, copy_row);
		return;
	}
	if (b->n_fields + need > b->max_fields) {
		/* scan the rows before it; the row moves to the front of the emptied buffer */
		batch_flush(s, b, sink, res);
		memmove(env->buf, m, len);
		boff = 0;
		m = env->buf;
	}
	uint32_t first = b->n_fields;
	b->n_fields += row_fields(s, m, len, copy_row, boff, b->fields + first, 0, UINT32_MAX);
	if (b->n_fields == first) {
		/* nothing maskable in this row: no need to keep it in the batch */
		if (rows_recorded(s, sink))
			ev_rows(s, sink, m, len, copy_row);
		release_to(b, PROTO_DIR_S2C, start + len, sink);
		PROTO_CNT_INC(env, rows_scanned);
		return;
	}
	batch_take(b, start, len, boff, copy_row);
}

/* Masks the text of server message <fr> (<mode>: PG_ROW_NOTICE for an ErrorResponse or
 * NoticeResponse, PG_ROW_NOTIFY for a NotificationResponse) in a copy in env->buf,
 * writes the masked bytes back, and returns the copy (NULL when the message could not
 * be read whole). Why: such messages quote data - "Key (email)=(jane@example.com)
 * already exists", "invalid input syntax for type integer: \"4111...\"", RAISE NOTICE
 * '%', a card; pg_notify('c', card) - and went out unmasked while the same value in a
 * DataRow was masked. The batch is empty here (flushed before these messages). */
static const uint8_t *mask_text_msg(struct pg_state *s, struct batch *b,
				    struct proto_sink *sink, uint16_t res,
				    const struct pg_framer *fr, uint64_t off, const uint8_t *data,
				    uint32_t dlen, int mode)
{
	const struct proto_env *env = sink->env;
	uint8_t *m = env->buf;
	uint32_t n;
	uint64_t masked = 0;

	if (fr->len > env->buf_cap ||
	    msg_copy(sink, PROTO_DIR_S2C, fr->msg_start, fr->len, off, data, dlen, m) < 0)
		return NULL;
	n = row_fields(s, m, fr->len, mode, 0, b->fields, 0, b->max_fields);
	if (n)
		masked = batch_scan(b, sink, res, fr->len, n);
	if (masked) {
		PROTO_CNT_ADD(env, fields_masked, masked);
		s->res_masked += masked;
		sink->rewrite(sink->ctx, PROTO_DIR_S2C, fr->msg_start, m, fr->len);
	}
	return m;
}

/* ---- events for the recorder ---- */

/* FNV-1a: a cheap 64-bit identity of a fingerprint for grouping, not security. */
static uint64_t fnv1a(const char *p, uint32_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (uint32_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 0x100000001b3ull;
	return h;
}

static void copy_text(char *dst, size_t cap, const char *src, uint32_t n, uint8_t *flags)
{
	if (n >= cap) {
		n = (uint32_t)cap - 1;
		*flags |= EV_F_TRUNCATED;
	}
	memcpy(dst, src, n);
	dst[n] = 0;
}

static void ev_command(struct proto_sink *sink, const char *norm, uint32_t nlen, const char *fp,
		       uint32_t fplen, const struct rule_verdict *v, uint8_t flags)
{
	struct tg_event ev;

	if (sink->event == NULL)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_COMMAND;
	ev.flags = flags;
	ev.u.cmd.action = v->action;
	ev.u.cmd.len = nlen;
	ev.u.cmd.fp_hash = fnv1a(fp, fplen);
	if (v->id)
		snprintf(ev.u.cmd.rule, sizeof(ev.u.cmd.rule), "%s", v->id);
	copy_text(ev.u.cmd.text, sizeof(ev.u.cmd.text), norm, nlen, &ev.flags);
	sink->event(sink->ctx, &ev);
}

/* Records what the appliance itself decided, not a rule: a command event with <action>,
 * rule <id> ("dataplane.<setting>") and <text> (<n> bytes) saying what it was. */
static void ev_note(struct proto_sink *sink, uint8_t action, const char *id, const char *text,
		    int n)
{
	struct rule_verdict v = { .action = action, .rule = -1, .id = id };

	ev_command(sink, text, (uint32_t)n, text, (uint32_t)n, &v, 0);
}

/* A result row of <len> bytes went to the client unmasked: larger than the decoder can
 * hold (max_hold_bytes, or its buffer), with hold_overflow = stream. Counted
 * (hold_overflow) and recorded as an alert, so that the session's recording says which
 * result it was (issue 3: "stream through unmasked with a counter and alert"). */
static void ev_unmasked(struct proto_sink *sink, uint32_t len)
{
	char text[96];
	int n = snprintf(text, sizeof(text), "(a result row of %u bytes went out unmasked: "
			 "larger than the appliance holds)", len);

	ev_note(sink, RULE_ALERT, "dataplane.hold_overflow", text, n);
}

static void ev_auth(struct pg_state *s, struct proto_sink *sink)
{
	struct tg_event ev;

	if (sink->event == NULL)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_AUTH;
	snprintf(ev.u.auth.user, sizeof(ev.u.auth.user), "%s", s->user);
	snprintf(ev.u.auth.database, sizeof(ev.u.auth.database), "%s", s->database);
	snprintf(ev.u.auth.app, sizeof(ev.u.auth.app), "%s", s->app);
	sink->event(sink->ctx, &ev);
}

/* CommandComplete <m> (<len> bytes, whole message): the result summary. */
static void ev_result(struct pg_state *s, struct proto_sink *sink, const uint8_t *m, uint32_t len)
{
	struct tg_event ev;
	uint64_t now = sink->env->now_ns;

	if (sink->event == NULL)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_RESULT;
	ev.u.result.rows = s->res_rows;
	ev.u.result.bytes = s->res_bytes;
	ev.u.result.masked = s->res_masked;
	ev.u.result.duration_us = s->cmd_start_ns && now > s->cmd_start_ns ?
				  (uint32_t)((now - s->cmd_start_ns) / 1000) : 0;
	if (m && len > 5)
		copy_text(ev.u.result.tag, sizeof(ev.u.result.tag), (const char *)m + 5,
			  cstr_len(m + 5, len - 5), &ev.flags);
	sink->event(sink->ctx, &ev);
	s->res_rows = s->res_masked = 0;
	s->res_bytes = 0;
}

/* ErrorResponse <m> from the server. */
static void ev_error(struct proto_sink *sink, const uint8_t *m, uint32_t len)
{
	struct tg_event ev;

	if (sink->event == NULL || m == NULL)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_ERROR;
	for (uint32_t p = 5; p < len && m[p];) {
		uint8_t code = m[p++];
		uint32_t n = cstr_len(m + p, len - p);
		if (code == 'C')
			copy_text(ev.u.error.code, sizeof(ev.u.error.code), (const char *)m + p, n, &ev.flags);
		else if (code == 'M')
			copy_text(ev.u.error.text, sizeof(ev.u.error.text), (const char *)m + p, n, &ev.flags);
		p += n + 1;
	}
	sink->event(sink->ctx, &ev);
}

/* Records result row <m> (a whole DataRow, or a COPY OUT CopyData with <copy>) as the
 * client gets it, within the session's recorder.result_bytes. */
static void ev_rows(struct pg_state *s, struct proto_sink *sink, const uint8_t *m, uint32_t len,
		    int copy)
{
	uint32_t cap = sink->env->cfg->record_rows;
	struct tg_event ev;
	size_t o = 0, room;

	if (sink->event == NULL || s->rows_recorded >= cap || len < 5 || copy >= 2)
		return; /* binary COPY rows and function values: no row text to show */
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_ROWS;
	ev.u.rows.n = 1;
	room = sizeof(ev.u.rows.text) - 1;
	if (room > cap - s->rows_recorded)
		room = cap - s->rows_recorded;
	if (copy) {
		uint32_t n = len - 5;
		if (n && m[5 + n - 1] == '\n')
			n--; /* one row an event: the line end is implied */
		if (n > room) {
			n = (uint32_t)room;
			ev.flags |= EV_F_TRUNCATED;
		}
		memcpy(ev.u.rows.text, m + 5, n);
		o = n;
	} else {
		uint32_t p = 7, nf = len >= 7 ? be16(m + 5) : 0;
		for (uint32_t c = 0; c < nf && p + 4 <= len; c++) {
			int32_t fl = (int32_t)be32(m + p);
			p += 4;
			const char *v = fl < 0 ? "NULL" : (const char *)m + p;
			uint32_t vl = fl < 0 ? 4 : ((uint32_t)fl <= len - p ? (uint32_t)fl : len - p);
			if (c && o < room)
				ev.u.rows.text[o++] = '|';
			if (o + vl > room) {
				vl = (uint32_t)(room - o);
				ev.flags |= EV_F_TRUNCATED;
			}
			memcpy(ev.u.rows.text + o, v, vl);
			o += vl;
			if (fl > 0)
				p += (uint32_t)fl;
		}
	}
	ev.u.rows.text[o] = 0;
	s->rows_recorded += (uint32_t)o ? (uint32_t)o : 1;
	sink->event(sink->ctx, &ev);
}

/* ---- judging commands (client to server) ---- */

/* Judges the SQL text <sql> (<len> bytes). Returns the deciding verdict in <v>. */
static int judge_sql(struct pg_state *s, struct proto_sink *sink, const char *sql, uint32_t len,
		     struct rule_verdict *v)
{
	const struct proto_env *env = sink->env;
	const struct proto_policy *pol = env->pol;
	uint32_t third = env->aux_cap / 3;
	struct sql_lex_out out = {
		.norm = (char *)env->aux, .norm_cap = third,
		.fp = (char *)env->aux + third, .fp_cap = third,
		.stmts = (struct sql_stmt *)(void *)(env->aux + 2 * third),
		.stmts_cap = (uint32_t)((env->aux_cap - 2 * third) / sizeof(struct sql_stmt)),
	};

	memset(v, 0, sizeof(*v));
	v->rule = -1;
	s->cmd_start_ns = env->now_ns;
	s->res_rows = s->res_masked = 0;
	s->res_bytes = 0;
	if (pol->check_command == NULL) {
		/* nothing to judge, but the statement is still recorded */
		if (sink->event && len) {
			struct tg_event ev;
			memset(&ev, 0, sizeof(ev));
			ev.type = EV_COMMAND;
			ev.u.cmd.len = len;
			copy_text(ev.u.cmd.text, sizeof(ev.u.cmd.text), sql, len, &ev.flags);
			sink->event(sink->ctx, &ev);
		}
		return 0;
	}
	sql_lex(sql, len, 0, &out);
	for (uint32_t i = 0; i < out.n_stmts; i++) {
		const struct sql_stmt *st = &out.stmts[i];
		struct rule_verdict sv;
		PROTO_CNT_INC(env, cmd_seen);
		if (pol->check_command(pol->rules, env->scratch, DP_PROTO_PG, env->res_id,
				       out.norm + st->norm_off, st->norm_len, out.fp + st->fp_off,
				       st->fp_len, sql + (st->nested ? 0 : st->raw_off),
				       st->nested ? len : st->raw_len, &sv) < 0) {
			PROTO_CNT_INC(env, rule_scan_error);
			continue;
		}
		if (env->cfg->record_raw && !st->nested)
			ev_command(sink, sql + st->raw_off, st->raw_len, out.fp + st->fp_off,
				   st->fp_len, &sv, 0);
		else
			ev_command(sink, out.norm + st->norm_off, st->norm_len, out.fp + st->fp_off,
				   st->fp_len, &sv, EV_F_NORMALIZED);
		v->n_alerts += sv.n_alerts + (sv.action == RULE_ALERT);
		if (sv.action > v->action) {
			uint32_t keep = v->n_alerts;
			*v = sv;
			v->n_alerts = keep;
		}
	}
	if (v->n_alerts)
		PROTO_CNT_ADD(env, cmd_alert, v->n_alerts);
	/* statements past the lexer's buffers were not judged: the caller applies
	 * dataplane.unjudged (the ones before were, and their verdict stands) */
	return (out.flags & SQL_LEX_TRUNCATED) ? -1 : 0;
}

static void verdict_text(const struct rule_verdict *v, char *out, size_t cap)
{
	if (v->message && v->message[0])
		snprintf(out, cap, "blocked by policy rule %s: %s", v->id ? v->id : "?", v->message);
	else
		snprintf(out, cap, "blocked by policy rule %s", v->id ? v->id : "?");
}

/* Gets the whole current message of <dir> into env->buf; NULL when it cannot. */
static const uint8_t *whole_msg(struct pg_framer *fr, int dir, struct proto_sink *sink,
				uint64_t off, const uint8_t *data, uint32_t dlen)
{
	const struct proto_env *env = sink->env;

	if (fr->msg_start >= off && fr->msg_start + fr->len <= off + dlen)
		return data + (fr->msg_start - off);
	if (fr->len > env->buf_cap ||
	    sink->peek(sink->ctx, dir, fr->msg_start, env->buf, fr->len) < 0)
		return NULL;
	return env->buf;
}

/* Copies a NUL-terminated string at <p> (at most <max> bytes available) into <dst>
 * (<cap> bytes; none when NULL). Returns its length. */
static uint32_t cstr(const uint8_t *p, uint32_t max, char *dst, size_t cap)
{
	uint32_t n = cstr_len(p, max);

	if (dst && cap) {
		size_t c = n < cap - 1 ? n : cap - 1;
		memcpy(dst, p, c);
		dst[c] = 0;
	}
	return n;
}

/* Whether start-up value <v> of "replication" asks for a replication connection: any
 * value but one PostgreSQL reads as false (a prefix of "false" or "no", "of", "off",
 * "0"; any case). A value the server would refuse counts as asking: refused here too. */
static int replication_asked(const char *v)
{
	size_t n = strlen(v);

	if (n == 0)
		return 1;
	return !((strncasecmp(v, "false", n) == 0) || (n <= 2 && strncasecmp(v, "no", n) == 0) ||
		 (n >= 2 && n <= 3 && strncasecmp(v, "off", n) == 0) || strcmp(v, "0") == 0);
}

static void on_startup(struct pg_state *s, const uint8_t *m, uint32_t len)
{
	uint32_t p = 8;

	while (p < len && m[p]) {
		char key[32], repl[16];
		uint32_t kl = cstr(m + p, len - p, key, sizeof(key));
		p += kl + 1;
		if (p >= len)
			break;
		int is_repl = strcmp(key, "replication") == 0;
		char *dst = strcmp(key, "user") == 0 ? s->user :
			    strcmp(key, "database") == 0 ? s->database :
			    strcmp(key, "application_name") == 0 ? s->app : is_repl ? repl : NULL;
		p += cstr(m + p, len - p, dst, dst == repl ? sizeof(repl) :
					       dst ? sizeof(s->user) : 0) + 1;
		if (is_repl)
			s->replication = (uint8_t)replication_asked(repl);
	}
}

/* Records the statement of <fr> that could not be judged as a command event with
 * <action> (block, reset, or allow when forwarded) by "dataplane.unjudged": its text
 * was never read whole, or (<fn_oid> not 0) it is a FunctionCall of a function the
 * appliance cannot name, so the event says what it was. */
static void ev_unjudged(const struct pg_framer *fr, struct proto_sink *sink, uint8_t action,
			uint32_t fn_oid)
{
	char text[80];
	int n = fn_oid ? snprintf(text, sizeof(text), "(a FunctionCall of function OID %u, "
				  "not judged)", fn_oid) :
			 snprintf(text, sizeof(text), "(%s of %u bytes, not judged)",
				  fr->type == 'P' ? "a Parse" : fr->type == 'F' ? "a FunctionCall" :
				  "a Query", fr->len);

	ev_note(sink, action, "dataplane.unjudged", text, n);
}

/* Removes client bytes [from, to) from the stream; if the editor cannot, resets the
 * session (they must not reach the server). Returns 0, or -1 after the reset. */
static int cut(struct proto_sink *sink, uint64_t from, uint64_t to)
{
	if (sink->remove(sink->ctx, PROTO_DIR_C2S, from, to) < 0) {
		sink->reset(sink->ctx);
		return -1;
	}
	return 0;
}

/* Resets the session for the statement of <fr>, which could not be judged. */
static void unjudged_reset(const struct pg_framer *fr, struct proto_sink *sink, uint32_t fn_oid)
{
	PROTO_CNT_INC(sink->env, cmd_unjudged_reset);
	ev_unjudged(fr, sink, RULE_RESET, fn_oid);
	sink->reset(sink->ctx);
}

/* Queues error <text> for a request the server never saw, to go before (<after> 0) or
 * right after, with its own ReadyForQuery (<after> 1), the server's <sync>-th
 * ReadyForQuery. Returns 0, or -1 after resetting the session: two already wait. */
static int pend_err(struct pg_state *s, struct proto_sink *sink, uint32_t sync, uint8_t after,
		    const char *text)
{
	struct pg_pending_err *pe;

	if (s->n_err >= 2) {
		sink->reset(sink->ctx);
		return -1;
	}
	pe = &s->err[s->n_err++];
	pe->sync = sync;
	pe->after = after;
	snprintf(pe->text, sizeof(pe->text), "%.*s", (int)sizeof(pe->text) - 1, text);
	return 0;
}

/* Refuses client message <fr> (a Query, FunctionCall or Parse ending at <end>) in the
 * server's place with error <text>: the message is removed (unless <removed>: its bytes
 * went as they came), a Query or FunctionCall is answered with ErrorResponse +
 * ReadyForQuery (the server answers both with a ReadyForQuery of their own): at once,
 * or when earlier requests are unanswered right after the last answer, a Parse puts
 * the rest of its batch aside and its error goes before the ReadyForQuery that answers
 * the batch's Sync. Returns 0, or -1 after resetting the session (the editor could not
 * do it, or a third batch was refused before the server answered the first). */
static int refuse_msg(struct pg_state *s, struct pg_framer *fr, struct proto_sink *sink,
		      const char *text, uint64_t end, int removed)
{
	if (!removed && cut(sink, fr->msg_start, end) < 0)
		return -1;
	if (fr->type != 'P' && s->unsynced) {
		/* extended requests without a Sync are unanswered, and no ReadyForQuery
		 * will mark their end: no place for the error that would not overtake
		 * their answers */
		sink->reset(sink->ctx);
		return -1;
	}
	if (fr->type != 'P' && s->syncs_fwd > s->rfq_seen) {
		/* earlier requests are still unanswered (a pipelining client): answered
		 * now, the error would overtake their answers; it waits for the last one */
		if (pend_err(s, sink, s->syncs_fwd, 1, text) < 0)
			return -1;
	} else if (fr->type != 'P') {
		uint8_t reply[256];
		uint32_t n = pg_build_error(reply, sizeof(reply), "42501", text, s->txn, 1);
		if (n == 0 || sink->inject(sink->ctx, PROTO_DIR_S2C, reply, n) < 0) {
			sink->reset(sink->ctx);
			return -1;
		}
	} else {
		/* the error goes out before the server's answer to the next Sync */
		if (pend_err(s, sink, s->syncs_fwd + 1, 0, text) < 0)
			return -1;
		s->discard = 1;
	}
	sink->release(sink->ctx, PROTO_DIR_C2S, end);
	return 0;
}

/* A statement the decoder cannot judge (too large to hold whole, more than the
 * lexer's buffers take, or with <fn_oid> a FunctionCall of a function pg_fn.c cannot
 * name), by dataplane.unjudged: refused with an error (the session goes on), the
 * session reset, or forwarded unjudged. Returns 1 when it was refused or the session
 * reset (the caller is done with the message), 0 to forward it. */
static int unjudged(struct pg_state *s, struct pg_framer *fr, struct proto_sink *sink,
		    uint64_t end, int removed, uint32_t fn_oid)
{
	const struct proto_env *env = sink->env;
	char why[128];

	if (fn_oid)
		snprintf(why, sizeof(why), "function call not judged: function OID %u is not "
			 "known (refused by policy)", fn_oid);
	else
		snprintf(why, sizeof(why), "statement not judged: larger than the appliance "
			 "can inspect (refused by policy)");

	/* a statement already removed can only be refused */
	switch (removed ? DP_UNJUDGED_BLOCK : env->cfg->unjudged) {
	case DP_UNJUDGED_FORWARD:
		PROTO_CNT_INC(env, cmd_unjudged);
		ev_unjudged(fr, sink, RULE_ALLOW, fn_oid);
		return 0;
	case DP_UNJUDGED_RESET:
		unjudged_reset(fr, sink, fn_oid);
		return 1;
	default:
		ev_unjudged(fr, sink, RULE_BLOCK, fn_oid);
		if (refuse_msg(s, fr, sink, why, end, removed) == 0)
			PROTO_CNT_INC(env, cmd_unjudged_blocked);
		return 1;
	}
}

/* Whether result rules (field or column) are in force for this flow's resource. */
static int result_rules(const struct proto_env *env)
{
	const struct proto_policy *pol = env->pol;

	return pol->has_result_rules &&
	       pol->has_result_rules(pol->rules, DP_PROTO_PG, env->res_id);
}

/* Whether statements are judged on this flow: command rules are loaded for PostgreSQL
 * (a rule set of masking rules only has check_command, and nothing to judge by). */
static int judging(const struct proto_env *env)
{
	const struct proto_policy *pol = env->pol;

	return pol->check_command && (pol->has_command_rules == NULL ||
				      pol->has_command_rules(pol->rules, DP_PROTO_PG, env->res_id));
}

/* Removes client bytes [from, to) of a statement too large to judge as they come, and
 * releases them (the hold stays empty; the editor acknowledges them to the client).
 * Returns 0, or -1 after resetting the session. */
static int drop_bytes(struct proto_sink *sink, uint64_t from, uint64_t to)
{
	if (to > from && cut(sink, from, to) < 0)
		return -1;
	sink->release(sink->ctx, PROTO_DIR_C2S, to);
	return 0;
}

/* The header of a Query or Parse longer than max_hold_bytes has been read (<to> is the
 * stream offset after it) while command rules are in force: it can never lie whole in
 * the hold, so it cannot be judged.
 * By dataplane.unjudged: "block" removes it as it comes (fr->drop; the error goes out
 * at its end), "reset" resets the session before any of it reaches the server,
 * "forward" leaves it to stream through (counted at its end). Returns 0, or -1 after a
 * reset. */
static int too_large(struct pg_framer *fr, struct proto_sink *sink, uint64_t to)
{
	const struct proto_env *env = sink->env;

	switch (env->cfg->unjudged) {
	case DP_UNJUDGED_FORWARD:
		return 0;
	case DP_UNJUDGED_RESET:
		unjudged_reset(fr, sink, 0);
		return -1;
	default:
		fr->drop = 1;
		return drop_bytes(sink, fr->msg_start, to);
	}
}

/* Records Bind <fr> of a named prepared statement: its text was judged (and recorded)
 * at its Parse; each execution is recorded too, by name, so that a replay shows every
 * statement the server ran. Unnamed statements are parsed again for every execution
 * and recorded there. */
static void ev_bind(struct proto_sink *sink, struct pg_framer *fr, uint64_t off,
		    const uint8_t *data, uint32_t dlen)
{
	const uint8_t *m = whole_msg(fr, PROTO_DIR_C2S, sink, off, data, dlen);

	if (m && fr->len > 6) {
		uint32_t pl = cstr_len(m + 5, fr->len - 5);
		uint32_t so = 5 + pl + 1;
		char name[64];
		if (so < fr->len && cstr(m + so, fr->len - so, name, sizeof(name)) > 0) {
			struct tg_event ev;
			memset(&ev, 0, sizeof(ev));
			ev.type = EV_COMMAND;
			ev.u.cmd.len = (uint32_t)snprintf(ev.u.cmd.text, sizeof(ev.u.cmd.text),
							  "EXECUTE PREPARED %s", name);
			ev.u.cmd.fp_hash = fnv1a(name, (uint32_t)strlen(name));
			sink->event(sink->ctx, &ev);
		}
	}
}

/* Start-up <fr>, ending at <end>, asks for a replication connection, refused by
 * dataplane.replication: removed (the server sees nothing), answered FATAL 42501 for
 * the server, and recorded. The client ends the connection; one that sends another
 * start-up instead gets it judged like the first. Returns 0. */
static int refuse_replication(struct pg_framer *fr, struct proto_sink *sink, uint64_t end)
{
	static const char text[] = "replication connections are refused by policy "
				   "(dataplane.replication)";
	static const char what[] = "(a replication start-up, refused)";
	uint8_t reply[160];
	uint32_t n = pg_build_error(reply, sizeof(reply), "42501", text, 0, 0);

	if (cut(sink, fr->msg_start, end) < 0)
		return 0;
	/* a start-up is refused with severity FATAL (the server's own, for a connection it
	 * will not serve): same length as ERROR, in both the S and V fields */
	memcpy(reply + 6, "FATAL", 5);
	memcpy(reply + 13, "FATAL", 5);
	if (n == 0 || sink->inject(sink->ctx, PROTO_DIR_S2C, reply, n) < 0) {
		sink->reset(sink->ctx);
		return 0;
	}
	PROTO_CNT_INC(sink->env, pg_replication_refused);
	ev_note(sink, RULE_BLOCK, "dataplane.replication", what, sizeof(what) - 1);
	sink->release(sink->ctx, PROTO_DIR_C2S, end);
	return 0;
}

/* Request <kind> (enum pg_rq) goes to the server. */
static void rq_forward(struct pg_state *s, struct proto_sink *sink, uint8_t kind)
{
	int rfq = kind == PG_RQ_QUERY || kind == PG_RQ_SYNC;

	if (rfq)
		s->syncs_fwd++; /* the server answers it with a ReadyForQuery */
	s->unsynced = !rfq;     /* extended requests since: no ReadyForQuery follows yet */
	rq_push(s, sink, kind);
}

/* Execute <m> (whole, <len> bytes) goes to the server. Unless a Describe of its portal
 * came right before it, one is added in front of it when result rules are in force, so
 * that its rows are masked with their own columns (see rq_answer). */
static void on_execute(struct pg_state *s, struct proto_sink *sink, const uint8_t *m,
		       uint32_t len, int after_desc)
{
	const struct proto_env *env = sink->env;
	uint8_t *desc = env->aux;      /* free on the client side (the batch is the server's) */
	uint32_t nl = m && len >= 6 ? cstr_len(m + 5, len - 5) : 0;

	if (!result_rules(env)) {
		rq_forward(s, sink, PG_RQ_EXEC_BLIND);  /* nothing to mask by column */
		return;
	}
	if (m && len >= 6 && after_desc && nl == s->last_desc_len &&
	    memcmp(m + 5, s->last_desc_name, nl) == 0) {
		rq_forward(s, sink, PG_RQ_EXEC);        /* the client described it */
		return;
	}
	/* a Describe cannot be added: not tracked (deep pipelining), or as many added
	 * answers waiting for removal as the editor takes at once (a JDBC batch) */
	if (m == NULL || len < 6 || s->rq_lost || s->rq_n + 2 > PG_RQ_MAX ||
	    s->added_desc >= PG_ADDED_MAX || 7 + (size_t)nl > env->aux_cap)
		goto blind;
	desc[0] = 'D';
	put32(desc + 1, 4 + 1 + nl + 1);
	desc[5] = 'P';
	memcpy(desc + 6, m + 5, nl);
	desc[6 + nl] = 0;
	/* the Execute is not released yet: the Describe goes right before it */
	if (sink->inject(sink->ctx, PROTO_DIR_C2S, desc, 7 + nl) < 0)
		goto blind;
	PROTO_CNT_INC(env, pg_describe_injected);
	s->added_desc++;
	rq_forward(s, sink, PG_RQ_DESC_ADDED);
	rq_forward(s, sink, PG_RQ_EXEC);
	return;
blind:
	PROTO_CNT_INC(env, pg_exec_columns_unknown);
	rq_forward(s, sink, PG_RQ_EXEC_BLIND);
}

/* A whole client message ended at <end>. Returns 0 or PROTO_ERR. */
static int on_client_msg(struct pg_state *s, struct pg_framer *fr, struct proto_sink *sink,
			 uint64_t off, const uint8_t *data, uint32_t dlen, uint64_t end)
{
	const struct proto_env *env = sink->env;
	struct rule_verdict v;
	char text[160];

	if (fr->untyped) {
		uint32_t code = be32(fr->hdr + 4);
		if (code == PG_SSL_REQUEST || code == PG_GSSENC_REQUEST) {
			if (env->cfg->tls == DP_TLS_REFUSE) {
				/* answer for the server: the client goes on in clear text */
				if (sink->remove(sink->ctx, PROTO_DIR_C2S, fr->msg_start, end) == 0 &&
				    sink->inject(sink->ctx, PROTO_DIR_S2C, (const uint8_t *)"N", 1) == 0) {
					PROTO_CNT_INC(env, pg_tls_refused);
					sink->release(sink->ctx, PROTO_DIR_C2S, end);
					return 0;
				}
			}
			s->dir[PROTO_DIR_S2C].one_byte = 1;
		} else if ((code >> 16) == 3) {
			const uint8_t *m = whole_msg(fr, PROTO_DIR_C2S, sink, off, data, dlen);
			s->replication = 0;
			if (m)
				on_startup(s, m, fr->len);
			ev_auth(s, sink);
			if (s->replication && env->cfg->replication == DP_REPLICATION_REFUSE)
				return refuse_replication(fr, sink, end);
			if (s->replication)
				PROTO_CNT_INC(env, pg_replication_allowed);
			fr->untyped = 0;
			/* answered up to a ReadyForQuery, like a Query */
			rq_forward(s, sink, PG_RQ_QUERY);
		} else if (code != PG_CANCEL_REQUEST) {
			/* another protocol version (2.0, which servers up to 13 accept): its
			 * messages are not v3's, so nothing after it could be judged - an error,
			 * handled by dataplane.malformed (a reset by default) */
			return PROTO_ERR;
		}
		sink->release(sink->ctx, PROTO_DIR_C2S, end);
		return 0;
	}
	/* whether the request right before was a Describe of a portal (a Flush between
	 * does not count) */
	int after_desc = s->last_desc;
	if (fr->type != 'H')
		s->last_desc = 0;
	if (s->discard) {
		/* after a blocked Parse: what the server would skip until Sync */
		if (fr->type == 'S') {
			s->discard = 0;
			rq_forward(s, sink, PG_RQ_SYNC);
		} else if (fr->type != 'X' && !fr->drop && cut(sink, fr->msg_start, end) < 0) {
			return 0;
		}
		fr->drop = 0;  /* a large one was removed as it came */
		sink->release(sink->ctx, PROTO_DIR_C2S, end);
		return 0;
	}
	if (fr->type == 'Q' || fr->type == 'P' || fr->type == 'F') {
		const uint8_t *m = whole_msg(fr, PROTO_DIR_C2S, sink, off, data, dlen);
		char call[PG_FN_SQL_MAX];
		const char *sql;
		uint32_t sql_len, fn_oid;
		if (fr->drop || m == NULL) {
			/* too large to judge: removed as it came (fr->drop), or streamed */
			int removed = fr->drop;
			fr->drop = 0;
			/* once removed it must be refused, even if a reload took the rules away
			 * meanwhile: the server saw none of it, the client waits for an answer */
			if ((removed || judging(env)) && unjudged(s, fr, sink, end, removed, 0))
				return 0;
			rq_forward(s, sink, fr->type == 'P' ? PG_RQ_PARSE : PG_RQ_QUERY);
			sink->release(sink->ctx, PROTO_DIR_C2S, end);
			return 0;
		}
		if (fr->type == 'Q') {
			sql = (const char *)m + 5;
			sql_len = cstr_len(m + 5, fr->len - 5);
		} else if (fr->type == 'F') {
			/* judged as the SELECT that calls the same function; one the table
			 * cannot name is not judged (its OID, or 1 for a malformed message, in
			 * the error and the event) */
			sql = call;
			sql_len = pg_fn_sql(m, fr->len, call, sizeof(call), &fn_oid);
			if (sql_len == 0) {
				if (judging(env) &&
				    unjudged(s, fr, sink, end, 0, fn_oid ? fn_oid : 1))
					return 0;
				rq_forward(s, sink, PG_RQ_QUERY);
				sink->release(sink->ctx, PROTO_DIR_C2S, end);
				return 0;
			}
		} else {
			uint32_t nl = cstr_len(m + 5, fr->len - 5);
			uint32_t q = 5 + nl + 1;
			sql = (const char *)m + (q < fr->len ? q : fr->len);
			sql_len = q < fr->len ? cstr_len(m + q, fr->len - q) : 0;
		}
		/* a statement past the lexer's buffers went unjudged: unless a judged one
		 * already blocks or resets, the policy for unjudged statements decides */
		if (judge_sql(s, sink, sql, sql_len, &v) < 0 && v.action < RULE_REVIEW &&
		    judging(env) && unjudged(s, fr, sink, end, 0, 0))
			return 0;
		if (v.action == RULE_RESET) {
			PROTO_CNT_INC(env, cmd_reset);
			sink->reset(sink->ctx);
			return 0;
		}
		if (v.action == RULE_BLOCK || v.action == RULE_REVIEW) {
			verdict_text(&v, text, sizeof(text));
			if (refuse_msg(s, fr, sink, text, end, 0) == 0)
				PROTO_CNT_INC(env, cmd_blocked);
			return 0;
		}
		/* the server answers a Query and a FunctionCall with a ReadyForQuery */
		rq_forward(s, sink, fr->type == 'P' ? PG_RQ_PARSE : PG_RQ_QUERY);
	} else if (fr->type == 'S') {
		/* in COPY FROM STDIN the server ignores a Sync (libpq sends one after the
		 * Execute and another after CopyDone): it gets no ReadyForQuery */
		if (!s->copy_in)
			rq_forward(s, sink, PG_RQ_SYNC);
	} else if (fr->type == 'c' || fr->type == 'f') {
		s->copy_in = 0;                 /* CopyDone, CopyFail */
	} else if (fr->type == 'C') {
		rq_forward(s, sink, PG_RQ_CLOSE);
	} else if (fr->type == 'D') {
		/* Describe of a statement ('S') or a portal ('P', remembered for on_execute) */
		const uint8_t *m = whole_msg(fr, PROTO_DIR_C2S, sink, off, data, dlen);
		int portal = m == NULL || fr->len < 6 || m[5] != 'S';
		rq_forward(s, sink, portal ? PG_RQ_DESC_P : PG_RQ_DESC_S);
		if (portal && m && fr->len >= 7) {
			/* kept whole, compared exactly: a hash would let a client pick two
			 * names that collide and run one with the other's columns */
			uint32_t nl = cstr_len(m + 6, fr->len - 6);
			s->last_desc = 1;
			s->last_desc_len = nl <= PG_DESC_NAME ? (uint8_t)nl : 0xff;
			memcpy(s->last_desc_name, m + 6, nl <= PG_DESC_NAME ? nl : 0);
		}
	} else if (fr->type == 'E') {
		on_execute(s, sink, whole_msg(fr, PROTO_DIR_C2S, sink, off, data, dlen), fr->len,
			   after_desc);
	} else if (fr->type == 'B') {
		rq_forward(s, sink, PG_RQ_BIND);
		if (sink->event)
			ev_bind(sink, fr, off, data, dlen);
	}
	sink->release(sink->ctx, PROTO_DIR_C2S, end);
	return 0;
}

/* Types whose text cannot hold what field rules look for (digits runs of 13+, '@',
 * key blocks): bool, int2, int4, oid, float4, float8, date, time, timestamp(tz),
 * interval, uuid. int8 and numeric can hold a card number and stay scanned. */
static int type_is_opaque(uint32_t oid)
{
	switch (oid) {
	case 16: case 21: case 23: case 26: case 700: case 701: case 1082: case 1083:
	case 1114: case 1184: case 1186: case 2950:
		return 1;
	default:
		return 0;
	}
}

/* Types whose binary format is their text (typsend sends the characters as they are):
 * "char", name, text, json, xml, unknown, bpchar, varchar. A column mask, which rewrites
 * the whole value, applies to binary values of these only (not jsonb: a version byte,
 * then the text; the byte must stay). */
static int type_binary_is_text(uint32_t oid)
{
	switch (oid) {
	case 18: case 19: case 25: case 114: case 142: case 705: case 1042: case 1043:
		return 1;
	default:
		return 0;
	}
}

static void on_row_description(struct pg_state *s, struct proto_sink *sink, const uint8_t *m,
			       uint32_t len)
{
	const struct proto_policy *pol = sink->env->pol;
	uint32_t p = 7, n = len >= 7 ? be16(m + 5) : 0;

	s->n_cols = (uint16_t)n;
	s->col_text = 0;
	s->n_col_masks = 0;
	memset(s->col_mask, 0, sizeof(s->col_mask));
	for (uint32_t c = 0; c < n && p < len; c++) {
		const char *name = (const char *)m + p;
		uint32_t nl = cstr_len(m + p, len - p);
		p += nl + 1;
		if (p + 18 > len)
			break;
		uint32_t type = be32(m + p + 6);
		uint16_t fmt = be16(m + p + 16);
		p += 18;
		if (c >= PG_MAX_COLS)
			continue;
		/* Field rules scan every value of a type that can hold what they look for,
		 * whatever its format: a binary value is its text for text-like types, embeds
		 * it for arrays, records and enums, and a binary number is a few bytes that
		 * cannot hold a match. A column mask rewrites the whole value, so it needs
		 * the value to be text. */
		int as_text = fmt == 0 || type_binary_is_text(type);
		if (!type_is_opaque(type))
			s->col_text |= 1ull << c;
		if (pol->column_mask) {
			int32_t rule;
			const struct rule_mask *cm = pol->column_mask(pol->rules, DP_PROTO_PG,
								      sink->env->res_id, name, nl, &rule);
			if (cm == NULL)
				continue;
			if (!as_text) {
				PROTO_CNT_INC(sink->env, mask_unmaskable);
				continue;
			}
			s->col_text |= 1ull << c; /* a column mask applies whatever the type */
			unsigned k;
			for (k = 0; k < s->n_col_masks; k++)
				if (memcmp(&s->col_masks[k], cm, sizeof(*cm)) == 0)
					break;
			if (k == s->n_col_masks) {
				if (k >= PG_MAX_COL_MASKS)
					continue;
				s->col_masks[s->n_col_masks++] = *cm;
			}
			s->col_mask[c] = (uint8_t)(k + 1);
		}
	}
}

/* A whole server message ended at <end>. */
static int on_server_msg(struct pg_state *s, struct pg_framer *fr, struct proto_sink *sink,
			 struct batch *b, uint64_t off, const uint8_t *data, uint32_t dlen, uint64_t end)
{
	const struct proto_env *env = sink->env;
	uint16_t res = env->res_id;

	s->res_bytes += fr->len;
	if (fr->type == 'd' && s->copy_out >= 2) {
		/* binary COPY: the first CopyData's file header says whether tuples carry
		 * OIDs (servers up to 11, WITH OIDS); the last may be the trailer, no row */
		uint8_t h[PG_COPY_HDR];
		if (s->copy_out == 2 && fr->len >= 5 + PG_COPY_HDR &&
		    msg_copy(sink, PROTO_DIR_S2C, fr->msg_start + 5, PG_COPY_HDR, off, data, dlen,
			     h) == 0 &&
		    memcmp(h, pg_copy_sig, sizeof(pg_copy_sig)) == 0 && (be32(h + 11) & PG_COPY_OIDS))
			s->copy_out = 3;
		if (!(fr->len == 7 &&
		      msg_copy(sink, PROTO_DIR_S2C, fr->msg_start + 5, 2, off, data, dlen, h) == 0 &&
		      h[0] == 0xff && h[1] == 0xff))
			s->res_rows++;
	} else if (fr->type == 'D' || (fr->type == 'd' && s->copy_out)) {
		s->res_rows++;
	}
	/* whether result rules apply is asked again at each result set (RowDescription,
	 * CopyOutResponse): a reload that adds masking rules covers sessions already open */
	if (s->results == 0 || fr->type == 'T' || fr->type == 'H' || fr->type == 'V')
		s->results = result_rules(env) ? 1 : 2;
	/* the messages below read themselves whole with whole_msg(), which reuses the
	 * batch's env->buf: scan and release the rows before them (and, for a
	 * ReadyForQuery, before an error injected in front of it) */
	if (b->active && fr->type && strchr("THZCEnNA", fr->type))
		batch_flush(s, b, sink, res);
	/* 1: the answer to a Describe the appliance added, removed below */
	int added = rq_answer(s, sink, fr->type);
	switch (fr->type) {
	case 'D':
		if (s->results == 1) {
			batch_add(s, b, sink, res, fr->msg_start, fr->len, off, data, dlen, 0);
			return 0;
		}
		if (rows_recorded(s, sink)) {
			const uint8_t *m = whole_msg(fr, PROTO_DIR_S2C, sink, off, data, dlen);
			if (m)
				ev_rows(s, sink, m, fr->len, 0);
		}
		break;
	case 'd':
		if (s->copy_out && s->results == 1) {
			batch_add(s, b, sink, res, fr->msg_start, fr->len, off, data, dlen,
				  s->copy_out);
			return 0;
		}
		if (s->copy_out == 1 && rows_recorded(s, sink)) {
			const uint8_t *m = whole_msg(fr, PROTO_DIR_S2C, sink, off, data, dlen);
			if (m)
				ev_rows(s, sink, m, fr->len, 1);
		}
		break;
	case 'V':
		/* a FunctionCallResponse: the function's value, which can be anything a
		 * column can (loread and lo_get return a large object's bytes) */
		if (s->results == 1) {
			batch_add(s, b, sink, res, fr->msg_start, fr->len, off, data, dlen, PG_ROW_FN);
			return 0;
		}
		break;
	case 'T':
		if (s->results == 1) {
			const uint8_t *m = whole_msg(fr, PROTO_DIR_S2C, sink, off, data, dlen);
			if (m)
				on_row_description(s, sink, m, fr->len);
			else
				s->n_cols = 0; /* unknown: every column is scanned as text */
		}
		break;
	case 'H': {
		const uint8_t *m = whole_msg(fr, PROTO_DIR_S2C, sink, off, data, dlen);
		s->copy_out = (m && fr->len > 5 && m[5] == 0) ? 1 : 2;
		break;
	}
	case 'c':
		s->copy_out = 0;
		break;
	case 'G':
		s->copy_in = 1;     /* until the client's CopyDone or CopyFail */
		break;
	case 'N':
	case 'A':
		if (s->results == 1)
			mask_text_msg(s, b, sink, res, fr, off, data, dlen,
				      fr->type == 'N' ? PG_ROW_NOTICE : PG_ROW_NOTIFY);
		break;
	case 'C':
	case 'E': {
		/* an error is recorded as the client gets it: masked */
		const uint8_t *m = fr->type == 'E' && s->results == 1 ?
			mask_text_msg(s, b, sink, res, fr, off, data, dlen, PG_ROW_NOTICE) : NULL;
		if (sink->event) {
			if (m == NULL)
				m = whole_msg(fr, PROTO_DIR_S2C, sink, off, data, dlen);
			if (fr->type == 'C')
				ev_result(s, sink, m, fr->len);
			else
				ev_error(sink, m, fr->len);
		}
		break;
	}
	case 'Z': {
		const uint8_t *m = whole_msg(fr, PROTO_DIR_S2C, sink, off, data, dlen);
		s->rfq_seen++;
		s->copy_out = 0;
		if (m && fr->len >= 6)
			s->txn = m[5];
		/* a blocked batch's error goes right before this ReadyForQuery; a refused
		 * Query's, with its own ReadyForQuery (this one's status), right after */
		while (s->n_err && s->err[0].sync == s->rfq_seen) {
			const struct pg_pending_err *pe = &s->err[0];
			uint8_t reply[192];
			uint32_t n;
			if (pe->after)
				release_to(b, PROTO_DIR_S2C, end, sink);
			n = pg_build_error(reply, sizeof(reply), "42501", pe->text, s->txn, pe->after);
			if (n == 0 || sink->inject(sink->ctx, PROTO_DIR_S2C, reply, n) < 0)
				sink->reset(sink->ctx);
			memmove(&s->err[0], &s->err[1], sizeof(s->err[0]));
			s->n_err--;
		}
		break;
	}
	default:
		break;
	}
	/* a result's RowDescription serves its own rows only: rows that come without one
	 * (an Execute after a Describe the decoder could not add) are scanned with no
	 * column known, never with another statement's columns */
	if (fr->type == 'C' || fr->type == 'I' || fr->type == 's' || fr->type == 'E')
		s->n_cols = 0;
	if (fr->type == 'E')
		s->copy_in = 0;     /* an error ends COPY FROM STDIN: a Sync counts again */
	if (added) {
		if (sink->remove(sink->ctx, PROTO_DIR_S2C, fr->msg_start, end) < 0) {
			sink->reset(sink->ctx);
			return 0;
		}
		release_to(b, PROTO_DIR_S2C, end, sink);
		return 0;
	}
	/* streaming (no result rules, no error pending): pg_feed releases the whole chunk
	 * once at its end, no need to release message by message */
	if (streaming(s))
		return 0;
	release_to(b, PROTO_DIR_S2C, end, sink);
	return 0;
}

static int pg_feed(void *st, int dir, uint64_t off, const uint8_t *data, uint32_t len,
		   struct proto_sink *sink)
{
	struct pg_state *s = st;
	struct pg_framer *fr;
	struct batch b;
	uint32_t i = 0;
	int rc = 0;

	dir &= 1;
	fr = &s->dir[dir];
	if (s->encrypted) {
		sink->release(sink->ctx, dir, off + len);
		return (int)len;
	}
	if (dir == PROTO_DIR_S2C)
		batch_init(&b, sink->env);
	while (i < len) {
		if (fr->remain) {
			uint32_t take = len - i < fr->remain ? len - i : fr->remain;
			if (fr->drop && drop_bytes(sink, off + i, off + i + take) < 0)
				break;
			i += take;
			fr->remain -= take;
			if (fr->remain)
				break;
		} else if (dir == PROTO_DIR_S2C && fr->one_byte) {
			uint8_t answer = data[i++];
			fr->one_byte = 0;
			fr->msgs++;
			release_to(&b, dir, off + i, sink);
			if (answer == 'S' || answer == 'G') {
				/* the rest of the flow is TLS / GSS: nothing more to decode;
				 * the recording says so, or a replay would show a session that
				 * ran nothing */
				static const char what[] = "(encryption accepted by the server: "
							   "the rest of the session is not inspected)";
				s->encrypted = 1;
				PROTO_CNT_INC(sink->env, pg_tls_passthrough);
				ev_note(sink, RULE_ALLOW, "dataplane.tls", what, sizeof(what) - 1);
				batch_flush(s, &b, sink, sink->env->res_id);
				sink->release(sink->ctx, dir, off + len);
				return (int)len;
			}
			continue;
		} else {
			uint8_t hlen = fr->untyped ? 8 : 5;
			if (fr->hdr_len == 0 && dir == PROTO_DIR_S2C && data[i] == 'D' &&
			    streaming(s) && !fr->untyped && !rows_recorded(s, sink)) {
				/* Streaming (no result rule, no error waiting): a run of whole
				 * DataRows needs nothing but counting, which is most of what a
				 * server sends. Skipped here without a call per message; the
				 * chunk is released whole at the end. */
				uint32_t j = i;
				while (len - j >= 5 && data[j] == 'D') {
					uint32_t ml = be32(data + j + 1);
					if (ml < 4 || ml > PG_MAX_MSG || ml >= len - j)
						break; /* not whole here (or bad): the general path */
					s->res_bytes += ml + 1;
					s->res_rows++;
					fr->msgs++;
					j += ml + 1;
				}
				if (j != i) {
					i = j;
					continue;
				}
			}
			if (fr->hdr_len == 0) {
				fr->msg_start = off + i;
				if (len - i >= hlen) {
					/* the common case: the whole header is here */
					memcpy(fr->hdr, data + i, hlen);
					fr->hdr_len = hlen;
					i += hlen;
				}
			}
			while (fr->hdr_len < hlen && i < len)
				fr->hdr[fr->hdr_len++] = data[i++];
			if (fr->hdr_len < hlen)
				break;
			uint32_t mlen;
			if (fr->untyped) {
				mlen = be32(fr->hdr);
				/* start-up packets are small; PostgreSQL refuses > 10000 bytes */
				if (mlen < 8 || mlen > 10000) {
					rc = PROTO_ERR;
					break;
				}
				fr->type = 0;
				fr->len = mlen;
				fr->remain = mlen - 8;
			} else {
				mlen = be32(fr->hdr + 1);
				if (mlen < 4 || mlen > PG_MAX_MSG) {
					rc = PROTO_ERR;
					break;
				}
				fr->type = fr->hdr[0];
				fr->len = mlen + 1;
				fr->remain = mlen - 4;
				if (dir == PROTO_DIR_C2S && fr->len > sink->env->cfg->max_hold_bytes) {
					/* a message that will never lie whole in the hold */
					if (s->discard && fr->type != 'S' && fr->type != 'X') {
						/* put aside after a refused Parse: it goes as it comes */
						fr->drop = 1;
						if (drop_bytes(sink, fr->msg_start, off + i) < 0)
							break;
					} else if (!s->discard &&
						   (fr->type == 'Q' || fr->type == 'P' || fr->type == 'F') &&
						   judging(sink->env) &&
						   too_large(fr, sink, off + i) < 0) {
						break;  /* the session is reset */
					}
				}
			}
			if (fr->remain)
				continue;
		}
		/* a whole message: [msg_start, off + i) */
		uint64_t end = off + i;
		fr->msgs++;
		if (dir == PROTO_DIR_C2S)
			rc = on_client_msg(s, fr, sink, off, data, len, end);
		else
			rc = on_server_msg(s, fr, sink, &b, off, data, len, end);
		fr->hdr_len = 0;
		if (rc < 0)
			break;
	}
	if (dir == PROTO_DIR_S2C) {
		batch_flush(s, &b, sink, sink->env->res_id);
		/* Nothing to mask and no error waiting for a ReadyForQuery: the server's
		 * bytes need not wait for message ends, so every segment leaves as it came
		 * (no re-segmentation, no copy, checksums updated incrementally). */
		if (rc >= 0 && streaming(s))
			sink->release(sink->ctx, dir, off + len);
	}
	return rc < 0 ? rc : (int)len;
}

static void pg_fin(void *st, int dir, uint64_t off, struct proto_sink *sink)
{
	(void)st;
	sink->release(sink->ctx, dir, off);
}

const struct proto_ops pg_proto_ops = {
	.name = "pg",
	.state_size = sizeof(struct pg_state),
	.init = pg_init,
	.feed = pg_feed,
	.fin = pg_fin,
	.fini = NULL,
};
