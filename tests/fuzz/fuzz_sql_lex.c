/* fuzz_sql_lex.c - libFuzzer target: sql_lex() on any bytes, both dialects, with
 * large and tiny output buffers, checking every promise of sql_lex.h. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/proto/sql_lex.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

#define STMTS_CAP 64

/* What a run found, to compare runs that differ only in buffer sizes. */
struct summary {
	int n;
	uint32_t flags;
	uint32_t raw[STMTS_CAP][2];
};

/* Checks one text buffer's promises for a statement: inside the buffer and
 * NUL-terminated there (nothing at all for a zero-sized buffer). */
static void check_text(const char *buf, uint32_t cap, uint32_t off, uint32_t len)
{
	if (cap == 0) {
		CHECK(off == 0 && len == 0);
		return;
	}
	CHECK((uint64_t)off + len < cap);
	CHECK(buf[off + len] == 0);
}

/* Lexes <data> into buffers of exactly the sizes given (heap, so that ASan sees
 * one byte past them), checks the result, and fills <sum>. */
static void run(const uint8_t *data, size_t size, unsigned dialect, uint32_t norm_cap,
		uint32_t fp_cap, uint32_t stmts_cap, struct summary *sum)
{
	char *norm = norm_cap ? malloc(norm_cap) : NULL;
	char *fp = fp_cap ? malloc(fp_cap) : NULL;
	struct sql_stmt *st = stmts_cap ? malloc(stmts_cap * sizeof(*st)) : NULL;
	struct sql_lex_out o = {
		.norm = norm, .norm_cap = norm_cap, .fp = fp, .fp_cap = fp_cap,
		.stmts = st, .stmts_cap = stmts_cap, .n_stmts = 0xdead, .flags = 0xdead,
	};
	int n;

	CHECK((!norm_cap || norm) && (!fp_cap || fp) && (!stmts_cap || st));
	n = sql_lex((const char *)data, size, dialect, &o);
	CHECK(n >= 0 && (uint32_t)n == o.n_stmts && o.n_stmts <= stmts_cap);
	CHECK((o.flags & ~(uint32_t)(SQL_LEX_TRUNCATED | SQL_LEX_UNTERMINATED)) == 0);
	for (int i = 0; i < n; i++) {
		const struct sql_stmt *s = &st[i];

		CHECK((uint64_t)s->raw_off + s->raw_len <= size);
		check_text(norm, norm_cap, s->norm_off, s->norm_len);
		check_text(fp, fp_cap, s->fp_off, s->fp_len);
		CHECK(memchr(s->first_kw, 0, sizeof(s->first_kw)) != NULL);
		CHECK(s->nested <= 1);
		/* a statement has a token: only truncation leaves its text empty */
		CHECK((o.flags & SQL_LEX_TRUNCATED) || (s->norm_len > 0 && s->fp_len > 0));
		/* top-level statements follow each other in the input */
		if (i > 0 && !s->nested && !st[i - 1].nested)
			CHECK(s->raw_off >= st[i - 1].raw_off + st[i - 1].raw_len);
		if (sum) {
			sum->raw[i][0] = s->raw_off;
			sum->raw[i][1] = s->raw_len;
		}
	}
	if (sum) {
		sum->n = n;
		sum->flags = o.flags;
	}
	free(norm);
	free(fp);
	free(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t tiny[][2] = { { 0, 0 }, { 1, 1 }, { 2, 7 }, { 13, 3 } };
	struct summary big, small;

	if (size > (1u << 20))
		return 0;
	for (unsigned dialect = 0; dialect <= SQL_LEX_MYSQL; dialect += SQL_LEX_MYSQL) {
		uint32_t cap = (uint32_t)size * 4 + 64;

		run(data, size, dialect, cap, cap, STMTS_CAP, &big);
		/* Buffer sizes change what is written, never how the input is split. */
		for (size_t i = 0; i < sizeof(tiny) / sizeof(tiny[0]); i++) {
			run(data, size, dialect, tiny[i][0], tiny[i][1], STMTS_CAP, &small);
			CHECK(small.n == big.n);
			CHECK((small.flags & SQL_LEX_UNTERMINATED) == (big.flags & SQL_LEX_UNTERMINATED));
			CHECK(memcmp(small.raw, big.raw, sizeof(big.raw[0]) * (size_t)big.n) == 0);
		}
		run(data, size, dialect, (uint32_t)size / 3, (uint32_t)size / 5, 2, NULL);
		run(data, size, dialect, cap, cap, 0, NULL);
	}
	return 0;
}
