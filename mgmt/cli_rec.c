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

unsigned cli_export_csv(FILE *f, const json_t *events)
{
	static const char *const head[] = { "seq", "time", "type", "action", "rule", "text" };
	char seq[24], when[40], *text = malloc(8192);
	unsigned n = 0;
	size_t i;
	json_t *ev;

	if (text == NULL)
		return 0;
	cli_csv_row(f, head, 6);
	json_array_foreach((json_t *)events, i, ev) {
		uint64_t ts = cli_jtime(json_object_get(ev, "ts"));
		const char *row[6];

		snprintf(seq, sizeof(seq), "%lld", cli_jint(ev, "seq", (long long)i));
		if (ts)
			cli_rfc3339_fmt(ts, 6, when, sizeof(when));
		else
			when[0] = '\0';
		cli_ev_text(ev, text, 8192);
		row[0] = seq;
		row[1] = when;
		row[2] = cli_ev_type(ev);
		row[3] = cli_ev_action(ev);
		row[4] = cli_jstr(ev, "rule", "");
		row[5] = text;
		cli_csv_row(f, row, 6);
		n++;
	}
	free(text);
	return n;
}

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
		fprintf(err, "tollctl: unknown session %s in %s\n", id, dir);
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

/* Verifies one session and prints "<id>  OK (n events)" or what is wrong. Returns 0
 * verified, 1 failed, -1 error. */
static int cli_verify_one(FILE *out, FILE *err, struct rec *r, uint64_t sid)
{
	json_t *v = NULL, *bad;
	char id[17];
	int rc;

	rec_sid_str(sid, id);
	rc = rec_verify(r, sid, &v);
	if (rc < 0 || v == NULL) {
		fprintf(err, "tollctl: session %s: cannot verify\n", id);
		json_decref(v);
		return -1;
	}
	bad = json_array_get(json_object_get(v, "failed"), 0);
	if (rc == 0 && bad == NULL) {
		fprintf(out, "%s  OK\n", id);
	} else {
		const json_t *seq = json_object_get(bad, "seq");

		if (json_is_integer(seq))
			fprintf(out, "%s  FAILED at event %lld: %s\n", id, (long long)json_integer_value(seq),
				cli_jstr(bad, "why", "altered"));
		else
			fprintf(out, "%s  FAILED: %s\n", id, cli_jstr(bad, "why", "altered"));
		rc = 1;
	}
	json_decref(v);
	return rc;
}

int cli_rec_verify(FILE *out, FILE *err, const char *dir, const char *id, int json)
{
	struct rec_filter f = { .verdict = -1, .limit = 1000 };
	unsigned total = 0, failed = 0, errors = 0;
	json_t *s = NULL, *list, *e;
	struct rec *r;
	uint64_t sid = 0;
	int rc;

	if (id != NULL && cli_rec_sid(err, id, &sid) < 0)
		return CLI_EXIT_USAGE;
	if ((r = cli_rec_open(err, dir)) == NULL)
		return CLI_EXIT_FAIL;
	if (id != NULL && (rec_session(r, sid, &s) != 0 || s == NULL)) {
		fprintf(err, "tollctl: unknown session %s in %s\n", id, dir);
		rc = CLI_EXIT_NOTFOUND;
		goto out;
	}
	if (json) {
		json_t *v = NULL;

		rc = rec_verify(r, sid, &v);
		if (rc < 0 || v == NULL) {
			fprintf(err, "tollctl: cannot verify the recordings in %s\n", dir);
			rc = CLI_EXIT_FAIL;
		} else {
			json_dumpf(v, out, JSON_INDENT(2));
			fputc('\n', out);
			rc = rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
		}
		json_decref(v);
		goto out;
	}
	if (id != NULL) {
		rc = cli_verify_one(out, err, r, sid) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
		goto out;
	}
	/* every session, newest first, a page at a time (each page its own read
	 * transaction: a long verify does not pin old pages of a busy store) */
	for (;;) {
		size_t i, n;

		if (rec_sessions(r, &f, &list) != 0 || !json_is_array(list)) {
			fprintf(err, "tollctl: cannot list the sessions in %s\n", dir);
			json_decref(list);
			errors++;
			break;
		}
		n = json_array_size(list);
		json_array_foreach(list, i, e) {
			const json_t *v = json_object_get(e, "id");
			char norm[17];

			if (json_is_integer(v))
				sid = (uint64_t)json_integer_value(v);
			else if (!json_is_string(v) || cli_sid_norm(json_string_value(v), norm) < 0 ||
				 rec_sid_parse(norm, &sid) != 0)
				continue;
			total++;
			rc = cli_verify_one(out, err, r, sid);
			failed += rc == 1;
			errors += rc < 0;
			f.before_sid = sid;
		}
		json_decref(list);
		if (n < f.limit || f.before_sid == 0)
			break;
	}
	fprintf(out, "%u session%s: %u OK, %u failed%s\n", total, total == 1 ? "" : "s",
		total - failed - errors, failed, errors ? ", some could not be read" : "");
	rc = failed || errors ? CLI_EXIT_FAIL : CLI_EXIT_OK;
out:
	json_decref(s);
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
