/* cli_rec.c - tollctl's offline recording commands: `recordings export` and `verify`,
 * reading the LMDB store directly (read-only transactions: safe while tollgated writes,
 * and they never block it). */
#include <stdlib.h>
#include <string.h>

#include "mgmt/cli.h"
#include "slowpath/recorder.h"

#define CLI_REC_PAGE 10000            /* events read per rec_events() call */

static const char cli_recordings_usage[] =
	"usage: tollctl recordings export ID [--format json|csv] [--dir DIR]\n";
static const char cli_verify_usage[] = "usage: tollctl verify [ID] [--dir DIR]\n";

/* Opens the store in <dir> read-only; prints why not on <err>. */
static struct rec *cli_rec_open(FILE *err, const char *dir)
{
	char msg[512];
	struct rec *r;

	if (rec_open(dir, 0, 1, &r, msg, sizeof(msg)) != 0) {
		fprintf(err, "tollctl: cannot open the recordings in %s: %s\n", dir, msg);
		return NULL;
	}
	return r;
}

/* Parses session id <id> for the recorder. Prints why not on <err>. */
static int cli_rec_sid(FILE *err, const char *id, uint64_t *sid)
{
	char norm[17];

	if (cli_sid_norm(id, norm) < 0 || rec_sid_parse(norm, sid) != 0) {
		fprintf(err, "tollctl: \"%s\" is not a session id (16 hex digits)\n", id);
		return -1;
	}
	return 0;
}

/* All events of session <sid>, in order, in a new array; NULL on error. */
static json_t *cli_rec_all_events(struct rec *r, uint64_t sid)
{
	json_t *all = json_array(), *page;
	uint32_t from = 0;

	while (all != NULL) {
		size_t n;

		if (rec_events(r, sid, from, CLI_REC_PAGE, &page) != 0 || !json_is_array(page)) {
			json_decref(page);
			json_decref(all);
			return NULL;
		}
		n = json_array_size(page);
		if (n > 0)
			from = (uint32_t)cli_jint(json_array_get(page, n - 1), "seq", from + (long long)n - 1) + 1;
		json_array_extend(all, page);
		json_decref(page);
		/* a short page is the last one; a sequence that wraps would not move on */
		if (n < CLI_REC_PAGE || from == 0)
			break;
	}
	return all;
}

int cli_rec_export(FILE *out, FILE *err, const char *dir, const char *id, enum cli_fmt fmt)
{
	json_t *s = NULL, *ev = NULL, *j;
	struct rec *r;
	uint64_t sid;
	int rc = CLI_EXIT_FAIL;

	if (cli_rec_sid(err, id, &sid) < 0)
		return CLI_EXIT_USAGE;
	if ((r = cli_rec_open(err, dir)) == NULL)
		return CLI_EXIT_FAIL;
	if (rec_session(r, sid, &s) != 0 || s == NULL) {
		fprintf(err, "tollctl: unknown session %016llx in %s\n", (unsigned long long)sid, dir);
		rc = CLI_EXIT_NOTFOUND;
		goto out;
	}
	if ((ev = cli_rec_all_events(r, sid)) == NULL) {
		fprintf(err, "tollctl: cannot read the events of session %s\n", id);
		goto out;
	}
	if (fmt == CLI_FMT_CSV) {
		cli_export_csv(out, ev);
	} else {
		j = json_pack("{s:O,s:O}", "session", s, "events", ev);
		if (j == NULL || json_dumpf(j, out, JSON_INDENT(2)) != 0) {
			fprintf(err, "tollctl: cannot write the export\n");
			json_decref(j);
			goto out;
		}
		fputc('\n', out);
		json_decref(j);
	}
	rc = fflush(out) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
out:
	json_decref(s);
	json_decref(ev);
	rec_close(r);
	return rc;
}

/* Prints one session's verdict: "<id>  OK", or the first event that does not verify
 * (<bad>, an element of rec_verify()'s "failed"). */
static void cli_verify_line(FILE *out, const char *id, const json_t *bad)
{
	const json_t *seq = json_object_get(bad, "seq");

	if (bad == NULL)
		fprintf(out, "%s  OK\n", id);
	else if (json_is_integer(seq) && json_integer_value(seq) >= 0)
		fprintf(out, "%s  FAILED at event %lld: %s\n", id, (long long)json_integer_value(seq),
			cli_jstr(bad, "why", "altered"));
	else
		fprintf(out, "%s  FAILED: %s\n", id, cli_jstr(bad, "why", "altered"));
}

/* A listed session and its failure (an element of "failed"), if any. */
struct cli_vsess {
	uint64_t sid;
	const json_t *bad;
};

static int cli_vsess_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct cli_vsess *)a)->sid, y = ((const struct cli_vsess *)b)->sid;

	return x < y ? -1 : x > y;
}

/* A session id from a JSON value: "0001000000000001" or a number. Returns 0 or -1. */
static int cli_json_sid(const json_t *v, uint64_t *sid)
{
	char norm[17];

	if (json_is_integer(v)) {
		*sid = (uint64_t)json_integer_value(v);
		return 0;
	}
	return json_is_string(v) && cli_sid_norm(json_string_value(v), norm) == 0 &&
	       rec_sid_parse(norm, sid) == 0 ? 0 : -1;
}

/* Every session id of the store, newest first, into a new array (*<n> of them); NULL on
 * error. A page at a time, each its own read transaction. */
static struct cli_vsess *cli_list_sids(struct rec *r, size_t *n)
{
	struct rec_filter f = { .verdict = -1, .limit = 1000 };
	struct cli_vsess *a = NULL, *na;
	size_t cap = 0, got;
	json_t *list, *e;
	size_t i;

	*n = 0;
	do {
		if (rec_sessions(r, &f, &list) != 0 || !json_is_array(list)) {
			json_decref(list);
			free(a);
			return NULL;
		}
		got = json_array_size(list);
		json_array_foreach(list, i, e) {
			uint64_t sid;

			if (cli_json_sid(json_object_get(e, "id"), &sid) < 0)
				continue;
			if (*n == cap) {
				cap = cap ? 2 * cap : 1024;
				if ((na = realloc(a, cap * sizeof(*a))) == NULL) {
					json_decref(list);
					free(a);
					return NULL;
				}
				a = na;
			}
			a[(*n)++] = (struct cli_vsess){ .sid = sid };
			f.before_sid = sid;
		}
		json_decref(list);
	} while (got == f.limit && f.before_sid != 0);
	if (a == NULL)
		a = malloc(sizeof(*a));       /* an empty store: an empty list, not an error */
	return a;
}

/* Verifies every session: lists them, runs one rec_verify() pass over the whole store
 * (which also finds events whose session record was removed), then prints a line per
 * session, newest first, the orphans, and a summary. Returns an enum cli_exit. */
static int cli_verify_all(FILE *out, FILE *err, struct rec *r, const char *dir)
{
	struct cli_vsess *list, *sorted = NULL;
	unsigned ok = 0, failed = 0;
	json_t *v = NULL, *bad;
	size_t n, i;
	char id[17];
	int rc = CLI_EXIT_FAIL;

	if ((list = cli_list_sids(r, &n)) == NULL) {
		fprintf(err, "tollctl: cannot list the sessions in %s\n", dir);
		return CLI_EXIT_FAIL;
	}
	if (rec_verify(r, 0, &v) < 0 || v == NULL ||
	    (n > 0 && (sorted = malloc(n * sizeof(*sorted))) == NULL)) {
		fprintf(err, "tollctl: cannot verify the recordings in %s\n", dir);
		goto out;
	}
	/* match the failures to the listed sessions (sorted copy, binary search) */
	if (n > 0) {
		memcpy(sorted, list, n * sizeof(*sorted));
		qsort(sorted, n, sizeof(*sorted), cli_vsess_cmp);
	}
	json_array_foreach(json_object_get(v, "failed"), i, bad) {
		struct cli_vsess key = { 0 }, *hit = NULL;

		failed++;
		if (n > 0 && cli_json_sid(json_object_get(bad, "id"), &key.sid) == 0)
			hit = bsearch(&key, sorted, n, sizeof(*sorted), cli_vsess_cmp);
		if (hit != NULL && hit->bad == NULL) {
			hit->bad = bad;
		} else {
			/* events without a session record: the record was deleted */
			cli_verify_line(out, cli_jstr(bad, "id", "?"), bad);
		}
	}
	for (i = 0; i < n; i++) {
		struct cli_vsess *hit = bsearch(&list[i], sorted, n, sizeof(*sorted), cli_vsess_cmp);

		rec_sid_str(list[i].sid, id);
		cli_verify_line(out, id, hit->bad);
		ok += hit->bad == NULL;
	}
	fprintf(out, "%u session%s: %u OK, %u failed\n", ok + failed, ok + failed == 1 ? "" : "s",
		ok, failed);
	rc = failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
out:
	json_decref(v);
	free(sorted);
	free(list);
	return rc;
}

int cli_rec_verify(FILE *out, FILE *err, const char *dir, const char *id, int json)
{
	json_t *s = NULL, *v = NULL;
	struct rec *r;
	uint64_t sid = 0;
	int rc, vr;

	if (id != NULL && cli_rec_sid(err, id, &sid) < 0)
		return CLI_EXIT_USAGE;
	if ((r = cli_rec_open(err, dir)) == NULL)
		return CLI_EXIT_FAIL;
	if (id != NULL && (rec_session(r, sid, &s) != 0 || s == NULL)) {
		fprintf(err, "tollctl: unknown session %016llx in %s\n", (unsigned long long)sid, dir);
		rc = CLI_EXIT_NOTFOUND;
		goto out;
	}
	if (id == NULL && !json) {
		rc = cli_verify_all(out, err, r, dir);
		goto out;
	}
	if ((vr = rec_verify(r, sid, &v)) < 0 || v == NULL) {
		fprintf(err, "tollctl: cannot verify the recordings in %s\n", dir);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	if (json) {
		json_dumpf(v, out, JSON_INDENT(2));
		fputc('\n', out);
	} else {
		char norm[17];

		rec_sid_str(sid, norm);
		cli_verify_line(out, norm, json_array_get(json_object_get(v, "failed"), 0));
	}
	rc = vr == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
out:
	json_decref(s);
	json_decref(v);
	rec_close(r);
	return rc;
}

/* ---- the commands' argument parsing --------------------------------------------------- */

struct cli_rec_opts {
	const char *dir;              /* --dir */
	int fmt;                      /* --format, enum cli_fmt */
};

static int cli_rec_opt(void *ctx, int opt, char *arg)
{
	struct cli_rec_opts *o = ctx;

	if (opt == 'd') {
		o->dir = arg;
		return 0;
	}
	if (opt == 'f') {
		if (strcmp(arg, "json") == 0 || strcmp(arg, "csv") == 0) {
			o->fmt = arg[0] == 'c' ? CLI_FMT_CSV : CLI_FMT_JSON;
			return 0;
		}
		fprintf(stderr, "tollctl: --format \"%s\": json or csv\n", arg);
	}
	return CLI_EXIT_USAGE;
}

static const struct option cli_export_longopts[] = {
	CLI_GLOBAL_LONGOPTS,
	{ "dir", required_argument, NULL, 'd' }, { "format", required_argument, NULL, 'f' },
	{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
};
static const struct option cli_verify_longopts[] = {
	CLI_GLOBAL_LONGOPTS,
	{ "dir", required_argument, NULL, 'd' }, { "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int cli_cmd_recordings(struct cli_global *g, int argc, char **argv)
{
	struct cli_rec_opts o = { .dir = CLI_DEFAULT_RECDIR, .fmt = CLI_FMT_JSON };
	int rc;

	if ((rc = cli_getopt(g, argc, argv, cli_recordings_usage, cli_export_longopts, cli_rec_opt,
			     &o)) != 0)
		return rc < 0 ? CLI_EXIT_OK : rc;
	if (argc - optind != 2 || strcmp(argv[optind], "export") != 0) {
		fprintf(stderr, "tollctl recordings: give export and a session id\n%s",
			cli_recordings_usage);
		return CLI_EXIT_USAGE;
	}
	return cli_rec_export(stdout, stderr, o.dir, argv[optind + 1], (enum cli_fmt)o.fmt);
}

int cli_cmd_verify(struct cli_global *g, int argc, char **argv)
{
	struct cli_rec_opts o = { .dir = CLI_DEFAULT_RECDIR };
	int rc;

	if ((rc = cli_getopt(g, argc, argv, cli_verify_usage, cli_verify_longopts, cli_rec_opt,
			     &o)) != 0)
		return rc < 0 ? CLI_EXIT_OK : rc;
	if (argc - optind > 1) {
		fprintf(stderr, "tollctl verify: at most one session id\n%s", cli_verify_usage);
		return CLI_EXIT_USAGE;
	}
	return cli_rec_verify(stdout, stderr, o.dir, optind < argc ? argv[optind] : NULL, g->json);
}
