/* test_pg.c - unit tests of the PostgreSQL decoder (dataplane/proto/pg.c): message framing,
 * the TLS policy, verdicts (a block in a transaction, reset, pipelined blocked batches),
 * statements too large to judge, binary-format results. Driven through the worker: what
 * the framer releases is exactly what reaches the other side. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <rte_ring.h>
#include "dataplane/dp_counters.h"
#include "dataplane/flow.h"
#include "dataplane/proto/pg.h"
#include "dataplane/proto/proto.h"
#include "dataplane/worker.h"
#include "dataplane/policy-t.h"
#include "slowpath/event-t.h"
#include "tests/common/test_decoder.h"
#include "tests/common/test_eal.h"

/* RowDescription body of one text column "a": fields, name, table oid, attnum, type
 * oid 25, typlen -1, typmod -1, format 0. */
static const uint8_t rowdesc[] = { 0, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25,
				   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0 };

/* A message being built. */
struct msg {
	uint8_t b[512];
	uint16_t n;
};

static void put32(struct msg *m, uint32_t v)
{
	m->b[m->n++] = (uint8_t)(v >> 24);
	m->b[m->n++] = (uint8_t)(v >> 16);
	m->b[m->n++] = (uint8_t)(v >> 8);
	m->b[m->n++] = (uint8_t)v;
}

static void putb(struct msg *m, const void *p, uint16_t len)
{
	if (len)
		memcpy(m->b + m->n, p, len);
	m->n = (uint16_t)(m->n + len);
}

/* StartupMessage for user <u>, database <db>. */
static void startup(struct msg *m, const char *u, const char *db)
{
	uint16_t at = m->n;

	put32(m, 0);
	put32(m, PG_PROTO_V3);
	putb(m, "user", 5);
	putb(m, u, (uint16_t)(strlen(u) + 1));
	putb(m, "database", 9);
	putb(m, db, (uint16_t)(strlen(db) + 1));
	m->b[m->n++] = 0;
	uint32_t len = (uint32_t)(m->n - at);
	m->b[at] = (uint8_t)(len >> 24);
	m->b[at + 1] = (uint8_t)(len >> 16);
	m->b[at + 2] = (uint8_t)(len >> 8);
	m->b[at + 3] = (uint8_t)len;
}

static void ssl_request(struct msg *m)
{
	put32(m, 8);
	put32(m, PG_SSL_REQUEST);
}

/* A typed message: <type>, length, <len> bytes of <body>. */
static void typed(struct msg *m, char type, const void *body, uint16_t len)
{
	m->b[m->n++] = (uint8_t)type;
	put32(m, 4u + len);
	putb(m, body, len);
}

static void query(struct msg *m, const char *sql)
{
	typed(m, 'Q', sql, (uint16_t)(strlen(sql) + 1));
}

static int setup(void **state)
{
	struct tconv *t = tconv_new(DP_PROTO_PG);

	if (t == NULL)
		return -1;
	proto_register_builtin();
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	tconv_free(*state);
	return 0;
}

/* A policy with result rules (whose masking changes nothing): the server's messages
 * are then held to their ends, which is the framing these tests check. */
static int has_results(void *rules, uint8_t proto, uint16_t res)
{
	(void)rules; (void)proto; (void)res;
	return 1;
}

static int mask_none(void *rules, void *scratch, uint8_t proto, uint16_t res, uint8_t *buf,
		     uint32_t len, const struct rule_field *fields, unsigned n,
		     struct rule_mask_stats *st)
{
	(void)rules; (void)scratch; (void)proto; (void)res; (void)buf; (void)len; (void)fields;
	(void)n; (void)st;
	return 0;
}

static struct dp_policy result_policy = {
	.ops = { .has_result_rules = has_results, .mask_fields = mask_none },
};

static void start(struct tconv *t)
{
	assert_int_equal(tconv_start(t), 0);
	dp_worker_set_policy(t->w, &result_policy);
	tconv_handshake(t);
}

/* Sends <m> from side <dir> one byte per segment, and asserts that nothing of it
 * reaches the other side before its last byte. */
static void send_bytewise(struct tconv *t, int dir, const struct msg *m)
{
	uint32_t before = t->rx[dir].contig;

	for (uint16_t i = 0; i < m->n; i++) {
		tconv_send_bytes(t, dir, m->b + i, 1);
		tconv_drain(t);
		if (i + 1 < m->n)
			assert_int_equal(t->rx[dir].contig, before);
	}
	assert_int_equal(t->rx[dir].contig, before + m->n);
}

/* Sends <m> from side <dir>, adds it to <seen> (what the other side has received so
 * far) and asserts that it arrived there unchanged. */
static void pass_through(struct tconv *t, int dir, const struct msg *m, struct msg *seen)
{
	tconv_send_bytes(t, dir, m->b, m->n);
	putb(seen, m->b, m->n);
	tconv_drain(t);
	assert_true(tconv_rx_eq(t, dir, seen->b, seen->n));
}

/* Client startup, server AuthenticationOk + ReadyForQuery. Returns the bytes each
 * side has received so far in <c2s> and <s2c>. */
static void login(struct tconv *t, struct msg *c2s, struct msg *s2c)
{
	struct msg m = { .n = 0 };
	uint8_t ok[4] = { 0, 0, 0, 0 };

	startup(&m, "alice", "orders");
	tconv_send_bytes(t, 0, m.b, m.n);
	putb(c2s, m.b, m.n);
	m.n = 0;
	typed(&m, 'R', ok, 4);
	typed(&m, 'Z', "I", 1);
	tconv_send_bytes(t, 1, m.b, m.n);
	putb(s2c, m.b, m.n);
	tconv_drain(t);
	assert_true(tconv_rx_eq(t, 0, c2s->b, c2s->n));
	assert_true(tconv_rx_eq(t, 1, s2c->b, s2c->n));
}

/* Starts the worker with policy <pol>, then handshake and login (as login()). */
static void policy_start(struct tconv *t, struct dp_policy *pol, struct msg *c, struct msg *s)
{
	assert_int_equal(tconv_start(t), 0);
	dp_worker_set_policy(t->w, pol);
	tconv_handshake(t);
	login(t, c, s);
}

/* Catches the events the worker records, in a ring of its own; ev_catch_end() stops. */
static struct rte_ring *ev_catch(struct tconv *t, const char *name)
{
	struct rte_ring *r = rte_ring_create_elem(name, sizeof(struct tg_event), 256,
						  SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);

	assert_non_null(r);
	t->w->ev_ring = r;
	return r;
}

static void ev_catch_end(struct tconv *t, struct rte_ring *r)
{
	t->w->ev_ring = NULL;
	rte_ring_free(r);
}

static void test_startup(void **state)
{
	struct tconv *t = *state;
	struct msg m = { .n = 0 }, c = { .n = 0 };

	start(t);
	startup(&m, "alice", "orders");
	send_bytewise(t, 0, &m);
	putb(&c, m.b, m.n);
	assert_true(tconv_rx_eq(t, 0, c.b, c.n));
	/* after the startup packet the client speaks typed messages */
	m.n = 0;
	query(&m, "SELECT 1;");
	send_bytewise(t, 0, &m);
	assert_int_equal(TCONV_CNT(t, proto_error), 0);
	assert_int_equal(tconv_stop(t), 0);
}

/* Policy tls = refuse: the appliance answers 'N' for the server, which never sees the
 * SSLRequest; the session goes on in clear, with both sequence spaces shifted. */
static void test_ssl_refused_by_appliance(void **state)
{
	struct tconv *t = *state;
	struct msg m = { .n = 0 }, c = { .n = 0 }, s = { .n = 0 };
	uint32_t cs, ss;

	t->cfg.tls = DP_TLS_REFUSE;
	start(t);
	cs = t->nxt[0];
	ss = t->nxt[1];
	ssl_request(&m);
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_drain(t);
	assert_int_equal(t->rx[0].contig, 0);
	assert_true(tconv_rx_eq(t, 1, "N", 1));
	/* the client's startup reaches the server at the server's first seq */
	m.n = 0;
	startup(&m, "carol", "db");
	pass_through(t, 0, &m, &c);
	assert_int_equal(tconv_frame(t, 0, 0)->seq, cs);
	/* the server answers; the client reads it after the appliance's 'N' */
	m.n = 0;
	typed(&m, 'R', "\0\0\0\0", 4);
	typed(&m, 'Z', "I", 1);
	putb(&s, "N", 1);
	putb(&s, m.b, m.n);
	tconv_send_bytes(t, 1, m.b, m.n);
	tconv_drain(t);
	assert_true(tconv_rx_eq(t, 1, s.b, s.n));
	/* ACKs are translated both ways */
	tconv_ack(t, 0);
	tconv_ack(t, 1);
	tconv_drain(t);
	for (unsigned i = 0; i < t->n_fr; i++) {
		if (t->fr[i].dir == 0)
			assert_int_equal(t->fr[i].ack, ss + m.n);
		else
			assert_int_equal(t->fr[i].ack, cs + 8 + c.n);
	}
	assert_int_equal(TCONV_CNT(t, proto_error), 0);
	assert_int_equal(tconv_stop(t), 0);
}

static void test_ssl_refused_then_startup(void **state)
{
	struct tconv *t = *state;
	struct msg m = { .n = 0 }, c = { .n = 0 }, s = { .n = 0 };

	t->cfg.tls = DP_TLS_PASSTHROUGH;      /* the server answers */
	start(t);
	ssl_request(&m);
	send_bytewise(t, 0, &m);
	putb(&c, m.b, m.n);
	tconv_send_bytes(t, 1, "N", 1);
	putb(&s, "N", 1);
	tconv_drain(t);
	assert_true(tconv_rx_eq(t, 1, s.b, s.n));
	/* the startup that follows is untyped too, and is framed as one message */
	m.n = 0;
	startup(&m, "bob", "db");
	send_bytewise(t, 0, &m);
	putb(&c, m.b, m.n);
	/* and the server's typed answer */
	m.n = 0;
	typed(&m, 'R', "\0\0\0\0", 4);
	send_bytewise(t, 1, &m);
	putb(&s, m.b, m.n);
	assert_true(tconv_rx_eq(t, 0, c.b, c.n));
	assert_true(tconv_rx_eq(t, 1, s.b, s.n));
	assert_int_equal(TCONV_CNT(t, proto_error), 0);
	assert_int_equal(tconv_stop(t), 0);
}

static void test_ssl_accepted(void **state)
{
	struct tconv *t = *state;
	struct msg m = { .n = 0 };
	static const uint8_t hello[3] = { 0x16, 0x03, 0x01 };  /* a TLS record's start */
	static const uint8_t srv[2] = { 0x16, 0x03 };
	struct rte_ring *r;
	struct tg_event ev;
	unsigned found = 0;

	t->cfg.tls = DP_TLS_PASSTHROUGH;
	start(t);
	r = ev_catch(t, "test_pg_tls");
	ssl_request(&m);
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_send_bytes(t, 1, "S", 1);
	tconv_drain(t);
	assert_int_equal(t->rx[1].contig, 1);
	/* the recording says the session went uninspected ("record that it did") */
	while (rte_ring_sc_dequeue_elem(r, &ev, sizeof(ev)) == 0)
		if (ev.type == EV_COMMAND) {
			assert_string_equal(ev.u.cmd.rule, "dataplane.tls");
			assert_int_equal(ev.u.cmd.action, RULE_ALLOW);
			found++;
		}
	assert_int_equal(found, 1);
	ev_catch_end(t, r);
	/* TLS bytes are not PostgreSQL messages: each goes through as it comes */
	tconv_send_bytes(t, 0, hello, 3);
	tconv_drain(t);
	assert_int_equal(t->rx[0].contig, 8 + 3);
	assert_memory_equal(t->rx[0].buf + 8, hello, 3);
	tconv_send_bytes(t, 1, srv, 2);
	tconv_drain(t);
	assert_int_equal(t->rx[1].contig, 3);
	tconv_send_bytes(t, 0, "\x00\x00\x00\x01", 4);    /* would be a bad length in clear */
	tconv_drain(t);
	assert_int_equal(t->rx[0].contig, 8 + 3 + 4);
	assert_int_equal(TCONV_CNT(t, proto_error), 0);
	assert_int_equal(tconv_stop(t), 0);
}

/* The answer 'S' and the first TLS bytes in one segment. */
static void test_ssl_accepted_same_segment(void **state)
{
	struct tconv *t = *state;
	struct msg m = { .n = 0 };

	t->cfg.tls = DP_TLS_PASSTHROUGH;
	start(t);
	ssl_request(&m);
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_send_bytes(t, 1, "S\x16\x03", 3);
	tconv_drain(t);
	assert_int_equal(t->rx[1].contig, 3);
	assert_int_equal(TCONV_CNT(t, proto_error), 0);
	assert_int_equal(tconv_stop(t), 0);
}

/* Typed messages one byte at a time: each released exactly at its end; several
 * messages in one segment: the whole ones go, a partial one waits. */
static void test_typed_bytewise(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 }, m = { .n = 0 };
	uint16_t whole;

	start(t);
	login(t, &c, &s);
	query(&m, "SELECT * FROM t;");
	send_bytewise(t, 0, &m);
	putb(&c, m.b, m.n);
	assert_true(tconv_rx_eq(t, 0, c.b, c.n));
	/* server: RowDescription-like 'T', DataRow 'D', CommandComplete 'C', 'Z', bytewise */
	m.n = 0;
	typed(&m, 'T', rowdesc, sizeof(rowdesc));
	send_bytewise(t, 1, &m);
	putb(&s, m.b, m.n);
	m.n = 0;
	typed(&m, 'D', "\0\1\0\0\0\3abc", 9);
	send_bytewise(t, 1, &m);
	putb(&s, m.b, m.n);
	/* two whole messages and the first 3 bytes of a third in one segment */
	m.n = 0;
	typed(&m, 'C', "SELECT 1", 9);
	typed(&m, 'Z', "I", 1);
	whole = m.n;
	typed(&m, 'N', "xyz", 4);
	tconv_send_bytes(t, 1, m.b, (uint16_t)(whole + 3));
	tconv_drain(t);
	putb(&s, m.b, whole);
	assert_true(tconv_rx_eq(t, 1, s.b, s.n));
	/* the rest of the third */
	tconv_send_bytes(t, 1, m.b + whole + 3, (uint16_t)(m.n - whole - 3));
	tconv_drain(t);
	putb(&s, m.b + whole, (uint16_t)(m.n - whole));
	assert_true(tconv_rx_eq(t, 1, s.b, s.n));
	/* a message with an empty body (length 4) ends at its header */
	m.n = 0;
	typed(&m, 'H', NULL, 0);
	send_bytewise(t, 0, &m);
	assert_int_equal(TCONV_CNT(t, proto_error), 0);
	assert_int_equal(tconv_stop(t), 0);
}

/* Without result rules, the server's bytes are not held to message ends: each byte
 * of a message sent one per segment reaches the client at once. */
static void test_server_streams_without_result_rules(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 }, m = { .n = 0 };

	assert_int_equal(tconv_start(t), 0);
	tconv_handshake(t);             /* the empty policy: no rules at all */
	login(t, &c, &s);
	typed(&m, 'D', "\0\1\0\0\0\3abc", 9);
	for (uint16_t i = 0; i < m.n; i++) {
		uint32_t before = t->rx[1].contig;
		tconv_send_bytes(t, 1, m.b + i, 1);
		tconv_drain(t);
		assert_int_equal(t->rx[1].contig, before + 1);
	}
	assert_int_equal(TCONV_CNT(t, proto_error), 0);
	assert_int_equal(tconv_stop(t), 0);
}

/* The result summary of a streamed result set (no result rules) counts every row,
 * whether rows come whole in one segment (skipped without a call each), cut across
 * segments, or one byte at a time. */
static void test_streamed_result_counts_rows(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 }, m = { .n = 0 };
	struct rte_ring *r;
	struct tg_event ev;
	uint64_t rows[3] = { 0 }, bytes[3] = { 0 };
	unsigned n_res = 0;

	assert_int_equal(tconv_start(t), 0);
	r = ev_catch(t, "test_pg_ev");
	tconv_handshake(t);
	login(t, &c, &s);
	for (int round = 0; round < 3; round++) {
		m.n = 0;
		query(&m, "SELECT a FROM t;");
		tconv_send_bytes(t, 0, m.b, m.n);
		tconv_drain(t);
		m.n = 0;
		for (int k = 0; k < 5; k++)
			typed(&m, 'D', "\0\1\0\0\0\3abc", 9);
		typed(&m, 'C', "SELECT 5", 9);
		typed(&m, 'Z', "I", 1);
		if (round == 0) {
			tconv_send_bytes(t, 1, m.b, m.n);        /* whole, in one segment */
		} else if (round == 1) {
			tconv_send_bytes(t, 1, m.b, 17);         /* cut inside the second row */
			tconv_send_bytes(t, 1, m.b + 17, (uint16_t)(m.n - 17));
		} else {
			for (uint16_t i = 0; i < m.n; i++) {     /* one byte a segment */
				tconv_send_bytes(t, 1, m.b + i, 1);
				tconv_drain(t);
			}
		}
		tconv_drain(t);
	}
	while (rte_ring_sc_dequeue_elem(r, &ev, sizeof(ev)) == 0)
		if (ev.type == EV_RESULT && n_res < 3) {
			rows[n_res] = ev.u.result.rows;
			bytes[n_res++] = ev.u.result.bytes;
		}
	assert_int_equal(n_res, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(rows[i], 5);
		assert_int_equal(bytes[i], 5 * 14 + 14);   /* the rows and CommandComplete */
	}
	assert_int_equal(TCONV_CNT(t, proto_error), 0);
	ev_catch_end(t, r);
	assert_int_equal(tconv_stop(t), 0);
}

/* Result rules put in force during a session (a reload) cover its next result set:
 * the rows are held to their ends (scanned) again, not streamed as before. */
static void test_result_rules_after_reload(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 }, m = { .n = 0 };

	assert_int_equal(tconv_start(t), 0);
	tconv_handshake(t);             /* no rules at first */
	login(t, &c, &s);
	dp_worker_set_policy(t->w, &result_policy);
	typed(&m, 'T', rowdesc, sizeof(rowdesc));
	tconv_send_bytes(t, 1, m.b, m.n); /* the result set's description asks again */
	tconv_drain(t);
	m.n = 0;
	typed(&m, 'D', "\0\1\0\0\0\3abc", 9);
	send_bytewise(t, 1, &m);        /* its rows are held to their ends and scanned */
	assert_true(TCONV_CNT(t, rows_scanned) >= 1);
	assert_int_equal(tconv_stop(t), 0);
}

/* A typed message whose length is below 4 is a protocol error: counted, and by default
 * (dataplane.malformed = reset) the flow is reset, nothing of it reaching the server. */
static void test_length_below_4_resets(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 };
	static const uint8_t bad[5] = { 'Q', 0, 0, 0, 3 };

	start(t);
	login(t, &c, &s);
	tconv_send_bytes(t, 0, bad, 5);
	tconv_drain(t);
	assert_int_equal(TCONV_CNT(t, proto_error), 1);
	assert_true(t->rx[0].rst && t->rx[1].rst);
	assert_int_equal(t->rx[0].contig, c.n);
	assert_int_equal(tconv_stop(t), 0);
}

/* With malformed = forward: counted, and the flow is no longer inspected (bytes pass
 * as they come). */
static void test_length_below_4(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 };
	static const uint8_t bad[5] = { 'Q', 0, 0, 0, 3 };

	t->cfg.malformed = DP_MALFORMED_FORWARD;
	start(t);
	login(t, &c, &s);
	tconv_send_bytes(t, 0, bad, 5);
	tconv_drain(t);
	assert_int_equal(TCONV_CNT(t, proto_error), 1);
	putb(&c, bad, 5);
	assert_true(tconv_rx_eq(t, 0, c.b, c.n));
	tconv_send_bytes(t, 0, "zz", 2);
	tconv_drain(t);
	assert_int_equal(t->rx[0].contig, c.n + 2);
	assert_int_equal(tconv_stop(t), 0);
}

/* An untyped start-up packet shorter than its own header is an error too. */
static void test_startup_too_short(void **state)
{
	struct tconv *t = *state;
	static const uint8_t bad[8] = { 0, 0, 0, 4, 0, 3, 0, 0 };

	t->cfg.malformed = DP_MALFORMED_FORWARD;
	start(t);
	tconv_send_bytes(t, 0, bad, 8);
	tconv_drain(t);
	assert_int_equal(TCONV_CNT(t, proto_error), 1);
	assert_int_equal(t->rx[0].contig, 8);
	assert_int_equal(tconv_stop(t), 0);
}

/* A protocol 2.0 StartupMessage (servers up to 13 accept it): v2 messages are not v3's,
 * so nothing after it could be judged. Before, its next message failed to parse and
 * the rest of the session went uninspected: a v2 "QDROP TABLE t" reached the server.
 * Now the start-up itself is an error, and the flow is reset before it leaves. */
static void test_protocol_v2_refused(void **state)
{
	struct tconv *t = *state;
	struct msg m = { .n = 0 };

	start(t);
	put32(&m, 0);
	put32(&m, 2u << 16);                    /* version 2.0 */
	putb(&m, "user\0alice\0database\0db\0\0", 25);
	m.b[3] = (uint8_t)m.n;
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_drain(t);
	assert_int_equal(TCONV_CNT(t, proto_error), 1);
	assert_int_equal(t->rx[0].contig, 0);
	assert_true(t->rx[0].rst && t->rx[1].rst);
	assert_int_equal(tconv_stop(t), 0);
}

/* ---- the decoder driven directly, without the worker: a sink over flat buffers ---- */

#define DS_STREAM (1u << 17)
#define DS_BUF    (1u << 16)
#define DS_GUARD  4096            /* bytes after env->aux that the decoder must not touch */

struct dsink {
	uint8_t bytes[2][DS_STREAM];  /* everything fed so far, per direction */
	uint64_t fed[2];
	uint8_t buf[DS_BUF];
	uint8_t aux[3 * DS_BUF + DS_GUARD];
	struct dp_counters cnt;
	struct dp_config cfg;
	struct proto_policy pol;
	struct proto_env env;
	struct proto_sink sink;
	uint64_t st[FLOW_DEC_STATE_SIZE / 8];
	uint64_t fields_seen;         /* fields given to mask_fields, all calls together */
	unsigned max_call;            /* most fields in one mask_fields call */
	unsigned alerts;              /* command events with action alert */
	char last_rule[64];           /* the rule of the last command event */
};

static int ds_peek(void *ctx, int dir, uint64_t from, uint8_t *buf, uint32_t len)
{
	struct dsink *d = ctx;

	if (from + len > d->fed[dir & 1])
		return -1;
	memcpy(buf, d->bytes[dir & 1] + from, len);
	return 0;
}

static void ds_release(void *ctx, int dir, uint64_t upto) { (void)ctx; (void)dir; (void)upto; }
static int ds_remove(void *ctx, int dir, uint64_t from, uint64_t to)
{
	(void)ctx; (void)dir; (void)from; (void)to;
	return 0;
}
static int ds_rewrite(void *ctx, int dir, uint64_t at, const uint8_t *bytes, uint32_t len)
{
	(void)ctx; (void)dir; (void)at; (void)bytes; (void)len;
	return 0;
}
static int ds_inject(void *ctx, int dir, const uint8_t *bytes, uint32_t len)
{
	(void)ctx; (void)dir; (void)bytes; (void)len;
	return 0;
}
static void ds_reset(void *ctx) { (void)ctx; }
static void ds_event(void *ctx, struct tg_event *ev)
{
	struct dsink *d = ctx;

	if (ev->type != EV_COMMAND)
		return;
	d->alerts += ev->u.cmd.action == RULE_ALERT;
	snprintf(d->last_rule, sizeof(d->last_rule), "%s", ev->u.cmd.rule);
}

static struct dsink *ds_cur;

static int ds_mask_count(void *rules, void *scratch, uint8_t proto, uint16_t res, uint8_t *buf,
			 uint32_t len, const struct rule_field *fields, unsigned n,
			 struct rule_mask_stats *st)
{
	(void)rules; (void)scratch; (void)proto; (void)res; (void)buf; (void)st;
	for (unsigned i = 0; i < n; i++)
		assert_true((uint64_t)fields[i].off + fields[i].len <= len);
	ds_cur->fields_seen += n;
	if (n > ds_cur->max_call)
		ds_cur->max_call = n;
	return 0;
}

static struct dsink *ds_new(void)
{
	/* aligned as its members want (the counters are cache-line aligned): not
	 * test_calloc, whose blocks are only 16-byte aligned */
	struct dsink *d = aligned_alloc(64, RTE_ALIGN_CEIL(sizeof(*d), 64));

	assert_non_null(d);
	memset(d, 0, sizeof(*d));
	memset(d->aux + 3 * DS_BUF, 0xa5, DS_GUARD);
	d->pol.has_result_rules = has_results;
	d->pol.mask_fields = ds_mask_count;
	d->env = (struct proto_env){ .pol = &d->pol, .buf = d->buf, .buf_cap = DS_BUF,
				     .aux = d->aux, .aux_cap = 3 * DS_BUF, .cnt = &d->cnt,
				     .cfg = &d->cfg };
	d->sink = (struct proto_sink){ .ctx = d, .env = &d->env, .peek = ds_peek,
				       .release = ds_release, .remove = ds_remove,
				       .rewrite = ds_rewrite, .inject = ds_inject,
				       .reset = ds_reset, .event = ds_event };
	ds_cur = d;
	pg_proto_ops.init(d->st);
	return d;
}

/* Feeds <len> bytes of <dir> to the decoder in one call. */
static void ds_feed(struct dsink *d, int dir, const void *p, uint32_t len)
{
	uint64_t off = d->fed[dir];

	assert_true(off + len <= DS_STREAM);
	memcpy(d->bytes[dir] + off, p, len);
	d->fed[dir] += len;
	assert_int_equal(pg_proto_ops.feed(d->st, dir, off, d->bytes[dir] + off, len, &d->sink),
			 (int)len);
}

static int ds_guard_intact(const struct dsink *d)
{
	for (uint32_t i = 0; i < DS_GUARD; i++)
		if (d->aux[3 * DS_BUF + i] != 0xa5)
			return 0;
	return 1;
}

/* Start-up and the server's first ReadyForQuery: result rules in force from there. */
static void ds_login(struct dsink *d)
{
	struct msg m = { .n = 0 };

	startup(&m, "alice", "orders");
	ds_feed(d, 0, m.b, m.n);
	m.n = 0;
	typed(&m, 'Z', "I", 1);
	ds_feed(d, 1, m.b, m.n);
}

static uint32_t put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return 4;
}

/* Feeds row message <row> (<len> bytes, <nf> maskable fields) from the server and
 * checks that every field was scanned, a table's worth at a time (none let through
 * unscanned, nothing written past the field table); frees <row> and <d>. */
static void feed_wide_row(struct dsink *d, uint8_t *row, uint32_t len, unsigned nf)
{
	ds_feed(d, 1, row, len);
	assert_true(ds_guard_intact(d));
	assert_true(d->max_call <= 8192);
	assert_int_equal(d->fields_seen, nf);
	assert_int_equal(DP_CNT_GET(&d->cnt, hold_overflow), 0);
	test_free(row);
	free(d);
}

/* A DataRow whose field count (from the row, no RowDescription before it) is more than
 * one mask_fields call takes: the fields were written past the field array, beyond
 * env->aux. The row now passes uninspected (hold_overflow), and nothing past env->aux
 * is touched. Found with fuzz_pg: corpus/pg/datarow_7681_fields_no_rowdesc, one field
 * more than the harness's env->aux holds. */
static void test_datarow_more_fields_than_a_scan(void **state)
{
	struct dsink *d = ds_new();
	enum { NF = 9000 };
	uint32_t len = 1 + 4 + 2 + NF * 5, n = 0;
	uint8_t *row = test_malloc(len);

	(void)state;
	ds_login(d);
	row[n++] = 'D';
	n += put_be32(row + n, len - 1);
	row[n++] = (uint8_t)(NF >> 8);
	row[n++] = (uint8_t)NF;
	for (unsigned i = 0; i < NF; i++) {
		n += put_be32(row + n, 1);
		row[n++] = '7';
	}
	assert_int_equal(n, len);
	feed_wide_row(d, row, len, NF);
}

/* A query can put thousands of tabs in one COPY ... (FORMAT csv) row (CSV does not
 * escape them), and the decoder splits COPY rows on tabs: a card number in the row's
 * first field must be scanned all the same. A row of more fields than one scan takes
 * was once let through unscanned, counted as hold_overflow (found in review). */
static void test_copy_row_more_fields_than_a_scan(void **state)
{
	struct dsink *d = ds_new();
	enum { NF = 9001 };
	uint32_t len = 1 + 4 + 19 + 1 + (NF - 1) * 2, n = 0;
	uint8_t *row = test_malloc(len);
	struct msg m = { .n = 0 };

	(void)state;
	ds_login(d);
	typed(&m, 'H', "\0\0\0", 3);    /* CopyOutResponse, text, no columns listed */
	ds_feed(d, 1, m.b, m.n);
	row[n++] = 'd';
	n += put_be32(row + n, len - 1);
	memcpy(row + n, "4111 1111 1111 1111", 19);
	n += 19;
	for (unsigned i = 1; i < NF; i++) {
		row[n++] = '\t';
		row[n++] = 'x';
	}
	row[n++] = '\n';
	assert_int_equal(n, len);
	feed_wide_row(d, row, len, NF);
}

/* COPY OUT rows of a wide table, many in one segment: a row that came when the batch
 * was nearly full of fields had its last fields left out of the scan (unmasked). Every
 * field of every row is scanned now. */
static void test_copy_rows_every_field_scanned(void **state)
{
	struct dsink *d = ds_new();
	enum { ROWS = 39, COLS = 200 };
	uint32_t rlen = 1 + 4 + COLS * 2, n = 0;
	uint8_t *all = test_malloc(ROWS * rlen);
	struct msg m = { .n = 0 };

	(void)state;
	ds_login(d);
	typed(&m, 'H', "\0\0\0", 3);    /* CopyOutResponse, text, no columns listed */
	ds_feed(d, 1, m.b, m.n);
	for (unsigned r = 0; r < ROWS; r++) {
		all[n++] = 'd';
		n += put_be32(all + n, rlen - 1);
		for (unsigned c = 0; c < COLS; c++) {
			all[n++] = '9';
			all[n++] = c + 1 < COLS ? '\t' : '\n';
		}
	}
	ds_feed(d, 1, all, n);
	assert_true(ds_guard_intact(d));
	assert_int_equal(d->fields_seen, (uint64_t)ROWS * COLS);
	assert_int_equal(DP_CNT_GET(&d->cnt, hold_overflow), 0);
	test_free(all);
	free(d);
}

/* A result row larger than the decoder can hold goes out unmasked (hold_overflow =
 * stream): counted, and now recorded as an alert naming the row's size (issue 3:
 * "stream through unmasked with a counter and alert"); before, only counted. */
static void test_row_too_large_alert(void **state)
{
	struct dsink *d = ds_new();
	uint32_t len = DS_BUF + 100, n = 0;
	uint8_t *row = test_malloc(len);

	(void)state;
	ds_login(d);
	row[n++] = 'D';
	n += put_be32(row + n, len - 1);
	row[n++] = 0;
	row[n++] = 1;
	n += put_be32(row + n, len - 11);
	memset(row + n, '4', len - n);
	ds_feed(d, 1, row, len);
	assert_int_equal(DP_CNT_GET(&d->cnt, hold_overflow), 1);
	assert_int_equal(d->alerts, 1);
	assert_string_equal(d->last_rule, "dataplane.hold_overflow");
	test_free(row);
	free(d);
}

/* Binary-format results: a varchar or text column's binary value is its text, and is
 * scanned by field rules like text (before, every binary column went unscanned: a
 * driver asking for binary results, as Npgsql does, got cards and e-mails unmasked);
 * so are the values of other types that can hold text (arrays, bytea, int8: a few
 * bytes that cannot match), but not those of types that cannot (int4). */
static void binary_column(uint32_t type, uint64_t want_seen)
{
	struct dsink *d = ds_new();
	struct msg m = { .n = 0 };
	uint8_t desc[sizeof(rowdesc)], row[2 + 4 + 16];

	ds_login(d);
	memcpy(desc, rowdesc, sizeof(desc));
	put_be32(desc + 10, type);              /* the column's type oid */
	desc[sizeof(desc) - 1] = 1;             /* format: binary */
	typed(&m, 'T', desc, sizeof(desc));
	row[0] = 0;
	row[1] = 1;
	put_be32(row + 2, 16);
	memcpy(row + 6, "4111111111111111", 16);
	typed(&m, 'D', row, sizeof(row));
	ds_feed(d, 1, m.b, m.n);
	assert_int_equal(d->fields_seen, want_seen);
	free(d);
}

static void test_binary_text_column_scanned(void **state)
{
	(void)state;
	binary_column(1043, 1);                 /* varchar */
	binary_column(25, 1);                   /* text */
	binary_column(3802, 1);                 /* jsonb */
	binary_column(1009, 1);                 /* text[]: its elements are text */
	binary_column(17, 1);                   /* bytea */
}

static void test_binary_other_columns(void **state)
{
	(void)state;
	binary_column(20, 1);                   /* int8: scanned, cannot match */
	binary_column(23, 0);                   /* int4: cannot hold a card, skipped */
}

/* A binary COPY OUT: its rows are scanned field by field like DataRows, the file header
 * of the first CopyData and the trailer skipped (before, binary COPY rows went
 * unscanned: COPY (SELECT card ...) TO STDOUT (FORMAT binary) left cards unmasked). */
/* Writes a binary COPY file header with <flags> and no extension at <p>. Returns its
 * length. */
static uint32_t copy_header(uint8_t *p, uint32_t flags)
{
	memcpy(p, "PGCOPY\n\377\r\n\0", 11);
	put_be32(p + 11, flags);
	put_be32(p + 15, 0);
	return 19;
}

static void test_binary_copy_scanned(void **state)
{
	struct dsink *d = ds_new();
	struct msg m = { .n = 0 };
	uint8_t row[64];
	uint32_t n = 0;

	(void)state;
	ds_login(d);
	typed(&m, 'H', "\1\0\0", 3);          /* CopyOutResponse: binary, no columns listed */
	ds_feed(d, 1, m.b, m.n);
	/* first CopyData: header (signature, flags, no extension), then a tuple of two
	 * fields: a NULL and a card */
	m.n = 0;
	n += copy_header(row + n, 0);
	row[n++] = 0;
	row[n++] = 2;
	n += put_be32(row + n, 0xffffffffu);
	n += put_be32(row + n, 16);
	memcpy(row + n, "4111111111111111", 16);
	n += 16;
	typed(&m, 'd', row, (uint16_t)n);
	/* the second: one field; the third: the trailer */
	n = 0;
	row[n++] = 0;
	row[n++] = 1;
	n += put_be32(row + n, 5);
	memcpy(row + n, "x@y.z", 5);
	n += 5;
	typed(&m, 'd', row, (uint16_t)n);
	typed(&m, 'd', "\377\377", 2);
	typed(&m, 'c', NULL, 0);
	ds_feed(d, 1, m.b, m.n);
	assert_int_equal(d->fields_seen, 2);
	assert_true(ds_guard_intact(d));
	free(d);
}

/* A binary COPY WITH OIDS (servers up to 11): each tuple carries an OID before the
 * fields its count gives; the last field was left unscanned. */
static void test_binary_copy_with_oids(void **state)
{
	struct dsink *d = ds_new();
	struct msg m = { .n = 0 };
	uint8_t row[64];
	uint32_t n = 0;

	(void)state;
	ds_login(d);
	typed(&m, 'H', "\1\0\0", 3);
	n += copy_header(row + n, 1u << 16);    /* flags: OIDs included */
	row[n++] = 0;
	row[n++] = 1;                           /* one field, after the OID */
	n += put_be32(row + n, 4);
	n += put_be32(row + n, 16384);          /* the OID */
	n += put_be32(row + n, 16);
	memcpy(row + n, "4111111111111111", 16);
	n += 16;
	typed(&m, 'd', row, (uint16_t)n);
	ds_feed(d, 1, m.b, m.n);
	assert_int_equal(d->fields_seen, 2);
	free(d);
}

/* ---- statements the decoder cannot judge (dataplane.unjudged) ---- */

/* Command rules that judge nothing (every statement allowed): enough for the decoder
 * to need each statement whole. */
static int allow_all(void *rules, void *scratch, uint8_t proto, uint16_t res, const char *norm,
		     uint32_t nlen, const char *fp, uint32_t fplen, const char *raw,
		     uint32_t rawlen, struct rule_verdict *v)
{
	(void)rules; (void)scratch; (void)proto; (void)res; (void)norm; (void)nlen; (void)fp;
	(void)fplen; (void)raw; (void)rawlen;
	memset(v, 0, sizeof(*v));
	v->rule = -1;
	return 0;
}

static struct dp_policy command_policy = {
	.ops = { .check_command = allow_all },
};

#define UNJ_TEXT "statement not judged: larger than the appliance can inspect (refused by policy)"

/* A Query of <size> bytes in all: a comment padding it, then DROP TABLE t (an
 * appliance that judged only a prefix would miss it). Returns the buffer (test_free). */
static uint8_t *padded_query(uint32_t size)
{
	static const char tail[] = " */ DROP TABLE t";
	uint8_t *q = test_malloc(size);

	q[0] = 'Q';
	put_be32(q + 1, size - 1);
	memcpy(q + 5, "/* ", 3);
	memset(q + 8, 'x', size - 8 - sizeof(tail));
	memcpy(q + size - sizeof(tail), tail, sizeof(tail)); /* its NUL ends the string */
	return q;
}

/* Sends <n> bytes from side <dir> in segments of 1000, draining after each. */
static void send_chunks(struct tconv *t, int dir, const uint8_t *p, uint32_t n)
{
	for (uint32_t off = 0; off < n; off += 1000) {
		tconv_send_bytes(t, dir, p + off, (uint16_t)(n - off < 1000 ? n - off : 1000));
		tconv_drain(t);
	}
}

/* Logs in with command rules in force and max_hold_bytes 4096. */
static void unj_start(struct tconv *t, uint8_t policy, struct msg *c, struct msg *s)
{
	t->cfg.max_hold_bytes = 4096;
	t->cfg.unjudged = policy;
	policy_start(t, &command_policy, c, s);
}

/* The next statement in the same session reaches the server whole. */
static void next_statement_passes(struct tconv *t, struct msg *c)
{
	struct msg m = { .n = 0 };

	query(&m, "SELECT 'after'");
	pass_through(t, 0, &m, c);
}

/* Default policy: a Query too large to judge is removed as it comes and answered with
 * an error; the server sees none of it, and the session goes on. Before, it streamed
 * through unjudged: "DROP TABLE t" behind 10 kB of comment reached the server. */
static void test_oversize_query_refused(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 };
	uint8_t err[256];
	uint8_t *q = padded_query(10000);
	uint32_t n;

	unj_start(t, DP_UNJUDGED_BLOCK, &c, &s);
	send_chunks(t, 0, q, 10000);
	assert_true(tconv_rx_eq(t, 0, c.b, c.n));          /* nothing of it at the server */
	n = pg_build_error(err, sizeof(err), "42501", UNJ_TEXT, 'I', 1);
	assert_true(n > 0);
	putb(&s, err, (uint16_t)n);
	assert_true(tconv_rx_eq(t, 1, s.b, s.n));          /* the error, then ReadyForQuery */
	assert_int_equal(TCONV_CNT(t, cmd_unjudged_blocked), 1);
	assert_int_equal(TCONV_CNT(t, cmd_unjudged), 0);
	assert_int_equal(TCONV_CNT(t, hold_overflow), 0);
	assert_false(t->rx[0].rst || t->rx[1].rst);
	next_statement_passes(t, &c);
	test_free(q);
	assert_int_equal(tconv_stop(t), 0);
}

/* The refusal is recorded: a command event with action block and rule
 * "dataplane.unjudged" that says what the statement was (before, the recording had no
 * trace of it). */
static void test_oversize_query_recorded(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 };
	uint8_t *q = padded_query(10000);
	struct rte_ring *r;
	struct tg_event ev;
	unsigned found = 0;

	unj_start(t, DP_UNJUDGED_BLOCK, &c, &s);
	r = ev_catch(t, "test_pg_unj");
	send_chunks(t, 0, q, 10000);
	while (rte_ring_sc_dequeue_elem(r, &ev, sizeof(ev)) == 0)
		if (ev.type == EV_COMMAND) {
			assert_int_equal(ev.u.cmd.action, RULE_BLOCK);
			assert_string_equal(ev.u.cmd.rule, "dataplane.unjudged");
			assert_string_equal(ev.u.cmd.text, "(a Query of 10000 bytes, not judged)");
			found++;
		}
	assert_int_equal(found, 1);
	ev_catch_end(t, r);
	test_free(q);
	assert_int_equal(tconv_stop(t), 0);
}

/* unjudged = "reset": the session is reset at the Query's header, before any of it
 * reaches the server. */
static void test_oversize_query_reset(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 };
	uint8_t *q = padded_query(10000);

	unj_start(t, DP_UNJUDGED_RESET, &c, &s);
	tconv_send_bytes(t, 0, q, 1000);
	tconv_drain(t);
	assert_true(t->rx[0].rst && t->rx[1].rst);
	assert_int_equal(t->rx[0].contig, c.n);
	assert_int_equal(TCONV_CNT(t, cmd_unjudged_reset), 1);
	test_free(q);
	assert_int_equal(tconv_stop(t), 0);
}

/* unjudged = "forward": the old behaviour, counted. */
static void test_oversize_query_forward(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 };
	uint8_t *q = padded_query(10000);

	unj_start(t, DP_UNJUDGED_FORWARD, &c, &s);
	send_chunks(t, 0, q, 10000);
	assert_int_equal(t->rx[0].contig, c.n + 10000);
	assert_memory_equal(t->rx[0].buf + c.n, q, 10000);
	assert_int_equal(TCONV_CNT(t, cmd_unjudged), 1);
	assert_int_equal(TCONV_CNT(t, cmd_unjudged_blocked), 0);
	test_free(q);
	assert_int_equal(tconv_stop(t), 0);
}

/* The extended protocol: a Parse too large to judge is removed as it comes, with the
 * rest of its batch; the server gets only the Sync, and the error goes to the client
 * before the server's ReadyForQuery. */
static void test_oversize_parse_refused(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 }, m = { .n = 0 };
	static const uint8_t bind[] = { 0, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t exec[] = { 0, 0, 0, 0, 0 };
	uint8_t err[256];
	uint8_t *q = padded_query(10000);
	uint32_t n;

	unj_start(t, DP_UNJUDGED_BLOCK, &c, &s);
	/* the padded Query's body becomes a Parse: 'P', length + 1 (the empty name) */
	uint8_t *p = test_malloc(10001 + 2);
	p[0] = 'P';
	put_be32(p + 1, 10001 + 2 - 1);
	p[5] = 0;                                   /* unnamed statement */
	memcpy(p + 6, q + 5, 10000 - 5);            /* the text and its NUL */
	p[10001] = 0;                               /* no parameter types */
	p[10002] = 0;
	send_chunks(t, 0, p, 10003);
	typed(&m, 'B', bind, sizeof(bind));
	typed(&m, 'E', exec, sizeof(exec));
	typed(&m, 'S', NULL, 0);
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_drain(t);
	putb(&c, m.b + m.n - 5, 5);                 /* only the Sync */
	assert_true(tconv_rx_eq(t, 0, c.b, c.n));
	/* the server answers the Sync */
	m.n = 0;
	typed(&m, 'Z', "I", 1);
	tconv_send_bytes(t, 1, m.b, m.n);
	tconv_drain(t);
	n = pg_build_error(err, sizeof(err), "42501", UNJ_TEXT, 0, 0);
	assert_true(n > 0);
	putb(&s, err, (uint16_t)n);
	putb(&s, m.b, m.n);
	assert_true(tconv_rx_eq(t, 1, s.b, s.n));
	assert_int_equal(TCONV_CNT(t, cmd_unjudged_blocked), 1);
	next_statement_passes(t, &c);
	test_free(p);
	test_free(q);
	assert_int_equal(tconv_stop(t), 0);
}

/* A Query that lies whole in the hold but holds more statements than the lexer's
 * buffers take: the statements past them would go unjudged (before: a DROP TABLE after
 * 3000 statements reached the server). Refused by default; forwarded and counted with
 * unjudged = "forward". */
static void many_statements(struct tconv *t, uint8_t policy)
{
	struct msg c = { .n = 0 }, s = { .n = 0 };
	static const char one[] = "SELECT 1;";
	static const char tail[] = "DROP TABLE t";
	const uint32_t k = 3000, size = 5 + k * (sizeof(one) - 1) + sizeof(tail);
	uint8_t *q = test_malloc(size);

	t->cfg.unjudged = policy;
	policy_start(t, &command_policy, &c, &s);
	q[0] = 'Q';
	put_be32(q + 1, size - 1);
	for (uint32_t i = 0; i < k; i++)
		memcpy(q + 5 + i * (sizeof(one) - 1), one, sizeof(one) - 1);
	memcpy(q + size - sizeof(tail), tail, sizeof(tail));
	assert_true(size < t->cfg.max_hold_bytes);
	send_chunks(t, 0, q, size);
	if (policy == DP_UNJUDGED_FORWARD) {
		assert_int_equal(t->rx[0].contig, c.n + size);
		assert_int_equal(TCONV_CNT(t, cmd_unjudged), 1);
	} else {
		uint8_t err[256];
		uint32_t n = pg_build_error(err, sizeof(err), "42501", UNJ_TEXT, 'I', 1);
		assert_true(tconv_rx_eq(t, 0, c.b, c.n));
		putb(&s, err, (uint16_t)n);
		assert_true(tconv_rx_eq(t, 1, s.b, s.n));
		assert_int_equal(TCONV_CNT(t, cmd_unjudged_blocked), 1);
		next_statement_passes(t, &c);
	}
	test_free(q);
	assert_int_equal(tconv_stop(t), 0);
}

/* A rule set of masking rules only (check_command is there, no command rule): there
 * is nothing to judge by, and a long statement streams through as before. */
static int no_command_rules(void *rules, uint8_t proto, uint16_t res)
{
	(void)rules; (void)proto; (void)res;
	return 0;
}

static struct dp_policy masking_only_policy = {
	.ops = { .check_command = allow_all, .has_command_rules = no_command_rules },
};

static void test_oversize_query_without_command_rules(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 };
	uint8_t *q = padded_query(10000);

	t->cfg.max_hold_bytes = 4096;
	policy_start(t, &masking_only_policy, &c, &s);
	send_chunks(t, 0, q, 10000);
	assert_int_equal(t->rx[0].contig, c.n + 10000);
	assert_int_equal(TCONV_CNT(t, cmd_unjudged_blocked), 0);
	test_free(q);
	assert_int_equal(tconv_stop(t), 0);
}

/* A reload takes the command rules away while a long statement is being removed: it
 * is refused all the same (the server saw none of it, the client needs an answer). */
static void test_oversize_query_rules_removed_midway(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 };
	uint8_t err[256];
	uint8_t *q = padded_query(10000);
	uint32_t n;

	unj_start(t, DP_UNJUDGED_BLOCK, &c, &s);
	send_chunks(t, 0, q, 5000);
	dp_worker_set_policy(t->w, &result_policy);    /* no command rules any more */
	send_chunks(t, 0, q + 5000, 5000);
	assert_true(tconv_rx_eq(t, 0, c.b, c.n));
	n = pg_build_error(err, sizeof(err), "42501", UNJ_TEXT, 'I', 1);
	putb(&s, err, (uint16_t)n);
	assert_true(tconv_rx_eq(t, 1, s.b, s.n));
	test_free(q);
	assert_int_equal(tconv_stop(t), 0);
}

static void test_many_statements_refused(void **state)
{
	many_statements(*state, DP_UNJUDGED_BLOCK);
}

static void test_many_statements_forwarded(void **state)
{
	many_statements(*state, DP_UNJUDGED_FORWARD);
}

/* ---- verdicts on simple queries ---- */

/* Command rules: a statement with DROP is blocked, one with TRUNCATE resets. */
static int judge_drop(void *rules, void *scratch, uint8_t proto, uint16_t res, const char *norm,
		      uint32_t nlen, const char *fp, uint32_t fplen, const char *raw,
		      uint32_t rawlen, struct rule_verdict *v)
{
	(void)rules; (void)scratch; (void)proto; (void)res; (void)fp; (void)fplen; (void)raw;
	(void)rawlen;
	memset(v, 0, sizeof(*v));
	v->rule = -1;
	if (memmem(norm, nlen, "DROP", 4)) {
		v->action = RULE_BLOCK;
		v->rule = 0;
		v->id = "t.drop";
		v->message = "no drops";
	} else if (memmem(norm, nlen, "TRUNCATE", 8)) {
		v->action = RULE_RESET;
		v->rule = 1;
		v->id = "t.truncate";
	}
	return 0;
}

static struct dp_policy drop_policy = {
	.ops = { .check_command = judge_drop },
};

/* A blocked statement inside a transaction: the error's ReadyForQuery carries the
 * server's real status ('T'), the server sees nothing of it, the next one runs. */
static void test_block_in_transaction(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 }, m = { .n = 0 };
	uint8_t err[256];
	uint32_t n;

	policy_start(t, &drop_policy, &c, &s);
	query(&m, "BEGIN");
	tconv_send_bytes(t, 0, m.b, m.n);
	putb(&c, m.b, m.n);
	m.n = 0;
	typed(&m, 'C', "BEGIN", 6);
	typed(&m, 'Z', "T", 1);
	tconv_send_bytes(t, 1, m.b, m.n);
	putb(&s, m.b, m.n);
	tconv_drain(t);
	m.n = 0;
	query(&m, "DROP TABLE t");
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_drain(t);
	assert_true(tconv_rx_eq(t, 0, c.b, c.n));
	n = pg_build_error(err, sizeof(err), "42501", "blocked by policy rule t.drop: no drops",
			   'T', 1);
	putb(&s, err, (uint16_t)n);
	assert_true(tconv_rx_eq(t, 1, s.b, s.n));
	assert_int_equal(TCONV_CNT(t, cmd_blocked), 1);
	next_statement_passes(t, &c);
	assert_int_equal(tconv_stop(t), 0);
}

/* A reset verdict: RST both ways, the statement never reaches the server. */
static void test_reset_verdict(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 }, m = { .n = 0 };

	policy_start(t, &drop_policy, &c, &s);
	query(&m, "TRUNCATE t");
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_drain(t);
	assert_true(t->rx[0].rst && t->rx[1].rst);
	assert_int_equal(t->rx[0].contig, c.n);
	assert_int_equal(TCONV_CNT(t, cmd_reset), 1);
	assert_int_equal(tconv_stop(t), 0);
}

/* A pipelining client sends an allowed Query and a blocked one before the server
 * answered the first: the refusal (error and ReadyForQuery) must come after the
 * server's answer to the first, not before it. Before, it was injected at once, so the
 * client read the refusal as the first query's answer (a documented limit until now). */
static void test_pipelined_query_refusal_in_order(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 }, m = { .n = 0 };
	uint8_t err[256];
	uint32_t n;

	policy_start(t, &drop_policy, &c, &s);
	query(&m, "SELECT 1");
	tconv_send_bytes(t, 0, m.b, m.n);
	putb(&c, m.b, m.n);
	m.n = 0;
	query(&m, "DROP TABLE t");
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_drain(t);
	assert_true(tconv_rx_eq(t, 0, c.b, c.n));          /* only SELECT 1 reached it */
	assert_true(tconv_rx_eq(t, 1, s.b, s.n));          /* nothing for the client yet */
	m.n = 0;
	typed(&m, 'C', "SELECT 1", 9);
	typed(&m, 'Z', "T", 1);
	tconv_send_bytes(t, 1, m.b, m.n);
	tconv_drain(t);
	putb(&s, m.b, m.n);
	n = pg_build_error(err, sizeof(err), "42501", "blocked by policy rule t.drop: no drops",
			   'T', 1);
	putb(&s, err, (uint16_t)n);
	assert_true(tconv_rx_eq(t, 1, s.b, s.n));
	assert_int_equal(TCONV_CNT(t, cmd_blocked), 1);
	next_statement_passes(t, &c);
	assert_int_equal(tconv_stop(t), 0);
}

/* Three blocked extended-protocol batches before the server answered the first: two
 * errors can wait, the third resets the session. */
static void test_third_blocked_batch_resets(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 }, m = { .n = 0 };
	static const uint8_t parse[] = "\0DROP TABLE t\0\0";
	static const uint8_t bind[] = { 0, 0, 0, 0, 0, 0, 0, 0 };

	policy_start(t, &drop_policy, &c, &s);
	for (int i = 0; i < 3; i++) {
		typed(&m, 'P', parse, sizeof(parse));
		typed(&m, 'B', bind, sizeof(bind));
		typed(&m, 'S', NULL, 0);
	}
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_drain(t);
	assert_true(t->rx[0].rst && t->rx[1].rst);
	assert_int_equal(TCONV_CNT(t, cmd_blocked), 2);
	assert_int_equal(tconv_stop(t), 0);
}

/* ---- FunctionCall ---- */

/* FunctionCall of function <oid> with text arguments <args> (<n> of them), the result
 * in text format. */
static void fncall(struct msg *m, uint32_t oid, const char *const *args, unsigned n)
{
	struct msg b = { .n = 0 };

	put32(&b, oid);
	b.b[b.n++] = 0;                         /* one format code, text, for all */
	b.b[b.n++] = 1;
	b.b[b.n++] = 0;
	b.b[b.n++] = 0;
	b.b[b.n++] = 0;
	b.b[b.n++] = (uint8_t)n;
	for (unsigned i = 0; i < n; i++) {
		put32(&b, (uint32_t)strlen(args[i]));
		putb(&b, args[i], (uint16_t)strlen(args[i]));
	}
	b.b[b.n++] = 0;                         /* result format: text */
	b.b[b.n++] = 0;
	typed(m, 'F', b.b, b.n);
}

/* Command rules that block calls of lo_export and keep the last statement judged. */
static char fn_judged[128];
static int judge_lo_export(void *rules, void *scratch, uint8_t proto, uint16_t res,
			   const char *norm, uint32_t nlen, const char *fp, uint32_t fplen,
			   const char *raw, uint32_t rawlen, struct rule_verdict *v)
{
	int r = judge_drop(rules, scratch, proto, res, norm, nlen, fp, fplen, raw, rawlen, v);

	snprintf(fn_judged, sizeof(fn_judged), "%.*s", (int)nlen, norm);
	if (memmem(norm, nlen, "LO_EXPORT (", 11)) {
		v->action = RULE_BLOCK;
		v->rule = 2;
		v->id = "t.lo-export";
		v->message = "no server files";
	}
	return r;
}

static struct dp_policy lo_export_policy = {
	.ops = { .check_command = judge_lo_export },
};

/* The server's answer to a FunctionCall: FunctionCallResponse <value>, ReadyForQuery. */
static void fn_answer(struct tconv *t, struct msg *s, const char *value)
{
	struct msg m = { .n = 0 }, v = { .n = 0 };

	put32(&v, (uint32_t)strlen(value));
	putb(&v, value, (uint16_t)strlen(value));
	typed(&m, 'V', v.b, v.n);
	typed(&m, 'Z', "I", 1);
	pass_through(t, 1, &m, s);
}

/* A FunctionCall names its function by OID, not by SQL: it is judged as the SELECT that
 * calls the same function. lo_export (OID 765) through a FunctionCall is refused like
 * "SELECT lo_export(...)" (before, FunctionCall went to the server unjudged: the
 * packs' exfil.lo-export and exfil.pg-read-file could be walked around), and the
 * session goes on. */
static void test_fncall_judged_as_select(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 }, m = { .n = 0 };
	static const char *const args[] = { "16400", "/tmp/out" };
	uint8_t err[256];
	uint32_t n;

	policy_start(t, &lo_export_policy, &c, &s);
	fncall(&m, 765, args, 2);
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_drain(t);
	assert_string_equal(fn_judged, "SELECT LO_EXPORT ($1, $2)");
	assert_true(tconv_rx_eq(t, 0, c.b, c.n));          /* nothing of it at the server */
	n = pg_build_error(err, sizeof(err), "42501",
			   "blocked by policy rule t.lo-export: no server files", 'I', 1);
	putb(&s, err, (uint16_t)n);
	assert_true(tconv_rx_eq(t, 1, s.b, s.n));
	assert_int_equal(TCONV_CNT(t, cmd_blocked), 1);
	/* lo_open (952) is allowed: it reaches the server whole */
	m.n = 0;
	fncall(&m, 952, args, 2);
	tconv_send_bytes(t, 0, m.b, m.n);
	putb(&c, m.b, m.n);
	tconv_drain(t);
	assert_string_equal(fn_judged, "SELECT LO_OPEN ($1, $2)");
	assert_true(tconv_rx_eq(t, 0, c.b, c.n));
	fn_answer(t, &s, "0");
	next_statement_passes(t, &c);
	assert_int_equal(tconv_stop(t), 0);
}

/* A FunctionCall of a function the appliance cannot name (a user function: its OID is
 * the database's own) cannot be judged: refused by dataplane.unjudged's default. */
static void test_fncall_unknown_refused(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 }, m = { .n = 0 };
	uint8_t err[256];
	uint32_t n;

	unj_start(t, DP_UNJUDGED_BLOCK, &c, &s);
	fncall(&m, 16385, NULL, 0);
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_drain(t);
	assert_true(tconv_rx_eq(t, 0, c.b, c.n));
	n = pg_build_error(err, sizeof(err), "42501", "function call not judged: function OID "
			   "16385 is not known (refused by policy)", 'I', 1);
	putb(&s, err, (uint16_t)n);
	assert_true(tconv_rx_eq(t, 1, s.b, s.n));
	assert_int_equal(TCONV_CNT(t, cmd_unjudged_blocked), 1);
	next_statement_passes(t, &c);
	assert_int_equal(tconv_stop(t), 0);
}

/* The same under unjudged = "forward" (counted), and with no command rules at all
 * (nothing to judge by): it reaches the server. */
static void test_fncall_unknown_forwarded(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 }, m = { .n = 0 };

	unj_start(t, DP_UNJUDGED_FORWARD, &c, &s);
	fncall(&m, 16385, NULL, 0);
	pass_through(t, 0, &m, &c);
	assert_int_equal(TCONV_CNT(t, cmd_unjudged), 1);
	fn_answer(t, &s, "42");
	assert_int_equal(tconv_stop(t), 0);

	struct msg c2 = { .n = 0 }, s2 = { .n = 0 };
	t->cfg.unjudged = DP_UNJUDGED_BLOCK;
	policy_start(t, &result_policy, &c2, &s2);
	pass_through(t, 0, &m, &c2);
	assert_int_equal(TCONV_CNT(t, cmd_unjudged_blocked), 0);
	assert_int_equal(tconv_stop(t), 0);
}

/* The server answers a FunctionCall with a ReadyForQuery of its own: a blocked Parse
 * after a FunctionCall must still get its error before the ReadyForQuery that answers
 * its Sync. Before, FunctionCalls were not counted among the messages the server
 * answers, the error waited for a ReadyForQuery that had already come, and the client
 * got a bare ReadyForQuery for its refused statement. */
static void test_fncall_then_blocked_parse(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 }, m = { .n = 0 };
	static const char *const args[] = { "16400", "262144" };
	static const uint8_t parse[] = "\0DROP TABLE t\0\0";
	static const uint8_t bind[] = { 0, 0, 0, 0, 0, 0, 0, 0 };
	uint8_t err[256];
	uint32_t n;

	policy_start(t, &lo_export_policy, &c, &s);
	fncall(&m, 952, args, 2);                         /* lo_open: allowed */
	pass_through(t, 0, &m, &c);
	fn_answer(t, &s, "0");
	m.n = 0;
	typed(&m, 'P', parse, sizeof(parse));
	typed(&m, 'B', bind, sizeof(bind));
	typed(&m, 'S', NULL, 0);
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_drain(t);
	m.n = 0;
	typed(&m, 'S', NULL, 0);
	putb(&c, m.b, m.n);                               /* only the Sync reaches it */
	assert_true(tconv_rx_eq(t, 0, c.b, c.n));
	m.n = 0;
	typed(&m, 'Z', "I", 1);
	tconv_send_bytes(t, 1, m.b, m.n);
	tconv_drain(t);
	n = pg_build_error(err, sizeof(err), "42501", "blocked by policy rule t.drop: no drops",
			   0, 0);
	putb(&s, err, (uint16_t)n);
	putb(&s, m.b, m.n);
	assert_true(tconv_rx_eq(t, 1, s.b, s.n));
	assert_int_equal(TCONV_CNT(t, cmd_blocked), 1);
	assert_int_equal(tconv_stop(t), 0);
}

/* A FunctionCallResponse carries the function's value (lo_get and loread return a large
 * object's bytes, in binary format raw): scanned by field rules like a result field.
 * Before, it went out unscanned, so "fnb:lo_get" read a card number that SELECT
 * lo_get(...) returns masked. */
static void test_fncall_result_scanned(void **state)
{
	struct dsink *d = ds_new();
	struct msg m = { .n = 0 }, v = { .n = 0 };

	(void)state;
	ds_login(d);
	put32(&v, 16);
	putb(&v, "4111111111111111", 16);
	typed(&m, 'V', v.b, v.n);
	typed(&m, 'Z', "I", 1);
	ds_feed(d, 1, m.b, m.n);
	assert_int_equal(d->fields_seen, 1);
	m.n = 0;
	v.n = 0;
	put32(&v, 0xffffffffu);                           /* NULL: nothing to scan */
	typed(&m, 'V', v.b, v.n);
	ds_feed(d, 1, m.b, m.n);
	assert_int_equal(d->fields_seen, 1);
	free(d);
}

/* pg_fn_sql: the statement for each argument count, and what cannot be named. */
static void test_fn_sql(void **state)
{
	struct msg m = { .n = 0 };
	static const char *const args[] = { "1", "2", "3" };
	char out[PG_FN_SQL_MAX];
	uint32_t oid;

	(void)state;
	fncall(&m, 3826, args, 1);
	assert_int_equal(pg_fn_sql(m.b, m.n, out, sizeof(out), &oid), 23);
	assert_string_equal(out, "SELECT pg_read_file($1)");
	assert_int_equal(oid, 3826);
	m.n = 0;
	fncall(&m, 1004, args, 3);
	assert_true(pg_fn_sql(m.b, m.n, out, sizeof(out), &oid) > 0);
	assert_string_equal(out, "SELECT lo_truncate($1, $2, $3)");
	m.n = 0;
	fncall(&m, 2621, NULL, 0);
	assert_true(pg_fn_sql(m.b, m.n, out, sizeof(out), &oid) > 0);
	assert_string_equal(out, "SELECT pg_reload_conf()");
	m.n = 0;
	fncall(&m, 16385, NULL, 0);
	assert_int_equal(pg_fn_sql(m.b, m.n, out, sizeof(out), &oid), 0);
	assert_int_equal(oid, 16385);
	/* truncated: format codes claimed but absent */
	assert_int_equal(pg_fn_sql(m.b, 10, out, sizeof(out), &oid), 0);
	m.b[9] = 0x7f;
	assert_int_equal(pg_fn_sql(m.b, m.n, out, sizeof(out), &oid), 0);
	/* more arguments than PostgreSQL takes */
	m.n = 0;
	fncall(&m, 952, args, 0);
	m.b[m.n - 3] = 101;
	assert_int_equal(pg_fn_sql(m.b, m.n, out, sizeof(out), &oid), 0);
	assert_null(pg_fn_name(0));
	assert_string_equal(pg_fn_name(715), "lo_create");
	assert_string_equal(pg_fn_name(4100), "pg_read_file_old");
}

/* ---- result columns of an Execute without Describe ---- */

/* A column rule on "ssn" whose mask writes '#' over the whole value. */
static const struct rule_mask ssn_mask = { .ch = '#' };

static const struct rule_mask *col_ssn(void *rules, uint8_t proto, uint16_t res,
				       const char *name, uint32_t len, int32_t *rule)
{
	(void)rules; (void)proto; (void)res;
	*rule = 0;
	return len == 3 && memcmp(name, "ssn", 3) == 0 ? &ssn_mask : NULL;
}

static int mask_cols(void *rules, void *scratch, uint8_t proto, uint16_t res, uint8_t *buf,
		     uint32_t len, const struct rule_field *fields, unsigned n,
		     struct rule_mask_stats *st)
{
	(void)rules; (void)scratch; (void)proto; (void)res; (void)len;
	for (unsigned i = 0; i < n; i++)
		if (fields[i].col) {
			memset(buf + fields[i].off, fields[i].col->ch, fields[i].len);
			st->fields_masked++;
		}
	return 0;
}

static struct dp_policy column_policy = {
	.ops = { .has_result_rules = has_results, .column_mask = col_ssn, .mask_fields = mask_cols },
};

/* RowDescription of text columns <a> and <b>. */
static void rowdesc2(struct msg *m, const char *a, const char *b)
{
	struct msg d = { .n = 0 };
	static const uint8_t attrs[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 25, 0xff, 0xff,
					 0xff, 0xff, 0xff, 0xff, 0, 0 };

	d.b[d.n++] = 0;
	d.b[d.n++] = 2;
	putb(&d, a, (uint16_t)(strlen(a) + 1));
	putb(&d, attrs, sizeof(attrs));
	putb(&d, b, (uint16_t)(strlen(b) + 1));
	putb(&d, attrs, sizeof(attrs));
	typed(m, 'T', d.b, d.n);
}

/* DataRow of two text values. */
static void datarow2(struct msg *m, const char *a, const char *b)
{
	struct msg d = { .n = 0 };

	d.b[d.n++] = 0;
	d.b[d.n++] = 2;
	put32(&d, (uint32_t)strlen(a));
	putb(&d, a, (uint16_t)strlen(a));
	put32(&d, (uint32_t)strlen(b));
	putb(&d, b, (uint16_t)strlen(b));
	typed(m, 'D', d.b, d.n);
}

/* Bind of statement s1 to the unnamed portal, Execute, Sync: no Describe, as JDBC and
 * pgx send a statement they have run before. */
static void exec_s1(struct msg *m)
{
	static const uint8_t bind[] = { 0, 's', '1', 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t exec[] = { 0, 0, 0, 0, 0 };

	typed(m, 'B', bind, sizeof(bind));
	typed(m, 'E', exec, sizeof(exec));
	typed(m, 'S', NULL, 0);
}

/* A statement prepared earlier runs again with Bind and Execute only, after another
 * statement whose columns are in the other order. Its rows must be masked by their own
 * columns: the decoder adds a Describe of the portal before the Execute (the server
 * gets it), uses the RowDescription that answers it, and removes that from what the
 * client gets. Before, the rows were masked with the other statement's columns: the
 * name was masked, and the ssn column was not (by name). */
static void test_exec_without_describe(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 }, m = { .n = 0 }, want = { .n = 0 };
	static const uint8_t desc_p[] = { 'P', 0 };

	policy_start(t, &column_policy, &c, &s);
	/* another statement's result: columns ssn, name */
	query(&m, "SELECT ssn, name FROM p");
	tconv_send_bytes(t, 0, m.b, m.n);
	putb(&c, m.b, m.n);
	m.n = 0;
	rowdesc2(&m, "ssn", "name");
	datarow2(&m, "123-45-6789", "Ann");
	typed(&m, 'C', "SELECT 1", 9);
	typed(&m, 'Z', "I", 1);
	tconv_send_bytes(t, 1, m.b, m.n);
	tconv_drain(t);
	rowdesc2(&s, "ssn", "name");
	datarow2(&s, "###########", "Ann");
	typed(&s, 'C', "SELECT 1", 9);
	typed(&s, 'Z', "I", 1);
	assert_true(tconv_rx_eq(t, 1, s.b, s.n));
	/* s1 (columns name, ssn) again, without Describe */
	m.n = 0;
	exec_s1(&m);
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_drain(t);
	exec_s1(&want);                       /* Bind, the added Describe, Execute, Sync */
	putb(&c, want.b, 15);                 /* the Bind */
	typed(&c, 'D', desc_p, sizeof(desc_p));
	putb(&c, want.b + 15, (uint16_t)(want.n - 15));
	assert_true(tconv_rx_eq(t, 0, c.b, c.n));
	assert_int_equal(TCONV_CNT(t, pg_describe_injected), 1);
	/* the server answers the Describe too; the client gets the rest, masked by name */
	m.n = 0;
	typed(&m, '2', NULL, 0);
	rowdesc2(&m, "name", "ssn");
	datarow2(&m, "Bob", "987-65-4321");
	typed(&m, 'C', "SELECT 1", 9);
	typed(&m, 'Z', "I", 1);
	tconv_send_bytes(t, 1, m.b, m.n);
	tconv_drain(t);
	typed(&s, '2', NULL, 0);
	datarow2(&s, "Bob", "###########");
	typed(&s, 'C', "SELECT 1", 9);
	typed(&s, 'Z', "I", 1);
	assert_true(tconv_rx_eq(t, 1, s.b, s.n));
	/* a client that describes the portal itself gets nothing added */
	m.n = 0;
	typed(&m, 'B', want.b + 5, 10);
	typed(&m, 'D', desc_p, sizeof(desc_p));
	putb(&m, want.b + 15, (uint16_t)(want.n - 15));
	pass_through(t, 0, &m, &c);
	assert_int_equal(TCONV_CNT(t, pg_describe_injected), 1);
	assert_int_equal(TCONV_CNT(t, pg_request_desync), 0);
	assert_int_equal(tconv_stop(t), 0);
}

/* The Bind fails (no such statement): the server skips the added Describe and the
 * Execute up to the Sync. The client gets the error and the ReadyForQuery, and the
 * next statement is tracked as before (its Describe's answer removed again). */
static void test_exec_without_describe_error(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 }, m = { .n = 0 }, e = { .n = 0 };

	policy_start(t, &column_policy, &c, &s);
	for (int round = 0; round < 2; round++) {
		m.n = 0;
		exec_s1(&m);
		tconv_send_bytes(t, 0, m.b, m.n);
		tconv_drain(t);
		m.n = 0;
		if (round == 0) {
			e.n = 0;
			putb(&e, "SERROR\0C26000\0Mno s1\0", 22);
			typed(&m, 'E', e.b, e.n);
		} else {
			typed(&m, '2', NULL, 0);
			rowdesc2(&m, "name", "ssn");
			datarow2(&m, "Bob", "987-65-4321");
			typed(&m, 'C', "SELECT 1", 9);
		}
		typed(&m, 'Z', "I", 1);
		tconv_send_bytes(t, 1, m.b, m.n);
		tconv_drain(t);
		if (round == 0) {
			putb(&s, m.b, m.n);
		} else {
			typed(&s, '2', NULL, 0);
			datarow2(&s, "Bob", "###########");
			typed(&s, 'C', "SELECT 1", 9);
			typed(&s, 'Z', "I", 1);
		}
		assert_true(tconv_rx_eq(t, 1, s.b, s.n));
	}
	assert_int_equal(TCONV_CNT(t, pg_describe_injected), 2);
	assert_int_equal(TCONV_CNT(t, pg_request_desync), 0);
	assert_int_equal(tconv_stop(t), 0);
}

/* More requests in flight than the tracking ring holds (a pipelining client): the
 * decoder stops adding Describes, counts it, masks those rows with no column known
 * (never another statement's), and tracks again once every request was answered. */
static void test_requests_outrun_tracking(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 }, m = { .n = 0 };
	enum { N = 30 };                        /* 30 x (Bind, Execute, Sync) > 64 */

	policy_start(t, &column_policy, &c, &s);
	for (int i = 0; i < N; i++) {
		m.n = 0;
		exec_s1(&m);
		tconv_send_bytes(t, 0, m.b, m.n);
		tconv_drain(t);
	}
	uint64_t added = TCONV_CNT(t, pg_describe_injected);
	assert_true(added > 0 && added < N);
	assert_int_equal(TCONV_CNT(t, pg_requests_untracked), 1);
	/* answer them all: the added Describes' answers removed, the others' rows pass */
	for (int i = 0; i < N; i++) {
		uint32_t base = t->rx[1].contig;
		m.n = 0;
		typed(&m, '2', NULL, 0);
		if ((uint64_t)i < added)
			rowdesc2(&m, "name", "ssn");
		datarow2(&m, "Bob", "987-65-4321");
		typed(&m, 'C', "SELECT 1", 9);
		typed(&m, 'Z', "I", 1);
		tconv_send_bytes(t, 1, m.b, m.n);
		tconv_drain(t);
		s.n = 0;
		typed(&s, '2', NULL, 0);
		/* untracked rows: no column known, so no column mask (content rules only) */
		datarow2(&s, "Bob", (uint64_t)i < added ? "###########" : "987-65-4321");
		typed(&s, 'C', "SELECT 1", 9);
		typed(&s, 'Z', "I", 1);
		assert_int_equal(t->rx[1].contig, base + s.n);
		assert_memory_equal(t->rx[1].buf + base, s.b, s.n);
	}
	/* every request answered: the next one is tracked again */
	m.n = 0;
	exec_s1(&m);
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_drain(t);
	assert_int_equal(TCONV_CNT(t, pg_describe_injected), added + 1);
	assert_int_equal(TCONV_CNT(t, pg_request_desync), 0);
	assert_int_equal(tconv_stop(t), 0);
}

/* ---- replication start-ups (dataplane.replication) ---- */

/* StartupMessage for alice/orders with "replication" = <repl>. */
static void startup_repl(struct msg *m, const char *repl)
{
	uint16_t at = m->n;

	put32(m, 0);
	put32(m, PG_PROTO_V3);
	putb(m, "user\0alice\0database\0orders\0replication", 39);
	putb(m, repl, (uint16_t)(strlen(repl) + 1));
	m->b[m->n++] = 0;
	uint32_t len = (uint32_t)(m->n - at);
	m->b[at + 2] = (uint8_t)(len >> 8);
	m->b[at + 3] = (uint8_t)len;
}

/* A replication start-up (pg_basebackup, a standby, logical decoding) is refused by
 * default: the server sees none of it, the client gets FATAL 42501. Before, the session
 * was decoded like any other, and the replication stream (CopyBoth data: WAL, decoded
 * row changes) went out unmasked. A start-up that follows is judged like the first. */
static void test_replication_refused(void **state)
{
	struct tconv *t = *state;
	struct msg m = { .n = 0 }, ok = { .n = 0 };
	uint8_t err[256];
	uint32_t n;

	start(t);
	startup_repl(&m, "database");
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_drain(t);
	assert_int_equal(t->rx[0].contig, 0);
	n = pg_build_error(err, sizeof(err), "42501", "replication connections are refused by "
			   "policy (dataplane.replication)", 0, 0);
	memcpy(err + 6, "FATAL", 5);
	memcpy(err + 13, "FATAL", 5);
	assert_true(tconv_rx_eq(t, 1, err, n));
	assert_int_equal(TCONV_CNT(t, pg_replication_refused), 1);
	/* an ordinary start-up on the same connection reaches the server */
	m.n = 0;
	startup_repl(&m, "off");
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_drain(t);
	assert_true(tconv_rx_eq(t, 0, m.b, m.n));
	typed(&ok, 'Z', "I", 1);
	tconv_send_bytes(t, 1, ok.b, ok.n);
	tconv_drain(t);
	assert_int_equal(t->rx[1].contig, n + ok.n);
	assert_int_equal(TCONV_CNT(t, pg_replication_refused), 1);
	assert_int_equal(tconv_stop(t), 0);
}

/* Which values ask for replication: what PostgreSQL reads as true, "database", and
 * anything it would refuse; not what it reads as false. With "allow", a replication
 * start-up goes through, counted. */
static void test_replication_values(void **state)
{
	struct tconv *t = *state;
	static const char *const asks[] = { "true", "database", "on", "1", "yes", "TRUE", "x" };
	static const char *const not[] = { "false", "f", "no", "n", "off", "OF", "0", "FALSE" };

	for (unsigned i = 0; i < RTE_DIM(asks) + RTE_DIM(not); i++) {
		struct msg m = { .n = 0 };
		int ask = i < RTE_DIM(asks);
		startup_repl(&m, ask ? asks[i] : not[i - RTE_DIM(asks)]);
		start(t);
		tconv_send_bytes(t, 0, m.b, m.n);
		tconv_drain(t);
		assert_int_equal(t->rx[0].contig, ask ? 0 : m.n);
		assert_int_equal(TCONV_CNT(t, pg_replication_refused), ask);
		assert_int_equal(tconv_stop(t), 0);
	}
	struct msg m = { .n = 0 };
	startup_repl(&m, "true");
	t->cfg.replication = DP_REPLICATION_ALLOW;
	start(t);
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_drain(t);
	assert_true(tconv_rx_eq(t, 0, m.b, m.n));
	assert_int_equal(TCONV_CNT(t, pg_replication_allowed), 1);
	assert_int_equal(tconv_stop(t), 0);
}

/* ---- request tracking: cases a review found ---- */

static const uint8_t bind_s1[] = { 0, 's', '1', 0, 0, 0, 0, 0, 0, 0 };
static const uint8_t exec_unnamed[] = { 0, 0, 0, 0, 0 };

/* COPY FROM STDIN through the extended protocol (libpq's PQexecParams): the server
 * ignores the Sync sent with the Execute while it copies in, and libpq sends another
 * after CopyDone, so one ReadyForQuery answers two Syncs. A blocked Query after it must
 * be answered at once; it waited for a ReadyForQuery that never came (the client hung). */
static void test_copy_in_extended_syncs(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 }, m = { .n = 0 };
	static const uint8_t parse[] = "\0COPY t FROM STDIN\0\0";
	static const uint8_t bind[] = { 0, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t desc_p[] = { 'P', 0 };
	uint8_t err[256];
	uint32_t n;

	policy_start(t, &drop_policy, &c, &s);
	typed(&m, 'P', parse, sizeof(parse));
	typed(&m, 'B', bind, sizeof(bind));
	typed(&m, 'D', desc_p, sizeof(desc_p));
	typed(&m, 'E', exec_unnamed, sizeof(exec_unnamed));
	typed(&m, 'S', NULL, 0);
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_drain(t);
	m.n = 0;
	typed(&m, '1', NULL, 0);
	typed(&m, '2', NULL, 0);
	typed(&m, 'n', NULL, 0);
	typed(&m, 'G', "\0\0\0", 3);
	tconv_send_bytes(t, 1, m.b, m.n);
	putb(&s, m.b, m.n);
	tconv_drain(t);
	m.n = 0;
	typed(&m, 'd', "x\n", 2);
	typed(&m, 'c', NULL, 0);
	typed(&m, 'S', NULL, 0);
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_drain(t);
	m.n = 0;
	typed(&m, 'C', "COPY 1", 7);
	typed(&m, 'Z', "I", 1);
	pass_through(t, 1, &m, &s);
	m.n = 0;
	query(&m, "DROP TABLE t");
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_drain(t);
	n = pg_build_error(err, sizeof(err), "42501", "blocked by policy rule t.drop: no drops",
			   'I', 1);
	putb(&s, err, (uint16_t)n);
	assert_true(tconv_rx_eq(t, 1, s.b, s.n));
	assert_int_equal(TCONV_CNT(t, pg_request_desync), 0);
	assert_int_equal(tconv_stop(t), 0);
}

/* A commit that fails at the Sync (a deferred constraint) is answered ErrorResponse,
 * then ReadyForQuery. It was taken for an answer no request explains: tracking stopped
 * and the answer to the next batch's added Describe reached the client. */
static void test_error_at_sync(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 }, m = { .n = 0 }, e = { .n = 0 };

	policy_start(t, &column_policy, &c, &s);
	exec_s1(&m);
	exec_s1(&m);
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_drain(t);
	assert_int_equal(TCONV_CNT(t, pg_describe_injected), 2);
	m.n = 0;
	putb(&e, "SERROR\0C23503\0Mdeferred fk\0", 28);
	typed(&m, '2', NULL, 0);
	typed(&m, 'n', NULL, 0);
	typed(&m, 'C', "INSERT 0 1", 11);
	typed(&m, 'E', e.b, e.n);
	typed(&m, 'Z', "I", 1);
	typed(&m, '2', NULL, 0);
	rowdesc2(&m, "name", "ssn");
	datarow2(&m, "Bob", "987-65-4321");
	typed(&m, 'C', "SELECT 1", 9);
	typed(&m, 'Z', "I", 1);
	tconv_send_bytes(t, 1, m.b, m.n);
	tconv_drain(t);
	typed(&s, '2', NULL, 0);
	typed(&s, 'C', "INSERT 0 1", 11);
	typed(&s, 'E', e.b, e.n);
	typed(&s, 'Z', "I", 1);
	typed(&s, '2', NULL, 0);
	datarow2(&s, "Bob", "###########");
	typed(&s, 'C', "SELECT 1", 9);
	typed(&s, 'Z', "I", 1);
	assert_true(tconv_rx_eq(t, 1, s.b, s.n));
	assert_int_equal(TCONV_CNT(t, pg_request_desync), 0);
	assert_int_equal(tconv_stop(t), 0);
}

/* Describe of portal "aufgy", Execute of portal "dctcd": two names with the same 32-bit
 * FNV-1a hash, which is how they were compared; no Describe was added and the rows of
 * dctcd were masked with aufgy's columns. Names are compared whole now. And a portal
 * name longer than the added Describe's buffer got no Describe at all. */
static void test_portal_names_compared_whole(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 }, m = { .n = 0 }, b = { .n = 0 };
	static const uint8_t bind_a[] = "aufgy\0s0\0\0\0\0\0\0\0";
	static const uint8_t bind_b[] = "dctcd\0s1\0\0\0\0\0\0\0";
	static const uint8_t desc_a[] = "Paufgy";
	static const uint8_t exec_b[] = "dctcd\0\0\0\0\0";
	char name[200];

	policy_start(t, &column_policy, &c, &s);
	typed(&m, 'B', bind_a, sizeof(bind_a) - 1);
	typed(&m, 'B', bind_b, sizeof(bind_b) - 1);
	typed(&m, 'D', desc_a, sizeof(desc_a));
	typed(&m, 'E', exec_b, sizeof(exec_b) - 1);
	typed(&m, 'S', NULL, 0);
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_drain(t);
	assert_int_equal(TCONV_CNT(t, pg_describe_injected), 1);
	m.n = 0;
	typed(&m, '2', NULL, 0);
	typed(&m, '2', NULL, 0);
	rowdesc2(&m, "ssn", "name");            /* the client's Describe of aufgy */
	rowdesc2(&m, "name", "ssn");            /* the added one, of dctcd */
	datarow2(&m, "Bob", "987-65-4321");
	typed(&m, 'C', "SELECT 1", 9);
	typed(&m, 'Z', "I", 1);
	tconv_send_bytes(t, 1, m.b, m.n);
	tconv_drain(t);
	typed(&s, '2', NULL, 0);
	typed(&s, '2', NULL, 0);
	rowdesc2(&s, "ssn", "name");
	datarow2(&s, "Bob", "###########");
	typed(&s, 'C', "SELECT 1", 9);
	typed(&s, 'Z', "I", 1);
	assert_true(tconv_rx_eq(t, 1, s.b, s.n));
	/* a 199-byte portal name still gets its Describe */
	memset(name, 'p', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	m.n = 0;
	putb(&b, name, sizeof(name));
	putb(&b, "s1\0\0\0\0\0\0\0", 9);
	typed(&m, 'B', b.b, b.n);
	b.n = 0;
	putb(&b, name, sizeof(name));
	putb(&b, "\0\0\0\0", 4);
	typed(&m, 'E', b.b, b.n);
	typed(&m, 'S', NULL, 0);
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_drain(t);
	assert_int_equal(TCONV_CNT(t, pg_describe_injected), 2);
	assert_int_equal(tconv_stop(t), 0);
}

/* Parse/Bind/Execute/Flush, no Sync, then a Query that is refused: no ReadyForQuery
 * will mark the end of the earlier answers, so the refusal has no place that would not
 * overtake them (it was injected at once, ahead of them): the session is reset. */
static void test_refusal_after_unsynced_requests(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 }, m = { .n = 0 };
	static const uint8_t parse[] = "\0SELECT 1\0\0";
	static const uint8_t bind[] = { 0, 0, 0, 0, 0, 0, 0, 0 };

	policy_start(t, &drop_policy, &c, &s);
	typed(&m, 'P', parse, sizeof(parse));
	typed(&m, 'B', bind, sizeof(bind));
	typed(&m, 'E', exec_unnamed, sizeof(exec_unnamed));
	typed(&m, 'H', NULL, 0);
	query(&m, "DROP TABLE t");
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_drain(t);
	assert_true(t->rx[0].rst && t->rx[1].rst);
	assert_true(tconv_rx_eq(t, 1, s.b, s.n));          /* no refusal ahead of answers */
	assert_int_equal(tconv_stop(t), 0);
}

/* A JDBC-style batch of 20 Executes without Describe, the server answering them all
 * at once: each removed answer takes an editor anchor until the client acknowledges
 * it, and the 17th removal failed and reset the session. At most PG_ADDED_MAX added
 * answers wait now; the other Executes are masked without their columns (counted). */
static void test_batch_of_executes(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 }, m = { .n = 0 };
	static uint8_t big[4096];
	uint32_t n = 0;
	enum { N = 20 };

	policy_start(t, &column_policy, &c, &s);
	for (int i = 0; i < N; i++) {
		m.n = 0;
		typed(&m, 'B', bind_s1, sizeof(bind_s1));
		typed(&m, 'E', exec_unnamed, sizeof(exec_unnamed));
		if (i == N - 1)
			typed(&m, 'S', NULL, 0);
		tconv_send_bytes(t, 0, m.b, m.n);
		tconv_drain(t);
		tconv_ack(t, 1);
		tconv_drain(t);
	}
	uint64_t added = TCONV_CNT(t, pg_describe_injected);
	assert_int_equal(added, PG_ADDED_MAX);
	assert_int_equal(TCONV_CNT(t, pg_exec_columns_unknown), N - PG_ADDED_MAX);
	for (int i = 0; i < N; i++) {
		m.n = 0;
		typed(&m, '2', NULL, 0);
		if ((uint64_t)i < added)
			typed(&m, 'n', NULL, 0);
		typed(&m, 'C', "INSERT 0 1", 11);
		memcpy(big + n, m.b, m.n);
		n += m.n;
		typed(&s, '2', NULL, 0);
		typed(&s, 'C', "INSERT 0 1", 11);
	}
	m.n = 0;
	typed(&m, 'Z', "I", 1);
	memcpy(big + n, m.b, m.n);
	n += m.n;
	typed(&s, 'Z', "I", 1);
	tconv_send_bytes(t, 1, big, (uint16_t)n);
	tconv_drain(t);
	assert_false(t->rx[0].rst || t->rx[1].rst);
	assert_true(tconv_rx_eq(t, 1, s.b, s.n));
	assert_int_equal(TCONV_CNT(t, pg_request_desync), 0);
	assert_int_equal(tconv_stop(t), 0);
}

/* Tracking lost (ring overflow); when the last Sync is answered, the client has sent
 * Bind, Describe, Execute and Flush with no Sync: still unanswered. Tracking resumed
 * at that ReadyForQuery, the client's own RowDescription was taken for the added
 * Describe's answer and removed, and the added one reached the client. It resumes
 * only once no request without Sync is outstanding. */
static void test_tracking_resumes_after_sync_only(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 }, m = { .n = 0 };
	static const uint8_t desc_p[] = { 'P', 0 };
	enum { N = 30 };

	policy_start(t, &column_policy, &c, &s);
	for (int i = 0; i < N; i++) {
		m.n = 0;
		exec_s1(&m);
		tconv_send_bytes(t, 0, m.b, m.n);
		tconv_drain(t);
		tconv_ack(t, 1);
		tconv_drain(t);
	}
	uint64_t added = TCONV_CNT(t, pg_describe_injected);
	assert_int_equal(TCONV_CNT(t, pg_requests_untracked), 1);
	m.n = 0;
	typed(&m, 'B', bind_s1, sizeof(bind_s1));
	typed(&m, 'D', desc_p, sizeof(desc_p));
	typed(&m, 'E', exec_unnamed, sizeof(exec_unnamed));
	typed(&m, 'H', NULL, 0);
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_drain(t);
	tconv_ack(t, 1);
	tconv_drain(t);
	for (int i = 0; i < N; i++) {
		m.n = 0;
		typed(&m, '2', NULL, 0);
		if ((uint64_t)i < added)
			typed(&m, 'n', NULL, 0);
		typed(&m, 'C', "SELECT 0", 9);
		typed(&m, 'Z', "I", 1);
		tconv_send_bytes(t, 1, m.b, m.n);
		tconv_drain(t);
		tconv_ack(t, 0);
		tconv_drain(t);
	}
	/* a tracked-looking batch now: no Describe may be added while the Flush batch is
	 * unanswered */
	m.n = 0;
	exec_s1(&m);
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_drain(t);
	assert_int_equal(TCONV_CNT(t, pg_describe_injected), added);
	/* the answers: the Flush batch's (its own RowDescription reaches the client),
	 * then the last batch's */
	uint32_t base = t->rx[1].contig;
	m.n = 0;
	typed(&m, '2', NULL, 0);
	rowdesc2(&m, "name", "ssn");
	datarow2(&m, "Bob", "987-65-4321");
	typed(&m, 'C', "SELECT 1", 9);
	typed(&m, '2', NULL, 0);
	datarow2(&m, "Bob", "987-65-4321");
	typed(&m, 'C', "SELECT 1", 9);
	typed(&m, 'Z', "I", 1);
	tconv_send_bytes(t, 1, m.b, m.n);
	tconv_drain(t);
	s.n = 0;
	typed(&s, '2', NULL, 0);
	rowdesc2(&s, "name", "ssn");
	datarow2(&s, "Bob", "###########");
	typed(&s, 'C', "SELECT 1", 9);
	typed(&s, '2', NULL, 0);
	datarow2(&s, "Bob", "987-65-4321");   /* columns unknown: content rules only */
	typed(&s, 'C', "SELECT 1", 9);
	typed(&s, 'Z', "I", 1);
	assert_int_equal(t->rx[1].contig, base + s.n);
	assert_memory_equal(t->rx[1].buf + base, s.b, s.n);
	assert_int_equal(TCONV_CNT(t, pg_request_desync), 0);
	assert_int_equal(tconv_stop(t), 0);
}

/* ---- data quoted in errors, notices and notifications ---- */

/* Field rules that mask every digit of a field holding a run of 16 digits. */
static int mask_digits(void *rules, void *scratch, uint8_t proto, uint16_t res, uint8_t *buf,
		       uint32_t len, const struct rule_field *fields, unsigned n,
		       struct rule_mask_stats *st)
{
	(void)rules; (void)scratch; (void)proto; (void)res; (void)len;
	for (unsigned i = 0; i < n; i++) {
		uint8_t *f = buf + fields[i].off;
		if (memmem(f, fields[i].len, "4111111111111111", 16) == NULL)
			continue;
		for (uint32_t j = 0; j < fields[i].len; j++)
			if (f[j] >= '0' && f[j] <= '9')
				f[j] = '*';
		st->fields_masked++;
	}
	return 0;
}

static struct dp_policy digits_policy = {
	.ops = { .has_result_rules = has_results, .mask_fields = mask_digits },
};

/* ErrorResponse with SQLSTATE 23505, message <msg> and detail <detail>. */
static void error_msg(struct msg *m, const char *msg, const char *detail)
{
	struct msg e = { .n = 0 };

	putb(&e, "SERROR\0VERROR\0C23505\0M", 22);
	putb(&e, msg, (uint16_t)(strlen(msg) + 1));
	e.b[e.n++] = 'D';
	putb(&e, detail, (uint16_t)(strlen(detail) + 1));
	e.b[e.n++] = 0;
	typed(m, 'E', e.b, e.n);
}

/* NoticeResponse of message <text>. */
static void notice_msg(struct msg *m, const char *text)
{
	struct msg e = { .n = 0 };

	putb(&e, "SNOTICE\0VNOTICE\0C00000\0M", 24);
	putb(&e, text, (uint16_t)(strlen(text) + 1));
	e.b[e.n++] = 0;
	typed(m, 'N', e.b, e.n);
}

/* NotificationResponse from process 4242 on <channel> with <payload>. */
static void notify_msg(struct msg *m, const char *channel, const char *payload)
{
	struct msg e = { .n = 0 };

	put32(&e, 4242);
	putb(&e, channel, (uint16_t)(strlen(channel) + 1));
	putb(&e, payload, (uint16_t)(strlen(payload) + 1));
	typed(m, 'A', e.b, e.n);
}

/* An ErrorResponse, a NoticeResponse and a NotificationResponse can quote data ("Key
 * (card)=(4111...) already exists", RAISE NOTICE '%', pg_notify('c', card)). They went
 * out unmasked while the same value in a DataRow was masked; the recording kept the
 * error as it was. They are masked like result fields now: the SQLSTATE and severity
 * are left alone, and the recorded error is the masked one. */
static void test_error_notice_notify_masked(void **state)
{
	struct tconv *t = *state;
	struct msg c = { .n = 0 }, s = { .n = 0 }, m = { .n = 0 }, want = { .n = 0 };
	struct rte_ring *r;
	struct tg_event ev;
	unsigned errors = 0;

	policy_start(t, &digits_policy, &c, &s);
	r = ev_catch(t, "test_pg_err");
	error_msg(&m, "duplicate 4111111111111111", "Key (card)=(4111111111111111) already exists.");
	typed(&m, 'Z', "I", 1);
	notice_msg(&m, "card 4111111111111111");
	notify_msg(&m, "c4111111111111111", "4111111111111111");
	tconv_send_bytes(t, 1, m.b, m.n);
	tconv_drain(t);
	error_msg(&want, "duplicate ****************", "Key (card)=(****************) already exists.");
	typed(&want, 'Z', "I", 1);
	notice_msg(&want, "card ****************");
	notify_msg(&want, "c4111111111111111", "****************");  /* the channel is a name */
	putb(&s, want.b, want.n);
	assert_true(tconv_rx_eq(t, 1, s.b, s.n));
	assert_int_equal(TCONV_CNT(t, fields_masked), 4);
	while (rte_ring_sc_dequeue_elem(r, &ev, sizeof(ev)) == 0)
		if (ev.type == EV_ERROR) {
			assert_string_equal(ev.u.error.code, "23505");
			assert_string_equal(ev.u.error.text, "duplicate ****************");
			errors++;
		}
	assert_int_equal(errors, 1);
	ev_catch_end(t, r);
	assert_int_equal(tconv_stop(t), 0);
}

/* GSSENCRequest, like SSLRequest, is answered 'N' for the server under tls = refuse;
 * a CancelRequest passes unchanged and is no start-up. */
static void test_gssenc_refused_cancel_passes(void **state)
{
	struct tconv *t = *state;
	struct msg m = { .n = 0 };

	t->cfg.tls = DP_TLS_REFUSE;
	start(t);
	put32(&m, 8);
	put32(&m, PG_GSSENC_REQUEST);
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_drain(t);
	assert_int_equal(t->rx[0].contig, 0);
	assert_true(tconv_rx_eq(t, 1, "N", 1));
	assert_int_equal(TCONV_CNT(t, pg_tls_refused), 1);
	assert_int_equal(tconv_stop(t), 0);
}

static void test_cancel_request_passes(void **state)
{
	struct tconv *t = *state;
	struct msg m = { .n = 0 };

	start(t);
	put32(&m, 16);
	put32(&m, PG_CANCEL_REQUEST);
	put32(&m, 4242);                        /* backend pid */
	put32(&m, 0x5eC2e7);                    /* its secret key */
	tconv_send_bytes(t, 0, m.b, m.n);
	tconv_drain(t);
	assert_true(tconv_rx_eq(t, 0, m.b, m.n));
	assert_int_equal(TCONV_CNT(t, proto_error), 0);
	assert_int_equal(tconv_stop(t), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_startup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fncall_judged_as_select, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fncall_unknown_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fncall_unknown_forwarded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fncall_then_blocked_parse, setup, teardown),
		cmocka_unit_test(test_fncall_result_scanned),
		cmocka_unit_test(test_fn_sql),
		cmocka_unit_test_setup_teardown(test_error_notice_notify_masked, setup, teardown),
		cmocka_unit_test(test_row_too_large_alert),
		cmocka_unit_test_setup_teardown(test_copy_in_extended_syncs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_at_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_portal_names_compared_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusal_after_unsynced_requests, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_batch_of_executes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tracking_resumes_after_sync_only, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_query_refusal_in_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_replication_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replication_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_without_describe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_without_describe_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_requests_outrun_tracking, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ssl_refused_by_appliance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ssl_refused_then_startup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ssl_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ssl_accepted_same_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_typed_bytewise, setup, teardown),
		cmocka_unit_test_setup_teardown(test_length_below_4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_length_below_4_resets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_protocol_v2_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_streams_without_result_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_streamed_result_counts_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_result_rules_after_reload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_startup_too_short, setup, teardown),
		cmocka_unit_test(test_datarow_more_fields_than_a_scan),
		cmocka_unit_test(test_copy_row_more_fields_than_a_scan),
		cmocka_unit_test(test_copy_rows_every_field_scanned),
		cmocka_unit_test(test_binary_text_column_scanned),
		cmocka_unit_test(test_binary_other_columns),
		cmocka_unit_test(test_binary_copy_scanned),
		cmocka_unit_test(test_binary_copy_with_oids),
		cmocka_unit_test_setup_teardown(test_oversize_query_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_query_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_query_recorded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_query_forward, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_parse_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_query_without_command_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_query_rules_removed_midway, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_statements_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_statements_forwarded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_in_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_verdict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_third_blocked_batch_resets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gssenc_refused_cancel_passes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_request_passes, setup, teardown),
	};

	if (test_eal_init() < 0 || test_pool() == NULL)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
