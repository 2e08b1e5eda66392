/* cli.h - tollctl's parts: option and time parsing (cli_args.c), the REST client
 * (cli_rest.c), text tables, CSV and replay formatting (cli_table.c, cli_replay.c),
 * the online commands (cli_online.c) and the offline recording commands (cli_rec.c).
 *
 * The formatting functions are pure (JSON in, text on a FILE out) so that the unit
 * tests check them on canned data; the commands return an enum cli_exit status and
 * print their errors on stderr. Nothing here ever prints the bearer token.
 */
#ifndef TG_CLI_H
#define TG_CLI_H

#include <getopt.h>
#include <stdio.h>
#include <jansson.h>

#include "mgmt/cli-t.h"

/* ---- global options (cli_args.c) ---------------------------------------------------- */

/* getopt_long codes of the global options; every command's option table includes
 * CLI_GLOBAL_LONGOPTS and hands these codes to cli_global_opt(). */
enum {
	CLI_O_URL = 0x100, CLI_O_TOKEN, CLI_O_TOKEN_FILE, CLI_O_CACERT, CLI_O_INSECURE,
	CLI_O_JSON, CLI_O_TIMEOUT,
};

#define CLI_GLOBAL_LONGOPTS \
	{ "url", required_argument, NULL, CLI_O_URL }, \
	{ "token", required_argument, NULL, CLI_O_TOKEN }, \
	{ "token-file", required_argument, NULL, CLI_O_TOKEN_FILE }, \
	{ "cacert", required_argument, NULL, CLI_O_CACERT }, \
	{ "insecure", no_argument, NULL, CLI_O_INSECURE }, \
	{ "json", no_argument, NULL, CLI_O_JSON }, \
	{ "timeout", required_argument, NULL, CLI_O_TIMEOUT }

/* Sets <g> to the defaults: URL from $TOLLGATE_URL or CLI_DEFAULT_URL, token from
 * $TOLLGATE_TOKEN, a 30 s timeout, human-readable output. */
void cli_global_init(struct cli_global *g);

/* Applies global option <opt> (a CLI_O_* code) with argument <arg> to <g>. --token's
 * <arg> is overwritten in place with 'x' once copied, so that ps no longer shows it.
 * Returns 1 if <opt> is a global option and was applied, 0 if it is not a global
 * option, -1 on a bad value (message in <err>). */
int cli_global_opt(struct cli_global *g, int opt, char *arg, char *err, size_t errlen);

/* Completes <g> after parsing: checks the URL's scheme, strips a trailing '/', and picks
 * CLI_DEFAULT_CACERT when no --cacert was given and that file exists. Returns 0, or -1
 * with a message in <err>. */
int cli_global_finish(struct cli_global *g, char *err, size_t errlen);

/* Wipes the token in <g> (called before exit). */
void cli_global_wipe(struct cli_global *g);

/* Reads a token from file <path> into <out> (<cap> bytes), without surrounding white
 * space. Returns 0, or -1 (unreadable, empty, too long: message in <err>, which never
 * holds the token's text). */
int cli_token_read(const char *path, char *out, size_t cap, char *err, size_t errlen);

/* ---- time (cli_args.c) --------------------------------------------------------------- */

/* Parses an RFC 3339 date-time ("2024-05-01T12:00:00Z", "...:00.25+02:00"; 't', 'z'
 * and a space for 'T' are accepted) into ns since the epoch in *<ns>. Returns 0 or -1. */
int cli_rfc3339_parse(const char *s, uint64_t *ns);

/* Parses --since: a duration back from <now_ns> ("90s", "30m", "1h", "2d", "1w",
 * "1h30m") or an RFC 3339 date-time. Returns 0 with the instant in *<ns>, or -1. */
int cli_since_parse(const char *s, uint64_t now_ns, uint64_t *ns);

/* Writes <ns> as RFC 3339 in UTC with <frac> fraction digits (0, 3, 6 or 9) into <out>
 * ("2024-05-01T12:00:00.123Z"). */
void cli_rfc3339_fmt(uint64_t ns, unsigned frac, char *out, size_t len);

/* Writes <ns> as local time "2024-05-01 12:00:03" into <out>; "-" when <ns> is 0. */
void cli_time_local(uint64_t ns, char *out, size_t len);

/* Normalizes a session id given on the command line (1 to 16 hex digits) into 16
 * lowercase digits in <out>. Returns 0, or -1 if <s> is not a session id. */
int cli_sid_norm(const char *s, char out[17]);

/* ---- JSON helpers (cli_table.c) ------------------------------------------------------ */

/* Member <key> of object <o> as a string, or <dflt> when absent, null or not a string. */
const char *cli_jstr(const json_t *o, const char *key, const char *dflt);
/* Member <key> of object <o> as an integer (a number or a numeric string), or <dflt>. */
long long cli_jint(const json_t *o, const char *key, long long dflt);
/* A time value: integer ns since the epoch, or an RFC 3339 string. 0 if neither. */
uint64_t cli_jtime(const json_t *v);

/* ---- tables and CSV (cli_table.c) ---------------------------------------------------- */

/* Number of characters (UTF-8 code points) in <s>. */
unsigned cli_width(const char *s);

/* Copies <s> into <out> (<cap> bytes) for one table cell: control characters and runs
 * of white space become one space; when it has more than <max> characters (0: no
 * limit) it is cut to <max> - 3 and ends with "...". Never splits a UTF-8 sequence.
 * Returns the cell's width in characters. */
unsigned cli_cell(char *out, size_t cap, const char *s, unsigned max);

void cli_table_init(struct cli_table *t, const struct cli_col *cols, unsigned ncols);
/* Adds a row of t->ncols cells (NULL cells print as ""), each put through cli_cell()
 * with its column's max. Returns 0, or -1 out of memory. */
int cli_table_add(struct cli_table *t, const char *const *cells);
/* Prints the header and the rows, columns two spaces apart, no trailing blanks. */
void cli_table_print(FILE *f, const struct cli_table *t);
void cli_table_free(struct cli_table *t);

/* Writes <s> as one CSV field (RFC 4180): quoted when it holds a comma, a double quote,
 * CR or LF (or begins or ends with a space), with inner double quotes doubled. */
void cli_csv_field(FILE *f, const char *s);
/* Writes <n> fields as one CSV record ended by CRLF. */
void cli_csv_row(FILE *f, const char *const *fields, unsigned n);

/* Prints the members of object <o> as aligned "key: value" lines, nested objects with
 * their key as a prefix ("total.rx_pkts"), arrays as compact JSON, null members left
 * out. <indent> spaces before each line. */
void cli_kv_print(FILE *f, const json_t *o, unsigned indent);

/* ---- sessions, events and replay (cli_replay.c) -------------------------------------- */

/* Prints a table of sessions (the array of GET /v1/sessions or rec_sessions()): id,
 * opened, user, resource, client, commands, blocked, masked, state. */
void cli_sessions_print(FILE *f, const json_t *sessions);

/* The names of enum rule_action, by value: the verdicts the API and the recorder
 * write, and what --verdict accepts. */
#define CLI_N_ACTIONS 6
extern const char *const cli_actions[CLI_N_ACTIONS];

/* An event's type as a name ("open", "auth", "command", "result", "error", "close")
 * whether the JSON has the name or the enum ev_type number; "?" if neither. */
const char *cli_ev_type(const json_t *ev);
/* A command event's verdict as a lowercase name ("allow", "block"); "" for other
 * events. */
const char *cli_ev_action(const json_t *ev);
/* What event <ev> says, into <out>: a command's statement as recorded (line breaks
 * kept; "... (N bytes)" when it was cut), a result summary, an error, the endpoints of
 * an open, the user of an auth, the reason of a close. The text column of CSV export
 * and replay. */
void cli_ev_text(const json_t *ev, char *out, size_t cap);

/* Prints a session like a terminal replay: a header from <session> (may be NULL), then
 * each event of array <events> in order, with its time offset from the session's open
 * ("+0.000s"), the verdict of each statement (ALLOW, BLOCK rule-id, ...), result
 * summaries, errors and the close. Returns the number of events printed. */
unsigned cli_replay_print(FILE *f, const json_t *session, const json_t *events);

/* Writes <events> as CSV (RFC 4180): a header line "seq,time,type,action,rule,text",
 * then one record per event (time in RFC 3339 UTC, text as cli_ev_text()). Returns the
 * number of events written. */
unsigned cli_export_csv(FILE *f, const json_t *events);

/* ---- offline recordings (cli_rec.c) -------------------------------------------------- */

/* Offline `recordings export <id> --format <fmt>` from the store in <dir>, opened
 * read-only (safe while tollgated writes). Output on <out>, errors on <err>. Returns
 * CLI_EXIT_OK, CLI_EXIT_FAIL (store unreadable), CLI_EXIT_USAGE (bad id) or
 * CLI_EXIT_NOTFOUND (no such session). */
int cli_rec_export(FILE *out, FILE *err, const char *dir, const char *id, enum cli_fmt fmt);

/* Offline `verify [<id>]`: checks the hash chain of session <id>, or of every session
 * when <id> is NULL, printing "OK" per session or the first altered event. <json>: print
 * rec_verify()'s object instead. Returns CLI_EXIT_OK if all verify, CLI_EXIT_FAIL if
 * any failed or the store is unreadable, CLI_EXIT_NOTFOUND for an unknown <id>. */
int cli_rec_verify(FILE *out, FILE *err, const char *dir, const char *id, int json);

/* ---- the REST client (cli_rest.c) ---------------------------------------------------- */

/* Sends <method> <path> (starting with '/', query included) to g->url with the bearer
 * token, and <body> (may be NULL) as application/json. Fills <r> (free it with
 * cli_resp_free()). Returns 0 when an HTTP answer came (any status), or -1 when none did
 * (connect, TLS, timeout: libcurl's message in <err>). */
int cli_http(const struct cli_global *g, const char *method, const char *path,
	     const char *body, struct cli_resp *r, char *err, size_t errlen);
void cli_resp_free(struct cli_resp *r);

/* Judges answer <r>: 2xx returns CLI_EXIT_OK and prints nothing; otherwise prints the
 * error on <err> ("bad or missing token", "token lacks the role for this", "unknown
 * session <id>" when <nf> is CLI_NF_SESSION, else the server's {"error": ...} message
 * or the status) and returns the exit status for it. */
int cli_resp_judge(const struct cli_resp *r, enum cli_nf nf, const char *id, FILE *err);

/* One API call: cli_http(), then cli_resp_judge(); on success parses the body into *<out>
 * when <out> is not NULL (a new reference), or hands the raw answer over in <raw> when
 * <raw> is not NULL. Prints "cannot reach URL: <why>" on an unreachable server. Returns
 * an enum cli_exit status. */
int cli_call(const struct cli_global *g, const char *method, const char *path,
	     const json_t *body, enum cli_nf nf, const char *id, json_t **out,
	     struct cli_resp *raw);

/* Appends "&<key>=<val>" (or "?..." when <path> has no query yet), URL-encoding <val>.
 * Returns 0, or -1 when <cap> is too small. */
int cli_query_add(char *path, size_t cap, const char *key, const char *val);

/* ---- online commands (cli_online.c, cli_rules.c); argv[0] = the command word ------- */

/* Query of `sessions`, parsed from the command line. */
struct cli_sessions_req {
	const char *show;             /* `sessions show ID`: the id, else NULL */
	const char *resource;         /* --resource */
	const char *user;             /* --user */
	const char *verdict;          /* --verdict (an action name) */
	const char *since;            /* --since (duration or RFC 3339) */
	unsigned limit;               /* --limit (0: the server's default, 100); above the
	                               * server's page size, pages are fetched and joined */
	int live;                     /* --live */
};

/* Parses `sessions` arguments (argv[0] = "sessions"; global options included) into <q>
 * (its strings point into argv). Returns 0, -1 when --help was printed, or
 * CLI_EXIT_USAGE (message on stderr). */
int cli_sessions_args(struct cli_global *g, struct cli_sessions_req *q, int argc, char **argv);
/* Builds the request path of <q> ("/v1/sessions?live=1&since=..."), --since resolved
 * against <now_ns>. Returns 0, or CLI_EXIT_USAGE with a message in <err>. */
int cli_sessions_path(const struct cli_sessions_req *q, uint64_t now_ns, char *path, size_t cap,
		      char *err, size_t errlen);

int cli_cmd_status(struct cli_global *g, int argc, char **argv);
int cli_cmd_sessions(struct cli_global *g, int argc, char **argv);
int cli_cmd_replay(struct cli_global *g, int argc, char **argv);
int cli_cmd_kill(struct cli_global *g, int argc, char **argv);
int cli_cmd_metrics(struct cli_global *g, int argc, char **argv);
int cli_cmd_audit(struct cli_global *g, int argc, char **argv);
/* `rules get [--dir DIR]`, `rules put FILE...`, and the online `rules test --sql`. */
int cli_cmd_rules_get(struct cli_global *g, int argc, char **argv);
int cli_cmd_rules_put(struct cli_global *g, int argc, char **argv);
int cli_cmd_rules_test(struct cli_global *g, const char *sql, const char *resource,
		       const char *protocol);
/* `recordings export ID --format json|csv [--dir DIR]` and `verify [ID] [--dir DIR]`. */
int cli_cmd_recordings(struct cli_global *g, int argc, char **argv);
int cli_cmd_verify(struct cli_global *g, int argc, char **argv);

/* cli_getopt() for a command that calls the API: then completes <g>
 * (cli_global_finish). Same returns. */
int cli_getopt_online(struct cli_global *g, int argc, char **argv, const char *usage,
		      const struct option *longopts, int (*cb)(void *ctx, int opt, char *arg),
		      void *ctx);

/* Prints <j> on stdout as the --json output: indented, one value, a newline. */
void cli_print_json(const json_t *j);

/* The option loop shared by every command: parses argv (argv[0] is the command word)
 * with <longopts>, which must include CLI_GLOBAL_LONGOPTS; global options go to <g>,
 * every other option to <cb> (which returns 0, or an exit status to stop). -h/--help
 * prints <usage> on stdout. Words that are not options are left, in order, in
 * argv[optind..argc). Commands that call the API then run cli_global_finish(). Returns
 * 0 to go on, -1 when help was printed (exit 0), or CLI_EXIT_USAGE (message on stderr). */
int cli_getopt(struct cli_global *g, int argc, char **argv, const char *usage,
	       const struct option *longopts, int (*cb)(void *ctx, int opt, char *arg),
	       void *ctx);

#endif
