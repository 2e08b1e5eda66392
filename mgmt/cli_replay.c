/* cli_replay.c - tollctl's view of recordings: the sessions table, event descriptions
 * (shared by replay and CSV export) and the terminal-style replay of a session.
 *
 * The JSON comes from the API (GET /v1/sessions, /v1/sessions/{id}/events) or straight
 * from the recorder's readers (rec_sessions, rec_events), which produce the same
 * objects. Enumerations may come as names or as their numbers (enum ev_type,
 * enum rule_action, enum ev_close_reason): both are understood.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/cli.h"

static const char *const cli_ev_types[] = {
	[1] = "open", [2] = "auth", [3] = "command", [4] = "result", [5] = "error", [6] = "close",
	[7] = "rows",
};
const char *const cli_actions[CLI_N_ACTIONS] = {
	"allow", "alert", "mask", "review", "block", "reset",
};
static const char *const cli_close_reasons[] = {
	[1] = "fin", [2] = "rst", [3] = "idle", [4] = "policy", [5] = "killed", [6] = "shutdown",
	[7] = "lost",
};

#define CLI_NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Member <key> of <o> as a name: the string itself, or names[number]; <dflt> if neither. */
static const char *cli_jenum(const json_t *o, const char *key, const char *const *names,
			     size_t n, const char *dflt)
{
	const json_t *v = json_object_get(o, key);
	json_int_t i;

	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v) && (i = json_integer_value(v)) >= 0 && (size_t)i < n && names[i] != NULL)
		return names[i];
	return dflt;
}

const char *cli_ev_type(const json_t *ev)
{
	const char *t = cli_jenum(ev, "type", cli_ev_types, CLI_NELEM(cli_ev_types), "?");

	/* the recorder may spell them session_open / session_close */
	if (strcmp(t, "session_open") == 0)
		return "open";
	if (strcmp(t, "session_close") == 0)
		return "close";
	return t;
}

const char *cli_ev_action(const json_t *ev)
{
	if (strcmp(cli_ev_type(ev), "command") != 0)
		return "";
	return cli_jenum(ev, "action", cli_actions, CLI_NELEM(cli_actions),
			 cli_jenum(ev, "verdict", cli_actions, CLI_NELEM(cli_actions), "allow"));
}

/* An endpoint: "client" as "addr:port" text, or separate address and port members. */
static void cli_endpoint(const json_t *o, const char *key, const char *port, char *out, size_t cap)
{
	const char *a = cli_jstr(o, key, NULL);
	long long p = cli_jint(o, port, -1);

	if (a == NULL)
		snprintf(out, cap, "?");
	else if (p >= 0 && strchr(a, ':') != NULL && a[0] != '[')
		snprintf(out, cap, "[%s]:%lld", a, p);     /* IPv6 address, separate port */
	else if (p >= 0)
		snprintf(out, cap, "%s:%lld", a, p);
	else
		snprintf(out, cap, "%s", a);
}

/* Result summary: "SELECT 2: 2 rows, 1 field masked, 512 bytes, 1.9 ms". */
static void cli_result_text(const json_t *ev, char *out, size_t cap)
{
	long long rows = cli_jint(ev, "rows", -1), masked = cli_jint(ev, "masked", 0);
	long long bytes = cli_jint(ev, "bytes", -1), us = cli_jint(ev, "duration_us", -1);
	const char *tag = cli_jstr(ev, "tag", "");
	size_t o = 0;

#define CLI_APPEND(...) do { \
		int n_ = snprintf(out + o, cap - o, __VA_ARGS__); \
		o = n_ < 0 ? o : (size_t)n_ >= cap - o ? cap - 1 : o + (size_t)n_; \
	} while (0)
	out[0] = '\0';
	CLI_APPEND("%s%s", tag, *tag ? ":" : "");
	if (rows >= 0)
		CLI_APPEND("%s%lld row%s", o ? " " : "", rows, rows == 1 ? "" : "s");
	if (masked > 0)
		CLI_APPEND("%s%lld field%s masked", o ? ", " : "", masked, masked == 1 ? "" : "s");
	if (bytes >= 0)
		CLI_APPEND("%s%lld bytes", o ? ", " : "", bytes);
	if (us >= 0)
		CLI_APPEND("%s%.1f ms", o ? ", " : "", (double)us / 1000.0);
#undef CLI_APPEND
}

void cli_ev_text(const json_t *ev, char *out, size_t cap)
{
	const char *t = cli_ev_type(ev);
	char a[80], b[80];

	if (strcmp(t, "command") == 0) {
		long long len = cli_jint(ev, "len", -1);
		const char *txt = cli_jstr(ev, "text", "");
		int trunc = json_is_true(json_object_get(ev, "truncated")) ||
			    (cli_jint(ev, "flags", 0) & 0x01) != 0 ||
			    (len >= 0 && (size_t)len > strlen(txt));

		if (trunc && len >= 0)
			snprintf(out, cap, "%s ... (%lld bytes)", txt, len);
		else
			snprintf(out, cap, "%s%s", txt, trunc ? " ..." : "");
	} else if (strcmp(t, "result") == 0) {
		cli_result_text(ev, out, cap);
	} else if (strcmp(t, "rows") == 0) {
		snprintf(out, cap, "%s%s", cli_jstr(ev, "text", ""),
			 json_is_true(json_object_get(ev, "truncated")) ? " ..." : "");
	} else if (strcmp(t, "error") == 0) {
		const char *code = cli_jstr(ev, "code", "");

		snprintf(out, cap, "ERROR%s%s: %s", *code ? " " : "", code,
			 cli_jstr(ev, "text", cli_jstr(ev, "message", "")));
	} else if (strcmp(t, "open") == 0) {
		cli_endpoint(ev, "client", "client_port", a, sizeof(a));
		cli_endpoint(ev, "server", "server_port", b, sizeof(b));
		snprintf(out, cap, "%s -> %s", a, b);
	} else if (strcmp(t, "auth") == 0) {
		snprintf(out, cap, "user %s, database %s, application %s", cli_jstr(ev, "user", "-"),
			 cli_jstr(ev, "database", "-"), cli_jstr(ev, "app", "-"));
	} else if (strcmp(t, "close") == 0) {
		long long c2s = cli_jint(ev, "bytes_c2s", -1), s2c = cli_jint(ev, "bytes_s2c", -1);
		const char *why = cli_jenum(ev, "reason", cli_close_reasons,
					    CLI_NELEM(cli_close_reasons), "?");

		if (c2s >= 0 && s2c >= 0)
			snprintf(out, cap, "%s; %lld bytes from the client, %lld from the server", why,
				 c2s, s2c);
		else
			snprintf(out, cap, "%s", why);
	} else {
		char *d = json_dumps(ev, JSON_COMPACT);

		snprintf(out, cap, "%s", d != NULL ? d : "");
		free(d);
	}
}

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

/* ---- sessions ----------------------------------------------------------------------------- */

/* A session's id as 16 hex digits whether it came as text or as a number. */
static void cli_session_id(const json_t *s, char out[17])
{
	const json_t *v = json_object_get(s, "id");

	if (json_is_integer(v))
		snprintf(out, 17, "%016" PRIx64, (uint64_t)json_integer_value(v));
	else
		snprintf(out, 17, "%s", json_is_string(v) ? json_string_value(v) : "?");
}

/* "live" for a session not closed yet, else its close reason. The recorder says "live";
 * without it, a "closed" time that is absent, null or 0 means live. */
static const char *cli_session_state(const json_t *s)
{
	const json_t *c = json_object_get(s, "closed"), *l = json_object_get(s, "live");
	int live = json_is_boolean(l) ? json_is_true(l) :
		   c == NULL || json_is_null(c) || (json_is_integer(c) && json_integer_value(c) == 0);

	return live ? "live" : cli_jenum(s, "close_reason", cli_close_reasons,
					 CLI_NELEM(cli_close_reasons), "closed");
}

void cli_sessions_print(FILE *f, const json_t *sessions)
{
	static const struct cli_col cols[] = {
		{ "ID", 0, 0 }, { "OPENED", 0, 0 }, { "USER", 20, 0 }, { "RESOURCE", 20, 0 },
		{ "CLIENT", 47, 0 }, { "CMDS", 0, 1 }, { "BLOCKED", 0, 1 }, { "MASKED", 0, 1 },
		{ "STATE", 0, 0 },
	};
	struct cli_table t;
	size_t i;
	json_t *s;

	cli_table_init(&t, cols, CLI_NELEM(cols));
	json_array_foreach((json_t *)sessions, i, s) {
		char id[17], opened[32], cmds[24], blk[24], msk[24], client[80];
		const char *row[CLI_NELEM(cols)];

		cli_session_id(s, id);
		cli_time_local(cli_jtime(json_object_get(s, "opened")), opened, sizeof(opened));
		cli_endpoint(s, "client", "client_port", client, sizeof(client));
		snprintf(cmds, sizeof(cmds), "%lld", cli_jint(s, "commands", 0));
		snprintf(blk, sizeof(blk), "%lld", cli_jint(s, "blocked", 0));
		snprintf(msk, sizeof(msk), "%lld", cli_jint(s, "masked", 0));
		row[0] = id;
		row[1] = opened;
		row[2] = cli_jstr(s, "user", "-");
		row[3] = cli_jstr(s, "resource", "-");
		row[4] = client;
		row[5] = cmds;
		row[6] = blk;
		row[7] = msk;
		row[8] = cli_session_state(s);
		if (cli_table_add(&t, row) < 0)
			break;
	}
	if (t.nrows == 0)
		fprintf(f, "no sessions\n");
	else
		cli_table_print(f, &t);
	cli_table_free(&t);
}

/* ---- replay -------------------------------------------------------------------------------- */

/* Prints <text> after a prefix of <indent> columns; its later lines are indented as much
 * (a statement keeps its own line breaks, as the user typed it). */
static void cli_print_block(FILE *f, const char *text, unsigned indent)
{
	for (const char *p = text; *p; p++) {
		if (*p == '\r')
			continue;
		fputc(*p, f);
		if (*p == '\n' && p[1] != '\0')
			fprintf(f, "%*s", (int)indent, "");
	}
	fputc('\n', f);
}

static void cli_replay_header(FILE *f, const json_t *s)
{
	char id[17], opened[32], closed[32], client[80], server[80];
	const char *state = cli_session_state(s);

	cli_session_id(s, id);
	cli_time_local(cli_jtime(json_object_get(s, "opened")), opened, sizeof(opened));
	cli_time_local(cli_jtime(json_object_get(s, "closed")), closed, sizeof(closed));
	cli_endpoint(s, "client", "client_port", client, sizeof(client));
	cli_endpoint(s, "server", "server_port", server, sizeof(server));
	fprintf(f, "session %s: user %s, database %s, application %s\n", id,
		cli_jstr(s, "user", "-"), cli_jstr(s, "database", "-"), cli_jstr(s, "app", "-"));
	fprintf(f, "  resource %s, client %s -> server %s\n", cli_jstr(s, "resource", "-"), client,
		server);
	if (strcmp(state, "live") == 0)
		fprintf(f, "  opened %s, still open\n", opened);
	else
		fprintf(f, "  opened %s, closed %s (%s)\n", opened, closed, state);
	fprintf(f, "  %lld commands, %lld blocked, %lld fields masked\n\n",
		cli_jint(s, "commands", 0), cli_jint(s, "blocked", 0), cli_jint(s, "masked", 0));
}

/* The mark before each kind of event in a replay: what the client sent ('>'), what came
 * back ('<'), errors ('!'), and the session's own events ("--"). */
static const char *cli_replay_mark(const char *type)
{
	if (strcmp(type, "command") == 0)
		return ">";
	if (strcmp(type, "result") == 0)
		return "<";
	if (strcmp(type, "rows") == 0)
		return "<|";
	if (strcmp(type, "error") == 0)
		return "!";
	if (strcmp(type, "open") == 0)
		return "-- opened:";
	if (strcmp(type, "auth") == 0)
		return "--";
	if (strcmp(type, "close") == 0)
		return "-- closed:";
	return "??";
}

#define CLI_REPLAY_TEXT 4096

unsigned cli_replay_print(FILE *f, const json_t *session, const json_t *events)
{
	char *text = malloc(CLI_REPLAY_TEXT);
	uint64_t t0 = 0;
	unsigned n = 0;
	size_t i;
	json_t *ev;

	if (text == NULL)
		return 0;
	if (json_is_object(session))
		cli_replay_header(f, session);
	/* offsets count from the open event, else from the session's open, else from the
	 * first event (a session whose open was pruned still replays) */
	json_array_foreach((json_t *)events, i, ev)
		if (strcmp(cli_ev_type(ev), "open") == 0 && (t0 = cli_jtime(json_object_get(ev, "ts"))))
			break;
	if (t0 == 0)
		t0 = cli_jtime(json_object_get(session, "opened"));
	if (t0 == 0)
		t0 = cli_jtime(json_object_get(json_array_get(events, 0), "ts"));
	json_array_foreach((json_t *)events, i, ev) {
		uint64_t ts = cli_jtime(json_object_get(ev, "ts"));
		const char *t = cli_ev_type(ev), *mark = cli_replay_mark(t);
		uint64_t d = ts < t0 ? t0 - ts : ts - t0;
		char off[32];

		snprintf(off, sizeof(off), "%c%" PRIu64 ".%03" PRIu64 "s", ts < t0 ? '-' : '+',
			 d / 1000000000u, d / 1000000u % 1000u);
		cli_ev_text(ev, text, CLI_REPLAY_TEXT);
		fprintf(f, "%10s  %s ", off, mark);
		cli_print_block(f, text, 12 + (unsigned)strlen(mark) + 1);
		if (strcmp(t, "command") == 0) {
			const char *act = cli_ev_action(ev), *rule = cli_jstr(ev, "rule", "");

			fprintf(f, "%14s", "");
			for (; *act; act++)
				fputc(*act >= 'a' && *act <= 'z' ? *act - 'a' + 'A' : *act, f);
			fprintf(f, "%s%s\n", *rule ? " " : "", rule);
		}
		n++;
	}
	free(text);
	return n;
}
