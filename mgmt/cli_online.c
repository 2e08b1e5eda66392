/* cli_online.c - tollctl's commands that talk to the running appliance over its REST
 * API (docs/openapi.yaml): status, sessions, replay, kill, metrics, audit (the rules
 * commands are in cli_rules.c). Each parses its arguments, makes its calls through
 * cli_call() and prints a table (or, with --json, the server's JSON). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/tg_clock.h"
#include "mgmt/cli.h"

#define CLI_PAGE_SESSIONS 1000        /* the API's largest page of sessions */
#define CLI_PAGE_EVENTS   10000       /* ... and of events */
#define CLI_PATH_MAX      2048

/* ---- the option loop ---------------------------------------------------------------- */

int cli_getopt(struct cli_global *g, int argc, char **argv, const char *usage,
	       const struct option *longopts, int (*cb)(void *ctx, int opt, char *arg),
	       void *ctx)
{
	char err[256];
	int c, r;

	/* optind 0: glibc starts a fresh scan (each command parses its own argv) */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage, stdout);
			return -1;
		}
		if (c == '?' || c == ':') {
			fprintf(stderr, "tollctl %s: %s %s\n%s", argv[0], c == '?' ? "unknown option" :
				"missing the value of", argv[optind - 1], usage);
			return CLI_EXIT_USAGE;
		}
		if ((r = cli_global_opt(g, c, optarg, err, sizeof(err))) < 0) {
			fprintf(stderr, "tollctl: %s\n", err);
			return CLI_EXIT_USAGE;
		}
		if (r == 0 && (cb == NULL || (r = cb(ctx, c, optarg)) != 0))
			return r ? r : CLI_EXIT_USAGE;
	}
	return 0;
}

int cli_getopt_online(struct cli_global *g, int argc, char **argv, const char *usage,
			     const struct option *longopts, int (*cb)(void *ctx, int opt, char *arg),
			     void *ctx)
{
	char err[256];
	int rc = cli_getopt(g, argc, argv, usage, longopts, cb, ctx);

	if (rc == 0 && cli_global_finish(g, err, sizeof(err)) < 0) {
		fprintf(stderr, "tollctl: %s\n", err);
		return CLI_EXIT_USAGE;
	}
	return rc;
}

/* Parses a count option's value: 1 to <max>. Returns 0, or CLI_EXIT_USAGE. */
static int cli_count(const char *opt, const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > max || s[0] == '-') {
		fprintf(stderr, "tollctl: %s \"%s\": give a number from 1 to %u\n", opt, s, max);
		return CLI_EXIT_USAGE;
	}
	*out = (unsigned)v;
	return 0;
}

/* The single word argument of a command (a session id): normalized into <sid>. */
static int cli_one_sid(int argc, char **argv, const char *usage, char sid[17])
{
	if (argc - optind != 1) {
		fprintf(stderr, "tollctl %s: give one session id\n%s", argv[0], usage);
		return CLI_EXIT_USAGE;
	}
	if (cli_sid_norm(argv[optind], sid) < 0) {
		fprintf(stderr, "tollctl: \"%s\" is not a session id (16 hex digits)\n", argv[optind]);
		return CLI_EXIT_USAGE;
	}
	return 0;
}

void cli_print_json(const json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
	fputc('\n', stdout);
}

/* ---- status ------------------------------------------------------------------------- */

static const char cli_status_usage[] = "usage: tollctl status\n";

int cli_cmd_status(struct cli_global *g, int argc, char **argv)
{
	static const struct option lo[] = { CLI_GLOBAL_LONGOPTS, { "help", no_argument, NULL, 'h' },
					    { NULL, 0, NULL, 0 } };
	json_t *health = NULL, *stats = NULL, *total;
	const char *st;
	int rc;

	if ((rc = cli_getopt_online(g, argc, argv, cli_status_usage, lo, NULL, NULL)) != 0)
		return rc < 0 ? CLI_EXIT_OK : rc;
	if (optind != argc) {
		fprintf(stderr, "tollctl status: takes no arguments\n");
		return CLI_EXIT_USAGE;
	}
	/* health needs no token: it is shown even when the counters are refused */
	if ((rc = cli_call(g, "GET", "/v1/health", NULL, CLI_NF_ROUTE, NULL, &health, NULL)))
		goto out;
	st = cli_jstr(health, "status", "?");
	if (!g->json) {
		printf("tollgate at %s: %s\n", g->url, st);
		cli_kv_print(stdout, health, 2);
	}
	if ((rc = cli_call(g, "GET", "/v1/stats", NULL, CLI_NF_ROUTE, NULL, &stats, NULL)))
		goto out;
	if (g->json) {
		json_t *j = json_pack("{s:O,s:O}", "health", health, "stats", stats);

		cli_print_json(j);
		json_decref(j);
	} else {
		/* the totals are the summary; per-worker counters are in --json and /metrics */
		total = json_object_get(stats, "total");
		if (json_is_object(total)) {
			json_t *rest = json_object();
			const char *k;
			json_t *v;

			json_object_foreach(stats, k, v)
				if (!json_is_object(v) && !json_is_array(v))
					json_object_set(rest, k, v);
			printf("stats:\n");
			cli_kv_print(stdout, rest, 2);
			printf("counters (all workers):\n");
			cli_kv_print(stdout, total, 2);
			json_decref(rest);
		} else {
			printf("stats:\n");
			cli_kv_print(stdout, stats, 2);
		}
	}
	rc = strcmp(st, "ok") == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
out:
	json_decref(health);
	json_decref(stats);
	return rc;
}

/* ---- sessions ------------------------------------------------------------------------ */

static const char cli_sessions_usage[] =
	"usage: tollctl sessions [--live] [--resource R] [--user U] [--verdict V]\n"
	"                        [--since 1h|RFC3339] [--limit N]\n"
	"       tollctl sessions show ID\n";

static int cli_sessions_opt(void *ctx, int opt, char *arg)
{
	struct cli_sessions_req *q = ctx;
	size_t i;

	switch (opt) {
	case 'L': q->live = 1; return 0;
	case 'r': q->resource = arg; return 0;
	case 'u': q->user = arg; return 0;
	case 's': q->since = arg; return 0;
	case 'n': return cli_count("--limit", arg, 1000000, &q->limit);
	case 'v':
		for (i = 0; i < CLI_N_ACTIONS; i++)
			if (strcmp(arg, cli_actions[i]) == 0) {
				q->verdict = arg;
				return 0;
			}
		fprintf(stderr, "tollctl: --verdict \"%s\": one of allow, alert, mask, review, "
			"block, reset\n", arg);
		return CLI_EXIT_USAGE;
	default:
		return CLI_EXIT_USAGE;
	}
}

int cli_sessions_args(struct cli_global *g, struct cli_sessions_req *q, int argc, char **argv)
{
	static const struct option lo[] = {
		CLI_GLOBAL_LONGOPTS,
		{ "live", no_argument, NULL, 'L' }, { "resource", required_argument, NULL, 'r' },
		{ "user", required_argument, NULL, 'u' }, { "verdict", required_argument, NULL, 'v' },
		{ "since", required_argument, NULL, 's' }, { "limit", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	int rc;

	memset(q, 0, sizeof(*q));
	if ((rc = cli_getopt_online(g, argc, argv, cli_sessions_usage, lo, cli_sessions_opt, q)) != 0)
		return rc;
	if (optind < argc && strcmp(argv[optind], "show") == 0) {
		if (argc - optind != 2) {
			fprintf(stderr, "tollctl sessions show: give one session id\n");
			return CLI_EXIT_USAGE;
		}
		q->show = argv[optind + 1];
	} else if (optind < argc) {
		fprintf(stderr, "tollctl sessions: unexpected \"%s\"\n%s", argv[optind],
			cli_sessions_usage);
		return CLI_EXIT_USAGE;
	}
	return 0;
}

int cli_sessions_path(const struct cli_sessions_req *q, uint64_t now_ns, char *path, size_t cap,
		      char *err, size_t errlen)
{
	char buf[64];
	uint64_t ns;

	snprintf(path, cap, "/v1/sessions");
	if (q->since != NULL) {
		if (cli_since_parse(q->since, now_ns, &ns) < 0) {
			snprintf(err, errlen, "--since \"%s\": give a duration (90s, 30m, 1h, 2d, 1w) or "
				 "an RFC 3339 time (2024-05-01T12:00:00Z)", q->since);
			return CLI_EXIT_USAGE;
		}
		cli_rfc3339_fmt(ns, 9, buf, sizeof(buf));
		if (cli_query_add(path, cap, "since", buf) < 0)
			goto long_;
	}
	if ((q->live && cli_query_add(path, cap, "live", "1") < 0) ||
	    (q->resource && cli_query_add(path, cap, "resource", q->resource) < 0) ||
	    (q->user && cli_query_add(path, cap, "user", q->user) < 0) ||
	    (q->verdict && cli_query_add(path, cap, "verdict", q->verdict) < 0))
		goto long_;
	if (q->limit) {
		snprintf(buf, sizeof(buf), "%u", q->limit < CLI_PAGE_SESSIONS ? q->limit : CLI_PAGE_SESSIONS);
		if (cli_query_add(path, cap, "limit", buf) < 0)
			goto long_;
	}
	return 0;
long_:
	snprintf(err, errlen, "the query is too long");
	return CLI_EXIT_USAGE;
}

/* `sessions show ID`: the session's record, as "key: value" lines. */
static int cli_session_show(struct cli_global *g, const char *id)
{
	char sid[17], path[64];
	json_t *s;
	int rc;

	if (cli_sid_norm(id, sid) < 0) {
		fprintf(stderr, "tollctl: \"%s\" is not a session id (16 hex digits)\n", id);
		return CLI_EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "/v1/sessions/%s", sid);
	if ((rc = cli_call(g, "GET", path, NULL, CLI_NF_SESSION, sid, &s, NULL)) != CLI_EXIT_OK)
		return rc;
	if (g->json)
		cli_print_json(s);
	else
		cli_kv_print(stdout, s, 0);
	json_decref(s);
	return CLI_EXIT_OK;
}

int cli_cmd_sessions(struct cli_global *g, int argc, char **argv)
{
	char path[CLI_PATH_MAX], page[CLI_PATH_MAX + 64], err[256];
	struct cli_sessions_req q;
	json_t *all, *j, *list, *next;
	int rc;

	if ((rc = cli_sessions_args(g, &q, argc, argv)) != 0)
		return rc < 0 ? CLI_EXIT_OK : rc;
	if (q.show != NULL)
		return cli_session_show(g, q.show);
	if ((rc = cli_sessions_path(&q, tg_wall_ns(), path, sizeof(path), err, sizeof(err))) != 0) {
		fprintf(stderr, "tollctl: %s\n", err);
		return rc;
	}
	if ((all = json_array()) == NULL)
		return CLI_EXIT_FAIL;
	snprintf(page, sizeof(page), "%s", path);
	/* pages of at most CLI_PAGE_SESSIONS, newest first, joined with ?before=<next> until
	 * --limit is reached or the server has no more */
	for (;;) {
		if ((rc = cli_call(g, "GET", page, NULL, CLI_NF_ROUTE, NULL, &j, NULL)) != CLI_EXIT_OK)
			goto out;
		list = json_is_array(j) ? j : json_object_get(j, "sessions");
		json_array_extend(all, list);
		next = json_object_get(j, "next");
		if (!json_is_string(next) || json_array_size(list) == 0 || q.limit == 0 ||
		    json_array_size(all) >= q.limit) {
			json_decref(j);
			break;
		}
		snprintf(page, sizeof(page), "%s", path);
		rc = cli_query_add(page, sizeof(page), "before", json_string_value(next));
		json_decref(j);
		if (rc < 0) {
			rc = CLI_EXIT_FAIL;
			goto out;
		}
	}
	while (q.limit && json_array_size(all) > q.limit)
		json_array_remove(all, json_array_size(all) - 1);
	if (g->json)
		cli_print_json(all);
	else
		cli_sessions_print(stdout, all);
	rc = CLI_EXIT_OK;
out:
	json_decref(all);
	return rc;
}

/* ---- replay --------------------------------------------------------------------------- */

static const char cli_replay_usage[] = "usage: tollctl replay ID\n";

int cli_cmd_replay(struct cli_global *g, int argc, char **argv)
{
	static const struct option lo[] = { CLI_GLOBAL_LONGOPTS, { "help", no_argument, NULL, 'h' },
					    { NULL, 0, NULL, 0 } };
	char sid[17], path[128];
	json_t *s = NULL, *all = NULL, *j, *list, *next;
	long long from = 0;
	int rc;

	if ((rc = cli_getopt_online(g, argc, argv, cli_replay_usage, lo, NULL, NULL)) != 0)
		return rc < 0 ? CLI_EXIT_OK : rc;
	if ((rc = cli_one_sid(argc, argv, cli_replay_usage, sid)) != 0)
		return rc;
	snprintf(path, sizeof(path), "/v1/sessions/%s", sid);
	if (!g->json && (rc = cli_call(g, "GET", path, NULL, CLI_NF_SESSION, sid, &s, NULL)))
		return rc;
	if ((all = json_array()) == NULL) {
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	/* every page: "next" is the sequence number to ask from, null after the last; a
	 * cursor that does not move on ends the loop too */
	for (;;) {
		snprintf(path, sizeof(path), "/v1/sessions/%s/events?from=%lld&limit=%u", sid, from,
			 CLI_PAGE_EVENTS);
		if ((rc = cli_call(g, "GET", path, NULL, CLI_NF_SESSION, sid, &j, NULL)) != CLI_EXIT_OK)
			goto out;
		list = json_is_array(j) ? j : json_object_get(j, "events");
		json_array_extend(all, list);
		next = json_object_get(j, "next");
		if (!json_is_integer(next) || json_integer_value(next) <= from ||
		    json_array_size(list) == 0) {
			json_decref(j);
			break;
		}
		from = json_integer_value(next);
		json_decref(j);
	}
	if (g->json)
		cli_print_json(all);
	else
		cli_replay_print(stdout, s, all);
	rc = CLI_EXIT_OK;
out:
	json_decref(s);
	json_decref(all);
	return rc;
}

/* ---- kill ------------------------------------------------------------------------------ */

static const char cli_kill_usage[] = "usage: tollctl kill ID [--reason TEXT]\n";

static int cli_kill_opt(void *ctx, int opt, char *arg)
{
	if (opt != 'R')
		return CLI_EXIT_USAGE;
	*(const char **)ctx = arg;
	return 0;
}

int cli_cmd_kill(struct cli_global *g, int argc, char **argv)
{
	static const struct option lo[] = { CLI_GLOBAL_LONGOPTS,
					    { "reason", required_argument, NULL, 'R' },
					    { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	const char *reason = NULL;
	char sid[17], path[64];
	json_t *body, *j;
	int rc;

	if ((rc = cli_getopt_online(g, argc, argv, cli_kill_usage, lo, cli_kill_opt, &reason)) != 0)
		return rc < 0 ? CLI_EXIT_OK : rc;
	if ((rc = cli_one_sid(argc, argv, cli_kill_usage, sid)) != 0)
		return rc;
	snprintf(path, sizeof(path), "/v1/sessions/%s/kill", sid);
	body = reason != NULL ? json_pack("{s:s}", "reason", reason) : json_object();
	rc = cli_call(g, "POST", path, body, CLI_NF_SESSION, sid, &j, NULL);
	json_decref(body);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (g->json)
		cli_print_json(j);
	else
		printf("session %s killed\n", sid);
	json_decref(j);
	return CLI_EXIT_OK;
}

/* ---- metrics, audit ---------------------------------------------------------------------- */

static const char cli_metrics_usage[] = "usage: tollctl metrics\n";

int cli_cmd_metrics(struct cli_global *g, int argc, char **argv)
{
	static const struct option lo[] = { CLI_GLOBAL_LONGOPTS, { "help", no_argument, NULL, 'h' },
					    { NULL, 0, NULL, 0 } };
	struct cli_resp r;
	int rc;

	if ((rc = cli_getopt_online(g, argc, argv, cli_metrics_usage, lo, NULL, NULL)) != 0)
		return rc < 0 ? CLI_EXIT_OK : rc;
	if (optind != argc) {
		fprintf(stderr, "tollctl metrics: takes no arguments\n");
		return CLI_EXIT_USAGE;
	}
	if ((rc = cli_call(g, "GET", "/metrics", NULL, CLI_NF_ROUTE, NULL, NULL, &r)) != CLI_EXIT_OK)
		return rc;
	fwrite(r.body, 1, r.len, stdout);
	cli_resp_free(&r);
	return CLI_EXIT_OK;
}

static const char cli_audit_usage[] = "usage: tollctl audit [--limit N]\n";

static int cli_audit_opt(void *ctx, int opt, char *arg)
{
	return opt == 'n' ? cli_count("--limit", arg, CLI_PAGE_SESSIONS, ctx) : CLI_EXIT_USAGE;
}

int cli_cmd_audit(struct cli_global *g, int argc, char **argv)
{
	static const struct option lo[] = { CLI_GLOBAL_LONGOPTS,
					    { "limit", required_argument, NULL, 'n' },
					    { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	static const struct cli_col cols[] = {
		{ "TIME", 0, 0 }, { "WHO", 24, 0 }, { "ACTION", 0, 0 }, { "DETAIL", 100, 0 },
	};
	unsigned limit = 0;
	char path[64];
	struct cli_table t;
	json_t *j, *list, *a;
	size_t i;
	int rc;

	if ((rc = cli_getopt_online(g, argc, argv, cli_audit_usage, lo, cli_audit_opt, &limit)) != 0)
		return rc < 0 ? CLI_EXIT_OK : rc;
	if (optind != argc) {
		fprintf(stderr, "tollctl audit: unexpected \"%s\"\n", argv[optind]);
		return CLI_EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "/v1/audit");
	if (limit)
		snprintf(path, sizeof(path), "/v1/audit?limit=%u", limit);
	if ((rc = cli_call(g, "GET", path, NULL, CLI_NF_ROUTE, NULL, &j, NULL)) != CLI_EXIT_OK)
		return rc;
	list = json_is_array(j) ? j : json_object_get(j, "audit");
	if (g->json) {
		cli_print_json(list);
		json_decref(j);
		return CLI_EXIT_OK;
	}
	cli_table_init(&t, cols, 4);
	json_array_foreach(list, i, a) {
		const json_t *ts = json_object_get(a, "time");
		char when[32], *detail;
		const char *row[4];

		cli_time_local(cli_jtime(ts != NULL ? ts : json_object_get(a, "ts")), when, sizeof(when));
		detail = json_dumps(json_object_get(a, "detail"), JSON_COMPACT | JSON_ENCODE_ANY);
		row[0] = when;
		row[1] = cli_jstr(a, "who", "-");
		row[2] = cli_jstr(a, "action", "-");
		row[3] = detail != NULL ? detail : "";
		rc = cli_table_add(&t, row);
		free(detail);
		if (rc < 0)
			break;
	}
	if (t.nrows == 0)
		printf("no audit records\n");
	else
		cli_table_print(stdout, &t);
	cli_table_free(&t);
	json_decref(j);
	return CLI_EXIT_OK;
}
