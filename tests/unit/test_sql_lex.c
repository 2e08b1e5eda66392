/* test_sql_lex.c - CMocka tests of the SQL lexer: normalization, fingerprints,
 * statement splitting, DO bodies, MySQL dialect, truncation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dataplane/proto/sql_lex.h"

#define N_STMTS 16
#define BUF_CAP 2048

/* One lexer run with generous buffers, and accessors for its statements. */
struct lexed {
	char norm[BUF_CAP];
	char fp[BUF_CAP];
	struct sql_stmt st[N_STMTS];
	struct sql_lex_out out;
	const char *sql;
	int n;
};

static struct lexed *lex_d(const char *sql, unsigned dialect)
{
	static struct lexed r;

	memset(&r, 0x5a, sizeof(r));      /* no accidental NULs */
	r.out = (struct sql_lex_out){
		.norm = r.norm, .norm_cap = BUF_CAP,
		.fp = r.fp, .fp_cap = BUF_CAP,
		.stmts = r.st, .stmts_cap = N_STMTS,
	};
	r.sql = sql;
	r.n = sql_lex(sql, strlen(sql), dialect, &r.out);
	assert_int_equal(r.n, (int)r.out.n_stmts);
	return &r;
}

static struct lexed *lex(const char *sql)
{
	return lex_d(sql, 0);
}

static const char *norm(const struct lexed *r, int i)
{
	assert_true(i < r->n);
	assert_int_equal(r->norm[r->st[i].norm_off + r->st[i].norm_len], 0);
	return r->norm + r->st[i].norm_off;
}

static const char *fp(const struct lexed *r, int i)
{
	assert_true(i < r->n);
	assert_int_equal(r->fp[r->st[i].fp_off + r->st[i].fp_len], 0);
	return r->fp + r->st[i].fp_off;
}

/* The statement's raw text, copied out. */
static const char *raw(const struct lexed *r, int i)
{
	static char b[BUF_CAP];

	assert_true(r->st[i].raw_off + r->st[i].raw_len <= strlen(r->sql));
	snprintf(b, sizeof(b), "%.*s", (int)r->st[i].raw_len, r->sql + r->st[i].raw_off);
	return b;
}

/* A single-statement input: checks its normalized text and fingerprint. */
static void expect1(const char *sql, const char *n, const char *f)
{
	struct lexed *r = lex(sql);

	assert_int_equal(r->n, 1);
	assert_string_equal(norm(r, 0), n);
	assert_string_equal(fp(r, 0), f);
	assert_int_equal(r->out.flags, 0);
}

static void test_comment_between_keywords(void **state)
{
	struct lexed *r = lex("dRoP/**/TaBlE t");

	assert_int_equal(r->n, 1);
	assert_string_equal(norm(r, 0), "DROP TABLE T");
	assert_string_equal(fp(r, 0), "DROP TABLE T");
	assert_string_equal(r->st[0].first_kw, "DROP");
	assert_int_equal(r->st[0].nested, 0);
	assert_string_equal(raw(r, 0), "dRoP/**/TaBlE t");
}

static void test_string_is_not_code(void **state)
{
	expect1("SELECT 'DROP TABLE x'", "SELECT 'DROP TABLE x'", "SELECT ?");
	expect1("select 'it''s; here'", "SELECT 'it''s; here'", "SELECT ?");
}

static void test_line_comment(void **state)
{
	struct lexed *r = lex("-- DROP TABLE t\nSELECT 1");

	assert_int_equal(r->n, 1);
	assert_string_equal(norm(r, 0), "SELECT 1");
	assert_string_equal(raw(r, 0), "SELECT 1");
	expect1("select 1 -- ; drop table t", "SELECT 1", "SELECT ?");
	expect1("select 1 --\rfrom t", "SELECT 1 FROM T", "SELECT ? FROM T");
}

static void test_multi_statement(void **state)
{
	struct lexed *r = lex("SELECT 1; DROP TABLE t");

	assert_int_equal(r->n, 2);
	assert_string_equal(norm(r, 0), "SELECT 1");
	assert_string_equal(norm(r, 1), "DROP TABLE T");
	assert_string_equal(raw(r, 0), "SELECT 1");
	assert_string_equal(raw(r, 1), "DROP TABLE t");
	assert_string_equal(r->st[1].first_kw, "DROP");

	/* empty statements are skipped */
	r = lex(" ; ;select 1;; ;");
	assert_int_equal(r->n, 1);
	assert_string_equal(norm(r, 0), "SELECT 1");
	r = lex("  -- only a comment\n ; /* x */");
	assert_int_equal(r->n, 0);
}

static void test_dollar_quotes(void **state)
{
	struct lexed *r = lex("select $$a;b$$; select 2");

	assert_int_equal(r->n, 2);
	assert_string_equal(norm(r, 0), "SELECT $$a;b$$");
	assert_string_equal(fp(r, 0), "SELECT ?");
	assert_string_equal(norm(r, 1), "SELECT 2");

	expect1("select $fn$ it's $$ ; $fn$ from t", "SELECT $fn$ it's $$ ; $fn$ FROM T",
		"SELECT ? FROM T");
	/* $1 is a parameter, kept in the fingerprint */
	expect1("select * from t where a = $1 and b=$22", "SELECT * FROM T WHERE A = $1 AND B = $22",
		"SELECT * FROM T WHERE A = $1 AND B = $22");
	/* an identifier may hold '$': no dollar quote starts inside it */
	r = lex("select a$$b; select 2");
	assert_int_equal(r->n, 2);
	assert_string_equal(norm(r, 0), "SELECT A$$B");
	/* a tag of identifier characters; a '$' that starts none stands alone */
	expect1("select $a_1$;$a_1$", "SELECT $a_1$;$a_1$", "SELECT ?");
	r = lex("select $x; select 1");
	assert_int_equal(r->n, 2);
	assert_string_equal(norm(r, 0), "SELECT $ X");
}

static void test_do_block(void **state)
{
	struct lexed *r = lex("DO $$ BEGIN DROP TABLE t; END $$");

	assert_int_equal(r->n, 2);
	assert_string_equal(r->st[0].first_kw, "DO");
	assert_int_equal(r->st[0].nested, 0);
	assert_string_equal(fp(r, 0), "DO ?");
	assert_string_equal(norm(r, 1), "DROP TABLE T");
	assert_string_equal(r->st[1].first_kw, "DROP");
	assert_int_equal(r->st[1].nested, 1);
	assert_string_equal(raw(r, 1), "DROP TABLE t");
	assert_int_equal(r->out.flags, 0);

	/* LANGUAGE before the body, DECLARE section, a statement after the DO */
	r = lex("do language plpgsql $b$ declare n int; begin delete from a; end $b$; select 1");
	assert_int_equal(r->n, 4);
	assert_string_equal(norm(r, 0), "DO LANGUAGE PLPGSQL $b$ declare n int; begin delete from a; end $b$");
	assert_string_equal(norm(r, 1), "N INT");
	assert_string_equal(norm(r, 2), "DELETE FROM A");
	assert_int_equal(r->st[2].nested, 1);
	assert_string_equal(norm(r, 3), "SELECT 1");
	assert_int_equal(r->st[3].nested, 0);
}

/* Statements that hold another statement PostgreSQL runs: the inner one is a statement
 * of its own (split, or lexed as a body), so that rules anchored at a statement's start
 * judge it. Before, PREPARE d AS DELETE FROM t (then EXECUTE d), EXPLAIN ANALYZE
 * DELETE FROM t, COPY (DELETE ... RETURNING *) TO STDOUT, CREATE RULE ... DO INSTEAD
 * DELETE and function bodies that drop a table all passed the destructive pack. */
static void test_inner_statements(void **state)
{
	struct lexed *r = lex("PREPARE d (int) AS DELETE FROM t WHERE id = $1; EXECUTE d(1)");

	(void)state;
	assert_int_equal(r->n, 3);
	assert_string_equal(norm(r, 0), "PREPARE D (INT) AS");
	assert_string_equal(norm(r, 1), "DELETE FROM T WHERE ID = $1");
	assert_string_equal(raw(r, 1), "DELETE FROM t WHERE id = $1");
	assert_string_equal(r->st[1].first_kw, "DELETE");
	assert_string_equal(norm(r, 2), "EXECUTE D (1)");

	/* EXPLAIN runs the statement only with ANALYZE */
	r = lex("explain (analyze, buffers) delete from t");
	assert_int_equal(r->n, 2);
	assert_string_equal(norm(r, 0), "EXPLAIN (ANALYZE, BUFFERS)");
	assert_string_equal(norm(r, 1), "DELETE FROM T");
	r = lex("EXPLAIN ANALYZE VERBOSE UPDATE t SET a = 1");
	assert_int_equal(r->n, 2);
	assert_string_equal(norm(r, 1), "UPDATE T SET A = 1");
	r = lex("EXPLAIN VERBOSE DELETE FROM t");
	assert_int_equal(r->n, 1);
	assert_string_equal(norm(r, 0), "EXPLAIN VERBOSE DELETE FROM T");

	/* COPY (query) TO: the query as a body; a column list is not one */
	r = lex("COPY (DELETE FROM t RETURNING *) TO STDOUT");
	assert_int_equal(r->n, 2);
	assert_string_equal(norm(r, 1), "DELETE FROM T RETURNING *");
	assert_int_equal(r->st[1].nested, 1);
	r = lex("COPY t (a, b) TO STDOUT");
	assert_int_equal(r->n, 1);

	/* function bodies (quoted or dollar-quoted) like DO bodies; BEGIN ATOMIC bodies */
	r = lex("CREATE OR REPLACE FUNCTION f() RETURNS void LANGUAGE sql AS 'drop table t'");
	assert_int_equal(r->n, 2);
	assert_string_equal(norm(r, 1), "DROP TABLE T");
	r = lex("CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN DELETE FROM t; RETURN 1; END $$");
	assert_int_equal(r->n, 3);
	assert_string_equal(norm(r, 1), "DELETE FROM T");
	assert_string_equal(norm(r, 2), "RETURN 1");
	r = lex("CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC DELETE FROM t; END");
	assert_int_equal(r->n, 3);
	assert_string_equal(norm(r, 0), "CREATE PROCEDURE P () LANGUAGE SQL BEGIN ATOMIC");
	assert_string_equal(norm(r, 1), "DELETE FROM T");
	r = lex("CREATE TABLE x AS SELECT 'drop table t'");   /* AS, then no string */
	assert_int_equal(r->n, 1);

	/* CREATE RULE ... DO [ALSO|INSTEAD] action */
	r = lex("CREATE RULE r AS ON INSERT TO t DO INSTEAD DELETE FROM t");
	assert_int_equal(r->n, 2);
	assert_string_equal(norm(r, 0), "CREATE RULE R AS ON INSERT TO T DO INSTEAD");
	assert_string_equal(norm(r, 1), "DELETE FROM T");
	r = lex("CREATE RULE r AS ON INSERT TO t DO INSTEAD NOTHING");
	assert_int_equal(r->n, 1);
	/* a parenthesized action list: the first action is split off too */
	r = lex("CREATE RULE r AS ON INSERT TO t DO ALSO (DELETE FROM t; UPDATE u SET a = 1)");
	assert_int_equal(r->n, 3);
	assert_string_equal(norm(r, 1), "DELETE FROM T");
	assert_string_equal(norm(r, 2), "UPDATE U SET A = 1)");
	/* EXPLAIN (ANALYZE false) runs nothing: not split */
	r = lex("EXPLAIN (ANALYZE false, COSTS off) DELETE FROM t");
	assert_int_equal(r->n, 1);
	r = lex("EXPLAIN (ANALYZE true) DELETE FROM t");
	assert_int_equal(r->n, 2);
	r = lex("EXPLAIN (COSTS off, ANALYZE) DELETE FROM t");
	assert_int_equal(r->n, 2);
	/* PostgreSQL's boolean option values (defGetBoolean): 0 and 1, and the words
	 * as strings. ANALYZE 0 / 'off' / 'false' run nothing; 1, 'on', 10, 0.0 (an error on
	 * the server) and what is not read exactly stay on the safe side: split */
	static const char *const off[] = {
		"EXPLAIN (ANALYZE 0) DELETE FROM t", "EXPLAIN (ANALYZE 00, COSTS off) DELETE FROM t",
		"EXPLAIN (analyse 'false') DELETE FROM t",
		"EXPLAIN (ANALYZE 'OFF') DELETE FROM t", "EXPLAIN (ANALYZE E'off') DELETE FROM t",
		"EXPLAIN (VERBOSE 1, ANALYZE 0) DELETE FROM t",
		"EXPLAIN (\"analyze\" 0) DELETE FROM t", "EXPLAIN (ANALYZE /* c */ 0) DELETE FROM t",
		"EXPLAIN (\"ANALYZE\") DELETE FROM t",   /* not an option PostgreSQL knows: an error */
	};
	static const char *const on[] = {
		"EXPLAIN (ANALYZE 1) DELETE FROM t", "EXPLAIN (ANALYZE 10) DELETE FROM t",
		"EXPLAIN (ANALYZE 0.0) DELETE FROM t", "EXPLAIN (ANALYZE 'on') DELETE FROM t",
		"EXPLAIN (ANALYZE 'fal''se') DELETE FROM t", "EXPLAIN (ANALYZE $$off$$) DELETE FROM t",
		"EXPLAIN (ANALYZE 0000000000000000000001) DELETE FROM t",
		"EXPLAIN (ANALYZE, VERBOSE 0) DELETE FROM t", "EXPLAIN (ANALYZE 1, COSTS 0) DELETE FROM t",
		/* a value belongs to the option word right before it, quoted or not (found in
		 * review: PostgreSQL 15 ran the DELETE of each of these) */
		"EXPLAIN (ANALYZE, \"costs\" 0) DELETE FROM t",
		"EXPLAIN (ANALYZE, \"costs\" 'off') DELETE FROM t",
		"EXPLAIN (ANALYZE, \"costs\" off) DELETE FROM t",
		"EXPLAIN (ANALYZE, U&\"costs\" false) DELETE FROM t",
		/* a quoted option name that PostgreSQL reads as ANALYZE */
		"EXPLAIN (\"analyze\") DELETE FROM t", "EXPLAIN (\"analyse\", COSTS off) DELETE FROM t",
		"EXPLAIN (U&\"\\0061nalyze\") DELETE FROM t",
	};
	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
		r = lex(off[i]);
		if (r->n != 1)
			fail_msg("%s: %d statements, want 1", off[i], r->n);
	}
	for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
		r = lex(on[i]);
		if (r->n != 2)
			fail_msg("%s: %d statements, want 2", on[i], r->n);
		assert_string_equal(norm(r, 1), "DELETE FROM T");
	}
}

static void test_do_execute(void **state)
{
	struct lexed *r = lex("DO $x$BEGIN EXECUTE 'drop table t'; END$x$");

	assert_int_equal(r->n, 3);
	assert_string_equal(norm(r, 1), "EXECUTE 'drop table t'");
	assert_int_equal(r->st[1].nested, 1);
	assert_string_equal(norm(r, 2), "DROP TABLE T");
	assert_int_equal(r->st[2].nested, 1);
	assert_string_equal(raw(r, 2), "drop table t");

	/* EXECUTE $q$..$q$, inside IF and FOR headers split at THEN / LOOP */
	r = lex("DO $$ BEGIN IF true THEN EXECUTE $q$TRUNCATE a$q$; END IF;"
		" FOR i IN 1..3 LOOP DELETE FROM b; END LOOP; END $$");
	assert_int_equal(r->n, 6);
	assert_string_equal(norm(r, 1), "IF TRUE");
	assert_string_equal(norm(r, 2), "EXECUTE $q$TRUNCATE a$q$");
	assert_string_equal(norm(r, 3), "TRUNCATE A");
	assert_string_equal(norm(r, 4), "FOR I IN 1 .. 3");
	assert_string_equal(norm(r, 5), "DELETE FROM B");

	/* EXECUTE outside a DO body is the prepared-statement EXECUTE */
	r = lex("EXECUTE 'drop table t'");
	assert_int_equal(r->n, 1);
}

/* Quoted bodies are decoded before they are lexed: '' and backslash escapes. */
static void test_do_quoted_bodies(void **state)
{
	struct lexed *r = lex("DO 'BEGIN EXECUTE ''drop table t''; END'");

	assert_int_equal(r->n, 3);
	assert_string_equal(norm(r, 1), "EXECUTE 'drop table t'");
	assert_string_equal(norm(r, 2), "DROP TABLE T");

	/* \n ends the -- comment inside the body; \x27 is a quote */
	r = lex("DO E'BEGIN --x\\nDROP TABLE a; EXECUTE \\x27drop table b\\x27; END'");
	assert_int_equal(r->n, 4);
	assert_string_equal(norm(r, 1), "DROP TABLE A");
	assert_string_equal(norm(r, 2), "EXECUTE 'drop table b'");
	assert_string_equal(norm(r, 3), "DROP TABLE B");

	/* U&'..' with the default escape and with UESCAPE */
	r = lex("DO U&'BEGIN \\0044ROP TABLE d; END'");
	assert_int_equal(r->n, 2);
	assert_string_equal(norm(r, 1), "DROP TABLE D");
	r = lex("DO U&'BEGIN !+000044ROP TABLE d; END' UESCAPE '!'");
	assert_int_equal(r->n, 2);
	assert_string_equal(norm(r, 1), "DROP TABLE D");

	/* a string continued on the next line is one body */
	r = lex("DO 'BEGIN DROP '\n  -- gap\n'TABLE t; END'");
	assert_int_equal(r->n, 2);
	assert_string_equal(norm(r, 1), "DROP TABLE T");
}

static void test_do_depth_bounded(void **state)
{
	/* each level one EXECUTE deeper; past SL_MAX_DEPTH the body is not lexed */
	struct lexed *r = lex("DO $a$BEGIN EXECUTE 'DO $b$BEGIN EXECUTE ''DO $c$BEGIN EXECUTE "
			      "''''drop table deep''''; END$c$''; END$b$'; END$a$");
	int found = 0;

	for (int i = 0; i < r->n; i++)
		found |= strcmp(norm(r, i), "DROP TABLE DEEP") == 0;
	assert_false(found);
	assert_true(r->out.flags & SQL_LEX_TRUNCATED);

	r = lex("DO $a$BEGIN EXECUTE 'DO $b$BEGIN EXECUTE ''drop table deep''; END$b$'; END$a$");
	assert_int_equal(r->n, 5);
	assert_string_equal(norm(r, 4), "DROP TABLE DEEP");
	assert_int_equal(r->out.flags, 0);
}

static void test_e_string(void **state)
{
	struct lexed *r = lex("SELECT E'a\\'b;c'; select 2");

	assert_int_equal(r->n, 2);
	assert_string_equal(norm(r, 0), "SELECT E'a\\'b;c'");
	assert_string_equal(fp(r, 0), "SELECT ?");
	expect1("select e'x\\\\', 1", "SELECT e'x\\\\', 1", "SELECT ?, ?");
	/* without E, a backslash does not escape (standard_conforming_strings) */
	r = lex("select 'a\\'; select 2");
	assert_int_equal(r->n, 2);
}

static void test_other_strings(void **state)
{
	expect1("select U&'d\\0061t\\+000061'", "SELECT U&'d\\0061t\\+000061'", "SELECT ?");
	expect1("select B'1010', x'1F', N'nat'", "SELECT B'1010', x'1F', N'nat'", "SELECT ?, ?, ?");
	/* 'a'<newline>'b' is one string, 'a' 'b' on one line two */
	expect1("select 'a'\n'b'", "SELECT 'a'\n'b'", "SELECT ?");
	expect1("select 'a' 'b'", "SELECT 'a' 'b'", "SELECT ? ?");
}

static void test_quoted_ident(void **state)
{
	struct lexed *r = lex("SELECT \"quoted;ident\" FROM \"a\"\"b\"; select 2");

	assert_int_equal(r->n, 2);
	assert_string_equal(norm(r, 0), "SELECT \"quoted;ident\" FROM \"a\"\"b\"");
	assert_string_equal(fp(r, 0), "SELECT \"quoted;ident\" FROM \"a\"\"b\"");
	expect1("select U&\"d\\0061t\" from t", "SELECT U&\"d\\0061t\" FROM T",
		"SELECT U&\"d\\0061t\" FROM T");
	r = lex("\"Drop\" table t");
	assert_string_equal(r->st[0].first_kw, "");
}

static void test_nested_comments(void **state)
{
	struct lexed *r = lex("/* a /* b */ DROP TABLE t */ SELECT 1");

	assert_int_equal(r->n, 1);
	assert_string_equal(norm(r, 0), "SELECT 1");
	assert_int_equal(r->out.flags, 0);
	expect1("select/**/1/*/ x */", "SELECT 1", "SELECT ?");
}

static void test_numbers(void **state)
{
	expect1("SELECT * FROM t WHERE id = 42 AND x = 3.5e2",
		"SELECT * FROM T WHERE ID = 42 AND X = 3.5e2",
		"SELECT * FROM T WHERE ID = ? AND X = ?");
	expect1("select .5e-3, 0x1F, 0o17, 0b101, 1_000, 1.5E+3, -7",
		"SELECT .5e-3, 0x1F, 0o17, 0b101, 1_000, 1.5E+3, - 7",
		"SELECT ?, ?, ?, ?, ?, ?, - ?");
	expect1("select a from t where id IN (1, 2,3)", "SELECT A FROM T WHERE ID IN (1, 2, 3)",
		"SELECT A FROM T WHERE ID IN (?, ?, ?)");
}

static void test_spacing_rule(void **state)
{
	const char *want = "SELECT COUNT (*), T.*, X::INT FROM S.T WHERE A = - 1 AND B [1] <> 2";

	expect1("select count(*),t.*,x::int from s.t where a=-1 and b[1]<>2", want,
		"SELECT COUNT (*), T.*, X::INT FROM S.T WHERE A = - ? AND B [?] <> ?");
	expect1("  select count ( * ) , t . * , x :: int\n\tfrom s . t where a = - 1 and b [ 1 ] <> 2  ",
		want, "SELECT COUNT (*), T.*, X::INT FROM S.T WHERE A = - ? AND B [?] <> ?");
	/* operators: longest run, trailing sign split off as PostgreSQL does */
	expect1("select a@-b, c=-d, e<=f, g!=-h", "SELECT A @- B, C = - D, E <= F, G !=- H",
		"SELECT A @- B, C = - D, E <= F, G !=- H");
	/* bytes >= 0x80 kept, identifiers upper-cased in ASCII only */
	expect1("select caf\xc3\xa9 from t\xc3\xa4", "SELECT CAF\xc3\xa9 FROM T\xc3\xa4",
		"SELECT CAF\xc3\xa9 FROM T\xc3\xa4");
}

static void test_first_kw(void **state)
{
	struct lexed *r = lex("((select 1)) union select 2; with x as (select 1) select * from x;"
			      " refresh materialized view concurrently_a_very_long_name_indeed");

	assert_int_equal(r->n, 3);
	assert_string_equal(r->st[0].first_kw, "SELECT");
	assert_string_equal(r->st[1].first_kw, "WITH");
	assert_string_equal(r->st[2].first_kw, "REFRESH");
	r = lex("averyveryverylongfirstword x");
	assert_string_equal(r->st[0].first_kw, "AVERYVERYVERYLO");
}

static void test_unterminated(void **state)
{
	static const char *const cases[] = {
		"select 'abc", "select /* abc /* */", "select \"abc", "select $q$ abc $q",
		"select E'abc\\'", "select U&'abc", "select $$", "DO $$ BEGIN DROP TABLE t;",
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lexed *r = lex(cases[i]);

		assert_true(r->out.flags & SQL_LEX_UNTERMINATED);
		assert_int_equal(r->n >= 1, 1);
		assert_string_equal(r->st[0].first_kw, i == 7 ? "DO" : "SELECT");
	}
	/* an unterminated DO body is still lexed */
	struct lexed *r = lex("DO $$ BEGIN DROP TABLE t;");
	assert_int_equal(r->n, 2);
	assert_string_equal(norm(r, 1), "DROP TABLE T");
}

static void test_nul_bytes(void **state)
{
	static const char sql[] = "select 1\0; drop table t; select '\0'";
	char normb[256], fpb[256];
	struct sql_stmt st[4];
	struct sql_lex_out o = { normb, sizeof(normb), fpb, sizeof(fpb), st, 4, 0, 0 };
	int n = sql_lex(sql, sizeof(sql) - 1, 0, &o);

	assert_int_equal(n, 3);
	assert_int_equal(st[0].norm_len, 10);   /* "SELECT 1 " + NUL byte */
	assert_memory_equal(normb + st[0].norm_off, "SELECT 1 \0", 10);
	assert_string_equal(normb + st[1].norm_off, "DROP TABLE T");
	assert_int_equal(st[2].fp_len, 8);
	assert_string_equal(fpb + st[2].fp_off, "SELECT ?");
}

/* Buffers of every small size: flagged, NUL-terminated, never overrun. */
static void test_tiny_buffers(void **state)
{
	static const char sql[] = "SELECT a, 'x' FROM t; DROP TABLE t; DO $$BEGIN DELETE FROM u; END$$";
	char normb[80], fpb[80];
	struct sql_stmt st[8];

	for (uint32_t cap = 0; cap < 64; cap++) {
		struct sql_lex_out o = { normb, cap, fpb, cap, st, 8, 0, 0 };
		int n;

		memset(normb, 0x5a, sizeof(normb));
		memset(fpb, 0x5a, sizeof(fpb));
		n = sql_lex(sql, strlen(sql), 0, &o);
		assert_int_equal(n, 4);
		for (uint32_t i = cap; i < sizeof(normb); i++) {
			assert_int_equal(normb[i], 0x5a);
			assert_int_equal(fpb[i], 0x5a);
		}
		if (cap < 62)
			assert_true(o.flags & SQL_LEX_TRUNCATED);
		for (int i = 0; i < n && cap > 0; i++) {
			assert_true(st[i].norm_off + st[i].norm_len < cap);
			assert_int_equal(normb[st[i].norm_off + st[i].norm_len], 0);
			assert_true(st[i].fp_off + st[i].fp_len < cap);
			assert_int_equal(fpb[st[i].fp_off + st[i].fp_len], 0);
		}
	}
	/* generous buffers: nothing flagged */
	struct lexed *r = lex(sql);
	assert_int_equal(r->n, 4);
	assert_int_equal(r->out.flags, 0);
}

static void test_stmts_cap(void **state)
{
	char normb[256], fpb[256];
	struct sql_stmt st[3];
	struct sql_lex_out o = { normb, sizeof(normb), fpb, sizeof(fpb), st, 2, 0, 0 };
	int n;

	memset(&st[2], 0x5a, sizeof(st[2]));
	n = sql_lex("select 1; select 2; select 3", 28, 0, &o);
	assert_int_equal(n, 2);
	assert_int_equal(o.n_stmts, 2);
	assert_true(o.flags & SQL_LEX_TRUNCATED);
	assert_string_equal(normb + st[1].norm_off, "SELECT 2");
	assert_int_equal(st[2].raw_off, 0x5a5a5a5a);

	/* the DO statement fits, its nested statement does not */
	o.stmts_cap = 1;
	n = sql_lex("DO $$BEGIN DROP TABLE t; END$$", 30, 0, &o);
	assert_int_equal(n, 1);
	assert_true(o.flags & SQL_LEX_TRUNCATED);

	/* no array at all */
	o.stmts = NULL;
	o.stmts_cap = 0;
	assert_int_equal(sql_lex("select 1", 8, 0, &o), 0);
	assert_true(o.flags & SQL_LEX_TRUNCATED);
	assert_int_equal(sql_lex("", 0, 0, &o), 0);
	assert_int_equal(o.flags, 0);
}

static void test_mysql(void **state)
{
	struct lexed *r = lex_d("SELECT 1 # c; DROP TABLE t\n; select 2", SQL_LEX_MYSQL);

	assert_int_equal(r->n, 2);
	assert_string_equal(norm(r, 0), "SELECT 1");
	assert_string_equal(norm(r, 1), "SELECT 2");

	/* executable comments are code */
	r = lex_d("/*!50000 DROP TABLE t */", SQL_LEX_MYSQL);
	assert_int_equal(r->n, 1);
	assert_string_equal(norm(r, 0), "DROP TABLE T");
	assert_string_equal(r->st[0].first_kw, "DROP");
	r = lex_d("select 1 /*!drop*/ /*M!100100 table */ t /* plain */", SQL_LEX_MYSQL);
	assert_string_equal(norm(r, 0), "SELECT 1 DROP TABLE T");

	/* backquotes, backslash escapes in both quote kinds */
	r = lex_d("SELECT `a;``b`, 'it\\'s;', \"x\\\";y\" FROM t; select 2", SQL_LEX_MYSQL);
	assert_int_equal(r->n, 2);
	assert_string_equal(norm(r, 0), "SELECT `a;``b`, 'it\\'s;', \"x\\\";y\" FROM T");
	assert_string_equal(fp(r, 0), "SELECT `a;``b`, ?, ? FROM T");

	/* -- needs a space; comments do not nest */
	r = lex_d("select 1--1, 2-- c\n", SQL_LEX_MYSQL);
	assert_string_equal(norm(r, 0), "SELECT 1 - - 1, 2");
	r = lex_d("/* a /* b */ DROP TABLE t", SQL_LEX_MYSQL);
	assert_string_equal(norm(r, 0), "DROP TABLE T");
	/* no dollar quotes; placeholders and variables */
	r = lex_d("select $$a; select ? , @x, @@version", SQL_LEX_MYSQL);
	assert_int_equal(r->n, 2);
	assert_string_equal(norm(r, 1), "SELECT ?, @X, @@VERSION");
	/* # is an operator in PostgreSQL */
	expect1("select 1 # 2", "SELECT 1 # 2", "SELECT ? # ?");
	/* unterminated executable comment */
	r = lex_d("select /*! 1", SQL_LEX_MYSQL);
	assert_true(r->out.flags & SQL_LEX_UNTERMINATED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_comment_between_keywords),
		cmocka_unit_test(test_string_is_not_code),
		cmocka_unit_test(test_line_comment),
		cmocka_unit_test(test_multi_statement),
		cmocka_unit_test(test_dollar_quotes),
		cmocka_unit_test(test_do_block),
		cmocka_unit_test(test_do_execute),
		cmocka_unit_test(test_inner_statements),
		cmocka_unit_test(test_do_quoted_bodies),
		cmocka_unit_test(test_do_depth_bounded),
		cmocka_unit_test(test_e_string),
		cmocka_unit_test(test_other_strings),
		cmocka_unit_test(test_quoted_ident),
		cmocka_unit_test(test_nested_comments),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_spacing_rule),
		cmocka_unit_test(test_first_kw),
		cmocka_unit_test(test_unterminated),
		cmocka_unit_test(test_nul_bytes),
		cmocka_unit_test(test_tiny_buffers),
		cmocka_unit_test(test_stmts_cap),
		cmocka_unit_test(test_mysql),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
