/* pg_extquery.c - a PostgreSQL client that runs each statement through the extended query protocol (Parse/Bind/Describe/Execute/Sync) and prints the rows, for tests that compare what the appliance does to both protocols.
 *
 * Usage: pg_extquery HOST PORT USER DATABASE PASSWORD SQL [SQL ...]
 * An SQL argument "@FILE" is the contents of FILE (a statement longer than an
 * argument may be, 128 KiB), without a final newline; "binary:SQL" asks for the results
 * in binary format (text-like columns then arrive as their characters).
 * "fn:OID:ARG,ARG..." sends a FunctionCall of the function with that OID instead
 * (what libpq's PQfn and its large-object calls send), its arguments in text format
 * and the result in text format; "fnb:" asks for the result in binary format. The
 * answer prints as "FUNCTION value" (or "FUNCTION NULL").
 * "prepare:NAME:SQL" prepares SQL as statement NAME (Parse, Describe statement, Sync);
 * "exec:NAME" runs it with Bind and Execute and no Describe, as drivers that keep the
 * statement's description (JDBC, pgx) do: its rows come without a RowDescription.
 * Authentication: trust, cleartext or md5 (no SCRAM: give the test role an md5
 * password). Each SQL is sent as one unnamed statement with no parameters and text
 * results, all five messages in one write; the answer is printed as text lines, in
 * the same format as pg_onebyte:
 *   COLUMNS a|b|c        RowDescription
 *   ROW v1|v2|NULL       DataRow
 *   COMPLETE tag         CommandComplete
 *   ERROR sqlstate msg   ErrorResponse
 *   READY x              ReadyForQuery
 * Exits 0 when every statement got its ReadyForQuery, 1 on a connection or protocol
 * error, 2 on a usage error. Every wait is bounded (10 s per read).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "tests/tools/pgwire.h"

/* Sends Parse/Bind/Describe/Execute/Sync for <sql> in one write; results in binary
 * format if <binary>. Returns 0 or -1. */
static int pgw_send_query(int fd, const char *sql, int binary)
{
	struct pgw_buf b = { 0 }, body = { 0 };
	/* Bind: unnamed portal and statement, no parameter formats, no parameters, one
	 * result format code for all columns: 0 (text) or 1 (binary) */
	uint8_t bind[] = { 0, 0, 0, 0, 0, 0, 0, 1, 0, (uint8_t)(binary ? 1 : 0) };
	static const uint8_t describe[] = { 'P', 0 };
	static const uint8_t execute[] = { 0, 0, 0, 0, 0 }; /* unnamed portal, all rows */
	static const uint8_t no_params[] = { 0, 0 };
	int rc = -1;

	if (pgw_add(&body, "", 1) == 0 && pgw_add(&body, sql, strlen(sql) + 1) == 0 &&
	    pgw_add(&body, no_params, sizeof(no_params)) == 0 &&
	    pgw_msg(&b, 'P', body.p, body.len) == 0 && pgw_msg(&b, 'B', bind, sizeof(bind)) == 0 &&
	    pgw_msg(&b, 'D', describe, sizeof(describe)) == 0 &&
	    pgw_msg(&b, 'E', execute, sizeof(execute)) == 0 && pgw_msg(&b, 'S', NULL, 0) == 0)
		rc = pgw_send(fd, b.p, b.len);
	free(body.p);
	free(b.p);
	return rc;
}

/* Sends Parse of <sql> as statement <name>, Describe of the statement and Sync.
 * Returns 0 or -1. */
static int pgw_send_prepare(int fd, const char *name, size_t nlen, const char *sql)
{
	struct pgw_buf b = { 0 }, body = { 0 }, desc = { 0 };
	static const uint8_t no_params[] = { 0, 0 };
	int rc = -1;

	if (pgw_add(&body, name, nlen) == 0 && pgw_add(&body, "", 1) == 0 &&
	    pgw_add(&body, sql, strlen(sql) + 1) == 0 &&
	    pgw_add(&body, no_params, sizeof(no_params)) == 0 && pgw_add(&desc, "S", 1) == 0 &&
	    pgw_add(&desc, name, nlen) == 0 && pgw_add(&desc, "", 1) == 0 &&
	    pgw_msg(&b, 'P', body.p, body.len) == 0 && pgw_msg(&b, 'D', desc.p, desc.len) == 0 &&
	    pgw_msg(&b, 'S', NULL, 0) == 0)
		rc = pgw_send(fd, b.p, b.len);
	free(body.p);
	free(desc.p);
	free(b.p);
	return rc;
}

/* Sends Bind of statement <name> to the unnamed portal, Execute and Sync: no Describe.
 * Returns 0 or -1. */
static int pgw_send_exec(int fd, const char *name)
{
	struct pgw_buf b = { 0 }, bind = { 0 };
	/* no parameter formats, no parameters, no result formats (all text) */
	static const uint8_t tail[] = { 0, 0, 0, 0, 0, 0 };
	static const uint8_t execute[] = { 0, 0, 0, 0, 0 };
	int rc = -1;

	if (pgw_add(&bind, "", 1) == 0 && pgw_add(&bind, name, strlen(name) + 1) == 0 &&
	    pgw_add(&bind, tail, sizeof(tail)) == 0 && pgw_msg(&b, 'B', bind.p, bind.len) == 0 &&
	    pgw_msg(&b, 'E', execute, sizeof(execute)) == 0 && pgw_msg(&b, 'S', NULL, 0) == 0)
		rc = pgw_send(fd, b.p, b.len);
	free(bind.p);
	free(b.p);
	return rc;
}

/* Sends FunctionCall for "OID:ARG,ARG..." <spec>, arguments in text format, the result
 * in binary format if <binary>. Returns 0 or -1. */
static int pgw_send_fncall(int fd, const char *spec, int binary)
{
	struct pgw_buf b = { 0 }, body = { 0 };
	const char *args = strchr(spec, ':');
	/* OID, one format code (text) for all arguments, the argument count (filled in
	 * below), the arguments, the result's format */
	uint8_t head[10] = { 0, 0, 0, 0, 0, 1, 0, 0, 0, 0 }, w[4];
	uint8_t res[2] = { 0, (uint8_t)(binary ? 1 : 0) };
	uint16_t nargs = 0;
	int rc = -1;

	if (args == NULL) {
		fprintf(stderr, "pg_extquery: fn:OID:ARGS expected, not fn:%s\n", spec);
		return -1;
	}
	pgw_put32(head, (uint32_t)strtoul(spec, NULL, 10));
	if (pgw_add(&body, head, sizeof(head)) < 0)
		goto out;
	for (const char *a = args + 1; *a || nargs;) {
		const char *e = strchr(a, ',');
		size_t l = e ? (size_t)(e - a) : strlen(a);
		pgw_put32(w, (uint32_t)l);
		if (pgw_add(&body, w, 4) < 0 || pgw_add(&body, a, l) < 0)
			goto out;
		nargs++;
		if (e == NULL)
			break;
		a = e + 1;
	}
	body.p[8] = (uint8_t)(nargs >> 8);
	body.p[9] = (uint8_t)nargs;
	if (pgw_add(&body, res, 2) == 0 && pgw_msg(&b, 'F', body.p, body.len) == 0)
		rc = pgw_send(fd, b.p, b.len);
out:
	free(body.p);
	free(b.p);
	return rc;
}

/* The text of SQL argument <arg>: itself, or for "@FILE" FILE's contents (malloc'ed
 * into *<own>, a final newline dropped). NULL if FILE cannot be read. */
static const char *sql_arg(const char *arg, char **own)
{
	FILE *f;
	long n;

	*own = NULL;
	if (arg[0] != '@')
		return arg;
	if ((f = fopen(arg + 1, "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (*own = malloc((size_t)n + 1)) == NULL ||
	    fread(*own, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "pg_extquery: cannot read %s\n", arg + 1);
		if (f)
			fclose(f);
		free(*own);
		*own = NULL;
		return NULL;
	}
	fclose(f);
	if (n > 0 && (*own)[n - 1] == '\n')
		n--;
	(*own)[n] = 0;
	return *own;
}

int main(int argc, char **argv)
{
	static const uint8_t terminate[] = { 'X', 0, 0, 0, 4 };
	int fd;

	pgw_init("pg_extquery", NULL);
	if (argc < 7) {
		fprintf(stderr, "usage: pg_extquery HOST PORT USER DATABASE PASSWORD SQL [SQL ...]\n");
		return 2;
	}
	if ((fd = pgw_connect(argv[1], argv[2])) < 0 || pgw_startup(fd, argv[3], argv[4], argv[5]) < 0)
		return 1;
	for (int i = 6; i < argc; i++) {
		char *own = NULL;
		const char *a = argv[i];
		int fn = strncmp(a, "fn:", 3) == 0, fnb = strncmp(a, "fnb:", 4) == 0;
		int binary = strncmp(a, "binary:", 7) == 0;
		int bad, sent;

		size_t nl = strncmp(a, "prepare:", 8) == 0 ? strcspn(a + 8, ":") : 0;

		if (nl && a[8 + nl] == ':')
			sent = pgw_send_prepare(fd, a + 8, nl, a + 8 + nl + 1);
		else if (strncmp(a, "exec:", 5) == 0)
			sent = pgw_send_exec(fd, a + 5);
		else if (fn || fnb)
			sent = pgw_send_fncall(fd, a + (fn ? 3 : 4), fnb);
		else {
			const char *sql = sql_arg(a + (binary ? 7 : 0), &own);
			sent = sql ? pgw_send_query(fd, sql, binary) : -1;
		}
		bad = sent < 0 || pgw_until_ready(fd, argv[3], argv[5]) < 0;

		free(own);
		if (bad)
			return 1;
	}
	pgw_send(fd, terminate, sizeof(terminate));
	close(fd);
	return 0;
}
