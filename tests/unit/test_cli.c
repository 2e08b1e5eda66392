/* test_cli.c - tollctl: option and time parsing, tables, CSV, replay formatting, the REST
 * client against a one-shot local HTTP server, and the offline recording commands
 * against a real recorder store in a temporary directory. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <lmdb.h>

#include "mgmt/cli.h"
#include "rules/rule-t.h"
#include "slowpath/event-t.h"
#include "slowpath/recorder.h"

#define T0 1714564800000000000ull     /* 2024-05-01T12:00:00Z in ns */

/* Whether <s> begins with <prefix>. */
static int starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- helpers: output capture ------------------------------------------------------------ */

/* Runs with stdout and stderr of the process sent to temporary files, so that commands
 * that print can be checked. */
struct capture {
	int saved[2];
	FILE *tmp[2];
	char *out, *err;              /* what was printed, after capture_end (malloc'd) */
};

static void capture_begin(struct capture *c)
{
	fflush(stdout);
	fflush(stderr);
	for (int i = 0; i < 2; i++) {
		c->tmp[i] = tmpfile();
		assert_non_null(c->tmp[i]);
		c->saved[i] = dup(i + 1);
		dup2(fileno(c->tmp[i]), i + 1);
	}
}

static char *slurp_file(FILE *f)
{
	long n;
	char *s;

	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = calloc(1, (size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	return s;
}

static void capture_end(struct capture *c)
{
	fflush(stdout);
	fflush(stderr);
	for (int i = 0; i < 2; i++) {
		dup2(c->saved[i], i + 1);
		close(c->saved[i]);
	}
	c->out = slurp_file(c->tmp[0]);
	c->err = slurp_file(c->tmp[1]);
	fclose(c->tmp[0]);
	fclose(c->tmp[1]);
}

static void capture_free(struct capture *c)
{
	free(c->out);
	free(c->err);
}

/* What <call> printed on memory stream f. */
#define MEMOUT(var, call) do { \
		size_t len_; \
		FILE *f = open_memstream(&(var), &len_); \
		assert_non_null(f); \
		call; \
		fclose(f); \
	} while (0)

/* What <call> printed on memory streams fo and fe. */
#define MEMOUT2(out, err, call) do { \
		size_t olen_, elen_; \
		FILE *fo = open_memstream(&(out), &olen_), *fe = open_memstream(&(err), &elen_); \
		assert_non_null(fo); \
		assert_non_null(fe); \
		call; \
		fclose(fo); \
		fclose(fe); \
	} while (0)

/* ---- helpers: a local HTTP server answering canned replies ------------------------------ */

#define SRV_MAX 8

struct srv {
	int fd;
	uint16_t port;
	pthread_t th;
	unsigned n;                   /* replies to give, one connection each */
	struct {
		int status;
		const char *ctype;
		const char *body;
	} reply[SRV_MAX];
	char req[SRV_MAX][16384];     /* the requests received (head and body) */
	unsigned served;
};

/* Reads one request (head, and a body of Content-Length bytes) into <buf>. Every wait
 * is bounded: 5 s of silence ends it. */
static void srv_read(int fd, char *buf, size_t cap)
{
	size_t len = 0, want = 0;
	char *head_end = NULL;

	buf[0] = '\0';
	while (len + 1 < cap) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 5000) != 1 || (r = recv(fd, buf + len, cap - 1 - len, 0)) <= 0)
			break;
		len += (size_t)r;
		buf[len] = '\0';
		if (head_end == NULL && (head_end = strstr(buf, "\r\n\r\n")) != NULL) {
			const char *cl = strcasestr(buf, "Content-Length:");

			want = (size_t)(head_end + 4 - buf) + (cl != NULL && cl < head_end ?
							      strtoul(cl + 15, NULL, 10) : 0);
		}
		if (head_end != NULL && len >= want)
			break;
	}
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;

	for (unsigned i = 0; i < s->n; i++) {
		struct pollfd p = { .fd = s->fd, .events = POLLIN };
		char head[256];
		int c;

		if (poll(&p, 1, 10000) != 1 || (c = accept(s->fd, NULL, NULL)) < 0)
			break;
		srv_read(c, s->req[i], sizeof(s->req[i]));
		snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n", s->reply[i].status,
			 s->reply[i].ctype ? s->reply[i].ctype : "application/json",
			 strlen(s->reply[i].body));
		if (write(c, head, strlen(head)) < 0 ||
		    write(c, s->reply[i].body, strlen(s->reply[i].body)) < 0)
			fprintf(stderr, "srv: write: %s\n", strerror(errno));
		close(c);
		s->served = i + 1;
	}
	return NULL;
}

/* Starts a server on 127.0.0.1 (a free port) that gives the <n> replies set in <s>. */
static void srv_start(struct srv *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int one = 1;

	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->fd >= 0);
	setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 8), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
}

static void srv_stop(struct srv *s)
{
	pthread_join(s->th, NULL);
	close(s->fd);
}

/* A global-options struct pointing at server <s>, with token <tok>. */
static void g_for(struct cli_global *g, const struct srv *s, const char *tok)
{
	char err[128];

	cli_global_init(g);
	snprintf(g->url, sizeof(g->url), "http://127.0.0.1:%u/", s->port);
	snprintf(g->token, sizeof(g->token), "%s", tok);
	g->timeout_s = 10;
	assert_int_equal(cli_global_finish(g, err, sizeof(err)), 0);
}

/* ---- global options -------------------------------------------------------------------- */

static void test_global_defaults_and_env(void **state)
{
	struct cli_global g;

	unsetenv("TOLLGATE_URL");
	unsetenv("TOLLGATE_TOKEN");
	cli_global_init(&g);
	assert_string_equal(g.url, "https://127.0.0.1:8443");
	assert_string_equal(g.token, "");
	assert_int_equal(g.url_given, 0);
	assert_int_equal(g.token_given, 0);
	assert_int_equal(g.timeout_s, 30);
	assert_int_equal(g.json, 0);

	setenv("TOLLGATE_URL", "https://tg.example:9443", 1);
	setenv("TOLLGATE_TOKEN", "s3cret-env", 1);
	cli_global_init(&g);
	assert_string_equal(g.url, "https://tg.example:9443");
	assert_string_equal(g.token, "s3cret-env");
	assert_int_equal(g.url_given, 1);
	assert_int_equal(g.token_given, 1);
	/* a token that could break the header is not taken */
	setenv("TOLLGATE_TOKEN", "abc\r\nX-Evil: 1", 1);
	cli_global_init(&g);
	assert_string_equal(g.token, "");
	unsetenv("TOLLGATE_URL");
	unsetenv("TOLLGATE_TOKEN");
}

static void test_global_options(void **state)
{
	char arg[] = "tok-123", bad[] = "12x", err[256];
	struct cli_global g;

	cli_global_init(&g);
	assert_int_equal(cli_global_opt(&g, CLI_O_URL, (char[]){ "https://h:1///" }, err, sizeof(err)), 1);
	assert_int_equal(cli_global_opt(&g, CLI_O_TOKEN, arg, err, sizeof(err)), 1);
	assert_string_equal(g.token, "tok-123");
	assert_string_equal(arg, "xxxxxxx");            /* wiped from argv */
	assert_int_equal(cli_global_opt(&g, CLI_O_JSON, NULL, err, sizeof(err)), 1);
	assert_int_equal(cli_global_opt(&g, CLI_O_INSECURE, NULL, err, sizeof(err)), 1);
	assert_int_equal(cli_global_opt(&g, CLI_O_TIMEOUT, (char[]){ "7" }, err, sizeof(err)), 1);
	assert_int_equal(g.json, 1);
	assert_int_equal(g.insecure, 1);
	assert_int_equal(g.timeout_s, 7);
	assert_int_equal(cli_global_opt(&g, CLI_O_TIMEOUT, bad, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--timeout"));
	assert_int_equal(cli_global_opt(&g, CLI_O_TIMEOUT, (char[]){ "0" }, err, sizeof(err)), -1);
	assert_int_equal(cli_global_opt(&g, 'x', NULL, err, sizeof(err)), 0);   /* not global */
	assert_int_equal(cli_global_finish(&g, err, sizeof(err)), 0);
	assert_string_equal(g.url, "https://h:1");       /* trailing '/' gone */

	assert_int_equal(cli_global_opt(&g, CLI_O_URL, (char[]){ "ftp://h" }, err, sizeof(err)), 1);
	assert_int_equal(cli_global_finish(&g, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "https://"));
	cli_global_init(&g);
	assert_int_equal(cli_global_opt(&g, CLI_O_CACERT, (char[]){ "/nonexistent/ca.pem" }, err,
					sizeof(err)), 1);
	assert_int_equal(cli_global_finish(&g, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/ca.pem"));
	cli_global_wipe(&g);
	assert_string_equal(g.token, "");
}

static void test_token_file(void **state)
{
	char path[] = "/tmp/test_cli_tokXXXXXX", tok[64], err[256];
	int fd = mkstemp(path);
	FILE *f;

	assert_true(fd >= 0);
	close(fd);
	f = fopen(path, "w");
	fputs("  \n tok-from-file\n\n", f);
	fclose(f);
	assert_int_equal(cli_token_read(path, tok, sizeof(tok), err, sizeof(err)), 0);
	assert_string_equal(tok, "tok-from-file");

	f = fopen(path, "w");
	fputs("line1\nline2\n", f);
	fclose(f);
	assert_int_equal(cli_token_read(path, tok, sizeof(tok), err, sizeof(err)), -1);
	assert_null(strstr(err, "line1"));                /* the text is never in a message */
	f = fopen(path, "w");
	fclose(f);
	assert_int_equal(cli_token_read(path, tok, sizeof(tok), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "empty"));
	f = fopen(path, "w");
	for (int i = 0; i < 100; i++)
		fputc('a', f);
	fclose(f);
	assert_int_equal(cli_token_read(path, tok, sizeof(tok), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "longer"));
	unlink(path);
	assert_int_equal(cli_token_read(path, tok, sizeof(tok), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot read"));
}

static void test_sid_norm(void **state)
{
	char out[17];

	assert_int_equal(cli_sid_norm("0001000000000001", out), 0);
	assert_string_equal(out, "0001000000000001");
	assert_int_equal(cli_sid_norm("ABCDEF", out), 0);
	assert_string_equal(out, "0000000000abcdef");
	assert_int_equal(cli_sid_norm("", out), -1);
	assert_int_equal(cli_sid_norm("00010000000000011", out), -1);   /* 17 digits */
	assert_int_equal(cli_sid_norm("../rules", out), -1);
	assert_int_equal(cli_sid_norm("12g4", out), -1);
}

/* ---- sessions arguments ------------------------------------------------------------------ */

static void test_sessions_args(void **state)
{
	char *argv[] = { "sessions", "--live", "--resource", "orders db", "--user=alice",
			 "--verdict", "block", "--since", "1h", "--limit", "5", "--json",
			 "--url", "https://tg:8443/", NULL };
	char path[512], err[256];
	struct cli_sessions_req q;
	struct cli_global g;

	cli_global_init(&g);
	assert_int_equal(cli_sessions_args(&g, &q, 14, argv), 0);
	assert_int_equal(q.live, 1);
	assert_string_equal(q.resource, "orders db");
	assert_string_equal(q.user, "alice");
	assert_string_equal(q.verdict, "block");
	assert_string_equal(q.since, "1h");
	assert_int_equal(q.limit, 5);
	assert_null(q.show);
	assert_int_equal(g.json, 1);                       /* global options after the command */
	assert_string_equal(g.url, "https://tg:8443");
	assert_int_equal(cli_sessions_path(&q, T0 + 3600000000000ull, path, sizeof(path), err,
					   sizeof(err)), 0);
	assert_string_equal(path, "/v1/sessions?since=2024-05-01T12%3A00%3A00.000000000Z&live=1"
			    "&resource=orders%20db&user=alice&verdict=block&limit=5");
}

static void test_sessions_args_show_and_errors(void **state)
{
	char *show[] = { "sessions", "show", "00010000000000a1", NULL };
	char *badv[] = { "sessions", "--verdict", "deny", NULL };
	char *badl[] = { "sessions", "--limit", "0", NULL };
	char *extra[] = { "sessions", "everything", NULL };
	char *unk[] = { "sessions", "--frobnicate", NULL };
	char *noval[] = { "sessions", "--user", NULL };
	char *since[] = { "sessions", "--since", "yesterday", NULL };
	char path[512], err[256];
	struct cli_sessions_req q;
	struct cli_global g;
	struct capture c;

	cli_global_init(&g);
	assert_int_equal(cli_sessions_args(&g, &q, 3, show), 0);
	assert_string_equal(q.show, "00010000000000a1");
	capture_begin(&c);
	assert_int_equal(cli_sessions_args(&g, &q, 3, badv), CLI_EXIT_USAGE);
	assert_int_equal(cli_sessions_args(&g, &q, 3, badl), CLI_EXIT_USAGE);
	assert_int_equal(cli_sessions_args(&g, &q, 2, extra), CLI_EXIT_USAGE);
	assert_int_equal(cli_sessions_args(&g, &q, 2, unk), CLI_EXIT_USAGE);
	assert_int_equal(cli_sessions_args(&g, &q, 2, noval), CLI_EXIT_USAGE);
	capture_end(&c);
	assert_non_null(strstr(c.err, "--verdict \"deny\""));
	assert_non_null(strstr(c.err, "unexpected \"everything\""));
	assert_non_null(strstr(c.err, "unknown option --frobnicate"));
	assert_non_null(strstr(c.err, "missing the value of --user"));
	capture_free(&c);
	assert_int_equal(cli_sessions_args(&g, &q, 3, since), 0);
	assert_int_equal(cli_sessions_path(&q, T0, path, sizeof(path), err, sizeof(err)),
			 CLI_EXIT_USAGE);
	assert_non_null(strstr(err, "yesterday"));
}

/* ---- time --------------------------------------------------------------------------------- */

static void test_rfc3339_parse(void **state)
{
	uint64_t ns;

	assert_int_equal(cli_rfc3339_parse("2024-05-01T12:00:00Z", &ns), 0);
	assert_true(ns == T0);
	assert_int_equal(cli_rfc3339_parse("2024-05-01t12:00:00z", &ns), 0);
	assert_true(ns == T0);
	assert_int_equal(cli_rfc3339_parse("2024-05-01 12:00:00.25Z", &ns), 0);
	assert_true(ns == T0 + 250000000ull);
	assert_int_equal(cli_rfc3339_parse("2024-05-01T14:30:00.123456789+02:30", &ns), 0);
	assert_true(ns == T0 + 123456789ull);
	assert_int_equal(cli_rfc3339_parse("2024-05-01T07:00:00-05:00", &ns), 0);
	assert_true(ns == T0);
	/* more than 9 fraction digits: the rest is below a nanosecond */
	assert_int_equal(cli_rfc3339_parse("2024-05-01T12:00:00.0000000019Z", &ns), 0);
	assert_true(ns == T0 + 1);
	assert_int_equal(cli_rfc3339_parse("2024-02-29T00:00:00Z", &ns), 0);     /* leap year */
	assert_int_equal(cli_rfc3339_parse("2023-02-29T00:00:00Z", &ns), -1);
	assert_int_equal(cli_rfc3339_parse("2024-04-31T00:00:00Z", &ns), -1);
	assert_int_equal(cli_rfc3339_parse("2024-05-01T24:00:00Z", &ns), -1);
	assert_int_equal(cli_rfc3339_parse("2024-05-01T12:00:00", &ns), -1);     /* no zone */
	assert_int_equal(cli_rfc3339_parse("2024-05-01T12:00Z", &ns), -1);
	assert_int_equal(cli_rfc3339_parse("2024-05-01T12:00:00.Z", &ns), -1);
	assert_int_equal(cli_rfc3339_parse("2024-05-01T12:00:00+0200", &ns), -1);
	assert_int_equal(cli_rfc3339_parse("2024-05-01T12:00:00Zjunk", &ns), -1);
	assert_int_equal(cli_rfc3339_parse("1969-12-31T23:59:59Z", &ns), -1);
	assert_int_equal(cli_rfc3339_parse("", &ns), -1);
}

static void test_since_parse(void **state)
{
	const uint64_t now = T0, s = 1000000000ull;
	uint64_t ns;

	assert_int_equal(cli_since_parse("1h", now, &ns), 0);
	assert_true(ns == now - 3600 * s);
	assert_int_equal(cli_since_parse("30m", now, &ns), 0);
	assert_true(ns == now - 1800 * s);
	assert_int_equal(cli_since_parse("90s", now, &ns), 0);
	assert_true(ns == now - 90 * s);
	assert_int_equal(cli_since_parse("2d", now, &ns), 0);
	assert_true(ns == now - 2 * 86400 * s);
	assert_int_equal(cli_since_parse("1w", now, &ns), 0);
	assert_true(ns == now - 7 * 86400 * s);
	assert_int_equal(cli_since_parse("1h30m", now, &ns), 0);
	assert_true(ns == now - 5400 * s);
	assert_int_equal(cli_since_parse("0s", now, &ns), 0);
	assert_true(ns == now);
	assert_int_equal(cli_since_parse("2024-05-01T11:00:00Z", now, &ns), 0);
	assert_true(ns == now - 3600 * s);
	/* longer ago than the epoch: from the beginning */
	assert_int_equal(cli_since_parse("60w", 10 * s, &ns), 0);
	assert_true(ns == 0);
	assert_int_equal(cli_since_parse("", now, &ns), -1);
	assert_int_equal(cli_since_parse("h", now, &ns), -1);
	assert_int_equal(cli_since_parse("1", now, &ns), -1);
	assert_int_equal(cli_since_parse("1x", now, &ns), -1);
	assert_int_equal(cli_since_parse("-1h", now, &ns), -1);
	assert_int_equal(cli_since_parse("1.5h", now, &ns), -1);
	assert_int_equal(cli_since_parse("1h ", now, &ns), -1);
	assert_int_equal(cli_since_parse("99999999999999999999h", now, &ns), -1);
}

static void test_time_format(void **state)
{
	char buf[64];
	uint64_t ns;

	cli_rfc3339_fmt(T0 + 123456789ull, 0, buf, sizeof(buf));
	assert_string_equal(buf, "2024-05-01T12:00:00Z");
	cli_rfc3339_fmt(T0 + 123456789ull, 3, buf, sizeof(buf));
	assert_string_equal(buf, "2024-05-01T12:00:00.123Z");
	cli_rfc3339_fmt(T0 + 123456789ull, 6, buf, sizeof(buf));
	assert_string_equal(buf, "2024-05-01T12:00:00.123456Z");
	cli_rfc3339_fmt(T0 + 123456789ull, 9, buf, sizeof(buf));
	assert_string_equal(buf, "2024-05-01T12:00:00.123456789Z");
	assert_int_equal(cli_rfc3339_parse(buf, &ns), 0);
	assert_true(ns == T0 + 123456789ull);
	cli_time_local(T0, buf, sizeof(buf));                 /* TZ=UTC in main */
	assert_string_equal(buf, "2024-05-01 12:00:00");
	cli_time_local(0, buf, sizeof(buf));
	assert_string_equal(buf, "-");
}

/* ---- cells, tables, CSV ------------------------------------------------------------------ */

static void test_cell(void **state)
{
	char out[64];

	assert_int_equal(cli_cell(out, sizeof(out), "  select *\n\t from   t ", 0), 15);
	assert_string_equal(out, "select * from t");
	assert_int_equal(cli_cell(out, sizeof(out), "select * from orders where id = 1", 20), 20);
	assert_string_equal(out, "select * from ord...");
	/* a cut right after a space drops the space */
	assert_int_equal(cli_cell(out, sizeof(out), "abcdefg hijkl", 11), 10);
	assert_string_equal(out, "abcdefg...");
	assert_int_equal(cli_cell(out, sizeof(out), "abcdefgh ijkl", 12), 11);
	assert_string_equal(out, "abcdefgh...");
	assert_int_equal(cli_cell(out, sizeof(out), "exactly-10", 10), 10);
	assert_string_equal(out, "exactly-10");
	assert_int_equal(cli_cell(out, sizeof(out), "abcdef", 3), 3);      /* too narrow for dots */
	assert_string_equal(out, "abc");
	/* UTF-8: counted in characters, never cut inside one */
	assert_int_equal(cli_cell(out, sizeof(out), "h\xc3\xa9h\xc3\xa9h\xc3\xa9h\xc3\xa9", 7), 7);
	assert_string_equal(out, "h\xc3\xa9h\xc3\xa9...");
	assert_int_equal(cli_width("h\xc3\xa9\xe2\x82\xac"), 3);
	assert_int_equal(cli_cell(out, sizeof(out), NULL, 5), 0);
	assert_string_equal(out, "");
	/* a small buffer keeps whole characters */
	assert_int_equal(cli_cell(out, 4, "\xc3\xa9\xc3\xa9\xc3\xa9", 0), 1);
	assert_string_equal(out, "\xc3\xa9");
}

static void test_table(void **state)
{
	static const struct cli_col cols[] = {
		{ "ID", 0, 0 }, { "STATEMENT", 16, 0 }, { "N", 0, 1 }, { "STATE", 0, 0 },
	};
	const char *r1[] = { "a1", "select 1", "5", "live" };
	const char *r2[] = { "b22", "select * from orders where id = 7", "12345", "fin" };
	const char *r3[] = { "c", NULL, "0", "rst" };
	struct cli_table t;
	char *out;

	cli_table_init(&t, cols, 4);
	assert_int_equal(cli_table_add(&t, r1), 0);
	assert_int_equal(cli_table_add(&t, r2), 0);
	assert_int_equal(cli_table_add(&t, r3), 0);
	MEMOUT(out, cli_table_print(f, &t));
	assert_string_equal(out,
		"ID   STATEMENT             N  STATE\n"
		"a1   select 1              5  live\n"
		"b22  select * from...  12345  fin\n"
		"c                          0  rst\n");
	free(out);
	cli_table_free(&t);
}

static void test_csv_quoting(void **state)
{
	const char *row[] = { "plain", "a,b", "say \"hi\"", "two\nlines", "cr\rhere", " pad",
			      "", "x" };
	char *out;

	MEMOUT(out, cli_csv_row(f, row, 8));
	assert_string_equal(out, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\rhere\","
			    "\" pad\",,x\r\n");
	free(out);
	MEMOUT(out, cli_csv_field(f, "\"\""));
	assert_string_equal(out, "\"\"\"\"\"\"");
	free(out);
}

static void test_query_add(void **state)
{
	char p[64] = "/v1/sessions";

	assert_int_equal(cli_query_add(p, sizeof(p), "user", "a b&c=d/é"), 0);
	assert_string_equal(p, "/v1/sessions?user=a%20b%26c%3Dd%2F%C3%A9");
	assert_int_equal(cli_query_add(p, sizeof(p), "x", "-._~"), 0);
	assert_string_equal(p, "/v1/sessions?user=a%20b%26c%3Dd%2F%C3%A9&x=-._~");
	assert_int_equal(cli_query_add(p, sizeof(p), "long", "0123456789012345678901234567890"), -1);
}

static void test_kv_print(void **state)
{
	json_t *j = json_pack("{s:s,s:i,s:{s:i,s:b},s:[i,i]}", "status", "ok", "uptime_s", 42,
			      "total", "rx", 7, "up", 1, "list", 1, 2);
	char *out;

	MEMOUT(out, cli_kv_print(f, j, 2));
	assert_string_equal(out,
		"  status:   ok\n"
		"  uptime_s: 42\n"
		"  total.rx: 7\n"
		"  total.up: true\n"
		"  list:     [1,2]\n");
	free(out);
	json_decref(j);
}

/* ---- sessions table, events, replay --------------------------------------------------------- */

#define CANNED_SESSION \
	"{\"id\":\"0001000000000001\",\"opened\":\"2024-05-01T12:00:00.000000000Z\"," \
	"\"closed\":\"2024-05-01T12:00:09.000000000Z\",\"live\":false,\"resource\":\"orders\"," \
	"\"client\":\"198.18.0.1\",\"client_port\":51234,\"server\":\"198.18.0.2\"," \
	"\"server_port\":5432,\"user\":\"alice\",\"database\":\"shop\",\"app\":\"psql\"," \
	"\"commands\":2,\"blocked\":1,\"masked\":2,\"close_reason\":\"fin\"}"
static const char canned_session[] = CANNED_SESSION;

static const char canned_events[] =
	"[{\"seq\":0,\"ts\":\"2024-05-01T12:00:00.000000000Z\",\"type\":\"open\","
	"  \"client\":\"198.18.0.1\",\"client_port\":51234,\"server\":\"198.18.0.2\",\"server_port\":5432},"
	" {\"seq\":1,\"ts\":1714564800012000000,\"type\":\"auth\",\"user\":\"alice\","
	"  \"database\":\"shop\",\"app\":\"psql\"},"
	" {\"seq\":2,\"ts\":1714564801204000000,\"type\":\"command\",\"action\":\"allow\","
	"  \"rule\":\"\",\"text\":\"select *\\n  from orders\"},"
	" {\"seq\":3,\"ts\":1714564801206500000,\"type\":\"result\",\"rows\":12,\"masked\":2,"
	"  \"bytes\":2048,\"tag\":\"SELECT 12\",\"duration_us\":1900},"
	" {\"seq\":4,\"ts\":1714564805100000000,\"type\":\"command\",\"action\":\"block\","
	"  \"rule\":\"destructive.drop-table\",\"text\":\"drop table users, \\\"x\\\"\"},"
	" {\"seq\":5,\"ts\":1714564805101000000,\"type\":\"error\",\"code\":\"42501\","
	"  \"text\":\"blocked by tollgate\"},"
	" {\"seq\":6,\"ts\":1714564809000000000,\"type\":\"close\",\"reason\":\"fin\","
	"  \"bytes_c2s\":1200,\"bytes_s2c\":8000}]";

static const char expected_replay[] =
	"session 0001000000000001: user alice, database shop, application psql\n"
	"  resource orders, client 198.18.0.1:51234 -> server 198.18.0.2:5432\n"
	"  opened 2024-05-01 12:00:00, closed 2024-05-01 12:00:09 (fin)\n"
	"  2 commands, 1 blocked, 2 fields masked\n"
	"\n"
	"   +0.000s  -- opened: 198.18.0.1:51234 -> 198.18.0.2:5432\n"
	"   +0.012s  -- user alice, database shop, application psql\n"
	"   +1.204s  > select *\n"
	"                from orders\n"
	"              ALLOW\n"
	"   +1.206s  < SELECT 12: 12 rows, 2 fields masked, 2048 bytes, 1.9 ms\n"
	"   +5.100s  > drop table users, \"x\"\n"
	"              BLOCK destructive.drop-table\n"
	"   +5.101s  ! ERROR 42501: blocked by tollgate\n"
	"   +9.000s  -- closed: fin; 1200 bytes from the client, 8000 from the server\n";

static void test_replay_format(void **state)
{
	json_t *s = json_loads(canned_session, 0, NULL), *ev = json_loads(canned_events, 0, NULL);
	char *out;

	assert_non_null(s);
	assert_non_null(ev);
	MEMOUT(out, assert_int_equal(cli_replay_print(f, s, ev), 7));
	assert_string_equal(out, expected_replay);
	free(out);
	json_decref(s);
	json_decref(ev);
}

/* The recorder may give enumerations as numbers: the same replay comes out. */
static void test_replay_numeric_enums(void **state)
{
	json_t *ev = json_pack("[{s:i,s:I,s:i,s:i,s:s,s:s,s:i},{s:i,s:I,s:i,s:i}]",
			       "seq", 0, "ts", (json_int_t)(T0 + 5000000), "type", 3, "action", 4,
			       "rule", "r1", "text", "delete from t", "len", 13,
			       "seq", 1, "ts", (json_int_t)(T0 + 7000000), "type", 6, "reason", 5);
	json_t *s = json_pack("{s:s,s:I}", "id", "00000000000000ff", "opened", (json_int_t)T0);
	char *out;

	/* no open event and no session: offsets count from the first event */
	MEMOUT(out, cli_replay_print(f, NULL, ev));
	assert_non_null(strstr(out, "   +0.000s  > delete from t\n              BLOCK r1\n"));
	assert_non_null(strstr(out, "   +0.002s  -- closed: killed\n"));
	free(out);
	assert_string_equal(cli_ev_type(json_array_get(ev, 0)), "command");
	assert_string_equal(cli_ev_action(json_array_get(ev, 0)), "block");
	assert_string_equal(cli_ev_type(json_array_get(ev, 1)), "close");
	assert_string_equal(cli_ev_action(json_array_get(ev, 1)), "");
	/* ... else from the session's "opened" */
	MEMOUT(out, cli_replay_print(f, s, ev));
	assert_non_null(strstr(out, "   +0.005s  > delete from t\n"));
	free(out);
	json_decref(s);
	json_decref(ev);
}

static void test_ev_text_truncated(void **state)
{
	json_t *ev = json_pack("{s:s,s:s,s:i,s:b}", "type", "command", "text", "select 'aaaa",
			       "len", 5000, "truncated", 1);
	char buf[128];

	cli_ev_text(ev, buf, sizeof(buf));
	assert_string_equal(buf, "select 'aaaa ... (5000 bytes)");
	json_decref(ev);
}

static void test_sessions_table(void **state)
{
	json_t *list = json_loads("[{\"id\":\"0001000000000002\",\"opened\":\"2024-05-01T12:05:00Z\","
				  "\"user\":\"a-very-long-user-name@example.com\",\"resource\":\"orders\","
				  "\"client\":\"198.18.0.1:40000\",\"commands\":10,\"blocked\":0,"
				  "\"masked\":3,\"closed\":null},"
				  CANNED_SESSION "]", 0, NULL);
	json_t *empty = json_array();
	char *out;

	assert_non_null(list);
	MEMOUT(out, cli_sessions_print(f, list));
	assert_string_equal(out,
		"ID                OPENED               USER                  RESOURCE  "
		"CLIENT            CMDS  BLOCKED  MASKED  STATE\n"
		"0001000000000002  2024-05-01 12:05:00  a-very-long-user-...  orders    "
		"198.18.0.1:40000    10        0       3  live\n"
		"0001000000000001  2024-05-01 12:00:00  alice                 orders    "
		"198.18.0.1:51234     2        1       2  fin\n");
	free(out);
	MEMOUT(out, cli_sessions_print(f, empty));
	assert_string_equal(out, "no sessions\n");
	free(out);
	json_decref(list);
	json_decref(empty);
}

static void test_export_csv_canned(void **state)
{
	json_t *ev = json_loads(canned_events, 0, NULL);
	char *out;

	MEMOUT(out, assert_int_equal(cli_export_csv(f, ev), 7));
	assert_string_equal(out,
		"seq,time,type,action,rule,text\r\n"
		"0,2024-05-01T12:00:00.000000Z,open,,,198.18.0.1:51234 -> 198.18.0.2:5432\r\n"
		"1,2024-05-01T12:00:00.012000Z,auth,,,\"user alice, database shop, application psql\"\r\n"
		"2,2024-05-01T12:00:01.204000Z,command,allow,,\"select *\n  from orders\"\r\n"
		"3,2024-05-01T12:00:01.206500Z,result,,,\"SELECT 12: 12 rows, 2 fields masked, 2048 bytes, 1.9 ms\"\r\n"
		"4,2024-05-01T12:00:05.100000Z,command,block,destructive.drop-table,\"drop table users, \"\"x\"\"\"\r\n"
		"5,2024-05-01T12:00:05.101000Z,error,,,ERROR 42501: blocked by tollgate\r\n"
		"6,2024-05-01T12:00:09.000000Z,close,,,\"fin; 1200 bytes from the client, 8000 from the server\"\r\n");
	free(out);
	json_decref(ev);
}

/* ---- the REST client ------------------------------------------------------------------------- */

static void test_resp_judge(void **state)
{
	struct cli_resp r = { 0 };
	char *out;

	r.body = "{}";
	r.status = 200;
	MEMOUT(out, assert_int_equal(cli_resp_judge(&r, CLI_NF_ROUTE, NULL, f), CLI_EXIT_OK));
	assert_string_equal(out, "");
	free(out);
	r.status = 401;
	r.body = "{\"error\":\"unknown bearer token\"}";
	MEMOUT(out, assert_int_equal(cli_resp_judge(&r, CLI_NF_ROUTE, NULL, f), CLI_EXIT_AUTH));
	assert_non_null(strstr(out, "bad or missing token"));
	free(out);
	r.status = 403;
	r.body = "{\"error\":\"this route needs the admin role; 'ci' is auditor\"}";
	MEMOUT(out, assert_int_equal(cli_resp_judge(&r, CLI_NF_ROUTE, NULL, f), CLI_EXIT_AUTH));
	assert_string_equal(out, "tollctl: token lacks the role for this: this route needs the "
			    "admin role; 'ci' is auditor\n");
	free(out);
	r.status = 404;
	r.body = "{\"error\":\"no session 00000000000000aa\"}";
	MEMOUT(out, assert_int_equal(cli_resp_judge(&r, CLI_NF_SESSION, "00000000000000aa", f),
				     CLI_EXIT_NOTFOUND));
	assert_string_equal(out, "tollctl: unknown session 00000000000000aa\n");
	free(out);
	r.status = 422;
	r.body = "{\"error\":\"my.conf:3: rule r1: bad pattern\"}";
	MEMOUT(out, assert_int_equal(cli_resp_judge(&r, CLI_NF_ROUTE, NULL, f), CLI_EXIT_FAIL));
	assert_string_equal(out, "tollctl: my.conf:3: rule r1: bad pattern (HTTP 422)\n");
	free(out);
	r.status = 502;
	r.body = "<html>bad gateway</html>";
	MEMOUT(out, assert_int_equal(cli_resp_judge(&r, CLI_NF_ROUTE, NULL, f), CLI_EXIT_FAIL));
	assert_string_equal(out, "tollctl: the server answered HTTP 502\n");
	free(out);
}

static void test_rest_unreachable(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct cli_global g;
	struct capture c;
	json_t *j;
	char err[128];

	/* a bound port that does not listen: connections to it are refused */
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	cli_global_init(&g);
	snprintf(g.url, sizeof(g.url), "https://127.0.0.1:%u", ntohs(a.sin_port));
	snprintf(g.token, sizeof(g.token), "never-printed-token");
	assert_int_equal(cli_global_finish(&g, err, sizeof(err)), 0);
	capture_begin(&c);
	assert_int_equal(cli_call(&g, "GET", "/v1/health", NULL, CLI_NF_ROUTE, NULL, &j, NULL),
			 CLI_EXIT_UNREACHABLE);
	capture_end(&c);
	assert_null(j);
	assert_non_null(strstr(c.err, "tollctl: cannot reach https://127.0.0.1:"));
	assert_null(strstr(c.err, "never-printed-token"));
	capture_free(&c);
	close(fd);
}

static void test_rest_request_and_errors(void **state)
{
	struct srv s = { .n = 3 };
	json_t *body = json_pack("{s:s}", "reason", "test"), *j;
	struct cli_global g;
	struct capture c;

	s.reply[0].status = 200;
	s.reply[0].body = "{\"session\":\"00000000000000aa\",\"killed\":true}";
	s.reply[1].status = 401;
	s.reply[1].body = "{\"error\":\"unknown bearer token\"}";
	s.reply[2].status = 200;
	s.reply[2].body = "not json";
	srv_start(&s);
	g_for(&g, &s, "t0k3n-secret");
	assert_int_equal(cli_call(&g, "POST", "/v1/sessions/00000000000000aa/kill", body,
				  CLI_NF_SESSION, "00000000000000aa", &j, NULL), CLI_EXIT_OK);
	assert_true(json_is_true(json_object_get(j, "killed")));
	json_decref(j);
	capture_begin(&c);
	assert_int_equal(cli_call(&g, "GET", "/v1/stats", NULL, CLI_NF_ROUTE, NULL, &j, NULL),
			 CLI_EXIT_AUTH);
	assert_int_equal(cli_call(&g, "GET", "/v1/stats", NULL, CLI_NF_ROUTE, NULL, &j, NULL),
			 CLI_EXIT_FAIL);
	capture_end(&c);
	srv_stop(&s);
	assert_int_equal(s.served, 3);
	assert_true(starts_with(s.req[0], "POST /v1/sessions/00000000000000aa/kill HTTP/1.1\r\n"));
	assert_non_null(strstr(s.req[0], "\r\nAuthorization: Bearer t0k3n-secret\r\n"));
	assert_non_null(strstr(s.req[0], "\r\nContent-Type: application/json\r\n"));
	assert_non_null(strstr(s.req[0], "\r\n\r\n{\"reason\":\"test\"}"));
	assert_true(starts_with(s.req[1], "GET /v1/stats HTTP/1.1\r\n"));
	assert_non_null(strstr(c.err, "bad or missing token"));
	assert_non_null(strstr(c.err, "bad JSON"));
	assert_null(strstr(c.err, "t0k3n-secret"));
	assert_null(strstr(c.out, "t0k3n-secret"));
	capture_free(&c);
	json_decref(body);
}

/* replay fetches the session, then every page of events ("next" is the cursor). */
static void test_cmd_replay_pages(void **state)
{
	static char ev1[4096], ev2[4096];
	char *argv[] = { "replay", "1000000000001", NULL };
	json_t *all = json_loads(canned_events, 0, NULL), *p1 = json_array(), *p2 = json_array();
	char *d1, *d2;
	struct srv s = { .n = 3 };
	struct cli_global g;
	struct capture c;

	for (size_t i = 0; i < json_array_size(all); i++)
		json_array_append(i < 4 ? p1 : p2, json_array_get(all, i));
	d1 = json_dumps(p1, JSON_COMPACT);
	d2 = json_dumps(p2, JSON_COMPACT);
	snprintf(ev1, sizeof(ev1), "{\"session\":\"0001000000000001\",\"events\":%s,\"next\":4}", d1);
	snprintf(ev2, sizeof(ev2), "{\"session\":\"0001000000000001\",\"events\":%s,\"next\":null}", d2);
	s.reply[0].status = 200;
	s.reply[0].body = canned_session;
	s.reply[1].status = 200;
	s.reply[1].body = ev1;
	s.reply[2].status = 200;
	s.reply[2].body = ev2;
	srv_start(&s);
	g_for(&g, &s, "tok");
	capture_begin(&c);
	assert_int_equal(cli_cmd_replay(&g, 2, argv), CLI_EXIT_OK);
	capture_end(&c);
	srv_stop(&s);
	assert_true(starts_with(s.req[0], "GET /v1/sessions/0001000000000001 HTTP"));
	assert_true(starts_with(s.req[1], "GET /v1/sessions/0001000000000001/events?from=0&limit=10000 "));
	assert_true(starts_with(s.req[2], "GET /v1/sessions/0001000000000001/events?from=4&limit=10000 "));
	assert_string_equal(c.out, expected_replay);
	assert_string_equal(c.err, "");
	capture_free(&c);
	free(d1);
	free(d2);
	json_decref(all);
	json_decref(p1);
	json_decref(p2);
}

static void test_cmd_replay_unknown(void **state)
{
	char *argv[] = { "replay", "00000000000000aa", NULL };
	struct srv s = { .n = 1 };
	struct cli_global g;
	struct capture c;

	s.reply[0].status = 404;
	s.reply[0].body = "{\"error\":\"no session 00000000000000aa\"}";
	srv_start(&s);
	g_for(&g, &s, "tok");
	capture_begin(&c);
	assert_int_equal(cli_cmd_replay(&g, 2, argv), CLI_EXIT_NOTFOUND);
	capture_end(&c);
	srv_stop(&s);
	assert_string_equal(c.err, "tollctl: unknown session 00000000000000aa\n");
	capture_free(&c);
}

/* sessions --limit above the server's page: pages joined with ?before=. */
static void test_cmd_sessions_pages(void **state)
{
	char *argv[] = { "sessions", "--limit", "1500", "--user", "alice", NULL };
	struct srv s = { .n = 2 };
	struct cli_global g;
	struct capture c;

	s.reply[0].status = 200;
	s.reply[0].body = "{\"sessions\":[{\"id\":\"0000000000000003\",\"user\":\"alice\"},"
			  "{\"id\":\"0000000000000002\",\"user\":\"alice\"}],\"next\":\"0000000000000002\"}";
	s.reply[1].status = 200;
	s.reply[1].body = "{\"sessions\":[{\"id\":\"0000000000000001\",\"user\":\"alice\","
			  "\"closed\":5,\"close_reason\":\"rst\"}],\"next\":null}";
	srv_start(&s);
	g_for(&g, &s, "tok");
	capture_begin(&c);
	assert_int_equal(cli_cmd_sessions(&g, 5, argv), CLI_EXIT_OK);
	capture_end(&c);
	srv_stop(&s);
	assert_true(starts_with(s.req[0], "GET /v1/sessions?user=alice&limit=1000 "));
	assert_true(starts_with(s.req[1], "GET /v1/sessions?user=alice&limit=1000&before=0000000000000002 "));
	assert_non_null(strstr(c.out, "\n0000000000000003  -  "));
	assert_non_null(strstr(c.out, "\n0000000000000001  -  "));
	assert_non_null(strstr(c.out, "  rst\n"));
	capture_free(&c);
}

static void test_cmd_rules_put(void **state)
{
	char dir[] = "/tmp/test_cli_rulesXXXXXX", path[256], bad[256];
	char *argv[] = { "put", "--comment", "tighten", path, NULL };
	char *argv_bad[] = { "put", bad, NULL };
	struct srv s = { .n = 2 };
	struct cli_global g;
	struct capture c;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/my-rules.conf", dir);
	snprintf(bad, sizeof(bad), "%s/.hidden", dir);
	f = fopen(path, "w");
	fputs("rules = ( { id = \"r1\"; action = \"block\"; pattern = \"drop\"; } );\n", f);
	fclose(f);
	s.reply[0].status = 200;
	s.reply[0].body = "{\"version\":7,\"rules\":31}";
	s.reply[1].status = 422;
	s.reply[1].body = "{\"error\":\"my-rules.conf:1: rule r1: unknown action\"}";
	srv_start(&s);
	g_for(&g, &s, "tok");
	capture_begin(&c);
	assert_int_equal(cli_cmd_rules_put(&g, 4, argv), CLI_EXIT_OK);
	assert_int_equal(cli_cmd_rules_put(&g, 4, argv), CLI_EXIT_FAIL);
	assert_int_equal(cli_cmd_rules_put(&g, 2, argv_bad), CLI_EXIT_USAGE);
	capture_end(&c);
	srv_stop(&s);
	assert_true(starts_with(s.req[0], "PUT /v1/rules HTTP/1.1\r\n"));
	assert_non_null(strstr(s.req[0], "\"name\":\"my-rules.conf\""));
	assert_non_null(strstr(s.req[0], "\"text\":\"rules = ( { id = \\\"r1\\\";"));
	assert_non_null(strstr(s.req[0], "\"comment\":\"tighten\""));
	assert_string_equal(c.out, "rules accepted: version 7\n  rules: 31\n");
	assert_non_null(strstr(c.err, "tollctl: my-rules.conf:1: rule r1: unknown action (HTTP 422)\n"));
	assert_non_null(strstr(c.err, ".hidden: a rule file's name"));
	capture_free(&c);
	unlink(path);
	rmdir(dir);
}

/* ---- offline recordings against a real store ---------------------------------------------- */

struct store {
	char dir[64];
	uint64_t sid[2];              /* two recorded sessions */
	char id[2][17];
};

/* The events of the canned session (same times and texts), for session <sid>. */
static unsigned store_events(struct tg_event *ev, uint64_t sid, uint64_t t0)
{
	unsigned n = 0;

	memset(ev, 0, 7 * sizeof(*ev));
	for (unsigned i = 0; i < 7; i++) {
		ev[i].sid = sid;
		ev[i].proto = 1;
		ev[i].res_id = 0;
	}
	ev[n].type = EV_SESSION_OPEN;
	ev[n].ts_ns = t0;
	ev[n].u.open.ip_ver = 4;
	inet_pton(AF_INET, "198.18.0.1", &ev[n].u.open.client[0]);
	inet_pton(AF_INET, "198.18.0.2", &ev[n].u.open.server[0]);
	ev[n].u.open.cport = 51234;
	ev[n++].u.open.sport = 5432;
	ev[n].type = EV_AUTH;
	ev[n].ts_ns = t0 + 12000000;
	strcpy(ev[n].u.auth.user, "alice");
	strcpy(ev[n].u.auth.database, "shop");
	strcpy(ev[n++].u.auth.app, "psql");
	ev[n].type = EV_COMMAND;
	ev[n].ts_ns = t0 + 1204000000;
	ev[n].u.cmd.action = RULE_ALLOW;
	strcpy(ev[n].u.cmd.text, "select *\n  from orders");
	ev[n].u.cmd.len = (uint32_t)strlen(ev[n].u.cmd.text);
	n++;
	ev[n].type = EV_RESULT;
	ev[n].ts_ns = t0 + 1206500000;
	ev[n].u.result.rows = 12;
	ev[n].u.result.masked = 2;
	ev[n].u.result.bytes = 2048;
	ev[n].u.result.duration_us = 1900;
	strcpy(ev[n++].u.result.tag, "SELECT 12");
	ev[n].type = EV_COMMAND;
	ev[n].ts_ns = t0 + 5100000000;
	ev[n].u.cmd.action = RULE_BLOCK;
	strcpy(ev[n].u.cmd.rule, "destructive.drop-table");
	strcpy(ev[n].u.cmd.text, "drop table users, \"x\"");
	ev[n].u.cmd.len = (uint32_t)strlen(ev[n].u.cmd.text);
	n++;
	ev[n].type = EV_ERROR;
	ev[n].ts_ns = t0 + 5101000000;
	strcpy(ev[n].u.error.code, "42501");
	strcpy(ev[n++].u.error.text, "blocked by tollgate");
	ev[n].type = EV_SESSION_CLOSE;
	ev[n].ts_ns = t0 + 9000000000;
	ev[n].u.close.reason = EV_CLOSE_FIN;
	ev[n].u.close.bytes_c2s = 1200;
	ev[n++].u.close.bytes_s2c = 8000;
	return n;
}

/* Creates a store in a new temporary directory with two sessions of the canned events
 * (the second one minute later). */
static int store_setup(void **state)
{
	static const char *const res[] = { "orders" };
	struct store *st = calloc(1, sizeof(*st));
	struct tg_event ev[7];
	struct rec *r;
	char err[256];

	assert_non_null(st);
	snprintf(st->dir, sizeof(st->dir), "/tmp/test_cli_recXXXXXX");
	assert_non_null(mkdtemp(st->dir));
	assert_int_equal(rec_open(st->dir, 16u << 20, 0, &r, err, sizeof(err)), 0);
	rec_set_resources(r, res, 1);
	for (int i = 0; i < 2; i++) {
		st->sid[i] = (uint64_t)rec_boot(r) << 48 | (uint64_t)(i + 1);
		rec_sid_str(st->sid[i], st->id[i]);
		assert_int_equal(rec_write(r, ev, store_events(ev, st->sid[i], T0 + (uint64_t)i * 60000000000ull)), 7);
	}
	rec_close(r);
	*state = st;
	return 0;
}

static int store_teardown(void **state)
{
	struct store *st = *state;
	char path[128];

	snprintf(path, sizeof(path), "%s/data.mdb", st->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", st->dir);
	unlink(path);
	rmdir(st->dir);
	free(st);
	return 0;
}

/* Opens the store in <dir> with plain LMDB for writing, as someone editing the file
 * would, and the named database <db> in the write transaction *<txn>. */
static MDB_env *store_lmdb(const char *dir, const char *db, MDB_txn **txn, MDB_dbi *dbi)
{
	MDB_env *env;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, txn), 0);
	assert_int_equal(mdb_dbi_open(*txn, db, 0, dbi), 0);
	return env;
}

/* Keys are big-endian (recorder.h): session id, then the event's sequence number. */
static void store_key(uint8_t key[12], uint64_t sid, uint32_t seq)
{
	for (int i = 0; i < 8; i++)
		key[i] = (uint8_t)(sid >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		key[8 + i] = (uint8_t)(seq >> (24 - 8 * i));
}

/* Changes one byte of the statement text <needle> inside event <seq> of <sid>. */
static void store_alter(const char *dir, uint64_t sid, uint32_t seq, const char *needle)
{
	uint8_t key[12];
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { sizeof(key), key }, v, nv;
	MDB_env *env = store_lmdb(dir, "events", &txn, &dbi);
	char *copy, *hit;

	store_key(key, sid, seq);
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	copy = malloc(v.mv_size);
	assert_non_null(copy);
	memcpy(copy, v.mv_data, v.mv_size);
	hit = memmem(copy, v.mv_size, needle, strlen(needle));
	assert_non_null(hit);
	hit[0] ^= 0x20;                                    /* "drop" -> "Drop" */
	nv = (MDB_val){ v.mv_size, copy };
	assert_int_equal(mdb_put(txn, dbi, &k, &nv, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	free(copy);
}

/* Deletes the session record of <sid>, leaving its events behind. */
static void store_drop_session(const char *dir, uint64_t sid)
{
	uint8_t key[12];
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { 8, key };
	MDB_env *env = store_lmdb(dir, "sessions", &txn, &dbi);

	store_key(key, sid, 0);
	assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void test_rec_export_json(void **state)
{
	struct store *st = *state;
	json_t *j, *ev;
	json_error_t je;
	char *out, *err;

	MEMOUT2(out, err, assert_int_equal(cli_rec_export(fo, fe, st->dir, st->id[0],
									CLI_FMT_JSON), CLI_EXIT_OK));
	j = json_loads(out, 0, &je);
	assert_non_null(j);
	assert_string_equal(cli_jstr(json_object_get(j, "session"), "id", ""), st->id[0]);
	assert_string_equal(cli_jstr(json_object_get(j, "session"), "user", ""), "alice");
	assert_string_equal(cli_jstr(json_object_get(j, "session"), "resource", ""), "orders");
	assert_int_equal(cli_jint(json_object_get(j, "session"), "blocked", -1), 1);
	ev = json_object_get(j, "events");
	assert_int_equal(json_array_size(ev), 7);
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(cli_jint(json_array_get(ev, i), "seq", -1), (long long)i);
	assert_string_equal(cli_jstr(json_array_get(ev, 4), "action", ""), "block");
	assert_string_equal(cli_jstr(json_array_get(ev, 4), "rule", ""), "destructive.drop-table");
	assert_string_equal(cli_jstr(json_array_get(ev, 2), "text", ""), "select *\n  from orders");
	assert_true(cli_jtime(json_object_get(json_array_get(ev, 6), "ts")) == T0 + 9000000000ull);
	/* the replay of what the store holds is the canned one (the session id aside) */
	{
		char *rp, *want = strdup(expected_replay), *p = strstr(want, "0001000000000001");

		memcpy(p, st->id[0], 16);
		MEMOUT(rp, cli_replay_print(f, json_object_get(j, "session"), ev));
		assert_string_equal(rp, want);
		free(rp);
		free(want);
	}
	json_decref(j);
	free(out);
	free(err);
}

static void test_rec_export_csv(void **state)
{
	struct store *st = *state;
	char *out, *err;

	MEMOUT2(out, err, assert_int_equal(cli_rec_export(fo, fe, st->dir, st->id[1],
									CLI_FMT_CSV), CLI_EXIT_OK));
	assert_string_equal(out,
		"seq,time,type,action,rule,text\r\n"
		"0,2024-05-01T12:01:00.000000Z,open,,,198.18.0.1:51234 -> 198.18.0.2:5432\r\n"
		"1,2024-05-01T12:01:00.012000Z,auth,,,\"user alice, database shop, application psql\"\r\n"
		"2,2024-05-01T12:01:01.204000Z,command,allow,,\"select *\n  from orders\"\r\n"
		"3,2024-05-01T12:01:01.206500Z,result,,,\"SELECT 12: 12 rows, 2 fields masked, 2048 bytes, 1.9 ms\"\r\n"
		"4,2024-05-01T12:01:05.100000Z,command,block,destructive.drop-table,\"drop table users, \"\"x\"\"\"\r\n"
		"5,2024-05-01T12:01:05.101000Z,error,,,ERROR 42501: blocked by tollgate\r\n"
		"6,2024-05-01T12:01:09.000000Z,close,,,\"fin; 1200 bytes from the client, 8000 from the server\"\r\n");
	free(out);
	free(err);
}

static void test_rec_export_errors(void **state)
{
	struct store *st = *state;
	char *out, *err;

	MEMOUT2(out, err, assert_int_equal(cli_rec_export(fo, fe, st->dir, "00000000000000ee",
									CLI_FMT_JSON), CLI_EXIT_NOTFOUND));
	assert_string_equal(out, "");
	free(out);
	free(err);
	MEMOUT(err, assert_int_equal(cli_rec_export(stdout, f, st->dir, "not-an-id", CLI_FMT_CSV),
				     CLI_EXIT_USAGE));
	assert_non_null(strstr(err, "\"not-an-id\" is not a session id"));
	free(err);
	MEMOUT(err, assert_int_equal(cli_rec_export(stdout, f, "/nonexistent/recordings", st->id[0],
						    CLI_FMT_CSV), CLI_EXIT_FAIL));
	assert_non_null(strstr(err, "cannot open the recordings in /nonexistent/recordings"));
	free(err);
}

static void test_rec_verify(void **state)
{
	struct store *st = *state;
	char *out, *err, want[256];
	json_t *j;

	/* every session, newest first */
	MEMOUT2(out, err, assert_int_equal(cli_rec_verify(fo, fe, st->dir, NULL, 0),
						 CLI_EXIT_OK));
	snprintf(want, sizeof(want), "%s  OK\n%s  OK\n2 sessions: 2 OK, 0 failed\n", st->id[1],
		 st->id[0]);
	assert_string_equal(out, want);
	free(out);
	free(err);
	MEMOUT2(out, err, assert_int_equal(cli_rec_verify(fo, fe, st->dir, st->id[0], 0),
						 CLI_EXIT_OK));
	snprintf(want, sizeof(want), "%s  OK\n", st->id[0]);
	assert_string_equal(out, want);
	free(out);
	free(err);
	MEMOUT2(out, err, assert_int_equal(cli_rec_verify(fo, fe, st->dir, "00000000000000ee", 0),
						 CLI_EXIT_NOTFOUND));
	free(out);
	free(err);

	/* one byte of the blocked statement of the first session changes */
	store_alter(st->dir, st->sid[0], 4, "drop table users");
	MEMOUT2(out, err, assert_int_equal(cli_rec_verify(fo, fe, st->dir, NULL, 0),
						 CLI_EXIT_FAIL));
	snprintf(want, sizeof(want), "%s  OK\n%s  FAILED at event 4: hash mismatch\n"
		 "2 sessions: 1 OK, 1 failed\n", st->id[1], st->id[0]);
	assert_string_equal(out, want);
	free(out);
	free(err);
	MEMOUT2(out, err, assert_int_equal(cli_rec_verify(fo, fe, st->dir, st->id[1], 0),
						 CLI_EXIT_OK));
	free(out);
	free(err);
	MEMOUT2(out, err, assert_int_equal(cli_rec_verify(fo, fe, st->dir, NULL, 1),
						 CLI_EXIT_FAIL));
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	assert_int_equal(cli_jint(j, "sessions", -1), 2);
	assert_int_equal(cli_jint(j, "ok", -1), 1);
	assert_string_equal(cli_jstr(json_array_get(json_object_get(j, "failed"), 0), "id", ""), st->id[0]);
	assert_int_equal(cli_jint(json_array_get(json_object_get(j, "failed"), 0), "seq", -1), 4);
	json_decref(j);
	free(out);
	free(err);
	/* the export still shows what is stored now */
	MEMOUT2(out, err, assert_int_equal(cli_rec_export(fo, fe, st->dir, st->id[0],
								CLI_FMT_CSV), CLI_EXIT_OK));
	assert_non_null(strstr(out, "\"Drop table users, \"\"x\"\"\""));
	free(out);
	free(err);
}

/* A session record deleted (its events left): verify still finds them. */
static void test_rec_verify_orphans(void **state)
{
	struct store *st = *state;
	char *out, *err, want[256];

	store_drop_session(st->dir, st->sid[1]);
	MEMOUT2(out, err, assert_int_equal(cli_rec_verify(fo, fe, st->dir, NULL, 0), CLI_EXIT_FAIL));
	snprintf(want, sizeof(want), "%s  FAILED at event 0: no session record\n%s  OK\n"
		 "2 sessions: 1 OK, 1 failed\n", st->id[1], st->id[0]);
	assert_string_equal(out, want);
	free(out);
	free(err);
	MEMOUT2(out, err, assert_int_equal(cli_rec_verify(fo, fe, st->dir, st->id[1], 0),
					   CLI_EXIT_NOTFOUND));
	free(out);
	free(err);
}

/* The commands' own argument handling: `recordings export` and `verify`. */
static void test_rec_commands(void **state)
{
	struct store *st = *state;
	char *exp[] = { "recordings", "export", st->id[0], "--format", "csv", "--dir", st->dir, NULL };
	char *expbad[] = { "recordings", "export", st->id[0], "--format", "xml", NULL };
	char *expnoid[] = { "recordings", "export", NULL };
	char *ver[] = { "verify", "--dir", st->dir, NULL };
	char *verfmt[] = { "verify", "--format", "csv", NULL };
	struct cli_global g;
	struct capture c;

	cli_global_init(&g);
	capture_begin(&c);
	assert_int_equal(cli_cmd_recordings(&g, 7, exp), CLI_EXIT_OK);
	assert_int_equal(cli_cmd_verify(&g, 3, ver), CLI_EXIT_OK);
	assert_int_equal(cli_cmd_recordings(&g, 5, expbad), CLI_EXIT_USAGE);
	assert_int_equal(cli_cmd_recordings(&g, 2, expnoid), CLI_EXIT_USAGE);
	assert_int_equal(cli_cmd_verify(&g, 3, verfmt), CLI_EXIT_USAGE);
	capture_end(&c);
	assert_true(starts_with(c.out, "seq,time,type,action,rule,text\r\n0,"));
	assert_non_null(strstr(c.out, "\n2 sessions: 2 OK, 0 failed\n"));
	assert_non_null(strstr(c.err, "--format \"xml\": json or csv"));
	assert_non_null(strstr(c.err, "unknown option --format"));
	capture_free(&c);
}

/* A read-only export while another process holds the store open for writing (tollgated
 * running): LMDB readers never wait for the writer. */
static void test_rec_export_while_writer_open(void **state)
{
	struct store *st = *state;
	int up[2], down[2];
	char b = 0, *out, *err;
	pid_t pid;

	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct tg_event ev[7];
		struct rec *r;
		char e[256];
		int ok;

		ok = rec_open(st->dir, 16u << 20, 0, &r, e, sizeof(e)) == 0 &&
		     rec_write(r, ev, store_events(ev, (uint64_t)rec_boot(r) << 48 | 9, T0)) == 7;
		if (write(up[1], ok ? "y" : "n", 1) != 1)
			_exit(2);
		/* hold the store open until the parent is done (or gone) */
		if (read(down[0], &b, 1) < 0)
			b = 0;
		if (ok)
			rec_close(r);
		_exit(ok ? 0 : 1);
	}
	{
		struct pollfd p = { .fd = up[0], .events = POLLIN };

		assert_int_equal(poll(&p, 1, 20000), 1);
		assert_int_equal(read(up[0], &b, 1), 1);
		assert_int_equal(b, 'y');
	}
	MEMOUT2(out, err, assert_int_equal(cli_rec_export(fo, fe, st->dir, st->id[0],
								CLI_FMT_CSV), CLI_EXIT_OK));
	assert_non_null(strstr(out, "destructive.drop-table"));
	free(out);
	free(err);
	MEMOUT2(out, err, assert_int_equal(cli_rec_verify(fo, fe, st->dir, NULL, 0),
						 CLI_EXIT_OK));
	assert_non_null(strstr(out, "\n3 sessions: 3 OK, 0 failed\n"));
	free(out);
	free(err);
	assert_int_equal(write(down[1], "x", 1), 1);
	{
		int status = -1;

		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_global_defaults_and_env),
		cmocka_unit_test(test_global_options),
		cmocka_unit_test(test_token_file),
		cmocka_unit_test(test_sid_norm),
		cmocka_unit_test(test_sessions_args),
		cmocka_unit_test(test_sessions_args_show_and_errors),
		cmocka_unit_test(test_rfc3339_parse),
		cmocka_unit_test(test_since_parse),
		cmocka_unit_test(test_time_format),
		cmocka_unit_test(test_cell),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_csv_quoting),
		cmocka_unit_test(test_query_add),
		cmocka_unit_test(test_kv_print),
		cmocka_unit_test(test_replay_format),
		cmocka_unit_test(test_replay_numeric_enums),
		cmocka_unit_test(test_ev_text_truncated),
		cmocka_unit_test(test_sessions_table),
		cmocka_unit_test(test_export_csv_canned),
		cmocka_unit_test(test_resp_judge),
		cmocka_unit_test(test_rest_unreachable),
		cmocka_unit_test(test_rest_request_and_errors),
		cmocka_unit_test(test_cmd_replay_pages),
		cmocka_unit_test(test_cmd_replay_unknown),
		cmocka_unit_test(test_cmd_sessions_pages),
		cmocka_unit_test(test_cmd_rules_put),
		cmocka_unit_test_setup_teardown(test_rec_export_json, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_rec_export_csv, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_rec_export_errors, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_rec_verify, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_rec_verify_orphans, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_rec_commands, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_rec_export_while_writer_open, store_setup,
						store_teardown),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
