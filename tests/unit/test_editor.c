/* test_editor.c - unit tests of the TCP stream editor (dataplane/stream_edit.c): removal,
 * injection, rewriting, SEQ/ACK/SACK translation, retransmission, timestamps. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <rte_mbuf.h>
#include "dataplane/dp_counters.h"
#include "dataplane/flow.h"
#include "dataplane/tcp-t.h"
#include "dataplane/worker.h"
#include "tests/common/test_decoder.h"
#include "tests/common/test_eal.h"

#define NS_PER_MS 1000000ull

static void start(struct tconv *t)
{
	assert_int_equal(tconv_start(t), 0);
	tconv_handshake(t);
}

/* Drains, and asserts that no frame acknowledges bytes its receiver never sent. */
static unsigned drain(struct tconv *t)
{
	unsigned n = tconv_drain(t);

	for (unsigned i = 0; i < n; i++) {
		const struct tconv_frame *fr = &t->fr[i];
		uint32_t sent = t->nxt[fr->dir ^ 1];
		if ((fr->flags & DP_TCP_ACK) && (int32_t)(fr->ack - sent) > 0)
			fail_msg("frame %u (dir %d) acks %u, its receiver sent only up to %u",
				 i, fr->dir, fr->ack, sent);
	}
	return n;
}

/* The highest ACK of the frames of the last drain travelling in <dir>. */
static uint32_t last_ack(const struct tconv *t, int dir)
{
	const struct tconv_frame *fr = NULL;

	for (unsigned i = 0; i < t->n_fr; i++)
		if (t->fr[i].dir == dir && (t->fr[i].flags & DP_TCP_ACK) &&
		    (fr == NULL || (int32_t)(t->fr[i].ack - fr->ack) > 0))
			fr = &t->fr[i];
	assert_non_null(fr);
	return fr->ack;
}

/* Every frame of the last drain travelling in <dir> that carries an ACK carries <ack>.
 * (An ACK that acknowledges only injected bytes may be withheld: none at all is fine.) */
static void acks_are(const struct tconv *t, int dir, uint32_t ack)
{
	for (unsigned i = 0; i < t->n_fr; i++)
		if (t->fr[i].dir == dir && (t->fr[i].flags & DP_TCP_ACK))
			assert_int_equal(t->fr[i].ack, ack);
}

static int frames_contain(const struct tconv *t, const char *word)
{
	size_t n = strlen(word);

	for (unsigned i = 0; i < t->n_fr; i++)
		for (unsigned k = 0; k + n <= t->fr[i].len; k++)
			if (memcmp(t->fr[i].data + k, word, n) == 0)
				return 1;
	return 0;
}

/* ---- removal ---- */

/* The receiver had acknowledged everything before the removed line: the appliance
 * acknowledges the removed bytes to the sender itself. */
static void test_remove_line(void **state)
{
	struct tconv *t = *state;
	uint32_t s;

	start(t);
	s = t->nxt[0];
	tconv_send(t, 0, "a\n");
	drain(t);
	tconv_ack(t, 1);
	drain(t);
	tconv_send(t, 0, "DROP\n");
	drain(t);
	assert_int_equal(tconv_data_frames(t, 0), 0);
	assert_int_equal(TCONV_CNT(t, edit_removed_bytes), 5);
	/* an ACK for the removed bytes reaches the client */
	assert_int_equal(tconv_count(t, 1), 1);
	assert_int_equal(last_ack(t, 1), s + 7);
	assert_int_equal(tconv_frame(t, 1, 0)->seq, tconv_rcv_nxt(t, 0));
	/* later bytes reach the server shifted back by the removed length */
	tconv_send(t, 0, "b\n");
	drain(t);
	assert_int_equal(tconv_data_frames(t, 0), 1);
	assert_int_equal(tconv_frame(t, 0, 0)->seq, s + 2);
	assert_true(tconv_rx_is(t, 0, "a\nb\n"));
	/* the server's ACK is translated back: the client sees its removed bytes acked */
	tconv_ack(t, 1);
	drain(t);
	assert_int_equal(last_ack(t, 1), s + 9);
	assert_int_equal(tdec_log.sink_fail, 0);
	assert_int_equal(tconv_stop(t), 0);
}

/* The receiver had not acknowledged yet: its later ACK is translated over the removal. */
static void test_remove_before_ack(void **state)
{
	struct tconv *t = *state;
	uint32_t s;

	start(t);
	s = t->nxt[0];
	tconv_send(t, 0, "a\n");
	tconv_send(t, 0, "DROP\n");
	drain(t);
	assert_true(tconv_rx_is(t, 0, "a\n"));
	/* nothing acknowledges the removed bytes before the server acked "a\n" */
	for (unsigned i = 0; i < t->n_fr; i++)
		if (t->fr[i].dir == 1)
			assert_true((int32_t)(t->fr[i].ack - (s + 2)) <= 0);
	tconv_ack(t, 1);
	drain(t);
	assert_int_equal(last_ack(t, 1), s + 7);
	tconv_send(t, 0, "b\n");
	drain(t);
	assert_int_equal(tconv_frame(t, 0, 0)->seq, s + 2);
	assert_true(tconv_rx_is(t, 0, "a\nb\n"));
	assert_int_equal(tconv_stop(t), 0);
}

/* A removed line in the middle of a segment: the segment is cut around it. */
static void test_remove_mid_segment(void **state)
{
	struct tconv *t = *state;
	struct flow *f;

	start(t);
	tconv_send(t, 0, "ok\nDROP\nok2\n");
	drain(t);
	assert_true(tconv_rx_is(t, 0, "ok\nok2\n"));
	f = tconv_flow(t);
	assert_non_null(f);
	/* the hold queue is empty, and its byte count says so */
	assert_int_equal(f->tcp.dir[0].hold.n, 0);
	assert_int_equal(f->tcp.dir[0].hold.bytes, 0);
	tconv_ack(t, 1);
	drain(t);
	assert_int_equal(last_ack(t, 1), t->nxt[0]);
	assert_int_equal(f->tcp.dir[0].rtx.n, 0);
	assert_int_equal(f->tcp.dir[0].rtx.bytes, 0);
	assert_int_equal(tconv_stop(t), 0);
}

/* Removal across sequence number 0. */
static void test_remove_wrap(void **state)
{
	struct tconv *t = *state;

	t->isn[0] = 0xFFFFFFF8u;
	start(t);
	tconv_send(t, 0, "ab\n");          /* 2^32-7 .. 2^32-5 */
	tconv_send(t, 0, "DROP\n");        /* 2^32-4 .. 0 */
	tconv_send(t, 0, "cd\n");
	drain(t);
	assert_true(tconv_rx_is(t, 0, "ab\ncd\n"));
	assert_int_equal(tconv_frame(t, 0, 1)->seq, t->isn[0] + 4);
	tconv_ack(t, 1);
	drain(t);
	assert_int_equal(last_ack(t, 1), t->nxt[0]);
	assert_int_equal(tconv_stop(t), 0);
}

/* ---- injection ---- */

static void test_block_inject(void **state)
{
	struct tconv *t = *state;
	const struct tconv_frame *fr;
	uint32_t s, S;

	start(t);
	s = t->nxt[0];
	S = t->nxt[1];
	tconv_send(t, 0, "a\n");
	drain(t);
	tconv_ack(t, 1);
	drain(t);
	tconv_send(t, 0, "BLOCK\n");
	drain(t);
	/* the server sees nothing; the client gets ERR at the seq it expects next, with an
	 * ACK that covers its blocked line */
	assert_int_equal(tconv_data_frames(t, 0), 0);
	assert_int_equal(tconv_data_frames(t, 1), 1);
	fr = tconv_frame(t, 1, 0);
	assert_int_equal(fr->seq, S);
	assert_int_equal(fr->len, 4);
	assert_memory_equal(fr->data, "ERR\n", 4);
	assert_int_equal(last_ack(t, 1), s + 8);
	assert_true(tconv_rx_is(t, 1, "ERR\n"));
	assert_int_equal(TCONV_CNT(t, edit_injected_bytes), 4);
	/* the client acks ERR: the server must not see an ACK beyond what it sent (the
	 * drain checks every frame) */
	tconv_ack(t, 0);
	drain(t);
	/* the server's next bytes arrive after ERR */
	tconv_send(t, 1, "ok\n");
	drain(t);
	assert_int_equal(tconv_frame(t, 1, 0)->seq, S + 4);
	assert_true(tconv_rx_is(t, 1, "ERR\nok\n"));
	tconv_ack(t, 0);
	drain(t);
	assert_int_equal(tconv_frame(t, 0, 0)->ack, S + 3);
	/* and the client's next line reaches the server right after "a\n" */
	tconv_send(t, 0, "c\n");
	drain(t);
	assert_int_equal(tconv_frame(t, 0, 0)->seq, s + 2);
	assert_true(tconv_rx_is(t, 0, "a\nc\n"));
	assert_int_equal(tdec_log.sink_fail, 0);
	assert_int_equal(tconv_stop(t), 0);
}

/* DESIGN.md 2.1: "The receiver's ACKs for injected bytes are not passed on." Passed
 * on, they reach the server as duplicate ACKs (same ACK, same window): three of them
 * while the server has data in flight make it retransmit for nothing. */
static void test_inject_ack_not_passed(void **state)
{
	struct tconv *t = *state;
	uint32_t S;

	start(t);
	S = t->nxt[1];
	tconv_send(t, 1, "par");              /* in flight for the server: held here */
	drain(t);
	tconv_send(t, 0, "BLOCK\n");
	tconv_send(t, 0, "BLOCK\n");
	tconv_send(t, 0, "BLOCK\n");
	drain(t);
	assert_true(tconv_rx_is(t, 1, "ERR\nERR\nERR\n"));
	/* the client acknowledges each ERR on its own */
	for (uint32_t i = 1; i <= 3; i++) {
		tconv_seg(t, 0, DP_TCP_ACK, t->nxt[0], S + 4 * i, NULL, 0);
		drain(t);
		assert_int_equal(tconv_count(t, 0), 0);
	}
	/* the rest of the server's line goes on as usual */
	tconv_send(t, 1, "tial\n");
	drain(t);
	assert_true(tconv_rx_is(t, 1, "ERR\nERR\nERR\npartial\n"));
	tconv_ack(t, 0);
	drain(t);
	assert_int_equal(tconv_count(t, 0), 1);
	assert_int_equal(tconv_frame(t, 0, 0)->ack, t->nxt[1]);
	assert_int_equal(tconv_stop(t), 0);
}

/* Injection toward the server (the server's line is blocked). */
static void test_inject_to_server(void **state)
{
	struct tconv *t = *state;
	uint32_t s, S;

	start(t);
	s = t->nxt[0];
	S = t->nxt[1];
	tconv_send(t, 0, "q\n");
	drain(t);
	tconv_send(t, 1, "BLOCK\n");
	drain(t);
	assert_true(tconv_rx_is(t, 0, "q\nERR\n"));
	assert_int_equal(tconv_data_frames(t, 1), 0);
	tconv_ack(t, 1);                      /* server acks "q\nERR\n": s + 6 out */
	drain(t);
	acks_are(t, 1, s + 2);
	tconv_send(t, 0, "r\n");
	drain(t);
	assert_int_equal(tconv_frame(t, 0, 0)->seq, s + 6);
	tconv_send(t, 1, "x\n");
	drain(t);
	assert_int_equal(tconv_frame(t, 1, 0)->seq, S);
	assert_true(tconv_rx_is(t, 1, "x\n"));
	assert_int_equal(tconv_stop(t), 0);
}

/* The server has a partial line held when the client's line is blocked: ERR goes
 * before it, at the server's message boundary. */
static void test_inject_before_held(void **state)
{
	struct tconv *t = *state;

	start(t);
	tconv_send(t, 1, "par");
	drain(t);
	tconv_send(t, 0, "BLOCK\n");
	drain(t);
	assert_true(tconv_rx_is(t, 1, "ERR\n"));
	tconv_send(t, 1, "tial\n");
	drain(t);
	assert_true(tconv_rx_is(t, 1, "ERR\npartial\n"));
	tconv_ack(t, 0);
	drain(t);
	assert_int_equal(last_ack(t, 0), t->nxt[1]);
	assert_int_equal(tconv_stop(t), 0);
}

/* Several blocked lines in one segment (a pipelining client): one ERR each. */
static void test_block_pipelined(void **state)
{
	struct tconv *t = *state;

	start(t);
	tconv_send(t, 0, "BLOCK\nBLOCK\nBLOCK\nBLOCK\nBLOCK\nBLOCK\n");
	drain(t);
	assert_int_equal(tdec_log.sink_fail, 0);
	assert_true(tconv_rx_is(t, 1, "ERR\nERR\nERR\nERR\nERR\nERR\n"));
	assert_int_equal(t->rx[0].contig, 0);
	tconv_ack(t, 0);
	drain(t);
	acks_are(t, 0, t->nxt[1]);
	assert_int_equal(tconv_stop(t), 0);
}

/* Many edits in flight before the receiver acknowledges any of them. */
static void test_many_edits_in_flight(void **state)
{
	struct tconv *t = *state;
	char want[512] = "";

	start(t);
	for (int i = 0; i < 24; i++) {
		char line[16];
		snprintf(line, sizeof(line), "l%02d\n", i);
		tconv_send(t, 0, line);
		tconv_send(t, 0, "BLOCK\n");
		strcat(want, line);
	}
	drain(t);
	/* whatever the editor's limits, a blocked line never reaches the server */
	assert_int_equal(t->rx[0].conflicts, 0);
	for (unsigned o = 0; o + 5 <= t->rx[0].contig; o++)
		assert_memory_not_equal(t->rx[0].buf + o, "BLOCK", 5);
	if (tdec_log.sink_fail) {
		print_message("edits refused after %u lines: flow reset\n", tdec_log.lines[0]);
		assert_true(t->rx[0].rst && t->rx[1].rst);
	} else {
		assert_true(tconv_rx_is(t, 0, want));
		assert_int_equal(t->rx[1].contig, 24 * 4);
	}
	assert_int_equal(tconv_stop(t), 0);
}

/* A line forwarded, and a reply injected to its sender. */
static void test_ping_pong(void **state)
{
	struct tconv *t = *state;

	start(t);
	tconv_send(t, 0, "PING\n");
	drain(t);
	assert_true(tconv_rx_is(t, 0, "PING\n"));
	assert_true(tconv_rx_is(t, 1, "PONG\n"));
	tconv_send(t, 1, "later\n");
	drain(t);
	assert_true(tconv_rx_is(t, 1, "PONG\nlater\n"));
	assert_int_equal(tconv_stop(t), 0);
}

/* ---- SACK ---- */

static void test_sack_translation(void **state)
{
	struct tconv *t = *state;
	const struct tconv_frame *fr;
	uint32_t s, S;
	uint32_t sk[1][2];

	start(t);
	s = t->nxt[0];
	S = t->nxt[1];
	/* client -> server: "a\n" kept, "DROP\n" removed, "b\n" and "c\n" shifted by 5 */
	tconv_send(t, 0, "a\n");
	tconv_send(t, 0, "DROP\n");
	tconv_send(t, 0, "b\n");
	tconv_send(t, 0, "c\n");
	drain(t);
	assert_true(tconv_rx_is(t, 0, "a\nb\nc\n"));
	/* the server lost "b\n" and SACKs "c\n" (its out-space [s+4, s+6)) */
	sk[0][0] = s + 4;
	sk[0][1] = s + 6;
	tconv_rx_frame(t, 1, tconv_build_sack(t, 1, DP_TCP_ACK, t->nxt[1], s + 2, NULL, 0, 1, sk));
	drain(t);
	fr = tconv_frame(t, 1, 0);
	assert_non_null(fr);
	assert_int_equal(fr->ack, s + 7);
	assert_int_equal(fr->p.opt.n_sack, 1);
	assert_int_equal(fr->p.opt.sack[0][0], s + 9);
	assert_int_equal(fr->p.opt.sack[0][1], s + 11);

	/* server -> client: ERR (4 bytes) injected first, then "s1\n" "s2\n" "s3\n" */
	tconv_send(t, 0, "BLOCK\n");
	drain(t);
	tconv_send(t, 1, "s1\n");
	tconv_send(t, 1, "s2\n");
	tconv_send(t, 1, "s3\n");
	drain(t);
	assert_true(tconv_rx_is(t, 1, "ERR\ns1\ns2\ns3\n"));
	/* the client lost "s2\n" and SACKs "s3\n": out [S+10, S+13) is in [S+6, S+9) */
	sk[0][0] = S + 10;
	sk[0][1] = S + 13;
	tconv_rx_frame(t, 0, tconv_build_sack(t, 0, DP_TCP_ACK, t->nxt[0], S + 7, NULL, 0, 1, sk));
	drain(t);
	fr = tconv_frame(t, 0, 0);
	assert_non_null(fr);
	assert_int_equal(fr->ack, S + 3);
	assert_int_equal(fr->p.opt.n_sack, 1);
	assert_int_equal(fr->p.opt.sack[0][0], S + 6);
	assert_int_equal(fr->p.opt.sack[0][1], S + 9);
	assert_int_equal(tconv_stop(t), 0);
}

/* SACK blocks on a data segment (both sides sending) are translated too. */
static void test_sack_on_data_segment(void **state)
{
	struct tconv *t = *state;
	const struct tconv_frame *fr;
	uint32_t s;
	uint32_t sk[1][2];

	start(t);
	s = t->nxt[0];
	tconv_send(t, 0, "a\n");
	tconv_send(t, 0, "DROP\n");
	tconv_send(t, 0, "b\n");
	tconv_send(t, 0, "c\n");
	drain(t);
	/* the server answers with data, and SACKs "c\n" on it */
	sk[0][0] = s + 4;
	sk[0][1] = s + 6;
	tconv_rx_frame(t, 1, tconv_build_sack(t, 1, DP_TCP_ACK | DP_TCP_PSH, t->nxt[1], s + 2,
					      "r\n", 2, 1, sk));
	t->nxt[1] += 2;
	drain(t);
	assert_true(tconv_rx_is(t, 1, "r\n"));
	for (unsigned i = 0; i < tconv_count(t, 1); i++) {
		fr = tconv_frame(t, 1, i);
		assert_int_equal(fr->ack, s + 7);
		for (unsigned k = 0; k < fr->p.opt.n_sack; k++) {
			assert_int_equal(fr->p.opt.sack[k][0], s + 9);
			assert_int_equal(fr->p.opt.sack[k][1], s + 11);
		}
	}
	assert_int_equal(tconv_stop(t), 0);
}

/* ---- rewriting ---- */

static void test_rewrite_mask(void **state)
{
	struct tconv *t = *state;

	start(t);
	tconv_send(t, 0, "my SECRET x\n");
	drain(t);
	assert_true(tconv_rx_is(t, 0, "XXXXXXXXXXX\n"));
	assert_int_equal(TCONV_CNT(t, edit_rewritten_bytes), 11);
	/* a masked line split over segments, from the server */
	tconv_send(t, 1, "pw=SEC");
	tconv_send(t, 1, "RET!\n");
	drain(t);
	assert_true(tconv_rx_is(t, 1, "XXXXXXXXXX\n"));
	assert_false(frames_contain(t, "SEC"));
	/* lengths are preserved: no translation */
	tconv_ack(t, 0);
	tconv_ack(t, 1);
	drain(t);
	assert_int_equal(tconv_frame(t, 0, 0)->ack, t->nxt[1]);
	assert_int_equal(tconv_frame(t, 1, 0)->ack, t->nxt[0]);
	assert_int_equal(tconv_stop(t), 0);
}

/* The sender retransmits bytes that were emitted masked and not yet acknowledged:
 * the receiver gets the stored (masked) bytes again, never the original ones. */
static void test_rtx_replays_edited(void **state)
{
	struct tconv *t = *state;
	uint32_t S;

	start(t);
	S = t->nxt[1];
	tconv_send(t, 1, "pw SECRET\n");
	drain(t);
	assert_true(tconv_rx_is(t, 1, "XXXXXXXXX\n"));
	/* the same segment again (the client's ACK was lost) */
	tconv_seg(t, 1, DP_TCP_ACK | DP_TCP_PSH, S, tconv_rcv_nxt(t, 1), "pw SECRET\n", 10);
	drain(t);
	assert_false(frames_contain(t, "SECRET"));
	assert_true(tconv_data_frames(t, 1) >= 1);
	assert_true(TCONV_CNT(t, tcp_rtx_replayed) >= 1);
	assert_int_equal(t->rx[1].conflicts, 0);
	/* a retransmission that also carries new bytes */
	tconv_seg(t, 1, DP_TCP_ACK | DP_TCP_PSH, S, tconv_rcv_nxt(t, 1), "pw SECRET\nnext\n", 15);
	t->nxt[1] = S + 15;
	drain(t);
	assert_false(frames_contain(t, "SECRET"));
	assert_true(tconv_rx_is(t, 1, "XXXXXXXXX\nnext\n"));
	/* after the client's ACK nothing is replayed any more */
	tconv_ack(t, 0);
	drain(t);
	tconv_seg(t, 1, DP_TCP_ACK | DP_TCP_PSH, S, tconv_rcv_nxt(t, 1), "pw SECRET\n", 10);
	drain(t);
	assert_false(frames_contain(t, "SECRET"));
	assert_int_equal(tconv_data_frames(t, 1), 0);
	assert_int_equal(tconv_stop(t), 0);
}

/* A retransmission of bytes emitted after a removal is answered with the stored
 * bytes at their out-space seq. */
static void test_rtx_after_remove(void **state)
{
	struct tconv *t = *state;
	uint32_t s;

	start(t);
	s = t->nxt[0];
	tconv_send(t, 0, "DROP\n");
	tconv_send(t, 0, "keep\n");
	drain(t);
	assert_true(tconv_rx_is(t, 0, "keep\n"));
	tconv_seg(t, 0, DP_TCP_ACK | DP_TCP_PSH, s + 5, tconv_rcv_nxt(t, 0), "keep\n", 5);
	drain(t);
	for (unsigned i = 0; i < t->n_fr; i++)
		if (t->fr[i].dir == 0 && t->fr[i].len)
			assert_int_equal(t->fr[i].seq, s);
	assert_int_equal(t->rx[0].conflicts, 0);
	assert_true(tconv_rx_is(t, 0, "keep\n"));
	assert_int_equal(tconv_stop(t), 0);
}

/* ---- retransmission of injected bytes ---- */

static void test_inject_rtx_timer(void **state)
{
	struct tconv *t = *state;
	const struct tconv_frame *fr;
	uint64_t t0, rto = 200 * NS_PER_MS;
	uint32_t S;

	t->cfg.rto_ms = 200;
	start(t);
	S = t->nxt[1];
	t0 = t->w->now_ns;
	tconv_send(t, 0, "BLOCK\n");
	t->lose[1] = 1;                       /* the client never gets this ERR */
	drain(t);
	t->lose[1] = 0;
	assert_int_equal(tconv_data_frames(t, 1), 1);
	assert_int_equal(t->rx[1].contig, 0);
	/* not before the timeout */
	tconv_timers(t, t0 + rto - 1);
	assert_int_equal(drain(t), 0);
	tconv_timers(t, t0 + rto);
	assert_int_equal(drain(t), 1);
	fr = tconv_frame(t, 1, 0);
	assert_int_equal(fr->seq, S);
	assert_int_equal(fr->len, 4);
	assert_memory_equal(fr->data, "ERR\n", 4);
	assert_int_equal(TCONV_CNT(t, tcp_inject_rtx), 1);
	assert_true(tconv_rx_is(t, 1, "ERR\n"));
	/* the timeout backs off: not again one rto later */
	tconv_timers(t, t0 + 2 * rto);
	assert_int_equal(drain(t), 0);
	/* acknowledged: never again */
	t->w->now_ns = t0 + 2 * rto + 1;
	tconv_ack(t, 0);
	drain(t);
	acks_are(t, 0, S);
	for (int i = 1; i <= 20; i++) {
		tconv_timers(t, t0 + 2 * rto + (uint64_t)i * 500 * NS_PER_MS);
		assert_int_equal(drain(t), 0);
	}
	assert_int_equal(TCONV_CNT(t, tcp_inject_rtx), 1);
	assert_true(TAILQ_EMPTY(&t->w->rtx_flows));
	assert_int_equal(tconv_stop(t), 0);
}

/* A message in many small segments: the appliance acknowledges the held bytes to the
 * sender once two segments wait (else a sender whose window is full of held bytes
 * would wait forever), and retransmits them itself when the receiver loses them. */
static void test_preack_held_bytes(void **state)
{
	struct tconv *t = *state;
	uint64_t t0, rto = 200 * NS_PER_MS;
	uint32_t C;

	t->cfg.rto_ms = 200;
	start(t);
	C = t->nxt[0];
	t0 = t->w->now_ns;
	tconv_send(t, 0, "hel");
	drain(t);
	tconv_send(t, 0, "lo");
	drain(t);
	assert_int_equal(tconv_count(t, 0), 0);        /* held, nothing to the server */
	assert_int_equal(tconv_count(t, 1), 0);        /* no early ACK while the client sends */
	/* the client times out and retransmits what it sent: it waits for an ACK */
	tconv_seg(t, 0, DP_TCP_ACK | DP_TCP_PSH, C, tconv_rcv_nxt(t, 0), "hello", 5);
	drain(t);
	assert_int_equal(tconv_data_frames(t, 0), 0);   /* no bytes to the server yet */
	assert_int_equal(tconv_count(t, 1), 1);        /* the appliance ACKs the client */
	assert_int_equal(tconv_frame(t, 1, 0)->len, 0);
	acks_are(t, 1, C + 5);
	tconv_send(t, 0, "wor");
	drain(t);
	/* the message ends; the server loses what the appliance sends */
	t->lose[0] = 1;
	tconv_send(t, 0, "ld\n");
	drain(t);
	t->lose[0] = 0;
	assert_true(tconv_data_frames(t, 0) >= 3); /* the held segments, as sent */
	assert_int_equal(t->rx[0].contig, 0);
	/* the client will not retransmit bytes it saw acknowledged: the appliance does */
	tconv_timers(t, t0 + rto - 1);
	assert_int_equal(drain(t), 0);
	tconv_timers(t, t0 + rto);
	drain(t);
	assert_true(t->rx[0].contig >= 5);
	assert_memory_equal(t->rx[0].buf, "hello", 5);
	assert_true(TCONV_CNT(t, tcp_inject_rtx) >= 1);
	/* what the client still owns it retransmits itself */
	tconv_seg(t, 0, DP_TCP_ACK | DP_TCP_PSH, C + 5, tconv_rcv_nxt(t, 0), "world\n", 6);
	drain(t);
	assert_true(tconv_rx_is(t, 0, "helloworld\n"));
	/* once the server acknowledges them, never again */
	tconv_ack(t, 1);
	drain(t);
	unsigned before = (unsigned)TCONV_CNT(t, tcp_inject_rtx);
	for (int i = 1; i <= 20; i++) {
		tconv_timers(t, t0 + rto + (uint64_t)i * 500 * NS_PER_MS);
		assert_int_equal(drain(t), 0);
	}
	assert_int_equal(TCONV_CNT(t, tcp_inject_rtx), before);
	assert_int_equal(tconv_stop(t), 0);
}

/* A message longer than max_hold_bytes, sent in many segments: held and pre-acknowledged,
 * then streamed through. Once the receiver has acknowledged everything, the appliance
 * must not retransmit anything on its own. */
static void test_long_message_no_spurious_rtx(void **state)
{
	struct tconv *t = *state;
	uint64_t t0, rto = 200 * NS_PER_MS;
	char chunk[1000];

	t->cfg.rto_ms = 200;
	t->cfg.max_hold_bytes = 4096;
	start(t);
	t0 = t->w->now_ns;
	memset(chunk, 'a', sizeof(chunk));
	for (int i = 0; i < 12; i++) {
		tconv_send_bytes(t, 0, chunk, sizeof(chunk));
		drain(t);
		tconv_ack(t, 1);                   /* the server acknowledges what it got */
		drain(t);
	}
	tconv_send(t, 0, "\n");
	drain(t);
	tconv_ack(t, 1);
	drain(t);
	assert_int_equal(t->rx[0].contig, 12001);
	assert_true(TCONV_CNT(t, hold_overflow) >= 1);
	for (int i = 1; i <= 10; i++) {
		tconv_timers(t, t0 + (uint64_t)i * rto);
		assert_int_equal(drain(t), 0);
	}
	assert_int_equal(TCONV_CNT(t, tcp_inject_rtx), 0);
	assert_int_equal(tconv_stop(t), 0);
}

/* Injected bytes never acknowledged: after SE_MAX_INJ_TRIES retransmissions the flow is
 * reset (both sides), not retransmitted forever. */
static void test_inject_rtx_gives_up(void **state)
{
	struct tconv *t = *state;
	uint64_t t0;

	t->cfg.rto_ms = 200;
	start(t);
	t0 = t->w->now_ns;
	tconv_send(t, 0, "BLOCK\n");
	t->lose[1] = 1;                       /* the client gets nothing */
	drain(t);
	for (int i = 1; i <= 600 && TCONV_CNT(t, tcp_rst_policy) == 0; i++) {
		tconv_timers(t, t0 + (uint64_t)i * 100 * NS_PER_MS);
		drain(t);
	}
	t->lose[1] = 0;
	assert_int_equal(TCONV_CNT(t, tcp_rst_policy), 1);
	assert_int_equal(TCONV_CNT(t, tcp_inject_rtx), 8);
	assert_true(t->rx[0].rst);
	assert_true(tconv_flow(t)->closed);
	assert_true(TAILQ_EMPTY(&t->w->rtx_flows));
	/* nothing more after that */
	tconv_timers(t, t0 + 59 * 1000 * NS_PER_MS);
	assert_int_equal(drain(t), 0);
	assert_int_equal(tconv_stop(t), 0);
}

/* ---- FIN, keepalive after edits ---- */

static void test_remove_then_fin(void **state)
{
	struct tconv *t = *state;
	uint32_t s;

	start(t);
	s = t->nxt[0];
	tconv_send(t, 0, "a\n");
	tconv_seg(t, 0, DP_TCP_ACK | DP_TCP_FIN, t->nxt[0], tconv_rcv_nxt(t, 0), "DROP\n", 5);
	t->nxt[0] += 6;
	drain(t);
	assert_true(tconv_rx_is(t, 0, "a\n"));
	assert_true(t->rx[0].fin);
	assert_int_equal(t->rx[0].fin_off, 2);
	/* the server acks the FIN: the client sees its FIN (after the removed line) acked */
	tconv_ack(t, 1);
	drain(t);
	assert_int_equal(last_ack(t, 1), s + 8);
	assert_int_equal(tconv_stop(t), 0);
}

/* A keepalive (one below the next seq, no data) after a removal: the receiver gets it one
 * below what it expects, so that it answers with an ACK. */
static void test_keepalive_after_edit(void **state)
{
	struct tconv *t = *state;
	const struct tconv_frame *fr;

	start(t);
	tconv_send(t, 0, "a\n");
	tconv_send(t, 0, "DROP\n");
	tconv_ack(t, 1);
	drain(t);
	tconv_seg(t, 0, DP_TCP_ACK, t->nxt[0] - 1, tconv_rcv_nxt(t, 0), NULL, 0);
	drain(t);
	assert_int_equal(tconv_count(t, 0), 1);
	fr = tconv_frame(t, 0, 0);
	assert_int_equal(fr->seq, tconv_rcv_nxt(t, 1) - 1);
	assert_int_equal(fr->len, 0);
	assert_int_equal(tconv_stop(t), 0);
}

/* ---- timestamps, resets, IPv6 ---- */

/* Held bytes go out with the sender's newest TSval (checked on every frame by the
 * harness); the injected ERR carries the server's. */
static void test_timestamps(void **state)
{
	struct tconv *t = *state;
	const struct tconv_frame *fr;

	start(t);
	tconv_send(t, 0, "ab");
	tconv_send(t, 0, "c");
	tconv_send(t, 0, "\n");
	drain(t);
	assert_true(tconv_rx_is(t, 0, "abc\n"));
	for (unsigned i = 0; i < tconv_count(t, 0); i++) {
		fr = tconv_frame(t, 0, i);
		assert_true(fr->p.opt.has_ts);
		assert_true((int32_t)(fr->p.opt.tsval - t->tsval[0]) >= 0);
	}
	tconv_send(t, 1, "srv\n");
	drain(t);
	tconv_send(t, 0, "BLOCK\n");
	drain(t);
	fr = tconv_frame(t, 1, 0);
	assert_non_null(fr);
	assert_true(fr->p.opt.has_ts);
	assert_true((int32_t)(fr->p.opt.tsval - t->tsval[1]) >= 0);
	assert_int_equal(tconv_stop(t), 0);
}

static void test_rst_after_edit(void **state)
{
	struct tconv *t = *state;

	start(t);
	tconv_send(t, 0, "a\n");
	tconv_send(t, 0, "DROP\n");
	drain(t);
	tconv_seg(t, 0, DP_TCP_RST | DP_TCP_ACK, t->nxt[0], tconv_rcv_nxt(t, 0), NULL, 0);
	drain(t);
	assert_true(t->rx[0].rst);
	assert_int_equal(t->rx[0].rst_seq, tconv_rcv_nxt(t, 1));
	assert_true(tconv_flow(t)->closed);
	assert_int_equal(tconv_stop(t), 0);
}

static void test_reset_command(void **state)
{
	struct tconv *t = *state;

	start(t);
	tconv_send(t, 0, "a\n");
	tconv_send(t, 1, "ERRR\n");
	tconv_send(t, 0, "DROP\n");
	drain(t);
	tconv_send(t, 0, "RESET\n");
	drain(t);
	assert_int_equal(TCONV_CNT(t, tcp_rst_policy), 1);
	assert_true(t->rx[0].rst);
	assert_true(t->rx[1].rst);
	assert_int_equal(t->rx[0].rst_seq, tconv_rcv_nxt(t, 1));
	assert_int_equal(t->rx[1].rst_seq, tconv_rcv_nxt(t, 0));
	assert_true(tconv_rx_is(t, 0, "a\n"));
	assert_true(tconv_flow(t)->closed);
	assert_int_equal(tconv_stop(t), 0);
}

/* Starts the flow with dataplane.malformed = <malformed> and sends a good line, one the
 * test decoder fails on, and one it would block; the failure is counted. */
static void decoder_error_start(struct tconv *t, uint8_t malformed)
{
	t->cfg.malformed = malformed;
	start(t);
	tconv_send(t, 0, "a\n");
	tconv_send(t, 0, "BAD\n");
	tconv_send(t, 0, "BLOCK\n");
	drain(t);
	assert_int_equal(TCONV_CNT(t, proto_error), 1);
}

/* The decoder fails, by default (dataplane.malformed = reset): the flow is reset, and
 * neither the bad line nor what follows reaches the server. */
static void test_decoder_error_resets(void **state)
{
	struct tconv *t = *state;

	decoder_error_start(t, DP_MALFORMED_RESET);
	assert_true(tconv_rx_is(t, 0, "a\n"));
	assert_true(t->rx[0].rst && t->rx[1].rst);
	assert_int_equal(tconv_stop(t), 0);
}

/* The decoder fails with malformed = forward: inspection stops, everything after is
 * forwarded as it is. */
static void test_decoder_error(void **state)
{
	struct tconv *t = *state;

	decoder_error_start(t, DP_MALFORMED_FORWARD);
	assert_true(tconv_rx_is(t, 0, "a\nBAD\nBLOCK\n"));
	tconv_send(t, 1, "SECRET\n");
	drain(t);
	assert_true(tconv_rx_is(t, 1, "SECRET\n"));
	assert_int_equal(tconv_stop(t), 0);
}

/* A line longer than max_hold_bytes is streamed through (policy stream). */
static void test_hold_overflow_stream(void **state)
{
	struct tconv *t = *state;

	t->cfg.max_hold_bytes = 16;
	start(t);
	tconv_send(t, 0, "0123456789");
	drain(t);
	assert_int_equal(t->rx[0].contig, 0);
	tconv_send(t, 0, "0123456789");
	drain(t);
	assert_int_equal(TCONV_CNT(t, hold_overflow), 1);
	assert_true(tconv_rx_is(t, 0, "01234567890123456789"));
	tconv_send(t, 0, "end\n");
	drain(t);
	assert_true(tconv_rx_is(t, 0, "01234567890123456789end\n"));
	assert_int_equal(tconv_stop(t), 0);
}

/* Once a message has overflowed the hold, the rest of it streams through as it comes
 * (DESIGN.md 2.1: "never buffered"), it is counted once, and the hold applies again
 * from the next message on. */
static void test_hold_overflow_streams_rest(void **state)
{
	struct tconv *t = *state;

	t->cfg.max_hold_bytes = 16;
	start(t);
	tconv_send(t, 0, "0123456789");
	tconv_send(t, 0, "0123456789");
	drain(t);
	assert_int_equal(t->rx[0].contig, 20);
	tconv_send(t, 0, "abcdefghij");       /* still the same message */
	drain(t);
	assert_int_equal(t->rx[0].contig, 30);
	tconv_send(t, 0, "klmnopqrst");
	drain(t);
	assert_int_equal(t->rx[0].contig, 40);
	assert_int_equal(TCONV_CNT(t, hold_overflow), 1);
	/* its end, and the start of the next message, which is held again */
	tconv_send(t, 0, "end\nnext");
	drain(t);
	assert_int_equal(t->rx[0].contig, 44);
	tconv_send(t, 0, " one\n");
	drain(t);
	assert_int_equal(t->rx[0].contig, 53);
	assert_int_equal(TCONV_CNT(t, hold_overflow), 1);
	assert_int_equal(tconv_stop(t), 0);
}

static void test_hold_overflow_reset(void **state)
{
	struct tconv *t = *state;

	t->cfg.max_hold_bytes = 16;
	t->cfg.hold = DP_HOLD_RESET;
	start(t);
	tconv_send(t, 0, "0123456789");
	tconv_send(t, 0, "0123456789");
	drain(t);
	assert_int_equal(TCONV_CNT(t, hold_overflow), 1);
	assert_true(t->rx[0].rst);
	assert_true(t->rx[1].rst);
	assert_int_equal(t->rx[0].contig, 0);
	assert_int_equal(tconv_stop(t), 0);
}

/* The whole editor over IPv6 (frames built by the appliance, checksums). */
static void test_ipv6_edits(void **state)
{
	struct tconv *t = *state;

	t->ip_ver = 6;
	start(t);
	tconv_send(t, 0, "a\n");
	tconv_send(t, 0, "BLOCK\n");
	tconv_send(t, 0, "b\n");
	drain(t);
	assert_true(tconv_rx_is(t, 0, "a\nb\n"));
	assert_true(tconv_rx_is(t, 1, "ERR\n"));
	tconv_send(t, 1, "the SECRET\n");
	drain(t);
	assert_true(tconv_rx_is(t, 1, "ERR\nXXXXXXXXXX\n"));
	for (unsigned i = 0; i < t->n_fr; i++)
		assert_int_equal(t->fr[i].p.ip_ver, 6);
	tconv_ack(t, 0);
	tconv_ack(t, 1);
	drain(t);
	assert_int_equal(tconv_frame(t, 0, 0)->ack, t->nxt[1]);
	assert_int_equal(tconv_frame(t, 1, 0)->ack, t->nxt[0]);
	assert_int_equal(tconv_stop(t), 0);
}

/* Bytes larger than the receiver's MSS are cut to it. */
static void test_mss_respected(void **state)
{
	struct tconv *t = *state;
	char big[1401];

	t->mss = 536;
	start(t);
	memset(big, 'a', sizeof(big) - 2);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = 0;
	tconv_send(t, 0, big);
	drain(t);
	assert_true(tconv_rx_is(t, 0, big));
	for (unsigned i = 0; i < t->n_fr; i++)
		assert_true(t->fr[i].len <= 536 - 12);
	assert_int_equal(tconv_stop(t), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_remove_line, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_remove_before_ack, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_remove_mid_segment, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_remove_wrap, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_block_inject, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_inject_ack_not_passed, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_inject_to_server, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_inject_before_held, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_block_pipelined, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_many_edits_in_flight, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_ping_pong, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_sack_translation, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_sack_on_data_segment, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_rewrite_mask, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_rtx_replays_edited, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_rtx_after_remove, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_inject_rtx_timer, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_preack_held_bytes, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_long_message_no_spurious_rtx, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_inject_rtx_gives_up, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_remove_then_fin, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_keepalive_after_edit, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_timestamps, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_rst_after_edit, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_reset_command, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_decoder_error, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_decoder_error_resets, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_hold_overflow_stream, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_hold_overflow_streams_rest, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_hold_overflow_reset, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_edits, tconv_cm_setup, tconv_cm_teardown),
		cmocka_unit_test_setup_teardown(test_mss_respected, tconv_cm_setup, tconv_cm_teardown),
	};

	if (test_eal_init() < 0 || test_pool() == NULL)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
