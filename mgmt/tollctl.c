/* tollctl.c - tollgate's command-line tool: main, the command table, and the offline
 * rule commands (rules compile, rules test FILE...), which need no running appliance.
 * The online commands are in cli_online.c and cli_rules.c, the offline recording ones
 * in cli_rec.c; docs/tollctl.md describes them all.
 *
 *   tollctl rules compile [--cache DIR] [--config CONF] [--list] FILE...
 *   tollctl rules test FILE... [--config CONF] [--protocol P] [--resource NAME] --sql "SQL"
 *   tollctl rules test FILE... [...] --row "v1|v2|..." [--columns "c1,c2,..."]
 *
 * Exit status: enum cli_exit (0 done, whatever the verdict; 1 an error; 2 usage; 3 the
 * appliance unreachable; 4 token refused; 5 not found).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <libconfig.h>

#include "common/tg_clock.h"
#include "common/tg_log.h"
#include "mgmt/cli.h"
#include "dataplane/dp_config-t.h"
#include "dataplane/proto/sql_lex.h"
#include "rules/rule.h"

#define CLI_MAX_FILES    64
#define CLI_MAX_FIELDS   256
#define CLI_MAX_STMTS    256

/* What the command line asked for. */
struct cli_opts {
	const char *files[CLI_MAX_FILES];
	unsigned n_files;
	const char *cache;           /* --cache DIR */
	const char *config;          /* --config CONF: resources from the appliance config */
	const char *resource;        /* --resource NAME */
	const char *sql;             /* --sql TEXT */
	const char *row;             /* --row "v1|v2" */
	const char *columns;         /* --columns "c1,c2" */
	uint8_t proto;               /* --protocol, enum dp_proto_id */
	int list;                    /* --list */
	int verbose;                 /* -v */
};

static const struct {
	const char *name;
	uint8_t id;
} cli_protos[] = {
	{ "postgresql", DP_PROTO_PG }, { "pg", DP_PROTO_PG }, { "mysql", DP_PROTO_MYSQL },
	{ "redis", DP_PROTO_REDIS }, { "http", DP_PROTO_HTTP },
};

static void cli_usage(FILE *f)
{
	fprintf(f,
		"usage: tollctl [GLOBAL OPTIONS] COMMAND [ARGS]\n"
		"\n"
		"online (the appliance's REST API):\n"
		"  status                         health and counters\n"
		"  sessions [--live] [--resource R] [--user U] [--verdict V] [--since 1h|RFC3339]\n"
		"           [--limit N]           recorded sessions, newest first\n"
		"  sessions show ID               one session\n"
		"  replay ID                      a session's statements, verdicts and results\n"
		"  kill ID [--reason TEXT]        end a live session\n"
		"  rules get [--dir DIR]          the rule files in force\n"
		"  rules put [--comment T] [--if-version N] FILE...\n"
		"                                 compile and swap in new rule files\n"
		"  rules test --sql \"SQL\" [--resource R] [--protocol P]\n"
		"                                 what the appliance's rules do to a statement\n"
		"  metrics                        Prometheus metrics\n"
		"  audit [--limit N]              management actions, newest first\n"
		"\n"
		"offline (files; no appliance needed):\n"
		"  rules compile [--cache DIR] [--config CONF] [--list] FILE...\n"
		"  rules test FILE... [--config CONF] [--protocol P] [--resource NAME]\n"
		"             (--sql \"SQL\" | --row \"v1|v2|...\" [--columns \"c1,c2,...\"])\n"
		"  recordings export ID [--format json|csv] [--dir DIR]\n"
		"  verify [ID] [--dir DIR]        check the recordings' hash chains\n"
		"\n"
		"global options (anywhere on the line):\n"
		"  --url URL          the API (default $TOLLGATE_URL, else %s)\n"
		"  --token-file FILE  bearer token from a file (or $TOLLGATE_TOKEN, or --token T)\n"
		"  --cacert FILE      CA certificate to trust (default: %s if readable)\n"
		"  --insecure         do not check the server's certificate\n"
		"  --json             raw JSON output, for scripts\n"
		"  --timeout S        give up on a request after S seconds (default 30)\n"
		"\n"
		"rules options:\n"
		"  --cache DIR        compiled-database cache directory\n"
		"  --config CONF      take resource names from the appliance configuration; without\n"
		"                     it, every resource the rule files name is known\n"
		"  --protocol P       postgresql (default), mysql, redis, http\n"
		"  --resource NAME    judge as traffic to this resource (default: none in particular)\n"
		"  --sql \"SQL\"        statements to judge (split, normalized and fingerprinted)\n"
		"  --row \"v1|v2\"      result fields to mask ('\\|' is a literal '|')\n"
		"  --columns \"c1,c2\"  the fields' column names (for column rules)\n"
		"  --list             (compile) list every rule: id, action\n"
		"  -v                 log the rule engine's messages too\n"
		"\n"
		"exit status: 0 done, 1 error, 2 usage, 3 appliance unreachable, 4 token refused,\n"
		"5 not found; verify: 0 all chains intact, 1 some altered\n",
		CLI_DEFAULT_URL, CLI_DEFAULT_CACERT);
}

static int cli_proto_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(cli_protos) / sizeof(cli_protos[0]); i++)
		if (strcmp(s, cli_protos[i].name) == 0)
			return cli_protos[i].id;
	return -1;
}

/* ---- resources ----------------------------------------------------------------------- */

/* Adds resource <name> of <proto> to <dp> unless it is there; returns its index or -1. */
static int cli_res_add(struct dp_config *dp, const char *name, uint8_t proto)
{
	for (unsigned i = 0; i < dp->n_resources; i++)
		if (strcmp(dp->resources[i].name, name) == 0)
			return (int)i;
	if (dp->n_resources >= DP_MAX_RESOURCES || strlen(name) >= DP_NAME_MAX)
		return -1;
	snprintf(dp->resources[dp->n_resources].name, DP_NAME_MAX, "%s", name);
	dp->resources[dp->n_resources].proto = proto;
	return dp->n_resources++;
}

/* Reads the names (and protocols) of the appliance configuration's resources, in
 * order, so that indexes are the appliance's. Only "resources" is read: tollgated
 * --check validates the rest. */
static int cli_res_from_config(struct dp_config *dp, const char *path)
{
	const config_setting_t *list;
	config_t cf;
	int rc = -1;

	config_init(&cf);
	if (config_read_file(&cf, path) != CONFIG_TRUE) {
		fprintf(stderr, "tollctl: %s:%d: %s\n", path, config_error_line(&cf), config_error_text(&cf));
		goto out;
	}
	if ((list = config_lookup(&cf, "resources")) != NULL) {
		for (int i = 0; i < config_setting_length(list); i++) {
			const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
			const char *name = NULL, *proto = "tcp";
			int p;

			config_setting_lookup_string(g, "protocol", &proto);
			if (!config_setting_lookup_string(g, "name", &name) ||
			    cli_res_add(dp, name, (uint8_t)((p = cli_proto_parse(proto)) < 0 ? 0 : p)) < 0) {
				fprintf(stderr, "tollctl: %s:%u: resources: a resource without a usable name\n",
					path, config_setting_source_line(g));
				goto out;
			}
		}
	}
	rc = 0;
out:
	config_destroy(&cf);
	return rc;
}

/* Without a configuration: every resource name the rule files mention is known (the
 * loader checks everything else), with <proto> as its protocol. */
static int cli_res_from_rules(struct dp_config *dp, const struct cli_opts *o)
{
	for (unsigned f = 0; f < o->n_files; f++) {
		const config_setting_t *rules;
		config_t cf;

		config_init(&cf);
		/* a file that does not parse is reported by rule_set_load() */
		if (config_read_file(&cf, o->files[f]) == CONFIG_TRUE &&
		    (rules = config_lookup(&cf, "rules")) != NULL) {
			for (int i = 0; i < config_setting_length(rules); i++) {
				const config_setting_t *rl = config_setting_get_elem(rules, (unsigned)i);
				const config_setting_t *r = config_setting_get_member(rl, "resources");
				int n = r == NULL ? 0 : config_setting_type(r) == CONFIG_TYPE_STRING ? 1 :
					config_setting_length(r);

				for (int k = 0; k < n; k++) {
					const char *name = config_setting_type(r) == CONFIG_TYPE_STRING ?
						config_setting_get_string(r) :
						config_setting_get_string_elem(r, (unsigned)k);

					if (name != NULL && strcmp(name, "*") != 0)
						cli_res_add(dp, name, o->proto);
				}
			}
		}
		config_destroy(&cf);
	}
	return 0;
}

/* Loads the rule files of <o> into *<rs>; *<res> gets the index of --resource (or
 * DP_MAX_RESOURCES: none in particular, so only rules for every resource apply). */
static int cli_load(const struct cli_opts *o, struct rule_set **rs, uint16_t *res, double *ms)
{
	struct dp_config *dp = calloc(1, sizeof(*dp));
	char err[1024];
	uint64_t t0;
	int rc = -1, idx;

	*res = DP_MAX_RESOURCES;
	if (dp == NULL) {
		fprintf(stderr, "tollctl: out of memory\n");
		return -1;
	}
	if (o->config != NULL ? cli_res_from_config(dp, o->config) : cli_res_from_rules(dp, o))
		goto out;
	if (o->resource != NULL) {
		if (o->config != NULL) {
			for (idx = 0; idx < dp->n_resources; idx++)
				if (strcmp(dp->resources[idx].name, o->resource) == 0)
					break;
			if (idx == dp->n_resources) {
				fprintf(stderr, "tollctl: resource \"%s\" is not in %s\n", o->resource, o->config);
				goto out;
			}
		} else if ((idx = cli_res_add(dp, o->resource, o->proto)) < 0) {
			fprintf(stderr, "tollctl: bad resource name \"%s\"\n", o->resource);
			goto out;
		}
		*res = (uint16_t)idx;
	}
	t0 = tg_mono_ns();
	if (rule_set_load(o->files, o->n_files, dp, o->cache, rs, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	*ms = (double)(tg_mono_ns() - t0) / 1e6;
	rc = 0;
out:
	free(dp);
	return rc;
}

/* ---- rules compile ----------------------------------------------------------------- */

static int cli_rules_compile(const struct cli_opts *o)
{
	struct rule_set *rs;
	uint16_t res;
	double ms;
	unsigned n;

	if (cli_load(o, &rs, &res, &ms) < 0)
		return 1;
	n = rule_set_count(rs);
	printf("ok: %u rule%s in %u file%s, set sha256 %s, loaded in %.1f ms\n", n, n == 1 ? "" : "s",
	       o->n_files, o->n_files == 1 ? "" : "s", rule_set_hash(rs), ms);
	for (unsigned i = 0; o->list && i < n; i++)
		printf("  %-40s %s\n", rule_id(rs, i), cli_actions[rule_action(rs, i) % CLI_N_ACTIONS]);
	rule_set_free(rs);
	return 0;
}

/* ---- rules test -------------------------------------------------------------------- */

static void cli_print_verdict(const struct rule_verdict *v)
{
	if (v->rule < 0)
		printf("  verdict:     allow\n");
	else
		printf("  verdict:     %s  rule %s: %s\n", cli_actions[v->action % CLI_N_ACTIONS],
		       v->id, v->message);
	if (v->n_alerts > 0)
		printf("  alerts:      %u alert rule%s matched\n", v->n_alerts, v->n_alerts == 1 ? "" : "s");
}

static int cli_test_sql(const struct cli_opts *o, const struct rule_set *rs,
			struct rule_scratch *s, uint16_t res)
{
	size_t len = strlen(o->sql), cap = 2 * len + 64;
	struct sql_stmt *st = calloc(CLI_MAX_STMTS, sizeof(*st));
	char *norm = malloc(cap), *fp = malloc(cap);
	struct sql_lex_out out = { .norm = norm, .norm_cap = (uint32_t)cap, .fp = fp,
				   .fp_cap = (uint32_t)cap, .stmts = st, .stmts_cap = CLI_MAX_STMTS };
	int rc = 1, n;

	if (st == NULL || norm == NULL || fp == NULL) {
		fprintf(stderr, "tollctl: out of memory\n");
		goto out;
	}
	if (o->proto != DP_PROTO_PG && o->proto != DP_PROTO_MYSQL) {
		fprintf(stderr, "tollctl: --sql needs --protocol postgresql or mysql\n");
		goto out;
	}
	n = sql_lex(o->sql, len, o->proto == DP_PROTO_MYSQL ? SQL_LEX_MYSQL : 0, &out);
	if (out.flags & SQL_LEX_TRUNCATED)
		printf("warning: the lexer's output was truncated\n");
	if (out.flags & SQL_LEX_UNTERMINATED)
		printf("warning: the input ends inside a string, identifier or comment\n");
	if (n == 0)
		printf("no statements\n");
	for (int i = 0; i < n; i++) {
		const struct sql_stmt *t = &st[i];
		struct rule_verdict v;

		printf("statement %d%s: %s\n", i + 1, t->nested ? " (inside a DO block)" : "",
		       norm + t->norm_off);
		printf("  fingerprint: %s\n", fp + t->fp_off);
		if (rule_check_command(rs, s, o->proto, res, norm + t->norm_off, t->norm_len,
				       fp + t->fp_off, t->fp_len, o->sql + t->raw_off, t->raw_len, &v) < 0) {
			fprintf(stderr, "tollctl: scan error\n");
			goto out;
		}
		cli_print_verdict(&v);
	}
	rc = 0;
out:
	free(st);
	free(norm);
	free(fp);
	return rc;
}

/* Splits <row> on '|' ('\|' and '\\' escaped) into <buf>, filling <f> and *<blen>;
 * returns the number of fields (fields past CLI_MAX_FIELDS are left out). Fields are
 * laid out with one '|' between them, as decoders' fields lie between length bytes. */
static unsigned cli_split_row(const char *row, char *buf, uint32_t *blen, struct rule_field *f)
{
	unsigned n = 0;
	uint32_t w = 0;

	f[0] = (struct rule_field){ .off = 0, .col_rule = -1 };
	for (const char *p = row; *p; p++) {
		if (*p == '\\' && (p[1] == '|' || p[1] == '\\')) {
			buf[w++] = *++p;
		} else if (*p == '|') {
			f[n].len = w - f[n].off;
			if (++n == CLI_MAX_FIELDS) {
				buf[w] = '\0';
				*blen = w;
				return n;
			}
			buf[w++] = '|';
			f[n] = (struct rule_field){ .off = w, .col_rule = -1 };
		} else {
			buf[w++] = *p;
		}
	}
	f[n].len = w - f[n].off;
	buf[w] = '\0';
	*blen = w;
	return n + 1;
}

static int cli_test_row(const struct cli_opts *o, const struct rule_set *rs,
			struct rule_scratch *s, uint16_t res)
{
	size_t len = strlen(o->row);
	char *buf = malloc(len + 1), *orig = malloc(len + 1), *cols = NULL, *rest, *c;
	char *names[CLI_MAX_FIELDS] = { 0 };
	struct rule_field *f = calloc(CLI_MAX_FIELDS, sizeof(*f));
	struct rule_mask_stats st;
	unsigned n, nc = 0;
	uint32_t blen;
	int rc = 1;

	if (buf == NULL || orig == NULL || f == NULL) {
		fprintf(stderr, "tollctl: out of memory\n");
		goto out;
	}
	n = cli_split_row(o->row, buf, &blen, f);
	memcpy(orig, buf, len + 1);
	/* strsep, not strtok: "a,,c" names the third field c */
	if (o->columns != NULL && (rest = cols = strdup(o->columns)) != NULL)
		while ((c = strsep(&rest, ",")) != NULL && nc < CLI_MAX_FIELDS)
			names[nc++] = c;
	for (unsigned i = 0; i < n && i < nc; i++)
		f[i].col = rule_column_mask(rs, o->proto, res, names[i], (uint32_t)strlen(names[i]),
					    &f[i].col_rule);
	if (rule_mask_fields(rs, s, o->proto, res, (uint8_t *)buf, blen, f, n, &st) < 0) {
		fprintf(stderr, "tollctl: scan error\n");
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		int changed = memcmp(orig + f[i].off, buf + f[i].off, f[i].len) != 0;

		int named = i < nc && names[i][0] != '\0';

		printf("field %u%s%s%s: %.*s", i + 1, named ? " (" : "", named ? names[i] : "",
		       named ? ")" : "", (int)f[i].len, orig + f[i].off);
		if (changed)
			printf("  ->  %.*s", (int)f[i].len, buf + f[i].off);
		if (f[i].col_rule >= 0)
			printf("  [column rule %s]", rule_id(rs, (unsigned)f[i].col_rule));
		printf("\n");
	}
	printf("masked %u field%s; %u pattern match%s, %u rejected by validators\n",
	       st.fields_masked, st.fields_masked == 1 ? "" : "s", st.matches,
	       st.matches == 1 ? "" : "es", st.rejected);
	rc = 0;
out:
	free(buf);
	free(orig);
	free(cols);
	free(f);
	return rc;
}

static int cli_rules_test(const struct cli_opts *o)
{
	struct rule_scratch *s = NULL;
	struct rule_set *rs;
	uint16_t res;
	double ms;
	int rc = 1;

	if ((o->sql == NULL) == (o->row == NULL)) {
		fprintf(stderr, "tollctl: rules test needs one of --sql or --row\n");
		return 2;
	}
	if (cli_load(o, &rs, &res, &ms) < 0)
		return 1;
	if (rule_scratch_alloc(rs, &s) < 0) {
		fprintf(stderr, "tollctl: cannot allocate scratch\n");
		goto out;
	}
	printf("rules: %u (set sha256 %.16s...), protocol %s, resource %s\n", rule_set_count(rs),
	       rule_set_hash(rs), o->proto == DP_PROTO_MYSQL ? "mysql" : o->proto == DP_PROTO_PG ?
	       "postgresql" : o->proto == DP_PROTO_REDIS ? "redis" : "http",
	       o->resource != NULL ? o->resource : "(any)");
	rc = o->sql != NULL ? cli_test_sql(o, rs, s, res) : cli_test_row(o, rs, s, res);
out:
	rule_scratch_free(s);
	rule_set_free(rs);
	return rc;
}

/* ---- main ---------------------------------------------------------------------------- */

/* `rules compile|test|get|put`: argv[0] is "rules", argv[1] the subcommand. get and put
 * always talk to the appliance; test does when no rule file is given and an appliance
 * is named (--url, --token, --token-file or their environment variables). */
static int cli_rules(struct cli_global *g, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_GLOBAL_LONGOPTS,
		{ "cache", required_argument, NULL, 'C' },
		{ "config", required_argument, NULL, 'c' },
		{ "protocol", required_argument, NULL, 'p' },
		{ "resource", required_argument, NULL, 'r' },
		{ "sql", required_argument, NULL, 's' },
		{ "row", required_argument, NULL, 'w' },
		{ "columns", required_argument, NULL, 'k' },
		{ "list", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_opts o = { .proto = DP_PROTO_PG };
	const char *cmd, *proto_name = NULL;
	char err[256];
	int c, p, r;

	if (argc < 2 || argv[1][0] == '-') {
		cli_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	cmd = argv[1];
	if (strcmp(cmd, "get") == 0)
		return cli_cmd_rules_get(g, argc - 1, argv + 1);
	if (strcmp(cmd, "put") == 0)
		return cli_cmd_rules_put(g, argc - 1, argv + 1);
	argc--;
	argv++;
	/* argv[0] is now the subcommand; optind 0 restarts getopt; options may come before
	 * or after the files (GNU getopt permutes) */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
		if ((r = cli_global_opt(g, c, optarg, err, sizeof(err))) < 0) {
			fprintf(stderr, "tollctl: %s\n", err);
			return CLI_EXIT_USAGE;
		}
		if (r == 1)
			continue;
		switch (c) {
		case 'C': o.cache = optarg; break;
		case 'c': o.config = optarg; break;
		case 'r': o.resource = optarg; break;
		case 's': o.sql = optarg; break;
		case 'w': o.row = optarg; break;
		case 'k': o.columns = optarg; break;
		case 'l': o.list = 1; break;
		case 'v': o.verbose = 1; break;
		case 'p':
			if ((p = cli_proto_parse(optarg)) < 0) {
				fprintf(stderr, "tollctl: unknown protocol \"%s\"\n", optarg);
				return CLI_EXIT_USAGE;
			}
			o.proto = (uint8_t)p;
			proto_name = optarg;
			break;
		case 'h':
			cli_usage(stdout);
			return CLI_EXIT_OK;
		default:
			fprintf(stderr, "tollctl rules %s: %s %s (tollctl --help lists the options)\n",
				cmd, c == ':' ? "missing the value of" : "unknown option",
				argv[optind - 1]);
			return CLI_EXIT_USAGE;
		}
	}
	for (; optind < argc; optind++) {
		if (o.n_files == CLI_MAX_FILES) {
			fprintf(stderr, "tollctl: at most %d rule files\n", CLI_MAX_FILES);
			return CLI_EXIT_USAGE;
		}
		o.files[o.n_files++] = argv[optind];
	}
	if (strcmp(cmd, "test") == 0 && o.n_files == 0 && (g->url_given || g->token_given)) {
		if (o.sql == NULL || o.row != NULL || o.config != NULL || o.cache != NULL) {
			fprintf(stderr, "tollctl: rules test against the appliance takes --sql "
				"[--resource R] [--protocol P]\n");
			return CLI_EXIT_USAGE;
		}
		return cli_cmd_rules_test(g, o.sql, o.resource, proto_name);
	}
	if (o.n_files == 0) {
		fprintf(stderr, "tollctl: no rule files given%s\n", strcmp(cmd, "test") == 0 ?
			" (or --url/--token to test the appliance's rules)" : "");
		return CLI_EXIT_USAGE;
	}
	tg_log_set_level(o.verbose ? TG_LOG_DEBUG : TG_LOG_WARN);
	if (strcmp(cmd, "compile") == 0)
		return cli_rules_compile(&o);
	if (strcmp(cmd, "test") == 0)
		return cli_rules_test(&o);
	fprintf(stderr, "tollctl: unknown command \"rules %s\"\n", cmd);
	cli_usage(stderr);
	return CLI_EXIT_USAGE;
}

static const struct {
	const char *name;
	int (*fn)(struct cli_global *g, int argc, char **argv);
} cli_commands[] = {
	{ "status", cli_cmd_status },
	{ "sessions", cli_cmd_sessions },
	{ "replay", cli_cmd_replay },
	{ "kill", cli_cmd_kill },
	{ "rules", cli_rules },
	{ "metrics", cli_cmd_metrics },
	{ "audit", cli_cmd_audit },
	{ "recordings", cli_cmd_recordings },
	{ "verify", cli_cmd_verify },
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_GLOBAL_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_global g;
	char err[256];
	int c, r, rc = CLI_EXIT_USAGE;

	cli_global_init(&g);
	/* global options before the command word ('+': stop at the first non-option) */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hV", longopts, NULL)) != -1) {
		if (c == 'h') {
			cli_usage(stdout);
			return CLI_EXIT_OK;
		}
		if (c == 'V') {
			printf("tollctl %s\n", TG_VERSION);
			return CLI_EXIT_OK;
		}
		if ((r = cli_global_opt(&g, c, optarg, err, sizeof(err))) <= 0) {
			if (r < 0)
				fprintf(stderr, "tollctl: %s\n", err);
			else
				fprintf(stderr, "tollctl: %s %s\n", c == ':' ? "missing the value of" :
					"unknown option", argv[optind - 1]);
			goto out;
		}
	}
	if (optind == argc) {
		cli_usage(stderr);
		goto out;
	}
	for (size_t i = 0; i < sizeof(cli_commands) / sizeof(cli_commands[0]); i++) {
		if (strcmp(argv[optind], cli_commands[i].name) != 0)
			continue;
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			fprintf(stderr, "tollctl: cannot initialize libcurl\n");
			rc = CLI_EXIT_FAIL;
			goto out;
		}
		rc = cli_commands[i].fn(&g, argc - optind, argv + optind);
		fflush(stdout);
		curl_global_cleanup();
		goto out;
	}
	if (strcmp(argv[optind], "help") == 0) {
		cli_usage(stdout);
		rc = CLI_EXIT_OK;
		goto out;
	}
	fprintf(stderr, "tollctl: unknown command \"%s\" (tollctl --help lists them)\n", argv[optind]);
out:
	cli_global_wipe(&g);
	return rc;
}
