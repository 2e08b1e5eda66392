/* test_rules.c - the rule engine: loading and its errors, compiling and the cache,
 * judging commands (precedence, resources, protocols, targets, unless), masking
 * (formats, field mapping, boundaries, columns, slices) and scratch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "common/tg_log.h"
#include "rules/rule.h"
#include "rules/rule_int.h"      /* white box: cache counters */

static char tdir[64];             /* this run's temporary directory */
static unsigned tfile_no;

/* ---- helpers ----------------------------------------------------------------------- */

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

static int group_setup(void **state)
{
	snprintf(tdir, sizeof(tdir), "/tmp/tg-test-rules-XXXXXX");
	tg_log_set_level(TG_LOG_ERROR);
	return mkdtemp(tdir) != NULL ? 0 : -1;
}

static int group_teardown(void **state)
{
	return nftw(tdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes <text> into a new file of the temporary directory; returns its path (static
 * storage, valid until the next call). */
static const char *write_tmp(const char *text)
{
	static char path[2][128];
	static unsigned which;
	char *p = path[which++ % 2];
	FILE *f;

	snprintf(p, 128, "%s/r%u.conf", tdir, tfile_no++);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return p;
}

/* Loads <text> as one rule file; fails the test with the error if it does not load. */
static struct rule_set *load_ok(const char *text, const struct dp_config *res, const char *cache)
{
	const char *path = write_tmp(text);
	struct rule_set *rs = NULL;
	char err[1024];

	if (rule_set_load(&path, 1, res, cache, &rs, err, sizeof(err)) != 0)
		fail_msg("load failed: %s", err);
	return rs;
}

/* Loads <text>, which must fail with an error that names the file, the line marked
 * "# <- error" (if any) and contains <want>. */
static void load_bad(const char *text, const struct dp_config *res, const char *want)
{
	const char *path = write_tmp(text), *mark = strstr(text, "# <- error");
	struct rule_set *rs = NULL;
	char err[1024], prefix[256];

	if (rule_set_load(&path, 1, res, NULL, &rs, err, sizeof(err)) != -1)
		fail_msg("loaded, but should fail with \"%s\":\n%s", want, text);
	assert_null(rs);
	if (mark != NULL) {
		unsigned line = 1;

		for (const char *p = text; p < mark; p++)
			line += *p == '\n';
		snprintf(prefix, sizeof(prefix), "%s:%u: ", path, line);
	} else {
		snprintf(prefix, sizeof(prefix), "%s", path);
	}
	if (strncmp(err, prefix, strlen(prefix)) != 0 || strstr(err, want) == NULL)
		fail_msg("error \"%s\"\n   wanted prefix \"%s\" and \"%s\"", err, prefix, want);
}

/* A configuration naming <n> resources, given as strings (calloc'ed: free() it). */
static struct dp_config *res_named(unsigned n, ...)
{
	struct dp_config *res = calloc(1, sizeof(*res));
	va_list ap;

	assert_non_null(res);
	res->n_resources = n;
	va_start(ap, n);
	for (unsigned i = 0; i < n; i++)
		snprintf(res->resources[i].name, DP_NAME_MAX, "%s", va_arg(ap, const char *));
	va_end(ap);
	return res;
}

static struct rule_scratch *scratch_for(const struct rule_set *rs)
{
	struct rule_scratch *s = NULL;

	assert_int_equal(rule_scratch_alloc(rs, &s), 0);
	assert_non_null(s);
	return s;
}

/* Judges <text> as statement, fingerprint and raw text at once. */
static struct rule_verdict check(const struct rule_set *rs, struct rule_scratch *s, uint8_t proto,
				 uint16_t res, const char *text)
{
	struct rule_verdict v;
	uint32_t n = (uint32_t)strlen(text);

	assert_int_equal(rule_check_command(rs, s, proto, res, text, n, text, n, text, n, &v), 0);
	return v;
}

/* Masks one field holding <in>, which sits after a one-byte prefix <pre> in the buffer
 * (so that the byte before the field is not a boundary); returns the field (static). */
static const char *mask_one(const struct rule_set *rs, struct rule_scratch *s, uint16_t res,
			    char pre, const char *in, struct rule_mask_stats *st)
{
	static char buf[4096];
	struct rule_field f = { .off = 1, .len = (uint32_t)strlen(in), .col_rule = -1 };

	buf[0] = pre;
	snprintf(buf + 1, sizeof(buf) - 2, "%s", in);
	buf[1 + f.len] = pre;
	assert_int_equal(rule_mask_fields(rs, s, DP_PROTO_PG, res, (uint8_t *)buf, f.len + 2, &f, 1, st), 0);
	assert_int_equal(buf[0], pre);
	assert_int_equal(buf[1 + f.len], pre);
	buf[1 + f.len] = '\0';
	return buf + 1;
}

static void sha256_hex(const char *text, char *out)
{
	unsigned char d[32];
	unsigned dl = 0;

	assert_int_equal(EVP_Digest(text, strlen(text), d, &dl, EVP_sha256(), NULL), 1);
	for (unsigned i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

/* The example of docs/rules.md. */
static const char example[] =
	"rules = (\n"
	"  { id = \"sql.drop-table\"; action = \"block\"; protocols = [\"postgresql\", \"mysql\"];\n"
	"    resources = [\"*\"]; target = \"statement\"; patterns = [\"^DROP\\\\s+TABLE\\\\b\"];\n"
	"    message = \"dropping tables is not allowed\"; },\n"
	"  { id = \"pii.card\"; action = \"mask\"; protocols = [\"postgresql\"]; target = \"field\";\n"
	"    patterns = [\"\\\\b[3-6]\\\\d{3}(?:[ -]?\\\\d{4}){2}[ -]?\\\\d{1,4}\\\\b\"]; validator = \"luhn\";\n"
	"    mask = { keep_last = 4; char = \"*\"; preserve_class = true; }; },\n"
	"  { id = \"pii.ssn-column\"; action = \"mask\"; target = \"column\"; columns = [\"ssn\", \"national_id\"]; mask = { keep_last = 0; }; }\n"
	");\n";

/* ---- loading --------------------------------------------------------------------------- */

static void test_load_example(void **state)
{
	struct rule_set *rs = load_ok(example, NULL, NULL);
	char hex[65];

	assert_int_equal(rule_set_count(rs), 3);
	assert_string_equal(rule_id(rs, 0), "sql.drop-table");
	assert_string_equal(rule_id(rs, 2), "pii.ssn-column");
	assert_int_equal(rule_action(rs, 0), RULE_BLOCK);
	assert_int_equal(rule_action(rs, 1), RULE_MASK);
	assert_null(rule_id(rs, 3));
	assert_int_equal(rule_action(rs, 3), RULE_ALLOW);
	/* one file: the set hash is the file's SHA-256 */
	sha256_hex(example, hex);
	assert_string_equal(rule_set_hash(rs), hex);
	rule_set_free(rs);
	rule_set_free(NULL);
	assert_int_equal(rule_set_count(NULL), 0);
}

static void test_load_errors(void **state)
{
	struct dp_config *res = res_named(2, "orders-db", "billing-db");

	load_bad("rules = (\n { id = \"a\"; action = ; patterns = [\"x\"]; } # <- error\n);\n",
		 NULL, "syntax error");
	load_bad("rules = (\n { id = \"a\"; action = \"block\";\n   pattern = [\"x\"]; # <- error\n });\n",
		 NULL, "rule a: unknown setting \"pattern\" (did you mean \"patterns\"?)");
	load_bad("rules = (\n { id = \"a\"; action = \"block\"; patterns = [\"x\"]; colour = 1; # <- error\n });\n",
		 NULL, "rule a: unknown setting \"colour\"");
	load_bad("rules = (\n { id = \"a\"; action = \"block\"; patterns = [\"x\"]; },\n"
		 " { id = \"a\"; action = \"alert\"; patterns = [\"y\"]; } # <- error\n);\n",
		 NULL, "rule a: duplicate id (first defined at ");
	load_bad("rules = (\n { id = \"Sql.Drop\"; action = \"block\"; patterns = [\"x\"]; } # <- error\n);\n",
		 NULL, "only a-z, 0-9");
	load_bad("rules = (\n { action = \"block\"; patterns = [\"x\"]; } # <- error\n);\n",
		 NULL, "rule #1: missing setting \"id\"");
	load_bad("rules = (\n { id = \"a\"; patterns = [\"x\"]; } # <- error\n);\n",
		 NULL, "rule a: missing setting \"action\"");
	load_bad("rules = (\n { id = \"a\"; action = \"deny\"; patterns = [\"x\"]; } # <- error\n);\n",
		 NULL, "action \"deny\": must be one of");
	load_bad("rules = (\n { id = \"a\"; action = \"block\"; protocols = [\"pg\", \"oracle\"]; # <- error\n"
		 "   patterns = [\"x\"]; });\n", NULL, "unknown protocol \"oracle\"");
	load_bad("rules = (\n { id = \"a\"; action = \"block\"; target = \"rows\"; patterns = [\"x\"]; } # <- error\n);\n",
		 NULL, "target \"rows\": must be one of");
	load_bad("rules = (\n { id = \"m\"; action = \"mask\"; target = \"statement\"; patterns = [\"x\"]; } # <- error\n);\n",
		 NULL, "rule m: action mask needs target field or column");
	load_bad("rules = (\n { id = \"b\"; action = \"block\"; target = \"field\"; patterns = [\"x\"]; } # <- error\n);\n",
		 NULL, "rule b: target field is for mask rules");
	load_bad("rules = (\n { id = \"b\"; action = \"block\"; patterns = [\"x\"];\n"
		 "   mask = { keep_last = 4; }; } # <- error\n);\n", NULL, "\"mask\" needs action mask");
	load_bad("rules = (\n { id = \"m\"; action = \"mask\"; patterns = [\"x\"]; validator = \"crc\"; # <- error\n });\n",
		 NULL, "validator \"crc\": unknown (known: none, luhn, iban, ssn)");
	load_bad("rules = (\n { id = \"b\"; action = \"block\"; patterns = [\"x\"]; validator = \"luhn\"; } # <- error\n);\n",
		 NULL, "\"validator\" is only for target field");
	load_bad("rules = (\n { id = \"c\"; action = \"mask\"; target = \"column\"; } # <- error\n);\n",
		 NULL, "target column needs \"columns\"");
	load_bad("rules = (\n { id = \"c\"; action = \"mask\"; target = \"column\"; columns = [\"a\"];\n"
		 "   patterns = [\"x\"]; } # <- error\n);\n", NULL, "\"patterns\" cannot be used with target column");
	load_bad("rules = (\n { id = \"c\"; action = \"mask\"; target = \"field\"; columns = [\"a\"]; # <- error\n"
		 "   patterns = [\"x\"]; }\n);\n", NULL, "\"columns\" is only for target column");
	load_bad("rules = (\n { id = \"u\"; action = \"mask\"; patterns = [\"x\"]; unless = [\"y\"]; } # <- error\n);\n",
		 NULL, "\"unless\" is only for targets statement");
	load_bad("rules = (\n { id = \"b\"; action = \"block\"; } # <- error\n);\n",
		 NULL, "missing setting \"patterns\"");
	load_bad("rules = (\n { id = \"b\"; action = \"block\"; patterns = []; # <- error\n });\n",
		 NULL, "patterns: must not be empty");
	load_bad("rules = (\n { id = \"b\"; action = \"block\"; patterns = [\"\"]; # <- error\n });\n",
		 NULL, "a pattern must not be empty");
	load_bad("rules = (\n { id = \"b\"; action = \"block\"; patterns = [1]; # <- error\n });\n",
		 NULL, "patterns: must be a string or an array of strings");
	load_bad("rules = (\n { id = \"b\"; action = \"block\"; patterns = [\"x\"];\n"
		 "   message = \"bad\\nline\"; } # <- error\n);\n", NULL, "control characters");
	load_bad("rules = (\n { id = \"m\"; action = \"mask\"; patterns = [\"x\"];\n"
		 "   mask = { keep_lst = 4; }; } # <- error\n);\n",
		 NULL, "mask: unknown setting \"keep_lst\" (did you mean \"keep_last\"?)");
	load_bad("rules = (\n { id = \"m\"; action = \"mask\"; patterns = [\"x\"];\n"
		 "   mask = { char = \"**\"; }; } # <- error\n);\n", NULL, "mask.char: must be one printable");
	load_bad("rules = (\n { id = \"m\"; action = \"mask\"; patterns = [\"x\"];\n"
		 "   mask = { keep_first = -1; }; } # <- error\n);\n", NULL, "mask.keep_first: must be between 0 and 1024");
	load_bad("rules = (\n { id = \"b\"; action = \"block\"; patterns = [\"x\"]; enabled = 1; } # <- error\n);\n",
		 NULL, "enabled: must be true or false");
	load_bad("rules = (\n { id = \"b\"; action = \"block\"; patterns = [\"x\"]; min_digits = 3; } # <- error\n);\n",
		 NULL, "\"min_digits\" is only for target field");
	load_bad("rules = (\n { id = \"m\"; action = \"mask\"; patterns = [\"x\"]; min_digits = 65; } # <- error\n);\n",
		 NULL, "min_digits: must be between 0 and 64");
	load_bad("rules = (\n { id = \"b\"; action = \"block\"; patterns = [\"x\"]; min_upper = 2; } # <- error\n);\n",
		 NULL, "\"min_upper\" is only for target field");
	load_bad("rules = (\n { id = \"m\"; action = \"mask\"; patterns = [\"x\"]; min_upper = 65; } # <- error\n);\n",
		 NULL, "min_upper: must be between 0 and 64");
	load_bad("rules = (\n { id = \"m\"; action = \"mask\"; patterns = [\"x\"]; min_upper = \"2\"; } # <- error\n);\n",
		 NULL, "min_upper: must be an integer");
	load_bad("rules = (\n { id = \"m\"; action = \"mask\"; patterns = [\"[a-z]{2}\"]; nocase = true;\n"
		 "   min_upper = 2; } # <- error\n);\n", NULL, "\"min_upper\" cannot be kept by a nocase rule");
	load_bad("rule = (); # <- error\n", NULL, "unknown setting \"rule\"");
	load_bad("# nothing here\n", NULL, "missing setting \"rules\"");
	load_bad("@include \"other.conf\" # <- error\nrules = ();\n", NULL, "@include is not supported");
	/* resources: names from the configuration, or "*" */
	load_bad("rules = (\n { id = \"r\"; action = \"block\"; patterns = [\"x\"];\n"
		 "   resources = [\"orders-db\", \"crm-db\"]; } # <- error\n);\n", res,
		 "rule r: resources: unknown resource \"crm-db\"");
	load_bad("rules = (\n { id = \"r\"; action = \"block\"; patterns = [\"x\"];\n"
		 "   resources = [\"orders-db\"]; } # <- error\n);\n", NULL, "no resources are configured");
	free(res);
}

/* Hyperscan's errors come back to the rule and the pattern that caused them: the
 * failing expression index of hs_compile_multi is mapped to its rule. */
static void test_load_bad_regex(void **state)
{
	static const char text[] =
		"rules = (\n"
		" { id = \"ok.one\"; action = \"block\"; patterns = [\"^DROP\", \"^TRUNCATE\"]; },\n"
		" { id = \"bad.two\"; action = \"alert\"; patterns = [\n"
		"     \"^SELECT\",\n"
		"     \"(unclosed\" # <- error\n"
		" ]; }\n"
		");\n";

	load_bad(text, NULL, "rule bad.two: pattern \"(unclosed\": Missing close parenthesis");
	/* an unless pattern */
	load_bad("rules = (\n { id = \"u\"; action = \"block\"; patterns = [\"^DELETE\"];\n"
		 "   unless = [\"[z-a]\"]; } # <- error\n);\n", NULL, "rule u: unless pattern \"[z-a]\"");
	/* a field pattern, and a pattern of a disabled rule (checked, never compiled) */
	load_bad("rules = (\n { id = \"f\"; action = \"mask\"; patterns = [\"a{2,1}\"]; } # <- error\n);\n",
		 NULL, "rule f: pattern \"a{2,1}\"");
	load_bad("rules = (\n { id = \"d\"; action = \"block\"; enabled = false;\n"
		 "   patterns = [\"(?<name\"]; } # <- error\n);\n", NULL, "rule d: pattern \"(?<name\"");
	/* an empty match is refused, not silently matched everywhere */
	load_bad("rules = (\n { id = \"e\"; action = \"block\"; patterns = [\"x*\"]; } # <- error\n);\n",
		 NULL, "rule e: pattern \"x*\"");
}

static void test_load_files(void **state)
{
	static const char a[] = "rules = ( { id = \"a\"; action = \"block\"; patterns = [\"^A\"]; } );\n";
	static const char b[] = "rules = ( { id = \"b\"; action = \"alert\"; patterns = [\"^B\"]; } );\n";
	static const char dup[] = "rules = (\n { id = \"a\"; action = \"alert\"; patterns = [\"^B\"]; }\n);\n";
	char pa[128], pb[128], pd[128], err[1024];
	const char *files[2] = { pa, pb };
	struct rule_set *rs = NULL;

	snprintf(pa, sizeof(pa), "%s", write_tmp(a));
	snprintf(pb, sizeof(pb), "%s", write_tmp(b));
	snprintf(pd, sizeof(pd), "%s", write_tmp(dup));
	assert_int_equal(rule_set_load(files, 2, NULL, NULL, &rs, err, sizeof(err)), 0);
	assert_int_equal(rule_set_count(rs), 2);
	assert_string_equal(rule_id(rs, 1), "b");
	rule_set_free(rs);
	/* a duplicate id in another file names both places */
	files[1] = pd;
	assert_int_equal(rule_set_load(files, 2, NULL, NULL, &rs, err, sizeof(err)), -1);
	assert_non_null(strstr(err, pd));
	assert_non_null(strstr(err, ":2: rule a: duplicate id (first defined at "));
	assert_non_null(strstr(err, pa));
	/* a missing file, and no file at all */
	files[1] = "/nonexistent/rules.conf";
	assert_int_equal(rule_set_load(files, 2, NULL, NULL, &rs, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/rules.conf: cannot open"));
	assert_int_equal(rule_set_load(files, 0, NULL, NULL, &rs, err, sizeof(err)), -1);
	assert_null(rs);
}

/* ---- commands -------------------------------------------------------------------------- */

static void test_check_precedence(void **state)
{
	struct rule_set *rs = load_ok(
		"rules = (\n"
		" { id = \"a.alert\"; action = \"alert\"; patterns = [\"^DELETE\"]; },\n"
		" { id = \"b.review\"; action = \"review\"; patterns = [\"\\\\bFROM\\\\b\"]; },\n"
		" { id = \"c.block\"; action = \"block\"; patterns = [\"^DELETE\\\\s+FROM\"]; message = \"no\"; },\n"
		" { id = \"d.block\"; action = \"block\"; patterns = [\"\\\\bUSERS\\\\b\"]; },\n"
		" { id = \"e.alert\"; action = \"alert\"; patterns = [\"USERS\"]; },\n"
		" { id = \"f.reset\"; action = \"reset\"; patterns = [\"^SHUTDOWN\"]; }\n"
		");\n", NULL, NULL);
	struct rule_scratch *s = scratch_for(rs);
	struct rule_verdict v;

	/* block beats review and alert; the first of two blocks decides; alerts counted */
	v = check(rs, s, DP_PROTO_PG, 0, "DELETE FROM USERS");
	assert_int_equal(v.action, RULE_BLOCK);
	assert_int_equal(v.rule, 2);
	assert_string_equal(v.id, "c.block");
	assert_string_equal(v.message, "no");
	assert_int_equal(v.n_alerts, 2);
	v = check(rs, s, DP_PROTO_PG, 0, "SELECT * FROM USERS");
	assert_string_equal(v.id, "d.block");
	assert_string_equal(v.message, "blocked by policy rule d.block");
	assert_int_equal(v.n_alerts, 1);
	v = check(rs, s, DP_PROTO_PG, 0, "SELECT * FROM T");
	assert_int_equal(v.action, RULE_REVIEW);
	assert_string_equal(v.message, "held for review by policy rule b.review");
	v = check(rs, s, DP_PROTO_PG, 0, "DELETE");
	assert_int_equal(v.action, RULE_ALERT);
	assert_string_equal(v.id, "a.alert");
	assert_string_equal(v.message, "matched policy rule a.alert");
	assert_int_equal(v.n_alerts, 1);
	v = check(rs, s, DP_PROTO_PG, 0, "SHUTDOWN USERS");
	assert_int_equal(v.action, RULE_RESET);
	v = check(rs, s, DP_PROTO_PG, 0, "SELECT 1");
	assert_int_equal(v.action, RULE_ALLOW);
	assert_int_equal(v.rule, -1);
	assert_null(v.id);
	assert_int_equal(v.n_alerts, 0);
	rule_scratch_free(s);
	rule_set_free(rs);
}

static void test_check_scope(void **state)
{
	struct dp_config *res = res_named(3, "orders-db", "billing-db", "cache");
	struct rule_set *rs;
	struct rule_scratch *s;
	struct rule_verdict v;

	rs = load_ok(
		"rules = (\n"
		" { id = \"orders.only\"; action = \"block\"; resources = \"orders-db\"; patterns = [\"^DROP\"]; },\n"
		" { id = \"mysql.only\"; action = \"block\"; protocols = [\"mysql\"]; patterns = [\"^KILL\"]; },\n"
		" { id = \"two\"; action = \"block\"; resources = [\"orders-db\", \"cache\"]; protocols = \"redis\";\n"
		"   patterns = [\"^FLUSHALL\"]; },\n"
		" { id = \"everywhere\"; action = \"alert\"; resources = [\"*\"]; patterns = [\"^DROP\"]; }\n"
		");\n", res, NULL);
	s = scratch_for(rs);
	v = check(rs, s, DP_PROTO_PG, 0, "DROP TABLE T");
	assert_string_equal(v.id, "orders.only");
	v = check(rs, s, DP_PROTO_PG, 1, "DROP TABLE T");
	assert_string_equal(v.id, "everywhere");
	v = check(rs, s, DP_PROTO_PG, 0xffff, "DROP TABLE T");  /* no particular resource */
	assert_string_equal(v.id, "everywhere");
	v = check(rs, s, DP_PROTO_PG, 0, "KILL 12");
	assert_int_equal(v.action, RULE_ALLOW);
	v = check(rs, s, DP_PROTO_MYSQL, 0, "KILL 12");
	assert_string_equal(v.id, "mysql.only");
	v = check(rs, s, DP_PROTO_REDIS, 2, "FLUSHALL");
	assert_string_equal(v.id, "two");
	v = check(rs, s, DP_PROTO_REDIS, 1, "FLUSHALL");
	assert_int_equal(v.action, RULE_ALLOW);
	/* protocols without rules, protocols out of range */
	v = check(rs, s, DP_PROTO_NONE, 0, "DROP TABLE T");
	assert_int_equal(v.action, RULE_ALLOW);
	assert_int_equal(rule_check_command(rs, s, DP_PROTO__MAX, 0, "DROP", 4, NULL, 0, NULL, 0, &v), 0);
	assert_int_equal(v.action, RULE_ALLOW);
	rule_scratch_free(s);
	rule_set_free(rs);
	free(res);
}

static void test_check_targets(void **state)
{
	struct rule_set *rs = load_ok(
		"rules = (\n"
		" { id = \"stmt\"; action = \"block\"; patterns = [\"^drop table\"]; },\n"
		" { id = \"stmt.case\"; action = \"block\"; nocase = false; patterns = [\"^truncate\"]; },\n"
		" { id = \"fp\"; action = \"review\"; target = \"fingerprint\"; patterns = [\"= \\\\?$\"]; },\n"
		" { id = \"raw\"; action = \"alert\"; target = \"raw\"; patterns = [\"/\\\\*\"]; },\n"
		" { id = \"off\"; action = \"reset\"; enabled = false; patterns = [\"^SELECT\"]; }\n"
		");\n", NULL, NULL);
	struct rule_scratch *s = scratch_for(rs);
	struct rule_verdict v;
	const char *norm = "DROP TABLE T", *fp = "SELECT * FROM T WHERE A = ?";
	const char *raw = "dRoP/**/TaBlE t";

	assert_int_equal(rule_set_count(rs), 5);          /* the disabled rule is loaded */
	/* statement rules are case-insensitive by default; nocase = false is exact */
	assert_int_equal(rule_check_command(rs, s, DP_PROTO_PG, 0, norm, 12, NULL, 0, NULL, 0, &v), 0);
	assert_string_equal(v.id, "stmt");
	v = check(rs, s, DP_PROTO_PG, 0, "TRUNCATE T");
	assert_int_equal(v.action, RULE_ALLOW);
	v = check(rs, s, DP_PROTO_PG, 0, "truncate t");
	assert_string_equal(v.id, "stmt.case");
	/* each target sees its own text only */
	assert_int_equal(rule_check_command(rs, s, DP_PROTO_PG, 0, NULL, 0, fp, (uint32_t)strlen(fp),
					    NULL, 0, &v), 0);
	assert_string_equal(v.id, "fp");
	assert_int_equal(rule_check_command(rs, s, DP_PROTO_PG, 0, fp, (uint32_t)strlen(fp), NULL, 0,
					    NULL, 0, &v), 0);
	assert_int_equal(v.action, RULE_ALLOW);
	assert_int_equal(rule_check_command(rs, s, DP_PROTO_PG, 0, norm, 12, NULL, 0, raw,
					    (uint32_t)strlen(raw), &v), 0);
	assert_string_equal(v.id, "stmt");
	assert_int_equal(v.n_alerts, 1);
	/* disabled: never matches */
	v = check(rs, s, DP_PROTO_PG, 0, "SELECT 1");
	assert_int_equal(v.action, RULE_ALLOW);
	/* no scratch is an error, the verdict stays allow */
	assert_int_equal(rule_check_command(rs, NULL, DP_PROTO_PG, 0, norm, 12, NULL, 0, NULL, 0, &v), -1);
	assert_int_equal(v.action, RULE_ALLOW);
	rule_scratch_free(s);
	rule_set_free(rs);
}

static void test_check_unless(void **state)
{
	struct rule_set *rs = load_ok(
		"rules = (\n"
		" { id = \"del\"; action = \"block\"; target = \"fingerprint\"; patterns = [\"^DELETE\\\\b\"];\n"
		"   unless = [\"\\\\bWHERE\\\\b\", \"\\\\bLIMIT\\\\b\"]; },\n"
		" { id = \"upd\"; action = \"review\"; target = \"fingerprint\"; patterns = [\"^UPDATE\\\\b\"];\n"
		"   unless = \"\\\\bWHERE\\\\b\"; },\n"
		" { id = \"any\"; action = \"alert\"; patterns = [\"^DELETE\"]; }\n"
		");\n", NULL, NULL);
	struct rule_scratch *s = scratch_for(rs);
	struct rule_verdict v;

	v = check(rs, s, DP_PROTO_PG, 0, "DELETE FROM T");
	assert_string_equal(v.id, "del");
	assert_int_equal(v.n_alerts, 1);
	v = check(rs, s, DP_PROTO_PG, 0, "DELETE FROM T WHERE ID = ?");
	assert_string_equal(v.id, "any");
	v = check(rs, s, DP_PROTO_PG, 0, "DELETE FROM T LIMIT ?");
	assert_string_equal(v.id, "any");
	v = check(rs, s, DP_PROTO_PG, 0, "DELETE FROM NOTES_WHERE");   /* no word boundary */
	assert_string_equal(v.id, "del");
	v = check(rs, s, DP_PROTO_PG, 0, "UPDATE T SET A = ?");
	assert_string_equal(v.id, "upd");
	v = check(rs, s, DP_PROTO_PG, 0, "UPDATE T SET A = ? WHERE B = ?");
	assert_int_equal(v.action, RULE_ALLOW);
	/* the bits of one command do not leak into the next */
	v = check(rs, s, DP_PROTO_PG, 0, "UPDATE T SET A = ?");
	assert_string_equal(v.id, "upd");
	rule_scratch_free(s);
	rule_set_free(rs);
}

/* One scratch serves several sets once grown over each; a scratch too small for a set
 * is refused by the scan, not overrun. */
static void test_scratch(void **state)
{
	struct rule_set *small = load_ok(
		"rules = ( { id = \"a\"; action = \"block\"; patterns = [\"^A\"]; } );\n", NULL, NULL);
	struct rule_set *big = load_ok(
		"rules = (\n"
		" { id = \"a\"; action = \"block\"; patterns = [\"^A\"]; },\n"
		" { id = \"u\"; action = \"block\"; patterns = [\"^U\"]; unless = [\"X\"]; },\n"
		" { id = \"v\"; action = \"block\"; patterns = [\"^V\"]; unless = [\"X\"]; },\n"
		" { id = \"w\"; action = \"alert\"; patterns = [\"(?:a|b|c)[a-z]{3,40}[0-9]{2,9}(?:x|y)+\"]; },\n"
		" { id = \"m\"; action = \"mask\"; patterns = [\"\\\\b[a-z]+@[a-z]+\\\\.[a-z]{2,}\\\\b\"]; }\n"
		");\n", NULL, NULL);
	struct rule_scratch *s = scratch_for(small);
	struct rule_verdict v;

	v = check(small, s, DP_PROTO_PG, 0, "A");
	assert_string_equal(v.id, "a");
	/* the small scratch has no unless bits for the big set */
	assert_int_equal(rule_check_command(big, s, DP_PROTO_PG, 0, "U", 1, NULL, 0, NULL, 0, &v), -1);
	assert_int_equal(rule_scratch_alloc(big, &s), 0);
	v = check(big, s, DP_PROTO_PG, 0, "U");
	assert_string_equal(v.id, "u");
	v = check(big, s, DP_PROTO_PG, 0, "UX");
	assert_int_equal(v.action, RULE_ALLOW);
	v = check(small, s, DP_PROTO_PG, 0, "A");
	assert_string_equal(v.id, "a");
	assert_int_equal(rule_scratch_alloc(NULL, &s), -1);
	rule_scratch_free(s);
	rule_scratch_free(NULL);
	rule_set_free(small);
	rule_set_free(big);
}

/* ---- masking ----------------------------------------------------------------------------- */

static void apply(const struct rule_mask *m, const char *in, const char *want)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s", in);
	rule_mask_apply(m, (uint8_t *)buf, (uint32_t)strlen(buf));
	assert_string_equal(buf, want);
}

static void test_mask_apply(void **state)
{
	struct rule_mask m = { .keep_last = 4, .ch = '*', .preserve_class = 1 };

	apply(&m, "4111 1111 1111 1111", "**** **** **** 1111");
	apply(&m, "4111-1111-1111-1111", "****-****-****-1111");
	m.keep_first = 4;
	m.keep_last = 0;
	apply(&m, "4111 1111 1111 1111", "4111 **** **** ****");
	m.keep_first = 1;
	apply(&m, "jane.doe@example.com", "j***.***@*******.***");
	m.keep_first = 2;
	m.keep_last = 4;
	apply(&m, "DE89 3704 0044 0532 0130 00", "DE** **** **** **** **30 00");
	/* without preserve_class every character counts and is masked */
	m = (struct rule_mask){ .keep_last = 4, .ch = 'X', .preserve_class = 0 };
	apply(&m, "4111 1111 1111 1111", "XXXXXXXXXXXXXXX1111");
	apply(&m, "$2b$12$abc", "XXXXXX$abc");
	/* too short to keep that much: hidden whole */
	m = (struct rule_mask){ .keep_last = 4, .ch = '*', .preserve_class = 1 };
	apply(&m, "123", "***");
	apply(&m, "12-34", "**-**");
	apply(&m, "12345", "*2345");
	/* a zero mask character means '*'; an empty value stays empty */
	m = (struct rule_mask){ 0 };
	apply(&m, "ab-c", "****");
	apply(&m, "", "");
	/* UTF-8: a character is kept or masked whole, bytes stay as many */
	m = (struct rule_mask){ .keep_first = 1, .ch = '*', .preserve_class = 1 };
	apply(&m, "Zo\xc3\xab \xc3\x9cnal", "Z*** *****");
	m = (struct rule_mask){ .keep_last = 1, .ch = '*', .preserve_class = 1 };
	apply(&m, "Zo\xc3\xab", "**\xc3\xab");
	rule_mask_apply(NULL, (uint8_t *)"x", 1);
}

/* rule_mask_apply() as it was before its ASCII fast path (the general loop, one
 * character at a time), to compare the fast path with. */
static void apply_ref(const struct rule_mask *m, uint8_t *p, uint32_t len)
{
	uint32_t total = 0, idx = 0, cl;
	uint8_t ch = m->ch != 0 ? m->ch : '*';

#define REF_CL(i) ({ uint32_t n_ = 1; if (p[i] >= 0xc0) while (n_ < 4 && (i) + n_ < len && (p[(i) + n_] & 0xc0) == 0x80) n_++; n_; })
#define REF_MASKABLE(c) (!m->preserve_class || ((c) >= '0' && (c) <= '9') || ((c) >= 'a' && (c) <= 'z') || \
			 ((c) >= 'A' && (c) <= 'Z') || (c) >= 0x80)
	for (uint32_t i = 0; i < len; i += cl) {
		cl = REF_CL(i);
		total += REF_MASKABLE(p[i]);
	}
	for (uint32_t i = 0; i < len; i += cl) {
		cl = REF_CL(i);
		if (!REF_MASKABLE(p[i]))
			continue;
		if (total <= (uint32_t)m->keep_first + m->keep_last ||
		    (idx >= m->keep_first && idx < total - m->keep_last))
			memset(p + i, ch, cl);
		idx++;
	}
#undef REF_CL
#undef REF_MASKABLE
}

/* The ASCII fast path of rule_mask_apply() masks what the general loop masks. */
static void test_mask_apply_ascii(void **state)
{
	static const char alpha[] = "aZ09 -.@:_~*X\x7f";
	uint32_t seed = 7;
	uint8_t a[64], b[64];

	for (unsigned round = 0; round < 20000; round++) {
		struct rule_mask m;
		uint32_t len;

		seed = seed * 1103515245u + 12345u;
		len = (seed >> 16) % 40;
		m = (struct rule_mask){ .keep_first = (uint16_t)((seed >> 8) % 7), .keep_last = (uint16_t)((seed >> 11) % 7),
					.ch = (seed >> 14) % 3 == 0 ? 0 : (seed >> 14) % 3 == 1 ? '*' : 'X',
					.preserve_class = (uint8_t)((seed >> 20) & 1) };
		for (uint32_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			a[i] = (uint8_t)alpha[(seed >> 16) % (sizeof(alpha) - 1)];
			if ((seed >> 8) % 5 == 0)
				a[i] = (uint8_t)('a' + (seed >> 24) % 26);
		}
		/* one round in eight: a UTF-8 character, which takes the general loop */
		if (len >= 2 && round % 8 == 0) {
			a[len / 2 - 1] = 0xc3;
			a[len / 2] = 0xa9;
		}
		memcpy(b, a, len);
		rule_mask_apply(&m, a, len);
		apply_ref(&m, b, len);
		if (memcmp(a, b, len) != 0)
			fail_msg("round %u: keep %u/%u class %u: \"%.*s\" != \"%.*s\"", round, m.keep_first,
				 m.keep_last, m.preserve_class, (int)len, (char *)a, (int)len, (char *)b);
	}
}

static void test_mask_fields_example(void **state)
{
	struct rule_set *rs = load_ok(example, NULL, NULL);
	struct rule_scratch *s = scratch_for(rs);
	char buf[] = "\x13" "4111 1111 1111 1111" "\x13" "4111 1111 1111 1112" "\x0b" "123-45-6789";
	struct rule_field f[3] = {
		{ .off = 1, .len = 19, .col_rule = -1 },
		{ .off = 21, .len = 19, .col_rule = -1 },
		{ .off = 41, .len = 11, .col_rule = -1 },
	};
	struct rule_mask_stats st;
	int32_t ri;

	assert_int_equal(rule_has_result_rules(rs, DP_PROTO_PG, 0), 1);
	assert_int_equal(rule_has_result_rules(rs, DP_PROTO_MYSQL, 0), 1);  /* the column rule */
	assert_int_equal(rule_has_result_rules(rs, DP_PROTO__MAX, 0), 0);
	f[2].col = rule_column_mask(rs, DP_PROTO_PG, 0, "SSN", 3, &ri);
	assert_non_null(f[2].col);
	assert_int_equal(ri, 2);
	f[2].col_rule = ri;
	assert_null(rule_column_mask(rs, DP_PROTO_PG, 0, "ssn_verified", 12, &ri));
	assert_int_equal(ri, -1);
	assert_null(rule_column_mask(rs, DP_PROTO_PG, 0, "ss", 2, NULL));
	assert_int_equal(rule_mask_fields(rs, s, DP_PROTO_PG, 0, (uint8_t *)buf, sizeof(buf) - 1, f, 3, &st), 0);
	assert_memory_equal(buf, "\x13" "**** **** **** 1111" "\x13" "4111 1111 1111 1112" "\x0b" "***-**-****",
			    sizeof(buf));
	assert_int_equal(st.fields_masked, 2);
	assert_int_equal(st.matches, 2);
	assert_int_equal(st.rejected, 1);
	/* pii.card is for postgresql only: MySQL results keep their cards */
	memcpy(buf + 1, "4111 1111 1111 1111", 19);
	f[2].col = NULL;
	assert_int_equal(rule_mask_fields(rs, s, DP_PROTO_MYSQL, 0, (uint8_t *)buf, sizeof(buf) - 1, f, 3, &st), 0);
	assert_memory_equal(buf + 1, "4111 1111 1111 1111", 19);
	assert_int_equal(st.fields_masked, 0);
	rule_scratch_free(s);
	rule_set_free(rs);
}

/* Each field is matched as its own text: the bytes around it (length words, another
 * field) neither hide a match at its edge nor make one across its boundary. */
static void test_mask_boundaries(void **state)
{
	struct rule_set *rs = load_ok(
		"rules = (\n"
		" { id = \"card\"; action = \"mask\"; validator = \"luhn\"; mask = { keep_last = 4; };\n"
		"   patterns = [\"\\\\b[3-6]\\\\d{3}(?:[ -]?\\\\d{4}){2}[ -]?\\\\d{1,4}\\\\b\"]; },\n"
		" { id = \"whole\"; action = \"mask\"; patterns = [\"^[0-9]{3}$\"]; },\n"
		" { id = \"mail\"; action = \"mask\"; mask = { keep_last = 3; };\n"
		"   patterns = [\"[a-z]+@[a-z]+\\\\.[a-z]+\"]; }\n"
		");\n", NULL, NULL);
	struct rule_scratch *s = scratch_for(rs);
	struct rule_mask_stats st;
	/* two adjacent fields whose bytes together would be a card number */
	char two[] = "4111 1111" "1111 1111";
	struct rule_field f2[2] = { { .off = 0, .len = 9, .col_rule = -1 },
				    { .off = 9, .len = 9, .col_rule = -1 } };

	/* a word character before the field (a length byte of '4' = 52) */
	assert_string_equal(mask_one(rs, s, 0, '4', "4111111111111111", &st), "************1111");
	assert_string_equal(mask_one(rs, s, 0, 'A', "4111111111111111", &st), "************1111");
	/* ^ and $ are the field's edges */
	assert_string_equal(mask_one(rs, s, 0, '7', "123", &st), "***");
	assert_string_equal(mask_one(rs, s, 0, '7', "x123", &st), "x123");
	assert_string_equal(mask_one(rs, s, 0, '7', "one\n123\ntwo", &st), "one\n***\ntwo");
	/* overlapping matches of a rule are masked as one range (keep_last of the union) */
	assert_string_equal(mask_one(rs, s, 0, 'x', "bob@example.com", &st), "***@*******.com");
	assert_int_equal(rule_mask_fields(rs, s, DP_PROTO_PG, 0, (uint8_t *)two, 18, f2, 2, &st), 0);
	assert_memory_equal(two, "4111 1111" "1111 1111", 18);
	assert_int_equal(st.matches, 0);
	rule_scratch_free(s);
	rule_set_free(rs);
}

/* Fields out of the buffer are skipped; an empty set of fields, no rules or a NULL
 * buffer change nothing. */
static void test_mask_robust(void **state)
{
	struct rule_set *rs = load_ok(example, NULL, NULL);
	struct rule_set *cmd = load_ok("rules = ( { id = \"a\"; action = \"block\"; patterns = [\"^A\"]; } );\n",
				       NULL, NULL);
	struct rule_scratch *s = scratch_for(rs);
	char buf[] = "4111 1111 1111 1111";
	struct rule_field f[3] = {
		{ .off = 10, .len = 19, .col_rule = -1 },          /* runs past the end */
		{ .off = 0xfffffff0u, .len = 0x20, .col_rule = -1 }, /* wraps */
		{ .off = 19, .len = 0, .col_rule = -1 },           /* empty, at the end */
	};
	struct rule_mask_stats st;

	assert_int_equal(rule_mask_fields(rs, s, DP_PROTO_PG, 0, (uint8_t *)buf, 19, f, 3, &st), 0);
	assert_string_equal(buf, "4111 1111 1111 1111");
	assert_int_equal(rule_mask_fields(rs, s, DP_PROTO_PG, 0, (uint8_t *)buf, 19, f, 0, NULL), 0);
	assert_int_equal(rule_mask_fields(rs, s, DP_PROTO_PG, 0, NULL, 19, f, 3, NULL), 0);
	assert_int_equal(rule_has_result_rules(cmd, DP_PROTO_PG, 0), 0);
	assert_int_equal(rule_mask_fields(cmd, s, DP_PROTO_PG, 0, (uint8_t *)buf, 19, f, 3, &st), 0);
	/* field rules but no scratch: an error for the caller to count */
	f[0].off = 0;
	assert_int_equal(rule_mask_fields(rs, NULL, DP_PROTO_PG, 0, (uint8_t *)buf, 19, f, 1, &st), -1);
	assert_string_equal(buf, "4111 1111 1111 1111");
	rule_scratch_free(s);
	rule_set_free(rs);
	rule_set_free(cmd);
}

static void test_mask_resources(void **state)
{
	struct dp_config *res = res_named(2, "hr-db", "web-db");
	struct rule_set *rs;
	struct rule_scratch *s;
	struct rule_mask_stats st;

	rs = load_ok(
		"rules = (\n"
		" { id = \"tok\"; action = \"mask\"; resources = \"hr-db\"; patterns = [\"secret[0-9]+\"]; },\n"
		" { id = \"col\"; action = \"mask\"; resources = \"web-db\"; columns = [\"Salary\"]; }\n"
		");\n", res, NULL);
	s = scratch_for(rs);
	assert_string_equal(mask_one(rs, s, 0, ' ', "a secret42 b", &st), "a ******** b");
	assert_string_equal(mask_one(rs, s, 1, ' ', "a secret42 b", &st), "a secret42 b");
	assert_int_equal(rule_has_result_rules(rs, DP_PROTO_PG, 0), 1);
	assert_int_equal(rule_has_result_rules(rs, DP_PROTO_PG, 1), 1);
	assert_int_equal(rule_has_result_rules(rs, DP_PROTO_PG, 7), 0);
	assert_non_null(rule_column_mask(rs, DP_PROTO_PG, 1, "salary", 6, NULL));
	assert_null(rule_column_mask(rs, DP_PROTO_PG, 0, "salary", 6, NULL));
	rule_scratch_free(s);
	rule_set_free(rs);
	free(res);
}

/* Large inputs take the other paths: more fields than a slice, a field larger than the
 * join buffer (scanned in place), more ranges in a field than one pass keeps. */
static void test_mask_large(void **state)
{
	struct rule_set *rs = load_ok(example, NULL, NULL);
	struct rule_set *mail = load_ok(
		"rules = ( { id = \"m\"; action = \"mask\"; mask = { keep_first = 1; };\n"
		"   patterns = [\"\\\\b[a-z]+@[a-z]+\\\\.[a-z]{2,}\\\\b\"]; } );\n", NULL, NULL);
	struct rule_scratch *s = scratch_for(rs);
	const unsigned nf = 10000, big = 200000;
	struct rule_field *f = calloc(nf, sizeof(*f));
	char *buf = malloc((size_t)nf * 20 + big), *p;
	struct rule_mask_stats st;
	size_t len = 0;

	assert_non_null(f);
	assert_non_null(buf);
	assert_int_equal(rule_scratch_alloc(mail, &s), 0);
	/* 10000 fields of 19 bytes, every 7th a valid card */
	for (unsigned i = 0; i < nf; i++) {
		memcpy(buf + len, i % 7 == 0 ? "4111 1111 1111 1111" : "9999 1111 1111 1111", 19);
		f[i] = (struct rule_field){ .off = (uint32_t)len, .len = 19, .col_rule = -1 };
		len += 20;
		buf[len - 1] = '|';
	}
	assert_int_equal(rule_mask_fields(rs, s, DP_PROTO_PG, 0, (uint8_t *)buf, (uint32_t)len, f, nf, &st), 0);
	assert_int_equal(st.fields_masked, (nf + 6) / 7);
	assert_memory_equal(buf + 7 * 20 * 1000, "**** **** **** 1111", 19);
	assert_memory_equal(buf + 20, "9999 1111 1111 1111", 19);
	assert_memory_equal(buf + (nf - 1 - (nf - 1) % 7) * 20, "**** **** **** 1111", 19);
	/* one 200000-byte field with cards at its start, middle and end */
	memset(buf, 'x', big);
	for (unsigned i = 0; i < big; i += 64)
		buf[i] = ' ';
	memcpy(buf, "4111 1111 1111 1111 ", 20);
	memcpy(buf + 100000, " 4111 1111 1111 1111 ", 21);
	memcpy(buf + big - 20, " 4111 1111 1111 1111", 20);
	f[0] = (struct rule_field){ .off = 0, .len = big, .col_rule = -1 };
	assert_int_equal(rule_mask_fields(rs, s, DP_PROTO_PG, 0, (uint8_t *)buf, big, f, 1, &st), 0);
	assert_memory_equal(buf, "**** **** **** 1111", 19);
	assert_memory_equal(buf + 100001, "**** **** **** 1111", 19);
	assert_memory_equal(buf + big - 19, "**** **** **** 1111", 19);
	assert_int_equal(st.matches, 3);
	/* 600 addresses in one field: more than one pass of ranges */
	p = buf;
	for (unsigned i = 0; i < 600; i++)
		p += sprintf(p, "user%c@example.org ", 'a' + i % 26);
	len = (size_t)(p - buf);
	f[0] = (struct rule_field){ .off = 0, .len = (uint32_t)len, .col_rule = -1 };
	assert_int_equal(rule_mask_fields(mail, s, DP_PROTO_PG, 0, (uint8_t *)buf, (uint32_t)len, f, 1, &st), 0);
	assert_int_equal(st.fields_masked, 1);
	assert_memory_equal(buf, "u****@*******.*** u****@", 24);
	assert_memory_equal(buf + len - 18, "u****@*******.*** ", 18);
	for (size_t i = 0; i < len; i++)
		if (buf[i] >= 'a' && buf[i] <= 'z' && buf[i] != 'u')
			fail_msg("unmasked byte '%c' at %zu", buf[i], i);
	free(buf);
	free(f);
	rule_scratch_free(s);
	rule_set_free(rs);
	rule_set_free(mail);
}

/* More field rules than the prefilter has bits: the last bit stands for the rest. */
static void test_mask_many_rules(void **state)
{
	char *text = malloc(16384), *p = text, buf[64];
	struct rule_set *rs;
	struct rule_scratch *s;
	struct rule_mask_stats st;

	assert_non_null(text);
	p += sprintf(p, "rules = (\n");
	for (unsigned i = 0; i < 80; i++)
		p += sprintf(p, " { id = \"r%u\"; action = \"mask\"; patterns = [\"tok%ux\"]; }%s\n", i, i,
			     i < 79 ? "," : "");
	sprintf(p, ");\n");
	rs = load_ok(text, NULL, NULL);
	s = scratch_for(rs);
	assert_int_equal(rs->n_field, 80);
	assert_non_null(rs->db[DP_PROTO_PG][RULE_DB_FIELD_SOM]);
	for (unsigned i = 0; i < 80; i += 7) {
		snprintf(buf, sizeof(buf), "a tok%ux b", i);
		snprintf(text, 64, "a %.*s b", (int)strlen(buf) - 4, "**********");
		assert_string_equal(mask_one(rs, s, 0, ' ', buf, &st), text);
	}
	assert_string_equal(mask_one(rs, s, 0, ' ', "tok3x tok70x", &st), "***** ******");
	rule_scratch_free(s);
	rule_set_free(rs);
	free(text);
}

/* min_digits is a promise: a field with fewer digits is not scanned for the rule. */
static void test_mask_digit_levels(void **state)
{
	struct rule_set *rs = load_ok(
		"rules = (\n"
		" { id = \"five\"; action = \"mask\"; min_digits = 5; patterns = [\"[0-9]{5}\"]; },\n"
		" { id = \"wrong\"; action = \"mask\"; min_digits = 6; patterns = [\"[0-9]{3}x\"]; },\n"
		" { id = \"word\"; action = \"mask\"; patterns = [\"secret\"]; }\n"
		");\n", NULL, NULL);
	struct rule_set *many = load_ok(
		"rules = (\n"
		" { id = \"d2\"; action = \"mask\"; min_digits = 2; patterns = [\"[0-9]{2}a\"]; },\n"
		" { id = \"d3\"; action = \"mask\"; min_digits = 3; patterns = [\"[0-9]{3}b\"]; },\n"
		" { id = \"d4\"; action = \"mask\"; min_digits = 4; patterns = [\"[0-9]{4}c\"]; },\n"
		" { id = \"d5\"; action = \"mask\"; min_digits = 5; patterns = [\"[0-9]{5}d\"]; },\n"
		" { id = \"d6\"; action = \"mask\"; min_digits = 6; patterns = [\"[0-9]{6}e\"]; }\n"
		");\n", NULL, NULL);
	struct rule_scratch *s = scratch_for(rs);
	struct rule_mask_stats st;

	assert_int_equal(rs->n_lev[DP_PROTO_PG], 3);
	assert_int_equal(rs->thr[DP_PROTO_PG][1], 5);
	assert_int_equal(rs->thr[DP_PROTO_PG][2], 6);
	assert_string_equal(mask_one(rs, s, 0, ' ', "12345", &st), "*****");
	assert_string_equal(mask_one(rs, s, 0, ' ', "1234", &st), "1234");
	/* a promise the pattern does not keep: fields with fewer digits never see it */
	assert_string_equal(mask_one(rs, s, 0, ' ', "123x", &st), "123x");
	assert_string_equal(mask_one(rs, s, 0, ' ', "123x 456", &st), "**** 456");
	/* rules without a promise apply at every level */
	assert_string_equal(mask_one(rs, s, 0, ' ', "a secret", &st), "a ******");
	assert_string_equal(mask_one(rs, s, 0, ' ', "12345 secret", &st), "***** ******");
	assert_string_equal(mask_one(rs, s, 0, ' ', "123456 secret 123x", &st), "****** ****** ****");
	/* more distinct promises than levels: the largest ones share the top level */
	assert_int_equal(rule_scratch_alloc(many, &s), 0);
	assert_int_equal(many->n_lev[DP_PROTO_PG], RULE_LEVELS);
	assert_int_equal(many->thr[DP_PROTO_PG][RULE_LEVELS - 1], 4);
	assert_string_equal(mask_one(many, s, 0, ' ', "12a", &st), "***");
	assert_string_equal(mask_one(many, s, 0, ' ', "123b", &st), "****");
	assert_string_equal(mask_one(many, s, 0, ' ', "1234c", &st), "*****");
	assert_string_equal(mask_one(many, s, 0, ' ', "12345d", &st), "******");
	assert_string_equal(mask_one(many, s, 0, ' ', "123456e", &st), "*******");
	assert_string_equal(mask_one(many, s, 0, ' ', "1a", &st), "1a");
	rule_scratch_free(s);
	rule_set_free(rs);
	rule_set_free(many);
}

/* min_upper is a promise like min_digits, on letters A-Z: a field with fewer is not
 * scanned for the rule; both counts together pick the field's class. */
static void test_mask_upper_levels(void **state)
{
	struct rule_set *rs = load_ok(
		"rules = (\n"
		" { id = \"iban\"; action = \"mask\"; min_digits = 2; min_upper = 2;\n"
		"   patterns = [\"\\\\b[A-Z]{2}[0-9]{2}[A-Z0-9]{4}\\\\b\"]; },\n"
		" { id = \"word\"; action = \"mask\"; patterns = [\"secret\"]; }\n"
		");\n", NULL, NULL);
	struct rule_set *wrong = load_ok(
		"rules = (\n"
		" { id = \"wrong\"; action = \"mask\"; min_upper = 3; patterns = [\"[A-Z]{2}x[0-9]\"]; }\n"
		");\n", NULL, NULL);
	struct rule_set *weak = load_ok(
		"rules = (\n"
		" { id = \"two\"; action = \"mask\"; min_upper = 2; patterns = [\"[A-Z]{2}y\"]; },\n"
		" { id = \"three\"; action = \"mask\"; min_upper = 3; patterns = [\"[A-Z]{2}x[0-9]\"]; }\n"
		");\n", NULL, NULL);
	struct rule_scratch *s = scratch_for(rs);
	struct rule_mask_stats st;

	/* digit levels 0, 2 and upper-case levels 0, 2: of the four cells only the one
	 * with both counts high scans "iban", so two classes */
	assert_int_equal(rs->n_lev[DP_PROTO_PG], 2);
	assert_int_equal(rs->n_ulev[DP_PROTO_PG], 2);
	assert_int_equal(rs->uthr[DP_PROTO_PG][1], 2);
	assert_int_equal(rs->n_cls[DP_PROTO_PG], 2);
	assert_int_equal(rs->cell[DP_PROTO_PG][0][1], rs->cell[DP_PROTO_PG][1][0]);
	assert_int_not_equal(rs->cell[DP_PROTO_PG][1][1], rs->cell[DP_PROTO_PG][1][0]);
	/* a field that qualifies is scanned and masked; rules without promises everywhere */
	assert_string_equal(mask_one(rs, s, 0, ' ', "X DE12ABCD Y", &st), "X ******** Y");
	assert_string_equal(mask_one(rs, s, 0, ' ', "de12abcd secret", &st), "de12abcd ******");
	assert_string_equal(mask_one(rs, s, 0, ' ', "secret", &st), "******");
	/* a promise the pattern does not keep ("ABx1" has 2 capitals, the rule promised
	 * 3): the field is not scanned for the rule, which misses */
	assert_int_equal(rule_scratch_alloc(wrong, &s), 0);
	assert_int_equal(wrong->uthr[DP_PROTO_PG][1], 3);
	assert_int_equal(wrong->cell[DP_PROTO_PG][0][0], RULE_CLASS_NONE);
	assert_string_equal(mask_one(wrong, s, 0, ' ', "ABx1", &st), "ABx1");
	assert_int_equal(st.matches, 0);
	assert_string_equal(mask_one(wrong, s, 0, ' ', "ABCx1", &st), "A****");
	/* more distinct promises than levels: the largest counts as the top level's
	 * (weaker) one, so "three" now sees "ABx1" */
	assert_int_equal(rule_scratch_alloc(weak, &s), 0);
	assert_int_equal(weak->uthr[DP_PROTO_PG][1], 2);
	assert_string_equal(mask_one(weak, s, 0, ' ', "ABx1", &st), "****");
	assert_string_equal(mask_one(weak, s, 0, ' ', "Ax1 ABy", &st), "Ax1 ***");
	assert_string_equal(mask_one(weak, s, 0, ' ', "Ax1 aBy", &st), "Ax1 aBy");
	rule_scratch_free(s);
	rule_set_free(rs);
	rule_set_free(wrong);
	rule_set_free(weak);
}

/* The exact pass scans the fields one rule hit in one call (a batch): whatever the
 * layout, the result and the counts are those of masking each field alone (which
 * takes the one-field path), including where a match runs from one field into the
 * next (private key bodies), validators reject, and a field has more ranges than one
 * pass keeps. */
static void test_mask_batch(void **state)
{
	struct rule_set *rs = load_ok(
		"rules = (\n"
		" { id = \"mail\"; action = \"mask\"; mask = { keep_first = 1; };\n"
		"   patterns = [\"[a-z0-9.]+@[a-z]+(?:\\\\.[a-z]+)*\\\\.[a-z]{2,}\\\\b\"]; },\n"
		" { id = \"card\"; action = \"mask\"; validator = \"luhn\"; min_digits = 13; mask = { keep_last = 4; };\n"
		"   patterns = [\"\\\\b[3-6]\\\\d{3}(?:[ -]?\\\\d{4}){2}[ -]?\\\\d{1,4}\\\\b\"]; },\n"
		" { id = \"key\"; action = \"mask\"; mask = { preserve_class = false; };\n"
		"   patterns = [\"-----BEGIN KEY-----\\\\s*[A-Za-z0-9+/=\\\\r\\\\n]+\"]; },\n"
		" { id = \"x\"; action = \"mask\"; patterns = [\"\\\\bx\\\\b\"]; }\n"
		");\n", NULL, NULL);
	struct rule_scratch *s = scratch_for(rs);
	static const char *const vals[] = {
		"bob@example.com", "plain", "a@b.co and c.d@e.org", "4111 1111 1111 1111",
		"4111 1111 1111 1112", "card 5500-0000-0000-0004 of bob@example.net",
		"-----BEGIN KEY-----\nAAAA", "QQQQ -----BEGIN KEY----- ZZZZ", "x", "y x y",
		"-----BEGIN KEY-----", "12 x bob@example.org 4111111111111111",
	};
	const unsigned nv = sizeof(vals) / sizeof(vals[0]), many = 300;
	struct rule_field f[64];
	struct rule_mask_stats st, one, sum = { 0 };
	char *buf = malloc(65536), *alone = malloc(4096), *p = buf;
	unsigned n = 0;

	assert_non_null(buf);
	assert_non_null(alone);
	for (unsigned r = 0; r < 3; r++)
		for (unsigned i = 0; i <= nv; i++) {
			const char *v = vals[i % nv];
			size_t l;

			if (i == nv) {
				/* more ranges in one field than RULE_RANGES_MAX */
				for (unsigned k = 0; k < many; k++)
					memcpy(alone + 2 * k, "x ", 2);
				alone[2 * many] = '\0';
				v = alone;
			}
			l = strlen(v);
			*p++ = '|';
			memcpy(p, v, l);
			f[n++] = (struct rule_field){ .off = (uint32_t)(p - buf), .len = (uint32_t)l, .col_rule = -1 };
			p += l;
		}
	*p++ = '|';
	assert_int_equal(rule_mask_fields(rs, s, DP_PROTO_PG, 0, (uint8_t *)buf, (uint32_t)(p - buf), f, n, &st), 0);
	for (unsigned k = 0; k < n; k++) {
		const char *v = k % (nv + 1) == nv ? alone : vals[k % (nv + 1)];
		char *want;

		if (k % (nv + 1) == nv) {
			for (unsigned i = 0; i < many; i++)
				memcpy(alone + 2 * i, "x ", 2);
		}
		want = strdup(mask_one(rs, s, 0, '|', v, &one));
		assert_non_null(want);
		if (f[k].len != strlen(want) || memcmp(buf + f[k].off, want, f[k].len) != 0)
			fail_msg("field %u: batch gave \"%.*s\", alone \"%s\"", k, (int)f[k].len, buf + f[k].off, want);
		assert_int_equal(buf[f[k].off - 1], '|');
		free(want);
		sum.fields_masked += one.fields_masked;
		sum.matches += one.matches;
		sum.rejected += one.rejected;
	}
	assert_int_equal(st.fields_masked, sum.fields_masked);
	assert_int_equal(st.matches, sum.matches);
	assert_int_equal(st.rejected, sum.rejected);
	assert_true(st.rejected >= 3);
	/* spot checks, so that "the same as alone" cannot hide a broken pass */
	assert_memory_equal(buf + f[0].off, "b**@*******.***", 15);
	assert_memory_equal(buf + f[3].off, "**** **** **** 1111", 19);
	assert_memory_equal(buf + f[4].off, "4111 1111 1111 1112", 19);
	assert_memory_equal(buf + f[6].off, "************************", 24);
	assert_memory_equal(buf + f[nv].off, "* * * ", 6);
	free(buf);
	free(alone);
	rule_scratch_free(s);
	rule_set_free(rs);
}

/* Which rules the exact pass may batch: not those whose patterns see the edges of the
 * whole text (\A, \z, \Z) or turn multi-line mode off. */
static void test_mask_batch_rules(void **state)
{
	struct rule_set *rs = load_ok(
		"rules = (\n"
		" { id = \"a\"; action = \"mask\"; patterns = [\"^id[0-9]+$\", \"x\\\\\\\\A\"]; },\n"
		" { id = \"b\"; action = \"mask\"; patterns = [\"y\", \"\\\\Aid[0-9]+\"]; },\n"
		" { id = \"c\"; action = \"mask\"; patterns = [\"id[0-9]+\\\\z\"]; },\n"
		" { id = \"d\"; action = \"mask\"; patterns = [\"id[0-9]+\\\\Z\"]; },\n"
		" { id = \"e\"; action = \"mask\"; patterns = [\"(?i-m)^id\"]; },\n"
		" { id = \"f\"; action = \"mask\"; patterns = [\"(?i:id)[0-9]\"]; }\n"
		");\n", NULL, NULL);
	struct rule_scratch *s = scratch_for(rs);
	struct rule_field f[3];
	struct rule_mask_stats st;
	char buf[] = "|id1|x id2|id3|";

	assert_int_equal(rs->rules[0].batch, 1);
	assert_int_equal(rs->rules[1].batch, 0);
	assert_int_equal(rs->rules[2].batch, 0);
	assert_int_equal(rs->rules[3].batch, 0);
	assert_int_equal(rs->rules[4].batch, 0);
	assert_int_equal(rs->rules[5].batch, 1);
	/* "^...$" sees each field's edges in a batch as alone */
	f[0] = (struct rule_field){ .off = 1, .len = 3, .col_rule = -1 };
	f[1] = (struct rule_field){ .off = 5, .len = 5, .col_rule = -1 };
	f[2] = (struct rule_field){ .off = 11, .len = 3, .col_rule = -1 };
	assert_int_equal(rule_mask_fields(rs, s, DP_PROTO_PG, 0, (uint8_t *)buf, sizeof(buf) - 1, f, 3, &st), 0);
	assert_string_equal(buf, "|***|x ***|***|");
	rule_scratch_free(s);
	rule_set_free(rs);
}

/* ---- the cache ----------------------------------------------------------------------------- */

static unsigned count_hsdb(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);

		if (e->d_name[0] != '.' && l > 5 && strcmp(e->d_name + l - 5, ".hsdb") == 0)
			n++;
		else if (e->d_name[0] != '.' && e->d_type == DT_DIR) {
			char sub[512];

			snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
			n += count_hsdb(sub);
		}
	}
	closedir(d);
	return n;
}

static void test_cache(void **state)
{
	char cache[128], path[640], sub[512];
	struct rule_set *rs;
	struct rule_scratch *s;
	struct rule_verdict v;
	struct rule_mask_stats st;
	unsigned files;
	DIR *d;
	struct dirent *e;
	FILE *fp;

	snprintf(cache, sizeof(cache), "%s/cache", tdir);
	rs = load_ok(example, NULL, cache);
	files = count_hsdb(cache);
	assert_int_equal(rs->n_cached, 0);
	assert_int_equal(files, rs->n_compiled);
	assert_true(files >= 3);     /* statement, field prefilter, the card rule's SOM */
	rule_set_free(rs);
	/* the same files again: everything from the cache, and it works */
	rs = load_ok(example, NULL, cache);
	assert_int_equal(rs->n_compiled, 0);
	assert_int_equal(rs->n_cached, files);
	s = scratch_for(rs);
	v = check(rs, s, DP_PROTO_PG, 0, "DROP TABLE X");
	assert_string_equal(v.id, "sql.drop-table");
	assert_string_equal(mask_one(rs, s, 0, ' ', "4111 1111 1111 1111", &st), "**** **** **** 1111");
	rule_scratch_free(s);
	rule_set_free(rs);
	/* a damaged entry is compiled again and rewritten */
	d = opendir(cache);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL && e->d_name[0] == '.')
		;
	assert_non_null(e);
	assert_int_equal(strlen(e->d_name), 64);      /* a SHA-256 */
	snprintf(sub, sizeof(sub), "%s/%s", cache, e->d_name);
	closedir(d);
	snprintf(path, sizeof(path), "%s/postgresql-statement.hsdb", sub);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("not a database", fp);
	fclose(fp);
	rs = load_ok(example, NULL, cache);
	assert_int_equal(rs->n_compiled, 1);
	assert_int_equal(rs->n_cached, files - 1);
	rule_set_free(rs);
	rs = load_ok(example, NULL, cache);
	assert_int_equal(rs->n_compiled, 0);
	rule_set_free(rs);
	/* other bytes, another key */
	rs = load_ok("rules = ( { id = \"a\"; action = \"block\"; patterns = [\"^A\"]; } );\n", NULL, cache);
	assert_int_equal(rs->n_compiled, 1);
	rule_set_free(rs);
	assert_int_equal(count_hsdb(cache), files + 1);
	/* a cache that cannot be written is not an error */
	snprintf(path, sizeof(path), "%s/r0.conf/cache", tdir);
	rs = load_ok(example, NULL, path);
	assert_int_equal(rs->n_compiled, files);
	rule_set_free(rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_example),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_load_bad_regex),
		cmocka_unit_test(test_load_files),
		cmocka_unit_test(test_check_precedence),
		cmocka_unit_test(test_check_scope),
		cmocka_unit_test(test_check_targets),
		cmocka_unit_test(test_check_unless),
		cmocka_unit_test(test_scratch),
		cmocka_unit_test(test_mask_apply),
		cmocka_unit_test(test_mask_fields_example),
		cmocka_unit_test(test_mask_boundaries),
		cmocka_unit_test(test_mask_robust),
		cmocka_unit_test(test_mask_resources),
		cmocka_unit_test(test_mask_large),
		cmocka_unit_test(test_mask_many_rules),
		cmocka_unit_test(test_mask_digit_levels),
		cmocka_unit_test(test_mask_upper_levels),
		cmocka_unit_test(test_mask_batch),
		cmocka_unit_test(test_mask_batch_rules),
		cmocka_unit_test(test_mask_apply_ascii),
		cmocka_unit_test(test_cache),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
